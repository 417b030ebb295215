"""Tolerant parser for teacher completions in harmony text.

Teacher traces are long (up to 120K tokens), sampled at temperature 1.0 and
cut at a token budget, so some are malformed: truncated mid-message, a
misspelt channel, stray text between messages, a header without
``<|message|>``.  openai-harmony's parser raises on the first such problem and
also rejects the protocol's own tool-output header
(``python code to=assistant``), which would lose whole traces.  This parser
never raises: each problem becomes a :class:`ParseIssue` (character offset,
short reason, snippet) in :attr:`ParsedTrace.errors`, and the partial message
is kept so that callers decide what to drop.

Grammar (what openai-harmony renders and the teacher writes)::

    message := <|start|> ROLE [" to=" RECIPIENT] [<|channel|> CHANNEL [" to=" RECIPIENT] [" " CTYPE]]
               <|message|> CONTENT (<|end|> | <|call|> | <|return|>)

``ROLE`` is system/developer/user/assistant, or a tool name (``python``) for a
tool's output, read as role ``tool`` with that ``name`` (as openai-harmony
does).  The first message of a completion has no ``<|start|>ROLE``: the prompt
already ended with ``<|start|>assistant`` (``initial_role``).

On well-formed text the result agrees with openai-harmony's
``parse_messages_from_completion_tokens`` (tested).  The parser works on text,
so a special-token spelling written inside content (the teacher never emits
one as plain text in practice) is read as structure.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from .protocol import (
    CALL,
    CHANNEL,
    CONSTRAIN,
    MESSAGE,
    PYTHON_RECIPIENT,
    START,
    TERMINATORS,
    VALID_CHANNELS,
)

_SPECIAL = re.compile(
    r"<\|(?:start|end|message|channel|constrain|call|return|endoftext|startoftext|endofprompt"
    r"|fim_prefix|fim_middle|fim_suffix|reserved_\d+)\|>"
)
_ROLES = ("system", "developer", "user", "assistant")
_TOOL_NAME = re.compile(r"^[A-Za-z_][\w.\-]*$")
_MAX_HEADER = 200
_SNIPPET = 60


@dataclass
class HarmonyMessage:
    """One harmony message.

    ``role`` is system/developer/user/assistant/tool (tool outputs carry the
    tool in ``name``); ``end_token`` is the token that closed the message, or
    None if it was cut off; ``start`` is its offset in the parsed text and
    ``header`` the raw header text.
    """

    role: str
    content: str
    channel: Optional[str] = None
    recipient: Optional[str] = None
    content_type: Optional[str] = None
    name: Optional[str] = None
    end_token: Optional[str] = None
    start: int = 0
    header: str = ""

    @property
    def complete(self) -> bool:
        return self.end_token is not None

    @property
    def is_tool_call(self) -> bool:
        """An assistant message addressed to the Python tool."""
        return self.role == "assistant" and _is_python(self.recipient)

    @property
    def is_tool_output(self) -> bool:
        return self.role == "tool"

    def key(self) -> tuple:
        """The fields openai-harmony's parser reports, for comparisons."""
        return (self.role, self.name, self.channel, self.recipient, self.content_type, self.content)


@dataclass
class ParseIssue:
    """A problem found while parsing: offset in the text, short reason, nearby text."""

    position: int
    reason: str
    snippet: str = ""


@dataclass
class ParsedTrace:
    """Messages of a completion plus every problem met while reading it."""

    messages: list[HarmonyMessage] = field(default_factory=list)
    errors: list[ParseIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def final_text(self) -> Optional[str]:
        """Content of the last final-channel assistant message, or None."""
        for msg in reversed(self.messages):
            if msg.role == "assistant" and msg.channel == "final" and not msg.recipient:
                return msg.content
        return None

    @property
    def finished(self) -> bool:
        """True when the last message is a closed final-channel answer."""
        if not self.messages:
            return False
        last = self.messages[-1]
        return last.role == "assistant" and last.channel == "final" and last.complete

    @property
    def reasoning_messages(self) -> list[HarmonyMessage]:
        return [m for m in self.messages
                if m.role == "assistant" and not m.recipient and m.channel != "final"]

    @property
    def analysis_text(self) -> str:
        """The assistant's reasoning (non-final messages with no recipient), joined by newlines."""
        return "\n".join(m.content for m in self.reasoning_messages)

    @property
    def tool_calls(self) -> list[str]:
        """Code of every Python call, in order."""
        return [m.content for m in self.messages if m.is_tool_call]

    @property
    def tool_outputs(self) -> list[str]:
        return [m.content for m in self.messages if m.is_tool_output]

    @property
    def num_tool_calls(self) -> int:
        return sum(1 for m in self.messages if m.is_tool_call)

    def to_messages(self, user_content: Optional[str] = None, **kwargs) -> list[dict]:
        """Chat-style dicts for the dataset's ``messages`` column; see :mod:`.chat`."""
        from .chat import trace_to_chat_messages

        return trace_to_chat_messages(self, user_content=user_content, **kwargs)


def _is_python(recipient: Optional[str]) -> bool:
    return recipient is not None and (recipient == PYTHON_RECIPIENT or recipient.startswith(PYTHON_RECIPIENT + "."))


def _snippet(text: str, pos: int) -> str:
    return text[pos:pos + _SNIPPET]


class _Parser:
    def __init__(self, text: str, initial_role: Optional[str]):
        self.text = text
        self.initial_role = initial_role
        self.trace = ParsedTrace()

    def issue(self, pos: int, reason: str) -> None:
        self.trace.errors.append(ParseIssue(pos, reason, _snippet(self.text, pos)))

    def special(self, pos: int):
        return _SPECIAL.search(self.text, pos)

    # -- header ---------------------------------------------------------------

    def parse_header(self, header: str, role_word: Optional[str], pos: int) -> HarmonyMessage:
        if len(header) > _MAX_HEADER:
            self.issue(pos, f"message header is {len(header)} characters long")
        pre, has_channel, post = header.partition(CHANNEL)
        if CHANNEL in post:
            self.issue(pos, "several <|channel|> markers in one header")
            post = post.replace(CHANNEL, " ")
        pre_words = pre.split()
        post_words = post.split()
        if role_word is None:
            if not pre_words or pre_words[0].startswith("to="):
                self.issue(pos, "message header has no role")
                role_word = ""
            else:
                role_word = pre_words.pop(0)
        channel = None
        if has_channel:
            if not post_words or post_words[0].startswith("to="):
                self.issue(pos, "empty channel name")
            else:
                channel = post_words.pop(0)
                if channel not in VALID_CHANNELS:
                    self.issue(pos, f"unknown channel {channel!r}")
        attrs = pre_words + post_words
        recipients = [w[3:] for w in attrs if w.startswith("to=")]
        others = [w for w in attrs if not w.startswith("to=")]
        if len(recipients) > 1:
            self.issue(pos, f"several recipients {recipients}")
        if len(others) > 1:
            self.issue(pos, f"unexpected words in header: {' '.join(others)!r}")
        recipient = recipients[-1] if recipients else None
        content_type = " ".join(others) if others else None

        if role_word in _ROLES:
            role, name = role_word, None
        else:
            role, name = "tool", role_word
            if not _TOOL_NAME.match(role_word or ""):
                self.issue(pos, f"invalid role {role_word!r}")
        if role == "assistant" and not has_channel:
            self.issue(pos, "assistant message without a channel")
        return HarmonyMessage(role=role, content="", channel=channel, recipient=recipient,
                              content_type=content_type, name=name, header=header)

    # -- main loop ------------------------------------------------------------

    def run(self) -> ParsedTrace:
        text, n = self.text, len(self.text)
        pos = 0
        implicit_role = self.initial_role
        while pos < n or implicit_role is not None:
            if implicit_role is not None and text.startswith(START, pos):
                implicit_role = None  # the text spells out its own <|start|>role
            if implicit_role is not None:
                role_word, implicit_role = implicit_role, None
                msg_start = header_start = pos
                if pos >= n:
                    break
            else:
                m = self.special(pos)
                if m is None:
                    self.issue(pos, "text outside any message")
                    break
                if m.start() > pos:
                    self.issue(pos, "unexpected text between messages")
                tok = m.group()
                if tok == START:
                    role_word, msg_start, header_start = None, m.start(), m.end()
                elif tok == CHANNEL:
                    self.issue(m.start(), "<|channel|> without <|start|>role; assuming assistant")
                    role_word, msg_start, header_start = "assistant", m.start(), m.start()
                else:
                    self.issue(m.start(), f"unexpected {tok} between messages")
                    pos = m.end()
                    continue

            # Header: up to <|message|>; only <|channel|>/<|constrain|> may appear inside.
            h = header_start
            while True:
                m = self.special(h)
                if m is None or m.group() not in (CHANNEL, CONSTRAIN):
                    break
                h = m.end()
            if m is None or m.group() != MESSAGE:
                stop = n if m is None else m.start()
                header = text[header_start:stop]
                msg = self.parse_header(header, role_word, msg_start)
                msg.start = msg_start
                # Keep whatever followed the channel name: it is the message text.
                if msg.channel is not None:
                    after = header.partition(CHANNEL)[2].lstrip()
                    msg.content = after[len(msg.channel):].lstrip()
                self.trace.messages.append(msg)
                if m is None:
                    self.issue(msg_start, "truncated inside a message header")
                    break
                self.issue(m.start(), f"message header not followed by <|message|> (found {m.group()})")
                if m.group() in TERMINATORS:
                    msg.end_token = m.group()
                    pos = m.end()
                else:
                    pos = m.start()
                continue

            msg = self.parse_header(text[header_start:m.start()], role_word, msg_start)
            msg.start = msg_start
            content_start = c = m.end()
            while True:
                m = self.special(c)
                if m is None:
                    msg.content = text[content_start:]
                    self.issue(msg_start, "truncated: message has no end token")
                    pos = n
                    break
                tok = m.group()
                if tok in TERMINATORS:
                    msg.content = text[content_start:m.start()]
                    msg.end_token = tok
                    pos = m.end()
                    break
                if tok in (START, CHANNEL):
                    msg.content = text[content_start:m.start()]
                    self.issue(m.start(), f"message not closed before {tok}")
                    pos = m.start()
                    if tok == CHANNEL:  # same author goes on with a new header
                        implicit_role = msg.name if msg.role == "tool" else msg.role
                    break
                self.issue(m.start(), f"stray {tok} inside message content")
                c = m.end()
            self.trace.messages.append(msg)
            if msg.end_token == CALL and not msg.recipient:
                self.issue(msg_start, "<|call|> ends a message that has no recipient")
        return self.trace


def parse_completion(text: str, initial_role: Optional[str] = "assistant") -> ParsedTrace:
    """Split a completion into messages; never raises on malformed text.

    ``text`` is what follows the prompt (which ends with ``<|start|>assistant``),
    possibly with tool-output blocks appended.  Pass ``initial_role=None`` for
    text that starts with ``<|start|>`` itself (a whole rendered conversation).
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_completion expects str, got {type(text).__name__}")
    return _Parser(text, initial_role).run()


def parse_conversation(text: str) -> ParsedTrace:
    """Parse a whole rendered conversation (starting with ``<|start|>``)."""
    return parse_completion(text, initial_role=None)


__all__ = [
    "HarmonyMessage",
    "ParseIssue",
    "ParsedTrace",
    "parse_completion",
    "parse_conversation",
]
