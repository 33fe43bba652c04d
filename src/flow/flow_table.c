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

#include <stdlib.h>
#include <string.h>

#include "flow/flow.h"

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (p == NULL)
        abort(); /* start-up allocation: out of memory is fatal, as g_new0 would be */
    return p;
}

void flow_table_init(flow_table_t *t, uint32_t max_flows)
{
    memset(t, 0, sizeof *t);
    uint64_t want = (uint64_t)max_flows * 4 / 3 + 1;
    uint64_t n = 16;
    while (n < want)
        n <<= 1;
    t->mask = (uint32_t)(n - 1);
    t->max_flows = max_flows;
    t->slots = xcalloc(n, sizeof *t->slots);
    for (uint64_t i = 0; i < n; i++)
        t->slots[i].idx = FLOW_NONE;
    t->flows = xcalloc(max_flows, sizeof *t->flows);
    t->cold = xcalloc(max_flows, sizeof *t->cold);
    for (uint32_t i = 0; i < max_flows; i++)
        t->flows[i].lru_next = i + 1 < max_flows ? i + 1 : FLOW_NONE;
    t->free_head = 0;
}

void flow_table_clear(flow_table_t *t)
{
    free(t->slots);
    free(t->flows);
    free(t->cold);
    memset(t, 0, sizeof *t);
}

uint32_t flow_table_lookup(const flow_table_t *t, const flow_key_t *key, uint32_t hash)
{
    uint32_t i = hash & t->mask;
    for (;;) {
        const flow_slot_t *s = &t->slots[i];
        if (s->idx == FLOW_NONE)
            return FLOW_NONE;
        if (s->hash == hash && memcmp(&t->flows[s->idx].key, key, sizeof *key) == 0)
            return s->idx;
        i = (i + 1) & t->mask;
    }
}

uint32_t flow_table_insert(flow_table_t *t, const flow_key_t *key, uint32_t hash)
{
    uint32_t idx = t->free_head;
    if (idx == FLOW_NONE)
        return FLOW_NONE;
    flow_t *f = &t->flows[idx];
    t->free_head = f->lru_next;
    memset(f, 0, sizeof *f);
    memset(&t->cold[idx], 0, sizeof t->cold[idx]);
    f->key = *key;
    f->hash = hash;

    uint32_t i = hash & t->mask;
    while (t->slots[i].idx != FLOW_NONE)
        i = (i + 1) & t->mask;
    t->slots[i].hash = hash;
    t->slots[i].idx = idx;
    t->used++;
    return idx;
}

void flow_table_remove(flow_table_t *t, uint32_t idx)
{
    uint32_t i = t->flows[idx].hash & t->mask;
    while (t->slots[i].idx != idx)
        i = (i + 1) & t->mask; /* the flow is in the table, so this ends */

    /* Backward shift: move later entries of the chain into the hole when their home slot
     * does not lie (cyclically) between the hole and their current position. */
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & t->mask;
        if (t->slots[j].idx == FLOW_NONE)
            break;
        uint32_t home = t->slots[j].hash & t->mask;
        bool stays = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
        if (stays)
            continue;
        t->slots[i] = t->slots[j];
        i = j;
    }
    t->slots[i].idx = FLOW_NONE;
    t->slots[i].hash = 0;

    t->flows[idx].lru_next = t->free_head;
    t->free_head = idx;
    t->used--;
}
