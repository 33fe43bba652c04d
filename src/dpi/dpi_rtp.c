/*
 * RTP and RTCP (RFC 3550) without signalling: a heuristic over several packets.
 *
 * Media flows announced in SIP/SDP are labelled by dpi_expect() before any payload is
 * looked at; this dissector finds the others. An RTP header alone is weak evidence (two
 * version bits and a payload type), and many encrypted protocols could pass it once, so a
 * flow is RTP only after three packets in one direction carry the same SSRC and payload
 * type with sequence numbers going up by small steps and timestamps not going back.
 * Payload types 72-76 with the marker set are RTCP's packet types 200-204 (RFC 5761
 * section 4), so those packets are RTCP whatever the flow is. A flow that only ever
 * carries RTCP is RTCP after two packets from the same sender SSRC.
 *
 * The heuristic sits at the end of the table, so the precise dissectors (STUN, DTLS, QUIC,
 * DNS, ...) take their flows first. It still declines a flow whose first packet has the
 * shape of one of those, and gives up after a few packets that are neither RTP nor RTCP.
 * Over TCP, media comes framed by a 2-byte length (RFC 4571); the frames are walked from
 * the start of the stream.
 */
#include "config.h"

#include <string.h>

#include "dpi/dpi.h"

#define RTP_HDR 12
#define RTP_RUN 3         /* consistent packets in one direction that make a flow RTP */
#define RTCP_RUN 2        /* RTCP packets from one sender that make a flow RTCP */
#define RTP_MAX_OTHER 2   /* packets that are neither RTP nor RTCP before giving up */
#define RTP_MAX_SEQ_STEP 32
#define RTP_MAX_TS_STEP 0x01000000u

typedef struct {
    uint32_t ssrc[2];
    uint32_t ts[2];
    uint16_t seq[2];
    uint8_t pt[2];
    uint8_t run[2];        /* consistent RTP packets in a row, per direction */
    uint32_t rtcp_ssrc;    /* sender SSRC of the first RTCP packet */
    uint8_t rtcp_dir;
    uint8_t rtcp_n;        /* RTCP packets from that sender in that direction */
    uint8_t other;         /* packets that were neither */
    uint8_t rtp_seen;
} rtp_state_t;

_Static_assert(sizeof(rtp_state_t) <= DPI_SCRATCH, "rtp state fits the scratch");

typedef enum { PKT_OTHER, PKT_RTP, PKT_RTCP, PKT_RTCP_FB } pkt_kind_t;

/* RTP payload types in use: RFC 3551's static ones and the dynamic range. 35-71 and 77-95
 * are unassigned and 72-76 would collide with RTCP. */
static bool rtp_pt_ok(uint8_t pt)
{
    return pt <= 34 || pt >= 96;
}

static pkt_kind_t rtcp_kind(const uint8_t *p, size_t len)
{
    if (len < 8)
        return PKT_OTHER;
    uint8_t pt = p[1];
    size_t plen = ((size_t)dpi_be16(p + 2) + 1) * 4;
    unsigned count = p[0] & 0x1F;
    if (plen > len)
        return PKT_OTHER;
    switch (pt) {
    case 200: /* SR: sender info then report blocks */
        return plen >= 28 + 24 * count ? PKT_RTCP : PKT_OTHER;
    case 201: /* RR */
        return plen >= 8 + 24 * count ? PKT_RTCP : PKT_OTHER;
    case 202: /* SDES: one chunk at least per source */
    case 203: /* BYE */
        return plen >= 4 + 4 * (size_t)count ? PKT_RTCP : PKT_OTHER;
    case 204: /* APP: SSRC and name */
        return plen >= 12 ? PKT_RTCP : PKT_OTHER;
    case 205: case 206: case 207: /* feedback and XR: fine inside a session, weak alone */
        return PKT_RTCP_FB;
    default:
        return PKT_OTHER;
    }
}

/* What the packet at [p, p + len) is. */
static pkt_kind_t rtp_kind(const uint8_t *p, size_t len)
{
    if (len < RTP_HDR || (p[0] & 0xC0) != 0x80)
        return PKT_OTHER;
    if (p[1] >= 200 && p[1] <= 207)
        return rtcp_kind(p, len);
    if (!rtp_pt_ok(p[1] & 0x7F))
        return PKT_OTHER;
    size_t hdr = RTP_HDR + 4 * (size_t)(p[0] & 0x0F);
    if (hdr > len)
        return PKT_OTHER;
    if (p[0] & 0x10) { /* header extension: profile, length in words */
        if (len - hdr < 4)
            return PKT_OTHER;
        hdr += 4 + 4 * (size_t)dpi_be16(p + hdr + 2);
        if (hdr > len)
            return PKT_OTHER;
    }
    if (p[0] & 0x20) { /* padding: the last byte counts it, itself included */
        uint8_t pad = p[len - 1];
        if (pad == 0 || pad > len - hdr)
            return PKT_OTHER;
    }
    return PKT_RTP;
}

/* The first packet of a flow looks like something a precise dissector owns. */
static bool other_signature(const uint8_t *p, size_t len)
{
    if (len >= 8 && (p[0] & 0xC0) == 0 && dpi_be32(p + 4) == 0x2112A442u)
        return true;                                  /* STUN */
    if (len >= 13 && p[0] >= 20 && p[0] <= 25 && p[1] == 0xFE)
        return true;                                  /* DTLS record */
    if (len >= 5 && (p[0] & 0xC0) == 0xC0 && dpi_be32(p + 1) != 0)
        return true;                                  /* QUIC long header */
    if (len >= 32 && p[0] >= 1 && p[0] <= 4 && p[1] == 0 && p[2] == 0 && p[3] == 0)
        return true;                                  /* WireGuard */
    return false;
}

/* Feeds one packet to the state. Returns the label once there is enough evidence. */
static oc_protocol_t rtp_feed(rtp_state_t *st, unsigned dir, const uint8_t *p, size_t len)
{
    switch (rtp_kind(p, len)) {
    case PKT_RTP: {
        uint32_t ssrc = dpi_be32(p + 8), ts = dpi_be32(p + 4);
        uint16_t seq = dpi_be16(p + 2);
        uint8_t pt = p[1] & 0x7F;
        st->rtp_seen = 1;
        if (st->run[dir] > 0 && ssrc == st->ssrc[dir] && pt == st->pt[dir]) {
            uint16_t dseq = (uint16_t)(seq - st->seq[dir]);
            uint32_t dts = ts - st->ts[dir];
            if (dseq == 0)
                return OC_PROTO_UNKNOWN; /* a duplicate says nothing */
            if (dseq <= RTP_MAX_SEQ_STEP && dts < RTP_MAX_TS_STEP)
                st->run[dir]++;
            else
                st->run[dir] = 1;
        } else {
            st->run[dir] = 1;
        }
        st->ssrc[dir] = ssrc;
        st->ts[dir] = ts;
        st->seq[dir] = seq;
        st->pt[dir] = pt;
        return st->run[dir] >= RTP_RUN ? OC_PROTO_RTP : OC_PROTO_UNKNOWN;
    }
    case PKT_RTCP: {
        uint32_t ssrc = dpi_be32(p + 4);
        if (st->rtcp_n > 0 && st->rtcp_dir == dir && st->rtcp_ssrc == ssrc) {
            st->rtcp_n++;
        } else if (st->rtcp_n == 0) {
            st->rtcp_n = 1;
            st->rtcp_dir = (uint8_t)dir;
            st->rtcp_ssrc = ssrc;
        }
        return st->rtcp_n >= RTCP_RUN && !st->rtp_seen ? OC_PROTO_RTCP : OC_PROTO_UNKNOWN;
    }
    case PKT_RTCP_FB:
        return OC_PROTO_UNKNOWN;
    default:
        st->other++;
        return OC_PROTO_UNKNOWN;
    }
}

static dpi_verdict_t rtp_udp(dpi_ctx_t *ctx, rtp_state_t *st)
{
    if (ctx->pkts[0] + ctx->pkts[1] == 0 && other_signature(ctx->data, ctx->len))
        return DPI_NO;
    oc_protocol_t found = rtp_feed(st, ctx->dir, ctx->data, ctx->len);
    if (found != OC_PROTO_UNKNOWN) {
        ctx->proto = (uint16_t)found;
        return DPI_MATCH;
    }
    return st->other > RTP_MAX_OTHER ? DPI_NO : DPI_MAYBE;
}

/* TCP: RFC 4571 frames from the start of this direction's stream, looked at afresh. */
static dpi_verdict_t rtp_tcp(dpi_ctx_t *ctx)
{
    rtp_state_t st;
    memset(&st, 0, sizeof st);
    const uint8_t *p = ctx->data;
    size_t len = ctx->len, off = 0;
    while (len - off >= 2) {
        size_t flen = dpi_be16(p + off);
        if (flen < 8)
            return DPI_NO;
        if (len - off - 2 >= 1 && (p[off + 2] & 0xC0) != 0x80)
            return DPI_NO;
        if (flen > len - off - 2)
            break; /* the rest of the frame is still to come */
        oc_protocol_t found = rtp_feed(&st, 0, p + off + 2, flen);
        if (st.other > 0)
            return DPI_NO;
        if (found != OC_PROTO_UNKNOWN) {
            ctx->proto = (uint16_t)found;
            return DPI_MATCH;
        }
        off += 2 + flen;
    }
    return ctx->stream_full ? DPI_NO : DPI_MAYBE;
}

dpi_verdict_t dpi_rtp(dpi_ctx_t *ctx)
{
    if (ctx->len == 0)
        return DPI_MAYBE;
    if (ctx->l4 == 6)
        return rtp_tcp(ctx);
    rtp_state_t st;
    memcpy(&st, ctx->scratch, sizeof st);
    dpi_verdict_t v = rtp_udp(ctx, &st);
    memcpy(ctx->scratch, &st, sizeof st);
    return v;
}
