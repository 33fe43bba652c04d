/*
 * Unit tests of the IPFIX mapper (src/map/map_ipfix.c): template file parsing and every
 * error it reports, the record layout against libfixbuf's own idea of it, and the values of
 * encoded records. Values are checked by decoding the encoded message with libfixbuf's
 * collector into a struct described here by element names, so the decode does not share
 * the mapper's offsets; expected values are worked out by hand from the flow built here.
 * Variable-length elements (applicationName, DPI fields) decode into fbVarfield_t members,
 * so a wrong offset or size in the mapper's record shows as a wrong decoded value. The
 * default and dpi templates are read from OCELLUS_TEMPLATE_DIR (set by make check).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "map/map_ipfix.h"

/* --- helpers ---------------------------------------------------------------------------- */

static char tmpdir[256];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "%s/test_map_ipfix.XXXXXX", g_get_tmp_dir());
    assert_non_null(g_mkdtemp(tmpdir));
    return 0;
}

static int teardown_dir(void **state)
{
    (void)state;
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", tmpdir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* Writes @text into a file of the temporary directory and returns its path. */
static char *write_tmpl(const char *name, const char *text)
{
    char *path = g_build_filename(tmpdir, name, NULL);
    assert_true(g_file_set_contents(path, text, -1, NULL));
    return path;
}

/* Loads @text as a template and expects an error with @code whose message contains each of
 * the NULL-terminated strings that follow. */
static void expect_error(const char *text, int code, ...)
{
    fbInfoModel_t *model = map_ipfix_model_new();
    g_autofree char *path = write_tmpl("bad.tmpl", text);
    map_ipfix_opts_t opts = { 0 };
    GError *err = NULL;
    map_ipfix_t *map = map_ipfix_load(model, path, &opts, &err);
    assert_null(map);
    assert_non_null(err);
    if (err->code != code || !g_error_matches(err, MAP_IPFIX_ERROR, code))
        fail_msg("expected code %d, got %d: %s", code, err->code, err->message);
    va_list ap;
    va_start(ap, code);
    const char *want;
    while ((want = va_arg(ap, const char *)) != NULL) {
        if (strstr(err->message, want) == NULL)
            fail_msg("message '%s' lacks '%s'", err->message, want);
    }
    va_end(ap);
    g_error_free(err);
    fbInfoModelFree(model);
}

/* A TCP biflow with hand-picked values (see the expectations in the tests). */
static void make_flow_v4(oc_flow_info_t *f)
{
    memset(f, 0, sizeof *f);
    f->id = 77;
    f->key.family = OC_FAMILY_IPV4;
    f->key.protocol = 6;
    f->key.vlan_id = 42;
    const uint8_t s[4] = { 192, 0, 2, 1 }, d[4] = { 198, 51, 100, 7 };
    memcpy(f->key.src_addr, s, 4);
    memcpy(f->key.dst_addr, d, 4);
    f->key.src_port = 40000;
    f->key.dst_port = 443;
    int64_t(*st)[OC_DIRECTION_N] = f->statistics;
    st[OC_STAT_PACKETS][0] = 10;
    st[OC_STAT_OCTETS][0] = 1500;
    st[OC_STAT_TIMESTAMP_FIRST][0] = 1700000000123456;
    st[OC_STAT_TIMESTAMP_LAST][0] = 1700000001000999;
    st[OC_STAT_TCP_FLAGS_INITIAL][0] = 0x02;
    st[OC_STAT_TCP_FLAGS_UNION][0] = 0x1b;
    st[OC_STAT_PACKETS][1] = 8;
    st[OC_STAT_OCTETS][1] = 9000;
    st[OC_STAT_TIMESTAMP_FIRST][1] = 1700000000200999;
    st[OC_STAT_TIMESTAMP_LAST][1] = 1700000001500000;
    st[OC_STAT_TCP_FLAGS_INITIAL][1] = 0x12;
    st[OC_STAT_TCP_FLAGS_UNION][1] = 0x1a;
    f->icmp_type_code[0] = f->icmp_type_code[1] = -1;
    f->end_reason = OC_END_TCP;
}

/* What the decoder fills: every element of the default template by name, largest first,
 * padded to the struct size. Elements missing from a record decode as 0. */
typedef struct {
    uint64_t start_ms, end_ms, octets, packets, rev_octets, rev_packets;
    uint32_t sip, dip, rev_delta_ms, ingress, egress;
    uint16_t sport, dport, tcp_flags, rev_tcp_flags, vlan, rev_vlan, app_label;
    uint8_t proto, reason;
    uint8_t pad[4];
} dec_v4_t;

static fbInfoElementSpec_t dec_v4_spec[] = {
    { "flowStartMilliseconds", 8, 0 },
    { "flowEndMilliseconds", 8, 0 },
    { "octetDeltaCount", 8, 0 },
    { "packetDeltaCount", 8, 0 },
    { "reverseOctetDeltaCount", 8, 0 },
    { "reversePacketDeltaCount", 8, 0 },
    { "sourceIPv4Address", 4, 0 },
    { "destinationIPv4Address", 4, 0 },
    { "reverseFlowDeltaMilliseconds", 4, 0 },
    { "ingressInterface", 4, 0 },
    { "egressInterface", 4, 0 },
    { "sourceTransportPort", 2, 0 },
    { "destinationTransportPort", 2, 0 },
    { "tcpControlBits", 2, 0 },
    { "reverseTcpControlBits", 2, 0 },
    { "vlanId", 2, 0 },
    { "reverseVlanId", 2, 0 },
    { "silkAppLabel", 2, 0 },
    { "protocolIdentifier", 1, 0 },
    { "flowEndReason", 1, 0 },
    { "paddingOctets", 4, 0 },
    FB_IESPEC_NULL
};

typedef struct {
    uint64_t start_ms, end_ms, octets, packets, rev_octets, rev_packets;
    uint8_t sip[16], dip[16];
    uint16_t sport, dport, vlan;
    uint8_t proto, reason;
} dec_v6_t;

static fbInfoElementSpec_t dec_v6_spec[] = {
    { "flowStartMilliseconds", 8, 0 },
    { "flowEndMilliseconds", 8, 0 },
    { "octetDeltaCount", 8, 0 },
    { "packetDeltaCount", 8, 0 },
    { "reverseOctetDeltaCount", 8, 0 },
    { "reversePacketDeltaCount", 8, 0 },
    { "sourceIPv6Address", 16, 0 },
    { "destinationIPv6Address", 16, 0 },
    { "sourceTransportPort", 2, 0 },
    { "destinationTransportPort", 2, 0 },
    { "vlanId", 2, 0 },
    { "protocolIdentifier", 1, 0 },
    { "flowEndReason", 1, 0 },
    FB_IESPEC_NULL
};

/* Emits the message under construction into @buf and appends it to @out at *@len. */
static void take_message(fBuf_t *fbuf, const uint8_t *buf, uint8_t *out, size_t *len)
{
    GError *err = NULL;
    if (!fBufEmit(fbuf, &err))
        fail_msg("%s", err->message);
    size_t n = fbExporterGetMsgLen(fBufGetExporter(fbuf));
    memcpy(out + *len, buf, n);
    *len += n;
}

/* Encodes @n flows with @map: a template message, then the data records (libfixbuf keeps
 * templates and data in separate messages). Returns the length written into @out. */
static size_t encode(const map_ipfix_t *map, fbInfoModel_t *model, const oc_flow_info_t *flows,
                     size_t n, uint8_t *out)
{
    GError *err = NULL;
    static uint8_t msg[65535];
    size_t len = 0;
    fbSession_t *session = fbSessionAlloc(model);
    for (int f = 0; f < MAP_IPFIX_N_FAMILY; f++) {
        fbTemplate_t *t = map_ipfix_template_new(map, (map_ipfix_family_t)f, &err);
        assert_non_null(t);
        uint16_t tid = f == MAP_IPFIX_V6 ? MAP_IPFIX_TID_V6 : MAP_IPFIX_TID_V4;
        assert_true(fbSessionAddTemplate(session, TRUE, tid, t, &err));
        assert_true(fbSessionAddTemplate(session, FALSE, tid, t, &err));
    }
    fBuf_t *fbuf = fBufAllocForExport(session, fbExporterAllocBuffer(msg, sizeof msg));
    fBufSetAutomaticMode(fbuf, FALSE);
    if (!fbSessionExportTemplates(session, &err)) {
        /* first template set of a buffer: libfixbuf asks for a new message once */
        assert_true(g_error_matches(err, FB_ERROR_DOMAIN, FB_ERROR_EOM));
        g_clear_error(&err);
        if (!fbSessionExportTemplates(session, &err))
            fail_msg("%s", err->message);
    }
    take_message(fbuf, msg, out, &len);
    static uint8_t rec[2 * MAP_IPFIX_MAX_RECORD];
    for (size_t i = 0; i < n; i++) {
        map_ipfix_family_t fam;
        size_t k = map_ipfix_fill(map, &flows[i], rec, &fam);
        uint16_t tid = fam == MAP_IPFIX_V6 ? MAP_IPFIX_TID_V6 : MAP_IPFIX_TID_V4;
        assert_true(fBufSetInternalTemplate(fbuf, tid, &err));
        assert_true(fBufSetExportTemplate(fbuf, tid, &err));
        for (size_t r = 0; r < k; r++) {
            uint8_t *p = rec + r * MAP_IPFIX_MAX_RECORD;
            size_t sz = map_ipfix_record_size(map, fam);
            if (!fBufAppend(fbuf, p, sz, &err)) {
                /* first data after templates: a new message */
                assert_true(g_error_matches(err, FB_ERROR_DOMAIN, FB_ERROR_EOM));
                g_clear_error(&err);
                if (!fBufAppend(fbuf, p, sz, &err))
                    fail_msg("%s", err->message);
            }
        }
    }
    take_message(fbuf, msg, out, &len);
    fBufFree(fbuf);
    return len;
}

/* Decodes every data record of @msg into @out (records of @size bytes, @spec). */
static size_t decode(uint8_t *msg, size_t len, fbInfoElementSpec_t *spec, void *out,
                     size_t size, size_t max)
{
    GError *err = NULL;
    fbInfoModel_t *model = map_ipfix_model_new();
    fbSession_t *session = fbSessionAlloc(model);
    fbTemplate_t *t = fbTemplateAlloc(model);
    assert_true(fbTemplateAppendSpecArray(t, spec, 0, &err));
    assert_int_equal(fbTemplateGetIELenOfMemBuffer(t), size);
    assert_true(fbSessionAddTemplate(session, TRUE, 0x9000, t, &err));
    fBuf_t *cbuf = fBufAllocForCollection(session, NULL);
    fBufSetBuffer(cbuf, msg, len);
    assert_true(fBufSetInternalTemplate(cbuf, 0x9000, &err));
    size_t n = 0;
    for (;;) {
        size_t rlen = size;
        assert_true(n <= max);
        if (!fBufNext(cbuf, (uint8_t *)out + n * size, &rlen, &err))
            break;
        n++;
    }
    g_clear_error(&err);
    fBufFree(cbuf);
    fbInfoModelFree(model);
    return n;
}

/* --- tests ------------------------------------------------------------------------------ */

static void test_model_has_cert_elements(void **state)
{
    (void)state;
    fbInfoModel_t *m = map_ipfix_model_new();
    static const struct { const char *name; uint32_t ent; uint16_t num, len; } want[] = {
        { "initialTCPFlags", 6871, 14, 1 },
        { "unionTCPFlags", 6871, 15, 1 },
        { "reverseInitialTCPFlags", 6871, 16398, 1 },
        { "reverseUnionTCPFlags", 6871, 16399, 1 },
        { "reverseFlowDeltaMilliseconds", 6871, 21, 4 },
        { "silkAppLabel", 6871, 33, 2 },
        /* DPI fields: ids and types of cert_ipfix.xml (libfixbuf-tools) */
        { "sipUserAgent", 6871, 161, FB_IE_VARLEN },
        { "smtpHello", 6871, 162, FB_IE_VARLEN },
        { "smtpFrom", 6871, 163, FB_IE_VARLEN },
        { "smtpTo", 6871, 164, FB_IE_VARLEN },
        { "sshVersion", 6871, 171, FB_IE_VARLEN },
        { "reverseSshVersion", 6871, 171 | 0x4000, FB_IE_VARLEN },
        { "dnsQRType", 6871, 175, 2 },
        { "dnsQName", 6871, 179, FB_IE_VARLEN },
        { "sslServerCipher", 6871, 187, 4 },
        { "dhcpVendorCode", 6871, 243, FB_IE_VARLEN },
        { "sslServerName", 6871, 294, FB_IE_VARLEN },
        { "smtpStartTLS", 6871, 326, 1 },
        /* IANA's, from libfixbuf's own model */
        { "applicationId", 0, 95, FB_IE_VARLEN },
        { "applicationName", 0, 96, FB_IE_VARLEN },
        { "httpStatusCode", 0, 457, 2 },
        { "httpUserAgent", 0, 468, FB_IE_VARLEN },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(want); i++) {
        const fbInfoElement_t *ie = fbInfoModelGetElementByName(m, want[i].name);
        if (ie == NULL)
            fail_msg("%s is not in the model", want[i].name);
        assert_int_equal(ie->ent, want[i].ent);
        assert_int_equal(ie->num, want[i].num);
        assert_int_equal(ie->len, want[i].len);
    }
    fbInfoModelFree(m);
}

/* The default template is INTEROP.md's layout, element by element, per family. */
static void test_default_template_elements(void **state)
{
    (void)state;
    fbInfoModel_t *model = map_ipfix_model_new();
    map_ipfix_opts_t opts = { 0 };
    GError *err = NULL;
    map_ipfix_t *map = map_ipfix_load(model, NULL, &opts, &err);
    if (map == NULL)
        fail_msg("%s", err->message);
    static const uint32_t common[][2] = {
        { 0, 7 }, { 0, 11 }, { 0, 4 }, { 0, 152 }, { 0, 153 }, { 0, 1 }, { 0, 2 },
        { 29305, 1 }, { 29305, 2 }, { 6871, 21 }, { 29305, 6 }, { 0, 6 }, { 29305, 58 },
        { 0, 58 }, { 0, 136 }, { 6871, 33 }, { 0, 10 }, { 0, 14 }, { 0, 95 },
    };
    for (int f = 0; f < MAP_IPFIX_N_FAMILY; f++) {
        assert_int_equal(map_ipfix_n_elements(map, f), 2 + G_N_ELEMENTS(common));
        uint32_t ent;
        uint16_t num, len;
        map_ipfix_element(map, f, 0, &ent, &num, &len);
        assert_int_equal(ent, 0);
        assert_int_equal(num, f == MAP_IPFIX_V4 ? 8 : 27);
        map_ipfix_element(map, f, 1, &ent, &num, &len);
        assert_int_equal(num, f == MAP_IPFIX_V4 ? 12 : 28);
        for (size_t i = 0; i < G_N_ELEMENTS(common); i++) {
            map_ipfix_element(map, f, i + 2, &ent, &num, &len);
            assert_int_equal(ent, common[i][0]);
            assert_int_equal(num, common[i][1]);
        }
        /* applicationId: fixed 3 octets (RFC 6759 engine id + 2-octet selector) */
        assert_int_equal(len, 3);
    }
    /* no field element: the output need not carry fields */
    assert_false(map_ipfix_wants_fields(map));
    map_ipfix_free(map);
    fbInfoModelFree(model);
}

/* Record size = plain sum of the element lengths (hand sum: addresses 4+4 or 16+16, ports
 * 2+2, protocol 1, times 8+8, four counters 8 each, delta 4, flags 2+2, VLANs 2+2, reason
 * 1, app label 2, interfaces 4+4, applicationId 3) and it is what libfixbuf expects for the
 * internal record. */
static void test_record_size_matches_fixbuf(void **state)
{
    (void)state;
    fbInfoModel_t *model = map_ipfix_model_new();
    map_ipfix_opts_t opts = { 0 };
    map_ipfix_t *map = map_ipfix_load(model, NULL, &opts, NULL);
    assert_non_null(map);
    assert_int_equal(map_ipfix_record_size(map, MAP_IPFIX_V4), 87);
    assert_int_equal(map_ipfix_record_size(map, MAP_IPFIX_V6), 111);
    for (int f = 0; f < MAP_IPFIX_N_FAMILY; f++) {
        fbTemplate_t *t = map_ipfix_template_new(map, f, NULL);
        assert_non_null(t);
        assert_int_equal(fbTemplateGetIELenOfMemBuffer(t), map_ipfix_record_size(map, f));
        fbTemplateFreeUnused(t);
    }
    map_ipfix_free(map);
    fbInfoModelFree(model);
}

/* Comments, blank lines, pen/id and an odd-length mix (padding would show here). */
static void test_parse_comments_and_pen_id(void **state)
{
    (void)state;
    fbInfoModel_t *model = map_ipfix_model_new();
    g_autofree char *path = write_tmpl("ok.tmpl",
                                       "# comment only\n\n  protocolIdentifier   # 1 octet\n"
                                       "6871/16398\n0/1\nsourceIPv4Address\r\n"
                                       "sourceIPv6Address\n29305/2");
    map_ipfix_opts_t opts = { 0 };
    GError *err = NULL;
    map_ipfix_t *map = map_ipfix_load(model, path, &opts, &err);
    if (map == NULL)
        fail_msg("%s", err->message);
    /* v4: protocol 1 + reverseInitialTCPFlags 1 + octets 8 + addr 4 + rev packets 8 */
    assert_int_equal(map_ipfix_n_elements(map, MAP_IPFIX_V4), 5);
    assert_int_equal(map_ipfix_record_size(map, MAP_IPFIX_V4), 22);
    assert_int_equal(map_ipfix_record_size(map, MAP_IPFIX_V6), 34);
    fbTemplate_t *t = map_ipfix_template_new(map, MAP_IPFIX_V4, NULL);
    assert_int_equal(fbTemplateGetIELenOfMemBuffer(t), 22);
    fbTemplateFreeUnused(t);
    map_ipfix_free(map);
    fbInfoModelFree(model);
}

static void test_error_unknown_element(void **state)
{
    (void)state;
    expect_error("vlanId\n\nnoSuchElement\n", MAP_IPFIX_ERROR_UNKNOWN, "bad.tmpl:3:",
                 "unknown information element noSuchElement", NULL);
    expect_error("vlanId\n6871/9999\n", MAP_IPFIX_ERROR_UNKNOWN, "bad.tmpl:2:", "6871/9999",
                 NULL);
}

static void test_error_bad_pen_id(void **state)
{
    (void)state;
    const char *bad[] = { "6871/abc", "6871/0", "6871/40000", "x/5", "/5", "5/", "1/2/3",
                          "99999999999/1" };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *text = g_strdup_printf("vlanId\n%s\n", bad[i]);
        expect_error(text, MAP_IPFIX_ERROR_SYNTAX, "bad.tmpl:2:", bad[i],
                     "is not a valid pen/id", NULL);
    }
    expect_error("vlanId 58\n", MAP_IPFIX_ERROR_SYNTAX, "bad.tmpl:1:",
                 "one information element per line", NULL);
    expect_error("vlan-id\n", MAP_IPFIX_ERROR_SYNTAX, "bad.tmpl:1:", "vlan-id", NULL);
}

static void test_error_duplicate(void **state)
{
    (void)state;
    expect_error("vlanId\nflowEndReason\n0/58\n", MAP_IPFIX_ERROR_DUPLICATE, "bad.tmpl:3:",
                 "0/58 is already listed on line 1", NULL);
    expect_error("reverseVlanId\n29305/58\n", MAP_IPFIX_ERROR_DUPLICATE, "bad.tmpl:2:",
                 "line 1", NULL);
}

static void test_error_unfillable(void **state)
{
    (void)state;
    expect_error("vlanId\nipTTL\n", MAP_IPFIX_ERROR_UNFILLABLE, "bad.tmpl:2:", "ipTTL",
                 "has no value", NULL);
    /* the reverse of a non-reversible element has no meaning */
    expect_error("reverseSourceIPv4Address\n", MAP_IPFIX_ERROR_UNFILLABLE, "bad.tmpl:1:",
                 "reverseSourceIPv4Address", NULL);
    /* variable length */
    expect_error("interfaceName\n", MAP_IPFIX_ERROR_UNFILLABLE, "bad.tmpl:1:",
                 "interfaceName", NULL);
    /* reverse twins of fields that have no reverse value (only sshVersion has one) */
    expect_error("vlanId\nreverseHttpRequestHost\n", MAP_IPFIX_ERROR_UNFILLABLE,
                 "bad.tmpl:2:", "reverseHttpRequestHost", NULL);
    expect_error("reverseDhcpVendorCode\n", MAP_IPFIX_ERROR_UNFILLABLE, "bad.tmpl:1:",
                 "reverseDhcpVendorCode", NULL);
    /* an HTTP element ocellus has no field for */
    expect_error("httpMessageVersion\n", MAP_IPFIX_ERROR_UNFILLABLE, "bad.tmpl:1:",
                 "httpMessageVersion", NULL);
}

static void test_error_open_and_empty(void **state)
{
    (void)state;
    fbInfoModel_t *model = map_ipfix_model_new();
    map_ipfix_opts_t opts = { 0 };
    GError *err = NULL;
    g_autofree char *missing = g_build_filename(tmpdir, "none.tmpl", NULL);
    assert_null(map_ipfix_load(model, missing, &opts, &err));
    assert_true(g_error_matches(err, MAP_IPFIX_ERROR, MAP_IPFIX_ERROR_OPEN));
    assert_non_null(strstr(err->message, "none.tmpl"));
    g_clear_error(&err);
    fbInfoModelFree(model);
    /* only IPv4 addresses: nothing for IPv6 flows */
    expect_error("# v4 only\nsourceIPv6Address\n", MAP_IPFIX_ERROR_EMPTY, "IPv4", NULL);
}

/* A name carried by two elements must be written as pen/id; pen/id then works. */
static void test_error_ambiguous_name(void **state)
{
    (void)state;
    fbInfoModel_t *model = map_ipfix_model_new();
    fbInfoElement_t twin[] = {
        FB_IE_INIT_FULL("vlanId", 6871, 999, 2, FB_IE_F_ENDIAN, 0, 0, FB_UINT_16, NULL),
        FB_IE_NULL
    };
    fbInfoModelAddElementArray(model, twin);
    g_autofree char *path = write_tmpl("amb.tmpl", "flowEndReason\nvlanId\n");
    map_ipfix_opts_t opts = { 0 };
    GError *err = NULL;
    assert_null(map_ipfix_load(model, path, &opts, &err));
    assert_true(g_error_matches(err, MAP_IPFIX_ERROR, MAP_IPFIX_ERROR_AMBIGUOUS));
    assert_non_null(strstr(err->message, "amb.tmpl:2:"));
    assert_non_null(strstr(err->message, "0/58"));
    assert_non_null(strstr(err->message, "6871/999"));
    assert_non_null(strstr(err->message, "pen/id"));
    g_clear_error(&err);
    g_autofree char *ok = write_tmpl("amb_ok.tmpl", "flowEndReason\n0/58\n");
    map_ipfix_t *map = map_ipfix_load(model, ok, &opts, &err);
    assert_non_null(map);
    map_ipfix_free(map);
    fbInfoModelFree(model);
}

static void test_biflow_record_values(void **state)
{
    (void)state;
    fbInfoModel_t *model = map_ipfix_model_new();
    map_ipfix_opts_t opts = { .ingress_interface = 7 };
    map_ipfix_t *map = map_ipfix_load(model, NULL, &opts, NULL);
    assert_non_null(map);
    oc_flow_info_t f;
    make_flow_v4(&f);
    static uint8_t msg[16384];
    size_t len = encode(map, model, &f, 1, msg);
    dec_v4_t d[4];
    memset(d, 0xee, sizeof d);
    assert_int_equal(decode(msg, len, dec_v4_spec, d, sizeof d[0], 4), 1);
    assert_int_equal(d[0].sip, 0xc0000201);     /* 192.0.2.1 */
    assert_int_equal(d[0].dip, 0xc6336407);     /* 198.51.100.7 */
    assert_int_equal(d[0].sport, 40000);
    assert_int_equal(d[0].dport, 443);
    assert_int_equal(d[0].proto, 6);
    assert_int_equal(d[0].start_ms, 1700000000123); /* earliest first, floor of µs */
    assert_int_equal(d[0].end_ms, 1700000001500);   /* latest last (the inbound one) */
    assert_int_equal(d[0].octets, 1500);
    assert_int_equal(d[0].packets, 10);
    assert_int_equal(d[0].rev_octets, 9000);
    assert_int_equal(d[0].rev_packets, 8);
    assert_int_equal(d[0].rev_delta_ms, 77);        /* ...200 - ...123 */
    assert_int_equal(d[0].tcp_flags, 0x1b);
    assert_int_equal(d[0].rev_tcp_flags, 0x1a);
    assert_int_equal(d[0].vlan, 42);
    assert_int_equal(d[0].rev_vlan, 42);
    assert_int_equal(d[0].reason, 3);
    assert_int_equal(d[0].app_label, 0);
    assert_int_equal(d[0].ingress, 7);
    assert_int_equal(d[0].egress, 0);
    map_ipfix_free(map);
    fbInfoModelFree(model);
}

static void test_uniflow_two_records(void **state)
{
    (void)state;
    fbInfoModel_t *model = map_ipfix_model_new();
    map_ipfix_opts_t opts = { .uniflow = true };
    map_ipfix_t *map = map_ipfix_load(model, NULL, &opts, NULL);
    assert_non_null(map);
    /* every reverse element and reverseFlowDeltaMilliseconds are left out: 22 - 6 */
    assert_int_equal(map_ipfix_n_elements(map, MAP_IPFIX_V4), 16);
    for (size_t i = 0; i < 16; i++) {
        uint32_t ent;
        uint16_t num, len;
        map_ipfix_element(map, MAP_IPFIX_V4, i, &ent, &num, &len);
        assert_true(ent != 29305 && !(ent == 6871 && num == 21));
    }
    oc_flow_info_t f[2];
    make_flow_v4(&f[0]);
    make_flow_v4(&f[1]);
    f[1].statistics[OC_STAT_PACKETS][1] = 0; /* one-way: a single record */
    static uint8_t msg[16384];
    size_t len = encode(map, model, f, 2, msg);
    dec_v4_t d[4];
    memset(d, 0xee, sizeof d);
    assert_int_equal(decode(msg, len, dec_v4_spec, d, sizeof d[0], 4), 3);
    /* outbound record */
    assert_int_equal(d[0].sip, 0xc0000201);
    assert_int_equal(d[0].dip, 0xc6336407);
    assert_int_equal(d[0].sport, 40000);
    assert_int_equal(d[0].dport, 443);
    assert_int_equal(d[0].packets, 10);
    assert_int_equal(d[0].octets, 1500);
    assert_int_equal(d[0].start_ms, 1700000000123);
    assert_int_equal(d[0].end_ms, 1700000001000);
    assert_int_equal(d[0].tcp_flags, 0x1b);
    assert_int_equal(d[0].rev_packets, 0);
    assert_int_equal(d[0].rev_octets, 0);
    assert_int_equal(d[0].vlan, 42);
    /* inbound record: endpoints swapped */
    assert_int_equal(d[1].sip, 0xc6336407);
    assert_int_equal(d[1].dip, 0xc0000201);
    assert_int_equal(d[1].sport, 443);
    assert_int_equal(d[1].dport, 40000);
    assert_int_equal(d[1].packets, 8);
    assert_int_equal(d[1].octets, 9000);
    assert_int_equal(d[1].start_ms, 1700000000200);
    assert_int_equal(d[1].end_ms, 1700000001500);
    assert_int_equal(d[1].tcp_flags, 0x1a);
    assert_int_equal(d[1].reason, 3);
    /* the one-way flow */
    assert_int_equal(d[2].sip, 0xc0000201);
    assert_int_equal(d[2].packets, 10);
    map_ipfix_free(map);
    fbInfoModelFree(model);
}

static void test_ipv6_record_values(void **state)
{
    (void)state;
    fbInfoModel_t *model = map_ipfix_model_new();
    map_ipfix_opts_t opts = { 0 };
    map_ipfix_t *map = map_ipfix_load(model, NULL, &opts, NULL);
    assert_non_null(map);
    oc_flow_info_t f;
    make_flow_v4(&f);
    f.key.family = OC_FAMILY_IPV6;
    f.key.protocol = 17;
    const uint8_t s6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
    const uint8_t d6[16] = { 0x20, 0x01, 0x0d, 0xb8, [14] = 0xab, [15] = 0xcd };
    memcpy(f.key.src_addr, s6, 16);
    memcpy(f.key.dst_addr, d6, 16);
    static uint8_t msg[16384];
    size_t len = encode(map, model, &f, 1, msg);
    dec_v6_t d[2];
    assert_int_equal(decode(msg, len, dec_v6_spec, d, sizeof d[0], 2), 1);
    assert_memory_equal(d[0].sip, s6, 16);
    assert_memory_equal(d[0].dip, d6, 16);
    assert_int_equal(d[0].proto, 17);
    assert_int_equal(d[0].packets, 10);
    assert_int_equal(d[0].rev_octets, 9000);
    assert_int_equal(d[0].vlan, 42);
    map_ipfix_free(map);
    fbInfoModelFree(model);
}

/* --- application identification and DPI fields ------------------------------------------- */

/* Appends @value as @field of @f (the layout oc_fields_t documents). */
static void field_set(oc_fields_t *f, oc_field_t field, const char *value)
{
    size_t len = strlen(value);
    assert_true(f->used + len <= OC_FIELDS_BYTES);
    memcpy(f->buf + f->used, value, len);
    f->off[field] = f->used;
    f->len[field] = (uint16_t)len;
    f->used = (uint16_t)(f->used + len);
}

/* What the decoder fills from a dpi.tmpl record: variable-length members first (they are
 * 8-aligned there), then the numbers, padded to the struct size. */
typedef struct {
    fbVarfield_t app_name, ssh, rev_ssh, qname, sni, host, method, target, agent, ctype;
    fbVarfield_t helo, from, to, sip_agent, dhcp_vendor;
    uint64_t packets;
    uint32_t sip, cipher;
    uint16_t sport, status, qrtype, app_label;
    uint8_t app_id[3];
    uint8_t starttls;
    uint8_t pad[4];
} dec_dpi_t;

static fbInfoElementSpec_t dec_dpi_spec[] = {
    { "applicationName", FB_IE_VARLEN, 0 },
    { "sshVersion", FB_IE_VARLEN, 0 },
    { "reverseSshVersion", FB_IE_VARLEN, 0 },
    { "dnsQName", FB_IE_VARLEN, 0 },
    { "sslServerName", FB_IE_VARLEN, 0 },
    { "httpRequestHost", FB_IE_VARLEN, 0 },
    { "httpRequestMethod", FB_IE_VARLEN, 0 },
    { "httpRequestTarget", FB_IE_VARLEN, 0 },
    { "httpUserAgent", FB_IE_VARLEN, 0 },
    { "httpContentType", FB_IE_VARLEN, 0 },
    { "smtpHello", FB_IE_VARLEN, 0 },
    { "smtpFrom", FB_IE_VARLEN, 0 },
    { "smtpTo", FB_IE_VARLEN, 0 },
    { "sipUserAgent", FB_IE_VARLEN, 0 },
    { "dhcpVendorCode", FB_IE_VARLEN, 0 },
    { "packetDeltaCount", 8, 0 },
    { "sourceIPv4Address", 4, 0 },
    { "sslServerCipher", 4, 0 },
    { "sourceTransportPort", 2, 0 },
    { "httpStatusCode", 2, 0 },
    { "dnsQRType", 2, 0 },
    { "silkAppLabel", 2, 0 },
    { "applicationId", 3, 0 },
    { "smtpStartTLS", 1, 0 },
    { "paddingOctets", 4, 0 },
    FB_IESPEC_NULL
};

static void assert_var(const fbVarfield_t *v, const char *want)
{
    if (v->len != strlen(want) || (v->len > 0 && memcmp(v->buf, want, v->len) != 0))
        fail_msg("decoded '%.*s' (%zu octets), want '%s'", (int)v->len,
                 v->buf != NULL ? (const char *)v->buf : "", v->len, want);
}

static map_ipfix_t *load_or_fail(fbInfoModel_t *model, const char *path,
                                 const map_ipfix_opts_t *opts)
{
    GError *err = NULL;
    map_ipfix_t *map = map_ipfix_load(model, path, opts, &err);
    if (map == NULL)
        fail_msg("%s", err->message);
    return map;
}

/* dpi.tmpl (found by its short name): the default layout, then applicationName and the
 * field elements; string fields are variable-length (65535 in the template, an
 * fbVarfield_t in memory) and the record size is libfixbuf's. */
static void test_dpi_template_layout(void **state)
{
    (void)state;
    fbInfoModel_t *model = map_ipfix_model_new();
    map_ipfix_opts_t opts = { 0 };
    map_ipfix_t *map = load_or_fail(model, "dpi", &opts);
    assert_non_null(strstr(map_ipfix_path(map), "/dpi.tmpl"));
    assert_true(map_ipfix_wants_fields(map));
    /* after the 21 elements of the default IPv4 layout: (ent, num, length) */
    static const struct { uint32_t ent; uint16_t num, len; } tail[] = {
        { 0, 96, 65535 }, { 0, 459, 65535 }, { 0, 460, 65535 }, { 0, 461, 65535 },
        { 0, 468, 65535 }, { 0, 457, 2 }, { 0, 469, 65535 }, { 6871, 294, 65535 },
        { 6871, 187, 4 }, { 6871, 179, 65535 }, { 6871, 175, 2 }, { 6871, 171, 65535 },
        { 6871, 16555, 65535 }, { 6871, 162, 65535 }, { 6871, 163, 65535 },
        { 6871, 164, 65535 }, { 6871, 326, 1 }, { 6871, 161, 65535 }, { 6871, 243, 65535 },
    };
    assert_int_equal(map_ipfix_n_elements(map, MAP_IPFIX_V4), 21 + G_N_ELEMENTS(tail));
    size_t n_var = 0, fixed = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(tail); i++) {
        uint32_t ent;
        uint16_t num, len;
        map_ipfix_element(map, MAP_IPFIX_V4, 21 + i, &ent, &num, &len);
        assert_int_equal(ent, tail[i].ent);
        assert_int_equal(num, tail[i].num);
        assert_int_equal(len, tail[i].len);
        if (len == FB_IE_VARLEN)
            n_var++;
        else
            fixed += len;
    }
    /* 15 strings (14 fields + applicationName); numbers 2 + 4 + 2 + 1 */
    assert_int_equal(n_var, 15);
    assert_int_equal(fixed, 9);
    for (int f = 0; f < MAP_IPFIX_N_FAMILY; f++) {
        size_t want = (f == MAP_IPFIX_V4 ? 87 : 111) + fixed + n_var * sizeof(fbVarfield_t);
        assert_int_equal(map_ipfix_record_size(map, f), want);
        fbTemplate_t *t = map_ipfix_template_new(map, f, NULL);
        assert_non_null(t);
        assert_int_equal(fbTemplateGetIELenOfMemBuffer(t), want);
        fbTemplateFreeUnused(t);
    }
    map_ipfix_free(map);
    fbInfoModelFree(model);
}

/* Which templates make an output carry fields: any field element or applicationName, but
 * not silkAppLabel/applicationId (they need the label only), nor a reverse field element
 * that uniflow mode leaves out. */
static void test_wants_fields(void **state)
{
    (void)state;
    static const struct { const char *text; bool uniflow, want; } cases[] = {
        { "sourceIPv4Address\nsourceIPv6Address\nsilkAppLabel\napplicationId\n", false, false },
        { "sourceIPv4Address\nsourceIPv6Address\napplicationName\n", false, true },
        { "sourceIPv4Address\nsourceIPv6Address\ndnsQRType\n", false, true },
        { "sourceIPv4Address\nsourceIPv6Address\nreverseSshVersion\n", false, true },
        { "sourceIPv4Address\nsourceIPv6Address\nreverseSshVersion\n", true, false },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        fbInfoModel_t *model = map_ipfix_model_new();
        g_autofree char *path = write_tmpl("wants.tmpl", cases[i].text);
        map_ipfix_opts_t opts = { .uniflow = cases[i].uniflow };
        map_ipfix_t *map = load_or_fail(model, path, &opts);
        if (map_ipfix_wants_fields(map) != cases[i].want)
            fail_msg("case %zu: wants_fields %d", i, !cases[i].want);
        map_ipfix_free(map);
        fbInfoModelFree(model);
    }
}

/* Encodes @f with dpi.tmpl and decodes it into @d; returns the data record's wire length
 * (message length minus the 16-octet message and 4-octet set headers) and sets *@wire to
 * what map_ipfix_wire_size() said for it. */
static size_t dpi_roundtrip(const oc_flow_info_t *f, const map_ipfix_opts_t *opts,
                            dec_dpi_t *d, size_t max, size_t *n_dec, size_t *wire)
{
    fbInfoModel_t *model = map_ipfix_model_new();
    map_ipfix_t *map = load_or_fail(model, "dpi.tmpl", opts);
    static uint8_t msg[65536];
    size_t len = encode(map, model, f, 1, msg);
    static uint8_t rec[2 * MAP_IPFIX_MAX_RECORD];
    map_ipfix_family_t fam;
    size_t n = map_ipfix_fill(map, f, rec, &fam);
    assert_true(n >= 1);
    *wire = map_ipfix_wire_size(map, fam, rec);
    /* the data message follows the template message; its length is in its header */
    size_t tmsg = (size_t)msg[2] << 8 | msg[3];
    size_t dmsg = (size_t)msg[tmsg + 2] << 8 | msg[tmsg + 3];
    assert_int_equal(tmsg + dmsg, len);
    memset(d, 0, max * sizeof *d);
    *n_dec = decode(msg, len, dec_dpi_spec, d, sizeof *d, max);
    map_ipfix_free(map);
    fbInfoModelFree(model);
    return n == 1 ? dmsg - 16 - 4 : 0;
}

/* An SSH flow with a few fields of other protocols too (the mapper does not care which
 * protocol set them): strings arrive byte for byte, numbers parsed from their decimal text,
 * absent ones empty or 0; silkAppLabel 22 and applicationId 03 00 16 (RFC 6759: engine 3
 * IANA-L4, selector = port 22). */
static void test_dpi_record_values(void **state)
{
    (void)state;
    oc_flow_info_t f;
    make_flow_v4(&f);
    f.protocol = OC_PROTO_SSH;
    oc_fields_t fields;
    memset(&fields, 0, sizeof fields);
    field_set(&fields, OC_FIELD_SSH_CLIENT, "SSH-2.0-OpenSSH_5.6");
    field_set(&fields, OC_FIELD_SSH_SERVER, "SSH-2.0-OpenSSH_5.3");
    field_set(&fields, OC_FIELD_DNS_QNAME, "www.example.org");
    field_set(&fields, OC_FIELD_DNS_QTYPE, "28");
    field_set(&fields, OC_FIELD_HTTP_STATUS, "404");
    field_set(&fields, OC_FIELD_TLS_CIPHER, "4865"); /* 0x1301 TLS_AES_128_GCM_SHA256 */
    field_set(&fields, OC_FIELD_STARTTLS, "1");
    field_set(&fields, OC_FIELD_HTTP_HOST, "");      /* zero length = absent */
    f.fields = &fields;
    dec_dpi_t d[2];
    size_t n, wire;
    size_t rec_len = dpi_roundtrip(&f, &(map_ipfix_opts_t){ 0 }, d, 2, &n, &wire);
    assert_int_equal(n, 1);
    assert_var(&d[0].app_name, "ssh");
    assert_var(&d[0].ssh, "SSH-2.0-OpenSSH_5.6");
    assert_var(&d[0].rev_ssh, "SSH-2.0-OpenSSH_5.3");
    assert_var(&d[0].qname, "www.example.org");
    assert_var(&d[0].sni, "");
    assert_var(&d[0].host, "");
    assert_var(&d[0].method, "");
    assert_var(&d[0].dhcp_vendor, "");
    assert_int_equal(d[0].qrtype, 28);
    assert_int_equal(d[0].status, 404);
    assert_int_equal(d[0].cipher, 0x1301);
    assert_int_equal(d[0].starttls, 1);
    assert_int_equal(d[0].app_label, 22);
    const uint8_t app_id[3] = { 3, 0, 22 };
    assert_memory_equal(d[0].app_id, app_id, 3);
    /* elements of the default layout around the strings are intact */
    assert_int_equal(d[0].sip, 0xc0000201);
    assert_int_equal(d[0].sport, 40000);
    assert_int_equal(d[0].packets, 10);
    /* wire length: default 87 + numbers 9 + 15 one-octet length prefixes + the strings
     * ("ssh" 3, banners 19 + 19, qname 15) */
    assert_int_equal(rec_len, 87 + 9 + 15 + 3 + 19 + 19 + 15);
    assert_int_equal(wire, rec_len);
}

/* Unknown protocol (even with a port guess): no application name, silkAppLabel 0,
 * applicationId three zero octets; no fields at all (fields NULL): empty and 0. */
static void test_dpi_unknown_and_absent(void **state)
{
    (void)state;
    oc_flow_info_t f;
    make_flow_v4(&f);
    f.protocol = OC_PROTO_UNKNOWN;
    f.protocol_guess = OC_PROTO_TLS; /* port 443: a guess, never a label */
    f.fields = NULL;
    dec_dpi_t d[2];
    memset(d, 0xee, sizeof d);
    size_t n, wire;
    size_t rec_len = dpi_roundtrip(&f, &(map_ipfix_opts_t){ 0 }, d, 2, &n, &wire);
    assert_int_equal(n, 1);
    assert_var(&d[0].app_name, "");
    assert_var(&d[0].ssh, "");
    assert_var(&d[0].rev_ssh, "");
    assert_var(&d[0].sni, "");
    assert_int_equal(d[0].app_label, 0);
    const uint8_t zero[3] = { 0, 0, 0 };
    assert_memory_equal(d[0].app_id, zero, 3);
    assert_int_equal(d[0].status, 0);
    assert_int_equal(d[0].cipher, 0);
    assert_int_equal(d[0].qrtype, 0);
    assert_int_equal(d[0].starttls, 0);
    assert_int_equal(rec_len, 87 + 9 + 15);
    assert_int_equal(wire, rec_len);
}

/* Numbers that are not plain decimal text give 0; too large ones the element's maximum.
 * A value of 255 octets or more takes the 3-octet length prefix (RFC 7011 section 7). */
static void test_dpi_numbers_and_long_values(void **state)
{
    (void)state;
    oc_flow_info_t f;
    make_flow_v4(&f);
    f.protocol = OC_PROTO_DNS;
    oc_fields_t fields;
    memset(&fields, 0, sizeof fields);
    field_set(&fields, OC_FIELD_DNS_QTYPE, "1x");
    field_set(&fields, OC_FIELD_HTTP_STATUS, "-1");
    field_set(&fields, OC_FIELD_TLS_CIPHER, "99999999999999999999999");
    field_set(&fields, OC_FIELD_STARTTLS, "256");
    char longname[OC_FIELD_MAX_LEN + 1];
    memset(longname, 'a', OC_FIELD_MAX_LEN);
    longname[OC_FIELD_MAX_LEN] = '\0';
    field_set(&fields, OC_FIELD_DNS_QNAME, longname);
    f.fields = &fields;
    dec_dpi_t d[2];
    size_t n, wire;
    size_t rec_len = dpi_roundtrip(&f, &(map_ipfix_opts_t){ 0 }, d, 2, &n, &wire);
    assert_int_equal(n, 1);
    assert_int_equal(d[0].qrtype, 0);
    assert_int_equal(d[0].status, 0);
    assert_int_equal(d[0].cipher, UINT32_MAX);
    assert_int_equal(d[0].starttls, UINT8_MAX);
    assert_var(&d[0].qname, longname);
    assert_var(&d[0].app_name, "dns");
    assert_int_equal(d[0].app_label, 53);
    /* 14 one-octet prefixes, one 3-octet prefix, "dns" and the 512 octets */
    assert_int_equal(rec_len, 87 + 9 + 14 + 3 + 3 + OC_FIELD_MAX_LEN);
    assert_int_equal(wire, rec_len);
}

/* Uniflow: no reverse elements, so each direction's record carries its own banner in
 * sshVersion (the inbound record's is the server's); the label is in both. */
static void test_dpi_uniflow_banners(void **state)
{
    (void)state;
    oc_flow_info_t f;
    make_flow_v4(&f);
    f.protocol = OC_PROTO_SSH;
    oc_fields_t fields;
    memset(&fields, 0, sizeof fields);
    field_set(&fields, OC_FIELD_SSH_CLIENT, "SSH-2.0-client");
    field_set(&fields, OC_FIELD_SSH_SERVER, "SSH-2.0-server");
    f.fields = &fields;
    dec_dpi_t d[3];
    size_t n, wire;
    dpi_roundtrip(&f, &(map_ipfix_opts_t){ .uniflow = true }, d, 3, &n, &wire);
    assert_int_equal(n, 2);
    assert_int_equal(d[0].sport, 40000);
    assert_var(&d[0].ssh, "SSH-2.0-client");
    assert_int_equal(d[1].sport, 443);
    assert_var(&d[1].ssh, "SSH-2.0-server");
    for (int i = 0; i < 2; i++) {
        assert_var(&d[i].rev_ssh, "");
        assert_var(&d[i].app_name, "ssh");
        assert_int_equal(d[i].app_label, 22);
    }
}

/* max_wire_record (UDP): values are cut, longest first, so the encoded record fits; a
 * template whose empty record does not fit is refused. */
static void test_dpi_max_wire_record(void **state)
{
    (void)state;
    oc_flow_info_t f;
    make_flow_v4(&f);
    f.protocol = OC_PROTO_SSH;
    oc_fields_t fields;
    memset(&fields, 0, sizeof fields);
    char longname[OC_FIELD_MAX_LEN + 1];
    for (size_t i = 0; i < OC_FIELD_MAX_LEN; i++)
        longname[i] = (char)('a' + i % 26);
    longname[OC_FIELD_MAX_LEN] = '\0';
    field_set(&fields, OC_FIELD_DNS_QNAME, longname);
    field_set(&fields, OC_FIELD_SSH_CLIENT, "SSH-2.0-OpenSSH_5.6");
    f.fields = &fields;
    /* empty record: 87 + 9 + 15 length octets = 111; then "ssh" 3, banner 19, and 100
     * octets left for the name (one length octet: under 255) */
    map_ipfix_opts_t opts = { .max_wire_record = 111 + 3 + 19 + 100 };
    dec_dpi_t d[2];
    size_t n, wire;
    size_t rec_len = dpi_roundtrip(&f, &opts, d, 2, &n, &wire);
    assert_int_equal(n, 1);
    assert_int_equal(rec_len, opts.max_wire_record);
    assert_int_equal(wire, rec_len);
    assert_int_equal(d[0].qname.len, 100);
    assert_memory_equal(d[0].qname.buf, longname, 100);
    assert_var(&d[0].ssh, "SSH-2.0-OpenSSH_5.6");
    assert_var(&d[0].app_name, "ssh");
    /* 302 octets for the name with its length: 299 after a 3-octet prefix (111 counts one) */
    opts.max_wire_record = 111 + 3 + 19 + 301;
    rec_len = dpi_roundtrip(&f, &opts, d, 2, &n, &wire);
    assert_int_equal(rec_len, opts.max_wire_record);
    assert_int_equal(d[0].qname.len, 299);
    assert_memory_equal(d[0].qname.buf, longname, 299);
    /* the IPv6 record (111 + 24 for the addresses) cannot fit 130 octets */
    fbInfoModel_t *model = map_ipfix_model_new();
    opts.max_wire_record = 130;
    GError *err = NULL;
    assert_null(map_ipfix_load(model, "dpi", &opts, &err));
    assert_true(g_error_matches(err, MAP_IPFIX_ERROR, MAP_IPFIX_ERROR_SYNTAX));
    assert_non_null(strstr(err->message, "IPv6 record takes at least 135 octets"));
    g_clear_error(&err);
    fbInfoModelFree(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_has_cert_elements),
        cmocka_unit_test(test_default_template_elements),
        cmocka_unit_test(test_record_size_matches_fixbuf),
        cmocka_unit_test(test_parse_comments_and_pen_id),
        cmocka_unit_test(test_error_unknown_element),
        cmocka_unit_test(test_error_bad_pen_id),
        cmocka_unit_test(test_error_duplicate),
        cmocka_unit_test(test_error_unfillable),
        cmocka_unit_test(test_error_open_and_empty),
        cmocka_unit_test(test_error_ambiguous_name),
        cmocka_unit_test(test_biflow_record_values),
        cmocka_unit_test(test_uniflow_two_records),
        cmocka_unit_test(test_ipv6_record_values),
        cmocka_unit_test(test_dpi_template_layout),
        cmocka_unit_test(test_wants_fields),
        cmocka_unit_test(test_dpi_record_values),
        cmocka_unit_test(test_dpi_unknown_and_absent),
        cmocka_unit_test(test_dpi_numbers_and_long_values),
        cmocka_unit_test(test_dpi_uniflow_banners),
        cmocka_unit_test(test_dpi_max_wire_record),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
