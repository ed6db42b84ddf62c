"""Section 5: perplexity of each run's responses under the base model (Yue et al. 2025, arXiv
2504.13837, Sec. 4: the RL model's responses sit in the low-perplexity part of the base model's
own distribution, i.e. the base model already assigns them high probability).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike

from rlbound.report.analyses.distributions import binned, percentile_in
from rlbound.report.analyses.records import DistributionFigure, SectionResult, Table, order_labels
from rlbound.scoring.perplexity import SIDE_FILE


def under_base(ppl: Mapping[str, Mapping[str, np.ndarray]], base: str, base_model: str) -> SectionResult:
    """The perplexity figure, table and ``perplexity`` of metrics.json (None when no run's responses
    are scored, or the files share no scorer), with notes on the scorer chosen and runs left out.

    Args:
        ppl: run label -> {scorer model: shape [R] per-response perplexities} (``inputs.read_perplexity``).
        base_model: the base run's model, the scorer preferred (``pick_scorer``).
    """
    if not ppl:
        return SectionResult(metrics={"perplexity": None})
    scorer = pick_scorer(ppl, base_model)
    if scorer is None:
        return SectionResult(metrics={"perplexity": None}, notes=(("perplexity", "the perplexity files share no scorer "
                             "model; cannot put them on one axis "
                             f"(scorers: {', '.join(sorted({s for d in ppl.values() for s in d}))})."),))
    notes = []
    if scorer != base_model:
        notes.append(f"scorer {scorer!r} is taken as the base model (the base run's model is {base_model!r}).")
    vals = {lab: d[scorer] for lab, d in ppl.items() if scorer in d}
    notes += [f"{lab}: {SIDE_FILE} has no rows scored by {scorer!r}." for lab in ppl if lab not in vals]
    if base not in vals:
        notes.append(f"{base}: its own responses are not scored, so no percentile can be given.")
    fig, table = perplexity_distributions(vals, base, scorer)
    metrics = {"scorer": scorer, "runs": {row[0]: {"n_responses": row[1], "median": row[2],
                                                   "median_percentile_in_base": row[3]} for row in table.rows},
               "bin_edges": list(fig.edges), "share_per_bin": {d.label: list(d.share) for d in fig.series}}
    return SectionResult(metrics={"perplexity": metrics}, figures={"perplexity": fig}, tables=(table,),
                         notes=tuple(("perplexity", t) for t in notes))


def pick_scorer(ppl: Mapping[str, Mapping[str, np.ndarray]], base_model: str) -> str | None:
    """The scorer to compare on: the base run's model when every file has it, else the one scorer
    common to every file, else None."""
    common = set.intersection(*(set(d) for d in ppl.values()))
    if base_model in common:
        return base_model
    if len(common) == 1:
        return next(iter(common))
    return None


def perplexity_distributions(
    values: Mapping[str, ArrayLike], base: str, scorer: str, *, bins: int = 40
) -> tuple[DistributionFigure, Table]:
    """Per-response perplexity of each run's responses under the base model (Yue et al. 2025,
    Sec. 4: the RL model's responses sit in the low-perplexity part of the base model's own
    distribution, i.e. the base model already assigns them high probability).

    Perplexity of a response = exp(-sum log p(token) / n_tokens) under ``scorer``.

    Args:
        values: run label -> shape [R] perplexities of that run's responses. The base run's own
            responses give the reference distribution; without them the percentile is None.

    Returns:
        overlaid histograms on log-spaced bins, and a table (run, responses, median, percentile of
        that median within the base run's own distribution).
    """
    labels = order_labels(list(values), base) if base in values else list(values)
    if not labels:
        raise ValueError("perplexity_distributions needs at least one run")
    arrs = {lab: np.asarray(values[lab], dtype=np.float64).reshape(-1) for lab in labels}
    for lab in labels:
        if arrs[lab].size == 0 or not np.isfinite(arrs[lab]).all() or (arrs[lab] <= 0).any():
            raise ValueError(f"run {lab!r}: perplexities must be finite, positive and non-empty")
    edges, series = binned(arrs, labels, log_x=True, bins=bins)
    fig = DistributionFigure(key="perplexity", title=f"Perplexity of each run's responses under {scorer}",
                             xlabel="per-response perplexity (log scale)", ylabel="share of responses",
                             edges=edges, log_x=True, series=series)
    ref = arrs.get(base)
    rows = tuple((d.label, d.count, d.median, None if ref is None else percentile_in(ref, d.median)) for d in series)
    table = Table(key="perplexity", caption=f"Median per-response perplexity under {scorer}, and where it sits as a "
                  f"percentile of the base run's ({base}) own responses", headers=("run", "responses", "median perplexity",
                  f"percentile in {base}'s distribution"), rows=rows)
    return fig, table
