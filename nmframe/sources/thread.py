"""The record every raw reader yields: one question/post with the answers that may hold its result."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Answer:
    kind: str               # "accepted", "top_voted", "accepted+top_voted" (SE) or "post" (AoPS reply)
    text: str
    score: int | None = None
    id: str | None = None


@dataclass
class RawThread:
    source_id: str          # stable: "aops:<file stem>:<line>", "math.stackexchange.com:<Id>"
    data_source: str        # "aops" | "stackexchange"
    post: str               # the question text (title excluded), cleaned to text + LaTeX
    title: str | None = None
    answers: list[Answer] = field(default_factory=list)
    discussion: str | None = None   # the whole thread as text (AoPS) or the joined answers (SE)
    url: str | None = None
    license: str | None = None
    created: str | None = None
    origin: str = ""        # file:line (AoPS) or file:Id (SE)
    metadata: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RawThread:
        d = dict(d)
        d["answers"] = [Answer(**a) for a in d.get("answers") or []]
        return cls(**d)
