"""Every router's routes by protocol: a table, and a drawing of where each router sends what.

The drawing is the lab's topology with each router's link ends labelled by the routes that leave through
them, grouped by the protocol that made them (static, rip, ospf, bgp…; connected routes are the links'
own subnets and are only counted), and each router's note counting its routes per protocol. It is made
from routes read by the caller (``lab.routing()``): showing it reads nothing.

>>> from netnb.model import RouteEntry
>>> routes_through([RouteEntry("10.3.0.0/24", "10.0.12.2", "eth1", "ospf", "global"),
...                 RouteEntry("10.4.0.0/24", "10.0.12.2", "eth1", "ospf", "global")], "eth1")
'ospf 10.3.0.0/24 10.4.0.0/24'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from netnb.model.resolver import ResolvedLab
from netnb.model.state import RouteEntry
from netnb.view.draw import Drawing, DrawLink, DrawNode, picture
from netnb.view.picture import Picture
from netnb.view.table import Table

#: Destinations listed per protocol on one link end before "+N more".
SHOWN = 3


def protocol(entry: RouteEntry) -> str:
    """The protocol a route came from, as the table names it (``connected`` for a subnet on a link)."""
    return "connected" if entry.proto == "kernel" and entry.scope == "link" else entry.proto


def routes_through(entries: Sequence[RouteEntry], ifname: str) -> str:
    """One line per protocol of the routes (but connected ones) that leave through ``ifname``."""
    by_proto: dict[str, list[str]] = {}
    for e in entries:
        devs = [h.dev for h in e.nexthops] if e.nexthops else [e.dev]
        if ifname in devs and protocol(e) != "connected":
            by_proto.setdefault(protocol(e), []).append(e.dest + (" (multipath)" if e.nexthops else ""))
    lines = []
    for proto, dests in sorted(by_proto.items()):
        more = f" +{len(dests) - SHOWN} more" if len(dests) > SHOWN else ""
        lines.append(f"{proto} {' '.join(dests[:SHOWN])}{more}")
    return "\n".join(lines)


def counts(entries: Sequence[RouteEntry]) -> str:
    """``connected 2, ospf 4``: a router's routes per protocol."""
    by_proto: dict[str, int] = {}
    for e in entries:
        by_proto[protocol(e)] = by_proto.get(protocol(e), 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(by_proto.items()))


def routing_drawing(title: str, resolved: ResolvedLab, tables: Mapping[str, Sequence[RouteEntry]]) -> Drawing:
    """The topology with each router's link ends labelled by the routes that leave through them."""
    d = Drawing(title=title)
    for node in resolved.nodes:
        if "/" in node.name:
            continue  # (containers and VMs are not routers: their hosts are drawn)
        note = counts(tables[node.name]) if node.name in tables else ""
        d.nodes.append(DrawNode(node.name, node.role or node.kind.value, note=note))
    known = {n.name for n in d.nodes}

    def label(node: str, ifname: str) -> str:
        through = routes_through(tables[node], ifname) if node in tables else ""
        return f"{ifname}\n{through}" if through else ifname

    for link in resolved.links:
        if link.a.node in known and link.b.node in known:
            d.links.append(DrawLink(link.a.node, link.b.node, label(link.a.node, link.a.name),
                                    label(link.b.node, link.b.name)))
    return d


@dataclass
class RoutingTable(Table):
    """``lab.routing()``: the routers' routes as a table, shown under a drawing of where each router sends
    what (``.drawing``, data; ``.draw()``, the picture)."""

    drawing: Drawing | None = None

    def draw(self) -> Picture:
        """The drawing as a Picture (``.savefig("routes.svg")``)."""
        return picture(self.drawing or Drawing(title=self.title))

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        svg = picture(self.drawing).svg() if self.drawing is not None and self.drawing.nodes else ""
        return {"text/plain": self.text(), "text/html": (f"<div>{svg}</div>" if svg else "") + self.html()}
