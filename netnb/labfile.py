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
``kind`` and, for switches, ``subnet``/``ageing``/``stp``/``priority``, for hosts and routers ``addresses`` (besides their
links': ``10.255.0.1/32`` on loopback, or ``{ip: 10.0.0.11/24, dev: eth0}``); ``links`` are ``[a, b]`` pairs or mappings with
``a``, ``b`` and the options of ``Lab.link`` (``ip``, ``ifname``, ``mtu``, ``subnet``, ``port``: a switch port's
``{hairpin, isolated, learning, flood, cost, priority}``, or a pair; ``rate``: ``10mbit``, or a pair); ``routes`` maps
a node to a list of ``{dest, via, dev}`` (``via`` a list of gateways for a multipath route); ``startup`` maps a node to the commands it runs once the lab is
up (a list — a server among them as ``{service: COMMAND, port: N}`` — or a block of lines as a Kathará ``.startup``
file); ``firewall`` maps a host or router to its
iptables lines (``-P FORWARD DROP``, ``-t nat -A POSTROUTING -o eth1 -j MASQUERADE``: a list or a block); ``files``
maps a node to its own files by path (text, or ``{content | source | folder, mode}``; paths of sources relative to
the lab file); ``shared`` maps a path to a folder every node shares there (null, or a folder relative to the lab
file whose files it starts with); ``ipv6`` is true or false; ``docker`` maps a Docker host's name
to ``{lan, ip, bridge_subnet, gateway, containers}``, ``containers`` a name to ``{command, network, expose,
publish_all, publish: [{host, container}]}`` (run when the lab starts, as ``docker run -d``). The file's shape is checked against
a JSON Schema (``netnb/labfile.schema.json``, :func:`schema`; editors that read ``# yaml-language-server:
$schema=...`` use it while you type), its meaning by the model, and every problem comes with its line.

Read strictly, where YAML 1.1 (PyYAML) is loose: a key written twice is an error (PyYAML keeps the last);
``ipv6: 'no'`` is a string, not false; and a value YAML turned into something else than was written
(``2221:22`` is the base-60 number 133282, ``no`` is false) is named with what to quote. The line
tracking and duplicate-key check walk PyYAML's node tree by hand: PyYAML's loaders do neither.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from functools import cache
from typing import Any

import yaml

from netnb.errors import NetnbError, TopologyError
from netnb.lab import Lab
from netnb.model import StartupCommand
from netnb.model.resolver import script_lines
from netnb.model.topology import PORT_DEFAULTS, PortOptions
from netnb.nodes import Host, Node

_Path = tuple[Any, ...]


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of lab files (the file ``netnb/labfile.schema.json`` shipped with netnb)."""
    with open(os.path.join(os.path.dirname(__file__), "labfile.schema.json"), encoding="utf-8") as f:
        return dict(json.load(f))


def load(path: str, *, backend: str | None = None) -> Lab:
    """A Lab from a YAML file; every problem of the file, each with its line, in one TopologyError.
    ``backend`` as for :class:`netnb.Lab`."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise TopologyError([f"{path}: no such file; give the path of a lab file (examples/routed.yaml)"]) from None
    except IsADirectoryError:
        raise TopologyError([f"{path}: is a folder; give the path of a lab file inside it"]) from None
    except OSError as exc:
        raise TopologyError([f"{path}: cannot be read ({exc.strerror})"]) from exc
    return load_text(_decode(raw, path), source=path, backend=backend)


def _decode(raw: bytes, path: str) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(raw) > 1 and (raw[0] == 0 or raw[1] == 0)):
        raise TopologyError([f"{path}: saved as UTF-16; save it as UTF-8 (most editors: 'Save with encoding')"])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise TopologyError([f"{path}:{line}: byte 0x{raw[exc.start]:02x} is not UTF-8; save the file as UTF-8"]) \
            from None


def read_yaml(text: str, source: str = "") -> tuple[Any, YamlTree]:
    """YAML text as plain data, and its :class:`YamlTree` (each value's line, how scalars were written,
    keys written twice); text that is not YAML raises a TopologyError with its line."""
    where = YamlWhere(source)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise TopologyError([where.at(line, f"the file is not valid YAML: {getattr(exc, 'problem', exc)}")]) \
            from exc
    tree = YamlTree(where)
    return (tree.plain(root, ()) if root is not None else None), tree


def load_text(text: str, source: str = "", *, backend: str | None = None) -> Lab:
    """A Lab from YAML text; every problem (shape, duplicate keys, meaning) reported together, with lines."""
    data, tree = read_yaml(text, source)
    where = tree.where
    if not isinstance(data, dict):
        raise TopologyError([where.at(1, "the lab file must be a mapping with name, nodes, links (and routes, ipv6)")])
    problems = list(tree.problems)
    bad: set[_Path] = set()
    for error in _validator().iter_errors(data):
        path = tuple(error.absolute_path)
        if error.validator != "additionalProperties":  # unknown keys are reported, then left out
            bad.add(path)
        problems.append((tree.line(path), _explain(error, path, tree)))
    lab, more = _build(data, tree, bad, backend)
    problems += more
    if problems:
        raise TopologyError([where.at(line, text) for line, text in sorted(problems, key=lambda p: p[0] or 0)])
    return lab


@cache
def _validator() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(schema())


class YamlWhere:
    """Formats a problem with its place: ``lab.yaml:12: ...`` for a file, ``line 12: ...`` for text."""

    def __init__(self, source: str) -> None:
        self.source = source

    def at(self, line: int | None, text: str) -> str:
        if line is None:
            return f"{self.source}: {text}" if self.source else text
        return f"{self.source}:{line}: {text}" if self.source else f"line {line}: {text}"


class YamlTree:
    """PyYAML's node tree as plain data, remembering each value's line and how it was written."""

    def __init__(self, where: YamlWhere) -> None:
        self.where = where
        self.lines: dict[_Path, int] = {}
        self.written: dict[_Path, str] = {}
        self.problems: list[tuple[int | None, str]] = []
        self._scalars = yaml.constructor.SafeConstructor()

    def line(self, path: _Path) -> int | None:
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path)

    def plain(self, node: yaml.Node, path: _Path) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            first: dict[Any, int] = {}
            for key_node, value_node in node.value:
                key = self.plain(key_node, (*path, "<key>"))
                if not isinstance(key, (str, int, float, bool)) and key is not None:
                    self.problems.append((key_node.start_mark.line + 1, f"{_name(path)}: a key must be a plain name"))
                    continue
                line = key_node.start_mark.line + 1
                if key in out:
                    self.problems.append((line, f"{_name(path)}: {key!r} is written twice (first on line "
                                                f"{first[key]}); keep one"))
                    continue
                first[key] = line
                out[key] = self.plain(value_node, (*path, key))
                self.lines[(*path, key)] = line
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.plain(item, (*path, i)) for i, item in enumerate(node.value)]
        value = self._scalars.construct_object(node)
        if node.tag != "tag:yaml.org,2002:str" and node.style is None:
            self.written[path] = str(node.value)  # a plain scalar YAML made into a number, bool or null
        return value


def _name(path: _Path) -> str:
    """How a problem names a place in the file: ``node 'R'``, ``link 3: ip``, ``route 1 of 'B'``."""
    if not path:
        return "the file"
    head, rest = path[0], path[1:]
    if head == "nodes" and rest:
        text, rest = f"node {rest[0]!r}", rest[1:]
    elif head == "links" and rest and isinstance(rest[0], int):
        text, rest = f"link {rest[0] + 1}", rest[1:]
    elif head == "routes" and len(rest) >= 2 and isinstance(rest[1], int):
        text, rest = f"route {rest[1] + 1} of {rest[0]!r}", rest[2:]
    elif head == "routes" and rest:
        text, rest = f"routes of {rest[0]!r}", rest[1:]
    else:
        text = str(head)
    for part in rest:
        text += f" end {part + 1}" if isinstance(part, int) else f": {part}"
    return text


_TYPE_WORDS = {"string": "text", "boolean": "true or false", "integer": "a whole number", "number": "a number",
               "object": "a mapping (key: value)", "array": "a list", "null": "nothing (null)"}


def _explain(error: Any, path: _Path, tree: YamlTree) -> str:
    """One jsonschema error as a sentence that says what to write instead."""
    where, value, rule = _name(path), error.instance, error.validator
    if rule == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(str(k) for k in value if k not in allowed) if isinstance(value, dict) else []
        return f"{where}: unknown key{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra))}; " \
               f"use {', '.join(allowed)}"
    if rule == "enum":
        written = tree.written.get(path)
        also = f" (YAML read `{written}` as {value!r}: put it in quotes)" if written is not None else ""
        return f"{where}: {value!r} is not one of {', '.join(map(str, error.validator_value))}{also}"
    if rule == "type":
        expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        want = " or ".join(_TYPE_WORDS.get(str(t), str(t)) for t in expected)
        written = tree.written.get(path)
        if written is not None and "string" in expected:
            return f"{where}: YAML read `{written}` as {value!r}, not as text; put it in quotes: '{written}'"
        if path and path[0] == "nodes" and len(path) == 2:
            also = f" (YAML read `{written}` as {value!r}: put it in quotes)" if written is not None else ""
            return f"{where}: write a kind (host, router, switch, hub) or {{kind: switch, subnet: ...}}, " \
                   f"not {value!r}{also}"
        if path and path[0] == "links" and len(path) == 2:
            return f"{where}: write [A, B] or {{a: A, b: B, ip: ...}}, not {value!r}"
        if path and path[0] == "routes" and len(path) == 2:
            return f"{where}: write a list of routes, e.g. [{{dest: default, via: 10.0.0.1}}], not {value!r}"
        if path and path[0] == "routes" and len(path) == 3:
            return f"{where}: write a route as {{dest: default, via: 10.0.0.1}}, not {value!r}"
        return f"{where}: {value!r} is {_kind_of(value)}; write {want}"
    if rule == "oneOf" and path[:1] == ("startup",) and len(path) == 2:
        return f"{where}: write a list of commands — a server among them as {{service: COMMAND, port: N}} and " \
               f"nothing else in it — or a block of lines, not {value!r}"
    if rule == "oneOf" and path[:1] == ("routes",) and path[-1:] == ("via",):
        return f"{where}: write one gateway (via: 10.0.0.1) or two or more for a multipath route " \
               f"(via: [10.0.1.1, 10.0.2.1]), not {value!r}"
    if rule == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        return f"{where}: missing {', '.join(missing) or error.message}"
    if rule in ("minItems", "maxItems") and len(path) == 2 and path[0] == "links":
        return f"{where}: a link joins two nodes: write [A, B], not {len(value)} names"
    if rule in ("minItems", "maxItems"):
        return f"{where}: give one value or a pair [a-side, b-side], not {len(value)} values"
    if rule == "pattern" and path == ("name",):
        return f"name {value!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
    if rule == "minProperties":
        return f"{where}: name at least one node, e.g. {{A: host, B: host}}"
    return f"{where}: {error.message}"


def _kind_of(value: Any) -> str:
    for python, word in ((bool, "true/false"), (int, "a number"), (float, "a number"), (str, "text"),
                         (list, "a list"), (dict, "a mapping"), (type(None), "empty")):
        if isinstance(value, python):
            return word
    return type(value).__name__


def _build(data: dict[str, Any], tree: YamlTree, bad: set[_Path], backend: str | None
           ) -> tuple[Lab, list[tuple[int | None, str]]]:
    """The lab from the parts of the file whose shape is right; the model's problems, with their lines.

    Parts whose shape is wrong were reported already; what refers to them is left out rather than
    reported again (a node of an unknown kind is not also "missing" from every link to it).
    """
    def broken(*path: Any) -> bool:
        """A problem was reported at ``path``, above it, or (for one node, link or route) inside it."""
        return any(path[:len(b)] == b or (len(path) >= 2 and b[:len(path)] == path) for b in bad)

    lab = Lab(data.get("name", "lab") if not broken("name") else "lab",
              ipv6=data.get("ipv6") is True, backend=backend)
    def part(key: str, kind: type) -> Any:
        value = data.get(key)
        return value if isinstance(value, kind) else kind()

    nodes: dict[Any, Any] = part("nodes", dict)
    skipped = {name for name in nodes if broken("nodes", name)}
    node_lines: dict[str, int | None] = {}
    misplaced: list[tuple[int | None, str]] = []
    for name, spec in nodes.items():
        if name in skipped:
            continue
        kind, options = (spec, {}) if isinstance(spec, str) else (spec["kind"], spec)
        node_lines[str(name)] = tree.line(("nodes", name))
        if kind in ("switch", "hub"):
            if options.get("addresses"):
                misplaced.append((tree.line(("nodes", name, "addresses")), f"node {name!r}: a {kind} is a layer-2 "
                                  "device and has no addresses; give them to hosts and routers"))
            if kind == "hub":
                lab.hub(str(name), options.get("subnet"))
            else:
                lab.switch(str(name), options.get("subnet"), ageing=options.get("ageing"),
                           stp=options.get("stp") is True, priority=options.get("priority"))
        else:
            node = getattr(lab, kind)(str(name))
            for given in options.get("addresses", []):  # "10.255.0.1/32" (on lo) or {ip: ..., dev: eth0}
                node.address(given["ip"], dev=given.get("dev", "lo")) if isinstance(given, dict) else node.address(given)
    links: list[Any] = part("links", list) if not broken("links") else []
    for i, link in enumerate(links):
        if broken("links", i):
            continue
        link = {"a": link[0], "b": link[1]} if isinstance(link, list) else link
        if {link["a"], link["b"]} & skipped:
            continue
        options = {k: tuple(v) if isinstance(v, list) else v for k, v in link.items()
                   if k in ("ip", "ifname", "mtu", "subnet", "rate")}
        if "port" in link:  # (unknown options were reported already: left out)
            def port_options(given: dict[str, Any]) -> PortOptions:
                return PortOptions(**{k: v for k, v in given.items() if k in PORT_DEFAULTS})
            port = link["port"]
            options["port"] = tuple(None if p is None else port_options(p) for p in port) if isinstance(port, list) \
                else port_options(port)
        spec = lab.link(link["a"], link["b"], **options)
        spec.origin = f"line {tree.line(('links', i))}: link {i + 1}"
    routes: dict[Any, Any] = part("routes", dict)
    problems: list[tuple[int | None, str]] = misplaced
    for name, entries in routes.items():
        if broken("routes", name) or name in skipped:
            continue
        node = lab.nodes.get(str(name))
        if not isinstance(node, Host):
            what = "no node of this lab" if node is None else f"a {node.kind.value}, which has no routes"
            problems.append((tree.line(("routes", name)), f"routes of {name!r}: {name!r} is {what}"))
            continue
        for j, r in enumerate(entries):
            node.route(r["dest"], via=r.get("via"), dev=r.get("dev"))
            node.spec.routes[-1].origin = f"line {tree.line(('routes', name, j))}"
    problems += _startup(lab, part("startup", dict), tree, broken, skipped)
    rule_lines: dict[str, int] = {}
    problems += _firewall(lab, part("firewall", dict), tree, broken, skipped, rule_lines)
    problems += _files(lab, part("files", dict), tree, broken, skipped)
    problems += _shared(lab, part("shared", dict), tree, broken)
    problems += _docker(lab, part("docker", dict), tree, broken)
    for text in lab.validate():
        line = None
        named = re.match(r"(?:node|switch|hub|host|router) '([^']+)'", text)
        rule = re.search(r"rule '([^']+)'", text)
        if rule and rule.group(1) in rule_lines:
            line = rule_lines[rule.group(1)]
        elif named and named.group(1) in node_lines:
            line = node_lines[named.group(1)]
        elif (found := re.match(r"line (\d+): (.*)", text, re.S)):
            line, text = int(found.group(1)), found.group(2)
        problems.append((line, text))
    return lab, problems


def _lines(given: Any, tree: YamlTree, path: _Path) -> list[tuple[str, int]]:
    """A list of lines, or a block of them (blank lines and ``#`` comments skipped, a line ending in ``\\``
    continued on the next), each with its line in the file."""
    if not isinstance(given, str):
        return [(str(c), tree.line((*path, i)) or 0) for i, c in enumerate(given)]
    first = (tree.line(path) or 0) + (1 if "\n" in given else 0)  # a block starts below its key
    return [(text, first + number - 1) for text, number in script_lines(given)]


def _per_node(lab: Lab, key: str, given: dict[str, Any], tree: YamlTree, broken: Any, skipped: set[Any]
              ) -> tuple[list[tuple[int | None, str]], list[tuple[Node, list[tuple[str, int]]]]]:
    """A section that maps node names to lines (``startup``, ``firewall``): problems, and each node's lines."""
    problems: list[tuple[int | None, str]] = []
    found = []
    for name, lines in given.items():
        if broken(key, name) or name in skipped:
            continue
        node = lab.nodes.get(str(name))
        if node is None:
            problems.append((tree.line((key, name)), f"{key} of {name!r}: no node of this lab is called {name!r} "
                                                     f"(its nodes: {', '.join(lab.nodes)})"))
            continue
        found.append((node, _lines(lines, tree, (key, name))))
    return problems, found


def _startup(lab: Lab, nodes: dict[str, Any], tree: YamlTree, broken: Any, skipped: set[Any]
             ) -> list[tuple[int | None, str]]:
    """Each node's startup commands: a list, or a block of lines as a Kathará ``.startup`` file."""
    problems, found = _per_node(lab, "startup", nodes, tree, broken, skipped)
    for node, commands in found:
        given = nodes[node.name]
        for i, (command, line) in enumerate(commands):
            item = given[i] if isinstance(given, list) else command
            if isinstance(item, dict):  # {service: COMMAND, port: N}
                node.spec.startup.append(StartupCommand(str(item["service"]), f"line {line}", int(item["port"])))
            else:
                node.spec.startup.append(StartupCommand(command, f"line {line}"))
    return problems


def _firewall(lab: Lab, nodes: dict[str, Any], tree: YamlTree, broken: Any, skipped: set[Any],
              rule_lines: dict[str, int]) -> list[tuple[int | None, str]]:
    """Each node's iptables lines (``-P``, ``-N``, ``-A``), as :meth:`netnb.nodes.Host.firewall` takes them;
    ``rule_lines`` gets each rule's text and line, for the model's problems about it."""
    problems, found = _per_node(lab, "firewall", nodes, tree, broken, skipped)
    for node, lines in found:
        if not isinstance(node, Host):
            problems.append((lines[0][1] if lines else None, f"firewall of {node.name!r}: a {node.kind.value} has "
                                                             "no firewall; put the rules on a host or router"))
            continue
        for text, line in lines:
            try:
                node.firewall(text)
            except NetnbError as exc:
                problems.append((line, str(exc)))
                continue
            if node.spec.rules:
                rule_lines.setdefault(node.spec.rules[-1].text, line)
    return problems


def _files(lab: Lab, nodes: dict[str, Any], tree: YamlTree, broken: Any, skipped: set[Any]
           ) -> list[tuple[int | None, str]]:
    """Each node's own files: text by path, or ``{content | source | folder, mode}``; ``source`` and
    ``folder`` are relative to the lab file's folder (the current folder for text)."""
    base = os.path.dirname(os.path.abspath(tree.where.source)) if tree.where.source else os.getcwd()
    problems: list[tuple[int | None, str]] = []
    for name, files in nodes.items():
        if broken("files", name) or name in skipped:
            continue
        node = lab.nodes.get(str(name))
        if node is None:
            problems.append((tree.line(("files", name)), f"files of {name!r}: no node of this lab is called "
                                                         f"{name!r} (its nodes: {', '.join(lab.nodes)})"))
            continue
        for path, given in files.items():
            where = ("files", name, path)
            line = tree.line(where)
            if broken(*where):
                continue
            given = {"content": given} if isinstance(given, str) else given
            kinds = [k for k in ("content", "source", "folder") if k in given]
            if len(kinds) != 1:
                problems.append((line, f"file {path} of {name!r}: give one of content, source or folder, not "
                                       f"{' and '.join(kinds) or 'none'}"))
                continue
            mode = _mode(given.get("mode"), tree.written.get((*where, "mode"), ""))
            try:
                if isinstance(mode, str):
                    raise NetnbError(mode)
                if "folder" in given:
                    node.files_from(os.path.join(base, given["folder"]), to=str(path))
                    continue
                if "source" in given:
                    with open(os.path.join(base, given["source"]), "rb") as f:
                        content: str | bytes = f.read()
                else:
                    content = given["content"]
                node.file(str(path), content, **({} if mode is None else {"mode": mode}))
                node.spec.files[str(path)] = dataclasses.replace(node.spec.files[str(path)], origin=f"line {line}")
            except OSError as exc:
                problems.append((line, f"file {path} of {name!r}: cannot read {given['source']!r} "
                                       f"({exc.strerror}); paths are relative to the lab file's folder"))
            except NetnbError as exc:
                problems.append((line, f"file {path} of {name!r}: {exc}"))
    return problems


def _shared(lab: Lab, shares: dict[str, Any], tree: YamlTree, broken: Any) -> list[tuple[int | None, str]]:
    """Folders every node shares: path -> a folder (relative to the lab file) whose files it holds, or null."""
    base = os.path.dirname(os.path.abspath(tree.where.source)) if tree.where.source else os.getcwd()
    problems: list[tuple[int | None, str]] = []
    for path, folder in shares.items():
        if broken("shared", path):
            continue
        try:
            lab.share(str(path), source=None if folder is None else os.path.join(base, folder))
        except NetnbError as exc:
            problems.append((tree.line(("shared", path)), f"shared folder {path}: {exc}"))
            continue
        lab.topology.shares[-1].origin = f"line {tree.line(('shared', path))}"
    return problems


def _mode(value: Any, written: str) -> int | str | None:
    """A file mode written in octal (``0644``, ``'0o755'``, ``'755'``), or a problem; None: not given."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and written.startswith("0"):
        return value  # YAML 1.1 reads 0644 as octal
    text = str(value).removeprefix("0o")
    if isinstance(value, str) and re.fullmatch(r"[0-7]{1,4}", text):
        return int(text, 8)
    return f"mode {written or value!r} must be octal, written with a leading 0 (0644) or quoted ('755')"


def _docker(lab: Lab, hosts: dict[str, Any], tree: YamlTree, broken: Any) -> list[tuple[int | None, str]]:
    """Docker hosts on their switch, and the containers each runs once the lab has started."""
    from netnb.docker import DockerHost
    from netnb.nodes import Switch

    problems: list[tuple[int | None, str]] = []
    for name, spec in hosts.items():
        if broken("docker", name):
            continue
        lan = lab.nodes.get(spec["lan"])
        if not isinstance(lan, Switch):
            problems.append((tree.line(("docker", name, "lan")),
                             f"Docker host {name!r}: lan {spec['lan']!r} is not a switch of this lab"))
            continue
        options = {k: spec[k] for k in ("bridge_subnet", "gateway") if k in spec}
        host = DockerHost(lab, str(name), lan, ip=spec["ip"], **options)
        containers = spec.get("containers") or {}

        def start(_: Lab, host: DockerHost = host, containers: dict[str, Any] = containers) -> None:
            for cname, c in containers.items():
                host.run(str(cname), c.get("command", "sleep infinity"), network=c.get("network", "bridge"),
                         expose=c.get("expose", []), publish_all=c.get("publish_all") is True,
                         publish={p["host"]: p["container"] for p in c.get("publish", [])})
        lab.on_start(start)
    return problems


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
