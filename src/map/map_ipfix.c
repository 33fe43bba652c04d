/*
 * The IPFIX mapper: a template file (one information element per line, by name or pen/id)
 * becomes a table of rows {element, length, value source, direction, offset}, and a finished
 * flow becomes a record by writing each row's value at its offset with memcpy.
 *
 * Why rows and not a hand-written C struct: the operator chooses the elements, so the record
 * layout is only known at start-up. libfixbuf lays an internal record out as the plain sum of
 * the element lengths without alignment padding (STYLE.md section 7), which is exactly the
 * offsets computed here; the unit test compares the two. Elements are appended to the
 * template by (enterprise, number) rather than through fbInfoElementSpec_t names, because a
 * name may belong to two elements and the file then says which one with pen/id.
 *
 * Direction follows RFC 5103: forward elements describe the flow's source side
 * (OC_DIRECTION_OUTBOUND), reverse elements (PEN 29305, or the 0x4000 bit of a reversible
 * CERT element) the other side. In uniflow mode every reverse element and
 * reverseFlowDeltaMilliseconds are left out and each direction that has packets becomes its
 * own record with the endpoints swapped for the inbound one (RFC 5103 section 3).
 *
 * Application identification: silkAppLabel is the protocol's well-known port (YAF's
 * convention), applicationId (RFC 6759) the same port behind classification engine id 3
 * (IANA-L4), so both carry a meaning any collector knows; neither ever carries the port
 * guess. applicationName and the payload fields are variable-length elements: libfixbuf's
 * internal record then holds an fbVarfield_t {len, buf} at the element's offset, and the
 * buffer points at the flow's own field bytes (or a static protocol name), so filling a
 * record copies no string. Those pointers must stay valid until fBufAppend() has encoded the
 * record, which the outputs do right after map_ipfix_fill() on the same flow.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map/map_ipfix.h"

G_DEFINE_QUARK(map-ipfix-error-quark, map_ipfix_error)

#define CERT_PEN 6871

#ifndef OC_TEMPLATE_DIR
#define OC_TEMPLATE_DIR "/usr/local/share/ocellus/templates"
#endif

/* Where a row's value comes from. */
typedef enum {
    MAP_SRC_SRC_ADDR4,
    MAP_SRC_DST_ADDR4,
    MAP_SRC_SRC_ADDR6,
    MAP_SRC_DST_ADDR6,
    MAP_SRC_SRC_PORT,
    MAP_SRC_DST_PORT,
    MAP_SRC_PROTOCOL,
    MAP_SRC_START_MS,
    MAP_SRC_END_MS,
    MAP_SRC_OCTETS,
    MAP_SRC_PACKETS,
    MAP_SRC_REV_DELTA_MS,
    MAP_SRC_TCP_FLAGS_UNION,
    MAP_SRC_TCP_FLAGS_INITIAL,
    MAP_SRC_VLAN,
    MAP_SRC_END_REASON,
    MAP_SRC_APP_LABEL,
    MAP_SRC_INGRESS,
    MAP_SRC_EGRESS,
    MAP_SRC_ICMP,
    MAP_SRC_FLOW_ID,
    MAP_SRC_APP_ID,
    MAP_SRC_APP_NAME,
    MAP_SRC_FIELD
} map_src_t;

/* applicationId (RFC 6759 section 4): classification engine id, then the selector id. */
#define MAP_APP_ID_ENGINE_IANA_L4 3
#define MAP_APP_ID_LEN 3

#define FAM_V4 (1u << MAP_IPFIX_V4)
#define FAM_V6 (1u << MAP_IPFIX_V6)
#define FAM_ANY (FAM_V4 | FAM_V6)

/* Every element the mapper can fill, by its forward (ent, num). */
typedef struct {
    uint32_t ent;
    uint16_t num;
    map_src_t src;
    unsigned families;
    bool reversible; /* a reverse twin has a meaning of its own */
    uint16_t len;    /* 0: the model's length; else this one (FB_IE_VARLEN: variable) */
    oc_field_t field, rev_field; /* MAP_SRC_FIELD: the field, and its reverse twin's */
} map_fillable_t;

/* E: an element of the model's length; F: a payload field FIELD with length L in the
 * template (0: the model's, VAR: variable). */
#define E(ENT, NUM, SRC, FAMS, REV) \
    { .ent = ENT, .num = NUM, .src = SRC, .families = FAMS, .reversible = REV }
#define F(ENT, NUM, L, FIELD) \
    { .ent = ENT, .num = NUM, .src = MAP_SRC_FIELD, .families = FAM_ANY, .len = L, \
      .field = FIELD }
#define VAR FB_IE_VARLEN

static const map_fillable_t fillable[] = {
    E(0, 8, MAP_SRC_SRC_ADDR4, FAM_V4, false),         /* sourceIPv4Address */
    E(0, 12, MAP_SRC_DST_ADDR4, FAM_V4, false),        /* destinationIPv4Address */
    E(0, 27, MAP_SRC_SRC_ADDR6, FAM_V6, false),        /* sourceIPv6Address */
    E(0, 28, MAP_SRC_DST_ADDR6, FAM_V6, false),        /* destinationIPv6Address */
    E(0, 7, MAP_SRC_SRC_PORT, FAM_ANY, false),         /* sourceTransportPort */
    E(0, 11, MAP_SRC_DST_PORT, FAM_ANY, false),        /* destinationTransportPort */
    E(0, 4, MAP_SRC_PROTOCOL, FAM_ANY, false),         /* protocolIdentifier */
    E(0, 152, MAP_SRC_START_MS, FAM_ANY, true),        /* flowStartMilliseconds */
    E(0, 153, MAP_SRC_END_MS, FAM_ANY, true),          /* flowEndMilliseconds */
    E(0, 1, MAP_SRC_OCTETS, FAM_ANY, true),            /* octetDeltaCount */
    E(0, 2, MAP_SRC_PACKETS, FAM_ANY, true),           /* packetDeltaCount */
    E(CERT_PEN, 21, MAP_SRC_REV_DELTA_MS, FAM_ANY, false), /* reverseFlowDeltaMilliseconds */
    E(0, 6, MAP_SRC_TCP_FLAGS_UNION, FAM_ANY, true),   /* tcpControlBits */
    E(CERT_PEN, 15, MAP_SRC_TCP_FLAGS_UNION, FAM_ANY, true),   /* unionTCPFlags */
    E(CERT_PEN, 14, MAP_SRC_TCP_FLAGS_INITIAL, FAM_ANY, true), /* initialTCPFlags */
    E(0, 58, MAP_SRC_VLAN, FAM_ANY, true),             /* vlanId */
    E(0, 136, MAP_SRC_END_REASON, FAM_ANY, false),     /* flowEndReason */
    E(CERT_PEN, 33, MAP_SRC_APP_LABEL, FAM_ANY, false), /* silkAppLabel */
    E(0, 10, MAP_SRC_INGRESS, FAM_ANY, false),         /* ingressInterface */
    E(0, 14, MAP_SRC_EGRESS, FAM_ANY, false),          /* egressInterface */
    E(0, 32, MAP_SRC_ICMP, FAM_V4, true),              /* icmpTypeCodeIPv4 */
    E(0, 139, MAP_SRC_ICMP, FAM_V6, true),             /* icmpTypeCodeIPv6 */
    E(0, 148, MAP_SRC_FLOW_ID, FAM_ANY, false),        /* flowId */
    { .ent = 0, .num = 95, .src = MAP_SRC_APP_ID, .families = FAM_ANY,
      .len = MAP_APP_ID_LEN },                          /* applicationId */
    { .ent = 0, .num = 96, .src = MAP_SRC_APP_NAME, .families = FAM_ANY,
      .len = VAR },                                     /* applicationName */
    /* Payload fields: strings are variable-length, numbers keep the model's length. */
    F(0, 459, VAR, OC_FIELD_HTTP_METHOD),               /* httpRequestMethod */
    F(0, 460, VAR, OC_FIELD_HTTP_HOST),                 /* httpRequestHost */
    F(0, 461, VAR, OC_FIELD_HTTP_TARGET),               /* httpRequestTarget */
    F(0, 468, VAR, OC_FIELD_HTTP_USER_AGENT),           /* httpUserAgent */
    F(0, 457, 0, OC_FIELD_HTTP_STATUS),                 /* httpStatusCode */
    F(0, 469, VAR, OC_FIELD_HTTP_CONTENT_TYPE),         /* httpContentType */
    F(CERT_PEN, 294, VAR, OC_FIELD_TLS_SNI),            /* sslServerName */
    F(CERT_PEN, 187, 0, OC_FIELD_TLS_CIPHER),           /* sslServerCipher */
    F(CERT_PEN, 179, VAR, OC_FIELD_DNS_QNAME),          /* dnsQName */
    F(CERT_PEN, 175, 0, OC_FIELD_DNS_QTYPE),            /* dnsQRType */
    /* sshVersion is the client's banner; its reverse twin the server's. */
    { .ent = CERT_PEN, .num = 171, .src = MAP_SRC_FIELD, .families = FAM_ANY, .reversible = true,
      .len = VAR, .field = OC_FIELD_SSH_CLIENT, .rev_field = OC_FIELD_SSH_SERVER },
    F(CERT_PEN, 162, VAR, OC_FIELD_SMTP_HELO),          /* smtpHello */
    F(CERT_PEN, 163, VAR, OC_FIELD_SMTP_FROM),          /* smtpFrom */
    F(CERT_PEN, 164, VAR, OC_FIELD_SMTP_TO),            /* smtpTo */
    F(CERT_PEN, 326, 0, OC_FIELD_STARTTLS),             /* smtpStartTLS */
    F(CERT_PEN, 161, VAR, OC_FIELD_SIP_USER_AGENT),     /* sipUserAgent */
    F(CERT_PEN, 243, VAR, OC_FIELD_DHCP_VENDOR_CLASS),  /* dhcpVendorCode */
};

typedef struct {
    uint32_t ent;       /* as on the wire */
    uint16_t num;
    uint16_t len;       /* in the template; FB_IE_VARLEN: an fbVarfield_t in the record */
    map_src_t src;
    bool reverse;
    oc_field_t field;   /* MAP_SRC_FIELD: for this direction (forward or reverse twin) */
    oc_field_t in_field; /* ... in a uniflow record of the inbound direction, whose forward
                            element is that direction's own value (the server's banner) */
    unsigned families;
    int line;           /* in the template file, for messages */
} map_row_t;

typedef struct {
    map_row_t *rows;     /* rows of this family, template order */
    size_t n_rows;
    size_t offset[256];  /* offset of each row in the record */
    size_t size;         /* internal record: fixed lengths plus one fbVarfield_t per
                            variable-length element, unpadded (as libfixbuf lays it out) */
} map_layout_t;

struct map_ipfix {
    fbInfoModel_t *model;
    char *path;
    map_ipfix_opts_t opts;
    GArray *all_rows;    /* map_row_t, as listed in the file */
    map_layout_t layout[MAP_IPFIX_N_FAMILY];
};

/* The CERT elements, as their cert_ipfix.xml defines them except that the flag elements are
 * one octet (what YAF sends and SiLK reads). Reversible ones get their reverse twin (number
 * | 0x4000) from libfixbuf. */
static const fbInfoElement_t cert_elements[] = {
    FB_IE_INIT_FULL("initialTCPFlags", CERT_PEN, 14, 1,
                    FB_IE_F_ENDIAN | FB_IE_F_REVERSIBLE | FB_IE_FLAGS, 0, 0, FB_UINT_8,
                    "TCP flags of the first packet of the flow"),
    FB_IE_INIT_FULL("unionTCPFlags", CERT_PEN, 15, 1,
                    FB_IE_F_ENDIAN | FB_IE_F_REVERSIBLE | FB_IE_FLAGS, 0, 0, FB_UINT_8,
                    "OR of the TCP flags of every packet but the first"),
    FB_IE_INIT_FULL("reverseFlowDeltaMilliseconds", CERT_PEN, 21, 4,
                    FB_IE_F_ENDIAN | FB_UNITS_MILLISECONDS, 0, 0, FB_UINT_32,
                    "first reverse packet minus flow start, milliseconds"),
    FB_IE_INIT_FULL("silkAppLabel", CERT_PEN, 33, 2, FB_IE_F_ENDIAN, 0, 0, FB_UINT_16,
                    "application label: well-known port of the detected protocol, 0 unknown"),
    /* Payload fields, as cert_ipfix.xml defines them (YAF's DPI elements), except that
     * sshVersion is reversible here: its reverse twin (6871/16555) is the server's banner. */
    FB_IE_INIT_FULL("sipUserAgent", CERT_PEN, 161, FB_IE_VARLEN, FB_IE_DEFAULT, 0, 0,
                    FB_STRING, "SIP User-Agent of the first request"),
    FB_IE_INIT_FULL("smtpHello", CERT_PEN, 162, FB_IE_VARLEN, FB_IE_DEFAULT, 0, 0, FB_STRING,
                    "SMTP HELO or EHLO argument"),
    FB_IE_INIT_FULL("smtpFrom", CERT_PEN, 163, FB_IE_VARLEN, FB_IE_DEFAULT, 0, 0, FB_STRING,
                    "first SMTP MAIL FROM"),
    FB_IE_INIT_FULL("smtpTo", CERT_PEN, 164, FB_IE_VARLEN, FB_IE_DEFAULT, 0, 0, FB_STRING,
                    "first SMTP RCPT TO"),
    FB_IE_INIT_FULL("sshVersion", CERT_PEN, 171, FB_IE_VARLEN, FB_IE_F_REVERSIBLE, 0, 0,
                    FB_STRING, "SSH identification line: client's, the reverse the server's"),
    FB_IE_INIT_FULL("dnsQRType", CERT_PEN, 175, 2, FB_IE_F_ENDIAN | FB_IE_IDENTIFIER, 0, 0,
                    FB_UINT_16, "DNS query type"),
    FB_IE_INIT_FULL("dnsQName", CERT_PEN, 179, FB_IE_VARLEN, FB_IE_DEFAULT, 0, 0, FB_STRING,
                    "DNS query name"),
    FB_IE_INIT_FULL("sslServerCipher", CERT_PEN, 187, 4, FB_IE_F_ENDIAN | FB_IE_IDENTIFIER,
                    0, 0, FB_UINT_32, "TLS cipher suite the server chose"),
    FB_IE_INIT_FULL("dhcpVendorCode", CERT_PEN, 243, FB_IE_VARLEN, FB_IE_F_REVERSIBLE, 0, 0,
                    FB_STRING, "DHCP vendor class identifier (option 60)"),
    FB_IE_INIT_FULL("sslServerName", CERT_PEN, 294, FB_IE_VARLEN, FB_IE_DEFAULT, 0, 0,
                    FB_STRING, "TLS server name indication"),
    FB_IE_INIT_FULL("smtpStartTLS", CERT_PEN, 326, 1, FB_IE_F_ENDIAN, 0, 0, FB_UINT_8,
                    "1 when the session switched to TLS (STARTTLS)"),
    FB_IE_NULL
};

const char *map_ipfix_template_dir(void)
{
    const char *env = getenv("OCELLUS_TEMPLATE_DIR");
    return env != NULL && *env != '\0' ? env : OC_TEMPLATE_DIR;
}

fbInfoModel_t *map_ipfix_model_new(void)
{
    fbInfoModel_t *model = fbInfoModelAlloc();
    fbInfoElement_t copy[G_N_ELEMENTS(cert_elements)];
    memcpy(copy, cert_elements, sizeof copy);
    fbInfoModelAddElementArray(model, copy);
    return model;
}

static const map_fillable_t *fillable_find(uint32_t ent, uint16_t num)
{
    for (size_t i = 0; i < G_N_ELEMENTS(fillable); i++)
        if (fillable[i].ent == ent && fillable[i].num == num)
            return &fillable[i];
    return NULL;
}

/* Splits a wire (ent, num) into its forward twin and direction. */
static void forward_twin(uint32_t ent, uint16_t num, uint32_t *fent, uint16_t *fnum,
                         bool *reverse)
{
    *fent = ent;
    *fnum = num;
    *reverse = false;
    if (ent == FB_IE_PEN_REVERSE) {
        *fent = 0;
        *reverse = true;
    } else if (ent != 0 && (num & FB_IE_VENDOR_BIT_REVERSE) != 0) {
        *fnum = (uint16_t)(num & ~FB_IE_VENDOR_BIT_REVERSE);
        *reverse = true;
    }
}

/* Name -> number of model elements carrying it (a name can belong to two). */
static GHashTable *name_counts(fbInfoModel_t *model)
{
    GHashTable *h = g_hash_table_new(g_str_hash, g_str_equal);
    fbInfoModelIter_t it;
    fbInfoModelIterInit(&it, model);
    const fbInfoElement_t *ie;
    while ((ie = fbInfoModelIterNext(&it)) != NULL) {
        gpointer n = g_hash_table_lookup(h, ie->ref.name);
        g_hash_table_insert(h, (gpointer)(uintptr_t)ie->ref.name,
                            GUINT_TO_POINTER(GPOINTER_TO_UINT(n) + 1));
    }
    return h;
}

/* The "pen/id" of the elements named @name, for the ambiguity message. */
static char *name_alternatives(fbInfoModel_t *model, const char *name)
{
    GString *s = g_string_new(NULL);
    fbInfoModelIter_t it;
    fbInfoModelIterInit(&it, model);
    const fbInfoElement_t *ie;
    while ((ie = fbInfoModelIterNext(&it)) != NULL) {
        if (strcmp(ie->ref.name, name) == 0)
            g_string_append_printf(s, "%s%u/%u", s->len ? " or " : "", (unsigned)ie->ent,
                                   (unsigned)ie->num);
    }
    return g_string_free(s, FALSE);
}

/* Parses "PEN/ID"; false on anything else. */
static bool parse_pen_id(const char *tok, uint32_t *ent, uint16_t *num)
{
    const char *slash = strchr(tok, '/');
    if (slash == NULL || slash == tok || slash[1] == '\0')
        return false;
    for (const char *p = tok; *p; p++)
        if (p != slash && (*p < '0' || *p > '9'))
            return false;
    errno = 0;
    char *end;
    unsigned long long pen = strtoull(tok, &end, 10);
    if (end != slash || errno != 0 || pen > UINT32_MAX)
        return false;
    unsigned long long id = strtoull(slash + 1, &end, 10);
    if (*end != '\0' || errno != 0 || id == 0 || id > 0x7fff)
        return false;
    *ent = (uint32_t)pen;
    *num = (uint16_t)id;
    return true;
}

static bool name_is_valid(const char *tok)
{
    if (!g_ascii_isalpha(tok[0]) && tok[0] != '_')
        return false;
    for (const char *p = tok; *p; p++)
        if (!g_ascii_isalnum(*p) && *p != '_')
            return false;
    return true;
}

/* Resolves one line's token to a row; the error names file, line and element. */
static bool resolve(map_ipfix_t *map, GHashTable *counts, const char *tok, int line,
                    map_row_t *row, GError **error)
{
    const fbInfoElement_t *ie = NULL;
    uint32_t ent;
    uint16_t num;
    if (strchr(tok, '/') != NULL) {
        if (!parse_pen_id(tok, &ent, &num)) {
            g_set_error(error, MAP_IPFIX_ERROR, MAP_IPFIX_ERROR_SYNTAX,
                        "%s:%d: '%s' is not a valid pen/id (enterprise number 0..4294967295, "
                        "element id 1..32767)", map->path, line, tok);
            return false;
        }
        ie = fbInfoModelGetElementByID(map->model, num, ent);
        if (ie == NULL) {
            g_set_error(error, MAP_IPFIX_ERROR, MAP_IPFIX_ERROR_UNKNOWN,
                        "%s:%d: unknown information element %s", map->path, line, tok);
            return false;
        }
    } else {
        if (!name_is_valid(tok)) {
            g_set_error(error, MAP_IPFIX_ERROR, MAP_IPFIX_ERROR_SYNTAX,
                        "%s:%d: '%s' is neither an element name nor pen/id", map->path, line,
                        tok);
            return false;
        }
        guint n = GPOINTER_TO_UINT(g_hash_table_lookup(counts, tok));
        if (n == 0) {
            g_set_error(error, MAP_IPFIX_ERROR, MAP_IPFIX_ERROR_UNKNOWN,
                        "%s:%d: unknown information element %s", map->path, line, tok);
            return false;
        }
        if (n > 1) {
            g_autofree char *alt = name_alternatives(map->model, tok);
            g_set_error(error, MAP_IPFIX_ERROR, MAP_IPFIX_ERROR_AMBIGUOUS,
                        "%s:%d: %s names %u elements (%s): write it as pen/id", map->path,
                        line, tok, n, alt);
            return false;
        }
        ie = fbInfoModelGetElementByName(map->model, tok);
        g_assert(ie != NULL);
    }

    uint32_t fent;
    uint16_t fnum;
    bool reverse;
    forward_twin(ie->ent, ie->num, &fent, &fnum, &reverse);
    const map_fillable_t *f = fillable_find(fent, fnum);
    uint16_t len = f != NULL && f->len != 0 ? f->len : ie->len;
    /* A variable-length element of the model is fillable only where the table says so. */
    if (f == NULL || (reverse && !f->reversible) || (ie->len == FB_IE_VARLEN && f->len == 0)) {
        g_set_error(error, MAP_IPFIX_ERROR, MAP_IPFIX_ERROR_UNFILLABLE,
                    "%s:%d: information element %s (%u/%u) has no value in ocellus records",
                    map->path, line, tok, (unsigned)ie->ent, (unsigned)ie->num);
        return false;
    }
    *row = (map_row_t){ .ent = ie->ent, .num = ie->num, .len = len, .src = f->src,
                        .reverse = reverse, .field = reverse ? f->rev_field : f->field,
                        .in_field = f->reversible ? f->rev_field : f->field,
                        .families = f->families, .line = line };
    return true;
}

static bool parse_file(map_ipfix_t *map, const char *text, GError **error)
{
    g_autoptr(GHashTable) counts = name_counts(map->model);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (int i = 0; lines[i] != NULL; i++) {
        int line = i + 1;
        char *s = lines[i];
        char *hash = strchr(s, '#');
        if (hash != NULL)
            *hash = '\0';
        g_strstrip(s);
        if (*s == '\0')
            continue;
        for (char *p = s; *p; p++) {
            if (g_ascii_isspace(*p)) {
                g_set_error(error, MAP_IPFIX_ERROR, MAP_IPFIX_ERROR_SYNTAX,
                            "%s:%d: one information element per line expected, got '%s'",
                            map->path, line, s);
                return false;
            }
        }
        map_row_t row;
        if (!resolve(map, counts, s, line, &row, error))
            return false;
        for (guint j = 0; j < map->all_rows->len; j++) {
            const map_row_t *prev = &g_array_index(map->all_rows, map_row_t, j);
            if (prev->ent == row.ent && prev->num == row.num) {
                g_set_error(error, MAP_IPFIX_ERROR, MAP_IPFIX_ERROR_DUPLICATE,
                            "%s:%d: information element %s is already listed on line %d",
                            map->path, line, s, prev->line);
                return false;
            }
        }
        g_array_append_val(map->all_rows, row);
    }
    return true;
}

/* Keeps the rows of @family (and of the biflow/uniflow mode) and computes their offsets. */
static bool layout_build(map_ipfix_t *map, map_ipfix_family_t family, GError **error)
{
    map_layout_t *lay = &map->layout[family];
    lay->rows = g_new0(map_row_t, map->all_rows->len + 1);
    for (guint j = 0; j < map->all_rows->len; j++) {
        const map_row_t *r = &g_array_index(map->all_rows, map_row_t, j);
        if ((r->families & (1u << family)) == 0)
            continue;
        if (map->opts.uniflow && (r->reverse || r->src == MAP_SRC_REV_DELTA_MS))
            continue;
        size_t size = r->len == FB_IE_VARLEN ? sizeof(fbVarfield_t) : r->len;
        if (lay->n_rows == G_N_ELEMENTS(lay->offset) ||
            lay->size + size > MAP_IPFIX_MAX_RECORD) {
            g_set_error(error, MAP_IPFIX_ERROR, MAP_IPFIX_ERROR_SYNTAX,
                        "%s:%d: the record is longer than %d octets", map->path, r->line,
                        MAP_IPFIX_MAX_RECORD);
            return false;
        }
        lay->offset[lay->n_rows] = lay->size;
        lay->rows[lay->n_rows++] = *r;
        lay->size += size;
    }
    if (lay->n_rows == 0) {
        g_set_error(error, MAP_IPFIX_ERROR, MAP_IPFIX_ERROR_EMPTY,
                    "%s: no information element for IPv%d flows", map->path,
                    family == MAP_IPFIX_V4 ? 4 : 6);
        return false;
    }
    /* Smallest encoding: fixed lengths, and one length octet per empty variable value. */
    size_t min_wire = 0;
    for (size_t i = 0; i < lay->n_rows; i++)
        min_wire += lay->rows[i].len == FB_IE_VARLEN ? 1 : lay->rows[i].len;
    if (map->opts.max_wire_record != 0 && min_wire > map->opts.max_wire_record) {
        g_set_error(error, MAP_IPFIX_ERROR, MAP_IPFIX_ERROR_SYNTAX,
                    "%s: an IPv%d record takes at least %zu octets, more than the %zu a "
                    "message has room for", map->path, family == MAP_IPFIX_V4 ? 4 : 6,
                    min_wire, map->opts.max_wire_record);
        return false;
    }
    return true;
}

fbTemplate_t *map_ipfix_template_new(const map_ipfix_t *map, map_ipfix_family_t family,
                                     GError **error)
{
    const map_layout_t *lay = &map->layout[family];
    fbTemplate_t *t = fbTemplateAlloc(map->model);
    for (size_t i = 0; i < lay->n_rows; i++) {
        const fbInfoElement_t *canon =
            fbInfoModelGetElementByID(map->model, lay->rows[i].num, lay->rows[i].ent);
        g_assert(canon != NULL);
        fbInfoElement_t ex = *canon;
        ex.len = lay->rows[i].len;
        GError *err = NULL;
        if (!fbTemplateAppend(t, &ex, &err)) {
            g_set_error(error, MAP_IPFIX_ERROR, MAP_IPFIX_ERROR_FIXBUF,
                        "%s:%d: libfixbuf refuses element %u/%u: %s", map->path,
                        lay->rows[i].line, (unsigned)ex.ent, (unsigned)ex.num, err->message);
            g_error_free(err);
            fbTemplateFreeUnused(t);
            return NULL;
        }
    }
    return t;
}

/* A name without '/' is a file of the template directory; "dpi" means dpi.tmpl there
 * unless a file named just "dpi" exists. */
static char *resolve_path(const char *path)
{
    if (path == NULL)
        path = "default.tmpl";
    if (strchr(path, '/') != NULL)
        return g_strdup(path);
    char *full = g_build_filename(map_ipfix_template_dir(), path, NULL);
    if (g_str_has_suffix(path, ".tmpl") || g_file_test(full, G_FILE_TEST_EXISTS))
        return full;
    g_free(full);
    g_autofree char *name = g_strconcat(path, ".tmpl", NULL);
    return g_build_filename(map_ipfix_template_dir(), name, NULL);
}

map_ipfix_t *map_ipfix_load(fbInfoModel_t *model, const char *path, const map_ipfix_opts_t *opts,
                            GError **error)
{
    map_ipfix_t *map = g_new0(map_ipfix_t, 1);
    map->model = model;
    map->path = resolve_path(path);
    map->opts = *opts;
    map->all_rows = g_array_new(FALSE, TRUE, sizeof(map_row_t));

    g_autofree char *text = NULL;
    GError *err = NULL;
    if (!g_file_get_contents(map->path, &text, NULL, &err)) {
        g_set_error(error, MAP_IPFIX_ERROR, MAP_IPFIX_ERROR_OPEN, "template %s: %s", map->path,
                    err->message);
        g_error_free(err);
        map_ipfix_free(map);
        return NULL;
    }
    if (!parse_file(map, text, error) || !layout_build(map, MAP_IPFIX_V4, error) ||
        !layout_build(map, MAP_IPFIX_V6, error)) {
        map_ipfix_free(map);
        return NULL;
    }
    /* Let libfixbuf see both templates now, so a problem stops start-up, not export. */
    for (int f = 0; f < MAP_IPFIX_N_FAMILY; f++) {
        fbTemplate_t *t = map_ipfix_template_new(map, (map_ipfix_family_t)f, error);
        if (t == NULL) {
            map_ipfix_free(map);
            return NULL;
        }
        g_assert(fbTemplateGetIELenOfMemBuffer(t) == map->layout[f].size);
        fbTemplateFreeUnused(t);
    }
    return map;
}

void map_ipfix_free(map_ipfix_t *map)
{
    if (map == NULL)
        return;
    for (int f = 0; f < MAP_IPFIX_N_FAMILY; f++)
        g_free(map->layout[f].rows);
    g_array_free(map->all_rows, TRUE);
    g_free(map->path);
    g_free(map);
}

size_t map_ipfix_record_size(const map_ipfix_t *map, map_ipfix_family_t family)
{
    return map->layout[family].size;
}

bool map_ipfix_wants_fields(const map_ipfix_t *map)
{
    for (int f = 0; f < MAP_IPFIX_N_FAMILY; f++)
        for (size_t i = 0; i < map->layout[f].n_rows; i++)
            if (map->layout[f].rows[i].src == MAP_SRC_FIELD ||
                map->layout[f].rows[i].src == MAP_SRC_APP_NAME)
                return true;
    return false;
}

size_t map_ipfix_wire_size(const map_ipfix_t *map, map_ipfix_family_t family,
                           const uint8_t *rec)
{
    const map_layout_t *lay = &map->layout[family];
    size_t n = 0;
    for (size_t i = 0; i < lay->n_rows; i++) {
        if (lay->rows[i].len != FB_IE_VARLEN) {
            n += lay->rows[i].len;
            continue;
        }
        fbVarfield_t vf;
        memcpy(&vf, rec + lay->offset[i], sizeof vf);
        n += (vf.len < 255 ? 1 : 3) + vf.len; /* RFC 7011 section 7 length prefix */
    }
    return n;
}

size_t map_ipfix_n_elements(const map_ipfix_t *map, map_ipfix_family_t family)
{
    return map->layout[family].n_rows;
}

void map_ipfix_element(const map_ipfix_t *map, map_ipfix_family_t family, size_t i,
                       uint32_t *ent, uint16_t *num, uint16_t *len)
{
    g_assert(i < map->layout[family].n_rows);
    const map_row_t *r = &map->layout[family].rows[i];
    *ent = r->ent;
    *num = r->num;
    *len = r->len;
}

const char *map_ipfix_path(const map_ipfix_t *map)
{
    return map->path;
}

/* One record's orientation: which endpoint is the source and which direction is forward. */
typedef struct {
    const uint8_t *saddr, *daddr;
    uint16_t sport, dport;
    int fwd, rev;
    bool uniflow;
} map_view_t;

/* Host-order unsigned integer of @len octets (libfixbuf's internal form; it transcodes to
 * network order and to a reduced length itself). */
static void put_uint(uint8_t *dst, uint16_t len, uint64_t v)
{
    switch (len) {
    case 1: { uint8_t x = (uint8_t)(v > UINT8_MAX ? UINT8_MAX : v); memcpy(dst, &x, 1); break; }
    case 2: { uint16_t x = (uint16_t)(v > UINT16_MAX ? UINT16_MAX : v); memcpy(dst, &x, 2); break; }
    case 4: { uint32_t x = (uint32_t)(v > UINT32_MAX ? UINT32_MAX : v); memcpy(dst, &x, 4); break; }
    case 8: memcpy(dst, &v, 8); break;
    default: memset(dst, 0, len); break;
    }
}

/* An fbVarfield_t at @dst (which libfixbuf does not align) pointing at @len bytes of @p.
 * libfixbuf only reads buf when encoding, so the const is dropped for its struct alone. */
static void put_var(uint8_t *dst, const void *p, size_t len)
{
    fbVarfield_t vf = { .len = p != NULL ? len : 0, .buf = (uint8_t *)(uintptr_t)p };
    memcpy(dst, &vf, sizeof vf);
}

/* A numeric field's ASCII decimal value; 0 when absent or not a number, UINT64_MAX when
 * too large (put_uint() then writes the element's largest value). */
static uint64_t field_number(const oc_fields_t *fields, oc_field_t field)
{
    size_t len = 0;
    const char *p = oc_fields_get(fields, field, &len);
    if (p == NULL)
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        unsigned digit = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return UINT64_MAX;
        v = v * 10 + digit;
    }
    return v;
}

static uint64_t nonneg(int64_t v)
{
    return v < 0 ? 0 : (uint64_t)v;
}

static bool dir_has_packets(const oc_flow_info_t *info, int d)
{
    return info->statistics[OC_STAT_PACKETS][d] > 0;
}

/* Record start/end in ms: the forward side of a biflow spans both directions. */
static uint64_t rec_time_ms(const oc_flow_info_t *info, const map_view_t *v, bool end, bool rev)
{
    int stat = end ? OC_STAT_TIMESTAMP_LAST : OC_STAT_TIMESTAMP_FIRST;
    if (rev || v->uniflow) {
        int d = rev ? v->rev : v->fwd;
        return dir_has_packets(info, d) ? nonneg(info->statistics[stat][d]) / 1000 : 0;
    }
    uint64_t best = 0;
    bool any = false;
    for (int d = 0; d < OC_DIRECTION_N; d++) {
        if (!dir_has_packets(info, d))
            continue;
        uint64_t t = nonneg(info->statistics[stat][d]);
        if (!any || (end ? t > best : t < best))
            best = t;
        any = true;
    }
    return best / 1000;
}

static void fill_one(const map_ipfix_t *map, const map_layout_t *lay, const oc_flow_info_t *info,
                     const map_view_t *v, uint8_t *rec)
{
    for (size_t i = 0; i < lay->n_rows; i++) {
        const map_row_t *r = &lay->rows[i];
        uint8_t *dst = rec + lay->offset[i];
        int d = r->reverse ? v->rev : v->fwd;
        uint64_t val = 0;
        switch (r->src) {
        case MAP_SRC_SRC_ADDR4:
        case MAP_SRC_DST_ADDR4: {
            /* libfixbuf keeps an IPv4 address as a host-order unsigned32 in memory. */
            const uint8_t *a = r->src == MAP_SRC_SRC_ADDR4 ? v->saddr : v->daddr;
            uint32_t x = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
            memcpy(dst, &x, 4);
            continue;
        }
        case MAP_SRC_SRC_ADDR6:
            memcpy(dst, v->saddr, 16);
            continue;
        case MAP_SRC_DST_ADDR6:
            memcpy(dst, v->daddr, 16);
            continue;
        case MAP_SRC_SRC_PORT: val = v->sport; break;
        case MAP_SRC_DST_PORT: val = v->dport; break;
        case MAP_SRC_PROTOCOL: val = info->key.protocol; break;
        case MAP_SRC_START_MS: val = rec_time_ms(info, v, false, r->reverse); break;
        case MAP_SRC_END_MS: val = rec_time_ms(info, v, true, r->reverse); break;
        case MAP_SRC_OCTETS: val = nonneg(info->statistics[OC_STAT_OCTETS][d]); break;
        case MAP_SRC_PACKETS: val = nonneg(info->statistics[OC_STAT_PACKETS][d]); break;
        case MAP_SRC_REV_DELTA_MS:
            if (dir_has_packets(info, v->rev)) {
                uint64_t first = nonneg(info->statistics[OC_STAT_TIMESTAMP_FIRST][v->rev]) / 1000;
                uint64_t start = rec_time_ms(info, v, false, false);
                val = first > start ? first - start : 0;
            }
            break;
        case MAP_SRC_TCP_FLAGS_UNION:
            val = nonneg(info->statistics[OC_STAT_TCP_FLAGS_UNION][d]);
            break;
        case MAP_SRC_TCP_FLAGS_INITIAL:
            val = nonneg(info->statistics[OC_STAT_TCP_FLAGS_INITIAL][d]);
            break;
        case MAP_SRC_VLAN: val = info->key.vlan_id; break;
        case MAP_SRC_END_REASON: val = (uint64_t)info->end_reason; break;
        case MAP_SRC_APP_LABEL: val = oc_protocol_port(info->protocol); break;
        case MAP_SRC_INGRESS: val = map->opts.ingress_interface; break;
        case MAP_SRC_EGRESS: val = 0; break;
        case MAP_SRC_ICMP: val = info->icmp_type_code[d] < 0 ? 0 : (uint64_t)info->icmp_type_code[d]; break;
        case MAP_SRC_FLOW_ID: val = info->id; break;
        case MAP_SRC_APP_ID: {
            /* octetArray, no byte order conversion: write the network-order bytes. */
            uint16_t port = oc_protocol_port(info->protocol);
            if (port != 0) {
                dst[0] = MAP_APP_ID_ENGINE_IANA_L4;
                dst[1] = (uint8_t)(port >> 8);
                dst[2] = (uint8_t)port;
            }
            continue; /* else three zero bytes: engine 0 is "invalid" (RFC 6759) */
        }
        case MAP_SRC_APP_NAME:
            if (info->protocol != OC_PROTO_UNKNOWN) {
                const char *name = oc_protocol_name(info->protocol);
                put_var(dst, name, strlen(name));
            }
            continue;
        case MAP_SRC_FIELD: {
            oc_field_t field = v->uniflow && v->fwd == OC_DIRECTION_INBOUND ? r->in_field
                                                                            : r->field;
            if (r->len != FB_IE_VARLEN) {
                val = field_number(info->fields, field);
                break;
            }
            size_t len = 0;
            const char *p = oc_fields_get(info->fields, field, &len);
            put_var(dst, p, len);
            continue;
        }
        }
        put_uint(dst, r->len, val);
    }
}

/* Cuts variable-length values, longest first, until the record's encoding fits
 * opts.max_wire_record (the loader made sure the fixed part does). */
static void fit_record(const map_ipfix_t *map, const map_layout_t *lay,
                       map_ipfix_family_t fam, uint8_t *rec)
{
    size_t max = map->opts.max_wire_record;
    if (max == 0)
        return;
    size_t wire = map_ipfix_wire_size(map, fam, rec);
    while (wire > max) {
        size_t longest = SIZE_MAX;
        fbVarfield_t vf, best = { 0, NULL };
        for (size_t i = 0; i < lay->n_rows; i++) {
            if (lay->rows[i].len != FB_IE_VARLEN)
                continue;
            memcpy(&vf, rec + lay->offset[i], sizeof vf);
            if (vf.len > best.len) {
                best = vf;
                longest = i;
            }
        }
        if (longest == SIZE_MAX)
            return; /* nothing left to cut: cannot happen after the loader's check */
        /* Octets this value may take with its length prefix, which shrinks from 3 octets
         * to 1 below 255 (RFC 7011 section 7). */
        size_t avail = best.len + (best.len < 255 ? 1 : 3);
        avail = avail > wire - max ? avail - (wire - max) : 0;
        best.len = avail >= 258 ? avail - 3 : avail >= 1 ? MIN(avail - 1, 254) : 0;
        memcpy(rec + lay->offset[longest], &best, sizeof best);
        wire = map_ipfix_wire_size(map, fam, rec);
    }
}

size_t map_ipfix_fill(const map_ipfix_t *map, const oc_flow_info_t *info, uint8_t *rec,
                      map_ipfix_family_t *family)
{
    map_ipfix_family_t fam = info->key.family == OC_FAMILY_IPV6 ? MAP_IPFIX_V6 : MAP_IPFIX_V4;
    const map_layout_t *lay = &map->layout[fam];
    *family = fam;
    const oc_flow_key_t *k = &info->key;
    map_view_t out = { k->src_addr, k->dst_addr, k->src_port, k->dst_port,
                       OC_DIRECTION_OUTBOUND, OC_DIRECTION_INBOUND, map->opts.uniflow };
    if (!map->opts.uniflow) {
        memset(rec, 0, lay->size);
        fill_one(map, lay, info, &out, rec);
        fit_record(map, lay, fam, rec);
        return 1;
    }
    map_view_t in = { k->dst_addr, k->src_addr, k->dst_port, k->src_port,
                      OC_DIRECTION_INBOUND, OC_DIRECTION_OUTBOUND, true };
    size_t n = 0;
    const map_view_t *views[2] = { &out, &in };
    for (int i = 0; i < 2; i++) {
        if (!dir_has_packets(info, views[i]->fwd))
            continue;
        uint8_t *r = rec + n * MAP_IPFIX_MAX_RECORD;
        memset(r, 0, lay->size);
        fill_one(map, lay, info, views[i], r);
        fit_record(map, lay, fam, r);
        n++;
    }
    return n;
}
