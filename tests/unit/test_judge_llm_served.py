"""The LLM steps through a served model on the generation backends, on a CPU: classify and decontaminate
(rules_llm) and the answer judge ask `judge_llm`, here a tiny local model on the `hf` backend.

A random tiny model never writes a verdict, so the model is wired by hand, deterministically: its layers add
nothing to the residual stream and its output head maps each token to the next one of "Judgement: no"
(any other token to the first), so greedy decoding answers every prompt "Judgement: no" and stops. Cut to one
token (prep.max_tokens=1) the reply is unreadable and must count as "no decision", never as "no".
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from nmframe.cli import main
from nmframe.config import compose
from nmframe.curation.llm import llm_gpus, llm_slice, load_backend, open_llm
from nmframe.curation.validation import validate_answers

REPO = Path(__file__).resolve().parents[2]
BENCH = json.loads((REPO / "nmframe/data/benchmarks/comp-math-24-25.jsonl").read_text().splitlines()[0])
REPLY = "Judgement: no"
OPEN_PROBLEM = "Consider the sequence $a_n = n^2 + 1$ for positive integers $n$."
# shares the benchmark problem's first 15 words (a 13-gram candidate), far from a near-verbatim copy
NEAR_BENCH = (" ".join(BENCH["problem"].split()[:15]) + " and then, in a different setting entirely, count the lattice"
              " points inside a circle of radius ten centred at the origin, excluding those on any axis, and report"
              " how many of them have both coordinates odd and positive in the first quadrant")


def build_verdict_model(path: Path, reply: str = REPLY) -> Path:
    """A transformers folder whose greedy reply to any prompt is ``reply`` followed by end-of-text."""
    import torch
    import transformers

    from nmframe.models.tiny import build_tiny_tokenizer

    tok = build_tiny_tokenizer(512)
    chain = tok.encode(reply, add_special_tokens=False)
    assert len(set(chain)) == len(chain) and tok.eos_token_id not in chain
    k, hidden = len(chain), 32
    config = transformers.Qwen3Config(vocab_size=len(tok), hidden_size=hidden, intermediate_size=64,
                                      num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1, head_dim=16,
                                      max_position_embeddings=2048, tie_word_embeddings=False,
                                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    model = transformers.Qwen3ForCausalLM(config)
    with torch.no_grad():
        for layer in model.model.layers:  # the residual stream stays the token's embedding
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        emb = torch.zeros(len(tok), hidden)
        emb[:, k] = 1.0                   # every other token: "start the reply"
        for i, t in enumerate(chain):
            emb[t] = 0.0
            emb[t, i] = 1.0               # the i-th token of the reply
        model.model.embed_tokens.weight.copy_(emb)
        head = torch.zeros(len(tok), hidden)
        head[chain[0], k] = 10.0
        for i in range(k - 1):
            head[chain[i + 1], i] = 10.0
        head[tok.eos_token_id, k - 1] = 10.0
        model.lm_head.weight.copy_(head)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def verdict_model(tmp_path_factory):
    return build_verdict_model(tmp_path_factory.mktemp("judge") / "verdict-model")


def served(model, *extra):
    return ["judge_llm=qwen2_5_32b_instruct", f"prep.judge_llm.model={model}", "prep.judge_llm.backend=hf",
            "prep.backend=judge_llm", "prep.max_tokens=24", *extra]


def test_served_judge_llm_replies_through_the_hf_backend(verdict_model):
    cfg = compose(["experiment=quickstart", *served(verdict_model)])
    assert llm_slice(cfg, "judge_llm") == {"backend": "judge_llm", "model": str(verdict_model), "kind": "hf",
                                           "reasoning_effort": "low", "max_tokens": 24, "temperature": 0.0}
    assert llm_gpus(cfg, "judge_llm") == (0, 1)  # hf on CPU
    with open_llm(cfg, "judge_llm") as llm:
        assert llm.name == f"hf:{verdict_model}"
        assert [r.text for r in llm.ask(["Is 1/2 equal to 0.5?", "Say something."])] == [REPLY, REPLY]


def test_served_judge_llm_behind_an_openai_endpoint_gets_its_chat_template(verdict_model):
    from nmframe.generation.hf_backend import HfBackend
    from nmframe.testing.completions_server import CompletionsServer

    seen = []
    with CompletionsServer(HfBackend(str(verdict_model)), hook=lambda body: seen.append(body["prompt"])) as server:
        cfg = compose(["experiment=quickstart", *served(verdict_model, "prep.judge_llm.backend=openai",
                                                        f"prep.judge_llm.endpoint={server.endpoint}")])
        assert llm_gpus(cfg, "judge_llm") == (0, 1)  # a running server: the task only sends requests
        with open_llm(cfg, "judge_llm") as llm:
            assert [r.text for r in llm.ask(["Is 1/2 equal to 0.5?"])] == [REPLY]
    # the raw-text endpoint got the instruction model's chat turn, not the bare question
    assert seen == ["<|im_start|>user\nIs 1/2 equal to 0.5?<|im_end|>\n<|im_start|>assistant\n"]


def test_answer_judge_is_asked_and_an_unreadable_reply_is_no_judgement(verdict_model):
    problems = [{"id": "p", "problem": "Compute $4 \\cdot 4$.", "expected_answer": "61"}]
    answers = {"p": ["16", "16", "16"]}  # math-verify: none agrees with 61, so the judge is asked about "16"
    for max_tokens, status in ((24, "no"), (1, "no judgement")):
        cfg = compose(["experiment=quickstart", *served(verdict_model, f"prep.max_tokens={max_tokens}")])
        (r,) = validate_answers(problems, answers, workers=1, judge=load_backend("judge_llm", cfg))
        assert r.judge == {status: 1}
        assert (r.status, r.expected_answer) == ("replaced", "16")  # neither reply counts as agreement


def test_hle_math_is_graded_by_the_served_judge_from_a_thread_pool(verdict_model, tmp_path):
    from nmframe.benchmarks import get_benchmark

    hle = tmp_path / "hle.jsonl"
    hle.write_text("".join(json.dumps({"id": f"h{i}", "question": f"Find x{i}.", "answer": str(i),
                                       "category": "Math"}) + "\n" for i in range(3)))
    bench = get_benchmark("hle-math")
    for max_tokens, outcome, reason in ((24, "wrong", "judge: no"), (1, "ungraded", "judge: no judgement")):
        cfg = compose(["experiment=quickstart", *served(verdict_model, f"prep.max_tokens={max_tokens}"),
                       "evaluate.judge=judge_llm", f"evaluate.hle_math_file={hle}", "evaluate.judge_workers=3"])
        problems, _ = bench.load(cfg)
        samples = [{"problem_id": p["id"], "sample_index": 0, "final_answer": p["expected_answer"],
                    "messages": [{"role": "user", "content": "q"},
                                 {"role": "assistant", "content": f"\\boxed{{{p['expected_answer']}}}"}],
                    "tokens": {"completion": 5}, "finish_reason": "stop"} for p in problems]
        recs = bench.grade(samples, {p["id"]: p for p in problems}, cfg, judge=load_backend("judge_llm", cfg))
        # the served model says "no" to every answer, right or not: its verdict, read, is what grades
        assert [(r["outcome"], r["grade_reason"]) for r in recs] == [(outcome, reason)] * 3


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _artifact(out, step):
    (d,) = [p.parent for p in (out / "artifacts" / step).rglob("report.json")]
    return d


@pytest.mark.slow
@pytest.mark.parametrize("max_tokens", [24, 1])
def test_classify_and_decontaminate_ask_the_served_llm(verdict_model, tmp_path, max_tokens):
    src = tmp_path / "problems.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in [
        {"id": "open", "problem": OPEN_PROBLEM, "data_source": "aops"},
        {"id": "near", "problem": NEAR_BENCH, "data_source": "aops"},
        {"id": "proof", "problem": "Prove that there are infinitely many primes.", "data_source": "aops"}]))
    out = tmp_path / "out"
    assert main(["run", "-q", "experiment=quickstart", f"paths.outputs={out}", "tracking.wandb_mode=disabled",
                 f"source.files=[{{path:{src},schema:canonical}}]", "pipeline.steps=[ingest,classify,decontaminate]",
                 "filters.classify_method=rules_llm", "filters.decontam_method=rules_llm",
                 *served(verdict_model, f"prep.max_tokens={max_tokens}")]) == 0
    cls, dec = _artifact(out, "classify"), _artifact(out, "decontaminate")
    crep, drep = (json.loads((d / "report.json").read_text()) for d in (cls, dec))
    assert crep["llm"]["model"] == drep["llm"]["model"] == str(verdict_model)
    decided = {r["id"]: r["prep"]["classify"] for f in ("problems", "removed", "undecided")
               for r in _rows(cls / f"{f}.jsonl")}
    assert decided["proof"]["decided_by"] == "rule"
    if max_tokens == 24:  # readable replies: the LLM decides what the rules leave open
        assert decided["open"] == {"decided_by": "llm", "reason": "llm: no category", "category": "ok"}
        assert crep["by_decided_by"]["llm"] >= 1
        assert {k.split(": ")[1] for k in crep["llm_replies"]} == {"no"}
        near = [r["prep"]["decontam"] for r in _rows(dec / "problems.jsonl") if r["id"] == "near"]
        assert near and near[0]["decided_by"] == "llm" and near[0]["match"]["subset"]
        assert drep["by_decided_by"].get("llm", 0) >= 1 and drep["undecided"] == 0
    else:  # "Judgement:" cut to one token: unreadable, so no decision (held), never a "no"
        assert decided["open"]["decided_by"] == "none"
        assert decided["open"]["reason"].startswith("no decision: unreadable reply")
        assert crep["undecided"] >= 1 and "llm" not in crep["by_decided_by"]
        assert all(k.endswith("unreadable") for k in crep["llm_replies"])
