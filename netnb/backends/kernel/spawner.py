"""A warm, single-threaded process that forks lab agents on request (a "zygote").

Starting a Python interpreter and importing the agent's modules costs 0.1-0.3 s on these machines,
more than an ``ip -batch`` script needs to build ten hosts. So each notebook process starts one spawner
the first time it needs an agent (or when :func:`netnb.prepare` asks); every lab after that gets its
agent by ``fork()`` in a few milliseconds, with the modules already loaded.

Started by :class:`~netnb.backends.kernel.client.Spawner` as ``python -m netnb.backends.kernel.spawner``
with a Unix SOCK_SEQPACKET socket as stdin. Each request is a JSON object with two file descriptors
attached: the new agent's end of its socket pair and the pipe for its stderr. The answer carries the
agent's pid and a pidfd for it, so the notebook can wait for and signal exactly that process.
The request may carry the notebook's current environment (not in sudo mode, where sudo's own
cleaned environment stays). ``{"op": "ready"}`` (no descriptors) is answered once every module is
loaded.

The spawner holds no namespace and no lab. It exits when the notebook's end of the socket closes
(even by SIGKILL); labs do not depend on it: each agent talks to the notebook over its own socket
and dies when that socket closes.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import sys
import threading
import traceback
from typing import Any, NoReturn

MAX_FDS = 2
REQUEST_BYTES = 1 << 20  # a request carries the notebook's environment
AGENT_MODULES = ("netnb.backends.kernel.agent", "netnb.backends.kernel.netlink", "netnb.backends.kernel.processes")
READ_BACK_MODULES = ("pyroute2",)  # only for reading the kernel back: loaded once the first agent is out


def _preload(modules: tuple[str, ...] = AGENT_MODULES) -> None:
    """Import ``modules`` here, so every agent forked later starts with them loaded."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:  # the agent reports it when it needs it
            if name not in READ_BACK_MODULES:
                raise
    if threading.active_count() != 1:  # fork() copies only the calling thread: nothing may run beside it
        print(f"netnb spawner: loading {', '.join(modules)} started a thread; cannot fork agents safely",
              file=sys.stderr)
        os._exit(1)


def _reap(*_: Any) -> None:
    """Collect every finished agent relay (SIGCHLD handler)."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _become_agent(control: socket.socket, fds: list[int], request: dict[str, Any]) -> NoReturn:
    """In the forked child: drop the spawner's state and run the agent; never returns."""
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        control.close()
        channel_fd, stderr_fd = fds
        os.dup2(stderr_fd, 2)
        os.close(stderr_fd)
        if "env" in request:  # the notebook's environment as it is now, for the commands run in nodes
            os.environ.clear()
            os.environ.update(request["env"])
        from netnb.backends.kernel import agent

        agent.run(socket.socket(fileno=channel_fd), rootless=bool(request.get("rootless")))
    except BaseException:
        traceback.print_exc(file=sys.stderr)
    os._exit(1)


def _started_by_sudo() -> bool:
    """Running as root for another user who started us through sudo (sudo sets SUDO_UID)."""
    return os.geteuid() == 0 and os.environ.get("SUDO_UID", "0") != "0"


def serve(control: socket.socket) -> NoReturn:
    """Answer spawn requests until the notebook closes its end."""
    preloaded = False
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(control, REQUEST_BYTES, MAX_FDS)
        except ConnectionResetError:
            data, fds = b"", []
        if not data:
            os._exit(0)  # the notebook is gone; running agents keep their own sockets
        try:
            request = json.loads(data)
            if request.get("op") == "ready":  # netnb.prepare(): answer once fully loaded
                if not preloaded:
                    _preload(READ_BACK_MODULES)
                    preloaded = True
                control.send(json.dumps({"ready": True}).encode())
                continue
            if len(fds) != MAX_FDS:
                raise ValueError(f"expected {MAX_FDS} file descriptors, got {len(fds)}")
            if "env" in request and _started_by_sudo():
                # A root spawner takes nothing from its caller's environment (LD_PRELOAD, PYTHONPATH...):
                # sudo cleaned ours on purpose. Enforced here, not only by the client, which anyone can write.
                raise PermissionError("a spawner started through sudo takes no environment from its caller")
            sys.stderr.flush()
            # No reaping between fork and pidfd_open: the pid cannot be reused before we hold it.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
            try:
                pid = os.fork()
                if pid == 0:
                    _become_agent(control, fds, request)
                pidfd = os.pidfd_open(pid)
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
            try:
                socket.send_fds(control, [json.dumps({"pid": pid}).encode()], [pidfd])
            finally:
                os.close(pidfd)
        except Exception as exc:  # tell the notebook; the spawner itself goes on
            control.send(json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode())
        finally:
            for fd in fds:
                os.close(fd)
        if not preloaded:
            _preload(READ_BACK_MODULES)
            preloaded = True


def main() -> NoReturn:
    """Entry point (see the module docstring)."""
    control = socket.socket(fileno=os.dup(0))
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, _reap)
    from netnb.backends.kernel import nsutil

    nsutil.set_process_name("netnb-spawner")  # what `ps -e` and `top` show
    _preload()
    serve(control)


if __name__ == "__main__":
    main()
