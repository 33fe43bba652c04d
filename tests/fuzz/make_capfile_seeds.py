#!/usr/bin/env python3
"""Seed inputs of fuzz_capfile: whole capture files of a few KB.

    make_capfile_seeds.py                  writes the committed seeds (tests/fuzz/corpus/capfile/)
    make_capfile_seeds.py --from DIR OUT   cuts the captures of DIR (../shared/pcaps) into OUT

The committed seeds are synthetic: the shared corpus asks to be kept out of our history, so
pieces of it are cut at run time instead (run_fuzz.sh and replay_corpus.sh call --from into
the build tree). Both kinds cover the file formats libpcap reads (pcap little- and
big-endian, micro- and nanosecond, pcapng with one or two interfaces) and the ways a file
breaks (header cut, record cut, impossible lengths, a bad pcapng block), since the capture
path must name the broken record's offset for each.
"""
import os
import socket
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SEED_BYTES = 4096      # a cut keeps whole records up to about this size
REC_CAPLEN = 384       # records are cut to this many bytes (headers and some payload)


def pcap_file(packets, link=1, endian="<", nano=False, snaplen=65535):
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, snaplen, link)
    for ts_us, frame in packets:
        sub = ts_us % 1000000 * (1000 if nano else 1)
        out += struct.pack(endian + "IIII", ts_us // 1000000, sub, len(frame), len(frame)) + frame
    return out


def pcapng_block(btype, body):
    body += b"\0" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def pcapng_file(packets, links=(1,)):
    out = pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    for link in links:
        out += pcapng_block(1, struct.pack("<HHI", link, 0, 65535))
    for i, (ts_us, frame) in enumerate(packets):
        iface = i % len(links)
        out += pcapng_block(6, struct.pack("<IIIII", iface, ts_us >> 32, ts_us & 0xFFFFFFFF,
                                           len(frame), len(frame)) + frame)
    return out


def ether(payload, etype=0x0800, vlan=0):
    hdr = b"\x00\x11\x22\x33\x44\x55\x00\x66\x77\x88\x99\xaa"
    if vlan:
        hdr += struct.pack("!HH", 0x8100, vlan)
    return hdr + struct.pack("!H", etype) + payload


def ip4(src, dst, proto, l4, ident=1, frag=0):
    return struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(l4), ident, frag, 64, proto, 0) + \
        socket.inet_aton(src) + socket.inet_aton(dst) + l4


def ip6(src, dst, nxt, l4):
    return struct.pack("!IHBB", 0x60000000, len(l4), nxt, 64) + \
        socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) + l4


def tcp(sp, dp, flags, seq, ack, data=b""):
    return struct.pack("!HHIIBBHHH", sp, dp, seq, ack, 5 << 4, flags, 1000, 0, 0) + data


def udp(sp, dp, data):
    return struct.pack("!HHHH", sp, dp, 8 + len(data), 0) + data


def synthetic_packets():
    t = 1700000000 * 1000000
    a, b = "10.0.0.1", "10.0.0.2"
    pk = [
        ether(ip4(a, b, 6, tcp(1000, 80, 0x02, 1, 0))),
        ether(ip4(b, a, 6, tcp(80, 1000, 0x12, 9, 2))),
        ether(ip4(a, b, 6, tcp(1000, 80, 0x18, 2, 10, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"))),
        ether(ip4(a, "10.0.0.53", 17, udp(3000, 53, b"\x12\x34\x01\x00\x00\x01" + b"\0" * 6 +
                                        b"\x07example\x03com\x00\x00\x01\x00\x01")), vlan=7),
        # a UDP datagram in two fragments, the later one first
        ether(ip4(a, b, 17, udp(5000, 6000, b"y" * 16)[16:], ident=77, frag=2)),
        ether(ip4(a, b, 17, udp(5000, 6000, b"y" * 16)[:16], ident=77, frag=0x2000)),
        ether(ip6("2001:db8::1", "2001:db8::2", 17, udp(4000, 443, b"\xc0" + b"q" * 40)), 0x86DD),
        ether(ip4(a, b, 6, tcp(1000, 80, 0x11, 40, 10))),
    ]
    return [(t + i * 250000, f) for i, f in enumerate(pk)]


def write(out_dir, name, data):
    with open(os.path.join(out_dir, name), "wb") as f:
        f.write(data)


def synthetic(out_dir):
    pk = synthetic_packets()
    le = pcap_file(pk)
    write(out_dir, "pcap_le_usec", le)
    write(out_dir, "pcap_be_usec", pcap_file(pk, endian=">"))
    write(out_dir, "pcap_le_nsec", pcap_file(pk, nano=True))
    write(out_dir, "pcap_raw_link", pcap_file([(t, f[14:]) for t, f in pk if f[12:14] != b"\x81\x00"],
                                              link=101))
    write(out_dir, "pcap_snaplen_60", pcap_file([(t, f[:60]) for t, f in pk], snaplen=60))
    write(out_dir, "pcap_header_only", le[:24])
    write(out_dir, "pcap_header_cut", le[:20])
    write(out_dir, "pcap_record_cut", le[:24 + 16 + len(pk[0][1]) + 16 + 10])
    write(out_dir, "pcap_record_header_cut", le[:24 + 16 + len(pk[0][1]) + 9])
    # a record whose caplen is larger than the snaplen and the file
    bad = bytearray(le)
    struct.pack_into("<I", bad, 24 + 16 + len(pk[0][1]) + 8, 0x7FFFFFFF)
    write(out_dir, "pcap_record_caplen_huge", bytes(bad))
    ng = pcapng_file(pk)
    write(out_dir, "pcapng_one_if", ng)
    write(out_dir, "pcapng_two_if", pcapng_file(pk, links=(1, 101)))
    write(out_dir, "pcapng_block_cut", ng[:len(ng) - 30])
    bad = bytearray(ng)
    shb = struct.unpack_from("<I", ng, 4)[0]
    idb = struct.unpack_from("<I", ng, shb + 4)[0]
    struct.pack_into("<I", bad, shb + idb + 4, 13)  # block length not a multiple of 4
    write(out_dir, "pcapng_block_len_bad", bytes(bad))


def cut_pcap(data):
    endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    out = bytearray(data[:24])
    pos = 24
    while pos + 16 <= len(data) and len(out) < SEED_BYTES:
        sec, sub, caplen, wirelen = struct.unpack_from(endian + "IIII", data, pos)
        frame = data[pos + 16:pos + 16 + caplen]
        if len(frame) < caplen:
            break
        frame = frame[:REC_CAPLEN]
        out += struct.pack(endian + "IIII", sec, sub, len(frame), wirelen) + frame
        pos += 16 + caplen
    return bytes(out)


def cut_pcapng(data):
    out = bytearray()
    pos = 0
    while pos + 12 <= len(data) and len(out) < SEED_BYTES:
        btype, blen = struct.unpack_from("<II", data, pos)
        if blen < 12 or pos + blen > len(data):
            break
        block = data[pos:pos + blen]
        if btype == 6 and blen > 32 + REC_CAPLEN + 4:
            # an enhanced packet block cut to REC_CAPLEN bytes of packet
            iface, hi, lo, caplen, wirelen = struct.unpack_from("<IIIII", block, 8)
            frame = block[28:28 + min(caplen, REC_CAPLEN)]
            block = pcapng_block(6, struct.pack("<IIIII", iface, hi, lo, len(frame), wirelen) + frame)
        elif btype not in (0x0A0D0D0A, 1, 6):
            block = b""  # statistics, name resolution, ...: not needed
        out += block
        pos += blen
    return bytes(out)


def from_shared(src, out_dir):
    n = 0
    for name in sorted(os.listdir(src)):
        if not name.endswith((".pcap", ".pcapng")):
            continue
        with open(os.path.join(src, name), "rb") as f:
            data = f.read(1 << 20)
        if data[:4] == b"\x0a\x0d\x0d\x0a":
            seed = cut_pcapng(data)
        elif data[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1",
                          b"\xa1\xb2\x3c\x4d"):
            seed = cut_pcap(data)
        else:
            continue
        write(out_dir, name.rsplit(".", 1)[0], seed)
        n += 1
    return n


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--from":
        os.makedirs(sys.argv[3], exist_ok=True)
        n = from_shared(sys.argv[2], sys.argv[3])
        print("make_capfile_seeds: %d seeds cut from %s" % (n, sys.argv[2]))
        return 0 if n > 0 else 1
    if len(sys.argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    out = os.path.join(HERE, "corpus", "capfile")
    os.makedirs(out, exist_ok=True)
    synthetic(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
