"""Every snippet of the README runs as written: its Python blocks, top to bottom, in one fresh process
(as a reader pastes them into one notebook), and its shell lines that need no set-up."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from .helpers import REPO

pytestmark = pytest.mark.kernel

README = os.path.join(REPO, "README.md")


def blocks(language: str) -> list[str]:
    """The README's fenced code blocks in ``language``, in order."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.S | re.M)


def test_the_readme_has_the_snippets_this_test_runs():
    assert len(blocks("python")) >= 4 and len(blocks("sh")) >= 1


def test_every_python_snippet_runs_as_written(tmp_path):
    code = "\n".join(blocks("python"))
    script = tmp_path / "readme.py"
    script.write_text(code)
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
    out = proc.stdout
    assert "ip netns add A" in out                      # the plan, printed
    assert "10.0.0.1/24" in out                         # `ip -br addr` in A
    assert "echo-request" in out and "journey over" in out   # the capture table and a journey, as text
    assert "2/3 received" not in out and "✔ ping" not in out   # print() of results is text, not HTML
    assert re.search(r"ping vm1 → 203\.0\.113\.80: 3/3 received", out), out[-1500:]
    assert (tmp_path / "three-pcs.pcapng").stat().st_size > 0


def test_the_shell_lines_that_need_no_setup_run(tmp_path):
    """`netnb run examples/routed.yaml --plan` and `--ping`, named in the README, as written."""
    netnb = os.path.join(os.path.dirname(sys.executable), "netnb")
    plan = subprocess.run([netnb, "run", "examples/routed.yaml", "--plan"], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert plan.returncode == 0 and "ip -n C route add default via 10.0.2.1" in plan.stdout, plan.stderr
    ping = subprocess.run([netnb, "run", "examples/routed.yaml", "--ping"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert ping.returncode == 0 and "✘" not in ping.stdout and ping.stdout.count("✔") == 6, ping.stdout


def test_a_docker_lab_file_runs_its_containers():
    from netnb.labfile import load

    lab = load(os.path.join(REPO, "examples", "docker-nat.yaml"))
    with lab:
        web = lab["ubuntu1/web"]
        web.wait_listening(8080)
        got = lab["client"].run("curl -s -o /dev/null -w '%{http_code}' http://192.168.3.2:49153/")
        assert got.stdout == "200" and web.routes()[0].dev == "eth0"
