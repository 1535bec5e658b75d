"""What this kernel can build, found by trying each thing in a scratch namespace (for ``netnb doctor``).

Everything happens inside a namespace of the agent's own, removed afterwards: probing never touches
the machine's network.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from netnb.backends.kernel.netlink import Dataplane
from netnb.backends.kernel.processes import Processes
from netnb.plan import AddNamespace, DelNamespace

_SCRATCH = "probe"


def probe_features(dataplane: Dataplane, processes: Processes | None = None) -> dict[str, Any]:
    """Map feature name to True/False (or an error text) for device kinds, qdiscs and netfilter, and (given
    ``processes``) whether a node gets its own view of the files."""
    dataplane.apply([AddNamespace(_SCRATCH)])
    try:
        ns = dataplane.ns(_SCRATCH)

        def attempt(fn: Any) -> bool | str:
            try:
                dataplane.on_netlink_thread(fn)
                return True
            except Exception as exc:  # each failure is the answer we are looking for
                return str(exc).splitlines()[0][:120]

        ipr = ns.ipr
        result: dict[str, Any] = {}
        result["veth"] = attempt(lambda: ipr.link("add", ifname="pv0", kind="veth", peer="pv1"))
        result["bridge"] = attempt(lambda: ipr.link("add", ifname="pbr0", kind="bridge"))
        # Looked up on the netlink thread: pyroute2 sockets must not be used from another thread.
        parent = dataplane.on_netlink_thread(lambda: (ipr.link_lookup(ifname="pv0") or [0])[0])
        result["vxlan"] = attempt(lambda: ipr.link("add", ifname="pvx0", kind="vxlan", vxlan_id=42,
                                                   vxlan_port=4789))
        result["macvlan"] = attempt(lambda: ipr.link("add", ifname="pmv0", kind="macvlan", link=parent,
                                                     macvlan_mode="bridge"))
        result["8021q vlan"] = attempt(lambda: ipr.link("add", ifname="pv0.5", kind="vlan", link=parent,
                                                        vlan_id=5))
        result["bridge vlan filtering"] = attempt(lambda: ipr.link("add", ifname="pbr1", kind="bridge",
                                                                   br_vlan_filtering=1))
        for kind in ("dummy", "gre", "vrf", "wireguard", "geneve"):
            extra: dict[str, Any] = {"vrf_table": 10} if kind == "vrf" else {}
            if kind == "geneve":
                extra = {"geneve_id": 1, "geneve_remote": "127.0.0.1"}
            if kind == "gre":
                extra = {"gre_local": "127.0.0.1", "gre_remote": "127.0.0.2"}
            result[kind] = attempt(lambda k=kind, e=extra: ipr.link("add", ifname=f"p{k[:8]}0", kind=k, **e))
        # Qdiscs, each on a device of its own: tbf carries rate= (these kernels have it); netem (delay,
        # loss) and htb are what Mininet's TCLink asks for.
        qdiscs: list[tuple[str, str, dict[str, Any]]] = [
            ("tbf", "pv0", {"rate": "1mbit", "burst": 3028, "latency": "50ms"}), ("htb", "pv1", {"default": 1}),
            ("netem", "pbr0", {"delay": 10000})]
        for kind, device, options in qdiscs:
            def add(k: str = kind, d: str = device, o: dict[str, Any] = options) -> None:
                ipr.tc("add", k, (ipr.link_lookup(ifname=d) or [0])[0], **o)
            result[f"{kind} qdisc"] = attempt(add)
        result["tun/tap"] = _tap_possible()
        if processes is not None:
            result["node's own files"] = _own_files(processes, ns.fd)
        return result
    finally:
        if processes is not None:
            processes.stop_node(_SCRATCH)
        dataplane.apply([DelNamespace(_SCRATCH)])


def _own_files(processes: Processes, ns_fd: int) -> bool | str:
    """Whether a command in a node writes the node's own /etc (see :mod:`views`), never the machine's."""
    try:
        done = processes.run(_SCRATCH, ns_fd, ["sh", "-c", "echo own > /etc/netnb-probe && cat /etc/netnb-probe"],
                             10, None)
    except Exception as exc:  # no view could be made: the node would run nothing
        return str(exc).splitlines()[0][:120]
    return True if done["stdout"] == "own\n" else (done["stderr"].strip() or "not written")[:120]


def _tap_possible() -> bool | str:
    try:
        fd = os.open("/dev/net/tun", os.O_RDWR)
    except OSError as exc:
        return f"/dev/net/tun: {exc.strerror}"
    os.close(fd)
    return True


def tools() -> dict[str, str | None]:
    """Where the command-line tools labs use are installed (None when missing)."""
    return {t: shutil.which(t, path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
            for t in ("ip", "ping", "iptables", "nft", "tcpdump", "tc", "tshark", "traceroute", "nc", "conntrack",
                      "vtysh")}
