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
    s.set_defaults(func=cmd_study)


def cmd_study(args: argparse.Namespace) -> int:
    from rlbound.study.presets import get_study_preset
    from rlbound.study.run import run_study

    run_study(get_study_preset(args.preset), args.out, from_scratch=args.from_scratch)
    return 0
