"""Benchmark: nmframe.answers.grade_many against a plain math-verify loop.

The workload is shaped like answer validation in the recipe: many problems, 16 sampled
answers each, most answers repeated within a problem (the right answer in a few
spellings, a handful of recurring wrong answers, some responses without an answer).
Gold answers are synthetic: integers (42%), fractions (13%), decimals (4%), LaTeX
that only math-verify reads (20%: logs, exponentials, trig, infinite intervals,
matrices, binomials), simple LaTeX expressions (8%: roots, pi, polynomials), tuples,
intervals and sets (10%) and equations of lines (3%).

The plain loop is what a straightforward evaluation does per item::

    verify(parse(f"${gold}$"), parse(f"${pred}$"))      # math-verify defaults

It is timed on a random subset of whole problems (so within-problem repetition is kept)
and extrapolated to the full workload when the full loop would exceed the time budget;
the output says when it did. Agreement is measured on the items both graded (ours:
"correct"/"wrong", never "ungraded"); disagreements are printed by category.

A second workload, built independently (``bench/grading_workload.py``), is shaped like
evaluation: 5,000 pairs, 8-16 samples per problem, about 40% repeated pairs, ten answer
kinds including letters, worded and malformed answers. Both print the speed-up in wall
and in CPU time (grade_many's CPU includes its worker processes), the agreement outside
the documented departures, and the repeat rate. The goal is >= 20x on workloads of the
evaluation shape at full agreement outside the departures; it is a goal of this script,
not of a timed test.

    python bench/bench_grading.py                 # both: 300K predictions, then 5,000 pairs
    python bench/bench_grading.py --scale 0.1     # own workload 32K predictions
    python bench/bench_grading.py --workload eval # only the evaluation-shaped workload

Each workload is graded twice from a cold start (no workers, empty verdict cache): with
no saved parser cache (the first grading on a machine) and with the parser cache that
grading a different evaluation-shaped workload (another seed) left behind, which is how
every later grading on the machine starts (see nmframe/answers/parser_cache.py). Both
figures are printed; the verdicts of the two runs must be the same.

Where the time goes (profiled with cProfile on the evaluation-shaped workload, 2 cores,
CPU seconds):

* plain loop: about 55-68 s, 11-13 ms a pair. About 87% of math-verify's time is the LaTeX
  parse (latex2sympy2's ANTLR parser, nearly all of it adaptive prediction in full-context
  LL mode, which ANTLR does not cache), about 12% ``verify`` (sympy ``simplify``).
* grade_many's rule path (normalise, then the fast rules): about 0.2-0.45 s for 3,034
  distinct pairs, half of it in ``normalize``; deduplication removes 39% first. It runs
  while the one worker starts.
* 251 distinct pairs reach math-verify (36 distinct predictions: malformed ones, worded
  answers), needing 179 distinct strings parsed; one worker (one per 200 strings).
* before this round: worker start 1.2 s, parses 4.0 s, ``verify`` 1.6 s: 7.2-7.9 s wall,
  7.4-8.6x. Then, in this order:
  - ANTLR's two-stage parse (SLL first, full LL only when SLL fails; exact by ANTLR's
    contract, see nmframe/answers/two_stage_parse.py): parses 4.0 -> 1.7 s, 13.5x wall;
  - ``verify`` skipped for plain expressions whose values clearly differ at a point of
    their symbols' domain (``N/A`` read as n/a against -1/9; decimals included, since
    math-verify's 6-place rounding cannot join values 2e-6 apart): ``verify`` 1.6 -> 0.6 s;
  - the parser's DFA saved by one worker and loaded by the next: a cold process spends
    about 1.1 s building it (parses 1.7 s cold, 0.7 s warm; loading it takes 0.1 s).
* now (2 cores, seeds 0 and 4): cold 2.4-3.2 s wall, 3.0-4.0 s CPU (17-21x wall, 14-17x
  CPU); warm 1.6-2.4 s wall, 1.9-2.7 s CPU (24-31x wall, 21-27x CPU). What is left is the worker's start (0.8 s of
  imports), 0.7 s of parses, 0.6 s of ``verify`` (mostly sympy set differences of junk
  against intervals and sets, and sympy's own lazy imports on the first ``simplify``).
  A second worker would cut the wall time to about 2.1 s but double the start-up CPU.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from fractions import Fraction
from math import comb, gcd

# ----------------------------------------------------------------------------- workload


def _frac(a: int, b: int) -> str:
    return rf"\frac{{{a}}}{{{b}}}"


def make_problem(rng: random.Random) -> tuple[str, str, list[str], list[str]]:
    """(kind, gold, equivalent spellings, wrong answers) for one synthetic problem."""
    r = rng.random()
    if r < 0.42:  # integer, AIME style
        n = rng.randint(0, 999)
        gold = str(n)
        alts = [f"${n}$", f"{n}.", f"x = {n}", f"{n:03d}", rf"\text{{{n}}}"]
        if n >= 1000:
            alts.append(f"{n:,}")
        wrong = [str(n + d) for d in rng.sample([-2, -1, 1, 2, 10, n], 3)]
        return "integer", gold, alts, wrong
    if r < 0.55:  # fraction
        b = rng.randint(2, 60)
        a = rng.randint(1, 3 * b)
        g = gcd(a, b)
        a, b = a // g, b // g
        if b == 1:
            b = 7
        gold = _frac(a, b)
        alts = [f"{a}/{b}", rf"\dfrac{{{a}}}{{{b}}}", rf"\tfrac{{{a}}}{{{b}}}"]
        v = Fraction(a, b)
        if 10**6 % v.denominator == 0:
            alts.append(str(float(v)))
        wrong = [_frac(b, a), _frac(a + 1, b), f"{a * 1.0 / b:.2f}"]
        return "fraction", gold, alts, wrong
    if r < 0.59:  # decimal
        v = rng.randint(1, 9999) / 100
        gold = f"{v:.2f}"
        alts = [f"{v:.3f}", f"${v:.2f}$"]
        f = Fraction(gold)
        alts.append(f"{f.numerator}/{f.denominator}")
        wrong = [f"{v + 0.01:.2f}", f"{v * 10:.2f}", f"{round(v)}"]
        return "decimal", gold, alts, wrong
    if r < 0.79:  # LaTeX outside the simple grammars: logs, exponentials, trig, infinity, matrices
        a, b = rng.randint(2, 9), rng.randint(2, 9)
        t = rng.randrange(6)
        if t == 0:
            gold = rf"\ln {a * a}"
            alts = [rf"2\ln {a}", rf"\ln({a * a})", rf"\log {a * a}"]
            wrong = [rf"\ln {a}", rf"{a}\ln 2", rf"\ln {a * a + 1}"]
        elif t == 1:
            gold = rf"e^{{{a}}}"
            alts = [rf"e^{a}", rf"\exp({a})", rf"e^{{{a}}}."]
            wrong = [rf"e^{{{a + 1}}}", rf"{a}e", rf"e^{{-{a}}}"]
        elif t == 2:
            gold = rf"\sin\frac{{\pi}}{{{a}}}"
            alts = [rf"\sin(\pi/{a})", rf"\sin\left(\frac{{\pi}}{{{a}}}\right)"]
            wrong = [rf"\cos\frac{{\pi}}{{{a}}}", rf"\sin\frac{{\pi}}{{{a + 1}}}", rf"\frac{{\pi}}{{{a}}}"]
        elif t == 3:
            gold = rf"(-\infty, {a}]"
            alts = [rf"(-\infty,{a}]", rf"\left(-\infty, {a}\right]"]
            wrong = [rf"(-\infty, {a})", rf"[{a}, \infty)", rf"(-\infty, {b + a}]"]
        elif t == 4:
            gold = rf"\begin{{pmatrix}}{a}&{b}\\{b}&{a}\end{{pmatrix}}"
            alts = [rf"\begin{{bmatrix}}{a}&{b}\\{b}&{a}\end{{bmatrix}}", rf"\begin{{pmatrix}} {a} & {b} \\ {b} & {a} \end{{pmatrix}}"]
            wrong = [rf"\begin{{pmatrix}}{b}&{a}\\{a}&{b}\end{{pmatrix}}", rf"\begin{{pmatrix}}{a}&{b}\end{{pmatrix}}", f"{a * a - b * b}"]
        else:
            gold = rf"\binom{{{a + b}}}{{{a}}}"
            alts = [rf"\dbinom{{{a + b}}}{{{a}}}", rf"\binom{{{a + b}}}{{{b}}}", str(comb(a + b, a))]
            wrong = [rf"\binom{{{a + b}}}{{{a + 1}}}", str(comb(a + b, a) + 1), rf"{a + b}!"]
        return "other latex", gold, alts, wrong
    if r < 0.87:  # LaTeX expression
        a, b, c = rng.randint(2, 9), rng.choice([2, 3, 5, 6, 7, 10, 11]), rng.randint(2, 9)
        t = rng.randrange(6)
        if t == 0:
            gold = rf"{a}\sqrt{{{b}}}"
            alts = [rf"\sqrt{{{a * a * b}}}", rf"{a} \sqrt{{{b}}}", rf"{a}\sqrt{b}"]
            wrong = [rf"{a + 1}\sqrt{{{b}}}", rf"\sqrt{{{a * b}}}", rf"{a * b}"]
        elif t == 1:
            gold = rf"\frac{{{a}\sqrt{{{b}}}}}{{{c}}}"
            alts = [rf"\frac{{{a}}}{{{c}}}\sqrt{{{b}}}", rf"{a}\sqrt{{{b}}}/{c}", rf"\dfrac{{{a}\sqrt{{{b}}}}}{{{c}}}"]
            wrong = [rf"\frac{{{a}\sqrt{{{b}}}}}{{{c + 1}}}", rf"\frac{{{c}\sqrt{{{b}}}}}{{{a}}}", rf"\frac{{{a}}}{{{c}}}"]
        elif t == 2:
            gold = rf"{a}\pi"
            alts = [rf"{a} \pi", rf"\pi {a}", rf"{a}\cdot\pi"]
            wrong = [rf"{a + 1}\pi", rf"\frac{{{a}\pi}}{{2}}", f"{a}"]
        elif t == 3:
            gold = rf"\frac{{{a}\pi}}{{{c}}}"
            alts = [rf"\frac{{{a}}}{{{c}}}\pi", rf"{a}\pi/{c}", rf"\dfrac{{{a}\pi}}{{{c}}}"]
            wrong = [rf"\frac{{{a}\pi}}{{{c + 1}}}", rf"\frac{{{c}\pi}}{{{a}}}", rf"{a}\pi"]
        elif t == 4:
            gold = rf"x^2+{a}x+{b}"
            alts = [rf"x^{{2}}+{a}x+{b}", rf"{b}+{a}x+x^2", rf"x^2 + {a}x + {b}"]
            wrong = [rf"x^2+{a}x-{b}", rf"x^2-{a}x+{b}", rf"x^2+{b}x+{a}"]
        else:
            gold = rf"{a}+{c}\sqrt{{{b}}}"
            alts = [rf"{c}\sqrt{{{b}}}+{a}", rf"{a} + {c}\sqrt{{{b}}}", rf"{a}+{c}\sqrt{b}"]
            wrong = [rf"{a}-{c}\sqrt{{{b}}}", rf"{c}+{a}\sqrt{{{b}}}", rf"{a + c}\sqrt{{{b}}}"]
        return "expression", gold, alts, wrong
    if r < 0.97:  # tuple / interval / set
        a, b = sorted(rng.sample(range(-9, 20), 2))
        t = rng.randrange(3)
        if t == 0:
            gold = f"({a},{b})"
            alts = [f"({a}, {b})", rf"\left({a},{b}\right)"]
            wrong = [f"({b},{a})", f"({a},{b + 1})", f"({a + 1},{b})"]
        elif t == 1:
            gold = f"[{a},{b})"
            alts = [f"[{a}, {b})", rf"\left[{a},{b}\right)"]
            wrong = [f"[{a},{b}]", f"({a},{b})", f"[{a},{b + 1})"]
        else:
            gold = rf"\{{{a},{b}\}}"
            alts = [rf"\{{{b},{a}\}}", rf"\{{{a}, {b}\}}"]
            wrong = [rf"\{{{a},{b + 1}\}}", rf"\{{{a}\}}", rf"\{{{a},{b},{a + b}\}}"]
        return "tuple/interval/set", gold, alts, wrong
    a, b = rng.randint(2, 9), rng.randint(1, 9)  # equation
    gold = f"y={a}x+{b}"
    alts = [f"y = {a}x + {b}", f"y={b}+{a}x"]
    wrong = [f"y={a}x-{b}", f"{a}x+{b}", f"y={b}x+{a}"]
    return "equation", gold, alts, wrong


def make_workload(n_problems: int, per_problem: int, seed: int):
    """Items ``(problem, kind, gold, pred)``: per problem, ``per_problem`` sampled answers."""
    rng = random.Random(seed)
    items = []
    for pid in range(n_problems):
        kind, gold, alts, wrong = make_problem(rng)
        p_correct = rng.betavariate(2, 1.5)
        alts = rng.sample(alts, min(2, len(alts)))  # a model tends to reuse a couple of spellings
        for _ in range(per_problem):
            r = rng.random()
            if r < 0.03:
                pred = None
            elif r < 0.03 + 0.97 * p_correct:
                pred = gold if rng.random() < 0.7 else rng.choice(alts)
            else:
                pred = rng.choice(wrong) if rng.random() < 0.9 else str(rng.randint(0, 99999))
            items.append((pid, kind, gold, pred))
    return items


# ----------------------------------------------------------------------------- plain loop


def _wrap(s: str) -> str:
    return s if "$" in s or "\\boxed" in s else f"${s}$"


def plain_loop(items, budget_s: float, seed: int):
    """math-verify parse+verify per item on whole problems in random order until the budget
    is spent; returns ({item index: bool}, wall seconds, CPU seconds)."""
    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    parse("$1$")  # the import and grammar load are not the loop's cost
    by_problem: dict[int, list[int]] = {}
    for i, it in enumerate(items):
        by_problem.setdefault(it[0], []).append(i)
    order = list(by_problem)
    random.Random(seed + 1).shuffle(order)
    out: dict[int, bool] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    for pid in order:
        for i in by_problem[pid]:
            _, _, gold, pred = items[i]
            g = parse(_wrap(gold))
            p = parse(_wrap(pred)) if pred is not None else []
            out[i] = bool(verify(g, p))
        if time.perf_counter() - t0 > budget_s:
            break
    return out, time.perf_counter() - t0, time.process_time() - c0


# ----------------------------------------------------------------------------- measuring


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed_grade_many(pairs, workers, timeout):
    """(verdicts, wall s, CPU s) of grade_many from a cold start: no workers, empty cache.
    CPU time counts this process and the worker processes (collected when the pool is shut
    down, after the clock has stopped)."""
    from nmframe.answers import clear_cache, grade_many, shutdown_pool

    shutdown_pool()
    clear_cache()
    k0 = _children_cpu()
    t0, c0 = time.perf_counter(), time.process_time()
    ours = grade_many(pairs, workers=workers, timeout=timeout, progress=sys.stderr.isatty())
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    shutdown_pool()
    time.sleep(0.2)  # killed workers are reaped by shutdown_pool; their CPU time is now counted
    return ours, wall, cpu + _children_cpu() - k0


WARM_UP_SEED = 1001  # the warm-up workload's seed, offset from --seed: never a measured one


@contextlib.contextmanager
def _cache_dir(path: str):
    """Point ``$NMFRAME_CACHE`` (where grading workers keep the parser cache) at ``path``
    for the workers started inside the block."""
    old = os.environ.get("NMFRAME_CACHE")
    os.environ["NMFRAME_CACHE"] = path
    try:
        yield
    finally:
        from nmframe.answers import shutdown_pool

        shutdown_pool()  # workers read the variable when they start: none outlives the block
        if old is None:
            os.environ.pop("NMFRAME_CACHE", None)
        else:
            os.environ["NMFRAME_CACHE"] = old


def _eval_workload(n_pairs: int, seed: int):
    """Items of the independent evaluation-shaped workload (bench/grading_workload.py)."""
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    import grading_workload

    return grading_workload.make_workload(n_pairs, seed)


def _warm_up_pairs(args) -> list:
    """Pairs of an evaluation-shaped workload with a seed no measured workload uses."""
    items = _eval_workload(args.eval_pairs, args.seed + WARM_UP_SEED)
    return [(g, p) for _, _, g, p in items]


def run_workload(name: str, items, args) -> dict:
    """Grade ``items`` both ways and print the figures; returns them."""
    from nmframe.answers import cache_stats

    n = len(items)
    pairs = [(g, p) for _, _, g, p in items]
    distinct = len(set(pairs))
    n_problems = len({it[0] for it in items})
    print(f"\n=== workload: {name} ===")
    print(f"{n} predictions over {n_problems} problems, {distinct} distinct (gold, pred) pairs, "
          f"cores: {os.cpu_count()}")
    # the share of pairs seen before in the workload: what deduplication and the cache can save,
    # so speedups are only comparable between workloads with similar repeat rates
    repeat = 1 - distinct / max(n, 1)
    print(f"repeat rate: {repeat:.1%} of pairs repeat an earlier pair")
    print("gold kinds:", dict(Counter(k for _, k, _, _ in {(it[0], it[1]): it for it in items}.values())))

    with tempfile.TemporaryDirectory(prefix="nmframe-bench-") as tmp:
        cold_dir, warm_dir = os.path.join(tmp, "cold"), os.path.join(tmp, "warm")
        with _cache_dir(warm_dir):  # not timed: what an earlier grading leaves behind
            warm_up = _warm_up_pairs(args)
            timed_grade_many(warm_up, args.workers, args.timeout)
        with _cache_dir(cold_dir):
            cold, t_cold, cpu_cold = timed_grade_many(pairs, args.workers, args.timeout)
        with _cache_dir(warm_dir):
            ours, t_ours, cpu_ours = timed_grade_many(pairs, args.workers, args.timeout)
    st = cache_stats()
    print(f"grade_many, parser cache cold (the first grading on a machine): {t_cold:.2f} s wall, "
          f"{cpu_cold:.2f} s CPU (workers included), {n / t_cold:,.0f} items/s")
    print(f"grade_many, parser cache warm (saved by grading {len(warm_up)} other pairs, eval shape, "
          f"seed {args.seed + WARM_UP_SEED}): {t_ours:.2f} s wall, {cpu_ours:.2f} s CPU, "
          f"{n / t_ours:,.0f} items/s (worker start-up included in both)")
    print(f"  decided by fast path: {st['fast_path']} distinct pairs, by math-verify: {st['math_verify']}, "
          f"timeouts: {st['timeouts']}")
    print("  outcomes:", dict(Counter(v.outcome for v in ours)))
    if [v.outcome for v in cold] != [v.outcome for v in ours]:
        print("  WARNING: cold and warm verdicts differ")

    base, t_base, cpu_base = plain_loop(items, args.baseline_budget, args.seed)
    m = len(base)
    scale = n / m
    how = (f"extrapolated from {m} items ({m / n:.1%}, whole problems in random order) timed in {t_base:.1f} s"
           if m < n else "full loop")
    print(f"plain math-verify loop: {m / t_base:,.0f} items/s, {t_base * scale:.1f} s wall, "
          f"{cpu_base * scale:.1f} s CPU for all {n} items ({how})")
    speed_wall, speed_cpu = t_base * scale / t_ours, cpu_base * scale / cpu_ours
    cold_wall, cold_cpu = t_base * scale / t_cold, cpu_base * scale / cpu_cold
    print(f"speedup: {speed_wall:.1f}x wall, {speed_cpu:.1f}x CPU (parser cache warm); "
          f"{cold_wall:.1f}x wall, {cold_cpu:.1f}x CPU (cold)")

    both = [i for i in base if ours[i].outcome != "ungraded"]
    dis = [i for i in both if (ours[i].outcome == "correct") != base[i]]
    deliberate = [i for i in dis if _deliberate(items[i], ours[i])]
    agree = len(both) - len(dis)
    print(f"agreement on items both graded: {agree}/{len(both)} = {agree / max(len(both), 1):.4%}"
          f" ({m - len(both)} items ungraded by grade_many excluded)")
    print(f"agreement outside the documented departures: {agree + len(deliberate)}/{len(both)}"
          f" = {(agree + len(deliberate)) / max(len(both), 1):.4%} ({len(deliberate)} departures: equation"
          " guards, intervals against inequalities, raw strings math-verify misreads while it agrees"
          " on the normal forms, e.g. a trailing period)")
    if dis:
        cats = Counter((items[i][1], ours[i].reason, ours[i].outcome) for i in dis)
        print("disagreements by (gold kind, our reason, our outcome):")
        shown: Counter = Counter()
        for (kind, reason, outcome), c in cats.most_common():
            print(f"  {c:6d}  {kind:20s} {reason:55s} ours={outcome}")
            for i in dis:
                if (items[i][1], ours[i].reason, ours[i].outcome) == (kind, reason, outcome) \
                        and shown[(kind, reason)] < args.examples:
                    shown[(kind, reason)] += 1
                    print(f"            gold={items[i][2]!r} pred={items[i][3]!r} math-verify={base[i]}")
    return {"speedup_wall": speed_wall, "speedup_cpu": speed_cpu, "repeat": repeat,
            "cold_wall": cold_wall, "cold_cpu": cold_cpu,
            "agreement": (agree + len(deliberate)) / max(len(both), 1)}


def _deliberate(item, verdict) -> bool:
    """A documented departure from math-verify (see nmframe/answers/grading.py): an
    equation guard, an interval against the inequality that states it, or a pair whose
    raw strings math-verify misreads (a trailing period, ``\\(..\\)`` around an interval)
    while it agrees with us on the normal forms."""
    from math_verify import parse, verify

    from nmframe.answers import intervals
    from nmframe.answers.grading import normal_pair

    if "guard" in verdict.reason or verdict.reason == "fast-path":
        return True
    gold, pred = normal_pair(item[2], item[3] or "")
    if verdict.reason == "fast-path structure" and intervals._interval(gold) is not None \
            and intervals._inequality(pred) is not None:
        return True
    return bool(verify(parse(_wrap(gold)), parse(_wrap(pred)))) == (verdict.outcome == "correct")


# ----------------------------------------------------------------------------- main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", choices=("both", "own", "eval"), default="both",
                    help="own: the synthetic one below; eval: bench/grading_workload.py")
    ap.add_argument("--problems", type=int, default=20_000)
    ap.add_argument("--per-problem", type=int, default=16)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the number of problems")
    ap.add_argument("--eval-pairs", type=int, default=5000, help="pairs in the evaluation-shaped workload")
    ap.add_argument("--workers", type=int, default=None, help="grade_many workers (default: all cores)")
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--baseline-budget", type=float, default=120.0,
                    help="seconds for the plain loop before extrapolating")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--examples", type=int, default=3, help="disagreement examples per category")
    args = ap.parse_args(argv)

    figures = {}
    if args.workload in ("both", "own"):
        n_problems = max(1, round(args.problems * args.scale))
        figures["own"] = run_workload(f"own ({n_problems} problems x {args.per_problem})",
                                      make_workload(n_problems, args.per_problem, args.seed), args)
    if args.workload in ("both", "eval"):
        figures["eval"] = run_workload(
            f"evaluation-shaped ({args.eval_pairs} pairs, bench/grading_workload.py)",
            _eval_workload(args.eval_pairs, args.seed + 1), args)
    print("\n=== summary ===")
    for name, f in figures.items():
        print(f"{name:5s} speedup {f['speedup_wall']:.1f}x wall, {f['speedup_cpu']:.1f}x CPU "
              f"(cold parser cache: {f['cold_wall']:.1f}x wall, {f['cold_cpu']:.1f}x CPU), "
              f"agreement outside departures {f['agreement']:.4%}, repeat rate {f['repeat']:.1%}")
    print("(the goal is >= 20x on evaluation-shaped workloads at full agreement outside the departures;"
          " reasons containing 'guard' are deliberate: an equation answer is not its right side,"
          " see nmframe/answers/mv_judge.py)")
    from nmframe.answers import shutdown_pool

    shutdown_pool()
    return 0


if __name__ == "__main__":
    sys.exit(main())
