"""The run's ``perplexity.parquet`` side file: its responses scored under some model.

Yue et al. 2025 (arXiv 2504.13837, Sec. 4.1 / Fig. 6) score the RL model's responses under the base
model: if RL only sharpens the base model's distribution, its responses sit in the low-perplexity
part of the base model's own distribution. One row per scored response:

    problem_id, sample_index, scorer, n_tokens, sum_logprob, perplexity = exp(-sum_logprob / n_tokens)

``write_perplexity`` (``rlbound perplexity``) replaces the file atomically; ``read_perplexity``
also reads files written by other tools that give ``perplexity`` or ``sum_logprob`` and
``n_tokens`` only.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rlbound.errors import InputError

PERPLEXITY_FILE = "perplexity.parquet"
PERPLEXITY_SCHEMA = pa.schema([
    ("problem_id", pa.string()), ("sample_index", pa.int64()), ("scorer", pa.string()),
    ("n_tokens", pa.int64()), ("sum_logprob", pa.float64()), ("perplexity", pa.float64()),
])
_REQUIRED = ("problem_id", "sample_index", "scorer")
_GIVEN = PERPLEXITY_SCHEMA.names[:-1]  # what a writer gives; perplexity follows from them


def write_perplexity(store: Any, cols: Mapping[str, Sequence[Any]]) -> Path:
    """Write ``perplexity.parquet`` of ``store`` (a RunStore) atomically; returns its path.

    ``cols`` holds the columns problem_id, sample_index, scorer, n_tokens and sum_logprob, one entry
    per scored response; ``perplexity`` is computed (NaN for a response of no tokens).
    """
    missing = [c for c in _GIVEN if c not in cols]
    if missing:
        raise ValueError(f"write_perplexity needs the columns {_GIVEN}; missing {missing}")
    data = {c: list(cols[c]) for c in _GIVEN}
    if len({len(v) for v in data.values()}) > 1:
        raise ValueError(f"columns of unequal lengths: { {c: len(v) for c, v in data.items()} }")
    data["perplexity"] = [math.exp(-lp / n) if n else float("nan")
                          for n, lp in zip(data["n_tokens"], data["sum_logprob"])]
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pydict(data, schema=PERPLEXITY_SCHEMA), buf, compression="zstd")
    return store.write_side_file(PERPLEXITY_FILE, buf.getvalue())


def _floats(t: pa.Table, name: str, fill: float) -> np.ndarray:
    return pc.fill_null(t.column(name).cast(pa.float64()), fill).to_numpy(zero_copy_only=False)


def read_perplexity(run_dir: str | os.PathLike[str]) -> pa.Table | None:
    """``perplexity.parquet`` of ``run_dir`` as columns problem_id, sample_index, scorer ("" where
    null) and perplexity (float64); None when the run has no such file, InputError for a malformed one.

    ``perplexity`` is the stored column, or exp(-sum_logprob / n_tokens) where it is null or absent;
    NaN for a row with n_tokens == 0 or neither value.
    """
    path = Path(run_dir) / PERPLEXITY_FILE
    if not path.is_file():
        return None
    try:
        t = pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        raise InputError(f"unreadable parquet file ({e})", path=str(path)) from None
    names = set(t.column_names)
    missing = [c for c in _REQUIRED if c not in names]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", path=str(path), field=missing[0])
    derivable = {"sum_logprob", "n_tokens"} <= names
    if "perplexity" not in names and not derivable:
        raise InputError("needs a 'perplexity' column or 'sum_logprob' and 'n_tokens'", path=str(path),
                         field="perplexity")
    try:
        ppl = _floats(t, "perplexity", float("nan")) if "perplexity" in names else np.full(t.num_rows, np.nan)
        if derivable:
            lp, nt = _floats(t, "sum_logprob", float("nan")), _floats(t, "n_tokens", 0.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                ppl = np.where(np.isnan(ppl), np.exp(-lp / nt), ppl)
            ppl = np.where(nt > 0, ppl, np.nan)
        return pa.table({
            "problem_id": t.column("problem_id").cast(pa.string()),
            "sample_index": t.column("sample_index").cast(pa.int64()),
            "scorer": pc.fill_null(t.column("scorer").cast(pa.string()), ""),
            "perplexity": pa.array(ppl, type=pa.float64()),
        })
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise InputError(f"columns do not match {PERPLEXITY_SCHEMA}: {e}", path=str(path)) from None
