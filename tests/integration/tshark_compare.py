#!/usr/bin/env python3
"""Compares ocellus' flow records with what tshark decodes from the same capture.

For each capture, tshark (an independent decoder) lists every IP packet's addresses,
protocol, ports, VLAN id and IP length. Both sides are summed per flow key and sending
endpoint, so the check is independent of how records are cut by timeouts and of which side
is called the source: every packet and every IP octet that tshark sees must be in ocellus'
records, sent by the same endpoint of the same flow, and nothing more.

usage: tshark_compare.py TSHARK OCELLUS CAPTURE...   (prints one line per capture and a
closing 'N passed, N failed' line; exit 1 on any failure)
"""
import collections
import ipaddress
import json
import subprocess
import sys

FIELDS = ["vlan.id", "ip.src", "ip.dst", "ip.proto", "ip.len", "ipv6.src", "ipv6.dst",
          "ipv6.nxt", "ipv6.plen", "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport",
          "sctp.srcport", "sctp.dstport", "icmpv6.type"]
PORTS = {6, 17, 132, 136}


def norm(addr):
    return ipaddress.ip_address(addr).compressed


def flow_key(proto, vlan, a, ap, b, bp):
    """Canonical key and the sending endpoint (a is the sender)."""
    if proto not in PORTS:
        ap = bp = 0
    ends = sorted([(a, ap), (b, bp)])
    return (proto, vlan, ends[0], ends[1]), (a, ap)


def tshark_counts(tshark, capture):
    cmd = [tshark, "-n", "-r", capture, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=f"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    counts = collections.Counter()
    for line in out.splitlines():
        v = dict(zip(FIELDS, line.split("\t")))
        vlan = int(v["vlan.id"]) if v.get("vlan.id") else 0
        if v.get("ip.src"):
            a, b, proto, octets = v["ip.src"], v["ip.dst"], int(v["ip.proto"]), int(v["ip.len"])
        elif v.get("ipv6.src"):
            a, b = v["ipv6.src"], v["ipv6.dst"]
            octets = 40 + int(v["ipv6.plen"])
            if v.get("tcp.srcport"):
                proto = 6
            elif v.get("udp.srcport"):
                proto = 17
            elif v.get("sctp.srcport"):
                proto = 132
            elif v.get("icmpv6.type"):
                proto = 58
            else:
                proto = int(v["ipv6.nxt"])
        else:
            continue  # not IP: ocellus skips it too
        sp = v.get("tcp.srcport") or v.get("udp.srcport") or v.get("sctp.srcport") or "0"
        dp = v.get("tcp.dstport") or v.get("udp.dstport") or v.get("sctp.dstport") or "0"
        key, sender = flow_key(proto, vlan, norm(a), int(sp), norm(b), int(dp))
        counts[(key, sender, "packets")] += 1
        counts[(key, sender, "octets")] += octets
    return counts


def ocellus_counts(ocellus, capture):
    out = subprocess.run([ocellus, "-r", capture], check=True, capture_output=True, text=True).stdout
    counts = collections.Counter()
    for line in out.splitlines():
        r = json.loads(line)
        v6 = "sourceIPv6Address" in r
        src = norm(r["sourceIPv6Address" if v6 else "sourceIPv4Address"])
        dst = norm(r["destinationIPv6Address" if v6 else "destinationIPv4Address"])
        proto = r["protocolIdentifier"]
        sp, dp = r.get("sourceTransportPort", 0), r.get("destinationTransportPort", 0)
        vlan = r.get("vlanId", 0)
        key, fwd = flow_key(proto, vlan, src, sp, dst, dp)
        _, rev = flow_key(proto, vlan, dst, dp, src, sp)
        counts[(key, fwd, "packets")] += r["packetDeltaCount"]
        counts[(key, fwd, "octets")] += r["octetDeltaCount"]
        counts[(key, rev, "packets")] += r["reversePacketDeltaCount"]
        counts[(key, rev, "octets")] += r["reverseOctetDeltaCount"]
    return counts


def main():
    tshark, ocellus, captures = sys.argv[1], sys.argv[2], sys.argv[3:]
    passed = failed = 0
    for cap in captures:
        want = tshark_counts(tshark, cap)
        got = ocellus_counts(ocellus, cap)
        diffs = [(k, want.get(k, 0), got.get(k, 0)) for k in sorted(set(want) | set(got), key=str)
                 if want.get(k, 0) != got.get(k, 0)]
        pkts = sum(n for k, n in want.items() if k[2] == "packets")
        if diffs:
            failed += 1
            print("FAIL %s: %d differences, e.g.:" % (cap, len(diffs)))
            for k, w, g in diffs[:8]:
                print("   %s: tshark %d, ocellus %d" % (k, w, g))
        else:
            passed += 1
            flows = len({k[0] for k in want})
            print("ok   %s: %d IP packets in %d flows agree" % (cap, pkts, flows))
    print("tshark_compare: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
