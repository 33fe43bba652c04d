/*
 * Unit tests of the configuration module: defaults, every kind of bad file with its own
 * message (file, line, key and allowed values), options overriding the file, -o replacing
 * the file's outputs, and the sample etc/ocellus.ini documenting every key with its default.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/cfg.h"

static bool load(cfg_t *c, const char *text, GError **err)
{
    return cfg_load_data(c, "t.ini", text, strlen(text), err);
}

/* Loads @text, expects failure with @code and every fragment of @want in the message. */
static void expect_error(const char *text, int code, const char *want1, const char *want2)
{
    cfg_t c;
    cfg_init(&c);
    GError *err = NULL;
    assert_false(load(&c, text, &err));
    assert_non_null(err);
    if (err->code != code || strstr(err->message, want1) == NULL ||
        (want2 != NULL && strstr(err->message, want2) == NULL))
        fail_msg("for %s got [%d] %s", text, err->code, err->message);
    g_error_free(err);
    cfg_clear(&c);
}

static void test_cfg_defaults(void **state)
{
    (void)state;
    cfg_t c;
    cfg_init(&c);
    assert_int_equal(c.flow.idle_timeout_s, 30);
    assert_int_equal(c.flow.active_timeout_s, 300);
    assert_int_equal(c.flow.tcp_linger_s, 2);
    assert_int_equal(c.flow.max_flows, 262144);
    assert_int_equal(c.snaplen, 65535);
    assert_true(c.promiscuous);
    assert_int_equal(c.shutdown_timeout_s, 10);
    assert_false(c.log_syslog);
    assert_int_equal(c.stats_interval_s, 60);
    assert_int_equal(c.n_outputs, 0);
    cfg_clear(&c);
}

static void test_cfg_good_file(void **state)
{
    (void)state;
    cfg_t c;
    cfg_init(&c);
    GError *err = NULL;
    const char *text = "# comment\n  # another\n\n[flow]\nidle_timeout = 45\n"
                       "max_record_octets=4294967295\n[capture]\npromiscuous = no\n"
                       "filter = tcp port 80\n[daemon]\npid_file = /run/x.pid\n[export]\nobservation_domain = 7\n"
                       "[output nf]\nuri = udp://127.0.0.1:9995\nuniflow = true\n"
                       "[output  v6]\nuri = tcp://[::1]:4739\nqueue = 100\n";
    if (!load(&c, text, &err))
        fail_msg("%s", err->message);
    cfg_finish(&c);
    assert_int_equal(c.flow.idle_timeout_s, 45);
    assert_int_equal(c.flow.max_record_octets, UINT64_C(4294967295));
    assert_false(c.promiscuous);
    assert_string_equal(c.filter, "tcp port 80");
    assert_string_equal(c.pid_file, "/run/x.pid");
    assert_int_equal(c.n_outputs, 2);
    assert_string_equal(c.outputs[0].name, "nf");
    assert_string_equal(c.outputs[0].uri, "udp://127.0.0.1:9995");
    assert_true(c.outputs[0].uniflow);
    assert_int_equal(c.outputs[0].observation_domain, 7); /* from [export] */
    assert_string_equal(c.outputs[1].name, "v6");
    assert_int_equal(c.outputs[1].queue_records, 100);
    /* An option after the file reaches the outputs that did not choose their own. */
    assert_true(cfg_set_option(&c, "observation-domain", "9", &err));
    cfg_finish(&c);
    assert_int_equal(c.outputs[0].observation_domain, 9);
    assert_null(c.outputs[1].template_path);
    cfg_clear(&c);
}

static void test_cfg_errors_name_file_line_key(void **state)
{
    (void)state;
    expect_error("[flow]\nidle_timeout = 0\n", CFG_ERROR_VALUE, "t.ini:2: [flow] idle_timeout",
                 "allowed 1..86400");
    expect_error("[flow]\nidle_timeout = abc\n", CFG_ERROR_VALUE, "t.ini:2:", "\"abc\"");
    expect_error("[flow]\n\nmax_record_octets = 100\n", CFG_ERROR_VALUE, "t.ini:3:",
                 "allowed 0 or 65535..");
    expect_error("[flow]\nidle_timeout = 5\nidle_timeout = 6\n", CFG_ERROR_DUPLICATE, "t.ini:3:",
                 "idle_timeout is given twice");
    expect_error("[flow]\n[flow]\n", CFG_ERROR_DUPLICATE, "t.ini:2:", "line 1");
    expect_error("[flows]\n", CFG_ERROR_SECTION, "t.ini:1: unknown section [flows]", "[output NAME]");
    expect_error("[output]\nuri = json:-\n", CFG_ERROR_SECTION, "t.ini:1:", "[output]");
    expect_error("[flow]\nidle = 5\n", CFG_ERROR_KEY, "t.ini:2: unknown key \"idle\" in [flow]",
                 "idle_timeout");
    expect_error("idle_timeout = 5\n", CFG_ERROR_SYNTAX, "t.ini:1: key outside any section", NULL);
    expect_error("[flow]\njust words\n", CFG_ERROR_SYNTAX, "t.ini:2: expected \"key = value\"", NULL);
    expect_error("[flow\n", CFG_ERROR_SYNTAX, "t.ini:1:", "closing ]");
    expect_error("[flow]\ntunnels = middle\n", CFG_ERROR_VALUE, "t.ini:2:", "inner or outer");
    expect_error("[capture]\npromiscuous = maybe\n", CFG_ERROR_VALUE, "t.ini:2:", "true or false");
    expect_error("[daemon]\nlogging = syslog\n", CFG_ERROR_KEY, "t.ini:2: unknown key",
                 "pid_file, log, stats_interval");
    expect_error("[daemon]\nlog = journal\n", CFG_ERROR_VALUE, "t.ini:2: [daemon] log",
                 "allowed stderr or syslog");
    expect_error("[daemon]\nstats_interval = 86401\n", CFG_ERROR_VALUE,
                 "t.ini:2: [daemon] stats_interval", "allowed 0 or 1..86400");
    expect_error("[daemon]\nstats_interval = -1\n", CFG_ERROR_VALUE, "t.ini:2:", "\"-1\"");
    expect_error("[output x]\nuniflow = true\n", CFG_ERROR_MISSING, "t.ini:1: [output x] has no uri", NULL);
    expect_error("[output x]\nuri = http://a:1\n", CFG_ERROR_VALUE, "t.ini:2: [output x] uri",
                 "udp://HOST:PORT");
    expect_error("[output x]\nuri = udp://host:70000\n", CFG_ERROR_VALUE, "t.ini:2:", "port 1..65535");
    expect_error("[output x]\nuri = udp://host\n", CFG_ERROR_VALUE, "t.ini:2:", NULL);
    expect_error("[capture]\nfilter =\n", CFG_ERROR_VALUE, "t.ini:2: [capture] filter is empty", NULL);
    expect_error("[flow]\n; not a GKeyFile comment\n", CFG_ERROR_SYNTAX, "t.ini:2:", NULL);
    expect_error("[ flow ]\nidle_timeout = 5\n", CFG_ERROR_SYNTAX, "t.ini:1:", "spaces inside");
    expect_error("[dpis]\n", CFG_ERROR_SECTION, "t.ini:1:", "[flow], [dpi], [export]");
    expect_error("[flow]\n = 5\n", CFG_ERROR_SYNTAX, "t.ini:2: no key before '=' in [flow]", NULL);
    expect_error("[flow]\nmax_inspect = 5\n", CFG_ERROR_KEY, "t.ini:2: unknown key",
                 "(max_inspect is a key of [dpi])");
    expect_error("[output o]\nuri = json:-\nURI = json:-\n", CFG_ERROR_KEY, "t.ini:3:",
                 "(keys are lower case: uri)");
    expect_error("[flow]\ndatagram_size = 5\n", CFG_ERROR_KEY, "t.ini:2:",
                 "(datagram_size is a key of [output NAME])");
    expect_error("[flow]\nidle_timeout = 5 # s\n", CFG_ERROR_VALUE, "t.ini:2:",
                 "(# starts a comment only at the start of a line)");
    expect_error("[flow]\n\nidle_timeout = 5\xe2\x82\n", CFG_ERROR_SYNTAX,
                 "t.ini:3: not valid UTF-8 (byte 0xe2, byte 17 of the line)", NULL);

    cfg_t c;
    cfg_init(&c);
    GError *err = NULL;
    assert_false(cfg_load_data(&c, "bin.ini", "[flow]\0\n", 8, &err));
    assert_non_null(strstr(err->message, "bin.ini: contains a NUL byte"));
    g_clear_error(&err);
    assert_false(cfg_load_file(&c, "/nonexistent/ocellus.ini", &err));
    assert_int_equal(err->code, CFG_ERROR_FILE);
    assert_non_null(strstr(err->message,
                           "/nonexistent/ocellus.ini: cannot read the configuration file: "));
    g_clear_error(&err);
    /* A UTF-8 byte-order mark (Windows editors) is not part of the first line. */
    static const char bom[] = "\xef\xbb\xbf[flow]\nidle_timeout = 7\n";
    if (!cfg_load_data(&c, "bom.ini", bom, sizeof bom - 1, &err))
        fail_msg("%s", err->message);
    assert_int_equal(c.flow.idle_timeout_s, 7);
    cfg_clear(&c);
}

/* [daemon] log and stats_interval: file values, 0 = off, and the long options over them. */
static void test_cfg_daemon_log_and_stats(void **state)
{
    (void)state;
    cfg_t c;
    cfg_init(&c);
    GError *err = NULL;
    if (!load(&c, "[daemon]\nlog = syslog\nstats_interval = 0\n", &err))
        fail_msg("%s", err->message);
    assert_true(c.log_syslog);
    assert_int_equal(c.stats_interval_s, 0);
    assert_true(cfg_set_option(&c, "log", "stderr", &err));
    assert_false(c.log_syslog);
    assert_true(cfg_set_option(&c, "stats-interval", "5", &err));
    assert_int_equal(c.stats_interval_s, 5);
    assert_true(cfg_set_option(&c, "stats-interval", "86400", &err));
    assert_int_equal(c.stats_interval_s, 86400);
    assert_false(cfg_set_option(&c, "log", "Syslog", &err));
    assert_non_null(strstr(err->message, "--log = \"Syslog\""));
    assert_non_null(strstr(err->message, "stderr or syslog"));
    g_clear_error(&err);
    assert_false(cfg_set_option(&c, "stats-interval", "1.5", &err));
    assert_non_null(strstr(err->message, "--stats-interval"));
    g_clear_error(&err);
    assert_int_equal(c.stats_interval_s, 86400); /* a rejected value changes nothing */
    assert_false(c.log_syslog);
    expect_error("[daemon]\nlog = syslog\nlog = stderr\n", CFG_ERROR_DUPLICATE, "t.ini:3:",
                 "log is given twice");
    cfg_clear(&c);
}

static void test_cfg_options_override_and_o_replaces(void **state)
{
    (void)state;
    cfg_t c;
    cfg_init(&c);
    GError *err = NULL;
    assert_true(load(&c, "[flow]\nidle_timeout = 45\n[output a]\nuri = json:-\n", &err));
    assert_true(cfg_set_option(&c, "idle-timeout", "12", &err));
    assert_int_equal(c.flow.idle_timeout_s, 12);
    assert_false(c.flow.tunnels_outer);
    assert_true(cfg_set_option(&c, "tunnels", "outer", &err));
    assert_true(c.flow.tunnels_outer);
    assert_false(cfg_set_option(&c, "active-timeout", "0", &err));
    assert_non_null(strstr(err->message, "--active-timeout"));
    assert_non_null(strstr(err->message, "1..604800"));
    g_clear_error(&err);
    assert_false(cfg_set_option(&c, "no-such", "1", &err));
    assert_int_equal(err->code, CFG_ERROR_KEY);
    g_clear_error(&err);
    assert_int_equal(c.n_outputs, 1);
    assert_true(cfg_add_output_uri(&c, "udp://127.0.0.1:2055", &err));
    assert_true(cfg_add_output_uri(&c, "file:/tmp/x.ipfix", &err));
    assert_int_equal(c.n_outputs, 2);
    assert_string_equal(c.outputs[0].uri, "udp://127.0.0.1:2055");
    assert_false(cfg_add_output_uri(&c, "ftp://x", &err));
    g_clear_error(&err);
    /* A file read after -o checks its outputs but does not bring them back. */
    assert_true(load(&c, "[output b]\nuri = json:/tmp/b\n", &err));
    assert_int_equal(c.n_outputs, 2);
    cfg_clear(&c);
}

/* etc/ocellus.ini must load, hold every key, and state the defaults the code uses. */
static void test_cfg_sample_file_documents_every_key(void **state)
{
    (void)state;
    const char *srcdir = getenv("top_srcdir");
    if (srcdir == NULL)
        srcdir = ".";
    g_autofree char *path = g_build_filename(srcdir, "etc", "ocellus.ini", NULL);
    g_autofree char *text = NULL;
    assert_true(g_file_get_contents(path, &text, NULL, NULL));
    cfg_t c, d;
    cfg_init(&c);
    cfg_init(&d);
    GError *err = NULL;
    if (!cfg_load_file(&c, path, &err))
        fail_msg("%s", err->message);
    assert_int_equal(c.flow.idle_timeout_s, d.flow.idle_timeout_s);
    assert_int_equal(c.flow.active_timeout_s, d.flow.active_timeout_s);
    assert_int_equal(c.flow.tcp_linger_s, d.flow.tcp_linger_s);
    assert_int_equal(c.flow.max_flows, d.flow.max_flows);
    assert_int_equal(c.flow.max_record_octets, d.flow.max_record_octets);
    assert_int_equal(c.flow.tunnels_outer, d.flow.tunnels_outer);
    assert_int_equal(c.flow.max_frag_datagrams, d.flow.max_frag_datagrams);
    assert_int_equal(c.flow.frag_timeout_s, d.flow.frag_timeout_s);
    assert_int_equal(c.snaplen, d.snaplen);
    assert_int_equal(c.promiscuous, d.promiscuous);
    assert_int_equal(c.buffer_size_mib, d.buffer_size_mib);
    assert_int_equal(c.observation_domain, d.observation_domain);
    assert_int_equal(c.template_refresh_s, d.template_refresh_s);
    assert_int_equal(c.shutdown_timeout_s, d.shutdown_timeout_s);
    assert_int_equal(c.log_syslog, d.log_syslog);
    assert_int_equal(c.stats_interval_s, d.stats_interval_s);
    assert_true(c.n_outputs >= 1);
    exp_output_cfg_t def;
    exp_output_cfg_init(&def);
    assert_int_equal(c.outputs[0].datagram_size, def.datagram_size);
    assert_int_equal(c.outputs[0].queue_records, def.queue_records);
    /* Every key of the table appears in the sample (commented out or not). */
    g_autofree char *help = cfg_options_help();
    g_auto(GStrv) lines = g_strsplit(help, "\n", -1);
    for (unsigned i = 0; lines[i] != NULL && lines[i][0] != '\0'; i++) {
        char section[32], key[64];
        assert_int_equal(sscanf(lines[i], " [%31[^]]] %63s", section, key), 2);
        g_autofree char *needle = g_strdup_printf("%s =", key);
        if (strstr(text, needle) == NULL)
            fail_msg("etc/ocellus.ini does not document [%s] %s", section, key);
    }
    cfg_clear(&c);
    cfg_clear(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cfg_defaults),
        cmocka_unit_test(test_cfg_good_file),
        cmocka_unit_test(test_cfg_errors_name_file_line_key),
        cmocka_unit_test(test_cfg_daemon_log_and_stats),
        cmocka_unit_test(test_cfg_options_override_and_o_replaces),
        cmocka_unit_test(test_cfg_sample_file_documents_every_key),
    };
    return cmocka_run_group_tests_name("cfg", tests, NULL, NULL);
}
