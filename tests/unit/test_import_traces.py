"""import_traces: each input shape converts to prepare_sft's trace records, bad rows are counted
with file:line, arms are mixed to exact seeded sizes on matched problems, and the records render
with the chat template; the Table 3 sweep plans its three arms on shared generation."""
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from omegaconf import OmegaConf

from nmframe.harmony import user_prompt
from nmframe.problems import problem_id
from nmframe.sft.external import (
    FilteredRow,
    ImportTracesError,
    MalformedRow,
    Source,
    Tally,
    allocate,
    build,
    convert_row,
    draw,
    read_source,
    split_think,
    split_total,
)
from nmframe.sft.format import SkipTrace, render_trace, trace_record

OMR_SOLUTION = "<think>\nLet me add: 2 + 3 = 5.\n</think>\n\nThe sum is \\boxed{5}."


def omr_row(problem="What is 2 + 3?", **kw):
    return {"problem": problem, "generated_solution": OMR_SOLUTION, "expected_answer": "5",
            "inference_mode": "cot", "problem_source": "aops_c4_high_school_math", **kw}


def released_row(problem="What is 6 times 7?", tools=True):
    msgs = [{"role": "user", "content": user_prompt(problem), "reasoning_content": None, "tool_calls": None},
            {"role": "assistant", "content": None, "reasoning_content": "Compute it.",
             "tool_calls": [{"type": "function", "function": {"name": "python", "arguments": '{"code": "print(6*7)"}'}}]},
            {"role": "tool", "content": "42\n", "reasoning_content": None, "tool_calls": None},
            {"role": "assistant", "content": "The answer is \\boxed{42}.", "reasoning_content": "So 42.",
             "tool_calls": None}]
    return {"uuid": "u-1", "problem": problem, "expected_answer": "42", "data_source": "aops",
            "messages": msgs, "tools": [{"type": "function"}] if tools else [], "metadata": "{}"}


# ------------------------------------------------------------------------------------------- shapes
def test_omr_row_becomes_a_chat_trace_split_at_think():
    rec = convert_row(omr_row(), "omr")
    assert rec["problem_id"] == problem_id("What is 2 + 3?") and rec["mode"] == "high" and rec["tir"] is False
    assert rec["template"] == "chat" and rec["kept"] is True and rec["data_source"] == "aops_c4_high_school_math"
    assert rec["messages"] == [{"role": "user", "content": user_prompt("What is 2 + 3?")},
                               {"role": "assistant", "content": "The sum is \\boxed{5}.",
                                "reasoning_content": "Let me add: 2 + 3 = 5."}]
    assert convert_row(omr_row(inference_mode="tir"), "auto")["tir"] is True  # auto detects omr
    assert convert_row(omr_row(), "omr", default_mode="medium")["mode"] == "medium"


def test_omr_solution_without_think_is_all_content_and_bad_rows_raise():
    assert split_think("Just \\boxed{1}.") == ("", "Just \\boxed{1}.")
    assert split_think("<think>a</think>b</think>c") == ("a", "b</think>c")
    with pytest.raises(FilteredRow, match="genselect"):
        convert_row(omr_row(inference_mode="genselect"), "omr")
    with pytest.raises(MalformedRow, match="bad_inference_mode: inference_mode 'sketch'"):
        convert_row(omr_row(inference_mode="sketch"), "omr")
    with pytest.raises(MalformedRow, match="no_final_answer"):
        convert_row(omr_row(generated_solution="<think>only thinking</think>  "), "omr")
    with pytest.raises(MalformedRow, match="no_problem"):
        convert_row(omr_row(problem="  "), "omr")


def test_released_row_keeps_messages_and_reads_tir_and_mode():
    rec = convert_row(released_row(), "released", file_mode="medium")
    assert rec["mode"] == "medium" and rec["tir"] is True and rec["uuid"] == "u-1"
    assert rec["problem_id"] == problem_id("What is 6 times 7?") and "template" not in rec  # harmony-renderable
    assert [m["role"] for m in rec["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert "tool_calls" not in rec["messages"][0]  # Parquet's None-filled struct fields are dropped
    assert convert_row(released_row(tools=False), "released", file_mode="high")["tir"] is False
    row = {**released_row(), "mode": "LOW", "messages": json.dumps(released_row()["messages"])}
    assert convert_row(row, "auto")["mode"] == "low"  # a mode column wins; messages as a JSON string
    with pytest.raises(MalformedRow, match="no_mode"):
        convert_row(released_row(), "released")
    with pytest.raises(MalformedRow, match="bad_mode"):
        convert_row({**released_row(), "mode": "extreme"}, "released")


def test_chat_row_takes_the_problem_from_the_first_user_turn():
    msgs = [{"role": "user", "content": "Find x if x + 1 = 3."},
            {"role": "assistant", "content": "x = \\boxed{2}"}]
    rec = convert_row({"messages": msgs}, "auto")
    assert rec["problem"] == "Find x if x + 1 = 3." and rec["tir"] is False and rec["mode"] == "high"
    assert rec["template"] == "chat" and rec["problem_id"] == problem_id("Find x if x + 1 = 3.")
    tool = msgs[:1] + [{"role": "assistant", "tool_calls": [{"function": {"name": "python", "arguments": {"code": "1"}}}]},
                       {"role": "tool", "content": "1"}, msgs[1]]
    assert convert_row({"messages": tool, "mode": "low"}, "chat")["tir"] is True
    with pytest.raises(MalformedRow, match="no_assistant"):
        convert_row({"messages": msgs[:1]}, "chat")
    with pytest.raises(MalformedRow, match="bad_messages: message 0"):
        convert_row({"messages": [{"role": "narrator", "content": "x"}]}, "chat")


def test_malformed_rows_are_counted_with_file_and_line(tmp_path):
    f = tmp_path / "omr.jsonl"
    lines = [json.dumps(omr_row()), "{torn", json.dumps([1, 2]), json.dumps(omr_row(problem=None)),
             json.dumps(omr_row(inference_mode="genselect")), json.dumps({"question": "?"}),
             json.dumps(omr_row(inference_mode="tir"))]
    f.write_text("\n".join(lines) + "\n")
    tally = Tally()
    recs = list(read_source(Source("omr", [f], schema="auto", include_tir=False), tally))
    assert len(recs) == 1 and recs[0]["origin"] == f"{f}:1" and recs[0]["source_label"] == "omr"
    d = tally.as_dict()
    assert d["rows"] == 7 and d["converted"] == 1
    assert d["malformed"] == {"bad_line": 2, "no_problem": 1, "unknown_shape": 1}
    assert d["filtered"] == {"genselect": 1, "tir": 1}
    assert d["malformed_examples"][0].startswith(f"{f}:2: malformed JSON")
    assert d["malformed_examples"][1].startswith(f"{f}:3: expected a JSON object")
    assert d["malformed_examples"][2] == f"{f}:4: no_problem: field 'problem' is missing"


def test_released_parquet_mode_comes_from_the_split_name(tmp_path):
    rows = [released_row("P one"), released_row("P two", tools=False)]
    path = tmp_path / "medium-00000-of-00001.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    tally = Tally()
    recs = list(read_source(Source("nm", [path], schema="released", include_modes=("medium",)), tally))
    assert [(r["problem"], r["mode"], r["tir"]) for r in recs] == [("P one", "medium", True), ("P two", "medium", False)]
    assert tally.as_dict()["malformed"] == {}


# --------------------------------------------------------------------------------------------- mixing
def test_split_total_and_allocate_are_exact():
    assert split_total(20, {"a": 0.5, "b": 0.5}) == {"a": 10, "b": 10}
    assert split_total(21, {"a": 0.5, "b": 0.5}) == {"a": 11, "b": 10}
    assert split_total(10, {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}) == {"a": 4, "b": 3, "c": 3}
    assert allocate({"a": 0.5, "b": 0.5}, {"a": 15, "b": 40}, 20) == {"a": 10, "b": 10}
    assert allocate({"a": 0.5, "b": 0.5}, {"a": 15, "b": 40}, None) == {"a": 15, "b": 15}
    assert allocate({"a": 1.0}, {"a": 7}, None) == {"a": 7}
    with pytest.raises(ImportTracesError, match="not enough traces for a total of 40 .a: needs 20, has 15."):
        allocate({"a": 0.5, "b": 0.5}, {"a": 15, "b": 40}, 40)


def test_draw_is_seeded_and_nested():
    a = draw(100, 10, 0, "omr")
    assert list(a) == list(draw(100, 10, 0, "omr")) and len(set(a)) == 10 and list(a) == sorted(a)
    assert set(a) <= set(draw(100, 30, 0, "omr"))
    assert list(a) != list(draw(100, 10, 1, "omr")) and list(a) != list(draw(100, 10, 0, "nemotron"))


def _omr_file(path, problems, per_problem=3):
    rows = [omr_row(p, generated_solution=f"<think>t{k}</think>\\boxed{{{k}}}") for p in problems
            for k in range(per_problem)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _chat_file(path, problems, per_problem=3):
    rows = [{"messages": [{"role": "user", "content": p}, {"role": "assistant", "content": f"\\boxed{{{k}}}"}]}
            for p in problems for k in range(per_problem)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _sources(tmp_path, a_problems, b_problems):
    return [Source("a", [_omr_file(tmp_path / "a.jsonl", a_problems)], schema="omr"),
            Source("b", [_chat_file(tmp_path / "b.jsonl", b_problems)], schema="chat")]


def _labels(path):
    return [json.loads(l)["source_label"] for l in path.read_text().splitlines()]


def test_mix_draws_exact_sizes_deterministically(tmp_path):
    srcs = _sources(tmp_path, [f"Problem {i}" for i in range(5)], [f"Problem {i}" for i in range(5, 10)])
    out1, out2 = tmp_path / "o1.jsonl", tmp_path / "o2.jsonl"
    rep = build(srcs, out1, mix={"a": 0.5, "b": 0.5}, total=20, seed=0, match=False)
    assert rep["written"] == {"a": 10, "b": 10} and rep["traces"] == 20 and rep["mix"]["sizes"] == {"a": 10, "b": 10}
    assert _labels(out1).count("a") == 10
    build(srcs, out2, mix={"a": 0.5, "b": 0.5}, total=20, seed=0, match=False)
    assert out1.read_bytes() == out2.read_bytes()
    # the single-source arm contains the mixed arm's half
    single = tmp_path / "single.jsonl"
    build(srcs, single, mix={"a": 1.0}, total=15, seed=0, match=False)
    origins = {json.loads(l)["origin"] for l in single.read_text().splitlines()}
    assert len(origins) == 15 and {json.loads(l)["origin"] for l in out1.read_text().splitlines()
                                   if json.loads(l)["source_label"] == "a"} <= origins
    with pytest.raises(ImportTracesError, match="mix fractions must sum to 1"):
        build(srcs, out2, mix={"a": 0.5, "b": 0.6}, total=20, seed=0, match=False)
    with pytest.raises(ImportTracesError, match=r"mix names label\(s\) \['c'\]"):
        build(srcs, out2, mix={"c": 1.0}, total=2, seed=0, match=False)


def test_matching_keeps_only_problems_every_source_has(tmp_path):
    # a: problems 0-4, b: problems 3-7 (case and spacing differ: the normalised text still matches)
    srcs = _sources(tmp_path, [f"Problem {i}" for i in range(5)], [f"problem  {i} " for i in range(3, 8)])
    out = tmp_path / "o.jsonl"
    rep = build(srcs, out, mix={"a": 0.5, "b": 0.5}, total=None, seed=0, match=True)
    m = rep["match"]
    assert m["applied"] and m["matched_problems"] == 2 and m["problems_per_label"] == {"a": 5, "b": 5}
    assert m["traces_per_label"] == {"a": 15, "b": 15} and m["traces_on_matched"] == {"a": 6, "b": 6}
    assert rep["written"] == {"a": 6, "b": 6} and rep["problems"] == 2
    kept = {problem_id(json.loads(l)["problem"]) for l in out.read_text().splitlines()}
    assert kept == {problem_id("Problem 3"), problem_id("Problem 4")}
    with pytest.raises(ImportTracesError, match="a: needs 10, has 6"):
        build(srcs, out, mix={"a": 0.5, "b": 0.5}, total=20, seed=0, match=True)
    rep = build(srcs, out, mix=None, total=None, seed=0, match=False)
    assert rep["written"] == {"a": 15, "b": 15} and rep["match"]["matched_problems"] is None


# ------------------------------------------------------------------------------------------- rendering
def test_imported_records_render_with_the_chat_template():
    from nmframe.models.tiny import build_tiny_tokenizer

    tok = build_tiny_tokenizer()
    rec = trace_record(convert_row(omr_row(), "omr"))
    ids, mask = render_trace(rec, "chat", tok)
    target = tok.decode(ids[mask.astype(bool)].tolist())
    context = tok.decode(ids[~mask.astype(bool)].tolist())
    assert "Let me add: 2 + 3 = 5." in target and "\\boxed{5}" in target and "What is 2 + 3?" in context
    assert "What is 2 + 3?" not in target
    plain = released_row(tools=False)
    plain["messages"] = [plain["messages"][0], plain["messages"][3]]
    ids, mask = render_trace(trace_record(convert_row(plain, "released", file_mode="high")), "chat", tok)
    assert tok.decode(ids[mask.astype(bool)].tolist()).startswith("<think>\nSo 42.\n</think>")
    # released TIR traces render as harmony (tool output masked); the tiny chat template has no
    # tool_calls, which prepare_sft counts as a skip rather than training on a trace without its code
    rel = trace_record(convert_row(released_row(), "released", file_mode="high"))
    ids, mask = render_trace(rel, "harmony", tok)
    target = tok.decode(ids[mask.astype(bool)].tolist())
    assert "print(6*7)" in target and "\\boxed{42}" in target and "42\n" not in target
    with pytest.raises(SkipTrace, match="template_drops_tool_calls"):
        render_trace(rel, "chat", tok)


# ------------------------------------------------------------------------------------------- the step
def _cfg(**sft):
    base = {"template": "harmony", "import_files": [{"label": "omr", "path": "/x", "step": None, "schema": "omr",
                                                     "mode": None, "include_modes": [], "include_tir": None}],
            "arms": {"omr": {"omr": 1.0}}, "arm": "omr", "import_max_examples": None}
    return OmegaConf.create({"sft": {**base, **sft}})


def test_step_checks_template_arm_and_sources():
    from nmframe.config.checks import ConfigError
    from nmframe.steps.import_traces import arm_mix, check_specs, check_template

    cfg = _cfg()
    with pytest.raises(ConfigError, match="sft.template='harmony': the traces of omr .schema omr. are not harmony "
                                          "text; train them with sft.template=chat"):
        check_template(cfg, check_specs(cfg), arm_mix(cfg, check_specs(cfg)))
    cfg = _cfg(template="chat")
    check_template(cfg, check_specs(cfg), arm_mix(cfg, check_specs(cfg)))
    with pytest.raises(ConfigError, match=r"sft.arm='both': not an arm of sft.arms \(allowed: omr\)"):
        arm_mix(_cfg(arm="both"), check_specs(cfg))
    with pytest.raises(ConfigError, match="sft.arms.omr=.*mix fractions must sum to 1"):
        arm_mix(_cfg(arms={"omr": {"omr": 0.5}}), check_specs(cfg))
    with pytest.raises(ConfigError, match="sft.import_max_examples=5: needs an arm"):
        arm_mix(_cfg(arm=None, import_max_examples=5), check_specs(cfg))
    bad = _cfg(import_files=[{"label": "x", "path": "/a", "step": "filter_correct"}])
    with pytest.raises(ConfigError, match=r"sft.import_files\[0\]=.*give exactly one of path"):
        check_specs(bad)


def test_table3_sweep_plans_three_arms_on_shared_generation(tmp_path):
    from nmframe.config import compose_points
    from nmframe.engine.orchestrate import make_plan

    points = compose_points(["experiment=paper/table3", "sft.arm=nemotron,omr,mixed", f"paths.outputs={tmp_path}",
                             "paths.data=/nonexistent/data", "generate.shards=1"], multirun=True)
    by_step = {}
    for e in make_plan(points).entries:
        by_step.setdefault(e.task.step, []).append(e)
    assert all(e.points == [0, 1, 2] for e in by_step["generate"] + by_step["filter_correct"])
    imports = by_step["import_traces"]
    assert [e.points for e in imports] == [[0], [1], [2]]
    assert [e.task.config_slice["mix"] for e in imports] == [{"nemotron": 1.0}, {"omr": 1.0},
                                                              {"nemotron": 0.5, "omr": 0.5}]
    sl = imports[0].task.config_slice
    assert sl["sft.import_max_examples"] == 264000 and sl["sft.import_match_problems"] is True
    assert sl["sources"][1]["files"] == "MISSING: /nonexistent/data/openmathreasoning"
    assert len(by_step["prepare_sft"]) == 3 and len(by_step["evaluate"]) == 3
    assert all(str(c.sft.template) == "chat" and c.sft.input_step == "import_traces" for _, c in points)
