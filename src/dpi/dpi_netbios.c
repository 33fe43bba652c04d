/*
 * NetBIOS over TCP/IP (RFC 1002): the name service (UDP 137), the datagram service
 * (UDP 138) and the session service's session request (TCP 139).
 *
 * All three carry NetBIOS names in the "first-level encoding" of RFC 1001 section 14.1: a
 * label of length 32 whose bytes are all 'A' to 'P' (each half of a byte of the 16-byte
 * name plus 'A'), then an optional scope and a zero byte. That encoding is what makes
 * these messages recognisable whatever the ports: a name service packet has a DNS-style
 * header and a question or answer for such a name with type NB or NBSTAT and class IN; a
 * datagram has a header whose length field matches the datagram and two such names; a
 * session request has its type 0x81, a length matching the two names that follow.
 */
#include "config.h"

#include <string.h>

#include "dpi/dpi.h"

#define NB_NAME_LABEL 32
#define NB_MAX_SCOPE_LABELS 8

/* An encoded name at [p + *off, p + len); on success *off is just past it. */
static bool nb_name(const uint8_t *p, size_t len, size_t *off)
{
    size_t i = *off;
    if (i >= len || p[i] != NB_NAME_LABEL || len - i - 1 < NB_NAME_LABEL)
        return false;
    for (size_t k = 1; k <= NB_NAME_LABEL; k++)
        if (p[i + k] < 'A' || p[i + k] > 'P')
            return false;
    i += 1 + NB_NAME_LABEL;
    for (int labels = 0; i < len && p[i] != 0; labels++) {
        if (labels >= NB_MAX_SCOPE_LABELS || p[i] > 63 || p[i] >= len - i)
            return false;
        i += 1 + (size_t)p[i];
    }
    if (i >= len)
        return false;
    *off = i + 1;
    return true;
}

/* Name service: header, then the first question (or answer) for an encoded name. */
static bool nb_name_service(const uint8_t *p, size_t len)
{
    if (len < 12 + 34 + 4)
        return false;
    uint8_t opcode = (p[2] >> 3) & 0x0F;
    if (opcode != 0 && (opcode < 5 || opcode > 8))
        return false; /* query, registration, release, WACK, refresh */
    uint16_t qd = dpi_be16(p + 4), an = dpi_be16(p + 6);
    if (qd + an == 0 || qd > 1 || an > 1)
        return false;
    size_t off = 12;
    if (!nb_name(p, len, &off) || len - off < 4)
        return false;
    uint16_t type = dpi_be16(p + off), cls = dpi_be16(p + off + 2);
    return (type == 0x0020 || type == 0x0021) && cls == 0x0001;
}

/* Datagram service: direct unique, direct group or broadcast datagram. */
static bool nb_datagram(const uint8_t *p, size_t len)
{
    if (len < 14 + 2 * 34 || p[0] < 0x10 || p[0] > 0x12)
        return false;
    if (dpi_be16(p + 10) != len - 14 || dpi_be16(p + 12) != 0)
        return false; /* datagram length; offset 0 for the first (or only) fragment */
    size_t off = 14;
    return nb_name(p, len, &off) && nb_name(p, len, &off);
}

static dpi_verdict_t nb_session(dpi_ctx_t *ctx)
{
    const uint8_t *p = ctx->data;
    size_t len = ctx->len;
    if (p[0] != 0x81)
        return DPI_NO;
    if (len < 4)
        return ctx->stream_full ? DPI_NO : DPI_MAYBE;
    size_t body = (size_t)(p[1] & 1) << 16 | dpi_be16(p + 2);
    if ((p[1] & 0xFE) != 0 || body < 2 * 34)
        return DPI_NO;
    if (len < 4 + body)
        return ctx->stream_full ? DPI_NO : DPI_MAYBE;
    size_t off = 4;
    if (!nb_name(p, 4 + body, &off) || !nb_name(p, 4 + body, &off) || off != 4 + body)
        return DPI_NO;
    ctx->proto = OC_PROTO_NETBIOS;
    return DPI_MATCH;
}

dpi_verdict_t dpi_netbios(dpi_ctx_t *ctx)
{
    if (ctx->len == 0)
        return DPI_MAYBE;
    if (ctx->l4 == 6)
        return nb_session(ctx);
    if (nb_name_service(ctx->data, ctx->len) || nb_datagram(ctx->data, ctx->len)) {
        ctx->proto = OC_PROTO_NETBIOS;
        return DPI_MATCH;
    }
    return DPI_NO;
}
