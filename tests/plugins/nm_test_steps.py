"""Steps used only by the engine tests (registered through NMFRAME_PLUGINS).

`counted` records every computation in a counter file, so tests can tell how many times a key
was computed across processes; `boom` always fails (`after_boom`, `after_boom_shards` wait on
it); `partial_then_sleep` writes half its output and waits, so a test can kill it mid-step.
"""
import os
import time
from pathlib import Path

from nmframe.engine import Resources, Step, TaskSpec, register_step


def _count(name: str) -> None:
    path = os.environ.get("NMFRAME_TEST_COUNTER")
    if path:
        with open(path, "a") as f:
            f.write(f"{name} {os.getpid()}\n")


@register_step
class Counted(Step):
    name = "counted"
    VERSION = os.environ.get("NMFRAME_TEST_COUNTED_VERSION", "1")
    inputs = ("ingest",)
    slice_paths = ("trainer.lr",)

    def resources(self, cfg, params):
        return Resources(cpus=1, time_min=5)

    def run(self, ctx):
        _count(f"counted lr={ctx.cfg.trainer.lr}")
        time.sleep(float(os.environ.get("NMFRAME_TEST_SLEEP", "0")))
        n = sum(1 for _ in open(ctx.inputs["ingest"] / "problems.jsonl"))
        (ctx.out_dir / "out.txt").write_text(f"{n} problems, lr={ctx.cfg.trainer.lr}\n")
        ctx.log_metrics({"problems": n})


@register_step
class Boom(Step):
    name = "boom"
    VERSION = "1"
    inputs = ("ingest",)

    def run(self, ctx):
        (ctx.out_dir / "half.txt").write_text("partial")
        raise RuntimeError("boom: this step always fails")


@register_step
class AfterBoom(Step):
    name = "after_boom"
    VERSION = "1"
    inputs = ("boom",)

    def run(self, ctx):
        (ctx.out_dir / "never.txt").write_text("x")


@register_step
class AfterBoomShards(Step):
    """Three tasks downstream of `boom`: a failure's dependants are counted, not listed."""
    name = "after_boom_shards"
    VERSION = "1"
    inputs = ("boom",)

    def tasks(self, cfg, dag):
        return [TaskSpec(params={"shard": i}, inputs={"boom": dag.one("boom")}) for i in range(3)]

    def run(self, ctx):
        (ctx.out_dir / "never.txt").write_text("x")


@register_step
class PartialThenSleep(Step):
    name = "partial_then_sleep"
    VERSION = "1"
    inputs = ("ingest",)

    def run(self, ctx):
        with open(ctx.out_dir / "data.jsonl", "w") as f:
            f.write('{"a": 1}\n')
            f.flush()
        Path(os.environ["NMFRAME_TEST_STARTED"]).write_text("started")
        time.sleep(float(os.environ.get("NMFRAME_TEST_SLEEP", "60")))
        with open(ctx.out_dir / "data.jsonl", "a") as f:
            f.write('{"a": 2}\n')


@register_step
class FanOut(Step):
    """Two tasks per run, to check params tell tasks apart."""
    name = "fan_out"
    VERSION = "1"
    inputs = ("ingest",)

    def tasks(self, cfg, dag):
        return [TaskSpec(params={"shard": i}, inputs={"ingest": dag.one("ingest")}) for i in range(2)]

    def run(self, ctx):
        (ctx.out_dir / "shard.txt").write_text(str(ctx.params["shard"]))
