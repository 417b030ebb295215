"""filter_trivial: drop problems the teacher solves too often in low mode.

Inputs: the problems (the nearest earlier step that produces them: validate_answers, ...)
and, when the pass counts come from samples, every task of ``answers.samples_step`` with
``mode = filters.trivial_mode`` (``low``: 8 TIR + 8 no-TIR attempts).
``filters.trivial_source``: ``samples`` (grade those attempts), ``metadata`` (the released
rows' ``metadata["reason_low_with_tool"/"reason_low_no_tool"]``, nothing regenerated) or
``auto`` (samples when the pipeline generates that mode, else metadata). Rules in
:mod:`nmframe.curation.trivial`.

Output: ``problems.jsonl`` (kept), ``removed.jsonl`` (with ``filter = {reason, passes, count,
pass_rate}``), ``decisions.jsonl`` (id, reason, passes, count, ungraded, pass_rate of every
problem), ``report.json``.
"""
from __future__ import annotations

import collections

from nmframe.curation.samples import answers_by_problem, sample_dirs
from nmframe.curation.stepio import SAMPLES_PREFIX, read_problems, report, samples_upstream
from nmframe.curation.tally import Tally
from nmframe.curation.trivial import decide_from_metadata, decide_from_samples
from nmframe.datafiles import write_jsonl
from nmframe.engine import Resources, Step, StepContext, TaskSpec, register_step
SOURCES = ("auto", "samples", "metadata")


def pass_source(cfg, dag) -> str:
    src = str(cfg.filters.trivial_source)
    if src not in SOURCES:
        raise ValueError(f"filters.trivial_source must be one of {SOURCES}, got {src!r}")
    if src == "auto":
        found = samples_upstream(cfg, dag, mode=str(cfg.filters.trivial_mode), required=False)
        return "samples" if found else "metadata"
    return src


@register_step
class FilterTrivial(Step):
    name = "filter_trivial"
    VERSION = "1"
    description = "drop problems whose low-mode pass rate is above filters.trivial_threshold"
    inputs = ("generate",)
    produces = "problems"
    slice_paths = ("filters.trivial_threshold", "filters.trivial_strict", "filters.trivial_mode")
    extra_reads = ("filters.trivial_source", "answers.samples_step", "answers.grade_timeout_s")

    def tasks(self, cfg, dag):
        problems = dag.nearest("problems", before=self.name)
        source = pass_source(cfg, dag)
        samples = samples_upstream(cfg, dag, mode=str(cfg.filters.trivial_mode)) if source == "samples" else {}
        return [TaskSpec(params={"source": source}, inputs={"problems": problems, **samples})]

    def config_slice(self, cfg, params):
        out = super().config_slice(cfg, params)
        if params.get("source") == "samples":
            out["answers.grade_timeout_s"] = cfg.answers.grade_timeout_s
        return out

    def resources(self, cfg, params):
        return Resources(cpus=int(cfg.answers.workers or 8), time_min=240, mem_gb=32)

    def run(self, ctx: StepContext) -> None:
        f, source = ctx.cfg.filters, ctx.params["source"]
        threshold, strict = float(f.trivial_threshold), bool(f.trivial_strict)
        bad: collections.Counter = collections.Counter()
        problems = read_problems(ctx.inputs["problems"] / "problems.jsonl", bad)
        if source == "samples":
            dirs = sample_dirs(ctx.inputs, SAMPLES_PREFIX)
            answers = answers_by_problem(dirs, bad)
            decisions = decide_from_samples(problems, answers, threshold=threshold, strict=strict,
                                            timeout=float(ctx.cfg.answers.grade_timeout_s),
                                            workers=ctx.cfg.answers.workers)
        else:
            decisions = [decide_from_metadata(p, threshold, strict, str(f.trivial_mode)) for p in problems]
        tally = Tally()
        kept, removed, rows = [], [], []
        for p, d in zip(problems, decisions):
            info = {"reason": d.reason, "passes": d.passes, "count": d.count, "ungraded": d.ungraded,
                    "pass_rate": d.pass_rate}
            rows.append({"id": p["id"], **info})
            tally.add(p.get("data_source"), d.reason, kept=not d.remove)
            (removed.append({**p, "filter": info}) if d.remove else kept.append(p))
        write_jsonl(ctx.out_dir / "problems.jsonl", kept)
        write_jsonl(ctx.out_dir / "removed.jsonl", removed)
        write_jsonl(ctx.out_dir / "decisions.jsonl", rows)
        report(ctx, tally, source=source, threshold=threshold, strict=strict, mode=str(f.trivial_mode),
               ungraded_attempts=sum(d.ungraded for d in decisions),
               bad_lines=sum(bad.values()), bad_examples=list(bad)[:20])
