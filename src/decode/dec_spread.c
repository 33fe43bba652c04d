/*
 * The spread hash (dec.h): which worker gets a packet. With several workers the capture
 * thread computes it for every packet before any worker sees it, so its cost is paid once
 * more per packet on the one thread that cannot be parallelised. A full decode (layers,
 * tunnels, transport) cost about as much as the rest of that thread's work; yet most packets
 * are Ethernet, perhaps VLAN-tagged, carrying IPv4 or IPv6 with TCP, UDP, ICMP or SCTP, and
 * for those the addresses the full decode would key on are simply the IP header's. The fast
 * path reads just those headers and leaves everything else (tunnels, MPLS, PPPoE, IPv6
 * extension headers, cut headers) to the full decode, so both give the same hash for every
 * packet the full decode accepts. Packets it rejects are counted the same by any worker.
 */
#include "config.h"

#include <string.h>

#include "decode/dec.h"

enum {
    SPREAD_LINK_EN10MB = 1,
    SPREAD_MAX_TAGS = 4,
    /* UDP ports the full decode enters as tunnels (dec_tunnel.c) */
    SPREAD_PORT_GTPU = 2152,
    SPREAD_PORT_TEREDO = 3544,
    SPREAD_PORT_VXLAN = 4789,
};

static inline uint16_t be16(const uint8_t *b)
{
    return (uint16_t)(b[0] << 8 | b[1]);
}

static inline uint64_t spread_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x *= UINT64_C(0xc4ceb9fe1a85ec53);
    x ^= x >> 33;
    return x;
}

/* One address as its two words (the 16-byte form, IPv4 zero-padded, read in native order)
 * to one word; the odd multiplier keeps IPv4, whose second word is 0, a bijection. */
static inline uint64_t spread_words(uint64_t w0, uint64_t w1)
{
    return (w0 ^ UINT64_C(0x6f63656c6c757321)) * (w1 ^ UINT64_C(0x9e3779b97f4a7c15));
}

static inline uint64_t spread_addr16(const uint8_t *a)
{
    uint64_t w[2];
    memcpy(w, a, sizeof w);
    return spread_words(w[0], w[1]);
}

/* The first word of an IPv4 address's 16-byte form, straight from the header: building
 * that form on the stack and reading it back as words stalled on store forwarding. */
static inline uint64_t spread_addr4(const uint8_t *a)
{
    uint32_t v;
    memcpy(&v, a, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return spread_words((uint64_t)v << 32, 0);
#else
    return spread_words(v, 0);
#endif
}

/* A sum is the same in both directions; the finalizer spreads it over the high bits that
 * pick the worker. Fixed constants: every worker of a process must agree, and the spread
 * only balances load (each engine's own table has a random seed). */
static inline uint32_t spread_final(uint64_t a, uint64_t b)
{
    return (uint32_t)(spread_mix64(a + b) >> 32);
}

uint32_t dec_spread_addrs(const uint8_t src[16], const uint8_t dst[16])
{
    return spread_final(spread_addr16(src), spread_addr16(dst));
}

static inline bool udp_tunnel_port(uint16_t port)
{
    return port == SPREAD_PORT_VXLAN || port == SPREAD_PORT_GTPU || port == SPREAD_PORT_TEREDO;
}

/* True when a packet of IP protocol @proto whose transport header starts at @l4 (@l4_cap
 * bytes captured) keys on the header's own addresses in the full decode. */
static bool plain_transport(uint8_t proto, const uint8_t *l4, uint32_t l4_cap, unsigned opts)
{
    switch (proto) {
    case 6:
    case 1:
    case 58:
    case 132:
        return true;
    case 17:
        if (opts & DEC_OPT_TUNNELS_OUTER)
            return true;
        return l4_cap >= 4 && !udp_tunnel_port(be16(l4)) && !udp_tunnel_port(be16(l4 + 2));
    default:
        return false; /* tunnels (4, 41, 47) and the rest: the full decode decides */
    }
}

bool dec_spread_fast(int link, const uint8_t *p, uint32_t caplen, unsigned opts, uint32_t *hash)
{
    if (link != SPREAD_LINK_EN10MB || p == NULL || caplen < 14)
        return false;
    uint32_t off = 12;
    uint16_t type = be16(p + off);
    for (unsigned tags = 0; type == 0x8100 || type == 0x88a8 || type == 0x9100; tags++) {
        if (tags == SPREAD_MAX_TAGS || caplen < off + 8)
            return false;
        off += 4;
        type = be16(p + off);
    }
    off += 2;
    if (type == 0x0800) {
        if (caplen < off + 20 || p[off] >> 4 != 4)
            return false;
        const uint8_t *ip = p + off;
        uint32_t hdr_len = (uint32_t)(ip[0] & 0x0fu) * 4u;
        if (hdr_len < 20 || caplen < off + hdr_len)
            return false;
        /* A later fragment spreads on the fragmented header's addresses, which are this
         * header's. Otherwise the transport says whether a tunnel follows, even for a first
         * fragment: a fragmented packet inside the tunnel would be the one that counts. The
         * IP length bounds the transport header like the capture does. */
        bool later = (be16(ip + 6) & 0x1fffu) != 0;
        uint32_t total = be16(ip + 2), l4_cap = caplen - off - hdr_len;
        if (total != 0 && total >= hdr_len && total - hdr_len < l4_cap)
            l4_cap = total - hdr_len;
        if (!later && !plain_transport(ip[9], ip + hdr_len, l4_cap, opts))
            return false;
        *hash = spread_final(spread_addr4(ip + 12), spread_addr4(ip + 16));
        return true;
    } else if (type == 0x86dd) {
        if (caplen < off + 40 || p[off] >> 4 != 6)
            return false;
        const uint8_t *ip = p + off;
        uint32_t l4_cap = caplen - off - 40, payload = be16(ip + 4);
        if (payload != 0 && payload < l4_cap)
            l4_cap = payload;
        /* Extension headers (fragments among them) are left to the full decode. */
        if (!plain_transport(ip[6], ip + 40, l4_cap, opts))
            return false;
        *hash = spread_final(spread_addr16(ip + 8), spread_addr16(ip + 24));
        return true;
    }
    return false;
}

uint32_t dec_spread_hash(int link, const uint8_t *data, uint32_t caplen, unsigned opts)
{
    uint32_t h;
    if (dec_spread_fast(link, data, caplen, opts, &h))
        return h;
    dec_packet_t pkt;
    dec_status_t st = dec_packet_opts(link, data, caplen, opts, &pkt);
    if (st != DEC_OK && st != DEC_FRAGMENT)
        return 0;
    bool frag = pkt.frag != DEC_FRAG_NONE;
    return dec_spread_addrs(frag ? pkt.frag_src : pkt.src, frag ? pkt.frag_dst : pkt.dst);
}
