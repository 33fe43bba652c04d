#!/usr/bin/env python3
"""Compares ocellus's protocol labels and server names with nDPI's verdicts.

For every capture of the shared corpus that has an ndpiReader result in expected/ndpi/,
ocellus runs with its default settings (-r CAPTURE -o json:FILE) and its records are joined
to nDPI's flows by the unordered 5-tuple (L4 protocol and the two address:port endpoints;
VLAN ignored). All records of one 5-tuple count together, since our idle timeout may cut a
connection nDPI keeps whole, and a 5-tuple reused by a later connection is one group on both
sides. Tunnelled flows use the inner header on both sides (ndpiReader strips VXLAN, GRE, GTP,
IP-in-IP and shows the inner addresses; ocellus keys on the inner header by default).

Among nDPI's flows whose master protocol (the part of [proto: M.A/Master.App] before the
'.') is one of PROTOCOLS, each is counted as
  agree       our applicationName is nDPI's master protocol, lower-cased
  disagree    we gave the 5-tuple another label
  unlabelled  we have the 5-tuple but no applicationName
  missing     we have no record of the 5-tuple
nDPI's guesses (Confidence "Match by port" or "Match by IP") are left out: we never label by
port or address, so they are not evidence about payload.

The server name nDPI prints as Hostname/SNI is compared with the field we extract for that
protocol (HOST_FIELDS) on the flows where both agree on the protocol, after nDPI's own
normalisation: lower case, and for HTTP the port removed from the Host header.

peafowl-bgp.pcap has no nDPI result; tshark's BGP dissector is the reference there: every
5-tuple carrying BGP must be labelled bgp by us.

The check passes when at least 95 % of the flows agree, no flow of a single-protocol capture
(SINGLE) disagrees, no server name differs and none is missing where we have a field for it,
and every BGP flow of peafowl-bgp is labelled bgp. It prints a per-protocol table either way.

Usage:
  ndpi_compare.py [--ocellus PATH] [--pcaps DIR] [--verbose] [CAPTURE ...]
CAPTURE is a capture file name in the corpus (or a path to one); without any, every capture
with an nDPI result plus peafowl-bgp.pcap is checked. --verbose lists every flow that does
not agree and every server name that differs. Exit status 0 pass, 1 fail, 2 usage error.
Standard library only.
"""
import argparse
import collections
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

PROTOCOLS = ("http", "tls", "dns", "quic", "ssh", "smtp", "pop3", "imap", "ftp_control", "dhcp",
             "dhcpv6", "ntp", "sip", "rtp", "rtcp", "stun", "bgp", "mqtt", "bittorrent", "mdns",
             "ssdp", "smtps", "imaps", "pop3s")

# Captures that hold (nearly) one protocol: no flow of theirs may be labelled otherwise.
SINGLE = ("ndpi-ssh.pcap", "ndpi-ftp.pcap", "ndpi-imap.pcap", "ndpi-pop3.pcap", "ndpi-smtp.pcap",
          "ndpi-mqtt.pcap", "ndpi-sip.pcap", "ndpi-dns.pcap", "ndpi-443-git.pcap",
          "peafowl-bgp.pcap")

# Captures checked against tshark instead of nDPI (no expected/ndpi file).
TSHARK_BGP = ("peafowl-bgp.pcap",)

THRESHOLD = 0.95

# Our fields that hold what nDPI shows as Hostname/SNI, per nDPI master protocol; the first
# one present is compared. For SSH nDPI shows the first banner on the wire, whichever side
# sent it (ndpi-ssh.pcap: the server's in one flow, the client's in the other), and records
# do not say which banner came first: either of ours may match.
HOST_FIELDS = {
    "http": ("httpRequestHost",),
    "ssdp": ("httpRequestHost",),
    "tls": ("sslServerName",),
    "quic": ("sslServerName",),
    "dns": ("dnsQName",),
    "mdns": ("dnsQName",),
    "llmnr": ("dnsQName",),
    "dhcp": ("dhcpHostName",),
    "ssh": ("sshVersion", "reverseSshVersion"),
}
# Protocols whose nDPI name may come from where we keep nothing (the mail servers' greeting
# line): compared when we have the field, not required.
HOST_OPTIONAL = {
    "smtp": ("sslServerName",),
    "smtps": ("sslServerName",),
    "pop3s": ("sslServerName",),
    "imaps": ("sslServerName",),
}

FLOW_RE = re.compile(r"^\t(\d+)\t(TCP|UDP) (\S+) (<->|->) (\S+) (.*)$")
PROTO_RE = re.compile(r"\[proto: (?:([A-Za-z0-9_-]+):)?([0-9.]+)/([^\]]+)\]")
CONF_RE = re.compile(r"\[Confidence: ([^\]]+)\]")
# The value may hold brackets itself ("[ff02::c]:1900"): it ends where the next field starts.
HOST_RE = re.compile(r"\[Hostname/SNI: (.*?)\](?=\[|$)")
L4 = {"TCP": 6, "UDP": 17}


def endpoint(text):
    """'1.2.3.4:80' or '[2001:db8::1]:80' -> (canonical address, port)."""
    if text.startswith("["):
        addr, _, port = text[1:].partition("]:")
    else:
        addr, _, port = text.rpartition(":")
    return ipaddress.ip_address(addr).compressed, int(port)


def key_of(l4, a, b):
    return (l4, frozenset((a, b)))


class NdpiFlow:
    def __init__(self, capture, line):
        m = FLOW_RE.match(line)
        self.capture = capture
        self.num = int(m.group(1))
        self.l4 = L4[m.group(2)]
        self.client = endpoint(m.group(3))
        self.arrow = m.group(4)
        self.server = endpoint(m.group(5))
        self.key = key_of(self.l4, self.client, self.server)
        rest = m.group(6)
        p = PROTO_RE.search(rest)
        self.tunnel = p.group(1) if p else None
        names = p.group(3) if p else "Unknown"
        # "TLS.Facebook": master TLS; "Zoom": the application alone is the master.
        self.master = names.split(".", 1)[0].lower()
        self.proto_text = (p.group(1) + ":" if p and p.group(1) else "") + \
            (p.group(2) + "/" + names if p else "?")
        c = CONF_RE.search(rest)
        self.confidence = c.group(1) if c else "?"
        h = HOST_RE.search(rest)
        self.host = h.group(1) if h else None

    def guessed(self):
        return self.confidence in ("Match by port", "Match by IP")

    def describe(self):
        return "nDPI #%d %s %s %s %s [%s] [%s]" % (
            self.num, {6: "TCP", 17: "UDP"}[self.l4], fmt_ep(self.client), self.arrow,
            fmt_ep(self.server), self.proto_text, self.confidence)


def fmt_ep(ep):
    addr, port = ep
    return ("[%s]:%d" if ":" in addr else "%s:%d") % (addr, port)


def parse_ndpi(path, capture):
    flows = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if FLOW_RE.match(line):
                flows.append(NdpiFlow(capture, line))
    return flows


class Group:
    """Our records of one unordered 5-tuple."""

    def __init__(self):
        self.records = []

    def labels(self):
        out = []
        for r in self.records:
            name = r.get("applicationName")
            if name and name not in out:
                out.append(name)
        return out

    def field(self, name):
        for r in self.records:
            if r.get(name):
                return r[name]
        return None


def record_endpoints(r):
    if "sourceIPv4Address" in r:
        s, d = r["sourceIPv4Address"], r["destinationIPv4Address"]
    else:
        s, d = r.get("sourceIPv6Address"), r.get("destinationIPv6Address")
    s = ipaddress.ip_address(s).compressed
    d = ipaddress.ip_address(d).compressed
    return (s, r.get("sourceTransportPort", 0)), (d, r.get("destinationTransportPort", 0))


def run_ocellus(ocellus, capture_path, tmp):
    out = os.path.join(tmp, "records.json")
    if os.path.exists(out):
        os.unlink(out)
    proc = subprocess.run([ocellus, "-r", capture_path, "-o", "json:" + out],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, errors="replace")
    if proc.returncode != 0:
        raise RuntimeError("ocellus exited %d on %s: %s" % (proc.returncode, capture_path,
                                                          proc.stderr.strip()[-500:]))
    groups = collections.defaultdict(Group)
    with open(out, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            l4 = r.get("protocolIdentifier")
            if l4 not in (6, 17):
                continue
            a, b = record_endpoints(r)
            groups[key_of(l4, a, b)].records.append(r)
    return groups


def norm_host(proto, value):
    v = value.strip().lower()
    if proto == "http":
        # nDPI strips a port from the Host header ("example.com:8080", "[::1]:80").
        if v.startswith("["):
            v = v[1:].split("]", 1)[0]
        elif v.count(":") == 1:
            v = v.split(":", 1)[0]
    if proto in ("dns", "mdns", "llmnr") and v.endswith(".") and len(v) > 1:
        v = v[:-1]
    return v


class Result:
    def __init__(self):
        self.proto = collections.defaultdict(collections.Counter)  # master -> outcome -> n
        self.capture_disagree = collections.Counter()
        self.guessed = collections.Counter()                       # master -> n
        self.host = collections.Counter()      # equal / differ / absent / absent-optional
        self.host_problems = []
        self.flow_problems = []                # (capture, text)
        self.ours_only = collections.Counter() # our label on a flow nDPI gives another master
        self.bgp = []                          # (capture, tuples, labelled bgp, problems)
        self.errors = []
        self.tshark_cache = {}


def compare_capture(capture, path, ndpi_path, ocellus, tmp, res, verbose):
    flows = parse_ndpi(ndpi_path, capture)
    groups = run_ocellus(ocellus, path, tmp)
    seen = set()
    for fl in flows:
        seen.add(fl.key)
        g = groups.get(fl.key)
        labels = g.labels() if g else []
        if fl.master not in PROTOCOLS:
            for lab in labels:
                if lab != fl.master:
                    res.ours_only[(fl.master, lab)] += 1
                    if verbose:
                        res.flow_problems.append((capture, "ours only: %s; we say %s" % (
                            fl.describe(), lab)))
            continue
        if fl.guessed():
            res.guessed[fl.master] += 1
            continue
        if g is None:
            outcome = "missing"
        elif not labels:
            outcome = "unlabelled"
        elif fl.master in labels:
            outcome = "agree"
        else:
            outcome = "disagree"
            res.capture_disagree[capture] += 1
        res.proto[fl.master][outcome] += 1
        if outcome != "agree":
            res.flow_problems.append((capture, "%s: %s%s" % (
                outcome, fl.describe(), "; we say " + ",".join(labels) if labels else "")))
            continue
        if len(labels) > 1:
            res.flow_problems.append((capture, "mixed: %s; our records say %s" % (
                fl.describe(), ",".join(labels))))
        if fl.host is None or fl.host == "":
            continue
        compare_host(capture, path, fl, g, res, verbose)


DNS_FAMILY = ("dns", "mdns", "llmnr")


def dns_questions(path, cache):
    """Question names per unordered 5-tuple in packet order, as tshark reads them."""
    if path not in cache:
        q = collections.defaultdict(list)
        for l4, a, b, c in tshark_packets(path, "dns or mdns or llmnr", ("dns.qry.name",)):
            if c["dns.qry.name"]:
                q[key_of(l4, a, b)].append(c["dns.qry.name"].split(",")[0])
        cache[path] = q
    return cache[path]


def compare_host(capture, path, fl, g, res, verbose):
    required = fl.master in HOST_FIELDS
    names = HOST_FIELDS.get(fl.master) or HOST_OPTIONAL.get(fl.master)
    if names is None:
        res.host["not compared"] += 1
        return
    values = [v for v in (g.field(name) for name in names) if v]
    if fl.master == "ssh" and fl.host in values:
        values = [fl.host]
    ours = values[0] if values else None
    if ours is None:
        res.host["absent" if required else "absent (no field)"] += 1
        if required:
            res.host_problems.append((capture, "absent: %s host %r; we have no %s" % (
                fl.describe(), fl.host, "/".join(names))))
        return
    if norm_host(fl.master, ours) == norm_host(fl.master, fl.host):
        res.host["equal"] += 1
        return
    if fl.master in DNS_FAMILY:
        # A 5-tuple may carry many queries (mDNS announcements, a resolver reusing its
        # port); nDPI shows the last one it looked at, we keep the first. Both are right
        # when tshark sees ours as the 5-tuple's first question and nDPI's among the others.
        qs = [norm_host(fl.master, q) for q in dns_questions(path, res.tshark_cache).get(
            fl.key, [])]
        if qs and qs[0] == norm_host(fl.master, ours) and norm_host(fl.master, fl.host) in qs:
            res.host["equal (ours the first query, nDPI's a later one)"] += 1
            if verbose:
                res.host_problems.append((capture, "later query: %s host %r, ours %r" % (
                    fl.describe(), fl.host, ours)))
            return
    res.host["differ"] += 1
    res.host_problems.append((capture, "differ: %s host %r, ours %r" % (
        fl.describe(), fl.host, ours)))


TSHARK_ADDR = ("frame.protocols", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "tcp.srcport",
               "tcp.dstport", "udp.srcport", "udp.dstport")


def tshark_packets(path, display_filter, fields=()):
    """Runs tshark over @path and yields (l4, source endpoint, destination endpoint, {field:
    value}) for each TCP or UDP packet that matches @display_filter. Tunnelled packets give
    their innermost header (the IP version named last in the protocol stack), as ndpiReader
    and ocellus key them. Values of @fields are tshark's, all occurrences comma-separated."""
    cmd = ["tshark", "-r", path, "-Y", display_filter, "-T", "fields", "-E", "occurrence=a"]
    for f in TSHARK_ADDR + tuple(fields):
        cmd += ["-e", f]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, errors="replace")
    if proc.returncode != 0:
        raise RuntimeError("tshark failed on %s: %s" % (path, proc.stderr.strip()[-300:]))
    for line in proc.stdout.splitlines():
        c = dict(zip(TSHARK_ADDR + tuple(fields), line.split("\t")))
        protos = c["frame.protocols"].split(":")
        pos = {p: i for i, p in enumerate(protos)}      # last position of each name
        v6 = pos.get("ipv6", -1) > pos.get("ip", -1)
        src = c["ipv6.src" if v6 else "ip.src"].split(",")[-1]
        dst = c["ipv6.dst" if v6 else "ip.dst"].split(",")[-1]
        if c["tcp.srcport"]:
            l4, sp, dp = 6, c["tcp.srcport"], c["tcp.dstport"]
        elif c["udp.srcport"]:
            l4, sp, dp = 17, c["udp.srcport"], c["udp.dstport"]
        else:
            continue
        try:
            a = endpoint_from(src, sp.split(",")[-1])
            b = endpoint_from(dst, dp.split(",")[-1])
        except ValueError:
            continue
        yield l4, a, b, c


def endpoint_from(addr, port):
    return ipaddress.ip_address(addr).compressed, int(port)


def tshark_bgp(capture, path, ocellus, tmp, res):
    if shutil.which("tshark") is None:
        res.errors.append("%s: tshark is not installed (Debian package tshark)" % capture)
        return
    keys = {key_of(l4, a, b) for l4, a, b, _ in tshark_packets(path, "bgp")}
    groups = run_ocellus(ocellus, path, tmp)
    good = 0
    problems = []
    for k in sorted(keys, key=str):
        g = groups.get(k)
        labels = g.labels() if g else []
        if labels == ["bgp"]:
            good += 1
        else:
            eps = " <-> ".join(fmt_ep(e) for e in sorted(k[1]))
            problems.append("%s: TCP %s: %s" % (
                capture, eps, "missing" if g is None else
                ("unlabelled" if not labels else "we say " + ",".join(labels))))
    if not keys:
        problems.append("%s: tshark found no BGP flow" % capture)
    res.bgp.append((capture, len(keys), good, problems))


def print_report(res, verbose):
    out = []
    head = "%-12s %6s %6s %9s %11s %8s %7s" % ("protocol", "flows", "agree", "disagree",
                                               "unlabelled", "missing", "agree%")
    out.append(head)
    out.append("-" * len(head))
    tot = collections.Counter()
    for p in sorted(res.proto):
        c = res.proto[p]
        n = sum(c.values())
        tot.update(c)
        out.append("%-12s %6d %6d %9d %11d %8d %6.1f%%" % (
            p, n, c["agree"], c["disagree"], c["unlabelled"], c["missing"],
            100.0 * c["agree"] / n if n else 0))
    n = sum(tot.values())
    out.append("-" * len(head))
    out.append("%-12s %6d %6d %9d %11d %8d %6.1f%%" % (
        "total", n, tot["agree"], tot["disagree"], tot["unlabelled"], tot["missing"],
        100.0 * tot["agree"] / n if n else 0))
    if res.guessed:
        out.append("left out, nDPI only guessed them by port/IP: " + ", ".join(
            "%s %d" % kv for kv in sorted(res.guessed.items())))
    out.append("server names (flows agreeing on the protocol): " + (", ".join(
        "%s %d" % kv for kv in sorted(res.host.items())) or "none"))
    if res.ours_only:
        out.append("our labels on flows nDPI gives a master outside the list (not counted): " +
                   ", ".join("%s->%s %d" % (k[0], k[1], v)
                             for k, v in sorted(res.ours_only.items())))
    for capture, n_keys, good, _ in res.bgp:
        out.append("%s (tshark reference): %d BGP flows, %d labelled bgp" % (
            capture, n_keys, good))
    print("\n".join(out))
    return tot


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ocellus", default=os.environ.get("OCELLUS"),
                    help="the ocellus binary (default: $OCELLUS)")
    ap.add_argument("--pcaps", default=os.environ.get("PCAPS"),
                    help="the shared capture corpus (default: $PCAPS)")
    ap.add_argument("--tmp", help="scratch directory (default: a fresh one, removed after)")
    ap.add_argument("--verbose", "-v", action="store_true",
                    help="list every flow that does not agree and every differing name")
    ap.add_argument("captures", nargs="*", metavar="CAPTURE")
    args = ap.parse_args()
    if not args.ocellus or not os.access(args.ocellus, os.X_OK):
        ap.error("--ocellus (or $OCELLUS) must name the ocellus binary")
    if not args.pcaps and args.captures and os.path.sep in args.captures[0]:
        args.pcaps = os.path.dirname(os.path.abspath(args.captures[0]))
    if not args.pcaps or not os.path.isdir(args.pcaps):
        ap.error("--pcaps (or $PCAPS) must name the shared capture corpus")
    ndpi_dir = os.path.join(args.pcaps, "expected", "ndpi")
    if not os.path.isdir(ndpi_dir):
        ap.error("%s does not exist" % ndpi_dir)

    if args.captures:
        captures = [os.path.basename(c) for c in args.captures]
    else:
        captures = sorted(f[:-len(".out")] for f in os.listdir(ndpi_dir) if f.endswith(".out"))
        captures += [c for c in TSHARK_BGP if c not in captures]

    tmp = args.tmp or tempfile.mkdtemp(prefix="ndpi_compare.")
    res = Result()
    try:
        for capture in captures:
            path = os.path.join(args.pcaps, capture)
            ndpi_path = os.path.join(ndpi_dir, capture + ".out")
            try:
                if capture in TSHARK_BGP:
                    tshark_bgp(capture, path, args.ocellus, tmp, res)
                elif os.path.exists(ndpi_path):
                    compare_capture(capture, path, ndpi_path, args.ocellus, tmp, res,
                                    args.verbose)
                else:
                    res.errors.append("%s: no nDPI result %s" % (capture, ndpi_path))
            except (OSError, RuntimeError, ValueError) as e:
                res.errors.append("%s: %s" % (capture, e))
    finally:
        if not args.tmp:
            shutil.rmtree(tmp, ignore_errors=True)

    tot = print_report(res, args.verbose)
    failures = list(res.errors)
    n = sum(tot.values())
    if n and tot["agree"] < THRESHOLD * n:
        failures.append("%d of %d flows agree (%.1f%%), below %d%%" % (
            tot["agree"], n, 100.0 * tot["agree"] / n, THRESHOLD * 100))
    for capture in SINGLE:
        if res.capture_disagree[capture]:
            failures.append("%s: %d disagreements on a single-protocol capture" % (
                capture, res.capture_disagree[capture]))
    if res.host["differ"] or res.host["absent"]:
        failures.append("server names: %d differ, %d missing" % (res.host["differ"],
                                                                  res.host["absent"]))
    for capture, _, _, problems in res.bgp:
        if problems:
            failures.append("%s: %d BGP flows not labelled bgp" % (capture, len(problems)))

    # Per-flow detail: what decides the verdict always, everything with --verbose.
    for c, t in res.flow_problems:
        if args.verbose or (c in SINGLE and t.startswith("disagree")):
            print("  %s: %s" % (c, t))
    for c, t in res.host_problems:
        print("  %s: host %s" % (c, t))
    for _, _, _, problems in res.bgp:
        for p in problems:
            print("  " + p)
    for f in failures:
        print("FAIL: " + f)
    if not failures:
        print("PASS: %d of %d flows agree" % (tot["agree"], n))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
