#!/bin/sh
# Faults around ocellus (issue 7), on a live interface so that capture never waits for an
# output (reading files, a full queue makes capture wait instead; ipfix_tcp_outage.sh covers
# a collector stopped and restarted). The capture end of a veth pair lives in a network
# namespace of its own, where ocellus and the collectors run with small TCP buffers (so a
# slow collector fills the output queue within seconds); tcpreplay sends a generated capture
# (tests/gen/ocgen) into the other end. What is checked, each against what the collectors
# received, the namespace saw and the summary says:
#   1. a TCP collector killed with SIGKILL and restarted, then a collector that reads very
#      slowly: capture goes on (the statistics line every second keeps coming, every packet
#      read or counted as a kernel drop), the "queued" counter never exceeds the queue size,
#      no record arrives twice, finished - received <= lost + possibly lost;
#   2. UDP to a port where nobody listens: export goes on, nothing lost, send errors counted,
#      exit status 0;
#   3. a full tmpfs (file: output): an error naming the file, records counted lost, exit 1,
#      the file left with whole IPFIX messages only, and a second output gets every record;
#      a read-only bind mount: at start, refused naming the file (exit 1); under a json:
#      output reopened on SIGHUP, an error naming the file and the old file kept open;
#   4. the capture interface taken down and up: a warning, capture resumes, flows go on;
#      deleted: exit 1 naming it;
#   5. SIGTERM under full load (tcpreplay --topspeed in a loop): every flow created is a
#      record in the output, and ocellus exits within shutdown_timeout.
# Needs root (namespaces, mounts, raw sockets): CI runs as root; without it, skips (77).
set -u
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
oc_init faults

[ "$(id -u)" -eq 0 ] || { note "SKIP: needs root"; exit 77; }
[ -n "${OC_COLLECTOR:-}" ] && [ -x "$OC_COLLECTOR" ] ||
    fail "OC_COLLECTOR is not set (run through make check)"
[ -n "${OCELLUS_TEMPLATE_DIR:-}" ] || fail "OCELLUS_TEMPLATE_DIR is not set"
: "${OCGEN:=$top_builddir/tests/gen/ocgen}"
[ -x "$OCGEN" ] || fail "$OCGEN is not an executable (make tests/gen/ocgen)"
for tool in ip tcpreplay mount; do
    command -v "$tool" >/dev/null 2>&1 ||
        fail "$tool is not installed (Debian: iproute2, tcpreplay, mount)"
done

NS=ocfns$$
VA=ocfa$$ # capture end, in $NS
VB=ocfb$$ # replay end, here
MNT=

faults_cleanup() {
    for pid in $OC_PIDS; do
        kill -9 "$pid" 2>/dev/null
    done
    for m in $MNT; do
        umount "$m" 2>/dev/null
    done
    ip link del "$VB" 2>/dev/null
    ip netns del "$NS" 2>/dev/null
    oc_cleanup
}
trap faults_cleanup EXIT

ip netns add "$NS" 2>"$OC_TMP/netns.err" || fail "cannot create a namespace: $(cat "$OC_TMP/netns.err")"
ip link add "$VB" type veth peer name "$VA" || fail "cannot create the veth pair"
ip link set "$VA" netns "$NS" || fail "cannot move $VA into $NS"
[ ! -e "/proc/sys/net/ipv6/conf/$VB" ] || echo 1 >"/proc/sys/net/ipv6/conf/$VB/disable_ipv6"
ip link set "$VB" up && ip netns exec "$NS" ip link set "$VA" up &&
    ip netns exec "$NS" ip link set lo up || fail "cannot bring the links up"
# Small TCP buffers in the namespace: a slow collector holds up the output within seconds
# instead of after megabytes of socket buffers.
ip netns exec "$NS" sh -c 'echo "4096 8192 16384" >/proc/sys/net/ipv4/tcp_wmem &&
    echo "4096 8192 16384" >/proc/sys/net/ipv4/tcp_rmem' ||
    fail "cannot set the namespace's TCP buffer sizes"
in_ns() {
    ip netns exec "$NS" "$@"
}
# ns_bg PIDFILE COMMAND...: COMMAND in the namespace, in the background; signals must go to
# the pid written into PIDFILE (ip netns exec may stay in between), wait to $!.
ns_bg() {
    rm -f "$1"
    ip netns exec "$NS" sh -c 'echo $$ >"$0"; exec "$@"' "$@" &
    wait_for 10 test -s "$1" || fail "cannot start $2 in the namespace"
    BGPID=$(cat "$1")
    OC_PIDS="$OC_PIDS $! $BGPID"
}

now_ms() {
    date +%s%3N
}
wait_for() {
    deadline=$(($(now_ms) + $1 * 1000))
    shift
    until "$@"; do
        [ "$(now_ms)" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}
running() {
    [ -r "/proc/$1/stat" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" | cut -c1)" != Z ]
}
exited() {
    ! running "$1"
}
# sum_value FILE LABEL: like summary_value, from FILE.
sum_value() {
    sed -n "s/^ocellus: $2: \([0-9][0-9]*\).*/\1/p" "$1" | tail -n 1
}
# records FILE: the records of the summary's "flows:" line.
records() {
    sed -n 's/^ocellus: flows: [0-9]* created, \([0-9]*\) records.*/\1/p' "$1"
}
# out_line FILE URI: "SENT LOST ERRORS POSSIBLY" from the output's summary line.
out_line() {
    sed -n "s|^ocellus: output $2: \([0-9]*\) records sent, \([0-9]*\) lost, \([0-9]*\) send errors\(, \([0-9]*\) possibly lost\)\{0,1\}\$|\1 \2 \3 \5|p" "$1" |
        awk '{ print $1, $2, $3, ($4 == "" ? 0 : $4) }'
}

"$OCGEN" --seed 7 --flows 1500 --ipv6-share 20 --out "$OC_TMP/gen.pcap" \
    --truth "$OC_TMP/truth.jsonl" 2>"$OC_TMP/gen.err" || fail "ocgen: $(cat "$OC_TMP/gen.err")"
{ cat "$OCELLUS_TEMPLATE_DIR/default.tmpl"; echo flowId; } >"$OC_TMP/flowid.tmpl"
QUEUE=128
PORT=4739 # inside the namespace: nothing else listens there

# start_ocellus TAG OUTPUT-URI [ARGS]: live capture on $VA in the namespace, the output with
# a queue of $QUEUE records and flowId in its records, a statistics line every second.
start_ocellus() {
    tag=$1
    uri=$2
    shift 2
    cat >"$OC_TMP/$tag.ini" <<EOF
[output main]
uri = $uri
template = $OC_TMP/flowid.tmpl
queue = $QUEUE
EOF
    ns_bg "$OC_TMP/$tag.pid" "$OCELLUS" -i "$VA" -c "$OC_TMP/$tag.ini" --idle-timeout 1 \
        --stats-interval 1 --no-dpi "$@" 2>"$OC_TMP/$tag.err"
    OC=$!
    OC_REAL=$BGPID
    wait_for 10 grep -q "^ocellus: capturing on $VA\$" "$OC_TMP/$tag.err" ||
        fail "$tag: ocellus did not start: $(cat "$OC_TMP/$tag.err")"
}
# stop_ocellus TAG: SIGTERM, exit status in RC, time to exit in STOP_MS.
stop_ocellus() {
    t0=$(now_ms)
    kill -TERM "$OC_REAL"
    RC=0
    wait "$OC" || RC=$?
    STOP_MS=$(($(now_ms) - t0))
}
# replay PPS SECONDS: the generated capture into $VB at PPS packets/s for SECONDS (in the
# background); replay_wait: waits for it and sets SENT to the packets it sent.
replay() {
    tcpreplay -i "$VB" --pps "$1" --duration "$2" --loop 0 "$OC_TMP/gen.pcap" \
        >"$OC_TMP/replay.out" 2>&1 &
    REPLAY=$!
    OC_PIDS="$OC_PIDS $REPLAY"
}
replay_wait() {
    wait "$REPLAY" || fail "tcpreplay: $(cat "$OC_TMP/replay.out")"
    SENT=$(sed -n 's/^Actual: \([0-9]*\) packets.*/\1/p' "$OC_TMP/replay.out")
    [ -n "$SENT" ] || fail "tcpreplay printed no count: $(cat "$OC_TMP/replay.out")"
}
start_collector() {
    ns_bg "$OC_TMP/collector.pid" "$OC_COLLECTOR" -p "$PORT" -w "$OC_TMP/recv" -t "$1" \
        2>"$OC_TMP/collector.$1.log"
    COLWAIT=$!
    COLPID=$BGPID
    wait_for 10 grep -q listening "$OC_TMP/collector.$1.log" ||
        fail "collector $1 did not start: $(cat "$OC_TMP/collector.$1.log")"
}

# check_run TAG RECEIVED-FILE FORMAT: the checks of part 1 on one run.
check_run() {
    "$PYTHON3" - "$OC_TMP/$1.err" "$2" "$3" "$QUEUE" "$SENT" "$1" <<'PY' || fail "$1: see above"
import re, sys
err_path, recv_path, fmt, queue, sent, tag = sys.argv[1:]
queue, sent = int(queue), int(sent)
err = open(err_path).read()
errors = []
def num(pattern):
    m = re.search(pattern, err, re.M)
    if not m:
        errors.append("no match for %r" % pattern)
        return 0
    return int(m.group(1))
finished = num(r"^ocellus: flows: \d+ created, (\d+) records")
m = re.search(r"^ocellus: output main: (\d+) records sent, (\d+) lost, (\d+) send errors"
              r"(?:, (\d+) possibly lost)?$", err, re.M)
if not m:
    print("no output summary line:\n" + err)
    sys.exit(1)
sent_rec, lost, send_errors, possibly = (int(x or 0) for x in m.groups())
read = num(r"^ocellus: packets read: (\d+)")
dropped = num(r"^ocellus: kernel: \d+ received, (\d+) dropped")
queued = [int(q) for q in re.findall(r"output main: sent \d+, queued (\d+),", err)]
if len(queued) < 4:
    errors.append("only %d statistics lines: capture stalled?" % len(queued))
if queued and max(queued) > queue:
    errors.append("queued %d > queue %d" % (max(queued), queue))
if read + dropped < sent:
    errors.append("tcpreplay sent %d packets, ocellus read %d and counts %d dropped"
                  % (sent, read, dropped))
keys = []
for line in open(recv_path):
    f = line.split()
    if fmt == "collector":
        if f[2] == "stats":
            continue
        rec = dict(kv.split("=", 1) for kv in f[2:])
        keys.append((rec["id"], rec["start"]))
    else:
        keys.append(tuple(f))
if len(set(keys)) != len(keys):
    errors.append("%d records arrived twice" % (len(keys) - len(set(keys))))
received = len(keys)
if finished - received > lost + possibly:
    errors.append("finished %d - received %d > lost %d + possibly lost %d"
                  % (finished, received, lost, possibly))
if received == 0:
    errors.append("nothing received")
for e in errors:
    print("%s: %s" % (tag, e))
if errors:
    sys.exit(1)
print("faults: %s: packets sent %d, read %d, kernel dropped %d; records finished %d, "
      "received %d, lost %d, possibly lost %d, send errors %d; max queued %d of %d; "
      "%d statistics lines"
      % (tag, sent, read, dropped, finished, received, lost, possibly, send_errors,
         max(queued), queue, len(queued)))
PY
}

# --- 1a. collector killed with SIGKILL mid-stream, restarted ---------------------------
start_collector A
start_ocellus kill "tcp://127.0.0.1:$PORT" --shutdown-timeout 5
replay 3000 10
sleep 3
kill -KILL "$COLPID"
wait "$COLWAIT" 2>/dev/null
sleep 2
start_collector B
replay_wait
sleep 2 # the last flows end (idle 1 s)
stop_ocellus kill
[ "$RC" -eq 0 ] || [ "$RC" -eq 1 ] || fail "kill: exit status $RC: $(cat "$OC_TMP/kill.err")"
kill -TERM "$COLPID"
wait "$COLWAIT" || fail "collector B found errors: $(cat "$OC_TMP/collector.B.log")"
grep -q "connection to 127.0.0.1:$PORT lost" "$OC_TMP/kill.err" ||
    fail "no log line about the lost connection: $(cat "$OC_TMP/kill.err")"
check_run kill "$OC_TMP/recv" collector
note "collector B: $(grep connection "$OC_TMP/collector.B.log" | tr '\n' ';')"

# --- 1b. a collector that reads 512 bytes every 50 ms ----------------------------------
# It parses the IPFIX stream itself (RFC 7011 headers, template records) and writes one line
# per flow record: flowId and flowStartMilliseconds.
cat >"$OC_TMP/slow.py" <<'PY'
import socket, struct, sys, time
port, out_path, ready = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
ls.bind(("127.0.0.1", port))
ls.listen(1)
open(ready, "w").close()
out = open(out_path, "w")
while True:
    c, _ = ls.accept()
    buf, tmpl = b"", {}
    while True:
        chunk = c.recv(512)
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 16 and len(buf) >= struct.unpack("!H", buf[2:4])[0]:
            mlen = struct.unpack("!H", buf[2:4])[0]
            msg, buf = buf[16:mlen], buf[mlen:]
            while len(msg) >= 4:
                sid, slen = struct.unpack("!HH", msg[:4])
                body, msg = msg[4:slen], msg[slen:]
                if sid in (2, 3):
                    while len(body) >= 4:
                        tid, n = struct.unpack("!HH", body[:4])
                        p = 6 if sid == 3 else 4
                        fields = []
                        for _ in range(n):
                            ie, ln = struct.unpack("!HH", body[p:p + 4])
                            p += 8 if ie & 0x8000 else 4
                            fields.append((ie & 0x7FFF, ln))
                        tmpl[tid] = (sid, fields)
                        body = body[p:]
                elif sid >= 256 and tmpl.get(sid, (3,))[0] == 2:
                    fields = tmpl[sid][1]
                    rlen = sum(ln for _, ln in fields)
                    while len(body) >= rlen:
                        p, rec = 0, {}
                        for ie, ln in fields:
                            rec[ie] = int.from_bytes(body[p:p + ln], "big")
                            p += ln
                        out.write("%d %d\n" % (rec[148], rec[152]))
                        body = body[rlen:]
        out.flush()
        time.sleep(0.05)
    c.close()
PY
ns_bg "$OC_TMP/slow.pid" "$PYTHON3" "$OC_TMP/slow.py" "$PORT" "$OC_TMP/recv.slow" \
    "$OC_TMP/slow.ready"
wait_for 10 test -e "$OC_TMP/slow.ready" || fail "the slow collector did not start"
start_ocellus slow "tcp://127.0.0.1:$PORT" --shutdown-timeout 3
replay 3000 8
replay_wait
sleep 2
stop_ocellus slow
note "slow: SIGTERM to exit: $STOP_MS ms (shutdown_timeout 3 s)"
[ "$STOP_MS" -le 8000 ] || fail "slow: $STOP_MS ms to exit with shutdown_timeout 3 s"
sleep 1 # the reader takes what the socket still holds, then sees the end
check_run slow "$OC_TMP/recv.slow" lines

# --- 2. UDP to a port where nobody listens ---------------------------------------------
"$OCGEN" --seed 11 --flows 1000 --out "$OC_TMP/file.pcap" --truth "$OC_TMP/file.truth" \
    2>"$OC_TMP/gen2.err" || fail "ocgen: $(cat "$OC_TMP/gen2.err")"
UPORT=$(free_udp_port)
oc_run -r "$OC_TMP/file.pcap" -o "udp://127.0.0.1:$UPORT" -o "json:$OC_TMP/udp.json"
N=$(records "$OC_ERR")
[ "$OC_RC" -eq 0 ] || fail "udp: exit status $OC_RC (nothing lost: 0 expected): $(cat "$OC_ERR")"
set -- $(out_line "$OC_ERR" "udp://127.0.0.1:$UPORT")
[ "$#" -eq 4 ] && [ "$1" = "$N" ] && [ "$2" = 0 ] && [ "$3" -ge 1 ] ||
    fail "udp: want $N sent, 0 lost, send errors counted: $(cat "$OC_ERR")"
[ "$(wc -l <"$OC_TMP/udp.json")" = "$N" ] || fail "udp: the JSON output misses records"
grep -q "udp://127.0.0.1:$UPORT: send to 127.0.0.1:$UPORT: Connection refused" "$OC_ERR" ||
    fail "udp: no warning about the refusal: $(cat "$OC_ERR")"
note "udp to nobody: $N records, $1 sent, $2 lost, $3 send errors, exit 0"

# --- 3. file output on a full and on a read-only file system ---------------------------
mkdir "$OC_TMP/full" "$OC_TMP/ro"
if ! mount -t tmpfs -o size=64k octest "$OC_TMP/full" 2>"$OC_TMP/mount.err"; then
    note "SKIP: cannot mount a tmpfs: $(cat "$OC_TMP/mount.err")"
    exit 77
fi
MNT="$OC_TMP/full"
oc_run -r "$OC_TMP/file.pcap" -o "file:$OC_TMP/full/flows.ipfix" -o "json:$OC_TMP/full.json"
[ "$OC_RC" -eq 1 ] || fail "full: exit status $OC_RC, want 1 (records lost): $(cat "$OC_ERR")"
grep -q "file:$OC_TMP/full/flows.ipfix: write $OC_TMP/full/flows.ipfix: No space left on device" \
    "$OC_ERR" || fail "full: no error naming the file: $(cat "$OC_ERR")"
set -- $(out_line "$OC_ERR" "file:$OC_TMP/full/flows.ipfix")
[ "$#" -eq 4 ] && [ $(($1 + $2)) -eq "$N" ] && [ "$2" -gt 0 ] && [ "$3" -ge 1 ] ||
    fail "full: want sent + lost = $N, errors counted: $(cat "$OC_ERR")"
[ "$(wc -l <"$OC_TMP/full.json")" = "$N" ] || fail "full: the JSON output misses records"
# Whole messages only: the lengths in the message headers add up to the file's size.
"$PYTHON3" - "$OC_TMP/full/flows.ipfix" <<'PY' || fail "full: the file ends with a cut message"
import struct, sys
b = open(sys.argv[1], "rb").read()
p = 0
while p + 16 <= len(b) and struct.unpack("!H", b[p:p + 2])[0] == 10:
    p += struct.unpack("!H", b[p + 2:p + 4])[0]
sys.exit(0 if p == len(b) else 1)
PY
note "full tmpfs: $N records, $1 sent, $2 lost, $3 send errors, $(stat -c %s "$OC_TMP/full/flows.ipfix") bytes of whole messages; json: all $N"
mount --bind "$OC_TMP/ro" "$OC_TMP/ro" && MNT="$MNT $OC_TMP/ro" &&
    mount -o remount,bind,ro "$OC_TMP/ro" || fail "cannot make a read-only bind mount"
oc_run -r "$OC_TMP/file.pcap" -o "file:$OC_TMP/ro/flows.ipfix" -o "json:$OC_TMP/ro.json"
[ "$OC_RC" -eq 1 ] || fail "read-only: exit status $OC_RC, want 1: $(cat "$OC_ERR")"
grep -q "cannot open $OC_TMP/ro/flows.ipfix: Read-only file system" "$OC_ERR" ||
    fail "read-only: no error naming the file: $(cat "$OC_ERR")"
note "read-only at start: refused with exit 1: $(head -n 1 "$OC_ERR")"
# Read-only after start: a json: output whose directory becomes read-only, reopened on
# SIGHUP (log rotation): an error naming the file, and the output keeps writing the file it
# had open (renamed by the rotation), so nothing is lost; the other output is complete.
mkdir "$OC_TMP/rw"
cat >"$OC_TMP/two.ini" <<EOF
[output a]
uri = json:$OC_TMP/rw/a.json
[output b]
uri = json:$OC_TMP/b.json
EOF
ns_bg "$OC_TMP/two.pid" "$OCELLUS" -i "$VA" -c "$OC_TMP/two.ini" --idle-timeout 1 \
    --stats-interval 0 --no-dpi 2>"$OC_TMP/two.err"
OC=$!
OC_REAL=$BGPID
wait_for 10 grep -q "^ocellus: capturing on $VA\$" "$OC_TMP/two.err" || fail "two: did not start"
replay 2000 6
sleep 2
mv "$OC_TMP/rw/a.json" "$OC_TMP/a.json.1"
# In ocellus' own mount namespace (ip netns exec gives it one): it dies with the process.
nsenter -t "$OC_REAL" -m sh -c 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0"' \
    "$OC_TMP/rw" || fail "cannot make $OC_TMP/rw read-only"
kill -HUP "$OC_REAL"
replay_wait
sleep 2
stop_ocellus two
[ "$RC" -eq 0 ] || fail "two: exit status $RC, want 0 (nothing lost): $(cat "$OC_TMP/two.err")"
grep -q "$OC_TMP/rw/a.json.*Read-only file system" "$OC_TMP/two.err" ||
    fail "two: no error naming the file: $(cat "$OC_TMP/two.err")"
N2=$(records "$OC_TMP/two.err")
set -- $(out_line "$OC_TMP/two.err" a)
[ "$#" -eq 4 ] && [ "$1" -eq "$N2" ] && [ "$2" -eq 0 ] &&
    [ "$1" -eq "$(wc -l <"$OC_TMP/a.json.1")" ] || fail "two: output a: $(cat "$OC_TMP/two.err")"
[ "$(wc -l <"$OC_TMP/b.json")" = "$N2" ] || fail "two: output b misses records"
note "read-only at SIGHUP: error logged, $N2 records, output a $1 sent (into the file it had open), $2 lost; output b all $N2"

# --- 4. the capture interface goes down and up, then away ------------------------------
ns_bg "$OC_TMP/flap.pid" "$OCELLUS" -i "$VA" --idle-timeout 1 --stats-interval 0 --no-dpi \
    -o "json:$OC_TMP/flap.json" 2>"$OC_TMP/flap.err"
OC=$!
OC_REAL=$BGPID
wait_for 10 grep -q "^ocellus: capturing on $VA\$" "$OC_TMP/flap.err" || fail "flap: did not start"
in_ns ip link set "$VA" down
wait_for 5 grep -q "^ocellus: warning: $VA: interface is down; waiting for it to come back up\$" \
    "$OC_TMP/flap.err" || fail "flap: no warning when $VA went down: $(cat "$OC_TMP/flap.err")"
sleep 2
running "$OC_REAL" || fail "flap: ocellus exited when $VA went down: $(cat "$OC_TMP/flap.err")"
in_ns ip link set "$VA" up
replay 500 2
replay_wait
wait_for 10 grep -q "^ocellus: $VA: packets again, capture resumed\$" "$OC_TMP/flap.err" ||
    fail "flap: capture did not resume: $(cat "$OC_TMP/flap.err")"
wait_for 10 test -s "$OC_TMP/flap.json" || fail "flap: no flows after the interface came back"
FLAP=$(wc -l <"$OC_TMP/flap.json")
in_ns ip link set "$VA" down
sleep 1
ip link del "$VB" || fail "cannot delete $VB"
wait_for 10 exited "$OC_REAL" || fail "flap: ocellus runs 10 s after $VA went away"
RC=0
wait "$OC" || RC=$?
[ "$RC" -eq 1 ] || fail "flap: exit status $RC after $VA went away: $(cat "$OC_TMP/flap.err")"
grep -q "^ocellus: $VA: interface went away while down; stopping (exit status 1)\$" \
    "$OC_TMP/flap.err" || fail "flap: no error naming $VA: $(cat "$OC_TMP/flap.err")"
note "down/up: kept running, $FLAP flows after it came back; deleted while down: exit 1"

# --- 5. SIGTERM under full load ---------------------------------------------------------
ip link add "$VB" type veth peer name "$VA" && ip link set "$VA" netns "$NS" &&
    ip link set "$VB" up && in_ns ip link set "$VA" up || fail "cannot create the veth pair again"
DRAIN=10
ns_bg "$OC_TMP/load.pid" "$OCELLUS" -i "$VA" --stats-interval 0 --shutdown-timeout "$DRAIN" \
    -o "json:$OC_TMP/load.json" 2>"$OC_TMP/load.err"
OC=$!
OC_REAL=$BGPID
wait_for 10 grep -q "^ocellus: capturing on $VA\$" "$OC_TMP/load.err" ||
    fail "load: did not start: $(cat "$OC_TMP/load.err")"
tcpreplay -i "$VB" --topspeed --loop 0 "$OC_TMP/gen.pcap" >"$OC_TMP/topspeed.out" 2>&1 &
TOP=$!
OC_PIDS="$OC_PIDS $TOP"
sleep 4
stop_ocellus load
kill -INT "$TOP" 2>/dev/null
wait "$TOP" 2>/dev/null
[ "$RC" -eq 0 ] || fail "load: exit status $RC: $(cat "$OC_TMP/load.err")"
[ "$STOP_MS" -le $(((DRAIN + 2) * 1000)) ] ||
    fail "load: $STOP_MS ms from SIGTERM to exit, shutdown_timeout is $DRAIN s"
CREATED=$(sed -n 's/^ocellus: flows: \([0-9]*\) created, .*/\1/p' "$OC_TMP/load.err")
R=$(records "$OC_TMP/load.err")
LINES=$(wc -l <"$OC_TMP/load.json")
[ -n "$CREATED" ] && [ "$CREATED" -gt 0 ] && [ "$R" = "$CREATED" ] && [ "$LINES" = "$R" ] ||
    fail "load: $CREATED flows created, $R records, $LINES in the file: $(cat "$OC_TMP/load.err")"
FORCED=$(sed -n 's/^ocellus: flows: .* forced \([0-9]*\),.*/\1/p' "$OC_TMP/load.err")
note "SIGTERM under load: $(sum_value "$OC_TMP/load.err" "packets read") packets read, kernel dropped $(sed -n 's/^ocellus: kernel: [0-9]* received, \([0-9]*\) dropped/\1/p' "$OC_TMP/load.err"), $CREATED flows created = $R records ($FORCED ended by the signal) = $LINES lines; exit 0 after $STOP_MS ms (shutdown_timeout $DRAIN s)"

note "PASS"
exit 0
