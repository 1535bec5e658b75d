"""Crash safety, ownership and isolation, with real processes and a real SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

import netnb
from netnb import cli
from netnb.backends.kernel import registry

from .helpers import netns_inodes_in_use, pid_alive, python_script, wait_until

pytestmark = pytest.mark.kernel

LAB_SCRIPT = """
import json, sys, time, netnb
lab = netnb.Lab(sys.argv[1] if len(sys.argv) > 1 else "{name}")
sw = lab.switch("sw", subnet="10.0.0.0/16")
hosts = [lab.host(f"h{{i}}") for i in range({hosts})]
for h in hosts:
    lab.link(h, sw)
print("building", flush=True)
lab.start()
print(json.dumps({{"agent": lab.agent_pid, "inodes": sorted(lab.namespace_inodes().values())}}), flush=True)
{after}
"""


def descendants(pid: int) -> list[int]:
    """Pids of every process below ``pid``: its agent spawner, the agents it forked, their processes."""
    children: dict[int, list[int]] = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        children.setdefault(ppid, []).append(int(p))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def test_sigkill_of_a_running_notebook_leaves_nothing_behind():
    proc = python_script(LAB_SCRIPT.format(name="crash", hosts=3, after="time.sleep(120)"))
    assert proc.stdout.readline().strip() == "building"
    info = json.loads(proc.stdout.readline())
    inodes = set(info["inodes"])
    assert inodes <= netns_inodes_in_use()
    below = descendants(proc.pid)  # the spawner, the agent (relay and PID 1)
    assert info["agent"] in below and len(below) >= 3
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = time.monotonic()
    assert wait_until(lambda: not any(pid_alive(p) for p in below), timeout=5)
    assert wait_until(lambda: not (inodes & netns_inodes_in_use()), timeout=5)
    print(f"lab gone {time.monotonic() - killed_at:.3f} s after SIGKILL")
    # The owner's record is stale now; `netnb clean` removes it and touches nothing else.
    removed = cli.clean()
    assert any(f"pid {proc.pid}" in line for line in removed), removed
    assert not any(r.owner_pid == proc.pid for r in registry.read_records())


def test_sigkill_in_the_middle_of_a_build_leaves_nothing_behind():
    before = netns_inodes_in_use()
    proc = python_script(LAB_SCRIPT.format(name="crashbuild", hosts=400, after="time.sleep(120)"))
    assert proc.stdout.readline().strip() == "building"
    # Kill once the agent is creating namespaces (the build of 400 hosts takes about a second).
    assert wait_until(lambda: len(netns_inodes_in_use() - before) > 20, timeout=10, step=0.002)
    agents = descendants(proc.pid)
    grew = len(netns_inodes_in_use() - before)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert grew > 0, "the build had not started; the test proves nothing"
    assert wait_until(lambda: not any(pid_alive(a) for a in agents), timeout=5)
    assert wait_until(lambda: netns_inodes_in_use() <= before, timeout=5)
    cli.clean()


def test_two_labs_with_the_same_names_run_at_once_without_touching():
    # Lab X here: A=10.0.0.1, B=10.0.0.2. Lab Y in another process: the same names, B=10.0.0.3.
    x = netnb.Lab("twins")
    a, b, sw = x.host("A"), x.host("B"), x.switch("sw")
    x.link(a, sw, ip="10.0.0.1/24")
    x.link(b, sw, ip="10.0.0.2/24")
    other = python_script("""
        import netnb
        y = netnb.Lab("twins")
        a, b, sw = y.host("A"), y.host("B"), y.switch("sw")
        y.link(a, sw, ip="10.0.0.1/24"); y.link(b, sw, ip="10.0.0.3/24")
        with y:
            print("up", flush=True)
            import sys; sys.stdin.readline()  # both labs are up until the test says go on
            print(int(a.ping("10.0.0.3", count=1).ok), int(a.ping("10.0.0.2", count=1, timeout=0.5).ok), flush=True)
    """)
    with x:
        assert other.stdout.readline().strip() == "up"
        mine_ok = a.ping("10.0.0.2", count=1).ok
        theirs = a.ping("10.0.0.3", count=1, timeout=0.5).ok
        other.stdin.write("go\n")
        other.stdin.flush()
        result = other.stdout.readline().split()
    other.wait(20)
    assert mine_ok and not theirs
    assert result == ["1", "0"], other.stderr.read()


def test_clean_never_touches_a_live_lab():
    lab = netnb.Lab("alive")
    lab.host("A")
    with lab:
        agent = lab.agent_pid
        cli.clean()
        assert pid_alive(agent)
        assert lab["A"].run("true").ok


RICH = """
import json, sys, time, netnb
from netnb.docker import DockerHost
lab = netnb.Lab("{name}")
lan = lab.switch("lan", subnet="192.168.3.0/24")
internet = lab.internet(lan, gateway="192.168.3.1")
server = lab.router("server")
lab.link(server, lan, ip="192.168.3.2/24")
server.bridge("br0", ip="10.0.1.1/24")
lab.vm("vm1", server, bridge="br0", ip="10.0.1.11/24", gateway="10.0.1.1")
u1 = DockerHost(lab, "u1", lan, ip="192.168.3.40")
lab.start()
u1.run("web", command="python3 -m http.server 8080", expose=[8080], publish_all=True)
cap = lab.capture(lan)
cap.start()
print(json.dumps({{"folder": lab.folder}}), flush=True)
{after}
"""


def our_temp_entries(*owners: int) -> set[str]:
    """What labs of these processes (this one by default) may leave in the temp folder: their lab folders,
    and anything with the old per-purpose prefixes (which nothing may make any more)."""
    import glob
    import tempfile

    patterns = [f"netnb-lab-{pid}.*" for pid in owners or (os.getpid(),)]
    patterns += [f"netnb-{what}-*" for what in ("proc", "capture", "docker", "vm", "vmc", "www")]
    return {p for base in {tempfile.gettempdir(), "/tmp"} for pattern in patterns
            for p in glob.glob(os.path.join(base, pattern))}


def test_a_clean_stop_and_a_plain_exit_leave_no_file():
    before = our_temp_entries()
    proc = python_script(RICH.format(name="tidy", after="cap.stop(); lab.stop(); print('stopped', flush=True)"))
    folder = json.loads(proc.stdout.readline())["folder"]
    assert os.path.isdir(folder) and os.stat(folder).st_mode & 0o777 == 0o700
    assert {"proc", "www", "vm", "docker", "capture"} <= {n.split("-")[0] for n in os.listdir(folder)}
    assert proc.stdout.readline().strip() == "stopped"
    assert proc.wait(30) == 0, proc.stderr.read()
    assert our_temp_entries(proc.pid) <= before and not os.path.exists(folder)
    # The script ends without stop(): the exit removes the folder (the Docker host's files with it).
    proc = python_script(RICH.format(name="plainexit", after="print('leaving', flush=True)"))
    folder = json.loads(proc.stdout.readline())["folder"]
    assert proc.wait(30) == 0, proc.stderr.read()
    assert not os.path.exists(folder) and our_temp_entries(proc.pid) <= before


def test_after_a_sigkill_clean_removes_the_dead_notebooks_folder_and_nothing_else():
    before = our_temp_entries()
    alive = netnb.Lab("bystander")
    alive.host("A")
    with alive:
        proc = python_script(RICH.format(name="killed", after="time.sleep(120)"))
        folder = json.loads(proc.stdout.readline())["folder"]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert os.path.isdir(folder)  # the agent cannot remove the notebook's folder: clean does
        removed = cli.clean()
        assert any(folder in line for line in removed), removed
        assert not os.path.exists(folder) and os.path.isdir(alive.folder)  # a live lab's folder stays
        assert our_temp_entries(proc.pid) <= before


def test_a_folder_without_a_record_is_removed_only_when_its_owner_is_gone(tmp_path):
    gone = python_script("import os; print(os.getpid(), flush=True)")
    pid = int(gone.stdout.readline())
    gone.wait()
    start = 12345  # not the start of any live process with that pid
    orphan = registry.make_lab_folder(pid, start)
    mine = registry.make_lab_folder(os.getpid(), registry.process_start_time(os.getpid()) or 0)
    link = os.path.join(os.path.dirname(orphan), f"netnb-lab-{pid}.{start}-link")
    os.symlink(tmp_path, link)
    try:
        removed = cli.clean()
        assert any(orphan in line for line in removed) and not os.path.exists(orphan)
        assert os.path.isdir(mine) and os.path.islink(link) and os.path.isdir(tmp_path)  # never followed
    finally:
        os.unlink(link)
        registry.remove_lab_folder(mine)


def test_a_killed_agent_says_how_it_ended():
    lab = netnb.Lab("dies")
    a, b = lab.host("A"), lab.host("B")
    lab.link(a, b, ip=("10.0.0.1/24", "10.0.0.2/24"))
    with lab:
        relay = lab.agent_pid
        with open(f"/proc/{relay}/task/{relay}/children") as f:
            pid1 = int(f.read().split()[0])  # the lab's PID 1, below its relay
        os.kill(pid1, signal.SIGKILL)
        with pytest.raises(netnb.AgentError, match=r"the lab agent stopped: the lab's PID 1 was killed by "
                                                   r"SIGKILL \(signal 9\)"):
            a.ping(b, count=1)
