#!/bin/sh
# IPFIX over tcp:// into a collector of our own (tests/collector, libfixbuf based: nfcapd
# has no TCP listener) that is stopped while the export goes on and restarted a few seconds
# later on the same port. tests/exp_feed feeds made-up flows at a steady pace (ocellus reads
# files faster than a collector can be stopped) and logs when it handed each one over.
# Checked against that log and the flows' own definition, not against our counters alone:
#   - no record arrives twice, and every record arrives with the values it was fed with;
#   - every record handed over while the collector was down arrives after the restart;
#   - fed - received <= lost + possibly lost, as the output reports them at the end;
#   - on every connection templates come first and sequence numbers are right (the
#     collector checks that itself and exits non-zero otherwise).
# Then ocellus end to end: a generated capture to tcp:// and json: at once; every JSON record
# must arrive over TCP with the same addresses, ports, times and counters, followed by one
# statistics options record counting the capture's packets (capinfos) and the records the
# collector received.
set -u
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
oc_init ipfix_tcp_outage

[ -n "${EXP_FEED:-}" ] && [ -x "$EXP_FEED" ] || fail "EXP_FEED is not set (run through make check)"
[ -n "${OC_COLLECTOR:-}" ] && [ -x "$OC_COLLECTOR" ] ||
    fail "OC_COLLECTOR is not set (run through make check)"
[ -n "${OCELLUS_TEMPLATE_DIR:-}" ] || fail "OCELLUS_TEMPLATE_DIR is not set"
: "${OCGEN:=$top_builddir/tests/gen/ocgen}"
[ -x "$OCGEN" ] || fail "$OCGEN is not an executable (make tests/gen/ocgen)"

PORT=$("$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') ||
    fail "no free TCP port"
COLPID=

# start_collector TAG FILE: runs the collector on $PORT, appending its lines to FILE.
start_collector() {
    "$OC_COLLECTOR" -p "$PORT" -w "$2" -t "$1" 2>"$OC_TMP/collector.$1.log" &
    COLPID=$!
    OC_PIDS="$OC_PIDS $COLPID"
    i=0
    until grep -q "listening" "$OC_TMP/collector.$1.log" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 100 ] && fail "collector $1 did not start: $(cat "$OC_TMP/collector.$1.log")"
        kill -0 "$COLPID" 2>/dev/null ||
            fail "collector $1 exited: $(cat "$OC_TMP/collector.$1.log")"
        sleep 0.1
    done
}

# stop_collector TAG: SIGTERM, then its checks must have passed.
stop_collector() {
    kill -TERM "$COLPID" 2>/dev/null
    rc=0
    wait "$COLPID" || rc=$?
    COLPID=
    [ "$rc" -eq 0 ] || fail "collector $1 exited with status $rc: $(cat "$OC_TMP/collector.$1.log")"
    note "collector $1: $(grep 'connection' "$OC_TMP/collector.$1.log" | tr '\n' ';')"
}

now_ms() {
    "$PYTHON3" -c 'import time; print(int(time.time() * 1000))'
}

# --- 1. outage under a paced feed -----------------------------------------------------
# The default template plus flowId, so each record names the flow it came from.
{ cat "$OCELLUS_TEMPLATE_DIR/default.tmpl"; echo flowId; } >"$OC_TMP/flowid.tmpl"
N=3000
RATE=400 # records/s: about 7.5 s of feeding
start_collector A "$OC_TMP/recv"
timeout 90 "$EXP_FEED" -o "tcp://127.0.0.1:$PORT" -t "$OC_TMP/flowid.tmpl" -n "$N" -r "$RATE" \
    -l "$OC_TMP/feed.log" -c 20000 2>"$OC_TMP/feed.err" &
FEEDPID=$!
OC_PIDS="$OC_PIDS $FEEDPID"
sleep 2
stop_collector A
T_DOWN=$(now_ms)
sleep 3
T_UP=$(now_ms)
start_collector B "$OC_TMP/recv"
FEEDRC=0
wait "$FEEDPID" || FEEDRC=$?
stop_collector B
[ "$FEEDRC" -eq 0 ] || [ "$FEEDRC" -eq 1 ] ||
    fail "exp_feed exited with status $FEEDRC: $(cat "$OC_TMP/feed.err")"
STATS=$(grep '^exp_feed: in ' "$OC_TMP/feed.err") || fail "no final counters: $(cat "$OC_TMP/feed.err")"
note "$STATS"
grep -q "connection to 127.0.0.1:$PORT lost" "$OC_TMP/feed.err" || fail "no log line about the lost connection"
grep -q "connected to 127.0.0.1:$PORT" "$OC_TMP/feed.err" || fail "no log line about the reconnection"

"$PYTHON3" - "$OC_TMP/feed.log" "$OC_TMP/recv" "$T_DOWN" "$T_UP" "$STATS" <<'PY' ||
import sys
feed_path, recv_path, t_down, t_up, stats = sys.argv[1:]
t_down, t_up = int(t_down), int(t_up)
w = stats.split()
st = {w[i]: int(w[i + 1]) for i in range(1, len(w) - 1, 2)}
fed = {}
for line in open(feed_path):
    i, t, how = line.split()
    fed[int(i)] = (int(t), how == "accepted")
got = {}
errors = []
for line in open(recv_path):
    f = line.split()
    if f[2] == "stats":
        continue  # exp_feed sends no statistics; the options template alone makes none
    tag, rec = f[0], dict(kv.split("=", 1) for kv in f[2:])
    i = int(rec["id"])
    if i in got:
        errors.append("flow %d received twice (%s and %s)" % (i, got[i], tag))
    got[i] = tag
    if i not in fed:
        errors.append("flow %d was never fed" % i)
        continue
    # exp_feed's made-up flow i (see tests/exp_feed.c)
    k = i % 7 + 1
    want = dict(src="10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255), dst="192.0.2.1",
                sport=str(1024 + i % 50000), dport="53", proto="17", packets=str(k),
                octets=str(100 * k), rpackets=str(k), roctets=str(100 * k),
                start=str(1700000000000 + i), end=str(1700000000000 + i + 2500))
    bad = {key: (rec[key], v) for key, v in want.items() if rec[key] != v}
    if bad:
        errors.append("flow %d: (got, want) %s" % (i, bad))
down = [i for i, (t, ok) in fed.items() if ok and t_down <= t <= t_up]
if len(down) < 300:
    errors.append("only %d records were fed while the collector was down" % len(down))
late = [i for i in down if got.get(i) != "B"]
if late:
    errors.append("%d records fed while the collector was down did not arrive after the "
                  "restart, e.g. %s" % (len(late), late[:10]))
n_a = sum(1 for t in got.values() if t == "A")
if n_a == 0 or len(got) == n_a:
    errors.append("records should arrive before (%d) and after the outage (%d)"
                  % (n_a, len(got) - n_a))
missing = len(fed) - len(got)
if st["in"] != len(fed) or missing > st["lost"] + st["possibly_lost"]:
    errors.append("fed %d, received %d: %d missing, but lost %d + possibly lost %d"
                  % (len(fed), len(got), missing, st["lost"], st["possibly_lost"]))
if st["lost"] != 0:
    errors.append("%d records lost with a queue big enough for the outage" % st["lost"])
if st["connections"] < 2:
    errors.append("%d connections" % st["connections"])
for e in errors[:20]:
    print(e)
if errors:
    sys.exit(1)
print("outage: %d fed, %d received (%d before the outage), %d fed while down all arrived "
      "after the restart, %d missing <= lost %d + possibly lost %d"
      % (len(fed), len(got), n_a, len(down), missing, st["lost"], st["possibly_lost"]))
PY
    fail "outage: records missing, doubled or wrong"

# --- 2. ocellus end to end: tcp:// and json: carry the same records, then statistics ------
"$OCGEN" --seed 11 --flows 2000 --out "$OC_TMP/gen.pcap" --truth "$OC_TMP/truth.jsonl" \
    2>"$OC_TMP/gen.err" || fail "ocgen: $(cat "$OC_TMP/gen.err")"
start_collector C "$OC_TMP/recv2"
oc_run -r "$OC_TMP/gen.pcap" -o "tcp://127.0.0.1:$PORT" -o "json:$OC_TMP/out.jsonl"
[ "$OC_RC" -eq 0 ] || fail "ocellus exited with status $OC_RC: $(cat "$OC_ERR")"
stop_collector C
command -v capinfos >/dev/null || fail "capinfos not installed (Debian package wireshark-common)"
PACKETS=$(capinfos -M -c "$OC_TMP/gen.pcap" | sed -n 's/^Number of packets: *//p')
[ -n "$PACKETS" ] || fail "capinfos cannot count the packets of gen.pcap"
"$PYTHON3" - "$OC_TMP/out.jsonl" "$OC_TMP/recv2" "$PACKETS" <<'PY' || fail "end to end: TCP records differ from the JSON output"
import collections, ipaddress, json, sys
json_path, recv_path, packets = sys.argv[1:]
def key(src, dst, sport, dport, proto, start, end, pk, oc, rpk, roc):
    if proto in (1, 58):
        sport = dport = None  # ICMP: the JSON has type/code elements instead of ports
    return (str(ipaddress.ip_address(src)), str(ipaddress.ip_address(dst)), sport, dport, proto,
            start, end, pk, oc, rpk, roc)
want = collections.Counter()
for line in open(json_path):
    r = json.loads(line)
    want[key(r.get("sourceIPv4Address", r.get("sourceIPv6Address")),
             r.get("destinationIPv4Address", r.get("destinationIPv6Address")),
             r.get("sourceTransportPort", 0), r.get("destinationTransportPort", 0),
             r["protocolIdentifier"], r["flowStartMilliseconds"], r["flowEndMilliseconds"],
             r["packetDeltaCount"], r["octetDeltaCount"], r.get("reversePacketDeltaCount", 0),
             r.get("reverseOctetDeltaCount", 0))] += 1
got = collections.Counter()
stats = []
for line in open(recv_path):
    if line.split()[2] == "stats":
        stats.append(dict(kv.split("=", 1) for kv in line.split()[3:]))
        continue
    f = dict(kv.split("=", 1) for kv in line.split()[2:])
    got[key(f["src"], f["dst"], int(f["sport"]), int(f["dport"]), int(f["proto"]),
            int(f["start"]), int(f["end"]), int(f["packets"]), int(f["octets"]),
            int(f["rpackets"]), int(f["roctets"]))] += 1
if sum(want.values()) < 2000:
    print("only %d JSON records" % sum(want.values()))
    sys.exit(1)
if want != got:
    for k in list((want - got).elements())[:10]:
        print("JSON only:", k)
    for k in list((got - want).elements())[:10]:
        print("TCP only: ", k)
    sys.exit(1)
# The statistics options record at shutdown, after the last flow: every packet of the
# capture read, every flow record the collector received exported.
n = sum(got.values())
if len(stats) != 1 or stats[0] != {"tid": "258", "exported": str(n), "packets": packets}:
    print("statistics records %s, want one with tid=258 exported=%d packets=%s" % (stats, n, packets))
    sys.exit(1)
print("end to end: %d records, identical over tcp:// and json:, then the statistics record "
      "(%s packets)" % (n, packets))
PY
note "PASS"
exit 0
