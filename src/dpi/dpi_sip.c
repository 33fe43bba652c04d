/*
 * SIP (RFC 3261) over UDP and TCP, the RTP and RTCP endpoints its SDP bodies announce
 * (RFC 4566, RFC 3264, RFC 3605), and SSDP, the HTTP-shaped discovery protocol of UPnP
 * that lives in this file because it is parsed the same way.
 *
 * A SIP message opens with "METHOD SP Request-URI SP SIP/2.0" or "SIP/2.0 SP NNN"; the
 * version token is what tells it from HTTP and RTSP. Fields come from the first message
 * that has them: the method of the first request, From, To, Call-ID (or their compact
 * forms f, t, i) and User-Agent. Over UDP every datagram is one message; over TCP the
 * stream prefix is cut into messages by Content-Length, each read once.
 *
 * An SDP body (Content-Type application/sdp) lists media sections: "m=audio PORT RTP/AVP
 * ..." with the address in the section's or the session's "c=IN IP4 a.b.c.d" line. Each
 * RTP port is announced with dpi_expect() and so is its RTCP port (the next one, or the
 * one an "a=rtcp:" line names), so media flows get their label from the call that set them
 * up. A flow whose dialog carries an INVITE stays under inspection until both sides' SDP
 * were seen (or the engine's budget ends); others end once the fields are taken.
 */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>

#include "dpi/dpi.h"

/* Scratch byte 0 flags; bytes 1-2 and 3-4: over TCP, where the next message of direction 0
 * and 1 starts (little-endian). */
enum {
    SIP_MATCHED = 1u << 0,
    SIP_INVITE = 1u << 1,   /* an INVITE went by: SDP offer and answer are worth waiting for */
    SIP_SDP_0 = 1u << 2,    /* direction 0 carried SDP */
    SIP_SDP_1 = 1u << 3,
};

/* Messages read per call over TCP. */
#define SIP_MAX_MSGS 16
/* Media sections of one SDP body that are announced. */
#define SDP_MAX_MEDIA 8

typedef enum { START_NO, START_MAYBE, START_REQUEST, START_RESPONSE } sip_start_t;

static const char *const sip_methods[] = {
    "INVITE", "ACK",     "BYE",  "CANCEL", "OPTIONS", "REGISTER", "PRACK",
    "SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE",
};

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static bool is_blank(uint8_t c)
{
    return c == ' ' || c == '\t';
}

static bool agrees(const uint8_t *p, size_t len, const char *want)
{
    size_t n = strlen(want);
    return memcmp(p, want, len < n ? len : n) == 0;
}

static void put16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v & 0xff);
    p[1] = (uint8_t)(v >> 8);
}

static size_t get16(const uint8_t *p)
{
    return (size_t)p[0] | (size_t)p[1] << 8;
}

/* The start line of a message; sets the method's length for requests. */
static sip_start_t sip_start(const uint8_t *p, size_t len, size_t *method_len)
{
    if (len == 0)
        return START_MAYBE;
    if (p[0] == 'S' && agrees(p, len, "SIP/2.0 ")) {
        /* "SIP/2.0 " is 8 bytes, the status code 3 more */
        for (size_t i = 8; i < 11; i++) {
            if (i >= len)
                return START_MAYBE;
            if (!is_digit(p[i]))
                return START_NO;
        }
        if (len < 12)
            return START_MAYBE;
        return p[11] == ' ' || p[11] == '\r' || p[11] == '\n' ? START_RESPONSE : START_NO;
    }
    /* Every method starts with a capital: most bytes that are not SIP stop here. */
    if (p[0] < 'A' || p[0] > 'Z')
        return START_NO;
    bool prefix;
    size_t m = dpi_token_match(p, len, sip_methods, sizeof sip_methods / sizeof sip_methods[0], &prefix);
    if (m == 0)
        return prefix ? START_MAYBE : START_NO;
    size_t e = m + 1;
    while (e < len && p[e] > 0x20 && p[e] < 0x7f)
        e++;
    if (e == len)
        return START_MAYBE;
    if (e == m + 1 || p[e] != ' ')
        return START_NO;
    const uint8_t *v = p + e + 1;
    size_t vl = len - e - 1;
    if (!agrees(v, vl, "SIP/2.0"))
        return START_NO;
    if (vl < 8)
        return START_MAYBE;
    if (v[7] != '\r' && v[7] != '\n')
        return START_NO;
    *method_len = m;
    return START_REQUEST;
}

/* A header by its name or its compact form (RFC 3261 section 7.3.3). */
static bool header(const uint8_t *h, size_t len, const char *name, const char *compact,
                   const uint8_t **v, size_t *vl)
{
    if (dpi_header_find(h, len, name, v, vl))
        return true;
    return compact != NULL && dpi_header_find(h, len, compact, v, vl);
}

/* ---- SDP ------------------------------------------------------------------------------- */

typedef struct {
    uint8_t family;    /* 0: no address */
    uint8_t addr[16];
} sdp_addr_t;

/* "c=IN IP4 192.0.2.1" or "c=IN IP6 2001:db8::1" (a multicast "/ttl" suffix is cut). */
static void sdp_conn(const uint8_t *l, size_t n, sdp_addr_t *out)
{
    if (n < 10 || memcmp(l, "c=IN IP", 7) != 0 || (l[7] != '4' && l[7] != '6') || l[8] != ' ')
        return;
    const uint8_t *a = l + 9;
    size_t al = n - 9;
    for (size_t i = 0; i < al; i++)
        if (a[i] == '/' || is_blank(a[i]))
            al = i;
    char text[64];
    if (al == 0 || al >= sizeof text)
        return;
    memcpy(text, a, al);
    text[al] = '\0';
    int af = l[7] == '4' ? AF_INET : AF_INET6;
    if (inet_pton(af, text, out->addr) == 1)
        out->family = af == AF_INET ? 4 : 6;
}

/* A decimal number at the start of [p, p + len) up to 65535; 0 if none. */
static unsigned port_at(const uint8_t *p, size_t len)
{
    unsigned x = 0;
    size_t i = 0;
    for (; i < len && is_digit(p[i]); i++) {
        x = x * 10 + (unsigned)(p[i] - '0');
        if (x > 65535)
            return 0;
    }
    return x;
}

typedef struct {
    uint16_t rtp, rtcp;   /* rtcp 0: the next port */
    bool rtp_avp;         /* the transport is RTP (RTP/AVP, RTP/SAVP, ...) */
    sdp_addr_t conn;      /* the section's own c= line */
} sdp_media_t;

static void sdp_announce(dpi_ctx_t *ctx, const sdp_media_t *m, const sdp_addr_t *session)
{
    const sdp_addr_t *a = m->conn.family != 0 ? &m->conn : session;
    if (!m->rtp_avp || m->rtp == 0 || a->family == 0)
        return;
    dpi_expect(ctx, a->family, a->addr, m->rtp, 17, OC_PROTO_RTP);
    uint16_t rtcp = m->rtcp != 0 ? m->rtcp : (uint16_t)(m->rtp + 1);
    if (rtcp != 0 && rtcp != m->rtp)
        dpi_expect(ctx, a->family, a->addr, rtcp, 17, OC_PROTO_RTCP);
}

/* Reads an SDP body and announces its media endpoints. */
static void sdp_parse(dpi_ctx_t *ctx, const uint8_t *p, size_t len)
{
    sdp_addr_t session = {0};
    sdp_media_t media = {0};
    bool in_media = false;
    unsigned sections = 0;
    size_t off = 0;
    while (off < len) {
        const uint8_t *l = p + off;
        const uint8_t *nl = memchr(l, '\n', len - off);
        size_t n = nl != NULL ? (size_t)(nl - l) : len - off;
        off += n + 1;
        if (n > 0 && l[n - 1] == '\r')
            n--;
        if (n < 2 || l[1] != '=')
            continue;
        if (l[0] == 'm') {
            if (in_media)
                sdp_announce(ctx, &media, &session);
            if (++sections > SDP_MAX_MEDIA)
                return;
            memset(&media, 0, sizeof media);
            in_media = true;
            /* m=<media> <port>[/<count>] <proto> <fmt> ... */
            const uint8_t *sp = memchr(l, ' ', n);
            if (sp == NULL)
                continue;
            size_t rest = n - (size_t)(sp + 1 - l);
            media.rtp = (uint16_t)port_at(sp + 1, rest);
            const uint8_t *sp2 = memchr(sp + 1, ' ', rest);
            if (sp2 != NULL) {
                size_t pl = n - (size_t)(sp2 + 1 - l);
                media.rtp_avp = dpi_starts_with_ci(sp2 + 1, pl, "RTP/");
            }
        } else if (l[0] == 'c') {
            sdp_conn(l, n, in_media ? &media.conn : &session);
        } else if (in_media && n > 7 && memcmp(l, "a=rtcp:", 7) == 0) {
            media.rtcp = (uint16_t)port_at(l + 7, n - 7);
        }
    }
    if (in_media)
        sdp_announce(ctx, &media, &session);
}

/* ---- messages -------------------------------------------------------------------------- */

/* Offset just past the empty line ending the headers that start at @off; 0 if not there. */
static size_t headers_end(const uint8_t *p, size_t len, size_t off)
{
    while (off < len) {
        long ll = dpi_line_len(p + off, len - off);
        if (ll < 0)
            return 0;
        const uint8_t *nl = memchr(p + off, '\n', len - off);
        size_t next = (size_t)(nl - p) + 1;
        if (ll == 0)
            return next;
        off = next;
    }
    return 0;
}

/*
 * One message at [p, p + len): takes its fields and announces its SDP. @datagram: the
 * message is all of a UDP datagram (its body is what follows the headers). Returns the
 * message's length, 0 when it is not complete yet, -1 when it is not a SIP message.
 */
static long sip_message(dpi_ctx_t *ctx, uint8_t *st, const uint8_t *p, size_t len,
                        bool datagram)
{
    size_t ml = 0;
    sip_start_t s = sip_start(p, len, &ml);
    if (s == START_NO)
        return -1;
    if (s == START_MAYBE)
        return 0;
    const uint8_t *nl = memchr(p, '\n', len);
    if (nl == NULL)
        return 0;
    size_t h = (size_t)(nl - p) + 1;
    size_t body = headers_end(p, len, h);
    if (body == 0 && !datagram)
        return 0;
    const uint8_t *v;
    size_t vl;
    size_t clen = 0;
    bool has_clen = header(p + h, len - h, "Content-Length", "l", &v, &vl);
    if (has_clen) {
        for (size_t i = 0; i < vl && is_digit(v[i]) && clen < 1u << 20; i++)
            clen = clen * 10 + (size_t)(v[i] - '0');
    }
    size_t end;
    if (body == 0) {
        end = len; /* a datagram cut before its headers end */
    } else if (datagram) {
        end = len;
        if (has_clen && clen < len - body)
            end = body + clen;
    } else {
        if (clen > len - body)
            return 0;
        end = body + clen;
    }

    if (s == START_REQUEST) {
        dpi_field_set(ctx, OC_FIELD_SIP_METHOD, p, ml);
        if (ml == 6 && memcmp(p, "INVITE", 6) == 0)
            st[0] |= SIP_INVITE;
    }
    if (header(p + h, len - h, "From", "f", &v, &vl))
        dpi_field_set(ctx, OC_FIELD_SIP_FROM, v, vl);
    if (header(p + h, len - h, "To", "t", &v, &vl))
        dpi_field_set(ctx, OC_FIELD_SIP_TO, v, vl);
    if (header(p + h, len - h, "Call-ID", "i", &v, &vl))
        dpi_field_set(ctx, OC_FIELD_SIP_CALL_ID, v, vl);
    if (header(p + h, len - h, "User-Agent", NULL, &v, &vl))
        dpi_field_set(ctx, OC_FIELD_SIP_USER_AGENT, v, vl);
    if (body != 0 && end > body && header(p + h, len - h, "Content-Type", "c", &v, &vl) &&
        dpi_starts_with_ci(v, vl, "application/sdp")) {
        sdp_parse(ctx, p + body, end - body);
        st[0] |= ctx->dir == 0 ? SIP_SDP_0 : SIP_SDP_1;
    }
    return (long)end;
}

/* Keep-alives (RFC 5626 section 3.5.1: CRLF; some phones send blanks) carry nothing. */
static bool only_blanks(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != '\r' && p[i] != '\n' && p[i] != ' ' && p[i] != '\0')
            return false;
    return true;
}

static bool sip_done(const dpi_ctx_t *ctx, const uint8_t *st)
{
    if (ctx->fields != NULL && !(dpi_field_has(ctx, OC_FIELD_SIP_FROM) &&
                                 dpi_field_has(ctx, OC_FIELD_SIP_TO) &&
                                 dpi_field_has(ctx, OC_FIELD_SIP_CALL_ID)))
        return false;
    if (!(st[0] & SIP_INVITE))
        return true;
    return (st[0] & (SIP_SDP_0 | SIP_SDP_1)) == (SIP_SDP_0 | SIP_SDP_1);
}

dpi_verdict_t dpi_sip(dpi_ctx_t *ctx)
{
    uint8_t *st = ctx->scratch;
    const uint8_t *p = ctx->data;
    size_t len = ctx->len;
    if (ctx->l4 == 17) {
        if (only_blanks(p, len))
            return st[0] & SIP_MATCHED ? DPI_MATCH_MORE : DPI_MAYBE;
        long r = sip_message(ctx, st, p, len, true);
        if (r <= 0) /* a datagram does not grow: an unfinished start line is not SIP */
            return st[0] & SIP_MATCHED ? DPI_MATCH_MORE : DPI_NO;
        st[0] |= SIP_MATCHED;
        ctx->proto = OC_PROTO_SIP;
        return sip_done(ctx, st) ? DPI_MATCH : DPI_MATCH_MORE;
    }

    /* TCP: recognise by the first message, then read the messages not read yet. */
    if (!(st[0] & SIP_MATCHED)) {
        size_t ml;
        sip_start_t s = sip_start(p, len, &ml);
        if (s == START_NO || (s == START_MAYBE && ctx->stream_full))
            return DPI_NO;
        if (s == START_MAYBE)
            return DPI_MAYBE;
        st[0] |= SIP_MATCHED;
        ctx->proto = OC_PROTO_SIP;
    }
    uint8_t *mark = ctx->dir == 0 ? st + 1 : st + 3;
    size_t off = get16(mark);
    for (int i = 0; i < SIP_MAX_MSGS && off < len; i++) {
        /* CRLF keep-alives between messages */
        while (off < len && (p[off] == '\r' || p[off] == '\n'))
            off++;
        if (off >= len)
            break;
        long r = sip_message(ctx, st, p + off, len - off, false);
        if (r < 0)
            return DPI_MATCH; /* not SIP any more (or never in this direction) */
        if (r == 0)
            break;
        off += (size_t)r;
    }
    put16(mark, off);
    if (sip_done(ctx, st) || ctx->stream_full)
        return DPI_MATCH;
    return DPI_MATCH_MORE;
}

/* ---- SSDP ------------------------------------------------------------------------------ */

/*
 * SSDP (UPnP Device Architecture 2.0 section 1): HTTP over UDP, "M-SEARCH * HTTP/1.1" and
 * "NOTIFY * HTTP/1.1" requests, and "HTTP/1.1 200 OK" answers to M-SEARCH that carry ST
 * and USN headers. Fields use the HTTP ones: method, HOST (as nDPI reports it), target
 * and USER-AGENT (SERVER for answers: the software that speaks).
 */
dpi_verdict_t dpi_ssdp(dpi_ctx_t *ctx)
{
    const uint8_t *p = ctx->data;
    size_t len = ctx->len;
    if (ctx->l4 != 17 || len == 0 || (p[0] != 'M' && p[0] != 'N' && p[0] != 'H'))
        return DPI_NO;
    long ll = dpi_line_len(p, len);
    if (ll < 0)
        return DPI_NO;
    size_t n = (size_t)ll;
    const uint8_t *nl = memchr(p, '\n', len);
    size_t h = (size_t)(nl - p) + 1;
    const uint8_t *v;
    size_t vl;
    size_t ml = 0;
    if (n == 19 && memcmp(p, "M-SEARCH * HTTP/1.1", 19) == 0)
        ml = 8;
    else if (n == 17 && memcmp(p, "NOTIFY * HTTP/1.1", 17) == 0)
        ml = 6;
    if (ml != 0) {
        dpi_field_set(ctx, OC_FIELD_HTTP_METHOD, p, ml);
        dpi_field_set(ctx, OC_FIELD_HTTP_TARGET, "*", 1);
        if (dpi_header_find(p + h, len - h, "HOST", &v, &vl))
            dpi_field_set(ctx, OC_FIELD_HTTP_HOST, v, vl);
        if (dpi_header_find(p + h, len - h, "USER-AGENT", &v, &vl))
            dpi_field_set(ctx, OC_FIELD_HTTP_USER_AGENT, v, vl);
        ctx->proto = OC_PROTO_SSDP;
        return DPI_MATCH;
    }
    if (n >= 12 && memcmp(p, "HTTP/1.1 200", 12) == 0 &&
        (dpi_header_find(p + h, len - h, "USN", &v, &vl) ||
         dpi_header_find(p + h, len - h, "ST", &v, &vl))) {
        dpi_field_set_uint(ctx, OC_FIELD_HTTP_STATUS, 200);
        if (dpi_header_find(p + h, len - h, "SERVER", &v, &vl))
            dpi_field_set(ctx, OC_FIELD_HTTP_USER_AGENT, v, vl);
        ctx->proto = OC_PROTO_SSDP;
        return DPI_MATCH;
    }
    return DPI_NO;
}
