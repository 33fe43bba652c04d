/*
 * HTTP/1.x over TCP: a request line "METHOD SP request-target SP HTTP/1.x" (RFC 9112
 * section 3) from one side or a status line "HTTP/1.x SP NNN" (section 4) from the other.
 *
 * Either direction may show up first (a capture that missed the request still has the
 * response), so each direction is judged by how its stream starts. Everything the fields
 * need sits at the start of each direction: the request line and headers (Host,
 * User-Agent) and the response's status line and Content-Type. The dissector keeps the
 * flow until both were read or cannot come, so a request split over several segments reads
 * as one (the engine hands over the in-order prefix). Lines that never end are waited for
 * only until the prefix is full; nothing is read past the bytes given.
 */
#include "config.h"

#include <string.h>

#include "dpi/dpi.h"

/* Scratch byte 0. */
enum {
    HTTP_MATCHED = 1u << 0,
    HTTP_REQ_DONE = 1u << 1,  /* request fields taken, or the request side cannot give them */
    HTTP_RESP_DONE = 1u << 2, /* the same for the response */
};

/* How one direction's stream starts. */
typedef enum { START_NO, START_MAYBE, START_REQUEST, START_RESPONSE } http_start_t;

/* RFC 9110 methods, WebDAV (RFC 4918, 3253, 5323) and PATCH (RFC 5789). */
static const char *const methods[] = {
    "GET",        "POST",      "HEAD",     "PUT",       "DELETE",          "OPTIONS",
    "CONNECT",    "PATCH",     "TRACE",    "PROPFIND",  "PROPPATCH",       "MKCOL",
    "COPY",       "MOVE",      "LOCK",     "UNLOCK",    "SEARCH",          "REPORT",
    "CHECKOUT",   "CHECKIN",   "UNCHECKOUT", "MERGE",   "VERSION-CONTROL", "MKWORKSPACE",
    "MKACTIVITY", "LABEL",     "UPDATE",   "BASELINE-CONTROL",
};

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* A request-target byte: visible ASCII (RFC 9112 keeps spaces and controls out). */
static bool is_target_char(uint8_t c)
{
    return c > 0x20 && c < 0x7f;
}

/* Does [p, p + len) agree with @want for as many bytes as both have? */
static bool agrees(const uint8_t *p, size_t len, const char *want)
{
    size_t n = strlen(want);
    return memcmp(p, want, len < n ? len : n) == 0;
}

/* "HTTP/1.x" at p (len bytes, possibly fewer than 8): 1 yes, 0 not yet known, -1 no. */
static int version_at(const uint8_t *p, size_t len)
{
    if (!agrees(p, len, "HTTP/1."))
        return -1;
    if (len < 8)
        return 0;
    return is_digit(p[7]) ? 1 : -1;
}

/* A status line "HTTP/1.x NNN" followed by SP or a line end. */
static http_start_t response_start(const uint8_t *p, size_t len)
{
    int v = version_at(p, len);
    if (v < 0)
        return START_NO;
    if (v == 0)
        return START_MAYBE;
    if (len < 9)
        return START_MAYBE;
    if (p[8] != ' ')
        return START_NO;
    for (size_t i = 9; i < 12; i++) {
        if (i >= len)
            return START_MAYBE;
        if (!is_digit(p[i]))
            return START_NO;
    }
    if (len < 13)
        return START_MAYBE;
    return p[12] == ' ' || p[12] == '\r' || p[12] == '\n' ? START_RESPONSE : START_NO;
}

/* A request line. On START_REQUEST sets the method and target spans. */
static http_start_t request_start(const uint8_t *p, size_t len, size_t *method_len,
                                  size_t *target_off, size_t *target_len)
{
    /* Every method starts with a capital: most bytes that are not HTTP stop here. */
    if (len > 0 && (p[0] < 'A' || p[0] > 'Z'))
        return START_NO;
    bool prefix;
    size_t m = dpi_token_match(p, len, methods, sizeof methods / sizeof methods[0], &prefix);
    if (m == 0)
        return prefix ? START_MAYBE : START_NO;
    size_t t = m + 1, e = t;
    while (e < len && is_target_char(p[e]))
        e++;
    if (e == len)
        return START_MAYBE;
    if (e == t || p[e] != ' ')
        return START_NO;
    int v = version_at(p + e + 1, len - e - 1);
    if (v < 0)
        return START_NO;
    if (v == 0 || len < e + 10)
        return START_MAYBE;
    uint8_t c = p[e + 9];
    if (c != '\r' && c != '\n')
        return START_NO;
    *method_len = m;
    *target_off = t;
    *target_len = e - t;
    return START_REQUEST;
}

static http_start_t classify(const uint8_t *p, size_t len)
{
    size_t a, b, c;
    if (len == 0)
        return START_MAYBE;
    if (p[0] == 'H') {
        http_start_t r = response_start(p, len);
        if (r != START_NO)
            return r;
    }
    return request_start(p, len, &a, &b, &c);
}

/* Offset just past the header block that starts at @off (after the empty line), or 0
 * when the block is not complete within len. */
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

/* Offset of the line after the one at @off (which is complete). */
static size_t next_line(const uint8_t *p, size_t len, size_t off)
{
    const uint8_t *nl = memchr(p + off, '\n', len - off);
    return nl == NULL ? len : (size_t)(nl - p) + 1;
}

/* Takes what a request has given so far; true when nothing more is to come. */
static bool request_fields(dpi_ctx_t *ctx, const uint8_t *p, size_t len, bool full)
{
    size_t m, t, tl;
    if (request_start(p, len, &m, &t, &tl) != START_REQUEST)
        return full;
    dpi_field_set(ctx, OC_FIELD_HTTP_METHOD, p, m);
    dpi_field_set(ctx, OC_FIELD_HTTP_TARGET, p + t, tl);
    size_t h = next_line(p, len, t + tl);
    const uint8_t *v;
    size_t vl;
    if (dpi_header_find(p + h, len - h, "Host", &v, &vl))
        dpi_field_set(ctx, OC_FIELD_HTTP_HOST, v, vl);
    if (dpi_header_find(p + h, len - h, "User-Agent", &v, &vl))
        dpi_field_set(ctx, OC_FIELD_HTTP_USER_AGENT, v, vl);
    return full || headers_end(p, len, h) != 0;
}

/* Takes the status and Content-Type of the first response. An interim one (100 Continue)
 * counts as nDPI counts it: its status is the flow's, and it has no Content-Type. */
static bool response_fields(dpi_ctx_t *ctx, const uint8_t *p, size_t len, bool full)
{
    if (response_start(p, len) != START_RESPONSE)
        return full;
    const uint8_t *code = p + 9;
    unsigned status = (unsigned)(code[0] - '0') * 100 + (unsigned)(code[1] - '0') * 10 +
                      (unsigned)(code[2] - '0');
    dpi_field_set_uint(ctx, OC_FIELD_HTTP_STATUS, status);
    size_t h = next_line(p, len, 12);
    const uint8_t *v;
    size_t vl;
    bool ct = dpi_header_find(p + h, len - h, "Content-Type", &v, &vl);
    if (ct)
        dpi_field_set(ctx, OC_FIELD_HTTP_CONTENT_TYPE, v, vl);
    return full || ct || headers_end(p, len, h) != 0;
}

dpi_verdict_t dpi_http(dpi_ctx_t *ctx)
{
    uint8_t *st = ctx->scratch;
    http_start_t s = classify(ctx->data, ctx->len);
    if (!(st[0] & HTTP_MATCHED)) {
        if (s == START_NO || (s == START_MAYBE && ctx->stream_full))
            return DPI_NO;
        if (s == START_MAYBE)
            return DPI_MAYBE;
        st[0] |= HTTP_MATCHED;
        ctx->proto = OC_PROTO_HTTP;
        if (ctx->fields == NULL)
            return DPI_MATCH;
    }
    /* A side that does not start like HTTP (a tunnel after CONNECT, a missed start) has
     * nothing to give; the same for a side whose first line never completes. */
    if (s == START_REQUEST) {
        if (!(st[0] & HTTP_REQ_DONE) &&
            request_fields(ctx, ctx->data, ctx->len, ctx->stream_full))
            st[0] |= HTTP_REQ_DONE;
    } else if (s == START_RESPONSE) {
        if (!(st[0] & HTTP_RESP_DONE) &&
            response_fields(ctx, ctx->data, ctx->len, ctx->stream_full))
            st[0] |= HTTP_RESP_DONE;
    } else if (s == START_NO || ctx->stream_full) {
        st[0] |= ctx->peer_len > 0 && classify(ctx->peer, ctx->peer_len) == START_REQUEST
                     ? HTTP_RESP_DONE
                     : HTTP_REQ_DONE;
    }
    if ((st[0] & (HTTP_REQ_DONE | HTTP_RESP_DONE)) == (HTTP_REQ_DONE | HTTP_RESP_DONE))
        return DPI_MATCH;
    return DPI_MATCH_MORE;
}
