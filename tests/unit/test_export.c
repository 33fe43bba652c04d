/*
 * Unit tests of src/export: the bounded ring (a full ring counts losses and never waits),
 * URI and setting errors, and the UDP, TCP and JSON outputs end to end on this host. UDP
 * datagrams and TCP streams are received on sockets of the test and parsed by hand from
 * RFC 7011's message, set and template record headers (not with our encoder), so sizes, set
 * ids, sequence numbers, export time, the observation domain and, over TCP, which records
 * went over which connection are checked independently. Rotated IPFIX files are parsed the
 * same way, one transport session per file. The statistics options template is checked
 * against the element ids RFC 7011 and the IANA registry give, and its record against the
 * snapshot submitted and the records and messages actually received before it.
 */
#include "config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "export/exp.h"
#include "export/exp_internal.h"
#include "export/exp_queue.h"

static void make_flow(oc_flow_info_t *f, uint64_t id)
{
    memset(f, 0, sizeof *f);
    f->id = id;
    f->key.family = OC_FAMILY_IPV4;
    f->key.protocol = 17;
    const uint8_t s[4] = { 10, 0, 0, 1 }, d[4] = { 10, 0, 0, 2 };
    memcpy(f->key.src_addr, s, 4);
    memcpy(f->key.dst_addr, d, 4);
    f->key.src_port = (uint16_t)(1000 + id);
    f->key.dst_port = 53;
    f->statistics[OC_STAT_PACKETS][0] = 10;
    f->statistics[OC_STAT_OCTETS][0] = 1000;
    f->statistics[OC_STAT_TIMESTAMP_FIRST][0] = 1700000000000000;
    f->statistics[OC_STAT_TIMESTAMP_LAST][0] = 1700000000500000;
    f->icmp_type_code[0] = f->icmp_type_code[1] = -1;
    f->end_reason = OC_END_IDLE;
}

/* --- the ring --------------------------------------------------------------------------- */

static void test_queue_full_counts_lost(void **state)
{
    (void)state;
    exp_queue_t q;
    exp_queue_init(&q, 4, false, false);
    oc_flow_info_t f;
    for (uint64_t i = 1; i <= 6; i++) {
        make_flow(&f, i);
        /* no consumer at all: pushing must return at once either way */
        assert_int_equal(exp_queue_push(&q, &f), i <= 4);
    }
    assert_int_equal(q.pushed, 6);
    assert_int_equal(q.lost, 2);
    assert_int_equal(exp_queue_count(&q), 4);
    oc_flow_info_t out[8];
    exp_queue_state_t st;
    assert_int_equal(exp_queue_pop(&q, out, NULL, 3, g_get_monotonic_time(), &st), 3);
    assert_false(st.empty);
    assert_int_equal(out[0].id, 1);
    assert_int_equal(out[2].id, 3);
    /* wraps around the ring in order */
    make_flow(&f, 7);
    assert_true(exp_queue_push(&q, &f));
    assert_int_equal(exp_queue_pop(&q, out, NULL, 8, g_get_monotonic_time(), &st), 2);
    assert_int_equal(out[0].id, 4);
    assert_int_equal(out[1].id, 7);
    assert_true(st.empty);
    /* an empty ring waits at most until the deadline */
    gint64 t0 = g_get_monotonic_time();
    assert_int_equal(exp_queue_pop(&q, out, NULL, 8, t0 + 20000, &st), 0);
    assert_true(g_get_monotonic_time() - t0 >= 15000);
    exp_queue_set_closing(&q);
    assert_false(exp_queue_push(&q, &f)); /* closing: refused and counted */
    assert_int_equal(q.lost, 3);
    exp_queue_clear(&q);
}

/* Reading files: a full ring makes the producer wait for a slow consumer, loses nothing and
 * keeps the order. */
typedef struct slow_consumer {
    exp_queue_t *q;
    uint64_t want, got, out_of_order;
} slow_consumer_t;

static gpointer slow_consume(gpointer data)
{
    slow_consumer_t *c = data;
    oc_flow_info_t out[3];
    while (c->got < c->want) {
        exp_queue_state_t st;
        size_t n = exp_queue_pop(c->q, out, NULL, 3, g_get_monotonic_time() + 100000, &st);
        for (size_t i = 0; i < n; i++)
            if (out[i].id != ++c->got)
                c->out_of_order++;
        g_usleep(200); /* slower than the producer */
    }
    return NULL;
}

static void test_queue_waits_for_room(void **state)
{
    (void)state;
    exp_queue_t q;
    exp_queue_init(&q, 4, false, true);
    slow_consumer_t c = { .q = &q, .want = 2000 };
    GThread *t = g_thread_new("slow", slow_consume, &c);
    oc_flow_info_t f;
    for (uint64_t i = 1; i <= c.want; i++) {
        make_flow(&f, i);
        assert_true(exp_queue_push(&q, &f));
    }
    g_thread_join(t);
    assert_int_equal(c.got, c.want);
    assert_int_equal(c.out_of_order, 0);
    assert_int_equal(q.lost, 0);
    assert_true(q.waits > 0); /* the ring did fill */

    /* A consumer that cannot take records (a tcp:// collector down) does not hold the
     * producer: the record is counted as lost at once. */
    for (uint64_t i = 1; i <= 4; i++) {
        make_flow(&f, i);
        assert_true(exp_queue_push(&q, &f));
    }
    q.stalled = true; /* as inside exp_queue_sleep() */
    gint64 t0 = g_get_monotonic_time();
    assert_false(exp_queue_push(&q, &f));
    assert_true(g_get_monotonic_time() - t0 < EXP_QUEUE_STALL_US / 2);
    assert_int_equal(q.lost, 1);
    q.stalled = false;
    exp_queue_clear(&q);
}

/* --- errors ----------------------------------------------------------------------------- */

static void expect_new_error(exp_output_cfg_t *cfg, int code, const char *want)
{
    GError *err = NULL;
    exp_output_t *out = exp_output_new(cfg, &err);
    assert_null(out);
    assert_non_null(err);
    if (!g_error_matches(err, EXP_ERROR, code) || strstr(err->message, want) == NULL)
        fail_msg("want code %d and '%s', got %d: %s", code, want, err->code, err->message);
    g_error_free(err);
}

static void test_output_errors(void **state)
{
    (void)state;
    exp_output_cfg_t cfg;
    exp_output_cfg_init(&cfg);
    assert_int_equal(cfg.observation_domain, 1);
    assert_int_equal(cfg.datagram_size, 1472);
    assert_int_equal(cfg.template_refresh_s, 60);
    assert_int_equal(cfg.queue_records, 65536);
    cfg.queue_records = 16;
    static const struct { const char *uri; int code; const char *msg; } cases[] = {
        { "bogus:x", EXP_ERROR_URI, "unsupported output 'bogus:x'" },
        { "tcp://127.0.0.1", EXP_ERROR_URI, "HOST:PORT" },
        { "tcp://127.0.0.1:x", EXP_ERROR_URI, "not a port number" },
        { "tcp://no-such-host.invalid:4739", EXP_ERROR_OPEN, "cannot resolve" },
        { "udp://127.0.0.1", EXP_ERROR_URI, "HOST:PORT" },
        { "udp://127.0.0.1:0", EXP_ERROR_URI, "not a port number" },
        { "udp://127.0.0.1:70000", EXP_ERROR_URI, "not a port number" },
        { "udp://[::1:4739", EXP_ERROR_URI, "[IPV6]:PORT" },
        { "udp://no-such-host.invalid:4739", EXP_ERROR_OPEN, "cannot resolve" },
        { "file:", EXP_ERROR_URI, "a PATH is needed" },
        { "json:", EXP_ERROR_URI, "- for standard output" },
        { "file:/nonexistent-dir/x.ipfix", EXP_ERROR_OPEN, "/nonexistent-dir/x.ipfix" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        cfg.uri = cases[i].uri;
        expect_new_error(&cfg, cases[i].code, cases[i].msg);
    }
    cfg.uri = "udp://127.0.0.1:4739";
    cfg.datagram_size = 100;
    expect_new_error(&cfg, EXP_ERROR_URI, "datagram_size=100");
    cfg.datagram_size = 1472;
    cfg.queue_records = 0;
    expect_new_error(&cfg, EXP_ERROR_URI, "queue_records=0");
    cfg.queue_records = 16;
    cfg.uri = "udp://127.0.0.1:4739";
    cfg.rotate_size = 1000;
    expect_new_error(&cfg, EXP_ERROR_URI, "file: outputs only");
    cfg.rotate_size = 0;
    cfg.uri = "file:/nonexistent-dir/x.ipfix";
    cfg.rotate_interval_s = 60;
    expect_new_error(&cfg, EXP_ERROR_OPEN, "/nonexistent-dir/.x.ipfix.part");
    cfg.rotate_interval_s = 0;

    /* a template error names the output, the file, the line and the element */
    g_autofree char *dir = g_dir_make_tmp("test_export.XXXXXX", NULL);
    g_autofree char *tmpl = g_build_filename(dir, "bad.tmpl", NULL);
    assert_true(g_file_set_contents(tmpl, "vlanId\nnotAnElement\n", -1, NULL));
    cfg.template_path = tmpl;
    cfg.name = "collector1";
    expect_new_error(&cfg, EXP_ERROR_TEMPLATE, "bad.tmpl:2: unknown information element notAnElement");
    expect_new_error(&cfg, EXP_ERROR_TEMPLATE, "output collector1");
    unlink(tmpl);
    rmdir(dir);
    assert_true(exp_output_close(NULL, 0));
}

/* --- UDP end to end --------------------------------------------------------------------- */

static int udp_receiver(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    int big = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    return fd;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

typedef struct {
    size_t len;
    uint32_t export_time, seq, domain;
    uint16_t first_set;
    size_t data_records; /* data records of the IPv4 template (84 octets each) */
    size_t opt_sets;     /* options template sets (set id 3) */
} dgram_t;

/* Reads every datagram waiting on @fd and parses its IPFIX headers. */
static size_t receive_all(int fd, dgram_t *d, size_t max)
{
    static uint8_t buf[65536];
    size_t n = 0;
    for (;;) {
        ssize_t len = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (len < 0)
            break;
        assert_true(n < max);
        assert_true(len >= 16);
        assert_int_equal(rd16(buf), 10);          /* IPFIX version */
        assert_int_equal(rd16(buf + 2), len);     /* one whole message per datagram */
        d[n] = (dgram_t){ .len = (size_t)len, .export_time = rd32(buf + 4),
                          .seq = rd32(buf + 8), .domain = rd32(buf + 12),
                          .first_set = rd16(buf + 16) };
        for (size_t off = 16; off + 4 <= (size_t)len;) {
            uint16_t id = rd16(buf + off), slen = rd16(buf + off + 2);
            assert_true(slen >= 4 && off + slen <= (size_t)len);
            if (id == 256)
                d[n].data_records += (slen - 4u) / 84u;
            d[n].opt_sets += id == 3;
            off += slen;
        }
        n++;
    }
    return n;
}

static void test_udp_messages(void **state)
{
    (void)state;
    uint16_t port;
    int fd = udp_receiver(&port);
    g_autofree char *uri = g_strdup_printf("udp://127.0.0.1:%u", port);
    exp_output_cfg_t cfg;
    exp_output_cfg_init(&cfg);
    cfg.uri = uri;
    cfg.datagram_size = 512; /* (512 - 16 - 4) / 84 = 5 records per message */
    cfg.observation_domain = 77;
    cfg.queue_records = 1024;
    GError *err = NULL;
    uint32_t t0 = (uint32_t)time(NULL);
    exp_output_t *out = exp_output_new(&cfg, &err);
    if (out == NULL)
        fail_msg("%s", err->message);
    for (uint64_t i = 0; i < 40; i++) {
        oc_flow_info_t f;
        make_flow(&f, i);
        assert_true(exp_output_submit(out, &f));
    }
    exp_output_stats_t st;
    assert_true(exp_output_close_stats(out, 5000, &st));
    uint32_t t1 = (uint32_t)time(NULL);
    assert_int_equal(st.records_in, 40);
    assert_int_equal(st.records_sent, 40);
    assert_int_equal(st.records_lost, 0);
    assert_int_equal(st.send_errors, 0);

    dgram_t d[64];
    size_t n = receive_all(fd, d, 64);
    close(fd);
    assert_true(n >= 1 + 8);
    assert_int_equal(d[0].first_set, 2);          /* templates first */
    assert_int_equal(d[0].data_records, 0);
    assert_int_equal(st.messages_sent, n);
    uint32_t expect_seq = 0;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(d[i].len <= 512);
        assert_int_equal(d[i].domain, 77);
        assert_true(d[i].export_time >= t0 && d[i].export_time <= t1);
        assert_int_equal(d[i].seq, expect_seq); /* data records sent before this message */
        expect_seq += (uint32_t)d[i].data_records;
        total += d[i].data_records;
    }
    assert_int_equal(total, 40);
}

/* Templates are sent again once template_refresh_s has passed (checked at the next data). */
static void test_udp_template_refresh(void **state)
{
    (void)state;
    uint16_t port;
    int fd = udp_receiver(&port);
    g_autofree char *uri = g_strdup_printf("udp://127.0.0.1:%u", port);
    exp_output_cfg_t cfg;
    exp_output_cfg_init(&cfg);
    cfg.uri = uri;
    cfg.template_refresh_s = 1;
    cfg.queue_records = 16;
    exp_output_t *out = exp_output_new(&cfg, NULL);
    assert_non_null(out);
    oc_flow_info_t f;
    make_flow(&f, 1);
    assert_true(exp_output_submit(out, &f));
    /* a lone record may wait up to a second for the output thread (exp_queue.c wakes it
     * per batch), and the refresh counts from when the templates went out */
    g_usleep(2200000);
    make_flow(&f, 2);
    assert_true(exp_output_submit(out, &f));
    assert_true(exp_output_close(out, 5000));
    dgram_t d[16];
    size_t n = receive_all(fd, d, 16);
    close(fd);
    assert_int_equal(n, 4);
    assert_int_equal(d[0].first_set, 2);
    assert_int_equal(d[0].opt_sets, 1);   /* the statistics template goes with them */
    assert_int_equal(d[1].data_records, 1);
    assert_int_equal(d[2].first_set, 2);
    assert_int_equal(d[2].opt_sets, 1);
    assert_int_equal(d[3].data_records, 1);
    assert_int_equal(d[3].seq, 1);
}

/* A collector that is not there: sends fail (ICMP port unreachable on a connected socket)
 * and are counted, never fatal. */
static void test_udp_send_errors_counted(void **state)
{
    (void)state;
    uint16_t port;
    int fd = udp_receiver(&port);
    close(fd); /* nobody listens on this port now */
    g_autofree char *uri = g_strdup_printf("udp://127.0.0.1:%u", port);
    exp_output_cfg_t cfg;
    exp_output_cfg_init(&cfg);
    cfg.uri = uri;
    cfg.queue_records = 16;
    exp_output_t *out = exp_output_new(&cfg, NULL);
    assert_non_null(out);
    oc_flow_info_t f;
    for (uint64_t i = 0; i < 3; i++) {
        make_flow(&f, i);
        assert_true(exp_output_submit(out, &f));
        g_usleep(50000);
    }
    exp_output_stats_t st;
    exp_output_close_stats(out, 5000, &st);
    assert_int_equal(st.records_in, 3);
    assert_true(st.send_errors >= 1);
    /* The refusal reported by a send concerns an earlier datagram: the message is sent
     * again, so nothing is lost for it (UDP never knew whether anybody received it). */
    assert_int_equal(st.records_sent, 3);
    assert_int_equal(st.records_lost, 0);
}

/* --- TCP end to end --------------------------------------------------------------------- */

/* The statistics options template as RFC 7011 and the IANA registry define its elements:
 * observationDomainId (scope), exportingProcessId, observationTimeMilliseconds,
 * systemInitTimeMilliseconds, exportedFlowRecordTotalCount, exportedMessageTotalCount,
 * packetTotalCount, droppedPacketTotalCount, ignoredPacketTotalCount,
 * observedFlowTotalCount, notSentFlowTotalCount. */
static const uint16_t stats_ies[] = { 149, 144, 323, 160, 42, 41, 86, 135, 164, 163, 166 };
enum { ST_DOMAIN, ST_PID, ST_OBSERVED, ST_INIT, ST_EXPORTED, ST_MESSAGES, ST_PACKETS,
       ST_DROPPED, ST_IGNORED, ST_FLOWS, ST_NOT_SENT, ST_N };

/* What one TCP stream held, parsed from RFC 7011 headers without libfixbuf. */
typedef struct {
    const char *error;       /* first problem found, NULL = none */
    size_t messages, records; /* records: flow data records (they have a source port) */
    size_t all_records;      /* every data record, options records included */
    uint16_t first_set;      /* set id of the stream's first set */
    uint32_t domain;
    uint16_t ports[256];     /* sourceTransportPort of each data record, in order */
    size_t used;             /* bytes of whole messages */
    /* Options templates and records: the last options template's id, scope count and
     * element ids; the options records seen, the values of the last one (by the order of
     * its template's elements), and how many flow records and messages came before it. */
    uint16_t opt_tid, opt_scope, opt_ies[16];
    size_t opt_n_ies, opt_templates;
    size_t stats_records, stats_after_records, stats_after_messages;
    uint64_t stats[16];
} tcp_stream_t;

/* Parses the whole messages in @buf: message lengths, sequence numbers (data records sent
 * before each message on this stream), template and options template records (to learn
 * each template's record length and where sourceTransportPort, IE 7, sits) and data sets. */
static void parse_stream(const uint8_t *buf, size_t len, tcp_stream_t *st)
{
    struct { uint16_t id, reclen, port_off, n_ies, lens[16]; bool opts; } tmpl[8];
    size_t n_tmpl = 0;
    memset(st, 0, sizeof *st);
    size_t off = 0;
    while (len - off >= 16 && st->error == NULL) {
        const uint8_t *m = buf + off;
        size_t mlen = rd16(m + 2);
        if (rd16(m) != 10 || mlen < 16) {
            st->error = "bad message header";
            break;
        }
        if (len - off < mlen)
            break;
        if (rd32(m + 8) != (uint32_t)st->all_records)
            st->error = "sequence number is not the count of earlier data records";
        if (st->messages == 0) {
            st->first_set = mlen >= 20 ? rd16(m + 16) : 0;
            st->domain = rd32(m + 12);
        }
        st->messages++;
        for (size_t so = 16; so + 4 <= mlen && st->error == NULL;) {
            uint16_t sid = rd16(m + so), slen = rd16(m + so + 2);
            if (slen < 4 || so + slen > mlen) {
                st->error = "bad set length";
                break;
            }
            if (sid == 2 || sid == 3) {
                /* template records: id, field count; options template records: id, field
                 * count, scope field count (RFC 7011 sections 3.4.1 and 3.4.2.2) */
                size_t hdr = sid == 3 ? 6 : 4;
                for (size_t t = so + 4; t + hdr <= so + slen && n_tmpl < 8;) {
                    uint16_t tid = rd16(m + t), nf = rd16(m + t + 2);
                    size_t p = t + hdr;
                    uint16_t reclen = 0, port_off = 0xffff;
                    tmpl[n_tmpl].n_ies = 0;
                    if (sid == 3) {
                        st->opt_tid = tid;
                        st->opt_scope = rd16(m + t + 4);
                        st->opt_n_ies = 0;
                        st->opt_templates++;
                    }
                    for (uint16_t f = 0; f < nf; f++) {
                        uint16_t ie = rd16(m + p), flen = rd16(m + p + 2);
                        p += (ie & 0x8000) ? 8 : 4;
                        if (ie == 7)
                            port_off = reclen;
                        if (sid == 3 && st->opt_n_ies < G_N_ELEMENTS(st->opt_ies))
                            st->opt_ies[st->opt_n_ies++] = ie;
                        if (f < 16)
                            tmpl[n_tmpl].lens[tmpl[n_tmpl].n_ies++] = flen;
                        reclen = (uint16_t)(reclen + flen);
                    }
                    /* a template id defined again replaces its earlier definition */
                    size_t k = 0;
                    while (k < n_tmpl && tmpl[k].id != tid)
                        k++;
                    tmpl[k] = tmpl[n_tmpl];
                    tmpl[k].id = tid;
                    tmpl[k].reclen = reclen;
                    tmpl[k].port_off = port_off;
                    tmpl[k].opts = sid == 3;
                    n_tmpl += k == n_tmpl;
                    t = p;
                }
            } else if (sid >= 256) {
                size_t k = 0;
                while (k < n_tmpl && tmpl[k].id != sid)
                    k++;
                if (k == n_tmpl || tmpl[k].reclen == 0 ||
                    (!tmpl[k].opts && tmpl[k].port_off == 0xffff)) {
                    st->error = "data set before its template";
                    break;
                }
                for (size_t r = so + 4; r + tmpl[k].reclen <= so + slen; r += tmpl[k].reclen) {
                    st->all_records++;
                    if (tmpl[k].opts) {
                        size_t at = r;
                        for (size_t f = 0; f < tmpl[k].n_ies; f++) {
                            uint16_t flen = tmpl[k].lens[f];
                            st->stats[f] = flen == 8 ? (uint64_t)rd32(m + at) << 32 | rd32(m + at + 4)
                                         : flen == 4 ? rd32(m + at) : 0;
                            at += flen;
                        }
                        st->stats_records++;
                        st->stats_after_records = st->records;
                        st->stats_after_messages = st->messages - 1;
                        continue;
                    }
                    if (st->records < G_N_ELEMENTS(st->ports))
                        st->ports[st->records] = rd16(m + r + tmpl[k].port_off);
                    st->records++;
                }
            }
            so += slen;
        }
        off += mlen;
    }
    st->used = off;
}

/* A statistics snapshot with a distinct value in every field. */
static exp_stats_t make_stats(void)
{
    return (exp_stats_t){ .system_init_ms = 1700000000123, .observed_ms = 1700000060456,
                          .packets = UINT64_C(123456789012), .packets_dropped = 17,
                          .packets_ignored = 42, .flows_observed = 4242 };
}

/* The options template of @st is the statistics template, and its last options record
 * carries make_stats() and the output's counters: @exported flow records and @messages
 * messages delivered before it, nothing lost. */
static void expect_stats(const tcp_stream_t *st, uint32_t domain, uint64_t exported,
                         uint64_t messages)
{
    assert_int_equal(st->opt_tid, 258);
    assert_int_equal(st->opt_scope, 1);
    assert_int_equal(st->opt_n_ies, G_N_ELEMENTS(stats_ies));
    for (size_t i = 0; i < G_N_ELEMENTS(stats_ies); i++)
        assert_int_equal(st->opt_ies[i], stats_ies[i]);
    exp_stats_t want = make_stats();
    assert_int_equal(st->stats[ST_DOMAIN], domain);
    assert_int_equal(st->stats[ST_PID], (uint64_t)getpid());
    assert_int_equal(st->stats[ST_OBSERVED], want.observed_ms);
    assert_int_equal(st->stats[ST_INIT], want.system_init_ms);
    assert_int_equal(st->stats[ST_EXPORTED], exported);
    assert_int_equal(st->stats[ST_MESSAGES], messages);
    assert_int_equal(st->stats[ST_PACKETS], want.packets);
    assert_int_equal(st->stats[ST_DROPPED], want.packets_dropped);
    assert_int_equal(st->stats[ST_IGNORED], want.packets_ignored);
    assert_int_equal(st->stats[ST_FLOWS], want.flows_observed);
    assert_int_equal(st->stats[ST_NOT_SENT], 0);
}

/* A statistics snapshot becomes one options record (template 258, RFC 7011 options
 * template with the observation domain as scope) after the records submitted before it. */
static void test_udp_stats(void **state)
{
    (void)state;
    uint16_t port;
    int fd = udp_receiver(&port);
    g_autofree char *uri = g_strdup_printf("udp://127.0.0.1:%u", port);
    exp_output_cfg_t cfg;
    exp_output_cfg_init(&cfg);
    cfg.uri = uri;
    cfg.datagram_size = 512; /* 5 flow records per message */
    cfg.observation_domain = 77;
    cfg.queue_records = 1024;
    exp_output_t *out = exp_output_new(&cfg, NULL);
    assert_non_null(out);
    for (uint64_t i = 0; i < 7; i++) {
        oc_flow_info_t f;
        make_flow(&f, i);
        assert_true(exp_output_submit(out, &f));
    }
    exp_stats_t es = make_stats();
    exp_output_submit_stats(out, &es);
    for (uint64_t i = 7; i < 10; i++) {
        oc_flow_info_t f;
        make_flow(&f, i);
        assert_true(exp_output_submit(out, &f));
    }
    exp_output_stats_t st;
    assert_true(exp_output_close_stats(out, 5000, &st));
    assert_int_equal(st.records_sent, 10);

    /* the datagrams in order, one message each, parsed as one stream */
    GByteArray *all = g_byte_array_new();
    uint8_t buf[65536];
    ssize_t n;
    size_t datagrams = 0;
    while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
        assert_int_equal(rd16(buf + 2), n);
        g_byte_array_append(all, buf, (guint)n);
        datagrams++;
    }
    close(fd);
    tcp_stream_t ps;
    parse_stream(all->data, all->len, &ps);
    if (ps.error != NULL)
        fail_msg("%s", ps.error);
    assert_int_equal(ps.messages, datagrams);
    assert_int_equal(ps.messages, st.messages_sent);
    assert_int_equal(ps.records, 10);
    for (uint64_t i = 0; i < 10; i++)
        assert_int_equal(ps.ports[i], 1000 + i);
    assert_int_equal(ps.opt_templates, 1);
    assert_int_equal(ps.stats_records, 1);
    assert_int_equal(ps.stats_after_records, 7);
    /* before it: the template message and two data messages (5 + 2 records) */
    assert_int_equal(ps.stats_after_messages, 3);
    expect_stats(&ps, 77, 7, 3);
    g_byte_array_unref(all);
}

/* A collector of the test: accepts up to 4 connections one after the other and keeps
 * their bytes; optionally closes the first once it holds close_first_after records. */
typedef struct {
    int lfd;
    int n_conns;
    size_t close_first_after;
    GByteArray *data[4];
    gint first_closed;
} tcp_reader_t;

static gpointer tcp_reader_thread(gpointer p)
{
    tcp_reader_t *r = p;
    for (int c = 0; c < r->n_conns; c++) {
        struct pollfd lp = { .fd = r->lfd, .events = POLLIN };
        if (poll(&lp, 1, 10000) != 1)
            break;
        int fd = accept(r->lfd, NULL, NULL);
        if (fd < 0)
            break;
        r->data[c] = g_byte_array_new();
        gint64 deadline = g_get_monotonic_time() + 15 * G_USEC_PER_SEC;
        for (;;) {
            if (c == 0 && r->close_first_after > 0) {
                tcp_stream_t st;
                parse_stream(r->data[0]->data, r->data[0]->len, &st);
                if (st.records >= r->close_first_after && st.used == r->data[0]->len)
                    break;
            }
            struct pollfd q = { .fd = fd, .events = POLLIN };
            if (poll(&q, 1, 100) <= 0) {
                if (g_get_monotonic_time() > deadline)
                    break;
                continue;
            }
            uint8_t buf[4096];
            ssize_t n = recv(fd, buf, sizeof buf, 0);
            if (n <= 0)
                break;
            g_byte_array_append(r->data[c], buf, (guint)n);
        }
        close(fd);
        if (c == 0)
            g_atomic_int_set(&r->first_closed, 1);
    }
    return NULL;
}

/* A TCP socket bound to a free 127.0.0.1 port, not listening yet (connects are refused). */
static int tcp_bound(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static exp_output_t *tcp_output(uint16_t port, uint32_t queue)
{
    g_autofree char *uri = g_strdup_printf("tcp://127.0.0.1:%u", port);
    exp_output_cfg_t cfg;
    exp_output_cfg_init(&cfg);
    cfg.uri = uri;
    cfg.queue_records = queue;
    cfg.observation_domain = 9;
    GError *err = NULL;
    exp_output_t *out = exp_output_new(&cfg, &err);
    if (out == NULL)
        fail_msg("%s", err->message);
    return out;
}

static void submit_range(exp_output_t *out, uint64_t from, uint64_t to)
{
    for (uint64_t i = from; i < to; i++) {
        oc_flow_info_t f;
        make_flow(&f, i);
        assert_true(exp_output_submit(out, &f));
    }
}

/* Checks a received stream: templates first, sequence numbers, and that it holds exactly
 * the flows from..to-1 in order (make_flow: source port 1000 + id). */
static void expect_stream(GByteArray *data, uint64_t from, uint64_t to)
{
    assert_non_null(data);
    tcp_stream_t st;
    parse_stream(data->data, data->len, &st);
    if (st.error != NULL)
        fail_msg("stream: %s", st.error);
    assert_int_equal(st.used, data->len);       /* ends at a message boundary */
    assert_int_equal(st.first_set, 2);          /* template set first on every connection */
    assert_int_equal(st.domain, 9);
    assert_int_equal(st.records, to - from);
    for (uint64_t i = from; i < to; i++)
        assert_int_equal(st.ports[i - from], 1000 + i);
}

static void test_tcp_stream(void **state)
{
    (void)state;
    uint16_t port;
    tcp_reader_t r = { .lfd = tcp_bound(&port), .n_conns = 1 };
    assert_int_equal(listen(r.lfd, 4), 0);
    GThread *th = g_thread_new("reader", tcp_reader_thread, &r);
    exp_output_t *out = tcp_output(port, 256);
    submit_range(out, 0, 200);
    exp_output_stats_t st;
    /* the reader closes its end after our FIN: delivery is confirmed, nothing possibly lost */
    assert_true(exp_output_close_stats(out, 5000, &st));
    g_thread_join(th);
    close(r.lfd);
    assert_int_equal(st.records_in, 200);
    assert_int_equal(st.records_sent, 200);
    assert_int_equal(st.records_lost, 0);
    assert_int_equal(st.records_possibly_lost, 0);
    assert_int_equal(st.connections, 1);
    assert_int_equal(st.send_errors, 0);
    expect_stream(r.data[0], 0, 200);
    tcp_stream_t ps;
    parse_stream(r.data[0]->data, r.data[0]->len, &ps);
    assert_int_equal(st.messages_sent, ps.messages);
    g_byte_array_unref(r.data[0]);
}

/* The collector closes the connection: noticed before the next message, a new connection
 * starts with templates and sequence number 0, and nothing goes twice. */
static void test_tcp_reconnect(void **state)
{
    (void)state;
    uint16_t port;
    tcp_reader_t r = { .lfd = tcp_bound(&port), .n_conns = 2, .close_first_after = 20 };
    assert_int_equal(listen(r.lfd, 4), 0);
    GThread *th = g_thread_new("reader", tcp_reader_thread, &r);
    exp_output_t *out = tcp_output(port, 256);
    submit_range(out, 0, 20);
    for (int i = 0; i < 100 && !g_atomic_int_get(&r.first_closed); i++)
        g_usleep(50000);
    assert_true(g_atomic_int_get(&r.first_closed));
    g_usleep(200000);
    submit_range(out, 20, 40);
    exp_output_stats_t st;
    assert_true(exp_output_close_stats(out, 10000, &st));
    g_thread_join(th);
    close(r.lfd);
    expect_stream(r.data[0], 0, 20);
    expect_stream(r.data[1], 20, 40);
    assert_int_equal(st.records_sent, 40);
    assert_int_equal(st.records_lost, 0);
    assert_int_equal(st.records_possibly_lost, 0); /* closed cleanly after reading all */
    assert_int_equal(st.connections, 2);
    assert_int_equal(st.send_errors, 1);           /* the lost connection */
    g_byte_array_unref(r.data[0]);
    g_byte_array_unref(r.data[1]);
}

/* Every connection carries the options template with the flow templates; the statistics
 * record follows the records submitted before it and counts those of both connections. */
static void test_tcp_stats(void **state)
{
    (void)state;
    uint16_t port;
    tcp_reader_t r = { .lfd = tcp_bound(&port), .n_conns = 2, .close_first_after = 20 };
    assert_int_equal(listen(r.lfd, 4), 0);
    GThread *th = g_thread_new("reader", tcp_reader_thread, &r);
    exp_output_t *out = tcp_output(port, 256);
    submit_range(out, 0, 20);
    for (int i = 0; i < 100 && !g_atomic_int_get(&r.first_closed); i++)
        g_usleep(50000);
    assert_true(g_atomic_int_get(&r.first_closed));
    g_usleep(200000);
    submit_range(out, 20, 40);
    exp_stats_t es = make_stats();
    exp_output_submit_stats(out, &es);
    exp_output_stats_t st;
    assert_true(exp_output_close_stats(out, 10000, &st));
    g_thread_join(th);
    close(r.lfd);
    expect_stream(r.data[0], 0, 20);
    expect_stream(r.data[1], 20, 40);
    tcp_stream_t p0, p1;
    parse_stream(r.data[0]->data, r.data[0]->len, &p0);
    parse_stream(r.data[1]->data, r.data[1]->len, &p1);
    assert_int_equal(p0.opt_templates, 1);
    assert_int_equal(p0.opt_tid, 258);
    assert_int_equal(p0.stats_records, 0);
    assert_int_equal(p1.opt_templates, 1);
    assert_int_equal(p1.stats_records, 1);
    assert_int_equal(p1.stats_after_records, 20);
    assert_int_equal(p0.messages + p1.messages, st.messages_sent);
    expect_stats(&p1, 9, 40, p0.messages + p1.stats_after_messages);
    g_byte_array_unref(r.data[0]);
    g_byte_array_unref(r.data[1]);
}

/* No collector yet: records wait in the queue (a full queue refuses at once, counted),
 * and go out once the collector listens; the capture side never waits. */
static void test_tcp_collector_down(void **state)
{
    (void)state;
    uint16_t port;
    tcp_reader_t r = { .lfd = tcp_bound(&port), .n_conns = 1 };
    exp_output_t *out = tcp_output(port, 16);
    g_usleep(100000); /* a refused attempt or two */
    gint64 t0 = g_get_monotonic_time();
    for (uint64_t i = 0; i < 20; i++) {
        oc_flow_info_t f;
        make_flow(&f, i);
        assert_int_equal(exp_output_submit(out, &f), i < 16);
    }
    assert_true(g_get_monotonic_time() - t0 < 100000);
    exp_output_stats_t st;
    exp_output_get_stats(out, &st);
    assert_int_equal(st.records_queued, 16);
    assert_int_equal(st.records_lost, 4);
    assert_int_equal(st.records_sent, 0);
    assert_int_equal(st.connections, 0);
    assert_int_equal(listen(r.lfd, 4), 0);
    GThread *th = g_thread_new("reader", tcp_reader_thread, &r);
    assert_false(exp_output_close_stats(out, 10000, &st)); /* 4 were lost */
    g_thread_join(th);
    close(r.lfd);
    assert_int_equal(st.records_in, 20);
    assert_int_equal(st.records_sent, 16);
    assert_int_equal(st.records_lost, 4);
    assert_int_equal(st.records_possibly_lost, 0);
    assert_int_equal(st.connections, 1);
    expect_stream(r.data[0], 0, 16);
    g_byte_array_unref(r.data[0]);
}

/* A collector that accepts but never reads: close gives up at its timeout, and what was
 * written counts as possibly lost (its TCP acknowledged it, nobody read it). */
static void test_tcp_unread_possibly_lost(void **state)
{
    (void)state;
    uint16_t port;
    int lfd = tcp_bound(&port);
    assert_int_equal(listen(lfd, 4), 0); /* the kernel completes the handshake; no accept */
    exp_output_t *out = tcp_output(port, 256);
    submit_range(out, 0, 50);
    gint64 t0 = g_get_monotonic_time();
    exp_output_stats_t st;
    exp_output_close_stats(out, 300, &st);
    gint64 took = g_get_monotonic_time() - t0;
    close(lfd);
    assert_true(took < 300000 + 500000);
    assert_int_equal(st.records_in, 50);
    assert_int_equal(st.records_sent + st.records_lost, 50);
    assert_true(st.records_sent > 0);
    assert_int_equal(st.records_possibly_lost, st.records_sent);
}

/* --- files ---------------------------------------------------------------------------- */

/* A file output fills its messages while records keep coming (here in bursts of 10, faster
 * than its one-second linger) instead of writing one per batch; a statistics record still
 * follows exactly the records before it. */
static void test_file_messages_and_stats(void **state)
{
    (void)state;
    g_autofree char *dir = g_dir_make_tmp("test_export.XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "flows.ipfix", NULL);
    g_autofree char *uri = g_strdup_printf("file:%s", path);
    exp_output_cfg_t cfg;
    exp_output_cfg_init(&cfg);
    cfg.uri = uri;
    cfg.queue_records = 1024;
    cfg.observation_domain = 9;
    exp_output_t *out = exp_output_new(&cfg, NULL);
    assert_non_null(out);
    for (uint64_t i = 0; i < 100; i += 10) {
        submit_range(out, i, i + 10);
        g_usleep(20000);
    }
    exp_stats_t es = make_stats();
    exp_output_submit_stats(out, &es);
    submit_range(out, 100, 110);
    exp_output_stats_t st;
    assert_true(exp_output_close_stats(out, 5000, &st));
    g_autofree char *buf = NULL;
    gsize len = 0;
    assert_true(g_file_get_contents(path, &buf, &len, NULL));
    tcp_stream_t ps;
    parse_stream((const uint8_t *)buf, len, &ps);
    if (ps.error != NULL)
        fail_msg("%s", ps.error);
    assert_int_equal(ps.used, len);
    assert_int_equal(ps.first_set, 2);
    assert_int_equal(ps.records, 110);
    assert_int_equal(ps.messages, st.messages_sent);
    assert_int_equal(ps.stats_records, 1);
    assert_int_equal(ps.stats_after_records, 100);
    /* the templates and one data message (a second one only if this host stalled for most
     * of the linger); a message per batch would make about ten */
    assert_true(ps.stats_after_messages <= 3);
    expect_stats(&ps, 9, 100, ps.stats_after_messages);
    unlink(path);
    assert_int_equal(rmdir(dir), 0);
}

/* A file that cannot grow (a full file system; here RLIMIT_FSIZE, which needs no root)
 * takes part of a message: the part is cut off again, so the file holds whole messages only
 * and the records count as lost. In a child process: the limit applies to every file the
 * process writes, cmocka's log included. */
static void test_file_full_keeps_whole_messages(void **state)
{
    (void)state;
    g_autofree char *dir = g_dir_make_tmp("test_export.XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "flows.ipfix", NULL);
    g_autofree char *uri = g_strdup_printf("file:%s", path);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl = { .rlim_cur = 2000, .rlim_max = RLIM_INFINITY };
        signal(SIGXFSZ, SIG_IGN);
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(10);
        exp_output_cfg_t cfg;
        exp_output_cfg_init(&cfg);
        cfg.uri = uri;
        cfg.queue_records = 1024;
        exp_output_t *out = exp_output_new(&cfg, NULL);
        if (out == NULL)
            _exit(11);
        submit_range(out, 0, 200);
        exp_output_stats_t st;
        bool all = exp_output_close_stats(out, 5000, &st);
        _exit(all ? 12 : st.records_lost != 200 ? 13 : st.send_errors < 1 ? 14 : 0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    g_autofree char *buf = NULL;
    gsize len = 0;
    assert_true(g_file_get_contents(path, &buf, &len, NULL));
    assert_true(len > 0 && len < 2000); /* the templates, not a piece of the data message */
    tcp_stream_t ps;
    parse_stream((const uint8_t *)buf, len, &ps);
    if (ps.error != NULL)
        fail_msg("%s", ps.error);
    assert_int_equal(ps.used, len);
    assert_int_equal(ps.records, 0);
    unlink(path);
    assert_int_equal(rmdir(dir), 0);
}

/* --- rotated files --------------------------------------------------------------------- */

static void test_file_rotated_name(void **state)
{
    (void)state;
    /* 2026-11-27 22:15:00 UTC, plus 0.7 s that the name drops */
    GDateTime *dt = g_date_time_new_utc(2026, 11, 27, 22, 15, 0);
    gint64 us = g_date_time_to_unix(dt) * G_USEC_PER_SEC + 700000;
    g_date_time_unref(dt);
    static const struct { const char *path; unsigned n; const char *want; } cases[] = {
        { "/var/lib/ocellus/flows.ipfix", 0, "/var/lib/ocellus/flows.20261127T221500Z.ipfix" },
        { "/var/lib/ocellus/flows.ipfix", 3, "/var/lib/ocellus/flows.20261127T221500Z_003.ipfix" },
        { "/var/lib/ocellus/flows.ipfix", 999, "/var/lib/ocellus/flows.20261127T221500Z_999.ipfix" },
        { "flows.ipfix", 0, "flows.20261127T221500Z.ipfix" },
        { "a.b/flows", 0, "a.b/flows.20261127T221500Z" },
        { "/d/x.tar.ipfix", 1, "/d/x.tar.20261127T221500Z_001.ipfix" },
        { "a.b/flows", 12, "a.b/flows.20261127T221500Z_012" },
        { "/d/.hidden", 0, "/d/.hidden.20261127T221500Z" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *got = exp_file_rotated_name(cases[i].path, us, cases[i].n);
        assert_string_equal(got, cases[i].want);
    }
    /* names sort in the order the files were started: the plain name, then _001.._999, then
     * the next second's (with or without an extension) */
    static const struct { gint64 s; unsigned n; } order[] = {
        { 0, 0 }, { 0, 1 }, { 0, 2 }, { 0, 10 }, { 0, 999 }, { 1, 0 }, { 1, 1 },
    };
    for (int ext = 0; ext < 2; ext++) {
        const char *path = ext ? "d/flows.ipfix" : "d/flows";
        for (size_t i = 0; i + 1 < G_N_ELEMENTS(order); i++) {
            g_autofree char *a = exp_file_rotated_name(path, us + order[i].s * G_USEC_PER_SEC,
                                                       order[i].n);
            g_autofree char *b = exp_file_rotated_name(
                path, us + order[i + 1].s * G_USEC_PER_SEC, order[i + 1].n);
            if (strcmp(a, b) >= 0)
                fail_msg("%s sorts before %s", b, a);
        }
    }
    g_autofree char *p1 = exp_file_part_name("/var/lib/ocellus/flows.ipfix");
    assert_string_equal(p1, "/var/lib/ocellus/.flows.ipfix.part");
    g_autofree char *p2 = exp_file_part_name("flows.ipfix");
    assert_string_equal(p2, ".flows.ipfix.part");
}

/* The finished files of @dir (sorted), each checked: a name made of flows, a UTC time
 * within [@t0, @t1] and maybe _NNN, then .ipfix; whole messages only; the template set first;
 * sequence numbers counting from 0 in each file (a session per file); at most @max_size
 * octets (0 = any). No part file may be left unless @part_ok. Adds each file's records to @seen (by
 * source port, make_flow: 1000 + id) and fails on a duplicate. Returns the file count. */
static size_t check_rotated(const char *dir, gint64 t0, gint64 t1, size_t max_size,
                            bool part_ok, uint8_t *seen, size_t n_seen, size_t *per_file)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    assert_non_null(d);
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    const char *e;
    while ((e = g_dir_read_name(d)) != NULL)
        g_ptr_array_add(names, g_strdup(e));
    g_dir_close(d);
    size_t files = 0;
    for (guint i = 0; i < names->len; i++) {
        const char *name = names->pdata[i];
        if (part_ok && strcmp(name, ".flows.ipfix.part") == 0)
            continue;
        GMatchInfo *mi = NULL;
        GRegex *re = g_regex_new("^flows\\.(\\d{4})(\\d\\d)(\\d\\d)T(\\d\\d)(\\d\\d)(\\d\\d)Z"
                                 "(_\\d{3})?\\.ipfix$", 0, 0, NULL);
        if (!g_regex_match(re, name, 0, &mi))
            fail_msg("unexpected file %s in %s", name, dir);
        int f[6];
        for (int k = 0; k < 6; k++) {
            g_autofree char *v = g_match_info_fetch(mi, k + 1);
            f[k] = atoi(v);
        }
        g_match_info_free(mi);
        g_regex_unref(re);
        GDateTime *dt = g_date_time_new_utc(f[0], f[1], f[2], f[3], f[4], f[5]);
        gint64 when = g_date_time_to_unix(dt);
        g_date_time_unref(dt);
        assert_true(when >= t0 / G_USEC_PER_SEC && when <= t1 / G_USEC_PER_SEC);

        g_autofree char *path = g_build_filename(dir, name, NULL);
        g_autofree char *buf = NULL;
        gsize len = 0;
        assert_true(g_file_get_contents(path, &buf, &len, NULL));
        if (max_size != 0 && len > max_size)
            fail_msg("%s: %zu octets, more than rotate_size %zu", name, (size_t)len, max_size);
        tcp_stream_t st;
        parse_stream((const uint8_t *)buf, len, &st);
        if (st.error != NULL)
            fail_msg("%s: %s", name, st.error);
        assert_int_equal(st.used, len);   /* no message cut at the end of a file */
        assert_int_equal(st.first_set, 2); /* templates first */
        assert_int_equal(st.domain, 9);
        assert_true(st.records > 0);      /* files without data are not kept */
        assert_true(st.records <= G_N_ELEMENTS(st.ports));
        for (size_t r = 0; r < st.records; r++) {
            size_t id = (size_t)st.ports[r] - 1000;
            assert_true(id < n_seen);
            if (seen[id]++)
                fail_msg("record %zu found twice (again in %s)", id, name);
        }
        if (per_file != NULL)
            per_file[files] = st.records;
        files++;
        unlink(path);
    }
    g_ptr_array_unref(names);
    return files;
}

static exp_output_t *rotating_output(const char *dir, uint32_t interval_s, uint64_t size)
{
    g_autofree char *uri = g_strdup_printf("file:%s/flows.ipfix", dir);
    exp_output_cfg_t cfg;
    exp_output_cfg_init(&cfg);
    cfg.uri = uri;
    cfg.queue_records = 1024;
    cfg.observation_domain = 9;
    cfg.rotate_interval_s = interval_s;
    cfg.rotate_size = size;
    GError *err = NULL;
    exp_output_t *out = exp_output_new(&cfg, &err);
    if (out == NULL)
        fail_msg("%s", err->message);
    return out;
}

/* rotate_size: every file at most that large and complete; all records, each once. */
static void test_file_rotate_size(void **state)
{
    (void)state;
    g_autofree char *dir = g_dir_make_tmp("test_export.XXXXXX", NULL);
    gint64 t0 = g_get_real_time();
    exp_output_t *out = rotating_output(dir, 0, 2000);
    /* in bursts, so that messages of several sizes are built */
    for (uint64_t i = 0; i < 200; i += 50) {
        submit_range(out, i, i + 50);
        g_usleep(20000);
    }
    exp_output_stats_t st;
    assert_true(exp_output_close_stats(out, 5000, &st));
    gint64 t1 = g_get_real_time();
    assert_int_equal(st.records_sent, 200);
    uint8_t seen[200] = { 0 };
    size_t files = check_rotated(dir, t0, t1, 2000, false, seen, 200, NULL);
    /* 200 IPv4 records of 84 octets do not fit in fewer files of 2000 octets */
    assert_true(files >= (200 * 84 + 1999) / 2000);
    for (size_t i = 0; i < 200; i++)
        assert_int_equal(seen[i], 1);
    assert_int_equal(rmdir(dir), 0); /* nothing else left, no part file */
}

/* SIGHUP on a rotating output: the current file is finished and a new one started. */
static void test_file_rotate_reopen(void **state)
{
    (void)state;
    g_autofree char *dir = g_dir_make_tmp("test_export.XXXXXX", NULL);
    gint64 t0 = g_get_real_time();
    exp_output_t *out = rotating_output(dir, 0, 1u << 30);
    submit_range(out, 0, 10);
    g_usleep(200000);
    exp_output_reopen(out);
    g_usleep(200000);
    submit_range(out, 10, 30);
    assert_true(exp_output_close(out, 5000));
    gint64 t1 = g_get_real_time();
    uint8_t seen[30] = { 0 };
    size_t per_file[4];
    assert_int_equal(check_rotated(dir, t0, t1, 0, false, seen, 30, per_file), 2);
    assert_true((per_file[0] == 10 && per_file[1] == 20) ||
                (per_file[0] == 20 && per_file[1] == 10));
    assert_int_equal(rmdir(dir), 0);
}

/* A part file left by an earlier run is kept, named by its modification time. */
static void test_file_rotate_recovers_part(void **state)
{
    (void)state;
    g_autofree char *dir = g_dir_make_tmp("test_export.XXXXXX", NULL);
    gint64 t0 = g_get_real_time();
    exp_output_t *out = rotating_output(dir, 0, 1u << 30);
    submit_range(out, 0, 10);
    assert_true(exp_output_close(out, 5000));
    /* make the finished file look like an interrupted run's */
    GDir *d = g_dir_open(dir, 0, NULL);
    g_autofree char *first = g_build_filename(dir, g_dir_read_name(d), NULL);
    assert_null(g_dir_read_name(d));
    g_dir_close(d);
    g_autofree char *part = g_build_filename(dir, ".flows.ipfix.part", NULL);
    assert_int_equal(rename(first, part), 0);
    GDateTime *dt = g_date_time_new_utc(2020, 1, 2, 3, 4, 5);
    struct timespec ts[2] = { { .tv_sec = (time_t)g_date_time_to_unix(dt) },
                              { .tv_sec = (time_t)g_date_time_to_unix(dt) } };
    g_date_time_unref(dt);
    assert_int_equal(utimensat(AT_FDCWD, part, ts, 0), 0);

    out = rotating_output(dir, 0, 1u << 30);
    submit_range(out, 10, 20);
    assert_true(exp_output_close(out, 5000));
    gint64 t1 = g_get_real_time();
    g_autofree char *old = g_build_filename(dir, "flows.20200102T030405Z.ipfix", NULL);
    g_autofree char *buf = NULL;
    gsize len = 0;
    assert_true(g_file_get_contents(old, &buf, &len, NULL));
    tcp_stream_t st;
    parse_stream((const uint8_t *)buf, len, &st);
    assert_null(st.error);
    assert_int_equal(st.records, 10);
    for (uint64_t i = 0; i < 10; i++)
        assert_int_equal(st.ports[i], 1000 + i);
    unlink(old);
    uint8_t seen[20] = { 0 };
    memset(seen, 1, 10);
    assert_int_equal(check_rotated(dir, t0, t1, 0, false, seen, 20, NULL), 1);
    for (size_t i = 0; i < 20; i++)
        assert_int_equal(seen[i], 1);
    assert_int_equal(rmdir(dir), 0);
}

/* rotate_interval: files end on time even when no record comes (quiet output), and a file
 * with no data record is not kept. */
static void test_file_rotate_interval(void **state)
{
    (void)state;
    g_autofree char *dir = g_dir_make_tmp("test_export.XXXXXX", NULL);
    g_autofree char *part = g_build_filename(dir, ".flows.ipfix.part", NULL);
    gint64 t0 = g_get_real_time();
    exp_output_t *out = rotating_output(dir, 1, 0);
    for (uint64_t i = 0; i < 15; i++) {
        submit_range(out, i, i + 1);
        g_usleep(100000);
    }
    /* quiet: both boundaries after the last record pass, so every record is in a
     * finished file before close */
    g_usleep(2300000);
    uint8_t seen[15] = { 0 };
    gint64 t1 = g_get_real_time();
    assert_true(g_file_test(part, G_FILE_TEST_EXISTS)); /* the next file, templates only */
    /* checked (and removed) while the output still runs: only finished files are seen */
    GDir *d = g_dir_open(dir, 0, NULL);
    size_t finished = 0;
    const char *e;
    while ((e = g_dir_read_name(d)) != NULL)
        finished += e[0] != '.';
    g_dir_close(d);
    assert_true(finished >= 2);
    size_t files = check_rotated(dir, t0, t1, 0, true, seen, 15, NULL);
    assert_int_equal(files, finished);
    /* 1.5 s of records cross one or two whole-second boundaries */
    assert_true(files >= 2 && files <= 3);
    for (size_t i = 0; i < 15; i++)
        assert_int_equal(seen[i], 1);
    assert_true(exp_output_close(out, 5000));
    assert_false(g_file_test(part, G_FILE_TEST_EXISTS)); /* no data: deleted */
    assert_int_equal(rmdir(dir), 0);
}

/* --- JSON ------------------------------------------------------------------------------- */

static void test_json_file(void **state)
{
    (void)state;
    g_autofree char *dir = g_dir_make_tmp("test_export.XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "flows.json", NULL);
    g_autofree char *uri = g_strdup_printf("json:%s", path);
    exp_output_cfg_t cfg;
    exp_output_cfg_init(&cfg);
    cfg.uri = uri;
    cfg.queue_records = 256;
    exp_output_t *out = exp_output_new(&cfg, NULL);
    assert_non_null(out);
    assert_string_equal(exp_output_name(out), uri);
    for (uint64_t i = 0; i < 100; i++) {
        oc_flow_info_t f;
        make_flow(&f, i);
        assert_true(exp_output_submit(out, &f));
        if (i == 50) {
            exp_stats_t es = make_stats();
            exp_output_submit_stats(out, &es); /* JSON lines hold flows only */
        }
    }
    exp_output_stats_t st;
    assert_true(exp_output_close_stats(out, 5000, &st));
    assert_int_equal(st.records_sent, 100);
    g_autofree char *text = NULL;
    assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    assert_int_equal(g_strv_length(lines), 101); /* 100 lines and the empty tail */
    assert_non_null(strstr(lines[0], "\"sourceTransportPort\":1000"));
    assert_non_null(strstr(lines[99], "\"sourceTransportPort\":1099"));
    assert_non_null(strstr(lines[42], "\"packetDeltaCount\":10"));
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_full_counts_lost),
        cmocka_unit_test(test_queue_waits_for_room),
        cmocka_unit_test(test_output_errors),
        cmocka_unit_test(test_udp_messages),
        cmocka_unit_test(test_udp_template_refresh),
        cmocka_unit_test(test_udp_send_errors_counted),
        cmocka_unit_test(test_udp_stats),
        cmocka_unit_test(test_tcp_stream),
        cmocka_unit_test(test_tcp_reconnect),
        cmocka_unit_test(test_tcp_stats),
        cmocka_unit_test(test_tcp_collector_down),
        cmocka_unit_test(test_tcp_unread_possibly_lost),
        cmocka_unit_test(test_file_messages_and_stats),
        cmocka_unit_test(test_file_full_keeps_whole_messages),
        cmocka_unit_test(test_file_rotated_name),
        cmocka_unit_test(test_file_rotate_size),
        cmocka_unit_test(test_file_rotate_reopen),
        cmocka_unit_test(test_file_rotate_recovers_part),
        cmocka_unit_test(test_file_rotate_interval),
        cmocka_unit_test(test_json_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
