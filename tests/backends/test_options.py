"""Backend options and the ``SampleConfig`` fields that carry them: each default is declared once,
by the backend's options dataclass, and ``backend_options`` passes every carried value on."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from rlbound.backends.protocol import available, options_class
from rlbound.sampling.config import SampleConfig, _option, backend_options, carried_options

# SampleConfig fields whose default the run declares itself, with why
OWN_DEFAULTS = {"batch_size": 256,  # also the run's batch (one atomic write each)
                "ray_address": ""}  # "" stands for None: a TOML file has no null


def _option_field(cls: type, name: str) -> dataclasses.Field:
    return {f.name: f for f in dataclasses.fields(cls)}[name]


def test_carried_fields_take_type_and_default_from_the_options():
    hints = typing.get_type_hints(SampleConfig)
    carried = carried_options()
    assert set(carried) >= {"device", "dtype", "threads", "base_url", "request_timeout", "replica_backend"}
    for name, owners in carried.items():
        field = _option_field(SampleConfig, name)
        for cls, option in owners:
            own = typing.get_type_hints(cls)[option]
            assert hints[name] == own or (name == "ray_address" and own == hints[name] | None), (name, cls)
            want = OWN_DEFAULTS.get(name, _option_field(cls, option).default)
            assert field.default == want, (name, cls)


def test_backend_options_passes_every_carried_value_and_leaves_the_rest_at_defaults():
    cfg = SampleConfig(model="m", benchmark="b", out="o", device="cpu", dtype="float16", threads=3, batch_size=7,
                       base_url="http://x/v1", api_key_env="K", endpoint="chat", concurrency=3, max_retries=2,
                       request_timeout=5.5, tensor_parallel_size=2, gpu_memory_utilization=0.5, max_model_len=99,
                       replicas=3, replica_backend="vllm", ray_address="auto", gpus_per_replica=1.0,
                       cpus_per_replica=2.0)
    for name in available():
        opts = backend_options(cfg, name)
        cls = options_class(name)
        assert type(opts) is cls
        set_here = {option: field for field, owners in carried_options().items() for c, option in owners if c is cls}
        for f in dataclasses.fields(cls):
            got = getattr(opts, f.name)
            if f.name in set_here:
                assert got == getattr(cfg, set_here[f.name]), (name, f.name)
            elif f.name != "backend_options":
                assert got == f.default, (name, f.name)
    ray = backend_options(cfg, "ray")
    assert ray.backend_options == backend_options(cfg, "vllm")
    assert backend_options(dataclasses.replace(cfg, ray_address=""), "ray").address is None
    assert backend_options(dataclasses.replace(cfg, backend="openai")).timeout_s == 5.5


def test_an_option_must_exist_with_one_default():
    from rlbound.backends.hf.options import HFOptions
    from rlbound.backends.vllm import VLLMOptions

    assert _option(HFOptions, "dtype", VLLMOptions).default == "auto"
    with pytest.raises(TypeError, match="no_such"):
        _option(HFOptions, "no_such")
    with pytest.raises(TypeError, match="batch_size"):
        _option(HFOptions, "batch_size", VLLMOptions)  # vLLM has no batch_size
