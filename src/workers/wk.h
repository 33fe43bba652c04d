/*
 * Capture workers: N flow engines, each on its own thread and owning its own flows, behind
 * the same few calls as one engine. The capture thread hands every packet to one engine
 * chosen by oc_packet_spread_hash() (the same in both directions), through a lock-free
 * single-producer ring per worker; the flow-termination callback then runs on the workers'
 * threads. With one worker there is no thread and no ring: the calls go straight to the
 * engine on the caller's thread.
 */
#ifndef OC_WK_H
#define OC_WK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ocellus/ocellus.h>

#define WK_MAX 64

typedef struct wk wk_t;

/* A record from engine @worker (0..n-1), on that engine's thread; a non-zero return asks
 * the engine to stop (oc_flow_termination_cb). */
typedef int (*wk_record_cb)(const oc_flow_info_t *info, unsigned worker, void *user);

/* Engine @worker finished a call (packets, a clock step, a flush), on its thread: it gives
 * no more records until its next call, so records collected per engine can go out now. */
typedef void (*wk_done_cb)(unsigned worker, void *user);

/* Starts @n (1..WK_MAX) engines configured from @cfg, whose per-process bounds (max_flows,
 * DPI pools, fragment datagrams) are shared out between them. Records reach @cb with flow
 * ids unique across workers, and @done (may be NULL) follows every engine call. NULL and a
 * message in @err when the configuration is invalid. */
wk_t *wk_new(const oc_config_t *cfg, unsigned n, wk_record_cb cb, wk_done_cb done, void *user,
             char *err, size_t err_len);

/* Hands @n packets over (their bytes are copied when there are workers). Returns false when
 * the single engine's callback asked to stop. */
bool wk_process(wk_t *w, const oc_packet_t *pkts, unsigned n);

/* oc_engine_advance() on every engine. */
void wk_advance(wk_t *w, uint64_t now_us);

/* Moves every engine's clock to the newest packet time seen, then oc_engine_flush() on each,
 * and waits until all are done. */
void wk_flush(wk_t *w);

/* Sum of the engines' counters (each worker's as of its last batch). */
void wk_get_stats(wk_t *w, oc_engine_stats_t *stats);

/* The newest packet time given to wk_process(). */
uint64_t wk_clock(const wk_t *w);

unsigned wk_count(const wk_t *w);

/* Stops the threads (without flushing) and frees everything; NULL does nothing. */
void wk_free(wk_t *w);

#endif /* OC_WK_H */
