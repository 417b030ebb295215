"""Execute one task of a run: `python -m nmframe.engine.task_runner --run-dir R --task KEY`.

This is the only entry point launchers call, locally or on a Slurm node. It reloads the run's
saved config, checks that the task key still matches the code (a changed VERSION or slice means
the plan is stale), takes the key's lease, and computes the artifact unless it already exists.
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import socket
import sys
import time
import traceback
from pathlib import Path

from omegaconf import DictConfig

from nmframe.engine.artifacts import ArtifactStore
from nmframe.engine.provenance import git_state, host_info, package_versions
from nmframe.engine.registry import get_step
from nmframe.engine.runs import RunDir
from nmframe.engine.step import StepContext, scratch_dir
from nmframe.engine.task import Task, compute_key

log = logging.getLogger("nmframe.task_runner")


class StalePlanError(RuntimeError):
    pass


def run_task(cfg: DictConfig, task: Task, store: ArtifactStore, input_steps: dict[str, str],
             run_dir: Path | None = None, force: bool = False, tracker=None, verify: bool = False) -> str:
    """Compute `task` into the store unless a complete, undamaged copy computed from the current
    inputs is there (`verify`: check every file's hash, not only sizes). Returns "done" or "cached"."""
    step = get_step(task.step)
    expected = compute_key(step.name, step.VERSION, step.config_slice(cfg, task.params), task.params, task.inputs)
    if expected != task.key:
        raise StalePlanError(f"task {task.id}: key {task.key} no longer matches the code and config "
                             f"({expected}); the step's VERSION or slice changed since planning. Plan again.")
    inputs = {}
    for name, key in task.inputs.items():
        path = store.path(input_steps[key], key)
        verdict = store.check(input_steps[key], key)
        if not verdict.ok:
            why = "is not computed" if verdict.state == "missing" else f"is damaged ({verdict.reason})"
            raise RuntimeError(f"task {task.id}: input {name!r} ({input_steps[key]}/{key}) {why}")
        inputs[name] = path
    with store.lease(task.step, task.key):
        if not force:
            verdict = store.reusable(task.step, task.key, {n: (input_steps[k], k) for n, k in task.inputs.items()},
                                     deep=verify)
            if verdict.ok:
                log.info("%s: already computed at %s", task.id, store.path(task.step, task.key))
                return "cached"
            if verdict.state != "missing":
                log.warning("%s: recomputing %s: %s", task.id, store.path(task.step, task.key), verdict.reason)
        temp = store.new_temp(task.step, task.key)
        handler = logging.FileHandler(temp / "step.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)
        started = time.time()
        ctx = StepContext(cfg=cfg, task=task, out_dir=temp, inputs=inputs,
                          log=logging.getLogger(f"nmframe.steps.{task.step}"), tracker=tracker)
        try:
            log.info("%s: computing into %s", task.id, temp)
            step.run(ctx)
        except BaseException:
            store.discard(temp)
            raise
        finally:
            logging.getLogger().removeHandler(handler)
            handler.close()
        if ctx.metrics:
            ctx.write_json("metrics.json", ctx.metrics)
        manifest = {
            "step": task.step, "version": task.version, "key": task.key, "params": task.params,
            "task_id": task.id, "config_slice": task.config_slice,
            "inputs": {n: {"key": k, "path": str(inputs[n]), "digest": store.content_digest(input_steps[k], k)}
                       for n, k in task.inputs.items()},
            "git": git_state(), "packages": package_versions(), "host": host_info(),
            "started": started, "ended": time.time(), "duration_s": round(time.time() - started, 3),
            "metrics": ctx.metrics, "run_dir": str(run_dir) if run_dir else None,
        }
        try:
            final = store.commit(task.step, task.key, temp, manifest)
        except BaseException:
            store.discard(temp)
            raise
        if not cfg.paths.get("keep_scratch", False):
            # partial work is only for resuming this task; the artifact now holds the result
            shutil.rmtree(scratch_dir(cfg, task.step, task.key), ignore_errors=True)
        log.info("%s: done in %.1fs -> %s", task.id, manifest["duration_s"], final)
        return "done"


def execute(run_dir: str | Path, key: str) -> int:
    from nmframe.tracking import start_tracker

    rd = RunDir(Path(run_dir))
    task, entry = rd.task(key)
    cfg = rd.load_point(entry["point"])
    all_tasks = rd.tasks()
    input_steps = {k: all_tasks[k]["task"]["step"] for k in task.inputs.values()}
    store = ArtifactStore(cfg.paths.artifacts)
    log.debug("%s (key %s): inputs %s, artifacts in %s", task.id, key, input_steps or "none", store.root)
    rd.set_state(key, "running", started=time.time(), host=socket.gethostname(), pid=os.getpid(),
                 slurm_job_id=os.environ.get("SLURM_JOB_ID"))
    tracker = None
    try:
        tracker = start_tracker(cfg.tracking, rd.path, name=task.id, group=rd.path.name,
                                config={"task": task.id, "key": task.key, **task.config_slice})
        state = run_task(cfg, task, store, input_steps, run_dir=rd.path, force=bool(entry.get("force")),
                         tracker=tracker, verify=bool(entry.get("verify")))
        tracker.finish(0)
        rd.set_state(key, state, ended=time.time(), artifact=str(store.path(task.step, task.key)))
        return 0
    except BaseException as exc:  # noqa: BLE001 - record every failure, then re-raise the exit code
        log.error("%s failed:\n%s", task.id, traceback.format_exc())
        if tracker is not None:
            tracker.finish(1)
        rd.set_state(key, "failed", ended=time.time(), error=f"{type(exc).__name__}: {exc}")
        return 130 if isinstance(exc, KeyboardInterrupt) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--task", required=True, help="task key")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in filter(None, os.environ.get("NMFRAME_VERBOSE", "").split(",")):  # hydra.verbose=... of the run
        logging.getLogger(name).setLevel(logging.DEBUG)
    return execute(args.run_dir, args.task)


if __name__ == "__main__":
    sys.exit(main())
