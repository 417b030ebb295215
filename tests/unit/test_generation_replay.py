"""The replay teacher: scripted traces chosen per sample, answered through the real loop and sandbox."""
import json

import pytest

from nmframe.answers import grade
from nmframe.datafiles import PKG_DATA
from nmframe.generation.base import CompletionRequest
from nmframe.generation.replay_backend import ReplayBackend, ReplayLibrary, ReplayLibraryError
from nmframe.generation.tir import STOP_STRINGS, LoopSettings, SampleSpec, TirLoop
from nmframe.harmony import render_problem_prompt
from nmframe.harmony.protocol import CALL, RETURN
from nmframe.harmony.render import render_tool_output

PROBLEMS = [json.loads(line) for line in (PKG_DATA / "samples" / "problems.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def backend():
    return ReplayBackend()


def request(problem=PROBLEMS[0], effort="high", tir=True, seed=0, max_tokens=10_000, completion=""):
    prompt = render_problem_prompt(problem["problem"], effort, with_python_tool=tir) + completion
    return CompletionRequest(prompt=prompt, max_tokens=max_tokens, stop=list(STOP_STRINGS), seed=seed)


def names(backend, effort, tir, seeds=range(200), problem=PROBLEMS[0]):
    lib = backend.library
    return {lib.choose(lib.by_text[problem["problem"]].problem_id, effort, tir, s).name for s in seeds}


def test_the_same_sample_always_gets_the_same_text_and_seeds_spread_over_templates(backend):
    a = backend.complete([request(seed=s) for s in range(40)])
    b = backend.complete([request(seed=s) for s in range(40)])
    assert [r.text for r in a] == [r.text for r in b]
    assert len({r.text for r in a}) >= 3   # several traces, not one answer for every seed
    assert names(backend, "high", True) == {"tool_solve_careful", "tool_error_then_fix", "tool_slip", "tool_long"}


def test_effort_and_tool_setting_choose_the_candidate_templates(backend):
    assert names(backend, "low", True) == {"tool_solve_quick", "tool_slip", "tool_unsure"}
    assert names(backend, "low", False) == {"direct", "direct_slip"}
    assert names(backend, "high", False) == {"direct", "direct_slip", "direct_long"}
    for s in range(30):
        (plain,) = backend.complete([request(tir=False, effort="medium", seed=s)])
        assert "to=python" not in plain.text and plain.finish_reason == "stop" and plain.stop_reason == RETURN
        (tool,) = backend.complete([request(tir=True, effort="low", seed=s)])
        assert tool.text.startswith("<|channel|>analysis<|message|>") and tool.stop_reason == CALL
        assert "to=python code<|message|>" in tool.text and not tool.text.endswith(CALL)  # stop string left out


def test_max_tokens_cuts_the_turn_and_reports_length(backend):
    (full,) = backend.complete([request(tir=False, seed=3)])
    (cut,) = backend.complete([request(tir=False, seed=3, max_tokens=5)])
    assert cut.finish_reason == "length" and cut.completion_tokens == 5
    assert full.text.startswith(cut.text) and len(cut.text) < len(full.text)
    assert full.completion_tokens > 5 and RETURN not in full.text


def test_the_final_answer_quotes_the_tool_output_of_the_prompt(backend):
    seed = next(s for s in range(100) if names(backend, "high", True, [s]) == {"tool_solve_careful"})
    (first,) = backend.complete([request(seed=seed)])
    completion = first.text + CALL + render_tool_output("12345\n")
    (final,) = backend.complete([request(seed=seed + 1, completion=completion)])
    assert "\\boxed{12345}" in final.text and final.finish_reason == "stop"


def test_unknown_problems_and_foreign_prompts_are_error_results(backend):
    (unknown,) = backend.complete([request(problem={"problem": "What is 2 + 2?"})])
    assert unknown.finish_reason == "error" and "no trace for this problem" in unknown.error
    assert "replay_traces.json" in unknown.error
    (foreign,) = backend.complete([CompletionRequest(prompt="Is 1/2 equal to 0.5?", max_tokens=8)])
    assert foreign.finish_reason == "error" and "harmony teacher prompts only" in foreign.error


def test_a_malformed_library_is_one_line_naming_the_file_and_template(tmp_path):
    doc = json.loads((PKG_DATA / "teacher" / "replay_traces.json").read_text())
    doc["problems"], doc["solutions"] = "pkg://samples/problems.jsonl", "pkg://teacher/tir_traces.json"
    doc["templates"][1]["turns"][-1] = "no terminator"
    bad = tmp_path / "lib.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(ReplayLibraryError, match=r"lib.json: templates\[1\] \(tool_solve_quick\) turn 1: must end with <\|return\|>"):
        ReplayLibrary.load(str(bad))
    with pytest.raises(ReplayLibraryError, match="missing.json: cannot read"):
        ReplayLibrary.load(str(tmp_path / "missing.json"))


def test_generate_cache_key_covers_the_trace_library():
    from nmframe.config import compose
    from nmframe.engine import get_step

    step = get_step("generate")
    params = {"mode": "high", "tir": True, "seed": 0, "shard": 0}
    replay = step.config_slice(compose(["experiment=quickstart"]), params)
    assert replay["teacher.content"] == ReplayLibrary.load(replay["teacher.model"]).digest
    assert "teacher.content" not in step.config_slice(compose(["experiment=quickstart", "teacher=tiny"]), params)


def test_the_loop_runs_the_replayed_calls_in_the_sandbox(backend):
    from nmframe.sandbox import Sandbox

    specs = [SampleSpec(p, mode, True, seed, 1000 + seed) for p in PROBLEMS[:3] for mode in ("high", "low")
             for seed in range(2)]
    with Sandbox(max_sessions=16) as sandbox:
        loop = TirLoop(backend, LoopSettings(max_tokens=4096), sandbox)
        try:
            recs = loop.run(specs)
        finally:
            loop.close()
    assert sum(r["sandbox"]["ok"] for r in recs) >= len(recs)          # every trace has a call that ran
    assert any(r["sandbox"]["error"] for r in recs)                     # the error-then-fix trace's first call
    outcomes = {grade(r["expected_answer"], r["final_answer"]).outcome for r in recs if r["final_answer"]}
    assert outcomes == {"correct", "wrong"}
    for r in recs:
        if r["final_answer"] is not None:  # the boxed answer is what the last call printed
            assert r["messages"][-2]["content"].strip().splitlines()[-1] == r["final_answer"], r["completion"]
