"""The generate step in the engine: fan-out, cache keys, resources, a CPU run and its resume."""
from __future__ import annotations

import json

import pytest

from nmframe.config import compose
from nmframe.engine.dag import build_dag

BASE = ["experiment=quickstart", "pipeline.steps=[ingest,generate]", "tracking.wandb_mode=disabled", "teacher=tiny"]
# pinned here so these tests do not follow the quickstart's sizes (nor its replay teacher: they test the hf one)
PINNED = ["mode=high", "teacher.num_samples=2", "generate.cpus=8"]


def gen_tasks(*overrides):
    cfg = compose(BASE + PINNED + list(overrides))
    return cfg, [t for t in build_dag(cfg).tasks if t.step == "generate"]


def keys(*overrides):
    return {tuple(sorted(t.params.items())): t.key for t in gen_tasks(*overrides)[1]}


def test_fan_out_over_mode_tir_seed_shard():
    _, tasks = gen_tasks("mode=all", "tir=both", "teacher.num_samples=2", "generate.shards=3")
    assert len(tasks) == 3 * 2 * 2 * 3
    assert tasks[0].params == {"mode": "high", "tir": True, "seed": 0, "shard": 0}
    assert {t.params["mode"] for t in tasks} == {"high", "medium", "low"}
    assert len({t.key for t in tasks}) == len(tasks)


def test_keys_change_only_with_what_changes_the_samples():
    base = keys()
    # speed knobs and the number of seeds do not touch existing tasks
    assert keys("generate.batch_size=7", "teacher.max_concurrency=3", "generate.tool_workers=2",
                "teacher.endpoint=http://x:1", "generate.cpus=3").items() == base.items()
    more = keys("teacher.num_samples=4")
    assert all(more[p] == k for p, k in base.items()) and len(more) == 2 * len(base)
    # sampling settings change every task
    assert not set(keys("teacher.temperature=0.6").values()) & set(base.values())
    # tool limits change only the TIR tasks
    changed = keys("tir.max_calls=5")
    for p, k in base.items():
        assert (changed[p] != k) == dict(p)["tir"]


def test_resources_by_backend():
    _, (t, *_) = gen_tasks()
    assert t.resources.gpus == 0
    _, (t, *_) = gen_tasks("teacher=gpt_oss_120b")
    assert (t.resources.gpus, t.resources.nodes) == (8, 1)
    _, (t, *_) = gen_tasks("teacher=gpt_oss_120b_server")
    assert t.resources.gpus == 8
    _, (t, *_) = gen_tasks("teacher=gpt_oss_120b_server", "teacher.endpoint=http://teacher:8000/v1")
    assert t.resources.gpus == 0 and t.resources.cpus == 8


@pytest.mark.slow
def test_cpu_run_resumes_from_scratch_and_caches(tmp_path):
    from nmframe.cli import main

    run = BASE + PINNED + ["tir=on", "teacher.num_samples=1", "generate.max_problems=3", "generate.cpus=1",
                  "teacher.max_tokens=8", f"paths.outputs={tmp_path}"]
    _, (task,) = gen_tasks(*run[3:])
    assert task.params == {"mode": "high", "tir": True, "seed": 0, "shard": 0}
    # a killed earlier attempt left one finished record and a torn line in the task's scratch file
    scratch = tmp_path / "scratch" / "generate" / task.key
    scratch.mkdir(parents=True)
    kept = {"problem_id": "sample-00", "mode": "high", "tir": True, "seed": 0, "completion": "FROM BEFORE",
            "finish_reason": "stop", "length_limit": None, "final_answer": "42", "finished": True,
            "num_tool_calls": 0, "num_parse_issues": 0, "errors": [],
            "sandbox": {"ok": 0, "error": 0, "timeout": 0, "killed": 0, "session_resets": 0},
            "tokens": {"prompt": 1, "completion": 1, "teacher_completion": 1},
            "timings": {"model_s": 0.0, "tool_s": 0.0}}
    (scratch / "samples.partial.jsonl").write_text(json.dumps(kept) + "\n" + '{"problem_id": "sam')

    assert main(["run"] + run) == 0
    art = tmp_path / "artifacts" / "generate" / task.key
    recs = [json.loads(line) for line in (art / "samples.jsonl").read_text().splitlines()]
    assert sorted(r["problem_id"] for r in recs) == ["sample-00", "sample-01", "sample-02"]
    assert recs[0]["completion"] == "FROM BEFORE"          # not generated again
    for r in recs[1:]:
        assert r["backend"] == "hf" and r["model"] == "builtin:tiny" and r["tir"] is True
        assert r["tokens"]["completion"] <= 8 and r["finish_reason"] in ("stop", "length")
        assert r["messages"][0]["role"] == "user" and r["expected_answer"] is not None
    summary = json.loads((art / "summary.json").read_text())
    assert summary["records"] == 3 and summary["shard"]["resumed"] == 1 and summary["shard"]["generated"] == 2
    assert summary["shard"]["torn_bytes_repaired"] == len('{"problem_id": "sam')
    assert sum(summary["finish_reason"].values()) == 3
    assert not scratch.exists()  # partial work is removed once the artifact is committed
    metrics = json.loads((art / "metrics.json").read_text())
    assert metrics["records"] == 3 and metrics["resumed"] == 1
    # same config again: cached, nothing recomputed
    before = (art / "manifest.json").read_text()
    assert main(["run"] + run) == 0
    assert (art / "manifest.json").read_text() == before


@pytest.mark.slow
def test_openai_backend_step_against_a_local_server(tmp_path):
    from nmframe.cli import main
    from nmframe.testing.scripted_backend import ScriptedBackend
    from nmframe.testing.completions_server import CompletionsServer

    call = ("<|channel|>analysis<|message|>check<|end|><|start|>assistant<|channel|>analysis to=python code"
            "<|message|>print(40 + 2)<|call|>")
    final = "<|channel|>final<|message|>\\boxed{42}<|return|>"
    with CompletionsServer(ScriptedBackend([call, final])) as server:
        run = BASE + PINNED + ["tir=on", "teacher.num_samples=1", "generate.max_problems=2", "generate.cpus=1",
                      "teacher.backend=openai", f"teacher.endpoint={server.endpoint}", "teacher.max_concurrency=2",
                      f"paths.outputs={tmp_path}"]
        assert main(["run"] + run) == 0
    (art,) = [d for d in (tmp_path / "artifacts" / "generate").iterdir() if (d / "manifest.json").exists()]
    recs = [json.loads(line) for line in (art / "samples.jsonl").read_text().splitlines()]
    assert len(recs) == 2 and server.requests == 4 and server.max_in_flight <= 2
    for r in recs:
        assert r["backend"] == "openai" and r["num_tool_calls"] == 1 and r["final_answer"] == "42"
        assert r["messages"][2] == {"role": "tool", "content": "42", "tool_call_id": "call_0",
                                    "name": "stateful_python_code_exec"}
        assert r["sandbox"]["ok"] == 1 and r["finish_reason"] == "stop"
