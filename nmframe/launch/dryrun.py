"""Print what would be executed, run nothing.

`target=local` prints the worker command of each task; `target=slurm` prints the sbatch script
each task would be submitted with (dependencies shown as the upstream tasks' ids, since job ids
exist only after submission).
"""
from __future__ import annotations

import shlex
from typing import Callable

from nmframe.engine.execution import ExecutionPlan, Launcher, TaskOutcome, TaskState


class DryRunLauncher(Launcher):
    name = "dryrun"

    def __init__(self, target: str = "local", slurm_options=None, echo: Callable[[str], None] = print):
        self.target = target
        self.slurm_options = slurm_options
        self.echo = echo

    def render(self, plan: ExecutionPlan) -> list[str]:
        out = []
        ids = {p.task.key: p.task.id for p in plan.tasks}
        for i, p in enumerate(plan.tasks):
            deps = ", ".join(ids.get(d, d) for d in p.deps) or "none"
            header = f"# [{i + 1}/{len(plan.tasks)}] {p.task.id}  key={p.task.key}  after: {deps}"
            if self.target == "slurm":
                from nmframe.launch.slurm import render_sbatch

                out.append(header + "\n" + render_sbatch(p, self.slurm_options, plan.run_dir))
            else:
                out.append(header + "\n" + shlex.join(p.command))
        return out

    def launch(self, plan: ExecutionPlan) -> dict[str, TaskOutcome]:
        for block in self.render(plan):
            self.echo(block)
        return {p.task.key: TaskOutcome(p.task.key, TaskState.PENDING, message="dry run") for p in plan.tasks}
