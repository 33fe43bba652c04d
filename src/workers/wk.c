/*
 * Capture workers (wk.h).
 *
 * Each worker owns an engine, a thread and an 8 MiB byte ring that only the capture thread
 * writes and only the worker reads. Entries are a 32-byte header and the packet bytes; the
 * capture thread copies each packet in (the capture buffer is reused as soon as it returns)
 * and publishes the ring's tail once per batch, and the worker hands up to 64 consecutive
 * packets straight from the ring to oc_engine_process_batch() before giving the space back.
 * Beside the byte ring a descriptor ring holds each entry's position: entries vary in size,
 * so without it the worker found entry k + 1 only by reading entry k's header, a line the
 * other core had just written, one serial miss per packet. With it, the worker loads a
 * batch's positions from one dense array and starts all of its header misses at once.
 * Head and tail are atomics, so the per-packet path takes no lock; the mutex and condition
 * variables are used only to sleep when a ring is empty (worker) or full (capture thread),
 * each side checking the other's flag after publishing, and only to read counters.
 *
 * The records are exactly those of one engine, however many workers there are, as long as
 * no table or pool fills up (its bounds are shared out between the workers): a flow's packets
 * all reach one engine, and every engine's clock is where one engine's would be when it
 * matters. A packet older than the newest one seen so far is preceded by an advance of its
 * worker's clock to that newest time (one engine would not move its clock back either), and
 * the final flush first brings every clock to the newest time, so a flow another worker's
 * packets would have expired ends as idle rather than as end of input. The order in which
 * records come out differs, and flow ids are made unique by interleaving them: worker i of
 * n turns its engine's id k into (k - 1) * n + i + 1.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "util/ut_mem.h"
#include "workers/wk.h"

#define RING_BYTES ((uint64_t)8 << 20)
#define RING_MASK (RING_BYTES - 1)
#define ENTRY_ALIGN 32u
/* One descriptor per entry that can be in the ring at once (wrap fillers have none). */
#define DESC_N (RING_BYTES / ENTRY_ALIGN)
#define DESC_MASK (DESC_N - 1)
#define WORKER_BATCH 64
/* A full ring is refilled only once this much is free again, and the worker wakes the
 * capture thread only then: waking it for every batch taken made a futex call per batch. */
#define RING_RESUME (RING_BYTES / 4)
/* Larger packets are cut (the capture never delivers more than its snap length, 262144). */
#define MAX_CAPLEN 262144u

enum { E_PACKET = 1, E_WRAP, E_ADVANCE, E_FLUSH, E_STOP };

typedef struct entry {
    uint32_t size;  /* bytes of the entry, header included: a multiple of ENTRY_ALIGN */
    uint32_t type;  /* E_* */
    uint64_t ts_us; /* packet time, or the clock of E_ADVANCE / E_FLUSH */
    uint32_t caplen, wirelen;
    int32_t link;
    uint32_t pad;
} entry_t;
_Static_assert(sizeof(entry_t) == ENTRY_ALIGN, "an entry header is one alignment unit");

typedef struct worker {
    wk_t *owner;
    unsigned index;
    oc_engine_t *engine;
    GThread *thread;
    uint8_t *ring;
    uint64_t *desc;      /* DESC_N byte positions of entries, by entry number */
    uint64_t wpos;       /* capture thread: bytes written, published or not */
    uint64_t wentries;   /* capture thread: entries written, published or not */
    uint64_t head_seen;  /* capture thread: the worker's head as last read */
    bool dirty;          /* capture thread: wpos is ahead of tail */
    /* Each shared counter on its own line, so the two threads do not fight over one. */
    _Alignas(64) _Atomic uint64_t tail;    /* published by the capture thread: bytes */
    _Atomic uint64_t etail;                /* and entries, stored after tail */
    _Alignas(64) _Atomic uint64_t head;    /* given back by the worker */
    _Alignas(64) _Atomic int sleeping;     /* the worker waits for entries */
    _Atomic int producer_waiting;          /* the capture thread waits for room */
    GMutex lock;                           /* the waits, flushed and stats */
    GCond wake_worker, wake_producer, done;
    uint64_t flushed;                      /* E_FLUSH entries handled */
    oc_engine_stats_t stats;               /* as of the worker's last batch */
} worker_t;

struct wk {
    unsigned n;
    oc_engine_t *single; /* n == 1: no thread, no ring */
    worker_t *workers;
    wk_record_cb cb;
    wk_done_cb done;
    void *user;
    bool tunnels_outer;
    uint64_t clock;      /* newest packet time handed over */
    uint64_t flushes;    /* flush rounds requested */
};

/* ---- counters ------------------------------------------------------------------------ */

_Static_assert(sizeof(oc_engine_stats_t) % sizeof(uint64_t) == 0,
               "engine counters are summed as 64-bit words");

static void stats_add(oc_engine_stats_t *sum, const oc_engine_stats_t *add)
{
    uint64_t a[sizeof *sum / 8], b[sizeof *add / 8];
    memcpy(a, sum, sizeof a);
    memcpy(b, add, sizeof b);
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++)
        a[i] += b[i];
    memcpy(sum, a, sizeof a);
}

/* ---- the worker thread ------------------------------------------------------------- */

static int worker_record(const oc_flow_info_t *info, void *user)
{
    worker_t *wr = user;
    wk_t *w = wr->owner;
    oc_flow_info_t copy = *info;
    copy.id = (info->id - 1) * w->n + wr->index + 1;
    return w->cb(&copy, wr->index, w->user);
}

static int single_record(const oc_flow_info_t *info, void *user)
{
    wk_t *w = user;
    return w->cb(info, 0, w->user);
}

static inline void engine_done(wk_t *w, unsigned worker)
{
    if (w->done != NULL)
        w->done(worker, w->user);
}

static gpointer worker_main(gpointer data)
{
    worker_t *wr = data;
    oc_packet_t pkts[WORKER_BATCH];
    const entry_t *ents[WORKER_BATCH];
    uint64_t epos = 0; /* next entry to take */
    bool stop = false;

    while (!stop) {
        uint64_t etail = atomic_load(&wr->etail);
        if (epos == etail) {
            g_mutex_lock(&wr->lock);
            atomic_store(&wr->sleeping, 1);
            /* Re-read after raising the flag: a tail published before the flag was seen is
             * seen here, one published after finds the flag and signals. The timeout is
             * only a safety net. */
            if (atomic_load(&wr->etail) == epos)
                g_cond_wait_until(&wr->wake_worker, &wr->lock,
                                  g_get_monotonic_time() + G_USEC_PER_SEC / 10);
            atomic_store(&wr->sleeping, 0);
            g_mutex_unlock(&wr->lock);
            continue;
        }
        unsigned avail = etail - epos < WORKER_BATCH ? (unsigned)(etail - epos) : WORKER_BATCH;
        /* Every header's miss at once, and the first line of each packet's bytes. */
        for (unsigned i = 0; i < avail; i++) {
            const uint8_t *at = wr->ring + (wr->desc[(epos + i) & DESC_MASK] & RING_MASK);
            ents[i] = (const entry_t *)(const void *)at;
            __builtin_prefetch(at);
            __builtin_prefetch(at + 64);
        }
        unsigned n = 0, taken = 0;
        while (taken < avail && ents[taken]->type == E_PACKET) {
            const entry_t *e = ents[taken++];
            pkts[n++] = (oc_packet_t){e->ts_us, (const uint8_t *)(e + 1), e->caplen,
                                      e->wirelen, e->link};
        }
        bool flushed = false;
        if (n > 0) {
            oc_engine_process_batch(wr->engine, pkts, n, NULL);
        } else {
            const entry_t *e = ents[taken++];
            switch (e->type) {
            case E_ADVANCE:
                oc_engine_advance(wr->engine, e->ts_us);
                break;
            case E_FLUSH:
                oc_engine_advance(wr->engine, e->ts_us);
                oc_engine_flush(wr->engine);
                flushed = true;
                break;
            default:
                stop = true;
                break;
            }
        }
        /* Before a flush is reported done: its records are queued by then. */
        if (!stop)
            engine_done(wr->owner, wr->index);
        /* The space up to the end of the last entry taken (and any wrap filler before it)
         * goes back. */
        uint64_t last = wr->desc[(epos + taken - 1) & DESC_MASK];
        uint64_t head = last + ents[taken - 1]->size;
        epos += taken;
        g_mutex_lock(&wr->lock);
        oc_engine_get_stats(wr->engine, &wr->stats);
        if (flushed) {
            wr->flushed++;
            g_cond_broadcast(&wr->done);
        }
        g_mutex_unlock(&wr->lock);
        atomic_store(&wr->head, head);
        if (atomic_load(&wr->producer_waiting) &&
            atomic_load(&wr->tail) - head <= RING_BYTES - RING_RESUME) {
            g_mutex_lock(&wr->lock);
            g_cond_signal(&wr->wake_producer);
            g_mutex_unlock(&wr->lock);
        }
    }
    return NULL;
}

/* ---- the capture thread's side ---------------------------------------------------- */

static void publish(worker_t *wr)
{
    if (!wr->dirty)
        return;
    wr->dirty = false;
    atomic_store(&wr->tail, wr->wpos);
    atomic_store(&wr->etail, wr->wentries);
    if (atomic_load(&wr->sleeping)) {
        g_mutex_lock(&wr->lock);
        g_cond_signal(&wr->wake_worker);
        g_mutex_unlock(&wr->lock);
    }
}

/* Where the next @need bytes go, after a wrap entry if they would pass the ring's end;
 * waits for the worker while the ring is full. */
static entry_t *reserve(worker_t *wr, uint32_t need)
{
    for (;;) {
        uint64_t off = wr->wpos & RING_MASK;
        uint64_t skip = off + need > RING_BYTES ? RING_BYTES - off : 0;
        if (wr->wpos + skip + need - wr->head_seen > RING_BYTES)
            wr->head_seen = atomic_load(&wr->head);
        if (wr->wpos + skip + need - wr->head_seen <= RING_BYTES) {
            if (skip > 0) {
                entry_t *w = (entry_t *)(void *)(wr->ring + off);
                w->size = (uint32_t)skip;
                w->type = E_WRAP;
                wr->wpos += skip;
            }
            wr->dirty = true;
            return (entry_t *)(void *)(wr->ring + (wr->wpos & RING_MASK));
        }
        /* Full: the worker must see what is there, then we wait for it (reading files;
         * on an interface the kernel buffer absorbs the wait, and counts what it drops). */
        publish(wr);
        g_mutex_lock(&wr->lock);
        atomic_store(&wr->producer_waiting, 1);
        wr->head_seen = atomic_load(&wr->head);
        if (wr->wpos + RING_RESUME - wr->head_seen > RING_BYTES)
            g_cond_wait_until(&wr->wake_producer, &wr->lock,
                              g_get_monotonic_time() + G_USEC_PER_SEC / 100);
        atomic_store(&wr->producer_waiting, 0);
        g_mutex_unlock(&wr->lock);
    }
}

/* The entry just written at wpos, @size bytes, gets its descriptor; unpublished yet. */
static void commit_entry(worker_t *wr, uint32_t size)
{
    wr->desc[wr->wentries++ & DESC_MASK] = wr->wpos;
    wr->wpos += size;
}

static void put_control(worker_t *wr, uint32_t type, uint64_t ts_us)
{
    entry_t *e = reserve(wr, ENTRY_ALIGN);
    memset(e, 0, sizeof *e);
    e->size = ENTRY_ALIGN;
    e->type = type;
    e->ts_us = ts_us;
    commit_entry(wr, ENTRY_ALIGN);
}

static void put_packet(worker_t *wr, const oc_packet_t *p)
{
    uint32_t caplen = p->caplen < MAX_CAPLEN ? p->caplen : MAX_CAPLEN;
    uint32_t need = ENTRY_ALIGN + ((caplen + ENTRY_ALIGN - 1) & ~(ENTRY_ALIGN - 1));
    entry_t *e = reserve(wr, need);
    e->size = need;
    e->type = E_PACKET;
    e->ts_us = p->ts_us;
    e->caplen = caplen;
    e->wirelen = p->wirelen;
    e->link = p->link;
    e->pad = 0;
    memcpy(e + 1, p->data, caplen);
    commit_entry(wr, need);
}

/* ---- the API ------------------------------------------------------------------------ */

static uint32_t share(uint32_t total, unsigned n)
{
    return total == 0 ? 0 : (uint32_t)(((uint64_t)total + n - 1) / n);
}

wk_t *wk_new(const oc_config_t *cfg, unsigned n, wk_record_cb cb, wk_done_cb done, void *user,
             char *err, size_t err_len)
{
    if (n < 1 || n > WK_MAX) {
        if (err != NULL && err_len > 0)
            snprintf(err, err_len, "workers must be 1..%d", WK_MAX);
        return NULL;
    }
    wk_t *w = g_new0(wk_t, 1);
    w->n = n;
    w->cb = cb;
    w->done = done;
    w->user = user;
    w->tunnels_outer = cfg->tunnels_outer;
    if (n == 1) {
        w->single = oc_engine_new(cfg, err, err_len);
        if (w->single == NULL) {
            g_free(w);
            return NULL;
        }
        oc_engine_set_termination_cb(w->single, single_record, w);
        return w;
    }
    oc_config_t each = *cfg;
    each.max_flows = share(cfg->max_flows, n);
    each.max_frag_datagrams = share(cfg->max_frag_datagrams, n);
    each.dpi_max_inspect = share(cfg->dpi_max_inspect, n);
    each.dpi_max_fields = share(cfg->dpi_max_fields, n);
    w->workers = g_new0(worker_t, n);
    for (unsigned i = 0; i < n; i++) {
        worker_t *wr = &w->workers[i];
        wr->owner = w;
        wr->index = i;
        wr->engine = oc_engine_new(&each, err, err_len);
        if (wr->engine == NULL) {
            for (unsigned j = 0; j < i; j++) {
                oc_engine_free(w->workers[j].engine);
                ut_big_free(w->workers[j].ring, RING_BYTES);
                ut_big_free(w->workers[j].desc, DESC_N * sizeof(uint64_t));
            }
            g_free(w->workers);
            g_free(w);
            return NULL;
        }
        oc_engine_set_termination_cb(wr->engine, worker_record, wr);
        wr->ring = ut_big_alloc(RING_BYTES);
        wr->desc = ut_big_alloc(DESC_N * sizeof *wr->desc);
        g_mutex_init(&wr->lock);
        g_cond_init(&wr->wake_worker);
        g_cond_init(&wr->wake_producer);
        g_cond_init(&wr->done);
    }
    for (unsigned i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "worker %u", i);
        w->workers[i].thread = g_thread_new(name, worker_main, &w->workers[i]);
    }
    return w;
}

bool wk_process(wk_t *w, const oc_packet_t *pkts, unsigned n)
{
    if (w->single != NULL) {
        for (unsigned i = 0; i < n; i++)
            if (pkts[i].ts_us > w->clock)
                w->clock = pkts[i].ts_us;
        bool ok = oc_engine_process_batch(w->single, pkts, n, NULL) == OC_STATUS_OK;
        engine_done(w, 0);
        return ok;
    }
    for (unsigned i = 0; i < n; i++) {
        const oc_packet_t *p = &pkts[i];
        uint32_t h = oc_packet_spread_hash(p->link, p->data, p->caplen, w->tunnels_outer);
        worker_t *wr = &w->workers[(uint64_t)h * w->n >> 32];
        if (p->ts_us < w->clock)
            put_control(wr, E_ADVANCE, w->clock); /* one engine's clock would be there */
        else
            w->clock = p->ts_us;
        put_packet(wr, p);
    }
    for (unsigned i = 0; i < w->n; i++)
        publish(&w->workers[i]);
    return true;
}

void wk_advance(wk_t *w, uint64_t now_us)
{
    if (now_us > w->clock)
        w->clock = now_us;
    if (w->single != NULL) {
        oc_engine_advance(w->single, now_us);
        engine_done(w, 0);
        return;
    }
    for (unsigned i = 0; i < w->n; i++) {
        put_control(&w->workers[i], E_ADVANCE, now_us);
        publish(&w->workers[i]);
    }
}

void wk_flush(wk_t *w)
{
    if (w->single != NULL) {
        oc_engine_flush(w->single);
        engine_done(w, 0);
        return;
    }
    w->flushes++;
    for (unsigned i = 0; i < w->n; i++) {
        put_control(&w->workers[i], E_FLUSH, w->clock);
        publish(&w->workers[i]);
    }
    for (unsigned i = 0; i < w->n; i++) {
        worker_t *wr = &w->workers[i];
        g_mutex_lock(&wr->lock);
        while (wr->flushed < w->flushes)
            g_cond_wait(&wr->done, &wr->lock);
        g_mutex_unlock(&wr->lock);
    }
}

void wk_get_stats(wk_t *w, oc_engine_stats_t *stats)
{
    if (w->single != NULL) {
        oc_engine_get_stats(w->single, stats);
        return;
    }
    memset(stats, 0, sizeof *stats);
    for (unsigned i = 0; i < w->n; i++) {
        worker_t *wr = &w->workers[i];
        g_mutex_lock(&wr->lock);
        stats_add(stats, &wr->stats);
        g_mutex_unlock(&wr->lock);
    }
}

uint64_t wk_clock(const wk_t *w)
{
    return w->clock;
}

unsigned wk_count(const wk_t *w)
{
    return w->n;
}

void wk_free(wk_t *w)
{
    if (w == NULL)
        return;
    if (w->single != NULL) {
        oc_engine_free(w->single);
        g_free(w);
        return;
    }
    for (unsigned i = 0; i < w->n; i++) {
        put_control(&w->workers[i], E_STOP, 0);
        publish(&w->workers[i]);
    }
    for (unsigned i = 0; i < w->n; i++) {
        worker_t *wr = &w->workers[i];
        g_thread_join(wr->thread);
        oc_engine_free(wr->engine);
        ut_big_free(wr->ring, RING_BYTES);
        ut_big_free(wr->desc, DESC_N * sizeof *wr->desc);
        g_mutex_clear(&wr->lock);
        g_cond_clear(&wr->wake_worker);
        g_cond_clear(&wr->wake_producer);
        g_cond_clear(&wr->done);
    }
    g_free(w->workers);
    g_free(w);
}
