/*
 * Unit tests of the packet decoder (src/decode): every link type, the EtherType cases,
 * IPv4 options, fragments and length quirks, IPv6 extension headers, each transport protocol,
 * the encapsulations (VLAN stacks, MPLS and pseudowires, PPPoE, PPP, Cisco HDLC) and tunnels
 * (IP-in-IP, GRE, VXLAN, GTP-U, Teredo), and every malformed or truncated case.
 *
 * Packets are built here byte by byte, with field values chosen by the test, so expectations
 * never come from the decoder itself. The truncation tests copy each cut packet into a heap
 * block of exactly that size, so AddressSanitizer reports any read past the captured length.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "decode/dec.h"

/* libpcap link types used below (pcap/dlt.h). */
enum {
    DLT_NULL_ = 0,
    DLT_EN10MB_ = 1,
    DLT_RAW12_ = 12,
    DLT_RAW14_ = 14,
    DLT_RAW101_ = 101,
    DLT_LOOP_ = 108,
    DLT_SLL_ = 113,
    DLT_IPV4_ = 228,
    DLT_IPV6_ = 229,
    DLT_SLL2_ = 276,
    DLT_PPP_ = 9,
    DLT_PPP_SERIAL_ = 50,
    DLT_C_HDLC_ = 104,
};

static const uint8_t V4_SRC[4] = { 10, 0, 0, 1 };
static const uint8_t V4_DST[4] = { 192, 168, 1, 2 };
static const uint8_t V6_SRC[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
static const uint8_t V6_DST[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };

/* ---- packet builder ------------------------------------------------------------------- */

typedef struct {
    uint8_t b[2048];
    size_t n;
    size_t ip_off; /* where the IP header starts, to patch its length afterwards */
} buf_t;

static void put8(buf_t *b, uint8_t v)
{
    assert_true(b->n < sizeof b->b);
    b->b[b->n++] = v;
}

static void put16(buf_t *b, uint16_t v)
{
    put8(b, (uint8_t)(v >> 8));
    put8(b, (uint8_t)v);
}

static void put32(buf_t *b, uint32_t v)
{
    put16(b, (uint16_t)(v >> 16));
    put16(b, (uint16_t)v);
}

static void putn(buf_t *b, const void *p, size_t n)
{
    const uint8_t *q = p;

    for (size_t i = 0; i < n; i++)
        put8(b, q[i]);
}

static void fill(buf_t *b, uint8_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put8(b, v);
}

static void set16(buf_t *b, size_t off, uint16_t v)
{
    b->b[off] = (uint8_t)(v >> 8);
    b->b[off + 1] = (uint8_t)v;
}

static void eth(buf_t *b, uint16_t type)
{
    static const uint8_t macs[12] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
                                      0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb };

    putn(b, macs, sizeof macs);
    put16(b, type);
}

/* IPv4 header with @opt_bytes of NOP options (a multiple of 4); total length patched later
 * by ipv4_done() unless the test writes its own. */
static void ipv4(buf_t *b, uint8_t proto, size_t opt_bytes, uint16_t frag)
{
    b->ip_off = b->n;
    put8(b, (uint8_t)(0x40 | (5 + opt_bytes / 4)));
    put8(b, 0);
    put16(b, 0); /* total length: ipv4_done() */
    put16(b, 0x1234);
    put16(b, frag);
    put8(b, 64);
    put8(b, proto);
    put16(b, 0);
    putn(b, V4_SRC, 4);
    putn(b, V4_DST, 4);
    fill(b, 0x01, opt_bytes);
}

static void ipv4_done(buf_t *b)
{
    set16(b, b->ip_off + 2, (uint16_t)(b->n - b->ip_off));
}

static void ipv6(buf_t *b, uint8_t nh)
{
    b->ip_off = b->n;
    put32(b, 0x60000000u);
    put16(b, 0); /* payload length: ipv6_done() */
    put8(b, nh);
    put8(b, 64);
    putn(b, V6_SRC, 16);
    putn(b, V6_DST, 16);
}

static void ipv6_done(buf_t *b)
{
    set16(b, b->ip_off + 4, (uint16_t)(b->n - b->ip_off - 40));
}

/* Generic 8-octet-unit extension header (hop-by-hop, routing, destination options). */
static void ext8(buf_t *b, uint8_t nh, uint8_t len_units)
{
    put8(b, nh);
    put8(b, len_units);
    fill(b, 0, 6 + (size_t)len_units * 8);
}

static void tcp(buf_t *b, uint16_t sport, uint16_t dport, uint8_t flags, const uint8_t *opt,
                size_t opt_len)
{
    put16(b, sport);
    put16(b, dport);
    put32(b, 0x01020304u);
    put32(b, 0xa0b0c0d0u);
    put8(b, (uint8_t)((5 + opt_len / 4) << 4));
    put8(b, flags);
    put16(b, 29200);
    put16(b, 0);
    put16(b, 0);
    putn(b, opt, opt_len);
}

static void udp(buf_t *b, uint16_t sport, uint16_t dport, size_t payload)
{
    put16(b, sport);
    put16(b, dport);
    put16(b, (uint16_t)(8 + payload));
    put16(b, 0);
    fill(b, 0xee, payload);
}

static dec_status_t decode(int link, const buf_t *b, dec_packet_t *pkt)
{
    return dec_packet(link, b->b, (uint32_t)b->n, pkt);
}

/* Decodes the first @cut bytes from a heap copy of exactly that size (ASan-visible bounds). */
static dec_status_t decode_cut(int link, const uint8_t *p, size_t cut, dec_packet_t *pkt)
{
    uint8_t *copy = malloc(cut ? cut : 1);
    dec_status_t st;

    assert_non_null(copy);
    memcpy(copy, p, cut);
    st = dec_packet(link, copy, (uint32_t)cut, pkt);
    if (st == DEC_OK && pkt->payload_caplen > 0) {
        /* The payload must lie inside the captured bytes. */
        assert_true(pkt->payload >= copy);
        assert_true(pkt->payload + pkt->payload_caplen <= copy + cut);
    }
    free(copy);
    return st;
}

/* ---- link types ----------------------------------------------------------------------- */

/* A complete Ethernet/IPv4/TCP SYN with MSS, SACK-permitted, timestamps, NOP, window scale 7,
 * written out as on the wire. */
static const uint8_t ETH_V4_SYN[] = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x08, 0x00,
    0x45, 0x00, 0x00, 0x3c, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00,
    0xc0, 0xa8, 0x00, 0x68, 0xc0, 0xa8, 0x00, 0x01,
    0xd2, 0x04, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x00, 0x00,
    0xa0, 0x02, 0xfa, 0xf0, 0x00, 0x00, 0x00, 0x00,
    0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
};

static void test_link_ethernet_tcp_syn(void **state)
{
    static const uint8_t src[4] = { 192, 168, 0, 104 }, dst[4] = { 192, 168, 0, 1 };
    static const uint8_t zero[12] = { 0 };
    dec_packet_t pkt;

    (void)state;
    assert_int_equal(dec_packet(DLT_EN10MB_, ETH_V4_SYN, sizeof ETH_V4_SYN, &pkt), DEC_OK);
    assert_int_equal(pkt.family, 4);
    assert_int_equal(pkt.proto, 6);
    assert_int_equal(pkt.vlan_id, 0);
    assert_memory_equal(pkt.src, src, 4);
    assert_memory_equal(pkt.dst, dst, 4);
    assert_memory_equal(pkt.src + 4, zero, 12);
    assert_memory_equal(pkt.dst + 4, zero, 12);
    assert_int_equal(pkt.sport, 53764);
    assert_int_equal(pkt.dport, 80);
    assert_int_equal(pkt.tcp_seq, 1000);
    assert_int_equal(pkt.tcp_ack, 0);
    assert_int_equal(pkt.tcp_flags, DEC_TCP_SYN);
    assert_int_equal(pkt.tcp_window, 64240);
    assert_int_equal(pkt.tcp_wscale, 7);
    assert_int_equal(pkt.ip_octets, 60);
    assert_int_equal(pkt.l4_payload_len, 0);
    assert_int_equal(pkt.payload_caplen, 0);
}

static void test_link_null_and_loop(void **state)
{
    /* AF value, and whether to write it little-endian (the capturing host's order). */
    static const struct {
        uint32_t af;
        int family;
    } afs[] = { { 2, 4 }, { 10, 6 }, { 24, 6 }, { 28, 6 }, { 30, 6 } };
    static const int links[] = { DLT_NULL_, DLT_LOOP_ };
    dec_packet_t pkt;

    (void)state;
    for (size_t l = 0; l < sizeof links / sizeof links[0]; l++) {
        for (size_t i = 0; i < sizeof afs / sizeof afs[0]; i++) {
            for (int le = 0; le < 2; le++) {
                buf_t b = { .n = 0 };

                if (le) {
                    put8(&b, (uint8_t)afs[i].af);
                    fill(&b, 0, 3);
                } else {
                    put32(&b, afs[i].af);
                }
                if (afs[i].family == 4) {
                    ipv4(&b, 17, 0, 0);
                    udp(&b, 53, 1053, 4);
                    ipv4_done(&b);
                } else {
                    ipv6(&b, 17);
                    udp(&b, 53, 1053, 4);
                    ipv6_done(&b);
                }
                assert_int_equal(decode(links[l], &b, &pkt), DEC_OK);
                assert_int_equal(pkt.family, afs[i].family);
                assert_int_equal(pkt.sport, 53);
                assert_int_equal(pkt.dport, 1053);
                assert_int_equal(pkt.l4_payload_len, 4);
            }
        }
    }

    {
        buf_t b = { .n = 0 };

        put32(&b, 7); /* AF_UNIX-like, neither order is IP */
        ipv4(&b, 17, 0, 0);
        udp(&b, 1, 2, 0);
        ipv4_done(&b);
        assert_int_equal(decode(DLT_NULL_, &b, &pkt), DEC_NOT_IP);
        b.n = 3;
        assert_int_equal(decode(DLT_LOOP_, &b, &pkt), DEC_TRUNCATED);
    }
}

static void test_link_raw(void **state)
{
    static const int links[] = { DLT_RAW12_, DLT_RAW14_, DLT_RAW101_ };
    dec_packet_t pkt;
    buf_t v4 = { .n = 0 }, v6 = { .n = 0 };

    (void)state;
    ipv4(&v4, 6, 0, 0);
    tcp(&v4, 1234, 443, DEC_TCP_ACK, NULL, 0);
    fill(&v4, 0, 10);
    ipv4_done(&v4);
    ipv6(&v6, 6);
    tcp(&v6, 1234, 443, DEC_TCP_ACK, NULL, 0);
    fill(&v6, 0, 10);
    ipv6_done(&v6);

    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        assert_int_equal(decode(links[i], &v4, &pkt), DEC_OK);
        assert_int_equal(pkt.family, 4);
        assert_int_equal(pkt.ip_octets, 50);
        assert_int_equal(pkt.l4_payload_len, 10);
        assert_int_equal(decode(links[i], &v6, &pkt), DEC_OK);
        assert_int_equal(pkt.family, 6);
        assert_memory_equal(pkt.src, V6_SRC, 16);
        assert_memory_equal(pkt.dst, V6_DST, 16);
        assert_int_equal(pkt.ip_octets, 70);
        assert_int_equal(pkt.l4_payload_len, 10);
        assert_int_equal(dec_packet(links[i], v4.b, 0, &pkt), DEC_TRUNCATED);
    }
    /* Version 5 on a raw link is not IP. */
    v4.b[0] = 0x55;
    assert_int_equal(decode(DLT_RAW101_, &v4, &pkt), DEC_MALFORMED);
    assert_int_equal(dec_packet(DLT_RAW101_, NULL, 0, &pkt), DEC_TRUNCATED);
}

static void test_link_ipv4_ipv6(void **state)
{
    dec_packet_t pkt;
    buf_t v4 = { .n = 0 }, v6 = { .n = 0 };

    (void)state;
    ipv4(&v4, 17, 0, 0);
    udp(&v4, 5000, 5001, 3);
    ipv4_done(&v4);
    ipv6(&v6, 17);
    udp(&v6, 5000, 5001, 3);
    ipv6_done(&v6);

    assert_int_equal(decode(DLT_IPV4_, &v4, &pkt), DEC_OK);
    assert_int_equal(pkt.family, 4);
    assert_memory_equal(pkt.src, V4_SRC, 4);
    assert_memory_equal(pkt.dst, V4_DST, 4);
    assert_int_equal(decode(DLT_IPV6_, &v6, &pkt), DEC_OK);
    assert_int_equal(pkt.family, 6);
    /* The link type fixes the version: a mismatch is malformed. */
    assert_int_equal(decode(DLT_IPV4_, &v6, &pkt), DEC_MALFORMED);
    assert_int_equal(decode(DLT_IPV6_, &v4, &pkt), DEC_MALFORMED);
}

static void test_link_sll(void **state)
{
    dec_packet_t pkt;
    buf_t b = { .n = 0 };

    (void)state;
    put16(&b, 0);      /* packet type: to us */
    put16(&b, 1);      /* ARPHRD_ETHER */
    put16(&b, 6);      /* address length */
    fill(&b, 0xab, 8); /* address */
    put16(&b, 0x0800);
    ipv4(&b, 6, 0, 0);
    tcp(&b, 40000, 22, DEC_TCP_ACK | DEC_TCP_PSH, NULL, 0);
    fill(&b, 'x', 7);
    ipv4_done(&b);
    assert_int_equal(decode(DLT_SLL_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.sport, 40000);
    assert_int_equal(pkt.dport, 22);
    assert_int_equal(pkt.tcp_flags, DEC_TCP_ACK | DEC_TCP_PSH);
    assert_int_equal(pkt.l4_payload_len, 7);
    assert_int_equal(pkt.payload_caplen, 7);
    assert_int_equal(pkt.payload[0], 'x');

    /* ARP inside a cooked header; a header cut short. */
    set16(&b, 14, 0x0806);
    assert_int_equal(decode(DLT_SLL_, &b, &pkt), DEC_NOT_IP);
    assert_int_equal(dec_packet(DLT_SLL_, b.b, 15, &pkt), DEC_TRUNCATED);
    /* The 802.2 pseudo protocol value (below 0x0600) is not IP. */
    set16(&b, 14, 0x0004);
    assert_int_equal(decode(DLT_SLL_, &b, &pkt), DEC_NOT_IP);
}

static void test_link_sll2(void **state)
{
    dec_packet_t pkt;
    buf_t b = { .n = 0 };

    (void)state;
    put16(&b, 0x86dd); /* protocol */
    put16(&b, 0);      /* reserved */
    put32(&b, 3);      /* interface index */
    put16(&b, 1);      /* ARPHRD_ETHER */
    put8(&b, 4);       /* packet type: outgoing */
    put8(&b, 6);       /* address length */
    fill(&b, 0xcd, 8);
    ipv6(&b, 58);
    put8(&b, DEC_ICMP6_ECHO_REQUEST);
    put8(&b, 0);
    put16(&b, 0);
    put16(&b, 0x4242); /* identifier */
    put16(&b, 1);      /* sequence */
    fill(&b, 0x55, 16);
    ipv6_done(&b);
    assert_int_equal(decode(DLT_SLL2_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.family, 6);
    assert_int_equal(pkt.proto, 58);
    assert_int_equal(pkt.icmp_type, 128);
    assert_int_equal(pkt.icmp_id, 0x4242);
    assert_int_equal(pkt.sport, 0);
    assert_int_equal(pkt.dport, 0);
    assert_int_equal(pkt.l4_payload_len, 16);
    assert_int_equal(dec_packet(DLT_SLL2_, b.b, 19, &pkt), DEC_TRUNCATED);
}

static void test_link_unsupported(void **state)
{
    static const int links[] = { -1, 10, 105, 127, 147, 1000 };
    dec_packet_t pkt;

    (void)state;
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
        assert_int_equal(dec_packet(links[i], ETH_V4_SYN, sizeof ETH_V4_SYN, &pkt),
                         DEC_UNSUPPORTED_LINK);
}

/* ---- Ethernet -------------------------------------------------------------------------- */

static void test_eth_vlan(void **state)
{
    dec_packet_t pkt;
    buf_t b = { .n = 0 };

    (void)state;
    eth(&b, 0x8100);
    put16(&b, 0xa07b); /* PCP 5, DEI 0, VID 123 */
    put16(&b, 0x0800);
    ipv4(&b, 17, 0, 0);
    udp(&b, 123, 123, 48);
    ipv4_done(&b);
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.vlan_id, 123);
    assert_int_equal(pkt.sport, 123);
    assert_int_equal(pkt.ip_octets, 20 + 8 + 48);
    assert_int_equal(pkt.l4_payload_len, 48);

    /* VID 4095 with DEI set: only the 12 low bits count. */
    set16(&b, 14, 0x1fff);
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.vlan_id, 4095);

    /* The tag itself cut short. */
    assert_int_equal(dec_packet(DLT_EN10MB_, b.b, 17, &pkt), DEC_TRUNCATED);

    /* IPv6 behind a tag. */
    b.n = 0;
    eth(&b, 0x8100);
    put16(&b, 7);
    put16(&b, 0x86dd);
    ipv6(&b, 17);
    udp(&b, 1, 2, 0);
    ipv6_done(&b);
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.vlan_id, 7);
    assert_int_equal(pkt.family, 6);
}

static void test_eth_not_ip(void **state)
{
    /* 802.3 length fields (LLC/SNAP, STP), ARP, RARP, LLDP, EAPOL, an undefined gap value. */
    static const uint16_t types[] = { 0x0026, 0x0000, 0x05dc, 0x05ff,
                                      0x0806, 0x8035, 0x88cc, 0x888e };
    dec_packet_t pkt;

    (void)state;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        buf_t b = { .n = 0 };

        eth(&b, types[i]);
        put8(&b, 0x42); /* STP LLC DSAP/SSAP, arbitrary for the others */
        put8(&b, 0x42);
        put8(&b, 0x03);
        fill(&b, 0, 43);
        assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_NOT_IP);
    }
}

static void test_eth_truncated(void **state)
{
    dec_packet_t pkt;

    (void)state;
    for (uint32_t n = 0; n < 14; n++)
        assert_int_equal(decode_cut(DLT_EN10MB_, ETH_V4_SYN, n, &pkt), DEC_TRUNCATED);
}

/* ---- IPv4 ------------------------------------------------------------------------------ */

static void test_ipv4_options(void **state)
{
    static const size_t opts[] = { 4, 12, 40 };
    dec_packet_t pkt;

    (void)state;
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        buf_t b = { .n = 0 };

        eth(&b, 0x0800);
        ipv4(&b, 17, opts[i], 0);
        udp(&b, 161, 50000, 5);
        ipv4_done(&b);
        assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_OK);
        assert_int_equal(pkt.sport, 161);
        assert_int_equal(pkt.dport, 50000);
        assert_int_equal(pkt.ip_octets, 20 + opts[i] + 8 + 5);
        assert_int_equal(pkt.l4_payload_len, 5);
        assert_int_equal(pkt.payload_caplen, 5);
        assert_int_equal(pkt.payload[0], 0xee);
        /* Options cut by the capture. */
        assert_int_equal(dec_packet(DLT_EN10MB_, b.b, (uint32_t)(14 + 20 + opts[i] - 1), &pkt),
                         DEC_TRUNCATED);
    }
}

static void test_ipv4_malformed(void **state)
{
    dec_packet_t pkt;
    buf_t b = { .n = 0 };

    (void)state;
    ipv4(&b, 6, 0, 0);
    tcp(&b, 1, 2, 0, NULL, 0);
    ipv4_done(&b);

    b.b[0] = 0x65; /* version 6 */
    assert_int_equal(decode(DLT_IPV4_, &b, &pkt), DEC_MALFORMED);
    for (uint8_t ihl = 0; ihl < 5; ihl++) {
        b.b[0] = (uint8_t)(0x40 | ihl);
        assert_int_equal(decode(DLT_IPV4_, &b, &pkt), DEC_MALFORMED);
    }
    b.b[0] = 0x45;
    set16(&b, 2, 19); /* total length shorter than the header */
    assert_int_equal(decode(DLT_IPV4_, &b, &pkt), DEC_MALFORMED);
    set16(&b, 2, 1);
    assert_int_equal(decode(DLT_IPV4_, &b, &pkt), DEC_MALFORMED);
    b.b[0] = 0x46; /* IHL 6 (24 bytes) but total length 20 */
    set16(&b, 2, 20);
    assert_int_equal(decode(DLT_IPV4_, &b, &pkt), DEC_MALFORMED);

    /* IHL 15 needs 60 header bytes: only 40 are there. */
    b.b[0] = 0x4f;
    set16(&b, 2, 40);
    assert_int_equal(decode(DLT_IPV4_, &b, &pkt), DEC_TRUNCATED);
}

static void test_ipv4_fragments(void **state)
{
    dec_packet_t pkt;
    buf_t b = { .n = 0 };

    (void)state;
    eth(&b, 0x0800);
    ipv4(&b, 17, 0, 0x2000); /* MF, offset 0: the first fragment */
    udp(&b, 5353, 5353, 100);
    ipv4_done(&b);
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.sport, 5353);
    assert_int_equal(pkt.ip_octets, 128);
    assert_int_equal(pkt.l4_payload_len, 100);

    set16(&b, 14 + 6, 0x4000); /* DF only */
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_OK);

    set16(&b, 14 + 6, 0x2000 | 185); /* MF, offset 1480 */
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_FRAGMENT);
    assert_int_equal(pkt.family, 4);
    assert_int_equal(pkt.sport, 0);

    set16(&b, 14 + 6, 1); /* last fragment, offset 8 */
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_FRAGMENT);

    set16(&b, 14 + 6, 0x1fff); /* largest offset */
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_FRAGMENT);
}

static void test_ipv4_tso_zero_length(void **state)
{
    dec_packet_t pkt;
    buf_t b = { .n = 0 };

    (void)state;
    eth(&b, 0x0800);
    ipv4(&b, 6, 0, 0);
    tcp(&b, 33000, 443, DEC_TCP_ACK, NULL, 0);
    fill(&b, 0x17, 1000);
    /* total length left at 0 by the offloading NIC */
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.ip_octets, 20 + 20 + 1000);
    assert_int_equal(pkt.l4_payload_len, 1000);
    assert_int_equal(pkt.payload_caplen, 1000);
}

static void test_ipv4_snaplen_cut_counts_ip_length(void **state)
{
    dec_packet_t pkt;
    buf_t b = { .n = 0 };

    (void)state;
    eth(&b, 0x0800);
    ipv4(&b, 6, 0, 0);
    tcp(&b, 33000, 443, DEC_TCP_ACK, NULL, 0);
    fill(&b, 0x17, 1460);
    ipv4_done(&b);
    /* snaplen 64: 14 + 20 + 20 + 10 payload bytes captured */
    assert_int_equal(dec_packet(DLT_EN10MB_, b.b, 64, &pkt), DEC_OK);
    assert_int_equal(pkt.ip_octets, 1500);
    assert_int_equal(pkt.l4_payload_len, 1460);
    assert_int_equal(pkt.payload_caplen, 10);
    assert_ptr_equal(pkt.payload, b.b + 54);
}

static void test_ipv4_ethernet_padding(void **state)
{
    dec_packet_t pkt;
    buf_t b = { .n = 0 };

    (void)state;
    eth(&b, 0x0800);
    ipv4(&b, 6, 0, 0);
    tcp(&b, 33000, 443, DEC_TCP_ACK, NULL, 0);
    ipv4_done(&b);
    fill(&b, 0xff, 6); /* padding to the 60-byte minimum frame */
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.ip_octets, 40);
    assert_int_equal(pkt.l4_payload_len, 0);
    assert_int_equal(pkt.payload_caplen, 0);
}

/* ---- IPv6 ------------------------------------------------------------------------------ */

static void test_ipv6_udp(void **state)
{
    dec_packet_t pkt;
    buf_t b = { .n = 0 };

    (void)state;
    eth(&b, 0x86dd);
    ipv6(&b, 17);
    udp(&b, 546, 547, 30);
    ipv6_done(&b);
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.family, 6);
    assert_int_equal(pkt.proto, 17);
    assert_memory_equal(pkt.src, V6_SRC, 16);
    assert_memory_equal(pkt.dst, V6_DST, 16);
    assert_int_equal(pkt.sport, 546);
    assert_int_equal(pkt.dport, 547);
    assert_int_equal(pkt.ip_octets, 40 + 8 + 30);
    assert_int_equal(pkt.l4_payload_len, 30);
    assert_int_equal(pkt.tcp_wscale, -1);

    b.b[14] = 0x40; /* version 4 in an IPv6 EtherType */
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_MALFORMED);
}

static void test_ipv6_each_extension(void **state)
{
    dec_packet_t pkt;

    (void)state;
    /* hop-by-hop (0), routing (43), destination options (60), each with 8 or 16 bytes */
    static const uint8_t generic[] = { 0, 43, 60 };
    for (size_t i = 0; i < sizeof generic / sizeof generic[0]; i++) {
        for (uint8_t units = 0; units < 2; units++) {
            buf_t b = { .n = 0 };

            eth(&b, 0x86dd);
            ipv6(&b, generic[i]);
            ext8(&b, 6, units);
            tcp(&b, 5555, 80, DEC_TCP_ACK, NULL, 0);
            fill(&b, 0, 3);
            ipv6_done(&b);
            assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_OK);
            assert_int_equal(pkt.proto, 6);
            assert_int_equal(pkt.sport, 5555);
            assert_int_equal(pkt.dport, 80);
            assert_int_equal(pkt.ip_octets, 40 + 8 + units * 8 + 20 + 3);
            assert_int_equal(pkt.l4_payload_len, 3);
        }
    }

    /* AH: length in 4-octet units minus 2; 24 bytes here (len field 4). */
    {
        buf_t b = { .n = 0 };

        eth(&b, 0x86dd);
        ipv6(&b, 51);
        put8(&b, 17);
        put8(&b, 4);
        fill(&b, 0xa5, 22);
        udp(&b, 500, 4500, 2);
        ipv6_done(&b);
        assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_OK);
        assert_int_equal(pkt.proto, 17);
        assert_int_equal(pkt.sport, 500);
        assert_int_equal(pkt.dport, 4500);
        assert_int_equal(pkt.l4_payload_len, 2);
    }

    /* Fragment header: first fragment decodes, a later one is a fragment. */
    {
        buf_t b = { .n = 0 };

        eth(&b, 0x86dd);
        ipv6(&b, 44);
        put8(&b, 17);
        put8(&b, 0);
        put16(&b, 0x0001); /* offset 0, M set */
        put32(&b, 0xdeadbeef);
        udp(&b, 53, 53, 20);
        ipv6_done(&b);
        assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_OK);
        assert_int_equal(pkt.proto, 17);
        assert_int_equal(pkt.sport, 53);
        assert_int_equal(pkt.l4_payload_len, 20);

        set16(&b, 14 + 40 + 2, (uint16_t)(185 << 3)); /* offset 1480, last */
        assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_FRAGMENT);
        assert_int_equal(pkt.proto, 17);
        assert_int_equal(pkt.sport, 0);
    }

    /* All of them chained. */
    {
        buf_t b = { .n = 0 };

        eth(&b, 0x86dd);
        ipv6(&b, 0);
        ext8(&b, 60, 0);
        ext8(&b, 43, 1);
        put8(&b, 51);
        put8(&b, 0);
        put16(&b, 0);
        put32(&b, 0);
        put8(&b, 132);
        put8(&b, 1); /* (1 + 2) * 4 = 12 bytes */
        fill(&b, 0, 10);
        put16(&b, 2905);
        put16(&b, 2905);
        put32(&b, 0x11111111);
        put32(&b, 0);
        fill(&b, 0, 16);
        ipv6_done(&b);
        assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_OK);
        assert_int_equal(pkt.proto, 132);
        assert_int_equal(pkt.sport, 2905);
        assert_int_equal(pkt.l4_payload_len, 16);
    }
}

static void test_ipv6_no_ports(void **state)
{
    static const uint8_t protos[] = { 59, 50, 47, 103 };
    dec_packet_t pkt;

    (void)state;
    for (size_t i = 0; i < sizeof protos / sizeof protos[0]; i++) {
        buf_t b = { .n = 0 };

        eth(&b, 0x86dd);
        ipv6(&b, 60);
        ext8(&b, protos[i], 0);
        fill(&b, 0x33, 12);
        ipv6_done(&b);
        assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_OK);
        assert_int_equal(pkt.proto, protos[i]);
        assert_int_equal(pkt.sport, 0);
        assert_int_equal(pkt.dport, 0);
        assert_int_equal(pkt.l4_payload_len, 12);
        assert_int_equal(pkt.payload_caplen, 12);
    }
}

static void test_ipv6_too_deep(void **state)
{
    dec_packet_t pkt;

    (void)state;
    for (unsigned n = DEC_MAX_IPV6_EXT; n <= DEC_MAX_IPV6_EXT + 1; n++) {
        buf_t b = { .n = 0 };

        eth(&b, 0x86dd);
        ipv6(&b, 60);
        for (unsigned i = 0; i < n; i++)
            ext8(&b, i + 1 < n ? 60 : 17, 0);
        udp(&b, 7, 9, 0);
        ipv6_done(&b);
        assert_int_equal(decode(DLT_EN10MB_, &b, &pkt),
                         n <= DEC_MAX_IPV6_EXT ? DEC_OK : DEC_TOO_DEEP);
    }
}

static void test_ipv6_extension_bounds(void **state)
{
    dec_packet_t pkt;
    buf_t b = { .n = 0 };

    (void)state;
    eth(&b, 0x86dd);
    ipv6(&b, 0);
    ext8(&b, 17, 2); /* 24 bytes */
    udp(&b, 1, 2, 0);
    ipv6_done(&b);
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_OK);
    /* Cut inside the extension header: truncated, whatever the cut. */
    for (uint32_t n = 14 + 40; n < 14 + 40 + 24; n++)
        assert_int_equal(decode_cut(DLT_EN10MB_, b.b, n, &pkt), DEC_TRUNCATED);
    /* Payload length says the extension header cannot fit: malformed. */
    set16(&b, 14 + 4, 16);
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_MALFORMED);
    set16(&b, 14 + 4, 1);
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_MALFORMED);
}

static void test_ipv6_jumbo_zero_length(void **state)
{
    dec_packet_t pkt;
    buf_t b = { .n = 0 };

    (void)state;
    eth(&b, 0x86dd);
    ipv6(&b, 6);
    tcp(&b, 1000, 2000, DEC_TCP_ACK, NULL, 0);
    fill(&b, 0, 100);
    /* payload length left 0 */
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.ip_octets, 40 + 20 + 100);
    assert_int_equal(pkt.l4_payload_len, 100);
}

static void test_ipv6_snaplen_cut(void **state)
{
    dec_packet_t pkt;
    buf_t b = { .n = 0 };

    (void)state;
    eth(&b, 0x86dd);
    ipv6(&b, 17);
    udp(&b, 443, 50000, 1200);
    ipv6_done(&b);
    assert_int_equal(dec_packet(DLT_EN10MB_, b.b, 14 + 40 + 8, &pkt), DEC_OK);
    assert_int_equal(pkt.ip_octets, 1248);
    assert_int_equal(pkt.l4_payload_len, 1200);
    assert_int_equal(pkt.payload_caplen, 0);
}

/* ---- transport ------------------------------------------------------------------------- */

static void test_l4_udp_lite_sctp(void **state)
{
    dec_packet_t pkt;
    buf_t b = { .n = 0 };

    (void)state;
    ipv4(&b, 136, 0, 0);
    udp(&b, 9000, 9001, 11);
    ipv4_done(&b);
    assert_int_equal(decode(DLT_IPV4_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.proto, 136);
    assert_int_equal(pkt.sport, 9000);
    assert_int_equal(pkt.dport, 9001);
    assert_int_equal(pkt.l4_payload_len, 11);

    b.n = 0;
    ipv4(&b, 132, 0, 0);
    put16(&b, 36412);
    put16(&b, 2905);
    put32(&b, 0xcafebabe); /* verification tag */
    put32(&b, 0);          /* checksum */
    fill(&b, 0, 20);       /* one chunk */
    ipv4_done(&b);
    assert_int_equal(decode(DLT_IPV4_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.sport, 36412);
    assert_int_equal(pkt.dport, 2905);
    assert_int_equal(pkt.l4_payload_len, 20);
    /* SCTP needs 12 bytes. */
    assert_int_equal(dec_packet(DLT_IPV4_, b.b, 31, &pkt), DEC_TRUNCATED);
    set16(&b, 2, 31);
    assert_int_equal(decode(DLT_IPV4_, &b, &pkt), DEC_MALFORMED);
}

static void test_l4_icmp(void **state)
{
    dec_packet_t pkt;
    buf_t b = { .n = 0 };

    (void)state;
    ipv4(&b, 1, 0, 0);
    put8(&b, DEC_ICMP4_ECHO_REQUEST);
    put8(&b, 0);
    put16(&b, 0);
    put16(&b, 0x0bad); /* identifier */
    put16(&b, 3);
    fill(&b, 0x61, 56);
    ipv4_done(&b);
    assert_int_equal(decode(DLT_IPV4_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.proto, 1);
    assert_int_equal(pkt.icmp_type, 8);
    assert_int_equal(pkt.icmp_code, 0);
    assert_int_equal(pkt.icmp_id, 0x0bad);
    assert_int_equal(pkt.sport, 0);
    assert_int_equal(pkt.dport, 0);
    assert_int_equal(pkt.ip_octets, 84);
    assert_int_equal(pkt.l4_payload_len, 56);

    b.b[20] = DEC_ICMP4_ECHO_REPLY;
    assert_int_equal(decode(DLT_IPV4_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.icmp_id, 0x0bad);
    /* An echo needs 8 bytes captured, and 8 bytes according to IP. */
    assert_int_equal(dec_packet(DLT_IPV4_, b.b, 27, &pkt), DEC_TRUNCATED);
    set16(&b, 2, 26);
    assert_int_equal(decode(DLT_IPV4_, &b, &pkt), DEC_MALFORMED);

    /* Destination unreachable, port unreachable: 4-byte header, no identifier. */
    set16(&b, 2, 84);
    b.b[20] = 3;
    b.b[21] = 3;
    assert_int_equal(decode(DLT_IPV4_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.icmp_type, 3);
    assert_int_equal(pkt.icmp_code, 3);
    assert_int_equal(pkt.icmp_id, 0);
    assert_int_equal(pkt.l4_payload_len, 60);
    assert_int_equal(dec_packet(DLT_IPV4_, b.b, 24, &pkt), DEC_OK);
    assert_int_equal(dec_packet(DLT_IPV4_, b.b, 23, &pkt), DEC_TRUNCATED);
    set16(&b, 2, 23);
    assert_int_equal(decode(DLT_IPV4_, &b, &pkt), DEC_MALFORMED);

    /* ICMPv6 types 128/129 are echoes only under protocol 58; type 8 there is not. */
    b.n = 0;
    ipv6(&b, 58);
    put8(&b, DEC_ICMP6_ECHO_REPLY);
    put8(&b, 0);
    put16(&b, 0);
    put16(&b, 0x7777);
    put16(&b, 1);
    ipv6_done(&b);
    assert_int_equal(decode(DLT_IPV6_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.icmp_type, 129);
    assert_int_equal(pkt.icmp_id, 0x7777);
    assert_int_equal(pkt.l4_payload_len, 0);
    b.b[40] = 8;
    assert_int_equal(decode(DLT_IPV6_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.icmp_id, 0);
    assert_int_equal(pkt.l4_payload_len, 4);
}

static void test_l4_other_protocol(void **state)
{
    dec_packet_t pkt;
    buf_t b = { .n = 0 };

    (void)state;
    ipv4(&b, 89, 0, 0); /* OSPF */
    put16(&b, 0);
    put16(&b, 0x0800);
    fill(&b, 0, 40);
    ipv4_done(&b);
    assert_int_equal(decode(DLT_IPV4_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.proto, 89);
    assert_int_equal(pkt.sport, 0);
    assert_int_equal(pkt.dport, 0);
    assert_int_equal(pkt.l4_payload_len, 44);
    assert_int_equal(pkt.payload_caplen, 44);
    assert_ptr_equal(pkt.payload, b.b + 20);
}

static void test_l4_udp_malformed(void **state)
{
    dec_packet_t pkt;
    buf_t b = { .n = 0 };

    (void)state;
    ipv4(&b, 17, 0, 0);
    udp(&b, 1, 2, 0);
    ipv4_done(&b);
    set16(&b, 2, 27); /* IP leaves 7 bytes for UDP */
    assert_int_equal(decode(DLT_IPV4_, &b, &pkt), DEC_MALFORMED);
    set16(&b, 2, 20); /* no UDP at all */
    assert_int_equal(decode(DLT_IPV4_, &b, &pkt), DEC_MALFORMED);
    set16(&b, 2, 28);
    assert_int_equal(dec_packet(DLT_IPV4_, b.b, 27, &pkt), DEC_TRUNCATED);
}

static void test_tcp_header_checks(void **state)
{
    dec_packet_t pkt;
    buf_t b = { .n = 0 };

    (void)state;
    ipv4(&b, 6, 0, 0);
    tcp(&b, 1, 2, DEC_TCP_ACK, NULL, 0);
    fill(&b, 0, 8);
    ipv4_done(&b);
    for (uint8_t doff = 0; doff < 5; doff++) {
        b.b[20 + 12] = (uint8_t)(doff << 4);
        assert_int_equal(decode(DLT_IPV4_, &b, &pkt), DEC_MALFORMED);
    }
    b.b[20 + 12] = 7 << 4; /* 28 bytes: fits in the 28 IP gives */
    assert_int_equal(decode(DLT_IPV4_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.l4_payload_len, 0);
    b.b[20 + 12] = 8 << 4; /* 32 bytes: more than IP gives */
    assert_int_equal(decode(DLT_IPV4_, &b, &pkt), DEC_MALFORMED);
    /* Options cut by the snaplen are fine: the key is in the base header. */
    b.b[20 + 12] = 7 << 4;
    assert_int_equal(dec_packet(DLT_IPV4_, b.b, 42, &pkt), DEC_OK);
    assert_int_equal(pkt.payload_caplen, 0);
    assert_int_equal(dec_packet(DLT_IPV4_, b.b, 39, &pkt), DEC_TRUNCATED);
    /* IP total length too short for a TCP header. */
    set16(&b, 2, 39);
    assert_int_equal(decode(DLT_IPV4_, &b, &pkt), DEC_MALFORMED);
}

static int8_t wscale_of(const uint8_t *opt, size_t opt_len, uint8_t flags, size_t cut_opts)
{
    dec_packet_t pkt;
    buf_t b = { .n = 0 };

    ipv4(&b, 6, 0, 0);
    tcp(&b, 1, 2, flags, opt, opt_len);
    ipv4_done(&b);
    assert_int_equal(dec_packet(DLT_IPV4_, b.b, (uint32_t)(40 + cut_opts), &pkt), DEC_OK);
    return pkt.tcp_wscale;
}

static void test_tcp_window_scale(void **state)
{
    static const uint8_t plain[] = { 1, 3, 3, 7 };
    static const uint8_t big[] = { 3, 3, 15, 0 };           /* clamped to 14 */
    static const uint8_t zero[] = { 3, 3, 0, 0 };
    static const uint8_t after_eol[] = { 0, 3, 3, 5 };      /* after end of list */
    static const uint8_t bad_len[] = { 3, 4, 5, 0 };        /* wrong option length */
    static const uint8_t zero_len[] = { 2, 0, 3, 3, 5, 0, 0, 0 }; /* invalid length stops */
    static const uint8_t overrun[] = { 1, 1, 8, 10, 0, 0, 0, 0 }; /* option past header */
    static const uint8_t full[] = { 2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0,
                                    1, 3, 3, 9 };
    dec_packet_t pkt;

    (void)state;
    assert_int_equal(wscale_of(plain, sizeof plain, DEC_TCP_SYN, sizeof plain), 7);
    assert_int_equal(wscale_of(plain, sizeof plain, DEC_TCP_SYN | DEC_TCP_ACK, sizeof plain), 7);
    assert_int_equal(wscale_of(big, sizeof big, DEC_TCP_SYN, sizeof big), 14);
    assert_int_equal(wscale_of(zero, sizeof zero, DEC_TCP_SYN, sizeof zero), 0);
    assert_int_equal(wscale_of(after_eol, sizeof after_eol, DEC_TCP_SYN, 4), -1);
    assert_int_equal(wscale_of(bad_len, sizeof bad_len, DEC_TCP_SYN, 4), -1);
    assert_int_equal(wscale_of(zero_len, sizeof zero_len, DEC_TCP_SYN, 8), -1);
    assert_int_equal(wscale_of(overrun, sizeof overrun, DEC_TCP_SYN, 8), -1);
    assert_int_equal(wscale_of(full, sizeof full, DEC_TCP_SYN, sizeof full), 9);
    /* Only SYN segments are read. */
    assert_int_equal(wscale_of(plain, sizeof plain, DEC_TCP_ACK, sizeof plain), -1);
    /* Options cut by the snaplen: those captured count, a cut one is ignored. */
    for (size_t cut = 0; cut < sizeof full; cut++)
        assert_int_equal(wscale_of(full, sizeof full, DEC_TCP_SYN, cut), -1);
    assert_int_equal(wscale_of(plain, sizeof plain, DEC_TCP_SYN, 3), -1);

    /* The window field and sequence numbers. */
    assert_int_equal(dec_packet(DLT_EN10MB_, ETH_V4_SYN, sizeof ETH_V4_SYN, &pkt), DEC_OK);
    assert_int_equal(pkt.tcp_window, 0xfaf0);
}

static void test_l4_direct_padding(void **state)
{
    static const uint8_t seg[] = { 0x00, 0x35, 0x13, 0x88, 0x00, 0x0a, 0x00, 0x00,
                                   0xaa, 0xbb, 0, 0, 0, 0 };
    dec_packet_t pkt;

    (void)state;
    memset(&pkt, 0, sizeof pkt);
    /* 14 bytes handed over, 10 according to IP: the last 4 are not this packet's. */
    assert_int_equal(dec_l4(17, seg, sizeof seg, 10, &pkt), DEC_OK);
    assert_int_equal(pkt.sport, 53);
    assert_int_equal(pkt.dport, 5000);
    assert_int_equal(pkt.l4_payload_len, 2);
    assert_int_equal(pkt.payload_caplen, 2);
    assert_ptr_equal(pkt.payload, seg + 8);
}

/* ---- every cut of every kind of packet ------------------------------------------------- */

typedef struct {
    int link;
    buf_t b;
    size_t key_len;        /* shortest capture that still decodes */
    dec_status_t full_st;  /* status of the whole packet */
} sample_t;

#define MAX_SAMPLES 32

static size_t build_encap_samples(sample_t *s, size_t n);

static size_t build_samples(sample_t *s)
{
    static const uint8_t ws[] = { 1, 3, 3, 7 };
    size_t n = 0;

    /* Ethernet IPv4 (8 option bytes) TCP SYN with window scale */
    s[n] = (sample_t){ .link = DLT_EN10MB_, .key_len = 14 + 28 + 20, .full_st = DEC_OK };
    eth(&s[n].b, 0x0800);
    ipv4(&s[n].b, 6, 8, 0);
    tcp(&s[n].b, 1, 2, DEC_TCP_SYN, ws, sizeof ws);
    fill(&s[n].b, 0, 5);
    ipv4_done(&s[n].b);
    n++;

    /* VLAN IPv6 with hop-by-hop and fragment (first), UDP */
    s[n] = (sample_t){ .link = DLT_EN10MB_, .key_len = 18 + 40 + 8 + 8 + 8, .full_st = DEC_OK };
    eth(&s[n].b, 0x8100);
    put16(&s[n].b, 42);
    put16(&s[n].b, 0x86dd);
    ipv6(&s[n].b, 0);
    ext8(&s[n].b, 44, 0);
    put8(&s[n].b, 17);
    put8(&s[n].b, 0);
    put16(&s[n].b, 1);
    put32(&s[n].b, 9);
    udp(&s[n].b, 10, 20, 9);
    ipv6_done(&s[n].b);
    n++;

    /* SLL IPv4 ICMP echo */
    s[n] = (sample_t){ .link = DLT_SLL_, .key_len = 16 + 20 + 8, .full_st = DEC_OK };
    fill(&s[n].b, 0, 14);
    put16(&s[n].b, 0x0800);
    ipv4(&s[n].b, 1, 0, 0);
    put8(&s[n].b, 8);
    put8(&s[n].b, 0);
    put32(&s[n].b, 0x00010002);
    put16(&s[n].b, 0);
    fill(&s[n].b, 0, 20);
    ipv4_done(&s[n].b);
    n++;

    /* SLL2 IPv6 with AH, SCTP */
    s[n] = (sample_t){ .link = DLT_SLL2_, .key_len = 20 + 40 + 12 + 12, .full_st = DEC_OK };
    put16(&s[n].b, 0x86dd);
    fill(&s[n].b, 0, 18);
    ipv6(&s[n].b, 51);
    put8(&s[n].b, 132);
    put8(&s[n].b, 1);
    fill(&s[n].b, 0, 10);
    fill(&s[n].b, 0x12, 12);
    fill(&s[n].b, 0, 4);
    ipv6_done(&s[n].b);
    n++;

    /* NULL IPv4 other protocol (no ports): the IP header is the whole key */
    s[n] = (sample_t){ .link = DLT_NULL_, .key_len = 4 + 20, .full_st = DEC_OK };
    put8(&s[n].b, 2);
    fill(&s[n].b, 0, 3);
    ipv4(&s[n].b, 89, 0, 0);
    fill(&s[n].b, 0, 30);
    ipv4_done(&s[n].b);
    n++;

    /* Raw IPv6 ICMPv6 neighbour solicitation */
    s[n] = (sample_t){ .link = DLT_RAW101_, .key_len = 40 + 4, .full_st = DEC_OK };
    ipv6(&s[n].b, 58);
    put8(&s[n].b, 135);
    put8(&s[n].b, 0);
    fill(&s[n].b, 0, 22);
    ipv6_done(&s[n].b);
    n++;

    /* Ethernet ARP: not IP once the Ethernet header is there */
    s[n] = (sample_t){ .link = DLT_EN10MB_, .key_len = 14, .full_st = DEC_NOT_IP };
    eth(&s[n].b, 0x0806);
    fill(&s[n].b, 0, 28);
    n++;

    /* Ethernet IPv4 non-first fragment */
    s[n] = (sample_t){ .link = DLT_EN10MB_, .key_len = 14 + 20, .full_st = DEC_FRAGMENT };
    eth(&s[n].b, 0x0800);
    ipv4(&s[n].b, 17, 0, 100);
    fill(&s[n].b, 0, 30);
    ipv4_done(&s[n].b);
    n++;

    /* Ethernet IPv6 too deep: decided once the allowed headers are all captured */
    s[n] = (sample_t){ .link = DLT_EN10MB_, .key_len = 14 + 40 + 8 * DEC_MAX_IPV6_EXT,
                       .full_st = DEC_TOO_DEEP };
    eth(&s[n].b, 0x86dd);
    ipv6(&s[n].b, 60);
    for (unsigned i = 0; i < DEC_MAX_IPV6_EXT + 1; i++)
        ext8(&s[n].b, 60, 0);
    ipv6_done(&s[n].b);
    n++;

    n = build_encap_samples(s, n);

    return n;
}

/* ---- link types and encapsulations of the encapsulation issue -------------------------- */

static const uint8_t IN4_SRC[4] = { 172, 16, 1, 1 };
static const uint8_t IN4_DST[4] = { 172, 16, 2, 2 };
static const uint8_t IN6_SRC[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xaa, 0x01 };
static const uint8_t IN6_DST[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbb, 0x02 };

/* Starts an IPv4 header and returns its offset, for nesting (ipv4_done() knows only one). */
static size_t open4(buf_t *b, uint8_t proto, const uint8_t *src, const uint8_t *dst)
{
    size_t off;

    ipv4(b, proto, 0, 0);
    off = b->ip_off;
    memcpy(b->b + off + 12, src, 4);
    memcpy(b->b + off + 16, dst, 4);
    return off;
}

static void close4(buf_t *b, size_t off)
{
    set16(b, off + 2, (uint16_t)(b->n - off));
}

static size_t open6(buf_t *b, uint8_t nh, const uint8_t *src, const uint8_t *dst)
{
    size_t off;

    ipv6(b, nh);
    off = b->ip_off;
    memcpy(b->b + off + 8, src, 16);
    memcpy(b->b + off + 24, dst, 16);
    return off;
}

static void close6(buf_t *b, size_t off)
{
    set16(b, off + 4, (uint16_t)(b->n - off - 40));
}

/* An inner IPv4/UDP 1111 -> 2222 packet with @payload bytes, addresses IN4_*. */
static void inner4_udp(buf_t *b, size_t payload)
{
    size_t off = open4(b, 17, IN4_SRC, IN4_DST);

    udp(b, 1111, 2222, payload);
    close4(b, off);
}

static void inner6_tcp(buf_t *b)
{
    size_t off = open6(b, 6, IN6_SRC, IN6_DST);

    tcp(b, 3333, 443, DEC_TCP_ACK, NULL, 0);
    fill(b, 0x55, 12);
    close6(b, off);
}

static void assert_inner4_udp(const dec_packet_t *pkt, size_t payload)
{
    assert_int_equal(pkt->family, 4);
    assert_int_equal(pkt->proto, 17);
    assert_memory_equal(pkt->src, IN4_SRC, 4);
    assert_memory_equal(pkt->dst, IN4_DST, 4);
    assert_int_equal(pkt->sport, 1111);
    assert_int_equal(pkt->dport, 2222);
    assert_int_equal(pkt->ip_octets, 20 + 8 + payload);
    assert_int_equal(pkt->l4_payload_len, payload);
}

static void assert_inner6_tcp(const dec_packet_t *pkt)
{
    assert_int_equal(pkt->family, 6);
    assert_int_equal(pkt->proto, 6);
    assert_memory_equal(pkt->src, IN6_SRC, 16);
    assert_memory_equal(pkt->dst, IN6_DST, 16);
    assert_int_equal(pkt->sport, 3333);
    assert_int_equal(pkt->dport, 443);
    assert_int_equal(pkt->ip_octets, 40 + 20 + 12);
}

/* Every cut shorter than @key_len is truncated, and never a read past the cut (ASan). */
static void assert_cuts_truncated(int link, const buf_t *b, size_t key_len)
{
    for (size_t cut = 0; cut < key_len; cut++) {
        dec_packet_t pkt;

        assert_int_equal(decode_cut(link, b->b, cut, &pkt), DEC_TRUNCATED);
    }
}

static void test_link_ppp(void **state)
{
    dec_packet_t pkt;
    buf_t b = { .n = 0 };

    (void)state;
    /* RFC 1662 framing, IPv4 */
    put8(&b, 0xff);
    put8(&b, 0x03);
    put16(&b, 0x0021);
    inner4_udp(&b, 5);
    assert_int_equal(decode(DLT_PPP_, &b, &pkt), DEC_OK);
    assert_inner4_udp(&pkt, 5);
    assert_int_equal(decode(DLT_PPP_SERIAL_, &b, &pkt), DEC_OK);
    assert_inner4_udp(&pkt, 5);
    assert_cuts_truncated(DLT_PPP_, &b, 4 + 28);

    /* Address/control and protocol field compression: a single odd protocol byte. */
    b.n = 0;
    put8(&b, 0x21);
    inner4_udp(&b, 0);
    assert_int_equal(decode(DLT_PPP_, &b, &pkt), DEC_OK);
    assert_inner4_udp(&pkt, 0);

    /* IPv6 without address/control */
    b.n = 0;
    put16(&b, 0x0057);
    inner6_tcp(&b);
    assert_int_equal(decode(DLT_PPP_, &b, &pkt), DEC_OK);
    assert_inner6_tcp(&pkt);

    /* MPLS over PPP */
    b.n = 0;
    put16(&b, 0xff03);
    put16(&b, 0x0281);
    put32(&b, (1000u << 12) | 0x100u | 64u); /* label 1000, bottom of stack, TTL 64 */
    inner4_udp(&b, 1);
    assert_int_equal(decode(DLT_PPP_, &b, &pkt), DEC_OK);
    assert_inner4_udp(&pkt, 1);

    /* LCP and IPCP are control protocols, not IP. */
    static const uint16_t ctl[] = { 0xc021, 0x8021, 0x8057, 0xc223 };
    for (size_t i = 0; i < sizeof ctl / sizeof ctl[0]; i++) {
        b.n = 0;
        put16(&b, 0xff03);
        put16(&b, ctl[i]);
        fill(&b, 1, 20);
        assert_int_equal(decode(DLT_PPP_, &b, &pkt), DEC_NOT_IP);
    }
}

static void test_link_chdlc(void **state)
{
    dec_packet_t pkt;
    buf_t b = { .n = 0 };

    (void)state;
    put8(&b, 0x0f);
    put8(&b, 0x00);
    put16(&b, 0x0800);
    inner4_udp(&b, 3);
    assert_int_equal(decode(DLT_C_HDLC_, &b, &pkt), DEC_OK);
    assert_inner4_udp(&pkt, 3);
    /* DLT_PPP_SERIAL frames with a Cisco HDLC address are Cisco HDLC. */
    assert_int_equal(decode(DLT_PPP_SERIAL_, &b, &pkt), DEC_OK);
    assert_inner4_udp(&pkt, 3);
    assert_cuts_truncated(DLT_C_HDLC_, &b, 4 + 28);

    b.n = 0;
    put8(&b, 0x8f);
    put8(&b, 0x00);
    put16(&b, 0x86dd);
    inner6_tcp(&b);
    assert_int_equal(decode(DLT_C_HDLC_, &b, &pkt), DEC_OK);
    assert_inner6_tcp(&pkt);

    /* MPLS over Cisco HDLC (as in ndpi-BGP_redist) */
    b.n = 0;
    put16(&b, 0x0f00);
    put16(&b, 0x8847);
    put32(&b, (16u << 12) | 0x100u | 255u);
    inner4_udp(&b, 0);
    assert_int_equal(decode(DLT_C_HDLC_, &b, &pkt), DEC_OK);
    assert_inner4_udp(&pkt, 0);

    /* SLARP keepalives */
    b.n = 0;
    put16(&b, 0x8f00);
    put16(&b, 0x8035);
    fill(&b, 0, 20);
    assert_int_equal(decode(DLT_C_HDLC_, &b, &pkt), DEC_NOT_IP);
}

static void test_eth_vlan_stacks(void **state)
{
    static const uint16_t outer[] = { 0x88a8, 0x8100, 0x9100 };
    dec_packet_t pkt;

    (void)state;
    for (size_t i = 0; i < sizeof outer / sizeof outer[0]; i++) {
        buf_t b = { .n = 0 };

        eth(&b, outer[i]);
        put16(&b, 100);
        put16(&b, 0x8100);
        put16(&b, 0x2000 | 200); /* PCP 1 */
        put16(&b, 0x0800);
        inner4_udp(&b, 2);
        assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_OK);
        assert_int_equal(pkt.vlan_id, 100);
        assert_int_equal(pkt.vlan_inner, 200);
        assert_inner4_udp(&pkt, 2);
        assert_cuts_truncated(DLT_EN10MB_, &b, 22 + 28);
    }

    /* Three tags: the first two are kept, the third walked over. */
    {
        buf_t b = { .n = 0 };

        eth(&b, 0x88a8);
        put16(&b, 10);
        put16(&b, 0x8100);
        put16(&b, 20);
        put16(&b, 0x8100);
        put16(&b, 30);
        put16(&b, 0x86dd);
        inner6_tcp(&b);
        assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_OK);
        assert_int_equal(pkt.vlan_id, 10);
        assert_int_equal(pkt.vlan_inner, 20);
        assert_inner6_tcp(&pkt);
    }

    /* A stack longer than the layer cap. */
    {
        buf_t b = { .n = 0 };

        eth(&b, 0x8100);
        for (unsigned i = 0; i < DEC_MAX_LAYERS + 1; i++) {
            put16(&b, (uint16_t)i);
            put16(&b, 0x8100);
        }
        put16(&b, 1);
        put16(&b, 0x0800);
        inner4_udp(&b, 0);
        assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_TOO_DEEP);
    }
}

static void test_eth_mpls(void **state)
{
    dec_packet_t pkt;
    buf_t b = { .n = 0 };

    (void)state;
    /* Two labels then IPv4 */
    eth(&b, 0x8847);
    put32(&b, (100u << 12) | 64u);
    put32(&b, (200u << 12) | 0x100u | 64u);
    inner4_udp(&b, 7);
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_OK);
    assert_inner4_udp(&pkt, 7);
    assert_cuts_truncated(DLT_EN10MB_, &b, 14 + 8 + 28);

    /* Multicast MPLS, IPv6, behind a VLAN tag */
    b.n = 0;
    eth(&b, 0x8100);
    put16(&b, 33);
    put16(&b, 0x8848);
    put32(&b, (5u << 12) | 0x100u | 1u);
    inner6_tcp(&b);
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.vlan_id, 33);
    assert_inner6_tcp(&pkt);

    /* Ethernet pseudowire with a control word; the inner frame's tag is the flow's VLAN. */
    b.n = 0;
    eth(&b, 0x8847);
    put32(&b, (16u << 12) | 0x100u | 64u);
    put32(&b, 0); /* control word */
    eth(&b, 0x8100);
    put16(&b, 7);
    put16(&b, 0x0800);
    inner4_udp(&b, 4);
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.vlan_id, 7);
    assert_inner4_udp(&pkt, 4);
    assert_cuts_truncated(DLT_EN10MB_, &b, 14 + 4 + 4 + 18 + 28);

    /* A payload that is neither IP nor a control word */
    b.n = 0;
    eth(&b, 0x8847);
    put32(&b, (16u << 12) | 0x100u | 64u);
    put8(&b, 0x55);
    fill(&b, 0, 40);
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_UNSUPPORTED_ENCAP);

    /* A stack without bottom of stack runs into the end, or into the layer cap. */
    b.n = 0;
    eth(&b, 0x8847);
    for (unsigned i = 0; i < 3; i++)
        put32(&b, (i << 12) | 64u);
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_TRUNCATED);
    b.n = 0;
    eth(&b, 0x8847);
    for (unsigned i = 0; i < DEC_MAX_LAYERS + 1; i++)
        put32(&b, (i << 12) | 64u);
    put32(&b, 0x100u);
    inner4_udp(&b, 0);
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_TOO_DEEP);
}

static void test_eth_pppoe(void **state)
{
    dec_packet_t pkt;
    buf_t b = { .n = 0 };
    size_t len_off;

    (void)state;
    /* QinQ + PPPoE session + IPv4, as in ndpi-dns */
    eth(&b, 0x88a8);
    put16(&b, 300);
    put16(&b, 0x8100);
    put16(&b, 400);
    put16(&b, 0x8864);
    put8(&b, 0x11);
    put8(&b, 0x00);
    put16(&b, 0x1234);
    len_off = b.n;
    put16(&b, 0);
    put16(&b, 0x0021);
    inner4_udp(&b, 9);
    set16(&b, len_off, (uint16_t)(b.n - len_off - 2));
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.vlan_id, 300);
    assert_int_equal(pkt.vlan_inner, 400);
    assert_inner4_udp(&pkt, 9);
    assert_cuts_truncated(DLT_EN10MB_, &b, 22 + 8 + 28);

    /* IPv6 in the session */
    b.n = 0;
    eth(&b, 0x8864);
    put16(&b, 0x1100);
    put16(&b, 1);
    put16(&b, 2 + 72);
    put16(&b, 0x0057);
    inner6_tcp(&b);
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_OK);
    assert_inner6_tcp(&pkt);

    /* LCP in the session, the discovery stage, a bad version/type or code */
    b.b[20] = 0xc0;
    b.b[21] = 0x21;
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_NOT_IP);
    b.b[20] = 0x00;
    b.b[21] = 0x57;
    b.b[14] = 0x12;
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_MALFORMED);
    b.b[14] = 0x11;
    b.b[15] = 0x09; /* PADI code in a session frame */
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_MALFORMED);
    b.b[15] = 0x00;
    set16(&b, 12, 0x8863);
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_NOT_IP);
}

static void assert_outer(const dec_packet_t *pkt, int tunnel, int family, const uint8_t *src,
                         const uint8_t *dst)
{
    size_t alen = family == 4 ? 4 : 16;

    assert_int_equal(pkt->tunnel_type, tunnel);
    assert_int_equal(pkt->outer_family, family);
    assert_memory_equal(pkt->outer_src, src, alen);
    assert_memory_equal(pkt->outer_dst, dst, alen);
}

static void test_tunnel_ipip(void **state)
{
    dec_packet_t pkt;
    buf_t b = { .n = 0 };
    size_t o;

    (void)state;
    /* 4in4 */
    eth(&b, 0x0800);
    o = open4(&b, 4, V4_SRC, V4_DST);
    inner4_udp(&b, 6);
    close4(&b, o);
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_OK);
    assert_inner4_udp(&pkt, 6);
    assert_outer(&pkt, DEC_TUNNEL_IPIP, 4, V4_SRC, V4_DST);
    assert_cuts_truncated(DLT_EN10MB_, &b, 14 + 20 + 28);
    /* The outer switch keys on the carrying header. */
    assert_int_equal(dec_packet_opts(DLT_EN10MB_, b.b, (uint32_t)b.n, DEC_OPT_TUNNELS_OUTER,
                                     &pkt), DEC_OK);
    assert_int_equal(pkt.proto, 4);
    assert_memory_equal(pkt.src, V4_SRC, 4);
    assert_int_equal(pkt.ip_octets, 20 + 28 + 6);
    assert_int_equal(pkt.tunnel_type, DEC_TUNNEL_NONE);

    /* 6in4 */
    b.n = 0;
    eth(&b, 0x0800);
    o = open4(&b, 41, V4_SRC, V4_DST);
    inner6_tcp(&b);
    close4(&b, o);
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_OK);
    assert_inner6_tcp(&pkt);
    assert_outer(&pkt, DEC_TUNNEL_IPIP, 4, V4_SRC, V4_DST);

    /* 4in6 and 6in6 */
    b.n = 0;
    eth(&b, 0x86dd);
    o = open6(&b, 4, V6_SRC, V6_DST);
    inner4_udp(&b, 1);
    close6(&b, o);
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_OK);
    assert_inner4_udp(&pkt, 1);
    assert_outer(&pkt, DEC_TUNNEL_IPIP, 6, V6_SRC, V6_DST);
    b.n = 0;
    eth(&b, 0x86dd);
    o = open6(&b, 41, V6_SRC, V6_DST);
    inner6_tcp(&b);
    close6(&b, o);
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_OK);
    assert_inner6_tcp(&pkt);
    assert_outer(&pkt, DEC_TUNNEL_IPIP, 6, V6_SRC, V6_DST);
    assert_cuts_truncated(DLT_EN10MB_, &b, 14 + 40 + 60);

    /* Nesting beyond the layer cap */
    b.n = 0;
    {
        size_t offs[DEC_MAX_LAYERS + 2];

        for (unsigned i = 0; i < DEC_MAX_LAYERS + 2; i++)
            offs[i] = open4(&b, 4, V4_SRC, V4_DST);
        inner4_udp(&b, 0);
        for (unsigned i = DEC_MAX_LAYERS + 2; i-- > 0;)
            close4(&b, offs[i]);
        assert_int_equal(decode(DLT_IPV4_, &b, &pkt), DEC_TOO_DEEP);
    }
}

static void test_tunnel_gre(void **state)
{
    dec_packet_t pkt;
    buf_t b = { .n = 0 };
    size_t o;

    (void)state;
    /* GRE with checksum, key and sequence number, IPv4 inside */
    o = open4(&b, 47, V4_SRC, V4_DST);
    put16(&b, 0xb000);
    put16(&b, 0x0800);
    fill(&b, 0xab, 12);
    inner4_udp(&b, 2);
    close4(&b, o);
    assert_int_equal(decode(DLT_RAW101_, &b, &pkt), DEC_OK);
    assert_inner4_udp(&pkt, 2);
    assert_outer(&pkt, DEC_TUNNEL_GRE, 4, V4_SRC, V4_DST);
    assert_cuts_truncated(DLT_RAW101_, &b, 20 + 16 + 28);

    /* Transparent Ethernet bridging */
    b.n = 0;
    o = open4(&b, 47, V4_SRC, V4_DST);
    put16(&b, 0x2000);
    put16(&b, 0x6558);
    put32(&b, 42);
    eth(&b, 0x86dd);
    inner6_tcp(&b);
    close4(&b, o);
    assert_int_equal(decode(DLT_RAW101_, &b, &pkt), DEC_OK);
    assert_inner6_tcp(&pkt);

    /* PPTP enhanced GRE: key (payload length, call id), sequence and acknowledgement */
    b.n = 0;
    o = open4(&b, 47, V4_SRC, V4_DST);
    put16(&b, 0x3081);
    put16(&b, 0x880b);
    put16(&b, 4 + 28);
    put16(&b, 0x4000);
    put32(&b, 7);
    put32(&b, 6);
    put16(&b, 0xff03);
    put16(&b, 0x0021);
    inner4_udp(&b, 0);
    close4(&b, o);
    assert_int_equal(decode(DLT_RAW101_, &b, &pkt), DEC_OK);
    assert_inner4_udp(&pkt, 0);
    assert_outer(&pkt, DEC_TUNNEL_GRE, 4, V4_SRC, V4_DST);

    /* PPTP carrying LCP: the GRE packet is its own flow between the tunnel endpoints. */
    b.b[20 + 16 + 2] = 0xc0;
    b.b[20 + 16 + 3] = 0x21;
    assert_int_equal(decode(DLT_RAW101_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.proto, 47);
    assert_memory_equal(pkt.src, V4_SRC, 4);
    assert_int_equal(pkt.tunnel_type, DEC_TUNNEL_NONE);
    assert_int_equal(pkt.ip_octets, b.n);

    /* A PPTP acknowledgement without payload, GRE routing, version 2: the GRE flow. */
    static const uint16_t flags[] = { 0x2081, 0x4000, 0x0002 };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        b.n = 0;
        o = open4(&b, 47, V4_SRC, V4_DST);
        put16(&b, flags[i]);
        put16(&b, flags[i] & 1 ? 0x880b : 0x0800);
        put16(&b, 0);
        put16(&b, 0x4000);
        put32(&b, 9);
        close4(&b, o);
        assert_int_equal(decode(DLT_RAW101_, &b, &pkt), DEC_OK);
        assert_int_equal(pkt.proto, 47);
        assert_int_equal(pkt.tunnel_type, DEC_TUNNEL_NONE);
    }
}

/* Outer IPv4/UDP to @dport carrying what @body writes. */
static size_t open_udp_tunnel(buf_t *b, uint16_t dport, size_t *udp_off)
{
    size_t o = open4(b, 17, V4_SRC, V4_DST);

    *udp_off = b->n;
    udp(b, 50000, dport, 0);
    return o;
}

static void close_udp_tunnel(buf_t *b, size_t o, size_t udp_off)
{
    set16(b, udp_off + 4, (uint16_t)(b->n - udp_off));
    close4(b, o);
}

static void test_tunnel_vxlan(void **state)
{
    dec_packet_t pkt;
    buf_t b = { .n = 0 };
    size_t o, u;

    (void)state;
    eth(&b, 0x8100);
    put16(&b, 12);
    put16(&b, 0x0800);
    o = open_udp_tunnel(&b, 4789, &u);
    put32(&b, 0x08000000);
    put32(&b, 0x00123400);
    eth(&b, 0x0800);
    inner4_udp(&b, 10);
    close_udp_tunnel(&b, o, u);
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.vlan_id, 12);
    assert_inner4_udp(&pkt, 10);
    assert_outer(&pkt, DEC_TUNNEL_VXLAN, 4, V4_SRC, V4_DST);
    assert_cuts_truncated(DLT_EN10MB_, &b, 18 + 28 + 8 + 14 + 28);

    /* Outer keying */
    assert_int_equal(dec_packet_opts(DLT_EN10MB_, b.b, (uint32_t)b.n, DEC_OPT_TUNNELS_OUTER,
                                     &pkt), DEC_OK);
    assert_int_equal(pkt.dport, 4789);
    assert_memory_equal(pkt.src, V4_SRC, 4);

    /* ARP inside: the UDP packet is the flow. */
    set16(&b, 18 + 28 + 8 + 12, 0x0806);
    assert_int_equal(decode(DLT_EN10MB_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.proto, 17);
    assert_int_equal(pkt.dport, 4789);
    assert_memory_equal(pkt.src, V4_SRC, 4);
    assert_int_equal(pkt.tunnel_type, DEC_TUNNEL_NONE);

    /* A datagram that really ends inside the VXLAN header is a UDP packet too. */
    b.n = 0;
    o = open_udp_tunnel(&b, 4789, &u);
    put32(&b, 0x08000000);
    close_udp_tunnel(&b, o, u);
    assert_int_equal(decode(DLT_RAW101_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.dport, 4789);
}

static void test_tunnel_gtpu(void **state)
{
    dec_packet_t pkt;
    buf_t b = { .n = 0 };
    size_t o, u, len_off;

    (void)state;
    o = open_udp_tunnel(&b, 2152, &u);
    put8(&b, 0x30);
    put8(&b, 0xff);
    len_off = b.n;
    put16(&b, 0);
    put32(&b, 0xdeadbeef);
    inner4_udp(&b, 3);
    set16(&b, len_off, (uint16_t)(b.n - len_off - 6));
    close_udp_tunnel(&b, o, u);
    assert_int_equal(decode(DLT_RAW101_, &b, &pkt), DEC_OK);
    assert_inner4_udp(&pkt, 3);
    assert_outer(&pkt, DEC_TUNNEL_GTPU, 4, V4_SRC, V4_DST);
    assert_cuts_truncated(DLT_RAW101_, &b, 28 + 8 + 28);

    /* Sequence number and two extension headers (PDU session container), IPv6 inside */
    b.n = 0;
    o = open_udp_tunnel(&b, 2152, &u);
    put8(&b, 0x36);
    put8(&b, 0xff);
    put16(&b, 0);
    put32(&b, 1);
    put16(&b, 77);   /* sequence */
    put8(&b, 0);     /* N-PDU */
    put8(&b, 0x85);  /* next extension */
    put8(&b, 1);
    put16(&b, 0x0001);
    put8(&b, 0x20);
    put8(&b, 2);
    fill(&b, 0, 6);
    put8(&b, 0);
    inner6_tcp(&b);
    close_udp_tunnel(&b, o, u);
    assert_int_equal(decode(DLT_RAW101_, &b, &pkt), DEC_OK);
    assert_inner6_tcp(&pkt);
    assert_cuts_truncated(DLT_RAW101_, &b, 28 + 24 + 60);

    /* A zero extension length is not GTP-U user data: the UDP packet is the flow. */
    b.b[28 + 12] = 0;
    assert_int_equal(decode(DLT_RAW101_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.dport, 2152);

    /* Echo request */
    b.n = 0;
    o = open_udp_tunnel(&b, 2152, &u);
    put8(&b, 0x32);
    put8(&b, 0x01);
    put16(&b, 4);
    put32(&b, 0);
    put32(&b, 0);
    close_udp_tunnel(&b, o, u);
    assert_int_equal(decode(DLT_RAW101_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.proto, 17);
    assert_int_equal(pkt.tunnel_type, DEC_TUNNEL_NONE);
}

static void test_tunnel_teredo(void **state)
{
    dec_packet_t pkt;
    buf_t b = { .n = 0 };
    size_t o, u;

    (void)state;
    o = open_udp_tunnel(&b, 3544, &u);
    inner6_tcp(&b);
    close_udp_tunnel(&b, o, u);
    assert_int_equal(decode(DLT_RAW101_, &b, &pkt), DEC_OK);
    assert_inner6_tcp(&pkt);
    assert_outer(&pkt, DEC_TUNNEL_TEREDO, 4, V4_SRC, V4_DST);
    assert_cuts_truncated(DLT_RAW101_, &b, 28 + 60);

    /* Authentication (client id 2 bytes, no auth value) and origin indications */
    b.n = 0;
    o = open_udp_tunnel(&b, 3544, &u);
    put16(&b, 0x0001);
    put8(&b, 2);
    put8(&b, 0);
    put16(&b, 0xabcd);
    fill(&b, 0x11, 8);
    put8(&b, 0);
    put16(&b, 0x0000);
    fill(&b, 0x22, 6);
    inner6_tcp(&b);
    close_udp_tunnel(&b, o, u);
    assert_int_equal(decode(DLT_RAW101_, &b, &pkt), DEC_OK);
    assert_inner6_tcp(&pkt);
    assert_cuts_truncated(DLT_RAW101_, &b, 28 + 15 + 8 + 60);

    /* Not IPv6: plain UDP to the Teredo port */
    b.n = 0;
    o = open_udp_tunnel(&b, 3544, &u);
    fill(&b, 0x45, 48);
    close_udp_tunnel(&b, o, u);
    assert_int_equal(decode(DLT_RAW101_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.dport, 3544);
    assert_int_equal(pkt.tunnel_type, DEC_TUNNEL_NONE);
}

static void test_icmp_error_is_not_a_tunnel(void **state)
{
    dec_packet_t pkt;
    buf_t b = { .n = 0 };
    size_t o;

    (void)state;
    o = open4(&b, 1, V4_SRC, V4_DST);
    put8(&b, 3); /* destination unreachable, port */
    put8(&b, 3);
    put16(&b, 0);
    put32(&b, 0);
    inner4_udp(&b, 0);
    close4(&b, o);
    assert_int_equal(decode(DLT_RAW101_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.proto, 1);
    assert_memory_equal(pkt.src, V4_SRC, 4);
    assert_int_equal(pkt.icmp_type, 3);
    assert_int_equal(pkt.tunnel_type, DEC_TUNNEL_NONE);
    assert_int_equal(pkt.ip_octets, 20 + 8 + 28);
}

static void test_fragment_fields(void **state)
{
    dec_packet_t pkt;
    buf_t b = { .n = 0 };

    (void)state;
    /* IPv4 first fragment: MF, offset 0 */
    ipv4(&b, 17, 0, 0x2000);
    udp(&b, 53, 5353, 32);
    ipv4_done(&b);
    set16(&b, 4, 0xbeef);
    assert_int_equal(decode(DLT_RAW101_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.frag, DEC_FRAG_FIRST);
    assert_true(pkt.frag_more);
    assert_int_equal(pkt.frag_id, 0xbeef);
    assert_int_equal(pkt.frag_offset, 0);
    assert_int_equal(pkt.frag_data_len, 40);
    assert_int_equal(pkt.frag_family, 4);
    assert_int_equal(pkt.frag_proto, 17);
    assert_memory_equal(pkt.frag_src, V4_SRC, 4);
    assert_int_equal(pkt.sport, 53);

    /* Last fragment at offset 40 */
    set16(&b, 6, 5);
    assert_int_equal(decode(DLT_RAW101_, &b, &pkt), DEC_FRAGMENT);
    assert_int_equal(pkt.frag, DEC_FRAG_LATER);
    assert_false(pkt.frag_more);
    assert_int_equal(pkt.frag_offset, 40);
    assert_int_equal(pkt.frag_data_len, 40);
    assert_int_equal(pkt.ip_octets, 60);
    assert_int_equal(pkt.proto, 17);
    assert_int_equal(pkt.sport, 0);

    /* Not a fragment: DF only */
    set16(&b, 6, 0x4000);
    assert_int_equal(decode(DLT_RAW101_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.frag, DEC_FRAG_NONE);

    /* A tiny first fragment: 8 bytes of a TCP header give the ports only. */
    b.n = 0;
    ipv4(&b, 6, 0, 0x2000);
    put16(&b, 1093);
    put16(&b, 80);
    put32(&b, 1);
    ipv4_done(&b);
    assert_int_equal(decode(DLT_RAW101_, &b, &pkt), DEC_OK);
    assert_true(pkt.frag_tiny);
    assert_int_equal(pkt.sport, 1093);
    assert_int_equal(pkt.dport, 80);
    assert_int_equal(pkt.l4_payload_len, 0);
    /* Not a fragment, the same bytes are malformed; 3 bytes of ports are not enough. */
    set16(&b, 6, 0);
    assert_int_equal(decode(DLT_RAW101_, &b, &pkt), DEC_MALFORMED);
    set16(&b, 6, 0x2000);
    set16(&b, 2, 23);
    assert_int_equal(decode(DLT_RAW101_, &b, &pkt), DEC_MALFORMED);

    /* A first fragment cut inside the TCP options */
    b.n = 0;
    ipv4(&b, 6, 0, 0x2000);
    tcp(&b, 5000, 22, DEC_TCP_SYN, (const uint8_t[]){ 1, 1, 1, 1, 1, 1, 1, 1 }, 8);
    ipv4_done(&b);
    set16(&b, 2, 20 + 24);
    b.n = 44;
    assert_int_equal(decode(DLT_RAW101_, &b, &pkt), DEC_OK);
    assert_true(pkt.frag_tiny);
    assert_int_equal(pkt.sport, 5000);

    /* IPv6: first fragment, later fragment, atomic fragment */
    b.n = 0;
    ipv6(&b, 44);
    put8(&b, 17);
    put8(&b, 0);
    put16(&b, 0x0001); /* offset 0, M */
    put32(&b, 0x01020304);
    udp(&b, 547, 546, 8);
    ipv6_done(&b);
    assert_int_equal(decode(DLT_RAW101_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.frag, DEC_FRAG_FIRST);
    assert_int_equal(pkt.frag_id, 0x01020304);
    assert_int_equal(pkt.frag_data_len, 16);
    assert_int_equal(pkt.frag_family, 6);
    assert_int_equal(pkt.frag_proto, 17);
    assert_int_equal(pkt.sport, 547);
    set16(&b, 42, 181 << 3); /* offset 1448, last */
    assert_int_equal(decode(DLT_RAW101_, &b, &pkt), DEC_FRAGMENT);
    assert_int_equal(pkt.frag_offset, 1448);
    assert_false(pkt.frag_more);
    assert_int_equal(pkt.proto, 17);
    set16(&b, 42, 0);
    assert_int_equal(decode(DLT_RAW101_, &b, &pkt), DEC_OK);
    assert_int_equal(pkt.frag, DEC_FRAG_NONE);
}

/* Samples for test_every_cut: one per new encapsulation, with the shortest capture that
 * still decodes. */
static size_t build_encap_samples(sample_t *s, size_t n)
{
    size_t o, u;

    /* PPP */
    s[n] = (sample_t){ .link = DLT_PPP_, .key_len = 4 + 28, .full_st = DEC_OK };
    put16(&s[n].b, 0xff03);
    put16(&s[n].b, 0x0021);
    inner4_udp(&s[n].b, 10);
    n++;

    /* Cisco HDLC, MPLS, IPv6 */
    s[n] = (sample_t){ .link = DLT_C_HDLC_, .key_len = 4 + 4 + 60, .full_st = DEC_OK };
    put16(&s[n].b, 0x0f00);
    put16(&s[n].b, 0x8847);
    put32(&s[n].b, 0x00001140);
    inner6_tcp(&s[n].b);
    n++;

    /* QinQ, PPPoE, IPv6 */
    s[n] = (sample_t){ .link = DLT_EN10MB_, .key_len = 22 + 8 + 60, .full_st = DEC_OK };
    eth(&s[n].b, 0x88a8);
    put16(&s[n].b, 1);
    put16(&s[n].b, 0x8100);
    put16(&s[n].b, 2);
    put16(&s[n].b, 0x8864);
    put16(&s[n].b, 0x1100);
    put16(&s[n].b, 3);
    put16(&s[n].b, 74);
    put16(&s[n].b, 0x0057);
    inner6_tcp(&s[n].b);
    n++;

    /* MPLS Ethernet pseudowire */
    s[n] = (sample_t){ .link = DLT_EN10MB_, .key_len = 14 + 8 + 14 + 28, .full_st = DEC_OK };
    eth(&s[n].b, 0x8847);
    put32(&s[n].b, 0x00010140);
    put32(&s[n].b, 0);
    eth(&s[n].b, 0x0800);
    inner4_udp(&s[n].b, 6);
    n++;

    /* GRE (key) IPv4 */
    s[n] = (sample_t){ .link = DLT_RAW101_, .key_len = 20 + 8 + 28, .full_st = DEC_OK };
    o = open4(&s[n].b, 47, V4_SRC, V4_DST);
    put16(&s[n].b, 0x2000);
    put16(&s[n].b, 0x0800);
    put32(&s[n].b, 5);
    inner4_udp(&s[n].b, 4);
    close4(&s[n].b, o);
    n++;

    /* VXLAN */
    s[n] = (sample_t){ .link = DLT_EN10MB_, .key_len = 14 + 28 + 8 + 14 + 60, .full_st = DEC_OK };
    eth(&s[n].b, 0x0800);
    o = open_udp_tunnel(&s[n].b, 4789, &u);
    put32(&s[n].b, 0x08000000);
    put32(&s[n].b, 0x00000100);
    eth(&s[n].b, 0x86dd);
    inner6_tcp(&s[n].b);
    close_udp_tunnel(&s[n].b, o, u);
    n++;

    /* GTP-U */
    s[n] = (sample_t){ .link = DLT_RAW101_, .key_len = 28 + 8 + 28, .full_st = DEC_OK };
    o = open_udp_tunnel(&s[n].b, 2152, &u);
    put16(&s[n].b, 0x30ff);
    put16(&s[n].b, 28 + 3);
    put32(&s[n].b, 9);
    inner4_udp(&s[n].b, 3);
    close_udp_tunnel(&s[n].b, o, u);
    n++;

    /* Teredo with an origin indication */
    s[n] = (sample_t){ .link = DLT_RAW101_, .key_len = 28 + 8 + 60, .full_st = DEC_OK };
    o = open_udp_tunnel(&s[n].b, 3544, &u);
    put16(&s[n].b, 0);
    fill(&s[n].b, 0x33, 6);
    inner6_tcp(&s[n].b);
    close_udp_tunnel(&s[n].b, o, u);
    n++;

    /* 6in4 */
    s[n] = (sample_t){ .link = DLT_RAW101_, .key_len = 20 + 60, .full_st = DEC_OK };
    o = open4(&s[n].b, 41, V4_SRC, V4_DST);
    inner6_tcp(&s[n].b);
    close4(&s[n].b, o);
    n++;

    assert_true(n <= MAX_SAMPLES);
    return n;
}

static void test_every_cut(void **state)
{
    sample_t s[MAX_SAMPLES];
    size_t n;

    (void)state;
    memset(s, 0, sizeof s);
    n = build_samples(s);
    for (size_t i = 0; i < n; i++) {
        dec_packet_t full, pkt;

        assert_int_equal(decode_cut(s[i].link, s[i].b.b, s[i].b.n, &full), s[i].full_st);
        for (size_t cut = 0; cut <= s[i].b.n; cut++) {
            dec_status_t st = decode_cut(s[i].link, s[i].b.b, cut, &pkt);

            if (cut < s[i].key_len) {
                assert_int_equal(st, DEC_TRUNCATED);
                continue;
            }
            assert_int_equal(st, s[i].full_st);
            if (st != DEC_OK)
                continue;
            /* What a flow is keyed and counted on does not depend on the snaplen. */
            assert_int_equal(pkt.family, full.family);
            assert_int_equal(pkt.proto, full.proto);
            assert_int_equal(pkt.vlan_id, full.vlan_id);
            assert_memory_equal(pkt.src, full.src, 16);
            assert_memory_equal(pkt.dst, full.dst, 16);
            assert_int_equal(pkt.sport, full.sport);
            assert_int_equal(pkt.dport, full.dport);
            assert_int_equal(pkt.icmp_id, full.icmp_id);
            assert_int_equal(pkt.ip_octets, full.ip_octets);
            assert_int_equal(pkt.l4_payload_len, full.l4_payload_len);
            assert_true(pkt.payload_caplen <= full.payload_caplen);
        }
    }
}

/* Every cut of every packet under every link type: nothing may crash or read out of bounds. */
static void test_every_cut_every_link(void **state)
{
    static const int links[] = { 0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 9, 50, 104, 10 };
    sample_t s[MAX_SAMPLES];
    size_t n;

    (void)state;
    memset(s, 0, sizeof s);
    n = build_samples(s);
    for (size_t i = 0; i < n; i++) {
        for (size_t l = 0; l < sizeof links / sizeof links[0]; l++) {
            for (size_t cut = 0; cut <= s[i].b.n; cut++) {
                dec_packet_t pkt;
                dec_status_t st = decode_cut(links[l], s[i].b.b, cut, &pkt);

                assert_true((unsigned)st < DEC_N_STATUS);
            }
        }
    }
}

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(dec_status_name(DEC_OK), "ok");
    assert_string_equal(dec_status_name(DEC_NOT_IP), "not-ip");
    assert_string_equal(dec_status_name(DEC_TRUNCATED), "truncated");
    assert_string_equal(dec_status_name(DEC_MALFORMED), "malformed");
    assert_string_equal(dec_status_name(DEC_UNSUPPORTED_LINK), "unsupported-link");
    assert_string_equal(dec_status_name(DEC_UNSUPPORTED_ENCAP), "unsupported-encap");
    assert_string_equal(dec_status_name(DEC_FRAGMENT), "fragment");
    assert_string_equal(dec_status_name(DEC_TOO_DEEP), "too-deep");
    assert_string_equal(dec_status_name(DEC_FRAGMENT_ORPHAN), "fragment-orphan");
    assert_non_null(dec_status_name(DEC_N_STATUS));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_link_ethernet_tcp_syn),
        cmocka_unit_test(test_link_null_and_loop),
        cmocka_unit_test(test_link_raw),
        cmocka_unit_test(test_link_ipv4_ipv6),
        cmocka_unit_test(test_link_sll),
        cmocka_unit_test(test_link_sll2),
        cmocka_unit_test(test_link_unsupported),
        cmocka_unit_test(test_eth_vlan),
        cmocka_unit_test(test_eth_not_ip),
        cmocka_unit_test(test_eth_truncated),
        cmocka_unit_test(test_ipv4_options),
        cmocka_unit_test(test_ipv4_malformed),
        cmocka_unit_test(test_ipv4_fragments),
        cmocka_unit_test(test_ipv4_tso_zero_length),
        cmocka_unit_test(test_ipv4_snaplen_cut_counts_ip_length),
        cmocka_unit_test(test_ipv4_ethernet_padding),
        cmocka_unit_test(test_ipv6_udp),
        cmocka_unit_test(test_ipv6_each_extension),
        cmocka_unit_test(test_ipv6_no_ports),
        cmocka_unit_test(test_ipv6_too_deep),
        cmocka_unit_test(test_ipv6_extension_bounds),
        cmocka_unit_test(test_ipv6_jumbo_zero_length),
        cmocka_unit_test(test_ipv6_snaplen_cut),
        cmocka_unit_test(test_l4_udp_lite_sctp),
        cmocka_unit_test(test_l4_icmp),
        cmocka_unit_test(test_l4_other_protocol),
        cmocka_unit_test(test_l4_udp_malformed),
        cmocka_unit_test(test_tcp_header_checks),
        cmocka_unit_test(test_tcp_window_scale),
        cmocka_unit_test(test_l4_direct_padding),
        cmocka_unit_test(test_link_ppp),
        cmocka_unit_test(test_link_chdlc),
        cmocka_unit_test(test_eth_vlan_stacks),
        cmocka_unit_test(test_eth_mpls),
        cmocka_unit_test(test_eth_pppoe),
        cmocka_unit_test(test_tunnel_ipip),
        cmocka_unit_test(test_tunnel_gre),
        cmocka_unit_test(test_tunnel_vxlan),
        cmocka_unit_test(test_tunnel_gtpu),
        cmocka_unit_test(test_tunnel_teredo),
        cmocka_unit_test(test_icmp_error_is_not_a_tunnel),
        cmocka_unit_test(test_fragment_fields),
        cmocka_unit_test(test_every_cut),
        cmocka_unit_test(test_every_cut_every_link),
        cmocka_unit_test(test_status_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
