"""Results produced elsewhere, in and out: strict loaders and an atomic JSONL writer.

Imported results become the same (n, c) per problem that the pass@k estimator of Chen et al. 2021
("Evaluating Large Language Models Trained on Code", eq. 1) and the study of Yue et al. 2025
(arXiv 2504.13837) use. The input is a JSONL file (plain or .gz), a JSON document, a Parquet file
or a ``datasets`` ``save_to_disk`` folder (``sources``); its format (``fmt`` names) is told from the
fields of its first record, or named:

``correct_jsonl``
    one row per sample: ``{"problem_id", "correct"}`` plus optional ``sample_index``, ``text``,
    ``extracted`` and ``status`` (one of rlbound.types.Status, consistent with ``correct``).
``humaneval``
    human-eval samples ``{"task_id", "completion"}``; a results file (``*_results.jsonl``) adds
    ``passed`` (bool) and ``result`` ("passed", "failed: ...", "timed out"). Without ``passed`` the
    rows are samples only (no verdicts). The sample index is the row's order within its task.
``rm_maj``
    the eval_rm_maj_example layout of the limit-of-RLVR / Qwen2.5-Math evaluation: one row per
    problem with ``idx``, ``score`` (list of bools, one per sample), optional ``code`` (response
    texts), ``pred`` (extracted answers), ``gt``, ``question``.
``lm_eval``, ``lighteval``
    lm-evaluation-harness ``--log_samples`` and lighteval details (``harness``).
``evalplus_samples``, ``evalplus_results``, ``livecodebench``
    evalplus ``samples.jsonl`` / ``eval_results.json`` and LiveCodeBench ``_eval_all.json`` (``code``).
``verl``
    verl validation dumps (``verl``).

Per-sample verdicts a file records are kept; a file with only texts (or only per-document
aggregates) is imported as texts, and its notes say how to grade them. Every malformed line,
missing field, wrong type, empty file or duplicate cell raises InputError with the path, the line
(or row) and the field. Nothing is skipped silently.
"""

from rlbound.data.importers.api import (
    FORMATS,
    ImportSummary,
    detect_format,
    import_results,
    import_to_run,
    import_to_store,
    load_counts,
)
from rlbound.data.importers.base import ImportedRun
from rlbound.data.importers.export import export_jsonl, export_rows
from rlbound.data.importers.sources import CONTAINERS, open_source

__all__ = [
    "CONTAINERS",
    "FORMATS",
    "ImportSummary",
    "ImportedRun",
    "detect_format",
    "export_jsonl",
    "export_rows",
    "import_results",
    "import_to_run",
    "import_to_store",
    "load_counts",
    "open_source",
]
