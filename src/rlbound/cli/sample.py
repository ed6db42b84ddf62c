"""``rlbound sample`` (resumable sampling on any backend) and ``rlbound perplexity``."""

from __future__ import annotations

import argparse
import dataclasses

from rlbound.cli.args import add_dataclass_options


def register(sub: argparse._SubParsersAction) -> None:
    from rlbound.sampling.config import SampleConfig

    s = sub.add_parser("sample", help="sample n responses per problem into a run directory (resumable)",
                       description="Samples every missing (problem, sample index) cell: kill it at any moment and "
                       "rerun the same command to finish. Options may come from a TOML file (--config); "
                       "command-line options override it. The resolved config is saved in the run's manifest.")
    s.add_argument("--config", default=None, help="TOML file of options (keys as below, - or _)")
    add_dataclass_options(s, SampleConfig)
    s.set_defaults(func=cmd_sample)

    p = sub.add_parser("perplexity", help="score a run's responses under a model (perplexity.parquet)",
                       description="Per-token log-probabilities and per-response perplexity of every response of "
                       "RUN_DIR under MODEL (Yue et al. 2025 score RL responses under the base model).")
    p.add_argument("run_dir")
    p.add_argument("--model", required=True, help="model directory or hub id")
    p.add_argument("--backend", default="hf", help="scoring backend (hf, vllm, openai)")
    p.add_argument("--batch-size", type=int, default=256, help="sequences per forward pass (hf)")
    p.add_argument("--label", default=None, help="scorer label stored in the file (default: the model path)")
    p.set_defaults(func=cmd_perplexity)

    from rlbound.backends.serve import build_arg_parser, run

    sv = sub.add_parser("serve", help="serve a model over an OpenAI-compatible HTTP API (/v1/completions)",
                        description="A small OpenAI-compatible server (completions, chat, echo+logprobs scoring, "
                        "per-request seeds) on top of the hf backend; for tests and for small models.")
    build_arg_parser(sv)
    sv.set_defaults(func=run)


def cmd_sample(args: argparse.Namespace) -> int:
    from rlbound.sampling import run_sampling
    from rlbound.sampling.config import SampleConfig, load_config

    overrides = {f.name: getattr(args, f.name, None) for f in dataclasses.fields(SampleConfig)}
    config = load_config(args.config, overrides)
    store = run_sampling(config)
    print(f"run complete: {store.path}")
    return 0


def cmd_perplexity(args: argparse.Namespace) -> int:
    from rlbound.backends.protocol import options_class
    from rlbound.scoring.perplexity import score_run
    options = None
    if args.backend == "hf":
        options = options_class("hf")(batch_size=args.batch_size)
    path = score_run(args.run_dir, args.model, backend=args.backend, options=options, scorer_label=args.label)
    print(f"wrote {path}")
    return 0
