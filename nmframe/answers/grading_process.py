"""Entry point of a grading worker process: ``python -m nmframe.answers.grading_process``.

Symbolic comparison can run for ever (``9^{9^{9^{9}}}``) inside C code that no Python
signal interrupts, and math-verify's own timeout uses ``SIGALRM``, which only works in
the main thread. So comparisons run in separate, persistent processes that the parent
simply kills when an item overruns its time (see :mod:`.pool`). This keeps the timeout
working from any thread and from inside other worker processes.

Protocol, one JSON document per line: the worker prints ``READY`` once math-verify is
loaded, then for each input line (a list of ``[gold, pred]`` pairs) prints one line
``[outcome, reason]`` per pair, in order, as soon as that pair is decided, so the
parent can time every item separately.

The address space is capped (``NMFRAME_GRADER_MEM_MB``, default 4096) so an expression
that explodes in memory fails with MemoryError ("ungraded") instead of hurting the host.
The line ``"finish"`` asks the worker to end. It exits then, when its input closes, or
when its parent process disappears; in the first two cases it first saves the LaTeX
parser's prediction cache if it grew (:mod:`.parser_cache`), so the next worker starts
warm.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time


def _limit_memory() -> None:
    try:
        import resource

        mb = int(os.environ.get("NMFRAME_GRADER_MEM_MB", "4096"))
        if mb > 0:
            cap = mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    except Exception:  # noqa: BLE001 - a platform without the limit still grades
        pass


def _watch_parent() -> None:
    parent = os.getppid()

    def loop() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=loop, daemon=True).start()


def main() -> int:
    _limit_memory()
    _watch_parent()
    from nmframe.answers.mv_judge import judge, parse_answer
    from nmframe.answers.pool import FINISH

    parse_answer("1")  # load grammars now, not while an item's clock is running
    out = sys.stdout
    out.write("READY\n")
    out.flush()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        batch = json.loads(line)
        if batch == FINISH:  # the pool is closing
            break
        for gold, pred in batch:
            try:
                res = judge(gold, pred)
            except BaseException as e:  # noqa: BLE001 - MemoryError, RecursionError, ...
                if isinstance(e, (KeyboardInterrupt, SystemExit)):
                    raise
                res = ("ungraded", f"error: {type(e).__name__}: {str(e)[:200]}")
            out.write(json.dumps(res) + "\n")
            out.flush()
    from nmframe.answers import parser_cache

    parser_cache.save_if_grown(min_new_states=16)
    return 0


if __name__ == "__main__":
    sys.exit(main())
