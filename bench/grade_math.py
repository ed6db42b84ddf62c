"""Benchmark: grade a realistic sample set with rlbound vs a plain Math-Verify loop.

Sample set: the 800 real responses of shared/benchmarks/eval_rm_maj_example/math_cot_100.jsonl
(100 MATH problems x 8), each problem's responses resampled to --per-problem (default 64) keeping
the answer frequencies exactly (every response repeated per-problem/8 times, shuffled), i.e. 6,400
responses -- the shape of a pass@k run of Yue et al. 2025 (arXiv 2504.13837), n = 64.

Baseline: Math-Verify ``verify(parse(gold), parse(response))`` once per sample, in this process,
with its defaults (SIGALRM timeouts on the main thread). rlbound: ``verify_items("math", ...)``
with a worker pool (--workers, default 2), hard per-item limits, dedupe by (reference, extracted
answer, policy) and SymPy-free answers decided in the parent. Both run in this process, one after
the other.

One-time start-up is reported apart, as each side pays it once per process whatever the number of
samples: the baseline's is ``import math_verify`` (timed in a fresh interpreter; the loop itself
runs after the import), rlbound's is starting its worker pool (a forkserver that imports SymPy and
Math-Verify). Two ratios are printed:

* same footing, start-up excluded on both sides: baseline loop vs rlbound's second call in this
  process (the forkserver is running; new workers are still forked and every item is graded
  afresh: no verdict is carried over between calls);
* end to end, start-up included on both sides: (import + loop) vs rlbound's first call.

A second set, the 291 public graders' test cases of tests/verify/data/public_grader_cases.jsonl
(Math-Verify, hendrycks MATH, Qwen2.5-Math; free text, final-answer sentences, decimal commas,
mixed numbers, ...), is graded the same two ways and reported on its own SUMMARY line: seconds,
agreement with the cases' labels and false positives of each (``--no-public-cases`` skips it).

    .venv/bin/python bench/grade_math.py [--per-problem 64] [--workers 2] [--no-public-cases]
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO / ".." / "shared" / "benchmarks" / "eval_rm_maj_example" / "math_cot_100.jsonl"
PUBLIC_CASES = REPO / "tests" / "verify" / "data" / "public_grader_cases.jsonl"


def build_samples(path: Path, per_problem: int, seed: int):
    """[(key, gold, response)] with each problem's answer frequencies kept exactly."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rng = random.Random(seed)
    samples = []
    for row in rows:
        responses = row["code"]
        if per_problem % len(responses):
            raise SystemExit(f"--per-problem must be a multiple of {len(responses)} to keep frequencies exact")
        drawn = [r for r in responses for _ in range(per_problem // len(responses))]
        rng.shuffle(drawn)
        samples += [((row["idx"], i), row["gt"], text) for i, text in enumerate(drawn)]
    return samples


def baseline(samples):
    """Math-Verify as its README calls it: ``verify(parse("$gold$"), parse(response))`` per sample.

    (The gold must be wrapped in math delimiters: a bare ``parse("4a-2")`` or ``parse("7\\pi")``
    is read as plain text and never matches; with bare golds 496 of the 6,400 verdicts differ.)
    """
    from math_verify import parse, verify

    out = {}
    for key, gold, text in samples:
        out[key] = bool(verify(parse(f"${gold}$"), parse(text)))
    return out


def with_rlbound(samples, workers: int, timeout_s: float):
    from rlbound.types import Problem
    from rlbound.verify.runner import summarize, verify_items

    problems = {}
    items = []
    for key, gold, text in samples:
        prob = problems.setdefault(key[0], Problem(id=str(key[0]), prompt="", reference=gold))
        items.append((key, prob, text))
    verdicts = dict(verify_items("math", items, workers=workers, timeout_s=timeout_s, progress=False))
    return verdicts, summarize(verdicts.values())


def distinct_keys(samples) -> set:
    """The dedupe keys rlbound verifies: (reference, extracted answer, policy, boxes)."""
    from rlbound.types import Problem
    from rlbound.verify.math import MathVerifier

    v = MathVerifier()
    return {v.cache_key(Problem(id="", prompt="", reference=gold), text) for _, gold, text in samples}


def import_seconds() -> float:
    """Seconds ``import math_verify`` takes in a fresh interpreter (the baseline's one-time start-up)."""
    code = "import time; t = time.perf_counter(); import math_verify; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def public_cases(workers: int, timeout_s: float) -> str:
    """The SUMMARY line for the public graders' test cases: time, agreement and false positives of each."""
    from math_verify import parse, verify

    rows = [json.loads(line) for line in PUBLIC_CASES.read_text(encoding="utf-8").splitlines() if line.strip()]
    expected = {r["id"]: r["expected"] == "correct" for r in rows}
    t0 = time.perf_counter()
    theirs = {}
    for r in rows:
        try:
            theirs[r["id"]] = bool(verify(parse(f"${r['gold']}$"), parse(r["response"])))
        except Exception:  # noqa: BLE001 - counted as disagreeing
            theirs[r["id"]] = None
    t_mv = time.perf_counter() - t0
    samples = [((r["id"], 0), r["gold"], r["response"]) for r in rows]
    t0 = time.perf_counter()
    verdicts, _ = with_rlbound(samples, workers, timeout_s)
    t_ours = time.perf_counter() - t0
    ours = {k[0]: v.correct for k, v in verdicts.items()}

    def score(said):
        agree = sum(said[i] == e for i, e in expected.items())
        fps = sum(bool(said[i]) and not e for i, e in expected.items())
        return agree, fps

    (a_mv, fp_mv), (a_ours, fp_ours) = score(theirs), score(ours)
    only_ours = sorted(i for i, e in expected.items() if ours[i] and not e and not theirs[i])
    return (
        f"SUMMARY grade_math public cases: {len(rows)} cases | Math-Verify loop {t_mv:.2f} s, agrees on {a_mv} "
        f"({a_mv / len(rows):.1%}), {fp_mv} false positives | rlbound workers={workers} {t_ours:.2f} s "
        f"(pool start-up included), agrees on {a_ours} ({a_ours / len(rows):.1%}), {fp_ours} false positives, "
        f"{len(only_ours)} that Math-Verify does not make {only_ours}"
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--per-problem", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-public-cases", action="store_true", help="skip the public graders' test cases")
    args = ap.parse_args(argv)
    if not args.data.is_file():
        print(f"grade_math: data not found: {args.data}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("math_verify").setLevel(logging.ERROR)

    samples = build_samples(args.data, args.per_problem, args.seed)
    t_import = import_seconds()
    import math_verify  # noqa: F401 - import cost kept out of the baseline's time (timed above)

    t0 = time.perf_counter()
    base = baseline(samples)
    t_base = time.perf_counter() - t0
    print(f"Math-Verify loop (in-process):   {len(samples)} responses in {t_base:.2f} s "
          f"({len(samples) / t_base:.0f}/s), {sum(base.values())} correct")

    t0 = time.perf_counter()
    ours, counts = with_rlbound(samples, args.workers, args.timeout)
    t_cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours_warm, _ = with_rlbound(samples, args.workers, args.timeout)
    t_warm = time.perf_counter() - t0
    keys = distinct_keys(samples)
    print(f"rlbound (workers={args.workers}, first call): {len(ours)} responses in {t_cold:.2f} s "
          f"({len(ours) / t_cold:.0f}/s); {len(keys)} distinct keys; {counts}")
    print(f"rlbound (workers={args.workers}, second call): {len(ours_warm)} responses in {t_warm:.2f} s")

    diffs = [(k, base[k], ours[k]) for k in base if base[k] != ours[k].correct]
    warm_same = all(ours[k] == ours_warm[k] for k in ours)
    by_problem: dict = {}
    for (idx, _), b, o in diffs:
        by_problem.setdefault((idx, b, o.extracted, o.status.value), 0)
        by_problem[(idx, b, o.extracted, o.status.value)] += 1
    for (idx, b, extracted, status), n in sorted(by_problem.items()):
        print(f"  differs: problem {idx}: {n} samples, Math-Verify loop {'correct' if b else 'wrong'}, "
              f"rlbound {status} (extracted {extracted!r})")
    same_footing, end_to_end = t_base / t_warm, (t_import + t_base) / t_cold
    print(
        f"SUMMARY grade_math: {len(samples)} responses, {len(keys)} distinct keys | Math-Verify loop "
        f"{t_base:.2f} s (+ {t_import:.2f} s import) | rlbound workers={args.workers} {t_warm:.2f} s "
        f"(+ {t_cold - t_warm:.2f} s pool start-up: first call {t_cold:.2f} s) | speed-up "
        f"{same_footing:.1f}x start-up excluded on both sides (goal >= 10x: "
        f"{'met' if same_footing >= 10 else 'NOT met'}), {end_to_end:.1f}x end to end | "
        f"verdict differences vs Math-Verify loop: {len(diffs)} | first == second call verdicts: {warm_same}"
    )
    if not args.no_public_cases and PUBLIC_CASES.is_file():
        print(public_cases(args.workers, args.timeout))
    return 0


if __name__ == "__main__":
    sys.exit(main())
