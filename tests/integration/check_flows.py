#!/usr/bin/env python3
"""Compare the flow records ocellus printed with the ground truth written by ocgen.

usage: check_flows.py [--no-dpi] TRUTH.jsonl OUTPUT.jsonl

Both files hold one JSON object per line. Records are matched on (protocolIdentifier, source
address, destination address, source port, destination port, vlanId, flowStartMilliseconds).
Every key of a truth record must be present in its output record with the same value; keys
only the output has are ignored, so the output may carry more information elements than the
truth knows about. The exception is applicationName, the application the DPI must name: a
truth record without one stands for a flow with no application payload, whose output record
must not name one either. With --no-dpi (the output comes from a run without DPI) the
applicationName of the truth is not checked. Every missing, extra and differing record is
reported. The last line is
"check_flows: P passed, F failed" (F = missing + extra + differing); exit status 1 if F > 0.
"""

import json
import sys


def load(path):
    """Returns the records of a JSON-lines file; a bad line is fatal (exit 2)."""
    records = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except ValueError as e:
                sys.exit("check_flows: %s:%d: not JSON: %s" % (path, lineno, e))
            if not isinstance(rec, dict):
                sys.exit("check_flows: %s:%d: not a JSON object" % (path, lineno))
            records.append(rec)
    return records


def addresses(rec):
    for v in ("IPv4", "IPv6"):
        if "source%sAddress" % v in rec:
            return rec["source%sAddress" % v], rec.get("destination%sAddress" % v)
    return None, None


def key(rec):
    src, dst = addresses(rec)
    return (rec.get("protocolIdentifier"), src, dst, rec.get("sourceTransportPort"),
            rec.get("destinationTransportPort"), rec.get("vlanId"),
            rec.get("flowStartMilliseconds"))


def reverse_key(k):
    proto, src, dst, sport, dport, vlan, start = k
    return (proto, dst, src, dport, sport, vlan, start)


def show_key(k):
    proto, src, dst, sport, dport, vlan, start = k
    ep = lambda a, p: a if p is None else ("[%s]:%s" % (a, p) if ":" in str(a) else "%s:%s" % (a, p))
    text = "proto %s %s -> %s start %s" % (proto, ep(src, sport), ep(dst, dport), start)
    return text + (" vlan %s" % vlan if vlan is not None else "")


def index(records, what, path):
    """Maps key -> record; duplicate keys are reported and count as failures."""
    by_key = {}
    dups = 0
    for rec in records:
        k = key(rec)
        if k in by_key:
            print("DUPLICATE %s in %s: %s" % (what, path, show_key(k)))
            dups += 1
        else:
            by_key[k] = rec
    return by_key, dups


APP = "applicationName"


def main(argv):
    no_dpi = len(argv) > 1 and argv[1] == "--no-dpi"
    if no_dpi:
        argv = argv[:1] + argv[2:]
    if len(argv) != 3:
        sys.exit("usage: check_flows.py [--no-dpi] TRUTH.jsonl OUTPUT.jsonl")
    truth, truth_dups = index(load(argv[1]), "truth record", argv[1])
    output, output_dups = index(load(argv[2]), "output record", argv[2])

    passed = 0
    failed = truth_dups + output_dups
    for k, want in truth.items():
        got = output.get(k)
        if got is None:
            failed += 1
            hint = ""
            rev = output.get(reverse_key(k))
            if rev is not None:
                hint = " (output has it with source and destination swapped)"
            print("MISSING %s%s\n  truth:  %s" % (show_key(k), hint, json.dumps(want, sort_keys=True)))
            continue
        want = dict(want)
        if no_dpi:
            want.pop(APP, None)
        else:
            want.setdefault(APP, "<absent>")
        diffs = [(name, value, got.get(name, "<absent>")) for name, value in sorted(want.items())
                 if got.get(name, "<absent>") != value]
        if diffs:
            failed += 1
            print("DIFFERS %s" % show_key(k))
            for name, value, other in diffs:
                print("  %s: truth %s, output %s" % (name, json.dumps(value), json.dumps(other)))
        else:
            passed += 1
    for k, got in output.items():
        if k not in truth:
            failed += 1
            print("EXTRA %s\n  output: %s" % (show_key(k), json.dumps(got, sort_keys=True)))

    print("check_flows: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
