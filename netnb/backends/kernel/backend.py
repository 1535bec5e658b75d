"""The kernel backend: the Backend contract carried out on real Linux namespaces by a per-lab agent.

Each request goes to the lab's agent (:mod:`netnb.backends.kernel.client`); answers come back as the
model's typed records.

>>> KernelBackend("rootless").running
False
"""

from __future__ import annotations

import base64
import itertools
import os
from collections.abc import Sequence
from typing import Any

from netnb.backends.contract import CaptureStats, Command
from netnb.backends.kernel.client import AgentClient, Mode, chosen_mode
from netnb.errors import LabStateError, NetnbError, PrivilegeError
from netnb.model.state import (
    CapturePoint,
    CommandResult,
    FdbEntry,
    InterfaceState,
    NeighbourEntry,
    Nexthop,
    ProcessEnd,
    ProcessState,
    RouteEntry,
    RouteLookup,
    SocketEntry,
)
from netnb.plan import AddTap, Operation

_lab_ids = itertools.count(1)
_WAIT = 60.0


class KernelBackend:
    """Real namespaces, built by an agent process per lab (``mode``: root, rootless or sudo; None picks)."""

    name = "kernel"

    def __init__(self, mode: Mode | None = None) -> None:
        self.mode = mode
        self._client: AgentClient | None = None
        self._commands: dict[int, Command] = {}

    # -- lifetime -------------------------------------------------------------------------------
    def _agent(self) -> AgentClient:
        if self._client is None:
            raise LabStateError("the lab is not running; start it first (lab.start() or `with lab:`)")
        return self._client

    def check(self, operations: Sequence[Operation]) -> None:
        if chosen_mode(self.mode) == "rootless" and any(isinstance(op, AddTap) for op in operations):
            from netnb.environment import tap_refusal

            refusal = tap_refusal(root=False)
            if refusal:
                raise PrivilegeError(f"this lab has TAP devices (VMs), which a rootless lab cannot make here: "
                                     f"{refusal}. Nothing was built.")

    def start(self, lab_name: str) -> None:
        client = AgentClient(f"{lab_name}-{os.getpid()}-{next(_lab_ids)}", self.mode, lab_name=lab_name)
        client.start()
        self._client = client

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    @property
    def running(self) -> bool:
        return self._client is not None

    @property
    def folder(self) -> str:
        return self._client.folder if self._client is not None else ""

    @property
    def pid(self) -> int | None:
        client = self._client
        return client.process.pid if client is not None and client.process is not None else None

    def _call(self, method: str, wait: float | None = _WAIT, **params: Any) -> Any:
        return self._agent().call(method, params, wait=wait)

    # -- building -------------------------------------------------------------------------------
    def apply(self, operations: Sequence[Operation]) -> float:
        return float(self._call("apply", None, ops=[op.to_dict() for op in operations])["seconds"])

    def undo(self, operations: Sequence[Operation]) -> None:
        self._call("teardown", None, ops=[op.to_dict() for op in operations])

    def wait_ready(self, timeout: float, ipv6: bool = False) -> float:
        return float(self._call("wait_ready", timeout + 10, timeout=timeout, ipv6=ipv6)["waited_s"])

    # -- running --------------------------------------------------------------------------------
    def run(self, node: str, command: Command, timeout: float | None, stdin: str | None) -> CommandResult:
        argv = command if isinstance(command, str) else list(command)
        raw = self._call("run", None if timeout is None else timeout + 10, node=node, command=argv,
                         timeout=timeout, stdin=stdin)
        text = command if isinstance(command, str) else " ".join(command)
        return CommandResult(node, text, raw["rc"], raw["stdout"], raw["stderr"], raw["duration_s"])

    def popen(self, node: str, command: Command) -> tuple[int, int]:
        raw = self._call("popen", node=node, command=command if isinstance(command, str) else list(command))
        handle = int(raw["handle"])
        self._commands[handle] = command if isinstance(command, str) else list(command)
        return int(raw["pid"]), handle

    def request(self, handle: int, message: dict[str, Any], timeout: float) -> Any:
        """A JSON datagram to the control socket the program named with ``--control``, and its answer."""
        argv = self._commands.get(handle)
        if not isinstance(argv, list) or "--control" not in argv[:-1]:
            raise NetnbError(f"background process {handle} serves no requests (it was not started with --control)")
        return control_request(argv[argv.index("--control") + 1], message, timeout)

    def write_files(self, node: str, files: Sequence[tuple[str, bytes | None, int]]) -> None:
        self._call("write_files", node=node,
                   files=[[path, None if data is None else base64.b64encode(data).decode(), mode]
                          for path, data, mode in files])

    def read_file(self, node: str, path: str) -> bytes:
        return base64.b64decode(self._call("read_file", node=node, path=path))

    def share(self, node: str, name: str, at: str) -> None:
        self._call("share", node=node, name=name, at=at)

    def process_state(self, handle: int) -> ProcessState:
        raw = self._call("proc_status", handle=handle)
        return ProcessState(bool(raw["running"]), raw["rc"])

    def process_output(self, handle: int) -> str:
        return str(self._call("proc_output", handle=handle))

    def process_stop(self, handle: int, timeout: float) -> ProcessEnd:
        raw = self._call("proc_stop", handle=handle, timeout=timeout)
        return ProcessEnd(raw["rc"], raw["output"])

    # -- reading back ---------------------------------------------------------------------------
    def interfaces(self, node: str) -> list[InterfaceState]:
        return [_interface(d) for d in self._call("links", node=node)]

    def all_interfaces(self) -> dict[str, list[InterfaceState]]:
        return {node: [_interface(d) for d in links] for node, links in self._call("all_links").items()}

    def routes(self, node: str) -> list[RouteEntry]:
        return [RouteEntry(**{**d, "nexthops": tuple(Nexthop(h["via"], h["dev"], h["weight"], tuple(h["flags"]))
                                                     for h in d.get("nexthops", ()))})
                for d in self._call("routes", node=node)]

    def neighbours(self, node: str) -> list[NeighbourEntry]:
        return [NeighbourEntry(**d) for d in self._call("neighbours", node=node)]

    def fdb(self, node: str, bridge: str) -> list[FdbEntry]:
        return [FdbEntry(**d) for d in self._call("fdb", node=node, bridge=bridge)]

    def listening(self, node: str) -> list[SocketEntry]:
        return [SocketEntry(**d) for d in self._call("listening", node=node)]

    def route_get(self, node: str, dest: str) -> RouteLookup:
        return RouteLookup(**self._call("route_get", node=node, dest=dest))

    def firewall(self, node: str, argv: Sequence[str]) -> str:
        return str(self._call("iptables", node=node, argv=list(argv)))

    def namespace_inodes(self) -> dict[str, int]:
        return dict(self._call("inodes", 30))

    # -- packets --------------------------------------------------------------------------------
    def send(self, node: str, frame: bytes, *, ifname: str | None = None, dest: str | None = None,
             count: int = 1) -> None:
        params: dict[str, Any] = {"node": node, "data": frame.hex(), "count": count}
        if ifname:
            params["ifname"] = ifname
        else:
            params["dest"] = dest
        self._call("send", **params)

    def capture_start(self, points: Sequence[CapturePoint], filter: str | None,
                      directory: str, ring_mib: int) -> tuple[int, list[str]]:
        # The kernel runs the filter on its capture sockets: compiled by libpcap, exactly as tcpdump's.
        from netnb.capture.bpf import BpfProgram

        code = BpfProgram(filter).instructions if filter else None
        reply = self._call("capture_start", points=[{"node": p.node, "ifname": p.ifname, "label": p.label}
                                                    for p in points],
                           filter_code=code,
                           directory=directory, ring_mib=ring_mib)
        return int(reply["id"]), list(reply["paths"])

    def capture_stats(self, ident: int) -> CaptureStats:
        return dict(self._call("capture_stats", 30, ident=ident)["points"])

    def capture_stop(self, ident: int) -> tuple[CaptureStats, str | None]:
        reply = self._call("capture_stop", ident=ident)
        return dict(reply["points"]), reply.get("error")

    # -- kernel only ----------------------------------------------------------------------------
    def probe(self) -> dict[str, Any]:
        """What the running kernel allows (device kinds, features), tried in a scratch namespace."""
        return dict(self._call("probe"))


def _interface(d: dict[str, Any]) -> InterfaceState:
    return InterfaceState(**{**d, "addresses": tuple(d["addresses"])})


def control_request(control: str, message: dict[str, Any], timeout: float) -> Any:
    """Send ``message`` as a JSON datagram to the Unix socket ``control`` and wait for the answer (from a
    reply socket of our own beside it, removed afterwards)."""
    import json
    import socket
    import tempfile

    folder = tempfile.mkdtemp(prefix="reply-", dir=os.path.dirname(control))
    reply_path = os.path.join(folder, "r")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(reply_path)
            sock.settimeout(timeout)
            sock.sendto(json.dumps(message).encode(), control)
            data = sock.recv(65535)
    except OSError as exc:
        raise NetnbError(f"the program serving {control} did not answer: {exc}") from exc
    finally:
        if os.path.exists(reply_path):
            os.unlink(reply_path)
        os.rmdir(folder)
    return json.loads(data)
