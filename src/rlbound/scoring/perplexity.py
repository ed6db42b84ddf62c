"""Perplexity of a run's responses under another model (Yue et al. 2025, Sec. 4.1 / Fig. 6).

The paper scores the RL model's responses under the *base* model: if RL only sharpens the base
model's distribution, its responses sit in the low-perplexity part of the base model's own
distribution. ``score_run`` writes ``perplexity.parquet`` into the run directory, one row per
response: problem_id, sample_index, scorer, n_tokens, sum_logprob, perplexity
(= exp(-sum_logprob / n_tokens)). The prompt each response is scored after is rebuilt from the
run's manifest (the same template the sampler rendered).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rlbound.errors import InputError

SIDE_FILE = "perplexity.parquet"


def _template_of(manifest: Any) -> str:
    pt = manifest.prompt_template or {}
    name = pt.get("name")
    if not name:
        raise InputError("the run's manifest records no prompt template; cannot rebuild the prompts")
    return pt["text"] if name == "custom" else name


def score_run(run_dir: str | Path, model: str, *, backend: str = "hf", options: Any = None,
              scorer_label: str | None = None, chunk: int = 4096, progress: bool = True) -> Path:
    """Score every response of ``run_dir`` under ``model``; returns the side file's path.

    Rescoring replaces the side file atomically (the previous file stays until the new one is whole).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tqdm.auto import tqdm

    from rlbound.backends import templates
    from rlbound.backends.protocol import get_backend
    from rlbound.data.store import RunStore

    store = RunStore.open(run_dir)
    template = _template_of(store.manifest)
    problems = {p.id: p for p in store.problems()}
    samples = [s for s in store.samples() if s.text is not None]
    if not samples:
        raise InputError("the run has no response texts to score", path=str(run_dir))
    scorer = get_backend(backend, model, options)
    try:
        tok = getattr(scorer, "tokenizer", None)
        prompt_of = {pid: templates.render(template, p.prompt, tok) for pid, p in problems.items()}
        cols: dict[str, list] = {k: [] for k in ("problem_id", "sample_index", "scorer", "n_tokens",
                                                 "sum_logprob", "perplexity")}
        # Identical responses to one prompt score identically: score each distinct (prompt, text) once
        # (sampled models repeat themselves: 64% of the demo base run's 51,200 responses are distinct, 41% of
        # its final GRPO run's).
        key_of = [(s.problem_id, s.text) for s in samples]
        distinct = list(dict.fromkeys(key_of))
        scored: dict[tuple[str, str], tuple[int, float]] = {}
        bar = tqdm(total=len(distinct), unit="resp", desc=f"perplexity ({len(samples)} responses, {len(distinct)} distinct)",
                   disable=not progress)
        for start in range(0, len(distinct), chunk):
            part = distinct[start:start + chunk]
            lps = scorer.score([prompt_of[pid] for pid, _ in part], [text for _, text in part])
            for key, lp in zip(part, lps):
                n_tok = int(len(lp))
                scored[key] = (n_tok, float(lp.sum()) if n_tok else 0.0)
            bar.update(len(part))
        bar.close()
        for s, key in zip(samples, key_of):
            n_tok, total = scored[key]
            cols["problem_id"].append(s.problem_id)
            cols["sample_index"].append(s.sample_index)
            cols["scorer"].append(scorer_label or model)
            cols["n_tokens"].append(n_tok)
            cols["sum_logprob"].append(total)
            cols["perplexity"].append(math.exp(-total / n_tok) if n_tok else float("nan"))
    finally:
        close = getattr(scorer, "close", None)
        if close:
            close()
    import io

    buf = io.BytesIO()
    pq.write_table(pa.table(cols), buf)
    return store.write_side_file(SIDE_FILE, buf.getvalue())
