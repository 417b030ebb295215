"""generate/evaluate's rule: model-written code runs isolated, or is refused, or (when the config
allows it) runs with the missing parts logged and recorded."""
from __future__ import annotations

import json
import logging

import pytest

from nmframe.sandbox.policy import IsolationRefused, manifest_entry, open_for_untrusted_code

UNISOLATED = dict(namespaces=False, seccomp=False, run_as_uid=False, use_cgroup=False, max_sessions=2)


def test_refuses_with_one_line_naming_what_is_missing():
    with pytest.raises(IsolationRefused) as err:
        open_for_untrusted_code(False, logging.getLogger("t"), **UNISOLATED)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith("refusing to run model-written code: untrusted code cannot be isolated on this host: "
                          "no network namespace, no PID namespace, no mount namespace, no private root file system, "
                          "no seccomp filter")
    assert msg.endswith("set sandbox.allow_unisolated=true to run it anyway")


def test_allow_unisolated_runs_and_logs_the_missing_parts(caplog):
    with caplog.at_level(logging.WARNING):
        box, entry = open_for_untrusted_code(True, logging.getLogger("t"), **UNISOLATED)
    with box:
        assert box.execute("6 * 7").stdout == "42\n"
    assert entry["mode"] == "unisolated"
    assert "network namespace" in entry["missing"] and "seccomp filter" in entry["missing"]
    assert any("UNISOLATED" in r.getMessage() or "PARTIAL" in r.getMessage() for r in caplog.records)
    json.dumps(entry)  # recorded as-is in the step's manifest


def test_isolated_sandbox_reports_its_mode_and_limits():
    box, entry = open_for_untrusted_code(False, logging.getLogger("t"), max_sessions=2, memory_mb=768)
    with box:
        assert box.execute("1 + 1").stdout == "2\n"
    assert (entry["mode"], entry["missing"], entry["seccomp"], entry["private_root"]) == ("isolated", [], True, True)
    assert entry["limits"]["memory_mb_per_process"] == 768
    assert manifest_entry(None) == {"mode": "unused"}
