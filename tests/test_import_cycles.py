"""No import cycles among sibling modules, counting imports under ``if TYPE_CHECKING:``.

``.importlinter``'s acyclic contract ignores type-checking imports (they run no code), so
a cycle closed by one (``laws.derived`` naming ``Law`` while ``laws.law`` called
``derived``; ``engine.trust`` naming ``Fit``; ``render`` naming ``reporting.Review``)
passed it. Those cycles were removed by giving each shared piece its own module; this
test keeps them out. The two imports the contracts ignore (an entry point and the sweep
store's reader) are ignored here too.
"""

from __future__ import annotations

import grimp

# the same two as `ignore_imports` of .importlinter's layers and acyclic contracts
IGNORED = (
    ("scalinglaws.data.readers", "scalinglaws.sweep.store"),
    ("scalinglaws.sweep.__main__", "scalinglaws.cli.app"),
)


def _sibling_cycles(graph: grimp.ImportGraph) -> list[tuple[str, list[str]]]:
    """Per package, the groups of its children that import each other round a cycle."""
    found = []
    for package in sorted(m for m in graph.modules if graph.find_children(m)):
        children = sorted(graph.find_children(package))
        home = {d: c for c in children for d in (c, *graph.find_descendants(c))}
        edges: dict[str, set[str]] = {c: set() for c in children}
        for c in children:
            for m in (c, *graph.find_descendants(c)):
                for imported in graph.find_modules_directly_imported_by(m):
                    other = home.get(imported)
                    if other is not None and other != c:
                        edges[c].add(other)
        for c in children:  # a cycle through c: c reaches a child that reaches c back
            seen, todo = set(), list(edges[c])
            while todo:
                n = todo.pop()
                if n not in seen:
                    seen.add(n)
                    todo.extend(edges[n])
            if c in seen:
                found.append((package, sorted(n for n in seen if c in _reach(edges, n))))
    return found


def _reach(edges: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        n = todo.pop()
        for m in edges[n]:
            if m not in seen:
                seen.add(m)
                todo.append(m)
    return seen


def test_no_sibling_cycles_even_through_type_checking_imports() -> None:
    graph = grimp.build_graph("scalinglaws", exclude_type_checking_imports=False)
    for importer, imported in IGNORED:
        graph.remove_import(importer=importer, imported=imported)
    assert _sibling_cycles(graph) == []


def test_the_check_sees_a_type_checking_cycle() -> None:
    graph = grimp.build_graph("scalinglaws", exclude_type_checking_imports=False)
    for importer, imported in IGNORED:
        graph.remove_import(importer=importer, imported=imported)
    graph.add_import(importer="scalinglaws.engine.trust", imported="scalinglaws.engine.result")
    assert ("scalinglaws.engine", ["scalinglaws.engine.result", "scalinglaws.engine.trust"]) in _sibling_cycles(graph)
