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
"""

from netnb.errors import (
    AgentError,
    BackendError,
    CommandFailed,
    CommandTimeout,
    FeatureMissingError,
    LabStateError,
    NetnbError,
    PrivilegeError,
    TopologyError,
)
from netnb.environment import check, require_labs
from netnb.lab import Host, Internet, Lab, Node, Process, Router, Switch
from netnb.model import (
    CommandResult,
    FdbEntry,
    InterfaceState,
    NeighbourEntry,
    PingResult,
    RouteEntry,
)
from netnb.plan import Plan

__version__ = "0.1.0"

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
    "PingResult",
    "Plan",
    "PrivilegeError",
    "Process",
    "RouteEntry",
    "Router",
    "Switch",
    "TopologyError",
    "check",
    "require_labs",
]
