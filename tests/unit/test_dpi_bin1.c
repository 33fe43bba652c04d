/*
 * Unit tests of the DNS/mDNS/LLMNR, DHCP, DHCPv6, NTP, BGP, MQTT, Kerberos and MySQL
 * dissectors, called directly through a dpi_ctx_t built here.
 *
 * Payloads come from the shared captures (tshark -T fields -e udp.payload / tcp.payload;
 * the capture and frame are named at each one) and the values expected from them are
 * tshark's or nDPI's reading of those frames. Kerberos and MySQL have no capture in the
 * corpus: their messages were built from RFC 4120's ASN.1 and MySQL's HandshakeV10 layout
 * and checked with tshark (KRB5 AS-REQ / KRB Error, MySQL Server Greeting, nothing
 * malformed). Hostile inputs: compression loops, pointer chains, over-long names, lengths
 * past the end, every truncation of every sample and random bytes.
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

#include "dpi/dpi.h"

/* ---- harness --------------------------------------------------------------------------- */

typedef struct {
    dpi_ctx_t ctx;
    oc_fields_t fields;
    uint8_t scratch[DPI_SCRATCH];
    uint8_t addr[2][16];          /* [0] the flow's source, [1] its destination */
    uint16_t port[2];
    uint8_t stream[2][DPI_STREAM_CAP];
    uint32_t stream_len[2];
    uint8_t udp_buf[DPI_STREAM_CAP];
    uint32_t udp_buf_len;
} harness_t;

static harness_t *h_new(uint8_t l4, const char *src, uint16_t sport, const char *dst,
                        uint16_t dport)
{
    harness_t *h = calloc(1, sizeof *h);
    assert_non_null(h);
    h->ctx.l4 = l4;
    h->ctx.family = 4;
    h->ctx.fields = &h->fields;
    h->ctx.scratch = h->scratch;
    const char *a[2] = {src, dst};
    for (int i = 0; i < 2; i++) {
        unsigned b[4];
        assert_int_equal(sscanf(a[i], "%u.%u.%u.%u", &b[0], &b[1], &b[2], &b[3]), 4);
        for (int j = 0; j < 4; j++)
            h->addr[i][j] = (uint8_t)b[j];
    }
    h->port[0] = sport;
    h->port[1] = dport;
    return h;
}

static void h_dir(harness_t *h, uint8_t dir)
{
    h->ctx.dir = dir;
    h->ctx.saddr = h->addr[dir];
    h->ctx.daddr = h->addr[dir ^ 1];
    h->ctx.sport = h->port[dir];
    h->ctx.dport = h->port[dir ^ 1];
}

/* One datagram from side @dir (0: the flow's source). The bytes are copied to a buffer of
 * exactly their size so that a sanitizer build catches any read past them. */
static dpi_verdict_t h_udp(harness_t *h, dpi_fn_t fn, uint8_t dir, const uint8_t *p, size_t n)
{
    h_dir(h, dir);
    uint8_t *copy = malloc(n > 0 ? n : 1);
    assert_non_null(copy);
    if (n > 0)
        memcpy(copy, p, n);
    h->ctx.data = copy;
    h->ctx.len = (uint32_t)n;
    h->ctx.new_off = 0;
    h->ctx.peer = NULL;
    h->ctx.peer_len = 0;
    h->ctx.buf = h->udp_buf;
    h->ctx.buf_len = &h->udp_buf_len;
    dpi_verdict_t v = fn(&h->ctx);
    h->ctx.pkts[dir]++;
    free(copy);
    return v;
}

/* One TCP segment from side @dir: appended to that direction's stream prefix, as dpi.c
 * does, and the dissector sees the whole prefix plus the other side's. */
static dpi_verdict_t h_tcp(harness_t *h, dpi_fn_t fn, uint8_t dir, const uint8_t *p, size_t n)
{
    h_dir(h, dir);
    uint32_t room = DPI_STREAM_CAP - h->stream_len[dir];
    if (n > room)
        n = room;
    memcpy(h->stream[dir] + h->stream_len[dir], p, n);
    h->ctx.new_off = h->stream_len[dir];
    h->stream_len[dir] += (uint32_t)n;
    h->ctx.data = h->stream[dir];
    h->ctx.len = h->stream_len[dir];
    h->ctx.peer = h->stream[dir ^ 1];
    h->ctx.peer_len = h->stream_len[dir ^ 1];
    h->ctx.stream_full = h->stream_len[dir] == DPI_STREAM_CAP;
    h->ctx.buf = NULL;
    h->ctx.buf_len = NULL;
    dpi_verdict_t v = fn(&h->ctx);
    h->ctx.pkts[dir]++;
    return v;
}

static void assert_field(const harness_t *h, oc_field_t f, const char *want)
{
    size_t len = 0;
    const char *v = oc_fields_get(&h->fields, f, &len);
    if (want == NULL) {
        if (v != NULL)
            fail_msg("%s: expected absent, got \"%.*s\"", oc_field_name(f), (int)len, v);
        return;
    }
    if (v == NULL)
        fail_msg("%s: expected \"%s\", absent", oc_field_name(f), want);
    if (len != strlen(want) || memcmp(v, want, len) != 0)
        fail_msg("%s: expected \"%s\", got \"%.*s\"", oc_field_name(f), want, (int)len, v);
}

/* Hex text (spaces allowed) to bytes; returns the count. */
static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (*s != '\0') {
        if (*s == ' ') {
            s++;
            continue;
        }
        unsigned b;
        assert_int_equal(sscanf(s, "%2x", &b), 1);
        assert_true(n < cap);
        out[n++] = (uint8_t)b;
        s += 2;
    }
    return n;
}

/* ---- captured and built samples ------------------------------------------------------ */

/* ndpi-dns frame 4/5: A e7.whatsapp.net and its response with 8 A records. */
static const char DNS_WA_Q[] = "784301000001000000000000026537087768617473617070036e65740000010001";
static const char DNS_WA_R[] =
    "784381800001000800000000026537087768617473617070036e65740000010001"
    "c00c00010001000001eb0004a92ddbeb c00c00010001000001eb0004a92f288e"
    "c00c00010001000001eb0004a92df879 c00c00010001000001eb00046ca8b0ea"
    "c00c00010001000001eb0004a92df8bd c00c00010001000001eb0004a92df8b4"
    "c00c00010001000001eb0004a935514f c00c00010001000001eb0004a92ddbe8";
/* ndpi-dns_fragmented frame 60: DNSKEY weberlab.de over TCP, with EDNS. */
static const char DNS_TCP_Q[] = "003406da012000010000000000010877656265726c61620264650000300001"
                                "000029100000008000000c000a0008c6ab1a7fa365f223";
/* ndpi-telegram frame 5: mDNS announcement without a question (PTR _dacp._tcp.local). */
static const char MDNS_R[] =
    "000084000000000100000001055f64616370045f746370056c6f63616c00000c000100000000001f1c69"
    "54756e65735f4374726c5f34414242333941343145454644454233c00c00002905a00000119400120004"
    "000e00d9aefe572337e48cfe572337e4";
/* ndpi-1kxun: LLMNR ANY kevin-PC, and a UTF-8 name (tshark: 小佛專機). */
static const char LLMNR_Q[] = "557300000001000000000000086b6576696e2d50430000ff0001";
static const char LLMNR_UTF8[] = "f604000000010000000000000ce5b08fe4bd9be5b088e6a99f0000ff0001";
/* ndpi-1kxun frame 39: NetBIOS name query (UDP 137), same header layout as DNS. */
static const char NBNS_Q[] = "b1e601100001000000000000"
                             "20464846414542454543414341434143414341434143414341434143414341414100"
                             "00200001";

/* DHCP messages as their first bytes and their options: bootp() puts zeros between (as in
 * the frames) and leaves off the zero padding after the end option. ndpi-1kxun frame 833:
 * INFORM of kevin-PC. */
static const char DHCP_KEVIN_HEAD[] =
    "0101060002449a4100008000c0a8052900000000000000000000000048d224630ade00000000000000000000";
static const char DHCP_KEVIN_OPTS[] = "638253633501083d070148d224630ade0c086b6576696e2d50433c08"
                                      "4d53465420352e30370d010f03062c2e2f1f2179f92bfcff";
/* peafowl-dhcp frames 1 and 3: DISCOVER (requested 0.0.0.0) and REQUEST (192.168.0.10). */
static const char DHCP_PF_HEAD1[] = "0101060000003d1d0000000000000000000000000000000000000000000b8201fc42";
static const char DHCP_PF_OPTS1[] = "638253633501013d0701000b8201fc4232040000000037040103062aff";
static const char DHCP_PF_HEAD3[] = "0101060000003d1e0000000000000000000000000000000000000000000b8201fc42";
static const char DHCP_PF_OPTS3[] =
    "638253633501033d0701000b8201fc423204c0a8000a3604c0a8000137040103062aff";

/* ndpi-gnutella frame 9: DHCPv6 Solicit with Client FQDN MSEDGEWIN10, vendor MSFT 5.0. */
static const char DHCP6_SOL[] =
    "0113d1ed0008000200000001000e000100012422f1b3080027e6e5590003000c050800270000000000000000"
    "0027000d000b4d534544474557494e31300010000e0000013700084d53465420352e30000600080011001700"
    "180027";
/* peafowl-dhcpv6_1 frame 5: Advertise. */
static const char DHCP6_ADV[] =
    "021008740019002927fe8f950000000000000000001a00190000119400001c2040200100000000fe000000000"
    "0000000000001000e000100011c39cf88080027fe8f950002000e000100011c3825e8080027d410bb";

/* ndpi-NTPv4: a version 4 client request; zeek-gre-sample: a server reply of stratum 2. */
static const char NTP_V4_CLIENT[] = "230207eb00000450000003ab83bc03dfd94f51c33165b860d944575530336f"
                                    "d0d944575531b4e978d94f51f42d26e2f4";
static const char NTP_V4_SERVER[] = "240206ee000003bc000002e4cdbcb921c290f098e430a000c290f0f5d98dac25"
                                    "c290f1093be6f000c290f1093bf88000";
/* Built, read by tshark as a mode 6 read-variables request and a mode 7 MON_GETLIST_1. */
static const char NTP_CONTROL[] = "160200010000000000000000";
static const char NTP_MONLIST[] = "1700032a00000000"
                                  "0000000000000000000000000000000000000000"
                                  "0000000000000000000000000000000000000000";

/* peafowl-bgp frames 8 and 12: OPEN (version 4, AS 65033) and KEEPALIVE. */
static const char BGP_OPEN[] = "ffffffffffffffffffffffffffffffff001d0104fe0900b4c0a8000f00";
static const char BGP_KEEPALIVE[] = "ffffffffffffffffffffffffffffffff001304";

/* ndpi-mqtt frames 2 and 3: MQIsdp CONNECT and SUBSCRIBE; frame 9: MQTT 3.1.1 CONNECT. */
static const char MQTT_CONNECT31[] =
    "104000064d514973647003c20014001663626161626362616261636262626262616161616162000c3032443530"
    "35303232334433000c303244353035303232334433";
static const char MQTT_SUBSCRIBE[] = "821e00010019617374722f733732302f3032443530353032323344332f393900";
static const char MQTT_CONNECT311_HEAD[] =
    "109a0200044d51545404c00258001050343737373549443137305732313230";

/* Built from RFC 4120 (see the file comment): AS-REQ for alice@EXAMPLE.COM, KRB-ERROR 25. */
static const char KRB_AS_REQ[] =
    "6a8184308181a103020105a20302010aa4753073a00703050040810010a1123010a003020101a10930071b05"
    "616c696365a20d1b0b4558414d504c452e434f4da320301ea003020102a11730151b066b72627467741b0b45"
    "58414d504c452e434f4da511180f32303337303931333032343830355aa706020401234567a8083006020112"
    "020111";
static const char KRB_ERROR[] =
    "7e5b3059a003020105a10302011ea411180f32303234303130313030303030305aa50402023039a603020119"
    "a90d1b0b4558414d504c452e434f4daa20301ea003020102a11730151b066b72627467741b0b4558414d504c"
    "452e434f4d";
/* Built from MySQL's Protocol::HandshakeV10: server 5.7.33-0ubuntu0.18.04.1. */
static const char MYSQL_GREETING[] =
    "5b0000000a352e372e33332d307562756e7475302e31382e30342e310008000000616263646566676800fff7"
    "210200ff811500000000000000000000696a6b6c6d6e6f7071727374006d7973716c5f6e61746976655f7061"
    "7373776f726400";

/* A BOOTP message: @head (the first bytes), zeros up to the cookie, then @opts. */
static size_t bootp(uint8_t *out, size_t cap, const char *head, const char *opts)
{
    memset(out, 0, cap);
    unhex(head, out, cap);
    return 236 + unhex(opts, out + 236, cap - 236);
}

/* ---- DNS ------------------------------------------------------------------------------ */

static void test_dns_udp_query_then_response(void **state)
{
    (void)state;
    uint8_t q[64], r[256];
    size_t qn = unhex(DNS_WA_Q, q, sizeof q), rn = unhex(DNS_WA_R, r, sizeof r);
    harness_t *h = h_new(17, "82.178.113.245", 47255, "82.178.158.181", 53);
    /* The query identifies the flow; the answers are still to come. */
    assert_int_equal(h_udp(h, dpi_dns, 0, q, qn), DPI_MATCH_MORE);
    assert_int_equal(h->ctx.proto, OC_PROTO_DNS);
    assert_field(h, OC_FIELD_DNS_QNAME, "e7.whatsapp.net"); /* nDPI's Hostname */
    assert_field(h, OC_FIELD_DNS_QTYPE, "1");
    assert_field(h, OC_FIELD_DNS_RCODE, NULL);
    assert_int_equal(h_udp(h, dpi_dns, 1, r, rn), DPI_MATCH);
    assert_field(h, OC_FIELD_DNS_RCODE, "0");
    /* tshark: the first four of the eight A records */
    assert_field(h, OC_FIELD_DNS_ANSWERS,
                 "169.45.219.235,169.47.40.142,169.45.248.121,108.168.176.234");
    free(h);
}

static void test_dns_response_alone(void **state)
{
    (void)state;
    uint8_t r[256];
    size_t rn = unhex(DNS_WA_R, r, sizeof r);
    harness_t *h = h_new(17, "82.178.158.181", 53, "82.178.113.245", 47255);
    assert_int_equal(h_udp(h, dpi_dns, 0, r, rn), DPI_MATCH);
    assert_field(h, OC_FIELD_DNS_QNAME, "e7.whatsapp.net");
    free(h);
}

static void test_dns_tcp_length_prefix(void **state)
{
    (void)state;
    uint8_t q[128];
    size_t qn = unhex(DNS_TCP_Q, q, sizeof q);
    harness_t *h = h_new(6, "194.247.5.6", 39005, "194.247.5.14", 53);
    /* The query arrives in three pieces: half the length, part of the name, the rest. */
    assert_int_equal(h_tcp(h, dpi_dns, 0, q, 1), DPI_MAYBE);
    assert_int_equal(h_tcp(h, dpi_dns, 0, q + 1, 16), DPI_MAYBE);
    assert_int_equal(h_tcp(h, dpi_dns, 0, q + 17, qn - 17), DPI_MATCH_MORE);
    assert_int_equal(h->ctx.proto, OC_PROTO_DNS);
    assert_field(h, OC_FIELD_DNS_QNAME, "weberlab.de"); /* nDPI's Hostname */
    assert_field(h, OC_FIELD_DNS_QTYPE, "48");          /* DNSKEY */

    /* A response split over segments: the answers are read once they are all there. */
    uint8_t r[300];
    size_t rn = unhex(DNS_WA_R, r + 2, sizeof r - 2);
    r[0] = (uint8_t)(rn >> 8);
    r[1] = (uint8_t)rn;
    assert_int_equal(h_tcp(h, dpi_dns, 1, r, 60), DPI_MATCH_MORE);
    assert_field(h, OC_FIELD_DNS_ANSWERS, NULL);
    assert_int_equal(h_tcp(h, dpi_dns, 1, r + 60, rn + 2 - 60), DPI_MATCH);
    assert_field(h, OC_FIELD_DNS_RCODE, "0");
    assert_field(h, OC_FIELD_DNS_ANSWERS,
                 "169.45.219.235,169.47.40.142,169.45.248.121,108.168.176.234");
    free(h);
}

static void test_dns_tcp_rejects_short_length(void **state)
{
    (void)state;
    static const uint8_t p[] = {0x00, 0x05, 1, 2, 3, 4, 5};
    harness_t *h = h_new(6, "10.0.0.1", 40000, "10.0.0.2", 53);
    assert_int_equal(h_tcp(h, dpi_dns, 0, p, sizeof p), DPI_NO);
    free(h);
}

static void test_dns_mdns_announcement(void **state)
{
    (void)state;
    uint8_t r[256];
    size_t rn = unhex(MDNS_R, r, sizeof r);
    harness_t *h = h_new(17, "192.168.1.75", 5353, "224.0.0.251", 5353);
    assert_int_equal(h_udp(h, dpi_dns, 0, r, rn), DPI_MATCH);
    assert_int_equal(h->ctx.proto, OC_PROTO_MDNS);
    /* No question: the first record's owner and type (nDPI's Hostname: _dacp._tcp.local) */
    assert_field(h, OC_FIELD_DNS_QNAME, "_dacp._tcp.local");
    assert_field(h, OC_FIELD_DNS_QTYPE, "12");
    free(h);
}

static void test_dns_llmnr_multicast_query(void **state)
{
    (void)state;
    uint8_t q[64];
    size_t qn = unhex(LLMNR_Q, q, sizeof q);
    harness_t *h = h_new(17, "192.168.5.41", 54470, "224.0.0.252", 5355);
    /* Answers to a multicast query come in other flows: nothing to wait for. */
    assert_int_equal(h_udp(h, dpi_dns, 0, q, qn), DPI_MATCH);
    assert_int_equal(h->ctx.proto, OC_PROTO_LLMNR);
    assert_field(h, OC_FIELD_DNS_QNAME, "kevin-PC");
    assert_field(h, OC_FIELD_DNS_QTYPE, "255");
    free(h);

    qn = unhex(LLMNR_UTF8, q, sizeof q);
    h = h_new(17, "192.168.3.95", 51451, "224.0.0.252", 5355);
    assert_int_equal(h_udp(h, dpi_dns, 0, q, qn), DPI_MATCH);
    assert_field(h, OC_FIELD_DNS_QNAME, "\xe5\xb0\x8f\xe4\xbd\x9b\xe5\xb0\x88\xe6\xa9\x9f");
    free(h);
}

static void test_dns_same_payload_other_port_is_dns(void **state)
{
    (void)state;
    uint8_t q[64];
    size_t qn = unhex(LLMNR_Q, q, sizeof q);
    harness_t *h = h_new(17, "10.0.0.1", 40000, "10.0.0.2", 5300);
    assert_int_equal(h_udp(h, dpi_dns, 0, q, qn), DPI_MATCH_MORE);
    assert_int_equal(h->ctx.proto, OC_PROTO_DNS);
    free(h);
}

static void test_dns_rejects_netbios(void **state)
{
    (void)state;
    uint8_t q[64];
    size_t qn = unhex(NBNS_Q, q, sizeof q);
    harness_t *h = h_new(17, "192.168.5.255", 137, "192.168.5.9", 137);
    assert_int_equal(h_udp(h, dpi_dns, 0, q, qn), DPI_NO);
    free(h);
}

/* A message: header with the given counts and flags, then @body (hex). */
static size_t dns_msg(uint8_t *out, size_t cap, uint16_t flags, uint16_t qd, uint16_t an,
                      const char *body)
{
    uint8_t hdr[12] = {0x12, 0x34, (uint8_t)(flags >> 8), (uint8_t)flags, 0, (uint8_t)qd,
                       0, (uint8_t)an, 0, 0, 0, 0};
    memcpy(out, hdr, sizeof hdr);
    return sizeof hdr + unhex(body, out + sizeof hdr, cap - sizeof hdr);
}

static void test_dns_rejects_bad_headers(void **state)
{
    (void)state;
    uint8_t m[128];
    static const struct {
        uint16_t flags, qd, an;
        const char *body;
    } bad[] = {
        {0x0100, 0, 0, ""},                          /* a query without a question */
        {0x1800, 1, 0, "01610000010001"},            /* opcode 3 */
        {0x0103, 1, 0, "01610000010001"},            /* a response code in a query */
        {0x0100, 40, 0, "01610000010001"},           /* 40 questions */
        {0x0100, 1, 0, "01610000010009"},            /* class 9 */
        {0x0100, 1, 0, "01610000000001"},            /* type 0 */
        {0x0100, 1, 0, "41610000010001"},            /* extended label type 0x40 */
        {0x0100, 1, 0, "c00c00010001"},              /* a pointer to the name itself */
        {0x0100, 1, 0, "0161"},                      /* the datagram ends in the name */
        {0x8180, 0, 0, ""},                          /* a response with nothing in it */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = dns_msg(m, sizeof m, bad[i].flags, bad[i].qd, bad[i].an, bad[i].body);
        harness_t *h = h_new(17, "10.0.0.1", 40000, "10.0.0.2", 53);
        if (h_udp(h, dpi_dns, 0, m, n) != DPI_NO)
            fail_msg("case %zu taken for DNS", i);
        free(h);
    }
    /* Shorter than a header */
    harness_t *h = h_new(17, "10.0.0.1", 40000, "10.0.0.2", 53);
    assert_int_equal(h_udp(h, dpi_dns, 0, m, 11), DPI_NO);
    free(h);
}

static void test_dns_name_too_long(void **state)
{
    (void)state;
    /* Five 63-byte labels: 320 bytes of name, over the 255 allowed. */
    uint8_t m[512];
    size_t n = dns_msg(m, sizeof m, 0x0100, 1, 0, "");
    for (int l = 0; l < 5; l++) {
        m[n++] = 63;
        memset(m + n, 'a', 63);
        n += 63;
    }
    m[n++] = 0;
    unhex("00010001", m + n, 4);
    n += 4;
    harness_t *h = h_new(17, "10.0.0.1", 40000, "10.0.0.2", 53);
    assert_int_equal(h_udp(h, dpi_dns, 0, m, n), DPI_NO);
    free(h);
}

/*
 * DNS compression loops: pointers that point at themselves, at each other, forwards, or
 * in chains too long, inside answers. Each must end (no hang), the bad name be dropped and
 * the good answers around it kept.
 */
/* Appends @n pointers to @n_out, each to the one before, the first to @target; returns the
 * offset of the last. */
static size_t ptr_chain(uint8_t *m, size_t *n_out, size_t target, int n)
{
    size_t prev = target;
    for (int i = 0; i < n; i++) {
        size_t here = *n_out;
        m[(*n_out)++] = (uint8_t)(0xc0 | prev >> 8);
        m[(*n_out)++] = (uint8_t)prev;
        prev = here;
    }
    return prev;
}

static void put_ptr(uint8_t *m, size_t at, size_t to)
{
    m[at] = (uint8_t)(0xc0 | to >> 8);
    m[at + 1] = (uint8_t)to;
}

/*
 * DNS compression loops: names in answers that point at themselves, at each other, forwards,
 * or through a chain of more than DNS_HOPS_MAX pointers. Each must end (no hang), the bad
 * name be dropped and the good answer after them kept.
 */
static void test_dns_compression_loops(void **state)
{
    (void)state;
    uint8_t m[512];
    /* Question "a" at 12; six answers. A record's rdata starts 12 bytes after it. */
    size_t n = dns_msg(m, sizeof m, 0x8180, 1, 6, "01610000010001");
    /* 1: a CNAME whose name is a pointer to itself */
    size_t one = n + 12;
    n += unhex("c00c 0005 0001 00000010 0002 0000", m + n, sizeof m - n);
    put_ptr(m, one, one);
    /* 2 and 3: CNAMEs "b" -> 3's name and "c" -> 2's name: a loop of two */
    size_t two = n + 12;
    n += unhex("c00c 0005 0001 00000010 0004 0162 0000", m + n, sizeof m - n);
    size_t three = n + 12;
    n += unhex("c00c 0005 0001 00000010 0004 0163 0000", m + n, sizeof m - n);
    put_ptr(m, two + 2, three);
    put_ptr(m, three + 2, two);
    /* 4: a TXT record holding "d" and a chain of 20 pointers, each to the one before */
    size_t txt = n + 12;
    n += unhex("c00c 0010 0001 00000010 002b 016400", m + n, sizeof m - n);
    size_t last = ptr_chain(m, &n, txt, 20);
    /* 5: a CNAME pointing at the end of the chain: 21 hops */
    size_t five = n + 12;
    n += unhex("c00c 0005 0001 00000010 0002 0000", m + n, sizeof m - n);
    put_ptr(m, five, last);
    /* 6: a good A record after all of them */
    n += unhex("c00c 0001 0001 00000010 0004 0a000001", m + n, sizeof m - n);

    harness_t *h = h_new(17, "10.0.0.2", 53, "10.0.0.1", 40000);
    assert_int_equal(h_udp(h, dpi_dns, 0, m, n), DPI_MATCH);
    assert_field(h, OC_FIELD_DNS_QNAME, "a");
    assert_field(h, OC_FIELD_DNS_ANSWERS, "10.0.0.1");
    free(h);

    /* The same with a chain of 10 (11 hops): the CNAME reads "d". */
    n = dns_msg(m, sizeof m, 0x8180, 1, 2, "01610000010001");
    txt = n + 12;
    n += unhex("c00c 0010 0001 00000010 0017 016400", m + n, sizeof m - n);
    last = ptr_chain(m, &n, txt, 10);
    five = n + 12;
    n += unhex("c00c 0005 0001 00000010 0002 0000", m + n, sizeof m - n);
    put_ptr(m, five, last);
    h = h_new(17, "10.0.0.2", 53, "10.0.0.1", 40000);
    assert_int_equal(h_udp(h, dpi_dns, 0, m, n), DPI_MATCH);
    assert_field(h, OC_FIELD_DNS_ANSWERS, "d");
    free(h);

    /* A question name that is a loop of two pointers in the header's place: rejected. */
    n = dns_msg(m, sizeof m, 0x0100, 1, 0, "c00e c00c 00010001");
    h = h_new(17, "10.0.0.1", 40000, "10.0.0.2", 53);
    assert_int_equal(h_udp(h, dpi_dns, 0, m, n), DPI_NO);
    free(h);
}

static void test_dns_labels_escaped(void **state)
{
    (void)state;
    /* One label "a.b", one "\x01\\", then "com": must not read as four labels. */
    uint8_t m[64];
    size_t n = dns_msg(m, sizeof m, 0x0100, 1, 0, "03612e62 02015c 03636f6d 00 00010001");
    harness_t *h = h_new(17, "10.0.0.1", 40000, "10.0.0.2", 53);
    assert_int_equal(h_udp(h, dpi_dns, 0, m, n), DPI_MATCH_MORE);
    assert_field(h, OC_FIELD_DNS_QNAME, "a\\.b.\\001\\\\.com");
    free(h);
}

static void test_dns_later_garbage_keeps_label(void **state)
{
    (void)state;
    uint8_t q[64];
    size_t qn = unhex(DNS_WA_Q, q, sizeof q);
    harness_t *h = h_new(17, "10.0.0.1", 40000, "10.0.0.2", 53);
    assert_int_equal(h_udp(h, dpi_dns, 0, q, qn), DPI_MATCH_MORE);
    static const uint8_t junk[] = {0xde, 0xad, 0xbe, 0xef};
    assert_int_equal(h_udp(h, dpi_dns, 1, junk, sizeof junk), DPI_NO);
    assert_int_equal(h->ctx.proto, OC_PROTO_DNS);
    free(h);
}

/* ---- DHCP ----------------------------------------------------------------------------- */

static void test_dhcp_inform_fields(void **state)
{
    (void)state;
    uint8_t m[400];
    size_t n = bootp(m, sizeof m, DHCP_KEVIN_HEAD, DHCP_KEVIN_OPTS);
    harness_t *h = h_new(17, "192.168.5.41", 68, "255.255.255.255", 67);
    assert_int_equal(h_udp(h, dpi_dhcp, 0, m, n), DPI_MATCH);
    assert_int_equal(h->ctx.proto, OC_PROTO_DHCP);
    assert_field(h, OC_FIELD_DHCP_HOST_NAME, "kevin-PC"); /* tshark; nDPI: kevin-pc */
    assert_field(h, OC_FIELD_DHCP_VENDOR_CLASS, "MSFT 5.0");
    assert_field(h, OC_FIELD_DHCP_REQUESTED_ADDR, NULL);
    free(h);
}

static void test_dhcp_discover_then_request(void **state)
{
    (void)state;
    uint8_t m[400];
    size_t n = bootp(m, sizeof m, DHCP_PF_HEAD1, DHCP_PF_OPTS1);
    harness_t *h = h_new(17, "0.0.0.0", 68, "255.255.255.255", 67);
    assert_int_equal(h_udp(h, dpi_dhcp, 0, m, n), DPI_MATCH_MORE);
    assert_field(h, OC_FIELD_DHCP_REQUESTED_ADDR, NULL); /* 0.0.0.0 asks for nothing */
    n = bootp(m, sizeof m, DHCP_PF_HEAD3, DHCP_PF_OPTS3);
    assert_int_equal(h_udp(h, dpi_dhcp, 0, m, n), DPI_MATCH);
    assert_field(h, OC_FIELD_DHCP_REQUESTED_ADDR, "192.168.0.10");
    free(h);

    /* A DISCOVER asking for another address: the REQUEST's is the one kept. */
    n = bootp(m, sizeof m, DHCP_PF_HEAD1, DHCP_PF_OPTS1);
    m[236 + 18] = 192, m[236 + 19] = 168, m[236 + 20] = 0, m[236 + 21] = 99; /* option 50 */
    h = h_new(17, "0.0.0.0", 68, "255.255.255.255", 67);
    assert_int_equal(h_udp(h, dpi_dhcp, 0, m, n), DPI_MATCH_MORE);
    assert_field(h, OC_FIELD_DHCP_REQUESTED_ADDR, "192.168.0.99");
    n = bootp(m, sizeof m, DHCP_PF_HEAD3, DHCP_PF_OPTS3);
    assert_int_equal(h_udp(h, dpi_dhcp, 0, m, n), DPI_MATCH);
    assert_field(h, OC_FIELD_DHCP_REQUESTED_ADDR, "192.168.0.10");
    free(h);
}

static void test_dhcp_hostile(void **state)
{
    (void)state;
    uint8_t m[400];
    /* A host name option whose length runs past the datagram: no field, no overread. */
    size_t n = bootp(m, sizeof m, DHCP_KEVIN_HEAD, "63825363 350101 0cff6b6576");
    harness_t *h = h_new(17, "10.0.0.1", 68, "10.0.0.2", 67);
    assert_int_equal(h_udp(h, dpi_dhcp, 0, m, n), DPI_MATCH_MORE);
    assert_field(h, OC_FIELD_DHCP_HOST_NAME, NULL);
    free(h);
    /* No magic cookie, no message type, bad op, short */
    static const char *const opts[] = {"63825364350101ff", "63825363ff", "638253633501 ff"};
    for (size_t i = 0; i < 3; i++) {
        n = bootp(m, sizeof m, DHCP_KEVIN_HEAD, opts[i]);
        h = h_new(17, "10.0.0.1", 68, "10.0.0.2", 67);
        if (h_udp(h, dpi_dhcp, 0, m, n) != DPI_NO)
            fail_msg("case %zu taken for DHCP", i);
        free(h);
    }
    n = bootp(m, sizeof m, DHCP_KEVIN_HEAD, DHCP_KEVIN_OPTS);
    m[0] = 3;
    h = h_new(17, "10.0.0.1", 68, "10.0.0.2", 67);
    assert_int_equal(h_udp(h, dpi_dhcp, 0, m, n), DPI_NO);
    assert_int_equal(h_udp(h, dpi_dhcp, 0, m, 239), DPI_NO);
    free(h);
}

static void test_dhcpv6(void **state)
{
    (void)state;
    uint8_t m[200];
    size_t n = unhex(DHCP6_SOL, m, sizeof m);
    harness_t *h = h_new(17, "10.0.0.1", 546, "10.0.0.2", 547);
    assert_int_equal(h_udp(h, dpi_dhcpv6, 0, m, n), DPI_MATCH);
    assert_int_equal(h->ctx.proto, OC_PROTO_DHCPV6);
    assert_field(h, OC_FIELD_DHCP_HOST_NAME, "MSEDGEWIN10"); /* tshark: partial FQDN */
    assert_field(h, OC_FIELD_DHCP_VENDOR_CLASS, "MSFT 5.0");
    free(h);

    n = unhex(DHCP6_ADV, m, sizeof m);
    h = h_new(17, "10.0.0.2", 547, "10.0.0.1", 546);
    assert_int_equal(h_udp(h, dpi_dhcpv6, 0, m, n), DPI_MATCH);
    free(h);

    /* One byte too few: the last option runs past the end. One too many: a stray byte. */
    n = unhex(DHCP6_SOL, m, sizeof m);
    h = h_new(17, "10.0.0.1", 546, "10.0.0.2", 547);
    assert_int_equal(h_udp(h, dpi_dhcpv6, 0, m, n - 1), DPI_NO);
    m[n] = 0;
    assert_int_equal(h_udp(h, dpi_dhcpv6, 0, m, n + 1), DPI_NO);
    m[0] = 0x20; /* not a DHCPv6 message type */
    assert_int_equal(h_udp(h, dpi_dhcpv6, 0, m, n), DPI_NO);
    free(h);
    /* A Solicit with only an elapsed-time option carries no DUID. */
    n = unhex("0113d1ed 0008 0002 0000", m, sizeof m);
    h = h_new(17, "10.0.0.1", 546, "10.0.0.2", 547);
    assert_int_equal(h_udp(h, dpi_dhcpv6, 0, m, n), DPI_NO);
    free(h);
}

/* ---- NTP ------------------------------------------------------------------------------ */

static void test_ntp_client_then_server(void **state)
{
    (void)state;
    uint8_t c[48], s[48];
    size_t cn = unhex(NTP_V4_CLIENT, c, sizeof c), sn = unhex(NTP_V4_SERVER, s, sizeof s);
    assert_int_equal(cn, 48);
    harness_t *h = h_new(17, "85.22.62.120", 123, "78.46.76.11", 123);
    assert_int_equal(h_udp(h, dpi_ntp, 0, c, cn), DPI_MATCH_MORE);
    assert_int_equal(h->ctx.proto, OC_PROTO_NTP);
    assert_field(h, OC_FIELD_NTP_VERSION, "4");
    assert_field(h, OC_FIELD_NTP_STRATUM, NULL); /* the client's stratum field is not one */
    assert_int_equal(h_udp(h, dpi_ntp, 1, s, sn), DPI_MATCH);
    assert_field(h, OC_FIELD_NTP_STRATUM, "2"); /* tshark: stratum 2 */
    free(h);
}

static void test_ntp_control_and_private(void **state)
{
    (void)state;
    uint8_t m[64];
    size_t n = unhex(NTP_CONTROL, m, sizeof m);
    harness_t *h = h_new(17, "10.0.0.1", 50010, "10.0.0.2", 123);
    assert_int_equal(h_udp(h, dpi_ntp, 0, m, n), DPI_MATCH);
    assert_field(h, OC_FIELD_NTP_VERSION, "2");
    free(h);
    n = unhex(NTP_MONLIST, m, sizeof m);
    h = h_new(17, "10.0.0.1", 50011, "10.0.0.2", 123);
    assert_int_equal(h_udp(h, dpi_ntp, 0, m, n), DPI_MATCH);
    free(h);
}

static void test_ntp_rejects(void **state)
{
    (void)state;
    uint8_t m[128];
    harness_t *h = h_new(17, "10.0.0.1", 123, "10.0.0.2", 123);
    size_t n = unhex(NTP_V4_SERVER, m, sizeof m);
    m[n] = 0;
    assert_int_equal(h_udp(h, dpi_ntp, 0, m, n + 1), DPI_NO); /* 49 bytes */
    assert_int_equal(h_udp(h, dpi_ntp, 0, m, n - 1), DPI_NO); /* 47 bytes */
    m[1] = 200;                                                 /* stratum 200 */
    assert_int_equal(h_udp(h, dpi_ntp, 0, m, n), DPI_NO);
    n = unhex(NTP_V4_SERVER, m, sizeof m);
    m[0] = 0x04;                                                /* version 0 */
    assert_int_equal(h_udp(h, dpi_ntp, 0, m, n), DPI_NO);
    n = unhex(NTP_V4_SERVER, m, sizeof m);
    memset(m + 40, 0, 8);                                       /* no transmit time */
    assert_int_equal(h_udp(h, dpi_ntp, 0, m, n), DPI_NO);
    /* An extension field of length 0 must not stall the walk; nor one past the end. */
    n = unhex(NTP_V4_SERVER, m, sizeof m);
    memset(m + 48, 0, 28);
    assert_int_equal(h_udp(h, dpi_ntp, 0, m, 76), DPI_NO);
    unhex("0104ffff", m + 48, 4);
    assert_int_equal(h_udp(h, dpi_ntp, 0, m, 76), DPI_NO);
    /* A proper 16-byte extension field then a SHA-1 MAC: 48 + 16 + 24 */
    unhex("01040010", m + 48, 4);
    assert_int_equal(h_udp(h, dpi_ntp, 0, m, 88), DPI_MATCH);
    free(h);
}

/* ---- BGP ------------------------------------------------------------------------------ */

static void test_bgp(void **state)
{
    (void)state;
    uint8_t m[64];
    size_t n = unhex(BGP_OPEN, m, sizeof m);
    harness_t *h = h_new(6, "192.168.0.15", 2124, "192.168.0.33", 179);
    assert_int_equal(h_tcp(h, dpi_bgp, 0, m, 10), DPI_MAYBE);
    assert_int_equal(h_tcp(h, dpi_bgp, 0, m + 10, n - 10), DPI_MATCH);
    assert_int_equal(h->ctx.proto, OC_PROTO_BGP);
    free(h);

    n = unhex(BGP_KEEPALIVE, m, sizeof m);
    h = h_new(6, "2.2.2.2", 179, "4.4.4.4", 63535);
    assert_int_equal(h_tcp(h, dpi_bgp, 0, m, n), DPI_MATCH);
    free(h);

    static const struct {
        const char *hex;
    } bad[] = {
        {"fffffffffffffffffffffffffffffffe001304"},        /* a marker byte not all ones */
        {"ffffffffffffffffffffffffffffffff001404"},        /* KEEPALIVE of 20 bytes */
        {"ffffffffffffffffffffffffffffffff001307"},        /* type 7 */
        {"ffffffffffffffffffffffffffffffff001d0103fe0900b4c0a8000f00"}, /* OPEN version 3 */
        {"ffffffffffffffffffffffffffffffff001202"},        /* UPDATE shorter than a header */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = unhex(bad[i].hex, m, sizeof m);
        h = h_new(6, "10.0.0.1", 40000, "10.0.0.2", 179);
        if (h_tcp(h, dpi_bgp, 0, m, n) != DPI_NO)
            fail_msg("case %zu taken for BGP", i);
        free(h);
    }
}

/* ---- MQTT ----------------------------------------------------------------------------- */

static void test_mqtt_connect_and_subscribe(void **state)
{
    (void)state;
    uint8_t c[128], s[64];
    size_t cn = unhex(MQTT_CONNECT31, c, sizeof c), sn = unhex(MQTT_SUBSCRIBE, s, sizeof s);
    /* The capture starts with the server's SYN-ACK: the flow's source is the server. */
    harness_t *h = h_new(6, "10.10.10.1", 1883, "192.168.0.1", 41892);
    assert_int_equal(h_tcp(h, dpi_mqtt, 1, c, 7), DPI_MAYBE);
    assert_int_equal(h_tcp(h, dpi_mqtt, 1, c + 7, cn - 7), DPI_MATCH_MORE);
    assert_int_equal(h->ctx.proto, OC_PROTO_MQTT);
    assert_field(h, OC_FIELD_MQTT_CLIENT_ID, "cbaabcbabacbbbbbaaaaab"); /* tshark */
    assert_int_equal(h_tcp(h, dpi_mqtt, 1, s, sn), DPI_MATCH);
    assert_field(h, OC_FIELD_MQTT_TOPIC, "astr/s720/02D5050223D3/99"); /* tshark */
    free(h);
}

static void test_mqtt_311_connect(void **state)
{
    (void)state;
    uint8_t c[64];
    size_t cn = unhex(MQTT_CONNECT311_HEAD, c, sizeof c);
    harness_t *h = h_new(6, "100.67.35.238", 35035, "51.137.28.239", 1883);
    /* Only the start of the 285-byte CONNECT: the client id is there already. */
    assert_int_equal(h_tcp(h, dpi_mqtt, 0, c, cn), DPI_MATCH_MORE);
    assert_field(h, OC_FIELD_MQTT_CLIENT_ID, "P47775ID170W2120"); /* tshark */
    free(h);
}

static void test_mqtt_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "101000044d51545804020000000474657374",   /* protocol name MQTX */
        "101000044d51545403020000000474657374",   /* MQTT with level 3 */
        "101000044d51545404030000000474657374",   /* reserved connect flag */
        "101000044d51545404180000000474657374",   /* will QoS 3 */
        "10ffffffff01",                           /* remaining length of 5 bytes */
        "20020000",                               /* the server speaking first */
        "101000044d51545404400000000474657374",   /* a password without a user (3.1.1) */
        "100a00044d5154540402000000",             /* remaining length too small */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t m[64];
        size_t n = unhex(bad[i], m, sizeof m);
        harness_t *h = h_new(6, "10.0.0.1", 40000, "10.0.0.2", 1883);
        if (h_tcp(h, dpi_mqtt, 0, m, n) != DPI_NO)
            fail_msg("case %zu taken for MQTT", i);
        free(h);
    }
    /* A topic length past the packet: no topic, and no overread. */
    uint8_t m[64];
    size_t n = unhex("101000044d51545404020000000474657374 30050040616263", m, sizeof m);
    harness_t *h = h_new(6, "10.0.0.1", 40000, "10.0.0.2", 1883);
    assert_int_equal(h_tcp(h, dpi_mqtt, 0, m, n), DPI_MATCH_MORE);
    assert_field(h, OC_FIELD_MQTT_CLIENT_ID, "test");
    assert_field(h, OC_FIELD_MQTT_TOPIC, NULL);
    free(h);
}

/* ---- Kerberos -------------------------------------------------------------------------- */

static void test_kerberos(void **state)
{
    (void)state;
    uint8_t m[256];
    size_t n = unhex(KRB_AS_REQ, m, sizeof m);
    harness_t *h = h_new(17, "10.0.0.1", 50000, "10.0.0.2", 88);
    assert_int_equal(h_udp(h, dpi_kerberos, 0, m, n), DPI_MATCH);
    assert_int_equal(h->ctx.proto, OC_PROTO_KERBEROS);
    assert_int_equal(h_udp(h, dpi_kerberos, 0, m, n - 1), DPI_MATCH); /* cut by snaplen */
    m[n] = 0;
    assert_int_equal(h_udp(h, dpi_kerberos, 0, m, n + 1), DPI_NO); /* a stray byte after */
    free(h);

    n = unhex(KRB_ERROR, m, sizeof m);
    h = h_new(17, "10.0.0.2", 88, "10.0.0.1", 50000);
    assert_int_equal(h_udp(h, dpi_kerberos, 0, m, n), DPI_MATCH);
    free(h);

    /* Over TCP, behind the 4-byte record length, in pieces. */
    uint8_t t[260] = {0, 0, 0, 0};
    n = unhex(KRB_AS_REQ, t + 4, sizeof t - 4);
    t[3] = (uint8_t)n;
    h = h_new(6, "10.0.0.1", 50001, "10.0.0.2", 88);
    assert_int_equal(h_tcp(h, dpi_kerberos, 0, t, 3), DPI_MAYBE);
    assert_int_equal(h_tcp(h, dpi_kerberos, 0, t + 3, 10), DPI_MAYBE);
    assert_int_equal(h_tcp(h, dpi_kerberos, 0, t + 13, n + 4 - 13), DPI_MATCH);
    free(h);
    t[3] = (uint8_t)(n + 1); /* a record length that is not the message's */
    h = h_new(6, "10.0.0.1", 50001, "10.0.0.2", 88);
    assert_int_equal(h_tcp(h, dpi_kerberos, 0, t, n + 4), DPI_NO);
    free(h);

    /* pvno 4; msg-type 12 inside an AS-REQ; a SEQUENCE shorter than its wrapper */
    n = unhex(KRB_AS_REQ, m, sizeof m);
    m[10] = 4;
    h = h_new(17, "10.0.0.1", 50000, "10.0.0.2", 88);
    assert_int_equal(h_udp(h, dpi_kerberos, 0, m, n), DPI_NO);
    m[10] = 5;
    m[15] = 12;
    assert_int_equal(h_udp(h, dpi_kerberos, 0, m, n), DPI_NO);
    m[15] = 10;
    m[5] = 0x80;
    assert_int_equal(h_udp(h, dpi_kerberos, 0, m, n), DPI_NO);
    free(h);
}

/* ---- MySQL ----------------------------------------------------------------------------- */

static void test_mysql(void **state)
{
    (void)state;
    uint8_t m[128];
    size_t n = unhex(MYSQL_GREETING, m, sizeof m);
    harness_t *h = h_new(6, "10.0.0.2", 3306, "10.0.0.1", 50002);
    assert_int_equal(h_tcp(h, dpi_mysql, 0, m, 8), DPI_MAYBE);
    assert_int_equal(h_tcp(h, dpi_mysql, 0, m + 8, n - 8), DPI_MATCH);
    assert_int_equal(h->ctx.proto, OC_PROTO_MYSQL);
    free(h);

    /* The greeting split; the client's bytes come in between: still waiting for it. */
    h = h_new(6, "10.0.0.1", 50002, "10.0.0.2", 3306);
    assert_int_equal(h_tcp(h, dpi_mysql, 1, m, 20), DPI_MAYBE);
    static const uint8_t hello[] = {0x01, 0x00, 0x00, 0x01, 0x00};
    assert_int_equal(h_tcp(h, dpi_mysql, 0, hello, sizeof hello), DPI_MAYBE);
    assert_int_equal(h_tcp(h, dpi_mysql, 1, m + 20, n - 20), DPI_MATCH);
    free(h);

    /* The client speaking first rules MySQL out. */
    h = h_new(6, "10.0.0.1", 50002, "10.0.0.2", 3306);
    assert_int_equal(h_tcp(h, dpi_mysql, 0, hello, sizeof hello), DPI_NO);
    free(h);

    struct {
        size_t off;
        uint8_t value;
    } bad[] = {
        {4, 9},      /* protocol 9 */
        {3, 1},      /* sequence 1 */
        {5, 'x'},    /* a version that does not start with a digit */
        {10, 0x07},  /* a control byte in the version */
        {41, 1},     /* the filler after the scramble */
        {50, 1},     /* a reserved byte */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = unhex(MYSQL_GREETING, m, sizeof m);
        m[bad[i].off] = bad[i].value;
        h = h_new(6, "10.0.0.2", 3306, "10.0.0.1", 50002);
        if (h_tcp(h, dpi_mysql, 0, m, n) != DPI_NO)
            fail_msg("case %zu taken for MySQL", i);
        free(h);
    }
    /* A version string with no NUL within its bounds */
    uint8_t g[200] = {0xa0, 0, 0, 0, 10};
    memset(g + 5, '5', sizeof g - 5);
    h = h_new(6, "10.0.0.2", 3306, "10.0.0.1", 50002);
    assert_int_equal(h_tcp(h, dpi_mysql, 0, g, sizeof g), DPI_NO);
    free(h);
}

/* ---- every truncation and random bytes -------------------------------------------------- */

typedef struct {
    dpi_fn_t fn;
    uint8_t l4;
    uint16_t dport;
    const char *hex;
} sample_t;

static const sample_t samples[] = {
    {dpi_dns, 17, 53, DNS_WA_R},          {dpi_dns, 6, 53, DNS_TCP_Q},
    {dpi_dns, 17, 5353, MDNS_R},          {dpi_dns, 17, 5355, LLMNR_UTF8},
    {dpi_dhcpv6, 17, 547, DHCP6_SOL},     {dpi_dhcpv6, 17, 546, DHCP6_ADV},
    {dpi_ntp, 17, 123, NTP_V4_SERVER},    {dpi_ntp, 17, 123, NTP_CONTROL},
    {dpi_ntp, 17, 123, NTP_MONLIST},      {dpi_bgp, 6, 179, BGP_OPEN},
    {dpi_mqtt, 6, 1883, MQTT_CONNECT31},  {dpi_kerberos, 17, 88, KRB_AS_REQ},
    {dpi_kerberos, 17, 88, KRB_ERROR},    {dpi_mysql, 6, 3306, MYSQL_GREETING},
};

static dpi_verdict_t run_once(dpi_fn_t fn, uint8_t l4, uint16_t dport, const uint8_t *p,
                              size_t n)
{
    harness_t *h = h_new(l4, "10.0.0.1", 40000, "10.0.0.2", dport);
    dpi_verdict_t v = l4 == 6 ? h_tcp(h, fn, 0, p, n) : h_udp(h, fn, 0, p, n);
    assert_true(v >= DPI_NO && v <= DPI_MATCH_MORE);
    assert_true(h->fields.used <= OC_FIELDS_BYTES);
    free(h);
    return v;
}

static void test_every_truncation(void **state)
{
    (void)state;
    for (size_t s = 0; s < sizeof samples / sizeof samples[0]; s++) {
        uint8_t m[400];
        size_t n = unhex(samples[s].hex, m, sizeof m);
        /* The whole sample is identified ... */
        dpi_verdict_t full = run_once(samples[s].fn, samples[s].l4, samples[s].dport, m, n);
        if (full != DPI_MATCH && full != DPI_MATCH_MORE)
            fail_msg("sample %zu not identified", s);
        /* ... and every prefix is read without going past its end (checked by ASan). */
        for (size_t k = 0; k < n; k++)
            run_once(samples[s].fn, samples[s].l4, samples[s].dport, m, k);
    }
    /* DHCP, built to full size */
    uint8_t b[400];
    size_t n = bootp(b, sizeof b, DHCP_KEVIN_HEAD, DHCP_KEVIN_OPTS);
    for (size_t k = 0; k <= n; k++)
        run_once(dpi_dhcp, 17, 67, b, k);
}

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static void test_random_and_mutated(void **state)
{
    (void)state;
    static const dpi_fn_t udp_fns[] = {dpi_dns, dpi_dhcp, dpi_dhcpv6, dpi_ntp, dpi_kerberos};
    static const dpi_fn_t tcp_fns[] = {dpi_dns, dpi_bgp, dpi_mqtt, dpi_kerberos, dpi_mysql};
    uint8_t m[600];
    unsigned taken = 0;
    for (int i = 0; i < 4000; i++) {
        size_t n = next_rand() % sizeof m;
        for (size_t k = 0; k < n; k++)
            m[k] = (uint8_t)next_rand();
        for (size_t f = 0; f < 5; f++) {
            dpi_verdict_t v = run_once(udp_fns[f], 17, 1234, m, n);
            taken += v == DPI_MATCH || v == DPI_MATCH_MORE;
            v = run_once(tcp_fns[f], 6, 1234, m, n);
            taken += v == DPI_MATCH || v == DPI_MATCH_MORE;
        }
    }
    /* Random bytes are nobody's protocol. */
    assert_int_equal(taken, 0);
    /* Samples with bytes changed at random: anything may come out, but safely. */
    for (size_t s = 0; s < sizeof samples / sizeof samples[0]; s++) {
        for (int i = 0; i < 300; i++) {
            size_t n = unhex(samples[s].hex, m, sizeof m);
            for (int k = 0; k < 4; k++)
                m[next_rand() % n] = (uint8_t)next_rand();
            run_once(samples[s].fn, samples[s].l4, samples[s].dport, m, n);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dns_udp_query_then_response),
        cmocka_unit_test(test_dns_response_alone),
        cmocka_unit_test(test_dns_tcp_length_prefix),
        cmocka_unit_test(test_dns_tcp_rejects_short_length),
        cmocka_unit_test(test_dns_mdns_announcement),
        cmocka_unit_test(test_dns_llmnr_multicast_query),
        cmocka_unit_test(test_dns_same_payload_other_port_is_dns),
        cmocka_unit_test(test_dns_rejects_netbios),
        cmocka_unit_test(test_dns_rejects_bad_headers),
        cmocka_unit_test(test_dns_name_too_long),
        cmocka_unit_test(test_dns_compression_loops),
        cmocka_unit_test(test_dns_labels_escaped),
        cmocka_unit_test(test_dns_later_garbage_keeps_label),
        cmocka_unit_test(test_dhcp_inform_fields),
        cmocka_unit_test(test_dhcp_discover_then_request),
        cmocka_unit_test(test_dhcp_hostile),
        cmocka_unit_test(test_dhcpv6),
        cmocka_unit_test(test_ntp_client_then_server),
        cmocka_unit_test(test_ntp_control_and_private),
        cmocka_unit_test(test_ntp_rejects),
        cmocka_unit_test(test_bgp),
        cmocka_unit_test(test_mqtt_connect_and_subscribe),
        cmocka_unit_test(test_mqtt_311_connect),
        cmocka_unit_test(test_mqtt_rejects),
        cmocka_unit_test(test_kerberos),
        cmocka_unit_test(test_mysql),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_random_and_mutated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
