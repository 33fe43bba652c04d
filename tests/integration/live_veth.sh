#!/bin/sh
# Live capture end to end: a veth pair with one end in a network namespace, traffic sent by
# this script between the two ends, and ocellus capturing on the host end. Checks that the
# flows arrive with the right counts (UDP: known by construction; TCP: counted independently
# by dumpcap + tshark on the same interface), that an idle flow expires on a quiet link
# (reason 1 after idle_timeout and within idle_timeout + 2 s, with no packet to move the
# clock), that SIGUSR1 logs a statistics line, that SIGHUP reopens the JSON file (logrotate
# style: the old file is renamed first) and keeps running, that SIGTERM ends the open flows
# within a second and exits 0 with the summary, that an interface that goes away makes
# ocellus exit 1 naming it (the service manager restarts it), and that --log syslog sends
# errors, warnings and the summary to /dev/log at the right priorities (a socket of ours in a
# private mount namespace) and nothing to stderr.
#
# Needs root (CAP_SYS_ADMIN for the namespace, CAP_NET_RAW/ADMIN for the capture). CI runs as
# root, so without those privileges this test FAILS with the reason: it never skips.
set -u
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
oc_init live_veth

IDLE=2
NS=ocns$$
VA=ocva$$          # host end, captured (interface names: at most 15 characters)
VB=ocvb$$          # namespace end
HOST=10.200.0.1
PEER=10.200.0.2

live_cleanup() {
    for pid in $OC_PIDS; do
        kill "$pid" 2>/dev/null
    done
    ip link del "$VA" 2>/dev/null
    ip netns del "$NS" 2>/dev/null
    oc_cleanup
}
trap live_cleanup EXIT

for tool in ip tshark dumpcap; do
    command -v "$tool" >/dev/null 2>&1 ||
        fail "$tool is not installed (Debian: iproute2, tshark); this test needs it"
done
ip netns add "$NS" 2>"$OC_TMP/netns.err" ||
    fail "cannot create a network namespace ($(cat "$OC_TMP/netns.err")): this test needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN); CI runs it as root"
ip link add "$VA" type veth peer name "$VB" || fail "cannot create the veth pair"
ip link set "$VB" netns "$NS" || fail "cannot move $VB into $NS"
# IPv6 off on both ends: no router solicitations or MLD reports, so the link stays quiet.
# (/proc/sys/net belongs to the network namespace of the process that opens it.)
[ ! -e "/proc/sys/net/ipv6/conf/$VA" ] || echo 1 >"/proc/sys/net/ipv6/conf/$VA/disable_ipv6"
ip netns exec "$NS" sh -c "[ ! -e /proc/sys/net/ipv6/conf/$VB ] ||
    echo 1 >/proc/sys/net/ipv6/conf/$VB/disable_ipv6"
ip addr add "$HOST/30" dev "$VA" && ip link set "$VA" up || fail "cannot configure $VA"
ip netns exec "$NS" ip addr add "$PEER/30" dev "$VB" &&
    ip netns exec "$NS" ip link set "$VB" up &&
    ip netns exec "$NS" ip link set lo up || fail "cannot configure $VB"

now_ms() {
    date +%s%3N
}

# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds; false on timeout.
wait_for() {
    deadline=$(($(now_ms) + $1 * 1000))
    shift
    until "$@"; do
        [ "$(now_ms)" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

# record FILE TEXT: the first JSON line of FILE containing TEXT (ocellus writes the keys in
# a fixed order, so '"sourceTransportPort":40001,' picks one flow). No Python here: these
# run in polling loops and the arrival time is measured with them.
record() {
    [ -s "$1" ] && grep -m 1 -F -- "$2" "$1"
}
has_record() {
    record "$@" >/dev/null
}
# running PID / exited PID: whether our child runs (an exited child stays a zombie until
# waited for, and kill -0 succeeds on zombies).
running() {
    [ -r "/proc/$1/stat" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" | cut -c1)" != Z ]
}
exited() {
    ! running "$1"
}
# field JSON KEY: the value of KEY in a flat JSON object (numbers and addresses only).
field() {
    printf '%s\n' "$1" | sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p"
}

OUT=$OC_TMP/flows.json
ERR=$OC_TMP/ocellus.err
PCAP=$OC_TMP/independent.pcapng

# The independent witness: dumpcap on the same interface.
dumpcap -q -i "$VA" -w "$PCAP" 2>"$OC_TMP/dumpcap.err" &
DUMPCAP=$!
OC_PIDS="$OC_PIDS $DUMPCAP"

"$OCELLUS" -i "$VA" --idle-timeout "$IDLE" --stats-interval 0 -o "json:$OUT" 2>"$ERR" &
OC=$!
OC_PIDS="$OC_PIDS $OC"
wait_for 10 grep -q "^ocellus: capturing on $VA\$" "$ERR" ||
    fail "ocellus did not start capturing within 10 s: $(cat "$ERR")"
wait_for 10 grep -q "Capturing on" "$OC_TMP/dumpcap.err" ||
    fail "dumpcap did not start within 10 s: $(cat "$OC_TMP/dumpcap.err")"

# Servers on the host end: UDP echoes a 50-byte datagram per request; TCP reads 1000 bytes,
# answers 3000 and closes after the client does.
"$PYTHON3" - "$HOST" "$OC_TMP/servers.ready" <<'EOF' &
import socket, sys, threading, time
host, ready = sys.argv[1], sys.argv[2]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind((host, 40002))
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind((host, 40003))
t.listen(1)
def udp():
    while True:
        data, peer = u.recvfrom(2048)
        u.sendto(b'y' * 50, peer)
threading.Thread(target=udp, daemon=True).start()
open(ready, 'w').close()
c, _ = t.accept()
got = 0
while got < 1000:
    chunk = c.recv(4096)
    if not chunk:
        break
    got += len(chunk)
c.sendall(b'z' * 3000)
while c.recv(4096):
    pass
c.close()
time.sleep(3600)
EOF
OC_PIDS="$OC_PIDS $!"
wait_for 10 test -e "$OC_TMP/servers.ready" || fail "the test servers did not start"

# client PORT COUNT: from the namespace, COUNT 100-byte UDP datagrams from PEER:PORT, each
# waiting for its answer; then the link is quiet.
udp_client() {
    ip netns exec "$NS" "$PYTHON3" - "$HOST" "$PEER" "$1" "$2" <<'EOF'
import socket, sys
host, peer, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((peer, port))
s.settimeout(5)
for _ in range(count):
    s.sendto(b'x' * 100, (host, 40002))
    s.recvfrom(2048)
EOF
}

# TCP first: its end (reason 3) comes after the linger; the UDP exchange is the last traffic.
ip netns exec "$NS" "$PYTHON3" - "$HOST" <<'EOF' || fail "the TCP exchange failed"
import socket, sys
s = socket.create_connection((sys.argv[1], 40003), timeout=5)
s.sendall(b'a' * 1000)
s.shutdown(socket.SHUT_WR)
got = 0
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    got += len(chunk)
assert got == 3000, got
s.close()
EOF
udp_client 40001 5 || fail "the UDP exchange failed"
LAST_MS=$(now_ms)

# The idle UDP flow: no packet after the last answer, so only the wall clock can end it.
UDP_SEL='"sourceTransportPort":40001,"destinationTransportPort":40002,'
wait_for $((IDLE + 8)) has_record "$OUT" "$UDP_SEL" ||
    fail "the UDP flow did not arrive within $((IDLE + 8)) s: $(cat "$ERR")"
ARRIVED_MS=$(now_ms)
U=$(record "$OUT" "$UDP_SEL")
[ "$(field "$U" sourceIPv4Address)" = "$PEER" ] || fail "UDP flow source: $U"
[ "$(field "$U" flowEndReason)" = 1 ] || fail "UDP flow should end idle (1): $U"
[ "$(field "$U" packetDeltaCount)" = 5 ] && [ "$(field "$U" reversePacketDeltaCount)" = 5 ] ||
    fail "UDP flow should have 5 packets each way: $U"
# IP octets: 20 + 8 + 100 forward, 20 + 8 + 50 back.
[ "$(field "$U" octetDeltaCount)" = 640 ] && [ "$(field "$U" reverseOctetDeltaCount)" = 390 ] ||
    fail "UDP flow octets should be 640 and 390: $U"
END_MS=$(field "$U" flowEndMilliseconds)
# Idle expiry, measured from the last packet of the flow (as ocellus saw it) to the record's
# arrival in the file: never before the idle timeout, and within idle + 2 s.
LATENCY=$((ARRIVED_MS - END_MS))
[ "$LATENCY" -ge $((IDLE * 1000)) ] || fail "UDP flow expired after $LATENCY ms, before the idle timeout"
[ "$LATENCY" -le $(((IDLE + 2) * 1000)) ] ||
    fail "UDP flow expired $LATENCY ms after its last packet, more than idle + 2 s"
note "idle flow expired $LATENCY ms after its last packet (idle timeout ${IDLE} s)"
[ $((ARRIVED_MS - LAST_MS)) -le $(((IDLE + 2) * 1000)) ] ||
    fail "UDP record came $((ARRIVED_MS - LAST_MS)) ms after the traffic stopped"

# The TCP flow, against dumpcap's count of the same connection.
TCP_SEL='"destinationTransportPort":40003,"protocolIdentifier":6,'
wait_for 10 has_record "$OUT" "$TCP_SEL" || fail "the TCP flow did not arrive: $(cat "$OUT")"
T=$(record "$OUT" "$TCP_SEL")
[ "$(field "$T" flowEndReason)" = 3 ] || fail "TCP flow should end by FIN (3): $T"
[ "$(field "$T" sourceIPv4Address)" = "$PEER" ] || fail "TCP flow source should be the client: $T"

# SIGUSR1: one statistics line at once (the interval is 0, so no other).
[ "$(grep -c '^ocellus: stats: ' "$ERR")" -eq 0 ] || fail "statistics line without SIGUSR1"
kill -USR1 "$OC"
wait_for 3 grep -q '^ocellus: stats: ' "$ERR" || fail "no statistics line after SIGUSR1: $(cat "$ERR")"
STATS=$(grep '^ocellus: stats: ' "$ERR")
printf '%s\n' "$STATS" | grep -Eq "^ocellus: stats: packets [1-9][0-9]*, kernel received [0-9]+ dropped [0-9]+, skipped [0-9]+ \(.*\), flows active [0-9]+ created [0-9]+, [0-9]+ records \(idle [1-9][0-9]*, active 0, tcp [1-9][0-9]*, forced 0, resources 0\); output json:$OUT: sent [0-9]+, queued [0-9]+, lost 0, possibly lost 0$" ||
    fail "unexpected statistics line: $STATS"

# SIGHUP after the file was renamed away: ocellus keeps running and writes to a new file.
mv "$OUT" "$OUT.1"
kill -HUP "$OC"
wait_for 3 grep -q '^ocellus: SIGHUP: reopened the log and 1 output$' "$ERR" ||
    fail "no SIGHUP line: $(cat "$ERR")"
sleep 0.5
running "$OC" || fail "ocellus died on SIGHUP: $(cat "$ERR")"
udp_client 40005 2 || fail "the second UDP exchange failed"
SEL2='"sourceTransportPort":40005,'
wait_for $((IDLE + 8)) has_record "$OUT" "$SEL2" ||
    fail "after SIGHUP, the new flow did not arrive in the reopened $OUT"
U2=$(record "$OUT" "$SEL2")
[ "$(field "$U2" packetDeltaCount)" = 2 ] && [ "$(field "$U2" reversePacketDeltaCount)" = 2 ] ||
    fail "second UDP flow should have 2 packets each way: $U2"
has_record "$OUT.1" "$UDP_SEL" || fail "the renamed file lost its records"

# A flow still open at SIGTERM ends with reason 4. Start one, then stop at once.
udp_client 40007 1 || fail "the third UDP exchange failed"
sleep 0.3
T0=$(now_ms)
kill -TERM "$OC"
RC=0
wait "$OC" || RC=$?
STOP_MS=$(($(now_ms) - T0))
[ "$RC" -eq 0 ] || fail "ocellus exited $RC after SIGTERM: $(cat "$ERR")"
[ "$STOP_MS" -le 2000 ] || fail "ocellus took $STOP_MS ms to stop after SIGTERM"
note "stopped $STOP_MS ms after SIGTERM"
F=$(record "$OUT" '"sourceTransportPort":40007,')
[ -n "$F" ] && [ "$(field "$F" flowEndReason)" = 4 ] || fail "open flow not ended by SIGTERM (4): $F"
for label in "packets read" "packets attributed" "packets skipped" flows elapsed kernel; do
    grep -q "^ocellus: $label: " "$ERR" || fail "summary line '$label' missing: $(cat "$ERR")"
done
LINES=$(($(wc -l <"$OUT") + $(wc -l <"$OUT.1")))
grep -q "^ocellus: output json:$OUT: $LINES records sent, 0 lost, 0 send errors\$" "$ERR" ||
    fail "output summary should say $LINES records sent: $(cat "$ERR")"
RECORDS=$(sed -n 's/^ocellus: flows: [0-9]* created, \([0-9]*\) records.*/\1/p' "$ERR")
[ "$RECORDS" = "$LINES" ] || fail "summary says $RECORDS records, the files hold $LINES"

# The TCP counts, from the independent capture.
kill -INT "$DUMPCAP"
wait "$DUMPCAP"
tshark -r "$PCAP" -Y "tcp.port == 40003" -T fields -e ip.src -e ip.len >"$OC_TMP/tcp.txt" \
    2>"$OC_TMP/tshark.err" ||
    fail "tshark cannot read $PCAP"
WANT=$(awk -v peer="$PEER" '$1 == peer { p++; o += $2 } $1 != peer { rp++; ro += $2 }
    END { printf "%d %d %d %d", p, o, rp, ro }' "$OC_TMP/tcp.txt")
GOT="$(field "$T" packetDeltaCount) $(field "$T" octetDeltaCount) $(field "$T" reversePacketDeltaCount) $(field "$T" reverseOctetDeltaCount)"
[ "$GOT" = "$WANT" ] || fail "TCP flow packets/octets out, in: ocellus $GOT, dumpcap $WANT"
note "TCP flow: $GOT (packets, octets out; packets, octets in) as counted by dumpcap"

# An interface that goes away: a clear error naming it, and exit status 1.
ERR2=$OC_TMP/gone.err
"$OCELLUS" -i "$VA" -o "json:$OC_TMP/gone.json" 2>"$ERR2" &
OC2=$!
OC_PIDS="$OC_PIDS $OC2"
wait_for 10 grep -q "^ocellus: capturing on $VA\$" "$ERR2" || fail "second run did not start: $(cat "$ERR2")"
ip link del "$VA" || fail "cannot delete $VA"
wait_for 5 exited "$OC2" || fail "ocellus still runs 5 s after $VA went away"
RC=0
wait "$OC2" || RC=$?
[ "$RC" -eq 1 ] || fail "exit status $RC after the interface went away, expected 1: $(cat "$ERR2")"
grep -q "^ocellus: $VA: interface went away; stopping" "$ERR2" ||
    fail "no error saying $VA went away: $(cat "$ERR2")"

# Logging to syslog, seen by a /dev/log socket of our own: in a private mount namespace
# (unshare -m) /dev is a fresh tmpfs, so the machine's /dev/log (if any) is not touched.
# Priorities: <24 + level> = facility daemon; err 3, warning 4, info 6.
cat >"$OC_TMP/syslog.sh" <<'EOF'
set -u
mount -t tmpfs ocellus-test /dev || exit 90
mknod -m 666 /dev/null c 1 3 && mknod -m 666 /dev/full c 1 7 || exit 91
"$PYTHON3" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
s.settimeout(3)
with open(sys.argv[1], "w") as out:
    try:
        while True:
            out.write(s.recv(4096).decode() + "\n")
            out.flush()
    except socket.timeout:
        pass
' "$SYSLOG_OUT" </dev/null &
i=0
while [ ! -S /dev/log ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ -S /dev/log ] || exit 92
"$OCELLUS" -r "$SAMPLE" --log syslog -o json:/nonexistent/x.json 2>"$OC_TMP/syslog1.err"
echo "rc1=$?" >"$OC_TMP/syslog.rc"
"$OCELLUS" -r "$SAMPLE" --log syslog -o json:/dev/full 2>"$OC_TMP/syslog2.err"
echo "rc2=$?" >>"$OC_TMP/syslog.rc"
wait
EOF
SYSLOG_OUT=$OC_TMP/syslog.txt SAMPLE=$top_srcdir/samples/sample.pcap OC_TMP=$OC_TMP \
    OCELLUS=$OCELLUS PYTHON3=$PYTHON3 unshare -m sh "$OC_TMP/syslog.sh" </dev/null ||
    fail "syslog check: cannot set up a private /dev/log (status $?)"
[ "$(tr '\n' ' ' <"$OC_TMP/syslog.rc")" = "rc1=1 rc2=1 " ] ||
    fail "syslog runs: $(cat "$OC_TMP/syslog.rc"): $(cat "$OC_TMP"/syslog*.err)"
[ ! -s "$OC_TMP/syslog1.err" ] && [ ! -s "$OC_TMP/syslog2.err" ] ||
    fail "with --log syslog nothing should go to stderr: $(cat "$OC_TMP"/syslog*.err)"
grep -Eq '^<27>.* ocellus\[[0-9]+\]: output json:/nonexistent/x.json: cannot open' "$OC_TMP/syslog.txt" ||
    fail "no err-priority syslog line for the bad output: $(cat "$OC_TMP/syslog.txt")"
grep -Eq '^<30>.* ocellus\[[0-9]+\]: packets read: [1-9][0-9]*$' "$OC_TMP/syslog.txt" ||
    fail "no info-priority summary in syslog: $(cat "$OC_TMP/syslog.txt")"
grep -Eq '^<28>.* ocellus\[[0-9]+\]: output json:/dev/full: .*No space left on device' "$OC_TMP/syslog.txt" ||
    fail "no warning-priority syslog line for the full device: $(cat "$OC_TMP/syslog.txt")"

note "ok"
exit 0
