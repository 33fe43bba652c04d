#!/bin/sh
# Checks every flow record ocellus reports against the ground truth of our traffic generator
# (tests/gen/ocgen): orientation, per-direction packets and octets, start and end times, TCP
# flags, ICMP types, end reasons and the application the DPI names (HTTP, TLS, SSH, SMTP and DNS
# flows carry real opening messages). ocgen derives the truth from its own model of each
# connection, never from the capture it writes, so this compares the engine with an
# independent account of the same traffic. Also checks that ocgen is deterministic.
set -u
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
oc_init generated

: "${OCGEN:=$top_builddir/tests/gen/ocgen}"
[ -x "$OCGEN" ] || fail "$OCGEN is not an executable (make tests/gen/ocgen)"
CHECK=$top_srcdir/tests/integration/check_flows.py
FAILED=0

# reasons TRUTH: "1:N 2:N ..." records per flowEndReason.
reasons() {
    sed -n 's/.*"flowEndReason":\([0-9]*\).*/\1/p' "$1" | sort | uniq -c |
        awk '{printf "%s%s:%s", (NR > 1 ? " " : ""), $2, $1}'
}

# has_reasons NAME R...: the truth of run NAME holds records ending with each reason R, so
# that a generator change cannot silently drop an end reason from the test.
has_reasons() {
    name=$1
    shift
    for r in "$@"; do
        grep -q "\"flowEndReason\":$r}" "$OC_TMP/$name.truth.jsonl" ||
            fail "$name: the ground truth has no record with flowEndReason $r"
    done
}

# has_apps NAME APP...: the truth of run NAME names each application APP, so that the DPI
# comparison cannot silently lose a protocol.
has_apps() {
    name=$1
    shift
    for a in "$@"; do
        grep -q "\"applicationName\":\"$a\"" "$OC_TMP/$name.truth.jsonl" ||
            fail "$name: the ground truth has no record with applicationName $a"
    done
}

# run NAME IDLE ACTIVE OCGEN-ARGS...: generate, meter with the same timeouts, compare.
run() {
    name=$1 idle=$2 active=$3
    shift 3
    pcap=$OC_TMP/$name.pcap truth=$OC_TMP/$name.truth.jsonl out=$OC_TMP/$name.out.jsonl
    "$OCGEN" --idle-timeout "$idle" --active-timeout "$active" --linger 2 \
        --out "$pcap" --truth "$truth" "$@" 2>"$OC_TMP/$name.gen.err" ||
        fail "$name: ocgen $*: $(cat "$OC_TMP/$name.gen.err")"
    oc_run -r "$pcap" --idle-timeout "$idle" --active-timeout "$active" -o "json:$out"
    if [ "$OC_RC" -ne 0 ]; then
        note "$name: ocellus exited with status $OC_RC: $(cat "$OC_ERR")"
        FAILED=$((FAILED + 1))
        return
    fi
    if "$PYTHON3" "$CHECK" "$truth" "$out" >"$OC_TMP/$name.check" 2>&1; then
        note "$name ($*): $(tail -n 1 "$OC_TMP/$name.check"), end reasons $(reasons "$truth")"
    else
        # The whole report (every missing, extra and differing record) goes to the log.
        sed "s/^/$name: /" "$OC_TMP/$name.check"
        FAILED=$((FAILED + 1))
    fi
}

# A default mix with the engine's default timeouts.
run mixed 30 300 --seed 1 --flows 300
# IPv6-heavy, many 802.1Q tags, a different start time.
run ipv6 30 300 --seed 2 --flows 400 --ipv6-share 85 --vlan-share 35 --start-time 1600000000
# Short timeouts: records cut by the active timeout (reason 2) in long flows.
run active 10 25 --seed 4 --flows 300
# Many flows.
run many 30 300 --seed 3 --flows 2000 --max-payload 1000
has_reasons mixed 1 3 4
has_reasons active 1 2 3 4
has_apps mixed http tls imaps ssh smtp dns

# The committed demo capture is what samples/README says ocgen makes, and ocellus reads it
# right with its default settings.
"$OCGEN" --seed 7 --flows 26 --max-duration 6 --max-payload 300 --max-message 500 \
    --out "$OC_TMP/sample.pcap" --truth "$OC_TMP/sample.truth.jsonl" 2>/dev/null ||
    fail "ocgen: the samples/README command failed"
cmp "$top_srcdir/samples/sample.pcap" "$OC_TMP/sample.pcap" >/dev/null ||
    fail "samples/sample.pcap is not what the command in samples/README makes: make it again"
oc_run -r "$top_srcdir/samples/sample.pcap" -o "json:$OC_TMP/sample.out.jsonl"
[ "$OC_RC" -eq 0 ] || fail "ocellus on samples/sample.pcap exited with status $OC_RC"
if "$PYTHON3" "$CHECK" "$OC_TMP/sample.truth.jsonl" "$OC_TMP/sample.out.jsonl" \
    >"$OC_TMP/sample.check" 2>&1; then
    note "samples/sample.pcap: $(tail -n 1 "$OC_TMP/sample.check")"
else
    sed "s/^/sample: /" "$OC_TMP/sample.check"
    FAILED=$((FAILED + 1))
fi

# Same seed and options twice: byte-identical capture and truth.
for i in 1 2; do
    "$OCGEN" --seed 7 --flows 150 --ipv6-share 50 --vlan-share 20 \
        --out "$OC_TMP/det$i.pcap" --truth "$OC_TMP/det$i.jsonl" 2>/dev/null ||
        fail "ocgen --seed 7 failed"
done
cmp "$OC_TMP/det1.pcap" "$OC_TMP/det2.pcap" >/dev/null || fail "ocgen: same seed, different pcap"
cmp "$OC_TMP/det1.jsonl" "$OC_TMP/det2.jsonl" >/dev/null || fail "ocgen: same seed, different truth"
"$OCGEN" --seed 8 --flows 150 --ipv6-share 50 --vlan-share 20 \
    --out "$OC_TMP/det3.pcap" --truth "$OC_TMP/det3.jsonl" 2>/dev/null || fail "ocgen --seed 8 failed"
if cmp "$OC_TMP/det1.pcap" "$OC_TMP/det3.pcap" >/dev/null; then
    fail "ocgen: seeds 7 and 8 gave the same pcap"
fi
note "ocgen is deterministic"

[ "$FAILED" -eq 0 ] || fail "$FAILED generated capture(s) do not match their ground truth"
exit 0
