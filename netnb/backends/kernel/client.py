"""The notebook side of the kernel backend: starts a lab's agent and talks to it.

Plain blocking calls over a socket, answered on a reader thread: this works the same in a script and
inside a running asyncio loop (a Jupyter cell), where pyroute2's synchronous API would refuse to run.

>>> AgentClient("demo-1").mode in ("root", "rootless")
True
"""

from __future__ import annotations

import collections
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from typing import Any

import netnb
from netnb.backends.kernel import protocol, registry
from netnb.errors import AgentError, PrivilegeError


def userns_allowed() -> bool:
    """Whether an unprivileged user may create user namespaces here (Debian's sysctl, if present)."""
    try:
        with open("/proc/sys/kernel/unprivileged_userns_clone") as f:
            if f.read().strip() == "0":
                return False
    except OSError:
        pass
    try:
        with open("/proc/sys/user/max_user_namespaces") as f:
            return int(f.read()) > 0
    except (OSError, ValueError):
        return True


def default_mode() -> str:
    """``root`` when running as root, ``rootless`` (a user namespace) otherwise."""
    return "root" if os.geteuid() == 0 else "rootless"


class AgentClient:
    """Talks to one lab's agent process. Creating it starts nothing; :meth:`start` does."""

    def __init__(self, lab_id: str, mode: str | None = None, lab_name: str = "") -> None:
        self.lab_id = lab_id
        self.lab_name = lab_name or lab_id
        self.mode = mode or os.environ.get("NETNB_MODE") or default_mode()
        self.process: subprocess.Popen[bytes] | None = None
        self.record: registry.LabRecord | None = None
        self._sock: socket.socket | None = None
        self._pending: dict[int, Future[Any]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._stderr: collections.deque[str] = collections.deque(maxlen=40)
        self._dead = False

    # -- lifetime ---------------------------------------------------------------------------
    def _command(self) -> list[str]:
        base = [sys.executable, "-m", "netnb.backends.kernel.agent", "--lab-id", self.lab_id]
        if self.mode == "root":
            if os.geteuid() != 0:
                raise PrivilegeError("mode 'root' needs this process to run as root; use mode='rootless'")
            return base
        if self.mode == "rootless":
            if os.geteuid() == 0:
                return base  # root needs no user namespace
            if not userns_allowed():
                raise PrivilegeError(
                    "this kernel does not allow unprivileged user namespaces, so a rootless lab cannot run; "
                    "run as root, or use mode='sudo' with a sudo rule for netnb (see `netnb doctor`)"
                )
            return [*base, "--rootless", "--uid", str(os.getuid()), "--gid", str(os.getgid())]
        if self.mode == "sudo":
            if shutil.which("sudo") is None:
                raise PrivilegeError("mode 'sudo' needs the sudo command; install it or use mode='rootless'")
            return ["sudo", "-n", "--", *base]
        raise PrivilegeError(f"unknown mode {self.mode!r}; use 'root', 'rootless' or 'sudo'")

    def start(self) -> None:
        """Start the agent and wait until it answers."""
        argv = self._command()
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        src = os.path.dirname(os.path.dirname(os.path.abspath(netnb.__file__)))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
        try:
            self.process = subprocess.Popen(argv, stdin=theirs, stdout=theirs, stderr=subprocess.PIPE, env=env,
                                            close_fds=True, start_new_session=True)
        except OSError as exc:
            ours.close()
            raise AgentError(f"cannot start the lab agent ({argv[0]}): {exc.strerror}") from exc
        finally:
            theirs.close()
        self._sock = ours
        threading.Thread(target=self._read_replies, name=f"netnb-agent-{self.lab_id}", daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        try:
            self.call("hello", wait=30)
        except AgentError:
            self._reap()
            raise
        start = registry.process_start_time(self.process.pid) or 0
        me = os.getpid()
        self.record = registry.LabRecord(self.lab_name, self.lab_id, me, registry.process_start_time(me) or 0,
                                         self.process.pid, start, os.getuid(), self.mode, time.time())
        self.record.write()

    def _read_replies(self) -> None:
        assert self._sock is not None
        for line in self._sock.makefile("rb"):
            message = protocol.decode(line)
            with self._lock:
                fut = self._pending.pop(message.get("id"), None)
            if fut is None:
                continue
            if message.get("ok"):
                fut.set_result(message.get("result"))
            else:
                fut.set_exception(protocol.error_from_dict(message.get("error") or {}))
        self._dead = True
        with self._lock:
            pending, self._pending = self._pending, {}
        for fut in pending.values():
            fut.set_exception(AgentError(self._death_message()))

    def _read_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        for raw in self.process.stderr:
            line = raw.decode(errors="replace").rstrip()
            self._stderr.append(line)
            if os.environ.get("NETNB_DEBUG"):
                print(f"[netnb agent] {line}", file=sys.stderr)

    def _death_message(self) -> str:
        tail = "\n".join(list(self._stderr)[-8:])
        hint = ""
        if self.mode == "sudo" and any("password" in line for line in self._stderr):
            hint = " (sudo asked for a password: add a NOPASSWD rule for netnb's agent, see the README)"
        return f"the lab agent stopped{hint}" + (f"; it said:\n{tail}" if tail else "")

    def call(self, method: str, params: dict[str, Any] | None = None, *, wait: float | None = None) -> Any:
        """Send one request and wait up to ``wait`` seconds for its answer (errors: NetnbError subclasses)."""
        if self._sock is None or self._dead:
            raise AgentError("the lab agent is not running; start the lab first" if self._sock is None
                             else self._death_message())
        fut: Future[Any] = Future()
        with self._lock:
            rid = next(self._ids)
            self._pending[rid] = fut
        try:
            self._sock.sendall(protocol.encode({"id": rid, "method": method, "params": params or {}}))
        except OSError as exc:
            with self._lock:
                self._pending.pop(rid, None)
            raise AgentError(self._death_message()) from exc
        try:
            return fut.result(wait)
        except TimeoutError:
            if fut.done():
                raise  # the agent's own answer (e.g. CommandTimeout), not our wait running out
            raise AgentError(f"the lab agent did not answer {method!r} within {wait} s") from None

    def close(self, timeout: float = 30.0) -> None:
        """Ask the agent to stop everything, then make sure its process is gone."""
        if self.process is None:
            return
        try:
            if not self._dead:
                self.call("shutdown", wait=timeout)
        except AgentError:
            pass
        finally:
            self._reap()

    def _reap(self) -> None:
        proc = self.process
        if proc is None:
            return
        if self._sock is not None:
            self._sock.close()  # EOF: the agent exits even if it did not get the request
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)  # the relay we started; its death takes the lab along
            proc.wait()
        if self.record is not None:
            self.record.remove()
        self.process = None
        self._dead = True
