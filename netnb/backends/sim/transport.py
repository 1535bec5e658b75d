"""UDP and TCP for simulated nodes: sockets programs bind, listen on, connect and talk through.

TCP here is what a lab's short conversations need, shaped like Linux's on the wire: a SYN with Linux's
options (MSS, SACK permitted, timestamps, window scale), the handshake, data in segments of at most the
MSS with timestamps, an ACK for each data segment (Linux acknowledges at once while a connection is young:
"quick ack" mode), FIN in both directions, RST for a closed port or an aborted connection, SYN
retransmissions (1 s, then doubling) when nothing answers, and the errors a program sees (refused,
unreachable, timed out). There is no loss to recover from inside a simulation except what a firewall
drops, so data is not retransmitted. Written by hand: no TCP stack runs without a kernel.

>>> Tcp.__name__
'Tcp'
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from netnb.backends.sim import frames as fr
from netnb.backends.sim.clock import NS, Timer

if TYPE_CHECKING:
    from netnb.backends.sim.world import Device, Stack

IPv4 = ipaddress.IPv4Address

MSS = 1460
WINDOW = 64240          # Linux's initial window (with window scale 7 offered)
DELAYED_ACK_NS = 40_000_000   # TCP_DELACK_MIN
SYN_RETRIES_NS = [1 * NS, 2 * NS, 4 * NS, 8 * NS, 16 * NS, 32 * NS]


class Udp:
    """A bound UDP socket: datagrams for its port queue up until read."""

    kind = "udp"

    def __init__(self, stack: Stack, address: bytes, port: int) -> None:
        self.stack, self.address, self.port = stack, address, port
        self.queue: list[tuple[bytes, int, bytes]] = []  # (source address, source port, data)
        self.errors: list[str] = []

    #: A bound UDP socket waits for any peer (``ss -lun`` lists it).
    listening = True

    def deliver(self, packet: fr.Ip) -> None:
        sport, _, data = fr.parse_udp(packet.payload)
        self.queue.append((packet.src, sport, data))

    def sendto(self, data: bytes, address: bytes, port: int) -> str | None:
        src = self.address
        if src == bytes(4):
            route = self.stack.lookup_source(address)
            src = route or bytes(4)
        body = fr.udp(src, address, self.port, port, data)
        return self.stack.send_ip(fr.Ip(src, address, fr.PROTO_UDP, body, ident=self.stack.next_ip_id()))

    def close(self) -> None:
        self.stack.unbind(self)


class Tcp:
    """One TCP endpoint: a listener, or one side of a connection."""

    kind = "tcp"

    def __init__(self, stack: Stack, address: bytes, port: int) -> None:
        self.stack, self.address, self.port = stack, address, port
        self.remote: tuple[bytes, int] | None = None
        self.state = "CLOSED"
        self.backlog: list[Tcp] = []           # a listener's connections, ready to accept
        self.received = bytearray()
        self.peer_closed = False
        self.error: str | None = None
        self.snd_nxt = self.snd_una = self.iss = 0
        self.rcv_nxt = 0
        self.ts_recent = 0
        self.parent: Tcp | None = None
        self._timer: Timer | None = None
        self._ack_timer: Timer | None = None
        self._syn_tries = 0
        self.on_change: Callable[[], None] | None = None

    @property
    def listening(self) -> bool:
        return self.state == "LISTEN"

    # -- making segments ----------------------------------------------------------------------
    def _ts(self) -> bytes:
        now_ms = (self.stack.world.clock.now // 1_000_000) & 0xFFFFFFFF
        return struct.pack("!BBII", 8, 10, (now_ms + self.stack.ts_offset) & 0xFFFFFFFF, self.ts_recent)

    def _segment(self, flags: int, payload: bytes = b"", syn_options: bool = False) -> None:
        assert self.remote is not None
        if flags & fr.ACK and self._ack_timer is not None:  # this segment carries the delayed ACK
            self._ack_timer.cancel()
            self._ack_timer = None
        if syn_options:  # as Linux: MSS, SACK permitted, timestamps, NOP, window scale 7
            options = struct.pack("!BBH", 2, 4, MSS) + b"\x04\x02" + self._ts() + b"\x01" + b"\x03\x03\x07"
            window = WINDOW if flags == fr.SYN else 65160
        else:
            options = b"\x01\x01" + self._ts()
            window = 502
        seq = self.snd_nxt
        body = fr.tcp(self.address, self.remote[0], self.port, self.remote[1], seq,
                      self.rcv_nxt if flags & fr.ACK else 0, flags, window, payload, options)
        self.snd_nxt = (self.snd_nxt + len(payload) + (1 if flags & (fr.SYN | fr.FIN) else 0)) & 0xFFFFFFFF
        packet = fr.Ip(self.address, self.remote[0], fr.PROTO_TCP, body, ident=self.stack.next_ip_id())
        error = self.stack.send_ip(packet)
        if error is not None and self.state == "SYN_SENT":
            self.fail(error)

    # -- opening ---------------------------------------------------------------------------------
    def connect(self, address: bytes, port: int) -> None:
        self.remote = (address, port)
        self.iss = self.stack.world.rnd.getrandbits(32)
        self.snd_nxt = self.snd_una = self.iss
        self.state = "SYN_SENT"
        self.stack.register(self)
        self._send_syn()

    def _send_syn(self) -> None:
        if self.state != "SYN_SENT":
            return
        if self._syn_tries >= len(SYN_RETRIES_NS):
            self.fail("Connection timed out")
            return
        self.snd_nxt = self.iss
        self._segment(fr.SYN, syn_options=True)
        if self.state == "SYN_SENT":
            self._timer = self.stack.world.clock.after(SYN_RETRIES_NS[self._syn_tries], self._send_syn)
            self._syn_tries += 1

    def fail(self, error: str) -> None:
        self.error = error
        self.state = "CLOSED"
        self.stack.unregister(self)
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    # -- talking ---------------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        """Queue ``data`` on the wire at once, in MSS-sized segments (no congestion to wait for here)."""
        if self.state not in ("ESTABLISHED", "CLOSE_WAIT"):
            return
        for i in range(0, len(data), MSS - 12):
            self._segment(fr.ACK | fr.PSH, data[i:i + MSS - 12])

    def close(self) -> None:
        """Close: FIN after what was sent (RST if data it never read is still waiting, as Linux does)."""
        if self.state == "LISTEN":
            self.state = "CLOSED"
            self.stack.unbind(self)
            for child in self.backlog:
                child.abort()
            return
        if self.state in ("SYN_SENT", "CLOSED"):
            if self._timer is not None:
                self._timer.cancel()
            self.state = "CLOSED"
            self.stack.unregister(self)
            return
        if self.state in ("ESTABLISHED", "CLOSE_WAIT", "SYN_RECV"):
            if self.received and self.state == "ESTABLISHED":
                self.abort()
                return
            self._segment(fr.FIN | fr.ACK)
            self.state = "FIN_WAIT1" if self.state in ("ESTABLISHED", "SYN_RECV") else "LAST_ACK"

    def abort(self) -> None:
        if self.remote is not None and self.state not in ("CLOSED", "LISTEN", "SYN_SENT"):
            self._segment(fr.RST | fr.ACK)
        self.state = "CLOSED"
        self.stack.unregister(self)

    # -- receiving -------------------------------------------------------------------------------
    def segment(self, packet: fr.Ip, seg: fr.Tcp, dev: Device) -> None:
        """A segment for this endpoint (a listener gets SYNs)."""
        self._note_ts(seg)
        if self.state == "LISTEN":
            if seg.flags & fr.SYN and not seg.flags & fr.ACK:
                self._accept_syn(packet, seg)
            elif not seg.flags & fr.RST:
                self.stack.tcp_reset(packet)
            return
        if seg.flags & fr.RST:
            if self.state == "SYN_SENT":
                if self._timer is not None:
                    self._timer.cancel()
                self.fail("Connection refused")
            else:
                self.error = "Connection reset by peer"
                self.peer_closed = True
                self.state = "CLOSED"
                self.stack.unregister(self)
                self._changed()
            return
        if self.state == "SYN_SENT":
            if seg.flags & fr.SYN and seg.flags & fr.ACK and seg.ack == (self.iss + 1) & 0xFFFFFFFF:
                if self._timer is not None:
                    self._timer.cancel()
                self.rcv_nxt = (seg.seq + 1) & 0xFFFFFFFF
                self.snd_una = seg.ack
                self.state = "ESTABLISHED"
                self._segment(fr.ACK)
                self.stack.confirm(dev, self._peer_hop())
                self._changed()
            return
        if self.state == "SYN_RECV" and seg.flags & fr.ACK:
            self.state = "ESTABLISHED"
            if self.parent is not None and self.parent.state == "LISTEN":
                self.parent.backlog.append(self)
                self.parent._changed()
        data = seg.payload
        if data:
            if seg.seq != self.rcv_nxt:
                self._segment(fr.ACK)  # out of order or a repeat: say what we expect
                return
            self.received += data
            self.rcv_nxt = (self.rcv_nxt + len(data)) & 0xFFFFFFFF
        delay_ack = False
        if seg.flags & fr.FIN:
            self.rcv_nxt = (self.rcv_nxt + 1) & 0xFFFFFFFF
            self.peer_closed = True
            if self.state == "ESTABLISHED":
                # As tcp_fin(): CLOSE_WAIT enters "pingpong" mode, so the FIN's ACK waits (delayed ACK,
                # 40 ms) and usually leaves with the program's own FIN.
                self.state = "CLOSE_WAIT"
                delay_ack = not data
            elif self.state in ("FIN_WAIT1", "FIN_WAIT2"):
                self.state = "TIME_WAIT"
                self.stack.unregister(self, linger=True)
        if delay_ack:
            self._ack_timer = self.stack.world.clock.after(DELAYED_ACK_NS, self._delayed_ack)
        elif data or seg.flags & fr.FIN:
            self._segment(fr.ACK)
        if seg.flags & fr.ACK:
            self.snd_una = seg.ack
            if self.state == "FIN_WAIT1" and seg.ack == self.snd_nxt:
                self.state = "FIN_WAIT2"
            elif self.state == "LAST_ACK" and seg.ack == self.snd_nxt:
                self.state = "CLOSED"
                self.stack.unregister(self)
        self._changed()

    def _delayed_ack(self) -> None:
        if self._ack_timer is not None and self.state == "CLOSE_WAIT":
            self._ack_timer = None
            self._segment(fr.ACK)

    def _peer_hop(self) -> IPv4:
        assert self.remote is not None
        route = self.stack.lookup(ipaddress.IPv4Address(self.remote[0]))
        return route.via if route is not None and route.via is not None else ipaddress.IPv4Address(self.remote[0])

    def _note_ts(self, seg: fr.Tcp) -> None:
        opts = seg.options
        i = 0
        while i < len(opts):
            kind = opts[i]
            if kind == 0:
                break
            if kind == 1:
                i += 1
                continue
            if i + 1 >= len(opts):
                break
            size = opts[i + 1]
            if kind == 8 and size == 10:
                self.ts_recent = struct.unpack_from("!I", opts, i + 2)[0]
            i += max(size, 2)

    def _accept_syn(self, packet: fr.Ip, seg: fr.Tcp) -> None:
        child = Tcp(self.stack, packet.dst, self.port)
        child.remote = (packet.src, seg.sport)
        child.parent = self
        child.ts_recent = self.ts_recent
        child.iss = self.stack.world.rnd.getrandbits(32)
        child.snd_nxt = child.snd_una = child.iss
        child.rcv_nxt = (seg.seq + 1) & 0xFFFFFFFF
        child.state = "SYN_RECV"
        self.stack.register(child)
        child._segment(fr.SYN | fr.ACK, syn_options=True)

    def accept(self) -> Tcp | None:
        return self.backlog.pop(0) if self.backlog else None

    def read(self) -> bytes:
        data = bytes(self.received)
        self.received.clear()
        return data

