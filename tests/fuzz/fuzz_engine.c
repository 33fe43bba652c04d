/*
 * Fuzz target for the whole engine: decoder, flow table, timers and callback.
 *
 * Input: one byte choosing the link type (low 4 bits) and engine options (bit 4: key tunnels
 * on the outer header, bit 5: DPI off, bit 6: fragment tracking off), then records of
 * {length: 2 bytes big-endian, time step: 1 byte (tens of milliseconds, up to 2.54 s; 255 jumps
 * to 2 s before the end of time, since a capture file can hold any timestamp), packet bytes}. The flow table holds only 8 flows, the fragment table 4 datagrams and the DPI pools
 * 4 flows, and the timeouts are 1-3 s, so that eviction, idle and active expiry, linger, port
 * reuse, fragment eviction and expiry and full pools all run on short inputs. Every record the
 * callback receives is checked for invariants that must hold whatever the packets were.
 *
 * The same packets also go through a second engine with oc_engine_process_batch() in groups
 * of changing sizes: its records (every byte, in order) and counters must equal those of the
 * packet-by-packet engine, since the batch path is documented as the same computation.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ocellus/ocellus.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The first eight keep the seeds' meaning (make_engine_seeds.py writes 0 = Ethernet); 147 is
 * a link type the decoder does not know. */
static const int links[16] = {OC_LINK_ETHERNET, OC_LINK_RAW, OC_LINK_NULL, OC_LINK_LINUX_SLL,
                              OC_LINK_LINUX_SLL2, 228, 229, 147,
                              OC_LINK_PPP, 50, OC_LINK_C_HDLC, 108, 12, 14, OC_LINK_ETHERNET,
                              OC_LINK_ETHERNET};

/* What a run produced: record count and an order-sensitive digest of every record. */
typedef struct digest {
    uint64_t records;
    uint64_t hash;
} digest_t;

static void digest_bytes(digest_t *d, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        d->hash = (d->hash ^ b[i]) * UINT64_C(0x100000001b3);
}

static void digest_record(digest_t *d, const oc_flow_info_t *in)
{
    oc_flow_info_t copy;
    memcpy(&copy, in, sizeof copy); /* the engine zeroes the view, padding included */
    copy.fields = NULL;
    digest_bytes(d, &copy, sizeof copy);
    if (in->fields != NULL)
        digest_bytes(d, in->fields, offsetof(oc_fields_t, buf) + in->fields->used);
}

static int batch_record(const oc_flow_info_t *in, void *user)
{
    digest_t *d = user;
    d->records++;
    digest_record(d, in);
    return 0;
}

static int check_record(const oc_flow_info_t *in, void *user)
{
    digest_t *dg = user;
    dg->records++;
    digest_record(dg, in);
    const int64_t(*st)[OC_DIRECTION_N] = in->statistics;
    if (st[OC_STAT_PACKETS][0] + st[OC_STAT_PACKETS][1] <= 0)
        abort(); /* empty records must never be reported */
    for (int d = 0; d < OC_DIRECTION_N; d++) {
        if (st[OC_STAT_PACKETS][d] < 0 || st[OC_STAT_OCTETS][d] < 0)
            abort();
        if (st[OC_STAT_PACKETS][d] > 0 &&
            st[OC_STAT_TIMESTAMP_FIRST][d] > st[OC_STAT_TIMESTAMP_LAST][d])
            abort();
        if (st[OC_STAT_L7_PACKETS][d] > st[OC_STAT_PACKETS][d])
            abort();
    }
    if (in->end_reason < OC_END_IDLE || in->end_reason > OC_END_RESOURCES)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    oc_config_t cfg;
    oc_config_init(&cfg);
    cfg.max_flows = 8;
    cfg.idle_timeout_s = 3;
    cfg.active_timeout_s = 2;
    cfg.tcp_linger_s = 1;
    cfg.max_frag_datagrams = data[0] & 0x40 ? 0 : 4;
    cfg.frag_timeout_s = 2;
    cfg.tunnels_outer = (data[0] & 0x10) != 0;
    cfg.dpi = (data[0] & 0x20) == 0;
    cfg.dpi_max_inspect = 4;
    cfg.dpi_max_fields = 4;
    cfg.hash_seed = 1;
    oc_engine_t *e = oc_engine_new(&cfg, NULL, 0);
    oc_engine_t *eb = oc_engine_new(&cfg, NULL, 0);
    if (e == NULL || eb == NULL)
        abort();
    digest_t one = {0, 0}, batched = {0, 0};
    oc_engine_set_termination_cb(e, check_record, &one);
    oc_engine_set_termination_cb(eb, batch_record, &batched);
    /* Groups of 1, 2, 3, ... 70 packets, then again: group edges land everywhere. */
    enum { GROUP_MAX = 70 };
    oc_packet_t group[GROUP_MAX];
    size_t group_n = 0, group_size = 1;
    int link = links[data[0] & 0x0f];
    size_t off = 1;
    uint64_t ts = UINT64_C(1700000000000000);
    uint64_t n = 0, attributed = 0, pending = 0;
    while (off + 3 <= size) {
        size_t len = (size_t)data[off] << 8 | data[off + 1];
        uint64_t step = (uint64_t)data[off + 2] * 10000u;
        if (data[off + 2] == 255)
            ts = UINT64_MAX - 2000000u;
        else
            ts = ts > UINT64_MAX - step ? UINT64_MAX : ts + step;
        off += 3;
        if (len > size - off)
            len = size - off;
        oc_packet_info_t pi;
        if (oc_engine_process(e, ts, data + off, (uint32_t)len, (uint32_t)len, link, &pi) ==
            OC_STATUS_OK) {
            attributed++;
            const oc_flow_info_t *v = oc_engine_packet_flow(e);
            if (v == NULL || v->statistics[OC_STAT_PACKETS][pi.direction] <= 0)
                abort();
        } else if (pi.skip == OC_SKIP_FRAGMENT) {
            pending++; /* dropped now, or held: attributed or orphaned later */
        }
        group[group_n++] = (oc_packet_t){ts, data + off, (uint32_t)len, (uint32_t)len, link};
        if (group_n == group_size) {
            size_t done = 0;
            if (oc_engine_process_batch(eb, group, group_n, &done) != OC_STATUS_OK ||
                done != group_n)
                abort();
            group_n = 0;
            group_size = group_size % GROUP_MAX + 1;
        }
        n++;
        off += len;
    }
    if (group_n > 0 && oc_engine_process_batch(eb, group, group_n, NULL) != OC_STATUS_OK)
        abort();
    oc_engine_flush(eb);
    oc_engine_flush(e);
    oc_engine_stats_t st;
    oc_engine_get_stats(e, &st);
    uint64_t skipped = 0;
    for (int i = 0; i < OC_SKIP_N; i++)
        skipped += st.packets_skipped[i];
    /* Every later fragment reported as OC_SKIP_FRAGMENT ends exactly one way: dropped at once,
     * orphaned, or attributed when its first fragment came. */
    if (st.packets != n || st.packets_attributed < attributed ||
        st.packets_attributed + skipped != n || st.flows_active != 0 ||
        st.packets_attributed - attributed + st.packets_skipped[OC_SKIP_FRAGMENT] +
                st.packets_skipped[OC_SKIP_FRAGMENT_ORPHAN] != pending)
        abort();
    uint64_t ended = 0;
    for (int i = 0; i < 6; i++)
        ended += st.records_ended[i];
    if (ended != one.records)
        abort();
    oc_engine_stats_t stb;
    oc_engine_get_stats(eb, &stb);
    if (one.records != batched.records || one.hash != batched.hash ||
        memcmp(&st, &stb, sizeof st) != 0)
        abort(); /* the batch path computed something else */
    oc_engine_free(e);
    oc_engine_free(eb);
    return 0;
}
