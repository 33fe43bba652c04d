/*
 * The mail protocols: SMTP (RFC 5321), POP3 (RFC 1939) and IMAP (RFC 9051), each with its
 * STARTTLS upgrade (RFC 3207, RFC 2595).
 *
 * All three are line-oriented and the server speaks first, so a flow is recognised by the
 * server's greeting ("220 ... ESMTP", "+OK", "* OK") together with, when already sent, the
 * client's first command; a side whose first bytes cannot be either rules the protocol out.
 * The side that greets is the server: nothing here trusts which side opened the connection.
 *
 * After recognition the dissector follows the client's commands until the session can no
 * longer switch to TLS (authentication, a mail transaction, QUIT) or its fields are taken.
 * An upgrade counts only once the server accepted it, which needs the reply to the
 * STARTTLS command itself: SMTP and POP3 replies are matched to commands by counting (both
 * protocols answer in order, RFC 2920 section 3.1), IMAP's by tag. From there the flow is
 * named as nDPI names it (smtps, pop3s, imaps), startTLS is set, and the bytes after the
 * command and after the server's acceptance go to the TLS parser, which fills the SNI and
 * certificate fields.
 */
#include "config.h"

#include <string.h>

#include "dpi/dpi.h"

/* Commands followed per session before giving up on finding the upgrade or fields. */
#define MAIL_MAX_CMDS 32

/* Scratch byte 0; bytes 1-2 and 3-4 hold where TLS starts in the client's and the server's
 * stream (little-endian; at most DPI_STREAM_CAP). */
enum {
    MAIL_MATCHED = 1u << 0,
    MAIL_SERVER_IS_1 = 1u << 1, /* direction 1 greeted: it is the server */
    MAIL_UPGRADED = 1u << 2,
    MAIL_TLS_DONE_C = 1u << 3,
    MAIL_TLS_DONE_S = 1u << 4,
};

/* How one side's first bytes look. */
typedef enum { SIDE_NO, SIDE_MAYBE, SIDE_SERVER, SIDE_CLIENT } mail_side_t;

/* What the walk over the client's commands found. */
typedef enum {
    WALK_MORE,     /* wants more bytes (a reply to STARTTLS is not there yet, ...) */
    WALK_DONE,     /* plain session: nothing more to learn */
    WALK_UPGRADED, /* the server accepted STARTTLS: offsets are set */
} mail_walk_t;

typedef struct {
    const uint8_t *p;
    size_t len;
} text_t;

/* A cursor over complete lines. */
typedef struct {
    const uint8_t *p;
    size_t len, off;
} lines_t;

static bool line_next(lines_t *it, const uint8_t **line, size_t *line_len)
{
    if (it->off >= it->len)
        return false;
    long n = dpi_line_len(it->p + it->off, it->len - it->off);
    if (n < 0)
        return false;
    *line = it->p + it->off;
    *line_len = (size_t)n;
    const uint8_t *nl = memchr(*line, '\n', it->len - it->off);
    it->off = (size_t)(nl - it->p) + 1;
    return true;
}

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* Is the line the command @cmd (case-insensitive) alone or followed by a space? */
static bool is_cmd(const uint8_t *line, size_t len, const char *cmd)
{
    size_t n = strlen(cmd);
    return dpi_starts_with_ci(line, len, cmd) && (len == n || line[n] == ' ');
}

/* Case-insensitive: is @word somewhere in [p, p + len)? */
static bool contains_ci(const uint8_t *p, size_t len, const char *word)
{
    size_t n = strlen(word);
    for (size_t i = 0; i + n <= len; i++)
        if (dpi_starts_with_ci(p + i, len - i, word))
            return true;
    return false;
}

/* Does [p, p + len) agree, case-insensitively, with the start of @want? */
static bool prefix_ci(const uint8_t *p, size_t len, const char *want)
{
    size_t n = strlen(want);
    if (len >= n)
        return dpi_starts_with_ci(p, len, want);
    for (size_t i = 0; i < len; i++) {
        uint8_t a = p[i], b = (uint8_t)want[i];
        if (a >= 'a' && a <= 'z')
            a = (uint8_t)(a - 32);
        if (b >= 'a' && b <= 'z')
            b = (uint8_t)(b - 32);
        if (a != b)
            return false;
    }
    return true;
}

/* The first bytes agree with one of @words followed by SP or a line end: SIDE_CLIENT when
 * a whole word is there, SIDE_MAYBE when too few bytes tell, else SIDE_NO. */
static mail_side_t command_side(const uint8_t *p, size_t len, const char *const *words,
                                size_t n_words)
{
    /* Every word starts with a letter: anything else at the start agrees with none. */
    if (len > 0 && ((p[0] | 0x20) < 'a' || (p[0] | 0x20) > 'z'))
        return SIDE_NO;
    bool maybe = false;
    for (size_t i = 0; i < n_words; i++) {
        size_t k = dpi_agree_ci(p, len, words[i]);
        if (words[i][k] == '\0' && k < len) {
            if (p[k] == ' ' || p[k] == '\r' || p[k] == '\n')
                return SIDE_CLIENT;
        } else if (k == len) {
            maybe = true; /* the bytes end inside the word or just at its end */
        }
    }
    return maybe ? SIDE_MAYBE : SIDE_NO;
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

/* The client's and the server's streams, once the server side is known. */
static void mail_sides(const dpi_ctx_t *ctx, const uint8_t *st, text_t *client, text_t *server)
{
    bool this_is_server = (ctx->dir == 1) == ((st[0] & MAIL_SERVER_IS_1) != 0);
    text_t me = {ctx->data, ctx->len}, other = {ctx->peer, ctx->peer_len};
    *server = this_is_server ? me : other;
    *client = this_is_server ? other : me;
}

/*
 * Shared recognition: judges this side and the peer with @judge; a side that cannot be
 * the protocol rules it out, two sides of the same kind too. @decisive says whether the
 * evidence so far is enough. On a match records which direction is the server.
 */
typedef mail_side_t (*judge_fn_t)(const uint8_t *p, size_t len);
typedef bool (*decisive_fn_t)(text_t client, text_t server);

static dpi_verdict_t mail_recognise(dpi_ctx_t *ctx, uint8_t *st, judge_fn_t judge,
                                    decisive_fn_t decisive, oc_protocol_t proto)
{
    if (ctx->l4 != 6 || ctx->peer == NULL)
        return DPI_NO;
    mail_side_t me = judge(ctx->data, ctx->len);
    mail_side_t other = ctx->peer_len > 0 ? judge(ctx->peer, ctx->peer_len) : SIDE_MAYBE;
    if (me == SIDE_NO || other == SIDE_NO || (me == other && me != SIDE_MAYBE))
        return DPI_NO;
    if (me == SIDE_MAYBE && other == SIDE_MAYBE)
        return ctx->stream_full ? DPI_NO : DPI_MAYBE;
    /* One side is known; the other is unknown or the opposite kind. */
    bool me_server = me == SIDE_SERVER || (me == SIDE_MAYBE && other == SIDE_CLIENT);
    text_t mine = {ctx->data, ctx->len}, peer = {ctx->peer, ctx->peer_len};
    text_t client = me_server ? peer : mine, server = me_server ? mine : peer;
    if (!decisive(client, server))
        return ctx->stream_full ? DPI_NO : DPI_MAYBE;
    bool server_is_1 = (ctx->dir == 1) == me_server;
    st[0] = (uint8_t)(MAIL_MATCHED | (server_is_1 ? MAIL_SERVER_IS_1 : 0));
    ctx->proto = (uint16_t)proto;
    return DPI_MATCH_MORE;
}

/*
 * After an accepted upgrade: the bytes after the STARTTLS command and after the server's
 * acceptance are TLS. Parses the current direction's part until the parser has all it can
 * get from each side.
 */
static dpi_verdict_t mail_tls(dpi_ctx_t *ctx, uint8_t *st, oc_protocol_t tls_proto)
{
    ctx->proto = (uint16_t)tls_proto;
    if (!dpi_field_has(ctx, OC_FIELD_STARTTLS))
        dpi_field_set_uint(ctx, OC_FIELD_STARTTLS, 1);
    if (ctx->fields == NULL)
        return DPI_MATCH;
    bool this_is_server = (ctx->dir == 1) == ((st[0] & MAIL_SERVER_IS_1) != 0);
    uint8_t done_bit = this_is_server ? MAIL_TLS_DONE_S : MAIL_TLS_DONE_C;
    size_t off = get16(this_is_server ? st + 3 : st + 1);
    if (!(st[0] & done_bit) && off < ctx->len &&
        dpi_tls_parse(ctx, ctx->data + off, ctx->len - off, !this_is_server))
        st[0] |= done_bit;
    if (ctx->stream_full)
        st[0] |= done_bit;
    if ((st[0] & (MAIL_TLS_DONE_C | MAIL_TLS_DONE_S)) == (MAIL_TLS_DONE_C | MAIL_TLS_DONE_S))
        return DPI_MATCH;
    return DPI_MATCH_MORE;
}

/* Common tail of the three dissectors once recognised. */
static dpi_verdict_t mail_after(dpi_ctx_t *ctx, uint8_t *st, mail_walk_t w,
                                oc_protocol_t tls_proto)
{
    if (w == WALK_UPGRADED) {
        st[0] |= MAIL_UPGRADED;
        return mail_tls(ctx, st, tls_proto);
    }
    if (w == WALK_DONE || ctx->stream_full)
        return DPI_MATCH;
    return DPI_MATCH_MORE;
}

/* ---- SMTP ------------------------------------------------------------------------------ */

/* A reply line "NNN" followed by SP, '-' or the line end. */
static bool smtp_reply_line(const uint8_t *l, size_t n)
{
    return n >= 3 && is_digit(l[0]) && is_digit(l[1]) && is_digit(l[2]) &&
           (n == 3 || l[3] == ' ' || l[3] == '-');
}

/*
 * Reply number @want (0 is the greeting) of an SMTP or FTP server: its code and the offset
 * just past it. Returns 1 when found, 0 when not complete yet, -1 when the stream is not
 * made of replies.
 */
static int smtp_reply_nth(text_t s, unsigned want, unsigned *code, size_t *end)
{
    lines_t it = {s.p, s.len, 0};
    const uint8_t *l;
    size_t n;
    unsigned idx = 0;
    while (line_next(&it, &l, &n)) {
        if (!smtp_reply_line(l, n))
            return -1;
        if (n > 3 && l[3] == '-')
            continue; /* a multiline reply goes on */
        if (idx == want) {
            *code = (unsigned)(l[0] - '0') * 100 + (unsigned)(l[1] - '0') * 10 +
                    (unsigned)(l[2] - '0');
            *end = it.off;
            return 1;
        }
        idx++;
    }
    return 0;
}

static const char *const smtp_hello[] = {"EHLO", "HELO"};

static mail_side_t smtp_judge(const uint8_t *p, size_t len)
{
    if (len > 0 && is_digit(p[0])) {
        if (!prefix_ci(p, len, "220"))
            return SIDE_NO;
        if (len < 4)
            return SIDE_MAYBE;
        return p[3] == ' ' || p[3] == '-' ? SIDE_SERVER : SIDE_NO;
    }
    return command_side(p, len, smtp_hello, 2);
}

/* EHLO/HELO from the client is SMTP; so is a greeting that says it (ESMTP or SMTP), which
 * FTP servers, greeting with 220 too, do not. */
static bool smtp_decisive(text_t client, text_t server)
{
    lines_t it = {client.p, client.len, 0};
    const uint8_t *l;
    size_t n;
    if (line_next(&it, &l, &n))
        return true; /* the judge accepted its first word */
    it = (lines_t){server.p, server.len, 0};
    return line_next(&it, &l, &n) && contains_ci(l, n, "SMTP");
}

/* The argument of "MAIL FROM:" or "RCPT TO:": the path in angle brackets when there is
 * one (parameters such as SIZE= follow it), else the rest of the line. */
static void smtp_path(dpi_ctx_t *ctx, oc_field_t f, const uint8_t *arg, size_t n)
{
    while (n > 0 && *arg == ' ') {
        arg++;
        n--;
    }
    if (n > 0 && *arg == '<') {
        const uint8_t *gt = memchr(arg, '>', n);
        if (gt != NULL)
            n = (size_t)(gt - arg) + 1;
    }
    dpi_field_set(ctx, f, arg, n);
}

static mail_walk_t smtp_walk(dpi_ctx_t *ctx, uint8_t *st)
{
    text_t c, s;
    mail_sides(ctx, st, &c, &s);
    lines_t it = {c.p, c.len, 0};
    const uint8_t *l;
    size_t n;
    unsigned k = 0;
    bool mail = false, rcpt = false;
    while (line_next(&it, &l, &n) && k < MAIL_MAX_CMDS) {
        k++;
        if (is_cmd(l, n, "EHLO") || is_cmd(l, n, "HELO")) {
            if (n > 5)
                dpi_field_set(ctx, OC_FIELD_SMTP_HELO, l + 5, n - 5);
        } else if (dpi_starts_with_ci(l, n, "MAIL FROM:")) {
            smtp_path(ctx, OC_FIELD_SMTP_FROM, l + 10, n - 10);
            mail = true;
        } else if (dpi_starts_with_ci(l, n, "RCPT TO:")) {
            smtp_path(ctx, OC_FIELD_SMTP_TO, l + 8, n - 8);
            rcpt = true;
        } else if (is_cmd(l, n, "STARTTLS")) {
            unsigned code;
            size_t end;
            int r = smtp_reply_nth(s, k, &code, &end);
            if (r == 0)
                return WALK_MORE;
            if (r < 0)
                return WALK_DONE;
            if (code == 220) {
                put16(st + 1, it.off);
                put16(st + 3, end);
                return WALK_UPGRADED;
            }
            /* Refused: the session goes on in clear. */
        } else if (is_cmd(l, n, "DATA") || is_cmd(l, n, "BDAT") || is_cmd(l, n, "AUTH") ||
                   is_cmd(l, n, "QUIT")) {
            /* Message content or SASL exchanges follow: no more commands to read, and
             * RFC 3207 has STARTTLS before these. */
            return WALK_DONE;
        }
        if (mail && rcpt)
            return WALK_DONE;
    }
    return k >= MAIL_MAX_CMDS || c.len == DPI_STREAM_CAP ? WALK_DONE : WALK_MORE;
}

dpi_verdict_t dpi_smtp(dpi_ctx_t *ctx)
{
    uint8_t *st = ctx->scratch;
    if (!(st[0] & MAIL_MATCHED)) {
        dpi_verdict_t v = mail_recognise(ctx, st, smtp_judge, smtp_decisive, OC_PROTO_SMTP);
        if (v != DPI_MATCH_MORE)
            return v;
    }
    if (st[0] & MAIL_UPGRADED)
        return mail_tls(ctx, st, OC_PROTO_SMTPS);
    return mail_after(ctx, st, smtp_walk(ctx, st), OC_PROTO_SMTPS);
}

/* ---- POP3 ------------------------------------------------------------------------------ */

static const char *const pop3_cmds[] = {
    "USER", "PASS", "APOP", "CAPA", "STLS", "AUTH", "QUIT", "STAT", "LIST", "RETR",
    "UIDL", "TOP",  "NOOP", "DELE", "RSET", "UTF8", "XTND", "LAST",
};

static mail_side_t pop3_judge(const uint8_t *p, size_t len)
{
    if (len > 0 && (p[0] == '+' || p[0] == '-')) {
        if (!prefix_ci(p, len, "+OK"))
            return SIDE_NO;
        if (len < 4)
            return SIDE_MAYBE;
        return p[3] == ' ' || p[3] == '\r' || p[3] == '\n' ? SIDE_SERVER : SIDE_NO;
    }
    return command_side(p, len, pop3_cmds, sizeof pop3_cmds / sizeof pop3_cmds[0]);
}

/* The greeting line must be complete: "+OK" alone is short. */
static bool pop3_decisive(text_t client, text_t server)
{
    (void)client;
    return server.len > 0 && dpi_line_len(server.p, server.len) >= 0;
}

/* Does a +OK reply to this command go on over several lines up to "."? (RFC 1939, RFC
 * 2449 for CAPA) */
static bool pop3_multiline(const uint8_t *l, size_t n)
{
    if (is_cmd(l, n, "CAPA") || is_cmd(l, n, "RETR") || is_cmd(l, n, "TOP"))
        return true;
    return (is_cmd(l, n, "LIST") || is_cmd(l, n, "UIDL")) && n == 4;
}

/*
 * The server's reply to command number @want (1-based; 0 is the greeting): whether it is
 * positive and the offset past it. @multi has a bit per command that answers on several
 * lines when positive. Returns 1 found, 0 not complete yet, -1 not POP3 replies.
 */
static int pop3_reply_nth(text_t s, unsigned want, uint32_t multi, bool *ok, size_t *end)
{
    lines_t it = {s.p, s.len, 0};
    const uint8_t *l;
    size_t n;
    for (unsigned idx = 0; idx <= want; idx++) {
        if (!line_next(&it, &l, &n))
            return 0;
        bool pos = dpi_starts_with_ci(l, n, "+OK");
        if (!pos && !dpi_starts_with_ci(l, n, "-ERR"))
            return -1;
        if (idx == want) {
            *ok = pos;
            *end = it.off;
            return 1;
        }
        if (pos && idx > 0 && idx < 32 && (multi & (1u << idx))) {
            do {
                if (!line_next(&it, &l, &n))
                    return 0;
            } while (!(n == 1 && l[0] == '.'));
        }
    }
    return 0;
}

static mail_walk_t pop3_walk(dpi_ctx_t *ctx, uint8_t *st)
{
    text_t c, s;
    mail_sides(ctx, st, &c, &s);
    lines_t it = {c.p, c.len, 0};
    const uint8_t *l;
    size_t n;
    unsigned k = 0;
    uint32_t multi = 0;
    while (line_next(&it, &l, &n) && k < MAIL_MAX_CMDS - 1) {
        k++;
        if (is_cmd(l, n, "STLS")) {
            bool ok;
            size_t end;
            int r = pop3_reply_nth(s, k, multi, &ok, &end);
            if (r == 0)
                return WALK_MORE;
            if (r < 0)
                return WALK_DONE;
            if (ok) {
                put16(st + 1, it.off);
                put16(st + 3, end);
                return WALK_UPGRADED;
            }
            continue;
        }
        if (pop3_multiline(l, n))
            multi |= 1u << k;
        /* Past the capability check the session is in clear for good. */
        if (!is_cmd(l, n, "CAPA") && !is_cmd(l, n, "NOOP"))
            return WALK_DONE;
    }
    return k >= MAIL_MAX_CMDS - 1 || c.len == DPI_STREAM_CAP ? WALK_DONE : WALK_MORE;
}

dpi_verdict_t dpi_pop3(dpi_ctx_t *ctx)
{
    uint8_t *st = ctx->scratch;
    if (!(st[0] & MAIL_MATCHED)) {
        dpi_verdict_t v = mail_recognise(ctx, st, pop3_judge, pop3_decisive, OC_PROTO_POP3);
        if (v != DPI_MATCH_MORE)
            return v;
    }
    if (st[0] & MAIL_UPGRADED)
        return mail_tls(ctx, st, OC_PROTO_POP3S);
    return mail_after(ctx, st, pop3_walk(ctx, st), OC_PROTO_POP3S);
}

/* ---- IMAP ------------------------------------------------------------------------------ */

/* Commands a client may open with (RFC 9051 section 6 and common extensions). */
static const char *const imap_cmds[] = {
    "CAPABILITY", "NOOP",   "LOGOUT", "STARTTLS", "AUTHENTICATE", "LOGIN",  "ID",
    "ENABLE",     "SELECT", "EXAMINE", "LIST",    "LSUB",         "STATUS", "NAMESPACE",
};

/* A tag: ASTRING-CHARs other than '+' (RFC 9051 section 9), bounded. */
static bool is_tag_char(uint8_t c)
{
    return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' && c != '%' && c != '*' &&
           c != '"' && c != '\\' && c != '+';
}

#define IMAP_TAG_MAX 64

/* Length of the tag at the start of [p, p + len) if a space follows it, else 0 (-1 when
 * the bytes so far could still be a tag). */
static long imap_tag(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len && i < IMAP_TAG_MAX && is_tag_char(p[i]))
        i++;
    if (i == len && i < IMAP_TAG_MAX)
        return -1;
    return i > 0 && i < len && p[i] == ' ' ? (long)i : 0;
}

static mail_side_t imap_judge(const uint8_t *p, size_t len)
{
    if (len > 0 && p[0] == '*') {
        if (prefix_ci(p, len, "* OK ") || prefix_ci(p, len, "* PREAUTH ") ||
            prefix_ci(p, len, "* BYE "))
            return len >= 5 ? SIDE_SERVER : SIDE_MAYBE;
        return SIDE_NO;
    }
    long t = imap_tag(p, len);
    if (t < 0)
        return SIDE_MAYBE;
    if (t == 0)
        return SIDE_NO;
    return command_side(p + t + 1, len - (size_t)t - 1, imap_cmds,
                        sizeof imap_cmds / sizeof imap_cmds[0]);
}

static bool imap_decisive(text_t client, text_t server)
{
    (void)client;
    return server.len > 0 && dpi_line_len(server.p, server.len) >= 0;
}

/* The tagged reply "tag OK" / "tag NO" / "tag BAD" to the command tagged @tag: 1 found
 * (sets *ok and *end), 0 not yet. */
static int imap_tagged(text_t s, const uint8_t *tag, size_t tag_len, bool *ok, size_t *end)
{
    lines_t it = {s.p, s.len, 0};
    const uint8_t *l;
    size_t n;
    while (line_next(&it, &l, &n)) {
        if (n > tag_len && memcmp(l, tag, tag_len) == 0 && l[tag_len] == ' ') {
            *ok = dpi_starts_with_ci(l + tag_len + 1, n - tag_len - 1, "OK");
            *end = it.off;
            return 1;
        }
    }
    return 0;
}

static mail_walk_t imap_walk(dpi_ctx_t *ctx, uint8_t *st)
{
    text_t c, s;
    mail_sides(ctx, st, &c, &s);
    lines_t it = {c.p, c.len, 0};
    const uint8_t *l;
    size_t n;
    unsigned k = 0;
    while (line_next(&it, &l, &n) && k < MAIL_MAX_CMDS) {
        k++;
        long t = imap_tag(l, n);
        if (t <= 0)
            return WALK_DONE;
        const uint8_t *cmd = l + t + 1;
        size_t cn = n - (size_t)t - 1;
        if (is_cmd(cmd, cn, "STARTTLS")) {
            bool ok;
            size_t end;
            if (imap_tagged(s, l, (size_t)t, &ok, &end) == 0)
                return WALK_MORE;
            if (ok) {
                put16(st + 1, it.off);
                put16(st + 3, end);
                return WALK_UPGRADED;
            }
            continue;
        }
        /* Anything past capability checks means the session stays in clear. */
        if (!is_cmd(cmd, cn, "CAPABILITY") && !is_cmd(cmd, cn, "NOOP") &&
            !is_cmd(cmd, cn, "ID"))
            return WALK_DONE;
    }
    return k >= MAIL_MAX_CMDS || c.len == DPI_STREAM_CAP ? WALK_DONE : WALK_MORE;
}

dpi_verdict_t dpi_imap(dpi_ctx_t *ctx)
{
    uint8_t *st = ctx->scratch;
    if (!(st[0] & MAIL_MATCHED)) {
        dpi_verdict_t v = mail_recognise(ctx, st, imap_judge, imap_decisive, OC_PROTO_IMAP);
        if (v != DPI_MATCH_MORE)
            return v;
    }
    if (st[0] & MAIL_UPGRADED)
        return mail_tls(ctx, st, OC_PROTO_IMAPS);
    return mail_after(ctx, st, imap_walk(ctx, st), OC_PROTO_IMAPS);
}
