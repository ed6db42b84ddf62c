"""``RunStore``: one run directory, crash-safe and resumable (user pain point 10).

A run of the study design of Yue et al. 2025 (arXiv 2504.13837) is a grid of cells
``(problem_id, sample_index)``: every problem is sampled ``n`` times and each sample gets a verdict,
from which (n, c) per problem feed the pass@k estimator of Chen et al. 2021. The layout and the
crash-safety rules are in the docstring of ``rlbound.data.store``; the part files are
``rlbound.data.store.parts``, the manifest and problems ``rlbound.data.store.manifest``.

Part files are immutable; writing a cell that is already stored is a no-op, so rerunning a killed
writer fills exactly the missing cells. Readers dedupe by cell (first part in (seq, name) order
wins) in case two writers raced; ``verify_integrity`` reports such duplicates.

Cells are keyed internally by an int64 code ``problem ordinal << 32 | sample_index`` so that
dedupe, ``counts``, ``missing_cells`` and the sample-verdict join (``cells``) are numpy operations
over ~1M rows, not Python loops.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rlbound.data.atomic import atomic_write_bytes, atomic_write_text
from rlbound.data.store.cells import join_cells, key_columns
from rlbound.data.store.manifest import (
    MANIFEST,
    PROBLEMS,
    SAME_FIELDS,
    check_problems,
    check_same_problems,
    check_same_run,
    is_interrupted_create,
    merged_manifest,
    normalise,
    problems_table,
    read_manifest,
    read_problems,
    stamped,
)
from rlbound.data.store.parts import (
    KINDS,
    SAMPLE_FIELDS,
    SAMPLE_SCHEMA,
    SAMPLES_DIR,
    VERDICT_FIELDS,
    VERDICT_SCHEMA,
    VERDICTS_DIR,
    conform,
    finish_compactions,
    list_parts,
    part_name,
    read_part,
    remove_stale_tmp,
    schema_of,
    to_table,
    write_compaction,
    write_parquet,
)
from rlbound.errors import InputError
from rlbound.types import Problem, RunManifest, Sample, Status, Verdict

RESERVED = {MANIFEST, PROBLEMS, SAMPLES_DIR, VERDICTS_DIR}
_SHIFT = 32  # cell code = problem ordinal << 32 | sample_index
_MAX_INDEX = (1 << _SHIFT) - 1


class RunStore:
    """One run directory: manifest, problems, and the sample/verdict grid (see module docstring).

    Cells are keyed by ``(problem_id, sample_index)`` as in Chen et al. 2021 (n samples per problem);
    ``counts()`` turns the verified grid into the (n, c) arrays the pass@k estimator of Yue et al.
    2025 (arXiv 2504.13837, Sec. 2.1) needs.
    """

    def __init__(self, path: Path, manifest: RunManifest, problems: list[Problem]) -> None:
        self.path = Path(path)
        self._manifest = manifest
        self._problems = problems
        self._ids = [p.id for p in problems]
        self._ordinal = {pid: i for i, pid in enumerate(self._ids)}
        self._ids_array = pa.array(self._ids, type=pa.string())
        self._extra_ids: dict[str, int] = {}  # problem ids found in parts but not in problems.parquet
        self._cleaned = False
        self._next_seq = 0
        kinds = KINDS
        # per kind ("samples"/"verdicts"), per part name (parts are immutable): conformed table, cell codes
        self._part_cache: dict[str, dict[str, pa.Table]] = {k: {} for k in kinds}
        self._part_codes: dict[str, dict[str, np.ndarray]] = {k: {} for k in kinds}
        # writers: part names whose cells are in _keys, and the set of cell codes stored
        self._key_parts: dict[str, set[str]] = {k: set() for k in kinds}
        self._keys: dict[str, set[int]] = {k: set() for k in kinds}
        # readers: part names -> (sorted unique codes, row of each in the concatenated parts)
        self._index_cache: dict[str, tuple[tuple[str, ...], np.ndarray, np.ndarray] | None] = {k: None for k in kinds}
        # readers: part names -> deduped table
        self._table_cache: dict[str, tuple[tuple[str, ...], pa.Table] | None] = {k: None for k in kinds}

    # ---------------------------------------------------------------- opening and creating

    @staticmethod
    def is_run_dir(path: str | os.PathLike[str]) -> bool:
        """True when ``path`` is a directory holding ``manifest.json`` and ``problems.parquet``."""
        p = Path(path)
        return p.is_dir() and (p / MANIFEST).is_file() and (p / PROBLEMS).is_file()

    @classmethod
    def check_existing(cls, path: str | os.PathLike[str], given: Mapping[str, Any]) -> None:
        """Refuse a write of another configuration into the run at ``path`` before any work is done.

        Nothing happens when ``path`` is no run directory yet. Else ``given`` (manifest fields of
        ``SAME_FIELDS``, as for ``check_same_run``: ``n`` aside, a template may be given by name) must
        equal the stored manifest's, or InputError names the first differing field. ``create`` runs
        the same check on the whole manifest.
        """
        if cls.is_run_dir(path):
            check_same_run(read_manifest(Path(path) / MANIFEST), given, path)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> RunStore:
        """Open an existing run directory; InputError naming the path and what is missing otherwise."""
        p = Path(path)
        if not p.exists():
            raise InputError("no such run directory", path=str(p))
        if not p.is_dir():
            raise InputError("not a run directory (it is a file)", path=str(p))
        missing = [n for n in (MANIFEST, PROBLEMS) if not (p / n).is_file()]
        if missing:
            raise InputError(f"not a run directory: missing {' and '.join(missing)}", path=str(p))
        return cls(p, read_manifest(p / MANIFEST), read_problems(p / PROBLEMS))

    @classmethod
    def create(cls, path: str | os.PathLike[str], manifest: RunManifest, problems: Sequence[Problem]) -> RunStore:
        """Create a run directory, or reopen it to resume the same run.

        A new (or empty) directory gets ``manifest.json`` and ``problems.parquet``. An existing run
        directory is opened if its manifest has the same model, backend, sampling (``n`` may differ:
        extending a run to more samples is allowed), prompt_template and dataset_hash and the same
        problem ids; else InputError naming the differing field. ``created`` is kept from the first
        write. A non-empty directory that is not a run directory is refused, never overwritten.
        """
        p = Path(path)
        problems = list(problems)
        check_problems(problems)
        if p.exists() and not p.is_dir():
            raise InputError("exists and is not a directory; refusing to overwrite it", path=str(p))
        if cls.is_run_dir(p):
            return cls._reopen(p, manifest, problems)
        if p.is_dir() and not is_interrupted_create(p):
            raise InputError("directory is not empty and is not a run directory; refusing to write into it "
                             "(choose a new or empty directory)", path=str(p))
        p.mkdir(parents=True, exist_ok=True)
        remove_stale_tmp(p)
        manifest = stamped(manifest)
        (p / SAMPLES_DIR).mkdir(exist_ok=True)
        (p / VERDICTS_DIR).mkdir(exist_ok=True)
        write_parquet(p / PROBLEMS, problems_table(problems))
        atomic_write_text(p / MANIFEST, manifest.to_json())  # last: marks done
        store = cls(p, manifest, problems)
        store._cleaned = True
        return store

    @classmethod
    def _reopen(cls, p: Path, manifest: RunManifest, problems: list[Problem]) -> RunStore:
        store = cls.open(p)
        old = store._manifest
        check_same_run(old, {name: getattr(manifest, name) for name in SAME_FIELDS}, p)
        check_same_problems(store._ids, problems, p)
        merged = merged_manifest(old, manifest)
        if normalise(dataclasses.asdict(merged)) != normalise(dataclasses.asdict(old)):
            atomic_write_text(p / MANIFEST, merged.to_json())
            store._manifest = merged
        store._clean_once()
        return store

    # ---------------------------------------------------------------- simple accessors

    @property
    def manifest(self) -> RunManifest:
        """The run's manifest (model, backend, sampling, prompt template, dataset hash, ...)."""
        return self._manifest

    def problems(self) -> list[Problem]:
        """The run's problems, in stored order (the order of every per-problem array)."""
        return list(self._problems)

    def side_path(self, name: str) -> Path:
        """Path of side file ``name`` (a plain file name such as ``perplexity.parquet``) in the run dir."""
        if (not name or "/" in name or "\\" in name or name.startswith(".") or name in RESERVED
                or name in (".", "..")):
            raise InputError(f"invalid side file name {name!r} (a plain file name, not {sorted(RESERVED)})",
                             path=str(self.path), field="name")
        return self.path / name

    def write_side_file(self, name: str, data: bytes) -> Path:
        """Write ``data`` to side file ``name`` atomically (temp file, fsync, rename); returns its path."""
        dest = self.side_path(name)
        self._clean_once()
        return atomic_write_bytes(dest, bytes(data))

    # ---------------------------------------------------------------- writing cells

    def add_samples(self, samples: Iterable[Sample]) -> int:
        """Write the samples whose cell is not stored yet as one atomic part; returns how many.

        Cells already stored, and repeats within ``samples``, are skipped (the first one given wins),
        so rerunning an interrupted writer fills exactly the missing cells.
        """
        self._clean_once()
        self._refresh_keys(SAMPLES_DIR)
        keys = self._keys[SAMPLES_DIR]
        fresh: list[Sample] = []
        new_codes: list[int] = []
        batch: set[int] = set()
        for s in samples:
            if not isinstance(s, Sample):
                raise TypeError(f"add_samples expects Sample objects, got {type(s).__name__}")
            code = self._code_for_write(s.problem_id, s.sample_index, "sample")
            if code in keys or code in batch:
                continue
            batch.add(code)
            fresh.append(s)
            new_codes.append(code)
        if not fresh:
            return 0
        cols = {name: [getattr(s, name) for s in fresh] for name in SAMPLE_FIELDS}
        table = to_table(cols, SAMPLE_SCHEMA, self.path)
        name = self._write_part(SAMPLES_DIR, table)
        self._remember(SAMPLES_DIR, name, table, new_codes)
        return len(fresh)

    def add_verdicts(self, rows: Iterable[tuple[str, int, Verdict]]) -> int:
        """Write verdicts ``(problem_id, sample_index, verdict)`` for cells not verified yet; returns how many.

        Cells that already have a verdict, and repeats within ``rows``, are skipped (first wins). A
        verdict for a cell with no stored sample is accepted (imports may carry verdicts only).
        """
        self._clean_once()
        self._refresh_keys(VERDICTS_DIR)
        keys = self._keys[VERDICTS_DIR]
        fresh: list[tuple[str, int, Verdict]] = []
        new_codes: list[int] = []
        batch: set[int] = set()
        for row in rows:
            try:
                pid, idx, v = row
            except (TypeError, ValueError):
                raise TypeError("add_verdicts expects (problem_id, sample_index, Verdict) tuples") from None
            if not isinstance(v, Verdict):
                raise TypeError(f"add_verdicts expects Verdict objects, got {type(v).__name__}")
            code = self._code_for_write(pid, idx, "verdict")
            if code in keys or code in batch:
                continue
            batch.add(code)
            fresh.append((pid, idx, v))
            new_codes.append(code)
        if not fresh:
            return 0
        cols: dict[str, list[Any]] = {"problem_id": [r[0] for r in fresh], "sample_index": [r[1] for r in fresh]}
        for name in VERDICT_FIELDS:
            if name == "status":
                cols[name] = [r[2].status.value for r in fresh]
            else:
                cols[name] = [getattr(r[2], name) for r in fresh]
        table = to_table(cols, VERDICT_SCHEMA, self.path)
        name = self._write_part(VERDICTS_DIR, table)
        self._remember(VERDICTS_DIR, name, table, new_codes)
        return len(fresh)

    def compact(self) -> None:
        """Merge each kind's parts into one part (deduped), then remove the merged parts.

        The merged part is written and renamed into place before any old part is removed, so a kill
        at any moment leaves every cell readable (overlaps are deduped on read, first part wins).
        """
        self._clean_once()
        for kind in KINDS:
            self._compact(kind)

    def _compact(self, kind: str) -> None:
        if len(list_parts(self.path / kind)) <= 1:
            return
        names, table = self._dedup_table(kind)
        if len(names) <= 1:
            return
        new = write_compaction(self.path / kind, names, table)
        self._part_cache[kind][new] = table
        self._key_parts[kind] = (self._key_parts[kind] - set(names)) | {new}

    # ---------------------------------------------------------------- reading

    def sample_table(self) -> pa.Table:
        """All samples as one Arrow table (SAMPLE_SCHEMA), deduped, in problem order then sample_index."""
        return self._dedup_table(SAMPLES_DIR)[1]

    def verdict_table(self) -> pa.Table:
        """All verdicts as one Arrow table (VERDICT_SCHEMA), deduped, in problem order then sample_index."""
        return self._dedup_table(VERDICTS_DIR)[1]

    def samples(self) -> list[Sample]:
        """All samples as ``Sample`` objects, ordered by problem order then sample_index."""
        t = self.sample_table()
        cols = [t.column(n).to_pylist() for n in SAMPLE_FIELDS]
        return [Sample(*vals) for vals in zip(*cols)]

    def verdicts(self) -> dict[tuple[str, int], Verdict]:
        """All verdicts keyed by cell ``(problem_id, sample_index)``."""
        t = self.verdict_table()
        pids = t.column("problem_id").to_pylist()
        idxs = t.column("sample_index").to_pylist()
        cols = [t.column(n).to_pylist() for n in VERDICT_FIELDS]
        out: dict[tuple[str, int], Verdict] = {}
        for pid, idx, vals in zip(pids, idxs, zip(*cols)):
            try:
                out[(pid, idx)] = Verdict(*vals)
            except (ValueError, TypeError) as e:
                raise InputError(f"corrupt verdict for cell ({pid!r}, {idx}): {e}; see verify_integrity()",
                                 path=str(self.path / VERDICTS_DIR)) from None
        return out

    def missing_cells(self, n: int | Mapping[str, int]) -> list[tuple[str, int]]:
        """Cells ``(problem_id, index)`` with index < n that have no sample yet, in problem order.

        ``n`` is one count for every problem, or a per-problem target ``{problem_id: n_i}`` (problems
        not in it: 0), as adaptive sampling allocates. Shapes: the full grid is (P problems, max n);
        the answer lists its unsampled cells below each problem's target, row by row.
        """
        if isinstance(n, Mapping):
            unknown = sorted(set(n) - set(self._ordinal))
            if unknown:
                raise InputError(f"target for problems not in this run, e.g. {unknown[:3]}", field="n")
            target = np.zeros(len(self._ids), dtype=np.int64)
            for pid, t in n.items():
                target[self._ordinal[pid]] = t
        else:
            target = np.full(len(self._ids), n, dtype=np.int64)
        if (target < 0).any():
            raise InputError(f"n must be >= 0, got {int(target.min())}", field="n")
        width = int(target.max()) if target.size else 0
        if width == 0:
            return []
        codes = self._index(SAMPLES_DIR)[1]
        cols = np.arange(width, dtype=np.int64)[None, :]
        grid = (np.arange(len(self._ids), dtype=np.int64)[:, None] << _SHIFT) + cols
        flat = grid[cols < target[:, None]]
        missing = flat[~np.isin(flat, codes, assume_unique=True)]
        ords = (missing >> _SHIFT).tolist()
        idxs = (missing & _MAX_INDEX).tolist()
        ids = self._ids
        return [(ids[o], i) for o, i in zip(ords, idxs)]

    def unverified(self) -> list[Sample]:
        """Samples that have no verdict yet, ordered by problem order then sample_index."""
        t = self.cells(verdicts=(), how="samples")
        t = t.filter(pc.invert(t.column("has_verdict")))
        cols = [t.column(n).to_pylist() for n in SAMPLE_FIELDS]
        return [Sample(*vals) for vals in zip(*cols)]

    def cells(self, samples: Sequence[str] | None = None, verdicts: Sequence[str] | None = None,
              how: str = "outer") -> pa.Table:
        """Samples and verdicts side by side, one row per cell ``(problem_id, sample_index)``: the
        run's one sample-verdict join (both deduped as ``sample_table`` / ``verdict_table`` are).

        ``samples`` / ``verdicts`` name the columns wanted of each (default: all of SAMPLE_SCHEMA /
        VERDICT_SCHEMA besides the two keys; none with ``()``). ``how="outer"``: every cell that has a
        sample or a verdict; ``how="samples"``: every sampled cell. Columns: problem_id, sample_index,
        the sample columns, the verdict columns (null where the cell has no such row), then the bools
        has_sample and has_verdict. Rows are in problem order then sample_index; cells of problems
        unknown to problems.parquet come last, by problem_id.
        """
        tables = []
        for kind, wanted in ((SAMPLES_DIR, samples), (VERDICTS_DIR, verdicts)):
            columns = key_columns(wanted, schema_of(kind).names)
            names, t = self._dedup_table(kind, columns=columns)
            tables += [t, self._index(kind, names)[1]]
        return join_cells(*tables, how=how, known=len(self._ids), shift=_SHIFT)

    def counts(self, field: str = "correct", allow_partial: bool = False) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Per-problem sample count ``n`` and correct count ``c`` over verified cells (Chen et al. 2021).

        Returns ``(problem_ids, n, c)`` with ``n``, ``c`` int64 arrays of shape (P,), in problem order,
        ready for the pass@k estimator used by Yue et al. 2025 (arXiv 2504.13837).

        ``field`` is ``"correct"`` (final-answer verdict) or ``"steps_correct"`` (CoT-pass@k, Wen et al.
        2025: a response counts when its answer is correct *and* every step is; a verdict whose
        ``steps_correct`` is None counts as not correct, and InputError if no
        verdict of the run carries it). Unless ``allow_partial``, InputError when a problem has no
        verdict or a stored sample has none (pass@k of a partly verified run would mislead); with
        ``allow_partial`` problems without verdicts are left out.
        """
        if field not in ("correct", "steps_correct"):
            raise InputError(f"unknown count field {field!r}; use 'correct' or 'steps_correct'", field="field")
        cols = ["problem_id", "sample_index", field] + (["correct"] if field == "steps_correct" else [])
        names, vt = self._dedup_table(VERDICTS_DIR, columns=cols)
        vcodes = self._index(VERDICTS_DIR, names)[1]
        P = len(self._ids)
        ords = vcodes >> _SHIFT
        unknown = int((ords >= P).sum())
        if unknown:
            raise InputError(f"{unknown} verdicts belong to problems missing from {PROBLEMS}; "
                             "run verify_integrity() for details", path=str(self.path))
        col = vt.column(field)
        if field == "steps_correct" and col.null_count == len(col):
            raise InputError("no verdict of this run carries steps_correct (it needs a step-checking verifier)",
                             path=str(self.path), field=field)
        ok = pc.fill_null(col, False).to_numpy(zero_copy_only=False).astype(np.int64)
        if field == "steps_correct":  # CoT-pass@k counts a response whose answer *and* steps are right
            ok &= pc.fill_null(vt.column("correct"), False).to_numpy(zero_copy_only=False).astype(np.int64)
        n = np.bincount(ords, minlength=P).astype(np.int64)
        c = np.bincount(ords, weights=ok, minlength=P).astype(np.int64)
        if not allow_partial:
            empty = np.flatnonzero(n == 0)
            if len(empty):
                ex = [self._ids[i] for i in empty[:3]]
                raise InputError(f"{len(empty)} of {P} problems have no verdicts (e.g. {ex}); run "
                                 "'rlbound verify' first, or pass allow_partial=True", path=str(self.path))
            scodes = self._index(SAMPLES_DIR)[1]
            pending = int((~np.isin(scodes, vcodes, assume_unique=True)).sum())
            if pending:
                raise InputError(f"{pending} samples have no verdict yet; run 'rlbound verify' first, or pass "
                                 "allow_partial=True", path=str(self.path))
        keep = n > 0
        ids = [pid for pid, k in zip(self._ids, keep) if k]
        return ids, n[keep], c[keep]

    def verify_integrity(self) -> list[str]:
        """Problems found in the run directory, one line each; an empty list means it is sound.

        Checks: unreadable or mis-typed parts, duplicate cells (two writers raced), cells of problems
        unknown to problems.parquet, negative sample indices, verdicts whose ``correct`` contradicts
        their ``status``, unknown status words, duplicate problem ids.
        """
        issues: list[str] = []
        if len(set(self._ids)) != len(self._ids):
            issues.append(f"{PROBLEMS}: {len(self._ids) - len(set(self._ids))} duplicate problem ids")
        known = set(self._ids)
        statuses = {s.value for s in Status}
        for kind, schema in ((SAMPLES_DIR, SAMPLE_SCHEMA), (VERDICTS_DIR, VERDICT_SCHEMA)):
            folder = self.path / kind
            tables = []
            for _, name in list_parts(folder):
                try:
                    tables.append(conform(pq.read_table(folder / name), schema, folder / name))
                except FileNotFoundError:
                    continue
                except (InputError, pa.ArrowException, OSError) as e:
                    issues.append(f"{kind}/{name}: unreadable part ({e})")
            if not tables:
                continue
            t = pa.concat_tables(tables)
            pids = t.column("problem_id")
            idx = t.column("sample_index")
            if pids.null_count or idx.null_count:
                issues.append(f"{kind}: {pids.null_count + idx.null_count} rows with a null problem_id/sample_index")
            neg = int(pc.sum(pc.less(idx, 0)).as_py() or 0)
            if neg:
                issues.append(f"{kind}: {neg} rows with a negative sample_index")
            unk = set(pc.unique(pids).to_pylist()) - known - {None}
            if unk:
                ex = sorted(unk)[:3]
                nrows = int(pc.sum(pc.invert(pc.is_in(pids, value_set=self._ids_array))).as_py() or 0)
                issues.append(f"{kind}: {nrows} rows of {len(unk)} problems unknown to {PROBLEMS} (e.g. {ex})")
            codes = self._codes(t)
            uniq = np.unique(codes)
            if len(uniq) != len(codes):
                issues.append(f"{kind}: {len(codes) - len(uniq)} duplicate cells across parts (first part is used)")
            if kind == VERDICTS_DIR:
                bad_status = set(pc.unique(t.column("status")).to_pylist()) - statuses
                if bad_status:
                    issues.append(f"{kind}: unknown status values {sorted(map(str, bad_status))}")
                is_correct = pc.equal(t.column("status"), "correct")
                contra = int(pc.sum(pc.not_equal(pc.fill_null(t.column("correct"), False),
                                                 pc.fill_null(is_correct, False))).as_py() or 0)
                if contra:
                    issues.append(f"{kind}: {contra} verdicts whose 'correct' contradicts their 'status'")
        return issues

    # ---------------------------------------------------------------- internals

    def _clean_once(self) -> None:
        if self._cleaned:
            return
        for folder in (self.path, self.path / SAMPLES_DIR, self.path / VERDICTS_DIR):
            remove_stale_tmp(folder)
        for kind in (SAMPLES_DIR, VERDICTS_DIR):
            finish_compactions(self.path / kind)
        self._cleaned = True

    def _code_for_write(self, pid: Any, idx: Any, what: str) -> int:
        o = self._ordinal.get(pid) if isinstance(pid, str) else None
        if o is None:
            raise InputError(f"{what} for problem {pid!r}, which is not one of this run's problems",
                             path=str(self.path), field="problem_id")
        if isinstance(idx, bool) or not isinstance(idx, (int, np.integer)) or not 0 <= idx <= _MAX_INDEX:
            raise InputError(f"{what} for problem {pid!r} has sample_index {idx!r}; need an int >= 0",
                             path=str(self.path), field="sample_index")
        return (o << _SHIFT) | int(idx)

    def _write_part(self, kind: str, table: pa.Table) -> str:
        folder = self.path / kind
        folder.mkdir(exist_ok=True)
        parts = list_parts(folder)
        seq = max(self._next_seq, (parts[-1][0] + 1) if parts else 0)
        self._next_seq = seq + 1
        name = part_name(seq)
        write_parquet(folder / name, table)
        return name

    def _remember(self, kind: str, name: str, table: pa.Table, codes: list[int]) -> None:
        self._keys[kind].update(codes)
        self._key_parts[kind].add(name)
        self._part_cache[kind][name] = table
        self._part_codes[kind][name] = np.asarray(codes, dtype=np.int64)

    def _read_parquet(self, kind: str, name: str, columns: list[str] | None = None) -> pa.Table:
        return read_part(self.path / kind / name, schema_of(kind, columns))

    def _read_part(self, kind: str, name: str) -> pa.Table:
        """The whole part ``name`` (conformed to the current schema), cached."""
        t = self._part_cache[kind].get(name)
        if t is None:
            t = self._read_parquet(kind, name)
            self._part_cache[kind][name] = t
        return t

    def _part_keys(self, kind: str, name: str) -> np.ndarray:
        """Cell codes of part ``name``, int64 of shape (rows,), read from its key columns only."""
        codes = self._part_codes[kind].get(name)
        if codes is None:
            t = self._part_cache[kind].get(name)
            if t is None:
                t = self._read_parquet(kind, name, columns=["problem_id", "sample_index"])
            codes = self._codes(t)
            self._part_codes[kind][name] = codes
        return codes

    def _live(self, kind: str, read: Any) -> tuple[tuple[str, ...], Any]:
        """``read(names)`` over the visible parts; relists if a compaction removes one mid-read."""
        for attempt in range(5):
            names = tuple(n for _, n in list_parts(self.path / kind))
            try:
                out = read(names)
            except FileNotFoundError:
                if attempt == 4:
                    raise
                continue
            live = set(names)
            for cache in (self._part_cache[kind], self._part_codes[kind]):
                for stale in set(cache) - live:
                    del cache[stale]
            return names, out
        raise AssertionError("unreachable")

    def _refresh_keys(self, kind: str) -> None:
        """Add the cell codes of parts written since the last look (by anyone) to the writer's key set."""
        seen = self._key_parts[kind]
        for _, n in list_parts(self.path / kind):
            if n in seen:
                continue
            try:
                codes = self._part_keys(kind, n)
            except FileNotFoundError:  # compacted away meanwhile: its rows live in the merged part
                continue
            self._keys[kind].update(codes.tolist())
            seen.add(n)

    def _codes(self, t: pa.Table) -> np.ndarray:
        """Cell code per row (problem ordinal << 32 | sample_index), int64 of shape (rows,).

        Problems unknown to problems.parquet get ordinals after the known ones, so they sort last.
        """
        if t.num_rows == 0:
            return np.zeros(0, dtype=np.int64)
        pids = t.column("problem_id")
        ords = pc.index_in(pids, value_set=self._ids_array)
        if ords.null_count:
            for pid in pc.unique(pc.filter(pids, pc.is_null(ords))).to_pylist():
                key = "\x00null" if pid is None else pid
                self._extra_ids.setdefault(key, len(self._ids) + len(self._extra_ids))
            extra_ids = pa.array(list(self._extra_ids), type=pa.string())
            extra = pc.index_in(pc.fill_null(pids, "\x00null"), value_set=extra_ids)
            ords = pc.if_else(pc.is_null(ords), pc.add(extra, len(self._ids)), ords)
        o = ords.to_numpy(zero_copy_only=False).astype(np.int64)
        i = pc.fill_null(t.column("sample_index"), 0).to_numpy(zero_copy_only=False).astype(np.int64)
        return (o << _SHIFT) | (i & _MAX_INDEX)

    def _index(self, kind: str, names: tuple[str, ...] | None = None) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
        """(part names, sorted unique cell codes, row of each cell's first copy in the parts concatenated).

        Reads only the key columns. "First" is in (seq, name) part order, so the first writer wins.
        """
        if names is None:
            names, parts = self._live(kind, lambda ns: [self._part_keys(kind, n) for n in ns])
        else:
            parts = None
        cached = self._index_cache[kind]
        if cached is not None and cached[0] == names:
            return cached
        if parts is None:
            parts = [self._part_keys(kind, n) for n in names]
        codes = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        uniq, first = np.unique(codes, return_index=True)  # stable: index of the first occurrence
        self._index_cache[kind] = (names, uniq, first)
        return names, uniq, first

    def _dedup_table(self, kind: str, columns: list[str] | None = None) -> tuple[tuple[str, ...], pa.Table]:
        """(part names, deduped table of ``kind`` sorted by cell); only ``columns`` if given (not cached)."""
        cached = self._table_cache[kind]
        if cached is not None:
            names_now = tuple(n for _, n in list_parts(self.path / kind))
            if cached[0] == names_now:
                t = cached[1]
                return names_now, (t.select(columns) if columns else t)
        if columns is None:
            names, tables = self._live(kind, lambda ns: [self._read_part(kind, n) for n in ns])
        else:
            def read(ns: tuple[str, ...]) -> list[pa.Table]:
                out = []
                for n in ns:
                    full = self._part_cache[kind].get(n)
                    t = full.select(columns) if full is not None else self._read_parquet(kind, n, columns)
                    if n not in self._part_codes[kind]:
                        self._part_codes[kind][n] = self._codes(t)
                    out.append(t)
                return out
            names, tables = self._live(kind, read)
        t = pa.concat_tables(tables) if tables else schema_of(kind, columns).empty_table()
        _, uniq, first = self._index(kind, names)
        if len(first) != t.num_rows or not np.array_equal(first, np.arange(len(first))):
            t = t.take(pa.array(first))
        if columns is None:
            self._table_cache[kind] = (names, t)
        return names, t
