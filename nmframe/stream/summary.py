"""What a stream did: rows kept per data source x mode x TIR x bucket, rows dropped per reason.

Counts are plain Counters keyed by tuples, so a part's counts can be stored in the resume
checkpoint (:meth:`Summary.to_json`) and merged back (:meth:`Summary.from_json`) when a killed
run continues.
"""
from __future__ import annotations

import collections
from typing import Any


EXCLUDED_DATA_SOURCE = "excluded data_source"


def excluded_lines(excluded: dict[str, int]) -> list[str]:
    """One line per data_source value the stream skipped: never dropped without a word."""
    return [f"data_source {s!r}: {n:,} rows not in source.include_data_sources, skipped" for s, n in excluded.items()]


class Summary:
    def __init__(self) -> None:
        self.rows_in = 0
        self.kept: collections.Counter = collections.Counter()    # (source, mode, tir, bucket) -> rows
        self.tokens: collections.Counter = collections.Counter()  # (source, mode, tir, bucket) -> tokens
        self.dropped: collections.Counter = collections.Counter()  # (reason, source) -> rows
        self.notes: collections.Counter = collections.Counter()    # (note, source) -> kept rows with a note

    def merge(self, other: Summary) -> Summary:
        self.rows_in += other.rows_in
        self.kept.update(other.kept)
        self.tokens.update(other.tokens)
        self.dropped.update(other.dropped)
        self.notes.update(other.notes)
        return self

    def to_json(self) -> dict:
        return {"rows_in": self.rows_in,
                "kept": [[*k, v, self.tokens[k]] for k, v in sorted(self.kept.items(), key=str)],
                "dropped": [[*k, v] for k, v in sorted(self.dropped.items(), key=str)],
                "notes": [[*k, v] for k, v in sorted(self.notes.items(), key=str)]}

    @classmethod
    def from_json(cls, obj: dict) -> Summary:
        s = cls()
        s.rows_in = int(obj["rows_in"])
        for src, mode, tir, bucket, n, tok in obj["kept"]:
            s.kept[(src, mode, bool(tir), bucket)] = n
            s.tokens[(src, mode, bool(tir), bucket)] = tok
        for reason, src, n in obj["dropped"]:
            s.dropped[(reason, src)] = n
        for note, src, n in obj["notes"]:
            s.notes[(note, src)] = n
        return s

    @property
    def rows_kept(self) -> int:
        return sum(self.kept.values())

    @property
    def rows_dropped(self) -> int:
        return sum(self.dropped.values())

    def report(self, stages: list[str]) -> dict[str, Any]:
        per_bucket = {b: 0 for b in stages}
        tok_bucket = {b: 0 for b in stages}
        for (_, _, _, b), n in self.kept.items():
            per_bucket[b] = per_bucket.get(b, 0) + n
        for (_, _, _, b), t in self.tokens.items():
            tok_bucket[b] = tok_bucket.get(b, 0) + t
        by_reason = collections.Counter()
        for (reason, _), n in self.dropped.items():
            by_reason[reason] += n
        by_note = collections.Counter()
        for (note, _), n in self.notes.items():
            by_note[note] += n
        return {
            "rows_in": self.rows_in, "rows_kept": self.rows_kept, "rows_dropped": self.rows_dropped,
            "per_bucket": per_bucket, "tokens_per_bucket": tok_bucket,
            "kept": [{"data_source": s, "mode": m, "tir": t, "bucket": b, "rows": n, "tokens": self.tokens[(s, m, t, b)]}
                     for (s, m, t, b), n in sorted(self.kept.items(), key=str)],
            "dropped_by_reason": dict(sorted(by_reason.items())),
            "dropped": [{"reason": r, "data_source": s, "rows": n} for (r, s), n in sorted(self.dropped.items(), key=str)],
            "notes": dict(sorted(by_note.items())),
            "excluded_data_sources": self.excluded_data_sources(),
        }

    def excluded_data_sources(self) -> dict[str, int]:
        """data_source value -> rows skipped because source.include_data_sources does not list it."""
        return {s: n for (r, s), n in sorted(self.dropped.items(), key=str) if r == EXCLUDED_DATA_SOURCE}

    def format_table(self, stages: list[str]) -> str:
        """Rows kept per (source, mode, tir) x bucket, then drops per reason."""
        rows = sorted({(s, m, t) for (s, m, t, _) in self.kept}, key=str)
        lines = [f"{'source':<16}{'mode':<8}{'tir':<5}" + "".join(f"{b:>12}" for b in stages) + f"{'total':>12}"]
        for s, m, t in rows:
            vals = [self.kept.get((s, m, t, b), 0) for b in stages]
            lines.append(f"{s:<16}{m:<8}{'yes' if t else 'no':<5}" + "".join(f"{v:>12,}" for v in vals)
                         + f"{sum(vals):>12,}")
        tot = [sum(n for (_, _, _, b), n in self.kept.items() if b == st) for st in stages]
        lines.append(f"{'total':<29}" + "".join(f"{v:>12,}" for v in tot) + f"{sum(tot):>12,}")
        lines.append("")
        lines.append(f"rows in {self.rows_in:,}, kept {self.rows_kept:,}, dropped {self.rows_dropped:,}")
        by_reason = collections.Counter()
        for (reason, _), n in self.dropped.items():
            by_reason[reason] += n
        for reason, n in sorted(by_reason.items(), key=lambda x: -x[1]):
            lines.append(f"  dropped: {reason:<32}{n:>12,}")
        lines.extend(excluded_lines(self.excluded_data_sources()))
        by_note = collections.Counter()
        for (note, _), n in self.notes.items():
            by_note[note] += n
        for note, n in sorted(by_note.items()):
            lines.append(f"  kept with note: {note:<25}{n:>12,}")
        return "\n".join(lines)
