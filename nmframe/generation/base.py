"""One interface over every way of sampling the teacher: raw text in, text out.

The tool loop drives the teacher as a text-completion engine (the harmony prompt is a string,
tool outputs are appended as strings), so every backend (offline vLLM, an OpenAI-compatible
server, transformers on CPU, the scripted fake of nmframe.testing) implements the same small protocol:
`complete(requests) -> results`, one result per request, in order. A failure of one request is
that request's result (`finish_reason="error"`), never an exception for the whole batch, so
a prompt that is too long costs one row and the batch goes on.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Protocol, runtime_checkable

FINISH_REASONS = ("stop", "length", "error")

# error_type values: what kind of failure an error result is
CONTEXT_OVERFLOW = "context_overflow"   # the prompt (plus anything) does not fit the model's context
REQUEST_ERROR = "request"               # the request was rejected for another reason (4xx)
SERVER_ERROR = "server"                 # the server or engine failed (after retries)


class BackendUnavailable(RuntimeError):
    """A backend cannot be built here (missing package, no GPU, unreachable server)."""


@dataclass
class CompletionRequest:
    """One text completion: continue `prompt` until a stop string, EOS or `max_tokens`."""
    prompt: str
    max_tokens: int
    stop: list[str] = field(default_factory=list)
    temperature: float = 1.0
    top_p: float = 1.0
    seed: Optional[int] = None
    include_stop_str_in_output: bool = False
    tag: str = ""        # caller's label for logs and test servers (e.g. a sample id)


@dataclass
class CompletionResult:
    """What came back for one request.

    `finish_reason`: "stop" (a stop string or an end-of-sequence token), "length" (max_tokens or
    the context window reached) or "error" (`error` says why, `error_type` which kind).
    `stop_reason`: the stop string that ended the text (None for an end-of-sequence token or
    when unknown). `text` never contains the stop string unless the request asked for it.
    """
    text: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"
    stop_reason: Optional[str] = None
    error: Optional[str] = None
    error_type: Optional[str] = None
    latency_s: float = 0.0
    context_limited: bool = False   # "length" because the context window is full, not max_tokens

    def __post_init__(self) -> None:
        if self.finish_reason not in FINISH_REASONS:
            raise ValueError(f"finish_reason must be one of {FINISH_REASONS}, got {self.finish_reason!r}")

    @classmethod
    def failed(cls, error: str, error_type: str = SERVER_ERROR, latency_s: float = 0.0,
               prompt_tokens: int = 0) -> "CompletionResult":
        return cls(text="", finish_reason="error", error=error, error_type=error_type,
                   latency_s=latency_s, prompt_tokens=prompt_tokens)


@runtime_checkable
class Backend(Protocol):
    """A teacher engine. `name` is the backend kind, `model` the model it serves."""
    name: str
    model: str
    #: True when token counts are in the teacher's own (o200k/harmony) vocabulary.
    teacher_tokenizer: bool

    def complete(self, requests: list[CompletionRequest]) -> list[CompletionResult]:
        ...

    def close(self) -> None:
        ...


def strip_stop(text: str, stops: list[str], include: bool) -> tuple[str, Optional[str]]:
    """Cut `text` at the first stop string; return (text, the stop string or None)."""
    best, which = -1, None
    for s in stops:
        if not s:
            continue
        i = text.find(s)
        if i >= 0 and (best < 0 or i < best):
            best, which = i, s
    if which is None:
        return text, None
    return (text[:best + len(which)] if include else text[:best]), which
