"""The simulation against the kernel: the same labs, the same actions, the same observations (§6 of the
design notes). The kernel half needs root; without it these tests skip and say why."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import pytest

import netnb

from tests import labs
from tests.conftest import kernel_available
from tests.sim.differential import compare, tutorial_outputs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = pytest.mark.skipif(kernel_available() is not None, reason=str(kernel_available()))

PING = {"count": 3, "interval": 0.2, "timeout": 2.0}


def _check(make, script, fdb=True):
    diffs = compare(make, script, fdb)
    assert not diffs, "the simulation differs from the kernel:\n" + "\n".join(diffs)


@pytest.mark.parametrize("hub", [False, True], ids=["switch", "hub"])
def test_three_pcs(hub):
    script = [
        ("capture", ["A", "B", "C", "sw"], [("ping", "A", "B", PING)], None),
        ("neigh", ["A", "B", "C"]),
        ("fdb",),
        ("run", "A", "ip -br addr; ip -br link; ip route; ip addr; ip link"),
        ("run", "sw", "bridge link; bridge fdb show br sw | grep -v permanent"),
        ("run", "B", "ip neigh"),
    ]
    _check(lambda backend: labs.three_pcs(f"d3-{hub:d}-{backend[0]}", hub=hub, backend=backend), script)


@pytest.mark.parametrize("forwarding", [True, False], ids=["router", "host"])
def test_routed(forwarding):
    script = [
        ("capture", ["A", "B", "C"], [("ping", "B", "10.0.2.2", PING)], None),
        ("neigh", ["A", "B", "C"]),
        ("ping", "B", "10.0.9.9", {"count": 1, "timeout": 1.0}),
        ("ping", "C", "10.0.2.1", PING),
        ("run", "B", "ip route; ip route get 10.0.2.2; ip route get 10.0.1.2"),
        ("run", "B", "ip -j addr; ip -j link; ip -j route; ip -j neigh; ip -j -br addr; ip -j -br link; "
                     "ip -4 -j addr show dev eth0; ip -4 -o addr; ip -o link"),
        # (`ip neigh` with several entries is left out: the kernel lists its neighbour hash table, whose order
        # depends on a random key; neighbours() compares them as sets above.)
        ("run", "A", "ip -j -br addr; ip -j route"),
    ]
    _check(lambda backend: labs.routed(f"dr-{forwarding:d}-{backend[0]}", forwarding=forwarding, backend=backend),
           script)


def test_unanswered_arp():
    script = [
        # (Sent 0.7 s apart: none at the very moment ARP gives up, 3 s after the first request, when the
        # kernel's outcome is a race between ping's timer and the neighbour timer.)
        ("capture", ["A"], [("ping", "A", "10.0.0.9", {"count": 5, "interval": 0.7, "timeout": 2.0})], None),
        ("neigh", ["A"]),
        ("ping", "A", "10.0.0.9", {"count": 2, "interval": 0.2, "timeout": 1.0}),
    ]
    _check(lambda backend: labs.three_pcs(f"dna-{backend[0]}", backend=backend), script)


@pytest.mark.parametrize("seed", range(6))
def test_generated(seed):
    lab = labs.random_lab(seed, "probe", backend="sim", nat=False, docker=False, vm=False)
    hosts = [n.name for n in lab if n.kind.value == "host"]
    routers = [n.name for n in lab if n.kind.value == "router"]
    script = [("ping", hosts[0], h, {"count": 1, "timeout": 1.0}) for h in hosts[1:]]
    script += [("ping", hosts[-1], "r0", {"count": 1, "timeout": 1.0})]
    script += [("neigh", hosts + routers), ("fdb",)]
    script += [("run", r, "ip route") for r in routers]
    _check(lambda backend: labs.random_lab(seed, f"dg{seed}-{backend[0]}", backend=backend, nat=False, docker=False,
                                           vm=False), script)


def test_startup_commands():
    """A lab addressed and firewalled by startup commands (as Kathará labs are): what each printed, and what
    the firewall they set up then lets through."""
    def make(backend):
        lab = labs.startup_pair(f"su-{backend[0]}", backend=backend)
        lab["A"].startup("sysctl -w net.ipv4.ip_forward=0", "iptables -A INPUT -p icmp --icmp-type echo-request "
                         "-s 10.0.0.2 -m conntrack --ctstate NEW -j ACCEPT", "iptables -P INPUT DROP",
                         "iptables -nvL INPUT", "ip -br addr")
        return lab

    _check(make, [("startup",), ("ping", "B", "10.0.0.1", PING), ("run", "A", "iptables -nvL INPUT"),
                  ("ping", "A", "10.0.0.2", {"count": 1, "timeout": 1.0}),
                  ("run", "B", "".join(f"iptables -A INPUT -p icmp --icmp-type {t} -j ACCEPT; " for t in (
                      "echo-request", "8", "3/3", "port-unreachable", "any", "time-exceeded", "0", "bogus", "3/300"))
                   + "iptables -A INPUT -p icmp ! --icmp-type echo-reply -j DROP; "
                               "iptables -nvL INPUT; iptables -S INPUT; iptables-save | grep -c icmp")])


def test_extra_addresses():
    """A router's loopback address and a host's second address on one interface: what ip shows, what routes
    the kernel makes of them, and that they answer."""
    script = [("run", "R", "ip addr show lo; ip -br addr; ip route show table local | grep -v 127"),
              ("run", "A", "ip addr show eth0; ip -4 -o addr; ip route; ip -j addr show eth0; ip route show table local"),
              ("ping", "B", "10.255.0.1", {"count": 1, "timeout": 1.0}),
              ("ping", "B", "10.0.1.12", {"count": 1, "timeout": 1.0})]
    _check(lambda backend: labs.extra_addresses(f"ex-{backend[0]}", backend=backend), script)


def test_reverse_path_filter():
    """rp_filter off, strict and loose (all, and per device) on a router whose route back to a sender leaves by
    another interface: what its INPUT counter sees of the sender's pings."""
    one = {"count": 1, "timeout": 1.0}
    script = [("run", "A", "sysctl net.ipv4.conf.all.rp_filter net.ipv4.conf.default.rp_filter "
                           "net.ipv4.conf.eth0.rp_filter; iptables -A INPUT -p icmp; "
                           "ip route add 10.0.1.2/32 via 10.0.2.2"),
              ("ping", "B", "10.0.1.1", one), ("run", "A", "iptables -nvL INPUT"),
              ("run", "A", "sysctl -w net.ipv4.conf.all.rp_filter=1"),
              ("ping", "B", "10.0.1.1", one), ("run", "A", "iptables -nvL INPUT"),
              ("run", "A", "sysctl -w net.ipv4.conf.all.rp_filter=2"),
              ("ping", "B", "10.0.1.1", one), ("run", "A", "iptables -nvL INPUT"),
              ("run", "A", "sysctl -w net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.eth0.rp_filter=1"),
              ("ping", "B", "10.0.1.1", one), ("run", "A", "iptables -nvL INPUT")]
    _check(lambda backend: labs.routed(f"rp-{backend[0]}", backend=backend), script)


def test_an_imported_kathara_lab():
    """A Kathará lab folder, unmodified (tests/importers/labs/kathara-static): what its startup files print,
    the routes they describe, and every pair of its hosts."""
    folder = os.path.join(REPO, "tests", "importers", "labs", "kathara-static")
    pairs = [("ping", a, b, {"count": 1, "timeout": 1.0}) for a in ("pc1", "pc3", "r1") for b in ("pc2", "r2", "pc3")
             if a != b]
    _check(lambda backend: netnb.load(folder, backend=backend),
           [("startup",), *pairs, ("run", "r2", "ip route; ip -br addr"), ("run", "r1", "ip route; ip addr show lo")])


def test_a_vxlan_tunnel_between_two_hosts():
    """node.vxlan(...): the overlay answers across a router that has no route to it, with the overlay's MTU."""
    script = [("ping", "A", "10.9.0.2", PING), ("run", "A", "ip -br addr; ip route; ip -br link show vx0"),
              ("run", "R", "ip route"), ("ping", "C", "10.9.0.1", {"count": 1, "size": 1422, "timeout": 1.0}),
              ("ping", "C", "10.9.0.1", {"count": 1, "size": 1423, "timeout": 1.0, "dont_fragment": True})]
    # (1423 bytes without DF: the kernel fragments, the simulation refuses saying it does not fragment)
    _check(lambda backend: labs.vxlan_pair(f"vx-{backend[0]}", backend=backend), script)


def test_statistic_match():
    """iptables' statistic match: every third packet (nth), and random with probabilities 0 and 1 (which
    draw no chance), as counters and as iptables lists them; a random DNAT spreads connections (Kathará's
    random web switch) — which connection goes where is not compared, the kernel draws its own numbers."""
    six = {"count": 6, "interval": 0.1, "timeout": 2.0}
    script = [("run", "A", "iptables -A INPUT -p icmp -m statistic --mode nth --every 3 --packet 0 -j ACCEPT; "
                           "iptables -A INPUT -p icmp -m statistic --mode nth --every 2 --packet 1; "
                           "iptables -A INPUT -p icmp -m statistic --mode random --probability 1 -j ACCEPT; "
                           "iptables -A INPUT -p icmp -m statistic --mode random ! --probability 0.33 -j ACCEPT; "
                           "iptables -A INPUT -p icmp -m statistic --mode random --probability 0 -j DROP; "
                           "iptables -A INPUT -m statistic --mode random; iptables -A INPUT -m statistic ! --mode nth "
                           "--every 2 --packet 0; iptables -A INPUT -m statistic --mode nth --every 2 --packet 2; "
                           "iptables -A INPUT -m statistic --mode random --probability 2; iptables -S INPUT"),
              ("ping", "B", "10.0.1.1", six), ("run", "A", "iptables -nvxL INPUT; iptables-save | grep statistic")]
    _check(lambda backend: labs.routed(f"st-{backend[0]}", backend=backend), script)


def test_a_multipath_route():
    """A multipath (ECMP) route: how ip shows it, that every address behind it answers, what a path whose
    interface goes down shows (dead) and that the other path carries everything then, and its return.
    (Which flow takes which path is not compared: the kernel seeds its hash at random each boot.)"""
    one = {"count": 1, "timeout": 1.0}
    pings = [("ping", "A", f"10.9.0.{i}", one) for i in range(1, 17)]
    script = [("run", "A", "ip route; ip -j route; ip route show 10.9.0.0/24"), *pings,
              ("run", "A", "ip link set eth0 down; ip route; ip -j route show 10.9.0.0/24"), *pings,
              ("run", "A", "ip link set eth0 up; ip route show 10.9.0.0/24"),
              ("run", "A", "ip link set eth0 down; ip link set eth1 down; ip route; ip link set eth0 up; "
                           "ip link set eth1 up; ip route add 10.8.0.0/24 nexthop via 10.0.1.2 weight 3 nexthop "
                           "via 10.0.2.2 dev eth1; ip route; ip route del 10.8.0.0/24; ip route")]
    _check(lambda backend: labs.ecmp(f"mp-{backend[0]}", backend=backend), script)


def test_a_rate_limited_link_as_tc_shows_it():
    """rate= on a link: the tbf qdiscs as tc and ip show them (text, JSON, counters after pings), changed
    and removed with tc, and what tc says of a qdisc this kernel lacks."""
    one = {"count": 1, "timeout": 1.0}
    script = [("run", "A", "tc qdisc show; tc -j qdisc show; ip link show eth0"), ("run", "R", "tc qdisc show"),
              ("ping", "A", "10.0.2.2", {"count": 2, "interval": 0.2, "timeout": 1.0}),
              ("run", "A", "tc -s qdisc show dev eth0; tc -s -j qdisc show dev eth0"),
              ("run", "R", "tc qdisc replace dev eth0 root tbf rate 1234567bit burst 4096 latency 20ms; tc qdisc show "
                           "dev eth0; tc qdisc add dev eth0 root tbf rate 1mbit burst 4k limit 20000; "
                           "tc qdisc add dev eth1 root netem delay 10ms; tc qdisc del dev eth1 root; "
                           "tc qdisc add dev eth1 root tbf rate 64kbit burst 3028 latency 1s; tc qdisc show"),
              ("run", "R", "tc qdisc del dev eth0 root; tc qdisc del dev eth1 root; tc -s qdisc show; ip -br link"),
              ("ping", "A", "10.0.2.2", one)]
    _check(lambda backend: labs.rated(f"rt-{backend[0]}", backend=backend), script)


def test_a_rate_limited_download_takes_as_long():
    """500 kB from B to A through R, whose end towards A sends 2 Mbit/s: about 2 s on both backends (the
    kernel's TCP loses segments at the queue and sends them again; the simulation's waits — see
    netnb.backends.sim.world.Shaper), and the same bytes reach A."""
    took = {}
    for backend in ("kernel", "sim"):
        with labs.rated(f"rd-{backend[0]}", backend=backend) as lab:
            lab["B"].popen("python3 -m http.server 8080 --directory /srv").wait_listening(8080)
            out = lab["A"].run("curl -s -o /dev/null -w '%{time_total} %{size_download}' http://10.0.2.2:8080/big",
                               check=True).stdout.split()
            assert out[1] == "500000", (backend, out)
            took[backend] = float(out[0])
    ideal = 500_000 * 8 / 2_000_000
    assert all(ideal * 0.95 < t < ideal * 1.25 for t in took.values()), took
    assert abs(took["kernel"] - took["sim"]) < 0.2 * ideal, took


def test_node_files():
    """A node's own files (given in the description, written by redirections, removed), and a web server
    serving them to another node; the other node has none of them."""
    script = [("run", "web", "cat /srv/www/index.html /etc/netnb-test/hosts; ls /srv/www; ls /srv/www/notes"),
              ("popen", "web", "python3 -m http.server 80 --bind 10.0.0.1 --directory /srv/www", 80),
              ("run", "client", "curl -s http://10.0.0.1/; curl -s http://10.0.0.1/notes/todo.txt; "
                                "curl -s -o /dev/null -w '%{http_code}' http://10.0.0.1/missing"),
              ("run", "web", "echo one > /srv/note; echo two >>/srv/note; cat /srv/note | tee /srv/copy; "
                             "cat /srv/missing 2> /srv/err; cat /srv/err; rm /srv/note; cat /srv/note; "
                             "rm /srv/note; rm -f /srv/note; cat /srv/copy"),
              ("run", "client", "cat /srv/www/index.html /srv/copy /etc/netnb-test/hosts")]
    _check(lambda backend: labs.web_files(f"fi-{backend[0]}", backend=backend), script)


def test_firewall_api():
    """A router's firewall given as iptables lines in the description (policy, conntrack, DNAT, a user chain
    behind a negated match): what passes, what the counters say, what iptables prints."""
    script = [("ping", "inside", "outside", {"count": 1, "timeout": 1.0}),
              ("ping", "outside", "inside", {"count": 1, "timeout": 1.0}),
              ("popen", "inside", "python3 -m http.server 8080", 8080),
              # (a missing page: Python's 404 is the same bytes on both; a directory listing is not)
              ("run", "outside", "curl -s -o /dev/null -w '%{http_code}' http://10.0.2.1/nothing-here"),
              ("run", "R", "iptables -A FORWARD -m state --state ESTABLISHED,INVALID -j LOG; "
                           "iptables -A FORWARD -m conntrack --ctstate BOGUS -j LOG; iptables -nvxL; iptables -t nat -nvxL; iptables -S; iptables-save -t nat | grep -v '^#'")]
    _check(lambda backend: labs.firewalled(f"fw-{backend[0]}", backend=backend), script)


def test_nat_and_firewall():
    def make(backend):
        lab = labs.routed(f"dn-{backend[0]}", backend=backend)
        lab["A"].masquerade("10.0.1.0/24", out="eth1")
        return lab

    script = [
        ("capture", ["A", "C"], [("ping", "B", "10.0.2.2", PING)], None),
        ("run", "A", "iptables -t nat -nvL; iptables -nvL; iptables-save | grep -v '^#'; iptables -S; "
                     "iptables -t nat -L -n --line-numbers; iptables -t nat -nvxL POSTROUTING; iptables -L FORWARD"),
        ("run", "A", "cat /proc/net/nf_conntrack"),
        ("run", "A", "iptables -A FORWARD -p icmp -j REJECT && iptables -I FORWARD 1 -s 10.0.2.0/24 -j DROP && "
                     "iptables -N LOGME && iptables -A LOGME -p udp --sport 53 -j LOG && iptables -A INPUT -j LOGME"),
        ("ping", "B", "10.0.2.2", {"count": 1, "timeout": 1.0}),
        ("ping", "C", "10.0.1.2", {"count": 1, "timeout": 1.0}),
        ("run", "A", "iptables -D FORWARD 1 && iptables -D FORWARD 1"),
        ("capture", ["A"], [("run", "B", "traceroute -n -q 1 -w 1 10.0.2.2")], None),
        ("run", "A", "iptables -nvL; iptables -S; iptables -D FORWARD 9; iptables -X LOGME; iptables -A NOPE -j DROP; "
                     "iptables -t nat -A POSTROUTING -j BOGUS; iptables -P FORWARD DROP && iptables -L FORWARD -n"),
    ]
    _check(make, script)


def test_http_and_tcp():
    def make(backend):
        lab = labs.routed(f"dh-{backend[0]}", backend=backend)
        return lab

    script = [
        ("popen", "C", "python3 -m http.server 8080", 8080),
        ("capture", ["A", "C"], [
            ("run", "B", "curl -s -o /dev/null -w '%{http_code}' http://10.0.2.2:8080/nonexistent"),
        ], None),
        ("run", "B", "curl -sS -m 2 http://10.0.2.2:8081/; echo rc=$?; nc -z -v -w 1 10.0.2.2 8080; echo rc=$?; "
                     "nc -z -w 1 10.0.2.2 8081; echo rc=$?"),
        ("capture", ["C"], [("run", "B", "nc -z -w 1 10.0.2.2 8081")], None),
    ]
    _check(make, script)


def test_traceroute_and_ttl():
    def make(backend):
        lab = labs.routed(f"dt-{backend[0]}", backend=backend)
        return lab

    script = [
        ("capture", ["A"], [("run", "B", "traceroute -n -w 1 -q 1 10.0.2.2")], None),
        ("run", "B", "traceroute -n -w 1 -q 2 -m 3 10.0.2.2; traceroute -n -m 2 -w 1 -q 1 10.0.9.9"),
        ("run", "B", "ping -c 1 -t 1 10.0.2.2"),
    ]
    _check(make, script)


@pytest.mark.parametrize("seed", range(8))
def test_generated_with_nat_docker_and_vms(seed):
    lab = labs.random_lab(seed, "probe", backend="sim")
    hosts = [n.name for n in lab if n.kind.value == "host" and "/" not in n.name]
    routers = [n.name for n in lab if n.kind.value == "router"]
    nat = [n.name for n in lab if n.spec.rules]
    docker = [n.name for n in lab if n.spec.role == "docker-host"]
    script: list = [("ping", hosts[0], h, {"count": 1, "timeout": 1.0}) for h in hosts[1:]]
    script += [("vm-ping", "vm", h) for h in hosts[:3]] + [("vm-ping", "vm", "r0")]
    script += [("ping", h, "r0", {"count": 1, "timeout": 1.0}) for h in hosts[-2:]]
    script += [("run", n, "iptables -t nat -nvL; iptables-save | grep -v '^#'") for n in nat + docker]
    script += [("neigh", hosts + routers), ("fdb",)]
    _check(lambda backend: labs.random_lab(seed, f"dx{seed}-{backend[0]}", backend=backend), script)


TUTORIALS = sorted(glob.glob(os.path.join(REPO, "notebooks", "[0-9][0-9]-*.py")))


@pytest.mark.parametrize("path", TUTORIALS, ids=os.path.basename)
def test_tutorial_shows_the_same(path, tmp_path):
    """Every cell of a tutorial prints and shows the same on both backends (what is random or timed aside)."""
    outputs = {}
    for backend in ("kernel", "sim"):
        record = tmp_path / f"{backend}.json"
        argv = [sys.executable, os.path.join(REPO, "tests", "sim", "run_notebook.py"), path, "--record", str(record)]
        done = subprocess.run(argv + (["--kernel"] if backend == "kernel" else []), capture_output=True, text=True,
                              timeout=600, cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO))
        assert done.returncode == 0, f"{backend}: {done.stderr[-3000:]}"
        outputs[backend] = tutorial_outputs(json.loads(record.read_text()))
    diffs = [f"cell {k[0]}:\n--- kernel\n{k[1]}{k[2]}\n--- sim\n{s[1]}{s[2]}"
             for k, s in zip(outputs["kernel"], outputs["sim"]) if k != s]
    assert not diffs, f"{os.path.basename(path)} differs:\n" + "\n".join(diffs)


def test_stp_priorities_choose_the_root():
    """Bridge priorities make s2 the root and s1 its second: so the port that blocks is s3's towards s1 on
    both backends, whatever the random MACs (which decide between equal priorities)."""
    script = [("stp",), ("ping", "A", "B", PING)] + [("run", s, "bridge link") for s in ("s1", "s2", "s3")]
    _check(lambda backend: labs.stp_ring(f"dp-{backend[0]}", backend=backend, priorities=(8192, 4096, None)),
           script, fdb=False)


def test_stp_path_cost_moves_the_blocked_port():
    """The same ring with s2–s3 made dear (cost 100 on both its ports): s3 reaches the root s2 through s1,
    so the port that blocks is s3's towards s2, not towards s1."""
    script = [("stp",), ("ping", "A", "B", PING)] + [("run", s, "bridge link") for s in ("s1", "s2", "s3")]
    _check(lambda backend: labs.stp_ring(f"dc-{backend[0]}", backend=backend, priorities=(8192, 4096, None),
                                         cost=100), script, fdb=False)


def test_switch_port_options():
    """Isolated ports reach the others but not each other; a port that does not learn makes every frame to
    its host unknown, flooded — but not to a port with flooding off (a capture there sees only broadcast
    ARP); what bridge and ip show of each option; options changed with bridge link set."""
    one = {"count": 1, "timeout": 1.0}
    script = [("ping", "A", "10.0.0.2", one), ("ping", "A", "10.0.0.3", one), ("ping", "B", "10.0.0.4", one),
              ("capture", [("D", "eth0")], [("ping", "A", "10.0.0.3", {"count": 2, "interval": 0.2,
                                                                       "timeout": 1.0})], None),
              ("fdb",), ("run", "sw", "bridge -d link show; bridge -j link show; "
                            "ip -d link show C-eth0 | grep -o 'bridge_slave.*port_no [^ ]* designated_port [0-9]*'"),
              ("run", "sw", "bridge link set dev C-eth0 learning on flood off; bridge link set dev A-eth0 isolated "
                            "off hairpin on cost 50 priority 10; ip link set dev D-eth0 type bridge_slave flood on; "
                            "bridge -d link show; bridge -j link show dev A-eth0; "
                            "ip -d link show A-eth0 | grep -o 'bridge_slave.*port_no [^ ]* designated_port [0-9]*'")]
    _check(lambda backend: labs.switch_ports(f"po-{backend[0]}", backend=backend), script)


def test_stp_ring():
    """Three STP switches in a ring: one port blocks, the others forward once listening and learning are
    over, and hosts on two of them reach each other around the cut."""
    script = [("stp",), ("ping", "A", "B", PING), ("stp",), ("run", "A", "ip -br addr")]
    # Known difference, left out here: while the tree converges, the kernel's ports learn the MACs of the
    # neighbours' BPDUs on every link (also the one that ends up blocking); the simulation, which sends no
    # topology-change notifications, learns fewer of them. What a user relies on — which port blocks,
    # that the others forward, that hosts reach each other — is compared.
    _check(lambda backend: labs.stp_ring(f"ds-{backend[0]}", backend=backend), script, fdb=False)
