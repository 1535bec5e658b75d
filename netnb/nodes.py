"""The nodes of a lab, as the user holds them: run commands, ping, read state, add routes.

A node object describes (its ``spec``) and, while its lab runs, acts through the lab's agent. Creating one
changes nothing; ``Lab.host()``/``router()``/``switch()``/``hub()`` make them.
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from netnb.errors import CommandFailed, CommandTimeout, FeatureMissingError, NetnbError, TopologyError, UsageError
from netnb.model import (
    CommandResult,
    FdbEntry,
    InterfaceState,
    NeighbourEntry,
    NodeKind,
    NodeSpec,
    PingResult,
    RouteEntry,
    RouteSpec,
    SocketEntry,
)
from netnb.model.state import ProcessEnd
from netnb.model import checks, frr
from netnb.model.firewall import TABLES, Rule, parse_iptables
from netnb.model.topology import AddressSpec, BridgeSpec, FileSpec, InnerVethSpec, StartupCommand, VxlanSpec
from netnb.plan import IptablesChain, IptablesPolicy, IptablesRule, Operation, route_operation
from netnb.view.records import RecordList
from netnb.view.firewall import rules_table
from netnb.view.table import Table, card

if TYPE_CHECKING:
    from netnb.lab import Lab


class Addressed(Protocol):
    """Anything with addresses a node can be reached from: a host, a VM."""

    @property
    def addresses(self) -> list[ipaddress.IPv4Interface]: ...


def folder_files(folder: str | os.PathLike[str], to: str = "/") -> dict[str, FileSpec]:
    """Every file and empty folder under ``folder`` (of this machine, read now) as files at the same place
    under ``to``, modes kept, symbolic links followed (what :meth:`Host.files_from` and :meth:`Lab.share` give)."""
    base = checks.file_path(to, "to") if to != "/" else ""
    root = os.fspath(folder)
    if not os.path.isdir(root):
        raise UsageError(f"{root!r} is not a folder of this machine; give the folder whose files the node gets")
    found: dict[str, FileSpec] = {}
    for here, dirs, names in os.walk(root, followlinks=True):
        dirs.sort()
        rel = os.path.relpath(here, root)
        inside = base + ("" if rel == "." else "/" + rel.replace(os.sep, "/"))
        if inside and not dirs and not names:  # an empty folder (others are made for their files)
            found[inside] = FileSpec(checks.file_path(inside, f"folder {here!r} as"), None,
                                     stat.S_IMODE(os.stat(here).st_mode), f"from {here}")
        for name in sorted(names):
            source = os.path.join(here, name)
            with open(source, "rb") as f:
                data = f.read()
            path = checks.file_path(f"{inside}/{name}", f"file {source!r} as")
            found[path] = FileSpec(path, data, stat.S_IMODE(os.stat(source).st_mode), f"from {source}")
    return found


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

    def interfaces(self) -> RecordList[InterfaceState]:
        """The node's interfaces as the kernel reports them now (name, MAC, state, MTU, addresses)."""
        items = self.lab.live().interfaces(self.name)
        return RecordList(items, f"interfaces of {self.name}", hide=("index", "peer_index"))

    def run(self, command: str | list[str], *, timeout: float | None = 60, check: bool = False,
            stdin: str | None = None) -> CommandResult:
        """Run a command inside the node and wait for it (a string runs under ``sh -c``).

        Example: ``lab["A"].run("ip -br addr").stdout``
        """
        text = command_text(command)
        if timeout is not None:
            checks.seconds(timeout, "timeout (or None: no limit)")
        if stdin is not None and not isinstance(stdin, str):
            raise UsageError(f"stdin must be text, not {type(stdin).__name__}")
        result = self.lab.live().run(self.name, command, timeout, stdin)
        if check and result.rc != 0:
            raise CommandFailed(f"{text!r} in node {self.name!r} exited with {result.rc}: {result.stderr.strip()}",
                                result)
        return result

    def startup(self, *commands: str) -> None:
        """Commands this node runs each time the lab starts, once every node is built and ready, in the order
        given (nodes in the order they were added): a Kathará ``.startup`` file, one command a line. A command
        that fails stops the lab, naming the node and the line (:class:`netnb.StartupError`).

        Example: ``r.startup("sysctl -w net.ipv4.ip_forward=1", "iptables -P FORWARD DROP")``
        """
        self.lab.require_not_running("add startup commands (run them now with node.run)")
        self.spec.startup += [StartupCommand(c) for c in commands]

    def service(self, command: str, *, port: int) -> None:
        """A server this node starts each time the lab starts, in its place among the startup commands: it
        runs in the background (stopped with the lab), and the start goes on once it listens on TCP
        ``port`` — as a service manager waits for a service; one that exits first stops the start with what
        it printed (:class:`netnb.StartupError`).

        Example: ``web.service("python3 -m http.server 80 --directory /var/www/html", port=80)``
        """
        self.lab.require_not_running("add a service (start one now with node.popen)")
        if not isinstance(command, str) or not command.strip():
            raise UsageError(f"a service is a command line, not {command!r}")
        self.spec.startup.append(StartupCommand(command, listens=checks.count(port, "port", most=65535)))

    def file(self, path: str, content: str | bytes, *, mode: int = 0o644) -> None:
        """A file this node has each time the lab starts, in its own view of the filesystem (written before the
        startup commands; a later ``file()`` of the same path replaces it). The machine's file at that path is
        never touched: the node sees its own, other nodes and the machine see theirs.

        Example: ``web.file("/var/www/html/index.html", "<h1>it works</h1>")``
        """
        self.lab.require_not_running("add files (write one now with node.write_file)")
        self.spec.files[checks.file_path(path, "file path")] = FileSpec(path, _content(content), checks.file_mode(mode))

    def files_from(self, folder: str | os.PathLike[str], to: str = "/") -> int:
        """Every file and empty folder under ``folder`` (of this machine, read now) becomes this node's own, at the
        same place under ``to``, modes kept: a Kathará node folder (``pc1/etc/hosts`` → ``/etc/hosts``), a web root.
        Returns how many files. Symbolic links are followed.

        Example: ``lab["pc1"].files_from("mylab/pc1")``
        """
        self.lab.require_not_running("add files")
        found = folder_files(folder, to)
        self.spec.files.update(found)
        return sum(1 for f in found.values() if f.content is not None)

    def write_file(self, path: str, content: str | bytes, *, mode: int = 0o644) -> None:
        """Write a file now, in this node's own view of the filesystem (the lab runs); folders are made.

        Example: ``lab["pc1"].write_file("/etc/motd", "welcome to pc1")``
        """
        data = _content(content)
        self.lab.live().write_files(self.name, [(checks.file_path(path), data, checks.file_mode(mode))])

    def read_file(self, path: str) -> bytes:
        """A file as this node sees it (its own, else the machine's), while the lab runs.

        Example: ``lab["pc1"].read_file("/etc/hosts").decode()``
        """
        return self.lab.live().read_file(self.name, checks.file_path(path))

    def popen(self, command: str | list[str]) -> Process:
        """Start a command in the background; it is stopped with the lab (or by ``stop()``)."""
        text = command_text(command)
        pid, handle = self.lab.live().popen(self.name, command)
        return Process(self, text, pid, handle)

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
        routes = "; ".join(f"{r.dest_text} via {' and '.join(map(str, r.gateways))}" if r.gateways
                           else f"{r.dest_text} dev {r.dev}" for r in node.routes)
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

    def address_towards(self, other: Addressed) -> str:
        """The address of this node that ``other`` (a node, a VM) can reach directly, else its first address."""
        mine = self.addresses
        if not mine:
            raise NetnbError(f"node {self.name!r} has no address to reach; give its link an ip= or a subnet")
        for addr in mine:
            if any(addr.ip in theirs.network for theirs in other.addresses):
                return str(addr.ip)
        return str(mine[0].ip)

    def ping(self, target: Host | str, count: int = 3, *, timeout: float = 2.0, interval: float = 0.2,
             size: int | None = None, dont_fragment: bool = False) -> PingResult:
        """Ping ``target`` (a node of this lab, its name, or an address) with the real ``ping``; see PingResult.

        Example: ``a.ping(b), a.ping("B"), a.ping("10.0.0.2", count=1, timeout=0.5)``
        """
        check_ping_args(count, timeout, interval, size)
        dest = self._ping_destination(target)
        argv = ["ping", "-n", "-c", str(count), "-i", str(interval), "-W", str(timeout)]
        if size is not None:
            argv += ["-s", str(size)]
        if dont_fragment:
            argv += ["-M", "do"]
        result = self.run(argv + [dest], timeout=count * interval + timeout + 5)
        return parse_ping(result.stdout + result.stderr, dest, self.name, count)

    def _ping_destination(self, target: Any) -> str:
        """The address to ping for ``target``; a clear error for anything that is not one."""
        if isinstance(target, str) and target in self.lab and not _is_ip(target):
            target = self.lab[target]
        if isinstance(target, Node):
            if target.lab is not self.lab:
                raise NetnbError(f"{target.name!r} belongs to lab {target.lab.name!r}, not to {self.lab.name!r}: "
                                 "a lab's nodes reach only nodes of the same lab")
            if not isinstance(target, Host):
                raise NetnbError(f"{target.name!r} is a {target.kind.value}: it has no address to ping; "
                                 "ping a host or router")
            return target.address_towards(self)
        address = getattr(target, "address", None)  # a VM
        if isinstance(address, str) and getattr(target, "lab", None) is self.lab:
            return address
        if not isinstance(target, str):
            raise NetnbError(f"ping a node, a node's name or an address, not {type(target).__name__} {target!r}")
        if not _is_ip(target) and not self._resolves_names():
            nodes = ", ".join(n.name for n in self.lab if isinstance(n, Host)) or "none"
            raise NetnbError(f"{target!r} is neither an IP address nor a host of lab {self.lab.name!r} "
                             f"(its hosts and routers: {nodes})")
        return target

    def _resolves_names(self) -> bool:
        """Whether commands here resolve other nodes' names (containers have an /etc/hosts of their own)."""
        return False

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
        """The main routing table, read now (a multipath route lists its next hops)."""
        entries = self.lab.live().routes(self.name)
        return RecordList(entries, f"routes of {self.name}",
                          hide=() if any(e.nexthops for e in entries) else ("nexthops",))

    def neighbours(self) -> RecordList[NeighbourEntry]:
        """The ARP table, read now."""
        return RecordList(self.lab.live().neighbours(self.name), f"ARP table of {self.name}")

    def listening(self) -> RecordList[SocketEntry]:
        """Sockets waiting for peers in this node, read now: TCP listeners and bound UDP sockets."""
        return RecordList(self.lab.live().listening(self.name), f"listening in {self.name}")

    def wait_listening(self, port: int, *, proto: str = "tcp", timeout: float = 10.0,
                       process: Process | None = None) -> SocketEntry:
        """Return once something in this node listens on ``port`` (a server started with ``popen`` is
        ready for its first client then, not before); raise after ``timeout`` seconds, or as soon as
        ``process`` has exited, with what it printed.

        Example: ``server = b.popen("python3 -m http.server 8080"); b.wait_listening(8080); a.run("curl ...")``
        """
        checks.count(port, "port", most=65535)
        if proto not in ("tcp", "udp"):
            raise UsageError(f"proto must be 'tcp' or 'udp', not {proto!r}")
        checks.seconds(timeout)
        deadline = time.monotonic() + timeout
        pause = 0.002
        while True:
            found = [s for s in self.listening() if s.port == port and s.proto == proto]
            if found:
                return found[0]
            if process is not None and not process.running:
                raise CommandFailed(f"{process.command!r} in node {self.name!r} exited before it listened on "
                                    f"{proto} port {port}; it printed: {process.output()[-500:].strip() or '(nothing)'}",
                                    process)
            if time.monotonic() > deadline:
                raise CommandTimeout(f"nothing in node {self.name!r} listens on {proto} port {port} after "
                                     f"{timeout:g} s (listening now: "
                                     f"{', '.join(f'{s.proto} {s.address}:{s.port}' for s in self.listening()) or 'nothing'})")
            time.sleep(pause)  # polling the kernel's socket table, not guessing a delay
            pause = min(pause * 2, 0.05)

    def inspect(self) -> NodeState:
        """Interfaces, routes and ARP table read now, shown together."""
        return NodeState(self.name, self.interfaces(), self.routes(), self.neighbours())

    def bridge(self, name: str, *, ip: str | None = None) -> str:
        """A Linux bridge inside this host (like a hypervisor's ``virbr0``), with an address if given."""
        self.lab.require_not_running("add a bridge")
        self.spec.bridges.append(BridgeSpec(name, ip))
        return name

    def veth(self, a: str, b: str, *, master: tuple[str | None, str | None] = (None, None),
             ip: tuple[str | None, str | None] = (None, None)) -> None:
        """A veth pair inside this host: ``master`` makes an end a port of one of its bridges, ``ip``
        gives an end an address (the host's own interface)."""
        self.lab.require_not_running("add a veth pair")
        self.spec.inner_veths.append(InnerVethSpec(a, b, master[0], master[1], ip[0], ip[1]))

    def masquerade(self, source: str, out: str) -> None:
        """Rewrite the source of packets from ``source`` leaving through ``out`` to this host's address."""
        rule = Rule("nat", "POSTROUTING", ("-s", source, "-o", out, "-j", "MASQUERADE"))
        if self.lab.running:
            self.lab.apply([IptablesRule(self.name, rule.table, rule.chain, rule.args)])
        self.spec.rules.append(rule)

    def address(self, ip: str, *, dev: str = "lo") -> None:
        """An address besides its links' (``ip address add IP dev DEV``): by default on loopback, as routers
        keep the address they are known by; or a second one on an interface. With its prefix.

        Example: ``r.address("10.255.0.1/32")``; ``host.address("10.0.0.11/24", dev="eth0")``
        """
        self.lab.require_not_running("add an address (run `ip address add` in the node now)")
        self.spec.addresses.append(AddressSpec(ip, dev))

    def vxlan(self, name: str, vni: int, *, local: str, remote: str, ip: str | None = None,
              port: int = 4789) -> None:
        """A VXLAN device in this node: Ethernet frames through it travel in UDP from ``local`` (an address of
        this node) to ``remote`` (the peer's), as ``ip link add NAME type vxlan id VNI local L remote R dstport
        4789 nolearning`` (``dev``: the interface holding ``local``); ``ip`` gives it an address (an overlay subnet
        the underlay never sees). Its MTU is 50 bytes below that interface's (1450 on a 1500-byte link).

        Example: ``a.vxlan("vx0", 42, local="192.168.3.2", remote="192.168.3.3", ip="10.9.0.1/24")``
        """
        self.lab.require_not_running("add a VXLAN device")
        self.spec.vxlans.append(VxlanSpec(name, vni, local, self.name, port, remote=remote))
        if ip is not None:
            self.address(ip, dev=name)

    def frr(self, config: str, *, daemons: Sequence[str] | None = None) -> None:
        """Run FRR's routing daemons in this node each time the lab starts, with ``config`` as its ``frr.conf``
        (in the node's own ``/etc/frr``): the daemons its ``router ...`` sections need (or ``daemons``), started
        with the other startup commands. ``node.run("vtysh -c 'show ip route'")`` asks them;
        ``lab.wait_converged()`` waits until the routers have learnt their routes. Needs the kernel backend and
        FRR on this machine (``bash scripts/setup.sh --frr``).

        Example: ``r1.frr("router rip\\n network 10.0.0.0/8\\n")``
        """
        self.lab.require_not_running("add FRR (change a running FRR with vtysh)")
        if not isinstance(config, str):
            raise UsageError(f"config is the text of an frr.conf, not {type(config).__name__}")
        if self.lab.simulated:
            raise FeatureMissingError("the simulation runs no routing daemons: build this lab on the kernel "
                                      "(Lab(..., backend='kernel')), or give its routers static routes")
        if not os.path.exists(frr.FRR_INIT):
            raise FeatureMissingError("this machine has no FRR: install it with `bash scripts/setup.sh --frr` "
                                      "(Debian's frr package)")
        try:
            text = frr.daemons_file(daemons if daemons is not None else frr.needed_daemons(config))
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        self.file("/etc/frr/frr.conf", config if config.endswith("\n") else config + "\n")
        self.file("/etc/frr/daemons", text)
        if all(c.command != frr.FRR_START for c in self.spec.startup):
            self.startup(frr.FRR_START)

    def firewall(self, *lines: str) -> None:
        """The node's iptables rules, as the lines a person types: ``-P CHAIN ACCEPT|DROP`` (a policy),
        ``-N CHAIN`` (a user chain), ``-A CHAIN <match> -j <target>``, each with ``-t TABLE`` unless it is
        filter (``iptables`` may lead). They are part of the description: checked with the rest (interface
        names, chains, targets), built in the order given, shown in the plan, undone with the lab; on a
        running lab they apply at once. ``firewall_rules()`` reads them back with their counters.

        Example: ``r.firewall("-P FORWARD DROP", "-A FORWARD -i eth0 -o eth1 -j ACCEPT",
        "-t nat -A PREROUTING -i eth1 -p tcp --dport 80 -j DNAT --to-destination 10.0.1.2:8080")``
        """
        parsed = []
        for line in lines:
            if not isinstance(line, str):
                raise UsageError(f"firewall lines are text like '-A FORWARD -j ACCEPT', not {type(line).__name__}")
            try:
                parsed.append(parse_iptables(line))
            except ValueError as exc:
                raise UsageError(f"node {self.name!r}: {exc}") from exc
        ops: list[Operation] = []
        had = len(self.spec.rules), len(self.spec.chains)
        for item in parsed:
            if isinstance(item, Rule):
                self.spec.rules.append(item)
                ops.append(IptablesRule(self.name, item.table, item.chain, item.args))
            else:
                before = next((c.policy for c in reversed(self.spec.chains)
                               if (c.table, c.name) == (item.table, item.name) and c.policy), "ACCEPT")
                self.spec.chains.append(item)
                ops.append(IptablesPolicy(self.name, item.table, item.name, item.policy, before) if item.policy
                           else IptablesChain(self.name, item.table, item.name))
        if self.lab.running:
            try:
                self.lab.resolve_again()  # the same checks as before a start: a bad rule is refused
                self.lab.apply(ops)
            except BaseException:
                del self.spec.rules[had[0]:], self.spec.chains[had[1]:]  # what this call added, nothing else
                self.lab.resolve_again()
                raise

    def firewall_rules(self, table: str = "filter") -> Table:
        """The node's ``table`` read now: every chain's policy and rules with packet and byte counters."""
        if table not in TABLES:
            raise UsageError(f"table {table!r} does not exist; use one of {', '.join(TABLES)}")
        listing = self.lab.live().firewall(self.name, ["-t", table, "-nvxL"])
        return rules_table(listing, f"{table} table of {self.name}")

    def route(self, dest: str, *, via: str | Sequence[str] | None = None, dev: str | None = None) -> None:
        """Add a static route (``dest`` is ``"default"`` or a CIDR). On a running lab it applies at once.

        Several gateways make a multipath (ECMP) route: each flow (source and destination address) takes
        one of them, so traffic to many addresses spreads over all.

        Example: ``a.route("10.9.0.0/24", via=["10.0.1.2", "10.0.2.2"])``
        """
        if via is not None and not isinstance(via, str):
            via = tuple(via)
        spec = RouteSpec(dest, via, dev)
        self.spec.routes.append(spec)
        if not self.lab.running:
            return
        try:
            resolved = self.lab.resolve_again()
            new = next(r for r in resolved.node(self.name).routes if r.dest == ipaddress.ip_network(
                "0.0.0.0/0" if dest == "default" else dest))
            self.lab.apply([route_operation(new)])
        except BaseException:
            self.spec.routes.remove(spec)
            self.lab.resolve_again()
            raise


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
        entries = self.lab.live().fdb(self.name, self.bridge)
        kept = [e for e in entries if include_local or not (e.local or e.static)]
        return RecordList(kept, f"MAC table of {self.name}", hide=() if include_local else ("local", "static"))

    def ports(self) -> RecordList[InterfaceState]:
        """The bridge's ports, read now."""
        ports = [i for i in self.interfaces() if i.master == self.bridge]
        return RecordList(ports, f"ports of {self.name}", hide=("index", "peer_index", "addresses"))


class Process:
    """A background process in a node (from ``node.popen``)."""

    def __init__(self, node: Node, command: str, pid: int, handle: int) -> None:
        self.node, self.command, self.pid, self.handle = node, command, pid, handle
        self._final: ProcessEnd | None = None

    @property
    def running(self) -> bool:
        """Whether it still runs (False once the lab stopped)."""
        if self._final is not None or not self.node.lab.running:
            return False
        return self.node.lab.live().process_state(self.handle).running

    def output(self) -> str:
        """Everything it wrote so far (stdout and stderr)."""
        if self._final is not None:
            return self._final.output
        return self.node.lab.live().process_output(self.handle)

    def wait_listening(self, port: int, *, proto: str = "tcp", timeout: float = 10.0) -> Process:
        """Return (this process) once its node listens on ``port``; fails at once if the process exits.

        Example: ``server = b.popen("python3 -m http.server 8080").wait_listening(8080)``
        """
        if not isinstance(self.node, Host):
            raise NetnbError(f"{self.node.name!r} is a {self.node.kind.value}: it runs no servers")
        self.node.wait_listening(port, proto=proto, timeout=timeout, process=self)
        return self

    def stop(self, timeout: float = 2.0) -> int | None:
        """SIGTERM its process group, SIGKILL after ``timeout``; returns the exit status."""
        if self._final is None:
            self._final = self.node.lab.live().process_stop(self.handle, timeout)
        return self._final.rc

    def __repr__(self) -> str:
        return f"<Process {self.node.name}$ {self.command!r} pid={self.pid}>"

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        state = "stopped" if self._final is not None else "started"  # no I/O here: .running asks the lab
        fields = [("node", self.node.name), ("command", self.command), ("pid", str(self.pid)), ("state", state)]
        if self._final is not None:
            fields.append(("exit status", str(self._final.rc)))
        return card(f"process {self.pid} in {self.node.name}", fields,
                    note=".output() reads what it wrote, .running asks whether it still runs, .stop() ends it")


def command_text(command: object) -> str:
    """A command as one line of text; refuses what is not a command (``run(None)``, ``run("")``).

    >>> command_text(["ip", "-br", "addr"])
    'ip -br addr'
    """
    if isinstance(command, str):
        if not command.strip():
            raise UsageError("the command is empty: give a shell line such as 'ip -br addr'")
        return command
    if isinstance(command, (list, tuple)) and command and all(isinstance(a, str) for a in command):
        return " ".join(command)
    raise UsageError(f"a command is a shell line (str) or a list of arguments (str), not {command!r}")


def check_ping_args(count: int, timeout: float, interval: float = 0.2, size: int | None = None) -> None:
    """Refuse what ``ping`` would reject or misread, before anything runs.

    >>> check_ping_args(0, 1.0)
    Traceback (most recent call last):
    netnb.errors.UsageError: count must be a whole number from 1 to 100000, not 0
    """
    checks.count(count)
    checks.seconds(timeout, most=3600)
    checks.seconds(interval, "interval", most=3600)
    if interval < 0.002:
        raise UsageError(f"interval must be at least 0.002 s (ping's floor), not {interval!r}")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= 65507):
        raise UsageError(f"size must be a whole number of payload bytes from 0 to 65507 (an IPv4 packet "
                         f"holds at most 65535), not {size!r}")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


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


def _content(content: object) -> bytes:
    """A file's content as bytes (text is written as UTF-8)."""
    if isinstance(content, str):
        return content.encode()
    if isinstance(content, (bytes, bytearray)):
        return bytes(content)
    raise UsageError(f"a file's content must be text or bytes, not {type(content).__name__}")
