"""Local folders for `builtin:` model names, for engines that load a model from a directory.

Why: vLLM (offline or as a server) takes a model folder, while configs name the locally built
tiny models as `builtin:<name>`. Only builtins that vLLM can run on a CPU resolve here: the tiny
Qwen3 teacher `builtin:tiny` has head_dim 16, which vLLM's CPU attention refuses.
"""
from __future__ import annotations

from nmframe.models.tiny_gpt_oss import BUILTIN_NAME as TINY_GPT_OSS

ENGINE_BUILTINS = (TINY_GPT_OSS,)


def engine_model_dir(model: str) -> str:
    """`model` itself, or the cached local folder of an engine-ready builtin (built on first use)."""
    if not model.startswith("builtin:"):
        return model
    if model == TINY_GPT_OSS:
        from nmframe.models.tiny_gpt_oss import tiny_gpt_oss_dir

        return str(tiny_gpt_oss_dir())
    raise ValueError(f"model {model!r} cannot be served by vLLM; builtin models it can serve: "
                     + ", ".join(ENGINE_BUILTINS) + " (builtin:tiny runs with teacher.backend=hf)")
