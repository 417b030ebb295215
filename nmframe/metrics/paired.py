"""Is run B better than run A on the same problems? A paired comparison.

Two runs on one benchmark differ by a few points, and the problems are few (30 AIME
problems): an unpaired comparison of two means wastes the fact that both runs saw the same
problems. Here the unit is the problem: ``d_i = acc_B(i) - acc_A(i)``, the difference of
per-problem accuracies over graded samples (ungraded samples are left out, never counted as
wrong). Three answers are given:

* paired permutation test (sign flip): under H0 each ``d_i`` is as likely to be ``-d_i``;
  p = share of sign assignments whose |mean| is at least the observed |mean|. Exact
  (all 2^P assignments) for P <= ``EXACT_MAX`` problems, else ``n_resamples`` seeded random
  assignments with p = (1 + hits) / (1 + n_resamples).
* sign test: two-sided exact binomial test on the numbers of problems where B is better
  and where A is better (ties dropped).
* paired bootstrap: percentile CI of the mean difference, resampling problems (seeded).

``significant`` is decided by ``method`` ("permutation" by default: p < alpha;
"sign": p < alpha; "bootstrap": the (1 - alpha) CI excludes 0).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .bootstrap import bootstrap_ci
from .records import group_by_problem
from .summary import per_problem_accuracy

EXACT_MAX = 16
METHODS = ("permutation", "sign", "bootstrap")


@dataclass(frozen=True)
class PairedComparison:
    problems: int
    mean_a: float
    mean_b: float
    diff: float                       # mean_b - mean_a
    ci: tuple[float, float] | None    # paired bootstrap CI of diff
    p_permutation: float
    p_sign: float
    b_better: int                     # problems where B's accuracy is higher
    a_better: int
    ties: int
    alpha: float
    method: str
    significant: bool
    exact: bool                       # permutation p enumerated all sign flips

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def permutation_pvalue(d: np.ndarray, *, n_resamples: int = 10000, seed: int = 0) -> tuple[float, bool]:
    """Two-sided sign-flip permutation p-value of mean(d) = 0; (p, exact)."""
    n = d.size
    if n == 0:
        return 1.0, True
    observed = abs(d.mean())
    tol = 1e-12
    if n <= EXACT_MAX:
        codes = np.arange(2 ** n, dtype=np.int64)
        signs = 1 - 2 * ((codes[:, None] >> np.arange(n)) & 1)  # every +-1 assignment
        stats = np.abs((signs * d).mean(axis=1))
        return float(np.mean(stats >= observed - tol)), True
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, n_resamples, 1000):
        m = min(1000, n_resamples - start)
        signs = rng.choice((-1.0, 1.0), size=(m, n))
        hits += int(np.sum(np.abs((signs * d).mean(axis=1)) >= observed - tol))
    return (1 + hits) / (1 + n_resamples), False


def sign_test_pvalue(b_better: int, a_better: int) -> float:
    """Two-sided exact binomial sign test (p = 1/2)."""
    n = b_better + a_better
    if n == 0:
        return 1.0
    k = min(b_better, a_better)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def compare_runs(records_a: Any, records_b: Any, *, alpha: float = 0.05, method: str = "permutation",
                 n_resamples: int = 10000, seed: int = 0) -> PairedComparison:
    """Paired comparison of run B against run A (graded per-sample records of both).

    Both runs must cover the same problems (an error names the ones that differ); problems
    without a graded sample in either run are left out.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    pa = group_by_problem(records_a)
    pb = group_by_problem(records_b)
    ids_a, ids_b = {p.problem_id for p in pa}, {p.problem_id for p in pb}
    if ids_a != ids_b:
        only_a, only_b = sorted(ids_a - ids_b), sorted(ids_b - ids_a)
        raise ValueError(f"runs cover different problems: {len(only_a)} only in A (e.g. {only_a[:3]}), "
                         f"{len(only_b)} only in B (e.g. {only_b[:3]})")
    acc_a, acc_b = per_problem_accuracy(pa), per_problem_accuracy(pb)
    ids = [p.problem_id for p in pa if p.problem_id in acc_a and p.problem_id in acc_b]
    a = np.array([acc_a[i] for i in ids], dtype=float)
    b = np.array([acc_b[i] for i in ids], dtype=float)
    d = b - a
    b_better, a_better = int(np.sum(d > 0)), int(np.sum(d < 0))
    p_perm, exact = permutation_pvalue(d, n_resamples=n_resamples, seed=seed)
    p_sign = sign_test_pvalue(b_better, a_better)
    ci = bootstrap_ci(d, alpha=alpha, n_boot=n_resamples, seed=seed) if d.size else None
    if method == "permutation":
        significant = p_perm < alpha
    elif method == "sign":
        significant = p_sign < alpha
    else:
        significant = ci is not None and (ci[0] > 0 or ci[1] < 0)
    return PairedComparison(
        problems=len(ids), mean_a=float(a.mean()) if ids else float("nan"),
        mean_b=float(b.mean()) if ids else float("nan"), diff=float(d.mean()) if ids else 0.0,
        ci=ci, p_permutation=p_perm, p_sign=p_sign, b_better=b_better, a_better=a_better,
        ties=len(ids) - b_better - a_better, alpha=alpha, method=method, significant=significant,
        exact=exact)
