"""Named pretraining recipes for the sandbox (measured behaviour: docs/sandbox.md, docs/LOG.md).

All use p = 7, two targets, difficulties 1..8, compact prompts (no ``_`` filler: 1.3x fewer tokens
per step than the fixed 69-token layout, and better accuracy at 2-3 operations, LOG 2026-12-03), the
solution mix of the issue (60% one-operation steps, 25% two-operation steps, 15% bare answers; steps
in prompt order 80%, depth-first 15%, random valid order 5%) and 25% arithmetic-drill rows.

* ``tiny`` - the *base* model of the demo: 0.65M parameters, easy-weighted difficulty mix,
  1,200 steps x 32 rows (~2.9M tokens; 226 s measured alone on 2 cores).
* ``teacher`` - for distillation: one more layer (0.86M) and 2,000 steps on the same mix (421 s
  measured alone on 2 cores). A uniform difficulty mix left it on its loss plateau past step 1,200.
* ``toy`` - a few-second recipe for tests (1-3 operations, p = 5, a 22k-parameter model).
"""

from __future__ import annotations

from rlbound.errors import InputError
from rlbound.sandbox.model import ModelSpec
from rlbound.sandbox.pretrain import PretrainConfig
from rlbound.sandbox.tasks import TaskConfig

# The demo's task: difficulties 1..8 (prompts up to 69 tokens, no filler), mostly the "eq" surface form.
BASE_TASK = TaskConfig(
    max_ops=8,
    contexts=(("eq", 0.8), ("word", 0.2), ("rev", 0.0)),
    train_difficulty=((1, 3.0), (2, 3.0), (3, 2.0), (4, 2.0), (5, 1.0), (6, 1.0), (7, 1.0), (8, 1.0)),
    test_difficulty=((2, 1.0), (3, 1.0), (4, 2.0), (5, 2.0), (6, 2.0), (7, 2.0), (8, 2.0)),
    layout="compact",
)

PRESETS: dict[str, PretrainConfig] = {
    "tiny": PretrainConfig(
        name="tiny",
        task=BASE_TASK,
        model=ModelSpec(hidden_size=128, num_layers=3, num_heads=4, intermediate_size=384, max_positions=160),
        steps=1200, batch_size=32, lr=1e-3, warmup_steps=60, seed=0, drill_fraction=0.25,
    ),
    "teacher": PretrainConfig(
        name="teacher",
        task=BASE_TASK,
        model=ModelSpec(hidden_size=128, num_layers=4, num_heads=4, intermediate_size=384, max_positions=160),
        steps=2000, batch_size=32, lr=1e-3, warmup_steps=60, seed=1, drill_fraction=0.25,
    ),
    "toy": PretrainConfig(
        name="toy",
        task=TaskConfig(modulus=5, max_ops=3, max_leaves=3, min_leaves=3, max_targets=1,
                        train_difficulty=((1, 1.0), (2, 1.0), (3, 1.0)), test_difficulty=((1, 1.0), (3, 1.0))),
        model=ModelSpec(hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64, max_positions=96),
        steps=60, batch_size=16, lr=1e-2, warmup_steps=5, seed=0, pool_batches=4, checkpoint_every_s=5.0,
    ),
}


def get_preset(name: str) -> PretrainConfig:
    """The recipe called ``name`` (``tiny``, ``teacher``, ``toy``)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise InputError(f"unknown preset {name!r}; known: {', '.join(sorted(PRESETS))}", field="preset") from None
