"""A lab turned into an ordered list of operations, each with its exact reverse and the commands a
person would type to do the same by hand.

Operations are small frozen records of strings and numbers, so they cross a process boundary as JSON
(the kernel backend runs them in an agent process) and print as ``ip``/``sysctl`` commands.

>>> from netnb.model import Topology, NodeSpec, NodeKind, LinkSpec, resolve
>>> t = Topology("demo")
>>> t.add_node(NodeSpec("A", NodeKind.HOST)); t.add_node(NodeSpec("sw", NodeKind.SWITCH))
>>> t.add_link(LinkSpec("A", "sw", ip="10.0.0.1/24"))
>>> print(compile_plan(resolve(t)).script().splitlines()[0])
ip netns add A
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from netnb.model.firewall import Chain, Rule, join_args
from netnb.model.shaping import Tbf
from netnb.model.topology import PORT_DEFAULTS
from netnb.model.words import plural

if TYPE_CHECKING:
    from netnb.model.resolver import ResolvedLab, ResolvedRoute

#: Values of the sysctls netnb sets, as a fresh network namespace has them (their exact reverse).
FRESH_NAMESPACE_SYSCTLS = {
    "net.ipv4.ip_forward": "0",
    "net.ipv6.conf.all.disable_ipv6": "0",
    "net.ipv6.conf.default.disable_ipv6": "0",
    "net.ipv4.igmp_link_local_mcast_reports": "1",
    "net.bridge.bridge-nf-call-iptables": "1",
}


@dataclass(frozen=True)
class Operation:
    """One step of a plan, acting inside the namespace of ``node``."""

    kind: ClassVar[str] = ""
    registry: ClassVar[dict[str, type[Operation]]] = {}
    node: str

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if cls.kind:  # (bases such as DelLink have none)
            Operation.registry[cls.kind] = cls

    def reverse(self) -> Operation:
        """The operation that undoes this one exactly."""
        raise NotImplementedError

    def commands(self) -> list[str]:
        """The shell commands a person would type to do this by hand."""
        raise NotImplementedError

    @property
    def namespaced(self) -> bool:
        """True when the namespace's removal undoes this operation too."""
        return True

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; :func:`operation_from_dict` reads it back."""
        return {"op": self.kind, **dataclasses.asdict(self)}

    def describe(self) -> str:
        """A short human description (the first command)."""
        return self.commands()[0]


def operation_from_dict(data: dict[str, Any]) -> Operation:
    """Rebuild an operation from :meth:`Operation.to_dict` output.

    >>> operation_from_dict(AddNamespace("A").to_dict())
    AddNamespace(node='A')
    """
    fields = dict(data)
    cls = Operation.registry.get(fields.pop("op", ""))
    if cls is None:
        raise ValueError(f"unknown operation {data.get('op')!r}")
    return cls(**fields)


def _ns(node: str) -> str:
    return f"ip -n {shlex.quote(node)}"


@dataclass(frozen=True)
class AddNamespace(Operation):
    """Create the network namespace of a node (``lo`` exists, down)."""

    kind: ClassVar[str] = "add_netns"

    def reverse(self) -> Operation:
        return DelNamespace(self.node)

    def commands(self) -> list[str]:
        return [f"ip netns add {shlex.quote(self.node)}"]

    @property
    def namespaced(self) -> bool:
        return False


@dataclass(frozen=True)
class DelNamespace(Operation):
    """Remove a node's namespace and everything still in it."""

    kind: ClassVar[str] = "del_netns"

    def reverse(self) -> Operation:
        return AddNamespace(self.node)

    def commands(self) -> list[str]:
        return [f"ip netns del {shlex.quote(self.node)}"]

    @property
    def namespaced(self) -> bool:
        return False


@dataclass(frozen=True)
class SetSysctl(Operation):
    """Write a per-namespace sysctl; ``previous`` is the value the reverse restores."""

    kind: ClassVar[str] = "sysctl"
    key: str
    value: str
    previous: str

    def reverse(self) -> Operation:
        return SetSysctl(self.node, self.key, self.previous, self.value)

    def commands(self) -> list[str]:
        return [f"ip netns exec {shlex.quote(self.node)} sysctl -w {self.key}={self.value}"]


@dataclass(frozen=True)
class SetLinkState(Operation):
    """Bring an existing interface up or down."""

    kind: ClassVar[str] = "link_state"
    ifname: str
    up: bool

    def reverse(self) -> Operation:
        return SetLinkState(self.node, self.ifname, not self.up)

    def commands(self) -> list[str]:
        return [f"{_ns(self.node)} link set {self.ifname} {'up' if self.up else 'down'}"]


@dataclass(frozen=True)
class AddBridge(Operation):
    """Create a Linux bridge and bring it up; ``ageing_cs`` 0 makes it flood like a hub."""

    kind: ClassVar[str] = "add_bridge"
    ifname: str
    ageing_cs: int
    stp: bool = False
    #: The bridge priority in its STP bridge id (lower wins the root election); 32768 is Linux's default.
    priority: int = 32768

    def reverse(self) -> Operation:
        return DelBridge(self.node, self.ifname, self.ageing_cs, self.stp, self.priority)

    def commands(self) -> list[str]:
        stp = "stp_state 1 forward_delay 200" if self.stp else "stp_state 0"
        if self.priority != 32768:
            stp += f" priority {self.priority}"
        return [
            f"{_ns(self.node)} link add {self.ifname} type bridge ageing_time {self.ageing_cs} {stp}",
            f"{_ns(self.node)} link set {self.ifname} up",
        ]


@dataclass(frozen=True)
class AddVeth(Operation):
    """Create a veth pair: ``ifname`` in ``node``, ``peer_ifname`` in ``peer_node``; both come up.

    ``master`` (in ``node``) is the bridge the first end joins as a port.
    """

    kind: ClassVar[str] = "add_veth"
    ifname: str
    peer_node: str
    peer_ifname: str
    mtu: int | None = None
    master: str | None = None
    peer_master: str | None = None
    peer_mac: str | None = None
    mac: str | None = None

    def reverse(self) -> Operation:
        return DelVeth(self.node, self.ifname, self.peer_node, self.peer_ifname, self.mtu, self.master,
                       self.peer_master, self.peer_mac, self.mac)

    def commands(self) -> list[str]:
        mtu = f" mtu {self.mtu}" if self.mtu else ""
        mac = f" address {self.peer_mac}" if self.peer_mac else ""
        own = f" address {self.mac}" if self.mac else ""
        cmds = [
            f"{_ns(self.node)} link add {self.ifname}{mtu}{own} type veth "
            f"peer name {self.peer_ifname}{mtu}{mac} netns {shlex.quote(self.peer_node)}"
        ]
        master = f" master {self.master}" if self.master else ""
        cmds.append(f"{_ns(self.node)} link set {self.ifname}{master} up")
        peer_master = f" master {self.peer_master}" if self.peer_master else ""
        cmds.append(f"{_ns(self.peer_node)} link set {self.peer_ifname}{peer_master} up")
        return cmds


class DelLink(Operation):
    """Delete an interface that an ``Add…`` operation made; it carries that operation's fields, so its
    reverse makes the same interface again (every reverse is exact). Subclasses: one per kind of device."""

    ifname: str

    @property
    def home(self) -> str:
        """The namespace the interface lives in."""
        return self.node

    def commands(self) -> list[str]:
        return [f"{_ns(self.home)} link del {self.ifname}"]


@dataclass(frozen=True)
class DelBridge(DelLink):
    """Remove a bridge made by :class:`AddBridge`."""

    kind: ClassVar[str] = "del_bridge"
    ifname: str
    ageing_cs: int
    stp: bool = False
    priority: int = 32768

    def reverse(self) -> Operation:
        return AddBridge(self.node, self.ifname, self.ageing_cs, self.stp, self.priority)


@dataclass(frozen=True)
class DelVeth(DelLink):
    """Remove a veth pair made by :class:`AddVeth` (both ends go)."""

    kind: ClassVar[str] = "del_veth"
    ifname: str
    peer_node: str
    peer_ifname: str
    mtu: int | None = None
    master: str | None = None
    peer_master: str | None = None
    peer_mac: str | None = None
    mac: str | None = None

    def reverse(self) -> Operation:
        return AddVeth(self.node, self.ifname, self.peer_node, self.peer_ifname, self.mtu, self.master,
                       self.peer_master, self.peer_mac, self.mac)


@dataclass(frozen=True)
class AddTap(Operation):
    """A persistent TAP device (a VM's network card, seen from the host), optionally a bridge port."""

    kind: ClassVar[str] = "add_tap"
    ifname: str
    master: str | None = None

    def reverse(self) -> Operation:
        return DelTap(self.node, self.ifname, self.master)

    def commands(self) -> list[str]:
        master = f" master {self.master}" if self.master else ""
        return [f"{_ns(self.node)} tuntap add dev {self.ifname} mode tap",
                f"{_ns(self.node)} link set {self.ifname}{master} up"]


@dataclass(frozen=True)
class DelTap(DelLink):
    """Remove a TAP device made by :class:`AddTap`."""

    kind: ClassVar[str] = "del_tap"
    ifname: str
    master: str | None = None

    def reverse(self) -> Operation:
        return AddTap(self.node, self.ifname, self.master)


@dataclass(frozen=True)
class AddVxlan(Operation):
    """A VXLAN tunnel endpoint: frames entering it leave as UDP from ``local`` to ``port`` (4789)."""

    kind: ClassVar[str] = "add_vxlan"
    ifname: str
    vni: int
    local: str
    port: int = 4789
    master: str | None = None
    target_node: str | None = None
    #: Where frames for no known MAC go (broadcasts, ARP, unknown unicast): the peer's underlay address.
    remote: str | None = None
    #: The underlay interface (the one with ``local``): the device's MTU is 50 bytes below its own.
    dev: str | None = None

    @property
    def home(self) -> str:
        """Where the device lives: ``target_node`` if given (it still sends its UDP from ``node``)."""
        return self.target_node or self.node

    def reverse(self) -> Operation:
        return DelVxlan(self.node, self.ifname, self.vni, self.local, self.port, self.master, self.target_node,
                        self.remote, self.dev)

    def commands(self) -> list[str]:
        master = f" master {self.master}" if self.master else ""
        move = f" netns {shlex.quote(self.target_node)}" if self.target_node else ""
        remote = f" remote {self.remote}" if self.remote else ""
        dev = f" dev {self.dev}" if self.dev else ""
        return [f"{_ns(self.node)} link add {self.ifname} type vxlan id {self.vni} local {self.local}{remote}{dev} "
                f"dstport {self.port} nolearning{move}",
                f"{_ns(self.home)} link set {self.ifname}{master} up"]


@dataclass(frozen=True)
class DelVxlan(DelLink):
    """Remove a VXLAN device made by :class:`AddVxlan` (from where it lives: ``target_node`` if given)."""

    kind: ClassVar[str] = "del_vxlan"
    ifname: str
    vni: int
    local: str
    port: int = 4789
    master: str | None = None
    target_node: str | None = None
    remote: str | None = None
    dev: str | None = None

    @property
    def home(self) -> str:
        return self.target_node or self.node

    def reverse(self) -> Operation:
        return AddVxlan(self.node, self.ifname, self.vni, self.local, self.port, self.master, self.target_node,
                        self.remote, self.dev)


@dataclass(frozen=True)
class AddFdb(Operation):
    """A forwarding entry on a VXLAN device: frames for ``mac`` go to the tunnel endpoint ``dst``
    (``00:00:00:00:00:00``: where broadcasts and unknown destinations are copied)."""

    kind: ClassVar[str] = "add_fdb"
    ifname: str
    mac: str
    dst: str

    def reverse(self) -> Operation:
        return DelFdb(self.node, self.ifname, self.mac, self.dst)

    def commands(self) -> list[str]:
        return [f"ip netns exec {shlex.quote(self.node)} bridge fdb append {self.mac} dev {self.ifname} dst {self.dst}"]


@dataclass(frozen=True)
class DelFdb(Operation):
    """Remove a forwarding entry made by :class:`AddFdb`."""

    kind: ClassVar[str] = "del_fdb"
    ifname: str
    mac: str
    dst: str

    def reverse(self) -> Operation:
        return AddFdb(self.node, self.ifname, self.mac, self.dst)

    def commands(self) -> list[str]:
        return [f"ip netns exec {shlex.quote(self.node)} bridge fdb del {self.mac} dev {self.ifname} dst {self.dst}"]


@dataclass(frozen=True)
class AddAddress(Operation):
    """Add an IPv4 address (CIDR) to an interface."""

    kind: ClassVar[str] = "add_addr"
    ifname: str
    cidr: str

    def reverse(self) -> Operation:
        return DelAddress(self.node, self.ifname, self.cidr)

    def commands(self) -> list[str]:
        return [f"{_ns(self.node)} addr add {self.cidr} dev {self.ifname}"]


@dataclass(frozen=True)
class DelAddress(Operation):
    """Remove an IPv4 address from an interface."""

    kind: ClassVar[str] = "del_addr"
    ifname: str
    cidr: str

    def reverse(self) -> Operation:
        return AddAddress(self.node, self.ifname, self.cidr)

    def commands(self) -> list[str]:
        return [f"{_ns(self.node)} addr del {self.cidr} dev {self.ifname}"]


@dataclass(frozen=True)
class AddRoute(Operation):
    """Add a static route to the main table; ``dest`` is a CIDR (0.0.0.0/0 for the default route). A
    multipath (ECMP) route has its gateways in ``nexthops`` and no ``via``."""

    kind: ClassVar[str] = "add_route"
    dest: str
    via: str | None = None
    dev: str | None = None
    nexthops: tuple[str, ...] = ()

    def reverse(self) -> Operation:
        return DelRoute(self.node, self.dest, self.via, self.dev, self.nexthops)

    def commands(self) -> list[str]:
        return [f"{_ns(self.node)} route add {_route_words(self.dest, self.via, self.dev, self.nexthops)}"]


@dataclass(frozen=True)
class DelRoute(Operation):
    """Remove a static route."""

    kind: ClassVar[str] = "del_route"
    dest: str
    via: str | None = None
    dev: str | None = None
    nexthops: tuple[str, ...] = ()

    def reverse(self) -> Operation:
        return AddRoute(self.node, self.dest, self.via, self.dev, self.nexthops)

    def commands(self) -> list[str]:
        return [f"{_ns(self.node)} route del {_route_words(self.dest, self.via, self.dev, self.nexthops)}"]


@dataclass(frozen=True)
class SetBridgePort(Operation):
    """Set options of a bridge port (``ip link set dev PORT type bridge_slave ...``); what is None stays.
    ``before`` holds the values they replace (the kernel's defaults, PORT_DEFAULTS, unless given): its
    reverse sets those again."""

    kind: ClassVar[str] = "set_bridge_port"
    ifname: str
    hairpin: bool | None = None
    isolated: bool | None = None
    learning: bool | None = None
    flood: bool | None = None
    cost: int | None = None
    priority: int | None = None
    before: tuple[tuple[str, bool | int], ...] = ()

    def __post_init__(self) -> None:  # (a port starts with the defaults; JSON gives lists back)
        before = tuple((str(k), v) for k, v in self.before) or tuple((k, PORT_DEFAULTS[k]) for k in self.given())
        object.__setattr__(self, "before", before)

    def given(self) -> dict[str, bool | int]:
        """The options this operation sets."""
        return {k: v for k in PORT_DEFAULTS if (v := getattr(self, k)) is not None}

    def reverse(self) -> Operation:
        return SetBridgePort(self.node, self.ifname, **dict(self.before),  # type: ignore[arg-type]
                             before=tuple(self.given().items()))

    def commands(self) -> list[str]:
        words = [f"{k} {('on' if v else 'off') if isinstance(v, bool) else v}" for k, v in self.given().items()]
        return [f"{_ns(self.node)} link set dev {self.ifname} type bridge_slave {' '.join(words)}"]


@dataclass(frozen=True)
class _TbfOperation(Operation):
    """An interface's tbf qdisc: ``rate`` in bit/s, ``burst`` and ``limit`` in bytes (netnb.model.shaping)."""

    ifname: str
    rate: int
    burst: int
    limit: int

    def tbf(self) -> Tbf:
        """The qdisc's numbers."""
        return Tbf(self.rate, self.burst, self.limit)


@dataclass(frozen=True)
class AddShaper(_TbfOperation):
    """Limit what an interface sends to ``rate`` bit/s: a tbf qdisc at its root."""

    kind: ClassVar[str] = "add_tbf"

    def reverse(self) -> Operation:
        return DelShaper(self.node, self.ifname, self.rate, self.burst, self.limit)

    def commands(self) -> list[str]:
        return [f"tc -n {shlex.quote(self.node)} qdisc add dev {self.ifname} root tbf {self.tbf().words()}"]


@dataclass(frozen=True)
class DelShaper(_TbfOperation):
    """Remove an interface's tbf qdisc (it sends unlimited again)."""

    kind: ClassVar[str] = "del_tbf"

    def reverse(self) -> Operation:
        return AddShaper(self.node, self.ifname, self.rate, self.burst, self.limit)

    def commands(self) -> list[str]:
        return [f"tc -n {shlex.quote(self.node)} qdisc del dev {self.ifname} root"]


class IptablesOperation(Operation):
    """An ``iptables`` command inside a node (iptables-nft): subclasses give its arguments."""

    def argv(self) -> list[str]:
        """The iptables arguments (without the program name)."""
        raise NotImplementedError

    def commands(self) -> list[str]:
        return [f"ip netns exec {shlex.quote(self.node)} iptables {join_args(tuple(self.argv()))}"]


@dataclass(frozen=True)
class IptablesChain(IptablesOperation):
    """Create a user chain (``-N``)."""

    kind: ClassVar[str] = "ipt_chain"
    table: str
    chain: str

    def reverse(self) -> Operation:
        return DelIptablesChain(self.node, self.table, self.chain)

    def argv(self) -> list[str]:
        return ["-t", self.table, "-N", self.chain]


@dataclass(frozen=True)
class DelIptablesChain(IptablesOperation):
    """Remove a user chain made by :class:`IptablesChain` (``-X``; it must be empty by then)."""

    kind: ClassVar[str] = "ipt_chain_del"
    table: str
    chain: str

    def reverse(self) -> Operation:
        return IptablesChain(self.node, self.table, self.chain)

    def argv(self) -> list[str]:
        return ["-t", self.table, "-X", self.chain]


@dataclass(frozen=True)
class IptablesPolicy(IptablesOperation):
    """Set a built-in chain's policy (``-P``); ``previous`` is the policy its reverse restores."""

    kind: ClassVar[str] = "ipt_policy"
    table: str
    chain: str
    policy: str
    previous: str = "ACCEPT"

    def reverse(self) -> Operation:
        return IptablesPolicy(self.node, self.table, self.chain, self.previous, self.policy)

    def argv(self) -> list[str]:
        return ["-t", self.table, "-P", self.chain, self.policy]


@dataclass(frozen=True)
class IptablesRule(IptablesOperation):
    """Append a rule (or insert it at ``position``); its reverse deletes the same rule."""

    kind: ClassVar[str] = "ipt_rule"
    table: str
    chain: str
    args: tuple[str, ...]
    position: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "args", tuple(self.args))  # JSON brings lists back

    def reverse(self) -> Operation:
        return DelIptablesRule(self.node, self.table, self.chain, self.args, self.position)

    def argv(self) -> list[str]:
        verb = ["-I", self.chain, str(self.position)] if self.position is not None else ["-A", self.chain]
        return ["-t", self.table, *verb, *self.args]


@dataclass(frozen=True)
class DelIptablesRule(IptablesOperation):
    """Delete the rule an :class:`IptablesRule` added (``-D`` with the same match; ``position`` is kept so
    the reverse puts it back where it was)."""

    kind: ClassVar[str] = "ipt_rule_del"
    table: str
    chain: str
    args: tuple[str, ...]
    position: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "args", tuple(self.args))

    def reverse(self) -> Operation:
        return IptablesRule(self.node, self.table, self.chain, self.args, self.position)

    def argv(self) -> list[str]:
        return ["-t", self.table, "-D", self.chain, *self.args]


def firewall_operations(node: str, chains: Sequence[Chain], rules: Sequence[Rule]) -> list[Operation]:
    """Chains (created or given a policy) first, then rules in order."""
    ops: list[Operation] = [IptablesPolicy(node, c.table, c.name, c.policy) if c.policy
                            else IptablesChain(node, c.table, c.name) for c in chains]
    ops += [IptablesRule(node, r.table, r.chain, r.args) for r in rules]
    return ops


def _route_words(dest: str, via: str | None, dev: str | None, nexthops: tuple[str, ...] = ()) -> str:
    words = ["default" if dest == "0.0.0.0/0" else dest]
    if via:
        words += ["via", via]
    if dev and not nexthops:
        words += ["dev", dev]
    for hop in nexthops:
        words += ["nexthop", "via", hop] + (["dev", dev] if dev else [])
    return " ".join(words)


def shaper(node: str, ifname: str, rate: int) -> AddShaper:
    """The operation that limits ``ifname`` to ``rate`` bit/s with netnb's bucket and queue."""
    tbf = Tbf.for_rate(rate)
    return AddShaper(node, ifname, tbf.rate, tbf.burst, tbf.limit)


def route_operation(route: ResolvedRoute) -> AddRoute:
    """The operation that installs a resolved route."""
    return AddRoute(route.node, str(route.dest), str(route.via) if route.via else None, route.dev,
                    tuple(str(h) for h in route.nexthops))


@dataclass(frozen=True)
class Plan:
    """Operations in the order they run; ``teardown()`` is what undoes them.

    Printing a plan gives a shell script that rebuilds the lab by hand.
    """

    lab: str
    operations: tuple[Operation, ...]
    #: The nodes' startup commands as pairs of node name and command, in the order they run once the lab
    #: is up (a service, which runs in the background until the lab stops, ends with `` &``). Not
    #: operations: a command has no exact reverse; stopping the lab removes whatever it made.
    startup: tuple[tuple[str, str], ...] = ()
    #: The nodes' own files as (node, path, mode, size; None for a folder), written into each node's view of
    #: the filesystem once the lab is up, before the startup commands. Gone with the lab.
    files: tuple[tuple[str, str, int, int | None], ...] = ()
    #: The folders every node shares, as (where nodes see it, its name in the lab's folder: shares/NAME),
    #: made once the lab is up, before the files are written.
    shares: tuple[tuple[str, str], ...] = ()
    #: Every node's name (the nodes a shared folder is bound into).
    nodes: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[Operation]:
        return iter(self.operations)

    def __len__(self) -> int:
        return len(self.operations)

    def reverse(self) -> list[Operation]:
        """Every operation's exact reverse, last first (what a rollback of the whole plan runs)."""
        return [op.reverse() for op in reversed(self.operations)]

    def teardown(self) -> list[Operation]:
        """The shortest exact undo: removing a namespace removes everything inside it."""
        return teardown_of(self.operations)

    def script(self) -> str:
        """The whole plan as commands, one per line (the nodes' startup commands last)."""
        lines = [cmd for op in self.operations for cmd in op.commands()]
        if self.shares:
            lines.append("# shared folders: one folder of the lab's ($LAB: lab.folder) seen by every node")
            lines += [f"ip netns exec {node} mount --bind \"$LAB/shares/{name}\" {shlex.quote(at)}"
                      for at, name in self.shares for node in self.nodes]
        if self.files:
            lines.append("# files, in each node's own view of the filesystem (never the machine's)")
            lines += [f"ip netns exec {node} mkdir -p -m {mode:o} {shlex.quote(path)}" if size is None else
                      f"ip netns exec {node} install -D -m {mode:o} /dev/stdin {shlex.quote(path)}  # {plural(size, 'byte')}"
                      for node, path, mode, size in self.files]
        if self.startup:
            lines.append("# startup, once every node is up")
            lines += [f"ip netns exec {node} sh -c {shlex.quote(command)}" for node, command in self.startup]
        return "\n".join(lines)

    def _head(self) -> str:
        script = self.script()
        lines = sum(1 for x in script.splitlines() if not x.startswith("#"))
        return (f"# plan for lab {self.lab!r}: {plural(len(self.operations), 'operation')} "
                f"as {plural(lines, 'command')}")

    def __str__(self) -> str:
        undo = "\n".join(cmd for op in self.teardown() for cmd in op.commands())
        return f"{self._head()}\n{self.script()}\n# teardown\n{undo}"

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        from netnb.view.table import terminal  # a leaf module: HTML only

        undo = "\n".join(cmd for op in self.teardown() for cmd in op.commands())
        html = (f"{terminal(self._head() + chr(10) + self.script())}"
                f"<details><summary>teardown ({plural(undo.count(chr(10)) + 1, 'command')})</summary>"
                f"{terminal(undo)}</details>")
        return {"text/plain": str(self), "text/html": f'<div class="netnb">{html}</div>'}

    def __repr__(self) -> str:
        return f"<Plan {self.lab!r}: {plural(len(self.operations), 'operation')}>"



def teardown_of(done: Sequence[Operation]) -> list[Operation]:
    """Reverses of ``done`` (last first), leaving out what a namespace's removal undoes anyway."""
    removed = {op.node for op in done if isinstance(op, AddNamespace)}
    out = []
    for op in reversed(done):
        if op.namespaced and op.node in removed:
            continue
        out.append(op.reverse())
    return out


def namespace_operations(node: str, ipv6: bool, forwards: bool = False) -> list[Operation]:
    """A new namespace as every lab namespace starts: IPv6 off unless asked, no link-local IGMP
    reports, forwarding if it routes, ``lo`` up."""
    ops: list[Operation] = [AddNamespace(node)]
    keys = [] if ipv6 else ["net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"]
    ops += [SetSysctl(node, key, "1", FRESH_NAMESPACE_SYSCTLS[key]) for key in keys]
    # Bridges report their 224.0.0.x memberships (e.g. 224.0.0.106) in IGMP: noise in every capture.
    key = "net.ipv4.igmp_link_local_mcast_reports"
    ops.append(SetSysctl(node, key, "0", FRESH_NAMESPACE_SYSCTLS[key]))
    if forwards:
        ops.append(SetSysctl(node, "net.ipv4.ip_forward", "1", FRESH_NAMESPACE_SYSCTLS["net.ipv4.ip_forward"]))
    ops.append(SetLinkState(node, "lo", True))
    return ops


def interface_holding(lab: ResolvedLab, node: str, address: str) -> str | None:
    """The interface of ``node`` whose address is ``address`` (a VXLAN device's underlay device), or None."""
    for i in lab.node(node).interfaces:
        if i.address is not None and str(i.address.ip) == address:
            return i.name
    return None


def compile_plan(lab: ResolvedLab) -> Plan:
    """Turn a resolved lab into the operations that build it, in a safe order."""
    ops: list[Operation] = []
    for node in lab.nodes:
        ops += namespace_operations(node.name, lab.ipv6, node.forwards)
        for b in node.bridges:
            ops.append(AddBridge(node.name, b.name, b.ageing_cs, b.stp, b.priority))
            if b.address is not None:
                ops.append(AddAddress(node.name, b.name, str(b.address)))
        if (node.inner or node.bridges) and not node.kind.is_l2 and not node.bridge_netfilter:
            # One rule for every IP node with bridges: frames crossing them would otherwise meet iptables
            # (br_netfilter) while still bridged — a FORWARD DROP policy between two ports, or a "no NAT"
            # decision fixed before the host routes them out (and MASQUERADEs). A Docker host keeps it on.
            key = "net.bridge.bridge-nf-call-iptables"
            ops.append(SetSysctl(node.name, key, "0", FRESH_NAMESPACE_SYSCTLS[key]))
        done: set[str] = set()
        for d in node.inner:
            if d.kind == "tap":
                ops.append(AddTap(node.name, d.name, d.master))
            elif d.name not in done and d.peer is not None:
                peer = next(x for x in node.inner if x.name == d.peer)
                ops.append(AddVeth(node.name, d.name, node.name, peer.name, master=d.master, peer_master=peer.master))
                done |= {d.name, peer.name}
        ops += [AddAddress(node.name, d.name, str(d.address)) for d in node.inner if d.address is not None]
    for link in lab.links:
        # Create from the bridge side, so the port joins its bridge in the same step.
        first, second = (link.b, link.a) if link.b.bridge and not link.a.bridge else (link.a, link.b)
        ops.append(AddVeth(first.node, first.name, second.node, second.name, link.mtu, first.bridge, second.bridge,
                           second.mac, first.mac))
        ops += [SetBridgePort(end.node, end.name, **end.port.given()) for end in (first, second)  # type: ignore[arg-type]
                if end.port is not None and end.port.given()]
        ops += [shaper(end.node, end.name, end.rate) for end in (link.a, link.b) if end.rate is not None]
    for node in lab.nodes:  # after the links: a VXLAN device is made on its underlay interface
        ops += [AddVxlan(v.underlay, v.name, v.vni, v.local, v.port, v.master,
                         node.name if v.underlay != node.name else None, v.remote, interface_holding(lab, v.underlay, v.local))
                for v in node.vxlans]
    for node in lab.nodes:
        for iface in node.interfaces:
            if iface.address is not None:
                ops.append(AddAddress(node.name, iface.name, str(iface.address)))
        ops += [AddAddress(node.name, dev, str(address)) for dev, address in node.extra]
    for node in lab.nodes:
        ops.extend(route_operation(r) for r in node.routes)
    for node in lab.nodes:
        ops.extend(firewall_operations(node.name, node.chains, node.rules))
    writer = lab.nodes[0].name if lab.nodes else ""  # (a shared folder's files: written once, by the first node)
    files = [(writer, f) for share in lab.shares for f in share.files.values()] + \
        [(n.name, f) for n in lab.nodes for f in n.files]
    return Plan(lab.name, tuple(ops), tuple((n.name, c.command if c.listens is None else c.command + " &")
                                            for n in lab.nodes for c in n.startup),
                tuple((who, f.path, f.mode, None if f.content is None else len(f.content)) for who, f in files),
                tuple((s.at, s.name) for s in lab.shares), tuple(n.name for n in lab.nodes))
