"""Bridge port options without a kernel: which ends they apply to, the problems named before anything is
built, the plan's commands, lab files, and what the simulation does with each option."""

from __future__ import annotations

import pytest

import netnb
from netnb.errors import TopologyError
from netnb.labfile import load_text
from netnb.plan import SetBridgePort
from tests import labs


def problems(lab: netnb.Lab) -> str:
    with pytest.raises(TopologyError) as info:
        lab.resolved()
    return "\n".join(info.value.problems)


def test_options_go_to_the_ends_that_are_bridge_ports():
    lab = netnb.Lab("po-ends")
    s1, s2, h = lab.switch("s1"), lab.switch("s2"), lab.host("H")
    h.bridge("br0")
    lab.link(s1, s2, port=netnb.PortOptions(cost=100))                      # both ends: a switch's ports
    lab.link(h, s1, ip="10.0.0.1/24", port=netnb.PortOptions(isolated=True))  # only the switch's end
    lab.link(s2, h, master=(None, "br0"), port=(None, netnb.PortOptions(hairpin=True)))  # the end in br0
    ops = [op for op in lab.plan() if isinstance(op, SetBridgePort)]
    assert [(op.node, op.ifname, op.given()) for op in ops] == [
        ("s1", "s2", {"cost": 100}), ("s2", "s1", {"cost": 100}),
        ("s1", "H-eth0", {"isolated": True}), ("H", "eth1", {"hairpin": True})]
    assert "ip -n s1 link set dev s2 type bridge_slave cost 100" in lab.plan().script()
    assert ops[0].reverse() == SetBridgePort("s1", "s2", cost=2, before=(("cost", 100),))
    assert ops[0].reverse().reverse() == ops[0] and ops[0].before == (("cost", 2),)


def test_port_problems_are_named():
    lab = netnb.Lab("po-bad")
    a, b, sw = lab.host("A"), lab.host("B"), lab.switch("sw")
    lab.link(a, b, ip=("10.0.1.1/24", "10.0.1.2/24"), port=netnb.PortOptions(hairpin=True))
    lab.link(a, sw, ip="10.0.0.1/24", port=(netnb.PortOptions(flood=False), None))
    lab.link(b, sw, ip="10.0.0.2/24", port=netnb.PortOptions(cost=0, priority=64, learning="no"))  # type: ignore[arg-type]
    lab.link(b, sw, ip="10.0.0.3/24", port={"cost": 5})  # type: ignore[arg-type]
    text = problems(lab)
    for fragment in ("neither end is one", "for the end in 'A', which is no bridge's port",
                     "cost is a whole number from 1 to 65535, not 0", "priority is a whole number from 0 to 63",
                     "learning is True or False, not 'no'", "port= takes PortOptions(...) or a pair"):
        assert fragment in text, (fragment, text)


def test_lab_files_give_port_options():
    lab = load_text("name: pf\nnodes: {A: host, sw: {kind: switch, subnet: 10.0.0.0/24}}\n"
                    "links: [{a: A, b: sw, port: {isolated: true, cost: 10}}]\n")
    assert lab.topology.links[0].port == netnb.PortOptions(isolated=True, cost=10)
    with pytest.raises(TopologyError, match="priority: 99 is greater than the maximum of 63"):
        load_text("name: pf\nnodes: {A: host, sw: switch}\nlinks: [{a: A, b: sw, ip: 10.0.0.1/24, "
                  "port: {priority: 99}}]\n")


def test_the_simulated_switch_honours_each_option():
    lab = labs.switch_ports("po-sim")
    with lab:
        a, sw = lab["A"], lab["sw"]
        assert not a.ping("10.0.0.2", count=1, timeout=1.0).ok  # isolated from isolated
        assert a.ping("10.0.0.3", count=1, timeout=1.0).ok and lab["B"].ping("10.0.0.4", count=1, timeout=1.0).ok
        assert "C-eth0" not in {e.port for e in sw.fdb()}  # C's port learns nothing
        with lab.capture(("D", "eth0"), ("C", "eth0")) as cap:
            a.ping("10.0.0.3", count=2, interval=0.2)
        icmp = cap.filter("icmp")
        assert len(icmp) == 4 and {p.sniffed_on for p in icmp} == {"C:eth0"}  # flooded, but not to D
        sw.run("bridge link set dev B-eth0 isolated off", check=True)
        assert a.ping("10.0.0.2", count=1, timeout=1.0).ok
