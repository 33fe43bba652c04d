# Shared helpers for the integration tests; source it, then call oc_init NAME.
#
# Environment (set by AM_TESTS_ENVIRONMENT in Makefile.am): OCELLUS (the command under
# test), PCAPS (the shared capture corpus), PYTHON3, top_srcdir, top_builddir.
#
# After oc_init:
#   OC_TMP         a fresh directory under the build tree, removed when the script exits
#   OC_PIDS        background processes to kill on exit (append with OC_PIDS="$OC_PIDS $!")
#   fail MSG       prints "NAME: FAIL: MSG" on stderr and exits 1
#   note MSG       prints "NAME: MSG" on stdout
#   need_pcaps     fails (never skips) when $PCAPS is not a directory
#   oc_run ARGS    runs "$OCELLUS" ARGS with stdout in $OC_OUT and stderr in $OC_ERR;
#                  the exit status is in $OC_RC
#   summary_value LABEL   the number after "ocellus: LABEL: " in $OC_ERR (summary lines)

oc_init() {
    OC_NAME=$1
    : "${top_builddir:=.}"
    : "${PYTHON3:=python3}"
    [ -n "${OCELLUS:-}" ] || fail "OCELLUS is not set (run through make check)"
    [ -x "$OCELLUS" ] || fail "$OCELLUS is not an executable"
    mkdir -p "$top_builddir/tests/integration" || fail "cannot create the test directory"
    OC_TMP=$(mktemp -d "$top_builddir/tests/integration/$OC_NAME.XXXXXX") ||
        fail "cannot create a temporary directory"
    OC_PIDS=
    trap oc_cleanup EXIT
    OC_OUT=$OC_TMP/stdout
    OC_ERR=$OC_TMP/stderr
}

oc_cleanup() {
    for pid in $OC_PIDS; do
        kill "$pid" 2>/dev/null
    done
    rm -rf "$OC_TMP"
}

fail() {
    echo "${OC_NAME:-test}: FAIL: $*" >&2
    exit 1
}

note() {
    echo "${OC_NAME:-test}: $*"
}

need_pcaps() {
    [ -n "${PCAPS:-}" ] || fail "PCAPS is not set"
    [ -d "$PCAPS" ] || fail "the shared capture corpus $PCAPS does not exist"
}

oc_run() {
    OC_RC=0
    "$OCELLUS" "$@" >"$OC_OUT" 2>"$OC_ERR" || OC_RC=$?
}

summary_value() {
    sed -n "s/^ocellus: $1: \([0-9][0-9]*\).*/\1/p" "$OC_ERR" | tail -n 1
}

# free_udp_port: prints a UDP port on 127.0.0.1 that is free right now.
free_udp_port() {
    "$PYTHON3" -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# nfcapd_start DIR: starts a real nfcapd (Debian nfdump) on a free 127.0.0.1 UDP port, writing
# into DIR and logging to DIR.log; sets NF_PORT and NF_PID (killed on exit). Returns once
# nfcapd has bound its socket: datagrams sent before that would be lost.
# ocellus reads a file far faster than nfcapd drains its socket, and the tests require that no
# datagram is lost (nfcapd_stop), so nfcapd gets a 4 MiB receive buffer (the kernel caps it at
# net.core.rmem_max) instead of the 208 KiB default, which a busy CI machine overran.
nfcapd_start() {
    command -v nfcapd >/dev/null && command -v nfdump >/dev/null ||
        fail "nfcapd/nfdump not installed (Debian package nfdump)"
    mkdir -p "$1"
    NF_PORT=$(free_udp_port) || fail "no free UDP port"
    nfcapd -b 127.0.0.1 -p "$NF_PORT" -B 4194304 -w "$1" >"$1.log" 2>&1 &
    NF_PID=$!
    OC_PIDS="$OC_PIDS $NF_PID"
    _i=0
    until grep -q "Bound to" "$1.log" 2>/dev/null; do
        _i=$((_i + 1))
        [ $_i -gt 100 ] && { cat "$1.log"; fail "nfcapd did not start"; }
        kill -0 "$NF_PID" 2>/dev/null || { cat "$1.log"; fail "nfcapd exited"; }
        sleep 0.1
    done
}

# nfcapd_stop DIR: stops the nfcapd of nfcapd_start DIR, requires that it saw no sequence
# errors (our per-domain sequence numbers), and leaves nfdump's JSON view of DIR in DIR.json.
nfcapd_stop() {
    sleep 0.5 # nfcapd reads its socket asynchronously
    kill "$NF_PID"
    wait "$NF_PID" 2>/dev/null
    grep -q "Sequence Errors: 0," "$1.log" || { cat "$1.log"; fail "nfcapd saw sequence errors"; }
    ls "$1"/nfcapd.2* >/dev/null 2>&1 || { cat "$1.log"; fail "nfcapd wrote no file"; }
    TZ=UTC nfdump -R "$1" -o json >"$1.json" 2>"$1.err" || { cat "$1.err"; fail "nfdump failed"; }
}
