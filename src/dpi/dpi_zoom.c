/*
 * Zoom's own UDP transport to its media servers (the "SFU encapsulation", TCP and UDP
 * 8801-8810, described by the Princeton zoom-analysis work and Citizen Lab).
 *
 * A media connection opens with two exchanges that echo one side's bytes back: a type 1
 * datagram carrying a 16-byte token at offset 3 that the type 2 answer from the other side
 * repeats at the same offset, and a type 3 datagram whose bytes 1-12 come back in a type 4
 * datagram from the other side (12 bytes of each are compared). Either echo is 96 bits of
 * agreement between the two directions, which is what labels the flow; ports play no part.
 * Captures that start after the opening and see only media (type 5) are not labelled.
 */
#include "config.h"

#include <string.h>

#include "dpi/dpi.h"

#define ZOOM_TOKEN_OFF 3  /* type 1 and 2: where the echoed token starts */
#define ZOOM_ECHO_OFF 1   /* type 3 and 4 */
#define ZOOM_ECHO_LEN 12  /* bytes compared: the whole 12 of type 3, 12 of the 16 of type 1 */
#define ZOOM_MAX_PKTS 12  /* the exchanges come first; give up after this many packets */

/* The last type 1 or 3 each direction sent, waiting for its echo from the other. */
typedef struct {
    uint8_t type[2];
    uint8_t bytes[2][ZOOM_ECHO_LEN];
} zoom_state_t;

_Static_assert(sizeof(zoom_state_t) <= DPI_SCRATCH, "zoom state fits the scratch");

static bool zoom_check(dpi_ctx_t *ctx, zoom_state_t *st)
{
    const uint8_t *p = ctx->data;
    size_t len = ctx->len;
    unsigned dir = ctx->dir, other = dir ^ 1u;
    uint8_t type = p[0];
    if (type > 4)
        return false;
    size_t off = type <= 2 ? ZOOM_TOKEN_OFF : ZOOM_ECHO_OFF;
    if (len < off + (type <= 2 ? 16 : ZOOM_ECHO_LEN) || (type <= 2 && p[1] != 0))
        return false;
    if (type == 2 || type == 4)
        return st->type[other] == type - 1 &&
               memcmp(st->bytes[other], p + off, ZOOM_ECHO_LEN) == 0;
    st->type[dir] = type;
    memcpy(st->bytes[dir], p + off, ZOOM_ECHO_LEN);
    return false;
}

dpi_verdict_t dpi_zoom(dpi_ctx_t *ctx)
{
    if (ctx->l4 != 17 || ctx->len == 0)
        return DPI_NO;
    /* Types 1-5 are all there is before and during media. */
    if (ctx->data[0] < 1 || ctx->data[0] > 5)
        return DPI_NO;
    zoom_state_t st;
    memcpy(&st, ctx->scratch, sizeof st);
    bool found = zoom_check(ctx, &st);
    memcpy(ctx->scratch, &st, sizeof st);
    if (found) {
        ctx->proto = OC_PROTO_ZOOM;
        return DPI_MATCH;
    }
    return ctx->pkts[0] + ctx->pkts[1] + 1 >= ZOOM_MAX_PKTS ? DPI_NO : DPI_MAYBE;
}
