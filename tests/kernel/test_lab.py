"""Real labs on the real kernel: the issue's two contract examples and the lab's lifetime."""

from __future__ import annotations

import asyncio
import os
import re

import pytest

import netnb
from netnb.backends.kernel.client import AgentClient
from netnb.plan import AddAddress, AddNamespace, AddRoute, SetLinkState

from .. import labs
from ..labs import routed, startup_pair, stp_ring, three_pcs
from .helpers import netns_inodes_in_use, pid_alive, wait_until

pytestmark = pytest.mark.kernel


def test_three_pcs_contract():
    lab = three_pcs()
    a, b, c = lab["A"], lab["B"], lab["C"]
    with lab:
        first = a.ping(b, count=1)
        assert first.ok and first.sent == 1 and first.received == 1, first.output  # the very first ping works
        result = a.ping(b)
        assert (result.sent, result.received, result.loss) == (3, 3, 0.0)
        assert 0 < result.rtt_min_ms <= result.rtt_avg_ms <= result.rtt_max_ms
        out = a.run("ip -br addr")
        assert out.rc == 0 and re.search(r"^eth0@\S+\s+UP\s+10\.0\.0\.1/24", out.stdout, re.M), out.stdout
        server = b.popen("exec python3 -m http.server 8080 --bind 10.0.0.2")
        fetch = "import urllib.request as u; print(u.urlopen('http://10.0.0.2:8080/', timeout=5).status)"
        assert wait_until(lambda: c.run(["python3", "-c", fetch]).stdout.strip() == "200", timeout=10)
        assert "GET / HTTP" in server.output()
        fdb = lab["sw"].fdb()
        macs = {n.name: next(i.mac for i in n.interfaces() if i.name == "eth0") for n in (a, b, c)}
        learned = {e.port: e.mac for e in fdb}
        assert learned["A-eth0"] == macs["A"] and learned["B-eth0"] == macs["B"] and learned["C-eth0"] == macs["C"]
        assert all(e.age_s is not None and e.age_s < 300 for e in fdb)
        assert server.running
    assert lab.state == "stopped"
    assert not server.running


def test_routed_contract():
    lab = routed()
    r, b = lab["A"], lab["B"]
    with lab:
        assert b.ping("10.0.2.2").ok
        assert r.run("sysctl -n net.ipv4.ip_forward").stdout.strip() == "1"
        assert b.run("sysctl -n net.ipv4.ip_forward").stdout.strip() == "0"
        routes = {x.dest: x for x in b.routes()}
        assert routes["default"].via == "10.0.1.1" and routes["default"].proto == "static"
        assert any(n.ip == "10.0.1.1" and n.mac for n in b.neighbours())


def test_hosts_without_router_forwarding_cannot_reach_across():
    lab = routed("no-forward", forwarding=False)  # A is a plain host: it does not forward
    a, b = lab["A"], lab["B"]
    with lab:
        assert b.ping(a, count=1).ok
        assert not b.ping("10.0.2.2", count=1, timeout=0.5).ok


def test_hub_learns_nothing_switch_learns():
    for hub, expect_learned in ((True, False), (False, True)):
        lab = three_pcs("hub" if hub else "switch", hub=hub)
        with lab:
            assert lab["A"].ping(lab["B"], count=2).ok
            assert bool(lab["sw"].fdb()) == expect_learned
            assert lab["sw"].fdb(include_local=True)  # the bridge's own port entries are always there


def test_stop_removes_every_namespace_and_process():
    lab = three_pcs("cleanup")
    lab.start()
    inodes = set(lab.namespace_inodes().values())
    agent = lab.agent_pid
    assert len(inodes) == 4 and inodes <= netns_inodes_in_use()
    lab["B"].popen("sleep 1000")
    lab.stop()
    assert not pid_alive(agent)
    assert wait_until(lambda: not (inodes & netns_inodes_in_use()), timeout=5)
    lab.stop()  # twice is fine
    with pytest.raises(netnb.LabStateError):
        lab["A"].run("true")


def test_a_failure_half_way_rolls_back_everything():
    lab = three_pcs("rollback")
    plan = list(lab.plan())
    broken = plan[: len(plan) // 2] + [AddAddress("A", "no-such-if", "10.9.9.9/24")] + plan[len(plan) // 2:]
    client = AgentClient("rollback-test")
    client.start()
    try:
        with pytest.raises(netnb.BackendError) as info:
            client.call("apply", {"ops": [op.to_dict() for op in broken]})
        assert "ip -n A addr add 10.9.9.9/24 dev no-such-if" in str(info.value)
        assert "rolled back" in str(info.value)
        assert client.call("inodes") == {}  # nothing of the half-built lab is left
    finally:
        client.close()


def test_live_changes_apply_and_bad_ones_change_nothing():
    lab = three_pcs("live")
    with lab:
        a = lab["A"]
        a.route("10.50.0.0/16", via="10.0.0.2")
        assert any(r.dest == "10.50.0.0/16" for r in a.routes())
        with pytest.raises(netnb.TopologyError):
            a.route("10.60.0.0/16", via="192.168.77.1")
        with pytest.raises(netnb.BackendError):
            lab.apply([AddRoute("A", "10.70.0.0/16", "10.0.0.3"), AddAddress("A", "missing0", "10.1.1.1/24")])
        assert not any(r.dest in ("10.60.0.0/16", "10.70.0.0/16") for r in a.routes())
        with pytest.raises(netnb.LabStateError):
            lab.host("late")


def test_invalid_lab_starts_nothing():
    lab = netnb.Lab("invalid")
    a = lab.host("A")
    lab.link(a, "missing")
    with pytest.raises(netnb.TopologyError):
        lab.start()
    assert lab.state == "described" and lab.agent_pid is None


def test_mtu_and_custom_names_reach_the_kernel():
    lab = netnb.Lab("mtu")
    a, b = lab.host("a"), lab.host("b")
    lab.link(a, b, ip=("10.0.0.1/24", "10.0.0.2/24"), ifname=("left", "right"), mtu=9000)
    with lab:
        ifs = {i.name: i for i in a.interfaces() + b.interfaces()}
        assert ifs["left"].mtu == ifs["right"].mtu == 9000
        assert a.ping("10.0.0.2", count=1, size=8000, dont_fragment=True).ok


def test_works_inside_a_running_event_loop():
    async def in_a_cell() -> bool:
        lab = three_pcs("asyncio")
        with lab:
            return lab["A"].ping(lab["C"], count=1).ok

    assert asyncio.run(in_a_cell())


def test_commands_time_out_and_report_failures():
    lab = netnb.Lab("cmds")
    lab.host("A")
    with lab:
        a = lab["A"]
        with pytest.raises(netnb.CommandTimeout):
            a.run("sleep 5", timeout=0.3)
        with pytest.raises(netnb.CommandFailed):
            a.run("exit 3", check=True)
        assert a.run(["cat"], stdin="hello").stdout == "hello"
        assert a.run("ip -o link | wc -l").stdout.strip() == "1"  # a fresh node has only lo
        inode = int(a.run("stat -L -c %i /proc/self/ns/net").stdout)
        assert inode == lab.namespace_inodes()["A"] != os.stat("/proc/self/ns/net").st_ino  # it ran inside A


def test_stp_switches_wait_until_ports_forward():
    lab = netnb.Lab("stp")
    s1, s2 = lab.switch("s1", stp=True), lab.switch("s2", stp=True)
    lab.link(s1, s2)
    lab.link(lab.host("A"), s1, ip="10.0.0.1/24")
    lab.link(lab.host("B"), s2, ip="10.0.0.2/24")
    with lab:
        assert lab.timings["ready_s"] > 3.0  # listening + learning, 2 x 2 s forward delay
        assert lab["A"].ping(lab["B"], count=1).ok


def test_a_ring_of_stp_switches_starts_and_blocks_one_port():
    """STP keeps a loop's redundant port blocking for ever: readiness waits for listening and learning
    ports only (it used to wait for every port to forward, and a ring never started)."""
    lab = stp_ring()
    with lab:
        assert 3.0 < lab.timings["ready_s"] < 20
        states = [lab[f"s{i}"].run("bridge -j link show").stdout for i in (1, 2, 3)]
        assert sum(s.count('"state":"blocking"') for s in states) == 1, states  # the loop is cut once
        assert lab["A"].ping(lab["B"], count=2).ok


def test_netnb_run_builds_a_lab_file_and_pings_every_pair(capsys):
    from netnb import cli

    assert cli.run(os.path.join(os.path.dirname(__file__), "..", "..", "examples", "routed.yaml"),
                   plan_only=False, ping=True, hold=False) == 0
    out = capsys.readouterr().out
    assert "✘" not in out and out.count("✔") == 6 and "lab removed" in out


def test_unusable_modes_are_refused_before_anything_is_built():
    import shutil

    lab = three_pcs("modes")
    lab.mode = "teleport"
    with pytest.raises(netnb.PrivilegeError, match="use 'root', 'rootless' or 'sudo'"):
        lab.start()
    assert lab.state == "described" and lab.agent_pid is None
    if shutil.which("sudo") is None:
        lab.mode = "sudo"
        with pytest.raises(netnb.PrivilegeError, match="needs the sudo command"):
            lab.start()
        assert lab.agent_pid is None


def test_ipv6_is_off_by_default_and_on_when_asked():
    for ipv6 in (False, True):
        lab = netnb.Lab(f"v6-{ipv6}", ipv6=ipv6)
        a, b = lab.host("A"), lab.host("B")
        lab.link(a, b, ip=("10.0.0.1/24", "10.0.0.2/24"))
        with lab:
            addrs = a.run("ip -6 -o addr show dev eth0").stdout
            assert ("fe80::" in addrs) == ipv6
            if ipv6:  # start() waited for duplicate address detection: the first ping6 works
                assert "tentative" not in a.run("ip -6 addr").stdout + b.run("ip -6 addr").stdout
                peer = b.run("ip -6 -o addr show dev eth0 scope link").stdout.split()[3].split("/")[0]
                assert a.run(f"ping -6 -c1 -W1 {peer}%eth0").ok


def test_a_lab_sees_only_its_own_processes_with_the_pids_it_reports():
    lab = three_pcs("pids")
    with lab:
        sleeper = lab["B"].popen(["sleep", "300"])
        seen = lab["A"].run("ps -e -o pid=,comm=").stdout.split("\n")
        pids = {int(line.split()[0]): line.split()[1] for line in seen if line.strip()}
        assert pids[sleeper.pid] == "sleep" and pids[1] == "netnb-agent"   # PID 1: the agent
        assert len(pids) < 10                           # not the machine's processes
        assert lab["C"].run(f"kill {sleeper.pid}").ok
        assert wait_until(lambda: not sleeper.running, timeout=5)


def _mount_namespace_fds(pid: int) -> set[str]:
    out = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("mnt:["):
            out.add(link)
    return out


def test_commands_see_their_own_nodes_sys_and_removing_a_node_lets_it_go():
    lab = three_pcs("sysfs")
    with lab:
        assert lab["A"].run("ls /sys/class/net").stdout.split() == ["eth0", "lo"]  # not the machine's
        assert lab["sw"].run("cat /sys/class/net/sw/bridge/ageing_time").stdout.strip() == "30000"
        assert lab["sw"].run("ls /sys/class/net/sw/brif").stdout.split() == ["A-eth0", "B-eth0", "C-eth0"]
        with open(f"/proc/{lab.agent_pid}/task/{lab.agent_pid}/children") as f:
            agent = int(f.read().split()[0])  # the lab's PID 1, below the relay
        before = _mount_namespace_fds(agent)
        extra = [AddNamespace("D"), SetLinkState("D", "lo", True)]
        lab.apply(extra)
        assert lab["A"].run("true").ok  # (A's mount namespace exists already)
        lab.live().run("D", "ls /sys/class/net", 10, None)
        with_d = _mount_namespace_fds(agent)
        assert len(with_d - before) == 1  # D's, holding D's sysfs (and so its network namespace)
        lab.undo(extra)
        assert _mount_namespace_fds(agent) == before


def test_a_hosts_bridge_with_lab_links_as_ports_forwards_past_a_drop_policy():
    """Links may join a bridge inside a host (master=); bridged frames do not meet the host's iptables
    (bridge-nf-call-iptables is 0 in every IP node with bridges), so a FORWARD DROP policy does not cut it."""
    lab = netnb.Lab("hostbridge")
    box, a, b = lab.host("box"), lab.host("A"), lab.host("B")
    box.bridge("br0")
    lab.link(a, box, ip=("10.0.0.1/24", None), master=(None, "br0"), mac=("02:00:00:00:00:0a", None))
    lab.link(b, box, ip=("10.0.0.2/24", None), master=(None, "br0"), mac=(None, "02:00:00:00:00:b0"))
    with lab:
        box.run("iptables -P FORWARD DROP", check=True)
        assert a.ping(b, count=2).ok
        assert box.run("sysctl -n net.bridge.bridge-nf-call-iptables").stdout.strip() == "0"
        assert next(i for i in a.interfaces() if i.name == "eth0").mac == "02:00:00:00:00:0a"
        assert next(i for i in box.interfaces() if i.name == "eth1").mac == "02:00:00:00:00:b0"  # either end
        assert {i.name: i.master for i in box.interfaces()}.items() >= {"eth0": "br0", "eth1": "br0"}.items()


def test_startup_commands_run_on_the_kernel_and_a_failing_one_leaves_nothing():
    lab = startup_pair("startup-k", backend="kernel")
    with lab:
        assert [r.ok for r in lab.startup_results] == [True] * 4, [r.stderr for r in lab.startup_results]
        assert " 0% packet loss" in lab.startup_results[-1].stdout  # B's startup reached A: A's ran first
        assert lab["A"].ping("10.0.0.2", count=1).ok
    lab["B"].startup("ip route add 10.9.0.0/16 via 10.0.0.99 dev nowhere")
    before = netns_inodes_in_use()
    with pytest.raises(netnb.StartupError) as caught:
        lab.start()
    assert (caught.value.node, caught.value.line) == ("B", 3) and "Cannot find device" in str(caught.value)
    assert lab.state == "stopped"
    assert wait_until(lambda: netns_inodes_in_use() <= before, timeout=5)  # its namespaces are gone


def test_a_multipath_route_spreads_flows_and_survives_a_dead_path():
    """One route, two gateways: pings to 32 addresses behind it cross both routers (the kernel hashes each
    flow's addresses with a seed of its own boot: all 32 on one path has a chance of 2^-31); with one path's
    interface down the route keeps the other, and every address still answers."""
    lab = labs.ecmp("mp-kernel", backend="kernel", paths=32)
    with lab:
        a = lab["A"]
        (entry,) = [e for e in a.routes() if e.nexthops]
        assert [(h.via, h.dev, h.weight) for h in entry.nexthops] == [("10.0.1.2", "eth0", 1), ("10.0.2.2", "eth1", 1)]
        for i in range(1, 33):
            assert a.ping(f"10.9.0.{i}", count=1, timeout=2.0).ok, i
        used = {r: {x.name: x.rx_packets for x in lab[r].interfaces()}["eth0"] for r in ("R1", "R2")}
        assert all(n >= 2 for n in used.values()), used  # (an ARP request, then echo requests)
        a.run("ip link set eth0 down", check=True)
        (entry,) = [e for e in a.routes() if e.nexthops]
        assert entry.nexthops[0].flags == ("dead", "linkdown") and entry.nexthops[1].flags == ()
        for i in range(1, 33):
            assert a.ping(f"10.9.0.{i}", count=1, timeout=2.0).ok, i
