/*
 * Unit tests of the fragment table (src/frag): later fragments in order and out of order,
 * duplicates and overlaps, the per-datagram hold limit, the capacity bound, the timeout, the
 * end of input, IP id reuse, and the sequence numbers given to TCP fragments.
 *
 * Packet views are filled by hand here, as the decoder would fill them, so expectations are
 * the test's own arithmetic and not the decoder's output.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "frag/frag.h"

#define S(x) ((uint64_t)(x) * 1000000u)

static const uint8_t SRC[4] = { 10, 0, 0, 1 };
static const uint8_t DST[4] = { 10, 0, 0, 2 };

/* A fragment of datagram @id (UDP 53 -> 5353 unless the test changes it) carrying @data_len
 * bytes at @offset. First fragments carry an 8-byte UDP header inside data_len. */
static dec_packet_t frag_pkt(uint32_t id, uint16_t offset, uint32_t data_len, bool more)
{
    dec_packet_t p;

    memset(&p, 0, sizeof p);
    p.family = 4;
    p.proto = 17;
    memcpy(p.src, SRC, 4);
    memcpy(p.dst, DST, 4);
    p.ip_octets = 20 + data_len;
    p.tcp_wscale = -1;
    p.frag = offset == 0 ? DEC_FRAG_FIRST : DEC_FRAG_LATER;
    p.frag_more = more;
    p.frag_offset = offset;
    p.frag_id = id;
    p.frag_data_len = data_len;
    p.frag_family = 4;
    p.frag_proto = 17;
    memcpy(p.frag_src, SRC, 4);
    memcpy(p.frag_dst, DST, 4);
    if (offset == 0) {
        p.sport = 53;
        p.dport = 5353;
        p.l4_payload_len = data_len - 8;
    }
    return p;
}

static void test_frag_in_order(void **state)
{
    frag_table_t t;
    dec_packet_t first = frag_pkt(7, 0, 1480, true), later = frag_pkt(7, 1480, 1000, false);

    (void)state;
    frag_table_init(&t, 16, 30, 1);
    frag_first(&t, S(1), &first);
    assert_int_equal(frag_later(&t, S(1), S(1), &later), FRAG_ATTRIBUTE);
    assert_int_equal(later.sport, 53);
    assert_int_equal(later.dport, 5353);
    assert_int_equal(later.proto, 17);
    assert_int_equal(later.ip_octets, 1020);
    assert_int_equal(later.l4_payload_len, 1000);
    assert_int_equal(later.frag_offset, 1480);
    assert_null(later.payload);
    uint64_t ts;
    dec_packet_t none;
    assert_false(frag_release(&t, &ts, &none));
    assert_int_equal(t.stats.attributed, 1);
    assert_int_equal(t.stats.duplicates + t.stats.overlaps, 0);
    assert_int_equal(frag_take_orphans(&t), 0);
    frag_table_clear(&t);
}

static void test_frag_out_of_order(void **state)
{
    frag_table_t t;
    dec_packet_t first = frag_pkt(9, 0, 16, true);
    dec_packet_t a = frag_pkt(9, 32, 8, false), b = frag_pkt(9, 16, 16, true);
    dec_packet_t out;
    uint64_t ts;

    (void)state;
    frag_table_init(&t, 16, 30, 1);
    assert_int_equal(frag_later(&t, S(5), S(5), &a), FRAG_HELD);
    assert_int_equal(frag_later(&t, S(5) + 10, S(5) + 10, &b), FRAG_HELD);
    assert_int_equal(t.stats.held, 2);
    frag_first(&t, S(6), &first);
    /* Handed back in arrival order, with their own times and lengths. */
    assert_true(frag_release(&t, &ts, &out));
    assert_int_equal(ts, S(5));
    assert_int_equal(out.ip_octets, 28);
    assert_int_equal(out.sport, 53);
    assert_true(frag_release(&t, &ts, &out));
    assert_int_equal(ts, S(5) + 10);
    assert_int_equal(out.ip_octets, 36);
    assert_false(frag_release(&t, &ts, &out));
    assert_int_equal(frag_take_orphans(&t), 0);
    frag_flush(&t);
    assert_int_equal(frag_take_orphans(&t), 0); /* nothing was left waiting */
    frag_table_clear(&t);
}

static void test_frag_duplicate_and_overlap(void **state)
{
    frag_table_t t;
    dec_packet_t first = frag_pkt(1, 0, 24, true);
    dec_packet_t l1 = frag_pkt(1, 24, 24, true), l2 = frag_pkt(1, 24, 24, true);
    dec_packet_t l3 = frag_pkt(1, 40, 16, false), dup_first = frag_pkt(1, 0, 24, true);

    (void)state;
    frag_table_init(&t, 4, 30, 1);
    frag_first(&t, S(1), &first);
    assert_int_equal(frag_later(&t, S(1), S(1), &l1), FRAG_ATTRIBUTE);
    assert_int_equal(frag_later(&t, S(1), S(1), &l2), FRAG_ATTRIBUTE); /* still counted */
    assert_int_equal(t.stats.duplicates, 1);
    assert_int_equal(frag_later(&t, S(1), S(1), &l3), FRAG_ATTRIBUTE); /* [40,56) vs [24,48) */
    assert_int_equal(t.stats.overlaps, 1);
    frag_first(&t, S(1), &dup_first);
    assert_int_equal(t.stats.duplicates, 2);
    frag_table_clear(&t);
}

static void test_frag_hold_limit(void **state)
{
    frag_table_t t;

    (void)state;
    frag_table_init(&t, 4, 30, 1);
    for (unsigned i = 0; i < FRAG_HOLD; i++) {
        dec_packet_t p = frag_pkt(3, (uint16_t)(8 * (i + 1)), 8, true);
        assert_int_equal(frag_later(&t, S(1), S(1), &p), FRAG_HELD);
    }
    dec_packet_t extra = frag_pkt(3, 8 * (FRAG_HOLD + 1), 8, false);
    assert_int_equal(frag_later(&t, S(1), S(1), &extra), FRAG_DROPPED);
    assert_int_equal(t.stats.dropped, 1);
    frag_flush(&t);
    assert_int_equal(frag_take_orphans(&t), FRAG_HOLD);
    frag_table_clear(&t);
}

static void test_frag_capacity_bound(void **state)
{
    frag_table_t t;

    (void)state;
    frag_table_init(&t, 2, 30, 1);
    for (uint32_t id = 1; id <= 3; id++) {
        dec_packet_t p = frag_pkt(id, 8, 8, false);
        assert_int_equal(frag_later(&t, S(id), S(id), &p), FRAG_HELD);
        assert_true(t.used <= 2);
    }
    /* Datagram 1, the oldest, made room: its held fragment is an orphan. */
    assert_int_equal(t.stats.evicted, 1);
    assert_int_equal(frag_take_orphans(&t), 1);
    dec_packet_t first1 = frag_pkt(1, 0, 8, true), first3 = frag_pkt(3, 0, 8, true);
    dec_packet_t out;
    uint64_t ts;
    frag_first(&t, S(4), &first3);
    assert_true(frag_release(&t, &ts, &out));
    assert_int_equal(ts, S(3));
    /* Datagram 2 is evicted for 1's first fragment, which finds nothing held. */
    frag_first(&t, S(4), &first1);
    assert_false(frag_release(&t, &ts, &out));
    assert_int_equal(frag_take_orphans(&t), 1);
    assert_int_equal(t.used, 2);
    frag_table_clear(&t);
}

static void test_frag_timeout(void **state)
{
    frag_table_t t;
    dec_packet_t held = frag_pkt(5, 8, 8, false);
    dec_packet_t first = frag_pkt(6, 0, 16, true), late = frag_pkt(6, 16, 8, false);

    (void)state;
    frag_table_init(&t, 8, 30, 1);
    assert_int_equal(frag_later(&t, S(100), S(100), &held), FRAG_HELD);
    frag_first(&t, S(110), &first);
    frag_expire(&t, S(129));
    assert_int_equal(frag_take_orphans(&t), 0);
    frag_expire(&t, S(130)); /* datagram 5 has lived 30 s */
    assert_int_equal(frag_take_orphans(&t), 1);
    assert_int_equal(t.used, 1);
    /* Datagram 6 expires at 140: a fragment after that waits for a first that is gone. */
    assert_int_equal(frag_later(&t, S(140), S(140), &late), FRAG_HELD);
    frag_expire(&t, S(169));
    assert_int_equal(frag_take_orphans(&t), 0);
    frag_expire(&t, S(170));
    assert_int_equal(frag_take_orphans(&t), 1);
    assert_int_equal(t.used, 0);
    frag_table_clear(&t);
}

static void test_frag_keys_apart(void **state)
{
    frag_table_t t;
    dec_packet_t first = frag_pkt(8, 0, 16, true);
    dec_packet_t other_vlan = frag_pkt(8, 16, 8, false), other_proto = frag_pkt(8, 16, 8, false);
    dec_packet_t other_dir = frag_pkt(8, 16, 8, false);

    (void)state;
    frag_table_init(&t, 8, 30, 1);
    frag_first(&t, S(1), &first);
    other_vlan.vlan_id = 2;
    assert_int_equal(frag_later(&t, S(1), S(1), &other_vlan), FRAG_HELD);
    other_proto.frag_proto = 6;
    assert_int_equal(frag_later(&t, S(1), S(1), &other_proto), FRAG_HELD);
    memcpy(other_dir.frag_src, DST, 4);
    memcpy(other_dir.frag_dst, SRC, 4);
    assert_int_equal(frag_later(&t, S(1), S(1), &other_dir), FRAG_HELD);
    frag_table_clear(&t);
}

static void test_frag_id_reuse(void **state)
{
    frag_table_t t;
    dec_packet_t a = frag_pkt(4, 0, 16, true), b = frag_pkt(4, 0, 16, true);
    dec_packet_t later = frag_pkt(4, 16, 8, false);

    (void)state;
    frag_table_init(&t, 8, 30, 1);
    frag_first(&t, S(1), &a);
    b.sport = 1000; /* a new datagram with the same id: its later fragments are its own */
    frag_first(&t, S(2), &b);
    assert_int_equal(t.stats.duplicates + t.stats.overlaps, 0);
    assert_int_equal(frag_later(&t, S(2), S(2), &later), FRAG_ATTRIBUTE);
    assert_int_equal(later.sport, 1000);
    frag_table_clear(&t);
}

static void test_frag_tcp_sequence(void **state)
{
    frag_table_t t;
    dec_packet_t first = frag_pkt(2, 0, 1480, true), later = frag_pkt(2, 1480, 520, false);

    (void)state;
    first.proto = first.frag_proto = later.frag_proto = 6;
    first.tcp_seq = 1000;
    first.tcp_flags = DEC_TCP_ACK | DEC_TCP_PSH;
    first.l4_payload_len = 1480 - 32; /* a 32-byte TCP header */
    frag_table_init(&t, 8, 30, 1);
    frag_first(&t, S(1), &first);
    assert_int_equal(frag_later(&t, S(1), S(1), &later), FRAG_ATTRIBUTE);
    /* The later fragment's bytes start 1480 - 32 bytes into the segment. */
    assert_int_equal(later.tcp_seq, 1000 + 1448);
    assert_int_equal(later.l4_payload_len, 520);
    assert_int_equal(later.tcp_flags, 0);

    /* After a tiny first fragment where its bytes lie is unknown: no payload claimed. */
    dec_packet_t tiny = frag_pkt(3, 0, 8, true), rest = frag_pkt(3, 8, 40, false);
    tiny.proto = tiny.frag_proto = rest.frag_proto = 6;
    tiny.frag_tiny = true;
    tiny.l4_payload_len = 0;
    frag_first(&t, S(1), &tiny);
    assert_int_equal(frag_later(&t, S(1), S(1), &rest), FRAG_ATTRIBUTE);
    assert_int_equal(rest.l4_payload_len, 0);
    assert_int_equal(rest.ip_octets, 60);
    assert_int_equal(t.stats.tiny, 1);
    frag_table_clear(&t);
}

static void test_frag_disabled(void **state)
{
    frag_table_t t;
    dec_packet_t first = frag_pkt(1, 0, 16, true), later = frag_pkt(1, 16, 8, false);

    (void)state;
    frag_table_init(&t, 0, 30, 1);
    frag_first(&t, S(1), &first);
    assert_int_equal(frag_later(&t, S(1), S(1), &later), FRAG_DROPPED);
    frag_expire(&t, S(100));
    frag_flush(&t);
    assert_int_equal(frag_take_orphans(&t), 0);
    frag_table_clear(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frag_in_order),
        cmocka_unit_test(test_frag_out_of_order),
        cmocka_unit_test(test_frag_duplicate_and_overlap),
        cmocka_unit_test(test_frag_hold_limit),
        cmocka_unit_test(test_frag_capacity_bound),
        cmocka_unit_test(test_frag_timeout),
        cmocka_unit_test(test_frag_keys_apart),
        cmocka_unit_test(test_frag_id_reuse),
        cmocka_unit_test(test_frag_tcp_sequence),
        cmocka_unit_test(test_frag_disabled),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
