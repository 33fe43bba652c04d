"""pytest tests of the ocellus Python module (run by tests/python/run_pytest.sh in make check).

Expected values come from elsewhere than the module: the ocellus command's JSON output for the
same capture, packets built here with known counts, and counts taken by the test itself.
"""

import json
import os
import re
import shutil
import struct
import subprocess
import sys

import pytest

import ocellus

# run_pytest.sh preloads the sanitizer runtime into this interpreter in a sanitizer build;
# the programs the tests start (the command, a compiler) must not inherit it.
os.environ.pop("LD_PRELOAD", None)

SRCDIR = os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "..", ".."))
PCAPS = os.environ.get("PCAPS", os.path.join(SRCDIR, "..", "shared", "pcaps"))
SAMPLE = os.path.join(SRCDIR, "samples", "sample.pcap")


def capture(name):
    path = SAMPLE if name == "sample.pcap" else os.path.join(PCAPS, name)
    if not os.path.exists(path):
        pytest.skip(f"{path} is not available")
    return path


def command_records(path, tmp_path, *options):
    """The records `ocellus -r PATH -o json:FILE` writes, in file order."""
    exe = os.environ.get("OCELLUS")
    if not exe or not os.access(exe, os.X_OK):
        pytest.skip("OCELLUS (the command) is not set or not built")
    out = tmp_path / "flows.json"
    subprocess.run([exe, "-r", path, "-o", f"json:{out}", *options], check=True,
                   stderr=subprocess.DEVNULL)
    with open(out, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def udp4(a, sport, b, dport, payload):
    """A raw IPv4/UDP datagram 10.0.0.a:sport -> 10.0.0.b:dport (link type RAW)."""
    total = 20 + 8 + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0, 64, 17, 0,
                     bytes([10, 0, 0, a]), bytes([10, 0, 0, b]))
    return ip + struct.pack("!HHHH", sport, dport, 8 + payload, 0) + bytes(payload)


# --- records equal the command's JSON output ------------------------------------------

@pytest.mark.parametrize("name", ["sample.pcap", "ndpi-1kxun.pcap", "ndpi-vxlan.pcap",
                                  "peafowl-mpls_two.pcap", "ndpi-dns_fragmented.pcap"])
def test_records_equal_command_json(name, tmp_path):
    path = capture(name)
    expected = command_records(path, tmp_path)
    got = ocellus.flows(path).to_records()
    assert len(got) == len(expected) > 0
    assert got == expected


def test_records_equal_command_json_with_options(tmp_path):
    path = capture("ndpi-1kxun.pcap")
    expected = command_records(path, tmp_path, "--idle-timeout", "5", "--active-timeout", "20")
    got = ocellus.flows(path, idle_timeout=5, active_timeout=20).to_records()
    assert got == expected
    # Shorter timeouts really cut more records, so the options reached the engine.
    assert len(got) > len(ocellus.flows(path).to_records())


def test_flow_objects_match_records(tmp_path):
    path = capture("ndpi-1kxun.pcap")
    expected = command_records(path, tmp_path)
    flows = list(ocellus.flows(path))
    assert len(flows) == len(expected)
    for f, rec in zip(flows, expected):
        v6 = "sourceIPv6Address" in rec
        assert f.family == (6 if v6 else 4)
        assert f.src_addr == rec["sourceIPv6Address" if v6 else "sourceIPv4Address"]
        assert f.dst_addr == rec["destinationIPv6Address" if v6 else "destinationIPv4Address"]
        assert f.protocol == rec["protocolIdentifier"]
        assert f.src_port == rec.get("sourceTransportPort", 0)
        assert f.dst_port == rec.get("destinationTransportPort", 0)
        assert f.id == rec["flowId"]
        assert f.end_reason == rec["flowEndReason"]
        assert isinstance(f.end_reason, ocellus.EndReason)
        assert f.statistics["PACKETS"] == (rec["packetDeltaCount"],
                                           rec["reversePacketDeltaCount"])
        assert f.getStatistic(ocellus.Statistic.OCTETS, ocellus.Direction.INBOUND) == \
            rec["reverseOctetDeltaCount"]
        assert f.start_us // 1000 == rec["flowStartMilliseconds"]
        assert f.end_us // 1000 == rec["flowEndMilliseconds"]


# --- the seed's FlowManager -------------------------------------------------------------

class Collector(ocellus.FlowManager):
    def __init__(self):
        self.seen = []

    def onTermination(self, flow):
        self.seen.append((flow.id, flow.start_us, flow.to_record()))


def test_flow_manager_sees_every_flow_once_during_run(tmp_path):
    path = capture("ndpi-1kxun.pcap")
    expected = command_records(path, tmp_path)
    e = ocellus.Engine()
    fm = Collector()
    e.setFlowManager(fm)
    read = e.processFile(path)
    during = len(fm.seen)
    assert 0 < during < len(expected)  # flows ended by timeouts while reading
    e.flush()
    assert [r for _, _, r in fm.seen] == expected
    keys = [(i, s) for i, s, _ in fm.seen]
    assert len(set(keys)) == len(keys)  # each record once
    st = e.stats()
    assert read == st["packets"]
    assert sum(st["records_ended"].values()) == len(fm.seen)
    assert st["packets_attributed"] == sum(r["packetDeltaCount"] + r["reversePacketDeltaCount"]
                                           for r in expected)


def test_flow_manager_per_packet_engine():
    """The seed's Python shape with per-packet calls and flows ending as the clock moves."""
    e = ocellus.Engine(idle_timeout=10)
    fm = Collector()
    e.setFlowManager(fm)
    t = 1_000_000_000
    e.process(udp4(1, 1000, 2, 53, 5), t, ocellus.Link.RAW)
    e.process(udp4(3, 2000, 4, 80, 5), t + 1, ocellus.Link.RAW)
    e.process(udp4(2, 53, 1, 1000, 5), t + 2, ocellus.Link.RAW)
    assert fm.seen == []
    e.process(udp4(5, 3000, 6, 123, 5), t + 20_000_000, ocellus.Link.RAW)
    assert len(fm.seen) == 2  # both idle flows ended inside that call
    assert {r["flowEndReason"] for _, _, r in fm.seen} == {ocellus.EndReason.IDLE}
    e.flush()
    assert len(fm.seen) == 3
    assert fm.seen[2][2]["flowEndReason"] == ocellus.EndReason.FORCED
    assert len({i for i, _, _ in fm.seen}) == 3


# --- the seed's per-packet statistics ----------------------------------------------------

def test_per_packet_statistics_as_in_seed():
    e = ocellus.Engine()
    senders = [True, True, False, True, False, False]  # True: the flow's source sends
    out = inb = 0
    for i, from_src in enumerate(senders):
        pkt = udp4(1, 5000, 2, 53, 10 * i) if from_src else udp4(2, 53, 1, 5000, 10 * i)
        info = e.process(pkt, 1_000_000 + i, ocellus.Link.RAW)
        if from_src:
            out += 1
        else:
            inb += 1
        numPackets = info.getStatistic(ocellus.Statistic.PACKETS, ocellus.Direction.OUTBOUND) + \
            info.getStatistic(ocellus.Statistic.PACKETS, ocellus.Direction.INBOUND)
        assert numPackets == i + 1
        assert info.getStatistic(ocellus.Statistic.PACKETS, ocellus.Direction.OUTBOUND) == out
        assert info.getStatistic(ocellus.Statistic.PACKETS, ocellus.Direction.INBOUND) == inb
        assert info.direction == (ocellus.Direction.OUTBOUND if from_src
                                  else ocellus.Direction.INBOUND)
        assert info.new_flow == (i == 0)
        assert info.status == "ok" and info.skip is None
        assert info.flow.src_port == 5000 and info.flow.dst_addr == "10.0.0.2"
    skipped = e.process(b"\x00" * 10, 2_000_000, ocellus.Link.RAW)
    assert skipped.status == "skipped" and skipped.flow is None and skipped.skip
    with pytest.raises(ocellus.Error, match="not attributed"):
        skipped.getStatistic(ocellus.Statistic.PACKETS, ocellus.Direction.OUTBOUND)
    with pytest.raises(ValueError):
        e.process(udp4(1, 1, 2, 2, 1), 3_000_000, ocellus.Link.RAW).getStatistic(99, 0)


def test_per_packet_statistics_on_capture():
    """Per packet, outbound + inbound equals the packets this test gave that flow.

    The classic pcap file is parsed here by hand, independently of the module's reader."""
    path = capture("sample.pcap")
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    nano = magic in (0xa1b23c4d, 0x4d3cb2a1)
    link = struct.unpack(endian + "I", data[20:24])[0]
    e = ocellus.Engine()
    mine = {}
    off, checked = 24, 0
    while off + 16 <= len(data):
        sec, frac, caplen, wirelen = struct.unpack(endian + "IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + caplen]
        off += 16 + caplen
        ts = sec * 1_000_000 + (frac // 1000 if nano else frac)
        info = e.process(pkt, ts, link, wirelen)
        if info.flow is None:
            continue
        key = info.flow.id
        mine[key] = 1 if info.new_flow else mine.get(key, 0) + 1
        assert info.getStatistic(ocellus.Statistic.PACKETS, ocellus.Direction.OUTBOUND) + \
            info.getStatistic(ocellus.Statistic.PACKETS, ocellus.Direction.INBOUND) == mine[key]
        checked += 1
    assert checked > 0


# --- errors --------------------------------------------------------------------------------

class Boom(Exception):
    pass


class Failing(ocellus.FlowManager):
    def __init__(self, at):
        self.calls = 0
        self.at = at

    def onTermination(self, flow):
        self.calls += 1
        if self.calls == self.at:
            raise Boom(f"failed on flow {flow.id}")


def test_exception_in_on_termination_propagates_and_stops():
    path = capture("ndpi-1kxun.pcap")
    e = ocellus.Engine()
    fm = Failing(at=3)
    e.setFlowManager(fm)
    with pytest.raises(Boom, match="failed on flow"):
        e.processFile(path)
        e.flush()
    assert fm.calls == 3  # not called again after it raised
    # The engine stays stopped, as the C API's non-zero return says.
    info = e.process(udp4(1, 1, 2, 2, 1), 10**16, ocellus.Link.RAW)
    assert info.status == "stopped" and info.flow is None


def test_exception_in_on_termination_from_flush():
    e = ocellus.Engine()
    fm = Failing(at=2)
    e.setFlowManager(fm)
    for i in range(1, 5):
        e.process(udp4(i, 1000, 100, 53, 1), 1_000_000 + i, ocellus.Link.RAW)
    with pytest.raises(Boom):
        e.flush()
    assert fm.calls == 2


LEAK_SCENARIOS = """
import ocellus
class Boom(Exception):
    pass
class Failing(ocellus.FlowManager):
    def onTermination(self, flow):
        raise Boom("stop")
def scenarios(path, missing):
    e = ocellus.Engine()
    e.setFlowManager(Failing())
    try:
        e.processFile(path)
        e.flush()
    except Boom:
        pass
    reader = ocellus.flows(path)
    next(reader)
    del reader                      # abandoned half-way: capture and engine are freed
    try:
        ocellus.flows(missing)
    except FileNotFoundError:
        pass
    len(ocellus.flows(path, idle_timeout=5).to_records())
"""


def test_no_python_object_leak_on_error_paths(tmp_path):
    """Objects made by the module on its error paths are all released (tracemalloc)."""
    import gc
    import tracemalloc
    path = capture("ndpi-1kxun.pcap")
    ns = {}
    exec(LEAK_SCENARIOS, ns)
    missing = str(tmp_path / "missing.pcap")
    ns["scenarios"](path, missing)  # warm caches
    gc.collect()
    tracemalloc.start()
    try:
        ns["scenarios"](path, missing)
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(20):
            ns["scenarios"](path, missing)
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # One leaked Flow or exception per run would be 20 x several hundred bytes.
    assert growth < 4096, f"{growth} bytes kept after 20 runs"


def test_no_native_leak_on_error_paths(tmp_path):
    """ASan build only: LeakSanitizer finds nothing the module allocated and lost.

    Python objects all come from malloc (PYTHONMALLOC=malloc) so LSan sees every pointer;
    allocations made by the interpreter itself are suppressed by keeping 2 frames per stack
    and suppressing the interpreter's module, so what remains was allocated by our code."""
    rt = os.environ.get("OC_ASAN_PRELOAD")
    if not rt:
        pytest.skip("not an ASan build")
    path = capture("ndpi-1kxun.pcap")
    supp = tmp_path / "lsan.supp"
    supp.write_text("leak:python3\nleak:libpython3\n")
    code = LEAK_SCENARIOS + (
        "import ctypes, sys\n"
        f"for _ in range(3): scenarios({path!r}, {str(tmp_path / 'missing.pcap')!r})\n"
        "sys.exit(ctypes.CDLL(None).__lsan_do_recoverable_leak_check())\n")
    env = dict(os.environ, LD_PRELOAD=rt, PYTHONMALLOC="malloc",
               ASAN_OPTIONS="detect_leaks=1:malloc_context_size=2:verify_asan_link_order=0",
               LSAN_OPTIONS=f"suppressions={supp}:print_suppressions=0")
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-4000:]


def test_reentering_engine_from_callback_is_refused():
    e = ocellus.Engine()

    class Reenter(ocellus.FlowManager):
        def onTermination(self, flow):
            e.flush()

    e.setFlowManager(Reenter())
    e.process(udp4(1, 1, 2, 2, 1), 1_000_000, ocellus.Link.RAW)
    with pytest.raises(ocellus.Error, match="already running"):
        e.flush()


def test_missing_file_names_it(tmp_path):
    missing = str(tmp_path / "no-such-capture.pcap")
    with pytest.raises(FileNotFoundError, match="no-such-capture.pcap"):
        ocellus.flows(missing)
    with pytest.raises(FileNotFoundError, match="no-such-capture.pcap"):
        ocellus.Engine().processFile(missing)


def test_bad_file_and_options(tmp_path):
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"this is not a capture file at all" * 4)
    with pytest.raises(ocellus.Error, match="junk.pcap"):
        ocellus.flows(str(junk))
    with pytest.raises(ValueError, match="idle_timeout"):
        ocellus.flows(SAMPLE, idle_timeout=0)
    with pytest.raises(ValueError, match="tunnels"):
        ocellus.Engine(tunnels="sideways")
    with pytest.raises(ocellus.Error, match="filter"):
        ocellus.flows(SAMPLE, filter="tcp port banana")


def test_truncated_capture_yields_flows_then_raises(tmp_path):
    data = open(capture("ndpi-1kxun.pcap"), "rb").read()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[:len(data) // 2 + 7])
    got = []
    with pytest.raises(ocellus.Error, match="cut.pcap"):
        for f in ocellus.flows(str(cut)):
            got.append(f)
    assert got  # the flows read before the break were delivered


def test_filter_and_enums():
    assert [s.name for s in ocellus.Statistic][:2] == ["PACKETS", "OCTETS"]
    assert ocellus.Direction.OUTBOUND == 0 and ocellus.Direction.INBOUND == 1
    assert ocellus.EndReason.TCP == 3
    udp_only = ocellus.flows(SAMPLE, filter="udp").to_records()
    assert udp_only and all(r["protocolIdentifier"] == 17 for r in udp_only)


# --- the README's examples ----------------------------------------------------------------

def readme_block(lang):
    text = open(os.path.join(SRCDIR, "README.md"), encoding="utf-8").read()
    blocks = re.findall(r"^```" + lang + r"\n(.*?)^```$", text, re.S | re.M)
    if not blocks:
        pytest.fail(f"README.md has no {lang} example")
    return blocks


def test_readme_python_examples_run(monkeypatch, capsys):
    monkeypatch.chdir(SRCDIR)  # the examples name samples/sample.pcap
    for code in readme_block("python"):
        exec(compile(code, "README.md", "exec"), {"__name__": "__main__"})
    assert capsys.readouterr().out


def test_readme_cpp_example_builds_and_runs(tmp_path):
    cxx = os.environ.get("CXX") or shutil.which("c++")
    builddir = os.environ.get("top_builddir")
    if not cxx or not builddir:
        pytest.skip("no C++ compiler or build tree")
    src = tmp_path / "example.cpp"
    src.write_text(readme_block("cpp")[0])
    exe = tmp_path / "example"
    san = os.environ.get("OC_SAN_CFLAGS", "").split()
    libs = os.path.join(builddir, "src", ".libs")
    subprocess.run(cxx.split() + ["-std=c++17", "-Wall", "-Wextra", "-Werror", *san,
                   "-I" + os.path.join(SRCDIR, "src", "include"), str(src), "-o", str(exe),
                   "-L" + libs, "-locellus", "-lpcap", "-Wl,-rpath," + libs], check=True)
    run = subprocess.run([str(exe), SAMPLE], check=True, capture_output=True, text=True)
    assert "packets" in run.stdout
