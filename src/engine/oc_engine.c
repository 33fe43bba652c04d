/*
 * The public engine API (ocellus.h): decoding plus the flow engine behind one opaque handle.
 *
 * This file only validates configuration, decodes, counts skipped packets by cause and
 * forwards to the flow engine; all flow logic lives in src/flow so it can be unit-tested on
 * decoded packets. The hash seed comes from getrandom() once per engine so that flow keys an
 * attacker chooses cannot be aimed at one probe chain.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <ocellus/ocellus.h>

#include "decode/dec.h"
#include "flow/flow.h"
#include "frag/frag.h"

_Static_assert((int)DEC_NOT_IP == (int)OC_SKIP_NOT_IP && (int)DEC_TOO_DEEP == (int)OC_SKIP_TOO_DEEP &&
                   (int)DEC_N_STATUS == (int)OC_SKIP_N,
               "decoder statuses index the public skip counters");
_Static_assert((int)DEC_FRAGMENT_ORPHAN == (int)OC_SKIP_FRAGMENT_ORPHAN &&
                   (int)DEC_FRAGMENT == (int)OC_SKIP_FRAGMENT,
               "fragment causes index the public skip counters");
_Static_assert((int)DEC_TUNNEL_GRE == (int)OC_TUNNEL_GRE &&
                   (int)DEC_TUNNEL_TEREDO == (int)OC_TUNNEL_TEREDO,
               "decoder tunnel types are the public ones");

/* Packets decoded and hashed ahead by oc_engine_process_batch(): enough for the prefetches
 * of one group to overlap, few enough that their lines are still cached when used. */
#define ENGINE_GROUP 16

/* One packet of a group, decoded ahead. */
typedef struct ahead {
    dec_packet_t pkt;
    flow_key_t key;
    uint32_t hash;
    uint32_t seen;    /* the flow its slot pointed at during prefetch (a hint) */
    uint8_t st;       /* dec_status_t */
    uint8_t side;
    bool keyed;       /* key and hash are valid: an unfragmented packet */
} ahead_t;

struct oc_engine {
    flow_engine_t flow;
    frag_table_t frag;    /* later fragments take their datagram's flow */
    unsigned dec_opts;    /* DEC_OPT_* from the configuration */
    ahead_t group[ENGINE_GROUP];
};

static const char *const skip_names[OC_SKIP_N] = {
    [OC_SKIP_NONE] = "ok",
    [OC_SKIP_NOT_IP] = "not-ip",
    [OC_SKIP_TRUNCATED] = "truncated",
    [OC_SKIP_MALFORMED] = "malformed",
    [OC_SKIP_UNSUPPORTED_LINK] = "unsupported-link",
    [OC_SKIP_UNSUPPORTED_ENCAP] = "unsupported-encap",
    [OC_SKIP_FRAGMENT] = "fragment",
    [OC_SKIP_TOO_DEEP] = "too-deep",
    [OC_SKIP_FRAGMENT_ORPHAN] = "fragment-orphan",
};

const char *oc_skip_name(oc_skip_t skip)
{
    if ((unsigned)skip >= OC_SKIP_N)
        return "unknown";
    return skip_names[skip];
}

void oc_config_init(oc_config_t *config)
{
    memset(config, 0, sizeof *config);
    config->max_flows = 262144;
    config->idle_timeout_s = 30;
    config->active_timeout_s = 300;
    config->tcp_linger_s = 2;
    config->hash_seed = 0;
    config->tunnels_outer = false;
    config->max_frag_datagrams = 1024;
    config->frag_timeout_s = 30;
    config->dpi = true;
    config->dpi_fields = true;
    config->dpi_max_inspect = 16384;
    config->dpi_max_fields = 65536;
}

static uint64_t random_seed(void)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        seed = (uint64_t)ts.tv_nsec * UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t)ts.tv_sec;
    }
    return seed | 1u;
}

oc_engine_t *oc_engine_new(const oc_config_t *config, char *err, size_t err_len)
{
    oc_config_t cfg;
    if (config == NULL)
        oc_config_init(&cfg);
    else
        cfg = *config;
    const char *bad = NULL;
    if (cfg.max_flows < 1 || cfg.max_flows > (UINT32_C(1) << 28))
        bad = "max_flows must be 1..268435456";
    else if (cfg.idle_timeout_s < 1 || cfg.idle_timeout_s > 86400 * 7)
        bad = "idle_timeout_s must be 1..604800";
    else if (cfg.active_timeout_s < 1 || cfg.active_timeout_s > 86400 * 7)
        bad = "active_timeout_s must be 1..604800";
    else if (cfg.tcp_linger_s > 3600)
        bad = "tcp_linger_s must be 0..3600";
    else if (cfg.max_frag_datagrams > (UINT32_C(1) << 24))
        bad = "max_frag_datagrams must be 0..16777216";
    else if (cfg.max_frag_datagrams > 0 && (cfg.frag_timeout_s < 1 || cfg.frag_timeout_s > 3600))
        bad = "frag_timeout_s must be 1..3600";
    else if (cfg.dpi && (cfg.dpi_max_inspect > (UINT32_C(1) << 24) ||
                         cfg.dpi_max_fields > (UINT32_C(1) << 26)))
        bad = "dpi_max_inspect must be 0..16777216 and dpi_max_fields 0..67108864";
    else if (cfg.max_record_octets != 0 && cfg.max_record_octets < 65535)
        bad = "max_record_octets must be 0 (off) or at least 65535 (one IP packet)";
    if (bad != NULL) {
        if (err != NULL && err_len > 0)
            snprintf(err, err_len, "%s", bad);
        return NULL;
    }
    if (cfg.hash_seed == 0)
        cfg.hash_seed = random_seed();

    oc_engine_t *e = calloc(1, sizeof *e);
    if (e == NULL)
        abort();
    flow_engine_init(&e->flow, &cfg);
    frag_table_init(&e->frag, cfg.max_frag_datagrams, cfg.frag_timeout_s,
                    cfg.hash_seed * UINT64_C(0x9e3779b97f4a7c15));
    e->dec_opts = cfg.tunnels_outer ? DEC_OPT_TUNNELS_OUTER : 0;
    return e;
}

void oc_engine_free(oc_engine_t *engine)
{
    if (engine == NULL)
        return;
    flow_engine_clear(&engine->flow);
    frag_table_clear(&engine->frag);
    free(engine);
}

void oc_engine_set_termination_cb(oc_engine_t *engine, oc_flow_termination_cb cb, void *user_data)
{
    engine->flow.cb = cb;
    engine->flow.cb_data = user_data;
}

/* Held fragments whose datagram ended without its first fragment are skipped packets. */
static void count_orphans(oc_engine_t *engine)
{
    engine->flow.stats.packets_skipped[OC_SKIP_FRAGMENT_ORPHAN] += frag_take_orphans(&engine->frag);
}

static oc_status_t skip_packet(oc_engine_t *engine, uint64_t ts_us, dec_status_t st,
                               oc_packet_info_t *info)
{
    flow_engine_t *e = &engine->flow;
    e->stats.packets_skipped[st]++;
    e->last_flow = FLOW_NONE;
    /* A skipped packet still tells the time: flows due before it end now. */
    flow_engine_advance(e, ts_us);
    if (info != NULL) {
        info->skip = (oc_skip_t)st;
        info->direction = OC_DIRECTION_OUTBOUND;
        info->new_flow = false;
    }
    return e->stopped ? OC_STATUS_STOPPED : OC_STATUS_SKIPPED;
}

/* Everything after decoding a packet that was counted as read. A packet that is not a
 * fragment comes with its key and hash when @key is not NULL. */
static oc_status_t process_decoded(oc_engine_t *engine, uint64_t ts_us, dec_status_t st,
                                   dec_packet_t *pkt, const flow_key_t *key, unsigned side,
                                   uint32_t hash, oc_packet_info_t *info)
{
    flow_engine_t *e = &engine->flow;
    /* The fragment table runs on the engine clock, which this packet may move forward. */
    uint64_t now = ts_us > e->clock ? ts_us : e->clock;
    if (st == DEC_FRAGMENT) {
        frag_verdict_t v = frag_later(&engine->frag, now, ts_us, pkt);
        count_orphans(engine);
        if (v == FRAG_DROPPED)
            return skip_packet(engine, ts_us, DEC_FRAGMENT, info);
        if (v == FRAG_HELD) {
            /* Neither attributed nor skipped yet: frag_release() or an orphan count settles
             * it, at the latest in oc_engine_flush(). */
            e->last_flow = FLOW_NONE;
            flow_engine_advance(e, ts_us);
            if (info != NULL) {
                info->skip = OC_SKIP_FRAGMENT;
                info->direction = OC_DIRECTION_OUTBOUND;
                info->new_flow = false;
            }
            return e->stopped ? OC_STATUS_STOPPED : OC_STATUS_SKIPPED;
        }
        return flow_engine_packet(e, ts_us, pkt, info);
    }
    if (st != DEC_OK) {
        frag_expire(&engine->frag, now);
        count_orphans(engine);
        return skip_packet(engine, ts_us, st, info);
    }
    if (pkt->frag != DEC_FRAG_FIRST) {
        frag_expire(&engine->frag, now);
        count_orphans(engine);
        if (key != NULL)
            return flow_engine_packet_keyed(e, ts_us, pkt, key, side, hash, info);
        return flow_engine_packet(e, ts_us, pkt, info);
    }

    frag_first(&engine->frag, now, pkt);
    count_orphans(engine);
    oc_status_t rc = flow_engine_packet(e, ts_us, pkt, info);
    uint32_t flow = e->last_flow;
    uint64_t held_ts;
    dec_packet_t held;
    while (frag_release(&engine->frag, &held_ts, &held)) {
        if (flow_engine_packet_held(e, held_ts, &held, NULL) == OC_STATUS_STOPPED)
            rc = OC_STATUS_STOPPED;
    }
    e->last_flow = flow; /* the view stays this packet's flow */
    return rc;
}

oc_status_t oc_engine_process(oc_engine_t *engine, uint64_t ts_us, const uint8_t *data,
                              uint32_t caplen, uint32_t wirelen, int link,
                              oc_packet_info_t *info)
{
    flow_engine_t *e = &engine->flow;
    (void)wirelen; /* octets come from the IP length; the wire length adds the link header */
    if (e->stopped)
        return OC_STATUS_STOPPED;
    e->stats.packets++;

    dec_packet_t pkt;
    dec_status_t st = dec_packet_opts(link, data, caplen, engine->dec_opts, &pkt);
    return process_decoded(engine, ts_us, st, &pkt, NULL, 0, 0, info);
}

/*
 * Three passes over each group of packets, then the packets in order. Decoding and hashing
 * touch only the packets; the first prefetch pass issues the slot loads of the whole group,
 * the second reads the slots and issues the flow loads, the third the activity-list
 * neighbours of those flows. By the time a packet is processed its lines are (mostly)
 * cached, and the group paid roughly one memory latency per pass instead of several per
 * packet. Flows created or ended by earlier packets of the group make some hints stale;
 * the in-order pass looks every packet up again, so results do not depend on them.
 */
oc_status_t oc_engine_process_batch(oc_engine_t *engine, const oc_packet_t *pkts, size_t n,
                                    size_t *done)
{
    flow_engine_t *e = &engine->flow;
    size_t k = 0;
    while (k < n && !e->stopped) {
        size_t g = n - k < ENGINE_GROUP ? n - k : ENGINE_GROUP;
        ahead_t *group = engine->group;
        for (size_t i = 0; i < g; i++) {
            const oc_packet_t *p = &pkts[k + i];
            ahead_t *a = &group[i];
            a->st = (uint8_t)dec_packet_opts(p->link, p->data, p->caplen, engine->dec_opts,
                                             &a->pkt);
            a->keyed = a->st == DEC_OK && a->pkt.frag == DEC_FRAG_NONE;
            if (a->keyed) {
                a->side = (uint8_t)flow_key_from_packet(&a->pkt, &a->key);
                a->hash = flow_key_hash(e, &a->key);
                flow_prefetch_slot(e, a->hash);
            }
        }
        for (size_t i = 0; i < g; i++)
            group[i].seen = group[i].keyed ? flow_prefetch_flow(e, group[i].hash) : FLOW_NONE;
        for (size_t i = 0; i < g; i++)
            if (group[i].seen != FLOW_NONE)
                flow_prefetch_links(e, group[i].seen);
        for (size_t i = 0; i < g && !e->stopped; i++, k++) {
            ahead_t *a = &group[i];
            e->stats.packets++;
            process_decoded(engine, pkts[k].ts_us, (dec_status_t)a->st, &a->pkt,
                            a->keyed ? &a->key : NULL, a->side, a->hash, NULL);
        }
    }
    if (done != NULL)
        *done = k;
    return e->stopped ? OC_STATUS_STOPPED : OC_STATUS_OK;
}

uint32_t oc_packet_spread_hash(int link, const uint8_t *data, uint32_t caplen,
                               bool tunnels_outer)
{
    return dec_spread_hash(link, data, caplen, tunnels_outer ? DEC_OPT_TUNNELS_OUTER : 0);
}

const oc_flow_info_t *oc_engine_packet_flow(oc_engine_t *engine)
{
    flow_engine_t *e = &engine->flow;
    if (e->last_flow == FLOW_NONE)
        return NULL;
    return flow_engine_info(e, e->last_flow, OC_END_NONE);
}

oc_status_t oc_engine_advance(oc_engine_t *engine, uint64_t now_us)
{
    frag_expire(&engine->frag, now_us);
    count_orphans(engine);
    return flow_engine_advance(&engine->flow, now_us);
}

oc_status_t oc_engine_flush(oc_engine_t *engine)
{
    frag_flush(&engine->frag);
    count_orphans(engine);
    return flow_engine_flush(&engine->flow);
}

uint64_t oc_engine_clock(const oc_engine_t *engine)
{
    return engine->flow.clock;
}

void oc_engine_get_stats(const oc_engine_t *engine, oc_engine_stats_t *stats)
{
    *stats = engine->flow.stats;
    stats->flows_active = engine->flow.table.used;
    stats->fragments_duplicate = engine->frag.stats.duplicates;
    stats->fragments_overlap = engine->frag.stats.overlaps;
    stats->fragments_held = engine->frag.stats.held;
}
