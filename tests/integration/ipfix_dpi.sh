#!/bin/sh
# IPFIX with templates/dpi.tmpl: captures with SSH, DNS and TLS flows go to a file: output
# (template = dpi) and to a JSON output in the same run; ipfixDump (Debian libfixbuf-tools,
# CERT elements loaded with -y) must decode every record, and for each flow:
#   - applicationName and every field element equal the JSON record's value (empty / 0 when
#     JSON has none), reverseSshVersion (6871/16555) included;
#   - silkAppLabel is the protocol's IANA well-known port (ssh 22, dns 53, tls 443: the port
#     registry, not our table), 0 when the protocol is unknown, even with a port guess;
#     applicationId is RFC 6759's engine id 3 (IANA-L4) and that port, or three zero octets;
#   - the values are those tshark decodes from the same packets: SSH banners by sender, the
#     DNS question, the TLS SNI and the cipher suite of the ServerHello.
# A second run with the IPFIX output alone must give the same records: the template alone
# makes the engine extract fields (map_ipfix_wants_fields).
set -u
: "${top_srcdir:?run through make check}"
. "$top_srcdir/tests/integration/lib.sh"
oc_init ipfix_dpi
NAME=ipfix_dpi
TMP=$OC_TMP
need_pcaps
[ -n "${OCELLUS_TEMPLATE_DIR:-}" ] || fail "OCELLUS_TEMPLATE_DIR is not set"
command -v ipfixDump >/dev/null || fail "ipfixDump not installed (Debian package libfixbuf-tools)"
TSHARK=${TSHARK:-tshark}
command -v "$TSHARK" >/dev/null || fail "tshark is not installed"
trap 'exit 1' INT TERM

PCAP_LIST="ndpi-ssh.pcap ndpi-dns.pcap ndpi-443-git.pcap"
READ=
for p in $PCAP_LIST; do
    [ -f "$PCAPS/$p" ] || fail "$PCAPS/$p is missing"
    READ="$READ -r $PCAPS/$p"
done

cat >"$TMP/both.ini" <<EOF
[output ipfix]
uri = file:$TMP/out.ipfix
template = dpi
[output json]
uri = json:$TMP/out.json
EOF
cat >"$TMP/alone.ini" <<EOF
[output ipfix]
uri = file:$TMP/alone.ipfix
template = dpi
EOF

# CERT's registry does not mark sshVersion reversible; name its reverse twin for ipfixDump.
cat >"$TMP/reverse.xml" <<'EOF'
<?xml version='1.0' encoding='UTF-8'?>
<registry id="ocellus_ipfix" xmlns="http://www.iana.org/assignments"
          xmlns:cert="http://www.cert.org/ipfix">
  <registry id="ocellus-information-elements">
    <record>
      <name>reverseSshVersion</name>
      <dataType>string</dataType>
      <cert:enterpriseId>6871</cert:enterpriseId>
      <elementId>16555</elementId>
    </record>
  </registry>
</registry>
EOF

# shellcheck disable=SC2086 # READ is a list of options
oc_run -c "$TMP/both.ini" $READ
[ "$OC_RC" -eq 0 ] || { cat "$OC_ERR"; fail "ocellus failed (exit $OC_RC)"; }
# shellcheck disable=SC2086
oc_run -c "$TMP/alone.ini" $READ
[ "$OC_RC" -eq 0 ] || { cat "$OC_ERR"; fail "ocellus (IPFIX alone) failed (exit $OC_RC)"; }
for f in out alone; do
    ipfixDump -y -e "$TMP/reverse.xml" --in "$TMP/$f.ipfix" >"$TMP/$f.dump" 2>"$TMP/$f.dump.err" ||
        { cat "$TMP/$f.dump.err"; fail "ipfixDump cannot decode $f.ipfix"; }
done

# The reference: tshark's view of the packets that carry the values (port 8000 of the
# second SSH capture is not SSH's, so tshark is told).
: >"$TMP/tshark.tsv"
for p in $PCAP_LIST; do
    "$TSHARK" -r "$PCAPS/$p" -d tcp.port==8000,ssh \
        -Y 'ssh.protocol or dns or tls.handshake.type == 1 or tls.handshake.type == 2' \
        -T fields -E separator=/t -e frame.time_epoch -e ip.src -e ipv6.src -e tcp.srcport \
        -e udp.srcport -e ip.dst -e ipv6.dst -e tcp.dstport -e udp.dstport -e ssh.protocol \
        -e dns.qry.name -e dns.qry.type -e tls.handshake.type \
        -e tls.handshake.extensions_server_name -e tls.handshake.ciphersuite \
        >>"$TMP/tshark.tsv" 2>"$TMP/tshark.err" || { cat "$TMP/tshark.err"; fail "tshark failed on $p"; }
done

"$PYTHON3" - "$TMP/out.dump" "$TMP/alone.dump" "$TMP/out.json" "$TMP/tshark.tsv" <<'PY' || fail "IPFIX records differ (see above)"
import datetime, ipaddress, json, re, sys
dump_path, alone_path, json_path, tshark_path = sys.argv[1:]

# IANA service name and port registry: the well-known port of each protocol label.
IANA_PORT = {"ssh": 22, "dns": 53, "tls": 443}
# Field elements of dpi.tmpl (the JSON key is the element name); numbers are unsigned.
STRINGS = ["httpRequestMethod", "httpRequestHost", "httpRequestTarget", "httpUserAgent",
           "httpContentType", "sslServerName", "dnsQName", "sshVersion", "reverseSshVersion",
           "smtpHello", "smtpFrom", "smtpTo", "sipUserAgent", "dhcpVendorCode"]
NUMBERS = {"httpStatusCode": "httpStatusCode", "sslServerCipher": "sslServerCipher",
           "dnsQRType": "dnsQRType", "smtpStartTLS": "startTLS"}
DPI_TAIL = ["applicationId", "applicationName", "httpRequestMethod", "httpRequestHost",
            "httpRequestTarget", "httpUserAgent", "httpStatusCode", "httpContentType",
            "sslServerName", "sslServerCipher", "dnsQName", "dnsQRType", "sshVersion",
            "reverseSshVersion", "smtpHello", "smtpFrom", "smtpTo", "smtpStartTLS",
            "sipUserAgent", "dhcpVendorCode"]

bad = 0
def err(*a):
    global bad
    print(*a)
    bad += 1

def parse(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    tmpls = {}
    for m in re.finditer(r"--- template record ---\nheader:\n\ttid:\s+(\d+).*?\nfields:\n((?:\tent:.*\n)+)", text):
        tmpls[int(m.group(1))] = [l.split()[-1] for l in m.group(2).splitlines()]
    recs = []
    for m in re.finditer(r"--- data record \d+ ---\nheader:\n\tcount:\s+\d+\s+tid:\s+(\d+).*?\nfields:\n((?:\t\(.*\n?)+)", text):
        if int(m.group(1)) not in (256, 257):
            continue  # the statistics options record
        rec = {}
        for l in m.group(2).splitlines():
            k, v = l.split(" : ", 1) if " : " in l else l.split(":", 1)
            name = k.split()[-1]
            s = re.match(r"\(len: (\d+)\) ?(.*)$", v)
            rec[name] = s.group(2)[:int(s.group(1))] if s else v.strip()
        recs.append(rec)
    return tmpls, recs

tmpls, recs = parse(dump_path)
for tid in (256, 257):
    if tid in tmpls and tmpls[tid][-len(DPI_TAIL):] != DPI_TAIL:
        err("template", tid, "ends with", tmpls[tid][-len(DPI_TAIL):])
if 256 not in tmpls:
    err("no IPv4 template in the file")

jrecs = [json.loads(l) for l in open(json_path)]
if len(recs) != len(jrecs) or not recs:
    err("ipfixDump shows %d data records, JSON has %d" % (len(recs), len(jrecs)))

def ms(text):
    t = datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc)
    return round(t.timestamp() * 1000)

def addr(r, side):
    for k in ("%sIPv4Address" % side, "%sIPv6Address" % side):
        if k in r:
            return ipaddress.ip_address(r[k])

labelled = {}
for i, (r, j) in enumerate(zip(recs, jrecs)):
    where = "record %d (%s:%s)" % (i + 1, r.get("sourceTransportPort"), r.get("destinationTransportPort"))
    if (addr(r, "source"), addr(r, "destination"), int(r["sourceTransportPort"]),
            int(r["destinationTransportPort"]), ms(r["flowStartMilliseconds"])) != \
            (addr(j, "source"), addr(j, "destination"), j["sourceTransportPort"],
             j["destinationTransportPort"], j["flowStartMilliseconds"]):
        err(where, "is not JSON record", i + 1)
        continue
    name = j.get("applicationName", "")
    if r["applicationName"] != name:
        err(where, "applicationName %r, JSON %r" % (r["applicationName"], name))
    if name and name not in IANA_PORT:
        err(where, "labelled %r: no expectation for it here" % name)
    port = IANA_PORT.get(name, 0)
    if int(r["silkAppLabel"]) != port:
        err(where, "silkAppLabel %s, want %d (guess %r)"
            % (r["silkAppLabel"], port, j.get("applicationGuess")))
    # ipfixDump shows a 3-octet octetArray as a little-endian integer of its octets.
    app_id = int(r["applicationId"]).to_bytes(3, "little")
    want_id = bytes([3, port >> 8, port & 0xff]) if port else bytes(3)
    if app_id != want_id:
        err(where, "applicationId %s, want %s" % (app_id.hex(), want_id.hex()))
    for k in STRINGS:
        if r.get(k) != j.get(k, ""):
            err(where, "%s %r, JSON %r" % (k, r.get(k), j.get(k, "")))
    for k, jk in NUMBERS.items():
        if int(r.get(k, -1)) != int(j.get(jk, 0)):
            err(where, "%s %s, JSON %r" % (k, r.get(k), j.get(jk)))
    labelled[name] = labelled.get(name, 0) + 1
    r["_start"], r["_end"] = ms(r["flowStartMilliseconds"]), ms(r["flowEndMilliseconds"])

# tshark: find each packet's record (same endpoints, time within the record) and check it.
def record_of(t_ms, a, ap, b, bp):
    for r in recs:
        if "_start" not in r or not (r["_start"] <= t_ms <= r["_end"]):
            continue
        s = (addr(r, "source"), int(r["sourceTransportPort"]))
        d = (addr(r, "destination"), int(r["destinationTransportPort"]))
        if (s, d) == ((a, ap), (b, bp)):
            return r, True
        if (s, d) == ((b, bp), (a, ap)):
            return r, False
    return None, None

seen = {"ssh": 0, "dns": 0, "sni": 0, "cipher": 0}
dns_names = {}
for line in open(tshark_path):
    f = line.rstrip("\n").split("\t")
    t_ms = int(float(f[0]) * 1000)
    a = ipaddress.ip_address(f[1] or f[2]); b = ipaddress.ip_address(f[5] or f[6])
    ap = int(f[3] or f[4]); bp = int(f[7] or f[8])
    banner, qname, qtype, hs, sni, cipher = f[9:15]
    r, forward = record_of(t_ms, a, ap, b, bp)
    if r is None:
        err("no record holds the packet", f[:9])
        continue
    where = "flow %s:%d-%s:%d" % (a, ap, b, bp)
    if banner:
        k = "sshVersion" if forward else "reverseSshVersion"
        seen["ssh"] += 1
        if r.get("applicationName") != "ssh" or r.get(k) != banner:
            err(where, "%s %r (%s), tshark %r" % (k, r.get(k), r.get("applicationName"), banner))
    elif qname:
        dns_names.setdefault(id(r), (r, set()))[1].add((qname, int(qtype)))
    elif hs == "1" and sni:
        seen["sni"] += 1
        if r.get("sslServerName") != sni or r.get("applicationName") != "tls":
            err(where, "sslServerName %r, tshark %r" % (r.get("sslServerName"), sni))
    elif hs == "2" and cipher:
        seen["cipher"] += 1
        if int(r.get("sslServerCipher", -1)) != int(cipher, 16):
            err(where, "sslServerCipher %s, tshark %s" % (r.get("sslServerCipher"), cipher))
# A DNS flow's question is one that tshark sees in it.
for r, names in dns_names.values():
    seen["dns"] += 1
    if r.get("applicationName") != "dns" or (r.get("dnsQName"), int(r.get("dnsQRType", -1))) not in names:
        err("DNS flow %s: %r/%s, tshark %r"
            % (r.get("sourceTransportPort"), r.get("dnsQName"), r.get("dnsQRType"), names))
if seen["ssh"] < 4 or seen["dns"] < 2 or seen["sni"] < 1 or seen["cipher"] < 1:
    err("tshark found too little to compare:", seen)

# The IPFIX output alone: the very same data records.
tmpls2, recs2 = parse(alone_path)
for r in recs:
    r.pop("_start", None); r.pop("_end", None)
if recs2 != recs:
    err("the IPFIX output alone differs from the run with JSON (fields not extracted?)")
    for a, b in zip(recs, recs2):
        if a != b:
            print(" with JSON:", a, "\n alone:    ", b)
            break
print("%d records, labels %s, tshark values %s" % (len(recs), labelled, seen))
sys.exit(1 if bad else 0)
PY
echo "$NAME: PASS"
