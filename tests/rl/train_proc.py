"""Test helpers for the RL trainer and distillation, and a real training process for the kill -9 test.

``make_model(dir, seed)`` saves a random-initialised sandbox Llama (2 layers, width 32) with the
sandbox tokenizer of the sandbox's small test task (``TOY_TASK``, the ``toy`` preset's) and a
``sandbox_model.json`` naming that task, so the trainer draws toy problems. A random model almost
never solves a problem, so the tests reward something it does by chance: ``digit_reward`` (the
response starts with a digit) gives groups with mixed rewards, hence non-zero GRPO advantages.

As a script (``python tests/rl/train_proc.py MODEL OUT --steps N [--delay S] [--algo A]``) it
runs ``rlbound.rl.trainer.train`` with ``digit_reward``; ``--delay`` sleeps in every reward call
so that a test can SIGKILL it mid-run. The test files load this module by path.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rlbound.toy.presets import get_recipe

TOY_TASK = get_recipe("toy").task  # the sandbox's small test task


def make_model(path: str | Path, seed: int = 0, hidden: int = 32, layers: int = 2) -> Path:
    """Save a random tiny sandbox model + tokenizer (+ task recipe) under ``path``; returns it."""
    from rlbound.toy.model import ModelSpec, build_model
    from rlbound.toy.tokenizer import build_tokenizer
    path = Path(path)
    tok = build_tokenizer(TOY_TASK)
    model = build_model(ModelSpec(hidden_size=hidden, num_layers=layers, num_heads=2, intermediate_size=2 * hidden,
                                  max_positions=96), tok, seed=seed)
    model.save_pretrained(str(path))
    tok.save_pretrained(str(path))
    (path / "sandbox_model.json").write_text(json.dumps({"kind": "rlbound-test-model",
                                                         "recipe": {"task": TOY_TASK.to_dict()}}))
    return path


def digit_reward(problem, text: str) -> float:  # noqa: ANN001 - (Problem, str) -> float
    """1.0 when the response starts with a digit: about a quarter of a random model's responses."""
    return 1.0 if text[:1].isdigit() else 0.0


def main() -> None:
    from rlbound.rl.trainer import TrainConfig, train

    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--save-every", type=int, default=1)
    ap.add_argument("--algo", default="grpo")
    ap.add_argument("--delay", type=float, default=0.0)
    a = ap.parse_args()

    def reward(problem, text: str) -> float:  # noqa: ANN001
        if a.delay:
            time.sleep(a.delay)
        return digit_reward(problem, text)

    cfg = TrainConfig(model=a.model, out=a.out, algo=a.algo, steps=a.steps, save_every=a.save_every,
                      prompts_per_step=2, rollouts=4, max_new_tokens=6, kl=0.05, lr=1e-2, seed=3, threads=1)
    train(cfg, progress=False, reward_fn=reward)


if __name__ == "__main__":
    main()
