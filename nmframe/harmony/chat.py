"""Convert a parsed teacher trace into the chat messages stored in the dataset.

The released Nemotron-Math-v2 rows keep a ``messages`` chat list and a
``tools`` list (non-empty for tool-integrated traces).  nmframe stores traces
in an OpenAI-chat-like shape, one dict per turn, with the same keys on every
dict of a role so that the column has a stable Arrow type:

* ``{"role": "user", "content": str}`` (and system/developer the same way);
* ``{"role": "assistant", "content": str, "reasoning_content": str,
  "tool_calls": list}`` -- ``content`` is the final-channel answer ("" for a
  turn that ends in a tool call or was cut off), ``reasoning_content`` the
  analysis written since the previous assistant dict (several analysis
  messages are joined with ``"\\n"``), ``tool_calls`` empty or one call
  ``{"id": "call_<k>", "type": "function", "function": {"name":
  "stateful_python_code_exec", "arguments": "{\\"code\\": ...}"}}``;
* ``{"role": "tool", "content": str, "tool_call_id": "call_<k>", "name":
  "stateful_python_code_exec"}`` -- the executor's output.

Commentary-channel messages without a recipient count as reasoning.  Calls to
recipients other than Python keep the recipient as the function name and the
raw content under ``arguments``.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:  # parse.ParsedTrace.to_messages calls into this module
    from .parse import ParsedTrace

#: Function name of the stateful Python tool in stored chat messages.
PYTHON_TOOL_NAME = "stateful_python_code_exec"

#: The ``tools`` column entry of a tool-integrated trace.
PYTHON_TOOL_SPEC = {
    "type": "function",
    "function": {
        "name": PYTHON_TOOL_NAME,
        "description": (
            "Execute Python code in a stateful Jupyter-like session; variables persist "
            "across calls. Returns the (possibly truncated) output or a timeout message."
        ),
        "parameters": {
            "type": "object",
            "properties": {"code": {"type": "string", "description": "Python code to run."}},
            "required": ["code"],
        },
    },
}


def _assistant(content: str, reasoning: list[str], tool_calls: list) -> dict:
    return {"role": "assistant", "content": content, "reasoning_content": "\n".join(reasoning),
            "tool_calls": tool_calls}


def trace_to_chat_messages(trace: ParsedTrace, user_content: Optional[str] = None,
                           tool_name: str = PYTHON_TOOL_NAME) -> list[dict]:
    """The chat list of ``trace``, preceded by a user turn when ``user_content`` is given."""
    out: list[dict] = []
    if user_content is not None:
        out.append({"role": "user", "content": user_content})
    reasoning: list[str] = []
    calls = 0
    last_call_id: Optional[str] = None
    for msg in trace.messages:
        if msg.role == "assistant":
            if msg.recipient:
                last_call_id = f"call_{calls}"
                calls += 1
                if msg.is_tool_call:
                    name, arguments = tool_name, json.dumps({"code": msg.content}, ensure_ascii=False)
                else:
                    name, arguments = msg.recipient, msg.content
                call = {"id": last_call_id, "type": "function",
                        "function": {"name": name, "arguments": arguments}}
                out.append(_assistant("", reasoning, [call]))
                reasoning = []
            elif msg.channel == "final":
                out.append(_assistant(msg.content, reasoning, []))
                reasoning = []
            else:
                reasoning.append(msg.content)
        else:
            if reasoning:  # keep the order of reasoning and the turn that interrupts it
                out.append(_assistant("", reasoning, []))
                reasoning = []
            if msg.role != "tool":
                out.append({"role": msg.role, "content": msg.content})
                continue
            out.append({"role": "tool", "content": msg.content, "tool_call_id": last_call_id,
                        "name": tool_name if msg.name == "python" else msg.name})
    if reasoning:
        out.append(_assistant("", reasoning, []))
    return out


__all__ = ["PYTHON_TOOL_NAME", "PYTHON_TOOL_SPEC", "trace_to_chat_messages"]
