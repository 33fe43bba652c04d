/*
 * BitTorrent: the peer wire handshake over TCP (BEP 3), the Mainline DHT (BEP 5), the UDP
 * tracker protocol (BEP 15) and uTP, the UDP transport of the peer wire (BEP 29).
 *
 * The handshake opens with 19 and "BitTorrent protocol" and carries the torrent's 20-byte
 * info hash, which becomes bittorrentInfoHash (hex). DHT messages are bencoded dictionaries
 * with a "y" key of "q", "r" or "e" and a "t" key: the whole datagram has to parse as one
 * such dictionary, and a get_peers or announce_peer query gives the info hash. A UDP
 * tracker connect request starts with the 64-bit protocol id 0x41727101980.
 *
 * uTP has no constant bytes beyond a version nibble, so it is a heuristic of its own
 * (dpi_bittorrent_utp, placed with the heuristics at the end of the table): a SYN and a
 * STATE from the other side with the same connection id that acknowledges the SYN's
 * sequence number, or, for connections already open, packets in both directions whose
 * connection ids stay fixed and differ by one, as BEP 29 has the two ends number them.
 * The handshake inside a uTP data packet gives the info hash there.
 */
#include "config.h"

#include <string.h>

#include "dpi/dpi.h"

#define BT_PROTO_LEN 19
#define BT_HANDSHAKE_HASH_OFF 28 /* 1 + 19 + 8 reserved bytes */
#define BT_HASH_LEN 20
#define BENC_MAX_DEPTH 8

static const char bt_proto[] = "\x13" "BitTorrent protocol";

static void bt_set_hash(dpi_ctx_t *ctx, const uint8_t *hash)
{
    static const char hex[] = "0123456789abcdef";
    char text[2 * BT_HASH_LEN];
    for (unsigned i = 0; i < BT_HASH_LEN; i++) {
        text[2 * i] = hex[hash[i] >> 4];
        text[2 * i + 1] = hex[hash[i] & 15];
    }
    dpi_field_set(ctx, OC_FIELD_BITTORRENT_INFO_HASH, text, sizeof text);
}

/* How much of [p, p + len) agrees with the start of a handshake: -1 if some byte
 * differs, 0 if it agrees but is too short to tell, 1 if the protocol string is there. */
static int bt_handshake(const uint8_t *p, size_t len)
{
    size_t n = len < 1 + BT_PROTO_LEN ? len : 1 + BT_PROTO_LEN;
    if (memcmp(p, bt_proto, n) != 0)
        return -1;
    return n == 1 + BT_PROTO_LEN ? 1 : 0;
}

/* ---- TCP peer wire ---------------------------------------------------------------------- */

static dpi_verdict_t bt_tcp(dpi_ctx_t *ctx)
{
    const uint8_t *hs = ctx->data;
    size_t len = ctx->len;
    int mine = bt_handshake(hs, len);
    if (mine < 0 && ctx->peer_len > 0 && bt_handshake(ctx->peer, ctx->peer_len) == 1) {
        /* Labelled on the other side's handshake, still waiting for its hash. */
        hs = ctx->peer;
        len = ctx->peer_len;
        mine = 1;
    }
    if (mine < 0)
        return DPI_NO;
    if (mine == 0)
        return ctx->stream_full ? DPI_NO : DPI_MAYBE;
    ctx->proto = OC_PROTO_BITTORRENT;
    if (len >= BT_HANDSHAKE_HASH_OFF + BT_HASH_LEN) {
        bt_set_hash(ctx, hs + BT_HANDSHAKE_HASH_OFF);
        return DPI_MATCH;
    }
    /* The hash follows in the next segment. */
    return ctx->fields != NULL && !ctx->stream_full ? DPI_MATCH_MORE : DPI_MATCH;
}

/* ---- bencoding ----------------------------------------------------------------------------- */

/* A byte string "<len>:<bytes>" at *off; on success *s and *slen point at the bytes. */
static bool benc_str(const uint8_t *p, size_t len, size_t *off, const uint8_t **s, size_t *slen)
{
    size_t i = *off, n = 0;
    if (i >= len || p[i] < '0' || p[i] > '9')
        return false;
    for (int digits = 0; i < len && p[i] >= '0' && p[i] <= '9'; i++) {
        if (++digits > 6)
            return false; /* a datagram holds no string that long */
        n = n * 10 + (size_t)(p[i] - '0');
    }
    if (i >= len || p[i] != ':' || n > len - i - 1)
        return false;
    *s = p + i + 1;
    *slen = n;
    *off = i + 1 + n;
    return true;
}

/* Skips one value at *off. */
static bool benc_skip(const uint8_t *p, size_t len, size_t *off, int depth)
{
    if (*off >= len || depth > BENC_MAX_DEPTH)
        return false;
    uint8_t c = p[*off];
    const uint8_t *s;
    size_t slen;
    switch (c) {
    case 'i': {
        size_t i = *off + 1;
        if (i < len && p[i] == '-')
            i++;
        size_t start = i;
        while (i < len && p[i] >= '0' && p[i] <= '9')
            i++;
        if (i == start || i >= len || p[i] != 'e')
            return false;
        *off = i + 1;
        return true;
    }
    case 'l':
    case 'd':
        (*off)++;
        while (*off < len && p[*off] != 'e') {
            if (c == 'd' && !benc_str(p, len, off, &s, &slen))
                return false;
            if (!benc_skip(p, len, off, depth + 1))
                return false;
        }
        if (*off >= len)
            return false;
        (*off)++;
        return true;
    default:
        return benc_str(p, len, off, &s, &slen);
    }
}

/* In the dictionary at @dict (offset of its 'd', already known to parse), finds @key;
 * on success *val is the offset of its value. */
static bool benc_find(const uint8_t *p, size_t len, size_t dict, const char *key, size_t *val)
{
    size_t off = dict + 1, klen = strlen(key);
    const uint8_t *s;
    size_t slen;
    while (off < len && p[off] != 'e') {
        if (!benc_str(p, len, &off, &s, &slen))
            return false;
        if (slen == klen && memcmp(s, key, klen) == 0) {
            *val = off;
            return true;
        }
        if (!benc_skip(p, len, &off, 1))
            return false;
    }
    return false;
}

/* A DHT message: the datagram is exactly one dictionary with "t" and "y" in it. */
static bool bt_dht(dpi_ctx_t *ctx)
{
    const uint8_t *p = ctx->data;
    size_t len = ctx->len, off = 0, v;
    const uint8_t *s;
    size_t slen;
    if (len < 12 || p[0] != 'd' || !benc_skip(p, len, &off, 0) || off != len)
        return false;
    if (!benc_find(p, len, 0, "t", &v) || !benc_str(p, len, &v, &s, &slen))
        return false;
    if (!benc_find(p, len, 0, "y", &v) || !benc_str(p, len, &v, &s, &slen) || slen != 1 ||
        (s[0] != 'q' && s[0] != 'r' && s[0] != 'e'))
        return false;
    size_t args;
    if (s[0] == 'q' && benc_find(p, len, 0, "a", &args) && p[args] == 'd' &&
        benc_find(p, len, args, "info_hash", &v) && benc_str(p, len, &v, &s, &slen) &&
        slen == BT_HASH_LEN)
        bt_set_hash(ctx, s);
    return true;
}

/* BEP 15 connect request: protocol id, action 0, transaction id. */
static bool bt_udp_tracker(const dpi_ctx_t *ctx)
{
    static const uint8_t connect[12] = {0x00, 0x00, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80,
                                        0, 0, 0, 0};
    return ctx->len == 16 && memcmp(ctx->data, connect, sizeof connect) == 0;
}

dpi_verdict_t dpi_bittorrent(dpi_ctx_t *ctx)
{
    if (ctx->len == 0)
        return DPI_MAYBE;
    if (ctx->l4 == 6)
        return bt_tcp(ctx);
    if (bt_dht(ctx) || bt_udp_tracker(ctx)) {
        ctx->proto = OC_PROTO_BITTORRENT;
        return DPI_MATCH;
    }
    return DPI_NO;
}

/* ---- uTP ------------------------------------------------------------------------------------- */

#define UTP_HDR 20
#define UTP_DATA 0
#define UTP_STATE 2
#define UTP_SYN 4
#define UTP_MAX_EXT 4      /* extension chain links followed */
#define UTP_HASH_WAIT 8    /* packets to wait for a handshake after a match */

typedef struct {
    uint16_t syn_id, syn_seq;
    uint16_t id[2];        /* connection id last seen per direction */
    uint8_t syn_dir;       /* 1 + direction of the SYN, 0 if none */
    uint8_t n[2];          /* packets in a row with id[dir] */
    uint8_t matched;       /* packets seen since the match, plus one */
} utp_state_t;

_Static_assert(sizeof(utp_state_t) <= DPI_SCRATCH, "utp state fits the scratch");

/* A uTP header at [p, p + len); *payload gets the offset of the data after the
 * extensions. */
static bool utp_header(const uint8_t *p, size_t len, size_t *payload)
{
    if (len < UTP_HDR || (p[0] & 0x0F) != 1 || (p[0] >> 4) > UTP_SYN)
        return false;
    size_t off = UTP_HDR;
    uint8_t ext = p[1];
    for (int i = 0; ext != 0; i++) {
        if (i >= UTP_MAX_EXT || ext > 4 || len - off < 2)
            return false;
        size_t elen = p[off + 1];
        if (ext == 1 && (elen < 4 || elen % 4 != 0))
            return false; /* selective acks: a bitmask in whole 32-bit words */
        ext = p[off];
        off += 2;
        if (elen > len - off)
            return false;
        off += elen;
    }
    uint8_t type = p[0] >> 4;
    /* Only data packets carry payload. */
    if ((type == UTP_DATA) != (off < len))
        return false;
    *payload = off;
    return true;
}

dpi_verdict_t dpi_bittorrent_utp(dpi_ctx_t *ctx)
{
    if (ctx->l4 != 17)
        return DPI_NO;
    utp_state_t st;
    memcpy(&st, ctx->scratch, sizeof st);
    const uint8_t *p = ctx->data;
    size_t off;
    dpi_verdict_t v = DPI_MAYBE;
    unsigned dir = ctx->dir;
    if (!utp_header(p, ctx->len, &off)) {
        /* DHT messages share the port with uTP; the table entry for them may have given
         * up on this flow at its first uTP packet. */
        if (!st.matched && bt_dht(ctx)) {
            ctx->proto = OC_PROTO_BITTORRENT;
            v = DPI_MATCH;
        } else {
            v = st.matched ? DPI_MATCH : DPI_NO;
        }
        goto out;
    }
    if (st.matched) {
        /* Labelled already: only looking for the info hash. */
        if ((p[0] >> 4) == UTP_DATA && bt_handshake(p + off, ctx->len - off) == 1 &&
            ctx->len - off >= BT_HANDSHAKE_HASH_OFF + BT_HASH_LEN) {
            bt_set_hash(ctx, p + off + BT_HANDSHAKE_HASH_OFF);
            v = DPI_MATCH;
        } else {
            v = ++st.matched > UTP_HASH_WAIT ? DPI_MATCH : DPI_MATCH_MORE;
        }
        goto out;
    }
    uint8_t type = p[0] >> 4;
    uint16_t id = dpi_be16(p + 2), seq = dpi_be16(p + 16), ack = dpi_be16(p + 18);
    bool found = false;
    if (type == UTP_SYN) {
        st.syn_dir = (uint8_t)(1 + dir);
        st.syn_id = id;
        st.syn_seq = seq;
    } else if (type == UTP_STATE && st.syn_dir == 2 - dir && id == st.syn_id &&
               ack == st.syn_seq) {
        found = true;
    }
    if (st.n[dir] > 0 && st.id[dir] == id) {
        if (st.n[dir] < 255)
            st.n[dir]++;
    } else {
        st.n[dir] = 1;
        st.id[dir] = id;
    }
    if (st.n[0] >= 2 && st.n[1] >= 2 &&
        ((uint16_t)(st.id[0] - st.id[1]) == 1 || (uint16_t)(st.id[1] - st.id[0]) == 1))
        found = true;
    if (found) {
        ctx->proto = OC_PROTO_BITTORRENT;
        st.matched = 1;
        if (type == UTP_DATA && bt_handshake(p + off, ctx->len - off) == 1 &&
            ctx->len - off >= BT_HANDSHAKE_HASH_OFF + BT_HASH_LEN)
            bt_set_hash(ctx, p + off + BT_HANDSHAKE_HASH_OFF);
        v = ctx->fields != NULL && !dpi_field_has(ctx, OC_FIELD_BITTORRENT_INFO_HASH)
                ? DPI_MATCH_MORE
                : DPI_MATCH;
    }
out:
    memcpy(ctx->scratch, &st, sizeof st);
    return v;
}
