/*
 * The output object behind exp.h: parses the URI, checks the settings, starts one thread
 * per output that drains the output's bounded ring (exp_queue.c) into its sink (JSON lines,
 * IPFIX file, IPFIX over UDP or TCP), and stops it with a time limit at shutdown. The TCP
 * sink runs its own loop (exp_tcp.c) because it must leave records in the ring while it is
 * disconnected.
 *
 * The capture thread only ever copies a record into the ring (exp_output_submit), so a slow
 * disk or an absent collector costs records (counted), never capture time. The sink sees
 * records in batches and is told when the ring ran empty, which is when a network sink sends
 * a partly filled IPFIX message and the JSON sink flushes its stdio buffer: records go out
 * promptly at low rates and in full messages at high rates. A file sink keeps filling its
 * message for up to a second instead, since a fast reader (a capture file) empties the ring
 * after almost every batch.
 *
 * Statistics snapshots (exp_output_submit_stats) and reopen requests reach the thread
 * through flags beside the ring; the ring's request flag only wakes the thread. A snapshot
 * remembers how many records the ring had accepted, and the thread writes it once it has
 * taken that many out, so the options record follows every flow record submitted before it
 * (the one at shutdown follows the last flow).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/exp_ipfix.h"

G_DEFINE_QUARK(exp-error-quark, exp_error)

/* Repeated errors of one output are logged at most once per minute. */
#define EXP_LOG_INTERVAL_US (60 * G_USEC_PER_SEC)

/* Records moved out of the ring per lock acquisition. */
#define EXP_BATCH 64

/* exp_output_cfg_init() is static inline in exp.h (the config module fills these structs
 * without linking libfixbuf). */

void exp_output_account(exp_output_t *out, uint64_t sent, uint64_t lost, uint64_t messages,
                        uint64_t errors)
{
    g_mutex_lock(&out->queue.lock);
    out->records_sent += sent;
    out->records_lost += lost;
    out->messages_sent += messages;
    out->send_errors += errors;
    g_mutex_unlock(&out->queue.lock);
}

void exp_output_account_stream(exp_output_t *out, uint64_t possibly_lost, uint64_t connections)
{
    g_mutex_lock(&out->queue.lock);
    out->records_possibly_lost += possibly_lost;
    out->connections += connections;
    g_mutex_unlock(&out->queue.lock);
}

void exp_output_failure(exp_output_t *out, const char *fmt, ...)
{
    gint64 now = g_get_monotonic_time();
    out->failing = true;
    if (out->last_log_us != 0 && now - out->last_log_us < EXP_LOG_INTERVAL_US) {
        out->suppressed++;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (out->suppressed > 0)
        g_warning("output %s: %s (and %" G_GUINT64_FORMAT " errors not logged since the last "
                  "message)", out->name, msg, out->suppressed);
    else
        g_warning("output %s: %s", out->name, msg);
    out->suppressed = 0;
    out->last_log_us = now;
}

void exp_output_recovered(exp_output_t *out)
{
    /* Silent: a UDP socket alternates errors and successes while a collector is down
     * (ICMP errors come back on the next send), and the counters say the rest. */
    out->failing = false;
}

void exp_output_reconnected(exp_output_t *out, const char *fmt, ...)
{
    if (!out->failing)
        return;
    out->failing = false;
    gint64 now = g_get_monotonic_time();
    /* A collector that keeps restarting must not flood the log either. */
    if (out->last_ok_log_us != 0 && now - out->last_ok_log_us < EXP_LOG_INTERVAL_US)
        return;
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_message("output %s: %s", out->name, msg);
    out->last_ok_log_us = now;
}

/* Splits HOST:PORT ([HOST]:PORT for IPv6). */
static bool parse_host_port(exp_output_t *out, const char *hp, GError **error)
{
    const char *colon;
    if (hp[0] == '[') {
        const char *close = strchr(hp, ']');
        if (close == NULL || close[1] != ':') {
            g_set_error(error, EXP_ERROR, EXP_ERROR_URI,
                        "output %s: expected [IPV6]:PORT after the scheme", out->uri);
            return false;
        }
        out->host = g_strndup(hp + 1, (gsize)(close - hp - 1));
        colon = close + 1;
    } else {
        colon = strrchr(hp, ':');
        if (colon == NULL || colon == hp || memchr(hp, ':', (size_t)(colon - hp)) != NULL) {
            g_set_error(error, EXP_ERROR, EXP_ERROR_URI,
                        "output %s: expected HOST:PORT after the scheme", out->uri);
            return false;
        }
        out->host = g_strndup(hp, (gsize)(colon - hp));
    }
    const char *port = colon + 1;
    char *end;
    unsigned long p = strtoul(port, &end, 10);
    if (*port < '0' || *port > '9' || *end != '\0' || p < 1 || p > 65535 || *out->host == '\0') {
        g_set_error(error, EXP_ERROR, EXP_ERROR_URI,
                    "output %s: '%s' is not a port number (1..65535)", out->uri, port);
        return false;
    }
    out->port = g_strdup(port);
    return true;
}

static bool parse_uri(exp_output_t *out, GError **error)
{
    const char *u = out->uri;
    if (g_str_has_prefix(u, "json:")) {
        out->kind = EXP_KIND_JSON;
        out->path = g_strdup(u + 5);
        out->ops = &exp_json_ops;
    } else if (g_str_has_prefix(u, "file:")) {
        out->kind = EXP_KIND_FILE;
        out->path = g_strdup(u + 5);
        out->ops = &exp_ipfix_file_ops;
    } else if (g_str_has_prefix(u, "udp://")) {
        out->kind = EXP_KIND_UDP;
        out->ops = &exp_ipfix_udp_ops;
        return parse_host_port(out, u + 6, error);
    } else if (g_str_has_prefix(u, "tcp://")) {
        out->kind = EXP_KIND_TCP;
        out->ops = &exp_ipfix_tcp_ops;
        return parse_host_port(out, u + 6, error);
    } else {
        g_set_error(error, EXP_ERROR, EXP_ERROR_URI,
                    "unsupported output '%s' (expected json:PATH, file:PATH, udp://HOST:PORT "
                    "or tcp://HOST:PORT)", u);
        return false;
    }
    if (*out->path == '\0') {
        g_set_error(error, EXP_ERROR, EXP_ERROR_URI, "output %s: a PATH is needed%s", u,
                    out->kind == EXP_KIND_JSON ? " (- for standard output)" : "");
        return false;
    }
    return true;
}

static bool check_cfg(const exp_output_t *out, GError **error)
{
    const exp_output_cfg_t *c = &out->cfg;
    if (c->queue_records < 1 || c->queue_records > (1u << 24)) {
        g_set_error(error, EXP_ERROR, EXP_ERROR_URI,
                    "output %s: queue_records=%u is outside 1..16777216", out->name,
                    c->queue_records);
        return false;
    }
    if (out->kind == EXP_KIND_UDP) {
        if (c->datagram_size < 512 || c->datagram_size > 65507) {
            g_set_error(error, EXP_ERROR, EXP_ERROR_URI,
                        "output %s: datagram_size=%u is outside 512..65507", out->name,
                        c->datagram_size);
            return false;
        }
        if (c->template_refresh_s < 1 || c->template_refresh_s > 86400) {
            g_set_error(error, EXP_ERROR, EXP_ERROR_URI,
                        "output %s: template_refresh_s=%u is outside 1..86400", out->name,
                        c->template_refresh_s);
            return false;
        }
    }
    if (exp_output_cfg_rotates(c) && out->kind != EXP_KIND_FILE) {
        g_set_error(error, EXP_ERROR, EXP_ERROR_URI,
                    "output %s: rotate_interval and rotate_size apply to file: outputs only",
                    out->name);
        return false;
    }
    return true;
}

/* Reopens on the output's thread and leaves the outcome for exp_output_reopen_status(). */
static void do_reopen(exp_output_t *out)
{
    g_mutex_lock(&out->queue.lock);
    unsigned wanted = out->reopen_wanted;
    g_mutex_unlock(&out->queue.lock);
    GError *err = NULL;
    out->ops->reopen(out, &err);
    g_mutex_lock(&out->queue.lock);
    out->reopen_done = wanted;
    g_clear_error(&out->reopen_error);
    out->reopen_error = err;
    g_mutex_unlock(&out->queue.lock);
}

/* The loop of every sink without its own: pop a batch, write it, let the sink flush (or
 * decide to wait) when the ring ran empty, write a statistics record once the records
 * submitted before it are written, stop once closing and drained (or at once on abort). */
static void generic_loop(exp_output_t *out)
{
    oc_flow_info_t *batch = g_new(oc_flow_info_t, EXP_BATCH);
    oc_fields_t *fields = out->wants_fields ? g_new(oc_fields_t, EXP_BATCH) : NULL;
    uint64_t taken = 0;       /* records taken out of the ring */
    bool have_stats = false;  /* a snapshot waits for the records before it */
    exp_stats_t stats;
    uint64_t stats_after = 0;
    for (;;) {
        exp_queue_state_t st;
        size_t n = exp_queue_pop(&out->queue, batch, fields, EXP_BATCH,
                                 g_get_monotonic_time() + G_USEC_PER_SEC, &st);
        if (st.abort)
            break;
        if (exp_output_take_stats(out, &stats, &stats_after))
            have_stats = true;
        /* The snapshot goes between the records accepted before it and those after, which
         * may be in the same batch. */
        size_t first = n;
        if (have_stats && stats_after >= taken && stats_after < taken + n)
            first = (size_t)(stats_after - taken);
        if (first > 0)
            out->ops->write(out, batch, first);
        if (have_stats && taken + first >= stats_after) {
            have_stats = false;
            if (out->ops->stats != NULL)
                out->ops->stats(out, &stats);
        }
        if (first < n)
            out->ops->write(out, batch + first, n - first);
        taken += n;
        if (st.empty)
            (out->ops->idle != NULL ? out->ops->idle : out->ops->flush)(out);
        if (g_atomic_int_compare_and_exchange(&out->reopen_due, 1, 0))
            do_reopen(out);
        if (st.closing && st.empty)
            break;
    }
    g_free(batch);
    g_free(fields);
    out->ops->flush(out);
}

static gpointer output_thread(gpointer data)
{
    exp_output_t *out = data;
    if (out->ops->run != NULL)
        out->ops->run(out);
    else
        generic_loop(out);
    g_mutex_lock(&out->queue.lock);
    out->done = true;
    g_cond_broadcast(&out->done_cond);
    g_mutex_unlock(&out->queue.lock);
    return NULL;
}

static void output_free(exp_output_t *out)
{
    if (out->sink != NULL)
        out->ops->free(out);
    if (out->queue.ring != NULL)
        exp_queue_clear(&out->queue);
    g_cond_clear(&out->done_cond);
    g_clear_error(&out->reopen_error);
    g_free(out->name);
    g_free(out->uri);
    g_free(out->template_path);
    g_free(out->path);
    g_free(out->host);
    g_free(out->port);
    g_free(out);
}

/* An output object with its URI parsed and its settings checked, nothing opened. */
static exp_output_t *output_parse(const exp_output_cfg_t *cfg, GError **error)
{
    if (cfg->uri == NULL) {
        g_set_error(error, EXP_ERROR, EXP_ERROR_URI, "output %s: no URI",
                    cfg->name != NULL ? cfg->name : "(unnamed)");
        return NULL;
    }
    exp_output_t *out = g_new0(exp_output_t, 1);
    out->cfg = *cfg;
    out->uri = g_strdup(cfg->uri);
    out->name = g_strdup(cfg->name != NULL ? cfg->name : cfg->uri);
    out->template_path = g_strdup(cfg->template_path);
    out->cfg.name = out->name;
    out->cfg.uri = out->uri;
    out->cfg.template_path = out->template_path;
    g_cond_init(&out->done_cond);
    if (!parse_uri(out, error) || !check_cfg(out, error)) {
        output_free(out);
        return NULL;
    }
    return out;
}

bool exp_output_cfg_check(const exp_output_cfg_t *cfg, GError **error)
{
    exp_output_t *out = output_parse(cfg, error);
    if (out == NULL)
        return false;
    bool ok = true;
    if (out->kind != EXP_KIND_JSON) {
        /* the same loading as the IPFIX sinks' open(), which start-up runs */
        fbInfoModel_t *model = NULL;
        map_ipfix_t *map = NULL;
        ok = exp_ipfix_load(out, &model, &map, error);
        if (ok) {
            /* ... and the templates libfixbuf is given, which it may refuse */
            uint8_t msg[EXP_STATS_RECORD_SIZE];
            fBuf_t *fbuf = exp_ipfix_fbuf_new(out, model, map, msg, sizeof msg, error);
            ok = fbuf != NULL;
            if (fbuf != NULL)
                fBufFree(fbuf);
        }
        map_ipfix_free(map);
        if (model != NULL)
            fbInfoModelFree(model);
    }
    output_free(out);
    return ok;
}

char *exp_output_cfg_file(const exp_output_cfg_t *cfg)
{
    exp_output_t *out = output_parse(cfg, NULL);
    if (out == NULL)
        return NULL;
    char *path = NULL;
    if ((out->kind == EXP_KIND_JSON || out->kind == EXP_KIND_FILE) && strcmp(out->path, "-") != 0)
        path = g_strdup(out->path);
    output_free(out);
    return path;
}

exp_output_t *exp_output_new(const exp_output_cfg_t *cfg, GError **error)
{
    exp_output_t *out = output_parse(cfg, error);
    if (out == NULL)
        return NULL;
    if (!out->ops->open(out, error)) {
        output_free(out);
        return NULL;
    }
    exp_queue_init(&out->queue, cfg->queue_records >= 1 ? cfg->queue_records : 1,
                   out->wants_fields, cfg->wait_for_room);
    g_autofree char *tname = g_strdup_printf("out %.10s", out->name);
    out->thread = g_thread_new(tname, output_thread, out);
    return out;
}

bool exp_output_wants_fields(const exp_output_t *out)
{
    return out->wants_fields;
}

bool exp_output_submit(exp_output_t *out, const oc_flow_info_t *info)
{
    return exp_queue_push(&out->queue, info);
}

size_t exp_output_submit_many(exp_output_t *out, const oc_flow_info_t *infos, size_t n)
{
    return exp_queue_push_many(&out->queue, infos, n);
}

void exp_output_get_stats(exp_output_t *out, exp_output_stats_t *stats)
{
    g_mutex_lock(&out->queue.lock);
    stats->records_in = out->queue.pushed;
    stats->records_queued = out->queue.count;
    stats->records_sent = out->records_sent;
    stats->records_lost = out->queue.lost + out->records_lost;
    stats->records_possibly_lost = out->records_possibly_lost;
    stats->connections = out->connections;
    stats->messages_sent = out->messages_sent;
    stats->send_errors = out->send_errors;
    g_mutex_unlock(&out->queue.lock);
}

void exp_output_reopen(exp_output_t *out)
{
    if (out->ops->run != NULL)
        return; /* tcp://: nothing to reopen */
    g_mutex_lock(&out->queue.lock);
    out->reopen_wanted++;
    g_mutex_unlock(&out->queue.lock);
    g_atomic_int_set(&out->reopen_due, 1);
    exp_queue_set_request(&out->queue);
}

exp_reopen_status_t exp_output_reopen_status(exp_output_t *out, GError **error)
{
    exp_reopen_status_t st = EXP_REOPEN_DONE;
    g_mutex_lock(&out->queue.lock);
    if (out->reopen_done != out->reopen_wanted && !out->done) {
        st = EXP_REOPEN_PENDING;
    } else if (out->reopen_error != NULL) {
        st = EXP_REOPEN_FAILED;
        g_propagate_error(error, g_error_copy(out->reopen_error));
    }
    g_mutex_unlock(&out->queue.lock);
    return st;
}

void exp_output_submit_stats(exp_output_t *out, const exp_stats_t *stats)
{
    g_mutex_lock(&out->queue.lock);
    out->stats_snap = *stats;
    /* Everything accepted so far goes out before the snapshot (lost records never will). */
    out->stats_after = out->queue.pushed - out->queue.lost;
    g_atomic_int_set(&out->stats_due, 1);
    g_mutex_unlock(&out->queue.lock);
    exp_queue_set_request(&out->queue);
}

bool exp_output_take_stats(exp_output_t *out, exp_stats_t *st, uint64_t *after)
{
    if (!g_atomic_int_get(&out->stats_due))
        return false;
    g_mutex_lock(&out->queue.lock);
    *st = out->stats_snap;
    *after = out->stats_after;
    g_atomic_int_set(&out->stats_due, 0);
    g_mutex_unlock(&out->queue.lock);
    return true;
}

bool exp_output_close(exp_output_t *out, uint32_t timeout_ms)
{
    return exp_output_close_stats(out, timeout_ms, NULL);
}

/* Set once an output thread had to be left blocked: see exp_output_any_abandoned(). */
static gint outputs_abandoned;

bool exp_output_any_abandoned(void)
{
    return g_atomic_int_get(&outputs_abandoned) != 0;
}

bool exp_output_close_stats(exp_output_t *out, uint32_t timeout_ms, exp_output_stats_t *stats)
{
    if (out == NULL)
        return true;
    exp_queue_set_closing(&out->queue);
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    g_mutex_lock(&out->queue.lock);
    while (!out->done)
        if (!g_cond_wait_until(&out->done_cond, &out->queue.lock, deadline))
            break;
    bool in_time = out->done;
    g_mutex_unlock(&out->queue.lock);
    bool stuck = false;
    if (!in_time) {
        exp_queue_set_abort(&out->queue);
        /* A thread blocked in write() on a stalled pipe or a hung file system never sees the
         * abort; the shutdown timeout is a promise to the operator, so give it one more
         * second and then leave it behind (the process is about to exit). */
        gint64 grace = g_get_monotonic_time() + G_USEC_PER_SEC;
        g_mutex_lock(&out->queue.lock);
        while (!out->done)
            if (!g_cond_wait_until(&out->done_cond, &out->queue.lock, grace))
                break;
        stuck = !out->done;
        g_mutex_unlock(&out->queue.lock);
    }
    if (!stuck)
        g_thread_join(out->thread);

    exp_output_stats_t st;
    g_mutex_lock(&out->queue.lock);
    out->records_lost += out->queue.count; /* left in the ring by an abort */
    out->queue.count = 0;
    g_mutex_unlock(&out->queue.lock);
    exp_output_get_stats(out, &st);
    if (stuck) {
        /* What the blocked thread holds was not delivered as far as anyone can tell. */
        st.records_lost = st.records_in - st.records_sent;
        g_warning("output %s: still blocked writing after %u ms; abandoned", out->name,
                  timeout_ms + 1000u);
        if (stats != NULL)
            *stats = st;
        g_atomic_int_set(&outputs_abandoned, 1);
        return false; /* not freed: its thread may still touch it */
    }
    if (!in_time)
        g_warning("output %s: not delivered within %u ms", out->name, timeout_ms);
    if (out->suppressed > 0)
        g_warning("output %s: %" G_GUINT64_FORMAT " more errors were not logged", out->name,
                  out->suppressed);
    if (st.records_lost > 0)
        g_warning("output %s: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                  " records lost", out->name, st.records_lost, st.records_in);
    if (st.records_possibly_lost > 0)
        g_warning("output %s: %" G_GUINT64_FORMAT " records sent over connections that "
                  "ended before the collector was known to have read them (possibly lost)",
                  out->name, st.records_possibly_lost);
    if (stats != NULL)
        *stats = st;
    output_free(out);
    return st.records_lost == 0;
}

const char *exp_output_name(const exp_output_t *out)
{
    return out->name;
}
