"""Verify every unverified sample of a run, writing verdicts in chunks (resumable after kill -9)."""

from __future__ import annotations

import time
from collections import Counter

from rlbound.errors import InputError

CHUNK_ROWS = 512      # verdicts per stored chunk
CHUNK_SECONDS = 10.0  # or at least this often, so a kill loses little


def verify_run(store, *, verifier: str | None = None, workers: int | None = None, timeout_s: float = 5.0,
               chunk_rows: int = CHUNK_ROWS, progress: bool = True) -> Counter[str]:
    """Grade the samples of ``store`` (a RunStore) that have no verdict yet; returns status counts.

    Each problem is graded by its own verifier unless ``verifier`` overrides it. Grading runs in the
    runner's worker processes under a hard wall-clock limit per item (``workers=0``: in-process, no
    limit, for trusted verifiers such as ``synthetic``). Verdicts are stored every ``chunk_rows`` items
    or ``CHUNK_SECONDS``, so a killed run loses at most one chunk and a rerun grades only the rest.
    """
    from rlbound.verify.base import available
    from rlbound.verify.runner import verify_items

    problems = {p.id: p for p in store.problems()}
    by_verifier: dict[str, list] = {}
    for s in store.unverified():
        p = problems[s.problem_id]
        by_verifier.setdefault(verifier or p.verifier, []).append(((s.problem_id, s.sample_index), p, s.text or ""))
    counts: Counter[str] = Counter()
    for name, items in by_verifier.items():
        if name not in available():
            raise InputError(f"unknown verifier {name!r}; known: {', '.join(available())}", field="verifier")
        buf: list = []
        last = time.time()
        for (pid, idx), verdict in verify_items(name, items, workers=workers, timeout_s=timeout_s, progress=progress):
            buf.append((pid, idx, verdict))
            counts[verdict.status.value] += 1
            if len(buf) >= chunk_rows or time.time() - last > CHUNK_SECONDS:
                store.add_verdicts(buf)
                buf, last = [], time.time()
        if buf:
            store.add_verdicts(buf)
    return counts
