"""The resumable sampling loop: config, seeds, manifest, resume, refusal, errors, kill -9.

The kill test runs tests/sampling_proc.py as a real process, SIGKILLs it twice mid-run, reruns it to
completion and compares every cell with an uninterrupted run of the same seed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlbound.errors import InputError
from rlbound.sampling import run_sampling
from rlbound.sampling.config import SampleConfig, load_config, sample_seed
from rlbound.sampling.loop import sample

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("rlbound_test_sampling_proc", HERE.parent / "sampling_proc.py")
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)

PROMPTS = ["12+3=", "7*8=", "100-1=", "9/3=", "(2+2)*2=", "1+1="]
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
    return helpers.sample_config(tiny, bench, out, **kw)


def _cells(store) -> dict[tuple[str, int], tuple[int, str, str, int]]:
    out = {}
    for s in store.samples():
        assert (s.problem_id, s.sample_index) not in out
        out[(s.problem_id, s.sample_index)] = (s.seed, s.text, s.finish_reason, s.completion_tokens)
    return out


# ---- seeds and config ------------------------------------------------------------------------


def test_sample_seed_is_the_documented_stable_hash():
    key = b"rlbound-sample-v1|7|p3|5"
    want = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") & ((1 << 63) - 1)
    assert sample_seed(7, "p3", 5) == want
    seeds = {sample_seed(r, p, i) for r in (0, 1) for p in ("a", "b", "1") for i in range(50)}
    assert len(seeds) == 300 and all(0 <= s < 2 ** 63 for s in seeds)


@pytest.mark.parametrize("kw,field", [({"n": 0}, "n"), ({"temperature": -1.0}, "temperature"),
                                      ({"top_p": 0.0}, "top_p"), ({"backend": "tgi"}, "backend"),
                                      ({"template": "nope"}, "template"), ({"batch_size": 0}, "batch_size"),
                                      ({"field_map": ("prompt",)}, "field_map")])
def test_config_validation_names_the_field(tmp_path, kw, field):
    with pytest.raises(InputError) as e:
        _cfg("m", "b.jsonl", tmp_path / "run", **kw)
    assert e.value.field == field


def test_load_config_toml_and_overrides(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('model = "m"\nbenchmark = "math500"\nout = "runs/a"\n'
                    '[sample]\nmax-new-tokens = 64\nstop = ["</s>", "\\n\\n"]\n'
                    'field_map = {prompt = "q", reference = "a"}\n')
    cfg = load_config(path, {"n": 32, "temperature": None, "top-p": 0.9})
    assert (cfg.model, cfg.n, cfg.max_new_tokens, cfg.temperature, cfg.top_p) == ("m", 32, 64, 0.6, 0.9)
    assert cfg.stop == ("</s>", "\n\n") and cfg.field_map_dict() == {"prompt": "q", "reference": "a"}
    path.write_text('model = "m"\nbenchmark = "b"\nout = "o"\ntemprature = 0.5\n')
    with pytest.raises(InputError) as e:
        load_config(path)
    assert e.value.path == str(path) and e.value.field == "temprature"
    path.write_text('model = "m"\nbenchmark = "b"\nout = "o"\nn = "many"\n')
    with pytest.raises(InputError) as e:
        load_config(path)
    assert e.value.field == "n"
    path.write_text('model = "m"\nout = "o"\n')
    with pytest.raises(InputError) as e:
        load_config(path)
    assert e.value.field == "benchmark"
    path.write_text('model = "m"\nbenchmark = "b"\nout = "o"\nn = -2\n')
    with pytest.raises(InputError) as e:
        load_config(path)
    assert e.value.field == "n" and e.value.path == str(path)
    with pytest.raises(InputError):
        load_config(tmp_path / "missing.toml")


def test_config_docstring_documents_every_field():
    doc = SampleConfig.__doc__
    for f in SampleConfig.__dataclass_fields__:
        assert f"        {f}: " in doc, f


# ---- the loop --------------------------------------------------------------------------------


def test_run_manifest_resume_and_refusal(tiny, bench, tmp_path, capsys):
    out = tmp_path / "run"
    store, summary = sample(_cfg(tiny, bench, out), progress=True)
    cells = _cells(store)
    assert set(cells) == {(f"p{i}", j) for i in range(len(PROMPTS)) for j in range(4)}
    for (pid, j), (seed, *_rest) in cells.items():
        assert seed == sample_seed(3, pid, j)
    assert summary.written == summary.requested == 24 == summary.run_samples
    assert sum(summary.finish_reasons.values()) == 24
    assert summary.truncated == summary.finish_reasons.get("length", 0) == summary.run_truncated
    assert summary.completion_tokens == sum(c[3] for c in cells.values())
    err = capsys.readouterr().err
    assert "sampled 24 of 24" in err and "truncated" in err

    m = store.manifest
    assert m.model == str(Path(tiny).resolve()) and m.backend == "hf"
    assert m.sampling == {"n": 4, "temperature": 1.0, "top_p": 0.95, "max_new_tokens": 16, "stop": [],
                          "seed": 3, "logprobs": False}
    assert m.prompt_template == {"name": "raw", "text": "{problem}"}
    assert m.dataset_name == "bench" and len(m.dataset_hash) == 64 and m.rlbound_version
    assert m.extra["config"]["batch_size"] == 5 and "blake2b" in m.extra["seed_derivation"]
    log = json.loads(store.side_path("sampling_summary.json").read_text())
    assert len(log) == 1 and log[0]["written"] == 24

    # a rerun finds nothing to do and changes nothing
    store2, s2 = sample(_cfg(tiny, bench, out, batch_size=7), progress=False)
    assert s2.requested == 0 and s2.written == 0 and _cells(store2) == cells
    # raising n adds cells; the old ones are untouched
    store3, s3 = sample(_cfg(tiny, bench, out, n=6), progress=False)
    assert s3.written == 12 and len(_cells(store3)) == 36
    assert {k: v for k, v in _cells(store3).items() if k[1] < 4} == cells
    # a different configuration is refused, and nothing is written
    parts = sorted(os.listdir(out / "samples"))
    for kw, field in (({"temperature": 0.5}, "sampling"), ({"template": "boxed-plain"}, "prompt_template"),
                      ({"seed": 4}, "sampling")):
        with pytest.raises(InputError) as e:
            sample(_cfg(tiny, bench, out, **kw), progress=False)
        assert e.value.field == field
    assert sorted(os.listdir(out / "samples")) == parts


def test_texts_do_not_depend_on_batching(tiny, bench, tmp_path):
    a = _cells(run_sampling(_cfg(tiny, bench, tmp_path / "a", batch_size=3), progress=False))
    b = _cells(run_sampling(_cfg(tiny, bench, tmp_path / "b", batch_size=24), progress=False))
    assert a == b
    c = _cells(run_sampling(_cfg(tiny, bench, tmp_path / "c", seed=4), progress=False))
    assert sum(a[k][1] != c[k][1] for k in a) > 12  # another run seed: other samples


def test_stop_strings_and_truncation_counts(tiny, bench, tmp_path):
    _, s = sample(_cfg(tiny, bench, tmp_path / "r", stop=("*",), max_new_tokens=6), progress=False)
    assert s.truncated == s.finish_reasons.get("length", 0) and s.truncated > 0
    assert s.finish_reasons.get("stop", 0) > 0


def test_existing_run_of_another_configuration_is_refused_before_the_model_loads(bench, tmp_path):
    """The store's check (``RunStore.check_existing``) refuses a different configuration at once: the
    model path here does not exist, so reaching the backend would raise another error."""
    from rlbound.backends import templates
    from rlbound.data.benchmarks import load_benchmark
    from rlbound.data.store import RunStore
    from rlbound.sampling.loop import check_existing_run
    from rlbound.types import RunManifest

    model, out = tmp_path / "no-model", tmp_path / "run"
    cfg = _cfg(model, bench, out)
    dataset = load_benchmark(cfg.benchmark, field_map=cfg.field_map_dict())
    RunStore.create(out, RunManifest(model=str(model), backend="hf", sampling=cfg.sampling_params().to_dict(),
                                     prompt_template=templates.describe("raw"), dataset_name="bench",
                                     dataset_hash=dataset.content_hash), dataset.problems)
    check_existing_run(cfg, cfg.sampling_params(), dataset)  # the same run: accepted
    more = _cfg(model, bench, out, n=9)
    check_existing_run(more, more.sampling_params(), dataset)  # more samples per problem: accepted
    for kw, field in (({"temperature": 0.5}, "sampling"), ({"template": "boxed-plain"}, "prompt_template"),
                      ({"backend": "openai"}, "backend"), ({"model": str(tmp_path / "other")}, "model")):
        with pytest.raises(InputError, match=f"different {field}") as e:
            sample(_cfg(model, bench, out, **kw), progress=False)
        assert e.value.field == field and e.value.path == str(out)
    assert os.listdir(out / "samples") == []


@pytest.mark.parametrize("bad", ["model", "field_map", "benchmark"])
def test_bad_input_leaves_no_files(tiny, bench, tmp_path, bad):
    out = tmp_path / "never"
    kw = {"model": dict(model=str(tmp_path / "no-model")),
          "field_map": dict(field_map=("id=id", "prompt=question", "reference=answer")),
          "benchmark": dict(benchmark=str(tmp_path / "missing.jsonl"))}[bad]
    with pytest.raises(InputError) as e:
        run_sampling(_cfg(tiny, bench, out, **kw), progress=False)
    assert "\n" not in str(e.value)
    if bad == "field_map":
        assert "question" in str(e.value) and e.value.line == 1
    assert not out.exists()


# ---- kill -9 and resume ----------------------------------------------------------------------


def _parts(out: Path) -> int:
    d = out / "samples"
    return len([n for n in os.listdir(d) if n.startswith("part-")]) if d.is_dir() else 0


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_equals_uninterrupted(tiny, bench, tmp_path):
    from rlbound.data.store import RunStore

    n, batch, seed = 8, 4, 11
    ref_out = tmp_path / "ref"
    ref = _cells(run_sampling(_cfg(tiny, bench, ref_out, n=n, batch_size=batch, seed=seed, max_new_tokens=24),
                              progress=False))
    assert len(ref) == len(PROMPTS) * n

    out = tmp_path / "killed"
    cmd = [sys.executable, str(HERE.parent / "sampling_proc.py"), str(tiny), str(bench), str(out), "--seed", str(seed),
           "--n", str(n), "--batch-size", str(batch), "--max-new-tokens", "24", "--delay", "0.25"]
    total_parts = len(ref) // batch
    for kill_after in (2, 6):  # kill once some parts exist, twice
        before = _parts(out)
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while _parts(out) < kill_after and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL, "the sampler finished before it could be killed"
        done = _parts(out)
        assert before < done < total_parts
        store = RunStore.open(out)
        assert 0 < len(store.missing_cells(n)) < len(ref)
    r = subprocess.run(cmd[:-2], capture_output=True, text=True, timeout=300)  # no delay: run to completion
    assert r.returncode == 0, r.stderr[-2000:]
    store = RunStore.open(out)
    assert store.missing_cells(n) == [] and store.verify_integrity() == []
    got = _cells(store)  # raises on a duplicate cell
    assert got == ref
