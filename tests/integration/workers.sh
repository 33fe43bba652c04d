#!/bin/sh
# --workers N must give exactly the flows of one worker: every capture of the shared corpus
# and a generated one (20,000 flows, IPv4/IPv6, VLANs) go through `ocellus --workers 1`, `2`
# and `3` with JSON output, with DPI off and on. Records are compared as sorted lists of
# whole JSON objects, every field but flowId (workers number flows in their own series; a
# flowId must still name one flow), and the summary's counters must be equal.
#
# With DPI one difference is allowed, and only in the label: a flow identified because
# another flow announced it (FTP data after PORT/PASV, RTP/RTCP after SIP's SDP) is found
# only when both flows land on the same worker, since each worker has its own expectation
# table (README, "Workers"). Records labelled ftp_data/rtp/rtcp or not labelled at all are
# compared without their label and port guess; everything else must match, label included.
#
# The generated capture's records are also checked against the generator's truth
# (check_flows.py), so the comparison is not only one run of ours against another.
set -u
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
oc_init workers
need_pcaps
: "${OCGEN:=$top_builddir/tests/gen/ocgen}"
[ -x "$OCGEN" ] || fail "$OCGEN is not an executable (make tests/gen/ocgen)"

"$OCGEN" --seed 21 --flows 20000 --span 80 --out "$OC_TMP/gen.pcap" \
    --truth "$OC_TMP/gen.jsonl" 2>/dev/null || fail "ocgen failed"

rc=0
"$PYTHON3" - "$OCELLUS" "$PCAPS" "$OC_TMP" "${top_srcdir:-.}" <<'EOF' || rc=$?
import glob, json, os, re, subprocess, sys

ocellus, pcaps, tmp, srcdir = sys.argv[1:5]
captures = sorted(p for p in glob.glob(os.path.join(pcaps, '*'))
                  if p.endswith(('.pcap', '.pcapng', '.cap')))
captures.append(os.path.join(tmp, 'gen.pcap'))
failures = []

COUNTERS = re.compile(r'^ocellus: (packets read|packets attributed|packets skipped|flows|dpi): .*$',
                      re.M)

ANNOUNCED = {'ftp_data', 'rtp', 'rtcp'}
KEY = ('protocolIdentifier', 'sourceIPv4Address', 'destinationIPv4Address', 'sourceIPv6Address',
       'destinationIPv6Address', 'sourceTransportPort', 'destinationTransportPort', 'vlanId')

def run(pcap, workers, dpi):
    out = os.path.join(tmp, 'w%d.jsonl' % workers)
    p = subprocess.run([ocellus, '-r', pcap, '--workers', str(workers), '-o', 'json:' + out]
                       + ([] if dpi else ['--no-dpi']), capture_output=True, text=True)
    what = '%s --workers %d%s' % (os.path.basename(pcap), workers, '' if dpi else ' --no-dpi')
    if p.returncode != 0:
        failures.append('%s: exit %d: %s' % (what, p.returncode, p.stderr.strip()[-300:]))
        return None
    flows, recs = {}, []
    with open(out) as f:
        for line in f:
            d = json.loads(line)
            fid = d.pop('flowId', None)
            key = tuple(d.get(k) for k in KEY)
            if flows.setdefault(fid, key) != key:
                failures.append('%s: flowId %s names two flows' % (what, fid))
            if dpi and d.get('applicationName', 'rtp') in ANNOUNCED:
                d.pop('applicationName', None)
                d.pop('applicationGuess', None)
            recs.append(json.dumps(d, sort_keys=True))
    lines = [m.group(0) for m in COUNTERS.finditer(p.stderr)]
    if dpi:
        lines = [l for l in lines if not l.startswith('ocellus: dpi:')]
    return sorted(recs), lines, out

compared = records = 0
for pcap in captures:
    name = os.path.basename(pcap)
    for dpi in (False, True):
        base = run(pcap, 1, dpi)
        if base is None:
            continue
        for n in (2, 3):
            other = run(pcap, n, dpi)
            if other is None:
                continue
            what = '%s --workers %d%s' % (name, n, '' if dpi else ' --no-dpi')
            if other[0] != base[0]:
                a, b = set(base[0]), set(other[0])
                failures.append('%s: %d records, %d only with 1 worker, %d only with %d'
                                % (what, len(other[0]), len(a - b), len(b - a), n))
                for r in sorted(a - b)[:2]:
                    failures.append('  only with 1: ' + r[:300])
            if other[1] != base[1]:
                failures.append('%s: summary differs:\n  %s\n  %s'
                                % (what, '\n  '.join(base[1]), '\n  '.join(other[1])))
            if name == 'gen.pcap':
                # With DPI on, the applications the generator's truth names are checked too.
                chk = subprocess.run([sys.executable, os.path.join(
                    srcdir, 'tests', 'integration', 'check_flows.py')]
                    + ([] if dpi else ['--no-dpi'])
                    + [os.path.join(tmp, 'gen.jsonl'), other[2]], capture_output=True, text=True)
                last = (chk.stdout.strip().splitlines() or ['?'])[-1]
                print('workers: %s against the generator: %s' % (what, last))
                if chk.returncode != 0:
                    failures.append('%s: %s' % (what, last))
        if dpi:
            compared += 1
            records += len(base[0])

print('workers: %d captures, %d records each compared with 2 and 3 workers, DPI off and on'
      % (compared, records))
for f in failures:
    print('workers: FAIL: ' + f, file=sys.stderr)
sys.exit(1 if failures or compared != len(captures) else 0)
EOF
[ "$rc" -eq 0 ] || fail "N workers and one worker disagree (above)"
note "ok"
