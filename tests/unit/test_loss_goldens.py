"""Loss goldens: the tiny torch and megatron trainers' first losses on a fixed packed schedule.

Any change to the model, the packing, the loss normalisation, the optimizer or the learning-rate
schedule moves these numbers; the packed-vs-unpacked tests prove the losses are right, these pin
them so that a change cannot pass unnoticed. After an intended change, NMFRAME_UPDATE_GOLDEN=1
rewrites the golden files (and fails); review the diff and rerun without the flag.
"""
import json
from pathlib import Path

import numpy as np
import pytest

from nmframe.config import compose
from nmframe.config.checks import check_parallel_layout
from tests.helpers import make_data, make_stage, megatron_cpu_cfg, rewrite_golden_and_fail, updating_golden

GOLDEN = Path(__file__).parent / "golden"
STEPS = 6     # 12 samples, 4 per step, 2 epochs, bins of 256 tokens
REL = 1e-5    # relative tolerance per loss: float32 on CPU, summation order may differ between machines


def _check_losses(path: Path, losses: list[float], setup: str) -> None:
    assert len(losses) == STEPS and np.isfinite(losses).all(), losses
    if updating_golden():
        rewrite_golden_and_fail(path, json.dumps({"setup": setup, "rel_tolerance": REL, "losses": losses}, indent=1)
                                + "\n")
    assert path.exists(), f"missing golden {path}; create it with NMFRAME_UPDATE_GOLDEN=1 and review it"
    golden = json.loads(path.read_text())["losses"]
    assert losses == pytest.approx(golden, rel=REL), f"{path.name}: losses moved from the golden values"


def _stage(tmp_path):
    data = make_data(tmp_path, n=12, seed=0)
    return make_stage(tmp_path, data, 256, "golden", 0, gbs=4, epochs=2.0, seed=0)


@pytest.mark.slow
def test_tiny_torch_trainer_losses(tmp_path):
    cfg = compose(["trainer.lr=3e-3", "trainer.global_batch_size=4"])
    from nmframe.training.torch_trainer import TorchTrainer

    result = TorchTrainer().train_stage(_stage(tmp_path), None, tmp_path / "ck",
                                        check_parallel_layout(cfg, "ctx512"), cfg)
    _check_losses(GOLDEN / "losses_torch.json", result.losses,
                  "torch trainer, tiny model (seed 0), make_data(n=12, seed=0), bins of 256, gbs 4, lr 3e-3")


@pytest.mark.slow
def test_tiny_megatron_trainer_losses(tmp_path, megatron_cpu):
    cfg = megatron_cpu_cfg()
    from nmframe.training.megatron_trainer import MegatronTrainer

    result = MegatronTrainer().train_stage(_stage(tmp_path), None, tmp_path / "ck",
                                           check_parallel_layout(cfg, "ctx512"), cfg)
    assert result.extra["transformer_engine"] is False
    _check_losses(GOLDEN / "losses_megatron.json", result.losses,
                  "megatron trainer on CPU (gloo, 1 rank, fp32, local spec), make_data(n=12, seed=0), "
                  "bins of 256, gbs 4, lr 3e-3")
