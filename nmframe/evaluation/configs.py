"""The evaluation configs: reasoning effort x Python tool, written "<effort>/<tir|notir>".

The paper evaluates every student in six configs (high/medium/low, with and without the Python
tool). ``evaluate.configs`` lists the ones to run; the order is kept.

The prompt format (``evaluate.prompt_format``) decides which configs exist: in ``harmony`` (the
teacher's format) all six; in ``chat`` (the model's own chat template, see
:mod:`nmframe.evaluation.chat_sampling`) only ``high/notir``, read as "the model's own thinking,
no tool": a chat template has no reasoning-effort modes and Qwen's tool-call format is not
implemented, so any other config is refused at plan time rather than silently collapsed.
"""
from __future__ import annotations

from dataclasses import dataclass

EFFORTS = ("high", "medium", "low")
ALL = tuple(f"{m}/{t}" for m in EFFORTS for t in ("notir", "tir"))


@dataclass(frozen=True)
class EvalConfig:
    mode: str
    tir: bool

    @property
    def name(self) -> str:
        return f"{self.mode}/{'tir' if self.tir else 'notir'}"

    @property
    def label(self) -> str:
        return config_label(self.mode, self.tir)


def config_label(mode: str, tir: bool) -> str:
    """The paper's row label: "high, TIR" / "high, no TIR"."""
    return f"{mode}, {'TIR' if tir else 'no TIR'}"


def parse_configs(values) -> list[EvalConfig]:
    out, seen = [], set()
    for v in values:
        text = str(v).strip().lower()
        mode, sep, tool = text.partition("/")
        if not sep or mode not in EFFORTS or tool not in ("tir", "notir"):
            raise ValueError(f"evaluate.configs: {v!r} is not '<effort>/<tir|notir>' with effort in "
                             f"{', '.join(EFFORTS)} (e.g. high/tir, low/notir)")
        c = EvalConfig(mode, tool == "tir")
        if c in seen:
            raise ValueError(f"evaluate.configs lists {c.name} twice")
        seen.add(c)
        out.append(c)
    if not out:
        raise ValueError("evaluate.configs is empty: list at least one of " + ", ".join(ALL))
    return out


PROMPT_FORMATS = ("auto", "harmony", "chat")
CHAT_CONFIG = "high/notir"


class PromptFormatError(ValueError):
    """A prompt format that cannot be resolved or cannot run the listed configs (``key``: the setting)."""

    def __init__(self, key: str, value, why: str):
        self.key, self.value, self.why = key, value, why
        super().__init__(f"{key}={value!r}: {why}")


def resolve_prompt_format(cfg) -> str:
    """``harmony`` or ``chat``: ``evaluate.prompt_format`` when set, else (``auto``) the student's
    ``sft.template`` when evaluating the student, ``chat`` for a base model (a path or hub id), and
    ``harmony`` for a ``builtin:`` test model (the random stand-in for the harmony teacher)."""
    fmt = str(cfg.evaluate.prompt_format).strip().lower()
    if fmt not in PROMPT_FORMATS:
        raise PromptFormatError("evaluate.prompt_format", cfg.evaluate.prompt_format,
                                f"allowed {', '.join(PROMPT_FORMATS)}")
    if fmt != "auto":
        return fmt
    spec = str(cfg.evaluate.model)
    if spec == "student":
        template = str(cfg.sft.template)
        if template not in ("harmony", "chat"):
            raise PromptFormatError("evaluate.prompt_format", "auto", f"follows sft.template, which is {template!r} "
                                    "(not harmony or chat): set evaluate.prompt_format")
        return template
    return "harmony" if spec.startswith("builtin:") else "chat"


def how_resolved(cfg) -> str:
    """Why the format is what it is, for messages: "" when set explicitly."""
    if str(cfg.evaluate.prompt_format).strip().lower() != "auto":
        return ""
    if str(cfg.evaluate.model) == "student":
        return f" (auto: the student was trained with sft.template={cfg.sft.template})"
    return f" (auto: evaluate.model={cfg.evaluate.model} is a base model)"


def check_prompt_format(configs: list[EvalConfig], fmt: str, how: str = "") -> None:
    """Refuse configs the prompt format cannot run (chat: only high/notir); ``how`` says how
    ``fmt`` was resolved, for the message."""
    if fmt != "chat":
        return
    bad = [c.name for c in configs if c.tir or c.mode != "high"]
    if bad:
        raise PromptFormatError(
            "evaluate.configs", [c.name for c in configs],
            f"{', '.join(bad)} cannot run with evaluate.prompt_format=chat{how}: the chat format has no Python tool "
            "loop (Qwen's tool-call format is not implemented) and no reasoning-effort modes (the model thinks in "
            f"its own way); list only {CHAT_CONFIG} in evaluate.configs, or set evaluate.prompt_format=harmony for a model "
            "trained on the teacher's harmony format")
