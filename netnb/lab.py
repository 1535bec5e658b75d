"""The user-facing lab: describe nodes and links, start it, use its nodes, stop it.

Describing a lab changes nothing on the machine; :meth:`Lab.start` (or ``with lab:``) builds it in
namespaces owned by a per-lab agent process, and :meth:`Lab.stop` removes all of it.

>>> lab = Lab("three-pcs")
>>> a, b = lab.host("A"), lab.host("B")
>>> sw = lab.switch("sw", subnet="10.0.0.0/24")
>>> _ = lab.link(a, sw); _ = lab.link(b, sw)
>>> [str(x) for x in b.addresses]
['10.0.0.2/24']
>>> lab.state
'described'
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import itertools
import os
import re
import sys
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from netnb.backends.kernel.client import AgentClient
from netnb.errors import CommandFailed, LabStateError, NetnbError, TopologyError
from netnb.model import (
    CommandResult,
    FdbEntry,
    InterfaceState,
    LinkSpec,
    NeighbourEntry,
    NodeKind,
    NodeSpec,
    PingResult,
    ResolvedLab,
    RouteEntry,
    RouteSpec,
    Topology,
    resolve,
)
from netnb.model.firewall import Rule
from netnb.model.topology import BridgeSpec, InnerVethSpec, TapSpec
from netnb.view.records import RecordList
from netnb.view.table import Table
from netnb.plan import IptablesRule, Operation, Plan, compile_plan, route_operation, teardown_of

from html import escape as html_escape

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from netnb.view.draw import Drawing

    from netnb.capture.capture import Capture

_lab_ids = itertools.count(1)


class Lab:
    """A virtual network of Linux namespaces: hosts, routers, switches, hubs and the links between them.

    >>> lab = Lab("routed")
    >>> r, b = lab.router("A"), lab.host("B")
    >>> _ = lab.link(r, b, ip=("10.0.1.1/24", "10.0.1.2/24"))
    >>> b.route("default", via="10.0.1.1")
    >>> len(lab.plan()) > 0
    True
    """

    def __init__(self, name: str, *, ipv6: bool = False, mode: str | None = None) -> None:
        self.topology = Topology(name, ipv6=ipv6)
        self.mode = mode
        self._handles: dict[str, Node] = {}
        self._client: AgentClient | None = None
        self._finalizer: weakref.finalize | None = None
        self._resolved: ResolvedLab | None = None
        self._plan: Plan | None = None
        self._state = "described"
        #: Seconds the last start() spent starting the agent, building, and waiting for links to be up.
        self.timings: dict[str, float] = {}
        self._live_ops: list[Operation] = []
        self._start_hooks: list[Callable[[Lab], None]] = []
        self._stop_hooks: list[Callable[[Lab], None]] = []
        self._vms: list[Vm] = []

    # -- describing -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The lab's name."""
        return self.topology.name

    def _add(self, spec: NodeSpec, cls: type[Node]) -> Any:
        self._require_not_running("add a node")
        self.topology.add_node(spec)
        handle = cls(self, spec)
        self._handles.setdefault(spec.name, handle)
        return handle

    def host(self, name: str) -> Host:
        """A host: one namespace with its own interfaces, addresses and routes."""
        return self._add(NodeSpec(name, NodeKind.HOST), Host)

    def router(self, name: str) -> Router:
        """A host that forwards IPv4 between its interfaces (``net.ipv4.ip_forward=1``)."""
        return self._add(NodeSpec(name, NodeKind.ROUTER), Router)

    def switch(self, name: str, subnet: str | None = None, *, ageing: float | None = None,
               stp: bool = False) -> Switch:
        """A learning switch (a Linux bridge in its own namespace).

        ``subnet`` lets links to it get addresses automatically; ``ageing`` is the MAC ageing time in
        seconds (default 300, 0 floods every frame like a hub).
        """
        return self._add(NodeSpec(name, NodeKind.SWITCH, subnet=subnet, ageing_s=ageing, stp=stp), Switch)

    def hub(self, name: str, subnet: str | None = None) -> Switch:
        """A hub: a bridge that learns nothing (ageing 0), so every frame goes out of every port."""
        return self._add(NodeSpec(name, NodeKind.HUB, subnet=subnet), Switch)

    def vm(self, name: str, host: Host, *, bridge: str, ip: str, gateway: str | None = None,
           mac: str | None = None) -> Vm:
        """A virtual machine on ``host``: a TAP device that joins ``bridge``, and a guest process on it that
        answers ARP and ping (a hypervisor's view of a VM's network card)."""
        self._require_not_running("add a VM")
        tap = f"tap-{name}"[:15]
        host.spec.taps.append(TapSpec(tap, bridge))
        mac = mac or "52:54:00:" + ":".join(f"{b:02x}" for b in hashlib.sha256(f"{self.name}/{name}".encode()).digest()[:3])
        machine = Vm(self, name, host, tap, mac, ip, gateway)
        self._vms.append(machine)
        self.on_start(machine._boot)
        return machine

    def internet(self, lan: Switch, *, gateway: str, name: str = "internet", nat: bool = False) -> Internet:
        """The outside world, reached from ``lan`` through a router at ``gateway``.

        Adds a router (``name``) on the LAN and a web server ``www`` at 203.0.113.80 (a documentation
        address, inside the lab) serving a small page on port 80 while the lab runs. With ``nat`` the
        router masquerades the LAN as a home router does; without, the web server sees LAN addresses.
        """
        router = self.router(name)
        router.spec.role = "internet"
        www = self.host("www")
        www.spec.role = "internet"
        self.link(router, lan, ip=gateway)
        self.link(router, www, ip=("203.0.113.1/24", "203.0.113.80/24"))
        www.route("default", via="203.0.113.1")
        if nat:
            subnet = lan.spec.subnet or ""
            router.spec.rules.append(Rule("nat", "POSTROUTING", ("-s", subnet, "-o", "eth1", "-j", "MASQUERADE")))
        net = Internet(router, www)
        self.on_start(net._serve)
        return net

    def link(self, a: Node | str, b: Node | str, *, ip: str | tuple[str | None, str | None] | None = None,
             ifname: str | tuple[str | None, str | None] | None = None, mtu: int | None = None,
             subnet: str | None = None) -> LinkSpec:
        """Connect two nodes with a veth pair.

        ``ip`` is the address of the one IP end (host/router to switch), or a pair for two IP ends; left
        out, addresses come from the switch's ``subnet`` (or this link's ``subnet``). ``ifname`` names
        the interfaces (default ``eth0``, ``eth1``... inside each node).
        """
        self._require_not_running("add a link")
        spec = LinkSpec(self._node_name(a), self._node_name(b), ip=ip, ifname=ifname, mtu=mtu, subnet=subnet)
        self.topology.add_link(spec)
        return spec

    def _node_name(self, node: Node | str) -> str:
        if isinstance(node, Node):
            if node.lab is not self:
                raise NetnbError(f"node {node.name!r} belongs to lab {node.lab.name!r}, not {self.name!r}")
            return node.name
        if isinstance(node, str):
            return node
        raise TypeError(f"expected a node or a node name, got {type(node).__name__}")

    def __getitem__(self, name: str) -> Node:
        return self._handles[name]

    def __contains__(self, name: object) -> bool:
        return name in self._handles

    def __iter__(self) -> Iterator[Node]:
        return iter(self._handles.values())

    @property
    def nodes(self) -> dict[str, Node]:
        """Nodes by name, in the order they were described."""
        return dict(self._handles)

    def validate(self) -> list[str]:
        """Every problem of the description (an empty list when it can be built)."""
        try:
            resolve(self.topology)
        except TopologyError as exc:
            return exc.problems
        return []

    def resolved(self) -> ResolvedLab:
        """The validated lab with every name and address decided (TopologyError lists all problems)."""
        if self._resolved is not None:
            return self._resolved
        return resolve(self.topology)

    def plan(self) -> Plan:
        """A dry run: every operation, with the ``ip``/``sysctl`` commands that would do it by hand."""
        return compile_plan(self.resolved())

    # -- lifecycle --------------------------------------------------------------------------
    @property
    def state(self) -> str:
        """``described`` (nothing built), ``running`` or ``stopped``."""
        return self._state

    @property
    def running(self) -> bool:
        """True between start() and stop()."""
        return self._state == "running"

    def _require_not_running(self, what: str) -> None:
        if self._state == "running":
            raise LabStateError(f"cannot {what} while lab {self.name!r} runs; stop it first")

    def start(self, *, timeout: float = 30.0) -> Lab:
        """Build the lab; returns when every interface is up (so the first ping works).

        On any failure everything already built is removed before the error is raised.
        """
        self._require_not_running("start the lab")
        resolved = resolve(self.topology)
        plan = compile_plan(resolved)
        lab_id = f"{self.name}-{os.getpid()}-{next(_lab_ids)}"
        client = AgentClient(lab_id, self.mode, lab_name=self.name)
        t0 = time.perf_counter()
        client.start()
        try:
            t1 = time.perf_counter()
            client.call("apply", {"ops": [op.to_dict() for op in plan]}, wait=None)
            t2 = time.perf_counter()
            client.call("wait_ready", {"timeout": timeout, "ipv6": self.topology.ipv6}, wait=timeout + 10)
            self.timings = {"agent_s": t1 - t0, "build_s": t2 - t1, "ready_s": time.perf_counter() - t2}
        except BaseException:
            client.close()
            raise
        self._client, self._resolved, self._plan = client, resolved, plan
        self._finalizer = weakref.finalize(self, client.close)
        self._state = "running"
        self._live_ops = []
        try:
            for hook in self._start_hooks:
                hook(self)
        except BaseException:
            self.stop()
            raise
        return self

    def on_start(self, hook: Callable[[Lab], None], on_stop: Callable[[Lab], None] | None = None) -> None:
        """Run ``hook(lab)`` each time the lab has started (services, containers); ``on_stop`` before it stops."""
        self._start_hooks.append(hook)
        if on_stop is not None:
            self._stop_hooks.append(on_stop)

    def stop(self) -> None:
        """Remove everything the lab built and stop its processes. Safe to call twice."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            for hook in self._stop_hooks:
                try:
                    hook(self)
                except Exception:  # stopping must go on; the namespaces' removal ends what is left
                    pass
            assert self._plan is not None
            undo = teardown_of([*self._plan.operations, *self._live_ops])
            client.call("teardown", {"ops": [op.to_dict() for op in undo]}, wait=None)
        finally:
            client.close()
            if self._finalizer is not None:
                self._finalizer.detach()
            self._state = "stopped"
            self._resolved = None

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _agent(self) -> AgentClient:
        if self._client is None:
            raise LabStateError(f"lab {self.name!r} is {self._state}; start it first (lab.start() or `with lab:`)")
        return self._client

    def apply(self, operations: Sequence[Operation]) -> None:
        """Run operations on the running lab; if one fails, those before it are undone and nothing stays."""
        self._agent().call("apply", {"ops": [op.to_dict() for op in operations]})
        self._live_ops.extend(operations)

    def undo(self, operations: Sequence[Operation]) -> None:
        """Undo operations applied with :meth:`apply` (e.g. removing a container)."""
        reverse = teardown_of(list(operations))
        self._agent().call("teardown", {"ops": [op.to_dict() for op in reverse]})
        done = set(map(id, operations))
        self._live_ops = [op for op in self._live_ops if id(op) not in done]

    def capture(self, *points: Any, filter: str | None = None) -> Capture:
        """A capture at any number of points: nodes (all their interfaces), ``"node:ifname"``, links.

        Use it with ``with`` or call start()/stop(); ``filter`` is a tcpdump-style expression applied
        in the kernel.
        """
        from netnb.capture.capture import Capture

        if not points:
            raise NetnbError("say where to capture: lab.capture(node, switch, 'node:eth0', ...)")
        return Capture(self, points, filter)

    def namespace_inodes(self) -> dict[str, int]:
        """The inode of each node's network namespace (to find the lab with ``lsns`` or prove it gone)."""
        return self._agent().call("inodes", wait=30)

    @property
    def agent_pid(self) -> int | None:
        """The pid of the agent process holding this lab, while it runs."""
        return self._client.process.pid if self._client is not None and self._client.process else None

    # -- looking ----------------------------------------------------------------------------
    def drawing(self, live: bool = False) -> Drawing:
        """What draw() shows, as data: nodes (with kinds and groups) and labelled links.

        ``live`` reads every interface from the kernel once (state and packet counters).
        """
        from netnb.view.draw import Drawing, DrawLink, DrawNode, end_label  # matplotlib loads only when drawing

        resolved = self.resolved()
        state: dict[tuple[str, str], dict[str, Any]] = {}
        if live:
            for node, links in self._agent().call("all_links", wait=60).items():
                for link in links:
                    state[(node, link["name"])] = link
        def label(node: str, ifname: str, address: Any) -> str:
            got = state.get((node, ifname))
            counters = {"rx": got["rx_packets"], "tx": got["tx_packets"]} if got else None
            return end_label(ifname, [str(address)] if address else [], counters)
        def down(*ends: tuple[str, str]) -> bool:
            return bool(state) and any(state.get(e, {}).get("state") not in ("UP", "UNKNOWN", None) for e in ends)
        d = Drawing(title=f"lab {self.name} ({self._state})")
        for node in resolved.nodes:
            d.nodes.append(DrawNode(node.name, node.role or node.kind.value))
        for link in resolved.links:
            d.links.append(DrawLink(link.a.node, link.b.node, label(link.a.node, link.a.name, link.a.address),
                                    label(link.b.node, link.b.name, link.b.address),
                                    down((link.a.node, link.a.name), (link.b.node, link.b.name))))
        for node in resolved.nodes:  # bridges wired inside a host (not docker0-like ones) are drawn in its box
            if node.kind.is_l2 or not node.inner:
                continue
            for b in node.bridges:
                d.nodes.append(DrawNode(f"{node.name}/{b.name}", "switch", node.name))
            inner = {x.name: x for x in node.inner}
            for x in node.inner:
                if x.kind != "veth" or x.peer is None or x.name > x.peer:
                    continue
                peer = inner[x.peer]
                ends = [f"{node.name}/{m}" if m else node.name for m in (x.master, peer.master)]
                d.links.append(DrawLink(ends[0], ends[1], "" if x.master else f"{x.name} {x.address or ''}".strip(),
                                        "" if peer.master else f"{peer.name} {peer.address or ''}".strip()))
        for machine in self._vms:
            bridge = next((t.master for t in machine.host.spec.taps if t.name == machine.tap), None)
            d.nodes.append(DrawNode(f"{machine.host.name}/{machine.name}", "tap-vm", machine.host.name,
                                    note=machine.ip.split("/")[0]))
            d.links.append(DrawLink(f"{machine.host.name}/{machine.name}",
                                    f"{machine.host.name}/{bridge}" if bridge else machine.host.name))
        for name, handle in self._handles.items():  # nodes made while running (containers) live in a machine
            if "/" in name and handle.spec.role:
                group = name.split("/", 1)[0]
                addrs = " ".join(str(a.ip) for a in getattr(handle, "addresses", []))
                d.nodes.append(DrawNode(name, handle.spec.role, group, note=addrs))
                d.links.append(DrawLink(name, group))
        return d

    def draw(self, live: bool = False) -> Figure:
        """The topology as a matplotlib Figure (``lab.draw().savefig("lab.svg")``)."""
        from netnb.view.draw import draw

        return draw(self.drawing(live=live))

    def widget(self) -> Any:
        """An interactive view: topology, node details on click, a live capture panel (ipywidgets)."""
        from netnb.view.widget import LabWidget

        return LabWidget(self)

    def tables(self) -> list[Table]:
        """Nodes, links and subnets as described (no I/O)."""
        resolved = self.resolved()
        nodes = Table(["node", "kind", "interfaces", "addresses"], [
            [n.name, n.role or n.kind.value, str(len(n.interfaces)), " ".join(str(a) for a in n.addresses)]
            for n in resolved.nodes], title="nodes")
        links = Table(["from", "to", "mtu"], [
            [f"{lk.a.node}:{lk.a.name} {lk.a.address or ''}".strip(), f"{lk.b.node}:{lk.b.name} {lk.b.address or ''}".strip(),
             str(lk.mtu or 1500)] for lk in resolved.links], title="links")
        nets: dict[str, list[str]] = {}
        for n in resolved.nodes:
            for a in n.addresses:
                nets.setdefault(str(a.network), []).append(n.name)
        subnets = Table(["subnet", "nodes"], [[k, ", ".join(v)] for k, v in nets.items()], title="subnets")
        return [nodes, links, subnets]

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        try:
            tables = self.tables()
        except TopologyError as exc:
            return {"text/plain": f"{self!r}\n{exc}", "text/html": f"<pre>{html_escape(str(exc))}</pre>"}
        svg = io.StringIO()
        fig = self.draw()
        fig.savefig(svg, format="svg")
        body = svg.getvalue()
        body = body[body.find("<svg"):]
        return {"text/plain": repr(self), "text/html": f"<div>{body}</div>" + "".join(t.html() for t in tables)}

    def __repr__(self) -> str:
        kinds: dict[str, int] = {}
        for spec in self.topology.nodes:
            kinds[spec.kind.value] = kinds.get(spec.kind.value, 0) + 1
        parts = ", ".join(f"{n} {k}{'s' if n != 1 else ''}" for k, n in kinds.items()) or "empty"
        return f"<Lab {self.name!r} {self._state}: {parts}, {len(self.topology.links)} links>"


class Node:
    """A node of a lab. What it can do depends on its kind (see Host, Router, Switch)."""

    def __init__(self, lab: Lab, spec: NodeSpec) -> None:
        self.lab = lab
        self.spec = spec

    @property
    def name(self) -> str:
        """The node's name (also the name of its namespace in the plan)."""
        return self.spec.name

    @property
    def kind(self) -> NodeKind:
        """host, router, switch or hub."""
        return self.spec.kind

    def _call(self, method: str, **params: Any) -> Any:
        return self.lab._agent().call(method, {"node": self.name, **params}, wait=60)

    def interfaces(self) -> RecordList[InterfaceState]:
        """The node's interfaces as the kernel reports them now (name, MAC, state, MTU, addresses)."""
        items = [InterfaceState(**{**d, "addresses": tuple(d["addresses"])}) for d in self._call("links")]
        return RecordList(items, f"interfaces of {self.name}", hide=("index", "peer_index"))

    def run(self, command: str | list[str], *, timeout: float | None = 60, check: bool = False,
            stdin: str | None = None) -> CommandResult:
        """Run a command inside the node and wait for it (a string runs under ``sh -c``).

        >>> # lab["A"].run("ip -br addr").stdout
        """
        text = command if isinstance(command, str) else " ".join(command)
        raw = self.lab._agent().call(
            "run", {"node": self.name, "command": command, "timeout": timeout, "stdin": stdin},
            wait=None if timeout is None else timeout + 10,
        )
        result = CommandResult(self.name, text, raw["rc"], raw["stdout"], raw["stderr"], raw["duration_s"])
        if check and result.rc != 0:
            raise CommandFailed(f"{text!r} in node {self.name!r} exited with {result.rc}: {result.stderr.strip()}",
                                result)
        return result

    def popen(self, command: str | list[str]) -> Process:
        """Start a command in the background; it is stopped with the lab (or by ``stop()``)."""
        raw = self._call("popen", command=command)
        return Process(self, command if isinstance(command, str) else " ".join(command), raw["pid"], raw["handle"])

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} of lab {self.lab.name!r}>"

    def description(self) -> Table:
        """The node's interfaces as described (no I/O): name, address, peer, MTU."""
        try:
            node = self.lab.resolved().node(self.name)
        except (KeyError, TopologyError):
            return Table(["interface", "address", "connects to", "mtu"], [], title=f"{self.kind.value} {self.name}")
        rows = [[i.name, str(i.address or ""), f"{i.peer_node}:{i.peer_name}", str(i.mtu or "")]
                for i in node.interfaces]
        rows += [[b.name, str(b.address or ""), "(bridge)", ""] for b in node.bridges if not node.kind.is_l2]
        routes = "; ".join(f"{r.dest_text} via {r.via}" if r.via else f"{r.dest_text} dev {r.dev}"
                           for r in node.routes)
        note = (f"routes: {routes}. " if routes else "") + \
            (f"{self.name}.inspect() reads its live state" if self.lab.running else f"lab is {self.lab.state}")
        return Table(["interface", "address", "connects to", "mtu"], rows,
                     title=f"{node.role or self.kind.value} {self.name}", note=note)

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        table = self.description()
        brief = "\n".join(f"{r[0]:<16} {r[1]}".rstrip() for r in table.rows)
        return {"text/plain": f"{table.title}\n{brief}".rstrip(), "text/html": table.html()}


class NodeState:
    """A node's live state, read by one explicit call (``node.inspect()``)."""

    def __init__(self, name: str, interfaces: RecordList[InterfaceState], routes: RecordList[RouteEntry],
                 neighbours: RecordList[NeighbourEntry]) -> None:
        self.name, self.interfaces, self.routes, self.neighbours = name, interfaces, routes, neighbours

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        text = "\n".join(i.brief() for i in self.interfaces)
        text += "\n\n" + "\n".join(r.brief() for r in self.routes)
        html = "".join(part.table().html() for part in (self.interfaces, self.routes, self.neighbours))
        return {"text/plain": text, "text/html": html}


class Host(Node):
    """An IP host: ping, run commands, read interfaces, routes and ARP table."""

    @property
    def addresses(self) -> list[ipaddress.IPv4Interface]:
        """The node's addresses as decided from the description."""
        return list(self.lab.resolved().node(self.name).addresses)

    @property
    def ip(self) -> str | None:
        """The node's first address without prefix, or None."""
        addrs = self.addresses
        return str(addrs[0].ip) if addrs else None

    def address_towards(self, other: Host) -> str:
        """The address of this node that ``other`` can reach directly, else its first address."""
        mine = self.addresses
        if not mine:
            raise NetnbError(f"node {self.name!r} has no address to reach; give its link an ip= or a subnet")
        for addr in mine:
            if any(addr.ip in theirs.network for theirs in other.addresses):
                return str(addr.ip)
        return str(mine[0].ip)

    def ping(self, target: Host | str, count: int = 3, *, timeout: float = 2.0, interval: float = 0.2,
             size: int | None = None, dont_fragment: bool = False) -> PingResult:
        """Ping ``target`` (a node or an address) with the real ``ping``; see PingResult."""
        dest = target.address_towards(self) if isinstance(target, Host) else str(target)
        argv = ["ping", "-n", "-c", str(count), "-i", str(interval), "-W", str(timeout)]
        if size is not None:
            argv += ["-s", str(size)]
        if dont_fragment:
            argv += ["-M", "do"]
        result = self.run(argv + [dest], timeout=count * interval + timeout + 5)
        return parse_ping(result.stdout, dest, self.name, count)

    def send(self, pkt: Any, *, iface: str | None = None, count: int = 1) -> Any:
        """Send a scapy packet from this node (``Ether(...)`` out of ``iface``, or ``IP(...)`` routed by the
        node's kernel); missing source addresses come from this node. Returns the packet as sent."""
        from netnb.capture.crafting import send

        return send(self, pkt, iface, count)

    def sr1(self, pkt: Any, *, timeout: float = 2.0, iface: str | None = None) -> Any:
        """Send a scapy packet from this node and return the first answer (None after ``timeout``)."""
        from netnb.capture.crafting import sr1

        return sr1(self, pkt, timeout, iface)

    def routes(self) -> RecordList[RouteEntry]:
        """The main routing table, read now."""
        return RecordList([RouteEntry(**d) for d in self._call("routes")], f"routes of {self.name}")

    def neighbours(self) -> RecordList[NeighbourEntry]:
        """The ARP table, read now."""
        return RecordList([NeighbourEntry(**d) for d in self._call("neighbours")], f"ARP table of {self.name}")

    def inspect(self) -> NodeState:
        """Interfaces, routes and ARP table read now, shown together."""
        return NodeState(self.name, self.interfaces(), self.routes(), self.neighbours())

    def bridge(self, name: str, *, ip: str | None = None) -> str:
        """A Linux bridge inside this host (like a hypervisor's ``virbr0``), with an address if given."""
        self.lab._require_not_running("add a bridge")
        self.spec.bridges.append(BridgeSpec(name, ip))
        return name

    def veth(self, a: str, b: str, *, master: tuple[str | None, str | None] = (None, None),
             ip: tuple[str | None, str | None] = (None, None)) -> None:
        """A veth pair inside this host: ``master`` makes an end a port of one of its bridges, ``ip``
        gives an end an address (the host's own interface)."""
        self.lab._require_not_running("add a veth pair")
        self.spec.inner_veths.append(InnerVethSpec(a, b, master[0], master[1], ip[0], ip[1]))

    def masquerade(self, source: str, out: str) -> None:
        """Rewrite the source of packets from ``source`` leaving through ``out`` to this host's address."""
        rule = Rule("nat", "POSTROUTING", ("-s", source, "-o", out, "-j", "MASQUERADE"))
        if self.lab.running:
            self.lab.apply([IptablesRule(self.name, rule.table, rule.chain, rule.args)])
        self.spec.rules.append(rule)

    def route(self, dest: str, *, via: str | None = None, dev: str | None = None) -> None:
        """Add a static route (``dest`` is ``"default"`` or a CIDR). On a running lab it applies at once."""
        spec = RouteSpec(dest, via, dev)
        self.spec.routes.append(spec)
        if not self.lab.running:
            return
        try:
            resolved = resolve(self.lab.topology)
            new = next(r for r in resolved.node(self.name).routes if r.dest == ipaddress.ip_network(
                "0.0.0.0/0" if dest == "default" else dest))
            self.lab.apply([route_operation(new)])
        except BaseException:
            self.spec.routes.remove(spec)
            raise
        self.lab._resolved = resolved


class Router(Host):
    """A host that forwards packets between its interfaces."""


class Switch(Node):
    """A switch or hub: one Linux bridge; its MAC table shows what it learned."""

    @property
    def bridge(self) -> str:
        """The name of the bridge device inside the switch's namespace."""
        return self.name

    def fdb(self, *, include_local: bool = False) -> RecordList[FdbEntry]:
        """The learned MAC table: MAC, port and seconds since last seen (local entries on request)."""
        entries = [FdbEntry(**d) for d in self._call("fdb", bridge=self.bridge)]
        kept = [e for e in entries if include_local or not (e.local or e.static)]
        return RecordList(kept, f"MAC table of {self.name}", hide=() if include_local else ("local", "static"))

    def ports(self) -> RecordList[InterfaceState]:
        """The bridge's ports, read now."""
        ports = [i for i in self.interfaces() if i.master == self.bridge]
        return RecordList(ports, f"ports of {self.name}", hide=("index", "peer_index", "addresses"))


class Vm:
    """A VM on a TAP device (see :meth:`Lab.vm`); ``ping`` asks its guest to ping."""

    def __init__(self, lab: Lab, name: str, host: Host, tap: str, mac: str, ip: str, gateway: str | None) -> None:
        self.lab, self.name, self.host, self.tap, self.mac, self.ip, self.gateway = lab, name, host, tap, mac, ip, gateway
        self.process: Process | None = None
        self._control = ""

    def _boot(self, lab: Lab) -> None:
        import tempfile

        folder = tempfile.mkdtemp(prefix=f"netnb-vm-{self.name}-")
        self._control = os.path.join(folder, "control")
        argv = [sys.executable, "-m", "netnb.vm", "--tap", self.tap, "--mac", self.mac, "--ip", self.ip,
                "--control", self._control] + (["--gateway", self.gateway] if self.gateway else [])
        self.process = self.host.popen(argv)
        deadline = time.monotonic() + 10
        while not os.path.exists(self._control):
            if time.monotonic() > deadline or not self.process.running:
                raise NetnbError(f"VM {self.name} did not start: {self.process.output()[-300:]}")
            time.sleep(0.01)
        self.lab._agent().call("wait_ready", {"timeout": 10}, wait=20)  # its TAP now has a carrier

    def _ask(self, request: dict[str, Any], wait: float) -> Any:
        import json
        import socket
        import tempfile

        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            reply_path = os.path.join(tempfile.mkdtemp(prefix="netnb-vmc-"), "r")
            sock.bind(reply_path)
            sock.settimeout(wait)
            sock.sendto(json.dumps(request).encode(), self._control)
            data = sock.recv(65535)
            os.unlink(reply_path)
            os.rmdir(os.path.dirname(reply_path))
        return json.loads(data)

    def ping(self, target: str, count: int = 3, *, timeout: float = 1.0) -> PingResult:
        """Ping from inside the VM (through its gateway when the target is on another network)."""
        if not self.lab.running or not self._control:
            raise LabStateError(f"lab {self.lab.name!r} is not running; start it first")
        got = self._ask({"cmd": "ping", "dst": target, "count": count, "timeout": timeout}, count * (timeout + 1) + 5)
        rtts = got["rtt_ms"]
        return PingResult(target, got["sent"], got["received"], min(rtts) if rtts else None,
                          sum(rtts) / len(rtts) if rtts else None, max(rtts) if rtts else None, source=self.name)

    def arp(self) -> dict[str, str]:
        """The guest's ARP table (IP -> MAC)."""
        return dict(self._ask({"cmd": "arp"}, 5))

    def __repr__(self) -> str:
        return f"<Vm {self.name!r} on {self.host.name}:{self.tap} {self.ip} {self.mac}>"


class Internet:
    """The outside world of a lab: its gateway router and a web server (see :meth:`Lab.internet`)."""

    PAGE = "<html><body><h1>Hello from the internet</h1></body></html>\n"

    def __init__(self, router: Router, web: Host) -> None:
        self.router, self.web = router, web
        self.server: Process | None = None

    @property
    def ip(self) -> str:
        """The web server's address."""
        return "203.0.113.80"

    @property
    def url(self) -> str:
        """``http://203.0.113.80/``."""
        return f"http://{self.ip}/"

    def _serve(self, lab: Lab) -> None:
        import tempfile

        root = tempfile.mkdtemp(prefix="netnb-www-")
        os.chmod(root, 0o755)
        with open(os.path.join(root, "index.html"), "w") as f:
            f.write(self.PAGE)
        self.server = self.web.popen(["python3", "-m", "http.server", "80", "--bind", self.ip, "--directory", root])
        probe = "import urllib.request as u; u.urlopen('http://203.0.113.80/', timeout=1)"
        deadline = time.monotonic() + 10
        while not self.web.run(["python3", "-c", probe]).ok:
            if time.monotonic() > deadline:
                raise NetnbError(f"the lab's web server did not start: {self.server.output()[-300:]}")
            time.sleep(0.05)

    def __repr__(self) -> str:
        return f"<Internet via {self.router.name!r}, web server {self.url}>"


class Process:
    """A background process in a node (from ``node.popen``)."""

    def __init__(self, node: Node, command: str, pid: int, handle: int) -> None:
        self.node, self.command, self.pid, self.handle = node, command, pid, handle
        self._final: dict[str, Any] | None = None

    def _call(self, method: str, **params: Any) -> Any:
        return self.node.lab._agent().call(method, {"handle": self.handle, **params}, wait=60)

    @property
    def running(self) -> bool:
        """Whether it still runs (False once the lab stopped)."""
        if self._final is not None or not self.node.lab.running:
            return False
        return bool(self._call("proc_status")["running"])

    def output(self) -> str:
        """Everything it wrote so far (stdout and stderr)."""
        if self._final is not None:
            return str(self._final["output"])
        return str(self._call("proc_output"))

    def stop(self, timeout: float = 2.0) -> int | None:
        """SIGTERM its process group, SIGKILL after ``timeout``; returns the exit status."""
        if self._final is None:
            self._final = self._call("proc_stop", timeout=timeout)
        return self._final["rc"]

    def __repr__(self) -> str:
        return f"<Process {self.node.name}$ {self.command!r} pid={self.pid}>"


_PING_COUNTS = re.compile(r"(\d+) packets transmitted, (\d+) (?:packets )?received")
_PING_RTT = re.compile(r"= ([\d.]+)/([\d.]+)/([\d.]+)/[\d.]+ ms")


def parse_ping(output: str, target: str, source: str, count: int) -> PingResult:
    """Read iputils ``ping``'s summary lines.

    >>> parse_ping("3 packets transmitted, 2 received, 33% packet loss\\nrtt min/avg/max/mdev = 0.1/0.2/0.3/0.0 ms",
    ...            "10.0.0.2", "A", 3).received
    2
    """
    counts = _PING_COUNTS.search(output)
    sent, received = (int(counts.group(1)), int(counts.group(2))) if counts else (count, 0)
    rtt = _PING_RTT.search(output)
    mn, avg, mx = (float(rtt.group(i)) for i in (1, 2, 3)) if rtt else (None, None, None)
    return PingResult(target, sent, received, mn, avg, mx, source=source, output=output)
