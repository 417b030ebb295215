"""Per-sample evaluation records: checking them, grading them, grouping them by problem.

Every benchmark number (pass@1, pass@k, maj@k) is computed from one flat list of records,
one per sampled response::

    {"problem_id": "aime25-0", "subset": "aime25", "sample_index": 3,
     "predicted_answer": "70" | None, "outcome": "correct" | "wrong" | "ungraded",
     "tokens": 1234 (optional), "expected_answer": "70" (optional)}

A table (a pyarrow Table or a pandas DataFrame with these columns) is accepted as well.
Records are checked up front: a duplicate ``(problem_id, sample_index)``, a missing
problem id or an unknown outcome is an error naming the record, never a silent skip.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from nmframe.answers import CORRECT, UNGRADED, WRONG, grade_many

OUTCOMES = (CORRECT, WRONG, UNGRADED)


class RecordError(ValueError):
    """A record that cannot be scored (reported with its position)."""


def as_records(data: Any) -> list[dict]:
    """A list of dicts from a list of dicts, a pyarrow Table or a pandas DataFrame."""
    if hasattr(data, "to_pylist"):  # pyarrow.Table
        return data.to_pylist()
    if hasattr(data, "to_dict") and hasattr(data, "columns"):  # pandas.DataFrame
        return data.to_dict("records")
    return [dict(r) for r in data]


def grade_records(records: Any, golds: Mapping[str, str] | None = None, *, timeout: float = 5.0,
                  workers: int | None = None) -> list[dict]:
    """Grade raw records (``predicted_answer`` only) against gold answers.

    The gold of a record is ``golds[problem_id]`` if given, else the record's own
    ``expected_answer``. Returns new records with ``expected_answer``, ``outcome`` and
    ``grade_reason`` set. A record whose problem has no gold is an error: scoring it as
    wrong would hide a missing reference.
    """
    rows = as_records(records)
    pairs = []
    for i, r in enumerate(rows):
        gold = (golds or {}).get(r.get("problem_id"), r.get("expected_answer"))
        if gold is None:
            raise RecordError(f"record {i} (problem {r.get('problem_id')!r}) has no gold answer")
        pairs.append((str(gold), r.get("predicted_answer")))
    verdicts = grade_many(pairs, workers=workers, timeout=timeout)
    out = []
    for r, (gold, _), v in zip(rows, pairs, verdicts):
        out.append({**r, "expected_answer": gold, "outcome": v.outcome, "grade_reason": v.reason})
    return out


@dataclass
class ProblemSamples:
    """One problem's samples in ``sample_index`` order."""

    problem_id: str
    subset: str | None
    answers: list[str | None] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    tokens: list[float] = field(default_factory=list)
    gold: str | None = None

    @property
    def n(self) -> int:
        return len(self.outcomes)

    @property
    def correct(self) -> int:
        return self.outcomes.count(CORRECT)

    @property
    def wrong(self) -> int:
        return self.outcomes.count(WRONG)

    @property
    def ungraded(self) -> int:
        return self.outcomes.count(UNGRADED)

    @property
    def graded(self) -> int:
        return self.n - self.ungraded

    @property
    def no_answer(self) -> int:
        return sum(1 for a in self.answers if a is None or not str(a).strip())


def group_by_problem(records: Iterable[dict] | Any) -> list[ProblemSamples]:
    """Check the records and group them per problem (problems in order of first appearance)."""
    rows = as_records(records)
    by_pid: dict[str, list[tuple[int, dict]]] = {}
    seen: set[tuple[str, int]] = set()
    for i, r in enumerate(rows):
        pid = r.get("problem_id")
        if pid is None or pid == "":
            raise RecordError(f"record {i} has no problem_id")
        outcome = r.get("outcome")
        if outcome not in OUTCOMES:
            raise RecordError(f"record {i} (problem {pid!r}) has outcome {outcome!r}; expected one of "
                              f"{OUTCOMES} (grade raw records with grade_records first)")
        idx = r.get("sample_index")
        if idx is None:
            raise RecordError(f"record {i} (problem {pid!r}) has no sample_index")
        if (pid, int(idx)) in seen:
            raise RecordError(f"record {i}: duplicate sample_index {idx} for problem {pid!r}")
        seen.add((pid, int(idx)))
        by_pid.setdefault(str(pid), []).append((int(idx), r))
    out = []
    for pid, items in by_pid.items():
        items.sort(key=lambda t: t[0])
        subsets = {r.get("subset") for _, r in items}
        if len(subsets) > 1:
            raise RecordError(f"problem {pid!r} has records in several subsets: {sorted(map(str, subsets))}")
        ps = ProblemSamples(pid, items[0][1].get("subset"))
        for _, r in items:
            ps.answers.append(r.get("predicted_answer"))
            ps.outcomes.append(r["outcome"])
            tok = r.get("tokens")
            if tok is not None:
                ps.tokens.append(float(tok))
            if ps.gold is None and r.get("expected_answer") is not None:
                ps.gold = str(r["expected_answer"])
        out.append(ps)
    return out
