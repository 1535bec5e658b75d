"""The simulated dataplane: namespaces ("stacks"), their devices, Linux bridges, ARP and IPv4.

Each piece follows what Linux does, as far as a lab can observe it (and as far as the differential tests
in ``tests/sim`` prove it): devices and their operational states, a bridge that takes the lowest MAC of its
ports and learns with ageing (0 = a hub), the neighbour state machine (INCOMPLETE with a request a second,
FAILED after three; STALE → DELAY → PROBE; a request to us makes the asker STALE), the weak host model
(any local address answers on any interface), longest-prefix routing with connected routes only while
a device is up, forwarding with TTL, and ICMP errors for what cannot be delivered.

Timers that only change what a later read shows (neighbour REACHABLE → STALE, FDB ageing) are computed
when read, from timestamps; only what puts frames on a wire is scheduled on the clock.

>>> w = World(seed=1); a = w.add_stack("A"); a.set_up("lo", True)
>>> [str(i) for i in a.devices["lo"].addresses]
['127.0.0.1/8']
"""

from __future__ import annotations

import collections
import collections.abc
import ipaddress
import itertools
import random
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from netnb.backends.sim import frames as fr
from netnb.backends.sim.clock import NS, Clock, Task, Timer
from netnb.backends.sim.transport import Tcp, Udp
from netnb.errors import BackendError
from netnb.model.shaping import Tbf, mult_shift
from netnb.model.topology import PORT_DEFAULTS

if TYPE_CHECKING:
    from netnb.backends.sim.netfilter import Netfilter
    from netnb.backends.sim.stp import Stp

IPv4 = ipaddress.IPv4Address
Net = ipaddress.IPv4Network
Iface = ipaddress.IPv4Interface

#: Time a frame takes through a veth pair (the kernel's is a few microseconds of CPU).
WIRE_NS = 20_000
#: Neighbour timing, as Linux's defaults (net.ipv4.neigh.default.*).
RETRANS_NS = 1 * NS
#: Kernel timers fire on the next tick after they are due (HZ=250 here): a neighbour's retry comes a little
#: after a program's timer set for the same second (ping's "pipe" count shows it).
JIFFY_NS = 4_000_000
MCAST_SOLICIT = 3
UCAST_SOLICIT = 3
DELAY_PROBE_NS = 5 * NS
BASE_REACHABLE_NS = 30 * NS
#: ICMP error rate limits, per destination of the error (an "inet peer"), as Linux keeps them: ip_error()
#: (a forwarded packet with no route) spends ip_rt_error_cost from a bucket of ip_rt_error_burst, then
#: icmp_send() spends net.ipv4.icmp_ratelimit from the same bucket, capped at 6 x that. Types in
#: net.ipv4.icmp_ratemask (unreachable, source quench, time exceeded, parameter problem) are limited.
ICMP_RATELIMIT_NS = 1 * NS
RT_ERROR_COST_NS = 1 * NS
RT_ERROR_BURST_NS = 5 * NS
ICMP_RATEMASK = {3, 4, 11, 12}

CaptureHook = Callable[[int, bytes, bool], None]


# -- devices ------------------------------------------------------------------------------------------
def secondary(dev: Device, address: Iface) -> bool:
    """Whether ``address`` is a secondary address of ``dev``: one made after another in the same subnet
    (the kernel makes no route for it and lists it as ``secondary``)."""
    for earlier in dev.addresses:
        if earlier == address:
            return False
        if earlier.network == address.network:
            return True
    return False


class Shaper:
    """A tbf qdisc on a device, as the kernel's sch_tbf runs it: a bucket of ``burst`` bytes' worth of time
    refilled at the rate (tokens in nanoseconds, a frame costing ``len * mult >> shift``), frames waiting in
    a queue of ``limit`` bytes while the bucket is short and dropped when it is full; sent, dropped and
    overlimit counts as ``tc -s`` shows them.

    One difference, on purpose: TCP segments wait however long the queue grows, where the kernel drops
    them at a full queue and the sender's TCP sends them again, slowing down — the simulation's TCP does
    not retransmit (nor slow down). A TCP transfer takes as long on both (its size over the rate); the
    kernel's drop count after one is not matched. UDP and ICMP beyond the queue are dropped as the kernel
    drops them."""

    def __init__(self, dev: Device, tbf: Tbf, handle: int) -> None:
        self.dev, self.handle = dev, handle
        self.retune(tbf)
        self.queue: collections.deque[bytes] = collections.deque()
        self.backlog = 0
        self.sent_bytes = self.sent_packets = self.drops = self.overlimits = 0
        self.timer: Timer | None = None

    def retune(self, tbf: Tbf) -> None:
        """New numbers for this qdisc (``tc qdisc change|replace``), its handle, queue and counters kept; the
        bucket starts full again, as tbf_change sets it."""
        self.tbf = tbf
        self.mult, self.shift = mult_shift(tbf.bytes_per_s)
        self.buffer_ns = tbf.bucket_ns()
        self.tokens = self.buffer_ns
        self.checked = self.dev.stack.world.clock.now

    def enqueue(self, frame: bytes) -> None:
        tcp = frame[12:14] == b"\x08\x00" and len(frame) > 23 and frame[23] == 6
        if len(frame) > self.tbf.burst or (not tcp and self.backlog + len(frame) > self.tbf.limit):
            self.drops += 1
            return
        self.queue.append(frame)
        self.backlog += len(frame)
        if self.timer is None:
            self.dequeue()

    def dequeue(self) -> None:
        self.timer = None
        clock = self.dev.stack.world.clock
        while self.queue:
            frame = self.queue[0]
            now = clock.now
            tokens = min(self.tokens + now - self.checked, self.buffer_ns) - ((len(frame) * self.mult) >> self.shift)
            if tokens < 0:
                self.overlimits += 1
                self.timer = clock.after(-tokens, self.dequeue)
                return
            self.tokens, self.checked = tokens, now
            self.queue.popleft()
            self.backlog -= len(frame)
            self.sent_bytes += len(frame)
            self.sent_packets += 1
            self.dev.send_now(frame)

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.queue.clear()
        self.backlog = 0


class Device:
    """A network device in a stack."""

    kind = "device"

    def __init__(self, stack: Stack, name: str, index: int, mac: bytes, mtu: int = 1500) -> None:
        self.stack, self.name, self.index, self.mac, self.mtu = stack, name, index, mac, mtu
        self.admin_up = False
        self.master: Bridge | None = None
        self.addresses: list[Iface] = []
        self.rx_packets = 0
        self.tx_packets = 0
        self.hooks: list[CaptureHook] = []
        self.mac_set = False  # given explicitly (a bridge then keeps it)
        self.shaper: Shaper | None = None
        #: What its default qdisc sent (pfifo_fast on a TAP counts; noqueue devices have none).
        self.qdisc_bytes = self.qdisc_packets = 0

    # what `ip link` says
    def carrier(self) -> bool:
        return True

    def operstate(self) -> str:
        if not self.admin_up:
            return "DOWN"
        return "UP" if self.carrier() else "DOWN"

    def flags(self) -> list[str]:
        out = [] if self.carrier() or not self.admin_up else ["NO-CARRIER"]
        out += ["BROADCAST", "MULTICAST"]
        if self.admin_up:
            out.append("UP")
            if self.carrier():
                out.append("LOWER_UP")
        return out

    @property
    def running(self) -> bool:
        """Up, and able to carry frames."""
        return self.admin_up and self.carrier()

    def _seen(self, frame: bytes, outgoing: bool) -> None:
        stamp = self.stack.world.capture_stamp()
        for hook in self.hooks:
            hook(stamp, frame, outgoing)

    def transmit(self, frame: bytes) -> None:
        """Put a frame on this device (from the stack or a bridge): through its tbf qdisc when it has one."""
        if not self.admin_up or not self.carrier():
            return
        if self.shaper is not None:
            self.shaper.enqueue(frame)
            return
        self.send_now(frame)

    def send_now(self, frame: bytes) -> None:
        """The frame leaves: counted, seen by captures (after the qdisc, as AF_PACKET sees it), on the wire."""
        if not self.admin_up or not self.carrier():
            return
        self.qdisc_bytes += len(frame)
        self.qdisc_packets += 1
        self.tx_packets += 1
        if self.hooks:
            self._seen(frame, True)
        self.wire(frame)

    def wire(self, frame: bytes) -> None:
        """What happens to a frame once it left (device specific)."""

    def receive(self, frame: bytes) -> None:
        """A frame arrives on this device."""
        if not self.admin_up or not self.carrier():
            return
        self.rx_packets += 1
        if self.hooks:
            self._seen(frame, False)
        if self.master is not None:
            self.master.from_port(self, frame)
        else:
            self.stack.l2_receive(self, frame)


class Loopback(Device):
    kind = "loopback"

    def operstate(self) -> str:
        return "UNKNOWN" if self.admin_up else "DOWN"

    def flags(self) -> list[str]:
        return ["LOOPBACK"] + (["UP", "LOWER_UP"] if self.admin_up else [])

    def wire(self, frame: bytes) -> None:
        self.stack.world.clock.after(0, self.receive, frame)


class Veth(Device):
    kind = "veth"
    peer: Veth

    def carrier(self) -> bool:
        return self.peer.admin_up and not self.peer.gone

    gone = False

    def operstate(self) -> str:
        if not self.admin_up:
            return "DOWN"
        return "UP" if self.carrier() else "LOWERLAYERDOWN"

    def flags(self) -> list[str]:
        out = super().flags()
        if self.admin_up and not self.carrier():
            out.append("M-DOWN")
        return out

    def wire(self, frame: bytes) -> None:
        self.stack.world.deliver(self.peer, frame)


class Tap(Device):
    """A TAP device: frames sent to it go to whoever opened it (a VM's guest), and back."""

    kind = "tun"

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.reader: Callable[[bytes], None] | None = None

    def carrier(self) -> bool:
        return self.reader is not None

    def wire(self, frame: bytes) -> None:
        if self.reader is not None:
            self.stack.world.clock.after(WIRE_NS, self.reader, frame)

    def inject(self, frame: bytes) -> None:
        """A frame the guest writes: it arrives on the device."""
        self.receive(frame)


@dataclass
class PortFlags:
    """How a bridge treats one port (the kernel's BR_HAIRPIN_MODE, BR_ISOLATED, BR_LEARNING, BR_FLOOD flags,
    and its STP path cost and port priority); ``PortFlags(**PORT_DEFAULTS)`` is a port as the kernel makes it."""

    hairpin: bool
    isolated: bool
    learning: bool
    flood: bool
    cost: int
    priority: int


_DEFAULT_PORT = PortFlags(**PORT_DEFAULTS)  # type: ignore[arg-type]


class Bridge(Device):
    """A Linux bridge: ports, a forwarding database with ageing, the bridge's own device as a port to the
    stack above it."""

    kind = "bridge"

    def __init__(self, stack: Stack, name: str, index: int, mac: bytes, ageing_cs: int = 30000) -> None:
        super().__init__(stack, name, index, mac)
        self.ageing_cs = ageing_cs
        self.ports: list[Device] = []
        self._flags: dict[int, PortFlags] = {}  # id(port) -> its flags, once one was changed
        self._port_macs: set[bytes] | None = None
        self.stp: Stp | None = None
        #: The bridge priority in its STP bridge id (``priority``; Linux's default 32768).
        self.priority = 0x8000
        #: learned MAC -> (port, last seen ns)
        self.learned: dict[bytes, tuple[Device, int]] = {}

    def carrier(self) -> bool:
        # As Linux: a bridge without ports has carrier (operstate UNKNOWN); with ports, only while one forwards.
        return not self.ports or any(p.running for p in self.ports)

    def operstate(self) -> str:
        if self.admin_up and not self.ports:
            return "UNKNOWN"
        return super().operstate()

    def enable_stp(self, forward_delay_ns: int) -> None:
        """Run the spanning tree protocol on this bridge (``stp_state 1``)."""
        from netnb.backends.sim.stp import Stp

        self.stp = Stp(self, forward_delay_ns)
        self.stp.changed()

    def add_port(self, port: Device) -> None:
        if port.master is not None:
            port.master.del_port(port)
        port.master = self
        self.ports.append(port)
        self.pick_mac()

    def port_flags(self, port: Device) -> PortFlags:
        """The port's flags (the defaults until one is set)."""
        return self._flags.get(id(port), _DEFAULT_PORT)

    def set_port(self, port: Device, **options: bool | int) -> None:
        """``ip link set dev PORT type bridge_slave ...``: set flags; a new cost or priority elects again."""
        if port.master is not self:
            raise BackendError(f"{port.name} is no port of bridge {self.name}")
        flags = self._flags.setdefault(id(port), PortFlags(**PORT_DEFAULTS))  # type: ignore[arg-type]
        for name, value in options.items():
            setattr(flags, name, value)
        if self.stp is not None and ("cost" in options or "priority" in options):
            self.stp.port_changed(port)

    def del_port(self, port: Device) -> None:
        self.ports.remove(port)
        port.master = None
        self._flags.pop(id(port), None)
        self.learned = {m: v for m, v in self.learned.items() if v[0] is not port}
        self.pick_mac()

    def pick_mac(self) -> None:
        self._port_macs = None  # (ports or their MACs changed)
        if self.stp is not None:
            self.stp.changed()
        # As br_stp_recalculate_bridge_id: a bridge whose MAC was not set takes its ports' lowest.
        if not self.mac_set and self.ports:
            self.mac = min(p.mac for p in self.ports)

    def port_state(self, port: Device) -> str:
        if self.stp is not None:
            return self.stp.state(port)
        return "forwarding" if port.running and self.admin_up else "disabled"

    def _fresh(self, mac: bytes) -> Device | None:
        entry = self.learned.get(mac)
        if entry is None:
            return None
        port, seen = entry
        if self.stack.world.clock.now - seen >= self.ageing_cs * NS // 100:
            del self.learned[mac]
            return None
        return port

    def _local(self, mac: bytes) -> bool:
        if self._port_macs is None:
            self._port_macs = {p.mac for p in self.ports}
        return mac == self.mac or mac in self._port_macs

    def from_port(self, port: Device, frame: bytes) -> None:
        if not self.admin_up:
            return
        dst, src = frame[:6], frame[6:12]
        if self.stp is not None and dst == b"\x01\x80\xc2\x00\x00\x00":
            # (with STP off, BPDUs are flooded like any frame). As __br_handle_local_finish: a port that
            # learns learns a BPDU's source too.
            if self.ageing_cs > 0 and self.port_flags(port).learning and self.port_state(port) in ("learning", "forwarding"):
                self.learned[src] = (port, self.stack.world.clock.now)
            self.stp.receive(port, frame)
            return
        state = self.port_state(port)
        if state not in ("learning", "forwarding"):
            return
        if self.ageing_cs > 0 and self.port_flags(port).learning and not src[0] & 1 and not self._local(src):
            self.learned[src] = (port, self.stack.world.clock.now)
        if state != "forwarding":
            return
        if self._local(dst):
            self._up(frame)
            return
        if dst[0] & 1:  # broadcast, multicast: every other port, and the bridge itself
            self._flood(frame, port)
            self._up(frame)
            return
        if self.stack.netfilter_bridged(self, port, frame):
            return
        out = self._fresh(dst)
        if out is None:
            self._flood(frame, port, unicast=True)
        elif (out is not port or self.port_flags(port).hairpin) and not self._isolated(port, out):
            self._forward(out, frame)

    def _up(self, frame: bytes) -> None:
        # The frame goes up through the bridge's own device: seen there, handled by the stack.
        self.rx_packets += 1
        self._seen(frame, False)
        self.stack.l2_receive(self, frame)

    def _forward(self, port: Device, frame: bytes) -> None:
        if self.port_state(port) == "forwarding":
            port.transmit(frame)

    def _isolated(self, ingress: Device | None, out: Device) -> bool:
        """br_skb_isolated: a frame from an isolated port never leaves by another isolated port."""
        return ingress is not None and self.port_flags(ingress).isolated and self.port_flags(out).isolated

    def _flood(self, frame: bytes, ingress: Device | None, unicast: bool = False) -> None:
        """br_flood: every port but the ingress (unless it is a hairpin port), of those that forward; an
        unknown unicast destination only to ports that flood."""
        if not self.admin_up:
            return
        stp = self.stp
        for port in list(self.ports):
            if (port is not ingress or (ingress is not None and self.port_flags(ingress).hairpin)) and port.admin_up \
                    and port.carrier() and (stp is None or stp.state(port) == "forwarding") \
                    and (not unicast or self.port_flags(port).flood) and not self._isolated(ingress, port):
                port.transmit(frame)

    def wire(self, frame: bytes) -> None:
        # Sent by the stack through the bridge device: to the port that leads to the destination.
        dst = frame[:6]
        out = None if dst[0] & 1 else self._fresh(dst)
        if out is None:
            self._flood(frame, None, unicast=not dst[0] & 1)
        else:
            self._forward(out, frame)

    def fdb(self) -> list[tuple[bytes, Device, float | None, bool]]:
        """(MAC, port, age in s or None, local) for every entry, as ``bridge fdb show br`` lists them."""
        now = self.stack.world.clock.now
        out: list[tuple[bytes, Device, float | None, bool]] = []
        for mac in list(self.learned):
            port = self._fresh(mac)
            if port is not None:
                out.append((mac, port, (now - self.learned[mac][1]) / NS, False))
        out += [(p.mac, p, None, True) for p in self.ports]
        if all(p.mac != self.mac for p in self.ports):  # its own address, when no port lent it
            out.append((self.mac, self, None, True))
        return out


class Vxlan(Device):
    """A VXLAN device: frames out of it go in UDP to the underlay address its FDB names."""

    kind = "vxlan"

    def __init__(self, stack: Stack, name: str, index: int, mac: bytes, vni: int, local: IPv4, port: int,
                 underlay: Stack) -> None:
        super().__init__(stack, name, index, mac, mtu=1500)  # the kernel's, without an underlay device
        self.vni, self.local, self.port, self.underlay = vni, local, port, underlay
        self.remotes: dict[bytes, IPv4] = {}

    def operstate(self) -> str:
        return "UNKNOWN" if self.admin_up else "DOWN"

    def wire(self, frame: bytes) -> None:
        dst = frame[:6]
        targets = list(dict.fromkeys(self.remotes.values())) if dst[0] & 1 or dst not in self.remotes \
            else [self.remotes[dst]]
        if dst not in self.remotes and not dst[0] & 1:
            targets = [ip for mac, ip in self.remotes.items() if mac == fr.ZERO_MAC]
        header = struct.pack("!II", 0x08000000, self.vni << 8)
        for target in targets:
            self.underlay.send_udp(self.local, target, self._source_port(frame), self.port, header + frame)

    @staticmethod
    def _source_port(frame: bytes) -> int:
        # As the kernel: a hash of the inner flow, in the ephemeral range.
        return 32768 + (sum(frame[:12]) * 2654435761 & 0x7FFF)

    def decapsulate(self, payload: bytes) -> None:
        if len(payload) < 8 + 14 or payload[0] & 0x08 == 0 or int.from_bytes(payload[4:7], "big") != self.vni:
            return
        self.receive(payload[8:])


# -- neighbours -----------------------------------------------------------------------------------------
@dataclass
class Neighbour:
    """One entry of a stack's ARP table."""

    ip: IPv4
    dev: Device
    mac: bytes | None = None
    state: str = "INCOMPLETE"
    probes: int = 0
    confirmed: int = 0      # when last confirmed reachable (ns)
    updated: int = 0
    reachable_ns: int = BASE_REACHABLE_NS
    queue: list[bytes] = field(default_factory=list)  # IP packets waiting for the answer
    timer: Any = None

    def shown_state(self, now: int) -> str:
        if self.state == "NOARP":
            return self.state
        if self.state == "REACHABLE" and now - self.confirmed >= self.reachable_ns:
            self.state = "STALE"
        return self.state


# -- routes ---------------------------------------------------------------------------------------------
@dataclass
class Hop:
    """One path of a multipath route; ``dead`` while its device is down (the kernel's RTNH_F_DEAD)."""

    dev: Device
    via: IPv4 | None
    weight: int = 1
    dead: bool = False

    def flags(self) -> list[str]:
        """As ``ip route`` lists them."""
        return (["dead"] if self.dead else []) + ([] if self.dev.admin_up and self.dev.carrier() else ["linkdown"])


@dataclass(frozen=True)
class Route:
    """A route of the main table. A multipath (ECMP) route has its paths in ``hops`` (``dev`` is the
    first's, ``via`` None); :meth:`Stack.lookup` picks one per flow."""

    dest: Net
    dev: Device
    via: IPv4 | None = None
    proto: str = "static"
    scope: str = "global"
    src: IPv4 | None = None
    hops: tuple[Hop, ...] = ()

    def uses(self, dev: Device) -> bool:
        """Whether the route leaves through ``dev`` (one of its paths does)."""
        return any(h.dev is dev for h in self.hops) if self.hops else self.dev is dev

    def pick(self, src: IPv4 | None, dst: IPv4) -> Route:
        """The path of a flow from ``src`` to ``dst``, as the kernel's fib_select_multipath picks it: a hash
        of the two addresses (fib_multipath_hash_policy 0) against each live path's share of the weights.
        The kernel's hash is seeded at random each boot, so which flow takes which path differs between
        machines and from the simulation's (a CRC-32 here); that flows spread by weight, and one flow keeps
        one path, is what both show."""
        live = [h for h in self.hops if not h.dead]
        if not live:
            return self
        digest = zlib.crc32((src or IPv4("0.0.0.0")).packed + dst.packed) >> 1
        total, sofar = sum(h.weight for h in live), 0
        chosen = live[-1]
        for h in live:
            sofar += h.weight
            if digest <= ((sofar << 31) + total // 2) // total - 1:
                chosen = h
                break
        return Route(self.dest, chosen.dev, chosen.via, self.proto, self.scope, self.src)


# -- one namespace ----------------------------------------------------------------------------------------
class NodeFiles(collections.abc.MutableMapping):  # type: ignore[type-arg]
    """A node's files (path -> content): its own, and under each shared folder it sees (``mount``), that
    folder's, which other nodes see too (keyed by their full path: every node sees a shared folder at the
    same place)."""

    def __init__(self) -> None:
        self.own: dict[str, bytes] = {}
        self.mounts: dict[str, dict[str, bytes]] = {}

    def mount(self, at: str, store: dict[str, bytes]) -> None:
        """Let ``store`` hold every file under ``at`` (what the node had there is hidden, as under a mount)."""
        self.mounts[at] = store

    def _store(self, path: str) -> dict[str, bytes]:
        for at, store in self.mounts.items():
            if path == at or path.startswith(at + "/"):
                return store
        return self.own

    def __getitem__(self, path: str) -> bytes:
        return self._store(path)[path]

    def __setitem__(self, path: str, data: bytes) -> None:
        self._store(path)[path] = data

    def __delitem__(self, path: str) -> None:
        del self._store(path)[path]

    def __iter__(self) -> Iterator[str]:
        yield from (p for p in list(self.own) if self._store(p) is self.own)
        for at, store in list(self.mounts.items()):
            yield from (p for p in list(store) if p.startswith(at + "/"))

    def __len__(self) -> int:
        return sum(1 for _ in self)


class Stack:
    """One network namespace: devices, addresses, routes, ARP, IPv4, and what local programs bind."""

    def __init__(self, world: World, name: str) -> None:
        self.world, self.name = world, name
        self.devices: dict[str, Device] = {}
        self._indexes = itertools.count(1)
        self.routes: list[Route] = []
        self.neigh: dict[tuple[int, bytes], Neighbour] = {}  # (ifindex, packed address) -> entry
        self.sysctl: dict[str, str] = {
            "net.ipv4.ip_forward": "0",
            "net.ipv6.conf.all.disable_ipv6": "0",
            "net.ipv6.conf.default.disable_ipv6": "0",
            "net.ipv4.igmp_link_local_mcast_reports": "1",
            "net.bridge.bridge-nf-call-iptables": "1",
            # reverse-path filtering: off in a new namespace (0), strict (1) or loose (2); see rp_filter_drops
            "net.ipv4.conf.all.rp_filter": "0",
            "net.ipv4.conf.default.rp_filter": "0",
        }
        #: What programs bound (TCP listeners, UDP sockets), and TCP connections by (local, remote) address.
        self.bound: list[Tcp | Udp] = []
        self.conns: dict[tuple[bytes, int, bytes, int], Tcp] = {}
        self.ts_offset = world.rnd.getrandbits(32)
        #: VXLAN devices whose UDP port is open in this (underlay) stack, by port.
        self.vxlan_ports: dict[int, list[Vxlan]] = {}
        self.icmp_listeners: list[Callable[[fr.Ip, Device], None]] = []
        self._ip_ids = itertools.count(world.rnd.randrange(1, 65535))
        self.netfilter: Netfilter | None = None
        self.hostname = name.split("/")[-1][:64]
        #: The node's own files: what the lab gave it and what its programs wrote (path -> content, mode).
        #: The simulation has no other files but the few of /proc and /etc it makes (``world_files``).
        self.files = NodeFiles()
        self.modes: dict[str, int] = {}
        self._netnsids: dict[str, int] = {}
        self._locals: dict[bytes, Device] | None = None
        self._connected: list[Route] | None = None
        self._peers: dict[bytes, list[int]] = {}  # address -> [tokens ns, last seen ns]
        self.add_device(Loopback(self, "lo", next(self._indexes), fr.ZERO_MAC, mtu=65536))

    def netnsid(self, other: Stack) -> int:
        """The id this namespace gives ``other`` (``link-netnsid``): 0, 1... in the order they were first met."""
        return self._netnsids.setdefault(other.name, len(self._netnsids))

    def firewall(self) -> Netfilter:
        """This node's netfilter, made when first used (as the kernel registers conntrack's hooks in a
        namespace only once something there needs them)."""
        if self.netfilter is None:
            from netnb.backends.sim.netfilter import Netfilter

            self.netfilter = Netfilter()
        return self.netfilter

    def write_file(self, path: str, data: bytes, mode: int) -> None:
        """A file of this node's own view (its folders are taken to exist)."""
        self.files[path] = data
        self.modes[path] = mode

    def world_files(self) -> dict[str, str]:
        """Files every process of this node sees (its hostname, its sysctls)."""
        files = {"/etc/hostname": self.hostname + "\n"}
        files.update({"/proc/sys/" + k.replace(".", "/"): v + "\n" for k, v in self.sysctl.items()})
        if self.netfilter is not None:
            files["/proc/net/nf_conntrack"] = self.netfilter.conntrack_lines(self.world.clock.now)
        return files

    # -- making devices (as `ip link add` makes them: down) -------------------------------------
    def add_bridge(self, name: str, ageing_cs: int = 30000) -> Bridge:
        bridge = Bridge(self, name, self.new_index(), self.world.random_mac(), ageing_cs)
        self.add_device(bridge)
        return bridge

    def add_veth(self, name: str, other: Stack, peer_name: str, mtu: int | None = None, mac: str | None = None,
                 peer_mac: str | None = None) -> tuple[Veth, Veth]:
        if name in self.devices or peer_name in other.devices or (other is self and name == peer_name):
            raise BackendError(f"node {self.name!r}: a device named {name!r} or {peer_name!r} exists already "
                               "(RTNETLINK answers: File exists)")
        # As veth_newlink: the peer is registered first (in its namespace), so it takes the lower index.
        peer_index = other.new_index()
        b = Veth(other, peer_name, peer_index, fr.mac_bytes(peer_mac) if peer_mac else self.world.random_mac(),
                 mtu or 1500)
        a = Veth(self, name, self.new_index(), fr.mac_bytes(mac) if mac else self.world.random_mac(), mtu or 1500)
        a.mac_set, b.mac_set = bool(mac), bool(peer_mac)
        a.peer, b.peer = b, a
        self.add_device(a)
        other.add_device(b)
        if other is not self:
            self.netnsid(other)
            other.netnsid(self)
        return a, b

    def add_tap(self, name: str) -> Tap:
        tap = Tap(self, name, self.new_index(), self.world.random_mac())
        self.add_device(tap)
        return tap

    def rename(self, dev: Device, new: str) -> None:
        if dev.admin_up:
            raise BackendError(f"node {self.name!r}: {dev.name} is up (RTNETLINK answers: Device or resource busy)")
        if new in self.devices:
            raise BackendError(f"node {self.name!r}: {new} exists (RTNETLINK answers: File exists)")
        del self.devices[dev.name]
        dev.name = new
        self.devices[new] = dev

    def neigh_flush(self) -> None:
        for key in list(self.neigh):
            self._drop_neighbour(key)

    # -- devices ------------------------------------------------------------------------------
    def new_index(self) -> int:
        return next(self._indexes)

    def add_device(self, dev: Device) -> Device:
        if dev.name in self.devices:
            raise BackendError(f"node {self.name!r}: a device named {dev.name!r} exists already (RTNETLINK "
                               "answers: File exists)")
        self.devices[dev.name] = dev
        self.sysctl.setdefault(f"net.ipv4.conf.{dev.name}.rp_filter", self.sysctl["net.ipv4.conf.default.rp_filter"])
        self.changed()
        return dev

    def device(self, name: str) -> Device:
        try:
            return self.devices[name]
        except KeyError:
            raise BackendError(f"node {self.name!r} has no interface {name!r} (Cannot find device \"{name}\")") \
                from None

    def remove_device(self, dev: Device) -> None:
        if isinstance(dev, Bridge):
            for port in list(dev.ports):
                dev.del_port(port)
        if dev.master is not None:
            dev.master.del_port(dev)
        self.devices.pop(dev.name, None)
        self.changed()
        if dev.shaper is not None:
            dev.shaper.stop()
        self.routes = [r for r in self.routes if not r.uses(dev)]  # (a multipath route goes whole, as the kernel's)
        for key in [k for k, n in self.neigh.items() if n.dev is dev]:
            self._drop_neighbour(key)
        if isinstance(dev, Veth):
            dev.gone = True
            peer = dev.peer
            if not peer.gone:
                peer.gone = True
                peer.stack.remove_device(peer)

    def set_up(self, name: str, up: bool) -> None:
        dev = self.device(name)
        if dev.admin_up == up:
            return
        dev.admin_up = up
        self.changed()
        for d in (dev, getattr(dev, "peer", None)):  # a port's carrier moved: its bridge's tree may change
            if d is not None and d.master is not None and d.master.stp is not None:
                d.master.stp.changed()
        if isinstance(dev, Bridge) and dev.stp is not None:
            dev.stp.changed()
        if isinstance(dev, Loopback) and up and not dev.addresses:
            dev.addresses.append(Iface("127.0.0.1/8"))
        for r in self.routes:  # a multipath route's paths through it die and come back with it
            for h in r.hops:
                if h.dev is dev:
                    h.dead = not up
        if not up:
            # As the kernel: a device going down loses its routes (a multipath one once all its paths are
            # dead) and neighbours.
            self.routes = [r for r in self.routes if not (r.dev is dev and not r.hops)
                           and not (r.hops and all(h.dead for h in r.hops))]
            for key in [k for k, n in self.neigh.items() if n.dev is dev]:
                self._drop_neighbour(key)

    def add_address(self, name: str, cidr: str) -> None:
        dev = self.device(name)
        iface = Iface(cidr)
        if any(a.ip == iface.ip and a.network.prefixlen == iface.network.prefixlen for a in dev.addresses):
            raise BackendError(f"node {self.name!r}: {cidr} is already on {name} (RTNETLINK answers: File exists)")
        dev.addresses.append(iface)
        self.changed()

    def del_address(self, name: str, cidr: str) -> None:
        dev = self.device(name)
        iface = Iface(cidr)
        if iface not in dev.addresses:
            raise BackendError(f"node {self.name!r}: {name} has no address {cidr} (RTNETLINK answers: Cannot "
                               "assign requested address)")
        dev.addresses.remove(iface)
        self.changed()
        self.routes = [r for r in self.routes if not any(
            h.dev is dev and h.via is not None and h.via in iface.network and not self._onlink(h.via, dev)
            for h in (r.hops or (Hop(r.dev, r.via),)))]

    # -- routes ---------------------------------------------------------------------------------
    def connected(self) -> list[Route]:
        """The routes the kernel adds for each address of a device that is up (kept until something changes:
        every routed packet looks them up)."""
        if self._connected is None:
            self._connected = [Route(a.network, dev, None, "kernel", "link", a.ip)
                               for dev in self.devices.values() if dev.admin_up and not isinstance(dev, Loopback)
                               for a in dev.addresses if a.network.prefixlen < 32 and not secondary(dev, a)]
        return self._connected

    def table(self) -> list[Route]:
        """The main table in the order the kernel's FIB trie lists it: by network address, the longer prefix
        first, then in the order routes were made."""
        routes = self.connected() + self.routes
        return sorted(routes, key=lambda r: (int(r.dest.network_address), -r.dest.prefixlen))

    def local_table(self) -> list[str]:
        """``ip route show table local``: a ``local`` route per address (and loopback's whole 127/8), a
        ``broadcast`` one per subnet's broadcast address, in the FIB trie's order."""
        entries: list[tuple[int, int, str]] = []
        for dev in self.devices.values():
            if not dev.admin_up:
                continue
            for a in dev.addresses:
                primary = next(p for p in dev.addresses if p.network == a.network)  # a secondary's routes use it
                src = f"proto kernel scope host src {primary.ip} "
                if a.ip.is_loopback and not secondary(dev, a):
                    entries.append((int(a.network.network_address), a.network.prefixlen,
                                    f"local {a.network} dev {dev.name} {src}"))
                entries.append((int(a.ip), 32, f"local {a.ip} dev {dev.name} {src}"))
                if a.network.prefixlen < 31 and not secondary(dev, a):
                    entries.append((int(a.network.broadcast_address), 32, f"broadcast {a.network.broadcast_address} "
                                                                          f"dev {dev.name} proto kernel scope link src {a.ip} "))
        return [line for _, _, line in sorted(entries, key=lambda e: (e[0], e[1]))]

    def _onlink(self, gateway: IPv4, dev: Device) -> bool:
        return dev.admin_up and any(gateway in a.network for a in dev.addresses)

    def add_route(self, dest: str, via: str | None, dev_name: str | None, proto: str = "static",
                  nexthops: tuple[tuple[str | None, str | None, int], ...] = ()) -> None:
        """Add a route; ``nexthops`` (gateway, device, weight) make it a multipath route."""
        try:
            net = Net("0.0.0.0/0" if dest == "default" else dest)
        except ValueError:
            raise BackendError(f"node {self.name!r}: {dest} is no network (Error: Invalid prefix for given "
                               "prefix length.)") from None
        hops = [self._hop(hop_via, hop_dev, weight) for hop_via, hop_dev, weight in nexthops] or \
            [self._hop(via, dev_name, 1)]
        if any(r.dest == net and r.proto != "kernel" for r in self.routes):
            raise BackendError(f"node {self.name!r}: a route to {net} exists already (RTNETLINK answers: File "
                               "exists)")
        if nexthops:
            self.routes.append(Route(net, hops[0].dev, None, proto, "global", hops=tuple(hops)))
        else:
            self.routes.append(Route(net, hops[0].dev, hops[0].via, proto, "global" if hops[0].via else "link"))

    def _hop(self, via: str | None, dev_name: str | None, weight: int) -> Hop:
        gateway = IPv4(via) if via else None
        if dev_name is not None:
            dev = self.device(dev_name)
            if gateway is not None and not self._onlink(gateway, dev):
                raise BackendError(f"node {self.name!r}: gateway {via} is not on {dev_name}'s subnet "
                                   "(Error: Nexthop has invalid gateway.)")
        elif gateway is not None:
            found = self.lookup(gateway, connected_only=True)
            if found is None:
                raise BackendError(f"node {self.name!r}: no interface has gateway {via} on its subnet "
                                   "(Error: Nexthop has invalid gateway.)")
            dev = found.dev
        else:
            raise BackendError(f"node {self.name!r}: a route needs a gateway or a device")
        if not dev.admin_up:
            raise BackendError(f"node {self.name!r}: {dev.name} is down (Error: Nexthop device is not up.)")
        return Hop(dev, gateway, weight)

    def del_route(self, dest: str, via: str | None, dev_name: str | None) -> None:
        net = Net("0.0.0.0/0" if dest == "default" else dest, strict=False)
        gateway = IPv4(via) if via else None
        for r in self.routes:
            if r.dest == net and (gateway is None or r.via == gateway) and (dev_name is None or r.dev.name == dev_name):
                self.routes.remove(r)
                return
        raise BackendError(f"node {self.name!r}: no route to {dest} (RTNETLINK answers: No such process)")

    def local_address(self, ip: IPv4) -> Device | None:
        """The device holding ``ip`` among this stack's addresses (any device: the weak host model)."""
        if ip.is_loopback:
            lo = self.devices.get("lo")
            return lo if lo is not None and lo.admin_up else None
        return self.locals().get(ip.packed)

    def locals(self) -> dict[bytes, Device]:
        """This stack's addresses (of devices that are up) -> their device; kept until something changes."""
        if self._locals is None:
            self._locals = {}
            for dev in self.devices.values():
                if dev.admin_up:
                    for a in dev.addresses:
                        self._locals.setdefault(a.ip.packed, dev)
        return self._locals

    def changed(self) -> None:
        """Addresses or devices changed: what was derived from them is worked out again when next needed."""
        self._locals = None
        self._connected = None

    def lookup(self, dst: IPv4, connected_only: bool = False, src: IPv4 | None = None) -> Route | None:
        """The route for ``dst``: the longest prefix of the main table; of a multipath route, the path of the
        flow from ``src`` (0.0.0.0 for a packet of our own not yet given its source, as in the kernel)."""
        best = self.best_route(dst, connected_only)
        return best.pick(src, dst) if best is not None and best.hops else best

    def best_route(self, dst: IPv4, connected_only: bool = False) -> Route | None:
        """The longest-prefix route for ``dst`` as the table has it (a multipath route whole)."""
        best: Route | None = None
        for r in self.connected() + ([] if connected_only else self.routes):
            if dst in r.dest and (best is None or r.dest.prefixlen > best.dest.prefixlen):
                best = r
        return best

    def source_for(self, route: Route, dst: IPv4) -> IPv4 | None:
        """The source address Linux picks: the route's, else the device's address on the next hop's subnet,
        else its first, else any."""
        if route.src is not None:
            return route.src
        hop = route.via or dst
        for a in route.dev.addresses:
            if hop in a.network:
                return a.ip
        if route.dev.addresses:
            return route.dev.addresses[0].ip
        for dev in self.devices.values():
            for a in dev.addresses:
                if not a.ip.is_loopback:
                    return a.ip
        return None

    # -- sending -------------------------------------------------------------------------------
    def next_ip_id(self) -> int:
        return next(self._ip_ids) & 0xFFFF

    def send_ip(self, packet: fr.Ip) -> str | None:
        """Send an IPv4 packet this stack made; an error text (as a socket would return) or None."""
        dst = IPv4(packet.dst)
        route = self._output_route(dst)
        if route is None:
            return "Network is unreachable"
        if not packet.src or packet.src == bytes(4):
            src = self.source_for(route, dst) if not isinstance(route.dev, Loopback) else dst
            packet.src = src.packed if src else bytes(4)
        if self.netfilter is not None:
            out = self.netfilter.output(self, packet, route)
            if out is None:
                return "Operation not permitted"
            if out.dst != packet.dst:  # nat OUTPUT changed where it goes: routed again
                route = self._output_route(IPv4(out.dst))
                if route is None:
                    return "Network is unreachable"
            packet = out
        if 20 + len(packet.payload) > route.dev.mtu:
            if packet.df:
                return f"message too long, mtu={route.dev.mtu}"
            return (f"message too long for {route.dev.name} (mtu {route.dev.mtu}): IP fragmentation is not "
                    "simulated; send less, or run this lab on the kernel")
        if isinstance(route.dev, Loopback):
            if self.netfilter is not None:
                natted = self.netfilter.postrouting(self, packet, route, None)
                if natted is None:
                    return None
                packet = natted
            self.world.clock.after(0, self._loopback_in, packet, route.dev)
            return None
        self._post_route(packet, route, None)
        return None

    def _output_route(self, dst: IPv4) -> Route | None:
        """The route of a locally made packet: through lo to one of our own addresses, else the main table."""
        if self.local_address(dst) is not None:
            lo = self.devices["lo"]
            return Route(Net(f"{dst}/32"), lo, None, "kernel", "host", dst)
        return self.lookup(dst)

    def _loopback_in(self, packet: fr.Ip, lo: Device) -> None:
        lo.tx_packets += 1
        lo.rx_packets += 1
        frame = fr.ether(fr.ZERO_MAC, fr.ZERO_MAC, fr.ETH_IP, packet.pack())
        self._through_lo(lo)
        lo._seen(frame, True)
        lo._seen(frame, False)
        packet.ct = None
        self.ip_receive(lo, packet)

    def _through_lo(self, lo: Device) -> None:
        # As the kernel: output through lo looks up the neighbour 0.0.0.0 on lo (a NOARP entry).
        key = (lo.index, bytes(4))
        if key not in self.neigh:
            self.neigh[key] = Neighbour(IPv4("0.0.0.0"), lo, fr.ZERO_MAC, "NOARP", updated=self.world.clock.now)

    def _post_route(self, packet: fr.Ip, route: Route, in_dev: Device | None) -> None:
        if self.netfilter is not None:
            natted = self.netfilter.postrouting(self, packet, route, in_dev)
            if natted is None:
                return
            packet = natted
        nexthop = route.via or IPv4(packet.dst)
        self.neigh_output(route.dev, nexthop, packet.pack())

    def send_udp(self, src: IPv4, dst: IPv4, sport: int, dport: int, payload: bytes) -> None:
        """A UDP datagram from this stack (VXLAN encapsulation)."""
        body = fr.udp(src.packed, dst.packed, sport, dport, payload)
        self.send_ip(fr.Ip(src.packed, dst.packed, fr.PROTO_UDP, body, ident=self.next_ip_id(), df=False))

    # -- ARP ------------------------------------------------------------------------------------
    def neigh_output(self, dev: Device, nexthop: IPv4, packet: bytes) -> None:
        """Send an IP packet to ``nexthop`` on ``dev``, resolving its MAC first."""
        if isinstance(dev, Loopback):
            return
        if nexthop == IPv4("255.255.255.255") or any(nexthop == a.network.broadcast_address
                                                     for a in dev.addresses):
            dev.transmit(fr.ether(fr.BROADCAST, dev.mac, fr.ETH_IP, packet))
            return
        key = (dev.index, nexthop.packed)
        n = self.neigh.get(key)
        now = self.world.clock.now
        if n is None or n.state == "FAILED" and not n.queue:
            if n is not None and n.timer is not None:
                n.timer.cancel()
            n = Neighbour(nexthop, dev, updated=now, reachable_ns=self.world.reachable_time())
            self.neigh[key] = n
            n.queue.append(packet)
            self._solicit(n)
            return
        state = n.shown_state(now)
        if state == "INCOMPLETE":
            n.queue.append(packet)
            return
        if state == "STALE":
            n.state, n.updated = "DELAY", now
            n.timer = self.world.clock.after(DELAY_PROBE_NS + JIFFY_NS, self._delay_over, n)
        assert n.mac is not None
        dev.transmit(fr.ether(n.mac, dev.mac, fr.ETH_IP, packet))

    def _solicit(self, n: Neighbour) -> None:
        """Ask for ``n`` now and every second while it is INCOMPLETE (broadcast, three times) or PROBE
        (unicast to the MAC it had, three times); FAILED after the last. As neigh_timer_handler."""
        if n.state not in ("INCOMPLETE", "PROBE"):
            return
        if n.probes >= (MCAST_SOLICIT if n.state == "INCOMPLETE" else UCAST_SOLICIT):
            self._failed(n)
            return
        n.probes += 1
        self._arp_request(n.dev, n.ip, n.mac if n.state == "PROBE" else None)
        n.timer = self.world.clock.after(RETRANS_NS + JIFFY_NS, self._solicit, n)

    def _delay_over(self, n: Neighbour) -> None:
        if n.state != "DELAY":
            return
        if self.world.clock.now - n.confirmed < n.reachable_ns:  # confirmed meanwhile
            n.state = "REACHABLE"
            return
        n.state, n.probes = "PROBE", 0
        self._solicit(n)

    def _failed(self, n: Neighbour) -> None:
        n.state, n.updated, n.mac = "FAILED", self.world.clock.now, None
        queue, n.queue = n.queue, []
        for raw in queue:
            packet = fr.parse_ip(raw)
            if packet is None:
                continue
            self.icmp_error(packet, 3, 1, None)  # host unreachable

    def _drop_neighbour(self, key: tuple[int, bytes]) -> None:
        n = self.neigh.pop(key, None)
        if n is not None and n.timer is not None:
            n.timer.cancel()

    def _arp_request(self, dev: Device, target: IPv4, unicast: bytes | None) -> None:
        src = None
        for a in dev.addresses:
            if target in a.network:
                src = a.ip
                break
        if src is None:
            src = dev.addresses[0].ip if dev.addresses else IPv4("0.0.0.0")
        body = fr.arp(1, dev.mac, src.packed, fr.ZERO_MAC, target.packed)
        dev.transmit(fr.ether(unicast or fr.BROADCAST, dev.mac, fr.ETH_ARP, body))

    def arp_receive(self, dev: Device, data: bytes) -> None:
        spa, tpa = data[14:18], data[24:28]
        key = (dev.index, spa)
        n = self.neigh.get(key)
        mine = tpa in (self._locals if self._locals is not None else self.locals()) and tpa[0] != 127
        if not mine and (n is None or (n.mac == data[8:14] and n.state in ("REACHABLE", "STALE", "DELAY", "PROBE"))):
            return  # (the common case in a big LAN: another host's request, its sender unknown or unchanged)
        op, sha, spa, tha, tpa = fr.parse_arp(data)
        sender, target = IPv4(spa), IPv4(tpa)
        now = self.world.clock.now
        if sender == target or sender.is_unspecified:
            return
        if op == 1 and mine:
            if n is None:
                n = Neighbour(sender, dev, sha, "STALE", updated=now, reachable_ns=self.world.reachable_time())
                self.neigh[key] = n
            else:
                self._update(n, sha, "STALE")
            src_dev_addr = target
            reply = fr.arp(2, dev.mac, src_dev_addr.packed, sha, spa)
            dev.transmit(fr.ether(sha, dev.mac, fr.ETH_ARP, reply))
            return
        if n is not None:
            to_us = op == 2 and data and dev.mac == tha
            self._update(n, sha, "REACHABLE" if to_us else "STALE")

    def _update(self, n: Neighbour, mac: bytes, state: str) -> None:
        now = self.world.clock.now
        if state == "STALE" and n.mac == mac and n.state in ("REACHABLE", "DELAY", "PROBE"):
            return
        if n.timer is not None:
            n.timer.cancel()
            n.timer = None
        n.mac, n.state, n.updated, n.probes = mac, state, now, 0
        if state == "REACHABLE":
            n.confirmed = now
        queue, n.queue = n.queue, []
        for packet in queue:
            self.neigh_output(n.dev, n.ip, packet)

    def confirm(self, dev: Device, ip: IPv4) -> None:
        """An upper layer saw the peer answer (TCP): the neighbour is reachable."""
        n = self.neigh.get((dev.index, ip.packed))
        if n is not None and n.mac is not None and n.state in ("REACHABLE", "STALE", "DELAY", "PROBE"):
            n.confirmed = self.world.clock.now
            if n.state in ("DELAY", "PROBE"):
                if n.timer is not None:
                    n.timer.cancel()
                n.state = "REACHABLE"

    # -- receiving ------------------------------------------------------------------------------
    def l2_receive(self, dev: Device, frame: bytes) -> None:
        if frame[12:14] == b"\x08\x06" and not isinstance(dev, Loopback):  # ARP: the busiest path of a big LAN
            if frame[0] == 0xFF or frame[:6] == dev.mac:
                if dev.admin_up:
                    self.arp_receive(dev, frame[14:])
            return
        dst, _, ethertype, payload = fr.parse_ether(frame)
        if dst != dev.mac and dst != fr.BROADCAST and not isinstance(dev, Loopback):
            return  # another host's frame (PACKET_OTHERHOST): captured, not for this stack
        if ethertype == fr.ETH_ARP:
            if dev.admin_up and not isinstance(dev, Loopback):
                self.arp_receive(dev, payload)
        elif ethertype == fr.ETH_IP:
            packet = fr.parse_ip(payload)
            if packet is not None:
                self.ip_receive(dev, packet, dst == fr.BROADCAST)

    def ip_receive(self, dev: Device, packet: fr.Ip, broadcast: bool = False) -> None:
        dst = IPv4(packet.dst)
        if self.netfilter is not None:
            natted = self.netfilter.prerouting(self, packet, dev)
            if natted is None:
                return
            packet = natted
            dst = IPv4(packet.dst)
        if self.rp_filter_drops(dev, packet):
            return
        if broadcast or self.local_address(dst) is not None or dst == IPv4("255.255.255.255") or \
                any(dst == a.network.broadcast_address for a in dev.addresses):
            if self.netfilter is not None:
                if not self.netfilter.input(self, packet, dev):
                    return
                packet = self.netfilter.local_in(self, packet, dev)
            self.ip_local(packet, dev)
            return
        if dst.is_multicast:
            return
        self.forward(dev, packet)

    def rp_filter_drops(self, dev: Device, packet: fr.Ip) -> bool:
        """Reverse-path filtering (the larger of ``conf.all`` and the device's ``rp_filter``): strict (1) drops
        a packet whose source is not routed back out of the device it came in on, loose (2) one whose source
        has no route at all. As the kernel's fib_validate_source, it spares sources of 0.0.0.0."""
        def mode(key: str) -> int:
            value = self.sysctl.get(key, "0")
            return int(value) if value.isdigit() else 0

        strictness = max(mode("net.ipv4.conf.all.rp_filter"), mode(f"net.ipv4.conf.{dev.name}.rp_filter"))
        src = IPv4(packet.src)
        if not strictness or src == IPv4("0.0.0.0") or isinstance(dev, Loopback):
            return False
        back = self.best_route(src)
        if back is None:
            return True
        return strictness == 1 and not back.uses(dev)  # (any path of a multipath route will do, as in the kernel)

    def forward(self, dev: Device, packet: fr.Ip) -> None:
        if self.sysctl.get("net.ipv4.ip_forward") != "1":
            return
        dst = IPv4(packet.dst)
        route = self.lookup(dst, src=IPv4(packet.src))
        if route is None:
            if self._spend(packet.src, RT_ERROR_COST_NS, RT_ERROR_BURST_NS):  # ip_error()'s own limit
                self.icmp_error(packet, 3, 0, dev)  # network unreachable
            return
        if packet.ttl <= 1:
            self.icmp_error(packet, 11, 0, dev)  # time exceeded in transit
            return
        packet.ttl -= 1
        if self.netfilter is not None and not self.netfilter.forward(self, packet, dev, route):
            return
        if 20 + len(packet.payload) > route.dev.mtu:
            if packet.df:
                self.icmp_error(packet, 3, 4, dev, mtu=route.dev.mtu)
            return  # (without DF the kernel would fragment it: not simulated, so it goes no further)
        self._post_route(packet, route, dev)

    def ip_local(self, packet: fr.Ip, dev: Device) -> None:
        if packet.proto == fr.PROTO_ICMP and len(packet.payload) >= 8:
            kind, code, rest = fr.parse_icmp(packet.payload)
            if kind == 8:  # echo request: answered by the kernel
                # The kernel's ICMP socket does no path MTU discovery: its replies leave without DF.
                reply = fr.Ip(packet.dst, packet.src, fr.PROTO_ICMP, fr.icmp(0, 0, rest),
                              ident=self.next_ip_id(), tos=packet.tos, df=False)
                self.send_ip(reply)
                return
            for listener in list(self.icmp_listeners):
                listener(packet, dev)
            if kind in (3, 11) and len(rest) >= 4 + 28:
                self._transport_error(rest[4:], kind, code)
            return
        if packet.proto == fr.PROTO_UDP and self.vxlan_ports:
            sport_dport = fr.ports(packet)
            if sport_dport is not None and sport_dport[1] in self.vxlan_ports:
                _, _, data = fr.parse_udp(packet.payload)
                for vx in self.vxlan_ports[sport_dport[1]]:
                    vx.decapsulate(data)
                return
        ports = fr.ports(packet)
        if ports is None:
            return
        if packet.proto == fr.PROTO_TCP:
            seg = fr.parse_tcp(packet.payload)
            conn = self.conns.get((packet.dst, seg.dport, packet.src, seg.sport))
            if conn is not None and conn.state == "TIME_WAIT" and seg.flags & (fr.SYN | fr.ACK | fr.RST) == fr.SYN:
                # A new SYN on a TIME_WAIT tuple (the peer uses the port again): as tcp_timewait_state_process
                # with newer timestamps, the old connection goes and the listener takes the SYN.
                self._drop_conn((packet.dst, seg.dport, packet.src, seg.sport), conn)
                conn = None
            if conn is None:
                conn = self._listener(Tcp, packet.dst, seg.dport)
            if conn is not None:
                conn.segment(packet, seg, dev)
            elif not seg.flags & fr.RST:
                self.tcp_reset(packet)
            return
        if packet.proto == fr.PROTO_UDP:
            sock = self._listener(Udp, packet.dst, ports[1])
            if sock is not None:
                sock.deliver(packet)
            elif not IPv4(packet.dst).is_multicast:
                self.icmp_error(packet, 3, 3, None)  # port unreachable

    def _listener(self, kind: type, address: bytes, port: int) -> Any:
        for sock in self.bound:
            if isinstance(sock, kind) and sock.port == port and sock.address in (address, bytes(4)):
                return sock
        return None

    def _transport_error(self, quoted: bytes, kind: int, code: int) -> None:
        """An ICMP error about one of our TCP/UDP packets: the socket learns it (connect fails...)."""
        inner = fr.parse_ip(quoted)
        if inner is None or len(inner.payload) < 4:
            return
        sport, dport = struct.unpack_from("!HH", inner.payload)
        text = {(3, 3): "Connection refused", (3, 1): "No route to host", (3, 0): "Network is unreachable",
                (3, 13): "No route to host", (3, 10): "No route to host"}.get((kind, code))
        if text is None:
            return
        if inner.proto == fr.PROTO_TCP:
            conn = self.conns.get((inner.src, sport, inner.dst, dport))
            if conn is not None and conn.state == "SYN_SENT":
                conn.fail(text)
        elif inner.proto == fr.PROTO_UDP:
            for sock in self.bound:
                if isinstance(sock, Udp) and sock.port == sport:
                    sock.errors.append(text)

    # -- sockets (for programs) ----------------------------------------------------------------------
    def ephemeral_port(self) -> int:
        """A free local port in net.ipv4.ip_local_port_range (32768-60999), chosen at random as Linux does."""
        while True:
            port = self.world.rnd.randrange(32768, 61000)
            if all(s.port != port for s in self.bound) and all(k[1] != port for k in self.conns):
                return port

    def bind(self, sock: Tcp | Udp) -> str | None:
        """Bind a socket; an error text (Address already in use) or None."""
        for other in self.bound:
            if type(other) is type(sock) and other.port == sock.port and \
                    (other.address == sock.address or bytes(4) in (other.address, sock.address)):
                return "Address already in use"
        if sock.address != bytes(4) and self.local_address(IPv4(sock.address)) is None:
            return "Cannot assign requested address"
        self.bound.append(sock)
        return None

    def unbind(self, sock: Tcp | Udp) -> None:
        if sock in self.bound:
            self.bound.remove(sock)

    def register(self, conn: Tcp) -> None:
        assert conn.remote is not None
        self.conns[(conn.address, conn.port, conn.remote[0], conn.remote[1])] = conn

    def unregister(self, conn: Tcp, linger: bool = False) -> None:
        if conn.remote is None:
            return
        key = (conn.address, conn.port, conn.remote[0], conn.remote[1])
        if linger:  # TIME_WAIT: still answers a repeated FIN, gone after a while
            self.world.clock.after(60 * NS, self._drop_conn, key, conn)
            return
        self._drop_conn(key, conn)

    def _drop_conn(self, key: tuple[bytes, int, bytes, int], conn: Tcp) -> None:
        if self.conns.get(key) is conn:
            del self.conns[key]

    def lookup_source(self, address: bytes) -> bytes | None:
        """The address this node sends to ``address`` from."""
        route = self._output_route(IPv4(address))
        if route is None:
            return None
        if isinstance(route.dev, Loopback):
            return address
        src = self.source_for(route, IPv4(address))
        return src.packed if src else None

    def tcp_reset(self, packet: fr.Ip) -> None:
        """Answer a segment nobody takes with RST (RFC 793's rules for the sequence numbers)."""
        seg = fr.parse_tcp(packet.payload)
        if seg.flags & fr.RST:
            return
        if seg.flags & fr.ACK:
            body = fr.tcp(packet.dst, packet.src, seg.dport, seg.sport, seg.ack, 0, fr.RST, 0)
        else:
            length = len(seg.payload) + (1 if seg.flags & fr.SYN else 0) + (1 if seg.flags & fr.FIN else 0)
            body = fr.tcp(packet.dst, packet.src, seg.dport, seg.sport, 0, seg.seq + length, fr.RST | fr.ACK, 0)
        self.send_ip(fr.Ip(packet.dst, packet.src, fr.PROTO_TCP, body, ident=0))

    def icmp_error(self, packet: fr.Ip, kind: int, code: int, in_dev: Device | None, mtu: int = 0) -> None:
        """Tell the sender of ``packet`` why it went no further (never about an ICMP error itself)."""
        if packet.proto == fr.PROTO_ICMP and packet.payload and packet.payload[0] not in (0, 8, 13, 15, 17):
            return
        source = IPv4(packet.src)
        if source.is_unspecified or source.is_multicast:
            return
        quoted = packet.pack()[:548]  # as much of it as fits a 576-byte error (Linux quotes the whole probe)
        rest = struct.pack("!HH", 0, mtu) if kind == 3 and code == 4 else bytes(4)
        body = fr.icmp(kind, code, rest + quoted)
        if self.local_address(source) is not None:  # our own packet: reported to the local socket, via lo
            self._through_lo(self.devices["lo"])
            error = fr.Ip(packet.src, packet.src, fr.PROTO_ICMP, body, ident=0)
            for listener in list(self.icmp_listeners):
                listener(error, self.devices["lo"])
            return
        route = self.lookup(source)
        if route is None:
            return
        if kind in ICMP_RATEMASK and not self._spend(packet.src, ICMP_RATELIMIT_NS, 6 * ICMP_RATELIMIT_NS):
            return
        src = self.source_for(route, source)
        if src is None:
            return
        self.send_ip(fr.Ip(src.packed, packet.src, fr.PROTO_ICMP, body, ident=self.next_ip_id(), tos=0xC0, df=False))

    def _spend(self, peer: bytes, cost: int, burst: int) -> bool:
        """Take ``cost`` from the token bucket of ``peer`` (inet_peer_xrlim_allow); False when it is short."""
        now = self.world.clock.now
        state = self._peers.setdefault(peer, [0, now - 60 * NS])  # a new peer starts "long unseen"
        tokens = min(state[0] + now - state[1], burst)
        state[1] = now
        if tokens >= cost:
            state[0] = tokens - cost
            return True
        state[0] = tokens
        return False

    def netfilter_bridged(self, bridge: Bridge, port: Device, frame: bytes) -> bool:
        """Whether netfilter (br_netfilter) dropped a frame bridged between two ports."""
        if self.netfilter is None or self.sysctl.get("net.bridge.bridge-nf-call-iptables") != "1":
            return False
        return self.netfilter.bridged(self, bridge, port, frame)


class World:
    """Every stack of one simulated lab, their clock and what they share."""

    def __init__(self, seed: int = 0, start_ns: int = 0) -> None:
        self.seed = seed
        self.rnd = random.Random(seed)
        self.clock = Clock(start_ns)
        #: When the lab started, on the simulated clock.
        self.started = start_ns
        self.stacks: dict[str, Stack] = {}
        self.tasks: list[Task] = []
        self.clock.on_event = self._poke
        self._batch: list[tuple[Device, bytes]] = []
        self._batch_due = -1
        self._stamp_at, self._stamp_n = -1, 0
        #: The lab's private folder (servers serve it when told no other directory).
        self.folder = ""
        #: The pid each background program was given -> its node (``ip link ... netns PID``).
        self.pids: dict[int, Stack] = {}
        #: The lab's shared folders by name: path -> content, as every node that sees one sees it.
        self.shares: dict[str, dict[str, bytes]] = {}
        #: The kernel numbers qdiscs made without a handle from one counter for all namespaces.
        self.qdisc_handles = itertools.count(0x8001)

    def shape(self, dev: Device, tbf: Tbf | None) -> None:
        """Give ``dev`` a tbf qdisc (a new one, with a new handle), or take it away (None)."""
        if dev.shaper is not None:
            dev.shaper.stop()
        dev.shaper = None if tbf is None else Shaper(dev, tbf, next(self.qdisc_handles))

    def stack_by_pid(self, text: str) -> Stack | None:
        """The node of a pid (or the node named ``text``, as ``ip netns`` names would)."""
        if text.isdigit():
            return self.pids.get(int(text))
        return self.stacks.get(text)

    def capture_stamp(self) -> int:
        """A capture timestamp: now, plus one nanosecond for each frame already seen at this instant — so
        frames seen at one simulated instant keep the order they were seen in (on a kernel, microseconds
        apart), whatever point saw them."""
        now = self.clock.now
        if now != self._stamp_at:
            self._stamp_at, self._stamp_n = now, 0
        self._stamp_n += 1
        return now + self._stamp_n - 1

    def deliver(self, device: Device, frame: bytes) -> None:
        """``frame`` arrives on ``device`` one wire's time from now. Frames sent at the same instant travel in
        one clock event (a bridge flooding 1000 ports schedules one, not 1000)."""
        due = self.clock.now + WIRE_NS
        if self._batch_due != due:
            self._batch, self._batch_due = [], due
            self.clock.at(due, self._arrive, self._batch)
        self._batch.append((device, frame))

    @staticmethod
    def _arrive(batch: list[tuple[Device, bytes]]) -> None:
        for device, frame in batch:
            device.receive(frame)

    def _poke(self) -> None:
        for task in list(self.tasks):
            if task.done:
                self.tasks.remove(task)
            else:
                task.poke()

    def add_stack(self, name: str) -> Stack:
        if name in self.stacks:
            raise BackendError(f"namespace {name!r} exists already")
        stack = Stack(self, name)
        self.stacks[name] = stack
        return stack

    def remove_stack(self, name: str) -> None:
        stack = self.stacks.pop(name, None)
        if stack is None:
            return
        for dev in list(stack.devices.values()):
            stack.remove_device(dev)

    def stack(self, name: str) -> Stack:
        try:
            return self.stacks[name]
        except KeyError:
            raise BackendError(f"no node {name!r} in this lab") from None

    def random_mac(self) -> bytes:
        """A locally administered unicast MAC, as the kernel's eth_hw_addr_random."""
        raw = bytearray(self.rnd.getrandbits(8) for _ in range(6))
        raw[0] = (raw[0] & 0xFE) | 0x02
        return bytes(raw)

    def reachable_time(self) -> int:
        """A neighbour's reachable time: uniformly in [base/2, 3 base/2), as the kernel draws it."""
        return BASE_REACHABLE_NS // 2 + self.rnd.randrange(BASE_REACHABLE_NS)
