"""The simulated backend in Pyodide (WebAssembly, no sockets, threads or processes): netnb's package, copied
into the offline Pyodide that ``scripts/setup.sh --pyodide`` makes (npm's core plus pure-Python wheels from
PyPI, scapy among them; no matplotlib, numpy or jsonschema), under Node, builds a lab with NAT, pings, serves
and fetches HTTP, captures and filters frames, reads iptables, and shows what a reader looks at: the packet
table, a packet's journey across the NAT, a ladder and the lab's drawing (plain SVG, without matplotlib)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYODIDE = os.environ.get("NETNB_PYODIDE", os.path.join(REPO, ".cache", "pyodide", "dist"))


def test_a_simulated_lab_runs_in_pyodide():
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed (bash scripts/setup.sh --pyodide)")
    if not os.path.exists(os.path.join(PYODIDE, "pyodide.mjs")):
        pytest.skip(f"no offline Pyodide in {PYODIDE} (bash scripts/setup.sh --pyodide makes it)")
    done = subprocess.run(["node", os.path.join(REPO, "tests", "pyodide", "run.mjs"), PYODIDE, os.path.join(REPO, "netnb"),
                           os.path.join(REPO, "tests", "pyodide", "lab.py"), "scapy"],
                          capture_output=True, text=True, timeout=600)
    print(done.stdout[-3000:])
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "PYODIDE OK" in done.stdout and "(emscripten)" in done.stdout
    assert "labs run here on the simulation" in done.stdout
    assert "rewritten: ip.src 10.0.1.2→10.0.2.1" in done.stdout  # the journey, dissected by scapy in Pyodide
