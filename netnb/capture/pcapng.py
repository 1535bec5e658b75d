"""pcapng, the capture format that keeps each frame's interface and direction.

Written by hand (a few struct layouts) because the agent's recorder must write frames as fast as the
kernel hands them over, and scapy's writer costs several microseconds a frame. Wireshark, tshark,
tcpdump and scapy read the result.

>>> import io
>>> buf = io.BytesIO()
>>> write_header(buf.write, ["A:eth0"])
>>> write_epb(buf.write, 1_000_000_123, b"\\x00" * 14, 14, outgoing=True)
>>> [(f.ts_ns, f.point, f.outgoing) for f in read_frames(buf.getvalue())[0]]
[(1000000123, 0, True)]
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_SHB = struct.pack("=IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack("=I", 28)
_BLOCK = struct.Struct("=II")
EPB_HEAD = struct.Struct("=IIIIIII")     # type 6, total length, interface id, ts high, ts low, caplen, origlen
EPB_TAIL = struct.Struct("=HHIHHI")      # epb_flags option (2, 4, value), opt_endofopt, total length
_EPB = struct.Struct("=IIIII")


@dataclass(frozen=True)
class Frame:
    """One captured frame: nanosecond timestamp, capture point index, direction and bytes."""

    ts_ns: int
    point: int
    outgoing: bool
    data: bytes
    wire_len: int


def idb(name: str) -> bytes:
    """Interface description block: Ethernet, no snap limit, the point's name, nanosecond timestamps."""
    raw = name.encode()
    opts = struct.pack("=HH", 2, len(raw)) + raw + b"\0" * (-len(raw) % 4)
    opts += struct.pack("=HHB3x", 9, 1, 9) + struct.pack("=HH", 0, 0)  # if_tsresol = 10^-9, end
    body = struct.pack("=HHI", 1, 0, 0) + opts
    total = 12 + len(body)
    return struct.pack("=II", 1, total) + body + struct.pack("=I", total)


def write_header(write: Callable[[bytes], object], names: Sequence[str]) -> None:
    """Section header and one interface block per point (interface id = position in ``names``)."""
    write(_SHB + b"".join(idb(n) for n in names))


def write_epb(write: Callable[[bytes | memoryview], object], ts_ns: int, data: bytes | memoryview, wire_len: int,
              outgoing: bool, ifid: int = 0) -> None:
    """One enhanced packet block with its direction flag (1 inbound, 2 outbound)."""
    snap = len(data)
    pad = -snap % 4
    total = EPB_HEAD.size + snap + pad + EPB_TAIL.size
    write(EPB_HEAD.pack(6, total, ifid, ts_ns >> 32, ts_ns & 0xFFFFFFFF, snap, wire_len))
    write(data)
    if pad:
        write(b"\0" * pad)
    write(EPB_TAIL.pack(2, 4, 2 if outgoing else 1, 0, 0, total))


def read_frames(data: bytes, point_offset: int = 0) -> tuple[list[Frame], int]:
    """Frames of the complete blocks in ``data``, and how many bytes those blocks used."""
    frames, pos = [], 0
    while pos + 8 <= len(data):
        btype, total = _BLOCK.unpack_from(data, pos)
        if total < 12 or pos + total > len(data):
            break
        if btype == 6:
            ifid, hi, lo, caplen, origlen = _EPB.unpack_from(data, pos + 8)
            body = pos + 28
            flags_pos = body + caplen + (-caplen % 4)
            outgoing = False
            if flags_pos + 8 <= pos + total - 4:
                code, _, value = struct.unpack_from("=HHI", data, flags_pos)
                outgoing = code == 2 and value & 3 == 2
            frames.append(Frame((hi << 32) | lo, point_offset + ifid, outgoing, bytes(data[body:body + caplen]),
                                origlen))
        pos += total
    return frames, pos
