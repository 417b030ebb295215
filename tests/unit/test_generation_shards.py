"""Resumable shards: torn-line repair, mid-file damage, done-by-rename, and a SIGKILL mid-shard."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from nmframe.generation import ShardError, ShardWriter
from nmframe.generation.shard_runner import record_key_of, sampling_seed, shard_of, summarize


def rec(pid, seed=0):
    return {"problem_id": pid, "mode": "high", "tir": False, "seed": seed, "text": "x" * 10}


def writer(tmp_path):
    return ShardWriter(tmp_path, "samples", record_key_of)


def test_append_resume_and_finish(tmp_path):
    w = writer(tmp_path)
    w.append(rec("a"))
    w.append(rec("b"))
    w.close()
    assert (tmp_path / "samples.partial.jsonl").exists() and not (tmp_path / "samples.jsonl").exists()
    w2 = writer(tmp_path)
    assert w2.resumed == 2 and ("a", "high", False, 0) in w2 and ("c", "high", False, 0) not in w2
    with pytest.raises(ShardError, match="already written"):
        w2.append(rec("a"))
    w2.append(rec("c"))
    final = w2.finish()
    assert final == tmp_path / "samples.jsonl" and not (tmp_path / "samples.partial.jsonl").exists()
    assert [json.loads(l)["problem_id"] for l in final.read_text().splitlines()] == ["a", "b", "c"]
    w3 = writer(tmp_path)
    assert w3.done and w3.resumed == 3
    with pytest.raises(ShardError, match="is finished"):
        w3.append(rec("d"))


def test_torn_last_line_is_truncated(tmp_path, caplog):
    w = writer(tmp_path)
    w.append(rec("a"))
    w.close()
    good = (tmp_path / "samples.partial.jsonl").read_bytes()
    with open(tmp_path / "samples.partial.jsonl", "ab") as f:
        f.write(b'{"problem_id": "b", "mode": "hi')
    w2 = writer(tmp_path)
    assert w2.resumed == 1 and w2.repaired_bytes == 31
    assert (tmp_path / "samples.partial.jsonl").read_bytes() == good
    assert "torn last line" in caplog.text


def test_complete_json_without_newline_is_also_torn(tmp_path):
    (tmp_path / "samples.partial.jsonl").write_text(json.dumps(rec("a")) + "\n" + json.dumps(rec("b")))
    w = writer(tmp_path)
    assert w.resumed == 1 and ("b", "high", False, 0) not in w


def test_bad_line_in_the_middle_names_file_and_line(tmp_path):
    path = tmp_path / "samples.partial.jsonl"
    path.write_text(json.dumps(rec("a")) + "\n" + "{not json\n" + json.dumps(rec("b")) + "\n")
    with pytest.raises(ShardError, match=r"samples\.partial\.jsonl:2: unreadable record"):
        writer(tmp_path)


def test_duplicate_records_on_disk_are_refused(tmp_path):
    (tmp_path / "samples.partial.jsonl").write_text((json.dumps(rec("a")) + "\n") * 2)
    with pytest.raises(ShardError, match="appears twice"):
        writer(tmp_path)


def test_shards_and_seeds_are_deterministic():
    ids = [f"p{i}" for i in range(200)]
    parts = [shard_of(i, 4) for i in ids]
    assert parts == [shard_of(i, 4) for i in ids] and set(parts) == {0, 1, 2, 3}
    assert shard_of("p0", 1) == 0
    assert sampling_seed("p1", "high", True, 0) == sampling_seed("p1", "high", True, 0)
    seeds = {sampling_seed("p1", m, t, s) for m in ("high", "low") for t in (True, False) for s in range(8)}
    assert len(seeds) == 32 and all(0 <= s < 2 ** 31 for s in seeds)


def test_summary_counts():
    base = {"length_limit": None, "sandbox": {"ok": 1, "error": 0, "timeout": 0, "killed": 0, "session_resets": 0},
            "num_tool_calls": 1, "final_answer": "1", "finished": True, "errors": [], "num_parse_issues": 0,
            "tokens": {"prompt": 10, "completion": 20, "teacher_completion": 30},
            "timings": {"model_s": 1.0, "tool_s": 0.5}, "problem_id": "p"}
    recs = [dict(base, finish_reason="stop"),
            dict(base, finish_reason="length", length_limit="max_tokens", final_answer=None, finished=False,
                 num_tool_calls=3, tokens={"prompt": 10, "completion": 40, "teacher_completion": None}),
            dict(base, finish_reason="error", errors=["boom"], num_tool_calls=0)]
    s = summarize(iter(recs))
    assert s["records"] == 3 and s["finish_reason"] == {"stop": 1, "length": 1, "error": 1}
    assert s["length_limit"] == {"max_tokens": 1} and s["with_final_answer"] == 2
    assert s["tool_calls"] == {"total": 4, "mean": 1.333, "max": 3, "samples_with_calls": 2}
    assert s["tokens_mean"] == {"prompt": 10.0, "completion": 26.667, "teacher_completion": 30.0}
    assert s["error_examples"] == ["p: boom"] and s["sandbox"]["ok"] == 3


DRIVER = textwrap.dedent('''
    """Generate a 12-problem shard with a slow scripted teacher; log every request."""
    import sys
    from nmframe.generation import LoopSettings, generate_shard, open_shard
    from nmframe.testing.scripted_backend import ScriptedBackend

    scratch, calls_log = sys.argv[1], sys.argv[2]
    final = "<|channel|>final<|message|>\\\\boxed{7}<|return|>"
    backend = ScriptedBackend([final], delay_s=0.15)
    orig = backend.complete

    def logged(requests):
        with open(calls_log, "a") as f:
            for r in requests:
                f.write(r.tag + "\\n")
        return orig(requests)

    backend.complete = logged
    problems = [{"id": f"q{i:02d}", "problem": f"What is {i}+7-{i}?", "expected_answer": "7"} for i in range(12)]
    writer = open_shard(scratch)
    stats = generate_shard(problems, mode="low", tir=False, seed=3, backend=backend,
                           settings=LoopSettings(max_tokens=100, count_teacher_tokens=False), writer=writer,
                           batch_size=1)
    print(stats)
''')


@pytest.mark.slow
def test_sigkill_mid_shard_then_resume_loses_and_repeats_nothing(tmp_path):
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    scratch = tmp_path / "scratch"
    partial = scratch / "samples.partial.jsonl"
    log1, log2 = tmp_path / "calls1.txt", tmp_path / "calls2.txt"
    proc = subprocess.Popen([sys.executable, str(driver), str(scratch), str(log1)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if partial.exists() and partial.read_text().count("\n") >= 4:
            break
        if proc.poll() is not None:
            pytest.fail(f"driver ended early: {proc.stdout.read().decode()}")
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (scratch / "samples.jsonl").exists()  # never marked done
    before = [json.loads(l)["problem_id"] for l in partial.read_text().splitlines() if l.endswith("}")]
    assert 4 <= len(before) < 12
    with open(partial, "a") as f:  # a write torn by the kill
        f.write('{"problem_id": "q11", "mode": "lo')

    out = subprocess.run([sys.executable, str(driver), str(scratch), str(log2)], capture_output=True, text=True,
                         timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "removed a torn last line" in out.stderr
    assert f"'resumed': {len(before)}" in out.stdout
    final = scratch / "samples.jsonl"
    assert final.exists() and not partial.exists()
    recs = [json.loads(l) for l in final.read_text().splitlines()]
    keys = [(r["problem_id"], r["mode"], r["tir"], r["seed"]) for r in recs]
    assert sorted(keys) == [(f"q{i:02d}", "low", False, 3) for i in range(12)]  # none lost, none twice
    assert all(r["final_answer"] == "7" for r in recs)
    second = [t.split("|")[0] for t in log2.read_text().split()]
    assert not set(second) & set(before)          # finished records were not generated again
    assert sorted(set(second) | set(before)) == [f"q{i:02d}" for i in range(12)]
    # a third run finds the shard done and calls the teacher not at all
    log3 = tmp_path / "calls3.txt"
    out = subprocess.run([sys.executable, str(driver), str(scratch), str(log3)], capture_output=True, text=True,
                         timeout=180)
    assert out.returncode == 0 and not log3.exists() and "'generated': 0" in out.stdout
