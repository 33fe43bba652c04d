/*
 * Test helper: feeds flow records described on standard input to one output of
 * src/export (exp.h), so the integration tests can check what collectors make of our IPFIX
 * without depending on the ocellus command's output wiring.
 *
 *   exp_feed -o URI [-u] [-t TEMPLATE] [-d DATAGRAM_SIZE] [-i INGRESS] [-q QUEUE] < flows
 *
 * One flow per line, whitespace separated ('#' lines are skipped):
 *   SRC DST SPORT DPORT PROTO VLAN
 *   OUT_PKTS OUT_OCTETS OUT_FIRST_US OUT_LAST_US OUT_INIT_FLAGS OUT_UNION_FLAGS
 *   IN_PKTS IN_OCTETS IN_FIRST_US IN_LAST_US IN_INIT_FLAGS IN_UNION_FLAGS END_REASON
 * Prints the output's counters on standard error; exits 0 when every record was delivered.
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

int main(int argc, char **argv)
{
    exp_output_cfg_t cfg;
    exp_output_cfg_init(&cfg);
    int c;
    while ((c = getopt(argc, argv, "o:ut:d:i:q:")) != -1) {
        switch (c) {
        case 'o': cfg.uri = optarg; break;
        case 'u': cfg.uniflow = true; break;
        case 't': cfg.template_path = optarg; break;
        case 'd': cfg.datagram_size = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'i': cfg.ingress_interface = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'q': cfg.queue_records = (uint32_t)strtoul(optarg, NULL, 10); break;
        default:
            fprintf(stderr, "usage: exp_feed -o URI [-u] [-t TEMPLATE] [-d SIZE] [-i IF] "
                            "[-q QUEUE] < flows\n");
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
    char line[1024];
    uint64_t id = 0, lineno = 0;
    int rc = 0;
    while (fgets(line, sizeof line, stdin) != NULL) {
        lineno++;
        if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0')
            continue;
        oc_flow_info_t f;
        if (!parse_line(line, &f, ++id)) {
            fprintf(stderr, "exp_feed: line %" PRIu64 ": cannot parse\n", lineno);
            rc = 2;
            break;
        }
        exp_output_submit(out, &f);
    }
    exp_output_stats_t st;
    bool all = exp_output_close_stats(out, 10000, &st);
    fprintf(stderr, "exp_feed: in %" PRIu64 " sent %" PRIu64 " lost %" PRIu64 " messages %"
            PRIu64 " send_errors %" PRIu64 "\n", st.records_in, st.records_sent,
            st.records_lost, st.messages_sent, st.send_errors);
    return rc != 0 ? rc : all ? 0 : 1;
}
