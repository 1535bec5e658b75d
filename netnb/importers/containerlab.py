"""containerlab topologies (``*.clab.yml``) of ``linux`` and ``bridge`` nodes, unmodified.

What maps to what (the README has the table):

- ``topology.nodes``: each node's settings are its own over its group's over its kind's over
  ``topology.defaults`` (``binds`` and ``env`` are merged, the rest is replaced), as containerlab merges them.
- ``kind: linux`` is a node running this machine's programs: a host, or a router where its ``exec`` lines
  turn forwarding on or it runs FRR. Images are not pulled: plain Linux images (alpine, debian, ubuntu, netshoot, …) run as
  such; FRR images run this machine's FRR (``scripts/setup.sh --frr``), started before the ``exec`` lines as
  the image starts it. Other kinds are refused.
- ``kind: bridge`` / ``ovs-bridge``: a switch of the lab (containerlab expects a bridge made on the machine
  beforehand; netnb makes it inside the lab instead).
- ``links``: ``endpoints: ["a:eth1", "b:eth1"]`` (or the extended form, with ``mac`` and ``mtu``): a cable,
  interface names kept. Endpoints on ``host``, ``mgmt-net`` or ``macvlan`` are refused: they reach the
  machine's network.
- ``exec``: run once the lab is up, in order, in the node's own view of the files; addresses and routes in
  the plain forms become part of the description (see :mod:`netnb.importers.lines`), and lines that would
  change the machine are refused.
- ``binds``: ``src:dst[:ro]`` copies ``src`` (relative to the topology file) into the node's own files at
  ``dst``: a copy, so the node never writes the machine's file.
- The management network (``mgmt``, ``mgmt-ipv4``, containerlab's eth0) is dropped; ``ports`` (published on
  the machine) is refused; ``cmd``, ``env``, ``labels`` and the like are noted and left out.

The file is read strictly, as netnb's own lab files (:func:`netnb.labfile.read_yaml`): a key written twice is
an error, and a value YAML 1.1 read as something else than was written (``2221:22`` is the number 133282) is
named with what to quote.
"""

from __future__ import annotations

import os
import re
from typing import Any

from netnb.errors import NetnbError, TopologyError
from netnb.importers.common import (
    Findings,
    NodeLines,
    add_left_over,
    frr_installed,
    per_daemon_configs,
    read_text,
    sort_lines,
)
from netnb.model.frr import FRR_START
from netnb.lab import Lab
from netnb.labfile import YamlTree, read_yaml
from netnb.nodes import Host

_MERGED = ("binds", "env", "labels")
_PLAIN_IMAGES = re.compile(r"^(docker\.io/)?(library/)?(alpine|debian|ubuntu|busybox|fedora|centos|rockylinux|"
                           r"nicolaka/netshoot|wbitt/network-multitool|praqma/network-multitool)(:.*)?$")
_FRR_IMAGE = re.compile(r"frr", re.I)
_NOTED = ("cmd", "entrypoint", "env", "labels", "user", "image-pull-policy", "restart-policy", "memory", "cpu",
          "cpu-set", "shm-size", "cap-add", "devices", "dns", "network-mode", "runtime", "stages", "certificate",
          "healthcheck", "sysctls", "extras", "enforce-startup-config", "suppress-startup-config", "wait-for")


def is_containerlab(path: str) -> bool:
    """Whether ``path`` names a containerlab topology file."""
    return os.path.basename(path).endswith((".clab.yml", ".clab.yaml"))


def load(path: str, *, backend: str | None = None) -> Lab:
    """A Lab from a containerlab topology file; every problem, with its line, at once.

    Example: ``netnb.load("srl-labs/frr01.clab.yml")``
    """
    data, tree = read_yaml(read_text(path), path)
    found = Findings()
    found.problems += [tree.where.at(line, text) for line, text in tree.problems]

    def at(*where: Any) -> str:
        line = tree.line(where)
        return f"{path}:{line}" if line else path

    if not isinstance(data, dict) or not isinstance(data.get("topology"), dict):
        raise TopologyError([f"{path}: a containerlab topology is a mapping with name and topology (nodes, links)"])
    topo = data["topology"]
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", str(data.get("name") or os.path.basename(path).split(".")[0]))
    lab = Lab(name.strip("-.") or "clab", backend=backend)
    lab.origin = f"containerlab topology {path}"
    if "mgmt" in data:
        found.note(at("mgmt"), "the management network is dropped: nodes have only the lab's links")
    base = os.path.dirname(os.path.abspath(path))
    nodes = _settings(topo, tree, at, found)
    node_lines: dict[str, NodeLines] = {}
    copied: list[str] = []
    for node_name, (settings, kind) in nodes.items():
        if kind in ("bridge", "ovs-bridge"):
            lab.switch(node_name)
            if kind == "ovs-bridge":
                found.note(at("topology", "nodes", node_name, "kind"), f"{node_name}: an Open vSwitch bridge runs "
                                                                       "as a learning Linux bridge")
            continue
        into = NodeLines()
        if _FRR_IMAGE.search(str(settings.get("image") or "")):
            # FRR's image starts its daemons before containerlab runs exec lines (which often ask vtysh)
            into.commands.append((FRR_START, at("topology", "nodes", node_name, "image")))
            found.note(at("topology", "nodes", node_name, "image"), f"{node_name}: FRR runs from this machine's "
                                                                    "installation, with the node's own /etc/frr")
        execs = settings.get("exec") or []
        if not isinstance(execs, list) or not all(isinstance(e, str) for e in execs):
            found.problem(at("topology", "nodes", node_name, "exec"), "exec is a list of commands")
            execs = []
        sort_lines([(e, at("topology", "nodes", node_name, "exec", i)) for i, e in enumerate(execs)], into, found)
        node_lines[node_name] = into
        forwards = any(c.replace(" ", "") in _FORWARD_ON or c == FRR_START for c, _ in into.commands)
        host = lab.router(node_name) if forwards else lab.host(node_name)
        for key in settings:
            if key in _NOTED:
                found.note(at("topology", "nodes", node_name, key), f"{node_name}: {key} is left out (nothing in "
                                                                     "netnb to act on)")
        if _binds(host, settings.get("binds") or [], base,
                  lambda i, n=node_name: at("topology", "nodes", n, "binds", i), found):
            copied.append(node_name)
    if copied:
        found.note(path, f"binds are copied into the nodes' own files ({', '.join(copied)}): a node never writes the "
                         "machine's")
    _links(lab, topo.get("links") or [], nodes, node_lines, tree, at, found)
    return found.finish(lab)


#: Lines that turn IPv4 forwarding on (spaces removed): the node is drawn as a router.
_FORWARD_ON = {"sysctl-wnet.ipv4.ip_forward=1", "sysctlnet.ipv4.ip_forward=1",
               "echo1>/proc/sys/net/ipv4/ip_forward", "sysctl-wnet.ipv4.conf.all.forwarding=1"}


def _settings(topo: dict[str, Any], tree: YamlTree, at: Any, found: Findings
              ) -> dict[str, tuple[dict[str, Any], str]]:
    """Each node's settings merged (own over group over kind over defaults) and its kind; problems found."""
    defaults = topo.get("defaults") or {}
    kinds = topo.get("kinds") or {}
    groups = topo.get("groups") or {}
    out: dict[str, tuple[dict[str, Any], str]] = {}
    for node_name, own in (topo.get("nodes") or {}).items():
        own = own or {}
        where = at("topology", "nodes", node_name)
        if not isinstance(own, dict):
            found.problem(where, f"node {node_name!r} must be a mapping of its settings")
            continue
        group = groups.get(own.get("group"), {}) if own.get("group") else {}
        kind = own.get("kind") or group.get("kind") or defaults.get("kind")
        merged: dict[str, Any] = {}
        for layer in (defaults, kinds.get(kind) or {}, group, own):
            for key, value in layer.items():
                if key in _MERGED and isinstance(value, list):
                    merged[key] = list(merged.get(key, [])) + value
                elif key in _MERGED and isinstance(value, dict):
                    merged[key] = {**merged.get(key, {}), **value}
                else:
                    merged[key] = value
        if kind not in ("linux", "bridge", "ovs-bridge"):
            found.problem(at("topology", "nodes", node_name, "kind") if "kind" in own else where,
                          f"node {node_name!r} is of kind {kind!r}: netnb runs linux nodes and bridges, not network "
                          "operating systems")
            continue
        image = str(merged.get("image") or "")
        if kind == "linux" and _FRR_IMAGE.search(image) and not frr_installed():
            found.problem(at("topology", "nodes", node_name, "image"),
                          f"node {node_name!r} runs {image}: routing daemons; this machine has no FRR, install it "
                          "with `bash scripts/setup.sh --frr` (Debian's frr)")
            continue
        if kind == "linux" and image and not _PLAIN_IMAGES.match(image):
            found.note(at("topology", "nodes", node_name, "image"), f"{node_name}: {image} is not pulled; the node "
                                                                    "runs this machine's programs")
        if "ports" in merged:
            ports = merged["ports"]
            shown = ", ".join(tree.written.get(("topology", "nodes", node_name, "ports", i), str(p))
                              for i, p in enumerate(ports if isinstance(ports, list) else [ports]))
            base60 = any(isinstance(p, int) for p in (ports if isinstance(ports, list) else [ports]))
            found.problem(at("topology", "nodes", node_name, "ports"),
                          f"ports ({shown}) publishes ports on this machine, which netnb never does"
                          + ("; note that YAML 1.1 read an unquoted HOST:PORT as a base-60 number: quote it"
                             if base60 else ""))
        for key in ("mgmt-ipv4", "mgmt-ipv6"):
            if key in merged:
                found.note(at("topology", "nodes", node_name, key), f"{node_name}: {key} is dropped with the "
                                                                     "management network")
        out[str(node_name)] = (merged, kind)
    return out


def _binds(host: Host, binds: list[Any], base: str, at: Any, found: Findings) -> bool:
    """Copy each bind's source into the node's own files; whether any was given."""
    for i, bind in enumerate(binds):
        parts = str(bind).split(":")
        if len(parts) not in (2, 3) or not parts[1].startswith("/"):
            found.problem(at(i), f"bind {bind!r} is not SOURCE:/PATH[:ro]")
            continue
        source = os.path.join(base, parts[0])
        try:
            if os.path.isdir(source):
                host.files_from(source, to=parts[1])
            else:
                with open(source, "rb") as f:
                    mode = os.stat(source).st_mode & 0o7777
                    host.file(parts[1], f.read(), mode=mode)
        except OSError as exc:
            found.problem(at(i), f"bind {bind!r}: cannot read {parts[0]!r} ({exc.strerror}); paths are relative to "
                                 "the topology file")
        except NetnbError as exc:
            found.problem(at(i), f"bind {bind!r}: {exc}")
    return bool(binds)


def _links(lab: Lab, links: list[Any], nodes: dict[str, tuple[dict[str, Any], str]],
           node_lines: dict[str, NodeLines], tree: YamlTree, at: Any, found: Findings) -> None:
    addresses: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for node_name, nl in node_lines.items():
        nl.by_interface(node_name, addresses)
    for i, link in enumerate(links):
        where = at("topology", "links", i)
        ends = _ends(link)
        if ends is None:
            found.problem(where, "a link is {endpoints: [\"node:interface\", \"node:interface\"]}")
            continue
        if link.get("type") not in (None, "veth"):
            found.problem(where, f"a link of type {link['type']!r} reaches the machine's network or devices "
                                 "netnb does not make: only veth links (node to node)")
            continue
        bad = [n for n, _, _ in ends if n not in nodes]
        if bad:
            outside = [n for n in bad if n in ("host", "mgmt-net", "macvlan")]
            found.problem(where, f"endpoint {bad[0]!r} " + ("is this machine's network, which netnb never touches"
                                                            if outside else "is no node of this topology"))
            continue
        (a, ia, ma), (b, ib, mb) = ends

        def ip_of(node: str, ifname: str) -> str | None:
            taken = addresses.get((node, ifname))
            return taken.pop(0)[0] if taken else None

        switch_a, switch_b = nodes[a][1] != "linux", nodes[b][1] != "linux"
        ip: Any = None
        if not switch_a and not switch_b:
            pair = (ip_of(a, ia), ip_of(b, ib))
            ip = None if pair == (None, None) else pair
        elif not switch_a or not switch_b:
            ip = ip_of(a, ia) if not switch_a else ip_of(b, ib)
            if switch_a:  # Lab.link takes the IP end's address: put the node first
                (a, ia, ma), (b, ib, mb) = (b, ib, mb), (a, ia, ma)
        mtu = link.get("mtu")
        lab.link(a, b, ifname=(ia, ib), ip=ip, mac=(ma, mb) if ma or mb else None,
                 mtu=mtu if isinstance(mtu, int) else None).origin = where
    add_left_over(lab, addresses)
    for node_name, nl in node_lines.items():
        host = lab[node_name]
        assert isinstance(host, Host)
        nl.describe(host)
        per_daemon_configs(host)


def _ends(link: Any) -> list[tuple[str, str, str | None]] | None:
    """``[(node, interface, mac), (node, interface, mac)]`` of a link in the brief or the extended form."""
    if not isinstance(link, dict) or not isinstance(link.get("endpoints"), list) or len(link["endpoints"]) != 2:
        return None
    out: list[tuple[str, str, str | None]] = []
    for end in link["endpoints"]:
        if isinstance(end, str) and end.count(":") == 1:
            node, ifname = end.split(":")
            out.append((node, ifname, None))
        elif isinstance(end, dict) and isinstance(end.get("node"), str) and isinstance(end.get("interface"), str):
            out.append((end["node"], end["interface"], end.get("mac")))
        else:
            return None
    return out
