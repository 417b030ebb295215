"""Teacher generation: backends, the harmony Python-tool loop and resumable shards.

Public API::

    CompletionRequest, CompletionResult, Backend          # nmframe.generation.base
    HfBackend, OpenAIBackend, VllmBackend, ScriptedBackend  # one module each
    open_backend(cfg)                                      # the backend a config asks for
    TirLoop(backend, LoopSettings(...), sandbox).run(specs, on_record)   # nmframe.generation.tir
    ShardWriter / open_shard(dir)                          # nmframe.generation.shards / runner
    generate_shard(problems, mode=, tir=, seed=, backend=, settings=, writer=)

Backends other than the scripted one are imported lazily (transformers, vLLM are heavy).
"""
from nmframe.generation.base import (Backend, BackendUnavailable, CompletionRequest, CompletionResult)
from nmframe.generation.runner import generate_shard, open_shard, sampling_seed, shard_of, summarize
from nmframe.generation.scripted import ScriptedBackend
from nmframe.generation.shards import ShardError, ShardWriter
from nmframe.generation.tir import LoopSettings, SampleSpec, TirLoop

__all__ = [
    "Backend", "BackendUnavailable", "CompletionRequest", "CompletionResult", "ScriptedBackend",
    "LoopSettings", "SampleSpec", "TirLoop", "ShardError", "ShardWriter", "generate_shard", "open_shard",
    "sampling_seed", "shard_of", "summarize",
]
