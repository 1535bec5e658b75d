"""Drawing a lab: networkx lays it out (seeded, so the same lab always looks the same), matplotlib draws
it on a ``Figure`` of its own (never pyplot's global state). Where matplotlib or networkx's numpy/scipy
are missing (Pyodide, JupyterLite), :func:`picture` draws the same data as SVG with :mod:`netnb.view.svg`.

Node kinds differ by shape and colour, with a legend; each link end is labelled with its interface and
address; containers are drawn inside their Docker host's box. With ``live`` (read from the kernel by
the caller) links that are down are dashed red and each end shows its packet counters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from netnb.model.kinds import KINDS
from netnb.model.resolver import ResolvedLab
from netnb.model.state import InterfaceState
from netnb.view.picture import Picture
from netnb.view.svg import Canvas, stress_layout

if TYPE_CHECKING:
    from matplotlib.figure import Figure

STYLE = {k.name: (k.marker, k.colour, k.label) for k in KINDS.values()}  # kind -> (marker, colour, label)


@dataclass
class DrawNode:
    """A node as the drawing needs it: name, kind, and the machine it lives in (for grouping)."""

    name: str
    kind: str
    group: str | None = None
    note: str = ""


@dataclass
class DrawLink:
    """A link between two nodes with each end's label text."""

    a: str
    b: str
    label_a: str = ""
    label_b: str = ""
    down: bool = False


@dataclass
class Drawing:
    """Everything ``draw`` puts on the figure (tests read this instead of pixels)."""

    nodes: list[DrawNode] = field(default_factory=list)
    links: list[DrawLink] = field(default_factory=list)
    title: str = ""

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        return picture(self)._repr_mimebundle_()


@dataclass(frozen=True)
class Machine:
    """Something that lives inside a node and is drawn in its box: a VM on a bridge, a container."""

    name: str
    kind: str
    group: str
    note: str = ""
    bridge: str | None = None  # the bridge inside ``group`` it plugs into (None: the node itself)


def lab_drawing(title: str, resolved: ResolvedLab, states: Mapping[str, Sequence[InterfaceState]] | None,
                machines: Sequence[Machine] = ()) -> Drawing:
    """A lab as a Drawing: its nodes, links labelled with interfaces and addresses (and, with ``states``
    read from the running lab, packet counters, and links that are down), the bridges and veths wired
    inside hosts, and the machines that live in them."""
    live = {(node, i.name): i for node, ifaces in (states or {}).items() for i in ifaces}

    def label(node: str, ifname: str, address: object) -> str:
        got = live.get((node, ifname))
        return end_label(ifname, [str(address)] if address else [],
                         {"rx": got.rx_packets, "tx": got.tx_packets} if got else None)

    def down(*ends: tuple[str, str]) -> bool:
        return bool(live) and any(e in live and live[e].state not in ("UP", "UNKNOWN") for e in ends)

    d = Drawing(title=title)
    linked = {n for lk in resolved.links for n in (lk.a.node, lk.b.node)}
    for node in resolved.nodes:  # "host/name" (a container) is drawn inside its host's box
        group = node.name.split("/", 1)[0] if "/" in node.name else None
        note = " ".join(str(a.ip) for a in node.addresses) if group else ""
        d.nodes.append(DrawNode(node.name, node.role or node.kind.value, group, note=note))
        if group and node.name not in linked:
            d.links.append(DrawLink(node.name, group))
    for link in resolved.links:
        if link.a.node.startswith(link.b.node + "/") or link.b.node.startswith(link.a.node + "/") or \
                ("/" in link.a.node and "/" in link.b.node):
            # inside a box there is no room for end labels: the node's note says its addresses
            d.links.append(DrawLink(link.a.node, link.b.node, down=down((link.a.node, link.a.name),
                                                                       (link.b.node, link.b.name))))
            continue
        d.links.append(DrawLink(link.a.node, link.b.node, label(link.a.node, link.a.name, link.a.address),
                                label(link.b.node, link.b.name, link.b.address),
                                down((link.a.node, link.a.name), (link.b.node, link.b.name))))
    for node in resolved.nodes:  # bridges wired inside a host (not docker0-like ones) are drawn in its box
        if node.kind.is_l2 or not node.inner:
            continue
        for b in node.bridges:
            d.nodes.append(DrawNode(f"{node.name}/{b.name}", "switch", node.name))
        inner = {x.name: x for x in node.inner}
        for x in node.inner:
            if x.kind != "veth" or x.peer is None or x.name > x.peer:
                continue
            peer = inner[x.peer]
            ends = [f"{node.name}/{m}" if m else node.name for m in (x.master, peer.master)]
            d.links.append(DrawLink(ends[0], ends[1], "" if x.master else f"{x.name} {x.address or ''}".strip(),
                                    "" if peer.master else f"{peer.name} {peer.address or ''}".strip()))
    for m in machines:
        d.nodes.append(DrawNode(m.name, m.kind, m.group, note=m.note))
        d.links.append(DrawLink(m.name, f"{m.group}/{m.bridge}" if m.bridge else m.group))
    return d


def layout(drawing: Drawing, seed: int = 7, plain: bool = False) -> dict[str, tuple[float, float]]:
    """Positions for every node: grouped nodes sit in a row below their machine. networkx's layouts where
    it and numpy/scipy are there; otherwise (or with ``plain``) netnb's own stress layout."""
    top = [n.name for n in drawing.nodes if n.group is None]
    owner = {n.name: (n.group or n.name) for n in drawing.nodes}
    edges: list[tuple[str, str]] = []
    for link in drawing.links:
        a, b = owner.get(link.a, link.a), owner.get(link.b, link.b)
        if a != b:
            edges.append((a, b))
    for a, b in edges:
        top += [x for x in (a, b) if x not in top]
    if len(top) <= 2:
        pos = {n: (float(i), 0.0) for i, n in enumerate(top)}
    else:
        try:
            if plain:
                raise ImportError("the plain layout was asked for")
            import networkx as nx
            import scipy  # noqa: F401  (kamada_kawai_layout needs it)

            graph = nx.Graph()
            graph.add_nodes_from(top)
            graph.add_edges_from(edges)
            raw = nx.kamada_kawai_layout(graph) if len(graph) <= 60 else \
                nx.spring_layout(graph, seed=seed, iterations=40)
            pos = {k: (float(v[0]), float(v[1])) for k, v in raw.items()}
        except ImportError:
            pos = stress_layout(top, edges, iterations=120 if len(top) <= 60 else 40)
    span = max((max(abs(x), abs(y)) for x, y in pos.values()), default=1.0) or 1.0
    pos = {k: (x / span, y / span) for k, (x, y) in pos.items()}
    # Inside a machine: its bridges in a first row, what plugs into them (VMs, containers) below.
    rows: dict[str, list[list[str]]] = {}
    for n in drawing.nodes:
        if n.group is not None:
            group_rows = rows.setdefault(n.group, [[], []])
            group_rows[0 if n.kind in ("switch", "hub") else 1].append(n.name)
    for group, (bridges, others) in rows.items():
        gx, gy = pos.get(group, (0.0, 0.0))
        for depth, names in enumerate([r for r in (bridges, others) if r]):
            step = 0.38  # room for an address under each name
            width = step * (len(names) - 1)
            for i, name in enumerate(names):
                pos[name] = (gx - width / 2 + step * i, gy - 0.3 * (depth + 1))
    return pos


def picture(drawing: Drawing) -> Picture:
    """The drawing as a Picture: matplotlib's where it is installed, plain SVG otherwise."""
    try:
        return Picture(draw(drawing), drawing.title)
    except ImportError:
        return Picture(None, drawing.title, svg=drawing_svg(drawing))


def _side(n: int) -> tuple[float, float]:
    return min(16.0, 6.0 + 0.12 * n), min(12.0, 4.5 + 0.09 * n)


def draw(drawing: Drawing, size: tuple[float, float] | None = None) -> Figure:
    """Render a Drawing on a new matplotlib Figure (ImportError where matplotlib is missing)."""
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch

    pos = layout(drawing)
    n = len(drawing.nodes)
    side = size or _side(n)
    fig = Figure(figsize=side)
    ax = fig.add_subplot()
    small = n > 40
    # Machine boxes behind their members.
    for group in {node.group for node in drawing.nodes if node.group}:
        inside = [pos[node.name] for node in drawing.nodes if node.group == group] + [pos[group]]
        xs, ys = [p[0] for p in inside], [p[1] for p in inside]
        ax.add_patch(FancyBboxPatch((min(xs) - 0.13, min(ys) - 0.12), max(xs) - min(xs) + 0.26,
                                    max(ys) - min(ys) + 0.24, boxstyle="round,pad=0.02", fc="#ecf0f1",
                                    ec="#34495e", lw=1.2, zorder=0, label="_machine"))
    # One collection per look (not one artist per link): a 200-node lab draws in a fraction of a second.
    for down in (False, True):
        segments = [(pos[lk.a], pos[lk.b]) for lk in drawing.links if lk.down == down]
        if segments:
            ax.add_collection(LineCollection(segments, colors="#c0392b" if down else "#7f8c8d",
                                             linewidths=1.0 if small else 1.6, linestyles="--" if down else "-",
                                             zorder=1, label="_down" if down else "_up"))
    for link in drawing.links:
        (x1, y1), (x2, y2) = pos[link.a], pos[link.b]
        if not small:
            for (xa, ya), (xb, yb), text in (((x1, y1), (x2, y2), link.label_a), ((x2, y2), (x1, y1), link.label_b)):
                if text:
                    ax.text(xa + 0.27 * (xb - xa), ya + 0.27 * (yb - ya), text, fontsize=6.5, ha="center",
                            va="center", zorder=3, bbox={"fc": "white", "ec": "none", "alpha": 0.85, "pad": 0.6})
    kinds_seen: list[str] = []
    for node in drawing.nodes:
        if node.kind not in kinds_seen:
            kinds_seen.append(node.kind)
        x, y = pos[node.name]
        label = node.name.split("/", 1)[-1] + (f"\n{node.note}" if node.note else "")
        ax.text(x, y - (0.06 if small else 0.085), label, fontsize=6 if small else 8.5, ha="center", va="top",
                zorder=5, fontweight="bold")
    for kind in kinds_seen:
        marker, colour, _ = STYLE.get(kind, STYLE["host"])
        points = [pos[n.name] for n in drawing.nodes if n.kind == kind]
        big = 420 if kind in ("switch", "hub", "docker-host", "internet", "router") else 300
        ax.scatter([p[0] for p in points], [p[1] for p in points], s=(big // 3 if small else big), marker=marker,
                   c=colour, edgecolors="white", linewidths=1.5, zorder=4)
    handles = [ax.scatter([], [], marker=STYLE[k][0], c=STYLE[k][1], s=80, label=STYLE[k][2])
               for k in kinds_seen if k in STYLE]
    if handles:
        ax.legend(handles=handles, loc="upper left", fontsize=7.5, frameon=False, bbox_to_anchor=(1.0, 1.0))
    ax.set_title(drawing.title, fontsize=10)
    ax.autoscale_view()
    ax.set_aspect("equal", adjustable="datalim")
    ax.axis("off")
    fig.tight_layout()
    return fig


def drawing_svg(drawing: Drawing) -> str:
    """Render a Drawing as SVG text without matplotlib: what :func:`draw` shows, element for element."""
    pos = layout(drawing, plain=True)
    n = len(drawing.nodes)
    small = n > 40
    w, h = _side(n)
    xs, ys = [p[0] for p in pos.values()] or [0.0], [p[1] for p in pos.values()] or [0.0]
    canvas = Canvas(w * 100 - 150, h * 100, (min(xs) - 0.2, min(ys) - 0.25, max(xs) + 0.2, max(ys) + 0.2))
    for group in sorted({node.group for node in drawing.nodes if node.group}):
        inside = [pos[node.name] for node in drawing.nodes if node.group == group] + [pos[group]]
        gx, gy = [p[0] for p in inside], [p[1] for p in inside]
        canvas.box((min(gx) - 0.13, min(gy) - 0.12), (max(gx) + 0.13, max(gy) + 0.12), "#ecf0f1", "#34495e")
    for link in drawing.links:
        canvas.line(pos[link.a], pos[link.b], "#c0392b" if link.down else "#7f8c8d", 1.0 if small else 1.6,
                    dashed=link.down)
    for link in drawing.links if not small else []:
        (x1, y1), (x2, y2) = pos[link.a], pos[link.b]
        for (xa, ya), (xb, yb), text in (((x1, y1), (x2, y2), link.label_a), ((x2, y2), (x1, y1), link.label_b)):
            if text:
                canvas.text(xa + 0.27 * (xb - xa), ya + 0.27 * (yb - ya), text, size=6.5, backdrop=True)
    kinds_seen: list[str] = []
    for node in drawing.nodes:
        if node.kind not in kinds_seen:
            kinds_seen.append(node.kind)
        x, y = pos[node.name]
        shape, colour, _ = STYLE.get(node.kind, STYLE["host"])
        big = node.kind in ("switch", "hub", "docker-host", "internet", "router")
        canvas.marker(x, y, shape, colour, (7 if small else 11.5) if big else (6 if small else 9.5))
        label = node.name.split("/", 1)[-1] + (f"\n{node.note}" if node.note else "")
        canvas.text(x, y, label, size=6 if small else 8.5, bold=True, below=12 if small else 15)
    canvas.legend([STYLE[k] for k in kinds_seen if k in STYLE], width=150)
    return canvas.render(drawing.title)


def end_label(ifname: str, addresses: Sequence[str], counters: Mapping[str, int] | None = None) -> str:
    """``eth0 10.0.0.1/24`` (and ``rx/tx`` packet counts when live)."""
    text = " ".join([ifname, *addresses])
    if counters:
        text += f"\nrx {counters.get('rx', 0)} tx {counters.get('tx', 0)}"
    return text

