"""Grading: the case table, the fast path, the cache, timeouts in threads and processes."""
import concurrent.futures as cf
import dataclasses
import json
import re
import multiprocessing as mp
import threading
import time
from pathlib import Path

import pytest

from nmframe.answers import (
    Verdict,
    cache_stats,
    clear_cache,
    grade,
    grade_many,
    normalize,
)

CASES = [json.loads(line) for line in
         (Path(__file__).parent / "data" / "grading_cases.jsonl").read_text().splitlines() if line.strip()]
PATHOLOGICAL = ("9^{9^{9^{9}}}", "1")
SHORT_TIMEOUT = 1.5


def test_table_is_large_and_covers_every_category():
    assert len(CASES) >= 90
    cats = {c["category"] for c in CASES}
    for needed in ("leading-zeros", "text", "dfrac", "dollar", "percent", "degrees", "trailing",
                   "thousands", "tuple-not-thousands", "interval", "matrix", "assignment", "equation",
                   "pm", "sqrt", "pi", "negative", "scientific", "set", "infinity", "tuple",
                   "empty", "malformed", "fraction", "factorial", "exact-large", "interval-inequality",
                   "complex-decimal", "number-in-words"):
        assert needed in cats, needed
    assert {c["expected"] for c in CASES} == {"correct", "wrong", "ungraded"}


def test_table_holds_pairs_from_public_bug_reports():
    """Pairs reported against math-verify, each naming its issue (owner/repo#number)."""
    sourced = [c for c in CASES if "source" in c]
    assert len(sourced) >= 20
    for c in sourced:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+#\d+", c["source"]), c


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{c['category']}" for i, c in enumerate(CASES)])
def test_grading_table(case):
    v = grade(case["gold"], case["pred"])
    assert isinstance(v, Verdict)
    assert v.outcome == case["expected"], (case, v)


def test_grade_many_matches_grade_on_the_table():
    clear_cache()
    pairs = [(c["gold"], c["pred"]) for c in CASES]
    many = grade_many(pairs + pairs[::-1])
    assert [v.outcome for v in many[: len(pairs)]] == [c["expected"] for c in CASES]
    assert many[len(pairs):] == many[: len(pairs)][::-1]


def test_grade_from_many_threads_at_once():
    pairs = [(c["gold"], c["pred"]) for c in CASES]
    clear_cache()
    with cf.ThreadPoolExecutor(8) as ex:
        got = list(ex.map(lambda p: grade(*p).outcome, pairs))
    assert got == [c["expected"] for c in CASES]


@pytest.mark.parametrize(
    "gold, pred, reason",
    [
        ("16", "016", "fast-path"),
        ("1000", "1,000", "fast-path"),
        ("2", "x = 2", "fast-path"),
        (r"50\%", "50", "fast-path"),
        (r"\frac{1}{2}", "0.5", "fast-path numeric"),
        ("3", "4", "fast-path numeric"),
        (r"\text{No solution}", "No Solution", "fast-path text"),
        ("5", None, "no answer"),
        ("5", "  ", "no answer"),
        (r"\frac{\sqrt{2}}{2}", r"\sqrt{2}/2", "fast-path arithmetic"),
        (r"2\sqrt{3}", r"3\sqrt{2}", "fast-path arithmetic"),
        ("(1,2)", "(2,1)", "fast-path structure"),
        ("[1,2)", "[1, 2)", "fast-path"),
        ("[1,2)", "[1,2]", "fast-path structure"),
        (r"\{1,2\}", r"\{2,1\}", "fast-path structure"),
        ("x^2+2x+1", "(x+1)^2", "fast-path arithmetic"),
        ("y=4x+5", "y=5+4x", "fast-path arithmetic"),
        (r"\ln 8", r"3\ln 2", "math-verify"),
        ("x^2-1=0", "0", "math-verify"),
        ("0", "x^2-1=0", "guard: prediction equation collapses to its right side"),
        ("y = 2x+1", "2x+1", "fast-path guard: gold equation vs bare expression"),
        (r"y=\sin x", r"\sin x", "guard: gold equation vs bare expression"),
        ("x^2=4", r"\pm 2", "guard: gold equation vs set of roots"),
    ],
)
def test_reasons(gold, pred, reason):
    assert grade(gold, pred).reason == reason


def test_internal_error_is_ungraded_with_message():
    v = grade(r"\frac{1}{0}", "5")
    assert v.outcome == "ungraded"
    assert v.reason.startswith("error: ")


def test_verdict_is_frozen_and_validated():
    v = Verdict("correct", "fast-path")
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.outcome = "wrong"  # type: ignore[misc]
    with pytest.raises(ValueError):
        Verdict("maybe", "x")
    assert v.is_correct and v.is_graded
    assert not Verdict("ungraded", "timeout").is_graded


@pytest.mark.parametrize(
    "raw, form",
    [
        ("$016$", "16"),
        (r"\dfrac{1}{2}", r"\frac{1}{2}"),
        (r"\left( 1, 2 \right)", "(1,2)"),
        (r"90^{\circ}", "90"),
        (r"50\%", "50"),
        (r"\text{13}", "13"),
        (r"\text{no solution}", r"\text{no solution}"),
        ("1,000", "1000"),
        ("1,00", "1,00"),
        ("(1,000)", "(1,000)"),
        ("7.", "7"),
        ("-007", "-7"),
        ("-0", "0"),
        ("+5", "5"),
        (".5", "0.5"),
        (r"2 \pi r", r"2\pi r"),
        ("x = 2", "x=2"),
        (r"\boxed{5}", "5"),
        (r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}", r"\begin{pmatrix}1&2\\3&4\end{pmatrix}"),
        ("", ""),
        ("   ", ""),
        ("pi/2", r"\pi/2"),
        ("-2*pi", r"-2*\pi"),
        (r"\text{pi}", r"\text{pi}"),
        ("spin", "spin"),
        ("-1 + exp(16)", r"-1+\exp(16)"),
        (r"4\sqrt(2)", r"4\sqrt{2}"),
        (r"1-\frac{1}{\mathrm{e}}", r"1-\frac{1}{e}"),
    ],
)
def test_normalize(raw, form):
    assert normalize(raw) == form


def test_cache_hits_and_stats():
    clear_cache()
    s0 = cache_stats()
    assert (s0["hits"], s0["misses"], s0["size"], s0["math_verify"]) == (0, 0, 0, 0)
    assert grade(r"\ln 8", r"3\ln 2").outcome == "correct"
    assert grade(r"\ln 8", r"3 \ln 2").outcome == "correct"  # same normal form: cached
    assert grade("3", "003").outcome == "correct"  # fast path never touches the cache
    s = cache_stats()
    assert (s["hits"], s["misses"], s["size"], s["math_verify"], s["fast_path"]) == (1, 1, 1, 1, 1)
    clear_cache()
    assert cache_stats()["size"] == 0


def test_grade_many_deduplicates_normalised_pairs():
    clear_cache()
    pairs = [(r"\ln 8", r"3\ln 2"), (r"\ln 8", r"3 \ln 2"), (r"\ln 8", r"$3\ln 2$"),
             (r"\ln 8", r"2\ln 2")] * 16 + [("16", "016")] * 16 + [("16", None)] * 4
    got = grade_many(pairs, workers=2)
    assert len(got) == len(pairs)
    assert [v.outcome for v in got[:4]] == ["correct", "correct", "correct", "wrong"]
    assert all(v.outcome == "correct" for v in got[64:80])
    assert all(v == Verdict("wrong", "no answer") for v in got[80:])
    assert cache_stats()["math_verify"] == 2  # two distinct normalised pairs reached math-verify
    assert grade_many([]) == []


def _timeout_in_thread():
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("v", grade(*PATHOLOGICAL, timeout=SHORT_TIMEOUT)))
    t.start()
    t.join(60)
    return box.get("v")


@pytest.mark.slow
def test_pathological_expression_times_out_in_a_thread():
    t0 = time.monotonic()
    v = _timeout_in_thread()
    elapsed = time.monotonic() - t0
    assert v == Verdict("ungraded", "timeout")
    assert elapsed < SHORT_TIMEOUT + 4.0  # timeout plus at most a worker start
    # the pool recovers: the next comparison is graded normally
    assert grade(r"\frac{\sqrt{2}}{2}", r"\sqrt{2}/2").outcome == "correct"


@pytest.mark.slow
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_pathological_expression_times_out_in_a_process_pool(method):
    with cf.ProcessPoolExecutor(1, mp_context=mp.get_context(method)) as ex:
        v = ex.submit(grade, *PATHOLOGICAL, SHORT_TIMEOUT).result(timeout=60)
    assert v == Verdict("ungraded", "timeout")


def test_timeouts_are_not_cached():
    clear_cache()
    assert grade_many([PATHOLOGICAL, PATHOLOGICAL, ("1", "1")], timeout=SHORT_TIMEOUT) == [
        Verdict("ungraded", "timeout"), Verdict("ungraded", "timeout"), Verdict("correct", "fast-path")]
    s = cache_stats()
    assert (s["timeouts"], s["size"]) == (1, 0)


def test_a_worker_killed_from_outside_is_replaced():
    import os
    import signal

    from nmframe.answers.pool import get_pool

    clear_cache()
    assert grade(r"\ln 8", r"3\ln 2").outcome == "correct"  # a worker exists and is idle now
    pool = get_pool()
    for w in list(pool._idle):
        os.kill(w.proc.pid, signal.SIGKILL)
        w.proc.wait()
    clear_cache()
    assert grade(r"\ln 8", r"3\ln 2") == Verdict("correct", "math-verify")
