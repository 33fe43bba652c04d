/*
 * QUIC: IETF QUIC v1 (RFC 9000), v2 (RFC 9369), drafts 22-32 and Facebook's mvfst versions,
 * and Google QUIC (Q024-Q043 with the old public header, Q046, Q050/T050/T051).
 *
 * A flow is QUIC when its first datagram is a client's first packet: a long header with a
 * known version and an Initial packet type (or gQUIC's public header with a version), in
 * a datagram of at least 1200 bytes, as clients must pad them (RFC 9000 section 14.1).
 * That is all that is needed to label the flow, with or without crypto; a version of the
 * form 0x?a?a?a?a, which asks the server for version negotiation, is QUIC by its invariant
 * header alone (ndpi-quic_interop_V).
 *
 * The server name is inside the ClientHello, which IETF QUIC protects with keys every
 * observer can derive from the client's Destination Connection ID and a per-version salt
 * (RFC 9001 section 5): the dissector removes header protection, decrypts the Initial with
 * AES-128-GCM, and collects the CRYPTO frames. A ClientHello may be split over several
 * Initial packets and its frames sent out of order, so they are reassembled in the flow's
 * UDP buffer (ctx->buf) with a bitmap of the bytes present, and the TLS parser (dpi_tls.c)
 * reads the hello once it is whole. Old gQUIC sends its CHLO in clear; its SNI and UAID tags
 * give the server name and user agent. Only the first packet of a coalesced datagram is
 * read. Nothing is allocated: the decryption uses a bounded stack buffer.
 */
#include "config.h"

#include <string.h>

#include "dpi/dpi.h"
#include "dpi/dpi_crypto.h"
#include "dpi/dpi_tls.h"

/* RFC 9000 section 14.1: a client's Initial datagrams carry at least this much. */
#define QUIC_MIN_INITIAL 1200
#define QUIC_MAX_CID 20
/* Client packets looked at after the first for the rest of a split ClientHello. */
#define QUIC_MAX_MORE_PACKETS 6
/* Largest datagram decrypted (header and payload, on the stack). */
#define QUIC_MAX_DATAGRAM 2048
/* The UDP buffer holds the CRYPTO stream's first QUIC_CRYPTO_CAP bytes, then a bitmap of
 * which of them arrived. */
#define QUIC_CRYPTO_CAP 3584
#define QUIC_MAP_OFF QUIC_CRYPTO_CAP
_Static_assert(QUIC_CRYPTO_CAP + QUIC_CRYPTO_CAP / 8 <= DPI_STREAM_CAP,
               "CRYPTO data and its bitmap must fit the UDP buffer");

/* ---- versions ------------------------------------------------------------------------- */

typedef enum {
    QF_IETF,        /* IETF long header, TLS in CRYPTO frames (type 0x06) */
    QF_GQUIC_IETF,  /* Q050/T05x: IETF long header, CRYPTO frames of type 0x08 */
    QF_Q046,        /* Q046: long header, CHLO in clear */
    QF_GQUIC_OLD,   /* Q024-Q043: public header, CHLO in clear */
    QF_VN,          /* 0x?a?a?a?a: a version that asks for version negotiation */
} quic_family_t;

typedef struct {
    quic_family_t family;
    const uint8_t *salt;   /* Initial salt; NULL when Initials are not protected this way */
    const char *prefix;    /* HKDF label prefix: "quic " or "quicv2 " */
    uint8_t initial_type;  /* long-header type bits of an Initial packet */
    bool tls;              /* CRYPTO carries TLS (false: a gQUIC CHLO) */
} quic_version_t;

/* Initial salts: RFC 9001 5.2, RFC 9369 3.3.1, the drafts, and Google's versions. */
static const uint8_t salt_v1[20] = {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
                                    0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};
static const uint8_t salt_v2[20] = {0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
                                    0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9};
static const uint8_t salt_d29[20] = {0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97,
                                     0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99};
static const uint8_t salt_d23[20] = {0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7,
                                     0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65, 0xbe, 0xf9, 0xf5, 0x02};
static const uint8_t salt_d22[20] = {0x7f, 0xbc, 0xdb, 0x0e, 0x7c, 0x66, 0xbb, 0xe9, 0x19, 0x3a,
                                     0x96, 0xcd, 0x21, 0x51, 0x9e, 0xbd, 0x7a, 0x02, 0x64, 0x4a};
static const uint8_t salt_q50[20] = {0x50, 0x45, 0x74, 0xef, 0xd0, 0x66, 0xfe, 0x2f, 0x9d, 0x94,
                                     0x5c, 0xfc, 0xdb, 0xd3, 0xa7, 0xf0, 0xd3, 0xb5, 0x6b, 0x45};
static const uint8_t salt_t50[20] = {0x7f, 0xf5, 0x79, 0xe5, 0xac, 0xd0, 0x72, 0x91, 0x55, 0x80,
                                     0x30, 0x4c, 0x43, 0xa2, 0x36, 0x7c, 0x60, 0x48, 0x83, 0x10};
static const uint8_t salt_t51[20] = {0x7a, 0x4e, 0xde, 0xf4, 0xe7, 0xcc, 0xee, 0x5f, 0xa4, 0x50,
                                     0x6c, 0x19, 0x12, 0x4f, 0xc8, 0xcc, 0xda, 0x6e, 0x03, 0x3d};

#define V_1 0x00000001u
#define V_2 0x6b3343cfu

/* gQUIC "Qnnn": 'Q' and three digits; returns nnn or -1. */
static int gquic_number(uint32_t v, char letter)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    if (b[0] != (uint8_t)letter)
        return -1;
    for (int i = 1; i < 4; i++)
        if (b[i] < '0' || b[i] > '9')
            return -1;
    return (b[1] - '0') * 100 + (b[2] - '0') * 10 + (b[3] - '0');
}

static bool quic_version_find(uint32_t v, quic_version_t *out)
{
    static const quic_version_t v1 = {QF_IETF, salt_v1, "quic ", 0, true};
    static const quic_version_t v2 = {QF_IETF, salt_v2, "quicv2 ", 1, true};
    static const quic_version_t d29 = {QF_IETF, salt_d29, "quic ", 0, true};
    static const quic_version_t d23 = {QF_IETF, salt_d23, "quic ", 0, true};
    static const quic_version_t d22 = {QF_IETF, salt_d22, "quic ", 0, true};
    static const quic_version_t q50 = {QF_GQUIC_IETF, salt_q50, "quic ", 0, false};
    static const quic_version_t t50 = {QF_GQUIC_IETF, salt_t50, "quic ", 0, true};
    static const quic_version_t t51 = {QF_GQUIC_IETF, salt_t51, "quic ", 0, true};
    static const quic_version_t q46 = {QF_Q046, NULL, NULL, 0, false};
    static const quic_version_t old = {QF_GQUIC_OLD, NULL, NULL, 0, false};
    static const quic_version_t vn = {QF_VN, NULL, NULL, 0, false};
    int q = gquic_number(v, 'Q');
    if (v == V_1)
        *out = v1;
    else if (v == V_2)
        *out = v2;
    else if (v >= 0xff00001du && v <= 0xff000020u) /* drafts 29-32 */
        *out = d29;
    else if ((v >= 0xff000017u && v <= 0xff00001cu) || v == 0xfaceb002u || v == 0xfaceb00eu)
        *out = d23; /* drafts 23-28; mvfst's draft-27 versions */
    else if (v == 0xff000016u || v == 0xfaceb001u)
        *out = d22;
    else if (q == 50)
        *out = q50;
    else if (gquic_number(v, 'T') == 50)
        *out = t50;
    else if (gquic_number(v, 'T') == 51)
        *out = t51;
    else if (q == 46)
        *out = q46;
    else if (q >= 24 && q <= 43)
        *out = old;
    else if ((v & 0x0f0f0f0fu) == 0x0a0a0a0au)
        *out = vn;
    else
        return false;
    return true;
}

/* ---- packet headers ------------------------------------------------------------------- */

/* A QUIC variable-length integer (RFC 9000 section 16). */
static bool varint(const uint8_t *p, size_t len, size_t *off, uint64_t *v)
{
    if (*off >= len)
        return false;
    size_t n = (size_t)1 << (p[*off] >> 6);
    if (len - *off < n)
        return false;
    uint64_t x = p[*off] & 0x3f;
    for (size_t i = 1; i < n; i++)
        x = x << 8 | p[*off + i];
    *off += n;
    *v = x;
    return true;
}

typedef struct {
    uint32_t version;
    quic_version_t qv;
    const uint8_t *dcid;
    uint8_t dcid_len;
    size_t pn_off;      /* IETF layout: where the packet number starts */
    size_t end;         /* IETF layout: end of this packet in the datagram */
} quic_hdr_t;

/* Parses a client's Initial (or gQUIC first packet) at the start of a datagram. */
static bool quic_header(const uint8_t *p, size_t len, quic_hdr_t *h)
{
    memset(h, 0, sizeof *h);
    if (len < 14)
        return false;
    if (!(p[0] & 0x80)) {
        /* gQUIC public header: version flag (0x01) and 8-byte connection ID (0x08) set,
         * multipath (0x40) and reserved (0x80) bits clear. */
        if ((p[0] & 0xc9) != 0x09)
            return false;
        h->version = dpi_be32(p + 9);
        if (!quic_version_find(h->version, &h->qv) || h->qv.family != QF_GQUIC_OLD)
            return false;
        h->dcid = p + 1;
        h->dcid_len = 8;
        return true;
    }
    h->version = dpi_be32(p + 1);
    if (!quic_version_find(h->version, &h->qv) || h->qv.family == QF_GQUIC_OLD)
        return false;
    if (h->qv.family == QF_Q046) {
        /* Q046: 4-byte packet number, 8-byte destination and no source connection ID. */
        if ((p[0] & 0xf3) != 0xc3 || p[5] != 0x50)
            return false;
        h->dcid = p + 6;
        h->dcid_len = 8;
        return true;
    }
    /* The fixed bit is set in every first Initial (RFC 9287 lets only later ones clear it). */
    if (!(p[0] & 0x40))
        return false;
    size_t off = 5;
    h->dcid_len = p[off++];
    if (h->dcid_len > QUIC_MAX_CID || len - off < (size_t)h->dcid_len + 1u)
        return false;
    h->dcid = p + off;
    off += h->dcid_len;
    uint8_t scid_len = p[off++];
    if (scid_len > QUIC_MAX_CID || len - off < scid_len)
        return false;
    off += scid_len;
    if (h->qv.family == QF_VN)
        return true; /* nothing is known of the rest of an unknown version */
    if (((p[0] >> 4) & 3) != h->qv.initial_type || h->dcid_len == 0)
        return false;
    uint64_t token_len, length;
    if (!varint(p, len, &off, &token_len) || token_len > len - off)
        return false;
    off += (size_t)token_len;
    if (!varint(p, len, &off, &length) || length > len - off || length < 4 + 16)
        return false;
    h->pn_off = off;
    h->end = off + (size_t)length;
    return true;
}

/* ---- Initial packet protection (RFC 9001 section 5) ---------------------------------- */

/* HKDF-Expand-Label(secret, label, "", out_len) of TLS 1.3 (RFC 8446 section 7.1). */
static bool expand_label(const uint8_t secret[32], const char *prefix, const char *label,
                         uint8_t *out, size_t out_len)
{
    uint8_t info[2 + 1 + 255 + 1];
    size_t pl = strlen(prefix), ll = strlen(label), n = 0;
    if (6 + pl + ll > 255)
        return false;
    info[n++] = (uint8_t)(out_len >> 8);
    info[n++] = (uint8_t)out_len;
    info[n++] = (uint8_t)(6 + pl + ll);
    memcpy(info + n, "tls13 ", 6);
    n += 6;
    memcpy(info + n, prefix, pl);
    n += pl;
    memcpy(info + n, label, ll);
    n += ll;
    info[n++] = 0; /* empty context */
    return dpi_hkdf_sha256_expand(secret, info, n, out, out_len);
}

/* Removes header protection from the Initial at [p, p + h->end) and decrypts it: the
 * plaintext payload is left at out + *payload_off, *payload_len bytes. @dcid is the
 * connection ID the keys come from (the client's first one). */
static bool quic_open(const quic_hdr_t *h, const uint8_t *dcid, size_t dcid_len,
                      const uint8_t *p, uint8_t *out, size_t cap, size_t *payload_off,
                      size_t *payload_len)
{
    uint8_t prk[32], secret[32], key[16], iv[12], hp[16], mask[16];
    if (h->qv.salt == NULL || h->end > cap || h->end < h->pn_off + 4 + 16)
        return false;
    if (!dpi_hkdf_sha256_extract(h->qv.salt, 20, dcid, dcid_len, prk) ||
        !expand_label(prk, "", "client in", secret, sizeof secret) ||
        !expand_label(secret, h->qv.prefix, "key", key, sizeof key) ||
        !expand_label(secret, h->qv.prefix, "iv", iv, sizeof iv) ||
        !expand_label(secret, h->qv.prefix, "hp", hp, sizeof hp))
        return false;
    /* The sample starts 4 bytes after the packet number's start, whatever its length. */
    if (!dpi_aes128_encrypt_block(hp, p + h->pn_off + 4, mask))
        return false;
    uint8_t first = (uint8_t)(p[0] ^ (mask[0] & 0x0f));
    size_t pn_len = (size_t)(first & 3) + 1;
    size_t hdr_len = h->pn_off + pn_len;
    if (h->end < hdr_len + 16)
        return false;
    /* The header with its protection removed is the AEAD's associated data. */
    memcpy(out, p, hdr_len);
    out[0] = first;
    uint64_t pn = 0;
    for (size_t i = 0; i < pn_len; i++) {
        out[h->pn_off + i] = (uint8_t)(p[h->pn_off + i] ^ mask[1 + i]);
        pn = pn << 8 | out[h->pn_off + i];
    }
    for (size_t i = 0; i < 8; i++)
        iv[11 - i] ^= (uint8_t)(pn >> (8 * i));
    size_t ct_len = h->end - hdr_len - 16;
    if (!dpi_aes128_gcm_open(key, iv, out, hdr_len, p + hdr_len, ct_len, p + hdr_len + ct_len,
                             out + hdr_len))
        return false;
    *payload_off = hdr_len;
    *payload_len = ct_len;
    return true;
}

/* ---- CRYPTO stream reassembly ----------------------------------------------------------- */

static void crypto_add(uint8_t *buf, uint64_t off, const uint8_t *data, size_t len)
{
    if (off >= QUIC_CRYPTO_CAP)
        return;
    if (len > QUIC_CRYPTO_CAP - off)
        len = QUIC_CRYPTO_CAP - (size_t)off;
    memcpy(buf + off, data, len);
    uint8_t *map = buf + QUIC_MAP_OFF;
    for (size_t i = (size_t)off; i < off + len; i++)
        map[i >> 3] |= (uint8_t)(1u << (i & 7));
}

/* Whether bytes [0, n) of the stream are all there. */
static bool crypto_have(const uint8_t *buf, size_t n)
{
    const uint8_t *map = buf + QUIC_MAP_OFF;
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        if (map[i >> 3] != 0xff)
            return false;
    for (; i < n; i++)
        if (!(map[i >> 3] & (1u << (i & 7))))
            return false;
    return true;
}

/* Walks the frames of a decrypted Initial, adding CRYPTO data to the buffer. Frames other
 * than PADDING, PING, ACK and CRYPTO cannot be in a client's Initial: stop at them. */
static void quic_frames(const uint8_t *p, size_t len, uint8_t crypto_type, uint8_t *buf,
                        uint32_t *buf_len)
{
    size_t off = 0;
    while (off < len) {
        uint64_t type, a, b, n;
        if (!varint(p, len, &off, &type))
            return;
        if (type == 0x00 || type == 0x01)
            continue; /* PADDING, PING */
        if (type == 0x02 || type == 0x03) {
            /* ACK: largest, delay, range count, first range, ranges, ECN counts. */
            if (!varint(p, len, &off, &a) || !varint(p, len, &off, &a) ||
                !varint(p, len, &off, &n) || !varint(p, len, &off, &a) || n > len)
                return;
            for (uint64_t i = 0; i < n; i++)
                if (!varint(p, len, &off, &a) || !varint(p, len, &off, &b))
                    return;
            if (type == 0x03 && (!varint(p, len, &off, &a) || !varint(p, len, &off, &a) ||
                                 !varint(p, len, &off, &a)))
                return;
            continue;
        }
        if (type != crypto_type || !varint(p, len, &off, &a) || !varint(p, len, &off, &n) ||
            n > len - off)
            return;
        crypto_add(buf, a, p + off, (size_t)n);
        if (a + n > *buf_len)
            *buf_len = a + n > QUIC_CRYPTO_CAP ? QUIC_CRYPTO_CAP : (uint32_t)(a + n);
        off += (size_t)n;
    }
}

/* ---- gQUIC CHLO ------------------------------------------------------------------------ */

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Stores a tag's text with control bytes replaced, as the TLS parser does. */
static void field_set_text(dpi_ctx_t *ctx, oc_field_t field, const uint8_t *p, size_t n)
{
    char text[OC_FIELD_MAX_LEN];
    if (n > sizeof text)
        n = sizeof text;
    for (size_t i = 0; i < n; i++)
        text[i] = p[i] < 0x20 || p[i] == 0x7f ? '?' : (char)p[i];
    dpi_field_set(ctx, field, text, n);
}

/* A CHLO handshake message: "CHLO", tag count (LE16), 2 bytes padding, then per tag its
 * name and the LE32 end offset of its value, then the values. Values past the data end
 * (a CHLO cut short) are not read. Returns whether it was a CHLO. */
static bool gquic_chlo(dpi_ctx_t *ctx, const uint8_t *p, size_t len)
{
    if (len < 8 || memcmp(p, "CHLO", 4) != 0)
        return false;
    size_t tags = (size_t)p[4] | (size_t)p[5] << 8;
    if (tags > (len - 8) / 8)
        return true;
    size_t values = 8 + 8 * tags;
    uint32_t prev = 0;
    for (size_t i = 0; i < tags; i++) {
        const uint8_t *t = p + 8 + 8 * i;
        uint32_t end = le32(t + 4);
        if (end < prev || end > len - values)
            break;
        const uint8_t *v = p + values + prev;
        size_t vl = end - prev;
        if (vl > 0 && memcmp(t, "SNI\0", 4) == 0)
            field_set_text(ctx, OC_FIELD_TLS_SNI, v, vl);
        else if (vl > 0 && memcmp(t, "UAID", 4) == 0)
            field_set_text(ctx, OC_FIELD_HTTP_USER_AGENT, v, vl);
        prev = end;
    }
    return true;
}

/* The first STREAM frame of a gQUIC packet in clear, for stream 1 (the crypto stream).
 * Frame type 1fdooossB: FIN, data length present, offset length, stream id length. */
static bool gquic_stream(dpi_ctx_t *ctx, const uint8_t *p, size_t len, bool big_endian)
{
    size_t off = 0;
    while (off < len && p[off] == 0)
        off++; /* PADDING before the frame */
    if (off >= len || !(p[off] & 0x80) || !(p[off] & 0x20))
        return false;
    uint8_t t = p[off++];
    size_t ol = (t >> 2) & 7, sl = (size_t)(t & 3) + 1;
    if (ol > 0)
        ol++;
    if (len - off < sl + ol + 2)
        return false;
    uint32_t stream = 0;
    for (size_t i = 0; i < sl; i++)
        stream = big_endian ? stream << 8 | p[off + i] : stream | (uint32_t)p[off + i] << (8 * i);
    off += sl + ol;
    size_t n = big_endian ? dpi_be16(p + off) : (size_t)(p[off] | p[off + 1] << 8);
    off += 2;
    if (stream != 1)
        return false;
    return gquic_chlo(ctx, p + off, n < len - off ? n : len - off);
}

/* Old public header (Q024-Q043) and Q046: the payload after the packet number is a 12-byte
 * message hash, then frames in clear. */
static void gquic_clear(dpi_ctx_t *ctx, const uint8_t *p, size_t len, const quic_hdr_t *h)
{
    size_t off;
    int q = gquic_number(h->version, 'Q');
    if (h->qv.family == QF_Q046) {
        off = 1 + 4 + 1 + 8 + 4;
    } else {
        static const size_t pn_len[4] = {1, 2, 4, 6};
        off = 1 + 8 + 4 + pn_len[(p[0] >> 4) & 3];
        if (q < 34)
            off++; /* private flags, dropped in Q034 */
    }
    off += 12;
    if (off >= len)
        return;
    /* Numbers in frames turned big-endian in Q039. */
    if (!gquic_stream(ctx, p + off, len - off, q >= 39)) {
        /* An unexpected frame first (an ACK): look for the CHLO itself. */
        for (size_t i = off; i + 4 <= len && i < off + 64; i++)
            if (memcmp(p + i, "CHLO", 4) == 0 && gquic_chlo(ctx, p + i, len - i))
                return;
    }
}

/* ---- the dissector ---------------------------------------------------------------------- */

/* Scratch: byte 0 flags, 1 client packets looked at, 2 DCID length, 3..22 the DCID the
 * Initial keys come from, 23..26 the version of the first packet. */
enum {
    QS_MATCHED = 1u << 0,
    QS_CLIENT_IS_1 = 1u << 1,
    QS_MAP_CLEAR = 1u << 2, /* the bitmap in ctx->buf was cleared */
    QS_DONE = 1u << 3,
};
#define QS_VERSION_OFF (3 + QUIC_MAX_CID)
_Static_assert(QS_VERSION_OFF + 4 <= DPI_SCRATCH, "scratch too small for the QUIC state");

/* Reads one client packet; returns whether nothing more is to be learnt. */
static bool quic_client_packet(dpi_ctx_t *ctx, const quic_hdr_t *h)
{
    uint8_t *s = ctx->scratch;
    const uint8_t *p = ctx->data;
    if (h->qv.family == QF_GQUIC_OLD || h->qv.family == QF_Q046) {
        gquic_clear(ctx, p, ctx->len, h);
        return true;
    }
    if (h->qv.family == QF_VN || !dpi_crypto_available || ctx->buf == NULL ||
        ctx->buf_len == NULL)
        return true;

    uint8_t plain[QUIC_MAX_DATAGRAM];
    size_t poff, plen;
    if (!quic_open(h, s + 3, s[2], p, plain, sizeof plain, &poff, &plen))
        return false;
    if (!(s[0] & QS_MAP_CLEAR)) {
        memset(ctx->buf + QUIC_MAP_OFF, 0, QUIC_CRYPTO_CAP / 8);
        *ctx->buf_len = 0;
        s[0] |= QS_MAP_CLEAR;
    }
    quic_frames(plain + poff, plen, h->qv.family == QF_GQUIC_IETF ? 0x08 : 0x06, ctx->buf,
                ctx->buf_len);

    const uint8_t *b = ctx->buf;
    if (h->qv.tls) {
        if (!crypto_have(b, 4))
            return false;
        if (b[0] != 1)
            return true; /* not a ClientHello */
        size_t full = dpi_be24(b + 1);
        bool whole = full <= QUIC_CRYPTO_CAP - 4;
        size_t have = whole ? full : QUIC_CRYPTO_CAP - 4;
        if (!crypto_have(b, 4 + have))
            return false;
        if (dpi_tls_client_hello(ctx, b + 4, have, whole, DPI_TLS_OVER_QUIC))
            dpi_field_set_str(ctx, OC_FIELD_TLS_VERSION, "TLSv1.3"); /* QUIC needs TLS 1.3 */
        return true;
    }
    /* Q050: a CHLO; its tag table gives its length. */
    if (!crypto_have(b, 8))
        return false;
    size_t tags = (size_t)b[4] | (size_t)b[5] << 8;
    size_t table = 8 + 8 * tags;
    if (table > QUIC_CRYPTO_CAP || memcmp(b, "CHLO", 4) != 0)
        return true;
    if (!crypto_have(b, table))
        return false;
    size_t total = table + (tags > 0 ? le32(b + table - 4) : 0);
    if (total > QUIC_CRYPTO_CAP)
        total = QUIC_CRYPTO_CAP;
    if (!crypto_have(b, total))
        return false;
    gquic_chlo(ctx, b, total);
    return true;
}

dpi_verdict_t dpi_quic(dpi_ctx_t *ctx)
{
    uint8_t *s = ctx->scratch;
    quic_hdr_t h;
    if (!(s[0] & QS_MATCHED)) {
        /* Only a client's first packet, padded as the RFC requires, starts a QUIC flow. */
        if (ctx->len < QUIC_MIN_INITIAL || !quic_header(ctx->data, ctx->len, &h))
            return DPI_NO;
        s[0] = (uint8_t)(QS_MATCHED | (ctx->dir == 1 ? QS_CLIENT_IS_1 : 0));
        s[2] = h.dcid_len;
        memcpy(s + 3, h.dcid, h.dcid_len);
        for (int i = 0; i < 4; i++)
            s[QS_VERSION_OFF + i] = (uint8_t)(h.version >> (24 - 8 * i));
        ctx->proto = OC_PROTO_QUIC;
        dpi_field_set_uint(ctx, OC_FIELD_QUIC_VERSION, h.version);
        if (ctx->fields == NULL)
            return DPI_MATCH;
    } else {
        if ((ctx->dir == 1) != ((s[0] & QS_CLIENT_IS_1) != 0))
            return DPI_MATCH_MORE; /* the server's packets are not read */
        if (++s[1] > QUIC_MAX_MORE_PACKETS)
            return DPI_MATCH;
        /* Later Initials may carry the server's connection ID: keys stay the first's. */
        if (!quic_header(ctx->data, ctx->len, &h) || h.version != dpi_be32(s + QS_VERSION_OFF))
            return DPI_MATCH_MORE;
    }
    if (quic_client_packet(ctx, &h)) {
        s[0] |= QS_DONE;
        return DPI_MATCH;
    }
    return DPI_MATCH_MORE;
}
