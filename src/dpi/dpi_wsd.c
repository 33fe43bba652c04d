/*
 * WS-Discovery (SOAP over UDP, multicast 239.255.255.250 / ff02::c port 3702): every
 * message is a SOAP envelope that uses the WS-Discovery namespace, either the 2005 draft
 * (schemas.xmlsoap.org/ws/2005/04/discovery, what Windows sends) or the OASIS standard
 * (docs.oasis-open.org/ws-dd/ns/discovery/2009/01). An XML datagram naming one of those
 * namespaces is the signature; the port is not needed.
 */
#include "config.h"

#include <string.h>

#include "dpi/dpi.h"

/* The namespace comes in the envelope's first few hundred bytes. */
#define WSD_SCAN 1024

static bool contains(const uint8_t *p, size_t len, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; n <= len && i <= len - n; i++)
        if (p[i] == (uint8_t)s[0] && memcmp(p + i, s, n) == 0)
            return true;
    return false;
}

dpi_verdict_t dpi_wsd(dpi_ctx_t *ctx)
{
    const uint8_t *p = ctx->data;
    size_t len = ctx->len;
    if (ctx->l4 != 17 || len < 5 || p[0] != '<')
        return DPI_NO;
    size_t scan = len < WSD_SCAN ? len : WSD_SCAN;
    if (!contains(p, scan, "schemas.xmlsoap.org/ws/2005/04/discovery") &&
        !contains(p, scan, "docs.oasis-open.org/ws-dd/ns/discovery"))
        return DPI_NO;
    ctx->proto = OC_PROTO_WSD;
    return DPI_MATCH;
}
