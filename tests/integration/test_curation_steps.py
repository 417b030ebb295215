"""The curation steps from raw dumps through the CLI on CPU: raw StackExchange / AoPS dumps -> problems with
answers, classified and decontaminated, with the tiny `hf` teacher as the LLM (its replies are
noise, so the uncertain rows must end as counted "no decision", never as labels); and the two
methods of decontaminate on hand-made problems with a scripted LLM."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from nmframe.cli import main
from nmframe.datafiles import read_jsonl
from tests.helpers import write_dump

STEPS = "pipeline.steps=[extract_problems,extract_answers,classify,decontaminate]"
METHODS = ("filters.classify_method=rules_llm", "filters.decontam_method=rules_llm")


def artifact(out: Path, step: str) -> Path:
    found = [p for p in (out / "artifacts" / step).iterdir() if (p / "manifest.json").exists()]
    assert len(found) == 1, found
    return found[0]


def run(tmp_path, *extra):
    return main(["run", STEPS, "tracking.wandb_mode=disabled", f"paths.outputs={tmp_path / 'out'}",
                 "teacher=tiny", "prep.max_tokens=8", "prep.batch_size=4", *METHODS, *extra])


@pytest.mark.slow
def test_stackexchange_dump_to_problems(tmp_path):
    write_dump(tmp_path / "data")
    write_dump(tmp_path / "data", "mathoverflow.net")
    assert run(tmp_path, "source=stackexchange_raw", f"paths.data={tmp_path / 'data'}") == 0
    out = tmp_path / "out"
    ext = artifact(out, "extract_problems")
    rep = json.loads((ext / "report.json").read_text())
    assert rep["posts"] == 6                                      # 3 questions per site survive the filters
    assert rep["skipped"]["stackexchange: question after cutoff"] == 2
    assert rep["skipped"]["stackexchange: no body (deleted or empty)"] == 2
    assert rep["posts"] == rep["decisions"]["total"]
    probs = read_jsonl(ext / "problems.jsonl")
    undecided = read_jsonl(ext / "undecided.jsonl")
    # short clean questions (the malformed-HTML one too, once cleaned) are decided by rule
    assert {p["prep"]["extract"]["decided_by"] for p in probs} == {"rule"} and undecided == []
    assert len(probs) + len(undecided) + rep["posts_without_problem"] + rep["duplicates"] == 6
    assert rep["duplicates"] == 3                                   # the same three questions on both sites
    q1 = next(p for p in probs if p["problem"] == "Find $1+2+\\cdots+10$.")
    assert q1["url"] == "https://math.stackexchange.com/questions/1" and q1["license"] == "CC BY-SA 3.0"

    ans = {p["id"]: p for p in read_jsonl(artifact(out, "extract_answers") / "problems.jsonl")}
    assert ans[q1["id"]]["expected_answer"] == "55"
    assert ans[q1["id"]]["prep"]["answer"]["decided_by"] == "rule"
    for p in ans.values():                                        # noise from the LLM: no decision, no answer
        if p["prep"]["answer"]["decided_by"] == "none":
            assert p["expected_answer"] is None and p["prep"]["answer"]["reason"].startswith("no decision:")

    cls = artifact(out, "classify")
    crep = json.loads((cls / "report.json").read_text())
    assert crep["kept"] + crep["removed"] + crep["undecided"] == len(ans)
    dec = artifact(out, "decontaminate")
    drep = json.loads((dec / "report.json").read_text())
    assert drep["kept"] + drep["removed"] + drep["undecided"] == crep["kept"]
    for p in read_jsonl(dec / "problems.jsonl"):
        assert set(p["prep"]) == {"extract", "answer", "classify", "decontam"}
        assert p["prep"]["decontam"]["decided_by"] == "rule"       # no benchmark overlap


@pytest.mark.slow
def test_aops_sample_rules_only(tmp_path):
    """prep.backend=none: rules decide what they can, the rest is held and counted."""
    data = tmp_path / "data" / "aops"
    data.mkdir(parents=True)
    from nmframe.datafiles import PKG_DATA

    (data / "posts.jsonl").write_text((PKG_DATA / "samples" / "aops-forum-posts.jsonl").read_text())
    assert run(tmp_path, "source=aops_forum_raw", f"paths.data={tmp_path / 'data'}", "prep.backend=none") == 0
    ext = artifact(tmp_path / "out", "extract_problems")
    rep = json.loads((ext / "report.json").read_text())
    assert (rep["posts"], rep["problems"], rep["undecided"]) == (10, 2, 8)
    assert rep["llm_replies"] == {"not asked (backend none)": 8}
    assert rep["decisions"]["by_decided_by"] == {"none": 8, "rule": 2}


BENCH = "Find the sum of all integer bases  $b>9$  for which  $17_b$  is a divisor of  $97_b.$"  # aime25-0
STEM = "Find the sum of all integer bases $b>9$ for which $17_b$ is"                      # one 13-gram of it
DECONTAM_ROWS = [
    {"id": "copy", "problem": BENCH},                                        # containment 1.0: rule
    {"id": "same", "problem": f"{STEM} prime, as asked in yesmark."},        # the LLM says same problem
    {"id": "other", "problem": f"{STEM} a perfect square (nomark)."},        # the LLM says different
    {"id": "garbled", "problem": f"{STEM} even (garblemark)."},              # unreadable reply: no decision
    {"id": "clean", "problem": "Compute $2+2$ and give the result."},        # no shared n-gram: rule
]


def scripted_judge(cfg):
    """LLM stand-in (prep.backend) for the decontamination prompt, keyed by a marker in the training problem."""
    def backend(prompt):
        training = prompt.split("Benchmark problem:")[0]
        if "yesmark" in training:
            return "Same question, same data.\nJudgement: yes"
        if "nomark" in training:
            return "Different question.\nJudgement: no"
        return "I cannot decide."
    return backend


@pytest.mark.slow
def test_decontaminate_methods_through_the_cli(tmp_path, monkeypatch):
    """ngram removes every candidate; rules_llm removes the verbatim copy by rule, asks the LLM about the
    others and holds (or keeps, marked) the row whose reply cannot be read."""
    repo = Path(__file__).resolve().parents[2]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.chdir(repo)
    data = tmp_path / "problems.jsonl"
    data.write_text("".join(json.dumps({**r, "data_source": "aops"}) + "\n" for r in DECONTAM_ROWS))

    def decontaminate(*extra):
        out = tmp_path / "out"
        assert main(["run", "experiment=quickstart", "pipeline.steps=[ingest,decontaminate]", f"paths.outputs={out}",
                     "tracking.wandb_mode=disabled", f"source.files=[{{path:{data},schema:canonical}}]",
                     f"prep.backend={__name__}:scripted_judge", *extra]) == 0
        found = sorted((out / "artifacts" / "decontaminate").iterdir(), key=lambda p: p.stat().st_mtime)
        d = found[-1]
        ids = {name: [r["id"] for r in read_jsonl(d / f"{name}.jsonl")] for name in ("problems", "removed", "undecided")}
        return ids, json.loads((d / "report.json").read_text()), d

    ids, rep, _ = decontaminate()
    assert ids == {"problems": ["clean"], "removed": ["copy", "same", "other", "garbled"], "undecided": []}
    assert rep["method"] == "ngram" and rep["by_decided_by"] == {"rule": 5} and rep["llm_replies"] == {}

    ids, rep, d = decontaminate("filters.decontam_method=rules_llm")
    assert ids == {"problems": ["other", "clean"], "removed": ["copy", "same"], "undecided": ["garbled"]}
    assert rep["by_decided_by"] == {"llm": 2, "none": 1, "rule": 2}
    assert rep["llm_replies"] == {"yes": 1, "no": 1, "unreadable": 1}
    assert rep["removed_by_benchmark_subset"] == {"aime25": 2}
    kept = {r["id"]: r["prep"]["decontam"] for r in read_jsonl(d / "problems.jsonl")}
    assert kept["other"]["decided_by"] == "llm" and kept["other"]["match"]["benchmark_id"] == "aime25-0"
    assert kept["other"]["reason"] == "llm: a different problem as benchmark aime25-0"

    ids, rep, d = decontaminate("filters.decontam_method=rules_llm", "prep.on_no_decision=keep")
    assert ids == {"problems": ["other", "garbled", "clean"], "removed": ["copy", "same"], "undecided": []}
    assert (rep["kept"], rep["undecided"], rep["by_reason"]["undecided"]) == (3, 0, 1)
    marked = {r["id"]: r["prep"]["decontam"]["decided_by"] for r in read_jsonl(d / "problems.jsonl")}
    assert marked["garbled"] == "none"
