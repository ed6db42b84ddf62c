"""``rlbound study --preset exposure``: does RL widen the boundary on a skill the base saw rarely?

Zhang, Neubig and Yue 2025 ("On the Interplay of Pre-Training, Mid-Training and RL", arXiv
2512.07783) find that RL extends what a model can solve when pretraining exposed it to the skill
sparsely (~1% of the data), and not at 0%. The sandbox's long-tail skill is the ``rev`` context
(``rlbound.toy.presets.LONG_TAIL``): one base per exposure share of it (``exposure_bases``, e.g.
0%, 1% and 10%), the same GRPO on prompts of both contexts from each, and per base the boundary
verdict (widened / narrowed / inconclusive, ``rlbound.metrics.verdicts``) of CoT-pass@K on the
long-tail split, next to the familiar split's. Whatever comes out is reported; a prediction the
sandbox does not reproduce is reported as not reproduced.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from rlbound.data.atomic import atomic_write_text
from rlbound.metrics.verdicts import boundary_verdict
from rlbound.study import findings as F
from rlbound.study.presets import StudyPreset
from rlbound.study.run import (
    Log,
    RunSpec,
    Stages,
    long_tail_ids,
    no_log,
    pretrained,
    rl_runs,
    sample_and_verify,
    test_problems,
)

SUMMARY = "exposure.json"
RL_LONG_TAIL_SHARE = 0.5  # share of RL prompts in the long-tail context


def _rl_prompts(p: StudyPreset, work: Path) -> Path:
    """RL prompts (``work/rl_prompts.jsonl``): train-split problems, half in the long-tail context,
    half in the base recipe's contexts, with the test difficulty mix; enough for every step."""
    from rlbound.rl.rollout import derive_seed
    from rlbound.toy.presets import LONG_TAIL, get_recipe
    from rlbound.toy.tasks import generate_split, write_problems_jsonl

    path = work / "rl_prompts.jsonl"
    if not path.exists():
        task = get_recipe(p.base).task
        familiar = tuple((c, w * (1 - RL_LONG_TAIL_SHARE)) for c, w in task.contexts if c != LONG_TAIL)
        task = replace(task, contexts=(*familiar, (LONG_TAIL, RL_LONG_TAIL_SHARE)))
        if p.test_difficulty:
            task = replace(task, train_difficulty=p.test_difficulty)
        count = 2 * p.rl_steps * p.rl_prompts
        write_problems_jsonl(generate_split(task, "train", count, derive_seed(p.seed, "rl-prompts")), path)
    return path


def boundary_finding(label: str, share: float, base: F.Counts, rl: F.Counts, k: int) -> F.Finding:
    """The long-tail boundary verdict of RL from one base (``boundary_verdict`` at pass@k on
    CoT counts), judged against Zhang, Neubig, Yue 2025: from a base with exposure 0, RL does not
    widen it (held when the interval lies below 0, contradicted above); from sparse exposure, RL
    widens it (held above 0, contradicted below)."""
    b = boundary_verdict(*F.aligned(base, rl), k=k)
    (lo, hi), diff, boundary = b.ci95, b.diff, b.verdict
    if share == 0:
        claim = f"{label} (long-tail exposure 0%): RL does not widen the long-tail boundary (CoT-pass@{k})"
        verdict = {"widened": "contradicted", "narrowed": "held"}.get(boundary, "inconclusive")
    else:
        claim = f"{label} (long-tail exposure {100 * share:g}%): RL widens the long-tail boundary (CoT-pass@{k})"
        verdict = {"widened": "held", "narrowed": "contradicted"}.get(boundary, "inconclusive")
    measured = (f"boundary {boundary}: CoT-pass@{k} base {b.base:.3f}, RL {b.other:.3f}, RL - base {diff:+.3f} "
                f"[{lo:+.3f}, {hi:+.3f}] over {b.problems} long-tail problems")
    return F.Finding(f"exposure_{label}", claim, measured, verdict, (lo, hi), f"CoT-pass@{k}(RL) - CoT-pass@{k}(base)",
                     {"exposure": share, "boundary": boundary, "diff": diff, "base": b.base, "rl": b.other})


def run_exposure(p: StudyPreset, out_dir: str | Path, *, from_scratch: bool = False, progress: bool = True,
                 log: Log | None = None) -> dict:
    """Run (or resume) the exposure study into ``out_dir``; returns what it writes to
    ``out_dir/exposure.json``: ``preset``, ``findings`` (``findings.to_json``, one long-tail and one
    familiar-split row per base) and ``stage_seconds``."""
    from rlbound.data.store import RunStore

    if not p.exposure_bases:
        raise ValueError("the preset has no exposure_bases")
    log = log or no_log
    out = Path(out_dir)
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    stages = Stages(log)
    test_file = test_problems(p, work)
    prompts = _rl_prompts(p, work)
    found: list[F.Finding] = []
    for recipe, share in p.exposure_bases:
        pb = replace(p, base=recipe)
        base = pretrained(recipe, from_scratch=from_scratch, progress=progress, log=log)
        rl = rl_runs(pb, base, work / recipe, progress, log, task=prompts)["grpo"][-1][1]
        paths = {who: sample_and_verify(RunSpec(f"{recipe}-{who}", model, p.temperature), test_file, out / "runs",
                                         pb, progress, log)
                 for who, model in (("base", base), ("rl", rl))}
        cot = {who: RunStore.open(path).counts("steps_correct") for who, path in paths.items()}
        tail = long_tail_ids(cot["base"][0])
        familiar = set(cot["base"][0]) - tail
        found.append(boundary_finding(recipe, share, F.subset(cot["base"], tail), F.subset(cot["rl"], tail), p.n))
        fam = F.crossing(F.subset(cot["base"], familiar), F.subset(cot["rl"], familiar), p.n)
        found.append(replace(fam, key=f"crossing_familiar_{recipe}",
                             claim=f"{recipe}, familiar split, on CoT-pass@k: " + fam.claim))
        stages.done(recipe)
    result = {"preset": p.name, "findings": F.to_json(found), "stage_seconds": stages.total()}
    atomic_write_text(out / SUMMARY, json.dumps(result, indent=2, default=str))
    return result
