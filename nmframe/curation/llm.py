"""The one LLM helper of curation: a client built from a config name, and its cache-key slice.

Extraction, classification, decontamination and answer validation ask an LLM; which one is named
by a string (``prep.backend`` for the curation steps, ``answers.judge`` for the validation judge,
``evaluate.judge`` for HLE-Math):

* ``teacher``: the run's teacher through the generation backends (hf / vllm / openai). A
  gpt-oss teacher gets each prompt as a harmony conversation at ``prep.reasoning_effort`` and
  the reply is its final channel; another model gets its tokenizer's chat template when the
  backend has one (hf), else the bare prompt text. :func:`_open_teacher` is the only place that
  opens a generation backend;
* ``module:factory``: any ``factory(cfg) -> callable(prompt) -> reply``, e.g. a client of a
  separate judge server or a test double;
* ``none`` (or empty): no LLM.

Two shapes of the same client: :func:`open_llm` yields a batched :class:`CurationLLM` whose
:meth:`CurationLLM.ask` returns one :class:`Reply` per prompt (an error costs its own row a
decision, never the batch); :func:`load_backend` returns a ``prompt -> reply`` callable (a failed
call raises: "no judgement" for the callers of :func:`ask`). :func:`llm_slice` is what of the
config decides the replies, for cache keys.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .parse import parse_judgement

Backend = Callable[[str], str]
NONE_SPECS = ("", "none")


@dataclass
class Reply:
    text: str | None
    error: str | None = None


class CurationLLM:
    """Batched prompts -> replies, counting the calls."""

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


def _open_teacher(cfg, log_dir=None):
    """The run's teacher backend, as a context manager (the one call into the generation backends)."""
    from nmframe.generation.registry import BackendSpec, open_backend

    return open_backend(BackendSpec.from_teacher(cfg), log_dir)


def _teacher_complete(cfg, backend) -> Callable[[list[str]], list[Reply]]:
    from nmframe.generation.base import CompletionRequest
    from nmframe.generation.registry import teacher_is_gpt_oss

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


def _callable_complete(fn: Backend) -> Callable[[list[str]], list[Reply]]:
    def complete(prompts: list[str]) -> list[Reply]:
        out = []
        for p in prompts:
            try:
                out.append(Reply(fn(p)))
            except Exception as exc:  # noqa: BLE001 - one failed call is that row's "no decision"
                out.append(Reply(None, f"error: {type(exc).__name__}: {str(exc)[:120]}"))
        return out

    return complete


def _load_factory(spec: str, cfg: Any) -> Backend:
    module, sep, attr = spec.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"an LLM backend is 'teacher', 'none' or 'module:factory', got {spec!r}")
    try:
        factory = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load LLM backend {spec!r}: {exc}") from exc
    backend = factory(cfg)
    if not callable(backend):
        raise TypeError(f"LLM backend factory {spec!r} returned {type(backend).__name__}, not a callable")
    return backend


@contextlib.contextmanager
def open_llm(cfg, spec: str | None, log_dir=None) -> Iterator[CurationLLM | None]:
    """The batched LLM named by ``spec`` (the steps pass ``prep.backend``; None for ``none``), closed on exit."""
    name = str(spec or "none")
    bs = int(cfg.prep.batch_size)
    if name in NONE_SPECS:
        yield None
    elif name == "teacher":
        with _open_teacher(cfg, log_dir) as backend:
            yield CurationLLM(_teacher_complete(cfg, backend), f"{cfg.teacher.backend}:{cfg.teacher.model}", bs)
    else:
        yield CurationLLM(_callable_complete(_load_factory(name, cfg)), name, bs)


def load_backend(spec: str | None, cfg: Any = None) -> Backend | None:
    """The LLM named ``spec`` as ``prompt -> reply text`` (None for no LLM). The teacher stays open
    for the life of the process; a failed teacher call raises (callers count "no judgement")."""
    if not spec or spec == "none":
        return None
    if spec != "teacher":
        return _load_factory(spec, cfg)
    import atexit

    opened = _open_teacher(cfg, None)
    complete = _teacher_complete(cfg, opened.__enter__())
    atexit.register(opened.__exit__, None, None, None)

    def teacher(prompt: str) -> str:
        reply = complete([prompt])[0]
        if reply.text is None:
            raise RuntimeError(reply.error or "no reply")
        return reply.text

    return teacher


def ask(backend: Backend, prompt: str) -> tuple[bool | None, str]:
    """(judgement, status) of one yes/no prompt; status is "yes", "no", "no judgement" or "error: ..."."""
    try:
        reply = backend(prompt)
    except Exception as exc:  # noqa: BLE001 - a failing backend is "no judgement", counted by callers
        return None, f"error: {type(exc).__name__}"
    verdict = parse_judgement(reply)
    return verdict, {True: "yes", False: "no", None: "no judgement"}[verdict]


#: The config paths :func:`llm_slice` reads (a step keyed by an LLM's replies declares them).
LLM_SLICE_READS = ("prep.backend", "teacher.model", "teacher.backend", "prep.reasoning_effort",
                   "prep.max_tokens", "prep.temperature")


def llm_slice(cfg, spec: str | None) -> dict | None:
    """What of the config decides the replies of the LLM named ``spec``, for cache keys: the name,
    and for ``teacher`` the model and how it is asked. None when no LLM is named."""
    if not spec:
        return None
    name = str(spec)
    out: dict = {"backend": name}
    if name == "teacher":
        out.update(model=str(cfg.teacher.model), kind=str(cfg.teacher.backend),
                   reasoning_effort=str(cfg.prep.reasoning_effort), max_tokens=int(cfg.prep.max_tokens),
                   temperature=float(cfg.prep.temperature))
    return out
