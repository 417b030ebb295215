"""A small OpenAI-compatible completions server in front of any Backend.

Why: the openai backend must be tested against a real HTTP server on a machine without vLLM,
and a CPU smoke test of the whole path (HTTP, retries, concurrency, the tool loop) needs a
model behind it. This serves `POST /v1/completions` (raw text prompts; the vLLM extensions
`stop_reason`, `skip_special_tokens`, `include_stop_str_in_output` included), `GET /health`
and `GET /v1/models` on 127.0.0.1, from a thread per connection. The backend is called under a
lock unless it is thread-safe. `hook(body)` may answer a request itself (status, JSON, headers)
to inject failures; in-flight requests are counted (`max_in_flight`) to check client limits.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional

from nmframe.generation.base import CompletionRequest

Hook = Callable[[dict], Optional[tuple[int, dict, dict]]]


class CompletionsServer:
    def __init__(self, backend, host: str = "127.0.0.1", port: int = 0, thread_safe: bool = False,
                 delay_s: float = 0.0, hook: Optional[Hook] = None):
        self.backend = backend
        self.delay_s = delay_s
        self.hook = hook
        self.lock = None if thread_safe else threading.Lock()
        self.counter_lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests = 0
        self.bodies: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, payload: dict, headers: Optional[dict] = None):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, str(v))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path == "/health":
                    self._send(200, {})
                elif self.path == "/v1/models":
                    self._send(200, {"object": "list", "data": [{"id": server.backend.model, "object": "model"}]})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path.rstrip("/") != "/v1/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                with server.counter_lock:
                    server.requests += 1
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        self._send(400, {"error": {"message": "invalid JSON"}})
                        return
                    with server.counter_lock:
                        server.bodies.append(body)
                    if server.hook is not None:
                        answer = server.hook(body)
                        if answer is not None:
                            self._send(*answer)
                            return
                    if server.delay_s:
                        time.sleep(server.delay_s)
                    self._send(*server.complete(body))
                finally:
                    with server.counter_lock:
                        server.in_flight -= 1

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.host, self.port = self.httpd.server_address[:2]
        self._thread: Optional[threading.Thread] = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def complete(self, body: dict) -> tuple[int, dict, dict]:
        stop = body.get("stop") or []
        req = CompletionRequest(prompt=body["prompt"], max_tokens=int(body.get("max_tokens", 16)),
                                stop=[stop] if isinstance(stop, str) else list(stop),
                                temperature=float(body.get("temperature", 1.0)), top_p=float(body.get("top_p", 1.0)),
                                seed=body.get("seed"),
                                include_stop_str_in_output=bool(body.get("include_stop_str_in_output", False)))
        if self.lock is not None:
            with self.lock:
                (res,) = self.backend.complete([req])
        else:
            (res,) = self.backend.complete([req])
        if res.finish_reason == "error":
            return 400, {"error": {"message": res.error, "type": "BadRequestError"}}, {}
        return 200, {
            "id": f"cmpl-{self.requests}", "object": "text_completion", "model": body.get("model"),
            "choices": [{"index": 0, "text": res.text, "finish_reason": res.finish_reason,
                         "stop_reason": res.stop_reason, "logprobs": None}],
            "usage": {"prompt_tokens": res.prompt_tokens, "completion_tokens": res.completion_tokens,
                      "total_tokens": res.prompt_tokens + res.completion_tokens},
        }, {}

    def start(self) -> "CompletionsServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="completions-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> "CompletionsServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
