"""The hostile-code suite: every attempt in hostile_cases.py must be contained.

Runs as whoever runs pytest: root in CI, and an ordinary user through
test_unprivileged.py, which runs this file again with ``setpriv``.  The sandbox is created
from inside a project folder holding a ``.env`` and checkout outputs, as a real run would be.
``NMFRAME_TEST_SANDBOX_CGROUP`` names a cgroup delegated to the user (set by that test).
"""
from __future__ import annotations

import os

import pytest

from nmframe.sandbox import Sandbox, SandboxStartError
from nmframe.sandbox.session import PACKAGE_ROOT

from .hostile_cases import CASES, HostileHost

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    host = HostileHost(str(tmp_path_factory.mktemp("hostile")), PACKAGE_ROOT)
    old_cwd = os.getcwd()
    with host:
        os.chdir(host.project)
        try:
            box = Sandbox(max_sessions=8, memory_mb=512, max_processes=32, max_file_mb=64, disk_mb=128,
                          grace_s=0.5, require_isolation=True,
                          cgroup_parent=os.environ.get("NMFRAME_TEST_SANDBOX_CGROUP") or None)
        finally:
            os.chdir(old_cwd)
        with box:
            try:
                info = box.isolation
            except SandboxStartError as exc:
                pytest.skip(str(exc))
            yield box, host, info


def test_isolation_is_complete(hostile):
    _, _, info = hostile
    assert (info["mode"], info["missing"]) == ("isolated", [])
    assert info["userns"] == (os.geteuid() != 0)
    if os.environ.get("NMFRAME_TEST_SANDBOX_CGROUP"):
        assert info["cgroup"] and info["limits"]["session_memory_cgroup"]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_case_is_contained(hostile, case):
    from .hostile_cases import run_case

    box, host, _ = hostile
    sid = "h-" + case.name.replace(" ", "-")
    try:
        contained, detail = run_case(box, case, host, sid)
    finally:
        box.close_session(sid)
    assert contained, detail
