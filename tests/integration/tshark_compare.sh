#!/bin/sh
# Every packet and IP octet that tshark decodes in the shared captures must appear in ocellus'
# records under the same flow and sender (tshark_compare.py). Captures whose encapsulations
# this build does not follow yet (QinQ, PPPoE, MPLS, tunnels, fragments, PPP/HDLC links) or
# that tshark itself calls malformed are left to the encapsulation work, which widens this
# selection; the rest of the corpus is checked here.
set -eu
: "${PCAPS:?}" "${OCELLUS:?}" "${PYTHON3:?}" "${top_srcdir:?}"
[ -f "$PCAPS/MANIFEST.tsv" ] || { echo "tshark_compare: no $PCAPS/MANIFEST.tsv" >&2; exit 1; }
TSHARK=${TSHARK:-tshark}
command -v "$TSHARK" >/dev/null || { echo "tshark_compare: tshark is not installed" >&2; exit 1; }
files=$(awk -F'\t' 'NR > 1 && $6 !~ /ppp|chdlc/ &&
        $8 !~ /qinq|pppoe|mpls|ip-in-ip|frag|malformed|iptrunc|teredo|gre|vxlan/ {print $1}' \
        "$PCAPS/MANIFEST.tsv")
set --
for f in $files; do set -- "$@" "$PCAPS/$f"; done
[ $# -ge 30 ] || { echo "tshark_compare: only $# captures selected" >&2; exit 1; }
exec "$PYTHON3" "$top_srcdir/tests/integration/tshark_compare.py" "$TSHARK" "$OCELLUS" "$@"
