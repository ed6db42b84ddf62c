"""The run store: one directory per run, crash-safe and resumable (user pain point 10).

A run of the study design of Yue et al. 2025 (arXiv 2504.13837) is a grid of cells
``(problem_id, sample_index)``: every problem is sampled ``n`` times and each sample gets a verdict,
from which (n, c) per problem feed the pass@k estimator of Chen et al. 2021. Layout::

    run/
      manifest.json               RunManifest.to_json()
      problems.parquet            id, prompt, reference, verifier, metadata (JSON string)
      samples/part-<seq>-<uuid8>.parquet    one column per Sample field
      verdicts/part-<seq>-<uuid8>.parquet   problem_id, sample_index + one column per Verdict field
      <side files>                perplexity.parquet, config.toml, ...

Every file is written to ``.tmp-<pid>-<uuid>.<ext>`` in its own folder, flushed, fsynced and then
``os.replace``d into place, so a crash (even kill -9) never leaves a half-written visible file.
Part files are immutable; writing a cell that is already stored is a no-op, so rerunning a killed
writer fills exactly the missing cells. Readers dedupe by cell (first part in (seq, name) order
wins) in case two writers raced; ``verify_integrity`` reports such duplicates. Leftover temp files
of dead writers are ignored by readers and removed by the next writer. ``compact`` journals its
work in ``.compact-<tag>.json`` so that the next writer finishes a compaction killed midway.

One module per concern:

- ``manifest``: manifest.json, problems.parquet and ``check_same_run``, the one check that a write
  belongs to an existing run (``RunStore.create`` and ``RunStore.check_existing`` use it);
- ``parts``: the samples/verdicts part files (schemas, atomic parts, temp files, compaction journal);
- ``cells``: the one join of samples with verdicts by cell (``RunStore.cells``);
- ``perplexity``: the ``perplexity.parquet`` side file (``write_perplexity``, ``read_perplexity``);
- ``run_store``: ``RunStore``, the run directory as one object.
"""

from rlbound.data.store.manifest import (
    MANIFEST,
    PROBLEM_SCHEMA,
    PROBLEMS,
    SAME_FIELDS,
    check_same_run,
)
from rlbound.data.store.parts import SAMPLE_SCHEMA, SAMPLES_DIR, VERDICT_SCHEMA, VERDICTS_DIR
from rlbound.data.store.perplexity import (
    PERPLEXITY_FILE,
    PERPLEXITY_SCHEMA,
    read_perplexity,
    write_perplexity,
)
from rlbound.data.store.run_store import RunStore

__all__ = [
    "MANIFEST", "PERPLEXITY_FILE", "PERPLEXITY_SCHEMA", "PROBLEMS", "PROBLEM_SCHEMA", "SAME_FIELDS",
    "SAMPLES_DIR", "SAMPLE_SCHEMA", "VERDICTS_DIR", "VERDICT_SCHEMA", "RunStore", "check_same_run",
    "read_perplexity", "write_perplexity",
]
