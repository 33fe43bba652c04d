/*
 * The INI file and the long options named after its keys.
 *
 * One table describes every key: section, name, long option, type, range and where the value
 * goes, so the file, the command line, --help and the error messages cannot disagree. GKeyFile
 * reads the values, but it keeps no line numbers and silently lets a repeated key win, so a
 * first pass indexes the lines itself: each section and key is remembered with its line, and
 * repeats, unknown names and malformed lines fail with the file and line in the message.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg.h"

G_DEFINE_QUARK(cfg-error-quark, cfg_error)

typedef enum { T_UINT32, T_UINT64, T_BOOL, T_STRING, T_TUNNELS, T_LOG } key_type_t;

typedef enum { SEC_CAPTURE, SEC_FLOW, SEC_DPI, SEC_EXPORT, SEC_DAEMON, SEC_OUTPUT, SEC_N } section_t;

static const char *const section_names[SEC_N] = {"capture", "flow", "dpi", "export", "daemon",
                                                 "output"};

/* Where an [output] value goes: a field of exp_output_cfg_t, or one of the string arrays. */
enum { OUT_URI = -1, OUT_TEMPLATE = -2 };

typedef struct {
    section_t section;
    const char *key;
    const char *option; /* long option, NULL for [output] keys (per section, INI only) */
    key_type_t type;
    uint64_t min, max;
    bool zero_ok;       /* 0 allowed besides min..max ("off") */
    ptrdiff_t offset;   /* into cfg_t, or exp_output_cfg_t for [output]; OUT_* for strings */
    const char *arg;
    const char *help;
} key_def_t;

#define CFG_OFF(f) ((ptrdiff_t)offsetof(cfg_t, f))
#define OUT_OFF(f) ((ptrdiff_t)offsetof(exp_output_cfg_t, f))

static const key_def_t keys[] = {
    {SEC_CAPTURE, "interface", "interface", T_STRING, 0, 0, false, CFG_OFF(interface), "IFACE",
     "capture live on this interface"},
    {SEC_CAPTURE, "filter", "filter", T_STRING, 0, 0, false, CFG_OFF(filter), "BPF",
     "BPF filter expression"},
    {SEC_CAPTURE, "snaplen", "snaplen", T_UINT32, 64, 262144, false, CFG_OFF(snaplen), "BYTES",
     "bytes captured per packet (65535)"},
    {SEC_CAPTURE, "promiscuous", "promiscuous", T_BOOL, 0, 1, false, CFG_OFF(promiscuous), "BOOL",
     "put the interface in promiscuous mode (true)"},
    {SEC_CAPTURE, "buffer_size", "buffer-size", T_UINT32, 1, 2047, false, CFG_OFF(buffer_size_mib),
     "MIB", "kernel capture buffer in MiB (32)"},
    {SEC_CAPTURE, "workers", "workers", T_UINT32, 1, 64, false, CFG_OFF(workers), "N",
     "flow engines on N threads, each flow on one (1: capture thread only)"},
    {SEC_FLOW, "idle_timeout", "idle-timeout", T_UINT32, 1, 86400, false,
     CFG_OFF(flow.idle_timeout_s), "S", "end a flow after S seconds without packets (30)"},
    {SEC_FLOW, "active_timeout", "active-timeout", T_UINT32, 1, 604800, false,
     CFG_OFF(flow.active_timeout_s), "S", "cut a record after S seconds (300)"},
    {SEC_FLOW, "tcp_linger", "tcp-linger", T_UINT32, 0, 3600, false, CFG_OFF(flow.tcp_linger_s),
     "S", "keep a closed TCP flow S seconds for trailing packets (2)"},
    {SEC_FLOW, "max_flows", "max-flows", T_UINT32, 16, UINT32_C(1) << 26, false,
     CFG_OFF(flow.max_flows), "N", "flows kept at once (262144)"},
    {SEC_FLOW, "max_record_octets", "max-record-octets", T_UINT64, 65535, INT64_MAX, true,
     CFG_OFF(flow.max_record_octets), "OCTETS",
     "cut a record before a direction passes OCTETS, 0 = off (0)"},
    {SEC_FLOW, "tunnels", "tunnels", T_TUNNELS, 0, 1, false, CFG_OFF(flow.tunnels_outer),
     "inner|outer", "key tunnelled flows on the inner or the outer IP header (inner)"},
    {SEC_FLOW, "max_frag_datagrams", "max-frag-datagrams", T_UINT32, 0, UINT32_C(1) << 20, false,
     CFG_OFF(flow.max_frag_datagrams), "N",
     "IP datagrams whose fragments are tracked at once, 0 = off (1024)"},
    {SEC_FLOW, "frag_timeout", "frag-timeout", T_UINT32, 1, 3600, false,
     CFG_OFF(flow.frag_timeout_s), "S", "how long a datagram's fragments are tracked (30)"},
    {SEC_DPI, "enabled", "dpi", T_BOOL, 0, 1, false, CFG_OFF(flow.dpi), "BOOL",
     "identify application protocols from payload; --no-dpi turns it off (true)"},
    {SEC_DPI, "max_inspect", "dpi-max-inspect", T_UINT32, 0, UINT32_C(1) << 24, false,
     CFG_OFF(flow.dpi_max_inspect), "N", "flows whose payload is inspected at once (16384)"},
    {SEC_DPI, "max_fields", "dpi-max-fields", T_UINT32, 0, UINT32_C(1) << 26, false,
     CFG_OFF(flow.dpi_max_fields), "N", "flows that keep extracted fields at once (65536)"},
    {SEC_EXPORT, "observation_domain", "observation-domain", T_UINT32, 0, UINT32_MAX, false,
     CFG_OFF(observation_domain), "ID", "IPFIX observation domain id (1)"},
    {SEC_EXPORT, "template_refresh", "template-refresh", T_UINT32, 1, 86400, false,
     CFG_OFF(template_refresh_s), "S", "re-send templates over UDP every S seconds (60)"},
    {SEC_EXPORT, "shutdown_timeout", "shutdown-timeout", T_UINT32, 0, 3600, false,
     CFG_OFF(shutdown_timeout_s), "S", "time each output gets to deliver at exit (10)"},
    {SEC_DAEMON, "user", "user", T_STRING, 0, 0, false, CFG_OFF(user), "USER",
     "drop privileges to USER after opening capture and outputs"},
    {SEC_DAEMON, "pid_file", "pid-file", T_STRING, 0, 0, false, CFG_OFF(pid_file), "PATH",
     "write the process id to PATH"},
    {SEC_DAEMON, "log", "log", T_LOG, 0, 1, false, CFG_OFF(log_syslog), "stderr|syslog",
     "send log lines to standard error or to syslog (stderr)"},
    {SEC_DAEMON, "stats_interval", "stats-interval", T_UINT32, 1, 86400, true,
     CFG_OFF(stats_interval_s), "S", "log a statistics line every S seconds, 0 = off (60)"},
    {SEC_OUTPUT, "uri", NULL, T_STRING, 0, 0, false, OUT_URI, "URI",
     "json:PATH, file:PATH, udp://HOST:PORT or tcp://HOST:PORT (required)"},
    {SEC_OUTPUT, "template", NULL, T_STRING, 0, 0, false, OUT_TEMPLATE, "NAME|PATH",
     "IPFIX template (default)"},
    {SEC_OUTPUT, "uniflow", NULL, T_BOOL, 0, 1, false, OUT_OFF(uniflow), "BOOL",
     "two one-way records per biflow (false)"},
    {SEC_OUTPUT, "observation_domain", NULL, T_UINT32, 0, UINT32_MAX, false,
     OUT_OFF(observation_domain), "ID", "([export] observation_domain)"},
    {SEC_OUTPUT, "template_refresh", NULL, T_UINT32, 1, 86400, false, OUT_OFF(template_refresh_s),
     "S", "([export] template_refresh)"},
    {SEC_OUTPUT, "datagram_size", NULL, T_UINT32, 512, 65507, false, OUT_OFF(datagram_size),
     "BYTES", "UDP: largest datagram (1472)"},
    {SEC_OUTPUT, "queue", NULL, T_UINT32, 16, UINT32_C(1) << 24, false, OUT_OFF(queue_records),
     "RECORDS", "records waiting for this output at most (65536)"},
    {SEC_OUTPUT, "rotate_interval", NULL, T_UINT32, 0, 604800, false,
     OUT_OFF(rotate_interval_s), "S", "file: start a new file every S seconds, 0 = never (0)"},
    {SEC_OUTPUT, "rotate_size", NULL, T_UINT64, 0, INT64_MAX, false, OUT_OFF(rotate_size),
     "BYTES", "file: start a new file after BYTES, 0 = never (0)"},
};
#define N_KEYS (sizeof keys / sizeof keys[0])

void cfg_init(cfg_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->snaplen = 65535;
    cfg->promiscuous = true;
    cfg->buffer_size_mib = 32;
    cfg->workers = 1;
    oc_config_init(&cfg->flow);
    cfg->observation_domain = 1;
    cfg->template_refresh_s = 60;
    cfg->shutdown_timeout_s = 10;
    cfg->stats_interval_s = 60;
}

static void clear_outputs(cfg_t *cfg)
{
    for (unsigned i = 0; i < cfg->n_outputs; i++) {
        g_free(cfg->output_names[i]);
        g_free(cfg->output_uris[i]);
        g_free(cfg->output_templates[i]);
        cfg->output_names[i] = cfg->output_uris[i] = cfg->output_templates[i] = NULL;
    }
    cfg->n_outputs = 0;
}

void cfg_clear(cfg_t *cfg)
{
    g_free(cfg->interface);
    g_free(cfg->filter);
    g_free(cfg->user);
    g_free(cfg->pid_file);
    clear_outputs(cfg);
    memset(cfg, 0, sizeof *cfg);
}

/* ---- values --------------------------------------------------------------------------- */

static const char *type_allowed(const key_def_t *k, char *buf, size_t len)
{
    switch (k->type) {
    case T_BOOL:
        return "true or false";
    case T_TUNNELS:
        return "inner or outer";
    case T_LOG:
        return "stderr or syslog";
    case T_STRING:
        return "a non-empty string";
    default:
        if (k->zero_ok)
            g_snprintf(buf, len, "0 or %" PRIu64 "..%" PRIu64, k->min, k->max);
        else
            g_snprintf(buf, len, "%" PRIu64 "..%" PRIu64, k->min, k->max);
        return buf;
    }
}

static bool parse_uint(const char *s, uint64_t *out)
{
    if (*s == '\0')
        return false;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

static bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < G_N_ELEMENTS(yes); i++) {
        if (g_ascii_strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (g_ascii_strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* Checks the syntax of an output URI; the output module resolves hosts when it opens. */
static bool uri_valid(const char *uri)
{
    const char *rest;
    if (g_str_has_prefix(uri, "json:") || g_str_has_prefix(uri, "file:"))
        return uri[5] != '\0';
    if (g_str_has_prefix(uri, "udp://") || g_str_has_prefix(uri, "tcp://"))
        rest = uri + 6;
    else
        return false;
    const char *colon;
    if (rest[0] == '[') {
        const char *close = strchr(rest, ']');
        if (close == NULL || close == rest + 1 || close[1] != ':')
            return false;
        colon = close + 1;
    } else {
        colon = strrchr(rest, ':');
        if (colon == NULL || colon == rest || memchr(rest, ':', (size_t)(colon - rest)) != NULL)
            return false;
    }
    uint64_t port;
    return parse_uint(colon + 1, &port) && port >= 1 && port <= 65535;
}

static bool bad_value(const key_def_t *k, const char *where, const char *value, GError **error)
{
    char allowed[64];
    /* GKeyFile keeps "30 # seconds" whole: say why such a value is refused. */
    g_set_error(error, CFG_ERROR, CFG_ERROR_VALUE, "%s = \"%s\" is invalid: allowed %s%s", where,
                value, type_allowed(k, allowed, sizeof allowed),
                strchr(value, '#') != NULL ? " (# starts a comment only at the start of a line)"
                                           : "");
    return false;
}

/*
 * Stores @value for key @k. @where says where it came from for messages ("FILE:LINE: [flow]
 * idle_timeout" or "--idle-timeout"); @out is the output for [output] keys.
 */
static bool set_value(cfg_t *cfg, const key_def_t *k, unsigned out, const char *value,
                      const char *where, GError **error)
{
    char allowed[64];
    void *base = k->section == SEC_OUTPUT ? (void *)&cfg->outputs[out] : (void *)cfg;
    switch (k->type) {
    case T_UINT32:
    case T_UINT64: {
        uint64_t v;
        if (!parse_uint(value, &v) || (!(k->zero_ok && v == 0) && (v < k->min || v > k->max)))
            return bad_value(k, where, value, error);
        if (k->type == T_UINT32) {
            uint32_t v32 = (uint32_t)v;
            memcpy((char *)base + k->offset, &v32, sizeof v32);
        } else {
            memcpy((char *)base + k->offset, &v, sizeof v);
        }
        return true;
    }
    case T_BOOL: {
        bool b;
        if (!parse_bool(value, &b))
            return bad_value(k, where, value, error);
        memcpy((char *)base + k->offset, &b, sizeof b);
        return true;
    }
    case T_TUNNELS:
    case T_LOG: {
        /* Two-word choices stored as a bool: the second word is true. */
        const char *no = k->type == T_LOG ? "stderr" : "inner";
        const char *yes = k->type == T_LOG ? "syslog" : "outer";
        bool b;
        if (strcmp(value, no) == 0)
            b = false;
        else if (strcmp(value, yes) == 0)
            b = true;
        else
            return bad_value(k, where, value, error);
        memcpy((char *)base + k->offset, &b, sizeof b);
        return true;
    }
    case T_STRING:
        if (*value == '\0') {
            g_set_error(error, CFG_ERROR, CFG_ERROR_VALUE, "%s is empty: allowed %s", where,
                        type_allowed(k, allowed, sizeof allowed));
            return false;
        }
        if (k->offset == OUT_URI) {
            if (!uri_valid(value)) {
                g_set_error(error, CFG_ERROR, CFG_ERROR_VALUE,
                            "%s = \"%s\" is invalid: allowed json:PATH, file:PATH, "
                            "udp://HOST:PORT, tcp://HOST:PORT (port 1..65535)", where, value);
                return false;
            }
            g_free(cfg->output_uris[out]);
            cfg->output_uris[out] = g_strdup(value);
        } else if (k->offset == OUT_TEMPLATE) {
            g_free(cfg->output_templates[out]);
            cfg->output_templates[out] = g_strdup(value);
        } else {
            char **slot = (char **)(void *)((char *)cfg + k->offset);
            g_free(*slot);
            *slot = g_strdup(value);
        }
        return true;
    }
    return false;
}

void cfg_finish(cfg_t *cfg)
{
    for (unsigned i = 0; i < cfg->n_outputs; i++) {
        if (!cfg->output_own_domain[i])
            cfg->outputs[i].observation_domain = cfg->observation_domain;
        if (!cfg->output_own_refresh[i])
            cfg->outputs[i].template_refresh_s = cfg->template_refresh_s;
    }
}

static void output_defaults(cfg_t *cfg, unsigned i)
{
    cfg->output_own_domain[i] = cfg->output_own_refresh[i] = false;
    exp_output_cfg_init(&cfg->outputs[i]);
    cfg->outputs[i].observation_domain = cfg->observation_domain;
    cfg->outputs[i].template_refresh_s = cfg->template_refresh_s;
}

/* Points the plain-data output structs at the strings they borrow. */
static void link_outputs(cfg_t *cfg)
{
    for (unsigned i = 0; i < cfg->n_outputs; i++) {
        cfg->outputs[i].name = cfg->output_names[i];
        cfg->outputs[i].uri = cfg->output_uris[i];
        cfg->outputs[i].template_path = cfg->output_templates[i];
    }
}

/* ---- the file ------------------------------------------------------------------------- */

typedef struct {
    char *group;    /* GKeyFile group name */
    section_t sec;
    unsigned line;
    int output;     /* index into cfg->outputs for [output NAME] */
    uint64_t seen;  /* bit per key index: duplicate detection */
    unsigned key_line[N_KEYS];
    bool has_uri;
} sec_idx_t;

static const key_def_t *find_key(section_t sec, const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (keys[i].section == sec && strcmp(keys[i].key, name) == 0)
            return &keys[i];
    return NULL;
}

/* The key named @name ignoring case, in section @sec or (SEC_N) in any section. */
static const key_def_t *find_key_ci(section_t sec, const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if ((sec == SEC_N || keys[i].section == sec) && g_ascii_strcasecmp(keys[i].key, name) == 0)
            return &keys[i];
    return NULL;
}

static bool set_outputs_from_file_allowed(const cfg_t *cfg)
{
    return !cfg->outputs_from_cli;
}

bool cfg_load_data(cfg_t *cfg, const char *name, const char *data, size_t len, GError **error)
{
    _Static_assert(N_KEYS <= 64, "seen bits");
    /* Editors on Windows start a UTF-8 file with a byte-order mark: invisible, so a message
     * quoting it would baffle; GKeyFile does not skip it either. */
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
        data += 3;
        len -= 3;
    }
    if (memchr(data, '\0', len) != NULL) {
        g_set_error(error, CFG_ERROR, CFG_ERROR_SYNTAX, "%s: contains a NUL byte: not a text file", name);
        return false;
    }
    g_autoptr(GKeyFile) kf = g_key_file_new();
    GError *kerr = NULL;
    g_autofree char *text = g_strndup(data, len);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    sec_idx_t secs[SEC_N + CFG_MAX_OUTPUTS];
    unsigned nsec = 0;
    sec_idx_t *cur = NULL;
    bool ok = false;
    bool file_outputs = set_outputs_from_file_allowed(cfg);
    unsigned out_base = cfg->n_outputs;

    for (unsigned ln = 0; lines[ln] != NULL; ln++) {
        unsigned lineno = ln + 1;
        const char *bad;
        if (!g_utf8_validate(lines[ln], -1, &bad)) {
            /* A key file is UTF-8 (GKeyFile's format); quoting the bytes would put them on
             * the operator's terminal, so the message gives their place instead. */
            g_set_error(error, CFG_ERROR, CFG_ERROR_SYNTAX,
                        "%s:%u: not valid UTF-8 (byte 0x%02x, byte %u of the line)", name, lineno,
                        (unsigned char)*bad, (unsigned)(bad - lines[ln]) + 1);
            goto out;
        }
        char *l = g_strstrip(lines[ln]);
        if (*l == '\0' || *l == '#')
            continue;
        if (*l == '[') {
            size_t n = strlen(l);
            if (l[n - 1] != ']') {
                g_set_error(error, CFG_ERROR, CFG_ERROR_SYNTAX,
                            "%s:%u: section header \"%s\" lacks its closing ]", name, lineno, l);
                goto out;
            }
            g_autofree char *grp = g_strndup(l + 1, n - 2);
            if (g_ascii_isspace(grp[0]) || (grp[0] != '\0' && g_ascii_isspace(grp[strlen(grp) - 1]))) {
                /* GKeyFile keeps such a name as written: "[ flow ]" would not be [flow]. */
                g_set_error(error, CFG_ERROR, CFG_ERROR_SYNTAX,
                            "%s:%u: section header \"%s\" has spaces inside the brackets", name,
                            lineno, l);
                goto out;
            }
            section_t sec = SEC_N;
            for (unsigned s = 0; s < SEC_N; s++)
                if (s != SEC_OUTPUT && strcmp(grp, section_names[s]) == 0)
                    sec = (section_t)s;
            const char *oname = NULL;
            if (sec == SEC_N && g_str_has_prefix(grp, "output") && g_ascii_isspace(grp[6])) {
                oname = grp + 6;
                while (g_ascii_isspace(*oname))
                    oname++;
                if (*oname != '\0')
                    sec = SEC_OUTPUT;
            }
            if (sec == SEC_N) {
                g_set_error(error, CFG_ERROR, CFG_ERROR_SECTION,
                            "%s:%u: unknown section [%s]: allowed [capture], [flow], [dpi], "
                            "[export], [daemon], [output NAME]", name, lineno, grp);
                goto out;
            }
            for (unsigned s = 0; s < nsec; s++) {
                if (strcmp(secs[s].group, grp) == 0) {
                    g_set_error(error, CFG_ERROR, CFG_ERROR_DUPLICATE,
                                "%s:%u: section [%s] repeats the one on line %u", name, lineno,
                                grp, secs[s].line);
                    goto out;
                }
            }
            if (nsec == G_N_ELEMENTS(secs) ||
                (sec == SEC_OUTPUT && file_outputs && cfg->n_outputs == CFG_MAX_OUTPUTS)) {
                g_set_error(error, CFG_ERROR, CFG_ERROR_SECTION,
                            "%s:%u: too many sections (at most %d outputs)", name, lineno,
                            CFG_MAX_OUTPUTS);
                goto out;
            }
            cur = &secs[nsec++];
            memset(cur, 0, sizeof *cur);
            cur->group = g_strdup(grp);
            cur->sec = sec;
            cur->line = lineno;
            cur->output = -1;
            if (sec == SEC_OUTPUT && file_outputs) {
                unsigned i = cfg->n_outputs++;
                output_defaults(cfg, i);
                cfg->output_names[i] = g_strdup(oname);
                cur->output = (int)i;
            }
            continue;
        }
        char *eq = strchr(l, '=');
        if (eq == NULL) {
            g_set_error(error, CFG_ERROR, CFG_ERROR_SYNTAX,
                        "%s:%u: expected \"key = value\", a [section], or a # comment: \"%s\"",
                        name, lineno, l);
            goto out;
        }
        if (cur == NULL) {
            g_set_error(error, CFG_ERROR, CFG_ERROR_SYNTAX,
                        "%s:%u: key outside any section (start with [capture], [flow], ...)",
                        name, lineno);
            goto out;
        }
        *eq = '\0';
        char *key = g_strstrip(l);
        if (*key == '\0') {
            g_set_error(error, CFG_ERROR, CFG_ERROR_SYNTAX,
                        "%s:%u: no key before '=' in [%s]", name, lineno, cur->group);
            goto out;
        }
        const key_def_t *k = find_key(cur->sec, key);
        if (k == NULL) {
            GString *allowed = g_string_new(NULL);
            for (size_t i = 0; i < N_KEYS; i++)
                if (keys[i].section == cur->sec)
                    g_string_append_printf(allowed, "%s%s", allowed->len ? ", " : "", keys[i].key);
            /* The usual slips: a key written in capitals, or put in the wrong section. */
            const key_def_t *near = find_key_ci(cur->sec, key);
            if (near != NULL)
                g_string_append_printf(allowed, " (keys are lower case: %s)", near->key);
            else if ((near = find_key_ci(SEC_N, key)) != NULL)
                g_string_append_printf(allowed, " (%s is a key of [%s])", near->key,
                                       near->section == SEC_OUTPUT
                                           ? "output NAME" : section_names[near->section]);
            g_set_error(error, CFG_ERROR, CFG_ERROR_KEY, "%s:%u: unknown key \"%s\" in [%s]: allowed %s",
                        name, lineno, key, cur->group, allowed->str);
            g_string_free(allowed, TRUE);
            goto out;
        }
        uint64_t bit = UINT64_C(1) << (k - keys);
        if (cur->seen & bit) {
            g_set_error(error, CFG_ERROR, CFG_ERROR_DUPLICATE,
                        "%s:%u: [%s] %s is given twice (GKeyFile would silently keep the last)",
                        name, lineno, cur->group, key);
            goto out;
        }
        cur->seen |= bit;
        cur->key_line[k - keys] = lineno;
        if (k->offset == OUT_URI)
            cur->has_uri = true;
    }
    /* The structure is sound; let GKeyFile read the values (it unescapes \n, \t, ...). */
    if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, &kerr)) {
        g_set_error(error, CFG_ERROR, CFG_ERROR_SYNTAX, "%s: %s", name, kerr->message);
        g_error_free(kerr);
        goto out;
    }
    for (unsigned s = 0; s < nsec; s++) {
        sec_idx_t *si = &secs[s];
        if (si->sec == SEC_OUTPUT && !si->has_uri) {
            g_set_error(error, CFG_ERROR, CFG_ERROR_MISSING, "%s:%u: [%s] has no uri = ... key",
                        name, si->line, si->group);
            goto out;
        }
        if (si->sec == SEC_OUTPUT && si->output < 0)
            continue; /* outputs from -o replace the file's: still checked above, not kept */
        for (size_t i = 0; i < N_KEYS; i++) {
            if (!(si->seen & (UINT64_C(1) << i)))
                continue;
            g_autofree char *v = g_key_file_get_value(kf, si->group, keys[i].key, NULL);
            if (v == NULL) {
                /* The line scan saw it: GKeyFile must have it too, or the two disagree. */
                g_set_error(error, CFG_ERROR, CFG_ERROR_SYNTAX, "%s:%u: [%s] %s could not be read",
                            name, si->key_line[i], si->group, keys[i].key);
                goto out;
            }
            g_autofree char *where =
                g_strdup_printf("%s:%u: [%s] %s", name, si->key_line[i], si->group, keys[i].key);
            if (!set_value(cfg, &keys[i], si->output < 0 ? 0 : (unsigned)si->output, g_strstrip(v),
                           where, error))
                goto out;
        }
    }
    /* Remember which outputs chose their own domain and refresh: cfg_finish() gives the
     * others the [export] values, wherever [export] stands and whatever options follow. */
    for (unsigned s = 0; s < nsec; s++) {
        if (secs[s].output < 0)
            continue;
        unsigned o = (unsigned)secs[s].output;
        cfg->output_own_domain[o] =
            secs[s].seen & (UINT64_C(1) << (find_key(SEC_OUTPUT, "observation_domain") - keys));
        cfg->output_own_refresh[o] =
            secs[s].seen & (UINT64_C(1) << (find_key(SEC_OUTPUT, "template_refresh") - keys));
    }
    ok = true;
out:
    for (unsigned s = 0; s < nsec; s++)
        g_free(secs[s].group);
    if (!ok) {
        /* Drop the outputs this file started so a failed load leaves no half output. */
        for (unsigned i = out_base; i < cfg->n_outputs; i++) {
            g_free(cfg->output_names[i]);
            g_free(cfg->output_uris[i]);
            g_free(cfg->output_templates[i]);
            cfg->output_names[i] = cfg->output_uris[i] = cfg->output_templates[i] = NULL;
        }
        cfg->n_outputs = out_base;
    }
    link_outputs(cfg);
    return ok;
}

/* A configuration file is a few kilobytes; anything this large is the wrong file. */
#define CFG_FILE_MAX (1u << 20)

bool cfg_load_file(cfg_t *cfg, const char *path, GError **error)
{
    /* Read here rather than with g_file_get_contents(), whose messages neither say which
     * file this is nor follow the "FILE: problem" form of every other error. */
    FILE *fp = fopen(path, "rbe");
    if (fp == NULL) {
        g_set_error(error, CFG_ERROR, CFG_ERROR_FILE, "%s: cannot read the configuration file: %s",
                    path, g_strerror(errno));
        return false;
    }
    g_autofree char *data = g_malloc(CFG_FILE_MAX + 1);
    size_t len = fread(data, 1, CFG_FILE_MAX + 1, fp);
    int err = ferror(fp) ? errno : 0;
    fclose(fp);
    if (err != 0) {
        g_set_error(error, CFG_ERROR, CFG_ERROR_FILE, "%s: cannot read the configuration file: %s",
                    path, g_strerror(err));
        return false;
    }
    if (len > CFG_FILE_MAX) {
        g_set_error(error, CFG_ERROR, CFG_ERROR_FILE,
                    "%s: larger than %u bytes: not a configuration file", path, CFG_FILE_MAX);
        return false;
    }
    return cfg_load_data(cfg, path, data, len, error);
}

/* ---- the command line ------------------------------------------------------------- */

bool cfg_set_option(cfg_t *cfg, const char *option, const char *value, GError **error)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        if (keys[i].option == NULL || strcmp(keys[i].option, option) != 0)
            continue;
        g_autofree char *where = g_strdup_printf("--%s", option);
        return set_value(cfg, &keys[i], 0, value, where, error);
    }
    g_set_error(error, CFG_ERROR, CFG_ERROR_KEY, "--%s is not a configuration option", option);
    return false;
}

bool cfg_add_output_uri(cfg_t *cfg, const char *uri, GError **error)
{
    if (!cfg->outputs_from_cli) {
        clear_outputs(cfg);
        cfg->outputs_from_cli = true;
    }
    if (cfg->n_outputs == CFG_MAX_OUTPUTS) {
        g_set_error(error, CFG_ERROR, CFG_ERROR_VALUE, "-o %s: at most %d outputs", uri,
                    CFG_MAX_OUTPUTS);
        return false;
    }
    unsigned i = cfg->n_outputs;
    output_defaults(cfg, i);
    g_autofree char *where = g_strdup_printf("-o");
    const key_def_t *k = find_key(SEC_OUTPUT, "uri");
    if (!set_value(cfg, k, i, uri, where, error))
        return false;
    cfg->output_names[i] = g_strdup(uri);
    cfg->n_outputs++;
    link_outputs(cfg);
    return true;
}

static const char *option_names[N_KEYS + 1];

const char *const *cfg_option_names(void)
{
    unsigned n = 0;
    for (size_t i = 0; i < N_KEYS; i++)
        if (keys[i].option != NULL)
            option_names[n++] = keys[i].option;
    option_names[n] = NULL;
    return option_names;
}

static const key_def_t *option_def(unsigned i)
{
    unsigned n = 0;
    for (size_t k = 0; k < N_KEYS; k++) {
        if (keys[k].option == NULL)
            continue;
        if (n++ == i)
            return &keys[k];
    }
    return NULL;
}

const char *cfg_option_help(unsigned i)
{
    const key_def_t *k = option_def(i);
    return k != NULL ? k->help : NULL;
}

const char *cfg_option_arg(unsigned i)
{
    const key_def_t *k = option_def(i);
    return k != NULL ? k->arg : NULL;
}

char *cfg_options_help(void)
{
    GString *s = g_string_new(NULL);
    for (size_t i = 0; i < N_KEYS; i++) {
        const key_def_t *k = &keys[i];
        g_autofree char *left = k->option ? g_strdup_printf("--%s=%s", k->option, k->arg)
                                          : g_strdup_printf("%s = %s", k->key, k->arg);
        g_string_append_printf(s, "  [%s] %-18s %-30s %s\n", section_names[k->section], k->key,
                               left, k->help);
    }
    return g_string_free(s, FALSE);
}
