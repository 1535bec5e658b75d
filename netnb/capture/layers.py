"""scapy's layers as netnb reads them, loaded in one place, only when a frame is first looked at.

Importing this module binds IP, ARP, TCP, UDP, ICMP and VXLAN under Ether (so ``Ether(bytes)`` decodes
them) and prepares scapy where it was not made to run: in Pyodide (``sys.platform == "emscripten"``)
Python's ``socket`` says IPv6 is off and has no ``inet_pton`` for it, which scapy's IPv6 layer (needed
by VXLAN's) refuses at import; there ``socket`` gets ``inet_pton``/``inet_ntop`` for IPv6 from ``ipaddress``, and scapy's warnings that it can do no I/O (netnb does none through scapy there) are hushed.

>>> Ether(bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src="10.0.0.1", dst="10.0.0.2")
...     / ICMP())).summary()
'Ether / IP / ICMP 10.0.0.1 > 10.0.0.2 echo-request 0'
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import sys
from typing import Any


def _prepare_pyodide() -> None:
    pton, ntop = socket.inet_pton, socket.inet_ntop

    def inet_pton(family: int, address: str) -> bytes:
        return ipaddress.IPv6Address(address).packed if family == socket.AF_INET6 else pton(family, address)

    def inet_ntop(family: int, packed: Any) -> str:
        return str(ipaddress.IPv6Address(bytes(packed))) if family == socket.AF_INET6 else ntop(family, packed)

    socket.inet_pton, socket.inet_ntop = inet_pton, inet_ntop  # type: ignore[assignment]
    socket.has_ipv6 = True
    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    logging.getLogger("scapy.loading").setLevel(logging.CRITICAL + 1)  # "I/O will NOT work": none is asked of it


if sys.platform == "emscripten" and not socket.has_ipv6:  # pragma: no cover (Pyodide; tests/pyodide covers it)
    _prepare_pyodide()

from scapy.layers.inet import ICMP, IP, TCP, UDP  # noqa: E402
from scapy.layers.l2 import ARP, Ether  # noqa: E402
from scapy.layers.vxlan import VXLAN  # noqa: E402
from scapy.packet import Packet, Raw  # noqa: E402

__all__ = ["ARP", "ICMP", "IP", "TCP", "UDP", "VXLAN", "Ether", "Packet", "Raw"]
