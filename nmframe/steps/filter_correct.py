"""filter_correct: keep only the traces whose final answer reaches expected_answer.

Inputs: the problems that survived the earlier filters (the nearest earlier step that produces
problems: ``filter_trivial``, ``validate_answers``, ...) and every task of
``answers.samples_step`` (all modes and TIR settings).
A trace of a problem no longer in the set is dropped ("problem removed"); ungraded traces
are dropped unless ``filters.keep_ungraded`` and always counted apart from wrong ones (rules
in :mod:`nmframe.curation.correctness`). Traces are streamed in chunks, so memory stays
bounded for millions of traces.

Output: ``traces.jsonl`` (the kept sample records, with the validated ``expected_answer``,
``kept: true`` and ``grade_reason``), ``report.json`` (counts per data_source and reason, and
kept traces per mode x TIR).
"""
from __future__ import annotations

import collections
import json

from nmframe.curation.correctness import decide_traces
from nmframe.curation.samples import iter_samples, sample_answer, sample_dirs
from nmframe.curation.stepio import SAMPLES_PREFIX, chunks, read_problems, report, samples_upstream
from nmframe.curation.tally import Tally
from nmframe.engine import Resources, Step, StepContext, TaskSpec, register_step

CHUNK = 20_000


@register_step
class FilterCorrect(Step):
    name = "filter_correct"
    VERSION = "1"
    description = "keep the traces whose extracted answer grades correct against expected_answer"
    inputs = ("generate",)
    produces = "traces"
    slice_paths = ("filters.keep_ungraded", "answers.grade_timeout_s")
    extra_reads = ("answers.samples_step",)

    def tasks(self, cfg, dag):
        problems = dag.nearest("problems", before=self.name)
        return [TaskSpec(params={}, inputs={"problems": problems, **samples_upstream(cfg, dag)})]

    def resources(self, cfg, params):
        return Resources(cpus=int(cfg.answers.workers or 8), time_min=240, mem_gb=32)

    def run(self, ctx: StepContext) -> None:
        cfg = ctx.cfg
        bad: collections.Counter = collections.Counter()
        problems = read_problems(ctx.inputs["problems"] / "problems.jsonl", bad)
        expected = {str(p["id"]): p.get("expected_answer") for p in problems}
        sources = {str(p["id"]): p.get("data_source") for p in problems}
        tally = Tally()
        per_config: collections.Counter = collections.Counter()
        with open(ctx.out_dir / "traces.jsonl", "w", encoding="utf-8") as out:
            for chunk in chunks(iter_samples(sample_dirs(ctx.inputs, SAMPLES_PREFIX), bad), CHUNK):
                recs = [r for _, r in chunk]
                answers = [sample_answer(r, origin) for origin, r in chunk]
                decisions = decide_traces(recs, expected, answers=answers,
                                          keep_ungraded=bool(cfg.filters.keep_ungraded),
                                          timeout=float(cfg.answers.grade_timeout_s), workers=cfg.answers.workers)
                for r, d in zip(recs, decisions):
                    pid = str(r.get("problem_id"))
                    tally.add(sources.get(pid, r.get("data_source")), d.reason, kept=d.keep)
                    if d.keep:
                        per_config[f"{r.get('mode')}/tir={r.get('tir')}"] += 1
                        out.write(json.dumps({**r, "expected_answer": expected[pid], "kept": True,
                                              "grade_reason": d.grade_reason}, ensure_ascii=False) + "\n")
        report(ctx, tally, problems=len(problems), kept_per_mode_tir=dict(sorted(per_config.items())),
               keep_ungraded=bool(cfg.filters.keep_ungraded), bad_lines=sum(bad.values()),
               bad_examples=list(bad)[:20])
