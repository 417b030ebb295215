"""The tiny gpt-oss teacher: gpt-oss architecture, o200k vocabulary, and fitted to call Python."""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_dir():
    from nmframe.models.tiny_gpt_oss import tiny_gpt_oss_dir

    return tiny_gpt_oss_dir()


def test_folder_is_a_bf16_gpt_oss_with_the_harmony_tokenizer(model_dir):
    cfg = json.loads((model_dir / "config.json").read_text())
    assert cfg["architectures"] == ["GptOssForCausalLM"] and cfg["head_dim"] == 64
    assert (cfg["num_local_experts"], cfg["num_experts_per_tok"]) == (4, 2)
    assert cfg["layer_types"] == ["sliding_attention", "full_attention"]
    assert cfg["vocab_size"] == 201088 and cfg["dtype"] == "bfloat16"
    gen = json.loads((model_dir / "generation_config.json").read_text())
    assert gen["eos_token_id"] == [200002, 199999, 200012]  # <|return|>, <|endoftext|>, <|call|>
    build = json.loads((model_dir / "nmframe_build.json").read_text())
    assert build["loss_last"] < build["loss_first"] / 4


def test_greedy_continuation_of_a_tool_prompt_calls_python(model_dir):
    import torch
    import transformers

    from nmframe.harmony import render_problem_prompt
    from nmframe.harmony.protocol import CODE_START
    from nmframe.models.o200k import load_o200k_tokenizer

    tok = load_o200k_tokenizer()
    model = transformers.GptOssForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    prompt = render_problem_prompt("What is $17 + 25$?", "high", with_python_tool=True)
    ids = tok.encode(prompt, add_special_tokens=False)
    with torch.no_grad():
        for _ in range(24):
            ids.append(int(model(input_ids=torch.tensor([ids])).logits[0, -1].argmax()))
    text = tok.decode(ids, skip_special_tokens=False)[len(prompt):]
    assert CODE_START in text, text
