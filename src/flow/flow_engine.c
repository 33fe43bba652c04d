/*
 * The flow engine: attributes decoded packets to bidirectional flows, keeps per-direction
 * statistics, and ends flows (idle, active timeout, TCP close after a linger, end of input,
 * table full) through the termination callback.
 *
 * Timeouts use three lists instead of a timer wheel. Every flow sits on the activity list
 * (most recent first) and on one timer list: the active list in record-start order or the
 * linger list in close order. Because all flows on a list share one timeout, list order is
 * deadline order, so expiry pops from the tails/heads in O(1) per flow and is exact to the
 * microsecond, and the packet path only relinks the flow at the head of the activity list.
 * The clock is packet time and never moves back, so a capture always gives the same flows.
 */
#include "config.h"

#include <string.h>

#include "flow/flow.h"
#include "util/ut_hash.h"

#define US_PER_S UINT64_C(1000000)

/* ---- intrusive lists over flow indices -------------------------------------------- */

static void lru_unlink(flow_engine_t *e, uint32_t idx)
{
    flow_t *fl = e->table.flows;
    flow_t *f = &fl[idx];
    if (f->lru_prev != FLOW_NONE)
        fl[f->lru_prev].lru_next = f->lru_next;
    else
        e->lru.head = f->lru_next;
    if (f->lru_next != FLOW_NONE)
        fl[f->lru_next].lru_prev = f->lru_prev;
    else
        e->lru.tail = f->lru_prev;
}

static void lru_push_head(flow_engine_t *e, uint32_t idx)
{
    flow_t *fl = e->table.flows;
    flow_t *f = &fl[idx];
    f->lru_prev = FLOW_NONE;
    f->lru_next = e->lru.head;
    if (e->lru.head != FLOW_NONE)
        fl[e->lru.head].lru_prev = idx;
    else
        e->lru.tail = idx;
    e->lru.head = idx;
}

static void tl_unlink(flow_engine_t *e, uint32_t idx)
{
    if (e->table.flows[idx].timer_list == FLOW_TL_NONE)
        return;
    flow_cold_t *cl = e->table.cold;
    flow_cold_t *c = &cl[idx];
    flow_list_t *l = &e->timers[e->table.flows[idx].timer_list];
    if (c->tl_prev != FLOW_NONE)
        cl[c->tl_prev].tl_next = c->tl_next;
    else
        l->head = c->tl_next;
    if (c->tl_next != FLOW_NONE)
        cl[c->tl_next].tl_prev = c->tl_prev;
    else
        l->tail = c->tl_prev;
}

/* Timer lists are FIFOs: the newest deadline goes to the tail. */
static void tl_push_tail(flow_engine_t *e, uint32_t idx, uint8_t list)
{
    flow_cold_t *cl = e->table.cold;
    flow_cold_t *c = &cl[idx];
    flow_list_t *l = &e->timers[list];
    e->table.flows[idx].timer_list = list;
    c->tl_next = FLOW_NONE;
    c->tl_prev = l->tail;
    if (l->tail != FLOW_NONE)
        cl[l->tail].tl_next = idx;
    else
        l->head = idx;
    l->tail = idx;
}

/* ---- keys ----------------------------------------------------------------------------- */

static bool icmp_is_echo(const dec_packet_t *p)
{
    if (p->proto == 1)
        return p->icmp_type == DEC_ICMP4_ECHO_REQUEST || p->icmp_type == DEC_ICMP4_ECHO_REPLY;
    if (p->proto == 58)
        return p->icmp_type == DEC_ICMP6_ECHO_REQUEST || p->icmp_type == DEC_ICMP6_ECHO_REPLY;
    return false;
}

/* Eight bytes as a big-endian number (compilers turn this into a load and a byte swap). */
static inline uint64_t load_be64(const uint8_t *b)
{
    return (uint64_t)b[0] << 56 | (uint64_t)b[1] << 48 | (uint64_t)b[2] << 40 |
           (uint64_t)b[3] << 32 | (uint64_t)b[4] << 24 | (uint64_t)b[5] << 16 |
           (uint64_t)b[6] << 8 | (uint64_t)b[7];
}

/* memcmp()'s order over two 16-byte addresses, as two big-endian words: a libc call per
 * packet cost more than the comparison itself. */
static inline int addr_cmp(const uint8_t *a, const uint8_t *b)
{
    for (unsigned i = 0; i < 16; i += 8) {
        uint64_t u = load_be64(a + i), v = load_be64(b + i);
        if (u != v)
            return u < v ? -1 : 1;
    }
    return 0;
}

unsigned flow_key_from_packet(const dec_packet_t *p, flow_key_t *k)
{
    uint16_t sport = p->sport, dport = p->dport;
    if (p->proto == 1 || p->proto == 58) {
        /* Echo request and reply share the identifier and form one biflow; any other ICMP
         * message is keyed by its type and code, so errors stay apart from the echo flow. */
        if (icmp_is_echo(p)) {
            sport = p->icmp_id;
            dport = p->icmp_id;
        } else {
            sport = 0;
            dport = (uint16_t)(p->icmp_type << 8 | p->icmp_code);
        }
    }
    memset(k, 0, sizeof *k);
    int c = addr_cmp(p->src, p->dst);
    bool swap = c > 0 || (c == 0 && sport > dport);
    unsigned a = swap ? 1u : 0u;
    memcpy(k->addr[a], p->src, 16);
    memcpy(k->addr[a ^ 1u], p->dst, 16);
    k->port[a] = sport;
    k->port[a ^ 1u] = dport;
    k->vlan = p->vlan_id;
    k->vlan_inner = p->vlan_inner;
    k->proto = p->proto;
    /* Echo flows are marked in the family byte's high bit so that an echo identifier equal
     * to some type/code value never shares a key with a non-echo message. */
    k->family = (uint8_t)(p->family | (icmp_is_echo(p) ? 0x80 : 0));
    return a;
}

/* @t + @d, saturating. A capture file can hold any timestamp (a microsecond field past
 * 999999, a pcapng resolution that overflows), and a deadline that wrapped round would lie
 * in the past: the flow would end at once. */
static inline pkt_time_t time_after(pkt_time_t t, pkt_time_t d)
{
    return t > UINT64_MAX - d ? UINT64_MAX : t + d;
}

/* ---- ending flows ------------------------------------------------------------------- */

const oc_flow_info_t *flow_engine_info(flow_engine_t *e, uint32_t idx, oc_end_reason_t reason)
{
    const flow_t *f = &e->table.flows[idx];
    const flow_cold_t *c = &e->table.cold[idx];
    oc_flow_info_t *in = &e->info;
    unsigned s = f->src_side, d = s ^ 1u;

    memset(in, 0, sizeof *in);
    in->id = c->id;
    in->end_reason = reason;
    in->key.family = f->key.family & 0x7f;
    in->key.protocol = f->key.proto;
    in->key.vlan_id = f->key.vlan;
    in->key.inner_vlan_id = f->key.vlan_inner;
    memcpy(in->key.src_addr, f->key.addr[s], 16);
    memcpy(in->key.dst_addr, f->key.addr[d], 16);
    bool icmp = f->key.proto == 1 || f->key.proto == 58;
    in->key.src_port = icmp ? 0 : f->key.port[s];
    in->key.dst_port = icmp ? 0 : f->key.port[d];
    if (f->tunnel != FLOW_NONE)
        in->tunnel = e->table.tunnels[f->tunnel];
    in->protocol = f->app;
    if (f->app == OC_PROTO_UNKNOWN)
        in->protocol_guess = (uint16_t)oc_protocol_guess(f->key.proto, in->key.src_port,
                                                         in->key.dst_port);
    if (e->dpi != NULL)
        in->fields = dpi_fields(e->dpi, &f->dpi);

    for (unsigned dir = 0; dir < OC_DIRECTION_N; dir++) {
        int64_t *st[OC_STAT_N];
        for (unsigned k = 0; k < OC_STAT_N; k++)
            st[k] = &in->statistics[k][dir];
        bool seen = f->packets[dir] > 0;
        *st[OC_STAT_PACKETS] = (int64_t)f->packets[dir];
        *st[OC_STAT_OCTETS] = (int64_t)f->octets[dir];
        *st[OC_STAT_TIMESTAMP_FIRST] = seen ? (int64_t)c->first[dir] : 0;
        *st[OC_STAT_TIMESTAMP_LAST] = seen ? (int64_t)f->last[dir] : 0;
        *st[OC_STAT_TCP_FLAGS_INITIAL] = f->flags_init[dir];
        *st[OC_STAT_TCP_FLAGS_UNION] = f->flags_union[dir];
        *st[OC_STAT_TCP_SYN] = c->syn[dir];
        *st[OC_STAT_TCP_FIN] = c->fin[dir];
        *st[OC_STAT_TCP_RST] = c->rst[dir];
        *st[OC_STAT_TCP_RETRANSMISSIONS] = c->retrans[dir];
        *st[OC_STAT_TCP_ZERO_WINDOW] = c->zero_window[dir];
        *st[OC_STAT_TCP_WINDOW_SCALE] = f->wscale[dir];
        *st[OC_STAT_TCP_RTT] = c->rtt[dir];
        *st[OC_STAT_L7_PACKETS] = (int64_t)c->l7_packets[dir];
        *st[OC_STAT_L7_OCTETS] = (int64_t)c->l7_octets[dir];
        in->icmp_type_code[dir] = icmp && seen ? c->icmp_type_code[dir] : -1;
    }
    return in;
}

static void deliver(flow_engine_t *e, uint32_t idx, oc_end_reason_t reason)
{
    const flow_t *f = &e->table.flows[idx];
    if (f->packets[0] == 0 && f->packets[1] == 0)
        return; /* a record emptied by an active timeout and never refilled says nothing */
    e->stats.records_ended[reason]++;
    if (e->cb == NULL)
        return;
    if (e->cb(flow_engine_info(e, idx, reason), e->cb_data) != 0)
        e->stopped = true;
}

static void flow_end(flow_engine_t *e, uint32_t idx, oc_end_reason_t reason)
{
    deliver(e, idx, reason);
    if (e->dpi != NULL)
        dpi_flow_release(e->dpi, &e->table.flows[idx].dpi);
    lru_unlink(e, idx);
    tl_unlink(e, idx);
    flow_table_remove(&e->table, idx, flow_key_hash(e, &e->table.flows[idx].key));
    if (e->last_flow == idx)
        e->last_flow = FLOW_NONE;
    e->stats.flows_active--;
}

/* Active timeout: report the record and go on with fresh counters. TCP state, orientation
 * and the handshake measurements belong to the connection, not the record, and stay. The
 * emptied flow leaves the active list until its next packet starts the next record, so a
 * record never spans more than the active timeout from its first packet. */
static void flow_cut(flow_engine_t *e, uint32_t idx)
{
    flow_t *f = &e->table.flows[idx];
    flow_cold_t *c = &e->table.cold[idx];
    deliver(e, idx, OC_END_ACTIVE);
    memset(f->packets, 0, sizeof f->packets);
    memset(f->octets, 0, sizeof f->octets);
    memset(f->last, 0, sizeof f->last);
    memset(f->flags_init, 0, sizeof f->flags_init);
    memset(f->flags_union, 0, sizeof f->flags_union);
    memset(c->first, 0, sizeof c->first);
    memset(c->syn, 0, sizeof c->syn);
    memset(c->fin, 0, sizeof c->fin);
    memset(c->rst, 0, sizeof c->rst);
    memset(c->retrans, 0, sizeof c->retrans);
    memset(c->zero_window, 0, sizeof c->zero_window);
    memset(c->l7_packets, 0, sizeof c->l7_packets);
    memset(c->l7_octets, 0, sizeof c->l7_octets);
    /* A closed connection stays on the linger list (an octet-limit cut can hit a trailing
     * packet): its next record still ends with the linger, not an idle timeout. */
    if (f->timer_list == FLOW_TL_ACTIVE) {
        tl_unlink(e, idx);
        f->timer_list = FLOW_TL_NONE;
    }
}

/* Ends whatever is due at e->clock, earliest deadline first, so that a clock jump over
 * several deadlines of one flow (active cut, then idle) has the same outcome as a clock
 * that moved in small steps. Each list is in deadline order, so only heads compete. */
static void expire(flow_engine_t *e)
{
    const pkt_time_t now = e->clock;
    /* next_due is a lower bound of every deadline (see due_at), so most packets stop here
     * without touching any list head. */
    if (now < e->next_due)
        return;
    const pkt_time_t idle = (pkt_time_t)e->cfg.idle_timeout_s * US_PER_S;
    const pkt_time_t active = (pkt_time_t)e->cfg.active_timeout_s * US_PER_S;
    const pkt_time_t linger = (pkt_time_t)e->cfg.tcp_linger_s * US_PER_S;
    const flow_t *fl = e->table.flows;
    const flow_cold_t *cl = e->table.cold;

    for (;;) {
        uint32_t li = e->timers[FLOW_TL_LINGER].head, ii = e->lru.tail,
                 ai = e->timers[FLOW_TL_ACTIVE].head;
        pkt_time_t dl = li != FLOW_NONE ? time_after(cl[li].closed_at, linger) : UINT64_MAX;
        pkt_time_t di = ii != FLOW_NONE ? time_after(fl[ii].activity, idle) : UINT64_MAX;
        pkt_time_t da = ai != FLOW_NONE ? time_after(cl[ai].record_start, active) : UINT64_MAX;
        /* UINT64_MAX is also a real time (the clock can reach it): an empty list must not
         * win a comparison it ties. */
        if (li != FLOW_NONE && dl <= di && dl <= da && dl <= now)
            flow_end(e, li, OC_END_TCP);
        else if (ii != FLOW_NONE && di <= da && di <= now)
            flow_end(e, ii, (fl[ii].state & FLOW_ST_CLOSED) ? OC_END_TCP : OC_END_IDLE);
        else if (ai != FLOW_NONE && da <= now)
            flow_cut(e, ai);
        else {
            e->next_due = dl < di ? (dl < da ? dl : da) : (di < da ? di : da);
            break;
        }
    }
}

/* Records a new deadline so that expire() keeps next_due a lower bound of all of them. */
static inline void due_at(flow_engine_t *e, pkt_time_t deadline)
{
    if (deadline < e->next_due)
        e->next_due = deadline;
}

/* ---- packets ------------------------------------------------------------------------ */

static inline bool seq_after(uint32_t a, uint32_t b) /* a > b in sequence space */
{
    return (int32_t)(a - b) > 0;
}

static uint32_t flow_new(flow_engine_t *e, const flow_key_t *key, uint32_t hash,
                         unsigned pkt_side, const dec_packet_t *p)
{
    uint32_t idx = flow_table_insert(&e->table, key, hash);
    if (idx == FLOW_NONE) {
        /* Table full: the least recently active flow makes room. */
        flow_end(e, e->lru.tail, OC_END_RESOURCES);
        idx = flow_table_insert(&e->table, key, hash);
    }
    flow_t *f = &e->table.flows[idx];
    flow_cold_t *c = &e->table.cold[idx];
    /* A SYN/ACK seen first means the capture began mid-handshake: its receiver opened the
     * connection and is the source. */
    bool synack = p->proto == 6 && (p->tcp_flags & (DEC_TCP_SYN | DEC_TCP_ACK | DEC_TCP_RST)) ==
                                       (DEC_TCP_SYN | DEC_TCP_ACK);
    f->src_side = (uint8_t)(synack ? pkt_side ^ 1u : pkt_side);
    c->id = ++e->next_id;
    c->record_start = e->clock;
    due_at(e, time_after(e->clock, (pkt_time_t)e->cfg.active_timeout_s * US_PER_S));
    c->rtt[0] = c->rtt[1] = -1;
    f->wscale[0] = f->wscale[1] = -1;
    c->icmp_type_code[0] = c->icmp_type_code[1] = -1;
    f->dpi.inspect = f->dpi.fields = DPI_NONE;
    f->dpi_state = e->dpi != NULL ? DPI_ST_NEW : DPI_ST_DONE;
    f->app = OC_PROTO_UNKNOWN;
    if (p->tunnel_type != DEC_TUNNEL_NONE) {
        oc_tunnel_t tun = {.type = p->tunnel_type, .family = p->outer_family};
        memcpy(tun.src_addr, p->outer_src, sizeof tun.src_addr);
        memcpy(tun.dst_addr, p->outer_dst, sizeof tun.dst_addr);
        flow_table_set_tunnel(&e->table, idx, &tun);
    }
    tl_push_tail(e, idx, FLOW_TL_ACTIVE);
    lru_push_head(e, idx);
    e->stats.flows_created++;
    e->stats.flows_active++;
    return idx;
}

static void tcp_close(flow_engine_t *e, uint32_t idx)
{
    flow_t *f = &e->table.flows[idx];
    f->state |= FLOW_ST_CLOSED;
    e->table.cold[idx].closed_at = e->clock;
    due_at(e, time_after(e->clock, (pkt_time_t)e->cfg.tcp_linger_s * US_PER_S));
    tl_unlink(e, idx);
    tl_push_tail(e, idx, FLOW_TL_LINGER);
}

/* A handshake half in microseconds; one that took over half an hour saturates. */
static inline int32_t rtt_us(pkt_time_t d)
{
    return d > INT32_MAX ? INT32_MAX : (int32_t)d;
}

static void tcp_update(flow_engine_t *e, uint32_t idx, unsigned dir, pkt_time_t ts,
                       const dec_packet_t *p)
{
    flow_t *f = &e->table.flows[idx];
    flow_cold_t *c = &e->table.cold[idx];
    const uint8_t fl = p->tcp_flags;
    const uint8_t seq_bit = dir == OC_DIRECTION_OUTBOUND ? FLOW_ST_SEQ_OUT : FLOW_ST_SEQ_IN;

    uint32_t seg_len = p->l4_payload_len + ((fl & DEC_TCP_SYN) ? 1u : 0u) + ((fl & DEC_TCP_FIN) ? 1u : 0u);
    if (seg_len > 0 && !(fl & DEC_TCP_RST)) {
        uint32_t end = p->tcp_seq + seg_len;
        if ((f->state & seq_bit) && !seq_after(end, c->seq_end[dir])) {
            c->retrans[dir]++;
        } else {
            c->seq_end[dir] = end;
            f->state |= seq_bit;
        }
    }
    if (p->tcp_window == 0 && !(fl & DEC_TCP_RST))
        c->zero_window[dir]++;

    if (fl & DEC_TCP_SYN) {
        c->syn[dir]++;
        if (p->tcp_wscale >= 0)
            f->wscale[dir] = p->tcp_wscale;
    }
    /* RTT from the handshake: the server's half is SYN to SYN/ACK, the client's SYN/ACK to
     * the client's first ACK. Only the first of each packet counts, and a merged capture
     * that delivers them out of order measures nothing. */
    const uint8_t hs = f->state & FLOW_ST_HS_MASK;
    if ((fl & (DEC_TCP_SYN | DEC_TCP_ACK)) == DEC_TCP_SYN) {
        if (dir == OC_DIRECTION_OUTBOUND && hs == FLOW_ST_HS_NONE) {
            c->hs_ts = ts;
            f->state = (uint8_t)((f->state & ~FLOW_ST_HS_MASK) | FLOW_ST_HS_SYN);
        }
    } else if (fl & DEC_TCP_SYN) {
        if (dir == OC_DIRECTION_INBOUND && hs == FLOW_ST_HS_SYN && ts >= c->hs_ts) {
            c->rtt[OC_DIRECTION_OUTBOUND] = rtt_us(ts - c->hs_ts);
            c->hs_ts = ts;
            f->state = (uint8_t)((f->state & ~FLOW_ST_HS_MASK) | FLOW_ST_HS_SYNACK);
        }
    } else if (hs == FLOW_ST_HS_SYNACK && dir == OC_DIRECTION_OUTBOUND && (fl & DEC_TCP_ACK) &&
               ts >= c->hs_ts) {
        c->rtt[OC_DIRECTION_INBOUND] = rtt_us(ts - c->hs_ts);
        f->state |= FLOW_ST_HS_DONE;
    }

    if (fl & DEC_TCP_RST) {
        c->rst[dir]++;
        if (!(f->state & FLOW_ST_CLOSED))
            tcp_close(e, idx);
        return;
    }
    const uint8_t fin_bit = dir == OC_DIRECTION_OUTBOUND ? FLOW_ST_FIN_OUT : FLOW_ST_FIN_IN;
    if (fl & DEC_TCP_FIN) {
        c->fin[dir]++;
        if (!(f->state & fin_bit)) {
            f->state |= fin_bit | FLOW_ST_HS_DONE; /* fin_seq overwrites hs_ts */
            c->fin_seq[dir] = p->tcp_seq + p->l4_payload_len + 1u;
            if (dir == OC_DIRECTION_INBOUND)
                f->state |= FLOW_ST_LAST_FIN_IN;
            else
                f->state &= (uint8_t)~FLOW_ST_LAST_FIN_IN;
        }
    }
    /* Closed once both FINs were sent and the one sent last is acknowledged by its peer. */
    if ((fl & DEC_TCP_ACK) && !(f->state & FLOW_ST_CLOSED) &&
        (f->state & (FLOW_ST_FIN_OUT | FLOW_ST_FIN_IN)) == (FLOW_ST_FIN_OUT | FLOW_ST_FIN_IN)) {
        unsigned last = (f->state & FLOW_ST_LAST_FIN_IN) ? OC_DIRECTION_INBOUND : OC_DIRECTION_OUTBOUND;
        if (dir != last && !seq_after(c->fin_seq[last], p->tcp_ack))
            tcp_close(e, idx);
    }
}

oc_status_t flow_engine_packet(flow_engine_t *e, pkt_time_t ts, const dec_packet_t *p,
                               oc_packet_info_t *info)
{
    if (e->stopped)
        return OC_STATUS_STOPPED;
    return flow_engine_packet_held(e, ts, p, info);
}

oc_status_t flow_engine_packet_held(flow_engine_t *e, pkt_time_t ts, const dec_packet_t *p,
                                    oc_packet_info_t *info)
{
    flow_key_t key;
    unsigned pkt_side = flow_key_from_packet(p, &key);
    return flow_engine_packet_keyed(e, ts, p, &key, pkt_side, flow_key_hash(e, &key), info);
}

oc_status_t flow_engine_packet_keyed(flow_engine_t *e, pkt_time_t ts, const dec_packet_t *p,
                                     const flow_key_t *key, unsigned pkt_side, uint32_t hash,
                                     oc_packet_info_t *info)
{
    const bool older = ts < e->clock;
    if (ts > e->clock) {
        e->clock = ts;
        expire(e);
    } else if (older) {
        e->stats.packets_out_of_order++;
    }

    uint32_t idx = flow_table_lookup(&e->table, key, hash);
    bool created = false;

    if (idx != FLOW_NONE && (e->table.flows[idx].state & FLOW_ST_CLOSED) && p->proto == 6 &&
        (p->tcp_flags & (DEC_TCP_SYN | DEC_TCP_ACK)) == DEC_TCP_SYN) {
        /* Port reuse: a new connection during the linger ends the old one now. */
        flow_end(e, idx, OC_END_TCP);
        idx = FLOW_NONE;
    }
    if (idx == FLOW_NONE) {
        idx = flow_new(e, key, hash, pkt_side, p);
        created = true;
    }

    flow_t *f = &e->table.flows[idx];
    unsigned dir = pkt_side == f->src_side ? OC_DIRECTION_OUTBOUND : OC_DIRECTION_INBOUND;
    /* Collectors with 32-bit octet counters would wrap without the octet limit; the packet
     * limit keeps flow_t's 32-bit packet counters exact (at line rate a record reaches it
     * after minutes, never within the default active timeout below 14 M packets/s). */
    if (f->packets[dir] != 0 &&
        (f->packets[dir] == UINT32_MAX ||
         (e->cfg.max_record_octets != 0 &&
          f->octets[dir] + p->ip_octets > e->cfg.max_record_octets)))
        flow_cut(e, idx);
    if (f->timer_list == FLOW_TL_NONE) {
        /* First packet after an active-timeout cut: the next record starts here. */
        e->table.cold[idx].record_start = e->clock;
        due_at(e, time_after(e->clock, (pkt_time_t)e->cfg.active_timeout_s * US_PER_S));
        tl_push_tail(e, idx, FLOW_TL_ACTIVE);
    }
    if (f->packets[dir] == 0) {
        flow_cold_t *c = &e->table.cold[idx];
        c->first[dir] = ts;
        f->flags_init[dir] = p->proto == 6 ? p->tcp_flags : 0;
        if (p->proto == 1 || p->proto == 58)
            c->icmp_type_code[dir] = p->icmp_type << 8 | p->icmp_code;
    } else if (older && ts < e->table.cold[idx].first[dir]) {
        /* Out-of-order capture. Only a packet older than the clock can be older than the
         * first: testing that first spares the cold record's second line on every packet. */
        e->table.cold[idx].first[dir] = ts;
    }
    f->packets[dir]++;
    f->octets[dir] += p->ip_octets;
    if (ts > f->last[dir])
        f->last[dir] = ts;
    f->activity = e->clock;
    due_at(e, time_after(e->clock, e->idle_us));
    if (p->l4_payload_len > 0) {
        flow_cold_t *c = &e->table.cold[idx];
        c->l7_packets[dir]++;
        c->l7_octets[dir] += p->l4_payload_len;
    }
    /* A later fragment repeats its datagram's TCP header only as a copy, and a tiny first
     * fragment lacks most of it: counting their flags, windows or sequence numbers again
     * would inflate the segment counters. The packet and its octets still count. */
    if (p->proto == 6 && p->frag != DEC_FRAG_LATER && !p->frag_tiny) {
        f->flags_union[dir] |= p->tcp_flags;
        tcp_update(e, idx, dir, ts, p);
    }
    if (f->dpi_state != DPI_ST_DONE)
        dpi_packet(e->dpi, &f->dpi, &f->dpi_state, &f->app, dir, ts, p,
                   &e->stats);
    if (e->lru.head != idx) {
        lru_unlink(e, idx);
        lru_push_head(e, idx);
    }

    e->last_flow = idx;
    e->stats.packets_attributed++;
    if (info != NULL) {
        info->skip = OC_SKIP_NONE;
        info->direction = (oc_direction_t)dir;
        info->new_flow = created;
        info->protocol = f->app;
    }
    return e->stopped ? OC_STATUS_STOPPED : OC_STATUS_OK;
}

oc_status_t flow_engine_advance(flow_engine_t *e, pkt_time_t now)
{
    if (now > e->clock) {
        e->clock = now;
        expire(e);
    }
    e->last_flow = FLOW_NONE;
    return e->stopped ? OC_STATUS_STOPPED : OC_STATUS_OK;
}

oc_status_t flow_engine_flush(flow_engine_t *e)
{
    /* Oldest activity first, so records come out in roughly the order flows went quiet. */
    while (e->lru.tail != FLOW_NONE)
        flow_end(e, e->lru.tail, (e->table.flows[e->lru.tail].state & FLOW_ST_CLOSED)
                                     ? OC_END_TCP : OC_END_FORCED);
    e->last_flow = FLOW_NONE;
    return e->stopped ? OC_STATUS_STOPPED : OC_STATUS_OK;
}

void flow_engine_init(flow_engine_t *e, const oc_config_t *cfg)
{
    memset(e, 0, sizeof *e);
    e->cfg = *cfg;
    e->seed = cfg->hash_seed;
    for (unsigned i = 0; i < 6; i++)
        e->hash_k[i] = ut_hash_mix64(e->seed + (i + 1) * UINT64_C(0x9e3779b97f4a7c15));
    flow_table_init(&e->table, cfg->max_flows);
    e->next_due = UINT64_MAX;
    e->idle_us = (pkt_time_t)cfg->idle_timeout_s * US_PER_S;
    e->lru.head = e->lru.tail = FLOW_NONE;
    for (unsigned i = 0; i < FLOW_TL_N; i++)
        e->timers[i].head = e->timers[i].tail = FLOW_NONE;
    e->last_flow = FLOW_NONE;
    if (cfg->dpi)
        dpi_init(&e->dpi, cfg);
}

void flow_engine_clear(flow_engine_t *e)
{
    dpi_free(e->dpi);
    flow_table_clear(&e->table);
    memset(e, 0, sizeof *e);
}
