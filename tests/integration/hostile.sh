#!/bin/sh
# Hostile traffic from tests/gen/ochostile, piped into `ocellus -r -` (millions of packets
# never touch the disk), checked against the counts the generator derived from its own
# packets:
#
# - SYN flood from a million distinct sources into --max-flows 100000: every flow created
#   gives one record, 900,000 of them evicted (reason 5) and the last 100,000 ended at the
#   end of input; the IPFIX file holds exactly those records (counted by our own parser of
#   RFC 7011 below, not by ocellus); peak RSS stays under a bound derived from max_flows and
#   does not move between 250,000 and 1,000,000 SYNs.
# - Fragment flood (first fragments missing, overlaps, duplicates, tiny first fragments,
#   more datagrams than the table holds): attributed packets and every skip cause as the
#   generator expects; a flood of 1,000,000 first-less fragments keeps the same peak RSS as
#   one of 100,000 (the fragment table is sized once).
# - Decoder error paths (lengths past the end, IPv6 chains that do not end, zero-length TCP
#   options, VLAN/MPLS/tunnel stacks deeper than the cap): each packet under its cause.
#
# Peak RSS comes from /usr/bin/time (Debian package time): measured from Python's own
# children it would include the interpreter, since Linux keeps the high-water mark across
# exec. Without /usr/bin/time, and under AddressSanitizer (shadow memory, quarantine: RSS
# then says nothing about ocellus), the RSS checks are left out and the counts still checked.
#
# Reading a file, a full output queue makes capture wait for the writer, so however loaded
# the machine, every record of the flood must reach the IPFIX file: none may be lost.
set -u
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
oc_init hostile
: "${OCHOSTILE:=$top_builddir/tests/gen/ochostile}"
[ -x "$OCHOSTILE" ] || fail "$OCHOSTILE is not built"
asan=0
case "${OC_SAN_CFLAGS:-}" in *-fsanitize=address*) asan=1 ;; esac

rc=0
"$PYTHON3" - "$OCELLUS" "$OCHOSTILE" "$OC_TMP" "$asan" <<'EOF' || rc=$?
import mmap, os, re, struct, subprocess, sys

ocellus, gen, tmp, asan = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == '1'
MAX_FLOWS = 100000
# The output's ring is touched as deep as the writer ever fell behind, which depends on
# how the machine schedules the writer thread, not on the flood: with the default 65,536
# records (25 MiB) a loaded machine moved peak RSS by 14 MiB between two runs. A small queue
# keeps that out of the flatness check, which is about the flow table.
QUEUE = 1024
PER_FLOW = 400          # README: about 330 bytes per flow, 8 per hash slot at load <= 0.75
PER_QUEUED = 400        # a queued record is one flow's information
SLACK = 8 << 20
TIME = '/usr/bin/time'
measure = os.access(TIME, os.X_OK) and not asan
failures = []


def check(cond, what):
    print('%s %s' % ('ok  ' if cond else 'FAIL', what))
    if not cond:
        failures.append(what)


def run(mode, gen_args, oc_args):
    """Generator | ocellus; returns (truth dict, ocellus stderr, exit status, peak RSS bytes
    or None)."""
    truth = os.path.join(tmp, mode + '.truth')
    rss_file = os.path.join(tmp, 'rss')
    timer = [TIME, '-f', '%M', '-o', rss_file] if measure else []
    g = subprocess.Popen([gen, mode, '--out', '-', '--truth', truth] + gen_args,
                         stdout=subprocess.PIPE)
    o = subprocess.Popen(timer + [ocellus, '-r', '-'] + oc_args, stdin=g.stdout,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    g.stdout.close()
    err = o.stderr.read().decode('utf-8', 'replace')
    status = o.wait()
    if g.wait() != 0:
        sys.exit('hostile: FAIL: ochostile %s exited %d' % (mode, g.returncode))
    values = {}
    with open(truth) as f:
        for line in f:
            k, v = line.split()
            values[k] = int(v)
    rss = None
    if measure:
        with open(rss_file) as f:
            rss = int(f.read().split()[-1]) * 1024  # time's last line; KiB
    return values, err, status, rss


def summary(err):
    s = {}
    for label in ('packets read', 'packets attributed'):
        m = re.search(r'^ocellus: %s: (\d+)$' % label, err, re.M)
        s[label] = int(m.group(1)) if m else None
    m = re.search(r'^ocellus: packets skipped: (\d+) \((.*)\)$', err, re.M)
    s['causes'] = {}
    if m and m.group(2) != 'none':
        for c in m.group(2).split(', '):
            name, n = c.rsplit(' ', 1)
            s['causes'][name] = int(n)
    m = re.search(r'^ocellus: flows: (\d+) created, (\d+) records \(idle (\d+), active (\d+), '
                  r'tcp (\d+), forced (\d+), resources (\d+)\)$', err, re.M)
    if m:
        (s['created'], s['records'], s['idle'], s['active'], s['tcp'], s['forced'],
         s['resources']) = (int(x) for x in m.groups())
    m = re.search(r'^ocellus: output \S+: (\d+) records sent, (\d+) lost', err, re.M)
    if m:
        s['sent'], s['lost'] = int(m.group(1)), int(m.group(2))
    return s


def check_causes(name, truth, s):
    check(s['packets read'] == truth['packets'],
          '%s: packets read %s = generated %d' % (name, s['packets read'], truth['packets']))
    check(s['packets attributed'] == truth['attributed'],
          '%s: attributed %s = expected %d' % (name, s['packets attributed'], truth['attributed']))
    for cause, want in truth.items():
        if cause in ('packets', 'attributed', 'flows'):
            continue
        got = s['causes'].get(cause, 0)
        check(got == want, '%s: skipped as %s: %d = expected %d' % (name, cause, got, want))


def ipfix_records(path):
    """Data records in an IPFIX file and how many have flowEndReason 5 (RFC 7011 layout)."""
    with open(path, 'rb') as f:
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    templates, total, evicted, pos = {}, 0, 0, 0
    while pos + 16 <= len(data):
        version, mlen = struct.unpack_from('!HH', data, pos)
        if version != 10 or mlen < 16 or pos + mlen > len(data):
            sys.exit('hostile: FAIL: %s: bad IPFIX message at %d' % (path, pos))
        spos, mend = pos + 16, pos + mlen
        while spos + 4 <= mend:
            sid, slen = struct.unpack_from('!HH', data, spos)
            body, send = spos + 4, spos + slen
            if sid == 2:
                while body + 4 <= send:
                    tid, count = struct.unpack_from('!HH', data, body)
                    body += 4
                    off, reason_off = 0, None
                    for _ in range(count):
                        ie, ln = struct.unpack_from('!HH', data, body)
                        body += 4
                        if ie & 0x8000:
                            body += 4  # enterprise number
                        elif ie == 136:
                            reason_off = off
                        off += ln
                    templates[tid] = (off, reason_off)
            elif sid >= 256 and sid in templates:  # not the statistics options record
                size, reason_off = templates[sid]
                n = (send - body) // size  # what is left over is set padding
                total += n
                if reason_off is not None:
                    evicted += sum(1 for i in range(n)
                                   if data[body + i * size + reason_off] == 5)
            spos = send
        pos = mend
    return total, evicted


# --- SYN flood ------------------------------------------------------------------------
ipfix = os.path.join(tmp, 'syn.ipfix')
syn_ini = os.path.join(tmp, 'syn.ini')
with open(syn_ini, 'w') as f:
    f.write('[output syn]\nuri = file:%s\nqueue = %d\n' % (ipfix, QUEUE))
oc_syn = ['--max-flows', str(MAX_FLOWS), '-c', syn_ini]
rss = {}
for n in (1, 250000, 1000000):
    truth, err, status, rss[n] = run('syn-flood', ['--packets', str(n)], oc_syn)
    if n == 1:
        continue  # the base: the same process with the table nearly empty
    s = summary(err)
    name = 'syn-flood %d' % n
    check(status == 0, '%s: exit status %d' % (name, status))
    check_causes(name, truth, s)
    flows = truth['flows']
    check(s.get('created') == flows, '%s: flows created %s = distinct sources %d'
          % (name, s.get('created'), flows))
    check(s.get('records') == flows, '%s: records %s = flows %d' % (name, s.get('records'), flows))
    check(s.get('resources') == flows - MAX_FLOWS, '%s: evicted (reason 5) %s = %d - max_flows'
          % (name, s.get('resources'), flows))
    check(s.get('forced') == MAX_FLOWS and s.get('idle') == 0 and s.get('active') == 0 and
          s.get('tcp') == 0, '%s: end of input %s = max_flows, no other reason' % (name, s.get('forced')))
    sent, lost = s.get('sent'), s.get('lost')
    total, evicted = ipfix_records(ipfix)
    os.unlink(ipfix)
    check(sent == flows and lost == 0, '%s: IPFIX file output sent %s, lost %s'
          % (name, sent, lost))
    check(total == flows and evicted == flows - MAX_FLOWS,
          '%s: IPFIX file holds %d records, %d with flowEndReason 5' % (name, total, evicted))
if not measure:
    print('skip RSS checks: %s' % ('AddressSanitizer build' if asan else TIME + ' missing'))
else:
    bound = rss[1] + (MAX_FLOWS * PER_FLOW + QUEUE * PER_QUEUED) + SLACK
    print('syn-flood: peak RSS %.1f MiB (base), %.1f MiB (250k), %.1f MiB (1M); bound %.1f MiB'
          % (rss[1] / 2**20, rss[250000] / 2**20, rss[1000000] / 2**20, bound / 2**20))
    check(rss[1000000] <= bound, 'syn-flood: peak RSS within base + max_flows * %d B + queue * %d B'
          ' + 8 MiB' % (PER_FLOW, PER_QUEUED))
    check(abs(rss[1000000] - rss[250000]) <= 4 << 20,
          'syn-flood: peak RSS flat from 250k to 1M SYNs (%+.1f MiB)'
          % ((rss[1000000] - rss[250000]) / 2**20))

# --- fragment floods ------------------------------------------------------------------
truth, err, status, _ = run('frag-flood', ['--frag-capacity', '1024'],
                            ['--max-frag-datagrams', '1024', '-o', 'json:/dev/null'])
check(status == 0, 'frag-flood: exit status %d' % status)
check_causes('frag-flood', truth, summary(err))
frss = {}
for n in (100000, 1000000):
    truth, err, status, frss[n] = run('frag-orphans', ['--packets', str(n)],
                                      ['--max-frag-datagrams', '1024', '-o', 'json:/dev/null'])
    check(status == 0, 'frag-orphans %d: exit status %d' % (n, status))
    check_causes('frag-orphans %d' % n, truth, summary(err))
if measure:
    print('frag-orphans: peak RSS %.1f MiB (100k), %.1f MiB (1M)'
          % (frss[100000] / 2**20, frss[1000000] / 2**20))
    check(abs(frss[1000000] - frss[100000]) <= 2 << 20,
          'frag-orphans: peak RSS flat from 100k to 1M fragments (%+.1f MiB)'
          % ((frss[1000000] - frss[100000]) / 2**20))

# --- decoder error paths --------------------------------------------------------------
truth, err, status, _ = run('decoder-errors', ['--scale', '5'], ['-o', 'json:/dev/null'])
check(status == 0, 'decoder-errors: exit status %d' % status)
check_causes('decoder-errors', truth, summary(err))

print('hostile: %d checks failed' % len(failures))
sys.exit(1 if failures else 0)
EOF
exit $rc
