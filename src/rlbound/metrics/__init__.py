"""Metrics of rlbound (pure numpy, no IO): pass@k and what Yue et al. 2025 (arXiv 2504.13837) build on it.

- ``passk``: unbiased pass@k of Chen et al. 2021 for every problem and k; the biased plug-in.
- ``stats``: percentile-bootstrap CIs over problems, paired differences, a normal-approximation CI.
- ``variants``: maj@k (Monte Carlo over k-subsets), G-Pass@k_tau and mG-Pass@k (Liu et al. 2024),
  Cover@tau (Dragoi et al. 2025), the lucky-guess floor 1-(1-1/M)^k.
- ``compare``: crossing point k* (with CI), efficiency gap, solvable coverage, accuracy histogram,
  and ``compare_runs`` which does all of it for two runs joined by problem id.
- ``planning`` / ``adaptive``: sample sizes for a target interval, adaptive allocation; ``prior``:
  the Beta-mixture prior, its fit and the fitted prior's own uncertainty in their intervals;
  ``special``: log-gamma and friends; ``oracle``: the fewest samples any
  allocation could need at equal width, knowing every p (bounds ``adaptive``).

CoT-pass@k (Wen et al. 2025, arXiv 2506.14245) needs no function of its own: it is pass@k with
c = the number of samples whose final answer AND every reasoning step were judged correct
(``Verdict.steps_correct``), i.e. ``pass_at_k_matrix(n, c_steps, ks)``; the CLI's
``rlbound passk --field steps_correct`` does exactly that.
"""

from rlbound.metrics.compare import (
    HISTOGRAM_LABELS,
    Comparison,
    CoverageTable,
    CrossingCI,
    accuracy_histogram,
    compare_runs,
    coverage_table,
    crossing_k,
    crossing_k_ci,
    efficiency_gap,
)
from rlbound.metrics.passk import (
    KTooLargeError,
    default_ks,
    pass_at_k,
    pass_at_k_curve,
    pass_at_k_matrix,
    pass_at_k_plugin,
)
from rlbound.metrics.stats import bootstrap_ci, bootstrap_means, normal_ci, paired_bootstrap_diff
from rlbound.metrics.variants import (
    cover_at_tau,
    g_pass_at_k,
    hypergeom_pmf,
    lucky_guess_floor,
    maj_at_k,
    mg_pass_at_k,
)

__all__ = [
    "HISTOGRAM_LABELS",
    "Comparison",
    "CoverageTable",
    "CrossingCI",
    "KTooLargeError",
    "accuracy_histogram",
    "bootstrap_ci",
    "bootstrap_means",
    "compare_runs",
    "cover_at_tau",
    "coverage_table",
    "crossing_k",
    "crossing_k_ci",
    "default_ks",
    "efficiency_gap",
    "g_pass_at_k",
    "hypergeom_pmf",
    "lucky_guess_floor",
    "maj_at_k",
    "mg_pass_at_k",
    "normal_ci",
    "paired_bootstrap_diff",
    "pass_at_k",
    "pass_at_k_curve",
    "pass_at_k_matrix",
    "pass_at_k_plugin",
]
