"""The simulation against the kernel: the same labs, the same actions, the same observations (§6 of the
design notes). The kernel half needs root; without it these tests skip and say why."""

from __future__ import annotations

import pytest

from tests import labs
from tests.conftest import kernel_available
from tests.sim.differential import compare

pytestmark = pytest.mark.skipif(kernel_available() is not None, reason=str(kernel_available()))

PING = {"count": 3, "interval": 0.2, "timeout": 2.0}


def _check(make, script):
    diffs = compare(make, script)
    assert not diffs, "the simulation differs from the kernel:\n" + "\n".join(diffs)


@pytest.mark.parametrize("hub", [False, True], ids=["switch", "hub"])
def test_three_pcs(hub):
    script = [
        ("capture", ["A", "B", "C", "sw"], [("ping", "A", "B", PING)], None),
        ("neigh", ["A", "B", "C"]),
        ("fdb",),
        ("run", "A", "ip -br addr; ip -br link; ip route; ip addr; ip link"),
        ("run", "sw", "bridge link; bridge fdb show br sw | grep -v permanent"),
        ("run", "B", "ip neigh"),
    ]
    _check(lambda backend: labs.three_pcs(f"d3-{hub:d}-{backend[0]}", hub=hub, backend=backend), script)


@pytest.mark.parametrize("forwarding", [True, False], ids=["router", "host"])
def test_routed(forwarding):
    script = [
        ("capture", ["A", "B", "C"], [("ping", "B", "10.0.2.2", PING)], None),
        ("neigh", ["A", "B", "C"]),
        ("ping", "B", "10.0.9.9", {"count": 1, "timeout": 1.0}),
        ("ping", "C", "10.0.2.1", PING),
        ("run", "B", "ip route; ip route get 10.0.2.2; ip route get 10.0.1.2"),
    ]
    _check(lambda backend: labs.routed(f"dr-{forwarding:d}-{backend[0]}", forwarding=forwarding, backend=backend),
           script)


def test_unanswered_arp():
    script = [
        # (Sent 0.7 s apart: none at the very moment ARP gives up, 3 s after the first request, when the
        # kernel's outcome is a race between ping's timer and the neighbour timer.)
        ("capture", ["A"], [("ping", "A", "10.0.0.9", {"count": 5, "interval": 0.7, "timeout": 2.0})], None),
        ("neigh", ["A"]),
        ("ping", "A", "10.0.0.9", {"count": 2, "interval": 0.2, "timeout": 1.0}),
    ]
    _check(lambda backend: labs.three_pcs(f"dna-{backend[0]}", backend=backend), script)


@pytest.mark.parametrize("seed", range(6))
def test_generated(seed):
    lab = labs.random_lab(seed, "probe", backend="sim", nat=False, docker=False, vm=False)
    hosts = [n.name for n in lab if n.kind.value == "host"]
    routers = [n.name for n in lab if n.kind.value == "router"]
    script = [("ping", hosts[0], h, {"count": 1, "timeout": 1.0}) for h in hosts[1:]]
    script += [("ping", hosts[-1], "r0", {"count": 1, "timeout": 1.0})]
    script += [("neigh", hosts + routers), ("fdb",)]
    script += [("run", r, "ip route") for r in routers]
    _check(lambda backend: labs.random_lab(seed, f"dg{seed}-{backend[0]}", backend=backend, nat=False, docker=False,
                                           vm=False), script)


def test_nat_and_firewall():
    def make(backend):
        lab = labs.routed(f"dn-{backend[0]}", backend=backend)
        lab["A"].masquerade("10.0.1.0/24", out="eth1")
        return lab

    script = [
        ("capture", ["A", "C"], [("ping", "B", "10.0.2.2", PING)], None),
        ("run", "A", "iptables -t nat -nvL; iptables -nvL; iptables-save | grep -v '^#'; iptables -S; "
                     "iptables -t nat -L -n --line-numbers; iptables -t nat -nvxL POSTROUTING; iptables -L FORWARD"),
        ("run", "A", "cat /proc/net/nf_conntrack"),
        ("run", "A", "iptables -A FORWARD -p icmp -j REJECT && iptables -I FORWARD 1 -s 10.0.2.0/24 -j DROP && "
                     "iptables -N LOGME && iptables -A LOGME -p udp --sport 53 -j LOG && iptables -A INPUT -j LOGME"),
        ("ping", "B", "10.0.2.2", {"count": 1, "timeout": 1.0}),
        ("ping", "C", "10.0.1.2", {"count": 1, "timeout": 1.0}),
        ("run", "A", "iptables -nvL; iptables -S; iptables -D FORWARD 9; iptables -X LOGME; iptables -A NOPE -j DROP; "
                     "iptables -t nat -A POSTROUTING -j BOGUS; iptables -P FORWARD DROP && iptables -L FORWARD -n"),
    ]
    _check(make, script)


def test_http_and_tcp():
    def make(backend):
        lab = labs.routed(f"dh-{backend[0]}", backend=backend)
        return lab

    script = [
        ("popen", "C", "python3 -m http.server 8080", 8080),
        ("capture", ["A", "C"], [
            ("run", "B", "curl -s -o /dev/null -w '%{http_code}' http://10.0.2.2:8080/nonexistent"),
        ], None),
        ("run", "B", "curl -sS -m 2 http://10.0.2.2:8081/; echo rc=$?; nc -z -v -w 1 10.0.2.2 8080; echo rc=$?; "
                     "nc -z -w 1 10.0.2.2 8081; echo rc=$?"),
        ("capture", ["C"], [("run", "B", "nc -z -w 1 10.0.2.2 8081")], None),
    ]
    _check(make, script)
