"""The article's Docker cases on real namespaces and real netfilter rules."""

from __future__ import annotations


import pytest
from scapy.layers.inet import TCP

import netnb
from netnb.docker import DockerError, DockerHost

from .helpers import wait_until

pytestmark = pytest.mark.kernel

FETCH = "curl -s -m 3 -o /dev/null -w '%{http_code}' "


def docker_lab(name: str = "docker-nat") -> tuple[netnb.Lab, DockerHost, netnb.Host, object]:
    lab = netnb.Lab(name)
    lan = lab.switch("lan", subnet="192.168.3.0/24")
    internet = lab.internet(lan, gateway="192.168.3.1")
    ubuntu1 = DockerHost(lab, "ubuntu1", lan, ip="192.168.3.2")
    client = lab.host("client")
    lab.link(client, lan, ip="192.168.3.10/24")
    return lab, ubuntu1, client, internet


def serve(host: DockerHost, name: str, **kw) -> object:
    web = host.run(name, command="python3 -m http.server 8080", expose=[8080], **kw)
    assert wait_until(lambda: web.run(FETCH + "http://127.0.0.1:8080/").stdout == "200", timeout=10)
    return web


def test_containers_on_one_host_and_the_host():
    lab, ubuntu1, _, _ = docker_lab("one-host")
    with lab:
        a = ubuntu1.run("a")
        b = ubuntu1.run("b")
        assert (a.ip, b.ip) == ("172.17.0.2", "172.17.0.3")
        assert a.ping(b.ip, count=1).ok                       # case 1: containers on one host
        assert a.ping("172.17.0.1", count=1).ok               # case 2: container -> host (docker0)
        assert a.ping("192.168.3.2", count=1).ok              #         container -> host's LAN address
        assert ubuntu1.node.ping(b.ip, count=1).ok            #         host -> container
        eth0 = next(i for i in a.interfaces() if i.name == "eth0")
        assert eth0.mac == "02:42:ac:11:00:02"                # Docker derives the MAC from the address
        host_side = [i for i in ubuntu1.node.interfaces() if i.master == "docker0"]
        assert len(host_side) == 2 and all(i.name.startswith("veth") for i in host_side)
        routes = {r.dest: r for r in a.routes()}
        assert routes["default"].via == "172.17.0.1"
        assert a.run("hostname").stdout.strip() == a.id[:12]
        assert ubuntu1.node.run("sysctl -n net.ipv4.ip_forward").stdout.strip() == "1"


def test_published_port_through_dnat_and_masquerade_with_proof():
    lab, ubuntu1, client, internet = docker_lab()
    with lab:
        web = serve(ubuntu1, "myapp", publish_all=True)
        ps = ubuntu1.ps()
        assert ps.rows[0][5] == "0.0.0.0:49153->8080/tcp" and ps.rows[0][6] == "myapp"
        assert "0.0.0.0:49153->8080/tcp" in ps.text()
        info = ubuntu1.inspect("myapp")
        assert info["NetworkSettings"]["IPAddress"] == web.ip == "172.17.0.2"
        assert info["NetworkSettings"]["Ports"]["8080/tcp"] == [{"HostIp": "0.0.0.0", "HostPort": "49153"}]

        with lab.capture(client, ubuntu1, web) as cap:
            assert client.run(FETCH + "http://192.168.3.2:49153/").stdout == "200"   # case 3: in, via DNAT
            out = web.run(f"curl -s -m 3 {internet.url}").stdout                  # case 3: out, via MASQUERADE
        assert "Hello from the internet" in out
        syn_in = cap.filter("tcp[tcpflags] = tcp-syn and dst port 49153")[0]
        journey = cap.journey(syn_in)
        assert journey.points[0] == "client:eth0" and journey.points[-1] == "ubuntu1/myapp:eth0"
        assert journey.changed("ip.dst") == [("192.168.3.2", "172.17.0.2")]
        assert journey.changed("tcp.dport") == [("49153", "8080")]
        syn_out = cap.filter("tcp[tcpflags] = tcp-syn and dst host 203.0.113.80")[0]
        assert syn_out[TCP].dport == 80
        out_journey = cap.journey(syn_out)
        assert out_journey.changed("ip.src") == [("172.17.0.2", "192.168.3.2")]

        nat = ubuntu1.iptables("-t nat -nvL")
        dnat = next(line for line in nat.splitlines() if "DNAT" in line and "49153" in line)
        masq = next(line for line in nat.splitlines() if "MASQUERADE" in line and "172.17.0.0/16" in line)
        assert int(dnat.split()[0]) >= 1 and int(masq.split()[0]) >= 1   # the counters moved
        table = ubuntu1.nat()
        row = next(r for r in table.rows if r[3] == "DNAT")
        assert row[0] == "DOCKER" and int(row[1]) >= 1 and row[4] == "tcp" and "to:172.17.0.2:8080" in row[9]
        bundle = ubuntu1._repr_mimebundle_()
        assert "0.0.0.0:49153->8080/tcp" in bundle["text/plain"] and "DNAT" in bundle["text/html"]


def test_published_port_from_the_host_itself_and_from_another_container():
    lab, ubuntu1, _, _ = docker_lab("proxy")
    with lab:
        serve(ubuntu1, "web", publish={49200: 8080})
        other = ubuntu1.run("other")
        assert ubuntu1.node.run(FETCH + "http://127.0.0.1:49200/").stdout == "200"     # docker-proxy
        assert ubuntu1.node.run(FETCH + "http://192.168.3.2:49200/").stdout == "200"   # OUTPUT DNAT
        assert other.run(FETCH + "http://192.168.3.2:49200/").stdout == "200"          # proxy again


EXPECTED_SAVE = """\
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
:DOCKER-ISOLATION-STAGE-1 - [0:0]
:DOCKER-ISOLATION-STAGE-2 - [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o docker0 -j DOCKER
-A FORWARD -i docker0 ! -o docker0 -j ACCEPT
-A FORWARD -i docker0 -o docker0 -j ACCEPT
-A FORWARD -o {br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o {br} -j DOCKER
-A FORWARD -i {br} ! -o {br} -j ACCEPT
-A FORWARD -i {br} -o {br} -j ACCEPT
-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 8080 -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -i {br} ! -o {br} -j DOCKER-ISOLATION-STAGE-2
-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
-A DOCKER-ISOLATION-STAGE-1 -j RETURN
-A DOCKER-ISOLATION-STAGE-2 -o {br} -j DROP
-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
-A DOCKER-ISOLATION-STAGE-2 -j RETURN
-A DOCKER-USER -j RETURN
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 172.30.1.0/24 ! -o {br} -j MASQUERADE
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 8080 -j MASQUERADE
-A DOCKER -i {br} -j RETURN
-A DOCKER -i docker0 -j RETURN
-A DOCKER ! -i docker0 -p tcp -m tcp --dport 49153 -j DNAT --to-destination 172.17.0.2:8080
COMMIT
"""


def test_iptables_save_matches_docker_24_line_by_line():
    lab, ubuntu1, _, _ = docker_lab("rules")
    with lab:
        ubuntu1.run("myapp", command="sleep infinity", expose=[8080], publish_all=True)
        net = ubuntu1.network_create("frontend", subnet="172.30.1.0/24")
        saved = [line for line in ubuntu1.iptables_save().splitlines() if not line.startswith("#")]
        expected = EXPECTED_SAVE.format(br=net.bridge).splitlines()
        assert saved == expected


def test_networks_isolate_and_a_container_on_two_reaches_both():
    lab, ubuntu1, _, _ = docker_lab("libnetwork")
    with lab:
        ubuntu1.network_create("frontend", driver="bridge", subnet="172.30.1.0/24")
        api = ubuntu1.run("api", network="frontend")
        web = ubuntu1.run("web", network="frontend")
        other = ubuntu1.run("other")                       # on the default bridge
        assert api.ip == "172.30.1.2" and web.ip == "172.30.1.3"
        assert web.ping(api.ip, count=1).ok                 # same network: they talk
        assert web.run("ping -c1 -W1 api").ok               # and find each other by name
        assert not other.ping(api.ip, count=1, timeout=0.5).ok   # different networks: isolated
        assert not other.run("ping -c1 -W1 api").ok        # no names on the default bridge either
        ubuntu1.connect(api, "bridge")
        assert [i.name for i in api.interfaces() if i.name != "lo"] == ["eth0", "eth1"]
        assert api.ping(other.ip, count=1).ok and api.ping(web.ip, count=1).ok
        ubuntu1.disconnect(api, "bridge")
        assert not api.ping(other.ip, count=1, timeout=0.5).ok
        assert "frontend" in ubuntu1.network_ls().text()


def test_null_driver_has_only_loopback():
    lab, ubuntu1, _, _ = docker_lab("null")
    with lab:
        box = ubuntu1.run("box", network="none")
        assert [i.name for i in box.interfaces()] == ["lo"]
        assert box.ip is None and box.run("ping -c1 -W1 127.0.0.1").ok
        assert ubuntu1.inspect("box")["NetworkSettings"]["Networks"]["none"]["IPAddress"] == ""
        with pytest.raises(DockerError, match="private"):
            ubuntu1.connect(box, "bridge")


def test_bad_input_is_refused_and_changes_nothing():
    lab, ubuntu1, _, _ = docker_lab("refusals")
    with lab:
        ubuntu1.run("web", publish={49153: 8080})
        before = (ubuntu1.iptables_save().split("COMMIT"), ubuntu1.ps().rows, list(ubuntu1.networks))
        links_before = [i.name for i in ubuntu1.node.interfaces()]
        with pytest.raises(DockerError, match="already allocated"):
            ubuntu1.run("web2", publish={49153: 80})
        with pytest.raises(DockerError, match="already in use"):
            ubuntu1.run("web")
        with pytest.raises(DockerError, match="not found"):
            ubuntu1.run("x", network="nosuch")
        with pytest.raises(DockerError, match="plugin"):
            ubuntu1.network_create("n1", driver="macvlan-ish")
        with pytest.raises(DockerError, match="overlaps"):
            ubuntu1.network_create("n2", subnet="172.17.5.0/24")
        with pytest.raises(DockerError, match="already exists"):
            ubuntu1.network_create("bridge")
        with pytest.raises(DockerError, match="pre-defined"):
            ubuntu1.network_rm("bridge")
        after = (ubuntu1.iptables_save().split("COMMIT"), ubuntu1.ps().rows, list(ubuntu1.networks))
        strip = lambda parts: [[ln for ln in p.splitlines() if not ln.startswith("#")] for p in parts]  # noqa: E731
        assert strip(before[0]) == strip(after[0]) and before[1:] == after[1:]
        assert [i.name for i in ubuntu1.node.interfaces()] == links_before


def test_rm_removes_the_container_its_ports_and_rules():
    lab, ubuntu1, client, _ = docker_lab("rm")
    with lab:
        serve(ubuntu1, "web", publish={49153: 8080})
        rules_with = ubuntu1.iptables_save()
        assert "49153" in rules_with
        ubuntu1.rm("web")
        assert "49153" not in ubuntu1.iptables_save() and "172.17.0.2" not in ubuntu1.iptables_save()
        assert not [i for i in ubuntu1.node.interfaces() if i.master == "docker0"]
        assert client.run(FETCH + "http://192.168.3.2:49153/").stdout != "200"
        again = ubuntu1.run("web", publish={49153: 8080})      # the name, address and port are free again
        assert again.ip == "172.17.0.2"


def cross_host_lab(name: str) -> tuple[netnb.Lab, DockerHost, DockerHost]:
    lab = netnb.Lab(name)
    lan = lab.switch("lan", subnet="192.168.3.0/24")
    host_a = DockerHost(lab, "hostA", lan, ip="192.168.3.2", bridge_subnet="172.17.1.0/24")
    host_b = DockerHost(lab, "hostB", lan, ip="192.168.3.3", bridge_subnet="172.17.2.0/24")
    return lab, host_a, host_b


def test_cross_host_by_routes_shows_container_addresses_on_the_wire():
    lab, host_a, host_b = cross_host_lab("cross-routes")
    host_a.route("172.17.2.0/24", via="192.168.3.3")
    host_b.route("172.17.1.0/24", via="192.168.3.2")
    with lab:
        a = host_a.run("containerA")
        b = host_b.run("containerB")
        assert (a.ip, b.ip) == ("172.17.1.2", "172.17.2.2")
        # Routes alone: Docker's FORWARD policy (DROP) on hostB refuses a connection from outside.
        assert not a.ping(b.ip, count=1, timeout=0.5).ok
        host_a.route_to(host_b)
        host_b.route_to(host_a)
        with lab.capture(lab["lan"]) as cap:
            assert a.ping(b.ip, count=2).ok
        on_wire = cap.filter("icmp")
        assert len(on_wire) > 0 and {p["IP"].src for p in on_wire} == {"172.17.1.2", "172.17.2.2"}


def test_containers_are_found_by_name_or_id_prefix():
    lab, ubuntu1, _, _ = docker_lab("names")
    with lab:
        c = ubuntu1.run("sleeper")
        assert c.running and ubuntu1.container(c.id[:6]) is c and ubuntu1.container("sleeper") is c
        with pytest.raises(DockerError, match="No such container"):
            ubuntu1.container("nope")
        with pytest.raises(DockerError, match="invalid container name"):
            ubuntu1.run("-bad")


def test_overlay_spans_hosts_and_the_underlay_sees_only_hosts():
    lab, host_a, host_b = cross_host_lab("overlay")
    with lab:
        net = host_a.network_create("multi", driver="overlay")   # created once, usable on every host
        assert net.scope == "swarm" and "multi" in host_b.network_ls().text()
        a = host_a.run("containerA", network="multi")
        b = host_b.run("containerB", network="multi")
        assert (a.ip, b.ip) == ("10.0.0.2", "10.0.0.3")
        assert next(i.mtu for i in a.interfaces() if i.name == "eth0") == 1450
        with lab.capture(lab["lan"], a, b) as cap:
            assert a.ping(b.ip, count=2).ok
            assert a.run("ping -c1 -W1 containerB").ok               # names resolve across hosts
        at_lan = cap.at(lab["lan"])
        ip_frames = at_lan.filter("ip")
        assert len(ip_frames) > 0 and len(ip_frames) == len(at_lan.filter("udp port 4789"))
        assert {p["IP"].src for p in ip_frames} == {"192.168.3.2", "192.168.3.3"}   # only hosts on the wire
        request = cap.at(a).filter("icmp[icmptype] = icmp-echo")[0]
        journey = cap.journey(request)
        assert journey.points[0] == "hostA/containerA:eth0" and journey.points[-1] == "hostB/containerB:eth0"
        assert ("-", "VXLAN vni=4097") in journey.changed("tunnel")
        assert a.ping(b.ip, count=1, size=1422, dont_fragment=True).ok       # 1450 - 28: fits
        assert not a.ping(b.ip, count=1, size=1423, dont_fragment=True, timeout=0.5).ok
        other = host_a.run("other")                                          # default bridge: not on the overlay
        assert not other.ping(b.ip, count=1, timeout=0.5).ok
        host_b.rm(b)
        assert not a.ping("10.0.0.3", count=1, timeout=0.5).ok
        host_b.run("again", network="multi")                               # the freed address is reused
        assert a.ping("10.0.0.3", count=1).ok
