/*
 * FTP control connections (RFC 959) and the data connections they announce.
 *
 * The server greets with a 220 reply, which SMTP servers do too, so a greeting alone is
 * FTP only when it says so ("FTP" but not "SMTP"); otherwise the client's first command
 * decides (USER, AUTH, FEAT, ...; an EHLO rules FTP out).
 *
 * Once recognised, the dissector reads every complete line of both directions, once each,
 * for the endpoints of data connections: PORT and EPRT commands (RFC 959, RFC 2428) name
 * the client's, 227 and 229 replies to PASV and EPSV the server's. Each is announced with
 * dpi_expect() so the data flow is labelled ftp_data without inspection. When the address
 * in the text is not the one the packet came from (a NAT rewrote it, or not), the sender's
 * address is announced with the same port too. "AUTH TLS" accepted with 234 (RFC 4217)
 * sets startTLS and hands the rest of both directions to the TLS parser; the label stays
 * ftp_control, as the flow is still the control connection (only the mail protocols get a
 * new name when upgraded).
 */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>

#include "dpi/dpi.h"

/* Scratch: byte 0 flags, bytes 1-2 and 3-4 the offset up to which direction 0 and 1 were
 * read (little-endian), bytes 5-6 and 7-8 where TLS starts in the client's and the
 * server's stream. */
enum {
    FTP_MATCHED = 1u << 0,
    FTP_SERVER_IS_1 = 1u << 1,
    FTP_AUTH_SENT = 1u << 2,  /* the client asked for AUTH TLS/SSL */
    FTP_UPGRADED = 1u << 3,   /* and the server agreed (234) */
    FTP_TLS_DONE_C = 1u << 4,
    FTP_TLS_DONE_S = 1u << 5,
    FTP_QUIT = 1u << 6,
};

typedef enum { SIDE_NO, SIDE_MAYBE, SIDE_SERVER, SIDE_CLIENT } ftp_side_t;

/* Commands a client may open a session with or use early (RFC 959, 2228, 2389, 2428,
 * 3659, 7151, and the CLNT that some clients send). */
static const char *const ftp_cmds[] = {
    "USER", "AUTH", "FEAT", "SYST", "OPTS", "HOST", "CLNT", "PASS", "ACCT", "PBSZ",
    "PROT", "PORT", "PASV", "EPSV", "EPRT", "TYPE", "PWD",  "CWD",  "LIST", "NLST",
    "RETR", "STOR", "NOOP", "HELP", "QUIT", "SITE", "MODE", "STRU", "LANG", "MLSD",
};

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
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

static bool prefix_agrees(const uint8_t *p, size_t len, const char *want)
{
    size_t n = strlen(want);
    if (len >= n)
        return dpi_starts_with_ci(p, len, want);
    char part[8];
    if (len >= sizeof part)
        return false;
    memcpy(part, want, len);
    part[len] = '\0';
    return dpi_starts_with_ci(p, len, part);
}

static ftp_side_t ftp_judge(const uint8_t *p, size_t len)
{
    if (len == 0)
        return SIDE_MAYBE;
    if (is_digit(p[0])) {
        if (!prefix_agrees(p, len, "220"))
            return SIDE_NO;
        if (len < 4)
            return SIDE_MAYBE;
        return p[3] == ' ' || p[3] == '-' ? SIDE_SERVER : SIDE_NO;
    }
    /* Every command starts with a letter: anything else at the start agrees with none. */
    if ((p[0] | 0x20) < 'a' || (p[0] | 0x20) > 'z')
        return SIDE_NO;
    bool maybe = false;
    for (size_t i = 0; i < sizeof ftp_cmds / sizeof ftp_cmds[0]; i++) {
        size_t k = dpi_agree_ci(p, len, ftp_cmds[i]);
        if (ftp_cmds[i][k] == '\0' && k < len) {
            if (p[k] == ' ' || p[k] == '\r' || p[k] == '\n')
                return SIDE_CLIENT;
        } else if (k == len) {
            maybe = true; /* the bytes end inside the command or just at its end */
        }
    }
    return maybe ? SIDE_MAYBE : SIDE_NO;
}

static bool contains_ci(const uint8_t *p, size_t len, const char *word)
{
    size_t n = strlen(word);
    for (size_t i = 0; i + n <= len; i++)
        if (dpi_starts_with_ci(p + i, len - i, word))
            return true;
    return false;
}

/* A complete first command, or a complete greeting line that names FTP and not SMTP. */
static bool ftp_decisive(const uint8_t *client, size_t client_len, const uint8_t *server,
                         size_t server_len)
{
    if (client_len > 0 && dpi_line_len(client, client_len) >= 0)
        return true;
    if (server_len == 0)
        return false;
    long n = dpi_line_len(server, server_len);
    return n >= 0 && contains_ci(server, (size_t)n, "FTP") &&
           !contains_ci(server, (size_t)n, "SMTP");
}

/* ---- announced data connections -------------------------------------------------------- */

/* Parses up to @n decimal numbers separated by commas (RFC 959 host-port) from the first
 * digit of [p, p + len). */
static bool comma_numbers(const uint8_t *p, size_t len, unsigned *v, unsigned n)
{
    size_t i = 0;
    while (i < len && !is_digit(p[i]))
        i++;
    for (unsigned k = 0; k < n; k++) {
        if (k > 0) {
            if (i >= len || p[i] != ',')
                return false;
            i++;
        }
        unsigned x = 0, digits = 0;
        while (i < len && is_digit(p[i]) && digits < 4) {
            x = x * 10 + (unsigned)(p[i] - '0');
            i++;
            digits++;
        }
        if (digits == 0 || x > 255)
            return false;
        v[k] = x;
    }
    return true;
}

/* Announces @port on @addr (as written) and on the sender's address if different. */
static void announce(dpi_ctx_t *ctx, uint8_t family, const uint8_t *addr, uint16_t port,
                     const uint8_t *sender)
{
    size_t alen = family == 4 ? 4 : 16;
    if (addr != NULL)
        dpi_expect(ctx, family, addr, port, 6, OC_PROTO_FTP_DATA);
    if (sender != NULL && family == ctx->family &&
        (addr == NULL || memcmp(addr, sender, alen) != 0))
        dpi_expect(ctx, ctx->family, sender, port, 6, OC_PROTO_FTP_DATA);
}

/* "h1,h2,h3,h4,p1,p2" of PORT and of the 227 reply. */
static void host_port(dpi_ctx_t *ctx, const uint8_t *p, size_t len, const uint8_t *sender)
{
    unsigned v[6];
    if (!comma_numbers(p, len, v, 6))
        return;
    uint8_t addr[4] = {(uint8_t)v[0], (uint8_t)v[1], (uint8_t)v[2], (uint8_t)v[3]};
    announce(ctx, 4, addr, (uint16_t)(v[4] << 8 | v[5]), sender);
}

/* A decimal port between @p and the delimiter; 0 when malformed. */
static uint16_t port_until(const uint8_t *p, size_t len, uint8_t delim)
{
    unsigned x = 0;
    size_t i = 0;
    for (; i < len && is_digit(p[i]); i++) {
        x = x * 10 + (unsigned)(p[i] - '0');
        if (x > 65535)
            return 0;
    }
    return i > 0 && i < len && p[i] == delim ? (uint16_t)x : 0;
}

/* EPRT <d>af<d>address<d>port<d> (RFC 2428 section 2). */
static void eprt(dpi_ctx_t *ctx, const uint8_t *p, size_t len, const uint8_t *sender)
{
    if (len < 7)
        return;
    uint8_t d = p[0];
    if (p[2] != d || (p[1] != '1' && p[1] != '2'))
        return;
    const uint8_t *a = p + 3;
    const uint8_t *ae = memchr(a, d, len - 3);
    if (ae == NULL || ae == a || (size_t)(ae - a) >= 64)
        return;
    char text[64];
    memcpy(text, a, (size_t)(ae - a));
    text[ae - a] = '\0';
    uint8_t addr[16];
    int af = p[1] == '1' ? AF_INET : AF_INET6;
    if (inet_pton(af, text, addr) != 1)
        return;
    size_t rest = len - (size_t)(ae + 1 - p);
    uint16_t port = port_until(ae + 1, rest, d);
    if (port != 0)
        announce(ctx, af == AF_INET ? 4 : 6, addr, port, sender);
}

/* 229 Entering Extended Passive Mode (<d><d><d>port<d>): the server's own address. */
static void epsv_reply(dpi_ctx_t *ctx, const uint8_t *p, size_t len, const uint8_t *sender)
{
    const uint8_t *open = memchr(p, '(', len);
    if (open == NULL)
        return;
    size_t left = len - (size_t)(open - p) - 1;
    const uint8_t *q = open + 1;
    if (left < 5 || q[1] != q[0] || q[2] != q[0])
        return;
    uint16_t port = port_until(q + 3, left - 3, q[0]);
    if (port != 0)
        announce(ctx, ctx->family, NULL, port, sender);
}

/* Reads the complete lines of one direction not read before (@sender: its address). The
 * client's lines are read before the server's so that a 234 finds the AUTH it answers. */
static void ftp_lines(dpi_ctx_t *ctx, uint8_t *st, unsigned dir, const uint8_t *sender)
{
    const uint8_t *p = dir == ctx->dir ? ctx->data : ctx->peer;
    size_t len = dir == ctx->dir ? ctx->len : ctx->peer_len;
    bool server = (dir == 1) == ((st[0] & FTP_SERVER_IS_1) != 0);
    uint8_t *mark = dir == 0 ? st + 1 : st + 3;
    size_t off = get16(mark);
    while (off < len && !(st[0] & FTP_UPGRADED)) {
        const uint8_t *l = p + off;
        long ll = dpi_line_len(l, len - off);
        if (ll < 0)
            break;
        size_t n = (size_t)ll;
        const uint8_t *nl = memchr(l, '\n', len - off);
        off = (size_t)(nl - p) + 1;
        if (server) {
            if (n >= 4 && memcmp(l, "227", 3) == 0) {
                host_port(ctx, l + 4, n - 4, sender);
            } else if (n >= 4 && memcmp(l, "229", 3) == 0) {
                epsv_reply(ctx, l + 4, n - 4, sender);
            } else if (n >= 3 && memcmp(l, "234", 3) == 0 && (st[0] & FTP_AUTH_SENT)) {
                st[0] |= FTP_UPGRADED;
                put16(st + 7, off); /* TLS from here */
            } else if ((st[0] & FTP_AUTH_SENT) && n >= 4 && (l[0] == '4' || l[0] == '5') &&
                       l[3] == ' ') {
                /* AUTH refused (RFC 2228: 431, 504, 534): the session stays in clear */
                st[0] &= (uint8_t)~FTP_AUTH_SENT;
            }
        } else if (!(st[0] & FTP_AUTH_SENT)) {
            if (n > 5 && dpi_starts_with_ci(l, n, "PORT ")) {
                host_port(ctx, l + 5, n - 5, sender);
            } else if (n > 5 && dpi_starts_with_ci(l, n, "EPRT ")) {
                eprt(ctx, l + 5, n - 5, sender);
            } else if (dpi_starts_with_ci(l, n, "AUTH TLS") ||
                       dpi_starts_with_ci(l, n, "AUTH SSL")) {
                st[0] |= FTP_AUTH_SENT;
                put16(st + 5, off); /* TLS from here if the server agrees */
            } else if (n == 4 && dpi_starts_with_ci(l, n, "QUIT")) {
                st[0] |= FTP_QUIT;
            }
        }
    }
    put16(mark, off);
}

static dpi_verdict_t ftp_tls(dpi_ctx_t *ctx, uint8_t *st, bool server)
{
    if (!dpi_field_has(ctx, OC_FIELD_STARTTLS))
        dpi_field_set_uint(ctx, OC_FIELD_STARTTLS, 1);
    if (ctx->fields == NULL)
        return DPI_MATCH;
    uint8_t done_bit = server ? FTP_TLS_DONE_S : FTP_TLS_DONE_C;
    size_t off = get16(server ? st + 7 : st + 5);
    if (!(st[0] & done_bit) && off < ctx->len &&
        dpi_tls_parse(ctx, ctx->data + off, ctx->len - off, !server))
        st[0] |= done_bit;
    if (ctx->stream_full)
        st[0] |= done_bit;
    if ((st[0] & (FTP_TLS_DONE_C | FTP_TLS_DONE_S)) == (FTP_TLS_DONE_C | FTP_TLS_DONE_S))
        return DPI_MATCH;
    return DPI_MATCH_MORE;
}

dpi_verdict_t dpi_ftp(dpi_ctx_t *ctx)
{
    uint8_t *st = ctx->scratch;
    if (ctx->l4 != 6 || ctx->peer == NULL)
        return DPI_NO;
    if (!(st[0] & FTP_MATCHED)) {
        ftp_side_t me = ftp_judge(ctx->data, ctx->len);
        ftp_side_t other = ctx->peer_len > 0 ? ftp_judge(ctx->peer, ctx->peer_len) : SIDE_MAYBE;
        if (me == SIDE_NO || other == SIDE_NO || (me == other && me != SIDE_MAYBE))
            return DPI_NO;
        if (me == SIDE_MAYBE && other == SIDE_MAYBE)
            return ctx->stream_full ? DPI_NO : DPI_MAYBE;
        bool me_server = me == SIDE_SERVER || (me == SIDE_MAYBE && other == SIDE_CLIENT);
        const uint8_t *c = me_server ? ctx->peer : ctx->data;
        const uint8_t *s = me_server ? ctx->data : ctx->peer;
        size_t cl = me_server ? ctx->peer_len : ctx->len;
        size_t sl = me_server ? ctx->len : ctx->peer_len;
        if (!ftp_decisive(c, cl, s, sl))
            return ctx->stream_full ? DPI_NO : DPI_MAYBE;
        bool server_is_1 = (ctx->dir == 1) == me_server;
        st[0] = (uint8_t)(FTP_MATCHED | (server_is_1 ? FTP_SERVER_IS_1 : 0));
        ctx->proto = OC_PROTO_FTP_CONTROL;
    }
    bool server = (ctx->dir == 1) == ((st[0] & FTP_SERVER_IS_1) != 0);
    unsigned client_dir = (st[0] & FTP_SERVER_IS_1) ? 0 : 1;
    const uint8_t *client_addr = server ? ctx->daddr : ctx->saddr;
    const uint8_t *server_addr = server ? ctx->saddr : ctx->daddr;
    ftp_lines(ctx, st, client_dir, client_addr);
    ftp_lines(ctx, st, client_dir ^ 1u, server_addr);
    if (st[0] & FTP_UPGRADED)
        return ftp_tls(ctx, st, server);
    /* Data connections are announced for as long as the engine lets inspection run. */
    if ((st[0] & FTP_QUIT) || ctx->stream_full)
        return DPI_MATCH;
    return DPI_MATCH_MORE;
}
