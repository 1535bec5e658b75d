"""Labs of other tools, unmodified: Kathará folders, containerlab topologies, Mininet topologies (the fixture
labs in tests/importers/labs are written the way those tools' users write them)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import netnb
from netnb.importers.mininet import LinearTopo, SingleSwitchTopo, Topo, topo_lab
from netnb.labfile import ping_matrix

LABS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "labs")
KATHARA = os.path.join(LABS, "kathara-static")
CLAB = os.path.join(LABS, "clab", "router.clab.yml")
MININET = os.path.join(LABS, "mininet")


def all_answer(lab: netnb.Lab) -> bool:
    rows = ping_matrix(lab)
    return all(c in ("✔", "·") for r in rows[1:] for c in r[1:]) and len(rows) > 2


# -- Kathará ---------------------------------------------------------------------------------------------
def test_a_kathara_lab_becomes_a_description():
    lab = netnb.load(KATHARA, backend="sim")
    assert lab.name == "two-offices" and lab.origin == f"Kathará lab {KATHARA}"
    assert f"from Kathará lab {KATHARA}" in repr(lab)
    assert lab.notes == [
        f"{KATHARA}/lab.conf:20: wireshark (Wireshark) is left out: netnb captures anywhere itself "
        "(lab.capture(...), then .table() or .pcap())",
        f"{KATHARA}/lab.conf:18: pc3[mem] has nothing to act on in netnb and is left out",
        f"{KATHARA}/shared: shared/ is one folder every node shares at /shared, as Kathará mounts it (a copy of it, "
        "in the lab's folder: shares/shared; the folder here is never written)"]
    script = lab.plan().script()
    # addresses and routes of the .startup files are the description's (r2's written with ifconfig and route)
    for line in ("ip -n r1 addr add 10.1.0.1/24 dev eth0", "ip -n r1 addr add 10.255.0.1/32 dev lo",
                 "ip -n r2 addr add 10.0.0.2/30 dev eth1", "ip -n r2 addr add 10.2.0.1/24 dev eth0",
                 "ip -n pc2 addr add 10.1.0.12/24 dev eth0", "ip -n r1 route add 10.2.0.0/24 via 10.0.0.2 dev eth1",
                 "ip -n r2 route add 10.1.0.0/24 via 10.0.0.1 dev eth1", "ip -n pc2 route add default via 10.1.0.1",
                 "ip netns exec pc3 install -D -m 644 /dev/stdin /etc/motd.lab  # 15 bytes",
                 "ip netns exec r1 sysctl -w net.ipv4.ip_forward=1", "ip netns exec pc1 sysctl -w net.ipv4.ip_forward=1",
                 "address 02:00:00:00:01:01"):
        assert line in script, line
    # a domain with three devices is a switch; with two, a cable; the Wireshark device is gone
    assert {n.name: n.kind.value for n in lab} == {"pc3": "host", "r1": "router", "r2": "router", "pc1": "host",
                                                   "pc2": "host", "office1": "switch"}
    # startup: lab.dep puts pc3 first; each node runs shared.startup, then its own lines, then exec
    assert lab.plan().startup == (
        ("pc3", "hostname"), ("pc3", "cat /etc/motd.lab /shared/banner /etc/hostname"), ("pc3", "echo pc3 is up"),
        ("r1", "hostname"), ("r2", "sysctl -w net.ipv4.conf.all.rp_filter=0"), ("r2", "hostname"),
        ("pc1", "hostname"), ("pc2", "hostname"))
    assert lab["r1"].spec.routes[0].origin == f"{KATHARA}/r1.startup:4"
    assert not lab["pc1"].spec.files and [(s.at, sorted(s.files)) for s in lab.topology.shares] == \
        [("/shared", ["/shared/banner"])]
    assert "ip netns exec pc1 mount --bind \"$LAB/shares/shared\" /shared" in script


@pytest.mark.parametrize("backend", ["sim", pytest.param("kernel", marks=pytest.mark.kernel)])
def test_a_kathara_lab_runs_and_its_nodes_share_one_folder(backend):
    before = os.path.exists("/shared")
    with netnb.load(KATHARA, backend=backend) as lab:
        assert all_answer(lab)
        out = {(r.node, r.command): r.stdout for r in lab.startup_results}
        assert out[("pc3", "cat /etc/motd.lab /shared/banner /etc/hostname")] == \
            "welcome to pc3\na banner every node has\npc3\n"
        assert out[("r2", "hostname")] == "r2\n"
        lab["pc1"].run("echo from pc1 > /shared/note", check=True)
        assert lab["r2"].run("cat /shared/note").stdout == "from pc1\n"
        assert lab["pc2"].read_file("/shared/note") == b"from pc1\n"
        if backend == "kernel":  # the notebook sees it in the lab's folder; the lab folder's shared/ is untouched
            assert open(os.path.join(lab.folder, "shares", "shared", "note")).read() == "from pc1\n"
            assert not os.path.exists(os.path.join(KATHARA, "shared", "note"))
    assert os.path.exists("/shared") == before


def test_what_a_kathara_lab_cannot_do_is_named_with_its_line():
    bad = os.path.join(LABS, "kathara-bad")
    with pytest.raises(netnb.TopologyError) as err:
        netnb.load(bad)
    assert err.value.problems == [
        f"{bad}/lab.conf:8: collision domain 'A.B' has characters other than letters, digits and '_'",
        f"{bad}/lab.conf:9: `this is not kathara` is not a Kathará assignment (device[N]=CD, device[option]=value, "
        "LAB_NAME=...)",
        f"{bad}/pc1.startup:2: `modprobe 8021q` loads or unloads a kernel module, for the whole machine; netnb runs "
        "nothing that changes the machine: drop the line",
        f"{bad}/pc1.startup:3: `sysctl -w kernel.panic=1` sets kernel.panic, a setting of the whole machine (only "
        "net.* settings are a node's own); netnb runs nothing that changes the machine: drop the line",
        f"{bad}/pc1.startup:4: `/etc/init.d/snmpd start` starts the service 'snmpd', which this machine does not "
        "have (no /etc/init.d/snmpd): install it (apt-get install snmpd) or drop the line",
        f"{bad}/pc1.startup:5: `systemctl start isc-dhcp-server` starts the service 'isc-dhcp-server', which this "
        "machine does not have (no /etc/init.d/isc-dhcp-server): install it (apt-get install isc-dhcp-server) or "
        "drop the line",
        f"{bad}/lab.conf:2: r1 runs the image 'kathara/sdn': netnb runs plain Linux nodes (with this machine's "
        "programs) and cannot provide that image's programs",
        f"{bad}/lab.conf:4: r2 runs the image 'kathara/p4': netnb runs plain Linux nodes (with this machine's "
        "programs) and cannot provide that image's programs",
        f"{bad}/lab.conf:6: pc1[bridged] connects the device to this machine's network, which netnb never touches: "
        "drop it (a lab node can play the outside world)",
        f"{bad}/lab.conf:7: pc1[volume] mounts a folder of this machine into the device: put the files in the pc1/ "
        "folder instead (they are copied into the node)"]


def test_routing_labs_need_frr_on_the_machine(monkeypatch):
    """Where FRR is missing, a lab that runs it is refused at once, saying how to install it (the machine's
    FRR is what nodes run; whether it is installed is all that is pretended here)."""
    from netnb.importers import common, containerlab, kathara

    for module in (common, kathara, containerlab):
        monkeypatch.setattr(module, "frr_installed", lambda: False)
    folder = os.path.join(LABS, "kathara-rip-quagga")
    with pytest.raises(netnb.TopologyError) as err:
        netnb.load(folder)
    assert f"{folder}/lab.conf:5: r1 runs kathara/quagga: routing daemons; this machine has no FRR, install it " \
           "with `bash scripts/setup.sh --frr` (Debian's frr)" in err.value.problems
    assert f"{folder}/r1.startup:3: `/etc/init.d/quagga start` starts routing daemons (quagga): this machine has no " \
           "FRR; install it with `bash scripts/setup.sh --frr` (Debian's frr)" in err.value.problems
    with pytest.raises(netnb.TopologyError, match="as100' runs quay.io/frrouting/frr:9.1.0: routing daemons; this "
                                                  "machine has no FRR"):
        netnb.load(os.path.join(LABS, "clab", "frr.clab.yml"))


def test_per_daemon_frr_files_are_read_by_frr(tmp_path, monkeypatch):
    """An FRR node configured with one file per daemon (bgpd.conf, no frr.conf) starts FRR without the
    machine's default frr.conf, which FRR would read instead (as in Kathará's data-center labs)."""
    from netnb.importers import common, kathara
    from netnb.importers.common import QUAGGA_START

    for module in (common, kathara):
        monkeypatch.setattr(module, "frr_installed", lambda: True)  # only the description is made here
    (tmp_path / "lab.conf").write_text('r1[0]="A"\nr1[image]="kathara/frr"\nr2[0]="A"\nr2[image]="kathara/frr"\n')
    for name, conf in (("r1", "bgpd.conf"), ("r2", "frr.conf")):
        (tmp_path / name / "etc" / "frr").mkdir(parents=True)
        (tmp_path / name / "etc" / "frr" / conf).write_text("router bgp 1\n")
        (tmp_path / f"{name}.startup").write_text("systemctl start frr\n")
    lab = netnb.load(str(tmp_path), backend="sim")
    assert [c.command for c in lab["r1"].spec.startup] == [QUAGGA_START]
    assert [c.command for c in lab["r2"].spec.startup] == ["/usr/lib/frr/frrinit.sh start"]


def test_load_says_what_it_reads():
    with pytest.raises(netnb.TopologyError, match="no such file or folder"):
        netnb.load(os.path.join(LABS, "nothing"))
    with pytest.raises(netnb.TopologyError, match="a folder without a lab.conf"):
        netnb.load(LABS)
    with pytest.raises(netnb.TopologyError, match="not a format netnb reads"):
        netnb.load(os.path.join(LABS, "clab", "files", "motd"))
    examples = os.path.join(os.path.dirname(os.path.dirname(LABS)), "..", "examples", "routed.yaml")
    assert netnb.load(examples, backend="sim").simulated


# -- containerlab ----------------------------------------------------------------------------------------
def test_a_containerlab_topology_becomes_a_description():
    lab = netnb.load(CLAB, backend="sim")
    assert lab.name == "router-lan" and lab.origin == f"containerlab topology {CLAB}"
    assert lab.notes == [
        f"{CLAB}:3: the management network is dropped: nodes have only the lab's links",
        f"{CLAB}:22: r1: mgmt-ipv4 is dropped with the management network",
        f"{CLAB}:41: h3: cmd is left out (nothing in netnb to act on)",
        f"{CLAB}: binds are copied into the nodes' own files (r1, h1, h2, h3): a node never writes the machine's"]
    assert lab["r1"].kind.value == "router" and lab["h1"].kind.value == "host" and lab["br1"].kind.value == "switch"
    script = lab.plan().script()
    for line in ("ip -n r1 addr add 192.168.2.1/24 dev eth2", "ip -n h3 addr add 192.168.2.30/24 dev eth1",
                 "ip -n h2 route add default via 192.168.2.1", "ip -n br1 link set h3-port master br1 up",
                 "address 02:00:00:00:00:33"):
        assert line in script, line
    files = {n: sorted(lab[n].spec.files) for n in ("r1", "h2")}
    assert files == {"r1": ["/etc/motd"], "h2": ["/etc/motd", "/srv/web/index.html"]}
    # h3 has the group's exec lines (its own would replace them); h1's cat is a startup command
    assert lab.plan().startup == (("r1", "sysctl -w net.ipv4.ip_forward=1"), ("h1", "cat /etc/motd"))


def test_a_containerlab_topology_runs_in_the_simulation():
    with netnb.load(CLAB, backend="sim") as lab:
        assert all_answer(lab)
        assert lab.startup_results[-1].stdout == "a node of the clab lab\n"
        assert lab["h2"].read_file("/srv/web/index.html") == b"<h1>h2's web root</h1>\n"


def test_what_a_containerlab_topology_cannot_do_is_named_with_its_line():
    bad = os.path.join(LABS, "clab", "bad.clab.yml")
    with pytest.raises(netnb.TopologyError) as err:
        netnb.load(bad)
    assert err.value.problems == [
        f"{bad}:17: topology: nodes: 'h1' is written twice (first on line 9); keep one",
        f"{bad}:5: node 'srl' is of kind 'nokia_srlinux': netnb runs linux nodes and bridges, not network operating "
        "systems",
        f"{bad}:7: node 'ceos1' is of kind 'arista_ceos': netnb runs linux nodes and bridges, not network operating "
        "systems",
        f"{bad}:11: ports (2221:22) publishes ports on this machine, which netnb never does; note that YAML 1.1 read "
        "an unquoted HOST:PORT as a base-60 number: quote it",
        f"{bad}:14: `modprobe vrf` loads or unloads a kernel module, for the whole machine; netnb runs nothing that "
        "changes the machine: drop the line",
        f"{bad}:16: bind 'nothing/here:/etc/x': cannot read 'nothing/here' (No such file or directory); paths are "
        "relative to the topology file",
        f"{bad}:20: endpoint 'host' is this machine's network, which netnb never touches",
        f"{bad}:21: endpoint 'nobody' is no node of this topology",
        f"{bad}:22: a link is {{endpoints: [\"node:interface\", \"node:interface\"]}}"]


# -- Mininet ---------------------------------------------------------------------------------------------
def test_mininet_addresses_and_interface_names():
    class Tree(Topo):
        def build(self, n=2):
            s1 = self.addSwitch("s1")
            for i in (10, 2, 1):
                self.addLink(self.addHost(f"h{i}", **({"ip": "10.9.9.9/8"} if i == 2 else {})), s1)

    lab = topo_lab(Tree(), "tree", backend="sim")
    assert {h: [str(a) for a in lab[h].addresses] for h in ("h1", "h2", "h10")} == \
        {"h1": ["10.0.0.1/8"], "h2": ["10.9.9.9/8"], "h10": ["10.0.0.3/8"]}  # natural order, counted past ip=
    assert [(i.name, i.peer_name) for i in lab.resolved().node("s1").interfaces] == \
        [("s1-eth1", "h10-eth0"), ("s1-eth2", "h2-eth0"), ("s1-eth3", "h1-eth0")]
    with topo_lab(SingleSwitchTopo(3), "single", backend="sim") as lab:
        assert all_answer(lab)
    assert sorted(topo_lab(LinearTopo(3, 2), "linear", backend="sim").nodes) == sorted(
        ["s1", "s2", "s3", "h1s1", "h1s2", "h2s1", "h2s2", "h3s1", "h3s2"])


def test_a_mininet_file_with_a_linux_router():
    lab = netnb.load(os.path.join(MININET, "routers.py"), backend="sim")
    assert lab["r0"].kind.value == "router" and lab.origin.startswith("Mininet topology ")
    script = lab.plan().script()
    for line in ("ip -n r0 addr add 192.168.1.1/24 dev r0-eth1", "ip -n r0 addr add 172.16.0.1/12 dev r0-eth2",
                 "ip -n h2 route add default via 172.16.0.1", "peer name h10-eth0 address 00:00:00:00:00:10",
                 "tc -n h10 qdisc add dev h10-eth0 root tbf rate 10mbit burst 12500 latency 50ms",
                 "ip netns exec r0 sh -c 'sysctl net.ipv4.ip_forward=1'"):
        assert line in script, line
    assert "htb" not in script  # TCLink(bw=10) alone: the link's own rate, which the simulation runs too
    with lab:
        assert all_answer(lab)
        assert "rate 10Mbit burst 12500b lat 50ms" in lab["h10"].run("tc qdisc show dev h10-eth0").stdout
    assert "mininet" not in sys.modules  # the shim answered the imports only while the file ran
    with netnb.load(os.path.join(MININET, "switch.py"), backend="sim") as lab:
        assert lab["s1"].spec.stp and all_answer(lab)
        assert [str(a) for a in lab["h10"].addresses] == ["10.0.0.3/8"]


def test_a_mininet_nat_node_is_refused():
    from netnb.importers.mininet import NAT

    class Out(Topo):
        def build(self):
            self.addLink(self.addHost("h1"), self.addNode("nat0", cls=NAT))

    with pytest.raises(netnb.TopologyError, match="nat0: a NAT node connects the lab to this machine's network"):
        topo_lab(Out(), backend="sim")


# -- on the kernel ---------------------------------------------------------------------------------------
def netnb_run(path: str) -> str:
    done = subprocess.run([sys.executable, "-m", "netnb.cli", "run", path, "--ping"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.kernel
@pytest.mark.parametrize("path, pairs", [(KATHARA, 20), (CLAB, 12), (os.path.join(MININET, "routers.py"), 12),
                                         (os.path.join(MININET, "switch.py"), 6)],
                         ids=["kathara", "containerlab", "mininet-router", "mininet-switch"])
def test_netnb_run_pings_every_pair(path, pairs):
    out = netnb_run(path)
    assert f"{pairs} of {pairs} pings answered" in out, out


@pytest.mark.kernel
def test_a_kathara_nat_and_firewall_lab():
    """A router masquerading its LAN and forwarding port 80 to a web server inside, set up by iptables lines in
    its .startup: the inside reaches out, the outside reaches only the forwarded port."""
    with netnb.load(os.path.join(LABS, "kathara-nat"), backend="kernel") as lab:
        rows = {r[0]: r[1:] for r in ping_matrix(lab)}
        assert rows[""] == ["pc1", "pc2", "gw", "ext"]
        assert rows["pc1"] == ["·", "✔", "✔", "✔"] and rows["pc2"] == ["✔", "·", "✔", "✔"]
        assert rows["ext"] == ["✘", "✘", "✔", "·"]  # 10.0.0.0/24 is private: no route to it outside
        assert lab["ext"].run("curl -s -m 5 http://198.51.100.1/").stdout == "<h1>pc1, behind the NAT</h1>\n"
        nat = lab["gw"].firewall_rules("nat")
        assert [r[-1] for r in nat.rows if "DNAT" in r] == ["tcp dpt:80 to:10.0.0.2:80"], nat.rows


@pytest.mark.kernel
def test_a_kathara_startup_file_with_loops_runs_whole_with_bash():
    with netnb.load(os.path.join(LABS, "kathara-script"), backend="kernel") as lab:
        result = next(r for r in lab.startup_results if r.node == "b")
        assert result.command == "bash /hostlab/b.startup"
        assert result.stdout == "try 1\ntry 2\ntry 3\na answers\n"


BOTH = ["sim", pytest.param("kernel", marks=pytest.mark.kernel)]


@pytest.mark.parametrize("backend", BOTH)
def test_a_kathara_web_server_is_served(backend):
    lab = netnb.load(os.path.join(LABS, "kathara-web"), backend=backend)
    stand_in = any("python3 -m http.server instead" in n for n in lab.notes)
    assert stand_in or os.path.exists("/etc/init.d/apache2")
    if stand_in:  # a service: in the background, waited for until it listens
        assert ("server", "python3 -m http.server 80 --directory /var/www/html &") in lab.plan().startup
    with lab:  # the started service listens once the lab is up, as after Kathará's systemctl start
        assert lab["client"].run("curl -s http://192.168.0.1/").stdout == "<h1>served by the imported lab</h1>\n"


@pytest.mark.parametrize("backend", BOTH)
def test_a_kathara_random_web_switch_spreads_connections(backend):
    """iptables-legacy's statistic match in a DNAT rule (Kathará's load-balancer labs): every connection is
    answered, by both servers; connections reuse the client's ports now and then, which must open new ones."""
    with netnb.load(os.path.join(LABS, "kathara-lb"), backend=backend) as lab:
        answers = [lab["client"].run("curl -s -m 3 http://100.0.0.2/").stdout for _ in range(40)]
        assert set(answers) == {"server 1\n", "server 2\n"}, answers
        rules = lab["ws"].run("iptables-legacy -t nat -S PREROUTING").stdout
        assert "-m statistic --mode random --probability 0.50000000000 -j DNAT --to-destination 10.0.0.1:80" in rules


def test_a_client_port_used_again_opens_a_new_connection_in_the_simulation():
    """The same client port for two connections in a row (Linux reuses ports; forced here): the server's
    TIME_WAIT and the web switch's conntrack entry of the first give way to the second's SYN, as the kernel's
    do (tcp_timewait_state_process, nf_conntrack_tcp), and NAT decides anew."""
    with netnb.load(os.path.join(LABS, "kathara-lb"), backend="sim") as lab:
        client = lab.live().world.stacks["client"]  # type: ignore[attr-defined]
        client.ephemeral_port = lambda: 40000
        for _ in range(6):
            assert lab["client"].run("curl -s -m 3 http://100.0.0.2/").stdout in ("server 1\n", "server 2\n")
        table = lab["ws"].run("cat /proc/net/nf_conntrack").stdout
        assert table.count("sport=40000 dport=80") == 1, table  # the last connection's, the others' gone


@pytest.mark.kernel
@pytest.mark.skipif(not os.path.exists("/etc/init.d/named"), reason="BIND is not installed (scripts/setup.sh --services)")
def test_a_kathara_dns_lab_resolves_names():
    """Kathará's BIND image as a node with the machine's BIND (Debian 12 names its service named): the lab's
    BIND 9.11 options that BIND 9.18 refuses are left out and noted; the client resolves through the lab's
    name server, by its own resolv.conf; BIND's files and processes are the nodes', and go with the lab."""
    folder = os.path.join(LABS, "kathara-dns")
    lab = netnb.load(folder, backend="kernel")
    assert any("dnssec-enable, dnssec-lookaside and filter-aaaa options are left out" in n for n in lab.notes)
    assert ("ns", "/etc/init.d/named start") in lab.plan().startup
    with lab:
        pc = lab["pc"]
        assert pc.run("dig +short web.lab").stdout == "10.0.0.80\n"
        assert pc.run("ping -c 1 -W 1 web").rc == 0  # "search lab" of the node's own resolv.conf
        assert b"dnssec-enable" not in lab["ns"].read_file("/etc/bind/named.conf.options")
        daemons = [p for p in os.listdir("/proc") if p.isdigit() and _comm(p) == "named"]
        assert daemons
    assert not [p for p in daemons if os.path.exists(f"/proc/{p}") and _comm(p) == "named"]


def _comm(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def test_lines_that_would_end_the_machines_processes_are_refused():
    """The nodes of a lab share its process table (a PID namespace of the lab's): ending processes by name would
    end the other nodes' too; by pid is fine."""
    from netnb.importers.lines import machine_change

    for line in ("killall named", "pkill -f 'python3 -m http.server'", "sleep 1; killall5 -9"):
        assert "ends processes by name" in (machine_change(line) or ""), line
    assert machine_change("kill $(cat /run/named/named.pid)") is None and machine_change("kill 1234") is None
