/*
 * Transport-layer decoding: ports and the per-protocol fields the flow engine keys and counts
 * on (TCP flags, sequence numbers, window and window scale; ICMP type, code and echo id).
 *
 * The IP layer hands over two lengths: the bytes captured for this layer and the layer's length
 * according to IP. A header that IP says cannot fit is malformed; one that IP says is there but
 * the capture cut is truncated. The payload length is derived from the IP length so a packet
 * cut by the snaplen still reports how much payload it carried. TCP options are read only on
 * SYN segments (the only ones where window scale means anything) and only within the captured
 * part of the header.
 *
 * A first IP fragment may be cut inside the transport header ("tiny fragments", RFC 1858).
 * Its ports are still what its datagram's flow is keyed on, and every later fragment borrows
 * them, so as long as IP length and capture hold the ports they are taken and the packet is
 * marked frag_tiny instead of malformed.
 */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "decode/dec.h"

enum {
    PROTO_ICMP = 1,
    PROTO_TCP = 6,
    PROTO_UDP = 17,
    PROTO_ICMPV6 = 58,
    PROTO_SCTP = 132,
    PROTO_UDPLITE = 136,
};

enum {
    TCP_MIN_HDR_LEN = 20,
    UDP_HDR_LEN = 8,
    SCTP_HDR_LEN = 12,
    ICMP_MIN_HDR_LEN = 4,
    ICMP_ECHO_HDR_LEN = 8,
    TCP_MAX_HDR_LEN = 60,
};

enum {
    TCPOPT_EOL = 0,
    TCPOPT_NOP = 1,
    TCPOPT_WSCALE = 3,
    TCPOPT_WSCALE_LEN = 3,
    TCP_MAX_WSCALE = 14,     /* RFC 7323 section 2.3: larger shifts are taken as 14 */
};

static inline uint16_t be16(const uint8_t *b)
{
    return (uint16_t)((unsigned)b[0] << 8 | b[1]);
}

static inline uint32_t be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/*
 * Checks that a header of @hdr_len bytes fits in the IP length and in the capture, then copies
 * it to @dst. The IP check comes first: a header that cannot fit is malformed however much
 * was captured.
 */
static dec_status_t l4_take(const uint8_t *p, uint32_t len, uint32_t l4_len, void *dst,
                            uint32_t hdr_len)
{
    if (l4_len < hdr_len)
        return DEC_MALFORMED;
    if (len < hdr_len)
        return DEC_TRUNCATED;
    memcpy(dst, p, hdr_len);
    return DEC_OK;
}

/* Walks the captured options of a SYN segment; @opt holds @n bytes. Stops at the first
 * option that does not fit: a cut option list is not an error for the flow key. */
static void tcp_options(const uint8_t *opt, uint32_t n, dec_packet_t *pkt)
{
    uint32_t i = 0;

    while (i < n) {
        uint8_t kind = opt[i];
        uint8_t olen;

        if (kind == TCPOPT_EOL)
            return;
        if (kind == TCPOPT_NOP) {
            i++;
            continue;
        }
        if (n - i < 2)
            return;
        olen = opt[i + 1];
        if (olen < 2 || olen > n - i)
            return;
        if (kind == TCPOPT_WSCALE && olen == TCPOPT_WSCALE_LEN) {
            uint8_t shift = opt[i + 2];

            pkt->tcp_wscale = (int8_t)(shift > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : shift);
        }
        i += olen;
    }
}

static dec_status_t dec_tcp(const uint8_t *p, uint32_t len, uint32_t l4_len, dec_packet_t *pkt,
                            uint32_t *hdr_len)
{
    uint8_t hdr[TCP_MAX_HDR_LEN];
    dec_status_t st;
    uint32_t doff;

    st = l4_take(p, len, l4_len, hdr, TCP_MIN_HDR_LEN);
    if (st != DEC_OK)
        return st;
    doff = (uint32_t)(hdr[12] >> 4) * 4u;
    if (doff < TCP_MIN_HDR_LEN || doff > l4_len)
        return DEC_MALFORMED;

    pkt->sport = be16(hdr);
    pkt->dport = be16(hdr + 2);
    pkt->tcp_seq = be32(hdr + 4);
    pkt->tcp_ack = be32(hdr + 8);
    pkt->tcp_flags = hdr[13];
    pkt->tcp_window = be16(hdr + 14);

    if ((pkt->tcp_flags & DEC_TCP_SYN) != 0 && doff > TCP_MIN_HDR_LEN) {
        uint32_t opt_caplen = (len < doff ? len : doff) - TCP_MIN_HDR_LEN;

        memcpy(hdr + TCP_MIN_HDR_LEN, p + TCP_MIN_HDR_LEN, opt_caplen);
        tcp_options(hdr + TCP_MIN_HDR_LEN, opt_caplen, pkt);
    }
    *hdr_len = doff;
    return DEC_OK;
}

static bool icmp_is_echo(uint8_t proto, uint8_t type)
{
    if (proto == PROTO_ICMP)
        return type == DEC_ICMP4_ECHO_REQUEST || type == DEC_ICMP4_ECHO_REPLY;
    return type == DEC_ICMP6_ECHO_REQUEST || type == DEC_ICMP6_ECHO_REPLY;
}

static dec_status_t dec_icmp(uint8_t proto, const uint8_t *p, uint32_t len, uint32_t l4_len,
                             dec_packet_t *pkt, uint32_t *hdr_len)
{
    uint8_t hdr[ICMP_ECHO_HDR_LEN];
    dec_status_t st;

    st = l4_take(p, len, l4_len, hdr, ICMP_MIN_HDR_LEN);
    if (st != DEC_OK)
        return st;
    pkt->icmp_type = hdr[0];
    pkt->icmp_code = hdr[1];
    *hdr_len = ICMP_MIN_HDR_LEN;
    if (!icmp_is_echo(proto, hdr[0]))
        return DEC_OK;
    /* The echo identifier is part of the flow key, so an echo without it is unusable. */
    st = l4_take(p, len, l4_len, hdr, ICMP_ECHO_HDR_LEN);
    if (st != DEC_OK)
        return st;
    pkt->icmp_id = be16(hdr + 4);
    *hdr_len = ICMP_ECHO_HDR_LEN;
    return DEC_OK;
}

/* UDP, UDP-Lite and SCTP all start with the two ports; only the header size differs. */
static dec_status_t dec_ports(const uint8_t *p, uint32_t len, uint32_t l4_len,
                              uint32_t hdr_size, dec_packet_t *pkt, uint32_t *hdr_len)
{
    uint8_t hdr[SCTP_HDR_LEN];
    dec_status_t st;

    st = l4_take(p, len, l4_len, hdr, hdr_size);
    if (st != DEC_OK)
        return st;
    pkt->sport = be16(hdr);
    pkt->dport = be16(hdr + 2);
    *hdr_len = hdr_size;
    return DEC_OK;
}

static uint32_t port_hdr_len(uint8_t proto)
{
    switch (proto) {
    case PROTO_TCP:
        return TCP_MIN_HDR_LEN;
    case PROTO_UDP:
    case PROTO_UDPLITE:
        return UDP_HDR_LEN;
    case PROTO_SCTP:
        return SCTP_HDR_LEN;
    default:
        return 0;
    }
}

/* A first fragment whose transport header IP cuts short (a TCP header cut inside its options
 * included): only the ports are taken. */
static bool tiny_first_fragment(uint8_t proto, const uint8_t *p, uint32_t len, uint32_t l4_len,
                                const dec_packet_t *pkt)
{
    uint32_t need = port_hdr_len(proto);

    if (pkt->frag != DEC_FRAG_FIRST || need == 0 || l4_len < 4)
        return false;
    if (l4_len < need)
        return true;
    /* TCP: the data offset is in the 13th byte; uncaptured, dec_tcp() reports truncation. */
    return proto == PROTO_TCP && len >= TCP_MIN_HDR_LEN && (uint32_t)(p[12] >> 4) * 4u > l4_len &&
           (p[12] >> 4) * 4u >= TCP_MIN_HDR_LEN;
}

dec_status_t dec_l4(uint8_t proto, const uint8_t *p, uint32_t len, uint32_t l4_len,
                    dec_packet_t *pkt)
{
    uint32_t hdr_len = 0;
    dec_status_t st;

    /* The caller may pass a capture longer than IP says (padding): it is not this packet's. */
    if (len > l4_len)
        len = l4_len;
    pkt->proto = proto;

    if (tiny_first_fragment(proto, p, len, l4_len, pkt)) {
        uint8_t ports[4];

        if (len < sizeof ports)
            return DEC_TRUNCATED;
        memcpy(ports, p, sizeof ports);
        pkt->sport = be16(ports);
        pkt->dport = be16(ports + 2);
        pkt->frag_tiny = true;
        pkt->l4_payload_len = 0;
        pkt->payload = p + len;
        pkt->payload_caplen = 0;
        return DEC_OK;
    }

    switch (proto) {
    case PROTO_TCP:
        st = dec_tcp(p, len, l4_len, pkt, &hdr_len);
        break;
    case PROTO_UDP:
    case PROTO_UDPLITE:
        st = dec_ports(p, len, l4_len, UDP_HDR_LEN, pkt, &hdr_len);
        break;
    case PROTO_SCTP:
        st = dec_ports(p, len, l4_len, SCTP_HDR_LEN, pkt, &hdr_len);
        break;
    case PROTO_ICMP:
    case PROTO_ICMPV6:
        st = dec_icmp(proto, p, len, l4_len, pkt, &hdr_len);
        break;
    default:
        st = DEC_OK; /* a flow without ports; the whole L4 length is payload */
        break;
    }
    if (st != DEC_OK)
        return st;

    pkt->l4_payload_len = l4_len - hdr_len;
    if (hdr_len <= len) {
        pkt->payload = p + hdr_len;
        pkt->payload_caplen = len - hdr_len;
    } else {
        /* TCP options cut by the snaplen: no payload captured; keep the pointer in bounds. */
        pkt->payload = p + len;
        pkt->payload_caplen = 0;
    }
    return DEC_OK;
}
