/*
 * ochostile: writes hostile traffic as a classic pcap (Ethernet), with the counts a correct
 * flow meter must report, for tests/integration/hostile.sh and make bench.
 *
 *   ochostile syn-flood --packets N      TCP SYNs, each from its own source (address and port
 *                                        spread by a bijective mix of the packet number, so
 *                                        they look random yet never repeat)
 *   ochostile frag-flood [--scale K]     IP fragments: first fragments missing, overlaps and
 *                                        duplicates, tiny first fragments, later fragments
 *                                        before their first, more datagrams than the table
 *   ochostile frag-orphans --packets N   only later fragments, 12 per datagram, whose first
 *                                        fragment never comes: the table stays full of held
 *                                        fragments, for a memory bound that must not move
 *   ochostile decoder-errors [--scale K] packets built to end on each decoder error path:
 *                                        lengths past the end, IPv6 chains that do not end,
 *                                        zero-length TCP options, VLAN/MPLS/tunnel stacks
 *                                        deeper than the cap, ...
 *
 * The pcap goes to --out (standard output when "-", so a flood of millions never touches the
 * disk) and the expectation to --truth as "name value" lines: packets, attributed, flows
 * (syn-flood: distinct flows) and one line per skip cause, named as in the ocellus summary.
 * Every expectation is written next to the packet that causes it, from the rules the README
 * documents (16 encapsulation layers, 8 IPv6 extension headers, 8 later fragments held per
 * datagram, the fragment table's capacity and FIFO eviction, a snaplen-cut packet counting
 * when its flow-key headers are captured), never from running ocellus. Packet times advance
 * by a fixed step from a fixed start, so the same options give the same bytes everywhere.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define START_US (UINT64_C(1700000000) * UINT64_C(1000000))

/* What the packets should come to, in the order of the ocellus summary's skip causes. */
typedef enum {
    EXP_ATTRIBUTED = 0,
    EXP_NOT_IP,
    EXP_TRUNCATED,
    EXP_MALFORMED,
    EXP_UNSUPPORTED_ENCAP,
    EXP_FRAGMENT,
    EXP_TOO_DEEP,
    EXP_FRAGMENT_ORPHAN,
    EXP_N
} expect_t;

static const char *const expect_names[EXP_N] = {
    "attributed", "not-ip", "truncated", "malformed", "unsupported-encap", "fragment",
    "too-deep", "fragment-orphan",
};

static struct {
    FILE *out;
    uint64_t ts_us;
    uint64_t step_us;
    uint64_t packets;
    uint64_t expect[EXP_N];
    uint64_t flows;
} g;

/* ---- packet builder: bytes are prepended from the innermost header outwards ----------- */

#define PB_SIZE 8192
#define PB_MID 4096

typedef struct {
    uint8_t buf[PB_SIZE];
    size_t head, tail; /* the packet is buf[head, tail) */
} pb_t;

static void pb_init(pb_t *p)
{
    p->head = p->tail = PB_MID;
}

static size_t pb_len(const pb_t *p)
{
    return p->tail - p->head;
}

static uint8_t *pb_append(pb_t *p, size_t n)
{
    if (p->tail + n > PB_SIZE)
        abort();
    uint8_t *b = p->buf + p->tail;
    memset(b, 0, n);
    p->tail += n;
    return b;
}

static uint8_t *pb_prepend(pb_t *p, size_t n)
{
    if (n > p->head)
        abort();
    p->head -= n;
    memset(p->buf + p->head, 0, n);
    return p->buf + p->head;
}

static void be16(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
}

static void be32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

static void le32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
    b[2] = (uint8_t)(v >> 16);
    b[3] = (uint8_t)(v >> 24);
}

static void pb_payload(pb_t *p, size_t n, uint8_t fill)
{
    memset(pb_append(p, n), fill, n);
}

/* TCP header with @optlen option bytes from @opts; @doff_words 0 = the real header length. */
static void pb_tcp(pb_t *p, uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq,
                   const uint8_t *opts, size_t optlen, unsigned doff_words)
{
    uint8_t *h = pb_prepend(p, 20 + optlen);
    be16(h, sport);
    be16(h + 2, dport);
    be32(h + 4, seq);
    be32(h + 8, flags & 0x10 ? 1 : 0);
    h[12] = (uint8_t)((doff_words ? doff_words : (20 + optlen) / 4) << 4);
    h[13] = flags;
    be16(h + 14, 65535);
    if (optlen > 0)
        memcpy(h + 20, opts, optlen);
}

static void pb_udp(pb_t *p, uint16_t sport, uint16_t dport)
{
    size_t len = pb_len(p) + 8;
    uint8_t *h = pb_prepend(p, 8);
    be16(h, sport);
    be16(h + 2, dport);
    be16(h + 4, (uint32_t)len);
}

typedef struct {
    uint32_t src, dst;
    uint8_t proto;
    uint16_t id;
    uint16_t frag;      /* flags and offset field as on the wire (MF 0x2000, offset / 8) */
    unsigned ihl_words; /* 0: 5 */
    int total_len;      /* -1: the real length */
    uint8_t version;    /* 0: 4 */
} ip4_t;

static void pb_ip4(pb_t *p, const ip4_t *ip)
{
    unsigned ihl = ip->ihl_words ? ip->ihl_words : 5;
    size_t hlen = ihl * 4u < 20 ? 20 : ihl * 4u;
    size_t total = pb_len(p) + hlen;
    uint8_t *h = pb_prepend(p, hlen);
    h[0] = (uint8_t)((ip->version ? ip->version : 4) << 4 | ihl);
    be16(h + 2, ip->total_len >= 0 ? (uint32_t)ip->total_len : (uint32_t)total);
    be16(h + 4, ip->id);
    be16(h + 6, ip->frag);
    h[8] = 64;
    h[9] = ip->proto;
    be32(h + 12, ip->src);
    be32(h + 16, ip->dst);
    for (size_t i = 20; i < hlen; i++)
        h[i] = 1; /* NOP options */
}

static void addr6(uint8_t a[16], uint32_t host)
{
    static const uint8_t prefix[8] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0 };
    memset(a, 0, 16);
    memcpy(a, prefix, sizeof prefix);
    be32(a + 12, host);
}

/* IPv6 header; @plen -1: the real payload length. */
static void pb_ip6(pb_t *p, uint32_t src, uint32_t dst, uint8_t nh, int plen)
{
    size_t len = pb_len(p);
    uint8_t *h = pb_prepend(p, 40);
    h[0] = 0x60;
    be16(h + 4, plen >= 0 ? (uint32_t)plen : (uint32_t)len);
    h[6] = nh;
    h[7] = 64;
    addr6(h + 8, src);
    addr6(h + 24, dst);
}

/* An 8-byte hop-by-hop/routing/destination-options header (length field 0) followed by @nh. */
static void pb_ip6_opts(pb_t *p, uint8_t nh)
{
    uint8_t *h = pb_prepend(p, 8);
    h[0] = nh;
    h[1] = 0;
    h[2] = 1; /* PadN over the rest */
    h[3] = 4;
}

static void pb_ip6_frag(pb_t *p, uint8_t nh, uint16_t offset, bool more, uint32_t id)
{
    uint8_t *h = pb_prepend(p, 8);
    h[0] = nh;
    be16(h + 2, (uint32_t)(offset & 0xfff8u) | (more ? 1u : 0u));
    be32(h + 4, id);
}

static void pb_vlan(pb_t *p, uint16_t vid, uint16_t inner_type)
{
    uint8_t *h = pb_prepend(p, 4);
    be16(h, vid & 0x0fffu);
    be16(h + 2, inner_type);
}

static void pb_mpls(pb_t *p, uint32_t label, bool bottom)
{
    uint8_t *h = pb_prepend(p, 4);
    be32(h, label << 12 | (bottom ? 0x100u : 0u) | 64u);
}

static void pb_eth(pb_t *p, uint16_t type)
{
    static const uint8_t macs[12] = { 0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2 };
    uint8_t *h = pb_prepend(p, 14);
    memcpy(h, macs, sizeof macs);
    be16(h + 12, type);
}

/* ---- output --------------------------------------------------------------------------- */

static void out_header(void)
{
    uint8_t hdr[24] = { 0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0 };
    le32(hdr + 16, 65535);
    le32(hdr + 20, 1); /* DLT_EN10MB */
    fwrite(hdr, 1, sizeof hdr, g.out);
}

/* Writes the packet, at most @caplen bytes of it (0: all), and counts what it must come to. */
static void emit_cut(const pb_t *p, size_t caplen, expect_t what)
{
    size_t len = pb_len(p);
    size_t cap = caplen != 0 && caplen < len ? caplen : len;
    uint8_t rh[16];
    le32(rh, (uint32_t)(g.ts_us / 1000000));
    le32(rh + 4, (uint32_t)(g.ts_us % 1000000));
    le32(rh + 8, (uint32_t)cap);
    le32(rh + 12, (uint32_t)len);
    fwrite(rh, 1, sizeof rh, g.out);
    fwrite(p->buf + p->head, 1, cap, g.out);
    g.ts_us += g.step_us;
    g.packets++;
    g.expect[what]++;
}

static void emit(const pb_t *p, expect_t what)
{
    emit_cut(p, 0, what);
}

/* ---- SYN flood -------------------------------------------------------------------------- */

/* A bijection of 32-bit integers (odd multipliers and xorshifts are each invertible). */
static uint32_t mix32(uint32_t x)
{
    x *= 0x9e3779b1u;
    x ^= x >> 16;
    x *= 0x85ebca6bu;
    x ^= x >> 13;
    x *= 0xc2b2ae35u;
    x ^= x >> 16;
    return x;
}

/* Every SYN has its own source address (mix32 is a bijection), so each is a new flow. */
static void syn_flood(uint64_t n)
{
    const uint8_t mss[4] = { 2, 4, 0x05, 0xb4 };
    for (uint64_t i = 0; i < n; i++) {
        uint32_t src = mix32((uint32_t)i);
        pb_t p;
        pb_init(&p);
        pb_tcp(&p, (uint16_t)(1024 + mix32(src) % 64000), 80, 0x02, mix32((uint32_t)i ^ 0x5a5a5a5a),
               mss, sizeof mss, 0);
        pb_ip4(&p, &(ip4_t){ .src = src, .dst = 0xc0000250, .proto = 6, .id = (uint16_t)i,
                             .total_len = -1 });
        pb_eth(&p, 0x0800);
        emit(&p, EXP_ATTRIBUTED);
        g.flows++;
    }
}

/* ---- fragment flood --------------------------------------------------------------------- */

#define FRAG_HOLD 8 /* later fragments one datagram holds until its first (README) */

/* One IPv4 fragment of a UDP datagram: @off bytes into it, @len data bytes. The first one
 * (@off 0) starts with the UDP header. */
static void frag4(pb_t *p, uint32_t src, uint16_t id, uint16_t off, uint16_t len, bool more)
{
    pb_init(p);
    if (off == 0) {
        pb_payload(p, len - 8u, 0x46);
        pb_udp(p, 4000, 5000);
        /* the UDP length is the datagram's, not this fragment's */
        be16(p->buf + p->head + 4, 1000);
    } else {
        pb_payload(p, len, 0x46);
    }
    pb_ip4(p, &(ip4_t){ .src = src, .dst = 0xc6336401, .proto = 17, .id = id,
                        .frag = (uint16_t)((more ? 0x2000u : 0u) | off / 8u), .total_len = -1 });
    pb_eth(p, 0x0800);
}

static void frag6(pb_t *p, uint32_t src, uint32_t id, uint16_t off, uint16_t len, bool more)
{
    pb_init(p);
    if (off == 0) {
        pb_payload(p, len - 8u, 0x36);
        pb_udp(p, 4000, 5000);
        be16(p->buf + p->head + 4, 1000);
    } else {
        pb_payload(p, len, 0x36);
    }
    pb_ip6_frag(p, 17, off, more, id);
    pb_ip6(p, src, 0x64, 44, -1);
    pb_eth(p, 0x86dd);
}

static void fragment(pb_t *p, bool v6, uint32_t src, uint32_t id, uint16_t off, uint16_t len,
                     bool more)
{
    if (v6)
        frag6(p, src, id, off, len, more);
    else
        frag4(p, src, (uint16_t)id, off, len, more);
}

/* Later fragments of datagrams whose first never comes, 12 each: FRAG_HOLD of them wait and
 * end as orphans (eviction or end of input), the rest find their datagram full. */
static void frag_orphans(uint64_t n)
{
    pb_t p;
    for (uint64_t i = 0; i < n; i++) {
        uint32_t d = (uint32_t)(i / 12), k = (uint32_t)(i % 12);
        fragment(&p, d % 2 != 0, 0x0b000000 + d, d, (uint16_t)(1000 + 8 * k), 8, true);
        emit(&p, k < FRAG_HOLD ? EXP_FRAGMENT_ORPHAN : EXP_FRAGMENT);
    }
}

/*
 * @capacity is the fragment table's (ocellus --max-frag-datagrams); every datagram here is
 * new to the table and all of it happens well inside the fragment timeout (the step is 10 µs).
 */
static void frag_flood(unsigned scale, uint32_t capacity)
{
    pb_t p;
    uint32_t src = 0x0a100000; /* each datagram gets its own source: its own table entry */

    for (int v6 = 0; v6 < 2; v6++) {
        /* First fragments missing: 12 later fragments each. FRAG_HOLD wait for a first that
         * never comes (orphans, at the latest at the end of input), the rest are dropped. */
        for (unsigned d = 0; d < 200 * scale; d++, src++)
            for (unsigned k = 0; k < 12; k++) {
                fragment(&p, v6, src, d, (uint16_t)(1000 + 8 * k), 8, true);
                emit(&p, k < FRAG_HOLD ? EXP_FRAGMENT_ORPHAN : EXP_FRAGMENT);
            }
        /* First fragment, then overlapping, duplicate and last fragments: every one belongs
         * to the datagram's flow (overlaps are counted, never reassembled). */
        for (unsigned d = 0; d < 100 * scale; d++, src++) {
            fragment(&p, v6, src, d, 0, 64, true);
            emit(&p, EXP_ATTRIBUTED);
            fragment(&p, v6, src, d, 56, 64, true); /* overlaps the first */
            emit(&p, EXP_ATTRIBUTED);
            fragment(&p, v6, src, d, 56, 64, true); /* duplicate */
            emit(&p, EXP_ATTRIBUTED);
            fragment(&p, v6, src, d, 64, 936, false); /* overlaps, and ends the datagram */
            emit(&p, EXP_ATTRIBUTED);
        }
        /* Later fragments before their first: held, then counted with the first. */
        for (unsigned d = 0; d < 100 * scale; d++, src++) {
            fragment(&p, v6, src, d, 512, 488, false);
            emit(&p, EXP_ATTRIBUTED);
            fragment(&p, v6, src, d, 256, 256, true);
            emit(&p, EXP_ATTRIBUTED);
            fragment(&p, v6, src, d, 0, 256, true);
            emit(&p, EXP_ATTRIBUTED);
        }
        /* More datagrams than the table holds: first fragments only, then later fragments
         * of the newest ones (still in the table: attributed) and of the oldest ones (made
         * room long ago: they wait for a first fragment that has come and gone). The later
         * fragments of the oldest create entries, so they come last. */
        uint32_t n = capacity * 3u + 17u, base = src;
        for (uint32_t d = 0; d < n; d++, src++) {
            fragment(&p, v6, src, d, 0, 16, true);
            emit(&p, EXP_ATTRIBUTED);
        }
        for (uint32_t d = n - 50; d < n; d++) {
            fragment(&p, v6, base + d, d, 16, 16, false);
            emit(&p, EXP_ATTRIBUTED);
        }
        for (uint32_t d = 0; d < 50; d++) {
            fragment(&p, v6, base + d, d, 16, 16, false);
            emit(&p, EXP_FRAGMENT_ORPHAN);
        }
    }

    /* Tiny first fragments (RFC 1858): TCP cut after its ports (8 bytes of a 20-byte header).
     * The ports are still the flow key; the later fragment joins it. */
    for (unsigned d = 0; d < 100 * scale; d++, src++) {
        pb_init(&p);
        uint8_t *h = pb_append(&p, 8);
        be16(h, 1234);
        be16(h + 2, 80);
        pb_ip4(&p, &(ip4_t){ .src = src, .dst = 0xc6336402, .proto = 6, .id = (uint16_t)d,
                             .frag = 0x2000, .total_len = -1 });
        pb_eth(&p, 0x0800);
        emit(&p, EXP_ATTRIBUTED);
        pb_init(&p);
        pb_payload(&p, 40, 0x54);
        pb_ip4(&p, &(ip4_t){ .src = src, .dst = 0xc6336402, .proto = 6, .id = (uint16_t)d,
                             .frag = 1, .total_len = -1 });
        pb_eth(&p, 0x0800);
        emit(&p, EXP_ATTRIBUTED);
    }
    /* Too tiny: 2 bytes of TCP hold no ports, so the first fragment is malformed and its
     * later fragment never finds a first. */
    for (unsigned d = 0; d < 50 * scale; d++, src++) {
        pb_init(&p);
        pb_append(&p, 2);
        pb_ip4(&p, &(ip4_t){ .src = src, .dst = 0xc6336402, .proto = 6, .id = (uint16_t)d,
                             .frag = 0x2000, .total_len = -1 });
        pb_eth(&p, 0x0800);
        emit(&p, EXP_MALFORMED);
        pb_init(&p);
        pb_payload(&p, 40, 0x54);
        pb_ip4(&p, &(ip4_t){ .src = src, .dst = 0xc6336402, .proto = 6, .id = (uint16_t)d,
                             .frag = 1, .total_len = -1 });
        pb_eth(&p, 0x0800);
        emit(&p, EXP_FRAGMENT_ORPHAN);
    }
}

/* ---- decoder error paths --------------------------------------------------------------- */

/* A TCP SYN in IPv4 in Ethernet, @src varying so the packets are not all one flow. */
static void tcp4(pb_t *p, uint32_t src, const uint8_t *opts, size_t optlen)
{
    pb_init(p);
    pb_tcp(p, 40000, 443, 0x02, 1, opts, optlen, 0);
    pb_ip4(p, &(ip4_t){ .src = src, .dst = 0xcb007101, .proto = 6, .total_len = -1 });
}

static void udp6(pb_t *p)
{
    pb_init(p);
    pb_payload(p, 12, 0x66);
    pb_udp(p, 5353, 53);
}

/* IP-in-IP @depth times around a UDP packet: @depth tunnels are @depth layers. */
static void ipip_stack(pb_t *p, uint32_t src, unsigned depth)
{
    pb_init(p);
    pb_payload(p, 8, 0x77);
    pb_udp(p, 1000, 2000);
    pb_ip4(p, &(ip4_t){ .src = src, .dst = 0x0a0a0a0a, .proto = 17, .total_len = -1 });
    for (unsigned i = 0; i < depth; i++)
        pb_ip4(p, &(ip4_t){ .src = 0x0a000000 + i, .dst = 0x0a0a0a0b, .proto = 4, .total_len = -1 });
    pb_eth(p, 0x0800);
}

/* GRE (4-byte header, IPv4 payload) @depth times around a UDP packet. */
static void gre_stack(pb_t *p, uint32_t src, unsigned depth)
{
    pb_init(p);
    pb_payload(p, 8, 0x78);
    pb_udp(p, 1000, 2000);
    pb_ip4(p, &(ip4_t){ .src = src, .dst = 0x0a0a0a0a, .proto = 17, .total_len = -1 });
    for (unsigned i = 0; i < depth; i++) {
        uint8_t *h = pb_prepend(p, 4);
        be16(h + 2, 0x0800);
        pb_ip4(p, &(ip4_t){ .src = 0x0a000000 + i, .dst = 0x0a0a0a0b, .proto = 47, .total_len = -1 });
    }
    pb_eth(p, 0x0800);
}

static void decoder_errors(unsigned scale)
{
    pb_t p;
    const unsigned reps = 20 * scale;

    for (unsigned r = 0; r < reps; r++) {
        uint32_t src = 0x0a200000 + r;

        /* A well-formed SYN: the baseline. */
        tcp4(&p, src, NULL, 0);
        pb_eth(&p, 0x0800);
        emit(&p, EXP_ATTRIBUTED);

        /* --- lengths past the end --- */
        /* Ethernet header cut. */
        emit_cut(&p, 10, EXP_TRUNCATED);
        /* IPv4 header cut inside its options (IHL 15 = 60 bytes, 40 captured). */
        pb_init(&p);
        pb_tcp(&p, 1, 2, 0x02, 1, NULL, 0, 0);
        pb_ip4(&p, &(ip4_t){ .src = src, .dst = 1, .proto = 6, .ihl_words = 15, .total_len = -1 });
        pb_eth(&p, 0x0800);
        emit_cut(&p, 14 + 40, EXP_TRUNCATED);
        /* IPv4 total length past the capture, TCP header captured: a snaplen cut, counted. */
        tcp4(&p, src, NULL, 0);
        be16(p.buf + p.head + 2, 9000);
        pb_eth(&p, 0x0800);
        emit(&p, EXP_ATTRIBUTED);
        /* IPv4 total length past the capture, TCP header cut by the capture. */
        tcp4(&p, src, NULL, 0);
        be16(p.buf + p.head + 2, 9000);
        pb_eth(&p, 0x0800);
        emit_cut(&p, 14 + 20 + 12, EXP_TRUNCATED);
        /* IPv4 total length shorter than its own header. */
        tcp4(&p, src, NULL, 0);
        be16(p.buf + p.head + 2, 12);
        pb_eth(&p, 0x0800);
        emit(&p, EXP_MALFORMED);
        /* IPv4 header length below 20 and a version that is not 4 under EtherType IPv4. */
        tcp4(&p, src, NULL, 0);
        p.buf[p.head] = 0x43;
        pb_eth(&p, 0x0800);
        emit(&p, EXP_MALFORMED);
        tcp4(&p, src, NULL, 0);
        p.buf[p.head] = 0x55;
        pb_eth(&p, 0x0800);
        emit(&p, EXP_MALFORMED);
        /* TCP data offset past the segment IP describes (60 > 20). */
        pb_init(&p);
        pb_tcp(&p, 1, 2, 0x10, 1, NULL, 0, 15);
        pb_ip4(&p, &(ip4_t){ .src = src, .dst = 2, .proto = 6, .total_len = -1 });
        pb_eth(&p, 0x0800);
        emit(&p, EXP_MALFORMED);
        /* TCP data offset below 20. */
        pb_init(&p);
        pb_tcp(&p, 1, 2, 0x10, 1, NULL, 0, 3);
        pb_ip4(&p, &(ip4_t){ .src = src, .dst = 2, .proto = 6, .total_len = -1 });
        pb_eth(&p, 0x0800);
        emit(&p, EXP_MALFORMED);
        /* UDP header longer than the datagram IP describes (4 bytes of L4). */
        pb_init(&p);
        pb_append(&p, 4);
        pb_ip4(&p, &(ip4_t){ .src = src, .dst = 3, .proto = 17, .total_len = -1 });
        pb_eth(&p, 0x0800);
        emit(&p, EXP_MALFORMED);
        /* ICMP echo without its identifier (4 bytes). */
        pb_init(&p);
        pb_append(&p, 4)[0] = 8;
        pb_ip4(&p, &(ip4_t){ .src = src, .dst = 4, .proto = 1, .total_len = -1 });
        pb_eth(&p, 0x0800);
        emit(&p, EXP_MALFORMED);

        /* --- zero-length and overlong TCP options: the walk stops, the SYN counts --- */
        const uint8_t zero_len[8] = { 1, 1, 2, 0, 0, 0, 0, 0 };   /* MSS with length 0 */
        const uint8_t one_len[8] = { 3, 1, 0, 0, 0, 0, 0, 0 };    /* wscale with length 1 */
        const uint8_t past_end[8] = { 1, 5, 40, 0, 0, 0, 0, 0 };  /* SACK longer than the header */
        const uint8_t *optsets[3] = { zero_len, one_len, past_end };
        for (int i = 0; i < 3; i++) {
            tcp4(&p, src, optsets[i], 8);
            pb_eth(&p, 0x0800);
            emit(&p, EXP_ATTRIBUTED);
        }

        /* --- IPv6 extension header chains --- */
        /* Destination options that go on past the 8 the decoder follows. */
        udp6(&p);
        pb_ip6_opts(&p, 17);
        for (int i = 0; i < 40; i++)
            pb_ip6_opts(&p, 60);
        pb_ip6(&p, src, 1, 60, -1);
        pb_eth(&p, 0x86dd);
        emit(&p, EXP_TOO_DEEP);
        /* Exactly 8: followed to the end. */
        udp6(&p);
        pb_ip6_opts(&p, 17);
        for (int i = 0; i < 7; i++)
            pb_ip6_opts(&p, 60);
        pb_ip6(&p, src, 1, 60, -1);
        pb_eth(&p, 0x86dd);
        emit(&p, EXP_ATTRIBUTED);
        /* A chain that never ends: each header names another, until the capture runs out. */
        pb_init(&p);
        for (int i = 0; i < 3; i++)
            pb_ip6_opts(&p, 60);
        pb_ip6(&p, src, 2, 60, 200);
        pb_eth(&p, 0x86dd);
        emit(&p, EXP_TRUNCATED);
        /* ... or until the payload length IP gives runs out. */
        pb_init(&p);
        for (int i = 0; i < 3; i++)
            pb_ip6_opts(&p, 60);
        pb_ip6(&p, src, 2, 60, -1);
        pb_eth(&p, 0x86dd);
        emit(&p, EXP_MALFORMED);
        /* An extension header claiming 2 KB in a 48-byte packet. */
        udp6(&p);
        pb_ip6_opts(&p, 17);
        p.buf[p.head + 1] = 255;
        pb_ip6(&p, src, 3, 0, -1);
        pb_eth(&p, 0x86dd);
        emit(&p, EXP_MALFORMED);
        /* IPv6 header cut. */
        udp6(&p);
        pb_ip6(&p, src, 4, 17, -1);
        pb_eth(&p, 0x86dd);
        emit_cut(&p, 14 + 30, EXP_TRUNCATED);

        /* --- VLAN, MPLS and tunnel stacks --- */
        /* 16 VLAN tags: the cap, followed. 17: too deep. */
        for (int depth = 16; depth <= 17; depth++) {
            tcp4(&p, src, NULL, 0);
            uint16_t type = 0x0800;
            for (int i = 0; i < depth; i++) {
                pb_vlan(&p, (uint16_t)(100 + i), type);
                type = 0x8100;
            }
            pb_eth(&p, type);
            emit(&p, depth <= 16 ? EXP_ATTRIBUTED : EXP_TOO_DEEP);
        }
        /* 16 MPLS labels then IPv4; 17 labels; labels without a bottom of stack until the
         * end of the packet; a payload that is neither IP nor a pseudowire. */
        for (int depth = 16; depth <= 17; depth++) {
            tcp4(&p, src, NULL, 0);
            for (int i = 0; i < depth; i++)
                pb_mpls(&p, (uint32_t)(1000 + i), i == 0);
            pb_eth(&p, 0x8847);
            emit(&p, depth <= 16 ? EXP_ATTRIBUTED : EXP_TOO_DEEP);
        }
        pb_init(&p);
        for (int i = 0; i < 5; i++)
            pb_mpls(&p, (uint32_t)(2000 + i), false);
        pb_eth(&p, 0x8847);
        emit(&p, EXP_TRUNCATED);
        pb_init(&p);
        pb_payload(&p, 20, 0x51);
        pb_mpls(&p, 3000, true);
        pb_eth(&p, 0x8847);
        emit(&p, EXP_UNSUPPORTED_ENCAP);
        /* IP-in-IP and GRE nested 16 deep (the cap) and 17 deep. */
        ipip_stack(&p, src, 16);
        emit(&p, EXP_ATTRIBUTED);
        ipip_stack(&p, src, 17);
        emit(&p, EXP_TOO_DEEP);
        gre_stack(&p, src, 16);
        emit(&p, EXP_ATTRIBUTED);
        gre_stack(&p, src, 17);
        emit(&p, EXP_TOO_DEEP);
        /* 8 VLAN tags around 8 MPLS labels around IPv4: 16 layers; one more tag: 17. */
        for (int extra = 0; extra < 2; extra++) {
            tcp4(&p, src, NULL, 0);
            for (int i = 0; i < 8; i++)
                pb_mpls(&p, (uint32_t)(4000 + i), i == 0);
            uint16_t type = 0x8847;
            for (int i = 0; i < 8 + extra; i++) {
                pb_vlan(&p, (uint16_t)(200 + i), type);
                type = 0x8100;
            }
            pb_eth(&p, type);
            emit(&p, extra ? EXP_TOO_DEEP : EXP_ATTRIBUTED);
        }
        /* GRE with source routing: not followed, the GRE packet is the flow. */
        pb_init(&p);
        pb_payload(&p, 20, 0x52);
        be16(pb_prepend(&p, 4), 0x4000);
        be16(p.buf + p.head + 2, 0x0800);
        pb_ip4(&p, &(ip4_t){ .src = src, .dst = 5, .proto = 47, .total_len = -1 });
        pb_eth(&p, 0x0800);
        emit(&p, EXP_ATTRIBUTED);

        /* --- not IP --- */
        pb_init(&p);
        pb_payload(&p, 28, 0x01);
        pb_eth(&p, 0x0806); /* ARP */
        emit(&p, EXP_NOT_IP);
        pb_init(&p);
        pb_payload(&p, 40, 0x42);
        pb_eth(&p, 40); /* 802.3 length field */
        emit(&p, EXP_NOT_IP);
        /* PPPoE session with a bad version/type byte. */
        tcp4(&p, src, NULL, 0);
        {
            uint8_t *h = pb_prepend(&p, 8);
            h[0] = 0x21;
            be16(h + 4, (uint32_t)(pb_len(&p) - 6));
            be16(h + 6, 0x0021);
        }
        pb_eth(&p, 0x8864);
        emit(&p, EXP_MALFORMED);
    }
}

/* ---- main ------------------------------------------------------------------------------ */

static void usage(FILE *fp)
{
    fprintf(fp, "usage: ochostile syn-flood|frag-flood|frag-orphans|decoder-errors --out FILE|-\n"
                "       --truth FILE [--packets N (syn-flood, frag-orphans: 1000000)] [--scale K (1)]\n"
                "       [--frag-capacity N (frag-flood: the table's capacity, 1024)]\n");
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s || v > max)
        return false;
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "out", required_argument, NULL, 'o' },
        { "truth", required_argument, NULL, 't' },
        { "packets", required_argument, NULL, 'n' },
        { "scale", required_argument, NULL, 's' },
        { "frag-capacity", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *out_path = NULL, *truth_path = NULL;
    uint64_t packets = 1000000, scale = 1, capacity = 1024;
    int c;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case 'o': out_path = optarg; break;
        case 't': truth_path = optarg; break;
        case 'n': ok = parse_u64(optarg, UINT32_MAX, &packets); break;
        case 's': ok = parse_u64(optarg, 1000, &scale) && scale > 0; break;
        case 'c': ok = parse_u64(optarg, 1u << 24, &capacity) && capacity > 0; break;
        case 'h': usage(stdout); return 0;
        default: ok = false; break;
        }
        if (!ok) {
            usage(stderr);
            return 2;
        }
    }
    if (optind + 1 != argc || out_path == NULL || truth_path == NULL) {
        usage(stderr);
        return 2;
    }
    const char *mode = argv[optind];
    g.out = strcmp(out_path, "-") == 0 ? stdout : fopen(out_path, "wb");
    if (g.out == NULL) {
        fprintf(stderr, "ochostile: %s: %s\n", out_path, strerror(errno));
        return 1;
    }
    static char iobuf[1 << 20];
    setvbuf(g.out, iobuf, _IOFBF, sizeof iobuf);
    g.ts_us = START_US;
    out_header();
    if (strcmp(mode, "syn-flood") == 0) {
        g.step_us = 5; /* 200,000 SYN/s: a million take 5 s, inside every default timeout */
        syn_flood(packets);
    } else if (strcmp(mode, "frag-flood") == 0) {
        g.step_us = 10;
        frag_flood((unsigned)scale, (uint32_t)capacity);
    } else if (strcmp(mode, "frag-orphans") == 0) {
        g.step_us = 10;
        frag_orphans(packets);
    } else if (strcmp(mode, "decoder-errors") == 0) {
        g.step_us = 1000;
        decoder_errors((unsigned)scale);
    } else {
        usage(stderr);
        return 2;
    }
    if (fflush(g.out) != 0 || ferror(g.out) || (g.out != stdout && fclose(g.out) != 0)) {
        fprintf(stderr, "ochostile: %s: write failed\n", out_path);
        return 1;
    }
    FILE *tf = fopen(truth_path, "w");
    if (tf == NULL) {
        fprintf(stderr, "ochostile: %s: %s\n", truth_path, strerror(errno));
        return 1;
    }
    fprintf(tf, "packets %" PRIu64 "\n", g.packets);
    if (g.flows > 0)
        fprintf(tf, "flows %" PRIu64 "\n", g.flows);
    for (int i = 0; i < EXP_N; i++)
        fprintf(tf, "%s %" PRIu64 "\n", expect_names[i], g.expect[i]);
    if (fclose(tf) != 0) {
        fprintf(stderr, "ochostile: %s: write failed\n", truth_path);
        return 1;
    }
    return 0;
}
