"""`rlbound study --preset smoke`: every stage produces its output and the report builds (not the findings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rlbound.data.store import RunStore

EXE = str(Path(sys.executable).parent / "rlbound")


@pytest.mark.slow
def test_smoke_study_end_to_end(tmp_path):
    out = tmp_path / "study"
    env = {"RLBOUND_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run([EXE, "study", "--preset", "smoke", "--out", str(out)], capture_output=True, text=True,
                          timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # stage 1: data + models
    assert (out / "work" / "test.jsonl").exists()
    assert list((tmp_path / "cache" / "sandbox").glob("toy-*/sandbox_model.json"))
    # stage 2: RL checkpoints; stage 3: distillation
    assert len(list((out / "work" / "rl").glob("grpo-*/checkpoints/step-*/config.json"))) >= 2
    assert list((out / "work").glob("distill-*/traces.jsonl"))
    # stage 4: every run sampled and verified, n=8 x 12 problems
    labels = {p.name for p in (out / "runs").iterdir()}
    assert {"base", "grpo-step1", "grpo-step2", "distilled"} <= labels
    for label in labels:  # 12 familiar problems and 6 of the long-tail split
        ids, n, c = RunStore.open(out / "runs" / label).counts()
        assert len(ids) == 18 and (n == 8).all() and sum(i.startswith("rev/") for i in ids) == 6
    steps = RunStore.open(out / "runs" / "grpo-step1").manifest.extra
    assert steps["train_run"] == "grpo" and steps["train_step"] == 1
    # stage 5: perplexity under the base model
    assert (out / "runs" / "base" / "perplexity.parquet").exists()
    assert (out / "runs" / "grpo-step2" / "perplexity.parquet").exists()
    # stage 6: report and findings
    html = (out / "report" / "report.html").read_text()
    assert "<img" in html and (out / "report" / "metrics.json").exists()
    found = json.loads((out / "findings.json").read_text())
    keys = {f["key"] for f in found["findings"]}
    assert {"crossing", "coverage", "checkpoints", "distillation", "distillation_cot", "perplexity", "cot_base",
            "crossing_cot", "entropy", "support", "distillation_longtail", "distillation_longtail_cot",
            "crossing_longtail_cot"} <= keys
    verdicts = {f["key"]: f["verdict"] for f in found["findings"]}
    assert set(verdicts.values()) <= {"held", "contradicted", "inconclusive", "info"}
    for f in found["findings"]:  # a verdict is read off its interval: 0 inside means inconclusive
        if f["ci95"] is not None and f["ci95"][0] <= 0 <= f["ci95"][1] and f["verdict"] != "info":
            assert f["verdict"] == "inconclusive", f
    # 12 problems x n=8 cannot show a distillation gain (a point comparison used to call it held)
    assert verdicts["distillation"] != "held" and verdicts["distillation_cot"] != "held"
    assert "token log-probabilities not recorded" not in {f["measured"] for f in found["findings"]}
    assert (out / "runs" / "base" / "token_logprobs.parquet").exists()
    assert "RL above base at k=1" in proc.stdout and "95% CI" in proc.stdout
    # a second run reuses every stage's output
    again = subprocess.run([EXE, "study", "--preset", "smoke", "--out", str(out)], capture_output=True, text=True,
                           timeout=300, env=env)
    assert again.returncode == 0
    assert "cached model" in again.stderr and "pretraining from scratch" not in again.stderr


@pytest.mark.slow
def test_smoke_study_over_two_seeds(tmp_path):
    out = tmp_path / "study"
    env = {"RLBOUND_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run([EXE, "study", "--preset", "smoke", "--seeds", "0,1", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "seeds.json").read_text())
    assert summary["seeds"] == [0, 1]
    rows = {r["key"]: r for r in summary["findings"]}
    assert set(rows["crossing"]["measured"]) == {"0", "1"} and rows["crossing"]["evaluated"] == 2
    assert 0 <= rows["crossing"]["held"] <= 2 and set(rows["crossing"]["verdicts"]) == {"0", "1"}
    assert rows["crossing"]["pooled"]["verdict"] in {"held", "contradicted", "inconclusive"}
    seeds = {s: RunStore.open(out / f"seed-{s}" / "runs" / "base").manifest.sampling["seed"] for s in (0, 1)}
    assert seeds[0] != seeds[1]
    assert "over seeds 0, 1" in proc.stdout and "seed 1 [" in proc.stdout and "pooled 95% CI" in proc.stdout
    bad = subprocess.run([EXE, "study", "--preset", "smoke", "--seeds", "0,x", "--out", str(out)],
                         capture_output=True, text=True, timeout=60, env=env)
    assert bad.returncode == 2 and "seeds" in bad.stderr and "Traceback" not in bad.stderr
