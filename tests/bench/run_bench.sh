#!/bin/sh
# make bench: generates a large synthetic capture with tests/gen/ocgen and runs the engine
# benchmark on it and on the largest real captures of ../shared/pcaps when present.
set -eu
builddir=${1:?usage: run_bench.sh BUILDDIR}
tmp=$(mktemp -d "$builddir/bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$builddir/tests/gen/ocgen" --seed 7 --flows 20000 --out "$tmp/gen.pcap" --truth "$tmp/gen.jsonl"
"$builddir/tests/bench/oc_bench" "$tmp/gen.pcap" 10
pcaps=${PCAPS:-$(dirname "$0")/../../../shared/pcaps}
for f in ndpi42-reddit.pcap ndpi42-zoom2.pcap ndpi42-netflix.pcap; do
    [ -f "$pcaps/$f" ] && "$builddir/tests/bench/oc_bench" "$pcaps/$f" 50
done
# SYN flood (tests/gen/ochostile): 2,000,000 SYNs from distinct sources into --max-flows
# 100000, so 1,900,000 flows are evicted; the whole command, with IPFIX file export.
"$builddir/tests/gen/ochostile" syn-flood --packets 2000000 --out "$tmp/syn.pcap" \
    --truth "$tmp/syn.truth"
echo "syn-flood: 2000000 SYNs, --max-flows 100000, IPFIX file output:"
OCELLUS_TEMPLATE_DIR=$(cd "$(dirname "$0")/../../templates" && pwd) \
    "$builddir/src/ocellus" -r "$tmp/syn.pcap" --max-flows 100000 -o "file:$tmp/syn.ipfix" 2>&1 |
    sed -n 's/^ocellus: \(flows: .*\|elapsed: .*\|output .*\)/    \1/p'
rm -f "$tmp/syn.pcap" "$tmp/syn.ipfix"
# The Python module (when built: --enable-python) beside the command, on the same captures.
so=$builddir/python/ocellus/.libs/_ocellus.so
if [ -f "$so" ]; then
    srcdir=$(cd "$(dirname "$0")/../.." && pwd)
    mkdir -p "$tmp/py/ocellus"
    ln -s "$srcdir/python/ocellus/__init__.py" "$so" "$tmp/py/ocellus/"
    set -- "$tmp/gen.pcap"
    for f in ndpi42-reddit.pcap ndpi42-netflix.pcap; do
        [ -f "$pcaps/$f" ] && set -- "$@" "$pcaps/$f"
    done
    PYTHONPATH="$tmp/py" PYTHONDONTWRITEBYTECODE=1 "${OC_PYTHON:-/usr/bin/python3}" \
        "$srcdir/tests/bench/bench_python.py" "$builddir/src/ocellus" "$@"
fi
# ocellus beside softflowd on the generated captures (a) and (b) of the speed issue, whole
# programs with IPFIX file export, medians of alternating runs (BENCH_PEERS=0 skips it).
if [ "${BENCH_PEERS:-1}" != 0 ]; then
    "${OC_PYTHON:-/usr/bin/python3}" "$(dirname "$0")/bench_peers.py" "$builddir" \
        --runs "${BENCH_RUNS:-3}"
fi
# Live capture over a veth pair (tests/bench/live_rate.sh, also make bench-live): only as
# root with ip and tcpreplay; otherwise say why it was skipped.
live=
[ "$(id -u)" = 0 ] || live="not root"
for tool in ip tcpreplay; do
    command -v "$tool" >/dev/null 2>&1 || live="${live:+$live, }$tool not installed"
done
if [ -z "$live" ]; then
    "$(dirname "$0")/live_rate.sh" "$builddir" || echo "live capture figure: live_rate.sh failed"
else
    echo "live capture figure skipped: $live (make bench-live as root, with iproute2 and tcpreplay)"
fi
exit 0
