"""Benchmark metrics for n samples per problem, per subset and overall.

Conventions (all values are fractions in [0, 1]):

* Every rate is a mean over problems of the per-problem fraction, so each problem weighs
  the same whatever its number of samples; with the same n for every problem this equals
  the mean over all samples. "overall" pools the problems of all subsets (it is not the
  mean of the subset means).
* Ungraded samples (grader timeout or error) are never counted as wrong:
  - ``pass@1`` is over graded samples: per problem ``correct / (correct + wrong)``;
    problems with no graded sample are left out (``problems_without_graded``).
  - ``pass@1_all`` counts ungraded as a separate category: per problem ``correct / n``,
    with ``wrong_rate`` (``wrong / n``) and ``ungraded_rate`` (``ungraded / n``); the three
    add up to 1. ``pass@1_all`` is therefore a lower bound of the true pass@1.
* ``pass@1_se``: standard error across problems of the per-problem mean accuracy (sample
  standard deviation with ddof=1 over problems / sqrt(problems)).
* ``pass@1_ci``: seeded percentile bootstrap over problems (:mod:`.bootstrap`).
* ``pass@k`` (k > 1): unbiased estimator on graded samples (n = graded, c = correct);
  problems with fewer than k graded samples are left out and counted.
* ``maj@k``: majority answer of the first k samples graded against the gold, under the
  voting convention asked for (``vote``: equivalence classes or exact strings; ``ties``:
  first class or the average of the tied classes, see :mod:`.estimators`): ``maj@k`` is
  the mean score over problems whose majority could be graded, ``maj@k_all`` = the sum of
  scores / problems with at least k samples, ``maj@k_ungraded`` = how many majorities
  could not be graded. ``maj_vote`` / ``maj_ties`` record the convention.
* ``no_answer_rate``: samples without an extracted answer (these are graded "wrong").
* ``mean_tokens``: mean over samples that carry a ``tokens`` value (None if none do).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from .bootstrap import bootstrap_ci
from .estimators import Ties, Vote, majority_score, mean_se, pass_at_k
from .records import ProblemSamples, group_by_problem

SUBSETS = ("aime24", "aime25", "hmmt-24-25")


def per_problem_accuracy(problems: Sequence[ProblemSamples]) -> dict[str, float]:
    """problem_id -> correct / graded, for problems with at least one graded sample."""
    return {p.problem_id: p.correct / p.graded for p in problems if p.graded}


def summarize(problems: Sequence[ProblemSamples], *, ks: Sequence[int] = (1,),
              golds: Mapping[str, str] | None = None, alpha: float = 0.05, n_boot: int = 2000,
              seed: int = 0, timeout: float = 5.0, vote: Vote | str = Vote.equivalence,
              ties: Ties | str = Ties.first) -> dict[str, Any]:
    """The metrics of one group of problems (see the module docstring)."""
    vote, ties = Vote(vote), Ties(ties)
    out: dict[str, Any] = {"problems": len(problems), "samples": sum(p.n for p in problems),
                           "maj_vote": vote.value, "maj_ties": ties.value}
    acc = [p.correct / p.graded for p in problems if p.graded]
    out["problems_without_graded"] = sum(1 for p in problems if not p.graded)
    out["pass@1"], out["pass@1_se"] = mean_se(acc)
    out["pass@1_ci"] = bootstrap_ci(acc, alpha=alpha, n_boot=n_boot, seed=seed) if acc else None
    with_samples = [p for p in problems if p.n]
    out["pass@1_all"], out["pass@1_all_se"] = mean_se([p.correct / p.n for p in with_samples])
    out["wrong_rate"] = mean_se([p.wrong / p.n for p in with_samples])[0]
    out["ungraded_rate"] = mean_se([p.ungraded / p.n for p in with_samples])[0]
    out["no_answer_rate"] = mean_se([p.no_answer / p.n for p in with_samples])[0]
    out["ungraded_samples"] = sum(p.ungraded for p in problems)
    tokens = [t for p in problems for t in p.tokens]
    out["mean_tokens"] = sum(tokens) / len(tokens) if tokens else None
    for k in ks:
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if k > 1:
            eligible = [p for p in problems if p.graded >= k]
            out[f"pass@{k}"] = mean_se([pass_at_k(p.graded, p.correct, k) for p in eligible])[0]
            out[f"pass@{k}_problems_skipped"] = len(problems) - len(eligible)
        maj = [p for p in problems if p.n >= k]
        scores = [majority_score(p, k, (golds or {}).get(p.problem_id), timeout, vote, ties)[1] for p in maj]
        graded = [s for s in scores if s is not None]
        out[f"maj@{k}"] = sum(graded) / len(graded) if graded else None
        out[f"maj@{k}_all"] = sum(graded) / len(maj) if maj else None
        out[f"maj@{k}_ungraded"] = len(scores) - len(graded)
        out[f"maj@{k}_problems_skipped"] = len(problems) - len(maj)
    return out


def compute_metrics(records: Any, *, ks: Sequence[int] = (1,), golds: Mapping[str, str] | None = None,
                    alpha: float = 0.05, n_boot: int = 2000, seed: int = 0,
                    timeout: float = 5.0, vote: Vote | str = Vote.equivalence,
                    ties: Ties | str = Ties.first) -> dict[str, Any]:
    """Metrics of graded per-sample records, overall and per subset.

    Returns ``{"overall": {...}, "by_subset": {subset: {...}}}``; subsets are those found in
    the records (records without a subset only count towards "overall"), the three
    Comp-Math-24-25 subsets first in their usual order.
    """
    problems = group_by_problem(records)
    kw = dict(ks=ks, golds=golds, alpha=alpha, n_boot=n_boot, seed=seed, timeout=timeout,
              vote=vote, ties=ties)
    names = sorted({p.subset for p in problems if p.subset is not None},
                   key=lambda s: (SUBSETS.index(s) if s in SUBSETS else len(SUBSETS), s))
    return {
        "overall": summarize(problems, **kw),
        "by_subset": {s: summarize([p for p in problems if p.subset == s], **kw) for s in names},
    }
