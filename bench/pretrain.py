"""Benchmark: sandbox pretraining throughput (tokens/s) and model FLOPs utilisation (MFU).

MFU (Chowdhery et al. 2022, PaLM, App. B) = achieved training FLOP/s / peak FLOP/s, with
training FLOPs per token = ``6 * N_matmul + 12 * n_layers * d_model * T``
(``rlbound.sandbox.model.train_flops_per_token``; T = the batch's sequence length). The peak is
measured in the same run: the best rate of a large float32 ``torch.matmul`` (2048 x 2048), timed
just before and just after the training steps, so the ratio holds on a shared machine as long as
the load does not change mid-run. Tokens/s counts every position processed (prompt, completion
and padding); the completion-only (loss) tokens/s is reported beside it. Goal: MFU >= 30%.

    python bench/pretrain.py                        # preset tiny, eager, 20 timed steps
    python bench/pretrain.py --preset teacher --steps 10
    python bench/pretrain.py --compile              # also time torch.compile (compile time excluded)
    python bench/pretrain.py --threads 1            # per-core figures
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch

from rlbound.sandbox.model import count_parameters, train_flops_per_token
from rlbound.sandbox.presets import get_preset
from rlbound.sandbox.pretrain import _setup, _train_step


def matmul_peak(n: int = 2048, seconds: float = 1.5, dtype: torch.dtype = torch.float32) -> float:
    """Best FLOP/s of ``n x n @ n x n`` over ~``seconds`` (2 n^3 FLOPs per product)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best, t_end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        t0 = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - t0))
    return best


def time_training(cfg, steps: int, warmup: int, compile_: bool) -> dict:
    """Median step time of ``steps`` training steps (after ``warmup`` untimed ones)."""
    tok, model, opt, source = _setup(cfg)
    fwd = torch.compile(model, dynamic=True) if compile_ else model
    t_compile = time.perf_counter()
    for s in range(warmup):
        _train_step(cfg, fwd, model, opt, *source.batch(s), s)
    t_compile = time.perf_counter() - t_compile
    rows = []
    for s in range(warmup, warmup + steps):
        ids, labels = source.batch(s)
        t0 = time.perf_counter()
        _train_step(cfg, fwd, model, opt, ids, labels, s)
        dt = time.perf_counter() - t0
        T = ids.shape[1]
        flops = train_flops_per_token(cfg.model, len(tok), T) * ids.numel()
        rows.append((dt, ids.numel(), int((labels != -100).sum()), flops))
    dt = sum(r[0] for r in rows)
    return {
        "params": count_parameters(model)["total"],
        "tokens_per_s": sum(r[1] for r in rows) / dt,
        "loss_tokens_per_s": sum(r[2] for r in rows) / dt,
        "flops_per_s": sum(r[3] for r in rows) / dt,
        "median_step_s": statistics.median(r[0] for r in rows),
        "mean_seq_len": sum(r[1] for r in rows) / (len(rows) * cfg.batch_size),
        "warmup_s": t_compile,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--compile", action="store_true", help="also time the torch.compile'd model")
    ap.add_argument("--bf16", action="store_true", help="also time bfloat16 autocast")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = get_preset(args.preset)
    if args.batch_size:
        cfg = dataclasses.replace(cfg, batch_size=args.batch_size)
    variants = [("eager fp32", cfg, False)]
    if args.bf16:
        variants.append(("eager bf16", dataclasses.replace(cfg, dtype="bfloat16"), False))
    if args.compile:
        variants.append(("compiled fp32", cfg, True))
    print(f"preset {cfg.name}: batch {cfg.batch_size}, torch threads {torch.get_num_threads()}")
    for label, c, comp in variants:
        peak0 = matmul_peak()
        r = time_training(c, args.steps, args.warmup if not comp else max(args.warmup, 3), comp)
        peak1 = matmul_peak()
        peak = max(peak0, peak1)
        print(f"{label:14s} params {r['params'] / 1e6:.2f}M | {r['tokens_per_s']:8.0f} tokens/s "
              f"({r['loss_tokens_per_s']:.0f} loss tokens/s, mean seq {r['mean_seq_len']:.0f}) | "
              f"{r['flops_per_s'] / 1e9:6.1f} GFLOP/s | matmul peak {peak0 / 1e9:.0f}/{peak1 / 1e9:.0f} GFLOP/s "
              f"(before/after) | MFU {r['flops_per_s'] / peak:.1%} (goal >= 30%) | warmup {r['warmup_s']:.1f} s")


if __name__ == "__main__":
    main()
