/*
 * WireGuard over UDP (https://www.wireguard.com/protocol/, the whitepaper section 5.4).
 *
 * Every message starts with a type byte and three zero bytes. The handshake messages have
 * fixed sizes: initiation 148 bytes, response 92, cookie reply 64; transport data is a
 * 16-byte header and a sealed payload padded to 16 bytes, so at least 32 bytes and a
 * multiple of 16. The header bytes alone are weak, so a flow is WireGuard only when
 * messages agree with each other: a response or cookie reply from the other side naming
 * the initiator's sender index as its receiver, or, for tunnels already up when the
 * capture started, transport messages with a fixed receiver index per direction and a
 * counter that goes up (both directions twice, or one direction four times).
 */
#include "config.h"

#include <string.h>

#include "dpi/dpi.h"

#define WG_INITIATION 1
#define WG_RESPONSE 2
#define WG_COOKIE 3
#define WG_DATA 4
#define WG_LEN_INITIATION 148
#define WG_LEN_RESPONSE 92
#define WG_LEN_COOKIE 64
#define WG_LEN_DATA_MIN 32
#define WG_MAX_COUNTER_STEP 4096 /* counters skip lost and reordered packets, not more */

typedef struct {
    uint32_t init_sender;   /* sender index of the last initiation */
    uint32_t rx[2];         /* receiver index of transport messages, per direction */
    uint32_t counter[2];    /* their last counter (low half; the high half must be 0) */
    uint8_t init_dir;       /* 1 + direction of that initiation, 0 if none */
    uint8_t n[2];           /* consistent transport messages in a row, per direction */
} wg_state_t;

_Static_assert(sizeof(wg_state_t) <= DPI_SCRATCH, "wireguard state fits the scratch");

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static dpi_verdict_t wg_check(dpi_ctx_t *ctx, wg_state_t *st)
{
    const uint8_t *p = ctx->data;
    size_t len = ctx->len;
    unsigned dir = ctx->dir;
    if (len < WG_LEN_DATA_MIN || p[1] != 0 || p[2] != 0 || p[3] != 0)
        return DPI_NO;
    switch (p[0]) {
    case WG_INITIATION:
        if (len != WG_LEN_INITIATION)
            return DPI_NO;
        st->init_dir = (uint8_t)(1 + dir);
        st->init_sender = le32(p + 4);
        return DPI_MAYBE;
    case WG_RESPONSE:
    case WG_COOKIE: {
        bool response = p[0] == WG_RESPONSE;
        if (len != (response ? WG_LEN_RESPONSE : WG_LEN_COOKIE))
            return DPI_NO;
        /* The response names the initiator at 8 (after its own index), the cookie
         * reply at 4. */
        uint32_t receiver = le32(p + (response ? 8 : 4));
        if (st->init_dir == 2 - dir && receiver == st->init_sender)
            goto found;
        return DPI_MAYBE;
    }
    case WG_DATA: {
        if (len % 16 != 0 || le32(p + 12) != 0)
            return DPI_NO;
        uint32_t rx = le32(p + 4), counter = le32(p + 8);
        if (st->n[dir] > 0 && rx == st->rx[dir] && counter > st->counter[dir] &&
            counter - st->counter[dir] <= WG_MAX_COUNTER_STEP) {
            if (st->n[dir] < 255)
                st->n[dir]++;
        } else {
            st->n[dir] = 1;
        }
        st->rx[dir] = rx;
        st->counter[dir] = counter;
        if ((st->n[0] >= 2 && st->n[1] >= 2) || st->n[dir] >= 4)
            goto found;
        return DPI_MAYBE;
    }
    default:
        return DPI_NO;
    }
found:
    ctx->proto = OC_PROTO_WIREGUARD;
    return DPI_MATCH;
}

dpi_verdict_t dpi_wireguard(dpi_ctx_t *ctx)
{
    if (ctx->l4 != 17)
        return DPI_NO;
    wg_state_t st;
    memcpy(&st, ctx->scratch, sizeof st);
    dpi_verdict_t v = wg_check(ctx, &st);
    memcpy(ctx->scratch, &st, sizeof st);
    return v;
}
