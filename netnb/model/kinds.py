"""The one registry of the kinds of node: what the model, the node classes, the drawing and lab files read.

A node's *kind* is what the model builds (a host, a router, a switch, a hub: ``NodeKind``); its *look*
is what a person sees (the same four, plus what the layers above make of a host: a Docker host, a
container, the outside world, a VM on a TAP). Each look names the kind it is built as.

>>> KINDS["router"].builds, KINDS["container"].builds, KINDS["hub"].l2
('router', 'host', True)
>>> [k.name for k in KINDS.values() if k.in_lab_files]
['host', 'router', 'switch', 'hub']
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """One kind of node as users meet it: its name, what the model builds for it, how it is drawn."""

    name: str
    builds: str             # the NodeKind it is made of: host, router, switch or hub
    label: str              # the drawing's legend
    marker: str             # matplotlib marker
    colour: str
    in_lab_files: bool = False  # may be written as a node's kind in a YAML lab file

    @property
    def l2(self) -> bool:
        """A bridge (switch, hub) rather than an IP host."""
        return self.builds in ("switch", "hub")


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("host", "host", "host", "o", "#4a90d9", in_lab_files=True),
    Kind("router", "router", "router", "D", "#e67e22", in_lab_files=True),
    Kind("switch", "switch", "switch (bridge)", "s", "#27ae60", in_lab_files=True),
    Kind("hub", "hub", "hub", "s", "#95a5a6", in_lab_files=True),
    Kind("docker-host", "host", "Docker host", "h", "#34495e"),
    Kind("container", "host", "container", "o", "#16a085"),
    Kind("overlay", "host", "overlay namespace (VXLAN)", "s", "#5d6d7e"),
    Kind("internet", "router", "outside world", "p", "#8e44ad"),
    Kind("web-server", "host", "web server outside", "p", "#a569bd"),
    Kind("tap-vm", "host", "VM on a TAP", "^", "#c0392b"),
)}
