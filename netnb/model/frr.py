"""FRR (routing daemons: RIP, OSPF, BGP...) as a node's files and startup: which daemons a configuration needs,
FRR's ``daemons`` file, and how FRR starts in a node. Pure text; the node's own view of the files
(``/etc/frr``, ``/var/run/frr``) keeps each router's FRR apart.

>>> needed_daemons("router rip\\n network 10.0.0.0/8\\n")
['zebra', 'ripd', 'staticd']
>>> [line for line in daemons_file(["ospfd"]).splitlines() if line.endswith("=yes")]
['zebra=yes', 'ospfd=yes', 'vtysh_enable=yes']
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: How FRR starts in a node: its init script (watchfrr, then each daemon of /etc/frr/daemons).
FRR_START = "/usr/lib/frr/frrinit.sh start"
#: Where this machine's FRR must be for nodes to run it (Debian's frr: ``bash scripts/setup.sh --frr``).
FRR_INIT = "/usr/lib/frr/frrinit.sh"

#: FRR's daemons, in the order of its daemons file.
DAEMONS = ("zebra", "bgpd", "ospfd", "ospf6d", "ripd", "ripngd", "isisd", "pimd", "ldpd", "nhrpd", "eigrpd",
           "babeld", "sharpd", "pbrd", "bfdd", "fabricd", "vrrpd", "pathd", "staticd")
_ROUTER = {"rip": "ripd", "ripng": "ripngd", "ospf": "ospfd", "ospf6": "ospf6d", "bgp": "bgpd", "isis": "isisd",
           "eigrp": "eigrpd", "babel": "babeld", "openfabric": "fabricd"}


def needed_daemons(config: str) -> list[str]:
    """The daemons an ``frr.conf`` needs: zebra, one per ``router PROTOCOL`` section, staticd (static routes)."""
    found = {"zebra", "staticd"}
    for proto in re.findall(r"^\s*router\s+(\S+)", config, re.M):
        if proto in _ROUTER:
            found.add(_ROUTER[proto])
    return [d for d in DAEMONS if d in found]


def daemons_file(daemons: Iterable[str]) -> str:
    """FRR's ``/etc/frr/daemons``: the given daemons on, the others off, vtysh on."""
    chosen = set(daemons) | {"zebra"}
    unknown = chosen - set(DAEMONS)
    if unknown:
        raise ValueError(f"no FRR daemon called {', '.join(sorted(unknown))} (FRR's daemons: {', '.join(DAEMONS)})")
    return "".join(f"{d}={'yes' if d in chosen else 'no'}\n" for d in DAEMONS) + "vtysh_enable=yes\n"
