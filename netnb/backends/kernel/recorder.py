"""Recording frames at capture points without losing any: a TPACKET_V3 ring per point, spooled to pcapng.

Runs in the agent. Each point is an AF_PACKET socket opened inside the node's namespace and bound to
one interface, with a memory-mapped receive ring (64 MiB for a capture of one point, less per point
when a capture has many: see ``netnb.capture.capture.ring_size``) that the kernel fills in blocks;
a reader thread copies whole blocks' frames to a pcapng file per point, without dissecting them.
Written by hand because no library reads a TPACKET_V3 ring from Python; scapy's sniffer tops out
near 5k packets/s here and drops what is still queued when stopped.

pcapng keeps what a classic pcap loses: the interface name and the direction of every frame.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from netnb.backends.kernel import nsutil
from netnb.capture import pcapng
from netnb.capture.pcapng import write_epb

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_RX_RING = 5
PACKET_STATISTICS = 6
PACKET_VERSION = 10
TPACKET_V3 = 2
TP_STATUS_USER = 1
PACKET_OUTGOING = 4
SO_ATTACH_FILTER = 26

_BLOCK_HDR = struct.Struct("=IIIII")      # version, offset_to_priv, block_status, num_pkts, offset_to_first_pkt
_PKT_HDR = struct.Struct("=IIIIII")       # next_offset, sec, nsec, snaplen, len, status
_PKT_MAC = struct.Struct("=H")            # tp_mac (offset 24)
_SLL_PKTTYPE_OFFSET = 48 + 10             # sockaddr_ll follows the 48-byte tpacket3_hdr
_STATS_V3 = struct.Struct("=III")         # packets, drops, freeze_q_cnt

_RETIRE_MS = 10
_REJECT_ALL = [[0x06, 0, 0, 0]]  # BPF "ret #0": take no frame


def bpf_program_bytes(instructions: Sequence[Sequence[int]]) -> bytes:
    """Classic BPF instructions (code, jt, jf, k) packed as ``struct sock_filter[]``."""
    return b"".join(struct.pack("=HBBI", *ins) for ins in instructions)


def _attach(sock: socket.socket, instructions: Sequence[Sequence[int]]) -> None:
    program = ctypes.create_string_buffer(bpf_program_bytes(instructions))
    fprog = struct.pack("HL", len(instructions), ctypes.addressof(program))  # struct sock_fprog
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


@dataclass
class Point:
    """One capture point: a socket with its ring, and the pcapng file it spools to."""

    label: str
    node: str
    sock: socket.socket
    ring: mmap.mmap
    block_size: int
    block_count: int
    out: BinaryIO
    path: str
    next_block: int = 0
    packets: int = 0
    kernel_seen: int = 0
    kernel_drops: int = 0

    def read_stats(self) -> None:
        """Add the kernel's counters since the last read (reading resets them)."""
        raw = self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, _STATS_V3.size)
        seen, drops, _ = _STATS_V3.unpack(raw)
        self.kernel_seen += seen
        self.kernel_drops += drops


@dataclass
class Recording:
    """A running capture: its points and the thread draining their rings."""

    ident: int
    points: list[Point]
    stop_event: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    started: float = field(default_factory=time.time)
    error: str | None = None


def open_point(ns_fd: int, home_fd: int, ifname: str, label: str, path: str,
               filter_code: Sequence[Sequence[int]] | None, ring_mib: int = 64,
               block_kib: int | None = None, retire_ms: int = _RETIRE_MS) -> Point:
    """Open the socket inside the namespace, set up its ring (``ring_mib``, pinned kernel memory for as
    long as the point records, in at least 8 blocks) and filter, bind it to ``ifname``."""
    if block_kib is None:
        block_kib = max(128, min(1024, ring_mib * 1024 // 8))
    with nsutil.inside(ns_fd, home_fd):
        # Protocol 0: the socket takes no frame until bind() names the interface and ETH_P_ALL; created
        # with ETH_P_ALL it would queue every interface's frames outside the ring meanwhile.
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    try:
        sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
        if filter_code:
            _attach(sock, filter_code)
        block_size = block_kib * 1024
        block_count = max(2, ring_mib * 1024 * 1024 // block_size)
        frame_size = 2048
        req = struct.pack("=IIIIIII", block_size, block_count, frame_size,
                          block_size * block_count // frame_size, retire_ms, 0, 0)
        sock.setsockopt(SOL_PACKET, PACKET_RX_RING, req)
        ring = mmap.mmap(sock.fileno(), block_size * block_count, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        sock.bind((ifname, ETH_P_ALL))  # CPython applies htons; the name is resolved in the socket's namespace
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    out = open(path, "wb", buffering=1 << 20)
    pcapng.write_header(out.write, [label])
    out.flush()
    return Point(label, label.rsplit(":", 1)[0], sock, ring, block_size, block_count, out, path)


def _drain_point(p: Point) -> int:
    """Copy every block the kernel handed over to the spool file; returns frames copied."""
    ring, copied = p.ring, 0
    write = p.out.write
    while True:
        base = p.next_block * p.block_size
        _, _, status, num, first = _BLOCK_HDR.unpack_from(ring, base)
        if not status & TP_STATUS_USER:
            break
        off = base + first
        for _ in range(num):
            nxt, sec, nsec, snap, length, _st = _PKT_HDR.unpack_from(ring, off)
            mac = _PKT_MAC.unpack_from(ring, off + 24)[0]
            outgoing = ring[off + _SLL_PKTTYPE_OFFSET] == PACKET_OUTGOING
            write_epb(write, sec * 1_000_000_000 + nsec, ring[off + mac: off + mac + snap], length, outgoing)
            off += nxt
        copied += num
        struct.pack_into("=I", ring, base + 8, 0)  # hand the block back to the kernel
        p.next_block = (p.next_block + 1) % p.block_count
    p.packets += copied
    return copied


def run_recording(rec: Recording) -> None:
    """The reader thread: wait for blocks, spool them; after stop, drain what is left, then close."""
    poller = select.poll()
    for p in rec.points:
        poller.register(p.sock.fileno(), select.POLLIN | select.POLLERR)
    try:
        while not rec.stop_event.is_set():
            poller.poll(50)
            for p in rec.points:  # every ring: poll() reports a ring once, more blocks may be waiting
                if _drain_point(p):
                    p.out.flush()  # readers follow the file while the capture runs
        # Stop: first close the door (a filter that accepts nothing, so the kernel's counters freeze),
        # then wait for the kernel to retire the partly filled block and copy out everything left.
        for p in rec.points:
            _attach(p.sock, _REJECT_ALL)
        started, idle = time.monotonic(), 0
        while time.monotonic() - started < 2.0:
            got = sum(_drain_point(p) for p in rec.points)
            idle = 0 if got else idle + 1
            if idle >= 3 and time.monotonic() - started > 3 * _RETIRE_MS / 1000:
                break
            time.sleep(0 if got else _RETIRE_MS / 1000)
    except Exception as exc:  # reported through the capture's status
        rec.error = f"{type(exc).__name__}: {exc}"
    finally:
        for p in rec.points:
            try:
                p.read_stats()
            except OSError:
                pass
            p.out.flush()
            p.out.close()
            p.ring.close()
            p.sock.close()


def stats(rec: Recording) -> dict[str, dict[str, int]]:
    """Frames spooled, seen and dropped by the kernel, per point."""
    return {p.label: {"packets": p.packets, "kernel_seen": p.kernel_seen, "kernel_drops": p.kernel_drops}
            for p in rec.points}


def discard(points: Sequence[Point]) -> None:
    """Close points and remove their spool files (when opening a capture fails half-way)."""
    for p in points:
        p.out.close()
        p.ring.close()
        p.sock.close()
        try:
            os.unlink(p.path)
        except FileNotFoundError:
            pass
