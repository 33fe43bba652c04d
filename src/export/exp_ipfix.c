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
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "export/exp_ipfix.h"

/* libfixbuf's message buffer length is a uint16_t; files use the largest message. */
#define EXP_FILE_MSG_SIZE 65535

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
    uint64_t msg_flows;        /* flow records whose last IPFIX record is in it */
    bool templates_due;        /* send templates before the next data message */
    gint64 templates_next_us;  /* UDP: monotonic time of the next refresh */
    uint8_t *rec;              /* 2 * MAP_IPFIX_MAX_RECORD */
} exp_ipfix_t;

/* Writes one message to the file or socket; false (counted, logged) on failure. */
static bool deliver(exp_output_t *out, exp_ipfix_t *s, size_t len)
{
    if (s->fd < 0)
        return false;
    if (s->udp) {
        ssize_t n = send(s->fd, s->msg, len, 0);
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
    s->msg_records = 0;
    s->msg_flows = 0;
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

/* Appends one record, emitting the message first when it is full. */
static bool append(exp_output_t *out, exp_ipfix_t *s, uint16_t tid, uint8_t *rec, size_t len)
{
    GError *err = NULL;
    for (int attempt = 0; attempt < 3; attempt++) {
        if (s->msg_records == 0 && (s->templates_due ||
                                    (s->udp && g_get_monotonic_time() >= s->templates_next_us)))
            send_templates(out, s);
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
            s->msg_records++;
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
        map_ipfix_family_t fam;
        size_t nrec = map_ipfix_fill(s->map, &recs[i], s->rec, &fam);
        uint16_t tid = fam == MAP_IPFIX_V6 ? MAP_IPFIX_TID_V6 : MAP_IPFIX_TID_V4;
        size_t len = map_ipfix_record_size(s->map, fam);
        bool ok = true;
        for (size_t r = 0; r < nrec && ok; r++)
            ok = append(out, s, tid, s->rec + r * MAP_IPFIX_MAX_RECORD, len);
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
}

static void ipfix_free(exp_output_t *out)
{
    exp_ipfix_t *s = out->sink;
    if (s->fbuf != NULL)
        fBufFree(s->fbuf);
    map_ipfix_free(s->map);
    if (s->model != NULL)
        fbInfoModelFree(s->model);
    if (s->fd >= 0)
        close(s->fd);
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
    fBuf_t *fbuf = fBufAllocForExport(session, fbExporterAllocBuffer(msg, msg_size));
    fBufSetAutomaticMode(fbuf, FALSE);
    return fbuf;
}

/* Mapper, session with both templates, buffer exporter. */
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
    s->fd = open_file(out->path, false, error);
    if (s->fd < 0) {
        g_prefix_error(error, "output %s: ", out->name);
        return false;
    }
    return true;
}

/* SIGHUP: an external tool moved the file away; continue in a new one with templates. */
static void file_reopen(exp_output_t *out)
{
    exp_ipfix_t *s = out->sink;
    emit(out, s, false);
    GError *err = NULL;
    int fd = open_file(out->path, true, &err);
    if (fd < 0) {
        exp_output_failure(out, "%s", err->message);
        g_error_free(err);
        return;
    }
    if (s->fd >= 0)
        close(s->fd);
    s->fd = fd;
    s->templates_due = true;
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

static void udp_reopen(exp_output_t *out)
{
    (void)out; /* nothing to reopen; templates follow their own timer */
}

const exp_sink_ops_t exp_ipfix_file_ops = {
    .open = file_open,
    .write = ipfix_write,
    .flush = ipfix_flush,
    .reopen = file_reopen,
    .free = ipfix_free,
};

const exp_sink_ops_t exp_ipfix_udp_ops = {
    .open = udp_open,
    .write = ipfix_write,
    .flush = ipfix_flush,
    .reopen = udp_reopen,
    .free = ipfix_free,
};
