/*
 * The fragment table: gives the later fragments of an IP datagram the flow of its first
 * fragment, without reassembly.
 *
 * Only the first fragment carries the transport header, so a later fragment alone has no
 * ports. The table remembers, per datagram {family, addresses, IP id, protocol, VLANs}, the
 * decoded view of its first fragment; later fragments borrow it. Later fragments that arrive
 * before their first one wait (a few per datagram) and are handed back when it comes; those
 * whose first fragment never comes within the timeout become orphans. The table has a fixed
 * capacity chosen at start-up: when it is full the oldest datagram makes room, and nothing is
 * allocated per packet. Duplicate and overlapping fragments are counted, never reassembled.
 */
#ifndef OC_FRAG_H
#define OC_FRAG_H

#include <stdbool.h>
#include <stdint.h>

#include "decode/dec.h"

#define FRAG_HOLD 8    /* later fragments held per datagram until its first one arrives */
#define FRAG_RANGES 8  /* data ranges remembered per datagram to spot duplicates and overlaps */
#define FRAG_NONE UINT32_MAX

/* Zeroed before filling: it is hashed and compared as bytes. */
typedef struct frag_key {
    uint8_t src[16], dst[16];
    uint32_t id;
    uint16_t vlan, vlan_inner;
    uint8_t family, proto;
    uint8_t pad[6];
} frag_key_t;
_Static_assert(sizeof(frag_key_t) == 48, "frag_key_t is hashed as six 64-bit words");

typedef struct frag_held {
    uint64_t ts_us;       /* capture time of the held fragment */
    uint32_t ip_octets;
    uint32_t data_len;
    uint16_t offset;
    bool more;
} frag_held_t;

typedef struct frag_range {
    uint32_t off, end;    /* [off, end) bytes of the datagram */
} frag_range_t;

typedef struct frag_entry {
    frag_key_t key;
    uint32_t hash;
    uint32_t chain;                 /* next entry in the bucket, or FRAG_NONE */
    uint32_t fifo_prev, fifo_next;  /* creation order = deadline order */
    uint64_t created_us;            /* table clock when the entry was made */
    bool have_first;
    uint8_t n_held, n_ranges;
    dec_packet_t first;             /* the first fragment's view; payload cleared */
    frag_held_t held[FRAG_HOLD];
    frag_range_t ranges[FRAG_RANGES];
} frag_entry_t;

typedef struct frag_stats {
    uint64_t firsts;         /* first fragments remembered */
    uint64_t tiny;           /* first fragments cut inside the transport header (ports only) */
    uint64_t attributed;     /* later fragments given their datagram's flow (incl. released) */
    uint64_t held;           /* later fragments that had to wait for their first */
    uint64_t orphaned;       /* held fragments whose first never came (timeout, eviction, end) */
    uint64_t dropped;        /* later fragments neither attributable nor holdable */
    uint64_t duplicates;     /* fragments repeating a range already seen */
    uint64_t overlaps;       /* fragments partly covering a range already seen */
    uint64_t evicted;        /* datagrams dropped to make room */
} frag_stats_t;

typedef struct frag_table {
    frag_entry_t *entries;
    uint32_t *buckets;       /* heads of the chains, FRAG_NONE when empty */
    uint32_t mask;
    uint32_t capacity;       /* 0: fragments are not tracked */
    uint32_t used;
    uint32_t free_head;      /* free entries, linked through chain */
    uint32_t fifo_head, fifo_tail;
    uint64_t timeout_us;
    uint64_t seed;
    uint64_t clock_us;       /* newest time seen; never goes back */
    uint32_t release;        /* entry whose held fragments frag_release() hands out */
    uint32_t orphans_new;    /* orphans not yet taken by frag_take_orphans() */
    frag_stats_t stats;
} frag_table_t;

typedef enum {
    FRAG_ATTRIBUTE = 0,  /* the view was completed from the first fragment: account it */
    FRAG_HELD,           /* kept until the first fragment comes (or orphaned later) */
    FRAG_DROPPED,        /* no room to hold it: the caller counts it as skipped */
} frag_verdict_t;

/* Allocates room for @capacity datagrams (0 disables tracking) with a @timeout_s lifetime.
 * Aborts on OOM. @seed keys the hash. Setup only. */
void frag_table_init(frag_table_t *t, uint32_t capacity, uint32_t timeout_s, uint64_t seed);
/* Frees the table; held fragments are dropped without being counted. */
void frag_table_clear(frag_table_t *t);

/* Remembers the first fragment @pkt (pkt->frag == DEC_FRAG_FIRST, decoded DEC_OK) at time
 * @now_us; a later first fragment of the same key replaces it (the id was reused). Fragments of its datagram that were held become available from frag_release().
 * Per packet; allocates nothing. */
void frag_first(frag_table_t *t, uint64_t now_us, const dec_packet_t *pkt);

/* A later fragment @pkt (decoded DEC_FRAGMENT) captured at @ts_us, table time @now_us. On
 * FRAG_ATTRIBUTE, @pkt holds the datagram's flow fields with this fragment's IP length. */
frag_verdict_t frag_later(frag_table_t *t, uint64_t now_us, uint64_t ts_us, dec_packet_t *pkt);

/* After frag_first(): hands out the next held fragment of that datagram as a complete view
 * (@ts_us its capture time; its payload pointer is NULL). false when there is none left. */
bool frag_release(frag_table_t *t, uint64_t *ts_us, dec_packet_t *out);

/* Ends the datagrams older than the timeout at @now_us; their held fragments become orphans. */
void frag_expire(frag_table_t *t, uint64_t now_us);
/* Ends every datagram (end of input); held fragments become orphans. */
void frag_flush(frag_table_t *t);
/* Orphans made since the last call (to count them as skipped packets). */
uint32_t frag_take_orphans(frag_table_t *t);

#endif /* OC_FRAG_H */
