"""The import graph of Podium's own modules, and the layers it must respect.

Every ``import`` counts, wherever it stands: at the top of a module, inside a function (an import put off to
call time is still a dependency) and under ``TYPE_CHECKING``. Tests and migrations are left out: they sit above
everything.

``python -m leaderboard_project.importgraph`` prints the apps' graph as the Mermaid picture of
docs/architecture.md; ``--check`` prints every cycle and every import against the layers, and fails on any.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. A module may import its own package and those below it, never one above.
LAYERS = (
    "common",
    "events",
    "games",
    "accounts",
    "rankings",
    "tournaments",
    "leagues",
    "scores",
    "realtime",
    "simulator",
    "dashboard",
    "leaderboard_project",
)

SKIPPED_DIRS = {"tests", "migrations", "__pycache__"}


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the project module it imports
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(packages: Iterable[str] = LAYERS) -> dict[str, Path]:
    """Every module of the given top-level packages, by dotted name (tests and migrations left out)."""
    modules = {}
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            if SKIPPED_DIRS.isdisjoint(path.relative_to(ROOT).parts):
                modules[module_name(path)] = path
    return modules


def top_level_packages() -> set[str]:
    """The directories at the top that are Python packages or Django apps (what ``LAYERS`` must place)."""
    return {
        path.name
        for path in ROOT.iterdir()
        if path.is_dir() and not path.name.startswith(".") and any(path.glob("*.py")) and path.name != "bench"
    }


def _imported_names(node: ast.Import | ast.ImportFrom, package: str) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
        return
    base = node.module or ""
    if node.level:
        parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
        base = ".".join([*parts, base] if base else parts)
    for alias in node.names:
        # ``from package import module`` imports the module; ``from module import name`` the module.
        yield f"{base}.{alias.name}"
        yield base


def imports(modules: dict[str, Path]) -> list[Import]:
    """The imports between the given modules, each resolved to the most specific module it names."""
    found = []
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            targets = set()
            for imported in _imported_names(node, package):
                if imported in modules:
                    targets.add(imported)
            # ``from a.b import c`` names both a.b.c (when a module) and a.b: keep the most specific.
            specific = {t for t in targets if not any(other.startswith(t + ".") for other in targets)}
            found.extend(Import(name, target, node.lineno) for target in sorted(specific) if target != name)
    return found


def cycles(edges: Iterable[Import]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, iterative)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for edge in edges:
        graph[edge.source].add(edge.target)
        graph.setdefault(edge.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return groups


def layer_of(module: str) -> str:
    return module.partition(".")[0]


def upward(edges: Iterable[Import]) -> list[Import]:
    """The imports of a module from a package in a higher layer."""
    return [e for e in edges if LAYERS.index(layer_of(e.target)) > LAYERS.index(layer_of(e.source))]


def app_edges(edges: Iterable[Import]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {layer: set() for layer in LAYERS}
    for edge in edges:
        source, target = layer_of(edge.source), layer_of(edge.target)
        if source != target:
            graph[source].add(target)
    return graph


def mermaid(edges: Iterable[Import]) -> str:
    """The apps' import graph, highest layer at the top; an edge for each app an app imports directly."""
    graph = app_edges(edges)
    lines = ["flowchart TD"]
    for source in reversed(LAYERS):
        for target in sorted(graph[source], key=LAYERS.index, reverse=True):
            lines.append(f"    {source} --> {target}")
    return "\n".join(lines)


def problems() -> list[str]:
    """Every cycle, every import against the layers, every package no layer places; empty when all is well."""
    found = [f"{package}/: a package in no layer (add it to LAYERS)" for package in top_level_packages() - set(LAYERS)]
    modules = project_modules()
    edges = imports(modules)
    for group in cycles(edges):
        members = set(group)
        inside = [f"{e.source} -> {e.target} (line {e.line})" for e in edges if {e.source, e.target} <= members]
        found.append("an import cycle: " + "; ".join(inside))
    for edge in upward(edges):
        found.append(
            f"{edge.source} (line {edge.line}) imports {edge.target}: {layer_of(edge.target)} is above"
            f" {layer_of(edge.source)}"
        )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="print cycles and upward imports; exit 1 on any")
    args = parser.parse_args(argv)
    if args.check:
        found = problems()
        for problem in found:
            print(problem)
        return 1 if found else 0
    print(mermaid(imports(project_modules())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
