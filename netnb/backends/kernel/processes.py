"""Commands and background processes inside a node's namespace.

A thread enters the node's namespace just long enough to fork: the child inherits the namespace of
the thread that forked it, so no ``nsenter``/``ip netns exec`` process is needed. Each command gets its
own session (process group) so a timeout or ``stop()`` ends everything it started, and nothing else.

Like ``ip netns exec``, commands also see a ``/sys`` of their node: ``ls /sys/class/net`` lists the
node's interfaces, not the machine's. Each node gets, on its first command, a mount namespace (a copy
of the agent's private one) with sysfs mounted from inside the node's network namespace and the node's
own view of the files (:mod:`netnb.backends.kernel.views`), and a UTS namespace with its own hostname.
"""

from __future__ import annotations

import itertools
import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any

from netnb.backends.kernel import nsutil, views
from netnb.errors import CommandTimeout, NetnbError

_SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def command_env() -> dict[str, str]:
    """The agent's environment with the system's sbin directories on PATH (ip, iptables, tcpdump)."""
    env = dict(os.environ)
    parts = env.get("PATH", "").split(":")
    env["PATH"] = ":".join([p for p in parts if p] + [p for p in _SYSTEM_PATH.split(":") if p not in parts])
    return env


def argv_of(command: str | list[str]) -> list[str]:
    """A shell string runs under ``/bin/sh -c``; a list runs as it is."""
    return ["/bin/sh", "-c", command] if isinstance(command, str) else [str(a) for a in command]


def _communicate(proc: subprocess.Popen[bytes], data: bytes | None, timeout: float | None) -> tuple[bytes, bytes]:
    """Like ``Popen.communicate``, but done when the command itself exits, not when its pipes close: in
    ``sleep 1000 & echo x`` the background job keeps stdout open, and a terminal would show the prompt
    again at once. What the pipes hold when the command exits is read; the job goes on in the node.
    (Hand-written because ``communicate`` waits for end-of-file on every pipe.)"""
    deadline = None if timeout is None else time.monotonic() + timeout
    chunks: dict[int, list[bytes]] = {}
    with selectors.DefaultSelector() as sel:
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                os.set_blocking(pipe.fileno(), False)
                sel.register(pipe.fileno(), selectors.EVENT_READ)
                chunks[pipe.fileno()] = []
        pending = memoryview(data or b"")
        stdin_fd = -1
        if proc.stdin is not None:
            if data:
                stdin_fd = proc.stdin.fileno()
                os.set_blocking(stdin_fd, False)
                sel.register(stdin_fd, selectors.EVENT_WRITE)
            else:
                proc.stdin.close()
        exited = False
        drained_by = 0.0
        while sel.get_map():
            if exited:
                wait = 0.0  # drain only what is there now
            elif deadline is None:
                wait = 0.05
            else:
                wait = min(0.05, deadline - time.monotonic())
                if wait <= 0:
                    raise subprocess.TimeoutExpired(proc.args, timeout or 0)
            events = sel.select(wait)
            for key, _ in events:
                fd = key.fd
                if fd == stdin_fd:
                    try:
                        pending = pending[os.write(fd, pending):]
                    except BrokenPipeError:
                        pending = pending[:0]
                    if not pending:
                        sel.unregister(fd)
                        assert proc.stdin is not None
                        proc.stdin.close()
                        stdin_fd = -1
                    continue
                block = os.read(fd, 65536)
                if block:
                    chunks[fd].append(block)
                else:
                    sel.unregister(fd)
            if exited and (not events or time.monotonic() > drained_by):
                break  # (a background job that writes without end must not hold us either)
            if not exited and proc.poll() is not None:
                exited = True
                drained_by = time.monotonic() + 0.5
    proc.wait()
    parts = [b"".join(chunks.get(p.fileno(), [])) if p is not None else b"" for p in (proc.stdout, proc.stderr)]
    return parts[0], parts[1]


@dataclass
class Background:
    """A process started with ``popen``: its Popen, node, command and log file."""

    handle: int
    node: str
    command: str
    popen: subprocess.Popen[bytes]
    log_path: str


class Processes:
    """Runs commands in namespaces and keeps track of every background process it started."""

    def __init__(self, home_fd: int) -> None:
        self.home = home_fd
        self.home_mounts = os.open("/proc/thread-self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        self.home_uts = os.open("/proc/thread-self/ns/uts", os.O_RDONLY | os.O_CLOEXEC)
        #: node -> its mount namespace (its /sys, its own view of the files) and UTS namespace (its hostname)
        self.views: dict[str, tuple[int, int]] = {}
        #: The lab's folder (set by the client's hello): bound into every node, shared with the notebook.
        self.folder = ""
        self.env = command_env()
        #: Where background processes' output goes: the lab's folder (set by the client's hello).
        self.logdir = ""
        self._own_folder = False
        self._view_ids = itertools.count(1)
        #: node -> the shared folders it sees: (folder in the lab's folder, where in the node)
        self.binds: dict[str, list[tuple[str, str]]] = {}
        self.background: dict[int, Background] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def _spawn(self, node: str, ns_fd: int, argv: list[str], **kw: Any) -> subprocess.Popen[bytes]:
        # Child processes inherit the forking thread's namespaces; see the module docstring.
        nsutil.unshare(nsutil.CLONE_FS)  # this thread only: lets it change mount namespace
        mounts, uts = self._view_of(node, ns_fd)
        with nsutil.inside(ns_fd, self.home), nsutil.inside(mounts, self.home_mounts, nsutil.CLONE_NEWNS), \
                nsutil.inside(uts, self.home_uts, nsutil.CLONE_NEWUTS):
            return subprocess.Popen(argv, env=self.env, start_new_session=True, close_fds=True, **kw)

    def _view_of(self, node: str, ns_fd: int) -> tuple[int, int]:
        """The node's mount and UTS namespaces, made on first use."""
        with self._lock:
            if node not in self.views:
                folder = self._folder()
                store = os.path.join(folder, "views", str(next(self._view_ids)))
                os.makedirs(store, 0o700)
                owner = os.stat(folder)  # its owner removes the lab folder (sudo mode: not this root agent)
                for path in (os.path.dirname(store), store):
                    os.chown(path, owner.st_uid, owner.st_gid)
                self.views[node] = _node_view(node, ns_fd, (self.home, self.home_mounts, self.home_uts), store,
                                              self.folder, self.binds.get(node, []))
            return self.views[node]

    def share(self, node: str, ns_fd: int, name: str, at: str) -> None:
        """Let ``node`` see the lab's shared folder ``name`` (``shares/NAME`` in the lab's folder) at ``at``:
        at once if its view exists, else when it is made."""
        folder = os.path.join(self._folder(), "shares", name)
        with self._lock:
            if not os.path.isdir(folder):
                os.makedirs(folder, 0o755)
                owner = os.stat(self.folder)  # the notebook's user reads it (sudo mode: not this root agent)
                for path in (os.path.dirname(folder), folder):
                    os.chown(path, owner.st_uid, owner.st_gid)
            self.binds.setdefault(node, []).append((folder, at))
            made = node in self.views
        if made:
            nsutil.unshare(nsutil.CLONE_FS)
            mounts, _ = self._view_of(node, ns_fd)
            with nsutil.inside(mounts, self.home_mounts, nsutil.CLONE_NEWNS):
                views.bind_folder(folder, at)

    def _folder(self) -> str:
        """The lab's folder, or (an agent driven without one) a temporary folder of the agent's own."""
        if not self.folder:
            self.folder = tempfile.mkdtemp(prefix="netnb-agent-")
            self.logdir = self.logdir or os.path.join(self.folder, "proc")
            os.makedirs(self.logdir, 0o700, exist_ok=True)
            self._own_folder = True
        return self.folder

    def write_files(self, node: str, ns_fd: int, files: list[tuple[str, bytes | None, int]]) -> None:
        """Write files into ``node``'s own view (see :mod:`views`), in order."""
        nsutil.unshare(nsutil.CLONE_FS)
        mounts, _ = self._view_of(node, ns_fd)
        with nsutil.inside(mounts, self.home_mounts, nsutil.CLONE_NEWNS):
            for path, data, mode in files:
                try:
                    views.write_file(path, data, mode)
                except OSError as exc:
                    raise NetnbError(f"cannot write {path} in node {node!r}: {exc.strerror}") from exc

    def read_file(self, node: str, ns_fd: int, path: str) -> bytes:
        """A file as ``node`` sees it."""
        nsutil.unshare(nsutil.CLONE_FS)
        mounts, _ = self._view_of(node, ns_fd)
        with nsutil.inside(mounts, self.home_mounts, nsutil.CLONE_NEWNS):
            try:
                return views.read_file(path)
            except OSError as exc:
                raise NetnbError(f"cannot read {path} in node {node!r}: {exc.strerror}") from exc

    def run(self, node: str, ns_fd: int, command: str | list[str], timeout: float | None,
            stdin: str | None) -> dict[str, Any]:
        """Run to completion; on timeout kill the command's process group and raise CommandTimeout."""
        argv = argv_of(command)
        start = time.monotonic()
        try:
            proc = self._spawn(node, ns_fd, argv, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            raise NetnbError(f"cannot start {argv[0]!r} in node {node!r}: {exc.strerror}; is it installed?") from exc
        try:
            out, err = _communicate(proc, stdin.encode() if stdin is not None else None, timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.wait()
            raise CommandTimeout(
                f"{command!r} in node {node!r} did not finish within {timeout} s and was killed; "
                f"pass timeout= for longer commands, or use popen() for servers"
            ) from None
        finally:
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
        return {"rc": proc.returncode, "stdout": out.decode(errors="replace"),
                "stderr": err.decode(errors="replace"), "duration_s": time.monotonic() - start}

    def popen(self, node: str, ns_fd: int, command: str | list[str]) -> dict[str, Any]:
        """Start in the background; output goes to a log file readable with ``output()``."""
        handle = next(self._ids)
        self._folder()
        log_path = os.path.join(self.logdir, f"{handle}.log")
        with open(log_path, "wb") as log:
            try:
                proc = self._spawn(node, ns_fd, argv_of(command), stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT)
            except OSError as exc:
                raise NetnbError(f"cannot start {command!r} in node {node!r}: {exc.strerror}") from exc
        text = command if isinstance(command, str) else " ".join(command)
        with self._lock:
            self.background[handle] = Background(handle, node, text, proc, log_path)
        return {"handle": handle, "pid": proc.pid}

    def _get(self, handle: int) -> Background:
        try:
            return self.background[handle]
        except KeyError:
            raise NetnbError(f"no background process with handle {handle} in this lab") from None

    def status(self, handle: int) -> dict[str, Any]:
        """Whether the process still runs, and its exit status if not."""
        bg = self._get(handle)
        rc = bg.popen.poll()
        return {"running": rc is None, "rc": rc}

    def output(self, handle: int) -> str:
        """What the process wrote so far (stdout and stderr together)."""
        with open(self._get(handle).log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self, handle: int, timeout: float = 2.0) -> dict[str, Any]:
        """SIGTERM the process group, SIGKILL it after ``timeout``; returns exit status and output."""
        bg = self._get(handle)
        if bg.popen.poll() is None:
            _signal_group(bg.popen, signal.SIGTERM)
            try:
                bg.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                _kill_group(bg.popen)
                bg.popen.wait()
        else:
            _kill_group(bg.popen)  # the leader is gone; end what it left in its group
        return {"rc": bg.popen.returncode, "output": self.output(handle)}

    def stop_node(self, node: str) -> None:
        """Stop every background process of ``node`` and drop its mount namespace (whose sysfs holds a
        reference to the node's network namespace)."""
        for handle in [h for h, bg in self.background.items() if bg.node == node]:
            self.stop(handle, timeout=1.0)
        with self._lock:
            fds = self.views.pop(node, ())
            self.binds.pop(node, None)
        for fd in fds:
            os.close(fd)

    def close(self) -> None:
        """Stop everything and remove the log files."""
        for handle in list(self.background):
            self.stop(handle, timeout=1.0)
        for node in list(self.views):
            self.stop_node(node)
        if self.folder:  # shared folders: what nodes made there as root (sudo mode) the user could not remove
            shutil.rmtree(os.path.join(self.folder, "shares"), ignore_errors=True)
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)


def _node_view(node: str, ns_fd: int, homes: tuple[int, int, int], store: str, shared: str,
               binds: list[tuple[str, str]]) -> tuple[int, int]:
    """New mount and UTS namespaces for ``node``: /sys mounted from inside ``ns_fd`` (where the kernel allows:
    else the agent's, which is the machine's), the node's own view of the files (:mod:`views`), and its own
    hostname (its name, as a container's), so that ``hostname x`` in a node never renames the machine."""
    home, home_mounts, home_uts = homes
    hostname = node.rsplit("/", 1)[-1][:64]
    with nsutil.inside(ns_fd, home):
        nsutil.unshare(nsutil.CLONE_NEWNS | nsutil.CLONE_NEWUTS)  # copies of the agent's, for this thread
        try:
            nsutil.sethostname(hostname)
            uts = os.open("/proc/thread-self/ns/uts", os.O_RDONLY | os.O_CLOEXEC)
        finally:
            nsutil.setns(home_uts, nsutil.CLONE_NEWUTS)
        try:
            try:
                nsutil.umount("/sys", nsutil.MNT_DETACH)
            except OSError:
                pass  # e.g. a mount locked by a user namespace: mount over it instead
            try:
                nsutil.mount("sysfs", "/sys", "sysfs", nsutil.MS_NOSUID | nsutil.MS_NODEV | nsutil.MS_NOEXEC)
            except OSError:
                pass
            views.cover(store, shared, binds=binds)
            views.write_file("/etc/hostname", f"{hostname}\n".encode(), 0o644)
            # Its name resolves to itself, as in a container (else a lookup of it, which e.g. http.server makes,
            # would wait for DNS servers the lab cannot reach).
            try:
                hosts = views.read_file("/etc/hosts")
            except OSError:
                hosts = b""
            views.write_file("/etc/hosts", hosts + (b"" if hosts.endswith(b"\n") or not hosts else b"\n")
                             + f"127.0.1.1\t{hostname}\n".encode(), 0o644)
            return os.open("/proc/thread-self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC), uts
        except BaseException:
            os.close(uts)
            raise
        finally:
            nsutil.setns(home_mounts, nsutil.CLONE_NEWNS)


def _signal_group(proc: subprocess.Popen[bytes], signum: int) -> None:
    try:
        os.killpg(proc.pid, signum)  # the group we created with start_new_session
    except ProcessLookupError:
        pass


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    _signal_group(proc, signal.SIGKILL)
