"""The notebook side of the kernel backend: starts a lab's agent and talks to it.

Agents are forked by one warm spawner process per notebook process (see
:mod:`netnb.backends.kernel.spawner`), so only the first lab pays for starting Python. Plain blocking calls over a socket, answered on a reader thread: this works the same in a script and
inside a running asyncio loop (a Jupyter cell), where pyroute2's synchronous API would refuse to run.

>>> AgentClient("demo-1").mode in ("root", "rootless")
True
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future
from typing import Any, IO, Literal

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


#: How a lab's agent runs: as root, in a user namespace with the user's own rights, or through sudo.
Mode = Literal["root", "rootless", "sudo"]


def chosen_mode(mode: str | None) -> str:
    """The mode a lab runs in: the one asked for, else ``NETNB_MODE``, else :func:`default_mode`."""
    return mode or os.environ.get("NETNB_MODE") or default_mode()


def default_mode() -> str:
    """``root`` when running as root, ``rootless`` (a user namespace) otherwise."""
    return "root" if os.geteuid() == 0 else "rootless"


class AgentProcess:
    """An agent forked by the spawner: its pid and a pidfd, so waiting and signalling reach exactly it."""

    def __init__(self, pid: int, pidfd: int) -> None:
        self.pid = pid
        self.pidfd = pidfd

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the process has ended; False if it still runs after ``timeout`` seconds."""
        poller = select.poll()
        poller.register(self.pidfd, select.POLLIN)
        return bool(poller.poll(None if timeout is None else int(timeout * 1000)))

    def kill(self) -> None:
        """SIGKILL, through the pidfd (never another process that got the same pid)."""
        try:
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        except ProcessLookupError:
            pass
        except PermissionError:  # sudo mode: a root agent; closing its socket ends it
            pass

    def close(self) -> None:
        os.close(self.pidfd)


def _keep_lines(stream: IO[bytes], into: collections.deque[str], label: str) -> None:
    """Keep the last lines a helper process writes to stderr (echoed too when NETNB_DEBUG is set)."""
    for raw in stream:
        line = raw.decode(errors="replace").rstrip()
        into.append(line)
        if os.environ.get("NETNB_DEBUG"):
            print(f"[{label}] {line}", file=sys.stderr)


def agent_environment() -> dict[str, str]:
    """This process's environment, with netnb's source directory on PYTHONPATH (for ``-m netnb...``)."""
    env = dict(os.environ)
    src = os.path.dirname(os.path.dirname(os.path.abspath(netnb.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    return env


def spawner_command(sudo: bool) -> list[str]:
    """The spawner's command line. Through sudo it runs isolated (``-I``): no PYTHON* variables, no user
    site-packages, and not the current folder on the module path, so a user cannot slip a ``netnb``
    package of their own into a root process; a sudo rule names exactly this command (``netnb doctor``
    prints it)."""
    return [sys.executable, *(["-I"] if sudo else []), "-m", "netnb.backends.kernel.spawner"]


class Spawner:
    """This process's handle on its warm agent factory (:mod:`netnb.backends.kernel.spawner`).

    One per way of starting (directly, or through sudo), started on first use and kept for the life
    of the notebook process: later labs get their agent by fork, in milliseconds.
    """

    _running: dict[bool, Spawner] = {}
    _guard = threading.Lock()

    def __init__(self, sudo: bool) -> None:
        self.sudo = sudo
        self.process: subprocess.Popen[bytes] | None = None
        self.stderr: collections.deque[str] = collections.deque(maxlen=40)
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    @classmethod
    def _forget_after_fork(cls) -> None:
        """In a forked child (e.g. multiprocessing): the parent's spawner is not ours to use; the child
        starts its own when it needs one. Our copies of its sockets are closed, so it still sees EOF
        when the parent ends."""
        for spawner in cls._running.values():
            if spawner._sock is not None:
                spawner._sock.close()
        cls._running = {}
        cls._guard = threading.Lock()

    @classmethod
    def shared(cls, sudo: bool = False) -> Spawner:
        """The running spawner of this process (started if there is none, or if it died)."""
        with cls._guard:
            spawner = cls._running.get(sudo)
            if spawner is None or not spawner.alive():
                spawner = cls._running[sudo] = cls(sudo)
                spawner.start()
            return spawner

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        argv = spawner_command(self.sudo)
        if self.sudo:
            if shutil.which("sudo") is None:
                raise PrivilegeError("mode 'sudo' needs the sudo command; install it or use mode='rootless'")
            argv = ["sudo", "-n", "--", *argv]
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.process = subprocess.Popen(argv, stdin=theirs.fileno(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                            env=agent_environment(), close_fds=True, start_new_session=True)
        except OSError as exc:
            ours.close()
            raise AgentError(f"cannot start netnb's agent spawner ({argv[0]}): {exc.strerror}") from exc
        finally:
            theirs.close()
        self._sock = ours
        threading.Thread(target=self._read_stderr, name="netnb-spawner-stderr", daemon=True).start()

    def _read_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        _keep_lines(self.process.stderr, self.stderr, "netnb spawner")

    def spawn(self, *, rootless: bool, channel: socket.socket, stderr_fd: int, wait: float = 30.0) -> AgentProcess:
        """Fork an agent that serves ``channel`` and writes its errors to ``stderr_fd``.

        The agent gets this process's environment as it is now, except through sudo (root must not
        take a user's environment, e.g. LD_PRELOAD)."""
        request: dict[str, Any] = {"rootless": rootless}
        if not self.sudo:
            request["env"] = agent_environment()
        data, fds = self._ask(request, [channel.fileno(), stderr_fd], wait)
        answer = json.loads(data)
        if "error" in answer or len(fds) != 1:
            for fd in fds:
                os.close(fd)
            raise AgentError(f"netnb's agent spawner could not start an agent: {answer.get('error')}")
        return AgentProcess(int(answer["pid"]), fds[0])

    def wait_ready(self, wait: float = 60.0) -> None:
        """Return once the spawner has loaded everything an agent uses."""
        self._ask({"op": "ready"}, [], wait)

    def _ask(self, request: dict[str, Any], fds: list[int], wait: float) -> tuple[bytes, list[int]]:
        assert self._sock is not None
        with self._lock:
            try:
                socket.send_fds(self._sock, [json.dumps(request).encode()], fds)
                self._sock.settimeout(wait)
                data, fds, _, _ = socket.recv_fds(self._sock, 4096, 1)
            except (OSError, TimeoutError) as exc:
                message = self._failure(f"{type(exc).__name__}: {exc}")
                self.stop()
                raise AgentError(message) from exc
            if not data:
                message = self._failure("it stopped")
                self.stop()
                raise AgentError(message)
        return data, fds

    def stop(self) -> None:
        """Close the spawner (running agents are not affected)."""
        if self._sock is not None:
            self._sock.close()
        if self.process is not None:
            try:
                self.process.wait(2)  # it exits on EOF
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def _failure(self, what: str) -> str:
        if self.process is not None:
            try:
                self.process.wait(1)
            except subprocess.TimeoutExpired:
                pass
        tail = "\n".join(list(self.stderr)[-8:])
        hint = ""
        if self.sudo and any("password" in line for line in self.stderr):
            hint = " (sudo asked for a password: add a NOPASSWD rule for the spawner command, see the README or `netnb doctor`)"
        return f"netnb's agent spawner failed ({what}){hint}" + (f"; it said:\n{tail}" if tail else "")


os.register_at_fork(after_in_child=Spawner._forget_after_fork)


def prepare(mode: str | None = None) -> float:
    """Start this process's agent spawner now and wait until it is loaded, so the first lab starts as
    fast as later ones (``require_labs()`` calls it). Returns the seconds it took; later calls are free.
    Example: ``netnb.prepare()`` in a notebook's first cell (a test does it: starting a process here
    would start one whenever the doctests are collected).
    """
    start = time.perf_counter()
    mode = chosen_mode(mode)
    _check_mode(mode)
    Spawner.shared(sudo=mode == "sudo").wait_ready()
    return time.perf_counter() - start


def _check_mode(mode: str) -> None:
    """Refuse a mode this process cannot use, saying what to do instead."""
    if mode == "root":
        if os.geteuid() != 0:
            raise PrivilegeError("mode 'root' needs this process to run as root; use mode='rootless'")
    elif mode == "rootless":
        if os.geteuid() != 0 and not userns_allowed():
            raise PrivilegeError(
                "this kernel does not allow unprivileged user namespaces, so a rootless lab cannot run; "
                "run as root, or use mode='sudo' with a sudo rule for netnb (see `netnb doctor`)"
            )
    elif mode != "sudo":
        raise PrivilegeError(f"unknown mode {mode!r}; use 'root', 'rootless' or 'sudo'")


_ENDED = "netnb agent ended:"  # the relay's last line (see agent.run)


class AgentClient:
    """Talks to one lab's agent process. Creating it starts nothing; :meth:`start` does."""

    def __init__(self, lab_id: str, mode: str | None = None, lab_name: str = "") -> None:
        self.lab_id = lab_id
        self.lab_name = lab_name or lab_id
        self.mode = chosen_mode(mode)
        self.process: AgentProcess | None = None
        self.record: registry.LabRecord | None = None
        #: The lab's private folder (0700) while it runs: its files go here, and go with it.
        self.folder = ""
        self._sock: socket.socket | None = None
        self._pending: dict[int, Future[Any]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._stderr: collections.deque[str] = collections.deque(maxlen=40)
        self._dead = False

    # -- lifetime ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start the agent (forked by this process's spawner) and wait until it answers."""
        _check_mode(self.mode)
        spawner = Spawner.shared(sudo=self.mode == "sudo")
        me = os.getpid()
        me_start = registry.process_start_time(me) or 0
        try:
            self.folder = registry.make_lab_folder(me, me_start)
            os.mkdir(os.path.join(self.folder, "proc"), 0o700)  # the agent's process logs (files it writes)
        except OSError as exc:
            registry.remove_lab_folder(self.folder)
            raise AgentError(f"cannot make the lab's folder in {tempfile.gettempdir()} ({exc.strerror}); "
                             "set TMPDIR to a folder you can write") from exc
        ours, theirs = socket.socketpair()
        err_read, err_write = os.pipe()
        try:
            self.process = spawner.spawn(rootless=self.mode == "rootless", channel=theirs, stderr_fd=err_write)
        except BaseException:
            ours.close()
            os.close(err_read)
            registry.remove_lab_folder(self.folder)
            raise
        finally:
            theirs.close()
            os.close(err_write)
        self._sock = ours
        threading.Thread(target=self._read_replies, name=f"netnb-agent-{self.lab_id}", daemon=True).start()
        self._stderr_thread = threading.Thread(target=self._read_stderr, args=(err_read,), daemon=True)
        self._stderr_thread.start()
        try:
            self.call("hello", {"logdir": os.path.join(self.folder, "proc"), "folder": self.folder}, wait=30)
            start = registry.process_start_time(self.process.pid) or 0
            record = registry.LabRecord(self.lab_name, self.lab_id, me, me_start, self.process.pid, start,
                                        os.getuid(), self.mode, time.time(), self.folder)
            record.write()
            self.record = record
        except BaseException as exc:  # nothing may stay running: not the agent, not its lab
            self._reap()
            if isinstance(exc, OSError):
                raise AgentError(f"could not write the lab's ownership record ({exc.strerror}: "
                                 f"{exc.filename}); the agent was stopped and nothing was built. "
                                 "`netnb doctor` shows where records go") from exc
            raise

    def _read_replies(self) -> None:
        assert self._sock is not None
        try:
            for line in self._sock.makefile("rb"):
                self._answer(line)
        except OSError:  # reset by a killed agent: the same as its end of the socket closing
            pass
        self._dead = True
        with self._lock:
            pending, self._pending = self._pending, {}
        for fut in pending.values():
            fut.set_exception(AgentError(self._death_message()))

    def _answer(self, line: bytes) -> None:
        message = protocol.decode(line)
        with self._lock:
            fut = self._pending.pop(int(message.get("id") or 0), None)
        if fut is None:
            return
        if message.get("ok"):
            fut.set_result(message.get("result"))
        else:
            fut.set_exception(protocol.error_from_dict(message.get("error") or {}))

    def _read_stderr(self, fd: int) -> None:
        with open(fd, "rb") as stream:
            _keep_lines(stream, self._stderr, "netnb agent")

    def _death_message(self) -> str:
        thread = getattr(self, "_stderr_thread", None)
        if thread is not None and thread is not threading.current_thread():
            thread.join(1.0)  # its last words (the relay reports how the lab's PID 1 ended) arrive just after
        lines = list(self._stderr)
        ended = next((line for line in reversed(lines) if line.startswith(_ENDED)), "")
        tail = "\n".join(line for line in lines[-8:] if line != ended)
        why = ended[len(_ENDED):].strip() if ended else \
            "it ended without saying why (killed with its relay, or its machine ran out of memory)"
        return f"the lab agent stopped: {why}" + (f"; its last messages:\n{tail}" if tail else "")

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
        if not proc.wait(5):
            proc.kill()  # the relay we started; its death takes the lab along
            proc.wait()
        proc.close()
        registry.remove_lab_folder(self.folder)  # the agent is gone: nothing writes there any more
        if self.record is not None:
            self.record.remove()
        self.process = None
        self._dead = True
