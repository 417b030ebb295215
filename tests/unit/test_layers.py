"""Layers point one way: config -> engine -> steps -> libraries, launch beside the engine.

Read from the source with bench/import_cycles.py (lazy imports inside functions count too).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def graph():
    spec = importlib.util.spec_from_file_location("import_cycles", ROOT / "bench" / "import_cycles.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod, mod.module_graph(ROOT / "nmframe")


def _edges(graph, src: str, dst: str) -> list[str]:
    return sorted(f"{a} -> {b}" for a, targets in graph.items() if a.startswith(src)
                  for b in targets if b.startswith(dst))


@pytest.mark.parametrize("src, dst", [
    ("nmframe.engine", "nmframe.launch"),     # the engine receives a launcher
    ("nmframe.engine", "nmframe.config"),     # ConfigError comes from nmframe.errors
    ("nmframe.config", "nmframe.engine"),     # step names are checked by the engine
    ("nmframe.training", "nmframe.config"),   # layouts and LR schedules are libraries
    ("nmframe.generation", "nmframe.config"),
    ("nmframe.generation", "nmframe.testing"),
    ("nmframe.steps", "nmframe.testing"),
])
def test_no_import_against_the_layers(graph, src, dst):
    assert _edges(graph[1], src, dst) == []


def test_no_cycle_through_the_layers_these_modules_form(graph):
    mod, g = graph
    mine = ("nmframe.generation", "nmframe.training", "nmframe.engine", "nmframe.launch", "nmframe.config",
            "nmframe.evaluation", "nmframe.testing")
    cycles = [c for c in mod.strongly_connected(g) if any(m.startswith(mine) for m in c)]
    assert cycles == []


def test_the_cycle_finder_finds_a_cycle(tmp_path):
    spec = importlib.util.spec_from_file_location("import_cycles", ROOT / "bench" / "import_cycles.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg import b\n")
    (pkg / "b.py").write_text("def f():\n    from pkg.a import x\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n")
    g = mod.module_graph(pkg)
    assert mod.strongly_connected(g) == [["pkg.a", "pkg.b"]]
    assert mod.one_loop(g, ["pkg.a", "pkg.b"]) == ["pkg.a", "pkg.b", "pkg.a"]
