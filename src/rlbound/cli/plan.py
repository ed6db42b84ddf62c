"""``rlbound plan``: how many samples per problem a target interval on pass@k needs, from a pilot run."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from rlbound.cli.metrics import _parse_ks
from rlbound.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plan", help="samples per problem (and tokens, time) for a target 95%% interval on pass@k",
        description="From a pilot run (e.g. 32 samples per problem), predict the samples per problem "
        "(the same n for every problem), tokens and time that make the interval on mean pass@k over "
        "problems estimate +- CI (CI is the HALF-width). With --against, the same for the paired "
        "difference pass@k(RUN_DIR) - pass@k(OTHER) on the problems both runs share. The between-problem "
        "spread does not shrink with more samples: when it alone exceeds the target the plan says how "
        "many problems would be needed instead. Method: docs/statistics.md.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="pilot run directory (verified)")
    p.add_argument("--k", type=_parse_ks, required=True, metavar="K[,K...]",
                   help="k value(s) of pass@k, e.g. 256 or 1,16,256")
    p.add_argument("--ci", type=float, required=True, metavar="H",
                   help="target HALF-width of the interval: pass@k estimate +- H (e.g. 0.02 = +-2 points)")
    p.add_argument("--against", metavar="OTHER_RUN", default=None,
                   help="plan for the difference RUN_DIR - OTHER_RUN on the shared problems")
    p.add_argument("--level", type=float, default=0.95, help="interval level (default 0.95)")
    p.add_argument("--scope", choices=("population", "benchmark"), default="population",
                   help="population (default): problems are a sample of a larger population, as the "
                   "bootstrap CIs of 'rlbound passk' assume; benchmark: these problems fixed, sampling noise only")
    p.add_argument("--prior", choices=("eb", "jeffreys"), default="eb",
                   help="prior of per-problem success rates: eb (Beta mixture fitted to the run, default) "
                   "or jeffreys Beta(1/2,1/2)")
    p.add_argument("--max-n", type=int, default=1 << 17, metavar="N", help="largest n searched (default 131072)")
    p.add_argument("--boot", type=int, default=20, metavar="B",
                   help="repeat the plan on B pilots resampled over problems and show the 10-90%% range of n "
                   "(default 20; 0 to skip). Matters most for k above the pilot's n")
    p.add_argument("--seed", type=int, default=0, help="seed of --boot")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(func=cmd_plan)


def _load(path: str) -> dict[str, Any]:
    """Counts, token use and throughput of one run directory."""
    from rlbound.data.store import RunStore

    p = Path(path)
    if not p.is_dir():
        raise InputError("not a run directory (plan needs a run directory with samples and verdicts)", path=path)
    store = RunStore.open(p)
    ids, n, c = store.counts()
    if len(ids) == 0:
        raise InputError("no verified problems in the run", path=path)
    import pyarrow.compute as pc

    known = pc.drop_null(store.sample_table().column("completion_tokens"))
    tokens_per_sample = float(pc.mean(known).as_py()) if len(known) else None
    extra = store.manifest.extra or {}
    thr = extra.get("throughput_tokens_per_s")
    if isinstance(thr, bool) or not isinstance(thr, (int, float)) or not math.isfinite(thr) or thr <= 0:
        thr = None
    return {"path": path, "ids": list(ids), "n": n, "c": c, "tokens_per_sample": tokens_per_sample,
            "tokens_known": len(known), "throughput": float(thr) if thr is not None else None,
            "model": store.manifest.model}


def _align(a: dict[str, Any], b: dict[str, Any]) -> tuple[list[str], list[tuple[np.ndarray, np.ndarray]]]:
    pos_b = {pid: i for i, pid in enumerate(b["ids"])}
    shared = [pid for pid in a["ids"] if pid in pos_b]
    if not shared:
        raise InputError(f"the runs share no problem id ({a['path']} and {b['path']})")
    ra = np.array([i for i, pid in enumerate(a["ids"]) if pid in pos_b])
    rb = np.array([pos_b[pid] for pid in shared])
    return shared, [(a["n"][ra], a["c"][ra]), (b["n"][rb], b["c"][rb])]


def _fmt_time(seconds: float) -> str:
    for unit, size in (("days", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def _fmt_range(r: tuple[int | None, int | None] | None) -> str:
    if r is None:
        return ""
    lo, hi = ("-" if x is None else f"{x:,}" for x in r)
    return f"{lo}-{hi}" if lo != hi else lo


def _fmt_count(x: float) -> str:
    return f"{x:,.0f}" if x < 1e7 else f"{x:.3g}"


def cmd_plan(args: argparse.Namespace) -> int:
    from rlbound.metrics.planning import plan_cost, plan_sample_size, sampling_cost

    if not 0.0 < args.ci < 1.0:
        raise InputError(f"--ci is the interval half-width and must lie in (0, 1), got {args.ci}", field="ci")
    if not 0.0 < args.level < 1.0:
        raise InputError(f"--level must lie in (0, 1), got {args.level}", field="level")
    if args.max_n < max(args.k):
        raise InputError(f"--max-n {args.max_n} is below the largest k {max(args.k)}", field="max-n")
    runs = [_load(args.run_dir)]
    if args.against is not None:
        runs.append(_load(args.against))
        ids, counts = _align(runs[0], runs[1])
    else:
        ids, counts = runs[0]["ids"], [(runs[0]["n"], runs[0]["c"])]
    try:
        plan = plan_sample_size(counts, args.k, args.ci, prior=args.prior, scope=args.scope, level=args.level,
                                n_max=args.max_n, n_boot=max(0, args.boot), seed=args.seed)
    except ValueError as e:
        raise InputError(str(e)) from None

    pilot_samples = sum(int(n.sum()) for n, _ in counts)
    tokens = [r["tokens_per_sample"] for r in runs]
    throughput = [r["throughput"] for r in runs]
    cost = [None if c is None else c.to_json_dict() for c in plan_cost(plan, tokens, throughput, pilot_samples)]
    total = (sampling_cost(plan.n_plan, plan.n_problems, tokens, throughput, pilot_samples).to_json_dict()
             if plan.n_plan is not None else None)
    out = {
        "runs": [{"path": r["path"], "model": r["model"], "tokens_per_sample": r["tokens_per_sample"],
                  "throughput_tokens_per_s": r["throughput"]} for r in runs],
        "ci_means": "half-width: the interval is estimate +- ci",
        "plan": plan.to_json_dict(),
        "cost": cost,
        "pilot_samples": pilot_samples,
        "dropped_problems": (len(runs[0]["ids"]) - len(ids)) if len(runs) == 2 else 0,
    }
    if args.json:
        print(json.dumps(out))
        return 0
    print(_format(out, total, plan, runs, args))
    return 0


def _format(out: dict[str, Any], total: dict[str, Any] | None, plan: Any, runs: list[dict[str, Any]],
            args: argparse.Namespace) -> str:
    lvl = f"{100 * plan.level:g}%"
    what = "pass@k" if not plan.difference else "pass@k difference (RUN_DIR - OTHER)"
    lines = []
    for r in runs:
        tok = (f"{r['tokens_per_sample']:,.0f} completion tokens/sample" if r["tokens_per_sample"] is not None
               else "tokens per sample unknown (no completion_tokens recorded)")
        thr = (f"{r['throughput']:,.0f} tokens/s" if r["throughput"] is not None
               else "throughput unknown (manifest.extra has no throughput_tokens_per_s)")
        lines.append(f"pilot: {r['path']} ({r['model']}): {tok}; {thr}")
    n_text = f"n={plan.n_pilot}" if all(int(n.min()) == int(n.max()) for n in (r["n"] for r in runs)) \
        else f"n>={plan.n_pilot}"
    lines.append(f"{plan.n_problems} problems{' shared' if plan.difference else ''}, pilot {n_text} per problem"
                 + (f" ({out['dropped_problems']} of RUN_DIR's problems not in OTHER)"
                    if out["dropped_problems"] else ""))
    lines.append(f"target: {lvl} interval on mean {what} over problems = estimate +- {plan.target_halfwidth:g} "
                 f"(half-width); scope {plan.scope}"
                 + (" (problems resampled, as in 'rlbound passk')" if plan.scope == "population"
                    else " (problems fixed)"))
    for pr, r in zip(plan.priors, runs):
        lines.append(f"prior ({Path(r['path']).name}): {pr.describe()}  [{pr.source}]")
    lines.append("")
    boot = any(r is not None for r in plan.n_needed_range)
    lines.append(f"{'k':>6}  {'now +-':>8}  {'floor +-':>8}  {'n/problem':>10}  "
                 + (f"{'n range':>13}  " if boot else "")
                 + f"{'samples':>12}  {'more':>12}  {'tokens':>12}  {'time':>10}")
    flagged = False
    for j, k in enumerate(plan.ks):
        n_k = plan.n_needed[j]
        c = out["cost"][j]
        if n_k is None:
            if plan.problems_needed[j] is not None:
                tail = "more samples cannot reach the target (see below)"
            else:
                tail = f"not reached by n={plan.n_max:,} (--max-n)"
            lines.append(f"{k:>6}  {plan.pilot_halfwidth[j]:>8.4f}  {plan.between_halfwidth[j]:>8.4f}  {tail}")
            continue
        tok = _fmt_count(c["tokens"]) if c["tokens"] is not None else "unknown"
        tim = _fmt_time(c["seconds"]) if c["seconds"] is not None else "unknown"
        rng_text = ""
        if boot:
            r = plan.n_needed_range[j]
            outside = r is not None and ((r[0] is not None and n_k < r[0]) or (r[1] is not None and n_k > r[1]))
            flagged = flagged or outside
            rng_text = f"{_fmt_range(r) + ('*' if outside else ''):>13}  "
        lines.append(f"{k:>6}  {plan.pilot_halfwidth[j]:>8.4f}  {plan.between_halfwidth[j]:>8.4f}  {n_k:>10,}  "
                     + rng_text
                     + f"{_fmt_count(c['samples']):>12}  {_fmt_count(c['more_samples']):>12}  {tok:>12}  {tim:>10}"
                     + ("  (the pilot already meets it)" if n_k <= plan.n_pilot else ""))
    lines.append("")
    lines.append("now +-: predicted half-width at the pilot's counts; floor +-: the part from between-problem "
                 "spread alone, which no number of samples per problem removes (0 in benchmark scope). "
                 "n >= k always: the unbiased estimator needs k samples.")
    if boot:
        lines.append(f"n range: 10th-90th percentile of n over {args.boot} pilots resampled over problems "
                     "(prior refitted each time); '-' = not reachable in that share of them."
                     + (" *: the plan lies outside its resampled range: it hinges on a few problems; "
                        "treat it as rough." if flagged else ""))
    for j, k in enumerate(plan.ks):
        if plan.problems_needed[j] is not None:
            lines.append(f"k={k}: the between-problem spread alone gives +-{plan.between_halfwidth[j]:.4f} > "
                         f"{plan.target_halfwidth:g}: more samples per problem cannot help; about "
                         f"{plan.problems_needed[j]:,} problems like these would be needed (with many samples each), "
                         f"or use --scope benchmark for an interval on these {plan.n_problems} problems only.")
    if total is not None:
        c = total
        tok = f", {_fmt_count(c['tokens'])} tokens" if c["tokens"] is not None else ", tokens unknown"
        tim = (f", {_fmt_time(c['seconds'])} at the measured throughput" if c["seconds"] is not None
               else "; throughput unknown: time not estimated")
        lines.append(f"plan: n={plan.n_plan:,} samples per problem{' per run' if plan.difference else ''} "
                     f"({_fmt_count(c['samples'])} samples in all, {_fmt_count(c['more_samples'])} beyond the pilot"
                     f"{tok}{tim}).")
    lines.append("model-based: assumes new samples behave like the pilot's (same sampling settings); "
                 "per-problem rates get an empirical-Bayes Beta-mixture posterior, which for k far above the "
                 "pilot's n cannot tell p = 0 from p = 1e-3 (docs/statistics.md).")
    return "\n".join(lines)
