"""The ray backend on a local Ray instance (ray.init(num_cpus=2)) with two hf replicas.

Checks: replicas return exactly the hf backend's samples for the same seeds (sharding does not
change a sample), streamed batches all arrive once, a full ``run_sampling`` with backend "ray"
writes one run store equal to an hf run, scoring is sharded too, and a bad model path on the
replicas is the same one-line InputError as locally. Slow: starting Ray and two workers that
import torch takes 20-60 s on a 2-core machine.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("torch")
pytest.importorskip("transformers")

from rlbound.backends import Batch, SamplingParams, get_backend  # noqa: E402
from rlbound.backends.hf import HFOptions  # noqa: E402
from rlbound.errors import InputError  # noqa: E402
from rlbound.sampling import run_sampling  # noqa: E402
from rlbound.sampling.config import SampleConfig  # noqa: E402

pytestmark = pytest.mark.slow

_spec = importlib.util.spec_from_file_location("rlbound_test_sampling_proc",
                                               Path(__file__).resolve().parents[1] / "sampling_proc.py")
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)

PROMPTS = ["12+3=", "7*8=", "100-1=", "9/3=", "(2+2)*2="]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return helpers.make_tiny_model(tmp_path_factory.mktemp("tiny") / "llama")


@pytest.fixture(scope="module")
def rb(tiny):
    backend = get_backend("ray", str(tiny), replicas=2, num_cpus=2, cpus_per_replica=0.5,
                          backend_options=HFOptions(device="cpu", threads=1))
    yield backend
    backend.close()
    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def hf(tiny):
    return get_backend("hf", str(tiny), device="cpu", threads=1)


def test_replicas_give_the_hf_samples(rb, hf):
    assert rb.replicas == 2
    params = SamplingParams(temperature=1.0, top_p=0.95, max_new_tokens=20)
    seeds = [[1, 2, 3], [4], [5, 6], [7], [8, 9]]
    assert rb.generate(PROMPTS, params, seeds) == hf.generate(PROMPTS, params, seeds)


def test_stream_yields_every_batch_once(rb, hf):
    params = SamplingParams(temperature=0.8, max_new_tokens=12)
    batches = [Batch(key=i, prompts=(PROMPTS[i % 5],), seeds=((i, i + 100),)) for i in range(9)]
    got = {b.key: out for b, out in rb.generate_stream(batches, params)}
    assert sorted(got) == list(range(9))
    for b in batches:
        assert got[b.key] == hf.generate(list(b.prompts), params, [list(s) for s in b.seeds])


def test_score_is_sharded(rb, hf):
    p, c = ["12+3=", "7*8=", "1+1="], ["15", "56", "2"]
    for a, b in zip(rb.score(p, c), hf.score(p, c)):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_run_sampling_over_ray_writes_one_store(rb, tiny, tmp_path):
    bench = helpers.write_problems(tmp_path / "bench.jsonl", PROMPTS)
    common = dict(model=str(tiny), benchmark=str(bench), n=6, temperature=1.0, top_p=0.95, max_new_tokens=16,
                  seed=5, template="raw", field_map=("id=id", "prompt=problem", "reference=answer"),
                  batch_size=4, device="cpu", threads=1)
    # Ray is already up (the rb fixture): the run's backend joins it with its own two replicas
    via_ray = run_sampling(SampleConfig(out=str(tmp_path / "ray"), backend="ray", replicas=2,
                                        cpus_per_replica=0.5, **common), progress=False)
    local = run_sampling(SampleConfig(out=str(tmp_path / "hf"), backend="hf", **common), progress=False)
    assert via_ray.manifest.backend == "ray"
    assert via_ray.missing_cells(6) == [] and via_ray.verify_integrity() == []
    assert [(s.problem_id, s.sample_index, s.seed, s.text) for s in via_ray.samples()] == \
           [(s.problem_id, s.sample_index, s.seed, s.text) for s in local.samples()]


def test_bad_model_on_replicas_is_an_input_error(rb, tmp_path):
    with pytest.raises(InputError) as e:
        get_backend("ray", str(tmp_path / "missing"), replicas=1, cpus_per_replica=0.5,
                    backend_options=HFOptions(device="cpu"))
    assert e.value.field == "model" and "\n" not in str(e.value)
    with pytest.raises(InputError) as e:  # more than the cluster could ever hold
        get_backend("ray", str(tmp_path / "missing"), replicas=8, cpus_per_replica=1.0)
    assert e.value.field == "replicas"
