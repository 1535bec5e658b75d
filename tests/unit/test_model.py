"""The model needs no kernel: validation, allocation and naming are pure functions."""

from __future__ import annotations

import ipaddress

import pytest

import netnb
from netnb.errors import TopologyError
from netnb.model import NodeKind, NodeSpec, RouteSpec, Topology, resolve


def three_pcs(**switch) -> netnb.Lab:
    lab = netnb.Lab("three-pcs")
    a, b, c = lab.host("A"), lab.host("B"), lab.host("C")
    sw = lab.switch("sw", **switch)
    for i, n in enumerate((a, b, c)):
        lab.link(n, sw, ip=f"10.0.0.{i + 1}/24")
    return lab


def problems_of(lab: netnb.Lab) -> list[str]:
    with pytest.raises(TopologyError) as info:
        lab.resolved()
    return info.value.problems


def test_describing_changes_nothing_and_names_interfaces():
    lab = three_pcs()
    resolved = lab.resolved()
    assert lab.state == "described"
    assert [i.name for i in resolved.node("A").interfaces] == ["eth0"]
    assert [i.name for i in resolved.node("sw").interfaces] == ["A-eth0", "B-eth0", "C-eth0"]
    assert resolved.node("sw").bridge.ageing_cs == 30000


def test_auto_addresses_skip_explicit_ones_and_are_deterministic():
    lab = netnb.Lab("auto")
    sw = lab.switch("sw", subnet="10.0.0.0/29")
    hosts = [lab.host(f"h{i}") for i in range(4)]
    lab.link(hosts[0], sw)
    lab.link(hosts[1], sw, ip="10.0.0.1")       # no prefix: taken from the switch's subnet
    lab.link(hosts[2], sw)
    lab.link(hosts[3], sw)
    got = [str(h.addresses[0]) for h in hosts]
    assert got == ["10.0.0.2/29", "10.0.0.1/29", "10.0.0.3/29", "10.0.0.4/29"]
    lab.link(lab.host("h4"), sw)  # a later host takes the next free address; nobody else's moves
    assert [str(h.addresses[0]) for h in hosts] == got and str(lab["h4"].addresses[0]) == "10.0.0.5/29"


def test_point_to_point_subnet_allocates_both_ends():
    lab = netnb.Lab("p2p")
    r, b = lab.router("R"), lab.host("B")
    lab.link(r, b, subnet="10.0.1.0/30")
    assert [str(r.addresses[0]), str(b.addresses[0])] == ["10.0.1.1/30", "10.0.1.2/30"]


def test_subnet_exhaustion_is_reported():
    lab = netnb.Lab("small")
    sw = lab.switch("sw", subnet="10.0.0.0/30")
    for i in range(3):
        lab.link(lab.host(f"h{i}"), sw)
    assert any("no free address" in p for p in problems_of(lab))


def test_every_problem_is_reported_together_with_a_fix():
    lab = netnb.Lab("bad lab")  # space: invalid lab name
    x = lab.host("x")
    lab.host("x")
    lab.host("name-longer-than-15")
    sw = lab.switch("sw", subnet="10.0.0.0/24")
    lab.link(x, "ghost")
    lab.link(x, x)
    lab.link(x, sw, ip="10.1.0.1/24", ifname="sixteen-bytes-xx")
    lab.link(lab.host("y"), sw, ip="10.0.0.300/24", mtu=20)
    lab.link(lab.host("z"), sw, ip="10.0.0.0/24")
    x.route("default", via="192.168.9.1")
    problems = problems_of(lab)
    expected = ["lab name", "defined twice", "name-longer-than-15", "no node 'ghost'", "to itself",
                "16 bytes", "outside the subnet", "not an IPv4 address", "mtu=20", "network address",
                "gateway 192.168.9.1 is on no subnet"]
    for fragment in expected:
        assert any(fragment in p for p in problems), (fragment, problems)
    assert len(problems) == len(expected)


def test_duplicate_addresses_on_one_segment_but_not_across_segments():
    lab = netnb.Lab("dups")
    s1, s2 = lab.switch("s1"), lab.switch("s2")
    a, b, c = lab.host("a"), lab.host("b"), lab.host("c")
    lab.link(a, s1, ip="10.0.0.1/24")
    lab.link(b, s1, ip="10.0.0.1/24")
    lab.link(c, s2, ip="10.0.0.1/24")  # another segment: the same address is fine (think NAT)
    problems = problems_of(lab)
    assert len(problems) == 1 and "used twice on one network" in problems[0]


def test_switches_joined_form_one_segment():
    lab = netnb.Lab("bridged")
    s1, s2 = lab.switch("s1"), lab.switch("s2")
    lab.link(s1, s2)
    lab.link(lab.host("a"), s1, ip="10.0.0.1/24")
    lab.link(lab.host("b"), s2, ip="10.0.0.1/24")
    assert any("used twice" in p for p in problems_of(lab))
    lab2 = netnb.Lab("ports")
    s1, s2 = lab2.switch("s1"), lab2.switch("s2")
    lab2.link(s1, s2)
    assert [i.name for i in lab2.resolved().node("s1").interfaces] == ["s2"]


def test_ip_forms_are_checked():
    lab = netnb.Lab("forms")
    a, b, sw = lab.host("a"), lab.host("b"), lab.switch("sw")
    lab.link(a, b, ip="10.0.0.1/24")
    lab.link(a, sw, ip=("10.0.1.1/24", "10.0.1.2/24"))
    lab.link(a, sw, ip="10.0.2.1")
    problems = problems_of(lab)
    assert any("joins two IP nodes" in p for p in problems)
    assert any("has no address; use None" in p for p in problems)
    assert any("no prefix length" in p for p in problems)


def test_route_checks():
    lab = netnb.Lab("routes")
    r, b = lab.router("r"), lab.host("b")
    lab.link(r, b, ip=("10.0.1.1/24", "10.0.1.2/24"))
    b.route("default", via="10.0.1.2")
    b.route("10.9.0.0/16", dev="eth7")
    b.route("10.8.0.1/16", via="10.0.1.1")
    b.route("10.7.0.0/16")
    problems = problems_of(lab)
    for fragment in ("own address", "no interface 'eth7'", "not 'default' or a subnet", "give a gateway"):
        assert any(fragment in p for p in problems), (fragment, problems)


def test_switch_cannot_route_and_hosts_have_no_subnet():
    t = Topology("t")
    t.add_node(NodeSpec("sw", NodeKind.SWITCH, routes=[RouteSpec("default", via="10.0.0.1")]))
    t.add_node(NodeSpec("h", NodeKind.HOST, subnet="10.0.0.0/24"))
    with pytest.raises(TopologyError) as info:
        resolve(t)
    assert len(info.value.problems) == 2


def test_hub_never_learns():
    lab = netnb.Lab("hub")
    lab.hub("hub")
    assert lab.resolved().node("hub").bridge.ageing_cs == 0


def test_mtu_and_names_flow_into_the_plan():
    lab = netnb.Lab("mtu")
    a, b = lab.host("a"), lab.host("b")
    lab.link(a, b, ip=("10.0.0.1/24", "10.0.0.2/24"), ifname=("left", "right"), mtu=9000)
    script = lab.plan().script()
    assert "ip -n a link add left mtu 9000 type veth peer name right mtu 9000 netns b" in script


def test_addresses_are_ipaddress_objects():
    lab = three_pcs()
    assert lab["A"].addresses == [ipaddress.IPv4Interface("10.0.0.1/24")]
    assert lab["A"].ip == "10.0.0.1"


def test_lab_refuses_foreign_nodes_and_bad_types():
    one, two = netnb.Lab("one"), netnb.Lab("two")
    a = one.host("a")
    with pytest.raises(netnb.NetnbError):
        two.link(a, two.host("b"))
    with pytest.raises(TypeError):
        one.link(a, 42)  # type: ignore[arg-type]


def test_running_only_operations_say_what_to_do():
    lab = three_pcs()
    with pytest.raises(netnb.LabStateError, match="start it first"):
        lab["A"].ping(lab["B"])


def test_a_failed_ping_says_why_when_its_output_tells():
    from netnb.model import PingResult

    full = PingResult("10.0.0.1", 1, 0, output="ping: sendmsg: No buffer space available\n1 packets transmitted, 0 received")
    assert "gc_thresh3" in full.hint and "why" in repr(full)
    assert "gc_thresh3" in full._repr_mimebundle_()["text/plain"]
    assert "node.route" in PingResult("10.9.0.1", 3, 0, output="ping: connect: Network is unreachable").hint
    assert PingResult("10.0.0.1", 3, 3, output="No buffer space available").hint == ""  # all came back
    assert "no reply came back" in PingResult("10.0.0.1", 3, 0, output="3 packets transmitted, 0 received").hint


def test_a_gateway_not_on_the_named_interface_is_refused_before_the_build():
    lab = netnb.Lab("gw-dev")
    r, a, b = lab.router("R"), lab.host("A"), lab.host("B")
    lab.link(r, a, ip=("10.0.1.1/24", "10.0.1.2/24"))
    lab.link(r, b, ip=("10.0.2.1/24", "10.0.2.2/24"))
    r.route("10.9.0.0/16", via="10.0.1.2", dev="eth1")  # 10.0.1.2 is behind eth0
    problems = lab.validate()
    assert any("the gateway 10.0.1.2 is not on eth1's subnet (10.0.2.0/24)" in p for p in problems), problems


def test_a_later_link_may_not_take_an_interface_name_an_earlier_one_got_automatically():
    """Issue 15's bug: `lab.link(a, b)` then `lab.link(a, c, ifname=("eth0", None))` used to renumber a–b's end
    to eth1 silently (a route or rule written for eth0 then pointed elsewhere). Now it is refused, saying how."""
    import netnb
    from netnb.errors import TopologyError

    lab = netnb.Lab("names", backend="sim")
    a, b, c = lab.host("A"), lab.host("B"), lab.host("C")
    lab.link(a, b, ip=("10.0.0.1/24", "10.0.0.2/24"))
    lab.link(a, c, ip=("10.0.1.1/24", "10.0.1.2/24"), ifname=("eth0", None))
    with pytest.raises(TopologyError, match=r"link 2 \(A–C\): asks for A:eth0 by name, but link 1 \(A–B\) already"):
        lab.resolved()
    # Named before, or named differently, both are fine — and the automatic names keep the order of links.
    ok = netnb.Lab("names-ok", backend="sim")
    a, b, c, d = ok.host("A"), ok.host("B"), ok.host("C"), ok.host("D")
    ok.link(a, c, ip=("10.0.1.1/24", "10.0.1.2/24"), ifname=("eth0", None))
    ok.link(a, b, ip=("10.0.0.1/24", "10.0.0.2/24"))
    ok.link(a, d, ip=("10.0.2.1/24", "10.0.2.2/24"), ifname=("uplink", None))
    assert [(i.name, i.peer_node) for i in ok.resolved().node("A").interfaces] == \
        [("eth0", "C"), ("eth1", "B"), ("uplink", "D")]


def test_extra_addresses_are_checked_built_after_the_links_and_pinged():
    """node.address(): a loopback address (a router's identity) or a second one on an interface."""
    from ..labs import extra_addresses

    lab = extra_addresses()
    script = lab.plan().script().splitlines()
    assert script.index("ip -n R addr add 10.255.0.1/32 dev lo") > script.index("ip -n R addr add 10.0.2.1/24 dev eth1")
    assert "ip -n A addr add 10.0.1.12/24 dev eth0" in script
    assert [str(a) for a in lab.resolved().node("R").addresses][-1] == "10.255.0.1/32"
    with lab:
        assert lab["B"].ping("10.255.0.1", count=1).ok and lab["B"].ping("10.0.1.12", count=1).ok
    bad = netnb.Lab("bad-extra", backend="sim")
    x, y = bad.host("X"), bad.host("Y")
    bad.link(x, y, ip=("10.0.0.1/24", "10.0.0.2/24"))
    x.address("10.0.0.2/32")
    x.address("10.9.9.9", dev="eth0")
    x.address("10.8.8.8/32", dev="eth5")
    y.address("10.0.0.300/32")
    problems = "\n".join(bad.validate())
    assert "node 'X': address '10.0.0.2/32' on 'lo': 10.0.0.2 is already Y:eth0's" in problems
    assert "address '10.9.9.9' on 'eth0': write it with its prefix" in problems
    assert "address '10.8.8.8/32' on 'eth5': the node has no device 'eth5' (it has: eth0, lo)" in problems
    assert "address '10.0.0.300/32' on 'lo': not an IPv4 address" in problems
    with lab:
        with pytest.raises(netnb.LabStateError, match="add an address"):
            lab["A"].address("10.0.1.13/24", dev="eth0")


def test_a_vxlan_device_in_a_node():
    from tests.labs import vxlan_pair

    lab = vxlan_pair("vx-model")
    script = lab.plan().script()
    assert ("ip -n A link add vx0 type vxlan id 42 local 192.168.1.2 remote 192.168.2.2 dev eth0 dstport 4789 "
            "nolearning") in script
    assert script.index("link add vx0") > script.index("ip -n A link set eth0 up")  # on its underlay device
    assert [str(a) for a in lab["A"].addresses] == ["192.168.1.2/24", "10.9.0.1/24"]
    bad = netnb.Lab("vx-bad", backend="sim")
    h = bad.host("h")
    bad.link(h, bad.host("g"), ip=("10.0.0.1/24", "10.0.0.2/24"))
    h.vxlan("vx0", 0, local="10.0.0.9", remote="somewhere")
    assert bad.validate() == [
        "node 'h': VXLAN device 'vx0': vni 0 is not a VXLAN id from 1 to 16777215",
        "node 'h': VXLAN device 'vx0': 10.0.0.9 is not an address of its underlay 'h'",
        "node 'h': VXLAN device 'vx0': remote 'somewhere' is not an IPv4 address (the peer's underlay address)"]
