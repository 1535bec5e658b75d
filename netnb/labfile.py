"""Labs described in a YAML file, for ``netnb run lab.yaml`` and for sharing labs without code.

>>> lab = load_text('''
... name: routed
... nodes: {A: router, B: host, C: host}
... links:
...   - {a: A, b: B, ip: [10.0.1.1/24, 10.0.1.2/24]}
...   - {a: A, b: C, ip: [10.0.2.1/24, 10.0.2.2/24]}
... routes:
...   B: [{dest: default, via: 10.0.1.1}]
...   C: [{dest: default, via: 10.0.2.1}]
... ''')
>>> lab.plan().script().splitlines()[-1]
'ip -n C route add default via 10.0.2.1'

Format: ``name``; ``nodes`` maps a name to a kind (host, router, switch, hub) or to a mapping with
``kind`` and, for switches, ``subnet``/``ageing``; ``links`` are ``[a, b]`` pairs or mappings with
``a``, ``b`` and the options of ``Lab.link`` (``ip``, ``ifname``, ``mtu``, ``subnet``); ``routes`` maps
a node to a list of ``{dest, via, dev}``.
"""

from __future__ import annotations

import yaml

from netnb.errors import TopologyError
from netnb.lab import Lab
from netnb.nodes import Host

_KINDS = ("host", "router", "switch", "hub")


def load_text(text: str) -> Lab:
    """A Lab from YAML text; every problem of the file is reported together (TopologyError)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TopologyError([f"the lab file is not valid YAML: {exc}"]) from exc
    if not isinstance(data, dict):
        raise TopologyError(["the lab file must be a mapping with name, nodes, links (and routes)"])
    problems: list[str] = []
    unknown = set(data) - {"name", "nodes", "links", "routes", "ipv6"}
    if unknown:
        problems.append(f"unknown top-level keys {sorted(unknown)}; use name, nodes, links, routes, ipv6")
    lab = Lab(str(data.get("name", "lab")), ipv6=bool(data.get("ipv6", False)))
    for name, spec in (data.get("nodes") or {}).items():
        kind, options = (spec, {}) if isinstance(spec, str) else ((spec or {}).get("kind", "host"), dict(spec or {}))
        options.pop("kind", None)
        if kind not in _KINDS:
            problems.append(f"node {name!r}: kind {kind!r} is not one of {', '.join(_KINDS)}")
            continue
        try:
            if kind in ("switch", "hub"):
                if kind == "hub":
                    lab.hub(str(name), options.pop("subnet", None))
                else:
                    lab.switch(str(name), options.pop("subnet", None), ageing=options.pop("ageing", None),
                               stp=bool(options.pop("stp", False)))
            else:
                getattr(lab, kind)(str(name))
        except TypeError as exc:
            problems.append(f"node {name!r}: {exc}")
            continue
        if options:
            problems.append(f"node {name!r}: unknown options {sorted(options)}")
    for i, link in enumerate(data.get("links") or []):
        where = f"link {i + 1}"
        if isinstance(link, list) and len(link) == 2:
            link = {"a": link[0], "b": link[1]}
        if not isinstance(link, dict) or "a" not in link or "b" not in link:
            problems.append(f"{where}: write [A, B] or {{a: A, b: B, ip: ...}}")
            continue
        options = {k: v for k, v in link.items() if k not in ("a", "b")}
        bad = set(options) - {"ip", "ifname", "mtu", "subnet"}
        if bad:
            problems.append(f"{where}: unknown options {sorted(bad)}; use ip, ifname, mtu, subnet")
            continue
        for key in ("ip", "ifname"):
            if isinstance(options.get(key), list):
                options[key] = tuple(options[key])
        lab.link(str(link["a"]), str(link["b"]), **options)
    for name, routes in (data.get("routes") or {}).items():
        node = lab.nodes.get(str(name))
        if not isinstance(node, Host):
            problems.append(f"routes: {name!r} is not a host or router of this lab")
            continue
        for r in routes or []:
            if not isinstance(r, dict) or "dest" not in r:
                problems.append(f"routes of {name!r}: write {{dest: default, via: 10.0.0.1}}")
                continue
            node.route(str(r["dest"]), via=r.get("via"), dev=r.get("dev"))
    problems += lab.validate()
    if problems:
        raise TopologyError(problems)
    return lab


def load(path: str) -> Lab:
    """A Lab from a YAML file."""
    with open(path) as f:
        return load_text(f.read())


def ping_matrix(lab: Lab) -> list[list[str]]:
    """Every host with an address pings every other one once: rows of ✔/✘ (for ``netnb run --ping``)."""
    hosts = [n for n in lab if isinstance(n, Host) and n.addresses]
    rows = [["", *[h.name for h in hosts]]]
    for a in hosts:
        row: list[str] = [a.name]
        for b in hosts:
            row.append("·" if a is b else ("✔" if a.ping(b, count=1, timeout=0.5).ok else "✘"))
        rows.append(row)
    return rows
