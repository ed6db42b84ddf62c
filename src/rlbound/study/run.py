"""The one-command sandbox study (``rlbound study``): Yue et al. 2025 end to end on a CPU.

Stages, each resumable and each skipped when its output already exists for the same settings:

1. data: held-out test problems of the sandbox task; base and teacher models (pretrained, or the
   checkpoints shipped with the package when their recipe matches, unless ``from_scratch``).
2. RL: GRPO (and, for the ``algorithms`` preset, the other algorithms and ablations) from the base.
3. distillation: the teacher's verified traces fine-tune a copy of the base model.
4. sampling: n responses per test problem from every model; the step-checking verifier grades them.
5. perplexity: base's and the RL model's responses scored under the base model.
6. report: report.html + metrics.json and findings.json (``rlbound study`` prints the findings table).

Progress lines go to the ``log`` callback of each function (``rlbound study`` prints them to
stderr with a time stamp); nothing here prints.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from rlbound.data.atomic import atomic_write_text
from rlbound.errors import InputError
from rlbound.study import findings as F
from rlbound.study.presets import StudyPreset

Log = Callable[[str], None]


def no_log(line: str) -> None:
    """The default ``log``: progress lines go nowhere."""


def cache_root() -> Path:
    """Where pretrained sandbox models are cached across studies ($RLBOUND_CACHE or ~/.cache/rlbound)."""
    import os

    return Path(os.environ.get("RLBOUND_CACHE", Path.home() / ".cache" / "rlbound")).expanduser()


def shipped_checkpoint(preset: str) -> Path | None:
    """The package's shipped checkpoint of a sandbox preset, if any (see docs/sandbox.md)."""
    path = Path(__file__).resolve().parents[1] / "toy" / "checkpoints" / preset
    return path if (path / "sandbox_model.json").exists() else None


def pretrained(preset: str, *, from_scratch: bool, progress: bool, log: Log = no_log) -> Path:
    """A finished sandbox model of ``preset``: cached, shipped (recipe hash checked) or pretrained now."""
    from rlbound.toy.presets import get_recipe
    from rlbound.toy.pretrain import load_manifest, pretrain

    cfg = get_recipe(preset)
    sha = cfg.recipe_sha256()
    dest = cache_root() / "sandbox" / f"{preset}-{sha[:12]}{'-scratch' if from_scratch else ''}"
    if (dest / "sandbox_model.json").exists():
        log(f"{preset}: cached model {dest}")
        return dest
    shipped = None if from_scratch else shipped_checkpoint(preset)
    if shipped is not None and load_manifest(shipped).get("recipe_sha256") == sha:
        log(f"{preset}: using the shipped checkpoint (recipe {sha[:12]}; --from-scratch retrains)")
        return shipped
    log(f"{preset}: pretraining from scratch into {dest}")
    return pretrain(cfg, dest, progress=progress)


@dataclass(frozen=True)
class RunSpec:
    """One model to sample: its label, model folder, temperature and, for checkpoints, step and training."""

    label: str
    model: Path
    temperature: float
    train_run: str | None = None
    train_step: int | None = None


class Stages:
    """Wall-clock seconds of each stage (``findings.json``'s ``stage_seconds``), logged as it ends."""

    def __init__(self, log: Log) -> None:
        self.log, self.seconds = log, {}
        self.start = self.t0 = time.time()

    def done(self, name: str) -> None:
        self.seconds[name] = round(time.time() - self.t0, 1)
        self.log(f"stage {name} done in {self.seconds[name]:.0f} s")
        self.t0 = time.time()

    def total(self) -> dict[str, float]:
        return {**self.seconds, "total": round(time.time() - self.start, 1)}


def _settings_hash(cfg: Any) -> str:
    """Short hash of a config's settings (without ``out``): changed settings get a fresh folder.

    Paths are keyed by what they hold, not where they are (``_content_key``), so the same study
    from another checkout or output folder reuses its stages."""
    import hashlib

    d = {k: _content_key(v) for k, v in asdict(cfg).items() if k != "out"}
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:10]


def _content_key(value: Any) -> Any:
    """A sandbox model folder as its recipe hash, a file as its content hash, anything else as is."""
    import hashlib

    if not isinstance(value, str) or not value:
        return value
    path = Path(value)
    if (path / "sandbox_model.json").is_file():
        recipe = json.loads((path / "sandbox_model.json").read_text(encoding="utf-8")).get("recipe_sha256")
        if recipe:
            return f"sandbox-model:{recipe}"
    elif path.is_file():
        return "file:" + hashlib.sha256(path.read_bytes()).hexdigest()
    return value


# --------------------------------------------------------------------------------------------------
# The stages


def test_problems(p: StudyPreset, work: Path) -> Path:
    """Stage 1: the held-out test problems (``work/test.jsonl``, written once): ``test_problems`` in
    the base recipe's contexts, then ``long_tail_problems`` in the long-tail context, ids prefixed
    ``LONG_TAIL/`` (``long_tail_ids`` reads them back)."""
    from rlbound.toy.presets import LONG_TAIL, get_recipe
    from rlbound.toy.tasks import generate_split, write_problems_jsonl

    test_file = work / "test.jsonl"
    if not test_file.exists():
        task = get_recipe(p.base).task
        if p.test_difficulty:
            task = replace(task, test_difficulty=p.test_difficulty)
        problems = generate_split(task, "test", p.test_problems, p.test_seed)
        if p.long_tail_problems:
            tail = generate_split(replace(task, contexts=((LONG_TAIL, 1.0),)), "test", p.long_tail_problems,
                                  p.test_seed + 1)
            problems += [replace(q, id=f"{LONG_TAIL}/{q.id}") for q in tail]
        write_problems_jsonl(problems, test_file)
    return test_file


def long_tail_ids(ids: Sequence[str]) -> set[str]:
    """The problem ids of the long-tail split (``test_problems``)."""
    from rlbound.toy.presets import LONG_TAIL

    return {i for i in ids if i.startswith(f"{LONG_TAIL}/")}


def _distill_prompts(p: StudyPreset, work: Path) -> Path:
    """The distillation prompts (``work/distill_prompts.jsonl``): train-split problems in the
    teacher recipe's contexts (so the long-tail context is among them) and ``distill_difficulty``."""
    from rlbound.rl.rollout import derive_seed
    from rlbound.toy.presets import get_recipe
    from rlbound.toy.tasks import generate_split, write_problems_jsonl

    mix = "-".join(f"{d}x{w:g}" for d, w in (p.distill_difficulty or p.test_difficulty))
    path = work / f"distill_prompts-{p.distill_prompts}-{p.seed}-{mix or 'default'}.jsonl"
    if not path.exists():
        task = replace(get_recipe(p.base).task, contexts=get_recipe(p.teacher).task.contexts)
        difficulty = p.distill_difficulty or p.test_difficulty
        if difficulty:
            task = replace(task, train_difficulty=difficulty)
        write_problems_jsonl(generate_split(task, "train", p.distill_prompts, derive_seed(p.seed, "distill")), path)
    return path


def rl_runs(p: StudyPreset, base: Path, work: Path, progress: bool, log: Log,
             task: Path | None = None) -> dict[str, list[tuple[int, Path]]]:
    """Stage 2: every RL variant from the base model; per variant its (step, checkpoint) to sample.
    RL prompts are fresh sandbox problems in the base's contexts, or the JSONL ``task``."""
    from rlbound.rl.trainer import TrainConfig, train

    save_every = math.gcd(*p.rl_checkpoints)
    ablations = {"grpo_kl0.001": {"algo": "grpo", "kl": 0.001},
                 "grpo_rollouts4x": {"algo": "grpo", "rollouts": 4 * p.rl_rollouts}}
    variants = [(name, ablations.get(name, {"algo": name})) for name in rl_variants(p)]
    out: dict[str, list[tuple[int, Path]]] = {}
    for name, over in variants:
        cfg = TrainConfig(model=str(base), out=str(work / "rl" / name), task=str(task or "sandbox"), steps=p.rl_steps,
                          prompts_per_step=p.rl_prompts, rollouts=over.get("rollouts", p.rl_rollouts), lr=p.rl_lr,
                          kl=over.get("kl", 0.0), temperature=p.rl_temperature, max_new_tokens=p.max_new_tokens,
                          save_every=save_every, seed=p.seed, algo=over["algo"],
                          difficulty="" if task else ",".join(f"{d}:{w:g}" for d, w in p.test_difficulty))
        run_dir = work / "rl" / f"{name}-{_settings_hash(cfg)}"
        cfg = replace(cfg, out=str(run_dir))
        log(f"RL {name}: {p.rl_steps} steps x {p.rl_prompts} prompts x {cfg.rollouts} rollouts, lr {p.rl_lr}")
        train(cfg, progress=progress)
        ckpts = []
        for step in p.rl_checkpoints:
            path = run_dir / "checkpoints" / f"step-{step}"
            if not path.exists():
                raise InputError(f"RL run {name} has no checkpoint at step {step}", path=str(path))
            ckpts.append((step, path))
        out[name] = ckpts
    return out


def _distilled(p: StudyPreset, base: Path, teacher: Path, work: Path, progress: bool, log: Log) -> Path:
    """Stage 3: the teacher distilled into a copy of the base model; returns the student's folder."""
    from rlbound.rl.distill import DistillConfig, distill

    cfg = DistillConfig(teacher=str(teacher), student=str(base), out=str(work / "distill"),
                        task=str(_distill_prompts(p, work)), template="raw", prompts=p.distill_prompts, samples_per_prompt=p.distill_samples, epochs=p.distill_epochs,
                        max_new_tokens=p.max_new_tokens, seed=p.seed)
    cfg = replace(cfg, out=str(work / f"distill-{_settings_hash(cfg)}"))
    log(f"distilling {p.teacher} into a copy of {p.base}: {p.distill_prompts} prompts x {p.distill_samples}")
    return Path(distill(cfg, progress=progress))


def _run_specs(p: StudyPreset, base: Path, rl: Mapping[str, list[tuple[int, Path]]], distilled: Path) -> list[RunSpec]:
    """Stage 4's models: base, every GRPO checkpoint, the other RL variants' last, the distilled
    model, and base and final GRPO at ``extra_temperature``."""
    specs = [RunSpec("base", base, p.temperature)]
    for name, ckpts in rl.items():
        if name == "grpo":
            specs += [RunSpec(f"grpo-step{s}", path, p.temperature, "grpo", s) for s, path in ckpts]
        else:
            specs.append(RunSpec(name, ckpts[-1][1], p.temperature))
    specs.append(RunSpec("distilled", distilled, p.temperature))
    if p.extra_temperature:
        t2 = p.extra_temperature
        specs += [RunSpec(f"base-T{t2}", base, t2), RunSpec(f"grpo-step{p.rl_steps}-T{t2}", rl["grpo"][-1][1], t2)]
    return specs


def sample_and_verify(spec: RunSpec, test_file: Path, runs_dir: Path, p: StudyPreset, progress: bool,
                       log: Log) -> Path:
    """Stage 4 for one model: ``n`` samples per test problem into ``runs_dir/<label>``, verified."""
    from rlbound.sampling import run_sampling
    from rlbound.sampling.config import SampleConfig
    from rlbound.verify.runner import verify_run

    out = runs_dir / spec.label
    cfg = SampleConfig(model=str(spec.model), benchmark=str(test_file), out=str(out), backend="hf", n=p.n,
                       temperature=spec.temperature, top_p=1.0, max_new_tokens=p.max_new_tokens, seed=p.seed,
                       template="raw", batch_size=p.sample_batch_size, logprobs=True)
    log(f"sampling {spec.label}: {p.test_problems + p.long_tail_problems} problems x n={p.n} at temperature "
        f"{spec.temperature}")
    store = run_sampling(cfg, progress=progress)
    if spec.train_run is not None:
        _mark_checkpoint(store, spec)
    counts = verify_run(store, workers=0, progress=progress)
    if counts:
        log(f"verified {spec.label}: {dict(counts)}")
    return out


def _mark_checkpoint(store: Any, spec: RunSpec) -> None:
    """Record train_run / train_step in the manifest so the report can plot over steps."""
    man = store.manifest
    if man.extra.get("train_step") == spec.train_step:
        return
    from rlbound.data.store import RunStore

    extra = dict(man.extra, train_run=spec.train_run, train_step=spec.train_step)
    RunStore.create(store.path, replace(man, extra=extra), store.problems())  # reopening merges `extra`


def _perplexities(run_paths: Mapping[str, Path], labels: Sequence[str], base: Path, progress: bool,
                  log: Log) -> None:
    """Stage 5: each run of ``labels`` scored under the base model (side file, written once)."""
    from rlbound.scoring.perplexity import SIDE_FILE, score_run

    for label in labels:
        if not (run_paths[label] / SIDE_FILE).exists():
            log(f"perplexity of {label}'s responses under the base model")
            score_run(run_paths[label], str(base), scorer_label="base", progress=progress)


def rl_variants(p: StudyPreset) -> list[str]:
    """Names of the RL runs a preset trains (``grpo`` first), as ``rl_runs`` names them."""
    return list(p.algorithms) + (["grpo_kl0.001", "grpo_rollouts4x"] if p.ablations else [])


@dataclass
class StudyData:
    """What the findings are judged on, per run label: answer and CoT counts, and per-response
    perplexity under base, entropy estimates and distinct correct solutions where measured."""

    counts: dict[str, F.Counts]
    cot: dict[str, F.Counts]
    ppl: dict[str, F.PerResponse | None]
    entropy: dict[str, F.PerResponse | None]
    support: dict[str, dict[str, int]]
    long_tail: set[str] = field(default_factory=set)

    def split(self, keep: Callable[[str], bool]) -> StudyData:
        """The same data on the problems whose id ``keep`` accepts."""
        def counts(c: F.Counts) -> F.Counts:
            return F.subset(c, {i for i in c[0] if keep(i)})

        def per_response(v: F.PerResponse | None) -> F.PerResponse | None:
            if v is None:
                return None
            mask = np.array([keep(str(i)) for i in v[0]], dtype=bool)
            return [i for i, m in zip(v[0], mask, strict=True) if m], np.asarray(v[1])[mask]

        return StudyData({k: counts(v) for k, v in self.counts.items()}, {k: counts(v) for k, v in self.cot.items()},
                         {k: per_response(v) for k, v in self.ppl.items()},
                         {k: per_response(v) for k, v in self.entropy.items()},
                         {k: {i: x for i, x in v.items() if keep(i)} for k, v in self.support.items()},
                         {i for i in self.long_tail if keep(i)})


def _distinct_correct(store: Any) -> dict[str, int]:
    """Per problem, how many distinct response texts are correct in every step (support of correct
    solutions, Wu et al. 2025, arXiv 2507.14843); whitespace-normalised."""
    t = store.cells(samples=["text"], verdicts=["correct", "steps_correct"], how="samples")
    seen: dict[str, set[str]] = {p.id: set() for p in store.problems()}
    for pid, text, ok, steps in zip(*(t.column(c).to_pylist() for c in ("problem_id", "text", "correct",
                                                                        "steps_correct")), strict=True):
        if steps if steps is not None else bool(ok):
            seen.setdefault(pid, set()).add(" ".join(text.split()))
    return {pid: len(texts) for pid, texts in seen.items()}


def load_study_data(run_paths: Mapping[str, Path], final_rl: str) -> StudyData:
    """Read the runs of a finished sampling stage (``runs/<label>``) into ``StudyData``."""
    from rlbound.data import token_logprobs
    from rlbound.data.store import RunStore, read_perplexity

    stores = {lab: RunStore.open(path) for lab, path in run_paths.items()}
    data = StudyData({lab: st.counts() for lab, st in stores.items()},
                     {lab: stores[lab].counts("steps_correct") for lab in ("base", final_rl, "distilled")},
                     {}, {}, {})
    for lab in ("base", final_rl):
        t = read_perplexity(run_paths[lab])
        if t is not None:  # responses scored under the base model (``_perplexities``)
            keep = [i for i, s in enumerate(t.column("scorer").to_pylist()) if s == "base"]
            t = t.take(keep)
        data.ppl[lab] = None if t is None else (t["problem_id"].to_pylist(), t["perplexity"].to_numpy())
        lp = token_logprobs.read_table(stores[lab])
        data.entropy[lab] = None if lp is None else token_logprobs.mean_nll(lp)[:2]
        data.support[lab] = _distinct_correct(stores[lab])
    data.long_tail = long_tail_ids(data.counts["base"][0])
    return data


def pool(per_seed: Mapping[int, StudyData]) -> StudyData:
    """Seeds' data as one study whose problems are (seed, problem) pairs: the pooled verdicts pair each
    seed's problems with the same seed's base."""
    def counts(parts: list[tuple[int, F.Counts]]) -> F.Counts:
        return ([f"seed-{s}/{i}" for s, c in parts for i in c[0]], np.concatenate([c[1] for _, c in parts]),
                np.concatenate([c[2] for _, c in parts]))

    def per_response(parts: list[tuple[int, F.PerResponse | None]]) -> F.PerResponse | None:
        if any(v is None for _, v in parts):
            return None
        return ([f"seed-{s}/{i}" for s, v in parts for i in v[0]], np.concatenate([v[1] for _, v in parts]))

    seeds = list(per_seed)
    first = per_seed[seeds[0]]
    return StudyData(
        {lab: counts([(s, per_seed[s].counts[lab]) for s in seeds]) for lab in first.counts},
        {lab: counts([(s, per_seed[s].cot[lab]) for s in seeds]) for lab in first.cot},
        {lab: per_response([(s, per_seed[s].ppl[lab]) for s in seeds]) for lab in first.ppl},
        {lab: per_response([(s, per_seed[s].entropy[lab]) for s in seeds]) for lab in first.entropy},
        {lab: {f"seed-{s}/{i}": v for s in seeds for i, v in per_seed[s].support[lab].items()}
         for lab in first.support},
        {f"seed-{s}/{i}" for s in seeds for i in per_seed[s].long_tail})


def judge(p: StudyPreset, data: StudyData) -> list[F.Finding]:
    """Stage 6: every finding of ``rlbound.study.findings`` with its verdict: Yue et al. 2025's on the
    familiar split, then the long-tail split's (``_long_tail_findings``)."""
    tail = data.long_tail
    found = _familiar_findings(p, data.split(lambda i: i not in tail) if tail else data)
    if tail:
        found += _long_tail_findings(p, data.split(lambda i: i in tail))
    return found


def _long_tail_findings(p: StudyPreset, data: StudyData) -> list[F.Finding]:
    """The positive control, on the problems in the context the base never saw and the teacher did:
    distillation must widen the boundary there (Yue et al. 2025, Sec. 4.2), on answers and on
    CoT-pass@k; RL from a base with exposure 0 is not expected to (Zhang, Neubig, Yue 2025, arXiv
    2512.07783)."""
    from rlbound.toy.presets import LONG_TAIL

    final_rl = f"grpo-step{p.rl_steps}"
    ks = [k for k in (1 << e for e in range(12)) if k <= p.n]
    where = f"long-tail split ({LONG_TAIL} context): "
    out = []
    for key, counts in (("distillation_longtail", data.counts), ("distillation_longtail_cot", data.cot)):
        f = F.distillation(counts["base"], counts["distilled"], ks)
        claim = where + ("on CoT-pass@k: " if key.endswith("cot") else "") + f.claim
        out.append(replace(f, key=key, claim=claim))
    rl = F.crossing(data.cot["base"], data.cot[final_rl], p.n)
    out.append(replace(rl, key="crossing_longtail_cot", claim=where + "on CoT-pass@k: " + rl.claim))
    return out


def _familiar_findings(p: StudyPreset, data: StudyData) -> list[F.Finding]:
    """Yue et al. 2025's findings on the problems in the contexts the base was pretrained on."""
    final_rl = f"grpo-step{p.rl_steps}"
    counts, cot = data.counts, data.cot
    k_big = p.n
    ks = [k for k in (1 << e for e in range(12)) if k <= p.n]
    found = [
        F.crossing(counts["base"], counts[final_rl], k_big),
        F.coverage(counts["base"], counts[final_rl]),
        F.checkpoints([(0, counts["base"])] + [(s, counts[f"grpo-step{s}"]) for s in p.rl_checkpoints], k_big),
        F.distillation(counts["base"], counts["distilled"], ks),
        F.perplexity(data.ppl["base"], data.ppl[final_rl]),
        F.entropy(data.entropy["base"], data.entropy[final_rl]),
        F.support(data.support["base"], data.support[final_rl]),
    ]
    for label in ("base", final_rl):
        found.append(F.cot_gap(label, counts[label], cot[label], k_big))
    # The same comparison on CoT-pass@k: immune to answers guessed right after a wrong step.
    cross_cot = F.crossing(cot["base"], cot[final_rl], k_big)
    found.append(replace(cross_cot, key="crossing_cot", claim="on CoT-pass@k (every step checked): " + cross_cot.claim))
    dist_cot = F.distillation(cot["base"], cot["distilled"], ks)
    found.append(replace(dist_cot, key="distillation_cot", claim="on CoT-pass@k (every step checked): " + dist_cot.claim))
    if p.extra_temperature:
        t2 = p.extra_temperature
        cross2 = F.crossing(counts[f"base-T{t2}"], counts[f"{final_rl}-T{t2}"], k_big)
        found.append(replace(cross2, key=f"crossing_T{t2}", claim=f"at temperature {t2}: " + cross2.claim))
    for name in rl_variants(p):
        if name != "grpo":
            gap = F.crossing(counts["base"], counts[name], k_big)
            found.append(replace(gap, key=f"crossing_{name}", claim=f"{name}: " + gap.claim))
    return found


def run_paths_of(p: StudyPreset, out_dir: str | Path) -> dict[str, Path]:
    """The run folder of every model a finished study sampled (``out_dir/runs/<label>``)."""
    runs = Path(out_dir) / "runs"
    labels = ["base"] + [f"grpo-step{s}" for s in p.rl_checkpoints] + [n for n in rl_variants(p) if n != "grpo"]
    labels.append("distilled")
    if p.extra_temperature:
        labels += [f"base-T{p.extra_temperature}", f"grpo-step{p.rl_steps}-T{p.extra_temperature}"]
    return {lab: runs / lab for lab in labels}


# --------------------------------------------------------------------------------------------------
# The study


def run_study(p: StudyPreset, out_dir: str | Path, *, from_scratch: bool = False, progress: bool = True,
              log: Log | None = None) -> dict:
    """Run (or resume) the whole study into ``out_dir``; returns the findings JSON (also written to
    ``out_dir/findings.json``): ``preset``, ``findings`` (``rlbound.study.findings.to_json``),
    ``stage_seconds``, ``report`` (the HTML file) and ``from_scratch``. ``log(line)`` receives the
    progress lines (default: none)."""
    from rlbound.report.build import build_report

    log = log or no_log
    out = Path(out_dir)
    work = out / "work"
    runs_dir = out / "runs"
    work.mkdir(parents=True, exist_ok=True)
    stages = Stages(log)

    # 1. data and pretrained models
    test_file = test_problems(p, work)
    base = pretrained(p.base, from_scratch=from_scratch, progress=progress, log=log)
    teacher = pretrained(p.teacher, from_scratch=from_scratch, progress=progress, log=log)
    stages.done("models")

    # 2. RL
    rl = rl_runs(p, base, work, progress, log)
    stages.done("rl")

    # 3. distillation
    distilled = _distilled(p, base, teacher, work, progress, log)
    stages.done("distill")

    # 4. sampling + verification
    specs = _run_specs(p, base, rl, distilled)
    run_paths = {s.label: sample_and_verify(s, test_file, runs_dir, p, progress, log) for s in specs}
    stages.done("sampling")

    # 5. perplexity under the base model
    _perplexities(run_paths, ("base", f"grpo-step{p.rl_steps}"), base, progress, log)
    stages.done("perplexity")

    # 6. findings and report
    found = judge(p, load_study_data(run_paths, f"grpo-step{p.rl_steps}"))
    labels = list(run_paths)
    report = build_report([run_paths[lab] for lab in labels], labels=labels, base="base", out_dir=out / "report",
                          progress=progress, findings=F.to_json(found))
    stages.done("report")
    result = {"preset": asdict(p), "findings": F.to_json(found), "stage_seconds": stages.total(),
              "report": str(report.html_path), "from_scratch": from_scratch}
    atomic_write_text(out / "findings.json",
                      json.dumps(result, indent=2, default=lambda o: o.item() if hasattr(o, "item") else str(o)))
    return result
