"""validate_answers: decide each problem's expected_answer from its high-mode solutions.

Inputs: the problems (the nearest earlier step that produces them) and every task of
``answers.samples_step`` (``generate``) with ``mode = answers.validate_mode`` (``high``: the
paper's 8 TIR + 8 no-TIR solutions). Rules in :mod:`nmframe.curation.validation`.

Output:
* ``problems.jsonl``: every input problem, unchanged except the released dataset's three
  answer fields (``expected_answer``, ``original_expected_answer``,
  ``changed_answer_to_majority``); problems left without an answer keep ``expected_answer =
  None`` and are dropped downstream;
* ``validation.jsonl``: per problem the status (kept / replaced / filled / no_answer /
  unconfirmed / undecided / no_samples), majority answer and vote counts;
* ``report.json``: statuses per data_source, judge reply counts, unreadable sample lines.
"""
from __future__ import annotations

import collections

from nmframe.curation.llm import LLM_SLICE_READS, llm_gpus, llm_slice, load_backend
from nmframe.curation.samples import answers_by_problem, sample_dirs
from nmframe.curation.stepio import SAMPLES_PREFIX, read_problems, report, samples_upstream
from nmframe.curation.tally import Tally
from nmframe.curation.validation import NO_ANSWER, validate_answers
from nmframe.datafiles import write_jsonl
from nmframe.engine import Resources, Step, StepContext, TaskSpec, register_step


@register_step
class ValidateAnswers(Step):
    name = "validate_answers"
    VERSION = "1"
    description = "keep / replace / fill expected_answer from the majority of high-mode solutions"
    inputs = ("generate",)
    produces = "problems"
    slice_paths = ("answers.validate_mode", "answers.grade_timeout_s", "answers.judge")
    extra_reads = ("answers.samples_step", "answers.judge_max_answers", *LLM_SLICE_READS)

    def tasks(self, cfg, dag):
        problems = dag.nearest("problems", before=self.name)
        samples = samples_upstream(cfg, dag, mode=str(cfg.answers.validate_mode))
        return [TaskSpec(params={}, inputs={"problems": problems, **samples})]

    def config_slice(self, cfg, params):
        out = super().config_slice(cfg, params)
        if cfg.answers.judge:
            out["answers.judge_max_answers"] = cfg.answers.judge_max_answers
            out["answers.judge"] = llm_slice(cfg, str(cfg.answers.judge))
        return out

    def resources(self, cfg, params):
        gpus, nodes = llm_gpus(cfg, cfg.answers.judge)  # a served judge runs in the task
        return Resources(cpus=int(cfg.answers.workers or 8), gpus=gpus, nodes=nodes, time_min=240,
                         mem_gb=None if gpus else 32)

    def run(self, ctx: StepContext) -> None:
        a = ctx.cfg.answers
        bad: collections.Counter = collections.Counter()
        problems = read_problems(ctx.inputs["problems"] / "problems.jsonl", bad)
        dirs = sample_dirs(ctx.inputs, SAMPLES_PREFIX)
        answers = answers_by_problem(dirs, bad)
        judge = load_backend(str(a.judge), ctx.cfg) if a.judge else None
        results = validate_answers(problems, answers, timeout=float(a.grade_timeout_s), workers=a.workers,
                                   judge=judge, judge_max_answers=int(a.judge_max_answers))
        tally, judge_stats = Tally(), collections.Counter()
        out = []
        for p, r in zip(problems, results):
            out.append({**p, **r.fields()})
            tally.add(p.get("data_source"), r.status, kept=r.status != NO_ANSWER and r.expected_answer is not None)
            judge_stats.update(r.judge)
        known = {str(p["id"]) for p in problems}
        write_jsonl(ctx.out_dir / "problems.jsonl", out)
        write_jsonl(ctx.out_dir / "validation.jsonl", (r.to_dict() for r in results))
        report(ctx, tally, sample_tasks=len(dirs), samples=sum(len(v) for v in answers.values()),
               samples_of_unknown_problems=sum(len(v) for k, v in answers.items() if k not in known),
               judge_replies=dict(judge_stats), bad_lines=sum(bad.values()), bad_examples=list(bad)[:20])
