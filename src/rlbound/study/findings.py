"""The findings of Yue et al. 2025 (arXiv 2504.13837) judged on measured numbers, each with a 95% interval.

Pure functions: counts, perplexities and entropies in, ``Finding`` records out. Every finding names
the quantity it tests, the 95% interval of that quantity and a verdict read off the interval:

- ``held``: the interval lies on the side the paper predicts;
- ``contradicted``: it lies on the other side;
- ``inconclusive``: it holds 0 (a small run, or no effect), or the data is missing;
- ``info``: a descriptive row (its interval is still given).

The intervals are the paired sign-flip randomization intervals of ``rlbound.metrics.verdicts``
over problems: each problem contributes one difference (pass@k of the other run minus the base's,
or a per-problem perplexity or entropy difference), so a finding on 12 problems says
"inconclusive" where a point comparison would call a one-problem gap. The false-call rate of the
interval is measured in ``bench/verdicts.py`` (docs/statistics.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from rlbound.metrics.compare import compare_runs
from rlbound.metrics.passk import pass_at_k_matrix
from rlbound.metrics.verdicts import PairedInterval, coverage_chance, paired_interval

Counts = tuple[list[str], np.ndarray, np.ndarray]
PerResponse = tuple[Sequence[str], np.ndarray]  # (problem id of each response, one value per response)
VERDICTS = ("held", "contradicted", "inconclusive", "info")


@dataclass(frozen=True)
class Finding:
    """One finding: what the paper claims, what was measured, the tested quantity's 95% interval, the verdict.

    Attributes:
        key: short name (``crossing``, ``coverage``, ...).
        claim: what Yue et al. 2025 claim, in one line.
        measured: the measured numbers, in one line.
        verdict: ``held`` | ``contradicted`` | ``inconclusive`` | ``info`` (module docstring).
        ci95: the 95% interval of ``tested`` (None when the data is missing).
        tested: the quantity the interval is on, in words.
        numbers: the measured numbers for findings.json.
    """

    key: str
    claim: str
    measured: str
    verdict: str
    ci95: tuple[float, float] | None = None
    tested: str = ""
    numbers: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}, got {self.verdict!r}")


def aligned(base: Counts, other: Counts) -> tuple[NDArray[np.int64], ...]:
    """(n_base, c_base, n_other, c_other) over the problems both runs share, in base's order."""
    ids_b, nb, cb = base
    ids_o, no, co = other
    where = {pid: i for i, pid in enumerate(ids_o)}
    pairs = [(i, where[pid]) for i, pid in enumerate(ids_b) if pid in where]
    if not pairs:
        raise ValueError("the two runs share no problem")
    ib, io = (np.asarray(x, dtype=np.int64) for x in zip(*pairs, strict=True))
    return (np.asarray(nb)[ib], np.asarray(cb)[ib], np.asarray(no)[io], np.asarray(co)[io])


def subset(counts: Counts, keep: set[str]) -> Counts:
    """``counts`` restricted to the problems whose id is in ``keep`` (a split of the test set)."""
    ids, n, c = counts
    mask = np.array([i in keep for i in ids], dtype=bool)
    return [i for i, m in zip(ids, mask, strict=True) if m], np.asarray(n)[mask], np.asarray(c)[mask]


def _paired_passk(base: Counts, other: Counts, k: int, *, seed: int = 0) -> PairedInterval:
    """Interval of pass@k(other) - pass@k(base) over shared problems (unbiased per-problem estimator)."""
    nb, cb, no, co = aligned(base, other)
    pb = pass_at_k_matrix(nb, cb, [k])[:, 0]
    po = pass_at_k_matrix(no, co, [k])[:, 0]
    return paired_interval(po - pb, seed=seed)


def _ci(iv: PairedInterval) -> tuple[float, float]:
    return (float(iv.lo), float(iv.hi))


def _fmt_ci(iv: PairedInterval) -> str:
    return f"{iv.diff:+.3f} [{iv.lo:+.3f}, {iv.hi:+.3f}]"


def _two_sided(up: PairedInterval, down: PairedInterval) -> str:
    """Verdict of "``up`` above 0 and ``down`` below 0": held when both intervals say so, contradicted
    when either lies on the wrong side, else inconclusive."""
    if up.lo > 0 and down.hi < 0:
        return "held"
    if up.hi < 0 or down.lo > 0:
        return "contradicted"
    return "inconclusive"


def _curve(counts: Counts, ks: Sequence[int]) -> np.ndarray:
    ids, n, c = counts
    return pass_at_k_matrix(n, c, ks, ids).mean(axis=0)


def crossing(base: Counts, rl: Counts, k_big: int) -> Finding:
    """RL above base at k=1 and below it at k=k_big (Yue et al. 2025, Fig. 2), each difference with its
    95% interval; ``ci95`` is on pass@k_big(RL) - pass@k_big(base). Also the crossing k* and its CI."""
    d = compare_runs(*base, *rl).to_json_dict()
    i1, ik = _paired_passk(base, rl, 1), _paired_passk(base, rl, k_big)
    ci = d.get("crossing_k_ci")
    measured = (f"pass@1 RL - base {_fmt_ci(i1)}; pass@{k_big} RL - base {_fmt_ci(ik)}; k* = {d['crossing_k']}"
                + (f" (95% CI {ci[0]}-{ci[1]})" if ci else ""))
    pb, pr = d["pass_at_k"]["base"], d["pass_at_k"]["other"]
    return Finding("crossing", f"RL above base at k=1, base above RL at k={k_big}", measured, _two_sided(i1, ik),
                   _ci(ik), f"pass@{k_big}(RL) - pass@{k_big}(base); pass@1 difference must be > 0",
                   {"pass1_base": pb["1"], "pass1_rl": pr["1"], f"pass{k_big}_base": pb[str(k_big)],
                    f"pass{k_big}_rl": pr[str(k_big)], "ci95_pass1": list(_ci(i1)),
                    "crossing_k": d["crossing_k"], "crossing_k_ci": ci})


def coverage(base: Counts, rl: Counts) -> Finding:
    """The RL model's solvable set is almost a subset of the base's (Yue et al. 2025, Sec. 3.4).

    Tested: the share of problems only base solves minus the share only RL solves (a problem is
    solved when any of its n samples is correct), with its paired interval; observed one-sided
    counts are set against those expected by chance if one model made both runs
    (``coverage_chance``)."""
    nb, cb, no, co = aligned(base, rl)
    sb, so = cb > 0, co > 0
    only_b, only_r = int(np.sum(sb & ~so)), int(np.sum(so & ~sb))
    both, neither = int(np.sum(sb & so)), int(np.sum(~sb & ~so))
    exp_b, exp_r = coverage_chance(nb, cb, no, co)
    iv = paired_interval(sb.astype(float) - so.astype(float))
    measured = (f"of {len(nb)} problems: both {both}, base only {only_b} (about {exp_b:.1f} expected by chance), "
                f"RL only {only_r} (about {exp_r:.1f} expected by chance), neither {neither}; "
                f"share base-only - RL-only {_fmt_ci(iv)}")
    return Finding("coverage", "base solves problems RL cannot, beyond chance; RL-only near zero", measured,
                   iv.verdict("held", "contradicted"), _ci(iv), "share of problems base-only minus RL-only",
                   {"both": both, "only_base": only_b, "only_rl": only_r, "neither": neither,
                    "only_base_chance": exp_b, "only_rl_chance": exp_r})


def checkpoints(runs: Sequence[tuple[int, Counts]], k_big: int) -> Finding:
    """pass@1 up and pass@k_big down from the start of RL to its end (Yue et al. 2025, Table 'GRPO
    over steps'), each with its interval; ``ci95`` is on the pass@k_big change.

    ``runs`` are (step, counts) in training order; the study passes the base model as step 0, so
    the finding compares the start of training with its end and lists every checkpoint between.
    """
    if len(runs) < 2:
        return Finding("checkpoints", "pass@1 up, pass@K down over training", "fewer than 2 checkpoints",
                       "inconclusive")
    rows = [(step, *_curve(c, [1, k_big])) for step, c in runs]
    (s0, first), (s1, last) = runs[0], runs[-1]
    i1, ik = _paired_passk(first, last, 1), _paired_passk(first, last, k_big)
    measured = ("; ".join(f"step {s}: pass@1 {a:.3f}, pass@{k_big} {b:.3f}" for s, a, b in rows)
                + f"; change pass@1 {_fmt_ci(i1)}, pass@{k_big} {_fmt_ci(ik)}")
    return Finding("checkpoints", f"pass@1 up and pass@{k_big} down from step {s0} to step {s1}", measured,
                   _two_sided(i1, ik), _ci(ik), f"pass@{k_big} at step {s1} - at step {s0}; pass@1 change must be > 0",
                   {"steps": [r[0] for r in rows], "pass1": [r[1] for r in rows],
                    f"pass{k_big}": [r[2] for r in rows], "ci95_pass1": list(_ci(i1))})


def distillation(base: Counts, distilled: Counts, ks: Sequence[int]) -> Finding:
    """Distillation from a stronger teacher lifts the whole curve (Yue et al. 2025, Sec. 4.2): pass@1
    and pass@K both above base by their intervals; ``ci95`` is on the pass@K difference (K = the
    largest of ``ks``: a widened boundary)."""
    i1, ik = _paired_passk(base, distilled, ks[0]), _paired_passk(base, distilled, ks[-1])
    comp = compare_runs(*base, *distilled, ks=list(ks)).to_json_dict()
    diffs = {k: comp["pass_at_k"]["other"][str(k)] - comp["pass_at_k"]["base"][str(k)] for k in ks}
    worst = min(diffs, key=diffs.get)
    if i1.lo > 0 and ik.lo > 0:
        verdict = "held"
    elif i1.hi < 0 or ik.hi < 0:
        verdict = "contradicted"
    else:
        verdict = "inconclusive"
    measured = (f"distilled - base: pass@{ks[0]} {_fmt_ci(i1)}, pass@{ks[-1]} {_fmt_ci(ik)}; "
                f"smallest margin {diffs[worst]:+.3f} at k={worst}")
    return Finding("distillation", f"distilled model above base at k={ks[0]} and k={ks[-1]} (boundary widened)",
                   measured, verdict, _ci(ik), f"pass@{ks[-1]}(distilled) - pass@{ks[-1]}(base)",
                   {"diff": {str(k): v for k, v in diffs.items()}, "ci95_pass1": list(_ci(i1)),
                    "boundary": ik.verdict("widened", "narrowed")})


def per_problem_means(values: PerResponse, *, log: bool = False) -> dict[str, float]:
    """Mean of each problem's finite per-response values (of their logs with ``log``)."""
    ids, v = values
    v = np.asarray(v, dtype=np.float64)
    keep = np.isfinite(v) & ((v > 0) if log else True)
    sums: dict[str, list[float]] = {}
    for pid, x in zip(np.asarray(ids)[keep], (np.log(v[keep]) if log else v[keep]), strict=True):
        sums.setdefault(str(pid), []).append(float(x))
    return {pid: float(np.mean(xs)) for pid, xs in sums.items()}


def _paired_means(base: PerResponse, other: PerResponse, *, log: bool) -> PairedInterval | None:
    mb, mo = per_problem_means(base, log=log), per_problem_means(other, log=log)
    shared = [pid for pid in mb if pid in mo]
    if not shared:
        return None
    return paired_interval([mo[p] - mb[p] for p in shared])


def perplexity(base_own: PerResponse | None, rl_under_base: PerResponse | None) -> Finding:
    """RL responses are low-perplexity under the base model (Yue et al. 2025, Fig. 6).

    Tested: per problem, the mean log-perplexity under base of RL's responses minus that of base's
    own responses, with its paired interval (held below 0). The RL median's percentile within
    base's own distribution is reported as the paper plots it."""
    claim = "RL responses lower-perplexity under base than base's own responses"
    if base_own is None or rl_under_base is None or not len(base_own[1]) or not len(rl_under_base[1]):
        return Finding("perplexity", claim, "perplexities not available", "inconclusive")
    iv = _paired_means(base_own, rl_under_base, log=True)
    if iv is None:
        return Finding("perplexity", claim, "no problem scored in both runs", "inconclusive")
    own = np.asarray(base_own[1], dtype=np.float64)
    own = own[np.isfinite(own)]
    rl = np.asarray(rl_under_base[1], dtype=np.float64)
    med_rl, med_base = float(np.median(rl[np.isfinite(rl)])), float(np.median(own))
    pct = float(100.0 * np.mean(own < med_rl))
    measured = (f"median perplexity under base: base's own {med_base:.3f}, RL's {med_rl:.3f} (the {pct:.0f}th "
                f"percentile of base's own); per-problem log-perplexity RL - base {_fmt_ci(iv)}")
    return Finding("perplexity", claim, measured, iv.verdict("contradicted", "held"), _ci(iv),
                   "per-problem mean log-perplexity under base, RL's responses - base's own",
                   {"median_base_own": med_base, "median_rl": med_rl, "percentile": pct})


def entropy(base: PerResponse | None, rl: PerResponse | None) -> Finding:
    """Entropy drops after RL (Yue et al. 2025, Sec. 5): per problem, the mean sampled-token entropy
    estimate (mean -log p of each sampled token) of RL's responses minus base's, with its interval."""
    claim = "RL responses lower-entropy than base's"
    if base is None or rl is None or not len(base[1]) or not len(rl[1]):
        return Finding("entropy", claim, "token log-probabilities not recorded", "inconclusive")
    iv = _paired_means(base, rl, log=False)
    if iv is None:
        return Finding("entropy", claim, "no problem sampled by both runs", "inconclusive")
    mb, mr = float(np.nanmean(base[1])), float(np.nanmean(rl[1]))
    measured = f"mean entropy estimate (nats/token): base {mb:.3f}, RL {mr:.3f}; per-problem RL - base {_fmt_ci(iv)}"
    return Finding("entropy", claim, measured, iv.verdict("contradicted", "held"), _ci(iv),
                   "per-problem mean sampled-token entropy estimate, RL - base",
                   {"mean_base": mb, "mean_rl": mr})


def support(base: Mapping[str, int], rl: Mapping[str, int]) -> Finding:
    """RL shrinks the support of correct solutions (Wu et al. 2025, "The Invisible Leash", arXiv
    2507.14843): per problem, distinct correct responses of RL minus base's (same n), with its interval."""
    shared = [pid for pid in base if pid in rl]
    claim = "RL finds fewer distinct correct solutions per problem than base"
    if not shared:
        return Finding("support", claim, "no shared problem", "inconclusive")
    iv = paired_interval([rl[p] - base[p] for p in shared])
    sb, sr = sum(base[p] for p in shared), sum(rl[p] for p in shared)
    measured = (f"distinct correct responses over {len(shared)} problems: base {sb}, RL {sr}; "
                f"per problem RL - base {_fmt_ci(iv)}")
    return Finding("support", claim, measured, iv.verdict("contradicted", "held"), _ci(iv),
                   "distinct correct responses per problem, RL - base", {"distinct_base": sb, "distinct_rl": sr})


def cot_gap(label: str, answer: Counts, cot: Counts, k_big: int) -> Finding:
    """CoT-pass@k (answer and every step right, Wen et al. 2025) next to pass@k: the lucky share
    (descriptive); ``ci95`` is on pass@k_big - CoT-pass@k_big."""
    ks = [1, k_big]
    pa, pc = _curve(answer, ks), _curve(cot, ks)
    iv = _paired_passk(cot, answer, k_big)
    measured = (f"{label}: pass@1 {pa[0]:.3f} vs CoT-pass@1 {pc[0]:.3f}; pass@{k_big} {pa[1]:.3f} vs "
                f"CoT-pass@{k_big} {pc[1]:.3f} ({iv.diff:.3f} [{iv.lo:.3f}, {iv.hi:.3f}] of pass@{k_big} "
                "had a wrong step)")
    return Finding(f"cot_{label}", "share of large-k pass@k that came from responses with a wrong step",
                   measured, "info", _ci(iv), f"pass@{k_big} - CoT-pass@{k_big}",
                   {"pass1": float(pa[0]), "cot_pass1": float(pc[0]), f"pass{k_big}": float(pa[1]),
                    f"cot_pass{k_big}": float(pc[1])})


def format_findings(findings: Sequence[Finding]) -> str:
    """The terminal summary table: one block per finding, ``[HELD]`` / ``[CONTRADICTED]`` /
    ``[INCONCLUSIVE]`` / ``[info]`` with the tested quantity's interval."""
    lines = []
    for f in findings:
        mark = "info" if f.verdict == "info" else f.verdict.upper()
        ci = f" (95% CI {f.ci95[0]:+.3f} to {f.ci95[1]:+.3f})" if f.ci95 is not None else ""
        lines.append(f"[{mark:>12}] {f.claim}{ci}")
        lines.append(f"               {f.measured}")
    return "\n".join(lines)


def to_json(findings: Sequence[Finding]) -> list[Mapping]:
    """The findings as ``findings.json`` stores them (``key``, ``claim``, ``measured``, ``verdict``,
    ``ci95``, ``tested``, ``numbers``)."""
    return [{"key": f.key, "claim": f.claim, "measured": f.measured, "verdict": f.verdict,
             "ci95": None if f.ci95 is None else [float(f.ci95[0]), float(f.ci95[1])], "tested": f.tested,
             "numbers": f.numbers}
            for f in findings]


def _legacy_verdict(row: Mapping) -> str:
    """A findings.json row written before verdicts (``held`` true / false / null) read as a verdict:
    a point decision is never read as ``held``, so those rows are ``inconclusive`` (null: ``info``)."""
    return "info" if row.get("held") is None else "inconclusive"


def from_json(rows: Sequence[Mapping]) -> list[Finding]:
    """``to_json``'s rows back to ``Finding`` records (for ``format_findings`` of a stored study)."""
    out = []
    for r in rows:
        ci = r.get("ci95")
        out.append(Finding(r["key"], r["claim"], r["measured"], r.get("verdict") or _legacy_verdict(r),
                           None if ci is None else (float(ci[0]), float(ci[1])), r.get("tested", ""),
                           dict(r.get("numbers") or {})))
    return out
