"""The plan: order, exact reverses, JSON round trip, commands a person can type."""

from __future__ import annotations

import netnb
from netnb.plan import (
    AddAddress,
    AddNamespace,
    AddRoute,
    AddVeth,
    DelNamespace,
    Operation,
    SetSysctl,
    operation_from_dict,
)

from ..labs import routed


def test_namespaces_come_first_and_routes_last():
    ops = list(routed().plan())
    kinds = [type(op) for op in ops]
    first_veth = kinds.index(AddVeth)
    assert all(k is not AddVeth for k in kinds[:first_veth])
    assert max(i for i, k in enumerate(kinds) if k is AddNamespace) < first_veth
    assert kinds[-2:] == [AddRoute, AddRoute]


def test_router_forwards_hosts_do_not():
    ops = list(routed().plan())
    fwd = [op for op in ops if isinstance(op, SetSysctl) and op.key == "net.ipv4.ip_forward"]
    assert [(op.node, op.value, op.previous) for op in fwd] == [("A", "1", "0")]


def test_every_operation_reverses_exactly_and_survives_json():
    for op in routed().plan():
        assert operation_from_dict(op.to_dict()) == op
        rev = op.reverse()
        if not isinstance(op, AddVeth):
            assert rev.reverse() == op


def test_teardown_removes_namespaces_only():
    plan = routed().plan()
    assert plan.teardown() == [DelNamespace("C"), DelNamespace("B"), DelNamespace("A")]
    assert len(plan.reverse()) == len(plan)


def test_script_rebuilds_the_lab_by_hand():
    script = routed().plan().script().splitlines()
    assert script[0] == "ip netns add A"
    assert "ip netns exec A sysctl -w net.ipv4.ip_forward=1" in script
    assert "ip -n A link add eth0 type veth peer name eth0 netns B" in script
    assert "ip -n B addr add 10.0.1.2/24 dev eth0" in script
    assert script[-1] == "ip -n C route add default via 10.0.2.1"
    assert "# teardown" in str(routed().plan())


def test_switch_ports_join_their_bridge_at_creation():
    lab = netnb.Lab("sw")
    sw, a = lab.switch("sw"), lab.host("a")
    lab.link(a, sw, ip="10.0.0.1/24")
    veth = next(op for op in lab.plan() if isinstance(op, AddVeth))
    assert (veth.node, veth.ifname, veth.master, veth.peer_node, veth.peer_ifname) == ("sw", "a-eth0", "sw", "a", "eth0")
    assert any(isinstance(op, AddAddress) and op.node == "a" for op in lab.plan())


def test_unknown_operation_is_refused():
    import pytest

    with pytest.raises(ValueError):
        operation_from_dict({"op": "format_disk", "node": "x"})
    assert "add_netns" in Operation.registry
