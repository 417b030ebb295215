"""HLE-Math: the text-only math questions of Humanity's Last Exam, judged by an LLM.

The paper uses 976 text-only math problems, 4 samples per problem, and an LLM judge
(Qwen2.5-32B-Instruct) with the HLE judge prompt; it reports pass@1 (and maj@4). The file is not
shipped: the user points ``evaluate.hle_math_file`` at it. Accepted rows: HLE's own columns
``{id, question, answer, image?, category?, answer_type?}`` or canonical ``{id, problem,
expected_answer}``. Rows with an image and rows whose ``category`` is not Math are skipped and
counted (the paper's set is text-only math).

Grading: a sample without a final answer is wrong (nothing to judge). Otherwise the judge reads
the question, the sample's final response and the reference answer and ends with
``Judgement: yes`` or ``Judgement: no``. A reply without a readable judgement, or a judge call
that fails, makes the sample "ungraded": counted apart, never wrong. The judge is a callable
``judge(prompt) -> reply`` named by ``evaluate.judge`` (``judge_llm``: the served ``prep.judge_llm``, or
``"module:factory"``, ``factory(cfg)``).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from nmframe.benchmarks.base import Benchmark, BenchmarkError, text_field
from nmframe.benchmarks.registry import register_benchmark

# The HLE judge prompt (Humanity's Last Exam, judge_prompt), with its verdict line written as
# the "Judgement: yes|no" line every nmframe judge ends with.
JUDGE_PROMPT = """Judge whether the following [response] to [question] is correct or not based on the precise and unambiguous [correct_answer] below.

[question]: {question}

[response]: {response}

Your judgement must be in the format and criteria specified below:

extracted_final_answer: The final exact answer extracted from the [response]. Put the extracted answer as 'None' if there is no exact, final answer to extract from the response.

[correct_answer]: {correct_answer}

reasoning: Explain why the extracted_final_answer is correct or incorrect based on [correct_answer], focusing only on if there are meaningful differences between [correct_answer] and the extracted_final_answer. Do not comment on any background to the problem, do not attempt to solve the problem, do not argue for any answer different than [correct_answer], focus only on whether the answers match.

End your reply with exactly one line: "Judgement: yes" if extracted_final_answer matches the [correct_answer] given above, or is within a small margin of error for numerical problems; "Judgement: no" otherwise, i.e. if there is any inconsistency, ambiguity, non-equivalency, or if the extracted answer is incorrect."""

RESPONSE_CHARS = 8000  # the tail of a long final response shown to the judge (the answer is at the end)


def render_judge_prompt(question: str, response: str, correct_answer: str) -> str:
    """Fill the prompt by plain replacement (LaTeX braces in the fields stay untouched)."""
    return (JUDGE_PROMPT.replace("{question}", question).replace("{correct_answer}", correct_answer)
            .replace("{response}", response))


def final_response(sample: dict) -> str:
    """The sample's final-channel text (last assistant message), else its boxed answer."""
    for msg in reversed(sample.get("messages") or []):
        if isinstance(msg, dict) and msg.get("role") == "assistant" and isinstance(msg.get("content"), str) \
                and msg["content"].strip():
            return msg["content"][-RESPONSE_CHARS:]
    ans = sample.get("final_answer")
    return f"\\boxed{{{ans}}}" if ans is not None else ""


@register_benchmark
class HleMath(Benchmark):
    name = "hle-math"
    VERSION = "1"
    description = "HLE text-only math (user-supplied file), LLM judge (Judgement: yes|no), 4 samples, pass@1"
    subsets = ("hle-math",)
    samples = 4
    grader = "llm-judge"
    path_key = "evaluate.hle_math_file"
    expected_problems = {"hle-math": 976}

    def parse_row(self, row, origin):
        pid = text_field(row, "id", "problem_id")
        question = text_field(row, "question", "problem")
        answer = text_field(row, "answer", "expected_answer")
        if pid is None:
            return None, "no id"
        if question is None:
            return None, "no question text"
        if answer is None:
            return None, "no answer"
        if text_field(row, "image"):
            return None, "has an image (text-only set)"
        category = row.get("category")
        if category is not None and str(category).strip().lower() != "math":
            return None, "category is not Math"
        return {"id": str(pid), "problem": str(question), "expected_answer": str(answer), "subset": "hle-math",
                "data_source": self.name, "answer_type": row.get("answer_type")}, None

    def grade(self, samples, problems, cfg, log=None, judge=None):
        from nmframe.curation.llm import ask

        if judge is None:
            raise BenchmarkError("hle-math is graded by an LLM judge: set evaluate.judge=judge_llm (with "
                                 "judge_llm=qwen2_5_32b_instruct) or 'module:factory' (e.g. "
                                 "nmframe.evaluation.judge:chat_endpoint with evaluate.judge_endpoint)")
        recs, prompts = [], []
        for s in samples:
            prob = problems[str(s["problem_id"])]
            rec = self.base_record(s, prob)
            rec["reference_answer"] = prob["expected_answer"]  # not "expected_answer": maj@k must use the judge's verdicts
            recs.append(rec)
            if s.get("final_answer") is None:
                rec.update(outcome="wrong", grade_reason="no final answer")
                prompts.append(None)
            else:
                prompts.append(render_judge_prompt(prob["problem"], final_response(s), prob["expected_answer"]))
        todo = [i for i, p in enumerate(prompts) if p is not None]
        workers = max(1, int(cfg.evaluate.judge_workers))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            replies = list(pool.map(lambda i: ask(judge, prompts[i]), todo))
        for i, (verdict, status) in zip(todo, replies):
            if verdict is None:
                recs[i].update(outcome="ungraded", grade_reason=f"judge: {status}")
            else:
                recs[i].update(outcome="correct" if verdict else "wrong", grade_reason=f"judge: {status}")
        if log is not None and todo:
            ungraded = sum(1 for i in todo if recs[i]["outcome"] == "ungraded")
            if ungraded:
                log.warning("hle-math: %d of %d judge replies had no readable judgement (ungraded)", ungraded, len(todo))
        return recs
