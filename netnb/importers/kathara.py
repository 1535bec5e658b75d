"""Kathará labs, unmodified: a folder with ``lab.conf``, ``DEVICE.startup`` files and ``DEVICE/`` folders.

What maps to what (the README has the table):

- ``dev[N]=CD`` (``CD/MAC``): interface ``ethN`` of ``dev`` on collision domain ``CD``. A domain with two
  devices is a cable between them; with one, or three and more, a switch named after it (a learning bridge,
  as Kathará's Docker networks are).
- Every device forwards IPv4, as Kathará sets ``net.ipv4.ip_forward=1`` in each: one interface makes a
  host, more a router (only the drawing differs).
- ``shared.startup``, then ``DEV.startup``, then ``dev[exec]`` lines: run as startup commands, one per
  line, with their file and line; a file with constructs spanning lines (``if``/``for``, here-documents)
  runs whole with bash, as Kathará runs it. Lines that add an address or a route in the plain forms
  (``ip address add``, ``ifconfig``, ``ip route add … via``, ``route add … gw``) become part of the
  description instead, so the lab is checked and drawn with its addresses and ``netnb run --ping`` knows
  them. Lines that would change the machine (kernel modules, settings outside ``net.``) are refused;
  ``systemctl start X`` runs ``/etc/init.d/X start`` (nodes have no systemd); a service this machine lacks,
  and routing daemons, are refused with the line.
- ``DEV/`` is copied into the node's own files at ``/``; ``shared/`` is one folder every node shares at
  ``/shared`` (a copy, in the lab's folder: what one node writes there the others read), and so is the lab
  folder at ``/hostlab`` where a startup file mentions it; ``lab.dep`` orders the startup.
- ``dev[sysctl]=net.…`` runs ``sysctl -w`` first; ``dev[ipv6]=true`` turns IPv6 on for the lab.
- ``[image]``: Kathará's base image, plain Linux images and ``kathara/bind`` (with ``setup.sh --services``)
  run as plain nodes; others are refused, as are
  ``bridged`` and ``port`` (they connect to the machine's network, which netnb never touches). ``mem``,
  ``cpus``, ``shell``, ``num_terms`` and the like have nothing to act on and are noted. A Wireshark device
  is left out (netnb captures anywhere itself); Apache, where the machine lacks it, is stood in for by a
  static web server on port 80 (noted).

The ``lab.conf`` line syntax is Kathará's own (``LabParser``'s regular expression).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from netnb.errors import NetnbError
from netnb.importers import lines
from netnb.importers.common import (
    Findings,
    NodeLines,
    add_left_over,
    frr_installed,
    one_by_one,
    old_bind_options,
    per_daemon_configs,
    quagga_files,
    read_text,
    sort_lines,
)
from netnb.model.resolver import script_lines
from netnb.lab import Lab
from netnb.nodes import Host

_LINE = re.compile(r"^(?P<key>[a-z0-9_]{1,30})\[(?P<arg>\w+)\]=([\"']?)(?P<value>[^\"']+)(\3)(\s+#.*)?$")
_META = ("LAB_NAME", "LAB_DESCRIPTION", "LAB_VERSION", "LAB_AUTHOR", "LAB_EMAIL", "LAB_WEB")
_MAC = re.compile(r"^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$")
#: Images whose programs are a plain Linux's: what a netnb node runs.
_PLAIN = ("kathara/base", "debian", "ubuntu", "alpine", "busybox")
#: Kathará's images of one service: plain nodes where the machine has that service's program.
_SERVICE_IMAGES = {"kathara/bind": "/etc/init.d/named"}
_IGNORED = {"mem", "cpus", "shell", "num_terms", "ulimit", "privileged", "entrypoint", "args", "env"}


@dataclass
class _Device:
    name: str
    line: int
    interfaces: dict[int, tuple[str, str | None, int]] = field(default_factory=dict)  # N -> (cd, mac, line)
    meta: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


def is_kathara(path: str) -> bool:
    """Whether ``path`` is a Kathará lab: a folder with a ``lab.conf``, or that file."""
    return os.path.isfile(os.path.join(path, "lab.conf")) if os.path.isdir(path) else os.path.basename(path) == "lab.conf"


def load(path: str, *, backend: str | None = None) -> Lab:
    """A Lab from a Kathará lab folder (or its ``lab.conf``); every problem, with its file and line, at once.
    ``backend`` as for :class:`netnb.Lab`.

    Example: ``netnb.load("kathara-labs/static-routing")``
    """
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    conf = os.path.join(folder, "lab.conf")
    found = Findings()
    text = read_text(conf, "; give a Kathará lab folder")
    devices, meta = _parse(text, conf, found)
    for dev in list(devices.values()):
        if any("wireshark" in v for v, _ in dev.meta.get("image", [])):  # a capture station, with a web UI
            del devices[dev.name]
            found.note(f"{conf}:{dev.line}", f"{dev.name} (Wireshark) is left out: netnb captures anywhere itself "
                                              "(lab.capture(...), then .table() or .pcap())")
    order = _order(folder, devices, found)
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", meta.get("LAB_NAME") or os.path.basename(os.path.abspath(folder)))
    ipv6 = any(v.lower() == "true" for d in devices.values() for v, _ in d.meta.get("ipv6", []))
    lab = Lab(name.strip("-.") or "kathara", ipv6=ipv6, backend=backend)
    lab.origin = f"Kathará lab {folder}"
    sorted_lines = {d: _device_lines(folder, conf, devices[d], found) for d in order}
    _build(lab, folder, conf, devices, order, sorted_lines, found)
    return found.finish(lab)


def _parse(text: str, conf: str, found: Findings) -> tuple[dict[str, _Device], dict[str, str]]:
    devices: dict[str, _Device] = {}
    meta: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{conf}:{number}"
        m = _LINE.match(line)
        if m is None:
            key = line.split("=", 1)[0].strip()
            if key in _META and "=" in line:
                meta[key] = line.split("=", 1)[1].strip().strip("\"'")
            else:
                found.problem(where, f"`{line}` is not a Kathará assignment (device[N]=CD, device[option]=value, "
                                     "LAB_NAME=...)")
            continue
        dev = devices.setdefault(m["key"], _Device(m["key"], number))
        arg, value = m["arg"], m["value"]
        if arg.isdigit():
            cd, _, mac = value.partition("/")
            if not re.fullmatch(r"\w+", cd):
                found.problem(where, f"collision domain {cd!r} has characters other than letters, digits and '_'")
            elif mac and not _MAC.match(mac):
                found.problem(where, f"{mac!r} is not a MAC address (XX:XX:XX:XX:XX:XX)")
            elif int(arg) in dev.interfaces:
                found.problem(where, f"interface eth{arg} of {dev.name!r} is given twice")
            else:
                dev.interfaces[int(arg)] = (cd, mac or None, number)
        else:
            dev.meta.setdefault(arg, []).append((value, number))
    return devices, meta


def _order(folder: str, devices: dict[str, _Device], found: Findings) -> list[str]:
    """Devices in ``lab.conf`` order, moved after the ones they depend on in ``lab.dep``."""
    names = list(devices)
    path = os.path.join(folder, "lab.dep")
    if not os.path.isfile(path):
        return names
    deps: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            m = re.match(r"^(\w+):\s?((?:\w+ ?)+)$", line)
            if m is None:
                found.problem(f"{path}:{number}", f"`{line}` is not `DEVICE: DEVICE1 DEVICE2 ...`")
                continue
            deps[m[1]] = m[2].split()
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in ordered:
            return
        if name in visiting:
            found.problem(path, f"devices depend on each other in a loop (through {name!r})")
            return
        visiting.add(name)
        for dep in deps.get(name, []):
            if dep in devices:
                visit(dep)
        visiting.discard(name)
        ordered.append(name)

    for name in names:
        visit(name)
    return ordered


def _device_lines(folder: str, conf: str, dev: _Device, found: Findings) -> NodeLines:
    """The device's startup lines (sysctls, shared.startup, its .startup, exec), sorted."""
    into = NodeLines()
    given = [(f"sysctl -w {v}", f"{conf}:{n}") for v, n in dev.meta.get("sysctl", [])]
    sort_lines(given, into, found, describe=False)
    for name in ("shared.startup", f"{dev.name}.startup"):
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        if one_by_one(text):
            sort_lines([(c, f"{path}:{n}") for c, n in script_lines(text)], into, found)
        else:
            for c, n in script_lines(text):  # run whole; its lines are still checked
                why = lines.machine_change(c)
                if why:
                    found.problem(f"{path}:{n}", f"`{c}` {why}; netnb runs nothing that changes the machine")
            found.note(path, "has commands spanning lines: it runs whole, with bash, as Kathará runs it (its "
                             "addresses are not part of the description)")
            into.commands.append((f"bash /hostlab/{name}", path))
    sort_lines([(v, f"{conf}:{n}") for v, n in dev.meta.get("exec", [])], into, found)
    return into


def _build(lab: Lab, folder: str, conf: str, devices: dict[str, _Device], order: list[str],
           sorted_lines: dict[str, NodeLines], found: Findings) -> None:
    members: dict[str, list[tuple[str, int]]] = {}
    for name in order:
        dev = devices[name]
        for number, (cd, _, _) in sorted(dev.interfaces.items()):
            members.setdefault(cd, []).append((name, number))
        _options(dev, conf, found)
        made = lab.router(name) if len(dev.interfaces) > 1 else lab.host(name)
        made.spec.forward = True  # Kathará: net.ipv4.ip_forward=1 in every device
    hostlab = any("/hostlab" in c for d in sorted_lines.values() for c, _ in d.commands)
    addresses: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for name, dl in sorted_lines.items():
        node = _host(lab, name)
        dl.by_interface(name, addresses)
        dl.describe(node)
        try:
            if os.path.isdir(os.path.join(folder, name)):
                node.files_from(os.path.join(folder, name))
        except (OSError, NetnbError) as exc:
            found.problem(os.path.join(folder, name), f"its files cannot be copied into node {name!r}: {exc}")
        if dl.quagga:
            quagga_files(node, dl.quagga)
        per_daemon_configs(node)
        for path in old_bind_options(node):
            found.note(os.path.join(folder, name) + path, "dnssec-enable, dnssec-lookaside and filter-aaaa options "
                                                          "are left out: the machine's BIND (9.16 and later) no "
                                                          "longer has them, and would not start")
    shares = [("/shared", os.path.join(folder, "shared"), "shared/")] if os.path.isdir(os.path.join(folder, "shared")) \
        else []
    shares += [("/hostlab", folder, "the lab folder")] if hostlab else []
    for at, source, what in shares:
        try:
            lab.share(at, source=source)
        except (OSError, NetnbError) as exc:
            found.problem(source, f"its files cannot be shared at {at}: {exc}")
            continue
        found.note(source, f"{what} is one folder every node shares at {at}, as Kathará mounts it (a copy of "
                           f"it, in the lab's folder: shares/{at.strip('/')}; the folder here is never written)")
    used = set(lab.nodes)
    for cd, ends in members.items():
        def first_ip(dev: str, number: int) -> str | None:
            taken = addresses.get((dev, f"eth{number}"))
            return taken.pop(0)[0] if taken else None

        macs = [devices[d].interfaces[n][1] for d, n in ends]
        if len(ends) == 2:
            (a, na), (b, nb) = ends
            ips = (first_ip(a, na), first_ip(b, nb))
            lab.link(a, b, ifname=(f"eth{na}", f"eth{nb}"), ip=None if ips == (None, None) else ips,
                     mac=(macs[0], macs[1]) if any(macs) else None)
            continue
        switch = cd if cd not in used else f"cd-{cd}"
        used.add(switch)
        lab.switch(switch)
        for (member, number), mac in zip(ends, macs):
            lab.link(member, switch, ifname=(f"eth{number}", None), ip=first_ip(member, number),
                     mac=(mac, None) if mac else None)
    add_left_over(lab, addresses)


def _host(lab: Lab, name: str) -> Host:
    node = lab[name]
    assert isinstance(node, Host)  # every device is made a host or a router
    return node


def _options(dev: _Device, conf: str, found: Findings) -> None:
    for option, given in dev.meta.items():
        for value, number in given:
            where = f"{conf}:{number}"
            if option == "image":
                image = value.split(":")[0]
                if image in ("kathara/frr", "kathara/quagga"):
                    if not frr_installed():
                        found.problem(where, f"{dev.name} runs {value}: routing daemons; this machine has no FRR, "
                                             "install it with `bash scripts/setup.sh --frr` (Debian's frr)")
                elif image in _SERVICE_IMAGES:
                    needed = _SERVICE_IMAGES[image]
                    if not os.path.exists(needed):
                        found.problem(where, f"{dev.name} runs {value}: {needed} is missing here, install it with "
                                             "`bash scripts/setup.sh --services` (Debian's bind9)")
                elif image not in _PLAIN:
                    found.problem(where, f"{dev.name} runs the image {value!r}: netnb runs plain Linux nodes (with "
                                         "this machine's programs) and cannot provide that image's programs")
            elif option in ("bridged", "port"):
                if value.lower() not in ("false", "0"):
                    found.problem(where, f"{dev.name}[{option}] connects the device to this machine's network, "
                                         "which netnb never touches: drop it (a lab node can play the outside world)")
            elif option == "volume":
                found.problem(where, f"{dev.name}[volume] mounts a folder of this machine into the device: put the "
                                     f"files in the {dev.name}/ folder instead (they are copied into the node)")
            elif option in _IGNORED:
                found.note(where, f"{dev.name}[{option}] has nothing to act on in netnb and is left out")
            elif option not in ("exec", "sysctl", "ipv6"):
                found.problem(where, f"{dev.name}[{option}] is not a Kathará device option netnb knows")
