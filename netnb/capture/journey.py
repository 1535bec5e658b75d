"""The journey of one packet: every point where it was seen, in order, and what changed between hops.

A packet is recognised at each point by what routers and NAT leave alone (IP id, ICMP echo sequence,
TCP sequence numbers, a hash of the payload; see ``dissect.identity``), not by luck.
"""

from __future__ import annotations

from dataclasses import dataclass

from netnb.capture.dissect import header_fields, identity
from netnb.capture.layers import Packet
from netnb.capture.store import FrameStore
from netnb.errors import NetnbError, UsageError
from netnb.view.table import Table

_COLUMNS = ["eth.src", "eth.dst", "ip.src", "ip.dst", "ip.ttl", "tcp.sport", "tcp.dport", "udp.sport",
            "udp.dport", "icmp.id", "tunnel"]


@dataclass(frozen=True)
class Hop:
    """One sighting: where, when, which way, and the header fields there."""

    point: str
    time: float
    outgoing: bool
    fields: dict[str, str]


@dataclass(frozen=True)
class Change:
    """A header field that differs between two consecutive sightings."""

    hop: int
    field: str
    before: str
    after: str


class Journey:
    """The hops of one packet; ``changes`` lists what was rewritten on the way (MACs, TTL, NAT)."""

    def __init__(self, hops: list[Hop]) -> None:
        self.hops = hops

    @property
    def points(self) -> list[str]:
        """The points in the order the packet passed them."""
        return [h.point for h in self.hops]

    @property
    def changes(self) -> list[Change]:
        """Every field change between consecutive hops."""
        out = []
        for i in range(1, len(self.hops)):
            before, after = self.hops[i - 1].fields, self.hops[i].fields
            for key in sorted(set(before) | set(after), key=lambda k: (k != "tunnel", k)):
                if key in before and key in after and before[key] != after[key]:
                    out.append(Change(i, key, before[key], after[key]))
                elif key == "tunnel":
                    out.append(Change(i, key, before.get(key, "-"), after.get(key, "-")))
        return out

    def changed(self, field: str) -> list[tuple[str, str]]:
        """The (before, after) values of ``field`` wherever it changed, e.g. ``changed("ip.src")``."""
        return [(c.before, c.after) for c in self.changes if c.field == field]

    def table(self) -> Table:
        """Hops as rows; changed fields are highlighted."""
        cols = [c for c in _COLUMNS if any(c in h.fields for h in self.hops)]
        t0 = self.hops[0].time if self.hops else 0.0
        rows = [[str(i + 1), f"{(h.time - t0) * 1e6:.0f} µs", h.point, "out" if h.outgoing else "in",
                 *[h.fields.get(c, "") for c in cols]] for i, h in enumerate(self.hops)]
        marks = {(c.hop, 4 + cols.index(c.field)) for c in self.changes if c.field in cols}
        changes = ", ".join(f"{c.field} {c.before}→{c.after} at hop {c.hop + 1}" for c in self.changes
                            if not c.field.startswith("eth.") and c.field != "ip.ttl")
        return Table(["hop", "after", "point", "dir", *cols], rows, title=f"journey over {len(self.hops)} hops",
                     note=f"rewritten: {changes}" if changes else "no address or port was rewritten",
                     highlight=marks)

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        return self.table()._repr_mimebundle_()

    def __repr__(self) -> str:
        return f"<Journey {' → '.join(self.points)}>"

    def __str__(self) -> str:
        return self.table().text()


def build_journey(store: FrameStore, pkt: Packet) -> Journey:
    """Find every sighting of ``pkt`` in ``store``."""
    if not isinstance(pkt, Packet):
        raise UsageError(f"follow a packet of the capture, e.g. cap.journey(cap.filter('icmp')[0]), not {pkt!r}")
    key = identity(pkt)
    if key is None:
        raise NetnbError("this packet carries nothing to follow it by (not IPv4 or ARP)")
    hops = []
    for i, frame in enumerate(store.frames):
        if _cheap_mismatch(frame.data, key):
            continue
        other = store.packet(i)
        if identity(other) == key:
            hops.append(Hop(store.points[frame.point].label, frame.ts_ns / 1e9, frame.outgoing, header_fields(other)))
    if not hops:
        raise NetnbError("this packet was not seen at any point of this capture: follow a packet of the capture "
                         "itself, e.g. cap.journey(cap.filter('icmp')[0])")
    return Journey(hops)


def _cheap_mismatch(data: bytes, key: tuple[object, ...]) -> bool:
    """Skip frames whose raw IPv4 id differs without dissecting them (journeys over big captures)."""
    if key[0] in ("icmp", "tcp", "udp", "ip") and len(data) >= 24 and data[12:14] == b"\x08\x00":
        if data[23] == 17:
            return False  # UDP may carry a tunnelled copy (VXLAN): look inside
        return int.from_bytes(data[18:20], "big") != key[1]
    return False
