/*
 * Kerberos 5 (RFC 4120): every message is a DER-encoded ASN.1 value with an application
 * tag naming its type (AS-REQ [APPLICATION 10] ... KRB-ERROR [APPLICATION 30]), holding a
 * SEQUENCE whose first two elements are the protocol version number, 5, and the message
 * type, repeating the application number. That prefix (about 16 bytes, with lengths that
 * agree with each other and with the datagram) is checked, which no other protocol is
 * likely to produce. Over TCP each message follows a 4-byte length whose top bit is
 * reserved (RFC 4120 section 7.2.2) and must equal the DER value's size.
 */
#include "config.h"

#include "dpi/dpi.h"

#define KRB_TCP_PREFIX 4

/* Outcome of reading part of a message. */
typedef enum { RD_OK, RD_SHORT, RD_BAD } rd_t;

/* The application numbers of Kerberos messages. */
static bool app_known(unsigned app)
{
    return (app >= 10 && app <= 15) || (app >= 20 && app <= 22) || app == 30;
}

/* Reads a DER length at *off (short or long form up to 3 bytes; no indefinite form). */
static rd_t der_len(const uint8_t *p, size_t len, size_t *off, size_t *value)
{
    if (*off >= len)
        return RD_SHORT;
    uint8_t b = p[(*off)++];
    if (b < 0x80) {
        *value = b;
        return RD_OK;
    }
    unsigned n = b & 0x7f;
    if (n == 0 || n > 3)
        return RD_BAD;
    size_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        if (*off >= len)
            return RD_SHORT;
        v = v << 8 | p[(*off)++];
    }
    if (v < 0x80)
        return RD_BAD; /* DER uses the short form for these */
    *value = v;
    return RD_OK;
}

/* Reads one "[tag] INTEGER" element whose integer takes one byte (pvno, msg-type). */
static rd_t small_int(const uint8_t *p, size_t len, size_t *off, uint8_t tag, uint8_t *value)
{
    const uint8_t want[4] = {tag, 3, 0x02, 1}; /* tag, length, INTEGER, length */
    for (unsigned i = 0; i < 4; i++) {
        if (*off + i >= len)
            return RD_SHORT;
        if (p[*off + i] != want[i])
            return RD_BAD;
    }
    if (*off + 4 >= len)
        return RD_SHORT;
    *value = p[*off + 4];
    *off += 5;
    return RD_OK;
}

/* Checks the message at the start of [p, p + len); @size: its full size (DER header and
 * contents) on RD_OK. */
static rd_t krb_read(const uint8_t *p, size_t len, size_t *size)
{
    if (len < 1)
        return RD_SHORT;
    if ((p[0] & 0xe0) != 0x60)
        return RD_BAD; /* application class, constructed */
    unsigned app = p[0] & 0x1f;
    if (!app_known(app))
        return RD_BAD;
    size_t off = 1, l1, l2;
    rd_t r = der_len(p, len, &off, &l1);
    if (r != RD_OK)
        return r;
    *size = off + l1;
    if (off >= len)
        return RD_SHORT;
    if (p[off++] != 0x30)
        return RD_BAD;
    r = der_len(p, len, &off, &l2);
    if (r != RD_OK)
        return r;
    if (off + l2 != *size)
        return RD_BAD; /* the SEQUENCE must fill the application value exactly */
    /* KDC-REQ numbers pvno [1] and msg-type [2]; every other message [0] and [1]. */
    uint8_t tag = app == 10 || app == 12 ? 0xa1 : 0xa0;
    uint8_t v;
    r = small_int(p, len, &off, tag, &v);
    if (r != RD_OK)
        return r;
    if (v != 5)
        return RD_BAD;
    r = small_int(p, len, &off, (uint8_t)(tag + 1), &v);
    if (r != RD_OK)
        return r;
    return v == app ? RD_OK : RD_BAD;
}

dpi_verdict_t dpi_kerberos(dpi_ctx_t *ctx)
{
    const uint8_t *p = ctx->data;
    size_t len = ctx->len, size = 0;
    if (ctx->l4 == 6) {
        if (len < KRB_TCP_PREFIX)
            return ctx->stream_full ? DPI_NO : DPI_MAYBE;
        uint32_t rec = dpi_be32(p);
        if (rec & 0x80000000u)
            return DPI_NO;
        rd_t r = krb_read(p + KRB_TCP_PREFIX, len - KRB_TCP_PREFIX, &size);
        if (r == RD_SHORT)
            return ctx->stream_full ? DPI_NO : DPI_MAYBE;
        if (r == RD_BAD || size != rec)
            return DPI_NO;
    } else {
        /* A datagram holds one message: no bytes after it (fewer if the capture cut it). */
        if (krb_read(p, len, &size) != RD_OK || size < len)
            return DPI_NO;
    }
    ctx->proto = OC_PROTO_KERBEROS;
    return DPI_MATCH;
}
