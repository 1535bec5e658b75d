"""Lab descriptions shared by unit and kernel tests (the issue's two contract examples)."""

from __future__ import annotations

from typing import Any

import netnb


def three_pcs(name: str = "three-pcs", *, hub: bool = False, backend: str | None = None) -> netnb.Lab:
    """Three hosts on one switch (or hub), 10.0.0.1-3/24."""
    lab = netnb.Lab(name, backend=backend)
    a, b, c = lab.host("A"), lab.host("B"), lab.host("C")
    sw = lab.hub("sw") if hub else lab.switch("sw")
    lab.link(a, sw, ip="10.0.0.1/24")
    lab.link(b, sw, ip="10.0.0.2/24")
    lab.link(c, sw, ip="10.0.0.3/24")
    return lab


def routed(name: str = "routed", *, forwarding: bool = True, backend: str | None = None) -> netnb.Lab:
    """Host A with two NICs between B (10.0.1.0/24) and C (10.0.2.0/24); a router unless told otherwise."""
    lab = netnb.Lab(name, backend=backend)
    a = lab.router("A") if forwarding else lab.host("A")
    b, c = lab.host("B"), lab.host("C")
    lab.link(a, b, ip=("10.0.1.1/24", "10.0.1.2/24"))
    lab.link(a, c, ip=("10.0.2.1/24", "10.0.2.2/24"))
    b.route("default", via="10.0.1.1")
    c.route("default", via="10.0.2.1")
    return lab


def startup_pair(name: str = "startup", *, backend: str | None = "sim") -> netnb.Lab:
    """Two hosts on a cable, addressed only by their startup commands (as a Kathará lab is); B's last
    command pings A, so it needs A's to have run first."""
    lab = netnb.Lab(name, backend=backend)
    a, b = lab.host("A"), lab.host("B")
    lab.link(a, b)
    a.startup("ip addr add 10.0.0.1/24 dev eth0", "echo A is up")
    b.startup("ip addr add 10.0.0.2/24 dev eth0", "ping -c 1 -W 1 10.0.0.1")
    return lab


def firewalled(name: str = "firewalled", *, backend: str | None = "sim") -> netnb.Lab:
    """inside (10.0.1.2) - R - outside (10.0.2.2): R drops what the outside starts, except HTTP to its
    port 80, which it DNATs to inside:8080."""
    lab = netnb.Lab(name, backend=backend)
    r, i, o = lab.router("R"), lab.host("inside"), lab.host("outside")
    lab.link(i, r, ip=("10.0.1.2/24", "10.0.1.1/24"))
    lab.link(r, o, ip=("10.0.2.1/24", "10.0.2.2/24"))
    i.route("default", via="10.0.1.1")
    o.route("default", via="10.0.2.1")
    r.firewall("-P FORWARD DROP", "-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
               "-A FORWARD -i eth0 -o eth1 -j ACCEPT",
               "-t nat -A PREROUTING -i eth1 -p tcp --dport 80 -j DNAT --to-destination 10.0.1.2:8080",
               "-A FORWARD -i eth1 -p tcp -d 10.0.1.2 --dport 8080 -j ACCEPT", "-N LOGGED",
               "-A LOGGED -j DROP", "-A INPUT -i eth1 -p udp ! --dport 53 -j LOGGED")
    return lab


def extra_addresses(name: str = "extra", *, backend: str | None = "sim") -> netnb.Lab:
    """A - R - B with R known by a loopback address (10.255.0.1/32) and A holding a second address on
    eth0 (10.0.1.12/24); B reaches both through R."""
    lab = netnb.Lab(name, backend=backend)
    a, r, b = lab.host("A"), lab.router("R"), lab.host("B")
    lab.link(a, r, ip=("10.0.1.2/24", "10.0.1.1/24"))
    lab.link(r, b, ip=("10.0.2.1/24", "10.0.2.2/24"))
    r.address("10.255.0.1/32")
    a.address("10.0.1.12/24", dev="eth0")
    a.route("default", via="10.0.1.1")
    b.route("default", via="10.0.2.1")
    return lab


def stp_ring(name: str = "stp-ring", *, backend: str | None = None,
             priorities: tuple[int | None, int | None, int | None] = (None, None, None),
             cost: int | None = None) -> netnb.Lab:
    """Three STP switches in a ring (one port must block), host A on s1 and B on s3, 10.0.0.1-2/24;
    ``priorities`` of s1, s2, s3 (None: the default); ``cost``: the path cost of both ports of s2–s3."""
    lab = netnb.Lab(name, backend=backend)
    s1, s2, s3 = (lab.switch(f"s{i}", stp=True, priority=p) for i, p in zip((1, 2, 3), priorities))
    lab.link(s1, s2)
    lab.link(s2, s3, port=None if cost is None else netnb.PortOptions(cost=cost))
    lab.link(s3, s1)
    lab.link(lab.host("A"), s1, ip="10.0.0.1/24")
    lab.link(lab.host("B"), s3, ip="10.0.0.2/24")
    return lab


def random_lab(seed: int, name: str | None = None, *, backend: str | None = None, nat: bool = True,
               docker: bool = True, vm: bool = True) -> netnb.Lab:
    """A generated lab: a random tree of routers and switches (some hubs) with hosts, static routes towards
    the root, NAT on some routers, and on one host a bridge with a VM's TAP and an inner veth pair. The
    same seed gives the same lab; ``nat``, ``docker`` and ``vm`` False leave those parts out (the same
    random draws are made, so the rest of the lab stays the same)."""
    import random

    rnd = random.Random(seed)
    lab = netnb.Lab(name or f"gen{seed}", backend=backend)
    routers = [lab.router("r0")]
    next_net = iter(range(1, 250))
    hosts: list[netnb.Host] = []
    for i in range(1, rnd.randint(2, 4)):
        parent = rnd.choice(routers)
        child = lab.router(f"r{i}")
        net = next(next_net)
        lab.link(parent, child, ip=(f"10.{seed % 200}.{net}.1/24", f"10.{seed % 200}.{net}.2/24"))
        child.route("default", via=f"10.{seed % 200}.{net}.1")
        routers.append(child)
        if rnd.random() < 0.5 and nat:
            parent.masquerade(f"10.{seed % 200}.{net}.0/24", out=f"eth{len([lk for lk in lab.topology.links if parent.name in (lk.a, lk.b)]) - 1}")
    for j, router in enumerate(routers):
        net = next(next_net)
        sw = (lab.hub if rnd.random() < 0.3 else lab.switch)(f"s{j}", subnet=f"10.{seed % 200}.{net}.0/24")
        lab.link(router, sw)
        for k in range(rnd.randint(1, 3)):
            h = lab.host(f"h{j}{k}")
            lab.link(h, sw)
            h.route("default", via=f"10.{seed % 200}.{net}.1")
            hosts.append(h)
    if rnd.random() < 0.6 and docker:  # a Docker host: docker0, Docker's chains, policies and rules
        from netnb.docker import DockerHost

        first = next(lk for lk in lab.topology.links if lk.b == "s0")
        DockerHost(lab, "dk", lab["s0"], ip=str(lab.resolved().node(first.a).addresses[-1].network[200]))
    box = rnd.choice(hosts)
    box.bridge("br0", ip=f"10.{200 + seed % 50}.0.1/24")
    box.veth("v-in", "v-out", master=("br0", None), ip=(None, f"10.{200 + seed % 50}.1.1/24"))
    if vm:
        lab.vm("vm", box, bridge="br0", ip=f"10.{200 + seed % 50}.0.2/24", gateway=f"10.{200 + seed % 50}.0.1")
    return lab


def web_files(name: str = "files", *, backend: str | None = "sim") -> netnb.Lab:
    """A web server whose page and notes are files of its own (as a Kathará node folder gives them), and a
    client: client 10.0.0.2 - web 10.0.0.1."""
    lab = netnb.Lab(name, backend=backend)
    web, client = lab.host("web"), lab.host("client")
    lab.link(client, web, ip=("10.0.0.2/24", "10.0.0.1/24"))
    web.file("/srv/www/index.html", "<h1>served from web's own files</h1>\n")
    web.file("/srv/www/notes/todo.txt", "ping client\n", mode=0o600)
    web.file("/etc/netnb-test/hosts", "10.0.0.1 web\n10.0.0.2 client\n")
    return lab


def vxlan_pair(name: str = "vxlan-pair", *, backend: str | None = "sim") -> netnb.Lab:
    """A and C on two subnets joined by router R (the underlay), and a VXLAN tunnel between A and C
    carrying 10.9.0.0/24, which R never learns (the article's overlay, by hand)."""
    lab = netnb.Lab(name, backend=backend)
    a, c, r = lab.host("A"), lab.host("C"), lab.router("R")
    lab.link(a, r, ip=("192.168.1.2/24", "192.168.1.1/24"))
    lab.link(c, r, ip=("192.168.2.2/24", "192.168.2.1/24"))
    a.route("default", via="192.168.1.1")
    c.route("default", via="192.168.2.1")
    a.vxlan("vx0", 42, local="192.168.1.2", remote="192.168.2.2", ip="10.9.0.1/24")
    c.vxlan("vx0", 42, local="192.168.2.2", remote="192.168.1.2", ip="10.9.0.2/24")
    return lab


def ecmp(name: str = "ecmp", *, backend: Any = "sim", paths: int = 16) -> netnb.Lab:
    """A reaches B's ``paths`` loopback addresses 10.9.0.1-N through R1 or R2: one multipath route on A
    (via 10.0.1.2 and 10.0.2.2), plain routes on the routers and back from B."""
    lab = netnb.Lab(name, backend=backend)
    a, r1, r2, b = lab.host("A"), lab.router("R1"), lab.router("R2"), lab.host("B")
    lab.link(a, r1, subnet="10.0.1.0/24")
    lab.link(a, r2, subnet="10.0.2.0/24")
    lab.link(r1, b, subnet="10.0.3.0/24")
    lab.link(r2, b, subnet="10.0.4.0/24")
    for i in range(1, paths + 1):
        b.address(f"10.9.0.{i}/32")
    a.route("10.9.0.0/24", via=["10.0.1.2", "10.0.2.2"])
    r1.route("10.9.0.0/24", via="10.0.3.2")
    r2.route("10.9.0.0/24", via="10.0.4.2")
    b.route("10.0.1.0/24", via="10.0.3.1")
    b.route("10.0.2.0/24", via="10.0.4.1")
    return lab


def switch_ports(name: str = "ports", *, backend: Any = "sim") -> netnb.Lab:
    """A, B, C, D on switch sw (10.0.0.1-4/24): A's and B's ports isolated, C's learns nothing (so frames
    to C are flooded), D's gets no flooded unknown unicast."""
    lab = netnb.Lab(name, backend=backend)
    sw = lab.switch("sw", subnet="10.0.0.0/24")
    options = {"A": netnb.PortOptions(isolated=True), "B": netnb.PortOptions(isolated=True),
               "C": netnb.PortOptions(learning=False), "D": netnb.PortOptions(flood=False)}
    for host, port in options.items():
        lab.link(lab.host(host), sw, port=port)
    return lab


def rated(name: str = "rated", *, backend: Any = "sim", rate: Any = ("8mbit", "2mbit"), size: int = 500_000
          ) -> netnb.Lab:
    """A - R - B, 10.0.1.0/24 and 10.0.2.0/24, the A–R link limited to ``rate`` (A's end 8 Mbit/s, R's end
    2 Mbit/s by default); B serves /srv/big (``size`` bytes) over HTTP once started by the caller."""
    lab = netnb.Lab(name, backend=backend)
    a, r, b = lab.host("A"), lab.router("R"), lab.host("B")
    lab.link(a, r, ip=("10.0.1.2/24", "10.0.1.1/24"), rate=rate)
    lab.link(r, b, ip=("10.0.2.1/24", "10.0.2.2/24"))
    a.route("default", via="10.0.1.1")
    b.route("default", via="10.0.2.1")
    b.file("/srv/big", b"x" * size)
    return lab
