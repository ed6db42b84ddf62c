"""The resumable sampling loop: ``n`` independent samples per problem into one run store.

This is the data-collection step of Yue et al. 2025 (arXiv 2504.13837, Sec. 2): every problem of a
benchmark is sampled ``n`` times (n as in Chen et al. 2021's pass@k) under a fixed prompt template
and sampling parameters. The loop

1. validates the config (InputError naming the field), loads the benchmark and the model -- and
   only then creates the run directory, so bad input leaves no files behind;
2. records a manifest (model, backend, sampling parameters, rendered template, dataset name and
   content hash, rlbound version, the resolved config) -- reopening an existing run refuses a
   different configuration (``RunStore.create``);
3. asks the store which cells ``(problem_id, index)`` are missing and samples them in batches,
   writing each batch as one atomic part, so a kill -9 loses at most the batch in flight and a
   rerun fills exactly the missing cells (user pain point 10);
4. gives every cell its own seed ``sample_seed(run_seed, problem_id, index)``, recorded in
   ``Sample.seed`` (pain point 5): with the hf backend a rerun reproduces the same text however the
   cells are batched, so a resumed run equals an uninterrupted one;
5. with ``logprobs`` on, writes each batch's token log-probabilities as a shard before its samples
   part and merges the shards into ``token_logprobs.parquet`` at the end (``rlbound.data.token_logprobs``:
   after a kill and a rerun every stored sample has exactly one row).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlbound.backends import templates
from rlbound.backends.base import Batch, SamplingParams, available, stream
from rlbound.errors import InputError
from rlbound.types import RunManifest, Sample

SEED_DERIVATION = "blake2b-64('rlbound-sample-v1|{run_seed}|{problem_id}|{index}') & (2**63 - 1)"
SUMMARY_FILE = "sampling_summary.json"


def sample_seed(run_seed: int, problem_id: str, index: int) -> int:
    """The seed of cell ``(problem_id, index)`` of a run with seed ``run_seed``.

    A stable hash (BLAKE2b, 64-bit digest, top bit cleared so it fits a signed int64 column and any
    server's ``seed`` field), not Python's salted ``hash()``: the same on every machine and run.
    """
    key = f"rlbound-sample-v1|{int(run_seed)}|{problem_id}|{int(index)}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") & ((1 << 63) - 1)


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
    batch_size: int = 256
    device: str = "auto"
    dtype: str = "auto"
    threads: int | None = None
    base_url: str = "http://127.0.0.1:8000/v1"
    api_key_env: str = "OPENAI_API_KEY"
    endpoint: str = "completions"
    concurrency: int = 16
    max_retries: int = 6
    request_timeout: float = 600.0
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    max_model_len: int | None = None
    replicas: int = 0
    replica_backend: str = "hf"
    ray_address: str = ""
    gpus_per_replica: float = 0.0
    cpus_per_replica: float = 1.0
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
    from rlbound.config import resolve_config

    def field_map(val: Any) -> Any:
        return tuple(f"{k}={v}" for k, v in val.items()) if isinstance(val, dict) else val

    return resolve_config(SampleConfig, path, dict(overrides or {}), table="sample", convert={"field_map": field_map})


def backend_options(config: SampleConfig, backend: str | None = None) -> Any:
    """The typed options dataclass for ``backend`` (default: ``config.backend``) from ``config``."""
    name = backend or config.backend
    if name == "hf":
        from rlbound.backends.hf import HFOptions

        return HFOptions(device=config.device, dtype=config.dtype, batch_size=config.batch_size,
                         threads=config.threads)
    if name == "vllm":
        from rlbound.backends.vllm import VLLMOptions

        return VLLMOptions(dtype=config.dtype, tensor_parallel_size=config.tensor_parallel_size,
                           gpu_memory_utilization=config.gpu_memory_utilization,
                           max_model_len=config.max_model_len)
    if name == "openai":
        from rlbound.backends.openai import OpenAIOptions

        return OpenAIOptions(base_url=config.base_url, api_key_env=config.api_key_env, endpoint=config.endpoint,
                             concurrency=config.concurrency, max_retries=config.max_retries,
                             timeout_s=config.request_timeout)
    if name == "ray":
        from rlbound.backends.ray import RayOptions

        return RayOptions(backend=config.replica_backend,
                          backend_options=backend_options(config, config.replica_backend),
                          replicas=config.replicas, address=config.ray_address or None,
                          gpus_per_replica=config.gpus_per_replica, cpus_per_replica=config.cpus_per_replica)
    raise InputError(f"unknown backend {name!r}", field="backend")


# ---- the loop --------------------------------------------------------------------------------


@dataclass
class RunSummary:
    """What one ``run_sampling`` call did.

    Attributes:
        run: the run directory.
        requested: cells missing when the call started (what it set out to sample).
        written: samples written by this call.
        completion_tokens: tokens generated by this call.
        prompt_tokens: prompt tokens of the samples written.
        seconds: wall-clock seconds of the sampling loop.
        finish_reasons: count per finish_reason ("stop", "length", ...).
        truncated: samples cut at max_new_tokens (finish_reason "length", pain point 10).
        run_samples: samples stored in the run after this call.
        run_truncated: truncated samples stored in the run after this call.
        run_logprobs: samples with a row in token_logprobs.parquet after this call (None: the run
            has no token log-probabilities).
    """

    run: str
    requested: int = 0
    written: int = 0
    completion_tokens: int = 0
    prompt_tokens: int = 0
    seconds: float = 0.0
    finish_reasons: dict[str, int] = field(default_factory=dict)
    truncated: int = 0
    run_samples: int = 0
    run_truncated: int = 0
    run_logprobs: int | None = None

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        rate = self.written / self.seconds if self.seconds > 0 else 0.0
        tok_rate = self.completion_tokens / self.seconds if self.seconds > 0 else 0.0
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.finish_reasons.items())) or "none"
        pct = 100.0 * self.truncated / self.written if self.written else 0.0
        out = [
            f"sampled {self.written} of {self.requested} missing samples into {self.run} in {self.seconds:.1f} s "
            f"({rate:.1f} samples/s, {tok_rate:.0f} tokens/s)",
            f"tokens: {self.completion_tokens} generated, {self.prompt_tokens} prompt; finish reasons: {reasons}; "
            f"truncated at max_new_tokens: {self.truncated} ({pct:.1f}%)",
            f"run now holds {self.run_samples} samples, {self.run_truncated} of them truncated",
        ]
        if self.run_logprobs is not None:
            out.append(f"token log-probabilities stored for {self.run_logprobs} of {self.run_samples} samples")
        return out


def _model_id(model: str) -> str:
    """Absolute path for a local model directory (so a resume from another cwd matches), else as given."""
    p = Path(model).expanduser()
    return str(p.resolve()) if p.is_dir() else model


def _batches(missing: Sequence[tuple[str, int]], prompts: Mapping[str, str], run_seed: int,
             batch_size: int) -> Iterator[Batch]:
    """Group missing cells into batches of at most ``batch_size`` samples, a problem's cells together.

    Each batch's key is its list of cells, in the order of ``Batch.seeds`` flattened.
    """
    cells: list[tuple[str, int]] = []
    for cell in missing:
        cells.append(cell)
        if len(cells) == batch_size:
            yield _make_batch(cells, prompts, run_seed)
            cells = []
    if cells:
        yield _make_batch(cells, prompts, run_seed)


def _make_batch(cells: list[tuple[str, int]], prompts: Mapping[str, str], run_seed: int) -> Batch:
    order: list[str] = []
    by_pid: dict[str, list[tuple[str, int]]] = {}
    for pid, idx in cells:
        if pid not in by_pid:
            order.append(pid)
            by_pid[pid] = []
        by_pid[pid].append((pid, idx))
    key = tuple(c for pid in order for c in by_pid[pid])
    return Batch(key=key, prompts=tuple(prompts[pid] for pid in order),
                 seeds=tuple(tuple(sample_seed(run_seed, pid, i) for _, i in by_pid[pid]) for pid in order))


def build_manifest(config: SampleConfig, backend: Any, params: SamplingParams, dataset: Any,
                   options: Any) -> RunManifest:
    """The run's manifest (pain point 4: everything needed to reproduce the numbers)."""
    from rlbound import __version__

    opts = dataclasses.asdict(options) if dataclasses.is_dataclass(options) else {}
    extra: dict[str, Any] = {
        "config": config.to_dict(),
        "seed_derivation": SEED_DERIVATION,
        "backend_options": json.loads(json.dumps(opts, default=str)),
        "dataset_source": getattr(dataset, "source", ""),
    }
    if config.adaptive:
        from rlbound.adaptive_sampling import manifest_entry

        extra["adaptive"] = manifest_entry(config)
    info = getattr(backend, "describe", None)
    if callable(info):
        extra["backend_info"] = info()
    return RunManifest(
        model=_model_id(config.model), backend=config.backend, sampling=params.to_dict(),
        prompt_template=templates.describe(config.template, getattr(backend, "tokenizer", None)),
        dataset_name=dataset.name, dataset_hash=dataset.content_hash, created="", rlbound_version=__version__,
        extra=extra)


def _precheck_existing(config: SampleConfig, params: SamplingParams, dataset: Any) -> None:
    """Refuse an incompatible existing run before spending time on loading the model."""
    from rlbound.data.store import RunStore

    if not RunStore.is_run_dir(config.out):
        return
    old = RunStore.open(config.out).manifest
    checks = {
        "model": (old.model, _model_id(config.model)),
        "backend": (old.backend, config.backend),
        "dataset_hash": (old.dataset_hash, dataset.content_hash),
        "sampling": ({k: v for k, v in old.sampling.items() if k != "n"},
                     {k: v for k, v in params.to_dict().items() if k != "n"}),
        "prompt_template": (old.prompt_template.get("name"), templates.describe(config.template)["name"]),
    }
    for name, (a, b) in checks.items():
        if json.dumps(a, sort_keys=True) != json.dumps(b, sort_keys=True):
            raise InputError(f"run already exists with a different {name} (stored {json.dumps(a)[:120]}, "
                             f"given {json.dumps(b)[:120]}); use a new output directory",
                             path=config.out, field=name)


def run_sampling(config: SampleConfig, progress: bool = True) -> Any:
    """Sample every missing cell of the run ``config.out`` and return its ``RunStore``.

    See the module docstring. Prints the ``RunSummary`` to stderr when ``progress`` is set; the
    summary of every call is also appended to the run's side file ``sampling_summary.json``.
    With ``config.adaptive`` it runs the adaptive rounds (``rlbound.adaptive_sampling``) instead.
    """
    if config.adaptive:
        from rlbound.adaptive_sampling import sample_adaptive

        return sample_adaptive(config, progress=progress)[0]
    store, _ = sample(config, progress=progress)
    return store


def sample(config: SampleConfig, progress: bool = True, *, targets: Mapping[str, int] | None = None,
           backend: Any = None) -> tuple[Any, RunSummary]:
    """``run_sampling`` returning ``(RunStore, RunSummary)``.

    ``targets`` (adaptive rounds): sample each problem up to its own count ``targets[problem_id]``
    instead of up to ``config.n``. ``backend``: an open backend to use and leave open (default: one
    is opened for this call and closed at its end).
    """
    from tqdm.auto import tqdm

    from rlbound.backends.base import get_backend
    from rlbound.data import token_logprobs
    from rlbound.data.benchmarks import load_benchmark
    from rlbound.data.store import RunStore

    params = config.sampling_params()
    dataset = load_benchmark(config.benchmark, limit=config.limit, field_map=config.field_map_dict())
    _precheck_existing(config, params, dataset)
    options = backend_options(config)
    own_backend = backend is None
    if own_backend:
        backend = get_backend(config.backend, config.model, options)
    try:
        tok = getattr(backend, "tokenizer", None)
        prompts = {p.id: templates.render(config.template, p.prompt, tok) for p in dataset.problems}
        manifest = build_manifest(config, backend, params, dataset, options)
        store = RunStore.create(config.out, manifest, dataset.problems)
        missing = store.missing_cells(params.n if targets is None else targets)
        summary = RunSummary(run=str(config.out), requested=len(missing))
        reasons: Counter[str] = Counter()
        start = time.perf_counter()
        bar = tqdm(total=len(missing), unit="sample", desc="sampling", disable=not progress or not missing,
                   dynamic_ncols=True, file=sys.stderr)
        try:
            for batch, completions in stream(backend, _batches(missing, prompts, params.seed, config.batch_size),
                                             params):
                flat = [c for cs in completions for c in cs]
                if len(flat) != len(batch.key):
                    raise RuntimeError(f"backend returned {len(flat)} completions for {len(batch.key)} cells")
                seeds = [s for ss in batch.seeds for s in ss]
                samples = [Sample(problem_id=pid, sample_index=idx, seed=seed, text=c.text,
                                  finish_reason=c.finish_reason, prompt_tokens=c.prompt_tokens,
                                  completion_tokens=c.completion_tokens)
                           for (pid, idx), seed, c in zip(batch.key, seeds, flat)]
                if params.logprobs:  # before the samples part: every stored sample has its row
                    if any(c.logprobs is None for c in flat):
                        raise InputError(f"the {config.backend} backend returned no token log-probabilities",
                                         field="logprobs")
                    token_logprobs.write_shard(store, batch.key, [c.logprobs for c in flat])
                summary.written += store.add_samples(samples)
                summary.completion_tokens += sum(c.completion_tokens for c in flat)
                summary.prompt_tokens += sum(c.prompt_tokens for c in flat)
                reasons.update(c.finish_reason for c in flat)
                elapsed = time.perf_counter() - start
                bar.update(len(flat))
                bar.set_postfix(tok_s=f"{summary.completion_tokens / max(elapsed, 1e-9):.0f}",
                                trunc=reasons.get("length", 0), refresh=False)
        finally:
            bar.close()
        summary.seconds = time.perf_counter() - start
    finally:
        if own_backend:
            backend.close()
    summary.finish_reasons = dict(reasons)
    summary.truncated = reasons.get("length", 0)
    summary.run_logprobs = token_logprobs.consolidate(store)
    _run_totals(store, summary)
    _append_summary(store, summary)
    if progress:
        for line in summary.lines():
            print(line, file=sys.stderr)
    return store, summary


def _run_totals(store: Any, summary: RunSummary) -> None:
    import pyarrow.compute as pc

    t = store.sample_table()
    summary.run_samples = t.num_rows
    summary.run_truncated = int(pc.sum(pc.equal(t.column("finish_reason"), "length")).as_py() or 0)


def _append_summary(store: Any, summary: RunSummary) -> None:
    path = store.side_path(SUMMARY_FILE)
    try:
        history = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
        if not isinstance(history, list):
            history = []
    except (OSError, ValueError):
        history = []
    entry = dataclasses.asdict(summary)
    entry["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    history.append(entry)
    store.write_side_file(SUMMARY_FILE, json.dumps(history, indent=2).encode("utf-8"))
