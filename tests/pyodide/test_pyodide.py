"""The simulated backend in Pyodide (WebAssembly, no sockets, threads or processes): netnb's package, copied
into Pyodide's core from npm under Node, builds a lab with NAT, pings, serves and fetches HTTP, captures and
filters frames, and reads iptables. Only the core is offline here (no scapy, matplotlib or jsonschema
wheels): this covers what needs none of them; the browser build (issue 14) brings the rest."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYODIDE = os.environ.get("NETNB_PYODIDE", os.path.join(REPO, ".cache", "pyodide", "node_modules", "pyodide"))


def test_a_simulated_lab_runs_in_pyodide():
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed (bash scripts/setup.sh --pyodide)")
    if not os.path.exists(os.path.join(PYODIDE, "pyodide.mjs")):
        pytest.skip(f"the npm package pyodide is not in {PYODIDE} (bash scripts/setup.sh --pyodide)")
    done = subprocess.run(["node", os.path.join(REPO, "tests", "pyodide", "run.mjs"), PYODIDE, os.path.join(REPO, "netnb"),
                           os.path.join(REPO, "tests", "pyodide", "lab.py")],
                          capture_output=True, text=True, timeout=600)
    print(done.stdout[-3000:])
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "PYODIDE OK" in done.stdout and "(emscripten)" in done.stdout
    assert "labs run here on the simulation" in done.stdout
