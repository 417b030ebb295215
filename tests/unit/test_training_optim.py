"""One LR schedule for every trainer: values, validation, and the rate each trainer applies."""
from __future__ import annotations

import math

import pytest
import torch

from nmframe.config import compose
from nmframe.config.checks import check_parallel_layout
from nmframe.config.compose import OverrideError
from nmframe.errors import ConfigError
from nmframe.training.optim import LrPlan, LrSchedule
from tests.helpers import make_data, make_stage


def test_constant_is_the_recipe_default_and_warmup_is_linear():
    plan = LrPlan.from_trainer(compose(["experiment=quickstart"]).trainer)
    assert plan.schedule is LrSchedule.constant and plan.warmup_steps == 0
    assert [plan.at(s) for s in (0, 5, 10_000)] == [plan.lr] * 3
    warm = LrPlan(lr=1.0, warmup_steps=4)
    assert [warm.at(s) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


def test_cosine_and_linear_decay_to_min_lr():
    cos = LrPlan(lr=1.0, schedule="cosine", min_lr=0.1, decay_steps=10)
    assert cos.at(0) == 1.0 and cos.at(5) == pytest.approx(0.55) and cos.at(10) == pytest.approx(0.1)
    assert cos.at(3) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.3)))
    assert cos.at(50) == pytest.approx(0.1)
    lin = LrPlan(lr=2.0, schedule=LrSchedule.linear, warmup_steps=2, decay_steps=6)
    assert [lin.at(s) for s in range(8)] == pytest.approx([1.0, 2.0, 2.0, 1.5, 1.0, 0.5, 0.0, 0.0])


def test_unknown_schedule_is_one_line_naming_the_allowed_ones():
    with pytest.raises(OverrideError) as err:
        compose(["experiment=quickstart", "trainer.lr_schedule=bogus"])
    assert str(err.value) == "trainer.lr_schedule: Invalid value 'bogus', expected one of [constant, cosine, linear]"
    with pytest.raises(ConfigError, match=r"trainer.lr_schedule='bogus': unknown LR schedule \(allowed: constant, cosine, linear\)"):
        LrPlan(lr=1.0, schedule="bogus")


def test_a_decay_needs_its_span():
    with pytest.raises(ConfigError, match="trainer.lr_decay_steps=None: lr_schedule=cosine decays over"):
        compose(["experiment=quickstart", "trainer.lr_schedule=cosine"])
    with pytest.raises(ConfigError, match=r"trainer.min_lr=0.5: must be in \[0, trainer.lr=0.1\]"):
        LrPlan(lr=0.1, schedule="linear", min_lr=0.5, decay_steps=3)
    cfg = compose(["experiment=quickstart", "trainer.lr_schedule=cosine", "trainer.lr_decay_steps=100"])
    assert LrPlan.from_trainer(cfg.trainer).decay_steps == 100


def test_torch_trainer_applies_the_schedule(tmp_path):
    from nmframe.training.torch_trainer import TorchTrainer

    cfg = compose(["trainer.lr=1e-3", "trainer.global_batch_size=4", "trainer.lr_schedule=cosine",
                   "trainer.lr_decay_steps=4", "trainer.min_lr=1e-4"])
    seen = []
    stage = make_stage(tmp_path, make_data(tmp_path, n=8), 512, "a", 0, epochs=2.0, on_step=seen.append)
    TorchTrainer().train_stage(stage, None, tmp_path / "ck", check_parallel_layout(cfg, "ctx512"), cfg)
    plan = LrPlan.from_trainer(cfg.trainer)
    assert [m["lr"] for m in seen] == pytest.approx([plan.at(s) for s in range(4)])
    assert seen[0]["lr"] == pytest.approx(1e-3) and seen[-1]["lr"] < seen[0]["lr"]
    state = torch.load(tmp_path / "ck" / "trainer_state.pt", weights_only=False)
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(plan.at(3))
