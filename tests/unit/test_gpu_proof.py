"""bench/gpu_proof.py's verdicts on what the GPU parts measured, and its exit status when a part fails.

The GPU parts themselves run only on a GPU machine; these check, on made-up measurements, that a
failure is reported as one (the proof must never print ok for a broken part).
"""
import importlib.util
import sys

import pytest

from tests.helpers import REPO


@pytest.fixture(scope="module")
def proof():
    spec = importlib.util.spec_from_file_location("gpu_proof", REPO / "bench" / "gpu_proof.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["gpu_proof"] = mod      # its dataclasses resolve annotations through sys.modules
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.modules.pop("gpu_proof", None)


def te_run(proof, losses, step_s, te=True):
    return {"losses": losses, "step_times": [step_s] * proof.STEPS, "tokens": 1000 * proof.STEPS,
            "transformer_engine": te, "fp8_recipe": None}


def test_te_verdict(proof):
    bf16 = [10.0 - 0.1 * i for i in range(proof.STEPS)]
    ok, msg = proof.judge_te({"bf16": te_run(proof, bf16, 0.2), "fp8": te_run(proof, [x * 1.01 for x in bf16], 0.1)},
                             fp8_loss_tol=0.02)
    assert ok and "fp8 speed-up 2.00x, loss gap 1.00%" in msg and "bf16 200 ms/step" in msg
    ok, msg = proof.judge_te({"bf16": te_run(proof, bf16, 0.2), "fp8": te_run(proof, [x * 1.05 for x in bf16], 0.1)},
                             fp8_loss_tol=0.02)
    assert not ok and "fp8 loss 5.00% from bf16 (tolerance 2.0%)" in msg
    ok, msg = proof.judge_te({"bf16": te_run(proof, bf16, 0.2, te=False), "fp8": te_run(proof, bf16, 0.1)}, 0.02)
    assert not ok and "bf16: ran without Transformer Engine" in msg
    ok, msg = proof.judge_te({"bf16": te_run(proof, bf16[:-1] + [float("nan")], 0.2), "fp8": te_run(proof, bf16, 0.1)},
                             0.02)
    assert not ok and "bf16: losses" in msg


def test_vllm_overhead_verdict(proof):
    ok, msg = proof.judge_vllm({"raw": [(1000, 1.0), (1000, 0.5)], "backend": [(1000, 0.52), (1000, 0.6)]}, 0.05)
    assert ok and "raw LLM.generate 2,000 tok/s, backend 1,923 tok/s, overhead +3.8%" in msg
    ok, msg = proof.judge_vllm({"raw": [(1000, 0.5)], "backend": [(1000, 0.55)]}, 0.05)
    assert not ok and "overhead +9.1% (goal < 5%)" in msg


def test_quickstart_verdict(proof, tmp_path):
    import json

    out = tmp_path / "outputs" / "artifacts"
    for i, te in enumerate([True, False]):
        (out / "train_stage" / f"s{i}").mkdir(parents=True)
        (out / "train_stage" / f"s{i}" / "losses.json").write_text(json.dumps({"losses": [5.0], "transformer_engine": te}))
    ok, msg = proof.judge_quickstart(tmp_path / "outputs")
    assert not ok and "s1: trained without Transformer Engine" in msg and "the vLLM teacher wrote no samples" in msg


def test_a_failed_part_fails_the_proof(proof, tmp_path, monkeypatch, capsys):
    def broken(path):
        raise OSError("disk full")

    monkeypatch.setattr(proof, "write_teacher", broken)
    assert proof.main(["--dry-run", "--only", "vllm", "--workdir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "teacher model" in out and "OSError: disk full" in out and "FAILED: teacher model, vllm overhead" in out


def test_unknown_part_is_one_clear_line(proof, capsys):
    assert proof.main(["--dry-run", "--only", "te,nope"]) == 2
    assert capsys.readouterr().err.strip() == "gpu_proof: --only nope: unknown part (allowed: te, vllm, quickstart)"
