"""Print the import cycles of the nmframe package, so a layering regression shows as a number.

Why: layers must point one way (config -> engine -> steps -> libraries, launch beside engine).
Lazy imports inside functions count too: they are still dependencies, only deferred. Imports
under ``if TYPE_CHECKING:`` are left out (they never run). Two graphs are printed:

* modules: ``a.b`` -> ``a.c`` for every ``import``/``from ... import`` naming a module of nmframe
  (``from pkg import name`` counts as ``pkg.name`` when that is a module, else ``pkg``);
* packages: the same edges folded onto the first level below ``nmframe`` (``engine``,
  ``launch``, ``config``, ...); a cycle there is a pair of layers that import each other.

A cycle is a strongly connected component with more than one member; each is printed with one
concrete loop through it. Usage: ``python bench/import_cycles.py [package_dir]``.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, current: str, is_pkg: bool):
    """Yield the dotted names imported anywhere in ``tree`` (TYPE_CHECKING blocks skipped)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = current.split(".") if is_pkg else current.split(".")[:-1]
                pkg = pkg[:len(pkg) - (node.level - 1)]
                base = ".".join(pkg + ([base] if base else []))
            for a in node.names:
                yield base, a.name
        stack.extend(ast.iter_child_nodes(node))


def module_graph(root: Path) -> dict[str, set[str]]:
    files = {module_name(root, p): p for p in sorted(root.rglob("*.py"))}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for base, name in _imports(tree, mod, path.name == "__init__.py"):
            target = f"{base}.{name}" if name and f"{base}.{name}" in files else base
            while target and target not in files:  # `import nmframe.a.b` of a non-module attribute
                target = target.rpartition(".")[0]
            if target and target != mod and target.startswith(root.name):
                graph[mod].add(target)
    return graph


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    def top(m: str) -> str:
        return ".".join(m.split(".")[:2])

    out: dict[str, set[str]] = {}
    for a, targets in graph.items():
        out.setdefault(top(a), set())
        for b in targets:
            if top(a) != top(b) and "." in top(b):  # the root package's __init__ is no layer
                out[top(a)].add(top(b))
    return out


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative); components with more than one node, sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    comps: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, it = work[-1]
            for nxt in it:
                if nxt not in graph:
                    continue
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    if len(comp) > 1:
                        comps.append(sorted(comp))
    return sorted(comps)


def one_loop(graph: dict[str, set[str]], comp: list[str]) -> list[str]:
    """A shortest loop from the component's first member back to itself (breadth-first)."""
    members, start = set(comp), comp[0]
    prev: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt_frontier = []
        for node in frontier:
            for nxt in sorted(graph[node] & members):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return [start, *reversed(path[:-1]), start] if node != start else [start, start]
                if nxt not in prev:
                    prev[nxt] = node
                    nxt_frontier.append(nxt)
        frontier = nxt_frontier
    return comp


def report(title: str, graph: dict[str, set[str]]) -> int:
    comps = strongly_connected(graph)
    print(f"{title} cycles: {len(comps)}")
    for comp in comps:
        print(f"  [{len(comp)}] {', '.join(comp)}")
        print("      e.g. " + " -> ".join(one_loop(graph, comp)))
    return len(comps)


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parents[1] / "nmframe"
    graph = module_graph(root)
    n = report("module", graph) + report("package", package_graph(graph))
    print(f"cycles: {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
