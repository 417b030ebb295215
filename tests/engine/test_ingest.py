"""ingest: every supported file shape into one schema; bad lines counted with file:line."""
import json

import pyarrow as pa
import pyarrow.parquet as pq

from nmframe.cli import main
from nmframe.datafiles import read_jsonl
from nmframe.problems import problem_id, to_canonical

from tests.helpers import base_overrides


def _ingest(tmp_path, files, *extra):
    spec = ", ".join("{path: %s, schema: %s}" % (p, s) for p, s in files)
    return main(["run", "-q", *base_overrides(tmp_path, "pipeline.steps=[ingest]", f"source.files=[{spec}]", *extra)])


def _artifact(tmp_path):
    return next((tmp_path / "outputs" / "artifacts" / "ingest").glob("[0-9a-f]*"))


def test_quickstart_sources_become_canonical(nm_env):
    assert main(["run", "-q", *base_overrides(nm_env, "pipeline.steps=[ingest]")]) == 0
    rows = read_jsonl(_artifact(nm_env) / "problems.jsonl")
    report = json.loads((_artifact(nm_env) / "report.json").read_text())
    assert len(rows) == 45 and report["per_data_source"] == {"sample": 24, "aops": 10, "stackexchange": 11}
    assert report["missing_answer"] == 21  # forum posts and StackExchange questions carry no answer yet
    aops = [r for r in rows if r["data_source"] == "aops"]
    assert all(r["id"].startswith("p-") for r in aops)  # no id in forum dumps: derived from the text
    assert sum(r["discussion"] is not None for r in aops) == 8  # two threads have no replies
    assert rows[0]["id"] == "sample-00" and rows[0]["expected_answer"] == "42"
    assert rows[0]["origin"].endswith("problems.jsonl:1")


def test_bad_lines_are_counted_with_file_and_line(nm_env):
    f = nm_env / "mixed.jsonl"
    good = [json.dumps({"problem": f"What is {i}+{i}?", "expected_answer": str(2 * i)}) for i in range(30)]
    lines = good[:10] + ['{"problem": "torn', '[1, 2]', json.dumps({"question": "no problem field"})] + good[10:]
    lines.append(json.dumps({"problem": "What is 1+1?", "expected_answer": "2"}))  # duplicate of row 2
    f.write_text("\n".join(lines) + "\n")
    assert _ingest(nm_env, [(f, "auto")], "ingest.max_bad_fraction=0.2") == 0
    report = json.loads((_artifact(nm_env) / "report.json").read_text())
    assert (report["lines"], report["kept"], report["bad"], report["duplicates"]) == (34, 30, 3, 1)
    origins = [e["origin"] for e in report["bad_examples"]]
    assert origins == [f"{f}:11", f"{f}:12", f"{f}:13"]
    assert "malformed JSON" in report["bad_examples"][0]["reason"]
    assert "expected a JSON object" in report["bad_examples"][1]["reason"]
    assert "needs 'problem' or 'forum_post'" in report["bad_examples"][2]["reason"]
    assert report["duplicate_examples"][0] == {"origin": f"{f}:34", "first_seen": f"{f}:2"}


def test_too_many_bad_lines_fail_the_step(nm_env):
    f = nm_env / "bad.jsonl"
    f.write_text('{"problem": "ok?", "expected_answer": "1"}\nnot json\n{"problem": ""}\n')
    assert _ingest(nm_env, [(f, "auto")]) == 1
    from nmframe.engine.runs import list_runs

    state = [s for s in list_runs(nm_env / "outputs" / "runs")[-1].states().values()][0]
    assert "2 of 3 lines are bad" in state["error"] and f"{f}:2" in state["error"]
    assert not list((nm_env / "outputs" / "artifacts" / "ingest").glob("[0-9a-f]*"))


def test_released_parquet_and_benchmark_rows(nm_env):
    meta = {"reason_low_with_tool": {"count": 8, "pass": 8, "accuracy": 1.0}}
    table = pa.Table.from_pylist([
        {"problem": "Find x if 2x=4.", "expected_answer": "2", "original_expected_answer": "3",
         "changed_answer_to_majority": True, "data_source": "aops", "messages": [{"role": "user", "content": "q"}],
         "tools": [], "metadata": json.dumps(meta), "license": "CC BY 4.0", "uuid": "u1", "url": "https://x"},
        {"problem": "Find x if 2x=4.", "expected_answer": "2", "original_expected_answer": "3",
         "changed_answer_to_majority": True, "data_source": "aops", "messages": [{"role": "user", "content": "q"}],
         "tools": [], "metadata": json.dumps(meta), "license": "CC BY 4.0", "uuid": "u2", "url": "https://x"},
        {"problem": "Sum 1..n?", "expected_answer": "n(n+1)/2", "original_expected_answer": None,
         "changed_answer_to_majority": False, "data_source": "stackexchange",
         "messages": [{"role": "user", "content": "q"}], "tools": [], "metadata": "{}", "license": "CC BY-SA 4.0",
         "uuid": "u3", "url": "https://y"},
    ])
    pq.write_table(table, nm_env / "released.parquet")
    bench = "pkg://benchmarks/comp-math-24-25.jsonl"
    assert _ingest(nm_env, [(nm_env / "released.parquet", "released"), (bench, "benchmark")],
                   "source.include_data_sources=[aops,benchmark]") == 0
    rows = read_jsonl(_artifact(nm_env) / "problems.jsonl")
    report = json.loads((_artifact(nm_env) / "report.json").read_text())
    assert report["excluded_data_source"] == 1 and report["duplicates"] == 1
    released = rows[0]
    assert released["changed_answer_to_majority"] is True and released["original_expected_answer"] == "3"
    assert released["metadata"] == meta and released["license"] == "CC BY 4.0"
    assert released["id"] == problem_id("Find x if 2x=4.")


def test_benchmark_ids_and_subsets_are_kept():
    row = {"id": "aime25-0", "subset_for_metrics": "aime25", "problem": "p", "expected_answer": "70"}
    out = to_canonical(row, "auto", "f:1", "comp-math")
    assert (out["id"], out["subset"], out["expected_answer"], out["data_source"]) == ("aime25-0", "aime25", "70", "comp-math")


def test_ids_are_stable_and_whitespace_insensitive():
    assert problem_id("What is  1+1?\r\n") == problem_id("What is 1+1?")
    assert problem_id("What is 1+1?") != problem_id("What is 1+2?")
    assert problem_id("x") == "p-" + __import__("hashlib").sha1(b"x").hexdigest()[:12]


def test_missing_source_file_is_a_clear_error(nm_env, capsys):
    assert _ingest(nm_env, [(nm_env / "nope.jsonl", "auto")]) == 2  # refused when planning, nothing runs
    assert f"missing input file: source.files[0].path={nm_env / 'nope.jsonl'} (read by ingest)" in capsys.readouterr().err
    assert not (nm_env / "outputs" / "runs").exists()


def test_fields_of_the_wrong_type_are_row_errors_with_file_and_line(nm_env):
    f = nm_env / "typed.jsonl"
    rows = [{"problem": f"What is {i}+{i}?", "expected_answer": str(2 * i)} for i in range(20)]
    rows[3]["data_source"] = {"x": 1}
    rows[5]["id"] = [1, 2]
    rows[7]["subset"] = 25
    rows[9]["id"] = 17  # whole-number ids are fine
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert _ingest(nm_env, [(f, "canonical")], "ingest.max_bad_fraction=0.2") == 0
    report = json.loads((_artifact(nm_env) / "report.json").read_text())
    reasons = {e["origin"]: e["reason"] for e in report["bad_examples"]}
    assert reasons == {f"{f}:4": "field 'data_source' must be a string, got dict",
                       f"{f}:6": "field 'id' must be a non-empty string or an integer, got list",
                       f"{f}:8": "field 'subset' must be a string, got int"}
    kept = read_jsonl(_artifact(nm_env) / "problems.jsonl")
    assert len(kept) == 17 and kept[6]["id"] == "17"  # rows 4, 6, 8 dropped


def test_over_long_number_in_a_row_is_a_bad_line(tmp_path):
    from nmframe.datafiles import iter_rows

    f = tmp_path / "long.jsonl"
    f.write_text('{"problem": "p", "expected_answer": 1}\n{"problem": "q", "expected_answer": %s}\n' % ("9" * 5000))
    out = list(iter_rows(f))
    assert out[0] == (1, {"problem": "p", "expected_answer": 1}, None)
    assert out[1][:2] == (2, None) and "Exceeds the limit (4300 digits)" in out[1][2]


def test_stackexchange_posts_xml_sample_becomes_problems(nm_env):
    """source=stackexchange keeps the shipped Posts.xml's questions: body as the problem, accepted /
    top-voted answers as the discussion, URL and licence by creation date; skipped posts counted."""
    assert main(["run", "-q", *base_overrides(nm_env, "pipeline.steps=[ingest]", "source=stackexchange")]) == 0
    rows = read_jsonl(_artifact(nm_env) / "problems.jsonl")
    report = json.loads((_artifact(nm_env) / "report.json").read_text())
    assert report["per_data_source"] == {"stackexchange": 11} and report["excluded_data_source"] == 34
    assert report["skipped_posts"] == {"stackexchange: other post type": 1,
                                       "stackexchange: question after cutoff": 1,
                                       "stackexchange: answer after cutoff": 1}
    odd = next(r for r in rows if r["url"] == "https://math.stackexchange.com/questions/101")
    assert odd["problem"].startswith("I want to compute $1 + 3 + 5 + \\cdots + 99$")
    assert odd["license"] == "CC BY-SA 3.0" and odd["expected_answer"] is None
    assert odd["metadata"]["title"] == "Sum of the odd numbers below 100"
    assert odd["metadata"]["tags"] == ["sequences-and-series", "summation"]
    assert "Accepted and top-voted answer (score 21)" in odd["discussion"] and "2500" in odd["discussion"]
    mod5 = next(r for r in rows if r["url"].endswith("/107"))   # the accepted answer is not the top-voted one
    assert mod5["metadata"]["answer_ids"] == ["109", "108"]
    assert mod5["origin"].endswith("Posts.xml:Id=107")


def test_posts_xml_cutoff_is_part_of_the_ingest_key(nm_env):
    from nmframe.config import compose
    from nmframe.engine.dag import build_dag

    def ingest_key(*extra):
        cfg = compose(base_overrides(nm_env, "pipeline.steps=[ingest]", "source=aops_se", *extra))
        return next(t.key for t in build_dag(cfg).tasks if t.step == "ingest")

    assert ingest_key() != ingest_key("prep.cutoff_date=2015-01-01")


def test_a_rerun_that_computes_nothing_says_where_the_results_are(nm_env, capsys):
    from nmframe.engine.runs import find_run, list_runs

    assert main(["run", "-q", *base_overrides(nm_env, "pipeline.steps=[ingest]")]) == 0
    first = list_runs(nm_env / "outputs" / "runs")[-1]
    capsys.readouterr()
    assert main(["run", "-q", *base_overrides(nm_env, "pipeline.steps=[ingest]")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    again = list_runs(nm_env / "outputs" / "runs")[-1]
    assert again.path != first.path and again.ran_nothing and not first.ran_nothing
    assert f"run {again.path.name}: nothing ran (every task cached); `nmframe report quickstart` reads run " \
           f"{first.path.name}" in out
    assert find_run("quickstart", nm_env / "outputs" / "runs").path == first.path
