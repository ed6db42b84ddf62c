"""The run store's one sample-verdict join (``RunStore.cells``), its one run-compatibility check
(``check_same_run`` / ``RunStore.check_existing``) and its ``perplexity.parquet`` side file."""

from __future__ import annotations

import math
import os
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rlbound.data.store import (
    PERPLEXITY_FILE,
    SAMPLE_SCHEMA,
    VERDICT_SCHEMA,
    RunStore,
    check_same_run,
    read_perplexity,
    write_perplexity,
)
from rlbound.errors import InputError
from rlbound.types import Problem, RunManifest, Sample, Status, Verdict


def _manifest(**kw) -> RunManifest:
    base = dict(model="m", backend="hf", sampling={"n": 4, "temperature": 0.6}, prompt_template={"name": "t", "text": "{p}"},
                dataset_name="d", dataset_hash="abc")
    base.update(kw)
    return RunManifest(**base)


def _problems(k: int) -> list[Problem]:
    return [Problem(id=f"q{j}", prompt=f"what is {j}?", reference=str(j)) for j in range(k)]


def _s(pid: str, i: int) -> Sample:
    return Sample(problem_id=pid, sample_index=i, seed=i, text=f"{pid}-{i}", finish_reason="stop")


def _v(ok: bool, extracted: str = "x") -> Verdict:
    return Verdict(correct=ok, status=Status.CORRECT if ok else Status.WRONG, extracted=extracted)


def _python_join(samples: list[Sample], verdicts: dict[tuple[str, int], Verdict], order: list[str]) -> list[tuple]:
    """The join written the slow way, as the reference."""
    by_cell = {(s.problem_id, s.sample_index): s for s in samples}
    cells = set(by_cell) | set(verdicts)
    pos = {p: i for i, p in enumerate(order)}
    out = []
    for pid, idx in sorted(cells, key=lambda c: (pos.get(c[0], len(pos)), c[0], c[1])):
        s, v = by_cell.get((pid, idx)), verdicts.get((pid, idx))
        out.append((pid, idx, s.text if s else None, v.correct if v else None, v.extracted if v else None,
                    s is not None, v is not None))
    return out


def _rows(t: pa.Table) -> list[tuple]:
    cols = ["problem_id", "sample_index", "text", "correct", "extracted", "has_sample", "has_verdict"]
    return list(zip(*(t.column(c).to_pylist() for c in cols)))


# ------------------------------------------------------------------------------------ the join


def test_cells_is_the_outer_join_of_samples_and_verdicts_in_problem_order(tmp_path):
    rng = random.Random(0)
    problems = _problems(6)
    st = RunStore.create(tmp_path / "r", _manifest(), list(reversed(problems)))  # stored order q5..q0
    cells = [(p.id, i) for p in problems for i in range(7)]
    sampled = rng.sample(cells, 30)
    judged = rng.sample(cells, 25)  # some verdicts have no sample (imports may carry verdicts only)
    for chunk in (sampled[:11], sampled[11:]):
        st.add_samples([_s(pid, i) for pid, i in chunk])
    verdicts = {c: _v(rng.random() < 0.5, extracted=str(rng.randint(0, 3))) for c in judged}
    for chunk in (judged[:9], judged[9:]):
        st.add_verdicts([(pid, i, verdicts[(pid, i)]) for pid, i in chunk])
    fresh = RunStore.open(st.path)
    order = [p.id for p in fresh.problems()]
    want = _python_join(fresh.samples(), verdicts, order)
    got = fresh.cells(samples=["text"], verdicts=["correct", "extracted"])
    assert got.column_names == ["problem_id", "sample_index", "text", "correct", "extracted", "has_sample",
                                "has_verdict"]
    assert _rows(got) == want and len(want) == len(set(sampled) | set(judged))
    left = fresh.cells(samples=["text"], verdicts=["correct", "extracted"], how="samples")
    assert _rows(left) == [r for r in want if r[5]]
    full = fresh.cells()
    assert full.column_names == [*SAMPLE_SCHEMA.names, *VERDICT_SCHEMA.names[2:], "has_sample", "has_verdict"]
    # unverified() is the same join's sampled cells that have no verdict
    assert [(s.problem_id, s.sample_index) for s in fresh.unverified()] == [(r[0], r[1]) for r in want
                                                                            if r[5] and not r[6]]


def test_cells_of_unknown_problems_come_last_by_id_and_duplicates_keep_the_first(tmp_path):
    st = RunStore.create(tmp_path / "r", _manifest(), _problems(2))
    st.add_samples([_s("q1", 0), _s("q0", 0)])
    st.add_verdicts([("q0", 0, _v(True))])
    raw = st.path / "verdicts"
    stray = pa.Table.from_pylist([dict(problem_id="zz", sample_index=1, correct=False, status="wrong"),
                                  dict(problem_id="aa", sample_index=0, correct=True, status="correct"),
                                  dict(problem_id="q0", sample_index=0, correct=False, status="wrong")],
                                 schema=VERDICT_SCHEMA)
    pq.write_table(stray, raw / "part-0000000099-deadbeef.parquet")
    t = RunStore.open(st.path).cells(samples=[], verdicts=["correct"])
    assert list(zip(t.column("problem_id").to_pylist(), t.column("sample_index").to_pylist(),
                    t.column("correct").to_pylist(), t.column("has_sample").to_pylist())) == [
        ("q0", 0, True, True), ("q1", 0, None, True), ("aa", 0, True, False), ("zz", 1, False, False)]


def test_cells_of_an_empty_run_and_bad_arguments(tmp_path):
    st = RunStore.create(tmp_path / "r", _manifest(), _problems(2))
    t = st.cells()
    assert t.num_rows == 0 and "has_verdict" in t.column_names
    assert st.unverified() == []
    st.add_samples([_s("q0", 3)])
    t = st.cells(verdicts=["status"])
    assert t.column("status").to_pylist() == [None] and t.column("has_verdict").to_pylist() == [False]
    with pytest.raises(ValueError, match="unknown columns"):
        st.cells(samples=["correct"])
    with pytest.raises(ValueError, match="how"):
        st.cells(how="inner")


def test_cells_match_the_slow_join_on_20k_cells(tmp_path):
    rng = np.random.default_rng(1)
    P, N = 100, 200
    st = RunStore.create(tmp_path / "r", _manifest(), _problems(P))
    has_s = rng.random((P, N)) < 0.8
    has_v = rng.random((P, N)) < 0.7
    ok = rng.random((P, N)) < 0.4
    st.add_samples([_s(f"q{p}", int(i)) for p, i in zip(*np.nonzero(has_s))])
    st.add_verdicts([(f"q{p}", int(i), _v(bool(ok[p, i]))) for p, i in zip(*np.nonzero(has_v))])
    t = RunStore.open(st.path).cells(samples=[], verdicts=["correct"])
    both = has_s | has_v
    p, i = np.nonzero(both)
    assert t.column("problem_id").to_pylist() == [f"q{j}" for j in p.tolist()]
    assert t.column("sample_index").to_pylist() == i.tolist()
    assert t.column("has_sample").to_pylist() == has_s[both].tolist()
    assert t.column("correct").to_pylist() == [bool(o) if v else None for o, v in zip(ok[both], has_v[both])]


# ------------------------------------------------------------------------------------ compatibility


@pytest.mark.parametrize("field,value", [
    ("model", "other"), ("backend", "vllm"), ("sampling", {"n": 4, "temperature": 1.0}),
    ("prompt_template", {"name": "t", "text": "other {p}"}), ("prompt_template", "u"), ("dataset_hash", "def")])
def test_check_existing_refuses_each_field_before_any_write(tmp_path, field, value):
    run = tmp_path / "r"
    RunStore.create(run, _manifest(), _problems(2))
    before = sorted(os.listdir(run))
    with pytest.raises(InputError, match=f"different {field}") as e:
        RunStore.check_existing(run, {field: value})
    assert e.value.field == field and e.value.path == str(run) and "new output directory" in str(e.value)
    assert sorted(os.listdir(run)) == before


def test_check_existing_accepts_the_same_run_and_a_new_directory(tmp_path):
    run = tmp_path / "r"
    RunStore.check_existing(run, {"model": "anything"})  # no run yet: nothing to compare
    RunStore.create(run, _manifest(), _problems(2))
    RunStore.check_existing(run, {"model": "m", "backend": "hf", "dataset_hash": "abc",
                                  "sampling": {"n": 64, "temperature": 0.6},  # n may grow
                                  "prompt_template": "t"})  # a template by name: the name is compared
    RunStore.check_existing(run, {"prompt_template": {"text": "{p}", "name": "t"}, "sampling": {"temperature": 0.6}})
    with pytest.raises(ValueError, match="compares only"):
        check_same_run(_manifest(), {"dataset_name": "x"}, run)


# ------------------------------------------------------------------------------------ perplexity.parquet


def test_perplexity_roundtrip_and_rescoring_replaces_the_file(tmp_path):
    st = RunStore.create(tmp_path / "r", _manifest(), _problems(2))
    cols = {"problem_id": ["q0", "q0", "q1"], "sample_index": [0, 1, 0], "scorer": ["base"] * 3,
            "n_tokens": [4, 0, 2], "sum_logprob": [-4 * math.log(3.0), 0.0, -1.0]}
    path = write_perplexity(st, cols)
    assert path == st.side_path(PERPLEXITY_FILE)
    raw = pq.read_table(path)
    assert raw.column_names == ["problem_id", "sample_index", "scorer", "n_tokens", "sum_logprob", "perplexity"]
    ppl = raw.column("perplexity").to_pylist()
    assert ppl[0] == pytest.approx(3.0) and math.isnan(ppl[1]) and ppl[2] == pytest.approx(math.exp(0.5))
    t = read_perplexity(st.path)
    assert t.column_names == ["problem_id", "sample_index", "scorer", "perplexity"]
    assert t.column("perplexity").to_pylist()[0] == pytest.approx(3.0) and math.isnan(t.column("perplexity")[1].as_py())
    write_perplexity(st, {**cols, "scorer": ["rl"] * 3})
    assert read_perplexity(st.path).column("scorer").to_pylist() == ["rl"] * 3
    assert not any(n.startswith(".tmp-") for n in os.listdir(st.path))
    with pytest.raises(ValueError, match="missing"):
        write_perplexity(st, {k: v for k, v in cols.items() if k != "scorer"})
    with pytest.raises(ValueError, match="unequal"):
        write_perplexity(st, {**cols, "n_tokens": [1]})


def test_perplexity_of_other_tools_files(tmp_path: Path):
    assert read_perplexity(tmp_path) is None
    path = tmp_path / PERPLEXITY_FILE
    pq.write_table(pa.table({"problem_id": ["a", "b", "c"], "sample_index": [0, 0, 0], "scorer": ["s", None, "s"],
                             "n_tokens": [2.0, 0.0, 5.0], "sum_logprob": [-2.0, -1.0, -5.0 * math.log(2.0)],
                             "perplexity": [7.0, None, None]}), path)
    t = read_perplexity(tmp_path)
    got = t.column("perplexity").to_pylist()
    assert got[0] == 7.0 and math.isnan(got[1]) and got[2] == pytest.approx(2.0)  # stored wins, else derived
    assert t.column("scorer").to_pylist() == ["s", "", "s"]
    pq.write_table(pa.table({"problem_id": ["a"], "sample_index": [0], "perplexity": [3.0]}), path)
    with pytest.raises(InputError, match="missing column") as e:
        read_perplexity(tmp_path)
    assert e.value.field == "scorer"
    pq.write_table(pa.table({"problem_id": ["a"], "sample_index": [0], "scorer": ["s"], "n_tokens": [1]}), path)
    with pytest.raises(InputError, match="needs a 'perplexity' column"):
        read_perplexity(tmp_path)
    path.write_bytes(b"PAR1 torn")
    with pytest.raises(InputError, match="unreadable"):
        read_perplexity(tmp_path)


class _FakeScorer:
    """A Scorer: log-probability -1 per character of the response; counts its calls."""

    tokenizer = None

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.closed = False

    def score(self, prompts, continuations):
        self.seen += list(zip(prompts, continuations))
        return [np.full(len(c), -1.0) for c in continuations]

    def close(self) -> None:
        self.closed = True


def test_score_run_writes_perplexity_through_the_store(tmp_path):
    from rlbound.scoring.perplexity import score_run

    st = RunStore.create(tmp_path / "r", _manifest(prompt_template={"name": "raw", "text": "{problem}"}), _problems(2))
    st.add_samples([Sample(problem_id="q0", sample_index=i, seed=i, text=t) for i, t in enumerate(["ab", "ab", "abcd"])]
                   + [Sample(problem_id="q1", sample_index=0, seed=0, text="ab"), Sample(problem_id="q1", sample_index=1, seed=1, text="")])
    fake = _FakeScorer()
    path = score_run(st.path, "base-model", scorer=fake, scorer_label="base", progress=False)
    assert not fake.closed  # a scorer passed in stays open
    assert sorted(fake.seen) == sorted([("what is 0?", "ab"), ("what is 0?", "abcd"), ("what is 1?", "ab"),
                                        ("what is 1?", "")])  # each distinct (prompt, text) once
    raw = pq.read_table(path)
    assert raw.column("n_tokens").to_pylist() == [2, 2, 4, 2, 0]
    assert raw.column("sum_logprob").to_pylist() == [-2.0, -2.0, -4.0, -2.0, 0.0]
    t = read_perplexity(st.path)
    ppl = t.column("perplexity").to_pylist()
    assert ppl[:4] == pytest.approx([math.e] * 4) and math.isnan(ppl[4])
    assert set(t.column("scorer").to_pylist()) == {"base"}
    with pytest.raises(TypeError, match="not a Scorer"):
        score_run(st.path, "m", scorer=object(), progress=False)
