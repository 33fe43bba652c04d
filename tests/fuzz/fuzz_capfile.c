/*
 * Fuzz target for the capture-file path: the input is a whole pcap or pcapng file, and every
 * packet libpcap gets out of it goes through the engine (tiny flow and fragment tables, so
 * eviction and expiry run on short inputs).
 *
 * A capture file is as hostile as the wire: record lengths, snaplens, block types and
 * timestamps are all the file's to choose. Each input is read twice. First from memory with
 * fmemopen() and pcap_fopen_offline(), libpcap alone, as the engine's library users do.
 * Then through src/capture (cap_open_file, cap_dispatch in small batches), the code the
 * ocellus command runs: it tracks byte offsets and walks pcapng blocks again with pread() to
 * name the broken one, so it needs a real descriptor; the input goes into one memfd made once
 * per process and is opened through /proc/self/fd. The two reads must agree: the same number
 * of packets, and an error from src/capture exactly when libpcap stopped on one, naming an
 * offset inside the file. The engines' books must balance as in fuzz_engine.
 */
#include "config.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <pcap/pcap.h>
#include <glib.h>

#include <ocellus/ocellus.h>

#include "capture/cap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* More packets are not more coverage; a cap keeps one input's run short. */
#define FUZZ_MAX_PACKETS 4096

typedef struct {
    oc_engine_t *engine;
    uint64_t packets;
    uint64_t attributed;
    uint64_t records;
} fuzz_run_t;

static int fuzz_fd = -1;
static char fuzz_path[64];

static int fuzz_record(const oc_flow_info_t *info, void *user)
{
    fuzz_run_t *run = user;
    const int64_t(*st)[OC_DIRECTION_N] = info->statistics;
    run->records++;
    if (st[OC_STAT_PACKETS][0] + st[OC_STAT_PACKETS][1] <= 0)
        abort();
    if (info->end_reason < OC_END_IDLE || info->end_reason > OC_END_RESOURCES)
        abort();
    return 0;
}

static void fuzz_run_init(fuzz_run_t *run)
{
    oc_config_t cfg;
    oc_config_init(&cfg);
    cfg.max_flows = 8;
    cfg.idle_timeout_s = 3;
    cfg.active_timeout_s = 2;
    cfg.tcp_linger_s = 1;
    cfg.max_frag_datagrams = 4;
    cfg.frag_timeout_s = 2;
    cfg.dpi_max_inspect = 4;
    cfg.dpi_max_fields = 4;
    cfg.hash_seed = 1;
    memset(run, 0, sizeof *run);
    run->engine = oc_engine_new(&cfg, NULL, 0);
    if (run->engine == NULL)
        abort();
    oc_engine_set_termination_cb(run->engine, fuzz_record, run);
}

static void fuzz_packet(fuzz_run_t *run, uint64_t ts_us, const uint8_t *data, uint32_t caplen,
                        uint32_t wirelen, int dlt)
{
    run->packets++;
    if (oc_engine_process(run->engine, ts_us, data, caplen, wirelen, dlt, NULL) == OC_STATUS_OK)
        run->attributed++;
}

/* Flushes the engine, checks that every packet and record is accounted for, frees it. */
static void fuzz_run_finish(fuzz_run_t *run)
{
    oc_engine_flush(run->engine);
    oc_engine_stats_t st;
    oc_engine_get_stats(run->engine, &st);
    uint64_t skipped = 0, ended = 0;
    for (int i = 0; i < OC_SKIP_N; i++)
        skipped += st.packets_skipped[i];
    for (int i = 0; i < 6; i++)
        ended += st.records_ended[i];
    if (st.packets != run->packets || st.packets_attributed + skipped != run->packets ||
        st.flows_active != 0 || ended != run->records)
        abort();
    oc_engine_free(run->engine);
}

static void on_cap_packet(void *user, uint64_t ts_us, const uint8_t *data, uint32_t caplen,
                          uint32_t wirelen, int dlt)
{
    fuzz_packet(user, ts_us, data, caplen, wirelen, dlt);
}

/* libpcap alone, from memory. Returns the packets read; *@error tells whether it stopped on a
 * broken record rather than at the end of the file. */
static uint64_t fuzz_read_fmemopen(const uint8_t *data, size_t size, bool *error)
{
    *error = false;
    /* fmemopen() wants a writable buffer even for "rb" in older glibc; give it a copy. */
    void *copy = malloc(size);
    if (copy == NULL)
        abort();
    memcpy(copy, data, size);
    FILE *fp = fmemopen(copy, size, "rb");
    if (fp == NULL) {
        free(copy);
        return 0;
    }
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
    if (p == NULL) {
        fclose(fp);
        free(copy);
        *error = true;
        return 0;
    }
    fuzz_run_t run;
    fuzz_run_init(&run);
    int dlt = pcap_datalink(p);
    struct pcap_pkthdr *h;
    const u_char *bytes;
    int rc;
    while (run.packets < FUZZ_MAX_PACKETS && (rc = pcap_next_ex(p, &h, &bytes)) == 1) {
        /* libpcap promises caplen <= its snapshot length; the engine relies on caplen only. */
        uint64_t ts = (uint64_t)h->ts.tv_sec * UINT64_C(1000000) + (uint64_t)h->ts.tv_usec;
        fuzz_packet(&run, ts, bytes, h->caplen, h->len, dlt);
    }
    if (run.packets < FUZZ_MAX_PACKETS && rc == PCAP_ERROR)
        *error = true;
    uint64_t n = run.packets;
    fuzz_run_finish(&run);
    pcap_close(p); /* closes fp */
    free(copy);
    return n;
}

static void fuzz_write(const uint8_t *data, size_t size)
{
    if (fuzz_fd < 0) {
        fuzz_fd = memfd_create("fuzz_capfile", MFD_CLOEXEC);
        if (fuzz_fd < 0) {
            perror("fuzz_capfile: memfd_create");
            abort();
        }
        snprintf(fuzz_path, sizeof fuzz_path, "/proc/self/fd/%d", fuzz_fd);
    }
    if (ftruncate(fuzz_fd, 0) != 0)
        abort();
    size_t done = 0;
    while (done < size) {
        ssize_t n = pwrite(fuzz_fd, data + done, size - done, (off_t)done);
        if (n <= 0)
            abort();
        done += (size_t)n;
    }
}

/* The byte offset an error message names, or -1 when it names none. */
static int64_t error_offset(const char *msg)
{
    const char *at = strstr(msg, "at byte offset ");
    if (at == NULL)
        return -1;
    return (int64_t)g_ascii_strtoull(at + strlen("at byte offset "), NULL, 10);
}

/* The path of the ocellus command. Returns the packets read; *@error as above. */
static uint64_t fuzz_read_cap(const uint8_t *data, size_t size, bool *error)
{
    *error = false;
    fuzz_write(data, size);
    GError *err = NULL;
    cap_t *cap = cap_open_file(fuzz_path, NULL, &err);
    if (cap == NULL) {
        if (err == NULL || err->message == NULL || strstr(err->message, fuzz_path) == NULL)
            abort(); /* an open error names the file */
        g_error_free(err);
        *error = true;
        return 0;
    }
    fuzz_run_t run;
    fuzz_run_init(&run);
    cap_status_t st;
    do {
        st = cap_dispatch(cap, 7, 0, on_cap_packet, &run, &err);
        uint64_t done, total;
        cap_progress(cap, &done, &total);
        if (total != size || done > total)
            abort(); /* progress never runs past the file */
    } while (st == CAP_STATUS_PACKETS && run.packets < FUZZ_MAX_PACKETS);
    if (st == CAP_STATUS_ERROR) {
        if (err == NULL || strstr(err->message, fuzz_path) == NULL)
            abort();
        int64_t off = error_offset(err->message);
        if (off > (int64_t)size)
            abort(); /* the broken record starts inside the file */
        g_error_free(err);
        *error = true;
    } else if (err != NULL) {
        abort(); /* an error is reported with CAP_STATUS_ERROR only */
    }
    uint64_t n = run.packets;
    fuzz_run_finish(&run);
    cap_free(cap);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0; /* fmemopen() refuses an empty buffer; cap_open_file() says "empty" */
    bool mem_error, cap_error;
    uint64_t mem_packets = fuzz_read_fmemopen(data, size, &mem_error);
    uint64_t cap_packets = fuzz_read_cap(data, size, &cap_error);
    /* The two readers stop at the same record: batches and offsets change nothing. */
    if (mem_packets < FUZZ_MAX_PACKETS && cap_packets < FUZZ_MAX_PACKETS &&
        (mem_packets != cap_packets || mem_error != cap_error)) {
        fprintf(stderr, "fuzz_capfile: fmemopen read %" PRIu64 " packets (error %d), "
                        "src/capture %" PRIu64 " (error %d)\n",
                mem_packets, mem_error, cap_packets, cap_error);
        abort();
    }
    return 0;
}
