"""Render one teacher trace to the student's token ids and a loss mask.

The student learns only what the teacher wrote: the loss mask is on for the assistant's tokens
and off for the prompt (system header, user turn) and for tool outputs, which the Python sandbox
wrote. Two templates (``sft.template``):

* ``harmony`` (the paper): the teacher's own text. The prompt is rendered with
  :func:`nmframe.harmony.render_prompt` (reasoning effort and, for TIR traces, the python tool
  declaration), followed by the completion exactly as generated. Loss on the completion except
  every non-assistant message in it (``<|start|>python code to=assistant...<|end|>`` and the
  ``<|start|>assistant`` the loop appended after it). A completion whose final answer lost its
  ``<|return|>`` to the engine's stop handling gets it back, so the student learns to stop.
* ``chat``: the student tokenizer's chat template over the chat messages (user, assistant with
  ``reasoning_content`` / ``tool_calls``, tool). Loss on each assistant turn after its
  generation header (what ``add_generation_prompt`` renders), found by rendering the conversation
  turn by turn; a template that does not render prefixes stably is an error, not a guess.

Ids come from tokenizing the whole text once (what the student sees at inference), and a token
is a target when its first character lies in a loss span (character offsets from the fast
tokenizer). Lengths therefore are the student's token counts.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from nmframe.harmony import (PYTHON_TOOL_SPEC, parse_completion,
                             render_prompt, render_tool_output, user_prompt)
from nmframe.harmony.protocol import (CALL, CODE_START, END, HARMONY_TOOL_OUTPUT_START, RETURN, START, TERMINATORS,
                                      TOOL_OUTPUT_START)

MODES = ("high", "medium", "low")
TEMPLATES = ("harmony", "chat")


class SkipTrace(ValueError):
    """A trace that cannot be trained on; ``reason`` is a short label counted in the report."""

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass
class TraceRecord:
    """The fields of a trace the formatter needs (see :func:`trace_record`)."""

    problem_id: str
    problem: str
    mode: str
    tir: bool
    seed: int
    completion: Optional[str]
    messages: Optional[list]


def _kept(row: dict) -> bool:
    for flag in ("kept", "correct"):
        if flag in row and row[flag] is not None and not bool(row[flag]):
            return False
    return True


def trace_record(row: dict) -> Optional[TraceRecord]:
    """A :class:`TraceRecord` from a traces row, or None when the row is flagged not kept.

    Raises :class:`SkipTrace` for rows that lack what training needs.
    """
    if not _kept(row):
        return None
    mode = str(row.get("mode") or row.get("reasoning_effort") or "").lower()
    if mode not in MODES:
        raise SkipTrace("bad_mode", f"mode {row.get('mode')!r} is not one of {MODES}")
    completion = row.get("completion")
    messages = row.get("messages")
    if not completion and not messages:
        raise SkipTrace("no_completion", "row has neither 'completion' nor 'messages'")
    problem = row.get("problem")
    if completion and not isinstance(problem, str):
        raise SkipTrace("no_problem", "a 'completion' row needs its 'problem' text")
    seed = row.get("seed")
    return TraceRecord(problem_id=str(row.get("problem_id", row.get("id", ""))), problem=problem or "",
                       mode=mode, tir=bool(row.get("tir", False)), seed=int(seed) if seed is not None else -1,
                       completion=completion or None, messages=messages or None)


# ------------------------------------------------------------------------------------------
# harmony
def messages_to_harmony_completion(messages: list) -> str:
    """The harmony completion text of stored chat messages (the shape of
    :func:`nmframe.harmony.trace_to_chat_messages`), after the user turn."""
    parts: list[str] = []
    for i, m in enumerate(messages):
        role = m.get("role")
        if role in ("user", "system", "developer"):
            continue
        if role == "assistant":
            reasoning = m.get("reasoning_content") or ""
            calls = m.get("tool_calls") or []
            content = m.get("content") or ""
            if reasoning:
                parts.append(f"{START}assistant<|channel|>analysis<|message|>{reasoning}{END}")
            for call in calls:
                fn = call.get("function", {})
                args = fn.get("arguments", "")
                try:
                    code = json.loads(args)["code"] if isinstance(args, str) else args["code"]
                except (ValueError, KeyError, TypeError):
                    code = args if isinstance(args, str) else json.dumps(args)
                parts.append(f"{CODE_START}{code}{CALL}")
            if content:
                parts.append(f"{START}assistant<|channel|>final<|message|>{content}{RETURN}")
        elif role == "tool":
            # openai-harmony's header, so that its parser reads the training text back
            out = render_tool_output(m.get("content") or "", "harmony")
            parts.append(out[: -len(f"{START}assistant")])  # the next assistant message opens its own turn
        else:
            raise SkipTrace("bad_message", f"message {i} has role {role!r}")
    text = "".join(parts)
    prefix = f"{START}assistant"
    if not text.startswith(prefix):
        raise SkipTrace("bad_message", "the messages do not start with an assistant turn")
    return text[len(prefix):]  # the prompt already ends with <|start|>assistant


def _close_final(completion: str, require_finished: bool = True) -> str:
    """Append ``<|return|>`` to a finished final answer whose terminator the engine stripped.

    A completion that does not end in a final answer (cut by the token budget) is skipped, or,
    with ``require_finished=False`` (smoke runs on an untrained teacher), kept unchanged.
    """
    if completion.endswith(TERMINATORS):
        return completion
    parsed = parse_completion(completion)
    last = parsed.messages[-1] if parsed.messages else None
    if last is not None and last.role == "assistant" and last.channel == "final" and not last.recipient:
        return completion + RETURN
    if not require_finished:
        return completion
    raise SkipTrace("unfinished", "the completion does not end with a final answer")


def _harmony_loss_spans(completion: str, offset: int) -> list[tuple[int, int]]:
    """Character spans of ``completion`` (shifted by ``offset``) the assistant wrote."""
    spans, pos, n = [], 0, len(completion)
    cursor = 0
    while True:
        i = completion.find(START, cursor)
        if i < 0:
            break
        role_end = i + len(START)
        j = role_end
        while j < n and completion[j] not in " <":
            j += 1
        role = completion[role_end:j]
        if role == "assistant":
            cursor = role_end
            continue
        # a message written by someone else (a tool's output): mask it up to its terminator and
        # the "<|start|>assistant" the loop appended to reopen the assistant's turn
        ends = [(completion.find(t, j), t) for t in TERMINATORS]
        ends = [(e, t) for e, t in ends if e >= 0]
        stop = min(ends)[0] + len(min(ends)[1]) if ends else n
        if completion.startswith(f"{START}assistant", stop):
            stop += len(f"{START}assistant")
        if i > pos:
            spans.append((offset + pos, offset + i))
        pos = cursor = stop
    if pos < n:
        spans.append((offset + pos, offset + n))
    return spans


def render_harmony(rec: TraceRecord, require_finished: bool = True,
                   tool_timeout_s: float | None = None) -> tuple[str, list[tuple[int, int]]]:
    completion = rec.completion if rec.completion else messages_to_harmony_completion(rec.messages)
    # the teacher's tool-output header (the paper's) -> openai-harmony's, which its parser reads back
    completion = _close_final(completion.replace(TOOL_OUTPUT_START, HARMONY_TOOL_OUTPUT_START), require_finished)
    prompt = render_prompt(user_prompt(rec.problem), rec.mode, with_python_tool=rec.tir,
                           tool_timeout_s=tool_timeout_s)
    return prompt + completion, _harmony_loss_spans(completion, len(prompt))


# ------------------------------------------------------------------------------------------
# chat
def _chat_messages(rec: TraceRecord) -> list[dict]:
    if rec.messages:
        msgs = [dict(m) for m in rec.messages]
    else:
        parsed = parse_completion(rec.completion)
        msgs = parsed.to_messages(user_content=user_prompt(rec.problem))
    if not any(m.get("role") == "user" for m in msgs):
        msgs.insert(0, {"role": "user", "content": user_prompt(rec.problem)})
    for m in msgs:
        if m.get("role") == "assistant":
            for call in m.get("tool_calls") or []:
                fn = call.get("function", {})
                if isinstance(fn.get("arguments"), str):  # templates index arguments as a mapping
                    try:
                        fn["arguments"] = json.loads(fn["arguments"])
                    except ValueError:
                        pass
    return msgs


def _render_chat(tokenizer, msgs, tools, gen: bool = False) -> str:
    if not msgs:
        return ""
    return tokenizer.apply_chat_template(msgs, tools=tools, tokenize=False, add_generation_prompt=gen)


def render_chat(rec: TraceRecord, tokenizer) -> tuple[str, list[tuple[int, int]]]:
    msgs = _chat_messages(rec)
    tools = [PYTHON_TOOL_SPEC] if rec.tir else None
    spans = []
    for k, m in enumerate(msgs):
        if m.get("role") != "assistant":
            continue
        before = _render_chat(tokenizer, msgs[:k], tools)
        header = _render_chat(tokenizer, msgs[:k], tools, gen=True)
        upto = _render_chat(tokenizer, msgs[: k + 1], tools)
        if not (header.startswith(before) and upto.startswith(header)):
            raise SkipTrace("template_not_prefix_stable",
                            f"the chat template re-renders earlier turns when turn {k} is added")
        spans.append((len(header), len(upto)))
        for call in m.get("tool_calls") or []:
            code = (call.get("function", {}).get("arguments") or {})
            code = code.get("code") if isinstance(code, dict) else code
            if code and str(code) not in upto[len(header):]:
                raise SkipTrace("template_drops_tool_calls",
                                "the student's chat template does not render tool_calls")
    text = _render_chat(tokenizer, msgs, tools)
    if spans and len(text) < spans[-1][1]:
        raise SkipTrace("template_not_prefix_stable", "the full rendering is shorter than its turns")
    return text, spans


# ------------------------------------------------------------------------------------------
def tokenize_with_spans(tokenizer, text: str, spans: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Token ids of ``text`` and a 0/1 mask: 1 where the token starts inside a span."""
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = np.asarray(enc["input_ids"], dtype=np.int32)
    starts = np.asarray([o[0] for o in enc["offset_mapping"]], dtype=np.int64)
    if not spans:
        return ids, np.zeros(ids.shape[0], dtype=np.uint8)
    s = np.asarray([a for a, _ in spans], dtype=np.int64)
    e = np.asarray([b for _, b in spans], dtype=np.int64)
    k = np.searchsorted(s, starts, side="right") - 1
    inside = (k >= 0) & (starts < e[np.clip(k, 0, None)])
    return ids, inside.astype(np.uint8)


def render_trace(rec: TraceRecord, template: str, tokenizer, *, require_finished: bool = True,
                 tool_timeout_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Token ids (int32) and loss mask (uint8) of one trace with the student's tokenizer
    (``tool_timeout_s``: the per-call timeout the harmony system prompt states, as in generation)."""
    if template == "harmony":
        text, spans = render_harmony(rec, require_finished, tool_timeout_s)
    elif template == "chat":
        text, spans = render_chat(rec, tokenizer)
    else:
        raise ValueError(f"sft.template={template!r}: unknown template (allowed: {', '.join(TEMPLATES)})")
    ids, mask = tokenize_with_spans(tokenizer, text, spans)
    if ids.size == 0 or not mask.any():
        raise SkipTrace("no_loss_tokens", "the trace has no assistant tokens")
    return ids, mask


def describe_masked(tokenizer, ids: np.ndarray, mask: np.ndarray) -> dict[str, Any]:
    """The target and non-target text of a rendered trace (for reports and debugging)."""
    return {"target": tokenizer.decode(ids[mask.astype(bool)].tolist()),
            "context": tokenizer.decode(ids[~mask.astype(bool)].tolist())}
