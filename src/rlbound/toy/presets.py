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

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rlbound.errors import InputError
from rlbound.toy.model import ModelSpec
from rlbound.toy.tasks import TaskConfig, prompt_width


@dataclass(frozen=True)
class PretrainConfig:
    """A complete pretraining recipe: data mix, model, optimiser, schedule, seed.

    Attributes:
        name: label written into the manifest (the preset name).
        task: problem distribution and pretraining data mix.
        model: model dimensions.
        steps: optimiser steps.
        batch_size: sequences per step.
        lr / min_lr_ratio / warmup_steps: peak learning rate, cosine floor (fraction of lr),
            linear warmup length.
        weight_decay, beta1, beta2: AdamW (decay on matrices only).
        grad_clip: max global gradient norm.
        seed: initialisation and data seed.
        dtype: "float32" or "bfloat16" (autocast).
        pool_batches: batches cut from one length-sorted pool of examples.
        checkpoint_every_s: seconds between checkpoints (does not change the result).
        compile: wrap the model in ``torch.compile`` (does not change the recipe's maths).
        drill_fraction: share of rows that are arithmetic drills, ``x op y=z;`` facts back to
            back with the loss on each ``z`` (``drill_len`` tokens long). The tiny models learn
            the problems' structure long before their arithmetic; drills teach the 3*p*p-entry
            table with ~16 facts per row instead of ~3.
    """

    name: str
    task: TaskConfig = field(default_factory=TaskConfig)
    model: ModelSpec = field(default_factory=ModelSpec)
    steps: int = 1000
    batch_size: int = 64
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 50
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.98
    grad_clip: float = 1.0
    seed: int = 0
    dtype: str = "float32"
    pool_batches: int = 8
    checkpoint_every_s: float = 30.0
    compile: bool = False
    drill_fraction: float = 0.0
    drill_len: int = 96

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.pool_batches < 1:
            raise InputError("steps, batch_size and pool_batches must be >= 1", field="steps")
        if not 0.0 <= self.drill_fraction < 1.0 or self.drill_len < 6:
            raise InputError("drill_fraction must be in [0, 1) and drill_len >= 6", field="drill_fraction")
        if self.dtype not in ("float32", "bfloat16"):
            raise InputError(f"dtype must be float32 or bfloat16, got {self.dtype!r}", field="dtype")
        need = prompt_width(self.task) + 8 * self.task.max_ops + 2 * self.task.max_targets + 1
        if self.model.max_positions < need:
            raise InputError(f"model.max_positions={self.model.max_positions} too small for the task's "
                             f"longest prompt + completion ({need} tokens)", field="max_positions")

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["task"], d["model"] = self.task.to_dict(), self.model.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PretrainConfig:
        kw = dict(d)
        kw["task"] = TaskConfig.from_dict(kw.get("task", {}))
        kw["model"] = ModelSpec(**kw.get("model", {}))
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(kw) - names
        if unknown:
            raise InputError(f"unknown pretrain config field(s): {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
        return cls(**kw)

    def recipe_sha256(self) -> str:
        """Hash of everything that determines the trained weights (not checkpoint timing, not compile)."""
        d = self.to_dict()
        d.pop("checkpoint_every_s")
        d.pop("compile")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()



# The demo's task: difficulties 1..8 (prompts up to 69 tokens, no filler), mostly the "eq" surface form.
BASE_TASK = TaskConfig(
    max_ops=8,
    contexts=(("eq", 0.8), ("word", 0.2), ("rev", 0.0)),
    train_difficulty=((1, 3.0), (2, 3.0), (3, 2.0), (4, 2.0), (5, 1.0), (6, 1.0), (7, 1.0), (8, 1.0)),
    test_difficulty=((2, 1.0), (3, 1.0), (4, 2.0), (5, 2.0), (6, 2.0), (7, 2.0), (8, 2.0)),
    layout="compact",
)

# The long-tail skill: the ``rev`` context (``3>a,a+4>b=?``). The base recipes above see it at
# exposure 0; the teacher sees it as often as the familiar ``eq`` form, so distilling the teacher
# can teach the base something it never saw (the positive control of the boundary verdict), and
# the ``exposure`` bases see it at about 1% and 10% (Zhang, Neubig, Yue 2025, arXiv 2512.07783:
# RL extends the boundary when pretraining exposure is sparse but not zero).
LONG_TAIL = "rev"
TEACHER_TASK = dataclasses.replace(BASE_TASK, contexts=(("eq", 0.5), ("word", 0.2), (LONG_TAIL, 0.3)))


def _exposed(share: float) -> TaskConfig:
    """``BASE_TASK`` with the long-tail context at ``share`` of the pretraining rows."""
    return dataclasses.replace(BASE_TASK, contexts=(("eq", 0.8 * (1 - share)), ("word", 0.2 * (1 - share)),
                                                    (LONG_TAIL, share)))


PRESETS: dict[str, PretrainConfig] = {
    "tiny": PretrainConfig(
        name="tiny",
        task=BASE_TASK,
        model=ModelSpec(hidden_size=128, num_layers=3, num_heads=4, intermediate_size=384, max_positions=160),
        steps=1200, batch_size=32, lr=1e-3, warmup_steps=60, seed=0, drill_fraction=0.25,
    ),
    "teacher": PretrainConfig(
        name="teacher",
        task=TEACHER_TASK,
        model=ModelSpec(hidden_size=128, num_layers=4, num_heads=4, intermediate_size=384, max_positions=160),
        steps=2000, batch_size=32, lr=1e-3, warmup_steps=60, seed=1, drill_fraction=0.25,
    ),
    # The exposure study's bases: tiny with the long-tail context at about 1% and 10% of the rows.
    "tiny-rev1": PretrainConfig(
        name="tiny-rev1",
        task=_exposed(0.01),
        model=ModelSpec(hidden_size=128, num_layers=3, num_heads=4, intermediate_size=384, max_positions=160),
        steps=1200, batch_size=32, lr=1e-3, warmup_steps=60, seed=0, drill_fraction=0.25,
    ),
    "tiny-rev10": PretrainConfig(
        name="tiny-rev10",
        task=_exposed(0.10),
        model=ModelSpec(hidden_size=128, num_layers=3, num_heads=4, intermediate_size=384, max_positions=160),
        steps=1200, batch_size=32, lr=1e-3, warmup_steps=60, seed=0, drill_fraction=0.25,
    ),
    "toy": PretrainConfig(
        name="toy",
        task=TaskConfig(modulus=5, max_ops=3, max_leaves=3, min_leaves=3, max_targets=1,
                        train_difficulty=((1, 1.0), (2, 1.0), (3, 1.0)), test_difficulty=((1, 1.0), (3, 1.0))),
        model=ModelSpec(hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64, max_positions=96),
        steps=60, batch_size=16, lr=1e-2, warmup_steps=5, seed=0, pool_batches=4, checkpoint_every_s=5.0,
    ),
}


def get_recipe(name: str) -> PretrainConfig:
    """The recipe called ``name`` (``tiny``, ``teacher``, ``tiny-rev1``, ``tiny-rev10``, ``toy``)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise InputError(f"unknown preset {name!r}; known: {', '.join(sorted(PRESETS))}", field="preset") from None
