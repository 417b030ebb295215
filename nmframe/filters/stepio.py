"""Plumbing shared by the filter steps: finding upstream tasks, reading problems, reporting.

The filter steps can be chained in several ways (``ingest -> classify -> decontaminate ->
validate_answers -> filter_trivial -> filter_correct``, or released rows straight into
``filter_trivial``), so each step takes its problems from the nearest upstream problems step
present in the pipeline, in a documented order of preference.
"""
from __future__ import annotations

import collections
from pathlib import Path
from typing import Sequence

from nmframe.datafiles import iter_rows
from nmframe.engine.dag import DagError
from nmframe.engine.task import format_params

from .report import Tally

SAMPLES_PREFIX = "samples"


# steps that write problems.jsonl from data (raw preparation or ingest), nearest first
SOURCE_STEPS = ("prep_decontaminate", "prep_classify", "extract_answers", "extract_problems", "ingest")


def problems_upstream(dag, candidates: Sequence[str], step: str):
    """(name, task) of the first of ``candidates`` in the pipeline before ``step``."""
    for name in candidates:
        if name in dag.by_step:
            return name, dag.one(name)
    raise DagError(f"step {step!r} needs one of {', '.join(candidates)} before it in pipeline.steps")


def samples_upstream(cfg, dag, mode: str | None = None, required: bool = True) -> dict:
    """Input name -> task for every task of ``answers.samples_step`` (of one mode if given)."""
    step = str(cfg.answers.samples_step)
    if step not in dag.by_step:
        if required:
            raise DagError(f"a step needs the samples of {step!r} (answers.samples_step), which is not in "
                           f"pipeline.steps before it")
        return {}
    tasks = dag.all(step, **({"mode": mode} if mode is not None else {}))
    if required and not tasks:
        raise DagError(f"no {step!r} task with mode={mode!r} in this pipeline (mode.efforts must include it)")
    return {f"{SAMPLES_PREFIX}[{format_params(t.params)}]": t for t in tasks}


def read_problems(path: Path, bad: collections.Counter | None = None) -> list[dict]:
    """Problems from a problems.jsonl; malformed lines are counted in ``bad`` and skipped."""
    rows = []
    for line, row, err in iter_rows(path):
        if err is not None:
            if bad is not None:
                bad[f"{path}:{line}: {err}"] += 1
            continue
        rows.append(row)
    return rows


def report(ctx, tally: Tally, **extra) -> dict:
    """Write report.json (counts per data_source and reason + extras) and log the totals."""
    rep = {**tally.to_dict(), **extra}
    ctx.write_json("report.json", rep)
    ctx.log_metrics({"total": rep["total"], "kept": rep["kept"], "removed": rep["removed"],
                     **{f"reason/{k}": v for k, v in rep["by_reason"].items()}})
    ctx.log.info("%s: %d in, %d kept, %d removed; reasons: %s", ctx.task.step, rep["total"], rep["kept"],
                 rep["removed"], rep["by_reason"])
    return rep
