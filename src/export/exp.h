/*
 * Flow record outputs. The flow-termination callback hands each finished flow to every
 * output; an output copies what it needs into its bounded queue and returns at once, and its
 * own thread encodes (IPFIX through libfixbuf into memory buffers, or JSON lines) and writes
 * (UDP datagrams, a TCP stream, a file). Capture never waits on a slow or absent collector:
 * a full queue counts the record as lost.
 */
#ifndef OC_EXP_H
#define OC_EXP_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <glib.h>

#include <ocellus/ocellus.h>

#define EXP_ERROR (exp_error_quark())
GQuark exp_error_quark(void);

typedef enum {
    EXP_ERROR_URI,      /* bad or unsupported output URI */
    EXP_ERROR_TEMPLATE, /* template file: unknown element, bad line */
    EXP_ERROR_OPEN,     /* cannot open the file / resolve the host / create the socket */
    EXP_ERROR_IO
} exp_error_t;

typedef enum {
    EXP_KIND_JSON = 0,  /* json:PATH, PATH "-" = stdout */
    EXP_KIND_FILE,      /* file:PATH, an IPFIX file */
    EXP_KIND_UDP,       /* udp://HOST:PORT */
    EXP_KIND_TCP        /* tcp://HOST:PORT */
} exp_kind_t;

/* One output's settings (INI section [output NAME] or -o URI with defaults). Plain data:
 * strings are owned by whoever fills the struct and must outlive exp_output_new(). */
typedef struct exp_output_cfg {
    const char *name;             /* section name, or the URI for -o outputs */
    const char *uri;              /* json:PATH, file:PATH, udp://HOST:PORT, tcp://HOST:PORT */
    const char *template_path;    /* IPFIX template file; NULL = default.tmpl; a name without
                                     '/' is looked up in the template directory (templates/README) */
    bool uniflow;                 /* export each biflow as two one-way records (RFC 5103 s3) */
    uint32_t observation_domain;  /* IPFIX observation domain id (default 1) */
    uint32_t template_refresh_s;  /* UDP: re-send templates this often (default 60) */
    uint32_t datagram_size;       /* UDP: max IPFIX message = datagram size (default 1472: 1500 MTU) */
    uint32_t queue_records;       /* bounded queue between capture and the output (default 65536) */
    uint32_t rotate_interval_s;   /* file: rotate after this long, 0 = never */
    uint64_t rotate_size;         /* file: rotate after this many bytes, 0 = never */
    uint32_t ingress_interface;   /* ingressInterface: capture interface index, 0 for files */
    bool wait_for_room;           /* reading files: a full queue waits for the output (exp_queue.h) */
} exp_output_cfg_t;

/* Fills @cfg with the defaults above (name, uri and template_path NULL). Inline so that the
 * config module can fill output settings without linking the exporters. */
static inline void exp_output_cfg_init(exp_output_cfg_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->observation_domain = 1;
    cfg->template_refresh_s = 60;
    cfg->datagram_size = 1472;
    cfg->queue_records = 65536;
}

/* Per-output counters (read with exp_output_get_stats). */
typedef struct exp_output_stats {
    uint64_t records_in;          /* handed to the output */
    uint64_t records_sent;        /* written to the file / socket */
    uint64_t records_queued;      /* waiting now */
    uint64_t records_lost;        /* queue full, send error, undelivered at shutdown */
    uint64_t records_possibly_lost; /* tcp://: part of records_sent, written into a connection
                                       that died (or was closed) before we could tell that
                                       the collector read them; see exp_tcp.c */
    uint64_t messages_sent;       /* IPFIX messages / datagrams / lines */
    uint64_t send_errors;         /* failed sends; tcp://: also connections lost */
    uint64_t connections;         /* tcp://: connections established */
} exp_output_stats_t;

/*
 * A snapshot of the meter's statistics, for the IPFIX options record each IPFIX output sends
 * (exp_output_submit_stats). The output adds its own delivery counters when it encodes the
 * record. Which IPFIX element carries which field is documented in exp_ipfix.c.
 */
typedef struct exp_stats {
    uint64_t system_init_ms;      /* real time the meter started, ms since the epoch */
    uint64_t observed_ms;         /* real time of this snapshot, ms since the epoch */
    uint64_t packets;             /* packets read (given to the engine) */
    uint64_t packets_dropped;     /* dropped by the kernel before we read them (pcap_stats);
                                     0 when reading files */
    uint64_t packets_ignored;     /* read but attributed to no flow (every skip cause) */
    uint64_t flows_observed;      /* flows created since start */
} exp_stats_t;

typedef struct exp_output exp_output_t;

/* What exp_output_new() checks before it opens anything: the URI, the settings and, for the
 * IPFIX outputs, the template file, with the same errors (EXP_ERROR_URI, EXP_ERROR_TEMPLATE).
 * For --check-config. Setup only. */
bool exp_output_cfg_check(const exp_output_cfg_t *cfg, GError **error);

/* The file a json: or file: output writes (file: with rotation: the directory it writes
 * into is that of this path), newly allocated; NULL for standard output, sockets and URIs
 * that are not valid. */
char *exp_output_cfg_file(const exp_output_cfg_t *cfg);

/* Whether the output rotates its file (by time or size). */
static inline bool exp_output_cfg_rotates(const exp_output_cfg_t *cfg)
{
    return cfg->rotate_interval_s != 0 || cfg->rotate_size != 0;
}

/* Validates @cfg, loads its template, opens the file or socket and starts the output's
 * thread. Errors name the output and the URI (or the template file, line and element). */
exp_output_t *exp_output_new(const exp_output_cfg_t *cfg, GError **error);

/* Queues a copy of @info; never blocks. Returns false (and counts a loss) if the queue is
 * full. Called from the flow-termination callback, i.e. on the capture thread. */
bool exp_output_submit(exp_output_t *out, const oc_flow_info_t *info);

/* exp_output_submit() of @n records in order, taking the queue's lock once. Fields are
 * copied as there, so a record collected past its callback must have none. Returns the
 * number queued. */
size_t exp_output_submit_many(exp_output_t *out, const oc_flow_info_t *infos, size_t n);

/* Hands @stats to the output, which sends it as an options record (IPFIX outputs; JSON
 * outputs ignore it) after every flow record submitted before this call. Never blocks: a
 * snapshot that replaces one not yet sent supersedes it (each carries totals). Capture
 * thread; not per packet. */
void exp_output_submit_stats(exp_output_t *out, const exp_stats_t *stats);

/* Whether the output uses DPI fields (JSON, or a template with field elements): the
 * engine extracts fields only if some output does. */
bool exp_output_wants_fields(const exp_output_t *out);

/* Current counters; safe to call from the capture thread at any time. */
void exp_output_get_stats(exp_output_t *out, exp_output_stats_t *stats);

/* SIGHUP: asks the output's thread to reopen its file (json:, file:) or, with rotation, to
 * end the current file early; exp_output_reopen_status() tells when it is done. Never
 * blocks; calling it again before it is done asks once more. */
void exp_output_reopen(exp_output_t *out);

typedef enum {
    EXP_REOPEN_DONE,     /* done (or nothing to reopen: sockets, standard output) */
    EXP_REOPEN_PENDING,  /* the thread has not got to it yet (busy writing) */
    EXP_REOPEN_FAILED    /* @error names the file, why, and what is written meanwhile */
} exp_reopen_status_t;

/* The outcome of the last exp_output_reopen(). Capture thread, between batches. */
exp_reopen_status_t exp_output_reopen_status(exp_output_t *out, GError **error);

/* Delivers what is queued within @timeout_ms, then stops the thread, closes and frees the
 * output; records still undelivered count as lost. Returns false if some were lost.
 * exp_output_close(NULL, ...) does nothing and returns true. */
bool exp_output_close(exp_output_t *out, uint32_t timeout_ms);

/* exp_output_close() that also copies the final counters into @stats (if not NULL), with
 * the undelivered records counted in records_lost. */
bool exp_output_close_stats(exp_output_t *out, uint32_t timeout_ms, exp_output_stats_t *stats);
/*
 * True once exp_output_close() had to leave an output's thread blocked in a write (a stalled
 * pipe, a hung file system) after its timeout. The process must then end with _exit():
 * exit() would flush stdio and could block on the same stream.
 */
bool exp_output_any_abandoned(void);

const char *exp_output_name(const exp_output_t *out);

#endif /* OC_EXP_H */
