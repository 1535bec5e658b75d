"""Capture on real labs: what a hub floods and a bridge does not, one timeline, nothing lost."""

from __future__ import annotations

import io
import shutil
import subprocess
import threading

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.utils import rdpcap

import netnb

from ..labs import routed, three_pcs
from .helpers import wait_until

pytestmark = pytest.mark.kernel


def protocols(packets) -> set[str]:
    return {"ARP" if ARP in p else "ICMP" if ICMP in p else p.lastlayer().name for p in packets}


@pytest.mark.parametrize("hub", [True, False])
def test_third_host_sees_unicast_only_on_a_hub(hub):
    lab = three_pcs("hub" if hub else "bridge", hub=hub)
    a, b, c = lab["A"], lab["B"], lab["C"]
    with lab:
        with lab.capture(c, lab["sw"], b) as cap:
            assert a.ping(b, count=3).ok
        at_switch, at_b, at_c = cap.at(lab["sw"]), cap.at(b), cap.at(c)
        assert {"ARP", "ICMP"} <= protocols(at_switch) and {"ARP", "ICMP"} <= protocols(at_b)
        assert len(at_b.filter("icmp")) == 6
        icmp_at_c = len(at_c.filter("icmp"))
        assert len(at_c.filter("arp[6:2] = 1")) == 1  # the ARP request is broadcast: everyone sees it
        if hub:
            assert icmp_at_c == 6                       # a hub floods every frame
            assert lab["sw"].fdb() == []
        else:
            assert icmp_at_c == 0                       # a learning bridge sends B's frames to B only
            assert {e.port for e in lab["sw"].fdb()} >= {"A-eth0", "B-eth0"}
        assert cap.dropped == 0


def test_points_share_one_timeline():
    lab = three_pcs("timeline")
    a, b = lab["A"], lab["B"]
    with lab:
        with lab.capture(a, lab["sw"], b) as cap:
            a.ping(b, count=2)
    times = [f.ts_ns for f in cap._store.frames]
    assert times == sorted(times)
    request = cap.filter("icmp[icmptype] = icmp-echo")[0]
    journey = cap.journey(request)
    assert journey.points == ["A:eth0", "sw:A-eth0", "sw:B-eth0", "B:eth0"]
    assert [h.outgoing for h in journey.hops] == [True, False, True, False]
    assert journey.changes == []  # a switch rewrites nothing


def test_journey_through_a_router_shows_what_changed():
    lab = routed("journey")
    b, c = lab["B"], lab["C"]
    with lab:
        with lab.capture(b, lab["A"], c) as cap:
            assert b.ping("10.0.2.2", count=1).ok
    request = cap.filter("icmp[icmptype] = icmp-echo and src host 10.0.1.2")[0]
    journey = cap.journey(request)
    assert journey.points == ["B:eth0", "A:eth0", "A:eth1", "C:eth0"]
    assert journey.changed("ip.ttl") == [("64", "63")]
    assert len(journey.changed("eth.src")) == 1 and len(journey.changed("eth.dst")) == 1
    assert journey.changed("ip.src") == []
    html = journey._repr_mimebundle_()["text/html"]
    assert "<mark>63</mark>" in html


def test_pcap_round_trip(tmp_path):
    lab = three_pcs("pcap")
    with lab:
        with lab.capture(lab["sw"]) as cap:
            lab["A"].ping(lab["C"], count=2)
    ng = cap.to_pcap(str(tmp_path / "x.pcapng"))
    classic = cap.to_pcap(str(tmp_path / "x.pcap"))
    for path in (ng, classic):
        back = rdpcap(path)
        assert [bytes(p) for p in back] == [bytes(p) for p in cap.packets]
        assert abs(float(back[0].time) - float(cap[0].time)) < 1e-6
    if shutil.which("tcpdump"):
        out = subprocess.run(["tcpdump", "-nr", ng, "icmp"], capture_output=True, text=True, check=True).stdout
        assert out.count("ICMP echo request") == 4  # 2 requests, each seen entering and leaving the switch
    if shutil.which("tshark"):
        out = subprocess.run(["tshark", "-r", ng, "-T", "fields", "-e", "frame.interface_name"],
                             capture_output=True, text=True, check=True).stdout.split()
        assert len(out) == len(cap) and set(out) == {p.label for p in cap._store.points}  # every frame's point


def test_start_and_stop_in_separate_calls_while_a_thread_sends():
    lab = three_pcs("live")
    a, b = lab["A"], lab["B"]
    with lab:
        live = lab.capture(lab["sw"], filter="icmp")
        live.start()
        sender = threading.Thread(target=lambda: a.ping(b, count=20, interval=0.05))
        sender.start()
        assert wait_until(lambda: len(live.refresh()) >= 4, timeout=5)  # frames arrive while it records
        seen_while_running = len(live)
        assert sender.is_alive(), "the sender finished before the capture was looked at: the test proves nothing"
        sender.join()
        live.stop()
        assert not live.running
        assert len(live) == 80 and 4 <= seen_while_running < 80  # 20 requests + 20 replies, each at 2 ports
        assert protocols(live) == {"ICMP"}                     # the kernel filter kept ARP out
        assert "80 packets" in live._repr_mimebundle_()["text/plain"]


def test_stop_while_traffic_flows_loses_nothing_received():
    lab = three_pcs("flood")
    a = lab["A"]
    with lab:
        flood = a.popen(["python3", "-c", (
            "import socket,time\n"
            "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
            "end=time.time()+3\n"
            "while time.time()<end:\n"
            "    s.sendto(b'x'*64,('10.0.0.2',9))\n")])
        cap = lab.capture("sw:B-eth0")
        cap.start()
        assert wait_until(lambda: len(cap.refresh()) > 1000, timeout=10)
        cap.stop()  # traffic is still flowing
        flood.stop()
    stats = cap.stats["sw:B-eth0"]
    assert stats["kernel_seen"] > 1000, stats
    assert stats["kernel_drops"] == 0 and stats["packets"] == stats["kernel_seen"] == len(cap)


def test_send_and_sr1_use_the_nodes_own_addresses():
    lab = three_pcs("craft")
    a = lab["A"]
    with lab:
        reply = a.sr1(IP(dst="10.0.0.2") / ICMP(id=7, seq=9))
        assert reply is not None and reply[IP].src == "10.0.0.2" and reply[ICMP].seq == 9
        arp = a.sr1(Ether() / ARP(pdst="10.0.0.3"))
        mac_c = next(i.mac for i in lab["C"].interfaces() if i.name == "eth0")
        assert arp is not None and arp[ARP].hwsrc == mac_c
        with lab.capture(lab["C"]) as cap:
            sent = a.send(Ether(dst="ff:ff:ff:ff:ff:ff") / IP(dst="10.0.0.255") / UDP(dport=9), count=3)
        assert sent[IP].src == "10.0.0.1"
        assert len(cap.filter("udp port 9")) == 3
        assert a.sr1(IP(dst="10.0.0.77") / ICMP(), timeout=0.5) is None


def test_ladder_and_link_points():
    lab = netnb.Lab("ladder")
    a, b = lab.host("A"), lab.host("B")
    cable = lab.link(a, b, ip=("10.0.0.1/24", "10.0.0.2/24"))
    with lab:
        with lab.capture(cable) as cap:
            a.ping(b, count=2)
    assert {p.sniffed_on for p in cap} == {"A:eth0"}
    picture = cap.ladder()
    from matplotlib.figure import Figure

    fig = picture.figure
    assert isinstance(fig, Figure) and "image/svg+xml" in picture._repr_mimebundle_()
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "A" in texts and "B" in texts and "broadcast" in texts   # columns: the nodes, and the ARP broadcast
    assert sum("echo-request" in t for t in texts) == 2 and sum("echo-reply" in t for t in texts) == 2
    svg = io.StringIO()
    fig.savefig(svg, format="svg")
    assert "<svg" in svg.getvalue()


def test_capture_needs_a_running_lab_and_real_points():
    lab = three_pcs("points")
    with pytest.raises(netnb.LabStateError):
        lab.capture(lab["A"]).start()
    with lab:
        with pytest.raises(netnb.NetnbError, match="no node 'Z'"):
            lab.capture("Z").start()
        with pytest.raises(netnb.BackendError):
            lab.capture("A:eth9").start()
        with pytest.raises(netnb.NetnbError, match="not a valid filter"):
            lab.capture(lab["A"], filter="icmp and and").start()
        assert lab["A"].ping(lab["B"], count=1).ok  # nothing was left half-open


def test_captures_share_a_bounded_ring_budget_per_lab():
    lab = netnb.Lab("many-points", capture_memory=100)
    sw = lab.switch("sw", subnet="10.3.0.0/24")
    hosts = [lab.host(f"h{i}") for i in range(32)]
    for h in hosts:
        lab.link(h, sw)
    ports = [f"sw:{h.name}-eth0" for h in hosts]
    with lab:
        with lab.capture(*ports) as wide:  # 32 points share the budget: 3 MiB each here (4 by default)
            assert wide.ring_mib is None and wide.pinned_mib == 96
            with pytest.raises(netnb.NetnbError, match=r"a capture at 4 points needs at least 8 MiB .* has 4 MiB of "
                                                       r"its capture budget left \(running captures hold 96 MiB"):
                lab.capture(*ports[:4]).start()
            hosts[0].ping(hosts[1], count=1)
        assert wide.pinned_mib == 0 and len(wide.filter("icmp")) == 4  # each echo at both ports
        with lab.capture(ports[0]) as one:  # the budget is free again; one point gets the most
            assert one.pinned_mib == 64
