/*
 * Dropbox LAN sync discovery (UDP 17500): each client broadcasts a JSON object announcing
 * itself, {"version": [...], "port": 17500, "host_int": ..., "displayname": ...,
 * "namespaces": [...]}. A datagram that is a JSON object naming both "host_int" and
 * "namespaces" is that announcement; no other protocol uses those keys together.
 */
#include "config.h"

#include <string.h>

#include "dpi/dpi.h"

static bool contains(const uint8_t *p, size_t len, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; n <= len && i <= len - n; i++)
        if (p[i] == (uint8_t)s[0] && memcmp(p + i, s, n) == 0)
            return true;
    return false;
}

dpi_verdict_t dpi_dropbox(dpi_ctx_t *ctx)
{
    const uint8_t *p = ctx->data;
    size_t len = ctx->len;
    if (ctx->l4 != 17 || len < 2 || p[0] != '{' || p[len - 1] != '}')
        return DPI_NO;
    if (!contains(p, len, "\"host_int\"") || !contains(p, len, "\"namespaces\""))
        return DPI_NO;
    ctx->proto = OC_PROTO_DROPBOX;
    return DPI_MATCH;
}
