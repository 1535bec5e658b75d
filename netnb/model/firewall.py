"""Netfilter rules as data: chains with policies and rules in iptables syntax, per node.

The model keeps rules as the words a person passes to ``iptables`` (``-s 172.17.0.0/16 ! -o docker0
-j MASQUERADE``), which is how people read, compare and teach them.

>>> r = Rule("nat", "POSTROUTING", ("-s", "172.17.0.0/16", "!", "-o", "docker0", "-j", "MASQUERADE"))
>>> r.text
'-t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE'
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

TABLES = ("filter", "nat", "mangle", "raw")
BUILTIN_CHAINS = {
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "raw": ("PREROUTING", "OUTPUT"),
}


@dataclass(frozen=True)
class Chain:
    """A chain: a user chain to create, or a built-in chain whose policy is set (``policy``)."""

    table: str
    name: str
    policy: str | None = None

    @property
    def builtin(self) -> bool:
        return self.name in BUILTIN_CHAINS.get(self.table, ())


@dataclass(frozen=True)
class Rule:
    """One rule appended to ``chain`` of ``table``; ``args`` are iptables words after ``-A CHAIN``."""

    table: str
    chain: str
    args: tuple[str, ...]

    @property
    def text(self) -> str:
        """The rule as an ``iptables`` command line without the program name."""
        return f"-t {self.table} -A {self.chain} {join_args(self.args)}"


def parse_iptables(line: str) -> Chain | Rule:
    """One ``iptables`` command line of a lab's firewall as data: ``-P CHAIN POLICY`` (a built-in chain's
    policy), ``-N CHAIN`` (a user chain) or ``-A CHAIN ...`` (a rule), each with an optional ``-t TABLE``;
    the program's name may lead. Anything else raises ValueError saying what to write.

    >>> parse_iptables("iptables -t nat -A POSTROUTING -o eth1 -j MASQUERADE")
    Rule(table='nat', chain='POSTROUTING', args=('-o', 'eth1', '-j', 'MASQUERADE'))
    >>> parse_iptables("-P FORWARD DROP")
    Chain(table='filter', name='FORWARD', policy='DROP')
    """
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise ValueError(f"{line!r}: {exc} (a quote is not closed)") from exc
    if words[:1] == ["iptables"]:
        words = words[1:]
    table = "filter"
    if "-t" in words:
        at = words.index("-t")
        if at + 1 >= len(words):
            raise ValueError(f"{line!r}: -t needs a table ({', '.join(TABLES)})")
        table = words[at + 1]
        del words[at:at + 2]
    if table not in TABLES:
        raise ValueError(f"{line!r}: table {table!r} does not exist; use one of {', '.join(TABLES)}")
    verb, rest = (words[0], words[1:]) if words else ("", [])
    if verb == "-P" and len(rest) == 2:
        if rest[0] not in BUILTIN_CHAINS[table]:
            raise ValueError(f"{line!r}: only built-in chains have a policy ({', '.join(BUILTIN_CHAINS[table])} in "
                             f"{table!r})")
        if rest[1] not in ("ACCEPT", "DROP"):
            raise ValueError(f"{line!r}: a policy is ACCEPT or DROP")
        return Chain(table, rest[0], rest[1])
    if verb == "-N" and len(rest) == 1:
        return Chain(table, rest[0])
    if verb == "-A" and len(rest) >= 2:
        return Rule(table, rest[0], tuple(rest[1:]))
    raise ValueError(f"{line!r}: describe a firewall with -P CHAIN ACCEPT|DROP, -N CHAIN or -A CHAIN <match> -j "
                     f"<target> (each with -t TABLE if not filter); to change a running lab's rules otherwise, "
                     f"run iptables in the node (node.run)")


def join_args(args: tuple[str, ...]) -> str:
    """iptables words as a person types them: ``!`` bare, anything with spaces quoted."""
    return " ".join(a if a == "!" else shlex.quote(a) for a in args)


def check_rule(rule: Rule, chains: set[tuple[str, str]]) -> str | None:
    """Why ``rule`` cannot be installed, or None. ``chains`` are the (table, chain) pairs that exist."""
    if rule.table not in TABLES:
        return f"table {rule.table!r} does not exist; use one of {', '.join(TABLES)}"
    if rule.chain not in BUILTIN_CHAINS[rule.table] and (rule.table, rule.chain) not in chains:
        return f"chain {rule.chain!r} is not in table {rule.table!r}; create it first"
    if "-j" in rule.args:
        target = rule.args[rule.args.index("-j") + 1] if rule.args.index("-j") + 1 < len(rule.args) else ""
        if target.isupper() and target not in _TARGETS and (rule.table, target) not in chains \
                and target not in BUILTIN_CHAINS[rule.table]:
            return f"rule {rule.text!r} jumps to {target!r}, which is neither a target nor a chain of {rule.table!r}"
    return None


_TARGETS = {"ACCEPT", "DROP", "RETURN", "REJECT", "MASQUERADE", "SNAT", "DNAT", "REDIRECT", "LOG", "MARK",
            "NOTRACK", "CT", "TCPMSS", "CONNMARK"}
