/*
 * Fuzz target for the dissectors and the DPI framework around them (src/dpi).
 *
 * Every payload byte a dissector reads comes from the wire, so each input drives one chosen
 * dissector twice:
 *
 *   1. alone, called with a dpi_ctx_t built the way dpi.c builds it, except that the bytes
 *      it may read (this direction's stream, the peer's prefix, the datagram) are exact-size
 *      heap copies: a read one byte past ctx->len or ctx->peer_len is an ASan report, which
 *      inside dpi.c's 4 KB stream buffers it would not be;
 *   2. through the real engine path, dpi_packet() with synthetic packet views, where every
 *      dissector of the transport runs: TCP segments with sequence numbers (starting near
 *      the 32-bit wrap, optionally shifted into retransmission overlaps or holes, with SYN
 *      data, snap-length cuts and IP fragments), UDP datagrams, MATCH_MORE ownership, the
 *      packet budget, two-slot inspection and field pools shared by up to three flows, and
 *      announced connections (a payload's dpi_expect() can label a later flow).
 *
 * Input layout:
 *   byte 0     dissector: the one whose name hashes to this byte (fnv1a8() below, which
 *              make_dpi_seeds.py repeats, so seeds keep their dissector when the table
 *              grows), else dpi_dissectors[byte 0 % dpi_n_dissectors]
 *   byte 1     bit 0: UDP when the dissector runs on both; bit 1: no fields; bit 2: IPv6
 *   bytes 2-5  client port, server port (big-endian)
 *   chunks     {flags, adjust, length (2 bytes big-endian), payload}; flags:
 *                0x01 sent by the server            0x02 (engine) starts a new flow whose
 *                0x04 (engine) TCP seq + (int8)adjust    ports are the payload's first 4 bytes
 *                0x08 (engine) SYN with data        0x10 (engine) cut: adjust bytes missing
 *                0x20 (engine) 121 s pass first     0x40 / 0x80 (engine) later / first IP fragment
 * Invariants that must hold whatever the bytes are abort(), so both libFuzzer and the
 * replay program (replay.c, make check) report them.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode/dec.h"
#include "dpi/dpi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_CHUNKS 64
#define ENGINE_FLOWS 3

enum {
    CH_SERVER = 0x01,
    CH_NEW_FLOW = 0x02,
    CH_SEQ_ADJUST = 0x04,
    CH_SYN = 0x08,
    CH_CUT = 0x10,
    CH_TIME_JUMP = 0x20,
    CH_FRAG_LATER = 0x40,
    CH_FRAG_FIRST = 0x80,
};

typedef struct {
    uint8_t flags, adjust;
    uint16_t new_ports[2]; /* CH_NEW_FLOW: client, server */
    const uint8_t *p;
    uint32_t len;
} chunk_t;

typedef struct {
    const dpi_dissector_t *dis;
    uint8_t l4, family;
    bool fields;
    uint16_t ports[2];
    chunk_t ch[MAX_CHUNKS];
    unsigned n;
} input_t;

static const uint8_t ADDR4[2][16] = {{10, 0, 0, 1}, {10, 0, 0, 2}};
static const uint8_t ADDR6[2][16] = {{0x20, 0x01, 0x0d, 0xb8, [15] = 1},
                                     {0x20, 0x01, 0x0d, 0xb8, [15] = 2}};

/* FNV-1a over the name, folded to one byte. */
static uint8_t fnv1a8(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s != '\0'; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return (uint8_t)(h ^ h >> 8 ^ h >> 16 ^ h >> 24);
}

static const dpi_dissector_t *pick(uint8_t b)
{
    for (unsigned i = 0; i < dpi_n_dissectors; i++)
        if (fnv1a8(dpi_dissectors[i].name) == b)
            return &dpi_dissectors[i];
    return &dpi_dissectors[b % dpi_n_dissectors];
}

static bool parse(const uint8_t *data, size_t size, input_t *in)
{
    if (size < 6 || dpi_n_dissectors == 0)
        return false;
    memset(in, 0, sizeof *in);
    in->dis = pick(data[0]);
    if (in->dis->tcp && in->dis->udp)
        in->l4 = data[1] & 1 ? 17 : 6;
    else
        in->l4 = in->dis->tcp ? 6 : 17;
    in->fields = !(data[1] & 2);
    in->family = data[1] & 4 ? 6 : 4;
    in->ports[0] = dpi_be16(data + 2);
    in->ports[1] = dpi_be16(data + 4);
    size_t off = 6;
    while (off + 4 <= size && in->n < MAX_CHUNKS) {
        chunk_t *c = &in->ch[in->n++];
        c->flags = data[off];
        c->adjust = data[off + 1];
        size_t len = dpi_be16(data + off + 2);
        off += 4;
        if (len > size - off)
            len = size - off;
        c->p = data + off;
        c->len = (uint32_t)len;
        off += len;
        if ((c->flags & CH_NEW_FLOW) && c->len >= 4) {
            c->new_ports[0] = dpi_be16(c->p);
            c->new_ports[1] = dpi_be16(c->p + 2);
            c->p += 4;
            c->len -= 4;
        }
    }
    return true;
}

/* What every field store must look like, whatever the dissectors did. */
static void check_fields(const oc_fields_t *f)
{
    if (f == NULL)
        return;
    if (f->used > OC_FIELDS_BYTES)
        abort();
    for (unsigned i = 0; i < OC_FIELD_N; i++) {
        if (f->len[i] == 0)
            continue;
        if (f->len[i] > OC_FIELD_MAX_LEN || (uint32_t)f->off[i] + f->len[i] > f->used)
            abort();
        size_t n;
        if (oc_fields_get(f, (oc_field_t)i, &n) == NULL || n != f->len[i])
            abort();
    }
}

static uint8_t *copy_exact(const uint8_t *p, uint32_t len)
{
    /* malloc(0) gives ASan a block with no valid byte, so even p[0] is caught. */
    uint8_t *c = malloc(len);
    if (c == NULL && len > 0)
        abort();
    if (len > 0)
        memcpy(c, p, len);
    return c;
}

/* ---- pass 1: the chosen dissector alone ------------------------------------------------ */

static void run_alone(const input_t *in, dpi_t *d)
{
    static uint8_t stream[2][DPI_STREAM_CAP];
    uint32_t slen[2] = {0, 0}, pkts[2] = {0, 0}, buf_len[2] = {0, 0};
    uint8_t *scratch = calloc(1, DPI_SCRATCH);
    uint8_t *udp_buf[2] = {malloc(DPI_STREAM_CAP), malloc(DPI_STREAM_CAP)};
    oc_fields_t *fields = in->fields ? calloc(1, sizeof *fields) : NULL;
    const uint8_t(*addr)[16] = in->family == 4 ? ADDR4 : ADDR6;
    bool owned = false;
    uint16_t proto = OC_PROTO_UNKNOWN;
    if (scratch == NULL || udp_buf[0] == NULL || udp_buf[1] == NULL ||
        (in->fields && fields == NULL))
        abort();

    for (unsigned i = 0; i < in->n && pkts[0] + pkts[1] < DPI_MAX_PACKETS; i++) {
        const chunk_t *c = &in->ch[i];
        unsigned dir = c->flags & CH_SERVER ? 1 : 0;
        if (c->len == 0)
            continue; /* dpi.c never calls a dissector without payload */
        dpi_ctx_t ctx;
        memset(&ctx, 0, sizeof ctx);
        uint8_t *data, *peer = NULL;
        if (in->l4 == 6) {
            uint32_t n = c->len, room = DPI_STREAM_CAP - slen[dir];
            if (n > room)
                n = room;
            if (n == 0)
                continue; /* the prefix is full: nothing new reaches the dissector */
            memcpy(stream[dir] + slen[dir], c->p, n);
            ctx.new_off = slen[dir];
            slen[dir] += n;
            data = copy_exact(stream[dir], slen[dir]);
            peer = copy_exact(stream[dir ^ 1u], slen[dir ^ 1u]);
            ctx.len = slen[dir];
            ctx.peer = peer;
            ctx.peer_len = slen[dir ^ 1u];
            ctx.stream_full = slen[dir] == DPI_STREAM_CAP;
        } else {
            data = copy_exact(c->p, c->len);
            ctx.len = c->len;
            ctx.buf = udp_buf[dir];
            ctx.buf_len = &buf_len[dir];
        }
        ctx.data = data;
        ctx.l4 = in->l4;
        ctx.dir = (uint8_t)dir;
        ctx.family = in->family;
        ctx.sport = in->ports[dir];
        ctx.dport = in->ports[dir ^ 1u];
        ctx.saddr = addr[dir];
        ctx.daddr = addr[dir ^ 1u];
        ctx.pkts[0] = pkts[0];
        ctx.pkts[1] = pkts[1];
        ctx.scratch = scratch;
        ctx.fields = fields;
        ctx.proto = proto;
        ctx.dpi = d;
        ctx.ts_us = UINT64_C(1700000000000000) + i * 1000u;
        pkts[dir]++;

        dpi_verdict_t v = in->dis->fn(&ctx);
        free(data);
        free(peer);
        if (v != DPI_NO && v != DPI_MAYBE && v != DPI_MATCH && v != DPI_MATCH_MORE)
            abort();
        if (ctx.proto >= OC_PROTO_N || buf_len[0] > DPI_STREAM_CAP ||
            buf_len[1] > DPI_STREAM_CAP)
            abort();
        /* A match names a protocol; once matched, a dissector may refine it, never drop it. */
        if ((v == DPI_MATCH || v == DPI_MATCH_MORE || owned) && ctx.proto == OC_PROTO_UNKNOWN)
            abort();
        proto = ctx.proto;
        check_fields(fields);
        if (v == DPI_MATCH || v == DPI_NO)
            break;
        if (v == DPI_MATCH_MORE)
            owned = true;
    }
    free(scratch);
    free(udp_buf[0]);
    free(udp_buf[1]);
    free(fields);
}

/* ---- pass 2: the engine path ----------------------------------------------------------- */

typedef struct {
    bool live;
    dpi_flow_t df;
    uint8_t state;
    uint16_t proto;
    uint16_t ports[2];
    uint32_t next_seq[2];
} eflow_t;

static void eflow_start(eflow_t *f, uint16_t cport, uint16_t sport)
{
    memset(f, 0, sizeof *f);
    f->live = true;
    f->df.inspect = f->df.fields = DPI_NONE;
    f->state = DPI_ST_NEW;
    f->ports[0] = cport;
    f->ports[1] = sport;
    f->next_seq[0] = 1000;
    f->next_seq[1] = UINT32_C(0xffffff00); /* the server's stream crosses the 32-bit wrap */
}

static void check_flow(const dpi_t *d, const eflow_t *f)
{
    if (f->state != DPI_ST_NEW && f->state != DPI_ST_INSPECTING && f->state != DPI_ST_DONE)
        abort();
    if (f->state == DPI_ST_DONE && f->df.inspect != DPI_NONE)
        abort(); /* a finished flow must have given its inspection slot back */
    if (f->proto >= OC_PROTO_N)
        abort();
    check_fields(dpi_fields(d, &f->df));
}

static void send_packet(dpi_t *d, eflow_t *f, const chunk_t *c, uint8_t l4, uint8_t family,
                        uint64_t ts, oc_engine_stats_t *st)
{
    unsigned dir = c->flags & CH_SERVER ? 1 : 0;
    const uint8_t(*addr)[16] = family == 4 ? ADDR4 : ADDR6;
    dec_packet_t p;
    memset(&p, 0, sizeof p);
    p.family = family;
    p.proto = l4;
    memcpy(p.src, addr[dir], 16);
    memcpy(p.dst, addr[dir ^ 1u], 16);
    p.sport = f->ports[dir];
    p.dport = f->ports[dir ^ 1u];
    p.payload = c->p;
    p.payload_caplen = c->len;
    p.l4_payload_len = c->len + (c->flags & CH_CUT ? c->adjust : 0);
    p.tcp_wscale = -1;
    if (c->flags & CH_FRAG_LATER)
        p.frag = DEC_FRAG_LATER;
    else if (c->flags & CH_FRAG_FIRST)
        p.frag = DEC_FRAG_FIRST;
    if (l4 == 6) {
        uint32_t seq = f->next_seq[dir];
        if (c->flags & CH_SEQ_ADJUST)
            seq += (uint32_t)(int32_t)(int8_t)c->adjust;
        p.tcp_flags = DEC_TCP_ACK | DEC_TCP_PSH;
        if (c->flags & CH_SYN) {
            p.tcp_flags = DEC_TCP_SYN;
            seq--; /* the SYN takes one sequence number; its data follows */
        }
        p.tcp_seq = seq;
        f->next_seq[dir] = seq + (c->flags & CH_SYN ? 1u : 0u) + p.l4_payload_len;
    }
    dpi_packet(d, &f->df, &f->state, &f->proto, dir, ts, &p, st);
}

static void run_engine(const input_t *in, const oc_config_t *cfg)
{
    dpi_t *d;
    dpi_init(&d, cfg);
    oc_engine_stats_t st;
    memset(&st, 0, sizeof st);
    eflow_t flows[ENGINE_FLOWS];
    memset(flows, 0, sizeof flows);
    unsigned cur = 0;
    eflow_start(&flows[0], in->ports[0], in->ports[1]);
    uint64_t ts = UINT64_C(1700000000000000);

    for (unsigned i = 0; i < in->n; i++) {
        const chunk_t *c = &in->ch[i];
        if (c->flags & CH_NEW_FLOW) {
            cur = (cur + 1) % ENGINE_FLOWS;
            if (flows[cur].live)
                dpi_flow_release(d, &flows[cur].df);
            eflow_start(&flows[cur], c->new_ports[0], c->new_ports[1]);
        }
        ts += c->flags & CH_TIME_JUMP ? (uint64_t)(DPI_EXPECT_TIMEOUT_S + 1) * 1000000u : 1000u;
        eflow_t *f = &flows[cur];
        if (f->state == DPI_ST_DONE)
            continue; /* the flow engine stops calling dpi_packet() */
        send_packet(d, f, c, in->l4, in->family, ts, &st);
        check_flow(d, f);
    }
    for (unsigned i = 0; i < ENGINE_FLOWS; i++)
        if (flows[i].live)
            dpi_flow_release(d, &flows[i].df);

    /* Every slot must be back: as many new flows as the pools hold all get one. */
    uint64_t ins_full = st.dpi_inspect_full, fields_full = st.dpi_fields_full;
    static const uint8_t one[1] = {0};
    chunk_t probe = {.p = one, .len = 1};
    for (unsigned i = 0; i < ENGINE_FLOWS && i < cfg->dpi_max_inspect; i++) {
        eflow_start(&flows[i], (uint16_t)(40000 + i), 7);
        send_packet(d, &flows[i], &probe, in->l4, in->family, ts, &st);
        check_flow(d, &flows[i]);
    }
    if (st.dpi_inspect_full != ins_full || st.dpi_fields_full != fields_full)
        abort();
    for (unsigned i = 0; i < ENGINE_FLOWS && i < cfg->dpi_max_inspect; i++)
        dpi_flow_release(d, &flows[i].df);
    dpi_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static input_t in; /* static: 64 chunks do not belong on the fuzzer's stack */
    if (!parse(data, size, &in))
        return 0;
    oc_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.dpi = true;
    cfg.dpi_fields = in.fields;
    cfg.dpi_max_inspect = 2;
    cfg.dpi_max_fields = 2;

    dpi_t *d;
    dpi_init(&d, &cfg);
    run_alone(&in, d);
    dpi_free(d);
    run_engine(&in, &cfg);
    return 0;
}
