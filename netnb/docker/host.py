"""Docker's networking on a lab: a Docker host with ``docker0``, containers as namespaces, published
ports through real DNAT/MASQUERADE rules, and libnetwork's networks (bridge and null drivers).

Images and filesystems are out of scope: a container is a network namespace running a command (with
its own hostname and ``/etc/hosts``, as Docker gives it). Every address, interface name and netfilter
rule follows Docker (see ``rules.DOCKER_RELEASE``) so a student can compare line by line.

>>> from netnb import Lab
>>> lab = Lab("docker")
>>> lan = lab.switch("lan", subnet="192.168.3.0/24")
>>> ubuntu1 = DockerHost(lab, "ubuntu1", lan, ip="192.168.3.2")
>>> [str(b.address) for b in lab.resolved().node("ubuntu1").bridges]
['172.17.0.1/16']
"""

from __future__ import annotations

import hashlib
import html
import os
import shlex
import shutil
import sys
import tempfile
import time
from ipaddress import IPv4Network
from typing import Any

from netnb.docker.container import Container
from netnb.docker.display import ago
from netnb.docker.networks import (
    DEFAULT_POOLS,
    DRIVERS,
    OVERLAY_MTU,
    OVERLAY_POOLS,
    VXLAN_PORT,
    DockerError,
    Endpoint,
    Network,
    docker_id,
    swarm_of,
)
from netnb.docker.rules import DOCKER_RELEASE, PlacedRule, daemon_chains, daemon_rules, network_forward_rules, \
    network_rules, port_rules
from netnb.errors import NetnbError
from netnb.lab import Lab
from netnb.nodes import Host, Switch
from netnb.model import NodeKind, NodeSpec
from netnb.model.firewall import Rule
from netnb.model.words import plural
from netnb.model.topology import BridgeSpec, LinkSpec, RouteSpec, VxlanSpec
from netnb.plan import (
    AddAddress,
    AddBridge,
    AddFdb,
    DelFdb,
    AddNamespace,
    AddRoute,
    AddVeth,
    AddVxlan,
    IptablesRule,
    Operation,
    interface_holding,
    namespace_operations,
)
from netnb.view.firewall import rules_table
from netnb.view.table import Table

class DockerHost:
    """A Linux host running "Docker": ``docker0`` with NAT, containers, networks, published ports.

    Describing it adds the host to the lab (linked to ``lan`` at ``ip``, forwarding on, ``docker0`` at the
    first address of ``bridge_subnet``, the daemon's iptables rules); containers are made while the lab runs.
    Its methods are Docker's (``run`` is ``docker run``); the host itself is ``.node`` (a Host:
    ``ubuntu1.node.run("ip -br addr")``), also ``lab["ubuntu1"]``.
    """

    def __init__(self, lab: Lab, name: str, lan: Switch, ip: str, *, bridge_subnet: str = "172.17.0.0/16",
                 gateway: str | None = None, port_range: tuple[int, int] = (49153, 65535)) -> None:
        lab.require_not_running("add a Docker host")
        self.lab = lab
        self.node: Host = lab.add_node(NodeSpec(name, NodeKind.HOST, forward=True, role="docker-host",
                                                bridge_netfilter=True), Host)  # as dockerd sets it
        spec = self.node.spec
        try:
            subnet = IPv4Network(bridge_subnet, strict=True)
        except ValueError as exc:
            raise DockerError(f"bridge_subnet {bridge_subnet!r} is not a subnet like '172.17.0.0/16' ({exc})") from exc
        self.bridge_subnet = subnet
        gw = next(subnet.hosts())
        spec.bridges.append(BridgeSpec("docker0", f"{gw}/{subnet.prefixlen}"))
        spec.chains.extend(daemon_chains())
        spec.rules.extend(daemon_rules("docker0", str(subnet)))
        lab.link(self.node, lan, ip=ip)
        if gateway is None:
            gateway = _lan_gateway(lab, lan)
        if gateway is not None:
            self.node.route("default", via=gateway)
        self.port_range = port_range
        self.release = DOCKER_RELEASE
        self.last_nat: Table | None = None
        self.swarm = swarm_of(lab)
        self.swarm.hosts.append(self)
        self._reset()
        lab.on_start(self._on_start, self._on_stop)

    @property
    def name(self) -> str:
        """The host's node name."""
        return self.node.name

    @property
    def ip(self) -> str | None:
        """The host's address on its LAN."""
        return self.node.ip

    def route(self, dest: str, *, via: str | None = None, dev: str | None = None) -> None:
        """A static route on the host (e.g. to another host's container subnet, the article's cross-host case)."""
        self.node.route(dest, via=via, dev=dev)

    def route_to(self, other: DockerHost) -> None:
        """Let this host's containers reach ``other``'s by their own addresses (the article's cross-host case).

        A route alone is not enough on a Docker host: the source would be masqueraded to this host's
        address, and ``other`` drops forwarded traffic it did not publish (FORWARD policy DROP). So, as
        Docker's documentation advises, this adds the route, a ``RETURN`` before the MASQUERADE here,
        and an ``ACCEPT`` in ``other``'s DOCKER-USER chain.
        """
        mine, theirs = str(self.bridge_subnet), str(other.bridge_subnet)
        if other.ip is None:
            raise DockerError(f"{other.name} has no LAN address to route through")
        keep = Rule("nat", "POSTROUTING", ("-s", mine, "-d", theirs, "-j", "RETURN"))
        accept = Rule("filter", "DOCKER-USER", ("-s", mine, "-d", theirs, "-j", "ACCEPT"))
        has_route = any(r.dest == theirs for r in self.node.spec.routes)
        if not self.lab.running:
            if not has_route:
                self.node.route(theirs, via=other.ip)
            self.node.spec.rules.insert(0, keep)
            users = other.node.spec.rules
            users.insert(users.index(Rule("filter", "DOCKER-USER", ("-j", "RETURN"))), accept)
            return
        route = [] if has_route else [AddRoute(self.name, theirs, other.ip)]
        self.lab.apply([*route, IptablesRule(self.name, keep.table, keep.chain, keep.args, 1),
                        IptablesRule(other.name, accept.table, accept.chain, accept.args, 1)])

    # -- lifetime -----------------------------------------------------------------------------
    def _reset(self) -> None:
        default = Network("bridge", docker_id(self.lab.name, self.name, "bridge"), "bridge", self.bridge_subnet,
                          "docker0", builtin=True)
        none = Network("none", docker_id(self.lab.name, self.name, "none"), "null", None, None, builtin=True)
        self.networks: dict[str, Network] = {"bridge": default, "none": none}
        self.containers: dict[str, Container] = {}
        self._network_ops: dict[str, list[Operation]] = {}
        self._new_vteps: list[Host] = []  # described with the endpoint that needed them
        self._seq = 0
        self._dir = ""

    def _on_start(self, lab: Lab) -> None:
        self._reset()
        self.swarm.reset()
        self._dir = tempfile.mkdtemp(prefix=f"docker-{self.name}-", dir=lab.folder)  # 0700, goes with the lab

    def _on_stop(self, lab: Lab) -> None:
        for c in self.containers.values():
            c.process = None
        # What was described while running goes with it: the next start builds the lab as described.
        lab.retract([c.name for c in self.containers.values()] +
                    [n.name for n in lab.topology.nodes if n.name.startswith(f"{self.name}/ov-")])
        self.node.spec.bridges[:] = [b for b in self.node.spec.bridges if b.name == "docker0"]
        for c in self.containers.values():
            c.spec.routes.clear()
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)

    # -- docker network ------------------------------------------------------------------------
    def network_create(self, name: str, driver: str = "bridge", subnet: str | None = None) -> Network:
        """``docker network create``: a bridge network gets its own ``br-<id>`` bridge, subnet and rules."""
        self.lab.live()
        if name in self.networks:
            raise DockerError(f"network with name {name} already exists")
        if driver not in DRIVERS:
            raise DockerError(f"plugin {driver!r} not found: this lab has the drivers {', '.join(DRIVERS)}")
        if driver == "null":
            raise DockerError("only one instance of \"null\" network is allowed (it is called 'none')")
        if name in self.swarm.overlays:
            raise DockerError(f"network with name {name} already exists (an overlay network of this swarm)")
        if driver == "overlay":
            return self._overlay_create(name, subnet)
        net_id = docker_id(self.lab.name, self.name, "network", name)
        if subnet is None:
            pool = next((p for p in DEFAULT_POOLS if not self._overlaps(p)), None)
            if pool is None:
                raise DockerError("could not find an available, non-overlapping IPv4 address pool")
            chosen = pool
        else:
            try:
                chosen = IPv4Network(subnet, strict=True)
            except ValueError as exc:
                raise DockerError(f"invalid subnet {subnet!r}: {exc}") from exc
            clash = self._overlaps(chosen)
            if clash:
                raise DockerError(f"Pool overlaps with other one on this address space ({clash})")
        bridge = f"br-{net_id[:12]}"
        net = Network(name, net_id, driver, chosen, bridge)
        gw = net.gateway
        placed = network_rules(bridge, str(chosen)) + network_forward_rules(bridge)
        ops: list[Operation] = [AddBridge(self.name, bridge, 30000), AddAddress(self.name, bridge,
                                f"{gw}/{chosen.prefixlen}"), *self._rule_ops(placed)]
        self.node.spec.bridges.append(BridgeSpec(bridge, f"{gw}/{chosen.prefixlen}"))  # described, then built
        try:
            self.lab.resolve_again()
            self.lab.apply(ops)
        except BaseException:
            self.node.spec.bridges.pop()
            self.lab.resolve_again()
            raise
        self._network_ops[name] = ops
        self.networks[name] = net
        return net

    def _overlay_create(self, name: str, subnet: str | None) -> Network:
        """An overlay network: one subnet across every Docker host of the lab, carried in VXLAN."""
        hosts = self.swarm.hosts
        def clash(candidate: IPv4Network) -> str:
            return next((c for c in (h._overlaps(candidate) for h in hosts) if c), "")
        if subnet is None:
            chosen = next((p for p in OVERLAY_POOLS if not clash(p)), None)
            if chosen is None:
                raise DockerError("could not find an available, non-overlapping IPv4 address pool")
        else:
            try:
                chosen = IPv4Network(subnet, strict=True)
            except ValueError as exc:
                raise DockerError(f"invalid subnet {subnet!r}: {exc}") from exc
            if clash(chosen):
                raise DockerError(f"Pool overlaps with other one on this address space ({clash(chosen)})")
        net_id = docker_id(self.lab.name, "swarm", "network", name)
        vni = 4096 + len(self.swarm.overlays) + 1     # Docker's overlay driver numbers VXLAN ids from 4097
        net = Network(name, net_id, "overlay", chosen, "br0", vni=vni)
        self.swarm.overlays[name] = net
        return net

    def _overlay_ns(self, net: Network) -> str:
        return f"{self.name}/ov-{net.name}"

    def _join_overlay(self, net: Network) -> list[Operation]:
        """Operations that give this host a VTEP for ``net`` (none if it has one already)."""
        members = self.swarm.members.setdefault(net.name, [])
        if self in members:
            return []
        if self.ip is None:
            raise DockerError(f"{self.name} has no LAN address to carry overlay traffic")
        ns, zero = self._overlay_ns(net), "00:00:00:00:00:00"
        ops: list[Operation] = [*namespace_operations(ns, self.lab.topology.ipv6),
                                AddBridge(ns, "br0", 30000),
                                AddVxlan(self.name, "vxlan0", net.vni or 0, self.ip, VXLAN_PORT, "br0", ns, None,
                                         interface_holding(self.lab.resolved(), self.name, self.ip))]
        # The same VTEP as the lab describes it (its forwarding entries below are state, not devices).
        self._new_vteps.append(Host(self.lab, NodeSpec(ns, NodeKind.HOST, role="overlay", bridges=[BridgeSpec("br0")],
                                                       vxlans=[VxlanSpec("vxlan0", net.vni or 0, self.ip, self.name,
                                                                         VXLAN_PORT, "br0")],
                                                       bridge_netfilter=True)))  # left as Docker leaves it
        for other in members:
            assert other.ip is not None
            ops += [AddFdb(ns, "vxlan0", zero, other.ip), AddFdb(other._overlay_ns(net), "vxlan0", zero, self.ip)]
            for c in other.containers.values():
                if net.name in c.endpoints:
                    ops.append(AddFdb(ns, "vxlan0", c.endpoints[net.name].mac, other.ip))
        return ops

    def _joined(self, net: Network) -> None:
        """Record that this host now has a VTEP for ``net`` (after its operations succeeded)."""
        if net.driver == "overlay" and self not in self.swarm.members.setdefault(net.name, []):
            self.swarm.members[net.name].append(self)

    def _overlaps(self, subnet: IPv4Network) -> str:
        for net in [*self.networks.values(), *self.swarm.overlays.values()]:
            if net.subnet is not None and net.subnet.overlaps(subnet):
                return f"{net.name}: {net.subnet}"
        for addr in self.node.addresses:
            if addr.network.overlaps(subnet) and addr.network != self.bridge_subnet:
                return f"{self.name}'s own network {addr.network}"
        return ""

    def network_rm(self, name: str) -> None:
        """``docker network rm``: only for user-defined networks without containers."""
        net = self._network(name)
        if net.builtin:
            raise DockerError(f"{name} is a pre-defined network and cannot be removed")
        if net.ips:
            raise DockerError(f"network {name} has active endpoints ({', '.join(sorted(net.ips))})")
        if net.driver == "overlay":
            for host in self.swarm.members.pop(name, []):
                self.lab.undo([AddNamespace(host._overlay_ns(net))])
                self.lab.retract([host._overlay_ns(net)])
            del self.swarm.overlays[name]
            return
        self.lab.undo(self._network_ops.pop(name))
        self.node.spec.bridges[:] = [b for b in self.node.spec.bridges if b.name != net.bridge]
        self.lab.resolve_again()
        del self.networks[name]

    def _network(self, name: str) -> Network:
        net = self.networks.get(name) or self.swarm.overlays.get(name)
        if net is None:
            known = ", ".join([*self.networks, *self.swarm.overlays])
            raise DockerError(f"network {name} not found (networks here: {known})")
        return net

    def _rule_ops(self, placed: list[PlacedRule]) -> list[Operation]:
        return [IptablesRule(self.name, p.rule.table, p.rule.chain, p.rule.args, p.position) for p in placed]

    # -- docker run / rm ---------------------------------------------------------------------------
    def run(self, name: str, command: str | list[str] = "sleep infinity", *, image: str = "netnb/none",
            network: str = "bridge", publish: dict[int, int] | None = None, publish_all: bool = False,
            expose: list[int] | tuple[int, ...] = (), ip: str | None = None) -> Container:
        """``docker run -d``: a container on ``network`` (``bridge``, ``none`` or one you created). (Running
        a command *on* the Docker host is ``docker_host.node.run(...)``; in a container, ``container.run``.)

        ``publish={49153: 8080}`` maps host port 49153 to container port 8080 (``-p 49153:8080``);
        ``publish_all=True`` maps every ``expose``d port to a free host port from 49153 up (``-P``).
        Everything is checked before anything is created.
        """
        self.lab.live()
        if name in self.containers:
            raise DockerError(f'the container name "/{name}" is already in use by container '
                              f'"{self.containers[name].id[:12]}"; remove it or choose another name')
        if not name or not all(c.isalnum() or c in "_.-" for c in name) or not name[0].isalnum():
            raise DockerError(f"invalid container name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        net = self._network(network)
        ports = self._ports_for(publish or {}, list(expose), publish_all)
        if ports and net.driver == "null":
            raise DockerError("a container on the 'none' network cannot publish ports")
        self._seq += 1
        c = Container(self, name, image, command, self._seq)
        c.exposed = sorted(set(expose) | {cp for _, cp, _ in ports})
        c.null, c.publish_all = net.driver == "null", publish_all
        c.hosts_file = os.path.join(self._dir, f"{name}.hosts")
        ops: list[Operation] = namespace_operations(c.name, self.lab.topology.ipv6)
        endpoint = self._endpoint(c, net, ip, default_route=True) if net.driver != "null" else None
        port_ops = []
        if endpoint is not None:
            for host_port, cport, proto in ports:
                port_ops += self._rule_ops(port_rules(net.bridge or "", str(endpoint.ip), host_port, cport, proto))
        # Described first (refused with nothing built if it does not fit), then built as described.
        vteps, self._new_vteps = self._new_vteps, []
        self.lab.extend([*vteps, c], [endpoint.link] if endpoint is not None and endpoint.link is not None else [])
        try:
            self.lab.apply(ops + (endpoint.ops if endpoint else []) + port_ops)
        except BaseException:
            self.lab.retract([c.name, *(v.name for v in vteps)])
            raise
        self._joined(net)
        c.base_ops, c.port_ops, c.ports = ops, port_ops, ports
        if endpoint is not None:
            c.endpoints[net.name] = endpoint
            net.ips[c.name] = endpoint.ip
        self.containers[name] = c
        self._write_all_hosts()
        for host_port, cport, proto in ports:
            c.proxies.append(self.node.popen([sys.executable, "-m", "netnb.docker.proxy", "-proto", proto,
                                         "-host-ip", "0.0.0.0", "-host-port", str(host_port),
                                         "-container-ip", str(c.ip), "-container-port", str(cport)]))
        for proxy, (host_port, _, proto) in zip(c.proxies, ports):  # docker run returns once its proxies listen
            try:
                proxy.wait_listening(host_port, proto=proto)
            except NetnbError as exc:
                raise DockerError(f"docker-proxy for {name} did not start: {exc}") from exc
        c.process = c.popen(command)
        return c

    def _ports_for(self, publish: dict[int, int], expose: list[int], publish_all: bool) -> list[tuple[int, int, str]]:
        used = {hp for c in self.containers.values() for hp, _, _ in c.ports}
        out: list[tuple[int, int, str]] = []
        for host_port, cport in publish.items():
            for p in (host_port, cport):
                if not (isinstance(p, int) and 1 <= p <= 65535):
                    raise DockerError(f"invalid port {p!r}: use 1-65535")
            if host_port in used:
                owner = next(c.container_name for c in self.containers.values() if any(hp == host_port for hp, _, _ in c.ports))
                raise DockerError(f"Bind for 0.0.0.0:{host_port} failed: port is already allocated (by {owner})")
            used.add(host_port)
            out.append((host_port, cport, "tcp"))
        if publish_all:
            mapped = {cp for _, cp, _ in out}
            for cport in expose:
                if cport in mapped:
                    continue
                free = next((p for p in range(self.port_range[0], self.port_range[1] + 1) if p not in used), None)
                if free is None:
                    raise DockerError(f"no free host port left in {self.port_range}")
                host_port = free
                used.add(host_port)
                out.append((host_port, cport, "tcp"))
        return out

    def _endpoint(self, c: Container, net: Network, ip: str | None, default_route: bool) -> Endpoint:
        """A new interface for ``c`` on ``net``: veth to the network's bridge, address, MAC, routes and,
        on an overlay, this host's VTEP and the forwarding entries the other hosts need."""
        addr = net.allocate(ip)
        ifname = f"eth{len(c.endpoints)}"
        mac = "02:42:" + ":".join(f"{b:02x}" for b in addr.packed)   # Docker derives the MAC from the IP
        veth = "veth" + hashlib.sha256(f"{c.id}/{net.id}".encode()).hexdigest()[:7]
        assert net.subnet is not None and net.bridge is not None
        ops: list[Operation] = []
        if net.driver == "overlay":
            ops += self._join_overlay(net)
            ops.append(AddVeth(self._overlay_ns(net), veth, c.name, ifname, mtu=OVERLAY_MTU, master=net.bridge,
                               peer_mac=mac))
        else:
            ops.append(AddVeth(self.name, veth, c.name, ifname, master=net.bridge, peer_mac=mac))
        cidr = f"{addr}/{net.subnet.prefixlen}"
        ops.append(AddAddress(c.name, ifname, cidr))
        if net.driver == "overlay":
            link = LinkSpec(self._overlay_ns(net), c.name, ip=(None, cidr), ifname=(veth, ifname), mtu=OVERLAY_MTU,
                            bridge=(net.bridge, None), mac=(None, mac))
        else:
            link = LinkSpec(self.name, c.name, ip=(None, cidr), ifname=(veth, ifname), bridge=(net.bridge, None),
                            mac=(None, mac))
        if default_route and net.driver == "bridge":
            ops.append(AddRoute(c.name, "0.0.0.0/0", str(net.gateway)))
            c.spec.routes.append(RouteSpec("default", via=str(net.gateway)))
        if net.driver == "overlay":
            assert self.ip is not None
            ops += [AddFdb(other._overlay_ns(net), "vxlan0", mac, self.ip)
                    for other in self.swarm.members.get(net.name, []) if other is not self]
        return Endpoint(net, ifname, veth, addr, mac, ops, link)

    def rm(self, container: Container | str, *, force: bool = True) -> None:
        """``docker rm -f``: stop it, remove its namespace, addresses, ports and rules."""
        c = self.container(container)
        for p in [*c.proxies, *([c.process] if c.process else [])]:
            p.stop(timeout=1)
        endpoint_ops = [op for e in c.endpoints.values() for op in e.ops if not _is_vtep_op(op)]
        self._forget_macs(list(c.endpoints.values()))
        self.lab.undo(c.base_ops + c.port_ops + endpoint_ops)
        for e in c.endpoints.values():
            e.network.ips.pop(c.name, None)
        del self.containers[c.container_name]
        self.lab.retract([c.name])
        self._write_all_hosts()

    def container(self, ref: Container | str) -> Container:
        """A container by name, short id or object."""
        if isinstance(ref, Container):
            return ref
        for c in self.containers.values():
            if ref in (c.container_name, c.id) or (len(ref) >= 4 and c.id.startswith(ref)):
                return c
        raise DockerError(f"No such container: {ref}")

    # -- docker network connect / disconnect -------------------------------------------------------
    def connect(self, container: Container | str, network: str, *, ip: str | None = None) -> None:
        """``docker network connect``: a new interface (eth1, eth2...) on that network."""
        c = self.container(container)
        net = self._network(network)
        if net.name in c.endpoints:
            raise DockerError(f"endpoint with name {c.container_name} already exists in network {net.name}")
        if net.driver == "null":
            raise DockerError(f"cannot connect a container to the {net.driver!r} network {net.name!r}")
        if c.null:
            raise DockerError("container cannot be connected to multiple networks with one of the networks in "
                              "private (none) mode")
        routes_before = list(c.spec.routes)
        endpoint = self._endpoint(c, net, ip, default_route=not c.endpoints)
        vteps, self._new_vteps = self._new_vteps, []
        try:
            self.lab.extend(vteps, [endpoint.link] if endpoint.link is not None else [])
            self.lab.apply(endpoint.ops)
        except BaseException:
            c.spec.routes[:] = routes_before
            self.lab.retract([v.name for v in vteps], [endpoint.link] if endpoint.link is not None else [])
            raise
        self._joined(net)
        c.endpoints[net.name] = endpoint
        net.ips[c.name] = endpoint.ip
        self._write_all_hosts()

    def disconnect(self, container: Container | str, network: str) -> None:
        """``docker network disconnect``: the interface on that network goes away."""
        c = self.container(container)
        net = self._network(network)
        endpoint = c.endpoints.pop(net.name, None)
        if endpoint is None:
            raise DockerError(f"container {c.container_name} is not connected to network {net.name}")
        self._forget_macs([endpoint])
        self.lab.undo([op for op in endpoint.ops if not _is_vtep_op(op)])
        if endpoint.link is not None:
            if any(isinstance(op, AddRoute) for op in endpoint.ops):
                c.spec.routes[:] = [r for r in c.spec.routes if r.via != str(net.gateway)]
            self.lab.retract(links=[endpoint.link])
        net.ips.pop(c.name, None)
        self._write_all_hosts()

    def _forget_macs(self, endpoints: list[Endpoint]) -> None:
        """Delete the other hosts' forwarding entries for overlay endpoints that go away."""
        assert self.ip is not None or not endpoints
        ops: list[Operation] = [
            DelFdb(other._overlay_ns(e.network), "vxlan0", e.mac, str(self.ip))
            for e in endpoints if e.network.driver == "overlay"
            for other in self.swarm.members.get(e.network.name, []) if other is not self]
        if ops:
            self.lab.apply(ops)

    # -- /etc/hosts: names resolve inside user-defined networks ------------------------------------
    def _write_all_hosts(self) -> None:
        for host in self.swarm.hosts:
            if host._dir:
                host._write_hosts()

    def _write_hosts(self) -> None:
        for c in self.containers.values():
            lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
            if c.ip:
                lines.append(f"{c.ip}\t{c.id[:12]}")
            peers: dict[str, str] = {}
            for e in c.endpoints.values():
                if e.network.builtin:
                    continue  # the default bridge has no name resolution, as in Docker
                for other, addr in sorted(e.network.ips.items()):
                    if other != c.name:
                        peers.setdefault(other.rsplit("/", 1)[-1], str(addr))
            lines += [f"{addr}\t{other}" for other, addr in peers.items()]
            text = "\n".join(lines) + "\n"
            # Rewritten in place: running containers have this very file bind-mounted on /etc/hosts.
            mode = "r+" if os.path.exists(c.hosts_file) else "w"
            with open(c.hosts_file, mode) as f:
                f.seek(0)
                f.write(text)
                f.truncate()
            os.chmod(c.hosts_file, 0o644)

    # -- looking ---------------------------------------------------------------------------------
    def ps(self, *, live: bool = True) -> Table:
        """``docker ps``: id, image, command, created, status, ports, names. ``live=False`` asks nothing of
        the lab (a container counts as up until it was removed): what the display shows."""
        rows = []
        now = time.time()
        for c in self.containers.values():
            cmd = c.command if isinstance(c.command, str) else shlex.join(c.command)
            cmd = f'"{cmd[:19]}…"' if len(cmd) > 20 else f'"{cmd}"'
            up = c.running if live else c.process is not None
            status = f"Up {ago(now - c.created)}" if up else "Exited"
            ports = ", ".join(f"0.0.0.0:{hp}->{cp}/{proto}" for hp, cp, proto in c.ports)
            rows.append([c.id[:12], c.image, cmd, f"{ago(now - c.created)} ago", status, ports, c.container_name])
        return Table(["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"], rows,
                     title=f"docker ps on {self.name}")

    def network_ls(self) -> Table:
        """``docker network ls``."""
        rows = [[n.id[:12], n.name, n.driver, n.scope, str(n.subnet or ""), n.bridge or ""]
                for n in [*self.networks.values(), *self.swarm.overlays.values()]]
        return Table(["NETWORK ID", "NAME", "DRIVER", "SCOPE", "SUBNET", "BRIDGE"], rows,
                     title=f"docker network ls on {self.name}")

    def inspect(self, ref: Container | str) -> dict[str, Any]:
        """``docker inspect``: a container's networking as Docker's JSON (a dict). Not ``Host.inspect()``,
        which reads a node's live interfaces, routes and ARP table: that is ``container.inspect()``, or
        ``docker_host.node.inspect()`` for the Docker host itself."""
        c = self.container(ref)
        first = next(iter(c.endpoints.values()), None)
        ports: dict[str, list[dict[str, str]] | None] = {f"{cp}/tcp": None for cp in c.exposed}
        for hp, cp, proto in c.ports:
            ports[f"{cp}/{proto}"] = [{"HostIp": "0.0.0.0", "HostPort": str(hp)}]
        networks = {
            e.network.name: {"NetworkID": e.network.id, "EndpointID": docker_id(c.id, e.network.id),
                             "Gateway": str(e.network.gateway), "IPAddress": str(e.ip),
                             "IPPrefixLen": e.network.subnet.prefixlen if e.network.subnet else 0,
                             "MacAddress": e.mac, "Aliases": None if e.network.builtin else [c.container_name]}
            for e in c.endpoints.values()
        }
        if not c.endpoints:
            none = self.networks["none"]
            networks = {"none": {"NetworkID": none.id, "Gateway": "", "IPAddress": "", "MacAddress": ""}}
        return {
            "Id": c.id,
            "Name": f"/{c.container_name}",
            "Config": {"Hostname": c.id[:12], "Image": c.image, "ExposedPorts": {f"{p}/tcp": {} for p in c.exposed},
                       "Cmd": shlex.split(c.command) if isinstance(c.command, str) else list(c.command)},
            "State": {"Status": "running" if c.running else "exited", "Running": c.running},
            "HostConfig": {"NetworkMode": next(iter(c.endpoints), "none") if c.endpoints else "none",
                           "PortBindings": {f"{cp}/{proto}": [{"HostIp": "", "HostPort": str(hp)}]
                                            for hp, cp, proto in c.ports},
                           "PublishAllPorts": c.publish_all},
            "NetworkSettings": {
                "IPAddress": str(first.ip) if first and first.network.builtin else "",
                "Gateway": str(first.network.gateway) if first and first.network.builtin else "",
                "MacAddress": first.mac if first and first.network.builtin else "",
                "Ports": ports,
                "Networks": networks,
            },
        }

    def iptables(self, args: str = "-t nat -nvL") -> str:
        """The real ``iptables`` output inside this host (counters included), e.g. ``iptables("-t nat -nvL")``."""
        return self.lab.live().firewall(self.name, shlex.split(args))

    def iptables_save(self) -> str:
        """``iptables-save`` inside this host."""
        return self.lab.live().firewall(self.name, ["save"])

    def nat(self) -> Table:
        """The nat table read now, as a table with packet and byte counters (``iptables -t nat -nvxL``)."""
        self.last_nat = rules_table(self.iptables("-t nat -nvxL"), f"nat table of {self.name}")
        return self.last_nat

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        parts = [self.ps(live=False), self.network_ls()] if self.lab.running else []  # no I/O in a display
        last_nat = getattr(self, "last_nat", None)
        if self.lab.running and last_nat is not None:
            parts.append(last_nat)
        text = repr(self) + "".join(f"\n\n{t.text()}" for t in parts)
        html_parts = "".join(t.html() for t in parts) or f"<p>{html.escape(repr(self))} (the lab is not running)</p>"
        note = "" if getattr(self, "last_nat", None) else "<p><i>ubuntu1.nat() reads the NAT table with its counters</i></p>"
        return {"text/plain": text, "text/html": html_parts + note.replace("ubuntu1", html.escape(self.name))}

    def __repr__(self) -> str:
        return f"<DockerHost {self.name!r}: {plural(len(getattr(self, 'containers', {})), 'container')}>"


def _is_vtep_op(op: Operation) -> bool:
    """Part of a host's VTEP (overlay namespace, VXLAN device, forwarding entries): it outlives the
    container whose arrival made it; a leaving container's own entries are deleted explicitly."""
    if isinstance(op, (AddFdb, AddVxlan)):
        return True
    return "/ov-" in op.node and not isinstance(op, AddVeth)


def _lan_gateway(lab: Lab, lan: Switch) -> str | None:
    """The gateway address of ``lan`` if the lab has an internet router on it."""
    for link in lab.topology.links:
        ends = {link.a, link.b}
        node = lab.topology.node(next(iter(ends - {lan.name}), ""))
        if lan.name in ends and node is not None and node.role == "internet" and node.kind is NodeKind.ROUTER:
            ip = link.ip if isinstance(link.ip, str) else None
            return ip.split("/")[0] if ip else None
    return None


