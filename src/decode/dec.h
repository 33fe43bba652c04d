/*
 * Packet decoder: link layer to transport header, into a flat packet view.
 *
 * Stateless and allocation-free. Each layer has its own function that checks the length
 * before reading and copies headers into aligned locals (no unaligned casts into the capture
 * buffer). The view holds what the flow engine keys and counts on; the payload pointer
 * refers into the caller's buffer and is valid only as long as that buffer.
 */
#ifndef OC_DEC_H
#define OC_DEC_H

#include <stdbool.h>
#include <stdint.h>

/* Status of a decode; the order matches oc_skip_t so the engine can index counters. */
typedef enum {
    DEC_OK = 0,
    DEC_NOT_IP,            /* ARP, LLC, other non-IP */
    DEC_TRUNCATED,         /* a header needed for the flow key is cut short */
    DEC_MALFORMED,         /* impossible header values */
    DEC_UNSUPPORTED_LINK,  /* unknown link type */
    DEC_UNSUPPORTED_ENCAP, /* encapsulation not followed (MPLS, PPPoE, QinQ, tunnels...) */
    DEC_FRAGMENT,          /* IP fragment without the transport header */
    DEC_TOO_DEEP,          /* header chain too long */
    DEC_N_STATUS
} dec_status_t;

/* Maximum number of IPv6 extension headers followed before DEC_TOO_DEEP. */
#define DEC_MAX_IPV6_EXT 8

/* ICMP (v4 and v6) type numbers used for the echo biflow. */
#define DEC_ICMP4_ECHO_REPLY 0
#define DEC_ICMP4_ECHO_REQUEST 8
#define DEC_ICMP6_ECHO_REQUEST 128
#define DEC_ICMP6_ECHO_REPLY 129

/* TCP flag bits as in the header (and IPFIX tcpControlBits). */
#define DEC_TCP_FIN 0x01
#define DEC_TCP_SYN 0x02
#define DEC_TCP_RST 0x04
#define DEC_TCP_PSH 0x08
#define DEC_TCP_ACK 0x10
#define DEC_TCP_URG 0x20
#define DEC_TCP_ECE 0x40
#define DEC_TCP_CWR 0x80

typedef struct dec_packet {
    uint8_t family;          /* 4 or 6 */
    uint8_t proto;           /* L4 protocol number (after IPv6 extension headers) */
    uint16_t vlan_id;        /* 802.1Q VID (12 bits), 0 when untagged; outer tag with QinQ */
    uint16_t vlan_inner;     /* inner (customer) VID with QinQ, else 0 */
    uint8_t src[16], dst[16];/* IPv4 uses the first 4 bytes, the rest is zero */
    uint16_t sport, dport;   /* host order; 0 when the protocol has no ports (and ICMP) */
    uint32_t ip_octets;      /* IPv4 total length, or 40 + IPv6 payload length */
    uint32_t l4_payload_len; /* payload after the L4 header, from the IP length (not caplen) */
    /* TCP, valid when proto == 6 */
    uint8_t tcp_flags;
    int8_t tcp_wscale;       /* window scale option, -1 if absent */
    uint16_t tcp_window;     /* raw window field */
    uint32_t tcp_seq, tcp_ack;
    /* ICMP / ICMPv6, valid when proto == 1 or 58 */
    uint8_t icmp_type, icmp_code;
    uint16_t icmp_id;        /* echo identifier when the type is echo request/reply */
    /* L4 payload as captured (may be shorter than l4_payload_len) */
    const uint8_t *payload;
    uint32_t payload_caplen;
} dec_packet_t;

/*
 * Decodes one packet of link type @link (DLT_ value) from @data (@caplen captured bytes).
 * Fills @pkt (zeroed first) and returns DEC_OK, or the reason it cannot be attributed.
 * Per packet; never reads outside [data, data + caplen).
 */
dec_status_t dec_packet(int link, const uint8_t *data, uint32_t caplen, dec_packet_t *pkt);

/* Per-layer entry points, exposed for unit tests and later encapsulation decoders. Each
 * decodes the layer at [p, p + len) and continues to the next one. */
dec_status_t dec_ethernet(const uint8_t *p, uint32_t len, dec_packet_t *pkt);
dec_status_t dec_ipv4(const uint8_t *p, uint32_t len, dec_packet_t *pkt);
dec_status_t dec_ipv6(const uint8_t *p, uint32_t len, dec_packet_t *pkt);
/* Transport header at [p, p + len); @l4_len is the L4 length from the IP header. */
dec_status_t dec_l4(uint8_t proto, const uint8_t *p, uint32_t len, uint32_t l4_len,
                    dec_packet_t *pkt);

/* Short name of a status ("ok", "not-ip", "truncated", ...). */
const char *dec_status_name(dec_status_t st);

#endif /* OC_DEC_H */
