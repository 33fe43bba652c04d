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
exit 0
