"""Reading the LLM's replies to the preparation prompts.

Each parser returns a value or raises :class:`Unreadable` with the reason; callers turn that into
"no decision" (counted, logged), never into a label.

* :func:`parse_problems`: ``<problem>...</problem>`` blocks -> list of problem texts;
  ``<no_problem/>`` alone -> []. Unreadable: empty reply, an unclosed or empty block, both a
  block and ``<no_problem/>``, or neither.
* :func:`parse_final_answer`: ``Final answer: \\boxed{...}`` -> the answer; ``Final answer: none``
  -> None. Unreadable: no such line, an unbalanced box, an empty box, or several lines that
  disagree.
* :func:`parse_judgement`: ``Judgement: yes|no`` -> True / False, anything else None ("no
  judgement", never read as "no"); :func:`parse_yes_no` is the same, raising instead of None.
"""
from __future__ import annotations

import re

from typing import Any

from nmframe.answers.extract import match_brace

_OPEN = re.compile(r"<\s*problem\s*>", re.IGNORECASE)
_CLOSE = re.compile(r"<\s*/\s*problem\s*>", re.IGNORECASE)
_NONE_TAG = re.compile(r"<\s*no_problem\s*/?\s*>", re.IGNORECASE)
_FINAL = re.compile(r"final\s+answer\s*[:：]\s*(.*)", re.IGNORECASE)
_NONE_WORDS = {"none", "no answer", "n/a", "not established", "no final answer"}
_JUDGEMENT = re.compile(r"judge?ment\s*[:：]\s*[*_`\"'\[(]*\s*(yes|no)\b", re.IGNORECASE)


class Unreadable(ValueError):
    """A reply that does not follow the prompt's format."""


def parse_problems(reply: str | None) -> list[str]:
    if not isinstance(reply, str) or not reply.strip():
        raise Unreadable("empty reply")
    text = reply.strip()
    opens, closes = len(_OPEN.findall(text)), len(_CLOSE.findall(text))
    none = bool(_NONE_TAG.search(text))
    if opens == 0 and closes == 0:
        if none:
            return []
        raise Unreadable("no <problem> block and no <no_problem/>")
    if none:
        raise Unreadable("both <problem> blocks and <no_problem/>")
    if opens != closes:
        raise Unreadable(f"{opens} <problem> tag(s) but {closes} </problem>")
    out, pos = [], 0
    while True:
        o = _OPEN.search(text, pos)
        if o is None:
            break
        c = _CLOSE.search(text, o.end())
        if c is None:
            raise Unreadable("unclosed <problem> block")
        if _OPEN.search(text, o.end(), c.start()):
            raise Unreadable("nested <problem> blocks")
        body = text[o.end():c.start()].strip()
        if not body:
            raise Unreadable("empty <problem> block")
        out.append(body)
        pos = c.end()
    return out


def _box_content(s: str) -> str:
    i = s.find("\\boxed")
    j = s.find("{", i)
    if i < 0 or j < 0 or s[i + len("\\boxed"):j].strip():
        raise Unreadable("no \\boxed{...} after 'Final answer:'")
    end = match_brace(s, j + 1)
    if end < 0:
        raise Unreadable("unbalanced braces in \\boxed{")
    inner = s[j + 1:end - 1].strip()
    if not inner:
        raise Unreadable("empty \\boxed{}")
    return inner


def parse_final_answer(reply: str | None) -> str | None:
    if not isinstance(reply, str) or not reply.strip():
        raise Unreadable("empty reply")
    text = reply.replace("**", "")
    found = []
    for m in _FINAL.finditer(text):
        value = m.group(1).strip().strip("$").strip().rstrip(".").strip()
        if value.lower().strip("*_` ") in _NONE_WORDS:
            found.append(None)
        elif "\\boxed" in value:
            found.append(_box_content(text[m.start(1):]))
        else:
            raise Unreadable("'Final answer:' is followed by neither \\boxed{...} nor 'none'")
    if not found:
        raise Unreadable("no 'Final answer:' line")
    if len(set(found)) > 1:
        raise Unreadable(f"{len(set(found))} different final answers")
    return found[0]


def parse_judgement(reply: Any) -> bool | None:
    """``Judgement: yes`` -> True, ``Judgement: no`` -> False, anything else -> None.

    Several judgement lines count only if they all agree; markdown emphasis around the word
    (``**Judgement:** **yes**``) and the spelling "Judgment" are accepted.
    """
    if not isinstance(reply, str) or not reply.strip():
        return None
    text = reply.replace("**", "").replace("__", "")
    found = {m.group(1).lower() for m in _JUDGEMENT.finditer(text)}
    if len(found) != 1:
        return None
    return found.pop() == "yes"


def parse_yes_no(reply: str | None) -> bool:
    verdict = parse_judgement(reply)
    if verdict is None:
        raise Unreadable("no single 'Judgement: yes|no' line")
    return verdict
