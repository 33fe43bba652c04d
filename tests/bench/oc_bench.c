/*
 * Engine benchmark: loads a capture into memory once, then feeds it to the engine several
 * times (timestamps shifted past the idle timeout each round, so every round builds and
 * expires its flows again) and prints packets/s, ns/packet and flow records/s. Reading the
 * file is outside the timed part, and records only go to a counting callback: this measures
 * decode + flow work, in batches through oc_engine_process_batch() as the command does.
 * --no-dpi turns DPI off.
 */
#include "config.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pcap/pcap.h>

#include <ocellus/ocellus.h>

/* Packets per call, as the command's capture loop hands them over. */
#define BENCH_BATCH 64

typedef struct {
    uint64_t ts;
    uint32_t off, caplen, wirelen;
} rec_t;

static int count_record(const oc_flow_info_t *info, void *user)
{
    (void)info;
    (*(uint64_t *)user)++;
    return 0;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    bool dpi = true;
    if (argc > 1 && strcmp(argv[1], "--no-dpi") == 0) {
        dpi = false;
        argv++;
        argc--;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: oc_bench [--no-dpi] FILE.pcap [ROUNDS]\n");
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 10;
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline_with_tstamp_precision(argv[1], PCAP_TSTAMP_PRECISION_MICRO, errbuf);
    if (p == NULL) {
        fprintf(stderr, "oc_bench: %s\n", errbuf);
        return 1;
    }
    int link = pcap_datalink(p);
    size_t cap = 1 << 20, used = 0, nrec = 0, maxrec = 1 << 16;
    uint8_t *buf = malloc(cap);
    rec_t *recs = malloc(maxrec * sizeof *recs);
    struct pcap_pkthdr *h;
    const u_char *data;
    while (pcap_next_ex(p, &h, &data) == 1) {
        while (used + h->caplen > cap)
            buf = realloc(buf, cap *= 2);
        if (nrec == maxrec)
            recs = realloc(recs, (maxrec *= 2) * sizeof *recs);
        memcpy(buf + used, data, h->caplen);
        recs[nrec++] = (rec_t){(uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec,
                               (uint32_t)used, h->caplen, h->len};
        used += h->caplen;
    }
    pcap_close(p);
    if (nrec == 0) {
        fprintf(stderr, "oc_bench: %s has no packets\n", argv[1]);
        return 1;
    }

    oc_config_t cfg;
    oc_config_init(&cfg);
    cfg.dpi = dpi;
    oc_engine_t *e = oc_engine_new(&cfg, NULL, 0);
    uint64_t records = 0;
    oc_engine_set_termination_cb(e, count_record, &records);
    uint64_t span = recs[nrec - 1].ts - recs[0].ts + (uint64_t)(cfg.idle_timeout_s + 1) * 1000000u;

    double t0 = now_s();
    oc_packet_t batch[BENCH_BATCH];
    for (int r = 0; r < rounds; r++) {
        uint64_t shift = (uint64_t)r * span;
        for (size_t i = 0; i < nrec; i += BENCH_BATCH) {
            size_t n = nrec - i < BENCH_BATCH ? nrec - i : BENCH_BATCH;
            for (size_t j = 0; j < n; j++) {
                const rec_t *rc = &recs[i + j];
                batch[j] = (oc_packet_t){rc->ts + shift, buf + rc->off, rc->caplen,
                                         rc->wirelen, link};
            }
            oc_engine_process_batch(e, batch, n, NULL);
        }
    }
    oc_engine_flush(e);
    double dt = now_s() - t0;

    uint64_t total = (uint64_t)nrec * (uint64_t)rounds;
    oc_engine_stats_t st;
    oc_engine_get_stats(e, &st);
    printf("bench: %s: %zu packets x %d rounds = %" PRIu64 " packets, %" PRIu64
           " flows created, %" PRIu64 " records\n", argv[1], nrec, rounds, total,
           st.flows_created, records);
    printf("bench: %.3f s, %.2f Mpackets/s, %.1f ns/packet, %.0f records/s\n", dt,
           (double)total / dt / 1e6, dt * 1e9 / (double)total, (double)records / dt);
    oc_engine_free(e);
    free(buf);
    free(recs);
    return 0;
}
