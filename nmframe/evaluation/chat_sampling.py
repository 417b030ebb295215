"""Evaluation in the model's own chat format: for students trained with ``sft.template=chat`` and
for base models (the paper's "base Qwen3-30B-A3B" row).

A harmony prompt would be foreign text to these models, so the user turn
(:func:`nmframe.harmony.user_prompt`, the paper's prompt) is rendered with the model's tokenizer
chat template, ``add_generation_prompt=True``, and ``enable_thinking=True`` where the template
reads that variable (Qwen3's does; thinking on is its default). One backend call per sample: no
Python tool loop (Qwen's tool-call format is not implemented) and no reasoning-effort modes, so
only the config ``high/notir`` runs in this format (see :mod:`nmframe.evaluation.configs`); its
records keep ``mode="high"`` so reports group them as every other run.

Generation stops at the template's end-of-turn marker (found by rendering a probe reply, e.g.
``<|im_end|>``) and at the tokenizer's EOS token. The records carry the same fields as those of
the harmony loop (:class:`nmframe.generation.tir.TirLoop`), plus ``prompt_format: "chat"``, and
go through the same resumable shards (:func:`nmframe.generation.shard_runner.fill_shard`), so grading,
scoring and reports do not change. ``final_answer`` is :func:`nmframe.answers.extract_answer` of
the completion (the last box after ``</think>``); when the rendered prompt itself opens a
``<think>`` block (some templates do), the answer is read as if the completion began with it, so
reasoning cut off before ``</think>`` gives no answer rather than a box from the scratch work.
"""
from __future__ import annotations

import logging
import time
from typing import Callable, Optional

from nmframe.answers import extract_answer
from nmframe.answers.extract import THINK_CLOSE, THINK_OPEN
from nmframe.evaluation.sampling import sample_specs
from nmframe.generation.base import CompletionRequest
from nmframe.generation.shard_runner import fill_shard
from nmframe.generation.shards import ShardWriter
from nmframe.generation.tir import RECORD_VERSION, SANDBOX_STATUSES, LoopSettings, SampleSpec
from nmframe.harmony import user_prompt

log = logging.getLogger(__name__)

_PROBE = "NMFRAME_END_OF_TURN_PROBE"


class ChatFormatError(ValueError):
    """The model's tokenizer cannot render a chat prompt (no chat template)."""


def _template_text(tokenizer) -> str:
    tpl = getattr(tokenizer, "chat_template", None)
    if isinstance(tpl, dict):
        return "\n".join(str(v) for v in tpl.values())
    return str(tpl or "")


def template_kwargs(tokenizer) -> dict:
    """``{"enable_thinking": True}`` when the chat template reads it, else nothing."""
    return {"enable_thinking": True} if "enable_thinking" in _template_text(tokenizer) else {}


def render_chat_prompt(tokenizer, problem: str) -> str:
    """The user turn of ``problem`` in the model's chat template, ending with the assistant header."""
    if not _template_text(tokenizer):
        raise ChatFormatError("evaluate.prompt_format=chat needs a tokenizer with a chat template; "
                              f"{getattr(tokenizer, 'name_or_path', tokenizer)!r} has none")
    return tokenizer.apply_chat_template([{"role": "user", "content": user_prompt(problem)}], tokenize=False,
                                         add_generation_prompt=True, **template_kwargs(tokenizer))


def stop_strings(tokenizer) -> list[str]:
    """The template's end-of-turn marker (what follows an assistant reply) and the EOS token."""
    out = []
    try:
        text = tokenizer.apply_chat_template([{"role": "user", "content": "q"},
                                              {"role": "assistant", "content": _PROBE}],
                                             tokenize=False, **template_kwargs(tokenizer))
        end = text[text.rfind(_PROBE) + len(_PROBE):].strip() if _PROBE in text else ""
        if end:
            out.append(end)
    except Exception as exc:  # noqa: BLE001 - a template that cannot render a reply still has its EOS token
        log.warning("the chat template cannot render an assistant reply (%s): stopping on EOS only", exc)
    eos = getattr(tokenizer, "eos_token", None)
    if eos and eos not in out:
        out.append(str(eos))
    return out


def opens_thinking(prompt: str) -> bool:
    """True when the rendered prompt leaves a ``<think>`` block open for the model to continue."""
    return prompt.rfind(THINK_OPEN) > prompt.rfind(THINK_CLOSE)


def split_thinking(text: str) -> tuple[str, str]:
    """(reasoning, answer) of a completion that starts inside or with a ``<think>`` block."""
    close = text.rfind(THINK_CLOSE)
    if close < 0:
        return (text.split(THINK_OPEN, 1)[1].strip(), "") if THINK_OPEN in text else ("", text.strip())
    head = text[:close]
    head = head.split(THINK_OPEN, 1)[1] if THINK_OPEN in head else head
    return head.strip(), text[close + len(THINK_CLOSE):].strip()


class ChatLoop:
    """One completion per sample in the chat format; the loop object :func:`fill_shard` drives."""

    def __init__(self, backend, settings: LoopSettings, tokenizer, sandbox=None):
        if sandbox is not None:
            raise ValueError("the chat format has no Python tool loop: no sandbox")
        self.backend = backend
        self.settings = settings
        self.tokenizer = tokenizer
        self.stop = stop_strings(tokenizer)

    def close(self) -> None:
        pass

    def run(self, specs: list[SampleSpec], on_record: Optional[Callable[[dict], None]] = None) -> list[dict]:
        if any(s.tir for s in specs):
            raise ValueError("TIR samples cannot run in the chat format (no Python tool loop)")
        cfg = self.settings
        prompts = [render_chat_prompt(self.tokenizer, s.problem["problem"]) for s in specs]
        reqs = [CompletionRequest(prompt=p, max_tokens=cfg.max_tokens, stop=list(self.stop),
                                  temperature=cfg.temperature, top_p=cfg.top_p, seed=s.sampling_seed % (2 ** 31),
                                  tag=s.session_id) for s, p in zip(specs, prompts)]
        t0 = time.perf_counter()
        results = self.backend.complete(reqs)
        wall = time.perf_counter() - t0
        if len(results) != len(reqs):
            raise RuntimeError(f"backend {self.backend.name} returned {len(results)} results for {len(reqs)} requests")
        out = []
        for spec, prompt, res in zip(specs, prompts, results):
            rec = self._record(spec, prompt, res, wall)
            out.append(rec)
            if on_record is not None:
                on_record(rec)
        return out

    def _record(self, spec: SampleSpec, prompt: str, res, wall: float) -> dict:
        errors, limit = [], None
        if res.finish_reason == "error":
            errors.append(f"round 1: {res.error}")
        elif res.finish_reason == "length":
            limit = "context" if res.context_limited else "max_tokens"
        text = res.text if res.finish_reason != "error" else ""
        read = (THINK_OPEN + text) if opens_thinking(prompt) else text
        reasoning, content = split_thinking(read)
        prob = spec.problem
        model_s = res.latency_s or wall
        return {
            "record_version": RECORD_VERSION, "prompt_format": "chat",
            "problem_id": prob["id"], "problem": prob["problem"],
            "expected_answer": prob.get("expected_answer"), "data_source": prob.get("data_source"),
            "mode": spec.mode, "tir": spec.tir, "seed": spec.seed, "sample_index": spec.seed,
            "sampling_seed": spec.sampling_seed,
            "completion": text,
            "messages": [{"role": "user", "content": user_prompt(prob["problem"])},
                         {"role": "assistant", "content": content, "reasoning_content": reasoning,
                          "tool_calls": []}],
            "tools": [],
            "final_answer": extract_answer(read) if read else None,
            "finished": res.finish_reason == "stop",
            "finish_reason": res.finish_reason, "length_limit": limit,
            "num_tool_calls": 0, "num_rounds": 1,
            "sandbox": {**{s: 0 for s in SANDBOX_STATUSES}, "session_resets": 0},
            "tokens": {"prompt": res.prompt_tokens, "completion": res.completion_tokens,
                       "teacher_prompt": None, "teacher_completion": None,
                       "backend_is_teacher_tokenizer": bool(getattr(self.backend, "teacher_tokenizer", False))},
            "timings": {"model_s": round(model_s, 4), "tool_s": 0.0, "total_s": round(model_s, 4)},
            "parse_issues": [], "num_parse_issues": 0,
            "errors": errors,
            "backend": self.backend.name, "model": self.backend.model,
            "generated_at": time.time(),
        }


def sample_problems_chat(problems: list[dict], *, mode: str, n: int, backend, settings: LoopSettings, tokenizer,
                         writer: ShardWriter, batch_size: int, seed_base: int = 0,
                         progress: Optional[Callable[[int, int], None]] = None) -> dict:
    """n chat-format samples per problem appended to ``writer`` (resumable, as the harmony path)."""
    specs = sample_specs(problems, mode, False, n, seed_base)
    generated = fill_shard(specs, tir=False, backend=backend, settings=settings, writer=writer, batch_size=batch_size,
                           progress=progress, stage="sampling",
                           loop_factory=lambda b, s, sandbox=None: ChatLoop(b, s, tokenizer, sandbox=sandbox))
    return {"samples": len(specs), "resumed": len(specs) - generated, "generated": generated}


def load_model_tokenizer(path: str):
    """The tokenizer of the model under test (``builtin:<name>``: the one the hf backend builds)."""
    from nmframe.models.tiny import load_tokenizer

    if path.startswith("builtin:"):
        from nmframe.generation.hf_backend import BUILTIN_TEACHERS

        arch = BUILTIN_TEACHERS.get(path.split(":", 1)[1])
        return load_tokenizer(path, arch.vocab_size if arch is not None else 512)
    return load_tokenizer(path)
