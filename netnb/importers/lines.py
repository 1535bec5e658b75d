"""Reading the shell lines other tools' labs configure their nodes with (a Kathará ``.startup`` file, a
containerlab ``exec:`` list, a Mininet ``cmd()``): which ones describe an address or a route (and so become
part of the description, checked and drawn, and known to ``netnb run --ping``), which ones would change the
machine rather than the node, and which ones start a service.

Hand-written: these are a handful of ``ip``/``ifconfig``/``route`` forms, read with :mod:`shlex`.

>>> described("ip address add 10.0.0.1/24 dev eth0")
Address(dev='eth0', ip='10.0.0.1/24')
>>> described("route add default gw 10.0.0.254")
Route(dest='default', via='10.0.0.254', dev=None)
>>> machine_change("modprobe 8021q")
'loads or unloads a kernel module, for the whole machine'
"""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
from dataclasses import dataclass
from typing import Any

#: Services whose start means routing daemons (FRR, or Quagga before it).
ROUTING_DAEMONS = frozenset({"frr", "quagga", "zebra", "ospfd", "ospf6d", "bgpd", "ripd", "ripngd", "isisd"})


@dataclass(frozen=True)
class Address:
    """``ip address add IP/LEN dev DEV`` (or ``ifconfig DEV IP netmask MASK``)."""

    dev: str
    ip: str


@dataclass(frozen=True)
class Route:
    """``ip route add DEST via GW [dev DEV]`` (or ``route add ... gw GW``); ``via`` holds every gateway of
    ``ip route add DEST nexthop via GW1 nexthop via GW2`` (a multipath route)."""

    dest: str
    via: str | tuple[str, ...]
    dev: str | None


def _words(line: str) -> list[str] | None:
    try:
        return shlex.split(line, comments=True)
    except ValueError:
        return None


def _simple(line: str) -> list[str] | None:
    """The words of a line that is one plain command (no ``;``, pipes, redirections or substitutions)."""
    if re.search(r"[;&|<>`$()]", line):
        return None
    return _words(line)


def described(line: str) -> Address | Route | None:
    """The address or route a line adds, where it is one of the plain forms; else None (run it as it is)."""
    words = _simple(line)
    if not words:
        return None
    cmd = os.path.basename(words[0])
    if cmd == "ip":
        return _ip(words[1:])
    if cmd == "ifconfig":
        return _ifconfig(words[1:])
    if cmd == "route":
        return _route(words[1:])
    return None


def _ip(args: list[str]) -> Address | Route | None:
    args = [a for a in args if a != "-4"]
    if len(args) < 2:
        return None
    obj, verb, rest = args[0], args[1], args[2:]
    if "address".startswith(obj) and obj != "" and verb == "add":
        dev = ip = None
        i = 0
        while i < len(rest):
            if rest[i] == "dev" and i + 1 < len(rest):
                dev, i = rest[i + 1], i + 2
            elif rest[i] in ("brd", "broadcast") and i + 1 < len(rest) and rest[i + 1] == "+":
                i += 2
            elif ip is None and "/" in rest[i] and _interface(rest[i]):
                ip, i = rest[i], i + 1
            else:
                return None
        return Address(dev.split(":")[0], ip) if dev and ip else None  # (lo:1 is lo, labelled)
    if "route".startswith(obj) and obj != "" and verb in ("add", "replace") and rest:
        dest, rest = rest[0], rest[1:]
        if rest[:1] == ["nexthop"]:
            return _multipath(dest, rest)
        fields = dict(zip(rest[::2], rest[1::2])) if len(rest) % 2 == 0 else {}
        if set(fields) - {"via", "dev"} or "via" not in fields or not _destination(dest) or not _address(fields["via"]):
            return None
        return Route(dest, fields["via"], fields.get("dev"))
    return None


def _multipath(dest: str, words: list[str]) -> Route | None:
    """``nexthop via GW [dev DEV]`` repeated, each of weight 1 (a weight, or another word: run as it is)."""
    hops: list[dict[str, str]] = []
    i = 0
    while i < len(words):
        if words[i] == "nexthop":
            hops.append({})
            i += 1
        elif hops and words[i] in ("via", "dev") and words[i] not in hops[-1] and i + 1 < len(words):
            hops[-1][words[i]], i = words[i + 1], i + 2
        else:
            return None
    if len(hops) < 2 or not _destination(dest) or any("via" not in h or not _address(h["via"]) for h in hops):
        return None
    devs = {h.get("dev") for h in hops}
    return Route(dest, tuple(h["via"] for h in hops), devs.pop() if len(devs) == 1 else None)


def _ifconfig(args: list[str]) -> Address | None:
    if len(args) < 2 or not args[0][:1].isalpha():
        return None
    dev, value, rest = args[0], args[1], [a for a in args[2:] if a != "up"]
    mask = None
    while rest:
        if rest[0] == "netmask" and len(rest) > 1:
            mask, rest = rest[1], rest[2:]
        elif rest[0] in ("broadcast", "bcast") and len(rest) > 1:
            rest = rest[2:]  # the broadcast address of the subnet, which the kernel sets the same
        else:
            return None
    dev = dev.split(":")[0]  # an alias (lo:1, eth0:0) is a second address of its device
    if "/" in value:
        return Address(dev, value) if mask is None and _interface(value) else None
    if not _address(value):
        return None
    if mask is None:  # ifconfig's default: the address's class
        first = int(value.split(".")[0])
        mask = "255.0.0.0" if first < 128 else "255.255.0.0" if first < 192 else "255.255.255.0"
    try:
        return Address(dev, str(ipaddress.IPv4Interface(f"{value}/{mask}")))
    except ValueError:
        return None


def _route(args: list[str]) -> Route | None:
    if not args or args[0] != "add":
        return None
    args = args[1:]
    dest = None
    if args[:1] == ["default"]:
        dest, args = "default", args[1:]
    elif args[:1] in (["-net"], ["-host"]) and len(args) > 1:
        kind, dest, args = args[0], args[1], args[2:]
        if args[:1] == ["netmask"] and len(args) > 1:
            try:
                dest = str(ipaddress.IPv4Network(f"{dest}/{args[1]}"))
            except ValueError:
                return None
            args = args[2:]
        elif kind == "-host" and "/" not in dest:
            dest += "/32"
    if dest is None or not _destination(dest):
        return None
    via = dev = None
    while args:
        if args[0] == "gw" and len(args) > 1:
            via, args = args[1], args[2:]
        elif args[0] == "dev" and len(args) > 1:
            dev, args = args[1], args[2:]
        elif len(args) == 1 and args[0][:1].isalpha():
            dev, args = args[0], []
        else:
            return None
    return Route(dest, via, dev) if via and _address(via) else None


def _parses(parse: Any, text: str) -> bool:
    try:
        parse(text)
        return True
    except ValueError:
        return False


def _address(text: str) -> bool:
    return _parses(ipaddress.IPv4Address, text)


def _interface(text: str) -> bool:
    return _parses(ipaddress.IPv4Interface, text)


def _destination(text: str) -> bool:
    return text == "default" or _parses(lambda t: ipaddress.IPv4Network(t, strict=True), text)


_POWER = {"reboot", "shutdown", "halt", "poweroff", "kexec", "init", "telinit"}
_MODULES = {"modprobe", "insmod", "rmmod"}


def machine_change(line: str) -> str | None:
    """Why a line would change the machine rather than its node (a lab runs it as root), or None.

    A node's network, files and hostname are its own; these are not: kernel modules, settings outside
    ``net.`` (``sysctl``, ``/proc/sys``), the clock, swap, power; and ending processes by name (``killall``,
    ``pkill``), which would reach every node of the lab (they share one process table).
    """
    for part in re.split(r"&&|\|\||[;|&\n]", line):
        words = _words(part)
        if not words:
            continue
        while words and ("=" in words[0] and not words[0].startswith("=") or words[0] in ("sudo", "exec", "nohup")):
            words = words[1:]  # VAR=value prefixes, sudo
        if not words:
            continue
        cmd = os.path.basename(words[0])
        if cmd in _MODULES:
            return "loads or unloads a kernel module, for the whole machine"
        if cmd in _POWER or (cmd == "systemctl" and len(words) > 1 and words[1] in _POWER):
            return "would stop or restart the machine"
        if cmd in ("swapon", "swapoff", "hwclock") or (cmd == "date" and any(w.startswith(("-s", "--set")) for w in words)):
            return "changes the whole machine (swap, or the clock)"
        if cmd in ("killall", "pkill", "killall5"):
            return ("ends processes by name, and a node sees every process of its lab (the nodes of a lab share one "
                    "process table): it would end the other nodes' too; end the node's own by its pid "
                    "(kill $(cat /run/NAME.pid))")
        if cmd == "sysctl":
            for w in words[1:]:
                if w.startswith("-p") or w == "--load" or w == "--system":
                    return "loads settings from a file, which may hold some outside net.*: give each with sysctl -w net.…"
                key = w.split("=", 1)[0].replace("/", ".")
                if "=" in w and not key.startswith("net."):
                    return f"sets {key}, a setting of the whole machine (only net.* settings are a node's own)"
        target = re.search(r">>?\s*(/proc/sys/\S+)", part)
        if target and not target.group(1).startswith("/proc/sys/net/"):
            return f"writes {target.group(1)}, a setting of the whole machine (only /proc/sys/net is a node's own)"
    return None


def service(line: str) -> tuple[str, str] | None:
    """``(name, action)`` where a line starts, restarts or stops a service (``/etc/init.d/NAME start``,
    ``service NAME start``, ``systemctl start NAME``), else None."""
    words = _simple(line)
    if not words:
        return None
    if words[0].startswith("/etc/init.d/") and len(words) == 2:
        return words[0][len("/etc/init.d/"):], words[1]
    if words[0] == "service" and len(words) == 3:
        return words[1], words[2]
    if words[0] == "systemctl" and len(words) >= 3 and words[1] in ("start", "restart", "stop", "reload", "enable"):
        names = [w for w in words[2:] if not w.startswith("-")]
        if len(names) == 1:
            return names[0].removesuffix(".service"), words[1]
    return None
