"""A sequence (ladder) diagram of a capture: nodes as columns, packets as arrows, time downwards.

Returns a matplotlib ``Figure`` built without pyplot, so it renders inline and saves to SVG/PNG
without touching global state.
"""

from __future__ import annotations

from collections.abc import Sequence

import netnb.view  # noqa: F401  (before matplotlib: see its quiet cache warning)
from matplotlib.figure import Figure

from netnb.capture.dissect import describe, identity
from netnb.capture.store import FrameStore
from netnb.model.words import plural

_COLOURS = {"ARP": "#8e44ad", "ICMP": "#2471a3", "TCP": "#1e8449", "UDP": "#b9770e", "VXLAN": "#c0392b"}


def draw_ladder(store: FrameStore, ids: Sequence[int], limit: int = 40) -> Figure:
    """One arrow per distinct packet (its first sighting), from sender's column to receiver's."""
    owners = store.owners()
    seen: set[object] = set()
    arrows: list[tuple[float, str, str, str, str]] = []
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
    title = plural(len(arrows), "packet") + (f" (first {limit})" if len(arrows) >= limit else "")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
