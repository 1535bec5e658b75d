"""A container: a network namespace on a Docker host running a command, with the hostname and
``/etc/hosts`` Docker gives it (images and filesystems are out of scope)."""

from __future__ import annotations

import ipaddress
import shlex
import time
from typing import TYPE_CHECKING, Any

from netnb.docker.networks import Endpoint, docker_id
from netnb.model import NodeKind, NodeSpec
from netnb.nodes import Host, Process
from netnb.plan import Operation
from netnb.view.table import card

if TYPE_CHECKING:
    from netnb.docker.host import DockerHost

class Container(Host):
    """A container: a network namespace on a Docker host running a command."""

    def __init__(self, host: DockerHost, name: str, image: str, command: str | list[str], seq: int) -> None:
        super().__init__(host.lab, NodeSpec(f"{host.name}/{name}", NodeKind.HOST, role="container"))
        self.docker_host = host
        self.container_name = name
        self.image = image
        self.command = command
        self.id = docker_id(host.lab.name, host.name, name, str(seq))
        self.endpoints: dict[str, Endpoint] = {}
        self.ports: list[tuple[int, int, str]] = []            # (host port, container port, proto)
        self.exposed: list[int] = []
        self.process: Process | None = None
        self.proxies: list[Process] = []
        self.created = time.time()
        self.base_ops: list[Operation] = []
        self.port_ops: list[Operation] = []
        self.hosts_file = ""
        self.null = False
        self.publish_all = False

    # -- addresses --------------------------------------------------------------------------
    @property
    def ip(self) -> str | None:
        """Address on its first network, or None (the null driver) as ``Host.ip`` says it; ``docker inspect``
        gives Docker's ``""`` there."""
        first = next(iter(self.endpoints.values()), None)
        return str(first.ip) if first else None

    @property
    def addresses(self) -> list[ipaddress.IPv4Interface]:
        return [ipaddress.IPv4Interface(f"{e.ip}/{e.network.subnet.prefixlen}") for e in self.endpoints.values()
                if e.network.subnet is not None]

    # -- commands run inside the container, with its hostname and /etc/hosts ----------------------
    def _wrap(self, command: str | list[str]) -> list[str]:
        argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
        setup = 'hostname "$1" && mount --bind "$2" /etc/hosts && shift 2 && exec "$@"'
        return ["unshare", "--mount", "--uts", "--propagation", "private", "/bin/sh", "-c", setup, "sh",
                self.id[:12], self.hosts_file, *argv]

    def run(self, command: str | list[str], *, timeout: float | None = 60, check: bool = False,
            stdin: str | None = None) -> Any:
        """Run a command in the container (like ``docker exec``)."""
        result = super().run(self._wrap(command), timeout=timeout, check=check, stdin=stdin)
        text = command if isinstance(command, str) else shlex.join(command)
        return type(result)(result.node, text, result.rc, result.stdout, result.stderr, result.duration_s)

    def popen(self, command: str | list[str]) -> Process:
        """Start a command in the container in the background."""
        proc = super().popen(self._wrap(command))
        proc.command = command if isinstance(command, str) else shlex.join(command)
        return proc

    def _resolves_names(self) -> bool:
        return True  # its own /etc/hosts names the containers of its user-defined networks

    @property
    def running(self) -> bool:
        """Whether its main command still runs."""
        return self.process is not None and self.process.running

    def __repr__(self) -> str:
        return f"<Container {self.container_name!r} {self.id[:12]} on {self.docker_host.name!r} ip={self.ip or '-'}>"

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        fields = [("id", self.id[:12]), ("image", self.image),
                  ("command", self.command if isinstance(self.command, str) else shlex.join(self.command))]
        fields += [(f"network {e.network.name}", f"{e.ifname} {e.ip} {e.mac} (host end {e.host_veth})")
                   for e in self.endpoints.values()] or [("network none", "only lo")]
        fields += [("published", ", ".join(f"0.0.0.0:{hp}->{cp}/{proto}" for hp, cp, proto in self.ports))] \
            if self.ports else []
        return card(f"container {self.container_name} on {self.docker_host.name}", fields)
