"""Cache keys: what changes them and what must not."""

from nmframe.config import compose
from nmframe.engine.dag import build_dag
from nmframe.engine.task import compute_key
from nmframe.steps.ingest import Ingest

from tests.helpers import base_overrides


def keys(tmp_path, *extra):
    cfg = compose(base_overrides(tmp_path, "pipeline.steps=[ingest,counted]", *extra))
    return {t.step: t.key for t in build_dag(cfg).tasks}


def test_change_outside_slice_keeps_key(nm_env):
    a = keys(nm_env)
    b = keys(nm_env, "trainer.lr=1e-3")
    assert a["ingest"] == b["ingest"]          # ingest does not read trainer.lr
    assert a["counted"] != b["counted"]        # counted does


def test_change_inside_slice_changes_key_and_downstream(nm_env):
    a = keys(nm_env)
    b = keys(nm_env, "ingest.max_bad_fraction=0.5")
    assert a["ingest"] != b["ingest"]
    assert a["counted"] != b["counted"]        # an input key changed


def test_version_bump_changes_key(nm_env, monkeypatch):
    a = keys(nm_env)
    monkeypatch.setattr(Ingest, "VERSION", "2")
    b = keys(nm_env)
    assert a["ingest"] != b["ingest"] and a["counted"] != b["counted"]


def test_input_file_content_changes_key(nm_env):
    data = nm_env / "p.jsonl"
    data.write_text('{"problem": "1+1?", "expected_answer": "2"}\n')
    over = ["source.files=[{path: %s, schema: canonical}]" % data]
    a = keys(nm_env, *over)
    data.write_text('{"problem": "1+2?", "expected_answer": "3"}\n')
    b = keys(nm_env, *over)
    assert a["ingest"] != b["ingest"]


def test_moving_input_file_keeps_key(nm_env):
    for d in ("x", "y"):
        (nm_env / d).mkdir()
        (nm_env / d / "p.jsonl").write_text('{"problem": "1+1?", "expected_answer": "2"}\n')
    a = keys(nm_env, "source.files=[{path: %s, schema: canonical}]" % (nm_env / "x" / "p.jsonl"))
    b = keys(nm_env, "source.files=[{path: %s, schema: canonical}]" % (nm_env / "y" / "p.jsonl"))
    assert a["ingest"] == b["ingest"]


def test_none_valued_options_do_not_enter_key():
    assert compute_key("s", "1", {"a": 1, "b": None}, {}, {}) == compute_key("s", "1", {"a": 1}, {}, {})
    assert compute_key("s", "1", {"a": 1}, {}, {}) != compute_key("s", "1", {"a": 2}, {}, {})
    assert len(compute_key("s", "1", {}, {}, {})) == 16


def test_fan_out_params_make_distinct_tasks(nm_env):
    cfg = compose(base_overrides(nm_env, "pipeline.steps=[ingest,fan_out]"))
    tasks = [t for t in build_dag(cfg).tasks if t.step == "fan_out"]
    assert [t.params for t in tasks] == [{"shard": 0}, {"shard": 1}]
    assert tasks[0].key != tasks[1].key
    assert tasks[0].id == "fan_out[shard=0]"
