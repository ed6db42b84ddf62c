"""``rlbound sample --adaptive``: config, per-problem targets, the round decision, and end to end on the
sandbox's toy model with the synthetic verifier (unequal n, resume after interruptions, the report)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from rlbound.errors import InputError
from rlbound.sampling import run_sampling
from rlbound.sampling.adaptive import POLICY, STATE_FILE, AdaptiveState, next_round, read_state
from rlbound.sampling.config import SampleConfig

P_TOY = 40


def _cfg(out, **kw) -> SampleConfig:
    base = dict(model="m", benchmark="b.jsonl", out=str(out), adaptive=True, k=(16,), ci=0.02, n=64, pilot=8)
    base.update(kw)
    return SampleConfig(**base)


# ---- config ------------------------------------------------------------------------------------


def test_config_normalises_k_and_accepts_adaptive_fields(tmp_path):
    cfg = _cfg(tmp_path, k="16,1,16")
    assert cfg.k == (1, 16) and cfg.adaptive and cfg.ci == 0.02 and cfg.pilot == 8
    assert _cfg(tmp_path, k=256).k == (256,)
    assert SampleConfig(model="m", benchmark="b", out="o").adaptive is False  # off by default, nothing required


@pytest.mark.parametrize("kw, field", [
    ({"k": ()}, "k"),
    ({"ci": None}, "ci"),
    ({"ci": 1.5}, "ci"),
    ({"k": "a,b"}, "k"),
    ({"k": (0,)}, "k"),
    ({"pilot": 100}, "pilot"),
    ({"pilot": 0}, "pilot"),
    ({"verify_workers": -1}, "verify_workers"),
    ({"adaptive": "yes"}, "adaptive"),
])
def test_config_errors_name_the_field(tmp_path, kw, field):
    with pytest.raises(InputError) as e:
        _cfg(tmp_path, **kw)
    assert e.value.field == field and "\n" not in str(e.value)


def test_cli_adaptive_without_ci_is_one_line_exit_2(capsys, tmp_path):
    from rlbound.cli import main

    rc = main(["sample", "--model", "m", "--benchmark", "b.jsonl", "--out", str(tmp_path / "run"), "--adaptive",
               "--k", "256"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "--adaptive needs --ci" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_cli_help_lists_the_adaptive_options(capsys):
    from rlbound.cli import main

    with pytest.raises(SystemExit) as e:  # a '%' in a docstring-derived help text must not break --help
        main(["sample", "--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0 and all(f"--{o} " in out for o in ("adaptive", "k", "ci", "pilot", "verifier"))


def test_unknown_verifier_is_refused_before_any_file(tmp_path):
    bench = tmp_path / "b.jsonl"
    bench.write_text(json.dumps({"id": "p0", "problem": "1+1=", "answer": "2"}) + "\n")
    cfg = _cfg(tmp_path / "run", benchmark=str(bench), verifier="nope", field_map=("prompt=problem", "reference=answer"))
    with pytest.raises(InputError, match="verifier 'nope'") as e:
        run_sampling(cfg, progress=False)
    assert e.value.field == "verifier" and not (tmp_path / "run").exists()


# ---- the store's per-problem targets ---------------------------------------------------------------


def test_missing_cells_with_per_problem_targets(tmp_path):
    from rlbound.data.store import RunStore
    from rlbound.types import Problem, RunManifest, Sample

    st = RunStore.create(tmp_path / "run", RunManifest(model="m", backend="hf"),
                         [Problem(id=f"q{i}", prompt="x", reference="1") for i in range(3)])
    st.add_samples([Sample(problem_id="q0", sample_index=i, seed=0, text="") for i in range(2)])
    assert st.missing_cells({"q0": 3, "q2": 1}) == [("q0", 2), ("q2", 0)]
    assert st.missing_cells({"q0": 1}) == []
    assert st.missing_cells(2) == [("q1", 0), ("q1", 1), ("q2", 0), ("q2", 1)]
    with pytest.raises(InputError):
        st.missing_cells({"zz": 1})


# ---- the round decision (stop condition) ------------------------------------------------------------


def test_next_round_stop_condition_and_idempotent_history():
    ids = ["a", "b", "c", "d"]
    start = AdaptiveState(round=1, targets={p: 32 for p in ids})
    # every problem solved 32 of 32: pass@k is certain, the target is met, nothing more is drawn
    done, alloc = next_round(start, ids, np.full(4, 32), np.full(4, 32), (1, 16), 0.02, 1024)
    assert done.done and done.met and alloc.extra.sum() == 0
    assert done.round == 1 and done.targets == start.targets and len(done.history) == 1
    # uncertain problems, a target no allocation can reach below the cap: stop, not met
    n, c = np.full(4, 32), np.array([0, 1, 16, 31])
    capped, _ = next_round(start, ids, n, c, (16,), 1e-4, 32)
    assert capped.done and not capped.met and capped.targets == start.targets
    # below the cap: the next round draws more for some problems, none for the 31/32 one at k = 16
    nxt, alloc = next_round(start, ids, n, c, (16,), 0.02, 1024)
    assert not nxt.done and nxt.round == 2 and alloc.extra.sum() > 0
    assert nxt.targets == {p: 32 + int(e) for p, e in zip(ids, alloc.extra)} and nxt.targets["d"] == 32
    assert nxt.history[-1]["round"] == 1 and nxt.history[-1]["next_samples"] == int(alloc.extra.sum())
    # a resumed run recomputes round 1's decision: its history entry is replaced, not repeated
    again, _ = next_round(dataclasses.replace(start, history=nxt.history), ids, n, c, (16,), 0.02, 1024)
    assert again.history == nxt.history and again.targets == nxt.targets


def test_the_sampler_runs_the_policy_the_bench_measures():
    """One policy: ``next_round`` decides with ``round_allocation`` under ``POLICY``, which is
    ``RoundPolicy()`` (what ``run_adaptive``, bench/adaptive.py and the metrics tests run) and what the
    manifest records."""
    from rlbound.metrics.adaptive import RoundPolicy, round_allocation
    from rlbound.sampling.config import adaptive_manifest_entry

    assert POLICY == RoundPolicy()
    entry = adaptive_manifest_entry(_cfg("out"))
    assert (entry["estimator"], entry["prior"], entry["prior_boot"], entry["scope"], entry["level"]) == (
        POLICY.estimator, POLICY.prior, POLICY.prior_boot, POLICY.scope, POLICY.level)
    rng = np.random.default_rng(3)
    n = rng.choice([32, 48], size=30)
    c = rng.binomial(n, rng.beta(0.3, 1.0, size=30))
    ids = [f"q{i}" for i in range(30)]
    state, alloc = next_round(AdaptiveState(round=1, targets={p: 32 for p in ids}), ids, n, c, (1, 16, 64), 0.01, 96)
    same = round_allocation(n, c, (1, 16, 64), 0.01, n_max=96)
    np.testing.assert_array_equal(alloc.extra, same.extra)
    np.testing.assert_allclose(alloc.halfwidth, same.halfwidth)
    assert not state.done and state.targets == {p: int(a + b) for p, a, b in zip(ids, n, same.extra)}


def test_state_file_round_trip_and_malformed(tmp_path):
    from rlbound.data.store import RunStore
    from rlbound.types import Problem, RunManifest

    st = RunStore.create(tmp_path / "run", RunManifest(model="m", backend="hf"), [Problem(id="q", prompt="x")])
    assert read_state(st) is None
    s = AdaptiveState(round=2, targets={"q": 24}, history=[{"round": 1, "samples": 8}])
    st.write_side_file(STATE_FILE, s.to_json().encode())
    assert read_state(st) == s
    st.write_side_file(STATE_FILE, b"{}")
    with pytest.raises(InputError, match="adaptive state"):
        read_state(st)


# ---- end to end on the sandbox's toy model -------------------------------------------------------------


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> tuple[Path, Path]:
    """The toy sandbox recipe trained 300 steps (~10 s; the 60-step preset solves almost nothing) and 40
    held-out problems graded by the synthetic verifier."""
    pytest.importorskip("torch")
    from rlbound.toy.presets import get_recipe
    from rlbound.toy.pretrain import pretrain
    from rlbound.toy.tasks import generate_split, write_problems_jsonl

    root = tmp_path_factory.mktemp("adaptive")
    recipe = dataclasses.replace(get_recipe("toy"), steps=300)
    model = pretrain(recipe, root / "model", progress=False, threads=1)
    bench = root / "test.jsonl"
    write_problems_jsonl(generate_split(recipe.task, "test", P_TOY, 0), bench)
    return Path(model), bench


def _toy_cfg(toy, out, **kw) -> SampleConfig:
    """ci 0.04: with 40 problems the prior fit's own spread (prior_fit) keeps every problem sampling at
    ci 0.02 (n 40..60, none left at the pilot); at 0.04 some stop at the pilot, so n stays unequal."""
    model, bench = toy
    base = dict(model=str(model), benchmark=str(bench), out=str(out), backend="hf", n=64, temperature=1.0, top_p=1.0,
                max_new_tokens=40, seed=0, template="raw", batch_size=16, device="cpu", threads=1,
                adaptive=True, k=(1, 16), ci=0.04, pilot=8, verify_workers=0)
    base.update(kw)
    return SampleConfig(**base)


def _cells(store) -> dict[tuple[str, int], tuple[int, str]]:
    return {(s.problem_id, s.sample_index): (s.seed, s.text) for s in store.samples()}


class _Interrupt(Exception):
    pass


def test_adaptive_run_unequal_n_resume_and_report(toy, tmp_path, monkeypatch):
    from rlbound.data.store import RunStore
    from rlbound.metrics.adaptive import adaptive_interval, small_sample_pass_at_k
    from rlbound.report.build import build_report
    from rlbound.verify import runner as verify_mod
    from rlbound.verify.runner import verify_run
    ref = run_sampling(_toy_cfg(toy, tmp_path / "ref"), progress=False)
    ids, n, c = ref.counts()
    state = read_state(ref)
    # at least the pilot and one more round (2 here on 2026-12-04, also at the commit before the
    # layout change: the toy model's pretraining depends on the thread count it ran with)
    assert state.done and state.round >= 2 and len(state.history) == state.round
    assert n.min() == 8 and 8 < n.max() <= 64 and len(set(n.tolist())) > 1  # unequal per-problem n
    assert [h["round"] for h in state.history] == list(range(1, state.round + 1))
    assert ref.manifest.extra["adaptive"]["estimator"] == "bayes" and ref.manifest.extra["adaptive"]["k"] == [1, 16]
    assert ref.manifest.extra["adaptive"]["prior_boot"] == 20  # the refits whose spread entered every width

    # interrupted twice: in the middle of round 2's sampling, then in round 3's grading; then resumed
    out = tmp_path / "resumed"
    calls = {"add": 0, "verify": 0}
    orig_add = RunStore.add_samples

    def add_then_fail(self, samples):
        calls["add"] += 1
        if calls["add"] == 22:  # the pilot is 320 samples = 20 batches of 16; fail on round 2's second batch
            raise _Interrupt
        return orig_add(self, samples)

    monkeypatch.setattr(RunStore, "add_samples", add_then_fail)
    with pytest.raises(_Interrupt):
        run_sampling(_toy_cfg(toy, out), progress=False)
    monkeypatch.setattr(RunStore, "add_samples", orig_add)
    assert read_state(RunStore.open(out)).round == 2

    def verify_then_fail(store, **kw):
        calls["verify"] += 1
        if calls["verify"] == 1:  # the resumed call's first grading: round 2 is sampled but not graded
            raise _Interrupt
        return verify_run(store, **kw)

    monkeypatch.setattr(verify_mod, "verify_run", verify_then_fail)
    with pytest.raises(_Interrupt):
        run_sampling(_toy_cfg(toy, out), progress=False)
    monkeypatch.setattr(verify_mod, "verify_run", verify_run)
    assert len(RunStore.open(out).unverified()) > 0
    store = run_sampling(_toy_cfg(toy, out), progress=False)
    assert store.verify_integrity() == []  # no duplicate cells
    assert _cells(store) == _cells(ref)
    assert read_state(store) == state
    rerun = run_sampling(_toy_cfg(toy, out), progress=False)  # a finished run: nothing more to do
    assert len(_cells(rerun)) == int(n.sum()) and read_state(rerun) == state

    # the report reads it with the Bayes estimator and marks it, also next to a uniform run
    uni = run_sampling(_toy_cfg(toy, tmp_path / "uniform", adaptive=False, n=8), progress=False)
    verify_run(uni, workers=0, progress=False)
    res = build_report([tmp_path / "uniform", tmp_path / "ref"], labels=["uniform", "adaptive"],
                       out_dir=tmp_path / "report", progress=False)
    m = json.loads(res.metrics_path.read_text())
    curve = m["passk"]["adaptive"]
    assert curve["ks"][-1] == 16 and m["passk"]["uniform"]["ks"][-1] == 8
    want = small_sample_pass_at_k(n, c, curve["ks"], estimator="bayes").curve
    np.testing.assert_allclose(curve["mean"], want, atol=1e-12)
    # its band: the bootstrap over problems widened by the prior fit's spread over refits (prior_fit)
    _, lo, hi = adaptive_interval(n, c, curve["ks"], scope="population", n_boot=2000, seed=0, estimator="bayes")
    _, lo0, hi0 = adaptive_interval(n, c, curve["ks"], scope="population", n_boot=2000, seed=0, estimator="bayes",
                                    prior_boot=0)
    np.testing.assert_allclose(curve["ci95_low"], lo, atol=1e-12)
    np.testing.assert_allclose(curve["ci95_high"], hi, atol=1e-12)
    assert (hi - lo > hi0 - lo0).all()
    assert m["adaptive"]["adaptive"]["estimator"] == "bayes" and m["adaptive"]["adaptive"]["n_range"] == [8, int(n.max())]
    assert "uniform" not in m["adaptive"]
    assert any("adaptive: sampled adaptively" in t for t in res.notes)
    assert "adaptive" in m["comparisons"]
    html = res.html_path.read_text()
    assert f"8..{int(n.max())} (adaptive)" in html


def test_passk_figure_marks_adaptive_curves():
    from rlbound.report.analyses.curves import CurveStats
    from rlbound.report.analyses.passk import passk_curves

    stats = {"a": CurveStats.of([1, 2], [0.1, 0.2]), "b": CurveStats.of([1, 2, 4], [0.2, 0.3, 0.4])}
    fig = passk_curves(stats, {}, "a", adaptive=["b"])
    names = {cv.label: cv.name for cv in fig.panels[0].curves}
    assert names == {"a": "", "b": "b (adaptive: posterior mean)"}
    assert "adaptive runs: posterior mean" in fig.panels[0].title
    assert "adaptive" not in passk_curves(stats, {}, "a").panels[0].title
