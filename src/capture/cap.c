/*
 * Capture front-end over libpcap: offline pcap/pcapng files (standard input with "-") and
 * live interfaces. It exists so that main.c never touches libpcap and so that the two things
 * libpcap leaves to its caller are done once, here: a live capture must not block forever on
 * a quiet link (the handle is non-blocking and we poll its selectable fd with a timeout, so
 * the caller can advance the flow clock), and a broken file must be reported with the byte
 * offset of the record that broke. For classic pcap that offset is tracked from the record
 * lengths (24-byte file header, then 16 + caplen per record), re-based with ftell() once per
 * batch when the file is seekable; for pcapng the block chain is walked again with pread(),
 * only when an error happens. Nothing here makes a system call per packet.
 *
 * Classic pcap in a regular file (the common case for offline analysis, and what the
 * benchmark reads) bypasses libpcap's reader: the file is read in 1 MiB blocks and its
 * records are walked in place, so a packet costs neither two freads and a copy out of a
 * stdio buffer nor, every few dozen packets, a read() system call. libpcap still opens the
 * file (it validates the header and computes the snapshot length) and filters the packets
 * (pcap_offline_filter()); its rules for a bad record (a capture length above the link
 * type's maximum, one above the file's snapshot length, a cut record) are repeated here.
 * We read rather than mmap(): on this kind of virtual machine the page faults and TLB misses
 * of a mapping of the page cache cost more than the kernel's copy into one hot buffer
 * (measured: about 1 s more CPU on 778 MB of capture).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <pcap/pcap.h>
#include <glib.h>

#include "capture/cap.h"

G_DEFINE_QUARK(cap-error-quark, cap_error)

/* Sizes of the classic pcap file header and record header (libpcap's sf-pcap.c). */
enum { CAP_PCAP_FILE_HDR = 24, CAP_PCAP_REC_HDR = 16 };

/* stdio buffer of an offline file. */
enum { CAP_FILE_BUFFER_BYTES = 256 * 1024 };

/* Read buffer of our classic pcap reader: holds the largest record several times over. */
enum { CAP_READ_BUFFER_BYTES = 1024 * 1024 };

/* libpcap's largest capture length for most link types (pcap-common.h MAXIMUM_SNAPLEN). */
enum { CAP_MAX_SNAPLEN = 262144 };

/* Packet-buffer timeout of a live handle: how long the kernel holds a partly filled block. */
enum { CAP_LIVE_BUFFER_TIMEOUT_MS = 100 };

struct cap {
    pcap_t *pcap;
    char *name;                 /* path, "standard input" or interface name */
    bool live;
    bool classic_pcap;          /* offline and not pcapng: offsets are tracked */
    bool seekable;              /* ftell() works on the file (not a pipe) */
    int dlt;
    int fd;                     /* live: selectable fd */
    unsigned ifindex;           /* live: the interface's index at open, 0 if it has none */
    bool down;                  /* live: taken down; waiting for it to come back */
    char *iobuf;                /* stdio buffer of the file, freed after pcap_close() */
    struct bpf_program filter;  /* offline: applied per packet so every record is counted */
    bool has_filter;
    uint64_t file_size;         /* regular files only, else 0 */
    uint64_t offset;            /* classic pcap: offset of the next record */
    uint64_t done;              /* bytes consumed, updated once per batch */
    /* our own classic pcap reader (rd NULL when libpcap reads the file) */
    uint8_t *rd;                /* CAP_READ_BUFFER_BYTES; records are walked in place */
    size_t rd_pos, rd_len;      /* cursor and end of the valid bytes */
    uint64_t rd_file_off;       /* file offset of rd[0] */
    int rd_fd;                  /* our duplicate of the file's descriptor */
    bool rd_swapped;            /* record headers are in the other byte order */
    bool rd_nsec;               /* timestamps are sec + nsec */
    uint32_t snapshot;          /* the file's snapshot length as libpcap adjusted it */
    volatile sig_atomic_t rd_break; /* cap_break() while our reader runs */
    /* valid during one cap_dispatch() */
    cap_packet_fn fn;             /* NULL: bfn */
    cap_batch_fn bfn;
    oc_packet_t batch[CAP_BATCH]; /* our reader: records of the read buffer not yet handed */
    unsigned batch_n;
    void *user;
    int delivered;
};

static void cap_on_packet(u_char *arg, const struct pcap_pkthdr *h, const u_char *bytes)
{
    cap_t *cap = (cap_t *)(void *)arg;

    if (cap->classic_pcap)
        cap->offset += CAP_PCAP_REC_HDR + (uint64_t)h->caplen;
    /* Offline filtering is done here rather than by pcap_setfilter() so that records the
     * filter rejects still pass through this function and the offset stays exact. */
    if (cap->has_filter && !pcap_offline_filter(&cap->filter, h, bytes))
        return;
    uint64_t ts_us = (uint64_t)h->ts.tv_sec * UINT64_C(1000000) + (uint64_t)h->ts.tv_usec;
    cap->delivered++;
    if (cap->fn != NULL) {
        cap->fn(cap->user, ts_us, bytes, h->caplen, h->len, cap->dlt);
        return;
    }
    /* libpcap reuses its buffer (and a live ring) once this returns: no batching here. */
    const oc_packet_t p = { ts_us, bytes, h->caplen, h->len, cap->dlt };
    cap->bfn(cap->user, &p, 1);
}

/* Hands the packets gathered from the read buffer over, before the buffer moves. */
static void cap_batch_flush(cap_t *cap)
{
    if (cap->batch_n > 0) {
        unsigned n = cap->batch_n;
        cap->batch_n = 0;
        cap->bfn(cap->user, cap->batch, n);
    }
}

static cap_t *cap_alloc(const char *name, bool live)
{
    cap_t *cap = g_new0(cap_t, 1);
    cap->name = g_strdup(name);
    cap->live = live;
    cap->fd = -1;
    return cap;
}

/* Compiles @bpf for @cap->pcap; live captures install it in the kernel. */
static bool cap_set_filter(cap_t *cap, const char *bpf, GError **error)
{
    if (bpf == NULL || bpf[0] == '\0')
        return true;
    if (pcap_compile(cap->pcap, &cap->filter, bpf, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        g_set_error(error, CAP_ERROR, CAP_ERROR_FILTER, "%s: bad filter '%s': %s", cap->name,
                    bpf, pcap_geterr(cap->pcap));
        return false;
    }
    cap->has_filter = true;
    if (cap->live && pcap_setfilter(cap->pcap, &cap->filter) != 0) {
        g_set_error(error, CAP_ERROR, CAP_ERROR_FILTER, "%s: cannot set filter '%s': %s",
                    cap->name, bpf, pcap_geterr(cap->pcap));
        return false;
    }
    return true;
}

/* Closes a file cap_open_file() opened (never standard input) and frees its stdio buffer. */
static void cap_file_close(FILE *fp, char *iobuf)
{
    if (fp != stdin)
        fclose(fp);
    g_free(iobuf);
}

/*
 * Takes over reading the classic pcap file open on @fd when its header is one we walk
 * ourselves (version 2.4, microsecond or nanosecond magic in either byte order, a link type
 * with libpcap's usual maximum capture length). Leaves cap->rd NULL, and libpcap in charge,
 * otherwise.
 */
static void cap_reader_init(cap_t *cap, int fd)
{
    uint8_t hdr[CAP_PCAP_FILE_HDR];
    if (cap->file_size < CAP_PCAP_FILE_HDR ||
        pread(fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr)
        return;
    uint32_t magic;
    memcpy(&magic, hdr, 4);
    bool swapped, nsec;
    switch (magic) {
    case 0xa1b2c3d4u: swapped = false; nsec = false; break;
    case 0xa1b23c4du: swapped = false; nsec = true; break;
    case 0xd4c3b2a1u: swapped = true; nsec = false; break;
    case 0x4d3cb2a1u: swapped = true; nsec = true; break;
    default: return; /* modified or other variants: libpcap knows them */
    }
    if (pcap_major_version(cap->pcap) != 2 || pcap_minor_version(cap->pcap) != 4)
        return; /* older versions swap fields; libpcap fixes them up */
    int snap = pcap_snapshot(cap->pcap);
    /* Link types whose maximum capture length libpcap raises: D-Bus, USBPcap, EBHSCR. */
    if (snap <= 0 || snap > CAP_MAX_SNAPLEN || cap->dlt == 231 || cap->dlt == 249 ||
        cap->dlt == 279)
        return;
    int dup_fd = dup(fd);
    if (dup_fd < 0)
        return;
    posix_fadvise(dup_fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    cap->rd_fd = dup_fd;
    cap->rd = g_malloc(CAP_READ_BUFFER_BYTES);
    cap->rd_pos = cap->rd_len = 0;
    cap->rd_file_off = CAP_PCAP_FILE_HDR;
    cap->rd_swapped = swapped;
    cap->rd_nsec = nsec;
    cap->snapshot = (uint32_t)snap;
    cap->offset = CAP_PCAP_FILE_HDR;
    cap->done = CAP_PCAP_FILE_HDR;
}

/*
 * Makes at least @want bytes from the cursor available in the buffer (fewer only at the end
 * of the file): moves the unread tail to the front and fills the rest with read() calls of
 * up to the buffer size. False on a read error (errno set).
 */
static bool cap_reader_fill(cap_t *cap, size_t want)
{
    size_t have = cap->rd_len - cap->rd_pos;
    if (have >= want)
        return true;
    cap_batch_flush(cap); /* their bytes are about to move */
    memmove(cap->rd, cap->rd + cap->rd_pos, have);
    cap->rd_file_off += cap->rd_pos;
    cap->rd_pos = 0;
    cap->rd_len = have;
    while (cap->rd_len < want) {
        /* pread: the descriptor's offset is shared with libpcap's stdio stream. */
        ssize_t got = pread(cap->rd_fd, cap->rd + cap->rd_len, CAP_READ_BUFFER_BYTES - cap->rd_len,
                            (off_t)(cap->rd_file_off + cap->rd_len));
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return false;
        if (got == 0)
            break;
        cap->rd_len += (size_t)got;
    }
    return true;
}

static inline uint32_t cap_rd32(const uint8_t *p, bool swapped)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return swapped ? GUINT32_SWAP_LE_BE(v) : v;
}

/*
 * Walks up to @max_packets records from the read buffer. Mirrors libpcap's sf-pcap.c: a
 * capture length above the maximum is a corrupt record, one above the file's snapshot
 * length delivers the first snapshot-length bytes, and a record cut by the end of the file
 * is truncated. The error names the record's offset.
 */
static cap_status_t cap_reader_dispatch(cap_t *cap, int max_packets, GError **error)
{
    const bool sw = cap->rd_swapped;
    int n = 0;
    cap_status_t st = CAP_STATUS_PACKETS;

    while (max_packets <= 0 || n < max_packets) {
        if (cap->rd_break) {
            cap->rd_break = 0;
            st = cap->delivered > 0 ? CAP_STATUS_PACKETS : CAP_STATUS_IDLE;
            break;
        }
        size_t have = cap->rd_len - cap->rd_pos;
        if (have < CAP_PCAP_REC_HDR) {
            if (!cap_reader_fill(cap, CAP_PCAP_REC_HDR))
                goto read_error;
            have = cap->rd_len - cap->rd_pos;
            if (have == 0) {
                st = n > 0 ? CAP_STATUS_PACKETS : CAP_STATUS_EOF;
                break;
            }
            if (have < CAP_PCAP_REC_HDR) {
                g_set_error(error, CAP_ERROR, CAP_ERROR_TRUNCATED,
                            "%s: truncated packet record at byte offset %" PRIu64
                            ": truncated dump file; tried to read %d header bytes, only got %zu",
                            cap->name, cap->offset, CAP_PCAP_REC_HDR, have);
                st = CAP_STATUS_ERROR;
                break;
            }
        }
        uint32_t caplen = cap_rd32(cap->rd + cap->rd_pos + 8, sw);
        if (caplen > CAP_MAX_SNAPLEN) {
            g_set_error(error, CAP_ERROR, CAP_ERROR_TRUNCATED,
                        "%s: corrupt packet record at byte offset %" PRIu64
                        ": invalid packet capture length %u, bigger than maximum of %u",
                        cap->name, cap->offset, caplen, (unsigned)CAP_MAX_SNAPLEN);
            st = CAP_STATUS_ERROR;
            break;
        }
        size_t rec = CAP_PCAP_REC_HDR + (size_t)caplen;
        if (have < rec) {
            if (!cap_reader_fill(cap, rec))
                goto read_error;
            have = cap->rd_len - cap->rd_pos;
            if (have < rec) {
                g_set_error(error, CAP_ERROR, CAP_ERROR_TRUNCATED,
                            "%s: truncated packet record at byte offset %" PRIu64
                            ": truncated dump file; tried to read %u captured bytes, only got %zu",
                            cap->name, cap->offset, caplen, have - CAP_PCAP_REC_HDR);
                st = CAP_STATUS_ERROR;
                break;
            }
        }
        const uint8_t *h = cap->rd + cap->rd_pos;
        struct pcap_pkthdr ph;
        uint32_t sec = cap_rd32(h, sw), frac = cap_rd32(h + 4, sw);
        ph.ts.tv_sec = (time_t)sec;
        ph.ts.tv_usec = (suseconds_t)(cap->rd_nsec ? frac / 1000u : frac);
        ph.caplen = caplen > cap->snapshot ? cap->snapshot : caplen;
        ph.len = cap_rd32(h + 12, sw);
        const uint8_t *data = h + CAP_PCAP_REC_HDR;
        cap->rd_pos += rec;
        cap->offset += rec;
        n++;
        if (cap->has_filter && !pcap_offline_filter(&cap->filter, &ph, data))
            continue;
        uint64_t ts_us = (uint64_t)sec * UINT64_C(1000000) + (uint64_t)ph.ts.tv_usec;
        cap->delivered++;
        if (cap->fn != NULL) {
            cap->fn(cap->user, ts_us, data, ph.caplen, ph.len, cap->dlt);
        } else {
            cap->batch[cap->batch_n++] = (oc_packet_t){ ts_us, data, ph.caplen, ph.len, cap->dlt };
            if (cap->batch_n == CAP_BATCH)
                cap_batch_flush(cap);
        }
    }
    cap_batch_flush(cap);
    cap->done = cap->offset;
    return st;

read_error:
    cap_batch_flush(cap);
    g_set_error(error, CAP_ERROR, CAP_ERROR_READ, "%s: read error at byte offset %" PRIu64
                ": %s", cap->name, cap->offset, g_strerror(errno));
    cap->done = cap->offset;
    return CAP_STATUS_ERROR;
}

cap_t *cap_open_file(const char *path, const char *bpf, GError **error)
{
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    bool is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "standard input" : path;
    FILE *fp = is_stdin ? stdin : fopen(path, "rb");

    if (fp == NULL) {
        g_set_error(error, CAP_ERROR, CAP_ERROR_OPEN, "%s: cannot open: %s", name,
                    g_strerror(errno));
        return NULL;
    }
    /* stdio's default 4 KiB would mean one read() per few packets; glibc ignores the size
     * unless we supply the buffer. Standard input keeps a static one: the stream outlives
     * the capture. */
    static char stdin_buf[CAP_FILE_BUFFER_BYTES];
    char *iobuf = is_stdin ? NULL : g_malloc(CAP_FILE_BUFFER_BYTES);
    setvbuf(fp, is_stdin ? stdin_buf : iobuf, _IOFBF, CAP_FILE_BUFFER_BYTES);

    struct stat st;
    bool have_stat = fstat(fileno(fp), &st) == 0;
    if (have_stat && S_ISDIR(st.st_mode)) {
        g_set_error(error, CAP_ERROR, CAP_ERROR_OPEN, "%s: cannot read: is a directory", name);
        cap_file_close(fp, iobuf);
        return NULL;
    }
    bool regular = have_stat && S_ISREG(st.st_mode);
    if (regular && st.st_size == 0) {
        g_set_error(error, CAP_ERROR, CAP_ERROR_FORMAT,
                    "%s: not a pcap or pcapng file (the file is empty)", name);
        cap_file_close(fp, iobuf);
        return NULL;
    }

    /* Micro precision makes libpcap convert nanosecond pcap and pcapng timestamps for us. */
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_MICRO,
                                                         errbuf);
    if (p == NULL) {
        g_set_error(error, CAP_ERROR, CAP_ERROR_FORMAT, "%s: not a pcap or pcapng file (%s)",
                    name, errbuf);
        cap_file_close(fp, iobuf);
        return NULL;
    }

    cap_t *cap = cap_alloc(name, false);
    cap->pcap = p;
    cap->iobuf = iobuf;
    cap->dlt = pcap_datalink(p);
    /* libpcap reports version 2.x for classic pcap and the section header's 1.x for pcapng. */
    cap->classic_pcap = pcap_major_version(p) == 2;
    cap->file_size = regular ? (uint64_t)st.st_size : 0;
    long pos = ftell(fp);
    cap->seekable = pos >= 0;
    cap->done = pos >= 0 ? (uint64_t)pos : 0;
    cap->offset = cap->seekable ? cap->done : CAP_PCAP_FILE_HDR;
    if (!cap_set_filter(cap, bpf, error)) {
        cap_free(cap);
        return NULL;
    }
    if (cap->classic_pcap && regular && !is_stdin)
        cap_reader_init(cap, fileno(fp));
    return cap;
}

cap_t *cap_open_live(const char *iface, const char *bpf, int snaplen, bool promisc,
                     uint32_t buffer_mib, GError **error)
{
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_create(iface, errbuf);

    if (p == NULL) {
        g_set_error(error, CAP_ERROR, CAP_ERROR_OPEN, "%s: cannot capture: %s", iface, errbuf);
        return NULL;
    }
    cap_t *cap = cap_alloc(iface, true);
    cap->pcap = p;
    pcap_set_snaplen(p, snaplen);
    pcap_set_promisc(p, promisc ? 1 : 0);
    pcap_set_timeout(p, CAP_LIVE_BUFFER_TIMEOUT_MS);
    pcap_set_immediate_mode(p, 0);
    pcap_set_buffer_size(p, (int)(buffer_mib > 0 ? buffer_mib : 1) * 1024 * 1024);

    int rc = pcap_activate(p);
    if (rc < 0) {
        const char *what = rc == PCAP_ERROR_NO_SUCH_DEVICE ? "no such interface"
                           : rc == PCAP_ERROR_PERM_DENIED  ? "permission denied"
                           : rc == PCAP_ERROR_IFACE_NOT_UP ? "interface is down"
                                                           : "cannot capture";
        const char *detail = rc == PCAP_ERROR ? pcap_geterr(p) : pcap_statustostr(rc);
        /* PCAP_ERROR_NO_SUCH_DEVICE and friends also fill the error buffer; prefer it. */
        if (rc != PCAP_ERROR && pcap_geterr(p)[0] != '\0')
            detail = pcap_geterr(p);
        g_set_error(error, CAP_ERROR, CAP_ERROR_OPEN, "%s: %s (%s)", iface, what, detail);
        cap_free(cap);
        return NULL;
    }
    if (rc > 0)
        g_warning("%s: %s (%s)", iface, pcap_statustostr(rc), pcap_geterr(p));

    cap->dlt = pcap_datalink(p);
    if (pcap_setnonblock(p, 1, errbuf) != 0) {
        g_set_error(error, CAP_ERROR, CAP_ERROR_OPEN, "%s: cannot make non-blocking: %s",
                    iface, errbuf);
        cap_free(cap);
        return NULL;
    }
    cap->fd = pcap_get_selectable_fd(p);
    cap->ifindex = if_nametoindex(iface);
    if (cap->fd < 0) {
        g_set_error(error, CAP_ERROR, CAP_ERROR_OPEN, "%s: capture device cannot be polled",
                    iface);
        cap_free(cap);
        return NULL;
    }
    if (!cap_set_filter(cap, bpf, error)) {
        cap_free(cap);
        return NULL;
    }
    return cap;
}

/*
 * pcapng only, after an error: the start of the block libpcap failed on. Walks the block
 * chain of the file open on @fd (with pread, so libpcap's stream is left alone) from the
 * start up to @err_pos, where the failed read left the stream: the first block whose length
 * is impossible or runs past the end of the file, else the last block starting before
 * @err_pos.
 */
static uint64_t cap_pcapng_bad_block(int fd, uint64_t file_size, uint64_t err_pos)
{
    uint64_t pos = 0, last = 0;
    bool swapped = false;

    while (pos < err_pos || pos == 0) {
        uint8_t hdr[12];
        ssize_t got = pread(fd, hdr, sizeof hdr, (off_t)pos);
        last = pos;
        if (got < 8)
            break;            /* a block header cut short */
        uint32_t type, len;
        memcpy(&type, hdr, 4);
        memcpy(&len, hdr + 4, 4);
        if (type == 0x0A0D0D0Au && got == (ssize_t)sizeof hdr) {
            /* A section header sets the byte order of the blocks that follow it. */
            uint32_t bom;
            memcpy(&bom, hdr + 8, 4);
            swapped = bom == 0x4D3C2B1Au;
        }
        if (swapped)
            len = GUINT32_SWAP_LE_BE(len);
        if (len < 12 || len % 4 != 0 || pos + len > file_size)
            break;
        pos += len;
    }
    return last;
}

/* Fills @error for a read error in the middle of a file. */
static void cap_file_error(cap_t *cap, GError **error)
{
    const char *msg = pcap_geterr(cap->pcap);
    const char *what = strstr(msg, "truncated") != NULL ? "truncated" : "corrupt";
    const char *unit = cap->classic_pcap ? "packet record" : "block";
    uint64_t offset = 0;
    bool known = false;

    if (cap->classic_pcap) {
        offset = cap->offset;
        known = true;
    } else if (cap->seekable && cap->file_size > 0) {
        FILE *fp = pcap_file(cap->pcap);
        long pos = ftell(fp);
        if (pos >= 0) {
            offset = cap_pcapng_bad_block(fileno(fp), cap->file_size, (uint64_t)pos);
            known = true;
        }
    }
    if (known)
        g_set_error(error, CAP_ERROR, CAP_ERROR_TRUNCATED,
                    "%s: %s %s at byte offset %" PRIu64 ": %s", cap->name, what, unit, offset,
                    msg);
    else
        g_set_error(error, CAP_ERROR, CAP_ERROR_TRUNCATED,
                    "%s: %s %s at an unknown byte offset (not seekable): %s", cap->name, what,
                    unit, msg);
}

static cap_status_t cap_run(cap_t *cap, int max_packets, int timeout_ms, GError **error);

cap_status_t cap_dispatch(cap_t *cap, int max_packets, int timeout_ms, cap_packet_fn fn,
                          void *user, GError **error)
{
    cap->fn = fn;
    cap->bfn = NULL;
    cap->user = user;
    return cap_run(cap, max_packets, timeout_ms, error);
}

cap_status_t cap_dispatch_batch(cap_t *cap, int max_packets, int timeout_ms, cap_batch_fn fn,
                                void *user, GError **error)
{
    cap->fn = NULL;
    cap->bfn = fn;
    cap->user = user;
    return cap_run(cap, max_packets, timeout_ms, error);
}

/* Live: the interface is down; keep the handle and wait for it (warned once per outage). */
static void cap_mark_down(cap_t *cap)
{
    if (!cap->down)
        g_warning("%s: interface is down; waiting for it to come back up", cap->name);
    cap->down = true;
}

/*
 * Live, after a capture error: whether the interface was only taken down (ip link set down,
 * a link flap handled by a network manager), in which case we keep the handle and wait. The
 * kernel keeps the packet socket bound and delivers again once the interface is up, so the
 * flows in the table and the counters carry on; nothing has to be reopened, which after
 * dropping privileges we could not do. An interface that went away (no longer there under
 * its name, or there with another index: deleted and created again) stays an error.
 */
static bool cap_live_down(cap_t *cap)
{
    int err = 0;
    socklen_t len = sizeof err;
    /* Reading the pending error clears it, so the next poll() waits instead of failing. */
    (void)getsockopt(cap->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (cap->ifindex == 0 || if_nametoindex(cap->name) != cap->ifindex)
        return false;
    cap_mark_down(cap);
    return true;
}

/* Live, after a capture error that is not a mere "down": the error to report, naming the
 * interface as gone when it no longer exists under its name (deleted while up; the kernel
 * takes it down on the way, but that error may have been read by libpcap's own poll). */
static void cap_live_error(cap_t *cap, const char *what, GError **error)
{
    if (cap->ifindex != 0 && if_nametoindex(cap->name) != cap->ifindex)
        g_set_error(error, CAP_ERROR, CAP_ERROR_READ, "%s: interface went away", cap->name);
    else
        g_set_error(error, CAP_ERROR, CAP_ERROR_READ, "%s: %s", cap->name, what);
}

/*
 * Live, when a poll timed out without packets: whether the interface is still there and up.
 * The socket error that says "down" is read by whoever polls first, and libpcap's own poll
 * inside pcap_dispatch() takes it without telling us (it then just waits), so the error
 * alone misses some flaps; a deleted interface raises no second error at all. Quiet periods
 * only: two system calls per timeout, never per packet. An interface that went away is
 * down too (the kernel takes it down before deleting it): the next cap_run() reports it.
 */
static void cap_live_idle_check(cap_t *cap)
{
    if (cap->ifindex == 0)
        return;
    if (if_nametoindex(cap->name) != cap->ifindex) {
        cap->down = true;
        return;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    g_strlcpy(ifr.ifr_name, cap->name, sizeof ifr.ifr_name);
    if (ioctl(cap->fd, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP))
        cap_mark_down(cap);
}

static cap_status_t cap_run(cap_t *cap, int max_packets, int timeout_ms, GError **error)
{
    cap->delivered = 0;
    cap->batch_n = 0;

    if (cap->rd != NULL)
        return cap_reader_dispatch(cap, max_packets, error);
    if (!cap->live) {
        int n = pcap_dispatch(cap->pcap, max_packets, cap_on_packet, (u_char *)(void *)cap);
        if (cap->seekable) {
            long pos = ftell(pcap_file(cap->pcap));
            if (pos >= 0) {
                cap->done = (uint64_t)pos;
                if (n >= 0 && cap->classic_pcap)
                    cap->offset = cap->done;
            }
        } else if (cap->classic_pcap) {
            cap->done = cap->offset;
        }
        if (n == PCAP_ERROR) {
            cap_file_error(cap, error);
            return CAP_STATUS_ERROR;
        }
        if (n == PCAP_ERROR_BREAK)
            return cap->delivered > 0 ? CAP_STATUS_PACKETS : CAP_STATUS_IDLE;
        return n > 0 ? CAP_STATUS_PACKETS : CAP_STATUS_EOF;
    }

    if (cap->down && if_nametoindex(cap->name) != cap->ifindex) {
        g_set_error(error, CAP_ERROR, CAP_ERROR_READ, "%s: interface went away while down",
                    cap->name);
        return CAP_STATUS_ERROR;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        int n = pcap_dispatch(cap->pcap, max_packets, cap_on_packet, (u_char *)(void *)cap);
        if (n == PCAP_ERROR) {
            if (cap_live_down(cap))
                break;
            g_autofree char *what = g_strdup_printf("capture failed: %s", pcap_geterr(cap->pcap));
            cap_live_error(cap, what, error);
            return CAP_STATUS_ERROR;
        }
        if (n == PCAP_ERROR_BREAK || cap->delivered > 0 || attempt == 1)
            break;
        struct pollfd pfd = { .fd = cap->fd, .events = POLLIN };
        int rc = poll(&pfd, 1, timeout_ms);
        if (rc == 0)
            cap_live_idle_check(cap);
        if (rc == 0 || (rc < 0 && errno == EINTR))
            break;
        if (rc < 0) {
            g_set_error(error, CAP_ERROR, CAP_ERROR_READ, "%s: poll: %s", cap->name,
                        g_strerror(errno));
            return CAP_STATUS_ERROR;
        }
        if ((pfd.revents & POLLERR) && cap_live_down(cap))
            break;
        if (pfd.revents & (POLLERR | POLLNVAL)) {
            cap_live_error(cap, "capture device failed", error);
            return CAP_STATUS_ERROR;
        }
    }
    if (cap->down && cap->delivered > 0) {
        cap->down = false;
        g_message("%s: packets again, capture resumed", cap->name);
    }
    return cap->delivered > 0 ? CAP_STATUS_PACKETS : CAP_STATUS_IDLE;
}

void cap_break(cap_t *cap)
{
    if (cap == NULL)
        return;
    cap->rd_break = 1;
    pcap_breakloop(cap->pcap);
}

void cap_progress(const cap_t *cap, uint64_t *done, uint64_t *total)
{
    *done = cap->live ? 0 : cap->done;
    *total = cap->live ? 0 : cap->file_size;
}

bool cap_kernel_stats(cap_t *cap, uint64_t *received, uint64_t *dropped)
{
    struct pcap_stat ps;

    if (!cap->live || pcap_stats(cap->pcap, &ps) != 0)
        return false;
    *received = ps.ps_recv;
    *dropped = (uint64_t)ps.ps_drop + ps.ps_ifdrop;
    return true;
}

const char *cap_name(const cap_t *cap)
{
    return cap->name;
}

void cap_free(cap_t *cap)
{
    if (cap == NULL)
        return;
    if (cap->has_filter)
        pcap_freecode(&cap->filter);
    if (cap->rd != NULL) {
        close(cap->rd_fd);
        g_free(cap->rd);
    }
    if (cap->pcap != NULL)
        pcap_close(cap->pcap); /* closes the file too, except standard input */
    g_free(cap->iobuf);
    g_free(cap->name);
    g_free(cap);
}
