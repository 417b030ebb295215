"""Teacher backend on transformers (CPU): the tiny random model for tests and the quickstart.

Why not `model.generate`: samples must be reproducible per request seed whatever else shares
the batch, and each row needs its own stop strings and token budget. This module runs its own
batched decoding loop (left padding, KV cache) and samples every row from its own
`torch.Generator` seeded by the request, so a row's text does not depend on its neighbours
(up to float rounding from different padding). `teacher.model` is `builtin:tiny` (the local
tokenizer and a random-weight Qwen3 model from `nmframe.models.tiny`) or a local model path.
"""
from __future__ import annotations

import logging
import time
from types import SimpleNamespace
from typing import Optional

from nmframe.generation.base import (CONTEXT_OVERFLOW, CompletionRequest, CompletionResult,
                                     strip_stop)
from nmframe.generation.registry import register_backend

log = logging.getLogger(__name__)

#: Architecture of `builtin:tiny` teachers (same shape as conf/model/tiny.yaml, fixed here so
#: that changing the student's model config does not change the teacher).
BUILTIN_TEACHERS = {
    "tiny": SimpleNamespace(arch="dense", num_layers=2, hidden_size=64, ffn_hidden_size=128,
                            num_attention_heads=4, num_kv_heads=2, head_dim=16, vocab_size=512,
                            max_position_embeddings=4096, num_experts=None, moe_router_topk=None,
                            moe_ffn_hidden_size=None),
}
WEIGHTS_SEED = 0


def load_hf_teacher(model: str):
    """(tokenizer, model) for `builtin:<name>` or a local transformers model directory."""
    from nmframe.models.tiny import build_tiny_model, build_tiny_tokenizer

    if model.startswith("builtin:"):
        name = model.split(":", 1)[1]
        if name not in BUILTIN_TEACHERS:
            raise ValueError(f"unknown builtin teacher {model!r}; known: "
                             + ", ".join(f"builtin:{k}" for k in BUILTIN_TEACHERS))
        arch = BUILTIN_TEACHERS[name]
        tok = build_tiny_tokenizer(arch.vocab_size)
        return tok, build_tiny_model(arch, seed=WEIGHTS_SEED, tokenizer=tok)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model)
    mdl = AutoModelForCausalLM.from_pretrained(model)
    mdl.eval()
    return tok, mdl


@register_backend("hf")
class HfBackend:
    """Batched sampling with transformers on CPU; see the module docstring."""

    name = "hf"
    teacher_tokenizer = False

    def __init__(self, model: str, batch_size: int = 16, max_context: Optional[int] = None,
                 threads: Optional[int] = None):
        import torch

        if threads:
            torch.set_num_threads(threads)
        self.model = model
        self.batch_size = max(1, int(batch_size))
        self.tokenizer, self.lm = load_hf_teacher(model)
        ctx = getattr(self.lm.config, "max_position_embeddings", None) or 2048
        self.max_context = min(ctx, max_context) if max_context else ctx
        self.eos_ids = {i for i in (self.tokenizer.eos_token_id,) if i is not None}
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else next(iter(self.eos_ids), 0)

    @classmethod
    def from_spec(cls, spec, stack=None, log_dir=None) -> "HfBackend":
        return cls(spec.model, batch_size=spec.batch_size, max_context=spec.max_model_len)

    def close(self) -> None:
        pass

    def complete(self, requests: list[CompletionRequest]) -> list[CompletionResult]:
        out: list[Optional[CompletionResult]] = [None] * len(requests)
        todo = []
        for i, req in enumerate(requests):
            ids = self.tokenizer.encode(req.prompt, add_special_tokens=False)
            room = self.max_context - len(ids)
            if room <= 0:
                out[i] = CompletionResult.failed(
                    f"prompt is too long: {len(ids)} tokens; the model's maximum context length is {self.max_context} tokens",
                    CONTEXT_OVERFLOW, prompt_tokens=len(ids))
            elif req.max_tokens <= 0:
                out[i] = CompletionResult(prompt_tokens=len(ids), finish_reason="length")
            else:
                todo.append((i, ids, min(req.max_tokens, room), room < req.max_tokens))
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start:start + self.batch_size]
            for (i, *_), res in zip(chunk, self._generate(chunk, requests)):
                out[i] = res
        return out  # type: ignore[return-value]

    def _generate(self, chunk, requests) -> list[CompletionResult]:
        import torch

        t0 = time.perf_counter()
        n = len(chunk)
        longest = max(len(ids) for _, ids, _, _ in chunk)
        input_ids = torch.full((n, longest), self.pad_id, dtype=torch.long)
        mask = torch.zeros((n, longest), dtype=torch.long)
        for r, (_, ids, _, _) in enumerate(chunk):
            input_ids[r, longest - len(ids):] = torch.tensor(ids, dtype=torch.long)
            mask[r, longest - len(ids):] = 1
        gens, reqs = [], []
        for i, *_ in chunk:
            req = requests[i]
            g = torch.Generator()
            g.manual_seed(int(req.seed) if req.seed is not None else 0)
            gens.append(g)
            reqs.append(req)
        budgets = [b for _, _, b, _ in chunk]
        clamped = [c for _, _, _, c in chunk]
        generated: list[list[int]] = [[] for _ in range(n)]
        pieces = [""] * n
        done = [False] * n
        finish: list[tuple[str, Optional[str]]] = [("length", None)] * n
        past = None
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        step_ids, step_pos = input_ids, positions
        with torch.inference_mode():
            for _ in range(max(budgets)):
                out = self.lm(input_ids=step_ids, attention_mask=mask, position_ids=step_pos,
                              past_key_values=past, use_cache=True)
                past = out.past_key_values
                logits = out.logits[:, -1, :].float()
                nxt = torch.full((n,), self.pad_id, dtype=torch.long)
                for r in range(n):
                    if done[r]:
                        continue
                    tok = _sample(logits[r], reqs[r].temperature, reqs[r].top_p, gens[r])
                    nxt[r] = tok
                    generated[r].append(tok)
                    if tok in self.eos_ids:
                        done[r], finish[r] = True, ("stop", None)
                        continue
                    pieces[r] += self.tokenizer.decode([tok], skip_special_tokens=False)
                    if reqs[r].stop and any(s in pieces[r] for s in reqs[r].stop):
                        done[r], finish[r] = True, ("stop", "stop-string")
                    elif len(generated[r]) >= budgets[r]:
                        done[r] = True
                if all(done):
                    break
                step_ids = nxt[:, None]
                step_pos = step_pos[:, -1:] + 1
                mask = torch.cat([mask, torch.ones((n, 1), dtype=torch.long)], dim=1)
        elapsed = time.perf_counter() - t0
        results = []
        for r in range(n):
            toks = [t for t in generated[r] if t not in self.eos_ids]
            text = self.tokenizer.decode(toks, skip_special_tokens=False)
            reason, stop = finish[r]
            if stop is not None:
                text, stop = strip_stop(text, reqs[r].stop, reqs[r].include_stop_str_in_output)
                if stop is None:  # the stop string only appeared in per-token decoding
                    reason = "length" if len(generated[r]) >= budgets[r] else "stop"
            results.append(CompletionResult(
                text=text, prompt_tokens=len(chunk[r][1]), completion_tokens=len(generated[r]),
                finish_reason=reason, stop_reason=stop, latency_s=elapsed,
                context_limited=reason == "length" and clamped[r]))
        return results


def _sample(logits, temperature: float, top_p: float, gen) -> int:
    import torch

    if temperature <= 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1.0:
        sorted_p, idx = torch.sort(probs, descending=True)
        cum = torch.cumsum(sorted_p, dim=-1)
        sorted_p[(cum - sorted_p) > top_p] = 0.0
        probs = torch.zeros_like(probs).scatter_(0, idx, sorted_p)
    return int(torch.multinomial(probs, 1, generator=gen))
