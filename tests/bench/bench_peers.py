#!/usr/bin/python3
"""Side-by-side benchmark of ocellus and softflowd on generated captures (make bench).

Two reproducible captures come from our generator (tests/gen/ocgen) and are cached outside
the repository: (a) about 2.5 million packets of 200,000 flows packed into 80 seconds so
that tens of thousands are active at once, and (b) one million flows that are all active at
the same time (a long idle timeout over a short capture). Each configuration runs at least
three times, alternating with softflowd on the same capture in the same run, because this
machine is shared and noisy; the figures printed are medians. CPU time is user + system
from wait4(), so other load on the machine does not count against us; peak RSS is ru_maxrss.

Before timing anything, the records of one ocellus run are checked against the generator's
truth (every flow, its packets and octets per direction, and the application DPI must name),
so a fast wrong answer cannot look good. Nothing here is a pass/fail test: the targets of the
speed issue are printed next to the figures.
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

# (name, ocgen arguments, engine arguments the truth assumes, engine arguments when timed)
# ocgen needs a span of at least twice the idle timeout (a flow reuses its 5-tuple after
# one), so (b) cannot keep a million flows active under the timeout its truth assumes: it
# is checked with that timeout and timed with idle, active and TCP-linger timeouts longer
# than the capture, so that every flow (1,043,027) is still in the table at its end.
CAPTURES = {
    "a": (["--seed", "11", "--flows", "200000", "--max-message", "1500",
           "--max-duration", "10", "--span", "80"],
          ["--idle-timeout", "30"], ["--idle-timeout", "30"]),
    "b": (["--seed", "12", "--flows", "1000000", "--max-message", "600",
           "--max-duration", "5", "--span", "300", "--idle-timeout", "60",
           "--active-timeout", "300"],
          ["--idle-timeout", "60", "--active-timeout", "300"],
          ["--idle-timeout", "600", "--active-timeout", "600", "--tcp-linger", "600",
           "--max-flows", "1048576"]),
}

TARGET_CPU_PPS = 7e6
TARGET_RATIO = 8.0


def cache_dir():
    d = os.environ.get("OCELLUS_BENCH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "ocellus-bench")
    os.makedirs(d, exist_ok=True)
    return d


def capture(builddir, name):
    """Generates capture NAME unless a copy made with the same ocgen and arguments exists."""
    ocgen = os.path.join(builddir, "tests", "gen", "ocgen")
    args = CAPTURES[name][0]
    h = hashlib.sha256(" ".join(args).encode())
    with open(ocgen, "rb") as f:
        h.update(f.read())
    tag = h.hexdigest()[:12]
    base = os.path.join(cache_dir(), f"{name}-{tag}")
    if not os.path.exists(base + ".pcap"):
        print(f"bench: generating capture ({name}) into {base}.pcap ...", flush=True)
        subprocess.run([ocgen, *args, "--out", base + ".tmp.pcap",
                        "--truth", base + ".tmp.jsonl"], check=True,
                       stdout=subprocess.DEVNULL)
        os.rename(base + ".tmp.jsonl", base + ".jsonl")
        os.rename(base + ".tmp.pcap", base + ".pcap")
    return base + ".pcap", base + ".jsonl"


def truth_stats(truth):
    """Packets, flows (distinct 5-tuples and VLAN), their spans and the flows with an
    application payload (a record that names the application).

    A flow occupies the table from its first packet until its last record ends, plus the
    idle timeout the truth assumes (an upper bound for flows closed by TCP)."""
    pkts = 0
    spans = {}
    labelled = set()
    with open(truth) as f:
        for line in f:
            r = json.loads(line)
            pkts += r["packetDeltaCount"] + r["reversePacketDeltaCount"]
            key = (r.get("sourceIPv4Address") or r.get("sourceIPv6Address"),
                   r.get("destinationIPv4Address") or r.get("destinationIPv6Address"),
                   r.get("sourceTransportPort"), r.get("destinationTransportPort"),
                   r["protocolIdentifier"], r.get("vlanId"))
            s = spans.setdefault(key, [r["flowStartMilliseconds"], 0])
            s[0] = min(s[0], r["flowStartMilliseconds"])
            s[1] = max(s[1], r["flowEndMilliseconds"])
            if "applicationName" in r:
                labelled.add(key)
    return pkts, len(spans), spans, len(labelled)


def peak_active(spans, hold_ms):
    ev = []
    for start, end in spans.values():
        ev.append((start, 1))
        ev.append((end + hold_ms, -1))
    ev.sort()
    cur = peak = 0
    for _, d in ev:
        cur += d
        peak = max(peak, cur)
    return peak


def run(cmd, env=None):
    """Runs CMD; returns (cpu seconds, wall seconds, peak RSS bytes, stderr).

    GNU time reports the child's own peak RSS: measured from this Python process, a forked
    child would inherit our high-water mark (ru_maxrss survives exec)."""
    with tempfile.NamedTemporaryFile("r") as tf:
        t0 = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-o", tf.name, "-f", "%U %S %M", *cmd],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        wall = time.monotonic() - t0
        if p.returncode != 0:
            sys.exit(f"bench: {' '.join(cmd)} exited with {p.returncode}: "
                     f"{p.stderr.decode()[-2000:]}")
        user, system, rss_kb = tf.read().split()[-3:]
    return float(user) + float(system), wall, int(rss_kb) * 1024, p.stderr.decode()


def pcap_prefix(src, dst, count):
    """Writes the first COUNT packets of the classic pcap SRC (the generator's, native byte
    order) to DST."""
    with open(src, "rb") as f, open(dst, "wb") as out:
        out.write(f.read(24))
        for _ in range(count):
            hdr = f.read(16)
            if len(hdr) < 16:
                break
            caplen = struct.unpack("=IIII", hdr)[2]
            out.write(hdr + f.read(caplen))


def instructions(exe, args, env):
    """Instructions (callgrind's Ir, every thread) of one run of EXE ARGS, or None."""
    with tempfile.NamedTemporaryFile(suffix=".cg") as cg:
        p = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + cg.name,
                            exe, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           env=env, text=True)
        m = re.search(r"Collected : (\d+)", p.stderr)
        return int(m.group(1)) if p.returncode == 0 and m else None


def fmt(v, unit=""):
    for div, suf in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.2f} {suf}{unit}"
    return f"{v:.0f} {unit}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("builddir")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--captures", default="a,b")
    ap.add_argument("--no-softflowd", action="store_true")
    ap.add_argument("--no-check", action="store_true", help="skip the truth check")
    ap.add_argument("--workers", type=int, default=2,
                    help="also time DPI with 2..N workers on capture (a)")
    ap.add_argument("--callgrind", type=int, default=200000, metavar="N",
                    help="instructions per packet over the first N packets of each capture, "
                    "under callgrind (0: skip; needs valgrind)")
    o = ap.parse_args()
    if o.callgrind == 1 or o.callgrind < 0:
        ap.error("--callgrind takes 0 (skip) or at least 2 packets")
    b = os.path.abspath(o.builddir)
    srcdir = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    real = os.path.join(b, "src", ".libs", "ocellus")
    exe = real if os.path.exists(real) else os.path.join(b, "src", "ocellus")
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.path.join(b, "src", ".libs")
    env.setdefault("OCELLUS_TEMPLATE_DIR", os.path.join(srcdir, "templates"))
    softflowd = None if o.no_softflowd else "/usr/sbin/softflowd"
    if softflowd and not os.path.exists(softflowd):
        print("bench: softflowd is not installed (apt-get install softflowd): no comparison")
        softflowd = None
    # softflowd sends IPFIX over UDP: a socket that is never read keeps its sends cheap and
    # local (no ICMP errors); the kernel drops what does not fit.
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    port = sink.getsockname()[1]

    with tempfile.TemporaryDirectory(prefix="ocbench.") as tmp:
        for name in o.captures.split(","):
            pcap, truth = capture(b, name)
            _, chk_eng, eng = CAPTURES[name]
            pkts, flows, spans, labelled = truth_stats(truth)
            idle_ms = int(eng[eng.index("--idle-timeout") + 1]) * 1000
            active = peak_active(spans, idle_ms)
            size = os.path.getsize(pcap)
            print(f"\ncapture ({name}): {pcap}\n  {pkts} packets, {flows} flows, "
                  f"about {active} active at once, {size / pkts:.0f} bytes per packet "
                  f"in the file\n  {labelled} flows ({100 * labelled / flows:.0f}%) carry "
                  f"HTTP, TLS, SSH, SMTP or DNS messages the DPI must name")
            if not o.no_check:
                out = os.path.join(tmp, "check.jsonl")
                # (a) with DPI on, so that the applications the truth names are checked too.
                # (b) keeps far more flows under inspection at once than the default DPI
                # pools hold (those flows are counted as not inspected, by design), and is
                # only timed without DPI: its flows, packets and octets are checked.
                dpi = [] if name == "a" else ["--no-dpi"]
                run([exe, "-r", pcap, *dpi, *chk_eng, "-o", "json:" + out], env)
                chk = subprocess.run([sys.executable, os.path.join(
                    srcdir, "tests", "integration", "check_flows.py"), *dpi, truth, out],
                    capture_output=True, text=True)
                last = (chk.stdout.strip().splitlines() or ["?"])[-1]
                print(f"  truth check: {last}" + ("" if chk.returncode == 0 else "  ** FAILED **"))
                os.unlink(out)
            configs = [("ocellus --no-dpi", [exe, "-r", pcap, "--no-dpi", *eng,
                                             "-o", "file:" + os.path.join(tmp, "x.ipfix")])]
            if name == "a":
                configs.append(("ocellus dpi", [exe, "-r", pcap, *eng,
                                                "-o", "file:" + os.path.join(tmp, "x.ipfix")]))
                for w in range(2, o.workers + 1):
                    configs.append((f"ocellus dpi w{w}", [exe, "-r", pcap, *eng, "--workers",
                                                         str(w), "-o",
                                                         "file:" + os.path.join(tmp, "x.ipfix")]))
            if softflowd:
                configs.append(("softflowd", [softflowd, "-r", pcap, "-n", f"127.0.0.1:{port}",
                                              "-v", "10", "-b", "-A", "milli", "-c", "none",
                                              "-m", "4000000", "-d"]))
            res = {c[0]: [] for c in configs}
            for _ in range(o.runs):
                for label, cmd in configs:  # alternating, so drifts in load hit all alike
                    res[label].append(run(cmd, env)[:3])
            print(f"  {'program':<18} {'pkts/CPU-s':>11} {'pkts/wall-s':>12} {'ns/pkt':>7} "
                  f"{'flows/s':>9} {'peak RSS':>10} {'B/flow':>7} {'x softflowd':>11}")
            base = None
            if softflowd:
                base = pkts / statistics.median(r[0] for r in res["softflowd"])
            for label, _ in configs:
                cpu = statistics.median(r[0] for r in res[label])
                wall = statistics.median(r[1] for r in res[label])
                rss = statistics.median(r[2] for r in res[label])
                ratio = f"{pkts / cpu / base:.1f}x" if base else "-"
                print(f"  {label:<18} {fmt(pkts / cpu):>11} {fmt(pkts / wall):>12} "
                      f"{1e9 * cpu / pkts:7.0f} {fmt(flows / cpu):>9} "
                      f"{rss / 2**20:8.0f} MiB {rss / max(active, 1):7.0f} {ratio:>11}")
            # What any flow meter pays on this machine for the same capture (oc_floor.c):
            # reading alone, libpcap alone, and a minimal meter with no timeouts or export.
            floor = os.path.join(b, "tests", "bench", "oc_floor")
            if os.path.exists(floor):
                # The same table size as ocellus (its default, or the capture's --max-flows):
                # a larger, sparser slot array costs the meter a miss more per packet.
                maxf = eng[eng.index("--max-flows") + 1] if "--max-flows" in eng else "262144"
                fl = subprocess.run([floor, pcap, str(o.runs), maxf], capture_output=True,
                                    text=True)
                print(fl.stdout.rstrip() if fl.returncode == 0 else "  floor: oc_floor failed: "
                      + fl.stderr.strip())
            # Instruction counts do not depend on the host's load, unlike every time above:
            # they show a change in the code's own work even when timings drown in noise.
            if o.callgrind > 0 and shutil.which("valgrind"):
                # Start-up and exit (templates, tables) cost the same for one packet as for
                # N: a one-packet run is subtracted.
                head, one = os.path.join(tmp, "head.pcap"), os.path.join(tmp, "one.pcap")
                pcap_prefix(pcap, head, o.callgrind)
                pcap_prefix(pcap, one, 1)
                out = ["-o", "file:" + os.path.join(tmp, "cg.ipfix")]
                line = []
                for label, extra in (("--no-dpi", ["--no-dpi"]), ("dpi", [])):
                    ir_n = instructions(exe, ["-r", head, *extra, *eng, *out], env)
                    ir_1 = instructions(exe, ["-r", one, *extra, *eng, *out], env)
                    line.append(f"{label} {(ir_n - ir_1) / (o.callgrind - 1):.0f}"
                                if ir_n and ir_1 else f"{label} failed")
                print(f"  instructions per packet (callgrind, first {o.callgrind} packets, "
                      f"all threads, start-up subtracted): " + ", ".join(line))
                os.unlink(head)
                os.unlink(one)
            if name == "a":
                for w in range(2, o.workers + 1):
                    one = statistics.median(r[1] for r in res["ocellus dpi"])
                    many = statistics.median(r[1] for r in res[f"ocellus dpi w{w}"])
                    print(f"  {w} workers with DPI: {one / many:.2f}x one worker's packets per "
                          f"wall second (target with 2 on 2 cores: >= 1.6x)")
                cpu = statistics.median(r[0] for r in res["ocellus --no-dpi"])
                print(f"  targets: >= {fmt(TARGET_CPU_PPS)} packets per CPU-second "
                      f"(now {fmt(pkts / cpu)})" + (f", >= {TARGET_RATIO:.0f}x softflowd "
                                                     f"(now {pkts / cpu / base:.1f}x)" if base else ""))
            else:
                rss = statistics.median(r[2] for r in res["ocellus --no-dpi"])
                print(f"  target: peak RSS <= 300 MiB with a million active flows "
                      f"(now {rss / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()
