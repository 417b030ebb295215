"""What every benchmark declares, and the shared loading and grading helpers.

A benchmark turns a file of problems into canonical rows ``{id, problem, expected_answer,
subset}`` and turns the evaluated model's sample records (from the generation loop) into
evaluation records, one per sample, in the shape :mod:`nmframe.metrics` scores::

    {"problem_id", "subset", "sample_index", "predicted_answer", "outcome", "grade_reason",
     "tokens", ...}

``outcome`` is "correct", "wrong" or "ungraded"; a grader timeout, a judge that does not answer
or an unreadable judge reply is "ungraded", never "wrong".
"""
from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from omegaconf import OmegaConf

from nmframe.datafiles import iter_rows, resolve


class BenchmarkError(RuntimeError):
    """A benchmark that cannot be loaded or graded (a missing file, no judge, bad rows)."""


@dataclass
class LoadReport:
    path: str
    lines: int = 0
    kept: int = 0
    skipped: collections.Counter = field(default_factory=collections.Counter)
    examples: list = field(default_factory=list)
    capped: int = 0  # problems left out by evaluate.max_problems

    def skip(self, origin: str, reason: str) -> None:
        self.skipped[reason] += 1
        if len(self.examples) < 20:
            self.examples.append({"origin": origin, "reason": reason})

    def to_dict(self) -> dict:
        return {"path": self.path, "lines": self.lines, "kept": self.kept, "skipped": dict(self.skipped),
                "skip_examples": self.examples, "left_out_by_max_problems": self.capped}


class Benchmark:
    """Base class; subclasses set the class attributes and implement :meth:`parse_row`."""

    name: str = ""
    VERSION: str = ""
    description: str = ""
    subsets: tuple[str, ...] = ()
    samples: int = 16                 # samples per problem (the paper's setting)
    grader: str = "math-verify"       # math-verify | llm-judge
    path_key: str = ""                # config key holding the problems file
    expected_problems: dict[str, int] = {}   # subset -> problem count of the full benchmark
    max_bad_fraction: float = 0.05

    # -- declarations ------------------------------------------------------------------
    def prompt(self, problem: str) -> str:
        """The user turn (the paper's prompt); the generation loop renders it for the model."""
        from nmframe.harmony import user_prompt

        return user_prompt(problem)

    def ks(self, samples: int) -> tuple[int, ...]:
        """k values reported: pass@1, and pass@k / maj@k at the number of samples."""
        return (1,) if samples <= 1 else (1, samples)

    def metric_names(self, samples: int) -> list[str]:
        ks = self.ks(samples)
        return (["pass@1", "pass@1_se", "pass@1_ci"] + [f"pass@{k}" for k in ks if k > 1]
                + [f"maj@{k}" for k in ks if k > 1] + ["no_answer_rate", "ungraded_rate", "mean_tokens"])

    def describe(self) -> dict:
        return {"name": self.name, "VERSION": self.VERSION, "subsets": list(self.subsets),
                "samples": self.samples, "grader": self.grader, "path_key": self.path_key,
                "metrics": self.metric_names(self.samples)}

    # -- loading -----------------------------------------------------------------------
    def path(self, cfg) -> Optional[str]:
        return OmegaConf.select(cfg, self.path_key) if self.path_key else None

    def files(self, cfg) -> list:
        p = self.path(cfg)
        return resolve(str(p)) if p else []

    def parse_row(self, row: dict, origin: str) -> tuple[Optional[dict], Optional[str]]:
        """(canonical problem, None) or (None, skip reason)."""
        raise NotImplementedError

    def load(self, cfg, max_problems: Optional[int] = None) -> tuple[list[dict], LoadReport]:
        """Canonical problems of the configured file; at most ``max_problems`` per subset
        (file order), every skip counted by reason."""
        path = self.path(cfg)
        if not path:
            raise BenchmarkError(f"benchmark {self.name}: no problems file; set {self.path_key}=<file>")
        files = resolve(str(path))
        if not files:
            raise BenchmarkError(f"benchmark {self.name}: problems file not found: {path} (set {self.path_key})")
        rep = LoadReport(path=str(path))
        out: list[dict] = []
        per_subset: collections.Counter = collections.Counter()
        seen: set[str] = set()
        for f in files:
            for line, row, err in iter_rows(f):
                rep.lines += 1
                origin = f"{f}:{line}"
                if err is not None:
                    rep.skip(origin, f"unreadable line: {err}")
                    continue
                prob, reason = self.parse_row(row, origin)
                if prob is None:
                    rep.skip(origin, reason or "skipped")
                    continue
                if prob["id"] in seen:
                    rep.skip(origin, "duplicate id")
                    continue
                seen.add(prob["id"])
                if max_problems is not None and per_subset[prob["subset"]] >= max_problems:
                    rep.capped += 1
                    continue
                per_subset[prob["subset"]] += 1
                out.append(prob)
        rep.kept = len(out)
        unreadable = sum(v for k, v in rep.skipped.items() if k.startswith("unreadable"))
        if rep.lines and unreadable / rep.lines > self.max_bad_fraction:
            raise BenchmarkError(f"benchmark {self.name}: {unreadable} of {rep.lines} lines of {path} are "
                                 f"unreadable; first: {rep.examples[:3]}")
        if not out:
            raise BenchmarkError(f"benchmark {self.name}: no problems left in {path} ({dict(rep.skipped)})")
        return out, rep

    # -- grading -----------------------------------------------------------------------
    def grade(self, samples: list[dict], problems: dict[str, dict], cfg, log=None,
              judge: Optional[Callable[[str], str]] = None) -> list[dict]:
        """Evaluation records for the sample records of the generation loop."""
        raise NotImplementedError

    @staticmethod
    def base_record(sample: dict, problem: dict) -> dict:
        tokens = (sample.get("tokens") or {}).get("completion")
        return {"problem_id": str(sample["problem_id"]), "subset": problem["subset"],
                "sample_index": int(sample["sample_index"]), "predicted_answer": sample.get("final_answer"),
                "tokens": tokens, "finish_reason": sample.get("finish_reason"),
                "num_tool_calls": sample.get("num_tool_calls", 0)}


def text_field(row: dict, *names: str) -> Any:
    for n in names:
        v = row.get(n)
        if v is not None and (not isinstance(v, str) or v.strip()):
            return v
    return None
