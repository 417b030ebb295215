"""Streaming released rows: validation, filters, token counts, buckets, packing, summary."""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nmframe.stream import StreamSchemaError, StreamSettings, mode_of_path, run_stream
from tests.helpers import EDGES, STAGES, released_rows, stream_settings, write_released

def expected_counts(rows, mode):
    kept, dropped = {}, {}
    for r in rows:
        if r["uuid"] is None:
            why = "invalid: missing uuid"
        elif r["expected_answer"] is None:
            why = "no expected_answer"
        elif r["metadata"]["reason_low_with_tool"]["pass"] == 8:
            why = "trivial"
        elif r["num_tokens"] > 400:
            why = "too long"
        else:
            b = STAGES[next(i for i, e in enumerate(EDGES) if r["num_tokens"] <= e)]
            key = (r["data_source"], mode, bool(r["tools"]), b)
            kept[key] = kept.get(key, 0) + 1
            continue
        dropped[why] = dropped.get(why, 0) + 1
    return kept, dropped


def test_stream_end_to_end(tmp_path):
    hi = released_rows(230, 0)
    lo = released_rows(170, 1000)
    files = [write_released(tmp_path / "in" / "high_part00-00000-of-00001.parquet", hi),
             write_released(tmp_path / "in" / "low-00000-of-00001.parquet", lo)]
    out = tmp_path / "out"
    rep = run_stream(files, out, tmp_path / "scratch", stream_settings())
    k_hi, d_hi = expected_counts(hi, "high")
    k_lo, d_lo = expected_counts(lo, "low")
    kept = {(r["data_source"], r["mode"], r["tir"], r["bucket"]): r["rows"] for r in rep["kept"]}
    assert kept == {**k_hi, **k_lo}
    want_drop = {k: d_hi.get(k, 0) + d_lo.get(k, 0) for k in set(d_hi) | set(d_lo)}
    assert rep["dropped_by_reason"] == want_drop
    assert rep["rows_in"] == 400 and rep["rows_kept"] + rep["rows_dropped"] == 400
    # per-bucket files hold exactly the kept rows, in input order, with mode/tir/num_tokens
    for b, stage in enumerate(STAGES):
        t = pq.read_table(out / "buckets" / stage)
        assert t.num_rows == rep["per_bucket"][stage]
        lens = t.column("num_tokens").to_numpy()
        assert lens.max() <= EDGES[b] and (b == 0 or lens.min() > EDGES[b - 1])
        assert set(t.column("mode").to_pylist()) <= {"high", "low"}
        assert t.schema.field("num_tokens").type == pa.int32()
        packed = pq.read_table(out / "packing" / f"{stage}.parquet")
        index, bin_id = packed.column("index").to_numpy(), packed.column("bin").to_numpy()
        assert sorted(index.tolist()) == list(range(t.num_rows))          # every row exactly once
        loads = np.bincount(bin_id, weights=lens[index])
        assert loads.max() <= EDGES[b] and rep["packing"][stage]["bins"] == len(loads)
    uuids = pq.read_table(out / "buckets" / "s100", columns=["uuid"]).column(0).to_pylist()
    assert uuids == sorted(uuids)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rows_in"] == 400 and summary["resumed_parts"] == 0
    text = (out / "report.txt").read_text()
    assert "dropped: trivial" in text and "stackexchange" in text
    assert not (tmp_path / "scratch").exists()                       # cleared after success


def test_json_metadata_string_tools_and_filters(tmp_path):
    rows = released_rows(60)
    for r in rows:
        r["metadata"] = json.dumps(r["metadata"])
        r["tools"] = json.dumps(r["tools"])
    f = write_released(tmp_path / "medium.parquet", rows)
    rep = run_stream([f], tmp_path / "o", tmp_path / "s",
                     stream_settings(include_tir=[True], drop_changed_answer=True, include_data_sources=["aops"]))
    assert {r["tir"] for r in rep["kept"]} == {True} and {r["mode"] for r in rep["kept"]} == {"medium"}
    assert {r["data_source"] for r in rep["kept"]} == {"aops"}
    assert rep["dropped_by_reason"]["excluded tir"] > 0 and rep["dropped_by_reason"]["excluded data_source"] > 0


def test_token_counting_without_length_column(tmp_path):
    rows = released_rows(40)
    for r in rows:
        del r["num_tokens"]
    f = write_released(tmp_path / "high.parquet", rows)
    rep = run_stream([f], tmp_path / "o", tmp_path / "s",
                     StreamSettings(stage_names=["s64", "s4k"], edges=[64, 4096], workers=1, drop_trivial=False))
    t = pq.read_table(tmp_path / "o" / "buckets")
    assert t.num_rows == rep["rows_kept"] > 0
    from nmframe.models.tiny import load_tokenizer

    tok = load_tokenizer("builtin:tiny", 512)
    r = t.slice(0, 1).to_pylist()[0]
    msgs = [{k: v for k, v in m.items() if v is not None} for m in r["messages"]]
    want = len(tok.apply_chat_template(msgs, tools=r["tools"] or None, tokenize=True)["input_ids"])
    assert r["num_tokens"] == want > 10


def test_schema_errors_name_the_file(tmp_path):
    rows = released_rows(5)
    f = write_released(tmp_path / "high.parquet", [{k: v for k, v in r.items() if k != "messages"} for r in rows])
    with pytest.raises(StreamSchemaError, match=r"high.parquet: missing required column\(s\) \['messages'\]"):
        run_stream([f], tmp_path / "o", tmp_path / "s", stream_settings())
    g = write_released(tmp_path / "part-0.parquet", rows)
    with pytest.raises(StreamSchemaError, match="cannot tell the reasoning mode"):
        run_stream([g], tmp_path / "o", tmp_path / "s", stream_settings())
    with pytest.raises(StreamSchemaError, match="stream.length_column='n' is not a column"):
        run_stream([write_released(tmp_path / "low.parquet", rows)], tmp_path / "o", tmp_path / "s",
                   stream_settings(length_column="n"))


def test_mode_of_path():
    assert mode_of_path("/d/data/high_part01-00003-of-00010.parquet") == "high"
    assert mode_of_path("/d/medium/train-0001.parquet") == "medium"
    assert mode_of_path("/d/low-00000.parquet") == "low"
    assert mode_of_path("/d/train.parquet") is None


def write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_the_releases_jsonl_layout_streams_like_parquet(tmp_path):
    rows = released_rows(240)
    pq_file = write_released(tmp_path / "pq" / "high_part00.parquet", rows)
    jl_file = write_jsonl(tmp_path / "data" / "high.part_00.jsonl", rows)
    a = run_stream([pq_file], tmp_path / "oa", tmp_path / "sa", stream_settings())
    b = run_stream([jl_file], tmp_path / "ob", tmp_path / "sb", stream_settings())
    for k in ("rows_in", "rows_kept", "dropped_by_reason"):
        assert a[k] == b[k], k
    kept, dropped = expected_counts(rows, "high")
    assert b["rows_kept"] == sum(kept.values()) and b["dropped_by_reason"] == dropped
    # JSONL parts are line ranges: checkpoint_rows=100 -> 3 parts, all recorded
    ids = sorted(pq.read_table(tmp_path / "ob" / "buckets" / "s100").column("uuid").to_pylist())
    assert ids == sorted(pq.read_table(tmp_path / "oa" / "buckets" / "s100").column("uuid").to_pylist())


def test_files_without_uuid_get_stable_ids_in_either_format(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "uuid"} for r in released_rows(60)]
    out = []
    for name, f in (("pq", write_released(tmp_path / "pq" / "low.parquet", rows)),
                    ("jl", write_jsonl(tmp_path / "jl" / "low.jsonl", rows)),
                    ("jl2", write_jsonl(tmp_path / "jl2" / "low.jsonl", rows))):
        rep = run_stream([f], tmp_path / f"o{name}", tmp_path / f"s{name}", stream_settings())
        assert "invalid: missing uuid" not in rep["dropped_by_reason"]
        ids = pq.read_table(tmp_path / f"o{name}" / "buckets" / "s100").column("uuid").to_pylist()
        assert all(i.startswith("nm-") and len(i) == 35 for i in ids) and len(set(ids)) == len(ids)
        out.append(sorted(ids))
    assert out[0] == out[1] == out[2]


def test_a_bad_jsonl_line_is_named(tmp_path):
    f = write_jsonl(tmp_path / "medium.jsonl", released_rows(3))
    f.write_text(f.read_text() + "\n{not json\n")
    with pytest.raises(ValueError, match=r"medium.jsonl:5: not a JSON line"):
        run_stream([f], tmp_path / "o", tmp_path / "s", stream_settings())
    g = write_jsonl(tmp_path / "low.jsonl", released_rows(2))
    g.write_text(g.read_text() + "[1, 2]\n")
    with pytest.raises(ValueError, match=r"low.jsonl:3: a row must be a JSON object, got list"):
        run_stream([g], tmp_path / "o2", tmp_path / "s2", stream_settings())
