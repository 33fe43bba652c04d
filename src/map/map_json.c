/*
 * JSON lines output: one object per finished flow record, keyed by IPFIX information element
 * names (forward elements from the source side, RFC 5103 reverse* elements from the other).
 *
 * The record is written with bounded appends into a caller buffer big enough for the longest
 * record, so formatting allocates nothing and a field can never be cut halfway. Strings go
 * through map_json_escape(), which keeps the output valid UTF-8 even for payload-derived text
 * (later fields such as host names), because one bad byte would make a whole line unreadable
 * for a JSON parser.
 */
#include "config.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "map/map_json.h"

typedef struct {
    char *buf;
    size_t size, len;
} jbuf_t;

static void jb_printf(jbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void jb_printf(jbuf_t *b, const char *fmt, ...)
{
    if (b->len >= b->size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->buf + b->len, b->size - b->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    b->len += (size_t)n < b->size - b->len ? (size_t)n : b->size - b->len - 1;
}

static void jb_uint(jbuf_t *b, const char *key, uint64_t v)
{
    jb_printf(b, ",\"%s\":%" PRIu64, key, v);
}

static void jb_int(jbuf_t *b, const char *key, int64_t v)
{
    jb_printf(b, ",\"%s\":%" PRId64, key, v);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not valid. */
static size_t utf8_valid_len(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    /* Overlong forms, UTF-16 surrogates and values past U+10FFFF are not valid UTF-8. */
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

size_t map_json_escape(const char *s, size_t len, char *out, size_t size)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        char tmp[8];
        size_t tl;
        size_t n = utf8_valid_len(u + i, len - i);
        if (n == 0) {
            memcpy(tmp, "\xef\xbf\xbd", 3); /* U+FFFD for each invalid byte */
            tl = 3;
            n = 1;
        } else if (n > 1) {
            memcpy(tmp, u + i, n);
            tl = n;
        } else if (u[i] == '"' || u[i] == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)u[i];
            tl = 2;
        } else if (u[i] < 0x20 || u[i] == 0x7f) {
            tl = (size_t)snprintf(tmp, sizeof tmp, "\\u%04x", u[i]);
        } else {
            tmp[0] = (char)u[i];
            tl = 1;
        }
        if (o + tl > size)
            break;
        memcpy(out + o, tmp, tl);
        o += tl;
        i += n;
    }
    return o;
}

static void jb_addr(jbuf_t *b, const char *key, int family, const uint8_t *addr)
{
    char text[INET6_ADDRSTRLEN];
    if (inet_ntop(family == OC_FAMILY_IPV6 ? AF_INET6 : AF_INET, addr, text, sizeof text) == NULL)
        return;
    jb_printf(b, ",\"%s\":\"%s\"", key, text);
}

static bool all_digits(const char *v, size_t len)
{
    if (len == 0 || len > 20)
        return false;
    for (size_t i = 0; i < len; i++)
        if (v[i] < '0' || v[i] > '9')
            return false;
    return true;
}

size_t map_json_format(const oc_flow_info_t *in, char *buf, size_t size)
{
    jbuf_t b = {buf, size, 0};
    const int64_t(*st)[OC_DIRECTION_N] = in->statistics;
    const unsigned O = OC_DIRECTION_OUTBOUND, I = OC_DIRECTION_INBOUND;
    bool has[2] = {st[OC_STAT_PACKETS][O] > 0, st[OC_STAT_PACKETS][I] > 0};
    bool v6 = in->key.family == OC_FAMILY_IPV6;

    uint64_t start = UINT64_MAX, end = 0;
    for (unsigned d = 0; d < OC_DIRECTION_N; d++) {
        if (!has[d])
            continue;
        if ((uint64_t)st[OC_STAT_TIMESTAMP_FIRST][d] < start)
            start = (uint64_t)st[OC_STAT_TIMESTAMP_FIRST][d];
        if ((uint64_t)st[OC_STAT_TIMESTAMP_LAST][d] > end)
            end = (uint64_t)st[OC_STAT_TIMESTAMP_LAST][d];
    }
    if (start == UINT64_MAX)
        start = 0;
    uint64_t start_ms = start / 1000, end_ms = end / 1000;

    jb_printf(&b, "{\"flowStartMilliseconds\":%" PRIu64, start_ms);
    jb_uint(&b, "flowEndMilliseconds", end_ms);
    jb_addr(&b, v6 ? "sourceIPv6Address" : "sourceIPv4Address", in->key.family, in->key.src_addr);
    jb_addr(&b, v6 ? "destinationIPv6Address" : "destinationIPv4Address", in->key.family,
            in->key.dst_addr);
    bool icmp = in->key.protocol == 1 || in->key.protocol == 58;
    bool ports = in->key.protocol == 6 || in->key.protocol == 17 || in->key.protocol == 132 ||
                 in->key.protocol == 136;
    if (ports) {
        jb_uint(&b, "sourceTransportPort", in->key.src_port);
        jb_uint(&b, "destinationTransportPort", in->key.dst_port);
    }
    jb_uint(&b, "protocolIdentifier", in->key.protocol);
    jb_int(&b, "packetDeltaCount", st[OC_STAT_PACKETS][O]);
    jb_int(&b, "octetDeltaCount", st[OC_STAT_OCTETS][O]);
    jb_int(&b, "reversePacketDeltaCount", st[OC_STAT_PACKETS][I]);
    jb_int(&b, "reverseOctetDeltaCount", st[OC_STAT_OCTETS][I]);
    if (has[I])
        jb_uint(&b, "reverseFlowDeltaMilliseconds",
                (uint64_t)st[OC_STAT_TIMESTAMP_FIRST][I] / 1000 - start_ms);
    if (in->key.protocol == 6) {
        if (has[O]) {
            jb_int(&b, "initialTCPFlags", st[OC_STAT_TCP_FLAGS_INITIAL][O]);
            jb_int(&b, "unionTCPFlags", st[OC_STAT_TCP_FLAGS_UNION][O]);
        }
        if (has[I]) {
            jb_int(&b, "reverseInitialTCPFlags", st[OC_STAT_TCP_FLAGS_INITIAL][I]);
            jb_int(&b, "reverseUnionTCPFlags", st[OC_STAT_TCP_FLAGS_UNION][I]);
        }
    }
    jb_uint(&b, "flowEndReason", (unsigned)in->end_reason);
    if (in->key.vlan_id != 0)
        jb_uint(&b, "vlanId", in->key.vlan_id);
    if (in->key.inner_vlan_id != 0)
        jb_uint(&b, "dot1qCustomerVlanId", in->key.inner_vlan_id);
    if (icmp) {
        const char *fwd = v6 ? "icmpTypeCodeIPv6" : "icmpTypeCodeIPv4";
        const char *rev = v6 ? "reverseIcmpTypeCodeIPv6" : "reverseIcmpTypeCodeIPv4";
        if (in->icmp_type_code[O] >= 0)
            jb_int(&b, fwd, in->icmp_type_code[O]);
        if (in->icmp_type_code[I] >= 0)
            jb_int(&b, rev, in->icmp_type_code[I]);
    }
    jb_uint(&b, "flowId", in->id);
    if (in->protocol != OC_PROTO_UNKNOWN)
        jb_printf(&b, ",\"applicationName\":\"%s\"", oc_protocol_name(in->protocol));
    else if (in->protocol_guess != OC_PROTO_UNKNOWN)
        jb_printf(&b, ",\"applicationGuess\":\"%s\"", oc_protocol_name(in->protocol_guess));
    for (unsigned f = 0; in->fields != NULL && f < OC_FIELD_N; f++) {
        size_t len;
        const char *v = oc_fields_get(in->fields, (oc_field_t)f, &len);
        if (v == NULL)
            continue;
        if (oc_field_is_number((oc_field_t)f) && all_digits(v, len)) {
            jb_printf(&b, ",\"%s\":%.*s", oc_field_name((oc_field_t)f), (int)len, v);
        } else {
            /* Escaping can grow a byte to six: room for the worst case is checked. */
            char esc[OC_FIELD_MAX_LEN * 6];
            size_t n = map_json_escape(v, len, esc, sizeof esc);
            jb_printf(&b, ",\"%s\":\"%.*s\"", oc_field_name((oc_field_t)f), (int)n, esc);
        }
    }
    jb_printf(&b, "}\n");
    return b.len;
}
