"""Metric curves with their 95% bands: the pass@k of Chen et al. 2021 (or, for an adaptively
sampled run, the estimator its manifest names) averaged over problems, with a percentile
bootstrap over problems. Shared by the pass@k, CoT-pass@k and extra-metric sections.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from rlbound.metrics.adaptive import adaptive_interval
from rlbound.metrics.passk import pass_at_k_matrix
from rlbound.metrics.stats import bootstrap_ci
from rlbound.report.analyses.records import RunData

N_BOOT = 2000
SEED = 0


@dataclass(frozen=True)
class CurveStats:
    """A metric curve of one run with its 95% band.

    Attributes:
        ks: shape [K], the x values (k, or tau, or a training step).
        mean: shape [K], the metric averaged over problems.
        low, high: shape [K], the 95% percentile-bootstrap band (or None).
    """

    ks: tuple[float, ...]
    mean: tuple[float, ...]
    low: tuple[float, ...] | None = None
    high: tuple[float, ...] | None = None

    @classmethod
    def of(cls, ks: ArrayLike, mean: ArrayLike, low: ArrayLike | None = None, high: ArrayLike | None = None) -> CurveStats:
        def tup(a: ArrayLike | None) -> tuple[float, ...] | None:
            return None if a is None else tuple(float(v) for v in np.asarray(a, dtype=np.float64).reshape(-1))

        return cls(tup(ks), tup(mean), tup(low), tup(high))  # type: ignore[arg-type]

    def at(self, k: float) -> float:
        """The mean at x == k exactly (KeyError when k is not one of the ks)."""
        for x, y in zip(self.ks, self.mean):
            if x == k:
                return y
        raise KeyError(f"k={k} not among the curve's ks {self.ks}")

    def band_at(self, k: float) -> tuple[float, float] | None:
        if self.low is None or self.high is None:
            return None
        i = self.ks.index(k)
        return self.low[i], self.high[i]

    def to_json_dict(self) -> dict[str, Any]:
        """The curve as ``metrics.json`` stores it (integral ks as ints, no band as None)."""
        return {"ks": [int(k) if float(k).is_integer() else k for k in self.ks], "mean": list(self.mean),
                "ci95_low": None if self.low is None else list(self.low),
                "ci95_high": None if self.high is None else list(self.high)}


def bootstrap_curve(per_problem: np.ndarray, ks: Sequence[float]) -> CurveStats:
    """The mean over problems of ``per_problem`` (shape [P, K]) with its 95% percentile-bootstrap
    band over problems (``N_BOOT`` replicates, seed ``SEED``; Efron & Tibshirani 1993)."""
    mean, low, high = bootstrap_ci(per_problem, n_boot=N_BOOT, seed=SEED)
    return CurveStats.of(ks, mean, low, high)


def passk_curve(r: RunData, c: np.ndarray, ks: Sequence[int]) -> CurveStats:
    """pass@k of run ``r`` with correct counts ``c`` (answer or CoT) and its bootstrap band.

    The unbiased estimator of Chen et al. 2021; for an adaptively sampled run the estimator its
    manifest names (``small_sample_pass_at_k``, "bayes": the posterior mean of 1-(1-p)^k under the
    empirical-Bayes Beta-mixture prior fitted to the run, defined for k > n too), since stopping a
    problem on its data biases the unbiased one (docs/statistics.md, section 6); its band adds the
    fitted prior's own uncertainty to the bootstrap over problems (``adaptive_interval``, Laird & Louis 1987).
    """
    if r.adaptive is None:
        return bootstrap_curve(pass_at_k_matrix(r.n, c, ks, r.ids), ks)
    mean, low, high = adaptive_interval(r.n, c, ks, prior="eb", scope="population", n_boot=N_BOOT, seed=SEED,
                                        estimator=r.adaptive["estimator"])
    return CurveStats.of(ks, mean, low, high)
