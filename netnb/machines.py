"""What a lab runs beside its namespaces: VMs on TAP devices, and the outside world's web server.

>>> Internet.PAGE.startswith("<html>")
True
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, Any

from netnb.errors import LabStateError, NetnbError
from netnb.model import PingResult
from netnb.nodes import Host, Process, Router
from netnb.view.table import card

if TYPE_CHECKING:
    from netnb.lab import Lab


class Vm:
    """A VM on a TAP device (see :meth:`Lab.vm`); ``ping`` asks its guest to ping."""

    def __init__(self, lab: Lab, name: str, host: Host, tap: str, mac: str, ip: str, gateway: str | None) -> None:
        self.lab, self.name, self.host, self.tap, self.mac, self.ip, self.gateway = lab, name, host, tap, mac, ip, gateway
        self.process: Process | None = None
        self._control = ""

    def _boot(self, lab: Lab) -> None:
        import tempfile

        folder = tempfile.mkdtemp(prefix=f"netnb-vm-{self.name}-")
        self._control = os.path.join(folder, "control")
        argv = [sys.executable, "-m", "netnb.vm", "--tap", self.tap, "--mac", self.mac, "--ip", self.ip,
                "--control", self._control] + (["--gateway", self.gateway] if self.gateway else [])
        self.process = self.host.popen(argv)
        deadline = time.monotonic() + 10
        while not os.path.exists(self._control):
            if time.monotonic() > deadline or not self.process.running:
                raise NetnbError(f"VM {self.name} did not start: {self.process.output()[-300:]}")
            time.sleep(0.01)
        self.lab._agent().call("wait_ready", {"timeout": 10}, wait=20)  # its TAP now has a carrier

    def _ask(self, request: dict[str, Any], wait: float) -> Any:
        import json
        import socket
        import tempfile

        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            reply_path = os.path.join(tempfile.mkdtemp(prefix="netnb-vmc-"), "r")
            sock.bind(reply_path)
            sock.settimeout(wait)
            sock.sendto(json.dumps(request).encode(), self._control)
            data = sock.recv(65535)
            os.unlink(reply_path)
            os.rmdir(os.path.dirname(reply_path))
        return json.loads(data)

    def ping(self, target: str, count: int = 3, *, timeout: float = 1.0) -> PingResult:
        """Ping from inside the VM (through its gateway when the target is on another network)."""
        if not self.lab.running or not self._control:
            raise LabStateError(f"lab {self.lab.name!r} is not running; start it first")
        got = self._ask({"cmd": "ping", "dst": target, "count": count, "timeout": timeout}, count * (timeout + 1) + 5)
        rtts = got["rtt_ms"]
        return PingResult(target, got["sent"], got["received"], min(rtts) if rtts else None,
                          sum(rtts) / len(rtts) if rtts else None, max(rtts) if rtts else None, source=self.name)

    def arp(self) -> dict[str, str]:
        """The guest's ARP table (IP -> MAC)."""
        return dict(self._ask({"cmd": "arp"}, 5))

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

    def _serve(self, lab: Lab) -> None:
        import tempfile

        root = tempfile.mkdtemp(prefix="netnb-www-")
        os.chmod(root, 0o755)
        with open(os.path.join(root, "index.html"), "w") as f:
            f.write(self.PAGE)
        self.server = self.web.popen(["python3", "-m", "http.server", "80", "--bind", self.ip, "--directory", root])
        probe = "import urllib.request as u; u.urlopen('http://203.0.113.80/', timeout=1)"
        deadline = time.monotonic() + 10
        while not self.web.run(["python3", "-c", probe]).ok:
            if time.monotonic() > deadline:
                raise NetnbError(f"the lab's web server did not start: {self.server.output()[-300:]}")
            time.sleep(0.05)

    def __repr__(self) -> str:
        return f"<Internet via {self.router.name!r}, web server {self.url}>"

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        return card("the outside world", [("gateway router", self.router.name), ("web server", f"{self.web.name} {self.url}")],
                    note="a router and a web server inside the lab (203.0.113.0/24 is a documentation range)")
