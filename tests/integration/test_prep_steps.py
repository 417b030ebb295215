"""The preparation steps through the CLI on CPU: raw StackExchange / AoPS dumps -> problems with
answers, classified and decontaminated, with the tiny `hf` teacher as the LLM (its replies are
noise, so the uncertain rows must end as counted "no decision", never as labels)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from nmframe.cli import main
from nmframe.datafiles import read_jsonl
from tests.helpers import write_dump

STEPS = "pipeline.steps=[extract_problems,extract_answers,prep_classify,prep_decontaminate]"


def artifact(out: Path, step: str) -> Path:
    found = [p for p in (out / "artifacts" / step).iterdir() if (p / "manifest.json").exists()]
    assert len(found) == 1, found
    return found[0]


def run(tmp_path, *extra):
    return main(["run", STEPS, "tracking.wandb_mode=disabled", f"paths.outputs={tmp_path / 'out'}",
                 "teacher=tiny", "prep.max_tokens=8", "prep.batch_size=4", *extra])


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

    cls = artifact(out, "prep_classify")
    crep = json.loads((cls / "report.json").read_text())
    assert crep["kept"] + crep["removed"] + crep["undecided"] == len(ans)
    dec = artifact(out, "prep_decontaminate")
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
