"""What one cell execution returns, and the exact text the model is shown.

Kept separate from the process machinery so that graders and trace writers can import the
result type (and the truncation rule) without pulling in any of the isolation code.
"""
from __future__ import annotations

from dataclasses import dataclass

STATUSES = ("ok", "error", "timeout", "killed")

RESET_NOTICE = "[The Python session was reset; earlier variables are lost.]"


_CONTROLS = {c: f"\\x{c:02x}" for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)] if chr(c) not in "\n\t"}


def escape_controls(text: str) -> str:
    """Escape every control character but newline and tab (``\\x1b`` for ESC...), so that a
    cell's output cannot carry terminal escape sequences, NULs or carriage returns into the
    model's context, the logs or a report."""
    return text.translate(_CONTROLS)


def truncation_marker(dropped: int) -> str:
    return f"... [truncated {dropped} chars]"


def compose_capped(head: str, tail: str, total: int, limit: int, keep: str = "head") -> str:
    """Build the capped text from the first/last ``limit`` characters of a stream.

    ``head`` holds the first ``min(total, limit)`` characters, ``tail`` the last ones and
    ``total`` how many characters were written in all.  ``keep`` picks which part survives:
    "head" (the start, as the paper's 1,000-character cut), "tail" (the end: where a traceback
    puts the exception) or "middle" (half of each, the cut in between).
    """
    if total <= limit:
        return head
    dropped = total - limit
    marker = truncation_marker(dropped)
    if keep == "tail":
        return marker + "\n" + (tail[-limit:] if limit else "")
    if keep == "middle":
        first = limit // 2
        last = limit - first
        return head[:first] + "\n" + marker + "\n" + (tail[-last:] if last else "")
    return head[:limit] + "\n" + marker


def cap_text(text: str, limit: int, keep: str = "head") -> str:
    """Cap an already materialised string (the parent's second line of defence)."""
    if len(text) <= limit:
        return text
    return compose_capped(text[:limit], text[-limit:] if limit else "", len(text), limit, keep)


@dataclass
class ExecResult:
    """Outcome of one ``Sandbox.execute`` call.

    status: "ok" (ran to the end), "error" (an exception; the traceback is in ``stderr`` and
    the session keeps its state), "timeout" (stopped at the time limit; ``session_lost`` says
    whether the session had to be killed) or "killed" (the worker died: memory, CPU hard limit,
    the code killed itself...).  ``session_reset`` is True when this cell ran in a fresh
    session although the caller had used the session before (after a kill or an eviction).
    """

    status: str
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0
    session_reset: bool = False
    session_lost: bool = False
    message: str = ""
    session_id: str = "default"

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def tool_output(self) -> str:
        """The text returned to the model as the python tool's answer."""
        parts = []
        if self.session_reset:
            parts.append(RESET_NOTICE)
        if self.stdout:
            parts.append(self.stdout.rstrip("\n"))
        if self.stderr:
            parts.append(self.stderr.rstrip("\n"))
        if self.message and self.status in ("timeout", "killed"):
            parts.append(self.message)
        return "\n".join(parts)

    def to_dict(self) -> dict:
        return {
            "status": self.status,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "duration_s": self.duration_s,
            "session_reset": self.session_reset,
            "session_lost": self.session_lost,
            "message": self.message,
            "session_id": self.session_id,
        }
