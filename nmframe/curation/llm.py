"""The one LLM helper of curation: a client built from a config name, and its cache-key slice.

Extraction, classification, decontamination and answer validation ask an LLM; which one is named
by a string (``prep.backend`` for the curation steps, ``answers.judge`` for the validation judge,
``evaluate.judge`` for HLE-Math):

* ``teacher``: the run's teacher through the generation backends (hf / vllm / openai);
* ``judge_llm``: the served model ``prep.judge_llm`` (config group ``judge_llm``, e.g. the paper's
  Qwen2.5-32B-Instruct on vLLM) through the same backends.

  A gpt-oss model gets each prompt as a harmony conversation at ``prep.reasoning_effort`` and the
  reply is its final channel; another model gets its tokenizer's chat template when the backend
  has one (hf, vllm), else the bare prompt text. :func:`_open_served` is the only place that opens
  a generation backend, and :func:`llm_gpus` says what it needs of a node;
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
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from nmframe.errors import ConfigError

from .parse import parse_judgement

Backend = Callable[[str], str]
NONE_SPECS = ("", "none")
TEACHER, JUDGE_LLM = "teacher", "judge_llm"
SERVED_SPECS = (TEACHER, JUDGE_LLM)


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


def judge_llm_config(cfg):
    """``prep.judge_llm``, or a one-line error when ``judge_llm`` is named but no model was chosen."""
    j = cfg.prep.judge_llm
    if j is None:
        raise ConfigError("prep.judge_llm", None, "is not set, but an LLM step names judge_llm",
                          allowed="a judge_llm group choice, e.g. judge_llm=qwen2_5_32b_instruct")
    return j


def served_spec(cfg, name: str):
    """The :class:`~nmframe.generation.registry.BackendSpec` of the served LLM ``name`` (teacher | judge_llm)."""
    from nmframe.generation.registry import BackendSpec, teacher_is_gpt_oss

    if name == TEACHER:
        return BackendSpec.from_teacher(cfg)
    j, gen = judge_llm_config(cfg), cfg.generate
    model = str(j.model)
    return BackendSpec(backend=str(j.backend), model=model, teacher_tokenizer=teacher_is_gpt_oss(model),
                       batch_size=int(cfg.prep.batch_size), tensor_parallel_size=int(j.tensor_parallel_size),
                       max_model_len=None if j.max_model_len is None else int(j.max_model_len),
                       gpu_memory_utilization=float(gen.gpu_memory_utilization), endpoint=j.endpoint or None,
                       max_concurrency=int(j.max_concurrency), max_retries=int(j.max_retries),
                       request_timeout_s=float(gen.request_timeout_s), api_key_env=gen.api_key_env or None,
                       server_start_timeout_s=float(gen.server_start_timeout_s))


def llm_gpus(cfg, spec: str | None) -> tuple[int, int]:
    """(GPUs per node, nodes) a task needs to serve the LLM ``spec`` itself: the engine's tensor
    parallel size for vllm (and for openai without an endpoint, which starts ``vllm serve``); (0, 1)
    for hf on CPU, a running endpoint, ``module:factory`` or no LLM."""
    name = str(spec or "none")
    if name not in SERVED_SPECS:
        return 0, 1
    spec_ = served_spec(cfg, name)
    if not (spec_.backend == "vllm" or (spec_.backend == "openai" and not spec_.endpoint)):
        return 0, 1
    per_node = max(1, int((cfg.teacher if name == TEACHER else cfg.prep.judge_llm).gpus_per_node or 1))
    tp = max(1, spec_.tensor_parallel_size)
    return min(tp, per_node), -(-tp // per_node)


def _local_chat_tokenizer(model: str):
    """The model's tokenizer, for its chat template, when the backend has none (an OpenAI-compatible
    server takes raw text): a builtin, a local folder or a hub id already in the local cache; never a
    download. None (the bare prompt is sent, with a warning) when there is no local copy."""
    from pathlib import Path

    try:
        if model.startswith("builtin:"):
            from nmframe.models.tiny import load_tokenizer

            return load_tokenizer(model)
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(model, local_files_only=not Path(model).is_dir())
    except Exception as exc:  # noqa: BLE001 - no local tokenizer: the prompt goes as it is
        logging.getLogger(__name__).warning("no local tokenizer of %s (%s): its prompts are sent without the "
                                            "chat template", model, str(exc).splitlines()[0][:120])
        return None


def _open_served(cfg, name: str, log_dir=None):
    """The served LLM ``name``'s backend, as a context manager (the one call into the generation backends)."""
    from nmframe.generation.registry import open_backend

    return open_backend(served_spec(cfg, name), log_dir)


def _served_complete(cfg, backend, model: str) -> Callable[[list[str]], list[Reply]]:
    from nmframe.generation.base import CompletionRequest
    from nmframe.generation.registry import teacher_is_gpt_oss

    prep = cfg.prep
    harmony = teacher_is_gpt_oss(model)
    tok = getattr(backend, "tokenizer", None)
    if tok is None and not harmony:
        tok = _local_chat_tokenizer(model)

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
        raise ValueError(f"an LLM backend is 'teacher', 'judge_llm', 'none' or 'module:factory', got {spec!r}")
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
    elif name in SERVED_SPECS:
        spec_ = served_spec(cfg, name)
        with _open_served(cfg, name, log_dir) as backend:
            yield CurationLLM(_served_complete(cfg, backend, spec_.model), f"{spec_.backend}:{spec_.model}", bs)
    else:
        yield CurationLLM(_callable_complete(_load_factory(name, cfg)), name, bs)


def load_backend(spec: str | None, cfg: Any = None) -> Backend | None:
    """The LLM named ``spec`` as ``prompt -> reply text`` (None for no LLM). A served LLM (teacher,
    judge_llm) stays open for the life of the process; a failed call raises (callers count "no
    judgement")."""
    if not spec or spec == "none":
        return None
    if spec not in SERVED_SPECS:
        return _load_factory(spec, cfg)
    import atexit
    import threading

    opened = _open_served(cfg, spec, None)
    complete = _served_complete(cfg, opened.__enter__(), served_spec(cfg, spec).model)
    atexit.register(opened.__exit__, None, None, None)
    lock = threading.Lock()  # callers may ask from threads (HLE-Math's judge pool); engines take one batch at a time

    def served(prompt: str) -> str:
        with lock:
            reply = complete([prompt])[0]
        if reply.text is None:
            raise RuntimeError(reply.error or "no reply")
        return reply.text

    return served


def ask(backend: Backend, prompt: str) -> tuple[bool | None, str]:
    """(judgement, status) of one yes/no prompt; status is "yes", "no", "no judgement" or "error: ..."."""
    try:
        reply = backend(prompt)
    except Exception as exc:  # noqa: BLE001 - a failing backend is "no judgement", counted by callers
        return None, f"error: {type(exc).__name__}"
    verdict = parse_judgement(reply)
    return verdict, {True: "yes", False: "no", None: "no judgement"}[verdict]


#: The config paths :func:`llm_slice` reads (a step keyed by an LLM's replies declares them).
LLM_SLICE_READS = ("prep.backend", "teacher.model", "teacher.backend", "prep.judge_llm", "prep.reasoning_effort",
                   "prep.max_tokens", "prep.temperature")


def llm_slice(cfg, spec: str | None) -> dict | None:
    """What of the config decides the replies of the LLM named ``spec``, for cache keys: the name,
    and for a served LLM (teacher, judge_llm) the model and how it is asked. None when no LLM is named."""
    if not spec:
        return None
    name = str(spec)
    out: dict = {"backend": name}
    if name in SERVED_SPECS:
        spec_ = served_spec(cfg, name)
        out.update(model=spec_.model, kind=spec_.backend, reasoning_effort=str(cfg.prep.reasoning_effort),
                   max_tokens=int(cfg.prep.max_tokens), temperature=float(cfg.prep.temperature))
    return out
