"""The simulated backend: the Backend contract carried out on :mod:`netnb.backends.sim.world`, in this
process, with no namespaces, sockets, threads or child processes — so it runs where the kernel backend
cannot (macOS, Windows, Colab, Binder, Pyodide in the browser).

Commands run on a virtual clock: a ``ping -c 3 -i 0.2`` takes 0.4 s of simulated time and a few
milliseconds of real time. Background programs (``popen``) run whenever the clock runs, i.e. while any
other command, send or capture of the lab is being simulated.

>>> import netnb
>>> lab = netnb.Lab("demo", backend=SimBackend())
>>> a, b = lab.host("A"), lab.host("B")
>>> _ = lab.link(a, b, ip=("10.0.0.1/24", "10.0.0.2/24"))
>>> with lab:
...     a.ping(b, count=1).ok
True
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import shlex
import time
import zlib
from collections.abc import Callable, Sequence
from typing import IO, Any

from netnb.backends.contract import CaptureStats, Command
from netnb.capture.filters import matcher
from netnb.backends.kernel import registry
from netnb.backends.sim import apps, iproute, tools  # noqa: F401  (they register their programs)
from netnb.backends.sim import frames as fr
from netnb.backends.sim.clock import NS, Task, Until
from netnb.backends.sim.netfilter import IptablesError
from netnb.backends.sim.shell import Ctx, run_argv, run_line
from netnb.backends.sim.world import Bridge, Device, IPv4, Stack, Vxlan, World
from netnb.errors import BackendError, CommandTimeout, FeatureMissingError, LabStateError, NetnbError
from netnb.model import checks
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
from netnb.plan import (
    AddAddress,
    AddBridge,
    AddFdb,
    AddNamespace,
    AddRoute,
    AddShaper,
    AddTap,
    AddVeth,
    AddVxlan,
    DelAddress,
    DelFdb,
    DelLink,
    DelNamespace,
    DelRoute,
    DelShaper,
    IptablesOperation,
    Operation,
    SetBridgePort,
    SetLinkState,
    SetSysctl,
)

#: How long after an action the world keeps running by itself: frames in flight arrive (microseconds
#: apart), while timers a second away (ARP retries) wait for the next action.
SETTLE_NS = 10_000_000
_pids = itertools.count(40000)


class _Process:
    def __init__(self, node: str, text: str, ctx: Ctx, task: Task) -> None:
        self.node, self.text, self.ctx, self.task = node, text, ctx, task
        self.output: list[str] = []


class _Capture:
    def __init__(self, files: list[IO[bytes]], hooks: list[tuple[Device, object]],
                 keep: Callable[[bytes], bool] | None) -> None:
        self.files, self.hooks, self.keep = files, hooks, keep
        self.counts: dict[str, dict[str, int]] = {}


class SimBackend:
    """A lab simulated in pure Python (``seed`` fixes every random choice: MACs, ARP timers, ports)."""

    name = "sim"

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self.world: World | None = None
        self._folder = ""
        self._handles = itertools.count(1)
        self._processes: dict[int, _Process] = {}
        self._captures: dict[int, _Capture] = {}
        self._capture_ids = itertools.count(1)

    # -- lifetime -------------------------------------------------------------------------------
    def _world(self) -> World:
        if self.world is None:
            raise LabStateError("the lab is not running; start it first (lab.start() or `with lab:`)")
        return self.world

    def _stack(self, node: str) -> Stack:
        try:
            return self._world().stacks[node]
        except KeyError:
            raise NetnbError(f"no node {node!r} in this lab") from None

    def check(self, operations: Sequence[Operation]) -> None:
        missing = []
        ipv6_off = {op.node for op in operations if isinstance(op, SetSysctl)
                    and op.key == "net.ipv6.conf.all.disable_ipv6" and op.value == "1"}
        for op in operations:
            if isinstance(op, AddNamespace) and op.node not in ipv6_off:
                missing.append("IPv6 (Lab(..., ipv6=True))")
        if missing:
            raise FeatureMissingError(
                "the simulated backend does not carry out "
                + "; ".join(dict.fromkeys(missing[:5])) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
                + " yet: run this lab on the kernel (Lab(..., backend='kernel')). Nothing was built.")

    def start(self, lab_name: str) -> None:
        seed = self.seed if self.seed is not None else zlib.crc32(lab_name.encode())
        self.world = World(seed, time.time_ns())
        self._folder = registry.make_lab_folder(os.getpid(), registry.process_start_time(os.getpid()) or 0)
        self.world.folder = self._folder

    def close(self) -> None:
        for ident in list(self._captures):
            try:
                self.capture_stop(ident)
            except NetnbError:
                pass
        self._processes.clear()
        self.world = None
        if self._folder:
            registry.remove_lab_folder(self._folder)
            self._folder = ""

    @property
    def running(self) -> bool:
        return self.world is not None

    @property
    def folder(self) -> str:
        return self._folder

    @property
    def pid(self) -> int | None:
        return None

    # -- building -------------------------------------------------------------------------------
    def apply(self, operations: Sequence[Operation]) -> float:
        world = self._world()
        began = time.perf_counter()
        done: list[Operation] = []
        try:
            for op in operations:
                self._do(world, op)
                done.append(op)
        except BaseException as exc:
            self.undo([op.reverse() for op in reversed(done)])
            if isinstance(exc, NetnbError):
                raise
            raise BackendError(f"{type(op).__name__} in {op.node!r} failed: {exc}") from exc
        self._settle()
        return time.perf_counter() - began

    def undo(self, operations: Sequence[Operation]) -> None:
        world = self._world()
        for op in operations:
            try:
                self._do(world, op)
            except (NetnbError, KeyError, ValueError):
                pass  # a teardown goes on past what is gone

    def _do(self, world: World, op: Operation) -> None:
        if isinstance(op, AddNamespace):
            world.add_stack(op.node)
            return
        if isinstance(op, DelNamespace):
            for handle, proc in list(self._processes.items()):
                if proc.node == op.node:
                    proc.task.kill(-15)
            world.remove_stack(op.node)
            return
        stack = world.stack(op.node)
        if isinstance(op, SetSysctl):
            stack.sysctl[op.key] = op.value
        elif isinstance(op, SetLinkState):
            stack.set_up(op.ifname, op.up)
        elif isinstance(op, AddBridge):
            bridge = stack.add_bridge(op.ifname, op.ageing_cs)
            bridge.priority = op.priority
            if op.stp:  # (forward delay 2 s, as the kernel backend sets it)
                bridge.enable_stp(2 * NS)
            stack.set_up(bridge.name, True)
        elif isinstance(op, AddVeth):
            other = world.stack(op.peer_node)
            a, b = stack.add_veth(op.ifname, other, op.peer_ifname, op.mtu, op.mac, op.peer_mac)
            for end, master in ((a, op.master), (b, op.peer_master)):
                if master is not None:
                    _bridge(end.stack, master).add_port(end)
            stack.set_up(a.name, True)
            other.set_up(b.name, True)
        elif isinstance(op, (AddShaper, DelShaper)):
            world.shape(stack.device(op.ifname), op.tbf() if isinstance(op, AddShaper) else None)
        elif isinstance(op, SetBridgePort):
            port = stack.device(op.ifname)
            if port.master is None:
                raise BackendError(f"{op.node}:{op.ifname} is no bridge port")
            port.master.set_port(port, **op.given())
        elif isinstance(op, AddTap):
            tap = stack.add_tap(op.ifname)
            if op.master is not None:
                _bridge(stack, op.master).add_port(tap)
            stack.set_up(tap.name, True)
        elif isinstance(op, AddVxlan):
            home = world.stack(op.home)
            vx = Vxlan(home, op.ifname, home.new_index(), world.random_mac(), op.vni, IPv4(op.local), op.port, stack)
            if op.dev is not None:  # as the kernel: 50 bytes below the underlay device's MTU; else 1500
                vx.mtu = stack.device(op.dev).mtu - 50
            if op.remote is not None:  # the default destination, as the kernel's all-zeros FDB entry
                vx.remotes[fr.ZERO_MAC] = IPv4(op.remote)
            home.add_device(vx)
            stack.vxlan_ports[op.port] = stack.vxlan_ports.get(op.port, []) + [vx]
            if op.master is not None:
                _bridge(home, op.master).add_port(vx)
            home.set_up(vx.name, True)
        elif isinstance(op, DelLink):
            home = world.stack(op.home)
            gone = home.device(op.ifname)
            if isinstance(gone, Vxlan):
                ports = gone.underlay.vxlan_ports.get(gone.port, [])
                if gone in ports:
                    ports.remove(gone)
            home.remove_device(gone)
        elif isinstance(op, AddAddress):
            stack.add_address(op.ifname, op.cidr)
        elif isinstance(op, DelAddress):
            stack.del_address(op.ifname, op.cidr)
        elif isinstance(op, AddRoute):
            stack.add_route(op.dest, op.via, op.dev, nexthops=tuple((hop, op.dev, 1) for hop in op.nexthops))
        elif isinstance(op, DelRoute):
            stack.del_route(op.dest, op.via, op.dev)
        elif isinstance(op, (AddFdb, DelFdb)):
            vxlan = stack.device(op.ifname)
            if not isinstance(vxlan, Vxlan):
                raise BackendError(f"{op.node}:{op.ifname} is not a VXLAN device")
            mac = bytes.fromhex(op.mac.replace(":", ""))
            if isinstance(op, AddFdb):
                vxlan.remotes[mac] = IPv4(op.dst)
            else:
                vxlan.remotes.pop(mac, None)
        elif isinstance(op, IptablesOperation):
            try:
                stack.firewall().command(op.argv(), world.clock.now)
            except IptablesError as exc:
                raise BackendError(f"iptables {' '.join(op.argv())} in {op.node}: {exc}") from exc
        else:
            raise FeatureMissingError(f"the simulated backend cannot carry out {type(op).__name__} yet")

    def wait_ready(self, timeout: float, ipv6: bool = False) -> float:
        """Devices carry frames as soon as they are up (there is no link watch to wait for); STP bridges'
        ports listen and learn first — simulated time runs until none does (a blocking port is settled)."""
        world = self._world()
        bridges = [d for s in world.stacks.values() for d in s.devices.values()
                   if isinstance(d, Bridge) and d.stp is not None]
        began = world.clock.now
        if not world.clock.run_while(lambda: any(b.stp.settling() for b in bridges if b.stp is not None),
                                     began + int(timeout * NS)):
            raise BackendError(f"after {timeout:.0f} s (simulated) bridge ports are still not forwarding")
        return 0.0

    def _settle(self) -> None:
        world = self._world()
        clock = world.clock
        while True:
            due = clock.next_due()
            if due is None or due - clock.now > SETTLE_NS:
                return
            clock.step()

    # -- running --------------------------------------------------------------------------------
    def _ctx(self, node: str, command: Command, stdin: str | None) -> tuple[Ctx, str, object]:
        world = self._world()
        stack = self._stack(node)
        if isinstance(command, str):
            text = command
            ctx = Ctx(world, stack, ["sh", "-c", command], stdin or "")
            return ctx, text, run_line(ctx, command)
        argv = list(command)
        ctx = Ctx(world, stack, argv, stdin or "")
        return ctx, shlex.join(argv), run_argv(ctx)

    def run(self, node: str, command: Command, timeout: float | None, stdin: str | None) -> CommandResult:
        world = self._world()
        ctx, text, program = self._ctx(node, command, stdin)
        clock = world.clock
        began = clock.now
        task = Task(clock, program)  # type: ignore[arg-type]
        world.tasks.append(task)
        task.start()
        deadline = clock.now + int((timeout if timeout is not None else 3600 * 24) * NS)
        finished = clock.run_while(lambda: not task.done, deadline)
        if not finished:
            task.kill(-9)
            raise CommandTimeout(f"{text!r} in node {node!r} did not finish within {timeout} s (simulated) and was "
                                 "killed; pass timeout= for longer commands, or use popen() for servers")
        self._settle()
        if task.error is not None:
            raise BackendError(f"the simulation of {text!r} in node {node!r} failed: {task.error!r}") \
                from task.error
        return CommandResult(node, text, task.rc or 0, "".join(ctx.out), "".join(ctx.err),
                             (clock.now - began) / NS)

    def popen(self, node: str, command: Command) -> tuple[int, int]:
        world = self._world()
        ctx, text, program = self._ctx(node, command, None)
        handle = next(self._handles)
        proc = _Process(node, text, ctx, Task(world.clock, program))  # type: ignore[arg-type]
        ctx.live = proc.output.append
        pid = next(_pids)
        world.pids[pid] = ctx.stack
        self._processes[handle] = proc
        world.tasks.append(proc.task)
        proc.task.start()
        self._settle()
        return pid, handle

    def write_files(self, node: str, files: Sequence[tuple[str, bytes | None, int]]) -> None:
        stack = self._stack(node)
        for path, data, mode in files:
            checks.file_path(path)
            if data is not None:  # (a folder: the simulation takes every folder to exist)
                stack.write_file(path, data, mode)

    def share(self, node: str, name: str, at: str) -> None:
        stack = self._stack(node)
        stack.files.mount(checks.file_path(at), self._world().shares.setdefault(name, {}))

    def read_file(self, node: str, path: str) -> bytes:
        checks.file_path(path)
        stack = self._stack(node)
        if path in stack.files:
            return stack.files[path]
        made = stack.world_files().get(path)
        if made is None:
            raise NetnbError(f"cannot read {path} in node {node!r}: No such file or directory (the simulation has "
                             "only the files the lab wrote, and a few of /proc and /etc)")
        return made.encode()

    def _process(self, handle: int) -> _Process:
        try:
            return self._processes[handle]
        except KeyError:
            raise NetnbError(f"no background process with handle {handle} in this lab") from None

    def process_state(self, handle: int) -> ProcessState:
        task = self._process(handle).task
        return ProcessState(not task.done, task.rc)

    def process_output(self, handle: int) -> str:
        return "".join(self._process(handle).output)

    def process_stop(self, handle: int, timeout: float) -> ProcessEnd:
        proc = self._process(handle)
        proc.task.kill(-15)
        self._settle()
        return ProcessEnd(proc.task.rc, "".join(proc.output))

    def request(self, handle: int, message: dict[str, Any], timeout: float) -> Any:
        """Ask a program that serves requests (a VM's guest); the clock runs until it answers."""
        world = self._world()
        proc = self._process(handle)
        serve = proc.ctx.shared.get("serve")
        if serve is None or proc.task.done:
            raise NetnbError(f"background process {handle} ({proc.text!r}) serves no requests")
        answer: list[Any] = []

        def run() -> Any:
            steps = serve(message)
            try:
                wait = next(steps)
                while True:
                    seconds, ready = wait
                    yield Until(ready, seconds)
                    wait = next(steps)
            except StopIteration as stop:
                answer.append(stop.value)
            return 0

        task = Task(world.clock, run())
        world.tasks.append(task)
        task.start()
        if not world.clock.run_while(lambda: not task.done, world.clock.now + int(timeout * NS)):
            task.kill(-9)
            raise NetnbError(f"{proc.text!r} did not answer within {timeout} s (simulated)")
        self._settle()
        if task.error is not None:
            raise BackendError(f"{proc.text!r} failed answering {message!r}: {task.error!r}") from task.error
        return answer[0]

    # -- reading back ---------------------------------------------------------------------------
    def interfaces(self, node: str) -> list[InterfaceState]:
        stack = self._stack(node)
        out = []
        for dev in sorted(stack.devices.values(), key=lambda d: d.index):
            peer = getattr(dev, "peer", None)
            peer_index = peer.index if peer is not None else None
            out.append(InterfaceState(dev.name, dev.index, dev.kind, fr.mac_text(dev.mac), dev.operstate(), dev.mtu,
                                      tuple(str(a) for a in dev.addresses),
                                      dev.master.name if dev.master is not None else None,
                                      peer_index, dev.rx_packets, dev.tx_packets))
        return out

    def all_interfaces(self) -> dict[str, list[InterfaceState]]:
        return {name: self.interfaces(name) for name in self._world().stacks}

    def routes(self, node: str) -> list[RouteEntry]:
        stack = self._stack(node)
        return [RouteEntry("default" if r.dest.prefixlen == 0 else str(r.dest), str(r.via) if r.via else None,
                           None if r.hops else r.dev.name, r.proto, r.scope, str(r.src) if r.src else None,
                           tuple(Nexthop(str(h.via) if h.via else None, h.dev.name, h.weight, tuple(h.flags()))
                                 for h in r.hops)) for r in stack.table()]

    def neighbours(self, node: str) -> list[NeighbourEntry]:
        stack = self._stack(node)
        now = self._world().clock.now
        out = []
        for n in stack.neigh.values():
            state = n.shown_state(now)
            mac = fr.mac_text(n.mac) if n.mac is not None and state not in ("INCOMPLETE", "FAILED") else None
            out.append(NeighbourEntry(str(n.ip), mac, n.dev.name, state))
        return out

    def fdb(self, node: str, bridge: str) -> list[FdbEntry]:
        stack = self._stack(node)
        dev = stack.device(bridge)
        if not isinstance(dev, Bridge):
            raise BackendError(f"{node}:{bridge} is not a bridge")
        return [FdbEntry(fr.mac_text(mac), port.name, age, local=local) for mac, port, age, local in dev.fdb()]

    def listening(self, node: str) -> list[SocketEntry]:
        stack = self._stack(node)
        return [SocketEntry(s.kind, str(IPv4(s.address)), s.port) for s in stack.bound if s.listening]

    def route_get(self, node: str, dest: str) -> RouteLookup:
        stack = self._stack(node)
        target = ipaddress.IPv4Address(dest)
        if stack.local_address(target) is not None:
            return RouteLookup("lo", dest, None)
        route = stack.lookup(target)
        if route is None:
            raise BackendError(f"node {node!r} has no route to {dest}: Network is unreachable")
        src = stack.source_for(route, target)
        return RouteLookup(route.dev.name, str(src) if src else None, str(route.via) if route.via else None)

    def firewall(self, node: str, argv: Sequence[str]) -> str:
        stack = self._stack(node)
        try:
            return stack.firewall().command(list(argv), self._world().clock.now)
        except IptablesError as exc:
            raise BackendError(f"iptables {' '.join(argv)}: {exc}") from exc

    def namespace_inodes(self) -> dict[str, int]:
        return {name: 4026540000 + i for i, name in enumerate(self._world().stacks)}

    # -- packets --------------------------------------------------------------------------------
    def send(self, node: str, frame: bytes, *, ifname: str | None = None, dest: str | None = None,
             count: int = 1) -> None:
        stack = self._stack(node)
        for _ in range(count):
            if ifname is not None:
                stack.device(ifname).transmit(bytes(frame))
            else:
                packet = fr.parse_ip(bytes(frame))
                if packet is None:
                    raise BackendError("send(dest=...) needs an IPv4 packet")
                error = stack.send_ip(packet)
                if error is not None:
                    raise BackendError(f"sendto {dest} from {node}: {error}")
        self._settle()

    def capture_start(self, points: Sequence[CapturePoint], filter: str | None,
                      directory: str, ring_mib: int) -> tuple[int, list[str]]:
        from netnb.capture import pcapng

        devices = [self._stack(p.node).device(p.ifname) for p in points]
        ident = next(self._capture_ids)
        files: list[IO[bytes]] = []
        paths: list[str] = []
        hooks: list[tuple[Device, object]] = []
        keep = matcher(filter) if filter else None
        cap = _Capture(files, hooks, keep)
        for i, (point, dev) in enumerate(zip(points, devices)):
            path = os.path.join(directory, f"{i}.pcapng")
            f = open(path, "wb")
            pcapng.write_header(f.write, [point.label])
            files.append(f)
            paths.append(path)
            counts = cap.counts.setdefault(point.label, {"packets": 0, "kernel_packets": 0, "kernel_drops": 0})

            def hook(ts: int, frame: bytes, outgoing: bool, f: IO[bytes] = f, counts: dict[str, int] = counts) -> None:
                if keep is not None and not keep(frame):
                    return
                counts["packets"] += 1
                counts["kernel_packets"] += 1
                pcapng.write_epb(f.write, ts, frame, len(frame), outgoing)
                f.flush()

            dev.hooks.append(hook)
            hooks.append((dev, hook))
        self._captures[ident] = cap
        return ident, paths

    def capture_stats(self, ident: int) -> CaptureStats:
        return {k: dict(v) for k, v in self._capture(ident).counts.items()}

    def _capture(self, ident: int) -> _Capture:
        try:
            return self._captures[ident]
        except KeyError:
            raise NetnbError(f"no running capture {ident} in this lab") from None

    def capture_stop(self, ident: int) -> tuple[CaptureStats, str | None]:
        cap = self._capture(ident)
        for dev, hook in cap.hooks:
            if hook in dev.hooks:
                dev.hooks.remove(hook)  # type: ignore[arg-type]
        for f in cap.files:
            f.close()
        del self._captures[ident]
        return {k: dict(v) for k, v in cap.counts.items()}, None


def _bridge(stack: Stack, name: str) -> Bridge:
    dev = stack.device(name)
    if not isinstance(dev, Bridge):
        raise BackendError(f"{stack.name}:{name} is not a bridge")
    return dev



