#!/bin/sh
# IPFIX over udp:// into a real nfcapd (Debian nfdump 1.7.1) started here on 127.0.0.1, read
# back with `nfdump -o json`: per flow, packets and octets both ways, start/end (ms), TCP
# flags and VLAN must equal the flows we fed in (the input below, not our own output). In
# uniflow mode every biflow must arrive as two one-way records, the inbound one with its
# endpoints swapped. Records are fed by tests/exp_feed (src/export behind exp.h).
set -u
: "${top_srcdir:?run through make check}"
. "$top_srcdir/tests/integration/lib.sh"
oc_init ipfix_nfdump
NAME=ipfix_nfdump
TMP=$OC_TMP
[ -n "${EXP_FEED:-}" ] && [ -x "$EXP_FEED" ] || fail "EXP_FEED is not set (run through make check)"
trap 'exit 1' INT TERM

# src dst sport dport proto vlan | outbound: pkts octets first_us last_us init union |
# inbound: pkts octets first_us last_us init union | end reason (flags in hex)
cat >"$TMP/flows" <<'FLOWS'
192.0.2.1 198.51.100.7 40000 443 6 42 10 1500 1700000000123456 1700000001000999 02 1b 8 9000 1700000000200999 1700000001500000 12 1a 3
192.0.2.9 203.0.113.5 51000 80 6 0 3 180 1700000005000000 1700000005900000 02 02 0 0 0 0 0 0 1
198.51.100.20 192.0.2.30 123 123 17 7 1 76 1700000010000100 1700000010000100 0 0 1 76 1700000010002900 1700000010002900 0 0 1
2001:db8::1 2001:db8::abcd 5353 53 17 100 1 80 1700000002000000 1700000002000000 0 0 1 120 1700000002004000 1700000002004000 0 0 2
2001:db8::5 2001:db8::6 33000 22 6 0 20 4000 1700000003000000 1700000009999999 02 1f 18 30000 1700000003010000 1700000009999000 12 1b 4
FLOWS

# run MODE: feeds the flows through udp:// into a fresh nfcapd, leaves nfdump's JSON in
# $TMP/MODE.json
run() {
    mode=$1; shift
    dir=$TMP/$mode
    nfcapd_start "$dir"
    "$EXP_FEED" -o "udp://127.0.0.1:$NF_PORT" -i 3 "$@" <"$TMP/flows" 2>"$TMP/$mode.feed.log" ||
        { cat "$TMP/$mode.feed.log"; fail "$mode: exp_feed failed"; }
    nfcapd_stop "$dir" # also requires 0 sequence errors; leaves $dir.json
}

check() {
    "$PYTHON3" - "$1" "$TMP/flows" "$TMP/$1.json" <<'PY' || fail "$1: nfdump's records differ from the flows fed in"
import json, sys, ipaddress
mode, flows_path, dump_path = sys.argv[1:]
def flags(v):  # nfdump's 8-character flag string: CWR ECE URG ACK PSH RST SYN FIN
    return "".join(c if v & (0x80 >> i) else "." for i, c in enumerate("CEUAPRSF"))
def ms(us):
    return us // 1000
def iso(m):
    import datetime
    t = datetime.datetime.fromtimestamp(m // 1000, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ".%03d" % (m % 1000)
want = []
for line in open(flows_path):
    if line.startswith("#") or not line.strip():
        continue
    f = line.split()
    src, dst, sp, dp, pr, vlan = f[0], f[1], int(f[2]), int(f[3]), int(f[4]), int(f[5])
    o = [int(f[6]), int(f[7]), int(f[8]), int(f[9]), int(f[10], 16), int(f[11], 16)]
    i = [int(f[12]), int(f[13]), int(f[14]), int(f[15]), int(f[16], 16), int(f[17], 16)]
    if mode == "biflow":
        firsts = [d[2] for d in (o, i) if d[0] > 0]
        lasts = [d[3] for d in (o, i) if d[0] > 0]
        want.append(dict(sa=src, da=dst, sp=sp, dp=dp, pr=pr, vlan=vlan, ip=o[0], ib=o[1],
                         op=i[0], ob=i[1], first=iso(ms(min(firsts))), last=iso(ms(max(lasts))),
                         flg=flags(o[5])))
    else:
        for d, (a, b, p, q) in ((o, (src, dst, sp, dp)), (i, (dst, src, dp, sp))):
            if d[0] == 0:
                continue
            want.append(dict(sa=a, da=b, sp=p, dp=q, pr=pr, vlan=vlan, ip=d[0], ib=d[1], op=0,
                             ob=0, first=iso(ms(d[2])), last=iso(ms(d[3])), flg=flags(d[5])))
got = []
for r in json.load(open(dump_path)):
    if r.get("type") != "FLOW":
        continue
    sa = r.get("src4_addr", r.get("src6_addr"))
    da = r.get("dst4_addr", r.get("dst6_addr"))
    got.append(dict(sa=str(ipaddress.ip_address(sa)), da=str(ipaddress.ip_address(da)),
                    sp=r["src_port"], dp=r["dst_port"], pr=r["proto"], vlan=r["src_vlan"],
                    ip=r["in_packets"], ib=r["in_bytes"], op=r.get("out_packets", 0),
                    ob=r.get("out_bytes", 0), first=r["first"], last=r["last"], flg=r["tcp_flags"]))
for w in want:
    w["sa"] = str(ipaddress.ip_address(w["sa"]))
    w["da"] = str(ipaddress.ip_address(w["da"]))
key = lambda d: (d["sa"], d["da"], d["sp"], d["dp"])
want.sort(key=key)
got.sort(key=key)
if want != got:
    for w in want:
        print("want", w)
    for g in got:
        print("got ", g)
    sys.exit(1)
print("%s: %d records match" % (mode, len(got)))
PY
}

run biflow
check biflow
run uniflow -u
check uniflow
# One record as nfdump shows it, for the record.
TZ=UTC nfdump -R "$TMP/biflow" -o csv -c 1 2>/dev/null | head -n 2
echo "$NAME: PASS"
