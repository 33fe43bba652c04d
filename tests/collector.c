/*
 * Test helper: a small IPFIX-over-TCP collector (nfcapd has no TCP listener), so that
 * ipfix_tcp_outage.sh can stop and restart the collector under a running exporter.
 *
 *   collector -p PORT -w FILE [-t TAG]
 *
 * Listens on 127.0.0.1:PORT, accepts connections, and appends to FILE one line per data
 * record received: "TAG CONN id=flowId src=... dst=... sport= dport= proto= start= end=
 * octets= packets= roctets= rpackets=" (times in ms, flowId 0 when the template has none),
 * and for each options record (the exporter's statistics) "TAG CONN stats tid=
 * exported=exportedFlowRecordTotalCount packets=packetTotalCount".
 * Framing and the checks an exporter must pass are done here from the RFC 7011 headers; the
 * records are decoded by libfixbuf (fBufSetBuffer on each complete message, a fresh session
 * per connection, the exporter's templates transcoded into our own internal template):
 *   - the first set of every connection is a template set;
 *   - each message's sequence number equals the data records received before it on that
 *     connection (the exporter starts a fresh count on every connection);
 *   - a connection closed by the exporter ends at a message boundary.
 * Prints "collector: listening" on stderr once ready. SIGTERM or SIGINT: reads what is
 * already in the sockets, writes the last lines, and exits 0 if no check failed, else 3.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fixbuf/public.h>
#include <glib.h>

#define MAX_CONNS 8
#define BUF_SIZE (2 * 65536)

/* Our internal template: what each line shows. Offsets follow from the lengths (libfixbuf
 * packs an internal record as the plain sum of the spec lengths). */
static fbInfoElementSpec_t rec_spec[] = {
    { "flowId", 8, 0 },
    { "sourceIPv4Address", 4, 0 },
    { "destinationIPv4Address", 4, 0 },
    { "sourceIPv6Address", 16, 0 },
    { "destinationIPv6Address", 16, 0 },
    { "sourceTransportPort", 2, 0 },
    { "destinationTransportPort", 2, 0 },
    { "protocolIdentifier", 1, 0 },
    { "flowStartMilliseconds", 8, 0 },
    { "flowEndMilliseconds", 8, 0 },
    { "octetDeltaCount", 8, 0 },
    { "packetDeltaCount", 8, 0 },
    { "reverseOctetDeltaCount", 8, 0 },
    { "reversePacketDeltaCount", 8, 0 },
    { "exportedFlowRecordTotalCount", 8, 0 },
    { "packetTotalCount", 8, 0 },
    FB_IESPEC_NULL
};
enum { F_ID, F_SRC4, F_DST4, F_SRC6, F_DST6, F_SPORT, F_DPORT, F_PROTO, F_START, F_END,
       F_OCT, F_PKT, F_ROCT, F_RPKT, F_EXPORTED, F_PKT_TOTAL, F_N };
#define REC_TID 1000

typedef struct {
    int fd;
    unsigned id;
    fBuf_t *fbuf;
    uint8_t buf[BUF_SIZE];
    size_t have;
    uint64_t messages, records;
} conn_t;

static volatile sig_atomic_t stop;
static fbInfoModel_t *model;
static FILE *out;
static const char *tag = "-";
static unsigned n_errors, next_conn_id = 1;
static size_t offs[F_N];

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void check_failed(const conn_t *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void check_failed(const conn_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "collector: connection %u: ", c->id);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    n_errors++;
}

static uint64_t get_uint(const uint8_t *rec, int field, size_t len)
{
    uint64_t v = 0;
    switch (len) {
    case 1: v = rec[offs[field]]; break;
    case 2: { uint16_t x; memcpy(&x, rec + offs[field], 2); v = x; break; }
    case 4: { uint32_t x; memcpy(&x, rec + offs[field], 4); v = x; break; }
    default: memcpy(&v, rec + offs[field], 8); break;
    }
    return v;
}

static void put_record(const conn_t *c, const uint8_t *rec)
{
    uint16_t tid = 0;
    fbTemplate_t *t = fBufGetCollectionTemplate(c->fbuf, &tid);
    if (t != NULL && fbTemplateGetOptionsScope(t) > 0) {
        fprintf(out, "%s %u stats tid=%u exported=%" PRIu64 " packets=%" PRIu64 "\n", tag, c->id,
                tid, get_uint(rec, F_EXPORTED, 8), get_uint(rec, F_PKT_TOTAL, 8));
        return;
    }
    char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
    uint32_t s4 = (uint32_t)get_uint(rec, F_SRC4, 4), d4 = (uint32_t)get_uint(rec, F_DST4, 4);
    static const uint8_t zero16[16];
    if (memcmp(rec + offs[F_SRC6], zero16, 16) != 0 || memcmp(rec + offs[F_DST6], zero16, 16) != 0) {
        inet_ntop(AF_INET6, rec + offs[F_SRC6], src, sizeof src);
        inet_ntop(AF_INET6, rec + offs[F_DST6], dst, sizeof dst);
    } else {
        /* libfixbuf hands IPv4 addresses over in host order */
        uint32_t ns = htonl(s4), nd = htonl(d4);
        inet_ntop(AF_INET, &ns, src, sizeof src);
        inet_ntop(AF_INET, &nd, dst, sizeof dst);
    }
    fprintf(out, "%s %u id=%" PRIu64 " src=%s dst=%s sport=%" PRIu64 " dport=%" PRIu64
            " proto=%" PRIu64 " start=%" PRIu64 " end=%" PRIu64 " octets=%" PRIu64
            " packets=%" PRIu64 " roctets=%" PRIu64 " rpackets=%" PRIu64 "\n", tag, c->id,
            get_uint(rec, F_ID, 8), src, dst, get_uint(rec, F_SPORT, 2),
            get_uint(rec, F_DPORT, 2), get_uint(rec, F_PROTO, 1), get_uint(rec, F_START, 8),
            get_uint(rec, F_END, 8), get_uint(rec, F_OCT, 8), get_uint(rec, F_PKT, 8),
            get_uint(rec, F_ROCT, 8), get_uint(rec, F_RPKT, 8));
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static fBuf_t *new_fbuf(void)
{
    GError *err = NULL;
    fbSession_t *session = fbSessionAlloc(model);
    fbTemplate_t *t = fbTemplateAlloc(model);
    if (!fbTemplateAppendSpecArray(t, rec_spec, 0, &err) ||
        !fbSessionAddTemplate(session, TRUE, REC_TID, t, &err)) {
        fprintf(stderr, "collector: internal template: %s\n", err->message);
        exit(2);
    }
    fBuf_t *fbuf = fBufAllocForCollection(session, NULL);
    if (!fBufSetInternalTemplate(fbuf, REC_TID, &err)) {
        fprintf(stderr, "collector: internal template: %s\n", err->message);
        exit(2);
    }
    return fbuf;
}

/* One complete message at @msg (@len bytes, as its header says). */
static void handle_message(conn_t *c, uint8_t *msg, size_t len)
{
    if (rd16(msg) != 10) {
        check_failed(c, "message %" PRIu64 ": version %u, not 10", c->messages, rd16(msg));
        return;
    }
    if (c->messages == 0 && (len < 20 || rd16(msg + 16) != 2))
        check_failed(c, "the first set is not a template set (set id %u)",
                     len >= 20 ? rd16(msg + 16) : 0);
    uint32_t seq = rd32(msg + 8);
    if (seq != (uint32_t)c->records)
        check_failed(c, "message %" PRIu64 ": sequence number %" PRIu32 ", expected %" PRIu64,
                     c->messages, seq, c->records);
    c->messages++;
    fBufSetBuffer(c->fbuf, msg, len);
    for (;;) {
        uint8_t rec[256];
        size_t rlen = sizeof rec;
        GError *err = NULL;
        memset(rec, 0, sizeof rec);
        if (fBufNext(c->fbuf, rec, &rlen, &err)) {
            c->records++;
            put_record(c, rec);
            continue;
        }
        if (!g_error_matches(err, FB_ERROR_DOMAIN, FB_ERROR_EOM) &&
            !g_error_matches(err, FB_ERROR_DOMAIN, FB_ERROR_BUFSZ) &&
            !g_error_matches(err, FB_ERROR_DOMAIN, FB_ERROR_EOF))
            check_failed(c, "message %" PRIu64 ": %s", c->messages, err->message);
        g_error_free(err);
        break;
    }
}

/* Handles the complete messages in c->buf and keeps the rest. */
static void handle_buffer(conn_t *c)
{
    size_t off = 0;
    while (c->have - off >= 4) {
        size_t len = rd16(c->buf + off + 2);
        if (len < 16) {
            check_failed(c, "message length %zu", len);
            c->have = off = 0;
            break;
        }
        if (c->have - off < len)
            break;
        handle_message(c, c->buf + off, len);
        off += len;
    }
    memmove(c->buf, c->buf + off, c->have - off);
    c->have -= off;
    fflush(out);
}

static void conn_close(conn_t *c, bool by_peer)
{
    if (by_peer && c->have > 0)
        check_failed(c, "closed by the exporter inside a message (%zu bytes left)", c->have);
    fprintf(stderr, "collector: connection %u: %" PRIu64 " messages, %" PRIu64 " records%s\n",
            c->id, c->messages, c->records, by_peer ? "" : " (stopped)");
    close(c->fd);
    fBufFree(c->fbuf);
    c->fd = -1;
}

/* Reads what is there; false once the connection is over. */
static bool conn_read(conn_t *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, c->buf + c->have, sizeof c->buf - c->have, MSG_DONTWAIT);
        if (n > 0) {
            c->have += (size_t)n;
            handle_buffer(c);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (n < 0)
            fprintf(stderr, "collector: connection %u: %s\n", c->id, strerror(errno));
        conn_close(c, true);
        return false;
    }
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    unsigned port = 0;
    int opt;
    while ((opt = getopt(argc, argv, "p:w:t:")) != -1) {
        switch (opt) {
        case 'p': port = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'w': path = optarg; break;
        case 't': tag = optarg; break;
        default:
            fprintf(stderr, "usage: collector -p PORT -w FILE [-t TAG]\n");
            return 2;
        }
    }
    if (port == 0 || port > 65535 || path == NULL) {
        fprintf(stderr, "usage: collector -p PORT -w FILE [-t TAG]\n");
        return 2;
    }
    size_t o = 0;
    for (int i = 0; i < F_N; i++) {
        offs[i] = o;
        o += rec_spec[i].len_override;
    }
    out = fopen(path, "a");
    if (out == NULL) {
        fprintf(stderr, "collector: %s: %s\n", path, strerror(errno));
        return 2;
    }
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int on = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 8) != 0) {
        fprintf(stderr, "collector: 127.0.0.1:%u: %s\n", port, strerror(errno));
        return 2;
    }
    model = fbInfoModelAlloc();
    static conn_t conns[MAX_CONNS];
    for (int i = 0; i < MAX_CONNS; i++)
        conns[i].fd = -1;
    fprintf(stderr, "collector: listening on 127.0.0.1:%u\n", port);

    while (!stop) {
        struct pollfd p[MAX_CONNS + 1];
        int map[MAX_CONNS + 1];
        nfds_t n = 0;
        p[n] = (struct pollfd){ .fd = lfd, .events = POLLIN };
        map[n++] = -1;
        for (int i = 0; i < MAX_CONNS; i++) {
            if (conns[i].fd >= 0) {
                p[n] = (struct pollfd){ .fd = conns[i].fd, .events = POLLIN };
                map[n++] = i;
            }
        }
        if (poll(p, n, 100) <= 0)
            continue;
        for (nfds_t k = 1; k < n; k++)
            if (p[k].revents != 0)
                conn_read(&conns[map[k]]);
        if (p[0].revents & POLLIN) {
            int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            int slot = -1;
            for (int i = 0; i < MAX_CONNS && fd >= 0; i++)
                if (conns[i].fd < 0) {
                    slot = i;
                    break;
                }
            if (slot < 0) {
                if (fd >= 0)
                    close(fd);
                continue;
            }
            conn_t *c = &conns[slot];
            c->fd = fd;
            c->id = next_conn_id++;
            c->fbuf = new_fbuf();
            c->have = 0;
            c->messages = c->records = 0;
        }
    }
    /* Stopped: what already arrived is still ours to record. */
    for (int i = 0; i < MAX_CONNS; i++)
        if (conns[i].fd >= 0 && conn_read(&conns[i]))
            conn_close(&conns[i], false);
    close(lfd);
    fclose(out);
    fbInfoModelFree(model);
    fprintf(stderr, "collector: %u check(s) failed\n", n_errors);
    return n_errors == 0 ? 0 : 3;
}
