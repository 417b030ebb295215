"""The LaTeX parser's prediction cache is saved by a grading worker and loaded by the next
one: same parses, no new decisions to learn, and a bad file only means a cold start."""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STRINGS = [r"\frac{1}{2}", r"3\sqrt{2}", r"(-\infty, 5]", r"\{1,2,3\}", "x = 2", "y = 2x+1",
           r"\text{Yes}", "N/A", "3 or 4", r"\frac{1}{", "((1,2)", r"\frac{5\pi}{4}", "127.625"]

# one process: optionally load the cache, parse STRINGS, report, optionally save
_CHILD = textwrap.dedent("""
    import json, sys
    import sympy
    from nmframe.answers import mv_judge, parser_cache
    strings, save = json.loads(sys.argv[1]), sys.argv[2] == "save"
    mv_judge._load()  # loads the saved cache if there is a usable one
    loaded = parser_cache._state["loaded_states"]
    out = {}
    for s in strings:
        try:
            out[s] = [x if isinstance(x, str) else sympy.srepr(x) for x in mv_judge.parse_answer(s)]
        except Exception as e:
            out[s] = repr(e)
    after = parser_cache._dfa_state_count()
    saved = parser_cache.save_if_grown() if save else False
    print(json.dumps({"loaded": loaded, "after": after, "saved": saved, "parses": out,
                      "path": str(parser_cache.cache_path())}))
""")


def _child(cache: Path, save: bool, strings=STRINGS, **env) -> dict:
    environ = {**os.environ, "NMFRAME_CACHE": str(cache), "PYTHONPATH": str(ROOT), **env}
    res = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(strings), "save" if save else "-"],
                         capture_output=True, text=True, env=environ, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> tuple[Path, dict]:
    cache = tmp_path_factory.mktemp("nmcache")
    first = _child(cache, save=True)
    return cache, first


def test_a_saved_cache_is_loaded_and_gives_the_same_parses(saved):
    cache, first = saved
    assert first["loaded"] == 0 and first["after"] > 0 and first["saved"] is True
    path = Path(first["path"])
    assert path.is_file() and path.parent == cache / "grader"
    assert path.stat().st_mode & 0o077 == 0  # owner-only
    second = _child(cache, save=True)
    assert second["loaded"] == first["after"]
    assert second["after"] == second["loaded"]  # every decision was known: nothing to learn
    assert second["saved"] is False  # so nothing is written
    assert second["parses"] == first["parses"]


def test_new_strings_grow_the_cache_and_parse_as_in_a_cold_process(saved, tmp_path):
    cache, first = saved
    more = STRINGS + [r"\binom{5}{2}", r"\log_2 8", r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", r"e^{i\pi}"]
    warm = _child(cache, save=False, strings=more)
    cold = _child(tmp_path / "empty", save=False, strings=more)
    assert warm["loaded"] == first["after"] and warm["after"] > warm["loaded"]
    assert cold["loaded"] == 0
    assert warm["parses"] == cold["parses"]


class _MakeDir:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


@pytest.mark.parametrize("damage", ["corrupt", "group-writable", "foreign-class", "off"])
def test_a_bad_or_unwanted_cache_means_a_cold_start(saved, tmp_path, damage):
    cache, first = saved
    mine = tmp_path / "cache"
    (mine / "grader").mkdir(parents=True)
    path = mine / "grader" / Path(first["path"]).name
    path.write_bytes(Path(first["path"]).read_bytes())
    path.chmod(0o600)
    env = {}
    if damage == "corrupt":
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    elif damage == "group-writable":
        path.chmod(0o660)
    elif damage == "foreign-class":  # a pickle that would run os.mkdir if its classes were not checked
        path.write_bytes(pickle.dumps({"dfa": [], "contexts": {}, "x": _MakeDir(str(tmp_path / "ran"))}))
    else:
        env["NMFRAME_GRADER_DFA_CACHE"] = "0"
    res = _child(mine, save=True, **env)
    assert res["loaded"] == 0
    assert not (tmp_path / "ran").exists()
    assert res["parses"] == first["parses"]
    if damage == "off":
        assert res["saved"] is False


def test_a_grading_worker_saves_the_cache_when_the_pool_closes(tmp_path):
    code = textwrap.dedent("""
        from nmframe.answers import grade_many, shutdown_pool
        from nmframe.answers.parser_cache import cache_path
        v = grade_many([("\\\\frac{1}{2}", "3 or 4"), ("x^2", "N/A")], workers=1)
        shutdown_pool()
        print([x.outcome for x in v], cache_path().is_file())
    """)
    env = {**os.environ, "NMFRAME_CACHE": str(tmp_path), "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.split("\n")[0] == "['wrong', 'wrong'] True"
    assert list((tmp_path / "grader").glob("*.tmp")) == []


def test_a_dfa_over_the_cap_is_not_written_and_stale_temporaries_are_removed(tmp_path, monkeypatch):
    from nmframe.answers import mv_judge, parser_cache

    monkeypatch.setenv("NMFRAME_CACHE", str(tmp_path))
    mv_judge._load()
    mv_judge.parse_answer(r"\frac{3}{4} + \sqrt{5}")
    monkeypatch.setitem(parser_cache._state, "loaded_states", 0)  # everything counts as new
    path = parser_cache.cache_path()
    with monkeypatch.context() as m:
        m.setattr(parser_cache, "_MAX_BYTES", 1000)
        assert parser_cache.save_if_grown() is False
    assert not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    stale, fresh = path.parent / (path.name + "old.tmp"), path.parent / (path.name + "new.tmp")
    stale.write_bytes(b"x")
    fresh.write_bytes(b"x")
    os.utime(stale, (1, 1))
    assert parser_cache.save_if_grown() is True
    assert path.is_file() and not stale.exists() and fresh.exists()


def _hold_pipes_open(seconds: float) -> None:
    import time

    time.sleep(seconds)


def test_closing_the_pool_ends_workers_by_message_even_when_a_fork_holds_their_input(tmp_path, monkeypatch):
    """A process forked while the pool lives keeps the workers' input pipes open, so an end
    of input never reaches them: they must be told to finish, and exit by themselves."""
    import multiprocessing as mp

    from nmframe.answers import grade_many, shutdown_pool
    from nmframe.answers.pool import get_pool

    monkeypatch.setenv("NMFRAME_CACHE", str(tmp_path))
    shutdown_pool()
    grade_many([("x^2", "N/A")], workers=1)
    worker = get_pool()._idle[0]
    child = mp.get_context("fork").Process(target=_hold_pipes_open, args=(30,))
    child.start()
    try:
        shutdown_pool()
        assert worker.proc.returncode == 0  # it finished on its own; killed would be -9
    finally:
        child.terminate()
        child.join()
