"""Run tasks as subprocesses on this machine, in dependency order, several at once.

Each task is its own process (the same worker command Slurm would run), so a crashing or killed
task cannot take the orchestrator down, and its output goes to the task's log file. Concurrency
is bounded by a CPU budget: a task that asks for more CPUs than the budget runs alone.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import time

from nmframe.engine.execution import ExecutionPlan, Launcher, TaskOutcome, TaskState

log = logging.getLogger(__name__)


class LocalLauncher(Launcher):
    name = "local"

    def __init__(self, max_parallel: int | None = None, cpu_budget: int | None = None, poll_s: float = 0.05,
                 on_state=None):
        self.max_parallel = max_parallel or 1
        self.cpu_budget = cpu_budget or os.cpu_count() or 1
        self.poll_s = poll_s
        self.on_state = on_state  # callback(key, TaskState) for progress display

    def _notify(self, key: str, state: TaskState) -> None:
        if self.on_state:
            self.on_state(key, state)

    def launch(self, plan: ExecutionPlan) -> dict[str, TaskOutcome]:
        outcomes: dict[str, TaskOutcome] = {}
        pending = list(plan.tasks)
        by_key = plan.by_key()
        running: dict[str, tuple[subprocess.Popen, int, object]] = {}
        env = {**os.environ, **plan.env}
        try:
            while pending or running:
                # reap finished processes
                for key, (proc, cpus, fh) in list(running.items()):
                    rc = proc.poll()
                    if rc is None:
                        continue
                    fh.close()
                    del running[key]
                    state = TaskState.DONE if rc == 0 else TaskState.FAILED
                    msg = "" if rc == 0 else f"exit code {rc}; log: {by_key[key].log_path}"
                    outcomes[key] = TaskOutcome(key, state, job_id=str(proc.pid), message=msg)
                    self._notify(key, state)
                # skip tasks whose upstream failed
                for p in list(pending):
                    bad = [d for d in p.deps if d in outcomes and not outcomes[d].state.ok]
                    if bad:
                        pending.remove(p)
                        outcomes[p.task.key] = TaskOutcome(p.task.key, TaskState.SKIPPED,
                                                           message=f"upstream {bad[0]} did not finish")
                        self._notify(p.task.key, TaskState.SKIPPED)
                # start ready tasks within budget
                used = sum(c for _, c, _ in running.values())
                for p in list(pending):
                    if len(running) >= self.max_parallel:
                        break
                    if not all(d in outcomes and outcomes[d].state.ok for d in p.deps):
                        continue
                    cpus = min(p.task.resources.cpus, self.cpu_budget)
                    if running and used + cpus > self.cpu_budget:
                        continue
                    p.log_path.parent.mkdir(parents=True, exist_ok=True)
                    fh = open(p.log_path, "ab")
                    proc = subprocess.Popen(p.command, stdout=fh, stderr=subprocess.STDOUT, env=env,
                                            start_new_session=True)
                    running[p.task.key] = (proc, cpus, fh)
                    used += cpus
                    pending.remove(p)
                    self._notify(p.task.key, TaskState.RUNNING)
                if pending and not running:
                    # nothing can start: remaining tasks wait on something that will never finish
                    for p in pending:
                        outcomes[p.task.key] = TaskOutcome(p.task.key, TaskState.SKIPPED,
                                                           message="dependencies never satisfied")
                    pending.clear()
                time.sleep(self.poll_s)
        except KeyboardInterrupt:
            for key, (proc, _, fh) in running.items():
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                proc.wait()
                fh.close()
                outcomes[key] = TaskOutcome(key, TaskState.CANCELLED, message="interrupted")
            for p in pending:
                outcomes[p.task.key] = TaskOutcome(p.task.key, TaskState.CANCELLED, message="interrupted")
            raise
        return outcomes
