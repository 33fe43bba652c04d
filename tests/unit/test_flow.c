/*
 * Unit tests of the flow engine through its public API: keys and orientation, every
 * statistic, each end reason, linger and port reuse, table eviction, the clock, and the flow
 * table's backward-shift deletion. Expected values are computed here from the packets the
 * test builds, never read back from the engine.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>

#include <ocellus/ocellus.h>

#include "flow/flow.h"
#include "pktbuild.h"

#define S(x) ((uint64_t)(x) * 1000000u)
#define MAX_RECS 256

typedef struct {
    oc_flow_info_t recs[MAX_RECS];
    int n;
    int stop_after; /* ask to stop after this many records; 0 = never */
} sink_t;

static int collect(const oc_flow_info_t *info, void *user)
{
    sink_t *s = user;
    assert_true(s->n < MAX_RECS);
    s->recs[s->n++] = *info;
    return s->stop_after > 0 && s->n >= s->stop_after;
}

typedef struct {
    oc_engine_t *e;
    sink_t sink;
} fix_t;

static fix_t *fix_new(uint32_t max_flows, uint32_t idle, uint32_t active)
{
    fix_t *f = calloc(1, sizeof *f);
    oc_config_t cfg;
    oc_config_init(&cfg);
    cfg.max_flows = max_flows;
    cfg.idle_timeout_s = idle;
    cfg.active_timeout_s = active;
    cfg.hash_seed = 12345;
    f->e = oc_engine_new(&cfg, NULL, 0);
    assert_non_null(f->e);
    oc_engine_set_termination_cb(f->e, collect, &f->sink);
    return f;
}

static void fix_free(fix_t *f)
{
    oc_engine_free(f->e);
    free(f);
}

static oc_status_t send_pkt(fix_t *f, uint64_t ts, const pb_spec_t *s, oc_packet_info_t *pi)
{
    uint8_t buf[2048];
    uint32_t len = pb_build(s, buf);
    return oc_engine_process(f->e, ts, buf, len, len, OC_LINK_ETHERNET, pi);
}

/* TCP segment helpers: a = client 10.0.0.1:1000, b = server 10.0.0.2:80 */
static pb_spec_t seg(bool from_client, uint8_t flags, uint32_t seq, uint32_t ack, uint32_t len)
{
    pb_spec_t s = pb_default();
    if (!from_client) {
        s.src = "10.0.0.2";
        s.dst = "10.0.0.1";
        s.sport = 80;
        s.dport = 1000;
    }
    s.tcp_flags = flags;
    s.seq = seq;
    s.ack = ack;
    s.payload_len = len;
    return s;
}

enum { FIN = 1, SYN = 2, RST = 4, PSH = 8, ACK = 16 };

static void assert_endpoint(const oc_flow_info_t *r, const char *src, uint16_t sport)
{
    uint8_t a[4];
    assert_int_equal(r->key.family, OC_FAMILY_IPV4);
    assert_int_equal(inet_pton(AF_INET, src, a), 1);
    assert_memory_equal(r->key.src_addr, a, 4);
    assert_int_equal(r->key.src_port, sport);
}

/* Full connection: handshake, data both ways, FIN/ACK/FIN/ACK, then linger. */
static void test_flow_tcp_close_statistics(void **state)
{
    (void)state;
    fix_t *f = fix_new(1024, 30, 300);
    pb_spec_t p[8];
    p[0] = seg(true, SYN, 100, 0, 0);
    p[0].wscale = 7;
    p[1] = seg(false, SYN | ACK, 500, 101, 0);
    p[1].wscale = 8;
    p[2] = seg(true, ACK, 101, 501, 0);
    p[3] = seg(true, PSH | ACK, 101, 501, 300);
    p[4] = seg(false, PSH | ACK, 501, 401, 1200);
    p[5] = seg(true, FIN | ACK, 401, 1701, 0);
    p[6] = seg(false, FIN | ACK, 1701, 402, 0);
    p[7] = seg(true, ACK, 402, 1702, 0);
    uint64_t t0 = S(1000);
    uint64_t ts[8] = {t0, t0 + 2000, t0 + 2500, t0 + 3000, t0 + 9000, t0 + 10000, t0 + 11000, t0 + 11500};
    uint64_t oct[2] = {0, 0};
    for (int i = 0; i < 8; i++) {
        oc_packet_info_t pi;
        assert_int_equal(send_pkt(f, ts[i], &p[i], &pi), OC_STATUS_OK);
        bool client = p[i].sport == 1000;
        assert_int_equal(pi.direction, client ? OC_DIRECTION_OUTBOUND : OC_DIRECTION_INBOUND);
        assert_int_equal(pi.new_flow, i == 0);
        oct[client ? 0 : 1] += pb_ip_octets(&p[i]);
    }
    /* Closed, but lingering: not ended yet. */
    assert_int_equal(f->sink.n, 0);
    oc_engine_advance(f->e, ts[7] + S(2) - 1);
    assert_int_equal(f->sink.n, 0);
    oc_engine_advance(f->e, ts[7] + S(2));
    assert_int_equal(f->sink.n, 1);

    const oc_flow_info_t *r = &f->sink.recs[0];
    const int64_t(*st)[2] = r->statistics;
    assert_int_equal(r->end_reason, OC_END_TCP);
    assert_endpoint(r, "10.0.0.1", 1000);
    assert_int_equal(r->key.dst_port, 80);
    assert_int_equal(r->key.protocol, 6);
    assert_int_equal(st[OC_STAT_PACKETS][0], 5);
    assert_int_equal(st[OC_STAT_PACKETS][1], 3);
    assert_int_equal(st[OC_STAT_OCTETS][0], oct[0]);
    assert_int_equal(st[OC_STAT_OCTETS][1], oct[1]);
    assert_int_equal(st[OC_STAT_TIMESTAMP_FIRST][0], ts[0]);
    assert_int_equal(st[OC_STAT_TIMESTAMP_LAST][0], ts[7]);
    assert_int_equal(st[OC_STAT_TIMESTAMP_FIRST][1], ts[1]);
    assert_int_equal(st[OC_STAT_TIMESTAMP_LAST][1], ts[6]);
    assert_int_equal(st[OC_STAT_TCP_FLAGS_INITIAL][0], SYN);
    assert_int_equal(st[OC_STAT_TCP_FLAGS_INITIAL][1], SYN | ACK);
    assert_int_equal(st[OC_STAT_TCP_FLAGS_UNION][0], SYN | ACK | PSH | FIN);
    assert_int_equal(st[OC_STAT_TCP_FLAGS_UNION][1], SYN | ACK | PSH | FIN);
    assert_int_equal(st[OC_STAT_TCP_SYN][0], 1);
    assert_int_equal(st[OC_STAT_TCP_SYN][1], 1);
    assert_int_equal(st[OC_STAT_TCP_FIN][0], 1);
    assert_int_equal(st[OC_STAT_TCP_FIN][1], 1);
    assert_int_equal(st[OC_STAT_TCP_RST][0], 0);
    assert_int_equal(st[OC_STAT_TCP_RETRANSMISSIONS][0], 0);
    assert_int_equal(st[OC_STAT_TCP_RETRANSMISSIONS][1], 0);
    assert_int_equal(st[OC_STAT_TCP_ZERO_WINDOW][0], 0);
    assert_int_equal(st[OC_STAT_TCP_WINDOW_SCALE][0], 7);
    assert_int_equal(st[OC_STAT_TCP_WINDOW_SCALE][1], 8);
    assert_int_equal(st[OC_STAT_TCP_RTT][0], 2000);
    assert_int_equal(st[OC_STAT_TCP_RTT][1], 500);
    assert_int_equal(st[OC_STAT_L7_PACKETS][0], 1);
    assert_int_equal(st[OC_STAT_L7_OCTETS][0], 300);
    assert_int_equal(st[OC_STAT_L7_PACKETS][1], 1);
    assert_int_equal(st[OC_STAT_L7_OCTETS][1], 1200);
    assert_int_equal(r->icmp_type_code[0], -1);
    fix_free(f);
}

/* The handshake RTT is taken before any FIN: a server that answers SYN/ACK+FIN leaves the
 * client's half unmeasured, and the close still needs the ACK of the last FIN (whose
 * sequence number shares storage with the handshake time). */
static void test_flow_fin_before_handshake_ends_rtt(void **state)
{
    (void)state;
    fix_t *f = fix_new(1024, 30, 300);
    pb_spec_t p[4];
    p[0] = seg(true, SYN, 100, 0, 0);
    p[1] = seg(false, SYN | ACK | FIN, 500, 101, 0);
    p[2] = seg(true, FIN | ACK, 101, 502, 0);
    p[3] = seg(false, ACK, 502, 102, 0);
    uint64_t t0 = S(50);
    uint64_t ts[4] = {t0, t0 + 700, t0 + 900, t0 + 1000};
    for (int i = 0; i < 4; i++)
        assert_int_equal(send_pkt(f, ts[i], &p[i], NULL), OC_STATUS_OK);
    oc_engine_advance(f->e, ts[3] + S(2) - 1);
    assert_int_equal(f->sink.n, 0);
    oc_engine_advance(f->e, ts[3] + S(2)); /* closed by the last packet, linger over */
    assert_int_equal(f->sink.n, 1);
    const int64_t(*st)[2] = f->sink.recs[0].statistics;
    assert_int_equal(f->sink.recs[0].end_reason, OC_END_TCP);
    assert_int_equal(st[OC_STAT_TCP_RTT][OC_DIRECTION_OUTBOUND], 700);
    assert_int_equal(st[OC_STAT_TCP_RTT][OC_DIRECTION_INBOUND], -1);
    fix_free(f);
}

/* Trailing packets during the linger count in the flow; a SYN during the linger starts a
 * new flow and ends the old one at once; after the linger the same ports make a new flow. */
static void test_flow_linger_trailing_and_port_reuse(void **state)
{
    (void)state;
    fix_t *f = fix_new(1024, 30, 300);
    uint64_t t = S(50);
    pb_spec_t a = seg(true, FIN | ACK, 10, 20, 0);
    pb_spec_t b = seg(false, FIN | ACK, 20, 11, 0);
    pb_spec_t c = seg(true, ACK, 11, 21, 0);
    send_pkt(f, t, &a, NULL);
    send_pkt(f, t + 10, &b, NULL);
    send_pkt(f, t + 20, &c, NULL);   /* closes */
    send_pkt(f, t + S(1), &b, NULL); /* retransmitted FIN inside the linger */
    assert_int_equal(f->sink.n, 0);
    pb_spec_t syn = seg(true, SYN, 1000, 0, 0);
    oc_packet_info_t pi;
    send_pkt(f, t + S(1) + 5, &syn, &pi);
    assert_true(pi.new_flow);
    assert_int_equal(f->sink.n, 1);
    assert_int_equal(f->sink.recs[0].end_reason, OC_END_TCP);
    assert_int_equal(f->sink.recs[0].statistics[OC_STAT_PACKETS][0], 2);
    assert_int_equal(f->sink.recs[0].statistics[OC_STAT_PACKETS][1], 2);
    assert_int_equal(f->sink.recs[0].statistics[OC_STAT_TCP_FIN][1], 2);
    assert_int_equal(f->sink.recs[0].statistics[OC_STAT_TCP_RETRANSMISSIONS][1], 1);

    /* The new connection closes with RST and, after the linger, the 5-tuple is reused. */
    pb_spec_t rst = seg(false, RST | ACK, 0, 1001, 0);
    send_pkt(f, t + S(2), &rst, NULL);
    send_pkt(f, t + S(5), &syn, &pi); /* linger over: the clock ends the old flow first */
    assert_true(pi.new_flow);
    assert_int_equal(f->sink.n, 2);
    assert_int_equal(f->sink.recs[1].end_reason, OC_END_TCP);
    assert_int_equal(f->sink.recs[1].statistics[OC_STAT_TCP_RST][1], 1);
    assert_int_equal(f->sink.recs[1].statistics[OC_STAT_PACKETS][0], 1);
    assert_true(f->sink.recs[1].id != f->sink.recs[0].id);
    oc_engine_flush(f->e);
    assert_int_equal(f->sink.n, 3);
    assert_int_equal(f->sink.recs[2].end_reason, OC_END_FORCED);
    fix_free(f);
}

/* FIN both ways is not enough: the last FIN must be acknowledged. */
static void test_flow_fin_needs_ack_of_last_fin(void **state)
{
    (void)state;
    fix_t *f = fix_new(1024, 30, 300);
    pb_spec_t a = seg(true, FIN | ACK, 10, 20, 0);
    pb_spec_t b = seg(false, FIN | ACK, 20, 11, 0);
    pb_spec_t stale = seg(true, ACK, 11, 20, 0); /* acks data, not the FIN */
    send_pkt(f, S(1), &a, NULL);
    send_pkt(f, S(1) + 1, &b, NULL);
    send_pkt(f, S(1) + 2, &stale, NULL);
    oc_engine_advance(f->e, S(10));
    assert_int_equal(f->sink.n, 0);
    oc_engine_advance(f->e, S(1) + 2 + S(30));
    assert_int_equal(f->sink.n, 1);
    assert_int_equal(f->sink.recs[0].end_reason, OC_END_IDLE);
    fix_free(f);
}

static void test_flow_synack_first_orientation(void **state)
{
    (void)state;
    fix_t *f = fix_new(1024, 30, 300);
    pb_spec_t sa = seg(false, SYN | ACK, 500, 101, 0);
    pb_spec_t ack = seg(true, ACK, 101, 501, 0);
    oc_packet_info_t pi;
    send_pkt(f, S(1), &sa, &pi);
    assert_int_equal(pi.direction, OC_DIRECTION_INBOUND);
    send_pkt(f, S(1) + 100, &ack, &pi);
    assert_int_equal(pi.direction, OC_DIRECTION_OUTBOUND);
    const oc_flow_info_t *v = oc_engine_packet_flow(f->e);
    assert_non_null(v);
    assert_endpoint(v, "10.0.0.1", 1000);
    assert_int_equal(v->statistics[OC_STAT_PACKETS][OC_DIRECTION_INBOUND], 1);
    assert_int_equal(v->statistics[OC_STAT_PACKETS][OC_DIRECTION_OUTBOUND], 1);
    assert_int_equal(v->end_reason, OC_END_NONE);
    fix_free(f);
}

static void test_flow_idle_timeout(void **state)
{
    (void)state;
    fix_t *f = fix_new(1024, 30, 300);
    pb_spec_t u = pb_default();
    u.proto = 17;
    u.sport = 5353;
    u.dport = 53;
    u.payload_len = 40;
    send_pkt(f, S(100), &u, NULL);
    send_pkt(f, S(110), &u, NULL);
    oc_engine_advance(f->e, S(140) - 1);
    assert_int_equal(f->sink.n, 0);
    oc_engine_advance(f->e, S(140));
    assert_int_equal(f->sink.n, 1);
    assert_int_equal(f->sink.recs[0].end_reason, OC_END_IDLE);
    assert_int_equal(f->sink.recs[0].statistics[OC_STAT_PACKETS][0], 2);
    assert_int_equal(f->sink.recs[0].statistics[OC_STAT_OCTETS][0], 2 * (20 + 8 + 40));
    assert_int_equal(f->sink.recs[0].statistics[OC_STAT_L7_OCTETS][0], 80);
    /* A skipped (non-IP) packet also moves the clock. */
    send_pkt(f, S(200), &u, NULL);
    uint8_t arp[60] = {0};
    arp[12] = 0x08;
    arp[13] = 0x06;
    assert_int_equal(oc_engine_process(f->e, S(231), arp, sizeof arp, sizeof arp,
                                       OC_LINK_ETHERNET, NULL), OC_STATUS_SKIPPED);
    assert_int_equal(f->sink.n, 2);
    oc_engine_stats_t st;
    oc_engine_get_stats(f->e, &st);
    assert_int_equal(st.packets, 4);
    assert_int_equal(st.packets_attributed, 3);
    assert_int_equal(st.packets_skipped[OC_SKIP_NOT_IP], 1);
    assert_int_equal(st.records_ended[OC_END_IDLE], 2);
    fix_free(f);
}

static void test_flow_active_timeout_fresh_counters(void **state)
{
    (void)state;
    fix_t *f = fix_new(1024, 30, 60);
    pb_spec_t u = pb_default();
    u.proto = 17;
    u.payload_len = 10;
    /* One packet every 10 s from t=0 to t=150: cuts at 60 and 120. */
    for (int i = 0; i <= 15; i++)
        send_pkt(f, S(1000 + 10 * i), &u, NULL);
    assert_int_equal(f->sink.n, 2);
    assert_int_equal(f->sink.recs[0].end_reason, OC_END_ACTIVE);
    assert_int_equal(f->sink.recs[0].statistics[OC_STAT_PACKETS][0], 6); /* 0..50 */
    assert_int_equal(f->sink.recs[0].statistics[OC_STAT_TIMESTAMP_LAST][0], S(1050));
    assert_int_equal(f->sink.recs[1].statistics[OC_STAT_PACKETS][0], 6); /* 60..110 */
    assert_int_equal(f->sink.recs[1].statistics[OC_STAT_TIMESTAMP_FIRST][0], S(1060));
    assert_int_equal(f->sink.recs[0].id, f->sink.recs[1].id);
    oc_engine_flush(f->e);
    assert_int_equal(f->sink.n, 3);
    assert_int_equal(f->sink.recs[2].statistics[OC_STAT_PACKETS][0], 4); /* 120..150 */
    assert_int_equal(f->sink.recs[2].end_reason, OC_END_FORCED);
    fix_free(f);
}

/* A record emptied by an active timeout and never refilled is not reported. */
static void test_flow_active_timeout_then_idle_no_empty_record(void **state)
{
    (void)state;
    fix_t *f = fix_new(1024, 30, 20);
    pb_spec_t u = pb_default();
    u.proto = 17;
    send_pkt(f, S(10), &u, NULL);
    send_pkt(f, S(25), &u, NULL);
    oc_engine_advance(f->e, S(100));
    assert_int_equal(f->sink.n, 1);
    assert_int_equal(f->sink.recs[0].end_reason, OC_END_ACTIVE);
    assert_int_equal(f->sink.recs[0].statistics[OC_STAT_PACKETS][0], 2);
    oc_engine_stats_t st;
    oc_engine_get_stats(f->e, &st);
    assert_int_equal(st.flows_active, 0);
    fix_free(f);
}

/* The octet limit cuts a record before a direction's counter would pass it. */
static void test_flow_max_record_octets_cuts_early(void **state)
{
    (void)state;
    oc_config_t cfg;
    oc_config_init(&cfg);
    cfg.max_record_octets = 100000;
    cfg.hash_seed = 3;
    sink_t sink = {.n = 0};
    oc_engine_t *e = oc_engine_new(&cfg, NULL, 0);
    oc_engine_set_termination_cb(e, collect, &sink);
    pb_spec_t u = pb_default();
    u.proto = 17;
    u.payload_len = 1000 - 28; /* 1000 IP octets per packet */
    uint8_t buf[2048];
    uint32_t len = pb_build(&u, buf);
    for (int i = 0; i < 250; i++)
        oc_engine_process(e, S(1) + (uint64_t)i, buf, len, len, OC_LINK_ETHERNET, NULL);
    oc_engine_flush(e);
    assert_int_equal(sink.n, 3);
    assert_int_equal(sink.recs[0].end_reason, OC_END_ACTIVE);
    assert_int_equal(sink.recs[0].statistics[OC_STAT_OCTETS][0], 100000);
    assert_int_equal(sink.recs[1].statistics[OC_STAT_OCTETS][0], 100000);
    assert_int_equal(sink.recs[2].statistics[OC_STAT_OCTETS][0], 50000);
    assert_int_equal(sink.recs[2].end_reason, OC_END_FORCED);
    oc_engine_free(e);
    cfg.max_record_octets = 1000;
    assert_null(oc_engine_new(&cfg, NULL, 0));
}

/* An octet-limit cut during the linger keeps the linger: the rest ends 2 s after the close,
 * with reason 3, not after an idle timeout. */
static void test_flow_octet_cut_keeps_linger(void **state)
{
    (void)state;
    oc_config_t cfg;
    oc_config_init(&cfg);
    cfg.max_record_octets = 65535;
    cfg.hash_seed = 5;
    sink_t sink = {.n = 0};
    oc_engine_t *e = oc_engine_new(&cfg, NULL, 0);
    oc_engine_set_termination_cb(e, collect, &sink);
    uint8_t buf[2048];
    uint32_t len;
    uint64_t t = S(100);
    pb_spec_t d = seg(true, ACK, 1, 1, 1400);
    for (int i = 0; i < 40; i++) { /* 40 x 1440 octets: one cut at the limit */
        d.seq = 1 + 1400u * (uint32_t)i;
        len = pb_build(&d, buf);
        oc_engine_process(e, t++, buf, len, len, OC_LINK_ETHERNET, NULL);
    }
    pb_spec_t close[3] = {seg(true, FIN | ACK, 56001, 1, 0), seg(false, FIN | ACK, 1, 56002, 0),
                          seg(true, ACK, 56002, 2, 0)};
    for (int i = 0; i < 3; i++) {
        len = pb_build(&close[i], buf);
        oc_engine_process(e, t++, buf, len, len, OC_LINK_ETHERNET, NULL);
    }
    int before = sink.n;
    /* Retransmitted data after the close pushes the outbound octets past the limit again. */
    for (int i = 0; i < 30; i++) {
        d.seq = 1 + 1400u * (uint32_t)i;
        len = pb_build(&d, buf);
        oc_engine_process(e, t++, buf, len, len, OC_LINK_ETHERNET, NULL);
    }
    assert_int_equal(sink.n, before + 1);
    assert_int_equal(sink.recs[sink.n - 1].end_reason, OC_END_ACTIVE);
    oc_engine_advance(e, t + S(2));
    assert_int_equal(sink.n, before + 2);
    assert_int_equal(sink.recs[sink.n - 1].end_reason, OC_END_TCP);
    oc_engine_free(e);
}

static void test_flow_table_full_evicts_least_recent(void **state)
{
    (void)state;
    const uint32_t max = 16;
    fix_t *f = fix_new(max, 30, 300);
    pb_spec_t u = pb_default();
    u.proto = 17;
    for (uint32_t i = 0; i < max; i++) {
        u.sport = (uint16_t)(2000 + i);
        send_pkt(f, S(1) + i, &u, NULL);
    }
    /* Touch flow 0 again so flow 1 becomes the least recently active. */
    u.sport = 2000;
    send_pkt(f, S(1) + 100, &u, NULL);
    assert_int_equal(f->sink.n, 0);
    u.sport = 3000;
    send_pkt(f, S(1) + 200, &u, NULL);
    assert_int_equal(f->sink.n, 1);
    assert_int_equal(f->sink.recs[0].end_reason, OC_END_RESOURCES);
    assert_int_equal(f->sink.recs[0].key.src_port, 2001);
    oc_engine_stats_t st;
    oc_engine_get_stats(f->e, &st);
    assert_int_equal(st.flows_active, max);
    assert_int_equal(st.records_ended[OC_END_RESOURCES], 1);
    oc_engine_flush(f->e);
    assert_int_equal(f->sink.n, 1 + (int)max);
    fix_free(f);
}

static void test_flow_clock_never_runs_backwards(void **state)
{
    (void)state;
    fix_t *f = fix_new(1024, 30, 300);
    pb_spec_t u = pb_default();
    u.proto = 17;
    send_pkt(f, S(100), &u, NULL);
    send_pkt(f, S(90), &u, NULL); /* older than the clock */
    assert_int_equal(oc_engine_clock(f->e), S(100));
    const oc_flow_info_t *v = oc_engine_packet_flow(f->e);
    assert_int_equal(v->statistics[OC_STAT_PACKETS][0], 2);
    assert_int_equal(v->statistics[OC_STAT_TIMESTAMP_FIRST][0], S(90));
    assert_int_equal(v->statistics[OC_STAT_TIMESTAMP_LAST][0], S(100));
    /* Expiry follows the clock at arrival, not the old timestamp. */
    oc_engine_advance(f->e, S(125));
    assert_int_equal(f->sink.n, 0);
    oc_engine_advance(f->e, S(50));
    assert_int_equal(oc_engine_clock(f->e), S(125));
    oc_engine_advance(f->e, S(130));
    assert_int_equal(f->sink.n, 1);
    oc_engine_stats_t st;
    oc_engine_get_stats(f->e, &st);
    assert_int_equal(st.packets_out_of_order, 1);
    fix_free(f);
}

static void test_flow_icmp_echo_biflow_and_errors_apart(void **state)
{
    (void)state;
    fix_t *f = fix_new(1024, 30, 300);
    pb_spec_t req = pb_default();
    req.proto = 1;
    req.icmp_type = 8;
    req.icmp_id = 77;
    req.payload_len = 56;
    pb_spec_t rep = req;
    rep.src = req.dst;
    rep.dst = req.src;
    rep.icmp_type = 0;
    pb_spec_t unreach = rep;
    unreach.icmp_type = 3;
    unreach.icmp_code = 3;
    oc_packet_info_t pi;
    send_pkt(f, S(1), &req, &pi);
    assert_true(pi.new_flow);
    send_pkt(f, S(1) + 10, &rep, &pi);
    assert_false(pi.new_flow);
    assert_int_equal(pi.direction, OC_DIRECTION_INBOUND);
    send_pkt(f, S(1) + 20, &unreach, &pi);
    assert_true(pi.new_flow);
    req.icmp_id = 78; /* another ping session */
    send_pkt(f, S(1) + 30, &req, &pi);
    assert_true(pi.new_flow);
    oc_engine_flush(f->e);
    assert_int_equal(f->sink.n, 3);
    int echo = -1;
    for (int i = 0; i < 3; i++)
        if (f->sink.recs[i].statistics[OC_STAT_PACKETS][1] == 1)
            echo = i;
    assert_true(echo >= 0);
    assert_int_equal(f->sink.recs[echo].icmp_type_code[0], 8 << 8);
    assert_int_equal(f->sink.recs[echo].icmp_type_code[1], 0);
    assert_int_equal(f->sink.recs[echo].key.src_port, 0);
    fix_free(f);
}

static void test_flow_retransmission_and_zero_window(void **state)
{
    (void)state;
    fix_t *f = fix_new(1024, 30, 300);
    pb_spec_t d1 = seg(true, ACK | PSH, 1000, 1, 100);
    pb_spec_t d2 = seg(true, ACK | PSH, 1100, 1, 100);
    pb_spec_t zw = seg(false, ACK, 1, 1200, 0);
    zw.window = 0;
    send_pkt(f, S(1), &d1, NULL);
    send_pkt(f, S(1) + 1, &d2, NULL);
    send_pkt(f, S(1) + 2, &d1, NULL); /* old range again */
    send_pkt(f, S(1) + 3, &zw, NULL);
    const oc_flow_info_t *v = oc_engine_packet_flow(f->e);
    assert_int_equal(v->statistics[OC_STAT_TCP_RETRANSMISSIONS][0], 1);
    assert_int_equal(v->statistics[OC_STAT_TCP_ZERO_WINDOW][1], 1);
    assert_int_equal(v->statistics[OC_STAT_TCP_ZERO_WINDOW][0], 0);
    assert_int_equal(v->statistics[OC_STAT_TCP_WINDOW_SCALE][0], -1);
    assert_int_equal(v->statistics[OC_STAT_TCP_RTT][0], -1);
    fix_free(f);
}

static void test_flow_vlan_and_ipv6_keys(void **state)
{
    (void)state;
    fix_t *f = fix_new(1024, 30, 300);
    pb_spec_t u = pb_default();
    u.proto = 17;
    oc_packet_info_t pi;
    send_pkt(f, S(1), &u, &pi);
    assert_true(pi.new_flow);
    u.vlan = 42;
    send_pkt(f, S(1) + 1, &u, &pi);
    assert_true(pi.new_flow);
    const oc_flow_info_t *v = oc_engine_packet_flow(f->e);
    assert_int_equal(v->key.vlan_id, 42);
    pb_spec_t w = pb_default();
    w.family = 6;
    w.src = "2001:db8::2";
    w.dst = "2001:db8::1";
    w.payload_len = 5;
    send_pkt(f, S(1) + 2, &w, &pi);
    assert_true(pi.new_flow);
    v = oc_engine_packet_flow(f->e);
    assert_int_equal(v->key.family, OC_FAMILY_IPV6);
    assert_int_equal(v->statistics[OC_STAT_OCTETS][0], 40 + 20 + 5);
    uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};
    assert_memory_equal(v->key.src_addr, a, 16);
    fix_free(f);
}

static void test_flow_callback_can_stop(void **state)
{
    (void)state;
    fix_t *f = fix_new(1024, 30, 300);
    f->sink.stop_after = 1;
    pb_spec_t u = pb_default();
    u.proto = 17;
    send_pkt(f, S(1), &u, NULL);
    u.sport = 7;
    send_pkt(f, S(2), &u, NULL);
    u.sport = 8;
    /* Both flows idle out at once; both are delivered although the first asks to stop. */
    assert_int_equal(send_pkt(f, S(100), &u, NULL), OC_STATUS_STOPPED);
    assert_int_equal(f->sink.n, 2);
    assert_int_equal(send_pkt(f, S(101), &u, NULL), OC_STATUS_STOPPED);
    oc_engine_stats_t st;
    oc_engine_get_stats(f->e, &st);
    /* The packet whose clock tick ended the flows was still processed; the next was not. */
    assert_int_equal(st.packets, 3);
    assert_int_equal(st.packets_attributed, 3);
    fix_free(f);
}

static void test_flow_bad_config_rejected(void **state)
{
    (void)state;
    oc_config_t cfg;
    char err[128] = "";
    oc_config_init(&cfg);
    cfg.idle_timeout_s = 0;
    assert_null(oc_engine_new(&cfg, err, sizeof err));
    assert_non_null(strstr(err, "idle_timeout"));
    oc_config_init(&cfg);
    cfg.max_flows = 0;
    assert_null(oc_engine_new(&cfg, err, sizeof err));
    assert_non_null(strstr(err, "max_flows"));
}

/* The table against a plain model: random inserts and removals, every key found exactly
 * while present; a tiny table makes probe chains wrap and exercises backward shifting. */
static void test_flow_table_backward_shift(void **state)
{
    (void)state;
    flow_table_t t;
    enum { N = 48 };
    flow_table_init(&t, N);
    flow_key_t keys[N * 4];
    uint32_t where[N * 4];
    memset(keys, 0, sizeof keys);
    for (int i = 0; i < N * 4; i++) {
        keys[i].port[0] = (uint16_t)i;
        keys[i].proto = 17;
        where[i] = FLOW_NONE;
    }
    uint64_t rng = 88172645463325252ull;
    for (int step = 0; step < 20000; step++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        int k = (int)(rng % (N * 4));
        /* Few distinct hashes force long, colliding chains. */
        uint32_t h = (uint32_t)(k % 7) * 3u;
        if (where[k] == FLOW_NONE) {
            uint32_t idx = flow_table_insert(&t, &keys[k], h);
            if (t.used <= N && idx != FLOW_NONE)
                where[k] = idx;
        } else {
            flow_table_remove(&t, where[k], (uint32_t)(k % 7) * 3u);
            where[k] = FLOW_NONE;
        }
        if (step % 97 == 0) {
            for (int j = 0; j < N * 4; j++)
                assert_int_equal(flow_table_lookup(&t, &keys[j], (uint32_t)(j % 7) * 3u), where[j]);
        }
    }
    flow_table_clear(&t);
}

/* Packet counters are 32 bits in the flow state: a record is cut (reason active) just before
 * a direction would pass 2^32 - 1 packets, and no packet is lost from the sum. Reaching the
 * limit by sending 4 G packets would take minutes, so the test starts the counter near it. */
static void test_flow_packet_counter_cut(void **state)
{
    (void)state;
    oc_config_t cfg;
    oc_config_init(&cfg);
    cfg.max_flows = 16;
    cfg.dpi = false;
    cfg.hash_seed = 1;
    flow_engine_t e;
    flow_engine_init(&e, &cfg);
    sink_t *sink = calloc(1, sizeof *sink);
    e.cb = collect;
    e.cb_data = sink;

    pb_spec_t s = pb_default();
    s.proto = 17;
    s.payload_len = 10;
    uint8_t buf[2048];
    uint32_t len = pb_build(&s, buf);
    dec_packet_t pkt;
    assert_int_equal(dec_packet(OC_LINK_ETHERNET, buf, len, &pkt), DEC_OK);
    assert_int_equal(flow_engine_packet(&e, S(1), &pkt, NULL), OC_STATUS_OK);
    uint32_t idx = e.last_flow;
    assert_int_not_equal(idx, FLOW_NONE);
    const uint32_t start = UINT32_MAX - 2;
    e.table.flows[idx].packets[OC_DIRECTION_OUTBOUND] = start;
    e.table.cold[idx].l7_packets[OC_DIRECTION_OUTBOUND] = start;
    for (int i = 0; i < 3; i++)
        assert_int_equal(flow_engine_packet(&e, S(2) + (uint64_t)i, &pkt, NULL), OC_STATUS_OK);
    flow_engine_flush(&e);

    assert_int_equal(sink->n, 2);
    const oc_flow_info_t *cut = &sink->recs[0], *rest = &sink->recs[1];
    assert_int_equal(cut->end_reason, OC_END_ACTIVE);
    assert_true(cut->statistics[OC_STAT_PACKETS][OC_DIRECTION_OUTBOUND] == (int64_t)UINT32_MAX);
    assert_true(cut->statistics[OC_STAT_L7_PACKETS][OC_DIRECTION_OUTBOUND] == (int64_t)UINT32_MAX);
    assert_int_equal(cut->statistics[OC_STAT_OCTETS][OC_DIRECTION_OUTBOUND],
                     3 * (int64_t)pkt.ip_octets);
    assert_int_equal(rest->end_reason, OC_END_FORCED);
    assert_int_equal(rest->id, cut->id);
    assert_int_equal(rest->statistics[OC_STAT_PACKETS][OC_DIRECTION_OUTBOUND], 1);
    assert_int_equal(rest->statistics[OC_STAT_TIMESTAMP_FIRST][OC_DIRECTION_OUTBOUND],
                     (int64_t)S(2) + 2);
    flow_engine_clear(&e);
    free(sink);
}

/* The tunnel side pool: entries go back on removal and are reused, each live flow keeps its
 * own addresses, and the pool never grows past the live tunnelled flows at any one time. */
static void test_flow_table_tunnel_pool(void **state)
{
    (void)state;
    flow_table_t t;
    enum { N = 32 };
    flow_table_init(&t, N);
    flow_key_t keys[N];
    uint32_t where[N];
    uint8_t tag[N];
    memset(keys, 0, sizeof keys);
    for (int i = 0; i < N; i++) {
        keys[i].port[0] = (uint16_t)i;
        keys[i].proto = 17;
        where[i] = FLOW_NONE;
    }
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    unsigned live_tunnelled = 0, peak = 0;
    for (int step = 0; step < 20000; step++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        int k = (int)(rng % N);
        if (where[k] == FLOW_NONE) {
            where[k] = flow_table_insert(&t, &keys[k], (uint32_t)k * 2654435761u);
            assert_int_not_equal(where[k], FLOW_NONE);
            tag[k] = (uint8_t)(step & 0xff);
            if (rng & (1u << 20)) { /* about half the flows are tunnelled */
                oc_tunnel_t tun = {.type = OC_TUNNEL_GRE, .family = OC_FAMILY_IPV4};
                memset(tun.src_addr, tag[k], sizeof tun.src_addr);
                memset(tun.dst_addr, (uint8_t)~tag[k], sizeof tun.dst_addr);
                flow_table_set_tunnel(&t, where[k], &tun);
                if (++live_tunnelled > peak)
                    peak = live_tunnelled;
            }
        } else {
            if (t.flows[where[k]].tunnel != FLOW_NONE)
                live_tunnelled--;
            flow_table_remove(&t, where[k], (uint32_t)k * 2654435761u);
            where[k] = FLOW_NONE;
        }
        for (int j = 0; j < N; j++) {
            if (where[j] == FLOW_NONE || t.flows[where[j]].tunnel == FLOW_NONE)
                continue;
            const oc_tunnel_t *tun = &t.tunnels[t.flows[where[j]].tunnel];
            assert_int_equal(tun->type, OC_TUNNEL_GRE);
            assert_int_equal(tun->src_addr[15], tag[j]);
            assert_int_equal(tun->dst_addr[0], (uint8_t)~tag[j]);
        }
    }
    assert_true(peak > 0);
    assert_int_equal(t.tunnel_never_used, peak);
    flow_table_clear(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flow_tcp_close_statistics),
        cmocka_unit_test(test_flow_fin_before_handshake_ends_rtt),
        cmocka_unit_test(test_flow_linger_trailing_and_port_reuse),
        cmocka_unit_test(test_flow_fin_needs_ack_of_last_fin),
        cmocka_unit_test(test_flow_synack_first_orientation),
        cmocka_unit_test(test_flow_idle_timeout),
        cmocka_unit_test(test_flow_active_timeout_fresh_counters),
        cmocka_unit_test(test_flow_active_timeout_then_idle_no_empty_record),
        cmocka_unit_test(test_flow_table_full_evicts_least_recent),
        cmocka_unit_test(test_flow_max_record_octets_cuts_early),
        cmocka_unit_test(test_flow_octet_cut_keeps_linger),
        cmocka_unit_test(test_flow_clock_never_runs_backwards),
        cmocka_unit_test(test_flow_icmp_echo_biflow_and_errors_apart),
        cmocka_unit_test(test_flow_retransmission_and_zero_window),
        cmocka_unit_test(test_flow_vlan_and_ipv6_keys),
        cmocka_unit_test(test_flow_callback_can_stop),
        cmocka_unit_test(test_flow_bad_config_rejected),
        cmocka_unit_test(test_flow_table_backward_shift),
        cmocka_unit_test(test_flow_table_tunnel_pool),
        cmocka_unit_test(test_flow_packet_counter_cut),
    };
    return cmocka_run_group_tests_name("flow", tests, NULL, NULL);
}
