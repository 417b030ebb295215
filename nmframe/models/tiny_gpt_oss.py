"""A tiny gpt-oss-architecture teacher that vLLM serves on a CPU: `builtin:tiny-gpt-oss`.

Why: the paper's teacher is gpt-oss-120b (arXiv:2512.15489, Sec. 3) run by vLLM. To exercise that
path for real without a GPU or a hub download, this module builds a model of the same
architecture (`GptOssForCausalLM`: mixture-of-experts MLP, alternating sliding/full attention,
attention sinks) shrunk to 2 layers, hidden 256, head_dim 64 (the smallest head size vLLM's CPU
attention accepts), 4 experts top-2, bf16, with the real o200k harmony vocabulary
(:mod:`nmframe.models.o200k`), so token counts and the harmony protocol are the teacher's own.

Random weights never call a tool, so the output layer is fitted (deterministically, on the CPU,
in a minute or two) to harmony traces of the shipped sample problems (`data/teacher/tir_traces.json`):
with the Python tool declared it writes an analysis message, a `to=python` call of code that
computes the answer, and after the tool's output a final `\\boxed{}` answer; without the tool it
answers directly. The transformer body keeps its random weights (fitting it is too slow for a
loaded CI machine), so the fit is partial and sampling is noisy: a format-following toy that
emits some real tool calls (model output, executed by the sandbox), not a solver.

The model folder is cached under `$NMFRAME_CACHE/tiny-gpt-oss/<digest>/`, the digest covering
the architecture, the traces, the training settings and the builder version.
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from pathlib import Path

from nmframe.datafiles import PKG_DATA
from nmframe.models.cache import cache_root, cached_folder

log = logging.getLogger(__name__)

BUILTIN_NAME = "builtin:tiny-gpt-oss"
BUILDER_VERSION = "1"
TRACES_FILE = PKG_DATA / "teacher" / "tir_traces.json"

#: The architecture (gpt-oss-120b's layout, scaled down; see the module docstring).
ARCH = dict(hidden_size=256, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, head_dim=64, num_local_experts=4, num_experts_per_tok=2,
            max_position_embeddings=4096, sliding_window=128,
            layer_types=["sliding_attention", "full_attention"])
#: The fit of the output layer (full-batch Adam on fixed features; see `fit`).
TRAIN = dict(steps=400, lr=0.05, seed=0, modes=["high", "low"])


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


def fit(model, tokenizer, examples: list[tuple[str, str]], steps: int, lr: float, seed: int) -> list[float]:
    """Fit the output layer to the completions; returns the losses.

    Cheap enough for a loaded 2-core CPU: the transformer body keeps its random weights, so its
    hidden states are computed once (one forward pass, no gradients) and the fit is a softmax
    regression from them onto the next tokens. The output layer is zero except for the rows of
    the tokens the completions use, the only ones trained; the loss is still the exact
    cross-entropy over the whole vocabulary (every other token has logit 0, so the normaliser is
    logsumexp(trained logits, log(#other tokens))).
    """
    import math

    import torch

    feats, targets, used = [], [], set()
    with torch.no_grad():
        for prompt, completion in examples:
            p = tokenizer.encode(prompt, add_special_tokens=False)
            c = tokenizer.encode(completion, add_special_tokens=False)
            ids = torch.tensor([p + c])
            hidden = model.model(input_ids=ids).last_hidden_state[0]
            feats.append(hidden[len(p) - 1:-1].float())  # the state before each completion token
            targets.append(torch.tensor(c))
            used.update(c)
    x, y = torch.cat(feats), torch.cat(targets)
    sub_ids = torch.tensor(sorted(used))
    to_sub = torch.full((model.config.vocab_size,), -1, dtype=torch.long)
    to_sub[sub_ids] = torch.arange(len(sub_ids))
    y_sub = to_sub[y]
    rest = torch.full((x.shape[0], 1), math.log(model.config.vocab_size - len(sub_ids)))
    gen = torch.Generator().manual_seed(seed)
    head = torch.nn.Parameter(torch.randn(len(sub_ids), x.shape[1], generator=gen) * 0.02)
    opt = torch.optim.Adam([head], lr=lr)
    losses = []
    for _ in range(steps):
        logits = x @ head.T
        loss = (torch.logsumexp(torch.cat([logits, rest], dim=1), dim=1)
                - logits.gather(1, y_sub[:, None]).squeeze(1)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        model.lm_head.weight.zero_()
        model.lm_head.weight[sub_ids] = head.to(model.lm_head.weight.dtype)
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
    model.eval()
    losses = fit(model, tok, training_examples(), TRAIN["steps"], TRAIN["lr"], TRAIN["seed"])
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
    return cached_folder(cache_root() / "tiny-gpt-oss" / _digest(), "nmframe_build.json", build_tiny_gpt_oss)
