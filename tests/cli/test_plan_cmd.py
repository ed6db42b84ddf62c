"""``rlbound plan`` end to end on small run directories written with RunStore."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rlbound.cli import main
from rlbound.data.store import RunStore
from rlbound.types import Problem, RunManifest, Sample, Verdict


def make_run(path: Path, p: np.ndarray, n: int, seed: int, *, tokens: bool = True,
             throughput: float | None = None, model: str = "base") -> Path:
    rng = np.random.default_rng(seed)
    problems = [Problem(id=f"q{i}", prompt=f"problem {i}") for i in range(p.size)]
    extra = {"throughput_tokens_per_s": throughput} if throughput is not None else {}
    store = RunStore.create(path, RunManifest(model=model, backend="import", sampling={"n": n}, extra=extra), problems)
    ok = rng.random((p.size, n)) < p[:, None]
    store.add_samples([Sample(f"q{i}", j, seed=j, text="...", completion_tokens=(100 + i % 3) if tokens else None)
                       for i in range(p.size) for j in range(n)])
    store.add_verdicts([(f"q{i}", j, Verdict(correct=bool(ok[i, j]), status="correct" if ok[i, j] else "wrong"))
                        for i in range(p.size) for j in range(n)])
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("plan")
    rng = np.random.default_rng(0)
    p = np.where(rng.random(120) < 0.4, rng.beta(0.3, 30, 120), rng.beta(2, 1, 120))
    base = make_run(root / "base", p, 32, 1, throughput=2000.0)
    other = make_run(root / "rl", np.clip(1.3 * p, 0, 1), 32, 2, tokens=False, model="rl")
    return base, other


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_plan_json_tokens_and_time(capsys, runs):
    base, _ = runs
    rc, out, _ = run(capsys, "plan", str(base), "--k", "16,64", "--ci", "0.03", "--scope", "benchmark",
                     "--boot", "3", "--json")
    assert rc == 0
    d = json.loads(out)
    plan = d["plan"]
    assert plan["ks"] == [16, 64] and plan["n_problems"] == 120 and plan["n_pilot"] == 32
    assert d["ci_means"].startswith("half-width")
    tps = d["runs"][0]["tokens_per_sample"]
    assert tps == pytest.approx(np.mean([100 + i % 3 for i in range(120)]))
    for n_k, cost in zip(plan["n_needed"], d["cost"]):
        assert n_k is not None
        assert cost["samples"] == 120 * n_k
        assert cost["more_samples"] == max(0, 120 * n_k - 120 * 32)
        assert cost["tokens"] == pytest.approx(120 * n_k * tps)
        assert cost["seconds"] == pytest.approx(cost["tokens"] / 2000.0)
    for (lo, hi), hw in zip(plan["n_needed_range"], plan["halfwidth_at_needed"]):
        assert lo <= hi and hw <= 0.03


def test_plan_table_says_more_problems_when_spread_dominates(capsys, runs):
    base, _ = runs
    rc, out, _ = run(capsys, "plan", str(base), "--k", "256", "--ci", "0.02", "--boot", "0")
    assert rc == 0
    assert "half-width" in out and "scope population" in out
    assert "more samples per problem cannot help" in out and "problems like these would be needed" in out
    assert "2,000 tokens/s" in out


def test_plan_against_other_run(capsys, runs):
    base, other = runs
    rc, out, _ = run(capsys, "plan", str(base), "--k", "4", "--ci", "0.05", "--against", str(other),
                     "--scope", "benchmark", "--boot", "0", "--json")
    assert rc == 0
    d = json.loads(out)
    assert d["plan"]["difference"] is True and len(d["runs"]) == 2
    assert d["runs"][1]["tokens_per_sample"] is None
    assert d["cost"][0]["tokens"] is None and d["cost"][0]["samples"] == 2 * 120 * d["plan"]["n_needed"][0]
    rc, out, _ = run(capsys, "plan", str(base), "--k", "4", "--ci", "0.05", "--against", str(other), "--boot", "0")
    assert rc == 0 and "tokens per sample unknown" in out and "throughput unknown" in out
    assert "difference (RUN_DIR - OTHER)" in out


@pytest.mark.parametrize("argv,needle", [
    (["--k", "64", "--ci", "1.5"], "half-width"),
    (["--k", "64", "--ci", "0.02", "--max-n", "10"], "--max-n"),
])
def test_plan_bad_input_is_one_line(capsys, runs, argv, needle):
    base, _ = runs
    rc, _, err = run(capsys, "plan", str(base), *argv)
    assert rc == 2
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("rlbound: error: ") and needle in lines[0]


def test_plan_missing_run_dir(capsys, tmp_path):
    rc, _, err = run(capsys, "plan", str(tmp_path / "nope"), "--k", "8", "--ci", "0.1")
    assert rc == 2 and "rlbound: error:" in err and "Traceback" not in err
