/*
 * tcp://HOST:PORT output: IPFIX over a TCP connection owned here (RFC 7011 section 10.4),
 * encoded by libfixbuf into memory (exp_ipfix.h), because libfixbuf 2.4.1's own TCP exporter
 * reconnects with a blocking connect() and no timeout, forgets the templates on the new
 * connection and re-sends the failed message (../shared/INTEROP.md).
 *
 * Everything happens on the output's thread; the capture thread only copies records into
 * the bounded ring. The connection goes through DOWN -> CONNECTING -> UP:
 * - connect() is non-blocking with a time limit; after a failure the next attempt waits
 *   0.5 s, doubling up to 30 s (the first attempt after losing a connection is immediate,
 *   since a restarted collector is often back at once). While DOWN, records stay in the
 *   ring: a collector that is away for long fills it, and then new records count as lost.
 * - Every connection gets a fresh libfixbuf session, so its first message is the template
 *   set and its sequence numbers start at 0. RFC 7011 counts sequence numbers per transport
 *   session ("all messages in a TCP connection ... are considered to be part of the same
 *   stream"), and collectors (libfixbuf's, SiLK's) keep that state per connection: a new
 *   connection that went on from the old count would look like lost records to them.
 * - The collector never sends, so a readable socket means it went away; this is checked
 *   before every message, and a message found undeliverable before its first byte goes out
 *   is encoded again on the next connection. Nothing is sent twice: once a byte of a
 *   message is written, its records belong to that connection (a message cut short is
 *   undecodable, and its records count as lost).
 *
 * TCP has no application acknowledgement, so a message written whole may still never be
 * read. We keep the messages written on the connection that are not yet known to be read,
 * with their stream offsets. The kernel's send queue (TIOCOUTQ: bytes not yet acknowledged
 * by the collector's TCP) tells when each was acknowledged. A message counts as read when
 * the collector's TCP acknowledged it at least TCP_CONFIRM_US before while the connection
 * stayed up, or when the collector closed the connection cleanly (its FIN means it read
 * everything its TCP had acknowledged; a collector closing with unread data sends a reset
 * instead). When the connection dies, the records of the other messages count as "possibly
 * lost" (they are also in records_sent). A collector that stops reading for longer than
 * TCP_CONFIRM_US and then dies loses records we count as sent: no exporter can know.
 *
 * A statistics snapshot (exp_output_submit_stats) becomes an options record in a message of
 * its own once every flow record submitted before it is written (the message being built is
 * sent early for it); the options template is in every connection's session, so it goes
 * out with the flow templates on each new connection. A snapshot taken while disconnected
 * waits for the next connection, and a newer one replaces it.
 *
 * At shutdown the output writes what is queued, sends its FIN and waits (within the close
 * timeout) for the collector to close its end or for the confirmation above.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "export/exp_ipfix.h"

#define TCP_MSG_SIZE 16384                        /* largest IPFIX message we write */
#define TCP_PEND_MAX 256                          /* flows held for the message being built */
#define TCP_BACKOFF_MIN_US (G_USEC_PER_SEC / 2)
#define TCP_BACKOFF_MAX_US (30 * G_USEC_PER_SEC)
#define TCP_CONNECT_TIMEOUT_US (5 * G_USEC_PER_SEC)
#define TCP_CONFIRM_US G_USEC_PER_SEC             /* acknowledged this long ago: read */
#define TCP_SLICE_MS 100                          /* longest wait before checking abort */
#define TCP_USER_TIMEOUT_MS 30000                 /* unacknowledged data: give up (dead host) */

typedef enum { TCP_DOWN, TCP_CONNECTING, TCP_UP } tcp_state_t;

typedef enum { TCP_PEER_ALIVE, TCP_PEER_EOF, TCP_PEER_ERROR } tcp_peer_t;

/* A message written on the current connection and not yet known to be read. */
typedef struct {
    uint64_t end;        /* stream offset just past its last byte */
    uint64_t flows;      /* flow records whose last IPFIX record is in it */
    gint64 acked_us;     /* monotonic time its last byte was seen acknowledged, 0 = not yet */
} tcp_unconfirmed_t;

typedef struct {
    fbInfoModel_t *model;
    map_ipfix_t *map;
    struct addrinfo *addrs;       /* resolved once, at start-up */
    struct addrinfo *next_addr;   /* tried next (round robin over the addresses) */

    tcp_state_t state;
    int fd;                       /* -1 when DOWN */
    fBuf_t *fbuf;                 /* the connection's session; NULL unless UP */
    bool have_tid;
    uint16_t tid;
    size_t msg_records;           /* IPFIX records in the message being built */
    uint64_t written;             /* bytes written on this connection */
    uint64_t records_sent;        /* flow data records written, all connections */
    GArray *unconf;               /* tcp_unconfirmed_t, oldest first */

    /* Flows taken from the ring and not yet in a written message. pend[0..n_enc) are in the
     * message being built; on a new connection they are encoded again. pend0_sent_first:
     * pend[0]'s first record (uniflow: two per flow) went out in the previous message. */
    oc_flow_info_t *pend;
    oc_fields_t *pend_fields;       /* pend[i].fields points into pend_fields[i] */
    size_t n_pend, n_enc;
    bool pend0_sent_first;

    gint64 backoff_us, next_attempt_us, connect_deadline_us;
    uint8_t *msg;                 /* TCP_MSG_SIZE: where fBufEmit() puts each message */
    uint8_t *rec;                 /* 2 * MAP_IPFIX_MAX_RECORD */
} exp_tcp_t;

static int sock_error(int fd)
{
    int e = 0;
    socklen_t len = sizeof e;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
        return errno;
    return e;
}

static bool aborted(exp_output_t *out)
{
    exp_queue_state_t st;
    exp_queue_sleep(&out->queue, 0, false, &st);
    return st.abort;
}

static uint32_t waiting(exp_output_t *out, const exp_tcp_t *s)
{
    return exp_queue_count(&out->queue) + (uint32_t)s->n_pend;
}

/* Is the collector still there? It never sends, so EOF or an error means it is gone;
 * bytes it sends anyway are read and ignored (a bounded number of times). */
static tcp_peer_t tcp_peer(exp_tcp_t *s, int *err)
{
    for (int i = 0; i < 64; i++) {
        struct pollfd p = { .fd = s->fd, .events = POLLIN };
        int rc = poll(&p, 1, 0);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0) {
            *err = errno;
            return TCP_PEER_ERROR;
        }
        if (rc == 0)
            return TCP_PEER_ALIVE;
        uint8_t junk[512];
        ssize_t n = recv(s->fd, junk, sizeof junk, MSG_DONTWAIT);
        if (n == 0)
            return TCP_PEER_EOF;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            *err = errno;
            return TCP_PEER_ERROR;
        }
        if (n < 0 && (p.revents & (POLLERR | POLLHUP))) {
            *err = sock_error(s->fd);
            return *err != 0 ? TCP_PEER_ERROR : TCP_PEER_EOF;
        }
        if (n < 0)
            return TCP_PEER_ALIVE;
    }
    return TCP_PEER_ALIVE;
}

/* Marks the messages the collector's TCP has acknowledged (all bytes written minus those
 * still in the kernel's send queue). */
static void tcp_acks(exp_tcp_t *s, gint64 now)
{
    int outq = 0;
    if (s->fd < 0 || ioctl(s->fd, TIOCOUTQ, &outq) != 0 || outq < 0)
        return;
    uint64_t acked = (uint64_t)outq <= s->written ? s->written - (uint64_t)outq : 0;
    for (guint i = 0; i < s->unconf->len; i++) {
        tcp_unconfirmed_t *u = &g_array_index(s->unconf, tcp_unconfirmed_t, i);
        if (u->end > acked)
            break;
        if (u->acked_us == 0)
            u->acked_us = now;
    }
}

/* Forgets the messages acknowledged long enough ago on a connection still up. */
static void tcp_confirm(exp_tcp_t *s, gint64 now)
{
    guint n = 0;
    while (n < s->unconf->len) {
        const tcp_unconfirmed_t *u = &g_array_index(s->unconf, tcp_unconfirmed_t, n);
        if (u->acked_us == 0 || now - u->acked_us < TCP_CONFIRM_US)
            break;
        n++;
    }
    if (n > 0)
        g_array_remove_range(s->unconf, 0, n);
}

/* The connection is over: counts the records of messages not known to be read as
 * possibly lost. @peer_closed: the collector closed its end cleanly, so it read whatever
 * its TCP acknowledged. Returns the count. */
static uint64_t tcp_settle(exp_output_t *out, exp_tcp_t *s, bool peer_closed)
{
    gint64 now = g_get_monotonic_time();
    tcp_acks(s, now);
    uint64_t maybe = 0;
    for (guint i = 0; i < s->unconf->len; i++) {
        const tcp_unconfirmed_t *u = &g_array_index(s->unconf, tcp_unconfirmed_t, i);
        bool read = u->acked_us != 0 && (peer_closed || now - u->acked_us >= TCP_CONFIRM_US);
        if (!read)
            maybe += u->flows;
    }
    g_array_set_size(s->unconf, 0);
    if (maybe > 0)
        exp_output_account_stream(out, maybe, 0);
    return maybe;
}

static void tcp_close_fd(exp_tcp_t *s)
{
    if (s->fbuf != NULL)
        fBufFree(s->fbuf); /* may encode what is left into s->msg; nothing is written */
    s->fbuf = NULL;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    s->state = TCP_DOWN;
    s->have_tid = false;
    s->msg_records = 0;
    s->n_enc = 0;
    s->written = 0;
}

/* The connection died (or the collector closed it): settle, close, reconnect at once. */
static void tcp_drop(exp_output_t *out, exp_tcp_t *s, bool peer_closed, int err)
{
    uint64_t maybe = tcp_settle(out, s, peer_closed);
    tcp_close_fd(s);
    s->next_attempt_us = g_get_monotonic_time();
    exp_output_account(out, 0, 0, 0, 1);
    exp_output_failure(out, "connection to %s:%s lost (%s); %" PRIu64 " records possibly "
                       "lost, %u waiting", out->host, out->port,
                       err != 0 ? g_strerror(err) : "closed by the collector", maybe,
                       waiting(out, s));
}

static void tcp_connect_failed(exp_output_t *out, exp_tcp_t *s, int err)
{
    tcp_close_fd(s);
    s->next_attempt_us = g_get_monotonic_time() + s->backoff_us;
    exp_output_failure(out, "cannot connect to %s:%s: %s (next attempt in %.1f s, %u records "
                       "waiting)", out->host, out->port, g_strerror(err),
                       (double)s->backoff_us / G_USEC_PER_SEC, waiting(out, s));
    s->backoff_us = MIN(s->backoff_us * 2, TCP_BACKOFF_MAX_US);
}

/* Writes s->msg[0..len). Returns the bytes written: len, or fewer when the connection
 * failed (*err; *eof when the collector closed it) or the output is aborted (*err =
 * ECANCELED). A slow collector only makes this thread wait, in slices that watch abort. */
static size_t tcp_write(exp_output_t *out, exp_tcp_t *s, size_t len, int *err, bool *eof)
{
    size_t off = 0;
    *err = 0;
    *eof = false;
    while (off < len) {
        ssize_t n = send(s->fd, s->msg + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            *err = errno;
            return off;
        }
        if (aborted(out)) {
            *err = ECANCELED;
            return off;
        }
        struct pollfd p = { .fd = s->fd, .events = POLLOUT | POLLIN };
        if (poll(&p, 1, TCP_SLICE_MS) > 0 && (p.revents & (POLLIN | POLLERR | POLLHUP))) {
            tcp_peer_t st = tcp_peer(s, err);
            if (st != TCP_PEER_ALIVE) {
                *eof = st == TCP_PEER_EOF;
                return off;
            }
        }
    }
    return len;
}

static void tcp_connected(exp_output_t *out, exp_tcp_t *s)
{
    GError *err = NULL;
    s->state = TCP_UP;
    s->written = 0;
    s->n_enc = 0;
    s->have_tid = false;
    s->msg_records = 0;
    s->fbuf = exp_ipfix_fbuf_new(out, s->model, s->map, s->msg, TCP_MSG_SIZE, &err);
    /* libfixbuf reports end of message once before the first template export of a buffer
     * (it wants a message of their own); the retry starts that message. */
    bool ok = s->fbuf != NULL && fbSessionExportTemplates(fBufGetSession(s->fbuf), &err);
    if (!ok && g_error_matches(err, FB_ERROR_DOMAIN, FB_ERROR_EOM)) {
        g_clear_error(&err);
        ok = fbSessionExportTemplates(fBufGetSession(s->fbuf), &err);
    }
    if (!ok || !fBufEmit(s->fbuf, &err)) {
        exp_output_failure(out, "cannot encode the templates: %s", err->message);
        g_error_free(err);
        tcp_connect_failed(out, s, EPROTO);
        return;
    }
    size_t len = fbExporterGetMsgLen(fBufGetExporter(s->fbuf));
    int e;
    bool eof;
    if (tcp_write(out, s, len, &e, &eof) != len) {
        if (e == ECANCELED)
            tcp_close_fd(s);
        else
            tcp_drop(out, s, eof, e);
        return;
    }
    s->written = len;
    s->backoff_us = TCP_BACKOFF_MIN_US;
    exp_output_account(out, 0, 0, 1, 0);
    exp_output_account_stream(out, 0, 1);
    exp_output_reconnected(out, "connected to %s:%s, templates sent, %u records waiting",
                           out->host, out->port, waiting(out, s));
}

static void tcp_connect_start(exp_output_t *out, exp_tcp_t *s)
{
    if (s->next_addr == NULL)
        s->next_addr = s->addrs;
    const struct addrinfo *ai = s->next_addr;
    s->next_addr = ai->ai_next;
    s->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (s->fd < 0) {
        tcp_connect_failed(out, s, errno);
        return;
    }
    int on = 1, user_timeout = TCP_USER_TIMEOUT_MS;
    /* Whole messages are written at once: no reason to hold their tails back (Nagle). A
     * host that vanishes without a reset is noticed by keepalives and the user timeout. */
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    setsockopt(s->fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    setsockopt(s->fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout);
    if (connect(s->fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        tcp_connected(out, s);
    } else if (errno == EINPROGRESS || errno == EINTR) {
        s->state = TCP_CONNECTING;
        s->connect_deadline_us = g_get_monotonic_time() + TCP_CONNECT_TIMEOUT_US;
    } else {
        tcp_connect_failed(out, s, errno);
    }
}

/* Removes pend[0..n). */
static void pend_remove(exp_tcp_t *s, size_t n)
{
    memmove(s->pend, s->pend + n, (s->n_pend - n) * sizeof *s->pend);
    if (s->pend_fields != NULL) {
        memmove(s->pend_fields, s->pend_fields + n, (s->n_pend - n) * sizeof *s->pend_fields);
        exp_records_fix_fields(s->pend, s->pend_fields, s->n_pend - n);
    }
    s->n_pend -= n;
    s->n_enc = s->n_enc > n ? s->n_enc - n : 0;
}

/* Sends the message holding pend[0..n_done) and, if @split, the first record of
 * pend[n_done]. False when the connection is gone (or the output aborted). */
static bool tcp_emit(exp_output_t *out, exp_tcp_t *s, size_t n_done, bool split)
{
    if (s->msg_records == 0) {
        /* only flows without records (uniflow, no packets either way): nothing to send */
        exp_output_account(out, n_done, 0, 0, 0);
        pend_remove(s, n_done);
        s->pend0_sent_first = false;
        s->n_enc = 0;
        return true;
    }
    GError *err = NULL;
    size_t n_records = s->msg_records;
    s->msg_records = 0;
    if (!fBufEmit(s->fbuf, &err)) {
        exp_output_failure(out, "cannot encode an IPFIX message: %s", err->message);
        g_error_free(err);
        size_t n_lost = n_done + (split ? 1 : 0);
        exp_output_account(out, 0, n_lost, 0, 0);
        pend_remove(s, n_lost);
        s->pend0_sent_first = false;
        s->n_enc = 0;
        return true;
    }
    size_t len = fbExporterGetMsgLen(fBufGetExporter(s->fbuf));
    int e = 0;
    tcp_peer_t ps = tcp_peer(s, &e);
    if (ps != TCP_PEER_ALIVE) {
        /* known dead before the first byte: these records go on the next connection */
        tcp_drop(out, s, ps == TCP_PEER_EOF, e);
        return false;
    }
    bool eof;
    size_t w = tcp_write(out, s, len, &e, &eof);
    if (w == 0) {
        if (e == ECANCELED)
            return false; /* stays in pend, counted lost when the thread stops */
        tcp_drop(out, s, eof, e);
        return false;
    }
    if (w < len) {
        /* cut short: the collector cannot decode it, and it is never sent again */
        size_t n_lost = n_done + (split ? 1 : 0);
        exp_output_account(out, 0, n_lost, 0, 1);
        pend_remove(s, n_lost);
        s->pend0_sent_first = false;
        if (e == ECANCELED)
            return false;
        tcp_drop(out, s, eof, e);
        return false;
    }
    s->written += len;
    s->records_sent += n_records;
    tcp_unconfirmed_t u = { .end = s->written, .flows = n_done, .acked_us = 0 };
    g_array_append_val(s->unconf, u);
    exp_output_account(out, n_done, 0, 1, 0);
    exp_output_recovered(out);
    pend_remove(s, n_done);
    s->pend0_sent_first = split;
    s->n_enc = 0;
    return true;
}

/* Appends one IPFIX record: 1 done, 0 the message is full, -1 cannot encode (logged). */
static int tcp_append(exp_output_t *out, exp_tcp_t *s, uint16_t tid, uint8_t *rec, size_t len)
{
    GError *err = NULL;
    if (!s->have_tid || s->tid != tid) {
        if (!fBufSetInternalTemplate(s->fbuf, tid, &err) ||
            !fBufSetExportTemplate(s->fbuf, tid, &err)) {
            exp_output_failure(out, "template %u: %s", tid, err->message);
            g_error_free(err);
            return -1;
        }
        s->have_tid = true;
        s->tid = tid;
    }
    bool ok = fBufAppend(s->fbuf, rec, len, &err);
    if (!ok && s->msg_records == 0 && g_error_matches(err, FB_ERROR_DOMAIN, FB_ERROR_EOM)) {
        /* the first data after the template message: libfixbuf reports end of message
         * once to start a new one */
        g_clear_error(&err);
        ok = fBufAppend(s->fbuf, rec, len, &err);
    }
    if (ok) {
        s->msg_records++;
        return 1;
    }
    bool full = g_error_matches(err, FB_ERROR_DOMAIN, FB_ERROR_EOM) && s->msg_records > 0;
    if (!full)
        exp_output_failure(out, "cannot encode a record: %s", err->message);
    g_error_free(err);
    return full ? 0 : -1;
}

/* Encodes pend[n_enc..limit), sending each message that fills up (@limit follows the
 * records it bounds as sent ones leave pend[]). False when the connection went away. */
static bool tcp_encode(exp_output_t *out, exp_tcp_t *s, size_t limit)
{
    while (s->n_enc < limit && s->n_enc < s->n_pend) {
        size_t i = s->n_enc;
        map_ipfix_family_t fam;
        size_t nrec = map_ipfix_fill(s->map, &s->pend[i], s->rec, &fam);
        uint16_t tid = fam == MAP_IPFIX_V6 ? MAP_IPFIX_TID_V6 : MAP_IPFIX_TID_V4;
        size_t len = map_ipfix_record_size(s->map, fam);
        size_t first = i == 0 && s->pend0_sent_first ? 1 : 0;
        size_t r = first;
        int rc = 1;
        for (; r < nrec; r++) {
            rc = tcp_append(out, s, tid, s->rec + r * MAP_IPFIX_MAX_RECORD, len);
            if (rc != 1)
                break;
        }
        if (rc == 0) {
            size_t before = s->n_pend;
            if (!tcp_emit(out, s, i, r > first))
                return false;
            limit -= MIN(limit, before - s->n_pend); /* pend[] moved down */
            continue; /* the rest goes into the next message */
        }
        if (rc < 0) {
            limit--;
            /* cannot be encoded at all (not expected: the templates were checked at
             * start-up); an earlier record of it may be in the message, which is harmless */
            exp_output_account(out, 0, 1, 0, 0);
            memmove(s->pend + i, s->pend + i + 1, (s->n_pend - i - 1) * sizeof *s->pend);
            if (s->pend_fields != NULL) {
                memmove(s->pend_fields + i, s->pend_fields + i + 1,
                        (s->n_pend - i - 1) * sizeof *s->pend_fields);
                exp_records_fix_fields(s->pend, s->pend_fields, s->n_pend - 1);
            }
            s->n_pend--;
            if (i == 0)
                s->pend0_sent_first = false;
            continue;
        }
        s->n_enc++;
    }
    return true;
}

/* Sends the statistics options record in a message of its own; the message being built
 * must be empty. False when the connection is gone (or the output aborted). */
static bool tcp_send_stats(exp_output_t *out, exp_tcp_t *s, const exp_stats_t *st)
{
    uint8_t rec[EXP_STATS_RECORD_SIZE];
    size_t rlen = exp_ipfix_stats_fill(out, st, s->records_sent, rec);
    if (tcp_append(out, s, EXP_STATS_TID, rec, rlen) != 1)
        return true; /* cannot be encoded (logged); not worth a connection */
    s->msg_records = 0;
    GError *err = NULL;
    if (!fBufEmit(s->fbuf, &err)) {
        exp_output_failure(out, "cannot encode the statistics record: %s", err->message);
        g_error_free(err);
        return true;
    }
    size_t len = fbExporterGetMsgLen(fBufGetExporter(s->fbuf));
    int e = 0;
    bool eof;
    tcp_peer_t ps = tcp_peer(s, &e);
    if (ps != TCP_PEER_ALIVE) {
        tcp_drop(out, s, ps == TCP_PEER_EOF, e);
        return false;
    }
    size_t w = tcp_write(out, s, len, &e, &eof);
    if (w < len) {
        if (e == ECANCELED)
            return false;
        if (w > 0)
            exp_output_account(out, 0, 0, 0, 1); /* cut short: the stream is broken */
        tcp_drop(out, s, eof, e);
        return false;
    }
    s->written += len;
    exp_output_account(out, 0, 0, 1, 0);
    return true;
}

/* Everything is written and the output is closing: send our FIN and wait for the collector
 * to close its end (it has then read everything) or for the confirmation by time, until
 * the output is aborted by the close timeout. */
static void tcp_finish(exp_output_t *out, exp_tcp_t *s)
{
    shutdown(s->fd, SHUT_WR);
    for (;;) {
        gint64 now = g_get_monotonic_time();
        tcp_acks(s, now);
        tcp_confirm(s, now);
        if (s->unconf->len == 0)
            return;
        int e = 0;
        tcp_peer_t ps = tcp_peer(s, &e);
        if (ps == TCP_PEER_EOF) {
            tcp_settle(out, s, true);
            return;
        }
        if (ps == TCP_PEER_ERROR) {
            uint64_t maybe = tcp_settle(out, s, false);
            exp_output_failure(out, "connection to %s:%s lost at shutdown (%s); %" PRIu64
                               " records possibly lost", out->host, out->port,
                               g_strerror(e), maybe);
            return;
        }
        if (aborted(out))
            return;
        struct pollfd p = { .fd = s->fd, .events = POLLIN };
        poll(&p, 1, TCP_SLICE_MS);
    }
}

static void tcp_run(exp_output_t *out)
{
    exp_tcp_t *s = out->sink;
    bool closing = false;
    uint64_t taken = 0;           /* records taken out of the ring */
    bool have_stats = false;      /* a snapshot waits for the records before it */
    exp_stats_t stats;
    uint64_t stats_after = 0;
    for (;;) {
        gint64 now = g_get_monotonic_time();
        exp_queue_state_t st;
        if (s->state == TCP_DOWN) {
            exp_queue_sleep(&out->queue, 0, false, &st);
            closing = closing || st.closing;
            if (st.abort || (closing && st.empty && s->n_pend == 0))
                break;
            if (now >= s->next_attempt_us)
                tcp_connect_start(out, s);
            else
                exp_queue_sleep(&out->queue, s->next_attempt_us, !closing, &st);
            continue;
        }
        if (s->state == TCP_CONNECTING) {
            if (aborted(out))
                break;
            struct pollfd p = { .fd = s->fd, .events = POLLOUT };
            if (poll(&p, 1, TCP_SLICE_MS) > 0) {
                int e = sock_error(s->fd);
                if (e == 0)
                    tcp_connected(out, s);
                else
                    tcp_connect_failed(out, s, e);
            } else if (g_get_monotonic_time() >= s->connect_deadline_us) {
                tcp_connect_failed(out, s, ETIMEDOUT);
            }
            continue;
        }
        tcp_acks(s, now);
        tcp_confirm(s, now);
        int e = 0;
        tcp_peer_t ps = tcp_peer(s, &e);
        if (ps != TCP_PEER_ALIVE) {
            tcp_drop(out, s, ps == TCP_PEER_EOF, e);
            continue;
        }
        /* Wake up often while messages await confirmation; at once when flows taken
         * before a reconnection still wait to be encoded. */
        gint64 deadline = s->n_enc < s->n_pend ? now
                        : now + (s->unconf->len > 0 ? TCP_SLICE_MS * 1000 : G_USEC_PER_SEC);
        size_t n = exp_queue_pop(&out->queue, s->pend + s->n_pend,
                                 s->pend_fields != NULL ? s->pend_fields + s->n_pend : NULL,
                                 TCP_PEND_MAX - s->n_pend, deadline, &st);
        if (st.abort)
            break;
        closing = closing || st.closing;
        s->n_pend += n;
        taken += n;
        if (exp_output_take_stats(out, &stats, &stats_after))
            have_stats = true;
        /* Records accepted after the snapshot wait until its record is out. */
        size_t limit = s->n_pend;
        if (have_stats && stats_after < taken && stats_after + s->n_pend > taken)
            limit = s->n_pend - (size_t)(taken - stats_after);
        if (!tcp_encode(out, s, limit))
            continue;
        /* pend[] holds the records taken last: taken - n_pend of them are written */
        bool stats_due = have_stats && taken >= stats_after;
        if (s->n_enc > 0 && (st.empty || s->n_pend == TCP_PEND_MAX ||
                             (stats_due && taken - s->n_pend < stats_after)) &&
            !tcp_emit(out, s, s->n_enc, false))
            continue;
        if (stats_due && taken - s->n_pend >= stats_after && s->msg_records == 0) {
            have_stats = false;
            if (!tcp_send_stats(out, s, &stats))
                continue;
        }
        if (closing && st.empty && s->n_pend == 0) {
            tcp_finish(out, s);
            break;
        }
    }
    /* Stopped: flows never written are lost, written ones not known read possibly lost. */
    if (s->n_pend > 0)
        exp_output_account(out, 0, s->n_pend, 0, 0);
    s->n_pend = 0;
    if (s->fd >= 0)
        tcp_settle(out, s, false);
    tcp_close_fd(s);
}

static void tcp_free(exp_output_t *out)
{
    exp_tcp_t *s = out->sink;
    tcp_close_fd(s);
    map_ipfix_free(s->map);
    if (s->model != NULL)
        fbInfoModelFree(s->model);
    if (s->addrs != NULL)
        freeaddrinfo(s->addrs);
    g_array_free(s->unconf, TRUE);
    g_free(s->pend);
    g_free(s->pend_fields);
    g_free(s->msg);
    g_free(s->rec);
    g_free(s);
    out->sink = NULL;
}

/* Loads the template, checks libfixbuf takes it, resolves the host; connects later, on the
 * output's thread. */
static bool tcp_open(exp_output_t *out, GError **error)
{
    exp_tcp_t *s = g_new0(exp_tcp_t, 1);
    s->fd = -1;
    s->state = TCP_DOWN;
    s->backoff_us = TCP_BACKOFF_MIN_US;
    s->unconf = g_array_new(FALSE, FALSE, sizeof(tcp_unconfirmed_t));
    s->pend = g_new(oc_flow_info_t, TCP_PEND_MAX);
    s->msg = g_malloc(TCP_MSG_SIZE);
    s->rec = g_malloc0(2 * MAP_IPFIX_MAX_RECORD);
    out->sink = s;
    if (!exp_ipfix_load(out, &s->model, &s->map, error))
        return false;
    if (out->wants_fields) /* known once the template is loaded */
        s->pend_fields = g_new(oc_fields_t, TCP_PEND_MAX);
    fBuf_t *probe = exp_ipfix_fbuf_new(out, s->model, s->map, s->msg, TCP_MSG_SIZE, error);
    if (probe == NULL)
        return false;
    fBufFree(probe);
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
    int rc = getaddrinfo(out->host, out->port, &hints, &s->addrs);
    if (rc != 0) {
        s->addrs = NULL;
        g_set_error(error, EXP_ERROR, EXP_ERROR_OPEN, "output %s: cannot resolve %s: %s",
                    out->name, out->host, gai_strerror(rc));
        return false;
    }
    return true;
}

const exp_sink_ops_t exp_ipfix_tcp_ops = {
    .open = tcp_open,
    .free = tcp_free,
    .run = tcp_run,
};
