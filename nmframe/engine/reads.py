"""Which steps read a config key, and refusing sweeps over keys the pipeline never reads.

Why: a task's key holds only its step's config slice, so sweeping a key that no step of the
pipeline reads gives every point the same tasks: the sweep silently runs one point (e.g.
`trainer.lr=1e-5,...,5e-4` with `pipeline.steps=[ingest]`). Each step declares the config paths
that define its tasks and outputs (`Step.reads()`: its `slice_paths` plus `extra_reads`); a swept
key that none of the pipeline's steps declares is refused at plan time, naming the registered
steps that would read it, and a single override of such a key gets a warning line.

A key and a declared path match when one is a prefix of the other at a dot: `trainer` (a group
choice) matches `trainer.lr`, and `model.hidden_size` matches a step that reads all of `model`.
"""
from __future__ import annotations

from typing import Iterable

from nmframe.engine.registry import get_step, list_steps

#: Keys that no step reads by design, so setting or sweeping them is never questioned. The one
#: list of these exceptions; each says why it stays out of every step's key.
KEYS_NO_STEP_READS = {
    "hydra": "Hydra's own settings",
    "experiment": "a named run: it sets the pipeline and the other keys, which are checked themselves",
    "pipeline": "which steps run, only, force: the pipeline itself, not a step's input",
    "name": "the run's name (its directory), not a step's input",
    "description": "the run's description, shown in reports",
    "launcher": "where tasks run (local, Slurm, dry run) never changes what they compute",
    "paths": "where outputs and data live: keys hold file contents, not locations",
    "tracking": "metrics are logged to wandb or not; the artifacts are the same",
    "sandbox": "how model-written Python is contained, not what it computes",
    "metrics": "report-only: how maj@k votes and ties are counted when a report is written",
    "evaluate.alpha": "report-only: the confidence level of intervals and paired tests",
    "costmodel": "plan-only: the constants and baseline the planner estimates GPU-hours with",
}


class SweepError(ValueError):
    """A sweep whose points would all compile to the same tasks for a key."""


def matches(key: str, path: str) -> bool:
    """True when ``key`` and ``path`` name the same config node or one contains the other."""
    return key == path or key.startswith(path + ".") or path.startswith(key + ".")


def exempt(key: str) -> bool:
    """True for a key in :data:`KEYS_NO_STEP_READS` (or below one)."""
    return any(key == k or key.startswith(k + ".") for k in KEYS_NO_STEP_READS)


# config groups whose choice lands somewhere else than a top-level key of the group's name (`# @package`)
GROUP_PACKAGES = {"judge_llm": "prep.judge_llm"}


def steps_reading(key: str, steps: Iterable[str] | None = None) -> list[str]:
    """The steps among ``steps`` (default: every registered step) whose declared reads match ``key``."""
    key = GROUP_PACKAGES.get(key, key)
    names = list_steps() if steps is None else list(steps)
    return [s for s in names if any(matches(key, p) for p in get_step(s).reads())]


def unread_message(key: str, pipeline: list[str]) -> str:
    """`trainer.lr is read by no step of pipeline.steps=[ingest]; steps that read it: train_stage`."""
    readers = steps_reading(key)
    return (f"{key} is read by no step of pipeline.steps=[{','.join(pipeline)}]; steps that read it: "
            + (", ".join(readers) if readers else "none (no step's output depends on it)"))


def check_keys_read(keys: list[tuple[str, bool]], pipelines: list[list[str]]) -> list[str]:
    """Check each overridden ``(key, swept)`` against each sweep point's ``pipeline.steps``.

    Raises :class:`SweepError` for a swept key that no step of some point's pipeline reads;
    returns one warning line per single (not swept) override that no step reads."""
    warnings = []
    for key, swept in keys:
        if exempt(key):
            continue
        for pipeline in pipelines:
            if not steps_reading(key, pipeline):
                if swept:
                    raise SweepError(unread_message(key, pipeline))
                warnings.append(f"{unread_message(key, pipeline)} (the override enters no task's key)")
                break
    return warnings
