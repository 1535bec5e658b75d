"""Validation and address allocation: a :class:`Topology` as written becomes a :class:`ResolvedLab`.

Every problem is collected and reported together in one :class:`~netnb.errors.TopologyError`, each
with what to fix, before anything touches the kernel. Resolution is deterministic: the same
description always gives the same interface names and addresses.

>>> from netnb.model.topology import Topology, NodeSpec, NodeKind, LinkSpec
>>> t = Topology("demo")
>>> for n in ("A", "B"): t.add_node(NodeSpec(n, NodeKind.HOST))
>>> t.add_node(NodeSpec("sw", NodeKind.SWITCH, subnet="10.0.0.0/24"))
>>> t.add_link(LinkSpec("A", "sw")); t.add_link(LinkSpec("B", "sw", ip="10.0.0.1/24"))
>>> lab = resolve(t)
>>> [str(i.address) for i in lab.node("A").interfaces]
['10.0.0.2/24']
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from netnb.errors import TopologyError, UsageError
from netnb.model import checks
from netnb.model.kinds import KINDS
from netnb.model.shaping import parse_rate
from netnb.model.firewall import TABLES, Chain, Rule, check_rule
from netnb.model.topology import (
    DEFAULT_AGEING_S,
    FileSpec,
    LinkSpec,
    NodeKind,
    NodeSpec,
    PORT_RANGES,
    PortOptions,
    ShareSpec,
    StartupCommand,
    Topology,
    VxlanSpec,
)

IFNAMSIZ = 15  # bytes an interface name may have (the kernel's IFNAMSIZ is 16 with the NUL)
_NODE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,14}$")
_CHILD_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # a container's own name, as Docker allows
_LAB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_MTU_RANGE = (68, 65535)
_MAX_AGEING_S = 1_000_000


@dataclass(frozen=True)
class ResolvedInterface:
    """One end of a link inside a node: its kernel name, address, MTU and (on a switch) its bridge."""

    node: str
    name: str
    address: IPv4Interface | None
    mtu: int | None
    bridge: str | None
    peer_node: str
    peer_name: str
    mac: str | None = None
    #: Options of the bridge port this end is (``bridge`` set), when any were given.
    port: PortOptions | None = None
    #: The rate limit of what this end sends, in bit/s (a tbf qdisc), when the link has one.
    rate: int | None = None


@dataclass(frozen=True)
class ResolvedBridge:
    """A Linux bridge: a switch's or hub's own, or one inside an IP node (``docker0``) with an address.

    ``ageing_cs`` is in centiseconds; 0 floods like a hub.
    """

    node: str
    name: str
    ageing_cs: int
    stp: bool
    address: IPv4Interface | None = None
    #: Its STP bridge priority (lower wins the root election; Linux's default 32768).
    priority: int = 32768


@dataclass(frozen=True)
class ResolvedInner:
    """A device wired inside a node: one end of an inner veth pair (``kind`` veth) or a TAP (``kind`` tap)."""

    node: str
    name: str
    kind: str
    master: str | None
    address: IPv4Interface | None = None
    peer: str | None = None


@dataclass(frozen=True)
class ResolvedRoute:
    """A static route with parsed addresses; ``dest`` 0.0.0.0/0 is the default route. A multipath route has
    its gateways in ``nexthops`` (two or more) and ``via`` None."""

    node: str
    dest: IPv4Network
    via: IPv4Address | None
    dev: str | None
    nexthops: tuple[IPv4Address, ...] = ()

    @property
    def gateways(self) -> tuple[IPv4Address, ...]:
        """Every gateway: ``via``, or the next hops of a multipath route."""
        return self.nexthops or ((self.via,) if self.via is not None else ())

    @property
    def dest_text(self) -> str:
        """``default`` for 0.0.0.0/0, the CIDR otherwise (as ``ip route`` prints it)."""
        return "default" if self.dest.prefixlen == 0 else str(self.dest)


@dataclass(frozen=True)
class ResolvedNode:
    """A node with everything decided: its interfaces, routes and (for switches) bridge."""

    name: str
    kind: NodeKind
    forwards: bool
    bridges: tuple[ResolvedBridge, ...]
    interfaces: tuple[ResolvedInterface, ...]
    routes: tuple[ResolvedRoute, ...]
    chains: tuple[Chain, ...] = ()
    rules: tuple[Rule, ...] = ()
    role: str = ""
    inner: tuple[ResolvedInner, ...] = ()
    vxlans: tuple[VxlanSpec, ...] = ()
    bridge_netfilter: bool = False
    startup: tuple[StartupCommand, ...] = ()
    #: (device, address) pairs besides the links', bridges' and inner devices' (``node.address(...)``).
    extra: tuple[tuple[str, IPv4Interface], ...] = ()
    #: Its own files (and folders), written into its view of the filesystem before the startup commands.
    files: tuple[FileSpec, ...] = ()

    @property
    def bridge(self) -> ResolvedBridge | None:
        """A switch's or hub's own bridge (None for IP nodes)."""
        return self.bridges[0] if self.kind.is_l2 and self.bridges else None

    def interface(self, name: str) -> ResolvedInterface | None:
        """The interface called ``name``, or None."""
        return next((i for i in self.interfaces if i.name == name), None)

    @property
    def addresses(self) -> tuple[IPv4Interface, ...]:
        """All addresses of the node: its interfaces' in link order, then its bridges', then inner devices'."""
        return tuple([i.address for i in self.interfaces if i.address is not None]
                     + [b.address for b in self.bridges if b.address is not None]
                     + [d.address for d in self.inner if d.address is not None]
                     + [a for _, a in self.extra if not a.ip.is_loopback])


@dataclass(frozen=True)
class ResolvedLink:
    """A veth pair: ``a`` and ``b`` are its two ends."""

    a: ResolvedInterface
    b: ResolvedInterface
    mtu: int | None


@dataclass(frozen=True)
class ResolvedLab:
    """A validated lab: what the plan is compiled from."""

    name: str
    ipv6: bool
    nodes: tuple[ResolvedNode, ...]
    links: tuple[ResolvedLink, ...]
    #: Folders every node shares (each at one place in every node).
    shares: tuple[ShareSpec, ...] = ()

    def node(self, name: str) -> ResolvedNode:
        """The node called ``name`` (KeyError if there is none)."""
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)


_MAC = re.compile(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}")


def check_mac(mac: object) -> str | None:
    """Why ``mac`` cannot be an interface's own MAC address, or None if it can.

    >>> check_mac("01:00:5e:00:00:01")
    "'01:00:5e:00:00:01' is not a unicast MAC address like '02:42:ac:11:00:02'"
    """
    if isinstance(mac, str) and _MAC.fullmatch(mac) and not int(mac[:2], 16) & 1:
        return None
    return f"{mac!r} is not a unicast MAC address like '02:42:ac:11:00:02'"


def check_ifname(name: object) -> str | None:
    """Why ``name`` cannot be a Linux interface name, or None if it can.

    >>> check_ifname("a-very-long-name0")
    "'a-very-long-name0' is 17 bytes; interface names have at most 15"
    """
    if not isinstance(name, str) or not name:
        return f"{name!r} is not a non-empty string"
    size = len(name.encode())
    if size > IFNAMSIZ:
        return f"{name!r} is {size} bytes; interface names have at most {IFNAMSIZ}"
    if name in (".", "..") or any(c in name for c in "/: \t\n") or not name.isprintable():
        return f"{name!r} contains a character Linux refuses in interface names ('/', ':', spaces)"
    return None


class _Problems:
    """Collects problems in the order found."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, text: str) -> None:
        if text not in self.items:
            self.items.append(text)


class _Segments:
    """Union-find over L2 segments: a switch is one segment, an L3 interface is joined by its link."""

    def __init__(self) -> None:
        self.parent: dict[object, object] = {}

    def find(self, key: object) -> object:
        self.parent.setdefault(key, key)
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def union(self, a: object, b: object) -> None:
        self.parent[self.find(a)] = self.find(b)


def _parse_network(text: str, what: str, problems: _Problems) -> IPv4Network | None:
    try:
        return IPv4Network(text, strict=True)
    except (ValueError, TypeError) as exc:
        problems.add(f"{what}: {text!r} is not an IPv4 subnet like '10.0.0.0/24' ({exc})")
        return None


@dataclass
class _End:
    """A link end while resolving (mutable until frozen into a ResolvedInterface)."""

    node: NodeSpec
    link_index: int
    name: str | None
    ip_text: str | None
    address: IPv4Interface | None = None
    bridge: str | None = None
    mac: str | None = None
    port: PortOptions | None = None
    rate: int | None = None


def _seg_key(e: _End) -> object:
    """The L2 segment an end is on, before joining: a switch, a bridge inside a node, or the link itself."""
    if e.node.kind.is_l2:
        return e.node.name
    return (e.node.name, "bridge", e.bridge) if e.bridge else (e.node.name, e.link_index)


def _bridge_and_mac_pairs(link: LinkSpec, ends: tuple[_End, _End], where: str, problems: _Problems) -> None:
    """``bridge=``: the end joins a bridge inside its node (which it must have) and has no address;
    ``mac=``: a fixed MAC for an end."""
    for what, pair in (("bridge", link.bridge), ("mac", link.mac)):
        if pair is not None and not (isinstance(pair, tuple) and len(pair) == 2):
            problems.add(f"{where}: {what}= takes a pair (a-side, b-side), not {pair!r}")
            return
    for end, name in zip(ends, link.bridge or (None, None)):
        if name is None:
            continue
        own = {b.name for b in end.node.bridges}
        if end.node.kind.is_l2:
            problems.add(f"{where}: {end.node.name!r} is a {end.node.kind.value}; its ports join it already")
        elif name not in own:
            problems.add(f"{where}: {end.node.name!r} has no bridge {name!r} (its bridges: "
                         f"{', '.join(sorted(own)) or 'none'})")
        elif end.ip_text is not None:
            problems.add(f"{where}: the end in {end.node.name!r} joins bridge {name!r} and has no address of its own")
        else:
            end.bridge = name
    for end, mac in zip(ends, link.mac or (None, None)):
        if mac is None:
            continue
        why = check_mac(mac)
        if why:
            problems.add(f"{where}: mac {why}")
        else:
            end.mac = mac


def _port_options(link: LinkSpec, ends: tuple[_End, _End], where: str, problems: _Problems) -> None:
    """``port=``: options of the ends that are bridge ports (a switch's end, an end with ``master=``)."""
    if link.port is None:
        return
    ports = [e for e in ends if e.bridge]
    if isinstance(link.port, PortOptions):
        if not ports:
            problems.add(f"{where}: port= sets options of a bridge's port, and neither end is one (a switch's "
                         f"end is, and an end with master=)")
        given = [(e, link.port) for e in ports]
    elif isinstance(link.port, tuple) and len(link.port) == 2 and \
            all(p is None or isinstance(p, PortOptions) for p in link.port):
        given = [(e, p) for e, p in zip(ends, link.port) if p is not None]
        for e, _ in given:
            if not e.bridge:
                problems.add(f"{where}: port= for the end in {e.node.name!r}, which is no bridge's port (a "
                             f"switch's end is, and an end with master=)")
    else:
        problems.add(f"{where}: port= takes PortOptions(...) or a pair of them (a-side, b-side), not {link.port!r}")
        return
    for end, options in given:
        bad = False
        for name, value in options.given().items():
            low_high = PORT_RANGES.get(name)
            if low_high is None and not isinstance(value, bool):
                problems.add(f"{where}: port option {name} is True or False, not {value!r}")
                bad = True
            elif low_high is not None and (isinstance(value, bool) or not isinstance(value, int)
                                           or not low_high[0] <= value <= low_high[1]):
                problems.add(f"{where}: port option {name} is a whole number from {low_high[0]} to {low_high[1]}, "
                             f"not {value!r}")
                bad = True
        if not bad and end.bridge:
            end.port = options


#: Rates a link may be limited to, in bit/s.
_RATE_RANGE = (1000, 100 * 1000**3)


def _rates(link: LinkSpec, ends: tuple[_End, _End], where: str, problems: _Problems) -> None:
    """``rate=``: a limit for what each end sends (both, or a pair per end)."""
    if link.rate is None:
        return
    given = link.rate if isinstance(link.rate, tuple) else (link.rate, link.rate)
    if len(given) != 2:
        problems.add(f"{where}: rate= takes one rate or a pair (a-side, b-side), not {link.rate!r}")
        return
    for end, value in zip(ends, given):
        if value is None:
            continue
        bits = parse_rate(value)
        if bits is None or not _RATE_RANGE[0] <= bits <= _RATE_RANGE[1]:
            problems.add(f"{where}: rate {value!r} is not a rate from 1kbit to 100gbit: write it as tc does "
                         f"('10mbit', '500kbit', '1gbit') or as bit/s")
        else:
            end.rate = bits


def _ip_pair(link: LinkSpec, ends: tuple[_End, _End], where: str, problems: _Problems) -> None:
    l3 = [e for e in ends if not e.node.kind.is_l2]
    if link.ip is None:
        return
    if isinstance(link.ip, str):
        if len(l3) == 1:
            l3[0].ip_text = link.ip
        elif not l3:
            problems.add(f"{where}: joins two switches, which have no addresses; drop ip=")
        else:
            problems.add(
                f"{where}: joins two IP nodes; give one address each, "
                f"e.g. ip=('10.0.1.1/24', '10.0.1.2/24')"
            )
        return
    if isinstance(link.ip, tuple) and len(link.ip) == 2:
        for end, text in zip(ends, link.ip):
            if text is None:
                continue
            if end.node.kind.is_l2:
                problems.add(f"{where}: {end.node.name!r} is a {end.node.kind.value} and has no address; use None for its side")
            elif not isinstance(text, str):
                problems.add(f"{where}: address {text!r} is not a string like '10.0.0.1/24'")
            else:
                end.ip_text = text
        return
    problems.add(f"{where}: ip= takes one address or a pair of addresses, not {link.ip!r}")


def _ifname_pair(link: LinkSpec, ends: tuple[_End, _End], where: str, problems: _Problems) -> None:
    if link.ifname is None:
        return
    names = (link.ifname, None) if isinstance(link.ifname, str) else link.ifname
    if not (isinstance(names, tuple) and len(names) == 2):
        problems.add(f"{where}: ifname= takes a name or a pair of names, not {link.ifname!r}")
        return
    for end, name in zip(ends, names):
        if name is None:
            continue
        why = check_ifname(name)
        if why:
            problems.add(f"{where}: interface name {why}")
        elif name == "lo":
            problems.add(f"{where}: 'lo' is the loopback interface every node already has; pick another name")
        else:
            end.name = name


def _auto_names(ends_by_node: dict[str, list[_End]], nodes: dict[str, NodeSpec], wheres: dict[int, str],
                problems: _Problems) -> None:
    """Give every unnamed end of an IP node a name, ethN, in the order the links were made (switch ports are
    named by _auto_port_names). A later link may not claim by name what an earlier one got that way: that
    would silently renumber the earlier interface (routes and rules written for it would then be wrong)."""
    for node_name, ends in ends_by_node.items():
        if nodes[node_name].kind.is_l2:
            continue
        taken: set[str] = set()
        automatic: dict[str, _End] = {}
        for e in ends:  # (in link order)
            if e.name is None:
                k = 0
                while f"eth{k}" in taken:
                    k += 1
                e.name = f"eth{k}"
                automatic[e.name] = e
            elif e.name in automatic:
                earlier = automatic[e.name]
                problems.add(f"{wheres.get(e.link_index, 'a link')}: asks for {node_name}:{e.name} by name, but "
                             f"{wheres.get(earlier.link_index, 'an earlier link')} already got {e.name} "
                             "(interfaces without a name are numbered in the order links are made): name that "
                             "end too (ifname=...), or pick another name")
            taken.add(e.name)


def _auto_port_names(ends: list[tuple[_End, _End]]) -> None:
    """Switch ports are named after what they connect to, so a MAC table reads like a wiring plan."""
    taken: dict[str, set[str]] = {}
    for end, _ in ends:
        if end.name:
            taken.setdefault(end.node.name, {end.node.name}).add(end.name)
    for end, peer in ends:
        if end.name is not None or not end.node.kind.is_l2:
            continue
        used = taken.setdefault(end.node.name, {end.node.name})
        base = f"{peer.node.name}-{peer.name}" if peer.name and not peer.node.kind.is_l2 else peer.node.name
        candidates = itertools.chain([base], (f"{peer.node.name}-{k}" for k in range(2, 100)),
                                     (f"port{k}" for k in itertools.count()))
        end.name = next(c for c in candidates if len(c.encode()) <= IFNAMSIZ and c not in used)
        used.add(end.name)


def _parse_address(end: _End, pool: IPv4Network | None, where: str, problems: _Problems) -> IPv4Interface | None:
    text = end.ip_text or ""
    if "/" not in text:
        if pool is None:
            problems.add(
                f"{where}: address {text!r} for {end.node.name!r} has no prefix length and no subnet "
                f"is known for this link; write it as '{text}/24' (or give the switch a subnet=)"
            )
            return None
        text = f"{text}/{pool.prefixlen}"
    try:
        addr = IPv4Interface(text)
    except (ValueError, TypeError) as exc:
        problems.add(f"{where}: {end.ip_text!r} for {end.node.name!r} is not an IPv4 address like '10.0.0.1/24' ({exc})")
        return None
    net = addr.network
    if net.prefixlen < 31 and addr.ip in (net.network_address, net.broadcast_address):
        which = "network" if addr.ip == net.network_address else "broadcast"
        problems.add(f"{where}: {addr} for {end.node.name!r} is the {which} address of {net}; pick a host address")
        return None
    if pool is not None and (addr.ip not in pool or addr.network != pool):
        problems.add(f"{where}: {addr} for {end.node.name!r} is outside the subnet {pool}; use an address in {pool}")
        return None
    return addr


def _hosts(net: IPv4Network) -> Iterator[IPv4Address]:
    return iter(net.hosts()) if net.prefixlen < 31 else iter(net)


def resolve(topo: Topology) -> ResolvedLab:
    """Validate ``topo`` and decide names and addresses; raise TopologyError listing every problem.

    In phases, each adding to one list of problems: the nodes, the links' ends (names, ip= forms, MTU),
    the addresses (explicit ones, then automatic ones from the pools), duplicates, then what lives inside
    nodes (bridges, inner veths and TAPs), firewall rules and routes.
    """
    problems = _Problems()
    if not isinstance(topo.name, str) or not _LAB_NAME.match(topo.name):
        problems.add(f"lab name {topo.name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    nodes, subnets = _check_nodes(topo, problems)
    pairs, ends_by_node = _link_ends(topo, nodes, problems)
    segments = _allocate_addresses(pairs, subnets, problems)
    _check_duplicates(pairs, ends_by_node, segments, problems)
    bridges = _resolve_bridges(nodes, ends_by_node, problems)
    inner = _resolve_inner(nodes, ends_by_node, bridges, problems)
    _check_firewall(nodes, problems)
    _check_vxlans(nodes, ends_by_node, bridges, problems)
    _check_rule_interfaces(nodes, ends_by_node, bridges, inner, problems)
    extra = _resolve_extra(nodes, ends_by_node, bridges, inner, problems)
    routes = _resolve_routes(nodes, ends_by_node, bridges, problems, inner, extra)
    _check_shares(topo, problems)
    if problems.items:
        raise TopologyError(problems.items)
    return _freeze(topo, nodes, pairs, ends_by_node, routes, bridges, inner, extra)


def _check_shares(topo: Topology, problems: _Problems) -> None:
    """Shared folders: each at a place of its own, none inside another, each named apart in the lab's folder."""
    seen: dict[str, str] = {}
    for share in topo.shares:
        where = (f"{share.origin}: " if share.origin else "") + f"shared folder {share.at!r}"
        for other in topo.shares:
            if other is not share and share.at.startswith(other.at.rstrip("/") + "/"):
                problems.add(f"{where}: it is inside the shared folder {other.at!r}; share one or the other")
        if share.name in seen and seen[share.name] != share.at:
            problems.add(f"{where}: its folder in the lab's folder, shares/{share.name}, is also "
                         f"{seen[share.name]!r}'s; move one")
        elif share.at in seen.values():
            problems.add(f"{where}: shared twice; share it once")
        seen.setdefault(share.name, share.at)


_Pair = tuple["_End", "_End", LinkSpec, str, "IPv4Network | None"]


def _check_nodes(topo: Topology, problems: _Problems) -> tuple[dict[str, NodeSpec], dict[str, IPv4Network]]:
    """Names, kinds and roles, switch options: the nodes by name, and the switches' subnets."""
    nodes: dict[str, NodeSpec] = {}
    subnets: dict[str, IPv4Network] = {}
    for node in topo.nodes:
        if isinstance(node.name, str) and "/" in node.name and node.role in ("container", "overlay"):
            host, _, child = node.name.partition("/")
            if host not in nodes or not _CHILD_NAME.match(child):
                problems.add(f"node name {node.name!r}: a {node.role} is '<its Docker host>/<name>', the host "
                             f"defined before it, the name [A-Za-z0-9][A-Za-z0-9_.-]*")
                continue
        elif not isinstance(node.name, str) or not _NODE_NAME.match(node.name):
            problems.add(
                f"node name {node.name!r}: use 1-15 letters, digits, '_' or '-', starting with a letter "
                f"(it names a namespace and, for switches, a bridge)"
            )
            continue
        if node.name in nodes:
            problems.add(f"node {node.name!r} is defined twice; give each node its own name")
            continue
        nodes[node.name] = node
        look = KINDS.get(node.role or node.kind.value)
        if look is None or look.builds != node.kind.value:
            known = ", ".join(k.name for k in KINDS.values() if k.builds == node.kind.value)
            problems.add(f"node {node.name!r}: role {node.role!r} is not a kind of {node.kind.value} "
                         f"(netnb.model.kinds.KINDS: {known})")
        if node.kind.is_l2:
            if node.subnet is not None:
                net = _parse_network(node.subnet, f"{node.kind.value} {node.name!r}", problems)
                if net is not None:
                    subnets[node.name] = net
            if node.stp_priority is not None and (not node.stp or isinstance(node.stp_priority, bool)
                                                  or not isinstance(node.stp_priority, int)
                                                  or not 0 <= node.stp_priority <= 65535):
                problems.add(f"switch {node.name!r}: priority={node.stp_priority!r}: give a number from 0 to 65535 "
                             "(lower wins the root election; 32768 is the default), with stp=True")
            if node.ageing_s is not None and not (0 <= node.ageing_s <= _MAX_AGEING_S):
                problems.add(f"switch {node.name!r}: ageing={node.ageing_s!r} s; use 0 (hub) to {_MAX_AGEING_S} seconds")
            if node.routes:
                problems.add(f"{node.kind.value} {node.name!r} is a layer-2 device and cannot have routes; put them on a host or router")
        elif node.subnet is not None:
            problems.add(f"{node.kind.value} {node.name!r}: subnet= belongs on a switch or a link, not on a {node.kind.value}")
        for i, line in enumerate(node.startup, 1):
            trouble = startup_problem(line.command)
            if trouble:
                where = f"{line.origin}: " if line.origin else ""
                problems.add(f"{where}node {node.name!r}: startup command {i} ({line.command!r}) {trouble}")
        _check_files(node, problems)

    return nodes, subnets


def _check_files(node: NodeSpec, problems: _Problems) -> None:
    """Paths a node's files may have (absolute, not in /proc, /sys, /dev), modes, and no file where another
    of its files needs a folder."""
    files = node.files.values()
    folders = {f.path for f in files if f.content is None}
    for f in files:
        where = f"{f.origin}: " if f.origin else ""
        try:
            checks.file_path(f.path, "file path")
            checks.file_mode(f.mode)
        except UsageError as exc:
            problems.add(f"{where}node {node.name!r}: {exc}")
            continue
        if f.content is not None and not isinstance(f.content, bytes):
            problems.add(f"{where}node {node.name!r}: file {f.path}: content must be bytes or text")
        parent = f.path.rsplit("/", 1)[0]
        while parent:
            if parent in node.files and parent not in folders:
                problems.add(f"{where}node {node.name!r}: {f.path} needs {parent} to be a folder, but it is one "
                             f"of the node's files; drop one of the two")
                break
            parent = parent.rsplit("/", 1)[0]


def script_lines(text: str) -> list[tuple[str, int]]:
    """The commands of a shell script, one per line, each with its line number: blank lines and ``#``
    comments skipped, a line ending in ``\\`` joined with the next (a Kathará ``.startup`` file, a lab file's
    block of startup lines).

    >>> script_lines("# up\\nip addr add 10.0.0.1/24 \\\\\\n   dev eth0\\n")
    [('ip addr add 10.0.0.1/24 dev eth0', 2)]
    """
    out: list[tuple[str, int]] = []
    pending: tuple[str, int] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if pending is not None:
            line, number = pending[0] + " " + line, pending[1]
            pending = None
        if line.endswith("\\"):
            pending = (line[:-1].rstrip(), number)
        elif line and not line.startswith("#"):
            out.append((line, number))
    if pending is not None:
        out.append(pending)
    return out


_OPENS = {"if": "fi", "for": "done", "while": "done", "until": "done", "case": "esac", "select": "done"}


def startup_problem(command: object) -> str | None:
    """Why ``command`` cannot be one startup command (run alone by ``sh -c``), or None.

    >>> startup_problem("ip addr add 10.0.0.1/24 dev eth0") is None
    True
    >>> startup_problem("if true; then")
    "opens 'if' without its 'fi': write the whole construct on one line (if …; then …; fi)"
    """
    if not isinstance(command, str):
        return f"is a {type(command).__name__}, not a command: write it as text"
    if not command.strip():
        return "is empty"
    if "\n" in command or "\0" in command:
        return "holds a line break or NUL: give each command on its own"
    if "<<" in command.replace("<<<", ""):
        return "has a here-document, whose text would be on the next lines: write the text with printf instead"
    words = re.findall(r"[^\s;&|()]+", command)
    if words and words[0] in _OPENS and _OPENS[words[0]] not in words:
        return (f"opens {words[0]!r} without its {_OPENS[words[0]]!r}: write the whole construct on one line "
                f"({words[0]} …; {'then' if words[0] == 'if' else 'do' if words[0] != 'case' else 'in'} …; "
                f"{_OPENS[words[0]]})")
    if command.rstrip().endswith("\\"):
        return "ends with a backslash: join it with the next line"
    return None


def _link_ends(topo: Topology, nodes: dict[str, NodeSpec],
               problems: _Problems) -> tuple[list[_Pair], dict[str, list[_End]]]:
    """Each link's two ends: endpoints exist, ip= and ifname= forms, MTU, interface names decided."""
    pairs: list[tuple[_End, _End, LinkSpec, str, IPv4Network | None]] = []
    ends_by_node: dict[str, list[_End]] = {}
    for i, link in enumerate(topo.links):
        where = f"{link.origin or f'link {i + 1}'} ({link.a}–{link.b})"
        missing = [n for n in (link.a, link.b) if n not in nodes]
        for n in missing:
            problems.add(f"{where}: there is no node {n!r} in this lab; create it first (lab.host/lab.switch/...)")
        if missing:
            continue
        if link.a == link.b:
            problems.add(f"{where}: links node {link.a!r} to itself; a link joins two different nodes")
            continue
        if link.mtu is not None and (not isinstance(link.mtu, int) or not _MTU_RANGE[0] <= link.mtu <= _MTU_RANGE[1]):
            problems.add(f"{where}: mtu={link.mtu!r}; use a whole number from {_MTU_RANGE[0]} to {_MTU_RANGE[1]}")
        link_net = _parse_network(link.subnet, where, problems) if link.subnet is not None else None
        ends = (_End(nodes[link.a], i, None, None), _End(nodes[link.b], i, None, None))
        if link_net is not None and any(e.node.kind.is_l2 for e in ends):
            problems.add(f"{where}: subnet= on a link to a switch; give the switch the subnet instead")
            link_net = None
        _ip_pair(link, ends, where, problems)
        _ifname_pair(link, ends, where, problems)
        _bridge_and_mac_pairs(link, ends, where, problems)
        for e in ends:
            ends_by_node.setdefault(e.node.name, []).append(e)
            if e.node.kind.is_l2:
                e.bridge = e.node.name
        _port_options(link, ends, where, problems)
        _rates(link, ends, where, problems)
        pairs.append((ends[0], ends[1], link, where, link_net))

    _auto_names(ends_by_node, nodes, {a.link_index: where for a, _b, _link, where, _net in pairs}, problems)
    _auto_port_names([pair for a, b, *_ in pairs for pair in ((a, b), (b, a))])
    for node_name, node_ends in ends_by_node.items():
        names = [e.name for e in node_ends]
        for twice in {x for x in names if names.count(x) > 1}:
            problems.add(f"node {node_name!r}: two interfaces are both called {twice!r}; names must be unique per node")
        if nodes[node_name].kind.is_l2 and node_name in names:
            problems.add(f"switch {node_name!r}: a port may not be called {node_name!r}, the name of its bridge")

    return pairs, ends_by_node


def _allocate_addresses(pairs: list[_Pair], subnets: dict[str, IPv4Network], problems: _Problems) -> _Segments:
    """Explicit addresses first, then the lowest free host address of each end's pool; the L2 segments."""
    seg = _Segments()
    for a, b, *_ in pairs:
        seg.union(_seg_key(a), _seg_key(b))

    def pool_of(end: _End, peer: _End, link_net: IPv4Network | None) -> IPv4Network | None:
        if peer.node.kind.is_l2:
            return subnets.get(peer.node.name)
        return link_net

    for a, b, link, where, link_net in pairs:
        for end, peer in ((a, b), (b, a)):
            if end.ip_text is not None:
                end.address = _parse_address(end, pool_of(end, peer, link_net), where, problems)

    # Automatic addresses: lowest free host address of the pool, after every explicit one is reserved.
    used: dict[object, set[IPv4Address]] = {}
    for a, b, *_ in pairs:
        for e in (a, b):
            if e.address is not None:
                key = seg.find(_seg_key(e))
                used.setdefault(key, set()).add(e.address.ip)
    # One cursor per segment and pool: addresses it passed stay taken, so each search goes on from there.
    cursors: dict[tuple[object, IPv4Network], Iterator[IPv4Address]] = {}
    for a, b, link, where, link_net in pairs:
        for end, peer in ((a, b), (b, a)):
            if end.node.kind.is_l2 or end.ip_text is not None:
                continue
            pool = pool_of(end, peer, link_net)
            if pool is None:
                continue
            key = seg.find(_seg_key(end))
            taken = used.setdefault(key, set())
            cursor = cursors.setdefault((key, pool), iter(_hosts(pool)))
            free = next((h for h in cursor if h not in taken), None)
            if free is None:
                problems.add(f"{where}: subnet {pool} has no free address left for {end.node.name!r}; use a larger subnet")
                continue
            taken.add(free)
            end.address = IPv4Interface(f"{free}/{pool.prefixlen}")

    return seg


def _check_duplicates(pairs: list[_Pair], ends_by_node: dict[str, list[_End]], seg: _Segments,
                      problems: _Problems) -> None:
    """An address used twice on one L2 segment, or twice on one node."""
    owners: dict[tuple[object, IPv4Address], str] = {}
    for a, b, *_ in pairs:
        for e in (a, b):
            if e.address is None:
                continue
            key = (seg.find(_seg_key(e)), e.address.ip)
            here = f"{e.node.name}:{e.name}"
            if key in owners and owners[key] != here:
                problems.add(f"address {e.address.ip} is used twice on one network ({owners[key]} and {here}); give each its own")
            owners[key] = here
    for node_name, node_ends in ends_by_node.items():
        ips = [e.address.ip for e in node_ends if e.address is not None]
        for ip in {x for x in ips if ips.count(x) > 1}:
            problems.add(f"node {node_name!r}: address {ip} is on two of its interfaces; give each its own")



def _parse_cidr(text: str | None, what: str, problems: _Problems) -> IPv4Interface | None:
    """An address with its prefix length (``10.0.1.1/24``) for a device inside a node, or None."""
    if text is None:
        return None
    try:
        address = IPv4Interface(text)
    except (ValueError, TypeError) as exc:
        problems.add(f"{what}: address {text!r} is not like '10.0.1.1/24' ({exc})")
        return None
    if "/" not in text:
        problems.add(f"{what}: address {text!r} needs a prefix length")
        return None
    return address


def _resolve_bridges(
    nodes: dict[str, NodeSpec], ends_by_node: dict[str, list[_End]], problems: _Problems
) -> dict[str, list[ResolvedBridge]]:
    """Bridges inside IP nodes: valid unique names, valid addresses (with prefix) not used twice."""
    out: dict[str, list[ResolvedBridge]] = {}
    for node in nodes.values():
        if not node.bridges:
            continue
        where = f"node {node.name!r}"
        if node.kind.is_l2:
            problems.add(f"{where}: a {node.kind.value} is a bridge already; put extra bridges in a host")
            continue
        taken = {e.name for e in ends_by_node.get(node.name, [])} | {"lo"}
        own = {e.address.ip for e in ends_by_node.get(node.name, []) if e.address is not None}
        for spec in node.bridges:
            why = check_ifname(spec.name)
            if why:
                problems.add(f"{where}: bridge name {why}")
                continue
            if spec.name in taken:
                problems.add(f"{where}: bridge {spec.name!r} has the name of another of its interfaces")
                continue
            taken.add(spec.name)
            address = _parse_cidr(spec.ip, f"{where}: bridge {spec.name!r}", problems)
            if address is not None:
                if address.ip in own:
                    problems.add(f"{where}: address {address.ip} is on two of its interfaces; give each its own")
                own.add(address.ip)
            ageing = DEFAULT_AGEING_S if spec.ageing_s is None else spec.ageing_s
            out.setdefault(node.name, []).append(
                ResolvedBridge(node.name, spec.name, int(round(ageing * 100)), False, address))
    return out


def _resolve_inner(
    nodes: dict[str, NodeSpec], ends_by_node: dict[str, list[_End]],
    bridges: dict[str, list[ResolvedBridge]], problems: _Problems
) -> dict[str, list[ResolvedInner]]:
    """Inner veth pairs and TAP devices: unique valid names, masters among the node's bridges."""
    out: dict[str, list[ResolvedInner]] = {}
    for node in nodes.values():
        if not (node.inner_veths or node.taps):
            continue
        where = f"node {node.name!r}"
        if node.kind.is_l2:
            problems.add(f"{where}: a {node.kind.value} cannot hold veth pairs or TAP devices; use a host")
            continue
        taken = {e.name for e in ends_by_node.get(node.name, [])} | {b.name for b in bridges.get(node.name, [])} | {"lo"}
        own_bridges = {b.name for b in bridges.get(node.name, [])}
        devices: list[tuple[str, str, str | None, str | None, str | None]] = []
        for v in node.inner_veths:
            devices += [(v.a, "veth", v.master_a, v.ip_a, v.b), (v.b, "veth", v.master_b, v.ip_b, v.a)]
        devices += [(t.name, "tap", t.master, None, None) for t in node.taps]
        for name, kind, master, ip, peer in devices:
            why = check_ifname(name)
            if why:
                problems.add(f"{where}: {kind} name {why}")
                continue
            if name in taken:
                problems.add(f"{where}: two interfaces are both called {name!r}; names must be unique per node")
                continue
            taken.add(name)
            if master is not None and master not in own_bridges:
                problems.add(f"{where}: {kind} {name!r} joins bridge {master!r}, which the node does not have "
                             f"(its bridges: {', '.join(sorted(own_bridges)) or 'none'})")
            address = _parse_cidr(ip, f"{where}: {name!r}", problems)
            out.setdefault(node.name, []).append(ResolvedInner(node.name, name, kind, master, address, peer))
    return out


def _check_firewall(nodes: dict[str, NodeSpec], problems: _Problems) -> None:
    for node in nodes.values():
        where = f"node {node.name!r}"
        if (node.chains or node.rules) and node.kind.is_l2:
            problems.add(f"{where}: firewall rules belong on hosts and routers, not on a {node.kind.value}")
            continue
        chains: set[tuple[str, str]] = set()
        for chain in node.chains:
            if chain.table not in TABLES:
                problems.add(f"{where}: table {chain.table!r} does not exist; use one of {', '.join(TABLES)}")
            elif chain.builtin:
                if chain.policy not in ("ACCEPT", "DROP"):
                    problems.add(f"{where}: built-in chain {chain.table}/{chain.name} takes policy ACCEPT or DROP")
            elif chain.policy is not None:
                problems.add(f"{where}: user chain {chain.name!r} cannot have a policy")
            elif (chain.table, chain.name) in chains:
                problems.add(f"{where}: chain {chain.table}/{chain.name} is created twice")
            chains.add((chain.table, chain.name))
        for rule in node.rules:
            why = check_rule(rule, chains)
            if why:
                problems.add(f"{where}: {why}")


def _check_vxlans(nodes: dict[str, NodeSpec], ends_by_node: dict[str, list[_End]],
                  bridges: dict[str, list[ResolvedBridge]], problems: _Problems) -> None:
    """A VXLAN device: a valid name and id, an IP underlay node that has ``local``, a bridge of its node."""
    for node in nodes.values():
        for v in node.vxlans:
            where = f"node {node.name!r}: VXLAN device {v.name!r}"
            why = check_ifname(v.name)
            if why:
                problems.add(f"{where}: {why}")
            if not isinstance(v.vni, int) or not 1 <= v.vni <= 0xFFFFFF:
                problems.add(f"{where}: vni {v.vni!r} is not a VXLAN id from 1 to 16777215")
            underlay = nodes.get(v.underlay)
            if underlay is None or underlay.kind.is_l2:
                problems.add(f"{where}: its underlay {v.underlay!r} is not a host or router of this lab")
            elif v.local not in {str(e.address.ip) for e in ends_by_node.get(v.underlay, []) if e.address}:
                problems.add(f"{where}: {v.local} is not an address of its underlay {v.underlay!r}")
            if v.master is not None and v.master not in {b.name for b in bridges.get(node.name, [])}:
                problems.add(f"{where}: {node.name!r} has no bridge {v.master!r}")
            if v.remote is not None:
                try:
                    IPv4Address(v.remote)
                except ValueError:
                    problems.add(f"{where}: remote {v.remote!r} is not an IPv4 address (the peer's underlay address)")


def _check_rule_interfaces(nodes: dict[str, NodeSpec], ends_by_node: dict[str, list[_End]],
                           bridges: dict[str, list[ResolvedBridge]], inner: dict[str, list[ResolvedInner]],
                           problems: _Problems) -> None:
    """A rule's ``-i``/``-o`` must name an interface of its node (or a ``+`` wildcard): iptables accepts any
    name and the rule then silently never matches (``masquerade(out="eth0")`` on a node without eth0)."""
    for node in nodes.values():
        if node.kind.is_l2 or not node.rules:
            continue
        names = {"lo", *(e.name for e in ends_by_node.get(node.name, []) if e.name),
                 *(b.name for b in bridges.get(node.name, [])), *(x.name for x in inner.get(node.name, []))}
        for rule in node.rules:
            args = list(rule.args)
            for flag in ("-i", "-o", "--in-interface", "--out-interface"):
                if flag in args[:-1]:
                    name = args[args.index(flag) + 1]
                    if not name.endswith("+") and name not in names:
                        problems.add(f"node {node.name!r}: rule {rule.text!r} names interface {name!r}, which "
                                     f"{node.name!r} does not have (its interfaces: {', '.join(sorted(names))})")


def _resolve_extra(
    nodes: dict[str, NodeSpec], ends_by_node: dict[str, list[_End]], bridges: dict[str, list[ResolvedBridge]],
    inner: dict[str, list[ResolvedInner]], problems: _Problems,
) -> dict[str, list[tuple[str, IPv4Interface]]]:
    """Addresses given with ``node.address``: on a device the node has, with a prefix, not used twice."""
    out: dict[str, list[tuple[str, IPv4Interface]]] = {}
    used = {str(e.address.ip): f"{n}:{e.name}" for n, ends in ends_by_node.items() for e in ends if e.address}
    for node in nodes.values():
        if node.addresses and node.kind.is_l2:
            problems.add(f"{node.kind.value} {node.name!r} is a layer-2 device: give addresses to hosts and routers")
            continue
        devices = {"lo"} | {e.name for e in ends_by_node.get(node.name, []) if e.name} | {
            b.name for b in bridges.get(node.name, [])} | {d.name for d in inner.get(node.name, [])} | {
            v.name for v in node.vxlans}
        for spec in node.addresses:
            where = (f"{spec.origin}: " if spec.origin else "") + f"node {node.name!r}: address {spec.ip!r} on {spec.dev!r}"
            if spec.dev not in devices:
                problems.add(f"{where}: the node has no device {spec.dev!r} (it has: {', '.join(sorted(devices))})")
                continue
            if not isinstance(spec.ip, str) or "/" not in spec.ip:
                problems.add(f"{where}: write it with its prefix, e.g. '10.255.0.1/32'")
                continue
            try:
                address = IPv4Interface(spec.ip)
            except ValueError as exc:
                problems.add(f"{where}: not an IPv4 address with a prefix ({exc})")
                continue
            here = f"{node.name}:{spec.dev}"
            owner = used.get(str(address.ip), "")
            anycast = spec.dev == "lo" and owner.endswith(":lo") and not owner.startswith(f"{node.name}:")
            if owner and not address.ip.is_loopback and not anycast:  # (one address on several loopbacks: anycast)
                problems.add(f"{where}: {address.ip} is already {used[str(address.ip)]}'s; give each its own")
                continue
            used[str(address.ip)] = here
            out.setdefault(node.name, []).append((spec.dev, address))
    return out


def _resolve_routes(
    nodes: dict[str, NodeSpec], ends_by_node: dict[str, list[_End]],
    bridges: dict[str, list[ResolvedBridge]], problems: _Problems,
    inner: dict[str, list[ResolvedInner]] | None = None,
    extra: dict[str, list[tuple[str, IPv4Interface]]] | None = None,
) -> dict[str, list[ResolvedRoute]]:
    out: dict[str, list[ResolvedRoute]] = {}
    for node in nodes.values():
        if node.kind.is_l2:
            continue
        ends = ends_by_node.get(node.name, [])
        connected = [e.address for e in ends if e.address is not None] + [
            b.address for b in bridges.get(node.name, []) if b.address is not None] + [
            d.address for d in (inner or {}).get(node.name, []) if d.address is not None] + [
            a for _, a in (extra or {}).get(node.name, [])]
        devices = {e.name for e in ends} | {b.name for b in bridges.get(node.name, [])} | {
            d.name for d in (inner or {}).get(node.name, [])} | {v.name for v in node.vxlans}
        seen: set[IPv4Network] = set()
        for r in node.routes:
            where = (f"{r.origin}: " if r.origin else "") + f"node {node.name!r}: route {r.dest!r}"
            dest_text = "0.0.0.0/0" if r.dest == "default" else r.dest
            try:
                dest = ipaddress.ip_network(dest_text, strict=True)
            except (ValueError, TypeError) as exc:
                problems.add(f"{where}: the destination is not 'default' or a subnet like '10.0.2.0/24' ({exc})")
                continue
            if not isinstance(dest, IPv4Network):
                problems.add(f"{where}: only IPv4 routes are supported so far")
                continue
            if dest in seen:
                problems.add(f"{where}: this node already has a route to {dest}; keep one (to spread traffic over "
                             f"several gateways give them all in one route: via=['GW1', 'GW2'])")
            seen.add(dest)
            gateways = _route_gateways(where, r.via, problems)
            if gateways is None:
                continue
            for via in gateways:
                if any(a.ip == via for a in connected):
                    problems.add(f"{where}: the gateway {via} is this node's own address; use the next hop's address")
                elif not any(via in a.network for a in connected):
                    nets = ", ".join(str(a.network) for a in connected) or "none"
                    problems.add(
                        f"{where}: the gateway {via} is on no subnet this node is connected to "
                        f"(its subnets: {nets}); use an address on one of them"
                    )
            if r.dev is not None and r.dev not in devices:
                names = ", ".join(sorted(n for n in devices if n)) or "none"
                problems.add(f"{where}: the node has no interface {r.dev!r} (it has: {names})")
            elif r.dev is not None and gateways:
                on_dev = [e.address for e in ends if e.name == r.dev and e.address is not None] + [
                    b.address for b in bridges.get(node.name, []) if b.name == r.dev and b.address is not None] + [
                    d.address for d in (inner or {}).get(node.name, []) if d.name == r.dev and d.address is not None]
                for via in gateways:
                    if on_dev and not any(via in a.network for a in on_dev):
                        problems.add(f"{where}: the gateway {via} is not on {r.dev}'s subnet "
                                     f"({', '.join(str(a.network) for a in on_dev)}); name the interface it is on, "
                                     f"or leave dev= out")
            if not gateways and r.dev is None:
                problems.add(f"{where}: give a gateway (via=...) or an interface (dev=...)")
            if len(gateways) > 1:
                out.setdefault(node.name, []).append(ResolvedRoute(node.name, dest, None, r.dev, tuple(gateways)))
                continue
            out.setdefault(node.name, []).append(ResolvedRoute(node.name, dest, gateways[0] if gateways else None, r.dev))
    return out


def _route_gateways(where: str, via: object, problems: _Problems) -> list[IPv4Address] | None:
    """A route's gateways: none, one, or the two or more of a multipath route (None after a problem)."""
    if via is None:
        return []
    written = [via] if isinstance(via, str) else list(via) if isinstance(via, (list, tuple)) else None
    if written is None or not written:
        problems.add(f"{where}: via= is a gateway's address or a list of them, not {via!r}")
        return None
    out: list[IPv4Address] = []
    for text in written:
        try:
            out.append(IPv4Address(text))
        except (ValueError, TypeError) as exc:
            problems.add(f"{where}: gateway {text!r} is not an IPv4 address ({exc})")
            return None
    if len(set(out)) < len(out):
        problems.add(f"{where}: a gateway is given twice ({', '.join(map(str, out))}); give each once")
        return None
    return out


def _freeze(
    topo: Topology,
    nodes: dict[str, NodeSpec],
    pairs: list[tuple[_End, _End, LinkSpec, str, IPv4Network | None]],
    ends_by_node: dict[str, list[_End]],
    routes: dict[str, list[ResolvedRoute]],
    bridges: dict[str, list[ResolvedBridge]],
    inner: dict[str, list[ResolvedInner]],
    extra: dict[str, list[tuple[str, IPv4Interface]]],
) -> ResolvedLab:
    frozen: dict[int, ResolvedInterface] = {}
    links = []
    for a, b, link, _, _ in pairs:
        ia = ResolvedInterface(a.node.name, a.name or "", a.address, link.mtu, a.bridge, b.node.name, b.name or "",
                               a.mac, a.port, a.rate)
        ib = ResolvedInterface(b.node.name, b.name or "", b.address, link.mtu, b.bridge, a.node.name, a.name or "",
                               b.mac, b.port, b.rate)
        frozen[id(a)], frozen[id(b)] = ia, ib
        links.append(ResolvedLink(ia, ib, link.mtu))
    out_nodes = []
    for node in nodes.values():
        own = list(bridges.get(node.name, []))
        if node.kind.is_l2:
            ageing = 0.0 if node.kind is NodeKind.HUB else (DEFAULT_AGEING_S if node.ageing_s is None else node.ageing_s)
            own = [ResolvedBridge(node.name, node.name, int(round(ageing * 100)), node.stp,
                                  priority=32768 if node.stp_priority is None else node.stp_priority)]
        ifaces = tuple(frozen[id(e)] for e in ends_by_node.get(node.name, []))
        out_nodes.append(ResolvedNode(node.name, node.kind, node.forwards, tuple(own), ifaces,
                                      tuple(routes.get(node.name, [])), tuple(node.chains), tuple(node.rules),
                                      node.role, tuple(inner.get(node.name, [])), tuple(node.vxlans),
                                      node.bridge_netfilter, tuple(node.startup), tuple(extra.get(node.name, [])),
                                      tuple(node.files.values())))
    return ResolvedLab(topo.name, topo.ipv6, tuple(out_nodes), tuple(links), tuple(topo.shares))
