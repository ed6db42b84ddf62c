"""kill -9 at seeded random moments, then a rerun: every resumable command ends where an uninterrupted run ends.

For ``rlbound study --preset smoke``, ``rlbound verify`` (sandbox samples), ``rlbound train`` (RL
checkpoints) and ``rlbound distill``: one uninterrupted reference run, then the same command in a
fresh folder SIGKILLed (its whole process group: the verifier's worker processes too) at a few seeded
random moments, restarted after each kill, and finally rerun to completion. A moment is a progress
mark of the reference run (verdict parts stored, training-log records, files a study wrote) plus a
random delay (``_kill_and_resume``), so that kills land inside the work and not in the interpreter's
start-up however busy the machine is. Then nothing may be lost and nothing duplicated (the same set
of ``(problem_id, sample_index)`` cells as the reference, ``RunStore.verify_integrity()`` clean: no
cell stored twice across part files), and the results must equal the reference's exactly:

- verify: every verdict (verification is a pure function of problem and response);
- train: the final checkpoint's parameters bit for bit, every checkpoint step, and the log record by
  record (no step logged twice or missing), timing fields aside: a resumed run repeats exactly what
  the killed run would have done (``rlbound.rl.trainer``: model, optimizer, RNG states and log
  restored, everything a step draws a function of (seed, step));
- distill: the traces, the student's final parameters and the log, timing fields aside (a killed
  run restarts its fine-tuning from the saved traces, in the same seeded order);
- study: every run's cells (response text and verdict) and the findings (keys, verdicts, measured
  text, intervals); every stage is resumable and every sample seeded per cell, and sampled texts do
  not depend on batching (tests/sampling/test_loop.py). Left out: ``stage_seconds`` (wall times)
  and the report's path (it names the output folder). The ``meta`` row of ``traces.jsonl`` and the
  manifests name the output folder too and are not compared byte for byte.

Where a kill lands varies with machine load (each test prints its kills). Every process runs with
one torch / OpenMP thread (the machine is shared), with ``RLBOUND_CACHE`` and ``HOME`` in the test's
own folder. Toy sizes: the file took 1.7-2.3 minutes on two busy cores.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rlbound.data.store import RunStore

pytestmark = pytest.mark.slow

EXE = str(Path(sys.executable).parent / "rlbound")
TINY = Path(__file__).resolve().parents[1] / "src" / "rlbound" / "toy" / "checkpoints" / "tiny"
TEACHER = TINY.parent / "teacher"
DEAD_PID = 999_999_999  # above any pid_max: a writer that is gone


def _env(tmp: Path) -> dict[str, str]:
    (tmp / "home").mkdir(exist_ok=True)
    return {"PATH": "/usr/bin:/bin", "HOME": str(tmp / "home"), "RLBOUND_CACHE": str(tmp / "cache"),
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1",
            **{k: os.environ[k] for k in ("PYTHONPATH",) if k in os.environ}}


Progress = Callable[[Path], int]  # progress of a run so far, given its stderr file


def _start(cmd: list[str], env: dict[str, str], err_path: Path) -> subprocess.Popen:
    """Start ``cmd`` in its own process group (so a kill reaches its workers), stderr to ``err_path``."""
    with open(err_path, "w") as err:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)


def _run(cmd: list[str], env: dict[str, str], progress: Progress | None = None, timeout: float = 400) -> int:
    """Run ``cmd`` to completion (exit 0 asserted); its final ``progress`` (0 without one)."""
    err_path = Path(env["HOME"]) / "stderr.txt"
    proc = _start(cmd, env, err_path)
    try:
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{err_path.read_text(errors='replace')[-3000:]}"
    return progress(err_path) if progress is not None else 0


def _kill_and_resume(cmd: list[str], env: dict[str, str], progress: Progress, total: int, seed: int,
                     kills: int = 3, max_delay: float = 1.0) -> list[str]:
    """Kill ``cmd`` with SIGKILL (its whole process group) at ``kills`` seeded random moments, restarting
    it after each, then run it to completion; returns where each kill landed.

    A moment is a progress mark and a delay: distinct marks drawn from 0 .. ``total`` - 1 (``total``:
    the reference run's final ``progress``: verdict parts stored, log records, files written), sorted,
    and for each a delay uniform in [0, ``max_delay``) s after the attempt, once it has started working
    (written to stderr: past its imports, a resumed trainer past rolling its log back), reaches its
    mark. Marks, not wall times, because a busy machine stretches start-up and steps unevenly: a kill
    at a fixed second lands in the imports on one day and after the end on another. An attempt that
    ends before its mark ends the kills; at least one kill must hit a live process."""
    assert total > kills, f"the reference run made too little progress to place {kills} kills ({total})"
    rng = random.Random(seed)
    marks = sorted(rng.sample(range(total), min(kills, total)))
    landed = []
    err_path = Path(env["HOME"]) / "killed-stderr.txt"
    for mark in marks:
        delay = rng.uniform(0, max_delay)
        proc = _start(cmd, env, err_path)
        while proc.poll() is None and (err_path.stat().st_size == 0 or progress(err_path) < mark):
            time.sleep(0.02)
        if proc.poll() is None:
            time.sleep(delay)
        if proc.poll() is not None:
            assert proc.returncode == 0, f"{' '.join(cmd)} failed after a kill (exit {proc.returncode})"
            break  # finished before this kill: the remaining kills would hit nothing
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        landed.append(f"mark {mark}/{total} + {delay:.2f} s, after: {_last_line(err_path.read_text(errors='replace'))}")
    assert landed, "no kill landed mid-run"
    _run(cmd, env)
    print(f"\n{cmd[1]}: killed at" + "".join(f"\n  {w[:150]}" for w in landed))
    return landed


def _last_line(text: str) -> str:
    """The last thing a killed process wrote to stderr (a progress line), as a terminal shows it."""
    lines = [ln.split("\r")[-1].strip() or ln.strip() for ln in text.split("\n")]
    lines = [ln for ln in lines if ln]
    return lines[-1] if lines else "(nothing yet)"


def _cells(store: RunStore) -> dict[tuple[str, int], tuple]:
    """Every cell's response text and verdict; asserts the store is sound."""
    assert store.verify_integrity() == [], store.verify_integrity()
    samples = {(s.problem_id, s.sample_index): s.text for s in store.samples()}
    verdicts = store.verdicts()
    assert set(verdicts) <= set(samples)
    return {key: (text, verdicts.get(key)) for key, text in samples.items()}


def _tensors(ckpt: Path) -> dict[str, bytes]:
    from safetensors.torch import load_file

    return {k: v.numpy().tobytes() for k, v in load_file(str(ckpt / "model.safetensors")).items()}


def _log_records(out: Path) -> Progress:
    """Progress of a training or distillation run: ``log.jsonl`` records (plus 1 once distillation's
    ``traces.jsonl`` is written: the teacher's part)."""
    def progress(_err: Path) -> int:
        try:
            records = (out / "log.jsonl").read_bytes().count(b"\n")
        except FileNotFoundError:
            records = 0
        return records + (out / "traces.jsonl").exists()

    return progress


def _log(path: Path) -> list[dict]:
    """A training log without its timing fields (wall times differ between any two runs)."""
    recs = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    return [{k: v for k, v in r.items() if not k.startswith("time") and k != "elapsed"} for r in recs]


# ----------------------------------------------------------------------------------------------
# rlbound verify


def _sandbox_run(path: Path, problems: int = 60, n: int = 24) -> RunStore:
    """An unverified run of sandbox problems: per problem ``n`` responses (right, a wrong step, the
    bare answer, a wrong answer, garbage) for the synthetic step-checking verifier."""
    from rlbound.rl.trainer import sandbox_task_config
    from rlbound.toy.tasks import ANSWER_MARK, generate_split, solution_text
    from rlbound.types import RunManifest, Sample
    from rlbound.verify.graph import Graph

    probs = generate_split(sandbox_task_config(str(TINY)), "test", problems, seed=7)
    samples = []
    for p in probs:
        g = Graph.from_json(p.reference)
        gold = solution_text(g, "step1")
        answer = p.metadata["answer"]
        wrong = ",".join(str((int(a) + 1) % g.modulus) for a in answer.split(","))
        variants = [gold, gold.replace("=", "= ", 1), ANSWER_MARK + answer, gold.rsplit(ANSWER_MARK, 1)[0] + ANSWER_MARK
                    + wrong, "no idea", gold[: len(gold) // 2]]
        samples += [Sample(problem_id=p.id, sample_index=i, text=variants[i % len(variants)]) for i in range(n)]
    store = RunStore.create(path, RunManifest(model="sandbox-responses", backend="import"), probs)
    store.add_samples(samples)
    return store


def test_verify_killed_at_random_moments_ends_with_the_reference_verdicts(tmp_path: Path) -> None:
    env = _env(tmp_path)
    base = _sandbox_run(tmp_path / "unverified")
    ref, killed = tmp_path / "ref", tmp_path / "killed"
    shutil.copytree(base.path, ref)
    shutil.copytree(base.path, killed)
    args = ["--workers", "1", "--chunk-rows", "16", "--timeout", "30"]
    parts = lambda run: lambda _err: len(list((run / "verdicts").glob("part-*.parquet")))  # noqa: E731
    total = _run([EXE, "verify", str(ref), *args], env, parts(ref))
    landed = _kill_and_resume([EXE, "verify", str(killed), *args], env, parts(killed), total, seed=11,
                              max_delay=0.2)
    want, got = _cells(RunStore.open(ref)), _cells(RunStore.open(killed))
    assert set(got) == set(want) and len(want) == 60 * 24
    assert all(v is not None for _, v in got.values()), "a cell was left without a verdict"
    assert got == want, f"verdicts differ after kills at {landed} s"
    statuses = {v.status.value for _, v in want.values()}
    assert {"correct", "wrong"} <= statuses  # the responses exercise the verifier


# ----------------------------------------------------------------------------------------------
# rlbound train


TRAIN = ["train", "--model", str(TINY), "--steps", "5", "--save-every", "1", "--prompts-per-step", "4",
         "--rollouts", "4", "--max-new-tokens", "32", "--difficulty", "1:1,2:1", "--lr", "1e-3", "--seed", "5",
         "--eval-problems", "2", "--eval-samples", "2", "--threads", "1"]


def test_train_killed_at_random_moments_resumes_to_the_same_checkpoint(tmp_path: Path) -> None:
    env = _env(tmp_path)
    ref, killed = tmp_path / "ref", tmp_path / "killed"
    total = _run([EXE, *TRAIN, "--out", str(ref)], env, _log_records(ref))
    landed = _kill_and_resume([EXE, *TRAIN, "--out", str(killed)], env, _log_records(killed), total, seed=23)
    steps = lambda out: sorted(int(p.name.split("-")[1]) for p in (out / "checkpoints").glob("step-*"))  # noqa: E731
    assert steps(killed) == steps(ref) == list(range(1, 6))
    final = Path("checkpoints") / "step-5"
    want, got = _tensors(ref / final), _tensors(killed / final)
    assert got.keys() == want.keys() and all(got[k] == want[k] for k in want), f"parameters differ ({landed})"
    log_ref, log_killed = _log(ref / "log.jsonl"), _log(killed / "log.jsonl")
    assert [(r["kind"], r["step"]) for r in log_killed] == [("eval", 0)] + [("train", s) for s in range(1, 6)] + [
        ("eval", 5)]
    assert log_killed == log_ref
    assert any(r.get("pass_rate", 0) > 0 for r in log_ref), "no reward: the run would not move the parameters"
    assert not [p for p in (killed / "checkpoints").iterdir() if p.name.startswith(".tmp")]


# ----------------------------------------------------------------------------------------------
# rlbound distill


DISTILL = ["distill", "--teacher", str(TEACHER), "--student", str(TINY), "--prompts", "16",
           "--samples-per-prompt", "4", "--max-new-tokens", "40", "--epochs", "3", "--batch-size", "4",
           "--lr", "1e-3", "--seed", "2", "--eval-problems", "2", "--eval-samples", "2", "--threads", "1"]


def test_distill_killed_at_random_moments_ends_with_the_same_student(tmp_path: Path) -> None:
    """Also the moment random kills rarely hit: a kill inside the atomic write of ``traces.jsonl``
    leaves a temp file of a dead writer in the output folder, which the rerun must not mistake for a
    foreign file."""
    env = _env(tmp_path)
    ref, killed = tmp_path / "ref", tmp_path / "killed"
    total = _run([EXE, *DISTILL, "--out", str(ref)], env, _log_records(ref))
    landed = _kill_and_resume([EXE, *DISTILL, "--out", str(killed)], env, _log_records(killed), total, seed=37,
                              max_delay=0.1)
    traces = lambda out: (out / "traces.jsonl").read_text().splitlines()[1:]  # noqa: E731 - [0]: settings, with --out
    assert traces(killed) == traces(ref) and traces(ref)
    (ckpt_ref,), (ckpt_killed,) = (list((d / "checkpoints").glob("step-*")) for d in (ref, killed))
    assert ckpt_killed.name == ckpt_ref.name
    assert _tensors(ckpt_killed) == _tensors(ckpt_ref), f"student parameters differ (kills at {landed} s)"
    assert _log(killed / "log.jsonl") == _log(ref / "log.jsonl")
    stale = killed / f".tmp-{DEAD_PID}-{'ab' * 16}.jsonl"  # what a kill mid traces write leaves
    stale.write_text('{"meta": "half writ')
    _run([EXE, *DISTILL, "--out", str(killed)], env)
    assert not stale.exists()


# ----------------------------------------------------------------------------------------------
# rlbound study --preset smoke


def _files(*folders: Path) -> Progress:
    """Progress of a study: the files written so far under its output and cache folders (temp files
    of writes in flight aside): pretraining, RL and distillation checkpoints, sample and verdict
    parts, side files, figures."""
    def progress(_err: Path) -> int:
        n = 0
        for folder in folders:
            for _, dirs, files in os.walk(folder):  # os.walk skips what vanishes mid-walk (renamed temp folders)
                dirs[:] = [d for d in dirs if not d.startswith(".tmp")]
                n += sum(not f.startswith(".tmp") for f in files)
        return n

    return progress


def _findings(out: Path) -> list[dict]:
    return json.loads((out / "findings.json").read_text())["findings"]


def test_smoke_study_killed_at_random_moments_ends_with_the_same_findings(tmp_path: Path) -> None:
    env = _env(tmp_path)
    ref, killed = tmp_path / "ref", tmp_path / "killed"
    env_ref = {**env, "RLBOUND_CACHE": str(tmp_path / "cache-ref")}  # each pretrains its own toy model
    total = _run([EXE, "study", "--preset", "smoke", "--out", str(ref)], env_ref,
                 _files(ref, tmp_path / "cache-ref"), timeout=600)
    landed = _kill_and_resume([EXE, "study", "--preset", "smoke", "--out", str(killed)], env,
                              _files(killed, tmp_path / "cache"), total, seed=5, kills=4, max_delay=1.0)
    labels = sorted(p.name for p in (ref / "runs").iterdir())
    assert sorted(p.name for p in (killed / "runs").iterdir()) == labels
    for label in labels:
        want, got = _cells(RunStore.open(ref / "runs" / label)), _cells(RunStore.open(killed / "runs" / label))
        assert set(got) == set(want), label
        assert got == want, f"{label}: responses or verdicts differ (kills at {landed} s)"
    assert _findings(killed) == _findings(ref)
