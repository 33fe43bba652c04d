#!/bin/sh
# IPFIX file: output -> ipfixDump (Debian libfixbuf-tools), the strictest reader we have:
# every message must decode, the two templates must list exactly the elements of
# templates/default.tmpl in file order (IPv4 addresses only in the IPv4 template, IPv6 only
# in the IPv6 one), the statistics options template (258) the IANA elements its scope and
# counters are defined as, and every data record must carry the values of the flows fed in.
set -u
: "${top_srcdir:?run through make check}"
. "$top_srcdir/tests/integration/lib.sh"
oc_init ipfix_file
NAME=ipfix_file
TMP=$OC_TMP
[ -n "${EXP_FEED:-}" ] && [ -x "$EXP_FEED" ] || fail "EXP_FEED is not set (run through make check)"
[ -n "${OCELLUS_TEMPLATE_DIR:-}" ] || fail "OCELLUS_TEMPLATE_DIR is not set"
command -v ipfixDump >/dev/null || fail "ipfixDump not installed (Debian package libfixbuf-tools)"
trap 'exit 1' INT TERM

cat >"$TMP/flows" <<'FLOWS'
192.0.2.1 198.51.100.7 40000 443 6 42 10 1500 1700000000123456 1700000001000999 02 1b 8 9000 1700000000200999 1700000001500000 12 1a 3
192.0.2.9 203.0.113.5 51000 80 6 0 3 180 1700000005000000 1700000005900000 02 02 0 0 0 0 0 0 1
2001:db8::1 2001:db8::abcd 5353 53 17 100 1 80 1700000002000000 1700000002000000 0 0 1 120 1700000002004000 1700000002004000 0 0 2
FLOWS

"$EXP_FEED" -o "file:$TMP/out.ipfix" -i 5 <"$TMP/flows" 2>"$TMP/feed.log" ||
    { cat "$TMP/feed.log"; fail "exp_feed failed"; }
ipfixDump -y --in "$TMP/out.ipfix" >"$TMP/dump" 2>"$TMP/dump.err" ||
    { cat "$TMP/dump.err"; fail "ipfixDump cannot decode the file"; }

"$PYTHON3" - "$OCELLUS_TEMPLATE_DIR/default.tmpl" "$TMP/flows" "$TMP/dump" <<'PY' || fail "ipfixDump output differs"
import datetime, ipaddress, re, sys
tmpl_path, flows_path, dump_path = sys.argv[1:]
names = []
for line in open(tmpl_path):
    line = line.split("#")[0].strip()
    if line:
        names.append(line)
v6only = {"sourceIPv6Address", "destinationIPv6Address"}
v4only = {"sourceIPv4Address", "destinationIPv4Address"}
want_tmpl = {256: [n for n in names if n not in v6only], 257: [n for n in names if n not in v4only]}

dump = open(dump_path).read()
# templates: "tid:   256 ..." then "ent: .. id: .. type: .. len: .. NAME" lines
got_tmpl = {}
for m in re.finditer(r"--- template record ---\nheader:\n\ttid:\s+(\d+).*?\nfields:\n((?:\tent:.*\n)+)", dump):
    got_tmpl[int(m.group(1))] = [l.split()[-1] for l in m.group(2).splitlines()]
if got_tmpl != want_tmpl:
    print("templates differ:\nwant", want_tmpl, "\ngot ", got_tmpl)
    sys.exit(1)
# RFC 7011 options template: observationDomainId as the one scope field, then counters
# (IANA ids: 149 scope; 144, 323, 160, 42, 41, 86, 135, 164, 163, 166)
want_opts = {258: (1, [(149, "observationDomainId"), (144, "exportingProcessId"),
                       (323, "observationTimeMilliseconds"), (160, "systemInitTimeMilliseconds"),
                       (42, "exportedFlowRecordTotalCount"), (41, "exportedMessageTotalCount"),
                       (86, "packetTotalCount"), (135, "droppedPacketTotalCount"),
                       (164, "ignoredPacketTotalCount"), (163, "observedFlowTotalCount"),
                       (166, "notSentFlowTotalCount")])}
got_opts = {}
for m in re.finditer(r"--- options template record ---\nheader:\n\ttid:\s+(\d+).*?scope:\s+(\d+)\nfields:\n((?:\tent:.*\n)+)", dump):
    got_opts[int(m.group(1))] = (int(m.group(2)), [(int(re.search(r"id:\s+(\d+)", l).group(1)), l.split()[-1])
                                                   for l in m.group(3).splitlines()])
if got_opts != want_opts:
    print("options templates differ:\nwant", want_opts, "\ngot ", got_opts)
    sys.exit(1)

records = []
for m in re.finditer(r"--- data record \d+ ---\nheader:\n\tcount:\s+\d+\s+tid:\s+(\d+).*?\nfields:\n((?:\t\(.*\n?)+)", dump):
    rec = {}
    for l in m.group(2).splitlines():
        k, v = l.split(":", 1)
        rec[k.split()[-1]] = v.strip()
    records.append(rec)

def ms_text(us):
    m = us // 1000
    t = datetime.datetime.fromtimestamp(m // 1000, datetime.timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M:%S") + ".%03d" % (m % 1000)

want = []
for line in open(flows_path):
    f = line.split()
    o = [int(x) for x in f[6:10]] + [int(f[10], 16), int(f[11], 16)]
    i = [int(x) for x in f[12:16]] + [int(f[16], 16), int(f[17], 16)]
    v6 = ":" in f[0]
    first = min(d[2] for d in (o, i) if d[0])
    rev_delta = (i[2] // 1000 - first // 1000) if i[0] else 0
    w = {("sourceIPv6Address" if v6 else "sourceIPv4Address"): ipaddress.ip_address(f[0]),
         ("destinationIPv6Address" if v6 else "destinationIPv4Address"): ipaddress.ip_address(f[1]),
         "sourceTransportPort": f[2], "destinationTransportPort": f[3],
         "protocolIdentifier": f[4], "vlanId": f[5], "reverseVlanId": f[5],
         "packetDeltaCount": str(o[0]), "octetDeltaCount": str(o[1]),
         "reversePacketDeltaCount": str(i[0]), "reverseOctetDeltaCount": str(i[1]),
         "flowStartMilliseconds": ms_text(first),
         "flowEndMilliseconds": ms_text(max(d[3] for d in (o, i) if d[0])),
         "reverseFlowDeltaMilliseconds": str(rev_delta),
         "tcpControlBits": str(o[5]), "reverseTcpControlBits": str(i[5]),
         "flowEndReason": f[18], "silkAppLabel": "0", "ingressInterface": "5",
         "egressInterface": "0"}
    want.append(w)
if len(records) != len(want):
    print("want %d data records, ipfixDump shows %d" % (len(want), len(records)))
    sys.exit(1)
bad = 0
for w, r in zip(want, records):
    for k, v in w.items():
        g = r.get(k)
        if isinstance(v, ipaddress._BaseAddress):
            g = ipaddress.ip_address(g) if g else None
        if g != v:
            print("record %s: %s = %r, want %r" % (w.get("sourceTransportPort"), k, g, v))
            bad += 1
sys.exit(1 if bad else 0)
PY
grep -q "File Stats: .* Messages, 3 Data Records, 3 Template Records" "$TMP/dump" ||
    { tail -n 3 "$TMP/dump"; fail "unexpected file statistics"; }
echo "$NAME: PASS"
