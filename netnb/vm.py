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
import fcntl
import ipaddress
import json
import os
import select
import socket
import struct
import time

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
    """The guest's network stack: one interface, one address, a default gateway."""

    def __init__(self, tap: str, mac: str, ip: str, gateway: str | None) -> None:
        self.fd = os.open("/dev/net/tun", os.O_RDWR)
        fcntl.ioctl(self.fd, TUNSETIFF, struct.pack("16sH", tap.encode(), IFF_TAP | IFF_NO_PI))
        self.mac = mac_bytes(mac)
        self.iface = ipaddress.IPv4Interface(ip)
        self.ip = self.iface.ip.packed
        self.gateway = ipaddress.IPv4Address(gateway).packed if gateway else None
        self.arp: dict[bytes, bytes] = {}
        self.replies: dict[int, float] = {}   # ICMP sequence -> time the echo reply came
        self.ident = os.getpid() & 0xFFFF

    def send(self, dst_mac: bytes, ethertype: int, payload: bytes) -> None:
        os.write(self.fd, dst_mac + self.mac + struct.pack("!H", ethertype) + payload)

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
                self.replies[struct.unpack("!H", icmp[6:8])[0]] = time.monotonic()

    def pump(self, seconds: float) -> None:
        """Read and handle frames for a while."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                self.handle(os.read(self.fd, 65535))

    def resolve(self, ip: bytes, timeout: float = 1.0) -> bytes | None:
        """The MAC for ``ip`` from the ARP table, asking by broadcast if needed."""
        for _ in range(3):
            if ip in self.arp:
                return self.arp[ip]
            self.send(BROADCAST, ETH_ARP, self.arp_packet(1, b"\0" * 6, ip))
            end = time.monotonic() + timeout / 3
            while ip not in self.arp and time.monotonic() < end:
                self.pump(0.01)
        return self.arp.get(ip)

    def ping(self, dst: str, count: int, timeout: float) -> dict[str, object]:
        """Echo requests to ``dst`` through the right next hop; what came back, with round-trip times."""
        target = ipaddress.IPv4Address(dst)
        hop = target.packed if target in self.iface.network or self.gateway is None else self.gateway
        mac = self.resolve(hop)
        rtts: list[float] = []
        self.replies.clear()
        self.ident = (self.ident + 1) & 0xFFFF  # a new id per ping run: late replies of an earlier run don't count
        for seq in range(1, count + 1):
            if mac is None:
                break
            payload = struct.pack("!d", time.time()) + b"netnb-vm".ljust(48, b".")
            icmp = struct.pack("!BBHHH", 8, 0, 0, self.ident, seq) + payload
            icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
            sent = time.monotonic()
            self.send(mac, ETH_IP, self.ip_packet(target.packed, 1, icmp, (self.ident + seq) & 0xFFFF))
            end = sent + timeout
            while seq not in self.replies and time.monotonic() < end:
                self.pump(0.005)
            if seq in self.replies:
                rtts.append((self.replies[seq] - sent) * 1000)
            self.pump(max(0.0, 0.1 - (time.monotonic() - sent)))
        return {"sent": count, "received": len(rtts), "rtt_ms": rtts, "resolved": mac is not None,
                "hop": str(ipaddress.IPv4Address(hop))}


def main(argv: list[str] | None = None) -> None:
    """Run the guest until killed: serve frames and control requests."""
    p = argparse.ArgumentParser(prog="netnb-vm")
    p.add_argument("--tap", required=True)
    p.add_argument("--mac", required=True)
    p.add_argument("--ip", required=True)
    p.add_argument("--gateway")
    p.add_argument("--control", required=True)
    a = p.parse_args(argv)
    guest = Guest(a.tap, a.mac, a.ip, a.gateway)
    ctl = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ctl.bind(a.control)
    os.chmod(a.control, 0o600)
    print(f"vm on {a.tap}: {a.mac} {a.ip} gateway {a.gateway}", flush=True)
    while True:
        ready, _, _ = select.select([guest.fd, ctl.fileno()], [], [])
        if guest.fd in ready:
            guest.handle(os.read(guest.fd, 65535))
        if ctl.fileno() in ready:
            data, peer = ctl.recvfrom(65535)
            request = json.loads(data)
            if request.get("cmd") == "ping":
                answer: object = guest.ping(request["dst"], int(request.get("count", 1)),
                                            float(request.get("timeout", 1.0)))
            elif request.get("cmd") == "arp":
                answer = {str(ipaddress.IPv4Address(k)): v.hex(":") for k, v in guest.arp.items()}
            else:
                answer = {"error": f"unknown command {request.get('cmd')!r}"}
            ctl.sendto(json.dumps(answer).encode(), peer)


if __name__ == "__main__":
    main()
