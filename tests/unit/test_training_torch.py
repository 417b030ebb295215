"""The torch trainer: packed bins train exactly like the samples unpacked; checkpoints pass from
stage to stage; a killed stage resumes to the same losses."""
import numpy as np
import pytest
import torch

from nmframe.config import compose
from nmframe.config.checks import check_parallel_layout
from nmframe.models.tiny import build_tiny_model, build_tiny_tokenizer
from nmframe.packing.hf_packed import sample_loss
from nmframe.training.batches import step_batches
from nmframe.training.torch_trainer import TorchTrainer, build_optimizer, train_step
from tests.helpers import make_data, make_stage


@pytest.fixture()
def cfg():
    return compose(["trainer.lr=1e-3", "trainer.global_batch_size=4"])


def test_packed_step_matches_unpacked_loss_and_gradients(tmp_path, cfg):
    data = make_data(tmp_path)
    sd = make_stage(tmp_path, data, 512, "s", 0)
    from nmframe.sft.stages import Schedule

    batches = step_batches(data, Schedule.load(sd.pack_dir), 0, sd)
    assert batches.samples == 4 and len(batches.per_rank[0]) < 4  # several samples share a bin
    tok = build_tiny_tokenizer(512)
    m1 = build_tiny_model(cfg.model, seed=0, tokenizer=tok)
    m2 = build_tiny_model(cfg.model, seed=0, tokenizer=tok)
    packed = train_step(m1, build_optimizer(m1, cfg.trainer), batches, cfg.trainer, 0)
    # the same samples one by one, loss summed and divided by the same target count
    from nmframe.sft.stages import Schedule as S

    ids = np.concatenate(S.load(sd.pack_dir).step_bins(0))
    total, n = 0.0, 0
    for i in ids:
        x, msk = data.sample(int(i))
        loss, k = sample_loss(m2, x, msk)
        total, n = total + loss, n + k
    (total / n).backward()
    assert n == batches.target_tokens
    assert packed == pytest.approx(float(total / n), rel=1e-5)
    # gradients: m1's were applied and zeroed, so recompute m1's on the packed batch from scratch
    m3 = build_tiny_model(cfg.model, seed=0, tokenizer=tok)
    from nmframe.packing.hf_packed import packed_loss

    for b in batches.per_rank[0]:
        ls, _ = packed_loss(m3, b)
        (ls / n).backward()
    for (name, p2), p3 in zip(m2.named_parameters(), m3.parameters()):
        assert torch.allclose(p2.grad, p3.grad, atol=1e-6, rtol=1e-4), name


@pytest.mark.slow
def test_two_stages_through_checkpoints_and_resume_after_kill(tmp_path, cfg):
    data = make_data(tmp_path, n=16)
    layout = check_parallel_layout(cfg, "ctx512")
    trainer = TorchTrainer()
    cfg.trainer.lr = 3e-3
    s1 = make_stage(tmp_path, data, 512, "a", 0, epochs=3.0)
    r1 = trainer.train_stage(s1, None, tmp_path / "ck1", layout, cfg)
    assert r1.steps == 12 and np.mean(r1.losses[-4:]) < np.mean(r1.losses[:4]) - 0.05
    s2 = make_stage(tmp_path, data, 1024, "b", 1, seed=1)
    r2 = trainer.train_stage(s2, tmp_path / "ck1", tmp_path / "ck2", layout, cfg)
    assert r2.extra["global_step"] == 16
    assert np.mean(r2.losses) < np.mean(r1.losses[:4]) - 0.05  # it starts from the trained weights

    # kill stage b after its 3rd step (a mid-stage checkpoint every 2 steps), then rerun it
    class Killed(Exception):
        pass

    def kill(m):
        if m["step"] == 2:
            raise Killed

    s3 = make_stage(tmp_path, data, 1024, "c", 1, seed=1, scratch_dir=tmp_path / "scratch", checkpoint_every=2,
                    on_step=kill)
    with pytest.raises(Killed):
        trainer.train_stage(s3, tmp_path / "ck1", tmp_path / "ck3", layout, cfg)
    assert (tmp_path / "scratch" / "checkpoint" / "trainer_state.pt").exists()
    s3.on_step = None
    r3 = trainer.train_stage(s3, tmp_path / "ck1", tmp_path / "ck3", layout, cfg)
    assert r3.resumed_from_step == 2
    assert r3.losses == pytest.approx(r2.losses, rel=1e-6)
    assert not (tmp_path / "scratch" / "checkpoint").exists()
