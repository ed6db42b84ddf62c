"""``rlbound study``: the whole boundary study on the built-in sandbox, one command."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("study", help="the whole study on the built-in sandbox: pretrain, RL, distil, sample, report",
                       description="Reproduces the findings of Yue et al. 2025 on the synthetic sandbox: crossing "
                       "pass@k curves, solvable coverage, checkpoints over training, distillation, perplexity "
                       "under the base model, CoT-pass@k. Resumable: rerun the same command after a crash. "
                       "Presets: demo (make demo), algorithms (all six RL algorithms + ablations, slower), "
                       "smoke (toy sizes, for CI), exposure (does RL widen the boundary on a skill the base saw at "
                       "0%%, 1%% or 10%% of pretraining?).")
    s.add_argument("--preset", default="demo", help="demo, algorithms, smoke or exposure")
    s.add_argument("--out", required=True, help="output folder (runs/, report/, findings.json)")
    s.add_argument("--from-scratch", action="store_true",
                   help="pretrain the base and teacher models instead of using the shipped checkpoints")
    s.add_argument("--seed", type=int, default=None,
                   help="seed of RL, distillation and sampling (default: the preset's, 0); the test problems stay the same")
    s.add_argument("--seeds", default=None, metavar="S1,S2,...",
                   help="run the study once per seed into OUT/seed-<S> (trained models shared) and print "
                   "each finding's verdict per seed and pooled over seeds; writes OUT/seeds.json")
    s.set_defaults(func=cmd_study)


def _say(line: str) -> None:
    """A study's progress line on stderr, time-stamped."""
    import sys
    import time

    print(f"[study {time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


def _print_study(result: dict, out: str) -> None:
    """The findings table of one finished study."""
    from pathlib import Path

    from rlbound.study import findings as F

    found = F.from_json(result["findings"])
    print()
    print(f"rlbound study --preset {result['preset']['name']}: {len(found)} findings "
          f"({result['stage_seconds']['total']:.0f} s)")
    print(F.format_findings(found))
    print(f"\nreport: {result['report']}\nfindings: {Path(out) / 'findings.json'}")


def _exposure(preset: Any, args: argparse.Namespace) -> int:
    """``--preset exposure``: one verdict per base on the long-tail split."""
    from dataclasses import replace
    from pathlib import Path

    from rlbound.errors import InputError
    from rlbound.study import findings as F
    from rlbound.study.exposure import SUMMARY, run_exposure

    if args.seeds is not None:
        raise InputError("--seeds is not supported by the exposure preset; give --seed", field="seeds")
    result = run_exposure(preset if args.seed is None else replace(preset, seed=args.seed), args.out,
                          from_scratch=args.from_scratch, log=_say)
    print(f"\nrlbound study --preset {preset.name}: long-tail boundary per base "
          f"({result['stage_seconds']['total']:.0f} s)")
    print(F.format_findings(F.from_json(result["findings"])))
    print(f"\nfindings: {Path(args.out) / SUMMARY}")
    return 0


def cmd_study(args: argparse.Namespace) -> int:
    from dataclasses import replace
    from pathlib import Path

    from rlbound.errors import InputError
    from rlbound.study.presets import get_study_preset
    from rlbound.study.run import run_study
    from rlbound.study.seeds import SUMMARY, format_across_seeds, run_seeds

    preset = get_study_preset(args.preset)
    if preset.exposure_bases:
        return _exposure(preset, args)
    if args.seeds is None:
        result = run_study(preset if args.seed is None else replace(preset, seed=args.seed), args.out,
                           from_scratch=args.from_scratch, log=_say)
        _print_study(result, args.out)
        return 0
    if args.seed is not None:
        raise InputError("give --seed or --seeds, not both", field="seeds")
    try:
        seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"--seeds must be integers separated by commas, got {args.seeds!r}", field="seeds") from None
    if len(seeds) < 1 or len(set(seeds)) != len(seeds):
        raise InputError(f"--seeds needs distinct integers, got {args.seeds!r}", field="seeds")
    out = Path(args.out)
    summary = run_seeds(preset, seeds, out, from_scratch=args.from_scratch, log=_say,
                        on_study=lambda s, result: _print_study(result, str(out / f"seed-{s}")))
    print(f"\nrlbound study --preset {preset.name} over seeds {', '.join(map(str, seeds))}:")
    print(format_across_seeds(summary["findings"]))
    print(f"\nper-seed reports: {out}/seed-<S>/report/report.html; summary: {out / SUMMARY}")
    return 0
