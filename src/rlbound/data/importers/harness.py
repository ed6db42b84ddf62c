"""Per-document logs of evaluation harnesses: lm-evaluation-harness ``--log_samples`` files and
lighteval ``--save-details`` Parquet files.

Both log one record per document with the model's response(s) and the per-document metric values.
A metric becomes a per-sample verdict (the c of pass@k, Chen et al. 2021; Yue et al. 2025, arXiv
2504.13837) only when the document has exactly one response and the metric is 0 or 1 on every
document. With several responses per document (lm-eval ``repeats``, lighteval ``num_samples``) a
per-document metric is an aggregate over them (a mean, maj@k, pass@k) and is never split into
per-sample verdicts: the texts are imported and ``rlbound verify`` grades them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rlbound.data.importers.base import (
    Collector,
    ImportedRun,
    Row,
    binary,
    grade_later_note,
    plain_verdict,
    reference_from_target,
    show,
)
from rlbound.data.importers.sources import Source
from rlbound.errors import InputError
from rlbound.types import Problem

# lm-eval's own keys of a logged sample (evaluator.py / evaluation_tracker.py); the rest are metrics.
LM_EVAL_KEYS = frozenset({"doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "filter", "metrics",
                          "doc_hash", "prompt_hash", "target_hash"})


@dataclass
class _Doc:
    """One logged document: its problem, its responses (``[None]`` for a scored-choice document
    with no generated text) and its per-document metric values."""

    row: Row
    problem: Problem
    texts: list[str | None]
    metrics: dict[str, Any]
    extracted: str | None = None


def _choose_metric(docs: list[_Doc], candidates: list[str], asked: str | None) -> str | None:
    """The per-document metric that is a per-sample verdict, or None (texts only).

    ``asked`` (``--metric``) must exist, be 0/1 on every document and the documents must have one
    response each, else InputError; without it, the first candidate that qualifies is taken.
    """
    many = next((d for d in docs if len(d.texts) != 1), None)
    if asked is not None:
        if asked not in candidates:
            raise InputError(f"no per-document metric {asked!r}; the file has {candidates or 'none'}",
                             path=str(docs[0].row.path), field="metric")
        if many is not None:
            raise many.row.err(f"metric {asked!r} is one value per document over {len(many.texts)} responses, "
                               "not a per-sample verdict; import without --metric and grade the texts with "
                               "'rlbound verify'", "metric")
        for d in docs:
            if binary(d.metrics.get(asked)) is None:
                raise d.row.err(f"metric {asked!r} is {show(d.metrics.get(asked))} here, not 0 or 1: not a "
                                "per-sample verdict", asked)
        return asked
    if many is not None:
        return None
    for name in candidates:
        if all(binary(d.metrics.get(name)) is not None for d in docs):
            return name
    return None


def _collect(fmt: str, tool: str, src: Source, docs: list[_Doc], candidates: list[str], asked: str | None,
             notes: list[str], reference: str) -> ImportedRun:
    if not docs:
        raise InputError("no documents to import", path=src.where)
    chosen = _choose_metric(docs, candidates, asked)
    col = Collector(fmt)
    for d in docs:
        if chosen is None and d.texts == [None]:
            raise d.row.err(f"no generated text and no 0/1 per-document metric (metrics: {candidates or 'none'}): "
                            "nothing to import for a scored-choice document", None)
        col.problem(d.problem)
        for i, text in enumerate(d.texts):
            verdict = None
            if chosen is not None:
                verdict = plain_verdict(bool(binary(d.metrics[chosen])), fmt, d.extracted, detail=f"{tool}: {chosen}")
            col.add(d.row, d.problem.id, i, text, verdict)
    others = [c for c in candidates if c != chosen]
    if chosen is not None:
        notes.insert(0, f"verdicts: {tool}'s per-document metric {chosen!r} (0/1, one response per document)"
                     + (f"; other metrics in the file: {', '.join(others)} (choose with --metric)" if others else ""))
    else:
        k = max(len(d.texts) for d in docs)
        why = (f"{tool} logged up to {k} responses per document and its per-document metrics "
               f"({', '.join(candidates) or 'none'}) aggregate over them" if k > 1 else
               f"no per-document metric of {tool} is 0/1 on every document ({', '.join(candidates) or 'none'})")
        notes.insert(0, grade_later_note(why, reference))
    return col.run(src.where, notes)


# ----------------------------------------------------------------------------------------------
# lm-evaluation-harness


def _lm_prompt(arguments: Any) -> str:
    """The prompt of a logged sample: ``arguments.gen_args_0.arg_0`` (or ``[[prompt, kwargs]]`` before
    lm-eval 0.4.3 flattened it); "" when it is not a string."""
    first: Any = None
    if isinstance(arguments, dict):
        a0 = arguments.get("gen_args_0")
        first = a0.get("arg_0") if isinstance(a0, dict) else None
    elif isinstance(arguments, list) and arguments and isinstance(arguments[0], (list, tuple)) and arguments[0]:
        first = arguments[0][0]
    return first if isinstance(first, str) else ""


def _lm_doc(r: Row) -> tuple[_Doc, list[str]]:
    doc_id = r.get("doc_id", "int")
    resps = r.get("resps", "list")
    flat = [x for req in resps for x in (req if isinstance(req, list) else [req])]
    if not flat:
        raise r.err("field 'resps' is empty (no response)", "resps")
    texts: list[str | None] = list(flat) if all(isinstance(x, str) for x in flat) else [None]
    names = r.obj.get("metrics")
    if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        names = [k for k, v in r.obj.items() if k not in LM_EVAL_KEYS and isinstance(v, (bool, int, float))]
    metrics = {n: r.obj[n] for n in names if n in r.obj}
    extracted = None
    fr = r.obj.get("filtered_resps")
    if len(texts) == 1 and isinstance(fr, list) and len(fr) == 1:
        x = fr[0][0] if isinstance(fr[0], list) and len(fr[0]) == 1 else fr[0]
        extracted = x if isinstance(x, str) else None
    target = r.obj.get("target")
    reference = reference_from_target(target)
    meta = {"target": target} if isinstance(target, str) and target.strip() != reference else {}
    problem = Problem(id=str(doc_id), prompt=_lm_prompt(r.obj.get("arguments")), reference=reference,
                      verifier="math", metadata=meta)
    return _Doc(r, problem, texts, metrics, extracted), list(metrics)


def _split_metric(metric: str | None) -> tuple[str | None, str | None]:
    """``--metric NAME[,FILTER]`` (lm-eval's own ``metric,filter`` notation) as (name, filter)."""
    if metric is None:
        return None, None
    name, _, filt = metric.partition(",")
    return (name.strip() or None), (filt.strip() or None)


def load_lm_eval(src: Source, metric: str | None = None) -> ImportedRun:
    """lm-eval ``samples_<task>_<date>.jsonl``: one row per document and filter.

    Read: ``doc_id`` (-> problem_id), ``resps`` (the responses, -> texts, in order -> sample_index),
    ``filtered_resps`` (-> extracted answer), ``target`` (-> reference), ``arguments`` (-> prompt),
    ``filter``, ``metrics`` and the metric values. Rows of one filter are imported: ``--metric
    NAME,FILTER`` picks it, else the file's first.
    """
    name, want_filter = _split_metric(metric)
    docs: list[_Doc] = []
    candidates: list[str] = []
    filters: list[str | None] = []
    seen: dict[str, str] = {}
    chosen_filter: str | None = None
    for r in src.records():
        filt = r.obj.get("filter") if isinstance(r.obj.get("filter"), str) else None
        if filt not in filters:
            filters.append(filt)
        if want_filter is not None:
            if filt != want_filter:
                continue
        elif filt != filters[0]:
            continue
        chosen_filter = filt
        d, names = _lm_doc(r)
        if d.problem.id in seen:
            raise r.err(f"duplicate doc_id {d.problem.id} (filter {filt!r}), first on {seen[d.problem.id]}", "doc_id")
        seen[d.problem.id] = f"line {r.line}" if r.line is not None else f"row {r.row}"
        candidates = candidates or names
        docs.append(d)
    if want_filter is not None and want_filter not in filters:
        raise InputError(f"no rows of filter {want_filter!r}; the file has filters {filters}", path=src.where,
                         field="metric")
    notes = []
    others = [f for f in filters if f != chosen_filter]
    if others:
        notes.append(f"rows of filter {chosen_filter!r} imported; other filters in the file: "
                     f"{', '.join(map(str, others))} (choose with --metric METRIC,FILTER)")
    return _collect("lm_eval", "lm-eval", src, docs, candidates, name, notes, "the logged 'target'")


# ----------------------------------------------------------------------------------------------
# lighteval


def _gold(doc: dict[str, Any]) -> str | None:
    """lighteval's gold answer: ``choices[gold_index]`` (the first gold when there are several)."""
    choices, gi = doc.get("choices"), doc.get("gold_index")
    if isinstance(gi, list):
        gi = gi[0] if gi else None
    if isinstance(choices, list) and isinstance(gi, int) and not isinstance(gi, bool) and 0 <= gi < len(choices):
        return reference_from_target(choices[gi])
    return None


def _lighteval_doc(r: Row) -> tuple[_Doc, str, list[str]]:
    doc = r.get("doc", "dict")
    resp = r.get("model_response", "dict")
    metric = r.get("metric", "dict", required=False) or {}
    raw = resp.get("text")
    texts = r.check([] if raw is None else raw, "list", "model_response.text")
    for i, t in enumerate(texts):
        r.check(t, "str", f"model_response.text[{i}]")
    query = doc.get("query")
    meta = {k: doc[k] for k in ("task_name",) if isinstance(doc.get(k), str) and doc[k]}
    problem = Problem(id="", prompt=query if isinstance(query, str) else "", reference=_gold(doc), verifier="math",
                      metadata=meta)
    metrics = {k: v for k, v in metric.items() if v is not None}
    own_id = doc.get("id")
    return _Doc(r, problem, list(texts) or [None], metrics), own_id if isinstance(own_id, str) else "", list(metrics)


def load_lighteval(src: Source, metric: str | None = None) -> ImportedRun:
    """lighteval ``details_<task>_<date>.parquet``: one row per document.

    Read: ``doc`` (``id`` -> problem_id, else the row number from 0; ``query`` -> prompt;
    ``choices[gold_index]`` -> reference), ``model_response.text`` (-> texts, in order ->
    sample_index) and ``metric`` (name -> per-document value).
    """
    rows = [_lighteval_doc(r) for r in src.records()]
    ids = [own for _, own, _ in rows]
    use_own = all(ids) and len(set(ids)) == len(ids)
    docs = []
    for i, (d, own, _) in enumerate(rows):
        d.problem = Problem(id=own if use_own else str(i), prompt=d.problem.prompt, reference=d.problem.reference,
                            verifier=d.problem.verifier, metadata=d.problem.metadata)
        docs.append(d)
    notes = [] if use_own or not rows else ["problem ids are row numbers from 0 (doc.id is empty or repeated)"]
    candidates = list(dict.fromkeys(n for _, _, names in rows for n in names))
    return _collect("lighteval", "lighteval", src, docs, candidates, metric, notes, "doc.choices[gold_index]")
