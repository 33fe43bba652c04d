#!/bin/sh
# Bad configuration, table-driven: broken INI files, template files and command lines. Each
# case gives the exact line ocellus must print on standard error (the file, the line, the
# section and key, the allowed values) and its exit status: 2 for a usage or configuration
# error (INI file, option, output URI and settings, template file, --user), 1 for a runtime
# error (a filter the capture rejects; README, ocellus(8) EXIT STATUS). The expected lines are
# written from the documented ranges and formats (README, man/ocellus.ini.5,
# templates/README), not captured from a run. Nothing may reach standard output, and a
# configuration error must stop ocellus before it creates any output file.
#
# The unreadable-file case runs ocellus as user nobody when the test runs as root (root reads
# any file); otherwise as the current user.
set -u
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
oc_init bad_config
: "${OCELLUS_TEMPLATE_DIR:=$top_srcdir/templates}"
export OCELLUS OC_TMP OCELLUS_TEMPLATE_DIR

"$PYTHON3" - <<'EOF' || fail "see the cases above"
import os, struct, subprocess, sys

OC = os.environ['OCELLUS']
TMP = os.environ['OC_TMP']
TDIR = os.environ['OCELLUS_TEMPLATE_DIR']
INI = os.path.join(TMP, 'c.ini')
OUTDIR = os.path.join(TMP, 'out')
os.mkdir(OUTDIR)
# A capture with a header and no packet (libpcap: classic pcap, Ethernet): inputs open before
# outputs, so template and output errors need one that opens.
PCAP = os.path.join(TMP, 'empty.pcap')
with open(PCAP, 'wb') as f:
    f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))

def tmpl(name, text):
    path = os.path.join(TMP, name)
    with open(path, 'w') as f:
        f.write(text)
    return path

BAD_ELEM = tmpl('bad.tmpl', '# comment\nsourceIPv4Address\nbogusElement\n')
DUP_ELEM = tmpl('dup.tmpl', 'sourceIPv4Address\ndestinationIPv4Address\nsourceIPv4Address\n')
TWO_ELEM = tmpl('two.tmpl', 'sourceIPv4Address destinationIPv4Address\n')
BAD_PEN = tmpl('badpen.tmpl', 'sourceIPv4Address\n# pen/id with a 33-bit enterprise number\n'
               '4294967296/1\n')
NO_VALUE = tmpl('novalue.tmpl', 'sourceIPv4Address\nsamplingInterval\n')
EMPTY_TMPL = tmpl('empty.tmpl', '# every element commented out\n# sourceIPv4Address\n')
NO_TMPL = os.path.join(TMP, 'none.tmpl')
OUT_FILE = os.path.join(OUTDIR, 'flows.ipfix')

FLOW_KEYS = ('idle_timeout, active_timeout, tcp_linger, max_flows, max_record_octets, '
             'tunnels, max_frag_datagrams, frag_timeout')
OUTPUT_KEYS = ('uri, template, uniflow, observation_domain, template_refresh, datagram_size, '
               'queue, rotate_interval, rotate_size')
URI_ALLOWED = 'allowed json:PATH, file:PATH, udp://HOST:PORT, tcp://HOST:PORT (port 1..65535)'
SECTIONS = 'allowed [capture], [flow], [dpi], [export], [daemon], [output NAME]'
I64 = str(2**63 - 1)

def ini(text):
    """Case with an INI file (bytes or str); the expected line may use {f} for its path."""
    return text.encode() if isinstance(text, str) else text

# (name, INI contents or None, extra arguments, exit status, expected stderr line).
# In the expected line, {f} is the INI file's path. Without '-r' in the arguments the case
# reads the empty capture.
CASES = [
    # --- structure ---------------------------------------------------------------------
    ('unknown section', '[flow]\nidle_timeout = 5\n[flows]\n', [], 2,
     '{f}:3: unknown section [flows]: ' + SECTIONS),
    ('output without a name', '[output]\nuri = json:-\n', [], 2,
     '{f}:1: unknown section [output]: ' + SECTIONS),
    ('unterminated section header', '[flow\nidle_timeout = 5\n', [], 2,
     '{f}:1: section header "[flow" lacks its closing ]'),
    ('spaces inside the brackets', '[ flow ]\n', [], 2,
     '{f}:1: section header "[ flow ]" has spaces inside the brackets'),
    ('section given twice', '[flow]\nidle_timeout = 5\n\n[flow]\n', [], 2,
     '{f}:4: section [flow] repeats the one on line 1'),
    ('line without =', '[capture]\npromiscuous\n', [], 2,
     '{f}:2: expected "key = value", a [section], or a # comment: "promiscuous"'),
    ('semicolon comment', '[flow]\n; old style comment\n', [], 2,
     '{f}:2: expected "key = value", a [section], or a # comment: "; old style comment"'),
    ('key outside any section', '# top\nidle_timeout = 5\n[flow]\n', [], 2,
     '{f}:2: key outside any section (start with [capture], [flow], ...)'),
    ('no key before =', '[flow]\n = 5\n', [], 2, "{f}:2: no key before '=' in [flow]"),
    ('unknown key', '[flow]\nidle = 5\n', [], 2,
     '{f}:2: unknown key "idle" in [flow]: allowed ' + FLOW_KEYS),
    ('key in the wrong section', '[flow]\nmax_inspect = 5\n', [], 2,
     '{f}:2: unknown key "max_inspect" in [flow]: allowed ' + FLOW_KEYS +
     ' (max_inspect is a key of [dpi])'),
    ('key in capitals', '[output x]\nuri = json:-\nQueue = 100\n', [], 2,
     '{f}:3: unknown key "Queue" in [output x]: allowed ' + OUTPUT_KEYS +
     ' (keys are lower case: queue)'),
    ('daemon key list', '[daemon]\nlogging = syslog\n', [], 2,
     '{f}:2: unknown key "logging" in [daemon]: allowed user, pid_file, log, stats_interval'),
    ('key given twice', '[flow]\nmax_flows = 100\n# again\nmax_flows = 200\n', [], 2,
     '{f}:4: [flow] max_flows is given twice (GKeyFile would silently keep the last)'),
    ('output without uri', '[output nf]\nuniflow = true\n', [], 2,
     '{f}:1: [output nf] has no uri = ... key'),
    ('not UTF-8', b'[capture]\nfilter = port 53\n[daemon]\npid_file = /run/\xff.pid\n', [], 2,
     '{f}:4: not valid UTF-8 (byte 0xff, byte 17 of the line)'),
    ('overlong UTF-8', b'[flow]\n\xc0\xaf = 1\n', [], 2,
     '{f}:2: not valid UTF-8 (byte 0xc0, byte 1 of the line)'),
    ('NUL byte', b'[flow]\nidle_timeout = 5\x00\n', [], 2,
     '{f}: contains a NUL byte: not a text file'),
    # --- numbers out of range: bounds from README / ocellus.ini(5) --------------------
    ('max_flows below', '[flow]\nmax_flows = 15\n', [], 2,
     '{f}:2: [flow] max_flows = "15" is invalid: allowed 16..67108864'),
    ('max_flows above', '[flow]\nmax_flows = 67108865\n', [], 2,
     '{f}:2: [flow] max_flows = "67108865" is invalid: allowed 16..67108864'),
    ('idle_timeout 0', '[flow]\nidle_timeout = 0\n', [], 2,
     '{f}:2: [flow] idle_timeout = "0" is invalid: allowed 1..86400'),
    ('active_timeout above', '[flow]\nactive_timeout = 604801\n', [], 2,
     '{f}:2: [flow] active_timeout = "604801" is invalid: allowed 1..604800'),
    ('max_record_octets below', '[flow]\nmax_record_octets = 1500\n', [], 2,
     '{f}:2: [flow] max_record_octets = "1500" is invalid: allowed 0 or 65535..' + I64),
    ('frag_timeout 0', '[flow]\nfrag_timeout = 0\n', [], 2,
     '{f}:2: [flow] frag_timeout = "0" is invalid: allowed 1..3600'),
    ('snaplen below', '[capture]\nsnaplen = 63\n', [], 2,
     '{f}:2: [capture] snaplen = "63" is invalid: allowed 64..262144'),
    ('buffer_size 0', '[capture]\nbuffer_size = 0\n', [], 2,
     '{f}:2: [capture] buffer_size = "0" is invalid: allowed 1..2047'),
    ('dpi max_inspect above', '[dpi]\nmax_inspect = 16777217\n', [], 2,
     '{f}:2: [dpi] max_inspect = "16777217" is invalid: allowed 0..16777216'),
    ('dpi max_fields above', '[dpi]\nmax_fields = 67108865\n', [], 2,
     '{f}:2: [dpi] max_fields = "67108865" is invalid: allowed 0..67108864'),
    ('export template_refresh 0', '[export]\ntemplate_refresh = 0\n', [], 2,
     '{f}:2: [export] template_refresh = "0" is invalid: allowed 1..86400'),
    ('observation_domain above', '[export]\nobservation_domain = 4294967296\n', [], 2,
     '{f}:2: [export] observation_domain = "4294967296" is invalid: allowed 0..4294967295'),
    ('stats_interval above', '[daemon]\nstats_interval = 86401\n', [], 2,
     '{f}:2: [daemon] stats_interval = "86401" is invalid: allowed 0 or 1..86400'),
    ('queue below', '[output q]\nuri = json:-\nqueue = 15\n', [], 2,
     '{f}:3: [output q] queue = "15" is invalid: allowed 16..16777216'),
    ('datagram_size below', '[output u]\nuri = udp://127.0.0.1:4739\ndatagram_size = 511\n', [], 2,
     '{f}:3: [output u] datagram_size = "511" is invalid: allowed 512..65507'),
    ('datagram_size above', '[output u]\nuri = udp://127.0.0.1:4739\ndatagram_size = 65508\n',
     [], 2, '{f}:3: [output u] datagram_size = "65508" is invalid: allowed 512..65507'),
    ('output template_refresh above',
     '[output u]\nuri = udp://127.0.0.1:4739\ntemplate_refresh = 86401\n', [], 2,
     '{f}:3: [output u] template_refresh = "86401" is invalid: allowed 1..86400'),
    ('rotate_interval above', '[output f]\nuri = file:x.ipfix\nrotate_interval = 604801\n', [], 2,
     '{f}:3: [output f] rotate_interval = "604801" is invalid: allowed 0..604800'),
    ('rotate_size negative', '[output f]\nuri = file:x.ipfix\nrotate_size = -1\n', [], 2,
     '{f}:3: [output f] rotate_size = "-1" is invalid: allowed 0..' + I64),
    # --- not numbers, not booleans, not choices -------------------------------------------
    ('unit after a number', '[flow]\nidle_timeout = 30s\n', [], 2,
     '{f}:2: [flow] idle_timeout = "30s" is invalid: allowed 1..86400'),
    ('hexadecimal', '[flow]\nmax_flows = 0x100\n', [], 2,
     '{f}:2: [flow] max_flows = "0x100" is invalid: allowed 16..67108864'),
    ('fraction', '[flow]\ntcp_linger = 1.5\n', [], 2,
     '{f}:2: [flow] tcp_linger = "1.5" is invalid: allowed 0..3600'),
    ('comment after a value', '[flow]\nidle_timeout = 30 # seconds\n', [], 2,
     '{f}:2: [flow] idle_timeout = "30 # seconds" is invalid: allowed 1..86400 '
     '(# starts a comment only at the start of a line)'),
    ('bad boolean', '[capture]\npromiscuous = maybe\n', [], 2,
     '{f}:2: [capture] promiscuous = "maybe" is invalid: allowed true or false'),
    ('dpi enabled 2', '[dpi]\nenabled = 2\n', [], 2,
     '{f}:2: [dpi] enabled = "2" is invalid: allowed true or false'),
    ('uniflow empty', '[output j]\nuri = json:-\nuniflow =\n', [], 2,
     '{f}:3: [output j] uniflow = "" is invalid: allowed true or false'),
    ('tunnels choice', '[flow]\ntunnels = middle\n', [], 2,
     '{f}:2: [flow] tunnels = "middle" is invalid: allowed inner or outer'),
    ('log choice', '[daemon]\nlog = journal\n', [], 2,
     '{f}:2: [daemon] log = "journal" is invalid: allowed stderr or syslog'),
    ('empty string', '[capture]\nfilter =\n', [], 2,
     '{f}:2: [capture] filter is empty: allowed a non-empty string'),
    # --- output URIs -----------------------------------------------------------------------
    ('uri scheme', '[output h]\nuri = http://127.0.0.1:80\n', [], 2,
     '{f}:2: [output h] uri = "http://127.0.0.1:80" is invalid: ' + URI_ALLOWED),
    ('uri empty', '[output h]\nuri =\n', [], 2,
     '{f}:2: [output h] uri is empty: allowed a non-empty string'),
    ('uri without port', '[output h]\nuri = udp://collector\n', [], 2,
     '{f}:2: [output h] uri = "udp://collector" is invalid: ' + URI_ALLOWED),
    ('uri port 0', '[output h]\nuri = udp://collector:0\n', [], 2,
     '{f}:2: [output h] uri = "udp://collector:0" is invalid: ' + URI_ALLOWED),
    ('uri port too big', '[output h]\nuri = tcp://[::1]:65536\n', [], 2,
     '{f}:2: [output h] uri = "tcp://[::1]:65536" is invalid: ' + URI_ALLOWED),
    ('uri without host', '[output h]\nuri = udp://:4739\n', [], 2,
     '{f}:2: [output h] uri = "udp://:4739" is invalid: ' + URI_ALLOWED),
    ('uri IPv6 without brackets', '[output h]\nuri = udp://::1:4739\n', [], 2,
     '{f}:2: [output h] uri = "udp://::1:4739" is invalid: ' + URI_ALLOWED),
    ('uri without path', '[output h]\nuri = json:\n', [], 2,
     '{f}:2: [output h] uri = "json:" is invalid: ' + URI_ALLOWED),
    ('rotation on a JSON output', '[output j]\nuri = json:%s/j.json\nrotate_size = 100000\n'
     % OUTDIR, [], 2, 'output j: rotate_interval and rotate_size apply to file: outputs only'),
    # --- template files (templates/README): file, line, element ---------------------------
    ('template missing', '[output f]\nuri = file:%s\ntemplate = %s\n' % (OUT_FILE, NO_TMPL), [],
     2, 'output f: template %s: Failed to open file \u201c%s\u201d: No such file or directory'
     % (NO_TMPL, NO_TMPL)),
    ('template name missing', '[output f]\nuri = file:%s\ntemplate = nosuch\n' % OUT_FILE, [], 2,
     'output f: template {t}/nosuch.tmpl: Failed to open file \u201c{t}/nosuch.tmpl\u201d: '
     'No such file or directory'),
    ('template unknown element', '[output f]\nuri = file:%s\ntemplate = %s\n'
     % (OUT_FILE, BAD_ELEM), [], 2,
     'output f: %s:3: unknown information element bogusElement' % BAD_ELEM),
    ('template element twice', '[output f]\nuri = file:%s\ntemplate = %s\n'
     % (OUT_FILE, DUP_ELEM), [], 2,
     'output f: %s:3: information element sourceIPv4Address is already listed on line 1'
     % DUP_ELEM),
    ('template two elements on a line', '[output f]\nuri = file:%s\ntemplate = %s\n'
     % (OUT_FILE, TWO_ELEM), [], 2,
     "output f: %s:1: one information element per line expected, got "
     "'sourceIPv4Address destinationIPv4Address'" % TWO_ELEM),
    # Also through --check-config (below), which loads every template the outputs name: a
    # broken one in the second output, of another kind (udp://), is found as at start.
    ('template bad pen/id', '[output f]\nuri = file:%s\ntemplate = %s\n'
     % (OUT_FILE, BAD_PEN), [], 2,
     "output f: %s:3: '4294967296/1' is not a valid pen/id (enterprise number 0..4294967295, "
     "element id 1..32767)" % BAD_PEN),
    ('template element without a value', '[output f]\nuri = file:%s\n[output u]\n'
     'uri = udp://127.0.0.1:4739\ntemplate = %s\n' % (OUT_FILE, NO_VALUE), [], 2,
     'output u: %s:2: information element samplingInterval (0/34) has no value in ocellus '
     'records' % NO_VALUE),
    ('template without elements', '[output t]\nuri = tcp://127.0.0.1:4739\ntemplate = %s\n'
     % EMPTY_TMPL, [], 2, 'output t: %s: no information element for IPv4 flows' % EMPTY_TMPL),
    # --- privileges --------------------------------------------------------------------
    ('user that does not exist', '[daemon]\nuser = oc-no-such-user\n', [], 2,
     "[daemon] user (--user): no such user 'oc-no-such-user'"),
    ('--user that does not exist', None, ['--user', 'oc-no-such-user'], 2,
     "[daemon] user (--user): no such user 'oc-no-such-user'"),
    # --- the configuration file itself ------------------------------------------------
    ('config missing', None, ['-c', os.path.join(TMP, 'missing.ini')], 2,
     '%s/missing.ini: cannot read the configuration file: No such file or directory' % TMP),
    ('config is a directory', None, ['-c', TMP], 2,
     '%s: cannot read the configuration file: Is a directory' % TMP),
    ('config far too large', '#' * (1 << 20) + '\n', [], 2,
     '{f}: larger than 1048576 bytes: not a configuration file'),
    # --- command line ----------------------------------------------------------------------
    ('unknown option', None, ['--idle-timout', '5'], 2,
     'Unknown option --idle-timout (try --help)'),
    ('option without its value', None, ['-r', PCAP, '--max-flows'], 2,
     'Missing argument for --max-flows (try --help)'),
    ('option out of range', None, ['--max-flows', '15'], 2,
     '--max-flows = "15" is invalid: allowed 16..67108864'),
    ('option over a good file', '[flow]\nmax_flows = 100\n', ['--max-flows', '1e6'], 2,
     '--max-flows = "1e6" is invalid: allowed 16..67108864'),
    ('option bad choice', None, ['--tunnels', 'both'], 2,
     '--tunnels = "both" is invalid: allowed inner or outer'),
    ('-o bad scheme', None, ['-o', 'ipfix://127.0.0.1:4739'], 2,
     '-o = "ipfix://127.0.0.1:4739" is invalid: ' + URI_ALLOWED),
    ('-r and -i', None, ['-i', 'lo'], 2, '-r and -i cannot be used together'),
    ('interface in the file and -r', '[capture]\ninterface = lo\n', [], 2,
     '-r and -i cannot be used together'),
    ('no input', None, ['--no-read'], 2, 'no input: give -r FILE or -i IFACE (try --help)'),
    ('stray argument', None, ['extra'], 2, "unexpected argument 'extra' (try --help)"),
    ('filter that does not compile', '[capture]\nfilter = tcp port (((\n', [], 1,
     "%s: bad filter 'tcp port (((': " % PCAP),
]

def run(args, **kw):
    return subprocess.run([OC] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)

failed = 0
def check(name, p, rc, want, prefix=False):
    global failed
    err = p.stderr.decode('utf-8', 'replace')
    line = 'ocellus: ' + want
    got_ok = err.startswith(line) and err.count('\n') == 1 if prefix else err == line + '\n'
    problems = []
    if p.returncode != rc:
        problems.append('exit %d, expected %d' % (p.returncode, rc))
    if not got_ok:
        problems.append('stderr %r, expected %r%s' % (err, line, ' (prefix)' if prefix else ''))
    if p.stdout:
        problems.append('stdout not empty: %r' % p.stdout[:200])
    if os.listdir(OUTDIR):
        problems.append('created %s' % os.listdir(OUTDIR))
        for f in os.listdir(OUTDIR):
            os.unlink(os.path.join(OUTDIR, f))
    if problems:
        failed += 1
        print('bad_config: FAIL: %s: %s' % (name, '; '.join(problems)), file=sys.stderr)

for name, text, extra, rc, want in CASES:
    args = []
    if text is not None:
        with open(INI, 'wb') as f:
            f.write(ini(text))
        args += ['-c', INI]
    args += extra
    if '-r' not in args and '--no-read' not in args:
        args += ['-r', PCAP]
    args = [a for a in args if a != '--no-read']
    want = want.replace('{f}', INI).replace('{t}', TDIR)
    check(name, run(args), rc, want, prefix=name == 'filter that does not compile')
    # --check-config reports the same error (2) for what it checks: the file, the options,
    # the outputs' settings and their template files.
    if rc == 2 and text is not None and '-i' not in extra \
            and 'cannot be used together' not in want:
        check(name + ' (--check-config)', run(['--check-config'] + args), 2, want)

# A file that cannot be read (permission): root reads anything, so run as nobody then.
secret = os.path.join(TMP, 'secret.ini')
with open(secret, 'w') as f:
    f.write('[flow]\n')
os.chmod(secret, 0)
kw = {}
if os.geteuid() == 0:
    os.chmod(TMP, 0o755)
    kw = dict(user=65534, group=65534, extra_groups=[])
check('config unreadable', run(['--check-config', '-c', secret], **kw), 2,
      '%s: cannot read the configuration file: Permission denied' % secret)

# What is accepted around those errors: a UTF-8 byte-order mark, CRLF line ends, bounds.
with open(INI, 'wb') as f:
    f.write(b'\xef\xbb\xbf# Windows editor\r\n[flow]\r\nmax_flows = 16\r\nidle_timeout = 86400\r\n'
            b'[dpi]\r\nmax_inspect = 0\r\n[output f]\r\nuri = file:x.ipfix\r\n'
            b'rotate_size = ' + I64.encode() + b'\r\n')
p = run(['--check-config', '-c', INI])
if p.returncode != 0 or p.stdout != b'ocellus: configuration OK\n' or p.stderr:
    failed += 1
    print('bad_config: FAIL: good file refused: %r %r' % (p.stdout, p.stderr), file=sys.stderr)

print('bad_config: %d cases (%d failed)' % (len(CASES) + 2, failed))
sys.exit(1 if failed else 0)
EOF
