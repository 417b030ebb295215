"""SFT traces from other datasets' files, converted to nmframe's trace records and mixed into arms.

Why: comparing training data (paper Table 3: Nemotron-Math vs OpenMathReasoning vs a half/half
mix on the same problems and the same number of examples) needs traces that nmframe did not
generate, in the record shape ``prepare_sft`` reads (``problem_id``, ``problem``, ``mode``,
``tir``, ``seed``, ``messages`` or ``completion``, ``kept``; see :mod:`nmframe.sft.format`).

Shapes (``schema`` of a source; ``auto`` decides per row):

* ``released``: rows of nvidia/Nemotron-Math-v2 (``problem``, ``messages`` with
  ``reasoning_content`` / ``tool_calls``, ``tools``, ``metadata``, ``uuid``...). The messages are
  kept as they are; TIR = ``tools`` non-empty (or a ``tir`` column); the mode comes from a
  ``mode`` / ``reasoning_effort`` column, else the split in the file's name
  (:func:`nmframe.stream.released.mode_of_path`), else the source's ``mode``.
* ``omr``: rows of OpenMathReasoning (``problem``, ``generated_solution``, ``inference_mode``
  cot / tir / genselect, ``expected_answer``, ``problem_source``...). The solution becomes one
  assistant turn after the same user prompt as nmframe's own traces: the text before the first
  ``</think>`` (without its ``<think>``) is the reasoning, the rest the content; without
  ``</think>`` the whole solution is the content. ``genselect`` rows are not solutions and are
  filtered (counted). TIR solutions keep their ```python / ```output blocks inline as text, so
  the code's outputs are in the loss; they are trained as written. These are not harmony text:
  their rows carry ``template: chat`` and must be trained with ``sft.template=chat``.
* ``chat``: generic ``{"messages": [...]}`` rows (optional ``problem``, ``mode``, ``tir``,
  ``tools``); the problem is the first user turn. Also chat-only (``template: chat``).
* ``traces``: nmframe's own trace records (``filter_correct``'s ``traces.jsonl``), kept as they
  are; rows flagged not kept are filtered.

Rows without a mode get the source's ``mode``, else ``high`` (OpenMathReasoning and most chat
data have one reasoning style; ``high`` trains it with the high-mode traces).

Every row that cannot be converted is counted by reason with a ``file:line`` example; rows left
out on purpose (genselect, a mode or TIR setting the source excludes, not kept) are counted apart.

Mixing (:func:`build`): optionally restrict every source to the problems present in all of them
(matched by :func:`nmframe.problems.problem_id` of the problem text), then draw ``n_label``
traces per label, with ``n_label`` the fraction of a total split by largest remainder (so the
sizes add up exactly). The draw is a seeded permutation per label: deterministic, and a smaller
draw is a subset of a larger one (the mixed arm's Nemotron-Math half is inside the
Nemotron-Math-only arm). Too few traces for a requested size is an error, never a silent cut.
"""
from __future__ import annotations

import array
import collections
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nmframe.datafiles import iter_rows
from nmframe.harmony import user_prompt
from nmframe.problems import problem_id

MODES = ("high", "medium", "low")
SCHEMAS = ("auto", "released", "omr", "chat", "traces")
#: Schemas whose traces are not harmony text: they can only be rendered with sft.template=chat.
CHAT_ONLY = ("omr", "chat")
ROLES = ("system", "developer", "user", "assistant", "tool")
OMR_MODES = ("cot", "tir")
MAX_EXAMPLES = 20


class ImportTracesError(ValueError):
    """A configuration or data problem that stops the import (the message says what to change)."""


class MalformedRow(ValueError):
    """A row that cannot become a trace; ``reason`` is a short label counted in the report."""

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else reason)


class FilteredRow(Exception):
    """A well-formed row left out on purpose (counted apart from malformed rows)."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@dataclass
class Source:
    """One labelled input: files of one shape (or an upstream step's trace files)."""

    label: str
    files: list[Path]
    schema: str = "auto"
    mode: str | None = None            # mode of rows that carry none
    include_modes: tuple = ()             # () keeps every mode
    include_tir: bool | None = None    # None keeps both


# ------------------------------------------------------------------------------------------
# row conversion
def detect_schema(row: dict) -> str:
    if "generated_solution" in row:
        return "omr"
    if "completion" in row or "kept" in row or "correct" in row:
        return "traces"
    if "messages" in row and "problem" in row and any(k in row for k in ("tools", "metadata", "uuid")):
        return "released"
    if "messages" in row:
        return "chat"
    raise MalformedRow("unknown_shape", "needs 'generated_solution' (omr), 'messages' (released/chat) or "
                       f"'completion' (traces); has: {', '.join(sorted(row)[:8])}")


def _text(row: dict, key: str) -> str:
    val = row.get(key)
    if not isinstance(val, str) or not val.strip():
        raise MalformedRow(f"no_{key}", f"field {key!r} is {'missing' if val is None else repr(val)[:40]}")
    return val


def _mode(value, default: str | None, fallback: str | None = "high") -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        mode = default or fallback
        if mode is None:
            raise MalformedRow("no_mode", "the row has no mode, its file name names no split (high/medium/low) "
                               "and the source sets no mode")
        return mode
    mode = str(value).strip().lower()
    if mode not in MODES:
        raise MalformedRow("bad_mode", f"mode {value!r} is not one of {MODES}")
    return mode


def _messages(value) -> list[dict]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise MalformedRow("bad_messages", f"messages is a string but not JSON ({exc})") from None
    if not isinstance(value, list) or not value:
        raise MalformedRow("bad_messages", "messages must be a non-empty list")
    out = []
    for i, m in enumerate(value):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise MalformedRow("bad_messages", f"message {i} is not a chat message with a role in {ROLES}")
        out.append({k: v for k, v in m.items() if v is not None})  # Parquet structs fill absent fields with None
    if not any(m["role"] == "assistant" for m in out):
        raise MalformedRow("no_assistant", "no assistant message")
    return out


def _nonempty_tools(value) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip() not in ("", "[]", "null")
    try:
        return len(value) > 0
    except TypeError:
        return bool(value)


def _uses_tools(messages: list[dict]) -> bool:
    return any(m["role"] == "tool" or m.get("tool_calls") for m in messages)


def from_released(row: dict, file_mode: str | None, default_mode: str | None) -> dict:
    problem = _text(row, "problem")
    messages = _messages(row.get("messages"))
    mode = _mode(row.get("mode", row.get("reasoning_effort")), file_mode or default_mode, fallback=None)
    tir = bool(row["tir"]) if row.get("tir") is not None else _nonempty_tools(row.get("tools"))
    return {"problem_id": problem_id(problem), "problem": problem, "mode": mode, "tir": tir, "seed": -1,
            "messages": messages, "expected_answer": row.get("expected_answer"),
            "data_source": row.get("data_source"), "uuid": row.get("uuid"), "kept": True}


def split_think(solution: str) -> tuple[str, str]:
    """(reasoning, content) of a Qwen-style solution: split at the first ``</think>``."""
    head, sep, tail = solution.partition("</think>")
    if not sep:
        return "", solution.strip()
    head = head.strip()
    head = head.removeprefix("<think>")
    return head.strip(), tail.strip()


def from_omr(row: dict, default_mode: str | None) -> dict:
    problem = _text(row, "problem")
    inference = str(row.get("inference_mode") or "cot").strip().lower()
    if inference == "genselect":
        raise FilteredRow("genselect")
    if inference not in OMR_MODES:
        raise MalformedRow("bad_inference_mode", f"inference_mode {row.get('inference_mode')!r} is not one of "
                           f"{OMR_MODES + ('genselect',)}")
    reasoning, content = split_think(_text(row, "generated_solution"))
    if not content:
        raise MalformedRow("no_final_answer", "nothing follows </think> in generated_solution")
    assistant = {"role": "assistant", "content": content}
    if reasoning:
        assistant["reasoning_content"] = reasoning
    return {"problem_id": problem_id(problem), "problem": problem, "mode": _mode(row.get("mode"), default_mode),
            "tir": inference == "tir", "seed": -1,
            "messages": [{"role": "user", "content": user_prompt(problem)}, assistant],
            "expected_answer": row.get("expected_answer"), "data_source": row.get("problem_source"),
            "template": "chat", "kept": True}


def from_chat(row: dict, default_mode: str | None) -> dict:
    messages = _messages(row.get("messages"))
    problem = row.get("problem")
    if problem is None:
        problem = next((m.get("content") for m in messages if m["role"] == "user"), None)
    if not isinstance(problem, str) or not problem.strip():
        raise MalformedRow("no_problem", "no 'problem' field and no user message with text")
    if row.get("tir") is not None:
        tir = bool(row["tir"])
    else:
        tir = _nonempty_tools(row.get("tools")) or _uses_tools(messages)
    return {"problem_id": str(row.get("problem_id") or problem_id(problem)), "problem": problem,
            "mode": _mode(row.get("mode", row.get("reasoning_effort")), default_mode), "tir": tir,
            "seed": int(row["seed"]) if isinstance(row.get("seed"), int) else -1, "messages": messages,
            "expected_answer": row.get("expected_answer"), "data_source": row.get("data_source"),
            "template": "chat", "kept": True}


def from_traces(row: dict, default_mode: str | None) -> dict:
    for flag in ("kept", "correct"):
        if flag in row and row[flag] is not None and not bool(row[flag]):
            raise FilteredRow("not_kept")
    problem = _text(row, "problem")
    if not row.get("completion") and not row.get("messages"):
        raise MalformedRow("no_completion", "row has neither 'completion' nor 'messages'")
    mode = _mode(row.get("mode", row.get("reasoning_effort")), default_mode)
    return {**row, "problem_id": str(row.get("problem_id") or problem_id(problem)), "mode": mode,
            "tir": bool(row.get("tir", False)), "kept": True}


def convert_row(row: dict, schema: str, *, file_mode: str | None = None,
                default_mode: str | None = None) -> dict:
    """One trace record from a row of the given shape; raises MalformedRow / FilteredRow."""
    kind = detect_schema(row) if schema == "auto" else schema
    if kind == "released":
        return from_released(row, file_mode, default_mode)
    if kind == "omr":
        return from_omr(row, default_mode)
    if kind == "chat":
        return from_chat(row, default_mode)
    if kind == "traces":
        return from_traces(row, default_mode)
    raise ImportTracesError(f"unknown schema {schema!r} (allowed: {', '.join(SCHEMAS)})")


def source_filter(rec: dict, src: Source) -> str | None:
    """Why a converted record is left out by its source's settings, or None."""
    if src.include_modes and rec["mode"] not in src.include_modes:
        return f"mode_{rec['mode']}"
    if src.include_tir is not None and bool(rec["tir"]) != bool(src.include_tir):
        return "tir" if rec["tir"] else "notir"
    return None


@dataclass
class Tally:
    """Counts of one source: rows read, converted, filtered and malformed by reason, examples."""

    rows: int = 0
    converted: int = 0
    filtered: collections.Counter = field(default_factory=collections.Counter)
    malformed: collections.Counter = field(default_factory=collections.Counter)
    examples: list = field(default_factory=list)

    def bad(self, origin: str, reason: str, message: str) -> None:
        self.malformed[reason] += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(f"{origin}: {message}")

    def as_dict(self) -> dict:
        return {"rows": self.rows, "converted": self.converted, "filtered": dict(sorted(self.filtered.items())),
                "malformed": dict(sorted(self.malformed.items())), "malformed_examples": list(self.examples)}


def read_source(src: Source, tally: Tally) -> Iterator[dict]:
    """The source's records, each with ``source_label`` and ``origin`` (file:line); every row
    that is left out is counted in ``tally``."""
    from nmframe.stream.released import mode_of_path  # pyarrow.compute: not for every plan that imports the steps

    if src.schema not in SCHEMAS:
        raise ImportTracesError(f"source {src.label!r}: unknown schema {src.schema!r} (allowed: {', '.join(SCHEMAS)})")
    for path in src.files:
        file_mode = mode_of_path(path)
        for line, row, err in iter_rows(path):
            tally.rows += 1
            origin = f"{path}:{line}"
            if err is not None:
                tally.bad(origin, "bad_line", err)
                continue
            try:
                rec = convert_row(row, src.schema, file_mode=file_mode, default_mode=src.mode)
            except MalformedRow as exc:
                tally.bad(origin, exc.reason, str(exc))
                continue
            except FilteredRow as exc:
                tally.filtered[exc.reason] += 1
                continue
            why = source_filter(rec, src)
            if why is not None:
                tally.filtered[why] += 1
                continue
            tally.converted += 1
            yield {**rec, "source_label": src.label, "origin": origin}


# ------------------------------------------------------------------------------------------
# mixing
def check_fractions(mix: dict, labels) -> dict[str, float]:
    """The arm's fractions per label, checked: known labels, positive, summing to 1."""
    labels = list(labels)
    if not mix:
        raise ImportTracesError("the arm's mix is empty; give {label: fraction}")
    unknown = [k for k in mix if k not in labels]
    if unknown:
        raise ImportTracesError(f"mix names label(s) {unknown} that no source has (labels: {', '.join(labels)})")
    bad = {k: v for k, v in mix.items() if not float(v) > 0}
    if bad:
        raise ImportTracesError(f"mix fractions must be > 0 (got {bad})")
    total = sum(float(v) for v in mix.values())
    if abs(total - 1.0) > 1e-6:
        raise ImportTracesError(f"mix fractions must sum to 1 (got {total:g}: {dict(mix)})")
    return {str(k): float(v) for k, v in mix.items()}


def split_total(total: int, fractions: dict[str, float]) -> dict[str, int]:
    """``total`` split by fractions with the largest-remainder rule (ties: label order), exact."""
    raw = {k: total * f for k, f in fractions.items()}
    out = {k: int(np.floor(v)) for k, v in raw.items()}
    rest = total - sum(out.values())
    order = sorted(fractions, key=lambda k: (-(raw[k] - out[k]), list(fractions).index(k)))
    for k in order[:rest]:
        out[k] += 1
    return out


def allocate(fractions: dict[str, float], available: dict[str, int], total: int | None) -> dict[str, int]:
    """Traces to draw per label. ``total`` None: the largest total the available traces allow.
    Raises ImportTracesError when a label has fewer traces than its share of ``total``."""
    if total is None:
        total = min(int(np.floor(available.get(k, 0) / f + 1e-9)) for k, f in fractions.items())
        while total > 0 and any(n > available.get(k, 0) for k, n in split_total(total, fractions).items()):
            total -= 1
    if int(total) < 0:
        raise ImportTracesError(f"sft.import_max_examples must be >= 0 (got {total})")
    sizes = split_total(int(total), fractions)
    short = {k: (n, available.get(k, 0)) for k, n in sizes.items() if n > available.get(k, 0)}
    if short:
        detail = "; ".join(f"{k}: needs {n}, has {a}" for k, (n, a) in short.items())
        raise ImportTracesError(f"not enough traces for a total of {total} ({detail}); lower sft.import_max_examples "
                           "or add data")
    return sizes


def draw(n_available: int, n: int, seed: int, label: str) -> np.ndarray:
    """Sorted indices of ``n`` of ``n_available`` items: the first ``n`` of a permutation seeded
    by (seed, label), so a smaller draw is a subset of a larger one."""
    h = int(hashlib.sha1(label.encode()).hexdigest()[:8], 16)
    perm = np.random.default_rng([int(seed), h]).permutation(n_available)
    return np.sort(perm[:n])


def build(sources: list[Source], out_path: Path, *, mix: dict | None, total: int | None, seed: int,
          match: bool, track=None) -> dict:
    """Convert every source, restrict to matched problems, draw the arm, write ``out_path``
    (JSONL trace records). Returns the report.

    ``mix`` None takes every trace of every source (``total`` must then be None). Two passes over
    the files, so memory holds one problem number per trace, never the traces (OpenMathReasoning
    has millions of long solutions): the first converts and counts, the second converts again and
    writes the drawn traces.
    """
    track = track or (lambda it, desc, total=None: it)
    labels = list(dict.fromkeys(s.label for s in sources))
    if mix is None:
        if total is not None:
            raise ImportTracesError("sft.import_max_examples needs an arm (sft.arm) that says how to split it")
        fractions = None
    else:
        fractions = check_fractions(mix, labels)
    tallies = {i: Tally() for i in range(len(sources))}
    key_ids: dict[str, int] = {}
    keys: dict[str, array.array] = {lab: array.array("i") for lab in labels}  # problem number per trace
    for i, src in enumerate(sources):
        for rec in track(read_source(src, tallies[i]), f"import {src.label} (count)"):
            keys[src.label].append(key_ids.setdefault(problem_id(rec["problem"]), len(key_ids)))
    per_label = {lab: np.frombuffer(keys[lab], dtype=np.int32) if len(keys[lab]) else np.zeros(0, np.int32)
                 for lab in labels}
    problems = {lab: np.unique(per_label[lab]) for lab in labels}
    matched = None
    if match and len(labels) > 1:  # one source matches itself; reported as not applied
        matched = problems[labels[0]]
        for lab in labels[1:]:
            matched = np.intersect1d(matched, problems[lab], assume_unique=True)
    on_matched = {lab: (np.isin(per_label[lab], matched) if matched is not None
                        else np.ones(len(per_label[lab]), dtype=bool)) for lab in labels}
    available = {lab: int(on_matched[lab].sum()) for lab in labels}
    sizes = dict(available) if fractions is None else allocate(fractions, available, total)
    # the drawn traces, as positions among each label's traces in reading order
    take = {}
    for lab in labels:
        mask = np.zeros(len(per_label[lab]), dtype=bool)
        if sizes.get(lab):
            mask[np.flatnonzero(on_matched[lab])[draw(available[lab], sizes[lab], seed, lab)]] = True
        take[lab] = mask
    per_config = collections.Counter()
    written = collections.Counter()
    out_problems = set()
    chat_only = 0
    pos = collections.Counter()
    with open(out_path, "w", encoding="utf-8") as out:
        for i, src in enumerate(sources):
            if not sizes.get(src.label):
                continue
            mask = take[src.label]
            for rec in track(read_source(src, Tally()), f"import {src.label} (write)"):
                k = pos[src.label]
                pos[src.label] += 1
                if k >= len(mask):
                    raise ImportTracesError(f"source {src.label!r}: its files changed while being read "
                                            f"(more traces on the second pass than the first's {len(mask)})")
                if not mask[k]:
                    continue
                out.write(json.dumps(rec, ensure_ascii=False) + "\n")
                written[src.label] += 1
                out_problems.add(int(per_label[src.label][k]))
                per_config[f"{rec['mode']}/{'tir' if rec['tir'] else 'notir'}"] += 1
                chat_only += rec.get("template") == "chat"
    changed = [lab for lab in labels if sizes.get(lab) and pos[lab] != len(per_label[lab])]
    if changed:
        raise ImportTracesError(f"source(s) {changed}: the files changed while being read (trace counts differ "
                                "between the two passes)")
    return {
        "sources": [{"label": s.label, "schema": s.schema, "files": [str(p) for p in s.files],
                     **tallies[i].as_dict()} for i, s in enumerate(sources)],
        "match": {"enabled": bool(match), "applied": matched is not None,
                  "problems_per_label": {lab: len(problems[lab]) for lab in labels},
                  "matched_problems": len(matched) if matched is not None else None,
                  "traces_per_label": {lab: len(per_label[lab]) for lab in labels}, "traces_on_matched": available},
        "mix": {"fractions": fractions, "total": int(sum(sizes.values())), "sizes": sizes, "seed": int(seed)},
        "written": dict(written), "traces": int(sum(written.values())), "problems": len(out_problems),
        "per_config": dict(sorted(per_config.items())), "chat_only_traces": int(chat_only),
        "malformed": int(sum(sum(t.malformed.values()) for t in tallies.values())),
        "filtered": int(sum(sum(t.filtered.values()) for t in tallies.values())),
    }
