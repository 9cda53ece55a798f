"""The packages import one way and in no circle: api -> verifier -> trust_lists -> keys, and
cli, demo and issuing sit beside them, never imported by verifier, trust_lists or keys.

Read from the source (every import statement, also those inside functions and under
TYPE_CHECKING: a type one layer up is still a dependency on it), so a lazy import cannot hide a
cycle. An import of a package counts as an import of its __init__; the implicit import of a
module's own parent packages does not count."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import TypeGuard

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Lower number = lower layer; a module may import its own layer and those below.
LAYERS = {"keys": 0, "trust_lists": 1, "verifier": 2, "api": 3}
# Beside the layers: they may use the layers, the layers never use them.
BESIDE = ("issuing", "demo", "cli")
# Not in the container image (the Dockerfile COPYs neither): the service must run without them.
NOT_IN_IMAGE = ("issuing", "demo")
PACKAGES = tuple(p for p in (*LAYERS, *BESIDE) if (ROOT / p / "__init__.py").is_file())
# Cycles that existed before this test and are being taken apart; the list may only shrink.
KNOWN_CYCLES: frozenset[frozenset[str]] = frozenset()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if ".venv" not in path.parts:
                found[_module_name(path)] = path
    return found


def _imported(
    name: str, path: Path, modules: dict[str, Path] | None = None
) -> Iterator[tuple[str, int]]:
    """(module, line) of every import statement of the module, resolved to our modules."""
    modules = _modules() if modules is None else modules
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _ours(alias.name, modules)
                if target is not None:
                    yield target, node.lineno
        elif _is_import_module(node) and isinstance(node.args[0], ast.Constant):
            # import_module("pkg.mod") or the CLI's load_part: an import all the same, only later.
            target = _ours(str(node.args[0].value), modules)
            if target is not None:
                yield target, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name if is_package else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                target = sub if sub in modules else _ours(base, modules)
                if target is not None:
                    yield target, node.lineno


def _is_import_module(node: ast.AST) -> TypeGuard[ast.Call]:
    if not isinstance(node, ast.Call) or not node.args:
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return name in ("import_module", "__import__", "load_part")


def _ours(dotted: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of `dotted` that is one of our modules (`import a.b.c` runs a.b.c)."""
    while dotted:
        if dotted in modules:
            return dotted
        dotted = dotted.rpartition(".")[0]
    return None


@cache
def _graph() -> dict[str, dict[str, int]]:
    graph: dict[str, dict[str, int]] = {}
    for name, path in _modules().items():
        edges: dict[str, int] = {}
        for target, line in _imported(name, path):
            if target != name:
                edges.setdefault(target, line)
        graph[name] = edges
    return graph


def _cycles(graph: dict[str, dict[str, int]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.add(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_walk_sees_the_packages_and_their_imports() -> None:
    """The walk itself: it finds modules of every present package and the imports we know of."""
    graph = _graph()
    assert {"keys", "trust_lists", "verifier"} <= set(PACKAGES)
    assert "keys.sm2_algorithm" in graph["keys.x509"]
    assert "keys.x509" in graph["keys.sm2"]
    assert "verifier.national.job" in graph["verifier.national.seal"]
    assert "trust_lists.store" in graph["verifier._job"]
    # A lazy command group is loaded by name: the walk reads the name as an import.
    assert "demo.world" in graph["cli.demo"]
    # Tarjan finds a circle of three and leaves out the module that only points into it.
    assert _cycles({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}) == [
        frozenset({"a", "b", "c"})
    ]


def test_the_service_needs_nothing_the_image_leaves_out() -> None:
    """The Dockerfile copies exactly the packages the service may import."""
    copied = {
        line.split()[1]
        for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
        if line.startswith("COPY ") and (ROOT / line.split()[1] / "__init__.py").is_file()
    }
    assert copied == set(PACKAGES) - set(NOT_IN_IMAGE), copied


def test_no_new_import_cycle() -> None:
    cycles = _cycles(_graph())
    new = [sorted(c) for c in cycles if c not in KNOWN_CYCLES]
    assert not new, f"import cycles: {new}"


def test_known_cycles_are_still_there() -> None:
    """A ratchet: once a known cycle is taken apart, take it off KNOWN_CYCLES."""
    cycles = set(_cycles(_graph()))
    gone = [sorted(c) for c in KNOWN_CYCLES if c not in cycles]
    assert not gone, f"these cycles are gone, remove them from KNOWN_CYCLES: {gone}"


def _package(module: str) -> str:
    return module.partition(".")[0]


@pytest.mark.parametrize("package", [p for p in PACKAGES if p in LAYERS])
def test_layers_import_downwards_only(package: str) -> None:
    rank = LAYERS[package]
    wrong = []
    for name, edges in _graph().items():
        if _package(name) != package:
            continue
        for target, line in edges.items():
            other = _package(target)
            upward = other in LAYERS and LAYERS[other] > rank
            beside = other in BESIDE and (rank < LAYERS["api"] or other in NOT_IN_IMAGE)
            if upward or beside:
                wrong.append(f"{_modules()[name].relative_to(ROOT)}:{line} imports {target}")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


# Unit tests that still reach the service (a test client or a server); the list may only shrink.
KNOWN_UNIT_TESTS_OF_THE_SERVICE = frozenset(
    {"tests.unit.test_cli_polish", "tests.unit.test_status_cli"}
)


def _unit_tests_reaching_the_service() -> dict[str, list[str]]:
    """tests/unit modules importing api, a service test, or a support module that imports api."""
    modules = dict(_modules())
    for path in sorted((ROOT / "tests").rglob("*.py")):
        modules[_module_name(path)] = path

    def service_side(target: str) -> bool:
        return _package(target) == "api" or target.startswith("tests.service.")

    support = {
        name: {t for t, _ in _imported(name, path, modules)}
        for name, path in modules.items()
        if name.startswith("tests.support.")
    }
    support_of_the_service: set[str] = set()
    while True:  # a support module importing one that reaches the service reaches it too
        more = {
            name
            for name, targets in support.items()
            if any(service_side(t) or t in support_of_the_service for t in targets)
        }
        if more <= support_of_the_service:
            break
        support_of_the_service |= more
    found: dict[str, list[str]] = {}
    for name, path in modules.items():
        if not name.startswith("tests.unit."):
            continue
        wrong = [
            f"{path.relative_to(ROOT)}:{line} imports {target}"
            for target, line in _imported(name, path, modules)
            if service_side(target) or target in support_of_the_service
        ]
        if wrong:
            found[name] = wrong
    return found


def test_unit_tests_do_not_reach_the_service() -> None:
    """tests/unit holds the layers and the command line; what needs the service is in service/."""
    found = _unit_tests_reaching_the_service()
    new = [
        line
        for name, lines in found.items()
        if name not in KNOWN_UNIT_TESTS_OF_THE_SERVICE
        for line in lines
    ]
    assert not new, "unit tests reaching the service:\n" + "\n".join(new)
    gone = sorted(KNOWN_UNIT_TESTS_OF_THE_SERVICE - set(found))
    assert not gone, f"these no longer reach the service, take them off the list: {gone}"
