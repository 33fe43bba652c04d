/*
 * Test helper: feeds flow records described on standard input to one output of
 * src/export (exp.h), so the integration tests can check what collectors make of our IPFIX
 * without depending on the ocellus command's output wiring.
 *
 *   exp_feed -o URI [-u] [-t TEMPLATE] [-d DATAGRAM_SIZE] [-i INGRESS] [-q QUEUE]
 *            [-n COUNT] [-r RATE] [-l LOG] [-c CLOSE_MS] [-S ROTATE_SIZE]
 *            [-I ROTATE_INTERVAL_S] [< flows]
 *
 * One flow per line, whitespace separated ('#' lines are skipped):
 *   SRC DST SPORT DPORT PROTO VLAN
 *   OUT_PKTS OUT_OCTETS OUT_FIRST_US OUT_LAST_US OUT_INIT_FLAGS OUT_UNION_FLAGS
 *   IN_PKTS IN_OCTETS IN_FIRST_US IN_LAST_US IN_INIT_FLAGS IN_UNION_FLAGS END_REASON
 * With -n COUNT, no input is read: COUNT distinct IPv4 UDP flows are made up instead, flow
 * i (from 1) with flowId i, source 10.(i>>16).(i>>8).i port 1024 + i % 50000, destination
 * 192.0.2.1:53, i % 7 + 1 packets and 100 * (i % 7 + 1) octets each way, the forward
 * direction from 1700000000000 + i ms for 2 s, the reverse one 500 ms later.
 * -r RATE submits at most RATE records per second (to keep a run going while a test stops
 * and restarts a collector); -l LOG writes "FLOWID UNIX_MS accepted|refused" per record
 * submitted; -c is the close timeout (default 10000 ms); -S and -I set rotate_size (bytes)
 * and rotate_interval (seconds) of a file: output.
 * Prints the output's final counters on standard error ("exp_feed: in N sent N lost N
 * possibly_lost N queued N messages N send_errors N connections N"); exits 0 when no record
 * was lost.
 */
#include "config.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export/exp.h"

static bool parse_line(char *line, oc_flow_info_t *f, uint64_t id)
{
    char src[64], dst[64];
    unsigned sport, dport, proto, vlan, reason;
    unsigned long long v[12];
    int n = sscanf(line,
                   "%63s %63s %u %u %u %u %llu %llu %llu %llu %llx %llx %llu %llu %llu %llu "
                   "%llx %llx %u",
                   src, dst, &sport, &dport, &proto, &vlan, &v[0], &v[1], &v[2], &v[3], &v[4],
                   &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11], &reason);
    if (n != 19)
        return false;
    memset(f, 0, sizeof *f);
    f->id = id;
    if (inet_pton(AF_INET, src, f->key.src_addr) == 1 &&
        inet_pton(AF_INET, dst, f->key.dst_addr) == 1)
        f->key.family = OC_FAMILY_IPV4;
    else if (inet_pton(AF_INET6, src, f->key.src_addr) == 1 &&
             inet_pton(AF_INET6, dst, f->key.dst_addr) == 1)
        f->key.family = OC_FAMILY_IPV6;
    else
        return false;
    f->key.src_port = (uint16_t)sport;
    f->key.dst_port = (uint16_t)dport;
    f->key.protocol = (uint8_t)proto;
    f->key.vlan_id = (uint16_t)vlan;
    static const int stat[6] = { OC_STAT_PACKETS, OC_STAT_OCTETS, OC_STAT_TIMESTAMP_FIRST,
                                 OC_STAT_TIMESTAMP_LAST, OC_STAT_TCP_FLAGS_INITIAL,
                                 OC_STAT_TCP_FLAGS_UNION };
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < 6; i++)
            f->statistics[stat[i]][d] = (int64_t)v[d * 6 + i];
    f->icmp_type_code[0] = f->icmp_type_code[1] = -1;
    f->end_reason = (oc_end_reason_t)reason;
    return true;
}

static void make_flow(oc_flow_info_t *f, uint64_t i)
{
    memset(f, 0, sizeof *f);
    f->id = i;
    f->key.family = OC_FAMILY_IPV4;
    f->key.protocol = 17;
    const uint8_t src[4] = { 10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i };
    const uint8_t dst[4] = { 192, 0, 2, 1 };
    memcpy(f->key.src_addr, src, 4);
    memcpy(f->key.dst_addr, dst, 4);
    f->key.src_port = (uint16_t)(1024 + i % 50000);
    f->key.dst_port = 53;
    int64_t t0 = 1700000000000000 + (int64_t)i * 1000;
    for (int d = 0; d < 2; d++) {
        f->statistics[OC_STAT_PACKETS][d] = (int64_t)(i % 7 + 1);
        f->statistics[OC_STAT_OCTETS][d] = 100 * (int64_t)(i % 7 + 1);
        f->statistics[OC_STAT_TIMESTAMP_FIRST][d] = t0 + d * 500000;
        f->statistics[OC_STAT_TIMESTAMP_LAST][d] = t0 + 2000000 + d * 500000;
    }
    f->icmp_type_code[0] = f->icmp_type_code[1] = -1;
    f->end_reason = OC_END_IDLE;
}

/* Waits until record @n (from 0) is due at @rate per second since @t0_us. */
static void pace(double rate, gint64 t0_us, uint64_t n)
{
    if (rate <= 0)
        return;
    gint64 due = t0_us + (gint64)((double)n * G_USEC_PER_SEC / rate);
    gint64 now = g_get_monotonic_time();
    if (due > now)
        g_usleep((gulong)(due - now));
}

int main(int argc, char **argv)
{
    exp_output_cfg_t cfg;
    exp_output_cfg_init(&cfg);
    uint64_t count = 0;
    double rate = 0;
    const char *log_path = NULL;
    uint32_t close_ms = 10000;
    int c;
    while ((c = getopt(argc, argv, "o:ut:d:i:q:n:r:l:c:S:I:")) != -1) {
        switch (c) {
        case 'o': cfg.uri = optarg; break;
        case 'u': cfg.uniflow = true; break;
        case 't': cfg.template_path = optarg; break;
        case 'd': cfg.datagram_size = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'i': cfg.ingress_interface = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'q': cfg.queue_records = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'n': count = strtoull(optarg, NULL, 10); break;
        case 'r': rate = strtod(optarg, NULL); break;
        case 'l': log_path = optarg; break;
        case 'c': close_ms = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'S': cfg.rotate_size = strtoull(optarg, NULL, 10); break;
        case 'I': cfg.rotate_interval_s = (uint32_t)strtoul(optarg, NULL, 10); break;
        default:
            fprintf(stderr, "usage: exp_feed -o URI [-u] [-t TEMPLATE] [-d SIZE] [-i IF] "
                            "[-q QUEUE] [-n COUNT] [-r RATE] [-l LOG] [-c CLOSE_MS] "
                            "[-S ROTATE_SIZE] [-I ROTATE_INTERVAL_S] [< flows]\n");
            return 2;
        }
    }
    GError *err = NULL;
    exp_output_t *out = exp_output_new(&cfg, &err);
    if (out == NULL) {
        fprintf(stderr, "exp_feed: %s\n", err->message);
        g_error_free(err);
        return 1;
    }
    FILE *log = NULL;
    if (log_path != NULL && (log = fopen(log_path, "w")) == NULL) {
        fprintf(stderr, "exp_feed: %s: cannot open\n", log_path);
        return 2;
    }
    char line[1024];
    uint64_t id = 0, lineno = 0;
    int rc = 0;
    gint64 t0 = g_get_monotonic_time();
    for (;;) {
        oc_flow_info_t f;
        if (count > 0) {
            if (id == count)
                break;
            make_flow(&f, ++id);
        } else {
            if (fgets(line, sizeof line, stdin) == NULL)
                break;
            lineno++;
            if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0')
                continue;
            if (!parse_line(line, &f, ++id)) {
                fprintf(stderr, "exp_feed: line %" PRIu64 ": cannot parse\n", lineno);
                rc = 2;
                break;
            }
        }
        pace(rate, t0, id - 1);
        bool ok = exp_output_submit(out, &f);
        if (log != NULL)
            fprintf(log, "%" PRIu64 " %" PRId64 " %s\n", id, g_get_real_time() / 1000,
                    ok ? "accepted" : "refused");
    }
    if (log != NULL)
        fclose(log);
    exp_output_stats_t st;
    bool all = exp_output_close_stats(out, close_ms, &st);
    fprintf(stderr, "exp_feed: in %" PRIu64 " sent %" PRIu64 " lost %" PRIu64 " possibly_lost %"
            PRIu64 " queued %" PRIu64 " messages %" PRIu64 " send_errors %" PRIu64
            " connections %" PRIu64 "\n", st.records_in, st.records_sent, st.records_lost,
            st.records_possibly_lost, st.records_queued, st.messages_sent, st.send_errors,
            st.connections);
    return rc != 0 ? rc : all ? 0 : 1;
}
