"""``rlbound train`` (RLVR, one readable loop) and ``rlbound distill``."""

from __future__ import annotations

import argparse

from rlbound.cli.args import add_dataclass_options, build_config


def register(sub: argparse._SubParsersAction) -> None:
    from rlbound.rl.distill import DistillConfig
    from rlbound.rl.trainer import TrainConfig

    t = sub.add_parser("train", help="RL with verifiable rewards: ppo, grpo, dr_grpo, rloo, reinforce_pp, remax, "
                       "dapo, passk", description="rollout -> verifier rewards -> advantages -> loss -> optimizer "
                       "step; checkpoints every --save-every steps; a killed run resumes (docs/algorithms.md).")
    t.add_argument("--config", default=None, help="TOML file of options; command-line options override it")
    add_dataclass_options(t, TrainConfig)
    t.set_defaults(func=cmd_train)

    d = sub.add_parser("distill", help="distil a teacher into a student on verified teacher traces",
                       description="The teacher samples traces on training prompts; traces the verifier accepts "
                       "fine-tune the student (next-token loss on response tokens only).")
    d.add_argument("--config", default=None, help="TOML file of options; command-line options override it")
    add_dataclass_options(d, DistillConfig)
    d.set_defaults(func=cmd_distill)


def cmd_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from rlbound.rl.trainer import TrainConfig, train

    # held-out evaluation lines go above the progress bar
    final = train(build_config(TrainConfig, args, args.config), on_message=tqdm.write)
    print(f"final checkpoint: {final}")
    return 0


def cmd_distill(args: argparse.Namespace) -> int:
    from rlbound.rl.distill import DistillConfig, distill

    final = distill(build_config(DistillConfig, args, args.config))
    print(f"distilled model: {final}")
    return 0
