"""A test-only step, ``fixture_traces``, that writes a small traces artifact (harmony completions
of chosen lengths, all modes, with and without TIR, one over-long, one marked incorrect), so the
SFT steps can run end to end without a teacher. Registered through ``NMFRAME_PLUGINS``."""
from __future__ import annotations

from nmframe.datafiles import write_jsonl
from nmframe.engine import Step, StepContext, register_step
from nmframe.harmony import CODE_START, render_tool_output

# reasoning words per trace: the tiny tokenizer's harmony prompt is ~470 tokens, so these spread
# the traces over the tiny buckets (<=512, <=1024, <=2048) and one beyond them
WORDS = [5, 10, 20, 8, 150, 300, 200, 250, 400, 450, 3000]


def completion(words: int, tir: bool) -> str:
    text = "<|channel|>analysis<|message|>" + " step" * words + "<|end|>"
    if tir:
        text += CODE_START + "print(6 * 7)<|call|>" + render_tool_output("42\n")
        text += "<|channel|>analysis<|message|>So 42.<|end|>"
    return text + "<|start|>assistant<|channel|>final<|message|>The answer is \\boxed{42}."


def fixture_rows() -> list[dict]:
    rows = []
    for i, w in enumerate(WORDS):
        for mode in ("high", "medium", "low"):
            if mode != "high" and w > 350:  # long traces are high mode, as in the recipe
                continue
            for tir in (False, True):
                rows.append({"problem_id": f"p{i}", "problem": f"What is 6 times 7? (variant {i})", "mode": mode,
                             "tir": tir, "seed": 0, "completion": completion(w, tir), "correct": True})
    rows.append({**rows[0], "problem_id": "wrong", "correct": False})
    return rows


@register_step
class FixtureTraces(Step):
    name = "fixture_traces"
    VERSION = "1"
    description = "test fixture: a small traces artifact"

    def run(self, ctx: StepContext) -> None:
        write_jsonl(ctx.out_dir / "samples.jsonl", fixture_rows())
