"""The package's layers point one way: a module imports only its own layer or the layers below it.

Every import is read from the source (module-level, function-local and ``TYPE_CHECKING`` ones alike),
so a lazy import cannot hide an upward arrow. The order, bottom to top, is :data:`LAYERS`; the README's
layout section describes the same order. A second test refuses import cycles between modules, and a third
that any process forks after torch is loaded (ranks and workers are spawned interpreters).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "jinavdr"

#: Bottom to top. A module belongs to the longest entry that is a prefix of its dotted name; the package
#: itself (``jinavdr``, its version) is no prefix, so a new top-level module must be placed here on purpose.
LAYERS: list[tuple[str, ...]] = [
    ("jinavdr", "jinavdr.errors", "jinavdr.hub"),
    ("jinavdr.catalogue",),
    ("jinavdr.results",),
    ("jinavdr.models",),
    ("jinavdr.engine",),
    ("jinavdr.evaluation",),
    ("jinavdr.execution",),
    ("jinavdr.report",),
    ("jinavdr.api",),
    ("jinavdr.cli", "jinavdr.__main__"),
]


def layer_of(module: str) -> int:
    best, rank = -1, -1
    for i, prefixes in enumerate(LAYERS):
        for p in prefixes:
            prefix = p != "jinavdr" and module.startswith(p + ".")
            if (module == p or prefix) and len(p) > best:
                best, rank = len(p), i
    if rank < 0:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS in tests/test_layers.py")
    return rank


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """The jinavdr modules ``path`` imports, resolved to modules (``from a import b`` may name a module)."""
    me = module_name(path)
    return imports_in(path.read_text(encoding="utf-8"), me, path.name == "__init__.py", modules)


def imports_in(source: str, me: str, is_package: bool, modules: dict[str, Path]) -> set[str]:
    package = me if is_package else me.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for name in names:
            if name == "jinavdr" or name.startswith("jinavdr."):
                while name not in modules and "." in name:
                    name = name.rpartition(".")[0]
                if name != me:
                    out.add(name)
    return out


def graph() -> dict[str, set[str]]:
    modules = all_modules()
    return {m: imports_of(p, modules) for m, p in modules.items()}


def test_every_module_belongs_to_a_layer_and_every_subpackage_says_what_it_is():
    for module, path in all_modules().items():
        layer_of(module)
        if path.name == "__init__.py" and module != "jinavdr":
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
            assert doc and len(doc.split()) >= 15, f"{path} needs a docstring saying what the layer holds"


def test_no_module_imports_a_layer_above_its_own():
    upward = [f"{m} (layer {layer_of(m)}) imports {d} (layer {layer_of(d)})"
              for m, deps in graph().items() for d in sorted(deps)
              if layer_of(d) > layer_of(m) and d != "jinavdr"]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_no_import_cycles_between_modules():
    g = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_the_walker_sees_local_relative_and_type_only_imports():
    modules = all_modules()
    src = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from jinavdr.execution.runner import Runner\n"
           "def f():\n    from jinavdr.report import leaderboard\n    import jinavdr.api\n    from . import cache\n"
           "    from ..models.ranking import Run\n")
    found = imports_in(src, "jinavdr.engine.encoding", False, modules)
    assert found == {"jinavdr.execution.runner", "jinavdr.report.leaderboard", "jinavdr.api", "jinavdr.engine.cache",
                     "jinavdr.models.ranking"}
    assert layer_of("jinavdr.report.leaderboard") > layer_of("jinavdr.engine.encoding")
    with pytest.raises(AssertionError, match="is in no layer"):
        layer_of("elsewhere.module")
    with pytest.raises(AssertionError, match="is in no layer"):
        layer_of("jinavdr.new_top_level_module")


_FORK = re.compile(r"""get_context\(\s*["']fork["']|set_start_method\(\s*["']fork["']|os\.fork\(""")


def test_no_code_forks_a_process():
    offenders = [str(p.relative_to(REPO)) for folder in ("jinavdr", "tests", "benchmarks", "scripts")
                 for p in (REPO / folder).rglob("*.py") if _FORK.search(p.read_text(encoding="utf-8"))
                 and p.name != "test_layers.py"]
    assert not offenders, f"use spawned interpreters, never fork after torch is loaded: {offenders}"
