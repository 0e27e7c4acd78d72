"""best_app uses other libraries through their public, documented API only.

Read statically (ast) from the source of every module under `best_app/` except `fastpath.py`,
the one module allowed to rely on library internals (each trick there has its measured gain,
a switch and version pins: `tests/test_fastpath.py`):

- no import of an underscored name, or from an underscored module, of another package;
- no attribute read, call or write (`x._name`, `getattr(x, "_name")`) of an underscored name,
  except `self._name` / `cls._name` inside a class of best_app that defines `_name` itself
  (a name best_app defines elsewhere does not make another object's `_name` ours);
- no class of best_app defines an underscored name its third-party base classes already use
  (that would overwrite the library's private state).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from quart import Request as QuartRequest

PACKAGE = Path(__file__).resolve().parents[1] / "best_app"
EXEMPT = {"fastpath.py"}  # paths under best_app/


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _modules(root: Path) -> dict[str, ast.Module]:
    return {
        path.relative_to(root).as_posix(): ast.parse(path.read_text(), str(path))
        for path in sorted(root.rglob("*.py"))
    }


def defined_names(trees: dict[str, ast.Module]) -> set[str]:
    """Every name the given code defines: functions, classes, variables, arguments, and
    attributes it assigns on `self` or `cls`."""
    names: set[str] = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.alias):
                names.add(node.asname or node.name.split(".")[0])
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name)
                and node.value.id in {"self", "cls"}
            ):
                names.add(node.attr)
    return names


def _class_names(cls: ast.ClassDef) -> set[str]:
    """What a class of best_app defines itself: its methods and class attributes, and what its
    methods assign on `self` or `cls` (not its arguments or local variables)."""
    names: set[str] = set()
    for node in cls.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    stores = defined_names({"": ast.Module(body=cls.body, type_ignores=[])})
    attributes = {
        node.attr
        for node in ast.walk(cls)
        if isinstance(node, ast.Attribute)
        and isinstance(node.ctx, ast.Store)
        and isinstance(node.value, ast.Name)
        and node.value.id in {"self", "cls"}
    }
    return names | (attributes & stores)


def _ours(node: ast.AST, name: str, classes: list[ast.ClassDef]) -> bool:
    """`self._name` or `cls._name` inside a class of best_app that defines `_name` itself. Any
    other `x._name` may be a library's private, whatever best_app defines elsewhere."""
    return (
        isinstance(node, ast.Name)
        and node.id in {"self", "cls"}
        and bool(classes)
        and name in _class_names(classes[-1])
    )


def _with_classes(
    tree: ast.AST, classes: list[ast.ClassDef] | None = None
) -> Iterator[tuple[ast.AST, list[ast.ClassDef]]]:
    """Every node of `tree`, with the classes it is inside (innermost last)."""
    classes = classes or []
    for child in ast.iter_child_nodes(tree):
        yield child, classes
        inner = [*classes, child] if isinstance(child, ast.ClassDef) else classes
        yield from _with_classes(child, inner)


def _third_party(module: str | None, level: int) -> bool:
    if level or module is None:
        return False
    top = module.split(".")[0]
    return top != "best_app" and top not in sys.stdlib_module_names


def private_uses(root: Path, exempt: set[str] = EXEMPT) -> list[Finding]:
    trees = _modules(root)
    findings: list[Finding] = []
    for path, tree in trees.items():
        if path in exempt:
            continue
        for node, classes in _with_classes(tree):
            line = getattr(node, "lineno", 0)
            if isinstance(node, ast.ImportFrom) and _third_party(node.module, node.level):
                assert node.module is not None
                if any(_private(part) for part in node.module.split(".")):
                    findings.append(
                        Finding(path, line, f"import from private module {node.module}")
                    )
                for alias in node.names:
                    if _private(alias.name):
                        findings.append(Finding(path, line, f"import {node.module}.{alias.name}"))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")
                    if _third_party(alias.name, 0) and any(_private(p) for p in parts):
                        findings.append(Finding(path, line, f"import {alias.name}"))
            elif (
                isinstance(node, ast.Attribute)
                and _private(node.attr)
                and not _ours(node.value, node.attr, classes)
            ):
                verb = {ast.Load: "reads", ast.Store: "writes", ast.Del: "deletes"}
                findings.append(Finding(path, line, f"{verb[type(node.ctx)]} .{node.attr}"))
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in {"getattr", "setattr", "hasattr", "delattr"}
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
                and _private(node.args[1].value)
                and not _ours(node.args[0], node.args[1].value, classes)
            ):
                findings.append(Finding(path, line, f"{node.func.id}(..., {node.args[1].value!r})"))
    return findings


def test_best_app_uses_no_private_name_of_another_library() -> None:
    assert [str(finding) for finding in private_uses(PACKAGE)] == []


def test_the_check_catches_each_kind_of_private_use(tmp_path: Path) -> None:
    (tmp_path / "own.py").write_text(
        "class Own:\n    def __init__(self):\n        self._mine = 1\n"
        "    def _helper(self):\n        return self._mine + self._helper2()\n"  # ours
        "    def _helper2(self):\n        return getattr(self, '_mine')\n"  # ours
        "def _cached_json():\n    pass\n"  # a name best_app defines ...
        "class Provider(OpenAPIProvider):\n    def build(self):\n        return self._app\n"
    )
    (tmp_path / "bad.py").write_text(
        "from quart.asgi import _handle_exception\n"
        "from sqlalchemy.engine._py_row import X\n"
        "import quart._private\n"
        "from collections import _OrderedDictItemsView\n"  # stdlib: import allowed, not read
        "from .own import _helper\n"  # relative: ours
        "def f(request, provider, body, own):\n"
        "    request._cached_json[False]\n"  # ... does not make another object's ours
        "    provider._app.view_functions\n"
        "    body._data = b''\n"
        "    getattr(request, '_cached_json')\n"
        "    own._mine\n"  # another object's: best_app's class or not, not read from outside
        "    request.__class__\n"
    )
    # Named in the exempt fastpath.py only: not ours elsewhere either.
    (tmp_path / "other.py").write_text("def g(asgi):\n    asgi._send_response\n")
    (tmp_path / "fastpath.py").write_text("from quart.asgi import _send_response\n")
    found = sorted(f.what for f in private_uses(tmp_path))
    assert found == sorted(
        [
            "import quart.asgi._handle_exception",
            "import from private module sqlalchemy.engine._py_row",
            "import quart._private",
            "reads ._cached_json",
            "reads ._app",
            "reads ._app",  # the subclass reads its library base class's private state
            "writes ._data",
            "getattr(..., '_cached_json')",
            "reads ._mine",
            "reads ._send_response",
        ]
    )


def _classes() -> list[type]:
    classes = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if (
            path.relative_to(PACKAGE).as_posix() in EXEMPT or path.name == "__main__.py"
        ):  # importing it runs the CLI
            continue
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(relative.parts).removesuffix(".__init__")
        module = importlib.import_module(name)
        classes += [
            cls
            for cls in vars(module).values()
            if inspect.isclass(cls) and cls.__module__ == module.__name__
        ]
    return classes


def _foreign_bases(cls: type) -> list[type]:
    return [
        base
        for base in cls.__mro__[1:]
        if base is not object and not base.__module__.startswith(("best_app", "builtins"))
    ]


def clashes(cls: type) -> list[str]:
    """The underscored names `cls` defines that a third-party base class already uses."""
    own = {n for n in defined_names({"": ast.parse(inspect.getsource(cls))}) if _private(n)}
    found = []
    for base in _foreign_bases(cls):
        try:
            source = inspect.getsource(base)
        except (OSError, TypeError):
            source = ""
        used = set(re.findall(r"\b_\w+", source)) | {n for n in dir(base) if _private(n)}
        found += [f"{cls.__qualname__}.{name} (also {base.__qualname__}'s)" for name in own & used]
    return found


def test_no_class_overwrites_a_private_name_of_its_base() -> None:
    assert [clash for cls in _classes() for clash in clashes(cls)] == []


class _Overwrites(QuartRequest):
    def clear(self) -> None:
        self._cached_json = {}
        self._ours = 1


def test_the_class_check_catches_an_overwritten_private() -> None:
    assert clashes(_Overwrites) == ["_Overwrites._cached_json (also Request's)"]
