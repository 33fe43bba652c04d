/*
 * Telegram calls through Telegram's UDP reflectors (tgcalls).
 *
 * Every datagram starts with the call's 16-byte peer tag. The reflector's own "special"
 * packets follow the tag with twelve 0xFF bytes and a 32-bit type: the client's ping
 * (0xFFFFFFFE, little endian -2) and the reflector's answer (0xC07215C7 in little endian).
 * Those 16 fixed bytes are enough for one datagram; the encrypted media that follows has
 * no plain bytes and is not recognisable. Telegram's MTProto over TCP is obfuscated from
 * its first byte and is not labelled.
 */
#include "config.h"

#include <string.h>

#include "dpi/dpi.h"

#define TG_TAG_LEN 16
#define TG_FF_LEN 12

static bool telegram_special(const uint8_t *p, size_t len)
{
    static const uint8_t ping[4] = {0xFE, 0xFF, 0xFF, 0xFF};
    static const uint8_t answer[4] = {0xC7, 0x72, 0x15, 0xC0};
    if (len < TG_TAG_LEN + TG_FF_LEN + 4 + 8)
        return false;
    for (size_t i = TG_TAG_LEN; i < TG_TAG_LEN + TG_FF_LEN; i++)
        if (p[i] != 0xFF)
            return false;
    const uint8_t *type = p + TG_TAG_LEN + TG_FF_LEN;
    return memcmp(type, ping, 4) == 0 || memcmp(type, answer, 4) == 0;
}

dpi_verdict_t dpi_telegram(dpi_ctx_t *ctx)
{
    if (ctx->l4 != 17)
        return DPI_NO;
    if (telegram_special(ctx->data, ctx->len)) {
        ctx->proto = OC_PROTO_TELEGRAM;
        return DPI_MATCH;
    }
    return DPI_NO;
}
