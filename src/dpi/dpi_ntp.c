/*
 * NTP (RFC 5905 for versions 3 and 4, RFC 1305 for the control messages of mode 6) and the
 * ntpd private mode 7 (ntpdc, the "monlist" of amplification attacks).
 *
 * A time packet (modes 1 to 5) is a 48-byte header, then for version 4 optional extension
 * fields (RFC 7822: at least 16 bytes, a multiple of 4), then an optional MAC (a key id
 * and an MD5 or SHA-1 digest, or a 4-byte crypto-NAK). Its size must come out exactly so,
 * and the header values must lie in their ranges: version 1..4, stratum at most 16, a poll
 * exponent of at most 17, a precision that is zero or a negative power of two no finer
 * than 2^-32, and a transmit time in everything but a client request (SNTP clients may
 * leave it zero).
 *
 * Fields: the version of the first packet and the stratum of the first packet that is
 * not a client request (a server's reply, a peer's or a broadcast).
 */
#include "config.h"

#include <string.h>

#include "dpi/dpi.h"

#define NTP_HDR_LEN 48
#define NTP_EXT_MIN 16
#define NTP_CTL_HDR_LEN 12
#define NTP_CTL_DATA_MAX 468     /* RFC 1305 appendix B */
#define NTP_PRIV_HDR_LEN 8

enum {
    NTP_MODE_CLIENT = 3,
    NTP_MODE_CONTROL = 6,
    NTP_MODE_PRIVATE = 7,
};

/* Whether the bytes after the 48-byte header are extension fields and a MAC. */
static bool ntp_tail_ok(const uint8_t *p, size_t len, unsigned version)
{
    size_t off = NTP_HDR_LEN;
    /* Anything longer than the largest MAC must start with extension fields (v4 only). */
    while (len - off > 24) {
        if (version < 4 || off + 4 > len)
            return false;
        size_t el = dpi_be16(p + off + 2);
        if (el < NTP_EXT_MIN || el % 4 != 0 || el > len - off)
            return false;
        off += el;
    }
    size_t mac = len - off;
    return mac == 0 || mac == 4 || mac == 20 || mac == 24;
}

static bool ntp_time_ok(const uint8_t *p, size_t len, unsigned version, unsigned mode)
{
    if (len < NTP_HDR_LEN || !ntp_tail_ok(p, len, version))
        return false;
    uint8_t stratum = p[1], poll = p[2], precision = p[3];
    if (stratum > 16 || poll > 17 || (precision != 0 && precision < 0xe0))
        return false;
    static const uint8_t zero[8];
    if (mode != NTP_MODE_CLIENT && memcmp(p + 40, zero, 8) == 0)
        return false; /* no transmit time */
    return true;
}

/* Mode 6: R E M opcode, sequence, status, association id, offset, count, data. */
static bool ntp_control_ok(const uint8_t *p, size_t len)
{
    if (len < NTP_CTL_HDR_LEN)
        return false;
    unsigned opcode = p[1] & 0x1f;
    size_t count = dpi_be16(p + 10);
    if (opcode == 0 || opcode > 31 || count > NTP_CTL_DATA_MAX)
        return false;
    /* Data padded to 4 bytes, then possibly a MAC. */
    size_t body = NTP_CTL_HDR_LEN + ((count + 3) & ~(size_t)3);
    return len >= NTP_CTL_HDR_LEN + count && len <= body + 24;
}

/* Mode 7: R M VN mode, A sequence, implementation, request code, err nitems, mbz itemsize. */
static bool ntp_private_ok(const uint8_t *p, size_t len)
{
    if (len < NTP_PRIV_HDR_LEN)
        return false;
    uint8_t impl = p[2];
    unsigned nitems = dpi_be16(p + 4) & 0x0fff, itemsize = dpi_be16(p + 6) & 0x0fff;
    if (impl != 0 && impl != 2 && impl != 3)
        return false;
    if ((p[6] & 0xf0) != 0 || (size_t)nitems * itemsize > len - NTP_PRIV_HDR_LEN)
        return false;
    return p[3] < 64; /* request codes: ntpd defines fewer than 50 */
}

dpi_verdict_t dpi_ntp(dpi_ctx_t *ctx)
{
    const uint8_t *p = ctx->data;
    size_t len = ctx->len;
    if (len < NTP_PRIV_HDR_LEN)
        return DPI_NO;
    unsigned version = (p[0] >> 3) & 7, mode = p[0] & 7;
    bool ok;
    if (version < 1 || version > 4 || mode == 0)
        ok = false;
    else if (mode == NTP_MODE_CONTROL)
        ok = version >= 2 && ntp_control_ok(p, len);
    else if (mode == NTP_MODE_PRIVATE)
        ok = version >= 2 && ntp_private_ok(p, len);
    else
        ok = ntp_time_ok(p, len, version, mode);
    if (!ok)
        return DPI_NO; /* once identified, this ends inspection and keeps the label */
    ctx->proto = OC_PROTO_NTP;
    dpi_field_set_uint(ctx, OC_FIELD_NTP_VERSION, version);
    if (mode < NTP_MODE_CONTROL && mode != NTP_MODE_CLIENT)
        dpi_field_set_uint(ctx, OC_FIELD_NTP_STRATUM, p[1]);
    if (ctx->fields == NULL || mode != NTP_MODE_CLIENT ||
        dpi_field_has(ctx, OC_FIELD_NTP_STRATUM))
        return DPI_MATCH;
    return DPI_MATCH_MORE; /* wait for the server's reply and its stratum */
}
