"""The layers of docs/architecture.md hold: no import cycle between Podium's modules, no import upwards."""

from __future__ import annotations

import ast
import re

from leaderboard_project import importgraph
from leaderboard_project.importgraph import ROOT, Import


def test_no_import_cycle_between_project_modules():
    edges = importgraph.imports(importgraph.project_modules())

    assert importgraph.cycles(edges) == []


def test_no_module_imports_a_package_of_a_higher_layer():
    edges = importgraph.imports(importgraph.project_modules())

    assert [f"{e.source} -> {e.target} (line {e.line})" for e in importgraph.upward(edges)] == []


def test_every_top_level_package_has_a_layer():
    assert importgraph.top_level_packages() <= set(importgraph.LAYERS)


def test_the_check_exits_0_on_this_tree():
    assert importgraph.problems() == []
    assert importgraph.main(["--check"]) == 0


def test_no_project_module_imports_the_benchmarks_or_the_tests():
    for name, path in importgraph.project_modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            for imported in names:
                assert imported.split(".")[0] != "bench", f"{name} imports {imported}"
                assert ".tests" not in f".{imported}", f"{name} imports {imported}"


def test_cycles_finds_a_loop_and_only_its_members():
    edges = [Import("a", "b", 1), Import("b", "c", 1), Import("c", "a", 1), Import("c", "d", 1), Import("d", "e", 1)]

    assert importgraph.cycles(edges) == [["a", "b", "c"]]


def test_upward_names_an_import_from_a_lower_layer_into_a_higher_one():
    edges = [Import("games.services", "events.bus", 3), Import("games.services", "realtime.hub", 4)]

    assert importgraph.upward(edges) == [Import("games.services", "realtime.hub", 4)]


def test_imports_inside_functions_and_type_checking_blocks_count(tmp_path, monkeypatch):
    package = tmp_path / "games"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "services.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from games.models import Game\n"
        "def later():\n    from . import selectors\n"
    )
    (package / "models.py").write_text("")
    (package / "selectors.py").write_text("")
    monkeypatch.setattr(importgraph, "ROOT", tmp_path)

    edges = importgraph.imports(importgraph.project_modules(["games"]))

    assert {(e.source, e.target) for e in edges} == {
        ("games.services", "games.models"),
        ("games.services", "games.selectors"),
    }


def test_the_picture_in_docs_architecture_is_the_current_graph():
    text = (ROOT / "docs" / "architecture.md").read_text()
    pictures = re.findall(r"```mermaid\n(.*?)\n```", text, flags=re.S)

    assert importgraph.mermaid(importgraph.imports(importgraph.project_modules())) in pictures


def attributes(path) -> set[str]:
    return {node.attr for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Attribute)}


def test_nothing_outside_the_ranking_engine_reaches_its_redis_client():
    reaching = [
        name
        for name, path in importgraph.project_modules().items()
        if not name.startswith("rankings.engine") and "client" in attributes(path)
    ]

    assert reaching == []


def test_the_websocket_consumer_makes_no_query_of_its_own():
    assert "objects" not in attributes(ROOT / "realtime" / "consumers.py")


def test_the_rankings_publish_nothing_the_action_s_service_publishes_their_boards():
    publishing = [
        f"{name}: {alias.name}"
        for name, path in importgraph.project_modules(["rankings"]).items()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module == "events.bus"
        for alias in node.names
        if alias.name.startswith("publish")
    ]

    assert publishing == []


def test_only_the_ranking_engine_and_the_shared_layers_know_the_redis_client_library():
    knowing = []
    for name, path in importgraph.project_modules().items():
        if name.startswith(("rankings.engine", "common.", "realtime.presence", "leaderboard_project.")):
            continue  # the engine itself, rate limits and dependency errors, presence counts, health probes
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import) and any(alias.name.split(".")[0] == "redis" for alias in node.names):
                knowing.append(name)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "redis":
                knowing.append(name)

    assert knowing == []
