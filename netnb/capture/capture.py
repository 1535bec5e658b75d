"""A capture: recording at any number of points of a running lab, in the background, losing nothing.

The agent records (see ``backends/kernel/recorder.py``); this side reads the spool files when asked,
merges the points on one timeline and dissects lazily.

Example (``lab`` running)::

    with lab.capture(lab["C"], lab["sw"]) as cap:
        lab["A"].ping(lab["B"], count=3)
    cap.filter("icmp"), cap.at(lab["C"]), cap.to_pcap("x.pcapng")
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from netnb.capture.filters import matcher
from netnb.capture.packets import Packets
from netnb.capture.store import FrameStore
from netnb.capture.spool import SpoolReader
from netnb.errors import LabStateError, NetnbError
from netnb.model.state import InterfaceState
from netnb.model.words import plural

if TYPE_CHECKING:
    from netnb.lab import Lab


#: Ring memory per point: a capture of one point gets the most (lossless at ~190k packets/s here), a
#: capture of many shares CAPTURE_TOTAL_MIB, none gets less than MIN_RING_MIB. The kernel pins it while
#: the capture runs, so a lab's running captures together stay within ``Lab(capture_memory=...)``.
MAX_RING_MIB, MIN_RING_MIB, CAPTURE_TOTAL_MIB = 64, 2, 128


def ring_size(points: int, left_mib: int) -> int:
    """MiB of ring per point for a capture of ``points`` points, with ``left_mib`` of the lab's budget
    left; 0 when even the smallest rings do not fit.

    >>> ring_size(1, 256), ring_size(8, 256), ring_size(32, 256), ring_size(32, 40)
    (64, 16, 4, 0)
    """
    each = min(MAX_RING_MIB, CAPTURE_TOTAL_MIB // max(points, 1), left_mib // max(points, 1))
    return each if each >= MIN_RING_MIB else 0


class Capture(Packets):
    """Frames recorded at points of a running lab. ``with`` starts and stops it; so do start()/stop()."""

    def __init__(self, lab: Lab, targets: Sequence[Any], filter: str | None = None, *,
                 remember_owners: bool = True, ring_mib: int | None = None) -> None:
        self.lab = lab
        #: Ring memory per point (MiB): decided at start() from the points and the lab's budget if None.
        self.ring_mib = ring_mib
        self.pinned_mib = 0  # what the kernel holds for it while it runs
        self.remember_owners = remember_owners  # read who owns each MAC at stop, for a ladder drawn later
        self.targets = list(targets)
        self.expression = filter
        self.stats: dict[str, dict[str, int]] = {}
        self._ident: int | None = None
        self._readers: list[SpoolReader] = []
        self._dir: str | None = None
        super().__init__(FrameStore([]), None, filter or "")

    @property
    def running(self) -> bool:
        """True between start() and stop()."""
        return self._ident is not None

    def start(self) -> Capture:
        """Start recording (in the background: it keeps running between notebook cells)."""
        if self.running:
            raise LabStateError("this capture is running already")
        backend = self.lab.live()
        points = self.lab.capture_points(self.targets)
        if self.expression:
            matcher(self.expression)  # a filter nobody can read fails here, before anything starts
        ring = self.ring_mib
        if ring is None:
            in_use = sum(c.pinned_mib for c in self.lab.captures if c.running)
            ring = ring_size(len(points), self.lab.capture_memory - in_use)
            if not ring:
                raise NetnbError(
                    f"a capture at {plural(len(points), 'point')} needs at least "
                    f"{len(points) * MIN_RING_MIB} MiB of kernel memory for its rings, and lab "
                    f"{self.lab.name!r} has {self.lab.capture_memory - in_use} MiB of its capture budget left "
                    f"(running captures hold {in_use} MiB of {self.lab.capture_memory}): stop one, capture at "
                    f"fewer points, or give the lab more with Lab(..., capture_memory=MiB)")
        self._dir = tempfile.mkdtemp(prefix="capture-", dir=self.lab.folder)
        weakref.finalize(self, shutil.rmtree, self._dir, True)
        self._store = FrameStore(points)
        self._indexes = None
        self._store.owner_loader = self._owners
        try:
            ident, paths = backend.capture_start(points, self.expression or None, self._dir, ring)
        except BaseException:
            shutil.rmtree(self._dir, ignore_errors=True)
            raise
        self._ident = ident
        self.pinned_mib = ring * len(points)
        self._readers = [SpoolReader(path, i) for i, path in enumerate(paths)]
        return self

    def refresh(self) -> Capture:
        """Read what was recorded since the last look (a running capture keeps growing)."""
        self._store.add([r.read_new() for r in self._readers])
        if self._ident is not None:
            self.stats = self.lab.live().capture_stats(self._ident)
        return self

    def stop(self) -> Capture:
        """Stop recording; returns once every frame the kernel had received is stored."""
        if self._ident is None:
            return self
        ident, self._ident = self._ident, None
        self.pinned_mib = 0
        if not self.lab.running:  # the lab (and its recorder) went first: keep what reached the spool
            self._store.add([r.read_new() for r in self._readers])
            return self
        self.stats, error = self.lab.live().capture_stop(ident)
        if self.remember_owners:
            self._store.owners()  # while the lab still runs: MACs are known only to its kernel
        self._store.add([r.read_new() for r in self._readers])
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)  # every frame is in memory now
        if error:
            raise NetnbError(f"the capture failed while recording: {error}")
        return self

    def __enter__(self) -> Capture:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _owners(self) -> dict[str, str]:
        """Who owns each address, for the ladder: read from the kernel (one call for the whole lab) when
        the ladder is first drawn, not at every start (sr1 starts a capture per packet)."""
        if self.lab.running:
            return _owners_of(self.lab.live().all_interfaces())
        return {str(a.ip): n.name for n in self.lab.resolved().nodes for a in n.addresses}

    @property
    def dropped(self) -> int:
        """Frames the kernel dropped because the ring was full (0 means nothing was lost)."""
        return sum(s.get("kernel_drops", 0) for s in self.stats.values())

    def _note(self) -> str:
        state = (f"recording with {self.pinned_mib} MiB of kernel ring memory… (cap.refresh() shows more)"
                 if self.running else "stopped")
        drops = f"; the kernel DROPPED {plural(self.dropped, 'frame')}" if self.dropped else "; no frame was dropped"
        return f"{plural(len(self._store.points), 'point')}, {state}{drops if self.stats else ''}"


def _owners_of(links_by_node: dict[str, list[InterfaceState]]) -> dict[str, str]:
    owners: dict[str, str] = {}
    for node, links in links_by_node.items():
        for link in links:
            if link.mac and link.name != "lo":
                owners.setdefault(link.mac, node)
            for cidr in link.addresses:
                owners.setdefault(cidr.split("/")[0], node)
    return owners
