/*
 * Hand-built packets for unit tests: Ethernet (optionally 802.1Q) + IPv4/IPv6 + TCP/UDP/ICMP,
 * with correct lengths so expected octet counts can be computed by the test itself.
 */
#ifndef OC_TEST_PKTBUILD_H
#define OC_TEST_PKTBUILD_H

#include <stdbool.h>
#include <stdint.h>

typedef struct pb_spec {
    int family;            /* 4 or 6 */
    const char *src, *dst; /* textual addresses */
    uint8_t proto;         /* 6, 17, 1, 58, or other */
    uint16_t sport, dport;
    uint16_t vlan;         /* 0: untagged */
    uint8_t tcp_flags;
    uint32_t seq, ack;
    uint16_t window;
    int wscale;            /* -1: no option */
    uint8_t icmp_type, icmp_code;
    uint16_t icmp_id;
    uint32_t payload_len;
} pb_spec_t;

/* Returns a spec with defaults (IPv4 TCP 10.0.0.1:1000 -> 10.0.0.2:80, window 1000). */
pb_spec_t pb_default(void);

/* Builds the frame into @buf (>= 2048 bytes); returns its length. */
uint32_t pb_build(const pb_spec_t *s, uint8_t *buf);

/* IP octets of the packet described by @s (what the engine must count). */
uint32_t pb_ip_octets(const pb_spec_t *s);

#endif
