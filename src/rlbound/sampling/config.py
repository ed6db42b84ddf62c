"""What a sampling run is asked to do: ``SampleConfig`` (every field a TOML key and a CLI option),
its backend options, the per-cell seed derivation, and the adaptive policy's recorded constants.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlbound.backends import templates
from rlbound.backends.hf.options import HFOptions
from rlbound.backends.openai import OpenAIOptions
from rlbound.backends.protocol import SamplingParams, available, options_class
from rlbound.backends.ray import RayOptions
from rlbound.backends.vllm import VLLMOptions
from rlbound.errors import InputError

SEED_DERIVATION = "blake2b-64('rlbound-sample-v1|{run_seed}|{problem_id}|{index}') & (2**63 - 1)"


def sample_seed(run_seed: int, problem_id: str, index: int) -> int:
    """The seed of cell ``(problem_id, index)`` of a run with seed ``run_seed``.

    A stable hash (BLAKE2b, 64-bit digest, top bit cleared so it fits a signed int64 column and any
    server's ``seed`` field), not Python's salted ``hash()``: the same on every machine and run.
    """
    key = f"rlbound-sample-v1|{int(run_seed)}|{problem_id}|{int(index)}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") & ((1 << 63) - 1)


# The metadata key of a SampleConfig field that carries backend options: ((options class, option name), ...).
_OPTION_OF = "backend_option"


def _option(owner: type, name: str, *also: type, default: Any = dataclasses.MISSING) -> Any:
    """A ``SampleConfig`` field that is option ``name`` of backend options class ``owner`` (and of
    the classes in ``also``, under the same name): its default is the option's own (``default``
    overrides it where the run declares its own), and ``backend_options`` passes the value on."""
    owners = (owner, *also)
    found = [{f.name: f.default for f in dataclasses.fields(cls)}.get(name, dataclasses.MISSING) for cls in owners]
    if dataclasses.MISSING in found or len(set(found)) != 1:
        raise TypeError(f"{name!r} must be an option of {', '.join(c.__name__ for c in owners)}, with one default")
    value = found[0] if default is dataclasses.MISSING else default
    return dataclasses.field(default=value, metadata={_OPTION_OF: tuple((cls, name) for cls in owners)})


@dataclass(frozen=True)
class SampleConfig:
    """Configuration of one sampling run (``rlbound sample``); every field is also a TOML key.

    Attributes:
        model: model directory or hub id (hf, vllm), or the served model name (openai).
        benchmark: benchmark name (math500, aime24, ... under $RLBOUND_DATA_DIR) or a JSONL/Parquet file.
        out: run directory to create, or to resume if it holds a run with the same configuration.
        backend: sampling backend: hf, vllm, openai or ray.
        n: samples per problem (the n of pass@k); raising it on an existing run adds samples.
        temperature: sampling temperature; 0 is greedy (the paper uses 0.6).
        top_p: nucleus sampling threshold in (0, 1] (the paper uses 0.95).
        max_new_tokens: most tokens per sample; longer samples are cut and counted as truncated.
        stop: strings that end a sample (comma-separated on the command line).
        seed: run seed; each sample's seed is derived from it, the problem id and the sample index.
        template: prompt template: raw, boxed (the paper's qwen-boxed), boxed-plain, chat, or a
            custom string containing {problem}.
        limit: only the first LIMIT problems of the benchmark.
        field_map: column names for a benchmark file of another layout, as key=column pairs
            (keys id, prompt, reference), e.g. prompt=question,reference=answer.
        batch_size: samples per batch; each batch is written atomically (a crash loses at most one).
        device: hf backend: auto, cpu, cuda, cuda:1, ...
        dtype: hf/vllm: auto, float32, bfloat16 or float16.
        threads: hf backend: torch CPU threads (default: torch's choice).
        base_url: openai backend: server URL, e.g. http://127.0.0.1:8000/v1.
        api_key_env: openai backend: environment variable holding the API key (may be unset).
        endpoint: openai backend: completions (prompt text) or chat (prompt sent as one user message).
        concurrency: openai backend: requests in flight at once.
        max_retries: openai backend: retries of a request after 429/5xx/timeouts (exponential backoff).
        request_timeout: openai backend: seconds before a request times out (and is retried).
        tensor_parallel_size: vllm backend: GPUs per model replica.
        gpu_memory_utilization: vllm backend: fraction of GPU memory vLLM may use.
        max_model_len: vllm backend: context length (default: the model's).
        replicas: ray backend: backend replicas (actors); 0 = one per GPU, or per CPU pair without GPUs.
        replica_backend: ray backend: backend each replica runs (hf or vllm).
        ray_address: ray backend: cluster address ("auto" to join a running cluster; empty: start a local one).
        gpus_per_replica: ray backend: GPUs each replica reserves.
        cpus_per_replica: ray backend: CPUs each replica reserves.
        logprobs: store the sampled tokens' log-probabilities in token_logprobs.parquet beside the
            samples, for the report's entropy analysis. They are log p(token) under the model's raw
            distribution (temperature 1, before top-p), as vLLM's V1 engine returns them by default
            (logprobs_mode raw_logprobs) and the hf backend computes them; with temperature != 1 the
            report's estimate is thus the cross-entropy of the sampling distribution to the model.
            A run keeps the setting it was started with (a resume with another is refused).
        adaptive: sample in rounds (docs/statistics.md, section 6): a pilot of PILOT samples per
            problem, graded, then more samples only for the problems that narrow the 95% interval on
            pass@k at each K most, until its predicted half-width is <= CI or no problem below n
            samples can still help (n is then the most samples per problem). Resumable like any run.
        k: adaptive mode: the k value(s) of pass@k whose interval is targeted (comma-separated).
        ci: adaptive mode: target HALF-width of the 95% interval on mean pass@k (estimate +- CI, over
            these problems' sampling noise), as in 'rlbound plan --ci'.
        pilot: adaptive mode: samples per problem in the first round.
        verifier: adaptive mode: verifier that grades samples between rounds (default: each problem's
            own, from the benchmark).
        verify_workers: adaptive mode: grading worker processes (default: all cores; 0: in this
            process, for trusted verifiers such as synthetic).
    """

    model: str
    benchmark: str
    out: str
    backend: str = "hf"
    n: int = 16
    temperature: float = 0.6
    top_p: float = 0.95
    max_new_tokens: int = 1024
    stop: tuple[str, ...] = ()
    seed: int = 0
    template: str = "boxed"
    limit: int | None = None
    field_map: tuple[str, ...] = ()
    # The fields from here to cpus_per_replica carry backend options: each one's default (and the
    # option it sets, in backend_options) is declared by the backend's options dataclass.
    batch_size: int = _option(HFOptions, "batch_size", default=256)  # also the run's batches
    device: str = _option(HFOptions, "device")
    dtype: str = _option(HFOptions, "dtype", VLLMOptions)
    threads: int | None = _option(HFOptions, "threads")
    base_url: str = _option(OpenAIOptions, "base_url")
    api_key_env: str = _option(OpenAIOptions, "api_key_env")
    endpoint: str = _option(OpenAIOptions, "endpoint")
    concurrency: int = _option(OpenAIOptions, "concurrency")
    max_retries: int = _option(OpenAIOptions, "max_retries")
    request_timeout: float = _option(OpenAIOptions, "timeout_s")
    tensor_parallel_size: int = _option(VLLMOptions, "tensor_parallel_size")
    gpu_memory_utilization: float = _option(VLLMOptions, "gpu_memory_utilization")
    max_model_len: int | None = _option(VLLMOptions, "max_model_len")
    replicas: int = _option(RayOptions, "replicas")
    replica_backend: str = _option(RayOptions, "backend")
    ray_address: str = _option(RayOptions, "address", default="")  # "": None, start a local Ray (TOML has no null)
    gpus_per_replica: float = _option(RayOptions, "gpus_per_replica")
    cpus_per_replica: float = _option(RayOptions, "cpus_per_replica")
    logprobs: bool = False
    adaptive: bool = False
    k: tuple[int, ...] = ()
    ci: float | None = None
    pilot: int = 32
    verifier: str = ""
    verify_workers: int | None = None

    def __post_init__(self) -> None:
        for name in ("stop", "field_map"):
            val = getattr(self, name)
            if isinstance(val, str):
                val = tuple(x for x in val.split(",") if x)
            object.__setattr__(self, name, tuple(val))
        for name in ("model", "benchmark", "out"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise InputError(f"{name} must be a non-empty string", field=name)
        if self.backend not in available():
            raise InputError(f"unknown backend {self.backend!r}; use one of {', '.join(available())}",
                             field="backend")
        if self.replica_backend not in ("hf", "vllm"):
            raise InputError(f"replica_backend must be hf or vllm, got {self.replica_backend!r}",
                             field="replica_backend")
        for name in ("batch_size", "concurrency"):
            val = getattr(self, name)
            if not isinstance(val, int) or isinstance(val, bool) or val <= 0:
                raise InputError(f"{name} must be a positive integer, got {val!r}", field=name)
        if self.limit is not None and (not isinstance(self.limit, int) or self.limit <= 0):
            raise InputError(f"limit must be a positive integer, got {self.limit!r}", field="limit")
        if not isinstance(self.logprobs, bool):
            raise InputError(f"logprobs must be true or false, got {self.logprobs!r}", field="logprobs")
        if self.endpoint not in ("completions", "chat"):
            raise InputError(f"endpoint must be completions or chat, got {self.endpoint!r}", field="endpoint")
        self.sampling_params()  # InputError naming n / temperature / top_p / max_new_tokens / stop
        templates.describe(self.template)  # InputError for an unknown template name
        self.field_map_dict()
        self._check_adaptive()

    def _check_adaptive(self) -> None:
        """Normalise ``k`` to sorted unique ints and check the adaptive-mode fields."""
        k = self.k
        if isinstance(k, str):
            try:
                k = [int(x) for x in k.split(",") if x.strip()]
            except ValueError:
                raise InputError(f"k must be comma-separated integers, got {self.k!r}", field="k") from None
        elif isinstance(k, int) and not isinstance(k, bool):
            k = [k]
        if not isinstance(k, (list, tuple)) or any(not isinstance(x, int) or isinstance(x, bool) or x < 1 for x in k):
            raise InputError(f"k must be integers >= 1, got {self.k!r}", field="k")
        object.__setattr__(self, "k", tuple(sorted(set(k))))
        if not isinstance(self.adaptive, bool):
            raise InputError(f"adaptive must be true or false, got {self.adaptive!r}", field="adaptive")
        if not isinstance(self.pilot, int) or isinstance(self.pilot, bool) or self.pilot <= 0:
            raise InputError(f"pilot must be a positive integer, got {self.pilot!r}", field="pilot")
        if not isinstance(self.verifier, str):
            raise InputError(f"verifier must be a verifier name, got {self.verifier!r}", field="verifier")
        vw = self.verify_workers
        if vw is not None and (not isinstance(vw, int) or isinstance(vw, bool) or vw < 0):
            raise InputError(f"verify_workers must be an integer >= 0, got {vw!r}", field="verify_workers")
        ci = self.ci
        if ci is not None and (isinstance(ci, bool) or not isinstance(ci, (int, float)) or not 0.0 < ci < 1.0):
            raise InputError(f"ci is the interval half-width and must lie in (0, 1), got {ci!r}", field="ci")
        if not self.adaptive:
            return
        if not self.k:
            raise InputError("--adaptive needs --k, the k of pass@k whose interval --ci targets (e.g. 256)", field="k")
        if ci is None:
            raise InputError("--adaptive needs --ci, the target half-width of the 95% interval (e.g. 0.02)",
                             field="ci")
        if self.pilot > self.n:
            raise InputError(f"pilot {self.pilot} exceeds n {self.n}, the most samples per problem in adaptive "
                             "mode; raise --n or lower --pilot", field="pilot")

    def sampling_params(self) -> SamplingParams:
        """The validated ``SamplingParams`` of this config."""
        return SamplingParams(n=self.n, temperature=self.temperature, top_p=self.top_p,
                              max_new_tokens=self.max_new_tokens, stop=self.stop, seed=self.seed,
                              logprobs=self.logprobs)

    def field_map_dict(self) -> dict[str, str] | None:
        """``field_map`` as a dict (None when empty); InputError for an entry without '='."""
        if not self.field_map:
            return None
        out = {}
        for item in self.field_map:
            key, sep, col = item.partition("=")
            if not sep or not key.strip() or not col.strip():
                raise InputError(f"field_map entries look like key=column, got {item!r}", field="field_map")
            out[key.strip()] = col.strip()
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (the resolved config stored in the manifest)."""
        d = dataclasses.asdict(self)
        d["stop"], d["field_map"] = list(self.stop), list(self.field_map)
        return d


def load_config(path: str | Path | None, overrides: Mapping[str, Any] | None = None) -> SampleConfig:
    """A ``SampleConfig`` from a TOML file (top-level keys or a ``[sample]`` table; ``-`` or ``_``
    in key names), with ``overrides`` (e.g. command-line options; None values ignored) on top.

    Errors name the file and the key: unknown keys, TOML syntax, wrong types, missing required keys.
    """
    from rlbound.data.config import resolve_config
    def field_map(val: Any) -> Any:
        return tuple(f"{k}={v}" for k, v in val.items()) if isinstance(val, dict) else val

    return resolve_config(SampleConfig, path, dict(overrides or {}), table="sample", convert={"field_map": field_map})


def carried_options() -> dict[str, tuple[tuple[type, str], ...]]:
    """Each ``SampleConfig`` field that carries backend options -> its (options class, option name) pairs."""
    return {f.name: f.metadata[_OPTION_OF] for f in dataclasses.fields(SampleConfig) if _OPTION_OF in f.metadata}


def backend_options(config: SampleConfig, backend: str | None = None) -> Any:
    """The typed options dataclass for ``backend`` (default: ``config.backend``) from ``config``: every
    field that carries one of its options (``_option``), the others at the dataclass's defaults; a ray
    backend's replicas get ``backend_options(config, config.replica_backend)``."""
    cls = options_class(backend or config.backend)
    values = {option: getattr(config, name) for name, owners in carried_options().items()
              for owner, option in owners if owner is cls}
    if cls is RayOptions:
        values["address"] = values["address"] or None
        values["backend_options"] = backend_options(config, config.replica_backend)
    return cls(**values)


# ---- adaptive sampling: the constants its manifest records ---------------------------------

STATE_FILE = "adaptive.json"
ESTIMATOR = "bayes"  # small_sample_pass_at_k estimator for adaptively sampled runs
SCOPE = "benchmark"  # the interval the allocation targets: sampling noise, problems fixed
LEVEL = 0.95
ROUND_FRACTION = 0.25  # each round draws at most this share of the samples so far (at least P)
BATCH = 16  # a selected problem gets at least this many more samples ...
GROWTH = 0.5  # ... or this share of its current n


def adaptive_manifest_entry(config: SampleConfig) -> dict[str, Any]:
    """``RunManifest.extra["adaptive"]`` of an adaptive run."""
    from rlbound.metrics.prior.refit import DEFAULT_BOOT

    return {"estimator": ESTIMATOR, "prior": "eb", "prior_boot": DEFAULT_BOOT, "k": list(config.k), "ci": config.ci,
            "scope": SCOPE, "level": LEVEL, "pilot": config.pilot, "n_max": config.n, "state_file": STATE_FILE}
