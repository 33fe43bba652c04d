/*
 * Link-layer decoding: the entry point dec_packet(), the libpcap link types it accepts, the
 * EtherType dispatch shared by Ethernet, the Linux cooked headers and Cisco HDLC, and the
 * layer-2.5 encapsulations in between: 802.1Q/802.1ad tag stacks, MPLS label stacks (with
 * Ethernet pseudowires), PPPoE sessions and PPP.
 *
 * This is where a packet either reaches an IP decoder or is classified as something the flow
 * engine does not attribute (non-IP, an encapsulation not followed, an unknown link). The
 * classification has to be exact because the engine counts every skipped packet under its
 * cause, and "attributed + skipped = read" is checked against real captures. Headers are
 * copied into aligned locals through a bounded cursor; nothing is read past caplen. Every
 * encapsulation layer counts against DEC_MAX_LAYERS so a crafted stack of labels or tags
 * cannot make the walk long or the recursion deep.
 */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "decode/dec.h"

/* libpcap DLT_ numbers (pcap/dlt.h), spelled out so the decoder needs no libpcap header. */
enum {
    LINK_NULL = 0,
    LINK_EN10MB = 1,
    LINK_PPP = 9,
    LINK_RAW_12 = 12,        /* DLT_RAW on most platforms */
    LINK_RAW_14 = 14,        /* DLT_RAW on OpenBSD */
    LINK_PPP_SERIAL = 50,    /* PPP in HDLC-like framing (RFC 1662), or Cisco HDLC */
    LINK_RAW = 101,          /* LINKTYPE_RAW as written in pcap files */
    LINK_C_HDLC = 104,
    LINK_LOOP = 108,
    LINK_LINUX_SLL = 113,
    LINK_IPV4 = 228,
    LINK_IPV6 = 229,
    LINK_LINUX_SLL2 = 276,
};

enum {
    ETH_HDR_LEN = 14,
    VLAN_TAG_LEN = 4,        /* TCI + inner EtherType */
    SLL_HDR_LEN = 16,
    SLL_PROTO_OFF = 14,
    SLL2_HDR_LEN = 20,
    SLL2_PROTO_OFF = 0,
    NULL_HDR_LEN = 4,
    MPLS_LABEL_LEN = 4,
    MPLS_CW_LEN = 4,         /* pseudowire control word */
    PPPOE_HDR_LEN = 6,
    CHDLC_HDR_LEN = 4,
};

/* Smallest EtherType value; anything below is an IEEE 802.3 length field (LLC/SNAP). */
#define ETHERTYPE_MIN 0x0600u
#define ETHERTYPE_IPV4 0x0800u
#define ETHERTYPE_VLAN 0x8100u
#define ETHERTYPE_IPV6 0x86ddu
#define ETHERTYPE_MPLS_UC 0x8847u
#define ETHERTYPE_MPLS_MC 0x8848u
#define ETHERTYPE_PPPOE_DISC 0x8863u
#define ETHERTYPE_PPPOE_SESS 0x8864u
#define ETHERTYPE_QINQ 0x88a8u
#define ETHERTYPE_QINQ_OLD 0x9100u

/* PPP protocol numbers (RFC 1661 and the IANA registry). */
#define PPP_IPV4 0x0021u
#define PPP_IPV6 0x0057u
#define PPP_MPLS_UC 0x0281u
#define PPP_MPLS_MC 0x0283u
#define PPP_ADDRESS 0xffu
#define PPP_CONTROL 0x03u

/* Cisco HDLC address bytes (unicast, broadcast). */
#define CHDLC_UNICAST 0x0fu
#define CHDLC_BCAST 0x8fu

/* BSD address families as stored by DLT_NULL/DLT_LOOP: AF_INET6 differs between systems. */
#define BSD_AF_INET 2u
#define BSD_AF_INET6_LINUX 10u
#define BSD_AF_INET6_BSD 24u
#define BSD_AF_INET6_FREEBSD 28u
#define BSD_AF_INET6_DARWIN 30u

typedef struct {
    const uint8_t *p, *end;
} l2_cursor_t;

static inline bool l2_take(l2_cursor_t *c, void *dst, size_t n)
{
    if ((size_t)(c->end - c->p) < n)
        return false;
    memcpy(dst, c->p, n);
    c->p += n;
    return true;
}

static inline uint32_t l2_rest(const l2_cursor_t *c)
{
    return (uint32_t)(c->end - c->p);
}

static inline uint16_t be16(const uint8_t *b)
{
    return (uint16_t)((unsigned)b[0] << 8 | b[1]);
}

bool dec_enter(dec_packet_t *pkt)
{
    if (pkt->layers >= DEC_MAX_LAYERS)
        return false;
    pkt->layers++;
    return true;
}

static bool is_vlan_tag(uint16_t type)
{
    return type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ || type == ETHERTYPE_QINQ_OLD;
}

dec_status_t dec_ip_any(const uint8_t *p, uint32_t len, dec_packet_t *pkt)
{
    if (len < 1)
        return DEC_TRUNCATED;
    switch (p[0] >> 4) {
    case 4:
        return dec_ipv4(p, len, pkt);
    case 6:
        return dec_ipv6(p, len, pkt);
    default:
        return DEC_NOT_IP;
    }
}

static dec_status_t dec_pppoe(l2_cursor_t *c, dec_packet_t *pkt);

/*
 * Continues after an EtherType (Ethernet, cooked header, Cisco HDLC) with the cursor on the
 * bytes that follow it. The first two 802.1Q/802.1ad tags of the packet are its VLAN ids
 * (outer, then inner, whatever layer they appear in); tags beyond two are walked over.
 */
static dec_status_t dec_ethertype(uint16_t type, l2_cursor_t *c, dec_packet_t *pkt)
{
    while (is_vlan_tag(type)) {
        uint8_t tag[VLAN_TAG_LEN];
        uint16_t vid;

        if (!dec_enter(pkt))
            return DEC_TOO_DEEP;
        if (!l2_take(c, tag, sizeof tag))
            return DEC_TRUNCATED;
        vid = be16(tag) & 0x0fffu;
        if (pkt->vlan_tags == 0)
            pkt->vlan_id = vid;
        else if (pkt->vlan_tags == 1)
            pkt->vlan_inner = vid;
        if (pkt->vlan_tags < 2)
            pkt->vlan_tags++;
        type = be16(tag + 2);
    }
    if (type < ETHERTYPE_MIN)
        return DEC_NOT_IP;
    switch (type) {
    case ETHERTYPE_IPV4:
        return dec_ipv4(c->p, l2_rest(c), pkt);
    case ETHERTYPE_IPV6:
        return dec_ipv6(c->p, l2_rest(c), pkt);
    case ETHERTYPE_MPLS_UC:
    case ETHERTYPE_MPLS_MC:
        return dec_mpls(c->p, l2_rest(c), pkt);
    case ETHERTYPE_PPPOE_SESS:
        return dec_pppoe(c, pkt);
    case ETHERTYPE_PPPOE_DISC:
    default:
        return DEC_NOT_IP;
    }
}

dec_status_t dec_ethernet(const uint8_t *p, uint32_t len, dec_packet_t *pkt)
{
    l2_cursor_t c = { p, p + len };
    uint8_t hdr[ETH_HDR_LEN];

    if (!l2_take(&c, hdr, sizeof hdr))
        return DEC_TRUNCATED;
    return dec_ethertype(be16(hdr + 12), &c, pkt);
}

/*
 * An MPLS label stack: labels up to the one with the bottom-of-stack bit, then a payload
 * that carries no type. Like every router doing ECMP hashing, guess from the first nibble:
 * 4 and 6 are IP; 0 is the control word of an Ethernet pseudowire (RFC 4385), after which an
 * Ethernet frame follows.
 */
dec_status_t dec_mpls(const uint8_t *p, uint32_t len, dec_packet_t *pkt)
{
    l2_cursor_t c = { p, p + len };

    for (;;) {
        uint8_t label[MPLS_LABEL_LEN];

        if (!dec_enter(pkt))
            return DEC_TOO_DEEP;
        if (!l2_take(&c, label, sizeof label))
            return DEC_TRUNCATED;
        if (label[2] & 0x01u)
            break;
    }
    if (l2_rest(&c) < 1)
        return DEC_TRUNCATED;
    switch (c.p[0] >> 4) {
    case 4:
        return dec_ipv4(c.p, l2_rest(&c), pkt);
    case 6:
        return dec_ipv6(c.p, l2_rest(&c), pkt);
    case 0: {
        uint8_t cw[MPLS_CW_LEN];

        if (!l2_take(&c, cw, sizeof cw))
            return DEC_TRUNCATED;
        if (!dec_enter(pkt))
            return DEC_TOO_DEEP;
        return dec_ethernet(c.p, l2_rest(&c), pkt);
    }
    default:
        return DEC_UNSUPPORTED_ENCAP;
    }
}

/* The network protocols PPP carries that lead to IP; control protocols (LCP, IPCP, IPv6CP,
 * CHAP...) and the rest are not IP. */
dec_status_t dec_ppp_proto(uint16_t proto, const uint8_t *p, uint32_t len, dec_packet_t *pkt)
{
    switch (proto) {
    case PPP_IPV4:
        return dec_ipv4(p, len, pkt);
    case PPP_IPV6:
        return dec_ipv6(p, len, pkt);
    case PPP_MPLS_UC:
    case PPP_MPLS_MC:
        return dec_mpls(p, len, pkt);
    default:
        return DEC_NOT_IP;
    }
}

/* RFC 1661 framing: optional address/control (ff 03, absent with ACFC), then a protocol field
 * of two bytes, or one when its first byte is odd (PFC). */
dec_status_t dec_ppp(const uint8_t *p, uint32_t len, dec_packet_t *pkt)
{
    l2_cursor_t c = { p, p + len };
    uint8_t b[2];
    uint16_t proto;

    if (!dec_enter(pkt))
        return DEC_TOO_DEEP;
    /* 0xff cannot start a protocol field: it is the address byte, control must follow. */
    if (l2_rest(&c) >= 1 && c.p[0] == PPP_ADDRESS) {
        if (l2_rest(&c) < 2)
            return DEC_TRUNCATED;
        if (c.p[1] != PPP_CONTROL)
            return DEC_MALFORMED;
        c.p += 2;
    }
    if (!l2_take(&c, b, 1))
        return DEC_TRUNCATED;
    if (b[0] & 0x01u) {
        proto = b[0];
    } else {
        if (!l2_take(&c, b + 1, 1))
            return DEC_TRUNCATED;
        proto = be16(b);
    }
    return dec_ppp_proto(proto, c.p, l2_rest(&c), pkt);
}

/* PPPoE session stage (RFC 2516): a 6-byte header, then a PPP protocol field. */
static dec_status_t dec_pppoe(l2_cursor_t *c, dec_packet_t *pkt)
{
    uint8_t hdr[PPPOE_HDR_LEN + 2];
    uint32_t plen;

    if (!dec_enter(pkt))
        return DEC_TOO_DEEP;
    if (!l2_take(c, hdr, sizeof hdr))
        return DEC_TRUNCATED;
    if (hdr[0] != 0x11u || hdr[1] != 0x00u) /* version 1, type 1, session data */
        return DEC_MALFORMED;
    plen = be16(hdr + 4);
    if (plen < 2)
        return DEC_MALFORMED;
    return dec_ppp_proto(be16(hdr + PPPOE_HDR_LEN), c->p, l2_rest(c), pkt);
}

/* Cisco HDLC: address, control, then an EtherType. */
static dec_status_t dec_chdlc(const uint8_t *p, uint32_t len, dec_packet_t *pkt)
{
    l2_cursor_t c = { p, p + len };
    uint8_t hdr[CHDLC_HDR_LEN];

    if (!l2_take(&c, hdr, sizeof hdr))
        return DEC_TRUNCATED;
    return dec_ethertype(be16(hdr + 2), &c, pkt);
}

/* DLT_PPP_SERIAL also carries Cisco HDLC frames; the address byte tells them apart. */
static dec_status_t dec_ppp_serial(const uint8_t *p, uint32_t len, dec_packet_t *pkt)
{
    if (len >= 1 && (p[0] == CHDLC_UNICAST || p[0] == CHDLC_BCAST))
        return dec_chdlc(p, len, pkt);
    return dec_ppp(p, len, pkt);
}

/* Linux cooked capture v1 and v2 differ only in header size and where the protocol sits. */
static dec_status_t dec_sll(const uint8_t *p, uint32_t len, size_t hdr_len, size_t proto_off,
                            dec_packet_t *pkt)
{
    l2_cursor_t c = { p, p + len };
    uint8_t hdr[SLL2_HDR_LEN];

    _Static_assert(SLL_HDR_LEN <= SLL2_HDR_LEN, "cooked header buffer too small");
    if (!l2_take(&c, hdr, hdr_len))
        return DEC_TRUNCATED;
    return dec_ethertype(be16(hdr + proto_off), &c, pkt);
}

/* The family word is in the byte order of the capturing host, which the file does not tell. */
static dec_status_t dec_null(const uint8_t *p, uint32_t len, dec_packet_t *pkt)
{
    l2_cursor_t c = { p, p + len };
    uint8_t hdr[NULL_HDR_LEN];
    uint32_t af_be, af_le;
    uint32_t afs[2];

    if (!l2_take(&c, hdr, sizeof hdr))
        return DEC_TRUNCATED;
    af_be = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    af_le = (uint32_t)hdr[3] << 24 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[1] << 8 | hdr[0];
    afs[0] = af_be;
    afs[1] = af_le;
    for (size_t i = 0; i < 2; i++) {
        switch (afs[i]) {
        case BSD_AF_INET:
            return dec_ipv4(c.p, l2_rest(&c), pkt);
        case BSD_AF_INET6_LINUX:
        case BSD_AF_INET6_BSD:
        case BSD_AF_INET6_FREEBSD:
        case BSD_AF_INET6_DARWIN:
            return dec_ipv6(c.p, l2_rest(&c), pkt);
        default:
            break;
        }
    }
    return DEC_NOT_IP;
}

/* Raw IP links carry no type field: the IP version nibble is all there is. */
static dec_status_t dec_raw(const uint8_t *p, uint32_t len, dec_packet_t *pkt)
{
    dec_status_t st = dec_ip_any(p, len, pkt);
    /* On a link that promises IP, another version is a broken packet, not another protocol. */
    return st == DEC_NOT_IP ? DEC_MALFORMED : st;
}

dec_status_t dec_packet_opts(int link, const uint8_t *data, uint32_t caplen, unsigned opts,
                             dec_packet_t *pkt)
{
    static const uint8_t no_bytes[1];
    dec_status_t st;

    memset(pkt, 0, sizeof *pkt);
    pkt->tcp_wscale = -1;
    pkt->opts = (uint8_t)(opts & DEC_OPT_TUNNELS_OUTER);
    if (data == NULL) {
        /* Keeps cursor arithmetic away from a null pointer (UB even with offset 0). */
        data = no_bytes;
        caplen = 0;
    }

    switch (link) {
    case LINK_EN10MB:
        st = dec_ethernet(data, caplen, pkt);
        break;
    case LINK_NULL:
    case LINK_LOOP:
        st = dec_null(data, caplen, pkt);
        break;
    case LINK_RAW_12:
    case LINK_RAW_14:
    case LINK_RAW:
        st = dec_raw(data, caplen, pkt);
        break;
    case LINK_IPV4:
        st = dec_ipv4(data, caplen, pkt);
        break;
    case LINK_IPV6:
        st = dec_ipv6(data, caplen, pkt);
        break;
    case LINK_LINUX_SLL:
        st = dec_sll(data, caplen, SLL_HDR_LEN, SLL_PROTO_OFF, pkt);
        break;
    case LINK_LINUX_SLL2:
        st = dec_sll(data, caplen, SLL2_HDR_LEN, SLL2_PROTO_OFF, pkt);
        break;
    case LINK_PPP:
        st = dec_ppp(data, caplen, pkt);
        break;
    case LINK_PPP_SERIAL:
        st = dec_ppp_serial(data, caplen, pkt);
        break;
    case LINK_C_HDLC:
        st = dec_chdlc(data, caplen, pkt);
        break;
    default:
        st = DEC_UNSUPPORTED_LINK;
        break;
    }
    return st;
}

dec_status_t dec_packet(int link, const uint8_t *data, uint32_t caplen, dec_packet_t *pkt)
{
    return dec_packet_opts(link, data, caplen, 0, pkt);
}

const char *dec_status_name(dec_status_t st)
{
    /* Must stay identical to oc_skip_name(): tools compare the two. */
    static const char *const names[DEC_N_STATUS] = {
        [DEC_OK] = "ok",
        [DEC_NOT_IP] = "not-ip",
        [DEC_TRUNCATED] = "truncated",
        [DEC_MALFORMED] = "malformed",
        [DEC_UNSUPPORTED_LINK] = "unsupported-link",
        [DEC_UNSUPPORTED_ENCAP] = "unsupported-encap",
        [DEC_FRAGMENT] = "fragment",
        [DEC_TOO_DEEP] = "too-deep",
        [DEC_FRAGMENT_ORPHAN] = "fragment-orphan",
    };

    if ((unsigned)st >= DEC_N_STATUS)
        return "unknown";
    return names[st];
}
