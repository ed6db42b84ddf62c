"""Adaptive sampling in rounds: ``rlbound sample --adaptive --k 256 --ci 0.02``.

Uniform sampling draws ``n`` samples of every problem; most of them teach nothing (a problem solved
29 times in 32 has pass@256 = 1 whatever more samples say). In adaptive mode the sampler

1. draws a pilot of ``pilot`` samples per problem (the ordinary resumable loop of
   ``rlbound.sampling.loop.sample``, with a per-problem target instead of one ``n``);
2. grades the new samples (``rlbound.verify.runner.verify_run``);
3. asks ``rlbound.metrics.adaptive.round_allocation`` which problems get how many more samples: the
   ones whose estimate would shrink the 95% interval on mean pass@k (at each ``k``) most per sample,
   with a round budget of 25% of the samples so far and at most ``n`` samples per problem;
4. repeats 1-3 with the new targets until the predicted half-width is <= ``ci`` at every ``k``
   (scope "benchmark": these problems fixed, sampling noise only), or no problem can still help
   (every useful one is at ``n``).

State: the per-problem targets of the current round and the round history live in the run's side
file ``adaptive.json``; the samples and verdicts themselves are in the run store. A killed run is
resumed by rerunning the same command: it fills the current round's missing cells, grades what has
no verdict, and recomputes the (deterministic) allocation from the stored counts.

Estimator: data-dependent stopping biases the unbiased estimator of Chen et al. 2021, so an
adaptive run is read with the posterior mean of ``1 - (1-p)^k`` under the empirical-Bayes
Beta-mixture prior in every cell (``small_sample_pass_at_k(..., estimator="bayes")``; measured bias
in docs/statistics.md). The manifest's ``extra["adaptive"]`` records this, and ``rlbound report``
reads such runs with it and marks their curves.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from rlbound.errors import InputError
from rlbound.metrics.adaptive import Allocation, RoundPolicy, round_allocation
from rlbound.metrics.prior.refit import DEFAULT_BOOT
from rlbound.sampling.config import BATCH, ESTIMATOR, GROWTH, LEVEL, ROUND_FRACTION, SCOPE, STATE_FILE

if TYPE_CHECKING:
    from rlbound.data.store import RunStore
    from rlbound.sampling.config import SampleConfig
    from rlbound.types import Problem

# The rules of every round (``round_allocation``); bench/adaptive.py measures exactly these.
POLICY = RoundPolicy(round_fraction=ROUND_FRACTION, batch=BATCH, growth=GROWTH, scope=SCOPE, level=LEVEL,
                     estimator=ESTIMATOR, prior="eb", prior_boot=DEFAULT_BOOT)


@dataclass
class AdaptiveState:
    """What ``adaptive.json`` holds.

    Attributes:
        round: the round whose per-problem targets are ``targets`` (1 = the pilot).
        targets: problem id -> samples that problem should have by the end of the round.
        history: per finished round: round, samples, n_min, n_max, predicted half-width per k,
            samples and problems of the next round.
        done: no more rounds with this configuration (target met, or nothing can still help).
        met: the predicted half-width is <= ci at every k.
    """

    round: int
    targets: dict[str, int]
    history: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False
    met: bool = False

    def to_json(self) -> str:
        return json.dumps({"version": 1, **asdict(self)}, indent=1)


def read_state(store: RunStore) -> AdaptiveState | None:
    """The ``adaptive.json`` of a ``RunStore`` (None when there is none); InputError when malformed."""
    path = store.side_path(STATE_FILE)
    if not path.is_file():
        return None
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        return AdaptiveState(round=int(d["round"]), targets={str(k): int(v) for k, v in d["targets"].items()},
                             history=list(d["history"]), done=bool(d["done"]), met=bool(d["met"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise InputError(f"unreadable adaptive state ({e})", path=str(path)) from None


def _check_verifiers(config: SampleConfig, problems: list[Problem]) -> None:
    """Adaptive rounds grade samples as they go: every problem needs a known verifier."""
    from rlbound.verify.base import available

    known = available()
    names = {config.verifier} if config.verifier else {p.verifier for p in problems}
    bad = sorted(x for x in names if x not in known)
    if bad:
        how = "" if config.verifier else " of the benchmark's problems; pass --verifier"
        raise InputError(f"--adaptive grades samples between rounds, but verifier {bad[0]!r}{how} is unknown "
                         f"(known: {', '.join(known)})", field="verifier")


def next_round(state: AdaptiveState, ids: list[str], n: NDArray[np.int64], c: NDArray[np.int64],
               ks: tuple[int, ...], ci: float, n_max: int) -> tuple[AdaptiveState, Allocation]:
    """The state after round ``state.round`` ended with counts ``(ids, n, c)``, and its ``Allocation``.

    ``round_allocation`` under ``POLICY`` decides (pass@k of Chen et al. 2021; empirical-Bayes prior
    refitted to (n, c), with the spread of 20 refits to resampled problems in the predicted width
    (Laird & Louis 1987, ``prior.refit``; seeded, so a resumed run recomputes the same decision),
    estimator "bayes", scope "benchmark", budget ``max(25% of the samples so far, P)``, step
    ``max(16, n_i/2)``, cap ``n_max``). Stop condition: the predicted half-width is <= ``ci``
    at every k (``met``), or no problem gets more samples (every useful one is at ``n_max``): then
    ``done`` and the targets stay. Else the next round's targets are ``n + extra``. The history entry
    of a round replaces an earlier one of the same round, so recomputing after a resume adds nothing.
    """
    total = int(n.sum())
    alloc = round_allocation(n, c, ks, ci, n_max=n_max, policy=POLICY)
    entry = {"round": state.round, "samples": total, "n_min": int(n.min()), "n_max": int(n.max()), "k": list(ks),
             "halfwidth": [float(h) for h in alloc.halfwidth], "next_samples": int(alloc.extra.sum()),
             "next_problems": int((alloc.extra > 0).sum())}
    history = [h for h in state.history if h.get("round") != state.round] + [entry]
    if alloc.done or entry["next_samples"] == 0:
        return AdaptiveState(state.round, state.targets, history, done=True, met=bool(alloc.done)), alloc
    targets = {pid: int(ni + ei) for pid, ni, ei in zip(ids, n, alloc.extra)}
    return AdaptiveState(state.round + 1, targets, history), alloc


def sample_adaptive(config: SampleConfig, progress: bool = True) -> tuple[RunStore, AdaptiveState]:
    """Run (or resume) the adaptive rounds of ``config`` (``adaptive`` set).

    Returns the ``RunStore`` (every sample verified) and the final ``AdaptiveState``. The backend
    is loaded once for all rounds; each round's decision is ``next_round``.
    """
    from rlbound.backends.protocol import get_backend
    from rlbound.data.benchmarks import load_benchmark
    from rlbound.data.store import RunStore
    from rlbound.sampling.config import backend_options
    from rlbound.sampling.loop import check_existing_run, sample
    from rlbound.verify.runner import verify_run
    if not config.adaptive:
        raise InputError("sample_adaptive needs a config with adaptive = true", field="adaptive")
    dataset = load_benchmark(config.benchmark, limit=config.limit, field_map=config.field_map_dict())
    check_existing_run(config, config.sampling_params(), dataset)
    _check_verifiers(config, dataset.problems)
    state = read_state(RunStore.open(config.out)) if RunStore.is_run_dir(config.out) else None
    if state is None:
        state = AdaptiveState(round=1, targets={p.id: config.pilot for p in dataset.problems})
    backend = get_backend(config.backend, config.model, backend_options(config))
    try:
        while True:
            store, _ = sample(config, progress=progress, targets=state.targets, backend=backend)
            verify_run(store, verifier=config.verifier or None, workers=config.verify_workers, progress=progress)
            ids, n, c = store.counts()
            state, alloc = next_round(state, ids, n, c, config.k, config.ci, config.n)
            store.write_side_file(STATE_FILE, state.to_json().encode("utf-8"))
            if progress:
                entry = state.history[-1]
                hw = ", ".join(f"k={k}: +-{h:.4f}" for k, h in zip(config.k, alloc.halfwidth))
                tail = (f"next: {entry['next_samples']} samples for {entry['next_problems']} problems"
                        if not state.done else "target met" if state.met
                        else f"stopped: no problem below n={config.n} can still help")
                print(f"adaptive round {entry['round']}: {entry['samples']} samples, n per problem "
                      f"{entry['n_min']}..{entry['n_max']}; predicted 95% half-width {hw} (target {config.ci:g}); "
                      f"{tail}", file=sys.stderr)
            if state.done:
                return store, state
    finally:
        backend.close()
