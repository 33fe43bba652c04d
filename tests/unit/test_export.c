/*
 * Unit tests of src/export: the bounded ring (a full ring counts losses and never waits),
 * URI and setting errors, and the UDP and JSON outputs end to end on this host. UDP
 * datagrams are received on a socket of the test and parsed by hand from RFC 7011's message
 * and set headers (not with our encoder), so sizes, set ids, sequence numbers, export time
 * and the observation domain are checked independently.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "export/exp.h"
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
    exp_queue_init(&q, 4);
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
    assert_int_equal(exp_queue_pop(&q, out, 3, g_get_monotonic_time(), &st), 3);
    assert_false(st.empty);
    assert_int_equal(out[0].id, 1);
    assert_int_equal(out[2].id, 3);
    /* wraps around the ring in order */
    make_flow(&f, 7);
    assert_true(exp_queue_push(&q, &f));
    assert_int_equal(exp_queue_pop(&q, out, 8, g_get_monotonic_time(), &st), 2);
    assert_int_equal(out[0].id, 4);
    assert_int_equal(out[1].id, 7);
    assert_true(st.empty);
    /* an empty ring waits at most until the deadline */
    gint64 t0 = g_get_monotonic_time();
    assert_int_equal(exp_queue_pop(&q, out, 8, t0 + 20000, &st), 0);
    assert_true(g_get_monotonic_time() - t0 >= 15000);
    exp_queue_set_closing(&q);
    assert_false(exp_queue_push(&q, &f)); /* closing: refused and counted */
    assert_int_equal(q.lost, 3);
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
        { "tcp://127.0.0.1:4739", EXP_ERROR_URI, "not implemented yet" },
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
    cfg.uri = "file:/dev/null";
    cfg.rotate_size = 1000;
    expect_new_error(&cfg, EXP_ERROR_URI, "rotation is not implemented");
    cfg.rotate_size = 0;

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
    g_usleep(1200000);
    make_flow(&f, 2);
    assert_true(exp_output_submit(out, &f));
    assert_true(exp_output_close(out, 5000));
    dgram_t d[16];
    size_t n = receive_all(fd, d, 16);
    close(fd);
    assert_int_equal(n, 4);
    assert_int_equal(d[0].first_set, 2);
    assert_int_equal(d[1].data_records, 1);
    assert_int_equal(d[2].first_set, 2);
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
    assert_int_equal(st.records_sent + st.records_lost, 3);
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
        cmocka_unit_test(test_output_errors),
        cmocka_unit_test(test_udp_messages),
        cmocka_unit_test(test_udp_template_refresh),
        cmocka_unit_test(test_udp_send_errors_counted),
        cmocka_unit_test(test_json_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
