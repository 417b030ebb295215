"""The pieces of the sandbox that need no session: escaping, frames, exposed paths, cgroups."""
from __future__ import annotations

import os
import sys

import pytest

from nmframe.sandbox import Sandbox, cgroups, protocol
from nmframe.sandbox.result import escape_controls
from nmframe.sandbox.session import PACKAGE_ROOT, interpreter_paths


def test_control_characters_are_escaped_but_newline_and_tab_kept():
    assert escape_controls("a\x1b[31mb\r\x00\x07\x7f\x9b\n\tz é") == "a\\x1b[31mb\\x0d\\x00\\x07\\x7f\\x9b\n\tz é"


def test_pending_sees_an_unrequested_frame():
    r, w = os.pipe()
    try:
        assert not protocol.pending(r)
        os.write(w, protocol.encode({"status": "ok"}))
        assert protocol.pending(r)
        assert protocol.read_frame(r, None) == {"status": "ok"}
        assert not protocol.pending(r)
    finally:
        os.close(r)
        os.close(w)


def test_exposed_paths_never_include_the_checkout_or_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [str(tmp_path), "/", os.path.dirname(PACKAGE_ROOT), *sys.path])
    paths = interpreter_paths(sys.executable)
    assert os.path.realpath(sys.base_prefix) in paths
    for hidden in (str(tmp_path), os.path.realpath(PACKAGE_ROOT)):
        assert not any(hidden == p or hidden.startswith(p.rstrip("/") + "/") for p in paths), (hidden, paths)


def test_missing_cgroup_parent_is_reported_in_one_line():
    parents, note = cgroups.find_parents("nmframe-no-such-group/child")
    assert parents == {}
    assert note.startswith("no writable memory and pids cgroup (") and "nmframe-no-such-group/child" in note
    assert "\n" not in note


def test_session_memory_cgroup_counts_tmpfs_pages():
    """Files in the working directory are memory: with a session cgroup they cannot outgrow it."""
    if not cgroups.find_parents()[0]:
        pytest.skip("no writable memory and pids cgroup here")
    code = ("for i in range(16):\n    with open(f'b{i}', 'wb') as f:\n        for _ in range(64):\n"
            "            f.write(b'0' * 2**20)\nprint('wrote 1 GiB')")
    with Sandbox(max_sessions=1, memory_mb=256, disk_mb=2048) as sb:
        assert sb.isolation["cgroup"]
        r = sb.execute(code, timeout=30)
        assert r.status == "killed" and r.session_lost and "SIGKILL" in r.message
        assert sb.execute("6 * 7").stdout == "42\n"
