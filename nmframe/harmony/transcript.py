"""State of one tool-integrated generation: prompt plus a growing completion.

The generation loop asks the engine to continue ``full_text()`` with the stop
string ``<|call|>``.  The string protocol, chunk by chunk:

1. ``prompt`` ends with ``<|start|>assistant``.
2. The model writes text; when it opens a Python call it writes
   ``<|end|><|start|>assistant<|channel|>analysis to=python code<|message|>``
   (or openai-harmony's spelling ``<|start|>assistant to=python<|channel|>analysis code<|message|>``),
   then the code, then ``<|call|>``, where the engine stops.
   :meth:`TirTranscript.append_model_text` takes the chunk; engines strip the
   stop string, so ``<|call|>`` is appended when ``stopped_on_call`` is true
   and the chunk does not already end with it.  A chunk ending with
   ``<|call|>`` counts as stopped on a call whatever the flag says.
3. :meth:`TirTranscript.pending_code` is then the code of that call (None if
   the stop was not a Python call, e.g. ``<|call|>`` after a message with no
   ``to=python`` recipient, which is noted in ``issues``).
4. The loop runs the code and calls :meth:`TirTranscript.append_tool_output`,
   which appends ``<|start|>python code to=assistant<|channel|>analysis<|message|>{output}<|end|><|start|>assistant``;
   the model continues from there (step 2).
5. Generation ends when the engine stops for another reason: ``<|return|>``
   (or ``<|end|>``) after the final channel, usually stripped by the engine as
   an end-of-sequence token (pass it as ``stopped_on`` so the last message is
   closed), or the token budget (pass nothing: the last message stays open and
   ``parse()`` reports it as truncated).

The transcript never truncates or formats tool output: that is the sandbox's job.
"""
from __future__ import annotations

from typing import Optional

from .parse import ParsedTrace, parse_completion
from .protocol import ASSISTANT_TURN, CALL, START, TERMINATORS
from .render import render_tool_output


class TirTranscript:
    """Prompt text and the completion built from model chunks and tool outputs."""

    def __init__(self, prompt: str, tool_header: str = "paper"):
        """``tool_header``: the header of tool-output blocks (``paper``, the teacher's protocol, or
        ``harmony``, openai-harmony's, which students are trained and evaluated with)."""
        if not prompt.endswith(ASSISTANT_TURN):
            raise ValueError(f"prompt must end with {ASSISTANT_TURN!r} so that the model continues a turn")
        self.prompt = prompt
        self.tool_header = tool_header
        self._parts: list[str] = []
        self._pending: Optional[str] = None
        self.num_tool_calls = 0
        self.num_tool_outputs = 0
        self.num_model_chunks = 0
        self.issues: list[str] = []

    # -- growing the transcript ---------------------------------------------------

    def append_model_text(self, text: str, stopped_on_call: bool = False, *,
                          stopped_on: Optional[str] = None) -> Optional[str]:
        """Add a chunk the model wrote; return the pending code if it ended in a Python call.

        ``stopped_on`` names a terminator the engine stopped on and left out of
        ``text`` (``<|call|>``, ``<|return|>`` or ``<|end|>``); it is appended
        unless the text already ends with it.  ``stopped_on_call=True`` is the
        same as ``stopped_on="<|call|>"``.
        """
        if self._pending is not None:
            raise RuntimeError("a tool call is pending: append its output before more model text")
        if stopped_on_call:
            if stopped_on not in (None, CALL):
                raise ValueError(f"stopped_on_call=True contradicts stopped_on={stopped_on!r}")
            stopped_on = CALL
        if stopped_on is not None:
            if stopped_on not in TERMINATORS:
                raise ValueError(f"stopped_on must be one of {TERMINATORS}, got {stopped_on!r}")
            if not text.endswith(stopped_on):
                text += stopped_on
        self.num_model_chunks += 1
        self._parts.append(text)
        if text.endswith(CALL):
            self._pending = self._code_of_last_call()
            if self._pending is not None:
                self.num_tool_calls += 1
        return self._pending

    def _code_of_last_call(self) -> Optional[str]:
        full = self.full_text()
        # The call's own header is the last <|start|> (the prompt and every tool
        # output end with "<|start|>assistant", so one always exists).
        begin = full.rfind(START)
        trace = parse_completion(full[begin:], initial_role=None)
        last = trace.messages[-1] if trace.messages else None
        if last is None or last.end_token != CALL:
            self.issues.append("stopped on <|call|> but the last message could not be read")
            return None
        if not last.is_tool_call:
            self.issues.append(f"<|call|> addressed to {last.recipient!r}, not python")
            return None
        return last.content

    def pending_code(self) -> Optional[str]:
        """Code of the Python call awaiting its output, or None."""
        return self._pending

    def append_tool_output(self, text: str) -> None:
        """Append the output block for the pending call and reopen the assistant turn."""
        if self._pending is None:
            raise RuntimeError("no pending tool call to answer")
        self._parts.append(render_tool_output(text, self.tool_header))
        self._pending = None
        self.num_tool_outputs += 1

    # -- reading --------------------------------------------------------------------

    def completion_text(self) -> str:
        """Everything after the prompt: model chunks, ``<|call|>`` stops and output blocks."""
        return "".join(self._parts)

    def full_text(self) -> str:
        """Prompt plus completion: what the engine must continue."""
        return self.prompt + self.completion_text()

    def parse(self) -> ParsedTrace:
        """The completion as messages (see :func:`nmframe.harmony.parse.parse_completion`)."""
        return parse_completion(self.completion_text())

    def __repr__(self) -> str:
        return (f"TirTranscript(chars={len(self.completion_text())}, tool_calls={self.num_tool_calls}, "
                f"pending={self._pending is not None})")


__all__ = ["TirTranscript"]
