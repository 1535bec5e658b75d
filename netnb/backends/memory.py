"""An in-memory backend that records what it is asked and keeps the state the operations describe.

For tests of everything above the contract (the lab, its nodes, captures' plumbing, the Docker layer)
without root, and as the seed of the simulated backend. It does not move packets: reads of interfaces,
addresses, routes and bridges answer from the operations applied; commands answer what ``responder``
says (by default: exit status 0, no output), background commands listen where ``services`` says (by
default nowhere), and every call is kept in ``calls``.

>>> import netnb
>>> lab = netnb.Lab("demo", backend=MemoryBackend())
>>> a, b = lab.host("A"), lab.host("B")
>>> _ = lab.link(a, b, ip=("10.0.0.1/24", "10.0.0.2/24"))
>>> with lab:
...     [i.addresses for i in a.interfaces() if i.name == "eth0"]
[('10.0.0.1/24',)]
"""

from __future__ import annotations

import ipaddress
import itertools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from netnb.backends.contract import CaptureStats, Command
from netnb.backends.kernel import registry
from netnb.errors import BackendError, LabStateError, NetnbError
from netnb.model import checks
from netnb.model.state import (
    CapturePoint,
    CommandResult,
    FdbEntry,
    InterfaceState,
    NeighbourEntry,
    Nexthop,
    ProcessEnd,
    ProcessState,
    RouteEntry,
    RouteLookup,
    SocketEntry,
)
from netnb.plan import (
    AddAddress,
    AddBridge,
    AddNamespace,
    AddRoute,
    AddTap,
    AddVeth,
    AddVxlan,
    DelAddress,
    DelIptablesChain,
    DelIptablesRule,
    DelLink,
    DelNamespace,
    DelRoute,
    DelVeth,
    IptablesChain,
    IptablesPolicy,
    IptablesRule,
    Operation,
    SetLinkState,
)

#: ``responder(node, command_text, stdin)`` -> (rc, stdout, stderr)
Responder = Callable[[str, str, "str | None"], "tuple[int, str, str]"]
#: ``services(node, command_text)`` -> what a background command listens on once started: [("tcp", 80)]
Services = Callable[[str, str], "Sequence[tuple[str, int]]"]


@dataclass
class _Link:
    name: str
    kind: str
    index: int
    mac: str
    up: bool = False
    mtu: int = 1500
    master: str | None = None
    addresses: list[str] = field(default_factory=list)
    peer: tuple[str, str] | None = None


@dataclass
class _Node:
    links: dict[str, _Link] = field(default_factory=dict)
    routes: list[AddRoute] = field(default_factory=list)
    rules: list[IptablesRule] = field(default_factory=list)
    chains: list[tuple[str, str]] = field(default_factory=list)  # user chains: (table, name)
    policies: dict[tuple[str, str], str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)


class MemoryBackend:
    """Records every call; answers read-backs from the state the applied operations describe."""

    name = "memory"

    def __init__(self, responder: Responder | None = None, services: Services | None = None) -> None:
        self.responder = responder
        self.services = services
        #: Every call made, in order: (method, arguments).
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.applied: list[Operation] = []
        self.nodes: dict[str, _Node] = {}
        self._running = False
        self._folder = ""
        self._index = itertools.count(2)
        self._macs = itertools.count(1)
        self._handles = itertools.count(1)
        self._processes: dict[int, tuple[str, str, ProcessEnd | None]] = {}
        self._sockets: dict[int, list[SocketEntry]] = {}
        self._captures = itertools.count(1)
        #: Shared folders: name -> the (node, place) pairs that see it, and what it holds (path -> content).
        self.shares: dict[str, set[tuple[str, str]]] = {}
        self.share_files: dict[str, dict[str, bytes]] = {}

    def _note(self, method: str, *args: Any) -> None:
        self.calls.append((method, args))

    def _live(self) -> None:
        if not self._running:
            raise LabStateError("the lab is not running; start it first (lab.start() or `with lab:`)")

    def _node(self, node: str) -> _Node:
        self._live()
        try:
            return self.nodes[node]
        except KeyError:
            raise NetnbError(f"no node {node!r} in this lab") from None

    # -- lifetime -------------------------------------------------------------------------------
    def check(self, operations: Sequence[Operation]) -> None:
        self._note("check", len(operations))

    def start(self, lab_name: str) -> None:
        self._note("start", lab_name)
        self.nodes, self.applied = {}, []
        self._folder = registry.make_lab_folder(os.getpid(), registry.process_start_time(os.getpid()) or 0)
        self._running = True

    def close(self) -> None:
        if self._running:
            self._note("close")
        self._running = False
        if self._folder:
            registry.remove_lab_folder(self._folder)
            self._folder = ""

    @property
    def running(self) -> bool:
        return self._running

    @property
    def folder(self) -> str:
        return self._folder

    @property
    def pid(self) -> int | None:
        return os.getpid() if self._running else None

    # -- building -------------------------------------------------------------------------------
    def apply(self, operations: Sequence[Operation]) -> float:
        self._live()
        self._note("apply", tuple(operations))
        for op in operations:
            self._do(op)
            self.applied.append(op)
        return 0.0

    def undo(self, operations: Sequence[Operation]) -> None:
        self._live()
        self._note("undo", tuple(operations))
        for op in operations:
            try:
                self._do(op)
            except NetnbError:
                pass  # a teardown goes on past what is gone

    def _do(self, op: Operation) -> None:
        if isinstance(op, AddNamespace):
            if op.node in self.nodes:
                raise BackendError(f"namespace {op.node!r} exists already")
            # As in the kernel: a new namespace's lo is down, and gets 127.0.0.1/8 when it first comes up.
            self.nodes[op.node] = _Node({"lo": _Link("lo", "loopback", 1, "00:00:00:00:00:00", False, 65536)})
            return
        if isinstance(op, DelNamespace):
            self.nodes.pop(op.node, None)
            return
        node = self._node(op.node)
        # As the kernel backend does: a device comes up as it is made (both ends of a veth pair).
        if isinstance(op, AddVeth):
            peer = self._node(op.peer_node)
            node.links[op.ifname] = _Link(op.ifname, "veth", next(self._index), op.mac or self._mac(), True,
                                          op.mtu or 1500,
                                          master=op.master, peer=(op.peer_node, op.peer_ifname))
            peer.links[op.peer_ifname] = _Link(op.peer_ifname, "veth", next(self._index), op.peer_mac or self._mac(),
                                               True, op.mtu or 1500, master=op.peer_master,
                                               peer=(op.node, op.ifname))
        elif isinstance(op, (AddBridge, AddTap)):
            kind = "bridge" if isinstance(op, AddBridge) else "tun"
            node.links[op.ifname] = _Link(op.ifname, kind, next(self._index), self._mac(), True,
                                          master=getattr(op, "master", None))
        elif isinstance(op, AddVxlan):  # made from the underlay, it lives with the overlay's bridge
            self._node(op.home).links[op.ifname] = _Link(op.ifname, "vxlan", next(self._index), self._mac(), True,
                                                         mtu=1450, master=op.master)
        elif isinstance(op, DelLink):
            home = self._node(op.home)
            gone = home.links.pop(op.ifname, None)
            if gone is None:
                raise BackendError(f"node {op.home!r} has no interface {op.ifname!r}")
            if isinstance(op, DelVeth) and gone.peer is not None and gone.peer[0] in self.nodes:
                self.nodes[gone.peer[0]].links.pop(gone.peer[1], None)
        elif isinstance(op, SetLinkState):
            link = self._link(node, op.node, op.ifname)
            link.up = op.up
            if link.kind == "loopback" and op.up and "127.0.0.1/8" not in link.addresses:
                link.addresses.append("127.0.0.1/8")  # (and it stays when lo goes down again)
        elif isinstance(op, AddAddress):
            self._link(node, op.node, op.ifname).addresses.append(op.cidr)
        elif isinstance(op, DelAddress):
            link = self._link(node, op.node, op.ifname)
            link.addresses = [a for a in link.addresses if a != op.cidr]
        elif isinstance(op, AddRoute):
            node.routes.append(op)
        elif isinstance(op, DelRoute):
            node.routes = [r for r in node.routes if (r.dest, r.via, r.dev) != (op.dest, op.via, op.dev)]
        elif isinstance(op, IptablesRule):
            if op.position is None:
                node.rules.append(op)
            else:  # -I CHAIN N: before the N-th rule of that chain
                mine = [i for i, r in enumerate(node.rules) if (r.table, r.chain) == (op.table, op.chain)]
                at = mine[op.position - 1] if op.position - 1 < len(mine) else len(node.rules)
                node.rules.insert(at, op)
        elif isinstance(op, DelIptablesRule):
            same = [i for i, r in enumerate(node.rules) if (r.table, r.chain, r.args) == (op.table, op.chain, op.args)]
            if not same:
                raise BackendError(f"node {op.node!r}: no rule {' '.join(op.args)!r} in {op.table}/{op.chain}")
            del node.rules[same[0]]
        elif isinstance(op, IptablesChain):
            if (op.table, op.chain) in node.chains:
                raise BackendError(f"iptables: chain {op.chain} already exists in table {op.table}")
            node.chains.append((op.table, op.chain))
        elif isinstance(op, DelIptablesChain):
            if (op.table, op.chain) not in node.chains:
                raise BackendError(f"iptables: no chain {op.chain} in table {op.table}")
            node.chains.remove((op.table, op.chain))
        elif isinstance(op, IptablesPolicy):  # built-in chains start at ACCEPT: only other policies are kept
            if op.policy == "ACCEPT":
                node.policies.pop((op.table, op.chain), None)
            else:
                node.policies[(op.table, op.chain)] = op.policy
        # sysctls, FDB entries, bridge port options: recorded in `applied`, nothing to keep

    @staticmethod
    def _link(node: _Node, name: str, ifname: str) -> _Link:
        try:
            return node.links[ifname]
        except KeyError:
            raise BackendError(f"node {name!r} has no interface {ifname!r}") from None

    def _mac(self) -> str:
        return "02:00:" + ":".join(f"{b:02x}" for b in next(self._macs).to_bytes(4, "big"))

    def wait_ready(self, timeout: float, ipv6: bool = False) -> float:
        self._live()
        self._note("wait_ready", timeout, ipv6)
        return 0.0

    # -- running --------------------------------------------------------------------------------
    def run(self, node: str, command: Command, timeout: float | None, stdin: str | None) -> CommandResult:
        self._node(node)
        text = command if isinstance(command, str) else " ".join(command)
        self._note("run", node, text, timeout, stdin)
        rc, out, err = self.responder(node, text, stdin) if self.responder else (0, "", "")
        return CommandResult(node, text, rc, out, err, 0.0)

    def popen(self, node: str, command: Command) -> tuple[int, int]:
        self._node(node)
        text = command if isinstance(command, str) else " ".join(command)
        self._note("popen", node, text)
        handle = next(self._handles)
        self._processes[handle] = (node, text, None)
        self._sockets[handle] = [SocketEntry(proto, "0.0.0.0", port)
                                 for proto, port in (self.services(node, text) if self.services else [])]
        return 1000 + handle, handle

    def _store(self, node: str, path: str) -> tuple[dict[str, bytes], str]:
        """Where ``path`` of ``node`` is kept: a shared folder it sees (by the path inside it), or its own."""
        for name, seen in self.shares.items():
            for who, at in seen:
                if who == node and (path == at or path.startswith(at + "/")):
                    return self.share_files.setdefault(name, {}), path[len(at):]
        return self._node(node).files, path

    def write_files(self, node: str, files: Sequence[tuple[str, bytes | None, int]]) -> None:
        self._note("write_files", node, [path for path, _, _ in files])
        self._node(node)
        for path, data, _ in files:
            if data is not None:
                store, key = self._store(node, checks.file_path(path))
                store[key] = data

    def share(self, node: str, name: str, at: str) -> None:
        self._note("share", node, name, at)
        self._node(node)
        self.shares.setdefault(name, set()).add((node, checks.file_path(at)))

    def read_file(self, node: str, path: str) -> bytes:
        self._note("read_file", node, path)
        store, key = self._store(node, checks.file_path(path))
        try:
            return store[key]
        except KeyError:
            raise NetnbError(f"cannot read {path} in node {node!r}: No such file or directory") from None

    def _process(self, handle: int) -> tuple[str, str, ProcessEnd | None]:
        try:
            return self._processes[handle]
        except KeyError:
            raise NetnbError(f"no background process with handle {handle} in this lab") from None

    def process_state(self, handle: int) -> ProcessState:
        self._note("process_state", handle)
        _, _, end = self._process(handle)
        return ProcessState(end is None, end.rc if end else None)

    def process_output(self, handle: int) -> str:
        self._note("process_output", handle)
        _, _, end = self._process(handle)
        return end.output if end else ""

    def process_stop(self, handle: int, timeout: float) -> ProcessEnd:
        self._note("process_stop", handle, timeout)
        node, text, end = self._process(handle)
        end = end or ProcessEnd(-15, "")
        self._processes[handle] = (node, text, end)
        self._sockets.pop(handle, None)
        return end

    def request(self, handle: int, message: dict[str, Any], timeout: float) -> Any:
        self._note("request", handle, message, timeout)
        self._process(handle)
        raise NetnbError(f"background process {handle} serves no requests here (the memory backend runs no programs)")

    # -- reading back ---------------------------------------------------------------------------
    def interfaces(self, node: str) -> list[InterfaceState]:
        self._note("interfaces", node)
        n = self._node(node)
        out = []
        for link in n.links.values():
            peer_index = None
            if link.peer is not None and link.peer[0] in self.nodes:
                other = self.nodes[link.peer[0]].links.get(link.peer[1])
                peer_index = other.index if other else None
            # As the kernel reports them (checked by tests/kernel/test_backends_agree.py): loopback says
            # UNKNOWN; a bridge says UP once settled (the kernel says UNKNOWN until its link watch ran).
            state = ("UNKNOWN" if link.kind == "loopback" else "UP") if link.up else "DOWN"
            out.append(InterfaceState(link.name, link.index, link.kind, link.mac, state, link.mtu,
                                      tuple(link.addresses), link.master, peer_index))
        return out

    def all_interfaces(self) -> dict[str, list[InterfaceState]]:
        self._note("all_interfaces")
        self._live()
        return {node: self.interfaces(node) for node in self.nodes}

    def routes(self, node: str) -> list[RouteEntry]:
        self._note("routes", node)
        n = self._node(node)
        out = []
        for link in n.links.values():
            for cidr in link.addresses:
                iface = ipaddress.ip_interface(cidr)
                if link.kind != "loopback" and link.up:
                    out.append(RouteEntry(str(iface.network), None, link.name, "kernel", "link", str(iface.ip)))
        for r in n.routes:
            dest = r.dest if r.dest != "0.0.0.0/0" else "default"
            if r.nexthops:
                out.append(RouteEntry(dest, None, None, "static", "global", None, tuple(
                    Nexthop(hop, r.dev or self._via(n, hop)) for hop in r.nexthops)))
                continue
            dev = r.dev or (self._via(n, r.via) if r.via else None)
            out.append(RouteEntry(dest, r.via, dev, "static", "global" if r.via else "link"))
        return out

    @staticmethod
    def _via(n: _Node, via: str) -> str | None:
        """The interface whose subnet holds the gateway ``via``."""
        gateway = ipaddress.ip_address(via)
        for link in n.links.values():
            if any(gateway in ipaddress.ip_interface(cidr).network for cidr in link.addresses):
                return link.name
        return None

    def neighbours(self, node: str) -> list[NeighbourEntry]:
        self._note("neighbours", node)
        self._node(node)
        return []

    def fdb(self, node: str, bridge: str) -> list[FdbEntry]:
        self._note("fdb", node, bridge)
        n = self._node(node)
        return [FdbEntry(link.mac, link.name, None, local=True) for link in n.links.values() if link.master == bridge]

    def listening(self, node: str) -> list[SocketEntry]:
        self._note("listening", node)
        self._node(node)
        return [s for handle, sockets in self._sockets.items() if self._processes[handle][0] == node
                for s in sockets]

    def route_get(self, node: str, dest: str) -> RouteLookup:
        self._note("route_get", node, dest)
        n = self._node(node)
        target = ipaddress.ip_address(dest)
        for link in n.links.values():
            for cidr in link.addresses:
                iface = ipaddress.ip_interface(cidr)
                if target in iface.network:
                    return RouteLookup(link.name, str(iface.ip), None)
        raise BackendError(f"node {node!r} has no route to {dest}")

    def firewall(self, node: str, argv: Sequence[str]) -> str:
        n = self._node(node)
        self._note("firewall", node, tuple(argv))
        return "\n".join(f"-A {r.chain} {' '.join(r.args)}" for r in n.rules)

    def namespace_inodes(self) -> dict[str, int]:
        self._note("namespace_inodes")
        self._live()
        return {node: 4026531000 + i for i, node in enumerate(self.nodes)}

    # -- packets --------------------------------------------------------------------------------
    def send(self, node: str, frame: bytes, *, ifname: str | None = None, dest: str | None = None,
             count: int = 1) -> None:
        self._node(node)
        self._note("send", node, frame, ifname, dest, count)

    def capture_start(self, points: Sequence[CapturePoint], filter: str | None,
                      directory: str, ring_mib: int) -> tuple[int, list[str]]:
        self._live()
        self._note("capture_start", tuple(points), ring_mib)
        for p in points:
            self._link(self._node(p.node), p.node, p.ifname)
        from netnb.capture import pcapng

        paths = []
        for i, p in enumerate(points):
            path = os.path.join(directory, f"{i}.pcapng")
            with open(path, "wb") as f:
                pcapng.write_header(f.write, [p.label])
            paths.append(path)
        return next(self._captures), paths

    def capture_stats(self, ident: int) -> CaptureStats:
        self._note("capture_stats", ident)
        self._live()
        return {}

    def capture_stop(self, ident: int) -> tuple[CaptureStats, str | None]:
        self._live()
        self._note("capture_stop", ident)
        return {}, None
