/*
 * Spotify's LAN discovery (UDP 57621): clients broadcast datagrams that begin with the
 * 8 bytes "SpotUdp0", followed by binary data. The magic is the whole signature.
 */
#include "config.h"

#include <string.h>

#include "dpi/dpi.h"

dpi_verdict_t dpi_spotify(dpi_ctx_t *ctx)
{
    if (ctx->l4 != 17 || ctx->len < 8 || memcmp(ctx->data, "SpotUdp0", 8) != 0)
        return DPI_NO;
    ctx->proto = OC_PROTO_SPOTIFY;
    return DPI_MATCH;
}
