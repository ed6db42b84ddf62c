"""Writer process for the kill -9 test of the run store (tests/data/test_store.py).

Usage: python store_writer_proc.py RUN_DIR N_PROBLEMS N_SAMPLES CHUNK SLEEP_S COMPACT_EVERY

Fills the (problem, sample) grid in small chunks, each chunk's samples then their verdicts as separate
parts, sleeping a little between chunks and compacting every COMPACT_EVERY chunks, so a SIGKILL can
land in any phase (create, sample part, verdict part, compaction). Every chunk also re-sends one
cell already stored and repeats one cell within the call, to exercise the skip logic. Texts and
verdicts are deterministic functions of the cell, so the test can check content.
"""

from __future__ import annotations

import sys
import time

from rlbound.data.store import RunStore
from rlbound.types import Problem, RunManifest, Sample, Status, Verdict


def problem_id(j: int) -> str:
    return f"p{j:03d}"


def text_for(pid: str, i: int) -> str:
    j = int(pid[1:])
    return f"{pid}/{i}: " + "λ" * (i % 5) + "x" * ((j * 31 + i * 7) % 97)


def correct_for(pid: str, i: int) -> bool:
    return (int(pid[1:]) * 7 + i) % 3 == 0


def verdict_for(pid: str, i: int) -> Verdict:
    ok = correct_for(pid, i)
    return Verdict(correct=ok, status=Status.CORRECT if ok else Status.WRONG, extracted=str(i), verifier="fake")


def sample_for(pid: str, i: int) -> Sample:
    return Sample(problem_id=pid, sample_index=i, seed=1000 * int(pid[1:]) + i, text=text_for(pid, i),
                  finish_reason="stop")


def main(argv: list[str]) -> int:
    out, n_problems, n_samples, chunk, sleep_s, compact_every = argv
    n_problems, n_samples, chunk, compact_every = int(n_problems), int(n_samples), int(chunk), int(compact_every)
    sleep_s = float(sleep_s)
    problems = [Problem(id=problem_id(j), prompt=f"problem {j}") for j in range(n_problems)]
    manifest = RunManifest(model="fake-model", backend="test", sampling={"n": n_samples, "temperature": 0.6},
                           dataset_hash="kill-test")
    store = RunStore.create(out, manifest, problems)
    missing = store.missing_cells(n_samples)
    prev: Sample | None = None
    for k, start in enumerate(range(0, len(missing), chunk)):
        cells = missing[start:start + chunk]
        batch = [sample_for(pid, i) for pid, i in cells]
        extra = [prev] if prev is not None else []
        store.add_samples(extra + batch + batch[:1])
        store.add_verdicts([(pid, i, verdict_for(pid, i)) for pid, i in cells] + [(cells[0][0], cells[0][1],
                                                                                     verdict_for(*cells[0]))])
        prev = batch[-1]
        if compact_every and (k + 1) % compact_every == 0:
            store.compact()
        if sleep_s:
            time.sleep(sleep_s)
    pending = store.unverified()  # samples whose verdict part was lost to a kill
    for start in range(0, len(pending), chunk):
        store.add_verdicts([(s.problem_id, s.sample_index, verdict_for(s.problem_id, s.sample_index))
                            for s in pending[start:start + chunk]])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
