"""Plumbing shared by the curation steps: reading problems and samples, writing outputs and reports.

Which problems a step reads is the engine's business: each step asks the DAG builder for the
nearest earlier step that ``produces = "problems"`` (``DagBuilder.nearest``), so a pipeline may
start from raw dumps (``extract_problems``) or from files (``ingest``) and may leave out any filter.
"""
from __future__ import annotations

import collections
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from nmframe.datafiles import iter_rows
from nmframe.engine.dag import DagError
from nmframe.engine.task import format_params
from nmframe.progress import track

from .decision import Decision
from .tally import Tally

SAMPLES_PREFIX = "samples"
ON_NO_DECISION = ("hold", "keep")


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


def iter_problems(path: Path, bad: collections.Counter | None = None) -> Iterator[dict]:
    """Rows of a problems.jsonl, streamed; malformed lines are counted in ``bad`` and skipped."""
    for line, row, err in iter_rows(path):
        if err is not None:
            if bad is not None:
                bad[f"{path}:{line}: {err}"] += 1
            continue
        yield row


def read_problems(path: Path, bad: collections.Counter | None = None) -> list[dict]:
    """All rows of a problems.jsonl (see :func:`iter_problems`)."""
    return list(iter_problems(path, bad))


def chunks(items: Iterable, size: int) -> Iterator[list]:
    """Items in lists of ``size`` (bounded memory for millions of rows, batched LLM calls)."""
    buf: list = []
    for x in items:
        buf.append(x)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf


def check_on_no_decision(cfg) -> str:
    """``prep.on_no_decision``: rows without a decision are held apart (hold) or kept, marked (keep)."""
    v = str(cfg.prep.on_no_decision)
    if v not in ON_NO_DECISION:
        raise ValueError(f"prep.on_no_decision must be one of {ON_NO_DECISION}, got {v!r}")
    return v


class Outputs:
    """JSONL files written row by row (``problems.jsonl``, ``removed.jsonl``, ``undecided.jsonl``)."""

    def __init__(self, out_dir: Path, names: Iterable[str]):
        self.files = {n: open(Path(out_dir) / f"{n}.jsonl", "w", encoding="utf-8") for n in names}  # noqa: SIM115 - closed by close()/__exit__
        self.counts = collections.Counter()

    def write(self, name: str, row: dict) -> None:
        self.files[name].write(json.dumps(row, ensure_ascii=False) + "\n")
        self.counts[name] += 1

    def close(self) -> None:
        for f in self.files.values():
            f.close()

    def __enter__(self) -> Outputs:  # noqa: PYI034
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def report(ctx, tally: Tally, **extra) -> dict:
    """Write report.json (counts per data_source and reason + extras) and log the totals."""
    rep = {**tally.to_dict(), **extra}
    ctx.write_json("report.json", rep)
    ctx.log_metrics({"total": rep["total"], "kept": rep["kept"], "removed": rep["removed"],
                     "undecided": rep["undecided"], **{f"reason/{k}": v for k, v in rep["by_reason"].items()},
                     **{f"decided_by/{k}": v for k, v in rep.get("by_decided_by", {}).items()}})
    ctx.log.info("%s: %d in, %d kept, %d removed, %d undecided; reasons: %s", ctx.task.step, rep["total"],
                 rep["kept"], rep["removed"], rep["undecided"], rep["by_reason"])
    return rep


def filter_problems(ctx, stage: str, value_key: str, decide: Callable[[list[str]], list[Decision]],
                    remove: Callable[[Decision], bool], *, policy: str, batch: int, tally: Tally,
                    on_removed: Callable[[dict, Decision], None] | None = None) -> collections.Counter:
    """Run one problem filter over the ``problems`` input, a chunk of ``batch`` problems at a time.

    Every row gets its decision record in ``prep[stage]`` (``decided_by``, ``reason``, the
    decision's value under ``value_key``) and goes to ``problems.jsonl`` (kept), ``removed.jsonl``
    or, without a decision, ``undecided.jsonl`` (policy hold) or ``problems.jsonl`` (policy keep).
    Returns the malformed input lines (counted, skipped)."""
    bad: collections.Counter = collections.Counter()
    rows = iter_problems(ctx.inputs["problems"] / "problems.jsonl", bad)
    with Outputs(ctx.out_dir, ("problems", "removed", "undecided")) as out:
        for chunk in chunks(track(rows, ctx.task.step), batch):
            for r, d in zip(chunk, decide([r["problem"] for r in chunk])):
                r.setdefault("prep", {})[stage] = d.record(**{value_key: d.value})
                src = r.get("data_source")
                if not d.decided:
                    ctx.log.warning("%s: no decision for %s: %s", ctx.task.step, r.get("origin") or r.get("id"), d.reason)
                    held = policy == "hold"
                    tally.add(src, "undecided", kept=None if held else True, decided_by=d.decided_by,
                              example={"id": r.get("id"), "origin": r.get("origin"), "reason": d.reason})
                    out.write("undecided" if held else "problems", r)
                elif remove(d):
                    tally.add(src, str(d.value), kept=False, decided_by=d.decided_by)
                    if on_removed is not None:
                        on_removed(r, d)
                    out.write("removed", r)
                else:
                    tally.add(src, str(d.value), kept=True, decided_by=d.decided_by)
                    out.write("problems", r)
    return bad
