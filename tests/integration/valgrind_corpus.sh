#!/bin/sh
# Every capture of the shared corpus through ocellus under valgrind memcheck, with a JSON and
# an IPFIX file output (so the output threads, the mapper and libfixbuf run too): zero memcheck
# errors and zero definite or indirect leaks, each run's exit status 0, and the JSON lines
# equal to the records the summary counts.
#
# Skips (77) when valgrind is not installed, and in an AddressSanitizer build, where valgrind
# cannot run (the ASan pass runs shared_pcaps.sh over the same captures instead). A missing
# corpus is a failure, as in shared_pcaps.sh.
set -u
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
oc_init valgrind_corpus
if ! command -v valgrind >/dev/null 2>&1; then
    note "SKIP: valgrind is not installed (Debian package valgrind)"
    exit 77
fi
case "${OC_SAN_CFLAGS:-}" in
*-fsanitize=address*)
    note "SKIP: an AddressSanitizer build cannot run under valgrind"
    exit 77
    ;;
esac
need_pcaps
[ -r "$PCAPS/MANIFEST.tsv" ] || fail "$PCAPS/MANIFEST.tsv is missing"

# src/ocellus is a libtool wrapper script in the build tree: libtool runs the real binary.
libtool=$top_builddir/libtool
[ -x "$libtool" ] || fail "$libtool missing"
# GLib's slice allocator would hide frees from memcheck (ignored by GLib >= 2.76).
G_SLICE=always-malloc G_DEBUG=gc-friendly
export G_SLICE G_DEBUG

n=0
failed=0
# shellcheck disable=SC2013
for name in $(awk -F '\t' 'NR > 1 && $1 != "" { print $1 }' "$PCAPS/MANIFEST.tsv"); do
    n=$((n + 1))
    log=$OC_TMP/vg.log
    rm -f "$OC_TMP/out.json" "$OC_TMP/out.ipfix"
    rc=0
    "$libtool" --mode=execute valgrind -q --error-exitcode=99 --leak-check=full \
        --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
        --log-file="$log" \
        "$OCELLUS" -r "$PCAPS/$name" -o "json:$OC_TMP/out.json" -o "file:$OC_TMP/out.ipfix" \
        >/dev/null 2>"$OC_ERR" || rc=$?
    records=$(sed -n 's/^ocellus: flows: [0-9]* created, \([0-9]*\) records.*/\1/p' "$OC_ERR")
    lines=$(wc -l <"$OC_TMP/out.json" 2>/dev/null || echo missing)
    problems=
    [ "$rc" -eq 0 ] || problems="exit $rc"
    [ -s "$log" ] && problems="$problems; memcheck reports"
    [ -n "$records" ] && [ "$lines" = "$records" ] ||
        problems="$problems; $lines JSON lines for ${records:-no} records"
    [ -s "$OC_TMP/out.ipfix" ] || problems="$problems; no IPFIX file"
    if [ -n "$problems" ]; then
        failed=$((failed + 1))
        echo "FAIL $name: ${problems#; }"
        sed 's/^/    /' "$log" "$OC_ERR" | head -n 60
    else
        echo "ok   $name: $records records"
    fi
done
[ "$n" -gt 0 ] || fail "no capture listed in MANIFEST.tsv"
note "$n captures, $failed failed"
[ "$failed" -eq 0 ]
