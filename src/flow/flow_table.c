/*
 * The flow table: preallocated flow arrays and an open-addressing index over them.
 *
 * Slots hold {hash, flow index}, so a probe compares 32-bit hashes in one dense array and
 * touches a flow only when the hash matches; most misses never leave the slot array. The
 * slot count is the power of two that keeps the load at or under 0.75 when every flow is in
 * use, so probe chains stay short without ever resizing on the packet path. Deletion shifts
 * the following entries of the chain back instead of leaving tombstones, which would
 * otherwise slowly fill a long-running table.
 */
#include "config.h"

#include <string.h>

#include "flow/flow.h"
#include "util/ut_mem.h"

void flow_table_init(flow_table_t *t, uint32_t max_flows)
{
    memset(t, 0, sizeof *t);
    uint64_t want = (uint64_t)max_flows * 4 / 3 + 1;
    uint64_t n = 16;
    while (n < want)
        n <<= 1;
    t->mask = (uint32_t)(n - 1);
    t->max_flows = max_flows;
    /* The memory stays unmapped until used (ut_mem.h): empty slots are zero and never-used
     * flows are handed out by a counter, so start-up costs no time even for millions of
     * flows and memory grows with the flows actually seen. */
    size_t slots_len = ut_align_up((size_t)n * sizeof *t->slots, UT_HUGE_PAGE);
    size_t flows_len = ut_align_up((size_t)max_flows * sizeof *t->flows, UT_HUGE_PAGE);
    size_t cold_len = ut_align_up((size_t)max_flows * sizeof *t->cold, UT_HUGE_PAGE);
    uint8_t *base = ut_big_alloc(slots_len + flows_len + cold_len);
    t->map = base;
    t->map_len = slots_len + flows_len + cold_len;
    t->slots = (flow_slot_t *)(void *)base;
    t->flows = (flow_t *)(void *)(base + slots_len);
    t->cold = (flow_cold_t *)(void *)(base + slots_len + flows_len);
    t->free_head = FLOW_NONE;
    t->never_used = 0;
    /* Ordinary pages, not huge ones: one tunnelled flow must not make 2 MiB resident. */
    t->tunnels = ut_lazy_alloc((size_t)max_flows * sizeof *t->tunnels);
    t->tunnel_free = FLOW_NONE;
    t->tunnel_never_used = 0;
}

void flow_table_clear(flow_table_t *t)
{
    ut_big_free(t->map, t->map_len);
    ut_lazy_free(t->tunnels, (size_t)t->max_flows * sizeof *t->tunnels);
    memset(t, 0, sizeof *t);
}

/* Six word compares instead of a memcmp call: the key is padded to whole words. */
static inline bool flow_key_equal(const flow_key_t *a, const flow_key_t *b)
{
    uint64_t wa[sizeof *a / 8], wb[sizeof *b / 8], diff = 0;
    memcpy(wa, a, sizeof wa);
    memcpy(wb, b, sizeof wb);
    for (size_t i = 0; i < sizeof wa / sizeof wa[0]; i++)
        diff |= wa[i] ^ wb[i];
    return diff == 0;
}

uint32_t flow_table_lookup(const flow_table_t *t, const flow_key_t *key, uint32_t hash)
{
    uint32_t i = hash & t->mask;
    for (;;) {
        const flow_slot_t *s = &t->slots[i];
        if (s->idx1 == 0)
            return FLOW_NONE;
        if (s->hash == hash && flow_key_equal(&t->flows[s->idx1 - 1].key, key))
            return s->idx1 - 1;
        i = (i + 1) & t->mask;
    }
}

uint32_t flow_table_insert(flow_table_t *t, const flow_key_t *key, uint32_t hash)
{
    uint32_t idx = t->free_head;
    if (idx != FLOW_NONE)
        t->free_head = t->flows[idx].lru_next;
    else if (t->never_used < t->max_flows)
        idx = t->never_used++;
    else
        return FLOW_NONE;
    flow_t *f = &t->flows[idx];
    memset(f, 0, sizeof *f);
    memset(&t->cold[idx], 0, sizeof t->cold[idx]);
    f->tunnel = FLOW_NONE;
    f->key = *key;

    uint32_t i = hash & t->mask;
    while (t->slots[i].idx1 != 0)
        i = (i + 1) & t->mask;
    t->slots[i].hash = hash;
    t->slots[i].idx1 = idx + 1;
    t->used++;
    return idx;
}

void flow_table_remove(flow_table_t *t, uint32_t idx, uint32_t hash)
{
    uint32_t i = hash & t->mask;
    while (t->slots[i].idx1 != idx + 1)
        i = (i + 1) & t->mask; /* the flow is in the table, so this ends */

    /* Backward shift: move later entries of the chain into the hole when their home slot
     * does not lie (cyclically) between the hole and their current position. */
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & t->mask;
        if (t->slots[j].idx1 == 0)
            break;
        uint32_t home = t->slots[j].hash & t->mask;
        bool stays = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
        if (stays)
            continue;
        t->slots[i] = t->slots[j];
        i = j;
    }
    t->slots[i].idx1 = 0;
    t->slots[i].hash = 0;

    uint32_t tun = t->flows[idx].tunnel;
    if (tun != FLOW_NONE) {
        memcpy(&t->tunnels[tun], &t->tunnel_free, sizeof t->tunnel_free);
        t->tunnel_free = tun;
    }
    t->flows[idx].lru_next = t->free_head;
    t->free_head = idx;
    t->used--;
}

void flow_table_set_tunnel(flow_table_t *t, uint32_t idx, const oc_tunnel_t *tun)
{
    uint32_t e = t->tunnel_free;
    if (e != FLOW_NONE)
        memcpy(&t->tunnel_free, &t->tunnels[e], sizeof t->tunnel_free);
    else
        e = t->tunnel_never_used++; /* at most one entry per flow: never past max_flows */
    t->tunnels[e] = *tun;
    t->flows[idx].tunnel = e;
}
