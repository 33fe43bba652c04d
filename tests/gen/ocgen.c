/*
 * ocgen: deterministic traffic generator with ground truth for the ocellus flow engine.
 *
 * It writes a classic pcap of many interleaved TCP, UDP and ICMP flows (IPv4 and IPv6, some
 * 802.1Q-tagged) and, next to it, one JSON line per flow record that a correct flow meter must
 * report. The truth comes from the generator's own model of each connection, never from its
 * output: every packet is first a descriptor (time, side, TCP flags, sequence numbers, payload
 * size), the records are derived from those descriptors by applying the engine's documented
 * expiry rules, and the pcap bytes are rendered from the same descriptors afterwards.
 *
 * Each scenario is designed to end one way (FIN, RST, idle, end of capture, port reuse during
 * or after the TCP linger, SYN/ACK seen first). The record derivation checks that the design
 * held: if random timing would put a packet or the end of the capture close to an expiry
 * deadline, where two reasonable engines could decide differently, or would make the
 * record end another way than designed, the scenario is drawn again. So every record in the
 * truth is unambiguous. All randomness comes from one seeded splitmix64 stream, and every
 * multi-byte field is written in a fixed byte order, so the same options give byte-identical
 * files on every host.
 *
 * Flows to the well-known ports of HTTP (80, 8080), TLS (443, 993), SSH, SMTP and DNS carry
 * real protocol messages, so that a DPI engine has something to identify: the first payload
 * of each side of a connection is the protocol's opening message (request and status line,
 * ClientHello and ServerHello, banners, greeting and EHLO, every DNS datagram), later
 * payloads keep a printable pattern, like application data after a handshake. The model
 * gives those packets a size the message fits exactly before the truth is derived, and the
 * truth names the application (applicationName) of each record that holds such a message
 * or follows one in the same connection. A flow whose size caps leave no room for its
 * messages keeps the pattern and has no label.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define US_PER_S UINT64_C(1000000)
#define US_PER_MS UINT64_C(1000)

/* Distances from an expiry deadline that the truth requires of every packet of the flow and
 * of the end of the capture; inside them the outcome would hinge on rounding. */
#define IDLE_MARGIN_US (1 * US_PER_S)
#define LINGER_MARGIN_US (250 * US_PER_MS)
#define ACTIVE_MARGIN_US (250 * US_PER_MS)
/* Packets that would fall this close to an active-timeout deadline are moved past it. */
#define ACTIVE_NUDGE_US (300 * US_PER_MS)
/* Two deadlines of one flow passed at once are resolved by the earlier only this far apart. */
#define DEADLINE_SEPARATION_US (1 * US_PER_S)
#define MAX_TRIES 5000

enum { SIDE_CLIENT = 0, SIDE_SERVER = 1 };
enum { DIR_OUT = 0, DIR_IN = 1 };

enum { END_IDLE = 1, END_ACTIVE = 2, END_TCP = 3, END_FORCED = 4 };

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ICMPV6 58

#define SYN_OPTS_LEN 12 /* MSS 4, NOP, window scale 3, NOP, NOP, SACK permitted 2 */

/* Application a flow's messages belong to (decided by its server port). */
enum { APP_NONE = 0, APP_HTTP, APP_TLS, APP_SSH, APP_SMTP, APP_DNS };

/* What a packet's payload holds. */
enum {
    L7_PATTERN = 0,  /* the printable pattern */
    L7_CLIENT,       /* the client's opening message (every query for DNS) */
    L7_SERVER,       /* the server's opening message (every response for DNS) */
    L7_GREETING,     /* SMTP: the server speaks first */
};

typedef struct {
    uint64_t seed;
    unsigned flows;
    const char *out_path;
    const char *truth_path;
    uint64_t idle_timeout_s;
    uint64_t active_timeout_s;
    uint64_t linger_s;
    unsigned ipv6_share;
    unsigned vlan_share;
    uint64_t start_time_s;
    unsigned max_payload;
    uint64_t max_duration_s;
    uint64_t span_s;             /* capture length planned; 0 = 2 * idle + 150 */
    unsigned max_message;
} opts_t;

/* One packet of the model. Everything the truth needs is here; the bytes are rendered later. */
typedef struct {
    uint64_t ts_us;
    uint32_t flow;     /* index into g.flows: the 5-tuple and VLAN */
    uint32_t order;    /* position before sorting: ties on ts_us keep model order */
    uint32_t seq;
    uint32_t ack;
    uint16_t payload;  /* L4 payload octets */
    uint16_t icmp_seq;
    uint8_t side;      /* SIDE_CLIENT or SIDE_SERVER: who sent it */
    uint8_t tcp_flags;
    uint8_t icmp_type;
    uint8_t syn_opts : 1; /* TCP options of a SYN are present */
    uint8_t l7 : 7;       /* L7_*: what the payload holds (bit-fields keep pkt_t at 32 bytes) */
} pkt_t;

/* A 5-tuple plus VLAN, shared by every connection a scenario runs on it (port reuse). */
typedef struct {
    uint8_t family; /* 4 or 6 */
    uint8_t proto;
    uint16_t vlan;  /* 0: untagged */
    uint8_t caddr[16];
    uint8_t saddr[16];
    uint16_t cport; /* ICMP: the echo identifier */
    uint16_t sport;
    uint16_t mss;
    uint16_t window[2];
    uint8_t wscale[2];
    uint8_t ttl[2];
    uint16_t ip_id[2]; /* advanced while rendering, in capture order */
    uint32_t index;
    uint8_t app;       /* APP_*: APP_NONE when the payloads are all pattern */
} flow_t;

/* One expected flow record. */
typedef struct {
    uint32_t flow;
    uint8_t src_side;
    uint8_t reason;
    uint64_t first[2], last[2];
    uint64_t pkts[2], octets[2];
    uint8_t iflags[2], uflags[2];
    int icmp_tc[2];
    uint8_t app; /* APP_*: the application the record must be labelled with, or APP_NONE */
} rec_t;

typedef enum {
    SC_ANCHOR,           /* UDP stream whose last packet is the last packet of the capture */
    SC_TCP_CLOSE,
    SC_TCP_RST,
    SC_TCP_IDLE,
    SC_TCP_EOC,          /* still running at the end of the capture */
    SC_TCP_SYNACK_FIRST,
    SC_TCP_REUSE_AFTER,  /* same 5-tuple again after the linger */
    SC_TCP_REUSE_LINGER, /* same 5-tuple again during the linger */
    SC_UDP_DNS,
    SC_UDP_DNS_REUSE,    /* same 5-tuple again after the idle timeout */
    SC_UDP_STREAM,
    SC_UDP_STREAM_EOC,
    SC_ICMP,
    SC_ICMP_EOC,
    SC_N
} scenario_t;

/* Relative weights of the random mix (the first flows cover every scenario once). */
static const unsigned sc_weight[SC_N] = {
    [SC_ANCHOR] = 0,          [SC_TCP_CLOSE] = 30,       [SC_TCP_RST] = 7,
    [SC_TCP_IDLE] = 7,        [SC_TCP_EOC] = 4,          [SC_TCP_SYNACK_FIRST] = 4,
    [SC_TCP_REUSE_AFTER] = 2, [SC_TCP_REUSE_LINGER] = 2, [SC_UDP_DNS] = 18,
    [SC_UDP_DNS_REUSE] = 2,   [SC_UDP_STREAM] = 6,       [SC_UDP_STREAM_EOC] = 3,
    [SC_ICMP] = 6,            [SC_ICMP_EOC] = 2,
};

/* The end reasons each scenario is designed to produce, in order, active-timeout cuts aside. */
static const uint8_t sc_reasons[SC_N][3] = {
    [SC_ANCHOR] = {END_FORCED},
    [SC_TCP_CLOSE] = {END_TCP},
    [SC_TCP_RST] = {END_TCP},
    [SC_TCP_IDLE] = {END_IDLE},
    [SC_TCP_EOC] = {END_FORCED},
    [SC_TCP_SYNACK_FIRST] = {END_TCP},
    [SC_TCP_REUSE_AFTER] = {END_TCP, END_TCP},
    [SC_TCP_REUSE_LINGER] = {END_TCP, END_TCP},
    [SC_UDP_DNS] = {END_IDLE},
    [SC_UDP_DNS_REUSE] = {END_IDLE, END_IDLE},
    [SC_UDP_STREAM] = {END_IDLE},
    [SC_UDP_STREAM_EOC] = {END_FORCED},
    [SC_ICMP] = {END_IDLE},
    [SC_ICMP_EOC] = {END_FORCED},
};

static struct {
    opts_t o;
    uint64_t rng;
    uint64_t t0_us, tend_us; /* the first and the last packet of the capture */
    uint64_t tend_planned_us;
    uint64_t idle_us, active_us, linger_us;
    uint64_t gap_max_us; /* longest pause inside a flow: well under the idle timeout */
    uint64_t max_dur_us; /* longest a flow keeps sending (scenarios may stop earlier) */
    flow_t *flows;
    pkt_t *pkts;
    size_t npkts, cap_pkts;
    rec_t *recs;
    size_t nrecs, cap_recs;
    uint64_t (*ticks)[2]; /* [lo, hi): the capture must hold a packet in each */
    size_t nticks, cap_ticks;
} g;

/* ---- randomness -------------------------------------------------------------------------- */

static uint64_t rng_next(void)
{
    uint64_t z = (g.rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi]; lo when the range is empty. */
static uint64_t rng_range(uint64_t lo, uint64_t hi)
{
    if (hi <= lo)
        return lo;
    return lo + rng_next() % (hi - lo + 1);
}

static bool rng_pct(unsigned pct)
{
    return rng_next() % 100 < pct;
}

/* ---- storage ----------------------------------------------------------------------------- */

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (q == NULL) {
        fprintf(stderr, "ocgen: out of memory\n");
        exit(1);
    }
    return q;
}

static pkt_t *pkt_push(void)
{
    if (g.npkts == g.cap_pkts) {
        g.cap_pkts = g.cap_pkts ? 2 * g.cap_pkts : 4096;
        g.pkts = xrealloc(g.pkts, g.cap_pkts * sizeof *g.pkts);
    }
    pkt_t *p = &g.pkts[g.npkts++];
    memset(p, 0, sizeof *p);
    return p;
}

static rec_t *rec_push(void)
{
    if (g.nrecs == g.cap_recs) {
        g.cap_recs = g.cap_recs ? 2 * g.cap_recs : 1024;
        g.recs = xrealloc(g.recs, g.cap_recs * sizeof *g.recs);
    }
    return &g.recs[g.nrecs++];
}

static void tick_push(uint64_t lo, uint64_t hi)
{
    if (g.nticks == g.cap_ticks) {
        g.cap_ticks = g.cap_ticks ? 2 * g.cap_ticks : 256;
        g.ticks = xrealloc(g.ticks, g.cap_ticks * sizeof *g.ticks);
    }
    g.ticks[g.nticks][0] = lo;
    g.ticks[g.nticks][1] = hi;
    g.nticks++;
}

/* Every recorded [lo, hi) holds a packet time; g.pkts must be sorted. */
static bool ticks_verify(void)
{
    for (size_t i = 0; i < g.nticks; i++) {
        size_t a = 0, b = g.npkts;
        while (a < b) {
            size_t m = a + (b - a) / 2;
            if (g.pkts[m].ts_us < g.ticks[i][0])
                a = m + 1;
            else
                b = m;
        }
        if (a == g.npkts || g.pkts[a].ts_us >= g.ticks[i][1]) {
            fprintf(stderr, "ocgen: no packet between two deadlines at %" PRIu64 " and %" PRIu64
                    " us; use more flows or a longer active timeout\n", g.ticks[i][0],
                    g.ticks[i][1]);
            return false;
        }
    }
    return true;
}

/* ---- packet sizes (shared by the truth and the renderer) --------------------------------- */

static unsigned l4_header_len(const flow_t *f, const pkt_t *p)
{
    switch (f->proto) {
    case PROTO_TCP:
        return 20 + (p->syn_opts ? SYN_OPTS_LEN : 0);
    case PROTO_UDP:
    case PROTO_ICMP:
    case PROTO_ICMPV6:
        return 8;
    default:
        return 0;
    }
}

/* IP total length: what the engine counts as the packet's octets. */
static unsigned ip_len(const flow_t *f, const pkt_t *p)
{
    return (f->family == 4 ? 20 : 40) + l4_header_len(f, p) + p->payload;
}

/* ---- application messages ---------------------------------------------------------------- */

/* Appends bytes at p + n; p NULL only counts, so one writer both sizes and renders. */
typedef struct {
    uint8_t *p;
    size_t n;
} wr_t;

static void wr_bytes(wr_t *w, const void *b, size_t len)
{
    if (w->p != NULL)
        memcpy(w->p + w->n, b, len);
    w->n += len;
}

static void wr_fill(wr_t *w, uint8_t c, size_t len)
{
    if (w->p != NULL)
        memset(w->p + w->n, c, len);
    w->n += len;
}

static void wr_text(wr_t *w, const char *s)
{
    wr_bytes(w, s, strlen(s));
}

static void wr_u8(wr_t *w, unsigned v)
{
    uint8_t b = (uint8_t)v;
    wr_bytes(w, &b, 1);
}

static void wr_u16(wr_t *w, unsigned v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    wr_bytes(w, b, 2);
}

static void wr_u32(wr_t *w, uint32_t v)
{
    wr_u16(w, v >> 16);
    wr_u16(w, v & 0xffff);
}

/* Writes a big-endian length of @width bytes at @off, for a header written before its body. */
static void wr_len_at(wr_t *w, size_t off, unsigned width, size_t v)
{
    for (unsigned i = 0; w->p != NULL && i < width; i++)
        w->p[off + i] = (uint8_t)(v >> (8 * (width - 1 - i)));
}

/* Bytes that look random (TLS randoms, key shares), fixed by the flow and @salt alone. */
static void wr_random(wr_t *w, const flow_t *f, uint32_t salt, size_t len)
{
    uint64_t x = (uint64_t)f->index << 32 | salt;
    for (size_t i = 0; i < len; i += 8) {
        uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        uint8_t b[8];
        for (int k = 0; k < 8; k++)
            b[k] = (uint8_t)(z >> (8 * k));
        wr_bytes(w, b, len - i < 8 ? len - i : 8);
    }
}

/* The server's name: h<flow>.example.com (RFC 2606 names only). */
static size_t host_name(const flow_t *f, char *out, size_t cap)
{
    return (size_t)snprintf(out, cap, "h%" PRIu32 ".example.com", f->index);
}

static unsigned digits(unsigned v)
{
    unsigned d = 1;
    while (v >= 10) {
        v /= 10;
        d++;
    }
    return d;
}

/* A GET request; headers grow (a longer User-Agent, then an X-Pad header) to fill @size. */
static size_t http_request(const flow_t *f, uint8_t *out, size_t size)
{
    char host[48], head[128];
    host_name(f, host, sizeof host);
    int hn = snprintf(head, sizeof head, "GET /index.html HTTP/1.1\r\nHost: %s\r\n"
                      "User-Agent: ocgen/1", host);
    static const char tail[] = "\r\nAccept: */*\r\n";
    size_t base = (size_t)hn + strlen(tail) + 2;
    size_t extra = size > base ? size - base : 0;
    wr_t w = {out, 0};
    wr_bytes(&w, head, (size_t)hn);
    if (extra > 0 && extra < 9)
        wr_fill(&w, '0', extra);
    wr_text(&w, tail);
    if (extra >= 9) {
        wr_text(&w, "X-Pad: ");
        wr_fill(&w, 'x', extra - 9);
        wr_text(&w, "\r\n");
    }
    wr_text(&w, "\r\n");
    return w.n;
}

/* A 200 response whose body (the pattern already in place) fills the rest of @size. */
static size_t http_response(uint8_t *out, size_t size)
{
    static const char fmt[] = "HTTP/1.1 200 OK\r\nServer: ocgen%s\r\nContent-Type: text/html\r\n"
                              "Content-Length: %u\r\n\r\n";
    size_t fixed = strlen(fmt) - 4;
    if (size < fixed + 2)
        size = fixed + 2;
    /* Where the length's digits cross a power of ten, one more byte of header settles it. */
    for (size_t longer = 0; longer < 2; longer++) {
        for (unsigned d = 1; d <= 5 && fixed + longer + d <= size; d++) {
            unsigned body = (unsigned)(size - fixed - longer - d);
            if (digits(body) != d)
                continue;
            char head[160];
            int hn = snprintf(head, sizeof head, fmt, longer ? "1" : "", body);
            if (out != NULL)
                memcpy(out, head, (size_t)hn);
            return (size_t)hn + body;
        }
    }
    return 0;
}

/* A TLS handshake record up to its session id: record header (@rec_version), handshake
 * header (@type: 1 ClientHello, 2 ServerHello), version 1.2, a random (@salt) and @sid
 * session id bytes. Returns the record's offset for tls_hello_end(). */
static size_t tls_hello_begin(wr_t *w, const flow_t *f, unsigned rec_version, unsigned type,
                              uint32_t salt, unsigned sid)
{
    size_t rec = w->n;
    wr_u8(w, 22);
    wr_u16(w, rec_version);
    wr_u16(w, 0); /* record length: tls_hello_end() */
    wr_u8(w, type);
    wr_u8(w, 0);  /* 24-bit handshake length: tls_hello_end() */
    wr_u16(w, 0);
    wr_u16(w, 0x0303);
    wr_random(w, f, salt, 32);
    wr_u8(w, sid);
    wr_random(w, f, 2, sid); /* the server echoes the client's session id */
    return rec;
}

/* Sets the lengths of the record begun at @rec, which ends here. */
static void tls_hello_end(wr_t *w, size_t rec)
{
    wr_len_at(w, rec + 6, 3, w->n - rec - 9);
    wr_len_at(w, rec + 3, 2, w->n - rec - 5);
}

/* A TLS 1.3 ClientHello (offering 1.2 too) with SNI; @sid session id bytes; @pad < 0: no
 * padding extension (RFC 7685), else one with @pad zero bytes. */
static void tls_client_hello_write(const flow_t *f, wr_t *w, unsigned sid, int pad)
{
    static const uint16_t ciphers[] = {0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030,
                                       0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f,
                                       0x0035};
    static const uint16_t sigs[] = {0x0403, 0x0804, 0x0401, 0x0503,
                                    0x0805, 0x0501, 0x0806, 0x0601};
    char host[48];
    size_t hl = host_name(f, host, sizeof host);
    size_t rec = tls_hello_begin(w, f, 0x0301, 1, 1, sid);
    wr_u16(w, 2 * (sizeof ciphers / sizeof ciphers[0]));
    for (size_t i = 0; i < sizeof ciphers / sizeof ciphers[0]; i++)
        wr_u16(w, ciphers[i]);
    wr_u8(w, 1); /* compression methods: null only */
    wr_u8(w, 0);
    size_t exts = w->n;
    wr_u16(w, 0);
    wr_u16(w, 0x0000); /* server_name */
    wr_u16(w, (unsigned)hl + 5);
    wr_u16(w, (unsigned)hl + 3);
    wr_u8(w, 0);
    wr_u16(w, (unsigned)hl);
    wr_bytes(w, host, hl);
    wr_u16(w, 0x000b); /* ec_point_formats: uncompressed */
    wr_u16(w, 2);
    wr_u8(w, 1);
    wr_u8(w, 0);
    wr_u16(w, 0x000a); /* supported_groups: x25519, secp256r1, secp384r1 */
    wr_u16(w, 8);
    wr_u16(w, 6);
    wr_u16(w, 0x001d);
    wr_u16(w, 0x0017);
    wr_u16(w, 0x0018);
    if (f->sport != 993) { /* ALPN: h2, http/1.1 */
        wr_u16(w, 0x0010);
        wr_u16(w, 14);
        wr_u16(w, 12);
        wr_u8(w, 2);
        wr_text(w, "h2");
        wr_u8(w, 8);
        wr_text(w, "http/1.1");
    }
    wr_u16(w, 0x000d); /* signature_algorithms */
    wr_u16(w, 2 + 2 * (sizeof sigs / sizeof sigs[0]));
    wr_u16(w, 2 * (sizeof sigs / sizeof sigs[0]));
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        wr_u16(w, sigs[i]);
    wr_u16(w, 0x002b); /* supported_versions: 1.3, 1.2 */
    wr_u16(w, 5);
    wr_u8(w, 4);
    wr_u16(w, 0x0304);
    wr_u16(w, 0x0303);
    wr_u16(w, 0x0033); /* key_share: one x25519 share */
    wr_u16(w, 38);
    wr_u16(w, 36);
    wr_u16(w, 0x001d);
    wr_u16(w, 32);
    wr_random(w, f, 3, 32);
    if (pad >= 0) {
        wr_u16(w, 0x0015);
        wr_u16(w, (unsigned)pad);
        wr_fill(w, 0, (size_t)pad);
    }
    wr_len_at(w, exts, 2, w->n - exts - 2);
    tls_hello_end(w, rec);
}

/* The ClientHello, padded to @size: the padding extension takes 4 bytes or more, so a
 * shortfall of 1 to 3 bytes is made up by a shorter session id. */
static size_t tls_client_hello(const flow_t *f, uint8_t *out, size_t size)
{
    wr_t w = {NULL, 0};
    tls_client_hello_write(f, &w, 32, -1);
    unsigned sid = 32;
    int pad = -1;
    if (size > w.n) {
        size_t extra = size - w.n;
        if (extra >= 4) {
            pad = (int)(extra - 4);
        } else {
            sid = 32 - (unsigned)(4 - extra);
            pad = 0;
        }
    }
    w = (wr_t){out, 0};
    tls_client_hello_write(f, &w, sid, pad);
    return w.n;
}

static void tls_server_hello_write(const flow_t *f, wr_t *w, unsigned sid)
{
    size_t rec = tls_hello_begin(w, f, 0x0303, 2, 4, sid);
    wr_u16(w, 0x1301); /* TLS_AES_128_GCM_SHA256 */
    wr_u8(w, 0);
    wr_u16(w, 46);
    wr_u16(w, 0x002b); /* supported_versions: 1.3 */
    wr_u16(w, 2);
    wr_u16(w, 0x0304);
    wr_u16(w, 0x0033); /* key_share */
    wr_u16(w, 36);
    wr_u16(w, 0x001d);
    wr_u16(w, 32);
    wr_random(w, f, 5, 32);
    tls_hello_end(w, rec);
}

/* The ServerHello, then as TLS 1.3 servers do a ChangeCipherSpec and encrypted records (the
 * rest of the server's flight) up to @size. */
static size_t tls_server_hello(const flow_t *f, uint8_t *out, size_t size)
{
    wr_t w = {NULL, 0};
    tls_server_hello_write(f, &w, 32);
    size_t rest = size > w.n ? size - w.n : 0;
    unsigned sid = 32;
    if (rest > 0 && rest < 6) { /* too little for a record: a shorter session id makes room */
        sid -= (unsigned)(6 - rest);
        rest = 6;
    }
    w = (wr_t){out, 0};
    tls_server_hello_write(f, &w, sid);
    if (rest >= 12) {
        static const uint8_t ccs[6] = {20, 3, 3, 0, 1, 1};
        wr_bytes(&w, ccs, sizeof ccs);
        rest -= sizeof ccs;
    }
    if (rest >= 6) {
        wr_u8(&w, 23);
        wr_u16(&w, 0x0303);
        wr_u16(&w, (unsigned)(rest - 5));
        wr_random(&w, f, 6, rest - 5);
    }
    return w.n;
}

/* A DNS query for h<flow>.example.com (A or AAAA), or its response with one answer. @opt:
 * -2 no OPT record, -1 an OPT record without options, >= 0 one with a padding option
 * (RFC 7830) of that many bytes. @seq numbers the exchanges of the flow. */
static void dns_write(const flow_t *f, wr_t *w, unsigned seq, bool response, int opt)
{
    uint64_t h = ((uint64_t)f->index << 16 | seq) * 0x9e3779b97f4a7c15ULL;
    bool aaaa = f->index % 2 == 1;
    wr_u16(w, (unsigned)(h >> 48));
    wr_u16(w, response ? 0x8180 : 0x0100);
    wr_u16(w, 1);
    wr_u16(w, response ? 1 : 0);
    wr_u16(w, 0);
    wr_u16(w, opt >= -1 ? 1 : 0);
    char label[16];
    int ln = snprintf(label, sizeof label, "h%" PRIu32, f->index);
    wr_u8(w, (unsigned)ln);
    wr_bytes(w, label, (size_t)ln);
    wr_u8(w, 7);
    wr_text(w, "example");
    wr_u8(w, 3);
    wr_text(w, "com");
    wr_u8(w, 0);
    wr_u16(w, aaaa ? 28 : 1);
    wr_u16(w, 1);
    if (response) {
        wr_u16(w, 0xc00c); /* the question's name */
        wr_u16(w, aaaa ? 28 : 1);
        wr_u16(w, 1);
        wr_u32(w, 300);
        if (aaaa) {
            static const uint8_t pre[14] = {0x20, 0x01, 0x0d, 0xb8, 0, 0x53}; /* 2001:db8:53:: */
            wr_u16(w, 16);
            wr_bytes(w, pre, sizeof pre);
            wr_u16(w, (f->index & 0xfff) + 1);
        } else {
            wr_u16(w, 4);
            wr_u8(w, 203);
            wr_u8(w, 0);
            wr_u8(w, 113);
            wr_u8(w, f->index % 254 + 1);
        }
    }
    if (opt >= -1) {
        wr_u8(w, 0);
        wr_u16(w, 41);
        wr_u16(w, 1232); /* the requestor's UDP payload size */
        wr_u32(w, 0);
        wr_u16(w, opt >= 0 ? 4 + (unsigned)opt : 0);
        if (opt >= 0) {
            wr_u16(w, 12);
            wr_u16(w, (unsigned)opt);
            wr_fill(w, 0, (size_t)opt);
        }
    }
}

static size_t dns_base(const flow_t *f, bool response)
{
    wr_t w = {NULL, 0};
    dns_write(f, &w, 0, response, -2);
    return w.n;
}

/* The size nearest @drawn (at most @cap) that a DNS message can take: the bare message, with
 * an empty OPT record (11 bytes more) or with padding (15 or more). */
static unsigned dns_fit(const flow_t *f, bool response, unsigned drawn, unsigned cap)
{
    size_t base = dns_base(f, response);
    if (drawn > cap)
        drawn = cap;
    if (drawn <= base)
        return (unsigned)base;
    size_t extra = drawn - base;
    if (extra >= 15)
        return drawn;
    return (unsigned)(extra >= 11 ? base + 11 : base);
}

static size_t dns_message(const flow_t *f, unsigned seq, bool response, uint8_t *out,
                          size_t size)
{
    size_t base = dns_base(f, response);
    size_t extra = size > base ? size - base : 0;
    int opt = extra >= 15 ? (int)(extra - 15) : extra >= 11 ? -1 : -2;
    wr_t w = {out, 0};
    dns_write(f, &w, seq, response, opt);
    return w.n;
}

static const char ssh_client_banner[] = "SSH-2.0-OpenSSH_9.6\r\n";
static const char ssh_server_banner[] = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";

/* Writes message @l7 of flow @f into @out (NULL: only measures it): exactly @size bytes when
 * the protocol can take that size and @size is at least its smallest, else the smallest (or,
 * for banners and mail lines, the one) message. Returns the length. */
static size_t l7_message(const flow_t *f, unsigned l7, unsigned seq, uint8_t *out, size_t size)
{
    char host[48], line[160];
    int n = 0;
    host_name(f, host, sizeof host);
    switch (f->app) {
    case APP_HTTP:
        return l7 == L7_CLIENT ? http_request(f, out, size) : http_response(out, size);
    case APP_TLS:
        return l7 == L7_CLIENT ? tls_client_hello(f, out, size) : tls_server_hello(f, out, size);
    case APP_DNS:
        return dns_message(f, seq, l7 == L7_SERVER, out, size);
    case APP_SSH:
        n = snprintf(line, sizeof line, "%s",
                     l7 == L7_CLIENT ? ssh_client_banner : ssh_server_banner);
        break;
    case APP_SMTP:
        if (l7 == L7_GREETING)
            n = snprintf(line, sizeof line, "220 %s ESMTP Postfix\r\n", host);
        else if (l7 == L7_CLIENT)
            n = snprintf(line, sizeof line, "EHLO c%" PRIu32 ".example.org\r\n", f->index);
        else
            n = snprintf(line, sizeof line,
                         "250-%s\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n",
                         host);
        break;
    default:
        return 0;
    }
    if (out != NULL)
        memcpy(out, line, (size_t)n);
    return (size_t)n;
}

/* The payload size the model gives opening message @l7 when it drew @drawn: at least what
 * the message needs and one segment at most (flow_init made sure both hold), exactly the
 * line for the line protocols. */
static uint16_t l7_size(const flow_t *f, unsigned l7, unsigned drawn, unsigned seg)
{
    size_t need = l7_message(f, l7, 0, NULL, 0);
    if (f->app == APP_SSH || f->app == APP_SMTP)
        return (uint16_t)need;
    if (drawn < need)
        drawn = (unsigned)need;
    return (uint16_t)(drawn < seg ? drawn : seg);
}

/* The name ocellus and nDPI give the application (TLS on 993 is IMAP over TLS). */
static const char *app_name(const flow_t *f)
{
    switch (f->app) {
    case APP_HTTP: return "http";
    case APP_TLS: return f->sport == 993 ? "imaps" : "tls";
    case APP_SSH: return "ssh";
    case APP_SMTP: return "smtp";
    case APP_DNS: return "dns";
    default: return NULL;
    }
}

/* ---- scenario builder -------------------------------------------------------------------- */

typedef struct {
    flow_t *f;
    uint64_t now;       /* time of the last packet emitted */
    uint64_t first_us;  /* time of the first packet emitted, 0 before */
    bool have_rec;
    uint64_t rec_start; /* first packet of the current record, as the engine will see it */
    uint32_t snd[2];    /* TCP: next sequence number of each side */
    uint16_t icmp_seq;
    uint32_t rtt_us;
    bool l7_sent;       /* the opening messages of this connection are out */
    bool failed;        /* a packet fell after the end of the capture */
} bld_t;

/* Appends a packet @gap_us after the previous one. A packet that would land next to an
 * active-timeout deadline of the current record is moved past it, so that the cut never
 * depends on rounding; this only ever lengthens a pause by well under a second. */
static pkt_t *emit(bld_t *b, int side, uint64_t gap_us)
{
    uint64_t t = b->now + (gap_us ? gap_us : 1);
    if (b->have_rec) {
        uint64_t d = b->rec_start + g.active_us;
        if (t + ACTIVE_NUDGE_US > d && t < d + ACTIVE_NUDGE_US)
            t = d + ACTIVE_NUDGE_US + rng_range(0, 20 * US_PER_MS);
        if (t >= d)
            b->rec_start = t;
    } else {
        b->have_rec = true;
        b->rec_start = t;
    }
    if (t > g.tend_us)
        b->failed = true;
    if (b->first_us == 0)
        b->first_us = t;
    b->now = t;
    pkt_t *p = pkt_push();
    p->ts_us = t;
    p->flow = b->f->index;
    p->side = (uint8_t)side;
    return p;
}

/* The next packet starts a new flow in the engine (same 5-tuple after the old one ended). */
static void bld_new_flow(bld_t *b)
{
    b->have_rec = false;
}

static uint64_t burst_gap(void)
{
    return rng_range(15, 400);
}

static uint64_t think_gap(void)
{
    return rng_range(10 * US_PER_MS, g.gap_max_us);
}

static uint64_t rtt_gap(const bld_t *b)
{
    return b->rtt_us + rng_range(0, b->rtt_us / 8 + 1);
}

static unsigned seg_max(const flow_t *f)
{
    return f->mss < g.o.max_payload ? f->mss : g.o.max_payload;
}

static pkt_t *tcp_send(bld_t *b, int side, uint64_t gap, uint8_t flags, uint16_t len)
{
    pkt_t *p = emit(b, side, gap);
    p->tcp_flags = flags;
    p->seq = b->snd[side];
    p->ack = (flags & TH_ACK) ? b->snd[!side] : 0;
    p->payload = len;
    p->syn_opts = (flags & TH_SYN) ? 1 : 0;
    b->snd[side] += len + ((flags & (TH_SYN | TH_FIN)) ? 1 : 0);
    return p;
}

/* Sequence numbers stay far from 2^32 so no engine comparison has to handle wrap-around. */
static void tcp_handshake(bld_t *b, bool synack_first)
{
    b->snd[SIDE_CLIENT] = (uint32_t)rng_range(1, 0xb0000000u);
    b->snd[SIDE_SERVER] = (uint32_t)rng_range(1, 0xb0000000u);
    if (synack_first)
        b->snd[SIDE_CLIENT]++; /* the SYN went by before the capture started */
    else
        tcp_send(b, SIDE_CLIENT, 0, TH_SYN, 0);
    tcp_send(b, SIDE_SERVER, synack_first ? 0 : rtt_gap(b), TH_SYN | TH_ACK, 0);
    tcp_send(b, SIDE_CLIENT, synack_first ? rtt_gap(b) : burst_gap() + 30, TH_ACK, 0);
    b->l7_sent = false;
    if (b->f->app == APP_SMTP) { /* the server speaks first */
        uint16_t len = (uint16_t)l7_message(b->f, L7_GREETING, 0, NULL, 0);
        pkt_t *p = tcp_send(b, SIDE_SERVER, rtt_gap(b), TH_ACK | TH_PSH, len);
        p->l7 = L7_GREETING;
    }
}

/* A request from the client and the server's response; the client acknowledges every second
 * segment and the last one, so every pure ACK acknowledges new data. */
static void tcp_round(bld_t *b, uint64_t think, unsigned req, unsigned resp)
{
    unsigned mss = seg_max(b->f);
    if (req > g.o.max_message)
        req = g.o.max_message;
    if (resp > g.o.max_message)
        resp = g.o.max_message;
    /* The first round of a connection opens the application: one segment each way. */
    bool l7 = b->f->app != APP_NONE && !b->l7_sent;
    if (l7) {
        req = l7_size(b->f, L7_CLIENT, req, mss);
        resp = l7_size(b->f, L7_SERVER, resp, mss);
        b->l7_sent = true;
    }
    bool first = true;
    while (req > 0) {
        uint16_t len = (uint16_t)(req < mss ? req : mss);
        req -= len;
        pkt_t *p = tcp_send(b, SIDE_CLIENT, first ? think : burst_gap(),
                            TH_ACK | (req ? 0 : TH_PSH), len);
        if (first && l7)
            p->l7 = L7_CLIENT;
        first = false;
    }
    first = true;
    unsigned n = 0;
    while (resp > 0) {
        uint16_t len = (uint16_t)(resp < mss ? resp : mss);
        resp -= len;
        uint64_t gap = first ? rtt_gap(b) : burst_gap();
        if (first)
            gap += rng_range(0, 20000); /* server think time */
        pkt_t *p = tcp_send(b, SIDE_SERVER, gap, TH_ACK | (resp ? 0 : TH_PSH), len);
        if (first && l7)
            p->l7 = L7_SERVER;
        first = false;
        if (++n % 2 == 0 || resp == 0)
            tcp_send(b, SIDE_CLIENT, burst_gap() + 40, TH_ACK, 0);
    }
}

static void tcp_random_round(bld_t *b, bool small)
{
    /* Every random draw is its own statement: C leaves the evaluation order of function
     * arguments open, and the output must not depend on the compiler. */
    unsigned req = (unsigned)(small ? rng_range(1, 120) : rng_range(60, 900));
    unsigned resp = (unsigned)(small    ? rng_range(1, 600)
                               : rng_pct(15) ? rng_range(4000, 24000)
                                             : rng_range(100, 4000));
    tcp_round(b, think_gap(), req, resp);
}

/* A short exchange of a flow that runs until the end of the capture. */
static void tcp_round_small(bld_t *b)
{
    uint64_t think = think_gap();
    unsigned req = (unsigned)rng_range(1, 200);
    tcp_round(b, think, req, (unsigned)rng_range(1, 1500));
}

/* The flow has been sending for --max-duration. */
static bool bld_done(const bld_t *b)
{
    return b->now - b->first_us >= g.max_dur_us;
}

/* Runs rounds while the next one safely ends before @stop_by; at most @max_rounds. */
static void tcp_rounds(bld_t *b, unsigned max_rounds, uint64_t stop_by, bool small)
{
    for (unsigned r = 0; r < max_rounds; r++) {
        if (b->now + g.gap_max_us + 2 * US_PER_S > stop_by || bld_done(b))
            break;
        tcp_random_round(b, small);
    }
}

/* Closes by FIN; the connection is over at the ACK of the second FIN. */
static void tcp_close(bld_t *b, int closer, bool three_way, bool trailing)
{
    int other = !closer;
    tcp_send(b, closer, think_gap(), TH_FIN | TH_ACK, 0);
    if (three_way) {
        tcp_send(b, other, rtt_gap(b), TH_FIN | TH_ACK, 0);
    } else {
        tcp_send(b, other, rtt_gap(b), TH_ACK, 0);
        tcp_send(b, other, rng_range(100, 50 * US_PER_MS), TH_FIN | TH_ACK, 0);
    }
    tcp_send(b, closer, rtt_gap(b), TH_ACK, 0);
    if (trailing) {
        /* The last ACK was lost after the capture point: the FIN comes again, and its ACK. */
        uint64_t lo = 100 * US_PER_MS, hi = g.linger_us - 500 * US_PER_MS;
        pkt_t *p = emit(b, other, rng_range(lo, hi > lo ? hi : lo));
        p->tcp_flags = TH_FIN | TH_ACK;
        p->seq = b->snd[other] - 1;
        p->ack = b->snd[closer];
        tcp_send(b, closer, rtt_gap(b), TH_ACK, 0);
    }
}

static void tcp_reset(bld_t *b, int who, bool trailing)
{
    bool with_ack = rng_pct(70);
    tcp_send(b, who, think_gap(), with_ack ? TH_RST | TH_ACK : TH_RST, 0);
    if (trailing) {
        /* Data the other side had in flight when the RST went out. */
        uint64_t hi = g.linger_us - 500 * US_PER_MS;
        uint64_t gap = rng_range(200, hi > 1000 ? hi : 1000);
        tcp_send(b, !who, gap, TH_ACK | TH_PSH, (uint16_t)rng_range(1, seg_max(b->f)));
    }
}

static pkt_t *udp_send(bld_t *b, int side, uint64_t gap, unsigned len)
{
    pkt_t *p = emit(b, side, gap);
    p->payload = (uint16_t)(len < g.o.max_payload ? len : g.o.max_payload);
    if (p->payload == 0)
        p->payload = 1;
    return p;
}

/* One DNS message: every datagram of a DNS flow is one, sized as near @drawn as it can be. */
static void dns_send(bld_t *b, int side, uint64_t gap, unsigned drawn)
{
    pkt_t *p = udp_send(b, side, gap, drawn);
    if (b->f->app != APP_DNS)
        return;
    p->payload = (uint16_t)dns_fit(b->f, side == SIDE_SERVER, p->payload, g.o.max_payload);
    p->l7 = side == SIDE_CLIENT ? L7_CLIENT : L7_SERVER;
    p->icmp_seq = b->icmp_seq;
}

static void udp_stream_packet(bld_t *b, uint64_t gap)
{
    int side = rng_pct(55) ? SIDE_CLIENT : SIDE_SERVER;
    udp_send(b, side, gap, (unsigned)rng_range(20, 1200));
}

static void dns_exchange(bld_t *b, uint64_t gap, bool answered)
{
    b->icmp_seq++; /* numbers the exchange: the DNS transaction ID derives from it */
    dns_send(b, SIDE_CLIENT, gap, (unsigned)rng_range(28, 64));
    if (answered) {
        uint64_t wait = rtt_gap(b);
        wait += rng_range(100, 30000); /* resolver time */
        dns_send(b, SIDE_SERVER, wait, (unsigned)rng_range(44, 480));
    }
}

static void icmp_send(bld_t *b, int side, uint64_t gap)
{
    pkt_t *p = emit(b, side, gap);
    bool v4 = b->f->family == 4;
    p->icmp_type = side == SIDE_CLIENT ? (v4 ? 8 : 128) : (v4 ? 0 : 129);
    p->icmp_seq = b->icmp_seq;
    p->payload = 56;
}

/* One echo request and, if the peer answers at all, its reply (one in ten is lost). */
static void icmp_ping(bld_t *b, uint64_t gap, bool answering)
{
    b->icmp_seq++;
    icmp_send(b, SIDE_CLIENT, gap);
    if (answering && !rng_pct(10))
        icmp_send(b, SIDE_SERVER, rtt_gap(b));
}

static uint64_t ping_interval(void)
{
    uint64_t hi = 1100 * US_PER_MS;
    if (hi > g.gap_max_us)
        hi = g.gap_max_us;
    return rng_range(900 * US_PER_MS, hi);
}

/* Latest time at which a flow meant to end by TCP close may start closing. */
static uint64_t stop_by_close(void)
{
    return g.tend_us - g.linger_us - g.gap_max_us - 3 * US_PER_S;
}

/* Latest time of the last packet of a flow meant to end idle. */
static uint64_t stop_by_idle(void)
{
    return g.tend_us - g.idle_us - 3 * US_PER_S;
}

static uint64_t start_between(uint64_t lo, uint64_t hi)
{
    if (hi < lo + US_PER_S)
        hi = lo + US_PER_S;
    return rng_range(lo, hi);
}

/* Start time of a flow that runs until the end of the capture. */
static uint64_t start_eoc(void)
{
    uint64_t span = 90 * US_PER_S;
    if (span > g.max_dur_us + 5 * US_PER_S)
        span = g.max_dur_us + 5 * US_PER_S;
    if (g.tend_us - g.t0_us < span)
        span = g.tend_us - g.t0_us;
    return start_between(g.tend_us - span, g.tend_us - 5 * US_PER_S);
}

static void build(bld_t *b, scenario_t sc)
{
    uint64_t stop = 0;
    bool three_way;
    int closer = rng_pct(65) ? SIDE_CLIENT : SIDE_SERVER;
    bool small = rng_pct(20);
    unsigned rounds = small ? (unsigned)rng_range(3, 40) : (unsigned)rng_range(1, 5);

    switch (sc) {
    case SC_ANCHOR: {
        /* When active-timeout cuts are possible, the anchor also ticks the engine clock at
         * least every 0.92 s (nudges included), so that two deadlines of a flow a second or
         * more apart are always seen one after the other (see sim_due). */
        bool heartbeat = g.active_us < g.tend_planned_us - g.t0_us;
        uint64_t span = g.idle_us - 2 * US_PER_S;
        if (span > 10 * US_PER_S)
            span = 10 * US_PER_S;
        if (heartbeat)
            span = g.tend_planned_us - g.t0_us - 1;
        uint64_t end = g.tend_planned_us;
        g.tend_us = end + US_PER_S; /* emit() may nudge the last packet past the plan */
        uint64_t gap_max = heartbeat ? 300 * US_PER_MS : g.gap_max_us;
        unsigned len = heartbeat ? 32 : 160;
        b->now = end - span;
        udp_send(b, SIDE_CLIENT, 0, len);
        while (b->now + gap_max < end) {
            int side = rng_pct(50) ? SIDE_CLIENT : SIDE_SERVER;
            udp_send(b, side, rng_range(20 * US_PER_MS, gap_max), len);
        }
        udp_send(b, SIDE_CLIENT, end - b->now, len);
        /* A nudge past an active-timeout deadline may have moved the last packet: whatever
         * it is, it ends the capture (no other flow exists yet). */
        g.tend_us = b->now;
        break;
    }
    case SC_TCP_CLOSE:
    case SC_TCP_SYNACK_FIRST:
        stop = stop_by_close();
        b->now = start_between(g.t0_us, stop - 10 * US_PER_S);
        tcp_handshake(b, sc == SC_TCP_SYNACK_FIRST);
        tcp_rounds(b, rounds, stop, small);
        three_way = rng_pct(30);
        tcp_close(b, closer, three_way, rng_pct(20));
        break;
    case SC_TCP_RST:
        stop = stop_by_close();
        b->now = start_between(g.t0_us, stop - 10 * US_PER_S);
        tcp_handshake(b, false);
        tcp_rounds(b, rounds, stop, small);
        tcp_reset(b, closer, rng_pct(30));
        break;
    case SC_TCP_IDLE:
        stop = stop_by_idle();
        b->now = start_between(g.t0_us, stop - 10 * US_PER_S);
        tcp_handshake(b, rng_pct(10));
        tcp_rounds(b, rounds > 1 ? rounds : 2, stop, small);
        break;
    case SC_TCP_EOC:
        b->now = start_eoc();
        tcp_handshake(b, false);
        while (b->now + g.gap_max_us + US_PER_S < g.tend_us)
            tcp_round_small(b);
        break;
    case SC_TCP_REUSE_AFTER:
    case SC_TCP_REUSE_LINGER: {
        stop = stop_by_close() - g.linger_us - 15 * US_PER_S;
        b->now = start_between(g.t0_us, stop - 10 * US_PER_S);
        tcp_handshake(b, false);
        tcp_rounds(b, (unsigned)rng_range(1, 3), stop, false);
        tcp_close(b, closer, rng_pct(30), false);
        uint64_t gap = sc == SC_TCP_REUSE_LINGER
                           ? rng_range(200 * US_PER_MS, g.linger_us - 500 * US_PER_MS)
                           : g.linger_us + rng_range(500 * US_PER_MS, 5 * US_PER_S);
        b->now += gap;
        bld_new_flow(b);
        tcp_handshake(b, false);
        tcp_rounds(b, (unsigned)rng_range(1, 3), stop_by_close(), false);
        closer = rng_pct(50) ? SIDE_CLIENT : SIDE_SERVER;
        tcp_close(b, closer, rng_pct(30), false);
        break;
    }
    case SC_UDP_DNS:
    case SC_UDP_DNS_REUSE: {
        stop = stop_by_idle();
        if (sc == SC_UDP_DNS_REUSE)
            stop -= g.idle_us + 10 * US_PER_S;
        b->now = start_between(g.t0_us, stop - 5 * US_PER_S);
        bool answered = !rng_pct(8);
        unsigned n = (unsigned)rng_range(1, 3);
        for (unsigned i = 0; i < n; i++)
            dns_exchange(b, i ? rng_range(5 * US_PER_MS, g.gap_max_us) : 0, answered);
        if (sc == SC_UDP_DNS_REUSE) {
            b->now += g.idle_us + IDLE_MARGIN_US + rng_range(500 * US_PER_MS, 5 * US_PER_S);
            bld_new_flow(b);
            dns_exchange(b, 0, true);
        }
        break;
    }
    case SC_UDP_STREAM: {
        stop = stop_by_idle();
        b->now = start_between(g.t0_us, stop - 10 * US_PER_S);
        uint64_t until = b->now + rng_range(5 * US_PER_S, 90 * US_PER_S);
        if (until > b->now + g.max_dur_us)
            until = b->now + g.max_dur_us;
        if (until > stop)
            until = stop;
        udp_send(b, SIDE_CLIENT, 0, (unsigned)rng_range(20, 1200));
        while (b->now + g.gap_max_us < until)
            udp_stream_packet(b, rng_range(20 * US_PER_MS, g.gap_max_us));
        break;
    }
    case SC_UDP_STREAM_EOC: {
        b->now = start_eoc();
        udp_send(b, SIDE_CLIENT, 0, (unsigned)rng_range(20, 1200));
        for (;;) {
            uint64_t gap = rng_range(20 * US_PER_MS, g.gap_max_us);
            if (b->now + gap + ACTIVE_NUDGE_US * 2 > g.tend_us)
                break;
            udp_stream_packet(b, gap);
        }
        break;
    }
    case SC_ICMP: {
        stop = stop_by_idle();
        b->now = start_between(g.t0_us, stop - 20 * US_PER_S);
        unsigned n = (unsigned)rng_range(2, 15);
        bool answering = !rng_pct(5);
        for (unsigned i = 0; i < n && b->now + 2 * US_PER_S < stop && (i == 0 || !bld_done(b));
             i++)
            icmp_ping(b, i ? ping_interval() : 0, answering);
        break;
    }
    case SC_ICMP_EOC:
        b->now = start_eoc();
        icmp_ping(b, 0, true);
        while (b->now + 2 * US_PER_S < g.tend_us)
            icmp_ping(b, ping_interval(), true);
        break;
    case SC_N:
        break;
    }
}

/* ---- truth: records from the model's packets, by the engine's documented rules ---------- */

typedef struct {
    bool active;
    uint8_t src_side;
    bool closed;
    uint64_t close_us;
    bool fin_seen[2];
    uint32_t fin_seq[2];
    int second_fin; /* side whose FIN came second, -1 until both sides sent one */
    uint64_t last_us;
    bool l7_seen; /* an application message went by: DPI has named the connection */
    rec_t rec; /* rec.pkts both zero: no record open (fresh counters after an active cut) */
} sim_t;

static bool rec_empty(const rec_t *r)
{
    return r->pkts[DIR_OUT] + r->pkts[DIR_IN] == 0;
}

static uint64_t rec_start(const rec_t *r)
{
    if (r->pkts[DIR_IN] == 0)
        return r->first[DIR_OUT];
    if (r->pkts[DIR_OUT] == 0)
        return r->first[DIR_IN];
    return r->first[DIR_OUT] < r->first[DIR_IN] ? r->first[DIR_OUT] : r->first[DIR_IN];
}

static bool dist_ok(uint64_t a, uint64_t b, uint64_t margin)
{
    return (a > b ? a - b : b - a) >= margin;
}

/* Ends the open record with @reason. Fails on a record the semantics leave unclear: one with
 * no outbound packet (what would its initial TCP flags be?). */
static bool sim_close_rec(sim_t *s, const flow_t *f, uint8_t reason)
{
    if (s->rec.pkts[DIR_OUT] == 0)
        return false;
    rec_t *r = rec_push();
    *r = s->rec;
    r->flow = f->index;
    r->src_side = s->src_side;
    r->reason = reason;
    r->app = s->l7_seen ? f->app : APP_NONE;
    memset(&s->rec, 0, sizeof s->rec);
    return true;
}

/* Which deadline, if any, the clock @now_us has reached. A flow has two: the end of the
 * connection (linger after a TCP close, otherwise idle) and the active timeout of its open
 * record; the earlier one that the clock reaches decides. Returns false when the outcome would
 * be unclear: @now_us too close to a deadline, two deadlines passed closer together than a
 * second, an active-timeout cut followed by the end of a flow with nothing left to report, or
 * an active-timeout deadline inside the linger of a closed flow.
 * When both have passed, the clock must have visited the time between them (some packet of
 * any flow): that is recorded in g.ticks and verified once all packets are known. */
static bool sim_due(const sim_t *s, uint64_t now_us, uint8_t *reason)
{
    uint64_t d[2];
    uint8_t why[2];
    unsigned n = 0;
    uint64_t de = s->closed ? s->close_us + g.linger_us : s->last_us + g.idle_us;
    if (!dist_ok(now_us, de, s->closed ? LINGER_MARGIN_US : IDLE_MARGIN_US))
        return false;
    if (now_us >= de) {
        d[n] = de;
        why[n++] = s->closed ? END_TCP : END_IDLE;
    }
    if (!rec_empty(&s->rec)) {
        uint64_t da = rec_start(&s->rec) + g.active_us;
        if (!dist_ok(now_us, da, ACTIVE_MARGIN_US))
            return false;
        /* Whether an active-timeout cut applies to a flow already closed and lingering is
         * not settled by the semantics we follow: keep such deadlines out of the linger. */
        if (s->closed && da < s->close_us + g.linger_us + DEADLINE_SEPARATION_US)
            return false;
        if (now_us >= da) {
            d[n] = da;
            why[n++] = END_ACTIVE;
        }
    } else if (n > 0) {
        return false;
    }
    *reason = n ? why[0] : 0;
    if (n < 2)
        return true;
    if (d[1] < d[0] + DEADLINE_SEPARATION_US)
        return false; /* also when the active cut comes first: it would leave an empty flow */
    tick_push(d[0], d[1]);
    return true;
}

/* Derives the records of flow @f from its packets pkts[p0, p1) and checks that they end with
 * the reasons in @want (active-timeout cuts aside). Records go to g.recs; false: draw again. */
static bool simulate(const flow_t *f, size_t p0, size_t p1, const uint8_t *want)
{
    sim_t s;
    memset(&s, 0, sizeof s);
    uint8_t got[8];
    unsigned ngot = 0;

    for (size_t i = p0; i < p1; i++) {
        const pkt_t *p = &g.pkts[i];
        if (i > p0 && p->ts_us <= g.pkts[i - 1].ts_us)
            return false;
        if (s.active) {
            uint8_t reason;
            if (!sim_due(&s, p->ts_us, &reason))
                return false;
            if (reason == END_ACTIVE) {
                if (!sim_close_rec(&s, f, END_ACTIVE))
                    return false;
            } else if (reason != 0) {
                if (!sim_close_rec(&s, f, reason) || ngot == 8)
                    return false;
                got[ngot++] = reason;
                s.active = false;
            }
            if (s.active && s.closed && (p->tcp_flags & (TH_SYN | TH_ACK)) == TH_SYN) {
                if (rec_empty(&s.rec) || !sim_close_rec(&s, f, END_TCP) || ngot == 8)
                    return false;
                got[ngot++] = END_TCP;
                s.active = false;
            }
        }
        if (!s.active) {
            memset(&s, 0, sizeof s);
            s.active = true;
            s.second_fin = -1;
            s.src_side = p->side;
            if (f->proto == PROTO_TCP && (p->tcp_flags & TH_SYN) && (p->tcp_flags & TH_ACK))
                s.src_side = !p->side;
        }
        int dir = p->side == s.src_side ? DIR_OUT : DIR_IN;
        rec_t *r = &s.rec;
        if (r->pkts[dir] == 0) {
            r->first[dir] = p->ts_us;
            r->iflags[dir] = p->tcp_flags;
            r->icmp_tc[dir] = p->icmp_type * 256;
        }
        r->last[dir] = p->ts_us;
        r->pkts[dir]++;
        r->octets[dir] += ip_len(f, p);
        r->uflags[dir] |= p->tcp_flags;
        s.last_us = p->ts_us;
        if (p->l7 != L7_PATTERN)
            s.l7_seen = true;

        if (f->proto == PROTO_TCP && !s.closed) {
            int side = p->side;
            if (p->tcp_flags & TH_RST) {
                s.closed = true;
                s.close_us = p->ts_us;
            } else {
                if ((p->tcp_flags & TH_FIN) && !s.fin_seen[side]) {
                    s.fin_seen[side] = true;
                    s.fin_seq[side] = p->seq + p->payload;
                    if (s.fin_seen[!side])
                        s.second_fin = side;
                }
                if (s.second_fin >= 0 && side != s.second_fin && (p->tcp_flags & TH_ACK) &&
                    p->ack >= s.fin_seq[s.second_fin] + 1) {
                    s.closed = true;
                    s.close_us = p->ts_us;
                }
            }
        }
    }
    if (s.active) {
        uint8_t reason;
        if (!sim_due(&s, g.tend_us, &reason) || reason == END_ACTIVE)
            return false;
        if (reason == 0)
            reason = END_FORCED;
        if (!sim_close_rec(&s, f, reason) || ngot == 8)
            return false;
        got[ngot++] = reason;
    }
    unsigned nwant = 0;
    while (nwant < 3 && want[nwant])
        nwant++;
    return ngot == nwant && memcmp(got, want, nwant) == 0;
}

/* ---- flows: addresses and ports ---------------------------------------------------------- */

static void addr4(uint8_t *a, uint8_t b0, uint8_t b1, uint8_t b2, uint8_t b3)
{
    memset(a, 0, 16);
    a[0] = b0;
    a[1] = b1;
    a[2] = b2;
    a[3] = b3;
}

/* Chooses the application by the server port, unless the size caps leave no room for one of
 * its opening messages in one segment (DNS: in one datagram); then the flow keeps the
 * pattern and has no label. */
static void flow_app_init(flow_t *f)
{
    f->app = APP_NONE;
    if (f->proto == PROTO_UDP && f->sport == 53) {
        f->app = APP_DNS;
        if (dns_base(f, true) > g.o.max_payload)
            f->app = APP_NONE;
        return;
    }
    if (f->proto != PROTO_TCP)
        return;
    switch (f->sport) {
    case 80:
    case 8080: f->app = APP_HTTP; break;
    case 443:
    case 993: f->app = APP_TLS; break;
    case 22: f->app = APP_SSH; break;
    case 25: f->app = APP_SMTP; break;
    default: return;
    }
    size_t cap = seg_max(f) < g.o.max_message ? seg_max(f) : g.o.max_message;
    static const unsigned kinds[] = {L7_CLIENT, L7_SERVER, L7_GREETING};
    for (size_t i = 0; i < 3; i++)
        if ((kinds[i] != L7_GREETING || f->app == APP_SMTP) &&
            l7_message(f, kinds[i], 0, NULL, 0) > cap)
            f->app = APP_NONE;
}

static void flow_init(flow_t *f, uint32_t index, scenario_t sc)
{
    memset(f, 0, sizeof *f);
    f->index = index;
    f->family = rng_pct(g.o.ipv6_share) ? 6 : 4;
    if (g.o.vlan_share > 0 && rng_pct(g.o.vlan_share))
        f->vlan = (uint16_t)rng_range(1, 4094);
    /* The first flows cover the families and a tag whatever the shares say, when allowed. */
    if (index == 1 && g.o.ipv6_share > 0)
        f->family = 6;
    if (index == 2 && g.o.vlan_share > 0)
        f->vlan = (uint16_t)rng_range(1, 4094);

    uint32_t host = index + 1; /* the client address alone keeps every flow's key unique */
    if (f->family == 4) {
        addr4(f->caddr, 10, (uint8_t)(host >> 16), (uint8_t)(host >> 8), (uint8_t)host);
        static const uint8_t nets[3][3] = {{192, 0, 2}, {198, 51, 100}, {203, 0, 113}};
        const uint8_t *n = nets[rng_range(0, 2)];
        addr4(f->saddr, n[0], n[1], n[2], (uint8_t)rng_range(1, 254));
    } else {
        static const uint8_t cpre[8] = {0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, 0, 0};
        memcpy(f->caddr, cpre, 8);
        f->caddr[12] = (uint8_t)(host >> 24);
        f->caddr[13] = (uint8_t)(host >> 16);
        f->caddr[14] = (uint8_t)(host >> 8);
        f->caddr[15] = (uint8_t)host;
        /* Servers include addresses with two zero runs, where text forms are easy to get
         * wrong: 2001:db8::1:0:0:N is the only standard spelling of the second one. */
        memset(f->saddr, 0, 16);
        f->saddr[0] = 0x20;
        f->saddr[1] = 0x01;
        f->saddr[2] = 0x0d;
        f->saddr[3] = 0xb8;
        switch (rng_range(0, 2)) {
        case 0:
            f->saddr[5] = 0x53;
            f->saddr[15] = (uint8_t)rng_range(1, 255);
            break;
        case 1:
            f->saddr[9] = 0x01;
            f->saddr[15] = (uint8_t)rng_range(1, 255);
            break;
        default:
            f->saddr[6] = 0xfe;
            f->saddr[7] = 0xed;
            f->saddr[8] = (uint8_t)rng_range(1, 255);
            f->saddr[14] = 0x01;
            f->saddr[15] = 0x02;
            break;
        }
    }
    f->cport = (uint16_t)rng_range(32768, 60999);
    f->mss = f->family == 4 ? 1460 : 1440;
    for (int s = 0; s < 2; s++) {
        /* The scaled window stays between 64 KiB and 1 MiB: never full with our bursts. */
        f->wscale[s] = (uint8_t)rng_range(2, 9);
        uint64_t lo = UINT64_C(65536) >> f->wscale[s], hi = UINT64_C(1048576) >> f->wscale[s];
        f->window[s] = (uint16_t)rng_range(lo, hi < 65535 ? hi : 65535);
        f->ip_id[s] = (uint16_t)rng_next();
    }
    f->ttl[SIDE_CLIENT] = 64;
    f->ttl[SIDE_SERVER] = (uint8_t)rng_range(40, 60);

    static const uint16_t tcp_ports[] = {80, 443, 22, 25, 8080, 993, 5432};
    static const uint16_t stream_ports[] = {5004, 9000, 27015, 10000};
    switch (sc) {
    case SC_UDP_DNS:
    case SC_UDP_DNS_REUSE:
        f->proto = PROTO_UDP;
        f->sport = 53;
        break;
    case SC_ANCHOR:
    case SC_UDP_STREAM:
    case SC_UDP_STREAM_EOC:
        f->proto = PROTO_UDP;
        f->sport = stream_ports[rng_range(0, 3)];
        break;
    case SC_ICMP:
    case SC_ICMP_EOC:
        f->proto = f->family == 4 ? PROTO_ICMP : PROTO_ICMPV6;
        f->cport = (uint16_t)rng_range(1, 65535);
        break;
    default:
        f->proto = PROTO_TCP;
        f->sport = tcp_ports[rng_range(0, 6)];
        break;
    }
    flow_app_init(f);
}

static scenario_t pick_scenario(uint32_t index)
{
    if (index == 0)
        return SC_ANCHOR;
    if (index < SC_N)
        return (scenario_t)index; /* every scenario at least once */
    unsigned total = 0;
    for (int s = 0; s < SC_N; s++)
        total += sc_weight[s];
    unsigned x = (unsigned)rng_range(0, total - 1);
    for (int s = 0; s < SC_N; s++) {
        if (x < sc_weight[s])
            return (scenario_t)s;
        x -= sc_weight[s];
    }
    return SC_TCP_CLOSE;
}

static bool generate_flow(uint32_t index)
{
    scenario_t sc = pick_scenario(index);
    flow_t *f = &g.flows[index];
    flow_init(f, index, sc);
    uint32_t rtt = (uint32_t)rng_range(200, 80000);
    for (int t = 0; t < MAX_TRIES; t++) {
        size_t p0 = g.npkts, r0 = g.nrecs, t0 = g.nticks;
        bld_t b;
        memset(&b, 0, sizeof b);
        b.f = f;
        b.rtt_us = rtt;
        build(&b, sc);
        if (!b.failed && g.npkts > p0 && simulate(f, p0, g.npkts, sc_reasons[sc]))
            return true;
        g.npkts = p0;
        g.nrecs = r0;
        g.nticks = t0;
    }
    fprintf(stderr, "ocgen: flow %u (scenario %d): no unambiguous timing found\n", index, sc);
    return false;
}

/* ---- rendering --------------------------------------------------------------------------- */

static size_t put16(uint8_t *b, uint16_t v)
{
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
    return 2;
}

static size_t put32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
    return 4;
}

static void le32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
    b[2] = (uint8_t)(v >> 16);
    b[3] = (uint8_t)(v >> 24);
}

static uint32_t csum_add(uint32_t sum, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)(b[i] << 8 | b[i + 1]);
    if (n & 1)
        sum += (uint32_t)(b[n - 1] << 8);
    return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* Renders packet @p into @buf (at least 14 + 4 + 40 + 32 + 65535 bytes); returns the length. */
static size_t render(const pkt_t *p, flow_t *f, uint8_t *buf)
{
    static const uint8_t router_mac[6] = {0x00, 0x00, 0x5e, 0x00, 0x01, 0x01};
    uint8_t host_mac[6] = {0x02, 0x00, (uint8_t)(f->index >> 24), (uint8_t)(f->index >> 16),
                           (uint8_t)(f->index >> 8), (uint8_t)f->index};
    bool from_client = p->side == SIDE_CLIENT;
    const uint8_t *src = from_client ? f->caddr : f->saddr;
    const uint8_t *dst = from_client ? f->saddr : f->caddr;
    size_t n = 0;

    memcpy(buf + n, from_client ? router_mac : host_mac, 6);
    memcpy(buf + n + 6, from_client ? host_mac : router_mac, 6);
    n += 12;
    if (f->vlan) {
        n += put16(buf + n, 0x8100);
        n += put16(buf + n, f->vlan);
    }
    n += put16(buf + n, f->family == 4 ? 0x0800 : 0x86dd);

    unsigned total = ip_len(f, p);
    unsigned l4len = l4_header_len(f, p) + p->payload;
    size_t ip = n;
    if (f->family == 4) {
        buf[n++] = 0x45;
        buf[n++] = 0;
        n += put16(buf + n, (uint16_t)total);
        n += put16(buf + n, f->ip_id[p->side]++);
        n += put16(buf + n, 0x4000);
        buf[n++] = f->ttl[p->side];
        buf[n++] = f->proto;
        n += put16(buf + n, 0);
        memcpy(buf + n, src, 4);
        memcpy(buf + n + 4, dst, 4);
        n += 8;
        put16(buf + ip + 10, csum_fold(csum_add(0, buf + ip, 20)));
    } else {
        n += put32(buf + n, 0x60000000u | ((f->index * 2654435761u) & 0xfffff));
        n += put16(buf + n, (uint16_t)l4len);
        buf[n++] = f->proto;
        buf[n++] = f->ttl[p->side];
        memcpy(buf + n, src, 16);
        memcpy(buf + n + 16, dst, 16);
        n += 32;
    }

    size_t l4 = n;
    size_t ck_off = 0;
    uint16_t my_port = from_client ? f->cport : f->sport;
    uint16_t peer_port = from_client ? f->sport : f->cport;
    switch (f->proto) {
    case PROTO_TCP: {
        n += put16(buf + n, my_port);
        n += put16(buf + n, peer_port);
        n += put32(buf + n, p->seq);
        n += put32(buf + n, p->ack);
        unsigned hl = l4_header_len(f, p);
        buf[n++] = (uint8_t)((hl / 4) << 4);
        buf[n++] = p->tcp_flags;
        uint16_t win = f->window[p->side];
        if (p->tcp_flags & TH_SYN)
            win = 64240;
        else if (p->tcp_flags & TH_RST)
            win = 0;
        n += put16(buf + n, win);
        ck_off = n;
        n += put16(buf + n, 0);
        n += put16(buf + n, 0);
        if (p->syn_opts) {
            buf[n++] = 2;
            buf[n++] = 4;
            n += put16(buf + n, f->mss);
            buf[n++] = 1;
            buf[n++] = 3;
            buf[n++] = 3;
            buf[n++] = f->wscale[p->side];
            buf[n++] = 1;
            buf[n++] = 1;
            buf[n++] = 4;
            buf[n++] = 2;
        }
        break;
    }
    case PROTO_UDP:
        n += put16(buf + n, my_port);
        n += put16(buf + n, peer_port);
        n += put16(buf + n, (uint16_t)l4len);
        ck_off = n;
        n += put16(buf + n, 0);
        break;
    default: /* ICMP or ICMPv6 echo */
        buf[n++] = p->icmp_type;
        buf[n++] = 0;
        ck_off = n;
        n += put16(buf + n, 0);
        n += put16(buf + n, f->cport);
        n += put16(buf + n, p->icmp_seq);
        break;
    }
    for (unsigned i = 0; i < p->payload; i++)
        buf[n++] = (uint8_t)(0x20 + (i * 7 + p->seq + p->icmp_seq) % 95);
    if (p->l7 != L7_PATTERN &&
        l7_message(f, p->l7, p->icmp_seq, buf + n - p->payload, p->payload) != p->payload) {
        fprintf(stderr, "ocgen: flow %" PRIu32 ": a %u-byte payload cannot hold its message\n",
                f->index, p->payload);
        exit(1);
    }

    uint32_t sum = 0;
    if (f->proto != PROTO_ICMP) {
        size_t alen = f->family == 4 ? 4 : 16;
        sum = csum_add(sum, src, alen);
        sum = csum_add(sum, dst, alen);
        sum += f->proto;
        sum += l4len;
    }
    sum = csum_add(sum, buf + l4, l4len);
    uint16_t ck = csum_fold(sum);
    if (f->proto == PROTO_UDP && ck == 0)
        ck = 0xffff;
    put16(buf + ck_off, ck);

    while (n < 60) /* Ethernet minimum frame: the padding is not part of the IP packet */
        buf[n++] = 0;
    return n;
}

static int pkt_cmp(const void *a, const void *b)
{
    const pkt_t *x = a, *y = b;
    if (x->ts_us != y->ts_us)
        return x->ts_us < y->ts_us ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static bool write_pcap(const char *path)
{
    FILE *fp = fopen(path, "wb");
    if (fp == NULL) {
        fprintf(stderr, "ocgen: %s: %s\n", path, strerror(errno));
        return false;
    }
    uint8_t hdr[24] = {0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0};
    le32(hdr + 16, 65535);
    le32(hdr + 20, 1); /* DLT_EN10MB */
    fwrite(hdr, 1, sizeof hdr, fp);
    static uint8_t buf[14 + 4 + 60 + 32 + 65536];
    for (size_t i = 0; i < g.npkts; i++) {
        const pkt_t *p = &g.pkts[i];
        size_t len = render(p, &g.flows[p->flow], buf);
        uint8_t rh[16];
        le32(rh, (uint32_t)(p->ts_us / US_PER_S));
        le32(rh + 4, (uint32_t)(p->ts_us % US_PER_S));
        le32(rh + 8, (uint32_t)len);
        le32(rh + 12, (uint32_t)len);
        fwrite(rh, 1, sizeof rh, fp);
        fwrite(buf, 1, len, fp);
    }
    bool bad = ferror(fp) != 0;
    if (fclose(fp) != 0 || bad) {
        fprintf(stderr, "ocgen: %s: write failed\n", path);
        return false;
    }
    return true;
}

/* ---- truth output ------------------------------------------------------------------------ */

static int rec_cmp(const void *a, const void *b)
{
    const rec_t *x = a, *y = b;
    uint64_t sx = rec_start(x), sy = rec_start(y);
    if (sx != sy)
        return sx < sy ? -1 : 1;
    return x->flow < y->flow ? -1 : x->flow > y->flow;
}

static void write_rec(FILE *fp, const rec_t *r)
{
    const flow_t *f = &g.flows[r->flow];
    bool client_src = r->src_side == SIDE_CLIENT;
    const uint8_t *sa = client_src ? f->caddr : f->saddr;
    const uint8_t *da = client_src ? f->saddr : f->caddr;
    char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
    int af = f->family == 4 ? AF_INET : AF_INET6;
    inet_ntop(af, sa, s, sizeof s);
    inet_ntop(af, da, d, sizeof d);
    const char *v = f->family == 4 ? "IPv4" : "IPv6";
    uint64_t start_ms = rec_start(r) / US_PER_MS;
    uint64_t end_us = r->last[DIR_OUT];
    if (r->pkts[DIR_IN] && r->last[DIR_IN] > end_us)
        end_us = r->last[DIR_IN];

    fprintf(fp, "{\"flowStartMilliseconds\":%" PRIu64 ",\"flowEndMilliseconds\":%" PRIu64,
            start_ms, end_us / US_PER_MS);
    fprintf(fp, ",\"source%sAddress\":\"%s\",\"destination%sAddress\":\"%s\"", v, s, v, d);
    bool icmp = f->proto == PROTO_ICMP || f->proto == PROTO_ICMPV6;
    if (!icmp)
        fprintf(fp, ",\"sourceTransportPort\":%u,\"destinationTransportPort\":%u",
                client_src ? f->cport : f->sport, client_src ? f->sport : f->cport);
    fprintf(fp, ",\"protocolIdentifier\":%u", f->proto);
    fprintf(fp,
            ",\"packetDeltaCount\":%" PRIu64 ",\"octetDeltaCount\":%" PRIu64
            ",\"reversePacketDeltaCount\":%" PRIu64 ",\"reverseOctetDeltaCount\":%" PRIu64,
            r->pkts[DIR_OUT], r->octets[DIR_OUT], r->pkts[DIR_IN], r->octets[DIR_IN]);
    if (r->pkts[DIR_IN])
        fprintf(fp, ",\"reverseFlowDeltaMilliseconds\":%" PRIu64,
                r->first[DIR_IN] / US_PER_MS - start_ms);
    if (f->proto == PROTO_TCP) {
        fprintf(fp, ",\"initialTCPFlags\":%u,\"unionTCPFlags\":%u", r->iflags[DIR_OUT],
                r->uflags[DIR_OUT]);
        if (r->pkts[DIR_IN])
            fprintf(fp, ",\"reverseInitialTCPFlags\":%u,\"reverseUnionTCPFlags\":%u",
                    r->iflags[DIR_IN], r->uflags[DIR_IN]);
    }
    if (icmp) {
        fprintf(fp, ",\"icmpTypeCode%s\":%d", v, r->icmp_tc[DIR_OUT]);
        if (r->pkts[DIR_IN])
            fprintf(fp, ",\"reverseIcmpTypeCode%s\":%d", v, r->icmp_tc[DIR_IN]);
    }
    if (f->vlan)
        fprintf(fp, ",\"vlanId\":%u", f->vlan);
    if (r->app != APP_NONE)
        fprintf(fp, ",\"applicationName\":\"%s\"", app_name(f));
    fprintf(fp, ",\"flowEndReason\":%u}\n", r->reason);
}

static bool write_truth(const char *path)
{
    FILE *fp = fopen(path, "w");
    if (fp == NULL) {
        fprintf(stderr, "ocgen: %s: %s\n", path, strerror(errno));
        return false;
    }
    qsort(g.recs, g.nrecs, sizeof *g.recs, rec_cmp);
    for (size_t i = 0; i < g.nrecs; i++)
        write_rec(fp, &g.recs[i]);
    if (fclose(fp) != 0) {
        fprintf(stderr, "ocgen: %s: write failed\n", path);
        return false;
    }
    return true;
}

/* ---- command line ------------------------------------------------------------------------ */

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: ocgen --seed N --flows N --out FILE.pcap --truth FILE.jsonl [options]\n"
            "Writes a deterministic capture of interleaved TCP/UDP/ICMP flows and the flow\n"
            "records a flow meter must report for it (one JSON object per line). Flows to\n"
            "the HTTP, TLS, SSH, SMTP and DNS ports open with real protocol messages, and\n"
            "their records name the application (applicationName).\n"
            "  --idle-timeout S    engine idle timeout the truth assumes (30, >= 5)\n"
            "  --active-timeout S  engine active timeout the truth assumes (300, >= idle + 2)\n"
            "  --linger S          TCP linger after close the truth assumes (2, 1..idle-2)\n"
            "  --ipv6-share PCT    share of IPv6 flows (30)\n"
            "  --vlan-share PCT    share of 802.1Q-tagged flows (10)\n"
            "  --start-time EPOCH  capture start, seconds since the epoch (1700000000)\n"
            "  --max-payload N     cap on the payload of one packet, bytes (1460)\n"
            "  --max-duration S    cap on how long one flow keeps sending, seconds (90)\n"
            "  --max-message N     cap on one TCP request or response, bytes (24000)\n"
            "  --span S            capture length, seconds (2 * idle + 150, >= idle + 40): a\n"
            "                      shorter one packs the same flows closer (more at once)\n");
}

static bool parse_u64(const char *arg, const char *name, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-' || v < lo || v > hi) {
        fprintf(stderr, "ocgen: --%s: '%s' is not a number in %" PRIu64 "..%" PRIu64 "\n",
                name, arg, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

static bool parse_args(int argc, char **argv, opts_t *o)
{
    static const struct option longopts[] = {
        {"seed", required_argument, NULL, 's'},
        {"flows", required_argument, NULL, 'n'},
        {"out", required_argument, NULL, 'o'},
        {"truth", required_argument, NULL, 't'},
        {"idle-timeout", required_argument, NULL, 'I'},
        {"active-timeout", required_argument, NULL, 'A'},
        {"linger", required_argument, NULL, 'L'},
        {"ipv6-share", required_argument, NULL, '6'},
        {"vlan-share", required_argument, NULL, 'V'},
        {"start-time", required_argument, NULL, 'T'},
        {"max-payload", required_argument, NULL, 'P'},
        {"max-duration", required_argument, NULL, 'D'},
        {"max-message", required_argument, NULL, 'M'},
        {"span", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool have_seed = false;
    uint64_t v = 0;
    memset(o, 0, sizeof *o);
    o->idle_timeout_s = 30;
    o->active_timeout_s = 300;
    o->linger_s = 2;
    o->ipv6_share = 30;
    o->vlan_share = 10;
    o->start_time_s = 1700000000;
    o->max_payload = 1460;
    o->max_duration_s = 90;
    o->max_message = 24000;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case 's':
            ok = parse_u64(optarg, "seed", 0, UINT64_MAX, &o->seed);
            have_seed = ok;
            break;
        case 'n':
            ok = parse_u64(optarg, "flows", 1, 1000000, &v);
            o->flows = (unsigned)v;
            break;
        case 'o':
            o->out_path = optarg;
            break;
        case 't':
            o->truth_path = optarg;
            break;
        case 'I':
            ok = parse_u64(optarg, "idle-timeout", 5, 86400, &o->idle_timeout_s);
            break;
        case 'A':
            ok = parse_u64(optarg, "active-timeout", 7, 864000, &o->active_timeout_s);
            break;
        case 'L':
            ok = parse_u64(optarg, "linger", 1, 3600, &o->linger_s);
            break;
        case '6':
            ok = parse_u64(optarg, "ipv6-share", 0, 100, &v);
            o->ipv6_share = (unsigned)v;
            break;
        case 'V':
            ok = parse_u64(optarg, "vlan-share", 0, 100, &v);
            o->vlan_share = (unsigned)v;
            break;
        case 'T':
            ok = parse_u64(optarg, "start-time", 0, 4000000000ULL, &o->start_time_s);
            break;
        case 'P':
            ok = parse_u64(optarg, "max-payload", 16, 1460, &v);
            o->max_payload = (unsigned)v;
            break;
        case 'D':
            ok = parse_u64(optarg, "max-duration", 1, 86400, &o->max_duration_s);
            break;
        case 'M':
            ok = parse_u64(optarg, "max-message", 1, 1000000, &v);
            o->max_message = (unsigned)v;
            break;
        case 'S':
            ok = parse_u64(optarg, "span", 1, 86400, &o->span_s);
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return false;
        }
        if (!ok)
            return false;
    }
    if (optind != argc || !have_seed || o->flows == 0 || o->out_path == NULL ||
        o->truth_path == NULL) {
        fprintf(stderr, "ocgen: --seed, --flows, --out and --truth are required\n");
        usage(stderr);
        return false;
    }
    if (o->active_timeout_s < o->idle_timeout_s + 2) {
        fprintf(stderr, "ocgen: --active-timeout must be at least --idle-timeout + 2\n");
        return false;
    }
    if (o->linger_s + 2 > o->idle_timeout_s) {
        fprintf(stderr, "ocgen: --linger must be at most --idle-timeout - 2\n");
        return false;
    }
    if (o->span_s != 0 && o->span_s < o->idle_timeout_s + 40) {
        fprintf(stderr, "ocgen: --span must be at least --idle-timeout + 40\n");
        return false;
    }
    return true;
}

int main(int argc, char **argv)
{
    if (!parse_args(argc, argv, &g.o))
        return 2;
    g.rng = g.o.seed ^ 0x6f6367656e2d7631ULL; /* "ocgen-v1": other seeds, other streams */
    g.idle_us = g.o.idle_timeout_s * US_PER_S;
    g.active_us = g.o.active_timeout_s * US_PER_S;
    g.linger_us = g.o.linger_s * US_PER_S;
    g.max_dur_us = g.o.max_duration_s * US_PER_S;
    /* Pauses stay under half the idle timeout (minus 1 s), so a nudge past an active-timeout
     * deadline never brings a pause near it. */
    g.gap_max_us = (g.idle_us - 2 * US_PER_S) / 2;
    if (g.gap_max_us > 5 * US_PER_S)
        g.gap_max_us = 5 * US_PER_S;
    g.t0_us = g.o.start_time_s * US_PER_S + 271828;
    uint64_t span_s = g.o.span_s != 0 ? g.o.span_s : 2 * g.o.idle_timeout_s + 150;
    g.tend_planned_us = g.t0_us + span_s * US_PER_S + 314159;

    g.flows = calloc(g.o.flows, sizeof *g.flows);
    if (g.flows == NULL) {
        fprintf(stderr, "ocgen: out of memory\n");
        return 1;
    }
    for (uint32_t i = 0; i < g.o.flows; i++)
        if (!generate_flow(i))
            return 1;

    for (size_t i = 0; i < g.npkts; i++)
        g.pkts[i].order = (uint32_t)i;
    qsort(g.pkts, g.npkts, sizeof *g.pkts, pkt_cmp);
    if (!ticks_verify())
        return 1;
    if (!write_pcap(g.o.out_path) || !write_truth(g.o.truth_path))
        return 1;
    fprintf(stderr, "ocgen: %u flows, %zu packets, %zu records\n", g.o.flows, g.npkts, g.nrecs);
    free(g.flows);
    free(g.pkts);
    free(g.recs);
    free(g.ticks);
    return 0;
}
