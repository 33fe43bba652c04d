/*
 * STUN (RFC 8489, formerly RFC 5389) and its classic form (RFC 3489), over UDP and TCP.
 *
 * A message is a 20-byte header (type, length, magic cookie, transaction id) followed by
 * type-length-value attributes padded to 4 bytes (MS-TURN, as Skype and Teams speak it,
 * leaves them unpadded). A modern message carries the cookie 0x2112A442; together with a
 * length that matches the datagram and an attribute chain that ends exactly where the
 * length says, that is strong enough to label a flow on one packet.
 * A classic message has no cookie, so it is accepted only with one of the six message
 * types RFC 3489 defines and a well-formed, non-empty attribute chain; a classic request
 * with no attributes at all is only 2+2 bytes of evidence, so it waits for the answer in
 * the other direction carrying the same 16-byte transaction id.
 *
 * Over TCP a message starts the stream, either bare (RFC 8489 section 6.2.2) or behind the
 * 2-byte length of RFC 4571 framing (ICE-TCP, RFC 6544). Calls that turn into media or
 * DTLS after the first exchange stay labelled STUN, as nDPI labels them.
 */
#include "config.h"

#include <string.h>

#include "dpi/dpi.h"

#define STUN_HDR 20
#define STUN_COOKIE 0x2112A442u

typedef enum {
    STUN_BAD,        /* not a STUN message */
    STUN_SHORT,      /* could be one, bytes missing */
    STUN_MODERN,     /* with the magic cookie */
    STUN_CLASSIC,    /* RFC 3489 with attributes */
    STUN_CLASSIC_BARE, /* RFC 3489 without attributes: weak alone */
} stun_kind_t;

/* Scratch: a classic request without attributes waits for its answer. */
typedef struct {
    uint8_t pending;     /* 1 + direction of the waiting request, 0 if none */
    uint8_t txid[16];
} stun_state_t;

_Static_assert(sizeof(stun_state_t) <= DPI_SCRATCH, "stun state fits the scratch");

static bool classic_type(uint16_t type)
{
    switch (type) {
    case 0x0001: case 0x0101: case 0x0111: /* binding request, response, error */
    case 0x0002: case 0x0102: case 0x0112: /* shared secret request, response, error */
        return true;
    default:
        return false;
    }
}

/* The attribute chain of [p, p + len) ends exactly at len, each value padded to 4 bytes
 * when @pad. Returns the number of attributes, -1 if malformed. */
static int stun_attrs(const uint8_t *p, size_t len, bool pad)
{
    size_t off = 0;
    int n = 0;
    while (off < len) {
        if (len - off < 4)
            return -1;
        size_t alen = dpi_be16(p + off + 2);
        if (pad)
            alen = (alen + 3) & ~(size_t)3;
        if (alen > len - off - 4)
            return -1;
        off += 4 + alen;
        n++;
    }
    return n;
}

/*
 * Looks at the message at [p, p + avail). @exact: the message must end at avail (a UDP
 * datagram); otherwise it may go on past avail (a TCP stream prefix) or stop before it.
 */
static stun_kind_t stun_message(const uint8_t *p, size_t avail, bool exact)
{
    if (avail < 4) {
        /* The two top bits of the type are zero; nothing else can be told yet. */
        return (p[0] & 0xC0) == 0 ? STUN_SHORT : STUN_BAD;
    }
    uint16_t type = dpi_be16(p);
    size_t mlen = dpi_be16(p + 2);
    if ((type & 0xC000) != 0)
        return STUN_BAD;
    if (exact && avail != STUN_HDR + mlen)
        return STUN_BAD;
    if (avail < 8)
        return STUN_SHORT;
    bool cookie = dpi_be32(p + 4) == STUN_COOKIE;
    if (!cookie && !classic_type(type))
        return STUN_BAD;
    if (avail < STUN_HDR + mlen) {
        /* TCP: the header is all there is so far. The cookie is enough; a classic message
         * has to show its attributes. */
        return cookie && avail >= STUN_HDR ? STUN_MODERN : STUN_SHORT;
    }
    /* RFC 5389 pads every value to 4 bytes; MS-TURN (Skype, Teams) and some RFC 3489
     * implementations do not, and then the message length need not be a multiple of 4. */
    int n = (mlen & 3) == 0 ? stun_attrs(p + STUN_HDR, mlen, true) : -1;
    if (n < 0)
        n = stun_attrs(p + STUN_HDR, mlen, false);
    if (n < 0)
        return STUN_BAD;
    if (cookie)
        return STUN_MODERN;
    return n > 0 ? STUN_CLASSIC : STUN_CLASSIC_BARE;
}

static dpi_verdict_t stun_found(dpi_ctx_t *ctx)
{
    ctx->proto = OC_PROTO_STUN;
    return DPI_MATCH;
}

static dpi_verdict_t stun_udp(dpi_ctx_t *ctx, stun_state_t *st)
{
    const uint8_t *p = ctx->data;
    size_t len = ctx->len;
    if (len < STUN_HDR)
        return DPI_NO;
    stun_kind_t k = stun_message(p, len, true);
    switch (k) {
    case STUN_MODERN:
    case STUN_CLASSIC:
        return stun_found(ctx);
    case STUN_CLASSIC_BARE: {
        uint16_t type = dpi_be16(p);
        bool request = (type & 0x0110) == 0;
        if (!request && st->pending == 1 + (ctx->dir ^ 1u) &&
            memcmp(st->txid, p + 4, sizeof st->txid) == 0)
            return stun_found(ctx);
        if (request) {
            st->pending = (uint8_t)(1 + ctx->dir);
            memcpy(st->txid, p + 4, sizeof st->txid);
        }
        /* Wait for the answer, but not for long: a request is retried a few times. */
        return ctx->pkts[0] + ctx->pkts[1] < 6 ? DPI_MAYBE : DPI_NO;
    }
    default:
        return DPI_NO;
    }
}

static dpi_verdict_t stun_tcp(dpi_ctx_t *ctx)
{
    const uint8_t *p = ctx->data;
    size_t len = ctx->len;
    /* Bare message at the start of the stream. */
    stun_kind_t bare = stun_message(p, len, false);
    if (bare == STUN_MODERN || bare == STUN_CLASSIC)
        return stun_found(ctx);
    /* RFC 4571 framing: a 2-byte length that covers exactly one message. */
    stun_kind_t framed = STUN_SHORT;
    if (len >= 2) {
        size_t flen = dpi_be16(p);
        if (flen < STUN_HDR) {
            framed = STUN_BAD;
        } else if (len - 2 >= 4) {
            size_t mlen = dpi_be16(p + 4);
            if (flen != STUN_HDR + mlen)
                framed = STUN_BAD;
            else
                framed = stun_message(p + 2, len - 2 < flen ? len - 2 : flen,
                                      len - 2 >= flen);
        }
    }
    if (framed == STUN_MODERN || framed == STUN_CLASSIC)
        return stun_found(ctx);
    if ((bare == STUN_SHORT || framed == STUN_SHORT) && !ctx->stream_full)
        return DPI_MAYBE;
    return DPI_NO;
}

dpi_verdict_t dpi_stun(dpi_ctx_t *ctx)
{
    if (ctx->len == 0)
        return DPI_MAYBE;
    if (ctx->l4 == 6)
        return stun_tcp(ctx);
    stun_state_t st;
    memcpy(&st, ctx->scratch, sizeof st);
    dpi_verdict_t v = stun_udp(ctx, &st);
    memcpy(ctx->scratch, &st, sizeof st);
    return v;
}
