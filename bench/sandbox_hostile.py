"""Run every hostile cell of tests/sandbox/hostile_cases.py against one Sandbox and print a table.

A case counts as contained when the attack failed (its own criterion, checked on the host
where that is possible) AND the same session then answered an ordinary cell correctly.  The
sandbox is created from inside a bait project folder (a ``.env``, checkout outputs), as a real
run would be.  Run it as root and as an ordinary user; the same cases run in the test suite
(tests/sandbox/test_hostile.py, and as an ordinary user through test_unprivileged.py).

    python bench/sandbox_hostile.py
"""
from __future__ import annotations

import os
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from nmframe.sandbox import Sandbox  # noqa: E402
from nmframe.sandbox.session import PACKAGE_ROOT  # noqa: E402
from tests.sandbox.hostile_cases import CASES, HostileHost, run_case  # noqa: E402


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory(prefix="nmframe-hostile-") as top, HostileHost(top, PACKAGE_ROOT) as host:
        old = os.getcwd()
        os.chdir(host.project)
        try:
            sb = Sandbox(max_sessions=8, memory_mb=512, max_processes=32, max_file_mb=64, disk_mb=128, grace_s=0.5)
        finally:
            os.chdir(old)
        with sb:
            info = sb.isolation
            print(f"isolation: {info['mode']} (missing: {', '.join(info['missing']) or 'nothing'}; "
                  f"user namespace: {info['userns']}; cgroup: {info['cgroup']})")
            for i, case in enumerate(CASES):
                sid = f"h{i}"
                contained, detail = run_case(sb, case, host, sid)
                rows.append((case.name, "yes" if contained else "NO", detail))
                sb.close_session(sid)
    width = max(len(r[0]) for r in rows)
    for name, ok, detail in rows:
        print(f"{name:<{width}}  {ok:<3}  {detail if ok == 'NO' else ''}"[:400])
    n_ok = sum(r[1] == "yes" for r in rows)
    print(f"attempts: {len(rows)}, contained: {n_ok}")
    return 0 if n_ok == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
