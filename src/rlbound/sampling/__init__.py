"""Sampling: ``n`` responses per problem into a resumable run (Yue et al. 2025, arXiv 2504.13837, Sec. 2).

- ``config``: ``SampleConfig``, backend options, per-cell seeds;
- ``loop``: the resumable uniform loop (``sample``);
- ``adaptive``: rounds that spend samples where the pass@k interval needs them (``sample_adaptive``).
"""

from __future__ import annotations

from typing import Any


def run_sampling(config: Any, progress: bool = True) -> Any:
    """Sample every missing cell of the run ``config.out`` and return its ``RunStore``.

    See the module docstring. Prints the ``RunSummary`` to stderr when ``progress`` is set; the
    summary of every call is also appended to the run's side file ``sampling_summary.json``.
    With ``config.adaptive`` it runs the adaptive rounds (``rlbound.sampling.adaptive``) instead.
    """
    if config.adaptive:
        from rlbound.sampling.adaptive import sample_adaptive

        return sample_adaptive(config, progress=progress)[0]
    from rlbound.sampling.loop import sample

    store, _ = sample(config, progress=progress)
    return store
