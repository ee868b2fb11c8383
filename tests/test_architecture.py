"""The project's import graph: no cycles, no use of another module's private names, layers kept apart.

Every import in ``app/`` and ``sam3core/`` counts, also those inside functions and under
``TYPE_CHECKING`` (a lazy import hides a cycle, it does not remove it), and ``importlib.import_module``
must name its module literally so the graph sees it. A private name is one with a leading underscore
(not a dunder) that another project module defines: importing it, or reaching it as ``x._name`` from a
module that does not define it, is a violation.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "sam3core")


@dataclass
class Graph:
    files: dict[str, Path]
    trees: dict[str, ast.Module]
    edges: dict[str, set[str]] = field(default_factory=dict)
    hidden_imports: list[str] = field(default_factory=list)  # import_module(<not a literal>)


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def build_graph(root: Path, packages: Iterable[str]) -> Graph:
    files = {_module_name(root, p): p for pkg in packages for p in sorted((root / pkg).rglob("*.py"))}
    graph = Graph(files, {m: ast.parse(p.read_text(), str(p)) for m, p in files.items()})
    for module, tree in graph.trees.items():
        is_package = files[module].name == "__init__.py"
        targets: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names if a.name in files)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    package = module if is_package else module.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        package = package.rpartition(".")[0]
                    base = f"{package}.{base}" if base else package
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    if sub in files:
                        targets.add(sub)
                    elif base in files:
                        targets.add(base)
            elif isinstance(node, ast.Call) and _called_name(node.func) == "import_module":
                arg = node.args[0] if node.args else None
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    if arg.value in files:
                        targets.add(arg.value)
                else:
                    graph.hidden_imports.append(f"{module}:{node.lineno}")
        targets.discard(module)
        graph.edges[module] = targets
    return graph


def _called_name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_uses(graph: Graph) -> list[str]:
    defined: dict[str, set[str]] = {}
    for module, tree in graph.trees.items():
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
        defined[module] = {n for n in names if _is_private(n)}
    anywhere = set().union(*defined.values())
    found = []
    for module, tree in graph.trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                found += [f"{module}:{node.lineno} imports {node.module}.{a.name}" for a in node.names
                          if _is_private(a.name)]
            elif isinstance(node, ast.Attribute) and _is_private(node.attr):
                if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                    continue
                if node.attr in anywhere and node.attr not in defined[module]:
                    found.append(f"{module}:{node.lineno} uses {ast.unparse(node)}")
    return found


@pytest.fixture(scope="module")
def graph() -> Graph:
    return build_graph(ROOT, PACKAGES)


def test_the_import_graph_has_no_cycle(graph: Graph) -> None:
    assert len(graph.files) > 80  # the whole project was read
    assert cycles(graph.edges) == []


def test_imports_are_visible(graph: Graph) -> None:
    assert graph.hidden_imports == []


def test_no_module_uses_another_modules_private_names(graph: Graph) -> None:
    assert private_uses(graph) == []


def test_layers(graph: Graph) -> None:
    # allocator machinery is the engines' business; the trackers know nothing of the app
    assert [m for m, targets in graph.edges.items()
            if m.startswith("app.") and any(t.startswith("sam3core.runtime") for t in targets)] == []
    assert [m for m, targets in graph.edges.items()
            if m.startswith("sam3core") and any(t.startswith("app") for t in targets)] == []


def test_the_checks_find_what_they_look_for(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B\n"
                              "def _helper():\n    return 1\n")
    (pkg / "b.py").write_text("import importlib\nclass B:\n    def f(self, other):\n"
                              "        from pkg import a\n        return a._helper() + other._helper()\n"
                              "def g(name):\n    return importlib.import_module(name)\n")
    (pkg / "c.py").write_text("from pkg.a import _helper\n")
    found = build_graph(tmp_path, ["pkg"])
    assert cycles(found.edges) == [["pkg.a", "pkg.b"]]
    assert found.hidden_imports == ["pkg.b:7"]
    assert sorted(private_uses(found)) == ["pkg.b:5 uses a._helper", "pkg.b:5 uses other._helper",
                                           "pkg.c:1 imports pkg.a._helper"]
