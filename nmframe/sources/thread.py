"""The record every raw reader yields: one question/post with the answers that may hold its result."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional


@dataclass
class Answer:
    kind: str               # "accepted", "top_voted", "accepted+top_voted" (SE) or "post" (AoPS reply)
    text: str
    score: Optional[int] = None
    id: Optional[str] = None


@dataclass
class RawThread:
    source_id: str          # stable: "aops:<file stem>:<line>", "math.stackexchange.com:<Id>"
    data_source: str        # "aops" | "stackexchange"
    post: str               # the question text (title excluded), cleaned to text + LaTeX
    title: Optional[str] = None
    answers: list[Answer] = field(default_factory=list)
    discussion: Optional[str] = None   # the whole thread as text (AoPS) or the joined answers (SE)
    url: Optional[str] = None
    license: Optional[str] = None
    created: Optional[str] = None
    origin: str = ""        # file:line (AoPS) or file:Id (SE)
    metadata: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RawThread":
        d = dict(d)
        d["answers"] = [Answer(**a) for a in d.get("answers") or []]
        return cls(**d)
