/*
 * Unit tests of the DPI framework (src/dpi/dpi.c, dpi_util.c), apart from any real dissector:
 * the inspection and field pools (exhaustion counted, slots returned on finish and on
 * release, cleared on reuse), the TCP prefix handed to dissectors (sequence order, holes
 * dropped and counted, retransmissions trimmed, the 32-bit wrap, data on a SYN, snap-length
 * cuts, the DPI_STREAM_CAP cap), the dissector loop (candidates by transport, DPI_NO,
 * MATCH_MORE ownership, the packet budget), announced connections (either side, used once,
 * expiry, the fixed table), and the helpers for dissectors (field stores, line and header
 * scanners).
 *
 * This program links dpi.c and dpi_util.c with its own dissector table: three probes that
 * record what they were given and answer what the test tells them, so every expectation
 * here is the test's own arithmetic over the bytes it sent.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "decode/dec.h"
#include "dpi/dpi.h"

/* ---- probe dissectors ------------------------------------------------------------------ */

enum { P_BOTH = 0, P_TCP, P_UDP, N_PROBES };

typedef struct {
    unsigned calls;
    uint32_t len, new_off, peer_len, pkts[2];
    bool stream_full, fields_null, buf_null;
    uint8_t dir, l4, scratch0;
    uint16_t sport, dport, proto_in;
    uint8_t data[DPI_STREAM_CAP], peer[DPI_STREAM_CAP];
} probe_log_t;

static probe_log_t plog[N_PROBES];
static dpi_verdict_t pverdict[N_PROBES];
static uint16_t pproto[N_PROBES];
static const char *pfield[N_PROBES]; /* stored as httpRequestHost when not NULL */

static dpi_verdict_t probe(unsigned i, dpi_ctx_t *ctx)
{
    probe_log_t *l = &plog[i];
    l->calls++;
    l->len = ctx->len;
    l->new_off = ctx->new_off;
    l->peer_len = ctx->peer_len;
    l->pkts[0] = ctx->pkts[0];
    l->pkts[1] = ctx->pkts[1];
    l->stream_full = ctx->stream_full;
    l->fields_null = ctx->fields == NULL;
    l->buf_null = ctx->buf == NULL;
    l->dir = ctx->dir;
    l->l4 = ctx->l4;
    l->sport = ctx->sport;
    l->dport = ctx->dport;
    l->proto_in = ctx->proto;
    memcpy(l->data, ctx->data, ctx->len);
    if (ctx->peer_len > 0)
        memcpy(l->peer, ctx->peer, ctx->peer_len);
    l->scratch0 = ctx->scratch[0];
    ctx->scratch[0] = 0xaa; /* must not survive into another flow's slot */
    if (pfield[i] != NULL)
        dpi_field_set_str(ctx, OC_FIELD_HTTP_HOST, pfield[i]);
    if (pverdict[i] == DPI_MATCH || pverdict[i] == DPI_MATCH_MORE)
        ctx->proto = pproto[i];
    return pverdict[i];
}

static dpi_verdict_t probe_both(dpi_ctx_t *ctx) { return probe(P_BOTH, ctx); }
static dpi_verdict_t probe_tcp(dpi_ctx_t *ctx) { return probe(P_TCP, ctx); }
static dpi_verdict_t probe_udp(dpi_ctx_t *ctx) { return probe(P_UDP, ctx); }

/* The table dpi.c iterates, in place of dpi_table.c's. */
const dpi_dissector_t dpi_dissectors[] = {
    {"both", probe_both, true, true},
    {"tcp", probe_tcp, true, false},
    {"udp", probe_udp, false, true},
};
const unsigned dpi_n_dissectors = sizeof dpi_dissectors / sizeof dpi_dissectors[0];

/* ---- fixtures -------------------------------------------------------------------------- */

#define T0 UINT64_C(1700000000000000)
#define SEC UINT64_C(1000000)

static const uint8_t A4[16] = {10, 0, 0, 1}, B4[16] = {10, 0, 0, 2};

typedef struct {
    dpi_flow_t df;
    uint8_t state;
    uint16_t proto;
    uint16_t cport, sport;      /* client (direction 0 sender) and server ports */
    const uint8_t *caddr, *saddr;
} tflow_t;

static oc_engine_stats_t stats;

static void reset_probes(void)
{
    memset(plog, 0, sizeof plog);
    for (unsigned i = 0; i < N_PROBES; i++) {
        pverdict[i] = DPI_MAYBE;
        pproto[i] = OC_PROTO_UNKNOWN;
        pfield[i] = NULL;
    }
    memset(&stats, 0, sizeof stats);
}

static dpi_t *make_dpi(uint32_t max_inspect, uint32_t max_fields, bool fields)
{
    oc_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.dpi = true;
    cfg.dpi_fields = fields;
    cfg.dpi_max_inspect = max_inspect;
    cfg.dpi_max_fields = max_fields;
    dpi_t *d = NULL;
    dpi_init(&d, &cfg);
    assert_non_null(d);
    reset_probes();
    return d;
}

static tflow_t flow_new(uint16_t cport, uint16_t sport)
{
    tflow_t f;
    memset(&f, 0, sizeof f);
    f.df.inspect = f.df.fields = DPI_NONE;
    f.state = DPI_ST_NEW;
    f.cport = cport;
    f.sport = sport;
    f.caddr = A4;
    f.saddr = B4;
    return f;
}

/* One packet of @f in direction @dir (0 = from the client). */
static void send_full(dpi_t *d, tflow_t *f, unsigned dir, uint8_t l4, uint32_t seq,
                      uint8_t flags, const void *payload, uint32_t caplen, uint32_t wirelen,
                      uint64_t ts)
{
    dec_packet_t p;
    memset(&p, 0, sizeof p);
    p.family = 4;
    p.proto = l4;
    memcpy(p.src, dir == 0 ? f->caddr : f->saddr, 16);
    memcpy(p.dst, dir == 0 ? f->saddr : f->caddr, 16);
    p.sport = dir == 0 ? f->cport : f->sport;
    p.dport = dir == 0 ? f->sport : f->cport;
    p.tcp_seq = seq;
    p.tcp_flags = flags;
    p.tcp_wscale = -1;
    p.payload = payload;
    p.payload_caplen = caplen;
    p.l4_payload_len = wirelen;
    dpi_packet(d, &f->df, &f->state, &f->proto, dir, ts, &p, &stats);
}

static void send_tcp(dpi_t *d, tflow_t *f, unsigned dir, uint32_t seq, const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    send_full(d, f, dir, 6, seq, DEC_TCP_ACK | DEC_TCP_PSH, s, n, n, T0);
}

static void send_udp(dpi_t *d, tflow_t *f, unsigned dir, const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    send_full(d, f, dir, 17, 0, 0, s, n, n, T0);
}

static void assert_data(unsigned probe_i, const char *want)
{
    size_t n = strlen(want);
    assert_int_equal(plog[probe_i].len, n);
    assert_memory_equal(plog[probe_i].data, want, n);
}

/* ---- pools ----------------------------------------------------------------------------- */

static void test_pool_inspect_full(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(2, 16, true);
    tflow_t f1 = flow_new(1001, 80), f2 = flow_new(1002, 80), f3 = flow_new(1003, 80);
    send_tcp(d, &f1, 0, 1, "a");
    send_tcp(d, &f2, 0, 1, "b");
    assert_int_equal(f1.state, DPI_ST_INSPECTING);
    assert_int_equal(f2.state, DPI_ST_INSPECTING);
    assert_int_equal(plog[P_TCP].calls, 2);
    send_tcp(d, &f3, 0, 1, "c");
    /* No slot: the flow is given up at once, counted, and no dissector runs. */
    assert_int_equal(f3.state, DPI_ST_DONE);
    assert_int_equal(f3.df.inspect, DPI_NONE);
    assert_int_equal(f3.df.fields, DPI_NONE);
    assert_int_equal(stats.dpi_inspect_full, 1);
    assert_int_equal(plog[P_TCP].calls, 2);
    dpi_flow_release(d, &f1.df);
    dpi_flow_release(d, &f2.df);
    dpi_flow_release(d, &f3.df);
    dpi_free(d);
}

static void test_pool_fields_full(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(4, 1, true);
    tflow_t f1 = flow_new(1001, 80), f2 = flow_new(1002, 80);
    pfield[P_TCP] = "one";
    send_tcp(d, &f1, 0, 1, "a");
    assert_false(plog[P_TCP].fields_null);
    send_tcp(d, &f2, 0, 1, "b");
    /* Inspected all the same, without fields. */
    assert_int_equal(f2.state, DPI_ST_INSPECTING);
    assert_true(plog[P_TCP].fields_null);
    assert_int_equal(f2.df.fields, DPI_NONE);
    assert_int_equal(stats.dpi_fields_full, 1);
    assert_int_equal(stats.dpi_inspect_full, 0);
    assert_null(dpi_fields(d, &f2.df));
    const oc_fields_t *fl = dpi_fields(d, &f1.df);
    assert_non_null(fl);
    assert_int_equal(fl->len[OC_FIELD_HTTP_HOST], 3);
    assert_memory_equal(fl->buf + fl->off[OC_FIELD_HTTP_HOST], "one", 3);
    dpi_flow_release(d, &f1.df);
    dpi_flow_release(d, &f2.df);
    dpi_free(d);
}

static void test_pool_fields_off(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(4, 16, false);
    tflow_t f = flow_new(1001, 80);
    pfield[P_TCP] = "x";
    send_tcp(d, &f, 0, 1, "a");
    assert_true(plog[P_TCP].fields_null);
    assert_int_equal(f.df.fields, DPI_NONE);
    assert_int_equal(stats.dpi_fields_full, 0);
    dpi_flow_release(d, &f.df);
    dpi_free(d);
}

static void test_pool_slots_back_on_finish(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(1, 1, true);
    tflow_t f1 = flow_new(1001, 80), f2 = flow_new(1002, 80), f3 = flow_new(1003, 80);
    /* Identified without a field: both slots go back at once. */
    pverdict[P_BOTH] = DPI_MATCH;
    pproto[P_BOTH] = OC_PROTO_HTTP;
    send_tcp(d, &f1, 0, 1, "a");
    assert_int_equal(f1.state, DPI_ST_DONE);
    assert_int_equal(f1.proto, OC_PROTO_HTTP);
    assert_int_equal(f1.df.inspect, DPI_NONE);
    assert_int_equal(f1.df.fields, DPI_NONE);
    assert_int_equal(stats.dpi_flows_identified, 1);
    /* Identified with a field: the inspection slot goes back, the field slot stays. */
    pfield[P_BOTH] = "host.example";
    send_tcp(d, &f2, 0, 1, "b");
    assert_int_equal(stats.dpi_inspect_full, 0);
    assert_int_equal(stats.dpi_fields_full, 0);
    assert_int_equal(f2.state, DPI_ST_DONE);
    assert_int_equal(f2.df.inspect, DPI_NONE);
    assert_int_not_equal(f2.df.fields, DPI_NONE);
    assert_non_null(dpi_fields(d, &f2.df));
    send_tcp(d, &f3, 0, 1, "c");
    assert_int_equal(stats.dpi_inspect_full, 0);
    assert_int_equal(stats.dpi_fields_full, 1);
    dpi_flow_release(d, &f2.df);
    assert_int_equal(f2.df.fields, DPI_NONE);
    dpi_flow_release(d, &f3.df);
    dpi_free(d);
}

static void test_pool_slots_back_on_release(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(1, 1, true);
    tflow_t f1 = flow_new(1001, 80), f2 = flow_new(1002, 80);
    pfield[P_TCP] = "first.example";
    send_tcp(d, &f1, 0, 1, "a");
    assert_int_equal(f1.state, DPI_ST_INSPECTING);
    dpi_flow_release(d, &f1.df);
    assert_int_equal(f1.df.inspect, DPI_NONE);
    assert_int_equal(f1.df.fields, DPI_NONE);
    /* The same slots, cleared: no scratch byte and no field of the earlier flow. */
    pfield[P_TCP] = NULL;
    send_tcp(d, &f2, 0, 1, "b");
    assert_int_equal(stats.dpi_inspect_full, 0);
    assert_int_equal(stats.dpi_fields_full, 0);
    assert_int_equal(plog[P_TCP].scratch0, 0);
    assert_false(plog[P_TCP].fields_null);
    assert_null(dpi_fields(d, &f2.df));
    dpi_flow_release(d, &f2.df);
    dpi_flow_release(d, &f2.df); /* twice is harmless */
    dpi_free(d);
}

static void test_pool_zero_slots(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(0, 0, true);
    tflow_t f = flow_new(1001, 80);
    send_tcp(d, &f, 0, 1, "a");
    assert_int_equal(f.state, DPI_ST_DONE);
    assert_int_equal(stats.dpi_inspect_full, 1);
    assert_int_equal(plog[P_BOTH].calls, 0);
    dpi_free(d);
}

/* ---- TCP prefix ------------------------------------------------------------------------ */

static void test_stream_in_order(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(4, 4, true);
    tflow_t f = flow_new(1001, 80);
    send_tcp(d, &f, 0, 100, "GET / HT");
    assert_data(P_TCP, "GET / HT");
    assert_int_equal(plog[P_TCP].new_off, 0);
    assert_int_equal(plog[P_TCP].peer_len, 0);
    assert_true(plog[P_TCP].buf_null);
    send_tcp(d, &f, 0, 108, "TP/1.1\r\n");
    assert_data(P_TCP, "GET / HTTP/1.1\r\n");
    assert_int_equal(plog[P_TCP].new_off, 8);
    assert_int_equal(plog[P_TCP].pkts[0], 1);
    /* The other direction has its own prefix, and sees the client's as its peer. */
    send_tcp(d, &f, 1, 5000, "HTTP/1.1 200");
    assert_data(P_TCP, "HTTP/1.1 200");
    assert_int_equal(plog[P_TCP].dir, 1);
    assert_int_equal(plog[P_TCP].sport, 80);
    assert_int_equal(plog[P_TCP].dport, 1001);
    assert_int_equal(plog[P_TCP].peer_len, 16);
    assert_memory_equal(plog[P_TCP].peer, "GET / HTTP/1.1\r\n", 16);
    assert_int_equal(plog[P_TCP].pkts[0], 2);
    assert_int_equal(plog[P_TCP].pkts[1], 0);
    assert_int_equal(stats.dpi_stream_gaps, 0);
    dpi_flow_release(d, &f.df);
    dpi_free(d);
}

static void test_stream_out_of_order_dropped(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(4, 4, true);
    tflow_t f = flow_new(1001, 80);
    send_tcp(d, &f, 0, 100, "abc");
    send_tcp(d, &f, 0, 106, "ghi"); /* after a hole of 3 bytes */
    assert_int_equal(plog[P_TCP].calls, 1);
    assert_int_equal(stats.dpi_stream_gaps, 1);
    send_tcp(d, &f, 0, 103, "def"); /* fills the hole */
    assert_int_equal(plog[P_TCP].calls, 2);
    assert_data(P_TCP, "abcdef");
    send_tcp(d, &f, 0, 106, "ghi"); /* the sender repeats the dropped segment */
    assert_data(P_TCP, "abcdefghi");
    assert_int_equal(plog[P_TCP].new_off, 6);
    assert_int_equal(stats.dpi_stream_gaps, 1);
    dpi_flow_release(d, &f.df);
    dpi_free(d);
}

static void test_stream_retransmission_trimmed(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(4, 4, true);
    tflow_t f = flow_new(1001, 80);
    send_tcp(d, &f, 0, 100, "abcd");
    send_tcp(d, &f, 0, 100, "abcd"); /* a plain retransmission brings nothing */
    assert_int_equal(plog[P_TCP].calls, 1);
    send_tcp(d, &f, 0, 102, "CDef"); /* overlaps two bytes: only "ef" is new */
    assert_int_equal(plog[P_TCP].calls, 2);
    assert_data(P_TCP, "abcdef");
    assert_int_equal(plog[P_TCP].new_off, 4);
    send_tcp(d, &f, 0, 101, "bc"); /* entirely old */
    assert_int_equal(plog[P_TCP].calls, 2);
    assert_int_equal(stats.dpi_stream_gaps, 0);
    assert_int_equal(plog[P_TCP].pkts[0], 1); /* packets that brought nothing are not counted */
    dpi_flow_release(d, &f.df);
    dpi_free(d);
}

static void test_stream_sequence_wrap(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(4, 4, true);
    tflow_t f = flow_new(1001, 80);
    send_tcp(d, &f, 0, UINT32_C(0xfffffffe), "abcd");
    send_tcp(d, &f, 0, 2, "ef");
    assert_data(P_TCP, "abcdef");
    assert_int_equal(stats.dpi_stream_gaps, 0);
    dpi_flow_release(d, &f.df);
    dpi_free(d);
}

static void test_stream_syn_data(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(4, 4, true);
    tflow_t f = flow_new(1001, 80);
    /* TCP Fast Open: the data follows the SYN's own sequence number. */
    send_full(d, &f, 0, 6, 500, DEC_TCP_SYN, "xy", 2, 2, T0);
    assert_data(P_TCP, "xy");
    send_tcp(d, &f, 0, 503, "z");
    assert_data(P_TCP, "xyz");
    assert_int_equal(stats.dpi_stream_gaps, 0);
    dpi_flow_release(d, &f.df);
    dpi_free(d);
}

static void test_stream_snap_cut_leaves_hole(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(4, 4, true);
    tflow_t f = flow_new(1001, 80);
    /* 10 bytes on the wire, 4 captured: the prefix ends at the cut, and the next segment
     * is past a hole, not glued to "abcd". */
    send_full(d, &f, 0, 6, 100, DEC_TCP_ACK, "abcd", 4, 10, T0);
    assert_data(P_TCP, "abcd");
    send_tcp(d, &f, 0, 110, "k");
    assert_int_equal(plog[P_TCP].calls, 1);
    assert_int_equal(stats.dpi_stream_gaps, 1);
    /* A retransmission captured whole fills the hole. */
    send_tcp(d, &f, 0, 104, "efghij");
    assert_data(P_TCP, "abcdefghij");
    assert_int_equal(plog[P_TCP].new_off, 4);
    dpi_flow_release(d, &f.df);
    dpi_free(d);
}

static void test_stream_cap(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(4, 4, true);
    tflow_t f = flow_new(1001, 80);
    static uint8_t big[3000];
    for (unsigned i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)('a' + i % 26);
    send_full(d, &f, 0, 6, 0, DEC_TCP_ACK, big, 3000, 3000, T0);
    assert_int_equal(plog[P_TCP].len, 3000);
    assert_false(plog[P_TCP].stream_full);
    send_full(d, &f, 0, 6, 3000, DEC_TCP_ACK, big, 3000, 3000, T0);
    assert_int_equal(plog[P_TCP].len, DPI_STREAM_CAP);
    assert_int_equal(plog[P_TCP].new_off, 3000);
    assert_true(plog[P_TCP].stream_full);
    assert_memory_equal(plog[P_TCP].data + 3000, big, DPI_STREAM_CAP - 3000);
    /* Nothing more fits: later segments of that direction reach nobody. */
    send_full(d, &f, 0, 6, 6000, DEC_TCP_ACK, big, 10, 10, T0);
    assert_int_equal(plog[P_TCP].calls, 2);
    /* The other direction still has its whole prefix. */
    send_tcp(d, &f, 1, 9, "ok");
    assert_int_equal(plog[P_TCP].calls, 3);
    assert_int_equal(plog[P_TCP].peer_len, DPI_STREAM_CAP);
    dpi_flow_release(d, &f.df);
    dpi_free(d);
}

static void test_stream_hole_gives_up(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(1, 4, true);
    tflow_t f = flow_new(1001, 80);
    send_tcp(d, &f, 0, 100, "a");
    for (unsigned i = 0; i < DPI_MAX_PACKETS - 1; i++)
        send_tcp(d, &f, 0, 200 + i, "z");
    assert_int_equal(f.state, DPI_ST_INSPECTING);
    send_tcp(d, &f, 0, 300, "z");
    /* A hole that never fills must not hold the slot for the flow's life. */
    assert_int_equal(f.state, DPI_ST_DONE);
    assert_int_equal(f.df.inspect, DPI_NONE);
    assert_int_equal(stats.dpi_stream_gaps, DPI_MAX_PACKETS);
    tflow_t g = flow_new(1002, 80);
    send_tcp(d, &g, 0, 1, "b");
    assert_int_equal(stats.dpi_inspect_full, 0);
    dpi_flow_release(d, &f.df);
    dpi_flow_release(d, &g.df);
    dpi_free(d);
}

static void test_stream_later_fragment_ignored(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(4, 4, true);
    tflow_t f = flow_new(1001, 80);
    dec_packet_t p;
    memset(&p, 0, sizeof p);
    p.family = 4;
    p.proto = 6;
    memcpy(p.src, A4, 16);
    memcpy(p.dst, B4, 16);
    p.sport = 1001;
    p.dport = 80;
    p.payload = (const uint8_t *)"frag";
    p.payload_caplen = p.l4_payload_len = 4;
    p.frag = DEC_FRAG_LATER;
    dpi_packet(d, &f.df, &f.state, &f.proto, 0, T0, &p, &stats);
    assert_int_equal(plog[P_TCP].calls, 0);
    dpi_flow_release(d, &f.df);
    dpi_free(d);
}

/* ---- the dissector loop ------------------------------------------------------------------ */

static void test_loop_transport_and_no(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(4, 4, true);
    tflow_t u = flow_new(5000, 53);
    send_udp(d, &u, 0, "query");
    assert_int_equal(plog[P_TCP].calls, 0);
    assert_int_equal(plog[P_BOTH].calls, 1);
    assert_int_equal(plog[P_UDP].calls, 1);
    assert_false(plog[P_UDP].buf_null);
    assert_int_equal(plog[P_UDP].peer_len, 0);
    assert_data(P_UDP, "query"); /* a datagram, not a stream */
    pverdict[P_BOTH] = DPI_NO;
    send_udp(d, &u, 1, "answer");
    assert_data(P_UDP, "answer");
    assert_int_equal(plog[P_UDP].pkts[0], 1);
    pverdict[P_BOTH] = DPI_MAYBE;
    send_udp(d, &u, 0, "again");
    assert_int_equal(plog[P_BOTH].calls, 2); /* DPI_NO: never asked again */
    assert_int_equal(plog[P_UDP].calls, 3);
    pverdict[P_UDP] = DPI_NO;
    send_udp(d, &u, 0, "last");
    /* No candidate left: inspection ends, unidentified. */
    assert_int_equal(u.state, DPI_ST_DONE);
    assert_int_equal(u.proto, OC_PROTO_UNKNOWN);
    assert_int_equal(u.df.inspect, DPI_NONE);
    assert_int_equal(stats.dpi_flows_identified, 0);
    dpi_flow_release(d, &u.df);
    dpi_free(d);
}

static void test_loop_match_more_owner(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(4, 4, true);
    tflow_t f = flow_new(1001, 80);
    pverdict[P_BOTH] = DPI_MATCH_MORE;
    pproto[P_BOTH] = OC_PROTO_SMTP;
    send_tcp(d, &f, 0, 1, "EHLO x\r\n");
    assert_int_equal(f.proto, OC_PROTO_SMTP);
    assert_int_equal(f.state, DPI_ST_INSPECTING);
    assert_int_equal(plog[P_TCP].calls, 0); /* the loop stops at the first match */
    assert_int_equal(stats.dpi_flows_identified, 1);
    /* Only the owner is called now, with the label so far; it may refine it. */
    pproto[P_BOTH] = OC_PROTO_SMTPS;
    send_tcp(d, &f, 1, 1, "220 go ahead\r\n");
    assert_int_equal(plog[P_BOTH].calls, 2);
    assert_int_equal(plog[P_BOTH].proto_in, OC_PROTO_SMTP);
    assert_int_equal(plog[P_TCP].calls, 0);
    assert_int_equal(f.proto, OC_PROTO_SMTPS);
    /* DPI_NO from the owner ends inspection and keeps the label. */
    pverdict[P_BOTH] = DPI_NO;
    send_tcp(d, &f, 0, 9, "x");
    assert_int_equal(f.state, DPI_ST_DONE);
    assert_int_equal(f.proto, OC_PROTO_SMTPS);
    assert_int_equal(f.df.inspect, DPI_NONE);
    assert_int_equal(stats.dpi_flows_identified, 1); /* counted once */
    dpi_flow_release(d, &f.df);
    dpi_free(d);
}

static void test_loop_packet_budget(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(4, 4, true);
    tflow_t f = flow_new(1001, 80);
    for (unsigned i = 0; i < DPI_MAX_PACKETS - 1; i++)
        send_udp(d, &f, i % 2, "?");
    assert_int_equal(f.state, DPI_ST_INSPECTING);
    send_udp(d, &f, 0, "?");
    assert_int_equal(f.state, DPI_ST_DONE);
    assert_int_equal(plog[P_BOTH].calls, DPI_MAX_PACKETS);
    assert_int_equal(f.df.inspect, DPI_NONE);
    /* The budget holds for an owner too. */
    tflow_t g = flow_new(1002, 80);
    pverdict[P_BOTH] = DPI_MATCH_MORE;
    pproto[P_BOTH] = OC_PROTO_SIP;
    for (unsigned i = 0; i < DPI_MAX_PACKETS; i++)
        send_udp(d, &g, 0, "?");
    assert_int_equal(g.state, DPI_ST_DONE);
    assert_int_equal(g.proto, OC_PROTO_SIP);
    dpi_flow_release(d, &f.df);
    dpi_flow_release(d, &g.df);
    dpi_free(d);
}

static void test_loop_not_tcp_udp(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(4, 4, true);
    tflow_t f = flow_new(0, 0);
    send_full(d, &f, 0, 1, 0, 0, "ping", 4, 4, T0);
    assert_int_equal(f.state, DPI_ST_DONE);
    assert_int_equal(f.df.inspect, DPI_NONE);
    assert_int_equal(plog[P_BOTH].calls, 0);
    dpi_free(d);
}

/* ---- announced connections ------------------------------------------------------------- */

static void announce(dpi_t *d, uint64_t ts, const uint8_t *addr, uint16_t port, uint8_t l4,
                     oc_protocol_t proto)
{
    dpi_ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.dpi = d;
    ctx.ts_us = ts;
    dpi_expect(&ctx, 4, addr, port, l4, proto);
}

static void test_expect_either_side(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(4, 4, true);
    static const uint8_t C[16] = {192, 0, 2, 7};
    announce(d, T0, C, 20000, 6, OC_PROTO_FTP_DATA);
    /* The announced endpoint as the destination; the SYN (no payload) already gets it. */
    tflow_t f = flow_new(40000, 20000);
    f.saddr = C;
    send_full(d, &f, 0, 6, 1, DEC_TCP_SYN, NULL, 0, 0, T0 + SEC);
    assert_int_equal(f.state, DPI_ST_DONE);
    assert_int_equal(f.proto, OC_PROTO_FTP_DATA);
    assert_int_equal(f.df.inspect, DPI_NONE);
    assert_int_equal(plog[P_BOTH].calls, 0);
    assert_int_equal(stats.dpi_flows_identified, 1);
    /* Used up: a second flow to the same endpoint is inspected as usual. */
    tflow_t g = flow_new(40001, 20000);
    g.saddr = C;
    send_tcp(d, &g, 0, 1, "x");
    assert_int_equal(g.proto, OC_PROTO_UNKNOWN);
    assert_int_equal(g.state, DPI_ST_INSPECTING);
    /* The announced endpoint as the source (active FTP: the server connects out). */
    announce(d, T0, C, 20001, 6, OC_PROTO_FTP_DATA);
    tflow_t h = flow_new(20001, 5555);
    h.caddr = C;
    send_tcp(d, &h, 0, 1, "data");
    assert_int_equal(h.proto, OC_PROTO_FTP_DATA);
    assert_int_equal(h.state, DPI_ST_DONE);
    dpi_flow_release(d, &f.df);
    dpi_flow_release(d, &g.df);
    dpi_flow_release(d, &h.df);
    dpi_free(d);
}

static void test_expect_mismatch(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(4, 4, true);
    static const uint8_t C[16] = {192, 0, 2, 7}, D[16] = {192, 0, 2, 8};
    announce(d, T0, C, 7078, 17, OC_PROTO_RTP);
    tflow_t tcp = flow_new(7078, 9); /* right endpoint, wrong transport */
    tcp.caddr = C;
    send_tcp(d, &tcp, 0, 1, "x");
    assert_int_equal(tcp.proto, OC_PROTO_UNKNOWN);
    tflow_t other = flow_new(7078, 9); /* right port, other address */
    other.caddr = D;
    send_udp(d, &other, 0, "x");
    assert_int_equal(other.proto, OC_PROTO_UNKNOWN);
    tflow_t port = flow_new(7079, 9); /* right address, other port */
    port.caddr = C;
    send_udp(d, &port, 0, "x");
    assert_int_equal(port.proto, OC_PROTO_UNKNOWN);
    tflow_t ok = flow_new(7078, 9);
    ok.caddr = C;
    send_udp(d, &ok, 0, "x");
    assert_int_equal(ok.proto, OC_PROTO_RTP);
    /* Port 0 announces nothing. */
    announce(d, T0, C, 0, 17, OC_PROTO_RTP);
    tflow_t zero = flow_new(0, 9);
    zero.caddr = C;
    send_udp(d, &zero, 0, "x");
    assert_int_equal(zero.proto, OC_PROTO_UNKNOWN);
    dpi_flow_release(d, &tcp.df);
    dpi_flow_release(d, &other.df);
    dpi_flow_release(d, &port.df);
    dpi_flow_release(d, &zero.df);
    dpi_free(d);
}

static void test_expect_timeout(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(4, 4, true);
    static const uint8_t C[16] = {192, 0, 2, 7};
    announce(d, T0, C, 30000, 6, OC_PROTO_FTP_DATA);
    announce(d, T0, C, 30001, 6, OC_PROTO_FTP_DATA);
    /* Still valid at exactly DPI_EXPECT_TIMEOUT_S ... */
    tflow_t f = flow_new(40000, 30000);
    f.saddr = C;
    send_full(d, &f, 0, 6, 1, DEC_TCP_SYN, NULL, 0, 0, T0 + DPI_EXPECT_TIMEOUT_S * SEC);
    assert_int_equal(f.proto, OC_PROTO_FTP_DATA);
    /* ... and gone a microsecond later. */
    tflow_t g = flow_new(40001, 30001);
    g.saddr = C;
    send_full(d, &g, 0, 6, 1, DEC_TCP_SYN, NULL, 0, 0, T0 + DPI_EXPECT_TIMEOUT_S * SEC + 1);
    assert_int_equal(g.proto, OC_PROTO_UNKNOWN);
    assert_int_equal(g.state, DPI_ST_NEW); /* no payload yet: nothing else happened */
    dpi_flow_release(d, &g.df);
    dpi_free(d);
}

static void test_expect_table_full(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(4, 4, true);
    static const uint8_t C[16] = {192, 0, 2, 7};
    /* More announcements than the table holds: the oldest give way, the newest stay. */
    for (unsigned i = 0; i < 1000; i++)
        announce(d, T0, C, (uint16_t)(10000 + i), 17, OC_PROTO_RTP);
    tflow_t old = flow_new(10000, 9);
    old.caddr = C;
    send_udp(d, &old, 0, "x");
    assert_int_equal(old.proto, OC_PROTO_UNKNOWN);
    tflow_t newest = flow_new(10999, 9);
    newest.caddr = C;
    send_udp(d, &newest, 0, "x");
    assert_int_equal(newest.proto, OC_PROTO_RTP);
    dpi_flow_release(d, &old.df);
    dpi_free(d);
}

/* ---- field helpers --------------------------------------------------------------------- */

static oc_fields_t fbuf;

static dpi_ctx_t field_ctx(void)
{
    dpi_ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    memset(&fbuf, 0, sizeof fbuf);
    ctx.fields = &fbuf;
    return ctx;
}

static void assert_field(oc_field_t f, const void *want, size_t n)
{
    assert_int_equal(fbuf.len[f], n);
    assert_memory_equal(fbuf.buf + fbuf.off[f], want, n);
}

static void test_field_first_wins(void **state)
{
    (void)state;
    dpi_ctx_t ctx = field_ctx();
    assert_false(dpi_field_has(&ctx, OC_FIELD_SMTP_HELO));
    assert_true(dpi_field_set(&ctx, OC_FIELD_SMTP_HELO, "mx1", 3));
    assert_false(dpi_field_set(&ctx, OC_FIELD_SMTP_HELO, "mx2.example", 11));
    assert_true(dpi_field_has(&ctx, OC_FIELD_SMTP_HELO));
    assert_field(OC_FIELD_SMTP_HELO, "mx1", 3);
    assert_int_equal(fbuf.used, 3);
    assert_true(dpi_field_set_str(&ctx, OC_FIELD_SIP_METHOD, "INVITE"));
    assert_field(OC_FIELD_SIP_METHOD, "INVITE", 6);
    assert_true(dpi_field_set_uint(&ctx, OC_FIELD_HTTP_STATUS, 404));
    assert_field(OC_FIELD_HTTP_STATUS, "404", 3);
    assert_true(dpi_field_set_uint(&ctx, OC_FIELD_QUIC_VERSION, UINT64_MAX));
    assert_field(OC_FIELD_QUIC_VERSION, "18446744073709551615", 20);
    /* Empty values, unknown fields and a flow without field memory store nothing. */
    assert_false(dpi_field_set(&ctx, OC_FIELD_SMTP_TO, "", 0));
    assert_false(dpi_field_has(&ctx, OC_FIELD_SMTP_TO));
    assert_false(dpi_field_set(&ctx, OC_FIELD_N, "x", 1));
    assert_false(dpi_field_replace(&ctx, OC_FIELD_N, "x", 1));
    assert_false(dpi_field_has(&ctx, OC_FIELD_N));
    dpi_ctx_t none;
    memset(&none, 0, sizeof none);
    assert_false(dpi_field_set(&none, OC_FIELD_SMTP_TO, "x", 1));
    assert_false(dpi_field_replace(&none, OC_FIELD_SMTP_TO, "x", 1));
    assert_false(dpi_field_set_uint(&none, OC_FIELD_HTTP_STATUS, 1));
    assert_false(dpi_field_has(&none, OC_FIELD_SMTP_TO));
}

static void test_field_truncation_and_room(void **state)
{
    (void)state;
    static char big[2000];
    memset(big, 'x', sizeof big);
    big[OC_FIELD_MAX_LEN - 1] = 'L'; /* the last byte kept */
    dpi_ctx_t ctx = field_ctx();
    assert_true(dpi_field_set(&ctx, OC_FIELD_HTTP_TARGET, big, 600));
    assert_int_equal(fbuf.len[OC_FIELD_HTTP_TARGET], OC_FIELD_MAX_LEN);
    assert_int_equal(fbuf.buf[fbuf.off[OC_FIELD_HTTP_TARGET] + OC_FIELD_MAX_LEN - 1], 'L');
    assert_true(dpi_field_set(&ctx, OC_FIELD_HTTP_USER_AGENT, big, OC_FIELD_MAX_LEN));
    assert_true(dpi_field_set(&ctx, OC_FIELD_HTTP_HOST, big, 100));
    size_t room = OC_FIELDS_BYTES - 2 * OC_FIELD_MAX_LEN - 100;
    assert_int_equal(fbuf.used, OC_FIELDS_BYTES - room);
    /* Cut to the room left ... */
    assert_true(dpi_field_set(&ctx, OC_FIELD_TLS_SNI, big, 2000));
    assert_int_equal(fbuf.len[OC_FIELD_TLS_SNI], room);
    assert_int_equal(fbuf.used, OC_FIELDS_BYTES);
    /* ... and then nothing fits. */
    assert_false(dpi_field_set(&ctx, OC_FIELD_DNS_QNAME, "a", 1));
    assert_false(dpi_field_has(&ctx, OC_FIELD_DNS_QNAME));
    /* A replacement no longer than the old value still fits in its place. */
    assert_true(dpi_field_replace(&ctx, OC_FIELD_HTTP_HOST, "short", 5));
    assert_field(OC_FIELD_HTTP_HOST, "short", 5);
    assert_int_equal(fbuf.used, OC_FIELDS_BYTES);
    /* A longer one does not: the field is dropped rather than left stale. */
    assert_false(dpi_field_replace(&ctx, OC_FIELD_HTTP_HOST, big, 200));
    assert_false(dpi_field_has(&ctx, OC_FIELD_HTTP_HOST));
}

static void test_field_replace(void **state)
{
    (void)state;
    dpi_ctx_t ctx = field_ctx();
    /* Replacing an absent field sets it. */
    assert_true(dpi_field_replace(&ctx, OC_FIELD_TLS_VERSION, "TLSv1.2", 7));
    assert_field(OC_FIELD_TLS_VERSION, "TLSv1.2", 7);
    assert_true(dpi_field_set(&ctx, OC_FIELD_TLS_ALPN, "h2", 2));
    /* Shorter: in place, no space used. */
    assert_true(dpi_field_replace(&ctx, OC_FIELD_TLS_VERSION, "SSLv3", 5));
    assert_field(OC_FIELD_TLS_VERSION, "SSLv3", 5);
    assert_int_equal(fbuf.used, 9);
    /* Longer: stored anew at the end; the other field is untouched. */
    assert_true(dpi_field_replace(&ctx, OC_FIELD_TLS_VERSION, "TLSv1.3-draft", 13));
    assert_field(OC_FIELD_TLS_VERSION, "TLSv1.3-draft", 13);
    assert_int_equal(fbuf.off[OC_FIELD_TLS_VERSION], 9);
    assert_int_equal(fbuf.used, 22);
    assert_field(OC_FIELD_TLS_ALPN, "h2", 2);
    /* Cut like a set: at OC_FIELD_MAX_LEN. */
    static char big[700];
    memset(big, 'v', sizeof big);
    assert_true(dpi_field_replace(&ctx, OC_FIELD_TLS_ALPN, big, sizeof big));
    assert_int_equal(fbuf.len[OC_FIELD_TLS_ALPN], OC_FIELD_MAX_LEN);
    /* Replacing with an empty value removes the field. */
    assert_false(dpi_field_replace(&ctx, OC_FIELD_TLS_VERSION, "", 0));
    assert_false(dpi_field_has(&ctx, OC_FIELD_TLS_VERSION));
}

/* ---- text helpers ---------------------------------------------------------------------- */

static long line_len(const char *s, size_t len)
{
    return dpi_line_len((const uint8_t *)s, len);
}

static void test_line_len(void **state)
{
    (void)state;
    assert_int_equal(line_len("abc\r\nrest", 9), 3);
    assert_int_equal(line_len("abc\nrest", 8), 3);
    assert_int_equal(line_len("\r\n", 2), 0);
    assert_int_equal(line_len("\n", 1), 0);
    assert_int_equal(line_len("a\rb\n", 4), 3); /* a CR inside the line is part of it */
    /* No line end inside the bounds: the line is incomplete, whatever follows. */
    assert_int_equal(line_len("abc", 3), -1);
    assert_int_equal(line_len("abc\r", 4), -1);
    assert_int_equal(line_len("abc\r\n", 3), -1);
    assert_int_equal(line_len("abc\r\n", 4), -1);
    assert_int_equal(line_len("", 0), -1);
}

static bool header(const char *msg, const char *name, const char *want)
{
    const uint8_t *v = NULL;
    size_t n = 0;
    bool found = dpi_header_find((const uint8_t *)msg, strlen(msg), name, &v, &n);
    if (!found)
        return want == NULL;
    return want != NULL && n == strlen(want) && memcmp(v, want, n) == 0 &&
           v >= (const uint8_t *)msg && v + n <= (const uint8_t *)msg + strlen(msg);
}

static void test_header_find(void **state)
{
    (void)state;
    const char *m = "Host: www.example.com\r\n"
                    "user-agent: \t curl/8.0 \t\r\n"
                    "Hostname: nope\r\n"
                    "X-Empty:\r\n"
                    "Lf-Only: yes\n"
                    "\r\n"
                    "After: body\r\n";
    assert_true(header(m, "Host", "www.example.com"));
    assert_true(header(m, "HOST", "www.example.com"));
    assert_true(header(m, "User-Agent", "curl/8.0"));
    assert_true(header(m, "Hostname", "nope"));
    assert_true(header(m, "X-Empty", ""));
    assert_true(header(m, "Lf-Only", "yes"));
    assert_true(header(m, "Hos", NULL));   /* a prefix of a name is not the name */
    assert_true(header(m, "After", NULL)); /* the body is not headers */
    assert_true(header(m, "Missing", NULL));
    /* Only complete lines count: the last header has no line end yet. */
    assert_true(header("Accept: */*\r\nHost: cut.exam", "Host", NULL));
    assert_true(header("Accept: */*\r\nHost: whole\r\n", "Host", "whole"));
    assert_true(header("Host: no-end-at-all", "Host", NULL));
    assert_true(header("", "Host", NULL));
    assert_true(header("Host", "Host", NULL));
    assert_true(header("Host\r\n", "Host", NULL));
    assert_true(header("Host:\r\n", "Host", ""));
    assert_true(header(":\r\nHost: a\r\n", "Host", "a"));
    /* A header name inside a value is not a header. */
    assert_true(header("X: Host: fake\r\n", "Host", NULL));
}

static void test_starts_with_ci(void **state)
{
    (void)state;
    assert_true(dpi_starts_with_ci((const uint8_t *)"GET /", 5, "get "));
    assert_true(dpi_starts_with_ci((const uint8_t *)"ehlo x", 6, "EHLO"));
    assert_false(dpi_starts_with_ci((const uint8_t *)"GE", 2, "GET"));
    assert_false(dpi_starts_with_ci((const uint8_t *)"GET", 3, "PUT"));
    assert_true(dpi_starts_with_ci((const uint8_t *)"", 0, ""));
    assert_false(dpi_starts_with_ci((const uint8_t *)"[", 1, "{")); /* '[' + 32 is '{' */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_inspect_full),
        cmocka_unit_test(test_pool_fields_full),
        cmocka_unit_test(test_pool_fields_off),
        cmocka_unit_test(test_pool_slots_back_on_finish),
        cmocka_unit_test(test_pool_slots_back_on_release),
        cmocka_unit_test(test_pool_zero_slots),
        cmocka_unit_test(test_stream_in_order),
        cmocka_unit_test(test_stream_out_of_order_dropped),
        cmocka_unit_test(test_stream_retransmission_trimmed),
        cmocka_unit_test(test_stream_sequence_wrap),
        cmocka_unit_test(test_stream_syn_data),
        cmocka_unit_test(test_stream_snap_cut_leaves_hole),
        cmocka_unit_test(test_stream_cap),
        cmocka_unit_test(test_stream_hole_gives_up),
        cmocka_unit_test(test_stream_later_fragment_ignored),
        cmocka_unit_test(test_loop_transport_and_no),
        cmocka_unit_test(test_loop_match_more_owner),
        cmocka_unit_test(test_loop_packet_budget),
        cmocka_unit_test(test_loop_not_tcp_udp),
        cmocka_unit_test(test_expect_either_side),
        cmocka_unit_test(test_expect_mismatch),
        cmocka_unit_test(test_expect_timeout),
        cmocka_unit_test(test_expect_table_full),
        cmocka_unit_test(test_field_first_wins),
        cmocka_unit_test(test_field_truncation_and_room),
        cmocka_unit_test(test_field_replace),
        cmocka_unit_test(test_line_len),
        cmocka_unit_test(test_header_find),
        cmocka_unit_test(test_starts_with_ci),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
