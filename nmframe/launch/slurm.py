"""The Slurm launcher: every task of a plan becomes a Slurm job, chained by Slurm dependencies.

Why it exists: runs that need GPUs for hours (generation sweeps, multi-node training) cannot be
babysat by a local process pool; the cluster scheduler must own queueing, dependencies and
resource limits, while this process only submits and then watches.

How it works:

* Submission goes through submitit (`submitit.SlurmExecutor`): each job runs
  `TaskCommand(planned.command)`, a `submitit.helpers.CommandFunction` that also appends the
  command's stdout/stderr to the task's own log (`PlannedTask.log_path`). submitit's own logs and
  pickles live in `SlurmOptions.folder` (default `<run_dir>/slurm`).
* Resources come from the task (`Resources`: nodes, GPUs per node, CPUs, time, memory) unless
  `SlurmOptions` overrides them; the job name is `task.slug`. A multi-node task runs once, in the
  batch script (no srun around it), and spreads its own ranks over the allocation's nodes.
* Dependencies are Slurm's: `--dependency=afterok:<ids>` plus `--kill-on-invalid-dep=yes`, so a
  dependant of a failed or cancelled job is cancelled by Slurm instead of pending forever (and the
  launcher cancels it itself if the cluster ignores that flag).
* Tasks of the same step with identical dependencies and resources are submitted as one job
  array (`executor.batch()`), at most `array_parallelism` of them running at once; each element
  is still one task with its own job id (`<array id>_<index>`) and outcome.
* Waiting polls `sacct` (one call for all jobs, every `poll_interval_s`), with `squeue` as a
  fallback for jobs the accounting database does not know yet; every Slurm end state maps to a
  finished `TaskState`, so the launcher returns once all jobs ended, whatever happened to them.
* Ctrl-C while waiting does not cancel anything: the jobs keep running on the cluster and the
  launcher prints the `squeue`/`sacct`/`scancel` lines to follow or cancel them, then re-raises
  `KeyboardInterrupt`.

`render_sbatch` renders the sbatch script of one task, as a dry run prints it, with the same
submitit function and parameters as a real submission.
"""
from __future__ import annotations

import hashlib
import logging
import os
import selectors
import shlex
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from submitit.core.utils import CommandFunction, FailedJobError
from submitit.slurm.slurm import SlurmExecutor, SlurmInfoWatcher, SlurmJob, _make_sbatch_string

from nmframe.engine.resources import Resources
from nmframe.engine.execution import ExecutionPlan, Launcher, PlannedTask, TaskOutcome, TaskState

log = logging.getLogger(__name__)

TAIL_LINES = 30
# A job that neither sacct nor squeue knows about for this long is reported FAILED (lost).
LOST_AFTER_S = 120.0

# Slurm job states (sacct/squeue spelling) that are final, and what they mean for a task.
_FINAL_STATES = {
    "COMPLETED": TaskState.DONE,
    "CANCELLED": TaskState.CANCELLED,
    "FAILED": TaskState.FAILED,
    "TIMEOUT": TaskState.FAILED,
    "OUT_OF_MEMORY": TaskState.FAILED,
    "NODE_FAIL": TaskState.FAILED,
    "BOOT_FAIL": TaskState.FAILED,
    "DEADLINE": TaskState.FAILED,
    "REVOKED": TaskState.FAILED,
    "SPECIAL_EXIT": TaskState.FAILED,
}
# Everything else (PENDING, RUNNING, COMPLETING, CONFIGURING, SUSPENDED, REQUEUED, PREEMPTED,
# RESIZING, ...) is still in progress: PREEMPTED jobs are requeued under PreemptMode=REQUEUE.


@dataclass
class SlurmOptions:
    """Cluster-wide settings; the resource fields override the task's own `Resources` when set."""

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    gpus_per_node: int | None = None  # None: the task's resources.gpus
    cpus_per_task: int | None = None  # None: the task's resources.cpus
    mem_gb: int | None = None  # None: the task's resources.mem_gb (none: the cluster's default)
    time_min: int | None = None  # None: the task's resources.time_min
    setup: list[str] = field(default_factory=list)  # shell lines before the command (module load, venv)
    additional: dict[str, str] = field(default_factory=dict)  # extra sbatch options, e.g. {"exclusive": "user"}
    array_parallelism: int = 64  # at most this many elements of one job array run at once
    poll_interval_s: float = 2.0
    folder: str | None = None  # submitit folder (scripts, pickles, logs); default <run_dir>/slurm

    @classmethod
    def from_dict(cls, d: dict | None) -> "SlurmOptions":
        """From a profile/config mapping; unknown keys are an error (a typo must not be ignored)."""
        d = dict(d or {})
        for name in ("setup", "additional"):
            if d.get(name, 0) is None:
                del d[name]
        return cls(**d)


class TaskCommand(CommandFunction):
    """`CommandFunction` for one task: streams the command's output to the job log (as
    CommandFunction does) and appends it to the task's log file; keeps only the tail of stderr in
    memory (outputs of long steps are large), and raises `FailedJobError` with that tail on a
    non-zero exit. `env` is added to the job's environment rather than replacing it."""

    def __init__(self, command: list[str], log_path: str | Path | None = None,
                 env: dict[str, str] | None = None, cwd: str | Path | None = None) -> None:
        super().__init__(list(command), verbose=True, cwd=cwd, env=None)
        self.log_path = None if log_path is None else str(log_path)
        self.extra_env = dict(env or {})

    def __call__(self) -> int:  # type: ignore[override]
        env = {**os.environ, **self.extra_env} if self.extra_env else None
        print(f"The following command is sent: {shlex.join(self.command)}", flush=True)
        logf = None
        if self.log_path:
            Path(self.log_path).parent.mkdir(parents=True, exist_ok=True)
            logf = open(self.log_path, "ab")
        tail: deque[bytes] = deque(maxlen=TAIL_LINES)
        try:
            with subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  cwd=self.cwd, env=env) as proc:
                _pump(proc, logf, tail)
                rc = proc.wait()
        finally:
            if logf is not None:
                logf.close()
        if rc:
            err = b"".join(tail).decode(errors="replace").strip()
            raise FailedJobError(f"command exited with status {rc}: {shlex.join(self.command)}\n{err}")
        return rc


def _pump(proc: subprocess.Popen, logf, stderr_tail: deque) -> None:
    """Copy the child's stdout/stderr to ours and to the log file as they come, without deadlock."""
    sel = selectors.DefaultSelector()
    assert proc.stdout is not None and proc.stderr is not None
    sel.register(proc.stdout, selectors.EVENT_READ, sys.stdout)
    sel.register(proc.stderr, selectors.EVENT_READ, sys.stderr)
    partial = b""
    while sel.get_map():
        for key, _ in sel.select():
            chunk = os.read(key.fileobj.fileno(), 1 << 16)
            if not chunk:
                sel.unregister(key.fileobj)
                continue
            out = key.data
            out.buffer.write(chunk)
            out.flush()
            if logf is not None:
                logf.write(chunk)
                logf.flush()
            if out is sys.stderr:
                lines = (partial + chunk).split(b"\n")
                partial = lines.pop()
                stderr_tail.extend(line + b"\n" for line in lines)
    if partial:
        stderr_tail.append(partial)
    sel.close()


# ---------------------------------------------------------------------------------------------
# sbatch parameters and the dry-run script


def submitit_folder(options: SlurmOptions, run_dir: str | Path) -> Path:
    return Path(options.folder) if options.folder else Path(run_dir) / "slurm"


def sbatch_parameters(resources: Resources, options: SlurmOptions, job_name: str,
                      dependency: str | None = None) -> dict:
    """`SlurmExecutor.update_parameters` keywords for a task: its resources, overridden by options."""
    r = resources
    gpus = options.gpus_per_node if options.gpus_per_node is not None else r.gpus
    mem = options.mem_gb if options.mem_gb is not None else r.mem_gb
    params: dict = {
        "job_name": job_name,
        "nodes": r.nodes,
        "ntasks_per_node": 1,  # one process per node; multi-node steps spread their ranks themselves
        "cpus_per_task": options.cpus_per_task if options.cpus_per_task is not None else r.cpus,
        "time": options.time_min if options.time_min is not None else r.time_min,
        "array_parallelism": options.array_parallelism,
    }
    if r.nodes > 1:
        # The task runs once, in the batch script on the first node; the step then starts its
        # ranks on every node itself (train_stage: `srun --ntasks-per-node=1 torchrun`), where an
        # srun around the task would run the whole step once per node.
        params["use_srun"] = False
    if gpus:  # no --gpus-per-node at all for CPU tasks: nodes without GRES accept them
        params["gpus_per_node"] = gpus
    if mem:
        params["mem"] = f"{mem}GB"
    for name in ("partition", "account", "qos", "constraint"):
        value = getattr(options, name)
        if value:
            params[name] = value
    if options.setup:
        params["setup"] = list(options.setup)
    additional: dict[str, str] = {}
    if dependency:
        params["dependency"] = dependency
        additional["kill-on-invalid-dep"] = "yes"
    additional.update(options.additional)
    if additional:
        params["additional_parameters"] = additional
    return params


def dependency_placeholder(dep_keys: list[str]) -> str | None:
    """`afterok:JOB_<key>:...`: a dry run does not know the job ids of the upstream tasks yet."""
    return "afterok:" + ":".join(f"JOB_{k}" for k in dep_keys) if dep_keys else None


def render_sbatch(planned: PlannedTask, options: SlurmOptions, run_dir: str | Path) -> str:
    """The sbatch script of one task, deterministic, as a dry run prints it.

    It is submitit's own rendering with the parameters a real submission uses; the difference is
    the last line: a real job runs submitit's entry point (`python -u -m submitit.core._submit
    <folder>`), which unpickles and runs the task command, while this script shows that command
    itself (shell-quoted). Dependencies are shown as `afterok:JOB_<task key>` placeholders.
    """
    params = sbatch_parameters(planned.task.resources, options, planned.task.slug,
                               dependency_placeholder(sorted(planned.deps)))
    return _make_sbatch_string(command=shlex.join(planned.command),
                               folder=submitit_folder(options, run_dir), **params)


# ---------------------------------------------------------------------------------------------
# the launcher


def _group_tasks(plan: ExecutionPlan) -> list[list[PlannedTask]]:
    """Tasks of one step with identical deps and resources form one group (one job array), and
    groups come in an order where every group follows the groups it depends on."""
    in_plan = {p.task.key for p in plan.tasks}
    groups: dict[tuple, list[PlannedTask]] = {}
    for p in plan.tasks:
        deps = tuple(sorted(d for d in set(p.deps) if d in in_plan))
        groups.setdefault((p.task.step, deps, p.task.resources), []).append(p)
    remaining = list(groups.items())
    ordered: list[list[PlannedTask]] = []
    placed: set[str] = set()
    while remaining:
        for i, ((_, deps, _), members) in enumerate(remaining):
            if all(d in placed for d in deps):
                ordered.append(members)
                placed.update(m.task.key for m in members)
                del remaining[i]
                break
        else:  # a cycle cannot come from a DAG; submit the rest as single tasks in plan order
            rest = [m for _, ms in remaining for m in ms]
            order = {p.task.key: i for i, p in enumerate(plan.tasks)}
            ordered.extend([m] for m in sorted(rest, key=lambda m: order[m.task.key]))
            break
    return ordered


def _array_name(group: list[PlannedTask]) -> str:
    digest = hashlib.sha256("".join(p.task.key for p in group).encode()).hexdigest()[:8]
    return f"{group[0].task.step}-x{len(group)}-{digest}"


def _tail(path: Path | None, n: int = TAIL_LINES) -> str:
    if path is None:
        return ""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            lines = f.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])


@dataclass
class _Tracked:
    planned: PlannedTask
    job: SlurmJob
    submitted_at: float


class SlurmLauncher(Launcher):
    """Submits one Slurm job per task (job arrays for same-step siblings) and waits for all."""

    name = "slurm"

    def __init__(self, options: SlurmOptions | None = None) -> None:
        self.options = options or SlurmOptions()

    # -- submission ---------------------------------------------------------------------------

    def _submit_group(self, group: list[PlannedTask], folder: Path, env: dict[str, str],
                      job_ids: dict[str, str]) -> list[SlurmJob]:
        first = group[0]
        deps = sorted({d for d in first.deps if d in job_ids})
        dependency = "afterok:" + ":".join(job_ids[d] for d in deps) if deps else None
        name = first.task.slug if len(group) == 1 else _array_name(group)
        executor = SlurmExecutor(folder=folder)
        executor.update_parameters(**sbatch_parameters(first.task.resources, self.options, name, dependency))
        fns = [TaskCommand(p.command, Path(p.log_path).absolute(), env) for p in group]
        if len(group) == 1:
            return [executor.submit(fns[0])]
        with executor.batch():
            jobs = [executor.submit(fn) for fn in fns]
        return jobs  # promoted to SlurmJob `<array id>_<index>` when the batch context exits

    def launch(self, plan: ExecutionPlan) -> dict[str, TaskOutcome]:
        folder = submitit_folder(self.options, plan.run_dir).absolute()
        folder.mkdir(parents=True, exist_ok=True)
        outcomes: dict[str, TaskOutcome] = {}
        tracked: dict[str, _Tracked] = {}
        job_ids: dict[str, str] = {}
        try:
            for group in _group_tasks(plan):
                bad = [d for d in group[0].deps if d in outcomes and not outcomes[d].state.ok]
                if bad:
                    for p in group:
                        outcomes[p.task.key] = TaskOutcome(
                            p.task.key, TaskState.SKIPPED, message=f"not submitted: upstream {bad[0]} "
                            f"{outcomes[bad[0]].state.value}")
                    continue
                try:
                    jobs = self._submit_group(group, folder, plan.env, job_ids)
                except Exception as e:  # sbatch refused (bad partition, account, limits, ...)
                    for p in group:
                        outcomes[p.task.key] = TaskOutcome(p.task.key, TaskState.FAILED,
                                                           message=f"submission failed: {e}")
                    continue
                now = time.time()
                for p, job in zip(group, jobs):
                    tracked[p.task.key] = _Tracked(p, job, now)
                    job_ids[p.task.key] = job.job_id
                    log.info("submitted %s as Slurm job %s", p.task.id, job.job_id)
            self._wait(plan, tracked, outcomes)
        except KeyboardInterrupt:
            running = [t.job.job_id for k, t in tracked.items() if k not in outcomes]
            ids = " ".join(running)
            print(f"\nInterrupted: {len(running)} Slurm job(s) of this run keep running on the cluster.\n"
                  f"  follow them: squeue -j {','.join(running)}   (when ended: sacct -j {','.join(running)})\n"
                  f"  cancel them: scancel {ids}\n"
                  f"  submitit logs: {folder}", file=sys.stderr, flush=True)
            raise
        return {p.task.key: outcomes[p.task.key] for p in plan.tasks}

    # -- waiting ------------------------------------------------------------------------------

    def _wait(self, plan: ExecutionPlan, tracked: dict[str, _Tracked],
              outcomes: dict[str, TaskOutcome]) -> None:
        order = [p.task.key for p in plan.tasks if p.task.key in tracked]
        in_plan = {p.task.key for p in plan.tasks}
        # sacct only looks at jobs active since shortly before submission: a cluster whose job ids
        # restarted (state directory wiped, accounting kept) holds older jobs with the same ids
        since = min((t.submitted_at for t in tracked.values()), default=time.time()) - 300
        while True:
            pending = [k for k in order if k not in outcomes]
            if not pending:
                return
            states = _query_states([tracked[k].job.job_id for k in pending], since)
            for key in pending:  # topological order: upstream outcomes are known first
                t = tracked[key]
                info = states.get(t.job.job_id)
                outcome = self._classify(t, info, outcomes, in_plan)
                if outcome is not None:
                    outcomes[key] = outcome
                    log.info("%s: %s (job %s)", t.planned.task.id, outcome.state.value, t.job.job_id)
            if any(k not in outcomes for k in order):
                time.sleep(self.options.poll_interval_s)

    def _classify(self, t: _Tracked, info: dict | None, outcomes: dict[str, TaskOutcome],
                  in_plan: set[str]) -> TaskOutcome | None:
        key, job_id = t.planned.task.key, t.job.job_id
        failed_up = [d for d in t.planned.deps if d in outcomes and not outcomes[d].state.ok]
        deps_open = [d for d in t.planned.deps if d in in_plan and d not in outcomes]
        if info is None:
            if time.time() - t.submitted_at > LOST_AFTER_S:
                return TaskOutcome(key, TaskState.FAILED, job_id,
                                   f"Slurm job {job_id} is unknown to sacct and squeue "
                                   f"(is slurmdbd running?); logs: {t.job.paths.stdout}")
            return None
        raw = info.get("State", "") or ""
        state = raw.split()[0] if raw else "UNKNOWN"
        final = _FINAL_STATES.get(state)
        if final is None:
            if state == "PENDING" and failed_up:
                # afterok can never be satisfied; Slurm normally cancels it (kill-on-invalid-dep)
                subprocess.run(["scancel", job_id], check=False, capture_output=True)
                return self._skipped(key, job_id, failed_up, outcomes)
            return None
        if final is TaskState.DONE:
            return TaskOutcome(key, TaskState.DONE, job_id, f"log: {t.planned.log_path}")
        if final is TaskState.CANCELLED:
            if deps_open:  # cancelled for its dependency: classify once the upstream outcome is known
                return None
            if failed_up:
                return self._skipped(key, job_id, failed_up, outcomes)
            return TaskOutcome(key, TaskState.CANCELLED, job_id, f"Slurm job {job_id} {raw}")
        exit_code = info.get("ExitCode", "")
        job_err = _tail(t.job.paths.stderr, 200)
        reason = next((line.split("FailedJobError: ", 1)[-1] for line in reversed(job_err.splitlines())
                       if "command exited with status" in line), "")
        tail = _tail(Path(t.planned.log_path)) or "\n".join(job_err.splitlines()[-TAIL_LINES:])
        return TaskOutcome(
            key, TaskState.FAILED, job_id,
            f"Slurm job {job_id} {state}" + (f" (exit {exit_code})" if exit_code else "")
            + (f": {reason}" if reason else "")
            + f"; logs: {t.planned.log_path}, {t.job.paths.stderr}\n{tail}".rstrip())

    @staticmethod
    def _skipped(key: str, job_id: str, failed_up: list[str],
                 outcomes: dict[str, TaskOutcome]) -> TaskOutcome:
        up = failed_up[0]
        return TaskOutcome(key, TaskState.SKIPPED, job_id,
                           f"Slurm job {job_id} cancelled: upstream {up} {outcomes[up].state.value}")


def _query_states(job_ids: list[str], since: float | None = None) -> dict[str, dict[str, str]]:
    """job id -> {"State": ..., "ExitCode": ...} from sacct; squeue fills in jobs sacct lacks.
    Array ids (`123_4`) are resolved, including still-pending ranges like `123_[4-9]`."""
    if not job_ids:
        return {}
    parser = SlurmInfoWatcher()
    mains = sorted({j.split("_")[0] for j in job_ids})
    states: dict[str, dict[str, str]] = {}
    try:
        cmd = ["sacct", "-X", "--parsable2", "-o", "JobID,State,ExitCode", "-j", ",".join(mains)]
        if since is not None:
            cmd += ["-S", time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(since))]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if out.returncode == 0:
            states.update(parser.read_info(out.stdout))
    except (OSError, subprocess.TimeoutExpired) as e:
        log.warning("sacct failed: %s", e)
    missing = [j for j in job_ids if j not in states]
    if missing:
        try:
            out = subprocess.run(["squeue", "-h", "-r", "--states=all", "-o", "%i|%T",
                                  "-j", ",".join(sorted({j.split("_")[0] for j in missing}))],
                                 capture_output=True, text=True, timeout=60)
            if out.returncode == 0:
                found = parser.read_info("JobID|State\n" + out.stdout)
                for j in missing:
                    if j in found:
                        states[j] = found[j]
        except (OSError, subprocess.TimeoutExpired) as e:
            log.warning("squeue failed: %s", e)
    return {j: states[j] for j in job_ids if j in states}
