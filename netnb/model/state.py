"""What was read back from a running lab, and what commands returned: plain records, no I/O.

These are what views render; they are filled by a backend on an explicit call (``node.interfaces()``,
``node.ping(...)``), never by a repr.

>>> r = PingResult(target="10.0.0.2", sent=3, received=3, rtt_min_ms=0.04, rtt_avg_ms=0.05, rtt_max_ms=0.07)
>>> r.ok, r.loss
(True, 0.0)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: How a record shows itself (text/plain, text/html), by type: filled in by ``netnb.view`` when it loads
#: (the model imports nothing of netnb but the errors; without the view, records show as their repr).
DISPLAY: dict[type, Callable[[Any], dict[str, str]]] = {}


def show(record: object) -> dict[str, str]:
    """The display bundle of ``record``: the view's, or its repr as text."""
    render = DISPLAY.get(type(record))
    return render(record) if render is not None else {"text/plain": repr(record)}


_PING_HINTS = (
    ("No buffer space available",
     "the kernel's ARP (neighbour) table is full: it holds at most net.ipv4.neigh.default.gc_thresh3 entries "
     "(1024 by default) for all namespaces of the machine together, and only the machine's own namespace may "
     "raise it; let fewer hosts talk at once, or wait ~5 s for old entries to be collected"),
    ("Network is unreachable",
     "this node has no route to the target: add one (node.route(dest, via=...)) or a default gateway"),
    ("Destination Host Unreachable",
     "no ARP answer: nothing with that address answered on the last link of the way there (seen by this "
     "node, or by the router that says so in the output)"),
    ("Destination Net Unreachable",
     "a router on the way (the one after 'From' in the output) has no route to the target: give it one, or a "
     "default route"),
    ("Time to live exceeded",
     "the packets went round until their TTL ran out (at the router after 'From'): a routing loop, or a -t "
     "too small for the path"),
    ("Destination Port Unreachable",
     "something on the way rejected the packets (an iptables REJECT rule at the node after 'From')"),
)


@dataclass(frozen=True)
class CommandResult:
    """The outcome of a command run inside a node."""

    node: str
    command: str
    rc: int
    stdout: str
    stderr: str
    duration_s: float

    @property
    def ok(self) -> bool:
        """True when the command exited with status 0."""
        return self.rc == 0

    def __repr__(self) -> str:
        out = (self.stdout.strip().splitlines() or [""])[0][:60]
        return f"<CommandResult {self.node}$ {self.command!r} rc={self.rc} {out!r}>"

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        return show(self)

    def __str__(self) -> str:
        return show(self)["text/plain"]


@dataclass(frozen=True)
class PingResult:
    """``ping`` from a node: packets sent and received, loss as a fraction, round-trip times in ms."""

    target: str
    sent: int
    received: int
    rtt_min_ms: float | None = None
    rtt_avg_ms: float | None = None
    rtt_max_ms: float | None = None
    source: str = ""
    output: str = ""
    #: What the pinger itself knows of a loss (a VM's guest: whether its next hop answered ARP).
    note: str = ""

    @property
    def ok(self) -> bool:
        """True when at least one reply came back."""
        return self.received > 0

    @property
    def loss(self) -> float:
        """Lost fraction, 0.0 to 1.0."""
        return 1.0 - self.received / self.sent if self.sent else 1.0

    @property
    def hint(self) -> str:
        """Why replies were missing, when ping's output tells; empty otherwise.

        >>> PingResult("10.0.0.9", 1, 0, output="connect: Network is unreachable").hint[:22]
        'this node has no route'
        """
        if self.received == self.sent:
            return ""
        if self.note:
            return self.note
        for needle, why in _PING_HINTS:
            if needle in self.output:
                return why
        said = [line for line in self.output.splitlines() if line.startswith("ping:")]
        if said:
            return f"ping refused to run: {said[0][5:].strip()}"
        if self.received:
            return (f"{self.sent - self.received} of {self.sent} replies were lost: a link that came up just now, "
                    "or something on the way that drops some packets")
        return ("no reply came back within the timeout, and nothing on the way reported an error: the target "
                "or a router drops the packets, or has no route back to this node (a capture at each hop, "
                "lab.capture(...), shows where they stop)")

    def __repr__(self) -> str:
        rtt = f" rtt avg {self.rtt_avg_ms:.3f} ms" if self.rtt_avg_ms is not None else ""
        hint = " (why: see .hint)" if self.hint else ""
        return f"<PingResult {self.source}→{self.target} {self.received}/{self.sent} received{rtt}{hint}>"

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        return show(self)

    def __str__(self) -> str:
        return show(self)["text/plain"]


@dataclass(frozen=True)
class InterfaceState:
    """One interface as the kernel reports it."""

    name: str
    index: int
    kind: str
    mac: str
    state: str
    mtu: int
    addresses: tuple[str, ...] = ()
    master: str | None = None
    peer_index: int | None = None
    rx_packets: int = 0
    tx_packets: int = 0

    def brief(self) -> str:
        """One line in the style of ``ip -br addr``."""
        return f"{self.name:<16} {self.state:<14} {' '.join(self.addresses)}".rstrip()


@dataclass(frozen=True)
class Nexthop:
    """One path of a multipath (ECMP) route: gateway, interface and weight, as ``ip route`` lists it."""

    via: str | None
    dev: str | None
    weight: int = 1
    #: ``dead`` (its interface is down: not used), ``linkdown`` (no carrier), as the kernel flags it.
    flags: tuple[str, ...] = ()

    def __str__(self) -> str:
        words = (["via", self.via] if self.via else []) + (["dev", self.dev] if self.dev else [])
        return " ".join(["nexthop", *words, "weight", str(self.weight), *self.flags])


@dataclass(frozen=True)
class RouteEntry:
    """One route of the main table; a multipath (ECMP) route has no ``via``/``dev`` of its own but
    ``nexthops``."""

    dest: str
    via: str | None
    dev: str | None
    proto: str
    scope: str
    src: str | None = None
    nexthops: tuple[Nexthop, ...] = ()

    def brief(self) -> str:
        """One line in the style of ``ip route`` (a multipath route's next hops on the same line)."""
        parts = [self.dest]
        if self.via:
            parts += ["via", self.via]
        if self.dev:
            parts += ["dev", self.dev]
        parts += ["proto", self.proto, "scope", self.scope]
        if self.src:
            parts += ["src", self.src]
        parts += [str(h) for h in self.nexthops]
        return " ".join(parts)

    @property
    def gateways(self) -> tuple[str, ...]:
        """Every gateway of the route: its ``via``, or each next hop's."""
        if self.nexthops:
            return tuple(h.via for h in self.nexthops if h.via)
        return (self.via,) if self.via else ()


@dataclass(frozen=True)
class NeighbourEntry:
    """One ARP entry: IP, MAC (None while unresolved), interface and NUD state."""

    ip: str
    mac: str | None
    dev: str
    state: str


@dataclass(frozen=True)
class FdbEntry:
    """One entry of a bridge's MAC table; ``age_s`` is the time since the bridge last saw the MAC."""

    mac: str
    port: str
    age_s: float | None
    local: bool = False
    static: bool = False


@dataclass(frozen=True)
class SocketEntry:
    """A socket waiting for peers in a node: a TCP listener or a bound UDP socket (as ``ss -ltun`` lists)."""

    proto: str
    address: str
    port: int


@dataclass(frozen=True)
class RouteLookup:
    """How a node would send to an address (``ip route get``): interface, source address, gateway."""

    dev: str | None
    src: str | None
    via: str | None = None


@dataclass(frozen=True)
class ProcessState:
    """A background process: whether it still runs, and its exit status once it ended."""

    running: bool
    rc: int | None = None


@dataclass(frozen=True)
class ProcessEnd:
    """A background process after ``stop``: its exit status and everything it wrote."""

    rc: int | None
    output: str


@dataclass(frozen=True)
class CapturePoint:
    """Where frames are seen: one interface of one node."""

    node: str
    ifname: str

    @property
    def label(self) -> str:
        """``node:ifname``, as shown in tables and written to pcapng."""
        return f"{self.node}:{self.ifname}"
