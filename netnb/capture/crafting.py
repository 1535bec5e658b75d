"""Sending crafted packets from inside a node, with scapy building them.

scapy on its own fills in source addresses from the root namespace's routes and may ARP out of the
machine's own interfaces; here every missing address is taken from the node's own kernel (its routes
and interface MACs), and the bytes are sent by the agent from inside the node's namespace.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from netnb.capture.layers import ARP, IP, Ether, Packet
from netnb.errors import NetnbError, UsageError
from netnb.model import checks

if TYPE_CHECKING:
    from netnb.nodes import Host


def _mac_of(node: Host, ifname: str) -> str:
    for i in node.interfaces():
        if i.name == ifname:
            return i.mac
    raise NetnbError(f"node {node.name!r} has no interface {ifname!r}")


def prepare(node: Host, pkt: Packet, iface: str | None) -> tuple[Packet, str | None]:
    """Fill what scapy would take from the wrong namespace; returns the packet and its interface (None: L3)."""
    if not isinstance(pkt, Packet):
        raise UsageError(f"send a scapy packet, e.g. IP(dst='10.0.0.2')/ICMP(), not {type(pkt).__name__} {pkt!r}")
    if iface is not None and not isinstance(iface, str):
        raise UsageError(f"iface is an interface name such as 'eth0', not {iface!r}")
    pkt = pkt.copy()
    if isinstance(pkt, Ether):
        if iface is None:
            if IP in pkt:
                iface = node.lab.live().route_get(node.name, pkt[IP].dst).dev
            else:
                iface = next((i.name for i in node.interfaces() if i.name != "lo"), None)
        if iface is None:
            raise NetnbError(f"node {node.name!r} has no interface to send from; pass iface=")
        if "src" not in pkt.fields:
            pkt.src = _mac_of(node, iface)
        if "dst" not in pkt.fields:
            if ARP in pkt or (IP in pkt and pkt[IP].dst.split(".")[0] in ("224", "255")):
                pkt.dst = "ff:ff:ff:ff:ff:ff"
            else:
                raise NetnbError("give the frame a destination, Ether(dst=...), or send the IP packet without "
                                 "Ether and let the node's kernel resolve it")
        if ARP in pkt:
            arp = pkt[ARP]
            if "hwsrc" not in arp.fields:
                arp.hwsrc = pkt.src
            if "psrc" not in arp.fields:
                arp.psrc = node.lab.live().route_get(node.name, arp.pdst).src or "0.0.0.0"
        if IP in pkt and "src" not in pkt[IP].fields:
            pkt[IP].src = node.lab.live().route_get(node.name, pkt[IP].dst).src
        return pkt, iface
    if isinstance(pkt, IP):
        if "src" not in pkt.fields:
            pkt.src = node.lab.live().route_get(node.name, pkt.dst).src
        return pkt, None
    raise NetnbError("send an Ether(...) frame or an IP(...) packet")


def send(node: Host, pkt: Packet, iface: str | None = None, count: int = 1) -> Packet:
    """Send ``pkt`` from ``node``; returns the packet as sent (with the addresses filled in)."""
    checks.count(count)
    ready, ifname = prepare(node, pkt, iface)
    node.lab.live().send(node.name, bytes(ready), ifname=ifname, dest=None if ifname else ready[IP].dst, count=count)
    return ready


def sr1(node: Host, pkt: Packet, timeout: float = 2.0, iface: str | None = None) -> Packet | None:
    """Send ``pkt`` from ``node`` and return the first packet that answers it (None after ``timeout``)."""
    checks.seconds(timeout)
    ready, ifname = prepare(node, pkt, iface)
    if ifname is None:
        ifname = node.lab.live().route_get(node.name, ready[IP].dst).dev
    def answers(p: Packet) -> bool:
        if isinstance(ready, Ether):
            return bool(p.answers(ready))
        return IP in p and bool(p[IP].answers(ready))

    from netnb.capture.capture import Capture

    with Capture(node.lab, [f"{node.name}:{ifname}"], remember_owners=False, ring_mib=2) as cap:  # one answer
        send(node, ready, iface if isinstance(ready, Ether) else None)
        deadline = time.monotonic() + timeout
        checked = 0
        while time.monotonic() < deadline:
            cap.refresh()
            for i in range(checked, len(cap)):
                p = cap[i]
                if p.direction == 1 and answers(p):
                    return p
            checked = len(cap)
            time.sleep(0.005)
    return None
