"""``rlbound report``: every analysis of Yue et al. 2025 as figures, metrics.json and one HTML page."""

from __future__ import annotations

import argparse

from rlbound.cli.metrics import _parse_ks


def register(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("report", help="write report.html, figures/ and metrics.json for one or more runs",
                       description="pass@k curves with 95%% bands and crossing k*, Table-2 style efficiency gaps, "
                       "solvable coverage, accuracy histograms, perplexity under the base model, training-step "
                       "curves, CoT-pass@k and entropy, as far as each run carries the data (Yue et al. 2025).")
    r.add_argument("runs", nargs="+", metavar="RUN", help="run directories (the base run first by default)")
    r.add_argument("--labels", default=None, help="comma-separated labels, one per run (default: folder names)")
    r.add_argument("--base", default=None, help="label of the base run (default: the first run)")
    r.add_argument("--out", required=True, help="output folder")
    r.add_argument("--k", type=_parse_ks, default=None, metavar="1,2,4,...", help="k values (default: powers of 2)")
    r.add_argument("--extra-metrics", action="store_true", help="also maj@k, G-Pass@k, mG-Pass@k and cover@tau")
    r.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from rlbound.report.build import build_report

    result = build_report(args.runs, labels=args.labels, base=args.base, out_dir=args.out, ks=args.k,
                          extra_metrics=args.extra_metrics)
    print(f"wrote {result.html_path} ({len(result.figures)} figures) and {result.metrics_path}")
    for note in result.notes:
        print(f"  note: {note}")
    return 0
