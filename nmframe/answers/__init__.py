"""Final answers: extraction, grading and majority voting.

The recipe judges everything on final answers: which traces are kept (a trace must
reach ``expected_answer``), which answer becomes ``expected_answer`` (majority of 16),
the triviality filter (pass rate of 16 attempts) and the benchmark scores (pass@1,
maj@k). This package is the single place where an answer is read and compared.

Public API::

    extract_answer(text) -> str | None
    normalize(ans) -> str
    grade(gold, pred, timeout=5.0) -> Verdict          # .outcome, .reason
    grade_many(pairs, workers=None, timeout=5.0, progress=False) -> list[Verdict]
    majority_vote(answers, equivalent=None) -> MajorityResult
    clear_cache(); cache_stats()
"""
from .extract import extract_answer
from .grading import cache_stats, clear_cache, grade, grade_many
from .majority import MajorityResult, majority_vote
from .normalize import normalize
from .pool import shutdown_pool
from .verdict import CORRECT, UNGRADED, WRONG, Verdict

__all__ = [
    "CORRECT",
    "UNGRADED",
    "WRONG",
    "MajorityResult",
    "Verdict",
    "cache_stats",
    "clear_cache",
    "extract_answer",
    "grade",
    "grade_many",
    "majority_vote",
    "normalize",
    "shutdown_pool",
]
