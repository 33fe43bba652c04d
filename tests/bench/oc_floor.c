/*
 * Floor benchmark: what any flow meter must pay per packet on this machine, measured on the
 * same capture as ocellus, so that the speed targets can be judged against the hardware
 * rather than against our code alone.
 *
 *   read     the capture's records, read the way ocellus reads them (pread of 1 MiB chunks,
 *            walking the 16-byte record headers), touching nothing else;
 *   libpcap  pcap_dispatch() with an empty callback, the reference the speed issue quotes;
 *   meter    read + the least a bidirectional flow meter can do: Ethernet (one VLAN tag),
 *            IPv4/IPv6 and TCP/UDP ports, a canonical key, a hash, an open-addressing table
 *            of {hash, index} slots over 64-byte flow records (key, packets and octets per
 *            direction, last time) with the next batch's slots and flows prefetched. No
 *            timeouts, no TCP state, no records, no export: every real meter does more.
 *
 * Each is run several times in alternation; the median CPU time (user + system, getrusage)
 * is printed as ns per packet and packets per CPU-second.
 *
 * Last, the machine's parallel capacity for this work: two meters at once, each on its own
 * thread with its own table, against one, in packets per wall second. Workers cannot scale
 * past what two independent copies of the minimal meter get from the host.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <pcap/pcap.h>

#define CHUNK (1u << 20)
#define BATCH 32u

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- reading: the walk of cap.c's reader, without its error reporting ---------------- */

typedef struct {
    int fd;
    uint8_t *buf;
    size_t pos, len;
    uint64_t file_off;
} reader_t;

typedef struct {
    uint64_t ts;
    const uint8_t *data;
    uint32_t caplen, len;
} pkt_t;

static bool reader_open(reader_t *r, const char *path)
{
    r->fd = open(path, O_RDONLY);
    if (r->fd < 0)
        return false;
    uint32_t hdr[6];
    if (pread(r->fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr || hdr[0] != 0xa1b2c3d4u ||
        hdr[5] != 1) {
        errno = EINVAL; /* the generator writes microsecond pcap, Ethernet, native order */
        close(r->fd);
        return false;
    }
    posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    r->buf = malloc(CHUNK);
    r->pos = r->len = 0;
    r->file_off = 24;
    return r->buf != NULL;
}

static void reader_close(reader_t *r)
{
    close(r->fd);
    free(r->buf);
}

/* Fills @out with up to @n packets; returns how many (0 at the end of the file). */
static unsigned reader_next(reader_t *r, pkt_t *out, unsigned n)
{
    unsigned k = 0;
    while (k < n) {
        uint32_t caplen = 0;
        if (r->len - r->pos >= 16)
            memcpy(&caplen, r->buf + r->pos + 8, 4);
        if (r->len - r->pos < 16 || r->len - r->pos < 16 + (size_t)caplen) {
            if (k > 0)
                break; /* the caller still points into the buffer */
            size_t have = r->len - r->pos;
            memmove(r->buf, r->buf + r->pos, have);
            r->file_off += r->pos;
            r->pos = 0;
            r->len = have;
            ssize_t got = pread(r->fd, r->buf + have, CHUNK - have, (off_t)(r->file_off + have));
            if (got <= 0)
                return 0;
            r->len += (size_t)got;
            continue;
        }
        uint32_t h[4];
        memcpy(h, r->buf + r->pos, sizeof h);
        if (h[2] > CHUNK - 16)
            return 0; /* not a capture this tool is meant for */
        out[k++] = (pkt_t){(uint64_t)h[0] * 1000000u + h[1], r->buf + r->pos + 16, h[2], h[3]};
        r->pos += 16 + (size_t)h[2];
    }
    return k;
}

/* ---- the minimal meter ----------------------------------------------------------------- */

typedef struct {
    uint8_t addr[2][16];
    uint16_t port[2];
    uint8_t proto, pad[3];
} mkey_t;
_Static_assert(sizeof(mkey_t) == 40, "hashed as five words");

typedef struct {
    mkey_t key;
    uint32_t packets[2];
    uint32_t octets[2];
    uint64_t last;
} meter_flow_t;
_Static_assert(sizeof(meter_flow_t) == 64, "one cache line per flow");

typedef struct {
    uint32_t hash, idx1;
} slot_t;

typedef struct {
    slot_t *slots;
    meter_flow_t *flows;
    uint32_t mask, n, max;
    uint64_t skipped;
} meter_t;

static void *huge_alloc(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    madvise(p, len, MADV_HUGEPAGE);
    return p;
}

static uint32_t key_hash(const mkey_t *k)
{
    uint64_t h = 0x9e3779b97f4a7c15u, w;
    for (size_t i = 0; i < sizeof *k; i += 8) {
        memcpy(&w, (const uint8_t *)k + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdu;
        h ^= h >> 29;
    }
    return (uint32_t)(h ^ (h >> 32));
}

/* Fills @k and returns the side (0/1) that sent the packet; -1 for what has no ports. */
static int decode(const pkt_t *p, mkey_t *k, uint32_t *ip_len)
{
    const uint8_t *d = p->data;
    uint32_t n = p->caplen, off = 14;
    if (n < 14)
        return -1;
    uint16_t type = (uint16_t)(d[12] << 8 | d[13]);
    if (type == 0x8100 && n >= 18) {
        type = (uint16_t)(d[16] << 8 | d[17]);
        off = 18;
    }
    uint8_t src[16] = {0}, dst[16] = {0}, proto;
    uint32_t l4;
    if (type == 0x0800 && n >= off + 20) {
        const uint8_t *ip = d + off;
        proto = ip[9];
        memcpy(src, ip + 12, 4);
        memcpy(dst, ip + 16, 4);
        *ip_len = (uint32_t)(ip[2] << 8 | ip[3]);
        l4 = off + (ip[0] & 15u) * 4u;
    } else if (type == 0x86dd && n >= off + 40) {
        const uint8_t *ip = d + off;
        proto = ip[6];
        memcpy(src, ip + 8, 16);
        memcpy(dst, ip + 24, 16);
        *ip_len = 40u + (uint32_t)(ip[4] << 8 | ip[5]);
        l4 = off + 40;
    } else {
        return -1;
    }
    uint16_t sp = 0, dp = 0;
    if ((proto == 6 || proto == 17) && n >= l4 + 4) {
        sp = (uint16_t)(d[l4] << 8 | d[l4 + 1]);
        dp = (uint16_t)(d[l4 + 2] << 8 | d[l4 + 3]);
    }
    int c = memcmp(src, dst, 16);
    int side = c > 0 || (c == 0 && sp > dp);
    memset(k, 0, sizeof *k);
    memcpy(k->addr[side], src, 16);
    memcpy(k->addr[!side], dst, 16);
    k->port[side] = sp;
    k->port[!side] = dp;
    k->proto = proto;
    return side;
}

static uint32_t meter_find(meter_t *m, const mkey_t *k, uint32_t hash)
{
    uint32_t i = hash & m->mask;
    for (;;) {
        slot_t *s = &m->slots[i];
        if (s->idx1 == 0) {
            if (m->n == m->max)
                return UINT32_MAX;
            meter_flow_t *f = &m->flows[m->n];
            f->key = *k;
            s->hash = hash;
            s->idx1 = ++m->n;
            return m->n - 1;
        }
        if (s->hash == hash && memcmp(&m->flows[s->idx1 - 1].key, k, sizeof *k) == 0)
            return s->idx1 - 1;
        i = (i + 1) & m->mask;
    }
}

static void meter_batch(meter_t *m, const pkt_t *p, unsigned n)
{
    mkey_t keys[BATCH];
    uint32_t hash[BATCH], iplen[BATCH];
    int side[BATCH];
    for (unsigned i = 0; i < n; i++) {
        side[i] = decode(&p[i], &keys[i], &iplen[i]);
        hash[i] = key_hash(&keys[i]);
        __builtin_prefetch(&m->slots[hash[i] & m->mask]);
    }
    for (unsigned i = 0; i < n; i++) {
        const slot_t *s = &m->slots[hash[i] & m->mask];
        if (s->idx1 != 0)
            __builtin_prefetch(&m->flows[s->idx1 - 1], 1);
    }
    for (unsigned i = 0; i < n; i++) {
        if (side[i] < 0) {
            m->skipped++;
            continue;
        }
        uint32_t idx = meter_find(m, &keys[i], hash[i]);
        if (idx == UINT32_MAX) {
            m->skipped++;
            continue;
        }
        meter_flow_t *f = &m->flows[idx];
        f->packets[side[i]]++;
        f->octets[side[i]] += iplen[i];
        if (p[i].ts > f->last)
            f->last = p[i].ts;
    }
}

/* ---- runs ------------------------------------------------------------------------------ */

enum { MODE_READ, MODE_LIBPCAP, MODE_METER, MODE_N };
static const char *const mode_name[MODE_N] = {"read", "libpcap", "meter"};

static void count_cb(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
    (void)bytes;
    ((uint64_t *)(void *)user)[0]++;
    ((uint64_t *)(void *)user)[1] += h->caplen;
}

/* One pass of @mode over @path; returns CPU seconds, -1 on error. */
static double run(int mode, const char *path, uint64_t *packets, uint32_t max_flows,
                  uint64_t *flows)
{
    double t0 = cpu_s();
    uint64_t count[2] = {0, 0};
    if (mode == MODE_LIBPCAP) {
        char err[PCAP_ERRBUF_SIZE];
        pcap_t *pc = pcap_open_offline(path, err);
        if (pc == NULL) {
            fprintf(stderr, "oc_floor: %s\n", err);
            return -1;
        }
        pcap_dispatch(pc, -1, count_cb, (u_char *)(void *)count);
        pcap_close(pc);
    } else {
        reader_t r;
        if (!reader_open(&r, path)) {
            fprintf(stderr, "oc_floor: %s: %s\n", path, strerror(errno));
            return -1;
        }
        meter_t m = {0};
        size_t slots_len = 0, flows_len = 0;
        if (mode == MODE_METER) {
            uint32_t nslots = 16;
            while (nslots < max_flows / 3 * 4 + 1)
                nslots <<= 1;
            slots_len = (size_t)nslots * sizeof(slot_t);
            flows_len = (size_t)max_flows * sizeof(meter_flow_t);
            m.slots = huge_alloc(slots_len);
            m.flows = huge_alloc(flows_len);
            if (m.slots == NULL || m.flows == NULL) {
                fprintf(stderr, "oc_floor: out of memory\n");
                return -1;
            }
            m.mask = nslots - 1;
            m.max = max_flows;
        }
        pkt_t batch[BATCH];
        unsigned n;
        while ((n = reader_next(&r, batch, BATCH)) > 0) {
            count[0] += n;
            if (mode == MODE_METER)
                meter_batch(&m, batch, n);
            else
                for (unsigned i = 0; i < n; i++)
                    count[1] += batch[i].caplen;
        }
        reader_close(&r);
        if (mode == MODE_METER) {
            *flows = m.n;
            munmap(m.slots, slots_len);
            munmap(m.flows, flows_len);
        }
    }
    *packets = count[0];
    return cpu_s() - t0;
}

typedef struct {
    const char *path;
    uint32_t max_flows;
    uint64_t packets, flows;
    double cpu;
} job_t;

static void *meter_thread(void *arg)
{
    job_t *j = arg;
    j->cpu = run(MODE_METER, j->path, &j->packets, j->max_flows, &j->flows);
    return NULL;
}

static double wall_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Wall seconds for @n meters (1 or 2) over @path at once; -1 on error. */
static double parallel_wall(const char *path, uint32_t max_flows, unsigned n)
{
    pthread_t th[2];
    job_t job[2];
    double t0 = wall_s();
    for (unsigned i = 0; i < n; i++) {
        job[i] = (job_t){path, max_flows, 0, 0, 0};
        if (pthread_create(&th[i], NULL, meter_thread, &job[i]) != 0)
            return -1;
    }
    bool ok = true;
    for (unsigned i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        ok = ok && job[i].cpu >= 0;
    }
    return ok ? wall_s() - t0 : -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CAPTURE.pcap [RUNS [MAX_FLOWS]]\n", argv[0]);
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 3;
    uint32_t max_flows = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 4u << 20;
    if (runs < 1 || max_flows < 16) {
        fprintf(stderr, "oc_floor: RUNS >= 1, MAX_FLOWS >= 16\n");
        return 2;
    }
    double *t = calloc((size_t)runs * MODE_N, sizeof *t);
    uint64_t packets[MODE_N] = {0}, flows = 0;
    for (int r = 0; r < runs; r++)
        for (int mode = 0; mode < MODE_N; mode++)
            if ((t[mode * runs + r] = run(mode, argv[1], &packets[mode], max_flows, &flows)) < 0)
                return 1;
    for (int mode = 0; mode < MODE_N; mode++) {
        double *tm = &t[mode * runs];
        qsort(tm, (size_t)runs, sizeof *tm, cmp_double);
        double med = tm[runs / 2];
        printf("  floor %-8s %12" PRIu64 " packets  %6.1f ns/pkt  %6.2f M pkts/CPU-s", mode_name[mode],
               packets[mode], med * 1e9 / (double)packets[mode], (double)packets[mode] / med / 1e6);
        if (mode == MODE_METER)
            printf("  (%" PRIu64 " flows)", flows);
        printf("\n");
    }
    /* Packets per wall second of two meters together over those of one. */
    double *w = calloc((size_t)runs * 2, sizeof *w);
    for (int r = 0; r < runs; r++)
        for (unsigned n = 1; n <= 2; n++)
            if ((w[(n - 1) * (unsigned)runs + (unsigned)r] = parallel_wall(argv[1], max_flows, n)) < 0)
                return 1;
    qsort(w, (size_t)runs, sizeof *w, cmp_double);
    qsort(w + runs, (size_t)runs, sizeof *w, cmp_double);
    printf("  floor 2 meters on 2 threads: %.2fx one meter's packets per wall second\n",
           2.0 * w[runs / 2] / w[runs + runs / 2]);
    free(w);
    free(t);
    return 0;
}
