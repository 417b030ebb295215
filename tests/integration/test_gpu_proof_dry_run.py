"""`bash bench/gpu_proof.sh --dry-run` on a CPU: every part prepared, the GPU work named and skipped."""
import subprocess

import pytest

from tests.helpers import REPO


@pytest.mark.slow
def test_gpu_proof_dry_run(tmp_path):
    proc = subprocess.run(["bash", str(REPO / "bench" / "gpu_proof.sh"), "--dry-run", "--workdir", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    rows = {ln.split("  ")[0]: ln for ln in lines if "would run:" in ln}
    assert sorted(rows) == ["quickstart gpu", "te dense bf16 vs fp8", "te moe bf16 vs fp8", "vllm overhead"]
    assert all(" skipped " in ln for ln in rows.values())
    assert "--child te_moe" in rows["te moe bf16 vs fp8"] and "--child vllm" in rows["vllm overhead"]
    assert "nmframe.cli run experiment=quickstart" in rows["quickstart gpu"]
    assert "teacher.backend=vllm" in rows["quickstart gpu"] and "trainer=megatron" in rows["quickstart gpu"]
    out = proc.stdout
    assert "TransformerConfig: 4 layers, hidden 1024, experts 8" in out      # the MoE student's config
    assert "step 0: 4 THD bins, 8 samples" in out                           # packed THD batches
    assert "plan: 10 tasks" in out                                          # the quickstart DAG on GPUs
    assert "0 ok, 0 failed, 4 skipped" in out
    assert (tmp_path / "teacher" / "config.json").exists() and (tmp_path / "spec.json").exists()
