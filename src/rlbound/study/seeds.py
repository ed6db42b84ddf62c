"""The study over several seeds (``rlbound study --seeds``): each finding's verdict per seed and pooled.

Yue et al. 2025 (arXiv 2504.13837) report one run per setting; a small sandbox model needs more.
``run_seeds`` runs the study once per seed into ``OUT/seed-<S>`` (the trained base and teacher
models are shared through the model cache) and writes ``OUT/seeds.json``; ``across_seeds`` is the
pure aggregation and ``format_across_seeds`` its terminal table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from rlbound.data.atomic import atomic_write_text
from rlbound.study import findings as F
from rlbound.study.presets import StudyPreset
from rlbound.study.run import Log, judge, load_study_data, pool, run_paths_of, run_study

SUMMARY = "seeds.json"


def across_seeds(per_seed: Mapping[int, Sequence[Mapping]], pooled: Sequence[Mapping] | None = None) -> list[dict]:
    """Each finding over several seeds of the same study: ``per_seed`` maps a seed to its
    ``rlbound.study.findings.to_json`` findings, ``pooled`` (optional) the findings judged on all
    seeds' problems at once. Returns per finding key (in first-seen order) the claim, each seed's
    verdict, interval and measured line, how many seeds held / gave a verdict other than info, and
    the pooled verdict."""
    rows: dict[str, dict] = {}
    for seed, findings in per_seed.items():
        for f in F.from_json(findings):
            row = rows.setdefault(f.key, {"key": f.key, "claim": f.claim, "held": 0, "evaluated": 0,
                                          "verdicts": {}, "ci95": {}, "measured": {}, "pooled": None})
            if f.verdict != "info":
                row["evaluated"] += 1
                row["held"] += int(f.verdict == "held")
            row["verdicts"][seed] = f.verdict
            row["ci95"][seed] = None if f.ci95 is None else list(f.ci95)
            row["measured"][seed] = f.measured
    for f in F.from_json(pooled or []):
        if f.key in rows:
            rows[f.key]["pooled"] = {"verdict": f.verdict, "ci95": None if f.ci95 is None else list(f.ci95),
                                     "measured": f.measured}
    return list(rows.values())


def format_across_seeds(rows: Sequence[Mapping]) -> str:
    """Terminal table of ``across_seeds``: the pooled verdict with its interval and how many seeds held,
    then one line per seed (verdict and measured numbers)."""
    lines = []
    for r in rows:
        pooled = r.get("pooled")
        mark = pooled["verdict"].upper() if pooled and pooled["verdict"] != "info" else "info"
        ci = f" (pooled 95% CI {pooled['ci95'][0]:+.3f} to {pooled['ci95'][1]:+.3f})" if pooled and pooled["ci95"] else ""
        count = f" held in {r['held']}/{r['evaluated']} seeds" if r["evaluated"] else ""
        lines.append(f"[{mark:>12}] {r['claim']}{ci}{count}")
        lines += [f"               seed {seed} [{r['verdicts'].get(seed, '?')}]: {m}" for seed, m in r["measured"].items()]
    return "\n".join(lines)


def run_seeds(p: StudyPreset, seeds: Sequence[int], out_dir: str | Path, *, from_scratch: bool = False,
              progress: bool = True, log: Log | None = None,
              on_study: Callable[[int, dict], None] | None = None) -> dict:
    """``run_study`` with ``p`` at each of the distinct ``seeds`` into ``out_dir/seed-<S>``;
    ``on_study(seed, result)`` after each. Writes ``out_dir/seeds.json`` (atomically) and returns
    its content: ``preset``, ``seeds``, ``findings`` (``across_seeds``, with the pooled verdicts:
    every finding judged on all seeds' (seed, problem) pairs at once)."""
    out = Path(out_dir)
    per_seed, data = {}, {}
    for s in seeds:
        ps = replace(p, seed=s)
        result = run_study(ps, out / f"seed-{s}", from_scratch=from_scratch, progress=progress, log=log)
        if on_study is not None:
            on_study(s, result)
        per_seed[s] = result["findings"]
        data[s] = load_study_data(run_paths_of(ps, out / f"seed-{s}"), f"grpo-step{p.rl_steps}")
    pooled = F.to_json(judge(p, pool(data)))
    summary = {"preset": p.name, "seeds": list(seeds), "findings": across_seeds(per_seed, pooled)}
    atomic_write_text(out / SUMMARY, json.dumps(summary, indent=2, default=_plain))
    return summary


def _plain(o: object) -> object:
    return o.item() if hasattr(o, "item") else str(o)
