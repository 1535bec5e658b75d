"""Pure data: the lab as described, its validation and address allocation, and read-back records.

Nothing in this package does I/O or imports a backend. Names load on first use (PEP 562), so a
process that needs one module (the lab agent needs only ``firewall``) does not pay for the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from netnb._lazy import attach

_WHERE = {
    **dict.fromkeys(("ResolvedBridge", "ResolvedInterface", "ResolvedLab", "ResolvedLink", "ResolvedNode",
                     "ResolvedRoute", "check_ifname", "resolve"), "netnb.model.resolver"),
    **dict.fromkeys(("CapturePoint", "CommandResult", "FdbEntry", "InterfaceState", "NeighbourEntry", "Nexthop",
                     "PingResult", "ProcessEnd", "ProcessState", "RouteEntry", "RouteLookup", "SocketEntry"), "netnb.model.state"),
    **dict.fromkeys(("DEFAULT_AGEING_S", "LinkSpec", "NodeKind", "NodeSpec", "RouteSpec", "StartupCommand", "Topology"),
                    "netnb.model.topology"),
}

__all__ = [
    "DEFAULT_AGEING_S",
    "CapturePoint",
    "CommandResult",
    "FdbEntry",
    "InterfaceState",
    "LinkSpec",
    "NeighbourEntry",
    "Nexthop",
    "NodeKind",
    "NodeSpec",
    "PingResult",
    "ProcessEnd",
    "ProcessState",
    "ResolvedBridge",
    "ResolvedInterface",
    "ResolvedLab",
    "ResolvedLink",
    "ResolvedNode",
    "ResolvedRoute",
    "RouteEntry",
    "RouteLookup",
    "RouteSpec",
    "SocketEntry",
    "StartupCommand",
    "Topology",
    "check_ifname",
    "resolve",
]  # tests/unit/test_api.py keeps this and _WHERE equal


__getattr__, __dir__ = attach(__name__, _WHERE)


if TYPE_CHECKING:
    from netnb.model.resolver import (
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
        CapturePoint,
        CommandResult,
        FdbEntry,
        InterfaceState,
        NeighbourEntry,
        Nexthop,
        PingResult,
        ProcessEnd,
        ProcessState,
        RouteEntry,
        RouteLookup,
        SocketEntry,
    )
    from netnb.model.topology import DEFAULT_AGEING_S, LinkSpec, NodeKind, NodeSpec, RouteSpec, StartupCommand, Topology
