"""What the importers share: problems with their place, and a node's shell lines turned into the description
(addresses and routes) or into startup commands, checked for what netnb cannot or will not run."""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field

from netnb.errors import TopologyError
from netnb.importers import lines
from netnb.lab import Lab
from netnb.model.frr import FRR_INIT, FRR_START, daemons_file
from netnb.model.resolver import script_lines, startup_problem
from netnb.nodes import Host


#: Services labs start that netnb stands in for where the machine lacks them: the command, and what it is.
#: Services whose init script Debian renamed: the name labs use -> the script's (bind9 is "named" since
#: Debian 12).
SERVICE_NAMES = {"bind9": "named"}

STAND_INS = {
    # a service (node.service): started in the background, waited for until it listens, as a service
    # manager waits for one — on the kernel and in the simulation alike
    "apache2": ("python3 -m http.server 80 --directory /var/www/html", 80,
                "netnb serves /var/www/html on port 80 with python3 -m http.server instead (static files: no "
                "modules, CGI or .htaccess)"),
}


@dataclass
class Findings:
    """Problems (each ``where: text``) that stop an import, and notes on what was mapped approximately."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def problem(self, where: str, text: str) -> None:
        self.problems.append(f"{where}: {text}")

    def note(self, where: str, text: str) -> None:
        self.notes.append(f"{where}: {text}")

    def finish(self, lab: Lab) -> Lab:
        """The imported lab, with the notes; every problem at once (the import's, else the description's)."""
        if self.problems:
            raise TopologyError(self.problems)
        lab.notes = self.notes
        problems = lab.validate()
        if problems:
            raise TopologyError(problems)
        return lab


def read_text(path: str, hint: str = "") -> str:
    """A file's text, or a TopologyError naming it (and ``hint``: what to give instead)."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        raise TopologyError([f"{path}: cannot be read ({exc.strerror}){hint}"]) from exc


#: Quagga-era labs keep one configuration file per daemon (zebra.conf, ripd.conf): FRR reads those where
#: there is no integrated frr.conf, so the machine's default one is removed from the node's view first.
QUAGGA_START = "rm -f /etc/frr/frr.conf && " + FRR_START


def frr_installed() -> bool:
    """Whether this machine has FRR (Debian's ``frr``: ``bash scripts/setup.sh --frr``)."""
    return os.path.exists(FRR_INIT)


@dataclass
class NodeLines:
    """A node's shell lines, sorted: addresses and routes for the description, the rest to run at startup
    (each with where it came from); the routing daemons a Quagga-era line starts (FRR runs them)."""

    addresses: list[tuple[lines.Address, str]] = field(default_factory=list)
    routes: list[tuple[lines.Route, str]] = field(default_factory=list)
    commands: list[tuple[str, str]] = field(default_factory=list)
    quagga: set[str] = field(default_factory=set)
    #: Commands among ``commands`` that are services (node.service): the port each listens on.
    services: dict[str, int] = field(default_factory=dict)

    def by_interface(self, node: str, into: dict[tuple[str, str], list[tuple[str, str]]]) -> None:
        """Add this node's addresses to ``into``: (node, device) -> [(address, where)], which links take from."""
        for address, where in self.addresses:
            into.setdefault((node, address.dev), []).append((address.ip, where))

    def describe(self, host: Host) -> None:
        """Put the routes and the startup commands into ``host``'s description, each with where it came from."""
        for route, where in self.routes:
            host.route(route.dest, via=route.via, dev=route.dev)
            host.spec.routes[-1].origin = where
        for command, where in self.commands:
            if command in self.services:
                host.service(command, port=self.services[command])
            else:
                host.startup(command)
            host.spec.startup[-1].origin = where


def add_left_over(lab: Lab, addresses: dict[tuple[str, str], list[tuple[str, str]]]) -> None:
    """The addresses no link took (a second one on an interface, one on ``lo``) as the nodes' extra ones."""
    for (name, dev), rest in addresses.items():
        host = lab[name]
        assert isinstance(host, Host)  # importers make hosts and routers of the nodes with lines
        for ip, where in rest:
            host.address(ip, dev=dev)
            host.spec.addresses[-1].origin = where


def sort_lines(given: list[tuple[str, str]], into: NodeLines, found: Findings, *, describe: bool = True) -> None:
    """Each ``(line, where)``: refused if it would change the machine or starts what netnb cannot run; an
    address or route when ``describe`` and it is one of the plain forms; else a startup command."""
    for text, where in given:
        why = lines.machine_change(text)
        if why:
            found.problem(where, f"`{text}` {why}; netnb runs nothing that changes the machine: drop the line")
            continue
        started = lines.service(text)
        if started is not None and started[1] in ("start", "restart", "enable", "reload"):
            name = SERVICE_NAMES.get(started[0], started[0]) \
                if not os.path.exists(f"/etc/init.d/{started[0]}") else started[0]
            if name in lines.ROUTING_DAEMONS:
                if not frr_installed():
                    found.problem(where, f"`{text}` starts routing daemons ({name}): this machine has no FRR; "
                                         "install it with `bash scripts/setup.sh --frr` (Debian's frr)")
                    continue
                if name != "frr":
                    into.quagga.add(name)
                    found.note(where, f"`{text}`: Quagga's daemons run as FRR's, from the same configuration files")
                start = FRR_START if name == "frr" else QUAGGA_START
                if all(c not in (FRR_START, QUAGGA_START) for c, _ in into.commands):
                    into.commands.append((start, where))
                continue
            stand_in = STAND_INS.get(name)
            if stand_in is not None and not os.path.exists(f"/etc/init.d/{name}"):
                found.note(where, f"`{text}`: this machine has no {name}; {stand_in[2]}")
                into.commands.append((stand_in[0], where))
                into.services[stand_in[0]] = stand_in[1]
                continue
            if not os.path.exists(f"/etc/init.d/{name}"):
                how = "bash scripts/setup.sh --services" if name in ("named", "radvd") else f"apt-get install {name}"
                found.problem(where, f"`{text}` starts the service {name!r}, which this machine does not have "
                                     f"(no /etc/init.d/{name}): install it ({how}) or drop the line")
                continue
            if not text.lstrip().startswith("/etc/init.d/"):
                found.note(where, f"`{text}` runs as `/etc/init.d/{name} {started[1]}` (nodes have no systemd)")
                text = f"/etc/init.d/{name} {'start' if started[1] == 'enable' else started[1]}"
        item = lines.described(text) if describe else None
        if isinstance(item, lines.Address):
            into.addresses.append((item, where))
        elif isinstance(item, lines.Route):
            into.routes.append((item, where))
        else:
            into.commands.append((text, where))


def one_by_one(text: str) -> bool:
    """Whether a script can run line by line (no construct spanning lines, no here-document)."""
    return all(startup_problem(line) is None for line, _ in script_lines(text))


def per_daemon_configs(node: Host) -> None:
    """Where a node starts FRR with one configuration file per daemon (``bgpd.conf``) and no ``frr.conf`` of its
    own, FRR must not read the machine's default ``frr.conf`` instead: start it as for a Quagga-era lab."""
    files = node.spec.files
    own = [p for p in files if p.startswith("/etc/frr/") and p.endswith("d.conf")]
    if own and "/etc/frr/frr.conf" not in files:
        for line in node.spec.startup:
            if line.command == FRR_START:
                line.command = QUAGGA_START


#: BIND options older labs (BIND 9.11, Kathará's image) set and BIND 9.16+ refuses to start with: no-ops by
#: then (DNSSEC is on by default, the look-aside service is gone), or moved to a plugin (AAAA filtering,
#: which labs without IPv6 have nothing to filter for).
OBSOLETE_BIND = re.compile(
    rb"^[ \t]*(dnssec-enable|dnssec-lookaside|filter-aaaa-on-v4|filter-aaaa-on-v6)\b[^;\n]*;[ \t]*\n?", re.M)


def old_bind_options(node: Host) -> list[str]:
    r"""Drop from the node's ``/etc/bind`` files the options the machine's BIND no longer has (it would not start
    otherwise); the paths changed, for a note.

    >>> OBSOLETE_BIND.sub(b"", b"options {\n  dnssec-enable no;\n  recursion yes;\n};\n")
    b'options {\n  recursion yes;\n};\n'
    """
    changed = []
    for path, spec in list(node.spec.files.items()):
        if path.startswith("/etc/bind/") and spec.content is not None and OBSOLETE_BIND.search(spec.content):
            node.spec.files[path] = dataclasses.replace(spec, content=OBSOLETE_BIND.sub(b"", spec.content))
            changed.append(path)
    return changed


def quagga_bgp(config: bytes) -> bytes:
    """A Quagga ``bgpd.conf`` as FRR must read it to behave as Quagga did: FRR (7.4 and later) neither accepts nor
    sends eBGP routes without a policy, and announces a ``network`` only once it is in the routing table;
    Quagga did both. Each ``router bgp`` section gets the two lines that restore Quagga's behaviour.

    >>> quagga_bgp(b"router bgp 100\\n network 10.0.0.0/8\\n").decode().splitlines()
    ['router bgp 100', ' no bgp ebgp-requires-policy', ' no bgp network import-check', ' network 10.0.0.0/8']
    """
    out = []
    for line in config.decode(errors="replace").splitlines():
        out.append(line)
        if re.match(r"\s*router\s+bgp\b", line):
            out += [" no bgp ebgp-requires-policy", " no bgp network import-check"]
    return ("\n".join(out) + "\n").encode()


def quagga_files(node: Host, started: set[str]) -> None:
    """A Quagga-era node's ``/etc/quagga`` files, also at ``/etc/frr`` (where FRR reads them); a ``daemons``
    file enabling the daemons its lines started where the lab gives none (Quagga's per-daemon init scripts)."""
    given = dict(node.spec.files)
    for path, spec in given.items():
        if path.startswith("/etc/quagga/") and spec.content is not None:
            content = spec.content
            if path.endswith("/bgpd.conf"):
                content = quagga_bgp(content)
            node.file("/etc/frr/" + path[len("/etc/quagga/"):], content, mode=spec.mode)
    if "/etc/frr/daemons" not in node.spec.files:
        node.file("/etc/frr/daemons", daemons_file(d for d in started if d not in ("quagga", "frr")))
