#!/bin/sh
# Every capture of the shared corpus through `ocellus -r FILE -o json:OUT`: the packet count
# must equal the MANIFEST's (counted by capinfos, not by us), every packet must be either
# attributed or skipped, the JSON lines must match the records in the summary, and the
# packets in the records must add up to the packets attributed. A missing corpus is a
# failure, not a skip.
set -u
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
oc_init shared_pcaps
need_pcaps
[ -r "$PCAPS/MANIFEST.tsv" ] || fail "$PCAPS/MANIFEST.tsv is missing"

rc=0
"$PYTHON3" - "$OCELLUS" "$PCAPS" "$OC_TMP" <<'EOF' || rc=$?
import json, os, re, subprocess, sys

ocellus, pcaps, tmp = sys.argv[1:4]
rows = []
with open(os.path.join(pcaps, 'MANIFEST.tsv')) as f:
    header = f.readline().rstrip('\n').split('\t')
    assert header[0] == 'file' and header[4] == 'packets', header
    for line in f:
        cols = line.rstrip('\n').split('\t')
        if len(cols) > 4 and cols[0]:
            rows.append((cols[0], int(cols[4])))
if not rows:
    print('shared_pcaps: FAIL: no capture listed in MANIFEST.tsv', file=sys.stderr)
    sys.exit(1)

def summary(err):
    values = {}
    for label in ('packets read', 'packets attributed'):
        m = re.search(r'^ocellus: %s: (\d+)$' % label, err, re.M)
        values[label] = int(m.group(1)) if m else None
    m = re.search(r'^ocellus: packets skipped: (\d+) \((.*)\)$', err, re.M)
    values['skipped'] = int(m.group(1)) if m else None
    if m and m.group(2) != 'none':
        causes = [c.rsplit(' ', 1) for c in m.group(2).split(', ')]
        values['skipped causes'] = sum(int(n) for _, n in causes)
    else:
        values['skipped causes'] = 0
    m = re.search(r'^ocellus: flows: (\d+) created, (\d+) records \(idle (\d+), active (\d+), '
                  r'tcp (\d+), forced (\d+), resources (\d+)\)$', err, re.M)
    if m:
        nums = [int(x) for x in m.groups()]
        values['records'] = nums[1]
        values['records by reason'] = sum(nums[2:])
    else:
        values['records'] = None
    return values

passed = failed = 0
for name, manifest_packets in rows:
    path = os.path.join(pcaps, name)
    out = os.path.join(tmp, 'out.json')
    problems = []
    proc = subprocess.run([ocellus, '-r', path, '-o', 'json:' + out],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, errors='replace')
    s = summary(proc.stderr)
    if proc.returncode != 0:
        problems.append('exit %d' % proc.returncode)
    if None in (s['packets read'], s['packets attributed'], s['skipped'], s['records']):
        problems.append('summary incomplete')
    else:
        if s['packets read'] != manifest_packets:
            problems.append('packets read %d != MANIFEST %d' % (s['packets read'],
                                                                manifest_packets))
        if s['packets attributed'] + s['skipped'] != s['packets read']:
            problems.append('attributed %d + skipped %d != read %d' % (
                s['packets attributed'], s['skipped'], s['packets read']))
        if s['skipped causes'] != s['skipped']:
            problems.append('skip causes add up to %d, not %d' % (s['skipped causes'],
                                                                  s['skipped']))
        if s['records by reason'] != s['records']:
            problems.append('records by reason add up to %d, not %d' % (
                s['records by reason'], s['records']))
        lines = packets = 0
        try:
            with open(out, encoding='utf-8') as f:
                for line in f:
                    obj = json.loads(line)
                    lines += 1
                    packets += obj['packetDeltaCount'] + obj['reversePacketDeltaCount']
        except (OSError, ValueError, KeyError) as e:
            problems.append('bad JSON output: %s' % e)
        else:
            if lines != s['records']:
                problems.append('%d JSON lines != %d records' % (lines, s['records']))
            if packets != s['packets attributed']:
                problems.append('packets in records %d != attributed %d' % (
                    packets, s['packets attributed']))
    if problems:
        failed += 1
        print('FAIL %s: %s' % (name, '; '.join(problems)))
        for line in proc.stderr.splitlines():
            if not re.match(r'ocellus: (packets|flows|elapsed)', line):
                print('    ' + line)
    else:
        passed += 1
        print('ok   %s: %d packets, %d attributed, %d records' % (
            name, s['packets read'], s['packets attributed'], s['records']))

print('shared_pcaps: %d passed, %d failed' % (passed, failed))
sys.exit(1 if failed else 0)
EOF
exit $rc
