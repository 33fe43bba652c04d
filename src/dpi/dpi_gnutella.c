/*
 * Gnutella (RFC-Gnutella 0.6) and Gnutella2, over TCP and UDP.
 *
 * TCP: a servent opens with "GNUTELLA CONNECT/<version>" and the other side answers
 * "GNUTELLA/<version> <code>"; Gnutella2 uses the same handshake. Downloads are HTTP and
 * belong to the HTTP dissector.
 *
 * UDP carries two kinds of datagram. Gnutella 0.6 messages (pings, pongs, queries, vendor
 * messages, and the Mojito DHT, which reuses the header) have a 23-byte header: a 16-byte
 * GUID, the message type, TTL and hops, and the payload length in little endian, which has
 * to be exactly the rest of the datagram; with a known type and small TTL and hops, that
 * is specific enough for one datagram. Gnutella2 wraps its packets in the "GND" transceiver
 * header (signature, flags, sequence, part, count); when the datagram holds a whole,
 * uncompressed G2 packet, the packet's own header (control byte, length, ASCII name) has
 * to span the datagram exactly; acknowledgements are 8 bytes with a count of zero.
 */
#include "config.h"

#include <string.h>

#include "dpi/dpi.h"

#define GNUT_HDR 23
#define GNUT_MAX_TTL 16
#define G2_HDR 8

/* Does [p, p + len) agree with the start of @s (as far as it goes)? */
static bool prefix_agrees(const uint8_t *p, size_t len, const char *s)
{
    size_t n = strlen(s);
    return memcmp(p, s, len < n ? len : n) == 0;
}

static dpi_verdict_t gnutella_tcp(dpi_ctx_t *ctx)
{
    static const char *const starts[] = {"GNUTELLA CONNECT/", "GNUTELLA/"};
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
        if (!prefix_agrees(ctx->data, ctx->len, starts[i]))
            continue;
        if (ctx->len < strlen(starts[i]))
            return ctx->stream_full ? DPI_NO : DPI_MAYBE;
        ctx->proto = OC_PROTO_GNUTELLA;
        return DPI_MATCH;
    }
    return DPI_NO;
}

static bool gnutella_type(uint8_t type)
{
    switch (type) {
    case 0x00: case 0x01: case 0x02:    /* ping, pong, bye */
    case 0x30: case 0x31: case 0x32:    /* route table update, vendor messages */
    case 0x40:                          /* push */
    case 0x44:                          /* Mojito DHT */
    case 0x80: case 0x81:               /* query, query hit */
        return true;
    default:
        return false;
    }
}

/* One Gnutella 0.6 message filling the datagram. */
static bool gnutella_message(const uint8_t *p, size_t len)
{
    if (len < GNUT_HDR || !gnutella_type(p[16]))
        return false;
    uint32_t plen = (uint32_t)p[19] | (uint32_t)p[20] << 8 | (uint32_t)p[21] << 16 |
                    (uint32_t)p[22] << 24;
    if (plen != len - GNUT_HDR)
        return false;
    /* Mojito puts its version where TTL and hops are. */
    return p[16] == 0x44 || (p[17] <= GNUT_MAX_TTL && p[18] <= GNUT_MAX_TTL);
}

/* A whole G2 packet at [p, p + len): control byte, length, name, body. */
static bool g2_packet(const uint8_t *p, size_t len)
{
    uint8_t cb = p[0];
    size_t len_len = cb >> 6, name_len = ((cb >> 3) & 7) + 1;
    if (cb == 0 || 1 + len_len + name_len > len)
        return false; /* 0 ends a stream of packets; a packet without length has no body */
    size_t body = 0;
    for (size_t i = 0; i < len_len; i++) {
        size_t byte = p[1 + i];
        body |= (cb & 0x02) ? byte << (8 * (len_len - 1 - i)) : byte << (8 * i);
    }
    if (1 + len_len + name_len + body != len)
        return false;
    for (size_t i = 0; i < name_len; i++) {
        uint8_t c = p[1 + len_len + i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

/* A Gnutella2 UDP transceiver datagram. */
static bool g2_datagram(const uint8_t *p, size_t len)
{
    if (len < G2_HDR || memcmp(p, "GND", 3) != 0)
        return false;
    uint8_t flags = p[3], part = p[6], count = p[7];
    if (count == 0)
        return len == G2_HDR;                  /* acknowledgement */
    if (part == 0 || part > count || len == G2_HDR)
        return false;
    if (part == 1 && count == 1 && !(flags & 0x01))
        return g2_packet(p + G2_HDR, len - G2_HDR);
    return true;                               /* a fragment or deflated: opaque */
}

dpi_verdict_t dpi_gnutella(dpi_ctx_t *ctx)
{
    if (ctx->len == 0)
        return DPI_MAYBE;
    if (ctx->l4 == 6)
        return gnutella_tcp(ctx);
    if (gnutella_message(ctx->data, ctx->len) || g2_datagram(ctx->data, ctx->len)) {
        ctx->proto = OC_PROTO_GNUTELLA;
        return DPI_MATCH;
    }
    return DPI_NO;
}
