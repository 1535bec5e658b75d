"""Multipath (ECMP) routes without a kernel: validation, the plan's commands and their reverse, the
netlink request, lab files, imported ``nexthop`` lines, and the simulation's choice of paths."""

from __future__ import annotations

import ipaddress
import struct

import pytest

import netnb
from netnb.backends.kernel import rtnl
from netnb.backends.memory import MemoryBackend
from netnb.errors import TopologyError
from netnb.importers.lines import Route, described
from netnb.labfile import load_text
from netnb.plan import AddRoute, DelRoute
from tests import labs
from tests.unit.test_rtnl import Recorder, attrs


def test_a_route_with_several_gateways_is_one_multipath_route():
    lab = labs.ecmp("mp-plan", backend=MemoryBackend())
    (route,) = lab.resolved().node("A").routes
    assert route.via is None and route.nexthops == (ipaddress.IPv4Address("10.0.1.2"), ipaddress.IPv4Address("10.0.2.2"))
    assert "ip -n A route add 10.9.0.0/24 nexthop via 10.0.1.2 nexthop via 10.0.2.2" in lab.plan().script()
    op = next(o for o in lab.plan().operations if isinstance(o, AddRoute) and o.node == "A")
    assert op.reverse() == DelRoute("A", "10.9.0.0/24", None, None, ("10.0.1.2", "10.0.2.2"))
    assert op.reverse().reverse() == op
    with lab:
        (entry,) = [e for e in lab["A"].routes() if e.nexthops]
        assert entry.gateways == ("10.0.1.2", "10.0.2.2") and [h.dev for h in entry.nexthops] == ["eth0", "eth1"]
        assert "nexthop via 10.0.1.2 dev eth0 weight 1, nexthop via 10.0.2.2" in lab["A"].routes().table().text()
    assert "10.9.0.0/24 via 10.0.1.2 and 10.0.2.2" in lab["A"].description().note


def test_multipath_problems_are_named_before_anything_is_built():
    lab = netnb.Lab("mp-bad", backend=MemoryBackend())
    a, r = lab.host("A"), lab.router("R")
    lab.link(a, r, subnet="10.0.1.0/24")
    a.route("10.9.0.0/24", via=["10.0.1.2", "10.0.1.2"])
    a.route("10.8.0.0/24", via=["10.0.1.2", "10.7.0.1"])
    a.route("10.6.0.0/24", via=["10.0.1.2", "nope"])
    a.route("10.5.0.0/24", via="10.0.1.2")
    a.route("10.5.0.0/24", via="10.0.1.2")
    with pytest.raises(TopologyError) as info:
        lab.resolved()
    text = "\n".join(info.value.problems)
    for fragment in ("given twice", "10.7.0.1 is on no subnet", "'nope' is not an IPv4 address",
                     "via=['GW1', 'GW2']"):
        assert fragment in text, (fragment, text)


def test_the_netlink_request_carries_each_gateway():
    r = Recorder()
    r.route(True, "10.9.0.0/24", nexthops=("10.0.1.2", "10.0.2.2"), oif=None)
    (_, _, body), = r.sent
    hops = attrs(body[12:])[rtnl.RTA_MULTIPATH]
    seen = []
    while hops:
        size, flags, weight, index = struct.unpack_from("=HBBi", hops)
        seen.append((flags, weight, index, attrs(hops[8:size])[rtnl.RTA_GATEWAY]))
        hops = hops[size:]
    assert seen == [(0, 0, 0, bytes([10, 0, 1, 2])), (0, 0, 0, bytes([10, 0, 2, 2]))]
    assert rtnl.RTA_GATEWAY not in attrs(body[12:])


def test_lab_files_and_imported_lines_give_several_gateways():
    lab = load_text("name: mpf\nnodes: {A: host, R1: router, R2: router}\n"
                    "links: [{a: A, b: R1, subnet: 10.0.0.0/24}, {a: A, b: R2, subnet: 10.0.1.0/24}]\n"
                    "routes:\n  A: [{dest: 10.9.0.0/24, via: [10.0.0.2, 10.0.1.2]}]\n")
    assert lab["A"].spec.routes[0].via == ("10.0.0.2", "10.0.1.2")
    with pytest.raises(TopologyError, match="two or more for a multipath route"):
        load_text("name: mpf\nnodes: {A: host}\nroutes:\n  A: [{dest: 10.9.0.0/24, via: [10.0.0.2]}]\n")
    assert described("ip route add 10.9.0.0/24 nexthop via 10.0.1.2 nexthop via 10.0.2.2 dev eth1") == \
        Route("10.9.0.0/24", ("10.0.1.2", "10.0.2.2"), None)
    assert described("ip route add 10.9.0.0/24 nexthop via 10.0.1.2 dev eth0 nexthop via 10.0.1.3 dev eth0") == \
        Route("10.9.0.0/24", ("10.0.1.2", "10.0.1.3"), "eth0")
    assert described("ip route add 10.9.0.0/24 nexthop via 10.0.1.2 weight 2 nexthop via 10.0.2.2") is None


def test_the_simulation_spreads_flows_by_weight_and_keeps_each_on_one_path():
    lab = labs.ecmp("mp-sim", backend="sim", paths=64)
    with lab:
        a = lab["A"]
        a.run("ip route add 10.8.0.0/16 nexthop via 10.0.1.2 weight 3 nexthop via 10.0.2.2")
        world = lab.live().world  # type: ignore[attr-defined]
        stack = world.stacks["A"]
        first = {i: stack.lookup(ipaddress.IPv4Address(f"10.9.0.{i}")).dev.name for i in range(1, 65)}
        assert set(first.values()) == {"eth0", "eth1"}
        assert first == {i: stack.lookup(ipaddress.IPv4Address(f"10.9.0.{i}")).dev.name for i in range(1, 65)}
        weighted = [stack.lookup(ipaddress.IPv4Address(f"10.8.{i // 256}.{i % 256}")).dev.name for i in range(4000)]
        assert 0.7 < weighted.count("eth0") / len(weighted) < 0.8  # weight 3 of 4
        for i in range(1, 65):
            assert a.ping(f"10.9.0.{i}", count=1, timeout=1.0).ok
        r1 = {i.name: i.rx_packets for i in lab["R1"].interfaces()}["eth0"]
        r2 = {i.name: i.rx_packets for i in lab["R2"].interfaces()}["eth0"]
        assert r1 > 1 and r2 > 1 and r1 + r2 >= 64


def test_the_routing_view_draws_where_each_router_sends_what():
    lab = labs.ecmp("mp-view", backend="sim")
    lab["R1"].route("10.20.0.0/16", via="10.0.1.1")
    with lab:
        view = lab.routing()
    assert view.columns == ["router", "destination", "via", "dev", "protocol"]
    assert ["R1", "10.9.0.0/24", "10.0.3.2", "eth1", "static"] in [list(r) for r in view.rows]
    assert view.note == "R1: connected 2, static 2; R2: connected 2, static 1"
    ends = {(lk.a, lk.b): (lk.label_a, lk.label_b) for lk in view.drawing.links}
    assert ends[("R1", "B")][0] == "eth1\nstatic 10.9.0.0/24" and ends[("A", "R1")][1] == "eth0\nstatic 10.20.0.0/16"
    assert ends[("A", "R2")] == ("eth1", "eth0")  # a host's end, and a router end no route leaves by
    assert {n.name: n.note for n in view.drawing.nodes}["R2"] == "connected 2, static 1"
    bundle = view._repr_mimebundle_()
    assert bundle["text/html"].startswith("<div><svg") and "10.9.0.0/24" in bundle["text/plain"]
