"""Teacher backend over any OpenAI-compatible `/v1/completions` endpoint (vLLM, SGLang, ...).

Why raw completions and not chat: the tool loop appends harmony tool-output blocks to the text
and asks the server to continue it, which a chat endpoint cannot express. Requests run on a
bounded thread pool (`max_concurrency` in flight at most); 429, 5xx, timeouts and connection
errors are retried with exponential backoff (honouring `Retry-After`); other 4xx answers are
that row's error. A context-length rejection ("maximum context length is N tokens ... M input
tokens") is retried once with `max_tokens` lowered to what fits, as vLLM would have stopped
there anyway; if nothing fits, the row fails with error_type "context_overflow".

Only the standard library is used (urllib), so nothing is added to the CPU install.
"""
from __future__ import annotations

import json
import logging
import random
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

from nmframe.generation.base import (CONTEXT_OVERFLOW, REQUEST_ERROR, SERVER_ERROR,
                                     CompletionRequest, CompletionResult, strip_stop)
from nmframe.generation.registry import register_backend

log = logging.getLogger(__name__)

RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}
_CTX_LEN = re.compile(r"maximum context length is (\d+)")
_INPUT_TOKENS = [re.compile(r"(\d+) input tokens"), re.compile(r"\((\d+) in the messages"),
                 re.compile(r"(\d+) tokens? in the prompt"), re.compile(r"prompt \(length (\d+)\)")]


def completions_url(endpoint: str) -> str:
    """`http://h:8000`, `http://h:8000/v1` or the full `.../v1/completions` -> the completions URL."""
    base = endpoint.rstrip("/")
    if base.endswith("/completions"):
        return base
    if base.endswith("/v1"):
        return base + "/completions"
    return base + "/v1/completions"


def context_room(message: str) -> Optional[int]:
    """Tokens left for the completion according to a context-length error message, if stated."""
    m = _CTX_LEN.search(message)
    if not m:
        return None
    for pat in _INPUT_TOKENS:
        p = pat.search(message)
        if p:
            return int(m.group(1)) - int(p.group(1))
    return None


def is_context_error(message: str) -> bool:
    low = message.lower()
    return "context length" in low or "context window" in low or "too long" in low


@register_backend("openai")
class OpenAIBackend:
    """Completions over HTTP with bounded concurrency and retries; see the module docstring."""

    name = "openai"

    def __init__(self, endpoint: str, model: str, max_concurrency: int = 64, max_retries: int = 5,
                 timeout_s: float = 7200.0, backoff_s: float = 1.0, backoff_max_s: float = 60.0,
                 api_key: Optional[str] = None, teacher_tokenizer: bool = True,
                 extra_body: Optional[dict] = None):
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be >= 1")
        self.url = completions_url(endpoint)
        self.model = model
        self.max_concurrency = int(max_concurrency)
        self.max_retries = int(max_retries)
        self.timeout_s = float(timeout_s)
        self.backoff_s = float(backoff_s)
        self.backoff_max_s = float(backoff_max_s)
        self.api_key = api_key
        self.teacher_tokenizer = teacher_tokenizer
        self.extra_body = dict(extra_body or {})
        self._pool = ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="completions")
        self.stats = {"requests": 0, "retries": 0, "errors": 0}
        self._stats_lock = threading.Lock()

    @classmethod
    def from_spec(cls, spec, stack, log_dir=None) -> "OpenAIBackend":
        """A client of ``spec.endpoint``; when it is null, of a `vllm serve` started here on this
        node's GPUs, entered on ``stack`` so it stops when the backend is closed."""
        endpoint = spec.endpoint
        if not endpoint:
            from nmframe.generation.server import LocalServer, free_port, vllm_serve_command
            from nmframe.generation.vllm_backend import import_vllm
            from nmframe.harmony import ensure_offline_encodings

            import_vllm("teacher.backend=openai with teacher.endpoint=null (a vllm serve started here)")
            ensure_offline_encodings()
            port = spec.server_port or free_port()
            cmd = vllm_serve_command(spec.model, port, tensor_parallel_size=spec.tensor_parallel_size,
                                     max_model_len=spec.max_model_len,
                                     gpu_memory_utilization=spec.gpu_memory_utilization,
                                     extra_args=list(spec.server_args))
            server = LocalServer(cmd, port, log_path=(log_dir / "vllm-server.log") if log_dir else None,
                                 start_timeout_s=spec.server_start_timeout_s)
            endpoint = stack.enter_context(server).endpoint
        return cls(endpoint, spec.model, max_concurrency=spec.max_concurrency, max_retries=spec.max_retries,
                   timeout_s=spec.request_timeout_s, backoff_s=spec.retry_backoff_s,
                   backoff_max_s=spec.retry_backoff_max_s, api_key=spec.api_key,
                   teacher_tokenizer=spec.teacher_tokenizer)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def complete(self, requests: list[CompletionRequest]) -> list[CompletionResult]:
        return list(self._pool.map(self._one, requests))

    # -- one request ----------------------------------------------------------------
    def _body(self, req: CompletionRequest, max_tokens: int) -> dict:
        body = {"model": self.model, "prompt": req.prompt, "max_tokens": int(max_tokens),
                "temperature": req.temperature, "top_p": req.top_p, "n": 1, "stream": False,
                "stop": list(req.stop), "skip_special_tokens": False, "add_special_tokens": False,
                "include_stop_str_in_output": bool(req.include_stop_str_in_output)}
        if req.seed is not None:
            body["seed"] = int(req.seed)
        body.update(self.extra_body)
        return body

    def _count(self, key: str) -> None:
        with self._stats_lock:
            self.stats[key] += 1

    def _one(self, req: CompletionRequest) -> CompletionResult:
        t0 = time.perf_counter()
        max_tokens = req.max_tokens
        clamped = False
        attempt = 0
        while True:
            self._count("requests")
            status, payload, err, retry_after = self._post(self._body(req, max_tokens))
            if status == 200 and payload is not None:
                try:
                    return self._result(req, payload, time.perf_counter() - t0, clamped)
                except (KeyError, IndexError, TypeError, ValueError) as exc:
                    err, status = f"malformed response: {type(exc).__name__}: {exc}", -1
            if status is not None and 400 <= status < 500 and status not in RETRY_STATUS:
                message = err or f"HTTP {status}"
                if is_context_error(message):
                    room = context_room(message)
                    if room is not None and 0 < room < max_tokens and not clamped:
                        max_tokens, clamped = room, True
                        continue
                    self._count("errors")
                    return CompletionResult.failed(message, CONTEXT_OVERFLOW, time.perf_counter() - t0)
                self._count("errors")
                return CompletionResult.failed(message, REQUEST_ERROR, time.perf_counter() - t0)
            if attempt >= self.max_retries:
                self._count("errors")
                return CompletionResult.failed(
                    f"gave up after {attempt + 1} attempts: {err or f'HTTP {status}'}",
                    SERVER_ERROR, time.perf_counter() - t0)
            delay = min(self.backoff_s * (2 ** attempt), self.backoff_max_s) * random.uniform(0.8, 1.2)
            if retry_after is not None:
                delay = min(max(delay, retry_after), self.backoff_max_s)
            log.warning("completion request %s failed (%s); retry %d/%d in %.2fs", req.tag or "",
                        err or f"HTTP {status}", attempt + 1, self.max_retries, delay)
            self._count("retries")
            time.sleep(delay)
            attempt += 1

    def _post(self, body: dict):
        """(status or None, parsed JSON or None, error text, Retry-After seconds)."""
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as resp:
                return resp.status, json.loads(resp.read()), None, None
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace")[:2000] if exc.fp else ""
            try:
                detail = json.loads(text)
                if isinstance(detail, dict):
                    inner = detail.get("error", detail)
                    text = inner.get("message", text) if isinstance(inner, dict) else str(inner)
            except ValueError:
                pass
            retry_after = None
            if exc.headers and exc.headers.get("Retry-After"):
                try:
                    retry_after = float(exc.headers["Retry-After"])
                except ValueError:
                    pass
            return exc.code, None, f"HTTP {exc.code}: {text}".strip(), retry_after
        except (urllib.error.URLError, ConnectionError, socket.timeout, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return None, None, f"{type(exc).__name__}: {reason}", None
        except ValueError as exc:  # invalid JSON in a 200 answer
            return -1, None, f"invalid JSON from server: {exc}", None

    def _result(self, req: CompletionRequest, payload: dict, latency: float, clamped: bool) -> CompletionResult:
        choice = payload["choices"][0]
        text = choice.get("text") or ""
        finish = choice.get("finish_reason") or "stop"
        stop_reason = choice.get("stop_reason")
        if finish not in ("stop", "length"):
            finish = "stop" if finish in ("eos", "end_turn") else "length" if finish == "max_tokens" else "stop"
        if not isinstance(stop_reason, str):
            stop_reason = None  # an end-of-sequence token id, or unknown
        if stop_reason is None and finish == "stop" and req.stop:
            # servers that do not report the stop string: find it (included-in-output case)
            text, stop_reason = strip_stop(text, req.stop, req.include_stop_str_in_output)
        usage = payload.get("usage") or {}
        return CompletionResult(
            text=text, prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0), finish_reason=finish,
            stop_reason=stop_reason, latency_s=latency, context_limited=clamped and finish == "length")
