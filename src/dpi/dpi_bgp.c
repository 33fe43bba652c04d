/*
 * BGP-4 (RFC 4271): every message starts with a 16-byte marker of all ones, a length and
 * a type. The marker, a type from 1 (OPEN) to 5 (ROUTE-REFRESH, RFC 2918) and a length that
 * suits the type identify it; an OPEN must also say version 4. Either side may be the
 * first seen (captures often start in the middle of a session, with UPDATEs), so any
 * message type is accepted at the start of a direction's bytes. Messages may be longer
 * than 4096 bytes only with the extended-message capability (RFC 8654), so up to 65535.
 */
#include "config.h"

#include "dpi/dpi.h"

#define BGP_MARKER_LEN 16
#define BGP_HDR_LEN 19

enum { BGP_OPEN = 1, BGP_UPDATE, BGP_NOTIFICATION, BGP_KEEPALIVE, BGP_ROUTE_REFRESH };

dpi_verdict_t dpi_bgp(dpi_ctx_t *ctx)
{
    const uint8_t *p = ctx->data;
    size_t len = ctx->len;
    size_t n = len < BGP_MARKER_LEN ? len : BGP_MARKER_LEN;
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0xff)
            return DPI_NO;
    if (len < BGP_HDR_LEN)
        return ctx->stream_full ? DPI_NO : DPI_MAYBE;
    size_t mlen = dpi_be16(p + 16);
    uint8_t type = p[18];
    bool ok;
    switch (type) {
    case BGP_OPEN:
        /* version, AS, hold time, BGP identifier, optional parameters length */
        ok = mlen >= BGP_HDR_LEN + 10;
        if (ok && len > BGP_HDR_LEN && p[BGP_HDR_LEN] != 4)
            return DPI_NO;
        break;
    case BGP_UPDATE:
        ok = mlen >= BGP_HDR_LEN + 4; /* two (possibly empty) length-prefixed lists */
        break;
    case BGP_NOTIFICATION:
        ok = mlen >= BGP_HDR_LEN + 2; /* error code and subcode */
        break;
    case BGP_KEEPALIVE:
        ok = mlen == BGP_HDR_LEN;
        break;
    case BGP_ROUTE_REFRESH:
        ok = mlen >= BGP_HDR_LEN + 4; /* AFI, reserved, SAFI (plus ORF entries) */
        break;
    default:
        ok = false;
        break;
    }
    if (!ok)
        return DPI_NO;
    ctx->proto = OC_PROTO_BGP;
    return DPI_MATCH;
}
