/*
 * MQTT 3.1 ("MQIsdp", level 3), 3.1.1 (level 4) and 5.0 (level 5): the client opens with a
 * CONNECT packet, which names the protocol. A flow is MQTT when one direction starts with
 * a CONNECT whose fixed header, protocol name, level and connect flags are all valid
 * (reserved flag clear, no will QoS 3, no will QoS or retain without a will). The server
 * never speaks first, so a first talker that does not start so rules MQTT out.
 *
 * Fields: the client identifier of the CONNECT, and the topic of the first PUBLISH or
 * SUBSCRIBE the client sends after it (else the first PUBLISH the server sends), read
 * from the in-order stream prefix.
 */
#include "config.h"

#include <string.h>

#include "dpi/dpi.h"

#define MQTT_CONNECT 0x10
#define MQTT_PUBLISH 3
#define MQTT_SUBSCRIBE 0x82     /* type 8 with its mandatory flags 0010 */
#define MQTT_SCAN_PACKETS 32    /* packets looked at for a topic, per direction */

/* Outcome of reading part of the stream. */
typedef enum { RD_OK, RD_SHORT, RD_BAD } rd_t;

/* Reads a variable byte integer (at most 4 bytes) at *off. */
static rd_t varint(const uint8_t *p, size_t len, size_t *off, uint32_t *value)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < 4; i++) {
        if (*off >= len)
            return RD_SHORT;
        uint8_t b = p[(*off)++];
        v |= (uint32_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *value = v;
            return RD_OK;
        }
    }
    return RD_BAD;
}

/* Checks the CONNECT at the start of [p, p + len); on RD_OK gives the protocol level, the
 * client id and the offset just after the packet. */
static rd_t connect_read(const uint8_t *p, size_t len, uint8_t *level, const uint8_t **id,
                         size_t *id_len, size_t *end)
{
    if (len < 1)
        return RD_SHORT;
    if (p[0] != MQTT_CONNECT)
        return RD_BAD;
    size_t off = 1;
    uint32_t rl;
    rd_t r = varint(p, len, &off, &rl);
    if (r != RD_OK)
        return r;
    *end = off + rl;
    if (rl < 12) /* name length and "MQTT", level, flags, keep alive, client id length */
        return RD_BAD;
    if (off + 2 > len)
        return RD_SHORT;
    size_t nl = dpi_be16(p + off);
    if (nl != 4 && nl != 6)
        return RD_BAD;
    off += 2;
    if (off + nl + 4 > len) {
        size_t have = len - off < nl ? len - off : nl;
        if (memcmp(p + off, nl == 4 ? "MQTT" : "MQIsdp", have) != 0)
            return RD_BAD;
        return RD_SHORT;
    }
    if (memcmp(p + off, nl == 4 ? "MQTT" : "MQIsdp", nl) != 0)
        return RD_BAD;
    off += nl;
    *level = p[off];
    uint8_t flags = p[off + 1];
    if (nl == 4 ? *level != 4 && *level != 5 : *level != 3)
        return RD_BAD;
    unsigned will_qos = (flags >> 3) & 3;
    if ((flags & 0x01) || will_qos == 3 || (!(flags & 0x04) && (will_qos || (flags & 0x20))))
        return RD_BAD;
    if (*level < 5 && (flags & 0x40) && !(flags & 0x80))
        return RD_BAD; /* a password needs a user name before 5.0 */
    off += 4;
    if (*level == 5) {
        uint32_t pl;
        r = varint(p, len, &off, &pl);
        if (r != RD_OK)
            return r;
        if (pl > rl)
            return RD_BAD;
        off += pl;
    }
    if (off > *end || *end - off < 2)
        return RD_BAD;
    if (off + 2 > len)
        return RD_SHORT;
    *id_len = dpi_be16(p + off);
    if (off + 2 + *id_len > *end)
        return RD_BAD;
    *id = p + off + 2;
    if (off + 2 + *id_len > len)
        *id_len = len - off - 2; /* cut by the stream cap: keep what there is */
    return RD_OK;
}

/* Looks for the first PUBLISH (and, if @subscribe, SUBSCRIBE) topic among the packets
 * starting at @off. Returns whether one was stored. */
static bool topic_scan(dpi_ctx_t *ctx, const uint8_t *p, size_t len, size_t off, uint8_t level,
                       bool subscribe)
{
    for (unsigned n = 0; n < MQTT_SCAN_PACKETS && off < len; n++) {
        uint8_t first = p[off];
        size_t vh = off + 1;
        uint32_t rl;
        if (varint(p, len, &vh, &rl) != RD_OK)
            return false;
        size_t end = vh + rl;
        size_t t = vh;
        bool has = false;
        if (first >> 4 == MQTT_PUBLISH) {
            has = true;
        } else if (subscribe && first == MQTT_SUBSCRIBE) {
            t += 2; /* packet identifier */
            if (level == 5) {
                uint32_t pl;
                if (varint(p, len, &t, &pl) != RD_OK)
                    return false;
                t += pl;
            }
            has = true;
        }
        if (has) {
            if (t + 2 > len || t + 2 > end)
                return false;
            size_t tl = dpi_be16(p + t);
            if (tl == 0 || t + 2 + tl > end || t + 2 + tl > len)
                return false;
            return dpi_field_set(ctx, OC_FIELD_MQTT_TOPIC, p + t + 2, tl);
        }
        off = end;
    }
    return false;
}

dpi_verdict_t dpi_mqtt(dpi_ctx_t *ctx)
{
    /* Which side is the client: this one if it starts with a CONNECT, else the other. */
    const uint8_t *c = ctx->data, *s = ctx->peer;
    size_t c_len = ctx->len, s_len = ctx->peer_len;
    if (c_len == 0 || c[0] != MQTT_CONNECT) {
        if (ctx->peer_len == 0 || ctx->peer[0] != MQTT_CONNECT)
            return ctx->proto == OC_PROTO_MQTT ? DPI_MATCH_MORE : DPI_NO;
        c = ctx->peer, c_len = ctx->peer_len;
        s = ctx->data, s_len = ctx->len;
    }
    uint8_t level = 0;
    const uint8_t *id = NULL;
    size_t id_len = 0, end = 0;
    rd_t r = connect_read(c, c_len, &level, &id, &id_len, &end);
    if (r == RD_BAD)
        return DPI_NO;
    if (r == RD_SHORT)
        return ctx->stream_full ? DPI_NO : DPI_MAYBE;
    ctx->proto = OC_PROTO_MQTT;
    if (ctx->fields == NULL)
        return DPI_MATCH;
    if (id_len > 0)
        dpi_field_set(ctx, OC_FIELD_MQTT_CLIENT_ID, id, id_len);
    if (topic_scan(ctx, c, c_len, end, level, true))
        return DPI_MATCH;
    if (s != NULL && s_len > 0 && topic_scan(ctx, s, s_len, 0, level, false))
        return DPI_MATCH;
    /* No topic within the client's first DPI_STREAM_CAP bytes: there never will be. */
    return c_len >= DPI_STREAM_CAP ? DPI_MATCH : DPI_MATCH_MORE;
}
