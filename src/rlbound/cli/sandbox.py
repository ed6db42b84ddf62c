"""``rlbound sandbox data|pretrain|eval``: the built-in synthetic task and its tiny models."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    sb = sub.add_parser("sandbox", help="synthetic step-checkable task and tiny models trained from scratch",
                        description="The built-in sandbox: dependency-graph arithmetic mod a prime, solutions as "
                        "checked steps, tiny Llama models pretrained on CPU (docs/sandbox.md).")
    sbs = sb.add_subparsers(dest="sandbox_command", metavar="SUBCOMMAND")

    d = sbs.add_parser("data", help="write sandbox problems as JSONL (one Problem per line)")
    d.add_argument("--split", choices=("train", "test"), default="test")
    d.add_argument("--count", type=int, default=200, help="number of problems")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--preset", default="tiny", help="take the task settings of this pretraining preset")
    d.add_argument("--out", required=True, help="output .jsonl file (never overwritten)")
    d.set_defaults(func=cmd_data)

    p = sbs.add_parser("pretrain", help="pretrain a sandbox model from scratch (resumes after kill -9)")
    p.add_argument("--preset", default="tiny", help="tiny (base), teacher or toy (see docs/sandbox.md)")
    p.add_argument("--out", required=True, help="model folder (save_pretrained format)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: idle cores)")
    p.set_defaults(func=cmd_pretrain)

    e = sbs.add_parser("eval", help="sampled accuracy of a sandbox model by difficulty")
    e.add_argument("model")
    e.add_argument("--per-difficulty", type=int, default=50)
    e.add_argument("--samples", type=int, default=32)
    e.add_argument("--temperature", type=float, default=1.0)
    e.set_defaults(func=cmd_eval)
    sb.set_defaults(func=lambda args: (sb.print_help(), 2)[1])


def cmd_data(args: argparse.Namespace) -> int:
    from rlbound.errors import InputError
    from rlbound.toy.presets import get_recipe
    from rlbound.toy.tasks import generate_split, write_problems_jsonl

    if args.count < 1:
        raise InputError("--count must be >= 1", field="count")
    problems = generate_split(get_recipe(args.preset).task, args.split, args.count, args.seed)
    rows = write_problems_jsonl(problems, args.out)
    print(f"wrote {rows} {args.split} problems to {args.out}")
    return 0


def cmd_pretrain(args: argparse.Namespace) -> int:
    from rlbound.toy.pretrain import pretrain
    out = pretrain(args.preset, args.out, threads=args.threads)
    print(f"model saved in {out}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from rlbound.toy.pretrain import evaluate
    res = evaluate(args.model, per_difficulty=args.per_difficulty, n_samples=args.samples,
                   temperature=args.temperature)
    print(f"{'ops':>4}  {'pass@1':>7}  {'CoT-pass@1':>10}  {'pass@n':>7}")
    for d, r in sorted(res.items()):
        print(f"{d:>4}  {r['answer_acc']:>7.3f}  {r['cot_acc']:>10.3f}  {r['pass_n']:>7.3f}")
    return 0
