#!/usr/bin/env python3
"""Writes the seed corpus of tests/fuzz/fuzz_decode: one valid (or deliberately odd) packet
of each kind the decoder handles, prefixed with the byte that fuzz_decode.c maps to its link
type. Seeds give the fuzzer a start inside every branch instead of having to find EtherTypes
and extension header chains by chance. Deterministic: rerunning rewrites identical files.

usage: make_decode_seeds.py [OUTDIR]   (default: corpus/decode beside this script)
"""
import os
import struct
import sys

# Index into fuzz_links[] in fuzz_decode.c; keep the two in step.
LINK_INDEX = {"en10mb": 0, "null": 1, "loop": 2, "raw12": 3, "raw14": 4, "raw": 5,
              "ipv4": 6, "ipv6": 7, "sll": 8, "sll2": 9, "ppp": 10, "ppp_serial": 11,
              "chdlc": 12, "unknown": 13}
# The high bit of the first byte asks fuzz_decode.c for outer tunnel keying.
OUTER = 0x80

MACS = bytes.fromhex("001122334455" "66778899aabb")
V4_SRC, V4_DST = bytes([10, 1, 2, 3]), bytes([172, 16, 0, 9])
V6_SRC = bytes.fromhex("fe800000000000000000000000000001")
V6_DST = bytes.fromhex("20010db8000000000000000000000002")


def eth(etype, vlan=None):
    if vlan is None:
        return MACS + struct.pack("!H", etype)
    return MACS + struct.pack("!HHH", 0x8100, vlan, etype)


def ipv4(proto, l4, opts=b"", frag=0, total=None):
    ihl = 5 + len(opts) // 4
    if total is None:
        total = ihl * 4 + len(l4)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total, 0x4242, frag, 64, proto, 0,
                      V4_SRC, V4_DST)
    return hdr + opts + l4


def ipv6(nh, rest, plen=None):
    if plen is None:
        plen = len(rest)
    return struct.pack("!IHBB", 0x60000000, plen, nh, 64) + V6_SRC + V6_DST + rest


def ext8(nh, body_units=0):
    return struct.pack("!BB", nh, body_units) + bytes(6 + 8 * body_units)


def tcp(sport, dport, flags, opts=b"", payload=b""):
    doff = 5 + len(opts) // 4
    return struct.pack("!HHIIBBHHH", sport, dport, 1000, 2000, doff << 4, flags, 65535, 0,
                       0) + opts + payload


def udp(sport, dport, payload=b""):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def icmp(typ, code, ident=0x1234, payload=b""):
    return struct.pack("!BBHHH", typ, code, 0, ident, 1) + payload


SYN_OPTS = bytes([2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7])


def seeds():
    s = {}
    t_syn = tcp(40000, 80, 0x02, SYN_OPTS)
    t_data = tcp(40000, 80, 0x18, payload=b"GET / HTTP/1.1\r\n\r\n")
    u_dns = udp(5353, 53, b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00")

    s["eth_ipv4_tcp_syn"] = ("en10mb", eth(0x0800) + ipv4(6, t_syn))
    s["eth_ipv4_tcp_data"] = ("en10mb", eth(0x0800) + ipv4(6, t_data))
    s["eth_ipv4_udp"] = ("en10mb", eth(0x0800) + ipv4(17, u_dns))
    s["eth_ipv4_udplite"] = ("en10mb", eth(0x0800) + ipv4(136, u_dns))
    s["eth_ipv4_sctp"] = ("en10mb", eth(0x0800) + ipv4(132, struct.pack("!HHII", 1, 2, 3, 0)
                                                         + bytes(16)))
    s["eth_ipv4_icmp_echo"] = ("en10mb", eth(0x0800) + ipv4(1, icmp(8, 0, payload=bytes(8))))
    s["eth_ipv4_icmp_unreach"] = ("en10mb", eth(0x0800) + ipv4(1, icmp(3, 3) +
                                                                ipv4(17, udp(1, 2))))
    s["eth_ipv4_gre"] = ("en10mb", eth(0x0800) + ipv4(47, struct.pack("!HH", 0, 0x0800)))
    s["eth_ipv4_options"] = ("en10mb", eth(0x0800) + ipv4(17, u_dns, opts=bytes([1] * 12)))
    s["eth_ipv4_max_options"] = ("en10mb", eth(0x0800) + ipv4(6, t_data, opts=bytes([1] * 40)))
    s["eth_ipv4_first_frag"] = ("en10mb", eth(0x0800) + ipv4(17, u_dns, frag=0x2000))
    s["eth_ipv4_later_frag"] = ("en10mb", eth(0x0800) + ipv4(17, bytes(24), frag=0x2000 | 3))
    s["eth_ipv4_tso_zero_len"] = ("en10mb", eth(0x0800) + ipv4(6, t_data, total=0))
    big = ipv4(6, tcp(1, 2, 0x10, payload=bytes(1400)))
    s["eth_ipv4_snaplen_cut"] = ("en10mb", (eth(0x0800) + big)[:68])
    s["eth_ipv4_padded"] = ("en10mb", eth(0x0800) + ipv4(6, tcp(1, 2, 0x10)) + bytes(6))
    s["eth_vlan_ipv4_udp"] = ("en10mb", eth(0x0800, vlan=0x2064) + ipv4(17, u_dns))
    s["eth_vlan_ipv6_tcp"] = ("en10mb", eth(0x86dd, vlan=5) + ipv6(6, t_syn))
    s["eth_vlan_vlan"] = ("en10mb", eth(0x8100, vlan=5) + struct.pack("!HH", 6, 0x0800)
                          + ipv4(17, u_dns))
    s["eth_qinq"] = ("en10mb", MACS + struct.pack("!HHH", 0x88a8, 100, 0x8100)
                     + struct.pack("!HH", 200, 0x0800) + ipv4(17, u_dns))
    s["eth_mpls"] = ("en10mb", eth(0x8847) + struct.pack("!I", (16 << 12) | 0x100 | 64)
                     + ipv4(17, u_dns))
    s["eth_pppoe"] = ("en10mb", eth(0x8864) + struct.pack("!BBHHH", 0x11, 0, 1, 2 + 48, 0x0021)
                      + ipv4(17, u_dns))
    s["eth_arp"] = ("en10mb", eth(0x0806) + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)
                    + MACS[:6] + V4_SRC + bytes(6) + V4_DST)
    s["eth_llc_stp"] = ("en10mb", MACS + struct.pack("!H", 38) + bytes([0x42, 0x42, 3])
                        + bytes(35))
    s["eth_ipv6_udp"] = ("en10mb", eth(0x86dd) + ipv6(17, u_dns))
    s["eth_ipv6_hbh_tcp"] = ("en10mb", eth(0x86dd) + ipv6(0, ext8(6) + t_syn))
    s["eth_ipv6_routing"] = ("en10mb", eth(0x86dd) + ipv6(43, ext8(17, 2) + u_dns))
    s["eth_ipv6_dstopts"] = ("en10mb", eth(0x86dd) + ipv6(60, ext8(17, 1) + u_dns))
    s["eth_ipv6_ah"] = ("en10mb", eth(0x86dd) + ipv6(51, struct.pack("!BBH", 6, 4, 0)
                                                         + bytes(20) + t_data))
    s["eth_ipv6_frag_first"] = ("en10mb", eth(0x86dd) + ipv6(44, struct.pack("!BBHI", 17, 0, 1, 7)
                                                              + u_dns))
    s["eth_ipv6_frag_later"] = ("en10mb", eth(0x86dd) + ipv6(44, struct.pack("!BBHI", 17, 0,
                                                                              100 << 3, 7)
                                                              + bytes(16)))
    s["eth_ipv6_chain"] = ("en10mb", eth(0x86dd) + ipv6(0, ext8(60) + ext8(43, 1)
                                                        + struct.pack("!BBHI", 44, 0, 0, 0)
                                                        + struct.pack("!BBHI", 58, 0, 0, 1)
                                                        + icmp(128, 0)))
    s["eth_ipv6_too_deep"] = ("en10mb", eth(0x86dd) + ipv6(60, b"".join(ext8(60)
                                                                         for _ in range(9))))
    s["eth_ipv6_esp"] = ("en10mb", eth(0x86dd) + ipv6(50, bytes(32)))
    s["eth_ipv6_no_next"] = ("en10mb", eth(0x86dd) + ipv6(59, b""))
    s["eth_ipv6_icmp6_echo"] = ("en10mb", eth(0x86dd) + ipv6(58, icmp(129, 0, payload=b"x" * 8)))
    s["eth_ipv6_icmp6_ns"] = ("en10mb", eth(0x86dd) + ipv6(58, icmp(135, 0) + V6_DST))
    s["eth_ipv6_jumbo_zero_len"] = ("en10mb", eth(0x86dd) + ipv6(17, u_dns, plen=0))
    s["null_le_ipv4"] = ("null", struct.pack("<I", 2) + ipv4(17, u_dns))
    s["null_be_ipv6_24"] = ("null", struct.pack("!I", 24) + ipv6(6, t_data))
    s["loop_ipv6_30"] = ("loop", struct.pack("!I", 30) + ipv6(17, u_dns))
    s["loop_le_ipv6_28"] = ("loop", struct.pack("<I", 28) + ipv6(58, icmp(128, 0)))
    s["null_le_ipv6_10"] = ("null", struct.pack("<I", 10) + ipv6(132, bytes(16)))
    s["raw12_ipv4"] = ("raw12", ipv4(6, t_syn))
    s["raw14_ipv6"] = ("raw14", ipv6(17, u_dns))
    s["raw_ipv4_icmp"] = ("raw", ipv4(1, icmp(0, 0)))
    s["raw_ipv6"] = ("raw", ipv6(6, t_data))
    s["ipv4_link"] = ("ipv4", ipv4(17, u_dns))
    s["ipv6_link"] = ("ipv6", ipv6(0, ext8(17) + u_dns))
    sll_hdr = struct.pack("!HHH", 0, 1, 6) + MACS[:8]
    s["sll_ipv4"] = ("sll", sll_hdr + struct.pack("!H", 0x0800) + ipv4(6, t_syn))
    s["sll_vlan_ipv6"] = ("sll", sll_hdr + struct.pack("!HHH", 0x8100, 9, 0x86dd)
                          + ipv6(17, u_dns))
    s["sll_arp"] = ("sll", sll_hdr + struct.pack("!H", 0x0806) + bytes(28))
    sll2 = lambda proto: struct.pack("!HHIHBB", proto, 0, 2, 1, 0, 6) + MACS[:8]
    s["sll2_ipv6"] = ("sll2", sll2(0x86dd) + ipv6(6, t_syn))
    s["sll2_ipv4"] = ("sll2", sll2(0x0800) + ipv4(1, icmp(8, 0)))
    s["ppp_unsupported"] = ("ppp", struct.pack("!BBH", 0xff, 0x03, 0x0021) + ipv4(17, u_dns))
    # Encapsulations and tunnels
    s["ppp_pfc_ipv6"] = ("ppp", b"\x57" + ipv6(17, u_dns))
    s["ppp_serial_chdlc"] = ("ppp_serial", struct.pack("!BBH", 0x0f, 0, 0x86dd) + ipv6(6, t_syn))
    s["chdlc_mpls_ipv4"] = ("chdlc", struct.pack("!BBHI", 0x0f, 0, 0x8847, (16 << 12) | 0x100 | 9)
                            + ipv4(6, t_data))
    s["unknown_link"] = ("unknown", eth(0x0800) + ipv4(17, u_dns))
    s["eth_qinq_3_tags"] = ("en10mb", MACS + struct.pack("!HHHHHHH", 0x88a8, 1, 0x8100, 2, 0x8100,
                                                         3, 0x86dd) + ipv6(17, u_dns))
    s["eth_mpls_pw_eth"] = ("en10mb", eth(0x8847) + struct.pack("!II", (20 << 12) | 0x100 | 1, 0)
                            + eth(0x0800, vlan=4) + ipv4(1, icmp(8, 0)))
    s["eth_qinq_pppoe_ipv6"] = ("en10mb", MACS + struct.pack("!HHHHH", 0x88a8, 7, 0x8100, 8, 0x8864)
                                + struct.pack("!BBHHH", 0x11, 0, 5, 2 + 48, 0x0057) + ipv6(17, u_dns))
    inner4 = ipv4(17, u_dns)
    inner6 = ipv6(6, t_data)
    s["eth_ipv4_4in4"] = ("en10mb", eth(0x0800) + ipv4(4, inner4))
    s["eth_ipv4_6in4"] = ("en10mb", eth(0x0800) + ipv4(41, inner6))
    s["eth_ipv6_4in6"] = ("en10mb", eth(0x86dd) + ipv6(4, inner4))
    s["eth_ipv4_gre_keyed"] = ("en10mb", eth(0x0800) + ipv4(47, struct.pack("!HHI", 0x2000, 0x0800, 1)
                                                             + inner4))
    s["eth_ipv4_gre_teb"] = ("en10mb", eth(0x0800) + ipv4(47, struct.pack("!HH", 0, 0x6558)
                                                           + eth(0x86dd) + inner6))
    s["eth_ipv4_pptp"] = ("en10mb", eth(0x0800) + ipv4(47, struct.pack("!HHHHII", 0x3081, 0x880b,
                                                                        len(inner4) + 4, 1, 2, 3)
                                                        + struct.pack("!BBH", 0xff, 3, 0x21)
                                                        + inner4))
    s["eth_ipv4_vxlan"] = ("en10mb", eth(0x0800) + ipv4(17, udp(40000, 4789, struct.pack("!II", 0x08000000, 0x100)
                                                                  + eth(0x0800) + inner4)))
    gtp = struct.pack("!BBHIHBB", 0x34, 0xff, 0, 1, 0, 0, 0x85) + bytes([1, 0x10, 0x05, 0])
    s["eth_ipv4_gtpu_ext"] = ("en10mb", eth(0x0800) + ipv4(17, udp(2152, 2152, gtp + inner6)))
    s["eth_ipv4_teredo_origin"] = ("en10mb", eth(0x0800) + ipv4(17, udp(3544, 50000, bytes(2) + bytes(6)
                                                                          + inner6)))
    s["outer_eth_ipv4_vxlan"] = ("en10mb", s["eth_ipv4_vxlan"][1], OUTER)
    return s


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus", "decode")
    os.makedirs(out, exist_ok=True)
    for name, seed in sorted(seeds().items()):
        link, pkt = seed[0], seed[1]
        flags = seed[2] if len(seed) > 2 else 0
        with open(os.path.join(out, name), "wb") as f:
            f.write(bytes([LINK_INDEX[link] | flags]) + pkt)
    print(f"wrote {len(seeds())} seeds to {out}")


if __name__ == "__main__":
    main()
