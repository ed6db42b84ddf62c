"""Perplexity of a run's responses under another model (Yue et al. 2025, Sec. 4.1 / Fig. 6).

The paper scores the RL model's responses under the *base* model: if RL only sharpens the base
model's distribution, its responses sit in the low-perplexity part of the base model's own
distribution. ``score_run`` writes ``perplexity.parquet`` into the run directory through the run
store (``rlbound.data.store.write_perplexity``, which owns the file), one row per response:
problem_id, sample_index, scorer, n_tokens, sum_logprob, perplexity (= exp(-sum_logprob / n_tokens)).
The prompt each response is scored after is rebuilt from the run's manifest (the same template the
sampler rendered).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from rlbound.data.store import PERPLEXITY_FILE
from rlbound.errors import InputError

SIDE_FILE = PERPLEXITY_FILE


@runtime_checkable
class Scorer(Protocol):
    """What ``score_run`` needs of a model: the part of ``rlbound.backends.protocol.Backend`` that
    scores. ``tokenizer`` is the model's tokenizer (None where the backend has none: chat templates
    then cannot be rendered)."""

    tokenizer: Any

    def score(self, prompts: Sequence[str], continuations: Sequence[str]) -> Sequence[np.ndarray]:
        """Per-token log-probabilities (natural log, shape ``(T_i,)``) of each continuation given its prompt."""
        ...

    def close(self) -> None:
        """Release the model."""
        ...


def _template_of(manifest: Any, run_dir: str | Path) -> str:
    pt = manifest.prompt_template or {}
    name = pt.get("name")
    if not name:
        raise InputError("the run's manifest records no prompt template; cannot rebuild the prompts",
                         path=str(run_dir), field="prompt_template")
    return pt["text"] if name == "custom" else name


def score_run(run_dir: str | Path, model: str, *, backend: str = "hf", options: Any = None,
              scorer_label: str | None = None, chunk: int = 4096, progress: bool = True,
              scorer: Scorer | None = None) -> Path:
    """Score every response of ``run_dir`` under ``model``; returns the side file's path.

    ``scorer``: an open ``Scorer`` to use and leave open (default: backend ``backend`` for
    ``model`` is opened for this call and closed at its end). Rescoring replaces the side file
    atomically (the previous file stays until the new one is whole).
    """
    from rlbound.backends.protocol import get_backend
    from rlbound.data.store import RunStore, write_perplexity

    store = RunStore.open(run_dir)
    samples = [s for s in store.samples() if s.text is not None]
    if not samples:
        raise InputError("the run has no response texts to score", path=str(run_dir))
    template = _template_of(store.manifest, run_dir)
    own = scorer is None
    scorer = get_backend(backend, model, options) if own else scorer
    if not isinstance(scorer, Scorer):
        raise TypeError(f"{type(scorer).__name__} is not a Scorer (needs tokenizer, score and close)")
    try:
        scored = _score_distinct(scorer, store, template, samples, chunk, progress)
    finally:
        if own:
            scorer.close()
    return write_perplexity(store, {
        "problem_id": [s.problem_id for s in samples], "sample_index": [s.sample_index for s in samples],
        "scorer": [scorer_label or model] * len(samples),
        "n_tokens": [scored[(s.problem_id, s.text)][0] for s in samples],
        "sum_logprob": [scored[(s.problem_id, s.text)][1] for s in samples],
    })


def _score_distinct(scorer: Scorer, store: Any, template: str, samples: list[Any], chunk: int,
                    progress: bool) -> dict[tuple[str, str], tuple[int, float]]:
    """(n_tokens, sum of log-probabilities) of each distinct (problem_id, text) of ``samples``.

    Identical responses to one prompt score identically, so each is scored once (sampled models
    repeat themselves: 64% of the demo base run's 51,200 responses are distinct, 41% of its final
    GRPO run's).
    """
    from tqdm.auto import tqdm

    from rlbound.backends import templates

    prompt_of = {p.id: templates.render(template, p.prompt, scorer.tokenizer) for p in store.problems()}
    distinct = list(dict.fromkeys((s.problem_id, s.text) for s in samples))
    scored: dict[tuple[str, str], tuple[int, float]] = {}
    with tqdm(total=len(distinct), unit="resp", disable=not progress,
              desc=f"perplexity ({len(samples)} responses, {len(distinct)} distinct)") as bar:
        for start in range(0, len(distinct), chunk):
            part = distinct[start:start + chunk]
            lps = scorer.score([prompt_of[pid] for pid, _ in part], [text for _, text in part])
            for key, lp in zip(part, lps):
                n_tok = int(len(lp))
                scored[key] = (n_tok, float(np.sum(lp)) if n_tok else 0.0)
            bar.update(len(part))
    return scored
