"""The evaluation configs: reasoning effort x Python tool, written "<effort>/<tir|notir>".

The paper evaluates every student in six configs (high/medium/low, with and without the Python
tool). ``evaluate.configs`` lists the ones to run; the order is kept.
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
