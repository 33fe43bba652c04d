/*
 * The export ring (exp_queue.h): a fixed array of oc_flow_info_t copies behind one mutex
 * and one condition variable. A copy is ~300 bytes and the producer holds the lock only for
 * that memcpy, so the capture thread never waits on I/O; the consumer moves records out in
 * batches and encodes them without the lock.
 */
#include "config.h"

#include <string.h>

#include "export/exp_queue.h"

void exp_queue_init(exp_queue_t *q, uint32_t cap)
{
    g_assert(cap >= 1);
    memset(q, 0, sizeof *q);
    g_mutex_init(&q->lock);
    g_cond_init(&q->wake);
    q->cap = cap;
    q->ring = g_new(oc_flow_info_t, cap);
}

void exp_queue_clear(exp_queue_t *q)
{
    g_free(q->ring);
    q->ring = NULL;
    g_cond_clear(&q->wake);
    g_mutex_clear(&q->lock);
}

bool exp_queue_push(exp_queue_t *q, const oc_flow_info_t *info)
{
    g_mutex_lock(&q->lock);
    q->pushed++;
    if (q->count == q->cap || q->closing || q->abort) {
        q->lost++;
        g_mutex_unlock(&q->lock);
        return false;
    }
    uint32_t tail = (q->head + q->count) % q->cap;
    memcpy(&q->ring[tail], info, sizeof *info);
    q->count++;
    if (q->count == 1)
        g_cond_signal(&q->wake);
    g_mutex_unlock(&q->lock);
    return true;
}

size_t exp_queue_pop(exp_queue_t *q, oc_flow_info_t *dst, size_t max, gint64 deadline_us,
                     exp_queue_state_t *state)
{
    g_mutex_lock(&q->lock);
    while (q->count == 0 && !q->closing && !q->abort && !q->request) {
        if (!g_cond_wait_until(&q->wake, &q->lock, deadline_us))
            break;
    }
    size_t n = 0;
    if (!q->abort) {
        while (n < max && q->count > 0) {
            memcpy(&dst[n++], &q->ring[q->head], sizeof *dst);
            q->head = (q->head + 1) % q->cap;
            q->count--;
        }
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
    while (!q->abort && !q->request && !(wake_on_closing && q->closing)) {
        if (!g_cond_wait_until(&q->wake, &q->lock, deadline_us))
            break;
    }
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
