"""Packet bytes for the simulation: Ethernet, ARP, IPv4, ICMP, UDP and TCP headers built and read.

Written by hand rather than with scapy for two measured reasons: scapy builds a packet in ~50 us and
dissects one in ~200 us (a 100-host ping mesh sends ~60 000 frames), and under Pyodide ``scapy.all``
takes 9-13 s to import. These are a dozen ``struct`` layouts; captures made of these bytes are read by
scapy, tshark and the packet table like any other.

>>> f = ether(b"\\xff" * 6, bytes(6), ETH_ARP, arp(1, bytes(6), bytes(4), bytes(6), bytes(4)))
>>> parse_ether(f)[2], len(f)
(2054, 42)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

# The Internet checksum and MAC parsing: one copy, in the VM guest (a page-long stack kept free of imports).
from netnb.vm import checksum, mac_bytes

__all__ = ["checksum", "mac_bytes"]  # (and everything below)

ETH_IP, ETH_ARP, ETH_IP6 = 0x0800, 0x0806, 0x86DD
PROTO_ICMP, PROTO_TCP, PROTO_UDP = 1, 6, 17
BROADCAST = b"\xff" * 6
ZERO_MAC = bytes(6)

_ETH = struct.Struct("!6s6sH")
_ARP = struct.Struct("!HHBBH6s4s6s4s")
_IP = struct.Struct("!BBHHHBBH4s4s")
_ICMP = struct.Struct("!BBHHH")
_UDP = struct.Struct("!HHHH")
_TCP = struct.Struct("!HHIIBBHHH")

# TCP flags
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def mac_text(raw: bytes) -> str:
    """6 bytes as ``"02:00:00:00:00:01"``."""
    return ":".join(f"{b:02x}" for b in raw)


def ether(dst: bytes, src: bytes, ethertype: int, payload: bytes) -> bytes:
    """An Ethernet II frame (no FCS, as a capture shows it; a veth does not pad short frames to 60 bytes)."""
    return _ETH.pack(dst, src, ethertype) + payload


def parse_ether(frame: bytes) -> tuple[bytes, bytes, int, bytes]:
    """(dst, src, ethertype, payload)."""
    dst, src, ethertype = _ETH.unpack_from(frame)
    return dst, src, ethertype, frame[14:]


def arp(op: int, sha: bytes, spa: bytes, tha: bytes, tpa: bytes) -> bytes:
    """An ARP packet for IPv4 over Ethernet (op 1 request, 2 reply)."""
    return _ARP.pack(1, ETH_IP, 6, 4, op, sha, spa, tha, tpa)


def parse_arp(data: bytes) -> tuple[int, bytes, bytes, bytes, bytes]:
    """(op, sender MAC, sender IP, target MAC, target IP)."""
    _, _, _, _, op, sha, spa, tha, tpa = _ARP.unpack_from(data)
    return op, sha, spa, tha, tpa


@dataclass
class Ip:
    """An IPv4 header's fields and its payload."""

    src: bytes
    dst: bytes
    proto: int
    payload: bytes
    ttl: int = 64
    ident: int = 0
    tos: int = 0
    df: bool = True
    #: What connection tracking said of this packet, while it crosses one node (the simulation's skb->_nfct).
    ct: object = field(default=None, repr=False, compare=False)

    def pack(self) -> bytes:
        """The packet with its header checksum."""
        total = 20 + len(self.payload)
        head = _IP.pack(0x45, self.tos, total, self.ident, 0x4000 if self.df else 0, self.ttl, self.proto, 0,
                        self.src, self.dst)
        return head[:10] + struct.pack("!H", checksum(head)) + head[12:] + self.payload


def parse_ip(data: bytes) -> Ip | None:
    """The IPv4 packet in ``data`` (None if it is not one)."""
    if len(data) < 20:
        return None
    vihl, tos, total, ident, frag, ttl, proto, _, src, dst = _IP.unpack_from(data)
    if vihl >> 4 != 4:
        return None
    hl = (vihl & 15) * 4
    return Ip(src, dst, proto, data[hl:total], ttl, ident, tos, bool(frag & 0x4000))


def icmp(kind: int, code: int, rest: bytes) -> bytes:
    """An ICMP message: type, code, checksum and the rest (identifier/sequence and data, or the quoted packet)."""
    body = struct.pack("!BBH", kind, code, 0) + rest
    return body[:2] + struct.pack("!H", checksum(body)) + body[4:]


def echo(kind: int, ident: int, seq: int, data: bytes) -> bytes:
    """An ICMP echo request (8) or reply (0)."""
    return icmp(kind, 0, struct.pack("!HH", ident, seq) + data)


def parse_icmp(data: bytes) -> tuple[int, int, bytes]:
    """(type, code, the bytes after the checksum)."""
    kind, code, _ = struct.unpack_from("!BBH", data)
    return kind, code, data[4:]


def _pseudo(src: bytes, dst: bytes, proto: int, length: int) -> bytes:
    return src + dst + struct.pack("!BBH", 0, proto, length)


def udp(src: bytes, dst: bytes, sport: int, dport: int, payload: bytes) -> bytes:
    """A UDP datagram with its checksum."""
    length = 8 + len(payload)
    head = _UDP.pack(sport, dport, length, 0)
    csum = checksum(_pseudo(src, dst, PROTO_UDP, length) + head + payload) or 0xFFFF
    return head[:6] + struct.pack("!H", csum) + payload


def parse_udp(data: bytes) -> tuple[int, int, bytes]:
    """(source port, destination port, payload)."""
    sport, dport, length, _ = _UDP.unpack_from(data)
    return sport, dport, data[8:length]


def tcp(src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int, flags: int, window: int,
        payload: bytes = b"", options: bytes = b"") -> bytes:
    """A TCP segment with its checksum."""
    options += b"\0" * (-len(options) % 4)
    offset = (20 + len(options)) // 4
    head = _TCP.pack(sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, offset << 4, flags, window, 0, 0) + options
    csum = checksum(_pseudo(src, dst, PROTO_TCP, len(head) + len(payload)) + head + payload)
    return head[:16] + struct.pack("!H", csum) + head[18:] + payload


@dataclass
class Tcp:
    """A TCP segment's fields."""

    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    window: int
    payload: bytes
    options: bytes


def parse_tcp(data: bytes) -> Tcp:
    """The segment in ``data``."""
    sport, dport, seq, ack, off, flags, window, _, _ = _TCP.unpack_from(data)
    hl = (off >> 4) * 4
    return Tcp(sport, dport, seq, ack, flags, window, data[hl:], data[20:hl])


def ports(ip: Ip) -> tuple[int, int] | None:
    """(source, destination) port of a TCP or UDP packet, else None."""
    if ip.proto in (PROTO_TCP, PROTO_UDP) and len(ip.payload) >= 4:
        return struct.unpack_from("!HH", ip.payload)
    return None
