"""How long drawing a lab takes: 50 and 200 nodes (10 switches with hosts), layout + Figure + SVG.

    .venv/bin/python bench/draw.py

Baseline in the same run: matplotlib alone drawing the same number of points and lines (the floor any
drawing of this size pays). Target: a 200-node lab draws in under 1 s.
"""

from __future__ import annotations

import io
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from matplotlib.figure import Figure  # noqa: E402

import netnb  # noqa: E402


def lab_of(n: int) -> netnb.Lab:
    lab = netnb.Lab(f"draw{n}")
    switches = max(1, n // 20)
    core = lab.switch("core", subnet="10.255.0.0/24")
    count = 1
    for s in range(switches):
        sw = lab.switch(f"s{s}", subnet=f"10.{s}.0.0/24")
        lab.link(sw, core)
        count += 1
        for h in range(n // switches - 1):
            if count >= n:
                break
            lab.link(lab.host(f"h{s}x{h}"), sw)
            count += 1
    return lab


def baseline(nodes: int, links: int) -> float:
    t0 = time.perf_counter()
    fig = Figure(figsize=(14, 11))
    ax = fig.add_subplot()
    for i in range(links):
        ax.plot([i % 17, (i * 7) % 13], [i % 11, (i * 3) % 19], color="grey")
    ax.scatter(range(nodes), range(nodes))
    fig.savefig(io.StringIO(), format="svg")
    return time.perf_counter() - t0


def main() -> None:
    lab_of(10).draw()  # load matplotlib and networkx once, outside the timings
    print(f"{'nodes':>6} {'netnb draw+svg':>15} {'matplotlib floor':>17}")
    for n in (50, 200):
        lab = lab_of(n)
        t0 = time.perf_counter()
        fig = lab.draw()
        fig.savefig(io.StringIO(), format="svg")
        took = time.perf_counter() - t0
        nodes = len(lab.topology.nodes)
        print(f"{nodes:>6} {took:>14.2f}s {baseline(nodes, len(lab.topology.links)):>16.2f}s"
              + ("   (target < 1 s: ok)" if n == 200 and took < 1 else ("   (target < 1 s: MISSED)" if n == 200 else "")))


if __name__ == "__main__":
    main()
