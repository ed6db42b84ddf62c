"""Distillation: fine-tune a student on a teacher's verified reasoning traces.

Yue et al. 2025 (arXiv 2504.13837, Sec. 4.3) contrast RLVR with distillation: a student fine-tuned
on a stronger teacher's reasoning traces can solve problems its base model could not (its pass@k
curve rises at large k too), where RLVR only re-weights what the base already samples. The recipe
here is rejection-sampling fine-tuning (RFT; Yuan et al. 2023, "Scaling Relationship on Learning
Mathematical Reasoning with Large Language Models", arXiv 2308.01825):

1. the teacher samples ``samples_per_prompt`` responses to each of ``prompts`` training prompts;
2. the verifier keeps the correct ones (distinct texts per prompt when ``unique``);
3. the student is fine-tuned with the next-token loss on the response tokens only: prompt
   positions carry no loss, the response's EOS does (the student must learn to stop). The loss
   is the mean over response tokens of ``-log p(token | prefix)`` (``sft_loss``).

``out/traces.jsonl`` holds every accepted trace (written atomically; a rerun with the same settings
reuses it); the student goes to ``out/checkpoints/step-<N>/`` with a ``manifest.json``
(``rlbound.rl.checkpoint``); ``out/log.jsonl`` has one record per optimizer step and the held-out
evaluations. A killed run restarts the fine-tuning from the saved traces.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rlbound.errors import InputError
from rlbound.rl import checkpoint as ckpt
from rlbound.rl.rollout import (
    PolicySampler,
    TokenBatch,
    derive_seed,
    pack,
    pass_rate,
    prompt_of,
    response_logprobs,
    sample_groups,
)
from rlbound.types import Problem

__all__ = ["DistillConfig", "distill", "next_token_loss", "sft_batch", "sft_labels", "sft_loss"]

IGNORE = -100  # label of positions without loss (Hugging Face convention)
TRACES = "traces.jsonl"


@dataclass(frozen=True)
class DistillConfig:
    """One distillation run (``rlbound distill``).

    Attributes:
        teacher: teacher model folder (or cached hub id) that writes the traces.
        student: student model folder (or cached hub id) to fine-tune, e.g. the base model.
        out: output folder: traces.jsonl, log.jsonl, checkpoints/step-<N>/.
        task: "sandbox" (train-split problems, task settings from the student's folder), a JSONL file of problems, or a benchmark file as ``rlbound sample`` reads it.
        template: prompt template of problems from a file (raw, boxed, boxed-plain, chat: the student's chat template, or a string with {problem}); sandbox problems keep their own format.
        prompts: training prompts the teacher answers (the first ones of a JSONL task).
        samples_per_prompt: teacher samples per prompt.
        unique: keep each distinct accepted response of a prompt once.
        temperature: teacher sampling temperature.
        top_p: teacher nucleus sampling threshold.
        max_new_tokens: longest teacher response in tokens (also the evaluation limit).
        epochs: passes over the accepted traces.
        batch_size: traces per optimizer step.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        grad_clip: maximum global gradient norm.
        eval_problems: held-out problems for the student's pass@1 before and after; 0 disables.
        eval_samples: samples per held-out problem.
        eval_task: JSONL file of held-out problems; default for the sandbox: its test split.
        seed: run seed (prompts, sampling seeds, trace order).
        device: auto (CUDA when available), cpu, cuda, ...
        threads: torch CPU threads; default: torch's choice.
    """

    teacher: str
    student: str
    out: str
    task: str = "sandbox"
    template: str = "boxed"
    prompts: int = 512
    samples_per_prompt: int = 4
    unique: bool = True
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 128
    epochs: int = 2
    batch_size: int = 32
    lr: float = 3e-4
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    eval_problems: int = 0
    eval_samples: int = 8
    eval_task: str | None = None
    seed: int = 0
    device: str = "auto"
    threads: int | None = None

    def __post_init__(self) -> None:
        def need(ok: bool, field: str, what: str) -> None:
            if not ok:
                raise InputError(f"{field} {what}, got {getattr(self, field)!r}", field=field)

        for f in ("teacher", "student", "out"):
            need(isinstance(getattr(self, f), str) and getattr(self, f) != "", f, "must not be empty")
        for f in ("prompts", "samples_per_prompt", "max_new_tokens", "epochs", "batch_size", "eval_samples"):
            v = getattr(self, f)
            need(isinstance(v, int) and not isinstance(v, bool) and v >= 1, f, "must be an integer >= 1")
        need(isinstance(self.eval_problems, int) and self.eval_problems >= 0, "eval_problems", "must be >= 0")
        for f in ("lr", "grad_clip"):
            v = getattr(self, f)
            need(isinstance(v, (int, float)) and math.isfinite(v) and v > 0, f, "must be a number > 0")
        need(self.weight_decay >= 0, "weight_decay", "must be >= 0")
        need(self.temperature >= 0, "temperature", "must be >= 0")
        need(0 < self.top_p <= 1, "top_p", "must be in (0, 1]")
        from rlbound.backends import templates

        templates.describe(self.template)  # unknown template -> InputError naming it


# --------------------------------------------------------------------------------------------------
# The loss (pure functions; tests check the alignment exactly)


def sft_batch(prompt_ids: Sequence[Sequence[int]], response_ids: Sequence[Sequence[int]], eos_id: int, pad_id: int,
              device: torch.device | str = "cpu") -> TokenBatch:
    """Pack (prompt, response + EOS) pairs: prompts left-padded, responses right-padded
    (``rlbound.rl.rollout.pack``); ``response_mask`` [B, T] marks the response tokens and the EOS."""
    return pack(prompt_ids, [list(r) + [int(eos_id)] for r in response_ids], pad_id, device)


def sft_labels(batch: TokenBatch) -> torch.Tensor:
    """Hugging Face ``labels`` [B, P + T] of a batch: the token id at response positions (EOS
    included), ``-100`` on the prompt and on padding. ``model(input_ids, labels=labels).loss``
    shifts them by one internally and equals ``sft_loss``."""
    labels = torch.full_like(batch.input_ids, IGNORE)
    p = batch.prompt_width
    resp = batch.input_ids[:, p:]
    labels[:, p:] = torch.where(batch.response_mask, resp, torch.full_like(resp, IGNORE))
    return labels


def next_token_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy: the logit at position t predicts the label at t + 1.

    Shapes: logits [B, L, V], labels [B, L] (``-100`` = no loss). Returns a 0-dim tensor.
    """
    pred, target = logits[:, :-1].float(), labels[:, 1:]
    return torch.nn.functional.cross_entropy(pred.reshape(-1, pred.shape[-1]), target.reshape(-1),
                                             ignore_index=IGNORE)


def sft_loss(model: Any, batch: TokenBatch) -> torch.Tensor:
    """Mean over response tokens (EOS included) of ``-log p(token | prefix)``: the same value as
    ``next_token_loss(model(input_ids).logits, sft_labels(batch))``, computed from the response
    logits only (``response_logprobs``)."""
    logp, _ = response_logprobs(model, batch)
    m = batch.response_mask
    return -(logp * m).sum() / m.sum().clamp(min=1)


# --------------------------------------------------------------------------------------------------
# The run


def _problems(config: DistillConfig, task_config: Any) -> tuple[list[Problem], list[Problem]]:
    from rlbound.rl.trainer import load_problems

    if config.task == "sandbox":
        from rlbound.toy.tasks import generate_split
        train = generate_split(task_config, "train", config.prompts, seed=derive_seed(config.seed, "distill"))
        held = generate_split(task_config, "test", config.eval_problems, seed=0) if config.eval_problems else []
        return train, held
    tok = None
    if config.template == "chat":
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(config.student)
    train = load_problems(config.task, config.template, tok)[: config.prompts]
    held = []
    if config.eval_problems:
        if not config.eval_task:
            raise InputError("eval_problems > 0 with a JSONL task needs eval_task", field="eval_task")
        held = load_problems(config.eval_task, config.template, tok)[: config.eval_problems]
    return train, held


def _check_tasks(teacher: str, student: str) -> Any:
    """The student's sandbox task; InputError when a model folder is missing or the teacher was
    trained on another prompt format."""
    from rlbound.rl.trainer import sandbox_task_config
    from rlbound.toy.tasks import prompt_width

    for name, model in (("teacher", teacher), ("student", student)):  # the hf loader's rule for a path
        if (os.sep in model or model.startswith((".", "~"))) and not Path(model).expanduser().is_dir():
            raise InputError("model directory not found", path=model, field=name)
    t, s = sandbox_task_config(teacher), sandbox_task_config(student)
    if t.modulus != s.modulus or prompt_width(t) != prompt_width(s):
        raise InputError(f"teacher and student sandbox tasks differ (modulus {t.modulus} vs {s.modulus}, prompt "
                         f"width {prompt_width(t)} vs {prompt_width(s)})", field="teacher")
    return s


def _finished_run(out: Path, config: DistillConfig) -> Path | None:
    """The final checkpoint of a finished run of ``config`` in ``out``; None when there is none.
    InputError when ``out`` holds something else or a run with other settings. Temp files of a
    traces write killed midway (their writer is gone) are removed first."""
    if not out.exists():
        return None
    if not out.is_dir():
        raise InputError("exists and is not a folder; choose a new or empty folder", path=str(out), field="out")
    ckpt.remove_stale_tmp_files(out)
    foreign = sorted(p.name for p in out.iterdir() if p.name not in (ckpt.LOG, ckpt.CHECKPOINTS, TRACES))
    if foreign:
        raise InputError(f"output folder holds files that are not a distillation run ({', '.join(foreign[:3])})",
                         path=str(out), field="out")
    done = ckpt.latest_checkpoint(out / ckpt.CHECKPOINTS)
    if done is not None and ckpt.read_manifest(done).get("config") != dataclasses.asdict(config):
        raise InputError("holds a distillation run with other settings; choose another --out", path=str(out))
    return done


def _saved_traces(path: Path, meta: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The traces a previous run with the same settings (``meta``) wrote; None when there are none."""
    if not path.is_file():
        return None
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    if not rows or rows[0].get("meta") != meta:
        raise InputError("holds traces of a distillation run with other settings; choose another --out",
                         path=str(path))
    return rows[1:]


def _sample_traces(config: DistillConfig, problems: list[Problem], opts: Any, reward: Any,
                   progress: bool) -> list[dict[str, Any]]:
    """Steps 1-2: the teacher's samples that the verifier accepts (distinct texts when ``unique``)."""
    from tqdm import tqdm

    from rlbound.backends.hf import HFBackend
    from rlbound.backends.protocol import SamplingParams

    with ckpt.quiet_transformers():
        teacher = HFBackend(config.teacher, opts)
    params = SamplingParams(n=config.samples_per_prompt, temperature=config.temperature, top_p=config.top_p,
                            max_new_tokens=config.max_new_tokens, seed=config.seed)
    traces = []
    chunk = max(1, 256 // config.samples_per_prompt)
    bar = tqdm(total=len(problems), desc="teacher traces", unit="prompt", disable=not progress)
    for start in range(0, len(problems), chunk):
        probs = problems[start:start + chunk]
        groups = sample_groups(teacher, probs, config.samples_per_prompt, params, (config.seed, "teacher", start))
        for p, g in zip(probs, groups):
            seen: set[str] = set()
            for j, c in enumerate(g):
                if reward(p, c.text) >= 1.0 and not (config.unique and c.text in seen):
                    seen.add(c.text)
                    traces.append({"problem_id": p.id, "sample_index": j, "text": c.text})
        bar.update(len(probs))
    bar.close()
    teacher.close()
    return traces


def _teacher_traces(config: DistillConfig, problems: list[Problem], opts: Any, reward: Any, path: Path,
                    progress: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Steps 1-2, reused from ``path`` when a run with these settings wrote it: (traces, stats)."""
    from rlbound.data.jsonl import write_jsonl_atomic

    meta = {"config": dataclasses.asdict(config)}
    stats: dict[str, Any] = {}
    traces = _saved_traces(path, meta)
    if traces is None:
        t0 = time.perf_counter()
        traces = _sample_traces(config, problems, opts, reward, progress)
        write_jsonl_atomic(path, [{"meta": meta}] + traces)
        stats["time_traces"] = round(time.perf_counter() - t0, 2)
    if not traces:
        raise InputError("the teacher produced no accepted trace; raise prompts or samples_per_prompt",
                         field="prompts")
    stats.update(prompts=len(problems), samples=len(problems) * config.samples_per_prompt,
                 accepted=len(traces), prompts_covered=len({t["problem_id"] for t in traces}))
    return traces, stats


def _fine_tune(student: PolicySampler, config: DistillConfig, examples: list[tuple[list[int], list[int]]],
               log: ckpt.JsonlLog, progress: bool) -> int:
    """Step 3: ``epochs`` passes of next-token loss on the response tokens; returns the step count."""
    from tqdm import tqdm

    model, tok = student.causal_lm, student.tokenizer
    eos, pad = tok.eos_token_id, student.pad_id
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    per_epoch = math.ceil(len(examples) / config.batch_size)
    bar = tqdm(total=config.epochs * per_epoch, desc="distill", unit="step", disable=not progress)
    step = 0
    for epoch in range(config.epochs):
        g = torch.Generator().manual_seed(derive_seed(config.seed, "sft", epoch))
        order = torch.randperm(len(examples), generator=g).tolist()
        for start in range(0, len(order), config.batch_size):
            t0 = time.perf_counter()
            rows = [examples[i] for i in order[start:start + config.batch_size]]
            batch = sft_batch([r[0] for r in rows], [r[1] for r in rows], eos, pad, student.device)
            loss = sft_loss(model, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gn = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            opt.step()
            step += 1
            log.append({"kind": "train", "step": step, "epoch": epoch, "loss": float(loss.detach()),
                        "grad_norm": float(gn), "tokens": int(batch.response_mask.sum()),
                        "time": round(time.perf_counter() - t0, 4)})
            bar.update(1)
            bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
    bar.close()
    return step


def distill(config: DistillConfig, progress: bool = True, reward_fn: Any = None) -> Path:
    """Run distillation (module docstring); returns the student's checkpoint folder.

    ``reward_fn(problem, text) -> float`` replaces the verifier (a trace is kept when it is >= 1).
    """
    from rlbound.backends.hf import HFBackend, HFOptions
    from rlbound.rl.trainer import _verifier_reward
    from rlbound.version import __version__

    reward = reward_fn or _verifier_reward()
    out = Path(config.out)
    done = _finished_run(out, config)
    if done is not None:
        return done
    out.mkdir(parents=True, exist_ok=True)
    ckpt.remove_stale_tmp(out / ckpt.CHECKPOINTS)
    task_config = _check_tasks(config.teacher, config.student) if config.task == "sandbox" else None
    train_problems, held_out = _problems(config, task_config)
    opts = HFOptions(device=config.device, dtype="float32", threads=config.threads)

    # 1-2. Teacher traces, verified (reused when a previous run with these settings wrote them).
    traces, stats = _teacher_traces(config, train_problems, opts, reward, out / TRACES, progress)

    # 3. Fine-tune the student on the response tokens, held-out pass@1 before and after.
    with ckpt.quiet_transformers():
        student = HFBackend(config.student, opts)
    log = ckpt.JsonlLog(out / ckpt.LOG)
    log.truncate(0)
    log.append({"kind": "traces", **stats})

    def evaluate(step: int) -> None:
        if held_out:
            r = pass_rate(student, held_out, config.eval_samples, temperature=config.temperature, top_p=config.top_p,
                          max_new_tokens=config.max_new_tokens, seed=config.seed, reward=reward)
            log.append({"kind": "eval", "step": step, **r})

    evaluate(0)
    by_id = {p.id: p for p in train_problems}
    examples = [(student.encode_prompt(prompt_of(by_id[t["problem_id"]])),
                 list(student.tokenizer(t["text"], add_special_tokens=False)["input_ids"])) for t in traces]
    step = _fine_tune(student, config, examples, log, progress)
    evaluate(step)

    # 4. The student's checkpoint.
    manifest = {"kind": "rlbound-distill-checkpoint", "format": 1, "step": step, "teacher": config.teacher,
                "base_model": config.student, "seed": config.seed, "config": dataclasses.asdict(config),
                "traces": stats, "task_config": task_config.to_dict() if task_config is not None else None,
                "rlbound_version": __version__, "torch_version": torch.__version__,
                "created": ckpt.now_iso()}
    return ckpt.save_checkpoint(out / ckpt.CHECKPOINTS, step, student.causal_lm, student.tokenizer, manifest)
