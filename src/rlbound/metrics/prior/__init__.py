"""The empirical-Bayes prior of per-problem success rates and its own uncertainty (pure numpy).

Reading pass@k (Chen et al. 2021) at k beyond a problem's n, as the curves of Yue et al. 2025
(arXiv 2504.13837) need, takes a prior on each problem's success rate p:

- ``mixture``: Beta mixtures as priors and posteriors, their closed-form moments and the
  preposterior variance (Raiffa & Schlaifer 1961).
- ``fit``: the prior fitted to all problems of a run by maximum beta-binomial likelihood
  (Robbins 1956; Efron 2010), ``resolve_prior``.
- ``refit``: the prior refitted to resampled problems and the spread it gives a pass@k curve
  (Laird & Louis 1987).

Modules inside ``rlbound`` import the defining submodule; the names are collected here for users.
"""

from rlbound.metrics.prior.fit import fit_beta_mixture, marginal_loglik, resolve_prior
from rlbound.metrics.prior.mixture import (
    ESTIMATORS,
    BetaMixture,
    jeffreys_prior,
    moment_one_minus_p,
    posterior,
    posterior_pass_at_k,
    posterior_pass_var,
    preposterior_pass_var,
)
from rlbound.metrics.prior.refit import DEFAULT_BOOT, bootstrap_priors, prior_fit_variance

__all__ = [
    "DEFAULT_BOOT",
    "ESTIMATORS",
    "BetaMixture",
    "bootstrap_priors",
    "fit_beta_mixture",
    "jeffreys_prior",
    "marginal_loglik",
    "moment_one_minus_p",
    "posterior",
    "posterior_pass_at_k",
    "posterior_pass_var",
    "preposterior_pass_var",
    "prior_fit_variance",
    "resolve_prior",
]
