/*
 * Unit tests of the JSON lines formatter: key names and presence rules, orientation of the
 * reverse elements, times, and string escaping (control characters, quotes, invalid UTF-8).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>

#include "map/map_json.h"

static oc_flow_info_t tcp_info(void)
{
    oc_flow_info_t in;
    memset(&in, 0, sizeof in);
    in.id = 9;
    in.key.family = OC_FAMILY_IPV4;
    in.key.protocol = 6;
    inet_pton(AF_INET, "192.0.2.1", in.key.src_addr);
    inet_pton(AF_INET, "198.51.100.7", in.key.dst_addr);
    in.key.src_port = 40000;
    in.key.dst_port = 443;
    int64_t(*st)[2] = in.statistics;
    st[OC_STAT_PACKETS][0] = 5;
    st[OC_STAT_PACKETS][1] = 4;
    st[OC_STAT_OCTETS][0] = 700;
    st[OC_STAT_OCTETS][1] = 5000;
    st[OC_STAT_TIMESTAMP_FIRST][0] = 1700000000123456;
    st[OC_STAT_TIMESTAMP_LAST][0] = 1700000002999999;
    st[OC_STAT_TIMESTAMP_FIRST][1] = 1700000000150999;
    st[OC_STAT_TIMESTAMP_LAST][1] = 1700000003000001;
    st[OC_STAT_TCP_FLAGS_INITIAL][0] = 0x02;
    st[OC_STAT_TCP_FLAGS_UNION][0] = 0x1b;
    st[OC_STAT_TCP_FLAGS_INITIAL][1] = 0x12;
    st[OC_STAT_TCP_FLAGS_UNION][1] = 0x1b;
    in.icmp_type_code[0] = in.icmp_type_code[1] = -1;
    in.end_reason = OC_END_TCP;
    return in;
}

static void test_json_tcp_record(void **state)
{
    (void)state;
    oc_flow_info_t in = tcp_info();
    char buf[MAP_JSON_MAX];
    size_t n = map_json_format(&in, buf, sizeof buf);
    assert_int_equal(n, strlen(buf));
    assert_string_equal(buf,
        "{\"flowStartMilliseconds\":1700000000123,\"flowEndMilliseconds\":1700000003000,"
        "\"sourceIPv4Address\":\"192.0.2.1\",\"destinationIPv4Address\":\"198.51.100.7\","
        "\"sourceTransportPort\":40000,\"destinationTransportPort\":443,\"protocolIdentifier\":6,"
        "\"packetDeltaCount\":5,\"octetDeltaCount\":700,\"reversePacketDeltaCount\":4,"
        "\"reverseOctetDeltaCount\":5000,\"reverseFlowDeltaMilliseconds\":27,"
        "\"initialTCPFlags\":2,\"unionTCPFlags\":27,\"reverseInitialTCPFlags\":18,"
        "\"reverseUnionTCPFlags\":27,\"flowEndReason\":3,\"flowId\":9}\n");
}

static void test_json_one_way_icmp6_vlan(void **state)
{
    (void)state;
    oc_flow_info_t in;
    memset(&in, 0, sizeof in);
    in.id = 1;
    in.key.family = OC_FAMILY_IPV6;
    in.key.protocol = 58;
    in.key.vlan_id = 100;
    inet_pton(AF_INET6, "2001:db8::1", in.key.src_addr);
    inet_pton(AF_INET6, "ff02::1", in.key.dst_addr);
    in.statistics[OC_STAT_PACKETS][0] = 1;
    in.statistics[OC_STAT_OCTETS][0] = 64;
    in.statistics[OC_STAT_TIMESTAMP_FIRST][0] = 5000;
    in.statistics[OC_STAT_TIMESTAMP_LAST][0] = 5000;
    in.icmp_type_code[0] = 135 << 8;
    in.icmp_type_code[1] = -1;
    in.end_reason = OC_END_IDLE;
    char buf[MAP_JSON_MAX];
    map_json_format(&in, buf, sizeof buf);
    assert_string_equal(buf,
        "{\"flowStartMilliseconds\":5,\"flowEndMilliseconds\":5,"
        "\"sourceIPv6Address\":\"2001:db8::1\",\"destinationIPv6Address\":\"ff02::1\","
        "\"protocolIdentifier\":58,\"packetDeltaCount\":1,\"octetDeltaCount\":64,"
        "\"reversePacketDeltaCount\":0,\"reverseOctetDeltaCount\":0,\"flowEndReason\":1,"
        "\"vlanId\":100,\"icmpTypeCodeIPv6\":34560,\"flowId\":1}\n");
}

/* SYN/ACK-first flows: the inbound direction starts before the outbound one. */
static void test_json_reverse_first(void **state)
{
    (void)state;
    oc_flow_info_t in = tcp_info();
    in.statistics[OC_STAT_TIMESTAMP_FIRST][1] = 1700000000100000;
    char buf[MAP_JSON_MAX];
    map_json_format(&in, buf, sizeof buf);
    assert_non_null(strstr(buf, "\"flowStartMilliseconds\":1700000000100,"));
    assert_non_null(strstr(buf, "\"reverseFlowDeltaMilliseconds\":0,"));
}

static void test_json_escape(void **state)
{
    (void)state;
    char out[64];
    size_t n = map_json_escape("a\"b\\c\n\x01", 7, out, sizeof out);
    assert_int_equal(n, strlen("a\\\"b\\\\c\\u000a\\u0001"));
    assert_memory_equal(out, "a\\\"b\\\\c\\u000a\\u0001", n);
    /* Valid multi-byte UTF-8 passes; invalid bytes, overlong forms, surrogates and a cut
     * sequence each become U+FFFD. */
    const char in[] = "\xc3\xa9" "\xff" "\xc0\xaf" "\xed\xa0\x80" "\xe2\x82";
    n = map_json_escape(in, sizeof in - 1, out, sizeof out);
    const char want[] = "\xc3\xa9"
                        "\xef\xbf\xbd"
                        "\xef\xbf\xbd\xef\xbf\xbd"
                        "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                        "\xef\xbf\xbd\xef\xbf\xbd";
    assert_int_equal(n, sizeof want - 1);
    assert_memory_equal(out, want, n);
    /* Never writes past the buffer, never splits an escape. */
    n = map_json_escape("abc\n", 4, out, 5);
    assert_int_equal(n, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_tcp_record),
        cmocka_unit_test(test_json_one_way_icmp6_vlan),
        cmocka_unit_test(test_json_reverse_first),
        cmocka_unit_test(test_json_escape),
    };
    return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
