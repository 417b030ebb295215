"""A judge backend for judged benchmarks: an OpenAI-compatible chat endpoint.

``evaluate.judge: nmframe.evaluation.judge:chat_endpoint`` with ``evaluate.judge_endpoint``
(e.g. a ``vllm serve Qwen/Qwen2.5-32B-Instruct`` at http://host:8000/v1) and
``evaluate.judge_model``. The callable returns the reply text; a failed call raises, which the
benchmark counts as "no judgement" (ungraded), never as a wrong answer.
"""
from __future__ import annotations

import json
import os
import time
import urllib.request


def chat_endpoint(cfg):
    ev = cfg.evaluate
    if not ev.judge_endpoint:
        raise ValueError("evaluate.judge=nmframe.evaluation.judge:chat_endpoint needs evaluate.judge_endpoint "
                         "(an OpenAI-compatible base URL such as http://host:8000/v1)")
    url = str(ev.judge_endpoint).rstrip("/") + "/chat/completions"
    model = str(ev.judge_model)
    key = os.environ.get("NMFRAME_JUDGE_API_KEY", "EMPTY")

    def judge(prompt: str) -> str:
        body = json.dumps({"model": model, "messages": [{"role": "user", "content": prompt}],
                           "temperature": 0.0, "max_tokens": 2048}).encode()
        last = None
        for attempt in range(3):
            req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json",
                                                                  "Authorization": f"Bearer {key}"})
            try:
                with urllib.request.urlopen(req, timeout=600) as resp:
                    return json.loads(resp.read())["choices"][0]["message"]["content"]
            except Exception as exc:  # noqa: BLE001 - retried, then raised (counted as ungraded)
                last = exc
                time.sleep(2 ** attempt)
        raise RuntimeError(f"judge endpoint {url} failed: {last}")

    return judge
