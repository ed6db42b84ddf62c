"""Pretrain a sandbox model from scratch on CPU: a plain PyTorch loop, resumable after ``kill -9``.

Recipe (what made the task learnable in a few CPU minutes): one example per row, starting at
position 0 with its prompt (no filler, no packing); the loss is on the completion (and its
``<eos>``) only; batches are cut from a length-sorted pool so little compute goes to right padding. Optimiser AdamW
(Loshchilov and Hutter 2019) with linear warmup then cosine decay, gradient-norm clipping, float32
(on the development CPU bfloat16 matmuls ran at half the float32 rate: no AMX).

Determinism: the batch of step ``s`` is a pure function of (recipe, s), and a checkpoint holds the
model, the optimiser, the RNG states and the step, written atomically (temp file + ``os.replace``)
every ``checkpoint_every_s`` seconds. A run killed at any moment resumes from its last checkpoint
and ends with the same weights as an uninterrupted run on the same machine.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rlbound.data.atomic import atomic_write, atomic_write_text, fsync_dir, is_tmp_name, tmp_name
from rlbound.errors import InputError
from rlbound.toy.model import build_model, count_parameters, train_flops_per_token
from rlbound.toy.presets import PretrainConfig, get_recipe
from rlbound.toy.tasks import TaskConfig, prompt_width, split_tokens, training_examples
from rlbound.verify.graph import OPS, apply_op

MANIFEST = "sandbox_model.json"
CHECKPOINT = "checkpoint.pt"
TRAIN_LOG = "train_log.jsonl"
FINGERPRINT_STEPS = 10


# --------------------------------------------------------------------------------------------------
# Data


class BatchSource:
    """The batch of every step, a pure function of (recipe, step).

    Pool ``k`` holds ``pool_batches * batch_size`` examples drawn with ``Random((seed, k))``, sorted
    by total length and cut into batches, which are visited in a shuffled order. Tensors:
    ``input_ids`` and ``labels`` of shape ``[batch_size, longest prompt + completion + 1]``;
    labels are -100 on the prompt and on right padding (which, being causal, nothing attends to).
    """

    def __init__(self, cfg: PretrainConfig, tokenizer: Any) -> None:
        self.cfg = cfg
        self.vocab = tokenizer.get_vocab()
        self.eos, self.pad = tokenizer.eos_token_id, tokenizer.pad_token_id
        self._pool_index = -1
        self._pool: list[tuple[Any, Any]] = []

    def _encode(self, text: str) -> list[int]:
        return [self.vocab[t] for t in split_tokens(text)]

    def _drill_row(self, rng: random.Random) -> tuple[list[int], list[bool]]:
        """``x op y=z;`` facts back to back (loss on each ``z`` only), as long as ``drill_len``."""
        p, ids, mask = self.cfg.task.modulus, [], []
        while len(ids) + 6 <= self.cfg.drill_len:
            x, y, op = rng.randrange(p), rng.randrange(p), rng.choice(OPS)
            ids += self._encode(f"{x}{op}{y}={apply_op(op, x, y, p)};")
            mask += [False, False, False, False, True, False]
        return ids, mask

    def _make_pool(self, k: int) -> list[tuple[Any, Any]]:
        import torch

        cfg = self.cfg
        rng = random.Random(f"rlbound-pretrain:{cfg.seed}:{k}")
        n = cfg.pool_batches * cfg.batch_size
        n_drill = round(n * cfg.drill_fraction)
        rows: list[tuple[list[int], list[bool]]] = []
        for e in training_examples(cfg.task, rng, n - n_drill):
            pr, co = self._encode(e.prompt), self._encode(e.completion) + [self.eos]
            rows.append((pr + co, [False] * len(pr) + [True] * len(co)))
        rows += [self._drill_row(rng) for _ in range(n_drill)]
        rows.sort(key=lambda r: len(r[0]))
        batches = []
        for b in range(cfg.pool_batches):
            chunk = rows[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            T = max(len(r[0]) for r in chunk)
            ids = torch.full((len(chunk), T), self.pad, dtype=torch.long)
            labels = torch.full((len(chunk), T), -100, dtype=torch.long)
            for i, (row, mask) in enumerate(chunk):
                t = torch.tensor(row)
                ids[i, :len(row)] = t
                m = torch.tensor(mask)
                labels[i, :len(row)][m] = t[m]
            batches.append((ids, labels))
        rng.shuffle(batches)
        return batches

    def batch(self, step: int) -> tuple[Any, Any]:
        k, j = divmod(step, self.cfg.pool_batches)
        if k != self._pool_index:
            self._pool, self._pool_index = self._make_pool(k), k
        return self._pool[j]


def lr_at(cfg: PretrainConfig, step: int) -> float:
    """Linear warmup over ``warmup_steps``, then cosine from ``lr`` to ``lr * min_lr_ratio``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.steps - cfg.warmup_steps)
    frac = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * frac)))


# --------------------------------------------------------------------------------------------------
# Files


def _atomic_torch_save(obj: Any, dest: Path) -> None:
    import torch

    atomic_write(dest, lambda fh: torch.save(obj, fh))


def weights_digest(model: Any) -> str:
    """sha256 over the state dict (names and float bytes, sorted by name): identifies trained weights."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().contiguous().cpu().numpy().tobytes())
    return h.hexdigest()


def _check_out_dir(out: Path, resume: bool) -> str:
    """'done', 'resume' or 'fresh'; InputError when the folder holds something that is not ours."""
    if (out / MANIFEST).exists():
        return "done" if resume else "exists"
    if (out / CHECKPOINT).exists():
        return "resume" if resume else "exists"
    if out.exists():
        foreign = [p.name for p in out.iterdir() if not is_tmp_name(p.name)]
        if foreign:
            raise InputError(f"output folder is not empty and holds no sandbox checkpoint ({', '.join(sorted(foreign)[:3])}"
                             f"{', ...' if len(foreign) > 3 else ''}); choose an empty or new folder", path=str(out))
    return "fresh"


def load_manifest(model_dir: str | Path) -> dict[str, Any]:
    """The manifest of a finished sandbox model folder."""
    p = Path(model_dir) / MANIFEST
    if not p.exists():
        raise InputError(f"not a finished sandbox model folder (no {MANIFEST})", path=str(model_dir))
    return json.loads(p.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------------------
# Training


def setup_training(cfg: PretrainConfig) -> tuple[Any, Any, Any, BatchSource]:
    """(tokenizer, freshly initialised model, AdamW without decay on biases and norms, batches)
    of a recipe: the start of ``pretrain`` (and of ``bench/pretrain.py``)."""
    import torch

    from rlbound.toy.tokenizer import build_tokenizer
    tok = build_tokenizer(cfg.task)
    model = build_model(cfg.model, tok, seed=cfg.seed)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=1e-8)
    return tok, model, opt, BatchSource(cfg, tok)


def train_step(cfg: PretrainConfig, fwd: Any, model: Any, opt: Any, ids: Any, labels: Any, step: int) -> float:
    """One optimizer step of ``pretrain`` at ``lr_at(cfg, step)``: next-token loss through ``fwd``
    (``model`` or its ``torch.compile``), gradient clipping, AdamW; returns the loss."""
    import torch

    for g in opt.param_groups:
        g["lr"] = lr_at(cfg, step)
    model.train()
    if cfg.dtype == "bfloat16":
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = fwd(input_ids=ids, labels=labels).loss
    else:
        loss = fwd(input_ids=ids, labels=labels).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    opt.step()
    opt.zero_grad(set_to_none=True)
    return float(loss.detach())


def fingerprint(cfg: PretrainConfig, steps: int = FINGERPRINT_STEPS) -> dict[str, Any]:
    """Train the first ``steps`` steps of ``cfg`` in memory: their losses and the weights' sha256.

    A finished model's manifest records the same for its run, so a shipped checkpoint can be
    checked against its recipe (equal on the same CPU kind and library versions; losses agree to
    float tolerance elsewhere).
    """
    _, model, opt, source = setup_training(cfg)
    losses = [train_step(cfg, model, model, opt, *source.batch(s), s) for s in range(steps)]
    return {"steps": steps, "losses": losses, "weights_sha256": weights_digest(model)}


def pretrain(preset_or_config: str | PretrainConfig, out_dir: str | Path, *, resume: bool = True,
             progress: bool = True, stop_after: int | None = None, threads: int | None = None) -> Path:
    """Pretrain a sandbox model and save it with ``save_pretrained`` into ``out_dir``; returns ``out_dir``.

    ``preset_or_config`` is a preset name (``rlbound.toy.presets``) or a ``PretrainConfig``.
    ``out_dir`` must be new, empty, or hold this recipe's checkpoint (resumed when ``resume``) or
    finished model (returned as is when ``resume``). Writes ``checkpoint.pt`` atomically every
    ``checkpoint_every_s`` seconds; at the end the model, tokenizer, ``train_log.jsonl`` and,
    last, ``sandbox_model.json`` (the recipe, parameter counts, timings, fingerprint), then
    removes the checkpoint. ``stop_after`` (for tests) stops after that many steps with only a
    checkpoint written. Shows a tqdm bar with loss, tokens/s and ETA when ``progress``.

    ``threads``: torch intra-op threads for the run (restored afterwards); None picks
    ``auto_threads()``. Thread count does not enter the recipe, but bit-identical resumption is
    only promised at an unchanged thread count.
    """
    import torch

    cfg = get_recipe(preset_or_config) if isinstance(preset_or_config, str) else preset_or_config
    out = Path(out_dir)
    state = _check_out_dir(out, resume)
    if state == "exists":
        raise InputError("output folder already holds a sandbox model or checkpoint; pass resume=True to "
                         "continue it or choose another folder", path=str(out))
    if state == "done":
        man = load_manifest(out)
        if man.get("recipe_sha256") != cfg.recipe_sha256():
            raise InputError("output folder holds a finished model of a different recipe", path=str(out))
        return out
    out.mkdir(parents=True, exist_ok=True)
    for stale in (p for p in out.iterdir() if is_tmp_name(p.name)):  # left by a killed run: never renamed into place
        if stale.is_dir():
            shutil.rmtree(stale)
        else:
            stale.unlink()

    prev_threads = torch.get_num_threads()
    torch.set_num_threads(threads or auto_threads())
    try:
        return _run(cfg, out, state, progress, stop_after)
    finally:
        torch.set_num_threads(prev_threads)


def auto_threads() -> int:
    """Intra-op threads for a CPU run: the cores other processes are not using now, at least 1.

    On a shared 2-core machine two OpenMP threads that keep losing their core to other processes
    ran 3-7x slower than one thread (measured, docs/LOG.md), so a busy machine gets one thread.
    "Now" is the machine's busy CPU time over half a second while this process waits
    (``busy_cores``), not the load average: that still counts this process's own previous stage for
    a minute, and gave the teacher one thread right after the base model's pretraining.
    """
    cores = os.cpu_count() or 1
    busy = busy_cores()
    return max(1, min(cores, int(cores - busy + 0.5)))


def busy_cores(window_s: float = 0.5) -> float:
    """Cores kept busy by other processes: busy CPU time in ``/proc/stat`` over ``window_s`` seconds
    while this process sleeps; the 1-minute load average where ``/proc/stat`` cannot be read."""
    def busy_ticks() -> int:
        with open("/proc/stat", encoding="ascii") as fh:
            vals = [int(v) for v in fh.readline().split()[1:]]
        return sum(vals) - vals[3] - (vals[4] if len(vals) > 4 else 0)  # minus idle and iowait

    try:
        hz = os.sysconf("SC_CLK_TCK")
        before, t0 = busy_ticks(), time.monotonic()
        time.sleep(window_s)
        return max(0.0, (busy_ticks() - before) / hz / (time.monotonic() - t0))
    except (OSError, ValueError, IndexError):
        try:
            return os.getloadavg()[0]
        except OSError:  # pragma: no cover - platforms without load average
            return 0.0


def _run(cfg: PretrainConfig, out: Path, state: str, progress: bool, stop_after: int | None) -> Path:
    import torch
    from tqdm import tqdm

    tok, model, opt, source = setup_training(cfg)
    step, elapsed, tokens, loss_tokens = 0, 0.0, 0, 0
    history: list[dict[str, Any]] = []
    fp_losses: list[float] = []
    fp_sha = None
    if state == "resume":
        ck = torch.load(out / CHECKPOINT, map_location="cpu", weights_only=False)
        if ck.get("recipe_sha256") != cfg.recipe_sha256():
            raise InputError("checkpoint in the output folder is from a different recipe; choose another folder",
                             path=str(out / CHECKPOINT))
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        torch.set_rng_state(ck["torch_rng"])
        random.setstate(ck["python_rng"])
        step, elapsed, tokens, loss_tokens = ck["step"], ck["elapsed"], ck["tokens"], ck["loss_tokens"]
        history, fp_losses, fp_sha = ck["history"], ck["fingerprint_losses"], ck["fingerprint_sha256"]

    def save_checkpoint() -> None:
        _atomic_torch_save({
            "format": 1, "recipe": cfg.to_dict(), "recipe_sha256": cfg.recipe_sha256(), "step": step,
            "model": model.state_dict(), "optimizer": opt.state_dict(), "torch_rng": torch.get_rng_state(),
            "python_rng": random.getstate(), "elapsed": elapsed, "tokens": tokens, "loss_tokens": loss_tokens,
            "history": history, "fingerprint_losses": fp_losses, "fingerprint_sha256": fp_sha,
        }, out / CHECKPOINT)

    fwd = torch.compile(model, dynamic=True) if cfg.compile else model
    end = cfg.steps if stop_after is None else min(cfg.steps, stop_after)
    bar = tqdm(total=cfg.steps, initial=step, desc=f"pretrain {cfg.name}", unit="step", disable=not progress,
               dynamic_ncols=True)
    last_ck = time.monotonic()
    ema = None
    t_session, tok_session = time.perf_counter(), 0
    while step < end:
        ids, labels = source.batch(step)
        t0 = time.perf_counter()
        loss = train_step(cfg, fwd, model, opt, ids, labels, step)
        elapsed += time.perf_counter() - t0
        n_tok = ids.numel()
        tokens += n_tok
        tok_session += n_tok
        loss_tokens += int((labels != -100).sum())
        step += 1
        ema = loss if ema is None else 0.9 * ema + 0.1 * loss
        if step <= FINGERPRINT_STEPS:
            fp_losses.append(loss)
            if step == FINGERPRINT_STEPS:
                fp_sha = weights_digest(model)
        if step % 10 == 0 or step == cfg.steps:
            history.append({"step": step, "loss": round(ema, 5), "lr": lr_at(cfg, step - 1),
                            "tokens": tokens, "elapsed_s": round(elapsed, 2)})
        bar.update(1)
        bar.set_postfix(loss=f"{ema:.3f}", tok_s=f"{tok_session / (time.perf_counter() - t_session):.0f}", refresh=False)
        if time.monotonic() - last_ck >= cfg.checkpoint_every_s and step < cfg.steps:
            save_checkpoint()
            last_ck = time.monotonic()
    bar.close()
    if step < cfg.steps:
        save_checkpoint()
        return out
    _finalize(cfg, out, tok, model, {
        "steps": step, "tokens_processed": tokens, "loss_tokens": loss_tokens, "train_seconds": round(elapsed, 2),
        "tokens_per_s": round(tokens / max(elapsed, 1e-9), 1), "final_loss_ema": ema,
        "fingerprint": {"steps": FINGERPRINT_STEPS, "losses": fp_losses, "weights_sha256": fp_sha},
        "wall_seconds_last_session": round(time.perf_counter() - t_session, 2),
    }, history)
    return out


def _finalize(cfg: PretrainConfig, out: Path, tok: Any, model: Any, stats: dict[str, Any],
              history: list[dict[str, Any]]) -> None:
    """Write model + tokenizer + log into a temp folder, move them in, manifest last, drop the checkpoint."""
    import torch
    import transformers

    from rlbound.version import __version__

    tmp = out / tmp_name(".final")  # a leftover of a killed run is removed by the next one (is_tmp_name)
    tmp.mkdir()
    model.save_pretrained(str(tmp), safe_serialization=True)
    tok.save_pretrained(str(tmp))
    (tmp / TRAIN_LOG).write_text("".join(json.dumps(h) + "\n" for h in history), encoding="utf-8")
    seq = float(stats["tokens_processed"]) / (stats["steps"] * cfg.batch_size)
    manifest = {
        "format": 1, "kind": "rlbound-sandbox-model", "name": cfg.name,
        "recipe": cfg.to_dict(), "recipe_sha256": cfg.recipe_sha256(),
        "parameters": count_parameters(model), "prompt_width": prompt_width(cfg.task),
        "train_flops_per_token": train_flops_per_token(cfg.model, len(tok), seq),
        "mean_seq_len": seq, **stats,
        "weights_sha256": weights_digest(model),
        "torch_threads": torch.get_num_threads(), "torch_version": torch.__version__,
        "transformers_version": transformers.__version__, "rlbound_version": __version__,
        "python": sys.version.split()[0], "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    for f in sorted(tmp.iterdir()):
        os.replace(f, out / f.name)
    tmp.rmdir()
    atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    (out / CHECKPOINT).unlink(missing_ok=True)
    fsync_dir(out)



# --------------------------------------------------------------------------------------------------
# Quick evaluation


def response_style(text: str) -> str:
    """``bare`` (answer only), ``step2`` (some step has two operations) or ``step1``."""
    body = text.split("####")[0]
    return "bare" if not body.strip() else ("step2" if "(" in body else "step1")


def evaluate(model_dir: str | Path, *, difficulties: list[int] | None = None, per_difficulty: int = 50,
             n_samples: int = 32, temperature: float = 1.0, seed: int = 0, task: TaskConfig | None = None,
             progress: bool = True) -> dict[int, dict[str, float]]:
    """Sampled accuracy of a sandbox model by difficulty, on fresh test-split problems.

    For each difficulty d: ``per_difficulty`` test problems (fewer where the test split has fewer), ``n_samples`` completions each at
    ``temperature``, graded by the ``synthetic`` verifier. Returns per d: ``answer_acc`` (mean
    answer-correct rate, i.e. pass@1 of Yue et al. 2025), ``cot_acc`` (answer and steps correct,
    CoT-pass@1 of Wen et al. 2025), ``pass_n`` / ``cot_pass_n`` (share of problems with at least
    one correct sample, i.e. pass@n), and the share of responses in each style.
    """
    import dataclasses as dc

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rlbound.toy.model import sample_completions
    from rlbound.toy.tasks import generate_split, prompt_text
    from rlbound.verify.synthetic import SyntheticVerifier

    task = task or TaskConfig.from_dict(load_manifest(model_dir)["recipe"]["task"])
    model = AutoModelForCausalLM.from_pretrained(str(model_dir))
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    ver = SyntheticVerifier()
    out: dict[int, dict[str, float]] = {}
    for d in difficulties or list(range(1, task.max_ops + 1)):
        probs = generate_split(dc.replace(task, test_difficulty=((d, 1.0),)), "test", per_difficulty, seed,
                               allow_fewer=True)
        comps = sample_completions(model, tok, [prompt_text(p) for p in probs], n_samples, temperature=temperature,
                                   max_new_tokens=8 * task.max_ops + 4 * task.max_targets + 4, seed=seed + d,
                                   progress=progress)
        ans, cot, anyans, anycot = 0, 0, 0, 0
        styles = {"step1": 0, "step2": 0, "bare": 0}
        for p, cs in zip(probs, comps):
            vs = [ver.verify(p, c) for c in cs]
            a = sum(v.answer_correct for v in vs)
            c = sum(bool(v.answer_correct and v.steps_correct) for v in vs)
            ans, cot, anyans, anycot = ans + a, cot + c, anyans + (a > 0), anycot + (c > 0)
            for c_ in cs:
                styles[response_style(c_)] += 1
        total = len(probs) * n_samples
        out[d] = {"problems": len(probs), "answer_acc": ans / total, "cot_acc": cot / total, "pass_n": anyans / len(probs),
                  "cot_pass_n": anycot / len(probs), **{f"style_{k}": v / total for k, v in styles.items()}}
    return out
