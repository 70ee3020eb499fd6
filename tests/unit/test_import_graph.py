"""The import graph of lumipay/ has no cycle, counting imports inside functions too.

`lint-imports` (make lint) keeps the layers in order; this proves the stronger property the
layers exist for: no module reaches itself through its imports, and no package does either,
however lazily it imports. grimp reads every import statement, module-level or not, without
running any of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import grimp
import pytest


def strongly_connected(
    nodes: Iterable[str], edges: Callable[[str], Iterable[str]]
) -> list[set[str]]:
    """Tarjan's algorithm, iterative: the components of more than one node (the cycles), and
    single nodes that import themselves."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(edges(root)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges(child))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
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
                if len(component) > 1 or node in edges(node):
                    found.append(component)
    return found


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("lumipay", cache_dir=None)


def test_the_cycle_finder_finds_a_lazy_cycle() -> None:
    toy = grimp.ImportGraph()
    for name in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        toy.add_module(name)
    toy.add_import(importer="pkg.a", imported="pkg.b")
    toy.add_import(importer="pkg.b", imported="pkg.c")
    toy.add_import(importer="pkg.c", imported="pkg.a")  # as if inside a function
    cycles = strongly_connected(sorted(toy.modules), toy.find_modules_directly_imported_by)
    assert cycles == [{"pkg.a", "pkg.b", "pkg.c"}]


def test_function_level_imports_are_in_the_graph(graph: grimp.ImportGraph) -> None:
    # create_app imports its blueprints inside functions (the factory idiom).
    assert "lumipay.transfers.views" in graph.find_modules_directly_imported_by("lumipay")


def test_no_module_imports_itself_through_others(graph: grimp.ImportGraph) -> None:
    cycles = strongly_connected(sorted(graph.modules), graph.find_modules_directly_imported_by)
    assert cycles == []


def test_no_package_imports_itself_through_others(graph: grimp.ImportGraph) -> None:
    """One level down from lumipay (lumipay.bills, lumipay.clock, …), every import between
    two of them points one way only."""

    def unit(module: str) -> str:
        return ".".join(module.split(".")[:2])

    edges: dict[str, set[str]] = {}
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if unit(imported) != unit(module):
                edges.setdefault(unit(module), set()).add(unit(imported))
    units = sorted({unit(module) for module in graph.modules})
    assert strongly_connected(units, lambda name: sorted(edges.get(name, ()))) == []
