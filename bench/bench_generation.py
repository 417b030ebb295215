"""Generation-loop overhead per sample, model time excluded (scripted teacher), printed as a table.

What it measures: everything the loop does around the engine for one sample: rendering the
harmony prompt, building requests, appending chunks and tool outputs, executing tool calls,
parsing the trace into messages, extracting the answer, exact teacher token counts, and
appending the record to a shard (JSON + fsync). The scripted backend answers instantly; its own
time is measured and subtracted. Tool setups: none; 3 calls answered by an instant stub
sandbox (pure loop cost); 3 calls in the real sandbox (adds the cell round trips).

Run: python bench/bench_generation.py [--samples 128] [--batch 64] [--long-chars 50000]
"""
from __future__ import annotations

import argparse
import tempfile
import time

from nmframe.generation import LoopSettings, SampleSpec, TirLoop, open_shard
from nmframe.testing.scripted_backend import ScriptedBackend
from nmframe.sandbox import ExecResult, Sandbox


class StubSandbox:
    def execute(self, code, session_id="default", timeout=None):
        return ExecResult(status="ok", stdout="42\n", session_id=session_id)

    def close_session(self, session_id):
        pass


class TimedBackend(ScriptedBackend):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.time_s = 0.0

    def complete(self, requests):
        t0 = time.perf_counter()
        out = super().complete(requests)
        self.time_s += time.perf_counter() - t0
        return out


def turns(calls: int, chars: int) -> list[str]:
    filler = ("Let x be the number; then 2x + 3 = 11 so x = 4. " * (chars // 48 + 1))[:chars]
    call = (f"<|channel|>analysis<|message|>{filler}<|end|><|start|>assistant<|channel|>analysis to=python code"
            "<|message|>x = 6 * 7\nprint(x)<|call|>")
    final = f"<|channel|>analysis<|message|>{filler}<|end|><|start|>assistant<|channel|>final<|message|>\\boxed{{42}}<|return|>"
    return [call] * calls + [final]


def bench(name, n, batch, calls, chars, sandbox, count_tokens=True) -> dict:
    backend = TimedBackend(turns(calls, chars))
    specs = [SampleSpec({"id": f"p{i}", "problem": f"What is {i} + 41 - {i}?", "expected_answer": "42"},
                        "high", calls > 0, 0, i) for i in range(n)]
    settings = LoopSettings(max_tokens=10 ** 7, max_calls=100, call_timeout_s=10, tool_workers=8,
                            count_teacher_tokens=count_tokens)
    with tempfile.TemporaryDirectory() as d:
        writer = open_shard(d)
        loop = TirLoop(backend, settings, sandbox if calls else None)
        t0 = time.perf_counter()
        for s in range(0, n, batch):
            loop.run(specs[s:s + batch], on_record=writer.append)
        wall = time.perf_counter() - t0
        writer.finish()
        loop.close()
    per = (wall - backend.time_s) / n * 1e3
    return {"setup": name, "samples": n, "rounds": calls + 1, "chars/turn": chars,
            "ms/sample excl. model": per, "model(scripted) ms/sample": backend.time_s / n * 1e3}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=128)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--long-chars", type=int, default=50_000)
    args = ap.parse_args()
    n, b = args.samples, args.batch
    stub = StubSandbox()
    rows = []
    # warm-up: o200k vocabulary, harmony encoding, imports
    bench("warm-up", 4, 4, 1, 100, stub)
    rows.append(bench("no tools", n, b, 0, 1000, None))
    rows.append(bench("no tools, no o200k counts", n, b, 0, 1000, None, count_tokens=False))
    rows.append(bench("3 calls, stub sandbox", n, b, 3, 1000, stub))
    with Sandbox(max_sessions=max(b, 16)) as sb:
        sb.execute("None", session_id="warm")
        rows.append(bench("3 calls, real sandbox", n, b, 3, 1000, sb))
    rows.append(bench("no tools, long trace", max(8, n // 8), b, 0, args.long_chars * 4, None))
    rows.append(bench("3 calls, stub, long trace", max(8, n // 8), b, 3, args.long_chars, stub))
    cols = list(rows[0])
    print(f"generation-loop overhead (batch {b}; fsync per record; teacher token counts on unless noted)")
    print(" | ".join(f"{c:>26}" if i == 0 else f"{c:>12}" for i, c in enumerate(cols)))
    for r in rows:
        print(" | ".join(f"{r[c]:>26}" if i == 0 else (f"{r[c]:>12.3f}" if isinstance(r[c], float) else f"{r[c]:>12}")
                         for i, c in enumerate(cols)))


if __name__ == "__main__":
    main()
