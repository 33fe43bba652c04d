/*
 * Discord voice: the IP discovery exchange that opens every voice UDP connection
 * (Discord developer documentation, "Voice Connections", IP Discovery).
 *
 * The client sends a 74-byte datagram: type 1, length 70, its SSRC, 64 zero bytes of
 * address and 2 of port (some clients fill in their local port); the server answers with
 * type 2, the same length and SSRC, the client's public address as NUL-terminated text
 * and its port. The fixed size, type, length and the zero (or text-then-zero) address
 * field together identify one datagram; the media after it is RTP, which is why this
 * dissector sits before the RTP heuristic.
 */
#include "config.h"

#include <string.h>

#include "dpi/dpi.h"

#define DISCORD_LEN 74
#define DISCORD_ADDR_OFF 8
#define DISCORD_ADDR_LEN 64

static bool discord_ip_discovery(const uint8_t *p, size_t len)
{
    if (len != DISCORD_LEN || dpi_be16(p + 2) != DISCORD_LEN - 4)
        return false;
    uint16_t type = dpi_be16(p);
    const uint8_t *addr = p + DISCORD_ADDR_OFF;
    if (type == 1) {
        for (size_t i = 0; i < DISCORD_ADDR_LEN; i++)
            if (addr[i] != 0)
                return false;
        return true;
    }
    if (type != 2)
        return false;
    /* An address in text (IPv4 dotted or IPv6), then zeros to the end of the field. */
    size_t i = 0;
    while (i < DISCORD_ADDR_LEN && addr[i] != 0) {
        uint8_t c = addr[i++];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
              c == '.' || c == ':'))
            return false;
    }
    if (i < 7)
        return false; /* "1.2.3.4" is the shortest */
    for (; i < DISCORD_ADDR_LEN; i++)
        if (addr[i] != 0)
            return false;
    return true;
}

dpi_verdict_t dpi_discord(dpi_ctx_t *ctx)
{
    if (ctx->l4 != 17)
        return DPI_NO;
    if (discord_ip_discovery(ctx->data, ctx->len)) {
        ctx->proto = OC_PROTO_DISCORD;
        return DPI_MATCH;
    }
    return DPI_NO;
}
