/*
 * Bounded ring of finished flow records between the capture thread (producer) and one
 * output's thread (consumer). On a live interface pushing never waits for the consumer: a
 * full ring counts the record as lost and returns at once, since the kernel would drop
 * packets while we waited. Reading files nothing forces a loss, so a queue made with
 * wait_for_room makes the producer wait for the consumer instead, as long as the consumer
 * keeps taking records (see exp_queue_push).
 */
#ifndef OC_EXP_QUEUE_H
#define OC_EXP_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include <ocellus/ocellus.h>

typedef struct exp_queue {
    GMutex lock;          /* guards everything below */
    GCond wake;           /* consumer: records, close, abort or a request arrived */
    GCond room;           /* producer (wait_for_room): the consumer took records or stalled */
    oc_flow_info_t *ring; /* cap slots, allocated once */
    uint32_t cap, head, count;
    uint32_t wake_at;     /* count at which a sleeping consumer is woken */
    bool closing;         /* deliver what is queued, then stop */
    bool abort;           /* stop now; what is queued is lost */
    bool request;         /* out-of-band work for the consumer (reopen) */
    bool sleeping;        /* the consumer waits in exp_queue_pop() for records */
    bool wait_for_room;   /* a full ring makes the producer wait (reading files) */
    bool stalled;         /* the consumer cannot take records now (exp_queue_sleep) */
    uint32_t producers_waiting; /* producers waiting on room (one per capture worker) */
    uint64_t popped;      /* records the consumer took: progress a waiting producer sees */
    uint64_t waits;       /* times the producer waited for room */
    uint64_t pushed;      /* records offered, lost ones included */
    uint64_t lost;        /* refused because the ring was full */
    /* Fields (DPI) of queued records, only when the consumer wants them: a FIFO byte arena
     * sized for an average record, because a full oc_fields_t per ring slot would cost
     * the ring's size times 1.7 KB. A record whose fields find no room goes without them. */
    uint8_t *arena;       /* NULL: fields are not kept */
    uint32_t arena_size, arena_start, arena_end, arena_live;
    bool arena_wrapped;   /* live data is [arena_start, wrap) + [0, arena_end) */
    uint32_t *foff, *flen; /* per ring slot: fields offset in the arena, length (0 none) */
    uint64_t fields_dropped; /* records queued without their fields: no room */
} exp_queue_t;

/* Records that accumulate before a sleeping consumer is woken (fewer wait for its
 * deadline). */
#define EXP_QUEUE_WAKE 256

/* How long a waiting producer gives a consumer that takes nothing (a stalled pipe or file
 * system) before it counts the record as lost after all. */
#define EXP_QUEUE_STALL_US (5 * G_USEC_PER_SEC)

/* Allocates the ring for @cap (>= 1) records, and room for their fields if @with_fields.
 * With @wait_for_room a full ring makes exp_queue_push() wait rather than lose records. */
void exp_queue_init(exp_queue_t *q, uint32_t cap, bool with_fields, bool wait_for_room);

/* Frees the ring; the consumer must have stopped. */
void exp_queue_clear(exp_queue_t *q);

/* Copies @info into the ring. Returns false and counts a loss when the ring is closing, or
 * full: at once, or for a wait_for_room queue only once the consumer is stalled (a tcp://
 * collector is down) or has taken nothing for EXP_QUEUE_STALL_US. The same holds for room
 * in the fields arena, except that a record then goes without its fields. Runs per record
 * on the capture thread. */
bool exp_queue_push(exp_queue_t *q, const oc_flow_info_t *info);

/* exp_queue_push() of @n records under one lock, for a producer that collects them first:
 * with several threads on the queue, taking the lock per record moved its cache line
 * between cores per record. Returns the number accepted. */
size_t exp_queue_push_many(exp_queue_t *q, const oc_flow_info_t *infos, size_t n);

/* What exp_queue_pop() saw. */
typedef struct exp_queue_state {
    bool empty;    /* nothing left after this batch: time to flush a partial message */
    bool closing;
    bool abort;
    bool request;  /* a request was pending (cleared by this call) */
} exp_queue_state_t;

/* Moves up to @max records into @dst (and their fields into @dst_fields, pointed to by
 * dst[i].fields; with @dst_fields NULL or a queue without fields, fields are NULL), waiting until @deadline_us (g_get_monotonic_time()
 * clock) if the ring is empty and nothing else is pending. Returns the number moved. */
size_t exp_queue_pop(exp_queue_t *q, oc_flow_info_t *dst, oc_fields_t *dst_fields, size_t max,
                     gint64 deadline_us, exp_queue_state_t *state);

/* After records were moved within an array, points each one that has fields at its own
 * entry of the parallel @fields array again. */
void exp_records_fix_fields(oc_flow_info_t *recs, oc_fields_t *fields, size_t n);

/* Waits until @deadline_us without taking records: returns early on abort, on a request,
 * and on closing if @wake_on_closing. Fills @state like exp_queue_pop() (clearing a
 * request); a deadline in the past only reads the flags. For a consumer that cannot take
 * records now (tcp:// while disconnected) so that they wait, and overflow, in the ring. */
void exp_queue_sleep(exp_queue_t *q, gint64 deadline_us, bool wake_on_closing,
                     exp_queue_state_t *state);

/* Sets a flag and wakes the consumer (under the lock). */
void exp_queue_set_closing(exp_queue_t *q);
void exp_queue_set_abort(exp_queue_t *q);
void exp_queue_set_request(exp_queue_t *q);

/* Records waiting now. */
uint32_t exp_queue_count(exp_queue_t *q);

#endif /* OC_EXP_QUEUE_H */
