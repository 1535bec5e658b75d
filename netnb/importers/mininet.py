"""Mininet topologies run as netnb labs: a ``Topo``-compatible class, and the loading of a Mininet topology file
(``mn --custom`` style) with ``mininet.*`` imports answered by this module.

>>> class Pair(Topo):
...     def build(self):
...         s1 = self.addSwitch("s1")
...         for name in ("h1", "h2"):
...             self.addLink(self.addHost(name), s1)
>>> lab = topo_lab(Pair(), backend="sim")
>>> [str(a) for h in ("h1", "h2") for a in lab[h].addresses]
['10.0.0.1/8', '10.0.0.2/8']

What maps to what (the README has the table):

- Hosts get Mininet's addresses: ``10.0.0.N/8`` to the N-th host in natural name order (h2 before h10),
  unless given ``ip=``; the address is on the host's first interface, as Mininet's ``setIP`` puts it.
- Interfaces are named as Mininet names them (``h1-eth0``; switch ports from ``s1-eth1``), or ``intfName1``
  / ``intfName2``; ``params1={"ip": ...}`` addresses an end; ``mac=`` / ``addr1`` set MACs; ``defaultRoute=
  "via 10.0.0.254"`` becomes a route.
- Switches of every class (OVS with a controller, ``OVSBridge``, ``LinuxBridge``/``lxbr``, user switches) are
  learning Linux bridges; ``stp=True`` turns STP on (``prio=`` its bridge priority).
- A host class's ``config()`` runs against a recording node: what it runs with ``self.cmd(...)`` becomes the
  node's startup commands (so Mininet's ``LinuxRouter``, which turns forwarding on, is a router);
  addresses and routes in the plain forms become part of the description.
- ``TCLink``'s ``bw`` alone becomes the link's ``rate`` (a tbf qdisc on both ends, simulated too); with
  ``delay``, ``jitter`` or ``loss`` the link gets Mininet's own commands (HTB for ``bw``, netem for the rest)
  as startup commands — netem, which some kernels lack (the start then says so).
- ``NAT`` nodes are refused: they connect the lab to the machine's network, which netnb never touches.

Hand-written: Mininet itself needs root, Open vSwitch and a live network to import; this shim needs nothing.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import ipaddress
import os
import re
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from netnb.errors import NetnbError, TopologyError
from netnb.importers.common import Findings, NodeLines, read_text, sort_lines
from netnb.lab import Lab
from netnb.nodes import Host as NetnbHost


def natural(text: Any) -> list[Any]:
    """Mininet's natural sort key: ``h2`` before ``h10``."""
    return [int(s) if s.isdigit() else s for s in re.split(r"(\d+)", str(text))]


class Node:
    """A Mininet node class, as the description sees it: ``config()`` runs against it, and what it runs with
    :meth:`cmd` is recorded (it becomes the node's startup commands)."""

    def __init__(self, name: str, **params: Any) -> None:
        self.name = name
        self.params = params
        self.commands: list[str] = []

    def cmd(self, *args: Any, **_kwargs: Any) -> str:
        """Record a command (Mininet runs it in the node's shell); returns no output."""
        self.commands.append(" ".join(str(a) for a in args))
        return ""

    def config(self, **_params: Any) -> dict[str, Any]:
        """Mininet's per-node configuration hook; addresses, MACs and the default route are taken from the
        parameters by the importer, so the base does nothing."""
        return {}

    def terminate(self) -> None:
        """Nothing to undo: the lab removes everything it made."""


class Host(Node):
    """Mininet's default host."""


class CPULimitedHost(Host):
    """CPU limits have nothing to act on in netnb: a plain host."""


class Switch(Node):
    """A switch: a learning Linux bridge in netnb."""


class OVSSwitch(Switch):
    """Open vSwitch: a learning Linux bridge in netnb."""


OVSKernelSwitch = OVSSwitch
UserSwitch = OVSSwitch


class OVSBridge(OVSSwitch):
    """Open vSwitch in standalone mode: a learning Linux bridge."""


class LinuxBridge(Switch):
    """Mininet's ``lxbr``: a Linux bridge, as netnb's switches are."""


class NAT(Node):
    """Mininet's NAT node connects the lab to the machine's network: netnb refuses it."""


class Controller:
    """Controllers have nothing to control: netnb's switches learn by themselves."""

    def __init__(self, name: str = "c0", **_params: Any) -> None:
        self.name = name


OVSController = DefaultController = RemoteController = NOX = Ryu = Controller


class Link:
    """A link between two nodes."""


class TCLink(Link):
    """A link with traffic control: ``bw`` (Mbit/s), ``delay``, ``jitter``, ``loss`` (%)."""


class Intf:
    """An interface (named in ``addLink`` with ``intfName1``/``intfName2``)."""


TCIntf = Intf


class Topo:
    """Mininet's ``Topo``: describe nodes and links in :meth:`build`; nothing is created.

    Example::

        class Tree(Topo):
            def build(self, n=2):
                s1 = self.addSwitch("s1")
                for i in range(1, n + 1):
                    self.addLink(self.addHost(f"h{i}"), s1)
    """

    def __init__(self, *args: Any, **params: Any) -> None:
        self.hopts = params.pop("hopts", {})
        self.sopts = params.pop("sopts", {})
        self.lopts = params.pop("lopts", {})
        self.node_info: dict[str, dict[str, Any]] = {}
        self.link_info: list[dict[str, Any]] = []
        self.ports: dict[str, dict[int, tuple[str, int]]] = {}
        self.build(*args, **params)

    def build(self, *args: Any, **params: Any) -> None:
        """Override this to describe the topology."""

    def addNode(self, name: str, **opts: Any) -> str:
        if name in self.node_info:
            raise TopologyError([f"Mininet topology: node {name!r} is added twice"])
        self.node_info[name] = opts
        return name

    def addHost(self, name: str, **opts: Any) -> str:
        return self.addNode(name, **(opts or self.hopts))

    def addSwitch(self, name: str, **opts: Any) -> str:
        return self.addNode(name, isSwitch=True, **(opts or self.sopts))

    def addLink(self, node1: str, node2: str, port1: int | None = None, port2: int | None = None,
                key: Any = None, **opts: Any) -> dict[str, Any]:
        opts = dict(opts or self.lopts)
        port1, port2 = self.addPort(node1, node2, port1, port2)
        opts.update(node1=node1, node2=node2, port1=port1, port2=port2)
        self.link_info.append(opts)
        return opts

    def addPort(self, src: str, dst: str, sport: int | None = None, dport: int | None = None) -> tuple[int, int]:
        """Port numbers as Mininet gives them: a host's from 0, a switch's from 1, in the order links are added."""
        ports = self.ports
        ports.setdefault(src, {})
        ports.setdefault(dst, {})
        if sport is None:
            sport = len(ports[src]) + (1 if self.isSwitch(src) else 0)
        if dport is None:
            dport = len(ports[dst]) + (1 if self.isSwitch(dst) else 0)
        ports[src][sport] = (dst, dport)
        ports[dst][dport] = (src, sport)
        return sport, dport

    def isSwitch(self, n: str) -> bool:
        return bool(self.node_info.get(n, {}).get("isSwitch", False))

    def nodes(self, sort: bool = True) -> list[str]:
        return sorted(self.node_info, key=natural) if sort else list(self.node_info)

    def hosts(self, sort: bool = True) -> list[str]:
        return [n for n in self.nodes(sort) if not self.isSwitch(n)]

    def switches(self, sort: bool = True) -> list[str]:
        return [n for n in self.nodes(sort) if self.isSwitch(n)]

    def links(self, sort: bool = False, withKeys: bool = False, withInfo: bool = False) -> list[Any]:
        out = [(i["node1"], i["node2"], i) if withInfo else (i["node1"], i["node2"]) for i in self.link_info]
        return sorted(out, key=lambda x: [natural(x[0]), natural(x[1])]) if sort else out

    def nodeInfo(self, name: str) -> dict[str, Any]:
        return self.node_info[name]


class SingleSwitchTopo(Topo):
    """Mininet's ``single,k``: one switch, k hosts."""

    def build(self, k: int = 2, **_opts: Any) -> None:
        switch = self.addSwitch("s1")
        for h in range(1, k + 1):
            self.addLink(self.addHost(f"h{h}"), switch)


class LinearTopo(Topo):
    """Mininet's ``linear,k,n``: k switches in a row, n hosts on each."""

    def build(self, k: int = 2, n: int = 1, **_opts: Any) -> None:
        last = None
        for i in range(1, k + 1):
            switch = self.addSwitch(f"s{i}")
            for j in range(1, n + 1):
                self.addLink(self.addHost(f"h{i}" if n == 1 else f"h{i}s{j}"), switch)
            if last:
                self.addLink(switch, last)
            last = switch


def topo_lab(topo: Topo, name: str = "mininet", *, backend: str | None = None, origin: str = "") -> Lab:
    """A Lab from a Mininet topology object, with Mininet's addresses and interface names.

    Example: ``lab = topo_lab(SingleSwitchTopo(3)); lab.start(); lab["h1"].ping(lab["h3"])``
    """
    found = Findings()
    lab = Lab(name, backend=backend)
    lab.origin = origin or f"Mininet topology {type(topo).__name__}"
    where = origin or type(topo).__name__
    hosts, switches = topo.hosts(), topo.switches()
    base = int(ipaddress.IPv4Address("10.0.0.0"))
    recorded: dict[str, NodeLines] = {}
    host_ip: dict[str, str] = {}
    for index, name_ in enumerate(hosts, 1):
        opts = dict(topo.node_info[name_])
        cls = opts.pop("cls", None) or Host
        if isinstance(cls, type) and issubclass(cls, NAT):
            found.problem(f"{where}: {name_}", "a NAT node connects the lab to this machine's network, which netnb "
                                               "never touches: leave it out (a lab node can play the outside world)")
            continue
        opts.setdefault("ip", f"{ipaddress.IPv4Address(base + index)}/8")  # counted even where ip= is given
        host_ip[name_] = str(opts["ip"])
        try:
            node = cls(name_, **opts) if isinstance(cls, type) and issubclass(cls, Node) else Node(name_, **opts)
            node.config(**opts)
        except Exception as exc:  # the user's class did something this recording node cannot
            found.problem(f"{where}: {name_}", f"its class {getattr(cls, '__name__', cls)}.config() failed here "
                                               f"({type(exc).__name__}: {exc})")
            continue
        into = NodeLines()
        sort_lines([(c, f"{where}: {name_}.cmd") for c in node.commands], into, found)
        recorded[name_] = into
        forwards = any(re.sub(r"\s", "", c) in ("sysctlnet.ipv4.ip_forward=1", "sysctl-wnet.ipv4.ip_forward=1")
                       for c, _ in into.commands)
        (lab.router if forwards else lab.host)(name_)
    for name_ in switches:
        opts = topo.node_info[name_]
        lab.switch(name_, stp=bool(opts.get("stp")), priority=opts.get("prio") if opts.get("stp") else None)
    first_port: dict[str, int] = {h: min(topo.ports.get(h, {0: None})) for h in hosts}
    tc: list[tuple[str, str, dict[str, Any]]] = []
    for info in topo.link_info:
        a, b, pa, pb = info["node1"], info["node2"], info["port1"], info["port2"]
        if a not in lab.nodes or b not in lab.nodes:
            continue
        ia = info.get("intfName1") or f"{a}-eth{pa}"
        ib = info.get("intfName2") or f"{b}-eth{pb}"
        ip_a = _end_ip(a, pa, info.get("params1"), host_ip, first_port)
        ip_b = _end_ip(b, pb, info.get("params2"), host_ip, first_port)
        mac_a = info.get("addr1") or (topo.node_info[a].get("mac") if first_port.get(a) == pa else None)
        mac_b = info.get("addr2") or (topo.node_info[b].get("mac") if first_port.get(b) == pb else None)
        if topo.isSwitch(a) and not topo.isSwitch(b):  # Lab.link takes the IP end's address: put it first
            a, b, ia, ib, ip_a, ip_b, mac_a, mac_b = b, a, ib, ia, ip_b, ip_a, mac_b, mac_a
        both_ip = not topo.isSwitch(a) and not topo.isSwitch(b)
        ip: Any = (ip_a, ip_b) if both_ip and (ip_a or ip_b) else (ip_a if not both_ip else None)
        shaped = {k: info[k] for k in ("bw", "delay", "jitter", "loss", "max_queue_size") if info.get(k) is not None}
        rate = f"{shaped['bw']}mbit" if set(shaped) == {"bw"} else None  # bandwidth alone: the link's own rate
        lab.link(a, b, ifname=(ia, ib), ip=ip, mac=(mac_a, mac_b) if mac_a or mac_b else None, rate=rate)
        if shaped and rate is None:
            tc += [(a, ia, shaped), (b, ib, shaped)]
    for name_, into in recorded.items():
        host = lab[name_]
        assert isinstance(host, NetnbHost)
        route = topo.node_info[name_].get("defaultRoute")
        if route:
            words = str(route).split()
            if words[:1] == ["via"] and len(words) == 2:
                host.route("default", via=words[1])
            else:
                host.route("default", dev=words[-1])
        for address, origin in into.addresses:
            host.address(address.ip, dev=address.dev)
            host.spec.addresses[-1].origin = origin
        into.describe(host)
    for node_name, ifname, shaped in tc:
        for command in _tc_commands(ifname, shaped):
            lab[node_name].startup(command)
    if tc:
        found.note(where, "TCLink delay, jitter and loss are netem qdiscs set by startup commands (with bw, under "
                          "Mininet's HTB); some kernels lack netem (this one's start then says so), and the simulation "
                          "has neither")
    return found.finish(lab)


def _end_ip(node: str, port: int, params: Any, host_ip: dict[str, str], first_port: dict[str, int]) -> str | None:
    """A link end's address: on a host's first interface its own ``ip`` (Mininet sets it last), else the
    link's ``params1``/``params2`` ``ip``; a switch's ends have none."""
    if node not in host_ip:
        return None
    if first_port.get(node) == port:
        return host_ip[node]
    ip = (params or {}).get("ip")
    return str(ip) if ip else None


def _tc_commands(ifname: str, shaped: dict[str, Any]) -> list[str]:
    """Mininet's TCIntf commands for ``bw`` (HTB) and ``delay``/``jitter``/``loss`` (netem)."""
    out = []
    parent = "root"
    if "bw" in shaped:
        out += [f"tc qdisc add dev {ifname} root handle 5:0 htb default 1",
                f"tc class add dev {ifname} parent 5:0 classid 5:1 htb rate {shaped['bw']}Mbit burst 15k"]
        parent = "parent 5:1"
    netem = " ".join(filter(None, [
        f"delay {shaped['delay']}" + (f" {shaped['jitter']}" if "jitter" in shaped else "") if "delay" in shaped else "",
        f"loss {shaped['loss']}%" if "loss" in shaped else "",
        f"limit {shaped['max_queue_size']}" if "max_queue_size" in shaped else ""]))
    if netem:
        out.append(f"tc qdisc add dev {ifname} {parent} handle 10: netem {netem}")
    return out


# -- loading a Mininet topology file -----------------------------------------------------------------------
_SHIM_MODULES = ("mininet", "mininet.topo", "mininet.node", "mininet.link", "mininet.net", "mininet.log",
                 "mininet.cli", "mininet.util", "mininet.nodelib", "mininet.topolib", "mininet.clean")


class _Mininet:
    """``Mininet(topo=...)``, for files that build a net at import: it only keeps the topology."""

    def __init__(self, topo: Topo | None = None, **_params: Any) -> None:
        self.topo = topo

    def start(self) -> None:
        raise NetnbError("this Mininet script starts its network itself; netnb runs its topology: give the file "
                         "a `topos` dict or keep the start under `if __name__ == '__main__':`")


class _Finder(importlib.abc.MetaPathFinder):
    """Answers ``import mininet.*`` with this module while a topology file runs (Mininet need not be installed)."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname in _SHIM_MODULES:
            return importlib.machinery.ModuleSpec(fullname, _Loader(), is_package=fullname == "mininet")
        return None


class _Loader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = types.ModuleType(spec.name)
        this = sys.modules[__name__]
        for key in ("Topo", "SingleSwitchTopo", "LinearTopo", "Node", "Host", "CPULimitedHost", "Switch",
                    "OVSSwitch", "OVSKernelSwitch", "UserSwitch", "OVSBridge", "LinuxBridge", "NAT", "Controller",
                    "OVSController", "DefaultController", "RemoteController", "NOX", "Ryu", "Link", "TCLink", "Intf",
                    "TCIntf"):
            setattr(module, key, getattr(this, key))
        module.Mininet = _Mininet  # type: ignore[attr-defined]
        module.CLI = lambda *a, **k: None  # type: ignore[attr-defined]
        module.setLogLevel = module.info = module.output = module.error = module.debug = (  # type: ignore[attr-defined]
            lambda *a, **k: None)
        module.lg = types.SimpleNamespace(setLogLevel=lambda *a: None)  # type: ignore[attr-defined]
        module.irange = lambda start, end: range(start, end + 1)  # type: ignore[attr-defined]
        module.quietRun = lambda *a, **k: ""  # type: ignore[attr-defined]
        module.dumpNodeConnections = lambda *a, **k: None  # type: ignore[attr-defined]
        module.natural = natural  # type: ignore[attr-defined]
        if spec.name == "mininet":
            module.__path__ = []  # type: ignore[attr-defined]
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        pass


@contextmanager
def _shim() -> Iterator[None]:
    saved = {name: sys.modules.pop(name) for name in _SHIM_MODULES if name in sys.modules}
    finder = _Finder()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for name in _SHIM_MODULES:
            sys.modules.pop(name, None)
        sys.modules.update(saved)


def load(path: str, *, topo: str | None = None, backend: str | None = None) -> Lab:
    """A Lab from a Mininet topology file: its ``topos`` dict (``mn --custom``; ``topo=`` picks one when there
    are several), else the one ``Topo`` subclass it defines. Runs the file (not its ``__main__`` part).

    Example: ``netnb.load("mytopo.py")``
    """
    source = read_text(path)
    scope: dict[str, Any] = {"__name__": "netnb_mininet_topology", "__file__": os.path.abspath(path)}
    with _shim():
        try:
            exec(compile(source, path, "exec"), scope)  # noqa: S102 (the user's own topology file, as mn --custom)
        except Exception as exc:
            raise TopologyError([f"{path}: running it failed ({type(exc).__name__}: {exc})"]) from exc
        name = re.sub(r"[^A-Za-z0-9_.-]", "-", os.path.splitext(os.path.basename(path))[0]) or "mininet"
        topos = scope.get("topos")
        if isinstance(topos, dict) and topos:
            chosen = topo or (next(iter(topos)) if len(topos) == 1 else None)
            if chosen not in topos:
                raise TopologyError([f"{path}: topos has {', '.join(map(repr, topos))}; pick one with "
                                     f"netnb.importers.mininet.load(path, topo=...)"])
            try:
                made = topos[chosen]()
            except Exception as exc:
                raise TopologyError([f"{path}: topos[{chosen!r}]() failed ({type(exc).__name__}: {exc})"]) from exc
        else:
            classes = [v for v in scope.values() if isinstance(v, type) and issubclass(v, Topo)
                       and v.__module__ == scope["__name__"]]
            if len(classes) != 1:
                raise TopologyError([f"{path}: defines {len(classes)} Topo classes and no `topos` dict; give it "
                                     "topos = {'name': MyTopo}"])
            made = classes[0]()
        if not isinstance(made, Topo):
            raise TopologyError([f"{path}: the topology is a {type(made).__name__}, not a Topo"])
        return topo_lab(made, name.strip("-.") or "mininet", backend=backend, origin=f"Mininet topology {path}")


__all__ = ["Topo", "topo_lab", "load", "SingleSwitchTopo", "LinearTopo"]  # (the node classes are the shim's too)
