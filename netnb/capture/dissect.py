"""What a frame is, in one table row, and what identifies it from hop to hop (scapy does the parsing).

>>> from scapy.layers.l2 import Ether, ARP
>>> describe(Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff") / ARP(psrc="10.0.0.1", pdst="10.0.0.2")).info
'ARP who has 10.0.0.2? tell 10.0.0.1'
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from netnb.capture.layers import ARP, ICMP, IP, TCP, UDP, VXLAN, Ether, Packet

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
    l4 = ip.payload
    if isinstance(l4, ICMP):
        name = _ICMP_TYPES.get(l4.type, f"type={l4.type}")
        extra = f" id={l4.id} seq={l4.seq}" if l4.type in (0, 8) else f" code={l4.code}"
        return "ICMP", f"{name}{extra} ttl={ip.ttl}"
    if isinstance(l4, TCP):
        return "TCP", f"{l4.sport} → {l4.dport} [{_tcp_flags(int(l4.flags))}] seq={l4.seq} ack={l4.ack} len={len(l4.payload)}"
    if isinstance(l4, UDP):
        if isinstance(l4.payload, VXLAN):
            inner = l4.payload.payload
            what = describe(inner) if isinstance(inner, Ether) else None
            text = f"{what.src} → {what.dst} {what.info}" if what else inner.summary()
            return "VXLAN", f"vni={l4.payload.vni} [{text}]"
        return "UDP", f"{l4.sport} → {l4.dport} len={len(l4.payload)}"
    return f"IP/{ip.proto}", ip.summary()


def describe(pkt: Packet) -> Summary:
    """Source, destination, protocol and a one-line explanation of a frame (its outermost headers)."""
    l3 = pkt.payload if isinstance(pkt, Ether) else pkt
    if isinstance(l3, ARP):
        if l3.op == 1:
            info = f"ARP who has {l3.pdst}? tell {l3.psrc}"
        elif l3.op == 2:
            info = f"ARP {l3.psrc} is at {l3.hwsrc}"
        else:
            info = f"ARP op={l3.op}"
        return Summary(l3.hwsrc, l3.hwdst if l3.op == 2 else "broadcast", "ARP", info)
    if isinstance(l3, IP):
        proto, info = _l4(l3)
        return Summary(l3.src, l3.dst, proto, info)
    if isinstance(pkt, Ether):
        if pkt.type == 0x86DD:
            return Summary(pkt.src, pkt.dst, "IPv6", pkt.summary())
        return Summary(pkt.src, pkt.dst, f"0x{pkt.type:04x}", pkt.summary())
    return Summary("", "", type(pkt).__name__, pkt.summary())


def _innermost(pkt: Packet, layer: type[Packet]) -> Packet | None:
    count = 0
    while pkt.getlayer(layer, nb=count + 1) is not None:
        count += 1
    return pkt.getlayer(layer, nb=count) if count else None


def identity(pkt: Packet) -> tuple[object, ...] | None:
    """What stays the same for one packet across hops, NAT, TTL changes and tunnels (None: unidentifiable).

    The innermost IP header's id + the layer-4 fields NAT leaves alone (ICMP echo sequence, TCP
    sequence/ack/flags) + a payload hash; a packet carried in VXLAN is the same packet as before.
    """
    ip = _innermost(pkt, IP)
    if ip is not None:
        l4 = ip.payload
        if isinstance(l4, ICMP):
            inner = (l4.type, l4.seq) if l4.type in (0, 8) else (l4.type, l4.code)
            return ("icmp", ip.id, *inner, hashlib.blake2s(bytes(l4.payload), digest_size=8).digest())
        if isinstance(l4, TCP):
            return ("tcp", ip.id, l4.seq, l4.ack, int(l4.flags), hashlib.blake2s(bytes(l4.payload), digest_size=8).digest())
        if isinstance(l4, UDP):
            return ("udp", ip.id, hashlib.blake2s(bytes(l4.payload), digest_size=8).digest())
        return ("ip", ip.id, ip.proto)
    arp = _innermost(pkt, ARP)
    if arp is not None:
        return ("arp", arp.op, arp.hwsrc, arp.psrc, arp.pdst)
    return None


def header_fields(pkt: Packet) -> dict[str, str]:
    """The outermost header fields a journey compares between hops (and the tunnel, if any)."""
    out: dict[str, str] = {}
    if isinstance(pkt, Ether):
        out["eth.src"], out["eth.dst"] = pkt.src, pkt.dst
    ip = pkt.payload if isinstance(pkt, Ether) else pkt
    if isinstance(ip, IP):
        out["ip.src"], out["ip.dst"], out["ip.ttl"] = ip.src, ip.dst, str(ip.ttl)
        l4 = ip.payload
        if isinstance(l4, UDP) and isinstance(l4.payload, VXLAN):
            out["tunnel"] = f"VXLAN vni={l4.payload.vni}"
        elif isinstance(l4, (TCP, UDP)):
            name = "tcp" if isinstance(l4, TCP) else "udp"
            out[f"{name}.sport"], out[f"{name}.dport"] = str(l4.sport), str(l4.dport)
        elif isinstance(l4, ICMP) and l4.type in (0, 8):
            out["icmp.id"] = str(l4.id)
    return out
