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
import os
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from netnb.backends.contract import Backend
from netnb.backends import select
from html import escape as html_escape

from netnb.errors import AgentError, LabStateError, NetnbError, NotFoundError, StartupError, TopologyError, UsageError
from netnb.machines import Internet, Vm
from netnb.model import CommandResult, LinkSpec, NodeKind, NodeSpec, ResolvedLab, Topology, resolve
from netnb.model import checks
from netnb.model.firewall import Rule
from netnb.model.state import CapturePoint
from netnb.model.words import plural
from netnb.model.topology import PortOptions, ShareSpec, TapSpec
from netnb.nodes import Host, Node, Router, Switch, folder_files
from netnb.plan import Operation, Plan, compile_plan, teardown_of
from netnb.view.table import Table

N = TypeVar("N", bound=Node)
#: A lab's life: described (nothing built), running, stopped (built once, all removed).
LabState = Literal["described", "running", "stopped"]

if TYPE_CHECKING:
    from netnb.backends.kernel.client import Mode
    from netnb.view.draw import Drawing
    from netnb.view.picture import Picture
    from netnb.view.routing import RoutingTable

    from netnb.capture.capture import Capture

class Lab:
    """A virtual network of Linux namespaces: hosts, routers, switches, hubs and the links between them.

    >>> lab = Lab("routed")
    >>> r, b = lab.router("A"), lab.host("B")
    >>> _ = lab.link(r, b, ip=("10.0.1.1/24", "10.0.1.2/24"))
    >>> b.route("default", via="10.0.1.1")
    >>> len(lab.plan()) > 0
    True
    """

    def __init__(self, name: str, *, ipv6: bool = False, mode: Mode | None = None,
                 capture_memory: int = 256, backend: Backend | str | None = None) -> None:
        if isinstance(capture_memory, bool) or not isinstance(capture_memory, int) or capture_memory < 2:
            raise UsageError(f"capture_memory is the MiB of kernel memory this lab's captures may pin together "
                             f"(2 or more), not {capture_memory!r}")
        if backend is not None and not isinstance(backend, (Backend, str)):
            raise UsageError(f"backend is 'kernel', 'sim', 'auto' or an object that carries out the Backend contract "
                             f"(netnb.backends.contract), not {backend!r}")
        self.topology = Topology(name, ipv6=ipv6)
        #: What carries the lab out: the kernel (real namespaces) or the simulation (see netnb.backends.select).
        self.backend: Backend = backend if isinstance(backend, Backend) else select.choice(backend, mode)
        #: MiB of kernel ring memory the lab's running captures may pin together (see ``capture()``).
        self.capture_memory = capture_memory
        self._handles: dict[str, Node] = {}
        self._finalizer: weakref.finalize | None = None
        self._resolved: ResolvedLab | None = None
        self._plan: Plan | None = None
        self._state: LabState = "described"
        #: Seconds the last start() took: agent_s (getting an agent), build_s (the build request, of which
        #: agent_ops_s inside the agent), ready_s (waiting until every link is up), total_s (the build, ready
        #: to ping), files_s (writing the nodes' own files), startup_s (the nodes' startup commands, after that).
        self.timings: dict[str, float] = {}
        #: Where the description came from: empty for code, else e.g. ``Kathará lab /path`` (:func:`netnb.load`).
        self.origin = ""
        #: What an importer mapped approximately or left out, each with its file and line.
        self.notes: list[str] = []
        #: What the nodes' startup commands printed at the last start(), in the order they ran.
        self.startup_results: list[CommandResult] = []
        self._live_ops: list[Operation] = []
        self._start_hooks: list[Callable[[Lab], None]] = []
        self._stop_hooks: list[Callable[[Lab], None]] = []
        self._vms: list[Vm] = []
        self._captures: weakref.WeakSet[Capture] = weakref.WeakSet()

    # -- describing -------------------------------------------------------------------------
    @property
    def mode(self) -> Mode | None:
        """The kernel backend's privilege mode: ``root``, ``rootless``, ``sudo``, or None (chosen at start)."""
        return getattr(self.backend, "mode", None)

    @mode.setter
    def mode(self, mode: Mode | None) -> None:
        if not hasattr(self.backend, "mode"):
            raise UsageError(f"mode belongs to the kernel backend; this lab runs on {self.backend.name!r}")
        self.require_not_running("change the mode")
        self.backend.mode = mode

    @property
    def vms(self) -> list[Vm]:
        """The lab's VMs (made by ``lab.vm(...)``), in the order they were described."""
        return list(self._vms)

    @property
    def simulated(self) -> bool:
        """Whether this lab runs on the simulation rather than on the kernel (every display says so)."""
        return self.backend.name == "sim"

    @property
    def name(self) -> str:
        """The lab's name."""
        return self.topology.name

    def add_node(self, spec: NodeSpec, cls: type[N]) -> N:
        """Describe a node of class ``cls`` (Host, Router, Switch or a subclass) from its spec; what
        ``host()``, ``router()``, ``switch()`` and ``hub()`` do, for layers built on the lab (Docker hosts).

        >>> Lab("x").add_node(NodeSpec("A", NodeKind.HOST), Host).name
        'A'
        """
        self.require_not_running("add a node")
        self.topology.add_node(spec)
        handle = cls(self, spec)
        self._handles.setdefault(spec.name, handle)
        return handle

    def host(self, name: str) -> Host:
        """A host: one namespace with its own interfaces, addresses and routes."""
        return self.add_node(NodeSpec(name, NodeKind.HOST), Host)

    def router(self, name: str) -> Router:
        """A host that forwards IPv4 between its interfaces (``net.ipv4.ip_forward=1``)."""
        return self.add_node(NodeSpec(name, NodeKind.ROUTER), Router)

    def switch(self, name: str, subnet: str | None = None, *, ageing: float | None = None,
               stp: bool = False, priority: int | None = None) -> Switch:
        """A learning switch (a Linux bridge in its own namespace).

        ``subnet`` lets links to it get addresses automatically; ``ageing`` is the MAC ageing time in
        seconds (default 300, 0 floods every frame like a hub); ``stp=True`` runs the spanning tree protocol,
        ``priority`` (0-65535, default 32768) its bridge priority: the lowest becomes the root.
        """
        return self.add_node(NodeSpec(name, NodeKind.SWITCH, subnet=subnet, ageing_s=ageing, stp=stp,
                                      stp_priority=priority), Switch)

    def hub(self, name: str, subnet: str | None = None) -> Switch:
        """A hub: a bridge that learns nothing (ageing 0), so every frame goes out of every port."""
        return self.add_node(NodeSpec(name, NodeKind.HUB, subnet=subnet), Switch)

    def vm(self, name: str, host: Host, *, bridge: str, ip: str, gateway: str | None = None,
           mac: str | None = None) -> Vm:
        """A virtual machine on ``host``: a TAP device that joins ``bridge``, and a guest process on it that
        answers ARP and ping (a hypervisor's view of a VM's network card)."""
        self.require_not_running("add a VM")
        self._check_vm(name, host, bridge, ip, gateway, mac)
        tap = f"tap-{name}"[:15]
        host.spec.taps.append(TapSpec(tap, bridge))
        mac = mac or "52:54:00:" + ":".join(f"{b:02x}" for b in hashlib.sha256(f"{self.name}/{name}".encode()).digest()[:3])
        machine = Vm(self, name, host, tap, mac, ip, gateway)
        self._vms.append(machine)
        self.on_start(machine.boot)
        return machine

    def _check_vm(self, name: str, host: Host, bridge: str, ip: str, gateway: str | None, mac: str | None) -> None:
        """Every problem of a VM's description at once, before anything is recorded."""
        import ipaddress

        from netnb.model.resolver import check_mac

        problems = []
        if not isinstance(name, str) or not name or "/" in name:
            problems.append(f"VM name {name!r}: give a non-empty name without '/'")
        elif any(v.name == name for v in self._vms):
            problems.append(f"VM {name!r} is defined twice")
        if not isinstance(host, Host) or host.lab is not self:
            problems.append(f"VM {name!r}: its host must be a host or router of lab {self.name!r}, not {host!r}")
        if not isinstance(bridge, str):  # (whether the host has it is checked with the whole lab: it may come later)
            problems.append(f"VM {name!r}: bridge= is the name of a bridge of its host, not {bridge!r}")
        network = None
        try:
            if not isinstance(ip, str) or "/" not in ip:
                raise ValueError
            iface = ipaddress.IPv4Interface(ip)
            network = iface.network
            if iface.ip in (network.network_address, network.broadcast_address) and network.prefixlen < 31:
                problems.append(f"VM {name!r}: {ip} is the network's own or broadcast address; pick a host address")
        except ValueError:
            problems.append(f"VM {name!r}: ip={ip!r} is not an IPv4 address with a prefix, e.g. '10.0.1.11/24'")
        if gateway is not None:
            try:
                gw = ipaddress.IPv4Address(gateway)
                if network is not None and gw not in network:
                    problems.append(f"VM {name!r}: gateway {gateway} is not on its network {network}")
            except ValueError:
                problems.append(f"VM {name!r}: gateway={gateway!r} is not an IPv4 address")
        why = check_mac(mac) if mac is not None else None
        if why:
            problems.append(f"VM {name!r}: mac={why}")
        if problems:
            raise TopologyError(problems)

    def internet(self, lan: Switch, *, gateway: str, name: str = "internet", nat: bool = False) -> Internet:
        """The outside world, reached from ``lan`` through a router at ``gateway``.

        Adds a router (``name``) on the LAN and a web server ``www`` at 203.0.113.80 (a documentation
        address, inside the lab) serving a small page on port 80 while the lab runs. With ``nat`` the
        router masquerades the LAN as a home router does; without, the web server sees LAN addresses.
        """
        router = self.router(name)
        router.spec.role = "internet"
        www = self.host("www")
        www.spec.role = "web-server"
        self.link(router, lan, ip=gateway)
        self.link(router, www, ip=("203.0.113.1/24", "203.0.113.80/24"))
        www.route("default", via="203.0.113.1")
        if nat:
            subnet = lan.spec.subnet or ""
            router.spec.rules.append(Rule("nat", "POSTROUTING", ("-s", subnet, "-o", "eth1", "-j", "MASQUERADE")))
        net = Internet(router, www)
        self.on_start(net.serve)
        return net

    def share(self, at: str = "/shared", *, source: str | os.PathLike[str] | None = None) -> None:
        """One folder every node sees at ``at`` — the same folder, not a copy each (Kathará's ``/shared``):
        what one node writes there the others read. ``source``'s files (read now) are in it when the lab
        starts. On the kernel it is ``shares/NAME`` in the lab's folder (``lab.folder``; NAME is ``at``
        without its slashes), where the notebook reads it too; like the rest of the lab's folder, it goes with
        the lab.

        Example: ``lab.share("/shared", source="mylab/shared")``
        """
        self.require_not_running("add a shared folder")
        place = checks.file_path(at, "at")
        spec = ShareSpec(place, folder_files(source, place) if source is not None else {})
        self.topology.shares.append(spec)

    def link(self, a: Node | str, b: Node | str, *, ip: str | tuple[str | None, str | None] | None = None,
             ifname: str | tuple[str | None, str | None] | None = None, mtu: int | None = None,
             subnet: str | None = None, master: tuple[str | None, str | None] | None = None,
             mac: tuple[str | None, str | None] | None = None,
             port: PortOptions | tuple[PortOptions | None, PortOptions | None] | None = None,
             rate: str | int | tuple[str | int | None, str | int | None] | None = None) -> LinkSpec:
        """Connect two nodes with a veth pair.

        ``ip`` is the address of the one IP end (host/router to switch), or a pair for two IP ends; left
        out, addresses come from the switch's ``subnet`` (or this link's ``subnet``). ``ifname`` names
        the interfaces (default ``eth0``, ``eth1``... inside each node). ``master=(None, "br0")`` makes
        b's end a port of b's bridge ``br0`` (``b.bridge("br0")``); ``mac=("02:00:00:00:00:01", None)``
        fixes a's MAC (either end may have one). ``port=PortOptions(isolated=True)`` sets options of the
        end(s) that are a bridge's port (a switch's end, an end with ``master=``): hairpin, isolated,
        learning, flood, STP cost and priority; a pair sets each end's. ``rate="10mbit"`` limits what each
        end sends (a tbf qdisc: 10 ms of bucket, 50 ms of queue; ``("10mbit", None)`` limits a's only).

        Example: ``lab.link(a, host, master=(None, "br0"))``; ``lab.link(s1, s2, port=PortOptions(cost=100))``
        """
        self.require_not_running("add a link")
        spec = LinkSpec(self._node_name(a), self._node_name(b), ip=ip, ifname=ifname, mtu=mtu, subnet=subnet,
                        bridge=master, mac=mac, port=port, rate=rate)
        self.topology.add_link(spec)
        return spec

    def _node_name(self, node: Node | str) -> str:
        if isinstance(node, Node):
            if node.lab is not self:
                raise NetnbError(f"node {node.name!r} belongs to lab {node.lab.name!r}, not {self.name!r}")
            return node.name
        if isinstance(node, str):
            return node
        raise UsageError(f"link nodes of the lab (or their names), not {type(node).__name__} {node!r}")

    def extend(self, nodes: Sequence[Node] = (), links: Sequence[LinkSpec] = ()) -> ResolvedLab:
        """Describe nodes and links made while the lab runs (a container, its cables), so that they are the
        lab's like any other: ``lab[name]``, routes, read-back, display, drawing and captures know them.
        The caller builds them (``apply``); a description with problems is refused and nothing changes.
        :meth:`retract` takes them back."""
        for node in nodes:
            if node.lab is not self:
                raise UsageError(f"{node.name!r} belongs to lab {node.lab.name!r}, not {self.name!r}")
        self.topology.nodes.extend(n.spec for n in nodes)
        self.topology.links.extend(links)
        try:
            resolved = self.resolve_again()
        except TopologyError:
            self._drop([n.name for n in nodes], links)
            raise
        for node in nodes:
            self._handles.setdefault(node.name, node)
        return resolved

    def retract(self, names: Sequence[str] = (), links: Sequence[LinkSpec] = ()) -> None:
        """Take back what :meth:`extend` described: nodes by name (with their links) and links."""
        self._drop(names, links)
        for name in names:
            self._handles.pop(name, None)
        self.resolve_again()

    def _drop(self, names: Sequence[str], links: Sequence[LinkSpec]) -> None:
        gone = set(names)
        self.topology.nodes[:] = [n for n in self.topology.nodes if n.name not in gone]
        self.topology.links[:] = [lk for lk in self.topology.links
                                  if lk.a not in gone and lk.b not in gone and all(lk is not x for x in links)]

    def resolve_again(self) -> ResolvedLab:
        """Decide names and addresses again after the description changed on a running lab (a route
        added while it runs): TopologyError lists every problem; the running lab's view follows."""
        resolved = resolve(self.topology)
        if self.running:
            self._resolved = resolved
        return resolved

    def __getitem__(self, name: str) -> Node:
        try:
            return self._handles[name]
        except (KeyError, TypeError):
            names = ", ".join(self._handles) or "none yet"
            raise NotFoundError(f"there is no node {name!r} in lab {self.name!r} (its nodes: {names})") from None

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
    def state(self) -> LabState:
        """``described`` (nothing built), ``running`` or ``stopped``."""
        return self._state

    @property
    def running(self) -> bool:
        """True between start() and stop()."""
        return self._state == "running"

    def require_not_running(self, what: str) -> None:
        """A LabStateError naming ``what`` cannot be done while the lab runs (describing ends at start).

        >>> Lab("x").require_not_running("add a node")
        """
        if self._state == "running":
            raise LabStateError(f"cannot {what} while lab {self.name!r} runs; stop it first")

    def start(self, *, timeout: float = 30.0) -> Lab:
        """Build the lab; returns when every interface is up (so the first ping works).

        On any failure everything already built is removed before the error is raised.
        """
        self.require_not_running("start the lab")
        checks.seconds(timeout)
        resolved = resolve(self.topology)
        plan = compile_plan(resolved)
        backend = self.backend
        backend.check(plan.operations)
        t0 = time.perf_counter()
        backend.start(self.name)
        try:
            t1 = time.perf_counter()
            inside = backend.apply(plan.operations)
            t2 = time.perf_counter()
            backend.wait_ready(timeout, self.topology.ipv6)
            t3 = time.perf_counter()
            self.timings = {"agent_s": t1 - t0, "build_s": t2 - t1, "agent_ops_s": inside,
                            "ready_s": t3 - t2, "total_s": t3 - t0}
        except BaseException:
            backend.close()
            raise
        self._resolved, self._plan = resolved, plan
        self._finalizer = weakref.finalize(self, backend.close)
        self._state = "running"
        self._live_ops = []
        try:
            t4 = time.perf_counter()
            for share in resolved.shares:
                for node in resolved.nodes:
                    backend.share(node.name, share.name, share.at)
                if share.files and resolved.nodes:  # written once, by the first node: all of them see it
                    backend.write_files(resolved.nodes[0].name,
                                        [(f.path, f.content, f.mode) for f in share.files.values()])
            for node in resolved.nodes:
                if node.files:
                    backend.write_files(node.name, [(f.path, f.content, f.mode) for f in node.files])
            t5 = time.perf_counter()
            self.startup_results = self._run_startup(resolved)
            self.timings["files_s"] = t5 - t4
            self.timings["startup_s"] = time.perf_counter() - t5
            for hook in self._start_hooks:
                hook(self)
        except BaseException:
            self.stop()
            raise
        return self

    def _run_startup(self, resolved: ResolvedLab) -> list[CommandResult]:
        """Every node's startup commands, node by node in the order they were added, each in its order."""
        done: list[CommandResult] = []
        for node in resolved.nodes:
            for i, line in enumerate(node.startup, 1):
                result = self.nodes[node.name].run(line.command) if line.listens is None else \
                    self._start_service(node.name, line.command, line.listens)
                done.append(result)
                if result.rc != 0:
                    where = f" ({line.origin})" if line.origin else ""
                    said = (result.stderr.strip() or result.stdout.strip() or "(nothing printed)").splitlines()[-3:]
                    raise StartupError(
                        f"node {node.name!r}, startup command {i}{where}: `{line.command}` exited with {result.rc}:\n"
                        + "\n".join(f"    {x}" for x in said)
                        + f"\nThe lab was stopped and removed. Fix that command (try it by hand in a running lab "
                          f"with lab[{node.name!r}].run(...)) and start again.",
                        node=node.name, line=i, command=line.command, result=result)
        return done

    def _start_service(self, node: str, command: str, port: int) -> CommandResult:
        """A startup service: started in the background, waited for until it listens (its result: rc 0 and
        what it printed meanwhile, or rc 1 and why not)."""
        began = time.monotonic()
        process = self.nodes[node].popen(command)
        try:
            process.wait_listening(port)
        except NetnbError as exc:
            process.stop()
            return CommandResult(node, command, 1, "", str(exc), time.monotonic() - began)
        return CommandResult(node, command, 0, process.output(), "", time.monotonic() - began)

    def wait_ready(self, timeout: float = 10.0) -> float:
        """Wait until every interface that is up in the lab can carry packets; returns the seconds waited.

        ``start()`` does this for what it builds. Call it after making links by hand (``node.run("ip link
        add ...")``): the kernel activates a new link up to ~1 s after it comes up, and packets sent
        before are lost. TAP devices nobody opened yet are not waited for.
        """
        checks.seconds(timeout)
        return self._running().wait_ready(timeout, self.topology.ipv6)

    def wait_converged(self, timeout: float = 60.0, *, quiet: float = 2.0) -> float:
        """Wait until routing has converged: every router (every node that forwards) has a route to every subnet
        of the lab's links, and no router's routes changed for ``quiet`` seconds. Returns the seconds waited;
        after ``timeout`` a NetnbError names each router's missing subnets. For labs whose routers run routing
        daemons (FRR: RIP, OSPF, BGP), which learn routes over seconds after the start.

        Example: ``lab.start(); lab.wait_converged(); lab.routing()``
        """
        checks.seconds(timeout)
        checks.seconds(quiet, "quiet")
        backend = self._running()
        resolved = self.resolved()
        subnets = sorted({i.address.network for n in resolved.nodes for i in n.interfaces if i.address is not None}
                         | {b.address.network for n in resolved.nodes for b in n.bridges if b.address is not None},
                         key=lambda net: (int(net.network_address), net.prefixlen))
        routers = [n.name for n in resolved.nodes if n.forwards and not n.kind.is_l2]
        began = time.monotonic()
        last: dict[str, list[str]] = {}
        stable_since = began
        while True:
            now = time.monotonic()
            tables = {r: sorted(e.brief() for e in backend.routes(r)) for r in routers}
            missing = {r: [str(s) for s in subnets if not _covers(tables[r], s)] for r in routers}
            missing = {r: m for r, m in missing.items() if m}
            if tables != last:
                last, stable_since = tables, now
            if not missing and (now - stable_since >= quiet or self.simulated):
                return now - began
            if now - began >= timeout:
                said = "; ".join(f"{r} has no route to {', '.join(m[:4])}{' …' if len(m) > 4 else ''}"
                                 for r, m in missing.items()) or f"routes still changing (for less than {quiet:g} s)"
                raise NetnbError(f"routing in lab {self.name!r} did not converge within {timeout:g} s: {said}. Look "
                                 f"at lab.routing() and at the daemons' state (node.run(\"vtysh -c 'show ip route'\"))")
            if self.simulated:  # nothing in the simulation learns routes by itself
                raise NetnbError(f"routing in lab {self.name!r} has not converged and nothing in the simulation "
                                 f"learns routes (no routing daemons): {'; '.join(f'{r} lacks {m[0]}' for r, m in missing.items())}")
            time.sleep(0.25)  # polling the routers' tables (daemons send no signal when they are done)

    def routing(self) -> RoutingTable:
        """Every router's routes, read now, with the protocol that made each (kernel: connected; static; rip,
        ospf, bgp… from routing daemons), and a count per protocol; shown under a drawing of the lab whose
        router link ends list the routes that leave through them (``.draw()`` is that picture alone).

        Example: ``lab.routing()``
        """
        from netnb.view.routing import RoutingTable, counts, protocol, routing_drawing

        backend, resolved = self._running(), self.resolved()
        rows, notes, tables = [], [], {}
        for node in resolved.nodes:
            if not node.forwards or node.kind.is_l2:
                continue
            entries = tables[node.name] = backend.routes(node.name)
            for e in entries:
                rows.append([node.name, e.dest, ", ".join(e.gateways),
                             ", ".join(h.dev or "" for h in e.nexthops) if e.nexthops else e.dev or "", protocol(e)])
            notes.append(f"{node.name}: {counts(entries)}")
        title = f"routes of the routers of lab {self.name!r}"
        return RoutingTable(["router", "destination", "via", "dev", "protocol"], rows, title=title,
                            note="; ".join(notes), drawing=routing_drawing(title, resolved, tables))

    def on_start(self, hook: Callable[[Lab], None], on_stop: Callable[[Lab], None] | None = None) -> None:
        """Run ``hook(lab)`` each time the lab has started (services, containers); ``on_stop`` before it stops."""
        self._start_hooks.append(hook)
        if on_stop is not None:
            self._stop_hooks.append(on_stop)

    def stop(self) -> None:
        """Remove everything the lab built and stop its processes. Safe to call twice."""
        if not self.running:
            return
        for capture in list(self._captures):  # while the agent still answers: every frame it holds is kept
            if capture.running:
                try:
                    capture.stop()
                except NetnbError:  # what reached its spool is kept; the removal must go on
                    pass
        backend = self.backend
        try:
            for hook in self._stop_hooks:
                try:
                    hook(self)
                except Exception:  # stopping must go on; the namespaces' removal ends what is left
                    pass
            assert self._plan is not None
            undo = teardown_of([*self._plan.operations, *self._live_ops])
            try:
                backend.undo(undo)
            except AgentError:
                pass  # the agent died before: the kernel removed the whole lab with it
        finally:
            backend.close()
            if self._finalizer is not None:
                self._finalizer.detach()
            self._state = "stopped"
            self._resolved = None

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _running(self) -> Backend:
        if not self.running:
            raise LabStateError(f"lab {self.name!r} is {self._state}; start it first (lab.start() or `with lab:`)")
        return self.backend

    def live(self) -> Backend:
        """The backend of the running lab, for what nodes, captures and the Docker layer ask of it; a
        LabStateError that says to start the lab when it is not running.

        Example: ``lab.live().routes("A")``
        """
        return self._running()

    def apply(self, operations: Sequence[Operation]) -> None:
        """Run operations on the running lab; if one fails, those before it are undone and nothing stays."""
        self._running().apply(operations)
        self._live_ops.extend(operations)

    def undo(self, operations: Sequence[Operation]) -> None:
        """Undo operations applied with :meth:`apply` (e.g. removing a container)."""
        reverse = teardown_of(list(operations))
        self._running().undo(reverse)
        done = set(map(id, operations))
        self._live_ops = [op for op in self._live_ops if id(op) not in done]

    def capture(self, *points: Any, filter: str | None = None) -> Capture:
        """A capture at any number of points: nodes (all their interfaces), ``"node:ifname"``, links.

        Use it with ``with`` or call start()/stop(); ``filter`` is a tcpdump-style expression applied
        in the kernel. Each point records into a ring of kernel memory, pinned while it runs: 64 MiB for
        one point, a share of 128 MiB for many (32 points: 4 MiB each); the lab's running captures
        together stay within ``Lab(capture_memory=256)`` MiB, and a capture that would not fit is
        refused with what to do.
        """
        from netnb.capture.capture import Capture

        if not points:
            raise NetnbError("say where to capture: lab.capture(node, switch, 'node:eth0', ...)")
        capture = Capture(self, points, filter)
        self._captures.add(capture)  # stop() ends it first, keeping every frame it recorded
        return capture

    def capture_points(self, targets: Sequence[Any]) -> list[CapturePoint]:
        """Where a capture at ``targets`` records: a node (every interface but ``lo``; a switch's ports,
        with what was made while running), ``"node:ifname"``, ``(node, ifname)``, a link (its first end),
        a Docker host (its node), or a CapturePoint.

        >>> lab = Lab("x"); a = lab.host("A"); b = lab.host("B"); ab = lab.link(a, b)
        >>> [p.label for p in lab.capture_points([a, "B:eth0", ab])]
        ['A:eth0', 'B:eth0']
        """
        resolved = self.resolved()
        points: list[CapturePoint] = []
        for t in targets:
            t = getattr(t, "node", t)  # a DockerHost captures at its host node
            if isinstance(t, CapturePoint):
                found = [t]
            elif isinstance(t, Node) or (isinstance(t, str) and ":" not in t):
                name = t.name if isinstance(t, Node) else t
                try:
                    described = [i.name for i in resolved.node(name).interfaces]
                except KeyError:
                    if name not in self:
                        raise NetnbError(f"there is no node {name!r} in lab {self.name!r}") from None
                    described = []
                # Interfaces made while the lab runs (containers' veths) count too: ask the backend.
                live = [i.name for i in self[name].interfaces() if i.name != "lo" and i.kind != "bridge"] \
                    if self.running else []
                found = [CapturePoint(name, n) for n in dict.fromkeys(described + live)]
                if not found:
                    raise NetnbError(f"node {name!r} has no interfaces to capture on")
            elif isinstance(t, str):
                node_name, _, ifname = t.partition(":")
                found = [CapturePoint(node_name, ifname)]
            elif isinstance(t, tuple) and len(t) == 2:
                node_name = t[0].name if isinstance(t[0], Node) else str(t[0])
                found = [CapturePoint(node_name, str(t[1]))]
            elif isinstance(t, LinkSpec):
                link = next((lk for lk in resolved.links if {lk.a.node, lk.b.node} == {t.a, t.b}), None)
                if link is None:
                    raise NetnbError(f"link {t.a}–{t.b} is not part of lab {self.name!r}")
                found = [CapturePoint(link.a.node, link.a.name)]
            else:
                raise NetnbError(f"cannot capture at {t!r}: give a node, 'node:ifname', (node, ifname) or a link")
            points.extend(p for p in found if p not in points)
        return points

    @property
    def captures(self) -> list[Capture]:
        """The captures made with :meth:`capture` that still exist (running or not)."""
        return list(self._captures)

    def namespace_inodes(self) -> dict[str, int]:
        """The inode of each node's network namespace (to find the lab with ``lsns`` or prove it gone)."""
        return self._running().namespace_inodes()

    @property
    def folder(self) -> str:
        """A private folder (mode 0700) for this lab's files while it runs (web roots, sockets, spools);
        removed with everything in it when the lab stops, or when the notebook process ends.

        Example: ``open(os.path.join(lab.folder, "index.html"), "w")``
        """
        return self._running().folder

    @property
    def agent_pid(self) -> int | None:
        """The pid of the agent process holding this lab, while it runs."""
        return self.backend.pid if self.running else None

    # -- looking ----------------------------------------------------------------------------
    def drawing(self, live: bool = False) -> Drawing:
        """What draw() shows, as data: nodes (with kinds and groups) and labelled links.

        ``live`` reads every interface from the kernel once (state and packet counters).
        """
        from netnb.view.draw import Machine, lab_drawing  # matplotlib loads only when drawing

        states = self._running().all_interfaces() if live else None
        vms = [Machine(f"{vm.host.name}/{vm.name}", "tap-vm", vm.host.name, vm.address,
                       next((t.master for t in vm.host.spec.taps if t.name == vm.tap), None)) for vm in self._vms]
        return lab_drawing(f"lab {self.name} ({self._state}{', simulated' if self.simulated else ''})",
                           self.resolved(), states, vms)

    def draw(self, live: bool = False) -> Picture:
        """The topology as a picture that shows itself in a notebook (``.figure`` is the matplotlib Figure,
        None where matplotlib is missing and the picture is plain SVG; ``lab.draw().savefig("lab.svg")`` saves it). ``live`` adds link state and packet counters."""
        from netnb.view.draw import picture

        return picture(self.drawing(live=live))

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
        body = self.draw().svg()
        head = ""
        if self.origin:
            notes = "".join(f"<li>{html_escape(n)}</li>" for n in self.notes)
            head = f"<p>from {html_escape(self.origin)}</p>" + (f"<details><summary>{plural(len(self.notes), 'note')} "
                                                                f"on the import</summary><ul>{notes}</ul></details>"
                                                                if notes else "")
        return {"text/plain": repr(self), "text/html": head + f"<div>{body}</div>" + "".join(t.html() for t in tables)}

    def __repr__(self) -> str:
        kinds: dict[str, int] = {}
        for spec in self.topology.nodes:
            kinds[spec.kind.value] = kinds.get(spec.kind.value, 0) + 1
        parts = ", ".join(plural(n, k) for k, n in kinds.items()) or "empty"
        sim = " (simulated)" if self.simulated else ""
        origin = f", from {self.origin}" if self.origin else ""
        return f"<Lab {self.name!r} {self._state}{sim}: {parts}, {plural(len(self.topology.links), 'link')}{origin}>"


def _covers(routes: list[str], subnet: Any) -> bool:
    """Whether one of ``routes`` (``ip route`` lines: destination first) reaches ``subnet``."""
    import ipaddress

    for line in routes:
        dest = line.split()[0]
        if dest == "default":
            return True
        try:
            if subnet.subnet_of(ipaddress.IPv4Network(dest, strict=False)):
                return True
        except (ValueError, TypeError):
            continue
    return False
