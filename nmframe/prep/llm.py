"""The LLM behind the preparation steps, named by ``prep.backend``.

* ``teacher``: the generation backend of ``cfg.teacher`` (:func:`nmframe.generation.factory.open_backend`:
  hf / vllm / openai). A gpt-oss teacher gets each prompt as a harmony conversation at
  ``prep.reasoning_effort`` and the reply is its final channel; another model gets its
  tokenizer's chat template when the backend has one (hf), else the bare prompt text.
* ``module:factory``: any ``factory(cfg) -> callable(prompt) -> reply`` (the filters' judge
  convention), e.g. a client of a separate judge server.
* ``none``: no LLM; uncertain rows get "no decision".

:meth:`PrepLLM.ask` returns one :class:`Reply` per prompt, in order: the text, or an error
(a failed request, a harmony reply without a final message). Errors are never raised for a
batch: each costs its own row a decision.
"""
from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass
class Reply:
    text: str | None
    error: str | None = None


class PrepLLM:
    def __init__(self, complete: Callable[[list[str]], list[Reply]], name: str, batch_size: int = 32):
        self._complete = complete
        self.name = name
        self.batch_size = max(1, int(batch_size))
        self.calls = 0

    def ask(self, prompts: list[str]) -> list[Reply]:
        out: list[Reply] = []
        for i in range(0, len(prompts), self.batch_size):
            chunk = prompts[i:i + self.batch_size]
            replies = self._complete(chunk)
            if len(replies) != len(chunk):
                raise RuntimeError(f"backend {self.name} returned {len(replies)} replies for {len(chunk)} prompts")
            out.extend(replies)
            self.calls += len(chunk)
        return out


def _seed(prompt: str) -> int:
    return int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:4], "little")


def _teacher_llm(cfg, backend) -> Callable[[list[str]], list[Reply]]:
    from nmframe.generation.base import CompletionRequest
    from nmframe.generation.factory import teacher_is_gpt_oss

    prep = cfg.prep
    harmony = teacher_is_gpt_oss(str(cfg.teacher.model))
    tok = getattr(backend, "tokenizer", None)

    def fmt(text: str) -> str:
        if harmony:
            from nmframe.harmony import render_prompt

            return render_prompt(text, str(prep.reasoning_effort), with_python_tool=False)
        if tok is not None and getattr(tok, "chat_template", None):
            return tok.apply_chat_template([{"role": "user", "content": text}], tokenize=False,
                                           add_generation_prompt=True)
        return text

    def complete(prompts: list[str]) -> list[Reply]:
        reqs = [CompletionRequest(prompt=fmt(p), max_tokens=int(prep.max_tokens), temperature=float(prep.temperature),
                                  top_p=1.0, seed=_seed(p), tag=f"prep-{i}") for i, p in enumerate(prompts)]
        out = []
        for res in backend.complete(reqs):
            if res.finish_reason == "error":
                out.append(Reply(None, f"error: {res.error_type or 'request'}: {(res.error or '')[:120]}"))
                continue
            text = res.text
            if harmony:
                from nmframe.harmony import parse_completion

                text = parse_completion(text).final_text
                if text is None:
                    out.append(Reply(None, "no final-channel message in the reply"))
                    continue
            out.append(Reply(text))
        return out

    return complete


def _callable_llm(fn) -> Callable[[list[str]], list[Reply]]:
    def complete(prompts: list[str]) -> list[Reply]:
        out = []
        for p in prompts:
            try:
                out.append(Reply(fn(p)))
            except Exception as exc:  # noqa: BLE001 - one failed call is that row's "no decision"
                out.append(Reply(None, f"error: {type(exc).__name__}: {str(exc)[:120]}"))
        return out

    return complete


@contextlib.contextmanager
def open_prep_llm(cfg, log_dir=None) -> Iterator[PrepLLM | None]:
    """The preparation LLM of ``prep.backend`` (None for ``none``), closed on exit."""
    spec = str(cfg.prep.backend or "none")
    bs = int(cfg.prep.batch_size)
    if spec == "none":
        yield None
    elif spec == "teacher":
        from nmframe.generation.factory import open_backend

        with open_backend(cfg, log_dir) as backend:
            yield PrepLLM(_teacher_llm(cfg, backend), f"{cfg.teacher.backend}:{cfg.teacher.model}", bs)
    else:
        from nmframe.filters.llm import load_backend

        yield PrepLLM(_callable_llm(load_backend(spec, cfg)), spec, bs)


def llm_slice(cfg) -> dict:
    """What of the config decides the LLM's replies (for the steps' cache keys)."""
    spec = str(cfg.prep.backend or "none")
    out = {"backend": spec}
    if spec == "teacher":
        out.update(model=str(cfg.teacher.model), kind=str(cfg.teacher.backend),
                   reasoning_effort=str(cfg.prep.reasoning_effort), max_tokens=int(cfg.prep.max_tokens),
                   temperature=float(cfg.prep.temperature))
    return out
