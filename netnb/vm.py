"""A "virtual machine" as far as the network can tell: a process doing frame I/O on a TAP device.

That is all a hypervisor does for a VM's network card: what the guest writes becomes a frame leaving the
TAP device on the host, and what the host sends to the TAP device is what the guest reads. This tiny
guest answers ARP and ping, and pings on request (through its gateway when the target is elsewhere).
Written by hand on purpose: it *is* the teaching point (an Ethernet/ARP/IPv4/ICMP stack in a page).

    python -m netnb.vm --tap vm1 --mac 52:54:00:00:00:01 --ip 10.0.1.11/24 --gateway 10.0.1.1 \\
        --control /tmp/vm1.sock

The control socket takes JSON datagrams: ``{"cmd": "ping", "dst": "203.0.113.80", "count": 3}``
answers ``{"sent": 3, "received": 3, "rtt_ms": [...]}``; ``{"cmd": "arp"}`` answers the ARP table.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import select
import socket
import struct
import time
from collections.abc import Callable, Generator
from typing import Any

try:
    import fcntl
except ImportError:  # (Pyodide, Windows: no TAP devices there; the simulation drives the guest itself)
    fcntl = None  # type: ignore[assignment]

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
ETH_ARP, ETH_IP = 0x0806, 0x0800
BROADCAST = b"\xff" * 6


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


class Guest:
    """The guest's network stack: one interface, one address, a default gateway. Frames go out through
    ``write``; time comes from ``clock`` (the simulation gives its own); waiting is left to a driver (see
    :meth:`ping`), so the same guest runs on a TAP file descriptor or in the simulated backend."""

    def __init__(self, mac: str, ip: str, gateway: str | None, write: Callable[[bytes], object],
                 clock: Callable[[], float] = time.monotonic, ident: int = 0) -> None:
        self.write = write
        self.clock = clock
        self.mac = mac_bytes(mac)
        self.iface = ipaddress.IPv4Interface(ip)
        self.ip = self.iface.ip.packed
        self.gateway = ipaddress.IPv4Address(gateway).packed if gateway else None
        self.arp: dict[bytes, bytes] = {}
        self.replies: dict[int, float] = {}   # ICMP sequence -> time the echo reply came
        self.ident = ident & 0xFFFF

    def send(self, dst_mac: bytes, ethertype: int, payload: bytes) -> None:
        self.write(dst_mac + self.mac + struct.pack("!H", ethertype) + payload)

    def arp_packet(self, op: int, target_mac: bytes, target_ip: bytes) -> bytes:
        return struct.pack("!HHBBH", 1, ETH_IP, 6, 4, op) + self.mac + self.ip + target_mac + target_ip

    def ip_packet(self, dst: bytes, proto: int, payload: bytes, ident: int) -> bytes:
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, 64, proto, 0, self.ip, dst)
        return header[:10] + struct.pack("!H", checksum(header)) + header[12:] + payload

    def handle(self, frame: bytes) -> None:
        """React to one frame read from the TAP device."""
        if len(frame) < 14 or (frame[:6] not in (self.mac, BROADCAST)):
            return
        ethertype = struct.unpack("!H", frame[12:14])[0]
        body = frame[14:]
        if ethertype == ETH_ARP and len(body) >= 28:
            op = struct.unpack("!H", body[6:8])[0]
            sender_mac, sender_ip, target_ip = body[8:14], body[14:18], body[24:28]
            self.arp[sender_ip] = sender_mac
            if op == 1 and target_ip == self.ip:
                self.send(sender_mac, ETH_ARP, self.arp_packet(2, sender_mac, sender_ip))
        elif ethertype == ETH_IP and len(body) >= 20 and body[16:20] == self.ip and body[9] == 1:
            ihl = (body[0] & 0x0F) * 4
            icmp = body[ihl:struct.unpack("!H", body[2:4])[0]]
            if len(icmp) < 8:
                return
            if icmp[0] == 8:  # echo request: answer it
                reply = b"\0\0\0\0" + icmp[4:]
                reply = reply[:2] + struct.pack("!H", checksum(reply)) + reply[4:]
                self.send(frame[6:12], ETH_IP, self.ip_packet(body[12:16], 1, reply, 0))
            elif icmp[0] == 0 and struct.unpack("!H", icmp[4:6])[0] == self.ident:
                self.replies[struct.unpack("!H", icmp[6:8])[0]] = self.clock()

    def ping(self, dst: str, count: int, timeout: float) -> Waits:
        """Echo requests to ``dst`` through the right next hop; returns what came back, with round-trip times.

        A generator: it yields ``(seconds, ready)`` — "let frames in for up to this long, or until ready()"
        — and its driver (a select loop on the TAP device, or the simulation's clock) does the waiting."""
        target = ipaddress.IPv4Address(dst)
        hop = target.packed if target in self.iface.network or self.gateway is None else self.gateway
        for _ in range(3):  # resolve the next hop: the ARP table, else ask by broadcast
            if hop in self.arp:
                break
            self.send(BROADCAST, ETH_ARP, self.arp_packet(1, b"\0" * 6, hop))
            yield timeout / 3, lambda: hop in self.arp
        mac = self.arp.get(hop)
        rtts: list[float] = []
        self.replies.clear()
        self.ident = (self.ident + 1) & 0xFFFF  # a new id per ping run: late replies of an earlier run don't count
        for seq in range(1, count + 1):
            if mac is None:
                break
            payload = struct.pack("!d", time.time()) + b"netnb-vm".ljust(48, b".")
            icmp = struct.pack("!BBHHH", 8, 0, 0, self.ident, seq) + payload
            icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
            sent = self.clock()
            self.send(mac, ETH_IP, self.ip_packet(target.packed, 1, icmp, (self.ident + seq) & 0xFFFF))
            answered: Callable[[], bool] = lambda seq=seq: seq in self.replies  # type: ignore[misc]
            yield timeout, answered
            if seq in self.replies:
                rtts.append((self.replies[seq] - sent) * 1000)
            yield max(0.0, 0.1 - (self.clock() - sent)), lambda: False
        return {"sent": count, "received": len(rtts), "rtt_ms": rtts, "resolved": mac is not None,
                "hop": str(ipaddress.IPv4Address(hop))}

    def answer(self, request: dict[str, Any]) -> Waits:
        """A control request's answer: ``ping`` (see :meth:`ping`) or ``arp`` (the ARP table)."""
        if request.get("cmd") == "ping":
            return (yield from self.ping(request["dst"], int(request.get("count", 1)), float(request.get("timeout", 1.0))))
        if request.get("cmd") == "arp":
            return {str(ipaddress.IPv4Address(k)): v.hex(":") for k, v in self.arp.items()}
        return {"error": f"unknown command {request.get('cmd')!r}"}


#: What a guest's request yields while it waits, and what it finally returns.
Waits = Generator["tuple[float, Callable[[], bool]]", None, Any]


def open_tap(tap: str) -> int:
    """The file descriptor of TAP device ``tap`` (the VM's "network card")."""
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", tap.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def drive(guest: Guest, fd: int, steps: Waits) -> Any:
    """Run a guest's request on a TAP descriptor: read and handle frames while it waits."""
    try:
        wait = next(steps)
        while True:
            seconds, ready = wait
            end = time.monotonic() + seconds
            while not ready() and (left := end - time.monotonic()) > 0:
                readable, _, _ = select.select([fd], [], [], min(left, 0.005))
                if readable:
                    guest.handle(os.read(fd, 65535))
            wait = next(steps)
    except StopIteration as stop:
        return stop.value


def main(argv: list[str] | None = None) -> None:
    """Run the guest until killed: serve frames and control requests."""
    p = argparse.ArgumentParser(prog="netnb-vm")
    p.add_argument("--tap", required=True)
    p.add_argument("--mac", required=True)
    p.add_argument("--ip", required=True)
    p.add_argument("--gateway")
    p.add_argument("--control", required=True)
    a = p.parse_args(argv)
    fd = open_tap(a.tap)
    guest = Guest(a.mac, a.ip, a.gateway, lambda frame: os.write(fd, frame), ident=os.getpid())
    ctl = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ctl.bind(a.control)
    os.chmod(a.control, 0o600)
    print(f"vm on {a.tap}: {a.mac} {a.ip} gateway {a.gateway}", flush=True)
    while True:
        ready, _, _ = select.select([fd, ctl.fileno()], [], [])
        if fd in ready:
            guest.handle(os.read(fd, 65535))
        if ctl.fileno() in ready:
            data, peer = ctl.recvfrom(65535)
            answer = drive(guest, fd, guest.answer(json.loads(data)))
            ctl.sendto(json.dumps(answer).encode(), peer)


if __name__ == "__main__":
    main()
