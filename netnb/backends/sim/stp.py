"""The spanning tree protocol of a simulated Linux bridge (802.1D, as the kernel's br_stp*.c runs it).

Bridge and port identifiers, root election by the lowest (root, cost, bridge, port) vector, a root port and
designated ports, every other port blocking; ports go listening → learning → forwarding, one forward delay
each (netnb sets 2 s); the root sends configuration BPDUs every hello time and the others relay them from
their root port. Frames are real 802.3/LLC BPDUs (52 bytes, to 01:80:c2:00:00:00), so captures show them.
Topology-change notifications (TCN BPDUs and the TC flag) are not sent: a lab's first minutes have no
topology change to report apart from ports coming up, and nothing a user reads depends on them.
Written by hand: the kernel's STP has no counterpart outside a kernel to borrow.

>>> vector(1, 2, 3, 4) < vector(1, 2, 3, 5)
True
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from netnb.backends.sim.clock import NS, Timer

if TYPE_CHECKING:
    from netnb.backends.sim.world import Bridge, Device

STP_GROUP = bytes.fromhex("0180c2000000")
PRIORITY = 0x8000
PORT_BITS = 10           # a port id is its priority (0-63, default 32) above a 10-bit port number
HELLO_NS = 2 * NS
HOLD_NS = 1 * NS
MAX_AGE_NS = 20 * NS


def vector(*parts: object) -> tuple[object, ...]:
    """A comparable priority vector (lower is better)."""
    return tuple(parts)


class Port:
    """One port's STP information."""

    def __init__(self, device: Device, number: int, bridge_id: bytes, priority: int) -> None:
        self.device = device
        self.number = number
        self.port_id = (priority << PORT_BITS) | number
        self.state = "blocking"
        self.designated_root = bridge_id
        self.designated_cost = 0
        self.designated_bridge = bridge_id
        self.designated_port = self.port_id
        self.timer: Timer | None = None
        self.age_timer: Timer | None = None
        self.hold_until = 0
        self.pending: Timer | None = None


class Stp:
    """STP for one bridge."""

    def __init__(self, bridge: Bridge, forward_delay_ns: int) -> None:
        self.bridge = bridge
        self.forward_delay_ns = forward_delay_ns
        self.ports: dict[int, Port] = {}   # id(device) -> Port
        self.numbers = 0
        self.root_id = self.bridge_id
        self.root_cost = 0
        self.root_port: Port | None = None
        self.hello: Timer | None = None

    @property
    def bridge_id(self) -> bytes:
        return struct.pack("!H", self.bridge.priority) + self.bridge.mac

    @property
    def clock(self):  # type: ignore[no-untyped-def]
        return self.bridge.stack.world.clock

    def is_root(self) -> bool:
        return self.root_id == self.bridge_id

    # -- ports come and go ------------------------------------------------------------------
    def port(self, device: Device) -> Port:
        found = self.ports.get(id(device))
        if found is None:
            self.numbers += 1
            found = Port(device, self.numbers, self.bridge_id, self.bridge.port_flags(device).priority)
            self.ports[id(device)] = found
        return found

    def state(self, device: Device) -> str:
        if not (device.admin_up and device.carrier() and self.bridge.admin_up):
            return "disabled"
        return self.port(device).state

    def changed(self) -> None:
        """Ports, their carrier or the bridge's MAC changed: elect again."""
        for p in list(self.ports.values()):
            if p.device not in self.bridge.ports:
                self._stop(p)
                del self.ports[id(p.device)]
        for device in self.bridge.ports:
            p = self.port(device)
            if self.state(device) == "disabled":
                self._stop(p)
                p.state = "disabled" if p.state != "blocking" else p.state
                p.designated_root = p.designated_bridge = self.bridge_id
                p.designated_cost, p.designated_port = self.root_cost, p.port_id
            elif p.state == "disabled":
                p.state = "blocking"
        self._update()
        if self.hello is None and self.bridge.admin_up:
            self.hello = self.clock.after(0, self._hello)

    def port_changed(self, device: Device) -> None:
        """A port's priority or path cost was set: br_stp_set_port_priority / br_stp_set_path_cost."""
        p = self.port(device)
        new_id = (self.bridge.port_flags(device).priority << PORT_BITS) | p.number
        if p.designated_bridge == self.bridge_id and p.designated_port == p.port_id:
            p.designated_port = new_id
        p.port_id = new_id
        self._update()

    def _cost(self, p: Port) -> int:
        return self.bridge.port_flags(p.device).cost

    def _stop(self, p: Port) -> None:
        for t in (p.timer, p.age_timer, p.pending):
            if t is not None:
                t.cancel()
        p.timer = p.age_timer = p.pending = None

    # -- the election ---------------------------------------------------------------------------
    def _enabled(self) -> list[Port]:
        return [p for p in self.ports.values() if self.state(p.device) != "disabled"]

    def _update(self) -> None:
        """br_configuration_update + br_port_state_selection."""
        own = self.bridge_id
        best: Port | None = None
        for p in self._enabled():
            if p.designated_bridge == own and p.designated_port == p.port_id:
                continue  # our own information
            if p.designated_root >= own:
                continue
            if best is None or vector(p.designated_root, p.designated_cost + self._cost(p), p.designated_bridge,
                                      p.designated_port, p.port_id) < vector(
                    best.designated_root, best.designated_cost + self._cost(best), best.designated_bridge,
                    best.designated_port, best.port_id):
                best = p
        self.root_port = best
        if best is None:
            self.root_id, self.root_cost = own, 0
        else:
            self.root_id, self.root_cost = best.designated_root, best.designated_cost + self._cost(best)
        for p in self._enabled():
            if p is self.root_port:
                continue
            mine = vector(self.root_id, self.root_cost, own, p.port_id)
            heard = vector(p.designated_root, p.designated_cost, p.designated_bridge, p.designated_port)
            if (p.designated_bridge == own and p.designated_port == p.port_id) or mine < heard:
                p.designated_root, p.designated_cost = self.root_id, self.root_cost
                p.designated_bridge, p.designated_port = own, p.port_id
        for p in self._enabled():
            designated = p.designated_bridge == own and p.designated_port == p.port_id
            if p is self.root_port or designated:
                if p.state == "blocking":
                    p.state = "listening"
                    p.timer = self.clock.after(self.forward_delay_ns, self._forward_delay, p)
            elif p.state != "blocking":
                self._stop(p)
                p.state = "blocking"

    def _forward_delay(self, p: Port) -> None:
        p.timer = None
        if p.state == "listening":
            p.state = "learning"
            p.timer = self.clock.after(self.forward_delay_ns, self._forward_delay, p)
        elif p.state == "learning":
            p.state = "forwarding"

    # -- BPDUs ------------------------------------------------------------------------------------
    def _hello(self) -> None:
        if self.bridge.stp is not self or not self.bridge.admin_up:
            self.hello = None
            return
        if self.is_root():
            self._send_all()
        self.hello = self.clock.after(HELLO_NS, self._hello)

    def _send_all(self) -> None:
        own = self.bridge_id
        for p in self._enabled():
            if p.designated_bridge == own and p.designated_port == p.port_id:
                self._send(p)

    def _send(self, p: Port) -> None:
        """br_transmit_config: at most one BPDU a port per hold time (1 s); one asked for sooner waits."""
        now = self.clock.now
        if now < p.hold_until:
            if p.pending is None:
                p.pending = self.clock.at(p.hold_until, self._send_pending, p)
            return
        p.hold_until = now + HOLD_NS
        body = struct.pack("!HBBB8sI8sHHHHH", 0, 0, 0, 0, self.root_id, self.root_cost, self.bridge_id, p.port_id,
                           0 if self.is_root() else 256, MAX_AGE_NS // NS * 256, HELLO_NS // NS * 256,
                           self.forward_delay_ns // NS * 256)
        frame = STP_GROUP + p.device.mac + struct.pack("!H", 3 + len(body)) + b"\x42\x42\x03" + body
        p.device.transmit(frame)

    def _send_pending(self, p: Port) -> None:
        p.pending = None
        if self.state(p.device) != "disabled" and p.designated_bridge == self.bridge_id \
                and p.designated_port == p.port_id:
            self._send(p)

    def receive(self, device: Device, frame: bytes) -> None:
        """A BPDU arrived on a port (br_stp_rcv)."""
        if self.state(device) == "disabled" or len(frame) < 14 + 3 + 35 or frame[14:17] != b"\x42\x42\x03":
            return
        proto, version, kind, _flags, root, cost, bridge, port_id, age, *_ = struct.unpack_from(
            "!HBBB8sI8sHHHHH", frame, 17)
        if proto != 0 or kind != 0:
            return
        p = self.port(device)
        heard = vector(root, cost, bridge, port_id)
        recorded = vector(p.designated_root, p.designated_cost, p.designated_bridge, p.designated_port)
        if heard < recorded or (bridge == p.designated_bridge and port_id == p.designated_port):
            was_root = self.is_root()
            p.designated_root, p.designated_cost, p.designated_bridge, p.designated_port = root, cost, bridge, port_id
            if p.age_timer is not None:
                p.age_timer.cancel()
            p.age_timer = self.clock.after(MAX_AGE_NS - age * NS // 256, self._expired, p)
            self._update()
            if was_root and not self.is_root() and self.hello is None:
                self.hello = self.clock.after(HELLO_NS, self._hello)
            if p is self.root_port:
                self._send_all()  # relay the root's hello on our designated ports
        elif p.designated_bridge == self.bridge_id and p.designated_port == p.port_id:
            self._send(p)  # a worse BPDU on a segment we are designated for: tell it better

    def _expired(self, p: Port) -> None:
        p.age_timer = None
        p.designated_root = p.designated_bridge = self.bridge_id
        p.designated_cost, p.designated_port = self.root_cost, p.port_id
        self._update()

    def settling(self) -> bool:
        """Whether a port is still listening or learning (a lab is not ready until none is)."""
        return any(p.state in ("listening", "learning") for p in self._enabled())
