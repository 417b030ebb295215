"""The triviality filter: drop problems the teacher solves too easily in low mode.

A problem whose low-effort attempts (8 with Python TIR + 8 without) pass more than 80% of
the time teaches little; the recipe removes it. The pass rate pools both tool settings:

    pass rate = (pass_with_tool + pass_no_tool) / (count_with_tool + count_no_tool)

and the problem is removed when ``pass rate > threshold`` (``strict=True``, the default) or
``>= threshold`` (``strict=False``; the paper states both once).

The counts come either from graded low-mode samples (:func:`decide_from_samples`) or,
without regenerating anything, from the released dataset's metadata
(:func:`decide_from_metadata`): ``metadata["reason_low_with_tool"] = {count, pass,
accuracy}`` and ``metadata["reason_low_no_tool"]``. Ungraded attempts (grader timeout or
error) leave the denominator: they are neither passes nor failures.

Reasons (the report's categories): "trivial" (removed), "kept", "no expected_answer"
(removed: nothing to pass against), "no attempts" (kept, counted: no low-mode attempts or
metadata), "bad metadata" (kept, counted: malformed counts).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from nmframe.answers import CORRECT, UNGRADED, grade_many

TRIVIAL, KEPT, NO_EXPECTED, NO_ATTEMPTS, BAD_METADATA = (
    "trivial", "kept", "no expected_answer", "no attempts", "bad metadata")
TOOL_KEYS = ("with_tool", "no_tool")


_KEYS: dict[str, tuple[str, ...]] = {}


class MetadataError(ValueError):
    pass


@dataclass(frozen=True)
class TrivialDecision:
    remove: bool
    reason: str
    passes: int = 0
    count: int = 0
    ungraded: int = 0

    @property
    def pass_rate(self) -> float | None:
        return self.passes / self.count if self.count else None


def is_trivial(passes: int, count: int, threshold: float = 0.8, strict: bool = True) -> bool:
    """pass rate > threshold (strict) or >= threshold."""
    if count <= 0:
        return False
    rate = passes / count
    return rate > threshold if strict else rate >= threshold


def decide(passes: int, count: int, threshold: float = 0.8, strict: bool = True,
           ungraded: int = 0) -> TrivialDecision:
    if count <= 0:
        return TrivialDecision(False, NO_ATTEMPTS, passes, count, ungraded)
    trivial = is_trivial(passes, count, threshold, strict)
    return TrivialDecision(trivial, TRIVIAL if trivial else KEPT, passes, count, ungraded)


def _int(value: Any, what: str) -> int:
    if type(value) is int and value >= 0:  # the common case, checked cheaply
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 0:
        raise MetadataError(f"{what} must be a non-negative integer, got {value!r}")
    return int(value)


def counts_from_metadata(metadata: Mapping | None, mode: str = "low") -> tuple[int, int]:
    """(passes, count) pooled over ``reason_<mode>_with_tool`` and ``reason_<mode>_no_tool``.

    A missing key contributes nothing; a present but malformed entry raises MetadataError.
    """
    passes = count = 0
    keys = _KEYS.get(mode) or _KEYS.setdefault(mode, tuple(f"reason_{mode}_{tool}" for tool in TOOL_KEYS))
    metadata = metadata or {}
    for key in keys:
        entry = metadata.get(key)
        if entry is None:
            continue
        if not isinstance(entry, dict) and not isinstance(entry, Mapping):  # dict first: the fast check
            raise MetadataError(f"{key} must be a mapping {{count, pass, accuracy}}, got {type(entry).__name__}")
        c = _int(entry.get("count"), f"{key}.count")
        p = _int(entry.get("pass"), f"{key}.pass")
        if p > c:
            raise MetadataError(f"{key}.pass ({p}) exceeds {key}.count ({c})")
        passes, count = passes + p, count + c
    return passes, count


def decide_from_metadata(row: Mapping, threshold: float = 0.8, strict: bool = True,
                         mode: str = "low") -> TrivialDecision:
    """The decision for one problem (or released row) from its ``metadata``."""
    if row.get("expected_answer") is None:
        return TrivialDecision(True, NO_EXPECTED)
    try:
        passes, count = counts_from_metadata(row.get("metadata"), mode)
    except MetadataError:
        return TrivialDecision(False, BAD_METADATA)
    return decide(passes, count, threshold, strict)


def decide_from_samples(problems: Sequence[Mapping], answers: Mapping[str, Sequence[str | None]], *,
                        threshold: float = 0.8, strict: bool = True, timeout: float = 5.0,
                        workers: int | None = None) -> list[TrivialDecision]:
    """Decisions from low-mode answers: ``answers[problem id]`` are the extracted answers of
    its low-mode attempts (None: no answer, a failed attempt). Grading is one parallel batch."""
    pairs, spans = [], []
    for p in problems:
        exp = p.get("expected_answer")
        got = answers.get(str(p["id"]), [])
        start = len(pairs)
        if exp is not None:
            pairs.extend((str(exp), a) for a in got)
        spans.append((start, len(pairs)))
    verdicts = grade_many(pairs, workers=workers, timeout=timeout) if pairs else []
    out = []
    for p, (a, b) in zip(problems, spans):
        if p.get("expected_answer") is None:
            out.append(TrivialDecision(True, NO_EXPECTED))
            continue
        outcomes = [v.outcome for v in verdicts[a:b]]
        ungraded = outcomes.count(UNGRADED)
        out.append(decide(outcomes.count(CORRECT), len(outcomes) - ungraded, threshold, strict, ungraded))
    return out
