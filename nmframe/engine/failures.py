"""What went wrong in a run, in as few lines as a person needs: each failed task with the last
error line of its log, and its dependants that never ran counted in one line.

Why: a failing ingest used to print an exit code, a log path, and one "skipped" line for each of
the dozens of tasks downstream of it; the reason was only in the log.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

#: A Python exception's last traceback line ("ValueError: ...", "nmframe.x.IngestError: ...").
_EXCEPTION = re.compile(r"^(?:[A-Za-z_][\w]*\.)*[A-Z]\w*(?:Error|Exception|Exit|Interrupt|Failure)\b(?::|$)")
#: A logged error line ("2026-01-01 ... ERROR nmframe.steps.ingest: ...").
_LOGGED_ERROR = re.compile(r"\b(?:ERROR|CRITICAL)\b")
TAIL_BYTES = 64 * 1024
MAX_CHARS = 300


def last_error_line(log_path: Path | None, recorded: str = "") -> str:
    """The final exception line of a task's log, else its last logged ERROR line, else what the
    worker recorded, else the log's last line: one line, at most MAX_CHARS characters."""
    lines: list[str] = []
    if log_path is not None:
        try:
            with open(log_path, "rb") as f:
                f.seek(0, 2)
                f.seek(max(0, f.tell() - TAIL_BYTES))
                lines = [ln.rstrip() for ln in f.read().decode("utf-8", "replace").splitlines() if ln.strip()]
        except OSError:
            lines = []
    found = (next((ln for ln in reversed(lines) if _EXCEPTION.match(ln)), None)
             or next((ln for ln in reversed(lines) if _LOGGED_ERROR.search(ln)), None)
             or (recorded.splitlines()[0] if recorded.strip() else None)
             or (lines[-1] if lines else "no log output"))
    found = found.strip()
    return found if len(found) <= MAX_CHARS else found[:MAX_CHARS - 3] + "..."


@dataclass
class Failure:
    key: str
    task_id: str
    state: str          # failed, cancelled
    error: str          # its last error line
    log_path: Path | None
    not_run: int = 0    # tasks downstream of it that never ran because of it


def summarise(tasks, outcomes: dict, log_paths: dict[str, Path], recorded: dict[str, str] | None = None) -> list[Failure]:
    """``tasks``: the plan's tasks in topological order; ``outcomes``: key -> TaskOutcome. Each
    task that ended badly on its own, with the number of tasks that did not run because of it (a
    task downstream of two failures counts for the first)."""
    recorded = recorded or {}
    failures: dict[str, Failure] = {}
    blame: dict[str, str] = {}
    for t in tasks:
        out = outcomes.get(t.key)
        if out is None or out.state.ok or out.state.value == "pending":
            continue
        if out.state.value == "skipped":
            cause = next((blame.get(d, d) for d in t.deps if d in blame or d in failures), None)
            if cause is not None and cause in failures:
                blame[t.key] = cause
                failures[cause].not_run += 1
                continue
        failures[t.key] = Failure(t.key, t.id, out.state.value,
                                  last_error_line(log_paths.get(t.key), recorded.get(t.key) or out.message),
                                  log_paths.get(t.key))
        blame[t.key] = t.key
    return list(failures.values())


def failure_lines(failures: list[Failure]) -> list[str]:
    """Plain lines for the terminal: the failure and its cause, where its log is, what it held up."""
    out = []
    for f in failures:
        out.append(f"{f.state} {f.task_id}: {f.error}")
        if f.log_path is not None and f.log_path.exists():  # a job that never started has none
            out.append(f"  log: {f.log_path}")
        if f.not_run:
            out.append(f"  {f.not_run} task{'s' if f.not_run != 1 else ''} not run because {f.task_id} {f.state}")
    return out
