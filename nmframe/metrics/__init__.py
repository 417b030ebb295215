"""Benchmark metrics from per-sample records: pass@1 (with SE and bootstrap CI), pass@k,
maj@k (equivalence classes or exact strings, first or averaged ties), no-answer and ungraded rates, per subset and overall, and a
paired significance test between two runs on the same problems.

Public API::

    grade_records(records, golds=None, timeout=5.0) -> graded records
    compute_metrics(records, ks=(1,), golds=None, alpha=0.05, n_boot=2000, seed=0,
                    vote='equivalence', ties='first') -> dict
    compare_runs(records_a, records_b, alpha=0.05, method="permutation") -> PairedComparison
    pass_at_k(n, c, k); bootstrap_ci(values, alpha, n_boot, seed); mean_se(values)

Records: ``{problem_id, subset, sample_index, predicted_answer, outcome[, tokens,
expected_answer]}`` dicts, or a table with those columns (see :mod:`.records`; the
conventions of every number are in :mod:`.summary`).
"""
from .bootstrap import bootstrap_ci
from .estimators import Ties, Vote, majority_outcome, majority_score, mean_se, pass_at_k
from .paired import PairedComparison, compare_runs, permutation_pvalue, sign_test_pvalue
from .records import ProblemSamples, RecordError, as_records, grade_records, group_by_problem
from .summary import SUBSETS, compute_metrics, per_problem_accuracy, summarize

__all__ = [
    "PairedComparison", "ProblemSamples", "RecordError", "SUBSETS", "Ties", "Vote", "as_records",
    "bootstrap_ci", "compare_runs", "compute_metrics", "grade_records", "group_by_problem",
    "majority_outcome", "majority_score",
    "mean_se", "pass_at_k", "per_problem_accuracy", "permutation_pvalue", "sign_test_pvalue",
    "summarize",
]
