/*
 * What exp_output.c shares with the sinks (exp_ipfix.c, exp_tcp.c, exp_json.c): the output object and
 * the operations each kind of output implements. Not installed; not for main.c.
 */
#ifndef OC_EXP_INTERNAL_H
#define OC_EXP_INTERNAL_H

#include "export/exp.h"
#include "export/exp_queue.h"

/* Operations of one kind of output. open runs in exp_output_new() on the caller's thread;
 * the others run on the output's thread, free after that thread has stopped. */
typedef struct exp_sink_ops {
    bool (*open)(exp_output_t *out, GError **error);
    void (*write)(exp_output_t *out, const oc_flow_info_t *recs, size_t n);
    void (*flush)(exp_output_t *out);   /* send what is buffered (closing, stats) */
    /* Optional: the queue ran empty; NULL means flush. A file output keeps filling its
     * message for a while instead (nobody waits on a file record by the millisecond). */
    void (*idle)(exp_output_t *out);
    /* Optional: write the statistics options record, after what was written so far
     * (NULL: the kind has none, JSON). */
    void (*stats)(exp_output_t *out, const exp_stats_t *st);
    /* SIGHUP: reopen or rotate the file; false with @error (naming the file, and saying
     * what is written meanwhile) when that failed. */
    bool (*reopen)(exp_output_t *out, GError **error);
    void (*free)(exp_output_t *out);
    /* Optional: replaces the generic pop/write/flush loop of the output's thread, for a
     * sink that must decide itself when to take records out of the queue (tcp:// leaves
     * them queued while it is disconnected). Returns once the queue is closing and
     * delivered, or at once on abort; write/flush/reopen are then unused. */
    void (*run)(exp_output_t *out);
} exp_sink_ops_t;

struct exp_output {
    exp_output_cfg_t cfg;     /* copy; the strings below are owned copies */
    char *name, *uri, *template_path;
    exp_kind_t kind;
    char *path;               /* json:, file: */
    char *host, *port;        /* udp://, tcp:// */
    const exp_sink_ops_t *ops;
    void *sink;               /* the kind's own state */
    bool wants_fields;        /* set by open(): records need their DPI fields */

    exp_queue_t queue;
    GThread *thread;
    GCond done_cond;          /* with queue.lock */
    bool done;                /* the thread has stopped */

    /* Out-of-band work for the thread, set by the capture thread: the queue's request flag
     * only wakes the thread up, these say what to do (read and cleared atomically; the
     * snapshot itself under queue.lock). */
    gint reopen_due;          /* SIGHUP */
    /* Under queue.lock: reopens requested and done (the request number the thread last
     * acted on), and the error of that one (NULL: it worked). */
    unsigned reopen_wanted, reopen_done;
    GError *reopen_error;
    gint stats_due;           /* stats_snap holds a snapshot not yet taken */
    exp_stats_t stats_snap;
    uint64_t stats_after;     /* records accepted into the queue before the snapshot */

    /* Counters kept by the sinks, under queue.lock (exp_output_account). */
    uint64_t records_sent, records_lost, messages_sent, send_errors;
    uint64_t records_possibly_lost, connections;   /* tcp:// only */

    /* Rate-limited error reports (output thread only). */
    bool failing;
    uint64_t suppressed;      /* errors not logged since last_log_us */
    gint64 last_log_us;       /* monotonic time of the last error logged, 0 = none */
    gint64 last_ok_log_us;    /* ... of the last "connected again" message */
};

/* Adds to the output's counters (any thread). */
void exp_output_account(exp_output_t *out, uint64_t sent, uint64_t lost, uint64_t messages,
                        uint64_t errors);

/* Logs a failure, at most once per minute per output (the others are counted and the
 * count goes with the next message); exp_output_recovered() marks success. */
void exp_output_failure(exp_output_t *out, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
void exp_output_recovered(exp_output_t *out);

/* A stream output is connected again after a failure: logs it (at most once per minute;
 * nothing when nothing had failed) and marks success. Output thread only. */
void exp_output_reconnected(exp_output_t *out, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Takes the statistics snapshot submitted last, if one is waiting: true, with the snapshot
 * in @st and in @after the number of records accepted into the queue before it was
 * submitted (the record goes out once that many were taken out and written). Output
 * thread only. */
bool exp_output_take_stats(exp_output_t *out, exp_stats_t *st, uint64_t *after);

/* tcp://: adds records written but maybe never read by the collector, and connections
 * established (any thread). */
void exp_output_account_stream(exp_output_t *out, uint64_t possibly_lost, uint64_t connections);

/* file: rotation names. The finished file for PATH started at @start_us (real time, µs):
 * the UTC time as YYYYMMDDTHHMMSSZ inserted before the extension of PATH's last component
 * (appended when it has none), with "_NNN" (@n, three digits, 1..999) after the time when
 * @n > 0 (the name was taken): '_' sorts after '.' and the end of the name, so names sort in
 * the order the files were started. The file being written is ".BASE.part" in PATH's
 * directory. Both newly allocated. */
char *exp_file_rotated_name(const char *path, gint64 start_us, unsigned n);
char *exp_file_part_name(const char *path);

extern const exp_sink_ops_t exp_json_ops;
extern const exp_sink_ops_t exp_ipfix_file_ops;
extern const exp_sink_ops_t exp_ipfix_udp_ops;
extern const exp_sink_ops_t exp_ipfix_tcp_ops;

#endif /* OC_EXP_INTERNAL_H */
