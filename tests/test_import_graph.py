"""No import cycles between the modules of ``src/awaitkit``, type-only imports included.

import-linter (``lint-imports``, contracts in pyproject) checks the layers;
this checks what layers cannot see: two modules of one package importing each
other.  The graph comes from grimp, the library under import-linter, and
includes imports under ``if TYPE_CHECKING:`` and inside functions, since a
cycle hidden there is still a tangle.  A cycle is reported as its strongly
connected component (every module in it reaches every other) with the
imports that tie it, file and line.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path

import grimp
import pytest


def import_cycles(graph: grimp.ImportGraph) -> list[frozenset[str]]:
    """Every strongly connected component of more than one module (or a
    module importing itself), by Tarjan's algorithm, iteratively."""
    edges = {
        m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in edges[node]:
                        found.append(frozenset(component))
    return sorted(found, key=sorted)


def describe(graph: grimp.ImportGraph, cycles: Iterable[frozenset[str]]) -> str:
    """The imports inside each cycle, one per line, with their line numbers."""
    out = []
    for cycle in cycles:
        out.append("cycle: " + ", ".join(sorted(cycle)))
        for importer in sorted(cycle):
            for imported in sorted(cycle):
                details = graph.get_import_details(importer=importer, imported=imported)
                for d in details:
                    out.append(
                        f"  {importer}:{d['line_number']} -> {imported}"
                        f"  ({d['line_contents']})"
                    )
    return "\n".join(out)


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(
        "awaitkit", exclude_type_checking_imports=False, cache_dir=None
    )


def test_no_import_cycles(graph: grimp.ImportGraph) -> None:
    cycles = import_cycles(graph)
    assert not cycles, "import cycles in src/awaitkit:\n" + describe(graph, cycles)


# -- the check itself ----------------------------------------------------------


def test_finds_each_cycle_once_and_ignores_chains() -> None:
    graph = grimp.ImportGraph()
    for importer, imported in [
        ("p.a", "p.b"),
        ("p.b", "p.c"),
        ("p.c", "p.a"),  # a three-module cycle
        ("p.c", "p.d"),  # a chain out of it
        ("p.d", "p.e"),
        ("p.x", "p.y"),
        ("p.y", "p.x"),  # a second, separate cycle
        ("p.z", "p.z"),  # a module importing itself
    ]:
        graph.add_import(importer=importer, imported=imported)
    assert import_cycles(graph) == [
        frozenset({"p.a", "p.b", "p.c"}),
        frozenset({"p.x", "p.y"}),
        frozenset({"p.z"}),
    ]


def test_type_only_and_function_level_imports_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "cyclic_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text(
        textwrap.dedent(
            """
            from typing import TYPE_CHECKING
            if TYPE_CHECKING:
                from cyclic_pkg.b import B
            """
        )
    )
    (package / "b.py").write_text(
        textwrap.dedent(
            """
            TYPE_CHECKING = False  # the awaitkit._lazy form
            if TYPE_CHECKING:
                from cyclic_pkg.c import C
            class B: ...
            """
        )
    )
    (package / "c.py").write_text(
        "def later():\n    from cyclic_pkg import a\n    return a\nclass C: ...\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    built = grimp.build_graph(
        "cyclic_pkg", exclude_type_checking_imports=False, cache_dir=None
    )
    assert import_cycles(built) == [
        frozenset({"cyclic_pkg.a", "cyclic_pkg.b", "cyclic_pkg.c"})
    ]
    assert "cyclic_pkg.b:4 -> cyclic_pkg.c" in describe(built, import_cycles(built))
    sys.modules.pop("cyclic_pkg", None)
