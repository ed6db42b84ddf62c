"""Sandbox pretraining: the loss falls, the model reloads with HF and generates, a run killed with
SIGKILL resumes to the same weights as an uninterrupted one."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from rlbound.errors import InputError  # noqa: E402
from rlbound.toy.presets import PRESETS, get_recipe  # noqa: E402
from rlbound.toy.pretrain import (  # noqa: E402
    CHECKPOINT,
    MANIFEST,
    PretrainConfig,
    evaluate,
    fingerprint,
    load_manifest,
    lr_at,
    pretrain,
)
from rlbound.toy.tasks import generate_split, prompt_text  # noqa: E402

TOY = get_recipe("toy")


@pytest.fixture(scope="module")
def toy_model(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("toy") / "model"
    pretrain(TOY, out, progress=False, threads=1)
    return out


def test_loss_falls_and_manifest_records_the_recipe(toy_model):
    man = load_manifest(toy_model)
    assert man["recipe"] == TOY.to_dict() and man["recipe_sha256"] == TOY.recipe_sha256()
    assert man["steps"] == TOY.steps and man["parameters"]["total"] > 0
    log = [json.loads(line) for line in (toy_model / "train_log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == TOY.steps
    assert man["fingerprint"]["losses"][0] - log[-1]["loss"] > 0.5  # ~4.0 -> ~2.1 on the toy task
    assert not (toy_model / CHECKPOINT).exists()


def test_saved_model_reloads_with_hf_and_generates(toy_model):
    model = AutoModelForCausalLM.from_pretrained(str(toy_model))
    tok = AutoTokenizer.from_pretrained(str(toy_model))
    p = generate_split(TOY.task, "test", 2, seed=0)[0]
    ids = tok(prompt_text(p), return_tensors="pt")["input_ids"]
    out = model.generate(ids, max_new_tokens=12, do_sample=True, temperature=1.0)
    assert out.shape[1] > ids.shape[1]
    text = tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
    assert isinstance(text, str) and "_" not in text[:1]
    res = evaluate(toy_model, difficulties=[3], per_difficulty=4, n_samples=2, progress=False)
    assert set(res) == {3} and 0.0 <= res[3]["answer_acc"] <= 1.0


def test_rerun_returns_the_finished_model_and_refuses_to_clobber(toy_model, tmp_path):
    t0 = time.perf_counter()
    assert pretrain(TOY, toy_model, progress=False) == toy_model
    assert time.perf_counter() - t0 < 5
    with pytest.raises(InputError, match="already holds"):
        pretrain(TOY, toy_model, resume=False, progress=False)
    with pytest.raises(InputError, match="different recipe"):
        pretrain(dataclasses.replace(TOY, seed=9), toy_model, progress=False)
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        pretrain(TOY, tmp_path, progress=False)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_temp_files_of_a_killed_write_are_not_foreign_and_are_removed(tmp_path):
    """A write killed mid-way leaves a ``rlbound.data.atomic`` temp file: a rerun starts fresh
    (the folder is not "someone else's") and removes it."""
    from rlbound.data.atomic import tmp_name

    out = tmp_path / "m"
    out.mkdir()
    stale = out / tmp_name(".pt")
    stale.write_bytes(b"half a checkpoint")
    half_final = out / tmp_name(".final")  # the folder the final files are written into first
    half_final.mkdir()
    (half_final / "model.safetensors").write_bytes(b"half a model")
    pretrain(dataclasses.replace(TOY, steps=2), out, progress=False, threads=1)
    assert (out / MANIFEST).exists() and not stale.exists()
    assert not half_final.exists()


def test_recipe_fingerprint_is_reproducible(toy_model):
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        fp = fingerprint(TOY)
    finally:
        torch.set_num_threads(prev)
    assert fp == load_manifest(toy_model)["fingerprint"]


def test_schedule_and_presets():
    cfg = PRESETS["tiny"]
    assert lr_at(cfg, 0) < lr_at(cfg, cfg.warmup_steps) == pytest.approx(cfg.lr)
    assert lr_at(cfg, cfg.steps - 1) == pytest.approx(cfg.lr * cfg.min_lr_ratio, rel=1e-3)
    assert PretrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(InputError, match="unknown preset"):
        get_recipe("huge")


_CHILD = """
import json, sys
from rlbound.toy.presets import PretrainConfig
from rlbound.toy.pretrain import pretrain
pretrain(PretrainConfig.from_dict(json.loads(sys.argv[1])), sys.argv[2], progress=False, threads=1)
"""


@pytest.mark.slow
def test_sigkill_mid_run_resumes_to_identical_weights(tmp_path):
    cfg = dataclasses.replace(TOY, steps=240, checkpoint_every_s=0.2)
    killed = tmp_path / "killed"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, json.dumps(cfg.to_dict()), str(killed)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not (killed / CHECKPOINT).exists():
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "no checkpoint written in 120 s"
            time.sleep(0.05)
        time.sleep(0.3)  # let it get further, possibly into the middle of a later checkpoint write
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not (killed / MANIFEST).exists(), "child finished before it was killed; make the run longer"
    ck = torch.load(killed / CHECKPOINT, map_location="cpu", weights_only=False)
    assert 0 < ck["step"] < cfg.steps

    pretrain(cfg, killed, progress=False, threads=1)  # resumes from the checkpoint
    straight = pretrain(cfg, tmp_path / "straight", progress=False, threads=1)
    a, b = load_manifest(killed), load_manifest(straight)
    assert a["steps"] == b["steps"] == cfg.steps
    assert a["weights_sha256"] == b["weights_sha256"]
    assert not list(killed.glob(".*.tmp"))
    assert not list(killed.glob(".tmp-*"))


def test_auto_threads_counts_busy_cores_now(monkeypatch):
    from rlbound.toy import pretrain as pt

    spinner = subprocess.Popen([sys.executable, "-c", "import time\nt = time.time()\nwhile time.time() - t < 3: pass"])
    try:
        time.sleep(0.3)
        assert pt.busy_cores(0.5) >= 0.5, "a process spinning on one core must count as about one busy core"
    finally:
        spinner.kill()
        spinner.wait()
    assert 1 <= pt.auto_threads() <= (os.cpu_count() or 1)

    def no_proc(*a, **k):
        raise OSError("no /proc here")

    monkeypatch.setattr("builtins.open", no_proc)
    monkeypatch.setattr(os, "getloadavg", lambda: (1.25, 0.0, 0.0))
    assert pt.busy_cores(0.01) == 1.25
