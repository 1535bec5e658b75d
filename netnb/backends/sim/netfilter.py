"""Netfilter for simulated nodes: the filter and nat tables, chains and policies, the matches and targets
Docker 24, the tutorials and common course labs use, counters, connection tracking with NAT both ways, and
``iptables`` / ``iptables-save`` printing what iptables 1.8.9 (nf_tables) prints.

Rules are kept as iptables words and parsed once into matches; hooks run in the kernel's order: conntrack
then nat PREROUTING (new connections only), routing, filter INPUT or FORWARD, nat POSTROUTING (new only);
locally made packets meet nat OUTPUT (and are routed again if it changed their destination) and filter
OUTPUT. A connection's NAT is decided by its first packet and applied to every later one, in both
directions. Written by hand: there is no netfilter to borrow outside a kernel.

>>> Rule.parse(["-s", "10.0.0.0/8", "-p", "udp", "--sport", "53", "-j", "LOG"]).save()
'-s 10.0.0.0/8 -p udp -m udp --sport 53 -j LOG'
"""

from __future__ import annotations

import ipaddress
import math
import shlex
import struct
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from netnb.backends.sim import frames as fr
from netnb.backends.sim.clock import NS
from netnb.errors import BackendError

if TYPE_CHECKING:
    from netnb.backends.sim.world import Bridge, Device, Route, Stack

IPv4 = ipaddress.IPv4Address
BUILTIN = {
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "raw": ("PREROUTING", "OUTPUT"),
}
PROTOS = {"tcp": 6, "udp": 17, "icmp": 1, "all": 0}
PROTO_NAMES = {v: k for k, v in PROTOS.items()}
TARGETS = {"ACCEPT", "DROP", "RETURN", "REJECT", "DNAT", "SNAT", "MASQUERADE", "LOG"}
REJECT_CODES = {"icmp-net-unreachable": 0, "icmp-host-unreachable": 1, "icmp-port-unreachable": 3,
                "icmp-proto-unreachable": 2, "icmp-net-prohibited": 9, "icmp-host-prohibited": 10,
                "icmp-admin-prohibited": 13, "tcp-reset": -1}
#: Seconds a connection is kept, as /proc/net/nf_conntrack counts them down (nf_conntrack defaults).
TIMEOUTS = {"icmp": 30, "udp": 30, "udp-assured": 120, "SYN_SENT": 120, "SYN_RECV": 60, "ESTABLISHED": 432000,
            "FIN_WAIT": 120, "CLOSE_WAIT": 60, "LAST_ACK": 30, "TIME_WAIT": 120, "CLOSE": 10}


class IptablesError(BackendError):
    """What iptables would print and its exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


#: iptables' ICMP type names (libxt_icmp's table): name -> "type" or "type/code".
ICMP_TYPES = {
    "any": "any", "echo-reply": "0", "destination-unreachable": "3", "network-unreachable": "3/0",
    "host-unreachable": "3/1", "protocol-unreachable": "3/2", "port-unreachable": "3/3",
    "fragmentation-needed": "3/4", "source-route-failed": "3/5", "network-unknown": "3/6", "host-unknown": "3/7",
    "network-prohibited": "3/9", "host-prohibited": "3/10", "TOS-network-unreachable": "3/11",
    "TOS-host-unreachable": "3/12", "communication-prohibited": "3/13", "host-precedence-violation": "3/14",
    "precedence-cutoff": "3/15", "source-quench": "4", "redirect": "5", "network-redirect": "5/0",
    "host-redirect": "5/1", "TOS-network-redirect": "5/2", "TOS-host-redirect": "5/3", "echo-request": "8",
    "router-advertisement": "9", "router-solicitation": "10", "time-exceeded": "11",
    "ttl-zero-during-transit": "11/0", "ttl-zero-during-reassembly": "11/1", "parameter-problem": "12",
    "ip-header-bad": "12/0", "required-option-missing": "12/1", "timestamp-request": "13",
    "timestamp-reply": "14", "address-mask-request": "17", "address-mask-reply": "18",
}


def icmp_type(value: str) -> str:
    """``--icmp-type``'s value as iptables keeps it: ``8``, ``3/3`` or ``any`` (names and numbers accepted).

    >>> icmp_type("echo-request"), icmp_type("port-unreachable"), icmp_type("11")
    ('8', '3/3', '11')
    """
    if value in ICMP_TYPES:
        return ICMP_TYPES[value]
    kind, slash, code = value.partition("/")
    if kind.isdigit() and int(kind) <= 255 and (not slash or code.isdigit() and int(code) <= 255):
        return f"{int(kind)}/{int(code)}" if slash else str(int(kind))
    what = "code" if kind.isdigit() and int(kind) <= 255 else "type"
    raise IptablesError(f"iptables v1.8.9 (nf_tables): Unknown ICMP {what} `{value}'\n"
                        "Try `iptables -h' or 'iptables --help' for more information.", 2)


CT_STATES = ("INVALID", "NEW", "RELATED", "ESTABLISHED", "UNTRACKED", "SNAT", "DNAT")  # the order iptables prints


def ct_states(value: str) -> str:
    """``--ctstate``'s list as iptables keeps and prints it: in its own order, whatever the order given.

    >>> ct_states("ESTABLISHED,RELATED")
    'RELATED,ESTABLISHED'
    """
    given = value.split(",")
    for state in given:
        if state not in CT_STATES:
            raise IptablesError(f"iptables v1.8.9 (nf_tables): Bad ctstate \"{state}\"\n"
                                "Try `iptables -h' or 'iptables --help' for more information.", 2)
    return ",".join(s for s in CT_STATES if s in given)


# -- rules ----------------------------------------------------------------------------------------------
@dataclass
class Rule:
    """One rule: its matches, its target, its counters."""

    src: tuple[bool, ipaddress.IPv4Network] | None = None
    dst: tuple[bool, ipaddress.IPv4Network] | None = None
    iface_in: tuple[bool, str] | None = None
    iface_out: tuple[bool, str] | None = None
    proto: tuple[bool, int] | None = None
    matches: list[tuple[str, list[tuple[str, bool, str]]]] = field(default_factory=list)  # (module, options)
    target: str = ""
    target_opts: list[tuple[str, str]] = field(default_factory=list)
    packets: int = 0
    bytes: int = 0
    #: The statistic match's packet counter in nth mode (the kernel's ``master->count``).
    nth: int | None = None

    @classmethod
    def parse(cls, args: list[str] | tuple[str, ...]) -> Rule:
        r = cls()
        words = list(args)
        neg = False
        current: list[tuple[str, bool, str]] | None = None
        while words:
            w = words.pop(0)
            if w == "!":
                neg = True
                continue
            if w in ("-s", "--source", "-d", "--destination"):
                net = _network(_take(words, w))
                if w in ("-s", "--source"):
                    r.src = (neg, net)
                else:
                    r.dst = (neg, net)
            elif w in ("-i", "--in-interface"):
                r.iface_in = (neg, _take(words, w))
            elif w in ("-o", "--out-interface"):
                r.iface_out = (neg, _take(words, w))
            elif w in ("-p", "--protocol"):
                name = _take(words, w)
                if name not in PROTOS and not name.isdigit():
                    raise IptablesError(f"iptables v1.8.9 (nf_tables): unknown protocol \"{name}\" specified\n"
                                        "Try `iptables -h' or 'iptables --help' for more information.", 2)
                r.proto = (neg, PROTOS.get(name, int(name) if name.isdigit() else 0))
            elif w in ("-m", "--match"):
                module = _take(words, w)
                r.matches.append((module, []))
                current = r.matches[-1][1]
            elif w in ("-j", "--jump"):
                r.target = _take(words, w)
                current = None
                while words:
                    opt = words.pop(0)
                    value = words.pop(0) if words and not words[0].startswith("--") else ""
                    r.target_opts.append((opt, value))
            elif w.startswith("--"):
                value = _take(words, w) if words else ""
                if current is None or w in ("--sport", "--dport", "--source-port", "--destination-port") and \
                        (not r.matches or r.matches[-1][0] not in ("tcp", "udp")):
                    proto = PROTO_NAMES.get(r.proto[1] if r.proto else 0, "")
                    if w in ("--sport", "--dport", "--source-port", "--destination-port") and proto in ("tcp", "udp"):
                        r.matches.append((proto, []))  # as iptables: `-p tcp --dport 80` loads the tcp match
                        current = r.matches[-1][1]
                    elif w == "--icmp-type" and proto == "icmp":
                        r.matches.append(("icmp", []))
                        current = r.matches[-1][1]
                    else:
                        raise IptablesError(f"iptables v1.8.9 (nf_tables): unknown option \"{w}\"\n"
                                            "Try `iptables -h' or 'iptables --help' for more information.", 2)
                if w == "--icmp-type":
                    value = icmp_type(value)
                elif w in ("--ctstate", "--state"):
                    value = ct_states(value)
                current.append((w.replace("--source-port", "--sport").replace("--destination-port", "--dport"),
                                neg, value))
            else:
                raise IptablesError(f"Bad argument `{w}'\nTry `iptables -h' or 'iptables --help' for more "
                                    "information.", 2)
            neg = False
        if r.target == "REJECT" and not r.target_opts:
            r.target_opts = [("--reject-with", "icmp-port-unreachable")]
        for module, options in r.matches:
            if module == "statistic":
                _check_statistic(options)
        return r

    # -- printing ---------------------------------------------------------------------------------
    def save(self) -> str:
        """The rule as ``iptables -S`` / ``iptables-save`` write it (without ``-A CHAIN``)."""
        out: list[str] = []
        for flag, net in (("-s", self.src), ("-d", self.dst)):
            if net is not None:
                out += (["!"] if net[0] else []) + [flag, str(net[1])]
        for flag, iface in (("-i", self.iface_in), ("-o", self.iface_out)):
            if iface is not None:
                out += (["!"] if iface[0] else []) + [flag, iface[1]]
        if self.proto is not None:
            out += (["!"] if self.proto[0] else []) + ["-p", PROTO_NAMES.get(self.proto[1], str(self.proto[1]))]
        for module, options in self.matches:
            out += ["-m", module]
            for opt, neg, word in options:
                out += (["!"] if neg else []) + [opt] + ([word] if word else [])
        if self.target:
            out += ["-j", self.target]
            for opt, word in self.target_opts:
                out += [opt] + ([word] if word else [])
        return " ".join(shlex.quote(w) if w != "!" and (" " in w or not w) else w for w in out)

    def listing(self, numeric: bool, verbose: bool, exact: bool, number: int | None) -> str:
        """One line of ``iptables -L`` (iptables' print_firewall layout)."""
        line = f"{number:<4} " if number is not None else ""
        if verbose:
            line += _num(self.packets, exact) + _num(self.bytes, exact)
        line += f"{self.target:<9} "
        proto_neg, proto = self.proto if self.proto is not None else (False, 0)
        line += "!" if proto_neg else " "
        line += f"{proto:<5}" if numeric else f"{PROTO_NAMES.get(proto, str(proto)):<5}"
        line += "-- "
        if verbose:  # print_firewall: " %-6s " for in, "%-6s " for out
            names = [("!" if i and i[0] else "") + (i[1] if i else ("*" if numeric else "any"))
                     for i in (self.iface_in, self.iface_out)]
            line += f" {names[0]:<6} {names[1]:<6} "
        for value in (self.src, self.dst):
            line += "!" if value and value[0] else " "
            line += f"{_addr(value[1] if value else None, numeric):<19} "
        line += self._extras()
        return line

    def _extras(self) -> str:
        out = ""
        for module, opts in self.matches:
            values = {opt: (neg, value) for opt, neg, value in opts}
            if module in ("tcp", "udp"):
                out += f" {module}"
                for opt, word in (("--sport", "spt"), ("--dport", "dpt")):
                    if opt in values:
                        neg, value = values[opt]
                        kind = "s" if ":" in value else ""
                        out += f" {word}{kind}:{'!' if neg else ''}{value}"
            elif module == "icmp" and "--icmp-type" in values:
                neg, value = values["--icmp-type"]
                kind, _, code = ("255" if value == "any" else value).partition("/")
                out += f" icmp !type {kind}" if neg else f" icmptype {kind}"
                out += f" code {code}" if code else ""
            elif module in ("conntrack", "state"):
                key = "--ctstate" if module == "conntrack" else "--state"
                if key in values:
                    neg, value = values[key]
                    out += f" {'! ' if neg else ''}{'ctstate' if module == 'conntrack' else 'state'} {value}"
            elif module == "addrtype":
                out += " ADDRTYPE match"
                for opt, word in (("--src-type", "src-type"), ("--dst-type", "dst-type")):
                    if opt in values:
                        neg, value = values[opt]
                        out += f" {word} {'!' if neg else ''}{value}"
            elif module == "statistic" and "--mode" in values:  # (libxt_statistic's print_match)
                mode = values["--mode"][1]
                inverted = any(neg for _, neg, _ in opts)
                out += f" statistic mode {mode}{' !' if inverted else ''}"
                if mode == "random":
                    out += f" probability {values['--probability'][1]}"
                else:
                    out += f" every {values['--every'][1]}"
                    packet = values.get("--packet", (False, "0"))[1]
                    out += f" packet {packet}" if packet != "0" else ""
            elif module == "comment" and "--comment" in values:
                out += f" /* {values['--comment'][1]} */"
        target = dict(self.target_opts)
        if self.target == "REJECT":
            out += f" reject-with {target.get('--reject-with', 'icmp-port-unreachable')}"
        elif self.target == "DNAT":
            out += f" to:{target.get('--to-destination', '')}"
        elif self.target == "SNAT":
            out += f" to:{target.get('--to-source', '')}"
        elif self.target == "LOG":
            out += " LOG flags 0 level 4" + (f" prefix \"{target['--log-prefix']}\"" if "--log-prefix" in target else "")
        return out

    def same_spec(self, other: Rule) -> bool:
        return self.save() == other.save()


def _check_statistic(options: list[tuple[str, bool, str]]) -> None:
    """xt_statistic's options as iptables checks them; the probability kept as the kernel keeps it (a
    fraction of 2^31) and written back as iptables writes it (``0.33`` is ``0.33000000007``)."""
    def fail(text: str, usage: bool = False) -> IptablesError:
        tail = "Try `iptables -h' or 'iptables --help' for more information."
        return IptablesError(f"iptables v1.8.9 (nf_tables): {text}\n{'' if usage else chr(10)}{tail}", 2)

    given = {opt: (neg, value) for opt, neg, value in options}
    if "--mode" not in given:
        raise fail('statistic: option "--mode" must be specified')
    if given["--mode"][0]:
        raise fail('statistic: option "--mode" cannot be inverted.')
    mode = given["--mode"][1]
    if mode == "random":
        if "--probability" not in given:
            raise fail("--probability must be specified when using random mode", usage=True)
        try:
            chance = float(given["--probability"][1])
        except ValueError:
            chance = -1.0
        if not 0 <= chance <= 1:
            raise fail('statistic: bad value for option "--probability", or out of range (0-1).')
        options[:] = [(o, n, f"{_fraction(chance) / 2**31:.11f}" if o == "--probability" else v)
                      for o, n, v in options]
    elif mode == "nth":
        if "--every" in given and "--packet" not in given:
            raise fail('statistic: option "--every" also requires "--packet".')
        every, packet = given.get("--every", (False, ""))[1], given.get("--packet", (False, "0"))[1]
        if not every.isdigit() or not packet.isdigit() or int(every) < 1:
            raise fail('statistic: bad value for option "--every"')
        if int(packet) > int(every) - 1:
            raise fail("the --packet p must be 0 <= p <= n-1", usage=True)
    else:
        raise fail(f'statistic: bad value for option "--mode" ("{mode}")')


def _fraction(chance: float) -> int:
    """A probability as xt_statistic keeps it: rounded to a fraction of 2^31 (iptables' lround)."""
    return int(math.floor(chance * 2**31 + 0.5))


def _statistic(stack: Stack, rule: Rule, options: list[tuple[str, bool, str]]) -> bool:
    """xt_statistic: ``random`` draws a 31-bit number against the probability (from the world's seeded
    random numbers: the kernel's draws differ, their share is the same); ``nth`` counts packets from
    ``--packet`` and matches each ``--every``-th, as the kernel's counter does."""
    given = {opt: (neg, value) for opt, neg, value in options}
    if given["--mode"][1] == "random":
        neg, value = given["--probability"]
        hit = stack.world.rnd.getrandbits(31) < _fraction(float(value))
        return hit != neg
    neg, every = given["--every"]
    count = rule.nth if rule.nth is not None else int(given["--packet"][1])
    rule.nth = 0 if count == int(every) - 1 else count + 1
    return (rule.nth == 0) != neg


def _take(words: list[str], flag: str) -> str:
    if not words:
        raise IptablesError(f"iptables v1.8.9 (nf_tables): option \"{flag}\" requires an argument\n"
                            "Try `iptables -h' or 'iptables --help' for more information.", 2)
    return words.pop(0)


def _network(text: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(text, strict=False)
    except ValueError:
        raise IptablesError(f"iptables v1.8.9 (nf_tables): host/network `{text}' not found\n"
                            "Try `iptables -h' or 'iptables --help' for more information.", 2) from None


def _addr(net: ipaddress.IPv4Network | None, numeric: bool) -> str:
    if net is None or net.prefixlen == 0:
        return "0.0.0.0/0" if numeric else "anywhere"
    if net.prefixlen == 32:
        return str(net.network_address)
    return str(net)


def _num(value: int, exact: bool) -> str:
    """A counter as iptables prints it: ``%5llu `` rounded to K/M/G/T above 99999, ``%8llu `` with -x."""
    if exact:
        return f"{value:>8} "
    if value <= 99999:
        return f"{value:>5} "
    for unit in "KMGT":
        value = (value + 500) // 1000
        if value <= 9999:
            return f"{value:>4}{unit} "
    return f"{value:>4}P "


@dataclass
class Chain:
    name: str
    policy: str | None  # None: a user chain
    rules: list[Rule] = field(default_factory=list)
    packets: int = 0
    bytes: int = 0


# -- connection tracking ----------------------------------------------------------------------------------
Tuple = tuple[int, bytes, bytes, int, int]  # proto, src, dst, sport (icmp: id), dport (icmp: type/0)


@dataclass
class Conn:
    """One tracked connection: its original and reply tuples (the reply one carries the NAT)."""

    orig: Tuple
    reply: Tuple
    seen_reply: bool = False
    confirmed: bool = False
    assured: bool = False
    state: str = ""          # TCP's conntrack state
    expires: int = 0
    nat_done: set[str] = field(default_factory=set)


def tuple_of(packet: fr.Ip) -> Tuple | None:
    if packet.proto in (fr.PROTO_TCP, fr.PROTO_UDP) and len(packet.payload) >= 4:
        sport, dport = struct.unpack_from("!HH", packet.payload)
        return packet.proto, packet.src, packet.dst, sport, dport
    if packet.proto == fr.PROTO_ICMP and len(packet.payload) >= 8:
        kind = packet.payload[0]
        if kind in (8, 0):
            ident = struct.unpack_from("!H", packet.payload, 4)[0]
            return packet.proto, packet.src, packet.dst, ident, 0
    return None


def inverse(t: Tuple) -> Tuple:
    """The tuple of the other direction (an ICMP echo keeps its identifier where it was)."""
    if t[0] == fr.PROTO_ICMP:
        return t[0], t[2], t[1], t[3], t[4]
    return t[0], t[2], t[1], t[4], t[3]


# -- the hooks --------------------------------------------------------------------------------------------
class Netfilter:
    """The tables of one node and its connection table."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, Chain]] = {
            t: {c: Chain(c, "ACCEPT") for c in chains} for t, chains in BUILTIN.items()}
        self.conns: list[Conn] = []
        #: Tables that exist (iptables-nft makes a table when a command first changes it; -L does not).
        self.created: set[str] = set()
        self._by_tuple: dict[Tuple, tuple[Conn, bool]] = {}  # tuple -> (conn, is reply direction)

    # -- conntrack --------------------------------------------------------------------------------
    def _track(self, stack: Stack, packet: fr.Ip) -> tuple[Conn | None, bool, str]:
        """(connection, reply direction?, ctstate) of a packet; a new connection is made unconfirmed."""
        t = tuple_of(packet)
        if t is None:
            if packet.proto == fr.PROTO_ICMP and len(packet.payload) >= 8 + 20:
                quoted = fr.parse_ip(packet.payload[8:])
                qt = tuple_of(quoted) if quoted is not None else None
                # (for RELATED, the flag says which direction the quoted packet travelled)
                if qt is not None and qt in self._by_tuple:  # about a packet as it was before any NAT
                    return self._by_tuple[qt][0], self._by_tuple[qt][1], "RELATED"
                if qt is not None and inverse(qt) in self._by_tuple:  # about one as NAT had rewritten it
                    conn, reply = self._by_tuple[inverse(qt)]
                    return conn, not reply, "RELATED"
            return None, False, "INVALID" if packet.proto == fr.PROTO_ICMP else "UNTRACKED"
        now = stack.world.clock.now
        found = self._by_tuple.get(t)
        if found is not None and found[0].expires and found[0].expires < now:
            self._forget(found[0])
            found = None
        if found is not None and found[0].state in ("TIME_WAIT", "CLOSE") and packet.proto == fr.PROTO_TCP and \
                len(packet.payload) > 13 and packet.payload[13] & 0x17 == 0x02:
            # A SYN on a closed connection's tuple (a port used again): as nf_conntrack_tcp, the old entry
            # goes and the SYN starts a new connection (NAT decides anew).
            self._forget(found[0])
            found = None
        if found is not None:
            conn, reply = found
            if reply and not conn.seen_reply:
                conn.seen_reply = True
            state = "ESTABLISHED" if conn.seen_reply else "NEW"
            return conn, reply, state
        conn = Conn(t, inverse(t))
        return conn, False, "NEW"

    def _confirm(self, stack: Stack, conn: Conn | None, packet: fr.Ip) -> None:
        if conn is None:
            return
        if not conn.confirmed:
            conn.confirmed = True
            self.conns.append(conn)
            self._by_tuple[conn.orig] = (conn, False)
            self._by_tuple[conn.reply] = (conn, True)
        self._refresh(stack, conn, packet)

    def _refresh(self, stack: Stack, conn: Conn, packet: fr.Ip) -> None:
        proto = conn.orig[0]
        now = stack.world.clock.now
        if proto == fr.PROTO_TCP and len(packet.payload) >= 14:
            flags = packet.payload[13]
            if flags & fr.RST:
                conn.state = "CLOSE"
            elif flags & fr.SYN and not flags & fr.ACK:
                conn.state = conn.state or "SYN_SENT"
            elif flags & fr.SYN and flags & fr.ACK:
                conn.state = "SYN_RECV"
            elif flags & fr.FIN:
                conn.state = "FIN_WAIT" if conn.state in ("ESTABLISHED", "SYN_RECV", "") else \
                    ("LAST_ACK" if conn.state == "CLOSE_WAIT" else "TIME_WAIT" if conn.state == "FIN_WAIT"
                     else conn.state)
            elif flags & fr.ACK and conn.state == "SYN_RECV":
                conn.state = "ESTABLISHED"
                conn.assured = True
            elif flags & fr.ACK and conn.state == "LAST_ACK":
                conn.state = "TIME_WAIT"
            key = conn.state or "SYN_SENT"
        elif proto == fr.PROTO_UDP:
            if conn.seen_reply:
                conn.assured = True
            key = "udp-assured" if conn.assured else "udp"
        else:
            key = "icmp"
        conn.expires = now + TIMEOUTS.get(key, 30) * NS

    def _forget(self, conn: Conn) -> None:
        if conn in self.conns:
            self.conns.remove(conn)
        for t in (conn.orig, conn.reply):
            if self._by_tuple.get(t, (None,))[0] is conn:
                del self._by_tuple[t]

    # -- NAT ------------------------------------------------------------------------------------
    def _nat(self, stack: Stack, conn: Conn, reply: bool, packet: fr.Ip, manip: str) -> fr.Ip:
        """Rewrite ``packet`` as the connection's NAT says for this direction and manip ("dst" or "src")."""
        want = inverse(conn.reply) if not reply else inverse(conn.orig)  # how it leaves the last manip
        icmp = conn.orig[0] == fr.PROTO_ICMP
        ports = fr.ports(packet) if not icmp else None
        if manip == "dst":
            if packet.dst != want[2] or (ports is not None and ports[1] != want[4]):
                return _rewrite(packet, dst=want[2], dport=None if icmp else want[4])
        elif packet.src != want[1] or (ports is not None and ports[0] != want[3]):
            return _rewrite(packet, src=want[1], sport=None if icmp else want[3])
        return packet

    def _nat_new(self, stack: Stack, chain: str, conn: Conn, packet: fr.Ip, in_dev: Device | None,
                 out_dev: Device | None) -> tuple[fr.Ip, bool]:
        """Run nat ``chain`` for a new connection; returns the packet and whether it is dropped."""
        verdict, target = self._walk(stack, "nat", chain, packet, in_dev, out_dev)
        if verdict == "DROP":
            return packet, True
        if target is None:
            return packet, False
        name, opts = target
        icmp = conn.orig[0] == fr.PROTO_ICMP
        p, rsrc, rdst, rsport, rdport = conn.reply
        if name == "DNAT":
            host, _, port = opts.get("--to-destination", "").partition(":")
            # Replies come from the new destination (and port).
            conn.reply = (p, IPv4(host).packed, rdst, rsport if icmp or not port else int(port), rdport)
            return self._nat(stack, conn, False, packet, "dst"), False
        if name in ("SNAT", "MASQUERADE"):
            if name == "SNAT":
                address = IPv4(opts.get("--to-source", "0.0.0.0").split(":")[0])
            else:
                route = stack.lookup(IPv4(packet.dst))
                chosen = stack.source_for(route, IPv4(packet.dst)) if route is not None else None
                if chosen is None:
                    return packet, True
                address = chosen
            if icmp:
                conn.reply = (p, rsrc, address.packed, rsport, rdport)
            else:
                mapped = rdport  # kept, unless another connection already has it with that address
                while (p, rsrc, address.packed, rsport, mapped) in self._by_tuple:
                    mapped = mapped + 1 if mapped < 65535 else 1024
                conn.reply = (p, rsrc, address.packed, rsport, mapped)
            return self._nat(stack, conn, False, packet, "src"), False
        return packet, False

    # -- walking chains ---------------------------------------------------------------------------
    def _walk(self, stack: Stack, table: str, chain: str, packet: fr.Ip, in_dev: Device | None,
              out_dev: Device | None, ctstate: str = "NEW"
              ) -> tuple[str, tuple[str, dict[str, str]] | None]:
        """Walk a built-in chain: ("ACCEPT"/"DROP"/"REJECT", the NAT target that decided, if any)."""
        chains = self.tables[table]
        stack_frames: list[tuple[Chain, int]] = []
        current, i = chains[chain], 0
        size = 20 + len(packet.payload)
        while True:
            if i >= len(current.rules):
                if not stack_frames:
                    return _policy(current, size), None
                current, i = stack_frames.pop()
                continue
            rule = current.rules[i]
            i += 1
            if not self._matches(stack, rule, packet, in_dev, out_dev, ctstate):
                continue
            rule.packets += 1
            rule.bytes += size
            target = rule.target
            if target in ("", "LOG"):
                continue
            if target == "RETURN":
                if not stack_frames:
                    return _policy(current, size), None
                current, i = stack_frames.pop()
                continue
            if target in ("ACCEPT", "DROP"):
                return target, None
            if target == "REJECT":
                return "REJECT:" + dict(rule.target_opts).get("--reject-with", "icmp-port-unreachable"), None
            if target in ("DNAT", "SNAT", "MASQUERADE"):
                return "ACCEPT", (target, dict(rule.target_opts))
            if target in chains:
                stack_frames.append((current, i))
                current, i = chains[target], 0
                continue
        # (unreachable)

    def _matches(self, stack: Stack, rule: Rule, packet: fr.Ip, in_dev: Device | None, out_dev: Device | None,
                 ctstate: str) -> bool:
        if rule.src is not None and (IPv4(packet.src) in rule.src[1]) == rule.src[0]:
            return False
        if rule.dst is not None and (IPv4(packet.dst) in rule.dst[1]) == rule.dst[0]:
            return False
        for iface, dev in ((rule.iface_in, in_dev), (rule.iface_out, out_dev)):
            if iface is not None:
                name = dev.name if dev is not None else ""
                pattern = iface[1]
                hit = name.startswith(pattern[:-1]) if pattern.endswith("+") else name == pattern
                if hit == iface[0]:
                    return False
        if rule.proto is not None and rule.proto[1] != 0 and (packet.proto == rule.proto[1]) == rule.proto[0]:
            return False
        for module, opts in rule.matches:
            if module == "statistic":
                if not _statistic(stack, rule, opts):
                    return False
                continue
            for opt, neg, value in opts:
                if self._option(stack, module, opt, value, packet, ctstate) == neg:
                    return False
        return True

    def _option(self, stack: Stack, module: str, opt: str, value: str, packet: fr.Ip, ctstate: str) -> bool:
        if module in ("tcp", "udp"):
            ports = fr.ports(packet)
            if packet.proto != PROTOS[module] or ports is None:
                return False
            port = ports[0] if opt == "--sport" else ports[1]
            low, _, high = value.partition(":")
            return int(low or 0) <= port <= int(high or low or 65535)
        if module in ("conntrack", "state"):
            return ctstate in value.split(",")
        if module == "addrtype":
            address = IPv4(packet.dst if opt == "--dst-type" else packet.src)
            local = stack.local_address(address) is not None
            kinds = value.split(",")
            return ("LOCAL" in kinds and local) or ("UNICAST" in kinds and not local and not address.is_multicast)
        if module == "icmp":
            if packet.proto != fr.PROTO_ICMP or not packet.payload:
                return False
            if value == "any":
                return True
            kind, _, code = value.partition("/")
            return packet.payload[0] == int(kind) and (not code or len(packet.payload) > 1 and packet.payload[1] == int(code))
        if module == "comment":
            return True
        return False

    # -- what the stack calls --------------------------------------------------------------------
    def prerouting(self, stack: Stack, packet: fr.Ip, dev: Device) -> fr.Ip | None:
        conn, reply, state = self._track(stack, packet)
        packet.ct = (conn, reply, state)
        if conn is None:
            return packet
        if state == "RELATED":
            packet = _untranslate_error(conn, reply, packet)
            packet.ct = (conn, reply, state)
            return packet
        if not conn.confirmed and "pre" not in conn.nat_done:
            conn.nat_done.add("pre")
            packet, dropped = self._nat_new(stack, "PREROUTING", conn, packet, dev, None)
            if dropped:
                return None
            packet.ct = (conn, reply, state)
            return packet
        packet = self._nat(stack, conn, reply, packet, "dst")
        packet.ct = (conn, reply, state)
        return packet

    def _ct(self, packet: fr.Ip) -> tuple[Conn | None, bool, str]:
        return packet.ct or (None, False, "UNTRACKED")  # type: ignore[return-value]

    def input(self, stack: Stack, packet: fr.Ip, dev: Device) -> bool:
        conn, reply, state = self._ct(packet)
        verdict, _ = self._walk(stack, "filter", "INPUT", packet, dev, None, ctstate=state)
        if verdict.startswith("REJECT"):
            self._reject(stack, packet, verdict, dev)
            return False
        if verdict != "ACCEPT":
            return False
        self._confirm(stack, conn, packet)
        return True

    def forward(self, stack: Stack, packet: fr.Ip, in_dev: Device, route: Route) -> bool:
        conn, reply, state = self._ct(packet)
        verdict, _ = self._walk(stack, "filter", "FORWARD", packet, in_dev, route.dev, ctstate=state)
        if verdict.startswith("REJECT"):
            self._reject(stack, packet, verdict, in_dev)
            return False
        return verdict == "ACCEPT"

    def output(self, stack: Stack, packet: fr.Ip, route: Route) -> fr.Ip | None:
        """nat and filter OUTPUT for a locally made packet; None when dropped (the caller routes again if the
        destination changed)."""
        conn, reply, state = self._track(stack, packet)
        if conn is not None:
            natted = self._nat_hook(stack, "OUTPUT", conn, reply, packet, None, route.dev, "dst")
            if natted is None:
                return None
            packet = natted
        packet.ct = (conn, reply, state)
        out_dev = route.dev
        new_route = stack.lookup(IPv4(packet.dst)) if stack.local_address(IPv4(packet.dst)) is None else None
        if new_route is not None:
            out_dev = new_route.dev
        verdict, _ = self._walk(stack, "filter", "OUTPUT", packet, None, out_dev, ctstate=state)
        if verdict != "ACCEPT":
            return None
        return packet

    def postrouting(self, stack: Stack, packet: fr.Ip, route: Route, in_dev: Device | None) -> fr.Ip | None:
        conn, reply, state = self._ct(packet)
        if conn is None or state == "RELATED":  # (an error about a connection was put right in PREROUTING)
            return packet
        natted = self._nat_hook(stack, "POSTROUTING", conn, reply, packet, in_dev, route.dev, "src")
        if natted is not None:
            self._confirm(stack, conn, natted)
        return natted

    def _nat_hook(self, stack: Stack, chain: str, conn: Conn, reply: bool, packet: fr.Ip, in_dev: Device | None,
                  out_dev: Device | None, manip: str) -> fr.Ip | None:
        """A nat chain at its hook: walked for a connection's first packet (once), its decision applied to
        every later one; None when the packet is dropped."""
        if not conn.confirmed and chain not in conn.nat_done:
            conn.nat_done.add(chain)
            natted, dropped = self._nat_new(stack, chain, conn, packet, in_dev, out_dev)
            return None if dropped else natted
        return self._nat(stack, conn, reply, packet, manip)

    def local_in(self, stack: Stack, packet: fr.Ip, dev: Device) -> fr.Ip:
        """nat INPUT / the reply direction's source manip for packets delivered here."""
        conn, reply, state = self._ct(packet)
        if conn is not None and conn.confirmed and state != "RELATED":
            packet = self._nat(stack, conn, reply, packet, "src")
            packet.ct = (conn, reply, state)
        return packet

    def bridged(self, stack: Stack, bridge: Bridge, port: Device, frame: bytes) -> bool:
        """br_netfilter: an IPv4 frame bridged between two ports meets filter FORWARD (in and out: the
        bridge); True when it is dropped."""
        _, _, ethertype, payload = fr.parse_ether(frame)
        if ethertype != fr.ETH_IP:
            return False
        packet = fr.parse_ip(payload)
        if packet is None:
            return False
        conn, reply, state = self._track(stack, packet)
        verdict, _ = self._walk(stack, "filter", "FORWARD", packet, bridge, bridge, ctstate=state)
        if verdict != "ACCEPT":
            return True
        self._confirm(stack, conn, packet)
        return False

    def _reject(self, stack: Stack, packet: fr.Ip, verdict: str, dev: Device) -> None:
        how = verdict.split(":", 1)[1]
        code = REJECT_CODES.get(how, 3)
        if code == -1 and packet.proto == fr.PROTO_TCP:
            stack.tcp_reset(packet)
            return
        stack.icmp_error(packet, 3, max(code, 0), dev)

    # -- the iptables command -----------------------------------------------------------------------
    def command(self, argv: list[str], now_ns: int) -> str:
        """Run ``iptables ARGV`` (or ``iptables-save`` for ``["save"]``); its output, or IptablesError."""
        if argv[:1] == ["save"]:
            return self.save(now_ns, argv[1] if len(argv) > 1 else None)
        words = [w for w in argv if w not in ("-w", "--wait")]
        table = "filter"
        words = [x for w in words for x in (w.split("=", 1) if w.startswith("--table=") else [w])]
        for flag in ("-t", "--table"):
            if flag in words:
                i = words.index(flag)
                table = words[i + 1] if i + 1 < len(words) else ""
                del words[i:i + 2]
        if table not in self.tables:
            raise IptablesError(f"iptables v1.8.9 (nf_tables): table '{table}' does not exist\nPerhaps iptables or "
                                "your kernel needs to be upgraded.", 3)
        chains = self.tables[table]
        flags: set[str] = set()
        rest: list[str] = []
        action = None
        for w in words:
            if action is None and w in ("-A", "--append", "-I", "--insert", "-D", "--delete", "-N", "--new-chain",
                                         "-X", "--delete-chain", "-P", "--policy", "-F", "--flush", "-L", "--list",
                                         "-S", "--list-rules", "-Z", "--zero", "-C", "--check"):
                action = w
            elif action in ("-L", "--list", "-S", "--list-rules", "-F", "-Z", "-X", None) and w.startswith("-") \
                    and not w.startswith("--") and len(w) > 1 and w[1] != "-" and set(w[1:]) <= set("nvxLSZ"):
                flags |= set(w[1:]) - {"L", "S", "Z"}
                if "L" in w[1:]:
                    action = "-L"
                elif "S" in w[1:]:
                    action = "-S"
            elif w == "--line-numbers":
                flags.add("#")
            else:
                rest.append(w)
        if action is None:
            raise IptablesError("iptables v1.8.9 (nf_tables): no command specified\nTry `iptables -h' or "
                                "'iptables --help' for more information.", 2)
        short = {"--append": "-A", "--insert": "-I", "--delete": "-D", "--new-chain": "-N", "--delete-chain": "-X",
                 "--policy": "-P", "--flush": "-F", "--list": "-L", "--list-rules": "-S", "--zero": "-Z",
                 "--check": "-C"}.get(action, action)
        if short in ("-L", "-S"):
            name = rest[0] if rest else None
            if name is not None and name not in chains:
                raise IptablesError("iptables: No chain/target/match by that name.")
            if short == "-S":
                return self._list_rules(chains, name)
            return self._list(chains, name, "n" in flags, "v" in flags, "x" in flags, "#" in flags)
        if short not in ("-L", "-S"):
            self.created.add(table)
        if short == "-N":
            name = rest[0]
            if name in chains:
                raise IptablesError("iptables: Chain already exists.")
            chains[name] = Chain(name, None)
            return ""
        if short == "-X":
            targets = [rest[0]] if rest else [c for c, ch in chains.items() if ch.policy is None]
            for name in targets:
                chain = chains.get(name)
                if chain is None or chain.policy is not None:
                    raise IptablesError("iptables: No chain/target/match by that name.")
                if self._references(chains, name) or chain.rules:
                    raise IptablesError(f"iptables v1.8.9 (nf_tables):  CHAIN_DEL failed (Device or resource busy): "
                                        f"chain {name}", 4)
                del chains[name]
            return ""
        if short == "-P":
            name, policy = rest[0], rest[1]
            if name not in chains or chains[name].policy is None:
                raise IptablesError("iptables: Bad built-in chain name.")
            if policy not in ("ACCEPT", "DROP"):
                raise IptablesError("iptables: Bad policy name. Run `dmesg' for more information.")
            chains[name].policy = policy
            return ""
        if short == "-F":
            for chain in ([chains[rest[0]]] if rest else chains.values()):
                chain.rules.clear()
            return ""
        if short == "-Z":
            for chain in ([chains[rest[0]]] if rest else chains.values()):
                chain.packets = chain.bytes = 0
                for r in chain.rules:
                    r.packets = r.bytes = 0
            return ""
        if not rest:
            raise IptablesError("iptables v1.8.9 (nf_tables): option requires an argument\nTry `iptables -h' or "
                                "'iptables --help' for more information.", 2)
        name, spec = rest[0], rest[1:]
        if name not in chains:
            raise IptablesError("iptables: No chain/target/match by that name.")
        chain = chains[name]
        if short == "-D" and len(spec) == 1 and spec[0].isdigit():
            index = int(spec[0])
            if not 1 <= index <= len(chain.rules):
                raise IptablesError("iptables: Index of deletion too big.")
            del chain.rules[index - 1]
            return ""
        position = None
        if short == "-I" and spec and spec[0].isdigit():
            position, spec = int(spec[0]), spec[1:]
        rule = Rule.parse(spec)
        if rule.target and rule.target not in TARGETS and rule.target not in chains:
            raise IptablesError(f"iptables v1.8.9 (nf_tables): Chain '{rule.target}' does not exist\n"
                                "Try `iptables -h' or 'iptables --help' for more information.", 2)
        if rule.target in ("DNAT", "SNAT", "MASQUERADE") and table != "nat":
            raise IptablesError(f"iptables v1.8.9 (nf_tables): RULE_APPEND failed (Invalid argument): rule in chain "
                                f"{name}", 4)
        if short == "-A":
            chain.rules.append(rule)
        elif short == "-I":
            at = (position or 1) - 1
            if at > len(chain.rules):
                raise IptablesError("iptables: Index of insertion too big.")
            chain.rules.insert(at, rule)
        elif short in ("-D", "-C"):
            for existing in chain.rules:
                if existing.same_spec(rule):
                    if short == "-D":
                        chain.rules.remove(existing)
                    return ""
            raise IptablesError("iptables: Bad rule (does a matching rule exist in that chain?).")
        return ""

    @staticmethod
    def _references(chains: dict[str, Chain], name: str) -> int:
        return sum(1 for c in chains.values() for r in c.rules if r.target == name)

    def _list(self, chains: dict[str, Chain], only: str | None, numeric: bool, verbose: bool, exact: bool,
              numbers: bool) -> str:
        blocks = []
        for chain in chains.values():
            if only is not None and chain.name != only:
                continue
            if chain.policy is not None:
                head = f"Chain {chain.name} (policy {chain.policy}"
                head += (f" {chain.packets} packets, {chain.bytes} bytes)" if verbose else ")")
            else:
                head = f"Chain {chain.name} ({self._references(chains, chain.name)} references)"
            columns = ("    pkts      bytes " if exact else " pkts bytes ") if verbose else ""
            columns += "target     prot opt "
            columns += "in     out     " if verbose else ""
            columns += "source               destination         "
            lines = [head, ("num  " if numbers else "") + columns]
            lines += [r.listing(numeric, verbose, exact, n if numbers else None)
                      for n, r in enumerate(chain.rules, 1)]
            blocks.append("\n".join(lines) + "\n")
        return "\n".join(blocks)

    @staticmethod
    def _list_rules(chains: dict[str, Chain], only: str | None) -> str:
        lines = []
        for chain in chains.values():
            if only is not None and chain.name != only:
                continue
            lines.append(f"-P {chain.name} {chain.policy}" if chain.policy is not None else f"-N {chain.name}")
        for chain in chains.values():
            if only is not None and chain.name != only:
                continue
            lines += [f"-A {chain.name} {r.save()}" for r in chain.rules]
        return "".join(line + "\n" for line in lines)

    def save(self, now_ns: int, only: str | None = None) -> str:
        """``iptables-save``: every table that has anything beyond empty ACCEPT chains (as iptables-nft);
        ``only`` one of them (``-t``)."""
        stamp = time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(now_ns / NS))
        out = []
        for table in ("filter", "nat", "mangle", "raw"):
            chains = self.tables[table]
            if table not in self.created or only not in (None, table):
                continue
            out.append(f"# Generated by iptables-save v1.8.9 (nf_tables) on {stamp}")
            out.append(f"*{table}")
            for c in chains.values():
                out.append(f":{c.name} {c.policy or '-'} [{c.packets}:{c.bytes}]")
            for c in chains.values():
                out += [f"-A {c.name} {r.save()}" for r in c.rules]
            out.append("COMMIT")
            out.append(f"# Completed on {stamp}")
        return "".join(line + "\n" for line in out)

    def conntrack_lines(self, now_ns: int) -> str:
        """/proc/net/nf_conntrack, one connection a line."""
        lines = []
        for conn in list(self.conns):
            left = (conn.expires - now_ns) // NS
            if left < 0:
                self._forget(conn)
                continue
            proto = conn.orig[0]
            name = PROTO_NAMES.get(proto, str(proto))
            state = f"{conn.state} " if proto == fr.PROTO_TCP else ""
            line = f"ipv4     2 {name:<8} {proto} {left} {state}{_tuple_text(conn.orig)}"
            if not conn.seen_reply:
                line += "[UNREPLIED] "
            line += _tuple_text(conn.reply, reply=True)
            if conn.assured:
                line += "[ASSURED] "
            line += "mark=0 zone=0 use=2"
            lines.append(line)
        return "".join(line + "\n" for line in lines)


def _untranslate_error(conn: Conn, reply: bool, packet: fr.Ip) -> fr.Ip:
    """An ICMP error about a packet NAT rewrote, put back as its sender knew it (nf_nat_icmp_reply_translation):
    the error goes to the original source, and the packet it quotes is the one that source sent."""
    quoted = fr.parse_ip(packet.payload[8:])
    if quoted is None:
        return packet
    sent = conn.reply if reply else conn.orig  # the direction the quoted packet travelled, untranslated
    if (quoted.src, quoted.dst) == (sent[1], sent[2]):
        return packet  # no NAT on this connection
    inner = _rewrite(quoted, src=sent[1], dst=sent[2],
                     sport=sent[3] if sent[0] != fr.PROTO_ICMP else None,
                     dport=sent[4] if sent[0] != fr.PROTO_ICMP else None)
    raw = inner.pack()[:len(packet.payload) - 8]
    kind, code = packet.payload[0], packet.payload[1]
    body = fr.icmp(kind, code, packet.payload[4:8] + raw)
    return fr.Ip(packet.src, sent[1], fr.PROTO_ICMP, body, packet.ttl, packet.ident, packet.tos, packet.df)


def _policy(chain: Chain, size: int) -> str:
    """A built-in chain's policy deciding a packet. iptables-nft counts the policy only when it drops (an
    ACCEPT policy is no rule of its own in nf_tables, so its counters stay 0, as measured on these machines)."""
    if chain.policy == "DROP":
        chain.packets += 1
        chain.bytes += size
    return chain.policy or "ACCEPT"


def _tuple_text(t: Tuple, reply: bool = False) -> str:
    src, dst = IPv4(t[1]), IPv4(t[2])
    if t[0] == fr.PROTO_ICMP:
        return f"src={src} dst={dst} type={0 if reply else 8} code=0 id={t[3]} "
    return f"src={src} dst={dst} sport={t[3]} dport={t[4]} "


def _rewrite(packet: fr.Ip, src: bytes | None = None, dst: bytes | None = None, sport: int | None = None,
             dport: int | None = None) -> fr.Ip:
    """The packet with new addresses/ports, transport checksum made again."""
    new_src = src or packet.src
    new_dst = dst or packet.dst
    payload = packet.payload
    if packet.proto in (fr.PROTO_TCP, fr.PROTO_UDP) and len(payload) >= 8:
        old_sport, old_dport = struct.unpack_from("!HH", payload)
        body = bytearray(payload)
        struct.pack_into("!HH", body, 0, sport if sport is not None else old_sport,
                         dport if dport is not None else old_dport)
        offset = 16 if packet.proto == fr.PROTO_TCP else 6
        struct.pack_into("!H", body, offset, 0)
        pseudo = new_src + new_dst + struct.pack("!BBH", 0, packet.proto, len(body))
        csum = fr.checksum(pseudo + bytes(body))
        if packet.proto == fr.PROTO_UDP and csum == 0:
            csum = 0xFFFF
        struct.pack_into("!H", body, offset, csum)
        payload = bytes(body)
    out = fr.Ip(new_src, new_dst, packet.proto, payload, packet.ttl, packet.ident, packet.tos, packet.df)
    out.ct = packet.ct
    return out

