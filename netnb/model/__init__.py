"""Pure data: the lab as described, its validation and address allocation, and read-back records.

Nothing in this package does I/O or imports a backend. Names load on first use (PEP 562), so a
process that needs one module (the lab agent needs only ``firewall``) does not pay for the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    **dict.fromkeys(("ResolvedBridge", "ResolvedInterface", "ResolvedLab", "ResolvedLink", "ResolvedNode",
                     "ResolvedRoute", "check_ifname", "resolve"), "netnb.model.resolve"),
    **dict.fromkeys(("CommandResult", "FdbEntry", "InterfaceState", "NeighbourEntry", "PingResult",
                     "RouteEntry"), "netnb.model.state"),
    **dict.fromkeys(("DEFAULT_AGEING_S", "LinkSpec", "NodeKind", "NodeSpec", "RouteSpec", "Topology"),
                    "netnb.model.topology"),
}

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
]  # tests/unit/test_api.py keeps this and _WHERE equal


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'netnb.model' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


if TYPE_CHECKING:
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
    from netnb.model.state import CommandResult, FdbEntry, InterfaceState, NeighbourEntry, PingResult, RouteEntry
    from netnb.model.topology import DEFAULT_AGEING_S, LinkSpec, NodeKind, NodeSpec, RouteSpec, Topology
