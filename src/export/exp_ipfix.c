/*
 * IPFIX outputs: file:PATH and udp://HOST:PORT (tcp:// is exp_tcp.c, which shares the
 * set-up below). libfixbuf encodes (session, templates, sequence numbers, export time) into
 * a memory buffer through fbExporterAllocBuffer(); this file owns the file descriptor or
 * socket and decides when a message is complete.
 *
 * We do not use libfixbuf's own file and network exporters because of what INTEROP.md
 * records for 2.4.1: UDP datagrams fixed at 1420 bytes with send errors swallowed, and TCP
 * reconnects that block without a timeout and forget the templates. With the buffer
 * exporter, the buffer size is the message size limit, so each UDP datagram carries exactly
 * one IPFIX message of at most datagram_size bytes (nfcapd reads one message per datagram).
 *
 * The fBuf runs in manual mode: fBufAppend() reports a full message (FB_ERROR_EOM) instead
 * of emitting it, we emit, send, and append again. Templates go in a message of their own
 * before the first data message (in a file: once per file; over UDP: again every
 * template_refresh_s, checked when a new data message starts, since a restarted collector
 * has forgotten them and drops data for unknown templates).
 *
 * A file: output fills its messages (up to 64 KiB) while records keep coming: the queue runs
 * empty after almost every batch when a capture file is read faster than flows end, and a
 * message per batch would spend a header and a set header on every few records. It writes
 * the message once it is full, once its first record has waited EXP_FILE_LINGER_US, and at
 * rotation, SIGHUP, a statistics record and shutdown.
 *
 * Every session also holds the statistics options template (EXP_STATS_TID, RFC 7011 section
 * 3.4.2.2), sent with the flow templates (once per file, every template refresh over UDP, on
 * every TCP connection). Its one record per snapshot (exp_output_submit_stats: every
 * stats_interval, on SIGUSR1 and at shutdown after the last flow) carries standard IANA
 * elements only, each in its registered meaning:
 *   observationDomainId (149, the scope)    the output's observation domain
 *   exportingProcessId (144)                our process id
 *   observationTimeMilliseconds (323)       when the snapshot was taken
 *   systemInitTimeMilliseconds (160)        when ocellus started
 *   exportedFlowRecordTotalCount (42)       flow data records this output delivered (in
 *                                           uniflow mode two per biflow with traffic both ways)
 *   exportedMessageTotalCount (41)          IPFIX messages this output delivered before it
 *   packetTotalCount (86)                   packets read
 *   droppedPacketTotalCount (135)           packets the kernel dropped (0 reading files)
 *   ignoredPacketTotalCount (164)           packets read but attributed to no flow
 *   observedFlowTotalCount (163)            flows created
 *   notSentFlowTotalCount (166)             flows this output lost (queue full, send errors)
 * Flows active, records queued and "possibly lost" (tcp://) have no IANA element and are in
 * the statistics log line only. YAF's statistics record (which SiLK logs) is not imitated: SiLK
 * recognises it by CERT flowTablePeakCount or flowTableFlushEventCount, which the engine does
 * not count; SiLK and nfdump ignore this record.
 *
 * A file: output with rotate_interval_s or rotate_size writes into a hidden ".NAME.part" next
 * to PATH and renames it, when complete, to PATH with the file's UTC start time before the
 * extension (flows.20261127T221500Z.ipfix): a rename within one directory is atomic, so a
 * reader that picks up files by name never sees one half written. Each file is a transport
 * session of its own (a fresh libfixbuf session: templates first, sequence numbers from 0),
 * so any file can be read alone. The mapper tells each record's encoded length
 * (map_ipfix_wire_size: variable-length DPI fields included), so the length of the message
 * being built is known before each append;
 * the size limit ends a message early and starts the next file instead of letting a message
 * pass it, and a message is never split across files. Time boundaries are multiples of the
 * interval in UTC; the output thread wakes at least once a second, so a quiet output still
 * closes its file on time. A file that holds no data record is deleted, not kept.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/types.h>
#include <unistd.h>

#include "export/exp_ipfix.h"

/* libfixbuf's message buffer length is a uint16_t; files use the largest message. */
#define EXP_FILE_MSG_SIZE 65535

/* A file: message is written at the latest this long after its first record. */
#define EXP_FILE_LINGER_US G_USEC_PER_SEC

/* The statistics options record in memory: libfixbuf lays it out as the plain sum of the
 * lengths in stats_spec, which this struct matches without padding. */
typedef struct {
    uint32_t observation_domain;  /* observationDomainId (scope) */
    uint32_t process_id;          /* exportingProcessId */
    uint64_t observed_ms;         /* observationTimeMilliseconds */
    uint64_t system_init_ms;      /* systemInitTimeMilliseconds */
    uint64_t records_exported;    /* exportedFlowRecordTotalCount */
    uint64_t messages_exported;   /* exportedMessageTotalCount */
    uint64_t packets;             /* packetTotalCount */
    uint64_t packets_dropped;     /* droppedPacketTotalCount */
    uint64_t packets_ignored;     /* ignoredPacketTotalCount */
    uint64_t flows_observed;      /* observedFlowTotalCount */
    uint64_t flows_not_sent;      /* notSentFlowTotalCount */
} exp_stats_rec_t;
_Static_assert(sizeof(exp_stats_rec_t) == EXP_STATS_RECORD_SIZE, "no padding in the record");

static fbInfoElementSpec_t stats_spec[] = {
    { (char *)"observationDomainId", 4, 0 },
    { (char *)"exportingProcessId", 4, 0 },
    { (char *)"observationTimeMilliseconds", 8, 0 },
    { (char *)"systemInitTimeMilliseconds", 8, 0 },
    { (char *)"exportedFlowRecordTotalCount", 8, 0 },
    { (char *)"exportedMessageTotalCount", 8, 0 },
    { (char *)"packetTotalCount", 8, 0 },
    { (char *)"droppedPacketTotalCount", 8, 0 },
    { (char *)"ignoredPacketTotalCount", 8, 0 },
    { (char *)"observedFlowTotalCount", 8, 0 },
    { (char *)"notSentFlowTotalCount", 8, 0 },
    FB_IESPEC_NULL
};

typedef struct {
    fbInfoModel_t *model;
    map_ipfix_t *map;
    fBuf_t *fbuf;              /* owns the session and the exporter */
    uint8_t *msg;              /* where fBufEmit() copies each message */
    uint16_t msg_size;
    int fd;                    /* file or connected UDP socket; -1 when closed */
    bool udp;
    bool have_tid;             /* fbuf has internal/export templates set */
    uint16_t tid;              /* ... to this id */
    size_t msg_records;        /* IPFIX records in the message being built */
    size_t msg_stats;          /* ... of them statistics options records */
    gint64 msg_start_us;       /* monotonic time its first record was appended */
    uint64_t msg_flows;        /* flow records whose last IPFIX record is in it */
    uint64_t records_sent;     /* flow data records delivered (exportedFlowRecordTotalCount) */
    bool templates_due;        /* send templates before the next data message */
    gint64 templates_next_us;  /* UDP: monotonic time of the next refresh */
    uint8_t *rec;              /* 2 * MAP_IPFIX_MAX_RECORD */
    size_t msg_len;            /* octets of the message being built (0: none started) */

    /* file: rotation (rotating == false: PATH is written directly, nothing below is used). */
    bool rotating;
    char *part_path;           /* the file being written: DIR/.BASE.part */
    gint64 file_start_us;      /* real time it was started (names it) */
    gint64 file_end_us;        /* real time to start the next one; 0 = no interval */
    uint64_t file_bytes;       /* written into it */
    uint64_t file_data_msgs;   /* data messages in it */
    bool keep_part;            /* the part file could not be renamed: append, never truncate */
} exp_ipfix_t;

static bool rotate(exp_output_t *out, exp_ipfix_t *s, GError **error);
static void rotate_logged(exp_output_t *out, exp_ipfix_t *s);

/* Writes one message to the file or socket; false (counted, logged) on failure. */
static bool deliver(exp_output_t *out, exp_ipfix_t *s, size_t len)
{
    if (s->fd < 0)
        return false;
    if (s->udp) {
        ssize_t n = send(s->fd, s->msg, len, 0);
        if (n < 0 && errno == ECONNREFUSED) {
            /* The ICMP port unreachable of an earlier datagram, reported by this send, which
             * then sent nothing: count it, and send this message once more (without this
             * every other message is lost while nobody listens). */
            exp_output_failure(out, "send to %s:%s: %s", out->host, out->port,
                               g_strerror(ECONNREFUSED));
            exp_output_account(out, 0, 0, 0, 1);
            n = send(s->fd, s->msg, len, 0);
        }
        if (n == (ssize_t)len)
            return true;
        exp_output_failure(out, "send to %s:%s: %s", out->host, out->port,
                           n < 0 ? g_strerror(errno) : "short send");
        return false;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(s->fd, s->msg + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            exp_output_failure(out, "write %s: %s", out->path,
                               n < 0 ? g_strerror(errno) : "no progress");
            /* A full file system takes part of a message: cut it off, so the file stays a
             * sequence of whole messages that collectors can read (pipes cannot seek). */
            off_t end = done > 0 ? lseek(s->fd, 0, SEEK_CUR) : -1;
            if (end >= (off_t)done && ftruncate(s->fd, end - (off_t)done) == 0)
                (void)lseek(s->fd, end - (off_t)done, SEEK_SET);
            return false;
        }
        done += (size_t)n;
    }
    return true;
}

/* Emits the message under construction (if any) and delivers it. */
static void emit(exp_output_t *out, exp_ipfix_t *s, bool templates)
{
    if (s->msg_records == 0 && !templates)
        return;
    GError *err = NULL;
    uint64_t flows = s->msg_flows;
    size_t data_records = s->msg_records - s->msg_stats;
    s->msg_records = 0;
    s->msg_stats = 0;
    s->msg_flows = 0;
    s->msg_len = 0;
    if (!fBufEmit(s->fbuf, &err)) {
        exp_output_failure(out, "cannot encode an IPFIX message: %s", err->message);
        g_error_free(err);
        exp_output_account(out, 0, flows, 0, 1);
        return;
    }
    size_t len = fbExporterGetMsgLen(fBufGetExporter(s->fbuf));
    if (len == 0)
        return;
    if (deliver(out, s, len)) {
        s->file_bytes += len;
        /* a file holding only statistics records is not worth keeping */
        s->file_data_msgs += data_records > 0;
        s->records_sent += data_records;
        exp_output_recovered(out);
        exp_output_account(out, flows, 0, 1, 0);
    } else {
        exp_output_account(out, 0, flows, 0, 1);
    }
}

static void send_templates(exp_output_t *out, exp_ipfix_t *s)
{
    GError *err = NULL;
    emit(out, s, false);
    fbSession_t *session = fBufGetSession(s->fbuf);
    /* libfixbuf keeps template sets and data sets in separate messages: the first template
     * export after data reports end of message once, and the retry starts a new one. */
    if (!fbSessionExportTemplates(session, &err) &&
        g_error_matches(err, FB_ERROR_DOMAIN, FB_ERROR_EOM)) {
        g_clear_error(&err);
        fbSessionExportTemplates(session, &err);
    }
    if (err != NULL) {
        exp_output_failure(out, "cannot encode the templates: %s", err->message);
        g_error_free(err);
        return;
    }
    emit(out, s, true);
    s->templates_due = false;
    if (s->udp)
        s->templates_next_us =
            g_get_monotonic_time() + (gint64)out->cfg.template_refresh_s * G_USEC_PER_SEC;
}

/* What the message being built will measure with one more record of @wire octets (encoded)
 * under template @tid: a message header first, a set header after a template change. */
static size_t next_msg_len(const exp_ipfix_t *s, uint16_t tid, size_t wire)
{
    if (s->msg_records == 0)
        return 16 + 4 + wire;
    return s->msg_len + wire + (!s->have_tid || s->tid != tid ? 4 : 0);
}

/* True when the file's interval is over (or the clock went back before its start). */
static bool rotate_time_due(const exp_ipfix_t *s)
{
    if (!s->rotating || s->file_end_us == 0)
        return false;
    gint64 now = g_get_real_time();
    return now >= s->file_end_us || now < s->file_start_us;
}

/* Appends one record (@len octets in memory, @wire encoded), emitting the message first
 * when it is full. */
static bool append(exp_output_t *out, exp_ipfix_t *s, uint16_t tid, uint8_t *rec, size_t len,
                   size_t wire)
{
    GError *err = NULL;
    for (int attempt = 0; attempt < 3; attempt++) {
        if (s->msg_records == 0 && (s->templates_due ||
                                    (s->udp && g_get_monotonic_time() >= s->templates_next_us)))
            send_templates(out, s);
        size_t next = next_msg_len(s, tid, wire);
        if (s->rotating && out->cfg.rotate_size != 0 &&
            (s->file_data_msgs > 0 || s->msg_records > 0) &&
            s->file_bytes + next > out->cfg.rotate_size) {
            emit(out, s, false);
            rotate_logged(out, s); /* leaves a new session with only templates */
            next = next_msg_len(s, tid, wire);
        }
        if (!s->have_tid || s->tid != tid) {
            if (!fBufSetInternalTemplate(s->fbuf, tid, &err) ||
                !fBufSetExportTemplate(s->fbuf, tid, &err)) {
                exp_output_failure(out, "template %u: %s", tid, err->message);
                g_error_free(err);
                return false;
            }
            s->have_tid = true;
            s->tid = tid;
        }
        if (fBufAppend(s->fbuf, rec, len, &err)) {
            if (s->msg_records++ == 0)
                s->msg_start_us = g_get_monotonic_time();
            s->msg_len = next;
            return true;
        }
        bool full = g_error_matches(err, FB_ERROR_DOMAIN, FB_ERROR_EOM);
        if (!full || attempt == 2) {
            exp_output_failure(out, "cannot encode a record: %s", err->message);
            g_error_free(err);
            return false;
        }
        g_clear_error(&err);
        emit(out, s, false);
    }
    return false;
}

static void ipfix_write(exp_output_t *out, const oc_flow_info_t *recs, size_t n)
{
    exp_ipfix_t *s = out->sink;
    for (size_t i = 0; i < n; i++) {
        if (rotate_time_due(s)) {
            emit(out, s, false);
            rotate_logged(out, s);
        }
        map_ipfix_family_t fam;
        size_t nrec = map_ipfix_fill(s->map, &recs[i], s->rec, &fam);
        uint16_t tid = fam == MAP_IPFIX_V6 ? MAP_IPFIX_TID_V6 : MAP_IPFIX_TID_V4;
        size_t len = map_ipfix_record_size(s->map, fam);
        bool ok = true;
        for (size_t r = 0; r < nrec && ok; r++) {
            uint8_t *rec = s->rec + r * MAP_IPFIX_MAX_RECORD;
            ok = append(out, s, tid, rec, len, map_ipfix_wire_size(s->map, fam, rec));
        }
        if (!ok)
            exp_output_account(out, 0, 1, 0, 0);
        else if (nrec == 0)
            exp_output_account(out, 1, 0, 0, 0); /* uniflow, no packets: nothing to send */
        else
            s->msg_flows++;
    }
}

static void ipfix_flush(exp_output_t *out)
{
    exp_ipfix_t *s = out->sink;
    emit(out, s, false);
    if (rotate_time_due(s))
        rotate_logged(out, s);
}

/* file: the queue ran empty: write the message only once its first record has waited long
 * enough (the thread wakes at least once a second, so that is when it goes out). */
static void file_idle(exp_output_t *out)
{
    exp_ipfix_t *s = out->sink;
    if (s->msg_records > 0 && g_get_monotonic_time() - s->msg_start_us >= EXP_FILE_LINGER_US)
        emit(out, s, false);
    if (rotate_time_due(s)) {
        emit(out, s, false);
        rotate_logged(out, s);
    }
}

size_t exp_ipfix_stats_fill(exp_output_t *out, const exp_stats_t *st, uint64_t records_sent,
                            uint8_t *rec)
{
    exp_output_stats_t os;
    exp_output_get_stats(out, &os);
    exp_stats_rec_t r = {
        .observation_domain = out->cfg.observation_domain,
        .process_id = (uint32_t)getpid(),
        .observed_ms = st->observed_ms,
        .system_init_ms = st->system_init_ms,
        .records_exported = records_sent,
        .messages_exported = os.messages_sent,
        .packets = st->packets,
        .packets_dropped = st->packets_dropped,
        .packets_ignored = st->packets_ignored,
        .flows_observed = st->flows_observed,
        .flows_not_sent = os.records_lost,
    };
    memcpy(rec, &r, sizeof r);
    return sizeof r;
}

/* The options record in a message of its own, after the flow records written so far (so
 * that its counts include all of them). */
static void ipfix_stats(exp_output_t *out, const exp_stats_t *st)
{
    exp_ipfix_t *s = out->sink;
    emit(out, s, false);
    uint8_t rec[EXP_STATS_RECORD_SIZE];
    size_t len = exp_ipfix_stats_fill(out, st, s->records_sent, rec);
    if (append(out, s, EXP_STATS_TID, rec, len, len))
        s->msg_stats++;
    emit(out, s, false);
}

char *exp_file_rotated_name(const char *path, gint64 start_us, unsigned n)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash != NULL ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    if (dot == NULL || dot == base)
        dot = base + strlen(base); /* no extension: the stamp goes at the end */
    time_t t = (time_t)(start_us / G_USEC_PER_SEC);
    struct tm tm;
    char stamp[32];
    if (gmtime_r(&t, &tm) == NULL || strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm) == 0)
        g_strlcpy(stamp, "00000000T000000Z", sizeof stamp);
    g_autofree char *suffix = n > 0 ? g_strdup_printf("_%03u", n) : g_strdup("");
    return g_strdup_printf("%.*s.%s%s%s", (int)(dot - path), path, stamp, suffix, dot);
}

char *exp_file_part_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash != NULL ? slash + 1 : path;
    return g_strdup_printf("%.*s.%s.part", (int)(base - path), path, base);
}

/* Moves the part file at @part (started at @start_us) to its first free timestamped name.
 * Only this process writes names derived from PATH, so checking before renaming is safe. */
static bool publish(exp_output_t *out, const char *part, gint64 start_us, GError **error)
{
    for (unsigned n = 0; n < 1000; n++) {
        g_autofree char *name = exp_file_rotated_name(out->path, start_us, n);
        struct stat st;
        if (lstat(name, &st) == 0)
            continue;
        if (rename(part, name) == 0)
            return true;
        g_set_error(error, EXP_ERROR, EXP_ERROR_IO, "cannot rename %s to %s: %s", part, name,
                    g_strerror(errno));
        return false;
    }
    g_set_error(error, EXP_ERROR, EXP_ERROR_IO,
                "cannot rename %s: 1000 files already carry its time", part);
    return false;
}

/* Shutdown: closes the part file and renames it, or deletes it if it holds no data record. */
static void finish_file(exp_output_t *out, exp_ipfix_t *s)
{
    if (s->fd < 0)
        return;
    close(s->fd);
    s->fd = -1;
    GError *err = NULL;
    if (s->file_data_msgs == 0 && !s->keep_part) {
        unlink(s->part_path);
    } else if (!publish(out, s->part_path, s->file_start_us, &err)) {
        exp_output_failure(out, "%s; it stays as it is", err->message);
        g_error_free(err);
    }
}

/* Starts a file in @fd (the part file, empty or after the records of a file that could not
 * be renamed): its size and times, then the templates of @s->fbuf, a fresh session. */
static void begin_file(exp_output_t *out, exp_ipfix_t *s, int fd, bool keep_start)
{
    s->fd = fd;
    s->file_bytes = 0;
    s->file_data_msgs = 0;
    gint64 now = g_get_real_time();
    if (!keep_start)
        s->file_start_us = now;
    s->file_end_us = 0;
    if (out->cfg.rotate_interval_s != 0) {
        /* Boundaries at multiples of the interval since the epoch: 300 s gives :00, :05... */
        gint64 iv = (gint64)out->cfg.rotate_interval_s * G_USEC_PER_SEC;
        s->file_end_us = (now / iv + 1) * iv;
    }
    send_templates(out, s);
}

/* Opens a new part file (truncating, unless it holds records that could not be renamed: a
 * second session then follows them in the same file) and begins it. */
static bool start_file(exp_output_t *out, exp_ipfix_t *s, GError **error)
{
    int fd = open(s->part_path,
                  O_WRONLY | O_CREAT | O_CLOEXEC | (s->keep_part ? O_APPEND : O_TRUNC), 0644);
    if (fd < 0) {
        g_set_error(error, EXP_ERROR, EXP_ERROR_OPEN, "cannot open %s: %s", s->part_path,
                    g_strerror(errno));
        return false;
    }
    begin_file(out, s, fd, false);
    return true;
}

/*
 * Ends the current file and continues in a new one with a new session. The part file is
 * renamed while still open, so when the directory refuses the rename (read-only, or not
 * writable by the user ocellus switched to) nothing is lost: the new session follows in the
 * same part file, which is renamed at a later rotation. A file without data records is
 * started over in place, which needs no access to the directory. Only when the rename
 * worked and the new part file cannot be created are records lost, until a later rotation
 * (or SIGHUP) succeeds. False, with @error saying which of these happened, on a failure.
 */
static bool rotate(exp_output_t *out, exp_ipfix_t *s, GError **error)
{
    GError *err = NULL;
    int keep_fd = -1;          /* go on writing this file (still the part file) */
    bool keep_start = false;   /* ... whose name keeps its start time */
    if (s->fd >= 0 && s->file_data_msgs == 0 && !s->keep_part) {
        if (ftruncate(s->fd, 0) == 0 && lseek(s->fd, 0, SEEK_SET) == 0) {
            keep_fd = s->fd;
        } else {
            close(s->fd);
            unlink(s->part_path);
        }
    } else if (s->fd >= 0) {
        if (publish(out, s->part_path, s->file_start_us, &err)) {
            close(s->fd);
            s->keep_part = false;
        } else {
            keep_fd = s->fd;
            keep_start = true;
            s->keep_part = true;
        }
    }
    s->fd = -1;
    GError *ferr = NULL;
    fBuf_t *fbuf = exp_ipfix_fbuf_new(out, s->model, s->map, s->msg, s->msg_size, &ferr);
    if (fbuf == NULL) {
        exp_output_failure(out, "%s", ferr->message);
        g_error_free(ferr);
    } else {
        fBufFree(s->fbuf);
        s->fbuf = fbuf;
        s->have_tid = false;
        s->msg_records = 0;
        s->msg_stats = 0;
        s->msg_flows = 0;
        s->msg_len = 0;
    }
    if (keep_fd >= 0) {
        begin_file(out, s, keep_fd, keep_start);
        if (err == NULL)
            return true;
        g_set_error(error, EXP_ERROR, EXP_ERROR_IO, "%s; still writing %s", err->message,
                    s->part_path);
        g_error_free(err);
        return false;
    }
    if (!start_file(out, s, &err)) {
        g_set_error(error, EXP_ERROR, EXP_ERROR_OPEN,
                    "%s; records are lost until a rotation succeeds", err->message);
        g_error_free(err);
        s->file_bytes = 0; /* nothing is in a file until the next one opens */
        s->file_data_msgs = 0;
        /* try again at the next interval, or in a second without one */
        s->file_start_us = g_get_real_time();
        s->file_end_us = s->file_start_us + (out->cfg.rotate_interval_s != 0 ?
                         (gint64)out->cfg.rotate_interval_s : 1) * G_USEC_PER_SEC;
        return false;
    }
    return true;
}

/* A rotation the output decided itself (time or size): failures go to the log. */
static void rotate_logged(exp_output_t *out, exp_ipfix_t *s)
{
    GError *err = NULL;
    if (!rotate(out, s, &err)) {
        exp_output_failure(out, "rotation: %s", err->message);
        g_error_free(err);
    }
}

static void ipfix_free(exp_output_t *out)
{
    exp_ipfix_t *s = out->sink;
    if (s->fbuf != NULL)
        fBufFree(s->fbuf);
    map_ipfix_free(s->map);
    if (s->model != NULL)
        fbInfoModelFree(s->model);
    if (s->rotating)
        finish_file(out, s);
    else if (s->fd >= 0)
        close(s->fd);
    g_free(s->part_path);
    g_free(s->msg);
    g_free(s->rec);
    g_free(s);
    out->sink = NULL;
}

bool exp_ipfix_load(exp_output_t *out, fbInfoModel_t **model, map_ipfix_t **map,
                    GError **error)
{
    map_ipfix_opts_t opts = { .uniflow = out->cfg.uniflow,
                              .ingress_interface = out->cfg.ingress_interface };
    /* One message per datagram: a record with long DPI strings must still fit one, after
     * the 16-byte message header and the 4-byte set header, or it could never be sent. */
    if (out->kind == EXP_KIND_UDP)
        opts.max_wire_record = out->cfg.datagram_size - 20u;
    *model = map_ipfix_model_new();
    *map = map_ipfix_load(*model, out->cfg.template_path, &opts, error);
    if (*map == NULL) {
        g_prefix_error(error, "output %s: ", out->name);
        if (error != NULL && *error != NULL) {
            (*error)->domain = EXP_ERROR;
            (*error)->code = EXP_ERROR_TEMPLATE;
        }
        return false;
    }
    /* Records reach the sink with their DPI fields only if the template uses some. */
    out->wants_fields = map_ipfix_wants_fields(*map);
    return true;
}

fBuf_t *exp_ipfix_fbuf_new(exp_output_t *out, fbInfoModel_t *model, const map_ipfix_t *map,
                           uint8_t *msg, uint16_t msg_size, GError **error)
{
    fbSession_t *session = fbSessionAlloc(model);
    fbSessionSetDomain(session, out->cfg.observation_domain);
    for (int f = 0; f < MAP_IPFIX_N_FAMILY; f++) {
        uint16_t tid = f == MAP_IPFIX_V6 ? MAP_IPFIX_TID_V6 : MAP_IPFIX_TID_V4;
        fbTemplate_t *t = map_ipfix_template_new(map, (map_ipfix_family_t)f, error);
        if (t == NULL) {
            fbSessionFree(session);
            g_prefix_error(error, "output %s: ", out->name);
            return NULL;
        }
        GError *err = NULL;
        if (!fbSessionAddTemplate(session, TRUE, tid, t, &err)) {
            fbTemplateFreeUnused(t); /* never added: still ours */
        } else if (!fbSessionAddTemplate(session, FALSE, tid, t, &err)) {
            /* the session holds it now and frees it with itself */
        }
        if (err != NULL) {
            g_set_error(error, EXP_ERROR, EXP_ERROR_TEMPLATE, "output %s: template %u: %s",
                        out->name, tid, err->message);
            g_error_free(err);
            fbSessionFree(session);
            return NULL;
        }
    }
    /* The options template goes in now: libfixbuf 2.4 takes no new template into a session
     * once an fBuf is attached to it. */
    GError *err = NULL;
    fbTemplate_t *t = fbTemplateAlloc(model);
    if (!fbTemplateAppendSpecArray(t, stats_spec, 0, &err)) {
        fbTemplateFreeUnused(t);
    } else {
        fbTemplateSetOptionsScope(t, 1);
        if (!fbSessionAddTemplate(session, TRUE, EXP_STATS_TID, t, &err))
            fbTemplateFreeUnused(t);
        else
            fbSessionAddTemplate(session, FALSE, EXP_STATS_TID, t, &err);
    }
    if (err != NULL) {
        g_set_error(error, EXP_ERROR, EXP_ERROR_TEMPLATE, "output %s: statistics template: %s",
                    out->name, err->message);
        g_error_free(err);
        fbSessionFree(session);
        return NULL;
    }
    fBuf_t *fbuf = fBufAllocForExport(session, fbExporterAllocBuffer(msg, msg_size));
    fBufSetAutomaticMode(fbuf, FALSE);
    return fbuf;
}

/* Mapper, session with the flow and statistics templates, buffer exporter. */
static bool ipfix_setup(exp_output_t *out, exp_ipfix_t *s, uint16_t msg_size, GError **error)
{
    if (!exp_ipfix_load(out, &s->model, &s->map, error))
        return false;
    s->msg_size = msg_size;
    s->msg = g_malloc(msg_size);
    s->rec = g_malloc0(2 * MAP_IPFIX_MAX_RECORD);
    s->fbuf = exp_ipfix_fbuf_new(out, s->model, s->map, s->msg, msg_size, error);
    if (s->fbuf == NULL)
        return false;
    s->templates_due = true;
    return true;
}

static int open_file(const char *path, bool append, GError **error)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
    if (fd < 0)
        g_set_error(error, EXP_ERROR, EXP_ERROR_OPEN, "cannot open %s: %s", path,
                    g_strerror(errno));
    return fd;
}

static bool file_open(exp_output_t *out, GError **error)
{
    exp_ipfix_t *s = g_new0(exp_ipfix_t, 1);
    s->fd = -1;
    out->sink = s;
    if (!ipfix_setup(out, s, EXP_FILE_MSG_SIZE, error))
        return false;
    if (exp_output_cfg_rotates(&out->cfg)) {
        s->rotating = true;
        s->part_path = exp_file_part_name(out->path);
        struct stat st;
        if (stat(s->part_path, &st) == 0 && st.st_size > 0) {
            /* Left by a run that did not end cleanly: keep it, named by its last change. */
            g_message("output %s: keeping %s left by an earlier run", out->name, s->part_path);
            GError *err = NULL;
            s->keep_part = !publish(out, s->part_path, (gint64)st.st_mtime * G_USEC_PER_SEC,
                                    &err);
            if (s->keep_part) {
                exp_output_failure(out, "%s; appending to it", err->message);
                g_error_free(err);
            }
        }
        if (!start_file(out, s, error)) {
            g_prefix_error(error, "output %s: ", out->name);
            return false;
        }
        return true;
    }
    s->fd = open_file(out->path, false, error);
    if (s->fd < 0) {
        g_prefix_error(error, "output %s: ", out->name);
        return false;
    }
    return true;
}

/* SIGHUP: an external tool moved the file away; continue in a new one with templates.
 * A rotating output ends its current file instead. When the file cannot be opened, the one
 * open so far stays open and written, and @error says so. */
static bool file_reopen(exp_output_t *out, GError **error)
{
    exp_ipfix_t *s = out->sink;
    emit(out, s, false);
    if (s->rotating)
        return rotate(out, s, error); /* SIGHUP ends the current file early */
    GError *err = NULL;
    int fd = open_file(out->path, true, &err);
    if (fd < 0) {
        g_set_error(error, EXP_ERROR, EXP_ERROR_OPEN, "%s; still writing the file it had open",
                    err->message);
        g_error_free(err);
        return false;
    }
    if (s->fd >= 0)
        close(s->fd);
    s->fd = fd;
    s->templates_due = true;
    return true;
}

static bool udp_open(exp_output_t *out, GError **error)
{
    exp_ipfix_t *s = g_new0(exp_ipfix_t, 1);
    s->fd = -1;
    s->udp = true;
    out->sink = s;
    if (!ipfix_setup(out, s, (uint16_t)out->cfg.datagram_size, error))
        return false;
    struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV };
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(out->host, out->port, &hints, &res);
    if (rc != 0) {
        g_set_error(error, EXP_ERROR, EXP_ERROR_OPEN, "output %s: cannot resolve %s: %s",
                    out->name, out->host, gai_strerror(rc));
        return false;
    }
    int last_errno = 0;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        /* Connected, so ICMP port-unreachable comes back as a counted send error. */
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            s->fd = fd;
            break;
        }
        last_errno = errno;
        close(fd);
    }
    freeaddrinfo(res);
    if (s->fd < 0) {
        g_set_error(error, EXP_ERROR, EXP_ERROR_OPEN, "output %s: cannot create a socket to "
                    "%s:%s: %s", out->name, out->host, out->port, g_strerror(last_errno));
        return false;
    }
    return true;
}

static bool udp_reopen(exp_output_t *out, GError **error)
{
    (void)out; /* nothing to reopen; templates follow their own timer */
    (void)error;
    return true;
}

const exp_sink_ops_t exp_ipfix_file_ops = {
    .open = file_open,
    .write = ipfix_write,
    .flush = ipfix_flush,
    .idle = file_idle,
    .stats = ipfix_stats,
    .reopen = file_reopen,
    .free = ipfix_free,
};

const exp_sink_ops_t exp_ipfix_udp_ops = {
    .open = udp_open,
    .write = ipfix_write,
    .flush = ipfix_flush,
    .stats = ipfix_stats,
    .reopen = udp_reopen,
    .free = ipfix_free,
};
