/*
 * Unit tests of the text-protocol dissectors (src/dpi/dpi_http.c, dpi_mail.c, dpi_ftp.c,
 * dpi_sip.c): HTTP, SMTP, POP3 and IMAP with their STARTTLS upgrades, FTP control and the
 * data connections it announces, SIP with the RTP/RTCP endpoints of its SDP, and SSDP.
 *
 * Most cases replay payloads taken from the shared captures through the real engine
 * (dpi_packet() with the whole dissector table), one TCP segment or UDP datagram at a time,
 * so recognition across segments, the direction a flow is seen from and the competition
 * between dissectors are what production sees. Expected labels are nDPI's for the same
 * captures (one .out per capture in expected/ndpi/); expected fields are the values tshark
 * shows for those packets. The rest call a dissector directly with truncated and hostile
 * bytes, each copied into a buffer of exactly its length so that a read past the end is an
 * error under valgrind or ASan.
 */
#include "config.h"

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "decode/dec.h"
#include "dpi/dpi.h"

#define T0 UINT64_C(1700000000000000)

/* ---- fixtures -------------------------------------------------------------------------- */

static oc_engine_stats_t stats;

static dpi_t *make_dpi(bool fields)
{
    oc_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.dpi = true;
    cfg.dpi_fields = fields;
    cfg.dpi_max_inspect = 64;
    cfg.dpi_max_fields = 64;
    dpi_t *d = NULL;
    dpi_init(&d, &cfg);
    assert_non_null(d);
    memset(&stats, 0, sizeof stats);
    return d;
}

/* A flow as the engine keeps it, plus what the test needs to build its packets. Side 0
 * sends the flow's first packet. */
typedef struct {
    dpi_flow_t df;
    uint8_t state;
    uint16_t proto;
    uint8_t family, l4;
    uint8_t addr[2][16];
    uint16_t port[2];
    uint32_t seq[2];
    uint64_t ts;
} tflow_t;

static tflow_t tflow(uint8_t l4, const char *a, uint16_t ap, const char *b, uint16_t bp)
{
    tflow_t f;
    memset(&f, 0, sizeof f);
    f.df.inspect = f.df.fields = DPI_NONE;
    f.state = DPI_ST_NEW;
    f.l4 = l4;
    f.family = strchr(a, ':') != NULL ? 6 : 4;
    assert_int_equal(inet_pton(f.family == 4 ? AF_INET : AF_INET6, a, f.addr[0]), 1);
    assert_int_equal(inet_pton(f.family == 4 ? AF_INET : AF_INET6, b, f.addr[1]), 1);
    f.port[0] = ap;
    f.port[1] = bp;
    f.seq[0] = 1000;
    f.seq[1] = 700000;
    f.ts = T0;
    return f;
}

static void send_flags(dpi_t *d, tflow_t *f, unsigned dir, const void *data, size_t n,
                       uint8_t flags)
{
    if (f->state == DPI_ST_DONE)
        return; /* the engine stops calling DPI for the flow */
    dec_packet_t p;
    memset(&p, 0, sizeof p);
    p.family = f->family;
    p.proto = f->l4;
    memcpy(p.src, f->addr[dir], 16);
    memcpy(p.dst, f->addr[dir ^ 1u], 16);
    p.sport = f->port[dir];
    p.dport = f->port[dir ^ 1u];
    p.tcp_seq = f->seq[dir];
    p.tcp_flags = flags;
    p.tcp_wscale = -1;
    p.payload = data;
    p.payload_caplen = (uint32_t)n;
    p.l4_payload_len = (uint32_t)n;
    if (f->l4 == 6)
        f->seq[dir] += (uint32_t)n;
    f->ts += 1000;
    dpi_packet(d, &f->df, &f->state, &f->proto, dir, f->ts, &p, &stats);
}

static void send_bytes(dpi_t *d, tflow_t *f, unsigned dir, const void *data, size_t n)
{
    send_flags(d, f, dir, data, n, f->l4 == 6 ? DEC_TCP_ACK | DEC_TCP_PSH : 0);
}

static void send_str(dpi_t *d, tflow_t *f, unsigned dir, const char *s)
{
    send_bytes(d, f, dir, s, strlen(s));
}

/* A SYN without payload: what the first packet of an announced data connection is. */
static void send_syn(dpi_t *d, tflow_t *f)
{
    send_flags(d, f, 0, NULL, 0, DEC_TCP_SYN);
}

/* The field as a C string, or NULL when absent. */
static const char *fld(dpi_t *d, const tflow_t *f, oc_field_t which)
{
    static char text[OC_FIELD_MAX_LEN + 1];
    size_t n;
    const char *v = oc_fields_get(dpi_fields(d, &f->df), which, &n);
    if (v == NULL)
        return NULL;
    memcpy(text, v, n);
    text[n] = '\0';
    return text;
}

static void assert_field(dpi_t *d, const tflow_t *f, oc_field_t which, const char *want)
{
    const char *got = fld(d, f, which);
    if (want == NULL) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, want);
}

/* One direct call of a dissector over copies of exactly @len and @peer_len bytes. */
typedef struct {
    uint8_t scratch[DPI_SCRATCH];
    oc_fields_t fields;
    uint16_t proto;
} direct_t;

static dpi_verdict_t call(dpi_fn_t fn, direct_t *st, uint8_t l4, unsigned dir, const void *data,
                          size_t len, const void *peer, size_t peer_len, bool full)
{
    uint8_t *copy = malloc(len > 0 ? len : 1);
    uint8_t *pcopy = malloc(peer_len > 0 ? peer_len : 1);
    assert_non_null(copy);
    assert_non_null(pcopy);
    if (len > 0)
        memcpy(copy, data, len);
    if (peer_len > 0)
        memcpy(pcopy, peer, peer_len);
    static const uint8_t a[16] = {192, 0, 2, 1}, b[16] = {192, 0, 2, 2};
    static uint8_t udp_buf[DPI_STREAM_CAP];
    static uint32_t udp_buf_len;
    dpi_ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.data = copy;
    ctx.len = (uint32_t)len;
    ctx.peer = l4 == 6 ? pcopy : NULL;
    ctx.peer_len = l4 == 6 ? (uint32_t)peer_len : 0;
    ctx.stream_full = full;
    ctx.l4 = l4;
    ctx.dir = (uint8_t)dir;
    ctx.family = 4;
    ctx.sport = 40000;
    ctx.dport = 5060;
    ctx.saddr = a;
    ctx.daddr = b;
    ctx.scratch = st->scratch;
    ctx.fields = &st->fields;
    ctx.proto = st->proto;
    if (l4 == 17) {
        ctx.buf = udp_buf;
        ctx.buf_len = &udp_buf_len;
    }
    dpi_verdict_t v = fn(&ctx);
    st->proto = ctx.proto;
    free(copy);
    free(pcopy);
    return v;
}

static const char *direct_field(const direct_t *st, oc_field_t which)
{
    static char text[OC_FIELD_MAX_LEN + 1];
    size_t n;
    const char *v = oc_fields_get(&st->fields, which, &n);
    if (v == NULL)
        return NULL;
    memcpy(text, v, n);
    text[n] = '\0';
    return text;
}

/* ---- HTTP ------------------------------------------------------------------------------ */

/* ndpi-http-lines-split: the request's header lines come in two segments, the response's
 * status line alone. nDPI: HTTP, URL toni.lan:31337/, StatusCode 200, User-Agent
 * uclient-fetch; tshark: Content-type text/html; charset=UTF-8. */
static void test_http_lines_split(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(true);
    tflow_t f = tflow(6, "192.168.0.1", 39236, "192.168.0.20", 31337);
    send_str(d, &f, 0, "GET / HTTP/1.1\r\nHost: toni.lan:31337\r\n");
    assert_int_equal(f.proto, OC_PROTO_HTTP);
    assert_int_equal(f.state, DPI_ST_INSPECTING);
    send_str(d, &f, 0, "User-Agent: uclient-fetch\r\n\r\n");
    send_str(d, &f, 1, "HTTP/1.0 200 OK\r\n");
    assert_int_equal(f.state, DPI_ST_INSPECTING); /* Content-Type not seen yet */
    send_str(d, &f, 1,
             "Server: SimpleHTTP/0.6 Python/2.7.16\r\nDate: Thu, 02 Jul 2020 18:09:00 GMT\r\n"
             "Content-type: text/html; charset=UTF-8\r\nContent-Length: 1476\r\n\r\n"
             "<!DOCTYPE html PUBLIC \"-//W3C//DTD HTML 3.2 Final//EN\"><html>\n");
    assert_int_equal(f.state, DPI_ST_DONE);
    assert_int_equal(f.proto, OC_PROTO_HTTP);
    assert_field(d, &f, OC_FIELD_HTTP_METHOD, "GET");
    assert_field(d, &f, OC_FIELD_HTTP_HOST, "toni.lan:31337");
    assert_field(d, &f, OC_FIELD_HTTP_TARGET, "/");
    assert_field(d, &f, OC_FIELD_HTTP_USER_AGENT, "uclient-fetch");
    assert_field(d, &f, OC_FIELD_HTTP_STATUS, "200");
    assert_field(d, &f, OC_FIELD_HTTP_CONTENT_TYPE, "text/html; charset=UTF-8");
    dpi_free(d);
}

/* The request line itself split in the middle of the method and of the version. */
static void test_http_request_line_split(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(true);
    tflow_t f = tflow(6, "10.1.1.1", 50000, "10.1.1.2", 8080);
    send_str(d, &f, 0, "PR");
    assert_int_equal(f.proto, OC_PROTO_UNKNOWN);
    assert_int_equal(f.state, DPI_ST_INSPECTING);
    send_str(d, &f, 0, "OPFIND /dav/ HT");
    assert_int_equal(f.proto, OC_PROTO_UNKNOWN);
    send_str(d, &f, 0, "TP/1.1\r\nHost: files\r\nDepth: 1\r\n\r\n");
    assert_int_equal(f.proto, OC_PROTO_HTTP);
    assert_field(d, &f, OC_FIELD_HTTP_METHOD, "PROPFIND");
    assert_field(d, &f, OC_FIELD_HTTP_TARGET, "/dav/");
    assert_field(d, &f, OC_FIELD_HTTP_HOST, "files");
    /* A response without Content-Type ends inspection once its headers are complete. */
    send_str(d, &f, 1, "HTTP/1.1 207 Multi-Status\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(f.state, DPI_ST_DONE);
    assert_field(d, &f, OC_FIELD_HTTP_STATUS, "207");
    assert_field(d, &f, OC_FIELD_HTTP_CONTENT_TYPE, NULL);
    dpi_free(d);
}

/* ndpi-1kxun 192.168.115.8:49609: the server answers 100 Continue first, and nDPI reports
 * StatusCode 100 for the flow; so do we. A capture that starts with the response (the
 * request was missed) is still HTTP. */
static void test_http_interim_and_response_first(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(true);
    tflow_t f = tflow(6, "192.168.115.8", 49609, "42.120.51.152", 8080);
    send_str(d, &f, 0, "POST /api/proxy HTTP/1.1\r\nHost: 42.120.51.152:8080\r\n"
                       "Expect: 100-continue\r\n\r\n");
    send_str(d, &f, 1, "HTTP/1.1 100 Continue\r\n\r\n");
    assert_int_equal(f.state, DPI_ST_DONE);
    assert_field(d, &f, OC_FIELD_HTTP_STATUS, "100");

    tflow_t g = tflow(6, "10.0.0.80", 80, "10.0.0.9", 41000);
    send_str(d, &g, 0, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n\r\n");
    assert_int_equal(g.proto, OC_PROTO_HTTP);
    assert_field(d, &g, OC_FIELD_HTTP_STATUS, "404");
    assert_field(d, &g, OC_FIELD_HTTP_CONTENT_TYPE, "text/plain");
    dpi_free(d);
}

/* Look-alikes HTTP must leave to others: SIP and RTSP requests, lower-case methods, HTTP/2
 * versions, server greetings. */
static void test_http_rejects(void **state)
{
    (void)state;
    static const char *const no[] = {
        "OPTIONS sip:bob@example.com SIP/2.0\r\n",
        "DESCRIBE rtsp://example.com/a RTSP/1.0\r\n",
        "OPTIONS rtsp://example.com/a RTSP/1.0\r\n",
        "get / HTTP/1.1\r\n",
        "GET / HTTP/2.0\r\n",
        "GET  / HTTP/1.1\r\n",
        "GET / HTTP/1.1 extra\r\n",
        "220 mail.example.com ESMTP\r\n",
        "SSH-2.0-OpenSSH_9.0\r\n",
        "HTTP/1.1 20\r\n",
        "HTTP/1.1 2000 OK\r\n",
    };
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        direct_t st;
        memset(&st, 0, sizeof st);
        dpi_verdict_t v = call(dpi_http, &st, 6, 0, no[i], strlen(no[i]), NULL, 0, false);
        if (v != DPI_NO)
            fail_msg("HTTP took \"%s\"", no[i]);
    }
}

/* A header line that never ends: read up to the cap and no further; the request line and
 * what is complete still count. */
static void test_http_endless_header(void **state)
{
    (void)state;
    static uint8_t buf[DPI_STREAM_CAP];
    const char *head = "GET /x HTTP/1.1\r\nUser-Agent: ua\r\nHost: ";
    size_t hl = strlen(head);
    memcpy(buf, head, hl);
    memset(buf + hl, 'h', sizeof buf - hl);
    direct_t st;
    memset(&st, 0, sizeof st);
    assert_int_equal(call(dpi_http, &st, 6, 0, buf, sizeof buf / 2, NULL, 0, false),
                     DPI_MATCH_MORE);
    assert_int_equal(call(dpi_http, &st, 6, 0, buf, sizeof buf, NULL, 0, true), DPI_MATCH_MORE);
    assert_string_equal(direct_field(&st, OC_FIELD_HTTP_USER_AGENT), "ua");
    assert_null(direct_field(&st, OC_FIELD_HTTP_HOST));
    /* The other side sends something that is not HTTP: the flow is done. */
    assert_int_equal(call(dpi_http, &st, 6, 1, "\x16\x03\x01", 3, buf, sizeof buf, false),
                     DPI_MATCH);

    /* A request line without end is waited for only until the prefix is full. */
    memcpy(buf, "GET /", 5);
    memset(buf + 5, 'a', sizeof buf - 5);
    memset(&st, 0, sizeof st);
    assert_int_equal(call(dpi_http, &st, 6, 0, buf, 100, NULL, 0, false), DPI_MAYBE);
    assert_int_equal(call(dpi_http, &st, 6, 0, buf, sizeof buf, NULL, 0, true), DPI_NO);
}

/* ---- SMTP ------------------------------------------------------------------------------ */

/* ndpi-smtp: nDPI says SMTP; tshark shows the EHLO (refused, then HELO), MAIL From and the
 * first RCPT To. */
static void test_smtp_session(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(true);
    tflow_t f = tflow(6, "194.7.248.153", 2127, "172.16.114.207", 25);
    send_str(d, &f, 1, "220 pigeon.eyrie.af.mil ESMTP Sendmail 8.8.7/8.8.7; Sat, 7 Aug 1999 "
                       "08:20:11 -0400\r\n");
    assert_int_equal(f.proto, OC_PROTO_SMTP);
    send_str(d, &f, 0, "EHLO delta.peach.mil\r\n");
    send_str(d, &f, 1, "500 Command unrecognized\r\n");
    send_str(d, &f, 0, "HELO delta.peach.mil\r\n");
    send_str(d, &f, 1, "250 (delta.peach.mil) pleased to meet you.\r\n");
    send_str(d, &f, 0, "MAIL From:<coreys@delta.peach.mil>\r\n");
    send_str(d, &f, 1, "250 <coreys@delta.peach.mil>... Sender Ok\r\n");
    assert_int_equal(f.state, DPI_ST_INSPECTING);
    send_str(d, &f, 0, "RCPT To:<camronm@pigeon.eyrie.af.mil>\r\n");
    assert_int_equal(f.state, DPI_ST_DONE);
    assert_int_equal(f.proto, OC_PROTO_SMTP);
    assert_field(d, &f, OC_FIELD_SMTP_HELO, "delta.peach.mil");
    assert_field(d, &f, OC_FIELD_SMTP_FROM, "<coreys@delta.peach.mil>");
    assert_field(d, &f, OC_FIELD_SMTP_TO, "<camronm@pigeon.eyrie.af.mil>");
    assert_field(d, &f, OC_FIELD_STARTTLS, NULL);
    dpi_free(d);
}

/* The ClientHello of ndpi-smtp-starttls's IPv6 flow (frame 46): SNI dovecot.weberlab.de,
 * which is nDPI's Hostname/SNI for that flow. */
static const uint8_t dovecot_hello[] = {
    0x16, 0x03, 0x01, 0x00, 0xb1, 0x01, 0x00, 0x00, 0xad, 0x03, 0x03, 0x51, 0x2c, 0xed, 0x44,
    0x10, 0x54, 0xd9, 0xfb, 0xa9, 0xf6, 0xdf, 0xbf, 0x82, 0xca, 0xea, 0xf4, 0x61, 0x18, 0x3d,
    0x0f, 0x24, 0x53, 0xd0, 0x63, 0xef, 0x1c, 0x96, 0xd4, 0x4c, 0x1d, 0xb2, 0x33, 0x00, 0x00,
    0x1e, 0xc0, 0x2b, 0xc0, 0x2f, 0xcc, 0xa9, 0xcc, 0xa8, 0xc0, 0x2c, 0xc0, 0x30, 0xc0, 0x0a,
    0xc0, 0x09, 0xc0, 0x13, 0xc0, 0x14, 0x00, 0x33, 0x00, 0x39, 0x00, 0x2f, 0x00, 0x35, 0x00,
    0x0a, 0x01, 0x00, 0x00, 0x66, 0x00, 0x00, 0x00, 0x18, 0x00, 0x16, 0x00, 0x00, 0x13, 0x64,
    0x6f, 0x76, 0x65, 0x63, 0x6f, 0x74, 0x2e, 0x77, 0x65, 0x62, 0x65, 0x72, 0x6c, 0x61, 0x62,
    0x2e, 0x64, 0x65, 0x00, 0x17, 0x00, 0x00, 0xff, 0x01, 0x00, 0x01, 0x00, 0x00, 0x0a, 0x00,
    0x0a, 0x00, 0x08, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18, 0x00, 0x19, 0x00, 0x0b, 0x00, 0x02,
    0x01, 0x00, 0x00, 0x23, 0x00, 0x00, 0x00, 0x05, 0x00, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00,
    0xff, 0x03, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x18, 0x00, 0x16, 0x04, 0x03, 0x05, 0x03, 0x06,
    0x03, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01, 0x05, 0x01, 0x06, 0x01, 0x02, 0x03,
    0x02, 0x01,
};

/* ndpi-smtp-starttls, the IPv6 flow: nDPI says SMTPS with SNI dovecot.weberlab.de. */
static void test_smtp_starttls(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(true);
    tflow_t f = tflow(6, "2003:de:2016:125:fc36:8317:4e86:cb72", 7562, "2003:de:2016:120::a08:53",
                      25);
    send_str(d, &f, 1, "220 jw-vm08-int-dns.webernetz.net ESMTP Postfix (Ubuntu)\r\n");
    send_str(d, &f, 0, "EHLO [IPv6:2003:de:2016:125:fc36:8317:4e86:cb72]\r\n");
    send_str(d, &f, 1, "250-jw-vm08-int-dns.webernetz.net\r\n250-PIPELINING\r\n"
                       "250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n250-STARTTLS\r\n"
                       "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 DSN\r\n");
    send_str(d, &f, 0, "STARTTLS\r\n");
    assert_int_equal(f.proto, OC_PROTO_SMTP); /* not accepted yet */
    send_str(d, &f, 1, "220 2.0.0 Ready to start TLS\r\n");
    assert_int_equal(f.proto, OC_PROTO_SMTPS);
    send_bytes(d, &f, 0, dovecot_hello, sizeof dovecot_hello);
    assert_int_equal(f.proto, OC_PROTO_SMTPS);
    assert_int_equal(f.state, DPI_ST_INSPECTING); /* the server's certificate is to come */
    assert_field(d, &f, OC_FIELD_STARTTLS, "1");
    assert_field(d, &f, OC_FIELD_TLS_SNI, "dovecot.weberlab.de");
    assert_field(d, &f, OC_FIELD_SMTP_HELO, "[IPv6:2003:de:2016:125:fc36:8317:4e86:cb72]");
    dpi_free(d);
}

/* A refused STARTTLS (RFC 3207: 454) leaves the session in clear. Fields off: the label
 * still follows the session. */
static void test_smtp_starttls_refused(void **state)
{
    (void)state;
    for (int fields = 0; fields < 2; fields++) {
        dpi_t *d = make_dpi(fields != 0);
        tflow_t f = tflow(6, "10.0.0.1", 40000, "10.0.0.2", 587);
        send_str(d, &f, 1, "220 mx.example.org ESMTP\r\n");
        send_str(d, &f, 0, "EHLO client.example.org\r\nSTARTTLS\r\n");
        send_str(d, &f, 1, "250 mx.example.org\r\n454 4.7.0 TLS not available\r\n");
        assert_int_equal(f.proto, OC_PROTO_SMTP);
        send_str(d, &f, 0, "MAIL FROM: <a@example.org> SIZE=100\r\nRCPT TO:<b@example.org>\r\n");
        assert_int_equal(f.state, DPI_ST_DONE);
        assert_int_equal(f.proto, OC_PROTO_SMTP);
        if (fields) {
            assert_field(d, &f, OC_FIELD_SMTP_FROM, "<a@example.org>");
            assert_field(d, &f, OC_FIELD_SMTP_TO, "<b@example.org>");
            assert_field(d, &f, OC_FIELD_STARTTLS, NULL);
        }
        dpi_free(d);
    }
}

/* Both greet with 220: the client's first command or the greeting's words decide. */
static void test_smtp_or_ftp(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(true);
    tflow_t f = tflow(6, "10.0.0.1", 40001, "10.0.0.2", 2525);
    send_str(d, &f, 1, "220 host.example.org Service ready\r\n");
    assert_int_equal(f.proto, OC_PROTO_UNKNOWN);
    send_str(d, &f, 0, "EHLO me\r\n");
    assert_int_equal(f.proto, OC_PROTO_SMTP);

    /* ndpi-ftp: nDPI says FTP_CONTROL; vsFTPd's greeting names FTP. */
    tflow_t g = tflow(6, "192.168.1.212", 50694, "90.130.70.73", 21);
    send_str(d, &g, 1, "220 (vsFTPd 3.0.3)\r\n");
    assert_int_equal(g.proto, OC_PROTO_FTP_CONTROL);

    tflow_t h = tflow(6, "10.0.0.1", 40002, "10.0.0.2", 2121);
    send_str(d, &h, 1, "220 host.example.org Service ready\r\n");
    send_str(d, &h, 0, "USER anonymous\r\n");
    assert_int_equal(h.proto, OC_PROTO_FTP_CONTROL);
    dpi_free(d);
}

/* ---- POP3 ------------------------------------------------------------------------------ */

/* ndpi-pop3, 143.225.229.181:35287: POP3 for nDPI; done once the client logs in. And the
 * flows that pipeline CAPA and QUIT. */
static void test_pop3_sessions(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(true);
    tflow_t f = tflow(6, "143.225.229.181", 35287, "74.208.5.28", 110);
    send_str(d, &f, 1, "+OK POP server ready H migmxus005\r\n");
    assert_int_equal(f.proto, OC_PROTO_POP3);
    assert_int_equal(f.state, DPI_ST_INSPECTING);
    send_str(d, &f, 0, "user cicciopernacchio@mail.com\r\n");
    assert_int_equal(f.state, DPI_ST_DONE);
    assert_int_equal(f.proto, OC_PROTO_POP3);

    tflow_t g = tflow(6, "192.168.0.4", 26272, "212.227.15.166", 110);
    send_str(d, &g, 1, "+OK POP server ready H mimap4 0MHoUr-1VDxRD3Ui5-003eq2\r\n");
    send_str(d, &g, 0, "CAPA\r\n");
    send_str(d, &g, 0, "QUIT\r\n");
    assert_int_equal(g.state, DPI_ST_DONE);
    assert_int_equal(g.proto, OC_PROTO_POP3);
    dpi_free(d);
}

/* zeek-pop3-starttls (no nDPI file; tshark shows STLS answered +OK, then TLS): pop3s. */
static void test_pop3_stls(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(true);
    tflow_t f = tflow(6, "192.168.4.149", 54775, "192.168.4.149", 110);
    send_str(d, &f, 1, "+OK ladymacbeth.local Cyrus POP3 v2.3.16 server ready "
                       "<15125655727712503824.1400173552@ladymacbeth.local>\r\n");
    send_str(d, &f, 0, "STLS\r\n");
    assert_int_equal(f.proto, OC_PROTO_POP3);
    send_str(d, &f, 1, "+OK Begin TLS negotiation now\r\n");
    assert_int_equal(f.proto, OC_PROTO_POP3S);
    assert_field(d, &f, OC_FIELD_STARTTLS, "1");
    dpi_free(d);
}

/* The reply to STLS is found by counting replies, CAPA's being several lines long (one of
 * which is "STLS"); a refusal keeps the session POP3. */
static void test_pop3_capa_then_stls(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(true);
    tflow_t f = tflow(6, "10.0.0.1", 40003, "10.0.0.2", 110);
    send_str(d, &f, 1, "+OK ready\r\n");
    send_str(d, &f, 0, "CAPA\r\n");
    send_str(d, &f, 1, "+OK Capability list follows\r\nTOP\r\nUSER\r\nSTLS\r\n.\r\n");
    send_str(d, &f, 0, "STLS\r\n");
    send_str(d, &f, 1, "+OK Begin TLS\r\n");
    assert_int_equal(f.proto, OC_PROTO_POP3S);
    send_bytes(d, &f, 0, dovecot_hello, sizeof dovecot_hello);
    assert_field(d, &f, OC_FIELD_TLS_SNI, "dovecot.weberlab.de");

    tflow_t g = tflow(6, "10.0.0.1", 40004, "10.0.0.2", 110);
    send_str(d, &g, 1, "+OK ready\r\n");
    send_str(d, &g, 0, "CAPA\r\nSTLS\r\n");
    send_str(d, &g, 1, "+OK\r\nUSER\r\n.\r\n-ERR not now\r\n");
    assert_int_equal(g.proto, OC_PROTO_POP3);
    send_str(d, &g, 0, "USER bob\r\n");
    assert_int_equal(g.state, DPI_ST_DONE);
    assert_int_equal(g.proto, OC_PROTO_POP3);
    assert_field(d, &g, OC_FIELD_STARTTLS, NULL);
    dpi_free(d);
}

/* Redis answers +OK too, but only after the client spoke, and not in POP3 words. */
static void test_pop3_not_redis(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(true);
    tflow_t f = tflow(6, "10.0.0.1", 40005, "10.0.0.2", 6379);
    send_str(d, &f, 0, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
    send_str(d, &f, 1, "+OK\r\n");
    assert_int_not_equal(f.proto, OC_PROTO_POP3);
    dpi_free(d);
}

/* ---- IMAP ------------------------------------------------------------------------------ */

/* ndpi-imap: IMAP for nDPI; done at LOGIN. */
static void test_imap_login(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(true);
    tflow_t f = tflow(6, "10.40.4.2", 46045, "10.40.3.2", 143);
    send_str(d, &f, 1, "* OK IMAP4Rev1 Server Version 4.9.04.012\r\n");
    assert_int_equal(f.proto, OC_PROTO_IMAP);
    send_str(d, &f, 0, "C00000 CAPABILITY\r\n");
    send_str(d, &f, 1, "* CAPABILITY IMAP4rev1 IDLE AUTH=LOGIN AUTH=PLAIN AUTH=CRAM-MD5\r\n");
    send_str(d, &f, 1, "C00000 OK CAPABILITY completed\r\n");
    assert_int_equal(f.state, DPI_ST_INSPECTING);
    send_str(d, &f, 0, "C00001 LOGIN samir pfres\r\n");
    assert_int_equal(f.state, DPI_ST_DONE);
    assert_int_equal(f.proto, OC_PROTO_IMAP);
    dpi_free(d);
}

/* STARTTLS is accepted by the tagged OK with its own tag, not by untagged lines or other
 * tags' completions. */
static void test_imap_starttls(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(true);
    tflow_t f = tflow(6, "10.0.0.1", 40006, "10.0.0.2", 143);
    send_str(d, &f, 1, "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n");
    send_str(d, &f, 0, "a0 NOOP\r\na1 STARTTLS\r\n");
    send_str(d, &f, 1, "* OK still here\r\na0 OK NOOP done\r\n");
    assert_int_equal(f.proto, OC_PROTO_IMAP);
    send_str(d, &f, 1, "a1 OK Begin TLS negotiation now\r\n");
    assert_int_equal(f.proto, OC_PROTO_IMAPS);
    send_bytes(d, &f, 0, dovecot_hello, sizeof dovecot_hello);
    assert_field(d, &f, OC_FIELD_STARTTLS, "1");
    assert_field(d, &f, OC_FIELD_TLS_SNI, "dovecot.weberlab.de");
    dpi_free(d);
}

/* ---- FTP ------------------------------------------------------------------------------- */

/* ndpi-ftp: the 227 reply announces 90.130.70.73:25685 (100 * 256 + 85), the connection nDPI
 * labels FTP_DATA. */
static void test_ftp_pasv(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(true);
    tflow_t f = tflow(6, "192.168.1.212", 50694, "90.130.70.73", 21);
    static const char *const lines[][2] = {
        {"1", "220 (vsFTPd 3.0.3)\r\n"},
        {"0", "USER anonymous\r\n"},
        {"1", "331 Please specify the password.\r\n"},
        {"0", "PASS NcFTP@\r\n"},
        {"1", "230 Login successful.\r\n"},
        {"0", "PWD\r\n"},
        {"1", "257 \"/\" is the current directory\r\n"},
        {"0", "PASV\r\n"},
        {"1", "227 Entering Passive Mode (90,130,70,73,100,85).\r\n"},
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        send_str(d, &f, lines[i][0][0] == '1', lines[i][1]);
    assert_int_equal(f.proto, OC_PROTO_FTP_CONTROL);
    assert_int_equal(f.state, DPI_ST_INSPECTING); /* more transfers may be announced */

    tflow_t data = tflow(6, "192.168.1.212", 50695, "90.130.70.73", 25685);
    send_syn(d, &data);
    assert_int_equal(data.proto, OC_PROTO_FTP_DATA);
    assert_int_equal(data.state, DPI_ST_DONE);
    /* Used once: a second connection to the same port is inspected as usual. */
    tflow_t again = tflow(6, "192.168.1.212", 50699, "90.130.70.73", 25685);
    send_syn(d, &again);
    assert_int_equal(again.proto, OC_PROTO_UNKNOWN);
    dpi_free(d);
}

/* PORT and EPRT name the client's endpoint, 229 the server's port; QUIT ends it. */
static void test_ftp_port_eprt_epsv(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(true);
    tflow_t f = tflow(6, "10.0.0.1", 40007, "10.0.0.2", 21);
    send_str(d, &f, 1, "220 FTP server ready\r\n");
    send_str(d, &f, 0, "USER u\r\nPORT 10,0,0,1,4,1\r\n");
    send_str(d, &f, 0, "EPRT |2|2001:db8::7|5282|\r\nEPSV\r\n");
    send_str(d, &f, 1, "200 ok\r\n200 ok\r\n229 Entering Extended Passive Mode (|||6446|)\r\n");

    tflow_t active = tflow(6, "10.0.0.2", 20, "10.0.0.1", 1025); /* 4 * 256 + 1 */
    send_syn(d, &active);
    assert_int_equal(active.proto, OC_PROTO_FTP_DATA);
    tflow_t v6 = tflow(6, "2001:db8::9", 20, "2001:db8::7", 5282);
    send_syn(d, &v6);
    assert_int_equal(v6.proto, OC_PROTO_FTP_DATA);
    tflow_t passive = tflow(6, "10.0.0.1", 40008, "10.0.0.2", 6446);
    send_syn(d, &passive);
    assert_int_equal(passive.proto, OC_PROTO_FTP_DATA);

    send_str(d, &f, 0, "QUIT\r\n");
    assert_int_equal(f.state, DPI_ST_DONE);
    assert_int_equal(f.proto, OC_PROTO_FTP_CONTROL);
    dpi_free(d);
}

/* AUTH TLS accepted with 234 (RFC 4217): startTLS, and the ClientHello's SNI. */
static void test_ftp_auth_tls(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(true);
    tflow_t f = tflow(6, "10.0.0.1", 40009, "10.0.0.2", 21);
    send_str(d, &f, 1, "220 ProFTPD Server ready.\r\n");
    send_str(d, &f, 0, "AUTH TLS\r\n");
    send_str(d, &f, 1, "234 AUTH TLS successful\r\n");
    send_bytes(d, &f, 0, dovecot_hello, sizeof dovecot_hello);
    assert_int_equal(f.proto, OC_PROTO_FTP_CONTROL);
    assert_field(d, &f, OC_FIELD_STARTTLS, "1");
    assert_field(d, &f, OC_FIELD_TLS_SNI, "dovecot.weberlab.de");

    /* Refused (534): the session goes on in clear and its PASV is still read. */
    tflow_t g = tflow(6, "10.0.0.1", 40012, "10.0.0.2", 21);
    send_str(d, &g, 1, "220 FTP ready\r\n");
    send_str(d, &g, 0, "AUTH TLS\r\n");
    send_str(d, &g, 1, "534 Local policy on server does not allow TLS\r\n");
    send_str(d, &g, 0, "USER u\r\n");
    send_str(d, &g, 0, "PASV\r\n");
    send_str(d, &g, 1, "227 Entering Passive Mode (10,0,0,2,39,16)\r\n");
    assert_field(d, &g, OC_FIELD_STARTTLS, NULL);
    tflow_t data = tflow(6, "10.0.0.1", 40013, "10.0.0.2", 39 * 256 + 16);
    send_syn(d, &data);
    assert_int_equal(data.proto, OC_PROTO_FTP_DATA);
    dpi_free(d);
}

/* Numbers out of range and broken delimiters announce nothing (and read nothing past the
 * line). */
static void test_ftp_malformed_announcements(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(true);
    tflow_t f = tflow(6, "10.0.0.1", 40010, "10.0.0.2", 21);
    send_str(d, &f, 1, "220 FTP\r\n");
    send_str(d, &f, 0, "PORT 10,0,0,1,256,1\r\nPORT 10,0,0\r\nEPRT |1|10.0.0.1|\r\n"
                       "EPRT |3|x|7|\r\nEPRT |1|10.0.0.1|99999|\r\nEPRT |\r\n");
    send_str(d, &f, 1, "227 Entering Passive Mode (10,0,0,2,1)\r\n229 (|||\r\n229 (||7|)\r\n"
                       "227 (1000,0,0,2,1,1)\r\n");
    assert_int_equal(f.proto, OC_PROTO_FTP_CONTROL);
    /* what the lines would announce if their faults were overlooked */
    static const uint16_t ports[] = {7, 1, 257, 99999 & 0xffff};
    for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++) {
        tflow_t g = tflow(6, "10.0.0.2", 20, "10.0.0.1", ports[i]);
        send_syn(d, &g);
        assert_int_equal(g.proto, OC_PROTO_UNKNOWN);
        tflow_t h = tflow(6, "10.0.0.1", 41000, "10.0.0.2", ports[i]);
        send_syn(d, &h);
        assert_int_equal(h.proto, OC_PROTO_UNKNOWN);
    }
    dpi_free(d);
}

/* ---- SIP ------------------------------------------------------------------------------- */

/* ndpi-gre: one "100 Trying" inside GRE; nDPI says SIP. Fields as tshark shows them. */
static void test_sip_response_only(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(true);
    tflow_t f = tflow(17, "192.168.10.210", 5060, "192.168.103.40", 5060);
    send_str(d, &f, 0,
             "SIP/2.0 100 Trying\r\nVia: SIP/2.0/UDP 192.168.103.40:5060;rport=5060;received="
             "192.168.103.40;branch=z9hG4bK_AI2000Aug06491367227110\r\nTo: <sip:271@192.168.10."
             "210>\r\nFrom: <sip:281@192.168.103.40>;tag=AICCF805E578CE6403\r\nCall-ID: "
             "AI1737AB5491ADC392@192.168.103.40\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(f.proto, OC_PROTO_SIP);
    assert_int_equal(f.state, DPI_ST_DONE);
    assert_field(d, &f, OC_FIELD_SIP_METHOD, NULL);
    assert_field(d, &f, OC_FIELD_SIP_TO, "<sip:271@192.168.10.210>");
    assert_field(d, &f, OC_FIELD_SIP_FROM, "<sip:281@192.168.103.40>;tag=AICCF805E578CE6403");
    assert_field(d, &f, OC_FIELD_SIP_CALL_ID, "AI1737AB5491ADC392@192.168.103.40");
    dpi_free(d);
}

/* ndpi-sip frames 90 and 92: the INVITE's SDP offers 192.168.1.2:30000, the 183's answers
 * 212.242.33.36:40392. nDPI labels 192.168.1.2:30000 -> 212.242.33.36:40392 RTP; its RTCP
 * (30001 -> 40393) is one packet nDPI leaves Unknown: we announce it as RTCP. */
static const char sip_invite[] =
    "INVITE sip:35104724@sip.cybercity.dk SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.168.1.2;branch=z9hG4bKnp10144774-4725f980192.168.1.2;rport\r\n"
    "From: \"arik\" <sip:35104723@sip.cybercity.dk>;tag=b56e6e\r\n"
    "To: <sip:35104724@sip.cybercity.dk>\r\n"
    "Call-ID: 11894297-4432a9f8@192.168.1.2\r\n"
    "CSeq: 2 INVITE\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 270\r\n"
    "Contact: <sip:35104723@192.168.1.2>\r\n"
    "Max-Forwards: 70\r\n"
    "User-Agent: Nero SIPPS IP Phone Version 2.0.51.16\r\n"
    "\r\n"
    "v=0\r\n"
    "o=SIPPS 11888330 11888327 IN IP4 192.168.1.2\r\n"
    "s=SIP call\r\n"
    "c=IN IP4 192.168.1.2\r\n"
    "t=0 0\r\n"
    "m=audio 30000 RTP/AVP 0 8 97 2 3\r\n"
    "a=rtpmap:0 pcmu/8000\r\n"
    "a=rtpmap:8 pcma/8000\r\n"
    "a=rtpmap:97 iLBC/8000\r\n"
    "a=rtpmap:2 G726-32/8000\r\n"
    "a=rtpmap:3 GSM/8000\r\n"
    "a=fmtp:97 mode=20\r\n"
    "a=sendrecv\r\n";

static const char sip_183[] =
    "SIP/2.0 183 In band info available\r\n"
    "Call-ID: 11894297-4432a9f8@192.168.1.2\r\n"
    "Content-Type: application/sdp\r\n"
    "CSeq: 2 INVITE\r\n"
    "From: \"arik\" <sip:35104723@sip.cybercity.dk>;tag=b56e6e\r\n"
    "Server: Cirpack/v4.38e (gw_sip)\r\n"
    "To: <sip:35104724@sip.cybercity.dk>;tag=00-04075-1701baa2-2dfdf7c21\r\n"
    "Content-Length: 199\r\n"
    "\r\n"
    "v=0\r\n"
    "o=cp10 112047106116 112047106116 IN IP4 212.242.33.75\r\n"
    "s=SIP Call\r\n"
    "c=IN IP4 212.242.33.36\r\n"
    "t=0 0\r\n"
    "m=audio 40392 RTP/AVP 8 0\r\n"
    "b=AS:64\r\n"
    "a=rtpmap:8 PCMA/8000/1\r\n"
    "a=rtpmap:0 PCMU/8000/1\r\n"
    "a=ptime:20\r\n";

static void test_sip_sdp_announces_media(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(true);
    tflow_t f = tflow(17, "192.168.1.2", 5060, "212.242.33.35", 5060);
    send_str(d, &f, 0, sip_invite);
    assert_int_equal(f.proto, OC_PROTO_SIP);
    assert_int_equal(f.state, DPI_ST_INSPECTING); /* waits for the answer's SDP */
    send_str(d, &f, 1, sip_183);
    assert_int_equal(f.state, DPI_ST_DONE);
    assert_field(d, &f, OC_FIELD_SIP_METHOD, "INVITE");
    assert_field(d, &f, OC_FIELD_SIP_FROM, "\"arik\" <sip:35104723@sip.cybercity.dk>;tag=b56e6e");
    assert_field(d, &f, OC_FIELD_SIP_TO, "<sip:35104724@sip.cybercity.dk>");
    assert_field(d, &f, OC_FIELD_SIP_CALL_ID, "11894297-4432a9f8@192.168.1.2");
    assert_field(d, &f, OC_FIELD_SIP_USER_AGENT, "Nero SIPPS IP Phone Version 2.0.51.16");

    tflow_t rtp = tflow(17, "192.168.1.2", 30000, "212.242.33.36", 40392);
    send_str(d, &rtp, 0, "\x80\x08o\xae");
    assert_int_equal(rtp.proto, OC_PROTO_RTP);
    tflow_t rtcp = tflow(17, "192.168.1.2", 30001, "212.242.33.36", 40393);
    send_str(d, &rtcp, 0, "\x80\xc8");
    assert_int_equal(rtcp.proto, OC_PROTO_RTCP);
    dpi_free(d);
}

/* An explicit RTCP port (RFC 3605), a media-level c= over the session's, IPv6, a disabled
 * stream (port 0) and a non-RTP one (no announcement). Called directly. */
static void test_sdp_variants(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(true);
    const char *msg =
        "SIP/2.0 200 OK\r\nFrom: a\r\nTo: b\r\nCall-ID: x\r\nc: application/sdp\r\n\r\n"
        "v=0\r\nc=IN IP4 198.51.100.1\r\n"
        "m=audio 0 RTP/AVP 0\r\n"
        "m=audio 7000 RTP/AVP 0\r\na=rtcp:7011\r\nc=IN IP4 198.51.100.2/127\r\n"
        "m=video 8000 RTP/SAVP 96\r\nc=IN IP6 2001:db8::5\r\n"
        "m=application 9000 TCP/MSRP *\r\n";
    tflow_t f = tflow(17, "198.51.100.9", 5060, "198.51.100.10", 5060);
    send_str(d, &f, 1, msg);
    assert_int_equal(f.proto, OC_PROTO_SIP);
    tflow_t a = tflow(17, "198.51.100.2", 7000, "203.0.113.1", 4000);
    send_str(d, &a, 0, "x");
    assert_int_equal(a.proto, OC_PROTO_RTP);
    tflow_t b = tflow(17, "198.51.100.2", 7011, "203.0.113.1", 4001);
    send_str(d, &b, 0, "x");
    assert_int_equal(b.proto, OC_PROTO_RTCP);
    tflow_t c = tflow(17, "2001:db8::5", 8000, "2001:db8::6", 4002);
    send_str(d, &c, 0, "x");
    assert_int_equal(c.proto, OC_PROTO_RTP);
    tflow_t e = tflow(17, "198.51.100.1", 9000, "203.0.113.1", 4003);
    send_str(d, &e, 0, "x");
    assert_int_not_equal(e.proto, OC_PROTO_RTP);
    tflow_t z = tflow(17, "198.51.100.1", 1, "203.0.113.1", 4004); /* port 0 + 1 */
    send_str(d, &z, 0, "x");
    assert_int_not_equal(z.proto, OC_PROTO_RTCP);
    dpi_free(d);
}

/* SIP over TCP: a message split across segments, a second one right behind it with a body
 * told by the compact l header; each read once. */
static void test_sip_tcp(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(true);
    tflow_t f = tflow(6, "10.0.0.1", 40011, "10.0.0.2", 5060);
    send_str(d, &f, 0, "REGISTER sip:example.com SIP/2.0\r\nf: <sip:al");
    assert_int_equal(f.proto, OC_PROTO_SIP);
    send_str(d, &f, 0, "ice@example.com>\r\nt: <sip:alice@example.com>\r\ni: abc@10.0.0.1\r\n"
                       "User-Agent: test-phone/1\r\nl: 0\r\n\r\n");
    assert_field(d, &f, OC_FIELD_SIP_METHOD, "REGISTER");
    assert_field(d, &f, OC_FIELD_SIP_FROM, "<sip:alice@example.com>");
    assert_field(d, &f, OC_FIELD_SIP_CALL_ID, "abc@10.0.0.1");
    assert_int_equal(f.state, DPI_ST_DONE);
    dpi_free(d);
}

/* What SIP must not take; keep-alives before the first message are waited through. */
static void test_sip_rejects(void **state)
{
    (void)state;
    static const char *const no[] = {
        "HTTP/1.1 200 OK\r\n\r\n",
        "INVITE sip:a@b HTTP/1.1\r\n\r\n",
        "SIP/2.0 20\r\n",
        "SIP/2.0 2000 OK\r\n",
        "INVITE sip:a@b SIP/2.0",
        "invite sip:a@b SIP/2.0\r\n\r\n",
        "GET / HTTP/1.1\r\n",
    };
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        direct_t st;
        memset(&st, 0, sizeof st);
        if (call(dpi_sip, &st, 17, 0, no[i], strlen(no[i]), NULL, 0, false) != DPI_NO)
            fail_msg("SIP took \"%s\"", no[i]);
    }
    direct_t st;
    memset(&st, 0, sizeof st);
    assert_int_equal(call(dpi_sip, &st, 17, 0, "\r\n\r\n", 4, NULL, 0, false), DPI_MAYBE);
    assert_int_equal(call(dpi_sip, &st, 17, 0, "     ", 5, NULL, 0, false), DPI_MAYBE);
}

/* ---- SSDP ------------------------------------------------------------------------------ */

/* ndpi-1kxun: M-SEARCH to 239.255.255.250:1900, SSDP for nDPI with Hostname
 * 239.255.255.250:1900. */
static void test_ssdp(void **state)
{
    (void)state;
    dpi_t *d = make_dpi(true);
    tflow_t f = tflow(17, "192.168.5.57", 55809, "239.255.255.250", 1900);
    send_str(d, &f, 0,
             "M-SEARCH * HTTP/1.1\r\nHost:239.255.255.250:1900\r\nST:urn:schemas-upnp-org:device:"
             "InternetGatewayDevice:1\r\nMan:\"ssdp:discover\"\r\nMX:3\r\n\r\n");
    assert_int_equal(f.proto, OC_PROTO_SSDP);
    assert_int_equal(f.state, DPI_ST_DONE);
    assert_field(d, &f, OC_FIELD_HTTP_METHOD, "M-SEARCH");
    assert_field(d, &f, OC_FIELD_HTTP_HOST, "239.255.255.250:1900");

    tflow_t g = tflow(17, "192.168.5.1", 1900, "192.168.5.57", 55809);
    send_str(d, &g, 0, "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: upnp:rootdevice\r\n"
                       "USN: uuid:x::upnp:rootdevice\r\nSERVER: Linux UPnP/1.0 x/1\r\n\r\n");
    assert_int_equal(g.proto, OC_PROTO_SSDP);

    direct_t st;
    memset(&st, 0, sizeof st);
    const char *plain = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n";
    assert_int_equal(call(dpi_ssdp, &st, 17, 0, plain, strlen(plain), NULL, 0, false), DPI_NO);
    dpi_free(d);
}

/* ---- hostile input --------------------------------------------------------------------- */

static uint32_t rng = 12345;

static uint32_t next_rand(void)
{
    rng = rng * 1103515245u + 12345u;
    return rng >> 8;
}

/* Bytes that look enough like text protocols to get deep into the parsers. */
static void text_noise(uint8_t *p, size_t n)
{
    static const char *const words[] = {
        "GET ", "HTTP/1.1 ", "SIP/2.0 ", "INVITE ", " SIP/2.0", "\r\n", "\n", "\r\n\r\n",
        "220 ", "220-", "+OK ", "* OK ", "a1 STARTTLS\r\n", "STARTTLS\r\n", "STLS\r\n",
        "227 (", "229 (|||", "PORT ", "EPRT |2|", "Content-Length: ", "l: 99999999",
        "Content-Type: application/sdp", "c=IN IP4 ", "m=audio ", "a=rtcp:", ",", "|",
        "999", "65536", "Host: ", ":", "EHLO x", "MAIL FROM:<", "\x16\x03\x01\x00\x05",
    };
    size_t i = 0;
    while (i < n) {
        uint32_t r = next_rand();
        if (r % 3 == 0) {
            p[i++] = (uint8_t)(next_rand() & 0xff);
            continue;
        }
        const char *w = words[r % (sizeof words / sizeof words[0])];
        for (size_t k = 0; w[k] != '\0' && i < n; k++)
            p[i++] = (uint8_t)w[k];
    }
}

/* Every text dissector, called directly with noise, prefixes of noise and full streams:
 * no verdict is checked beyond not crashing and not reading outside the buffers. */
static void test_text_noise_direct(void **state)
{
    (void)state;
    static const dpi_fn_t fns[] = {dpi_http, dpi_smtp, dpi_pop3, dpi_imap, dpi_ftp, dpi_sip,
                                   dpi_ssdp};
    static uint8_t a[DPI_STREAM_CAP], b[DPI_STREAM_CAP];
    for (int round = 0; round < 300; round++) {
        text_noise(a, sizeof a);
        text_noise(b, sizeof b);
        for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
            direct_t st;
            memset(&st, 0, sizeof st);
            size_t la = 1 + next_rand() % sizeof a, lb = next_rand() % sizeof b;
            for (int step = 0; step < 6; step++) {
                unsigned dir = (unsigned)(step & 1);
                bool full = step >= 4;
                size_t len = full ? sizeof a : la * (size_t)(step + 1) / 6;
                if (fns[i] == dpi_sip || fns[i] == dpi_ssdp) {
                    (void)call(fns[i], &st, 17, dir, dir ? b : a, len, NULL, 0, false);
                } else {
                    (void)call(fns[i], &st, 6, dir, dir ? b : a, len, dir ? a : b,
                               dir ? la : lb, full);
                }
            }
        }
    }
}

/* The same noise through the engine in segments, both transports, on the ports that make
 * each dissector's job hardest: inspection always ends within the budget. */
static void test_text_noise_engine(void **state)
{
    (void)state;
    static uint8_t buf[2048];
    static const uint16_t ports[] = {21, 25, 80, 110, 143, 1900, 5060};
    for (int round = 0; round < 200; round++) {
        dpi_t *d = make_dpi(round % 2 == 0);
        for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++) {
            tflow_t f = tflow(round % 3 == 0 ? 17 : 6, "10.9.0.1", 30000, "10.9.0.2", ports[i]);
            /* Segments past a full prefix are not given to dissectors but count too:
             * twice the budget is enough whatever the mix. */
            for (int k = 0; k < 2 * DPI_MAX_PACKETS + 2 && f.state != DPI_ST_DONE; k++) {
                size_t n = 1 + next_rand() % sizeof buf;
                text_noise(buf, n);
                send_bytes(d, &f, (unsigned)(next_rand() & 1), buf, n);
            }
            assert_int_equal(f.state, DPI_ST_DONE);
            dpi_flow_release(d, &f.df);
        }
        dpi_free(d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_lines_split),
        cmocka_unit_test(test_http_request_line_split),
        cmocka_unit_test(test_http_interim_and_response_first),
        cmocka_unit_test(test_http_rejects),
        cmocka_unit_test(test_http_endless_header),
        cmocka_unit_test(test_smtp_session),
        cmocka_unit_test(test_smtp_starttls),
        cmocka_unit_test(test_smtp_starttls_refused),
        cmocka_unit_test(test_smtp_or_ftp),
        cmocka_unit_test(test_pop3_sessions),
        cmocka_unit_test(test_pop3_stls),
        cmocka_unit_test(test_pop3_capa_then_stls),
        cmocka_unit_test(test_pop3_not_redis),
        cmocka_unit_test(test_imap_login),
        cmocka_unit_test(test_imap_starttls),
        cmocka_unit_test(test_ftp_pasv),
        cmocka_unit_test(test_ftp_port_eprt_epsv),
        cmocka_unit_test(test_ftp_auth_tls),
        cmocka_unit_test(test_ftp_malformed_announcements),
        cmocka_unit_test(test_sip_response_only),
        cmocka_unit_test(test_sip_sdp_announces_media),
        cmocka_unit_test(test_sdp_variants),
        cmocka_unit_test(test_sip_tcp),
        cmocka_unit_test(test_sip_rejects),
        cmocka_unit_test(test_ssdp),
        cmocka_unit_test(test_text_noise_direct),
        cmocka_unit_test(test_text_noise_engine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
