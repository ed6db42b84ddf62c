"""Scoring throughput of the ``hf`` backend: continuations sharing their prompt's cache vs one forward
pass per whole prompt + continuation (``HFBackend.score`` vs ``HFBackend.score_full``), same run.

Shape of the sandbox study's perplexity stage (Yue et al. 2025, Sec. 4.1: RL responses scored under
the base model): the random-initialised 0.65M-parameter Llama of ``bench/sample_cpu.py``, ``--prompts``
distinct 69-token prompts, ``--per-prompt`` continuations each (8-40 tokens, seeded). Reports the
best of ``--repeats`` for both paths, the ratio, and the largest difference in per-token log-prob.

    .venv/bin/python bench/score_cpu.py [--threads 2] [--prompts 8] [--per-prompt 256]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import time_call  # noqa: E402
from sample_cpu import build_model  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--per-prompt", type=int, default=256)
    ap.add_argument("--prompt-len", type=int, default=69)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()

    import numpy as np
    import torch

    torch.set_num_threads(a.threads)
    from rlbound.backends.hf import HFBackend, HFOptions

    with tempfile.TemporaryDirectory() as tmp:
        build_model(Path(tmp), 128, 3, 384)
        backend = HFBackend(tmp, HFOptions(device="cpu", batch_size=1024, threads=a.threads))
    chars = "0123456789+-*="
    rng = random.Random(0)
    prompts, conts = [], []
    for i in range(a.prompts):
        prompt = "".join(chars[(i * 7 + j * 3) % len(chars)] for j in range(a.prompt_len - 1))
        for _ in range(a.per_prompt):
            prompts.append(prompt)
            conts.append("".join(rng.choice(chars) for _ in range(rng.randint(8, 40))))
    shared_s, shared = time_call(backend.score, prompts, conts, repeat=a.repeats)
    full_s, full = time_call(backend.score_full, prompts, conts, repeat=a.repeats)
    diff = max(float(np.max(np.abs(x - y))) for x, y in zip(shared, full) if len(x))
    n = len(conts)
    print(f"score_cpu: {n} continuations ({a.prompts} prompts x {a.per_prompt}), {a.prompt_len}-token prompts, "
          f"{a.threads} thread(s): shared prompt cache {n / shared_s:,.0f}/s, one forward per sequence "
          f"{n / full_s:,.0f}/s, ratio {full_s / shared_s:.2f}x; max |difference| {diff:.1e} nats per token")


if __name__ == "__main__":
    main()
