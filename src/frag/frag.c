/*
 * The fragment table (frag.h): later IP fragments borrow the flow of their datagram's first
 * fragment, with bounded memory and no reassembly.
 *
 * Why not reassemble: a flow meter counts packets and octets as they were on the wire, and
 * every fragment is one packet of its datagram's flow; only the ports are missing from the
 * later ones. So each datagram needs just the decoded view of its first fragment, a few
 * fragments that came too early, and a handful of ranges to recognise duplicates and
 * overlaps. Entries live in one array sized at start-up, chained from a power-of-two bucket
 * array by 32-bit indices, and on a FIFO in creation order; because every entry has the same
 * lifetime, the FIFO head is always the next to expire and the first to give way when the
 * table is full.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "frag/frag.h"
#include "util/ut_hash.h"

#define US_PER_S UINT64_C(1000000)
#define PROTO_TCP 6

void frag_table_init(frag_table_t *t, uint32_t capacity, uint32_t timeout_s, uint64_t seed)
{
    memset(t, 0, sizeof *t);
    t->capacity = capacity;
    t->timeout_us = (uint64_t)timeout_s * US_PER_S;
    t->seed = seed;
    t->free_head = t->fifo_head = t->fifo_tail = t->release = FRAG_NONE;
    if (capacity == 0)
        return;
    uint32_t nb = 1;
    while (nb < capacity * 2u && nb < (UINT32_C(1) << 31))
        nb <<= 1;
    t->mask = nb - 1;
    t->entries = calloc(capacity, sizeof *t->entries);
    t->buckets = malloc((size_t)nb * sizeof *t->buckets);
    if (t->entries == NULL || t->buckets == NULL)
        abort();
    for (uint32_t i = 0; i < nb; i++)
        t->buckets[i] = FRAG_NONE;
    for (uint32_t i = capacity; i-- > 0;) {
        t->entries[i].chain = t->free_head;
        t->free_head = i;
    }
}

void frag_table_clear(frag_table_t *t)
{
    free(t->entries);
    free(t->buckets);
    memset(t, 0, sizeof *t);
}

static void key_of(const dec_packet_t *pkt, frag_key_t *k)
{
    memset(k, 0, sizeof *k);
    memcpy(k->src, pkt->frag_src, sizeof k->src);
    memcpy(k->dst, pkt->frag_dst, sizeof k->dst);
    k->id = pkt->frag_id;
    k->vlan = pkt->vlan_id;
    k->vlan_inner = pkt->vlan_inner;
    k->family = pkt->frag_family;
    k->proto = pkt->frag_proto;
}

static uint32_t lookup(const frag_table_t *t, const frag_key_t *k, uint32_t hash)
{
    for (uint32_t i = t->buckets[hash & t->mask]; i != FRAG_NONE; i = t->entries[i].chain) {
        const frag_entry_t *en = &t->entries[i];
        if (en->hash == hash && memcmp(&en->key, k, sizeof *k) == 0)
            return i;
    }
    return FRAG_NONE;
}

static void orphan_held(frag_table_t *t, frag_entry_t *en)
{
    t->stats.orphaned += en->n_held;
    t->orphans_new += en->n_held;
    en->n_held = 0;
}

static void entry_remove(frag_table_t *t, uint32_t idx)
{
    frag_entry_t *en = &t->entries[idx];
    uint32_t *link = &t->buckets[en->hash & t->mask];

    orphan_held(t, en);
    while (*link != idx)
        link = &t->entries[*link].chain;
    *link = en->chain;
    if (en->fifo_prev != FRAG_NONE)
        t->entries[en->fifo_prev].fifo_next = en->fifo_next;
    else
        t->fifo_head = en->fifo_next;
    if (en->fifo_next != FRAG_NONE)
        t->entries[en->fifo_next].fifo_prev = en->fifo_prev;
    else
        t->fifo_tail = en->fifo_prev;
    if (t->release == idx)
        t->release = FRAG_NONE;
    en->chain = t->free_head;
    t->free_head = idx;
    t->used--;
}

static void advance(frag_table_t *t, uint64_t now_us)
{
    if (now_us > t->clock_us)
        t->clock_us = now_us;
    /* created_us <= clock_us always (entries take the clock, which never goes back); the
     * difference cannot wrap where created_us + timeout_us could, near the end of time. */
    while (t->fifo_head != FRAG_NONE &&
           t->clock_us - t->entries[t->fifo_head].created_us >= t->timeout_us)
        entry_remove(t, t->fifo_head);
}

/* A new entry for @k; the oldest datagram makes room when the table is full. */
static uint32_t entry_new(frag_table_t *t, const frag_key_t *k, uint32_t hash)
{
    if (t->free_head == FRAG_NONE) {
        entry_remove(t, t->fifo_head);
        t->stats.evicted++;
    }
    uint32_t idx = t->free_head;
    frag_entry_t *en = &t->entries[idx];
    t->free_head = en->chain;
    memset(en, 0, sizeof *en);
    en->key = *k;
    en->hash = hash;
    en->created_us = t->clock_us;
    en->chain = t->buckets[hash & t->mask];
    t->buckets[hash & t->mask] = idx;
    en->fifo_next = FRAG_NONE;
    en->fifo_prev = t->fifo_tail;
    if (t->fifo_tail != FRAG_NONE)
        t->entries[t->fifo_tail].fifo_next = idx;
    else
        t->fifo_head = idx;
    t->fifo_tail = idx;
    t->used++;
    return idx;
}

/* Counts a repeat of, or an overlap with, a range seen before, then remembers the range. */
static void note_range(frag_table_t *t, frag_entry_t *en, uint32_t off, uint32_t len)
{
    uint32_t end = off + len;

    for (unsigned i = 0; i < en->n_ranges; i++) {
        const frag_range_t *r = &en->ranges[i];
        if (r->off == off && r->end == end) {
            t->stats.duplicates++;
            return;
        }
        if (off < r->end && r->off < end) {
            t->stats.overlaps++;
            return;
        }
    }
    if (en->n_ranges < FRAG_RANGES) {
        en->ranges[en->n_ranges].off = off;
        en->ranges[en->n_ranges].end = end;
        en->n_ranges++;
    }
}

/* The view of a later fragment: the first fragment's flow fields with this fragment's own
 * length. A TCP fragment continues its segment, so its sequence number is where its bytes
 * sit in the segment; that keeps retransmission accounting honest. */
static void complete(const frag_entry_t *en, uint32_t ip_octets, uint16_t offset,
                     uint32_t data_len, bool more, dec_packet_t *out)
{
    const dec_packet_t *f = &en->first;

    *out = *f;
    out->ip_octets = ip_octets;
    out->frag = DEC_FRAG_LATER;
    out->frag_offset = offset;
    out->frag_data_len = data_len;
    out->frag_more = more;
    out->payload = NULL;
    out->payload_caplen = 0;
    out->l4_payload_len = data_len;
    out->tcp_flags = 0;
    out->tcp_wscale = -1;
    if (f->proto == PROTO_TCP && f->frag_tiny) {
        out->l4_payload_len = 0; /* where its bytes sit in the segment is unknown */
    } else if (f->proto == PROTO_TCP) {
        uint32_t l4_hdr = f->frag_data_len - f->l4_payload_len;
        bool same_header = f->tunnel_type == DEC_TUNNEL_NONE && f->frag_data_len >= f->l4_payload_len;
        if (same_header && offset >= l4_hdr)
            out->tcp_seq = f->tcp_seq + (uint32_t)(offset - l4_hdr);
        else
            out->l4_payload_len = 0; /* bytes of an outer datagram: not this segment's */
    }
}

/* Whether two first fragments lead to the same flow (a duplicate rather than a new datagram). */
static bool same_flow(const dec_packet_t *a, const dec_packet_t *b)
{
    return a->proto == b->proto && a->sport == b->sport && a->dport == b->dport &&
           a->icmp_type == b->icmp_type && a->icmp_id == b->icmp_id &&
           memcmp(a->src, b->src, sizeof a->src) == 0 && memcmp(a->dst, b->dst, sizeof a->dst) == 0;
}

void frag_first(frag_table_t *t, uint64_t now_us, const dec_packet_t *pkt)
{
    frag_key_t k;

    if (t->capacity == 0)
        return;
    advance(t, now_us);
    key_of(pkt, &k);
    uint32_t hash = (uint32_t)ut_hash_words(&k, sizeof k, t->seed);
    uint32_t idx = lookup(t, &k, hash);
    if (idx == FRAG_NONE)
        idx = entry_new(t, &k, hash);
    frag_entry_t *en = &t->entries[idx];
    if (en->have_first && !same_flow(&en->first, pkt)) {
        /* The IP id came round again: a new datagram, whose fragments follow this one. */
        en->n_ranges = 0;
    }
    note_range(t, en, 0, pkt->frag_data_len);
    en->have_first = true;
    en->first = *pkt;
    en->first.payload = NULL;
    en->first.payload_caplen = 0;
    t->stats.firsts++;
    if (pkt->frag_tiny)
        t->stats.tiny++;
    t->release = en->n_held > 0 ? idx : FRAG_NONE;
}

frag_verdict_t frag_later(frag_table_t *t, uint64_t now_us, uint64_t ts_us, dec_packet_t *pkt)
{
    frag_key_t k;

    if (t->capacity == 0) {
        t->stats.dropped++;
        return FRAG_DROPPED;
    }
    advance(t, now_us);
    key_of(pkt, &k);
    uint32_t hash = (uint32_t)ut_hash_words(&k, sizeof k, t->seed);
    uint32_t idx = lookup(t, &k, hash);
    if (idx == FRAG_NONE)
        idx = entry_new(t, &k, hash);
    frag_entry_t *en = &t->entries[idx];
    note_range(t, en, pkt->frag_offset, pkt->frag_data_len);
    if (en->have_first) {
        complete(en, pkt->ip_octets, pkt->frag_offset, pkt->frag_data_len, pkt->frag_more, pkt);
        t->stats.attributed++;
        return FRAG_ATTRIBUTE;
    }
    if (en->n_held == FRAG_HOLD) {
        t->stats.dropped++;
        return FRAG_DROPPED;
    }
    frag_held_t *h = &en->held[en->n_held++];
    h->ts_us = ts_us;
    h->ip_octets = pkt->ip_octets;
    h->data_len = pkt->frag_data_len;
    h->offset = pkt->frag_offset;
    h->more = pkt->frag_more;
    t->stats.held++;
    return FRAG_HELD;
}

bool frag_release(frag_table_t *t, uint64_t *ts_us, dec_packet_t *out)
{
    if (t->release == FRAG_NONE)
        return false;
    frag_entry_t *en = &t->entries[t->release];
    if (en->n_held == 0) {
        t->release = FRAG_NONE;
        return false;
    }
    /* Hand them out in arrival order. */
    const frag_held_t h = en->held[0];
    memmove(&en->held[0], &en->held[1], (size_t)(en->n_held - 1) * sizeof en->held[0]);
    en->n_held--;
    complete(en, h.ip_octets, h.offset, h.data_len, h.more, out);
    *ts_us = h.ts_us;
    t->stats.attributed++;
    return true;
}

void frag_expire(frag_table_t *t, uint64_t now_us)
{
    if (t->capacity != 0)
        advance(t, now_us);
}

void frag_flush(frag_table_t *t)
{
    while (t->fifo_head != FRAG_NONE)
        entry_remove(t, t->fifo_head);
}

uint32_t frag_take_orphans(frag_table_t *t)
{
    uint32_t n = t->orphans_new;
    t->orphans_new = 0;
    return n;
}
