"""Pure data: the lab as described, its validation and address allocation, and read-back records.

Nothing in this package does I/O or imports a backend.
"""

from netnb.model.resolve import (
    ResolvedBridge,
    ResolvedInterface,
    ResolvedLab,
    ResolvedLink,
    ResolvedNode,
    ResolvedRoute,
    check_ifname,
    resolve,
)
from netnb.model.state import (
    CommandResult,
    FdbEntry,
    InterfaceState,
    NeighbourEntry,
    PingResult,
    RouteEntry,
)
from netnb.model.topology import DEFAULT_AGEING_S, LinkSpec, NodeKind, NodeSpec, RouteSpec, Topology

__all__ = [
    "DEFAULT_AGEING_S",
    "CommandResult",
    "FdbEntry",
    "InterfaceState",
    "LinkSpec",
    "NeighbourEntry",
    "NodeKind",
    "NodeSpec",
    "PingResult",
    "ResolvedBridge",
    "ResolvedInterface",
    "ResolvedLab",
    "ResolvedLink",
    "ResolvedNode",
    "ResolvedRoute",
    "RouteEntry",
    "RouteSpec",
    "Topology",
    "check_ifname",
    "resolve",
]
