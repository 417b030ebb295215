"""Build the teacher backend a config asks for (`teacher.backend`), with its server if needed.

* `hf`: transformers on CPU (`teacher.model` = `builtin:tiny` or a local model directory);
* `vllm`: the offline vLLM engine on this node's GPUs;
* `openai`: an OpenAI-compatible `/v1/completions` endpoint: `teacher.endpoint`, or, when it is
  null, a `vllm serve` started here on this node's GPUs for the task's lifetime (log under the
  task's scratch folder).
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator, Optional

from nmframe.generation.base import Backend


def teacher_is_gpt_oss(model: str) -> bool:
    return "gpt-oss" in model.lower()


@contextlib.contextmanager
def open_backend(cfg, log_dir: Optional[Path] = None) -> Iterator[Backend]:
    """The backend for `cfg.teacher` (+ `cfg.generate`), closed (and its server stopped) on exit."""
    teacher, gen = cfg.teacher, cfg.generate
    kind = str(teacher.backend)
    backend = None
    with contextlib.ExitStack() as stack:
        if kind == "hf":
            from nmframe.generation.hf import HfBackend

            backend = HfBackend(teacher.model, batch_size=gen.batch_size, max_context=gen.max_model_len)
        elif kind == "vllm":
            from nmframe.generation.vllm_backend import VllmBackend

            backend = VllmBackend(teacher.model, tensor_parallel_size=teacher.tensor_parallel_size,
                                  max_model_len=gen.max_model_len,
                                  gpu_memory_utilization=gen.gpu_memory_utilization,
                                  teacher_tokenizer=teacher_is_gpt_oss(teacher.model))
        elif kind == "openai":
            from nmframe.generation.openai_backend import OpenAIBackend

            endpoint = teacher.endpoint
            if not endpoint:
                from nmframe.generation.server import LocalServer, free_port, vllm_serve_command
                from nmframe.generation.vllm_backend import import_vllm
                from nmframe.harmony import ensure_offline_encodings

                import_vllm("teacher.backend=openai with teacher.endpoint=null (a vllm serve started here)")
                ensure_offline_encodings()
                port = gen.server_port or free_port()
                cmd = vllm_serve_command(teacher.model, port, tensor_parallel_size=teacher.tensor_parallel_size,
                                         max_model_len=gen.max_model_len,
                                         gpu_memory_utilization=gen.gpu_memory_utilization,
                                         extra_args=list(gen.server_args))
                server = LocalServer(cmd, port, log_path=(Path(log_dir) / "vllm-server.log") if log_dir else None,
                                     start_timeout_s=gen.server_start_timeout_s)
                stack.enter_context(server)
                endpoint = server.endpoint
            backend = OpenAIBackend(endpoint, teacher.model, max_concurrency=teacher.max_concurrency,
                                    max_retries=teacher.max_retries, timeout_s=gen.request_timeout_s,
                                    backoff_s=gen.retry_backoff_s, backoff_max_s=gen.retry_backoff_max_s,
                                    api_key=os.environ.get(gen.api_key_env) if gen.api_key_env else None,
                                    teacher_tokenizer=teacher_is_gpt_oss(teacher.model))
        else:
            raise ValueError(f"unknown teacher.backend {kind!r} (vllm, openai, hf)")
        stack.callback(backend.close)
        yield backend
