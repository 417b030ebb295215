"""LLM calls of the filters: prompt files, the backend interface, and reply parsing.

Answer validation, problem classification and decontamination can each ask an LLM a yes/no
question. The backend is any callable ``backend(prompt: str) -> str`` (reply text); a config
names it as ``"teacher"`` (the run's teacher through the generation backends) or as
``"module:factory"`` where ``factory(cfg)`` returns such a callable, so the teacher server, a
local model or a test double plug in the same way.

Every prompt ends by asking for one line ``Judgement: yes`` or ``Judgement: no``. A reply is
read by :func:`parse_judgement`: True / False, or None ("no judgement") when the reply has no
such line, says something else (``Judgement: maybe``), or contradicts itself. A call that
raises is also "no judgement". No judgement is never read as "no": callers fall back to their
cheap path (math-verify, heuristics, n-gram overlap) and count it.
"""
from __future__ import annotations

import importlib
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

PROMPTS = Path(__file__).resolve().parent / "prompts"

Backend = Callable[[str], str]

_JUDGEMENT = re.compile(r"judge?ment\s*[:：]\s*[*_`\"'\[(]*\s*(yes|no)\b", re.IGNORECASE)


@lru_cache(maxsize=None)
def load_prompt(name: str) -> str:
    """The prompt template ``prompts/<name>.txt``."""
    path = PROMPTS / f"{name}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"no prompt {name!r} (looked for {path})")
    return path.read_text(encoding="utf-8")


def render(name: str, **fields: Any) -> str:
    """Fill ``{field}`` placeholders by plain replacement (LaTeX braces stay untouched)."""
    text = load_prompt(name)
    for key, value in fields.items():
        text = text.replace("{" + key + "}", "" if value is None else str(value))
    return text


def parse_judgement(reply: Any) -> bool | None:
    """``Judgement: yes`` -> True, ``Judgement: no`` -> False, anything else -> None.

    Several judgement lines count only if they all agree; markdown emphasis around the word
    (``**Judgement:** **yes**``) and the spelling "Judgment" are accepted.
    """
    if not isinstance(reply, str) or not reply.strip():
        return None
    text = reply.replace("**", "").replace("__", "")
    found = {m.group(1).lower() for m in _JUDGEMENT.finditer(text)}
    if len(found) != 1:
        return None
    return found.pop() == "yes"


def ask(backend: Backend, prompt: str) -> tuple[bool | None, str]:
    """(judgement, status) where status is "yes", "no", "no judgement" or "error: ..."."""
    try:
        reply = backend(prompt)
    except Exception as exc:  # noqa: BLE001 - a failing backend is "no judgement", counted by callers
        return None, f"error: {type(exc).__name__}"
    verdict = parse_judgement(reply)
    return verdict, {True: "yes", False: "no", None: "no judgement"}[verdict]


def load_backend(spec: str | None, cfg: Any = None) -> Backend | None:
    """The backend named ``"module:factory"`` (``factory(cfg)`` returns the callable), or
    ``"teacher"``: the run's teacher through the generation backends; None -> None."""
    if not spec:
        return None
    if spec == "teacher":
        return teacher_backend(cfg)
    module, sep, attr = spec.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"an LLM backend is named 'module:factory', got {spec!r}")
    try:
        factory = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load LLM backend {spec!r}: {exc}") from exc
    backend = factory(cfg)
    if not callable(backend):
        raise TypeError(f"LLM backend factory {spec!r} returned {type(backend).__name__}, not a callable")
    return backend


def teacher_backend(cfg: Any) -> Backend:
    """The configured teacher (``teacher.backend``: vllm, an OpenAI-compatible server, or hf) as
    ``prompt -> reply text``, asked the way the preparation steps ask it (``prep.reasoning_effort``,
    ``prep.max_tokens``, ``prep.temperature``; gpt-oss replies are read from the final channel).
    The engine stays open for the life of the process. A failed call raises: "no judgement"."""
    import atexit

    from nmframe.generation.factory import open_backend
    from nmframe.prep.llm import _teacher_llm

    opened = open_backend(cfg, None)
    complete = _teacher_llm(cfg, opened.__enter__())
    atexit.register(opened.__exit__, None, None, None)

    def ask(prompt: str) -> str:
        reply = complete([prompt])[0]
        if reply.text is None:
            raise RuntimeError(reply.error or "no reply")
        return reply.text

    return ask


def llm_slice(spec: str | None, cfg: Any) -> dict | None:
    """What decides an LLM backend's replies, for cache keys: for ``teacher``, the teacher model and
    how it is asked; for a factory, its name."""
    if not spec:
        return None
    if spec == "teacher":
        return {"teacher": str(cfg.teacher.model), "backend": str(cfg.teacher.backend),
                "reasoning_effort": str(cfg.prep.reasoning_effort), "max_tokens": int(cfg.prep.max_tokens),
                "temperature": float(cfg.prep.temperature)}
    return {"factory": spec}
