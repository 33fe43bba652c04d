/*
 * DNS (RFC 1035), mDNS (RFC 6762) and LLMNR (RFC 4795): one message format, carried in a
 * UDP datagram or, over TCP, behind a two-byte length (RFC 1035 section 4.2.2).
 *
 * The payload decides whether a flow is DNS at all; the ports only choose among the three
 * names once it is (5353 mDNS, 5355 LLMNR, anything else DNS), as nDPI does. A payload
 * counts as DNS when its header is sane (known opcode, a handful of questions, no response
 * code in a query) and its first question, or its first record when a response has no
 * question, parses with a known class. NetBIOS name service shares the header layout, so a
 * first name in NetBIOS encoding (one 32-letter label of 'A'..'P') is turned away.
 *
 * Names are read with two guards, since a message can point its compression pointers in a
 * circle: every pointer must jump before the start of the labels that led to it (so each
 * jump goes further back and the walk must end), and at most DNS_HOPS_MAX are followed.
 * A name longer than 255 bytes is malformed. Labels are written in presentation form, with
 * '.', '\' and control bytes escaped, so a label cannot pass itself off as several.
 *
 * Fields: the first question's name and type (the first record's owner and type when the
 * message has no question, as mDNS announcements do), and from the first response its
 * response code and up to DNS_ANSWERS_MAX A, AAAA and CNAME values of its answer section.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "dpi/dpi.h"

#define DNS_HDR_LEN 12
#define DNS_NAME_MAX 255     /* wire bytes of one name (RFC 1035 section 3.1) */
#define DNS_HOPS_MAX 16      /* compression pointers followed within one name */
#define DNS_QD_MAX 32        /* questions: 1 in practice, mDNS asks a few at once */
#define DNS_RR_MAX 4096      /* records per section: a 64 KB message holds fewer */
#define DNS_ANSWERS_MAX 4
/* Presentation form: every wire byte may become a four-byte \DDD escape. */
#define DNS_TEXT_MAX (4 * DNS_NAME_MAX + 1)
_Static_assert(DNS_TEXT_MAX >= INET6_ADDRSTRLEN, "answer texts share the name buffer size");

#define DNS_TYPE_A 1
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_AAAA 28
#define DNS_TYPE_OPT 41

/* Scratch byte 0. */
enum {
    DNS_ST_RESPONSE = 1u << 0, /* a response was read (fields complete) */
};

/* Outcome of reading part of a message. */
typedef enum { RD_OK, RD_SHORT, RD_BAD } rd_t;

typedef struct {
    const uint8_t *p;    /* the message (after the TCP length) */
    size_t len;          /* bytes of it at hand */
    bool cut;            /* more bytes of the message may still come (TCP) */
} dns_msg_t;

/* Steps over the name at *off as it lies in the message, without following a pointer.
 * Its length is not checked here (name_text does): an over-long name in a later question
 * must not hide the records after it, which can still be read. */
static rd_t name_skip(const dns_msg_t *m, size_t *off)
{
    size_t o = *off;
    for (;;) {
        if (o >= m->len)
            return RD_SHORT;
        uint8_t l = m->p[o];
        if ((l & 0xc0) == 0xc0) {
            if (o + 2 > m->len)
                return RD_SHORT;
            *off = o + 2;
            return RD_OK;
        }
        if (l & 0xc0)
            return RD_BAD; /* extended (0x40) and reserved (0x80) label types */
        if (l == 0) {
            *off = o + 1;
            return RD_OK;
        }
        o += 1u + l;
    }
}

/* Appends one label byte to @out in presentation form (RFC 4343 section 2.1 escapes). */
static size_t text_put(char *out, size_t n, uint8_t c)
{
    if (c == '.' || c == '\\') {
        out[n++] = '\\';
        out[n++] = (char)c;
    } else if (c < 0x20 || c == 0x7f) {
        n += (size_t)snprintf(out + n, 5, "\\%03u", c);
    } else {
        out[n++] = (char)c; /* bytes >= 0x80 stay: UTF-8 names are common in mDNS */
    }
    return n;
}

/*
 * Writes the name at @off in presentation form to @out (DNS_TEXT_MAX bytes), following
 * compression pointers. Returns its length (0 for the root), or -1 when the name is
 * malformed, cut, loops or is longer than DNS_NAME_MAX.
 */
static int name_text(const dns_msg_t *m, size_t off, char *out)
{
    size_t n = 0, wire = 0, seg = off;
    unsigned hops = 0;
    for (;;) {
        if (off >= m->len)
            return -1;
        uint8_t l = m->p[off];
        if ((l & 0xc0) == 0xc0) {
            if (off + 2 > m->len || ++hops > DNS_HOPS_MAX)
                return -1;
            size_t to = (size_t)(l & 0x3f) << 8 | m->p[off + 1];
            if (to >= seg)
                return -1; /* not strictly backwards: could loop */
            off = seg = to;
            continue;
        }
        if (l & 0xc0)
            return -1;
        if (l == 0)
            return (int)n;
        wire += 1u + l;
        if (wire > DNS_NAME_MAX || off + 1u + l > m->len)
            return -1;
        if (n > 0)
            out[n++] = '.';
        for (unsigned i = 1; i <= l; i++)
            n = text_put(out, n, m->p[off + i]);
        off += 1u + l;
    }
}

/* NetBIOS first-level encoding: one label of 32 letters 'A'..'P' (RFC 1001 section 14.1). */
static bool name_is_netbios(const dns_msg_t *m, size_t off)
{
    if (off + 33 > m->len || m->p[off] != 32)
        return false;
    for (size_t i = 1; i <= 32; i++)
        if (m->p[off + i] < 'A' || m->p[off + i] > 'P')
            return false;
    return true;
}

static bool class_known(uint16_t cls)
{
    cls &= 0x7fff; /* mDNS: unicast-response (questions) and cache-flush (records) bit */
    return cls == 1 || cls == 3 || cls == 4 || cls == 254 || cls == 255;
}

typedef struct {
    uint16_t flags, qd, an, ns, ar;
    size_t first_name;   /* offset of the first question's (or record's) name */
    uint16_t first_type;
    size_t name_len;     /* of the first name in presentation form */
    size_t answers;      /* offset of the answer section (valid when RD_OK) */
} dns_view_t;

/* Checks the header and the questions (or, without any, the first record), and writes
 * the first name to @name (DNS_TEXT_MAX bytes); its length goes to v->name_len. */
static rd_t dns_check(const dns_msg_t *m, dns_view_t *v, char *name)
{
    if (m->len < DNS_HDR_LEN)
        return RD_SHORT;
    const uint8_t *p = m->p;
    v->flags = dpi_be16(p + 2);
    v->qd = dpi_be16(p + 4);
    v->an = dpi_be16(p + 6);
    v->ns = dpi_be16(p + 8);
    v->ar = dpi_be16(p + 10);
    unsigned opcode = (v->flags >> 11) & 0xf;
    bool response = v->flags & 0x8000;
    if (opcode == 3 || opcode > 5)
        return RD_BAD;
    if (v->qd > DNS_QD_MAX || v->an > DNS_RR_MAX || v->ns > DNS_RR_MAX || v->ar > DNS_RR_MAX)
        return RD_BAD;
    if (!response && ((v->flags & 0xf) != 0 || v->qd == 0))
        return RD_BAD;
    if (v->qd == 0 && v->an == 0)
        return RD_BAD;

    size_t off = DNS_HDR_LEN;
    v->first_name = off;
    if (name_is_netbios(m, off))
        return RD_BAD;
    for (unsigned i = 0; i < v->qd; i++) {
        rd_t r = name_skip(m, &off);
        if (r != RD_OK)
            return r;
        if (off + 4 > m->len)
            return RD_SHORT;
        uint16_t type = dpi_be16(p + off), cls = dpi_be16(p + off + 2);
        if (type == 0 || !class_known(cls))
            return RD_BAD;
        if (i == 0)
            v->first_type = type;
        off += 4;
    }
    v->answers = off;
    if (v->qd == 0) {
        /* A response without a question (mDNS announcement): its first record must parse. */
        rd_t r = name_skip(m, &off);
        if (r != RD_OK)
            return r;
        if (off + 10 > m->len)
            return RD_SHORT;
        uint16_t type = dpi_be16(p + off), cls = dpi_be16(p + off + 2);
        if (type == 0 || (type != DNS_TYPE_OPT && !class_known(cls)))
            return RD_BAD;
        v->first_type = type;
    }
    /* The first name must read in full, not just be skippable. Its bytes in place are all
     * at hand (name_skip said so), so a failure here means malformed, not cut. */
    int n = name_text(m, v->first_name, name);
    if (n < 0)
        return RD_BAD;
    v->name_len = (size_t)n;
    return RD_OK;
}

/* Appends @s (length @n) to the answer list unless the list would pass the field limit. */
static bool list_add(char *list, size_t *len, const char *s, size_t n)
{
    size_t sep = *len > 0 ? 1 : 0;
    if (n == 0 || *len + sep + n > OC_FIELD_MAX_LEN)
        return false;
    if (sep)
        list[(*len)++] = ',';
    memcpy(list + *len, s, n);
    *len += n;
    return true;
}

/*
 * Collects the first A, AAAA and CNAME values of the answer section into @list
 * (OC_FIELD_MAX_LEN + 1 bytes). Returns RD_SHORT when the section runs past the bytes at
 * hand before DNS_ANSWERS_MAX values were found (more may come over TCP).
 */
static rd_t dns_answers(const dns_msg_t *m, const dns_view_t *v, char *list, size_t *list_len)
{
    size_t off = v->answers;
    unsigned found = 0;
    *list_len = 0;
    for (unsigned i = 0; i < v->an && found < DNS_ANSWERS_MAX; i++) {
        rd_t r = name_skip(m, &off);
        if (r != RD_OK)
            return r;
        if (off + 10 > m->len)
            return RD_SHORT;
        uint16_t type = dpi_be16(m->p + off);
        uint16_t rdlen = dpi_be16(m->p + off + 8);
        size_t rdata = off + 10;
        if (rdata + rdlen > m->len)
            return RD_SHORT;
        char text[DNS_TEXT_MAX];
        int n = -1;
        if (type == DNS_TYPE_A && rdlen == 4) {
            n = snprintf(text, sizeof text, "%u.%u.%u.%u", m->p[rdata], m->p[rdata + 1],
                         m->p[rdata + 2], m->p[rdata + 3]);
        } else if (type == DNS_TYPE_AAAA && rdlen == 16) {
            if (inet_ntop(AF_INET6, m->p + rdata, text, sizeof text) != NULL)
                n = (int)strlen(text);
        } else if (type == DNS_TYPE_CNAME) {
            /* The name must start and lie (up to any pointer) inside its record. */
            dns_msg_t rd = {m->p, rdata + rdlen, false};
            size_t end = rdata;
            if (name_skip(&rd, &end) == RD_OK)
                n = name_text(m, rdata, text);
        }
        if (n > 0) {
            if (!list_add(list, list_len, text, (size_t)n))
                break;
            found++;
        }
        off = rdata + rdlen;
    }
    return RD_OK;
}

static bool is_multicast(const dpi_ctx_t *ctx)
{
    return ctx->family == 4 ? (ctx->daddr[0] & 0xf0) == 0xe0 : ctx->daddr[0] == 0xff;
}

static oc_protocol_t label_by_port(const dpi_ctx_t *ctx)
{
    if (ctx->sport == 5353 || ctx->dport == 5353)
        return OC_PROTO_MDNS;
    if (ctx->sport == 5355 || ctx->dport == 5355)
        return OC_PROTO_LLMNR;
    return OC_PROTO_DNS;
}

dpi_verdict_t dpi_dns(dpi_ctx_t *ctx)
{
    bool known = ctx->proto == OC_PROTO_DNS || ctx->proto == OC_PROTO_MDNS ||
                 ctx->proto == OC_PROTO_LLMNR;
    dns_msg_t m = {ctx->data, ctx->len, false};
    if (ctx->l4 == 6) {
        if (ctx->len < 2)
            return known ? DPI_MATCH_MORE : DPI_MAYBE;
        size_t mlen = dpi_be16(ctx->data);
        if (mlen < DNS_HDR_LEN)
            return DPI_NO;
        m.p = ctx->data + 2;
        m.len = ctx->len - 2;
        if (m.len >= mlen)
            m.len = mlen;
        else
            m.cut = !ctx->stream_full;
    }

    dns_view_t v;
    memset(&v, 0, sizeof v);
    char name[DNS_TEXT_MAX];
    rd_t r = dns_check(&m, &v, name);
    if (r == RD_BAD || (r == RD_SHORT && !m.cut))
        return DPI_NO; /* once identified, this ends inspection and keeps the label */
    if (r == RD_SHORT)
        return known ? DPI_MATCH_MORE : DPI_MAYBE;
    if (!known)
        ctx->proto = (uint16_t)label_by_port(ctx);

    if (v.name_len > 0)
        dpi_field_set(ctx, OC_FIELD_DNS_QNAME, name, v.name_len);
    dpi_field_set_uint(ctx, OC_FIELD_DNS_QTYPE, v.first_type);

    if ((v.flags & 0x8000) && !(ctx->scratch[0] & DNS_ST_RESPONSE)) {
        char list[OC_FIELD_MAX_LEN + 1];
        size_t list_len = 0;
        if (dns_answers(&m, &v, list, &list_len) == RD_SHORT && m.cut)
            return DPI_MATCH_MORE; /* the answers are still on their way */
        dpi_field_set_uint(ctx, OC_FIELD_DNS_RCODE, v.flags & 0xf);
        if (list_len > 0)
            dpi_field_set(ctx, OC_FIELD_DNS_ANSWERS, list, list_len);
        ctx->scratch[0] |= DNS_ST_RESPONSE;
    }
    /* A query to a multicast group gets its answers in other flows: nothing to wait for. */
    if (ctx->fields == NULL || (ctx->scratch[0] & DNS_ST_RESPONSE) || is_multicast(ctx))
        return DPI_MATCH;
    return DPI_MATCH_MORE;
}
