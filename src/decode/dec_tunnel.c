/*
 * Tunnels: IP-in-IP (4in4, 6in4, 4in6, 6in6), GRE (including transparent Ethernet bridging
 * and PPTP's enhanced GRE carrying PPP), VXLAN, GTP-U and Teredo.
 *
 * By default a flow is keyed and counted on the innermost IP header, as Peafowl and nDPI do:
 * the tunnel's endpoints say little about who talks to whom. The first tunnel entered is
 * remembered in the view (type and the carrying header's addresses) so that it can be
 * exported with the flow. When a tunnel carries something that is not IP (a PPP control
 * frame in PPTP, ARP in VXLAN, a GTP echo), the packet stays what it was: a packet of the
 * tunnel's own flow, exactly as decoded before the tunnel was entered. Every tunnel counts as
 * a layer against DEC_MAX_LAYERS, which bounds the recursion through nested tunnels.
 */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "decode/dec.h"

enum {
    PROTO_IPIP = 4,
    PROTO_UDP = 17,
    PROTO_IPV6 = 41,
    PROTO_GRE = 47,
};

enum {
    PORT_GTPU = 2152,
    PORT_TEREDO = 3544,
    PORT_VXLAN = 4789,
};

enum {
    GRE_MIN_HDR_LEN = 4,
    VXLAN_HDR_LEN = 8,
    GTP_MIN_HDR_LEN = 8,
    GTP_OPT_LEN = 4,        /* sequence number, N-PDU number, next extension type */
    TEREDO_ORIGIN_LEN = 8,
    TEREDO_AUTH_MIN_LEN = 13, /* type, id and auth lengths, nonce, confirmation */
    IPV6_HDR_LEN = 40,
};

/* GRE flag bits (RFC 2784, RFC 2890; RFC 2637 for version 1) */
#define GRE_F_CSUM 0x8000u
#define GRE_F_ROUTING 0x4000u
#define GRE_F_KEY 0x2000u
#define GRE_F_SEQ 0x1000u
#define GRE_F_ACK 0x0080u
#define GRE_VERSION_MASK 0x0007u

#define GRE_PROTO_IPV4 0x0800u
#define GRE_PROTO_IPV6 0x86ddu
#define GRE_PROTO_TEB 0x6558u    /* transparent Ethernet bridging */
#define GRE_PROTO_MPLS_UC 0x8847u
#define GRE_PROTO_MPLS_MC 0x8848u
#define GRE_PROTO_PPP 0x880bu

/* GTPv1 flag bits */
#define GTP_VERSION_1 0x20u
#define GTP_PT 0x10u
#define GTP_E 0x04u
#define GTP_S 0x02u
#define GTP_PN 0x01u
#define GTP_TYPE_GPDU 0xffu

/* What a UDP tunnel header parser found. */
typedef enum {
    TUN_IP = 0,    /* the tunnel carries a packet at the returned offset */
    TUN_NOT,       /* not a payload this tunnel carries: the UDP packet is its own flow */
    TUN_SHORT,     /* the header or payload ends too soon to tell */
} tun_parse_t;

static inline uint16_t be16(const uint8_t *b)
{
    return (uint16_t)((unsigned)b[0] << 8 | b[1]);
}

/* Remembers the first tunnel: its type and the header that carries it. */
static void mark_tunnel(dec_packet_t *pkt, dec_tunnel_t type)
{
    if (pkt->tunnel_type != DEC_TUNNEL_NONE)
        return;
    pkt->tunnel_type = (uint8_t)type;
    pkt->outer_family = pkt->family;
    memcpy(pkt->outer_src, pkt->src, sizeof pkt->src);
    memcpy(pkt->outer_dst, pkt->dst, sizeof pkt->dst);
}

/* GRE header: its length depends on the flags and the version. */
static dec_status_t dec_gre(const uint8_t *p, uint32_t len, dec_packet_t *pkt)
{
    uint8_t hdr[GRE_MIN_HDR_LEN];
    uint16_t flags, proto;
    uint32_t hlen = GRE_MIN_HDR_LEN;

    if (len < GRE_MIN_HDR_LEN)
        return DEC_TRUNCATED;
    memcpy(hdr, p, sizeof hdr);
    flags = be16(hdr);
    proto = be16(hdr + 2);
    switch (flags & GRE_VERSION_MASK) {
    case 0:
        if (flags & GRE_F_ROUTING)
            return DEC_UNSUPPORTED_ENCAP; /* source routing (RFC 1701), deprecated */
        if (flags & GRE_F_CSUM)
            hlen += 4;
        if (flags & GRE_F_KEY)
            hlen += 4;
        if (flags & GRE_F_SEQ)
            hlen += 4;
        break;
    case 1:
        /* PPTP: the key field (payload length, call id) is mandatory. */
        if (proto != GRE_PROTO_PPP || (flags & GRE_F_KEY) == 0)
            return DEC_UNSUPPORTED_ENCAP;
        hlen += 4;
        if (flags & GRE_F_SEQ)
            hlen += 4;
        if (flags & GRE_F_ACK)
            hlen += 4;
        break;
    default:
        return DEC_UNSUPPORTED_ENCAP;
    }
    if (len < hlen)
        return DEC_TRUNCATED;
    p += hlen;
    len -= hlen;
    switch (proto) {
    case GRE_PROTO_IPV4:
        return dec_ipv4(p, len, pkt);
    case GRE_PROTO_IPV6:
        return dec_ipv6(p, len, pkt);
    case GRE_PROTO_TEB:
        return dec_ethernet(p, len, pkt);
    case GRE_PROTO_MPLS_UC:
    case GRE_PROTO_MPLS_MC:
        return dec_mpls(p, len, pkt);
    case GRE_PROTO_PPP:
        if (len == 0)
            return DEC_NOT_IP; /* a PPTP acknowledgement without payload */
        return dec_ppp(p, len, pkt);
    default:
        return DEC_NOT_IP;
    }
}

/* Enters the tunnel of @type; a payload that is not IP leaves the carrying packet's view. */
static dec_status_t enter(dec_tunnel_t type, uint8_t proto, const uint8_t *p, uint32_t len,
                          dec_packet_t *pkt)
{
    dec_packet_t outer = *pkt;
    dec_status_t st;

    if (!dec_enter(pkt))
        return DEC_TOO_DEEP;
    mark_tunnel(pkt, type);
    /* The carrying packet's transport fields must not leak into an inner packet that has
     * none of its own (a later fragment, a protocol without ports). */
    pkt->sport = pkt->dport = 0;
    pkt->tcp_flags = 0;
    pkt->tcp_wscale = -1;
    pkt->tcp_window = 0;
    pkt->tcp_seq = pkt->tcp_ack = 0;
    pkt->icmp_type = pkt->icmp_code = 0;
    pkt->icmp_id = 0;
    pkt->l4_payload_len = 0;
    switch (type) {
    case DEC_TUNNEL_IPIP:
        st = proto == PROTO_IPIP ? dec_ipv4(p, len, pkt) : dec_ipv6(p, len, pkt);
        break;
    case DEC_TUNNEL_GRE:
        st = dec_gre(p, len, pkt);
        break;
    case DEC_TUNNEL_VXLAN:
        /* Flags (I bit: a VNI is present), reserved, VNI, reserved; then Ethernet. The
         * caller checked the length. */
        st = dec_ethernet(p + VXLAN_HDR_LEN, len - VXLAN_HDR_LEN, pkt);
        break;
    case DEC_TUNNEL_GTPU:
    case DEC_TUNNEL_TEREDO:
    default:
        st = dec_ip_any(p, len, pkt);
        break;
    }
    if (st == DEC_NOT_IP || st == DEC_UNSUPPORTED_ENCAP) {
        *pkt = outer;
        return DEC_OK;
    }
    return st;
}

dec_status_t dec_tunnel_ip(uint8_t proto, const uint8_t *p, uint32_t len, uint32_t l4_len,
                           dec_packet_t *pkt)
{
    dec_status_t st = dec_l4(proto, p, len, l4_len, pkt);

    if (st != DEC_OK || (pkt->opts & DEC_OPT_TUNNELS_OUTER) != 0)
        return st;
    if (len > l4_len)
        len = l4_len;
    switch (proto) {
    case PROTO_IPIP:
    case PROTO_IPV6:
        return enter(DEC_TUNNEL_IPIP, proto, p, len, pkt);
    case PROTO_GRE:
        return enter(DEC_TUNNEL_GRE, proto, p, len, pkt);
    case PROTO_UDP:
        return dec_tunnel_udp(pkt);
    default:
        return DEC_OK;
    }
}

/* GTPv1-U header: 8 bytes, 4 more when any of E/S/PN is set, then the extension headers
 * (each a length in 4-byte units, ending with the next extension type). Only a G-PDU
 * carries user IP; signalling (echo, error indication, end marker) stays the tunnel's. */
static tun_parse_t gtpu_payload(const uint8_t **pp, uint32_t *plen)
{
    const uint8_t *p = *pp;
    uint32_t len = *plen, off = GTP_MIN_HDR_LEN;
    uint8_t next;

    if (len < 2)
        return TUN_SHORT;
    if ((p[0] & 0xe0u) != GTP_VERSION_1 || (p[0] & GTP_PT) == 0 || p[1] != GTP_TYPE_GPDU)
        return TUN_NOT;
    if (len < GTP_MIN_HDR_LEN)
        return TUN_SHORT;
    if (p[0] & (GTP_E | GTP_S | GTP_PN)) {
        if (len < GTP_MIN_HDR_LEN + GTP_OPT_LEN)
            return TUN_SHORT;
        next = (p[0] & GTP_E) ? p[GTP_MIN_HDR_LEN + 3] : 0;
        off += GTP_OPT_LEN;
        for (unsigned n = 0; next != 0; n++) {
            uint32_t elen;

            if (n == DEC_MAX_LAYERS)
                return TUN_NOT;
            if (len - off < 1)
                return TUN_SHORT;
            elen = (uint32_t)p[off] * 4u;
            if (elen == 0)
                return TUN_NOT;
            if (len - off < elen)
                return TUN_SHORT;
            next = p[off + elen - 1];
            off += elen;
        }
    }
    *pp = p + off;
    *plen = len - off;
    return TUN_IP;
}

/* Teredo (RFC 4380): optional authentication and origin indications before the IPv6
 * packet; anything but IPv6 (the version nibble) is plain UDP to this port. */
static tun_parse_t teredo_payload(const uint8_t **pp, uint32_t *plen)
{
    const uint8_t *p = *pp;
    uint32_t len = *plen;

    if (len < 2)
        return TUN_SHORT;
    if (p[0] == 0 && p[1] == 1) {
        uint32_t alen;

        if (len < 4)
            return TUN_SHORT;
        alen = TEREDO_AUTH_MIN_LEN + (uint32_t)p[2] + p[3];
        if (len < alen + 2)
            return TUN_SHORT;
        p += alen;
        len -= alen;
    }
    if (p[0] == 0 && p[1] == 0) {
        if (len < TEREDO_ORIGIN_LEN + 1)
            return TUN_SHORT;
        p += TEREDO_ORIGIN_LEN;
        len -= TEREDO_ORIGIN_LEN;
    }
    if (p[0] >> 4 != 6)
        return TUN_NOT;
    if (len < IPV6_HDR_LEN)
        return TUN_SHORT;
    *pp = p;
    *plen = len;
    return TUN_IP;
}

static bool has_port(const dec_packet_t *pkt, uint16_t port)
{
    return pkt->sport == port || pkt->dport == port;
}

/*
 * A tunnel header too short to tell what it carries is truncated when the capture cut it
 * (the flow key lies beyond the snaplen) and not a tunnel packet at all when IP says the
 * datagram really ends there; the decision never depends on the snaplen otherwise.
 */
static dec_status_t udp_enter(dec_tunnel_t type, tun_parse_t found, const uint8_t *p,
                              uint32_t len, dec_packet_t *pkt)
{
    switch (found) {
    case TUN_IP:
        return enter(type, PROTO_UDP, p, len, pkt);
    case TUN_SHORT:
        return pkt->payload_caplen < pkt->l4_payload_len ? DEC_TRUNCATED : DEC_OK;
    case TUN_NOT:
    default:
        return DEC_OK;
    }
}

dec_status_t dec_tunnel_udp(dec_packet_t *pkt)
{
    const uint8_t *p = pkt->payload;
    uint32_t len = pkt->payload_caplen;

    if (pkt->proto != PROTO_UDP || (pkt->opts & DEC_OPT_TUNNELS_OUTER) != 0)
        return DEC_OK;
    tun_parse_t found;

    if (has_port(pkt, PORT_VXLAN)) {
        found = len < VXLAN_HDR_LEN ? TUN_SHORT : TUN_IP;
        return udp_enter(DEC_TUNNEL_VXLAN, found, p, len, pkt);
    }
    if (has_port(pkt, PORT_GTPU)) {
        found = gtpu_payload(&p, &len); /* moves p and len past the header */
        return udp_enter(DEC_TUNNEL_GTPU, found, p, len, pkt);
    }
    if (has_port(pkt, PORT_TEREDO)) {
        found = teredo_payload(&p, &len);
        return udp_enter(DEC_TUNNEL_TEREDO, found, p, len, pkt);
    }
    return DEC_OK;
}
