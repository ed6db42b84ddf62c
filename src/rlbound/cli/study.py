"""``rlbound study``: the whole boundary study on the built-in sandbox, or a models x benchmarks grid
from a config file (``--config``), one command."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("study", help="the whole study on the built-in sandbox: pretrain, RL, distil, sample, report",
                       description="Reproduces the findings of Yue et al. 2025 on the synthetic sandbox: crossing "
                       "pass@k curves, solvable coverage, checkpoints over training, distillation, perplexity "
                       "under the base model, CoT-pass@k. Resumable: rerun the same command after a crash. "
                       "Presets: demo (make demo), algorithms (all six RL algorithms + ablations, slower), "
                       "smoke (toy sizes, for CI), exposure (does RL widen the boundary on a skill the base saw at "
                       "0%%, 1%% or 10%% of pretraining?).")
    s.add_argument("--preset", default=None, help="demo (the default), algorithms, smoke or exposure")
    s.add_argument("--out", required=True, help="output folder (runs/, report/, findings.json)")
    s.add_argument("--from-scratch", action="store_true",
                   help="pretrain the base and teacher models instead of using the shipped checkpoints")
    s.add_argument("--seed", type=int, default=None,
                   help="seed of RL, distillation and sampling (default: the preset's, 0); the test problems stay "
                   "the same. With --config: the run seed of every benchmark")
    s.add_argument("--seeds", default=None, metavar="S1,S2,...",
                   help="run the study once per seed into OUT/seed-<S> (trained models shared) and print "
                   "each finding's verdict per seed and pooled over seeds; writes OUT/seeds.json")
    g = s.add_argument_group("models x benchmarks grid (--config; docs/grid.md)")
    g.add_argument("--config", default=None, metavar="STUDY.TOML",
                   help="run the grid of models x benchmarks this TOML file names, one run per cell under "
                   "OUT/runs/<benchmark>/<model>; resumable; exit code 1 when a cell failed")
    g.add_argument("--dry-run", action="store_true",
                   help="print the grid's plan (cells, problems, samples, tokens, time, disk) and exit; loads no model")
    g.add_argument("--n", type=int, default=None, help="samples per problem of every benchmark")
    g.add_argument("--temperature", type=float, default=None, help="sampling temperature of every benchmark")
    g.add_argument("--top-p", type=float, default=None, help="top-p of every benchmark")
    g.add_argument("--max-tokens", type=int, default=None, help="most new tokens per sample of every benchmark")
    g.add_argument("--limit", type=int, default=None, help="only the first LIMIT problems of every benchmark")
    g.add_argument("--models", default=None, metavar="A,B,...", help="only these models (and their comparisons)")
    g.add_argument("--benchmarks", default=None, metavar="X,Y,...", help="only these benchmarks")
    g.add_argument("--data-dir", default=None, help="where benchmark names resolve (overrides the config's data_dir)")
    g.add_argument("--device", default=None, help="device of every hf and sandbox model (cpu, cuda, cuda:1, ...)")
    g.add_argument("--verify-workers", type=int, default=None, help="grading processes (0: in this process)")
    s.set_defaults(func=cmd_study)


def _say(line: str) -> None:
    """A study's progress line on stderr, time-stamped."""
    import sys
    import time

    print(f"[study {time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


def _say_above_bars(line: str) -> None:
    """A grid's progress line on stderr, time-stamped, written above any open progress bar."""
    import sys
    import time

    from tqdm import tqdm

    tqdm.write(f"[study {time.strftime('%H:%M:%S')}] {line}", file=sys.stderr)


def _print_study(result: dict, out: str) -> None:
    """The findings table of one finished study."""
    from pathlib import Path

    from rlbound.study import findings as F

    found = F.from_json(result["findings"])
    print()
    print(f"rlbound study --preset {result['preset']['name']}: {len(found)} findings "
          f"({result['stage_seconds']['total']:.0f} s)")
    print(F.format_findings(found))
    print(f"\nreport: {result['report']}\nfindings: {Path(out) / 'findings.json'}")


def _exposure(preset: Any, args: argparse.Namespace) -> int:
    """``--preset exposure``: one verdict per base on the long-tail split."""
    from dataclasses import replace
    from pathlib import Path

    from rlbound.errors import InputError
    from rlbound.study import findings as F
    from rlbound.study.exposure import SUMMARY, run_exposure

    if args.seeds is not None:
        raise InputError("--seeds is not supported by the exposure preset; give --seed", field="seeds")
    result = run_exposure(preset if args.seed is None else replace(preset, seed=args.seed), args.out,
                          from_scratch=args.from_scratch, log=_say)
    print(f"\nrlbound study --preset {preset.name}: long-tail boundary per base "
          f"({result['stage_seconds']['total']:.0f} s)")
    print(F.format_findings(F.from_json(result["findings"])))
    print(f"\nfindings: {Path(args.out) / SUMMARY}")
    return 0


def cmd_study(args: argparse.Namespace) -> int:
    from dataclasses import replace
    from pathlib import Path

    from rlbound.errors import InputError
    from rlbound.study.presets import get_study_preset
    from rlbound.study.run import run_study
    from rlbound.study.seeds import SUMMARY, format_across_seeds, run_seeds

    if args.config is not None:
        return _grid(args)
    if args.dry_run:
        raise InputError("--dry-run needs --config (a grid config file)", field="dry-run")
    preset = get_study_preset(args.preset or "demo")
    if preset.exposure_bases:
        return _exposure(preset, args)
    if args.seeds is None:
        result = run_study(preset if args.seed is None else replace(preset, seed=args.seed), args.out,
                           from_scratch=args.from_scratch, log=_say)
        _print_study(result, args.out)
        return 0
    if args.seed is not None:
        raise InputError("give --seed or --seeds, not both", field="seeds")
    try:
        seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"--seeds must be integers separated by commas, got {args.seeds!r}", field="seeds") from None
    if len(seeds) < 1 or len(set(seeds)) != len(seeds):
        raise InputError(f"--seeds needs distinct integers, got {args.seeds!r}", field="seeds")
    out = Path(args.out)
    summary = run_seeds(preset, seeds, out, from_scratch=args.from_scratch, log=_say,
                        on_study=lambda s, result: _print_study(result, str(out / f"seed-{s}")))
    print(f"\nrlbound study --preset {preset.name} over seeds {', '.join(map(str, seeds))}:")
    print(format_across_seeds(summary["findings"]))
    print(f"\nper-seed reports: {out}/seed-<S>/report/report.html; summary: {out / SUMMARY}")
    return 0


def _grid(args: argparse.Namespace) -> int:
    """``--config``: the models x benchmarks grid (or its plan with ``--dry-run``)."""
    from rlbound.errors import InputError
    from rlbound.study.grid_config import load_grid, with_overrides

    if args.preset is not None or args.seeds is not None or args.from_scratch:
        raise InputError("--config runs the grid it names; --preset, --seeds and --from-scratch are for the "
                         "sandbox presets", field="config")
    split = lambda v: tuple(x.strip() for x in v.split(",") if x.strip()) if v else ()  # noqa: E731
    spec = with_overrides(load_grid(args.config), models=split(args.models), benchmarks=split(args.benchmarks),
                          data_dir=args.data_dir, device=args.device, verify_workers=args.verify_workers,
                          n=args.n, temperature=args.temperature, top_p=args.top_p, max_tokens=args.max_tokens,
                          limit=args.limit, seed=args.seed)
    if args.dry_run:
        from rlbound.study.grid_plan import plan_grid, plan_lines

        print("\n".join(plan_lines(spec, plan_grid(spec, args.out), args.out)))
        return 0
    from rlbound.study.grid import run_grid

    result = run_grid(spec, args.out, log=_say_above_bars)
    _print_grid(result, args.config, args.out)
    return 1 if result.failed else 0


def _print_grid(result, config: str, out: str) -> None:
    """The findings of a finished grid, then what failed."""
    from pathlib import Path

    done = sum(c.status == "done" for c in result.cells)
    print(f"\nrlbound study --config {config}: {len(result.cells)} cells ({done} done, {len(result.cells) - done} "
          f"failed), {len(result.findings)} comparison x benchmark findings ({result.seconds:.0f} s)")
    for f in result.findings:
        ci = f" (95% CI {f['ci95'][0]:+.3f} to {f['ci95'][1]:+.3f})" if f.get("ci95") else ""
        print(f"[{f['verdict'].upper():>12}] {f['claim']}{ci}")
        print(f"               {f['measured']}")
    if result.failed:
        print(f"\n{len(result.failed)} failed (rerun the same command to retry them; finished cells are kept):")
        for line in result.failed:
            print(f"  {line}")
    print(f"\nindex: {result.index or '(not written)'}\nfindings: {Path(out) / 'findings.json'}")
