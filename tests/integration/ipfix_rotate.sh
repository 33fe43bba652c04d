#!/bin/sh
# Rotated file: outputs -> ipfixDump (Debian libfixbuf-tools), file by file. By size: many
# files, none larger than rotate_size, each decodable alone with its templates (IPv4, IPv6,
# statistics), named so that they sort in the order they were written, and together every
# record fed in exactly once. By time (rotate_interval 1 s, a paced feed of
# 3 s): one file per second touched, the same checks. No part file is left behind.
set -u
: "${top_srcdir:?run through make check}"
. "$top_srcdir/tests/integration/lib.sh"
oc_init ipfix_rotate
NAME=ipfix_rotate
TMP=$OC_TMP
[ -n "${EXP_FEED:-}" ] && [ -x "$EXP_FEED" ] || fail "EXP_FEED is not set (run through make check)"
[ -n "${OCELLUS_TEMPLATE_DIR:-}" ] || fail "OCELLUS_TEMPLATE_DIR is not set"
command -v ipfixDump >/dev/null || fail "ipfixDump not installed (Debian package libfixbuf-tools)"
trap 'exit 1' INT TERM

# check DIR COUNT MAX_SIZE MIN_FILES MAX_FILES: dumps every file of DIR with ipfixDump and
# compares with the COUNT flows exp_feed -n makes up (source port 1024 + i, i = 1..COUNT).
check() {
    dir=$1
    [ -z "$(find "$dir" -name '.*.part')" ] || fail "$dir: a part file was left"
    for f in "$dir"/*; do
        ipfixDump -y --in "$f" >"$f.dump" 2>"$f.err" || { cat "$f.err"; fail "ipfixDump cannot decode $f"; }
        [ ! -s "$f.err" ] || { cat "$f.err"; fail "ipfixDump complained about $f"; }
    done
    "$PYTHON3" - "$@" <<'PY' || fail "$dir: rotated files differ from what was fed"
import collections, os, re, sys
d, count, max_size, lo, hi = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
files = sorted(f for f in os.listdir(d) if not f.endswith((".dump", ".err")))
# A second file started within the same second gets _001, _002...: names sort in the
# order the files were started, so the records (fed in port order) must too.
name_re = re.compile(r"^flows\.\d{8}T\d{6}Z(_\d{3})?\.ipfix$")
ports = collections.Counter()
bad = 0
last_port = 0
for f in files:
    if not name_re.match(f):
        print("unexpected file name", f); bad += 1; continue
    size = os.path.getsize(os.path.join(d, f))
    if max_size and size > max_size:
        print(f, "has", size, "octets, rotate_size is", max_size); bad += 1
    dump = open(os.path.join(d, f + ".dump")).read()
    m = re.search(r"File Stats: (\d+) Messages, (\d+) Data Records, (\d+) Template Records", dump)
    # templates: IPv4, IPv6 and the statistics options template
    if not m or m.group(3) != "3" or int(m.group(2)) == 0:
        print(f, "stats:", m.group(0) if m else "none"); bad += 1; continue
    if dump.find("--- template record ---") > dump.find("--- data record"):
        print(f, "does not start with its templates"); bad += 1
    recs = re.findall(r"sourceTransportPort\s*:\s*(\d+)", dump)
    if len(recs) != int(m.group(2)):
        print(f, "shows", len(recs), "ports for", m.group(2), "records"); bad += 1
    ports.update(int(p) for p in recs)
    if recs and min(int(p) for p in recs) < last_port:
        print(f, "sorts after a file with later records"); bad += 1
    last_port = max([last_port] + [int(p) for p in recs])
want = collections.Counter(1024 + i for i in range(1, count + 1))
if ports != want:
    print("records differ: missing", sorted((want - ports).elements())[:10],
          "extra", sorted((ports - want).elements())[:10]); bad += 1
if not lo <= len(files) <= hi:
    print(len(files), "files, want", lo, "..", hi); bad += 1
sys.exit(1 if bad else 0)
PY
}

# By size: 500 records of 84 octets in files of at most 4000 octets: at least 11 files.
mkdir "$TMP/size" || fail mkdir
"$EXP_FEED" -o "file:$TMP/size/flows.ipfix" -n 500 -S 4000 2>"$TMP/feed.log" ||
    { cat "$TMP/feed.log"; fail "exp_feed (size) failed"; }
check "$TMP/size" 500 4000 11 500

# By time: 30 records at 10/s cross two or three whole-second boundaries.
mkdir "$TMP/time" || fail mkdir
"$EXP_FEED" -o "file:$TMP/time/flows.ipfix" -n 30 -r 10 -I 1 2>"$TMP/feed.log" ||
    { cat "$TMP/feed.log"; fail "exp_feed (interval) failed"; }
check "$TMP/time" 30 0 3 4
echo "$NAME: PASS"
