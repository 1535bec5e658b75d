"""The lab's namespaces and every netlink operation on them, run by pyroute2 on one dedicated thread.

Why one thread: a synchronous pyroute2 ``IPRoute`` used from a thread other than the one that made it
silently opens a new socket in *that* thread's namespace (measured with pyroute2 0.9.7). Keeping every
socket on one thread, created while that thread stood inside its namespace, makes "which namespace
does this act on" a fact rather than a hope. Namespaces are held by file descriptor only (never
bind-mounted under ``/run/netns``), so the kernel frees them, with everything inside, when the agent
process ends for any reason.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from netnb.backends.kernel import nsutil
from netnb.backends.kernel.rtnl import Rtnl
from netnb.errors import BackendError, FeatureMissingError, NetnbError
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
    DelVeth,
    IptablesOperation,
    Operation,
    SetBridgePort,
    SetLinkState,
    SetSysctl,
    teardown_of,
)

if TYPE_CHECKING:
    from pyroute2 import IPRoute

T = TypeVar("T")
_TOOL_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}

_NUD = {0x01: "INCOMPLETE", 0x02: "REACHABLE", 0x04: "STALE", 0x08: "DELAY", 0x10: "PROBE",
        0x20: "FAILED", 0x40: "NOARP", 0x80: "PERMANENT", 0x00: "NONE"}
#: RTNH_F_DEAD and RTNH_F_LINKDOWN, as ``ip route`` names them.
_RTNH_FLAGS = ((1, "dead"), (16, "linkdown"))
#: Route protocols by number, as iproute2 names them (its rt_protos table: routing daemons included).
_PROTO = {0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static", 8: "gated", 9: "ra", 10: "mrt",
          11: "zebra", 12: "bird", 13: "dnrouted", 14: "xorp", 15: "ntk", 16: "dhcp", 18: "keepalived",
          42: "babel", 99: "openr", 186: "bgp", 187: "isis", 188: "ospf", 189: "rip", 192: "eigrp"}
_SCOPE = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
_NUD_PERMANENT = 0x80
_NUD_NOARP = 0x40
_BR_STATES_SETTLING = (1, 2)  # BR_STATE_LISTENING, BR_STATE_LEARNING (3 forwarding, 4 blocking)


@dataclass
class Namespace:
    """A node's network namespace: the fd that keeps it alive and netlink sockets opened inside it.

    ``rtnl`` (hand-encoded requests) builds; ``ipr`` (pyroute2) reads back and makes rarer devices.
    Use both only on the netlink thread.
    """

    name: str
    fd: int
    rtnl: Rtnl
    inode: int
    home: int = field(repr=False)
    ifindex: dict[str, int] = field(default_factory=dict)
    bridges: dict[str, bool] = field(default_factory=dict)  # bridge name -> STP on
    taps: set[str] = field(default_factory=set)  # TAP devices: no carrier until their process opens them
    ports: dict[str, set[str]] = field(default_factory=dict)  # bridge -> the ports the lab put in it
    _ipr: IPRoute | None = field(default=None, repr=False)

    @property
    def ipr(self) -> IPRoute:
        """A pyroute2 socket in this namespace, opened on first use (a build needs none).

        Not inside ``nsutil.inside``: opening it returns the thread to ``home``."""
        if self._ipr is None:
            from pyroute2 import IPRoute

            with nsutil.inside(self.fd, self.home):
                self._ipr = IPRoute()
        return self._ipr

    def close(self) -> None:
        self.rtnl.close()
        if self._ipr is not None:
            self._ipr.close()
        os.close(self.fd)


class Dataplane:
    """Owns the lab's namespaces; every public method runs its netlink work on the netlink thread."""

    def __init__(self) -> None:
        self.home = nsutil.current_netns_fd()
        self.namespaces: dict[str, Namespace] = {}
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="netnb-netlink")

    # -- plumbing ---------------------------------------------------------------------------
    def on_netlink_thread(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the thread that owns every pyroute2 socket, and return its result."""
        return self._thread.submit(fn).result()

    _call = on_netlink_thread

    def ns(self, node: str) -> Namespace:
        """The namespace of ``node`` (NetnbError if the lab has none by that name)."""
        try:
            return self.namespaces[node]
        except KeyError:
            raise NetnbError(f"this lab has no node {node!r} running") from None

    def _index(self, ns: Namespace, ifname: str) -> int:
        idx = ns.ifindex.get(ifname)
        if idx is None:
            try:
                idx = ns.ifindex[ifname] = ns.rtnl.link_index(ifname)
            except OSError as exc:
                if exc.errno != errno.ENODEV:
                    raise
                raise BackendError(f"node {ns.name!r} has no interface {ifname!r}") from None
        return idx

    # -- operations -------------------------------------------------------------------------
    def apply(self, ops: Iterable[Operation]) -> int:
        """Run ``ops`` in order; if one fails, undo the ones done (last first) and raise."""
        return self._call(lambda: self._apply(list(ops)))

    def remove(self, ops: Iterable[Operation]) -> int:
        """Run undo operations, all of them even if some fail (then raise, naming each failure)."""
        def run() -> int:
            errors = []
            todo = list(ops)
            for op in todo:
                try:
                    self._execute(op)
                except Exception as exc:  # keep removing the rest
                    errors.append(str(_translate(op, exc)))
            if errors:
                raise BackendError("some of the lab could not be removed: " + "; ".join(errors[:5]))
            return len(todo)
        return self._call(run)

    def _apply(self, ops: list[Operation]) -> int:
        done: list[Operation] = []
        for op in ops:
            try:
                self._execute(op)
            except Exception as exc:
                undo_errors = self._undo(done)
                err = _translate(op, exc)
                if done:
                    err.args = (f"{err.args[0]}\n(rolled back the {len(done)} operations done before it"
                                + (f"; {len(undo_errors)} of them failed to undo: {undo_errors[:3]}" if undo_errors else "")
                                + ")",)
                raise err from exc
            done.append(op)
        return len(done)

    def _undo(self, done: list[Operation]) -> list[str]:
        errors = []
        for rev in teardown_of(done):
            try:
                self._execute(rev)
            except Exception as exc:  # keep undoing the rest; report at the end
                errors.append(f"{rev.describe()}: {exc}")
        return errors

    def _execute(self, op: Operation) -> None:
        if isinstance(op, AddNamespace):
            if op.node in self.namespaces:
                raise BackendError(f"namespace for {op.node!r} exists already")
            fd = nsutil.new_netns_fd(self.home)
            try:
                with nsutil.inside(fd, self.home):
                    rtnl = Rtnl()
            except BaseException:
                os.close(fd)
                raise
            self.namespaces[op.node] = Namespace(op.node, fd, rtnl, os.fstat(fd).st_ino, self.home)
            return
        if isinstance(op, DelNamespace):
            ns = self.namespaces.pop(op.node, None)
            if ns is not None:
                ns.close()
                for other in self.namespaces.values():
                    other.ifindex.clear()  # veth peers elsewhere went with it; their names may come back
            return
        ns = self.ns(op.node)
        if isinstance(op, SetSysctl):
            path = "/proc/sys/" + op.key.replace(".", "/")
            with nsutil.inside(ns.fd, self.home):
                with open(path, "w") as f:
                    f.write(op.value)
        elif isinstance(op, SetLinkState):
            # By name: the kernel resolves IFLA_IFNAME itself, one round trip instead of two.
            ns.rtnl.link_set(op.ifname, up=op.up)
        elif isinstance(op, AddBridge):
            # With STP on, ports listen and learn for 2 x forward_delay before forwarding; use the
            # kernel's minimum (2 s) rather than the default 15 s so a lab is usable in seconds.
            ns.rtnl.add_bridge(op.ifname, ageing_cs=op.ageing_cs, stp=op.stp, forward_delay_cs=200 if op.stp else None,
                               priority=op.priority)
            ns.bridges[op.ifname] = op.stp
        elif isinstance(op, AddVeth):
            peer_ns = self.ns(op.peer_node)
            ns.rtnl.add_veth(op.ifname, op.peer_ifname, peer_netns_fd=peer_ns.fd if peer_ns is not ns else None,
                             mtu=op.mtu, peer_mac=op.peer_mac, mac=op.mac,
                             master=self._index(ns, op.master) if op.master else None)
            peer_ns.rtnl.link_set(op.peer_ifname, up=True,
                                  master=self._index(peer_ns, op.peer_master) if op.peer_master else None)
            _add_port(ns, op.master, op.ifname)
            _add_port(peer_ns, op.peer_master, op.peer_ifname)
        elif isinstance(op, DelLink):
            ns = self.ns(op.home)  # (a VXLAN device lives where it was moved to)
            ns.rtnl.link_del(self._index(ns, op.ifname))
            ns.ifindex.pop(op.ifname, None)
            ns.bridges.pop(op.ifname, None)
            ns.taps.discard(op.ifname)
            ns.ports.pop(op.ifname, None)
            for ports in ns.ports.values():
                ports.discard(op.ifname)
            if isinstance(op, DelVeth) and op.peer_node in self.namespaces:
                self.namespaces[op.peer_node].ifindex.clear()
        elif isinstance(op, (AddAddress, DelAddress)):
            ns.rtnl.address(isinstance(op, AddAddress), self._index(ns, op.ifname), op.cidr)
        elif isinstance(op, (AddRoute, DelRoute)):
            ns.rtnl.route(isinstance(op, AddRoute), op.dest, via=op.via,
                          oif=self._index(ns, op.dev) if op.dev else None, nexthops=op.nexthops)
        elif isinstance(op, SetBridgePort):
            names = {"hairpin": "mode", "flood": "unicast_flood"}  # (pyroute2's names of IFLA_BRPORT_*)
            ns.ipr.link("set", index=self._index(ns, op.ifname), kind="bridge_slave",
                        **{names.get(k, k): int(v) for k, v in op.given().items()})
        elif isinstance(op, AddTap):
            # pyroute2 makes TAPs with ioctls on /dev/net/tun, not netlink: the device appears in the
            # namespace of the calling thread, so the thread must stand in the node's namespace.
            ipr = ns.ipr  # opened first: opening it steps in and out of the namespace itself
            with nsutil.inside(ns.fd, self.home):
                ipr.link("add", ifname=op.ifname, kind="tuntap", mode="tap")
            ns.taps.add(op.ifname)
            master = {"master": self._index(ns, op.master)} if op.master else {}
            ns.ipr.link("set", ifname=op.ifname, state="up", **master)
            _add_port(ns, op.master, op.ifname)
        elif isinstance(op, AddVxlan):
            # Created from the underlay namespace (its UDP socket stays there, as Docker's overlay does),
            # then living in target_node's namespace with the overlay bridge.
            home = self.ns(op.home)
            move = {"net_ns_fd": home.fd} if op.target_node else {}
            remote: dict[str, Any] = {"vxlan_group": op.remote} if op.remote else {}
            if op.dev:  # the underlay device: the kernel sets the MTU 50 bytes below its own
                remote["vxlan_link"] = self._index(ns, op.dev)
            ns.ipr.link("add", ifname=op.ifname, kind="vxlan", vxlan_id=op.vni, vxlan_local=op.local,
                        vxlan_port=op.port, vxlan_learning=0, **move, **remote)
            master = {"master": self._index(home, op.master)} if op.master else {}
            home.ipr.link("set", ifname=op.ifname, state="up", **master)
            _add_port(home, op.master, op.ifname)
        elif isinstance(op, (AddFdb, DelFdb)):
            ns.ipr.fdb("append" if isinstance(op, AddFdb) else "del", ifindex=self._index(ns, op.ifname),
                       lladdr=op.mac, dst=op.dst)
        elif isinstance(op, IptablesOperation):
            self._iptables(ns, op.argv())
        elif isinstance(op, (AddShaper, DelShaper)):
            # tc itself (as the plan shows): it hands the kernel the bucket in bytes (TCA_TBF_BURST) and so
            # reads back what the simulation prints; pyroute2 sends it as a time, rounded differently.
            argv = ["qdisc", "add", "dev", op.ifname, "root", "tbf", *op.tbf().words().split()] \
                if isinstance(op, AddShaper) else ["qdisc", "del", "dev", op.ifname, "root"]
            proc = self._tool(ns, ["tc", *argv])
            if proc.returncode != 0:
                error = FeatureMissingError if "qdisc kind is unknown" in proc.stderr else BackendError
                raise error(f"tc {' '.join(argv)}: {proc.stderr.strip()}"
                            + (" (this kernel has no tbf qdisc: rate= needs it)" if error is FeatureMissingError else ""))
        else:
            raise BackendError(f"the kernel backend cannot run {type(op).__name__} yet")

    def _tool(self, ns: Namespace, argv: list[str]) -> subprocess.CompletedProcess[str]:
        """Run a tool of the machine (iptables, tc) inside the namespace."""
        with nsutil.inside(ns.fd, self.home):
            return subprocess.run(argv, capture_output=True, text=True, env=_TOOL_ENV)

    def _iptables(self, ns: Namespace, argv: list[str]) -> str:
        """Run the real ``iptables`` (iptables-nft) inside the namespace; rules are netfilter's to keep."""
        proc = self._tool(ns, ["iptables", "-w", *argv])
        if proc.returncode != 0:
            raise BackendError(f"iptables {' '.join(argv)}: {proc.stderr.strip()}")
        return proc.stdout

    def iptables(self, node: str, argv: list[str]) -> str:
        """Output of ``iptables ARGS`` (or ``iptables-save`` when argv[0] is 'save') inside ``node``."""
        def run() -> str:
            ns = self.ns(node)
            if argv[:1] == ["save"]:
                proc = self._tool(ns, ["iptables-save", *argv[1:]])
                if proc.returncode != 0:
                    raise BackendError(f"iptables-save: {proc.stderr.strip()}")
                return proc.stdout
            return self._iptables(ns, argv)
        return self._call(run)

    # -- readiness --------------------------------------------------------------------------
    def wait_ready(self, timeout: float = 10.0, ipv6: bool = False) -> float:
        """Wait until every interface that is set up is operationally UP (and STP bridge ports forward).

        Right after a link comes up the kernel activates it in a worker, up to ~1 s later for some
        devices; packets sent before fail. Returns the seconds waited.
        """
        start = time.monotonic()
        pending = set(self.namespaces)
        while True:
            not_ready = self._call(lambda: self._not_ready_in(pending, ipv6))
            if not not_ready:
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                raise BackendError(
                    f"after {timeout:.0f} s these interfaces are still not up: {', '.join(not_ready[:10])}"
                    + (f" and {len(not_ready) - 10} more" if len(not_ready) > 10 else "")
                )
            time.sleep(0.005)

    def _not_ready_in(self, pending: set[str], ipv6: bool = False) -> list[str]:
        out: list[str] = []
        for name in sorted(pending):
            ns = self.namespaces[name]
            waiting = self._not_ready(ns) or (self._tentative(ns) if ipv6 else [])
            if waiting:
                out.extend(waiting)
            else:
                pending.discard(name)
        return out

    def _not_ready(self, ns: Namespace) -> list[str]:
        # Interface flags by ioctl rather than a pyroute2 dump: IFF_RUNNING is set exactly when the
        # kernel has made the device operationally up, and this is ~50x cheaper per namespace
        # (1000-node labs poll every namespace).
        out = []
        with nsutil.inside(ns.fd, self.home):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                for _, name in socket.if_nameindex():
                    if name == "lo" or name in ns.taps:
                        continue
                    flags = _ioctl_flags(sock, name)
                    if not flags & _IFF_UP:
                        continue
                    if name in ns.bridges and (not _has_ipv4(sock, name) or ns.ports.get(name, set()) <= ns.taps):
                        # A bridge forwards between its ports whatever its own state; only one with an
                        # address sends through its own device and must wait for activation, which
                        # needs a port with carrier: TAP ports get one when their VM opens them (and
                        # starting a VM waits for readiness again).
                        continue
                    if not flags & _IFF_RUNNING and not _unplugged(sock, name):
                        out.append(f"{ns.name}:{name}")
        if not out and any(ns.bridges.values()):
            out.extend(self._stp_ports_not_forwarding(ns))
        return out

    def _tentative(self, ns: Namespace) -> list[str]:
        """IPv6 addresses still in duplicate address detection (unusable for ~1 s after a link comes up)."""
        return [f"{ns.name}:{a.get('IFA_ADDRESS')} (IPv6 duplicate address detection)"
                for a in ns.ipr.get_addr(family=socket.AF_INET6) if a.get("IFA_FLAGS", a["flags"]) & 0x40]

    def _stp_ports_not_forwarding(self, ns: Namespace) -> list[str]:
        """Bridge ports still listening or learning (they will forward, or block, within 2 x forward delay).
        A port STP keeps blocking — a loop's redundant port — is settled, not waited for."""
        out = []
        for link in ns.ipr.get_links():
            state = link.get_nested("IFLA_LINKINFO", "IFLA_INFO_SLAVE_DATA", "IFLA_BRPORT_STATE")
            if state in _BR_STATES_SETTLING:
                out.append(f"{ns.name}:{link.get('IFLA_IFNAME')} (bridge port not forwarding yet)")
        return out

    # -- reading back -----------------------------------------------------------------------
    def links(self, node: str) -> list[dict[str, Any]]:
        """Interfaces of ``node`` with addresses, as plain dicts (see InterfaceState)."""
        return self._call(lambda: self._links(self.ns(node)))

    def _links(self, ns: Namespace) -> list[dict[str, Any]]:
        links = list(ns.ipr.get_links())
        names = {link["index"]: link.get("IFLA_IFNAME") for link in links}
        addrs: dict[int, list[str]] = {}
        for a in ns.ipr.get_addr(family=socket.AF_INET):
            addrs.setdefault(a["index"], []).append(f"{a.get('IFA_ADDRESS')}/{a['prefixlen']}")
        out = []
        for link in links:
            kind = _kind(link) or ("loopback" if link.get("IFLA_IFNAME") == "lo" else "device")
            out.append({
                "name": link.get("IFLA_IFNAME"),
                "index": link["index"],
                "kind": kind,
                "mac": link.get("IFLA_ADDRESS") or "",
                "state": link.get("IFLA_OPERSTATE") or "UNKNOWN",
                "mtu": link.get("IFLA_MTU") or 0,
                "addresses": addrs.get(link["index"], []),
                "master": names.get(link.get("IFLA_MASTER")) if link.get("IFLA_MASTER") else None,
                "peer_index": link.get("IFLA_LINK"),
                "rx_packets": (link.get("IFLA_STATS64") or {}).get("rx_packets", 0),
                "tx_packets": (link.get("IFLA_STATS64") or {}).get("tx_packets", 0),
            })
        return out

    def routes(self, node: str) -> list[dict[str, Any]]:
        """The main IPv4 routing table of ``node``."""
        def read() -> list[dict[str, Any]]:
            ns = self.ns(node)
            names = {link["index"]: link.get("IFLA_IFNAME") for link in ns.ipr.get_links()}
            out = []
            for r in ns.ipr.get_routes(family=socket.AF_INET, table=254):
                dst = r.get("RTA_DST")
                out.append({
                    "dest": f"{dst}/{r['dst_len']}" if dst else "default",
                    "via": r.get("RTA_GATEWAY"),
                    "dev": names.get(r.get("RTA_OIF")),
                    "proto": _PROTO.get(r["proto"], str(r["proto"])),
                    "scope": _SCOPE.get(r["scope"], str(r["scope"])),
                    "src": r.get("RTA_PREFSRC"),
                    "nexthops": [{"via": h.get_attr("RTA_GATEWAY"), "dev": names.get(h["oif"]), "weight": h["hops"] + 1,
                                  "flags": [f for bit, f in _RTNH_FLAGS if h["flags"] & bit]}
                                 for h in r.get_attr("RTA_MULTIPATH") or ()],
                })
            return out
        return self._call(read)

    def route_get(self, node: str, dest: str) -> dict[str, Any]:
        """How ``node`` would send to ``dest``: interface, source address, gateway (``ip route get``)."""
        def read() -> dict[str, Any]:
            ns = self.ns(node)
            from pyroute2.netlink.exceptions import NetlinkError

            try:
                r = ns.ipr.route("get", dst=dest)[0]
            except NetlinkError as exc:
                raise BackendError(f"node {node!r} has no route to {dest}: {os.strerror(exc.code)}") from exc
            names = {link["index"]: link.get("IFLA_IFNAME") for link in ns.ipr.get_links()}
            return {"dev": names.get(r.get("RTA_OIF")), "src": r.get("RTA_PREFSRC"), "via": r.get("RTA_GATEWAY")}
        return self._call(read)

    def neighbours(self, node: str) -> list[dict[str, Any]]:
        """The ARP table of ``node``."""
        def read() -> list[dict[str, Any]]:
            ns = self.ns(node)
            names = {link["index"]: link.get("IFLA_IFNAME") for link in ns.ipr.get_links()}
            return [{
                "ip": n.get("NDA_DST"),
                "mac": n.get("NDA_LLADDR"),
                "dev": names.get(n["ifindex"], str(n["ifindex"])),
                "state": _NUD.get(n["state"], hex(n["state"])),
            } for n in ns.ipr.get_neighbours(family=socket.AF_INET)]
        return self._call(read)

    def fdb(self, node: str, bridge: str) -> list[dict[str, Any]]:
        """The MAC table of ``bridge`` in ``node``: mac, port, age in seconds, local/static flags."""
        def read() -> list[dict[str, Any]]:
            ns = self.ns(node)
            links = list(ns.ipr.get_links())
            names = {link["index"]: link.get("IFLA_IFNAME") for link in links}
            br = self._index(ns, bridge)
            out = []
            for n in ns.ipr.get_neighbours(family=socket.AF_BRIDGE):
                if n.get("NDA_MASTER") != br or n.get("NDA_VLAN"):
                    continue
                cache = n.get("NDA_CACHEINFO") or {}
                updated = cache.get("ndm_updated") if isinstance(cache, dict) else None
                out.append({
                    "mac": n.get("NDA_LLADDR"),
                    "port": names.get(n["ifindex"], str(n["ifindex"])),
                    "age_s": None if updated is None else updated / 100.0,
                    "local": bool(n["state"] & _NUD_PERMANENT),
                    "static": bool(n["state"] & _NUD_NOARP),
                })
            return out
        return self._call(read)

    # -- lifetime ---------------------------------------------------------------------------
    def inodes(self) -> dict[str, int]:
        """Namespace inode per node: how tests prove a namespace is gone."""
        return {name: ns.inode for name, ns in self.namespaces.items()}

    def close(self) -> None:
        """Drop every namespace (the kernel removes what is inside) and stop the netlink thread."""
        def drop() -> None:
            for name in list(self.namespaces):
                self._execute(DelNamespace(name))
        self._call(drop)
        self._thread.shutdown(wait=True)
        os.close(self.home)


def _add_port(ns: Namespace, bridge: str | None, port: str) -> None:
    if bridge:
        ns.ports.setdefault(bridge, set()).add(port)


_SIOCGIFFLAGS = 0x8913
_SIOCGIFADDR = 0x8915
_IFF_UP = 0x1
_IFF_RUNNING = 0x40


def _ioctl_flags(sock: socket.socket, name: str) -> int:
    try:
        res = fcntl.ioctl(sock, _SIOCGIFFLAGS, struct.pack("16sH14x", name.encode(), 0))
    except OSError:
        return 0  # gone meanwhile
    return int(struct.unpack("16sH14x", res)[1])


def _ethtool(sock: socket.socket, name: str, request: bytes) -> bytes | None:
    """One SIOCETHTOOL request (its struct, command first); the struct as the kernel filled it, or None."""
    buf = ctypes.create_string_buffer(request, len(request))
    try:
        fcntl.ioctl(sock, 0x8946, struct.pack("16sP8x", name.encode(), ctypes.addressof(buf)))
    except OSError:
        return None
    return buf.raw


def _unplugged(sock: socket.socket, name: str) -> bool:
    """A veth whose other end is down, or a TAP nobody opened: no carrier, and waiting will not bring one
    (a broken cable in an exercise, ``ip tuntap add`` by hand). A veth gets its carrier at once when both
    ends are up, so a link that is merely not activated yet still has one. Bridges are not judged here:
    theirs follows their ports' activation."""
    info = _ethtool(sock, name, struct.pack("I", 3) + bytes(192))  # ETHTOOL_GDRVINFO: struct ethtool_drvinfo
    driver = info[4:36].split(b"\0", 1)[0].decode() if info else ""
    if driver not in ("veth", "tun"):
        return False
    link = _ethtool(sock, name, struct.pack("II", 0xA, 0))  # ETHTOOL_GLINK: struct ethtool_value
    return link is not None and struct.unpack("II", link)[1] == 0


def _has_ipv4(sock: socket.socket, name: str) -> bool:
    try:
        fcntl.ioctl(sock, _SIOCGIFADDR, struct.pack("16s16x", name.encode()))
    except OSError:
        return False
    return True


def _kind(link: Any) -> str | None:
    info = link.get("IFLA_LINKINFO")
    return info.get("IFLA_INFO_KIND") if info else None


_MISSING_KIND_HINT = "this kernel cannot create it; run `netnb doctor` to see which device types exist"


def _translate(op: Operation, exc: BaseException) -> NetnbError:
    """A kernel error as a NetnbError naming the operation and the command a person would type."""
    cmd = op.commands()[0]
    if isinstance(exc, BackendError) and exc.command is None:
        return BackendError(f"`{cmd}` failed: {exc}", operation=op.kind, command=cmd)
    if isinstance(exc, NetnbError):
        return exc
    code = getattr(exc, "code", None) or getattr(exc, "errno", None)  # pyroute2's NetlinkError has .code
    reason = os.strerror(code) if isinstance(code, int) and code > 0 else str(exc)
    if code == errno.EOPNOTSUPP and isinstance(op, (AddBridge, AddVeth)):
        return FeatureMissingError(f"`{cmd}` failed: {reason}; {_MISSING_KIND_HINT}")
    if isinstance(op, AddTap) and code in (errno.EPERM, errno.EACCES):
        return FeatureMissingError(f"`{cmd}` failed: {reason}; TAP devices need /dev/net/tun, which only root "
                                   f"may open here: run this lab as root (VMs cannot run rootless)")
    hint = {
        errno.EEXIST: "it exists already",
        errno.EPERM: "not permitted: run as root, or rootless (see `netnb doctor`)",
        errno.ENETUNREACH: "the gateway is not on a connected subnet",
        errno.ENODEV: "no such interface",
    }.get(code or 0, "")
    return BackendError(
        f"`{cmd}` failed: {reason}" + (f" ({hint})" if hint else ""),
        operation=op.kind, command=cmd,
    )


def listening_sockets(net: str) -> list[dict[str, Any]]:
    """TCP sockets in LISTEN and unconnected UDP sockets, from the ``tcp``/``udp`` tables of a ``/proc/.../net``
    folder: ``{"proto": "tcp", "address": "0.0.0.0", "port": 8080}``. (Read from /proc: the kernel's
    socket tables per namespace, and what ``ss -ltun`` prints; pyroute2's sock_diag needs a socket
    opened in the namespace for the same answer.)"""
    wanted = {"tcp": "0A", "udp": "07"}  # TCP_LISTEN; TCP_CLOSE is how an unconnected UDP socket shows
    out = []
    for proto, state in wanted.items():
        for family in ("", "6"):
            try:
                with open(f"{net}/{proto}{family}") as f:
                    lines = f.read().splitlines()[1:]
            except FileNotFoundError:  # no IPv6 in this kernel
                continue
            for line in lines:
                fields = line.split()
                if fields[3] != state:
                    continue
                addr_hex, port_hex = fields[1].split(":")
                raw = bytes.fromhex(addr_hex)
                # Each 32-bit word is printed in host order (little-endian here).
                packed = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
                address = socket.inet_ntop(socket.AF_INET6 if family else socket.AF_INET, packed)
                out.append({"proto": proto, "address": address, "port": int(port_hex, 16)})
    return out
