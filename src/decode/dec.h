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
    DEC_UNSUPPORTED_ENCAP, /* encapsulation not followed (an MPLS payload that is not IP/PW) */
    DEC_FRAGMENT,          /* IP fragment without the transport header; the view holds its
                              addresses, protocol, IP length and frag_* fields */
    DEC_TOO_DEEP,          /* header chain or encapsulation stack too long */
    DEC_FRAGMENT_ORPHAN,   /* never returned by the decoder: the engine's cause for a later
                              fragment whose first fragment never came */
    DEC_N_STATUS
} dec_status_t;

/* Maximum number of IPv6 extension headers followed before DEC_TOO_DEEP. */
#define DEC_MAX_IPV6_EXT 8

/* Maximum number of encapsulation layers (VLAN tags, MPLS labels, PPPoE, tunnels) before
 * DEC_TOO_DEEP. Generous for real stacks, small enough to bound the work per packet. */
#define DEC_MAX_LAYERS 16

/* Tunnel types, as the first (outermost) tunnel of a packet; 0 when not tunnelled. */
typedef enum {
    DEC_TUNNEL_NONE = 0,
    DEC_TUNNEL_IPIP,       /* IPv4/IPv6 directly in IPv4/IPv6 (protocols 4 and 41) */
    DEC_TUNNEL_GRE,        /* GRE (protocol 47), including PPTP's enhanced GRE */
    DEC_TUNNEL_VXLAN,      /* UDP 4789 */
    DEC_TUNNEL_GTPU,       /* UDP 2152, G-PDU */
    DEC_TUNNEL_TEREDO,     /* UDP 3544 */
} dec_tunnel_t;

/* dec_packet_t.frag */
enum {
    DEC_FRAG_NONE = 0,     /* not a fragment (or an atomic IPv6 fragment) */
    DEC_FRAG_FIRST,        /* offset 0, more fragments follow: carries the transport header */
    DEC_FRAG_LATER,        /* offset > 0: DEC_FRAGMENT is returned */
};

/* dec_packet_opts() flags */
#define DEC_OPT_TUNNELS_OUTER 0x1u /* key on the outermost IP header: do not enter tunnels */

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
    /* IP fragment of the packet's flow-key IP header (the innermost one unless
     * DEC_OPT_TUNNELS_OUTER); frag_* are valid when frag != DEC_FRAG_NONE. */
    uint8_t frag;            /* DEC_FRAG_* */
    bool frag_more;          /* MF (IPv4) / M (IPv6) flag */
    bool frag_tiny;          /* first fragment cut inside its transport header: ports only */
    uint16_t frag_offset;    /* offset of this fragment's data in the datagram, bytes */
    uint32_t frag_id;        /* IPv4 identification (16 bits) or IPv6 fragment id */
    uint32_t frag_data_len;  /* bytes of the datagram carried here (after the IP headers) */
    uint8_t frag_family;     /* the fragmented header: it may be a tunnel's outer one */
    uint8_t frag_proto;      /* protocol of the fragmented datagram */
    uint8_t frag_src[16], frag_dst[16];
    /* Tunnel: the first tunnel entered and the IP endpoints of the header carrying it */
    uint8_t tunnel_type;     /* dec_tunnel_t */
    uint8_t outer_family;    /* 4 or 6 when tunnel_type != 0 */
    uint8_t outer_src[16], outer_dst[16];
    uint8_t layers;          /* encapsulation layers entered (internal, for DEC_MAX_LAYERS) */
    uint8_t vlan_tags;       /* VLAN tags recorded so far, at most 2 (internal) */
    uint8_t opts;            /* DEC_OPT_* given to dec_packet_opts() (internal) */
} dec_packet_t;

/*
 * Decodes one packet of link type @link (DLT_ value) from @data (@caplen captured bytes).
 * Fills @pkt (zeroed first) and returns DEC_OK, or the reason it cannot be attributed.
 * Per packet; never reads outside [data, data + caplen).
 */
dec_status_t dec_packet(int link, const uint8_t *data, uint32_t caplen, dec_packet_t *pkt);

/* As dec_packet(), with DEC_OPT_* @opts (0 = dec_packet()). */
dec_status_t dec_packet_opts(int link, const uint8_t *data, uint32_t caplen, unsigned opts,
                             dec_packet_t *pkt);

/* Per-layer entry points, exposed for unit tests and later encapsulation decoders. Each
 * decodes the layer at [p, p + len) and continues to the next one. */
dec_status_t dec_ethernet(const uint8_t *p, uint32_t len, dec_packet_t *pkt);
dec_status_t dec_ipv4(const uint8_t *p, uint32_t len, dec_packet_t *pkt);
dec_status_t dec_ipv6(const uint8_t *p, uint32_t len, dec_packet_t *pkt);
/* Transport header at [p, p + len); @l4_len is the L4 length from the IP header. */
dec_status_t dec_l4(uint8_t proto, const uint8_t *p, uint32_t len, uint32_t l4_len,
                    dec_packet_t *pkt);

/* Link-layer and encapsulation decoders that continue to the next layer (dec_l2.c). */
dec_status_t dec_mpls(const uint8_t *p, uint32_t len, dec_packet_t *pkt);
/* PPP frame: optional ff 03, then a 1- or 2-byte protocol field. */
dec_status_t dec_ppp(const uint8_t *p, uint32_t len, dec_packet_t *pkt);
dec_status_t dec_ppp_proto(uint16_t proto, const uint8_t *p, uint32_t len, dec_packet_t *pkt);
/* An IP version nibble picks IPv4 or IPv6; anything else is DEC_NOT_IP. */
dec_status_t dec_ip_any(const uint8_t *p, uint32_t len, dec_packet_t *pkt);

/* Tunnels (dec_tunnel.c). Called with the carrying header's fields in @pkt; on success the
 * view describes the inner packet, and when the payload is not IP the view is left as the
 * carrying packet's (the tunnel itself is the flow) with DEC_OK. */
/* IP protocol @proto (4, 41, 47 are tunnels) at [p, p + len) with L4 length @l4_len: decodes
 * the transport of the carrying header like dec_l4(), then enters the tunnel. */
dec_status_t dec_tunnel_ip(uint8_t proto, const uint8_t *p, uint32_t len, uint32_t l4_len,
                           dec_packet_t *pkt);
/* After a UDP header was decoded into @pkt: enters VXLAN, GTP-U or Teredo by port. */
dec_status_t dec_tunnel_udp(dec_packet_t *pkt);
/* Counts one more encapsulation layer; false when DEC_MAX_LAYERS is exceeded. */
bool dec_enter(dec_packet_t *pkt);

/* Spread hash (dec_spread.c): which worker takes a packet. The same in both directions, over
 * the addresses the flow key uses (a fragment's: its fragmented header's); 0 when the packet
 * does not decode. */
uint32_t dec_spread_hash(int link, const uint8_t *data, uint32_t caplen, unsigned opts);
/* Its fast path: true, with *@hash set, for a plain Ethernet/VLAN IPv4 or IPv6 packet whose
 * flow key takes the IP header's addresses; false when only the full decode can tell. */
bool dec_spread_fast(int link, const uint8_t *data, uint32_t caplen, unsigned opts,
                     uint32_t *hash);
/* The hash of an address pair (16 bytes each, IPv4 zero-padded), symmetric. */
uint32_t dec_spread_addrs(const uint8_t src[16], const uint8_t dst[16]);

/* Short name of a status ("ok", "not-ip", "truncated", ...). */
const char *dec_status_name(dec_status_t st);

#endif /* OC_DEC_H */
