/*
 * libFuzzer target for the packet decoder: the first input byte picks a link type, the rest
 * is the captured packet.
 *
 * The decoder sits directly behind libpcap and sees whatever the wire or a capture file holds,
 * so it must never read outside the captured bytes whatever they contain. Besides letting the
 * sanitizers watch every read, the target checks the promises of the packet view that the flow
 * engine relies on: a known status, a payload inside the buffer, lengths that fit together.
 * Without --enable-fuzzing the same file links with replay.c and make check replays the corpus.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode/dec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every supported link type plus one the decoder does not know (10). The index comes from the
 * low 7 bits of the first byte (make_decode_seeds.py keeps the same table); its high bit
 * asks for outer tunnel keying. */
static const int fuzz_links[] = { 1, 0, 108, 12, 14, 101, 228, 229, 113, 276, 9, 50, 104, 10 };

/* Invariants of a successful decode; abort() so both libFuzzer and replay report them. */
static void check_view(const dec_packet_t *pkt, const uint8_t *buf, size_t len)
{
    if (pkt->family != 4 && pkt->family != 6)
        abort();
    if (pkt->payload_caplen > pkt->l4_payload_len)
        abort();
    if (pkt->payload == NULL || pkt->payload < buf ||
        (size_t)(pkt->payload - buf) + pkt->payload_caplen > len)
        abort();
    if (pkt->proto != 6 && pkt->tcp_wscale != -1)
        abort();
    if (pkt->tcp_wscale > 14)
        abort();
    if (pkt->vlan_id > 0x0fff || pkt->vlan_inner > 0x0fff)
        abort();
    if (pkt->tunnel_type > DEC_TUNNEL_TEREDO)
        abort();
    if (pkt->tunnel_type != DEC_TUNNEL_NONE && pkt->outer_family != 4 && pkt->outer_family != 6)
        abort();
    if (pkt->frag == DEC_FRAG_LATER || pkt->layers > DEC_MAX_LAYERS)
        abort();
    if (pkt->frag == DEC_FRAG_FIRST && pkt->frag_family != 4 && pkt->frag_family != 6)
        abort();
    if (pkt->family == 4) {
        static const uint8_t zero[12];

        if (memcmp(pkt->src + 4, zero, sizeof zero) != 0 ||
            memcmp(pkt->dst + 4, zero, sizeof zero) != 0)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dec_packet_t pkt;
    uint8_t *copy;
    size_t len;
    int link;
    dec_status_t st;

    if (size < 1)
        return 0;
    link = fuzz_links[(data[0] & 0x7fu) % (sizeof fuzz_links / sizeof fuzz_links[0])];
    len = size - 1;
    if (len > UINT32_MAX)
        return 0;
    /* An exact-size heap copy so that a read one byte past the packet is caught. */
    copy = malloc(len ? len : 1);
    if (copy == NULL)
        return 0;
    if (len > 0)
        memcpy(copy, data + 1, len);
    st = dec_packet_opts(link, copy, (uint32_t)len, (data[0] & 0x80u) ? DEC_OPT_TUNNELS_OUTER : 0,
                         &pkt);
    if ((unsigned)st >= DEC_N_STATUS || st == DEC_FRAGMENT_ORPHAN || dec_status_name(st) == NULL)
        abort();
    if ((data[0] & 0x80u) && pkt.tunnel_type != DEC_TUNNEL_NONE)
        abort();
    if (st == DEC_FRAGMENT && (pkt.frag != DEC_FRAG_LATER || pkt.sport != 0))
        abort();
    if (st == DEC_OK)
        check_view(&pkt, copy, len);
    /* The spread hash's fast path must agree with the full decode wherever that accepts the
     * packet: otherwise a flow's packets could reach two workers. */
    uint32_t fast;
    if ((st == DEC_OK || st == DEC_FRAGMENT) &&
        dec_spread_fast(link, copy, (uint32_t)len, pkt.opts, &fast)) {
        bool frag = pkt.frag != DEC_FRAG_NONE;
        if (fast != dec_spread_addrs(frag ? pkt.frag_src : pkt.src, frag ? pkt.frag_dst : pkt.dst))
            abort();
    }
    free(copy);
    return 0;
}
