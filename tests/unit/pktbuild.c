/*
 * Packet builder for unit tests (see pktbuild.h). Checksums are left zero: the decoder does
 * not verify them, and real captures are full of offloaded checksums anyway.
 */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>

#include "pktbuild.h"

pb_spec_t pb_default(void)
{
    pb_spec_t s;
    memset(&s, 0, sizeof s);
    s.family = 4;
    s.src = "10.0.0.1";
    s.dst = "10.0.0.2";
    s.proto = 6;
    s.sport = 1000;
    s.dport = 80;
    s.window = 1000;
    s.wscale = -1;
    return s;
}

static uint32_t l4_header_len(const pb_spec_t *s)
{
    switch (s->proto) {
    case 6:
        return 20 + (s->wscale >= 0 ? 4 : 0);
    case 17:
        return 8;
    case 1:
    case 58:
        return 8;
    default:
        return 0;
    }
}

uint32_t pb_ip_octets(const pb_spec_t *s)
{
    return (s->family == 6 ? 40 : 20) + l4_header_len(s) + s->payload_len;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

uint32_t pb_build(const pb_spec_t *s, uint8_t *buf)
{
    uint8_t *p = buf;
    memset(buf, 0, 2048);
    memcpy(p, "\x00\x11\x22\x33\x44\x55\x00\x66\x77\x88\x99\xaa", 12);
    p += 12;
    if (s->vlan) {
        put16(p, 0x8100);
        put16(p + 2, s->vlan);
        p += 4;
    }
    put16(p, s->family == 6 ? 0x86dd : 0x0800);
    p += 2;
    uint32_t l4len = l4_header_len(s) + s->payload_len;
    if (s->family == 6) {
        p[0] = 0x60;
        put16(p + 4, (uint16_t)l4len);
        p[6] = s->proto;
        p[7] = 64;
        inet_pton(AF_INET6, s->src, p + 8);
        inet_pton(AF_INET6, s->dst, p + 24);
        p += 40;
    } else {
        p[0] = 0x45;
        put16(p + 2, (uint16_t)(20 + l4len));
        p[8] = 64;
        p[9] = s->proto;
        inet_pton(AF_INET, s->src, p + 12);
        inet_pton(AF_INET, s->dst, p + 16);
        p += 20;
    }
    switch (s->proto) {
    case 6:
        put16(p, s->sport);
        put16(p + 2, s->dport);
        put32(p + 4, s->seq);
        put32(p + 8, s->ack);
        p[12] = (uint8_t)((l4_header_len(s) / 4) << 4);
        p[13] = s->tcp_flags;
        put16(p + 14, s->window);
        if (s->wscale >= 0) {
            p[20] = 3;
            p[21] = 3;
            p[22] = (uint8_t)s->wscale;
            p[23] = 1; /* NOP pad */
        }
        break;
    case 17:
        put16(p, s->sport);
        put16(p + 2, s->dport);
        put16(p + 4, (uint16_t)l4len);
        break;
    case 1:
    case 58:
        p[0] = s->icmp_type;
        p[1] = s->icmp_code;
        put16(p + 4, s->icmp_id);
        break;
    default:
        break;
    }
    p += l4_header_len(s);
    for (uint32_t i = 0; i < s->payload_len; i++)
        p[i] = (uint8_t)('a' + i % 26);
    p += s->payload_len;
    return (uint32_t)(p - buf);
}
