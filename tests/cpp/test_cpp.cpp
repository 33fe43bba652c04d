/*
 * Tests of the C++ wrapper <ocellus/ocellus.hpp>: per-packet statistics as in the Peafowl
 * seed (packets out + in after each packet), the FlowManager seeing every flow exactly once
 * while the engine runs, and an exception thrown by onTermination() stopping the engine and
 * coming out of the Engine call after the C engine has returned.
 *
 * Packets are raw IPv4/UDP datagrams built here, so every expected count is known by
 * construction; a real capture (samples/sample.pcap) is then replayed with libpcap and the
 * per-flow totals seen at termination are compared with the packets this test attributed to
 * each flow itself.
 */
#include "config.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <pcap/pcap.h>

#include <ocellus/ocellus.hpp>

static int failures;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                                  \
        }                                                                                \
    } while (0)

namespace {

/* A raw IPv4/UDP datagram 10.0.0.a:sport -> 10.0.0.b:dport carrying @payload bytes. */
std::vector<uint8_t> udp4(uint8_t a, uint16_t sport, uint8_t b, uint16_t dport, size_t payload)
{
    std::vector<uint8_t> p(20 + 8 + payload, 0);
    size_t total = p.size();
    p[0] = 0x45;
    p[2] = static_cast<uint8_t>(total >> 8);
    p[3] = static_cast<uint8_t>(total);
    p[8] = 64;
    p[9] = 17;
    const uint8_t src[4] = {10, 0, 0, a}, dst[4] = {10, 0, 0, b};
    std::memcpy(&p[12], src, 4);
    std::memcpy(&p[16], dst, 4);
    p[20] = static_cast<uint8_t>(sport >> 8);
    p[21] = static_cast<uint8_t>(sport);
    p[22] = static_cast<uint8_t>(dport >> 8);
    p[23] = static_cast<uint8_t>(dport);
    p[24] = static_cast<uint8_t>((8 + payload) >> 8);
    p[25] = static_cast<uint8_t>(8 + payload);
    return p;
}

ocellus::PacketInfo feed(ocellus::Engine &e, uint64_t ts_us, const std::vector<uint8_t> &p)
{
    return e.process(ts_us, p.data(), static_cast<uint32_t>(p.size()),
                     static_cast<uint32_t>(p.size()), OC_LINK_RAW);
}

struct Ended {
    uint64_t id;
    int64_t packets_out, packets_in, octets_out, octets_in;
    oc_end_reason_t reason;
};

/* Records what each terminated flow looked like, copying the numbers out of the view. */
class Recorder : public ocellus::FlowManager {
public:
    std::vector<Ended> ended;
    void onTermination(const ocellus::FlowInfo &info) override
    {
        ended.push_back({info.id(), info.getStatistic(OC_STAT_PACKETS, OC_DIRECTION_OUTBOUND),
                         info.getStatistic(OC_STAT_PACKETS, OC_DIRECTION_INBOUND),
                         info.getStatistic(OC_STAT_OCTETS, OC_DIRECTION_OUTBOUND),
                         info.getStatistic(OC_STAT_OCTETS, OC_DIRECTION_INBOUND),
                         info.endReason()});
    }
};

/* The seed's per-packet snippet: numPackets = outbound + inbound, after every packet. */
void test_packet_statistics()
{
    ocellus::Engine e;
    /* Who sends each packet of one flow (true: 10.0.0.1, the flow's source) and its payload. */
    const bool from_src[] = {true, true, false, true, false, false};
    const size_t payload[] = {10, 20, 30, 40, 50, 60};
    int64_t out = 0, in = 0, octets_out = 0, octets_in = 0;
    for (size_t i = 0; i < sizeof from_src / sizeof from_src[0]; i++) {
        auto p = from_src[i] ? udp4(1, 5000, 2, 53, payload[i]) : udp4(2, 53, 1, 5000, payload[i]);
        (from_src[i] ? out : in)++;
        (from_src[i] ? octets_out : octets_in) += static_cast<int64_t>(p.size());
        ocellus::PacketInfo info = feed(e, 1000000 + i * 1000, p);
        CHECK(info.status() == OC_STATUS_OK);
        CHECK(info.hasFlow());
        CHECK(info.newFlow() == (i == 0));
        CHECK(info.direction() == (from_src[i] ? OC_DIRECTION_OUTBOUND : OC_DIRECTION_INBOUND));
        long numPackets = info.getStatistic(OC_STAT_PACKETS, OC_DIRECTION_OUTBOUND) +
                          info.getStatistic(OC_STAT_PACKETS, OC_DIRECTION_INBOUND);
        CHECK(numPackets == static_cast<long>(i + 1));
        CHECK(info.getStatistic(OC_STAT_PACKETS, OC_DIRECTION_OUTBOUND) == out);
        CHECK(info.getStatistic(OC_STAT_PACKETS, OC_DIRECTION_INBOUND) == in);
        CHECK(info.getStatistic(OC_STAT_OCTETS, OC_DIRECTION_OUTBOUND) == octets_out);
        CHECK(info.getStatistic(OC_STAT_OCTETS, OC_DIRECTION_INBOUND) == octets_in);
        CHECK(info.getStatistic(OC_STAT_TIMESTAMP_FIRST, OC_DIRECTION_OUTBOUND) == 1000000);
        CHECK(info.flow().key().src_port == 5000 && info.flow().key().dst_port == 53);
        CHECK(info.flow().endReason() == OC_END_NONE);
    }
    /* An ARP-sized runt is not IP: skipped, no flow view. */
    std::vector<uint8_t> junk(10, 0);
    ocellus::PacketInfo skipped = feed(e, 2000000, junk);
    CHECK(skipped.status() == OC_STATUS_SKIPPED);
    CHECK(!skipped.hasFlow());
    CHECK(skipped.getStatistic(OC_STAT_PACKETS, OC_DIRECTION_OUTBOUND) == 0);
}

/* Three flows; one goes idle mid-run, the others end at flush: each seen once, when it ends. */
void test_flow_manager_sees_each_flow_once()
{
    ocellus::Config cfg;
    cfg.idle_timeout_s = 10;
    ocellus::Engine e(cfg);
    Recorder fm;
    e.setFlowManager(&fm);
    uint64_t t = 1000000000;
    feed(e, t, udp4(1, 1000, 2, 53, 5));       /* flow A: 2 out, 1 in */
    feed(e, t + 1, udp4(3, 2000, 4, 80, 5));   /* flow B: 1 out */
    feed(e, t + 2, udp4(2, 53, 1, 1000, 5));
    feed(e, t + 3, udp4(1, 1000, 2, 53, 5));
    uint64_t t2 = t + 20 * 1000000ull;         /* past A's and B's idle timeout */
    ocellus::PacketInfo c = feed(e, t2, udp4(5, 3000, 6, 123, 5)); /* flow C starts */
    CHECK(c.newFlow());
    CHECK(fm.ended.size() == 2); /* A and B ended during process(), before flush */
    feed(e, t2 + 1, udp4(6, 123, 5, 3000, 5));
    CHECK(e.flush() == OC_STATUS_OK);
    CHECK(fm.ended.size() == 3);

    std::set<uint64_t> ids;
    std::map<std::pair<int64_t, int64_t>, oc_end_reason_t> seen;
    for (const Ended &x : fm.ended) {
        ids.insert(x.id);
        seen[{x.packets_out, x.packets_in}] = x.reason;
        CHECK(x.octets_out == x.packets_out * 33 && x.octets_in == x.packets_in * 33);
    }
    CHECK(ids.size() == 3);
    CHECK(seen.size() == 3);
    CHECK((seen[{2, 1}] == OC_END_IDLE)); /* A */
    CHECK((seen[{1, 0}] == OC_END_IDLE)); /* B */
    CHECK((seen[{1, 1}] == OC_END_FORCED)); /* C */
    oc_engine_stats_t st = e.stats();
    CHECK(st.flows_created == 3 && st.packets_attributed == 6);
}

/* A real capture: every record's totals equal the packets this test gave its flow. */
void test_capture_replay()
{
    const char *top = std::getenv("top_srcdir");
    std::string path = std::string(top != nullptr ? top : ".") + "/samples/sample.pcap";
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(path.c_str(), errbuf);
    if (p == nullptr) {
        std::fprintf(stderr, "cannot open %s: %s\n", path.c_str(), errbuf);
        failures++;
        return;
    }
    int link = pcap_datalink(p);

    struct Counter : ocellus::FlowManager {
        std::map<uint64_t, int64_t> mine; /* packets this test attributed, by flow id */
        size_t calls = 0, mismatches = 0;
        int64_t packets = 0;
        void onTermination(const ocellus::FlowInfo &info) override
        {
            calls++;
            int64_t n = info.getStatistic(OC_STAT_PACKETS, OC_DIRECTION_OUTBOUND) +
                        info.getStatistic(OC_STAT_PACKETS, OC_DIRECTION_INBOUND);
            packets += n;
            if (mine[info.id()] != n)
                mismatches++;
            mine[info.id()] = 0; /* an active-timeout cut starts a fresh record */
        }
    } fm;
    ocellus::Engine e;
    e.setFlowManager(&fm);
    struct pcap_pkthdr *h;
    const u_char *data;
    int64_t attributed = 0;
    while (pcap_next_ex(p, &h, &data) == 1) {
        uint64_t ts = static_cast<uint64_t>(h->ts.tv_sec) * 1000000u +
                      static_cast<uint64_t>(h->ts.tv_usec);
        ocellus::PacketInfo info = e.process(ts, data, h->caplen, h->len, link);
        if (info.hasFlow()) {
            attributed++;
            fm.mine[info.flow().id()]++;
        }
    }
    pcap_close(p);
    e.flush();
    oc_engine_stats_t st = e.stats();
    uint64_t records = 0;
    for (uint64_t r : st.records_ended)
        records += r;
    CHECK(attributed > 0);
    CHECK(fm.calls == records);
    CHECK(fm.mismatches == 0);
    CHECK(fm.packets == attributed);
    for (const auto &kv : fm.mine)
        CHECK(kv.second == 0);
}

/* onTermination() throws: the engine stops, the exception leaves flush() intact. */
void test_exception_stops_engine()
{
    struct Thrower : ocellus::FlowManager {
        int calls = 0;
        void onTermination(const ocellus::FlowInfo &) override
        {
            if (++calls == 2)
                throw std::runtime_error("manager failed on flow 2");
        }
    } fm;
    ocellus::Engine e;
    e.setFlowManager(&fm);
    for (uint8_t i = 1; i <= 4; i++)
        feed(e, 1000000 + i, udp4(i, 1000, 100, 53, 1));
    bool caught = false;
    try {
        e.flush();
    } catch (const std::runtime_error &ex) {
        caught = std::string(ex.what()) == "manager failed on flow 2";
    }
    CHECK(caught);
    CHECK(fm.calls == 2); /* not called again once it failed */
    ocellus::PacketInfo after = feed(e, 2000000, udp4(1, 1000, 100, 53, 1));
    CHECK(after.status() == OC_STATUS_STOPPED);
    CHECK(!after.hasFlow());

    /* The same from process(): an idle expiry inside it throws out of process(). */
    struct Always : ocellus::FlowManager {
        void onTermination(const ocellus::FlowInfo &) override { throw 42; }
    } bad;
    ocellus::Engine e2;
    e2.setFlowManager(&bad);
    feed(e2, 1000000, udp4(1, 1, 2, 2, 1));
    bool caught_int = false;
    try {
        feed(e2, 1000000 + 3600 * 1000000ull, udp4(3, 3, 4, 4, 1));
    } catch (int v) {
        caught_int = v == 42;
    }
    CHECK(caught_int);
}

void test_bad_config_and_move()
{
    ocellus::Config cfg;
    cfg.idle_timeout_s = 0;
    bool caught = false;
    try {
        ocellus::Engine e(cfg);
    } catch (const ocellus::Error &ex) {
        caught = std::strstr(ex.what(), "idle_timeout_s") != nullptr;
    }
    CHECK(caught);

    /* The callback context survives a move of the engine. */
    Recorder fm;
    ocellus::Engine a;
    a.setFlowManager(&fm);
    feed(a, 1000000, udp4(1, 1, 2, 2, 1));
    ocellus::Engine b(std::move(a));
    b.flush();
    CHECK(fm.ended.size() == 1);
}

} // namespace

int main()
{
    test_packet_statistics();
    test_flow_manager_sees_each_flow_once();
    test_capture_replay();
    test_exception_stops_engine();
    test_bad_config_and_move();
    if (failures != 0) {
        std::fprintf(stderr, "test_cpp: %d checks failed\n", failures);
        return 1;
    }
    std::printf("test_cpp: all checks passed\n");
    return 0;
}
