/*
 * Link-layer decoding: the entry point dec_packet(), the libpcap link types it accepts, and
 * the EtherType dispatch shared by Ethernet and the Linux cooked headers.
 *
 * This is where a packet either reaches an IP decoder or is classified as something the flow
 * engine does not attribute (non-IP, an encapsulation not followed yet, an unknown link). The
 * classification has to be exact because the engine counts every skipped packet under its
 * cause, and "attributed + skipped = read" is checked against real captures. Headers are
 * copied into aligned locals through a bounded cursor; nothing is read past caplen.
 */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "decode/dec.h"

/* libpcap DLT_ numbers (pcap/dlt.h), spelled out so the decoder needs no libpcap header. */
enum {
    LINK_NULL = 0,
    LINK_EN10MB = 1,
    LINK_RAW_12 = 12,        /* DLT_RAW on most platforms */
    LINK_RAW_14 = 14,        /* DLT_RAW on OpenBSD */
    LINK_RAW = 101,          /* LINKTYPE_RAW as written in pcap files */
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

static bool is_unfollowed_encap(uint16_t type)
{
    switch (type) {
    case ETHERTYPE_VLAN: /* only reached for a second tag */
    case ETHERTYPE_QINQ:
    case ETHERTYPE_QINQ_OLD:
    case ETHERTYPE_MPLS_UC:
    case ETHERTYPE_MPLS_MC:
    case ETHERTYPE_PPPOE_DISC:
    case ETHERTYPE_PPPOE_SESS:
        return true;
    default:
        return false;
    }
}

/*
 * Continues after an EtherType (Ethernet or cooked header) with the cursor on the bytes that
 * follow it. One 802.1Q tag is followed; stacked tags are an encapsulation for a later issue.
 */
static dec_status_t dec_ethertype(uint16_t type, l2_cursor_t *c, dec_packet_t *pkt)
{
    if (type == ETHERTYPE_VLAN) {
        uint8_t tag[VLAN_TAG_LEN];

        if (!l2_take(c, tag, sizeof tag))
            return DEC_TRUNCATED;
        pkt->vlan_id = be16(tag) & 0x0fffu;
        type = be16(tag + 2);
        if (type == ETHERTYPE_VLAN)
            return DEC_UNSUPPORTED_ENCAP;
    }
    if (type < ETHERTYPE_MIN)
        return DEC_NOT_IP;
    if (type == ETHERTYPE_IPV4)
        return dec_ipv4(c->p, l2_rest(c), pkt);
    if (type == ETHERTYPE_IPV6)
        return dec_ipv6(c->p, l2_rest(c), pkt);
    if (is_unfollowed_encap(type))
        return DEC_UNSUPPORTED_ENCAP;
    return DEC_NOT_IP;
}

dec_status_t dec_ethernet(const uint8_t *p, uint32_t len, dec_packet_t *pkt)
{
    l2_cursor_t c = { p, p + len };
    uint8_t hdr[ETH_HDR_LEN];

    if (!l2_take(&c, hdr, sizeof hdr))
        return DEC_TRUNCATED;
    return dec_ethertype(be16(hdr + 12), &c, pkt);
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
    if (len < 1)
        return DEC_TRUNCATED;
    switch (p[0] >> 4) {
    case 4:
        return dec_ipv4(p, len, pkt);
    case 6:
        return dec_ipv6(p, len, pkt);
    default:
        return DEC_MALFORMED;
    }
}

dec_status_t dec_packet(int link, const uint8_t *data, uint32_t caplen, dec_packet_t *pkt)
{
    static const uint8_t no_bytes[1];

    memset(pkt, 0, sizeof *pkt);
    pkt->tcp_wscale = -1;
    if (data == NULL) {
        /* Keeps cursor arithmetic away from a null pointer (UB even with offset 0). */
        data = no_bytes;
        caplen = 0;
    }

    switch (link) {
    case LINK_EN10MB:
        return dec_ethernet(data, caplen, pkt);
    case LINK_NULL:
    case LINK_LOOP:
        return dec_null(data, caplen, pkt);
    case LINK_RAW_12:
    case LINK_RAW_14:
    case LINK_RAW:
        return dec_raw(data, caplen, pkt);
    case LINK_IPV4:
        return dec_ipv4(data, caplen, pkt);
    case LINK_IPV6:
        return dec_ipv6(data, caplen, pkt);
    case LINK_LINUX_SLL:
        return dec_sll(data, caplen, SLL_HDR_LEN, SLL_PROTO_OFF, pkt);
    case LINK_LINUX_SLL2:
        return dec_sll(data, caplen, SLL2_HDR_LEN, SLL2_PROTO_OFF, pkt);
    default:
        return DEC_UNSUPPORTED_LINK;
    }
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
    };

    if ((unsigned)st >= DEC_N_STATUS)
        return "unknown";
    return names[st];
}
