"""Answer validation: which answer becomes a problem's ``expected_answer``.

Forum answers are often wrong or missing. The recipe checks each problem's extracted answer
against 16 high-mode solutions (8 with Python TIR, 8 without; here: every sample given):

* extracted answer present and at least one solution agrees -> kept ("kept");
* present, no solution agrees -> replaced by the majority answer of the solutions
  ("replaced": ``changed_answer_to_majority=True``, ``original_expected_answer`` = the
  extracted answer);
* missing -> filled with the majority answer ("filled": ``original_expected_answer=None``,
  ``changed_answer_to_majority=False``: nothing was changed, there was no answer);
* missing and no solution has an answer -> stays without answer ("no_answer"; dropped
  downstream);
* present but no solution has an answer -> kept unconfirmed ("unconfirmed"; its traces
  cannot reach it, so the correctness filter drops them);
* present, none agrees, and some comparisons could not be graded (grader timeout/error, not
  resolved by the judge) -> kept ("undecided"): an ungraded comparison is never a
  disagreement;
* no solutions at all for the problem -> left as it is ("no_samples").

Agreement: ``nmframe.answers.grade(expected, solution)`` is "correct" (gold first). With an
LLM judge (a ``backend(prompt) -> reply`` callable, see :mod:`.llm`), the distinct answers
math-verify did not accept (most frequent first, at most ``judge_max_answers``) are shown
to the judge; "Judgement: yes" counts as agreement, "no" as disagreement, and a reply
without a judgement falls back to the math-verify verdict.

The majority answer is :func:`nmframe.answers.majority_vote` over all the solutions'
answers (equivalent answers vote together; ties go to the class that appears first in the
sample order, which callers make deterministic by sorting samples).
"""
from __future__ import annotations

import collections
from dataclasses import asdict, dataclass, field
from typing import Mapping, Sequence

from nmframe.answers import CORRECT, UNGRADED, grade_many, majority_vote, normalize

from . import prompts
from .llm import Backend, ask

KEPT, REPLACED, FILLED, NO_ANSWER, UNCONFIRMED, UNDECIDED, NO_SAMPLES = (
    "kept", "replaced", "filled", "no_answer", "unconfirmed", "undecided", "no_samples")
STATUSES = (KEPT, REPLACED, FILLED, NO_ANSWER, UNCONFIRMED, UNDECIDED, NO_SAMPLES)


@dataclass
class ValidationResult:
    problem_id: str
    status: str
    expected_answer: str | None
    original_expected_answer: str | None
    changed_answer_to_majority: bool
    solutions: int = 0                 # samples seen
    answered: int = 0                  # samples with an extracted answer
    agreeing: int = 0                  # samples math-verify (or the judge) says agree
    ungraded: int = 0                  # agreement comparisons that could not be graded
    majority_answer: str | None = None
    majority_count: int = 0
    judge: dict = field(default_factory=dict)  # judge status -> count for this problem

    def fields(self) -> dict:
        """The released dataset's three answer fields."""
        return {"expected_answer": self.expected_answer,
                "original_expected_answer": self.original_expected_answer,
                "changed_answer_to_majority": self.changed_answer_to_majority}

    def to_dict(self) -> dict:
        return asdict(self)


def _clean(a: str | None) -> str | None:
    if a is None:
        return None
    a = str(a).strip()
    return a if a and normalize(a) else None


def _prewarm_equivalence(groups: Sequence[Sequence[str]], timeout: float, workers: int | None) -> None:
    """Grade every ordered pair of distinct answers of each group in one parallel batch, so the
    majority votes that follow are answered from the verdict cache."""
    pairs = []
    for answers in groups:
        distinct = list(dict.fromkeys(answers))
        pairs.extend((a, b) for a in distinct for b in distinct if a != b)
    if pairs:
        grade_many(pairs, workers=workers, timeout=timeout)


def validate_answers(problems: Sequence[Mapping], answers: Mapping[str, Sequence[str | None]], *,
                     timeout: float = 5.0, workers: int | None = None, judge: Backend | None = None,
                     judge_max_answers: int = 4) -> list[ValidationResult]:
    """Validate each problem's ``expected_answer`` against its solutions' answers.

    ``problems``: rows with ``id``, ``problem``, ``expected_answer``; ``answers``: problem id ->
    the extracted answers of its solutions (None for a solution without an answer), in a
    deterministic order. Returns one :class:`ValidationResult` per problem, in order.
    """
    sols = {str(p["id"]): [_clean(a) for a in answers.get(str(p["id"]), [])] for p in problems}

    # 1. agreement by math-verify, every (expected, distinct answer) pair in one batch
    pairs = []
    for p in problems:
        exp = _clean(p.get("expected_answer"))
        if exp is not None:
            pairs.extend((exp, a) for a in dict.fromkeys(a for a in sols[str(p["id"])] if a is not None))
    verdicts = dict(zip(pairs, grade_many(pairs, workers=workers, timeout=timeout))) if pairs else {}

    results: list[ValidationResult] = []
    need_majority: list[int] = []
    for p in problems:
        pid = str(p["id"])
        exp = _clean(p.get("expected_answer"))
        given = [a for a in sols[pid] if a is not None]
        r = ValidationResult(pid, KEPT, exp, exp, False, solutions=len(sols[pid]), answered=len(given))
        results.append(r)
        if not sols[pid]:
            r.status = NO_SAMPLES  # nothing to validate against: the input's fields stay as they are
            r.original_expected_answer = _clean(p.get("original_expected_answer"))
            r.changed_answer_to_majority = bool(p.get("changed_answer_to_majority"))
            continue
        if exp is None:
            r.original_expected_answer = None
            need_majority.append(len(results) - 1)
            continue
        if not given:
            r.status = UNCONFIRMED
            continue
        counts = collections.Counter(given)
        outcome = {a: verdicts[(exp, a)].outcome for a in counts}
        r.agreeing = sum(n for a, n in counts.items() if outcome[a] == CORRECT)
        r.ungraded = sum(n for a, n in counts.items() if outcome[a] == UNGRADED)
        if r.agreeing:
            continue
        if judge is not None:
            undecided = {a for a in counts if outcome[a] == UNGRADED}
            asked = 0
            for a, n in counts.most_common():
                if asked >= judge_max_answers:
                    break
                asked += 1
                verdict, status = ask(judge, prompts.render("judge_equivalence", problem=p.get("problem", ""),
                                                    expected_answer=exp, predicted_answer=a))
                r.judge[status] = r.judge.get(status, 0) + 1
                if verdict is True:
                    r.agreeing += n
                    undecided.discard(a)
                elif verdict is False:
                    undecided.discard(a)
            if r.agreeing:
                continue
            if undecided:
                r.status = UNDECIDED
                continue
        elif r.ungraded:
            r.status = UNDECIDED
            continue
        need_majority.append(len(results) - 1)

    # 2. majority answers where needed (pairwise equivalences graded in one parallel batch first)
    _prewarm_equivalence([[a for a in sols[results[i].problem_id] if a is not None] for i in need_majority],
                         timeout, workers)
    for i in need_majority:
        r = results[i]
        mv = majority_vote(sols[r.problem_id], timeout=timeout)
        r.majority_answer, r.majority_count = mv.answer, mv.count
        if r.expected_answer is None:
            if mv.answer is None:
                r.status = NO_ANSWER
            else:
                r.status, r.expected_answer = FILLED, mv.answer
        else:
            r.status = REPLACED
            r.expected_answer = mv.answer
            r.changed_answer_to_majority = True
    return results
