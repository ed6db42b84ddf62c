"""The config of a models x benchmarks grid (``rlbound study --config study.toml``), read from TOML.

The grid is the main result of Yue et al. 2025 (arXiv 2504.13837): base models, their RL-trained
and distilled versions, and six math benchmarks, each cell sampled n times and graded. One file
names every part (docs/grid.md has the full key list)::

    seed = 0
    data_dir = "../shared/benchmarks"     # where benchmark names resolve (default $RLBOUND_DATA_DIR)

    [[models]]
    name = "qwen"; backend = "vllm"; path = "Qwen/Qwen2.5-7B"; role = "base"; template = "boxed"
    options = { tensor_parallel_size = 1, dtype = "bfloat16" }

    [[benchmarks]]
    name = "math500"; file = "math500"; n = 256; temperature = 0.6; top_p = 0.95; max_tokens = 4096

    [[comparisons]]                       # default: every rl / distilled model against the base
    base = "qwen"; other = "simplerl-zoo"

    [[perplexity]]                        # whose responses are scored under which model
    responses = ["qwen", "simplerl-zoo"]; under = "qwen"

Relative paths (files, model folders, ``data_dir``) are read relative to the config file's folder.
Every error is one ``InputError`` naming the file and the key (``models[2].backend``).
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlbound.errors import InputError

ROLES = ("base", "rl", "distilled")
SANDBOX = "sandbox"  # the built-in backend: a sandbox checkpoint on the hf backend, raw template, CPU
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
_MISSING = object()


def _backends() -> list[str]:
    from rlbound.backends.protocol import available

    return sorted(set(available()) | {SANDBOX})


def _model_options() -> set[str]:
    """Keys of a model's ``options`` table: the ``SampleConfig`` fields that carry backend options."""
    from rlbound.sampling.config import carried_options

    return set(carried_options())


class _Keys:
    """One TOML table being read: typed ``get`` per key, then ``done`` refuses the keys left over."""

    def __init__(self, raw: Any, where: str, path: str | None) -> None:
        if not isinstance(raw, Mapping):
            raise InputError(f"must be a table, got {type(raw).__name__}", path=path, field=where or None)
        self.raw = {str(k).replace("-", "_"): v for k, v in raw.items()}
        self.where, self.path = where, path

    def key(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def error(self, name: str, message: str) -> InputError:
        return InputError(message, path=self.path, field=self.key(name))

    def get(self, name: str, kind: Any, default: Any = _MISSING) -> Any:
        if name not in self.raw:
            if default is _MISSING:
                raise self.error(name, "missing required key")
            return default
        val = self.raw.pop(name)
        ok = {float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
              int: lambda v: isinstance(v, int) and not isinstance(v, bool),
              "strs": lambda v: isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v)),
              "ints": lambda v: isinstance(v, int) and not isinstance(v, bool) or (
                  isinstance(v, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in v)),
              "table": lambda v: isinstance(v, Mapping)}.get(kind, lambda v: isinstance(v, kind))
        if not ok(val):
            want = {"strs": "a list of strings", "ints": "a list of integers", "table": "a table"}.get(
                kind, getattr(kind, "__name__", str(kind)))
            raise self.error(name, f"must be {want}, got {type(val).__name__} {val!r}")
        if kind == "strs":
            return tuple(x for x in (val.split(",") if isinstance(val, str) else val) if x)
        if kind == "ints":
            return tuple(val) if isinstance(val, list) else (val,)
        return float(val) if kind is float else val

    def done(self) -> None:
        if self.raw:
            name = sorted(self.raw)[0]
            raise self.error(name, "unknown key")


@dataclass(frozen=True)
class ModelSpec:
    """One model of the grid.

    Attributes:
        name: the model's label (folder name of its runs, label in the report).
        backend: hf, vllm, openai, ray, or sandbox (a sandbox checkpoint on the hf backend).
        path: model folder or hub id (hf, vllm, sandbox: also a shipped checkpoint name such as
            ``tiny``), or the served model name (openai).
        role: base, rl or distilled (default comparisons: every rl / distilled model vs the base).
        template: prompt template (default: raw for sandbox, else boxed, the paper's prompt).
        benchmarks: the benchmarks this model runs on (default: all).
        throughput: completion tokens per second, for the ``--dry-run`` time estimate.
        options: backend options, ``SampleConfig`` keys (device, dtype, base_url, batch_size, ...).
    """

    name: str
    backend: str
    path: str
    role: str = "rl"
    template: str = "boxed"
    benchmarks: tuple[str, ...] = ()
    throughput: float | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def sample_backend(self) -> str:
        """The backend that samples it (sandbox models run on hf)."""
        return "hf" if self.backend == SANDBOX else self.backend


@dataclass(frozen=True)
class AdaptiveSpec:
    """Adaptive sampling of a benchmark's cells (``SampleConfig.adaptive``, docs/statistics.md sec. 6).

    Attributes:
        k: the k values whose pass@k interval is targeted.
        ci: target half-width of the 95% interval.
        pilot: samples per problem in the first round (n is the most per problem).
    """

    k: tuple[int, ...]
    ci: float
    pilot: int = 32


@dataclass(frozen=True)
class BenchmarkSpec:
    """One benchmark of the grid and how its cells are sampled.

    Attributes:
        name: the benchmark's label (folder name of its runs).
        file: benchmark file, folder, name (under ``data_dir``) or HF dataset id; "" with ``sandbox``.
        sandbox: built-in sandbox problems instead of a file: preset, count, seed, difficulty.
        field_map: column names of a file of another layout (key=column: id, prompt, reference).
        limit: only the first LIMIT problems.
        verifier: grader of every sample ("" : each problem's own: math for benchmark files).
        n: samples per problem; temperature, top_p, max_tokens, stop: sampling settings.
        seed: run seed of its cells (default: the grid's).
        logprobs: store the sampled tokens' log-probabilities (entropy analysis).
        mean_tokens: expected completion tokens per sample (the dry-run's estimate; default: measured
            in this grid's finished cells, else ``max_tokens`` as an upper bound).
        adaptive: sample its cells adaptively (None: n samples per problem).
    """

    name: str
    file: str = ""
    sandbox: Mapping[str, Any] | None = None
    field_map: tuple[str, ...] = ()
    limit: int | None = None
    verifier: str = ""
    n: int = 16
    temperature: float = 0.6
    top_p: float = 0.95
    max_tokens: int = 1024
    stop: tuple[str, ...] = ()
    seed: int = 0
    logprobs: bool = False
    mean_tokens: float | None = None
    adaptive: AdaptiveSpec | None = None


@dataclass(frozen=True)
class Comparison:
    """``other`` against ``base`` on ``benchmarks`` (default: every benchmark both run on)."""

    base: str
    other: str
    benchmarks: tuple[str, ...] = ()


@dataclass(frozen=True)
class PerplexitySpec:
    """Score the responses of the ``responses`` models under the model ``under`` (Yue et al. 2025,
    Sec. 4.1: RL responses under the base model), on ``benchmarks`` (default: all)."""

    responses: tuple[str, ...]
    under: str
    benchmarks: tuple[str, ...] = ()


@dataclass(frozen=True)
class GridSpec:
    """A whole grid: its models, benchmarks, comparisons and optional stages.

    Attributes:
        models, benchmarks, comparisons, perplexity: the parts (see each class).
        seed: run seed (each benchmark may set its own).
        data_dir: where benchmark names resolve (None: ``$RLBOUND_DATA_DIR``).
        verify_workers: grading processes (None: all cores; sandbox problems are graded in-process).
        source: the config file.
    """

    models: tuple[ModelSpec, ...]
    benchmarks: tuple[BenchmarkSpec, ...]
    comparisons: tuple[Comparison, ...]
    perplexity: tuple[PerplexitySpec, ...] = ()
    seed: int = 0
    data_dir: str | None = None
    verify_workers: int | None = None
    source: str = ""

    def model(self, name: str) -> ModelSpec:
        return next(m for m in self.models if m.name == name)

    def benchmark(self, name: str) -> BenchmarkSpec:
        return next(b for b in self.benchmarks if b.name == name)

    def cells(self) -> list[tuple[ModelSpec, BenchmarkSpec]]:
        """Every (model, benchmark) cell, model-major (one model's cells share its loaded backend)."""
        return [(m, b) for m in self.models for b in self.benchmarks if not m.benchmarks or b.name in m.benchmarks]

    def pairs(self) -> list[tuple[Comparison, BenchmarkSpec]]:
        """Every (comparison, benchmark) the findings judge: the benchmarks both models run on."""
        runs = {(m.name, b.name) for m, b in self.cells()}
        return [(c, b) for c in self.comparisons for b in self.benchmarks
                if (not c.benchmarks or b.name in c.benchmarks)
                and (c.base, b.name) in runs and (c.other, b.name) in runs]

    def scorer_of(self, model: str, benchmark: str) -> str | None:
        """The model the responses of cell (model, benchmark) are scored under, if any."""
        for p in self.perplexity:
            if model in p.responses and (not p.benchmarks or benchmark in p.benchmarks):
                return p.under
        return None


# ---- reading --------------------------------------------------------------------------------


def _local(value: str, root: Path) -> str:
    """``value`` resolved against the config's folder when that names an existing path, else as given."""
    p = Path(value).expanduser()
    if not p.is_absolute() and (root / p).exists():
        return str((root / p).resolve())
    return str(p.resolve()) if p.exists() else value


def _name(keys: _Keys, seen: set[str], what: str) -> str:
    name = keys.get("name", str)
    if not _NAME.match(name):
        raise keys.error("name", f"{what} names are letters, digits, '.', '_' or '-' (at most 80), got {name!r}")
    if name in seen:
        raise keys.error("name", f"duplicate {what} name {name!r}")
    seen.add(name)
    return name


def _read_model(raw: Any, i: int, path: str | None, root: Path, seen: set[str]) -> ModelSpec:
    k = _Keys(raw, f"models[{i}]", path)
    name = _name(k, seen, "model")
    backend = k.get("backend", str)
    if backend not in _backends():
        raise k.error("backend", f"unknown backend {backend!r}; use one of {', '.join(_backends())}")
    role = k.get("role", str, "rl")
    if role not in ROLES:
        raise k.error("role", f"role must be one of {', '.join(ROLES)}, got {role!r}")
    model_path = k.get("path", str, _MISSING if backend != "openai" else name)
    options = dict(k.get("options", "table", {}))
    if "base_url" in k.raw:
        options["base_url"] = k.get("base_url", str)
    unknown = sorted(set(options) - _model_options())
    if unknown:
        raise k.error(f"options.{unknown[0]}", f"unknown backend option; known: {', '.join(sorted(_model_options()))}")
    if backend == "openai" and not options.get("base_url"):
        raise k.error("base_url", "an openai model needs base_url (e.g. http://127.0.0.1:8000/v1)")
    if backend == SANDBOX:
        options.setdefault("device", "cpu")
        model_path = _sandbox_model(model_path, root)
    elif backend != "openai":
        model_path = _local(model_path, root)
    throughput = k.get("throughput", float, None)
    if throughput is not None and throughput <= 0:
        raise k.error("throughput", f"throughput is tokens per second and must be > 0, got {throughput}")
    spec = ModelSpec(name=name, backend=backend, path=model_path, role=role,
                     template=k.get("template", str, "raw" if backend == SANDBOX else "boxed"),
                     benchmarks=k.get("benchmarks", "strs", ()), throughput=throughput, options=options)
    k.done()
    return spec


def _sandbox_model(value: str, root: Path) -> str:
    """A sandbox model: a folder (relative to the config) or a shipped checkpoint name (``tiny``)."""
    from rlbound.study.run import shipped_checkpoint

    local = _local(value, root)
    if Path(local).is_dir():
        return local
    shipped = shipped_checkpoint(value) if _NAME.match(value) else None
    return str(shipped) if shipped is not None else value


def _read_adaptive(raw: Any, where: str, path: str | None) -> AdaptiveSpec:
    k = _Keys(raw, where, path)
    spec = AdaptiveSpec(k=k.get("k", "ints"), ci=k.get("ci", float), pilot=k.get("pilot", int, 32))
    k.done()
    return spec


def _read_benchmark(raw: Any, i: int, path: str | None, root: Path, seen: set[str], seed: int) -> BenchmarkSpec:
    k = _Keys(raw, f"benchmarks[{i}]", path)
    name = _name(k, seen, "benchmark")
    file = k.get("file", str, "")
    sandbox = k.get("sandbox", "table", None)
    if bool(file) == (sandbox is not None):
        raise k.error("file", "give a file (or benchmark name) or a sandbox table, not both or neither")
    if sandbox is not None:
        sandbox = _read_sandbox(sandbox, k.key("sandbox"), path)
    field_map = k.get("field_map", "table", {})
    if any(not isinstance(v, str) for v in field_map.values()):
        raise k.error("field_map", "field_map maps keys (id, prompt, reference) to column names (strings)")
    adaptive = k.get("adaptive", "table", None)
    spec = BenchmarkSpec(
        name=name, file=_local(file, root) if file else "", sandbox=sandbox,
        field_map=tuple(f"{a}={b}" for a, b in field_map.items()), limit=k.get("limit", int, None),
        verifier=k.get("verifier", str, ""), n=k.get("n", int, 16), temperature=k.get("temperature", float, 0.6),
        top_p=k.get("top_p", float, 0.95), max_tokens=k.get("max_tokens", int, 1024), stop=k.get("stop", "strs", ()),
        seed=k.get("seed", int, seed), logprobs=k.get("logprobs", bool, False),
        mean_tokens=k.get("mean_tokens", float, None),
        adaptive=None if adaptive is None else _read_adaptive(adaptive, k.key("adaptive"), path))
    k.done()
    for key, val in (("n", spec.n), ("max_tokens", spec.max_tokens), ("limit", spec.limit)):
        if val is not None and val < 1:
            raise k.error(key, f"{key} must be >= 1, got {val}")
    return spec


def _read_sandbox(raw: Any, where: str, path: str | None) -> dict[str, Any]:
    """The ``sandbox`` table of a benchmark: problems of a pretraining preset's task (test split)."""
    k = _Keys(raw, where, path)
    out = {"preset": k.get("preset", str, "tiny"), "count": k.get("count", int, 50), "seed": k.get("seed", int, 0),
           "difficulty": k.get("difficulty", str, "")}
    k.done()
    if out["count"] < 1:
        raise k.error("count", f"count must be >= 1, got {out['count']}")
    return out


def _read_pairs(raw: Any, path: str | None, names: set[str], benches: set[str]) -> tuple[Comparison, ...]:
    out = []
    for i, item in enumerate(raw):
        k = _Keys(item, f"comparisons[{i}]", path)
        c = Comparison(base=k.get("base", str), other=k.get("other", str), benchmarks=k.get("benchmarks", "strs", ()))
        k.done()
        for key, val in (("base", c.base), ("other", c.other)):
            if val not in names:
                raise k.error(key, f"no model named {val!r}")
        if c.base == c.other:
            raise k.error("other", "a model compared with itself")
        _check_names(k, "benchmarks", c.benchmarks, benches, "benchmark")
        out.append(c)
    return tuple(out)


def _check_names(k: _Keys, key: str, given: Sequence[str], known: set[str], what: str) -> None:
    for name in given:
        if name not in known:
            raise k.error(key, f"no {what} named {name!r}")


def _read_perplexity(raw: Any, path: str | None, names: set[str], benches: set[str]) -> tuple[PerplexitySpec, ...]:
    out = []
    for i, item in enumerate(raw):
        k = _Keys(item, f"perplexity[{i}]", path)
        p = PerplexitySpec(responses=k.get("responses", "strs"), under=k.get("under", str),
                           benchmarks=k.get("benchmarks", "strs", ()))
        k.done()
        _check_names(k, "responses", p.responses, names, "model")
        _check_names(k, "under", [p.under], names, "model")
        _check_names(k, "benchmarks", p.benchmarks, benches, "benchmark")
        out.append(p)
    return tuple(out)


def _default_comparisons(models: Sequence[ModelSpec], path: str | None) -> tuple[Comparison, ...]:
    bases = [m for m in models if m.role == "base"]
    others = [m for m in models if m.role != "base"]
    if not others:
        return ()
    if len(bases) != 1:
        raise InputError(f"without [[comparisons]] the grid needs exactly one model with role 'base', found "
                         f"{len(bases)}; list the pairs in [[comparisons]]", path=path, field="comparisons")
    return tuple(Comparison(base=bases[0].name, other=m.name) for m in others)


def _check_scorers(spec: GridSpec) -> None:
    """Each cell's responses are scored under one model at most (one perplexity file per run)."""
    for m, b in spec.cells():
        under = {p.under for p in spec.perplexity
                 if m.name in p.responses and (not p.benchmarks or b.name in p.benchmarks)}
        if len(under) > 1:
            raise InputError(f"the responses of {m.name} on {b.name} are scored under {len(under)} models "
                             f"({', '.join(sorted(under))}); a run holds one perplexity file, give one",
                             path=spec.source or None, field="perplexity")


def parse_grid(raw: Mapping[str, Any], path: str | None = None, root: Path | None = None) -> GridSpec:
    """A ``GridSpec`` from a parsed TOML document (``path``: its file, for messages; ``root``: the
    folder relative paths are read against)."""
    root = root or Path.cwd()
    top = _Keys(raw, "", path)
    seed = top.get("seed", int, 0)
    data_dir = top.get("data_dir", str, None)
    names: set[str] = set()
    benches: set[str] = set()
    models = tuple(_read_model(m, i, path, root, names) for i, m in enumerate(top.get("models", list)))
    benchmarks = tuple(_read_benchmark(b, i, path, root, benches, seed)
                       for i, b in enumerate(top.get("benchmarks", list)))
    if not models or not benchmarks:
        raise InputError("a grid needs at least one [[models]] and one [[benchmarks]] entry", path=path)
    for i, m in enumerate(models):
        _check_names(_Keys({}, f"models[{i}]", path), "benchmarks", m.benchmarks, benches, "benchmark")
    comparisons = top.get("comparisons", list, None)
    spec = GridSpec(
        models=models, benchmarks=benchmarks,
        comparisons=(_default_comparisons(models, path) if comparisons is None
                     else _read_pairs(comparisons, path, names, benches)),
        perplexity=_read_perplexity(top.get("perplexity", list, []), path, names, benches), seed=seed,
        data_dir=None if data_dir is None else _local(data_dir, root),
        verify_workers=top.get("verify_workers", int, None), source=path or "")
    top.done()
    _check_scorers(spec)
    return spec


def load_grid(path: str | Path) -> GridSpec:
    """Read a grid config file (TOML); InputError naming the file (and key) when it is malformed."""
    p = Path(path).expanduser()
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("config file not found", path=str(p)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"not valid TOML: {e}", path=str(p)) from None
    return parse_grid(raw, str(p), p.resolve().parent)


# ---- command-line overrides -----------------------------------------------------------------

BENCHMARK_OVERRIDES = ("n", "temperature", "top_p", "max_tokens", "limit", "seed")


def with_overrides(spec: GridSpec, *, models: Sequence[str] = (), benchmarks: Sequence[str] = (),
                   data_dir: str | None = None, device: str | None = None,
                   verify_workers: int | None = None, **sampling: Any) -> GridSpec:
    """``spec`` with command-line overrides on top (None / empty: not given): only the ``models`` /
    ``benchmarks`` named; ``sampling`` keys of ``BENCHMARK_OVERRIDES`` set on every benchmark;
    ``device`` on every hf and sandbox model; ``data_dir`` and ``verify_workers`` of the grid."""
    unknown = sorted(set(sampling) - set(BENCHMARK_OVERRIDES))
    if unknown:
        raise InputError(f"unknown grid override {unknown[0]!r}", field=unknown[0])
    for given, known, what in ((models, [m.name for m in spec.models], "model"),
                               (benchmarks, [b.name for b in spec.benchmarks], "benchmark")):
        for name in given:
            if name not in known:
                raise InputError(f"no {what} named {name!r} in the config (known: {', '.join(known)})",
                                 path=spec.source or None, field=f"{what}s")
    set_b = {k: v for k, v in sampling.items() if v is not None}
    for key in ("n", "max_tokens", "limit"):
        if key in set_b and set_b[key] < 1:
            raise InputError(f"--{key.replace('_', '-')} must be >= 1, got {set_b[key]}", field=key)
    ms = tuple(dataclasses.replace(m, options={**m.options, "device": device})
               if device is not None and m.sample_backend == "hf" else m
               for m in spec.models if not models or m.name in models)
    bs = tuple(dataclasses.replace(b, **set_b) for b in spec.benchmarks if not benchmarks or b.name in benchmarks)
    kept = {m.name for m in ms}
    comparisons = tuple(c for c in spec.comparisons if c.base in kept and c.other in kept)
    perplexity = tuple(dataclasses.replace(p, responses=tuple(r for r in p.responses if r in kept))
                       for p in spec.perplexity if p.under in kept)
    return dataclasses.replace(spec, models=ms, benchmarks=bs, comparisons=comparisons,
                               perplexity=tuple(p for p in perplexity if p.responses),
                               data_dir=data_dir if data_dir is not None else spec.data_dir,
                               verify_workers=verify_workers if verify_workers is not None else spec.verify_workers)
