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

_Static_assert((int)DEC_NOT_IP == (int)OC_SKIP_NOT_IP && (int)DEC_TOO_DEEP == (int)OC_SKIP_TOO_DEEP &&
                   (int)DEC_N_STATUS == (int)OC_SKIP_N,
               "decoder statuses index the public skip counters");

struct oc_engine {
    flow_engine_t flow;
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
    return e;
}

void oc_engine_free(oc_engine_t *engine)
{
    if (engine == NULL)
        return;
    flow_engine_clear(&engine->flow);
    free(engine);
}

void oc_engine_set_termination_cb(oc_engine_t *engine, oc_flow_termination_cb cb, void *user_data)
{
    engine->flow.cb = cb;
    engine->flow.cb_data = user_data;
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
    dec_status_t st = dec_packet(link, data, caplen, &pkt);
    if (st != DEC_OK) {
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
    return flow_engine_packet(e, ts_us, &pkt, info);
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
    return flow_engine_advance(&engine->flow, now_us);
}

oc_status_t oc_engine_flush(oc_engine_t *engine)
{
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
}
