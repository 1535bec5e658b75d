"""The first hour's wrong turns get clear errors before anything runs (no lab is started here)."""

from __future__ import annotations

import os

import pytest

import netnb
from netnb.capture.journey import build_journey
from netnb.capture.packets import CapturePoint, FrameStore
from netnb.capture.pcapng import Frame
from netnb.errors import NetnbError, NotFoundError, TopologyError, UsageError
from netnb.model import PingResult


def small() -> tuple[netnb.Lab, netnb.Host, netnb.Host, netnb.Switch]:
    lab = netnb.Lab("first-hour")
    a, b = lab.host("A"), lab.host("B")
    sw = lab.switch("sw", subnet="10.0.0.0/24")
    lab.link(a, sw)
    lab.link(b, sw)
    return lab, a, b, sw


@pytest.mark.parametrize("kwargs, words", [
    ({"count": -1}, "count must be a whole number"),
    ({"count": 0}, "count must be a whole number"),
    ({"count": 2.5}, "count must be a whole number"),
    ({"timeout": -5}, "timeout must be a positive number of seconds"),
    ({"timeout": 0}, "timeout must be a positive number of seconds"),
    ({"size": 10**6}, "size must be a whole number of payload bytes from 0 to 65507"),
    ({"size": -3}, "size must be a whole number of payload bytes"),
    ({"interval": 0}, "interval must be"),
])
def test_ping_arguments_are_checked_before_anything_runs(kwargs, words):
    _, a, b, _ = small()
    with pytest.raises(UsageError, match=words):
        a.ping(b, **kwargs)  # the lab is not even started: the check comes first


def test_ping_targets_must_be_nodes_of_this_lab_or_addresses():
    _, a, b, sw = small()
    with pytest.raises(NetnbError, match=r"'Z' is neither an IP address nor a host of lab 'first-hour' "
                                         r"\(its hosts and routers: A, B\)"):
        a.ping("Z")
    other, x, _, _ = small()
    with pytest.raises(NetnbError, match="belongs to lab 'first-hour', not to 'first-hour'|belongs to lab"):
        a.ping(x)
    with pytest.raises(NetnbError, match="is a switch: it has no address to ping"):
        a.ping(sw)
    with pytest.raises(NetnbError, match="not list"):
        a.ping(["B"])
    assert a._ping_destination("B") == "10.0.0.2" and a._ping_destination(b) == "10.0.0.2"
    assert a._ping_destination("10.9.9.9") == "10.9.9.9"


def test_a_failed_ping_always_says_why():
    assert "ping refused to run: bad number of packets" in PingResult(
        "10.0.0.2", 3, 0, output="ping: bad number of packets to transmit.").hint
    assert "no reply came back" in PingResult("10.0.0.2", 3, 0, output="3 packets transmitted, 0 received").hint
    assert "1 of 3 replies were lost" in PingResult("10.0.0.2", 3, 2).hint
    assert PingResult("10.0.0.2", 3, 0, note="no ARP answer from 10.0.1.1").hint == "no ARP answer from 10.0.1.1"
    assert PingResult("10.0.0.2", 3, 3).hint == ""


def test_wrong_types_and_names_raise_netnb_errors_that_say_what_to_do():
    lab, a, _, sw = small()
    with pytest.raises(UsageError, match="link nodes of the lab") as err:
        lab.link(3.14, sw)  # type: ignore[arg-type]
    assert isinstance(err.value, TypeError)
    with pytest.raises(NotFoundError, match=r"there is no node 'nope' in lab 'first-hour' \(its nodes: A, B, sw\)") as nf:
        lab["nope"]
    assert isinstance(nf.value, KeyError) and str(nf.value).startswith("there is no node")
    for bad in (None, "", "   ", ["ip", 3], []):
        with pytest.raises(UsageError, match="command"):
            a.run(bad)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="send a scapy packet"):
        a.sr1("str")
    with pytest.raises(UsageError, match="timeout must be a positive number"):
        lab.start(timeout=0)
    assert lab.state == "described"


def test_a_vm_is_checked_when_described_not_at_start():
    lab = netnb.Lab("vms")
    server = lab.router("server")
    server.bridge("access")
    with pytest.raises(TopologyError) as err:
        lab.vm("vm1", server, bridge="acess", ip="10.0.1.300/24", gateway="10.0.2.1", mac="01:00:5e:00:00:01")
    problems = "\n".join(err.value.problems)
    assert "ip='10.0.1.300/24' is not an IPv4 address with a prefix" in problems
    assert "not a unicast MAC" in problems
    with pytest.raises(TopologyError, match="gateway 10.0.2.1 is not on its network 10.0.1.0/24"):
        lab.vm("vm1", server, bridge="access", ip="10.0.1.11/24", gateway="10.0.2.1")
    assert not server.spec.taps  # nothing was recorded
    lab.vm("vm1", server, bridge="acess", ip="10.0.1.11/24", gateway="10.0.1.1")  # the bridge may come later,
    assert any("bridge 'acess'" in p for p in lab.validate())                   # so the whole lab checks it


def test_a_rule_naming_an_interface_the_node_lacks_is_refused():
    lab = netnb.Lab("vms")
    server = lab.router("server")
    server.bridge("access")
    server.masquerade("10.0.1.0/24", out="eth0")
    with pytest.raises(TopologyError, match=r"names interface 'eth0', which 'server' does not have \(its "
                                            r"interfaces: access, lo\)"):
        lab.plan()
    lan = lab.switch("lan", subnet="192.168.3.0/24")
    lab.link(server, lan)
    assert lab.plan()  # now it has an eth0


def test_a_journey_of_a_packet_never_captured_is_an_error():
    from scapy.layers.inet import ICMP, IP
    from scapy.layers.l2 import Ether

    seen = Ether() / IP(src="10.0.0.1", dst="10.0.0.2", id=7) / ICMP(id=1, seq=1)
    store = FrameStore([CapturePoint("A", "eth0")])
    store.add([[Frame(ts_ns=1, point=0, outgoing=False, data=bytes(seen), wire_len=len(bytes(seen)))]])
    assert build_journey(store, store.packet(0)).points == ["A:eth0"]
    never = Ether() / IP(src="10.0.0.1", dst="10.0.0.2", id=8) / ICMP(id=1, seq=2)
    with pytest.raises(NetnbError, match="was not seen at any point of this capture"):
        build_journey(store, never)
    with pytest.raises(UsageError, match="follow a packet of the capture"):
        build_journey(store, "icmp")  # type: ignore[arg-type]


def test_plans_render_and_count_their_commands():
    lab, *_ = small()
    plan = lab.plan()
    bundle = plan._repr_mimebundle_()
    script = plan.script()
    assert f"{len(plan)} operations as {script.count(chr(10)) + 1} commands" in bundle["text/plain"].splitlines()[0]
    assert 'class="netnb-term"' in bundle["text/html"] and "ip netns add A" in bundle["text/html"]
    assert repr(lab) == "<Lab 'first-hour' described: 2 hosts, 1 switch, 2 links>"


@pytest.mark.skipif(os.geteuid() != 0, reason="making a folder owned by another user needs root")
def test_a_record_folder_someone_else_made_first_is_never_used(tmp_path, monkeypatch):
    from netnb.backends.kernel import registry

    squatted = tmp_path / "squat"
    squatted.mkdir(mode=0o700)
    os.chown(squatted, 65534, 65534)
    assert "belongs to uid 65534, not to uid 0 (someone else made it first)" in registry._private(str(squatted), 0)
    link = tmp_path / "link"
    link.symlink_to(tmp_path)
    assert "not a directory of its own" in registry._private(str(link), 0)
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    assert "open to others (mode 0755" in registry._private(str(loose), 0)
    mine = tmp_path / "mine"
    assert registry._private(str(mine), 0) is None and mine.stat().st_mode & 0o777 == 0o700


def test_the_sudo_rule_names_an_isolated_interpreter():
    from netnb.backends.kernel.client import spawner_command

    assert spawner_command(True)[1:] == ["-I", "-m", "netnb.backends.kernel.spawner"]
    assert "-I" not in spawner_command(False)


def test_ping_hints_name_the_router_that_answered():
    from netnb.model import PingResult

    net = PingResult("10.0.9.9", 1, 0, output="From 10.0.1.1 icmp_seq=1 Destination Net Unreachable")
    assert "no route" in net.hint and "From" in net.hint
    ttl = PingResult("10.0.2.2", 1, 0, output="From 10.0.1.1 icmp_seq=1 Time to live exceeded")
    assert "TTL" in ttl.hint and "loop" in ttl.hint
