"""Evaluation in the model's own chat format: which format a run resolves to, the plan-time refusal
of configs the chat format cannot run, the cache key, and the chat sampling loop (prompt text,
records, answers, resume) on the tiny model and on a scripted backend."""
import copy
import json

import pytest

from nmframe.config import compose
from nmframe.config.checks import ConfigError
from nmframe.engine.dag import build_dag
from nmframe.evaluation.chat_sampling import (ChatLoop, load_model_tokenizer, opens_thinking, render_chat_prompt,
                                              sample_problems_chat, stop_strings, template_kwargs)
from nmframe.evaluation.configs import PromptFormatError, resolve_prompt_format
from nmframe.generation.shard_runner import open_shard
from nmframe.generation.tir import LoopSettings, SampleSpec, TirLoop
from nmframe.harmony import user_prompt
from nmframe.testing.scripted_backend import ScriptedBackend

PROBLEMS = [{"id": "p1", "problem": "What is 6*7?", "expected_answer": "42", "data_source": "test"},
            {"id": "p2", "problem": "What is 2+2?", "expected_answer": "4", "data_source": "test"}]


def _fmt(*over):
    return resolve_prompt_format(compose(list(over), check=False))


def test_auto_follows_the_students_template_and_is_chat_for_a_base_model():
    assert _fmt() == "harmony"                                           # student, sft.template=harmony
    assert _fmt("sft.template=chat") == "chat"                           # student trained on its chat template
    assert _fmt("evaluate.model=Qwen/Qwen3-30B-A3B") == "chat"           # base model (hub id)
    assert _fmt("evaluate.model=/models/qwen3") == "chat"                # base model (path)
    assert _fmt("evaluate.model=builtin:tiny") == "harmony"              # the random stand-in for the teacher
    assert _fmt("evaluate.model=Qwen/Qwen3-30B-A3B", "evaluate.prompt_format=harmony") == "harmony"
    assert _fmt("sft.template=harmony", "evaluate.prompt_format=chat") == "chat"
    with pytest.raises(PromptFormatError, match="evaluate.prompt_format='qwen': allowed auto, harmony, chat"):
        _fmt("evaluate.prompt_format=qwen")


def test_table3_arms_evaluate_in_chat_format():
    cfg = compose(["experiment=paper/table3", "paths.data=/nonexistent/data"], check=False)
    assert cfg.sft.template == "chat" and list(cfg.evaluate.configs) == ["high/notir"]
    assert resolve_prompt_format(cfg) == "chat"


def test_tir_and_effort_configs_are_refused_at_plan_time_under_chat(tmp_path):
    base = [f"paths.outputs={tmp_path}", "pipeline.steps=[evaluate]", "evaluate.model=Qwen/Qwen3-30B-A3B"]
    with pytest.raises(ConfigError) as err:
        build_dag(compose(base + ["evaluate.configs=[high/tir,high/notir]"]))
    msg = str(err.value)
    assert msg.startswith("evaluate.configs=['high/tir', 'high/notir']: high/tir cannot run with "
                          "evaluate.prompt_format=chat (auto: evaluate.model=Qwen/Qwen3-30B-A3B is a base model)")
    assert "no Python tool loop" in msg and "list only high/notir in evaluate.configs" in msg
    with pytest.raises(ConfigError, match="medium/notir cannot run with evaluate.prompt_format=chat: "):
        build_dag(compose(base + ["evaluate.configs=[medium/notir]", "evaluate.prompt_format=chat"]))
    tasks = build_dag(compose(base + ["evaluate.configs=[high/notir]"])).tasks
    assert [(t.params["mode"], t.params["tir"]) for t in tasks] == [("high", False)]
    assert tasks[0].config_slice["prompt_format"] == "chat"


def test_the_key_holds_the_resolved_prompt_format(tmp_path):
    over = [f"paths.outputs={tmp_path}", "pipeline.steps=[evaluate]", "evaluate.model=/m/qwen3",
            "evaluate.configs=[high/notir]"]
    auto = build_dag(compose(over)).tasks[0]
    chat = build_dag(compose(over + ["evaluate.prompt_format=chat"])).tasks[0]
    harmony = build_dag(compose(over + ["evaluate.prompt_format=harmony"])).tasks[0]
    assert auto.key == chat.key                      # auto resolved to chat: the same work
    assert harmony.key != chat.key and harmony.config_slice["prompt_format"] == "harmony"


class Recorder:
    """A backend wrapper that keeps every request it was sent."""

    def __init__(self, inner):
        self.inner, self.requests = inner, []
        self.name, self.model, self.teacher_tokenizer = inner.name, inner.model, False

    def complete(self, reqs):
        self.requests.extend(reqs)
        return self.inner.complete(reqs)

    def close(self):
        pass


def _specs(n=1):
    return [SampleSpec(p, "high", False, i, 1000 + i) for p in PROBLEMS for i in range(n)]


def test_tiny_model_gets_the_chat_prompt_and_records_have_the_harmony_fields():
    from nmframe.generation.hf_backend import HfBackend

    tok = load_model_tokenizer("builtin:tiny")
    assert stop_strings(tok) == ["<|im_end|>", "<|endoftext|>"] and template_kwargs(tok) == {}
    backend = Recorder(HfBackend("builtin:tiny", batch_size=4))
    loop = ChatLoop(backend, LoopSettings(max_tokens=6, temperature=1.0, top_p=1.0), tok)
    recs = loop.run(_specs())
    req = backend.requests[0]
    assert req.prompt.startswith("<|im_start|>user\nWhat is 6*7?\nPlease reason step by step")
    assert req.prompt.endswith("<|im_end|>\n<|im_start|>assistant\n")
    assert req.prompt == render_chat_prompt(tok, "What is 6*7?")
    assert req.stop == ["<|im_end|>", "<|endoftext|>"] and req.max_tokens == 6 and req.seed == 1000
    # the same record fields as the harmony loop (plus the format), so grading and reports read both
    harmony = TirLoop(ScriptedBackend(["<|channel|>final<|message|>\\boxed{1}<|return|>"]),
                      LoopSettings(max_tokens=64, count_teacher_tokens=False)).run(_specs()[:1])[0]
    for r in recs:
        assert set(r) == set(harmony) | {"prompt_format"}
        assert r["prompt_format"] == "chat" and r["mode"] == "high" and r["tir"] is False
        assert r["finish_reason"] in ("stop", "length") and 0 < r["tokens"]["completion"] <= 6
        assert r["num_tool_calls"] == 0 and r["tools"] == [] and r["backend"] == "hf"
        assert r["messages"][0] == {"role": "user", "content": user_prompt(r["problem"])}
    json.dumps(recs)


def test_scripted_answers_after_think_and_resume(tmp_path):
    tok = load_model_tokenizer("builtin:tiny")
    backend = ScriptedBackend(["<think>x \\boxed{1}</think> so \\boxed{42}<|im_end|>"])
    settings = LoopSettings(max_tokens=64)
    writer = open_shard(tmp_path, fsync=False)
    stats = sample_problems_chat(PROBLEMS, mode="high", n=2, backend=backend, settings=settings, tokenizer=tok,
                                 writer=writer, batch_size=3)
    writer.close()
    assert stats == {"samples": 4, "resumed": 0, "generated": 4} and backend.requests == 4
    recs = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert len(recs) == 4 and {r["final_answer"] for r in recs} == {"42"}
    r = recs[0]
    assert r["completion"] == "<think>x \\boxed{1}</think> so \\boxed{42}"
    assert (r["finish_reason"], r["finished"], r["length_limit"]) == ("stop", True, None)
    assert r["messages"][1] == {"role": "assistant", "content": "so \\boxed{42}", "reasoning_content": "x \\boxed{1}",
                                "tool_calls": []}
    again = open_shard(tmp_path, fsync=False)
    assert sample_problems_chat(PROBLEMS, mode="high", n=2, backend=backend, settings=settings, tokenizer=tok,
                                writer=again, batch_size=3)["generated"] == 0 and backend.requests == 4
    again.close()
    with pytest.raises(ValueError, match="no Python tool loop"):
        ChatLoop(backend, settings, tok).run([SampleSpec(PROBLEMS[0], "high", True, 0, 1)])


def test_thinking_templates_get_enable_thinking_and_an_open_think_block_hides_scratch_boxes():
    tok = copy.deepcopy(load_model_tokenizer("builtin:tiny"))   # the tiny tokenizer is cached: never edit it
    tok.chat_template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
                         "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n"
                         "{% if enable_thinking is defined and enable_thinking %}<think>\n{% endif %}{% endif %}")
    assert template_kwargs(tok) == {"enable_thinking": True}
    prompt = render_chat_prompt(tok, "q")
    assert prompt.endswith("<|im_start|>assistant\n<think>\n") and opens_thinking(prompt)
    cut = ScriptedBackend(["scratch \\boxed{7}"])           # reasoning cut off before </think>
    done = ScriptedBackend(["scratch \\boxed{7}</think>\\boxed{8}<|im_end|>"])
    settings = LoopSettings(max_tokens=64)
    r_cut = ChatLoop(cut, settings, tok).run(_specs()[:1])[0]
    r_done = ChatLoop(done, settings, tok).run(_specs()[:1])[0]
    assert r_cut["final_answer"] is None and r_cut["finish_reason"] == "length"
    assert r_done["final_answer"] == "8" and r_done["messages"][1]["reasoning_content"] == "scratch \\boxed{7}"


@pytest.mark.slow
def test_evaluate_step_runs_the_chat_format_end_to_end(tmp_path):
    from nmframe.cli import main

    assert main(["run", "-q", "pipeline.steps=[evaluate]", "evaluate.model=builtin:tiny", "evaluate.prompt_format=chat",
                 "evaluate.configs=[high/notir]", "evaluate.max_problems=1", "evaluate.samples=2",
                 "evaluate.max_tokens=8", "tracking.wandb_mode=disabled", f"paths.outputs={tmp_path}"]) == 0
    (art,) = [d for d in (tmp_path / "artifacts" / "evaluate").iterdir() if (d / "manifest.json").exists()]
    scores = json.loads((art / "scores.json").read_text())
    assert (scores["prompt_format"], scores["problems"], scores["overall"]["samples"]) == ("chat", 3, 6)
    samples = [json.loads(line) for line in (art / "samples.jsonl").read_text().splitlines()]
    assert {s["prompt_format"] for s in samples} == {"chat"} and len(samples) == 6
    records = [json.loads(line) for line in (art / "records.jsonl").read_text().splitlines()]
    assert len(records) == 6 and {(r["mode"], r["tir"]) for r in records} == {("high", False)}
