#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_dpi (tests/fuzz/corpus/dpi/) from the shared captures.

A seed is the payload of the first packets of one real flow, laid out as fuzz_dpi.c reads
it: the byte that selects a dissector (the FNV-1a fold of its name, as in fuzz_dpi.c), an
options byte (UDP, IPv6), the client and server ports, then {flags, adjust, 2-byte length,
payload} per packet, flags bit 0 set when the server sent it.

Each dissector of src/dpi/dpi_table.c gets up to PER_DISSECTOR flows that nDPI (or, for
captures without an nDPI result, tshark) labels with its protocol, taken round-robin over the
captures so the seeds differ, and NEGATIVE flows of other protocols (the early-reject paths).
A few hand-made seeds reach the engine paths real captures rarely do: a retransmission
overlap, a hole, data on a SYN, a snap-length cut, IP fragments, pool exhaustion across
flows and an FTP data connection announced on the control connection.

Payloads come from tshark (Debian package tshark); IP fragments and tunnels are handled by
it. Rerun after adding a dissector:
  tests/fuzz/make_dpi_seeds.py [--pcaps ../shared/pcaps]
Files named seed-* are replaced; others are kept: found-* (inputs libFuzzer found that reach
code the seeds do not, a sample of a merge) and reproducers of fixed crashes.
"""
import argparse
import collections
import ipaddress
import os
import re
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "corpus", "dpi")
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
import ndpi_compare  # noqa: E402  (the nDPI result parser)

PER_DISSECTOR = 10
NEGATIVE = 2
MAX_PACKETS = 12
MAX_PAYLOAD = 3000       # bytes of payload per seed, so the corpus stays small

# nDPI master protocol or tshark protocol -> the dissector that should claim it.
ALIASES = {"mdns": "dns", "llmnr": "dns", "rtcp": "rtp", "smtps": "smtp", "pop3s": "pop3",
           "imaps": "imap", "ftp_control": "ftp", "gquic": "quic", "pop": "pop3",
           "classicstun": "stun", "wg": "wireguard", "ftp-data": None}
TSHARK_PROTOS = ("tls", "dtls", "quic", "gquic", "http", "dns", "mdns", "llmnr", "ssh", "smtp",
                 "pop", "imap", "ftp", "dhcp", "dhcpv6", "ntp", "sip", "rtp", "rtcp", "stun",
                 "classicstun", "bgp", "mqtt", "bittorrent", "ssdp", "kerberos", "mysql", "git",
                 "wg")

FIELDS = ("frame.protocols", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "tcp.srcport",
          "tcp.dstport", "udp.srcport", "udp.dstport", "tcp.payload", "udp.payload")


def fnv1a8(name):
    h = 2166136261
    for ch in name.encode():
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return (h ^ h >> 8 ^ h >> 16 ^ h >> 24) & 0xFF


def dissectors():
    """[(name, tcp, udp)] in table order, read from dpi_table.c."""
    with open(os.path.join(TOP, "src", "dpi", "dpi_table.c")) as f:
        text = f.read()
    table = text[text.index("dpi_dissectors[] = {"):]
    table = table[:table.index("};")]
    out = []
    for m in re.finditer(r'\{\s*"([^"]+)"\s*,\s*\w+\s*,\s*(true|false)\s*,\s*(true|false)\s*\}',
                         table):
        out.append((m.group(1), m.group(2) == "true", m.group(3) == "true"))
    return out


def last(v):
    return v.split(",")[-1] if v else ""


class Flow:
    def __init__(self, capture, l4, client, server, family):
        self.capture, self.l4, self.client, self.server = capture, l4, client, server
        self.family = family
        self.chunks = []          # (from_server, payload)
        self.tshark = None        # first application protocol tshark named
        self.label = None

    def key(self):
        return ndpi_compare.key_of(self.l4, self.client, self.server)


def read_flows(path, capture):
    cmd = ["tshark", "-r", path, "-Y",
           "(tcp.len > 0 or udp) and not tcp.analysis.retransmission and not icmp "
           "and not icmpv6", "-T", "fields", "-E", "occurrence=a"]
    for f in FIELDS:
        cmd += ["-e", f]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          universal_newlines=True)
    flows = collections.OrderedDict()
    for line in proc.stdout.splitlines():
        c = dict(zip(FIELDS, line.split("\t")))
        protos = c["frame.protocols"].split(":")
        # The innermost IP header is the one named last in the protocol stack.
        v6 = "ipv6" in protos and ("ip" not in protos or
                                  len(protos) - protos[::-1].index("ipv6") >
                                  len(protos) - protos[::-1].index("ip"))
        src = last(c["ipv6.src"] if v6 else c["ip.src"])
        dst = last(c["ipv6.dst"] if v6 else c["ip.dst"])
        if c["tcp.srcport"]:
            l4, sp, dp, payload = 6, last(c["tcp.srcport"]), last(c["tcp.dstport"]), \
                last(c["tcp.payload"])
        elif c["udp.srcport"]:
            l4, sp, dp, payload = 17, last(c["udp.srcport"]), last(c["udp.dstport"]), \
                last(c["udp.payload"])
        else:
            continue
        if not payload or not src or not dst:
            continue
        try:
            a = (ipaddress.ip_address(src).compressed, int(sp))
            b = (ipaddress.ip_address(dst).compressed, int(dp))
            data = bytes.fromhex(payload.replace(":", ""))
        except ValueError:
            continue
        k = ndpi_compare.key_of(l4, a, b)
        fl = flows.get(k)
        if fl is None:
            fl = flows[k] = Flow(capture, l4, a, b, 6 if v6 else 4)
        if fl.tshark is None:
            for p in protos:
                if p in TSHARK_PROTOS:
                    fl.tshark = p
                    break
        if len(fl.chunks) < MAX_PACKETS:
            fl.chunks.append((a != fl.client, data))
    return list(flows.values())


def encode(dissector, fl):
    out = bytearray([fnv1a8(dissector), (1 if fl.l4 == 17 else 0) | (4 if fl.family == 6 else 0)])
    out += struct.pack("!HH", fl.client[1], fl.server[1])
    budget = MAX_PAYLOAD
    for from_server, data in fl.chunks:
        if budget <= 0:
            break
        data = data[:budget]
        budget -= len(data)
        out += struct.pack("!BBH", 1 if from_server else 0, 0, len(data)) + data
    return bytes(out)


def chunk(data, flags=0, adjust=0):
    return struct.pack("!BBH", flags, adjust, len(data)) + data


def handmade(names):
    """Seeds for the engine paths; ssh and ftp are used when the table has them."""
    seeds = {}
    if "ssh" in names:
        head = bytes([fnv1a8("ssh"), 0]) + struct.pack("!HH", 40000, 22)
        banner_c, banner_s = b"SSH-2.0-OpenSSH_9.6\r\n", b"SSH-2.0-dropbear_2022.83\r\n"
        seeds["engine-overlap-gap"] = head + chunk(banner_s[:10], 1) + \
            chunk(banner_s[4:], 1 | 4, 0xfa) + chunk(banner_c[:8], 0) + \
            chunk(banner_c[12:], 4, 4) + chunk(banner_c[8:], 4, (8 - len(banner_c)) & 0xff)
        seeds["engine-syn-data-cut"] = head + chunk(banner_c, 8) + \
            chunk(banner_s[:6], 1 | 0x10, 40) + chunk(banner_s[6:], 1)
        seeds["engine-frag-timejump"] = head + chunk(banner_c[:5], 0x80) + \
            chunk(banner_c[5:], 0x40) + chunk(banner_s, 1 | 0x20)
        ports = struct.pack("!HH", 40001, 22)
        seeds["engine-pool-three-flows"] = head + chunk(b"SSH-2.0-a", 0) + \
            chunk(ports + b"SSH-2.0-b", 2) + chunk(ports + b"SSH-", 2) + \
            chunk(b"\r\n", 1) + chunk(ports + banner_c, 2) + chunk(banner_s, 1)
    if "ftp" in names:
        head = bytes([fnv1a8("ftp"), 0]) + struct.pack("!HH", 50000, 21)
        # PORT 10,0,0,1,156,65 announces 10.0.0.1:40001 (fuzz_dpi's client address).
        seeds["engine-ftp-expect"] = head + chunk(b"220 ftp.example.org FTP ready\r\n", 1) + \
            chunk(b"USER anonymous\r\n") + chunk(b"331 Password\r\n", 1) + \
            chunk(b"PASS x@\r\n") + chunk(b"230 OK\r\n", 1) + \
            chunk(b"PORT 10,0,0,1,156,65\r\n") + chunk(b"200 PORT ok\r\n", 1) + \
            chunk(b"RETR f\r\n") + chunk(struct.pack("!HH", 40001, 20) + b"data", 2 | 1)
    return seeds


def main():
    ap = argparse.ArgumentParser(description="fuzz_dpi seed corpus from the shared captures")
    ap.add_argument("--pcaps", default=os.environ.get("PCAPS",
                                                      os.path.join(TOP, "..", "shared", "pcaps")))
    args = ap.parse_args()
    table = dissectors()
    names = {n for n, _, _ in table}
    print("make_dpi_seeds: dissectors " + " ".join(n for n, _, _ in table))
    ndpi_dir = os.path.join(args.pcaps, "expected", "ndpi")

    by_dissector = collections.defaultdict(lambda: collections.defaultdict(list))
    others = []
    for capture in sorted(os.listdir(args.pcaps)):
        if not capture.endswith((".pcap", ".pcapng")):
            continue
        flows = read_flows(os.path.join(args.pcaps, capture), capture)
        labels = {}
        ndpi = os.path.join(ndpi_dir, capture + ".out")
        if os.path.exists(ndpi):
            for nf in ndpi_compare.parse_ndpi(ndpi, capture):
                if not nf.guessed():
                    labels[nf.key] = nf.master
        for fl in flows:
            label = labels.get(fl.key(), fl.tshark)
            target = ALIASES.get(label, label)
            # "bittorrent" also seeds "bittorrent_utp": a variant named after its protocol.
            homes = [n for n, tcp, udp in table
                     if target and (n == target or n.startswith(target + "_")) and
                     (tcp if fl.l4 == 6 else udp)]
            for n in homes:
                by_dissector[n][capture].append(fl)
            if not homes:
                others.append(fl)

    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.startswith("seed-"):
            os.unlink(os.path.join(OUT, f))
    written = 0
    for name, tcp, udp in table:
        caps = by_dissector.get(name, {})
        picked = []
        queues = [list(v) for _, v in sorted(caps.items())]
        while len(picked) < PER_DISSECTOR and any(queues):
            for q in queues:
                if q and len(picked) < PER_DISSECTOR:
                    picked.append(q.pop(0))
        # Negative seeds: flows of other protocols on a transport the dissector runs on.
        neg = [fl for fl in others if (tcp and fl.l4 == 6) or (udp and fl.l4 == 17)]
        step = max(1, len(neg) // (NEGATIVE + 1))
        n_pos = len(picked)
        picked += neg[fnv1a8(name) % step::step][:NEGATIVE]
        for i, fl in enumerate(picked):
            stem = re.sub(r"[^A-Za-z0-9_-]", "_", os.path.splitext(fl.capture)[0])
            kind = name if i < n_pos else name + "-other"
            with open(os.path.join(OUT, "seed-%s-%s-%d" % (kind, stem, i)), "wb") as f:
                f.write(encode(name, fl))
            written += 1
    for stem, data in handmade(names).items():
        with open(os.path.join(OUT, "seed-" + stem), "wb") as f:
            f.write(data)
        written += 1
    print("make_dpi_seeds: %d seeds for %d dissectors in %s" % (written, len(table), OUT))


if __name__ == "__main__":
    main()
