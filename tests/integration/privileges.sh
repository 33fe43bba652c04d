#!/bin/sh
# Privileges and hostile wire strings, live: ocellus started as root (under umask 000) with
# [daemon] user = nobody captures on one end of a veth pair whose other end sits in a network
# namespace. While it runs, every thread's /proc status must show nobody's uid and gid (real,
# effective, saved, fs), no supplementary group but nobody's, and no capability; its open
# files must be the configured outputs and nothing else. Traffic from the namespace carries
# hostile strings in an HTTP Host header, a TLS server name (SNI) and a DNS question: quotes,
# backslashes, control bytes, invalid UTF-8 and printf directives (%n%s%x%p). ocellus must
# survive them and exit 0 on SIGTERM; every JSON line must parse (Python's json module), and
# each string must come back as README documents it: invalid bytes each become U+FFFD, TLS
# control bytes '?', DNS labels in presentation form ('.', '\' and control bytes escaped as
# \. \\ \DDD). The expected strings are computed here from those rules and the bytes sent.
# The output files and the pid file must not be group or world writable (umask 000
# notwithstanding). Outputs are created as root before the switch; those not rotated are then
# given to nobody (so SIGHUP can reopen them), the pid file stays root's. No log line carries
# wire data: standard error must hold none of the hostile bytes and be valid UTF-8 without
# control characters.
#
# SIGHUP after the switch (README, Privileges): a json: output whose file was moved out of
# root's directory cannot be replaced there by nobody, which ocellus warned about at start:
# the warning names the file and the reason, the success line is not printed, and the moved
# file goes on receiving records. A rotating file: output in a directory nobody may write
# rotates on SIGHUP: the finished file is renamed, the new one belongs to nobody, mode 0644.
# The same rotating output in root's directory is refused at start (exit 2, nothing created).
#
# Needs root (namespace, capture, setuid); skips (77) without it.
set -u
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
[ "$(id -u)" = 0 ] || { echo "privileges: not root: skipped"; exit 77; }
oc_init privileges
for tool in ip; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed (Debian: iproute2)"
done
NOBODY_UID=$(id -u nobody) && NOBODY_GID=$(id -g nobody) || fail "no user nobody"

NS=ocpns$$
VA=ocpa$$
VB=ocpb$$
HOST=10.201.0.1
PEER=10.201.0.2

priv_cleanup() {
    for pid in $OC_PIDS; do
        kill "$pid" 2>/dev/null
    done
    ip link del "$VA" 2>/dev/null
    ip netns del "$NS" 2>/dev/null
    oc_cleanup
}
trap priv_cleanup EXIT

ip netns add "$NS" 2>"$OC_TMP/netns.err" || fail "cannot create a namespace: $(cat "$OC_TMP/netns.err")"
ip link add "$VA" type veth peer name "$VB" || fail "cannot create the veth pair"
ip link set "$VB" netns "$NS" || fail "cannot move $VB into $NS"
[ ! -e "/proc/sys/net/ipv6/conf/$VA" ] || echo 1 >"/proc/sys/net/ipv6/conf/$VA/disable_ipv6"
ip addr add "$HOST/30" dev "$VA" && ip link set "$VA" up || fail "cannot configure $VA"
ip netns exec "$NS" ip addr add "$PEER/30" dev "$VB" &&
    ip netns exec "$NS" ip link set "$VB" up || fail "cannot configure $VB"

wait_for() {
    _n=$(($1 * 10))
    shift
    until "$@"; do
        _n=$((_n - 1))
        [ $_n -gt 0 ] || return 1
        sleep 0.1
    done
}

# The outputs go to a directory of their own, so anything else written there is a finding.
# ROT belongs to nobody: the rotating output's files.
OUT=$OC_TMP/out
ROT=$OC_TMP/rot
mkdir "$OUT" "$ROT" && chmod 755 "$OC_TMP" "$OUT" "$ROT" && chown nobody "$ROT" ||
    fail "cannot create $OUT and $ROT"
cat >"$OC_TMP/ocellus.ini" <<EOF
[capture]
interface = $VA
filter = host $PEER
[flow]
idle_timeout = 1
[daemon]
user = nobody
pid_file = $OUT/ocellus.pid
stats_interval = 0
[output json]
uri = json:$OUT/flows.json
[output ipfix]
uri = file:$OUT/flows.ipfix
[output moved]
uri = json:$OUT/moved.json
[output rot]
uri = file:$ROT/flows.ipfix
rotate_interval = 3600
EOF

# --- a rotating output nobody could not rotate: refused before anything is created ----
cat >"$OC_TMP/refused.ini" <<EOF
[daemon]
user = nobody
[output r]
uri = file:$OUT/r.ipfix
rotate_interval = 60
EOF
# A classic pcap header (Ethernet) and no packet.
printf '\324\303\262\241\002\000\004\000\000\000\000\000\000\000\000\000\377\377\000\000\001\000\000\000' \
    >"$OC_TMP/empty.pcap"
REFUSED="ocellus: output r: user nobody cannot create files in $OUT (Permission denied), so rotating $OUT/r.ipfix would fail: make the directory writable by nobody"
for args in --check-config "-r $OC_TMP/empty.pcap"; do
    rc=0
    "$OCELLUS" -c "$OC_TMP/refused.ini" $args >"$OC_TMP/refused.out" 2>"$OC_TMP/refused.err" || rc=$?
    [ $rc -eq 2 ] && [ "$(cat "$OC_TMP/refused.err")" = "$REFUSED" ] &&
        [ ! -s "$OC_TMP/refused.out" ] ||
        fail "$args: exit $rc, stderr '$(cat "$OC_TMP/refused.err")', expected 2 and '$REFUSED'"
    [ -z "$(ls -A "$OUT")" ] || fail "$args: created $(ls -A "$OUT")"
done

# Servers on the host end: read what the client sends until it closes.
"$PYTHON3" - "$HOST" "$OC_TMP/servers.ready" <<'EOF' &
import socket, sys, threading, time
host, ready = sys.argv[1], sys.argv[2]
def serve(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(4)
    def loop():
        while True:
            c, _ = s.accept()
            while c.recv(4096):
                pass
            c.close()
    threading.Thread(target=loop, daemon=True).start()
for port in (8080, 8443):
    serve(port)
open(ready, 'w').close()
time.sleep(3600)
EOF
OC_PIDS="$OC_PIDS $!"
wait_for 10 test -e "$OC_TMP/servers.ready" || fail "the test servers did not start"

(umask 000 && exec "$OCELLUS" -c "$OC_TMP/ocellus.ini" >"$OC_TMP/stdout" 2>"$OC_TMP/stderr") &
OC=$!
OC_PIDS="$OC_PIDS $OC"
wait_for 10 grep -q "^ocellus: capturing on $VA\$" "$OC_TMP/stderr" ||
    fail "ocellus did not start capturing: $(cat "$OC_TMP/stderr")"

# --- ids, groups and capabilities of every thread ----------------------------------------
[ -d "/proc/$OC/task" ] || fail "ocellus exited: $(cat "$OC_TMP/stderr")"
for task in /proc/$OC/task/*; do
    st=$task/status
    grep -q "^Uid:	$NOBODY_UID	$NOBODY_UID	$NOBODY_UID	$NOBODY_UID\$" "$st" ||
        fail "$st: $(grep ^Uid: "$st"), expected $NOBODY_UID four times"
    grep -q "^Gid:	$NOBODY_GID	$NOBODY_GID	$NOBODY_GID	$NOBODY_GID\$" "$st" ||
        fail "$st: $(grep ^Gid: "$st"), expected $NOBODY_GID four times"
    groups=$(sed -n 's/^Groups:[	 ]*//p' "$st" | tr -s ' ' | sed 's/ *$//')
    [ -z "$groups" ] || [ "$groups" = "$NOBODY_GID" ] ||
        fail "$st: supplementary groups '$groups' (root's kept?)"
    for cap in CapPrm CapEff CapAmb; do
        grep -q "^$cap:	0000000000000000\$" "$st" || fail "$st: $(grep "^$cap:" "$st")"
    done
done
ntasks=$(ls /proc/$OC/task | wc -l)
# --- open files: the configured outputs, our redirections, nothing else -----------------
for fd in /proc/$OC/fd/*; do
    target=$(readlink "$fd") || continue
    case $target in
    "$OUT/flows.json" | "$OUT/flows.ipfix" | "$OUT/moved.json" | "$ROT/.flows.ipfix.part" | \
        "$OC_TMP/stdout" | "$OC_TMP/stderr" | /dev/null | socket:* | pipe:* | anon_inode:*) ;;
    *) fail "ocellus holds $target open (fd $fd)" ;;
    esac
done

# --- hostile strings from the namespace ----------------------------------------------
ip netns exec "$NS" "$PYTHON3" - "$HOST" <<'EOF' || fail "cannot send the hostile traffic"
import socket, struct, sys
host = sys.argv[1]
HOSTILE = (b'"q\\b\x01\x1b[31m\x7f%n%s%x%p%99999999d' + b'\xff\xfe\xc3(\xed\xa0\x80\xe2\x82'
           + b'\xc0\xaf' + 'é€😀'.encode())
# HTTP: the Host header (no CR, LF or blank at its ends: they end or trim the value).
c = socket.create_connection((host, 8080))
c.sendall(b'GET /%n%s HTTP/1.1\r\nHost: ' + HOSTILE + b'\r\nUser-Agent: x\r\n\r\n')
c.close()
# TLS 1.2 ClientHello with one server name, built by hand (RFC 8446 4.1.2, RFC 6066 3).
sni = b'\x00' + struct.pack('>H', len(HOSTILE)) + HOSTILE
ext = struct.pack('>HH', 0, len(sni) + 2) + struct.pack('>H', len(sni)) + sni
body = (b'\x03\x03' + b'\x11' * 32 + b'\x00' + struct.pack('>H', 4) + b'\x13\x01\xc0\x2f'
        + b'\x01\x00' + struct.pack('>H', len(ext)) + ext)
hs = b'\x01' + struct.pack('>I', len(body))[1:] + body
c = socket.create_connection((host, 8443))
c.sendall(b'\x16\x03\x01' + struct.pack('>H', len(hs)) + hs)
c.close()
# DNS query (RFC 1035 4.1): labels with '.', '\', quotes, control and invalid bytes.
labels = [b'a"b\\c', b'x.y\x01\x7f', b'\xff\xc3\xa9%n%s']
q = struct.pack('>HHHHHH', 0x4242, 0x0100, 1, 0, 0, 0)
q += b''.join(bytes([len(l)]) + l for l in labels) + b'\x00' + struct.pack('>HH', 1, 1)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(q, (host, 53))
EOF
sleep 1
running() {
    [ -r "/proc/$1/stat" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" | cut -c1)" != Z ]
}
running "$OC" || fail "ocellus died on the hostile traffic: $(cat "$OC_TMP/stderr")"

# --- SIGHUP as nobody: one reopen refused, one rotation done -------------------------
# At start: a warning for each output in root's directory, naming the file.
for name in json ipfix moved; do
    case $name in json) f=flows.json ;; ipfix) f=flows.ipfix ;; moved) f=moved.json ;; esac
    grep -qxF "ocellus: warning: output $name: user nobody cannot create files in $OUT (Permission denied): if $OUT/$f is moved away, SIGHUP cannot create a new one and the old file is written on" \
        "$OC_TMP/stderr" || fail "no start-up warning for $OUT/$f: $(cat "$OC_TMP/stderr")"
done
! grep -q "output rot: user nobody" "$OC_TMP/stderr" || fail "warned about $ROT, which nobody may write"
lines() { [ -e "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]; }
# The three flows end (idle_timeout 1 s), so the rotating output has records to finish a file.
wait_for 10 lines "$OUT/moved.json" 3 || fail "the flows did not end: $(cat "$OC_TMP/stderr")"
mv "$OUT/moved.json" "$OC_TMP/moved.json.1"
kill -HUP "$OC"
wait_for 10 grep -q "SIGHUP: reopened the log and" "$OC_TMP/stderr" ||
    fail "no SIGHUP line: $(cat "$OC_TMP/stderr")"
grep -qxF "ocellus: warning: SIGHUP: output moved: cannot open $OUT/moved.json: Permission denied; still writing the file it had open" \
    "$OC_TMP/stderr" || fail "no SIGHUP warning naming $OUT/moved.json: $(cat "$OC_TMP/stderr")"
grep -qxF "ocellus: warning: SIGHUP: reopened the log and 3 of 4 outputs" "$OC_TMP/stderr" ||
    fail "SIGHUP: no '3 of 4 outputs' line: $(cat "$OC_TMP/stderr")"
! grep -q "SIGHUP: reopened the log and 4 outputs" "$OC_TMP/stderr" ||
    fail "SIGHUP: the success line was printed although a reopen failed"
[ "$(grep -c "SIGHUP:" "$OC_TMP/stderr")" -eq 2 ] || fail "SIGHUP: other lines: $(cat "$OC_TMP/stderr")"
# The rotation: the finished file under its time stamp, a new part file of nobody's.
set -- $(stat -c '%U %a' "$ROT/.flows.ipfix.part" 2>/dev/null)
[ "${1-}" = nobody ] && [ "${2-}" = 644 ] ||
    fail "$ROT/.flows.ipfix.part after SIGHUP: '$*', expected 'nobody 644'"
set -- "$ROT"/flows.2*.ipfix
[ $# -eq 1 ] && [ -s "$1" ] || fail "SIGHUP did not rotate: $(ls -la "$ROT")"
FIRST=$1
# The moved file is still written: one more flow reaches it after the SIGHUP line (a late
# flow of the first traffic may reach it too, and then also the new rotating file).
N=$(wc -l <"$OC_TMP/moved.json.1")
ip netns exec "$NS" "$PYTHON3" -c \
    'import socket, sys; socket.create_connection((sys.argv[1], 8080)).close()' "$HOST" ||
    fail "cannot connect after SIGHUP"
wait_for 10 lines "$OC_TMP/moved.json.1" $((N + 1)) ||
    fail "the moved file got no record after SIGHUP: $(cat "$OC_TMP/stderr")"
[ ! -e "$OUT/moved.json" ] || fail "$OUT/moved.json exists: created in root's directory?"
kill -TERM "$OC"
rc=0
wait "$OC" || rc=$?
[ $rc -eq 0 ] || fail "exit $rc after SIGTERM: $(cat "$OC_TMP/stderr")"

# --- files: where, who, mode ---------------------------------------------------------
for f in "$OUT"/* "$OUT"/.[!.]*; do
    [ -e "$f" ] || continue
    case $f in
    "$OUT/flows.json" | "$OUT/flows.ipfix" | "$OUT/ocellus.pid") ;;
    *) fail "unexpected file $f" ;;
    esac
    set -- $(stat -c '%u %g %a' "$f")
    case $f in
    *.pid) want=0 ;;
    *) want=$NOBODY_UID ;; # created by root, given to nobody so that SIGHUP can reopen it
    esac
    [ "$1" = "$want" ] && [ "$2" = 0 ] || fail "$f: owner $1:$2, expected $want:0"
    [ $((0$3 & 022)) -eq 0 ] || fail "$f: mode $3 is group or world writable (umask 000 run)"
    [ $((0$3 & 0111)) -eq 0 ] || fail "$f: mode $3 is executable"
done
[ -s "$OUT/flows.json" ] && [ -s "$OUT/flows.ipfix" ] || fail "an output file is missing or empty"
# The rotating output: the file finished on SIGHUP (created by root before the switch) and
# the one finished at exit (created by nobody after it); no part file left.
for f in "$ROT"/* "$ROT"/.[!.]*; do
    [ -e "$f" ] || continue
    set -- $(stat -c '%U %a' "$f")
    case $f in
    "$FIRST") [ "$1" = root ] || fail "$f: owner $1, expected root" ;;
    "$ROT"/flows.2*.ipfix) [ "$1" = nobody ] && [ "$2" = 644 ] || fail "$f: $1 $2, expected nobody 644" ;;
    *) fail "unexpected file $f" ;;
    esac
done
[ "$(ls -A "$ROT" | wc -l)" -eq 2 ] || fail "$ROT: $(ls -la "$ROT"), expected two files: $(cat "$OC_TMP/stderr")"
# The pid file could not be removed by nobody (root's directory): it stays, as main.c says.
[ "$(cat "$OUT/ocellus.pid" 2>/dev/null)" = "$OC" ] || fail "pid file: '$(cat "$OUT/ocellus.pid")', expected $OC"

# --- JSON: parses, and each hostile string round-trips as documented -------------------
"$PYTHON3" - "$OUT/flows.json" "$OC_TMP/stderr" <<'EOF' || fail "JSON or log check failed"
import json, sys
HOSTILE = (b'"q\\b\x01\x1b[31m\x7f%n%s%x%p%99999999d' + b'\xff\xfe\xc3(\xed\xa0\x80\xe2\x82'
           + b'\xc0\xaf' + 'é€😀'.encode())
labels = [b'a"b\\c', b'x.y\x01\x7f', b'\xff\xc3\xa9%n%s']

def lead_len(c):
    return 1 if c < 0x80 else 2 if 0xc2 <= c <= 0xdf else 3 if 0xe0 <= c <= 0xef else \
        4 if 0xf0 <= c <= 0xf4 else 0

def render(b):
    """README: strings are valid UTF-8, each invalid byte becomes U+FFFD."""
    out, i = [], 0
    while i < len(b):
        n = lead_len(b[i])
        if n:
            try:
                out.append(b[i:i + n].decode('utf-8'))  # strict: no overlong, no surrogate
                i += n
                continue
            except UnicodeDecodeError:
                pass
        out.append('\ufffd')
        i += 1
    return ''.join(out)

def presentation(label):
    """README dnsQName: '.', '\\' and control bytes escaped (\\. \\\\ \\DDD), others kept."""
    out = b''
    for c in label:
        if c in b'.\\':
            out += b'\\' + bytes([c])
        elif c < 0x20 or c == 0x7f:
            out += b'\\%03d' % c
        else:
            out += bytes([c])
    return out

want = {
    'httpRequestHost': render(HOSTILE),
    'sslServerName': render(bytes(c if 0x20 <= c != 0x7f else 0x3f for c in HOSTILE)),
    'dnsQName': render(b'.'.join(presentation(l) for l in labels)),
}
got = {}
raw = open(sys.argv[1], 'rb').read()
for n, line in enumerate(raw.split(b'\n')[:-1], 1):
    line.decode('utf-8')  # strict: the file is UTF-8
    assert all(c >= 0x20 for c in line), 'line %d holds a raw control byte' % n
    obj = json.loads(line)
    for k in want:
        if k in obj:
            got[k] = obj[k]
bad = 0
for k, v in want.items():
    if got.get(k) != v:
        print('privileges: FAIL: %s: got %r, expected %r' % (k, got.get(k), v), file=sys.stderr)
        bad += 1
# Logs: wire data never reaches a log line, so none of its distinctive bytes may appear.
log = open(sys.argv[2], 'rb').read()
log.decode('utf-8')
for marker in (b'%n', b'\x1b', b'\xff', b'a"b'):
    if marker in log:
        print('privileges: FAIL: the log holds %r' % marker, file=sys.stderr)
        bad += 1
if any(c < 0x20 and c != 0x0a for c in log):
    print('privileges: FAIL: a control byte in the log', file=sys.stderr)
    bad += 1
sys.exit(1 if bad else 0)
EOF
note "ran as $NOBODY_UID:$NOBODY_GID in $ntasks threads; hostile HTTP/TLS/DNS strings escaped"
