"""Teacher generation: backends, the harmony Python-tool loop and resumable shards.

Public API::

    CompletionRequest, CompletionResult, Backend          # nmframe.generation.base
    HfBackend, OpenAIBackend, VllmBackend, ReplayBackend   # one module each, registered by name
    open_backend(BackendSpec.from_teacher(cfg), log_dir)   # nmframe.generation.registry
    TirLoop(backend, LoopSettings(...), sandbox).run(specs, on_record)   # nmframe.generation.tir
    ShardWriter / open_shard(dir)                          # nmframe.generation.shards / shard_runner
    generate_shard(problems, mode=, tir=, seed=, backend=, settings=, writer=)

Backends are imported when first looked up (transformers, vLLM are heavy); the test doubles
(a scripted backend, a local completions server) live in nmframe.testing.
"""
from nmframe.generation.base import (Backend, BackendUnavailable, CompletionRequest, CompletionResult)
from nmframe.generation.shard_runner import generate_shard, open_shard, sampling_seed, shard_of, summarize
from nmframe.generation.shards import ShardError, ShardWriter
from nmframe.generation.tir import LoopSettings, SampleSpec, TirLoop

__all__ = [
    "Backend", "BackendUnavailable", "CompletionRequest", "CompletionResult",
    "LoopSettings", "SampleSpec", "TirLoop", "ShardError", "ShardWriter", "generate_shard", "open_shard",
    "sampling_seed", "shard_of", "summarize",
]
