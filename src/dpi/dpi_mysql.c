/*
 * MySQL and MariaDB client/server protocol: the server speaks first, with an initial
 * handshake packet (Protocol::HandshakeV10): a 3-byte little-endian payload length and
 * sequence number 0, protocol version 10, the server version as a NUL-terminated string,
 * a connection id, 8 bytes of scramble and a zero filler byte; then capability flags,
 * character set, status and 10 reserved bytes (of which MariaDB uses the last 4).
 *
 * The greeting is recognised by all of that: a plausible packet length, sequence 0,
 * version 10, a printable version string starting with a digit and ending with a NUL
 * within bounds, the filler, and the first 6 reserved bytes zero. The client never speaks
 * first, so a first talker whose bytes are not a greeting rules MySQL out.
 */
#include "config.h"

#include "dpi/dpi.h"

#define MYSQL_HDR_LEN 4
#define MYSQL_GREETING_MIN 20    /* version 10, a short version, id, scramble, filler... */
#define MYSQL_GREETING_MAX 1024  /* real ones are about 80 bytes */
#define MYSQL_VERSION_MAX 64     /* "5.5.5-10.11.6-MariaDB-0+deb12u1" is 31 */

/* Outcome of reading part of the stream. */
typedef enum { RD_OK, RD_SHORT, RD_BAD } rd_t;

static rd_t greeting_read(const uint8_t *p, size_t len)
{
    if (len < MYSQL_HDR_LEN + 1)
        return RD_SHORT;
    size_t plen = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16;
    if (plen < MYSQL_GREETING_MIN || plen > MYSQL_GREETING_MAX || p[3] != 0 || p[4] != 10)
        return RD_BAD;
    size_t end = MYSQL_HDR_LEN + plen; /* the packet's end in the stream */
    size_t off = MYSQL_HDR_LEN + 1;
    size_t nul = 0;
    for (size_t i = 0; i <= MYSQL_VERSION_MAX; i++) {
        if (off + i >= end)
            return RD_BAD;
        if (off + i >= len)
            return RD_SHORT;
        uint8_t c = p[off + i];
        if (c == 0) {
            nul = off + i;
            break;
        }
        if (c < 0x20 || c > 0x7e || (i == 0 && (c < '0' || c > '9')))
            return RD_BAD;
    }
    if (nul == 0 || nul == off)
        return RD_BAD;
    /* connection id (4), scramble (8), filler */
    size_t filler = nul + 1 + 4 + 8;
    if (filler >= end)
        return RD_BAD;
    if (filler >= len)
        return RD_SHORT;
    if (p[filler] != 0)
        return RD_BAD;
    /* capabilities (2), charset (1), status (2), capabilities (2), scramble length (1),
     * then the reserved bytes, when the packet goes that far */
    size_t reserved = filler + 1 + 8;
    if (reserved + 6 <= end) {
        for (size_t i = 0; i < 6; i++) {
            if (reserved + i >= len)
                return RD_SHORT;
            if (p[reserved + i] != 0)
                return RD_BAD;
        }
    }
    return RD_OK;
}

dpi_verdict_t dpi_mysql(dpi_ctx_t *ctx)
{
    rd_t r = greeting_read(ctx->data, ctx->len);
    if (r == RD_BAD && ctx->peer_len > 0) {
        /* The other side spoke first: it is the one that must greet. */
        r = greeting_read(ctx->peer, ctx->peer_len);
    }
    if (r == RD_BAD || (r == RD_SHORT && ctx->stream_full))
        return DPI_NO;
    if (r == RD_SHORT)
        return DPI_MAYBE;
    ctx->proto = OC_PROTO_MYSQL;
    return DPI_MATCH;
}
