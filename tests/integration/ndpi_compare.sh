#!/bin/sh
# Protocol labels and server names against nDPI's verdicts on the shared corpus (and tshark's
# BGP dissector on peafowl-bgp): ndpi_compare.py does the work and prints a per-protocol
# table (agree / disagree / unlabelled / missing); this wrapper runs it with the binary under
# test. Fails when fewer than 95 % of nDPI's flows agree, when a single-protocol capture has a
# disagreement, when a server name differs, or when a BGP flow is not labelled bgp. A missing
# corpus or tshark is a failure, not a skip.
#
# By hand, for one capture with every flow that does not agree:
#   OCELLUS=src/ocellus PCAPS=../shared/pcaps tests/integration/ndpi_compare.py -v ndpi-sip.pcap
set -u
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
oc_init ndpi_compare
need_pcaps
[ -d "$PCAPS/expected/ndpi" ] || fail "$PCAPS/expected/ndpi is missing"
command -v tshark >/dev/null || fail "tshark is not installed (Debian package tshark)"

"$PYTHON3" "$top_srcdir/tests/integration/ndpi_compare.py" --ocellus "$OCELLUS" \
    --pcaps "$PCAPS" --tmp "$OC_TMP" || fail "labels or server names differ from nDPI's (table above)"
note "pass"
