"""Captured frames on one timeline: count, filter, look at, export, follow, draw.

Frames are stored as bytes and dissected by scapy only when looked at, so a capture of 100,000 frames
is cheap to hold and its table (head and tail) opens at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from netnb.capture.filters import matcher
from netnb.capture import pcapng
from netnb.capture.store import FrameStore
from netnb.errors import NetnbError
from netnb.model.state import CapturePoint  # noqa: F401  (where captures' points were found before)
from netnb.model.words import plural
from netnb.view.table import Table

if TYPE_CHECKING:
    from scapy.packet import Packet
    from scapy.plist import PacketList

    from netnb.capture.journey import Journey
    from netnb.view.picture import Picture


class Packets:
    """A sequence of captured frames (a whole capture or a filtered part of one)."""

    def __init__(self, store: FrameStore, indexes: list[int] | None = None, label: str = "") -> None:
        self._store = store
        self._indexes = indexes
        self._label = label

    # -- selection --------------------------------------------------------------------------
    def _ids(self) -> list[int]:
        return list(range(len(self._store.frames))) if self._indexes is None else self._indexes

    def __len__(self) -> int:
        return len(self._ids())

    def __getitem__(self, i: int) -> Packet:
        return self._store.packet(self._ids()[i])

    def __iter__(self) -> Iterator[Packet]:
        for i in self._ids():
            yield self._store.packet(i)

    def filter(self, expression: str) -> Packets:
        """The frames that match a tcpdump-style filter (``"icmp"``, ``"arp or tcp port 80"``...)."""
        keep_frame = matcher(expression)
        frames = self._store.frames
        keep = [i for i in self._ids() if keep_frame(frames[i].data)]
        return Packets(self._store, keep, f"{self._label} {expression}".strip())

    def at(self, where: Any) -> Packets:
        """The frames seen at one point: a node (any of its interfaces), ``"node:ifname"`` or a CapturePoint."""
        name = getattr(where, "name", None)
        if isinstance(where, CapturePoint):
            wanted = {i for i, p in enumerate(self._store.points) if p == where}
        elif isinstance(where, str) and ":" in where:
            wanted = {i for i, p in enumerate(self._store.points) if p.label == where}
        else:
            node = name if name is not None else str(where)
            wanted = {i for i, p in enumerate(self._store.points) if p.node == node}
        if not wanted:
            labels = ", ".join(p.label for p in self._store.points)
            raise NetnbError(f"{where!r} is not a point of this capture (its points: {labels})")
        frames = self._store.frames
        keep = [i for i in self._ids() if frames[i].point in wanted]
        return Packets(self._store, keep, f"{self._label} at {name or where}".strip())

    @property
    def packets(self) -> PacketList:
        """All frames dissected by scapy, in time order (each with .time, .sniffed_on, .direction)."""
        import netnb.capture.layers  # noqa: F401  (scapy loads when frames are first looked at, not to count them)
        from scapy.plist import PacketList

        return PacketList([self._store.packet(i) for i in self._ids()], name=self._label or "netnb")

    # -- looking ----------------------------------------------------------------------------
    def rows(self, ids: Sequence[tuple[int, int]]) -> list[list[str]]:
        """Table rows for (number, frame) pairs: No., time, point, direction, src, dst, protocol, length, info."""
        frames = self._store.frames
        t0 = frames[0].ts_ns if frames else 0
        out = []
        for n, i in ids:
            f = frames[i]
            s = _describe(self._store.packet(i))
            out.append([str(n + 1), f"{(f.ts_ns - t0) / 1e9:.6f}", self._store.points[f.point].label,
                        "out" if f.outgoing else "in", s.src, s.dst, s.protocol, str(f.wire_len), s.info])
        return out

    def table(self, head: int = 15, tail: int = 10) -> Table:
        """The packet table; long captures show their first ``head`` and last ``tail`` frames."""
        ids = list(enumerate(self._ids()))
        hidden = max(0, len(ids) - head - tail)
        shown = ids if not hidden else ids[:head] + ids[-tail:]
        columns = ["No.", "time", "point", "dir", "src", "dst", "protocol", "length", "info"]
        return Table(columns, self.rows(shown), title=self._title(), note=self._note(),
                     gap_at=head if hidden else None, hidden=hidden)

    def _title(self) -> str:
        return plural(len(self), "packet") + (f" ({self._label})" if self._label else "")

    def _note(self) -> str:
        return ""

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        return self.table()._repr_mimebundle_()

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self._title()}>"

    def __str__(self) -> str:
        return self.table().text()

    # -- exporting --------------------------------------------------------------------------
    def to_pcap(self, path: str) -> str:
        """Write the frames for Wireshark/tshark: pcapng (keeps point and direction) unless the name ends .pcap."""
        frames = self._store.frames
        if path.endswith(".pcap"):
            from scapy.utils import RawPcapWriter

            with RawPcapWriter(path, linktype=1, nano=True, sync=False) as w:
                w.write_header(None)  # written by write(), not by write_packet()
                for i in self._ids():
                    f = frames[i]
                    w.write_packet(f.data, sec=f.ts_ns // 1_000_000_000, usec=f.ts_ns % 1_000_000_000,
                                   wirelen=f.wire_len)
            return path
        with open(path, "wb") as out:
            pcapng.write_header(out.write, [p.label for p in self._store.points])
            for i in self._ids():
                f = frames[i]
                pcapng.write_epb(out.write, f.ts_ns, f.data, f.wire_len, f.outgoing, f.point)
        return path

    # -- following --------------------------------------------------------------------------
    def journey(self, pkt: Packet) -> Journey:
        """Where ``pkt`` (a packet of this capture) was seen, hop by hop, and which header fields changed."""
        from netnb.capture.journey import build_journey

        return build_journey(self._store, pkt)

    def ladder(self, limit: int = 40) -> Picture:
        """A sequence diagram: one column per node, one arrow per packet (first time it was seen); a
        picture that shows itself (``.figure`` is the matplotlib Figure, ``.savefig(...)`` saves it)."""
        from netnb.capture.ladder import ladder_picture

        return ladder_picture(self._store, self._ids(), limit, f"ladder of {self._title()}")


def _describe(pkt: Any) -> Any:
    from netnb.capture.dissect import describe

    return describe(pkt)
