"""Lab descriptions shared by unit and kernel tests (the issue's two contract examples)."""

from __future__ import annotations

import netnb


def three_pcs(name: str = "three-pcs", *, hub: bool = False) -> netnb.Lab:
    """Three hosts on one switch (or hub), 10.0.0.1-3/24."""
    lab = netnb.Lab(name)
    a, b, c = lab.host("A"), lab.host("B"), lab.host("C")
    sw = lab.hub("sw") if hub else lab.switch("sw")
    lab.link(a, sw, ip="10.0.0.1/24")
    lab.link(b, sw, ip="10.0.0.2/24")
    lab.link(c, sw, ip="10.0.0.3/24")
    return lab


def routed(name: str = "routed", *, forwarding: bool = True) -> netnb.Lab:
    """Host A with two NICs between B (10.0.1.0/24) and C (10.0.2.0/24); a router unless told otherwise."""
    lab = netnb.Lab(name)
    a = lab.router("A") if forwarding else lab.host("A")
    b, c = lab.host("B"), lab.host("C")
    lab.link(a, b, ip=("10.0.1.1/24", "10.0.1.2/24"))
    lab.link(a, c, ip=("10.0.2.1/24", "10.0.2.2/24"))
    b.route("default", via="10.0.1.1")
    c.route("default", via="10.0.2.1")
    return lab
