"""The first hour on a running lab: readiness instead of sleeps, lifecycles that keep what they have,
commands that return when they are done, VMs that ping nodes and say why not."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

import netnb
from netnb.backends.kernel import registry
from netnb.errors import AgentError, CommandFailed, CommandTimeout

from .helpers import wait_until

pytestmark = pytest.mark.kernel


def two(name: str) -> tuple[netnb.Lab, netnb.Host, netnb.Host]:
    lab = netnb.Lab(name)
    a, b = lab.host("A"), lab.host("B")
    lab.link(a, b, ip=("10.0.0.1/24", "10.0.0.2/24"))
    return lab, a, b


def test_stopping_the_lab_inside_a_capture_keeps_the_frames():
    lab, a, b = two("fh-capture")
    lab.start()
    with lab.capture(a) as cap:
        assert a.ping(b, count=2).ok
        lab.stop()
    assert not cap.running and lab.state == "stopped"
    assert len(cap.filter("icmp")) == 4  # two requests and two replies, kept


def test_a_background_job_does_not_hold_run_until_its_timeout():
    lab, a, _ = two("fh-bg")
    with lab:
        started = time.monotonic()
        result = a.run("sleep 1000 & echo x", timeout=30)
        took = time.monotonic() - started
        assert result.ok and result.stdout == "x\n" and took < 5, took
        assert a.run("printf 'big\\n%.0s' $(seq 20000)").stdout.count("big") == 20000  # long output, all of it
        assert a.run("cat", stdin="fed\n").stdout == "fed\n"


def test_wait_listening_returns_once_a_server_listens_and_fails_fast_when_it_dies():
    lab, a, b = two("fh-listen")
    with lab:
        server = b.popen("python3 -m http.server 8080 --bind 10.0.0.2").wait_listening(8080)
        assert a.run("curl -s -o /dev/null -w '%{http_code}' http://10.0.0.2:8080/").stdout == "200"
        assert {(s.proto, s.address, s.port) for s in b.listening()} >= {("tcp", "10.0.0.2", 8080)}
        server.stop()
        dead = b.popen("echo no server here; exit 3")
        started = time.monotonic()
        with pytest.raises(CommandFailed, match="exited before it listened on tcp port 9000; it printed: no server"):
            dead.wait_listening(9000, timeout=30)
        assert time.monotonic() - started < 5
        with pytest.raises(CommandTimeout, match=r"nothing in node 'A' listens on udp port 53 after 0.2 s"):
            a.wait_listening(53, proto="udp", timeout=0.2)


def test_wait_ready_covers_links_made_by_hand_and_skips_unopened_taps():
    lab, a, b = two("fh-ready")
    with lab:
        anchor = b.popen("sleep infinity")
        a.run(f"ip link add v-a type veth peer name v-b netns {anchor.pid} && ip addr add 10.9.0.1/24 dev v-a "
              "&& ip link set v-a up", check=True)
        b.run("ip addr add 10.9.0.2/24 dev v-b && ip link set v-b up", check=True)
        a.run("ip tuntap add dev tap0 mode tap && ip link set tap0 up", check=True)  # no carrier: nobody opened it
        assert lab.wait_ready(timeout=5) < 5
        assert a.ping("10.9.0.2", count=1).ok


def test_a_vm_pings_nodes_and_vms_and_says_why_not():
    lab = netnb.Lab("fh-vms")
    server = lab.router("server")
    server.bridge("br0", ip="10.0.1.1/24")
    vm1 = lab.vm("vm1", server, bridge="br0", ip="10.0.1.11/24", gateway="10.0.1.1")
    vm2 = lab.vm("vm2", server, bridge="br0", ip="10.0.1.12/24")
    with lab:
        assert vm1.ping(server, count=1).ok and vm1.ping(vm2, count=1).ok
        lost = vm1.ping("10.0.1.99", count=1, timeout=0.3)
        assert not lost.ok and lost.hint.startswith("no ARP answer from 10.0.1.99")
        beyond = vm1.ping("10.0.9.9", count=1, timeout=0.3)  # via the gateway, which has no route there
        assert not beyond.ok and "10.0.1.1 (its gateway, on the way to 10.0.9.9) answered ARP" in beyond.hint


def _agents() -> set[int]:
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == "netnb-agent":
                    found.add(int(pid))
        except OSError:
            continue
    return found


def test_an_unwritable_record_leaves_no_agent_running(monkeypatch):
    def refuse(self):
        raise PermissionError(13, "Permission denied", self.path)

    before = _agents()
    monkeypatch.setattr(registry.LabRecord, "write", refuse)
    lab, _, _ = two("fh-record")
    for _ in range(3):
        with pytest.raises(AgentError, match="could not write the lab's ownership record"):
            lab.start()
    assert lab.state == "described"
    assert wait_until(lambda: _agents() <= before, timeout=5)  # the lab's PID 1 exits once its relay is gone


def test_netnb_run_hold_ends_cleanly_on_end_of_input_and_on_ctrl_c(tmp_path):
    netnb_cmd = os.path.join(os.path.dirname(sys.executable), "netnb")
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    example = os.path.join(repo, "examples", "routed.yaml")
    eof = subprocess.run([netnb_cmd, "run", example, "--hold"], stdin=subprocess.DEVNULL, capture_output=True,
                         text=True, timeout=60)
    assert eof.returncode == 0 and "lab removed" in eof.stdout and "Traceback" not in eof.stderr, eof.stderr
    proc = subprocess.Popen([netnb_cmd, "run", example, "--hold"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    assert "is up" in proc.stdout.readline()
    proc.send_signal(signal.SIGINT)  # Ctrl-C, at the prompt or just before it: both must end cleanly
    out, err = proc.communicate(timeout=30)
    assert "Traceback" not in err, err
    assert proc.returncode in (0, 130) and ("lab removed" in out or "the lab was removed" in err), (out, err)
