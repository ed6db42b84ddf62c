"""``rlbound sample`` (resumable sampling on any backend) and ``rlbound perplexity``."""

from __future__ import annotations

import argparse
import dataclasses

from rlbound.cli.args import add_dataclass_options
from rlbound.errors import InputError


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
    p.add_argument("--base-url", default=None,
                   help="openai backend: the server's API root (default http://127.0.0.1:8000/v1)")
    p.set_defaults(func=cmd_perplexity)

    from rlbound.backends.serve import build_arg_parser

    sv = sub.add_parser("serve", help="serve a model over an OpenAI-compatible HTTP API (/v1/completions)",
                        description="A small OpenAI-compatible server on top of the hf backend (completions and "
                        "chat, streaming, logprobs with top alternatives, token-id prompts, echo+logprobs scoring, "
                        "per-request seeds; docs/backends.md); for tests and for small models. Without MODEL it "
                        f"serves the shipped sandbox model under the name {SANDBOX_MODEL!r}.")
    build_arg_parser(sv, model_help="model directory (transformers format) or hub id "
                     f"(default: the shipped sandbox model, served as {SANDBOX_MODEL!r})")
    sv.set_defaults(func=cmd_serve)


SANDBOX_MODEL = "tiny"  # what ``rlbound serve`` serves without MODEL, and the name it serves it under


def cmd_serve(args: argparse.Namespace) -> int:
    from rlbound.backends.serve import run

    if args.model is None:
        from rlbound.study.run import shipped_checkpoint

        path = shipped_checkpoint(SANDBOX_MODEL)
        if path is None:
            raise InputError(f"the shipped sandbox model {SANDBOX_MODEL!r} is missing from this installation; "
                             "give a model directory", field="model")
        args.model, args.name = str(path), args.name or SANDBOX_MODEL
    return run(args)


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
    if args.base_url is not None:
        if args.backend != "openai":
            raise InputError(f"--base-url is an option of --backend openai, not {args.backend}", field="base_url")
        options = options_class("openai")(base_url=args.base_url)
    path = score_run(args.run_dir, args.model, backend=args.backend, options=options, scorer_label=args.label)
    print(f"wrote {path}")
    return 0
