"""Input files a plan's tasks read from the config, checked before anything runs.

A step declares them (:meth:`Step.input_files`: config key and path). A missing file would
otherwise surface only when the task runs, possibly hours into a run, behind the tasks before
it; the plan names each missing one by its config key instead. Only tasks that will run are
checked: a cached ingest does not need its source files any more.
"""
from __future__ import annotations

from dataclasses import dataclass

from nmframe.datafiles import resolve
from nmframe.engine.registry import get_step


@dataclass(frozen=True)
class MissingInput:
    key: str       # the config key that names the file, e.g. source.files[0].path
    path: str
    task_id: str   # the first task that reads it

    def line(self) -> str:
        return f"missing input file: {self.key}={self.path} (read by {self.task_id})"


def missing_inputs(plan_entries, points) -> list[MissingInput]:
    """Each (config key, path) read by a task that will run and that names no file, once."""
    seen: set[tuple[str, str]] = set()
    found: dict[str, bool] = {}
    missing = []
    for e in plan_entries:
        if not e.run:
            continue
        for key, path in get_step(e.task.step).input_files(points[e.point][1], e.task.params):
            path = str(path)
            if (key, path) in seen:
                continue
            seen.add((key, path))
            if path not in found:
                found[path] = bool(resolve(path))
            if not found[path]:
                missing.append(MissingInput(key, path, e.task.id))
    return missing
