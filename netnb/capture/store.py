"""The frames of one capture on one timeline, dissected by scapy only when looked at.

Below the packet sets, journeys and ladders, which all read it (so none of them imports another).

>>> from netnb.model.state import CapturePoint
>>> store = FrameStore([CapturePoint("A", "eth0")]); len(store.frames)
0
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence

from typing import TYPE_CHECKING

from netnb.capture.pcapng import Frame
from netnb.model.state import CapturePoint

if TYPE_CHECKING:
    from scapy.packet import Packet


class FrameStore:
    """Frames of one capture in time order, with a cache of dissected packets."""

    def __init__(self, points: Sequence[CapturePoint]) -> None:
        self.points = list(points)
        self.frames: list[Frame] = []
        self._dissected: dict[int, Packet] = {}
        self.owner_loader: Callable[[], dict[str, str]] | None = None
        self._owners: dict[str, str] | None = None

    def owners(self) -> dict[str, str]:
        """IP or MAC -> node name (for the ladder), read once, on first use."""
        if self._owners is None:
            self._owners = self.owner_loader() if self.owner_loader is not None else {}
        return self._owners

    def add(self, batches: Sequence[list[Frame]]) -> None:
        """Merge new frames from every point into the timeline."""
        new = list(heapq.merge(*[sorted(b, key=lambda f: f.ts_ns) for b in batches if b], key=lambda f: f.ts_ns))
        if not new:
            return
        if self.frames and new[0].ts_ns < self.frames[-1].ts_ns:
            self.frames = sorted(self.frames + new, key=lambda f: f.ts_ns)
            self._dissected.clear()
        else:
            self.frames.extend(new)

    def packet(self, index: int) -> Packet:
        """Frame ``index`` dissected by scapy, with time, point and direction attached."""
        pkt = self._dissected.get(index)
        if pkt is None:
            frame = self.frames[index]
            # Only when a frame is looked at (counting and filtering need no scapy); importing the
            # layers netnb reads (IP, ARP, VXLAN...) binds them under Ether.
            from netnb.capture.layers import Ether

            pkt = Ether(frame.data)
            pkt.time = frame.ts_ns / 1e9
            pkt.sniffed_on = self.points[frame.point].label
            pkt.direction = 2 if frame.outgoing else 1  # pcapng: 1 inbound, 2 outbound
            pkt.netnb_index = index
            self._dissected[index] = pkt
        return pkt
