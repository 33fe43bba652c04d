/*
 * IPv4 and IPv6 decoding: addresses, the packet's IP length, and the walk to the transport
 * header through IPv4 options or IPv6 extension headers.
 *
 * Two lengths matter here and must not be confused. The IP length (IPv4 total length, IPv6
 * 40 + payload length) is what a flow counts as octets, even when the snaplen cut the capture
 * short; the captured length only bounds what may be read. The transport layer receives both:
 * its captured bytes, limited to min(captured, IP length) so Ethernet padding never looks like
 * payload, and its length according to IP. Extension headers are followed through a bounded
 * cursor with a depth cap so a crafted chain cannot make the walk long.
 *
 * Fragments are described, not reassembled: a later fragment (offset > 0) returns
 * DEC_FRAGMENT with its addresses, IP length and fragment fields so that the engine's
 * fragment table can give it the ports of its datagram's first fragment.
 */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "decode/dec.h"

enum {
    IPV4_MIN_HDR_LEN = 20,
    IPV6_HDR_LEN = 40,
    IPV6_EXT_MIN_LEN = 8,
};

#define IPV4_FRAG_OFFSET_MASK 0x1fffu
#define IPV4_FLAG_MF 0x2000u
#define IPV6_FRAG_OFFSET_MASK 0xfff8u
#define IPV6_FRAG_M 0x0001u

/* IPv6 next-header values that are extension headers this decoder walks through. */
enum {
    IP6_HOPOPTS = 0,
    IP6_ROUTING = 43,
    IP6_FRAGMENT = 44,
    IP6_AH = 51,
    IP6_DSTOPTS = 60,
};

typedef struct {
    const uint8_t *p, *end;
} ip_cursor_t;

static inline uint32_t ip_rest(const ip_cursor_t *c)
{
    return (uint32_t)(c->end - c->p);
}

static inline bool ip_peek(const ip_cursor_t *c, void *dst, size_t n)
{
    if ((size_t)(c->end - c->p) < n)
        return false;
    memcpy(dst, c->p, n);
    return true;
}

static inline uint16_t be16(const uint8_t *b)
{
    return (uint16_t)((unsigned)b[0] << 8 | b[1]);
}

static inline uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

dec_status_t dec_ipv4(const uint8_t *p, uint32_t len, dec_packet_t *pkt)
{
    uint8_t hdr[IPV4_MIN_HDR_LEN];
    uint32_t hdr_len, total_len, ip_len;

    if (len < 1)
        return DEC_TRUNCATED;
    memcpy(hdr, p, 1);
    if (hdr[0] >> 4 != 4)
        return DEC_MALFORMED;
    hdr_len = (uint32_t)(hdr[0] & 0x0fu) * 4u;
    if (hdr_len < IPV4_MIN_HDR_LEN)
        return DEC_MALFORMED;
    /* Options are skipped, not read, but must be captured for the L4 header to be found. */
    if (len < hdr_len)
        return DEC_TRUNCATED;
    memcpy(hdr, p, sizeof hdr);

    total_len = be16(hdr + 2);
    if (total_len == 0) {
        /* Segmentation offload on the capturing host leaves the field 0; the capture is all
         * we know of the length. */
        ip_len = len;
    } else if (total_len < hdr_len) {
        return DEC_MALFORMED;
    } else {
        ip_len = total_len;
    }

    pkt->family = 4;
    pkt->proto = hdr[9];
    memcpy(pkt->src, hdr + 12, 4);
    memcpy(pkt->dst, hdr + 16, 4);
    memset(pkt->src + 4, 0, sizeof pkt->src - 4);
    memset(pkt->dst + 4, 0, sizeof pkt->dst - 4);
    pkt->ip_octets = ip_len;

    /* A first fragment (offset 0, MF set) still carries the transport header. */
    uint16_t frag = be16(hdr + 6);
    if ((frag & (IPV4_FRAG_OFFSET_MASK | IPV4_FLAG_MF)) != 0) {
        pkt->frag = (frag & IPV4_FRAG_OFFSET_MASK) != 0 ? DEC_FRAG_LATER : DEC_FRAG_FIRST;
        pkt->frag_more = (frag & IPV4_FLAG_MF) != 0;
        pkt->frag_offset = (uint16_t)((frag & IPV4_FRAG_OFFSET_MASK) * 8u);
        pkt->frag_id = be16(hdr + 4);
        pkt->frag_data_len = ip_len - hdr_len;
        pkt->frag_family = 4;
        pkt->frag_proto = hdr[9];
        memcpy(pkt->frag_src, pkt->src, sizeof pkt->src);
        memcpy(pkt->frag_dst, pkt->dst, sizeof pkt->dst);
        if (pkt->frag == DEC_FRAG_LATER)
            return DEC_FRAGMENT;
    }

    return dec_tunnel_ip(hdr[9], p + hdr_len, min_u32(len, ip_len) - hdr_len, ip_len - hdr_len,
                         pkt);
}

/* Length of the extension header @nh at the cursor, or 0 when @nh is not one we walk. */
static uint32_t ipv6_ext_len(uint8_t nh, const uint8_t ext[2])
{
    switch (nh) {
    case IP6_HOPOPTS:
    case IP6_ROUTING:
    case IP6_DSTOPTS:
        return ((uint32_t)ext[1] + 1u) * 8u;
    case IP6_AH:
        return ((uint32_t)ext[1] + 2u) * 4u;
    case IP6_FRAGMENT:
        return IPV6_EXT_MIN_LEN;
    default:
        return 0;
    }
}

dec_status_t dec_ipv6(const uint8_t *p, uint32_t len, dec_packet_t *pkt)
{
    uint8_t hdr[IPV6_HDR_LEN];
    uint32_t payload_len, ip_len, l4_len;
    ip_cursor_t c;
    uint8_t nh;

    if (len < 1)
        return DEC_TRUNCATED;
    memcpy(hdr, p, 1);
    if (hdr[0] >> 4 != 6)
        return DEC_MALFORMED;
    if (len < IPV6_HDR_LEN)
        return DEC_TRUNCATED;
    memcpy(hdr, p, sizeof hdr);

    payload_len = be16(hdr + 4);
    /* 0 means a jumbogram (or offload): only the capture tells how long it is. */
    ip_len = payload_len == 0 ? len : IPV6_HDR_LEN + payload_len;

    pkt->family = 6;
    memcpy(pkt->src, hdr + 8, 16);
    memcpy(pkt->dst, hdr + 24, 16);
    pkt->ip_octets = ip_len;

    c.p = p + IPV6_HDR_LEN;
    c.end = p + min_u32(len, ip_len);
    l4_len = ip_len - IPV6_HDR_LEN; /* what IP says follows the cursor */
    nh = hdr[6];
    pkt->proto = nh;

    for (unsigned depth = 0;; depth++) {
        uint8_t ext[IPV6_EXT_MIN_LEN];
        uint32_t ext_len;

        if (nh != IP6_HOPOPTS && nh != IP6_ROUTING && nh != IP6_DSTOPTS && nh != IP6_AH &&
            nh != IP6_FRAGMENT)
            break;
        if (depth == DEC_MAX_IPV6_EXT)
            return DEC_TOO_DEEP;
        if (l4_len < 2)
            return DEC_MALFORMED;
        if (!ip_peek(&c, ext, 2))
            return DEC_TRUNCATED;
        ext_len = ipv6_ext_len(nh, ext);
        if (ext_len > l4_len)
            return DEC_MALFORMED;
        if (ext_len > ip_rest(&c))
            return DEC_TRUNCATED;
        if (nh == IP6_FRAGMENT) {
            uint16_t off_m;

            memcpy(ext, c.p, IPV6_EXT_MIN_LEN);
            pkt->proto = ext[0];
            off_m = be16(ext + 2);
            /* Offset 0 without M is an atomic fragment (RFC 6946): a whole packet. */
            if ((off_m & (IPV6_FRAG_OFFSET_MASK | IPV6_FRAG_M)) != 0) {
                pkt->frag = (off_m & IPV6_FRAG_OFFSET_MASK) != 0 ? DEC_FRAG_LATER
                                                                 : DEC_FRAG_FIRST;
                pkt->frag_more = (off_m & IPV6_FRAG_M) != 0;
                pkt->frag_offset = (uint16_t)(off_m & IPV6_FRAG_OFFSET_MASK);
                pkt->frag_id = (uint32_t)ext[4] << 24 | (uint32_t)ext[5] << 16 |
                               (uint32_t)ext[6] << 8 | ext[7];
                pkt->frag_data_len = l4_len - ext_len;
                pkt->frag_family = 6;
                pkt->frag_proto = ext[0];
                memcpy(pkt->frag_src, pkt->src, sizeof pkt->src);
                memcpy(pkt->frag_dst, pkt->dst, sizeof pkt->dst);
                if (pkt->frag == DEC_FRAG_LATER)
                    return DEC_FRAGMENT;
            }
        }
        nh = ext[0];
        pkt->proto = nh;
        c.p += ext_len;
        l4_len -= ext_len;
    }

    return dec_tunnel_ip(nh, c.p, ip_rest(&c), l4_len, pkt);
}
