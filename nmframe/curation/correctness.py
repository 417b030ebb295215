"""The correctness filter: keep only traces whose final answer reaches ``expected_answer``.

The recipe trains only on traces that end at the validated answer. A trace's extracted answer
is graded against its problem's ``expected_answer`` (gold first); reasons:

* "correct" (kept);
* "wrong" and "no answer" (removed: a trace without a final answer misses the answer);
* "ungraded" (grader timeout or error: removed by default, kept with ``keep_ungraded``;
  always counted apart, never as wrong);
* "no expected_answer" (removed: the problem has no validated answer);
* "problem removed" (removed: the problem was dropped by an earlier filter).

Released rows (chat ``messages``) are checked without regenerating: the answer is extracted
from the last assistant message (:func:`trace_answer`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from nmframe.answers import CORRECT, UNGRADED, extract_answer, grade_many

CORRECT_R, WRONG_R, NO_ANSWER_R, UNGRADED_R, NO_EXPECTED_R, PROBLEM_REMOVED_R = (
    "correct", "wrong", "no answer", "ungraded", "no expected_answer", "problem removed")


@dataclass(frozen=True)
class TraceDecision:
    keep: bool
    reason: str
    grade_reason: str = ""


def trace_answer(row: Mapping) -> str | None:
    """The extracted final answer of a trace: its ``answer`` field if present (generated
    samples), else the last assistant message of its ``messages`` (released rows)."""
    if "answer" in row:
        return row["answer"]
    messages = row.get("messages")
    if isinstance(messages, str):
        import json

        try:
            messages = json.loads(messages)
        except ValueError:
            return None
    for msg in reversed(messages or []):
        if (isinstance(msg, dict) or isinstance(msg, Mapping)) and msg.get("role") == "assistant":
            content = msg.get("content")
            return extract_answer(content) if isinstance(content, str) else None
    return None


def decide_traces(traces: Sequence[Mapping], expected: Mapping[str, str | None] | None = None, *,
                  answers: Sequence[str | None] | None = None, keep_ungraded: bool = False,
                  timeout: float = 5.0, workers: int | None = None) -> list[TraceDecision]:
    """One decision per trace.

    ``expected``: problem id -> expected answer for the problems still in the set (a trace
    whose ``problem_id`` is absent: "problem removed"); None: each trace's own
    ``expected_answer`` (released rows). ``answers``: the traces' extracted answers if already
    known, else :func:`trace_answer` of each.
    """
    removed = object()  # sentinel: the trace's problem is no longer in the set
    golds: list[Any] = []
    for t in traces:
        if expected is None:
            golds.append(t.get("expected_answer"))
        else:
            pid = str(t.get("problem_id"))
            golds.append(expected[pid] if pid in expected else removed)
    preds = list(answers) if answers is not None else [trace_answer(t) for t in traces]
    idx = [i for i, g in enumerate(golds) if g is not None and g is not removed]
    verdicts = grade_many([(str(golds[i]), preds[i]) for i in idx], workers=workers, timeout=timeout) if idx else []
    out: list[TraceDecision] = [TraceDecision(False, NO_EXPECTED_R)] * len(traces)
    for i, g in enumerate(golds):
        if g is removed:
            out[i] = TraceDecision(False, PROBLEM_REMOVED_R)
    for i, v in zip(idx, verdicts):
        if v.outcome == CORRECT:
            out[i] = TraceDecision(True, CORRECT_R, v.reason)
        elif v.outcome == UNGRADED:
            out[i] = TraceDecision(keep_ungraded, UNGRADED_R, v.reason)
        else:
            out[i] = TraceDecision(False, NO_ANSWER_R if v.reason == "no answer" else WRONG_R, v.reason)
    return out

