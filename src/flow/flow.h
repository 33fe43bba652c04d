/*
 * Flow state, the flow table and the flow engine (keys, timers, per-direction counters,
 * termination callback).
 *
 * A flow is split in two fixed-size records kept in two preallocated arrays indexed by the
 * same 32-bit flow index: flow_t holds what almost every packet reads or writes (one
 * 128-byte, two-cache-line budget), flow_cold_t what a few packets touch (handshake, FIN/RST
 * bookkeeping, first timestamps, payload counters). Links between flows are indices, never
 * pointers, so the arrays could move and a link costs 4 bytes.
 */
#ifndef OC_FLOW_H
#define OC_FLOW_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <ocellus/ocellus.h>

#include "decode/dec.h"
#include "dpi/dpi.h"
#include "util/ut_hash.h"

/* Packet capture time, microseconds since the epoch. */
typedef uint64_t pkt_time_t;

#define FLOW_NONE UINT32_MAX

/*
 * The two endpoints in canonical order (the smaller (address, port) pair first) so that a
 * packet and its reply produce the same key. Zeroed before filling: padding and the unused
 * 12 bytes of IPv4 addresses are hashed and compared.
 */
typedef struct flow_key {
    uint8_t addr[2][16];
    uint16_t port[2];
    uint16_t vlan;       /* outer 802.1Q/802.1ad VLAN id */
    uint16_t vlan_inner; /* inner (customer) VLAN id with QinQ */
    uint8_t proto;
    uint8_t family;      /* 4 or 6; bit 7 marks ICMP echo keys */
    uint8_t pad[6];
} flow_key_t;
_Static_assert(sizeof(flow_key_t) == 48, "flow_key_t is hashed as six 64-bit words");

/* flow_t.state bits */
enum {
    FLOW_ST_FIN_OUT = 1u << 0,   /* a FIN was sent outbound */
    FLOW_ST_FIN_IN = 1u << 1,    /* a FIN was sent inbound */
    FLOW_ST_LAST_FIN_IN = 1u << 2, /* the FIN seen last went inbound */
    FLOW_ST_CLOSED = 1u << 3,    /* TCP over: lingering for trailing packets */
    FLOW_ST_SEQ_OUT = 1u << 4,   /* seq_end[OUT] is valid */
    FLOW_ST_SEQ_IN = 1u << 5,    /* seq_end[IN] is valid */
    /* RTT measurement, a two-bit state that says what flow_cold_t.hs_ts holds */
    FLOW_ST_HS_MASK = 3u << 6,
    FLOW_ST_HS_NONE = 0u << 6,   /* no client SYN yet */
    FLOW_ST_HS_SYN = 1u << 6,    /* hs_ts: the client's first SYN */
    FLOW_ST_HS_SYNACK = 2u << 6, /* hs_ts: the server's SYN/ACK; waiting for the client's ACK */
    FLOW_ST_HS_DONE = 3u << 6,   /* both halves measured or given up */
};

/* Hot part: read or written for every packet of the flow. Counters are per direction
 * (index oc_direction_t) and per record: an active timeout resets them. Packet counters are
 * 32 bits: a record is cut before one would wrap, so the sum of records stays exact. */
typedef struct flow {
    flow_key_t key;
    uint32_t lru_prev, lru_next;   /* activity list: head = most recent */
    uint8_t src_side;              /* key side (0/1) that is the flow's source */
    uint8_t state;                 /* FLOW_ST_* */
    uint8_t flags_init[2];         /* TCP flags of the first packet of each direction */
    uint8_t flags_union[2];
    uint8_t timer_list;            /* FLOW_TL_* list the flow is on */
    uint8_t dpi_state;             /* DPI_ST_*: DONE when DPI is off or finished */
    /* Second line: counters, then what fills the rest of the budget. */
    uint16_t app;                  /* oc_protocol_t found by DPI */
    int8_t wscale[2];              /* TCP window scale of each SYN, -1 if absent */
    uint32_t tunnel;               /* side pool entry, FLOW_NONE: not tunnelled */
    dpi_flow_t dpi;                /* inspection and field slots */
    uint32_t packets[2];
    uint64_t octets[2];
    pkt_time_t last[2];            /* newest packet timestamp per direction */
    pkt_time_t activity;           /* engine clock at the last packet: idle expiry */
} flow_t;
_Static_assert(sizeof(flow_t) == 128, "hot flow state must stay within its 128-byte budget");

/* Cold part: touched by TCP segments that carry data or SYN/FIN/RST, payload-carrying
 * packets, and at expiry. Two cache lines: a million flows must fit in bounded memory, so
 * fields that are never live at the same time share storage, and tunnel addresses, which
 * few flows have, live in a side pool (flow_table_t.tunnels). */
typedef struct flow_cold {
    /* First line: what TCP data segments and payload-carrying packets update (the batch
     * path prefetches only this line). */
    union {
        uint32_t seq_end[2];       /* TCP: highest sequence number + length seen */
        int32_t icmp_type_code[2]; /* ICMP: type << 8 | code of each direction's first */
    };
    uint32_t retrans[2], zero_window[2];
    uint32_t tl_prev, tl_next;     /* timer list (active FIFO or linger) */
    uint32_t l7_packets[2];        /* <= packets, so 32 bits as well */
    uint64_t l7_octets[2];
    int32_t rtt[2];                /* microseconds, -1 until measured */
    /* Second line: once per direction, per record or per connection. */
    pkt_time_t first[2];
    /* A flow is on one timer list at a time and a closed flow never goes back to the
     * active list, so the two list bases share a word. */
    union {
        pkt_time_t record_start;   /* active list: engine clock when the record began */
        pkt_time_t closed_at;      /* linger list: engine clock when TCP closed */
    };
    /* The handshake is measured before any FIN (one that comes first ends the measurement),
     * so the handshake time and the FIN sequence numbers share a word. */
    union {
        pkt_time_t hs_ts;          /* see FLOW_ST_HS_* */
        uint32_t fin_seq[2];       /* sequence number that acknowledges each side's FIN */
    };
    uint64_t id;
    uint32_t syn[2], fin[2], rst[2];
} flow_cold_t;
_Static_assert(sizeof(flow_cold_t) == 128, "cold flow state is documented as 128 bytes");

/* Timer lists: each flow is on at most one (none between an active-timeout cut and its next
 * packet), ordered by deadline because every flow on a list
 * has the same timeout. */
enum { FLOW_TL_ACTIVE = 0, FLOW_TL_LINGER = 1, FLOW_TL_N, FLOW_TL_NONE = FLOW_TL_N };

typedef struct flow_list {
    uint32_t head, tail;
} flow_list_t;

/*
 * Open-addressing hash table of {hash, flow index} slots, linear probing, power-of-two size
 * for load <= 0.75 at max_flows, backward-shift deletion (no tombstones, never resized).
 */
typedef struct flow_slot {
    uint32_t hash;
    uint32_t idx1; /* flow index + 1; 0 = empty, so zeroed memory is an empty table */
} flow_slot_t;

typedef struct flow_table {
    flow_slot_t *slots;
    uint32_t mask;
    uint32_t max_flows;
    flow_t *flows;
    flow_cold_t *cold;
    /* Tunnel side pool: max_flows entries, handed out from a free list so that the pages
     * touched grow with the tunnelled flows alive at once, not with the flows seen. */
    oc_tunnel_t *tunnels;
    uint32_t tunnel_free;      /* returned entries, linked through their first 4 bytes */
    uint32_t tunnel_never_used;
    void *map;           /* one mapping holds slots, flows and cold (flow_table.c) */
    size_t map_len;
    uint32_t free_head;  /* returned flows, linked through lru_next */
    uint32_t never_used; /* flows [never_used, max_flows) were never handed out */
    uint32_t used;
} flow_table_t;

/* Allocates a table for @max_flows flows (>= 1). Aborts on OOM like g_new. */
void flow_table_init(flow_table_t *t, uint32_t max_flows);
void flow_table_clear(flow_table_t *t);
/* Index of the flow with @key, or FLOW_NONE. Per packet. */
uint32_t flow_table_lookup(const flow_table_t *t, const flow_key_t *key, uint32_t hash);
/* Takes a free flow, stores @key in it and {@hash, index} in a slot; FLOW_NONE if none is
 * free. */
uint32_t flow_table_insert(flow_table_t *t, const flow_key_t *key, uint32_t hash);
/* Removes flow @idx, whose key hashes to @hash, from the slots and returns it (and its
 * tunnel entry) to the free lists. The hash is not kept in the flow: recomputing it once per
 * flow end is cheaper than 4 bytes of hot state per flow. */
void flow_table_remove(flow_table_t *t, uint32_t idx, uint32_t hash);
/* Gives flow @idx a tunnel entry holding @tun. Never fails: the pool has max_flows entries. */
void flow_table_set_tunnel(flow_table_t *t, uint32_t idx, const oc_tunnel_t *tun);

/*
 * The engine: table, clock, timers and the callback. oc_engine_t wraps it with decoding.
 */
typedef struct flow_engine {
    flow_table_t table;
    oc_config_t cfg;
    uint64_t seed;
    pkt_time_t clock;
    pkt_time_t next_due;          /* no deadline is earlier than this (expire() fast path) */
    pkt_time_t idle_us;
    uint64_t hash_k[6];           /* secret words of flow_key_hash(), from the seed */
    uint64_t next_id;
    flow_list_t lru;              /* activity order, linked through flow_t.lru_* */
    flow_list_t timers[FLOW_TL_N];
    oc_flow_termination_cb cb;
    void *cb_data;
    bool stopped;
    uint32_t last_flow;           /* flow of the last attributed packet */
    dpi_t *dpi;                   /* NULL when DPI is off */
    oc_flow_info_t info;          /* view returned to callers */
    oc_engine_stats_t stats;
} flow_engine_t;

/* Initializes @e from a validated @cfg (max_flows >= 1). */
void flow_engine_init(flow_engine_t *e, const oc_config_t *cfg);
void flow_engine_clear(flow_engine_t *e);

/* Accounts one decoded packet with capture time @ts. Fills @info (may be NULL). Per packet. */
oc_status_t flow_engine_packet(flow_engine_t *e, pkt_time_t ts, const dec_packet_t *pkt,
                               oc_packet_info_t *info);
/* The same for a fragment that waited for its datagram's first fragment: it is accounted
 * even after the callback asked to stop, since its packet was already counted as read. */
oc_status_t flow_engine_packet_held(flow_engine_t *e, pkt_time_t ts, const dec_packet_t *p,
                                    oc_packet_info_t *info);
/* flow_engine_packet_held() for a packet whose key, key side and hash the caller already
 * computed (flow_key_from_packet, flow_key_hash): the batch path does that ahead. */
oc_status_t flow_engine_packet_keyed(flow_engine_t *e, pkt_time_t ts, const dec_packet_t *p,
                                     const flow_key_t *key, unsigned side, uint32_t hash,
                                     oc_packet_info_t *info);
/*
 * The table hash of @key. NH, the hash at the core of UMAC (RFC 4418): the key's six words
 * in pairs, each word plus a secret word, multiplied to 128 bits and summed. The three
 * multiplies are independent, where a word-by-word mixer is a chain of six (it took 5 % of a
 * --no-dpi run); without the secret words a sender cannot choose addresses that collide. The
 * sum's low bits depend only on the inputs' low bits, so a finalizer spreads it over the
 * bits the table indexes with.
 */
static inline uint32_t flow_key_hash(const flow_engine_t *e, const flow_key_t *key)
{
#ifdef __SIZEOF_INT128__
    __extension__ typedef unsigned __int128 u128;
    uint64_t w[6];
    memcpy(w, key, sizeof w);
    const uint64_t *k = e->hash_k;
    u128 s = (u128)(w[0] + k[0]) * (w[1] + k[1]) + (u128)(w[2] + k[2]) * (w[3] + k[3]) +
             (u128)(w[4] + k[4]) * (w[5] + k[5]);
    return (uint32_t)ut_hash_mix64((uint64_t)s ^ (uint64_t)(s >> 64));
#else
    return (uint32_t)ut_hash_words(key, sizeof *key, e->seed);
#endif
}

/*
 * Prefetch stages of the batch path (oc_engine_process_batch). A flow lookup at a few
 * hundred thousand active flows is a chain of cache misses (slot, flow, activity-list
 * neighbours); issuing the loads of many packets before using any lets them overlap. The
 * results are only hints: packets are processed afterwards, in order, with full lookups.
 */
static inline void flow_prefetch_slot(const flow_engine_t *e, uint32_t hash)
{
    __builtin_prefetch(&e->table.slots[hash & e->table.mask]);
}

/* Reads the slot chain (now cached) and prefetches the flow's hot and cold lines; returns
 * the flow index seen there, or FLOW_NONE. */
static inline uint32_t flow_prefetch_flow(const flow_engine_t *e, uint32_t hash)
{
    const flow_table_t *t = &e->table;
    uint32_t i = hash & t->mask;
    for (unsigned probe = 0; probe < 4; probe++, i = (i + 1) & t->mask) {
        const flow_slot_t *s = &t->slots[i];
        if (s->idx1 == 0)
            return FLOW_NONE;
        if (s->hash == hash) {
            uint32_t idx = s->idx1 - 1;
            const char *hot = (const char *)&t->flows[idx];
            const char *cold = (const char *)&t->cold[idx];
            __builtin_prefetch(hot, 1);
            __builtin_prefetch(hot + 64, 1);
            __builtin_prefetch(cold, 1); /* flow_cold_t's first line */
            return idx;
        }
    }
    return FLOW_NONE;
}

/* Prefetches the activity-list neighbours that moving flow @idx to the head will write. */
static inline void flow_prefetch_links(const flow_engine_t *e, uint32_t idx)
{
    const flow_t *f = &e->table.flows[idx];
    if (f->lru_prev != FLOW_NONE && f->lru_prev < e->table.max_flows)
        __builtin_prefetch(&e->table.flows[f->lru_prev], 1);
    if (f->lru_next != FLOW_NONE && f->lru_next < e->table.max_flows)
        __builtin_prefetch(&e->table.flows[f->lru_next], 1);
}

/* Moves the clock to @now if it is newer and ends what is due. */
oc_status_t flow_engine_advance(flow_engine_t *e, pkt_time_t now);
/* Ends every flow with OC_END_FORCED. */
oc_status_t flow_engine_flush(flow_engine_t *e);
/* Builds the public view of flow @idx into e->info. */
const oc_flow_info_t *flow_engine_info(flow_engine_t *e, uint32_t idx, oc_end_reason_t reason);

/* Builds the canonical key of @pkt; returns the key side (0/1) that sent the packet. */
unsigned flow_key_from_packet(const dec_packet_t *pkt, flow_key_t *key);

#endif /* OC_FLOW_H */
