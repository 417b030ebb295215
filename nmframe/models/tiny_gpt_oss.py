"""A tiny gpt-oss-architecture teacher that vLLM serves on a CPU: `builtin:tiny-gpt-oss`.

Why: the paper's teacher is gpt-oss-120b (arXiv:2512.15489, Sec. 3) run by vLLM. To exercise that
path for real without a GPU or a hub download, this module builds a model of the same
architecture (`GptOssForCausalLM`: mixture-of-experts MLP, alternating sliding/full attention,
attention sinks) shrunk to 2 layers, hidden 256, head_dim 64 (the smallest head size vLLM's CPU
attention accepts), 4 experts top-2, bf16, with the real o200k harmony vocabulary
(:mod:`nmframe.models.o200k`), so token counts and the harmony protocol are the teacher's own.

Random weights never call a tool, so the model is fitted briefly (a few hundred deterministic
CPU steps) to harmony traces of the shipped sample problems (`data/teacher/tir_traces.json`):
with the Python tool declared it writes an analysis message, a `to=python` call of code that
computes the answer, and after the tool's output a final `\\boxed{}` answer; without the tool it
answers directly. It is a format-following toy: on other problems its text is mostly noise, but
the tool calls are real model output that the sandbox executes.

The model folder is cached under `$NMFRAME_CACHE/tiny-gpt-oss/<digest>/`, the digest covering
the architecture, the traces, the training settings and the builder version.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from nmframe.datafiles import PKG_DATA

log = logging.getLogger(__name__)

BUILTIN_NAME = "builtin:tiny-gpt-oss"
BUILDER_VERSION = "1"
TRACES_FILE = PKG_DATA / "teacher" / "tir_traces.json"

#: The architecture (gpt-oss-120b's layout, scaled down; see the module docstring).
ARCH = dict(hidden_size=256, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, head_dim=64, num_local_experts=4, num_experts_per_tok=2,
            max_position_embeddings=4096, sliding_window=128,
            layer_types=["sliding_attention", "full_attention"])
#: Training of the format: Adam, constant rate, fixed order; enough steps to emit the traces.
TRAIN = dict(steps=150, batch_size=2, lr=6e-3, seed=0, modes=["high", "low"])


def training_examples() -> list[tuple[str, str]]:
    """(prompt, completion) pairs: every shipped sample problem in every mode, with and without
    the Python tool. The tool output inside a TIR completion is what the code prints."""
    from nmframe.harmony import render_problem_prompt
    from nmframe.harmony.protocol import CALL, CODE_START, RETURN
    from nmframe.harmony.render import render_tool_output

    problems = {}
    with open(PKG_DATA / "samples" / "problems.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            problems[row["id"]] = row
    traces = json.loads(TRACES_FILE.read_text(encoding="utf-8"))
    out = []
    for mode in TRAIN["modes"]:
        for tr in traces:
            problem, answer = problems[tr["id"]]["problem"], tr["answer"]
            final = f"<|start|>assistant<|channel|>final<|message|>The answer is $\\boxed{{{answer}}}$.{RETURN}"
            think = "<|channel|>analysis<|message|>Let me compute this with Python.<|end|>"
            tir = (think + CODE_START + tr["code"] + CALL
                   + render_tool_output(tr.get("output", answer) + "\n")
                   + final[len("<|start|>assistant"):])
            plain = "<|channel|>analysis<|message|>This is a direct computation.<|end|>" + final
            out.append((render_problem_prompt(problem, mode, with_python_tool=True), tir))
            out.append((render_problem_prompt(problem, mode, with_python_tool=False), plain))
    return out


def gpt_oss_config():
    """transformers.GptOssConfig of the tiny teacher (o200k vocabulary, harmony EOS ids)."""
    import transformers

    from nmframe.models.o200k import EOS_IDS, VOCAB_SIZE

    return transformers.GptOssConfig(vocab_size=VOCAB_SIZE, eos_token_id=EOS_IDS[0], pad_token_id=EOS_IDS[1],
                                     tie_word_embeddings=False, **ARCH)


def _digest() -> str:
    from nmframe.models.o200k import _digest as tokenizer_digest

    blob = json.dumps([BUILDER_VERSION, ARCH, TRAIN, TRACES_FILE.read_text(encoding="utf-8"), tokenizer_digest()],
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _cache_root() -> Path:
    return Path(os.environ.get("NMFRAME_CACHE", Path.home() / ".cache" / "nmframe"))


def fit(model, tokenizer, examples: list[tuple[str, str]], steps: int, batch_size: int, lr: float,
        seed: int) -> list[float]:
    """Teacher-forced training on the completions (prompt tokens carry no loss); returns the losses.

    Cheap enough for a loaded CPU: the 201k x 256 embedding stays at its random init, and the
    output layer is zero except for the rows of the tokens the completions use, which are the only
    ones trained. The loss is still the exact cross-entropy over the whole vocabulary: every other
    token has logit 0, so the softmax normaliser is logsumexp(trained logits, log(#other tokens)).
    """
    import math

    import torch

    rows, used = [], set()
    for prompt, completion in examples:
        p = tokenizer.encode(prompt, add_special_tokens=False)
        c = tokenizer.encode(completion, add_special_tokens=False)
        rows.append((p + c, len(p)))
        used.update(c)
    sub_ids = torch.tensor(sorted(used))
    to_sub = torch.full((model.config.vocab_size,), -1, dtype=torch.long)
    to_sub[sub_ids] = torch.arange(len(sub_ids))
    log_rest = math.log(model.config.vocab_size - len(sub_ids))
    gen = torch.Generator().manual_seed(seed)
    head = torch.nn.Parameter(torch.randn(len(sub_ids), model.config.hidden_size, generator=gen) * 0.02)
    model.model.embed_tokens.weight.requires_grad_(False)
    model.lm_head.weight.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad] + [head]
    opt = torch.optim.Adam(params, lr=lr)
    model.train()
    losses = []
    order: list[int] = []
    for _ in range(steps):
        if len(order) < batch_size:
            order += torch.randperm(len(rows), generator=gen).tolist()
        batch, order = [rows[i] for i in order[:batch_size]], order[batch_size:]
        longest = max(len(ids) for ids, _ in batch)
        ids = torch.full((len(batch), longest), tokenizer.pad_token_id, dtype=torch.long)
        labels = torch.full_like(ids, -100)
        mask = torch.zeros_like(ids)
        for r, (seq, n_prompt) in enumerate(batch):
            ids[r, :len(seq)] = torch.tensor(seq)
            labels[r, n_prompt:len(seq)] = ids[r, n_prompt:len(seq)]
            mask[r, :len(seq)] = 1
        hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
        pos = labels[:, 1:] != -100
        logits = hidden[:, :-1][pos].float() @ head.T
        rest = torch.full((logits.shape[0], 1), log_rest)
        target = to_sub[labels[:, 1:][pos]]
        loss = (torch.logsumexp(torch.cat([logits, rest], dim=1), dim=1)
                - logits.gather(1, target[:, None]).squeeze(1)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if len(losses) % 10 == 0:
            log.info("fitting the tiny gpt-oss teacher: step %d/%d, loss %.3f", len(losses), steps, losses[-1])
    with torch.no_grad():
        model.lm_head.weight.zero_()
        model.lm_head.weight[sub_ids] = head.to(model.lm_head.weight.dtype)
    model.eval()
    return losses


def build_tiny_gpt_oss(target: Path) -> Path:
    """Build, fit and save the tiny teacher (bf16 safetensors + o200k tokenizer) into `target`."""
    import torch
    import transformers

    from nmframe.models.o200k import EOS_IDS, load_o200k_tokenizer, o200k_tokenizer_dir

    tok = load_o200k_tokenizer()
    torch.manual_seed(TRAIN["seed"])
    model = transformers.GptOssForCausalLM(gpt_oss_config())
    t0 = time.perf_counter()
    losses = fit(model, tok, training_examples(), TRAIN["steps"], TRAIN["batch_size"], TRAIN["lr"], TRAIN["seed"])
    log.info("tiny gpt-oss teacher fitted in %.0fs: loss %.3f -> %.3f", time.perf_counter() - t0, losses[0], losses[-1])
    target.mkdir(parents=True, exist_ok=True)
    model.to(torch.bfloat16).save_pretrained(target, safe_serialization=True)
    model.generation_config.eos_token_id = list(EOS_IDS)
    model.generation_config.save_pretrained(target)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(o200k_tokenizer_dir() / name, target / name)
    (target / "nmframe_build.json").write_text(json.dumps(
        {"builder": BUILDER_VERSION, "train": TRAIN, "loss_first": losses[0], "loss_last": losses[-1]}, indent=1))
    return target


def tiny_gpt_oss_dir() -> Path:
    """The cached model folder of `builtin:tiny-gpt-oss` (built on first use: ~1-3 min on 2 cores)."""
    target = _cache_root() / "tiny-gpt-oss" / _digest()
    if (target / "nmframe_build.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
    try:
        build_tiny_gpt_oss(tmp)
        try:
            os.replace(tmp, target)
        except OSError:  # another process finished first
            if not (target / "nmframe_build.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
