"""Final-answer extraction: the last ``\\boxed{...}`` of the final answer only.

The recipe grades only what the model presents as its final answer. A gpt-oss trace in
harmony format contains analysis-channel text (scratch work, tool calls) that often
holds intermediate boxed values; a thinking-model trace has the same problem before
``</think>``. Taking a box from there would credit reasoning that never became an
answer, so only the final segment is searched:

* text with the harmony final-channel marker ``<|channel|>final<|message|>``: what follows
  the last such marker, up to ``<|end|>`` / ``<|return|>`` / ``<|call|>`` if present;
* text with harmony channel markers but no final channel: no answer (``None``);
* text with ``</think>``: what follows the last ``</think>``;
* text with ``<think>`` but no ``</think>`` (reasoning cut off): no answer;
* otherwise the whole text.

Within that segment the answer is the content of the last ``\\boxed{...}`` or
``\\fbox{...}`` (spaces allowed before the brace), found by brace matching so nested
braces work; ``\\{`` and ``\\}`` are literal braces and do not count. Boxes nested inside
a box are part of its content. An unbalanced last box, an empty box or no box at all
gives ``None``, never ``""``.
"""
from __future__ import annotations

import re

FINAL_MARKER = "<|channel|>final<|message|>"
CHANNEL_MARKER = "<|channel|>"
END_MARKERS = ("<|end|>", "<|return|>", "<|call|>")
THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*\{")


def final_segment(text: str) -> str | None:
    """The part of a response that holds its final answer, or None if it has none."""
    idx = text.rfind(FINAL_MARKER)
    if idx >= 0:
        seg = text[idx + len(FINAL_MARKER):]
        cut = [seg.find(m) for m in END_MARKERS]
        cut = [c for c in cut if c >= 0]
        return seg[: min(cut)] if cut else seg
    if CHANNEL_MARKER in text:
        return None
    idx = text.rfind(THINK_CLOSE)
    if idx >= 0:
        return text[idx + len(THINK_CLOSE):]
    if THINK_OPEN in text:
        return None
    return text


def match_brace(text: str, start: int) -> int:
    """Index just past the ``}`` closing the ``{`` at ``start - 1``; -1 if unbalanced."""
    depth = 1
    i = start
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2  # \{ \} \\ and any command char: never a structural brace
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return -1


def last_boxed(segment: str) -> str | None:
    """Content of the last top-level ``\\boxed{}``/``\\fbox{}`` in ``segment``."""
    found: str | None = None
    pos = 0
    while True:
        m = _BOX_RE.search(segment, pos)
        if m is None:
            return found
        end = match_brace(segment, m.end())
        if end < 0:
            return None  # the last box never closes: no trustworthy answer
        found = segment[m.end(): end - 1]
        pos = end


def extract_answer(text: str) -> str | None:
    """The stripped content of the last box of the final answer, or None."""
    if not text:
        return None
    seg = final_segment(text)
    if seg is None:
        return None
    ans = last_boxed(seg)
    if ans is None:
        return None
    ans = ans.strip()
    return ans or None
