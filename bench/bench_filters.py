"""Benchmark: the triviality + correctness filters over released-format rows.

Rows are shaped like the released dataset (nvidia/Nemotron-Math-v2): problem,
expected_answer, data_source, messages (user + assistant turn ending in ``\\boxed{...}``),
metadata with ``reason_{high,medium,low}_{with,no}_tool = {count, pass, accuracy}``. They are
synthetic and generated in chunks (never all in memory): about 20 traces per problem, most
answers plain integers or fractions (decided by the fast path), a share in LaTeX forms that
need math-verify (with many repeats, as in real data), a share wrong or without a box.

Per chunk, timed separately from row generation:
  triviality: ``decide_from_metadata`` on every row (the pooled low-mode pass rate);
  correctness: answer extraction from the last assistant message + ``decide_traces``
               (grade_many: fast path, verdict cache, math-verify workers).

    python bench/bench_filters.py                     # 1M rows
    python bench/bench_filters.py --rows 100000 --chunk 50000
"""
from __future__ import annotations

import argparse
import collections
import os
import random
import resource
import sys
import time

from nmframe.answers import cache_stats, shutdown_pool
from nmframe.curation.correctness import decide_traces
from nmframe.curation.trivial import decide_from_metadata

LATEX_PAIRS = [  # (gold, equivalent spelling that the fast path cannot decide)
    ("\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt 3}{2}"), ("2\\sqrt{2}", "\\sqrt{8}"), ("\\pi/4", "\\frac{\\pi}{4}"),
    ("x^2+1", "1+x^2"), ("\\frac{1+\\sqrt{5}}{2}", "\\frac{\\sqrt{5}+1}{2}"), ("(1, 2)", "(1,2)"),
    ("[0, 1)", "[0,1)"), ("\\ln 2", "\\log 2"), ("e^{2}", "e^2"), ("3\\sqrt{3}", "\\sqrt{27}"),
]


def make_rows(n: int, start: int, seed: int) -> list[dict]:
    rng = random.Random(seed * 1_000_003 + start)
    rows = []
    for i in range(start, start + n):
        pid = i // 20  # about 20 traces per problem
        prng = random.Random(pid)
        kind = prng.random()
        if kind < 0.85:
            gold = str(prng.randint(0, 5000))
            pred = gold if rng.random() < 0.9 else str(int(gold) + rng.randint(1, 9))
            if rng.random() < 0.1:
                pred = "0" + pred  # a leading zero: still equal
        elif kind < 0.93:
            a, b = prng.randint(1, 50), prng.randint(2, 60)
            gold = f"\\frac{{{a}}}{{{b}}}"
            pred = rng.choice([gold, f"{a}/{b}", f"\\dfrac{{{a}}}{{{b}}}", f"{a + 1}/{b}"])
        else:
            g, eq = LATEX_PAIRS[(pid + prng.randint(0, 1000)) % len(LATEX_PAIRS)]
            gold = g
            pred = rng.choice([g, eq, eq, "0"])
        if rng.random() < 0.02:
            final = "I could not finish."
        else:
            final = f"Therefore the answer is $\\boxed{{{pred}}}$."
        meta = {}
        for mode in ("high", "medium", "low"):
            for tool in ("with_tool", "no_tool"):
                c = 8
                p = prng.randint(0, 8)
                meta[f"reason_{mode}_{tool}"] = {"count": c, "pass": p, "accuracy": p / c}
        rows.append({
            "uuid": f"row-{i}", "problem": f"Synthetic problem {pid}: compute the quantity.",
            "expected_answer": gold, "data_source": "aops" if pid % 3 else "stackexchange",
            "messages": [{"role": "user", "content": f"Synthetic problem {pid}."},
                         {"role": "assistant", "content": "Reasoning about the problem... " * 4 + final}],
            "metadata": meta, "tools": [],
        })
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--chunk", type=int, default=50_000)
    ap.add_argument("--workers", type=int, default=None, help="grading processes (default: all cores)")
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    t_gen = t_triv = t_corr = 0.0
    triv = collections.Counter()
    corr = collections.Counter()
    done = 0
    wall0 = time.perf_counter()
    while done < args.rows:
        n = min(args.chunk, args.rows - done)
        t0 = time.perf_counter()
        rows = make_rows(n, done, args.seed)
        t1 = time.perf_counter()
        for r in rows:
            triv[decide_from_metadata(r, args.threshold, True).reason] += 1
        t2 = time.perf_counter()
        for d in decide_traces(rows, workers=args.workers):
            corr[d.reason] += 1
        t3 = time.perf_counter()
        t_gen, t_triv, t_corr = t_gen + t1 - t0, t_triv + t2 - t1, t_corr + t3 - t2
        done += n
        del rows
        print(f"\r{done:,}/{args.rows:,} rows", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    wall = time.perf_counter() - wall0
    shutdown_pool()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    filt = t_triv + t_corr
    print(f"rows: {done:,} (chunks of {args.chunk:,}), cores: {os.cpu_count()}, workers: {args.workers or 'all'}")
    print(f"triviality filter (metadata): {t_triv:8.2f} s  ({done / t_triv:,.0f} rows/s)")
    print(f"correctness filter (extract + grade): {t_corr:8.2f} s  ({done / t_corr:,.0f} rows/s)")
    print(f"both filters: {filt:8.2f} s  ({done / filt:,.0f} rows/s); row generation (not counted): {t_gen:.2f} s; "
          f"wall: {wall:.2f} s")
    print(f"peak RSS: {rss_mb:,.0f} MiB")
    print(f"triviality reasons: {dict(triv)}")
    print(f"correctness reasons: {dict(corr)}")
    print(f"grader: {cache_stats()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
