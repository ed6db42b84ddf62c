"""Benchmark: sandbox pretraining throughput (tokens/s) and model FLOPs utilisation (MFU).

MFU (Chowdhery et al. 2022, PaLM, App. B) = achieved training FLOP/s / peak FLOP/s, with
training FLOPs per token = ``6 * N_matmul + 12 * n_layers * d_model * T``
(``rlbound.toy.model.train_flops_per_token``; T = the batch's sequence length). The peak is
measured in the same run: the best rate of a large float32 ``torch.matmul`` (2048 x 2048), timed
just before and just after the training steps, so the ratio holds on a shared machine as long as
the load does not change mid-run. Tokens/s counts every position processed (prompt, completion
and padding); the completion-only (loss) tokens/s is reported beside it. Goal: MFU >= 30%.

On a shared machine wall-clock rates say more about the neighbours than about the code, so the
same figures are also given per CPU-second of this process (``time.process_time``; exact with
``--threads 1``, inflated by OpenMP spin-waiting with more threads).

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

from rlbound.toy.model import count_parameters, train_flops_per_token
from rlbound.toy.presets import get_recipe
from rlbound.toy.pretrain import setup_training, train_step


def matmul_peak(n: int = 2048, seconds: float = 1.5, dtype: torch.dtype = torch.float32) -> tuple[float, float]:
    """Best FLOP/s of ``n x n @ n x n`` over ~``seconds`` (2 n^3 FLOPs per product): (per wall
    second, per CPU second of this process)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best, best_cpu, t_end = 0.0, 0.0, time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        t0, c0 = time.perf_counter(), time.process_time()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - t0))
        best_cpu = max(best_cpu, 2 * n**3 / max(time.process_time() - c0, 1e-9))
    return best, best_cpu


def time_training(cfg, steps: int, warmup: int, compile_: bool) -> dict:
    """Median step time of ``steps`` training steps (after ``warmup`` untimed ones)."""
    tok, model, opt, source = setup_training(cfg)
    fwd = torch.compile(model, dynamic=True) if compile_ else model
    t_compile = time.perf_counter()
    for s in range(warmup):
        train_step(cfg, fwd, model, opt, *source.batch(s), s)
    t_compile = time.perf_counter() - t_compile
    rows, cpu = [], 0.0
    for s in range(warmup, warmup + steps):
        ids, labels = source.batch(s)
        t0, c0 = time.perf_counter(), time.process_time()
        train_step(cfg, fwd, model, opt, ids, labels, s)
        dt = time.perf_counter() - t0
        cpu += time.process_time() - c0
        T = ids.shape[1]
        flops = train_flops_per_token(cfg.model, len(tok), T) * ids.numel()
        rows.append((dt, ids.numel(), int((labels != -100).sum()), flops))
    dt = sum(r[0] for r in rows)
    return {
        "params": count_parameters(model)["total"],
        "tokens_per_s": sum(r[1] for r in rows) / dt,
        "loss_tokens_per_s": sum(r[2] for r in rows) / dt,
        "flops_per_s": sum(r[3] for r in rows) / dt,
        "tokens_per_cpu_s": sum(r[1] for r in rows) / cpu,
        "flops_per_cpu_s": sum(r[3] for r in rows) / cpu,
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
    cfg = get_recipe(args.preset)
    if args.batch_size:
        cfg = dataclasses.replace(cfg, batch_size=args.batch_size)
    variants = [("eager fp32", cfg, False)]
    if args.bf16:
        variants.append(("eager bf16", dataclasses.replace(cfg, dtype="bfloat16"), False))
    if args.compile:
        variants.append(("compiled fp32", cfg, True))
    print(f"preset {cfg.name}: batch {cfg.batch_size}, torch threads {torch.get_num_threads()}")
    for label, c, comp in variants:
        (p0, pc0) = matmul_peak()
        r = time_training(c, args.steps, args.warmup if not comp else max(args.warmup, 3), comp)
        (p1, pc1) = matmul_peak()
        peak, peak_cpu = max(p0, p1), max(pc0, pc1)
        print(f"{label}: params {r['params'] / 1e6:.2f}M, mean seq {r['mean_seq_len']:.0f}, warmup {r['warmup_s']:.1f} s\n"
              f"  wall: {r['tokens_per_s']:7.0f} tokens/s ({r['loss_tokens_per_s']:.0f} loss tokens/s), "
              f"{r['flops_per_s'] / 1e9:5.1f} GFLOP/s; matmul peak {p0 / 1e9:.0f}/{p1 / 1e9:.0f} GFLOP/s (before/after); "
              f"MFU {r['flops_per_s'] / peak:.1%} (goal >= 30%)\n"
              f"  cpu:  {r['tokens_per_cpu_s']:7.0f} tokens/CPU-s, {r['flops_per_cpu_s'] / 1e9:5.1f} GFLOP/CPU-s; "
              f"matmul peak {peak_cpu / 1e9:.0f} GFLOP/CPU-s; MFU {r['flops_per_cpu_s'] / peak_cpu:.1%}")


if __name__ == "__main__":
    main()
