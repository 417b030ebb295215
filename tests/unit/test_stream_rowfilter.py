"""The stream's pass-rate filter decides exactly as nmframe.curation.trivial, per distinct combination."""
from __future__ import annotations

import json
import random

import pyarrow as pa

from nmframe.curation.trivial import decide_from_metadata
from nmframe.stream.rowfilter import (
    NOTES,
    has_answer,
    metadata_numbers,
    trivial_outcomes,
)

CASES = [
    {"reason_low_with_tool": {"count": 8, "pass": 8}, "reason_low_no_tool": {"count": 8, "pass": 6}},   # 14/16 trivial
    {"reason_low_with_tool": {"count": 8, "pass": 7}, "reason_low_no_tool": {"count": 8, "pass": 6}},   # 13/16 = .8125
    {"reason_low_with_tool": {"count": 8, "pass": 6}, "reason_low_no_tool": {"count": 2, "pass": 2}},   # 8/10 = .8 kept
    {"reason_low_with_tool": {"count": 8, "pass": 2}},                                                  # one tool only
    {},                                                                                                 # no attempts
    {"reason_low_with_tool": {"count": 8, "pass": 9}},                                                  # bad: pass > count
    {"reason_low_with_tool": {"count": -1, "pass": 0}},                                                 # bad: negative
    {"reason_low_with_tool": {"count": 8, "pass": 2.5}},                                                # bad: fractional
    {"reason_low_with_tool": {"count": 8}},                                                             # bad: no pass
    {"reason_low_with_tool": "eight"},                                                                  # bad: not a mapping
    {"reason_high_with_tool": {"count": 8, "pass": 8}},                                                 # other mode only
]


def expected(metas, threshold=0.8, strict=True):
    out = []
    for m in metas:
        d = decide_from_metadata({"expected_answer": "1", "metadata": m}, threshold, strict)
        out.append((d.remove, d.reason))
    return out


def got(batch, kind, threshold=0.8, strict=True):
    removed, note = trivial_outcomes(metadata_numbers(batch, kind, "low"), "low", threshold, strict)
    return [(bool(r), "trivial" if r else NOTES[n]) for r, n in zip(removed, note)]


def test_json_metadata_matches_filters():
    metas = CASES * 3
    batch = pa.RecordBatch.from_pydict({"metadata": [json.dumps(m) for m in metas] + ["not json", None]})
    want = expected(metas) + [(False, "bad metadata"), (False, "no attempts")]
    assert got(batch, "string") == want
    assert got(batch, "string", strict=False)[2] == (True, "trivial")  # 0.8 >= 0.8


def test_struct_metadata_matches_filters_on_random_counts():
    rng = random.Random(0)
    metas = []
    for _ in range(500):
        m = {}
        for tool in ("with_tool", "no_tool"):
            if rng.random() < 0.9:
                c = rng.choice([0, 4, 8])
                m[f"reason_low_{tool}"] = {"count": c, "pass": rng.randint(0, c + (1 if rng.random() < 0.05 else 0)),
                                           "accuracy": 0.5}
        m["reason_high_with_tool"] = {"count": 8, "pass": 8, "accuracy": 1.0}
        metas.append(m)
    batch = pa.RecordBatch.from_pydict({"metadata": metas})
    assert pa.types.is_struct(batch.schema.field("metadata").type)
    assert got(batch, "struct") == expected(metas)
    assert got(batch, "struct", threshold=0.5, strict=False) == expected(metas, 0.5, False)


def test_has_answer():
    batch = pa.RecordBatch.from_pydict({"expected_answer": ["1", None, "  ", "x"]})
    assert has_answer(batch).tolist() == [True, False, False, True]
