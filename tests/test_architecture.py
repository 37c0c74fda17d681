"""The shape of the package: no import cycles, a pure protocol core, modules of a readable
size.

The import graph is built statically with ``ast`` from every module of ``aioremotion/``:
imports at module level and inside functions both count (a function-level import is a
dependency that merely runs later), those under ``if TYPE_CHECKING:`` do not (they never
run).  An edge goes to the module imported: ``from .x import y`` reaches ``x``, or
``x.y`` when that is a module.  Importing a submodule also runs its packages'
``__init__``; those implied edges are left out, as the lazy ``__getattr__`` re-exports of
the package ``__init__`` files are (``importlib.import_module`` is not followed).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "aioremotion"

#: What the pure core may import from the rest of the package.
PROTOCOL_MAY_IMPORT = ("aioremotion.protocol", "aioremotion.errors")
#: Libraries the pure core never imports (it does no I/O).
PROTOCOL_MUST_NOT_IMPORT = ("aiobotocore", "botocore", "anyio", "asyncio", "aiohttp")

MAX_LINES = 600
#: Modules allowed past MAX_LINES, each for the reason given; any other must stay under.
LONG_MODULES = {
    # One Remotion API each, field by field against its docs: splitting a model from its
    # checks would scatter one spec (the error translation already lives apart).
    "aioremotion/protocol/options.py",
    # One algorithm: Remotion's getProgress, ported step by step with its constants.
    "aioremotion/protocol/progress.py",
    # Every reply shape of the function (invoke, errors, the still stream) and the
    # explanations Remotion attaches to known failures, kept next to each other.
    "aioremotion/protocol/replies.py",
}


@dataclass(frozen=True)
class Import:
    """One import statement of a module, resolved."""

    importer: str
    line: int
    target: str  # the dotted name imported (a module of the package or not)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import under ``node`` that can run: the bodies of ``if TYPE_CHECKING:`` are
    skipped (their ``else:`` is not), function and class bodies are not."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for statement in child.orelse:
                if isinstance(statement, ast.Import | ast.ImportFrom):
                    yield statement
                yield from _runtime_imports(statement)
            continue
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        yield from _runtime_imports(child)


@cache
def imports_of(name: str) -> tuple[Import, ...]:
    path = modules()[name]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []
    for node in _runtime_imports(tree):
        if isinstance(node, ast.Import):
            found.extend(Import(name, node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                target = submodule if submodule in modules() else source
                found.append(Import(name, node.lineno, target))
    return tuple(found)


def internal_target(target: str) -> str | None:
    """The module of the package an import reaches (its longest known prefix)."""
    parts = target.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules():
            return candidate
        parts.pop()
    return None


@cache
def graph() -> dict[str, dict[str, int]]:
    """importer -> {imported module of the package: first line}."""
    edges: dict[str, dict[str, int]] = {name: {} for name in modules()}
    for name in modules():
        for imp in imports_of(name):
            target = internal_target(imp.target)
            if target is not None and target != name:
                edges[name].setdefault(target, imp.line)
    return edges


def strongly_connected(edges: dict[str, dict[str, int]]) -> list[frozenset[str]]:
    """Tarjan's algorithm: the components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def describe(component: frozenset[str], edges: dict[str, dict[str, int]]) -> str:
    """One shortest cycle through the component: ``a:12 -> b:40 -> a`` (line 12 of ``a``
    imports ``b``, line 40 of ``b`` imports ``a``)."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(edges[node]):
            if nxt == start:
                cycle = [*paths[node], start]
                return " -> ".join(f"{a}:{edges[a][b]}" for a, b in pairwise(cycle)) + \
                    f" -> {start}"
            if nxt in component and nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover


# -- the tests -------------------------------------------------------------------------------


def test_the_graph_sees_module_and_function_level_imports_only() -> None:
    edges = graph()
    assert "aioremotion.protocol.naming" in edges["aioremotion.emulator.functions"]
    # RemotionEmulator.client() imports the client inside the method: an edge
    assert "aioremotion.client" in edges["aioremotion.emulator.emulator"]
    # launch imports functions for its annotations only, under TYPE_CHECKING: no edge
    launch = modules()["aioremotion.emulator.launch"].read_text(encoding="utf-8")
    assert "    from .functions import RemotionFunctions" in launch
    assert "aioremotion.emulator.functions" not in edges["aioremotion.emulator.launch"]
    # "from ..errors import X" reaches the module aioremotion.errors
    assert "aioremotion.errors" in edges["aioremotion.emulator.media.deps"]
    # "from .. import _redact" reaches the module aioremotion._redact, not the package
    assert "aioremotion._redact" in edges["aioremotion.client"]


def test_no_import_cycles() -> None:
    edges = graph()
    cycles = strongly_connected(edges)
    assert not cycles, "import cycles:\n" + "\n".join(describe(c, edges) for c in cycles)


def test_protocol_is_a_pure_core() -> None:
    wrong: list[str] = []
    for name in modules():
        if not (name == "aioremotion.protocol" or name.startswith("aioremotion.protocol.")):
            continue
        for imp in imports_of(name):
            where = f"{name} line {imp.line}: {imp.target}"
            internal = internal_target(imp.target)
            if internal is not None and imp.target.startswith("aioremotion"):
                if not any(internal == allowed or internal.startswith(allowed + ".")
                           for allowed in PROTOCOL_MAY_IMPORT):
                    wrong.append(where)
            elif imp.target.split(".")[0] in PROTOCOL_MUST_NOT_IMPORT:
                wrong.append(where)
    assert not wrong, "aioremotion.protocol imports:\n" + "\n".join(wrong)


def test_what_protocol_may_import_is_pure_too() -> None:
    for allowed in PROTOCOL_MAY_IMPORT:
        if allowed == "aioremotion.protocol":
            continue
        for imp in imports_of(allowed):
            assert imp.target.split(".")[0] not in PROTOCOL_MUST_NOT_IMPORT, imp
            internal = internal_target(imp.target)
            assert internal is None or internal == allowed, imp


def test_modules_stay_readable() -> None:
    long = {}
    for path in modules().values():
        relative = path.relative_to(ROOT).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES and relative not in LONG_MODULES:
            long[relative] = lines
    assert not long, f"modules over {MAX_LINES} lines (split them by responsibility): {long}"


@pytest.mark.parametrize("package", ["aioremotion", "aioremotion.emulator",
                                     "aioremotion.testing"])
def test_lazy_exports_resolve(package: str) -> None:
    import importlib

    module = importlib.import_module(package)
    assert sorted(module.__all__) == sorted(
        [*module._EXPORTS, *(["__version__"] if package == "aioremotion" else [])])
    for name in module.__all__:
        assert getattr(module, name) is not None, name


#: Modules that may read ``os.environ`` directly: the one configuration module, the
#: emulator and test kit (which set up environments for others), and ``serve --local``
#: (which lays the emulator's variables over the process's before reading them).
MAY_READ_ENVIRON = ("aioremotion/environment.py", "aioremotion/emulator/",
                    "aioremotion/testing/", "aioremotion/cli/_serve.py")


def test_configuration_is_read_in_one_module() -> None:
    """Every environment variable is read through aioremotion.environment (one table)."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(MAY_READ_ENVIRON):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id == "os" and node.attr in ("environ", "getenv")):
                offenders.append(f"{relative}:{node.lineno}")
    assert not offenders, offenders
