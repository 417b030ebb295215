"""Render teacher prompts and tool outputs as harmony text.

The teacher runs as a raw text-completion engine, so the prompt is a string
(or token ids) that ends with ``<|start|>assistant``; the model writes the
rest of the assistant turn.  The prompt is produced by openai-harmony itself
(``render_conversation_for_completion``) so that it is byte-for-byte what the
library renders for gpt-oss: system message (model identity, knowledge cutoff,
``Reasoning: {effort}``, the python tool declaration when requested, valid
channels), an optional developer message, then the user turn.

Tool outputs are not rendered by openai-harmony during generation: the loop
appends the fixed block of the Nemotron-Math protocol, see
:func:`render_tool_output`.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Optional, Union

from .encoding import load_harmony_encoding
from .protocol import (
    ASSISTANT_TURN,
    CALL,
    CODE_END,
    CODE_START,
    STOP_STRING,
    TOOL_OUTPUT_END,
    TOOL_OUTPUT_HEADERS,
)

#: The instruction appended to every problem (the user turn of the paper).
BOXED_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."

#: openai-harmony's default model identity line, rendered first in the system message.
DEFAULT_MODEL_IDENTITY = "You are ChatGPT, a large language model trained by OpenAI."
DEFAULT_KNOWLEDGE_CUTOFF = "2024-06"

REASONING_EFFORTS = ("high", "medium", "low")

ProblemMessages = Union[str, Sequence[Mapping[str, str]]]


def user_prompt(problem: str) -> str:
    """``{problem}\\nPlease reason step by step, and put your final answer within \\boxed{}.``"""
    return f"{problem}\n{BOXED_INSTRUCTION}"


def _effort(reasoning_effort):
    from openai_harmony import ReasoningEffort

    if isinstance(reasoning_effort, ReasoningEffort):
        return reasoning_effort
    key = str(reasoning_effort).strip().lower()
    table = {"high": ReasoningEffort.HIGH, "medium": ReasoningEffort.MEDIUM, "low": ReasoningEffort.LOW}
    if key not in table:
        raise ValueError(f"reasoning_effort must be one of {REASONING_EFFORTS}, got {reasoning_effort!r}")
    return table[key]


def python_tool_text(timeout_s: float) -> str:
    """openai-harmony's python tool description, with the per-call timeout the sandbox enforces.

    The stock text promises "time out after 120.0 seconds"; the loop kills a call after
    ``tir.call_timeout_s`` (10 s by default, as in the paper), and the model should be told so.
    """
    from openai_harmony import SystemContent

    stock = SystemContent.new().with_python_tool().tools["python"].description
    promised = re.search(r"time out after [0-9.]+ seconds", stock)
    if promised is None:  # pragma: no cover - guards a library upgrade
        raise RuntimeError("openai-harmony's python tool description no longer states a timeout")
    return stock.replace(promised.group(0), f"time out after {float(timeout_s):.1f} seconds")


def build_conversation(
    problem_messages: ProblemMessages,
    reasoning_effort: str = "high",
    with_python_tool: bool = False,
    developer_instructions: Optional[str] = None,
    *,
    model_identity: str = DEFAULT_MODEL_IDENTITY,
    knowledge_cutoff: str = DEFAULT_KNOWLEDGE_CUTOFF,
    conversation_start_date: Optional[str] = None,
    python_tool_description: Optional[str] = None,
    tool_timeout_s: Optional[float] = None,
):
    """The openai-harmony ``Conversation`` behind :func:`render_prompt`.

    ``problem_messages`` is either the user turn's text (use :func:`user_prompt`
    to add the boxed-answer instruction) or a list of chat dicts with
    ``role`` in {system, developer, user, assistant} and ``content``.  Chat
    ``system``/``developer`` texts become the developer message's instructions
    (harmony's system message is reserved for the structured header);
    ``assistant`` entries become final-channel assistant messages.
    """
    from openai_harmony import (
        Conversation,
        DeveloperContent,
        Message,
        Role,
        SystemContent,
        ToolNamespaceConfig,
    )

    system = (
        SystemContent.new()
        .with_model_identity(model_identity)
        .with_knowledge_cutoff(knowledge_cutoff)
        .with_reasoning_effort(_effort(reasoning_effort))
    )
    if conversation_start_date:
        system = system.with_conversation_start_date(conversation_start_date)
    if with_python_tool:
        if python_tool_description is None and tool_timeout_s is not None:
            python_tool_description = python_tool_text(tool_timeout_s)
        if python_tool_description is None:
            system = system.with_python_tool()
        else:
            system = system.with_tools(
                ToolNamespaceConfig(name="python", description=python_tool_description, tools=[])
            )

    instructions = [developer_instructions] if developer_instructions else []
    turns = []
    if isinstance(problem_messages, str):
        turns.append(Message.from_role_and_content(Role.USER, problem_messages))
    else:
        for i, msg in enumerate(problem_messages):
            role = str(msg.get("role", "")).lower()
            content = msg.get("content")
            if not isinstance(content, str):
                raise ValueError(f"message {i}: content must be a string, got {type(content).__name__}")
            if role in ("system", "developer"):
                instructions.append(content)
            elif role == "user":
                turns.append(Message.from_role_and_content(Role.USER, content))
            elif role == "assistant":
                turns.append(Message.from_role_and_content(Role.ASSISTANT, content).with_channel("final"))
            else:
                raise ValueError(f"message {i}: unsupported role {role!r}")
        if not any(m.author.role == Role.USER for m in turns):
            raise ValueError("problem_messages has no user message")

    messages = [Message.from_role_and_content(Role.SYSTEM, system)]
    if instructions:
        developer = DeveloperContent.new().with_instructions("\n\n".join(instructions))
        messages.append(Message.from_role_and_content(Role.DEVELOPER, developer))
    messages.extend(turns)
    return Conversation.from_messages(messages)


def render_prompt_tokens(problem_messages: ProblemMessages, reasoning_effort: str = "high",
                         with_python_tool: bool = False, developer_instructions: Optional[str] = None,
                         **kwargs) -> list[int]:
    """Token ids of :func:`render_prompt` (what to hand an engine that takes ids)."""
    from openai_harmony import Role

    conv = build_conversation(problem_messages, reasoning_effort, with_python_tool,
                              developer_instructions, **kwargs)
    return list(load_harmony_encoding().render_conversation_for_completion(conv, Role.ASSISTANT))


def render_prompt(problem_messages: ProblemMessages, reasoning_effort: str = "high",
                  with_python_tool: bool = False, developer_instructions: Optional[str] = None,
                  **kwargs) -> str:
    """The teacher's text prompt, ending with ``<|start|>assistant``.

    Exactly the decoding of openai-harmony's ``render_conversation_for_completion``
    for the conversation of :func:`build_conversation` (keyword options:
    ``model_identity``, ``knowledge_cutoff``, ``conversation_start_date``,
    ``python_tool_description``, ``tool_timeout_s``: the per-call timeout the tool
    declaration states).  Starts with ``<|start|>system<|message|>``
    and contains ``Reasoning: high|medium|low``; the ``# Tools`` / ``## python``
    section appears only when ``with_python_tool``.
    """
    tokens = render_prompt_tokens(problem_messages, reasoning_effort, with_python_tool,
                                  developer_instructions, **kwargs)
    text = load_harmony_encoding().decode_utf8(tokens)
    if not text.endswith(ASSISTANT_TURN):  # pragma: no cover - guards a library upgrade
        raise RuntimeError(f"openai-harmony rendered a prompt that does not end with {ASSISTANT_TURN!r}")
    return text


def render_problem_prompt(problem: str, reasoning_effort: str = "high", with_python_tool: bool = False,
                          **kwargs) -> str:
    """:func:`render_prompt` of ``user_prompt(problem)``: the paper's generation prompt."""
    return render_prompt(user_prompt(problem), reasoning_effort, with_python_tool, **kwargs)


def render_tool_output(output_text: str, header: str = "paper") -> str:
    """The block appended after a Python call, per the Nemotron-Math protocol.

    Returns exactly
    ``<|start|>python code to=assistant<|channel|>analysis<|message|>{output}<|end|><|start|>assistant``
    (``header="paper"``), or with openai-harmony's header ``<|start|>python to=assistant...``
    (``header="harmony"``, which the library's parser reads back).
    ``output_text`` is inserted verbatim: truncation and formatting of the
    executor's output are the sandbox's job.

    Difference from openai-harmony 0.0.8: for ``Message(author=tool "python",
    recipient "assistant", channel "analysis")`` the library renders
    ``<|start|>python to=assistant<|channel|>analysis<|message|>{output}<|end|>``
    (no ``code`` word in the header, and the next ``<|start|>assistant`` belongs
    to the following message).  The library's own parser rejects the
    protocol's header ("unexpected tokens remaining in message header:
    Some("code")"); :mod:`nmframe.harmony.parse` accepts both.
    """
    if header not in TOOL_OUTPUT_HEADERS:
        raise ValueError(f"tool output header {header!r}: allowed {', '.join(TOOL_OUTPUT_HEADERS)}")
    return f"{TOOL_OUTPUT_HEADERS[header]}{output_text}{TOOL_OUTPUT_END}"


__all__ = [
    "BOXED_INSTRUCTION",
    "DEFAULT_MODEL_IDENTITY",
    "DEFAULT_KNOWLEDGE_CUTOFF",
    "REASONING_EFFORTS",
    "CODE_START",
    "CODE_END",
    "STOP_STRING",
    "CALL",
    "user_prompt",
    "build_conversation",
    "render_prompt_tokens",
    "render_prompt",
    "render_problem_prompt",
    "render_tool_output",
]
