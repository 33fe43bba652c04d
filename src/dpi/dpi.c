/*
 * The DPI engine side: inspection and field pools, TCP stream prefixes, the dissector loop
 * and the table of announced connections (dpi.h explains the model).
 *
 * Why two pools: inspection needs kilobytes per flow (two stream prefixes) but only for the
 * first packets of a flow, while fields are small and last as long as the flow. Sizing them
 * apart keeps a million quiet flows cheap. Both are arrays allocated once and touched only
 * as slots are used (calloc'd pages stay untouched until then); free slots form LIFO lists
 * so the pages in use stay few and warm.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "decode/dec.h"
#include "dpi/dpi.h"
#include "util/ut_mem.h"

/* Bits of dpi_inspect_t.flags */
enum {
    INS_SEQ_OUT = 1u << 0, /* next_seq[OUT] is valid */
    INS_SEQ_IN = 1u << 1,
    INS_OWNED = 1u << 2,   /* one dissector matched and wants more (owner) */
};

#define MAX_DISSECTORS 64

/* Scratch areas per inspection slot: one per dissector of the flow's transport (a flow
 * only ever calls those), at the dissector's rank among them (dpi_t.rank). 19 run on TCP
 * and 23 on UDP today; dpi_init() refuses a table that outgrows this. */
#define SCRATCH_SLOTS 24

typedef struct dpi_inspect {
    uint64_t candidates;           /* bit i: dpi_dissectors[i] may still match */
    uint32_t next_seq[2];          /* TCP: sequence number of the next byte expected */
    uint32_t len[2];               /* bytes in the direction's buffer (ins_buf) */
    uint32_t pkts[2];              /* payload packets given to dissectors, per direction */
    uint32_t unused_segs;          /* TCP segments that brought nothing in order */
    uint8_t flags;
    uint8_t owner;                 /* dissector index when INS_OWNED */
    uint64_t scratch_live;         /* bit i: dissector i's state is in the slot */
    /* A dissector's first call gets a zeroed scratch outside the slot (dpi_t.first_scratch)
     * and its state is copied here only if it goes on: most dissectors say no at once, and
     * clearing their scratch here cost a cache miss per line, more than the rest of the
     * slot's work for a flow identified (or given up) on its first packet. */
    uint8_t scratch[SCRATCH_SLOTS][DPI_SCRATCH]; /* [rank of the dissector] */
    /* A direction's first DPI_SMALL bytes; beyond that they move to a buffer of the big
     * pool (dpi_t.ins_big says which). */
    uint8_t small[2][DPI_SMALL];
} dpi_inspect_t;

typedef struct dpi_fields_slot {
    union {
        oc_fields_t f;
        uint32_t next_free;
    } u;
} dpi_fields_slot_t;

#define EXPECT_N 256

typedef struct dpi_expectation {
    uint64_t until_us;             /* 0 = unused */
    uint8_t addr[16];
    uint16_t port;
    uint8_t family, l4;
    uint16_t proto;
} dpi_expectation_t;

struct dpi {
    uint8_t first_scratch[DPI_SCRATCH]; /* all zero between dissector calls */
    bool fields_on;
    uint64_t cand_tcp, cand_udp;   /* dissectors that run on each transport */
    uint8_t rank[2][MAX_DISSECTORS]; /* [UDP?][dissector]: its scratch area in a slot */
    dpi_inspect_t *ins;
    uint32_t n_ins, ins_free, ins_never_used;
    /* Free list links of the inspection slots, apart from the slots: a flow that ends
     * while under inspection gives its slot back without touching it (its cache lines
     * went cold long ago), and the list stays small enough to stay cached. */
    uint32_t *ins_next;
    /* Where a flow's first payload packet is inspected: most flows are decided on it and
     * never need a slot of their own (taking one meant a cache miss on a slot given back
     * long ago). A flow that goes on moves to a slot, which was checked to be there. */
    dpi_inspect_t *stage;
    /* Stream buffers of DPI_STREAM_CAP bytes for the directions that outgrow their slot's
     * DPI_SMALL bytes, and for UDP while dissectors run (they may fill one): two per slot
     * at most, so the pool never runs out, and the stage's two for good. Most inspected
     * flows keep a few hundred bytes: a slot with 4 KB per direction inline was 10 KB, and
     * first-touching those pools was a tenth of a DPI run. */
    uint8_t *big;
    uint32_t n_big, big_free, big_never_used;
    uint32_t *big_next;
    /* Per slot (the stage's after the last) and direction: its big buffer + 1, 0 = none;
     * apart from the slots for the reason ins_next is. */
    uint32_t *ins_big;
    dpi_fields_slot_t *fields;
    uint32_t n_fields, fields_free, fields_never_used;
    dpi_expectation_t expect[EXPECT_N];
    uint32_t expect_next;          /* ring position of the next announcement */
    uint32_t expect_used;          /* announcements made (saturating at EXPECT_N) */
};

_Static_assert(MAX_DISSECTORS <= 64, "candidates is a 64-bit mask");

/* A big buffer; there is always one (n_big covers every slot's two and the stage's). */
static uint32_t big_take(dpi_t *d)
{
    if (d->big_free != DPI_NONE) {
        uint32_t b = d->big_free;
        d->big_free = d->big_next[b];
        return b;
    }
    return d->big_never_used++;
}

static void big_give(dpi_t *d, uint32_t b)
{
    d->big_next[b] = d->big_free;
    d->big_free = b;
}

static inline uint8_t *big_at(const dpi_t *d, uint32_t b)
{
    return d->big + (size_t)b * DPI_STREAM_CAP;
}

/* Gives slot @si's big buffer for @dir back, if it has one. */
static void ins_big_drop(dpi_t *d, uint32_t si, unsigned dir)
{
    uint32_t *b = &d->ins_big[2 * si + dir];
    if (*b != 0) {
        big_give(d, *b - 1);
        *b = 0;
    }
}

void dpi_init(dpi_t **out, const oc_config_t *cfg)
{
    dpi_t *d = calloc(1, sizeof *d);
    if (d == NULL)
        abort();
    d->fields_on = cfg->dpi_fields;
    d->n_ins = cfg->dpi_max_inspect;
    d->n_fields = cfg->dpi_fields ? cfg->dpi_max_fields : 0;
    /* The pools on huge pages (ut_mem.h): faulting inspection slots in 4 KiB at a time was
     * an eighth of the DPI run's time. */
    if (d->n_ins > 0) {
        d->ins = ut_big_alloc((size_t)d->n_ins * sizeof *d->ins);
        d->n_big = 2 * d->n_ins + 2;
        d->big = ut_big_alloc((size_t)d->n_big * DPI_STREAM_CAP);
        if ((d->ins_next = calloc(d->n_ins, sizeof *d->ins_next)) == NULL ||
            (d->stage = calloc(1, sizeof *d->stage)) == NULL ||
            (d->big_next = calloc(d->n_big, sizeof *d->big_next)) == NULL ||
            (d->ins_big = calloc(2 * (size_t)d->n_ins + 2, sizeof *d->ins_big)) == NULL)
            abort();
        d->big_free = DPI_NONE;
        d->ins_big[2 * d->n_ins] = big_take(d) + 1;
        d->ins_big[2 * d->n_ins + 1] = big_take(d) + 1;
    }
    if (d->n_fields > 0)
        d->fields = ut_big_alloc((size_t)d->n_fields * sizeof *d->fields);
    d->ins_free = d->fields_free = DPI_NONE;
    unsigned n_tcp = 0, n_udp = 0;
    for (unsigned i = 0; i < dpi_n_dissectors; i++) {
        if (dpi_dissectors[i].tcp) {
            d->cand_tcp |= UINT64_C(1) << i;
            d->rank[0][i] = (uint8_t)n_tcp++;
        }
        if (dpi_dissectors[i].udp) {
            d->cand_udp |= UINT64_C(1) << i;
            d->rank[1][i] = (uint8_t)n_udp++;
        }
    }
    /* A programming error, caught by any test that inspects a flow. */
    if (n_tcp > SCRATCH_SLOTS || n_udp > SCRATCH_SLOTS || dpi_n_dissectors > MAX_DISSECTORS)
        abort();
    *out = d;
}

void dpi_free(dpi_t *dpi)
{
    if (dpi == NULL)
        return;
    ut_big_free(dpi->ins, (size_t)dpi->n_ins * sizeof *dpi->ins);
    ut_big_free(dpi->big, (size_t)dpi->n_big * DPI_STREAM_CAP);
    free(dpi->big_next);
    free(dpi->ins_big);
    free(dpi->ins_next);
    free(dpi->stage);
    ut_big_free(dpi->fields, (size_t)dpi->n_fields * sizeof *dpi->fields);
    free(dpi);
}

/* ---- pools ----------------------------------------------------------------------------- */

static uint32_t ins_take(dpi_t *d)
{
    uint32_t i;
    if (d->ins_free != DPI_NONE) {
        i = d->ins_free;
        d->ins_free = d->ins_next[i];
    } else if (d->ins_never_used < d->n_ins) {
        i = d->ins_never_used++;
    } else {
        return DPI_NONE;
    }
    dpi_inspect_t *s = &d->ins[i];
    /* Only the header needs clearing: a dissector's first call gets a zeroed scratch
     * (first_scratch), and buffers are written before they are read. */
    memset(s, 0, offsetof(dpi_inspect_t, scratch));
    /* The next take reuses the slot now at the head of the free list, or the next unused
     * one: starting its header's miss now hides it behind the packets in between. */
    __builtin_prefetch(&d->ins[d->ins_free != DPI_NONE ? d->ins_free
                               : d->ins_never_used < d->n_ins ? d->ins_never_used : i], 1);
    return i;
}

static bool ins_available(const dpi_t *d)
{
    return d->ins_free != DPI_NONE || d->ins_never_used < d->n_ins;
}

static void ins_give(dpi_t *d, uint32_t i)
{
    ins_big_drop(d, i, 0);
    ins_big_drop(d, i, 1);
    d->ins_next[i] = d->ins_free;
    d->ins_free = i;
}

/* The slot @si (d->n_ins: the stage) and its direction @dir's buffer. */
static inline dpi_inspect_t *ins_at(dpi_t *d, uint32_t si)
{
    return si == d->n_ins ? d->stage : &d->ins[si];
}

static inline uint8_t *ins_buf(dpi_t *d, uint32_t si, unsigned dir)
{
    uint32_t b = d->ins_big[2 * si + dir];
    return b != 0 ? big_at(d, b - 1) : ins_at(d, si)->small[dir];
}

/* The buffer of @dir with room for @need (<= DPI_STREAM_CAP) bytes: a direction that
 * outgrows its DPI_SMALL bytes moves to a big buffer, taking its first @keep bytes along. */
static uint8_t *ins_buf_room(dpi_t *d, uint32_t si, unsigned dir, uint32_t need, uint32_t keep)
{
    uint32_t *b = &d->ins_big[2 * si + dir];
    if (*b == 0 && need > DPI_SMALL) {
        *b = big_take(d) + 1;
        uint8_t *to = big_at(d, *b - 1);
        memcpy(to, ins_at(d, si)->small[dir], keep);
        return to;
    }
    return ins_buf(d, si, dir);
}

/* A UDP direction's buffer is the dissectors' own (QUIC keeps a bitmap past buf_len), so
 * it is kept whole, and only while a dissector that matched may use it: without an owner
 * it goes back after each datagram. */
static void ins_buf_release(dpi_t *d, uint32_t si, unsigned dir)
{
    ins_big_drop(d, si, dir);
    ins_at(d, si)->len[dir] = 0;
}

static uint32_t fields_take(dpi_t *d)
{
    uint32_t i;
    if (d->fields_free != DPI_NONE) {
        i = d->fields_free;
        d->fields_free = d->fields[i].u.next_free;
    } else if (d->fields_never_used < d->n_fields) {
        i = d->fields_never_used++;
    } else {
        return DPI_NONE;
    }
    oc_fields_t *f = &d->fields[i].u.f;
    memset(f, 0, offsetof(oc_fields_t, buf));
    return i;
}

static void fields_give(dpi_t *d, uint32_t i)
{
    d->fields[i].u.next_free = d->fields_free;
    d->fields_free = i;
}

const oc_fields_t *dpi_fields(const dpi_t *dpi, const dpi_flow_t *df)
{
    if (df->fields == DPI_NONE)
        return NULL;
    const oc_fields_t *f = &dpi->fields[df->fields].u.f;
    return f->used > 0 ? f : NULL;
}

void dpi_flow_release(dpi_t *dpi, dpi_flow_t *df)
{
    if (df->inspect != DPI_NONE)
        ins_give(dpi, df->inspect);
    if (df->fields != DPI_NONE)
        fields_give(dpi, df->fields);
    df->inspect = df->fields = DPI_NONE;
}

/* ---- announced connections ----------------------------------------------------------- */

void dpi_expect(dpi_ctx_t *ctx, uint8_t family, const uint8_t *addr, uint16_t port, uint8_t l4,
                oc_protocol_t proto)
{
    dpi_t *d = ctx->dpi;
    if (d == NULL || port == 0)
        return;
    dpi_expectation_t *x = &d->expect[d->expect_next];
    d->expect_next = (d->expect_next + 1) % EXPECT_N;
    if (d->expect_used < EXPECT_N)
        d->expect_used++;
    memset(x, 0, sizeof *x);
    x->until_us = ctx->ts_us + (uint64_t)DPI_EXPECT_TIMEOUT_S * 1000000u;
    memcpy(x->addr, addr, family == 4 ? 4 : 16);
    x->port = port;
    x->family = family;
    x->l4 = l4;
    x->proto = (uint16_t)proto;
}

static bool endpoint_is(const dpi_expectation_t *x, const dec_packet_t *p, const uint8_t *addr,
                        uint16_t port)
{
    return x->port == port && x->family == p->family &&
           memcmp(x->addr, addr, p->family == 4 ? 4 : 16) == 0;
}

/* An announced endpoint on either side labels the flow; the announcement is used up. */
static uint16_t expect_match(dpi_t *d, const dec_packet_t *p, uint64_t ts_us)
{
    for (uint32_t i = 0; i < d->expect_used; i++) {
        dpi_expectation_t *x = &d->expect[i];
        if (x->until_us == 0 || x->l4 != p->proto)
            continue;
        if (x->until_us < ts_us) {
            x->until_us = 0;
            continue;
        }
        if (endpoint_is(x, p, p->dst, p->dport) || endpoint_is(x, p, p->src, p->sport)) {
            x->until_us = 0;
            return x->proto;
        }
    }
    return OC_PROTO_UNKNOWN;
}

/* ---- inspection ------------------------------------------------------------------------ */

static void finish(dpi_t *d, dpi_flow_t *df, uint8_t *state)
{
    if (df->inspect != DPI_NONE) {
        ins_give(d, df->inspect);
        df->inspect = DPI_NONE;
    }
    /* Fields nobody filled give their slot back at once. */
    if (df->fields != DPI_NONE && d->fields[df->fields].u.f.used == 0) {
        fields_give(d, df->fields);
        df->fields = DPI_NONE;
    }
    *state = DPI_ST_DONE;
}

/*
 * The flow inspected in the staging slot goes on: it moves to a slot of its own (there is
 * one: ins_available() said so when the flow started and nothing was taken since). Copies
 * the header, the scratch of the dissectors that went on and the bytes this packet left:
 * @first, the TCP direction's first bytes not yet copied (or NULL), and for UDP the
 * direction's buffer once a dissector matched (only then may it use it, dpi.h).
 */
static void stage_keep(dpi_t *d, dpi_flow_t *df, unsigned dir, const uint8_t *first,
                       uint8_t l4)
{
    const dpi_inspect_t *g = d->stage;
    df->inspect = ins_take(d);
    dpi_inspect_t *s = &d->ins[df->inspect];
    memcpy(s, g, offsetof(dpi_inspect_t, scratch));
    const uint8_t *rank = d->rank[l4 == 17];
    for (uint64_t live = g->scratch_live; live != 0; live &= live - 1) {
        unsigned r = rank[__builtin_ctzll(live)];
        memcpy(s->scratch[r], g->scratch[r], DPI_SCRATCH);
    }
    if (first != NULL)
        memcpy(ins_buf_room(d, df->inspect, dir, s->len[dir], 0), first, s->len[dir]);
    else if (l4 == 17 && (g->flags & INS_OWNED))
        memcpy(ins_buf_room(d, df->inspect, dir, DPI_STREAM_CAP, 0), ins_buf(d, d->n_ins, dir),
               DPI_STREAM_CAP);
    else if (l4 == 17)
        s->len[dir] = 0; /* no dissector may have used the buffer: nothing to keep */
}

/* Adds a TCP segment to its direction's prefix. Returns false when it brings nothing new
 * (retransmission, or a segment after a hole, which is dropped: dissectors only ever see
 * the stream from its start without gaps). The direction's first bytes are not copied:
 * *first points at them in the packet and the caller copies them into its buffer only if the
 * flow stays under inspection (most are decided on their first payload). Otherwise *first
 * is NULL and the bytes are in the buffer. */
static bool stream_add(dpi_t *d, uint32_t si, unsigned dir, const dec_packet_t *p,
                       oc_engine_stats_t *stats, uint32_t *new_off, const uint8_t **first)
{
    dpi_inspect_t *s = ins_at(d, si);
    const uint8_t seq_bit = dir == 0 ? INS_SEQ_OUT : INS_SEQ_IN;
    uint32_t seq = p->tcp_seq;
    const uint8_t *data = p->payload;
    uint32_t len = p->payload_caplen;
    if (p->tcp_flags & DEC_TCP_SYN)
        seq++; /* data on a SYN (TFO) starts after the SYN's sequence number */
    if (!(s->flags & seq_bit)) {
        s->flags |= seq_bit;
        s->next_seq[dir] = seq;
    }
    int32_t ahead = (int32_t)(seq - s->next_seq[dir]);
    if (ahead > 0) {
        stats->dpi_stream_gaps++;
        return false;
    }
    /* Bytes of this segment already in the prefix; unsigned, since -ahead overflows when the
     * segment starts 2^31 bytes back (found by fuzz_engine). */
    uint32_t old = s->next_seq[dir] - seq;
    if (old >= len)
        return false;
    data += old;
    len -= old;
    uint32_t room = DPI_STREAM_CAP - s->len[dir];
    if (len > room)
        len = room;
    if (len == 0)
        return false;
    if (s->len[dir] == 0) {
        *first = data;
    } else {
        *first = NULL;
        memcpy(ins_buf_room(d, si, dir, s->len[dir] + len, s->len[dir]) + s->len[dir], data,
               len);
    }
    *new_off = s->len[dir];
    s->len[dir] += len;
    /* Only the bytes captured: a segment cut by the snap length (or the first fragment of
     * one) ends the prefix at the cut, so the segments after it are past a hole and
     * dropped, unless a retransmission captured whole fills it. Moving past the lost bytes
     * would glue the next segment to the cut one. */
    s->next_seq[dir] += len + old;
    return true;
}

void dpi_packet(dpi_t *d, dpi_flow_t *df, uint8_t *state, uint16_t *proto, unsigned dir,
                uint64_t ts_us, const dec_packet_t *p, oc_engine_stats_t *stats)
{
    if (p->proto != 6 && p->proto != 17) {
        *state = DPI_ST_DONE;
        return;
    }
    bool staged = false;
    if (*state == DPI_ST_NEW) {
        if (d->expect_used > 0) {
            uint16_t x = expect_match(d, p, ts_us);
            if (x != OC_PROTO_UNKNOWN) {
                *proto = x;
                stats->dpi_flows_identified++;
                finish(d, df, state);
                return;
            }
        }
        if (p->payload_caplen == 0)
            return;
        if (!ins_available(d)) {
            stats->dpi_inspect_full++;
            *state = DPI_ST_DONE;
            return;
        }
        if (d->fields_on) {
            df->fields = fields_take(d);
            if (df->fields == DPI_NONE)
                stats->dpi_fields_full++;
        }
        /* A later fragment is not inspected: the flow needs its slot from now on. */
        staged = p->frag != DEC_FRAG_LATER;
        dpi_inspect_t *s0;
        if (staged) {
            s0 = d->stage;
            memset(s0, 0, offsetof(dpi_inspect_t, scratch));
        } else {
            df->inspect = ins_take(d);
            s0 = &d->ins[df->inspect];
        }
        s0->candidates = p->proto == 6 ? d->cand_tcp : d->cand_udp;
        *state = DPI_ST_INSPECTING;
    }
    if (p->payload_caplen == 0 || p->frag == DEC_FRAG_LATER)
        return;
    const uint32_t si = staged ? d->n_ins : df->inspect;
    dpi_inspect_t *s = ins_at(d, si);

    dpi_ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.l4 = p->proto;
    ctx.dir = (uint8_t)dir;
    ctx.family = p->family;
    ctx.sport = p->sport;
    ctx.dport = p->dport;
    ctx.saddr = p->src;
    ctx.daddr = p->dst;
    ctx.pkts[0] = s->pkts[0];
    ctx.pkts[1] = s->pkts[1];
    ctx.fields = df->fields != DPI_NONE ? &d->fields[df->fields].u.f : NULL;
    ctx.proto = *proto;
    ctx.dpi = d;
    ctx.ts_us = ts_us;
    const uint8_t *first = NULL;
    if (p->proto == 6) {
        uint32_t new_off = 0;
        if (!stream_add(d, si, dir, p, stats, &new_off, &first)) {
            /* A hole that never fills must not hold the slot for the flow's lifetime. */
            if (++s->unused_segs >= DPI_MAX_PACKETS)
                finish(d, df, state);
            else if (staged)
                stage_keep(d, df, dir, NULL, p->proto);
            return;
        }
        ctx.data = first != NULL ? first : ins_buf(d, si, dir);
        ctx.len = s->len[dir];
        ctx.new_off = new_off;
        ctx.stream_full = s->len[dir] == DPI_STREAM_CAP;
        ctx.peer = ins_buf(d, si, dir ^ 1u);
        ctx.peer_len = s->len[dir ^ 1u];
    } else {
        ctx.data = p->payload;
        ctx.len = p->payload_caplen;
        /* Any dissector may match on this datagram and start using the buffer at once. */
        ctx.buf = ins_buf_room(d, si, dir, DPI_STREAM_CAP, 0);
        ctx.buf_len = &s->len[dir];
    }
    s->pkts[dir]++;

    bool done = false;
    if (s->flags & INS_OWNED) {
        ctx.scratch = s->scratch[d->rank[p->proto == 17][s->owner]];
        dpi_verdict_t v = dpi_dissectors[s->owner].fn(&ctx);
        *proto = ctx.proto;
        done = v != DPI_MATCH_MORE;
    } else {
        const uint8_t *rank = d->rank[p->proto == 17];
        uint64_t cand = s->candidates;
        while (cand != 0) {
            unsigned i = (unsigned)__builtin_ctzll(cand);
            uint64_t bit = UINT64_C(1) << i;
            bool live = (s->scratch_live & bit) != 0;
            cand &= cand - 1;
            ctx.scratch = live ? s->scratch[rank[i]] : d->first_scratch;
            dpi_verdict_t v = dpi_dissectors[i].fn(&ctx);
            if (!live) {
                if (v != DPI_NO) {
                    memcpy(s->scratch[rank[i]], d->first_scratch, DPI_SCRATCH);
                    s->scratch_live |= bit;
                }
                memset(d->first_scratch, 0, DPI_SCRATCH);
            }
            if (v == DPI_NO) {
                s->candidates &= ~bit;
            } else if (v == DPI_MATCH || v == DPI_MATCH_MORE) {
                *proto = ctx.proto;
                stats->dpi_flows_identified++;
                if (v == DPI_MATCH_MORE) {
                    s->flags |= INS_OWNED;
                    s->owner = (uint8_t)i;
                } else {
                    done = true;
                }
                break;
            }
        }
        if (s->candidates == 0)
            done = true;
    }
    if (s->pkts[0] + s->pkts[1] >= DPI_MAX_PACKETS)
        done = true;
    if (done)
        finish(d, df, state);
    else if (staged)
        stage_keep(d, df, dir, first, p->proto);
    else if (first != NULL)
        memcpy(ins_buf_room(d, si, dir, s->len[dir], 0), first, s->len[dir]);
    else if (p->proto == 17 && !(s->flags & INS_OWNED))
        ins_buf_release(d, si, dir);
}
