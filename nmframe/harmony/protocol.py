"""The exact strings of the gpt-oss harmony text protocol used by the teacher.

Generation runs gpt-oss-120b as a raw text-completion engine, so the tool loop
is driven by plain strings, not by a chat API.  Every module that builds,
continues or reads a teacher transcript takes its markers from here so that the
protocol is written down exactly once.

The tool loop (Nemotron-Math, Generation section of the paper facts):

* the prompt ends with ``<|start|>assistant``; the model continues with a
  header such as ``<|channel|>analysis<|message|>``;
* a Python call is a message whose header puts the recipient after the
  channel: ``<|start|>assistant<|channel|>analysis to=python code<|message|>``
  (:data:`CODE_START`), followed by the code and the stop string ``<|call|>``
  (:data:`CODE_END`, the engine's stop string);
* the executor's output is appended as
  ``<|start|>python code to=assistant<|channel|>analysis<|message|>{output}<|end|><|start|>assistant``
  (:data:`TOOL_OUTPUT_START` + output + :data:`TOOL_OUTPUT_END`), after which
  the model is asked to continue.

openai-harmony 0.0.8 renders the same two messages slightly differently (it
puts the recipient of a call before the channel and writes no ``code`` word in
a tool output header); both spellings are accepted by :mod:`.parse`, see
:func:`nmframe.harmony.render.render_tool_output` for the details.
"""
from __future__ import annotations

# Special tokens of the harmony encoding that carry structure.
START = "<|start|>"
END = "<|end|>"
MESSAGE = "<|message|>"
CHANNEL = "<|channel|>"
CONSTRAIN = "<|constrain|>"
CALL = "<|call|>"
RETURN = "<|return|>"
ENDOFTEXT = "<|endoftext|>"

#: Tokens that close a message.  ``<|call|>`` closes a tool call, ``<|return|>``
#: closes the final answer of a sampled completion, ``<|end|>`` everything else.
TERMINATORS = (END, CALL, RETURN, ENDOFTEXT)

#: Channels the gpt-oss system message declares.
VALID_CHANNELS = ("analysis", "commentary", "final")

#: Recipient of Python tool calls and author name of their outputs.
PYTHON_RECIPIENT = "python"

#: What the model writes to open a Python call (the generation loop looks for it).
CODE_START = "<|start|>assistant<|channel|>analysis to=python code<|message|>"
#: Stop string that ends a Python call; the engine usually strips it from the output.
CODE_END = CALL
#: Alias used by the generation loop's sampling parameters.
STOP_STRING = CALL

#: Header of the block that carries a tool's output back to the model.
TOOL_OUTPUT_START = "<|start|>python code to=assistant<|channel|>analysis<|message|>"
#: openai-harmony's header for the same block (no ``code`` word): the form its own parser reads
#: back. Training traces and the students' evaluation loop use it; the teacher's generation loop
#: keeps the paper's header above.
HARMONY_TOOL_OUTPUT_START = "<|start|>python to=assistant<|channel|>analysis<|message|>"
#: Tool-output headers by name (``paper`` | ``harmony``).
TOOL_OUTPUT_HEADERS = {"paper": TOOL_OUTPUT_START, "harmony": HARMONY_TOOL_OUTPUT_START}

#: Closes the output block and reopens an assistant turn for the model to continue.
TOOL_OUTPUT_END = "<|end|><|start|>assistant"

#: Opening of every assistant turn in a prompt (the model continues after it).
ASSISTANT_TURN = "<|start|>assistant"

__all__ = [
    "START", "END", "MESSAGE", "CHANNEL", "CONSTRAIN", "CALL", "RETURN", "ENDOFTEXT",
    "TERMINATORS", "VALID_CHANNELS", "PYTHON_RECIPIENT", "CODE_START", "CODE_END",
    "STOP_STRING", "TOOL_OUTPUT_START", "HARMONY_TOOL_OUTPUT_START", "TOOL_OUTPUT_HEADERS", "TOOL_OUTPUT_END",
    "ASSISTANT_TURN",
]
