#!/usr/bin/env python3
"""Compares ocellus' flow records with what tshark decodes from the same capture.

tshark (Wireshark's dissectors, not ours) lists every frame's protocol stack and header
fields; this script turns that into packets and IP octets per flow key and sending endpoint.
ocellus' records are summed the same way, so the check does not depend on how records are cut
by timeouts or on which side is called the source: every packet and IP octet tshark
attributes must be in ocellus' records, sent by the same endpoint of the same flow, and
nothing more.

The reference rules (what "the flow of a packet" means here):

1. tshark runs with every reassembly off (-o ip.defragment:FALSE, ipv6.defragment:FALSE,
   tcp.desegment_tcp_streams:FALSE, udp/... none needed), so each frame stands alone.
2. The IP header that counts is the innermost one that is not quoted by an ICMP/ICMPv6
   message: the last `ip`/`ipv6` layer in frame.protocols before the first `icmp`/`icmpv6`
   layer. So tunnels (IP-in-IP, GRE, VXLAN, GTP-U, Teredo, MPLS pseudowires) count on their
   inner packet, and an ICMP error stays an ICMP flow of its outer header. A tunnel whose
   payload is not IP (PPP control in PPTP, a GTP echo) counts on the carrying header, because
   that is then the last IP layer.
3. The flow key is {L4 protocol, first two 802.1Q/802.1ad tags of the frame (outer, inner),
   the two (address, port) endpoints}. Ports are those of the TCP/UDP/UDP-Lite/SCTP layer
   right after the chosen IP header (and its IPv6 extension headers); other protocols,
   ICMP included, have port 0 (ocellus keys ICMP on type/code/echo id, which only splits a
   key of this comparison into several records, summed here). The protocol is the layer after
   the IP header and its extension headers, else the header's protocol field.
4. Octets are the chosen header's IPv4 total length or 40 + IPv6 payload length.
5. Fragments: a frame whose chosen IP header is a later fragment (IPv4 offset > 0, IPv6
   fragment header with offset > 0) has no transport layer in tshark's output. It belongs to
   the flow of its datagram's first fragment (offset 0, more-fragments set), matched on
   {family, addresses, IP id, protocol, VLAN tags}: the most recent first fragment before it,
   or, if none came before, the first one after it; with no first fragment at all it is an
   orphan and counted nowhere (ocellus counts it as skipped). The fragmented header may be a
   tunnel's outer header: the datagram then takes the inner flow of its first fragment.
6. Frames without an IP layer are not counted (ocellus skips them as not-ip and the like).

usage: tshark_compare.py TSHARK OCELLUS CAPTURE...   (prints one line per capture and a
closing 'N passed, N failed' line; exit 1 on any failure)
"""
import collections
import ipaddress
import json
import subprocess
import sys

FIELDS = ["frame.protocols", "vlan.id",
          "ip.src", "ip.dst", "ip.proto", "ip.len", "ip.id", "ip.flags.mf", "ip.frag_offset",
          "ipv6.src", "ipv6.dst", "ipv6.nxt", "ipv6.plen",
          "ipv6.fraghdr.nxt", "ipv6.fraghdr.offset", "ipv6.fraghdr.more", "ipv6.fraghdr.ident",
          "ipv6.hopopts.nxt", "ipv6.routing.nxt", "ipv6.dstopts.nxt", "ah.next_header",
          "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport",
          "sctp.srcport", "sctp.dstport"]
TSHARK_OPTS = ["-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
               "-o", "tcp.desegment_tcp_streams:FALSE"]
PORTS = {6, 17, 132, 136}
TRANSPORTS = {"tcp": 6, "udp": 17, "udplite": 136, "sctp": 132}
LAYER_PROTO = {"tcp": 6, "udp": 17, "udplite": 136, "sctp": 132, "icmp": 1, "icmpv6": 58,
               "gre": 47, "esp": 50, "igmp": 2, "ospf": 89, "pim": 103, "vrrp": 112,
               "ip": 4, "ipv6": 41}
V6_EXT = {"ipv6.hopopts": "ipv6.hopopts.nxt", "ipv6.routing": "ipv6.routing.nxt",
          "ipv6.dstopts": "ipv6.dstopts.nxt", "ipv6.fraghdr": "ipv6.fraghdr.nxt",
          "ah": "ah.next_header"}


def norm(addr):
    return ipaddress.ip_address(addr).compressed


def flow_key(proto, vlans, a, ap, b, bp):
    """Canonical key and the sending endpoint (a is the sender)."""
    if proto not in PORTS:
        ap = bp = 0
    ends = sorted([(a, ap), (b, bp)])
    return (proto, vlans, ends[0], ends[1]), (a, ap)


class Frame:
    """One tshark line: the layer names and every occurrence of each field."""

    def __init__(self, line):
        cols = line.split("\t")
        cols += [""] * (len(FIELDS) - len(cols))
        self.f = {name: (col.split(",") if col else []) for name, col in zip(FIELDS, cols)}
        self.layers = self.f["frame.protocols"][0].split(":") if self.f["frame.protocols"] else []
        self.f.pop("frame.protocols")

    def get(self, field, idx, default=None):
        vals = self.f.get(field, [])
        return vals[idx] if 0 <= idx < len(vals) and vals[idx] != "" else default

    def occurrence(self, pos):
        """Index of layer @pos among the layers of the same name."""
        return self.layers[:pos].count(self.layers[pos])

    def ip_headers(self):
        """Positions of the IP layers not quoted by ICMP."""
        out = []
        for pos, name in enumerate(self.layers):
            if name in ("icmp", "icmpv6"):
                break
            if name in ("ip", "ipv6"):
                out.append(pos)
        return out

    def header(self, pos):
        """(family, src, dst, protocol, octets, frag) of the IP layer at @pos, frag being
        None or (id, offset, more, datagram protocol)."""
        k = self.occurrence(pos)
        nxt = pos + 1
        if self.layers[pos] == "ip":
            src, dst = norm(self.get("ip.src", k)), norm(self.get("ip.dst", k))
            proto = int(self.get("ip.proto", k, "0"))
            octets = int(self.get("ip.len", k, "0"))
            off = int(self.get("ip.frag_offset", k, "0"))
            more = self.get("ip.flags.mf", k, "0") in ("1", "True")
            frag = (int(self.get("ip.id", k, "0"), 0), off, more, proto) if off or more else None
            fam = 4
        else:
            src, dst = norm(self.get("ipv6.src", k)), norm(self.get("ipv6.dst", k))
            proto = int(self.get("ipv6.nxt", k, "0"))
            octets = 40 + int(self.get("ipv6.plen", k, "0"))
            frag = None
            while nxt < len(self.layers) and self.layers[nxt] in V6_EXT:
                ext = self.layers[nxt]
                e = self.occurrence(nxt)
                proto = int(self.get(V6_EXT[ext], e, str(proto)))
                if ext == "ipv6.fraghdr":
                    off = int(self.get("ipv6.fraghdr.offset", e, "0"))
                    more = self.get("ipv6.fraghdr.more", e, "0") in ("1", "True")
                    if off or more:
                        frag = (int(self.get("ipv6.fraghdr.ident", e, "0"), 0), off, more, proto)
                nxt += 1
            fam = 6
        if nxt < len(self.layers) and self.layers[nxt] in LAYER_PROTO:
            proto = LAYER_PROTO[self.layers[nxt]]
        return fam, src, dst, proto, octets, frag, nxt

    def ports(self, nxt):
        if nxt >= len(self.layers) or self.layers[nxt] not in TRANSPORTS:
            return 0, 0
        name = self.layers[nxt]
        if name in ("udp", "udplite"):
            # Wireshark's UDP dissector handles UDP-Lite with the udp.* fields.
            name, k = "udp", sum(1 for n in self.layers[:nxt] if n in ("udp", "udplite"))
        else:
            k = self.occurrence(nxt)
        return (int(self.get(name + ".srcport", k, "0")), int(self.get(name + ".dstport", k, "0")))


def tshark_counts(tshark, capture):
    cmd = [tshark, "-n", "-r", capture] + TSHARK_OPTS + ["-T", "fields", "-E", "separator=\t",
                                                         "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    counts = collections.Counter()
    firsts = {}                       # datagram -> (key, sender, sender's endpoint port map)
    waiting = collections.defaultdict(list)  # datagram -> [(octets, src)] before its first
    orphans = 0
    inner_vlans = False
    for line in out.splitlines():
        fr = Frame(line)
        ips = fr.ip_headers()
        if not ips:
            continue
        tags = [int(v) for v in fr.f.get("vlan.id", []) if v][:2]
        vlans = (tags + [0, 0])[:2]
        inner_vlans |= vlans[1] != 0
        vlans = tuple(vlans)
        fam, src, dst, proto, octets, frag, nxt = fr.header(ips[-1])
        if frag is not None and frag[1] > 0:
            dg = (fam, src, dst, frag[0], frag[3], vlans)
            if dg in firsts:
                key, ends = firsts[dg]
                sender = ends[src]
                counts[(key, sender, "packets")] += 1
                counts[(key, sender, "octets")] += octets
            else:
                waiting[dg].append((octets, src))
            continue
        sp, dp = fr.ports(nxt)
        key, sender = flow_key(proto, vlans, src, sp, dst, dp)
        _, other = flow_key(proto, vlans, dst, dp, src, sp)
        counts[(key, sender, "packets")] += 1
        counts[(key, sender, "octets")] += octets
        # Any fragmented header of this frame: later fragments of its datagram join this flow.
        for pos in ips:
            hfam, hsrc, hdst, _, _, hfrag, _ = fr.header(pos)
            if hfrag is None or hfrag[1] != 0:
                continue
            dg = (hfam, hsrc, hdst, hfrag[0], hfrag[3], vlans)
            firsts[dg] = (key, {hsrc: sender, hdst: other})
            for w_octets, w_src in waiting.pop(dg, []):
                counts[(key, firsts[dg][1][w_src], "packets")] += 1
                counts[(key, firsts[dg][1][w_src], "octets")] += w_octets
    orphans = sum(len(v) for v in waiting.values())
    return counts, orphans, inner_vlans


def ocellus_counts(ocellus, capture):
    out = subprocess.run([ocellus, "-r", capture], check=True, capture_output=True, text=True).stdout
    counts = collections.Counter()
    inner_exported = False
    for line in out.splitlines():
        r = json.loads(line)
        v6 = "sourceIPv6Address" in r
        src = norm(r["sourceIPv6Address" if v6 else "sourceIPv4Address"])
        dst = norm(r["destinationIPv6Address" if v6 else "destinationIPv4Address"])
        proto = r["protocolIdentifier"]
        sp, dp = r.get("sourceTransportPort", 0), r.get("destinationTransportPort", 0)
        inner_exported |= "dot1qCustomerVlanId" in r
        vlans = (r.get("vlanId", 0), r.get("dot1qCustomerVlanId", 0))
        key, fwd = flow_key(proto, vlans, src, sp, dst, dp)
        _, rev = flow_key(proto, vlans, dst, dp, src, sp)
        counts[(key, fwd, "packets")] += r["packetDeltaCount"]
        counts[(key, fwd, "octets")] += r["octetDeltaCount"]
        counts[(key, rev, "packets")] += r["reversePacketDeltaCount"]
        counts[(key, rev, "octets")] += r["reverseOctetDeltaCount"]
    return counts, inner_exported


def outer_vlan_only(counts):
    """Folds the inner VLAN tag out of the keys (when the JSON output does not carry it)."""
    out = collections.Counter()
    for (key, sender, what), n in counts.items():
        out[((key[0], (key[1][0], 0), key[2], key[3]), sender, what)] += n
    return out


def main():
    tshark, ocellus, captures = sys.argv[1], sys.argv[2], sys.argv[3:]
    passed = failed = 0
    for cap in captures:
        want, orphans, inner_vlans = tshark_counts(tshark, cap)
        got, inner_exported = ocellus_counts(ocellus, cap)
        note = ""
        if inner_vlans and not inner_exported:
            # The JSON mapper does not write dot1qCustomerVlanId yet: compare on the outer tag.
            want, got = outer_vlan_only(want), outer_vlan_only(got)
            note = " (inner VLAN not exported: outer tag compared)"
        diffs = [(k, want.get(k, 0), got.get(k, 0)) for k in sorted(set(want) | set(got), key=str)
                 if want.get(k, 0) != got.get(k, 0)]
        pkts = sum(n for k, n in want.items() if k[2] == "packets")
        if orphans:
            note += " (%d orphan fragments)" % orphans
        if diffs:
            failed += 1
            print("FAIL %s: %d differences%s, e.g.:" % (cap, len(diffs), note))
            for k, w, g in diffs[:8]:
                print("   %s: tshark %d, ocellus %d" % (k, w, g))
        else:
            passed += 1
            flows = len({k[0] for k in want})
            print("ok   %s: %d IP packets in %d flows agree%s" % (cap, pkts, flows, note))
    print("tshark_compare: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
