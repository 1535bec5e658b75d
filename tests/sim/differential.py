"""Run the same lab and the same actions on the kernel and on the simulation; say what a user would see
differently.

An observation is plain data with what is random or timed taken out: MAC addresses become the name of the
interface that owns them (``A:eth0``), a bridge's MAC "one of its ports'" (Linux gives it the lowest, and
MACs are random), times, IP ids, checksums, ICMP identifiers and ephemeral ports become fixed words.
"""

from __future__ import annotations

import json
import re
import struct
import time
from collections.abc import Callable
from typing import Any

import netnb
from netnb.backends.sim import frames as fr

MAC_RX = re.compile(r"\b[0-9a-f]{2}(?::[0-9a-f]{2}){5}\b")
TIMES = [
    (re.compile(r"time=[\d.]+ ms"), "time=T ms"),
    (re.compile(r"time \d+ms"), "time Tms"),
    (re.compile(r"rtt min/avg/max/mdev = [\d./]+ ms"), "rtt min/avg/max/mdev = T ms"),
    (re.compile(r"\d+\.\d{3} ms"), "T ms"),
    (re.compile(r"\bid=\d+"), "id=N"),  # ICMP identifiers (conntrack lines)
    (re.compile(r"after \d+ ms"), "after T ms"),  # curl's "Failed to connect ... after 1 ms" (0 or 1 by timing)
    (re.compile(r"qdisc (\w+) [0-9a-f]+:"), r"qdisc \1 N:"),  # qdisc handles: one counter for all namespaces
    (re.compile(r'"handle":"[0-9a-f]+:"'), '"handle":"N:"'),
]
KEEP = ("01:00:5e:", "33:33:", "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00")


class Owners:
    """MAC -> who owns it, read from the lab's interfaces."""

    def __init__(self, lab: netnb.Lab) -> None:
        self.names: dict[str, str] = {}
        states = lab.live().all_interfaces()
        bridges: dict[str, list[str]] = {}
        for node, links in states.items():
            for link in links:
                if link.kind == "bridge":
                    bridges.setdefault(link.mac, []).append(f"{node}:{link.name}")
        for node, links in states.items():
            for link in links:
                if link.kind != "bridge" and link.name != "lo":
                    self.names.setdefault(link.mac, f"{node}:{link.name}")
        for mac, labels in bridges.items():
            # A bridge takes its lowest port's MAC (or a random one while it has no port): which port that
            # is depends on random MACs, so such a MAC keeps the name of its port.
            self.names.setdefault(mac, "/".join(labels))

    def mac(self, mac: str | None) -> str | None:
        if mac is None or mac.startswith(KEEP):
            return mac
        return self.names.get(mac, "other-mac")

    def text(self, text: str) -> str:
        text = MAC_RX.sub(lambda m: self.mac(m.group(0)) or "", text)
        for rx, word in TIMES:
            text = rx.sub(word, text)
        return text


def interfaces(lab: netnb.Lab, owners: Owners) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for node, links in sorted(lab.live().all_interfaces().items()):
        index = {link.index: link for link in links}
        rows = []
        for link in links:
            peer = None
            if link.peer_index is not None and link.kind == "veth":
                # peer_index is an index in the peer's namespace: a pair inside this node points both ways.
                other = index.get(link.peer_index)
                peer = other.name if other is not None and other.peer_index == link.index else "(elsewhere)"
            state = "UP" if link.kind == "bridge" and link.state == "UNKNOWN" else link.state
            rows.append((link.name, link.kind, state, link.mtu, link.addresses, link.master, peer,
                         owners.mac(link.mac) if link.kind != "bridge" else "bridge-mac"))
        out[node] = sorted(rows)
    return out


def routes(lab: netnb.Lab) -> dict[str, list[tuple[Any, ...]]]:
    return {node: [(r.dest, r.via, r.dev, r.proto, r.scope, r.src, tuple(map(str, r.nexthops)))
                   for r in lab.live().routes(node)]
            for node in sorted(lab.live().all_interfaces())}


#: A kernel neighbour stays REACHABLE for a random 15-45 s (base_reachable_time 30 s) after it was confirmed:
#: once a lab has run longer than that, whether an entry is REACHABLE, STALE, DELAY or PROBE is chance.
REACHABLE_MIN_S = 15.0
_RESOLVED = {"REACHABLE", "STALE", "DELAY", "PROBE"}


def neighbours(lab: netnb.Lab, owners: Owners, nodes: list[str], running_s: float = 0.0
               ) -> dict[str, list[tuple[Any, ...]]]:
    """ARP tables; after REACHABLE_MIN_S of the lab's (wall or simulated) time, resolved states compare as one."""
    def state(s: str) -> str:
        return "RESOLVED(timed)" if running_s > REACHABLE_MIN_S and s in _RESOLVED else s
    return {node: sorted((n.ip, owners.mac(n.mac), n.dev, state(n.state)) for n in lab.live().neighbours(node))
            for node in nodes}


def fdbs(lab: netnb.Lab, owners: Owners) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for node, links in sorted(lab.live().all_interfaces().items()):
        for link in links:
            if link.kind == "bridge":
                out[f"{node}:{link.name}"] = sorted((owners.mac(e.mac), e.port, e.local)
                                                    for e in lab.live().fdb(node, link.name))
    return out


def frame_summary(data: bytes, owners: Owners) -> tuple[Any, ...]:
    """What a packet table shows of a frame, minus what is random."""
    dst, src, ethertype, payload = fr.parse_ether(data)
    head: tuple[Any, ...] = (owners.mac(fr.mac_text(dst)), owners.mac(fr.mac_text(src)), hex(ethertype))
    if ethertype == fr.ETH_ARP:
        op, sha, spa, tha, tpa = fr.parse_arp(payload)
        return head + ("arp", op, owners.mac(fr.mac_text(sha)), ".".join(map(str, spa)),
                       owners.mac(fr.mac_text(tha)), ".".join(map(str, tpa)))
    if ethertype != fr.ETH_IP:
        return head + (len(payload),)
    ip = fr.parse_ip(payload)
    assert ip is not None
    addr = (".".join(map(str, ip.src)), ".".join(map(str, ip.dst)), ip.proto, ip.ttl, ip.df, ip.tos,
            len(ip.payload))
    if ip.proto == fr.PROTO_ICMP:
        kind, code, rest = fr.parse_icmp(ip.payload)
        extra: tuple[Any, ...] = (kind, code)
        if kind in (0, 8):
            extra += (struct.unpack_from("!H", rest, 2)[0],)  # the sequence, not the identifier
        return head + addr + extra
    if ip.proto == fr.PROTO_TCP:
        seg = fr.parse_tcp(ip.payload)
        flags = "".join(c for bit, c in ((fr.SYN, "S"), (fr.FIN, "F"), (fr.RST, "R"), (fr.PSH, "P"), (fr.ACK, "A"))
                        if seg.flags & bit)
        return head + addr + (min(seg.sport, 32768), min(seg.dport, 32768), flags, len(seg.payload),
                              _option_kinds(seg.options))
    if ip.proto == fr.PROTO_UDP:
        sport, dport = struct.unpack_from("!HH", ip.payload)
        return head + addr + (min(sport, 32768), min(dport, 32768))
    return head + addr


def _option_kinds(options: bytes) -> tuple[int, ...]:
    kinds, i = [], 0
    while i < len(options):
        kind = options[i]
        kinds.append(kind)
        if kind in (0, 1):
            i += 1
            continue
        i += max(options[i + 1], 2) if i + 1 < len(options) else 1
    return tuple(kinds)


def observe(lab: netnb.Lab, script: list[tuple[Any, ...]], fdb: bool = True, began: float | None = None
            ) -> list[tuple[str, Any]]:
    """Carry out ``script`` on a running lab; what a user saw at each step (normalised)."""
    began = time.monotonic() if began is None else began
    owners = Owners(lab)
    seen: list[tuple[str, Any]] = [("interfaces", interfaces(lab, owners)), ("routes", routes(lab)),
                                   ("fdb", fdbs(lab, owners) if fdb else None)]
    for step in script:
        what = step[0]
        if what == "ping":
            _, src, dst, kw = step
            r = lab[src].ping(dst, **kw)
            seen.append((f"ping {src}->{dst}", (r.sent, r.received, r.hint, owners.text(r.output))))
        elif what == "run":
            _, node, cmd = step
            r = lab[node].run(cmd)
            seen.append((f"run {node}: {cmd}", (r.rc, owners.text(r.stdout), owners.text(r.stderr))))
        elif what == "popen":
            _, node, cmd, port = step
            lab[node].popen(cmd).wait_listening(port)
            seen.append((f"popen {node}: {cmd}", sorted((s.proto, s.address, s.port) for s in lab[node].listening())))
        elif what == "vm-ping":
            _, vm, target = step
            machine = next(v for v in lab.vms if v.name == vm)
            r = machine.ping(lab[target], count=2, timeout=1.0)
            seen.append((f"vm {vm} ping {target}", (r.sent, r.received, r.hint)))
        elif what == "stp":
            states = []
            for node in lab:
                if node.kind.value == "switch":
                    states += [e["state"] for e in json.loads(node.run("bridge -j link show").stdout or "[]")]
            seen.append(("bridge port states", sorted(states)))
        elif what == "neigh":
            running = max(time.monotonic() - began, _simulated_s(lab))
            seen.append(("neighbours", neighbours(lab, owners, list(step[1]), running)))
        elif what == "fdb":
            seen.append(("fdb", fdbs(lab, owners)))
        elif what == "startup":  # what the nodes' startup commands printed when the lab started
            seen.append(("startup", [(r.node, r.command, r.rc, owners.text(r.stdout), owners.text(r.stderr))
                                     for r in lab.startup_results]))
        elif what == "capture":
            _, points, inner, flt = step
            with lab.capture(*points, filter=flt) as cap:
                seen += observe_steps(lab, inner, owners)
            # Per point and direction, in order: how frames of the two directions interleave at a point is a
            # race of microseconds on a kernel (a FIN leaving while an ACK arrives), not something a user
            # could rely on; the order within one direction is what causality fixes.
            frames: dict[str, dict[int, list[Any]]] = {}
            for p in cap:
                frames.setdefault(p.sniffed_on, {}).setdefault(p.direction, []).append(frame_summary(bytes(p), owners))
            seen.append(("capture", frames))
        else:
            raise ValueError(what)
    return seen


def observe_steps(lab: netnb.Lab, script: list[tuple[Any, ...]], owners: Owners) -> list[tuple[str, Any]]:
    return observe(lab, script)[3:]


def _simulated_s(lab: netnb.Lab) -> float:
    """Seconds of simulated time the lab has run (0 on the kernel)."""
    world = getattr(lab.live(), "world", None)
    return 0.0 if world is None else (world.clock.now - world.started) / 1e9


def compare(make: Callable[[str], netnb.Lab], script: list[tuple[Any, ...]], fdb: bool = True) -> list[str]:
    """Differences between the kernel and the simulation for one lab and script ([] when they agree);
    ``fdb`` False leaves the bridges' learned entries out of the first look."""
    results = {}
    for backend in ("kernel", "sim"):
        lab = make(backend)
        with lab:
            results[backend] = observe(lab, script, fdb)
    diffs = []
    for (name, k), (_, s) in zip(results["kernel"], results["sim"]):
        if k != s:
            diffs.append(f"{name}:{first_difference(k, s)}\n  kernel: {k!r}\n  sim:    {s!r}")
    return diffs


def first_difference(k: Any, s: Any, path: str = "") -> str:
    """Where two observations first differ, in a line (the whole values follow it)."""
    if isinstance(k, dict) and isinstance(s, dict):
        for key in sorted(set(k) | set(s), key=str):
            if k.get(key) != s.get(key):
                return first_difference(k.get(key), s.get(key), f"{path}[{key!r}]")
    if isinstance(k, (list, tuple)) and isinstance(s, (list, tuple)):
        for i, (a, b) in enumerate(zip(k, s)):
            if a != b:
                return first_difference(a, b, f"{path}[{i}]")
        if len(k) != len(s):
            extra = (k if len(k) > len(s) else s)[min(len(k), len(s))]
            return f" first at {path}: kernel has {len(k)} items, sim {len(s)} (the first extra: {extra!r})"
    return f" first at {path}: kernel {k!r} / sim {s!r}"


# -- whole tutorials -----------------------------------------------------------------------------------------
_OUTPUT_RULES = [
    # What the two backends are meant to say differently: which one runs, and that a lab is simulated.
    (re.compile(r"^netnb[^\n]*: labs run here[^\n]*$", re.M), "LABS RUN HERE"),
    (re.compile(r" \(simulated\)|, simulated\b"), ""),
    (re.compile(r"\(rc=(\d+), \d+ ms\)"), r"(rc=\1, N ms)"),
    (re.compile(r"\b\d+ µs\b"), "N µs"),                       # a journey's "after" column
    (re.compile(r"/tmp/[\w./-]*netnb-lab-[\w.-]+[\w./-]*"), "LAB-FOLDER"),
    (re.compile(r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),? [\w :]+\d{4}(?: GMT)?"), "DATE"),
    (re.compile(r"\d{2}/\w{3}/\d{4} \d\d:\d\d:\d\d"), "DATE"),
    (re.compile(r"\b(?:pid[= ]|process |pid )\d+"), "pid N"),
    (re.compile(r"\b(id|seq|ack)=\d+"), r"\1=N"),
    (re.compile(r"\bicmp_seq=(\d+) ttl=(\d+) time=[\d.]+ ms"), r"icmp_seq=\1 ttl=\2 time=T ms"),
    (re.compile(r"(?<![\d.])\d+\.\d+(?![\d.])"), "F"),           # times, rates, round trips (not addresses)
    (re.compile(r"\b(3[3-9]\d{3}|[4-5]\d{4}|6[0-5]\d{3})\b"), "EPHEMERAL"),  # ports a kernel picks at random
]


def normalise_output(text: str, macs: dict[str, str]) -> str:
    """A tutorial cell's output with what is random or timed replaced. MACs become "MAC": which port's MAC
    a bridge borrows (the lowest) depends on random MACs, so even their order of appearance differs."""
    text = MAC_RX.sub(lambda m: m.group(0) if m.group(0).startswith(KEEP) else "MAC", text)
    for rx, word in _OUTPUT_RULES:
        text = rx.sub(word, text)
    text = _mask_icmp_ids(text)
    # Tables were aligned around the values replaced above; connection-table lines come in hash order.
    lines = [re.sub(r" {2,}", "  ", line).rstrip() for line in text.split("\n")]
    conntrack = sorted(line for line in lines if line.startswith("ipv4  2 "))
    return "\n".join(conntrack.pop(0) if line.startswith("ipv4  2 ") else line for line in lines)


def _mask_icmp_ids(text: str) -> str:
    """A journey table's icmp.id column (a pinger's process id on a kernel) as "N"."""
    out, masking = [], False
    for line in text.split("\n"):
        if "icmp.id" in line.split():
            masking = True
        elif masking and re.match(r"^\d+\s", line):
            line = re.sub(r"\S+$", "N", line)
        else:
            masking = False
        out.append(line)
    return "\n".join(out)


def tutorial_outputs(recorded: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    macs: dict[str, str] = {}
    return [(c["cell"], normalise_output(c["stdout"], macs), normalise_output(c["text"] or "", macs))
            for c in recorded]
