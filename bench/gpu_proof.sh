#!/usr/bin/env bash
# GPU proof for one H100/H200, under 8 minutes, nothing downloaded: Transformer Engine bf16 vs FP8
# (dense and MoE students, packed THD bins), the vLLM backend vs raw vllm.LLM.generate, and the
# quickstart's generate + train_stage on the GPU. Prints one table; exits 1 if any part fails.
#
#   bash bench/gpu_proof.sh             # on the GPU machine (pip install -e '.[gpu]')
#   bash bench/gpu_proof.sh --dry-run   # anywhere: the CPU preparation, and the commands it would run
#   bash bench/gpu_proof.sh --help      # options (--only, --fp8-recipe, --max-overhead, ...)
#
# See bench/gpu_proof.py for what each part measures and when it fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# the driver keeps its own 470 s budget; this is the backstop for a hung child
exec timeout --kill-after=15 480 "$PYTHON" bench/gpu_proof.py "$@"
