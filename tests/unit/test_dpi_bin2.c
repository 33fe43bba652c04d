/*
 * Unit tests of the STUN, RTP/RTCP, BitTorrent (peer wire, DHT, UDP tracker, uTP),
 * WireGuard, git, Gnutella, NetBIOS, Zoom, Discord, Telegram, Dropbox, Spotify, NAT-PMP
 * and WS-Discovery dissectors, called directly through a dpi_ctx_t built here.
 *
 * Payloads come from the shared captures (tshark -T fields -e udp.payload / tcp.payload;
 * the capture and frame are named at each one), and the verdicts expected from them are
 * nDPI's labels of those flows (expected/ndpi/NAME.out) and tshark's reading of the fields
 * (bittorrent.info_hash, bt-dht, wg.*). Git has no capture in the corpus: its request is
 * the example of gitprotocol-pack(5); the NetBIOS session request is built with RFC 1001's
 * own encoding example ("FRED" -> "EGFCEFEE" + "CA" * 12). Hostile inputs: lengths past
 * the end, attribute and extension chains that overrun, deep or endless bencoding, every
 * truncation of every sample, and random bytes.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dpi/dpi.h"

/* ---- harness --------------------------------------------------------------------------- */

typedef struct {
    dpi_ctx_t ctx;
    oc_fields_t fields;
    uint8_t scratch[DPI_SCRATCH];
    uint8_t addr[2][16];
    uint16_t port[2];
    uint8_t stream[2][DPI_STREAM_CAP];
    uint32_t stream_len[2];
} flow_t;

static flow_t *flow_new(uint8_t l4, uint16_t sport, uint16_t dport)
{
    flow_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->ctx.l4 = l4;
    f->ctx.family = 4;
    f->ctx.fields = &f->fields;
    f->ctx.scratch = f->scratch;
    f->addr[0][0] = 10;
    f->addr[0][3] = 1;
    f->addr[1][0] = 10;
    f->addr[1][3] = 2;
    f->port[0] = sport;
    f->port[1] = dport;
    return f;
}

static void flow_dir(flow_t *f, uint8_t dir)
{
    f->ctx.dir = dir;
    f->ctx.saddr = f->addr[dir];
    f->ctx.daddr = f->addr[dir ^ 1];
    f->ctx.sport = f->port[dir];
    f->ctx.dport = f->port[dir ^ 1];
}

/* Hands @n bytes to @fn the way dpi.c does: a datagram, or for TCP the whole in-order
 * prefix of that direction. The bytes go in a buffer of exactly their size so that a
 * sanitizer build catches any read past them. */
static dpi_verdict_t flow_feed(flow_t *f, dpi_fn_t fn, uint8_t dir, const uint8_t *p, size_t n)
{
    flow_dir(f, dir);
    const uint8_t *src = p;
    size_t len = n;
    if (f->ctx.l4 == 6) {
        size_t room = DPI_STREAM_CAP - f->stream_len[dir];
        if (n > room)
            n = room;
        memcpy(f->stream[dir] + f->stream_len[dir], p, n);
        f->ctx.new_off = f->stream_len[dir];
        f->stream_len[dir] += (uint32_t)n;
        src = f->stream[dir];
        len = f->stream_len[dir];
        f->ctx.stream_full = len == DPI_STREAM_CAP;
        f->ctx.peer = f->stream[dir ^ 1];
        f->ctx.peer_len = f->stream_len[dir ^ 1];
    }
    uint8_t *copy = malloc(len > 0 ? len : 1);
    assert_non_null(copy);
    if (len > 0)
        memcpy(copy, src, len);
    f->ctx.data = copy;
    f->ctx.len = (uint32_t)len;
    dpi_verdict_t v = fn(&f->ctx);
    free(copy);
    f->ctx.data = NULL;
    f->ctx.pkts[dir]++;
    assert_true(v >= DPI_NO && v <= DPI_MATCH_MORE);
    return v;
}

/* Decodes hex into a heap buffer the caller frees. */
static uint8_t *unhex(const char *hex, size_t *n)
{
    size_t len = strlen(hex) / 2;
    uint8_t *out = malloc(len > 0 ? len : 1);
    assert_non_null(out);
    for (size_t i = 0; i < len; i++) {
        unsigned b;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &b), 1);
        out[i] = (uint8_t)b;
    }
    *n = len;
    return out;
}

/* Feeds one hex sample. */
static dpi_verdict_t feed_hex(flow_t *f, dpi_fn_t fn, uint8_t dir, const char *hex)
{
    size_t n;
    uint8_t *p = unhex(hex, &n);
    dpi_verdict_t v = flow_feed(f, fn, dir, p, n);
    free(p);
    return v;
}

/* A single datagram (or stream start) in a new flow. */
static dpi_verdict_t once(dpi_fn_t fn, uint8_t l4, uint16_t sport, uint16_t dport,
                          const uint8_t *p, size_t n, uint16_t *proto)
{
    flow_t *f = flow_new(l4, sport, dport);
    dpi_verdict_t v = flow_feed(f, fn, 0, p, n);
    if (proto != NULL)
        *proto = f->ctx.proto;
    free(f);
    return v;
}

static dpi_verdict_t once_hex(dpi_fn_t fn, uint8_t l4, const char *hex, uint16_t *proto)
{
    size_t n;
    uint8_t *p = unhex(hex, &n);
    dpi_verdict_t v = once(fn, l4, 40000, 40001, p, n, proto);
    free(p);
    return v;
}

static void assert_field(const flow_t *f, oc_field_t field, const char *want)
{
    size_t len = 0;
    const char *got = oc_fields_get(&f->fields, field, &len);
    assert_non_null(got);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(got, want, len);
}

/* Every proper prefix of @hex as one datagram: never a crash, and never a match when the
 * protocol's messages have an exact length (@exact). */
static void truncations(dpi_fn_t fn, uint8_t l4, const char *hex, bool exact)
{
    size_t n;
    uint8_t *p = unhex(hex, &n);
    for (size_t k = 0; k < n; k++) {
        dpi_verdict_t v = once(fn, l4, 40000, 40001, p, k, NULL);
        if (exact)
            assert_int_not_equal(v, DPI_MATCH);
    }
    free(p);
}

static uint32_t rng_state = 12345;
static uint32_t rng(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return rng_state >> 8;
}

/* Random datagrams, a flow of them: none is taken for @fn's protocol. */
static void random_flow(dpi_fn_t fn, uint8_t l4)
{
    flow_t *f = flow_new(l4, 40000, 40001);
    uint8_t buf[600];
    for (int i = 0; i < 400; i++) {
        size_t n = rng() % sizeof buf;
        for (size_t k = 0; k < n; k++)
            buf[k] = (uint8_t)rng();
        if (l4 == 6 && f->stream_len[i & 1] >= DPI_STREAM_CAP)
            break;
        dpi_verdict_t v = flow_feed(f, fn, (uint8_t)(i & 1), buf, n);
        assert_int_not_equal(v, DPI_MATCH);
        assert_int_not_equal(v, DPI_MATCH_MORE);
        if (v == DPI_NO) {
            free(f);
            f = flow_new(l4, 40000, 40001);
        }
    }
    free(f);
}

/* ---- samples from the captures ------------------------------------------------------------ */

/* ndpi-teams.pcap frame 1238: RFC 5389 Allocate request (68 bytes) */
static const char stun_teams_allocate[] =
    "000300302112a442b2343f6e67f41d58acba639f000f000472c64bc6803700040000000280080004"
    "0000000680060004000000010010000400002ee08055000400020002";

/* ndpi-teams.pcap frame 1250: MS-TURN Allocate request, attributes unpadded (214 bytes) */
static const char stun_teams_msturn[] =
    "000300c22112a442222fefc7f3924bd1b99727e4000f000472c64bc6803700040000000280080004"
    "0000000680060004000000010010000400002ee08055000400020002809500087f20c4dd4f848dfa"
    "00140014024ecbf8827a60d65306debfa77d87d14402dd5d0015000a227274636d65646961220006"
    "00380200002490a0dbdb01d6194de21537bfc992a00332731af1bedc569ae83bd5ab00000000bf71"
    "b276c97813a8ddefeb5cbc793a277a4ce63c000800207e44e6521f4710a5540f6290a67d69f95fa8"
    "f2f071c7a858a17775c39fdb730d";

/* ndpi-zoom.pcap frame 34: RFC 3489 Binding request, attribute 0x0101 (44 bytes) */
static const char stun_zoom_classic[] =
    "00010018c15dae63585d14392e582c260403bf300101001431323334353637383930313233343536"
    "37383900";

/* ndpi-zoom.pcap frame 60: its answer (32 bytes) */
static const char stun_zoom_classic_answer[] =
    "0002000cc15dae63585d14392e582c260403bf30010300080001ff7550b4dcef";

/* ndpi-rtp.pcapng frame 83: not RTP, before the RTP (16 bytes) */
static const char rtp_junk[] =
    "0100000000000000000000000000011c";

/* ndpi-rtp.pcapng frame 84: RTP PT 111, 1 CSRC (24 bytes) */
static const char rtp_a[] =
    "816fcdd21e5131ffb80974d80000011c480be455bf14987c";

/* ndpi-rtp.pcapng frame 85: the next (23 bytes) */
static const char rtp_b[] =
    "816fcdd31e5135bfb80974d80000011c4806e379c12458";

/* ndpi-rtp.pcapng frame 86: the next (23 bytes) */
static const char rtp_c[] =
    "816fcdd41e51397fb80974d80000011c4806e379c12458";

/* ndpi-teams.pcap frame 1478: SRTCP receiver report (110 bytes) */
static const char rtcp_rr1[] =
    "80c9000b000074ecca5aacb2ee485bb8ccb608f00e752966f6f7d5ff303c16393a0e84abce4d58a1"
    "1dc28cbe9f470045c5f20bcb0947fdef99b1a2ec9d46f4924d69759f2fbef7df7a51cb10301be7a7"
    "8883415de4ddf522adf7aadf8297732b80000000b6fc699ee09450b4b901";

/* ndpi-teams.pcap frame 1498: SRTCP receiver report, same sender (38 bytes) */
static const char rtcp_rr2[] =
    "80c90005000074ecae9eb5995db60dfd597e224dcaff030280000001c6b9080a99356ffaa236";

/* ndpi-bittorrent.pcap frame 1: peer wire handshake (68 bytes) */
static const char bt_handshake[] =
    "13426974546f7272656e742070726f746f636f6c0000000000100005dcfcdccfb9e670ccc3dd40c7"
    "8c161f2bea2431262d554d313836302d418e181ac9ba17987152663e";

/* ndpi-bittorrent_utp.pcap frame 1: DHT get_peers query (104 bytes) */
static const char bt_dht_get_peers[] =
    "64313a6164323a696432303af7f6007cea13506e514de7ecbc94f2ae517115f8393a696e666f5f68"
    "61736832303af7f601d8a6276f762c2c3df274af2827f8d1f1de65313a71393a6765745f70656572"
    "73313a74323a0e61313a76343a4c540101313a79313a7165";

/* ndpi-bittorrent_utp.pcap frame 3: uTP SYN (20 bytes) */
static const char utp_syn[] =
    "4100530210eeb2f00000000000000000e7f50000";

/* ndpi-bittorrent_utp.pcap frame 4: uTP STATE answering it (30 bytes) */
static const char utp_state[] =
    "2102530206ff3f5f7fffffff0000f00049c7e7f500080000000000000000";

/* ndpi-bittorrent_utp.pcap frame 5: uTP DATA with a handshake (210 bytes) */
static const char utp_data[] =
    "0100530310f0687609f1291700100000e7f649c613426974546f7272656e742070726f746f636f6c"
    "00000000001800050ca4c8e7fb26a354b1a7aa15baeaf26067c668112d4c54313130302d31466135"
    "333152744c7576770000007105000000000000000000000000000000000000000000000000000000"
    "00000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "00000000000000000000000007ffffffffffffffffffffefffdf7fffbfffffeffbeffbfff7ff7fff"
    "ffb7ffb9800000000101";

/* ndpi-wireguard.pcap frame 1: handshake initiation (148 bytes) */
static const char wg_initiation[] =
    "01000000d837d0305fcec7c8e5c8e2e3f7989eef60c228d82329d602b6b1e2bb9d068f89cf9d4d45"
    "32780f6d27264f7b98701fdc27a4ec00aeb6becdbef2332f1b4084cadb93823935c012ae255e7b25"
    "eff13940c321fa6bd66a2a87b061db1430173e937f569349de2856dc5f2616763eeeafc0533b01dd"
    "965e7ec76976e28f683d671200000000000000000000000000000000";

/* ndpi-wireguard.pcap frame 2: handshake response (92 bytes) */
static const char wg_response[] =
    "0200000006f47dabd837d030b18d5550bd4042a37a46823ac08db1ec66839bc0ca2d64bc15cd8023"
    "2b66232faec24af8918de1060ff5c98e865d5f35f272214c5260110dc4c61e32cdd8542100000000"
    "000000000000000000000000";

/* ndpi-gnutella.pcap frame 181: GNUTELLA CONNECT/0.6 (first 64 bytes used) (598 bytes) */
static const char gnut_connect[] =
    "474e5554454c4c4120434f4e4e4543542f302e360d0a4e6f64653a2039332e34372e3232362e3533"
    "3a32383638310d0a52656d6f74652d49503a2034372e3134372e35322e32310d0a557365722d4167"
    "656e743a2067746b2d676e7574656c6c612f312e322e322028323032322d30322d32353b2047544b"
    "323b2057696e646f777320783634290d0a506f6e672d43616368696e673a20302e310d0a4279652d"
    "5061636b65743a20302e310d0a474745503a20302e350d0a475549443a2037346538333130323431"
    "346339666236313761626231306339373630353934610d0a56656e646f722d4d6573736167653a20"
    "302e320d0a582d51756572792d526f7574696e673a20302e320d0a582d5265717565726965733a20"
    "46616c73650d0a557067726164653a20544c532f312e300d0a4163636570742d456e636f64696e67"
    "3a206465666c6174650d0a582d546f6b656e3a205969554a354f4d77546f336a4646514c2f6d7142"
    "39314377752f64616d4d456c356468473b204f63576d63773d3d0d0a582d4c6976652d53696e6365"
    "3a2053756e2c203036204d617220323032322031313a32323a3130202d303830300d0a582d556c74"
    "7261706565723a2046616c73650d0a582d44796e616d69632d5175657279696e673a20302e310d0a"
    "582d556c747261706565722d51756572792d526f7574696e673a20302e310d0a582d446567726565"
    "3a2033320d0a582d4d61782d54544c3a20340d0a582d47756573733a20302e320d0a582d46656174"
    "757265733a20746c732f312e302c2073666c61672f302e312c20485345502f302e320d0a0d0a";

/* ndpi-gnutella.pcap frame 356: G2 over GND: QKR (24 bytes) */
static const char gnut_g2_qkr[] =
    "474e44103e8f0101540b514b525006524e415d2fe2350970";

/* ndpi-gnutella.pcap frame 2494: G2 over GND: Q2 (77 bytes) */
static const char gnut_g2_q2[] =
    "474e44103f4901014c415132500a5544505d2fe23509704145a02b4809444e70696e6b666c6f7964"
    "400d4955524c0050465300444e004100104e4154005d2fe235310200641ac4f2e94e09700f";

/* ndpi-gnutella.pcap frame 3211: Gnutella ping with GGEP (28 bytes) */
static const char gnut_ping[] =
    "6ed7310282ef6c90ff65023671bfaa0300010005000000c382514b40";

/* ndpi-gnutella.pcap frame 786: Mojito DHT message (81 bytes) */
static const char gnut_mojito[] =
    "a7b3310229b72ec630df77c5724a36ce4400003a0000000547544b470000289d0a8d06deffc8263c"
    "33897c2c9179fd84ab61045d2fe235700901010000289d0a8d06deffc8263c33897c2c9179fd84ab"
    "61";

/* ndpi-1kxun.pcap frame 39: NBNS name query (50 bytes) */
static const char nbns_query[] =
    "b1e60110000100000000000020464846414542454543414341434143414341434143414341434143"
    "41434141410000200001";

/* ndpi-telegram.pcap frame 612: NetBIOS datagram (browser announcement) (201 bytes) */
static const char nbdgm_browse[] =
    "1102e45ec0a8012b008a00bb000020454545464644454c464545504641434e464345434446464544"
    "424443454843410020464845504643454c4548464345504646464143414341434143414341434142"
    "4e00ff534d4225000000000000000000000000000000000000000000000000000000110000210000"
    "00000000000000e803000000000000000021005600030001000000020032005c4d41494c534c4f54"
    "5c42524f57534500010080fc0a004445534b544f502d52423554313247000a00031000000f0155aa"
    "00";

/* ndpi-zoom.pcap frame 386: SFU type 1 from the client (107 bytes) */
static const char zoom_t1[] =
    "0100027d464d35fffda234495d0d6d3b51e8960000000000000002007a002a007a002a000000400e"
    "173ddf96025efb95c4240c2353bfcbf060be99dcbbd8c479c7b9732d6c75fa4362f0835eb83e4da9"
    "c6a7e6f309b31e40df0f6bb5756a840f731d9bc1f6a72d00000000";

/* ndpi-zoom.pcap frame 395: SFU type 2 from the server (35 bytes) */
static const char zoom_t2[] =
    "0200017d464d35fffda234495d0d6d3b51e896005a0e3e007a002a0000000000000000";

/* ndpi-zoom.pcap frame 701: SFU type 3 from the client (inside GTP) (81 bytes) */
static const char zoom_c3[] =
    "03000000120ffe98d200272ec9010540dc8325119dd2eba2637c7328f1e9f13b45c43793cc84878b"
    "469e825c267a8b935b8a446171dc2b73a77554495c171d51f991d08255e25bc9108e980cacf32391"
    "00";

/* ndpi-zoom.pcap frame 702: SFU type 3 from the server (81 bytes) */
static const char zoom_s3[] =
    "03000000156d6e7c0000272ec9010540a48ba08c6abb7a227f1cb66e36fa34cd52980219432fe41e"
    "9f5cb3cdfe4e57ca6529996e31f2c1aff4bb13f6f1fafe43d68fd1dd599b0c9da5e3515a4e01b793"
    "00";

/* ndpi-zoom.pcap frame 703: SFU type 4 from the server, echoing the client (81 bytes) */
static const char zoom_s4[] =
    "04000000120ffe98d200272ec9010540c42061ab279d41ce917434872b69d9c003d693607310c749"
    "3b199ade91fb02822f61c6aabbe9655c07f4375f19b5640b51c414bde59c3270152303f07464852f"
    "00";

/* ndpi-rtp.pcapng frame 53: IP discovery request (74 bytes) */
static const char discord_request[] =
    "00010046001a7e730000000000000000000000000000000000000000000000000000000000000000"
    "00000000000000000000000000000000000000000000000000000000000000008b19";

/* ndpi-rtp.pcapng frame 54: IP discovery answer (74 bytes) */
static const char discord_answer[] =
    "00020046001a7e7338352e3135342e322e3134350000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000d3da";

/* ndpi-telegram.pcap frame 170: reflector ping (40 bytes) */
static const char tg_ping[] =
    "dc4c00291565b7acbc236da9eda0d597fffffffffffffffffffffffffeffffff28f946112601a2f0";

/* ndpi-telegram.pcap frame 176: reflector answer (64 bytes) */
static const char tg_answer[] =
    "dc4c00291565b7acbc236da9eda0d597ffffffffffffffffffffffffc77215c060dab25e28f94611"
    "2601a2f000000000000000000000ffff570bcdc35ddc0000";

/* ndpi-teams.pcap frame 979: SpotUdp0 announcement (40 bytes) */
static const char spotify_disc[] =
    "53706f745564703044d9b599db922fa300010000ca20df0808fd0dce5101b82c2ae91ee358887079";

/* ---- STUN ------------------------------------------------------------------------------- */

static void test_stun_modern_one_datagram(void **state)
{
    (void)state;
    uint16_t proto = 0;
    assert_int_equal(once_hex(dpi_stun, 17, stun_teams_allocate, &proto), DPI_MATCH);
    assert_int_equal(proto, OC_PROTO_STUN);
    /* MS-TURN leaves attribute values unpadded (a NONCE of 10 bytes, length 194). */
    assert_int_equal(once_hex(dpi_stun, 17, stun_teams_msturn, &proto), DPI_MATCH);
    truncations(dpi_stun, 17, stun_teams_allocate, true);
    truncations(dpi_stun, 17, stun_teams_msturn, true);
}

static void test_stun_classic(void **state)
{
    (void)state;
    uint16_t proto = 0;
    /* Zoom's RFC 3489 messages: no cookie, attributes that span the length exactly. */
    assert_int_equal(once_hex(dpi_stun, 17, stun_zoom_classic, &proto), DPI_MATCH);
    assert_int_equal(proto, OC_PROTO_STUN);
    assert_int_equal(once_hex(dpi_stun, 17, stun_zoom_classic_answer, NULL), DPI_MATCH);
    truncations(dpi_stun, 17, stun_zoom_classic, true);

    /* A classic request without attributes waits for its answer (same transaction id). */
    uint8_t req[20] = {0x00, 0x01, 0x00, 0x00};
    for (int i = 4; i < 20; i++)
        req[i] = (uint8_t)(0x40 + i);
    uint8_t resp[20];
    memcpy(resp, req, sizeof resp);
    resp[0] = 0x01; /* 0x0101 binding response */
    flow_t *f = flow_new(17, 40000, 3478);
    assert_int_equal(flow_feed(f, dpi_stun, 0, req, sizeof req), DPI_MAYBE);
    assert_int_equal(flow_feed(f, dpi_stun, 0, req, sizeof req), DPI_MAYBE);
    assert_int_equal(flow_feed(f, dpi_stun, 1, resp, sizeof resp), DPI_MATCH);
    free(f);
    /* Another transaction id, or the answer from the same side, proves nothing. */
    f = flow_new(17, 40000, 3478);
    assert_int_equal(flow_feed(f, dpi_stun, 0, req, sizeof req), DPI_MAYBE);
    assert_int_not_equal(flow_feed(f, dpi_stun, 0, resp, sizeof resp), DPI_MATCH);
    resp[19] ^= 1;
    assert_int_not_equal(flow_feed(f, dpi_stun, 1, resp, sizeof resp), DPI_MATCH);
    free(f);
}

static void test_stun_hostile(void **state)
{
    (void)state;
    size_t n;
    uint8_t *p = unhex(stun_teams_allocate, &n);
    /* Message length past the datagram, then an attribute length past the message. */
    p[3] = (uint8_t)(p[3] + 4);
    assert_int_equal(once(dpi_stun, 17, 1, 2, p, n, NULL), DPI_NO);
    p[3] = (uint8_t)(p[3] - 4);
    p[23] = 0xF0; /* first attribute: 0x000f, length 0x00F0 */
    assert_int_equal(once(dpi_stun, 17, 1, 2, p, n, NULL), DPI_NO);
    free(p);
    /* A cookie with type bits that STUN never sets. */
    uint8_t bad[20] = {0xC0, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42};
    assert_int_equal(once(dpi_stun, 17, 1, 2, bad, sizeof bad, NULL), DPI_NO);
    /* RTP is not STUN. */
    assert_int_equal(once_hex(dpi_stun, 17, rtp_a, NULL), DPI_NO);
    random_flow(dpi_stun, 17);
    random_flow(dpi_stun, 6);
}

static void test_stun_tcp(void **state)
{
    (void)state;
    size_t n;
    uint8_t *p = unhex(stun_teams_allocate, &n);
    /* Bare message split over segments. */
    flow_t *f = flow_new(6, 40000, 3478);
    assert_int_equal(flow_feed(f, dpi_stun, 0, p, 3), DPI_MAYBE);
    assert_int_equal(flow_feed(f, dpi_stun, 0, p + 3, 10), DPI_MAYBE);
    assert_int_equal(flow_feed(f, dpi_stun, 0, p + 13, n - 13), DPI_MATCH);
    assert_int_equal(f->ctx.proto, OC_PROTO_STUN);
    free(f);
    /* RFC 4571 framing (ICE-TCP): a length that covers the message exactly. */
    uint8_t framed[2 + 128];
    framed[0] = (uint8_t)(n >> 8);
    framed[1] = (uint8_t)n;
    memcpy(framed + 2, p, n);
    uint16_t proto = 0;
    assert_int_equal(once(dpi_stun, 6, 40000, 443, framed, n + 2, &proto), DPI_MATCH);
    assert_int_equal(proto, OC_PROTO_STUN);
    framed[1] = (uint8_t)(n + 4); /* a frame longer than the message */
    assert_int_equal(once(dpi_stun, 6, 40000, 443, framed, n + 2, NULL), DPI_NO);
    free(p);
    /* HTTP is not. */
    const char *get = "GET / HTTP/1.1\r\n";
    assert_int_equal(once(dpi_stun, 6, 1, 2, (const uint8_t *)get, strlen(get), NULL), DPI_NO);
}

/* ---- RTP / RTCP ---------------------------------------------------------------------------- */

static void test_rtp_three_packets(void **state)
{
    (void)state;
    /* ndpi-rtp's VLAN flow: one packet that is not RTP, then RTP with one CSRC. */
    flow_t *f = flow_new(17, 55402, 6008);
    assert_int_equal(feed_hex(f, dpi_rtp, 0, rtp_junk), DPI_MAYBE);
    assert_int_equal(feed_hex(f, dpi_rtp, 0, rtp_a), DPI_MAYBE);
    assert_int_equal(feed_hex(f, dpi_rtp, 0, rtp_b), DPI_MAYBE);
    assert_int_equal(feed_hex(f, dpi_rtp, 0, rtp_c), DPI_MATCH);
    assert_int_equal(f->ctx.proto, OC_PROTO_RTP);
    free(f);
    /* The same packet three times is one packet. */
    f = flow_new(17, 55402, 6008);
    for (int i = 0; i < 3; i++)
        assert_int_equal(feed_hex(f, dpi_rtp, 0, rtp_a), DPI_MAYBE);
    free(f);
    /* Sequence numbers that jump, or a changing SSRC, never add up. */
    size_t n;
    uint8_t *p = unhex(rtp_a, &n);
    f = flow_new(17, 55402, 6008);
    for (int i = 0; i < 10; i++) {
        p[2] = (uint8_t)(i * 64); /* steps of 16384 */
        assert_int_equal(flow_feed(f, dpi_rtp, 0, p, n), DPI_MAYBE);
    }
    free(f);
    f = flow_new(17, 55402, 6008);
    for (int i = 0; i < 10; i++) {
        p[3] = (uint8_t)(0xd2 + i);
        p[11] = (uint8_t)i;
        assert_int_equal(flow_feed(f, dpi_rtp, 0, p, n), DPI_MAYBE);
    }
    free(f);
    free(p);
}

static void test_rtp_rejects(void **state)
{
    (void)state;
    /* A flow opening with STUN belongs to STUN, even if RTP follows. */
    flow_t *f = flow_new(17, 50016, 16332);
    assert_int_equal(feed_hex(f, dpi_rtp, 0, stun_teams_allocate), DPI_NO);
    free(f);
    /* Three packets that are neither RTP nor RTCP end it. */
    f = flow_new(17, 1, 2);
    assert_int_equal(feed_hex(f, dpi_rtp, 0, rtp_junk), DPI_MAYBE);
    assert_int_equal(feed_hex(f, dpi_rtp, 0, rtp_junk), DPI_MAYBE);
    assert_int_equal(feed_hex(f, dpi_rtp, 0, rtp_junk), DPI_NO);
    free(f);
    /* A CSRC count or an extension longer than the packet, a padding count past it. */
    uint8_t pkt[16] = {0x8F, 0x00, 0x00, 0x01};
    flow_t *g = flow_new(17, 1, 2);
    for (int i = 0; i < 3; i++) {
        pkt[3] = (uint8_t)(i + 1);
        assert_int_equal(flow_feed(g, dpi_rtp, 0, pkt, sizeof pkt), i < 2 ? DPI_MAYBE : DPI_NO);
    }
    free(g);
    uint8_t ext[16] = {0x90, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0xBE, 0xDE, 0xFF, 0xFF};
    assert_int_equal(once(dpi_rtp, 17, 1, 2, ext, sizeof ext, NULL), DPI_MAYBE); /* "other" */
    uint8_t pad[13] = {0xA0, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0x09};
    g = flow_new(17, 1, 2);
    for (int i = 0; i < 3; i++)
        assert_int_equal(flow_feed(g, dpi_rtp, 0, pad, sizeof pad), i < 2 ? DPI_MAYBE : DPI_NO);
    free(g);
    random_flow(dpi_rtp, 17);
    random_flow(dpi_rtp, 6);
}

static void test_rtcp_only(void **state)
{
    (void)state;
    /* Two receiver reports from one sender SSRC (ndpi-teams, SRTCP). */
    flow_t *f = flow_new(17, 16332, 50016);
    assert_int_equal(feed_hex(f, dpi_rtp, 0, rtcp_rr1), DPI_MAYBE);
    assert_int_equal(feed_hex(f, dpi_rtp, 0, rtcp_rr2), DPI_MATCH);
    assert_int_equal(f->ctx.proto, OC_PROTO_RTCP);
    free(f);
    /* One report is not enough (nDPI leaves ndpi-sip's one-packet RTCP flow unknown). */
    assert_int_equal(once_hex(dpi_rtp, 17, rtcp_rr1, NULL), DPI_MAYBE);
    /* A report count that needs more bytes than the length gives. */
    size_t n;
    uint8_t *p = unhex(rtcp_rr2, &n);
    p[0] = 0x85; /* RC 5 in a 24-byte RR */
    f = flow_new(17, 1, 2);
    assert_int_equal(flow_feed(f, dpi_rtp, 0, p, n), DPI_MAYBE);
    assert_int_equal(flow_feed(f, dpi_rtp, 0, p, n), DPI_MAYBE);
    assert_int_equal(flow_feed(f, dpi_rtp, 0, p, n), DPI_NO);
    free(f);
    free(p);
}

/* The headers of ndpi-rtp's TCP flow (frames 19, 21, 23: RFC 4571 length 1212, PCMA),
 * with the audio cut to 20 bytes and the length adjusted. */
static void test_rtp_tcp_framed(void **state)
{
    (void)state;
    static const uint8_t hdr[3][12] = {
        {0x80, 0x88, 0xc6, 0x23, 0x64, 0x48, 0xec, 0xa9, 0, 0, 0, 0},
        {0x80, 0x08, 0xc6, 0x24, 0x64, 0x48, 0xf1, 0x59, 0, 0, 0, 0},
        {0x80, 0x08, 0xc6, 0x25, 0x64, 0x48, 0xf6, 0x09, 0, 0, 0, 0},
    };
    flow_t *f = flow_new(6, 40252, 5000);
    for (int i = 0; i < 3; i++) {
        uint8_t frame[2 + 12 + 20];
        frame[0] = 0;
        frame[1] = 32;
        memcpy(frame + 2, hdr[i], 12);
        memset(frame + 14, 0xd5, 20);
        /* Each frame in two segments: the length first. */
        assert_int_equal(flow_feed(f, dpi_rtp, 0, frame, 5), DPI_MAYBE);
        dpi_verdict_t v = flow_feed(f, dpi_rtp, 0, frame + 5, sizeof frame - 5);
        assert_int_equal(v, i < 2 ? DPI_MAYBE : DPI_MATCH);
    }
    assert_int_equal(f->ctx.proto, OC_PROTO_RTP);
    free(f);
    /* A stream that is not framed RTP. */
    const char *text = "HELO example.org\r\n";
    assert_int_equal(once(dpi_rtp, 6, 1, 2, (const uint8_t *)text, strlen(text), NULL), DPI_NO);
}

/* ---- BitTorrent ---------------------------------------------------------------------------- */

static void test_bittorrent_handshake(void **state)
{
    (void)state;
    flow_t *f = flow_new(6, 52888, 38305);
    assert_int_equal(feed_hex(f, dpi_bittorrent, 0, bt_handshake), DPI_MATCH);
    assert_int_equal(f->ctx.proto, OC_PROTO_BITTORRENT);
    /* tshark: bittorrent.info_hash of ndpi-bittorrent frame 1 */
    assert_field(f, OC_FIELD_BITTORRENT_INFO_HASH, "dcfcdccfb9e670ccc3dd40c78c161f2bea243126");
    free(f);
    /* In pieces: the signature, then the hash. */
    size_t n;
    uint8_t *p = unhex(bt_handshake, &n);
    f = flow_new(6, 52888, 38305);
    assert_int_equal(flow_feed(f, dpi_bittorrent, 0, p, 7), DPI_MAYBE);
    assert_int_equal(flow_feed(f, dpi_bittorrent, 0, p + 7, 23), DPI_MATCH_MORE);
    assert_int_equal(flow_feed(f, dpi_bittorrent, 0, p + 30, n - 30), DPI_MATCH);
    assert_field(f, OC_FIELD_BITTORRENT_INFO_HASH, "dcfcdccfb9e670ccc3dd40c78c161f2bea243126");
    free(f);
    /* The other side speaks (something else) while the hash is still to come. */
    f = flow_new(6, 52888, 38305);
    assert_int_equal(flow_feed(f, dpi_bittorrent, 0, p, 30), DPI_MATCH_MORE);
    assert_int_equal(flow_feed(f, dpi_bittorrent, 1, (const uint8_t *)"\0\0\0\1\2", 5),
                     DPI_MATCH_MORE);
    assert_int_equal(flow_feed(f, dpi_bittorrent, 0, p + 30, n - 30), DPI_MATCH);
    assert_field(f, OC_FIELD_BITTORRENT_INFO_HASH, "dcfcdccfb9e670ccc3dd40c78c161f2bea243126");
    free(f);
    p[5] ^= 0x20; /* "BitTOrrent" */
    assert_int_equal(once(dpi_bittorrent, 6, 1, 2, p, n, NULL), DPI_NO);
    free(p);
    random_flow(dpi_bittorrent, 6);
}

static void test_bittorrent_dht(void **state)
{
    (void)state;
    flow_t *f = flow_new(17, 64969, 40959);
    assert_int_equal(feed_hex(f, dpi_bittorrent, 0, bt_dht_get_peers), DPI_MATCH);
    assert_int_equal(f->ctx.proto, OC_PROTO_BITTORRENT);
    /* tshark bt-dht: info_hash of ndpi-bittorrent_utp frame 1 */
    assert_field(f, OC_FIELD_BITTORRENT_INFO_HASH, "f7f601d8a6276f762c2c3df274af2827f8d1f1de");
    free(f);
    /* BEP 5's own ping example, and a response. */
    const char *ping = "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
    const char *pong = "d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re";
    assert_int_equal(once(dpi_bittorrent, 17, 1, 2, (const uint8_t *)ping, strlen(ping), NULL),
                     DPI_MATCH);
    assert_int_equal(once(dpi_bittorrent, 17, 1, 2, (const uint8_t *)pong, strlen(pong), NULL),
                     DPI_MATCH);
    truncations(dpi_bittorrent, 17, bt_dht_get_peers, true);
    /* Hostile bencoding: no "y", trailing bytes, deep nesting, string lengths past the
     * end, integers without digits, an unterminated list. */
    static const char *const bad[] = {
        "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aae",
        "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qeX",
        /* one literal: clang flags two adjacent ones in an array as a missing comma */
        "d1:y1:q1:t2:aa1:xllllllllllllllllllllllllllllllllllllllllllllllllleeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
        "d1:y1:q1:t99999999:ae",
        "d1:y1:q1:t2:aa1:iiee",
        "d1:y1:q1:t2:aa1:lli1ei2e",
        "d1:y1:z1:t2:aae",
        "d1:y1:qe",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(once(dpi_bittorrent, 17, 1, 2, (const uint8_t *)bad[i],
                              strlen(bad[i]), NULL),
                         DPI_NO);
    random_flow(dpi_bittorrent, 17);
}

static void test_bittorrent_udp_tracker(void **state)
{
    (void)state;
    /* BEP 15 connect request: protocol id, action 0, transaction id. */
    const uint8_t connect[16] = {0x00, 0x00, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80,
                                 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef};
    uint16_t proto = 0;
    assert_int_equal(once(dpi_bittorrent, 17, 1, 6969, connect, sizeof connect, &proto),
                     DPI_MATCH);
    assert_int_equal(proto, OC_PROTO_BITTORRENT);
    assert_int_equal(once(dpi_bittorrent, 17, 1, 6969, connect, 15, NULL), DPI_NO);
}

static void test_utp(void **state)
{
    (void)state;
    /* ndpi-bittorrent_utp: SYN from 64969, STATE from 40959 acknowledging its sequence
     * number with the same connection id, DATA carrying the peer wire handshake. */
    flow_t *f = flow_new(17, 64969, 40959);
    assert_int_equal(feed_hex(f, dpi_bittorrent_utp, 0, utp_syn), DPI_MAYBE);
    assert_int_equal(feed_hex(f, dpi_bittorrent_utp, 1, utp_state), DPI_MATCH_MORE);
    assert_int_equal(f->ctx.proto, OC_PROTO_BITTORRENT);
    assert_int_equal(feed_hex(f, dpi_bittorrent_utp, 0, utp_data), DPI_MATCH);
    /* tshark: the handshake in frame 5 (bittorrent over uTP) */
    assert_field(f, OC_FIELD_BITTORRENT_INFO_HASH, "0ca4c8e7fb26a354b1a7aa15baeaf26067c66811");
    free(f);
    /* The loopback flow of the same capture (frames 87, 88). */
    f = flow_new(17, 49861, 33333);
    assert_int_equal(feed_hex(f, dpi_bittorrent_utp, 0, "41004567ed639296000000000010000023c60000"),
                     DPI_MAYBE);
    assert_int_equal(feed_hex(f, dpi_bittorrent_utp, 1, "21004567ed6393410000000000100000456723c6"),
                     DPI_MATCH_MORE);
    free(f);
    /* A STATE that acknowledges another sequence number, or from the SYN's own side. */
    f = flow_new(17, 49861, 33333);
    feed_hex(f, dpi_bittorrent_utp, 0, "41004567ed639296000000000010000023c60000");
    assert_int_equal(feed_hex(f, dpi_bittorrent_utp, 1, "21004567ed6393410000000000100000456723c7"),
                     DPI_MAYBE);
    assert_int_equal(feed_hex(f, dpi_bittorrent_utp, 0, "21004567ed6393410000000000100000456723c6"),
                     DPI_MAYBE);
    free(f);
    /* An extension chain that runs past the packet; a SYN with payload; version 2. */
    assert_int_equal(
        once_hex(dpi_bittorrent_utp, 17, "41015302ed639296000000000010000023c6000000ff", NULL),
        DPI_NO);
    assert_int_equal(
        once_hex(dpi_bittorrent_utp, 17, "41005302ed639296000000000010000023c60000aa", NULL),
        DPI_NO);
    assert_int_equal(
        once_hex(dpi_bittorrent_utp, 17, "42005302ed639296000000000010000023c60000", NULL), DPI_NO);
    truncations(dpi_bittorrent_utp, 17, utp_data, true);
    random_flow(dpi_bittorrent_utp, 17);
}

/* ---- WireGuard ------------------------------------------------------------------------------ */

/* A transport message with tshark's wg.receiver and wg.counter (ciphertext zeroed). */
static void wg_data(flow_t *f, uint8_t dir, uint32_t receiver, uint32_t counter, size_t len,
                    dpi_verdict_t want)
{
    uint8_t m[128] = {4};
    assert_true(len <= sizeof m);
    for (int i = 0; i < 4; i++) {
        m[4 + i] = (uint8_t)(receiver >> (8 * i));
        m[8 + i] = (uint8_t)(counter >> (8 * i));
    }
    assert_int_equal(flow_feed(f, dpi_wireguard, dir, m, len), want);
}

static void test_wireguard(void **state)
{
    (void)state;
    /* ndpi-wireguard frames 1-2: initiation (sender 0x30d037d8), response naming it. */
    flow_t *f = flow_new(17, 43462, 51820);
    assert_int_equal(feed_hex(f, dpi_wireguard, 0, wg_initiation), DPI_MAYBE);
    assert_int_equal(feed_hex(f, dpi_wireguard, 1, wg_response), DPI_MATCH);
    assert_int_equal(f->ctx.proto, OC_PROTO_WIREGUARD);
    free(f);
    /* A response that names someone else. */
    size_t n;
    uint8_t *p = unhex(wg_response, &n);
    p[8] ^= 1;
    f = flow_new(17, 43462, 51820);
    feed_hex(f, dpi_wireguard, 0, wg_initiation);
    assert_int_equal(flow_feed(f, dpi_wireguard, 1, p, n), DPI_MAYBE);
    free(f);
    free(p);
    /* Frames 3-6: transport both ways, counters 0 and 1. */
    f = flow_new(17, 43462, 51820);
    wg_data(f, 0, 0xab7df406, 0, 128, DPI_MAYBE);
    wg_data(f, 1, 0x30d037d8, 0, 128, DPI_MAYBE);
    wg_data(f, 0, 0xab7df406, 1, 128, DPI_MAYBE);
    wg_data(f, 1, 0x30d037d8, 1, 128, DPI_MATCH);
    free(f);
    /* Counters that go back, a changing index, sizes off the 16-byte grid. */
    f = flow_new(17, 43462, 51820);
    for (uint32_t i = 0; i < 6; i++)
        wg_data(f, 0, 0xab7df406, 5 - i, 64, DPI_MAYBE);
    for (uint32_t i = 0; i < 6; i++)
        wg_data(f, 1, 0x30d037d8 + i, i, 64, DPI_MAYBE);
    wg_data(f, 0, 0xab7df406, 9, 72, DPI_NO);
    free(f);
    f = flow_new(17, 1, 2);
    wg_data(f, 0, 1, 1, 16, DPI_NO);
    free(f);
    truncations(dpi_wireguard, 17, wg_initiation, true);
    random_flow(dpi_wireguard, 17);
}

/* ---- git ------------------------------------------------------------------------------------ */

static void test_git(void **state)
{
    (void)state;
    /* gitprotocol-pack(5): "0033git-upload-pack /project.git\0host=myserver.com\0" */
    static const char req[] = "0033git-upload-pack /project.git\0host=myserver.com\0";
    const uint8_t *p = (const uint8_t *)req;
    size_t n = sizeof req - 1;
    assert_int_equal(n, 0x33);
    uint16_t proto = 0;
    assert_int_equal(once(dpi_git, 6, 40000, 9418, p, n, &proto), DPI_MATCH);
    assert_int_equal(proto, OC_PROTO_GIT);
    flow_t *f = flow_new(6, 40000, 9418);
    assert_int_equal(flow_feed(f, dpi_git, 0, p, 2), DPI_MAYBE);
    assert_int_equal(flow_feed(f, dpi_git, 0, p + 2, 20), DPI_MAYBE);
    assert_int_equal(flow_feed(f, dpi_git, 0, p + 22, n - 22), DPI_MATCH);
    free(f);
    /* git push, protocol v2 extra parameters. */
    static const char push[] = "0023git-receive-pack /r.git\0host=h\0";
    assert_int_equal(sizeof push - 1, 0x23);
    assert_int_equal(once(dpi_git, 6, 1, 9418, (const uint8_t *)push, sizeof push - 1, NULL),
                     DPI_MATCH);
    static const char v2[] = "0037git-upload-pack /r.git\0host=example.com\0\0version=2\0";
    assert_int_equal(sizeof v2 - 1, 0x37);
    assert_int_equal(once(dpi_git, 6, 1, 9418, (const uint8_t *)v2, sizeof v2 - 1, NULL),
                     DPI_MATCH);
    /* Wrong length, no NUL at the end, an empty path, a service git does not have. */
    static const char *const bad[] = {
        "0032git-upload-pack /project.git\0host=myserver.com\0",
        "0034git-upload-pack /project.git\0host=myserver.com\0x",
        "001agit-upload-pack \0host=h\0",
        "0019git-upload-file /a\0h\0",
        "zzzzgit-upload-pack /a\0",
    };
    static const size_t bad_len[] = {0x33, 0x34, 0x1a, 0x19, 23};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(once(dpi_git, 6, 1, 9418, (const uint8_t *)bad[i], bad_len[i], NULL),
                         DPI_NO);
    for (size_t k = 0; k < n; k++)
        assert_int_not_equal(once(dpi_git, 6, 1, 9418, p, k, NULL), DPI_MATCH);
    random_flow(dpi_git, 6);
}

/* ---- Gnutella -------------------------------------------------------------------------------- */

static void test_gnutella(void **state)
{
    (void)state;
    uint16_t proto = 0;
    assert_int_equal(once_hex(dpi_gnutella, 6, gnut_connect, &proto), DPI_MATCH);
    assert_int_equal(proto, OC_PROTO_GNUTELLA);
    const char *ok = "GNUTELLA/0.6 200 OK\r\n";
    assert_int_equal(once(dpi_gnutella, 6, 1, 2, (const uint8_t *)ok, strlen(ok), NULL), DPI_MATCH);
    assert_int_equal(once(dpi_gnutella, 6, 1, 2, (const uint8_t *)ok, 5, NULL), DPI_MAYBE);
    const char *http = "GET /uri-res/N2R?urn:sha1:X HTTP/1.1\r\n";
    assert_int_equal(once(dpi_gnutella, 6, 1, 2, (const uint8_t *)http, strlen(http), NULL),
                     DPI_NO);
    /* UDP: G2 packets in the GND transceiver, a Gnutella ping with GGEP, Mojito. */
    assert_int_equal(once_hex(dpi_gnutella, 17, gnut_g2_qkr, NULL), DPI_MATCH);
    assert_int_equal(once_hex(dpi_gnutella, 17, gnut_g2_q2, NULL), DPI_MATCH);
    assert_int_equal(once_hex(dpi_gnutella, 17, gnut_ping, NULL), DPI_MATCH);
    assert_int_equal(once_hex(dpi_gnutella, 17, gnut_mojito, NULL), DPI_MATCH);
    truncations(dpi_gnutella, 17, gnut_g2_q2, true);
    truncations(dpi_gnutella, 17, gnut_ping, true);
    truncations(dpi_gnutella, 17, gnut_mojito, true);
    /* A G2 length past the datagram, a TTL no servent sends, an unknown type. */
    size_t n;
    uint8_t *p = unhex(gnut_g2_qkr, &n);
    p[9] = 0x0c;
    assert_int_equal(once(dpi_gnutella, 17, 1, 2, p, n, NULL), DPI_NO);
    free(p);
    p = unhex(gnut_ping, &n);
    p[17] = 200;
    assert_int_equal(once(dpi_gnutella, 17, 1, 2, p, n, NULL), DPI_NO);
    p[17] = 1;
    p[16] = 0x55;
    assert_int_equal(once(dpi_gnutella, 17, 1, 2, p, n, NULL), DPI_NO);
    free(p);
    random_flow(dpi_gnutella, 17);
}

/* ---- NetBIOS --------------------------------------------------------------------------------- */

/* RFC 1001 section 14.1: each half-byte of the space-padded name plus 'A'. */
static size_t nb_encode(uint8_t *out, const char *name)
{
    char padded[16];
    memset(padded, ' ', sizeof padded);
    memcpy(padded, name, strlen(name));
    out[0] = 32;
    for (int i = 0; i < 16; i++) {
        out[1 + 2 * i] = (uint8_t)('A' + ((uint8_t)padded[i] >> 4));
        out[2 + 2 * i] = (uint8_t)('A' + (padded[i] & 15));
    }
    out[33] = 0;
    return 34;
}

static void test_netbios(void **state)
{
    (void)state;
    uint8_t fred[34];
    nb_encode(fred, "FRED");
    assert_memory_equal(fred + 1, "EGFCEFEECACACACACACACACACACACACA", 32); /* RFC 1001's example */
    uint16_t proto = 0;
    assert_int_equal(once_hex(dpi_netbios, 17, nbns_query, &proto), DPI_MATCH);
    assert_int_equal(proto, OC_PROTO_NETBIOS);
    assert_int_equal(once_hex(dpi_netbios, 17, nbdgm_browse, NULL), DPI_MATCH);
    truncations(dpi_netbios, 17, nbns_query, true);
    truncations(dpi_netbios, 17, nbdgm_browse, true);
    /* Session request (RFC 1002 section 4.3.2): called and calling names. */
    uint8_t sreq[4 + 68] = {0x81, 0x00, 0x00, 68};
    nb_encode(sreq + 4, "FRED");
    nb_encode(sreq + 38, "GEORGE");
    flow_t *f = flow_new(6, 40000, 139);
    assert_int_equal(flow_feed(f, dpi_netbios, 0, sreq, 10), DPI_MAYBE);
    assert_int_equal(flow_feed(f, dpi_netbios, 0, sreq + 10, sizeof sreq - 10), DPI_MATCH);
    assert_int_equal(f->ctx.proto, OC_PROTO_NETBIOS);
    free(f);
    sreq[20] = 'Z'; /* not in the encoding's alphabet */
    assert_int_equal(once(dpi_netbios, 6, 1, 139, sreq, sizeof sreq, NULL), DPI_NO);
    /* DNS is not NetBIOS: a question for "www.example.org". */
    assert_int_equal(once_hex(dpi_netbios, 17,
                              "12340100000100000000000003777777076578616d706c65036f72670000010001",
                              NULL),
                     DPI_NO);
    /* A scope label running past the end. */
    size_t n;
    uint8_t *p = unhex(nbns_query, &n);
    p[45] = 0x3f;
    assert_int_equal(once(dpi_netbios, 17, 137, 137, p, n, NULL), DPI_NO);
    free(p);
    random_flow(dpi_netbios, 17);
    random_flow(dpi_netbios, 6);
}

/* ---- Zoom, Discord, Telegram --------------------------------------------------------------- */

static void test_zoom(void **state)
{
    (void)state;
    /* ndpi-zoom: type 1 from the client, type 2 from the server echoing its token. */
    flow_t *f = flow_new(17, 58327, 8801);
    assert_int_equal(feed_hex(f, dpi_zoom, 0, zoom_t1), DPI_MAYBE);
    assert_int_equal(feed_hex(f, dpi_zoom, 1, zoom_t2), DPI_MATCH);
    assert_int_equal(f->ctx.proto, OC_PROTO_ZOOM);
    free(f);
    /* The GTP-tunnelled flow: type 3 both ways, then the server's type 4 echoing the
     * client's type 3. */
    f = flow_new(17, 45634, 8801);
    assert_int_equal(feed_hex(f, dpi_zoom, 0, zoom_c3), DPI_MAYBE);
    assert_int_equal(feed_hex(f, dpi_zoom, 1, zoom_s3), DPI_MAYBE);
    assert_int_equal(feed_hex(f, dpi_zoom, 1, zoom_s4), DPI_MATCH);
    free(f);
    /* An echo from the same side is not an answer; a type 2 alone is nothing. */
    f = flow_new(17, 58327, 8801);
    assert_int_equal(feed_hex(f, dpi_zoom, 0, zoom_t1), DPI_MAYBE);
    assert_int_equal(feed_hex(f, dpi_zoom, 0, zoom_t2), DPI_MAYBE);
    free(f);
    assert_int_equal(once_hex(dpi_zoom, 17, zoom_t2, NULL), DPI_MAYBE);
    assert_int_equal(once_hex(dpi_zoom, 17, rtp_a, NULL), DPI_NO);
    random_flow(dpi_zoom, 17);
}

static void test_discord(void **state)
{
    (void)state;
    uint16_t proto = 0;
    assert_int_equal(once_hex(dpi_discord, 17, discord_request, &proto), DPI_MATCH);
    assert_int_equal(proto, OC_PROTO_DISCORD);
    assert_int_equal(once_hex(dpi_discord, 17, discord_answer, NULL), DPI_MATCH);
    truncations(dpi_discord, 17, discord_request, true);
    size_t n;
    uint8_t *p = unhex(discord_answer, &n);
    p[30] = 'x'; /* text after the address's NUL */
    assert_int_equal(once(dpi_discord, 17, 1, 2, p, n, NULL), DPI_NO);
    free(p);
    random_flow(dpi_discord, 17);
}

static void test_telegram(void **state)
{
    (void)state;
    uint16_t proto = 0;
    assert_int_equal(once_hex(dpi_telegram, 17, tg_ping, &proto), DPI_MATCH);
    assert_int_equal(proto, OC_PROTO_TELEGRAM);
    assert_int_equal(once_hex(dpi_telegram, 17, tg_answer, NULL), DPI_MATCH);
    truncations(dpi_telegram, 17, tg_ping, true);
    size_t n;
    uint8_t *p = unhex(tg_ping, &n);
    p[20] = 0xFE;
    assert_int_equal(once(dpi_telegram, 17, 1, 2, p, n, NULL), DPI_NO);
    free(p);
    random_flow(dpi_telegram, 17);
}

/* ---- LAN discovery: Dropbox, Spotify, WS-Discovery, NAT-PMP --------------------------------- */

static void test_lan_discovery(void **state)
{
    (void)state;
    /* ndpi-teams frame 244 (Dropbox LAN sync), the namespaces list cut short. */
    const char *db = "{\"version\": [2, 0], \"port\": 17500, \"host_int\": "
                     "13335874912184453354143522528569546212, \"displayname\": \"\", "
                     "\"namespaces\": [2750370560, 785266177]}";
    uint16_t proto = 0;
    assert_int_equal(once(dpi_dropbox, 17, 17500, 17500, (const uint8_t *)db, strlen(db), &proto),
                     DPI_MATCH);
    assert_int_equal(proto, OC_PROTO_DROPBOX);
    const char *json = "{\"host\": 1, \"names\": []}";
    assert_int_equal(once(dpi_dropbox, 17, 1, 2, (const uint8_t *)json, strlen(json), NULL),
                     DPI_NO);

    assert_int_equal(once_hex(dpi_spotify, 17, spotify_disc, &proto), DPI_MATCH);
    assert_int_equal(proto, OC_PROTO_SPOTIFY);
    assert_int_equal(once(dpi_spotify, 17, 1, 2, (const uint8_t *)"SpotUdp", 7, NULL), DPI_NO);

    /* ndpi-gnutella frame 37, the envelope's opening up to the namespaces. */
    const char *wsd = "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope "
                      "xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\" "
                      "xmlns:wsa=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" "
                      "xmlns:wsd=\"http://schemas.xmlsoap.org/ws/2005/04/discovery\">";
    assert_int_equal(once(dpi_wsd, 17, 63957, 3702, (const uint8_t *)wsd, strlen(wsd), &proto),
                     DPI_MATCH);
    assert_int_equal(proto, OC_PROTO_WSD);
    const char *soap = "<?xml version=\"1.0\"?><soap:Envelope/>";
    assert_int_equal(once(dpi_wsd, 17, 1, 3702, (const uint8_t *)soap, strlen(soap), NULL), DPI_NO);

    /* ndpi-gnutella: "0000" to 10.0.2.2:5351 (RFC 6886 external address request). */
    const uint8_t req[2] = {0, 0};
    assert_int_equal(once(dpi_natpmp, 17, 57619, 5351, req, 2, &proto), DPI_MATCH);
    assert_int_equal(proto, OC_PROTO_NAT_PMP);
    assert_int_equal(once(dpi_natpmp, 17, 57619, 5352, req, 2, NULL), DPI_NO);
    /* RFC 6886 section 3.2: the answer, 12 bytes from port 5351. */
    const uint8_t ans[12] = {0, 128, 0, 0, 0, 0, 0x10, 0, 192, 0, 2, 1};
    assert_int_equal(once(dpi_natpmp, 17, 5351, 57619, ans, sizeof ans, NULL), DPI_MATCH);
    assert_int_equal(once(dpi_natpmp, 17, 5351, 57619, ans, 11, NULL), DPI_NO);
    const uint8_t pcp[24] = {2, 1};
    assert_int_equal(once(dpi_natpmp, 17, 57619, 5351, pcp, sizeof pcp, NULL), DPI_NO);
    random_flow(dpi_dropbox, 17);
    random_flow(dpi_spotify, 17);
    random_flow(dpi_wsd, 17);
}

/* ---- the table ------------------------------------------------------------------------------ */

static void test_table_heuristics_last(void **state)
{
    (void)state;
    /* The guesses over several packets must come after every precise dissector. */
    static const char *const last[] = {"rtp", "bittorrent_utp", "wireguard"};
    unsigned n = dpi_n_dissectors;
    assert_true(n >= 3);
    for (unsigned i = 0; i < 3; i++)
        assert_string_equal(dpi_dissectors[n - 3 + i].name, last[i]);
    assert_string_equal(oc_protocol_name(OC_PROTO_GNUTELLA), "gnutella");
    assert_string_equal(oc_protocol_name(OC_PROTO_NAT_PMP), "nat-pmp");
    assert_int_equal(oc_protocol_port(OC_PROTO_WIREGUARD), 51820);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stun_modern_one_datagram),
        cmocka_unit_test(test_stun_classic),
        cmocka_unit_test(test_stun_hostile),
        cmocka_unit_test(test_stun_tcp),
        cmocka_unit_test(test_rtp_three_packets),
        cmocka_unit_test(test_rtp_rejects),
        cmocka_unit_test(test_rtcp_only),
        cmocka_unit_test(test_rtp_tcp_framed),
        cmocka_unit_test(test_bittorrent_handshake),
        cmocka_unit_test(test_bittorrent_dht),
        cmocka_unit_test(test_bittorrent_udp_tracker),
        cmocka_unit_test(test_utp),
        cmocka_unit_test(test_wireguard),
        cmocka_unit_test(test_git),
        cmocka_unit_test(test_gnutella),
        cmocka_unit_test(test_netbios),
        cmocka_unit_test(test_zoom),
        cmocka_unit_test(test_discord),
        cmocka_unit_test(test_telegram),
        cmocka_unit_test(test_lan_discovery),
        cmocka_unit_test(test_table_heuristics_last),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
