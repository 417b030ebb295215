"""The teacher's harmony format: offline encoding, prompts, parsing, the TIR transcript.

gpt-oss-120b speaks the harmony chat format.  Generation drives it as a raw
text-completion engine, so nmframe needs the exact strings: the prompt
(:mod:`.render`), the tool-call protocol (:mod:`.protocol`), a parser that
survives malformed samples (:mod:`.parse`), the chat shape stored in the
dataset (:mod:`.chat`), the state of one tool-integrated sample
(:mod:`.transcript`) and exact teacher token counts without network access
(:mod:`.encoding`).
"""
from .chat import PYTHON_TOOL_NAME, PYTHON_TOOL_SPEC, trace_to_chat_messages
from .encoding import (
    count_teacher_tokens,
    encode_teacher_text,
    ensure_offline_encodings,
    load_harmony_encoding,
)
from .parse import HarmonyMessage, ParsedTrace, ParseIssue, parse_completion, parse_conversation
from .protocol import CODE_END, CODE_START, STOP_STRING, TOOL_OUTPUT_END, TOOL_OUTPUT_START
from .render import (
    BOXED_INSTRUCTION,
    build_conversation,
    render_problem_prompt,
    render_prompt,
    render_prompt_tokens,
    render_tool_output,
    user_prompt,
)
from .transcript import TirTranscript

__all__ = [
    "PYTHON_TOOL_NAME", "PYTHON_TOOL_SPEC", "trace_to_chat_messages",
    "count_teacher_tokens", "encode_teacher_text", "ensure_offline_encodings", "load_harmony_encoding",
    "HarmonyMessage", "ParsedTrace", "ParseIssue", "parse_completion", "parse_conversation",
    "CODE_END", "CODE_START", "STOP_STRING", "TOOL_OUTPUT_END", "TOOL_OUTPUT_START",
    "BOXED_INSTRUCTION", "build_conversation", "render_problem_prompt", "render_prompt",
    "render_prompt_tokens", "render_tool_output", "user_prompt",
    "TirTranscript",
]
