"""Every object a cell can return shows itself as a picture or a table in a fresh kernel, with no
``%matplotlib`` and no pyplot: a notebook returns each one, runs in a new kernel, and each output's
MIME types are checked (as a saved .ipynb keeps them for static viewers)."""

from __future__ import annotations

import os

import nbformat
import pytest

from .conftest import kernel_available

SETUP = """
import netnb
from netnb.docker import DockerHost
lab = netnb.Lab("show")
lan = lab.switch("lan", subnet="192.168.3.0/24")
internet = lab.internet(lan, gateway="192.168.3.1")
a, b = lab.host("A"), lab.host("B")
lab.link(a, lan); lab.link(b, lan)
server = lab.router("server")
lab.link(server, lan, ip="192.168.3.30/24")
server.bridge("br0", ip="10.0.1.1/24")
vm = lab.vm("vm1", server, bridge="br0", ip="10.0.1.11/24", gateway="10.0.1.1")
u1 = DockerHost(lab, "u1", lan, ip="192.168.3.40")
"""

# (cell source, what its output must offer besides text/plain)
CELLS = [
    ("lab", "text/html"),
    ("lab.plan()", "text/html"),
    ("a", "text/html"),
    ("lab.drawing()", "image/svg+xml"),
    ("lab.start()", "text/html"),
    ("a.ping(b, count=1)", "text/html"),
    ("a.run('ip -br addr')", "text/html"),
    ("a.interfaces()", "text/html"),
    ("a.routes()", "text/html"),
    ("lab.routing()", "text/html"),
    ("lab.routing().draw()", "image/svg+xml"),
    ("a.neighbours()", "text/html"),
    ("a.listening()", "text/html"),
    ("lab['lan'].fdb()", "text/html"),
    ("a.inspect()", "text/html"),
    ("proc = b.popen('sleep 60'); proc", "text/html"),
    ("vm", "text/html"),
    ("vm.ping(a, count=1)", "text/html"),
    ("internet", "text/html"),
    ("with lab.capture(a, lan) as cap:\n    a.ping(b, count=2)\ncap", "text/html"),
    ("cap.filter('icmp')", "text/html"),
    ("cap.journey(cap.filter('icmp')[0])", "text/html"),
    ("cap.ladder()", "image/svg+xml"),
    ("lab.draw(live=True)", "image/svg+xml"),
    ("web = u1.run('web', command='python3 -m http.server 8080', expose=[8080], publish_all=True); web",
     "text/html"),
    ("u1.networks['bridge']", "text/html"),
    ("u1.ps()", "text/html"),
    ("u1.nat()", "text/html"),
    ("u1", "text/html"),
    ("netnb.check()", "text/html"),
]


@pytest.mark.kernel
def test_every_object_renders_in_a_fresh_kernel(tmp_path, this_python_kernel):
    reason = kernel_available()
    if reason:
        pytest.skip(reason)
    from nbclient import NotebookClient

    cells = [nbformat.v4.new_code_cell(SETUP)] + [nbformat.v4.new_code_cell(src) for src, _ in CELLS]
    cells.append(nbformat.v4.new_code_cell("print(cap)\nprint(cap.journey(cap.filter('icmp')[0]))\nlab.stop()"))
    nb = nbformat.v4.new_notebook(cells=cells)
    NotebookClient(nb, timeout=120, kernel_name=this_python_kernel,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells for o in c.outputs if o.output_type == "error"]
    assert not errors, errors[0]
    problems = []
    for cell, (src, wanted) in zip(nb.cells[1:], CELLS):
        results = [o for o in cell.outputs if o.output_type == "execute_result"]
        if len(results) != 1:
            problems.append(f"{src!r}: no result shown ({cell.outputs})")
            continue
        data = results[0]["data"]
        text = data.get("text/plain", "")
        if wanted not in data or not text or text.startswith("<Figure") or "object at 0x" in text:
            problems.append(f"{src!r}: {sorted(data)} {text[:80]!r}")
        if wanted == "image/svg+xml" and "image/png" not in data:
            problems.append(f"{src!r}: no PNG for viewers that drop SVG")
        if any("<script" in str(v) for v in data.values()):
            problems.append(f"{src!r}: a script in the output")
    assert not problems, "\n".join(problems)
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert "echo-request" in printed and "journey over" in printed and "<Capture" not in printed
    command = next(o for o in nb.cells[7].outputs if o.output_type == "execute_result")["data"]["text/html"]
    assert "white-space: pre" in command and "monospace" in command  # `ip -br addr` columns line up
    with open(os.path.join(tmp_path, "shown.ipynb"), "w") as f:  # a saved notebook keeps every picture
        nbformat.write(nb, f)
    saved = nbformat.read(os.path.join(tmp_path, "shown.ipynb"), as_version=4)
    assert sum("image/png" in o.get("data", {}) for c in saved.cells for o in c.outputs) >= 3
