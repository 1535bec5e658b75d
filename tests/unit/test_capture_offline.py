"""Capture pieces that need no kernel: pcapng, BPF, dissection, tables, journeys over stored frames."""

from __future__ import annotations

import io

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.utils import rdpcap

from netnb.capture import pcapng
from netnb.capture.bpf import BpfProgram
from netnb.capture.dissect import describe, identity
from netnb.capture.packets import CapturePoint, FrameStore, Packets
from netnb.view.table import Table

A, B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"


def frames_of(*items: tuple[int, int, bool, bytes]) -> FrameStore:
    store = FrameStore([CapturePoint("A", "eth0"), CapturePoint("R", "eth1")])
    store.add([[pcapng.Frame(ts, point, out, data, len(data)) for ts, point, out, data in items]])
    return store


def test_pcapng_round_trip_keeps_point_and_direction(tmp_path):
    buf = io.BytesIO()
    pcapng.write_header(buf.write, ["A:eth0", "B:eth0"])
    frame = bytes(Ether(src=A, dst=B) / IP(src="10.0.0.1", dst="10.0.0.2") / ICMP())
    pcapng.write_epb(buf.write, 5_000_000_001, frame, len(frame), outgoing=True, ifid=1)
    pcapng.write_epb(buf.write, 5_000_000_002, frame[:20], len(frame), outgoing=False, ifid=0)
    frames, used = pcapng.read_frames(buf.getvalue())
    assert used == len(buf.getvalue())
    assert [(f.ts_ns, f.point, f.outgoing, f.wire_len) for f in frames] == [
        (5_000_000_001, 1, True, len(frame)), (5_000_000_002, 0, False, len(frame))]
    path = tmp_path / "x.pcapng"
    path.write_bytes(buf.getvalue())
    back = rdpcap(str(path))
    assert bytes(back[0]) == frame and abs(float(back[0].time) - 5.000000001) < 1e-9


def test_a_half_written_block_waits():
    buf = io.BytesIO()
    pcapng.write_header(buf.write, ["A:eth0"])
    pcapng.write_epb(buf.write, 1, b"\x00" * 60, 60, outgoing=False)
    data = buf.getvalue()
    frames, used = pcapng.read_frames(data[:-5])
    assert frames == [] and used < len(data)


def test_bpf_matches_like_tcpdump():
    icmp = bytes(Ether(src=A, dst=B) / IP(src="10.0.0.1", dst="10.0.0.2") / ICMP())
    web = bytes(Ether(src=A, dst=B) / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(dport=80))
    arp = bytes(Ether(src=A, dst="ff:ff:ff:ff:ff:ff") / ARP(psrc="10.0.0.1", pdst="10.0.0.2"))
    assert [BpfProgram("icmp").matches(f) for f in (icmp, web, arp)] == [True, False, False]
    assert [BpfProgram("arp or tcp port 80").matches(f) for f in (icmp, web, arp)] == [False, True, True]
    assert BpfProgram("host 10.0.0.2").matches(web)


def test_invalid_filter_says_how_to_write_one():
    import pytest

    from netnb.errors import NetnbError

    with pytest.raises(NetnbError, match="tcpdump syntax"):
        BpfProgram("icmp and and")


def test_descriptions_read_like_a_packet_list():
    assert describe(Ether() / IP(src="1.1.1.1", dst="2.2.2.2") / ICMP(type=8, id=3, seq=4)).info == \
        "echo-request id=3 seq=4 ttl=64"
    assert describe(Ether() / IP() / TCP(sport=1234, dport=80, flags="S")).info.startswith("1234 → 80 [S]")
    assert describe(Ether() / IP() / UDP(sport=5, dport=53)).protocol == "UDP"
    assert describe(Ether(src=A) / ARP(op=2, psrc="10.0.0.2", hwsrc=B)).info == f"ARP 10.0.0.2 is at {B}"


def test_identity_survives_nat_and_routing_but_not_another_packet():
    before = Ether(src=A, dst=B) / IP(src="172.17.0.2", dst="8.8.8.8", id=77, ttl=64) / ICMP(id=5, seq=1) / b"hi"
    after = Ether(src=B, dst=A) / IP(src="192.168.3.2", dst="8.8.8.8", id=77, ttl=63) / ICMP(id=9, seq=1) / b"hi"
    other = Ether() / IP(id=77) / ICMP(id=5, seq=2) / b"hi"
    rebuilt = [Ether(bytes(p)) for p in (before, after, other)]
    assert identity(rebuilt[0]) == identity(rebuilt[1]) != identity(rebuilt[2])


def test_journey_over_stored_frames_marks_the_rewritten_source():
    out = Ether(src=A, dst=B) / IP(src="172.17.0.2", dst="10.9.0.1", id=99, ttl=64) / ICMP(id=1, seq=1)
    natted = Ether(src=B, dst=A) / IP(src="192.168.3.2", dst="10.9.0.1", id=99, ttl=63) / ICMP(id=1, seq=1)
    store = frames_of((10, 0, True, bytes(out)), (20, 1, True, bytes(natted)))
    packets = Packets(store)
    journey = packets.journey(packets[0])
    assert journey.points == ["A:eth0", "R:eth1"]
    assert journey.changed("ip.src") == [("172.17.0.2", "192.168.3.2")]
    assert "<mark>192.168.3.2</mark>" in journey._repr_mimebundle_()["text/html"]
    assert "ip.src 172.17.0.2→192.168.3.2" in journey.table().text()


def test_long_tables_show_head_and_tail_and_count_the_rest():
    frame = bytes(Ether(src=A, dst=B) / IP(src="10.0.0.1", dst="10.0.0.2") / UDP())
    store = frames_of(*[(i, 0, False, frame) for i in range(100)])
    table = Packets(store).table(head=5, tail=3)
    text = table.text()
    assert "100 packets" in text and "… 92 more not shown …" in text
    assert len(table.rows) == 8 and table.rows[-1][0] == "100"
    html = Packets(store)._repr_mimebundle_()["text/html"]
    assert "<script" not in html and "<pre class=\"netnb-term\"" in html and "10.0.0.1" in html


def test_at_and_filter_compose():
    icmp = bytes(Ether(src=A, dst=B) / IP() / ICMP())
    udp = bytes(Ether(src=A, dst=B) / IP() / UDP())
    packets = Packets(frames_of((1, 0, False, icmp), (2, 1, False, icmp), (3, 1, False, udp)))
    assert len(packets.at("R:eth1")) == 2 and len(packets.at("R").filter("icmp")) == 1
    assert [p.sniffed_on for p in packets.filter("icmp")] == ["A:eth0", "R:eth1"]


def test_table_escapes_names():
    html = Table(["a"], [["<script>x</script>"]])._repr_mimebundle_()["text/html"]
    assert "<script>x" not in html and "&lt;script&gt;" in html
