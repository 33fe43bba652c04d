/*
 * The ocellus command: reads packets from capture files or a live interface, feeds them to
 * one flow engine and writes every finished flow record as a JSON line. This file is wiring
 * only (options, the read loop, signals, the end-of-run summary); the logic lives in the
 * capture module, the engine and the JSON mapper, which have their own tests. The command's
 * error and summary lines are an interface: tests/integration parses them.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include <ocellus/ocellus.h>
#include "capture/cap.h"
#include "map/map_json.h"

/* Exit statuses, documented in man/ocellus.8. */
enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* Packets per cap_dispatch() call: the granularity of progress lines and signal checks. */
enum { BATCH_PACKETS = 4096, LIVE_POLL_MS = 1000, LIVE_SNAPLEN = 65535 };
/* stdio buffer of the JSON output: one write() per ~150 records. */
enum { OUTPUT_BUFFER_BYTES = 64 * 1024 };

#define PROGRESS_INTERVAL_US 500000

/* Set by the signal handler; the main loop checks it after every batch. */
static volatile sig_atomic_t stop_requested;
/* The capture being read, so the handler can break out of pcap_dispatch(). */
static cap_t *volatile current_cap;

typedef struct run {
    oc_engine_t *engine;
    FILE *out;
    const char *out_name;
    int write_errno;          /* first output error, 0 if none */
    bool write_failed;
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

/* Flow-termination callback: one JSON line per record into a stdio buffer. */
static int on_flow_end(const oc_flow_info_t *info, void *user)
{
    run_t *run = user;
    char buf[MAP_JSON_MAX];

    if (run->write_failed)
        return 1;
    size_t len = map_json_format(info, buf, sizeof buf);
    if (fwrite(buf, 1, len, run->out) != len) {
        run->write_errno = errno;
        run->write_failed = true;
        return 1; /* no point reading on when the output is gone */
    }
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

/* Parses a decimal integer option in [lo, hi]; prints the error and returns false. */
static bool parse_count(const char *option, const char *text, uint64_t lo, uint64_t hi,
                        uint32_t *value)
{
    bool ok = text[0] != '\0';
    uint64_t v = 0;

    for (const char *p = text; ok && *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || v > hi) {
            ok = false;
            break;
        }
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (!ok || v < lo || v > hi) {
        fprintf(stderr, "ocellus: %s must be an integer in %" PRIu64 "..%" PRIu64
                        " (got '%s')\n", option, lo, hi, text);
        return false;
    }
    *value = (uint32_t)v;
    return true;
}

/* Opens the -o destination; only the json: scheme exists so far. */
static FILE *open_output(const char *spec, const char **name, int *status)
{
    const char *colon = strchr(spec, ':');

    if (colon == NULL || (size_t)(colon - spec) != 4 || strncmp(spec, "json", 4) != 0) {
        if (colon == NULL)
            fprintf(stderr, "ocellus: unsupported output '%s' (expected json:PATH)\n", spec);
        else
            fprintf(stderr, "ocellus: unsupported output scheme '%.*s' in '%s' "
                            "(only json:PATH is supported)\n", (int)(colon - spec), spec,
                    spec);
        *status = EXIT_USAGE;
        return NULL;
    }
    const char *path = colon + 1;
    if (path[0] == '\0') {
        fprintf(stderr, "ocellus: unsupported output '%s': json: needs a PATH (- for "
                        "standard output)\n", spec);
        *status = EXIT_USAGE;
        return NULL;
    }
    *name = path;
    if (strcmp(path, "-") == 0) {
        *name = "standard output";
        return stdout;
    }
    FILE *fp = fopen(path, "w");
    if (fp == NULL) {
        fprintf(stderr, "ocellus: cannot open output %s: %s\n", path, g_strerror(errno));
        *status = EXIT_RUNTIME;
    }
    return fp;
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
        /* A live run has no end to wait for: records leave at least once per poll period
         * (one write per batch, not per flow). */
        if (!run->write_failed && fflush(run->out) != 0) {
            run->write_errno = errno;
            run->write_failed = true;
            run->engine_stopped = true;
        }
    }
    current_cap = NULL;

    uint64_t received, dropped;
    if (cap_kernel_stats(cap, &received, &dropped))
        fprintf(stderr, "ocellus: kernel: %" PRIu64 " received, %" PRIu64 " dropped\n",
                received, dropped);
    return ok;
}

int main(int argc, char **argv)
{
    g_auto(GStrv) files = NULL;
    g_autofree char *iface = NULL, *bpf = NULL, *output = NULL;
    g_autofree char *idle_s = NULL, *active_s = NULL, *max_flows_s = NULL;
    gboolean version = FALSE;
    GOptionEntry entries[] = {
        { "read", 'r', 0, G_OPTION_ARG_FILENAME_ARRAY, &files,
          "Read packets from a pcap or pcapng FILE (repeatable, read in order; - = standard "
          "input)", "FILE" },
        { "interface", 'i', 0, G_OPTION_ARG_STRING, &iface,
          "Capture live on IFACE (promiscuous)", "IFACE" },
        { "filter", 'f', 0, G_OPTION_ARG_STRING, &bpf, "Only packets matching the BPF filter",
          "BPF" },
        { "idle-timeout", 0, 0, G_OPTION_ARG_STRING, &idle_s,
          "End a flow after S seconds without packets (1..86400, default 30)", "S" },
        { "active-timeout", 0, 0, G_OPTION_ARG_STRING, &active_s,
          "Cut a record of a flow active for S seconds (1..604800, default 300)", "S" },
        { "max-flows", 0, 0, G_OPTION_ARG_STRING, &max_flows_s,
          "Flows kept at once (16..67108864, default 262144)", "N" },
        { "output", 'o', 0, G_OPTION_ARG_STRING, &output,
          "Write JSON lines to PATH (- = standard output, the default)", "json:PATH" },
        { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
        { NULL, 0, 0, G_OPTION_ARG_NONE, NULL, NULL, NULL }
    };

    /* Character set only: numbers in the summary keep the C locale's decimal point. */
    setlocale(LC_CTYPE, "");
    g_autoptr(GOptionContext) ctx = g_option_context_new("- bidirectional flow meter");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_description(ctx,
        "Reads packets from capture files (-r) or an interface (-i) and writes one JSON object\n"
        "per finished flow record. A summary goes to standard error at the end.\n"
        "Exit status: 0 success, 1 runtime error, 2 usage error. See ocellus(8).\n");
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "ocellus: %s (try --help)\n", error->message);
        return EXIT_USAGE;
    }
    if (version) {
        printf("ocellus %s\n", PACKAGE_VERSION);
        return EXIT_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "ocellus: unexpected argument '%s' (try --help)\n", argv[1]);
        return EXIT_USAGE;
    }
    guint n_files = files != NULL ? g_strv_length(files) : 0;
    if (n_files > 0 && iface != NULL) {
        fputs("ocellus: -r and -i cannot be used together\n", stderr);
        return EXIT_USAGE;
    }
    if (n_files == 0 && iface == NULL) {
        fputs("ocellus: no input: give -r FILE or -i IFACE (try --help)\n", stderr);
        return EXIT_USAGE;
    }
    guint n_stdin = 0;
    for (guint i = 0; i < n_files; i++)
        n_stdin += strcmp(files[i], "-") == 0;
    if (n_stdin > 1) {
        fputs("ocellus: -r - (standard input) can be given only once\n", stderr);
        return EXIT_USAGE;
    }

    oc_config_t config;
    oc_config_init(&config);
    if ((idle_s != NULL
         && !parse_count("--idle-timeout", idle_s, 1, 86400, &config.idle_timeout_s))
        || (active_s != NULL
            && !parse_count("--active-timeout", active_s, 1, 604800, &config.active_timeout_s))
        || (max_flows_s != NULL
            && !parse_count("--max-flows", max_flows_s, 16, UINT64_C(1) << 26,
                            &config.max_flows)))
        return EXIT_USAGE;

    run_t run = { .out = stdout, .out_name = "standard output" };
    int status = EXIT_OK;
    if (output != NULL) {
        run.out = open_output(output, &run.out_name, &status);
        if (run.out == NULL)
            return status;
    }

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
        caps[0] = cap_open_live(iface, bpf, LIVE_SNAPLEN, true, &error);
        n_caps = caps[0] != NULL;
    }
    if (error != NULL) {
        fprintf(stderr, "ocellus: %s\n", error->message);
        for (guint i = 0; i < n_caps; i++)
            cap_free(caps[i]);
        g_free(caps);
        if (run.out != stdout)
            fclose(run.out);
        return EXIT_RUNTIME;
    }

    char err[256] = "";
    run.engine = oc_engine_new(&config, err, sizeof err);
    if (run.engine == NULL) {
        fprintf(stderr, "ocellus: %s\n", err[0] != '\0' ? err : "cannot create the engine");
        for (guint i = 0; i < n_caps; i++)
            cap_free(caps[i]);
        g_free(caps);
        if (run.out != stdout)
            fclose(run.out);
        return EXIT_RUNTIME;
    }
    /* glibc honours the size only with a caller's buffer; static, as stdout outlives main. */
    static char out_buf[OUTPUT_BUFFER_BYTES];
    if (!isatty(fileno(run.out)))
        setvbuf(run.out, out_buf, _IOFBF, sizeof out_buf);
    oc_engine_set_termination_cb(run.engine, on_flow_end, &run);
    install_signals();

    uint64_t start_us = clock_us(CLOCK_MONOTONIC);
    bool ok = n_files > 0 ? read_files(&run, caps, n_caps, isatty(STDERR_FILENO) == 1)
                          : read_live(&run, caps[0]);
    if (!ok)
        status = EXIT_RUNTIME;
    /* End of input, shutdown and errors alike: every flow still open is reported. */
    oc_engine_flush(run.engine);
    uint64_t elapsed_us = clock_us(CLOCK_MONOTONIC) - start_us;

    if (!run.write_failed && fflush(run.out) != 0) {
        run.write_errno = errno;
        run.write_failed = true;
    }
    if (run.out != stdout && fclose(run.out) != 0 && !run.write_failed) {
        run.write_errno = errno;
        run.write_failed = true;
    }
    if (run.write_failed) {
        fprintf(stderr, "ocellus: cannot write to %s: %s\n", run.out_name,
                g_strerror(run.write_errno));
        status = EXIT_RUNTIME;
    }
    print_summary(run.engine, elapsed_us);

    oc_engine_free(run.engine);
    for (guint i = 0; i < n_caps; i++)
        cap_free(caps[i]);
    g_free(caps);
    return status;
}
