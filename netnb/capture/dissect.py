"""What a frame is, in one table row, and what identifies it from hop to hop (scapy does the parsing).

>>> from scapy.layers.l2 import Ether, ARP
>>> describe(Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff") / ARP(psrc="10.0.0.1", pdst="10.0.0.2")).info
'ARP who has 10.0.0.2? tell 10.0.0.1'
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.layers.vxlan import VXLAN
from scapy.packet import Packet

_ICMP_TYPES = {0: "echo-reply", 8: "echo-request", 3: "unreachable", 11: "time-exceeded", 5: "redirect"}
_TCP_FLAGS = "FSRPAUEC"


@dataclass(frozen=True)
class Summary:
    """One row of a packet table."""

    src: str
    dst: str
    protocol: str
    info: str


def _tcp_flags(value: int) -> str:
    return "".join(f for i, f in enumerate(_TCP_FLAGS) if value & (1 << i)) or "."


def _l4(ip: Packet) -> tuple[str, str]:
    if ICMP in ip:
        icmp = ip[ICMP]
        name = _ICMP_TYPES.get(icmp.type, f"type={icmp.type}")
        extra = f" id={icmp.id} seq={icmp.seq}" if icmp.type in (0, 8) else f" code={icmp.code}"
        return "ICMP", f"{name}{extra} ttl={ip.ttl}"
    if TCP in ip:
        t = ip[TCP]
        return "TCP", f"{t.sport} → {t.dport} [{_tcp_flags(int(t.flags))}] seq={t.seq} ack={t.ack} len={len(t.payload)}"
    if UDP in ip:
        u = ip[UDP]
        if VXLAN in u:
            inner = u[VXLAN].payload
            return "VXLAN", f"vni={u[VXLAN].vni} [{describe(inner).info if isinstance(inner, Ether) else inner.summary()}]"
        return "UDP", f"{u.sport} → {u.dport} len={len(u.payload)}"
    return f"IP/{ip.proto}", ip.summary()


def describe(pkt: Packet) -> Summary:
    """Source, destination, protocol and a one-line explanation of a frame."""
    if ARP in pkt:
        a = pkt[ARP]
        if a.op == 1:
            info = f"ARP who has {a.pdst}? tell {a.psrc}"
        elif a.op == 2:
            info = f"ARP {a.psrc} is at {a.hwsrc}"
        else:
            info = f"ARP op={a.op}"
        return Summary(a.hwsrc, a.hwdst if a.op == 2 else "broadcast", "ARP", info)
    if IP in pkt:
        ip = pkt[IP]
        proto, info = _l4(ip)
        return Summary(ip.src, ip.dst, proto, info)
    if Ether in pkt:
        e = pkt[Ether]
        if e.type == 0x86DD:
            return Summary(e.src, e.dst, "IPv6", pkt.summary())
        return Summary(e.src, e.dst, f"0x{e.type:04x}", pkt.summary())
    return Summary("", "", type(pkt).__name__, pkt.summary())


def identity(pkt: Packet) -> tuple[object, ...] | None:
    """What stays the same for one packet across hops, NAT and TTL changes (None: unidentifiable).

    IP id + the layer-4 fields NAT leaves alone (ICMP echo seq, TCP seq/ack/flags) + a payload hash.
    """
    if IP in pkt:
        ip = pkt[IP]
        if ICMP in ip:
            icmp = ip[ICMP]
            inner = (icmp.type, icmp.seq) if icmp.type in (0, 8) else (icmp.type, icmp.code)
            body: bytes = bytes(icmp.payload)
            return ("icmp", ip.id, *inner, hashlib.blake2s(body, digest_size=8).digest())
        if TCP in ip:
            t = ip[TCP]
            return ("tcp", ip.id, t.seq, t.ack, int(t.flags), hashlib.blake2s(bytes(t.payload), digest_size=8).digest())
        if UDP in ip:
            return ("udp", ip.id, hashlib.blake2s(bytes(ip[UDP].payload), digest_size=8).digest())
        return ("ip", ip.id, ip.proto)
    if ARP in pkt:
        a = pkt[ARP]
        return ("arp", a.op, a.hwsrc, a.psrc, a.pdst)
    return None


def header_fields(pkt: Packet) -> dict[str, str]:
    """The header fields a journey compares between hops."""
    out: dict[str, str] = {}
    if Ether in pkt:
        out["eth.src"], out["eth.dst"] = pkt[Ether].src, pkt[Ether].dst
    if IP in pkt:
        ip = pkt[IP]
        out["ip.src"], out["ip.dst"], out["ip.ttl"] = ip.src, ip.dst, str(ip.ttl)
        for layer, name in ((TCP, "tcp"), (UDP, "udp")):
            if layer in ip:
                out[f"{name}.sport"], out[f"{name}.dport"] = str(ip[layer].sport), str(ip[layer].dport)
        if ICMP in ip and ip[ICMP].type in (0, 8):
            out["icmp.id"] = str(ip[ICMP].id)
    return out
