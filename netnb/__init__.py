"""netnb: real Linux virtual networks for Jupyter, built from a few lines of Python.

>>> import netnb
>>> lab = netnb.Lab("three-pcs")
>>> a, b = lab.host("A"), lab.host("B")
>>> sw = lab.switch("sw", subnet="10.0.0.0/24")
>>> _ = lab.link(a, sw); _ = lab.link(b, sw)
>>> print(lab.plan().script().splitlines()[0])
ip netns add A

Build it with ``with lab:`` (or ``lab.start()``/``lab.stop()``); everything lives in namespaces the lab
owns, and the machine's own network is never touched.

The names below load on first use (PEP 562), so that a lab's agent process, which imports this package
too, starts without loading what only notebooks need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from netnb._lazy import attach

__version__ = "0.1.0"

_WHERE = {
    "AgentError": "netnb.errors",
    "BackendError": "netnb.errors",
    "CommandFailed": "netnb.errors",
    "CommandTimeout": "netnb.errors",
    "FeatureMissingError": "netnb.errors",
    "LabStateError": "netnb.errors",
    "NetnbError": "netnb.errors",
    "NotFoundError": "netnb.errors",
    "PrivilegeError": "netnb.errors",
    "TopologyError": "netnb.errors",
    "StartupError": "netnb.errors",
    "UsageError": "netnb.errors",
    "check": "netnb.environment",
    "prepare": "netnb.backends.kernel.client",
    "require_labs": "netnb.environment",
    "load": "netnb.importers",
    "Host": "netnb.nodes",
    "Internet": "netnb.machines",
    "Lab": "netnb.lab",
    "Node": "netnb.nodes",
    "Process": "netnb.nodes",
    "Router": "netnb.nodes",
    "Switch": "netnb.nodes",
    "Vm": "netnb.machines",
    "CommandResult": "netnb.model",
    "FdbEntry": "netnb.model",
    "InterfaceState": "netnb.model",
    "NeighbourEntry": "netnb.model",
    "PingResult": "netnb.model",
    "RouteEntry": "netnb.model",
    "PortOptions": "netnb.model.topology",
    "Plan": "netnb.plan",
}

__all__ = [
    "AgentError",
    "BackendError",
    "CommandFailed",
    "CommandResult",
    "CommandTimeout",
    "FdbEntry",
    "FeatureMissingError",
    "Host",
    "InterfaceState",
    "Internet",
    "Lab",
    "LabStateError",
    "NeighbourEntry",
    "NetnbError",
    "Node",
    "NotFoundError",
    "PingResult",
    "Plan",
    "PortOptions",
    "PrivilegeError",
    "Process",
    "RouteEntry",
    "Router",
    "StartupError",
    "Switch",
    "TopologyError",
    "UsageError",
    "Vm",
    "check",
    "load",
    "prepare",
    "require_labs",
]  # tests/unit/test_api.py keeps this and _WHERE equal


__getattr__, __dir__ = attach(__name__, _WHERE)


if TYPE_CHECKING:
    from netnb.backends.kernel.client import prepare
    from netnb.environment import check, require_labs
    from netnb.errors import (
        AgentError,
        BackendError,
        CommandFailed,
        CommandTimeout,
        FeatureMissingError,
        LabStateError,
        NetnbError,
        NotFoundError,
        PrivilegeError,
        StartupError,
        TopologyError,
        UsageError,
    )
    from netnb.importers import load
    from netnb.lab import Lab
    from netnb.machines import Internet, Vm
    from netnb.model import CommandResult, FdbEntry, InterfaceState, NeighbourEntry, PingResult, RouteEntry
    from netnb.model.topology import PortOptions
    from netnb.nodes import Host, Node, Process, Router, Switch
    from netnb.plan import Plan
