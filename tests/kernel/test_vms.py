"""VMs on TAP devices behind two levels of bridges, routed and masqueraded by their host (the article's
company LAN, example 2)."""

from __future__ import annotations

import pytest

import netnb

pytestmark = pytest.mark.kernel


def company() -> tuple[netnb.Lab, netnb.Router, list[netnb.Vm], netnb.Internet]:
    lab = netnb.Lab("company")
    lan = lab.switch("lan", subnet="192.168.3.0/24")
    internet = lab.internet(lan, gateway="192.168.3.1")
    server = lab.router("server")
    lab.link(server, lan, ip="192.168.3.2/24")
    server.route("default", via="192.168.3.1")
    server.bridge("access")
    server.bridge("core")
    server.veth("acc-up", "core-down", master=("access", "core"))
    server.veth("host0", "core-host", master=(None, "core"), ip=("10.0.1.1/24", None))
    server.masquerade("10.0.1.0/24", out="eth0")
    vms = [lab.vm(f"vm{i}", server, bridge="access", ip=f"10.0.1.{10 + i}/24", gateway="10.0.1.1")
           for i in range(1, 5)]
    return lab, server, vms, internet


def test_vms_talk_through_two_bridges_and_leave_masqueraded():
    lab, server, vms, internet = company()
    with lab:
        assert vms[0].ping("10.0.1.14", count=2).received == 2        # VM to VM, across the access bridge
        assert vms[0].ping("10.0.1.1", count=1).ok                     # VM to the host, via the core bridge
        assert server.ping("10.0.1.12", count=1).ok                    # the host to a VM
        with lab.capture("server:tap-vm1", "server:eth0") as cap:
            result = vms[0].ping(internet.ip, count=2)
        assert result.received == 2 and 0 < result.rtt_avg_ms < 100
        request = cap.filter("icmp[icmptype] = icmp-echo")[0]
        journey = cap.journey(request)
        assert journey.points == ["server:tap-vm1", "server:eth0"]
        assert journey.changed("ip.src") == [("10.0.1.11", "192.168.3.2")]   # MASQUERADE to the "physical NIC"
        gateway_mac = vms[0].arp()["10.0.1.1"]
        assert ("10.0.1.1", gateway_mac, "REACHABLE") in [(n.ip, n.mac, n.state) for n in vms[0].neighbours()]
        ports = {i.name: i.master for i in server.interfaces()}
        assert ports["tap-vm1"] == "access" and ports["core-down"] == "core" and ports["acc-up"] == "access"


def test_vm_names_and_bridges_are_validated():
    lab = netnb.Lab("bad-vm")
    host = lab.host("h")
    lab.vm("vm1", host, bridge="nosuch", ip="10.0.0.2/24")
    host.veth("a", "b", master=("nope", None), ip=(None, "10.0.0.1"))
    problems = lab.validate()
    assert any("bridge 'nosuch'" in p for p in problems)
    assert any("bridge 'nope'" in p for p in problems)
    assert any("needs a prefix length" in p for p in problems)


def test_a_bridge_whose_only_ports_are_taps_does_not_hold_up_the_start():
    # Its TAP ports get carrier only when their VMs open them, after the build; start() must not wait
    # for that (it sometimes did, for 30 s, then failed: seen rootless, where the race was lost more often).
    for i in range(5):
        lab = netnb.Lab(f"taponly{i}")
        h = lab.host("h")
        h.bridge("br0", ip="10.0.0.1/24")
        lab.vm("vm1", h, bridge="br0", ip="10.0.0.10/24")
        lab.vm("vm2", h, bridge="br0", ip="10.0.0.11/24")
        with lab:
            assert h.ping("10.0.0.10", count=1).ok and h.ping("10.0.0.11", count=1).ok
