"""The house rules that keep netnb changeable: no module reaches into another module's private members,
and the model imports nothing of netnb but itself and the errors."""

from __future__ import annotations

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "netnb"
PROTOCOLS = {"_repr_mimebundle_", "_render_traceback_"}  # IPython's display protocols are public by design


def _private_names_defined(tree: ast.AST) -> set[str]:
    """Private names a module defines itself: methods, functions, and attributes set on self/cls."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name.startswith("_"):
            out.add(node.name)
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and isinstance(node.value, ast.Name) \
                and node.value.id in ("self", "cls"):
            out.add(node.attr)
    return out


def test_no_module_touches_another_modules_private_members():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        own = _private_names_defined(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")):
                continue
            if node.attr in own or node.attr in PROTOCOLS:
                continue  # its own class's (or module's) member
            if isinstance(node.value, ast.Name) and node.value.id in ("os", "sys", "signal", "socket"):
                continue  # the standard library's documented underscore names (os._exit...)
            found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {ast.unparse(node)}")
    assert not found, "\n".join(found)


def test_the_model_imports_only_itself_and_the_errors():
    found = []
    for path in sorted((PACKAGE / "model").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            for name in names:
                if name.startswith("netnb") and not name.startswith(("netnb.model", "netnb.errors", "netnb._lazy")):
                    found.append(f"{path.name}:{node.lineno}: imports {name}")
    assert not found, "\n".join(found)


def test_no_import_cycle_between_the_rooms_of_netnb():
    """Module-level imports (not those for type checking) between netnb's top-level modules and packages
    form no cycle: arrows point one way."""
    import networkx as nx

    def room(module: str) -> str:
        return ".".join(module.split(".")[:2])

    def imports(body: list[ast.stmt]):
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                yield node
            elif isinstance(node, (ast.If, ast.Try)):
                yield from imports([*node.body, *node.orelse, *(s for h in getattr(node, "handlers", []) for s in h.body)])

    graph = nx.DiGraph()
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        for node in imports(ast.parse(path.read_text()).body):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                if name.startswith("netnb") and room(name) != room(module):
                    graph.add_edge(room(module), room(name))
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, cycles


def test_one_registry_of_kinds_serves_the_model_the_drawing_and_lab_files():
    from netnb.labfile import schema
    from netnb.model import NodeKind
    from netnb.model.kinds import KINDS
    from netnb.view.draw import STYLE

    assert {k.value for k in NodeKind} == {k.name for k in KINDS.values() if k.builds == k.name}
    assert all(k.builds in {n.value for n in NodeKind} for k in KINDS.values())
    assert set(STYLE) == set(KINDS)
    assert schema()["$defs"]["kind"]["enum"] == [k.name for k in KINDS.values() if k.in_lab_files]
    assert NodeKind.SWITCH.is_l2 == KINDS["switch"].l2 and NodeKind.HOST.is_l2 == KINDS["host"].l2


def test_a_role_outside_the_registry_is_refused():
    import pytest

    import netnb
    from netnb.model import NodeKind, NodeSpec
    from netnb.nodes import Host

    lab = netnb.Lab("roles")
    lab.add_node(NodeSpec("x", NodeKind.HOST, role="toaster"), Host)
    lab.add_node(NodeSpec("y", NodeKind.SWITCH, role="container"), Host)
    with pytest.raises(netnb.TopologyError) as err:
        lab.plan()
    assert "role 'toaster' is not a kind of host" in str(err.value) and "role 'container' is not a kind of switch" in str(err.value)


def test_no_module_cycle_even_through_imports_inside_functions():
    """Deferred imports (inside functions, for load time) may not hide a loop between modules either."""
    import networkx as nx

    modules = {".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
               for p in PACKAGE.rglob("*.py")}
    graph = nx.DiGraph()
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        tree = ast.parse(path.read_text())
        typing_only = {id(x) for n in ast.walk(tree) if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)
                       for x in ast.walk(n)}
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("netnb"):
                targets = [node.module or "", *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            for target in targets:
                if target in modules and target != module and not module.startswith(target + "."):
                    graph.add_edge(module, target)
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, cycles
