"""A TIR generate task records how its tool calls were contained in its manifest."""
from __future__ import annotations

import json

import pytest

BASE = ["experiment=quickstart", "teacher=tiny", "pipeline.steps=[ingest,generate]", "tracking.wandb_mode=disabled",
        "mode=high", "teacher.num_samples=1", "generate.cpus=1", "tir=on", "generate.max_problems=1"]


@pytest.mark.slow
def test_generate_manifest_records_the_sandbox_isolation(tmp_path):
    from nmframe.cli import main
    from nmframe.testing.scripted_backend import ScriptedBackend
    from nmframe.testing.completions_server import CompletionsServer

    call = ("<|channel|>analysis<|message|>check<|end|><|start|>assistant<|channel|>analysis to=python code"
            "<|message|>print('\\x1b[2J' + str(40 + 2))<|call|>")
    final = "<|channel|>final<|message|>\\boxed{42}<|return|>"
    with CompletionsServer(ScriptedBackend([call, final])) as server:
        run = BASE + ["teacher.backend=openai", f"teacher.endpoint={server.endpoint}", f"paths.outputs={tmp_path}"]
        assert main(["run"] + run) == 0
    (art,) = [d for d in (tmp_path / "artifacts" / "generate").iterdir() if (d / "manifest.json").exists()]
    manifest = json.loads((art / "manifest.json").read_text())
    iso = manifest["metrics"]["sandbox_isolation"]
    assert (iso["mode"], iso["missing"], iso["seccomp"], iso["private_root"]) == ("isolated", [], True, True)
    assert iso["limits"]["disk_inodes"] > 0 and "session_memory_cgroup" in iso["limits"]
    (rec,) = [json.loads(line) for line in (art / "samples.jsonl").read_text().splitlines()]
    # the escape sequence reached the model escaped, not raw
    assert rec["messages"][2]["content"] == "\\x1b[2J42"
