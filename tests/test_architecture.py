"""The architecture of DESIGN.md §3 kept honest: layers import only downward; the public API is real."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import trustecon

PKG = Path(trustecon.__file__).parent

# Layer of each top-level module or subpackage of trustecon (DESIGN.md §3), lowest first.
LAYERS: dict[str, int] = {
    "events": 0,
    "store": 0,
    "parquet": 0,
    "partitions": 0,
    "dedup": 0,
    "order_integrity": 0,
    "retention": 0,
    "verify": 0,
    "engine": 0,
    "stats": 0,
    "kpis": 1,
    "simulate": 2,
    "datasets": 2,
    "ingest": 2,
    "trust": 2,
    "distribution": 3,
    "live": 3,
    "marketing": 3,
    "cli": 4,
    "api": 4,
    "report": 4,
    "dashboard": 4,
    "demo": 4,
}
SOURCES = {"simulate", "datasets", "ingest"}
MODELS = {"trust"}
# The one sanctioned upward-looking import: the simulator's Policy protocol, which the apps implement
# (DESIGN.md §3 "the simulator defines a small protocol and the caller passes the implementation in").
ALLOWED = {("distribution", "simulate.policy"), ("live", "simulate.policy"), ("marketing", "simulate.policy")}


def _unit(module: str) -> str:
    return module.split(".")[1] if module.startswith("trustecon.") and module.count(".") >= 1 else ""


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    out: list[tuple[int, str]] = []

    class V(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            # Imports only for type checkers do not run.
            if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
                for n in node.orelse:
                    self.visit(n)
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            out.extend((node.lineno, a.name) for a in node.names if a.name.startswith("trustecon."))

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.module and node.module.startswith("trustecon.") and node.level == 0:
                out.append((node.lineno, node.module))

    V().visit(tree)
    return out


def _files() -> list[Path]:
    return [p for p in PKG.rglob("*.py") if p != PKG / "__init__.py"]


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(PKG)))
def test_imports_only_run_downward(path: Path) -> None:
    rel = path.relative_to(PKG)
    me = rel.parts[0].removesuffix(".py")
    assert me in LAYERS, f"{rel}: module {me!r} has no layer in DESIGN.md §3; add it to LAYERS"
    for line, mod in _imports(path):
        other = _unit(mod)
        if other == me or not other:
            continue
        target = mod.removeprefix("trustecon.")
        if any(me == a and target.startswith(b) for a, b in ALLOWED):
            continue
        assert other in LAYERS, f"{rel}:{line} imports unknown unit {mod}"
        assert LAYERS[other] <= LAYERS[me], f"{rel}:{line} imports {mod}, a layer above {me!r}"
        crossing = (me in SOURCES and other in MODELS) or (me in MODELS and other in SOURCES)
        assert not crossing, f"{rel}:{line}: models and sources are siblings; {me} must not import {mod}"


def test_public_api_names_exist_and_are_listed() -> None:
    for name in trustecon.__all__:
        assert hasattr(trustecon, name), f"trustecon.__all__ names {name!r}, which does not exist"
    public = {n for n in vars(trustecon) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(trustecon, n)).__name__ == "module"}
    unlisted = public - modules - set(trustecon.__all__)
    assert not unlisted, f"public but not in __all__: {unlisted}"


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(PKG)))
def test_modules_stay_small(path: Path) -> None:
    n = len(path.read_text().splitlines())
    assert n <= 700, f"{path.relative_to(PKG)} has {n} lines; split it by concept (~600 max)"


def test_every_module_imports() -> None:
    for path in _files():
        rel = path.relative_to(PKG).with_suffix("")
        importlib.import_module("trustecon." + ".".join(rel.parts).removesuffix(".__init__"))
