"""libnetwork's side of Docker on a lab: networks with their address management (IPAM), endpoints, the
overlay networks every Docker host of a lab shares (a "swarm"), and Docker's ids.

>>> net = Network("frontend", docker_id("lab", "u1", "frontend"), "bridge", IPv4Network("172.30.1.0/24"), "br-x")
>>> str(net.gateway), str(net.allocate()), net.scope
('172.30.1.1', '172.30.1.2', 'local')
"""

from __future__ import annotations

import hashlib
import weakref
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import TYPE_CHECKING

from netnb.errors import NetnbError
from netnb.model.topology import LinkSpec
from netnb.plan import Operation
from netnb.view.table import card

if TYPE_CHECKING:
    from netnb.docker.host import DockerHost
    from netnb.lab import Lab

DRIVERS = ("bridge", "null", "overlay")
DEFAULT_POOLS = [IPv4Network(f"172.{n}.0.0/16") for n in range(18, 32)] + \
    [IPv4Network(f"192.168.{n}.0/20") for n in range(0, 256, 16)]
OVERLAY_POOLS = [IPv4Network(f"10.0.{n}.0/24") for n in range(256)]


class DockerError(NetnbError):
    """What ``docker`` itself would refuse (a name in use, a port taken, an unknown network...)."""


def docker_id(*parts: str) -> str:
    """A 64-hex id, derived from the names so a lab is the same every time it runs."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


@dataclass
class Network:
    """A libnetwork network on one Docker host."""

    name: str
    id: str
    driver: str
    subnet: IPv4Network | None
    bridge: str | None
    builtin: bool = False
    ips: dict[str, IPv4Address] = field(default_factory=dict)   # container node ("host/name") -> address
    vni: int | None = None

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        fields = [("id", self.id[:12]), ("driver", self.driver), ("scope", self.scope),
                  ("subnet", str(self.subnet or "")), ("gateway", str(self.gateway or "")),
                  ("bridge", self.bridge or "")]
        fields += [(f"container {node.rsplit('/', 1)[-1]}", str(ip)) for node, ip in self.ips.items()]
        return card(f"network {self.name}", fields)

    @property
    def scope(self) -> str:
        """``swarm`` for overlay networks (usable on every Docker host of the lab), else ``local``."""
        return "swarm" if self.driver == "overlay" else "local"

    @property
    def gateway(self) -> IPv4Address | None:
        """The first address of the subnet: the bridge's, the containers' default gateway (bridge driver)."""
        return next(self.subnet.hosts()) if self.subnet is not None else None

    def allocate(self, wanted: str | None = None) -> IPv4Address:
        """The next free address (Docker's IPAM hands them out in order), or ``wanted`` if free."""
        assert self.subnet is not None
        taken = set(self.ips.values()) | {self.gateway}
        if wanted is not None:
            ip = IPv4Address(wanted)
            if ip not in self.subnet or ip in taken:
                raise DockerError(f"address {ip} is not free in network {self.name!r} ({self.subnet})")
            return ip
        for ip in self.subnet.hosts():
            if ip not in taken:
                return ip
        raise DockerError(f"network {self.name!r} ({self.subnet}) has no free address left")


@dataclass
class Endpoint:
    """A container's attachment to a network: its interface inside, the veth outside, address, MAC."""

    network: Network
    ifname: str
    host_veth: str
    ip: IPv4Address
    mac: str
    ops: list[Operation]
    #: The cable as the lab describes it (None on an overlay, whose bridge lives in a namespace of its own).
    link: LinkSpec | None = None


class Swarm:
    """What the Docker hosts of one lab share: overlay networks, and which hosts each one spans."""

    def __init__(self) -> None:
        self.hosts: list[DockerHost] = []
        self.reset()

    def reset(self) -> None:
        self.overlays: dict[str, Network] = {}
        self.members: dict[str, list[DockerHost]] = {}   # network name -> hosts with its VTEP


_SWARMS: weakref.WeakKeyDictionary[Lab, Swarm] = weakref.WeakKeyDictionary()


def swarm_of(lab: Lab) -> Swarm:
    """The lab's shared Docker state (made on first use)."""
    return _SWARMS.setdefault(lab, Swarm())


OVERLAY_MTU = 1450   # 1500 minus VXLAN's 50 bytes of outer Ethernet, IP, UDP and VXLAN headers
VXLAN_PORT = 4789
