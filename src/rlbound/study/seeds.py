"""The study over several seeds (``rlbound study --seeds``): in how many seeds each finding held.

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
from rlbound.study.presets import StudyPreset
from rlbound.study.run import Log, run_study

SUMMARY = "seeds.json"


def across_seeds(per_seed: Mapping[int, Sequence[Mapping]]) -> list[dict]:
    """Each finding over several seeds of the same study: ``per_seed`` maps a seed to its
    ``rlbound.study.findings.to_json`` findings. Returns per finding key (in first-seen order) the
    claim, in how many seeds it held / was evaluated, and the measured line of every seed."""
    rows: dict[str, dict] = {}
    for seed, findings in per_seed.items():
        for f in findings:
            row = rows.setdefault(f["key"], {"key": f["key"], "claim": f["claim"], "held": 0, "evaluated": 0,
                                             "measured": {}})
            if f["held"] is not None:
                row["evaluated"] += 1
                row["held"] += int(bool(f["held"]))
            row["measured"][seed] = f["measured"]
    return list(rows.values())


def format_across_seeds(rows: Sequence[Mapping]) -> str:
    """Terminal table of ``across_seeds``: held in h of n seeds, then one measured line per seed."""
    lines = []
    for r in rows:
        mark = f"held {r['held']}/{r['evaluated']}" if r["evaluated"] else "info"
        lines.append(f"[{mark:>10}] {r['claim']}")
        lines += [f"             seed {seed}: {m}" for seed, m in r["measured"].items()]
    return "\n".join(lines)


def run_seeds(p: StudyPreset, seeds: Sequence[int], out_dir: str | Path, *, from_scratch: bool = False,
              progress: bool = True, log: Log | None = None,
              on_study: Callable[[int, dict], None] | None = None) -> dict:
    """``run_study`` with ``p`` at each of the distinct ``seeds`` into ``out_dir/seed-<S>``;
    ``on_study(seed, result)`` after each. Writes ``out_dir/seeds.json`` (atomically) and returns
    its content: ``preset``, ``seeds`` and ``findings`` (``across_seeds``)."""
    out = Path(out_dir)
    per_seed = {}
    for s in seeds:
        result = run_study(replace(p, seed=s), out / f"seed-{s}", from_scratch=from_scratch, progress=progress,
                           log=log)
        if on_study is not None:
            on_study(s, result)
        per_seed[s] = result["findings"]
    summary = {"preset": p.name, "seeds": list(seeds), "findings": across_seeds(per_seed)}
    atomic_write_text(out / SUMMARY, json.dumps(summary, indent=2))
    return summary
