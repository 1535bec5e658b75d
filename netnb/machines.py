"""What a lab runs beside its namespaces: VMs on TAP devices, and the outside world's web server.

>>> Internet.PAGE.startswith("<html>")
True
"""

from __future__ import annotations

import ipaddress
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from netnb.errors import LabStateError, NetnbError
from netnb.model import NeighbourEntry, PingResult
from netnb.nodes import Host, Process, Router, check_ping_args
from netnb.view.records import RecordList
from netnb.view.table import card

if TYPE_CHECKING:
    from netnb.lab import Lab


class Vm:
    """A VM on a TAP device (see :meth:`Lab.vm`); ``ping`` asks its guest to ping."""

    def __init__(self, lab: Lab, name: str, host: Host, tap: str, mac: str, ip: str, gateway: str | None) -> None:
        self.lab, self.name, self.host, self.tap, self.mac, self.ip, self.gateway = lab, name, host, tap, mac, ip, gateway
        self.process: Process | None = None
        self._control = ""

    def boot(self, lab: Lab) -> None:
        """Start the guest on its TAP device (the lab calls this once it has started)."""
        import tempfile

        folder = tempfile.mkdtemp(prefix=f"vm-{self.name}-", dir=lab.folder)
        self._control = os.path.join(folder, "control")
        argv = [sys.executable, "-m", "netnb.vm", "--tap", self.tap, "--mac", self.mac, "--ip", self.ip,
                "--control", self._control] + (["--gateway", self.gateway] if self.gateway else [])
        self.process = self.host.popen(argv)
        deadline = time.monotonic() + 10
        while True:  # ready once its guest answers on the control socket
            try:
                self._ask({"cmd": "arp"}, 0.2)
                break
            except NetnbError:
                if time.monotonic() > deadline or not self.process.running:
                    raise NetnbError(f"VM {self.name} did not start: {self.process.output()[-300:]}") from None
                time.sleep(0.01)
        self.lab.live().wait_ready(10)  # its TAP now has a carrier

    def _ask(self, request: dict[str, Any], wait: float) -> Any:
        assert self.process is not None
        try:
            return self.lab.live().request(self.process.handle, request, wait)
        except NetnbError as exc:
            raise NetnbError(f"VM {self.name} did not answer ({exc}); its guest said: "
                             f"{self.process.output()[-300:]}") from exc

    @property
    def address(self) -> str:
        """The VM's address without its prefix (``ip`` has it: ``10.0.1.11/24``)."""
        return self.ip.split("/")[0]

    @property
    def addresses(self) -> list[ipaddress.IPv4Interface]:
        """The VM's address as a list, like a host's ``addresses``."""
        return [ipaddress.IPv4Interface(self.ip)]

    def ping(self, target: Host | Vm | str, count: int = 3, *, timeout: float = 1.0) -> PingResult:
        """Ping from inside the VM (through its gateway when the target is on another network): a node of
        the lab, another VM, or an address."""
        check_ping_args(count, timeout)
        dest = self._destination(target)
        if not self.lab.running or not self._control:
            raise LabStateError(f"lab {self.lab.name!r} is not running; start it first")
        got = self._ask({"cmd": "ping", "dst": dest, "count": count, "timeout": timeout}, count * (timeout + 1) + 5)
        rtts = got["rtt_ms"]
        hop = got.get("hop", dest)
        via = "" if hop == dest else f" (its gateway, on the way to {dest})"
        if not got.get("resolved", True):
            note = (f"no ARP answer from {hop}{via}: nothing with that address is on the VM's network "
                    f"({self.ip}); check the gateway and the bridge its TAP joins")
        else:
            note = (f"{hop}{via} answered ARP, so the VM's own link works; the echo replies were lost further on: "
                    f"check the routes back to {self.ip} and the NAT on the way")
        return PingResult(dest, got["sent"], got["received"], min(rtts) if rtts else None,
                          sum(rtts) / len(rtts) if rtts else None, max(rtts) if rtts else None, source=self.name,
                          note=note)

    def _destination(self, target: Host | Vm | str) -> str:
        if isinstance(target, Vm):
            return target.address
        if isinstance(target, Host):
            if target.lab is not self.lab:
                raise NetnbError(f"{target.name!r} belongs to lab {target.lab.name!r}, not to {self.lab.name!r}")
            return target.address_towards(self)
        if isinstance(target, str):
            try:
                return str(ipaddress.IPv4Address(target))
            except ValueError:
                raise NetnbError(f"a VM pings an IPv4 address, a node or another VM, not {target!r} (its guest "
                                 "resolves no names)") from None
        raise NetnbError(f"a VM pings an IPv4 address, a node or another VM, not {type(target).__name__}")

    def arp(self) -> dict[str, str]:
        """The guest's ARP table as a dict (IP -> MAC); :meth:`neighbours` gives it as a host's is given."""
        return dict(self._ask({"cmd": "arp"}, 5))

    def neighbours(self) -> RecordList[NeighbourEntry]:
        """The guest's ARP table, as ``Host.neighbours()`` shows a node's (its guest keeps only resolved
        entries: state REACHABLE)."""
        if not self.lab.running or not self._control:
            raise LabStateError(f"lab {self.lab.name!r} is not running; start it first")
        return RecordList([NeighbourEntry(ip, mac, "eth0", "REACHABLE") for ip, mac in sorted(self.arp().items())],
                          f"ARP table of VM {self.name}")

    def __repr__(self) -> str:
        return f"<Vm {self.name!r} on {self.host.name}:{self.tap} {self.ip} {self.mac}>"

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        return card(f"VM {self.name} on {self.host.name}", [
            ("address", self.ip), ("gateway", self.gateway or "(none)"), ("MAC", self.mac),
            ("TAP device", f"{self.host.name}:{self.tap}"), ("guest", "running" if self._control else "not started")])


class Internet:
    """The outside world of a lab: its gateway router and a web server (see :meth:`Lab.internet`)."""

    PAGE = "<html><body><h1>Hello from the internet</h1></body></html>\n"

    def __init__(self, router: Router, web: Host) -> None:
        self.router, self.web = router, web
        self.server: Process | None = None

    @property
    def ip(self) -> str:
        """The web server's address."""
        return "203.0.113.80"

    @property
    def url(self) -> str:
        """``http://203.0.113.80/``."""
        return f"http://{self.ip}/"

    def serve(self, lab: Lab) -> None:
        """Start the web server and return once it listens (the lab calls this once it has started)."""
        import tempfile

        root = tempfile.mkdtemp(prefix="www-", dir=lab.folder)
        with open(os.path.join(root, "index.html"), "w") as f:
            f.write(self.PAGE)
        self.server = self.web.popen(["python3", "-m", "http.server", "80", "--bind", self.ip, "--directory", root])
        try:
            self.server.wait_listening(80)
        except NetnbError as exc:
            raise NetnbError(f"the lab's web server did not start: {exc}") from exc

    def __repr__(self) -> str:
        return f"<Internet via {self.router.name!r}, web server {self.url}>"

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        return card("the outside world", [("gateway router", self.router.name), ("web server", f"{self.web.name} {self.url}")],
                    note="a router and a web server inside the lab (203.0.113.0/24 is a documentation range)")
