"""A fake teacher that replays preset completions: deterministic tests and benchmarks of the loop.

A random tiny model almost never writes a well-formed tool call, so the tool loop, its limits
and its records are checked against this backend instead. Each request's turn number is the
number of tool-output blocks already in its prompt: turn 0 gets `turns[0]`, after the first
tool output `turns[1]`, and so on (the last turn repeats). A turn may also be a callable
`(request, turn) -> str`. Stop strings are honoured as an engine does (the text is cut at the
first stop string, which is left out unless requested); `max_tokens` is honoured with one token
per `chars_per_token` characters. Calls and requests are counted, and `fail` can turn chosen
requests into error results (e.g. a context overflow).
"""
from __future__ import annotations

import threading
import time
from typing import Callable, Optional, Sequence, Union

from nmframe.generation.base import CONTEXT_OVERFLOW, CompletionRequest, CompletionResult, strip_stop
from nmframe.harmony.protocol import TOOL_OUTPUT_HEADERS

Turn = Union[str, Callable[[CompletionRequest, int], str]]


class ScriptedBackend:
    name = "scripted"
    model = "scripted"
    teacher_tokenizer = False

    def __init__(self, turns: Sequence[Turn], chars_per_token: int = 4, delay_s: float = 0.0,
                 fail: Optional[Callable[[CompletionRequest, int], Optional[str]]] = None,
                 eos: Sequence[str] = ("<|return|>",)):
        if not turns:
            raise ValueError("a scripted backend needs at least one turn")
        self.turns = list(turns)
        self.chars_per_token = max(1, int(chars_per_token))
        self.delay_s = float(delay_s)
        self.fail = fail
        self.eos = tuple(eos)
        self.calls = 0          # complete() calls (rounds)
        self.requests = 0       # requests served
        self.tags: list[str] = []
        self._lock = threading.Lock()

    def close(self) -> None:
        pass

    def tokens(self, text: str) -> int:
        return -(-len(text) // self.chars_per_token)

    def complete(self, requests: list[CompletionRequest]) -> list[CompletionResult]:
        with self._lock:
            self.calls += 1
            self.requests += len(requests)
            self.tags.extend(r.tag for r in requests)
        if self.delay_s:
            time.sleep(self.delay_s)
        return [self._one(r) for r in requests]

    def _one(self, req: CompletionRequest) -> CompletionResult:
        turn = sum(req.prompt.count(h) for h in TOOL_OUTPUT_HEADERS.values())
        prompt_tokens = self.tokens(req.prompt)
        if self.fail is not None:
            err = self.fail(req, turn)
            if err:
                return CompletionResult.failed(err, CONTEXT_OVERFLOW, prompt_tokens=prompt_tokens)
        script = self.turns[min(turn, len(self.turns) - 1)]
        text = script(req, turn) if callable(script) else script
        text, stop = strip_stop(text, list(req.stop), req.include_stop_str_in_output)
        finish = "stop"
        if stop is None:
            for e in self.eos:  # an end-of-sequence token: stop, and the token is not in the text
                if text.endswith(e):
                    text = text[:-len(e)]
                    break
            else:
                finish = "length"
        limit = req.max_tokens * self.chars_per_token
        if len(text) > limit:
            text, finish, stop = text[:limit], "length", None
        return CompletionResult(text=text, prompt_tokens=prompt_tokens, completion_tokens=self.tokens(text),
                                finish_reason=finish, stop_reason=stop)
