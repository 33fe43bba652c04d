/*
 * SSH: both sides open with an identification line "SSH-protoversion-softwareversion"
 * (RFC 4253 section 4.2); some servers send other lines first, which the RFC allows.
 */
#include "config.h"

#include <string.h>

#include "dpi/dpi.h"

/* Longest banner kept: RFC 4253 caps the line at 255 bytes with CRLF. */
#define SSH_BANNER_MAX 253

/* Scratch byte 0: directions whose banner was seen (bit per direction). */
dpi_verdict_t dpi_ssh(dpi_ctx_t *ctx)
{
    const uint8_t *p = ctx->data;
    size_t len = ctx->len;
    /* Servers may send lines before the banner; clients may not. Look at a few lines. */
    for (int line = 0; line < 8 && len > 0; line++) {
        if (len < 4) {
            return memcmp(p, "SSH-", len) == 0 ? DPI_MAYBE : DPI_NO;
        }
        bool banner = memcmp(p, "SSH-", 4) == 0;
        if (!banner && ctx->dir == OC_DIRECTION_OUTBOUND)
            return DPI_NO;
        long ll = dpi_line_len(p, len);
        if (ll < 0) {
            if (len > SSH_BANNER_MAX + 2 || ctx->stream_full)
                return DPI_NO;
            return DPI_MAYBE;
        }
        if (banner) {
            if (ll < 8 || (memcmp(p + 4, "2.0-", 4) != 0 && memcmp(p + 4, "1.99-", 5) != 0 &&
                           memcmp(p + 4, "1.", 2) != 0))
                return DPI_NO;
            size_t n = (size_t)ll > SSH_BANNER_MAX ? SSH_BANNER_MAX : (size_t)ll;
            ctx->scratch[0] |= (uint8_t)(1u << ctx->dir);
            dpi_field_set(ctx, ctx->dir == OC_DIRECTION_OUTBOUND ? OC_FIELD_SSH_CLIENT
                                                                 : OC_FIELD_SSH_SERVER,
                          p, n);
            ctx->proto = OC_PROTO_SSH;
            /* Wait for the other side's banner when fields are wanted. */
            if (ctx->fields != NULL && ctx->scratch[0] != 3)
                return DPI_MATCH_MORE;
            return DPI_MATCH;
        }
        /* A line other than the banner (servers only): go on to the next one. */
        const uint8_t *nl = memchr(p, '\n', len);
        size_t skip = (size_t)(nl - p) + 1;
        p += skip;
        len -= skip;
    }
    return DPI_MAYBE;
}
