"""Grading a prediction against a gold answer: fast path, cache, then math-verify.

Order of decisions for one pair (first that applies):

1. no prediction (``None``, empty after normalising) -> wrong, "no answer";
   empty gold -> ungraded.
2. normal forms equal (:func:`.normalize.normalize`; on the prediction an ``x =`` prefix
   is dropped unless the gold is itself an equation) -> correct, "fast-path".
3. both plain numbers (:func:`.numbers.parse_number`) -> decided exactly with
   fractions, "fast-path numeric" (``0.5`` = ``1/2``, ``016`` = ``16``).
4. both worded answers with the same words (``\\text{No solution}`` / ``no solution``)
   -> correct, "fast-path text"; both single letters (:mod:`.letters`, multiple choice:
   ``B`` / ``\\textbf{(B)}``) -> decided, "fast-path letter".
5. both tuples / intervals / sets of exact numbers (:mod:`.tuples`), both intervals
   (also half-infinite, ``x\\in`` prefix) or an interval against a one-variable inequality
   (:mod:`.intervals`: ``(2,5]`` and ``2<x\\le5``) -> decided, "fast-path structure".
6. both simple arithmetic (:mod:`.arith`, constants or polynomials/rational functions
   in x, y, z, n, k) whose values at sample points clearly differ -> wrong, or agree to
   12 significant digits -> correct, "fast-path arithmetic"; rational constants
   (integers, fractions, integer powers, factorials) are compared exactly; the same for one-variable
   assignments ``y = f`` (:mod:`.equations`).
7. the verdict cache.
8. math-verify with guards (:mod:`.mv_judge`) in a worker process with a per-item
   timeout (:mod:`.pool`): "correct" / "wrong" / "ungraded" (reason "timeout" or
   "error: ...").

:func:`grade_many` deduplicates raw pairs, then normalised pairs, decides what it can
in this process and sends only the rest, batched by gold, to worker processes: one per
:data:`.pool.STRINGS_PER_WORKER` distinct strings left to parse (a worker costs about a
second to start), up to all cores.
"""
from __future__ import annotations

import sys
import time
from typing import Iterable

from . import intervals, letters, tuples
from . import arith, equations
from .cache import CACHE
from .normalize import has_relation, normalize, strip_assignment, text_key
from .numbers import parse_number
from .pool import get_pool
from .verdict import CORRECT, UNGRADED, WRONG, Verdict

_PREWARM_AT = 2000  # pairs; below this, most batches never need a worker
_NO_ANSWER = Verdict(WRONG, "no answer")
_EMPTY_GOLD = Verdict(UNGRADED, "error: empty gold answer")
_FAST_OK = Verdict(CORRECT, "fast-path")
_NUM_OK = Verdict(CORRECT, "fast-path numeric")
_NUM_BAD = Verdict(WRONG, "fast-path numeric")
_TEXT_OK = Verdict(CORRECT, "fast-path text")
_LETTER_OK = Verdict(CORRECT, "fast-path letter")
_LETTER_BAD = Verdict(WRONG, "fast-path letter")
_SHAPE_OK = Verdict(CORRECT, "fast-path structure")
_SHAPE_BAD = Verdict(WRONG, "fast-path structure")
_ARITH_OK = Verdict(CORRECT, "fast-path arithmetic")
_ARITH_BAD = Verdict(WRONG, "fast-path arithmetic")
_CURVE_VS_EXPR = Verdict(WRONG, "fast-path guard: gold equation vs bare expression")


def normal_pair(gold: str, pred: str) -> tuple[str, str]:
    """The cache key of a pair: both normal forms, the prediction's ``x =`` dropped
    when the gold states no relation."""
    g = normalize(gold)
    p = normalize(pred)
    if g and p and not has_relation(g):
        p = strip_assignment(p)
    return g, p


def fast_verdict(g: str, p: str) -> Verdict | None:
    """Verdict of the cheap rules on a normalised pair, or None if math-verify must decide."""
    if not p:
        return _NO_ANSWER
    if not g:
        return _EMPTY_GOLD
    if g == p:
        return _FAST_OK
    ng = parse_number(g)
    if ng is not None:
        np_ = parse_number(p)
        if np_ is not None:
            return _NUM_OK if ng == np_ else _NUM_BAD
    tg = text_key(g)
    if tg is not None and tg == text_key(p):
        return _TEXT_OK
    same = letters.compare(g, p)
    if same is not None:
        return _LETTER_OK if same else _LETTER_BAD
    same = tuples.compare(g, p)
    if same is None:
        same = intervals.compare(g, p)
    if same is not None:
        return _SHAPE_OK if same else _SHAPE_BAD
    vg = arith.evaluate(g)
    if vg is not None:
        vp = arith.evaluate(p)
        if vp is not None:
            same = arith.compare(vg, vp)
            if same is not None:
                return _ARITH_OK if same else _ARITH_BAD
        return None
    return _assignment_verdict(g, p)


def _assignment_verdict(g: str, p: str) -> Verdict | None:
    ga = equations.split_assignment(g)
    if ga is None:
        return None
    var, rhs = ga
    if equations.mentions(var, rhs):
        return None
    if not equations.is_relation(p):
        value = arith.evaluate(rhs)
        if value is not None and value.variable:
            return _CURVE_VS_EXPR
        if value is not None or parse_number(rhs) is not None:
            return fast_verdict(rhs, p)
        return None
    pa = equations.split_assignment(p)
    if pa is None or pa[0] != var or equations.mentions(var, pa[1]):
        return None
    vg, vp = arith.evaluate(rhs), arith.evaluate(pa[1])
    if vg is None or vp is None:
        return None
    same = arith.compare(vg, vp)
    if same is None:
        return None
    return _ARITH_OK if same else _ARITH_BAD


def _prepare(gold: str, pred: str | None) -> tuple[Verdict | None, tuple[str, str] | None]:
    if pred is None:
        return _NO_ANSWER, None
    if gold is None:
        return _EMPTY_GOLD, None
    key = normal_pair(str(gold), str(pred))  # numbers given as int/float are fine too
    return fast_verdict(*key), key


def grade(gold: str, pred: str | None, timeout: float = 5.0) -> Verdict:
    """Grade ``pred`` against ``gold``: "correct", "wrong" or "ungraded" with a reason.

    Safe to call from any thread or process; math-verify runs in a worker process that
    is killed after ``timeout`` seconds (verdict "ungraded", reason "timeout"). The clock
    starts when the worker begins the comparison: the first call in a process also waits
    for a worker to start (about half a second).
    """
    verdict, key = _prepare(gold, pred)
    if verdict is not None:
        CACHE.count("fast_path")
        return verdict
    assert key is not None
    cached = CACHE.get(key)
    if cached is not None:
        return cached
    outcome, reason = get_pool().run([key], timeout)[0]
    verdict = Verdict(outcome, reason)
    CACHE.count("math_verify")
    if reason == "timeout":
        CACHE.count("timeouts")
    CACHE.put(key, verdict)
    return verdict


class _Progress:
    def __init__(self, total: int, enabled: bool) -> None:
        self.total = total
        self.done = 0
        self.enabled = enabled and total > 0
        self.t0 = time.monotonic()
        self.last = 0.0

    def __call__(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and (now - self.last > 1.0 or self.done >= self.total):
            self.last = now
            rate = self.done / max(now - self.t0, 1e-9)
            print(f"\rmath-verify {self.done}/{self.total} ({rate:.0f}/s)", end="",
                  file=sys.stderr, flush=True)
            if self.done >= self.total:
                print(file=sys.stderr)


def grade_many(
    pairs: Iterable[tuple[str, str | None]],
    workers: int | None = None,
    timeout: float = 5.0,
    progress: bool = False,
) -> list[Verdict]:
    """Grade many ``(gold, pred)`` pairs; same verdicts as :func:`grade`, in input order.

    Identical raw pairs and identical normalised pairs are graded once; pairs the fast
    path or the cache decide never leave this process; the rest go to up to ``workers``
    (default: all cores) worker processes in batches grouped by gold, one worker per
    200 distinct strings left to parse.
    """
    pairs = list(pairs)
    if len(pairs) >= _PREWARM_AT:
        # start one worker now, so its imports overlap the fast path below; more are
        # started by run_many only if enough pairs are left for them
        get_pool().prewarm(1)
    out: list[Verdict | None] = [None] * len(pairs)
    by_raw: dict[tuple[str, str | None], list[int]] = {}
    for i, pair in enumerate(pairs):
        by_raw.setdefault((pair[0], pair[1]), []).append(i)

    pending: dict[tuple[str, str], list[tuple[str, str | None]]] = {}
    n_fast = 0
    for raw in by_raw:
        verdict, key = _prepare(*raw)
        if verdict is None:
            assert key is not None
            verdict = CACHE.get(key)
            if verdict is None:
                pending.setdefault(key, []).append(raw)
                continue
        else:
            n_fast += 1
        for i in by_raw[raw]:
            out[i] = verdict
    CACHE.count("fast_path", n_fast)

    keys = list(pending)
    if keys:
        results = get_pool().run_many(
            keys, timeout, workers=workers, on_progress=_Progress(len(keys), progress)
        )
        CACHE.count("math_verify", len(keys))
        for key, (outcome, reason) in zip(keys, results):
            verdict = Verdict(outcome, reason)
            if reason == "timeout":
                CACHE.count("timeouts")
            CACHE.put(key, verdict)
            for raw in pending[key]:
                for i in by_raw[raw]:
                    out[i] = verdict
    return out  # type: ignore[return-value]


def clear_cache() -> None:
    """Forget all cached verdicts and reset the counters."""
    CACHE.clear()


def cache_stats() -> dict[str, int]:
    """Counters: cache hits/misses/size, fast-path decisions, math-verify calls, timeouts."""
    return CACHE.stats()
