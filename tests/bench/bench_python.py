"""make bench: the Python module's packets/s beside the command's, on the same capture.

Usage: bench_python.py OCELLUS CAPTURE...  (PYTHONPATH must find the ocellus package)

Three timings per capture, best of three runs each: the command writing JSON lines to
/dev/null (its own "elapsed" summary line, so process start-up is left out), ocellus.flows()
iterating Flow objects, and ocellus.flows().to_records() building the dicts. All three read
the file with libpcap in C and run the same engine.
"""

import re
import subprocess
import sys
import time

import ocellus


def best(fn, runs=3):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def command_seconds(exe, path):
    run = subprocess.run([exe, "-r", path, "-o", "json:/dev/null"], check=True,
                         capture_output=True, text=True)
    m = re.search(r"elapsed: ([0-9.]+) s", run.stderr)
    if not m:
        sys.exit(f"bench_python: no elapsed time in the summary of {exe}")
    return max(float(m.group(1)), 1e-6)


def main():
    exe, paths = sys.argv[1], sys.argv[2:]
    for path in paths:
        reader = ocellus.flows(path)
        flows = sum(1 for _ in reader)
        packets = reader.engine.stats()["packets"]
        cmd = min(command_seconds(exe, path) for _ in range(3))
        it = best(lambda: sum(1 for _ in ocellus.flows(path)))
        rec = best(lambda: ocellus.flows(path).to_records())
        print(f"bench-python: {path}: {packets} packets, {flows} records")
        for name, t in (("command -o json", cmd), ("python flows()", it),
                        ("python to_records()", rec)):
            print(f"bench-python:   {name:20s} {t:7.3f} s  {packets / t / 1e6:6.2f} Mpackets/s"
                  f"  ({t / cmd:4.2f}x the command)")


if __name__ == "__main__":
    main()
