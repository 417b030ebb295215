"""Evaluation benchmarks, one small module each, found by name in a registry.

A benchmark declares what the `evaluate` step and the report need to know about it: where its
problems come from and their schema, the prompt, how many samples per problem, how a sample is
graded (math-verify, or an LLM judge with three outcomes), which metrics are reported, and a
VERSION that enters the cache key of every evaluation (bump it when grading or loading changes).

Public API::

    get_benchmark(name) -> Benchmark       # "comp-math-24-25", "hle-math"
    list_benchmarks() -> list[str]
    register_benchmark(cls)                # refuses a second benchmark with the same name
"""
from nmframe.benchmarks.base import Benchmark, BenchmarkError
from nmframe.benchmarks.registry import get_benchmark, list_benchmarks, register_benchmark

from nmframe.benchmarks import comp_math, hle_math  # noqa: E402,F401  (registers the built-ins)

__all__ = ["Benchmark", "BenchmarkError", "get_benchmark", "list_benchmarks", "register_benchmark"]
