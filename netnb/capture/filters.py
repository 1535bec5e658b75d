"""tcpdump filter expressions read without libpcap: the subset people write in labs, turned into a Python
predicate over Ethernet frames.

libpcap (through :mod:`netnb.capture.bpf`) stays the reference where it exists; Pyodide has no libpcap, and
the simulated backend needs none, so this compiler reads: ``ether``/``ip``/``ip6``/``arp``/``icmp``/``tcp``/
``udp``/``vlan``, ``host``/``net``/``port``/``portrange`` with ``src``/``dst`` (and ``ether host/src/dst``,
``ip proto``, ``ether proto``), ``broadcast``/``multicast``, ``less``/``greater``, ``and``/``or``/``not`` and
parentheses, and comparisons of packet bytes such as ``tcp[tcpflags] & tcp-syn != 0``,
``icmp[icmptype] = icmp-echo`` or ``ip[8] < 64``. ``tests/unit/test_filters.py`` proves it equal to libpcap
on a corpus of expressions and frames. Anything else raises :class:`UnsupportedFilter` (a NetnbError) that
names the word it cannot read. Written by hand: no pure-Python pcap-filter parser exists.

>>> match = compile_filter("tcp port 80 or arp")
>>> match(bytes(12) + b"\\x08\\x06" + bytes(28))
True
"""

from __future__ import annotations

import ipaddress
import re
import struct
from collections.abc import Callable

from netnb.errors import NetnbError

Predicate = Callable[[bytes], bool]
Value = Callable[[bytes], "int | None"]

ETH_IP, ETH_ARP, ETH_IP6, ETH_VLAN = 0x0800, 0x0806, 0x86DD, 0x8100
PROTOS = {"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "sctp": 132}
CONSTANTS = {
    "tcp-fin": 0x01, "tcp-syn": 0x02, "tcp-rst": 0x04, "tcp-push": 0x08, "tcp-ack": 0x10, "tcp-urg": 0x20,
    "tcp-ece": 0x40, "tcp-cwr": 0x80, "icmp-echoreply": 0, "icmp-unreach": 3, "icmp-sourcequench": 4,
    "icmp-redirect": 5, "icmp-echo": 8, "icmp-routeradvert": 9, "icmp-routersolicit": 10, "icmp-timxceed": 11,
    "icmp-paramprob": 12, "icmp-tstamp": 13, "icmp-tstampreply": 14, "icmp-ireq": 15, "icmp-ireqreply": 16,
    "icmp-maskreq": 17, "icmp-maskreply": 18, "tcpflags": 13, "icmptype": 0, "icmpcode": 1,
}
_TOKEN = re.compile(r"\s*(?:(&&|\|\||!=|<=|>=|==|<<|>>|[()!<>=&|+\-*/\[\]:])|(\\?[A-Za-z0-9_.:/\-]+))")


class UnsupportedFilter(NetnbError, ValueError):
    """A filter this compiler does not read (libpcap may: on Linux it is used then)."""


# -- reading frames ---------------------------------------------------------------------------------------
class _Short(Exception):
    """A load past the end of the frame: a BPF program rejects the frame then, whatever the expression."""


def _need(f: bytes, n: int) -> None:
    if len(f) < n:
        raise _Short


def _ethertype(f: bytes) -> int:
    _need(f, 14)
    return struct.unpack_from("!H", f, 12)[0]


def _ip(f: bytes) -> bool:
    return _ethertype(f) == ETH_IP


def _ihl(f: bytes) -> int:
    _need(f, 15)
    return (f[14] & 0x0F) * 4


def _ip_proto(f: bytes) -> int | None:
    if not _ip(f):
        return None
    _need(f, 24)
    return f[23]


def _not_fragment(f: bytes) -> bool:
    _need(f, 22)
    return struct.unpack_from("!H", f, 20)[0] & 0x1FFF == 0


def _ports(f: bytes, proto: int | None) -> tuple[int, int] | None:
    """(source, destination) port of a first fragment of TCP/UDP/SCTP (``proto`` None: any of them)."""
    p = _ip_proto(f)
    if p is None or p not in (6, 17, 132) or (proto is not None and p != proto) or not _not_fragment(f):
        return None
    off = 14 + _ihl(f)
    _need(f, off + 4)
    return struct.unpack_from("!HH", f, off)


def _arp_addrs(f: bytes) -> tuple[bytes, bytes] | None:
    if _ethertype(f) != ETH_ARP:
        return None
    _need(f, 42)
    return f[28:32], f[38:42]


# -- parsing ----------------------------------------------------------------------------------------------
class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[str] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                if text[pos:].strip() == "":
                    break
                raise UnsupportedFilter(f"{text!r}: cannot read {text[pos:]!r}")
            self.tokens.append(m.group(1) or m.group(2))
            pos = m.end()
        self.i = 0

    def peek(self, k: int = 0) -> str | None:
        return self.tokens[self.i + k] if self.i + k < len(self.tokens) else None

    def take(self) -> str:
        tok = self.peek()
        if tok is None:
            raise UnsupportedFilter(f"{self.text!r}: the expression ends too early")
        self.i += 1
        return tok

    def expect(self, tok: str) -> None:
        got = self.take()
        if got != tok:
            raise UnsupportedFilter(f"{self.text!r}: expected {tok!r}, found {got!r}")

    # expr := and_expr (or and_expr)*
    def expr(self) -> Predicate:
        left = self.and_expr()
        while self.peek() in ("or", "||"):
            self.take()
            right = self.and_expr()
            left = (lambda a, b: lambda f: a(f) or b(f))(left, right)
        return left

    def and_expr(self) -> Predicate:
        left = self.unary()
        while self.peek() in ("and", "&&"):
            self.take()
            right = self.unary()
            left = (lambda a, b: lambda f: a(f) and b(f))(left, right)
        return left

    def unary(self) -> Predicate:
        if self.peek() in ("not", "!"):
            self.take()
            inner = self.unary()
            return lambda f: not inner(f)
        if self.peek() == "(" and not self._comparison_ahead():
            self.take()
            inner = self.expr()
            self.expect(")")
            return inner
        if self._comparison_ahead():
            return self.comparison()
        return self.primitive()

    def _comparison_ahead(self) -> bool:
        """Whether a relation (=, !=, <, >...) comes before the end of this primitive."""
        depth = 0
        for tok in self.tokens[self.i:]:
            if tok in ("(", "["):
                depth += 1
            elif tok in (")", "]"):
                depth -= 1
                if depth < 0:
                    return False
            elif depth == 0 and tok in ("and", "&&", "or", "||"):
                return False
            elif tok in ("=", "==", "!=", "<", ">", "<=", ">="):
                return True
        return False

    # -- comparisons of packet bytes ----------------------------------------------------------
    def comparison(self) -> Predicate:
        left = self.arith()
        op = self.take()
        right = self.arith()
        compare = {"=": int.__eq__, "==": int.__eq__, "!=": int.__ne__, "<": int.__lt__, ">": int.__gt__,
                   "<=": int.__le__, ">=": int.__ge__}.get(op)
        if compare is None:
            raise UnsupportedFilter(f"{self.text!r}: {op!r} is not a comparison")

        def test(f: bytes) -> bool:
            a, b = left(f), right(f)
            return a is not None and b is not None and compare(a, b)
        return test

    def arith(self) -> Value:
        left = self.arith_term()
        while self.peek() in ("&", "|", "+", "-", "<<", ">>"):
            op = self.take()
            right = self.arith_term()
            fn = {"&": int.__and__, "|": int.__or__, "+": int.__add__, "-": int.__sub__, "<<": int.__lshift__,
                  ">>": int.__rshift__}[op]
            left = _combine(left, right, fn)
        return left

    def arith_term(self) -> Value:
        tok = self.take()
        if tok == "(":
            inner = self.arith()
            self.expect(")")
            return inner
        if tok == "len":
            return len
        if tok in ("ether", "ip", "arp", "tcp", "udp", "icmp") and self.peek() == "[":
            self.take()
            ahead = self.peek() or ""
            if re.fullmatch(r"\d+:\d+", ahead):  # "6:2" read as one word (a MAC address has colons too)
                self.take()
                first, second = ahead.split(":")
                self.tokens[self.i:self.i] = [first, ":", second]
            offset = self.arith()
            size = 1
            if self.peek() == ":":
                self.take()
                size = int(self.take())
                if size not in (1, 2, 4):
                    raise UnsupportedFilter(f"{self.text!r}: a load is 1, 2 or 4 bytes, not {size}")
            self.expect("]")
            return _load(tok, offset, size)
        if tok in CONSTANTS:
            value = CONSTANTS[tok]
            return lambda f: value
        try:
            value = int(tok, 0)
        except ValueError:
            raise UnsupportedFilter(f"{self.text!r}: cannot read {tok!r} in a comparison") from None
        return lambda f: value

    # -- primitives ------------------------------------------------------------------------------
    def primitive(self) -> Predicate:
        tok = self.take()
        nxt = self.peek()
        if tok in ("less", "greater"):
            n = int(self.take())
            return (lambda f: len(f) <= n) if tok == "less" else (lambda f: len(f) >= n)
        if tok == "ether":
            return self._ether()
        if tok in ("ip", "arp") and nxt in ("host", "src", "dst"):
            return self._host_like(tok)
        if tok == "ip" and nxt == "proto":
            self.take()
            proto = self._proto_number()
            return lambda f: _ip_proto(f) == proto
        if tok == "ip" and nxt == "multicast":
            self.take()
            return _ip_multicast
        if tok in ("tcp", "udp") and nxt in ("port", "src", "dst", "portrange"):
            return self._port(PROTOS[tok])
        if tok in ("ip", "ip6", "arp", "rarp", "icmp", "tcp", "udp", "vlan", "igmp", "sctp", "gre"):
            return _protocol(tok)
        if tok in ("src", "dst"):
            if nxt in ("port", "portrange"):
                self.i -= 1
                return self._port(None)
            self.i -= 1
            return self._host_like(None)
        if tok in ("host", "net"):
            self.i -= 1
            return self._host_like(None)
        if tok in ("port", "portrange"):
            self.i -= 1
            return self._port(None)
        if tok in ("broadcast", "multicast"):
            return _ether_cast(tok)
        raise UnsupportedFilter(f"{self.text!r}: the pure-Python filter does not read {tok!r} (a libpcap filter "
                                "word it does not cover; on Linux with libpcap it is used instead)")

    def _proto_number(self) -> int:
        tok = self.take().lstrip("\\")
        if tok in PROTOS:
            return PROTOS[tok]
        try:
            return int(tok, 0)
        except ValueError:
            raise UnsupportedFilter(f"{self.text!r}: unknown protocol {tok!r}") from None

    def _direction(self) -> str:
        """src, dst, "any" (neither, or ``src or dst``) or "both" (``src and dst``)."""
        if self.peek() in ("src", "dst"):
            d = self.take()
            if self.peek() in ("or", "and") and self.peek(1) in ("src", "dst"):
                joined = self.take()
                self.take()
                return "any" if joined == "or" else "both"
            return d
        return "any"

    def _host_like(self, proto: str | None) -> Predicate:
        direction = self._direction()
        kind = "host"
        if self.peek() in ("host", "net"):
            kind = self.take()
        value = self.take()
        if kind == "net" and self.peek() == "mask":
            self.take()
            value = f"{value}/{self.take()}"
        if kind == "net" and "/" not in value and value.count(".") < 3 and value.replace(".", "").isdigit():
            parts = value.split(".")  # "net 10.1" means 10.1.0.0/16
            value = ".".join(parts + ["0"] * (4 - len(parts))) + f"/{8 * len(parts)}"
        try:
            net = ipaddress.IPv4Network(value, strict=False) if kind == "net" else \
                ipaddress.IPv4Network(f"{ipaddress.IPv4Address(value)}/32")
        except ValueError:
            raise UnsupportedFilter(f"{self.text!r}: {value!r} is not an IPv4 {kind}") from None
        lo, mask = int(net.network_address), int(net.netmask)

        def inside(raw: bytes) -> bool:
            return (int.from_bytes(raw, "big") & mask) == lo

        def pick(src: bytes, dst: bytes) -> bool:
            if direction == "src":
                return inside(src)
            if direction == "dst":
                return inside(dst)
            if direction == "both":
                return inside(src) and inside(dst)
            return inside(src) or inside(dst)

        def test(f: bytes) -> bool:
            if proto in (None, "ip") and _ip(f):
                _need(f, 34)
                return pick(f[26:30], f[30:34])
            if proto in (None, "arp"):
                addrs = _arp_addrs(f)
                if addrs is not None:
                    return pick(*addrs)
            return False
        return test

    def _port(self, proto: int | None) -> Predicate:
        direction = self._direction()
        kind = self.take()
        value = self.take()
        if kind == "portrange" or "-" in value:
            low, _, high = value.partition("-")
            lo, hi = int(low), int(high or low)
        else:
            lo = hi = int(value)

        def test(f: bytes) -> bool:
            ports = _ports(f, proto)
            if ports is None:
                return False
            sport, dport = ports
            if direction == "src":
                return lo <= sport <= hi
            if direction == "dst":
                return lo <= dport <= hi
            if direction == "both":
                return lo <= sport <= hi and lo <= dport <= hi
            return lo <= sport <= hi or lo <= dport <= hi
        return test

    def _ether(self) -> Predicate:
        tok = self.take()
        if tok == "proto":
            value = self.take().lstrip("\\")
            number = {"ip": ETH_IP, "arp": ETH_ARP, "ip6": ETH_IP6}.get(value)
            number = number if number is not None else int(value, 0)
            return lambda f: _ethertype(f) == number
        if tok in ("broadcast", "multicast"):
            return _ether_cast(tok)
        direction = "any"
        if tok in ("src", "dst"):
            direction = tok
            if self.peek() == "host":
                self.take()
        elif tok != "host":
            raise UnsupportedFilter(f"{self.text!r}: 'ether {tok}' is not read here")
        mac = bytes.fromhex(self.take().replace(":", "").replace("-", ""))

        def test(f: bytes) -> bool:
            _need(f, 12)
            if direction == "src":
                return f[6:12] == mac
            if direction == "dst":
                return f[0:6] == mac
            return f[0:6] == mac or f[6:12] == mac
        return test


def _combine(a: Value, b: Value, fn: Callable[[int, int], int]) -> Value:
    def value(f: bytes) -> int | None:
        x, y = a(f), b(f)
        return None if x is None or y is None else fn(x, y) & 0xFFFFFFFF
    return value


def _protocol(name: str) -> Predicate:
    if name == "ip":
        return lambda f: _ethertype(f) == ETH_IP
    if name == "ip6":
        return lambda f: _ethertype(f) == ETH_IP6
    if name == "arp":
        return lambda f: _ethertype(f) == ETH_ARP
    if name == "rarp":
        return lambda f: _ethertype(f) == 0x8035
    if name == "vlan":
        return lambda f: _ethertype(f) in (ETH_VLAN, 0x88A8, 0x9100)
    number = PROTOS[name]

    def test(f: bytes) -> bool:
        if _ip_proto(f) == number:
            return True
        if _ethertype(f) == ETH_IP6:  # (libpcap: an IPv6 packet whose next header is that protocol)
            _need(f, 21)
            return f[20] == number
        return False
    return test


def _ether_cast(kind: str) -> Predicate:
    def test(f: bytes) -> bool:
        _need(f, 6)
        return f[:6] == b"\xff" * 6 if kind == "broadcast" else bool(f[0] & 1)
    return test


def _ip_multicast(f: bytes) -> bool:
    if not _ip(f):
        return False
    _need(f, 31)
    return 224 <= f[30] < 240


def _load(proto: str, offset: Value, size: int) -> Value:
    def base(f: bytes) -> int | None:
        if proto == "ether":
            return 0
        if proto == "arp":
            return 14 if _ethertype(f) == ETH_ARP else None
        if not _ip(f):
            return None
        if proto == "ip":
            return 14
        if _ip_proto(f) != PROTOS[proto] or not _not_fragment(f):
            return None
        return 14 + _ihl(f)

    def value(f: bytes) -> int | None:
        start, off = base(f), offset(f)
        if start is None or off is None:
            return None
        _need(f, start + off + size)
        return int.from_bytes(f[start + off:start + off + size], "big")
    return value


def compile_filter(expression: str) -> Predicate:
    """A predicate over Ethernet frames for a tcpdump filter; UnsupportedFilter when it is beyond the subset."""
    parser = _Parser(expression)
    if not parser.tokens:
        return lambda f: True
    if "vlan" in parser.tokens and len(parser.tokens) > 1:  # later words would read past the tag: libpcap's job
        raise UnsupportedFilter(f"{expression!r}: 'vlan' with other words shifts every offset after it; the "
                                "pure-Python filter reads 'vlan' alone")
    predicate = parser.expr()
    if parser.peek() is not None:
        raise UnsupportedFilter(f"{expression!r}: cannot read {' '.join(parser.tokens[parser.i:])!r}")

    def keeps(frame: bytes) -> bool:
        try:
            return predicate(frame)
        except _Short:
            return False
    return keeps


def matcher(expression: str) -> Predicate:
    """What decides which frames a filter keeps: this compiler, or libpcap (where it is installed) for
    expressions beyond its subset. A clear error when neither reads it."""
    try:
        return compile_filter(expression)
    except UnsupportedFilter as unsupported:
        try:
            from netnb.capture.bpf import BpfProgram

            program = BpfProgram(expression)
        except NetnbError as exc:
            raise UnsupportedFilter(f"{unsupported} — and libpcap could not compile it either: {exc}") from exc
        return program.matches
