#!/bin/sh
# The whole path against the real collector: captures -> ocellus -> udp:// -> nfcapd (Debian
# nfdump 1.7.1, started here on 127.0.0.1) -> nfdump -o json. For every flow record, packets
# and octets both ways, start and end (ms), TCP flags and VLAN that nfdump shows must equal the
# JSON record ocellus wrote in the same run (-o json: next to -o udp://). In uniflow mode
# ([output] uniflow = true) every biflow must arrive as one one-way record per direction.
# Also file: -> ipfixDump on the generated capture, its statistics options record included
# (nfcapd gets one too, at the end of each run: it must not disturb the flows).
# The captures: a generated one (thousands of TCP/UDP/ICMP flows, IPv4/IPv6, VLANs, every end
# reason) and three real ones from the shared corpus.
set -u
: "${OCGEN:?}" "${PCAPS:?}" "${top_srcdir:?}"
. "$top_srcdir/tests/integration/lib.sh"
oc_init pcap_nfdump
NAME=pcap_nfdump
TMP=$OC_TMP

"$OCGEN" --seed 11 --flows 1500 --out "$TMP/gen.pcap" --truth "$TMP/gen.truth" ||
    fail "ocgen failed"

# run NAME MODE CAPTURE: ocellus sends CAPTURE to a fresh nfcapd and writes its JSON beside.
run() {
    name=$1 mode=$2 cap=$3
    dir=$TMP/$name
    nfcapd_start "$dir"
    uniflow=false
    [ "$mode" = uniflow ] && uniflow=true
    cat >"$dir.ini" <<INI
[output nfcapd]
uri = udp://127.0.0.1:$NF_PORT
uniflow = $uniflow
[output json]
uri = json:$dir.ours.jsonl
INI
    "$OCELLUS" -c "$dir.ini" -r "$cap" >"$dir.out" 2>"$dir.stderr" ||
        { cat "$dir.stderr"; fail "$name: ocellus failed"; }
    grep -q "output nfcapd: .* 0 lost, 0 send errors" "$dir.stderr" ||
        { cat "$dir.stderr"; fail "$name: records lost on the way to nfcapd"; }
    nfcapd_stop "$dir"
    "$PYTHON3" - "$mode" "$dir.ours.jsonl" "$dir.json" <<'PY' || fail "$name ($mode): nfdump differs from our JSON"
import datetime, ipaddress, json, sys
from collections import Counter
mode, ours_path, dump_path = sys.argv[1:]
def flags(v):  # nfdump's flag string: CWR ECE URG ACK PSH RST SYN FIN
    return "".join(c if v & (0x80 >> i) else "." for i, c in enumerate("CEUAPRSF"))
def iso(m):
    t = datetime.datetime.fromtimestamp(m // 1000, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ".%03d" % (m % 1000)
want = Counter()
for line in open(ours_path):
    r = json.loads(line)
    v6 = "sourceIPv6Address" in r
    sa = r["sourceIPv6Address" if v6 else "sourceIPv4Address"]
    da = r["destinationIPv6Address" if v6 else "destinationIPv4Address"]
    sp, dp = r.get("sourceTransportPort", 0), r.get("destinationTransportPort", 0)
    pr, vlan = r["protocolIdentifier"], r.get("vlanId", 0)
    start, end = r["flowStartMilliseconds"], r["flowEndMilliseconds"]
    if mode == "biflow":
        want[(sa, da, sp, dp, pr, vlan, r["packetDeltaCount"], r["octetDeltaCount"],
              r["reversePacketDeltaCount"], r["reverseOctetDeltaCount"], iso(start), iso(end),
              flags(r.get("unionTCPFlags", 0)))] += 1
        continue
    # Uniflow: each direction with packets is its own record, the reverse one swapped.
    # Per-direction times are not in our JSON; compare those records without them.
    if r["packetDeltaCount"]:
        want[(sa, da, sp, dp, pr, vlan, r["packetDeltaCount"], r["octetDeltaCount"], 0, 0,
              flags(r.get("unionTCPFlags", 0)))] += 1
    if r["reversePacketDeltaCount"]:
        want[(da, sa, dp, sp, pr, vlan, r["reversePacketDeltaCount"], r["reverseOctetDeltaCount"],
              0, 0, flags(r.get("reverseUnionTCPFlags", 0)))] += 1
got = Counter()
for r in json.load(open(dump_path)):
    if r.get("type") != "FLOW":
        continue
    sa = str(ipaddress.ip_address(r.get("src4_addr", r.get("src6_addr"))))
    da = str(ipaddress.ip_address(r.get("dst4_addr", r.get("dst6_addr"))))
    k = (sa, da, r.get("src_port", 0), r.get("dst_port", 0), r["proto"], r["src_vlan"], r["in_packets"],
         r["in_bytes"], r.get("out_packets", 0), r.get("out_bytes", 0))
    fl = r.get("tcp_flags", "........")
    k += (r["first"], r["last"], fl) if mode == "biflow" else (fl,)
    got[k] += 1
want = Counter({(str(ipaddress.ip_address(k[0])), str(ipaddress.ip_address(k[1]))) + k[2:]: n
                for k, n in want.items()})
missing, extra = want - got, got - want
for k in list(missing)[:10]:
    print("ours only:  ", k)
for k in list(extra)[:10]:
    print("nfdump only:", k)
print("%s: %d records compared, %d differ" % (mode, sum(want.values()), sum(missing.values()) + sum(extra.values())))
sys.exit(1 if missing or extra or not want else 0)
PY
    echo "$NAME: $name ($mode): nfdump agrees with ocellus' JSON"
}

# file: -> ipfixDump (libfixbuf's own reader, the strictest check of our messages) must decode
# one data record per JSON record, in the IPv4 and IPv6 templates (256, 257), and after them
# the statistics options record (258) of the shutdown: packets as capinfos counts them, flow
# records exported as ipfixDump counts them in the file, messages before it as in the file.
command -v ipfixDump >/dev/null || fail "ipfixDump not installed (Debian package libfixbuf-tools)"
command -v capinfos >/dev/null || fail "capinfos not installed (Debian package wireshark-common)"
t_start=$(date +%s)
"$OCELLUS" -r "$TMP/gen.pcap" -o "file:$TMP/gen.ipfix" -o "json:$TMP/gen.file.jsonl" \
    >/dev/null 2>"$TMP/file.stderr" || { cat "$TMP/file.stderr"; fail "file: ocellus failed"; }
t_end=$(date +%s)
ipfixDump --in "$TMP/gen.ipfix" --stats >"$TMP/dump.txt" 2>&1 || { tail "$TMP/dump.txt"; fail "ipfixDump failed"; }
TZ=UTC ipfixDump --in "$TMP/gen.ipfix" --data >"$TMP/data.txt" 2>&1 || { tail "$TMP/data.txt"; fail "ipfixDump failed"; }
n_json=$(wc -l <"$TMP/gen.file.jsonl")
n_v4=$(grep -c '"sourceIPv4Address"' "$TMP/gen.file.jsonl")
n_v6=$(grep -c '"sourceIPv6Address"' "$TMP/gen.file.jsonl")
grep -q "Messages, $((n_json + 1)) Data Records, 3 Template Records" "$TMP/dump.txt" ||
    { tail "$TMP/dump.txt"; fail "ipfixDump did not decode $n_json data records and 1 options record"; }
grep -Eq "^ *256 \(0x0100\)\| *$n_v4 *$" "$TMP/dump.txt" && grep -Eq "^ *257 \(0x0101\)\| *$n_v6 *$" "$TMP/dump.txt" ||
    { tail "$TMP/dump.txt"; fail "ipfixDump: expected $n_v4 IPv4 and $n_v6 IPv6 records"; }
grep -Eq "^ *258 \(0x0102\)\| *1 *$" "$TMP/dump.txt" || { tail "$TMP/dump.txt"; fail "ipfixDump: expected one statistics record"; }
n_msgs=$(sed -n 's/.*File Stats: \([0-9]*\) Messages.*/\1/p' "$TMP/dump.txt")
n_packets=$(capinfos -M -c "$TMP/gen.pcap" | sed -n 's/^Number of packets: *//p')
"$PYTHON3" - "$TMP/data.txt" "$TMP/file.stderr" "$n_packets" "$((n_v4 + n_v6))" "$n_msgs" "$t_start" "$t_end" <<'PY' ||
import calendar, re, sys, time
data_path, err_path, packets, records, msgs, t0, t1 = sys.argv[1:]
dump = open(data_path).read()
recs = re.findall(r"--- data record \d+ ---\nheader:\n\tcount:\s+\d+\s+tid:\s+(\d+).*?\nfields:\n((?:\t\(.*\n?)+)", dump)
last = recs[-1]
if last[0] != "258":
    print("the last data record is not the statistics record (tid %s)" % last[0]); sys.exit(1)
got = {l.split(":", 1)[0].split()[-1]: l.split(":", 1)[1].strip() for l in last[1].splitlines()}
err = open(err_path).read()
skipped = re.search(r"packets skipped: (\d+)", err).group(1)
created = re.search(r"flows: (\d+) created", err).group(1)
def when(v):  # "YYYY-MM-DD HH:MM:SS.mmm" UTC, in seconds
    return calendar.timegm(time.strptime(v.split(".")[0], "%Y-%m-%d %H:%M:%S"))
want = {"observationDomainId": "1", "packetTotalCount": packets,
        "exportedFlowRecordTotalCount": records, "exportedMessageTotalCount": str(int(msgs) - 1),
        "droppedPacketTotalCount": "0", "ignoredPacketTotalCount": skipped,
        "observedFlowTotalCount": created, "notSentFlowTotalCount": "0"}
bad = {k: (got.get(k), v) for k, v in want.items() if got.get(k) != v}
init, seen = when(got["systemInitTimeMilliseconds"]), when(got["observationTimeMilliseconds"])
if not int(t0) <= init <= seen <= int(t1):
    bad["times"] = (init, seen, (t0, t1))
if int(got["exportingProcessId"]) <= 1:
    bad["exportingProcessId"] = got["exportingProcessId"]
if bad:
    print("statistics record (got, want):", bad); sys.exit(1)
print("statistics record: %s packets, %s flow records, %s messages before it" % (packets, records, int(msgs) - 1))
PY
    fail "file: the statistics record is wrong"
echo "$NAME: file: ipfixDump decodes all $n_json records ($n_v4 IPv4, $n_v6 IPv6) and the statistics"

run gen biflow "$TMP/gen.pcap"
run gen-uni uniflow "$TMP/gen.pcap"
run smtp6vlan biflow "$PCAPS/ndpi-smtp-starttls.pcap"
run kxun biflow "$PCAPS/ndpi-1kxun.pcap"
run reddit uniflow "$PCAPS/ndpi42-reddit.pcap"
echo "$NAME: 6 passed, 0 failed"
