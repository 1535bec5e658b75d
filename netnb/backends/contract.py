"""The Backend contract: everything a lab, its nodes, captures and the Docker layer need from whatever
carries a lab out — the Linux kernel today (:mod:`netnb.backends.kernel`), a simulation next.

Operations (``netnb.plan``) go in; typed records from :mod:`netnb.model` come out. Nothing here assumes
processes, sockets or threads: a "process" is a handle, a capture writes pcapng files into a folder,
and a backend decides how it does either.

>>> from netnb.backends.memory import MemoryBackend
>>> isinstance(MemoryBackend(), Backend)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from netnb.model.state import (
    CapturePoint,
    CommandResult,
    FdbEntry,
    InterfaceState,
    NeighbourEntry,
    ProcessEnd,
    ProcessState,
    RouteEntry,
    RouteLookup,
    SocketEntry,
)
from netnb.plan import Operation

#: Packets, frames seen by the kernel and kernel drops, per capture point label.
CaptureStats = dict[str, dict[str, int]]
Command = str | Sequence[str]


@runtime_checkable
class Backend(Protocol):
    """What carries out one lab at a time: ``start`` it, apply operations, act and read back, ``close``."""

    name: str

    # -- lifetime -------------------------------------------------------------------------------
    def check(self, operations: Sequence[Operation]) -> None:
        """Refuse, before anything exists, a plan this backend cannot carry out (a NetnbError saying why)."""

    def start(self, lab_name: str) -> None:
        """Get ready to build ``lab_name`` (an empty world, a private folder)."""

    def close(self) -> None:
        """End everything the lab has (safe to call twice, and after the backend died)."""

    @property
    def running(self) -> bool:
        """Between ``start`` and ``close``."""

    @property
    def folder(self) -> str:
        """A private folder for the lab's files while it runs, removed by ``close`` (``""`` before ``start``).
        Properties here never raise: ``isinstance(x, Backend)`` reads them."""

    @property
    def pid(self) -> int | None:
        """The process holding the lab, where there is one."""

    # -- building -------------------------------------------------------------------------------
    def apply(self, operations: Sequence[Operation]) -> float:
        """Carry out ``operations`` in order, all or none; returns the seconds it took inside the backend."""

    def undo(self, operations: Sequence[Operation]) -> None:
        """Carry out already-reversed operations (a teardown), going on past what is gone."""

    def wait_ready(self, timeout: float, ipv6: bool = False) -> float:
        """Return once every interface that is up carries packets; the seconds waited."""

    # -- running --------------------------------------------------------------------------------
    def run(self, node: str, command: Command, timeout: float | None, stdin: str | None) -> CommandResult:
        """Run a command in ``node`` to its end (a string runs under ``sh -c``)."""

    def popen(self, node: str, command: Command) -> tuple[int, int]:
        """Start a command in the background: its (pid, handle)."""

    def write_files(self, node: str, files: Sequence[tuple[str, bytes | None, int]]) -> None:
        """Write ``(path, content, mode)`` files into the node's own view of the filesystem, never the machine's
        (``content`` None: a folder)."""

    def read_file(self, node: str, path: str) -> bytes:
        """A file as the node sees it."""

    def share(self, node: str, name: str, at: str) -> None:
        """Make the lab's shared folder ``name`` appear at ``at`` in the node's own view: every node given the
        same name sees the same files there (the kernel backend keeps it as ``shares/NAME`` in the lab's
        folder)."""

    def process_state(self, handle: int) -> ProcessState:
        """Whether a background command still runs."""

    def process_output(self, handle: int) -> str:
        """What a background command wrote so far."""

    def process_stop(self, handle: int, timeout: float) -> ProcessEnd:
        """End a background command (politely, then not); its status and output."""

    def request(self, handle: int, message: dict[str, Any], timeout: float) -> Any:
        """Exchange one message with a background program that serves requests (a VM's guest, started with
        ``--control PATH``): its JSON-able answer, or a NetnbError when it does not answer in time."""

    # -- reading back ---------------------------------------------------------------------------
    def interfaces(self, node: str) -> list[InterfaceState]:
        """The node's interfaces now."""

    def all_interfaces(self) -> dict[str, list[InterfaceState]]:
        """Every node's interfaces now, in one go."""

    def routes(self, node: str) -> list[RouteEntry]:
        """The node's main IPv4 routing table."""

    def neighbours(self, node: str) -> list[NeighbourEntry]:
        """The node's ARP table."""

    def fdb(self, node: str, bridge: str) -> list[FdbEntry]:
        """A bridge's forwarding table (local entries included)."""

    def listening(self, node: str) -> list[SocketEntry]:
        """Sockets of the node waiting for peers."""

    def route_get(self, node: str, dest: str) -> RouteLookup:
        """How the node would send to ``dest``."""

    def firewall(self, node: str, argv: Sequence[str]) -> str:
        """``iptables`` with ``argv`` in the node (``["save"]``: ``iptables-save``), counters included."""

    def namespace_inodes(self) -> dict[str, int]:
        """An identity per node (the kernel: its network namespace's inode)."""

    # -- packets --------------------------------------------------------------------------------
    def send(self, node: str, frame: bytes, *, ifname: str | None = None, dest: str | None = None,
             count: int = 1) -> None:
        """Send an Ethernet frame out of ``ifname``, or an IPv4 packet to ``dest`` through the node's routing."""

    def capture_start(self, points: Sequence[CapturePoint], filter: str | None,
                      directory: str, ring_mib: int) -> tuple[int, list[str]]:
        """Record at ``points`` the frames ``filter`` (tcpdump syntax, None: all) keeps, into one pcapng file each
        in ``directory``: (capture id, file paths)."""

    def capture_stats(self, ident: int) -> CaptureStats:
        """What a running capture has recorded so far."""

    def capture_stop(self, ident: int) -> tuple[CaptureStats, str | None]:
        """Stop, once every frame received is in the files: final counts, and an error if recording failed."""
