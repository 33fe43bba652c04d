/*
 * The ocellus command: reads packets from capture files or a live interface, feeds them to
 * one flow engine and writes every finished flow record as a JSON line. This file is wiring
 * only (options, the read loop, signals, the end-of-run summary); the logic lives in the
 * capture module, the engine and the JSON mapper, which have their own tests. The command's
 * error and summary lines are an interface: tests/integration parses them.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <locale.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include <ocellus/ocellus.h>
#include "capture/cap.h"
#include "config/cfg.h"
#include "export/exp.h"

/* Exit statuses, documented in man/ocellus.8. */
enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* Packets per cap_dispatch() call: the granularity of progress lines and signal checks. */
enum { BATCH_PACKETS = 4096, LIVE_POLL_MS = 1000 };

#define PROGRESS_INTERVAL_US 500000

/* Set by the signal handler; the main loop checks it after every batch. */
static volatile sig_atomic_t stop_requested;
/* The capture being read, so the handler can break out of pcap_dispatch(). */
static cap_t *volatile current_cap;

typedef struct run {
    oc_engine_t *engine;
    exp_output_t *outs[CFG_MAX_OUTPUTS];
    unsigned n_outs;
    bool engine_stopped;      /* the callback asked the engine to stop */
} run_t;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
    cap_t *cap = current_cap;
    if (cap != NULL)
        cap_break(cap);
}

static uint64_t clock_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000) + (uint64_t)ts.tv_nsec / 1000u;
}

/* Flow-termination callback: every output gets a copy of the record. Submitting never
 * blocks; an output whose queue is full counts the record as lost and says so at exit. */
static int on_flow_end(const oc_flow_info_t *info, void *user)
{
    run_t *run = user;
    for (unsigned i = 0; i < run->n_outs; i++)
        exp_output_submit(run->outs[i], info);
    return 0;
}

static void on_packet(void *user, uint64_t ts_us, const uint8_t *data, uint32_t caplen,
                      uint32_t wirelen, int dlt)
{
    run_t *run = user;

    if (run->engine_stopped)
        return;
    if (oc_engine_process(run->engine, ts_us, data, caplen, wirelen, dlt, NULL)
        == OC_STATUS_STOPPED) {
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
static void print_progress(const cap_t *cap, oc_engine_t *engine)
{
    oc_engine_stats_t st;
    uint64_t done, total;

    oc_engine_get_stats(engine, &st);
    cap_progress(cap, &done, &total);
    if (total > 0)
        fprintf(stderr, "\rocellus: %s %5.1f%%, %" PRIu64 " packets, %" PRIu64
                        " flows active\033[K", cap_name(cap), 100.0 * (double)done / (double)total,
                st.packets, st.flows_active);
    else
        fprintf(stderr, "\rocellus: %s, %" PRIu64 " packets, %" PRIu64 " flows active\033[K",
                cap_name(cap), st.packets, st.flows_active);
}

static void print_summary(oc_engine_t *engine, uint64_t elapsed_us)
{
    oc_engine_stats_t st;
    oc_engine_get_stats(engine, &st);

    uint64_t skipped = 0;
    for (int i = 1; i < OC_SKIP_N; i++)
        skipped += st.packets_skipped[i];
    fprintf(stderr, "ocellus: packets read: %" PRIu64 "\n", st.packets);
    fprintf(stderr, "ocellus: packets attributed: %" PRIu64 "\n", st.packets_attributed);
    fprintf(stderr, "ocellus: packets skipped: %" PRIu64 " (", skipped);
    if (skipped == 0) {
        fputs("none", stderr);
    } else {
        const char *sep = "";
        for (int i = 1; i < OC_SKIP_N; i++) {
            if (st.packets_skipped[i] == 0)
                continue;
            fprintf(stderr, "%s%s %" PRIu64, sep, oc_skip_name((oc_skip_t)i),
                    st.packets_skipped[i]);
            sep = ", ";
        }
    }
    fputs(")\n", stderr);

    uint64_t records = 0;
    for (int r = OC_END_IDLE; r <= OC_END_RESOURCES; r++)
        records += st.records_ended[r];
    fprintf(stderr, "ocellus: flows: %" PRIu64 " created, %" PRIu64 " records (idle %" PRIu64
                    ", active %" PRIu64 ", tcp %" PRIu64 ", forced %" PRIu64 ", resources %"
                    PRIu64 ")\n", st.flows_created, records, st.records_ended[OC_END_IDLE],
            st.records_ended[OC_END_ACTIVE], st.records_ended[OC_END_TCP],
            st.records_ended[OC_END_FORCED], st.records_ended[OC_END_RESOURCES]);

    double secs = (double)elapsed_us / 1e6;
    uint64_t rate = elapsed_us > 0 ? (uint64_t)((double)st.packets / secs) : 0;
    fprintf(stderr, "ocellus: elapsed: %.3f s, %" PRIu64 " packets/s\n", secs, rate);
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
            cap_status_t st = cap_dispatch(caps[i], BATCH_PACKETS, 0, on_packet, run, &error);
            if (st == CAP_STATUS_ERROR) {
                current_cap = NULL;
                if (progress)
                    fputs("\r\033[K", stderr);
                fprintf(stderr, "ocellus: %s\n", error->message);
                return false;
            }
            if (st == CAP_STATUS_EOF || stop_requested || run->engine_stopped)
                break;
            if (progress) {
                uint64_t now = clock_us(CLOCK_MONOTONIC);
                if (now - last_progress >= PROGRESS_INTERVAL_US) {
                    print_progress(caps[i], run->engine);
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

    current_cap = cap;
    while (!stop_requested && !run->engine_stopped) {
        g_autoptr(GError) error = NULL;
        cap_status_t st = cap_dispatch(cap, BATCH_PACKETS, LIVE_POLL_MS, on_packet, run,
                                       &error);
        if (st == CAP_STATUS_ERROR) {
            fprintf(stderr, "ocellus: %s\n", error->message);
            ok = false;
            break;
        }
        /* Live packet times are wall-clock times, so the same clock expires quiet flows. */
        if (oc_engine_advance(run->engine, clock_us(CLOCK_REALTIME)) == OC_STATUS_STOPPED)
            run->engine_stopped = true;
    }
    current_cap = NULL;

    uint64_t received, dropped;
    if (cap_kernel_stats(cap, &received, &dropped))
        fprintf(stderr, "ocellus: kernel: %" PRIu64 " received, %" PRIu64 " dropped\n",
                received, dropped);
    return ok;
}

/* Writes our pid to @path; the caller removes it at exit. */
static bool write_pid_file(const char *path)
{
    FILE *fp = fopen(path, "w");
    if (fp == NULL || fprintf(fp, "%ld\n", (long)getpid()) < 0 || fclose(fp) != 0) {
        fprintf(stderr, "ocellus: cannot write pid file %s: %s\n", path, g_strerror(errno));
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
        fprintf(stderr, "ocellus: [daemon] user: no such user '%s'\n", user);
        return false;
    }
    if (geteuid() == pw->pw_uid)
        return true;
    if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
        setuid(pw->pw_uid) != 0) {
        fprintf(stderr, "ocellus: cannot switch to user %s: %s\n", user, g_strerror(errno));
        return false;
    }
    return true;
}

/* Builds the option table: fixed options plus one long option per configuration key. */
static GOptionEntry *build_entries(char ***files, char ***outputs, char **config_file,
                                   gboolean *check_config, gboolean *version)
{
    const char *const *names = cfg_option_names();
    guint n = 0;
    while (names[n] != NULL)
        n++;
    GOptionEntry *e = g_new0(GOptionEntry, n + 6);
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

/* Starts every output of @cfg, or JSON lines on standard output when there is none. */
static bool open_outputs(cfg_t *cfg, run_t *run, const char *iface)
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
        run->outs[i] = exp_output_new(&list[i], &error);
        if (run->outs[i] == NULL) {
            fprintf(stderr, "ocellus: %s\n", error->message);
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
    for (unsigned i = 0; i < run->n_outs; i++) {
        exp_output_stats_t st;
        g_autofree char *name = g_strdup(exp_output_name(run->outs[i]));
        bool ok = exp_output_close_stats(run->outs[i], timeout_s * 1000u, &st);
        if (report)
            fprintf(stderr, "ocellus: output %s: %" PRIu64 " records sent, %" PRIu64
                            " lost, %" PRIu64 " send errors\n", name, st.records_sent,
                    st.records_lost, st.send_errors);
        all = all && ok;
    }
    run->n_outs = 0;
    return all;
}

/* Operator messages from every module, as "ocellus: ..." lines like our own. */
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
        fprintf(stderr, "ocellus: %s%s\n",
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

    run_t run = { .engine = NULL };

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
        caps[0] = cap_open_live(iface, bpf, (int)cfg.snaplen, cfg.promiscuous, &error);
        n_caps = caps[0] != NULL;
    }
    char err[256] = "";
    if (error == NULL) {
        run.engine = oc_engine_new(&cfg.flow, err, sizeof err);
        if (run.engine == NULL)
            fprintf(stderr, "ocellus: %s\n", err[0] != '\0' ? err : "cannot create the engine");
    } else {
        fprintf(stderr, "ocellus: %s\n", error->message);
    }
    /* Outputs start last: a bad input or filter then fails before any thread or socket. */
    if (run.engine == NULL || !open_outputs(&cfg, &run, iface)) {
        oc_engine_free(run.engine);
        for (guint i = 0; i < n_caps; i++)
            cap_free(caps[i]);
        g_free(caps);
        close_outputs(&run, 1, false); /* nothing was queued yet */
        status = EXIT_RUNTIME;
        goto done_cfg;
    }
    oc_engine_set_termination_cb(run.engine, on_flow_end, &run);
    bool pid_written = false;
    if ((cfg.pid_file != NULL && !(pid_written = write_pid_file(cfg.pid_file))) ||
        (cfg.user != NULL && !drop_privileges(cfg.user))) {
        oc_engine_free(run.engine);
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
    bool ok = n_files > 0 ? read_files(&run, caps, n_caps, isatty(STDERR_FILENO) == 1)
                          : read_live(&run, caps[0]);
    if (!ok)
        status = EXIT_RUNTIME;
    /* End of input, shutdown and errors alike: every flow still open is reported. */
    oc_engine_flush(run.engine);
    uint64_t elapsed_us = clock_us(CLOCK_MONOTONIC) - start_us;

    print_summary(run.engine, elapsed_us);
    /* Each output gets the configured time to deliver; what it could not is lost, logged,
     * and makes the exit status say so. */
    if (!close_outputs(&run, cfg.shutdown_timeout_s, true))
        status = EXIT_RUNTIME;

    oc_engine_free(run.engine);
    for (guint i = 0; i < n_caps; i++)
        cap_free(caps[i]);
    g_free(caps);
    /* After dropping root the pid file may not be ours to remove (a root-owned directory);
     * a stale pid file is harmless, so only other failures are worth a line. */
    if (pid_written && unlink(cfg.pid_file) != 0 && !(cfg.user != NULL && errno == EACCES) &&
        !(cfg.user != NULL && errno == EPERM))
        fprintf(stderr, "ocellus: cannot remove pid file %s: %s\n", cfg.pid_file,
                g_strerror(errno));
done_cfg:
    cfg_clear(&cfg);
    g_array_free(pending_opts, TRUE);
    return status;
}
