"""``rlbound study``: the whole boundary study on the built-in sandbox, one command."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("study", help="the whole study on the built-in sandbox: pretrain, RL, distil, sample, report",
                       description="Reproduces the findings of Yue et al. 2025 on the synthetic sandbox: crossing "
                       "pass@k curves, solvable coverage, checkpoints over training, distillation, perplexity "
                       "under the base model, CoT-pass@k. Resumable: rerun the same command after a crash. "
                       "Presets: demo (make demo), algorithms (all six RL algorithms + ablations, slower), "
                       "smoke (toy sizes, for CI).")
    s.add_argument("--preset", default="demo", help="demo, algorithms or smoke")
    s.add_argument("--out", required=True, help="output folder (runs/, report/, findings.json)")
    s.add_argument("--from-scratch", action="store_true",
                   help="pretrain the base and teacher models instead of using the shipped checkpoints")
    s.add_argument("--seed", type=int, default=None,
                   help="seed of RL, distillation and sampling (default: the preset's, 0); the test problems stay the same")
    s.add_argument("--seeds", default=None, metavar="S1,S2,...",
                   help="run the study once per seed into OUT/seed-<S> (trained models shared) and print in how "
                   "many seeds each finding held; writes OUT/seeds.json")
    s.set_defaults(func=cmd_study)


def cmd_study(args: argparse.Namespace) -> int:
    import json
    from dataclasses import replace
    from pathlib import Path

    from rlbound.errors import InputError
    from rlbound.study import findings as F
    from rlbound.study.presets import get_study_preset
    from rlbound.study.run import run_study

    preset = get_study_preset(args.preset)
    if args.seeds is None:
        run_study(preset if args.seed is None else replace(preset, seed=args.seed), args.out,
                  from_scratch=args.from_scratch)
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
    per_seed = {s: run_study(replace(preset, seed=s), out / f"seed-{s}", from_scratch=args.from_scratch)["findings"]
                for s in seeds}
    rows = F.across_seeds(per_seed)
    (out / "seeds.json").write_text(json.dumps({"preset": preset.name, "seeds": seeds, "findings": rows}, indent=2))
    print(f"\nrlbound study --preset {preset.name} over seeds {', '.join(map(str, seeds))}:")
    print(F.format_across_seeds(rows))
    print(f"\nper-seed reports: {out}/seed-<S>/report/report.html; summary: {out / 'seeds.json'}")
    return 0
