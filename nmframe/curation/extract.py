"""Problems from raw posts: a rule for short clean statements, the LLM for the rest.

Rule (decided_by "rule"): a post of at most ``max_sentences`` sentences (math removed before
counting) and ``max_chars`` characters, with no chatter (greetings, thanks, "help me", "I
tried", moderator notes, ...), no enumeration of several items, and no reference to its title,
is one problem: the post itself. Anything else goes to the LLM with ``extract_problems`` (one
post may hold several problems, or none). An unreadable reply is "no decision": the post goes to
``undecided.jsonl`` and yields no problem.

:func:`problem_rows` turns a thread and its decision into canonical problem rows (ids from the
text, so the same problem gets the same id everywhere).
"""
from __future__ import annotations

import re

from nmframe.problems.canonical import CANONICAL_FIELDS, normalise_text, problem_id
from nmframe.sources.thread import RawThread

from . import prompts
from .decision import RULE, Decision, decide
from .llm import CurationLLM
from .parse import parse_problems

PROMPT = "extract_problems"
_CHATTER = re.compile(
    r"\b(?:hi|hello|hey|thanks?|thank you|thx|thanx|cheers|please help|help me|need help|homework|my attempt|"
    r"i tried|i have tried|i've tried|i think|i don'?t know|i am stuck|i'm stuck|any (?:hints?|help|ideas?)|"
    r"can (?:someone|anyone|you)|could (?:someone|anyone|you)|does anyone|moderator|edit|i created|i made up|"
    r"too easy|the question is|here is|here's|nice problem)\b|(?<!\w)[:;]-?[dp()](?!\w)", re.IGNORECASE)
_ENUM = re.compile(r"(?m)^\s*(?:\d{1,2}[.)]|\(\s*(?:[a-z]|\d{1,2}|[ivx]+)\s*\)|[a-z][.)])\s+\S")
_TITLE_REF = re.compile(r"\b(?:title|as above|see above|the question above)\b", re.IGNORECASE)
_MATH = re.compile(r"\$\$.+?\$\$|\$[^$]*\$|\\\[.+?\\\]|\\\(.+?\\\)", re.DOTALL)
_SENT_END = re.compile(r"[.?!](?=\s|$)")


def sentences(text: str) -> int:
    """Sentences of ``text`` with the math taken out (``$1.5$`` is no sentence end)."""
    plain = _MATH.sub(" M ", text).strip()
    if not plain:
        return 0
    ends = len(_SENT_END.findall(plain))
    return ends + (0 if re.search(r"[.?!]\s*$", plain) else 1)


def problem_rule(thread: RawThread, max_sentences: int = 2, max_chars: int = 600) -> Decision | None:
    text = thread.post.strip()
    if len(text) > max_chars:
        return None
    if _CHATTER.search(text) or _TITLE_REF.search(text) or len(_ENUM.findall(text)) >= 2:
        return None
    k = sentences(text)
    if k == 0 or k > max_sentences:
        return None
    return Decision(RULE, f"single statement: {k} sentence(s), {len(text)} chars, no chatter or enumeration",
                    [text])


def extraction_prompt(thread: RawThread) -> str:
    title = f"Title of the thread: {thread.title}\n\n" if thread.title else ""
    return prompts.render(PROMPT, post=thread.post, title=title)


def decide_problems(threads: list[RawThread], llm: CurationLLM | None, *, max_sentences: int = 2,
                    max_chars: int = 600, replies: dict | None = None) -> list[Decision]:
    """One decision per thread; uncertain threads go to ``llm`` in one batch."""
    return decide(threads, lambda t: problem_rule(t, max_sentences, max_chars), extraction_prompt, parse_problems,
                  lambda probs: f"llm extracted {len(probs)} problem(s)" if probs else "llm: no problem in the post",
                  llm, replies)


def problem_rows(thread: RawThread, decision: Decision) -> list[dict]:
    """Canonical rows (plus ``answers`` and ``prep``) for the problems of a decided thread."""
    rows = []
    probs = [p for p in (decision.value or []) if normalise_text(p)]
    for k, text in enumerate(probs):
        row = dict.fromkeys(CANONICAL_FIELDS)
        row.update(id=problem_id(text), problem=text, data_source=thread.data_source, discussion=thread.discussion,
                   license=thread.license, url=thread.url,
                   origin=thread.origin if len(probs) == 1 else f"{thread.origin}#{k + 1}",
                   metadata={**thread.metadata, "source_id": thread.source_id, "title": thread.title,
                             "created": thread.created, "part": k + 1, "parts": len(probs)})
        row["answers"] = [a.__dict__ for a in thread.answers]
        row["prep"] = {"extract": decision.record(problems=len(probs))}
        rows.append(row)
    return rows
