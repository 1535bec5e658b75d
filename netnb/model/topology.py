"""The description of a lab as plain data: nodes, links and routes, exactly as the user wrote them.

Nothing here touches the kernel and nothing is validated eagerly beyond Python types: every value
problem (a bad name, a malformed address, a gateway on no connected subnet, ...) is collected by
:func:`netnb.model.resolver.resolve`, which reports all of them at once.

>>> topo = Topology("demo")
>>> topo.add_node(NodeSpec("A", NodeKind.HOST))
>>> topo.add_node(NodeSpec("sw", NodeKind.SWITCH, subnet="10.0.0.0/24"))
>>> topo.add_link(LinkSpec("A", "sw"))
>>> [n.name for n in topo.nodes]
['A', 'sw']
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from netnb.model.firewall import Chain, Rule


class NodeKind(str, enum.Enum):
    """What a node is. Hosts and routers are L3 namespaces; switches and hubs are one bridge each."""

    HOST = "host"
    ROUTER = "router"
    SWITCH = "switch"
    HUB = "hub"

    @property
    def is_l2(self) -> bool:
        """True for nodes that are a bridge (switch, hub) rather than an IP host."""
        return self in (NodeKind.SWITCH, NodeKind.HUB)


#: Default bridge MAC ageing time in seconds (the kernel's default, 300 s).
DEFAULT_AGEING_S = 300.0


@dataclass
class RouteSpec:
    """A static route on a node, as written: ``dest`` is ``"default"``, a CIDR or an address; ``via`` one
    gateway, or several for a multipath (ECMP) route that spreads flows over them."""

    dest: str
    via: str | tuple[str, ...] | None = None
    dev: str | None = None
    #: Where it was written, put before its problems (a lab file's ``line 12``); empty for code.
    origin: str = ""


@dataclass
class AddressSpec:
    """An address a node has besides its links' (``ip address add IP dev DEV``): a loopback address for a
    router's identity, a second address on an interface."""

    ip: str
    dev: str = "lo"
    #: Where it was written (an imported lab's ``pc1.startup:3``); empty for code.
    origin: str = ""


@dataclass
class StartupCommand:
    """A shell command a node runs once its lab is up (a line of a Kathará ``.startup`` file)."""

    command: str
    #: Where it was written (a lab file's ``line 12``); empty for code.
    origin: str = ""
    #: A service: the command runs in the background (stopped with the lab) and the start goes on once it
    #: listens on this TCP port.
    listens: int | None = None


@dataclass(frozen=True)
class FileSpec:
    """A file (or, with ``content=None``, a folder) a node has in its own view of the filesystem each time the
    lab starts: ``/etc/hosts``, a web root, a daemon's configuration. The machine's file there is not touched."""

    path: str
    content: bytes | None
    mode: int = 0o644
    #: Where it came from (a lab file's ``line 12``, a folder copied in); empty for code.
    origin: str = ""


@dataclass
class BridgeSpec:
    """A Linux bridge inside an IP node (like ``docker0`` inside a Docker host), with its own address."""

    name: str
    ip: str | None = None
    ageing_s: float | None = None


@dataclass
class InnerVethSpec:
    """A veth pair with both ends inside one node (e.g. joining two of its bridges)."""

    a: str
    b: str
    master_a: str | None = None
    master_b: str | None = None
    ip_a: str | None = None
    ip_b: str | None = None


@dataclass
class TapSpec:
    """A TAP device inside a node: a network card whose other side is a process (a VM)."""

    name: str
    master: str | None = None


@dataclass(frozen=True)
class VxlanSpec:
    """A VXLAN device in a node: frames entering it leave ``underlay`` (another node) as UDP from ``local``
    to ``port``; made in the underlay, living here as a port of ``master`` (Docker's overlay: ``vxlan0`` in
    the overlay namespace's ``br0``). Where frames go is forwarding state, programmed while running."""

    name: str
    vni: int
    local: str
    underlay: str
    port: int = 4789
    master: str | None = None
    #: Where frames for no known MAC go (a point-to-point tunnel's peer); None: only programmed entries.
    remote: str | None = None


@dataclass
class NodeSpec:
    """One node of a lab; ``subnet`` and ``ageing_s`` only mean something for switches and hubs.

    ``forward`` overrides the kind's default (routers forward, hosts do not); ``bridges``, ``chains``
    and ``rules`` describe what lives inside an IP node besides its links.
    """

    name: str
    kind: NodeKind
    subnet: str | None = None
    ageing_s: float | None = None
    stp: bool = False
    #: The switch's STP bridge priority (None: Linux's default, 32768).
    stp_priority: int | None = None
    routes: list[RouteSpec] = field(default_factory=list)
    forward: bool | None = None
    bridges: list[BridgeSpec] = field(default_factory=list)
    chains: list[Chain] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    #: How it looks to users when it is more than its kind (a name of ``netnb.model.kinds.KINDS``:
    #: ``docker-host``, ``container``, ``internet``...); empty: its kind.
    role: str = ""
    inner_veths: list[InnerVethSpec] = field(default_factory=list)
    taps: list[TapSpec] = field(default_factory=list)
    vxlans: list[VxlanSpec] = field(default_factory=list)
    #: Whether frames bridged inside this IP node meet its iptables rules (br_netfilter,
    #: ``bridge-nf-call-iptables``): off in every node with bridges, as on a plain Linux box, on where a
    #: layer asks for it (a Docker host: Docker turns it on).
    bridge_netfilter: bool = False
    #: Commands run in this node once the lab is up, in order, after every node's build.
    startup: list[StartupCommand] = field(default_factory=list)
    #: Addresses besides its links' (``node.address(...)``).
    addresses: list[AddressSpec] = field(default_factory=list)
    #: Its own files, by path (``node.file(...)``, ``node.files_from(...)``), written before startup commands.
    files: dict[str, FileSpec] = field(default_factory=dict)

    @property
    def forwards(self) -> bool:
        """Whether the node routes packets between its interfaces (``net.ipv4.ip_forward=1``)."""
        return self.kind is NodeKind.ROUTER if self.forward is None else self.forward


@dataclass
class LinkSpec:
    """A cable between two nodes: a veth pair. ``ip`` is one address, or a pair for two L3 ends."""

    a: str
    b: str
    ip: str | tuple[str | None, str | None] | None = None
    ifname: str | tuple[str | None, str | None] | None = None
    mtu: int | None = None
    subnet: str | None = None
    #: How its problems name it (a lab file's ``line 12: link 4``); empty: ``link N`` by its place.
    origin: str = ""
    #: A bridge inside an end's (IP) node that the end joins as a port — ``docker0`` of a Docker host —, per
    #: end; such an end has no address of its own (its bridge has).
    bridge: tuple[str | None, str | None] | None = None
    #: A fixed MAC address per end (Docker derives a container's from its address).
    mac: tuple[str | None, str | None] | None = None
    #: Bridge port options: for every end that is a bridge's port, or per end (a pair).
    port: PortOptions | tuple[PortOptions | None, PortOptions | None] | None = None
    #: A rate limit (``"10mbit"`` or bit/s) for what each end sends, or per end (a pair: a's, b's).
    rate: str | int | tuple[str | int | None, str | int | None] | None = None


@dataclass(frozen=True)
class PortOptions:
    """How a bridge treats one of its ports (``ip link set dev PORT type bridge_slave ...``); what is left
    None keeps the kernel's default.

    ``hairpin``: frames may go back out the port they came in on (a "hairpin switch", reflective relay);
    ``isolated``: the port exchanges frames with non-isolated ports only (private VLAN's isolated ports);
    ``learning=False``: the bridge learns no MAC behind it; ``flood=False``: frames to unknown MACs are
    not flooded to it; ``cost`` (1-65535, default 2 for a veth) and ``priority`` (0-63, default 32): its
    spanning-tree path cost and port priority.

    Example: ``lab.link(a, sw, port=PortOptions(isolated=True))``
    """

    hairpin: bool | None = None
    isolated: bool | None = None
    learning: bool | None = None
    flood: bool | None = None
    cost: int | None = None
    priority: int | None = None

    def given(self) -> dict[str, bool | int]:
        """The options set (name -> value), in a fixed order."""
        return {k: v for k, v in vars(self).items() if v is not None}


#: A bridge port as the kernel makes it (a veth's path cost is 2: 10 Gb/s, as br_stp_if.c's port_cost()).
PORT_DEFAULTS: dict[str, bool | int] = {"hairpin": False, "isolated": False, "learning": True, "flood": True,
                                        "cost": 2, "priority": 32}
#: The numeric port options' ranges (the kernel's BR_MIN/MAX_PATH_COST, BR_MAX_PORT_PRIORITY); the rest are on/off.
PORT_RANGES: dict[str, tuple[int, int]] = {"cost": (1, 65535), "priority": (0, 63)}


@dataclass
class ShareSpec:
    """A folder every node sees at ``at`` — one folder, not a copy each: what one node writes there the
    others (and the notebook, under ``lab.folder``) see. ``files`` are what it holds when the lab starts."""

    at: str
    files: dict[str, FileSpec] = field(default_factory=dict)
    #: Where it came from (a Kathará lab's ``shared/`` folder); empty for code.
    origin: str = ""

    @property
    def name(self) -> str:
        """Its folder's name in the lab's folder (``shares/NAME``): the path without slashes."""
        return self.at.strip("/").replace("/", "_")


@dataclass
class Topology:
    """Everything a lab is made of, in the order the user described it."""

    name: str
    ipv6: bool = False
    nodes: list[NodeSpec] = field(default_factory=list)
    links: list[LinkSpec] = field(default_factory=list)
    shares: list[ShareSpec] = field(default_factory=list)

    def add_node(self, node: NodeSpec) -> None:
        """Append a node (duplicates are reported by validation, not here)."""
        self.nodes.append(node)

    def add_link(self, link: LinkSpec) -> None:
        """Append a link."""
        self.links.append(link)

    def node(self, name: str) -> NodeSpec | None:
        """The first node with this name, or None."""
        return next((n for n in self.nodes if n.name == name), None)
