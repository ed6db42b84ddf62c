"""The fitted prior's own uncertainty (Laird & Louis 1987), under its earlier import path.

The code lives in ``rlbound.metrics.prior.refit`` (the empirical-Bayes prior of per-problem rates for
the pass@k of Chen et al. 2021 and the curves of Yue et al. 2025, arXiv 2504.13837); this module keeps
``from rlbound.metrics.prior_fit import ...`` working.
"""

from rlbound.metrics.prior.refit import DEFAULT_BOOT, bootstrap_priors, prior_fit_variance

__all__ = ["DEFAULT_BOOT", "bootstrap_priors", "prior_fit_variance"]
