#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_engine (tests/fuzz/corpus/engine/).

Each seed is a link-type byte (0 = Ethernet in fuzz_engine's table) followed by records of
{2-byte length, 1-byte time step in 10 ms units, frame}. The seeds hold whole conversations
(handshake, data, FIN/RST, port reuse, idle gaps) so the fuzzer starts from inputs that reach
every end reason. Run from anywhere; it writes next to itself.
"""
import os
import socket
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "engine")


def ether(payload, v6=False, vlan=0):
    hdr = b"\x00\x11\x22\x33\x44\x55\x00\x66\x77\x88\x99\xaa"
    if vlan:
        hdr += struct.pack("!HH", 0x8100, vlan)
    return hdr + struct.pack("!H", 0x86DD if v6 else 0x0800) + payload


def ip(src, dst, proto, l4, v6=False):
    if v6:
        return (struct.pack("!IHBB", 0x60000000, len(l4), proto, 64)
                + socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) + l4)
    return (struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(l4), 0, 0, 64, proto, 0)
            + socket.inet_aton(src) + socket.inet_aton(dst) + l4)


def tcp(sp, dp, flags, seq, ack, data=b""):
    return struct.pack("!HHIIBBHHH", sp, dp, seq, ack, 5 << 4, flags, 1000, 0, 0) + data


def udp(sp, dp, data):
    return struct.pack("!HHHH", sp, dp, 8 + len(data), 0) + data


def icmp(t, c, ident, data=b""):
    return struct.pack("!BBHHH", t, c, 0, ident, 1) + data


def seed(name, frames):
    out = bytearray([0])
    for step, frame in frames:
        out += struct.pack("!HB", len(frame), step) + frame
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(out)


def conv(a, b, v6=False, vlan=0, close="fin"):
    c2s = lambda fl, s, k, d=b"": ether(ip(a, b, 6, tcp(1000, 80, fl, s, k, d), v6), v6, vlan)
    s2c = lambda fl, s, k, d=b"": ether(ip(b, a, 6, tcp(80, 1000, fl, s, k, d), v6), v6, vlan)
    fr = [(0, c2s(0x02, 1, 0)), (1, s2c(0x12, 9, 2)), (1, c2s(0x10, 2, 10)),
          (1, c2s(0x18, 2, 10, b"GET / HTTP/1.0\r\n\r\n")), (2, s2c(0x18, 10, 20, b"HTTP/1.0 200 OK\r\n\r\n"))]
    if close == "fin":
        fr += [(1, c2s(0x11, 20, 29)), (1, s2c(0x11, 29, 21)), (1, c2s(0x10, 21, 30)),
               (50, s2c(0x11, 29, 21)), (10, c2s(0x02, 100, 0))]
    else:
        fr += [(1, s2c(0x04, 29, 0)), (200, c2s(0x02, 100, 0))]
    return fr


def main():
    os.makedirs(OUT, exist_ok=True)
    seed("tcp_fin", conv("10.0.0.1", "10.0.0.2"))
    seed("tcp_rst_v6_vlan", conv("2001:db8::1", "2001:db8::2", v6=True, vlan=7, close="rst"))
    dns = [(i % 3 * 100, ether(ip("10.0.0.%d" % (i % 12 + 1), "10.0.0.53", 17, udp(3000 + i, 53, b"q" * i))))
           for i in range(24)]
    seed("udp_many_flows", dns)
    pings = []
    for i in range(6):
        pings.append((30, ether(ip("192.0.2.1", "192.0.2.2", 1, icmp(8, 0, 5, b"x" * 8)))))
        pings.append((1, ether(ip("192.0.2.2", "192.0.2.1", 1, icmp(0, 0, 5, b"x" * 8)))))
    pings.append((1, ether(ip("192.0.2.9", "192.0.2.1", 1, icmp(3, 3, 0, b"\x45" + b"\0" * 27)))))
    seed("icmp_echo_and_error", pings)
    seed("synack_first", [(0, ether(ip("10.0.0.2", "10.0.0.1", 6, tcp(80, 1000, 0x12, 9, 2)))),
                          (1, ether(ip("10.0.0.1", "10.0.0.2", 6, tcp(1000, 80, 0x10, 2, 10))))])


if __name__ == "__main__":
    main()
