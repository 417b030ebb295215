"""The estimators behind the benchmark numbers, on one problem's samples.

* pass@k, unbiased (Chen et al. 2021): with ``n`` samples of which ``c`` are correct,
  ``pass@k = 1 - C(n-c, k) / C(n, k)``, the probability that at least one of ``k``
  samples drawn without replacement is correct. ``pass@1 = c / n``.
* maj@k: the majority answer of the first ``k`` samples (in ``sample_index`` order),
  equivalent answers voting together (:func:`nmframe.answers.majority_vote`, whose tie
  rule is: most votes, then the class that appears first). Using the first ``k`` samples
  rather than an average over all k-subsets keeps the number reproducible from the
  records alone and equal to the paper's maj@16 when ``k = n``.
* mean and standard error across problems: SE = sample standard deviation (ddof=1) of
  the per-problem values / sqrt(number of problems); None with fewer than two problems.
"""
from __future__ import annotations

import math
from typing import Sequence

from nmframe.answers import CORRECT, UNGRADED, WRONG, grade, majority_vote

from .records import ProblemSamples


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from ``n`` samples with ``c`` correct (requires ``0 < k <= n``)."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 0 < k <= n:
        raise ValueError(f"need 0 < k <= n, got n={n}, k={k}")
    if n - c < k:
        return 1.0
    # 1 - prod_{i=n-c+1}^{n} (1 - k/i): numerically stable form of the binomial ratio
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def mean_se(values: Sequence[float]) -> tuple[float | None, float | None]:
    """Mean and standard error of the mean (ddof=1); (None, None) for no values."""
    n = len(values)
    if n == 0:
        return None, None
    mean = sum(values) / n
    if n < 2:
        return mean, None
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


def majority_outcome(ps: ProblemSamples, k: int, gold: str | None = None,
                     timeout: float = 5.0) -> tuple[str | None, str]:
    """(majority answer, outcome) of the first ``k`` samples of one problem.

    With a gold answer (argument or the records' ``expected_answer``) the majority answer
    is graded against it. Without one, the outcome is that of the first sample in the
    winning class whose answer is spelled like the class representative (those samples
    were graded against the gold already). No answer at all among the k: "wrong".
    """
    answers = ps.answers[:k]
    result = majority_vote(answers, timeout=timeout)
    if result.answer is None:
        return None, WRONG
    gold = gold if gold is not None else ps.gold
    if gold is not None:
        return result.answer, grade(gold, result.answer, timeout=timeout).outcome
    winning = next(c for c in result.classes if c[0] == result.answer)
    for i in winning[2]:
        if str(answers[i]).strip() == result.answer:
            return result.answer, ps.outcomes[i]
    return result.answer, ps.outcomes[winning[2][0]]


__all__ = ["pass_at_k", "mean_se", "majority_outcome", "CORRECT", "WRONG", "UNGRADED"]
