"""Tests of the run store (rlbound.data.store): resumable, crash-safe, deduped cell grid."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rlbound.data import store as store_mod
from rlbound.data.store import RunStore
from rlbound.data.store import parts as store_parts
from rlbound.errors import InputError
from rlbound.types import Problem, RunManifest, Sample, Status, Verdict

HERE = Path(__file__).resolve().parent
WRITER = HERE / "store_writer_proc.py"


def _manifest(**kw) -> RunManifest:
    base = dict(model="m", backend="hf", sampling={"n": 4, "temperature": 0.6}, prompt_template={"name": "t"},
                dataset_name="d", dataset_hash="abc")
    base.update(kw)
    return RunManifest(**base)


def _problems(k: int = 3) -> list[Problem]:
    return [Problem(id=f"q{j}", prompt=f"what is {j}?", reference=str(j), metadata={"level": j, "tags": ["a"]})
            for j in range(k)]


def _v(ok: bool, steps: bool | None = None) -> Verdict:
    return Verdict(correct=ok, status=Status.CORRECT if ok else Status.WRONG, extracted="x", steps_correct=steps)


def _s(pid: str, i: int, text: str | None = None) -> Sample:
    return Sample(problem_id=pid, sample_index=i, seed=i, text=text if text is not None else f"{pid}-{i}",
                  finish_reason="stop", prompt_tokens=3, completion_tokens=5)


def _parts(run: Path, kind: str) -> list[str]:
    return sorted(n for n in os.listdir(run / kind) if n.startswith("part-"))


# ------------------------------------------------------------------------------------ create/open


def test_create_open_roundtrip(tmp_path):
    run = tmp_path / "run"
    st = RunStore.create(run, _manifest(), _problems())
    assert RunStore.is_run_dir(run)
    assert st.manifest.created and st.manifest.rlbound_version
    again = RunStore.open(run)
    assert again.problems() == _problems()
    assert again.manifest == st.manifest
    assert json.loads((run / "manifest.json").read_text())["model"] == "m"
    assert again.samples() == [] and again.verdicts() == {}


def test_add_samples_skips_present_and_repeated_cells(tmp_path):
    st = RunStore.create(tmp_path / "r", _manifest(), _problems())
    assert st.add_samples([_s("q1", 1), _s("q0", 0), _s("q1", 1, "other")]) == 2
    assert st.add_samples([_s("q1", 1, "later"), _s("q0", 2)]) == 1
    assert st.add_samples([_s("q0", 0, "again")]) == 0
    assert len(_parts(st.path, "samples")) == 2  # nothing written for an all-present chunk
    got = RunStore.open(st.path).samples()
    assert [(s.problem_id, s.sample_index, s.text) for s in got] == [
        ("q0", 0, "q0-0"), ("q0", 2, "q0-2"), ("q1", 1, "q1-1")]
    assert got[0] == _s("q0", 0)


def test_add_rejects_unknown_problem_and_bad_index(tmp_path):
    st = RunStore.create(tmp_path / "r", _manifest(), _problems())
    with pytest.raises(InputError, match="not one of this run's problems"):
        st.add_samples([_s("nope", 0)])
    with pytest.raises(InputError) as e:
        st.add_verdicts([("q0", -1, _v(True))])
    assert e.value.field == "sample_index"
    with pytest.raises(InputError, match="wrong type"):
        st.add_samples([Sample("q0", 0, text=5)])  # type: ignore[arg-type]
    assert _parts(st.path, "samples") == [] and _parts(st.path, "verdicts") == []
    assert not any(n.startswith(".tmp-") for n in os.listdir(st.path / "samples"))


def test_reopen_same_configuration_keeps_created_and_resumes(tmp_path):
    run = tmp_path / "r"
    first = RunStore.create(run, _manifest(created="2020-01-01T00:00:00Z"), _problems())
    first.add_samples([_s("q0", 0)])
    again = RunStore.create(run, _manifest(created="2030-01-01T00:00:00Z", sampling={"n": 8, "temperature": 0.6},
                                           extra={"step": 5}), list(reversed(_problems())))
    assert again.manifest.created == "2020-01-01T00:00:00Z"
    assert again.manifest.sampling["n"] == 8 and again.manifest.extra == {"step": 5}
    assert [p.id for p in again.problems()] == ["q0", "q1", "q2"]  # stored order is kept
    assert again.missing_cells(2) == [("q0", 1), ("q1", 0), ("q1", 1), ("q2", 0), ("q2", 1)]
    assert RunStore.open(run).manifest.sampling["n"] == 8


@pytest.mark.parametrize("field,value", [
    ("model", "other"), ("backend", "vllm"), ("sampling", {"n": 4, "temperature": 1.0}),
    ("prompt_template", {"name": "u"}), ("dataset_hash", "def")])
def test_reopen_refuses_other_configuration(tmp_path, field, value):
    run = tmp_path / "r"
    RunStore.create(run, _manifest(), _problems())
    before = (run / "manifest.json").read_bytes()
    with pytest.raises(InputError) as e:
        RunStore.create(run, _manifest(**{field: value}), _problems())
    assert e.value.field == field and field in str(e.value)
    assert (run / "manifest.json").read_bytes() == before


def test_reopen_refuses_other_problems(tmp_path):
    run = tmp_path / "r"
    RunStore.create(run, _manifest(), _problems(3))
    with pytest.raises(InputError, match="different problems"):
        RunStore.create(run, _manifest(), _problems(4))


def test_create_refuses_foreign_directory_and_file(tmp_path):
    d = tmp_path / "mine"
    d.mkdir()
    (d / "notes.txt").write_text("precious")
    with pytest.raises(InputError, match="not empty"):
        RunStore.create(d, _manifest(), _problems())
    assert os.listdir(d) == ["notes.txt"] and (d / "notes.txt").read_text() == "precious"
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(InputError, match="not a directory"):
        RunStore.create(f, _manifest(), _problems())
    empty = tmp_path / "empty"
    empty.mkdir()
    assert RunStore.is_run_dir(RunStore.create(empty, _manifest(), _problems()).path)


def test_create_completes_an_interrupted_create(tmp_path):
    run = tmp_path / "r"
    RunStore.create(run, _manifest(), _problems())
    (run / "manifest.json").unlink()  # as if killed between problems.parquet and manifest.json
    (run / ".tmp-999999999-abcd.json").write_text("{")
    st = RunStore.create(run, _manifest(), _problems())
    assert RunStore.is_run_dir(run) and st.problems() == _problems()
    assert not any(n.startswith(".tmp-") for n in os.listdir(run))


def test_open_names_what_is_missing(tmp_path):
    with pytest.raises(InputError, match="no such run directory"):
        RunStore.open(tmp_path / "absent")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "manifest.json").write_text("{}")
    with pytest.raises(InputError) as e:
        RunStore.open(tmp_path / "half")
    assert "problems.parquet" in str(e.value) and "half" in str(e.value)
    assert not RunStore.is_run_dir(tmp_path / "half")


def test_duplicate_problem_ids_rejected(tmp_path):
    with pytest.raises(InputError, match="duplicate problem id"):
        RunStore.create(tmp_path / "r", _manifest(), _problems(2) + _problems(1))
    assert not (tmp_path / "r").exists()


# ------------------------------------------------------------------------------------ reading


def test_missing_cells_unverified_and_counts(tmp_path):
    st = RunStore.create(tmp_path / "r", _manifest(), _problems(2))
    st.add_samples([_s(p, i) for p in ("q0", "q1") for i in range(3)])
    assert st.missing_cells(4) == [("q0", 3), ("q1", 3)]
    assert st.missing_cells(0) == []
    st.add_verdicts([("q0", 0, _v(True, True)), ("q0", 1, _v(False)), ("q1", 2, _v(True, False))])
    assert [(s.problem_id, s.sample_index) for s in st.unverified()] == [("q0", 2), ("q1", 0), ("q1", 1)]
    with pytest.raises(InputError, match="3 samples have no verdict"):
        st.counts()
    ids, n, c = st.counts(allow_partial=True)
    assert ids == ["q0", "q1"] and n.tolist() == [2, 1] and c.tolist() == [1, 1]
    ids, n, c = st.counts("steps_correct", allow_partial=True)
    assert n.tolist() == [2, 1] and c.tolist() == [1, 0]  # None counts as not correct
    st.add_verdicts([("q1", 0, _v(False, True))])  # every step right, answer wrong: not CoT-correct
    assert st.counts("steps_correct", allow_partial=True)[2].tolist() == [1, 0]
    st = RunStore.create(tmp_path / "r2", _manifest(), _problems(2))
    st.add_samples([_s(p, i) for p in ("q0", "q1") for i in range(3)])
    st.add_verdicts([("q0", 0, _v(True, True)), ("q0", 1, _v(False)), ("q1", 2, _v(True, False))])
    assert st.add_verdicts([("q0", 2, _v(True)), ("q1", 0, _v(False)), ("q1", 1, _v(False)),
                            ("q0", 0, _v(False))]) == 3  # q0/0 already verified: kept as True
    ids, n, c = st.counts()
    assert n.dtype == np.int64 and n.tolist() == [3, 3] and c.tolist() == [2, 1]
    assert st.verdicts()[("q0", 0)].correct is True


def test_counts_errors(tmp_path):
    st = RunStore.create(tmp_path / "r", _manifest(), _problems(3))
    st.add_verdicts([("q0", 0, _v(True))])  # verdict without a sample is allowed
    with pytest.raises(InputError, match="2 of 3 problems have no verdicts"):
        st.counts()
    ids, n, c = st.counts(allow_partial=True)
    assert ids == ["q0"] and n.tolist() == [1] and c.tolist() == [1]
    with pytest.raises(InputError, match="steps_correct"):
        st.counts("steps_correct", allow_partial=True)
    with pytest.raises(InputError, match="unknown count field"):
        st.counts("bogus")


def test_counts_vectorised_matches_python_on_100k_cells(tmp_path):
    rng = np.random.default_rng(0)
    P, N = 500, 200
    probs = [Problem(id=f"p{j}", prompt="") for j in range(P)]
    st = RunStore.create(tmp_path / "r", _manifest(), probs)
    ok = rng.random((P, N)) < rng.random((P, 1))
    # write in shuffled order across several parts, with the verdict table built directly
    order = rng.permutation(P * N)
    for part in np.array_split(order, 5):
        rows = [(f"p{k // N}", int(k % N), _v(bool(ok[k // N, k % N]))) for k in part.tolist()]
        assert st.add_verdicts(rows) == len(rows)
    ids, n, c = RunStore.open(st.path).counts()
    assert ids == [p.id for p in probs]
    assert (n == N).all() and c.tolist() == ok.sum(axis=1).tolist()
    vt = st.verdict_table()
    assert vt.num_rows == P * N
    assert vt.column("problem_id").to_pylist()[:2] == ["p0", "p0"]
    assert vt.column("sample_index").to_pylist()[:3] == [0, 1, 2]


# ------------------------------------------------------------------------------------ races, damage


def _write_raw_part(run: Path, kind: str, seq: int, table: pa.Table) -> Path:
    path = run / kind / f"part-{seq:010d}-deadbeef.parquet"
    pq.write_table(table, path)
    return path


def test_readers_dedupe_racing_writers_first_part_wins(tmp_path):
    st = RunStore.create(tmp_path / "r", _manifest(), _problems(2))
    st.add_samples([_s("q0", 0, "first"), _s("q0", 1, "first")])
    # a second writer that raced: same cell q0/0 in a later part, plus an unknown problem
    late = pa.Table.from_pylist([dict(problem_id="q0", sample_index=0, text="second"),
                                 dict(problem_id="zz", sample_index=0, text="stray")],
                                schema=store_mod.SAMPLE_SCHEMA)
    _write_raw_part(st.path, "samples", 99, late)
    fresh = RunStore.open(st.path)
    got = {(s.problem_id, s.sample_index): s.text for s in fresh.samples()}
    assert got[("q0", 0)] == "first" and got[("q0", 1)] == "first"
    assert list(got)[-1] == ("zz", 0)  # unknown problems sort last
    issues = fresh.verify_integrity()
    assert any("1 duplicate cells" in i for i in issues)
    assert any("unknown to problems.parquet" in i and "zz" in i for i in issues)
    assert fresh.add_samples([_s("q0", 0, "third")]) == 0


def test_verify_integrity_flags_contradicting_verdicts_and_unreadable_parts(tmp_path):
    st = RunStore.create(tmp_path / "r", _manifest(), _problems(1))
    assert st.verify_integrity() == []
    bad = pa.Table.from_pylist([dict(problem_id="q0", sample_index=0, correct=True, status="wrong")],
                               schema=store_mod.VERDICT_SCHEMA)
    _write_raw_part(st.path, "verdicts", 1, bad)
    (st.path / "samples" / "part-0000000002-0badf00d.parquet").write_bytes(b"PAR1garbage")
    issues = RunStore.open(st.path).verify_integrity()
    assert any("contradicts" in i for i in issues)
    assert any("unreadable part" in i for i in issues)
    with pytest.raises(InputError, match="unreadable part"):
        RunStore.open(st.path).samples()


def test_torn_temp_file_is_ignored_and_removed_by_a_writer(tmp_path):
    st = RunStore.create(tmp_path / "r", _manifest(), _problems(2))
    st.add_samples([_s("q0", 0), _s("q1", 0)])
    part = st.path / "samples" / _parts(st.path, "samples")[0]
    blob = part.read_bytes()
    dead = 999_999_999  # above any Linux pid_max: never a live process
    torn = st.path / "samples" / f".tmp-{dead}-0123abcd.parquet"
    torn.write_bytes(blob[: len(blob) // 2])  # a half-written chunk from a killed writer
    garbage = st.path / "verdicts" / f".tmp-{dead}-feedface.parquet"
    garbage.write_bytes(b"\x00" * 10)
    live = st.path / "samples" / f".tmp-{os.getppid()}-aaaa.parquet"  # a live writer's chunk in flight
    live.write_bytes(b"x")
    reader = RunStore.open(st.path)
    assert [(s.problem_id, s.sample_index) for s in reader.samples()] == [("q0", 0), ("q1", 0)]
    assert reader.verdicts() == {} and reader.verify_integrity() == []
    assert torn.exists()  # a reader never deletes
    writer = RunStore.open(st.path)
    assert writer.add_samples([_s("q0", 1)]) == 1
    assert not torn.exists() and not garbage.exists()
    assert live.exists()
    assert len(writer.samples()) == 3


def test_failed_chunk_write_leaves_nothing_visible(tmp_path, monkeypatch):
    st = RunStore.create(tmp_path / "r", _manifest(), _problems(1))

    def boom(table, fh, **kw):
        fh.write(b"PAR1 half")
        raise OSError("disk full")

    monkeypatch.setattr(store_parts.pq, "write_table", boom)
    with pytest.raises(OSError, match="disk full"):
        st.add_samples([_s("q0", 0)])
    monkeypatch.undo()
    assert os.listdir(st.path / "samples") == []
    assert st.add_samples([_s("q0", 0)]) == 1  # the cell was not marked as written


def test_compact_merges_parts_and_keeps_every_cell(tmp_path):
    st = RunStore.create(tmp_path / "r", _manifest(), _problems(3))
    for i in range(4):
        st.add_samples([_s(p, i) for p in ("q2", "q0", "q1")])
        st.add_verdicts([(p, i, _v(i % 2 == 0)) for p in ("q0", "q1", "q2")])
    before_s, before_v = st.samples(), st.verdicts()
    st.compact()
    assert len(_parts(st.path, "samples")) == 1 and len(_parts(st.path, "verdicts")) == 1
    fresh = RunStore.open(st.path)
    assert fresh.samples() == before_s and fresh.verdicts() == before_v
    assert fresh.verify_integrity() == []
    assert fresh.add_samples([_s("q0", 4)]) == 1 and fresh.add_samples([_s("q0", 3)]) == 0


def test_compaction_killed_midway_is_finished_by_next_writer(tmp_path):
    st = RunStore.create(tmp_path / "r", _manifest(), _problems(2))
    st.add_samples([_s("q0", 0)])
    st.add_samples([_s("q1", 0)])
    old = _parts(st.path, "samples")
    merged = st.sample_table()
    # as if killed after the merged part was renamed into place, before the old parts were removed
    (st.path / "samples" / ".compact-00c0ffee.json").write_text(
        json.dumps({"new": "part-0000000000-00c0ffee.parquet", "old": old}))
    pq.write_table(merged, st.path / "samples" / "part-0000000000-00c0ffee.parquet")
    reader = RunStore.open(st.path)
    assert len(reader.samples()) == 2  # overlap deduped on read
    assert any("duplicate" in i for i in reader.verify_integrity())
    writer = RunStore.create(st.path, _manifest(), _problems(2))
    assert _parts(st.path, "samples") == ["part-0000000000-00c0ffee.parquet"]
    assert writer.verify_integrity() == [] and len(writer.samples()) == 2
    assert not any(n.startswith(".compact-") for n in os.listdir(st.path / "samples"))


def test_side_files(tmp_path):
    st = RunStore.create(tmp_path / "r", _manifest(), _problems(1))
    p = st.write_side_file("config.toml", b"a = 1\n")
    assert p == st.side_path("config.toml") and p.read_bytes() == b"a = 1\n"
    st.write_side_file("config.toml", b"a = 2\n")
    assert p.read_bytes() == b"a = 2\n"
    for bad in ("../x", "manifest.json", "samples", ".hidden", ""):
        with pytest.raises(InputError):
            st.side_path(bad)
    assert not any(n.startswith(".tmp-") for n in os.listdir(st.path))


# ------------------------------------------------------------------------------------ kill -9


def _count_parts(run: Path) -> int:
    try:
        return len(os.listdir(run / "samples")) + len(os.listdir(run / "verdicts"))
    except FileNotFoundError:
        return 0


def test_kill_9_at_random_moments_then_rerun_gives_every_cell_exactly_once(tmp_path):
    sys.path.insert(0, str(HERE))
    try:
        import store_writer_proc as wp
    finally:
        sys.path.remove(str(HERE))
    seed = int.from_bytes(os.urandom(4), "little")
    rng = random.Random(seed)
    print(f"kill test seed {seed}")
    run = tmp_path / "run"
    P, N = 50, 64
    args = [sys.executable, str(WRITER), str(run), str(P), str(N), "16", "0.01", "20"]  # >= 2 s of sleeps: no run ends before its kill
    interrupted = 0
    # one kill at an arbitrary early moment (interpreter start-up, create, first chunks)
    proc = subprocess.Popen(args)
    time.sleep(rng.uniform(0.0, 0.8))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for _ in range(4):
        before = _count_parts(run)
        proc = subprocess.Popen(args)
        deadline = time.time() + 30
        while _count_parts(run) <= before and proc.poll() is None and time.time() < deadline:
            time.sleep(0.01)  # wait until this run has made progress, then kill it mid-stream
        time.sleep(rng.uniform(0.0, 0.25))
        if proc.poll() is None:
            interrupted += 1
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert interrupted >= 3, f"writer finished before it could be killed (seed {seed})"
    assert RunStore.open(run).sample_table().num_rows < P * N, f"kills landed too late (seed {seed})"
    done = subprocess.run(args, timeout=120)
    assert done.returncode == 0

    st = RunStore.open(run)
    assert st.verify_integrity() == []
    # on disk: every cell exactly once across all sample parts (not only after read-side dedupe)
    raw = pa.concat_tables([pq.read_table(run / "samples" / n) for n in _parts(run, "samples")])
    keys = list(zip(raw.column("problem_id").to_pylist(), raw.column("sample_index").to_pylist()))
    assert len(keys) == len(set(keys)) == P * N
    samples = st.samples()
    assert [(s.problem_id, s.sample_index) for s in samples] == [
        (wp.problem_id(j), i) for j in range(P) for i in range(N)]
    assert all(s == wp.sample_for(s.problem_id, s.sample_index) for s in samples)
    verdicts = st.verdicts()
    assert len(verdicts) == P * N
    assert all(v == wp.verdict_for(pid, i) for (pid, i), v in verdicts.items())
    ids, n, c = st.counts()
    assert (n == N).all()
    assert c.tolist() == [sum(wp.correct_for(pid, i) for i in range(N)) for pid in ids]
    leftovers = [n for d in (run, run / "samples", run / "verdicts") for n in os.listdir(d)
                 if n.startswith((".tmp-", ".compact-"))]
    assert leftovers == []
    assert st.manifest.model == "fake-model"
