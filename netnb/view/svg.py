"""Pictures as SVG text written by hand: the drawing of a lab and a capture's ladder where matplotlib is not
there (Pyodide's core, a JupyterLite page that has not loaded matplotlib's 10 MB), and a stress layout
that needs neither networkx's numpy/scipy layouts nor any other package.

Written by hand because the browser build must not need matplotlib, numpy or scipy (none is pure Python);
what it draws is what :func:`netnb.view.draw.draw` draws — the same :class:`~netnb.view.draw.Drawing`
data, node shapes, colours, legend, end labels and machine boxes — in plain SVG elements.

>>> svg = Canvas(200, 100, (0.0, 0.0, 1.0, 1.0))
>>> svg.text(0.5, 0.5, "a < b", size=9)
>>> '&lt;' in svg.render("t") and svg.render("t").startswith("<svg")
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

_FONT = "DejaVu Sans, Verdana, Arial, sans-serif"
PT = 4 / 3  # sizes are given in points, as matplotlib's; SVG's unit is the pixel


class Canvas:
    """SVG elements placed in data coordinates ``bounds = (x0, y0, x1, y1)`` (y upwards, as in a plot),
    scaled to ``width × height`` pixels with the aspect ratio kept."""

    def __init__(self, width: float, height: float, bounds: tuple[float, float, float, float],
                 margin: float = 36.0, y_down: bool = False) -> None:
        self.width, self.height, self.margin, self.y_down = width, height, margin, y_down
        x0, y0, x1, y1 = bounds
        self.x0, self.y0 = x0, y0
        span_x, span_y = max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)
        self.scale = min((width - 2 * margin) / span_x, (height - 2 * margin) / span_y)
        self.off_x = (width - span_x * self.scale) / 2
        self.off_y = (height - span_y * self.scale) / 2
        self.span_y = span_y
        self.items: list[str] = []

    def px(self, x: float, y: float) -> tuple[float, float]:
        """Data coordinates to pixels."""
        dy = (y - self.y0) if self.y_down else (self.span_y - (y - self.y0))
        return round(self.off_x + (x - self.x0) * self.scale, 1), round(self.off_y + dy * self.scale, 1)

    def line(self, a: tuple[float, float], b: tuple[float, float], colour: str, width: float = 1.6,
             dashed: bool = False, arrow: str | None = None) -> None:
        (x1, y1), (x2, y2) = self.px(*a), self.px(*b)
        extra = ' stroke-dasharray="5,3"' if dashed else ""
        if arrow:
            extra += f' marker-end="url(#{arrow})"'
        self.items.append(f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{colour}" '
                          f'stroke-width="{width}"{extra}/>')

    def box(self, corner: tuple[float, float], other: tuple[float, float], fill: str, stroke: str) -> None:
        (x1, y1), (x2, y2) = self.px(*corner), self.px(*other)
        self.items.append(f'<rect x="{min(x1, x2)}" y="{min(y1, y2)}" width="{abs(x2 - x1)}" '
                          f'height="{abs(y2 - y1)}" rx="6" fill="{fill}" stroke="{stroke}" stroke-width="1.2"/>')

    def text(self, x: float, y: float, text: str, size: float = 8.5, colour: str = "#000", anchor: str = "middle",
             bold: bool = False, below: float = 0.0, backdrop: bool = False) -> None:
        """Text centred on (x, y) (``anchor`` start/middle/end), each line below the last; ``below`` moves it
        down by that many pixels; ``backdrop`` puts a white box behind it."""
        px, py = self.px(x, y)
        size = round(size * PT, 1)
        lines = text.split("\n")
        py += below
        weight = ' font-weight="bold"' if bold else ""
        if backdrop:
            w = max(len(t) for t in lines) * size * 0.6 + 4
            h = len(lines) * size * 1.2 + 2
            left = px - w / 2 if anchor == "middle" else (px - w if anchor == "end" else px)
            self.items.append(f'<rect x="{left:.1f}" y="{py - h / 2:.1f}" width="{w:.1f}" height="{h:.1f}" '
                              f'fill="white" fill-opacity="0.85"/>')
        first = py - (len(lines) - 1) * size * 0.6 if not below else py
        spans = "".join(f'<tspan x="{px}" y="{first + i * size * 1.2:.1f}">{escape(t)}</tspan>'
                        for i, t in enumerate(lines))
        self.items.append(f'<text font-family="{_FONT}" font-size="{size}" fill="{colour}" text-anchor="{anchor}" '
                          f'dominant-baseline="{"hanging" if below else "central"}"{weight}>{spans}</text>')

    def marker(self, x: float, y: float, shape: str, colour: str, radius: float) -> None:
        """A node symbol in matplotlib's marker letters: o circle, s square, D diamond, ^ triangle,
        p pentagon, h hexagon."""
        cx, cy = self.px(x, y)
        self.items.append(marker_svg(cx, cy, shape, colour, radius * PT))

    def legend(self, entries: Sequence[tuple[str, str, str]], width: float) -> None:
        """A column of ``width`` pixels right of the plot: one (marker, colour, label) a row."""
        for row, (shape, colour, label) in enumerate(entries):
            self.items.append(marker_svg(self.width + 12, 34 + 20 * row, shape, colour, 7))
            self.items.append(f'<text x="{self.width + 26}" y="{38 + 20 * row}" font-size="10" '
                              f'font-family="{_FONT}">{escape(label)}</text>')
        self.width += width

    def raw(self, element: str) -> None:
        self.items.append(element)

    def render(self, title: str, defs: str = "") -> str:
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width:.0f}" height="{self.height:.0f}" '
                f'viewBox="0 0 {self.width:.0f} {self.height:.0f}">')
        caption = (f'<text x="{self.width / 2:.0f}" y="16" font-family="{_FONT}" font-size="12" '
                   f'text-anchor="middle">{escape(title)}</text>')
        return head + f"<title>{escape(title)}</title>" + (f"<defs>{defs}</defs>" if defs else "") + \
            '<rect width="100%" height="100%" fill="white"/>' + caption + "".join(self.items) + "</svg>"


def marker_svg(cx: float, cy: float, shape: str, colour: str, radius: float) -> str:
    """One marker as an SVG element centred on pixel (cx, cy)."""
    style = f'fill="{colour}" stroke="white" stroke-width="1.5"'
    if shape == "o":
        return f'<circle cx="{cx}" cy="{cy}" r="{radius:.1f}" {style}/>'
    corners = {"s": (4, 45.0, 1.0), "D": (4, 0.0, 1.15), "^": (3, -90.0, 1.2), "p": (5, -90.0, 1.05),
               "h": (6, 0.0, 1.05)}.get(shape, (4, 45.0, 1.0))
    n, start, grow = corners
    points = " ".join(f"{cx + radius * grow * math.cos(math.radians(start + i * 360 / n)):.1f},"
                      f"{cy + radius * grow * math.sin(math.radians(start + i * 360 / n)):.1f}" for i in range(n))
    return f'<polygon points="{points}" {style}/>'


def stress_layout(nodes: Sequence[str], edges: Sequence[tuple[str, str]], iterations: int = 120
                  ) -> dict[str, tuple[float, float]]:
    """Positions that keep graph distances as drawn distances (stress majorization, as Kamada–Kawai aims
    for), deterministic: it starts from a circle in the given order. Unconnected parts are kept apart.

    >>> pos = stress_layout(["a", "b", "c"], [("a", "b"), ("b", "c")])
    >>> d = lambda p, q: math.dist(pos[p], pos[q])
    >>> round(d("a", "c") / d("a", "b"), 1)
    2.0
    """
    n = len(nodes)
    index = {name: i for i, name in enumerate(nodes)}
    near: list[list[int]] = [[] for _ in range(n)]
    for a, b in edges:
        if a in index and b in index and a != b:
            near[index[a]].append(index[b])
            near[index[b]].append(index[a])
    far = 0
    dist = []
    for s in range(n):  # breadth-first distances from every node
        row = [-1] * n
        row[s] = 0
        queue = [s]
        for u in queue:
            for v in near[u]:
                if row[v] < 0:
                    row[v] = row[u] + 1
                    queue.append(v)
        dist.append(row)
        far = max(far, max(row))
    gap = far + 1.0  # parts that are not connected sit one step further apart than anything else
    d = [[float(x) if x >= 0 else gap for x in row] for row in dist]
    xs = [(math.cos(2 * math.pi * i / max(n, 1)) * far / 2, math.sin(2 * math.pi * i / max(n, 1)) * far / 2)
          for i in range(n)]
    for _ in range(iterations if n > 2 else 0):  # SMACOF's Guttman transform with weights 1/d²
        new = []
        for i in range(n):
            sx = sy = wsum = 0.0
            xi, yi = xs[i]
            for j in range(n):
                if i == j:
                    continue
                w = 1.0 / (d[i][j] ** 2)
                xj, yj = xs[j]
                norm = math.hypot(xi - xj, yi - yj) or 1e-9
                sx += w * (xj + d[i][j] * (xi - xj) / norm)
                sy += w * (yj + d[i][j] * (yi - yj) / norm)
                wsum += w
            new.append((sx / wsum, sy / wsum))
        xs = new
    return {name: xs[index[name]] for name in nodes}


def ladder_svg(title: str, columns: Sequence[str], arrows: Sequence[tuple[float, str, str, str, str]],
               colours: Mapping[str, str]) -> str:
    """A sequence diagram: ``arrows`` are (seconds, from-column, to-column, protocol, info), one a row."""
    width = max(6.0, 2.2 * len(columns)) * 72
    height = max(2.5, 0.42 * len(arrows) + 1.2) * 72
    canvas = Canvas(width, height, (-1.2, -1.2, max(len(columns) - 0.5, 0.5), len(arrows) + 0.2), margin=24,
                    y_down=True)
    x = {c: i for i, c in enumerate(columns)}
    defs = "".join(f'<marker id="arrow{i}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
                   f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
                   for i, colour in enumerate(colours.values()))
    arrow_ids = {proto: f"arrow{i}" for i, proto in enumerate(colours)}
    for c, xi in x.items():
        canvas.line((xi, -0.7), (xi, len(arrows)), "#bbb", width=1)
        canvas.text(xi, -0.9, c, size=9, bold=True)
    for row, (t, src, dst, proto, info) in enumerate(arrows):
        colour = colours.get(proto, "#555")
        xs, xd = x.get(src, 0), x.get(dst, 0)
        if xs == xd:
            cx, cy = canvas.px(xs, row)
            canvas.raw(f'<circle cx="{cx}" cy="{cy}" r="4" fill="{colour}"/>')
        else:
            canvas.line((xs, row), (xd, row), colour, width=1.4, arrow=arrow_ids.get(proto))
        canvas.text((xs + xd) / 2, row - 0.25, info if len(info) < 48 else info[:46] + "…", size=7, colour=colour)
        canvas.text(-0.6, row, f"{t * 1000:.3f} ms", size=7, colour="#666", anchor="end")
    return canvas.render(title, defs)
