"""BPF filters, exactly as tcpdump reads them: compiled by libpcap (through scapy), matched by libpcap.

The same compiled program is attached to capture sockets in the kernel (``filter=`` of a capture)
and run over stored frames (``cap.filter("icmp")``), so both mean the same thing.

>>> prog = BpfProgram("icmp")
>>> prog.matches(bytes.fromhex("ffffffffffff000000000001" "0806") + bytes(28))
False
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

from netnb.errors import NetnbError

DLT_EN10MB = 1


class _Insn(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint32)]


class _Program(ctypes.Structure):
    _fields_ = [("bf_len", ctypes.c_uint), ("bf_insns", ctypes.POINTER(_Insn))]


class _PktHdr(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long), ("caplen", ctypes.c_uint32),
                ("len", ctypes.c_uint32)]


@functools.lru_cache(maxsize=1)
def _libpcap() -> ctypes.CDLL:
    name = ctypes.util.find_library("pcap") or "libpcap.so.0.8"
    try:
        lib = ctypes.CDLL(name)
    except OSError as exc:
        raise NetnbError("BPF filters need libpcap: apt-get install libpcap0.8 (tcpdump brings it)") from exc
    lib.pcap_compile_nopcap.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.POINTER(_Program), ctypes.c_char_p,
                                        ctypes.c_int, ctypes.c_uint32]
    lib.pcap_offline_filter.argtypes = [ctypes.POINTER(_Program), ctypes.POINTER(_PktHdr), ctypes.c_char_p]
    lib.pcap_freecode.argtypes = [ctypes.POINTER(_Program)]
    return lib


class BpfProgram:
    """A compiled filter expression (tcpdump syntax: ``"arp or icmp"``, ``"tcp port 80"``...)."""

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self._prog = _Program()
        lib = _libpcap()
        if lib.pcap_compile_nopcap(262144, DLT_EN10MB, ctypes.byref(self._prog), expression.encode(), 1,
                                   0xFFFFFFFF) != 0:
            raise NetnbError(f"{expression!r} is not a valid filter (tcpdump syntax, e.g. 'arp or icmp', "
                             f"'tcp port 80', 'host 10.0.0.2')")

    @property
    def instructions(self) -> list[list[int]]:
        """The program as (code, jt, jf, k) rows, to attach to a socket."""
        p = self._prog
        return [[p.bf_insns[i].code, p.bf_insns[i].jt, p.bf_insns[i].jf, p.bf_insns[i].k] for i in range(p.bf_len)]

    def matches(self, frame: bytes, wire_len: int | None = None) -> bool:
        """Whether the Ethernet frame passes the filter."""
        hdr = _PktHdr(0, 0, len(frame), wire_len or len(frame))
        return bool(_libpcap().pcap_offline_filter(ctypes.byref(self._prog), ctypes.byref(hdr), frame))

    def __del__(self) -> None:
        try:
            _libpcap().pcap_freecode(ctypes.byref(self._prog))
        except Exception:
            pass
