"""The ocellus flow engine, in-process.

Two shapes of the same engine (the packet loop always runs in C):

Peafowl's::

    class FlowManagerPy(ocellus.FlowManager):
        def onTermination(self, flow):
            print(flow.getStatistic(ocellus.Statistic.PACKETS, ocellus.Direction.OUTBOUND))

    e = ocellus.Engine(idle_timeout=30)
    e.setFlowManager(FlowManagerPy())
    e.processFile("capture.pcap")      # or e.process(data, ts_us, link) per packet
    e.flush()

The analyst's::

    for flow in ocellus.flows("capture.pcap", idle_timeout=30):
        print(flow.src_addr, flow.dst_port, flow.statistics["OCTETS"])
    records = ocellus.flows("capture.pcap").to_records()   # dicts keyed like `-o json:`
"""

import enum

from ._ocellus import Engine, Error, Flow, FlowReader, PacketInfo, VERSION
from . import _ocellus

__all__ = ["Direction", "EndReason", "Engine", "Error", "Flow", "FlowManager", "FlowReader",
           "Link", "PacketInfo", "Statistic", "VERSION", "flows"]
__version__ = VERSION

#: Per-direction statistics, mirroring OC_STAT_* (Peafowl's pfwl.Statistic).
Statistic = enum.IntEnum("Statistic", [(n, i) for i, n in enumerate(_ocellus.STATISTICS)],
                         module=__name__)
#: OUTBOUND: source -> destination of the flow; INBOUND: the reverse.
Direction = enum.IntEnum("Direction", [(n, i) for i, n in enumerate(_ocellus.DIRECTIONS)],
                         module=__name__)
#: Why a flow record ended; the values are IPFIX flowEndReason.
EndReason = enum.IntEnum("EndReason", [(n, i) for i, n in enumerate(_ocellus.END_REASONS)],
                         module=__name__)
#: Link types for Engine.process(); the values are libpcap DLT numbers.
Link = enum.IntEnum("Link", sorted(_ocellus.LINKS.items(), key=lambda kv: kv[1]),
                    module=__name__)

_ocellus._set_enums(Statistic, Direction, EndReason)


class FlowManager:
    """Receives each flow as it ends: subclass it and override onTermination().

    onTermination(flow) runs during the Engine call that ends the flow. If it raises, the
    engine stops (every later call reports it stopped) and the exception propagates out of
    that Engine call.
    """

    def onTermination(self, flow):  # noqa: N802 (Peafowl's name)
        pass


def flows(path, filter=None, **options):
    """Iterates the flows of a capture file (pcap or pcapng) as ocellus.Flow objects.

    The file is read with libpcap in C and the engine runs in C; Python sees one Flow per
    finished flow record, in the order the engine ends them, the end-of-input flush included.
    `filter` is a BPF expression; the other keyword arguments are Engine's (idle_timeout=30,
    active_timeout=300, tcp_linger=2, max_flows, max_record_octets, tunnels='inner',
    max_frag_datagrams, frag_timeout). The result also has to_records(): plain dicts keyed
    like the command's JSON output. A missing file raises FileNotFoundError, other capture
    problems ocellus.Error, both naming the file.
    """
    return FlowReader(path, filter, Engine(**options))
