/*
 * The git protocol (git daemon, TCP 9418; gitprotocol-pack(5), "git transport").
 *
 * The client speaks first with one pkt-line: four hex digits giving the line's length
 * (themselves included), the service ("git-upload-pack", "git-receive-pack" or
 * "git-upload-archive"), a space, the repository path and a NUL, then optional
 * "host=<name>" and extra parameters each ended by a NUL. The length has to cover exactly
 * that text and the line has to end with a NUL, which plain text protocols never do.
 * Git over HTTP or SSH is HTTP or SSH; only the daemon's own protocol is labelled here.
 */
#include "config.h"

#include <string.h>

#include "dpi/dpi.h"

#define GIT_PKT_MAX 65520 /* LARGE_PACKET_MAX */

static const char *const git_services[] = {
    "git-upload-pack ",
    "git-receive-pack ",
    "git-upload-archive ",
};

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Does [p, p + len) agree with the start of @s (as far as it goes)? */
static bool prefix_agrees(const uint8_t *p, size_t len, const char *s, size_t slen)
{
    size_t n = len < slen ? len : slen;
    return memcmp(p, s, n) == 0;
}

dpi_verdict_t dpi_git(dpi_ctx_t *ctx)
{
    const uint8_t *p = ctx->data;
    size_t len = ctx->len;
    if (ctx->l4 != 6 || len == 0)
        return len == 0 ? DPI_MAYBE : DPI_NO;
    size_t pkt = 0;
    for (size_t i = 0; i < 4; i++) {
        if (i >= len)
            return ctx->stream_full ? DPI_NO : DPI_MAYBE;
        int h = hexval(p[i]);
        if (h < 0)
            return DPI_NO;
        pkt = pkt << 4 | (size_t)h;
    }
    const uint8_t *body = p + 4;
    size_t avail = len - 4;
    const char *service = NULL;
    size_t slen = 0;
    for (size_t i = 0; i < sizeof git_services / sizeof git_services[0]; i++) {
        size_t n = strlen(git_services[i]);
        if (prefix_agrees(body, avail, git_services[i], n)) {
            service = git_services[i];
            slen = n;
            break;
        }
    }
    /* The shortest request is the service, a one-byte path and its NUL. */
    if (service == NULL || pkt < 4 + slen + 2 || pkt > GIT_PKT_MAX)
        return DPI_NO;
    if (len < pkt)
        return ctx->stream_full ? DPI_NO : DPI_MAYBE;
    const uint8_t *path = body + slen;
    size_t rest = pkt - 4 - slen;
    const uint8_t *nul = memchr(path, '\0', rest);
    if (nul == NULL || nul == path || p[pkt - 1] != '\0')
        return DPI_NO;
    /* The path is text. */
    for (const uint8_t *c = path; c < nul; c++)
        if (*c < 0x20 || *c == 0x7F)
            return DPI_NO;
    ctx->proto = OC_PROTO_GIT;
    return DPI_MATCH;
}
