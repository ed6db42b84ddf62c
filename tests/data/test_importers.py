"""Tests of result import/export (rlbound.data.importers)."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import numpy as np
import pytest

from rlbound.data.importers import detect_format, export_jsonl, import_results, import_to_store, load_counts
from rlbound.data.importers import export as export_module
from rlbound.data.store import RunStore
from rlbound.errors import InputError
from rlbound.types import Problem, RunManifest, Sample, Status, Verdict

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
RM_MAJ = SHARED / "benchmarks" / "eval_rm_maj_example" / "math_cot_100.jsonl"


def _write(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------ loaders


def test_correct_jsonl_with_and_without_indices(tmp_path):
    f = _write(tmp_path / "r.jsonl", [
        {"problem_id": "a", "correct": True, "text": "t0", "extracted": 5},
        {"problem_id": 7, "correct": False},
        "",
        {"problem_id": "a", "correct": False, "status": "timeout"},
    ])
    assert detect_format(f) == "correct_jsonl"
    run = import_results(f)
    assert [p.id for p in run.problems] == ["a", "7"]
    assert [(s.problem_id, s.sample_index, s.text) for s in run.samples] == [("a", 0, "t0"), ("7", 0, None), ("a", 1, None)]
    v = {(p, i): v for p, i, v in run.verdicts}
    assert v[("a", 0)].correct and v[("a", 0)].extracted == "5"
    assert v[("a", 1)].status is Status.TIMEOUT and not v[("a", 1)].correct
    ids, n, c = load_counts(f)
    assert ids == ["a", "7"] and n.tolist() == [2, 1] and c.tolist() == [1, 0]
    g = _write(tmp_path / "i.jsonl", [{"problem_id": "a", "sample_index": 3, "correct": True},
                                      {"problem_id": "a", "sample_index": 0, "correct": True}])
    assert [s.sample_index for s in import_results(g).samples] == [3, 0]


def test_humaneval_results_and_samples(tmp_path):
    res = _write(tmp_path / "samples.jsonl_results.jsonl", [
        {"task_id": "HumanEval/0", "completion": "  return 1", "result": "passed", "passed": True},
        {"task_id": "HumanEval/0", "completion": "  while True: pass", "result": "timed out", "passed": False},
        {"task_id": "HumanEval/1", "completion": "  return 2", "result": "failed: AssertionError", "passed": False},
    ])
    assert detect_format(res) == "humaneval"
    run = import_results(res)
    assert [(s.problem_id, s.sample_index) for s in run.samples] == [("HumanEval/0", 0), ("HumanEval/0", 1),
                                                                     ("HumanEval/1", 0)]
    assert [v.status for _, _, v in run.verdicts] == [Status.CORRECT, Status.TIMEOUT, Status.WRONG]
    assert run.problems[0].verifier == "humaneval"
    ids, n, c = load_counts(res)
    assert n.tolist() == [2, 1] and c.tolist() == [1, 0]
    samples = _write(tmp_path / "samples.jsonl", [{"task_id": "HumanEval/0", "completion": "x"}])
    run = import_results(samples)
    assert len(run.samples) == 1 and run.verdicts == []
    with pytest.raises(InputError, match="no verdicts"):
        load_counts(samples)


def test_gzip_input(tmp_path):
    f = tmp_path / "r.jsonl.gz"
    with gzip.open(f, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps({"problem_id": "a", "correct": True}) + "\n")
    assert load_counts(f)[2].tolist() == [1]


def test_rm_maj_small(tmp_path):
    f = _write(tmp_path / "m.jsonl", [
        {"idx": 3, "question": "q?", "gt": 5, "score": [True, False], "pred": ["5", None], "code": ["a", "b"],
         "level": "Level 2"},
        {"idx": 4, "score": [False]},
    ])
    assert detect_format(f) == "rm_maj"
    run = import_results(f)
    assert run.problems[0] == Problem(id="3", prompt="q?", reference="5", verifier="math", metadata={"level": "Level 2"})
    assert [(s.problem_id, s.sample_index, s.text) for s in run.samples] == [("3", 0, "a"), ("3", 1, "b"), ("4", 0, None)]
    assert [v.extracted for _, _, v in run.verdicts] == ["5", None, None]
    assert load_counts(f)[2].tolist() == [1, 0]


# ------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize("rows,line,field,msg", [
    ([{"problem_id": "a", "correct": True}, '{"problem_id": "a", "correct": tru'], 2, None, "malformed JSON"),
    ([{"problem_id": "a", "correct": True}, {"problem_id": "b"}], 2, "correct", "missing field"),
    ([{"problem_id": "a", "correct": "yes"}], 1, "correct", "true or false"),
    ([{"problem_id": "a", "correct": 1}], 1, "correct", "true or false"),
    ([{"problem_id": None, "correct": True}], 1, "problem_id", "string or an integer"),
    ([{"problem_id": "a", "correct": True, "sample_index": -1}], 1, "sample_index", ">= 0"),
    ([{"problem_id": "a", "correct": True, "text": 3}], 1, "text", "string or null"),
    ([{"problem_id": "a", "correct": True, "sample_index": 0}, {"problem_id": "b", "correct": True},
      {"problem_id": "a", "correct": True, "sample_index": 0}], 2, "sample_index", "every row or on none"),
    ([{"problem_id": "a", "correct": True, "sample_index": 0}, {"problem_id": "b", "correct": True, "sample_index": 0},
      {"problem_id": "a", "correct": False, "sample_index": 0}], 3, "sample_index", "duplicate cell"),
    ([{"problem_id": "a", "correct": True, "status": "wrong"}], 1, "status", "contradicts"),
    ([{"problem_id": "a", "correct": False, "status": "meh"}], 1, "status", "one of"),
    ([{"problem_id": "a", "correct": True}, [1, 2]], 2, None, "JSON object"),
    ([{"task_id": "T/0", "completion": "x", "passed": True}, {"task_id": "T/0", "completion": "y"}], 2, "passed",
     "every row or on none"),
    ([{"task_id": "T/0", "completion": 5}], 1, "completion", "string"),
    ([{"idx": 0, "score": [True, "no"]}], 1, "score[1]", "true or false"),
    ([{"idx": 0, "score": [True, False], "code": ["a"]}], 1, "code", "1 entries"),
    ([{"idx": 0, "score": []}], 1, "score", "empty list"),
    ([{"idx": 0, "score": True}], 1, "score", "list"),
    ([{"idx": 0, "score": [True]}, {"idx": 0, "score": [False]}], 2, "idx", "duplicate problem idx"),
])
def test_bad_input_names_path_line_field(tmp_path, rows, line, field, msg):
    f = _write(tmp_path / "bad.jsonl", rows)
    out = tmp_path / "out"
    with pytest.raises(InputError) as e:
        import_to_store(f, out)
    err = e.value
    assert err.path == str(f) and err.line == line and err.field == field, str(err)
    assert msg in str(err) and f"bad.jsonl:{line}:" in str(err)
    assert not out.exists()  # nothing written for a bad file


def test_empty_unknown_and_missing_files(tmp_path):
    empty = tmp_path / "e.jsonl"
    empty.write_text("\n  \n")
    with pytest.raises(InputError, match="empty file"):
        import_results(empty)
    with pytest.raises(InputError, match="empty file"):
        load_counts(empty)
    unk = _write(tmp_path / "u.jsonl", [{"foo": 1}])
    with pytest.raises(InputError, match="unknown results format") as e:
        import_results(unk)
    assert e.value.line == 1
    with pytest.raises(InputError, match="no such file"):
        import_results(tmp_path / "absent.jsonl")
    with pytest.raises(InputError, match="unknown format"):
        import_results(unk, fmt="csv")
    (tmp_path / "dir").mkdir()
    with pytest.raises(InputError, match="not a run directory"):
        detect_format(tmp_path / "dir")


# ------------------------------------------------------------------------------------ store round trip


def test_import_to_store_is_idempotent_and_refuses_other_file(tmp_path):
    f = _write(tmp_path / "res.jsonl", [{"problem_id": "a", "correct": True}, {"problem_id": "a", "correct": False}])
    out = tmp_path / "run"
    st = import_to_store(f, out)
    assert st.manifest.backend == "import" and st.manifest.model == "res"
    assert len(st.manifest.dataset_hash) == 64
    assert st.counts()[2].tolist() == [1]
    assert detect_format(out) == "run" and load_counts(out)[1].tolist() == [2]
    again = import_to_store(f, out)
    assert len(again.samples()) == 2 and again.verify_integrity() == []
    _write(f, [{"problem_id": "a", "correct": False}])
    with pytest.raises(InputError, match="dataset_hash"):
        import_to_store(f, out)


def _verified_store(tmp_path) -> RunStore:
    st = RunStore.create(tmp_path / "run", RunManifest(model="m", backend="hf"),
                         [Problem(id="b", prompt=""), Problem(id="a", prompt="")])
    st.add_samples([Sample("a", 1, seed=11, text="a1", finish_reason="length"), Sample("b", 0, seed=5, text="b0"),
                    Sample("a", 0, seed=10, text=None, finish_reason="stop")])
    st.add_verdicts([("b", 0, Verdict(correct=True, status=Status.CORRECT, extracted="4")),
                     ("a", 1, Verdict(correct=False, status=Status.TIMEOUT))])
    return st


def test_export_rows_and_order(tmp_path):
    st = _verified_store(tmp_path)
    out = tmp_path / "out.jsonl"
    assert export_jsonl(st, out) == 3
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows == [
        {"problem_id": "b", "sample_index": 0, "text": "b0", "correct": True, "status": "correct", "extracted": "4",
         "seed": 5, "finish_reason": None},
        {"problem_id": "a", "sample_index": 0, "seed": 10, "finish_reason": "stop"},
        {"problem_id": "a", "sample_index": 1, "text": "a1", "correct": False, "status": "timeout",
         "extracted": None, "seed": 11, "finish_reason": "length"},
    ]
    with pytest.raises(InputError, match="refusing to overwrite"):
        export_jsonl(st, out)
    assert export_jsonl(st, out, overwrite=True) == 3


def test_export_then_import_round_trip(tmp_path):
    st = _verified_store(tmp_path)
    st.add_verdicts([("a", 0, Verdict(correct=False, status=Status.WRONG))])
    out = tmp_path / "o.jsonl"
    export_jsonl(st, out)
    run = import_results(out)
    assert run.format == "correct_jsonl"
    ids, n, c = load_counts(out)
    ids2, n2, c2 = st.counts()
    assert ids == ids2 and n.tolist() == n2.tolist() and c.tolist() == c2.tolist()
    assert {(p, i): v.status for p, i, v in run.verdicts} == {k: v.status for k, v in st.verdicts().items()}


def test_failed_export_leaves_no_file(tmp_path, monkeypatch):
    st = _verified_store(tmp_path)
    out = tmp_path / "x.jsonl"

    def broken(store, batch_rows=65536):
        yield {"problem_id": "a", "sample_index": 0}
        raise RuntimeError("boom")

    monkeypatch.setattr(export_module, "export_rows", broken)
    with pytest.raises(RuntimeError, match="boom"):
        export_jsonl(st, out)
    assert os.listdir(tmp_path) == ["run"]
    out.write_text("keep me")
    with pytest.raises(RuntimeError):
        export_jsonl(st, out, overwrite=True)
    assert out.read_text() == "keep me"
    with pytest.raises(InputError, match="does not exist"):
        export_jsonl(st, tmp_path / "nodir" / "x.jsonl")


# ------------------------------------------------------------------------------------ the real file


@pytest.mark.skipif(not RM_MAJ.exists(), reason=f"shared benchmark file absent: {RM_MAJ}")
def test_real_eval_rm_maj_example_end_to_end(tmp_path):
    rows = [json.loads(line) for line in RM_MAJ.read_text(encoding="utf-8").splitlines() if line.strip()]
    recorded = np.array([s for r in rows for s in r["score"]], dtype=float)
    assert detect_format(RM_MAJ) == "rm_maj"
    st = import_to_store(RM_MAJ, tmp_path / "run")
    ids, n, c = st.counts()
    assert len(ids) == 100 and (n == 8).all()
    assert c.sum() / 800 == pytest.approx(recorded.mean(), abs=0)
    assert c.tolist() == [sum(r["score"]) for r in rows]
    ids2, n2, c2 = load_counts(RM_MAJ)
    assert ids2 == ids and n2.tolist() == n.tolist() and c2.tolist() == c.tolist()
    first = st.samples()[0]
    assert first.text == rows[0]["code"][0]
    assert st.verdicts()[(ids[0], 0)].extracted == rows[0]["pred"][0]
    assert st.problems()[0].reference == rows[0]["gt"]
    out = tmp_path / "export.jsonl"
    assert export_jsonl(st, out) == 800
    assert load_counts(out)[2].tolist() == c.tolist()
