"""Packed training on a tiny Qwen3 gives the same loss and gradients as unpacked samples."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from nmframe.packing import packed_batch  # noqa: E402
from nmframe.packing.hf_packed import packed_loss, padded_loss, sample_loss  # noqa: E402

# Building the first transformers model costs a few seconds of lazy imports.
pytestmark = pytest.mark.slow

LENGTHS = (5, 17, 9, 30, 1)


def tiny_qwen3(attn: str, dtype=torch.float64):
    cfg = transformers.Qwen3Config(
        vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=8,
    )
    cfg._attn_implementation = attn
    torch.manual_seed(0)
    return transformers.Qwen3ForCausalLM(cfg).to(dtype)


def samples_and_masks():
    g = torch.Generator().manual_seed(1)
    samples = [torch.randint(1, 128, (n,), generator=g).tolist() for n in LENGTHS]
    masks = [[1] * n for n in LENGTHS]
    masks[1][:6] = [0] * 6  # a prompt that is not trained on
    masks[3][:3] = [0] * 3
    return samples, masks


def grads(model):
    return [p.grad.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
@pytest.mark.parametrize("mode", ["mask", "position_ids"])
def test_packed_loss_and_grads_equal_unpacked(attn, mode):
    model = tiny_qwen3(attn)
    samples, masks = samples_and_masks()

    model.zero_grad()
    ref_loss, ref_n = 0.0, 0
    for s, m in zip(samples, masks):
        loss, n = sample_loss(model, s, m)
        loss.backward()
        ref_loss += loss.item()
        ref_n += n
    ref_grads = grads(model)

    model.zero_grad()
    pb = packed_batch(samples, masks, pad_multiple=16)
    assert pb.length == 64 and pb.pad_len == 2
    loss, n = packed_loss(model, pb, mode=mode)
    loss.backward()

    # targets = mask[1:] per sample: 4 + (17 - 6) + 8 + (30 - 3) + 0
    expected_n = sum(int(np.sum(m[1:])) for m in masks)
    assert n == ref_n == expected_n == 50
    assert loss.item() == pytest.approx(ref_loss, abs=1e-5)
    for g_packed, g_ref in zip(grads(model), ref_grads):
        torch.testing.assert_close(g_packed, g_ref, atol=1e-6, rtol=1e-5)


def test_naive_packing_differs():
    """Without restarts/masks the samples leak into each other: the loss changes."""
    model = tiny_qwen3("sdpa")
    samples, masks = samples_and_masks()
    pb = packed_batch(samples, masks, pad_multiple=16)
    ref = sum(sample_loss(model, s, m)[0].item() for s, m in zip(samples, masks))
    t = pb.to_torch()
    logits = model(input_ids=t["input_ids"], use_cache=False).logits  # plain causal, running positions
    leaked = torch.nn.functional.cross_entropy(
        logits[0], t["shift_labels"][0], ignore_index=-100, reduction="sum"
    ).item()
    assert abs(leaked - ref) > 1e-3


def test_padded_batch_matches_too():
    model = tiny_qwen3("sdpa")
    samples, masks = samples_and_masks()
    ref = sum(sample_loss(model, s, m)[0].item() for s, m in zip(samples, masks))
    loss, n = padded_loss(model, samples, masks, pad_to=32)
    assert n == 50
    assert loss.item() == pytest.approx(ref, abs=1e-5)


def test_float32_within_tolerance():
    model = tiny_qwen3("sdpa", dtype=torch.float32)
    samples, masks = samples_and_masks()
    ref = sum(sample_loss(model, s, m)[0].item() for s, m in zip(samples, masks))
    loss, _ = packed_loss(model, packed_batch(samples, masks, pad_multiple=16))
    assert loss.item() == pytest.approx(ref, abs=1e-4)


def test_several_packed_sequences_in_one_batch():
    model = tiny_qwen3("sdpa")
    samples, masks = samples_and_masks()
    ref = sum(sample_loss(model, s, m)[0].item() for s, m in zip(samples, masks))
    bins = [[0, 1], [2, 3, 4]]
    pbs = [packed_batch([samples[i] for i in b], [masks[i] for i in b], pad_multiple=48) for b in bins]
    assert [p.length for p in pbs] == [48, 48]
    for mode in ("mask", "position_ids"):
        loss, n = packed_loss(model, pbs, mode=mode)
        assert n == 50
        assert loss.item() == pytest.approx(ref, abs=1e-5)
    with pytest.raises(ValueError, match="differ in length"):
        packed_loss(model, [pbs[0], packed_batch(samples[:1], pad_multiple=16)])
