#!/bin/sh
# make bench-live: the highest packet rate a live ocellus takes without loss. A veth pair
# with the capture end in a network namespace (nothing else talks on it), ocellus capturing
# there with IPFIX file export, and tcpreplay sending a slice of the benchmark's capture (a)
# (tests/bench/bench_peers.py) from the host end: first --topspeed, then at fixed --pps
# rates, bisecting for the highest rate at which ocellus read every packet tcpreplay sent
# and the kernel counted no drop (pcap_stats, the "kernel:" line of ocellus's summary).
# Once with --no-dpi and once with DPI on. A fresh ocellus for each replay, so each line's
# counters are that replay's own. Prints figures, asserts nothing; never part of make check.
#
# usage: live_rate.sh BUILDDIR   (as root; needs ip (iproute2) and tcpreplay)
# Environment: LIVE_PCAP (the capture; default: capture (a) of bench_peers.py, generated
# into its cache when missing), LIVE_PACKETS (the slice: its first packets, 300000),
# LIVE_SECONDS (longest fixed-rate replay, 4), LIVE_STEPS (bisection steps, 5),
# LIVE_OCELLUS_ARGS (more ocellus options, e.g. --buffer-size 4).
set -u
builddir=$(cd "${1:?usage: live_rate.sh BUILDDIR}" && pwd)
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
OCELLUS=$builddir/src/ocellus
PACKETS=${LIVE_PACKETS:-300000}
SECONDS_MAX=${LIVE_SECONDS:-4}
STEPS=${LIVE_STEPS:-5}

NS=ocrate$$
VA=ocra$$          # host end: tcpreplay sends here
VB=ocrb$$          # namespace end: ocellus captures here
tmp=$(mktemp -d "${TMPDIR:-/tmp}/live_rate.XXXXXX") || exit 1
OC=

die() {
    echo "live_rate: $*" >&2
    exit 1
}
cleanup() {
    [ -z "$OC" ] || kill "$OC" 2>/dev/null
    ip link del "$VA" 2>/dev/null
    ip netns del "$NS" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" = 0 ] || die "needs root (a network namespace, a veth pair, raw sockets)"
for tool in ip tcpreplay; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (Debian: iproute2, tcpreplay)"
done
[ -x "$OCELLUS" ] || die "$OCELLUS is not built"

pcap=${LIVE_PCAP:-}
if [ -z "$pcap" ]; then
    pcap=$(cd "$srcdir/tests/bench" && "${OC_PYTHON:-python3}" -c \
        'import sys, bench_peers; print(bench_peers.capture(sys.argv[1], "a")[0])' "$builddir") ||
        die "cannot generate capture (a)"
fi
[ -r "$pcap" ] || die "cannot read $pcap"
# The slice, in a file of its own when editcap (wireshark-common) is there: tcpreplay then
# preloads it into memory (--preload-pcap), so reading the file does not slow --topspeed.
preload=
if command -v editcap >/dev/null 2>&1; then
    editcap -r "$pcap" "$tmp/slice.pcap" "1-$PACKETS" || die "editcap cannot cut $pcap"
    src="$pcap, first $PACKETS packets (editcap; tcpreplay --preload-pcap)"
    pcap=$tmp/slice.pcap
    preload=--preload-pcap
else
    src="$pcap, first $PACKETS packets (tcpreplay --limit)"
fi

ip netns add "$NS" || die "cannot create a network namespace"
ip link add "$VA" type veth peer name "$VB" || die "cannot create the veth pair"
ip link set "$VB" netns "$NS" || die "cannot move $VB into $NS"
# No addresses and IPv6 off: the only frames on the link are tcpreplay's. MTU 9000: the
# capture's frames (up to 1500 bytes of payload plus headers and VLAN tags) all pass.
[ ! -e "/proc/sys/net/ipv6/conf/$VA" ] || echo 1 >"/proc/sys/net/ipv6/conf/$VA/disable_ipv6"
ip netns exec "$NS" sh -c "[ ! -e /proc/sys/net/ipv6/conf/$VB ] ||
    echo 1 >/proc/sys/net/ipv6/conf/$VB/disable_ipv6"
ip link set "$VA" mtu 9000 up || die "cannot bring $VA up"
ip netns exec "$NS" ip link set "$VB" mtu 9000 up || die "cannot bring $VB up"

# veth_drops: frames the namespace end dropped before any capture saw them (its backlog).
veth_drops() {
    ip netns exec "$NS" cat "/sys/class/net/$VB/statistics/rx_dropped"
}

# replay DPI RATE COUNT: one ocellus (DPI "off" or "on"), one replay of the first COUNT
# packets at RATE pps (0: --topspeed). Sets SENT, READ, KDROP, VDROP, PPS, MBPS and OK
# (every sent packet read, no kernel or veth drop).
replay() {
    err=$tmp/ocellus.err
    rm -f "$tmp/out.ipfix"
    dpiopt=--no-dpi
    [ "$1" = on ] && dpiopt=
    v0=$(veth_drops)
    ip netns exec "$NS" env OCELLUS_TEMPLATE_DIR="$srcdir/templates" "$OCELLUS" -i "$VB" \
        $dpiopt ${LIVE_OCELLUS_ARGS:-} --idle-timeout 30 --stats-interval 0 -o "file:$tmp/out.ipfix" 2>"$err" &
    OC=$!
    i=0
    until grep -q "^ocellus: capturing on $VB\$" "$err"; do
        i=$((i + 1))
        [ $i -le 100 ] && kill -0 "$OC" 2>/dev/null || die "ocellus did not start: $(cat "$err")"
        sleep 0.1
    done
    if [ "$2" = 0 ]; then
        rate=--topspeed
    else
        rate=--pps=$2
    fi
    tcpreplay -i "$VA" $rate $preload --limit="$3" "$pcap" >"$tmp/replay.out" 2>&1 ||
        die "tcpreplay failed: $(cat "$tmp/replay.out")"
    sleep 1 # ocellus drains the ring before it is told to stop
    kill -TERM "$OC"
    wait "$OC" || die "ocellus failed: $(cat "$err")"
    OC=
    SENT=$(sed -n 's/^[[:space:]]*Successful packets:[[:space:]]*\([0-9]*\).*/\1/p' "$tmp/replay.out")
    PPS=$(sed -n 's/^[[:space:]]*Rated:.* \([0-9.]*\) pps.*/\1/p' "$tmp/replay.out")
    MBPS=$(sed -n 's/^[[:space:]]*Rated:.*, \([0-9.]*\) Mbps.*/\1/p' "$tmp/replay.out")
    READ=$(sed -n 's/^ocellus: packets read: \([0-9]*\)$/\1/p' "$err")
    KDROP=$(sed -n 's/^ocellus: kernel: [0-9]* received, \([0-9]*\) dropped$/\1/p' "$err")
    VDROP=$(($(veth_drops) - v0))
    [ -n "$SENT" ] && [ -n "$PPS" ] && [ -n "$READ" ] && [ -n "$KDROP" ] ||
        die "cannot parse the counters: $(cat "$tmp/replay.out" "$err")"
    OK=0
    [ "$READ" -ge "$SENT" ] && [ "$KDROP" -eq 0 ] && [ "$VDROP" -eq 0 ] && OK=1
    printf '  %-4s %-10s %10.0f %9.1f %9s %9s %8s %6s %s\n' "$1" "$4" "$PPS" "$MBPS" \
        "$SENT" "$READ" "$KDROP" "$VDROP" "$([ $OK = 1 ] && echo ok || echo LOSS)"
}

echo "live capture: tcpreplay over a veth pair into ocellus -i (IPFIX file export)"
echo "capture: $src"
echo "fixed-rate replays last at most $SECONDS_MAX s; $STEPS bisection steps below --topspeed"
[ -z "${LIVE_OCELLUS_ARGS:-}" ] || echo "ocellus options: $LIVE_OCELLUS_ARGS"
printf '  %-4s %-10s %10s %9s %9s %9s %8s %6s\n' dpi offered pps Mbit/s sent read "k.drops" \
    "v.drops"
for dpi in off on; do
    replay "$dpi" 0 "$PACKETS" topspeed
    TOP="$dpi topspeed: $(printf '%.0f' "$PPS") pps, $MBPS Mbit/s, $SENT sent, $READ read, $KDROP kernel drops, $VDROP veth drops"
    top=$(printf '%.0f' "$PPS")
    if [ "$OK" = 1 ]; then
        BEST="$dpi: no loss at --topspeed ($top pps): the sender is the limit, not ocellus"
    else
        lo=0
        hi=$top
        BEST="$dpi: no zero-loss rate found above $((top / (1 << STEPS))) pps"
        s=0
        while [ $s -lt "$STEPS" ]; do
            mid=$(((lo + hi) / 2))
            n=$((mid * SECONDS_MAX))
            [ "$n" -le "$PACKETS" ] || n=$PACKETS
            replay "$dpi" "$mid" "$n" "$mid"
            if [ "$OK" = 1 ]; then
                lo=$mid
                BEST="$dpi: highest zero-loss rate $mid pps offered ($(printf '%.0f' "$PPS") pps, $MBPS Mbit/s achieved; $SENT sent, $READ read, 0 drops)"
            else
                hi=$mid
            fi
            s=$((s + 1))
        done
    fi
    RESULT="${RESULT:-}
  $TOP
  $BEST"
done
echo "summary:$RESULT"
exit 0
