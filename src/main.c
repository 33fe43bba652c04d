/*
 * The ocellus command: reads packets from capture files or a live interface, feeds them to
 * one flow engine (or several worker threads, src/workers) and hands every finished flow record to its outputs (JSON lines, IPFIX
 * files, UDP or TCP collectors). This file is wiring only (options, the read loop, signals,
 * logging, periodic statistics, the end-of-run summary); the logic lives in the capture,
 * config and export modules and the engine, which have their own tests. The command's error,
 * statistics and summary lines are an interface: tests/integration parses them.
 *
 * Signal handlers only set flags (and break out of pcap_dispatch, which libpcap allows from a
 * handler); the read loops act on them between batches, so nothing that takes a lock or
 * allocates ever runs in a handler.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <locale.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include <ocellus/ocellus.h>
#include "capture/cap.h"
#include "workers/wk.h"
#include "config/cfg.h"
#include "export/exp.h"

/* Exit statuses, documented in man/ocellus.8. */
enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* Packets per cap_dispatch() call: the granularity of progress lines and signal checks. */
enum { BATCH_PACKETS = 4096, LIVE_POLL_MS = 1000 };

#define PROGRESS_INTERVAL_US 500000

/* Set by the signal handlers; the read loops check them after every batch. */
static volatile sig_atomic_t stop_requested;   /* SIGINT, SIGTERM */
static volatile sig_atomic_t reopen_requested; /* SIGHUP */
static volatile sig_atomic_t stats_requested;  /* SIGUSR1 */
/* The capture being read, so the handler can break out of pcap_dispatch(). */
static cap_t *volatile current_cap;

/* Log lines go to syslog instead of standard error. Set once, before any output thread
 * starts, and only read afterwards (output threads log through log_writer). */
static bool log_to_syslog;

/* Records an engine gave during its current call, queued when the call ends: one lock per
 * output per batch rather than per record (with workers the queue's lock moved between
 * cores per record). Only when no output wants DPI fields: those live in the engine's pool
 * no longer than the callback. */
#define STAGE_RECORDS 64

typedef struct rec_stage {
    unsigned n;
    oc_flow_info_t rec[STAGE_RECORDS];
} rec_stage_t;

typedef struct run {
    wk_t *wk;                 /* the engine, or several on worker threads */
    rec_stage_t *stages;      /* one per engine; NULL: records go out one by one */
    exp_output_t *outs[CFG_MAX_OUTPUTS];
    unsigned n_outs;
    bool engine_stopped;      /* the callback asked the engine to stop */
    uint32_t stats_interval_s; /* 0 = no periodic statistics line */
    uint64_t next_stats_us;   /* CLOCK_MONOTONIC time of the next statistics line */
    uint64_t start_real_ms;   /* CLOCK_REALTIME at start (systemInitTimeMilliseconds) */
    bool reopen_pending;      /* SIGHUP: outputs asked to reopen, outcome not logged yet */
    uint64_t reopen_deadline_us; /* CLOCK_MONOTONIC time to stop waiting for them */
} run_t;

static void on_signal(int sig)
{
    switch (sig) {
    case SIGHUP:
        reopen_requested = 1;
        break;
    case SIGUSR1:
        stats_requested = 1;
        break;
    default: {
        stop_requested = 1;
        /* pcap_breakloop() is documented as safe in a signal handler: it sets a flag (and
         * on Linux writes an eventfd). A blocked poll() returns EINTR by itself. */
        cap_t *cap = current_cap;
        if (cap != NULL)
            cap_break(cap);
        break;
    }
    }
}

/* One log line: "ocellus: TAGMSG" on standard error, or MSG at @priority in syslog (the
 * priority says what the tag would). Thread-safe: stdio and syslog lock per call. */
static void log_emit(int priority, const char *tag, const char *msg)
{
    if (log_to_syslog)
        syslog(priority, "%s", msg);
    else
        fprintf(stderr, "ocellus: %s%s\n", tag, msg);
}

/* The daemon's own lines (errors, summary, statistics) through the configured log. */
G_GNUC_PRINTF(2, 3) static void log_line(int priority, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    log_emit(priority, "", msg);
}

static void log_open(void)
{
    /* An operator running ocellus by hand with log = syslog still sees the lines. */
    openlog("ocellus", LOG_PID | (isatty(STDERR_FILENO) == 1 ? LOG_PERROR : 0), LOG_DAEMON);
}

static uint64_t clock_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000) + (uint64_t)ts.tv_nsec / 1000u;
}

static void stage_flush(run_t *run, rec_stage_t *st)
{
    for (unsigned i = 0; i < run->n_outs; i++)
        exp_output_submit_many(run->outs[i], st->rec, st->n);
    st->n = 0;
}

/* Flow-termination callback, on engine @worker's thread: every output gets a copy of the
 * record. On an interface submitting never blocks (a full queue counts the record as lost,
 * reported at exit); reading files it waits for a slow output (exp_queue.h). */
static int on_flow_end(const oc_flow_info_t *info, unsigned worker, void *user)
{
    run_t *run = user;
    if (run->stages == NULL) {
        for (unsigned i = 0; i < run->n_outs; i++)
            exp_output_submit(run->outs[i], info);
        return 0;
    }
    rec_stage_t *st = &run->stages[worker];
    st->rec[st->n] = *info;
    st->rec[st->n].fields = NULL;
    if (++st->n == STAGE_RECORDS)
        stage_flush(run, st);
    return 0;
}

/* Engine @worker's call ended: what it staged goes out now, so that no record waits for
 * the next packet. */
static void on_engine_done(unsigned worker, void *user)
{
    run_t *run = user;
    if (run->stages != NULL && run->stages[worker].n > 0)
        stage_flush(run, &run->stages[worker]);
}

static void on_batch(void *user, const oc_packet_t *pkts, unsigned n)
{
    run_t *run = user;

    if (run->engine_stopped)
        return;
    if (!wk_process(run->wk, pkts, n)) {
        run->engine_stopped = true;
        cap_break(current_cap);
    }
}

/* Long options named after configuration keys are collected in order and applied after
 * the INI file (-c), so the command line overrides the file whatever the order. */
typedef struct pending_opt {
    char *option; /* without the leading "--" */
    char *value;
} pending_opt_t;

static GArray *pending_opts;

static gboolean on_config_option(const char *name, const char *value, gpointer data,
                                 GError **error)
{
    (void)data;
    (void)error;
    const char *opt = name;
    if (opt[0] == '-' && opt[1] == '-')
        opt += 2;
    else if (strcmp(opt, "-i") == 0)
        opt = "interface";
    else if (strcmp(opt, "-f") == 0)
        opt = "filter";
    if (strcmp(opt, "no-dpi") == 0) {
        opt = "dpi";
        value = "false";
    }
    pending_opt_t p = {g_strdup(opt), g_strdup(value)};
    g_array_append_val(pending_opts, p);
    return TRUE;
}

static void pending_opt_clear(gpointer p)
{
    pending_opt_t *o = p;
    g_free(o->option);
    g_free(o->value);
}

/* The self-overwriting progress line (stderr is a terminal). */
static void print_progress(const cap_t *cap, wk_t *wk)
{
    oc_engine_stats_t st;
    uint64_t done, total;

    wk_get_stats(wk, &st);
    cap_progress(cap, &done, &total);
    if (total > 0)
        fprintf(stderr, "\rocellus: %s %5.1f%%, %" PRIu64 " packets, %" PRIu64
                        " flows active\033[K", cap_name(cap), 100.0 * (double)done / (double)total,
                st.packets, st.flows_active);
    else
        fprintf(stderr, "\rocellus: %s, %" PRIu64 " packets, %" PRIu64 " flows active\033[K",
                cap_name(cap), st.packets, st.flows_active);
}

/* "N (cause N, ...)" or "N (none)": packets skipped in total and per non-zero cause. */
static void append_skipped(GString *s, const oc_engine_stats_t *st)
{
    uint64_t skipped = 0;
    for (int i = 1; i < OC_SKIP_N; i++)
        skipped += st->packets_skipped[i];
    g_string_append_printf(s, "%" PRIu64 " (", skipped);
    if (skipped == 0)
        g_string_append(s, "none");
    const char *sep = "";
    for (int i = 1; i < OC_SKIP_N && skipped > 0; i++) {
        if (st->packets_skipped[i] == 0)
            continue;
        g_string_append_printf(s, "%s%s %" PRIu64, sep, oc_skip_name((oc_skip_t)i),
                               st->packets_skipped[i]);
        sep = ", ";
    }
    g_string_append_c(s, ')');
}

/* "N records (idle N, active N, tcp N, forced N, resources N)". */
static void append_records(GString *s, const oc_engine_stats_t *st)
{
    uint64_t records = 0;
    for (int r = OC_END_IDLE; r <= OC_END_RESOURCES; r++)
        records += st->records_ended[r];
    g_string_append_printf(s, "%" PRIu64 " records (idle %" PRIu64 ", active %" PRIu64
                              ", tcp %" PRIu64 ", forced %" PRIu64 ", resources %" PRIu64 ")",
                           records, st->records_ended[OC_END_IDLE],
                           st->records_ended[OC_END_ACTIVE], st->records_ended[OC_END_TCP],
                           st->records_ended[OC_END_FORCED], st->records_ended[OC_END_RESOURCES]);
}

static void print_summary(wk_t *wk, uint64_t elapsed_us)
{
    oc_engine_stats_t st;
    wk_get_stats(wk, &st);

    log_line(LOG_INFO, "packets read: %" PRIu64, st.packets);
    log_line(LOG_INFO, "packets attributed: %" PRIu64, st.packets_attributed);
    g_autoptr(GString) line = g_string_new("packets skipped: ");
    append_skipped(line, &st);
    log_line(LOG_INFO, "%s", line->str);
    g_string_printf(line, "flows: %" PRIu64 " created, ", st.flows_created);
    append_records(line, &st);
    log_line(LOG_INFO, "%s", line->str);
    log_line(LOG_INFO,
             "dpi: %" PRIu64 " flows identified, %" PRIu64 " not inspected (pool full), %" PRIu64
             " without fields (pool full), %" PRIu64 " segments after a gap",
             st.dpi_flows_identified, st.dpi_inspect_full, st.dpi_fields_full,
             st.dpi_stream_gaps);

    double secs = (double)elapsed_us / 1e6;
    uint64_t rate = elapsed_us > 0 ? (uint64_t)((double)st.packets / secs) : 0;
    log_line(LOG_INFO, "elapsed: %.3f s, %" PRIu64 " packets/s", secs, rate);
}

/*
 * The statistics line (every stats_interval seconds and on SIGUSR1): engine counters, the
 * kernel's counters of a live capture, and each output's delivery counters. One line, so a
 * log reader sees a consistent snapshot of one moment.
 */
static void log_stats(run_t *run, cap_t *cap)
{
    oc_engine_stats_t st;
    wk_get_stats(run->wk, &st);
    g_autoptr(GString) s = g_string_new(NULL);
    g_string_printf(s, "stats: packets %" PRIu64, st.packets);
    uint64_t received, dropped;
    if (cap != NULL && cap_kernel_stats(cap, &received, &dropped))
        g_string_append_printf(s, ", kernel received %" PRIu64 " dropped %" PRIu64, received,
                               dropped);
    g_string_append(s, ", skipped ");
    append_skipped(s, &st);
    g_string_append_printf(s, ", flows active %" PRIu64 " created %" PRIu64 ", ",
                           st.flows_active, st.flows_created);
    append_records(s, &st);
    for (unsigned i = 0; i < run->n_outs; i++) {
        exp_output_stats_t os;
        exp_output_get_stats(run->outs[i], &os);
        g_string_append_printf(s, "; output %s: sent %" PRIu64 ", queued %" PRIu64
                                  ", lost %" PRIu64 ", possibly lost %" PRIu64,
                               exp_output_name(run->outs[i]), os.records_sent,
                               os.records_queued, os.records_lost, os.records_possibly_lost);
    }
    log_line(LOG_INFO, "%s", s->str);
}

/*
 * The same moment for the IPFIX outputs: a snapshot each one sends as a statistics options
 * record after the flow records it already has (exp_output_submit_stats never blocks).
 * @cap: the live capture (kernel drops), NULL when reading files.
 */
static void submit_stats(run_t *run, cap_t *cap)
{
    oc_engine_stats_t st;
    wk_get_stats(run->wk, &st);
    exp_stats_t es = {
        .system_init_ms = run->start_real_ms,
        .observed_ms = clock_us(CLOCK_REALTIME) / 1000u,
        .packets = st.packets,
        .flows_observed = st.flows_created,
    };
    for (int i = 1; i < OC_SKIP_N; i++)
        es.packets_ignored += st.packets_skipped[i];
    uint64_t received;
    if (cap != NULL)
        cap_kernel_stats(cap, &received, &es.packets_dropped); /* leaves 0 for files */
    for (unsigned i = 0; i < run->n_outs; i++)
        exp_output_submit_stats(run->outs[i], &es);
}

/* How long the SIGHUP line waits for the outputs' threads to reopen (one busy writing to a
 * stalled pipe or a hung file system is reported as not done). */
#define REOPEN_WAIT_US (10 * G_USEC_PER_SEC)

/*
 * The SIGHUP line, once every output has reopened (or failed to, or the wait is over): it
 * says what happened, not what was asked. Returns true if it wrote lines.
 */
static bool report_reopen(run_t *run, bool erase_progress)
{
    bool late = clock_us(CLOCK_MONOTONIC) >= run->reopen_deadline_us;
    unsigned ok = 0;
    exp_reopen_status_t st[CFG_MAX_OUTPUTS];
    GError *err[CFG_MAX_OUTPUTS] = { NULL };
    for (unsigned i = 0; i < run->n_outs; i++) {
        st[i] = exp_output_reopen_status(run->outs[i], &err[i]);
        if (st[i] == EXP_REOPEN_PENDING && !late) {
            for (unsigned k = 0; k <= i; k++)
                g_clear_error(&err[k]);
            return false; /* ask again after the next batch */
        }
        ok += st[i] == EXP_REOPEN_DONE;
    }
    run->reopen_pending = false;
    if (erase_progress)
        fputs("\r\033[K", stderr);
    if (ok == run->n_outs) {
        log_line(LOG_NOTICE, "SIGHUP: reopened the log and %u output%s", run->n_outs,
                 run->n_outs == 1 ? "" : "s");
        return true;
    }
    for (unsigned i = 0; i < run->n_outs; i++) {
        const char *name = exp_output_name(run->outs[i]);
        if (st[i] == EXP_REOPEN_FAILED) {
            g_autofree char *msg = g_strdup_printf("SIGHUP: output %s: %s", name,
                                                   err[i]->message);
            log_emit(LOG_WARNING, "warning: ", msg);
        } else if (st[i] == EXP_REOPEN_PENDING) {
            g_autofree char *msg = g_strdup_printf(
                "SIGHUP: output %s: not reopened after %u s (busy writing); it will be when "
                "its write returns", name, (unsigned)(REOPEN_WAIT_US / G_USEC_PER_SEC));
            log_emit(LOG_WARNING, "warning: ", msg);
        }
        g_clear_error(&err[i]);
    }
    g_autofree char *msg = g_strdup_printf("SIGHUP: reopened the log and %u of %u outputs", ok,
                                           run->n_outs);
    log_emit(LOG_WARNING, "warning: ", msg);
    return true;
}

/*
 * Acts on the signal flags and the statistics timer between batches (never per packet).
 * Returns true if it wrote a line, so a progress line can be redrawn.
 */
static bool service_requests(run_t *run, cap_t *cap, bool erase_progress)
{
    bool wrote = false;
    if (reopen_requested) {
        reopen_requested = 0;
        if (log_to_syslog) {
            closelog();
            log_open();
        }
        /* The output threads reopen; the line comes once they have (report_reopen). */
        for (unsigned i = 0; i < run->n_outs; i++)
            exp_output_reopen(run->outs[i]);
        run->reopen_pending = true;
        run->reopen_deadline_us = clock_us(CLOCK_MONOTONIC) + REOPEN_WAIT_US;
    }
    if (run->reopen_pending)
        wrote = report_reopen(run, erase_progress);
    uint64_t now = clock_us(CLOCK_MONOTONIC);
    bool timer = run->stats_interval_s > 0 && now >= run->next_stats_us;
    if (stats_requested || timer) {
        stats_requested = 0;
        if (timer)
            run->next_stats_us = now + (uint64_t)run->stats_interval_s * G_USEC_PER_SEC;
        if (erase_progress && !wrote)
            fputs("\r\033[K", stderr);
        log_stats(run, cap);
        submit_stats(run, cap);
        wrote = true;
    }
    return wrote;
}

static void install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* SA_RESTART keeps stdio writes from failing with EINTR (poll() is never restarted, so a
     * live capture still wakes up); SA_RESETHAND lets a second Ctrl-C kill a stuck run. */
    sa.sa_flags = SA_RESTART | SA_RESETHAND;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* SIGHUP and SIGUSR1 may come any number of times; both are handled between batches. */
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    /* A closed output pipe must become a write error we report, not a silent death. */
    signal(SIGPIPE, SIG_IGN);
}

/* Reads every file in turn; returns false after a capture error (already printed). */
static bool read_files(run_t *run, cap_t **caps, guint n_caps, bool progress)
{
    uint64_t last_progress = 0;

    for (guint i = 0; i < n_caps && !stop_requested && !run->engine_stopped; i++) {
        current_cap = caps[i];
        for (;;) {
            g_autoptr(GError) error = NULL;
            cap_status_t st = cap_dispatch_batch(caps[i], BATCH_PACKETS, 0, on_batch, run, &error);
            if (st == CAP_STATUS_ERROR) {
                current_cap = NULL;
                if (progress)
                    fputs("\r\033[K", stderr);
                log_line(LOG_ERR, "%s", error->message);
                return false;
            }
            if (st == CAP_STATUS_EOF || stop_requested || run->engine_stopped)
                break;
            bool wrote = service_requests(run, caps[i], progress && last_progress != 0);
            if (progress) {
                uint64_t now = clock_us(CLOCK_MONOTONIC);
                if (wrote || now - last_progress >= PROGRESS_INTERVAL_US) {
                    print_progress(caps[i], run->wk);
                    last_progress = now;
                }
            }
        }
        current_cap = NULL;
    }
    if (progress && last_progress != 0)
        fputs("\r\033[K", stderr);
    return true;
}

/* Live capture until a signal, an error or a stop from the callback. */
static bool read_live(run_t *run, cap_t *cap)
{
    bool ok = true;

    /* Operators (and tests) learn from this line that packets are being captured. */
    log_line(LOG_NOTICE, "capturing on %s", cap_name(cap));
    current_cap = cap;
    while (!stop_requested && !run->engine_stopped) {
        g_autoptr(GError) error = NULL;
        cap_status_t st = cap_dispatch_batch(cap, BATCH_PACKETS, LIVE_POLL_MS, on_batch, run,
                                       &error);
        if (st == CAP_STATUS_ERROR) {
            /* Typically the interface went away. We cannot reopen it after dropping
             * privileges, so we stop with a non-zero status and let the service manager
             * restart us (etc/ocellus.service: Restart=on-failure). */
            log_line(LOG_ERR, "%s; stopping (exit status 1)", error->message);
            ok = false;
            break;
        }
        /* Live packet times are wall-clock times, so the same clock expires quiet flows. */
        wk_advance(run->wk, clock_us(CLOCK_REALTIME));
        service_requests(run, cap, false);
    }
    current_cap = NULL;

    uint64_t received, dropped;
    if (cap_kernel_stats(cap, &received, &dropped))
        log_line(LOG_INFO, "kernel: %" PRIu64 " received, %" PRIu64 " dropped", received,
                 dropped);
    return ok;
}

/* Writes our pid to @path; the caller removes it at exit. */
static bool write_pid_file(const char *path)
{
    FILE *fp = fopen(path, "w");
    if (fp == NULL || fprintf(fp, "%ld\n", (long)getpid()) < 0 || fclose(fp) != 0) {
        log_line(LOG_ERR, "cannot write pid file %s: %s", path, g_strerror(errno));
        return false;
    }
    return true;
}

/*
 * Drops root for @user once the capture and the outputs are open. Losing CAP_NET_RAW means
 * an interface that goes away cannot be reopened: ocellus then exits non-zero and the
 * service manager restarts it (etc/ocellus.service says Restart=on-failure).
 */
static bool drop_privileges(const char *user)
{
    struct passwd *pw = getpwnam(user);
    if (pw == NULL) {
        log_line(LOG_ERR, "[daemon] user: no such user '%s'", user);
        return false;
    }
    if (geteuid() == pw->pw_uid)
        return true;
    if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
        setuid(pw->pw_uid) != 0) {
        log_line(LOG_ERR, "cannot switch to user %s: %s", user, g_strerror(errno));
        return false;
    }
    return true;
}

/*
 * With [daemon] user, the outputs are opened as root and every later reopen (SIGHUP) and
 * rotation creates its file as @user. Checks as @user (effective ids and groups, switched
 * for the check and back) that it may create files in each file output's directory. Where it may not, a
 * rotating output would surely fail: a configuration error (false, printed); any other
 * output only on a SIGHUP after its file was moved away: a warning. A directory that does
 * not exist is left to the open that follows. Root only, before any thread is started.
 */
static bool check_output_dirs(const cfg_t *cfg, const char *user)
{
    struct passwd *found = getpwnam(user);
    if (found == NULL || found->pw_uid == 0)
        return true; /* no such user is reported before; root can create files anywhere */
    /* initgroups() may reuse getpwnam()'s storage */
    struct passwd copy = *found;
    g_autofree char *pw_name = g_strdup(found->pw_name);
    copy.pw_name = pw_name;
    const struct passwd *pw = &copy;
    int n_groups = getgroups(0, NULL);
    g_autofree gid_t *groups = g_new(gid_t, n_groups > 0 ? n_groups : 1);
    n_groups = getgroups(n_groups, groups);
    gid_t egid = getegid();
    if (n_groups < 0 || initgroups(pw->pw_name, pw->pw_gid) != 0 || setegid(pw->pw_gid) != 0 ||
        seteuid(pw->pw_uid) != 0) {
        fprintf(stderr, "ocellus: cannot check the output directories as user %s: %s\n",
                pw->pw_name, g_strerror(errno));
        if (seteuid(0) != 0 || setegid(egid) != 0 ||
            setgroups((size_t)MAX(n_groups, 0), groups) != 0)
            abort(); /* never run with a half-switched identity */
        return false;
    }
    bool ok = true;
    for (unsigned i = 0; i < cfg->n_outputs; i++) {
        const exp_output_cfg_t *o = &cfg->outputs[i];
        g_autofree char *path = exp_output_cfg_file(o);
        if (path == NULL)
            continue;
        g_autofree char *dir = g_path_get_dirname(path);
        if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) == 0 || errno == ENOENT)
            continue;
        const char *why = g_strerror(errno);
        const char *name = o->name != NULL ? o->name : o->uri;
        if (exp_output_cfg_rotates(o)) {
            fprintf(stderr, "ocellus: output %s: user %s cannot create files in %s (%s), so "
                    "rotating %s would fail: make the directory writable by %s\n", name,
                    pw->pw_name, dir, why, path, pw->pw_name);
            ok = false;
        } else {
            fprintf(stderr, "ocellus: warning: output %s: user %s cannot create files in %s "
                    "(%s): if %s is moved away, SIGHUP cannot create a new one and the old "
                    "file is written on\n", name, pw->pw_name, dir, why, path);
        }
    }
    if (seteuid(0) != 0 || setegid(egid) != 0 || setgroups((size_t)n_groups, groups) != 0)
        abort(); /* never run with a half-switched identity */
    return ok;
}

/*
 * Gives the files of the outputs that are not rotated (just created or truncated by root) to
 * @user, so that after the switch SIGHUP can reopen them (nginx does the same with its
 * logs). Rotating outputs write their part file through the descriptor and create the next
 * as that user. Only regular files: never a device or a pipe.
 */
static void give_output_files(const cfg_t *cfg, const char *user)
{
    const struct passwd *pw = getpwnam(user);
    if (pw == NULL || geteuid() != 0 || pw->pw_uid == 0)
        return;
    for (unsigned i = 0; i < cfg->n_outputs; i++) {
        const exp_output_cfg_t *o = &cfg->outputs[i];
        g_autofree char *path = exp_output_cfg_file(o);
        struct stat st;
        if (path == NULL || exp_output_cfg_rotates(o) ||
            stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid == pw->pw_uid)
            continue;
        if (chown(path, pw->pw_uid, (gid_t)-1) != 0) {
            g_autofree char *msg = g_strdup_printf(
                "output %s: cannot give %s to user %s: %s; SIGHUP will not reopen it",
                o->name != NULL ? o->name : o->uri, path, pw->pw_name, g_strerror(errno));
            log_emit(LOG_WARNING, "warning: ", msg);
        }
    }
}

/* Builds the option table: fixed options plus one long option per configuration key. */
static GOptionEntry *build_entries(char ***files, char ***outputs, char **config_file,
                                   gboolean *check_config, gboolean *version)
{
    const char *const *names = cfg_option_names();
    guint n = 0;
    while (names[n] != NULL)
        n++;
    GOptionEntry *e = g_new0(GOptionEntry, n + 7);
    guint i = 0;
    e[i++] = (GOptionEntry){"read", 'r', 0, G_OPTION_ARG_FILENAME_ARRAY, files,
                            "Read packets from a pcap or pcapng FILE (repeatable, read in "
                            "order; - = standard input)", "FILE"};
    e[i++] = (GOptionEntry){"output", 'o', 0, G_OPTION_ARG_STRING_ARRAY, outputs,
                            "Send records to URI: json:PATH (- = stdout, the default), "
                            "file:PATH, udp://HOST:PORT, tcp://HOST:PORT (repeatable; replaces "
                            "the file's [output] sections)", "URI"};
    e[i++] = (GOptionEntry){"config", 'c', 0, G_OPTION_ARG_FILENAME, config_file,
                            "Read the INI configuration FILE (see ocellus.ini(5))", "FILE"};
    e[i++] = (GOptionEntry){"check-config", 0, 0, G_OPTION_ARG_NONE, check_config,
                            "Validate the configuration and exit", NULL};
    e[i++] = (GOptionEntry){"version", 0, 0, G_OPTION_ARG_NONE, version,
                            "Print the version and exit", NULL};
    e[i++] = (GOptionEntry){"no-dpi", 0, G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK,
                            (gpointer)on_config_option,
                            "Do not identify application protocols (same as --dpi=false)", NULL};
    for (guint k = 0; k < n; k++) {
        char short_name = 0;
        if (strcmp(names[k], "interface") == 0)
            short_name = 'i';
        else if (strcmp(names[k], "filter") == 0)
            short_name = 'f';
        e[i++] = (GOptionEntry){names[k], short_name, 0, G_OPTION_ARG_CALLBACK,
                                (gpointer)on_config_option, cfg_option_help(k),
                                cfg_option_arg(k)};
    }
    return e;
}

/* Starts every output of @cfg, or JSON lines on standard output when there is none.
 * *@config_error tells a bad URI, setting or template (exit 2) from a failure to open. */
static bool open_outputs(cfg_t *cfg, run_t *run, const char *iface, bool *config_error)
{
    exp_output_cfg_t def;
    exp_output_cfg_t *list = cfg->outputs;
    unsigned n = cfg->n_outputs;
    if (n == 0) {
        exp_output_cfg_init(&def);
        def.name = "json:-";
        def.uri = "json:-";
        list = &def;
        n = 1;
    }
    /* ingressInterface is the capture interface's index (0 when reading files). */
    uint32_t ifindex = iface != NULL ? if_nametoindex(iface) : 0;
    for (unsigned i = 0; i < n; i++) {
        g_autoptr(GError) error = NULL;
        list[i].ingress_interface = ifindex;
        /* Nothing on a wire forces a loss when reading files: wait for a slow output. */
        list[i].wait_for_room = iface == NULL;
        run->outs[i] = exp_output_new(&list[i], &error);
        if (run->outs[i] == NULL) {
            log_line(LOG_ERR, "%s", error->message);
            *config_error = error->domain == EXP_ERROR &&
                            (error->code == EXP_ERROR_URI || error->code == EXP_ERROR_TEMPLATE);
            return false;
        }
        run->n_outs = i + 1;
    }
    return true;
}

/* Gives each output @timeout_s to deliver, prints its counters; false if any record was lost. */
static bool close_outputs(run_t *run, uint32_t timeout_s, bool report)
{
    bool all = true;
    /* One deadline for all: every output has been draining its queue all along, so the
     * operator's shutdown_timeout bounds the whole shutdown, not each output in turn. Each
     * still gets a moment to notice it is closing and finish a message in hand. */
    uint64_t deadline = clock_us(CLOCK_MONOTONIC) + (uint64_t)timeout_s * 1000000u;
    for (unsigned i = 0; i < run->n_outs; i++) {
        exp_output_stats_t st;
        g_autofree char *name = g_strdup(exp_output_name(run->outs[i]));
        uint64_t now = clock_us(CLOCK_MONOTONIC);
        uint32_t left_ms = now < deadline ? (uint32_t)((deadline - now) / 1000u) : 0;
        if (left_ms < 100)
            left_ms = 100;
        bool ok = exp_output_close_stats(run->outs[i], left_ms, &st);
        /* "possibly lost" only exists for TCP (written just before the peer died). */
        g_autofree char *possibly =
            st.records_possibly_lost > 0
                ? g_strdup_printf(", %" PRIu64 " possibly lost", st.records_possibly_lost)
                : g_strdup("");
        if (report)
            log_line(ok ? LOG_INFO : LOG_WARNING,
                     "output %s: %" PRIu64 " records sent, %" PRIu64 " lost, %" PRIu64
                     " send errors%s", name, st.records_sent, st.records_lost, st.send_errors,
                     possibly);
        all = all && ok;
    }
    run->n_outs = 0;
    return all;
}

/* GLib levels as syslog priorities. g_error() aborts the process, hence LOG_CRIT;
 * g_critical() is a caller bug, an error for the operator. */
static int level_priority(GLogLevelFlags level)
{
    if (level & G_LOG_LEVEL_ERROR)
        return LOG_CRIT;
    if (level & G_LOG_LEVEL_CRITICAL)
        return LOG_ERR;
    if (level & G_LOG_LEVEL_WARNING)
        return LOG_WARNING;
    if (level & G_LOG_LEVEL_MESSAGE)
        return LOG_NOTICE;
    if (level & G_LOG_LEVEL_INFO)
        return LOG_INFO;
    return LOG_DEBUG;
}

/* Operator messages from every module (output threads too), as "ocellus: ..." lines like
 * our own, or syslog entries at the matching priority. */
static GLogWriterOutput log_writer(GLogLevelFlags level, const GLogField *fields, gsize n,
                                   gpointer user)
{
    (void)user;
    if ((level & G_LOG_LEVEL_DEBUG) && g_getenv("G_MESSAGES_DEBUG") == NULL)
        return G_LOG_WRITER_HANDLED;
    const char *msg = NULL;
    for (gsize i = 0; i < n; i++)
        if (strcmp(fields[i].key, "MESSAGE") == 0)
            msg = fields[i].value;
    if (msg != NULL)
        log_emit(level_priority(level),
                 (level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL)) ? "warning: " : "", msg);
    return G_LOG_WRITER_HANDLED;
}

int main(int argc, char **argv)
{
    g_auto(GStrv) files = NULL;
    g_auto(GStrv) outputs = NULL;
    g_autofree char *config_file = NULL;
    gboolean version = FALSE, check_config = FALSE;

    /* Character set only: numbers in the summary keep the C locale's decimal point. */
    setlocale(LC_CTYPE, "");
    /* Outputs and the pid file are never group or world writable, whatever umask we were
     * started with (a service manager's umask 0 would leave them open to every user). */
    umask(umask(0) | 022);
    g_log_set_writer_func(log_writer, NULL, NULL);
    pending_opts = g_array_new(FALSE, TRUE, sizeof(pending_opt_t));
    g_array_set_clear_func(pending_opts, pending_opt_clear);
    g_autofree GOptionEntry *entries =
        build_entries(&files, &outputs, &config_file, &check_config, &version);
    g_autoptr(GOptionContext) ctx = g_option_context_new("- bidirectional flow meter");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_description(ctx,
        "Reads packets from capture files (-r) or an interface (-i) and reports every finished\n"
        "flow record to its outputs (JSON lines on standard output by default). Every key of\n"
        "the INI file (-c) has the long option above named after it; options override the\n"
        "file. A summary goes to standard error at the end.\n"
        "Exit status: 0 success, 1 runtime error, 2 usage or configuration error.\n"
        "See ocellus(8) and ocellus.ini(5).\n");
    g_autoptr(GError) error = NULL;
    cfg_t cfg;
    cfg_init(&cfg);
    int status = EXIT_OK;
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "ocellus: %s (try --help)\n", error->message);
        status = EXIT_USAGE;
        goto done_cfg;
    }
    if (version) {
        printf("ocellus %s\n", PACKAGE_VERSION);
        goto done_cfg;
    }
    if (argc > 1) {
        fprintf(stderr, "ocellus: unexpected argument '%s' (try --help)\n", argv[1]);
        status = EXIT_USAGE;
        goto done_cfg;
    }
    if (config_file != NULL && !cfg_load_file(&cfg, config_file, &error)) {
        fprintf(stderr, "ocellus: %s\n", error->message);
        status = EXIT_USAGE;
        goto done_cfg;
    }
    for (guint i = 0; i < pending_opts->len; i++) {
        pending_opt_t *o = &g_array_index(pending_opts, pending_opt_t, i);
        if (!cfg_set_option(&cfg, o->option, o->value, &error)) {
            fprintf(stderr, "ocellus: %s\n", error->message);
            status = EXIT_USAGE;
            goto done_cfg;
        }
    }
    for (guint i = 0; outputs != NULL && outputs[i] != NULL; i++) {
        if (!cfg_add_output_uri(&cfg, outputs[i], &error)) {
            fprintf(stderr, "ocellus: %s\n", error->message);
            status = EXIT_USAGE;
            goto done_cfg;
        }
    }
    cfg_finish(&cfg);
    /* A user that does not exist is a configuration error: found before anything is
     * opened, and by --check-config. drop_privileges() looks it up again when it is used. */
    if (cfg.user != NULL) {
        errno = 0;
        if (getpwnam(cfg.user) == NULL) {
            fprintf(stderr, "ocellus: [daemon] user (--user): %s '%s'\n",
                    errno != 0 ? g_strerror(errno) : "no such user", cfg.user);
            status = EXIT_USAGE;
            goto done_cfg;
        }
    }
    /* Output settings and templates, with the errors exp_output_new() would give: so that
     * --check-config passes only what start-up accepts, and so that a bad template in one
     * output stops start-up before another output has created its file. */
    for (unsigned i = 0; i < cfg.n_outputs; i++) {
        if (!exp_output_cfg_check(&cfg.outputs[i], &error)) {
            fprintf(stderr, "ocellus: %s\n", error->message);
            status = EXIT_USAGE;
            goto done_cfg;
        }
    }
    if (cfg.user != NULL && geteuid() == 0 && !check_output_dirs(&cfg, cfg.user)) {
        status = EXIT_USAGE;
        goto done_cfg;
    }
    if (check_config) {
        printf("ocellus: configuration OK\n");
        goto done_cfg;
    }

    guint n_files = files != NULL ? g_strv_length(files) : 0;
    const char *iface = cfg.interface;
    const char *bpf = cfg.filter;
    if (n_files > 0 && iface != NULL) {
        fputs("ocellus: -r and -i cannot be used together\n", stderr);
        status = EXIT_USAGE;
        goto done_cfg;
    }
    if (n_files == 0 && iface == NULL) {
        fputs("ocellus: no input: give -r FILE or -i IFACE (try --help)\n", stderr);
        status = EXIT_USAGE;
        goto done_cfg;
    }
    guint n_stdin = 0;
    for (guint i = 0; i < n_files; i++)
        n_stdin += strcmp(files[i], "-") == 0;
    if (n_stdin > 1) {
        fputs("ocellus: -r - (standard input) can be given only once\n", stderr);
        status = EXIT_USAGE;
        goto done_cfg;
    }

    /* From here on every line goes to the configured log; usage and configuration errors
     * above always go to standard error, where whoever started us looks. */
    if (cfg.log_syslog) {
        log_to_syslog = true;
        log_open();
    }
    run_t run = { .wk = NULL, .stats_interval_s = cfg.stats_interval_s };

    /* Every input is opened before any packet is read, so a bad file name or filter fails
     * at once instead of after minutes of work on the files before it. */
    cap_t **caps = g_new0(cap_t *, n_files > 0 ? n_files : 1);
    guint n_caps = 0;
    if (n_files > 0) {
        for (; n_caps < n_files; n_caps++) {
            caps[n_caps] = cap_open_file(files[n_caps], bpf, &error);
            if (caps[n_caps] == NULL)
                break;
        }
    } else {
        caps[0] = cap_open_live(iface, bpf, (int)cfg.snaplen, cfg.promiscuous, cfg.buffer_size_mib,
                                &error);
        n_caps = caps[0] != NULL;
    }
    char err[256] = "";
    if (error != NULL)
        log_line(LOG_ERR, "%s", error->message);
    /* Outputs start after the inputs: a bad input or filter then fails before any thread or
     * socket. The engine comes last because it extracts fields only if an output uses them. */
    bool output_cfg_error = false;
    bool outputs_ok = error == NULL && open_outputs(&cfg, &run, iface, &output_cfg_error);
    if (outputs_ok) {
        cfg.flow.dpi_fields = false;
        for (unsigned i = 0; i < run.n_outs; i++)
            cfg.flow.dpi_fields = cfg.flow.dpi_fields || exp_output_wants_fields(run.outs[i]);
        if (!cfg.flow.dpi_fields)
            run.stages = g_new0(rec_stage_t, cfg.workers);
        run.wk = wk_new(&cfg.flow, cfg.workers, on_flow_end, on_engine_done, &run, err,
                        sizeof err);
        if (run.wk == NULL)
            log_line(LOG_ERR, "%s", err[0] != '\0' ? err : "cannot create the engine");
    }
    if (run.wk == NULL) {
        g_free(run.stages);
        for (guint i = 0; i < n_caps; i++)
            cap_free(caps[i]);
        g_free(caps);
        close_outputs(&run, 1, false); /* nothing was queued yet */
        status = output_cfg_error ? EXIT_USAGE : EXIT_RUNTIME;
        goto done_cfg;
    }
    if (cfg.user != NULL)
        give_output_files(&cfg, cfg.user);
    bool pid_written = false;
    if ((cfg.pid_file != NULL && !(pid_written = write_pid_file(cfg.pid_file))) ||
        (cfg.user != NULL && !drop_privileges(cfg.user))) {
        wk_free(run.wk);
        g_free(run.stages);
        for (guint i = 0; i < n_caps; i++)
            cap_free(caps[i]);
        g_free(caps);
        close_outputs(&run, 1, false);
        if (pid_written)
            unlink(cfg.pid_file);
        status = EXIT_RUNTIME;
        goto done_cfg;
    }
    install_signals();

    uint64_t start_us = clock_us(CLOCK_MONOTONIC);
    run.start_real_ms = clock_us(CLOCK_REALTIME) / 1000u;
    run.next_stats_us = start_us + (uint64_t)cfg.stats_interval_s * G_USEC_PER_SEC;
    bool ok = n_files > 0 ? read_files(&run, caps, n_caps, isatty(STDERR_FILENO) == 1)
                          : read_live(&run, caps[0]);
    if (!ok)
        status = EXIT_RUNTIME;
    /* End of input, shutdown and errors alike: every flow still open is reported. */
    wk_flush(run.wk);
    /* The last statistics record goes after the last flow record. */
    submit_stats(&run, n_files > 0 ? NULL : caps[0]);
    uint64_t elapsed_us = clock_us(CLOCK_MONOTONIC) - start_us;

    print_summary(run.wk, elapsed_us);
    /* Each output gets the configured time to deliver; what it could not is lost, logged,
     * and makes the exit status say so. */
    if (!close_outputs(&run, cfg.shutdown_timeout_s, true))
        status = EXIT_RUNTIME;

    wk_free(run.wk);
    g_free(run.stages);
    for (guint i = 0; i < n_caps; i++)
        cap_free(caps[i]);
    g_free(caps);
    /* After dropping root the pid file may not be ours to remove (a root-owned directory);
     * a stale pid file is harmless, so only other failures are worth a line. */
    if (pid_written && unlink(cfg.pid_file) != 0 && !(cfg.user != NULL && errno == EACCES) &&
        !(cfg.user != NULL && errno == EPERM))
        log_line(LOG_WARNING, "cannot remove pid file %s: %s", cfg.pid_file, g_strerror(errno));
done_cfg:
    if (log_to_syslog)
        closelog();
    cfg_clear(&cfg);
    g_array_free(pending_opts, TRUE);
    /* An output thread left blocked in a write (stalled pipe, hung file system) may hold a
     * stdio lock that exit() would wait for: the shutdown timeout must still hold. */
    if (exp_output_any_abandoned()) {
        fflush(stderr);
        _exit(status);
    }
    return status;
}
