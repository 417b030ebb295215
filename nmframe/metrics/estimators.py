"""The estimators behind the benchmark numbers, on one problem's samples.

* pass@k, unbiased (Chen et al. 2021): with ``n`` samples of which ``c`` are correct,
  ``pass@k = 1 - C(n-c, k) / C(n, k)``, the probability that at least one of ``k``
  samples drawn without replacement is correct. ``pass@1 = c / n``.
* maj@k: the majority answer of the first ``k`` samples (in ``sample_index`` order).
  Using the first ``k`` samples rather than an average over all k-subsets keeps the
  number reproducible from the records alone and equal to the paper's maj@16 when
  ``k = n``. Two conventions are chosen by :class:`Vote` and :class:`Ties`:

  - ``vote=equivalence``: equivalent answers vote together
    (:func:`nmframe.answers.majority_vote`: "1/2", "0.5" and "\\frac{1}{2}" are one class);
    ``vote=exact``: answers vote as the strings they are, each (answer, outcome) pair a
    class of its own, as the authors' evaluator (NeMo-Skills) counts them.
  - ``ties=first``: among classes with the most votes, the one seen first wins;
    ``ties=average``: the problem scores the mean correctness of all tied classes (the
    authors' evaluator), so a 2-2 tie between a right and a wrong answer scores 0.5.

  A tied class whose outcome could not be graded makes the problem's majority
  ungraded, never wrong. No answer among the ``k`` samples scores 0.
* mean and standard error across problems: SE = sample standard deviation (ddof=1) of
  the per-problem values / sqrt(number of problems); None with fewer than two problems.
"""
from __future__ import annotations

import enum
import math
from collections import Counter
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


class Vote(str, enum.Enum):
    """How sampled answers vote for maj@k (see the module docstring)."""

    exact = "exact"
    equivalence = "equivalence"


class Ties(str, enum.Enum):
    """What a tie between the most-voted classes scores for maj@k."""

    average = "average"
    first = "first"


def _class_score(outcomes: Sequence[str]) -> float | None:
    """Mean correctness of the tied classes' outcomes; None if any could not be graded."""
    if any(o == UNGRADED for o in outcomes):
        return None
    return sum(1.0 for o in outcomes if o == CORRECT) / len(outcomes)


def majority_score(ps: ProblemSamples, k: int, gold: str | None = None, timeout: float = 5.0,
                   vote: Vote | str = Vote.equivalence,
                   ties: Ties | str = Ties.first) -> tuple[str | None, float | None]:
    """(majority answer, score in [0, 1] or None if ungraded) of the first ``k`` samples.

    The answer is the winner under ``ties=first`` (with ``ties=average`` the first of the
    tied classes, for display); the score follows ``vote`` and ``ties`` as the module
    docstring says.
    """
    vote, ties = Vote(vote), Ties(ties)
    if vote is Vote.equivalence and ties is Ties.first:
        answer, outcome = majority_outcome(ps, k, gold, timeout)
        return answer, _class_score([outcome])
    answers, outcomes = ps.answers[:k], ps.outcomes[:k]
    if vote is Vote.exact:
        # classes are (answer string, outcome) pairs, in order of first appearance
        counts = Counter((a, o) for a, o in zip(answers, outcomes) if a is not None)
        if not counts:
            return None, 0.0
        top = max(counts.values())
        tied = [key for key, c in counts.items() if c == top]
        if ties is Ties.first:
            tied = tied[:1]
        return tied[0][0], _class_score([o for _, o in tied])
    # equivalence classes with averaged ties: grade each tied class's representative
    result = majority_vote(answers, timeout=timeout)
    if result.answer is None:
        return None, 0.0
    tied = [c for c in result.classes if c[1] == result.count]
    return result.answer, _class_score([_class_outcome(ps, answers, c, gold, timeout) for c in tied])


def _class_outcome(ps: ProblemSamples, answers: Sequence[str | None], cls: tuple[str, int, list[int]],
                   gold: str | None, timeout: float) -> str:
    """The outcome of one voting class: its representative graded against the gold, or,
    without a gold, the recorded outcome of a member spelled like the representative."""
    rep, _, members = cls
    gold = gold if gold is not None else ps.gold
    if gold is not None:
        return grade(gold, rep, timeout=timeout).outcome
    for i in members:
        if str(answers[i]).strip() == rep:
            return ps.outcomes[i]
    return ps.outcomes[members[0]]


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
    winning = next(c for c in result.classes if c[0] == result.answer)
    return result.answer, _class_outcome(ps, answers, winning, gold, timeout)


__all__ = ["pass_at_k", "mean_se", "majority_outcome", "majority_score", "Vote", "Ties",
           "CORRECT", "WRONG", "UNGRADED"]
