"""The folders stack: no module of best_app imports one that imports it back, directly or
through others, and the low layers never reach up to what is installed from above.

Read statically (ast) from the source: every `import best_app...` and `from best_app... import`
at any depth of a module except under `if TYPE_CHECKING:` (for annotations only, never run).
A `from package import name` where `name` is a submodule counts as importing that submodule.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "best_app"


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for other in child.orelse:
                yield from _import_nodes(other)
            continue
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        yield from _import_nodes(child)


def imports_of(path: Path, known: set[str], root: Path = ROOT) -> set[str]:
    """The best_app modules that the module at `path` (under `root`) imports when it runs."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            base = f"{anchor}.{base}" if base else anchor
        found.add(base)
        found.update(f"{base}.{alias.name}" for alias in node.names)
    return (found & known) - {name}


def import_graph(package: Path) -> dict[str, set[str]]:
    root = package.parent
    paths = sorted(package.rglob("*.py"))
    known = {module_name(path, root) for path in paths}
    return {module_name(path, root): imports_of(path, known, root) for path in paths}


def _without_parents(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Importing `a.b.c` runs `a` and `a.b` first: that is Python's doing, not a loop between
    modules, so an edge from a package's submodule to its parents is left out."""
    return {
        name: {target for target in targets if not name.startswith(f"{target}.")}
        for name, targets in graph.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One loop through each strongly connected group of two or more modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = _without_parents(import_graph(PACKAGE))
    assert cycles(graph) == []


def reaches(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in graph.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


@pytest.mark.parametrize(
    ("low", "high"),
    [
        ("best_app.config", "best_app.modules"),  # module names are checked by the factory
        ("best_app.database", "best_app.fastpath"),  # a trick is installed from above
        ("best_app.repositories", "best_app.fastpath"),
        ("best_app.database", "best_app.observability.metrics"),  # the factory attaches it
    ],
)
def test_a_low_layer_never_reaches_up(low: str, high: str) -> None:
    graph = _without_parents(import_graph(PACKAGE))
    for name in graph:
        if name == low or name.startswith(f"{low}."):
            assert not {m for m in reaches(graph, name) if m == high or m.startswith(f"{high}.")}, (
                f"{name} reaches {high}"
            )


def test_config_reaches_only_leaves_of_best_app() -> None:
    """Settings are the bottom layer: what config imports of best_app (best_app.cpus, for
    WEB_CONCURRENCY's default) imports nothing of best_app in turn."""
    graph = _without_parents(import_graph(PACKAGE))
    assert reaches(graph, "best_app.config") <= {"best_app.cpus"}
    assert graph["best_app.cpus"] == set()


# The checks above would pass on code that has no imports; this shows they see what they claim.


def test_a_loop_through_a_third_module_is_found_and_type_checking_is_left_out(
    tmp_path: Path,
) -> None:
    files = {
        "__init__.py": "",
        "a.py": "from best_app import b\nimport best_app.e\n",
        "b.py": "from best_app.c import thing\n",
        "c.py": "def f():\n    from best_app.a import x\n",  # an import inside a function
        "e.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import best_app.a\n",
    }
    for relative, text in files.items():
        (tmp_path / "best_app").mkdir(exist_ok=True)
        (tmp_path / "best_app" / relative).write_text(text)
    graph = import_graph(tmp_path / "best_app")
    assert graph["best_app.e"] == set()
    assert cycles(_without_parents(graph)) == [["best_app.a", "best_app.b", "best_app.c"]]
