"""A sequence (ladder) diagram of a capture: nodes as columns, packets as arrows, time downwards.

A :class:`~netnb.view.picture.Picture` of a matplotlib ``Figure`` built without pyplot (so it renders
inline and saves to SVG/PNG without touching global state), or of plain SVG where matplotlib is missing.
"""

from __future__ import annotations

from collections.abc import Sequence

from typing import TYPE_CHECKING

import netnb.view  # noqa: F401  (before matplotlib: see its quiet cache warning)
from netnb.capture.dissect import describe, identity
from netnb.capture.store import FrameStore
from netnb.model.words import plural
from netnb.view.picture import Picture
from netnb.view.svg import ladder_svg

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Arrow = tuple[float, str, str, str, str]  # seconds from the first, from-column, to-column, protocol, info

_COLOURS = {"ARP": "#8e44ad", "ICMP": "#2471a3", "TCP": "#1e8449", "UDP": "#b9770e", "VXLAN": "#c0392b"}


def ladder_picture(store: FrameStore, ids: Sequence[int], limit: int, title: str) -> Picture:
    """The ladder as a Picture: matplotlib's where it is installed, plain SVG otherwise."""
    columns, arrows, heading = ladder_rows(store, ids, limit)
    try:
        return Picture(draw_ladder(columns, arrows, heading), title)
    except ImportError:
        return Picture(None, title, svg=ladder_svg(heading, columns, arrows, _COLOURS))


def ladder_rows(store: FrameStore, ids: Sequence[int], limit: int = 40) -> tuple[list[str], list[Arrow], str]:
    """One arrow per distinct packet (its first sighting), from sender's column to receiver's: the
    columns, the arrows and a heading."""
    owners = store.owners()
    seen: set[object] = set()
    arrows: list[Arrow] = []
    t0 = store.frames[ids[0]].ts_ns / 1e9 if ids else 0.0
    for i in ids:
        pkt = store.packet(i)
        key = identity(pkt)
        if key is not None:
            if key in seen:
                continue
            seen.add(key)
        s = describe(pkt)
        src = owners.get(s.src, s.src)
        dst = "broadcast" if s.dst in ("broadcast", "ff:ff:ff:ff:ff:ff") else owners.get(s.dst, s.dst)
        arrows.append((float(pkt.time) - t0, src, dst, s.protocol, s.info))
        if len(arrows) >= limit:
            break
    columns: list[str] = []
    for _, src, dst, _, _ in arrows:
        for c in (src, dst):
            if c not in columns and c != "broadcast":
                columns.append(c)
    if any(dst == "broadcast" for _, _, dst, _, _ in arrows):
        columns.append("broadcast")
    return columns, arrows, plural(len(arrows), "packet") + (f" (first {limit})" if len(arrows) >= limit else "")


def draw_ladder(columns: Sequence[str], arrows: Sequence[Arrow], heading: str) -> Figure:
    """The ladder on a new matplotlib Figure (ImportError where matplotlib is missing)."""
    from matplotlib.figure import Figure

    width = max(6.0, 2.2 * len(columns))
    height = max(2.5, 0.42 * len(arrows) + 1.2)
    fig = Figure(figsize=(width, height))
    ax = fig.add_subplot()
    x = {c: i for i, c in enumerate(columns)}
    for c, xi in x.items():
        ax.axvline(xi, color="#bbb", lw=1, zorder=0)
        ax.text(xi, -0.8, c, ha="center", va="bottom", fontsize=9, fontweight="bold")
    for row, (t, src, dst, proto, info) in enumerate(arrows):
        colour = _COLOURS.get(proto, "#555")
        xs, xd = x.get(src, 0), x.get(dst, 0)
        if xs == xd:
            ax.plot([xs], [row], marker="o", color=colour)
        else:
            ax.annotate("", xy=(xd, row), xytext=(xs, row),
                        arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 1.4})
        ax.text((xs + xd) / 2, row - 0.12, info if len(info) < 48 else info[:46] + "…", ha="center",
                va="bottom", fontsize=7, color=colour)
        ax.text(-0.6, row, f"{t * 1000:.3f} ms", ha="right", va="center", fontsize=7, color="#666")
    ax.set_xlim(-1.2, max(len(columns) - 0.5, 0.5))
    ax.set_ylim(len(arrows) + 0.2, -1.2)
    ax.axis("off")
    ax.set_title(heading, fontsize=10)
    fig.tight_layout()
    return fig
