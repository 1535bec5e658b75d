"""The Backend contract, and everything above it tested without root on the in-memory backend."""

from __future__ import annotations

import pytest

import netnb
from netnb.backends.contract import Backend
from netnb.backends.kernel.backend import KernelBackend
from netnb.backends.memory import MemoryBackend
from netnb.errors import LabStateError, NetnbError, UsageError
from netnb.plan import AddRoute, compile_plan, teardown_of


def services(node: str, command: str) -> list[tuple[str, int]]:
    """What the background commands of these labs listen on (a web server, Docker's proxy)."""
    if "netnb.docker.proxy" in command:
        return [("tcp", int(command.split("-host-port ")[1].split()[0]))]
    if "http.server" in command:
        return [("tcp", int(command.split("http.server ")[1].split()[0]))]
    return []


def memory_lab(name: str = "mem") -> tuple[netnb.Lab, MemoryBackend]:
    backend = MemoryBackend(services=services)
    lab = netnb.Lab(name, backend=backend)
    a, b = lab.host("A"), lab.router("R")
    sw = lab.switch("sw", subnet="10.0.0.0/24")
    lab.link(a, sw)
    lab.link(b, sw)
    a.route("default", via="10.0.0.2")
    return lab, backend


def test_both_backends_carry_out_the_contract():
    assert isinstance(KernelBackend(), Backend) and isinstance(MemoryBackend(), Backend)
    with pytest.raises(UsageError, match="Backend contract"):
        netnb.Lab("x", backend=object())  # type: ignore[arg-type]


def test_start_applies_the_plan_and_stop_undoes_exactly_it():
    lab, backend = memory_lab()
    plan = lab.plan()
    with lab:
        assert backend.applied == list(plan.operations)
        assert [c[0] for c in backend.calls[:4]] == ["check", "start", "apply", "wait_ready"]
    undo = next(args for method, args in backend.calls if method == "undo")
    assert list(undo[0]) == teardown_of(compile_plan(lab.resolved()).operations) == plan.teardown()
    assert not backend.running and lab.state == "stopped"


def test_nodes_read_back_and_act_through_the_backend():
    lab, backend = memory_lab()
    backend.responder = lambda node, text, stdin: (0, f"{node} ran {text}", "")
    with lab:
        a = lab["A"]
        eth0 = next(i for i in a.interfaces() if i.name == "eth0")
        assert eth0.addresses == ("10.0.0.1/24",) and eth0.state == "UP"
        assert [(r.dest, r.via) for r in a.routes()] == [("10.0.0.0/24", None), ("default", "10.0.0.2")]
        assert a.run("hostname").stdout == "A ran hostname"
        server = lab["R"].popen("python3 -m http.server 8080 --bind 10.0.0.2").wait_listening(8080)
        assert server.running and server.stop() == -15 and not server.running
        a.route("10.9.0.0/16", via="10.0.0.2")  # on a running lab: applied at once
        assert backend.applied[-1] == AddRoute("A", "10.9.0.0/16", "10.0.0.2", None)
        assert {e.port for e in lab["sw"].fdb(include_local=True)} == {"A-eth0", "R-eth0"}
    with pytest.raises(LabStateError, match="start it first"):
        lab["A"].interfaces()


def test_capture_plumbing_and_its_ring_budget():
    lab, backend = memory_lab()
    lab.capture_memory = 6
    with lab:
        with lab.capture(lab["sw"]) as cap:  # two ports: 3 MiB each
            assert cap.pinned_mib == 6
            with pytest.raises(NetnbError, match="has 0 MiB of its capture budget left"):
                lab.capture("A:eth0").start()
        assert len(cap) == 0 and cap.pinned_mib == 0
        started = next(args for method, args in backend.calls if method == "capture_start")
        assert [p.label for p in started[0]] == ["sw:A-eth0", "sw:R-eth0"] and started[1] == 3


def test_the_docker_layer_without_root():
    from netnb.docker import DockerHost

    backend = MemoryBackend(services=services)
    lab = netnb.Lab("docker", backend=backend)
    lan = lab.switch("lan", subnet="192.168.3.0/24")
    lab.internet(lan, gateway="192.168.3.1")
    ubuntu1 = DockerHost(lab, "ubuntu1", lan, ip="192.168.3.2")
    with lab:
        web = ubuntu1.run("web", command="python3 -m http.server 8080", expose=[8080], publish_all=True)
        db = ubuntu1.run("db", command="sleep infinity")
        assert (web.ip, db.ip) == ("172.17.0.2", "172.17.0.3")  # Docker's IPAM: in order from .2
        assert ubuntu1.ps().rows[0][5] == "0.0.0.0:49153->8080/tcp"
        inspect = ubuntu1.inspect(web)
        assert inspect["NetworkSettings"]["Ports"] == {"8080/tcp": [{"HostIp": "0.0.0.0", "HostPort": "49153"}]}
        assert [(r.dest, r.via) for r in web.routes()] == [("172.17.0.0/16", None), ("default", "172.17.0.1")]
        saved = ubuntu1.iptables_save()
        assert "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE" in saved
        front = ubuntu1.network_create("frontend", driver="bridge", subnet="172.30.1.0/24")
        assert front.bridge == f"br-{front.id[:12]}" and "frontend" in [r[1] for r in ubuntu1.network_ls().rows]
        proxies = [c for c in backend.calls if c[0] == "popen" and "netnb.docker.proxy" in c[1][1]]
        assert len(proxies) == 1 and "-host-port 49153" in proxies[0][1][1]


def test_a_docker_hosts_display_asks_nothing_of_the_lab():
    from netnb.docker import DockerHost

    backend = MemoryBackend(services=services)
    lab = netnb.Lab("docker-display", backend=backend)
    lan = lab.switch("lan", subnet="192.168.3.0/24")
    ubuntu1 = DockerHost(lab, "ubuntu1", lan, ip="192.168.3.2")
    with lab:
        for name in ("a", "b", "c"):
            ubuntu1.run(name)
        before = len(backend.calls)
        bundle = ubuntu1._repr_mimebundle_()
        assert len(backend.calls) == before  # reprs do no I/O
        assert bundle["text/plain"].count("Up ") == 3


def test_a_container_is_a_node_of_the_description_like_any_other():
    from netnb.docker import DockerHost
    from netnb.plan import AddRoute, compile_plan

    backend = MemoryBackend(services=services)
    lab = netnb.Lab("containers", backend=backend)
    lan = lab.switch("lan", subnet="192.168.3.0/24")
    ubuntu1 = DockerHost(lab, "ubuntu1", lan, ip="192.168.3.2")
    static = lab.plan().script()
    with lab:
        web = ubuntu1.run("web", command="python3 -m http.server 8080", expose=[8080], publish_all=True)
        node = lab.resolved().node("ubuntu1/web")
        assert [(i.name, str(i.address), i.peer_node) for i in node.interfaces] == [("eth0", "172.17.0.2/16", "ubuntu1")]
        # What the Docker layer built for the container is exactly what its description compiles to.
        applied = [op for op in backend.applied if "ubuntu1/web" in (op.node, getattr(op, "peer_node", None))]
        described = [op for op in compile_plan(lab.resolved()) if "ubuntu1/web" in (op.node, getattr(op, "peer_node", None))]
        assert sorted(map(repr, applied)) == sorted(map(repr, described)) and len(applied) >= 7
        web.route("10.9.0.0/16", via="172.17.0.1")  # as on any host: checked, then applied at once
        assert backend.applied[-1] == AddRoute("ubuntu1/web", "10.9.0.0/16", "172.17.0.1", None)
        assert lab["ubuntu1/web"] is web and "eth0" in web.description().text()
        assert [p.label for p in lab.capture_points([web])] == ["ubuntu1/web:eth0"]
        front = ubuntu1.network_create("front", subnet="172.30.1.0/24")
        ubuntu1.connect(web, "front")
        assert [i.name for i in lab.resolved().node("ubuntu1/web").interfaces] == ["eth0", "eth1"]
        ubuntu1.disconnect(web, "front")
        ubuntu1.network_rm(front.name)
        ubuntu1.rm(web)
        assert "ubuntu1/web" not in lab and all(n.name != "ubuntu1/web" for n in lab.topology.nodes)
        ubuntu1.run("db")
    assert lab.plan().script() == static  # what was described while running went with it


def test_an_overlay_namespace_is_described_too():
    from netnb.docker import DockerHost
    from netnb.plan import AddFdb, compile_plan

    backend = MemoryBackend(services=services)
    lab = netnb.Lab("overlay", backend=backend)
    lan = lab.switch("lan", subnet="192.168.3.0/24")
    host_a = DockerHost(lab, "hostA", lan, ip="192.168.3.2", bridge_subnet="172.17.1.0/24")
    host_b = DockerHost(lab, "hostB", lan, ip="192.168.3.3", bridge_subnet="172.17.2.0/24")
    static = lab.plan().script()
    with lab:
        net = host_a.network_create("multi", driver="overlay")
        one = host_a.run("one", network="multi")
        two = host_b.run("two", network="multi")
        vtep = lab.resolved().node("hostA/ov-multi")
        assert vtep.role == "overlay" and [(v.name, v.vni, v.local, v.underlay) for v in vtep.vxlans] == \
            [("vxlan0", net.vni, "192.168.3.2", "hostA")]
        def about(op):
            names = {op.node, getattr(op, "peer_node", None), getattr(op, "target_node", None)}
            return any(n and ("/ov-" in n or n in ("hostA/one", "hostB/two")) for n in names)
        applied = [op for op in backend.applied if about(op) and not isinstance(op, AddFdb)]  # FDB: state
        described = [op for op in compile_plan(lab.resolved()) if about(op)]
        assert sorted(map(repr, applied)) == sorted(map(repr, described))
        assert [i.mtu for i in lab.resolved().node("hostB/two").interfaces] == [1450]
        host_a.rm(one)
        host_b.rm(two)
        host_a.network_rm("multi")
        assert not [n for n in lab.topology.nodes if "/ov-" in n.name]
        host_b.run("three")
    assert lab.plan().script() == static


def test_the_simulation_refuses_what_it_does_not_simulate_before_building():
    """IPv6 is not simulated: such a lab is refused before anything exists, saying what runs it."""
    import netnb
    from netnb.errors import FeatureMissingError

    lab = netnb.Lab("v6", ipv6=True, backend="sim")
    lab.link(lab.host("A"), lab.switch("sw"), ip="10.0.0.1/24")
    with pytest.raises(FeatureMissingError, match="IPv6") as caught:
        lab.start()
    assert "kernel" in str(caught.value) and "Nothing was built" in str(caught.value)
    assert lab.state == "described"


def test_a_simulated_lab_says_so_and_runs_without_root():
    import netnb

    lab = netnb.Lab("simulated", backend="sim")
    a, b = lab.host("A"), lab.host("B")
    lab.link(a, b, ip=("10.0.0.1/24", "10.0.0.2/24"))
    assert "simulated" in repr(lab) and "simulated" in lab.drawing().title
    with lab:
        result = a.ping(b, count=2)
        assert result.ok and result.received == 2 and "2 packets transmitted, 2 received" in result.output
        big = a.run("ping -c 1 -s 3000 10.0.0.2")
        assert big.rc == 1 and "fragmentation is not simulated" in big.stderr
        assert a.run("tcpdump -i eth0").rc == 127
    assert not lab.running and lab.backend.folder == ""


def test_the_backend_is_chosen_by_name_environment_or_probe(monkeypatch):
    import netnb
    from netnb.errors import UsageError

    monkeypatch.setenv("NETNB_BACKEND", "sim")
    assert netnb.Lab("env").backend.name == "sim"
    monkeypatch.setenv("NETNB_BACKEND", "kernl")
    with pytest.raises(UsageError, match="NETNB_BACKEND='kernl' is no backend"):
        netnb.Lab("typo")
    monkeypatch.delenv("NETNB_BACKEND")
    assert netnb.Lab("named", backend="kernel").backend.name == "kernel"
    with pytest.raises(UsageError, match="mode='root' belongs to the kernel backend"):
        netnb.Lab("mixed", backend="sim", mode="root")
