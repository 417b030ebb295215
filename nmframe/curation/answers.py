"""The reference answer of each extracted problem, from its thread's answers.

Rules (decided_by "rule"), in order:
* no answers at all: no reference answer (answer validation later takes the majority of the
  teacher's solutions, as the recipe does for problems without a forum answer);
* a problem that is one of several from the same post goes to the LLM (which box belongs to
  which problem is not a rule's call);
* the accepted answer (StackExchange) holds ``\\boxed{}`` answers that all agree (equivalent by
  :func:`nmframe.answers.grade`): that answer;
* every ``\\boxed{}`` of the discussion agrees (AoPS, or StackExchange without an accepted box):
  that answer.
Otherwise the LLM reads the discussion (``extract_answer`` prompt). "none" from the LLM is a
decision (no answer established); an unreadable reply is "no decision", and the problem keeps no
reference answer (validation fills it by majority), counted and logged.
"""
from __future__ import annotations

from nmframe.answers import CORRECT, grade, normalize
from nmframe.answers.extract import match_brace

from . import prompts
from .decision import RULE, Decision, decide
from .llm import CurationLLM
from .parse import parse_final_answer

PROMPT = "extract_answer"
MAX_DISCUSSION_CHARS = 24_000


def boxed_all(text: str) -> list[str]:
    """Contents of every ``\\boxed{...}`` / ``\\fbox{...}`` in ``text`` (unbalanced ones skipped)."""
    out, pos = [], 0
    while True:
        i = min((j for j in (text.find("\\boxed", pos), text.find("\\fbox", pos)) if j >= 0), default=-1)
        if i < 0:
            return out
        j = text.find("{", i)
        if j < 0:
            return out
        end = match_brace(text, j + 1)
        if end < 0:
            return out
        inner = text[j + 1:end - 1].strip()
        if inner:
            out.append(inner)
        pos = end


def _agreeing(boxes: list[str]) -> str | None:
    """The last box when every box is equivalent to it (nmframe.answers.grade: "0.5" and "1/2"
    agree); None when there is none or any disagrees or cannot be graded."""
    if not boxes:
        return None
    last = boxes[-1]
    for b in {normalize(x) for x in boxes} - {normalize(last)}:
        if grade(last, b).outcome != CORRECT:
            return None
    return last


def answer_rule(row: dict) -> Decision | None:
    answers = row.get("answers") or []
    if not answers and not (row.get("discussion") or "").strip():
        return Decision(RULE, "no answers in the thread", None)
    if (row.get("metadata") or {}).get("parts", 1) > 1:
        return None
    accepted = [a for a in answers if str(a.get("kind", "")).startswith("accepted")]
    if accepted:
        ans = _agreeing(boxed_all(accepted[0].get("text") or ""))
        if ans is not None:
            return Decision(RULE, "\\boxed{} answer in the accepted answer", ans)
    texts = [a.get("text") or "" for a in answers] or [row.get("discussion") or ""]
    boxes = [b for t in texts for b in boxed_all(t)]
    ans = _agreeing(boxes)
    if ans is not None:
        return Decision(RULE, f"all {len(boxes)} \\boxed{{}} answer(s) of the discussion agree", ans)
    return None


def answer_prompt(row: dict) -> str:
    disc = row.get("discussion") or "\n\n".join(a.get("text") or "" for a in row.get("answers") or [])
    if len(disc) > MAX_DISCUSSION_CHARS:
        disc = disc[:MAX_DISCUSSION_CHARS] + "\n[... discussion cut for length ...]"
    return prompts.render(PROMPT, problem=row["problem"], discussion=disc)


def decide_answers(rows: list[dict], llm: CurationLLM | None, replies: dict | None = None) -> list[Decision]:
    return decide(rows, answer_rule, answer_prompt, parse_final_answer,
                  lambda ans: "llm read the answer from the discussion" if ans is not None
                  else "llm: the discussion establishes no answer", llm, replies)
