"""``rlbound verify`` (add verdicts to a run, resumable) and ``rlbound grade`` (grade a JSONL file)."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from rlbound.errors import InputError

CHUNK_ROWS = 512      # verdicts per store chunk
CHUNK_SECONDS = 10.0  # or at least this often, so kill -9 loses little


def register(sub: argparse._SubParsersAction) -> None:
    v = sub.add_parser("verify", help="add verdicts to a run (resumable: only missing verdicts are computed)",
                       description="Grades every sample of RUN_DIR that has no verdict yet, in worker processes "
                       "with a hard wall-clock limit per item; timeouts are counted apart from wrong answers.")
    v.add_argument("run_dir")
    v.add_argument("--verifier", default=None, help="override the verifier named by each problem")
    v.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes (default: all cores)")
    v.add_argument("--timeout", type=float, default=5.0, help="wall-clock seconds per item (default 5)")
    v.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS,
                   help=f"verdicts per stored chunk; a kill loses at most one chunk (default {CHUNK_ROWS})")
    v.set_defaults(func=cmd_verify)

    g = sub.add_parser("grade", help="grade rows of {problem_id, reference, response} from a JSONL file",
                       description="Writes one verdict row per input row (problem_id, status, correct, extracted, "
                       "detail, verifier, verifier_version). Code rows (humaneval) add 'tests' and 'entry_point' "
                       "and may carry the 'prompt'.")
    g.add_argument("input")
    g.add_argument("--verifier", required=True, help="verifier name (math, humaneval, stdio, synthetic)")
    g.add_argument("--out", default=None, help="output JSONL (default: INPUT_graded.jsonl beside the input)")
    g.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    g.add_argument("--timeout", type=float, default=5.0)
    g.set_defaults(func=cmd_grade)


def _check_verifier(name: str) -> None:
    from rlbound.verify.base import available

    if name not in available():
        raise InputError(f"unknown verifier {name!r}; known: {', '.join(available())}", field="verifier")


def _print_summary(counts: dict[str, int], seconds: float) -> None:
    total = sum(counts.values())
    parts = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    print(f"verified {total} responses in {seconds:.1f} s: {parts}")
    if counts.get("timeout"):
        print(f"  note: {counts['timeout']} timeouts are reported apart, not counted as wrong; "
              "rerun with a larger --timeout to grade them")


def cmd_verify(args: argparse.Namespace) -> int:
    from rlbound.data.store import RunStore
    from rlbound.verify.runner import verify_run
    if args.chunk_rows < 1:
        raise InputError(f"--chunk-rows must be >= 1, got {args.chunk_rows}", field="chunk-rows")
    store = RunStore.open(args.run_dir)
    if args.verifier:
        _check_verifier(args.verifier)
    if not store.unverified():
        print(f"{store.path}: every sample already has a verdict")
        return 0
    t0 = time.time()
    counts = verify_run(store, verifier=args.verifier, workers=args.workers, timeout_s=args.timeout,
                        chunk_rows=args.chunk_rows)
    _print_summary(dict(counts), time.time() - t0)
    return 0


def _check_output(out: Path) -> None:
    """Refuse an output path that cannot be written before any grading is done."""
    if out.is_dir():
        raise InputError("is a directory, expected an output file", path=str(out), field="out")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create the output folder ({(e.strerror or type(e).__name__).lower()})",
                         path=str(out.parent), field="out") from None


def cmd_grade(args: argparse.Namespace) -> int:
    from rlbound.data.jsonl import read_jsonl, require, write_jsonl_atomic
    from rlbound.types import Problem
    from rlbound.verify.runner import verify_items

    _check_verifier(args.verifier)
    src = Path(args.input)
    items = []
    for lineno, row in read_jsonl(src):
        pid = require(row, "problem_id", (str, int), path=src, line=lineno)
        response = require(row, "response", str, path=src, line=lineno)
        ref_field = "tests" if args.verifier == "humaneval" and "tests" in row else "reference"
        reference = require(row, ref_field, (str, int, float), path=src, line=lineno)
        meta = {}
        if args.verifier == "humaneval":
            meta["entry_point"] = require(row, "entry_point", str, path=src, line=lineno)
        prompt = row.get("prompt", "")
        if not isinstance(prompt, str):
            raise InputError("field 'prompt' must be str", path=str(src), line=lineno, field="prompt")
        problem = Problem(id=str(pid), prompt=prompt, reference=str(reference), verifier=args.verifier, metadata=meta)
        items.append((lineno, problem, response))
    out = Path(args.out) if args.out else src.with_name(src.stem + "_graded.jsonl")
    _check_output(out)
    t0 = time.time()
    verdicts = dict(verify_items(args.verifier, items, workers=args.workers, timeout_s=args.timeout))
    counts: dict[str, int] = {}
    rows = []
    for lineno, problem, _ in items:
        v = verdicts[lineno]
        counts[v.status.value] = counts.get(v.status.value, 0) + 1
        rows.append({"problem_id": problem.id, "line": lineno, "status": v.status.value, "correct": v.correct,
                     "extracted": v.extracted, "detail": v.detail, "verifier": v.verifier,
                     "verifier_version": v.verifier_version, "answer_correct": v.answer_correct,
                     "steps_correct": v.steps_correct})
    write_jsonl_atomic(out, rows)
    _print_summary(counts, time.time() - t0)
    print(f"wrote {len(rows)} verdict rows to {out}")
    return 0
