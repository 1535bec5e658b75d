"""Startup commands per node (issue 15: 13 of 17 third-party labs needed them): described in code or in a
lab file, checked before anything exists, shown in the plan, run once every node is up — node by node in
the order they were added, each node's in its order — and a failing one stops the lab, naming the node, the
line and what it printed. These run on the simulated backend (no root needed); tests/kernel/test_lab.py
runs the same on the kernel."""

from __future__ import annotations

import pytest

import netnb
from netnb.labfile import load_text

from ..labs import startup_pair as pair


def test_startup_runs_in_order_once_every_node_is_up():
    lab = pair()
    with lab:
        ran = [(r.node, r.command) for r in lab.startup_results]
        assert ran == [("A", "ip addr add 10.0.0.1/24 dev eth0"), ("A", "echo A is up"),
                       ("B", "ip addr add 10.0.0.2/24 dev eth0"), ("B", "ping -c 1 -W 1 10.0.0.1")]
        assert all(r.ok for r in lab.startup_results)
        assert " 0% packet loss" in lab.startup_results[-1].stdout  # B's startup reached A: A's ran first
        assert lab["A"].ping("10.0.0.2", count=1).ok
        assert lab.timings["startup_s"] >= 0
    script = lab.plan().script().splitlines()
    at = script.index("# startup, once every node is up")
    assert script[at + 1:] == ["ip netns exec A sh -c 'ip addr add 10.0.0.1/24 dev eth0'",
                               "ip netns exec A sh -c 'echo A is up'",
                               "ip netns exec B sh -c 'ip addr add 10.0.0.2/24 dev eth0'",
                               "ip netns exec B sh -c 'ping -c 1 -W 1 10.0.0.1'"]
    assert all("startup" not in line for line in script[:at])  # after every operation of the build


def test_a_failing_startup_command_stops_the_lab_and_names_node_and_line():
    lab = pair()
    lab["B"].startup("ip route add 10.9.0.0/16 via 10.0.0.99 dev nowhere")
    with pytest.raises(netnb.StartupError) as caught:
        lab.start()
    err = caught.value
    assert (err.node, err.line, err.command) == ("B", 3, "ip route add 10.9.0.0/16 via 10.0.0.99 dev nowhere")
    assert err.result.rc != 0 and "node 'B', startup command 3" in str(err)
    assert "Cannot find device" in str(err)  # what the command printed
    assert lab.state == "stopped" and not lab.running  # removed: nothing is left
    with pytest.raises(netnb.LabStateError):
        lab["A"].run("true")


def test_bad_startup_commands_are_refused_before_anything_is_built():
    lab = netnb.Lab("bad-startup", backend="sim")
    a = lab.host("A")
    a.startup("if true; then", "cat <<EOF", "", "ip link \\", "for i in 1 2; do echo $i; done")
    lab.host("B").startup("while true; do sleep 1")
    with pytest.raises(netnb.TopologyError) as caught:
        lab.start()
    text = str(caught.value)
    assert "startup command 1 ('if true; then') opens 'if' without its 'fi'" in text
    assert "startup command 2 ('cat <<EOF') has a here-document" in text
    assert "startup command 3 ('') is empty" in text
    assert "startup command 4 ('ip link \\\\') ends with a backslash" in text
    assert "startup command 5" not in text  # a loop on one line is one command
    assert "node 'B': startup command 1 ('while true; do sleep 1') opens 'while' without its 'done'" in text
    assert lab.state == "described"


def test_startup_commands_are_refused_once_the_lab_runs():
    lab = pair()
    with lab:
        with pytest.raises(netnb.LabStateError, match="add startup commands"):
            lab["A"].startup("true")


LAB = """\
name: kathara-like
nodes: {A: host, B: host}
links:
  - [A, B]
startup:
  A: |
    # as a Kathara .startup file: comments, blank lines, continued lines
    ip addr add 10.0.0.1/24 dev eth0

    ip link set eth0 \\
       mtu 1400
  B:
    - ip addr add 10.0.0.2/24 dev eth0
"""


def test_lab_files_have_startup_blocks_and_lists_with_their_lines(monkeypatch):
    monkeypatch.setenv("NETNB_BACKEND", "sim")  # (the kernel half: tests/kernel/test_lab.py)
    lab = load_text(LAB)
    got = [(n.name, c.command, c.origin) for n in lab.topology.nodes for c in n.startup]
    assert got == [("A", "ip addr add 10.0.0.1/24 dev eth0", "line 8"), ("A", "ip link set eth0 mtu 1400", "line 10"),
                   ("B", "ip addr add 10.0.0.2/24 dev eth0", "line 13")]
    with lab:
        assert lab["B"].ping("10.0.0.1", count=1).ok
        assert "mtu 1400" in lab["A"].run("ip link show eth0").stdout
    with pytest.raises(netnb.TopologyError) as caught:
        load_text(LAB + "    - if true; then\n  C: [echo hi]\n")
    text = str(caught.value)
    assert "line 14: node 'B': startup command 2 ('if true; then') opens 'if'" in text
    assert "line 15: startup of 'C': no node of this lab is called 'C' (its nodes: A, B)" in text
    with pytest.raises(netnb.TopologyError, match="startup"):
        load_text(LAB.replace("    - ip addr add 10.0.0.2/24 dev eth0", "    - 42"))


def test_a_service_starts_in_the_background_and_is_waited_for():
    lab = pair("svc")
    lab["A"].service("python3 -m http.server 8080", port=8080)
    lab["B"].startup("curl -s -o /dev/null -w '%{http_code}' http://10.0.0.1:8080/")
    assert ("A", "python3 -m http.server 8080 &") in lab.plan().startup
    with lab:  # A's service listened before B's curl ran
        done = {r.command: r for r in lab.startup_results}
        assert done["python3 -m http.server 8080"].ok and lab.startup_results[-1].stdout == "200"
        assert lab["A"].listening()[0].port == 8080
    with pytest.raises(netnb.UsageError, match="port must be a whole number"):
        lab["B"].service("true", port=0)
    broken = pair("svc-bad")
    broken["A"].service("python3 -m http.server 8080 --bind 10.9.9.9", port=8080)  # an address A lacks
    with pytest.raises(netnb.StartupError, match="exited before it listened") as caught:
        broken.start()
    assert caught.value.node == "A" and not broken.running


def test_a_lab_file_gives_a_service_among_the_startup_commands(tmp_path):
    path = tmp_path / "svc.yaml"
    path.write_text("name: svc\nnodes: {web: host, pc: host}\nlinks: [{a: web, b: pc, ip: [10.0.0.1/24, 10.0.0.2/24]}]\n"
                    "files:\n  web: {/srv/index.html: hello}\nstartup:\n  web:\n    - echo starting\n"
                    "    - {service: python3 -m http.server 80 --directory /srv, port: 80}\n"
                    "  pc: [curl -s http://10.0.0.1/]\n")
    lab = netnb.load(str(path), backend="sim")
    assert lab.plan().startup == (("web", "echo starting"), ("web", "python3 -m http.server 80 --directory /srv &"),
                                  ("pc", "curl -s http://10.0.0.1/"))
    assert [c.origin for c in lab["web"].spec.startup] == ["line 8", "line 9"]
    with lab:
        assert lab.startup_results[-1].stdout == "hello"
    path.write_text("name: svc\nnodes: {web: host}\nstartup:\n  web:\n    - {service: x}\n")
    with pytest.raises(netnb.TopologyError, match=r"svc.yaml:4: startup: web: write a list of commands"):
        netnb.load(str(path))
