"""Lab files: YAML in, the same Lab as code out; every problem of the file reported together."""

from __future__ import annotations

import glob
import os

import pytest
import yaml

from netnb.errors import TopologyError
from netnb.labfile import load, load_text

from ..labs import three_pcs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_file_and_code_give_the_same_plan():
    lab = load_text("""
name: three-pcs
nodes: {A: host, B: host, C: host, sw: switch}
links:
  - {a: A, b: sw, ip: 10.0.0.1/24}
  - {a: B, b: sw, ip: 10.0.0.2/24}
  - {a: C, b: sw, ip: 10.0.0.3/24}
""")
    assert lab.plan().script() == three_pcs().plan().script()


def test_switch_options_pairs_and_automatic_addresses():
    lab = load_text("""
name: auto
nodes:
  lan: {kind: switch, subnet: 10.1.0.0/24, ageing: 0}
  h1: host
  h2: host
links: [[h1, lan], [h2, lan]]
""")
    assert [str(a) for a in lab["h2"].addresses] == ["10.1.0.2/24"]
    assert lab.resolved().node("lan").bridge.ageing_cs == 0


def test_every_problem_of_a_file_is_reported_together():
    with pytest.raises(TopologyError) as info:
        load_text("""
name: bad
colour: blue
nodes: {A: host, R: toaster, sw: {kind: switch, speed: 10}}
links:
  - [A, sw]
  - {a: A, b: ghost, vlan: 5}
  - just-a-string
routes:
  nobody: [{dest: default, via: 10.0.0.1}]
""")
    text = "\\n".join(info.value.problems)
    for fragment in ("colour", "toaster", "speed", "vlan", "write [A, B]", "nobody"):
        assert fragment in text, fragment


def test_not_yaml_at_all():
    with pytest.raises(TopologyError, match="not valid YAML"):
        load_text("nodes: [unclosed")


def problems_of(text: str, source: str = "") -> list[str]:
    with pytest.raises(TopologyError) as info:
        load_text(text, source=source)
    return info.value.problems


def test_strings_are_not_booleans():
    got = problems_of("name: x\nipv6: 'no'\nnodes:\n  sw: {kind: switch, stp: 'false'}\n  A: host\n")
    assert got == ["line 2: ipv6: 'no' is text; write true or false",
                   "line 4: node 'sw': stp: 'false' is text; write true or false"]
    lab = load_text("name: x\nipv6: false\nnodes:\n  sw: {kind: switch, stp: false}\n")
    assert lab.topology.ipv6 is False and lab.topology.node("sw").stp is False


def test_a_key_written_twice_is_an_error_with_both_lines():
    assert problems_of("name: x\nnodes:\n  A: host\n  A: switch\n") == [
        "line 4: nodes: 'A' is written twice (first on line 3); keep one"]


def test_shapes_give_one_problem_each_with_the_files_own_numbers():
    assert problems_of("name: x\nnodes: [A, B]\n") == [
        "line 2: nodes: ['A', 'B'] is a list; write a mapping (key: value)"]
    assert problems_of('name: x\nnodes: {A: host}\nroutes: {A: "default via 10.0.0.1"}\n') == [
        "line 3: routes of 'A': write a list of routes, e.g. [{dest: default, via: 10.0.0.1}], "
        "not 'default via 10.0.0.1'"]
    got = problems_of("name: x\nnodes: {A: host, B: host, C: host}\nlinks:\n  - [A]\n  - {a: A, b: Z}\n"
                      "  - {a: B, b: C, ip: [10.0.0.1/24, 10.0.0.2/24, x]}\n  - {a: A, b: B, mtu: 10}\n")
    assert got == ["line 4: link 1: a link joins two nodes: write [A, B], not 1 names",
                   "line 5: link 2 (A–Z): there is no node 'Z' in this lab; create it first "
                   "(lab.host/lab.switch/...)",
                   "line 6: link 3: ip: give one value or a pair [a-side, b-side], not 3 values",
                   "line 7: link 4: mtu: 10 is less than the minimum of 68"]


def test_an_unknown_kind_does_not_cascade_into_missing_nodes():
    assert problems_of("name: x\nnodes: {r1: roter, B: host}\nlinks:\n  - [r1, B]\n") == [
        "line 2: node 'r1': 'roter' is not one of host, router, switch, hub"]


def test_yaml_1_1_surprises_are_named_with_what_to_quote():
    assert problems_of("name: x\nnodes: {A: host, B: host}\nlinks:\n  - {a: A, b: B, ifname: [2221:22, eth1]}\n") == [
        "line 4: link 1: ifname end 1: YAML read `2221:22` as 133282, not as text; put it in quotes: '2221:22'"]
    assert problems_of("name: x\nnodes: {A: no}\n") == [
        "line 2: node 'A': write a kind (host, router, switch, hub) or {kind: switch, subnet: ...}, not False "
        "(YAML read `no` as False: put it in quotes)"]


def test_meaning_problems_carry_the_line_of_what_they_are_about():
    got = problems_of("name: x\nnodes:\n  A: host\n  B: host\nlinks:\n  - {a: A, b: B, ip: [10.0.0.1/24, 10.0.0.2/24]}\n"
                      "routes:\n  A: [{dest: default, via: 10.9.9.9}]\n", source="lab.yaml")
    assert len(got) == 1 and got[0].startswith("lab.yaml:8: node 'A': route 'default': the gateway 10.9.9.9")


@pytest.mark.parametrize("content, words", [
    (None, "no such file"),
    ("dir", "is a folder"),
    ("name: x\nnodes: {A: host}\n".encode("utf-16"), "saved as UTF-16; save it as UTF-8"),
    (b"name: caf\xe9\nnodes: {A: host}\n", ":1: byte 0xe9 is not UTF-8"),
])
def test_files_that_cannot_be_read_say_why(tmp_path, content, words):
    from netnb.labfile import load

    path = tmp_path / "lab.yaml"
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(TopologyError, match=words):
        load(str(path))


def test_the_schema_is_published_valid_and_names_every_key():
    import json
    import subprocess
    import sys

    import jsonschema

    from netnb.labfile import schema

    jsonschema.Draft202012Validator.check_schema(schema())
    assert set(schema()["properties"]) == {"name", "ipv6", "nodes", "links", "routes", "startup", "firewall", "files", "shared", "docker"}
    netnb = os.path.join(os.path.dirname(sys.executable), "netnb")
    printed = subprocess.run([netnb, "schema"], capture_output=True, text=True, check=True).stdout
    assert json.loads(printed) == schema()
    for example in glob.glob(os.path.join(REPO, "examples", "*.yaml")):
        with open(example) as f:
            assert f.readline().startswith("# yaml-language-server: $schema=../netnb/labfile.schema.json")
        jsonschema.validate(yaml.safe_load(open(example)), schema())


def test_docker_hosts_and_their_containers_in_a_lab_file():
    lab = load_text("""
name: d
nodes: {lan: {kind: switch, subnet: 192.168.3.0/24}, client: host}
links: [{a: client, b: lan, ip: 192.168.3.10/24}]
docker:
  ubuntu1: {lan: lan, ip: 192.168.3.2, containers: {web: {command: sleep 1, publish: [{host: 8080, container: 80}]}}}
""")
    assert [str(b.address) for b in lab.resolved().node("ubuntu1").bridges] == ["172.17.0.1/16"]
    got = problems_of("name: d\nnodes: {A: host}\ndocker:\n  u1: {lan: A, ip: 10.0.0.2, containers: {w: {publish: [8080]}}}\n")
    assert len(got) == 1 and got[0].startswith("line 4: docker: u1: containers: w: publish end 1: 8080"), got
    assert problems_of("name: d\nnodes: {A: host}\ndocker:\n  u1: {lan: A, ip: 10.0.0.2}\n") == [
        "line 4: Docker host 'u1': lan 'A' is not a switch of this lab"]


def test_hosts_and_routers_have_addresses_besides_their_links():
    lab = load_text("""
nodes:
  R: {kind: router, addresses: [10.255.0.1/32, {ip: 10.0.1.5/24, dev: eth0}]}
  A: host
links: [{a: R, b: A, ip: [10.0.1.1/24, 10.0.1.2/24]}]
""")
    assert [(a.ip, a.dev) for a in lab["R"].spec.addresses] == [("10.255.0.1/32", "lo"), ("10.0.1.5/24", "eth0")]
    assert "ip -n R addr add 10.255.0.1/32 dev lo" in lab.plan().script()
    with pytest.raises(TopologyError) as caught:
        load_text("nodes:\n  R: {kind: router, addresses: [10.255.0.1]}\n  s: {kind: switch, addresses: [1.1.1.1/32]}\n")
    assert "line 2: node 'R': address '10.255.0.1' on 'lo': write it with its prefix" in str(caught.value)
    assert "line 3: node 's': a switch is a layer-2 device and has no addresses" in str(caught.value)


def test_files_section(tmp_path):
    """A node's own files: text by path, a source file or a whole folder relative to the lab file, octal modes;
    each problem with its line."""
    (tmp_path / "web" / "var" / "www").mkdir(parents=True)
    (tmp_path / "web" / "var" / "www" / "index.html").write_text("<h1>w</h1>\n")
    (tmp_path / "motd.txt").write_text("motd\n")
    path = tmp_path / "lab.yaml"
    path.write_text("name: lf\nnodes: {web: host, c: host}\nlinks: [[c, web]]\nfiles:\n  web:\n"
                    "    /: {folder: web}\n    /etc/motd: {source: motd.txt, mode: 0600}\n    /etc/greeting: hello\n")
    files = {p: (f.content, f.mode, f.origin) for p, f in load(str(path))["web"].spec.files.items()}
    assert files == {"/var/www/index.html": (b"<h1>w</h1>\n", 0o644, f"from {tmp_path}/web/var/www/index.html"),
                     "/etc/motd": (b"motd\n", 0o600, "line 7"), "/etc/greeting": (b"hello", 0o644, "line 8")}
    path.write_text("name: lf\nnodes: {web: host}\nfiles:\n  web:\n    /bin2/x: {content: x, mode: 755}\n"
                    "    /a: {content: x, source: y}\n    rel/path: x\n    /b: {source: nothing.txt}\n"
                    "  nobody:\n    /x: y\n")
    with pytest.raises(TopologyError) as err:
        load(str(path))
    assert err.value.problems == [
        f"{path}:5: file /bin2/x of 'web': mode '755' must be octal, written with a leading 0 (0644) or quoted ('755')",
        f"{path}:6: file /a of 'web': give one of content, source or folder, not content and source",
        f"{path}:7: file rel/path of 'web': file path must be absolute and normalised (like /etc/hosts), not 'rel/path'",
        f"{path}:8: file /b of 'web': cannot read 'nothing.txt' (No such file or directory); paths are relative to "
        "the lab file's folder",
        f"{path}:9: files of 'nobody': no node of this lab is called 'nobody' (its nodes: web)"]


def test_shared_section(tmp_path):
    """Folders every node shares: empty, or starting with a folder's files (relative to the lab file); each
    problem with its line, the resolver's too."""
    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "x.txt").write_text("hi\n")
    path = tmp_path / "lab.yaml"
    path.write_text("name: ls\nnodes: {A: host, B: host}\nlinks: [[A, B]]\nshared:\n  /shared: common\n"
                    "  /scratch: null\n")
    lab = load(str(path))
    assert [(s.at, sorted(s.files), s.origin) for s in lab.topology.shares] == [
        ("/shared", ["/shared/x.txt"], "line 5"), ("/scratch", [], "line 6")]
    path.write_text("name: ls\nnodes: {A: host}\nshared:\n  shared: common\n  /a: nowhere\n  /s: common\n"
                    "  /s/in: null\n")
    with pytest.raises(TopologyError) as err:
        load(str(path))
    assert err.value.problems == [
        f"{path}:4: shared folder shared: at must be absolute and normalised (like /etc/hosts), not 'shared'",
        f"{path}:5: shared folder /a: '{tmp_path}/nowhere' is not a folder of this machine; give the folder whose "
        "files the node gets",
        f"{path}:7: shared folder '/s/in': it is inside the shared folder '/s'; share one or the other"]
