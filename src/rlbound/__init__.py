"""rlbound: did post-training widen what a model can solve, or only make it find it faster?

Pass@k boundary studies after Yue et al. 2025, "Does Reinforcement Learning Really Incentivize
Reasoning Capacity in LLMs Beyond the Base Model?" (arXiv 2504.13837). The front door::

    import rlbound
    rlbound.pass_at_k(n=256, c=3, k=64)            # unbiased pass@k (Chen et al. 2021)
    rlbound.grade(r"... \\boxed{42}", "42")          # one response, one Verdict
    run = rlbound.load_run("runs/base")            # a run directory
    cmp = rlbound.compare("runs/base", "runs/rl")  # curves, k*, efficiency gap, coverage

Names load on first use, so ``import rlbound`` imports no numpy, torch or math-verify; the
subpackages (docs/architecture.md) hold everything else.
"""

from __future__ import annotations

import importlib
from typing import Any

from rlbound.version import __version__

# name -> module that defines it
_EXPORTS: dict[str, str] = {
    "InputError": "rlbound.errors",
    "Problem": "rlbound.types",
    "Sample": "rlbound.types",
    "Verdict": "rlbound.types",
    "Status": "rlbound.types",
    "RunManifest": "rlbound.types",
    "pass_at_k": "rlbound.metrics.passk",
    "pass_at_k_curve": "rlbound.metrics.passk",
    "pass_at_k_matrix": "rlbound.metrics.passk",
    "compare_runs": "rlbound.metrics.compare",
    "Comparison": "rlbound.metrics.compare",
    "grade": "rlbound.verify.runner",
    "verify_items": "rlbound.verify.runner",
    "get_verifier": "rlbound.verify.base",
    "compute_score": "rlbound.verify.rewards",
    "make_trl_reward": "rlbound.verify.rewards",
    "load_run": "rlbound.data.runs",
    "compare": "rlbound.data.runs",
    "load_benchmark": "rlbound.data.benchmarks",
    "RunStore": "rlbound.data.store",
    "run_sampling": "rlbound.sampling",
    "SampleConfig": "rlbound.sampling.config",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    """Load an exported name on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rlbound' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
