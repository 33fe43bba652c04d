#!/bin/sh
# Every packet and IP octet that tshark decodes in the shared captures must appear in ocellus'
# records under the same flow and sender (tshark_compare.py spells out the reference rules:
# reassembly off, innermost IP header for tunnels, ICMP errors on their outer header, both
# VLAN tags, fragments attributed to their datagram through the IP id). Every capture listed
# in MANIFEST.tsv is checked except those in EXCLUDED below, each with its reason.
set -eu
: "${PCAPS:?}" "${OCELLUS:?}" "${PYTHON3:?}" "${top_srcdir:?}"
[ -f "$PCAPS/MANIFEST.tsv" ] || { echo "tshark_compare: no $PCAPS/MANIFEST.tsv" >&2; exit 1; }
TSHARK=${TSHARK:-tshark}
command -v "$TSHARK" >/dev/null || { echo "tshark_compare: tshark is not installed" >&2; exit 1; }

# Excluded captures, one per line: "file  reason". Empty: all 60 captures agree.
EXCLUDED='
'

files=$(awk -F'\t' 'NR > 1 {print $1}' "$PCAPS/MANIFEST.tsv")
total=0
set --
for f in $files; do
    total=$((total + 1))
    if printf '%s\n' "$EXCLUDED" | grep -q "^$f "; then
        echo "excluded $f: $(printf '%s\n' "$EXCLUDED" | sed -n "s/^$f  *//p")"
        continue
    fi
    set -- "$@" "$PCAPS/$f"
done
[ "$total" -ge 60 ] || { echo "tshark_compare: MANIFEST.tsv lists only $total captures" >&2; exit 1; }
exec "$PYTHON3" "$top_srcdir/tests/integration/tshark_compare.py" "$TSHARK" "$OCELLUS" "$@"
