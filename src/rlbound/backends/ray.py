"""Data-parallel sampling over a Ray cluster: one backend replica per actor, one run store.

Each replica is a Ray actor holding a full backend (``hf`` on CPUs/GPUs, or ``vllm`` on GPUs).
The driver (the process running ``rlbound sample``) keeps up to ``max_in_flight`` batches queued on
every replica, receives each batch's completions as soon as that replica finishes it, and writes
them to the run store itself -- so there is exactly one writer, one manifest and one resumable run
however many machines sample (user pain point 10). Samples keep their per-cell seeds, so which
replica draws a cell does not change its text for the hf backend (pain point 5).

    ray start --head                      # on the head node; `ray start --address=HEAD:6379` on the others
    rlbound sample --backend ray --ray-address auto --replica-backend vllm --gpus-per-replica 1 ...

See docs/backends.md for multi-node GPU use with vLLM replicas.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from rlbound.backends.protocol import Backend, Batch, Completion, SamplingParams, check_seeds
from rlbound.errors import InputError


@dataclass(frozen=True)
class RayOptions:
    """Options of the ``ray`` backend.

    Attributes:
        backend: the backend every replica runs ("hf" or "vllm").
        backend_options: that backend's options dataclass (HFOptions / VLLMOptions); None: defaults.
        replicas: number of replicas (actors); 0 = as many as the cluster's GPUs (or CPUs) allow.
        address: Ray cluster to join ("auto", "ray://host:10001", ...); None starts a local instance.
        gpus_per_replica: GPUs reserved per replica (vLLM with tensor parallelism t needs t).
        cpus_per_replica: CPUs reserved per replica (an hf replica on CPU uses this many threads).
        max_in_flight: batches queued per replica, so none idles while the driver writes.
        num_cpus: CPUs of a local instance started here (None: all).
        start_timeout_s: how long to wait for all replicas to be placed and loaded (an autoscaling
            cluster may need to add nodes first).
    """

    backend: str = "hf"
    backend_options: Any = None
    replicas: int = 0
    address: str | None = None
    gpus_per_replica: float = 0.0
    cpus_per_replica: float = 1.0
    max_in_flight: int = 2
    num_cpus: int | None = None
    start_timeout_s: float = 900.0


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise InputError("the ray backend needs Ray: pip install 'rlbound[ray]' (ray==2.60.0)",
                         field="backend") from None
    return ray


class _Replica:
    """Actor body: one backend instance."""

    def __init__(self, backend: str, model: str, options: Any) -> None:
        from rlbound.backends.protocol import get_backend
        # Errors are kept and reported by ready(): a Ray ActorDiedError would lose the InputError.
        self.error: tuple[Any, ...] | None = None
        try:
            self.backend = get_backend(backend, model, options)
        except InputError as e:
            self.error = ("input", e.message, e.path, e.line, e.field)
        except Exception as e:  # noqa: BLE001
            self.error = ("other", f"{type(e).__name__}: {e}")

    def ready(self) -> tuple[Any, ...] | None:
        return self.error

    def generate(self, prompts: list[str], params: SamplingParams, seeds: list[list[int]]) -> list[list[Completion]]:
        return self.backend.generate(prompts, params, seeds)

    def score(self, prompts: list[str], continuations: list[str]) -> list[Any]:
        return self.backend.score(prompts, continuations)

    def close(self) -> None:
        self.backend.close()


def _unwrap(ray: Any, err: BaseException) -> BaseException:
    """The user-facing error inside a Ray task/actor error (InputError keeps its one-line message)."""
    cause = getattr(err, "cause", None)
    if cause is None and getattr(err, "__cause__", None) is not None:
        cause = err.__cause__
    if isinstance(cause, InputError):
        return InputError(cause.message, path=cause.path, line=cause.line, field=cause.field)
    if isinstance(cause, BaseException):
        return cause
    return err


class RayBackend(Backend):
    """Backend replicas on Ray actors; see the module docstring."""

    name = "ray"

    def __init__(self, model: str, options: RayOptions | None = None) -> None:
        self.options = o = options or RayOptions()
        if o.backend not in ("hf", "vllm"):
            raise InputError(f"ray replicas run the hf or vllm backend, not {o.backend!r}", field="replica_backend")
        if o.max_in_flight <= 0:
            raise InputError("max_in_flight must be positive", field="max_in_flight")
        self.model = model
        self.ray = ray = _import_ray()
        self._started_ray = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
            if o.address:
                kwargs["address"] = o.address
            elif o.num_cpus is not None:
                kwargs["num_cpus"] = o.num_cpus
            try:
                ray.init(**kwargs)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise InputError(f"cannot start or join Ray at {o.address or 'a local instance'}: {e}",
                                 field="ray_address") from None
            self._started_ray = True
        inner = o.backend_options
        if inner is None:
            from rlbound.backends.protocol import options_class
            inner = options_class(o.backend)()
        if o.backend == "hf" and getattr(inner, "threads", 1) is None and o.gpus_per_replica == 0:
            inner = dataclasses.replace(inner, threads=max(1, int(o.cpus_per_replica)))
        self.inner_options = inner
        n = o.replicas or self._auto_replicas()
        self._check_resources(n)
        actor_cls = ray.remote(_Replica).options(num_cpus=o.cpus_per_replica, num_gpus=o.gpus_per_replica)
        self.actors = [actor_cls.remote(o.backend, model, inner) for _ in range(n)]
        try:
            errors = [e for e in ray.get([a.ready.remote() for a in self.actors], timeout=o.start_timeout_s)
                      if e is not None]
        except ray.exceptions.GetTimeoutError:
            self.close()
            raise InputError(f"{n} {o.backend} replicas were not all running after {o.start_timeout_s:.0f} s "
                             f"(each needs {o.cpus_per_replica} CPUs and {o.gpus_per_replica} GPUs)",
                             field="replicas") from None
        except Exception as e:  # noqa: BLE001 - the actor process itself died
            self.close()
            raise InputError(f"a {o.backend} replica failed to start: {type(e).__name__}", field="backend") from None
        if errors:  # construction failed (bad model path, no GPU, ...): same one-line error as locally
            self.close()
            err = errors[0]
            if err[0] == "input":
                raise InputError(err[1], path=err[2], line=err[3], field=err[4])
            raise InputError(f"a {o.backend} replica failed to start: {err[1]}", field="backend")
        self.tokenizer = self._driver_tokenizer()

    def _auto_replicas(self) -> int:
        res = self.ray.cluster_resources()
        o = self.options
        if o.gpus_per_replica > 0:
            n = int(res.get("GPU", 0) // o.gpus_per_replica)
            if n == 0:
                raise InputError(f"the Ray cluster has {res.get('GPU', 0)} GPUs; a replica needs {o.gpus_per_replica}",
                                 field="gpus_per_replica")
            return n
        return max(1, int(res.get("CPU", 1) // max(o.cpus_per_replica, 1e-9)))

    def _check_resources(self, n: int) -> None:
        """Refuse replicas the cluster can never hold; warn when they must wait for free resources."""
        import sys

        o = self.options
        total, free = self.ray.cluster_resources(), self.ray.available_resources()
        for key, per in (("CPU", o.cpus_per_replica), ("GPU", o.gpus_per_replica)):
            need = n * per
            if need <= 0:
                continue
            if need > total.get(key, 0) + 1e-9:
                raise InputError(f"{n} replicas need {need:g} {key}s but the Ray cluster has {total.get(key, 0):g}",
                                 field="replicas")
            if need > free.get(key, 0) + 1e-9:
                print(f"rlbound: waiting for {need:g} free {key}s in the Ray cluster ({free.get(key, 0):g} free now)",
                      file=sys.stderr)

    def _driver_tokenizer(self) -> Any:
        """The model's tokenizer on the driver, for chat templates (None when not loadable here)."""
        try:
            from transformers import AutoTokenizer

            return AutoTokenizer.from_pretrained(self.model, local_files_only=True)
        except Exception:  # noqa: BLE001 - optional: only the 'chat' template needs it
            return None

    @property
    def replicas(self) -> int:
        return len(self.actors)

    def _get(self, refs: Any) -> Any:
        try:
            return self.ray.get(refs)
        except Exception as e:  # noqa: BLE001
            err = _unwrap(self.ray, e)
            raise err from None

    def generate(self, prompts: Sequence[str], params: SamplingParams,
                 seeds: Sequence[Sequence[int]]) -> list[list[Completion]]:
        """Prompts split into contiguous shards, one per replica; results in input order."""
        check_seeds(prompts, seeds)
        shards = _shard(len(prompts), len(self.actors))
        refs = [a.generate.remote([prompts[i] for i in idx], params, [list(seeds[i]) for i in idx])
                for a, idx in zip(self.actors, shards) if idx]
        out: list[list[Completion]] = []
        for part in self._get(refs):
            out.extend(part)
        return out

    def generate_stream(self, batches: Iterable[Batch],
                        params: SamplingParams) -> Iterator[tuple[Batch, list[list[Completion]]]]:
        """Keep ``max_in_flight`` batches on every replica; yield each batch as it completes."""
        it = iter(batches)
        pending: dict[Any, tuple[Batch, int]] = {}  # object ref -> (batch, actor index)
        load = [0] * len(self.actors)

        def submit(actor: int) -> bool:
            b = next(it, None)
            if b is None:
                return False
            ref = self.actors[actor].generate.remote(list(b.prompts), params, [list(s) for s in b.seeds])
            pending[ref] = (b, actor)
            load[actor] += 1
            return True

        for _ in range(self.options.max_in_flight):
            for a in range(len(self.actors)):
                submit(a)
        while pending:
            done, _ = self.ray.wait(list(pending), num_returns=1)
            ref = done[0]
            batch, actor = pending.pop(ref)
            load[actor] -= 1
            result = self._get(ref)
            submit(actor)
            yield batch, result

    def score(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[Any]:
        if len(prompts) != len(continuations):
            raise ValueError(f"got {len(prompts)} prompts but {len(continuations)} continuations")
        shards = _shard(len(prompts), len(self.actors))
        refs = [a.score.remote([prompts[i] for i in idx], [continuations[i] for i in idx])
                for a, idx in zip(self.actors, shards) if idx]
        out: list[Any] = []
        for part in self._get(refs):
            out.extend(part)
        return out

    def describe(self) -> dict[str, Any]:
        return {"replicas": len(self.actors), "replica_backend": self.options.backend,
                "ray_address": self.options.address}

    def close(self) -> None:
        for a in getattr(self, "actors", []):
            try:
                self.ray.kill(a)
            except Exception:  # noqa: BLE001 - best effort
                pass
        self.actors = []
        if self._started_ray:
            self.ray.shutdown()
            self._started_ray = False


def _shard(n: int, parts: int) -> list[list[int]]:
    """Indices 0..n-1 split into ``parts`` contiguous, near-equal shards."""
    size, extra = divmod(n, parts)
    out, start = [], 0
    for p in range(parts):
        end = start + size + (1 if p < extra else 0)
        out.append(list(range(start, end)))
        start = end
    return out
