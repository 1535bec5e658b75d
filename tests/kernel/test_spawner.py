"""The agent spawner: labs fork their agents from one warm process, and do not depend on it."""

from __future__ import annotations

import os
import signal

import pytest

import netnb
from netnb.backends.kernel.client import Spawner

from ..labs import routed, three_pcs
from .helpers import pid_alive, python_script, wait_until

pytestmark = pytest.mark.kernel


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def cmdline(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().decode().split("\0")


def test_labs_get_their_agents_from_one_spawner():
    netnb.prepare()
    spawner = Spawner.shared()
    assert netnb.prepare() < 1.0 and Spawner.shared() is spawner  # once per process
    x, y = three_pcs("spawn-x"), routed("spawn-y")
    with x, y:
        assert parent_of(x.agent_pid) == parent_of(y.agent_pid) == spawner.process.pid
        assert "netnb.backends.kernel.spawner" in cmdline(spawner.process.pid)
        with open(f"/proc/{spawner.process.pid}/comm") as f:
            assert f.read().strip() == "netnb-spawner"
        with open(f"/proc/{x.agent_pid}/comm") as f:
            assert f.read().strip() == "netnb-agent"
        assert x["A"].ping(x["B"], count=1).ok and y["B"].ping("10.0.2.2", count=1).ok


def test_a_running_lab_outlives_its_spawner_and_the_next_lab_gets_a_new_one():
    netnb.prepare()
    old = Spawner.shared()
    lab = three_pcs("spawn-orphan")
    with lab:
        agent = lab.agent_pid
        old.process.send_signal(signal.SIGKILL)  # the spawner this process started
        old.process.wait()
        assert pid_alive(lab.agent_pid)
        assert lab["A"].ping(lab["C"], count=1).ok
        other = routed("spawn-after")
        with other:
            assert Spawner.shared() is not old
            assert other["B"].ping("10.0.2.2", count=1).ok
    assert wait_until(lambda: not pid_alive(agent), timeout=5)  # stop() still ends the orphaned agent


def test_commands_in_nodes_see_the_notebooks_environment_as_it_is_now(monkeypatch):
    netnb.prepare()  # the spawner started with the environment of that moment
    monkeypatch.setenv("NETNB_TEST_LATER", "set after the spawner started")
    lab = three_pcs("spawn-env")
    with lab:
        assert lab["A"].run("echo $NETNB_TEST_LATER").stdout.strip() == "set after the spawner started"


def _child_lab(name: str) -> tuple[bool, int]:
    lab = routed(name)
    with lab:
        return lab["B"].ping("10.0.2.2", count=1).ok, parent_of(lab.agent_pid)


def test_a_forked_child_process_gets_its_own_spawner():
    import multiprocessing

    netnb.prepare()
    mine = Spawner.shared()
    with multiprocessing.get_context("fork").Pool(2) as pool:
        results = pool.map(_child_lab, ["fork-1", "fork-2"])
        lab = three_pcs("fork-parent")
        with lab:  # the parent's spawner still answers only the parent
            assert Spawner.shared() is mine and parent_of(lab.agent_pid) == mine.process.pid
            assert lab["A"].ping(lab["B"], count=1).ok
    assert [ok for ok, _ in results] == [True, True]
    assert all(spawner != mine.process.pid for _, spawner in results)


def test_the_spawner_ends_with_its_notebook_even_if_a_forked_child_lives_on():
    proc = python_script("""
        import os, time, netnb
        from netnb.backends.kernel.client import Spawner
        netnb.prepare()
        child = os.fork()
        if child == 0:
            time.sleep(30)
            os._exit(0)
        print(Spawner.shared().process.pid, child, flush=True)
        time.sleep(60)
    """)
    spawner, child = map(int, proc.stdout.readline().split())
    try:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert pid_alive(child)
        assert wait_until(lambda: not pid_alive(spawner), timeout=5)
    finally:
        os.kill(child, signal.SIGKILL)  # the script's child, started by this test


def test_labs_started_from_many_threads_at_once_each_get_their_own_agent():
    import threading

    agents: dict[int, int] = {}
    pings: dict[int, bool] = {}

    def one(i: int) -> None:
        lab = three_pcs(f"par{i}")
        with lab:
            agents[i] = lab.agent_pid
            pings[i] = lab["A"].ping(lab["C"], count=1).ok

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert pings == {i: True for i in range(8)}
    assert len(set(agents.values())) == 8
