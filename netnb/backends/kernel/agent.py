"""The per-lab agent: the one process that owns a lab's namespaces and acts on them for the notebook.

Forked by the notebook's :mod:`~netnb.backends.kernel.spawner` for each lab (see :func:`run`). It
becomes PID 1 of a new PID namespace, and moves itself into a private, empty network namespace before
doing anything, so a slip can never land in the machine's own network. When the notebook goes
away (its end of the socket closes, even by SIGKILL) the agent exits; the kernel then ends every
process of the lab (PID namespace) and frees every namespace (held by fd only), with all interfaces.
"""

from __future__ import annotations

import base64
import itertools
import os
import signal
import socket
import sys
import threading
import time
import traceback
from typing import Any, NoReturn

from netnb.backends.kernel import nsutil, protocol
from netnb.errors import BackendError, NetnbError
from netnb.model import checks
from netnb.plan import DelNamespace, operation_from_dict

PROCESS_NAME = "netnb-agent"  # what `ps` shows for an agent (the relay and the lab's PID 1)


def _enter_user_namespace(uid: int, gid: int) -> None:
    """Rootless mode: become root of a new user namespace mapped to the caller's own uid/gid."""
    nsutil.unshare(nsutil.CLONE_NEWUSER | nsutil.CLONE_NEWNS)
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"0 {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"0 {gid} 1")


def _private_proc() -> None:
    """Give the lab its own /proc (in a private mount namespace): `ps` in a node shows the lab's
    processes, with the same pids that ``Process.pid`` reports. The machine's mounts are untouched."""
    try:
        nsutil.unshare(nsutil.CLONE_NEWNS)
        nsutil.mount(None, "/", None, nsutil.MS_REC | nsutil.MS_PRIVATE)
        nsutil.mount("proc", "/proc", "proc", nsutil.MS_NOSUID | nsutil.MS_NODEV | nsutil.MS_NOEXEC)
    except OSError as exc:  # e.g. a container whose /proc is partly masked: labs work, `ps` shows more
        print(f"netnb agent: no private /proc ({exc}); pids in nodes are the machine's", file=sys.stderr)


class Server:
    """Answers requests from the socket, each on its own thread."""

    def __init__(self, sock: socket.socket) -> None:
        # Imported here: these need pyroute2, which only the agent process loads.
        from netnb.backends.kernel.netlink import Dataplane
        from netnb.backends.kernel.processes import Processes

        self.sock = sock
        self.dataplane = Dataplane()
        self.processes = Processes(self.dataplane.home)
        self.recordings: dict[int, Any] = {}
        self._recording_ids = itertools.count(1)
        self._send_lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        with self._send_lock:
            self.sock.sendall(protocol.encode(message))

    def serve(self) -> None:
        reader = self.sock.makefile("rb")
        for line in reader:
            request = protocol.decode(line)
            threading.Thread(target=self.handle, args=(request,), daemon=True).start()
        # The notebook is gone. Exiting as PID 1 makes the kernel end every process of this lab and
        # free every namespace; there is nothing to do by hand.
        os._exit(0)

    def handle(self, request: dict[str, Any]) -> None:
        rid = request.get("id")
        method = getattr(self, f"rpc_{request.get('method')}", None)
        try:
            if method is None:
                raise NetnbError(f"unknown request {request.get('method')!r}")
            result = method(**request.get("params", {}))
            self.send({"id": rid, "ok": True, "result": result})
        except Exception as exc:  # every failure goes back to the caller
            if not isinstance(exc, NetnbError):
                traceback.print_exc(file=sys.stderr)
            self.send({"id": rid, "ok": False, "error": protocol.error_to_dict(exc)})
        if request.get("method") == "shutdown":
            os._exit(0)

    # -- requests ---------------------------------------------------------------------------
    def rpc_hello(self, logdir: str | None = None, folder: str | None = None) -> dict[str, Any]:
        if logdir is not None:
            self.processes.logdir = logdir  # in the lab's folder, which its owner removes with the lab
        if folder is not None:
            self.processes.folder = folder
        return {"pid": os.getpid(), "uid": os.getuid(), "python": sys.version.split()[0]}

    def rpc_apply(self, ops: list[dict[str, Any]]) -> dict[str, Any]:
        start = time.perf_counter()
        operations = [operation_from_dict(o) for o in ops]
        self._release(operations)
        done = self.dataplane.apply(operations)
        return {"done": done, "seconds": time.perf_counter() - start}

    def rpc_teardown(self, ops: list[dict[str, Any]]) -> dict[str, Any]:
        operations = [operation_from_dict(o) for o in ops]
        self._release(operations)
        return {"done": self.dataplane.remove(operations)}

    def _release(self, operations: list[Any]) -> None:
        """Before namespaces go: stop their captures (a capture socket keeps its namespace alive) and
        their processes."""
        gone = {op.node for op in operations if isinstance(op, DelNamespace)}
        for ident, rec in list(self.recordings.items()):
            if any(p.node in gone for p in rec.points):
                self.rpc_capture_stop(ident)
        for node in gone:
            self.processes.stop_node(node)

    def rpc_wait_ready(self, timeout: float, ipv6: bool = False) -> dict[str, Any]:
        return {"waited_s": self.dataplane.wait_ready(timeout, ipv6)}

    def rpc_inodes(self) -> dict[str, int]:
        return self.dataplane.inodes()

    def rpc_run(self, node: str, command: Any, timeout: float | None, stdin: str | None) -> dict[str, Any]:
        return self.processes.run(node, self.dataplane.ns(node).fd, command, timeout, stdin)

    def rpc_popen(self, node: str, command: Any) -> dict[str, Any]:
        return self.processes.popen(node, self.dataplane.ns(node).fd, command)

    def rpc_write_files(self, node: str, files: list[list[Any]]) -> None:
        decoded = [(str(path), None if data is None else base64.b64decode(data), int(mode)) for path, data, mode in files]
        self.processes.write_files(node, self.dataplane.ns(node).fd, decoded)

    def rpc_share(self, node: str, name: str, at: str) -> None:
        self.processes.share(node, self.dataplane.ns(node).fd, checks.share_name(name), checks.file_path(at))

    def rpc_read_file(self, node: str, path: str) -> str:
        return base64.b64encode(self.processes.read_file(node, self.dataplane.ns(node).fd, path)).decode()

    def rpc_proc_status(self, handle: int) -> dict[str, Any]:
        return self.processes.status(handle)

    def rpc_proc_output(self, handle: int) -> str:
        return self.processes.output(handle)

    def rpc_proc_stop(self, handle: int, timeout: float) -> dict[str, Any]:
        return self.processes.stop(handle, timeout)

    def rpc_links(self, node: str) -> list[dict[str, Any]]:
        return self.dataplane.links(node)

    def rpc_all_links(self) -> dict[str, list[dict[str, Any]]]:
        return {node: self.dataplane.links(node) for node in list(self.dataplane.namespaces)}

    def rpc_route_get(self, node: str, dest: str) -> dict[str, Any]:
        return self.dataplane.route_get(node, dest)

    def rpc_send(self, node: str, data: str, ifname: str | None = None, dest: str | None = None,
                 count: int = 1) -> dict[str, Any]:
        """Send raw bytes from inside a node: an Ethernet frame out of ``ifname``, or an IPv4 packet to
        ``dest`` through the node's own routing (the kernel picks the interface and resolves ARP)."""
        frame = bytes.fromhex(data)
        ns = self.dataplane.ns(node)
        with nsutil.inside(ns.fd, self.dataplane.home):
            sock = (socket.socket(socket.AF_PACKET, socket.SOCK_RAW) if ifname
                    else socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW))
        with sock:
            for _ in range(count):
                if ifname:
                    sock.sendto(frame, (ifname, 0))
                else:
                    sock.sendto(frame, (dest, 0))
        return {"sent": count}

    def rpc_listening(self, node: str) -> list[dict[str, Any]]:
        """Sockets of ``node`` that wait for peers: TCP in LISTEN, UDP bound and unconnected."""
        from netnb.backends.kernel.netlink import listening_sockets

        ns = self.dataplane.ns(node)
        with nsutil.inside(ns.fd, self.dataplane.home):  # /proc/thread-self/net shows this thread's namespace
            return listening_sockets("/proc/thread-self/net")

    def rpc_iptables(self, node: str, argv: list[str]) -> str:
        return self.dataplane.iptables(node, argv)

    def rpc_routes(self, node: str) -> list[dict[str, Any]]:
        return self.dataplane.routes(node)

    def rpc_neighbours(self, node: str) -> list[dict[str, Any]]:
        return self.dataplane.neighbours(node)

    def rpc_fdb(self, node: str, bridge: str) -> list[dict[str, Any]]:
        return self.dataplane.fdb(node, bridge)

    def rpc_capture_start(self, points: list[dict[str, str]], filter_code: list[list[int]] | None,
                          directory: str, ring_mib: int = 64) -> dict[str, Any]:
        from netnb.backends.kernel import recorder

        opened: list[recorder.Point] = []
        try:
            for i, pt in enumerate(points):
                path = os.path.join(directory, f"{i}.pcapng")
                try:
                    opened.append(recorder.open_point(self.dataplane.ns(pt["node"]).fd, self.dataplane.home,
                                                      pt["ifname"], pt["label"], path, filter_code,
                                                      ring_mib=ring_mib))
                except OSError as exc:
                    raise BackendError(f"cannot capture at {pt['label']}: {exc.strerror} "
                                       f"(node.interfaces() lists the node's interfaces)") from exc
        except BaseException:
            recorder.discard(opened)
            raise
        ident = next(self._recording_ids)
        rec = recorder.Recording(ident, opened)
        rec.thread = threading.Thread(target=recorder.run_recording, args=(rec,), name=f"capture-{ident}", daemon=True)
        self.recordings[ident] = rec
        rec.thread.start()
        return {"id": ident, "paths": [p.path for p in opened]}

    def rpc_capture_stats(self, ident: int) -> dict[str, Any]:
        from netnb.backends.kernel import recorder

        rec = self.recordings[ident]
        return {"points": recorder.stats(rec), "running": not rec.stop_event.is_set(), "error": rec.error}

    def rpc_capture_stop(self, ident: int) -> dict[str, Any]:
        from netnb.backends.kernel import recorder

        rec = self.recordings.pop(ident, None)
        if rec is None:
            raise NetnbError(f"no capture {ident} is running in this lab")
        rec.stop_event.set()
        assert rec.thread is not None
        rec.thread.join()
        return {"points": recorder.stats(rec), "error": rec.error}

    def rpc_probe(self) -> dict[str, Any]:
        from netnb.backends.kernel.probe import probe_features

        return probe_features(self.dataplane, self.processes)

    def rpc_shutdown(self) -> dict[str, Any]:
        for ident in list(self.recordings):
            self.rpc_capture_stop(ident)
        self.processes.close()
        self.dataplane.close()
        return {"stopped": True}


def _how_it_ended(status: int) -> str:
    """A wait status in words, e.g. ``the lab's PID 1 was killed by SIGKILL``."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return f"the lab's PID 1 was killed by {name} (signal {sig})"
    code = os.waitstatus_to_exitcode(status)
    return "its notebook closed the connection" if code == 0 else f"the lab's PID 1 exited with status {code}"


def run(channel: socket.socket, *, rootless: bool = False) -> NoReturn:
    """Become a lab's agent, serving requests from ``channel``; never returns.

    Called in a freshly forked, single-threaded process (see :mod:`netnb.backends.kernel.spawner`):
    user namespaces can only be entered by a single-threaded process.
    """
    devnull = os.open(os.devnull, os.O_RDWR)  # no child may read or write the notebook's socket
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)

    nsutil.set_process_name(PROCESS_NAME)
    if rootless and os.geteuid() != 0:
        _enter_user_namespace(os.getuid(), os.getgid())
    nsutil.unshare(nsutil.CLONE_NEWPID)
    child = os.fork()
    if child:
        # The relay: waits for the lab's PID 1 and reports its status; if killed, takes it along.
        channel.close()
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _, status = os.waitpid(child, 0)
        print(f"netnb agent ended: {_how_it_ended(status)}", file=sys.stderr, flush=True)  # read by the client
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    nsutil.set_parent_death_signal(signal.SIGKILL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal reaches the notebook, not us
    _private_proc()
    # The agent's own empty network namespace (slips land nowhere), and its own UTS namespace, which nodes'
    # hostnames are copied from and which its threads can return to (rootless: one its user namespace owns).
    nsutil.unshare(nsutil.CLONE_NEWNET | nsutil.CLONE_NEWUTS)
    try:
        Server(channel).serve()
    except BaseException:
        traceback.print_exc(file=sys.stderr)
    os._exit(1)
