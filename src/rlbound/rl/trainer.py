"""RLVR training: one readable loop for every algorithm preset of ``rlbound.rl.algos.presets``.

Yue et al. 2025 (arXiv 2504.13837, Sec. 2 and 4.1) train one base model with PPO, GRPO,
REINFORCE++, RLOO, ReMax and DAPO and compare pass@k before and after. ``train`` runs that
recipe on any Hugging Face causal LM (the sandbox's tiny models on CPU, a small real model on GPU)::

    for step in 1..steps:
        rollout   prompts_per_step prompts x n responses through the hf backend's sampler
                  (DAPO: drop groups whose answers all agree and sample more prompts; ReMax: one
                  greedy response per prompt), verifier rewards (DAPO: + overlong shaping)
        score     log-probs under the rollout policy (when needed), the frozen reference (KL) and
                  the critic (PPO); KL into the token rewards (presets with kl_in_reward);
                  advantages by the preset's estimator
        update    clipped policy loss (+ KL loss, - entropy bonus), AdamW, grad-norm clipping;
                  ``epochs`` passes over ``mini_batches`` optimizer steps; PPO's critic alongside
        log       one JSONL record (reward, pass rate, length, entropy, KL, clip fraction, time
                  split generate / score / update) and a tqdm bar
        save      every ``save_every`` steps: ``out/checkpoints/step-<N>/`` (rlbound.rl.checkpoint)

A run killed at any moment (even ``kill -9``) resumes from its newest checkpoint with the same
model, optimizer, RNG states and log; everything a step draws (prompts, sampling seeds, mini-batch
order) is a pure function of (seed, step), so the resumed run repeats what the killed run would
have done.

Implementation notes. The policy is the ``hf`` backend's own model object (``HFBackend.causal_lm``;
the interface is ``rlbound.rl.rollout.PolicySampler``), so every rollout samples the current
weights; it stays in eval mode (no dropout, as verl's actor) and in float32 (AdamW on float32
weights; on a GPU too). Responses come back as text and are re-tokenised
(``rlbound.rl.rollout.response_ids``: exact for the sandbox tokenizer; the share of rows where the
token count differs is logged as ``retokenize_mismatch``). Forward passes encode each distinct
prompt once and share its keys/values among the group's responses, and micro-batches are cut from
rows sorted by response length; neither changes the gradient (tests check both). With
``epochs = mini_batches = 1`` the rollout log-probs are the update's own (ratio exactly 1, clip
fraction 0), as in on-policy GRPO; otherwise they come from a separate no-grad pass.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rlbound.errors import InputError
from rlbound.rl import checkpoint as ckpt
from rlbound.rl.algos.advantages import AdvantageInputs, filter_groups, get_advantage, overlong_penalty
from rlbound.rl.algos.kl import kl_estimate, kl_in_reward, kl_loss
from rlbound.rl.algos.losses import aggregate, policy_loss, value_loss
from rlbound.rl.algos.presets import AlgoPreset, OverlongShaping, get_algo_preset
from rlbound.rl.rollout import (
    PolicySampler,
    TokenBatch,
    ValueModel,
    derive_seed,
    pack,
    pass_rate,
    prompt_of,
    response_ids,
    response_logprobs,
    sample_groups,
)
from rlbound.types import Problem

__all__ = ["TrainConfig", "RewardFn", "train", "resolve_preset", "load_problems", "sandbox_task_config"]

RewardFn = Callable[[Problem, str], float]

# Fields that may change between a killed run and its resumption (they do not change what a step does).
_RESUMABLE = frozenset({"steps", "save_every", "keep_checkpoints", "eval_every", "threads", "device", "out",
                        "micro_batch_size"})


@dataclass(frozen=True)
class TrainConfig:
    """One RLVR training run (``rlbound train``).

    Attributes:
        model: base model: a folder with a Hugging Face causal LM and its tokenizer (a sandbox model from ``pretrain``), or a hub id already in the local cache.
        out: output folder: log.jsonl and checkpoints/step-<N>/; a killed run in it is resumed.
        algo: algorithm preset: ppo, grpo, dr_grpo, rloo, reinforce_pp, remax, dapo, passk (docs/algorithms.md).
        task: "sandbox" (fresh train-split problems every step, task settings read from the model folder), a JSONL file of problems (id, prompt, reference, verifier), or a benchmark file as ``rlbound sample`` reads it (MATH500, GSM8K, ...; graded by math).
        template: prompt template of problems from a file: raw, boxed (the paper's zero-shot prompt), boxed-plain, chat (the tokenizer's chat template), or a string with {problem}; sandbox problems keep their own format.
        difficulty: sandbox task only: difficulty mix of the training and held-out prompts as "ops:weight,..." (e.g. "2:1,3:2,4:2,5:1"); empty: the mixes the model was pretrained with.
        steps: training steps (one rollout batch each).
        prompts_per_step: prompts per step (DAPO: groups kept after filtering).
        rollouts: responses per prompt; default: the preset's rollouts_per_prompt.
        lr: AdamW learning rate of the policy.
        kl: KL-to-reference coefficient; default: the preset's; 0 turns the KL off (as in Yue et al.); > 0 on a preset without KL puts a k3 KL in the loss.
        entropy_coef: entropy bonus coefficient; default: the preset's (0 for all).
        temperature: sampling temperature of the rollouts (log-probs are taken at the same temperature).
        top_p: nucleus sampling threshold of the rollouts.
        max_new_tokens: longest response in tokens (also Dr. GRPO's length normaliser and DAPO's L_max).
        epochs: passes over each rollout batch (PPO epochs).
        mini_batches: optimizer steps per pass; 1 with epochs 1 is purely on-policy.
        micro_batch_size: rows per forward/backward (memory only: gradients are accumulated exactly); the logits take rows x max_new_tokens x vocabulary x 4 bytes, so lower it for real models.
        grad_clip: maximum global gradient norm.
        weight_decay: AdamW weight decay.
        critic_lr: PPO critic learning rate; default: 10 x lr (verl's critic/actor ratio).
        max_gen_batches: DAPO dynamic sampling: most prompt batches sampled per step to fill it.
        save_every: checkpoint every this many steps (the last step is always saved).
        keep_checkpoints: keep only the newest this many checkpoints; 0 keeps all.
        eval_problems: held-out problems for pass@1 before, during and after training; 0 disables.
        eval_samples: samples per held-out problem.
        eval_every: evaluate every this many steps; 0: only before and after training.
        eval_temperature: sampling temperature of the evaluation; default: temperature.
        eval_task: JSONL file of held-out problems; default for the sandbox: its test split.
        seed: run seed: prompts, sampling seeds and mini-batch order derive from it and the step.
        device: auto (CUDA when available), cpu, cuda, cuda:1, ...
        threads: torch CPU threads; default: torch's choice.
    """

    model: str
    out: str
    algo: str = "grpo"
    task: str = "sandbox"
    template: str = "boxed"
    difficulty: str = ""
    steps: int = 200
    prompts_per_step: int = 16
    rollouts: int | None = None
    lr: float = 1e-4
    kl: float | None = None
    entropy_coef: float | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 128
    epochs: int = 1
    mini_batches: int = 1
    micro_batch_size: int = 64
    grad_clip: float = 1.0
    weight_decay: float = 0.0
    critic_lr: float | None = None
    max_gen_batches: int = 4
    save_every: int = 50
    keep_checkpoints: int = 0
    eval_problems: int = 0
    eval_samples: int = 8
    eval_every: int = 0
    eval_temperature: float | None = None
    eval_task: str | None = None
    seed: int = 0
    device: str = "auto"
    threads: int | None = None

    def __post_init__(self) -> None:
        def need(ok: bool, field: str, what: str) -> None:
            if not ok:
                raise InputError(f"{field} {what}, got {getattr(self, field)!r}", field=field)

        need(isinstance(self.model, str) and self.model != "", "model", "must name a model folder or hub id")
        need(isinstance(self.out, str) and self.out != "", "out", "must name an output folder")
        for f in ("steps", "prompts_per_step", "max_new_tokens", "epochs", "mini_batches", "micro_batch_size",
                  "save_every", "max_gen_batches", "eval_samples"):
            v = getattr(self, f)
            need(isinstance(v, int) and not isinstance(v, bool) and v >= 1, f, "must be an integer >= 1")
        for f in ("keep_checkpoints", "eval_problems", "eval_every"):
            v = getattr(self, f)
            need(isinstance(v, int) and not isinstance(v, bool) and v >= 0, f, "must be an integer >= 0")
        need(self.rollouts is None or (isinstance(self.rollouts, int) and self.rollouts >= 1), "rollouts",
             "must be an integer >= 1")
        for f in ("lr", "grad_clip"):
            need(_finite(getattr(self, f)) and getattr(self, f) > 0, f, "must be a number > 0")
        need(self.critic_lr is None or (_finite(self.critic_lr) and self.critic_lr > 0), "critic_lr",
             "must be a number > 0")
        need(_finite(self.weight_decay) and self.weight_decay >= 0, "weight_decay", "must be a number >= 0")
        for f in ("kl", "entropy_coef"):
            v = getattr(self, f)
            need(v is None or (_finite(v) and v >= 0), f, "must be a number >= 0")
        need(_finite(self.temperature) and self.temperature > 0, "temperature",
             "must be > 0 (training samples; log-probs are taken at this temperature)")
        need(self.eval_temperature is None or (_finite(self.eval_temperature) and self.eval_temperature >= 0),
             "eval_temperature", "must be >= 0")
        need(_finite(self.top_p) and 0 < self.top_p <= 1, "top_p", "must be in (0, 1]")
        need(self.threads is None or (isinstance(self.threads, int) and self.threads >= 1), "threads",
             "must be an integer >= 1")
        get_algo_preset(self.algo)  # unknown name -> InputError listing the presets
        from rlbound.backends import templates

        templates.describe(self.template)  # unknown template -> InputError naming it
        self.difficulty_mix()

    def difficulty_mix(self) -> tuple[tuple[int, float], ...]:
        """``difficulty`` parsed to ((ops, weight), ...); () when empty. InputError when malformed."""
        if not self.difficulty:
            return ()
        if self.task != "sandbox":
            raise InputError("difficulty applies to the sandbox task only", field="difficulty")
        try:
            mix = tuple((int(d), float(w)) for d, w in (part.split(":") for part in self.difficulty.split(",")))
        except ValueError:
            raise InputError(f"difficulty must look like '2:1,3:2', got {self.difficulty!r}", field="difficulty") from None
        if any(d < 1 or w < 0 for d, w in mix) or sum(w for _, w in mix) <= 0:
            raise InputError(f"difficulty needs ops >= 1 and weights >= 0 summing above 0, got {self.difficulty!r}",
                             field="difficulty")
        return mix


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


# --------------------------------------------------------------------------------------------------
# Setup helpers


def resolve_preset(config: TrainConfig) -> AlgoPreset:
    """The preset of ``config.algo`` with the config's overrides applied and validated.

    ``rollouts`` replaces ``rollouts_per_prompt``; ``kl = 0`` removes the KL, ``kl > 0`` sets its
    coefficient (a preset without KL gets a k3 KL in the loss, GRPO's form); ``entropy_coef``
    replaces the preset's. DAPO's overlong buffer is rescaled to the generation limit: ``L_max =
    max_new_tokens`` and ``L_cache`` the same 20% share of it as DAPO's 4096 of 20480.
    """
    p = get_algo_preset(config.algo)
    changes: dict[str, Any] = {}
    if config.rollouts is not None:
        changes["rollouts_per_prompt"] = config.rollouts
    if config.kl is not None:
        if config.kl == 0:
            changes.update(kl_coef=0.0, kl_in_reward=False, kl_in_loss=False)
        elif p.kl_in_reward or p.kl_in_loss:
            changes["kl_coef"] = float(config.kl)
        else:
            changes.update(kl_coef=float(config.kl), kl_in_loss=True, kl_estimator="k3")
    if config.entropy_coef is not None:
        changes["entropy_coef"] = float(config.entropy_coef)
    if p.overlong is not None:
        share = p.overlong.cache_len / p.overlong.max_len
        changes["overlong"] = OverlongShaping(max_len=config.max_new_tokens,
                                              cache_len=max(1, round(share * config.max_new_tokens)),
                                              penalty_factor=p.overlong.penalty_factor)
    try:
        return dataclasses.replace(p, **changes)
    except InputError as e:  # RLInputError from the preset's validation: say which option to change
        raise InputError(f"--algo {config.algo} with these options: {e.message}", field=e.field) from None


def sandbox_task_config(model_dir: str) -> Any:
    """The sandbox ``TaskConfig`` a model was pretrained on: from ``sandbox_model.json`` (pretrain)
    or an RL checkpoint's ``manifest.json``; the default ``TaskConfig()`` otherwise."""
    import json

    from rlbound.toy.tasks import TaskConfig

    d = Path(model_dir)
    for name, key in (("sandbox_model.json", ("recipe", "task")), (ckpt.MANIFEST, ("task_config",))):
        p = d / name
        if p.is_file():
            obj: Any = json.loads(p.read_text(encoding="utf-8"))
            for k in key:
                obj = obj.get(k) if isinstance(obj, dict) else None
            if isinstance(obj, dict):
                return TaskConfig.from_dict(obj)
    return TaskConfig()


def load_problems(path: str, template: str = "raw", tokenizer: Any = None) -> list[Problem]:
    """Problems from a file, prompts rendered with ``template`` (``rlbound.backends.templates``).

    Two layouts: a JSONL of ``{id, prompt}`` rows (``reference``, ``verifier`` - default ``math`` -
    and ``metadata`` optional), or any benchmark file ``rlbound sample`` reads (MATH500, GSM8K,
    AIME, AMC, Minerva, OlympiadBench, detected by fields or folder name; graded by ``math``).
    Sandbox problems (verifier ``synthetic``) keep their own prompt format whatever ``template``.
    ``chat`` needs ``tokenizer``. InputError names the file, line and field (a repeated id too).
    """
    from rlbound.backends import templates
    from rlbound.data.benchmarks import load_benchmark
    from rlbound.data.jsonl import read_jsonl

    rows = read_jsonl(path, progress=False) if str(path).endswith((".jsonl", ".jsonl.gz")) else iter(())
    first = next(rows, None)  # JSON / Parquet files go to the benchmark loader
    if first is not None and {"id", "prompt"} <= set(first[1]) and set(first[1]) <= Problem.FIELDS:
        out, seen = [], {}
        for line, obj in (first, *rows):
            p = Problem.from_row(obj, path=str(path), line=line)
            if p.id in seen:
                raise InputError(f"duplicate id {p.id!r} (first on line {seen[p.id]})", path=str(path), line=line,
                                 field="id")
            seen[p.id] = line
            out.append(p)
    else:
        out = list(load_benchmark(path).problems)
    return [p if p.verifier == "synthetic" else dataclasses.replace(p, prompt=templates.render(template, p.prompt, tokenizer))
            for p in out]




class _Problems:
    """The prompts of step ``s``, attempt ``a``: a pure function of (seed, s, a)."""

    def __init__(self, config: TrainConfig, task_config: Any, tokenizer: Any = None) -> None:
        self.config, self.task_config, self.tokenizer = config, task_config, tokenizer
        self.pool = None if config.task == "sandbox" else load_problems(config.task, config.template, tokenizer)

    def batch(self, step: int, attempt: int, count: int) -> list[Problem]:
        c = self.config
        if self.pool is None:
            from rlbound.toy.tasks import generate_split
            return generate_split(self.task_config, "train", count, seed=derive_seed(c.seed, "train", step, attempt))
        n = len(self.pool)
        start = ((step - 1) * c.max_gen_batches + attempt) * count
        out = []
        for pos in range(start, start + count):  # epoch e visits the pool in a permutation seeded by (seed, e)
            epoch, i = divmod(pos, n)
            g = torch.Generator().manual_seed(derive_seed(c.seed, "epoch", epoch))
            out.append(self.pool[int(torch.randperm(n, generator=g)[i])])
        return out

    def held_out(self) -> list[Problem]:
        c = self.config
        if c.eval_problems == 0:
            return []
        if c.eval_task:
            return load_problems(c.eval_task, c.template, self.tokenizer)[: c.eval_problems]
        if self.pool is not None:
            raise InputError("eval_problems > 0 with a JSONL task needs eval_task (a file of held-out problems)",
                             field="eval_task")
        from rlbound.toy.tasks import generate_split
        return generate_split(self.task_config, "test", c.eval_problems, seed=0)


def _verifier_reward() -> RewardFn:
    """1.0 when the problem's registered verifier says correct, else 0.0 (RLVR's binary reward)."""
    from rlbound.verify.rewards import shared_verifier

    def reward(problem: Problem, text: str) -> float:
        return 1.0 if shared_verifier(problem.verifier).verify(problem, text).correct else 0.0

    return reward


def _check_out_folder(out: Path, config: TrainConfig, latest: Path | None) -> None:
    """Refuse a folder that holds something else, or a run with a different configuration."""
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a folder; choose a new or empty folder", path=str(out), field="out")
    if latest is not None:
        old = ckpt.read_manifest(latest).get("config", {})
        new = dataclasses.asdict(config)
        diff = sorted(k for k in set(old) | set(new) if k not in _RESUMABLE and old.get(k) != new.get(k))
        if diff:
            raise InputError(f"holds a run with different settings ({', '.join(diff)}); resume it with the same "
                             f"settings or choose another --out", path=str(out), field=diff[0])
        done = ckpt.list_checkpoints(out / ckpt.CHECKPOINTS)[-1][0]
        if done > config.steps:
            raise InputError(f"holds a run already at step {done} > steps={config.steps}", path=str(out),
                             field="steps")
    elif out.exists():
        foreign = sorted(p.name for p in out.iterdir() if p.name not in (ckpt.LOG, ckpt.CHECKPOINTS))
        if foreign:
            raise InputError(f"output folder holds files that are not a training run ({', '.join(foreign[:3])}); "
                             f"choose a new or empty folder", path=str(out), field="out")


# --------------------------------------------------------------------------------------------------
# The three phases of a step


@dataclass
class Rollout:
    """One step's training batch: B responses in groups (same group id = same prompt).

    Attributes:
        tokens: prompt + response ids (``rlbound.rl.rollout.TokenBatch``), response mask [B, T].
        group_ids: [B] long. acc: [B] float 0/1 verifier reward. rewards: [B] shaped reward.
        greedy_rewards: [B] reward of the prompt's greedy response (ReMax) or None.
        stats: pass rate, length, truncation, groups sampled/kept over everything sampled.
    """

    tokens: TokenBatch
    group_ids: torch.Tensor
    acc: torch.Tensor
    rewards: torch.Tensor
    greedy_rewards: torch.Tensor | None
    stats: dict[str, float]


def collect_rollouts(step: int, config: TrainConfig, preset: AlgoPreset, backend: PolicySampler, problems: _Problems,
                     reward: RewardFn, timer: dict[str, float]) -> Rollout | None:
    """Sample, grade and (DAPO) filter one step's groups; None when no group is left to train on."""
    from rlbound.backends.protocol import SamplingParams

    n = preset.rollouts_per_prompt
    params = SamplingParams(n=n, temperature=config.temperature, top_p=config.top_p,
                            max_new_tokens=config.max_new_tokens, seed=config.seed)
    tok, eos = backend.tokenizer, backend.tokenizer.eos_token_id
    kept: list[tuple[list[int], list[list[int]], list[float], list[int], float | None]] = []
    all_acc: list[float] = []
    all_len: list[int] = []
    truncated = mismatches = sampled_groups = 0
    attempts = config.max_gen_batches if preset.dynamic_sampling else 1
    for attempt in range(attempts):
        batch = problems.batch(step, attempt, config.prompts_per_step)
        t0 = time.perf_counter()
        groups = sample_groups(backend, batch, n, params, (config.seed, "rollout", step, attempt))
        greedy = None
        if preset.needs_greedy_rollout:  # ReMax baseline: one greedy response per prompt
            gp = SamplingParams(n=1, temperature=0.0, max_new_tokens=config.max_new_tokens, seed=config.seed)
            greedy = [g[0] for g in sample_groups(backend, batch, 1, gp, (config.seed, "greedy", step, attempt))]
        t1 = time.perf_counter()
        accs_all = [[reward(prob, c.text) for c in comps] for prob, comps in zip(batch, groups)]
        keep = [True] * len(batch)
        if preset.dynamic_sampling:  # DAPO: drop groups whose accuracies all agree (no gradient signal)
            flat = torch.tensor([a for accs in accs_all for a in accs], dtype=torch.float32)
            gids = torch.arange(len(batch)).repeat_interleave(n)
            keep = filter_groups(flat, gids).view(len(batch), n)[:, 0].tolist()
        for i, (prob, comps) in enumerate(zip(batch, groups)):
            accs = accs_all[i]
            resp = []
            for c in comps:
                ids, bad = response_ids(tok, c, eos)
                resp.append(ids)
                mismatches += bad
                truncated += c.finish_reason == "length"
                all_len.append(len(ids))
            all_acc += accs
            sampled_groups += 1
            g_reward = reward(prob, greedy[i].text) if greedy is not None else None
            if not keep[i]:
                continue
            kept.append((backend.encode_prompt(prompt_of(prob)),
                         resp, accs, [len(r) for r in resp], g_reward))
        timer["generate"] += t1 - t0
        timer["score"] += time.perf_counter() - t1
        if len(kept) >= config.prompts_per_step:
            break
    kept = kept[: config.prompts_per_step]
    stats = {"pass_rate": sum(all_acc) / len(all_acc), "response_length": sum(all_len) / len(all_len),
             "truncated": truncated / len(all_len), "retokenize_mismatch": mismatches / len(all_len),
             "groups_sampled": sampled_groups, "groups": len(kept)}
    if not kept:
        return None
    t0 = time.perf_counter()
    prompt_ids = [k[0] for k in kept for _ in k[1]]
    resp_ids = [r for k in kept for r in k[1]]
    dev = backend.device
    tokens = pack(prompt_ids, resp_ids, backend.pad_id, dev)
    group_ids = torch.tensor([g for g, k in enumerate(kept) for _ in k[1]], dtype=torch.long, device=dev)
    acc = torch.tensor([a for k in kept for a in k[2]], dtype=torch.float32, device=dev)
    rewards = acc.clone()
    if preset.overlong is not None:  # DAPO soft overlong punishment (eq. 13)
        lengths = torch.tensor([x for k in kept for x in k[3]], dtype=torch.float32, device=dev)
        o = preset.overlong
        rewards = rewards + overlong_penalty(lengths, o.max_len, o.cache_len, o.penalty_factor)
    greedy_rewards = None
    if preset.needs_greedy_rollout:
        greedy_rewards = torch.tensor([k[4] for k in kept for _ in k[1]], dtype=torch.float32, device=dev)
    timer["score"] += time.perf_counter() - t0
    return Rollout(tokens, group_ids, acc, rewards, greedy_rewards, stats)


def _chunks(idx: torch.Tensor, size: int) -> list[torch.Tensor]:
    return [idx[i:i + size] for i in range(0, idx.numel(), size)]


def _micro_batches(rows: torch.Tensor, mask: torch.Tensor, size: int) -> list[torch.Tensor]:
    """``rows`` sorted by response length (longest first, stable) and cut into chunks of ``size``:
    each chunk is trimmed to its own longest response, so a few long responses do not pad the rest."""
    lengths = mask[rows].sum(1)
    return _chunks(rows[torch.argsort(-lengths, stable=True)], size)


def _no_grad_pass(fn: Callable[[TokenBatch], torch.Tensor], tokens: TokenBatch, micro: int) -> torch.Tensor:
    """``fn`` over micro-batches without gradient, reassembled to [B, T] (0 beyond each row's end)."""
    b, t = tokens.response_mask.shape
    out = torch.zeros((b, t), dtype=torch.float32, device=tokens.input_ids.device)
    with torch.no_grad():
        for rows in _micro_batches(torch.arange(b, device=out.device), tokens.response_mask, micro):
            sub = tokens.rows(rows)
            out[rows, : sub.width] = fn(sub).float()
    return out


@dataclass
class Scored:
    """Advantages and everything the update needs besides the policy's fresh log-probs ([B, T] each)."""

    advantages: torch.Tensor
    returns: torch.Tensor
    old_log_probs: torch.Tensor | None
    ref_log_probs: torch.Tensor | None
    old_values: torch.Tensor | None


def score(batch: Rollout, config: TrainConfig, preset: AlgoPreset, policy: Any, ref: Any, critic: Any) -> Scored:
    """Log-probs (rollout policy, reference), values (critic), token rewards and advantages."""
    tokens, mask, micro, temp = batch.tokens, batch.tokens.response_mask, config.micro_batch_size, config.temperature
    off_policy = config.epochs > 1 or config.mini_batches > 1
    old = ref_lp = values = token_rewards = None
    if off_policy or preset.kl_in_reward:
        old = _no_grad_pass(lambda s: response_logprobs(policy, s, temp)[0], tokens, micro)
    if ref is not None:
        ref_lp = _no_grad_pass(lambda s: response_logprobs(ref, s, temp)[0], tokens, micro)
    if critic is not None:
        values = _no_grad_pass(critic.values, tokens, micro)
    if preset.kl_in_reward:
        kl = kl_estimate(old, ref_lp, preset.kl_estimator, mask)
        token_rewards = kl_in_reward(kl, mask, preset.kl_coef)
    inputs = AdvantageInputs(rewards=batch.rewards, group_ids=batch.group_ids, response_mask=mask,
                             token_level_rewards=token_rewards, values=values, greedy_rewards=batch.greedy_rewards)
    adv = get_advantage(preset.advantage)(inputs, preset.advantage_config)
    return Scored(adv.advantages, adv.returns, old, ref_lp, values)


def _share(mask: torch.Tensor, whole: torch.Tensor, mode: str) -> float:
    """Weight of a micro-batch's aggregated loss so that the weighted sum over micro-batches equals
    the loss aggregated over the whole mini-batch (token counts for token-mean, sequence counts else)."""
    if mode == "token-mean":
        return float(mask.sum()) / max(1.0, float(whole.sum()))
    return float((mask.sum(1) > 0).sum()) / max(1.0, float((whole.sum(1) > 0).sum()))


def update(step: int, batch: Rollout, scored: Scored, config: TrainConfig, preset: AlgoPreset, policy: Any,
           opt: torch.optim.Optimizer, critic: Any, critic_opt: Any) -> dict[str, float]:
    """``epochs`` x ``mini_batches`` optimizer steps on one rollout batch; returns averaged metrics."""
    tokens = batch.tokens
    b = tokens.response_mask.shape[0]
    dev = tokens.input_ids.device
    max_len = config.max_new_tokens
    pl_cfg = preset.policy_loss_config(max_len=max_len)
    agg = preset.loss_agg_mode
    sums: dict[str, float] = {}
    weight = 0.0

    def add(name: str, value: float, w: float) -> None:
        sums[name] = sums.get(name, 0.0) + value * w

    for epoch in range(config.epochs):
        order = torch.arange(b, device=dev)
        if config.epochs > 1 or config.mini_batches > 1:  # shuffle whole groups: keeps prompts shared
            g = torch.Generator().manual_seed(derive_seed(config.seed, "order", step, epoch))
            groups = torch.randperm(int(batch.group_ids.max()) + 1, generator=g).to(dev)
            order = torch.cat([torch.nonzero(batch.group_ids == k).flatten() for k in groups])
        for mini in _chunks(order, math.ceil(b / config.mini_batches)):
            whole = tokens.response_mask[mini]
            opt.zero_grad(set_to_none=True)
            if critic_opt is not None:
                critic_opt.zero_grad(set_to_none=True)
            for rows in _micro_batches(mini, tokens.response_mask, config.micro_batch_size):
                sub = tokens.rows(rows)
                t, mask = sub.width, sub.response_mask
                w = _share(mask, whole, agg)
                lp, ent = response_logprobs(policy, sub, config.temperature, with_entropy=True,
                                            entropy_grad=preset.entropy_coef > 0)
                old = scored.old_log_probs[rows, :t] if scored.old_log_probs is not None else lp.detach()
                pl = policy_loss(lp, old, scored.advantages[rows, :t], mask, pl_cfg)
                loss = pl.loss
                if scored.ref_log_probs is not None:
                    kl = kl_estimate(lp, scored.ref_log_probs[rows, :t], preset.kl_estimator, mask)
                    if preset.kl_in_loss:
                        loss = loss + kl_loss(kl, mask, preset.kl_coef, agg, max_len)
                    add("kl", float(aggregate(kl.detach(), mask, "token-mean")), float(mask.sum()))
                ent_mean = aggregate(ent, mask, agg, max_len)
                if preset.entropy_coef > 0:
                    loss = loss - preset.entropy_coef * ent_mean
                (loss * w).backward()
                ntok = float(mask.sum())
                weight += ntok
                add("loss", float(loss.detach()), ntok)
                add("entropy", float(aggregate(ent.detach(), mask, "token-mean")), ntok)
                for k in ("clip_frac", "approx_kl", "ratio_max"):
                    add(k, float(getattr(pl, k)), ntok)
                if critic is not None:
                    vl = value_loss(critic.values(sub), scored.old_values[rows, :t], scored.returns[rows, :t], mask,
                                    preset.value_clip, agg, max_len)
                    (vl.loss * w).backward()
                    add("value_loss", float(vl.loss.detach()), ntok)
            gn = torch.nn.utils.clip_grad_norm_(policy.parameters(), config.grad_clip)
            add("grad_norm", float(gn), float(whole.sum()))
            opt.step()
            if critic_opt is not None:
                torch.nn.utils.clip_grad_norm_(critic.parameters(), config.grad_clip)
                critic_opt.step()
    return {k: v / weight for k, v in sums.items()}


# --------------------------------------------------------------------------------------------------
# Setup, evaluation and checkpoints of a run


@dataclass
class _Models:
    """The models of a run. ``backend`` samples the rollouts; ``policy`` is its ``causal_lm``
    (``rlbound.rl.rollout.PolicySampler``), updated in place, so every rollout samples the current
    weights. The frozen reference (KL) and the PPO critic start from the base model."""

    backend: PolicySampler
    policy: Any
    ref: Any
    critic: ValueModel | None
    opt: torch.optim.Optimizer
    critic_opt: torch.optim.Optimizer | None


def _build_models(config: TrainConfig, preset: AlgoPreset, latest: Path | None) -> _Models:
    """The policy from the newest checkpoint (else the base model), reference, critic, optimizers."""
    from rlbound.backends.hf import HFBackend, HFOptions, load_model_and_tokenizer

    opts = HFOptions(device=config.device, dtype="float32", threads=config.threads)
    with ckpt.quiet_transformers():
        backend = HFBackend(str(latest or config.model), opts)
        policy = base = backend.causal_lm
        if latest is not None and (preset.needs_reference or preset.needs_critic):
            base = load_model_and_tokenizer(config.model, device=backend.device, dtype=torch.float32)[0]
    ref = _frozen_copy(base) if preset.needs_reference else None
    critic = critic_opt = None
    if preset.needs_critic:
        critic = ValueModel(base).to(backend.device)
        critic_opt = torch.optim.AdamW(critic.parameters(), lr=config.critic_lr or 10 * config.lr,
                                       weight_decay=config.weight_decay)
    opt = torch.optim.AdamW(policy.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return _Models(backend, policy, ref, critic, opt, critic_opt)


def _resume(models: _Models, latest: Path | None, log: ckpt.JsonlLog) -> tuple[int, float]:
    """Optimizer, critic, RNG states and log of the newest checkpoint; (its step, elapsed seconds)."""
    if latest is None:
        log.truncate(0)
        return 0, 0.0
    state = ckpt.load_trainer_state(latest, models.backend.device)
    models.opt.load_state_dict(state["optimizer"])
    if models.critic is not None:
        models.critic.load_state_dict(state["critic"])
        models.critic_opt.load_state_dict(state["critic_optimizer"])
    ckpt.set_rng_state(state["rng"])
    log.truncate(int(state["log_bytes"]))
    return int(state["step"]), float(state["elapsed"])


def _task_config(config: TrainConfig) -> Any:
    """The sandbox ``TaskConfig`` of the run (``difficulty`` applied); None for a task file."""
    task_config = sandbox_task_config(config.model) if config.task == "sandbox" else None
    if config.difficulty_mix():
        task_config = dataclasses.replace(task_config, train_difficulty=config.difficulty_mix(),
                                          test_difficulty=config.difficulty_mix())
    return task_config


def _evaluate(step: int, config: TrainConfig, backend: PolicySampler, held_out: list[Problem], reward: RewardFn,
              log: ckpt.JsonlLog) -> str:
    """Held-out pass@1 / pass@n into the log; returns the one-line summary."""
    temp = config.temperature if config.eval_temperature is None else config.eval_temperature
    t0 = time.perf_counter()
    r = pass_rate(backend, held_out, config.eval_samples, temperature=temp, top_p=config.top_p,
                  max_new_tokens=config.max_new_tokens, seed=config.seed, reward=reward)
    log.append({"kind": "eval", "step": step, **r, "temperature": temp, "time": round(time.perf_counter() - t0, 3)})
    return (f"step {step}: held-out pass@1 {r['pass1']:.3f}, pass@{r['n']} {r['passn']:.3f} "
            f"({r['problems']} problems x {r['n']} samples)")


def _save(step: int, elapsed: float, config: TrainConfig, preset: AlgoPreset, task_config: Any, models: _Models,
          log: ckpt.JsonlLog) -> Path:
    """Checkpoint ``step`` (model, tokenizer, manifest, trainer state) and prune old ones."""
    from rlbound.version import __version__

    manifest = {
        "kind": "rlbound-train-checkpoint", "format": 1, "step": step, "base_model": config.model,
        "algo": dataclasses.asdict(preset), "seed": config.seed, "config": dataclasses.asdict(config),
        "task_config": task_config.to_dict() if task_config is not None else None,
        "rlbound_version": __version__, "torch_version": torch.__version__, "created": ckpt.now_iso(),
    }
    critic, critic_opt = models.critic, models.critic_opt
    state = {"step": step, "elapsed": elapsed, "optimizer": models.opt.state_dict(), "rng": ckpt.rng_state(),
             "log_bytes": log.size,
             "critic": critic.state_dict() if critic is not None else None,
             "critic_optimizer": critic_opt.state_dict() if critic_opt is not None else None}
    root = Path(config.out) / ckpt.CHECKPOINTS
    path = ckpt.save_checkpoint(root, step, models.policy, models.backend.tokenizer, manifest, state)
    ckpt.prune_checkpoints(root, config.keep_checkpoints)
    return path


def _step(step: int, config: TrainConfig, preset: AlgoPreset, models: _Models, problems: _Problems,
          reward: RewardFn) -> tuple[Rollout | None, dict[str, float], dict[str, float]]:
    """One step's rollout, scoring and update: (batch or None, update metrics, time split)."""
    timer = {"generate": 0.0, "score": 0.0, "update": 0.0}
    batch = collect_rollouts(step, config, preset, models.backend, problems, reward, timer)
    metrics: dict[str, float] = {}
    if batch is not None:
        t0 = time.perf_counter()
        scored = score(batch, config, preset, models.policy, models.ref, models.critic)
        t1 = time.perf_counter()
        metrics = update(step, batch, scored, config, preset, models.policy, models.opt, models.critic,
                         models.critic_opt)
        timer["score"] += t1 - t0
        timer["update"] += time.perf_counter() - t1
    return batch, metrics, timer


def _step_record(step: int, batch: Rollout | None, metrics: dict[str, float], timer: dict[str, float], lr: float,
                 step_time: float, elapsed: float) -> dict[str, Any]:
    """The step's ``log.jsonl`` record (module docstring: "log")."""
    stats = batch.stats if batch is not None else {}
    return {"kind": "train", "step": step, "reward": float(batch.rewards.mean()) if batch is not None else None,
            **stats, **metrics, "lr": lr, **{f"time_{k}": round(v, 4) for k, v in timer.items()},
            "time_step": round(step_time, 4), "elapsed": round(elapsed, 3)}


# --------------------------------------------------------------------------------------------------
# The loop


def train(config: TrainConfig, progress: bool = True, reward_fn: RewardFn | None = None, *,
          on_message: Callable[[str], None] | None = None) -> Path:
    """Run (or resume) RLVR training; returns the final checkpoint folder ``out/checkpoints/step-<steps>``.

    ``reward_fn(problem, response_text) -> float`` replaces the verifier reward (default: 1.0 when
    the problem's registered verifier accepts the response, else 0.0; Yue et al. 2025's binary
    verifiable reward). ``on_message(line)`` receives each held-out evaluation's summary line
    (``rlbound train`` prints it above the progress bar). See the module docstring for the loop
    and ``TrainConfig`` for the options.
    """
    from tqdm import tqdm

    preset = resolve_preset(config)
    reward = reward_fn or _verifier_reward()
    out = Path(config.out)
    root = out / ckpt.CHECKPOINTS
    ckpt.remove_stale_tmp(root)
    latest = ckpt.latest_checkpoint(root)
    _check_out_folder(out, config, latest)
    out.mkdir(parents=True, exist_ok=True)
    log = ckpt.JsonlLog(out / ckpt.LOG)
    models = _build_models(config, preset, latest)
    start, elapsed = _resume(models, latest, log)
    task_config = _task_config(config)
    problems = _Problems(config, task_config, models.backend.tokenizer)
    held_out = problems.held_out()

    def evaluate(step: int) -> None:
        line = _evaluate(step, config, models.backend, held_out, reward, log)
        if on_message is not None:
            on_message(line)

    bar = tqdm(total=config.steps, initial=start, desc=f"train {preset.name}", unit="step", disable=not progress,
               dynamic_ncols=True)
    if held_out and start == 0:
        evaluate(0)
    for step in range(start + 1, config.steps + 1):
        # rollout -> score -> update
        t_step = time.perf_counter()
        batch, metrics, timer = _step(step, config, preset, models, problems, reward)
        step_time = time.perf_counter() - t_step
        elapsed += step_time
        # log
        record = _step_record(step, batch, metrics, timer, config.lr, step_time, elapsed)
        log.append(record)
        bar.update(1)
        bar.set_postfix(reward=f"{record['reward'] or 0:.3f}", pass_=f"{record.get('pass_rate', 0):.3f}",
                        len=f"{record.get('response_length', 0):.0f}")
        # evaluate and save
        if held_out and config.eval_every and step % config.eval_every == 0 and step != config.steps:
            evaluate(step)
        if step % config.save_every == 0 or step == config.steps:
            if step == config.steps and held_out:
                evaluate(step)
            _save(step, elapsed, config, preset, task_config, models, log)
    bar.close()
    return ckpt.checkpoint_dir(root, config.steps)


def _frozen_copy(model: Any) -> Any:
    import copy

    ref = copy.deepcopy(model)
    return ref.requires_grad_(False).eval()
