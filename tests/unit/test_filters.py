"""The pure-Python tcpdump filter (netnb.capture.filters) equals libpcap on a corpus of expressions x frames."""

from __future__ import annotations

import struct

import pytest

from netnb.backends.sim import frames as fr
from netnb.capture.filters import UnsupportedFilter, compile_filter

A, B, R = bytes.fromhex("020000000001"), bytes.fromhex("020000000002"), bytes.fromhex("020000000009")
IP_A, IP_B, IP_C = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]), bytes([192, 168, 3, 2])


def _ip(src: bytes, dst: bytes, proto: int, payload: bytes, ttl: int = 64, frag: int = 0x4000,
        options: bytes = b"") -> bytes:
    ihl = 5 + len(options) // 4
    head = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 20 + len(options) + len(payload), 7, frag, ttl, proto, 0,
                       src, dst) + options
    return head + payload


def _eth(dst: bytes, src: bytes, payload: bytes, ethertype: int = fr.ETH_IP) -> bytes:
    return fr.ether(dst, src, ethertype, payload)


def corpus() -> dict[str, bytes]:
    tcp = lambda sport, dport, flags, data=b"": fr.tcp(IP_A, IP_B, sport, dport, 1, 2, flags, 502, data)  # noqa: E731
    echo = fr.echo(8, 77, 1, bytes(56))
    inner = _eth(B, A, _ip(IP_A, IP_B, 1, echo))
    return {
        "arp-request": _eth(fr.BROADCAST, A, fr.arp(1, A, IP_A, fr.ZERO_MAC, IP_B), fr.ETH_ARP),
        "arp-reply": _eth(A, B, fr.arp(2, B, IP_B, A, IP_A), fr.ETH_ARP),
        "echo": _eth(B, A, _ip(IP_A, IP_B, 1, echo)),
        "echo-reply": _eth(A, B, _ip(IP_B, IP_A, 1, fr.echo(0, 77, 1, bytes(56)), frag=0)),
        "unreachable": _eth(A, R, _ip(IP_C, IP_A, 1, fr.icmp(3, 1, bytes(4) + _ip(IP_A, IP_B, 1, echo)[:28]))),
        "ttl-exceeded": _eth(A, R, _ip(IP_C, IP_A, 1, fr.icmp(11, 0, bytes(4) + _ip(IP_A, IP_B, 17, bytes(8))[:28]))),
        "syn": _eth(B, A, _ip(IP_A, IP_B, 6, tcp(40000, 80, fr.SYN))),
        "syn-ack": _eth(A, B, _ip(IP_B, IP_A, 6, tcp(80, 40000, fr.SYN | fr.ACK))),
        "ack": _eth(B, A, _ip(IP_A, IP_B, 6, tcp(40000, 80, fr.ACK))),
        "push": _eth(B, A, _ip(IP_A, IP_B, 6, tcp(40000, 8080, fr.PSH | fr.ACK, b"GET / HTTP/1.1\r\n\r\n"))),
        "fin": _eth(B, A, _ip(IP_A, IP_C, 6, tcp(49153, 8080, fr.FIN | fr.ACK))),
        "rst": _eth(A, B, _ip(IP_B, IP_A, 6, tcp(22, 40000, fr.RST))),
        "dns": _eth(R, A, _ip(IP_A, IP_C, 17, fr.udp(IP_A, IP_C, 5353, 53, b"q"))),
        "vxlan": _eth(R, A, _ip(IP_A, IP_C, 17, fr.udp(IP_A, IP_C, 40001, 4789, bytes([8, 0, 0, 0, 0, 0, 42, 0]) + inner))),
        "fragment": _eth(B, A, _ip(IP_A, IP_B, 6, bytes(20), frag=0x00B9)),
        "first-fragment": _eth(B, A, _ip(IP_A, IP_B, 6, tcp(1234, 80, fr.ACK), frag=0x2000)),
        "ip-options": _eth(B, A, _ip(IP_A, IP_B, 6, tcp(1234, 443, fr.SYN), options=b"\x01\x01\x01\x00")),
        "ttl-1": _eth(B, A, _ip(IP_A, IP_B, 17, fr.udp(IP_A, IP_B, 33434, 33435, bytes(32)), ttl=1)),
        "broadcast-ip": _eth(fr.BROADCAST, A, _ip(IP_A, bytes([10, 0, 0, 255]), 17, fr.udp(IP_A, IP_B, 68, 67, b""))),
        "multicast": _eth(bytes.fromhex("01005e00006a"), A, _ip(IP_A, bytes([224, 0, 0, 106]), 2, bytes(8))),
        "ipv6-tcp": _eth(B, A, struct.pack("!IHBB", 0x60000000, 20, 6, 64) + bytes(32) + bytes(20), fr.ETH_IP6),
        "ipv6-icmp": _eth(bytes.fromhex("333300000001"), A, struct.pack("!IHBB", 0x60000000, 8, 58, 255) + bytes(40),
                          fr.ETH_IP6),
        "vlan": _eth(B, A, struct.pack("!HH", 10, fr.ETH_IP) + _ip(IP_A, IP_B, 1, echo), 0x8100),
        "short": _eth(B, A, b"\x45\x00"),
        "runt": b"\x00\x01\x02",
    }


EXPRESSIONS = [
    "", "arp", "icmp", "tcp", "udp", "ip", "ip6", "vlan", "not arp", "arp or icmp", "icmp and not arp",
    "host 10.0.0.1", "host 192.168.3.2", "src host 10.0.0.1", "dst host 10.0.0.2", "ip host 10.0.0.2",
    "arp host 10.0.0.2", "src or dst host 10.0.0.1", "src and dst host 10.0.0.1", "net 10.0.0.0/24", "net 10.0",
    "src net 192.168.0.0/16", "dst net 10.0.0.0/8", "net 10.0.0.0 mask 255.255.255.0",
    "port 80", "tcp port 80", "udp port 53", "port 4789", "src port 40000", "dst port 8080", "tcp dst port 8080",
    "portrange 8000-9000", "tcp portrange 20-25", "udp and dst port 33435", "tcp and (port 80 or port 443)",
    "not port 22", "ether host 02:00:00:00:00:01", "ether src 02:00:00:00:00:02", "ether dst 02:00:00:00:00:09",
    "ether broadcast", "broadcast", "multicast", "ether multicast", "ip multicast",
    "ether proto 0x0806", "ether proto \\arp", "ip proto 17", "ip proto \\tcp", "less 60", "greater 100",
    "tcp[tcpflags] & tcp-syn != 0", "tcp[tcpflags] = tcp-syn", "tcp[tcpflags] & (tcp-syn|tcp-ack) = tcp-syn|tcp-ack",
    "tcp[tcpflags] & tcp-fin != 0 or tcp[tcpflags] & tcp-rst != 0", "tcp[13] & 2 != 0",
    "tcp[tcpflags] = tcp-syn and dst port 49153", "icmp[icmptype] = icmp-echo", "icmp[icmptype] != icmp-echo",
    "icmp[0] = 11", "icmp[icmptype] = icmp-unreach and icmp[icmpcode] = 1", "ip[8] < 64", "ip[8] = 1",
    "ip[6:2] & 0x1fff != 0", "udp[2:2] = 4789", "len > 100", "len <= 60", "ether[12:2] = 0x0806",
    "arp[6:2] = 2", "tcp[2:2] > 1024", "ip[9] = 6 and tcp[13] = 18", "(icmp or arp) and host 10.0.0.2",
    "not (tcp or udp)", "tcp and not (src port 80 or dst port 80)", "icmp && host 10.0.0.1 || arp",
]


def test_every_expression_matches_as_libpcap_does():
    bpf = pytest.importorskip("netnb.capture.bpf")
    try:
        bpf.BpfProgram("arp")
    except Exception as exc:  # (no libpcap on this machine)
        pytest.skip(f"libpcap is needed as the reference: {exc}")
    frames = corpus()
    wrong = []
    for expression in EXPRESSIONS:
        reference = bpf.BpfProgram(expression) if expression else None
        ours = compile_filter(expression)
        for name, frame in frames.items():
            expected = reference.matches(frame) if reference else True
            if ours(frame) != expected:
                wrong.append(f"{expression!r} on {name}: libpcap {expected}, ours {not expected}")
    assert not wrong, "\n".join(wrong)
    assert len(EXPRESSIONS) * len(frames) >= 1500


@pytest.mark.parametrize("expression", ["vlan and icmp", "ip6 host ::1", "tcp[tcpflags] &", "gateway r1", "ip broadcast",
                                        "host 300.1.1.1"])
def test_what_it_cannot_read_is_said(expression):
    with pytest.raises(UnsupportedFilter) as caught:
        compile_filter(expression)
    assert repr(expression) in str(caught.value)
