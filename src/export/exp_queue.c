/*
 * The export ring (exp_queue.h): a fixed array of oc_flow_info_t copies behind one mutex
 * and one condition variable. A copy is ~300 bytes and the producer holds the lock only for
 * that memcpy, so the capture thread never waits on I/O; the consumer moves records out in
 * batches and encodes them without the lock.
 */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "export/exp_queue.h"
#include "util/ut_mem.h"

/* Average field bytes per queued record the arena is sized for, and its ceiling. */
#define ARENA_PER_RECORD 256u
#define ARENA_MAX (32u << 20)

void exp_queue_init(exp_queue_t *q, uint32_t cap, bool with_fields, bool wait_for_room)
{
    g_assert(cap >= 1);
    memset(q, 0, sizeof *q);
    g_mutex_init(&q->lock);
    g_cond_init(&q->wake);
    g_cond_init(&q->room);
    q->cap = cap;
    q->wait_for_room = wait_for_room;
    /* Records go round the whole ring: on huge pages that is a few faults, not one per
     * 4 KiB of records (ut_mem.h). */
    q->ring = ut_big_alloc((size_t)cap * sizeof *q->ring);
    /* A small ring must wake its consumer long before it fills. */
    q->wake_at = cap / 2 < EXP_QUEUE_WAKE ? (cap / 2 > 0 ? cap / 2 : 1) : EXP_QUEUE_WAKE;
    if (with_fields) {
        uint64_t size = (uint64_t)cap * ARENA_PER_RECORD;
        if (size < sizeof(oc_fields_t))
            size = sizeof(oc_fields_t);
        q->arena_size = size > ARENA_MAX ? ARENA_MAX : (uint32_t)size;
        q->arena = g_malloc(q->arena_size);
        q->foff = g_new0(uint32_t, cap);
        q->flen = g_new0(uint32_t, cap);
    }
}

void exp_queue_clear(exp_queue_t *q)
{
    ut_big_free(q->ring, (size_t)q->cap * sizeof *q->ring);
    g_free(q->arena);
    g_free(q->foff);
    g_free(q->flen);
    q->ring = NULL;
    q->arena = NULL;
    g_cond_clear(&q->wake);
    g_cond_clear(&q->room);
    g_mutex_clear(&q->lock);
}

/* Room for @len bytes at the arena's end, FIFO; UINT32_MAX when there is none. */
static uint32_t arena_alloc(exp_queue_t *q, uint32_t len)
{
    if (q->arena_live == 0) {
        q->arena_start = q->arena_end = 0;
        q->arena_wrapped = false;
    }
    uint32_t off;
    if (!q->arena_wrapped) {
        if (q->arena_end + len <= q->arena_size) {
            off = q->arena_end;
        } else if (len <= q->arena_start) {
            q->arena_wrapped = true;
            off = 0;
        } else {
            return UINT32_MAX;
        }
    } else if (q->arena_end + len <= q->arena_start) {
        off = q->arena_end;
    } else {
        return UINT32_MAX;
    }
    q->arena_end = off + len;
    q->arena_live++;
    return off;
}

/* Frees the oldest arena entry, at @off with @len bytes. */
static void arena_release(exp_queue_t *q, uint32_t off, uint32_t len)
{
    if (q->arena_wrapped && off < q->arena_start)
        q->arena_wrapped = false; /* the entries before the wrap are all gone */
    q->arena_start = off + len;
    if (--q->arena_live == 0) {
        q->arena_start = q->arena_end = 0;
        q->arena_wrapped = false;
    }
}

void exp_records_fix_fields(oc_flow_info_t *recs, oc_fields_t *fields, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (recs[i].fields != NULL)
            recs[i].fields = &fields[i];
}

/* Called with the lock held when the ring (or the fields arena) has no room: for a
 * wait_for_room queue, waits until the consumer takes records and returns true (try
 * again); false when the record must be given up (no waiting, closing, stalled, or no
 * progress for EXP_QUEUE_STALL_US). */
static bool wait_room(exp_queue_t *q)
{
    if (!q->wait_for_room || q->closing || q->abort || q->stalled || q->count == 0)
        return false;
    uint64_t seen = q->popped;
    gint64 give_up = g_get_monotonic_time() + EXP_QUEUE_STALL_US;
    q->waits++;
    /* The consumer may sleep until its deadline with fewer than wake_at records missing. */
    g_cond_signal(&q->wake);
    q->producers_waiting++;
    while (q->popped == seen && !q->closing && !q->abort && !q->stalled) {
        if (!g_cond_wait_until(&q->room, &q->lock, give_up))
            break;
    }
    q->producers_waiting--;
    return q->popped != seen;
}

/* exp_queue_push() with the lock held. */
static bool push_locked(exp_queue_t *q, const oc_flow_info_t *info)
{
    q->pushed++;
    for (;;) {
        if (q->closing || q->abort || (q->count == q->cap && !wait_room(q))) {
            q->lost++;
            return false;
        }
        if (q->count < q->cap)
            break;
    }
    uint32_t tail = (q->head + q->count) % q->cap;
    memcpy(&q->ring[tail], info, sizeof *info);
    q->ring[tail].fields = NULL;
    if (q->arena != NULL) {
        q->flen[tail] = 0;
        if (info->fields != NULL && info->fields->used > 0) {
            uint32_t len = (uint32_t)offsetof(oc_fields_t, buf) + info->fields->used;
            uint32_t off;
            /* Waiting may let records out but never in: tail stays the free slot. */
            while ((off = arena_alloc(q, len)) == UINT32_MAX && wait_room(q))
                ;
            if (off == UINT32_MAX) {
                q->fields_dropped++;
            } else {
                memcpy(q->arena + off, info->fields, len);
                q->foff[tail] = off;
                q->flen[tail] = len;
            }
        }
    }
    q->count++;
    /* Waking the consumer costs a futex call: once per EXP_QUEUE_WAKE records, not per
     * record. A record that arrives alone waits at most for the consumer's own deadline
     * (about a second), which is nothing next to the idle timeout it already waited. */
    if (q->sleeping && q->count == q->wake_at)
        g_cond_signal(&q->wake);
    return true;
}

bool exp_queue_push(exp_queue_t *q, const oc_flow_info_t *info)
{
    g_mutex_lock(&q->lock);
    bool ok = push_locked(q, info);
    g_mutex_unlock(&q->lock);
    return ok;
}

size_t exp_queue_push_many(exp_queue_t *q, const oc_flow_info_t *infos, size_t n)
{
    size_t ok = 0;
    g_mutex_lock(&q->lock);
    for (size_t i = 0; i < n; i++)
        ok += push_locked(q, &infos[i]);
    g_mutex_unlock(&q->lock);
    return ok;
}

size_t exp_queue_pop(exp_queue_t *q, oc_flow_info_t *dst, oc_fields_t *dst_fields, size_t max,
                     gint64 deadline_us, exp_queue_state_t *state)
{
    g_mutex_lock(&q->lock);
    while (q->count == 0 && !q->closing && !q->abort && !q->request) {
        q->sleeping = true;
        bool woken = g_cond_wait_until(&q->wake, &q->lock, deadline_us);
        q->sleeping = false;
        if (!woken)
            break;
    }
    size_t n = 0;
    if (!q->abort) {
        n = q->count < max ? q->count : max;
        uint32_t head = q->head;
        /* The records stay counted in the ring while they are copied, so the producer cannot
         * reuse their slots (nor their arena bytes), and the copy runs without the lock: the
         * producer, which takes it per record, never waits behind a batch's memcpy. */
        g_mutex_unlock(&q->lock);
        for (size_t i = 0; i < n; i++) {
            uint32_t slot = (head + (uint32_t)i) % q->cap;
            memcpy(&dst[i], &q->ring[slot], sizeof *dst);
            if (q->arena != NULL && q->flen[slot] != 0 && dst_fields != NULL) {
                memcpy(&dst_fields[i], q->arena + q->foff[slot], q->flen[slot]);
                dst[i].fields = &dst_fields[i];
            }
        }
        g_mutex_lock(&q->lock);
        for (size_t i = 0; i < n; i++) {
            if (q->arena != NULL && q->flen[q->head] != 0)
                arena_release(q, q->foff[q->head], q->flen[q->head]);
            q->head = (q->head + 1) % q->cap;
        }
        q->count -= (uint32_t)n;
        /* An empty ring starts again at slot 0: while the consumer keeps up, records then
         * cycle through the ring's first pages instead of the whole ring, whose first touch
         * (tens of MiB of zeroed huge pages) cost 5-8 % of a file run. */
        if (q->count == 0)
            q->head = 0;
        q->popped += n;
        if (n > 0 && q->producers_waiting > 0)
            g_cond_broadcast(&q->room);
    }
    state->empty = q->count == 0;
    state->closing = q->closing;
    state->abort = q->abort;
    state->request = q->request;
    q->request = false;
    g_mutex_unlock(&q->lock);
    return n;
}

void exp_queue_sleep(exp_queue_t *q, gint64 deadline_us, bool wake_on_closing,
                     exp_queue_state_t *state)
{
    g_mutex_lock(&q->lock);
    /* A producer waiting for room would wait for nothing; a deadline of 0 only reads the
     * flags. */
    q->stalled = deadline_us > 0;
    if (q->stalled && q->producers_waiting > 0)
        g_cond_broadcast(&q->room);
    while (!q->abort && !q->request && !(wake_on_closing && q->closing)) {
        if (!g_cond_wait_until(&q->wake, &q->lock, deadline_us))
            break;
    }
    q->stalled = false;
    state->empty = q->count == 0;
    state->closing = q->closing;
    state->abort = q->abort;
    state->request = q->request;
    q->request = false;
    g_mutex_unlock(&q->lock);
}

static void set_flag(exp_queue_t *q, bool *flag)
{
    g_mutex_lock(&q->lock);
    *flag = true;
    g_cond_broadcast(&q->wake);
    g_cond_broadcast(&q->room);
    g_mutex_unlock(&q->lock);
}

void exp_queue_set_closing(exp_queue_t *q)
{
    set_flag(q, &q->closing);
}

void exp_queue_set_abort(exp_queue_t *q)
{
    set_flag(q, &q->abort);
}

void exp_queue_set_request(exp_queue_t *q)
{
    set_flag(q, &q->request);
}

uint32_t exp_queue_count(exp_queue_t *q)
{
    g_mutex_lock(&q->lock);
    uint32_t n = q->count;
    g_mutex_unlock(&q->lock);
    return n;
}
