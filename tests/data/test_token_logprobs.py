"""``rlbound sample --logprobs``: token_logprobs.parquet, its shards across a kill, and the report.

A tiny random Llama (tests/sampling_proc.py) is sampled on the hf backend; one row per stored sample
with as many log-probabilities as the sample's tokens must come out, survive an interrupted run and
a rerun without duplicates, and feed the report's entropy section. The openai backend against
``rlbound serve`` must store the same rows.
"""

from __future__ import annotations

import importlib.util
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from rlbound.data import token_logprobs
from rlbound.data.store import RunStore
from rlbound.errors import InputError
from rlbound.report.build import build_report
from rlbound.report.inputs import read_token_entropy
from rlbound.sampling.config import SampleConfig, load_config
from rlbound.sampling.loop import sample
from rlbound.types import Verdict

HERE = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("rlbound_test_sampling_proc", HERE / "sampling_proc.py")
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)

PROMPTS = ["12+3=", "7*8=", "100-1=", "9/3="]
FIELD_MAP = helpers.FIELD_MAP


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    return helpers.make_tiny_model(tmp_path_factory.mktemp("tiny") / "llama")


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    return helpers.write_problems(tmp_path_factory.mktemp("bench") / "bench.jsonl", PROMPTS)


def _cfg(tiny, bench, out, **kw) -> SampleConfig:
    return helpers.sample_config(tiny, bench, out, **{"max_new_tokens": 12, "seed": 5, "batch_size": 3, "logprobs": True,
                                                      **kw})


def _rows(out: Path) -> dict[tuple[str, int], list[float]]:
    """token_logprobs.parquet as {cell: logprobs}; fails on a duplicate cell."""
    t = pq.read_table(out / token_logprobs.LOGPROBS_FILE)
    assert t.schema == token_logprobs.SCHEMA
    rows: dict[tuple[str, int], list[float]] = {}
    for pid, idx, lp in zip(*(t.column(c).to_pylist() for c in ("problem_id", "sample_index", "logprobs"))):
        assert (pid, idx) not in rows, f"duplicate row for {(pid, idx)}"
        rows[(pid, idx)] = lp
    return rows


def _check_one_row_per_sample(out: Path) -> dict[tuple[str, int], list[float]]:
    store = RunStore.open(out)
    rows = _rows(out)
    tokens = {(s.problem_id, s.sample_index): s.completion_tokens for s in store.samples()}
    assert set(rows) == set(tokens)
    for cell, lp in rows.items():
        assert len(lp) == tokens[cell] > 0
        assert all(np.isfinite(lp)) and max(lp) <= 0.0
    assert token_logprobs.shard_paths(out) == []
    return rows


def _verify_all(out: Path) -> None:
    store = RunStore.open(out)
    ok = {(s.problem_id, s.sample_index): s.sample_index % 2 == 0 for s in store.samples()}
    store.add_verdicts([(pid, i, Verdict(correct=c, status="correct" if c else "wrong")) for (pid, i), c in ok.items()])


def test_config_option():
    assert SampleConfig.__dataclass_fields__["logprobs"].default is False
    cfg = load_config(None, {"model": "m", "benchmark": "b", "out": "o", "logprobs": True})
    assert cfg.logprobs is True and cfg.sampling_params().logprobs is True
    with pytest.raises(InputError) as e:
        SampleConfig(model="m", benchmark="b", out="o", logprobs="yes")
    assert e.value.field == "logprobs"


def test_one_row_per_sample_and_the_report_uses_them(tiny, bench, tmp_path, capsys):
    out = tmp_path / "lp"
    store, summary = sample(_cfg(tiny, bench, out, temperature=0.7), progress=True)
    rows = _check_one_row_per_sample(out)
    assert len(rows) == len(PROMPTS) * 4 == summary.run_logprobs
    assert store.manifest.sampling["logprobs"] is True
    assert "token log-probabilities stored for 16 of 16 samples" in capsys.readouterr().err
    # sampled at temperature 0.7, the values are log p(token) under the raw model (temperature 1, no
    # top-p): the same as scoring the text; samples whose every token is a visible character are compared
    from rlbound.backends.hf import HFBackend, HFOptions

    hf = HFBackend(str(tiny), HFOptions(device="cpu", threads=1))
    full = [s for s in store.samples() if s.finish_reason == "length" and len(s.text) == s.completion_tokens]
    assert full
    scored = hf.score([PROMPTS[int(s.problem_id[1:])] for s in full], [s.text for s in full])
    for s, sc in zip(full, scored):
        np.testing.assert_allclose(sc, rows[(s.problem_id, s.sample_index)], atol=1e-4)

    plain = tmp_path / "plain"
    _, s2 = sample(_cfg(tiny, bench, plain, temperature=0.7, logprobs=False), progress=False)
    assert s2.run_logprobs is None and not (plain / token_logprobs.LOGPROBS_FILE).exists()
    for d in (out, plain):
        _verify_all(d)
    res = build_report([out, plain], labels="lp,plain", out_dir=tmp_path / "report", progress=False)
    metrics = json.loads(res.metrics_path.read_text())
    ent = metrics["entropy"]["runs"]
    assert list(ent) == ["lp"] and ent["lp"]["n_responses"] == 16
    per_response, over_tokens = read_token_entropy(out)
    assert ent["lp"]["mean_over_tokens"] == pytest.approx(over_tokens)
    assert over_tokens == pytest.approx(-np.mean(np.concatenate([np.asarray(v) for v in rows.values()])), rel=1e-5)
    assert (tmp_path / "report" / "figures" / "entropy.png").is_file()
    notes = [n for n in res.notes if "token log-probabilities" in n]
    assert len(notes) == 1 and "plain:" in notes[0]


def test_resume_with_another_logprobs_setting_is_refused(tiny, bench, tmp_path):
    out = tmp_path / "r"
    sample(_cfg(tiny, bench, out, n=1, logprobs=False), progress=False)
    with pytest.raises(InputError) as e:
        sample(_cfg(tiny, bench, out, n=2, logprobs=True), progress=False)
    assert e.value.field == "sampling"
    assert token_logprobs.shard_paths(out) == [] and not (out / token_logprobs.LOGPROBS_FILE).exists()


def test_interrupted_run_then_rerun_has_each_row_once(tiny, bench, tmp_path, monkeypatch):
    ref = _check_one_row_per_sample(sample(_cfg(tiny, bench, tmp_path / "ref"), progress=False)[0].path)

    out = tmp_path / "run"
    sample(_cfg(tiny, bench, out, n=2), progress=False)  # a finished run of n=2 ...
    assert len(_check_one_row_per_sample(out)) == 8
    calls = {"n": 0}
    real_add = RunStore.add_samples

    def dies_on_third_part(self, samples):  # ... raised to n=4 and "killed" between a shard and its part
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_add(self, samples)

    monkeypatch.setattr(RunStore, "add_samples", dies_on_third_part)
    with pytest.raises(KeyboardInterrupt):
        sample(_cfg(tiny, bench, out), progress=False)
    monkeypatch.setattr(RunStore, "add_samples", real_add)
    store = RunStore.open(out)
    stored = {(s.problem_id, s.sample_index) for s in store.samples()}
    assert len(stored) == 8 + 2 * 3 and len(token_logprobs.shard_paths(out)) == 3
    # a reader of the killed run sees one row per stored sample (the orphan shard's rows are ignored)
    merged = token_logprobs.read_table(store)
    cells = list(zip(merged.column("problem_id").to_pylist(), merged.column("sample_index").to_pylist()))
    assert len(cells) == len(set(cells)) and set(cells) == stored
    assert len(read_token_entropy(out)[0]) == len(stored)

    _, summary = sample(_cfg(tiny, bench, out), progress=False)  # the rerun fills the missing cells
    assert summary.written == 16 - len(stored) and summary.run_logprobs == 16
    rows = _check_one_row_per_sample(out)
    assert rows.keys() == ref.keys()
    for cell in ref:
        np.testing.assert_allclose(rows[cell], ref[cell], atol=1e-5)

    # a kill inside consolidation (new file written, shards not yet removed) leaves copies: merged once
    store = RunStore.open(out)
    token_logprobs.write_shard(store, list(rows), list(rows.values()))
    assert len(read_token_entropy(out)[0]) == 16
    assert token_logprobs.consolidate(store) == 16
    assert _rows(out).keys() == ref.keys()


@pytest.mark.slow
def test_sigkill_then_rerun_has_each_row_once(tiny, bench, tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, str(HERE / "sampling_proc.py"), str(tiny), str(bench), str(out), "--seed", "2",
           "--n", "6", "--batch-size", "4", "--max-new-tokens", "16", "--logprobs", "--delay", "0.3"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(token_logprobs.shard_paths(out)) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL, "the sampler finished before it could be killed"
    assert not (out / token_logprobs.LOGPROBS_FILE).exists()
    r = subprocess.run(cmd[:-2], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert len(_check_one_row_per_sample(out)) == len(PROMPTS) * 6


def test_openai_backend_stores_the_same_rows(tiny, bench, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "rlbound.backends.serve", str(tiny), "--port", "0", "--name", "tiny",
                             "--device", "cpu", "--threads", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        m = re.search(r"(http://127\.0\.0\.1:\d+/v1)", proc.stdout.readline())
        assert m, "server did not start"
        sample(_cfg(tiny, bench, tmp_path / "oa", backend="openai", model="tiny", base_url=m.group(1), n=2,
                     concurrency=2), progress=False)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    sample(_cfg(tiny, bench, tmp_path / "hf", n=2), progress=False)
    a, b = _check_one_row_per_sample(tmp_path / "oa"), _rows(tmp_path / "hf")
    assert a.keys() == b.keys()
    for cell in a:
        np.testing.assert_allclose(a[cell], b[cell], atol=1e-5)
