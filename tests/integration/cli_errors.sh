#!/bin/sh
# The ocellus command's failure modes: each gives its own clear message and exit status
# (0 ok, 1 runtime error, 2 usage error). Expected byte offsets and packet counts of the
# truncated captures come from a small independent parser of the file formats below (Python),
# never from ocellus itself.
set -u
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
oc_init cli_errors
need_pcaps

SMTP=$PCAPS/ndpi-smtp.pcap     # classic pcap, 95 packets
SSH=$PCAPS/ndpi-ssh.pcap       # pcapng despite its name, 295 packets
[ -r "$SMTP" ] && [ -r "$SSH" ] || fail "$SMTP or $SSH is missing"
PASSED=0

ok() {
    PASSED=$((PASSED + 1))
}

# expect RC REGEX ARGS...: exit status RC, one line on stderr matching REGEX, nothing on
# stdout (errors found before any packet is read).
expect() {
    want_rc=$1 regex=$2
    shift 2
    oc_run "$@"
    [ "$OC_RC" -eq "$want_rc" ] ||
        fail "ocellus $*: exit $OC_RC, expected $want_rc; stderr: $(cat "$OC_ERR")"
    grep -Eq -- "$regex" "$OC_ERR" ||
        fail "ocellus $*: stderr does not match '$regex': $(cat "$OC_ERR")"
    [ "$(wc -l <"$OC_ERR")" -eq 1 ] ||
        fail "ocellus $*: expected one line on stderr, got: $(cat "$OC_ERR")"
    [ ! -s "$OC_OUT" ] || fail "ocellus $*: unexpected output on stdout"
    ok
}

# Independent reader: prints "<offset of the first incomplete record/block> <complete
# packets before it>" for a classic pcap or pcapng file cut short.
cut_point() {
    "$PYTHON3" - "$1" <<'EOF'
import struct, sys
d = open(sys.argv[1], 'rb').read()
if d[:4] == b'\x0a\x0d\x0d\x0a':
    pos = packets = 0
    end = '<'
    while pos + 8 <= len(d):
        btype = struct.unpack(end + 'I', d[pos:pos + 4])[0]
        if btype == 0x0A0D0D0A:
            end = '<' if d[pos + 8:pos + 12] == b'\x4d\x3c\x2b\x1a' else '>'
        blen = struct.unpack(end + 'I', d[pos + 4:pos + 8])[0]
        if pos + blen > len(d):
            break
        packets += btype in (2, 3, 6)   # packet, simple packet, enhanced packet
        pos += blen
else:
    end = '<' if d[:4] in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1') else '>'
    pos, packets = 24, 0
    while pos + 16 <= len(d):
        incl = struct.unpack(end + 'I', d[pos + 8:pos + 12])[0]
        if pos + 16 + incl > len(d):
            break
        pos += 16 + incl
        packets += 1
print(pos, packets)
EOF
}

# Counts JSON objects on stdout that parse and carry flow counters.
json_lines() {
    "$PYTHON3" - "$1" <<'EOF'
import json, sys
n = 0
for line in open(sys.argv[1]):
    obj = json.loads(line)
    assert 'packetDeltaCount' in obj and 'flowEndReason' in obj, line
    n += 1
print(n)
EOF
}

# expect_truncated FILE: the cut capture gives exit 1, an error naming the file and the byte
# offset of the broken record, the flows read before the cut and the summary.
expect_truncated() {
    set -- "$1" $(cut_point "$1")
    file=$1 offset=$2 packets=$3
    oc_run -r "$file"
    [ "$OC_RC" -eq 1 ] || fail "$file: exit $OC_RC, expected 1; stderr: $(cat "$OC_ERR")"
    grep -Fq "ocellus: $file: truncated" "$OC_ERR" ||
        fail "$file: no truncation error naming the file: $(cat "$OC_ERR")"
    grep -Eq "at byte offset $offset([^0-9]|\$)" "$OC_ERR" ||
        fail "$file: expected byte offset $offset in: $(cat "$OC_ERR")"
    [ "$(summary_value 'packets read')" = "$packets" ] ||
        fail "$file: packets read $(summary_value 'packets read'), expected $packets"
    lines=$(json_lines "$OC_OUT") || fail "$file: stdout is not JSON lines"
    [ "$lines" -ge 1 ] || fail "$file: no flow printed for the packets before the cut"
    ok
}

# --- files that cannot be read -------------------------------------------------------
expect 1 "^ocellus: $OC_TMP/missing.pcap: .*No such file" -r "$OC_TMP/missing.pcap"
head -c 4096 /dev/urandom >"$OC_TMP/garbage.pcap"
printf 'GARB' | dd of="$OC_TMP/garbage.pcap" conv=notrunc 2>/dev/null # never a magic number
expect 1 "^ocellus: $OC_TMP/garbage.pcap: not a pcap or pcapng file" -r "$OC_TMP/garbage.pcap"
: >"$OC_TMP/empty.pcap"
expect 1 "^ocellus: $OC_TMP/empty.pcap: not a pcap or pcapng file" -r "$OC_TMP/empty.pcap"
head -c 10 "$SMTP" >"$OC_TMP/header.pcap"
expect 1 "^ocellus: $OC_TMP/header.pcap: not a pcap or pcapng file" -r "$OC_TMP/header.pcap"
expect 1 "^ocellus: $OC_TMP: .*directory" -r "$OC_TMP"
# A bad file after a good one fails before anything is read.
expect 1 "^ocellus: $OC_TMP/missing.pcap: " -r "$SMTP" -r "$OC_TMP/missing.pcap"

# --- captures cut short ----------------------------------------------------------------
head -c 10000 "$SMTP" >"$OC_TMP/cut-data.pcap"      # inside a record's data
expect_truncated "$OC_TMP/cut-data.pcap"
set -- $(cut_point "$OC_TMP/cut-data.pcap")
head -c $(($1 + 7)) "$SMTP" >"$OC_TMP/cut-header.pcap" # inside a record header
expect_truncated "$OC_TMP/cut-header.pcap"
head -c 30000 "$SSH" >"$OC_TMP/cut.pcapng"
expect_truncated "$OC_TMP/cut.pcapng"
# A corrupt record length mid-file: record 10 claims 4 GB.
"$PYTHON3" - "$SMTP" "$OC_TMP/corrupt.pcap" <<'EOF' >"$OC_TMP/corrupt.at" || fail "cannot corrupt"
import struct, sys
d = bytearray(open(sys.argv[1], 'rb').read())
pos = 24
for _ in range(10):
    pos += 16 + struct.unpack('<I', d[pos + 8:pos + 12])[0]
d[pos + 8:pos + 12] = struct.pack('<I', 0xFFFFFF00)
open(sys.argv[2], 'wb').write(d)
print(pos)
EOF
oc_run -r "$OC_TMP/corrupt.pcap"
[ "$OC_RC" -eq 1 ] || fail "corrupt.pcap: exit $OC_RC, expected 1"
grep -q "^ocellus: $OC_TMP/corrupt.pcap: corrupt packet record at byte offset $(cat "$OC_TMP/corrupt.at"): " \
    "$OC_ERR" || fail "corrupt.pcap: $(cat "$OC_ERR")"
[ "$(summary_value 'packets read')" = 10 ] || fail "corrupt.pcap: packets read is not 10"
ok
# Standard input: the same offsets when it is a regular file (none promised for a pipe).
offset=$(cut_point "$OC_TMP/cut.pcapng" | cut -d' ' -f1)
oc_run -r - <"$OC_TMP/cut.pcapng"
[ "$OC_RC" -eq 1 ] &&
    grep -q "^ocellus: standard input: truncated block at byte offset $offset: " "$OC_ERR" ||
    fail "-r - <cut.pcapng: exit $OC_RC: $(cat "$OC_ERR")"
ok

# --- bad filter, interface, combinations -------------------------------------------------
expect 1 "bad filter 'tcp port\(\(\(': " -r "$SMTP" -f 'tcp port((('
expect 1 "^ocellus: nosuchif0: " -i nosuchif0
expect 2 "^ocellus: -r and -i cannot be used together" -r "$SMTP" -i lo
expect 2 "^ocellus: no input" 
expect 2 "^ocellus: .*standard input.* only once" -r - -r -
expect 2 "^ocellus: .*--bogus" --bogus -r "$SMTP"
expect 2 "^ocellus: unexpected argument 'extra'" -r "$SMTP" extra

# --- numbers ---------------------------------------------------------------------------
for bad in abc 0 -5 1.5 "" 99999999999999999999999 86401; do
    expect 2 "^ocellus: --idle-timeout = \"$bad\" is invalid: allowed 1\.\.86400$" \
        --idle-timeout "$bad" -r "$SMTP"
done
for bad in x 0 604801 4294967297; do
    expect 2 "^ocellus: --active-timeout = \"$bad\" is invalid: allowed 1\.\.604800$" \
        --active-timeout "$bad" -r "$SMTP"
done
for bad in 15 0 67108865 1e6 -16; do
    expect 2 "^ocellus: --max-flows = \"$bad\" is invalid: allowed 16\.\.67108864$" \
        --max-flows "$bad" -r "$SMTP"
done
# The bounds themselves are accepted.
oc_run --idle-timeout 86400 --active-timeout 604800 --max-flows 16 -r "$SMTP"
[ "$OC_RC" -eq 0 ] || fail "range bounds rejected: $(cat "$OC_ERR")"
# (--max-flows 67108864 is not run: the table for it takes gigabytes.)
oc_run --idle-timeout 1 --active-timeout 1 -r "$SMTP"
[ "$OC_RC" -eq 0 ] || fail "range bounds rejected: $(cat "$OC_ERR")"
ok

# --- output ----------------------------------------------------------------------------
for bad in ipfix:127.0.0.1 out.json json: udp://host udp://host:0 tcp://[::1]:99999; do
    expect 2 "^ocellus: -o = \".*\" is invalid: allowed json:PATH, file:PATH, udp://HOST:PORT, tcp://HOST:PORT" \
        -o "$bad" -r "$SMTP"
done
expect 1 "^ocellus: output json:$OC_TMP/no/such/dir.json: cannot open $OC_TMP/no/such/dir.json: " \
    -o "json:$OC_TMP/no/such/dir.json" -r "$SMTP"
# A full disk: the error is reported, the summary still printed, exit 1.
oc_run -o json:/dev/full -r "$SMTP"
[ "$OC_RC" -eq 1 ] || fail "/dev/full: exit $OC_RC, expected 1"
grep -q "^ocellus: warning: output json:/dev/full: write /dev/full: No space left on device" "$OC_ERR" ||
    fail "/dev/full: $(cat "$OC_ERR")"
grep -q "^ocellus: output json:/dev/full: 0 records sent, 1 lost, 1 send errors$" "$OC_ERR" ||
    fail "/dev/full: loss not reported: $(cat "$OC_ERR")"
grep -q "^ocellus: packets read: 95$" "$OC_ERR" || fail "/dev/full: no summary"
ok
# A reader that goes away (EPIPE, not a silent death by SIGPIPE). gnutella gives far more
# JSON than a pipe buffer holds.
("$OCELLUS" -r "$PCAPS/ndpi-gnutella.pcap" 2>"$OC_ERR"; echo $? >"$OC_TMP/rc") | head -c 1 >/dev/null
[ "$(cat "$OC_TMP/rc")" = 1 ] || fail "closed pipe: exit $(cat "$OC_TMP/rc"), expected 1"
grep -q "^ocellus: warning: output json:-: write standard output: Broken pipe" "$OC_ERR" ||
    fail "closed pipe: $(cat "$OC_ERR")"
ok
# -o json:PATH and the default stdout hold the same records; the counts come from capinfos
# (MANIFEST), -r - reads a pipe, and several -r files are read in order.
oc_run -o "json:$OC_TMP/smtp.json" -r "$SMTP"
[ "$OC_RC" -eq 0 ] && [ ! -s "$OC_OUT" ] || fail "-o json:PATH wrote to stdout or failed"
cat "$SMTP" | "$OCELLUS" -r - >"$OC_OUT" 2>"$OC_ERR" || fail "-r - failed: $(cat "$OC_ERR")"
cmp -s "$OC_OUT" "$OC_TMP/smtp.json" || fail "-r - and -r FILE -o json:PATH differ"
[ "$(summary_value 'packets read')" = 95 ] || fail "-r -: packets read is not 95"
oc_run -r "$SMTP" -r "$SSH"
[ "$OC_RC" -eq 0 ] && [ "$(summary_value 'packets read')" = $((95 + 295)) ] ||
    fail "two files: exit $OC_RC, packets read $(summary_value 'packets read') (expected 390)"
ok

# --- summary format ----------------------------------------------------------------------
oc_run -r "$SMTP"
for re in '^ocellus: packets read: [0-9]+$' '^ocellus: packets attributed: [0-9]+$' \
    '^ocellus: packets skipped: 0 \(none\)$' \
    '^ocellus: flows: [0-9]+ created, [0-9]+ records \(idle [0-9]+, active [0-9]+, tcp [0-9]+, forced [0-9]+, resources [0-9]+\)$' \
    '^ocellus: elapsed: [0-9]+\.[0-9]{3} s, [0-9]+ packets/s$'; do
    grep -Eq "$re" "$OC_ERR" || fail "summary line '$re' missing: $(cat "$OC_ERR")"
done
ok

# --- help and version --------------------------------------------------------------------
version=$(sed -n 's/^AC_INIT(\[ocellus\], *\[\([^]]*\)\].*/\1/p' "$top_srcdir/configure.ac")
oc_run --version
[ "$OC_RC" -eq 0 ] && [ "$(cat "$OC_OUT")" = "ocellus $version" ] ||
    fail "--version: exit $OC_RC, printed '$(cat "$OC_OUT")', expected 'ocellus $version'"
ok
oc_run --help
[ "$OC_RC" -eq 0 ] || fail "--help: exit $OC_RC"
for opt in -r -i -f --idle-timeout --active-timeout --max-flows -o --version; do
    grep -q -- " $opt" "$OC_OUT" || fail "--help does not mention $opt"
done
ok

# --- live capture: a quiet link still expires flows; SIGINT flushes and exits 0 ----------
"$OCELLUS" -i lo -f 'udp port 47999' --idle-timeout 1 -o "json:$OC_TMP/live.json" \
    2>"$OC_TMP/live.err" &
pid=$!
OC_PIDS="$OC_PIDS $pid"
sleep 1
if grep -q "permission denied" "$OC_TMP/live.err"; then
    note "live capture not permitted here; live checks not run"
else
    "$PYTHON3" -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"ocellus", ("127.0.0.1", 47999))' || fail "cannot send a test datagram"
    # idle 1 s, then at most one poll period (1 s) before the clock advances
    i=0
    while [ $i -lt 50 ] && ! grep -q '"flowEndReason":1' "$OC_TMP/live.json" 2>/dev/null; do
        sleep 0.1
        i=$((i + 1))
    done
    grep -q '"destinationTransportPort":47999.*"flowEndReason":1' "$OC_TMP/live.json" ||
        fail "live: the idle flow was not reported on a quiet link"
    kill -INT $pid
    rc=0
    wait $pid || rc=$?
    [ $rc -eq 0 ] || fail "live: exit $rc after SIGINT: $(cat "$OC_TMP/live.err")"
    grep -q "^ocellus: packets read: " "$OC_TMP/live.err" || fail "live: no summary after SIGINT"
    ok
fi
kill $pid 2>/dev/null
wait $pid 2>/dev/null

# --- a stalled output cannot hold up exit past shutdown_timeout ------------------------
# A reader that opens the FIFO and never reads: the JSON output blocks in write() once the
# pipe is full. ocellus must still exit within the timeout (+1 s grace), count the records
# it could not deliver as lost, and exit 1.
mkfifo "$OC_TMP/stall" || fail "mkfifo"
sleep 30 <"$OC_TMP/stall" &
stall_pid=$!
OC_PIDS="$OC_PIDS $stall_pid"
t0=$(date +%s)
"$OCELLUS" -r "$PCAPS/ndpi-gnutella.pcap" -o "json:$OC_TMP/stall" --shutdown-timeout 1 \
    >/dev/null 2>"$OC_TMP/stall.err"
rc=$?
t1=$(date +%s)
kill $stall_pid 2>/dev/null
[ $rc -eq 1 ] || fail "stalled output: exit $rc, expected 1: $(cat "$OC_TMP/stall.err")"
[ $((t1 - t0)) -le 6 ] || fail "stalled output: exit took $((t1 - t0)) s with --shutdown-timeout 1"
grep -Eq "still blocked writing after [0-9]+ ms; abandoned" "$OC_TMP/stall.err" ||
    fail "stalled output: not reported: $(cat "$OC_TMP/stall.err")"
grep -Eq "^ocellus: output json:.*/stall: [0-9]+ records sent, [1-9][0-9]* lost" "$OC_TMP/stall.err" ||
    fail "stalled output: losses not counted: $(cat "$OC_TMP/stall.err")"
ok

note "$PASSED checks passed"
