/*
 * TLS and DTLS: recognition by the record and handshake headers of a ClientHello (or a
 * ServerHello, when the client's bytes were missed), and the handshake parser that fills
 * the TLS fields. The parser serves three callers: the TLS dissector below, the mail
 * dissectors after STARTTLS (dpi_tls_parse() in dpi.h) and QUIC, whose CRYPTO frames carry
 * the same ClientHello without records (dpi_tls_client_hello() in dpi_tls.h).
 *
 * From the client: the server name (SNI), ALPN list, highest offered version, JA3 (MD5 of
 * the classic string, GREASE values left out as JA3 does) and JA4 (FoxIO's specification:
 * sorted cipher and extension lists hashed with SHA-256). From the server: the chosen
 * version (the supported_versions extension wins over the legacy field), the cipher suite
 * and, up to TLS 1.2 where certificates travel in clear, the subject and issuer of the
 * first certificate, printed "C=US, O=DigiCert Inc, CN=..." in certificate order with the
 * attribute names nDPI prints (C, ST, L, O, OU, CN).
 *
 * TLS over TCP reads records across the direction's stream prefix (4 KB): a message may
 * span records and segments, so the handshake bytes are gathered first, then parsed. A
 * certificate cut by the cap still gives each name that is wholly visible. A stream that
 * starts after the handshake (the capture began late) is still TLS when it starts with
 * well-formed records, though without fields. TLS on the implicit-TLS mail ports is
 * labelled smtps/imaps/pop3s, as nDPI does. DTLS is read per datagram, with the server's
 * certificate gathered from its fragments. Every length read from the wire is checked
 * against what is there; nothing is allocated.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpi/dpi.h"
#include "dpi/dpi_crypto.h"
#include "dpi/dpi_tls.h"

/* Record content types and handshake message types (RFC 8446 B.1 and B.3, RFC 6347). */
enum { REC_CCS = 20, REC_ALERT = 21, REC_HANDSHAKE = 22, REC_APPDATA = 23, REC_HEARTBEAT = 24 };
enum {
    HS_CLIENT_HELLO = 1,
    HS_SERVER_HELLO = 2,
    HS_CERTIFICATE = 11,
    HS_SERVER_KEY_EXCHANGE = 12,
    HS_CERTIFICATE_REQUEST = 13,
    HS_SERVER_HELLO_DONE = 14,
};
enum {
    EXT_SNI = 0x0000,
    EXT_GROUPS = 0x000a,
    EXT_POINT_FORMATS = 0x000b,
    EXT_SIG_ALGS = 0x000d,
    EXT_ALPN = 0x0010,
    EXT_SUPPORTED_VERSIONS = 0x002b,
};

/* Largest record: 2^14 plaintext plus the expansion RFC 8446 5.2 allows. */
#define TLS_RECORD_MAX (16384 + 256)
/* Smallest ServerHello body (version, random, empty session id, cipher, compression). */
#define TLS_HELLO_MIN 38
/* Values kept to sort for JA4; a hello with more gets no JA4 (real ones have < 100). */
#define JA4_MAX_VALUES 512
/* Text of one certificate name. */
#define NAME_TEXT_MAX 512

/* ---- a bounded reader -------------------------------------------------------------------- */

typedef struct {
    const uint8_t *p, *end;
} cur_t;

static inline size_t cur_left(const cur_t *c)
{
    return (size_t)(c->end - c->p);
}

static bool cur_skip(cur_t *c, size_t n)
{
    if (cur_left(c) < n)
        return false;
    c->p += n;
    return true;
}

static bool cur_u8(cur_t *c, uint8_t *v)
{
    if (cur_left(c) < 1)
        return false;
    *v = c->p[0];
    c->p++;
    return true;
}

static bool cur_u16(cur_t *c, uint16_t *v)
{
    if (cur_left(c) < 2)
        return false;
    *v = dpi_be16(c->p);
    c->p += 2;
    return true;
}

/* A vector with a @width-byte length prefix (1, 2 or 3): *out spans its contents. */
static bool cur_vec(cur_t *c, unsigned width, cur_t *out)
{
    if (cur_left(c) < width)
        return false;
    size_t n = width == 1 ? c->p[0] : width == 2 ? dpi_be16(c->p) : dpi_be24(c->p);
    if (cur_left(c) - width < n)
        return false;
    out->p = c->p + width;
    out->end = out->p + n;
    c->p = out->end;
    return true;
}

/* ---- small helpers ----------------------------------------------------------------------- */

/* GREASE values (RFC 8701): 0x0a0a, 0x1a1a, ... 0xfafa. */
static inline bool is_grease(uint16_t v)
{
    return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

const char *dpi_tls_version_name(uint16_t v)
{
    switch (v) {
    case 0x0304: return "TLSv1.3";
    case 0x0303: return "TLSv1.2";
    case 0x0302: return "TLSv1.1";
    case 0x0301: return "TLSv1";
    case 0x0300: return "SSLv3";
    case 0x0002: return "SSLv2";
    case 0xfeff: return "DTLSv1.0";
    case 0xfefd: return "DTLSv1.2";
    case 0xfefc: return "DTLSv1.3";
    default: break;
    }
    return (v >> 8) == 0x7f ? "TLSv1.3 (draft)" : NULL;
}

/* Order for "highest version": DTLS numbers decrease as versions increase, and TLS 1.3
 * drafts (0x7fXX) come just below TLS 1.3. 0 for unknown values. */
static int version_rank(uint16_t v)
{
    switch (v) {
    case 0x0002: return 1;
    case 0x0300: return 2;
    case 0x0301: return 3;
    case 0x0302: case 0xfeff: return 4;
    case 0x0303: case 0xfefd: return 5;
    case 0x0304: case 0xfefc: return 7;
    default: break;
    }
    return (v >> 8) == 0x7f ? 6 : 0;
}

/* Stores wire text with control bytes replaced, so a field never carries them. */
static void field_set_text(dpi_ctx_t *ctx, oc_field_t field, const uint8_t *p, size_t n)
{
    char text[OC_FIELD_MAX_LEN];
    if (n > sizeof text)
        n = sizeof text;
    for (size_t i = 0; i < n; i++)
        text[i] = p[i] < 0x20 || p[i] == 0x7f ? '?' : (char)p[i];
    dpi_field_set(ctx, field, text, n);
}

static const char hexdig[] = "0123456789abcdef";

static void hex_encode(const uint8_t *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdig[in[i] >> 4];
        out[2 * i + 1] = hexdig[in[i] & 15];
    }
}

/* Finds extension @type in an extensions block; *data spans its body. */
static bool ext_find(cur_t exts, uint16_t type, cur_t *data)
{
    uint16_t t;
    cur_t body;
    while (cur_u16(&exts, &t) && cur_vec(&exts, 2, &body)) {
        if (t == type) {
            *data = body;
            return true;
        }
    }
    return false;
}

/* ---- ClientHello ------------------------------------------------------------------------- */

typedef struct {
    uint16_t version;     /* legacy_version */
    cur_t ciphers;        /* cipher_suites contents */
    cur_t exts;           /* extensions block contents (empty when absent) */
    bool exts_whole;      /* the extensions block is complete */
} client_hello_t;

static bool client_hello_split(const uint8_t *body, size_t len, bool complete,
                               dpi_tls_transport_t transport, client_hello_t *ch)
{
    cur_t c = {body, body + len};
    cur_t v, comp;
    memset(ch, 0, sizeof *ch);
    if (!cur_u16(&c, &ch->version) || (ch->version >> 8) == 0 || !cur_skip(&c, 32))
        return false;
    if (!cur_vec(&c, 1, &v) || cur_left(&v) > 32) /* session id */
        return false;
    if (transport == DPI_TLS_OVER_DTLS && !cur_vec(&c, 1, &v)) /* cookie */
        return false;
    if (!cur_vec(&c, 2, &ch->ciphers) || cur_left(&ch->ciphers) % 2 != 0 ||
        !cur_vec(&c, 1, &comp))
        return false;
    ch->exts.p = ch->exts.end = c.p;
    if (cur_left(&c) == 0) {
        ch->exts_whole = true;
        return true;
    }
    if (cur_vec(&c, 2, &ch->exts)) {
        ch->exts_whole = true;
        return true;
    }
    if (complete || cur_left(&c) < 2)
        return false;
    /* Cut by a cap: walk whatever extensions are wholly there. */
    ch->exts.p = c.p + 2;
    ch->exts.end = c.end;
    return true;
}

/* MD5 of "version,ciphers,extensions,groups,point formats" with decimal values joined by
 * '-' and GREASE values left out (JA3 as Salesforce published it). */
static void ja3_store(dpi_ctx_t *ctx, const client_hello_t *ch)
{
    dpi_hash_t h;
    char num[16];
    int n;
    uint16_t v;
    bool first;
    dpi_md5_init(&h);
    n = snprintf(num, sizeof num, "%u,", ch->version);
    dpi_md5_update(&h, num, (size_t)n);

    cur_t c = ch->ciphers;
    first = true;
    while (cur_u16(&c, &v)) {
        if (is_grease(v))
            continue;
        n = snprintf(num, sizeof num, first ? "%u" : "-%u", v);
        dpi_md5_update(&h, num, (size_t)n);
        first = false;
    }
    dpi_md5_update(&h, ",", 1);

    cur_t e = ch->exts, body;
    first = true;
    while (cur_u16(&e, &v) && cur_vec(&e, 2, &body)) {
        if (is_grease(v))
            continue;
        n = snprintf(num, sizeof num, first ? "%u" : "-%u", v);
        dpi_md5_update(&h, num, (size_t)n);
        first = false;
    }
    dpi_md5_update(&h, ",", 1);

    cur_t groups;
    if (ext_find(ch->exts, EXT_GROUPS, &body) && cur_vec(&body, 2, &groups)) {
        first = true;
        while (cur_u16(&groups, &v)) {
            if (is_grease(v))
                continue;
            n = snprintf(num, sizeof num, first ? "%u" : "-%u", v);
            dpi_md5_update(&h, num, (size_t)n);
            first = false;
        }
    }
    dpi_md5_update(&h, ",", 1);

    cur_t formats;
    if (ext_find(ch->exts, EXT_POINT_FORMATS, &body) && cur_vec(&body, 1, &formats)) {
        for (size_t i = 0; i < cur_left(&formats); i++) {
            n = snprintf(num, sizeof num, i == 0 ? "%u" : "-%u", formats.p[i]);
            dpi_md5_update(&h, num, (size_t)n);
        }
    }

    uint8_t md5[16];
    char hex[32];
    dpi_md5_final(&h, md5);
    hex_encode(md5, sizeof md5, hex);
    dpi_field_set(ctx, OC_FIELD_TLS_JA3, hex, sizeof hex);
}

static int u16_cmp(const void *a, const void *b)
{
    uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;
    return (x > y) - (x < y);
}

/* Appends "xxxx" values joined by ',' to a SHA-256. */
static void sha_hex_list(dpi_hash_t *h, const uint16_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char t[5];
        t[0] = ',';
        t[1] = hexdig[v[i] >> 12];
        t[2] = hexdig[(v[i] >> 8) & 15];
        t[3] = hexdig[(v[i] >> 4) & 15];
        t[4] = hexdig[v[i] & 15];
        dpi_sha256_update(h, i == 0 ? t + 1 : t, i == 0 ? 4 : 5);
    }
}

static const char *ja4_version(uint16_t v)
{
    switch (v) {
    case 0x0304: return "13";
    case 0x0303: return "12";
    case 0x0302: return "11";
    case 0x0301: return "10";
    case 0x0300: return "s3";
    case 0x0002: return "s2";
    case 0xfeff: return "d1";
    case 0xfefd: return "d2";
    case 0xfefc: return "d3";
    default: return "00";
    }
}

static bool is_alnum(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* JA4 (FoxIO, technical_details/JA4.md): a_b_c with
 * a = transport, version, d/i (SNI or not), cipher and extension counts, ALPN first and
 * last characters; b = truncated SHA-256 of the sorted ciphers; c = truncated SHA-256 of
 * the sorted extensions without SNI and ALPN, then '_' and the signature algorithms in
 * their order. GREASE values are ignored everywhere. */
static void ja4_store(dpi_ctx_t *ctx, const client_hello_t *ch, dpi_tls_transport_t transport)
{
    uint16_t ciphers[JA4_MAX_VALUES], exts[JA4_MAX_VALUES], sigs[JA4_MAX_VALUES];
    size_t n_ciphers = 0, n_exts_all = 0, n_exts = 0, n_sigs = 0;
    uint16_t v, version = ch->version, best = 0;
    bool sni = false;
    cur_t c = ch->ciphers, e = ch->exts, body, list, alpn = {NULL, NULL};

    while (cur_u16(&c, &v)) {
        if (is_grease(v))
            continue;
        if (n_ciphers == JA4_MAX_VALUES)
            return;
        ciphers[n_ciphers++] = v;
    }
    uint16_t type;
    while (cur_u16(&e, &type) && cur_vec(&e, 2, &body)) {
        if (is_grease(type))
            continue;
        n_exts_all++;
        if (type == EXT_SNI) {
            sni = true;
        } else if (type == EXT_ALPN) {
            if (alpn.p == NULL && cur_vec(&body, 2, &list))
                cur_vec(&list, 1, &alpn);
        } else {
            if (n_exts == JA4_MAX_VALUES)
                return;
            exts[n_exts++] = type;
        }
        if (type == EXT_SIG_ALGS && n_sigs == 0 && cur_vec(&body, 2, &list)) {
            while (cur_u16(&list, &v)) {
                if (is_grease(v))
                    continue;
                if (n_sigs == JA4_MAX_VALUES)
                    return;
                sigs[n_sigs++] = v;
            }
        }
        if (type == EXT_SUPPORTED_VERSIONS && cur_vec(&body, 1, &list)) {
            while (cur_u16(&list, &v))
                if (!is_grease(v) && v > best)
                    best = v;
        }
    }
    if (best != 0)
        version = best;

    char out[10 + 1 + 12 + 1 + 12];
    char *a = out;
    a[0] = (char)transport;
    memcpy(a + 1, ja4_version(version), 2);
    a[3] = sni ? 'd' : 'i';
    size_t nc = n_ciphers > 99 ? 99 : n_ciphers, ne = n_exts_all > 99 ? 99 : n_exts_all;
    a[4] = (char)('0' + nc / 10);
    a[5] = (char)('0' + nc % 10);
    a[6] = (char)('0' + ne / 10);
    a[7] = (char)('0' + ne % 10);
    size_t an = cur_left(&alpn);
    if (alpn.p == NULL || an == 0) {
        a[8] = a[9] = '0';
    } else if (is_alnum(alpn.p[0]) && is_alnum(alpn.p[an - 1])) {
        a[8] = (char)alpn.p[0];
        a[9] = (char)alpn.p[an - 1];
    } else {
        a[8] = hexdig[alpn.p[0] >> 4];
        a[9] = hexdig[alpn.p[an - 1] & 15];
    }
    out[10] = '_';
    out[23] = '_';

    uint8_t sha[32];
    dpi_hash_t h;
    if (n_ciphers == 0) {
        memset(out + 11, '0', 12);
    } else {
        qsort(ciphers, n_ciphers, sizeof ciphers[0], u16_cmp);
        dpi_sha256_init(&h);
        sha_hex_list(&h, ciphers, n_ciphers);
        dpi_sha256_final(&h, sha);
        hex_encode(sha, 6, out + 11);
    }
    if (n_exts == 0) {
        memset(out + 24, '0', 12);
    } else {
        qsort(exts, n_exts, sizeof exts[0], u16_cmp);
        dpi_sha256_init(&h);
        sha_hex_list(&h, exts, n_exts);
        if (n_sigs > 0) {
            dpi_sha256_update(&h, "_", 1);
            sha_hex_list(&h, sigs, n_sigs);
        }
        dpi_sha256_final(&h, sha);
        hex_encode(sha, 6, out + 24);
    }
    dpi_field_set(ctx, OC_FIELD_TLS_JA4, out, sizeof out);
}

bool dpi_tls_client_hello(dpi_ctx_t *ctx, const uint8_t *body, size_t len, bool complete,
                          dpi_tls_transport_t transport)
{
    client_hello_t ch;
    if (!client_hello_split(body, len, complete, transport, &ch))
        return false;

    uint16_t t, v, best = 0;
    cur_t e = ch.exts, ext, list, name;
    while (cur_u16(&e, &t) && cur_vec(&e, 2, &ext)) {
        switch (t) {
        case EXT_SNI: {
            uint8_t type;
            if (cur_vec(&ext, 2, &list) && cur_u8(&list, &type) && type == 0 &&
                cur_vec(&list, 2, &name) && cur_left(&name) > 0)
                field_set_text(ctx, OC_FIELD_TLS_SNI, name.p, cur_left(&name));
            break;
        }
        case EXT_ALPN: {
            char text[OC_FIELD_MAX_LEN];
            size_t n = 0;
            if (!cur_vec(&ext, 2, &list))
                break;
            while (cur_vec(&list, 1, &name)) {
                size_t k = cur_left(&name);
                if (k == 0 || n + (n > 0) + k > sizeof text)
                    break;
                if (n > 0)
                    text[n++] = ',';
                for (size_t i = 0; i < k; i++)
                    text[n++] = name.p[i] < 0x20 || name.p[i] == 0x7f ? '?' : (char)name.p[i];
            }
            dpi_field_set(ctx, OC_FIELD_TLS_ALPN, text, n);
            break;
        }
        case EXT_SUPPORTED_VERSIONS:
            if (!cur_vec(&ext, 1, &list))
                break;
            while (cur_u16(&list, &v))
                if (!is_grease(v) && version_rank(v) > version_rank(best))
                    best = v;
            break;
        default:
            break;
        }
    }
    /* A cut hello may have lost its supported_versions: say nothing rather than less. */
    if (best == 0 && ch.exts_whole)
        best = ch.version;
    const char *name_text = best != 0 ? dpi_tls_version_name(best) : NULL;
    if (name_text != NULL)
        dpi_field_set_str(ctx, OC_FIELD_TLS_CLIENT_VERSION, name_text);

    if (complete && ch.exts_whole && dpi_crypto_available) {
        ja3_store(ctx, &ch);
        ja4_store(ctx, &ch, transport);
    }
    return true;
}

/* ---- ServerHello ------------------------------------------------------------------------- */

/* Stores the chosen version and cipher. Returns the chosen version, 0 if malformed. */
static uint16_t server_hello(dpi_ctx_t *ctx, const uint8_t *body, size_t len)
{
    cur_t c = {body, body + len}, sid, exts, ext;
    uint16_t version, cipher, t, selected = 0;
    uint8_t comp;
    if (!cur_u16(&c, &version) || !cur_skip(&c, 32) || !cur_vec(&c, 1, &sid) ||
        cur_left(&sid) > 32 || !cur_u16(&c, &cipher) || !cur_u8(&c, &comp))
        return 0;
    if (cur_vec(&c, 2, &exts)) {
        while (cur_u16(&exts, &t) && cur_vec(&exts, 2, &ext))
            if (t == EXT_SUPPORTED_VERSIONS && cur_left(&ext) == 2)
                selected = dpi_be16(ext.p);
    }
    if (selected != 0)
        version = selected;
    const char *name = dpi_tls_version_name(version);
    if (name != NULL)
        dpi_field_set_str(ctx, OC_FIELD_TLS_VERSION, name);
    dpi_field_set_uint(ctx, OC_FIELD_TLS_CIPHER, cipher);
    return version;
}

/* ---- certificate names (X.509 in DER, read only as deep as the names) ----------------- */

/* Reads one DER element at *c. *content spans its value, cut to what is there; *cut says
 * whether it was cut. False when not even the tag and length are there. */
static bool der_next(cur_t *c, uint8_t *tag, cur_t *content, bool *cut)
{
    uint8_t t, l;
    if (!cur_u8(c, &t) || !cur_u8(c, &l))
        return false;
    size_t n = l;
    if (l & 0x80) {
        unsigned k = l & 0x7f;
        if (k == 0 || k > 3 || cur_left(c) < k)
            return false;
        n = 0;
        for (unsigned i = 0; i < k; i++)
            n = n << 8 | c->p[i];
        c->p += k;
    }
    *tag = t;
    *cut = n > cur_left(c);
    content->p = c->p;
    content->end = *cut ? c->end : c->p + n;
    c->p = content->end;
    return true;
}

/* Short names nDPI prints for the attributes 2.5.4.x of a distinguished name. */
static const char *rdn_label(const cur_t *oid)
{
    if (cur_left(oid) != 3 || oid->p[0] != 0x55 || oid->p[1] != 0x04)
        return NULL;
    switch (oid->p[2]) {
    case 3: return "CN";
    case 6: return "C";
    case 7: return "L";
    case 8: return "ST";
    case 10: return "O";
    case 11: return "OU";
    default: return NULL;
    }
}

/* Prints a Name (the contents of its SEQUENCE) as "C=US, O=..., CN=..." into text; only
 * attributes wholly present are printed. Returns the length. */
static size_t name_print(cur_t name, char *text, size_t cap)
{
    size_t n = 0;
    uint8_t tag;
    cur_t set, atv, oid, value;
    bool cut;
    while (der_next(&name, &tag, &set, &cut) && tag == 0x31 && !cut) {
        while (der_next(&set, &tag, &atv, &cut) && tag == 0x30 && !cut) {
            if (!der_next(&atv, &tag, &oid, &cut) || tag != 0x06 || cut)
                break;
            const char *label = rdn_label(&oid);
            if (!der_next(&atv, &tag, &value, &cut) || cut)
                break;
            /* UTF8String, PrintableString, TeletexString, IA5String, VisibleString. */
            if (label == NULL || (tag != 0x0c && tag != 0x13 && tag != 0x14 && tag != 0x16 &&
                                  tag != 0x1a))
                continue;
            size_t ll = strlen(label), vl = cur_left(&value);
            if (n + (n > 0 ? 2 : 0) + ll + 1 + vl > cap)
                return n;
            if (n > 0) {
                text[n++] = ',';
                text[n++] = ' ';
            }
            memcpy(text + n, label, ll);
            n += ll;
            text[n++] = '=';
            for (size_t i = 0; i < vl; i++)
                text[n++] = value.p[i] < 0x20 || value.p[i] == 0x7f ? '?' : (char)value.p[i];
        }
    }
    return n;
}

/* Issuer and subject of the DER certificate at [p, p + len), which may be cut short: a
 * name is stored only if it is wholly there. Returns whether the subject was stored. */
static bool cert_names(dpi_ctx_t *ctx, const uint8_t *p, size_t len)
{
    cur_t c = {p, p + len}, cert, tbs, skip, name;
    uint8_t tag;
    bool cut;
    char text[NAME_TEXT_MAX];
    if (!der_next(&c, &tag, &cert, &cut) || tag != 0x30 ||
        !der_next(&cert, &tag, &tbs, &cut) || tag != 0x30)
        return false;
    if (!der_next(&tbs, &tag, &skip, &cut) || cut)
        return false;
    if (tag == 0xa0 && (!der_next(&tbs, &tag, &skip, &cut) || cut)) /* version, serial */
        return false;
    if (tag != 0x02 || !der_next(&tbs, &tag, &skip, &cut) || cut || tag != 0x30) /* sig alg */
        return false;
    if (!der_next(&tbs, &tag, &name, &cut) || tag != 0x30 || cut) /* issuer */
        return false;
    size_t n = name_print(name, text, sizeof text);
    dpi_field_set(ctx, OC_FIELD_TLS_CERT_ISSUER, text, n);
    if (!der_next(&tbs, &tag, &skip, &cut) || cut || tag != 0x30) /* validity */
        return false;
    if (!der_next(&tbs, &tag, &name, &cut) || tag != 0x30 || cut) /* subject */
        return false;
    n = name_print(name, text, sizeof text);
    dpi_field_set(ctx, OC_FIELD_TLS_CERT_SUBJECT, text, n);
    return true;
}

/* The Certificate message body (TLS <= 1.2): the first certificate is the server's. */
static bool certificate(dpi_ctx_t *ctx, const uint8_t *body, size_t len)
{
    if (len < 6)
        return false;
    size_t n = dpi_be24(body + 3);
    size_t avail = len - 6;
    return cert_names(ctx, body + 6, n < avail ? n : avail);
}

/* ---- handshake messages of one direction ------------------------------------------------ */

/* Result bits of parsing one direction. */
enum {
    TLS_R_HELLO = 1u << 0,  /* the ClientHello or ServerHello was parsed */
    TLS_R_DONE = 1u << 1,   /* nothing more to learn from this direction */
};

/* Per-direction state while walking messages. */
typedef struct {
    bool client;
    bool final;               /* no more bytes will come */
    dpi_tls_transport_t transport;
    bool server_hello;        /* ServerHello seen */
    unsigned result;
} hs_walk_t;

/* One handshake message (or, for DTLS, its first fragment): @avail of its @full bytes are
 * at @body. Returns false when the walk should stop. */
static bool hs_message(dpi_ctx_t *ctx, hs_walk_t *w, uint8_t type, const uint8_t *body,
                       size_t avail, size_t full)
{
    bool whole = avail == full;
    if (w->client) {
        /* The client's first message is its hello; anything else ends the interest. */
        if (type == HS_CLIENT_HELLO && (whole || w->final)) {
            if (dpi_tls_client_hello(ctx, body, avail, whole, w->transport))
                w->result |= TLS_R_HELLO;
            w->result |= TLS_R_DONE;
        } else if (type != HS_CLIENT_HELLO) {
            w->result |= TLS_R_DONE;
        }
        return false;
    }
    switch (type) {
    case HS_SERVER_HELLO: {
        if (!whole && !w->final)
            return false;
        uint16_t v = server_hello(ctx, body, avail);
        w->server_hello = true;
        w->result |= TLS_R_HELLO;
        /* TLS 1.3 encrypts everything after the ServerHello. */
        if (v == 0 || v == 0x0304 || v == 0xfefc || (v >> 8) == 0x7f) {
            w->result |= TLS_R_DONE;
            return false;
        }
        return true;
    }
    case HS_CERTIFICATE:
        if (certificate(ctx, body, avail) || whole || w->final)
            w->result |= TLS_R_DONE;
        return false;
    case HS_SERVER_KEY_EXCHANGE:
    case HS_CERTIFICATE_REQUEST:
    case HS_SERVER_HELLO_DONE:
        /* Past the place of a certificate: there was none to see. */
        if (w->server_hello)
            w->result |= TLS_R_DONE;
        return false;
    default:
        return true; /* HelloVerifyRequest, CertificateStatus, ... */
    }
}

/* TLS over a byte stream: gathers handshake record contents, then walks the messages. */
static unsigned tls_stream_walk(dpi_ctx_t *ctx, const uint8_t *p, size_t len, bool client,
                                bool final)
{
    uint8_t hs[DPI_STREAM_CAP];
    size_t hs_len = 0, off = 0;
    bool other_record = false, garbage = false;
    while (off + 5 <= len) {
        uint8_t type = p[off];
        uint16_t rlen = dpi_be16(p + off + 3);
        if (type < REC_CCS || type > REC_HEARTBEAT || p[off + 1] != 3 || p[off + 2] > 4 ||
            rlen > TLS_RECORD_MAX) {
            garbage = true; /* not (or no longer) TLS records: nothing more to learn */
            break;
        }
        if (type == REC_ALERT && hs_len == 0 && off + 5u + rlen <= len) {
            off += 5u + rlen; /* a warning before the hellos (unrecognized_name) */
            continue;
        }
        if (type != REC_HANDSHAKE) {
            other_record = true;
            break;
        }
        size_t avail = len - off - 5 < rlen ? len - off - 5 : rlen;
        if (avail > sizeof hs - hs_len)
            avail = sizeof hs - hs_len;
        memcpy(hs + hs_len, p + off + 5, avail);
        hs_len += avail;
        if (avail < rlen)
            break;
        off += 5u + rlen;
    }

    hs_walk_t w = {.client = client, .final = final, .transport = DPI_TLS_OVER_TCP};
    size_t m = 0;
    while (m + 4 <= hs_len) {
        size_t full = dpi_be24(hs + m + 1);
        size_t avail = hs_len - m - 4 < full ? hs_len - m - 4 : full;
        /* A message cut where the records stop is whole once no more bytes can come. */
        bool go = hs_message(ctx, &w, hs[m], hs + m + 4, avail, full);
        if (!go || avail < full)
            break;
        m += 4 + full;
    }
    if (final || garbage || (other_record && (w.server_hello || client)))
        w.result |= TLS_R_DONE;
    return w.result;
}

bool dpi_tls_parse(dpi_ctx_t *ctx, const uint8_t *p, size_t len, bool client)
{
    if (p == NULL)
        return false;
    return (tls_stream_walk(ctx, p, len, client, ctx->stream_full) & TLS_R_DONE) != 0;
}

/* ---- TLS over TCP ---------------------------------------------------------------------- */

/* Scratch byte 0 of the TLS and DTLS dissectors. */
enum {
    SC_MATCHED = 1u << 0,
    SC_CLIENT_IS_1 = 1u << 1,   /* the client is direction 1 (it sent the hello second) */
    SC_DONE_0 = 1u << 2,        /* direction 0 has given all it can */
    SC_DONE_1 = 1u << 3,
};

/* A record header, then a hello's handshake header and version:
 * 16 03 0X | len | 01/02 | len24 | 03 0X. Sets *hello to the message type. */
static dpi_verdict_t tls_recognise(const uint8_t *p, size_t len, bool final, uint8_t *hello)
{
    static const size_t need = 11;
    if (len >= 1 && p[0] != REC_HANDSHAKE)
        return DPI_NO;
    if (len >= 3 && (p[1] != 3 || p[2] > 4))
        return DPI_NO;
    if (len >= 5 && (dpi_be16(p + 3) < 4 || dpi_be16(p + 3) > TLS_RECORD_MAX))
        return DPI_NO;
    if (len >= 6 && p[5] != HS_CLIENT_HELLO && p[5] != HS_SERVER_HELLO)
        return DPI_NO;
    if (len >= 9 && dpi_be24(p + 6) < TLS_HELLO_MIN)
        return DPI_NO;
    if (len >= 11 && (p[9] != 3 || p[10] > 4))
        return DPI_NO;
    if (len < need)
        return final ? DPI_NO : DPI_MAYBE;
    *hello = p[5];
    return DPI_MATCH;
}

/*
 * A stream whose capture began after the handshake: records from the first byte, the
 * first one (ChangeCipherSpec, alert or application data: a handshake record there is
 * tls_recognise()'s) complete and followed exactly by the end of the data or by another
 * valid record header. Three fixed header bytes plus a length that must land on the data's
 * end make a chance match negligible. Only this direction is looked at: a capture that
 * starts inside a record is not recognised.
 */
static dpi_verdict_t tls_midstream(const uint8_t *p, size_t len, bool final)
{
    size_t off = 0, complete = 0;
    if (len > 0 && p[0] == REC_HANDSHAKE)
        return DPI_NO;
    while (off + 5 <= len) {
        uint16_t rlen = dpi_be16(p + off + 3);
        if (p[off] < REC_CCS || p[off] > REC_APPDATA || p[off + 1] != 3 || p[off + 2] > 4 ||
            rlen == 0 || rlen > TLS_RECORD_MAX)
            return DPI_NO;
        if (len - off - 5 < rlen)
            break;
        off += 5u + rlen;
        complete++;
    }
    if (complete > 0 && (off == len || off + 5 <= len))
        return DPI_MATCH;
    if (complete == 0 && off < len && len - off < 5) {
        /* Not even a header yet: check the bytes that are there. */
        if (p[0] < REC_CCS || p[0] > REC_APPDATA || (len > 1 && p[1] != 3) ||
            (len > 2 && p[2] > 4))
            return DPI_NO;
    }
    return final ? DPI_NO : DPI_MAYBE;
}

/* TLS on the ports of implicit-TLS mail is labelled as that mail protocol, as nDPI does
 * (its ndpi_tls_refine_master_protocol): the payload says TLS, the port says which. */
static uint16_t tls_label(const dpi_ctx_t *ctx)
{
    uint16_t ports[2] = {ctx->sport, ctx->dport};
    for (int i = 0; i < 2; i++) {
        if (ports[i] == 465 || ports[i] == 587)
            return OC_PROTO_SMTPS;
        if (ports[i] == 993)
            return OC_PROTO_IMAPS;
        if (ports[i] == 995)
            return OC_PROTO_POP3S;
    }
    return OC_PROTO_TLS;
}

/* Shared by TLS and DTLS once the flow is recognised: parses this packet's direction
 * unless done, and says whether both directions are done. */
static dpi_verdict_t after_match(dpi_ctx_t *ctx, unsigned result)
{
    uint8_t *st = ctx->scratch;
    if (result & TLS_R_DONE)
        st[0] |= ctx->dir == 0 ? SC_DONE_0 : SC_DONE_1;
    if ((st[0] & (SC_DONE_0 | SC_DONE_1)) == (SC_DONE_0 | SC_DONE_1))
        return DPI_MATCH;
    return DPI_MATCH_MORE;
}

dpi_verdict_t dpi_tls(dpi_ctx_t *ctx)
{
    uint8_t *st = ctx->scratch;
    if (!(st[0] & SC_MATCHED)) {
        uint8_t hello = 0;
        dpi_verdict_t v = tls_recognise(ctx->data, ctx->len, ctx->stream_full, &hello);
        if (v == DPI_NO) {
            /* No hello: perhaps the capture began after the handshake. No fields then. */
            v = tls_midstream(ctx->data, ctx->len, ctx->stream_full);
            if (v == DPI_MATCH)
                ctx->proto = tls_label(ctx);
            return v;
        }
        if (v != DPI_MATCH)
            return v;
        bool client_is_1 = (ctx->dir == 1) == (hello == HS_CLIENT_HELLO);
        st[0] = (uint8_t)(SC_MATCHED | (client_is_1 ? SC_CLIENT_IS_1 : 0));
        ctx->proto = tls_label(ctx);
    }
    if (ctx->fields == NULL)
        return DPI_MATCH;
    if (st[0] & (ctx->dir == 0 ? SC_DONE_0 : SC_DONE_1))
        return after_match(ctx, 0);
    bool client = (ctx->dir == 1) == ((st[0] & SC_CLIENT_IS_1) != 0);
    return after_match(ctx, tls_stream_walk(ctx, ctx->data, ctx->len, client, ctx->stream_full));
}

/* ---- DTLS ------------------------------------------------------------------------------ */

/* DTLS record versions: 1.0 (0xfeff), 1.2 (0xfefd), 1.3 (0xfefc). */
static inline bool dtls_version_ok(const uint8_t *p)
{
    return p[0] == 0xfe && (p[1] == 0xff || p[1] == 0xfd || p[1] == 0xfc);
}

/* A fragment of the server's Certificate message. Servers fragment it to the path MTU and
 * send the fragments in order, so they are appended in the direction's UDP buffer until
 * the names show (a fragment that does not continue the buffer is ignored). Returns
 * whether the certificate is done with. */
static bool dtls_cert_fragment(dpi_ctx_t *ctx, size_t frag_off, const uint8_t *frag, size_t n,
                               size_t full)
{
    size_t have = frag_off == 0 ? 0 : *ctx->buf_len;
    if (frag_off > have || frag_off >= DPI_STREAM_CAP)
        return false;
    size_t end = frag_off + n < DPI_STREAM_CAP ? frag_off + n : DPI_STREAM_CAP;
    if (end <= have)
        return false;
    memcpy(ctx->buf + frag_off, frag, end - frag_off);
    *ctx->buf_len = (uint32_t)end;
    return certificate(ctx, ctx->buf, end) || end >= full || end == DPI_STREAM_CAP;
}

/* Walks the records of one datagram; each handshake fragment that starts its message is
 * parsed, and the server's certificate is gathered from its fragments. */
static unsigned dtls_datagram_walk(dpi_ctx_t *ctx, const uint8_t *p, size_t len, bool client)
{
    /* A fragment is all a datagram gives of its message: parse what is there. */
    hs_walk_t w = {.client = client, .final = true, .transport = DPI_TLS_OVER_DTLS};
    size_t off = 0;
    while (off + 13 <= len && dtls_version_ok(p + off + 1)) {
        uint8_t type = p[off];
        size_t rlen = dpi_be16(p + off + 11);
        size_t ravail = len - off - 13 < rlen ? len - off - 13 : rlen;
        /* Epoch 0 only: later epochs are encrypted. */
        if (type != REC_HANDSHAKE || dpi_be16(p + off + 3) != 0)
            break;
        const uint8_t *rec = p + off + 13;
        size_t m = 0;
        while (m + 12 <= ravail) {
            size_t full = dpi_be24(rec + m + 1);
            size_t frag_off = dpi_be24(rec + m + 6);
            size_t frag_len = dpi_be24(rec + m + 9);
            size_t avail = ravail - m - 12 < frag_len ? ravail - m - 12 : frag_len;
            if (frag_len > full || frag_off > full - frag_len)
                return w.result; /* malformed */
            if (!client && rec[m] == HS_CERTIFICATE && ctx->buf != NULL && ctx->buf_len != NULL) {
                if (dtls_cert_fragment(ctx, frag_off, rec + m + 12, avail, full))
                    return w.result | TLS_R_DONE;
            } else if (frag_off == 0 && !hs_message(ctx, &w, rec[m], rec + m + 12, avail, full)) {
                return w.result;
            }
            if (avail < frag_len)
                break;
            m += 12 + frag_len;
        }
        off += 13 + rlen;
    }
    return w.result;
}

/* 16 fe XX | epoch 0 | seq | len | 01/02/03 | len24 | msg seq | frag off | frag len |
 * fe XX (the hello's version). */
static dpi_verdict_t dtls_recognise(const uint8_t *p, size_t len, uint8_t *hello)
{
    if (len < 27 || p[0] != REC_HANDSHAKE || !dtls_version_ok(p + 1) || dpi_be16(p + 3) != 0)
        return DPI_NO;
    size_t rlen = dpi_be16(p + 11);
    uint8_t type = p[13];
    if (rlen < 12 + 2 || (type != HS_CLIENT_HELLO && type != HS_SERVER_HELLO && type != 3))
        return DPI_NO;
    if (dpi_be24(p + 14) < 2 || dpi_be24(p + 19) > dpi_be24(p + 14) ||
        dpi_be24(p + 22) > dpi_be24(p + 14) || !dtls_version_ok(p + 25))
        return DPI_NO;
    *hello = type;
    return DPI_MATCH;
}

dpi_verdict_t dpi_dtls(dpi_ctx_t *ctx)
{
    uint8_t *st = ctx->scratch;
    if (!(st[0] & SC_MATCHED)) {
        uint8_t hello = 0;
        if (dtls_recognise(ctx->data, ctx->len, &hello) != DPI_MATCH)
            return DPI_NO;
        bool client_is_1 = (ctx->dir == 1) == (hello == HS_CLIENT_HELLO);
        st[0] = (uint8_t)(SC_MATCHED | (client_is_1 ? SC_CLIENT_IS_1 : 0));
        ctx->proto = OC_PROTO_DTLS;
    }
    if (ctx->fields == NULL)
        return DPI_MATCH;
    if (st[0] & (ctx->dir == 0 ? SC_DONE_0 : SC_DONE_1))
        return after_match(ctx, 0);
    bool client = (ctx->dir == 1) == ((st[0] & SC_CLIENT_IS_1) != 0);
    return after_match(ctx, dtls_datagram_walk(ctx, ctx->data, ctx->len, client));
}
