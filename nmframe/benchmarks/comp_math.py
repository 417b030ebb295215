"""Comp-Math-24-25: AIME24 (30), AIME25 (30) and HMMT-24-25 (196), graded with math-verify.

The paper samples 16 solutions per problem (temperature 1.0, top_p 1.0, 120K tokens) and reports
pass@1 (mean over the 16) and maj@16 (the majority answer, equivalent answers voting together)
per subset. The file ships with nmframe (``pkg://benchmarks/comp-math-24-25.jsonl``; rows
``{id, subset_for_metrics, problem, expected_answer, reference_solution}``).
"""
from __future__ import annotations

from nmframe.benchmarks.base import Benchmark, text_field
from nmframe.benchmarks.registry import register_benchmark


@register_benchmark
class CompMath2425(Benchmark):
    name = "comp-math-24-25"
    VERSION = "1"
    description = "AIME24 + AIME25 + HMMT Feb 24/25, math-verify grading, 16 samples, pass@1 and maj@16"
    subsets = ("aime24", "aime25", "hmmt-24-25")
    samples = 16
    grader = "math-verify"
    path_key = "evaluate.comp_math_file"
    expected_problems = {"aime24": 30, "aime25": 30, "hmmt-24-25": 196}

    def parse_row(self, row, origin):
        pid = text_field(row, "id", "problem_id")
        problem = text_field(row, "problem", "question")
        answer = text_field(row, "expected_answer", "answer")
        subset = text_field(row, "subset_for_metrics", "subset")
        if pid is None:
            return None, "no id"
        if problem is None:
            return None, "no problem text"
        if answer is None:
            return None, "no expected_answer"
        if subset not in self.subsets:
            return None, f"unknown subset {subset!r}"
        return {"id": str(pid), "problem": str(problem), "expected_answer": str(answer), "subset": subset,
                "data_source": self.name}, None

    def grade(self, samples, problems, cfg, log=None, judge=None):
        from nmframe.answers import grade_many

        pairs = [(problems[str(s["problem_id"])]["expected_answer"], s.get("final_answer")) for s in samples]
        verdicts = grade_many(pairs, workers=cfg.answers.workers, timeout=float(cfg.answers.grade_timeout_s))
        out = []
        for s, (gold, _), v in zip(samples, pairs, verdicts):
            rec = self.base_record(s, problems[str(s["problem_id"])])
            rec.update(expected_answer=gold, outcome=v.outcome, grade_reason=v.reason)
            out.append(rec)
        return out
