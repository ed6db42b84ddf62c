"""Benchmark loaders: MATH500, AIME24, AMC23, Minerva, OlympiadBench, GSM8K, or any JSONL/Parquet.

The six math benchmarks of Yue et al. 2025 (arXiv 2504.13837), in the JSONL layout of the
Qwen2.5-Math / limit-of-RLVR evaluation suite. A file is recognised by its folder or file name
(``math500/test.jsonl``) or, wherever it lives, by its fields; any other file is read with an explicit
``field_map``. Reference answers, in the ``math`` verifier's terms:

=============  ============================================================
math500        ``answer``
aime24         ``answer`` (string of an integer)
amc23          ``answer`` (a float such as 27.0, written "27")
minerva_math   the last ``\\boxed{}`` in ``solution``
olympiadbench  ``final_answer[0]`` with its ``$`` math delimiters removed
gsm8k          the text after ``####`` in ``answer``, thousands commas removed
=============  ============================================================

The package ships no data: a benchmark *name* resolves to a file only under ``data_dir`` or the
``RLBOUND_DATA_DIR`` environment variable. A folder written by Hugging Face ``datasets``'
``save_to_disk`` (one split: ``state.json`` + ``data-*.arrow``; a ``DatasetDict``: ``dataset_dict.json``
and one such folder per split) is read with pyarrow alone (``read_hf_dataset``). Hub dataset ids
are read through ``datasets`` when it is installed (lazy import; untested here, since this
environment is offline); without it, or offline, they give a one-line InputError.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlbound.errors import InputError
from rlbound.types import Problem
from rlbound.verify.extract import extract_boxed

BENCHMARKS = ("math500", "aime24", "amc23", "minerva_math", "olympiadbench", "gsm8k")
_ALIASES = {"minerva": "minerva_math", "olympiad": "olympiadbench", "math-500": "math500"}
_SUFFIXES = (".jsonl", ".json", ".parquet")
FIELD_MAP_KEYS = ("id", "prompt", "reference")
HF_STATE = "state.json"            # one split written by datasets' save_to_disk
HF_DICT = "dataset_dict.json"      # a DatasetDict: {"splits": [...]}, one folder per split


@dataclass(frozen=True)
class Dataset:
    """Problems as loaded, with a hash of their canonical content (for ``RunManifest.dataset_hash``).

    Attributes:
        name: benchmark name (``math500``) or file stem.
        problems: the problems in file order (after ``limit``).
        content_hash: sha256 hex digest of ``canonical_json(problems)``.
        source: the file (or dataset id) they were read from.
    """

    name: str
    problems: tuple[Problem, ...]
    content_hash: str
    source: str = ""

    def __len__(self) -> int:
        return len(self.problems)


def canonical_json(problems: tuple[Problem, ...] | list[Problem]) -> str:
    """Canonical JSON of problems: keys sorted, no whitespace, UTF-8 (the input of ``content_hash``)."""
    rows = [
        {"id": p.id, "prompt": p.prompt, "reference": p.reference, "verifier": p.verifier, "metadata": p.metadata}
        for p in problems
    ]
    return json.dumps(rows, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def content_hash(problems: tuple[Problem, ...] | list[Problem]) -> str:
    """sha256 hex digest of ``canonical_json(problems)``."""
    return hashlib.sha256(canonical_json(problems).encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- reading rows


def _read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line or row number from 1, record) for a JSONL, JSON-array or Parquet file."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            import pyarrow.parquet as pq

            rows = pq.read_table(path).to_pylist()
        except Exception as exc:  # noqa: BLE001 - any reader failure is bad input
            raise InputError(f"cannot read Parquet: {exc}", path=str(path)) from None
        yield from enumerate(rows, start=1)
        return
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", path=str(path)) from None
    if suffix == ".json" and text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid JSON: {exc.msg}", path=str(path), line=exc.lineno) from None
        for i, row in enumerate(rows, start=1):
            if not isinstance(row, dict):
                raise InputError("each record must be a JSON object", path=str(path), line=i)
            yield i, row
        return
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid JSON: {exc.msg}", path=str(path), line=lineno) from None
        if not isinstance(row, dict):
            raise InputError("each line must be a JSON object", path=str(path), line=lineno)
        yield lineno, row


# --------------------------------------------------------------------------- Hugging Face folders


def is_hf_dataset_dir(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder written by ``datasets``' ``save_to_disk`` (a split or a DatasetDict)."""
    p = Path(path)
    return p.is_dir() and ((p / HF_STATE).is_file() or (p / HF_DICT).is_file())


def _read_json_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", path=str(path)) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", path=str(path), line=exc.lineno) from None


def hf_split_dir(path: str | os.PathLike[str], split: str | None,
                 default: str | None = None) -> tuple[Path, str | None]:
    """The folder of one split of a ``save_to_disk`` folder and the split's name.

    A DatasetDict folder (``dataset_dict.json``) takes ``split``; without one, its only split, else
    ``default`` if it has that split, else InputError listing the splits. A one-split folder takes
    an explicit ``split`` only if its ``state.json`` names that split (or none).
    """
    p = Path(path)
    if (p / HF_DICT).is_file():
        splits = _read_json_file(p / HF_DICT)
        names = splits.get("splits") if isinstance(splits, dict) else None
        if not isinstance(names, list) or not all(isinstance(x, str) for x in names) or not names:
            raise InputError("expected {\"splits\": [names]}", path=str(p / HF_DICT), field="splits")
        if split is None and len(names) == 1:
            split = names[0]
        elif split is None and default in names:
            split = default
        if split is None or split not in names:
            what = "choose one with --split" if split is None else f"no split {split!r}"
            raise InputError(f"a DatasetDict with splits {names}; {what}", path=str(p), field="split")
        return p / split, split
    state = _read_json_file(p / HF_STATE)
    own = state.get("_split") if isinstance(state, dict) else None
    if split is not None and own is not None and split != own:
        raise InputError(f"this folder holds split {own!r}, not {split!r}", path=str(p), field="split")
    return p, own if isinstance(own, str) else split


def _arrow_table(path: Path) -> Any:
    import pyarrow as pa

    try:
        with pa.memory_map(str(path)) as src:
            try:
                return pa.ipc.open_stream(src).read_all()  # what datasets' ArrowWriter writes
            except pa.ArrowInvalid:
                src.seek(0)
                return pa.ipc.open_file(src).read_all()
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"cannot read Arrow data: {exc}", path=str(path)) from None


def read_hf_dataset(path: str | os.PathLike[str], split: str | None = None,
                    default: str | None = None) -> tuple[Any, str]:
    """The rows of a ``save_to_disk`` folder as one pyarrow Table, and a name for messages.

    Reads the ``.arrow`` files listed in ``state.json`` (``_data_files``), in order, with pyarrow;
    no ``datasets`` needed. A ``state.json`` with ``_indices_data_files`` (a selection not yet
    flattened) is refused, since the raw files then hold rows the dataset does not show.
    """
    import pyarrow as pa

    folder, split = hf_split_dir(path, split, default)
    if not (folder / HF_STATE).is_file():
        raise InputError(f"no {HF_STATE} in the split folder", path=str(folder))
    state = _read_json_file(folder / HF_STATE)
    files = state.get("_data_files") if isinstance(state, dict) else None
    if not isinstance(files, list) or not files:
        raise InputError("expected '_data_files': [{\"filename\": ...}]", path=str(folder / HF_STATE),
                         field="_data_files")
    if state.get("_indices_data_files"):
        raise InputError("the dataset was saved with an unflattened selection (_indices_data_files); save it "
                         "again after ds.flatten_indices()", path=str(folder / HF_STATE), field="_indices_data_files")
    tables = []
    for entry in files:
        name = entry.get("filename") if isinstance(entry, dict) else None
        if not isinstance(name, str) or Path(name).name != name:
            raise InputError(f"not a plain file name: {name!r}", path=str(folder / HF_STATE), field="_data_files")
        if not (folder / name).is_file():
            raise InputError(f"missing the data file {name} that {HF_STATE} lists", path=str(folder))
        tables.append(_arrow_table(folder / name))
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    where = f"{Path(path)}" + (f"[{split}]" if split else "")
    return table, where


def hf_rows(table: Any, batch_rows: int = 4096) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number from 1, record) of a pyarrow Table, a batch at a time."""
    row = 0
    for batch in table.to_batches(max_chunksize=batch_rows):
        for record in batch.to_pylist():
            row += 1
            yield row, record


# --------------------------------------------------------------------------- references


def format_number(value: Any) -> str:
    """A reference given as a JSON number, as the answer string: 27.0 -> "27", 0.5 -> "0.5"."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not a reference answer")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"non-finite reference {value!r}")
        return str(int(value)) if value.is_integer() else repr(value)
    raise TypeError(f"not a number: {type(value).__name__}")


def _as_reference(value: Any) -> str:
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError("empty reference")
        return text
    if isinstance(value, (list, tuple)) and len(value) == 1:
        return _as_reference(value[0])
    if isinstance(value, (int, float)):
        return format_number(value)
    raise TypeError(f"unsupported reference value of type {type(value).__name__}")


_DOLLAR_RE = re.compile(r"(?<!\\)\$")
_THOUSANDS_RE = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


def _ref_answer(row: dict[str, Any]) -> str:
    return _as_reference(row["answer"])


def _ref_minerva(row: dict[str, Any]) -> str:
    answer, _ = extract_boxed(row["solution"])
    if answer is None:
        raise ValueError("no \\boxed{} answer in the solution")
    return answer


def _ref_olympiad(row: dict[str, Any]) -> str:
    final = row["final_answer"]
    if not isinstance(final, list) or not final:
        raise ValueError("final_answer must be a non-empty list")
    return _as_reference(_DOLLAR_RE.sub("", str(final[0])))


def _ref_gsm8k(row: dict[str, Any]) -> str:
    text = row["answer"]
    if not isinstance(text, str) or "####" not in text:
        raise ValueError("no '####' answer marker")
    return _as_reference(_THOUSANDS_RE.sub("", text.rsplit("####", 1)[1]).replace("$", ""))


def _prompt_olympiad(row: dict[str, Any]) -> str:
    question = row["question"]
    context = row.get("context")
    return f"{context}\n\n{question}" if context else question


@dataclass(frozen=True)
class _Format:
    """How one benchmark layout maps to ``Problem``; ``fields`` are the ones that identify it."""

    name: str
    fields: frozenset[str]
    id_field: str | None
    prompt: Callable[[dict[str, Any]], str]
    prompt_field: str
    reference: Callable[[dict[str, Any]], str]
    reference_field: str
    metadata: tuple[str, ...] = ()
    match: Callable[[dict[str, Any]], bool] = field(default=lambda row: True)
    # The Hub copy of the set has no id column (openai/gsm8k): without ``id_field`` on the first
    # record, every record's id is its row index.
    id_optional: bool = False


def _get(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda row: row[name]


_FORMATS: dict[str, _Format] = {
    f.name: f
    for f in (
        _Format("math500", frozenset({"problem", "solution", "answer", "unique_id"}), "unique_id",
                _get("problem"), "problem", _ref_answer, "answer", ("subject", "level")),
        _Format("olympiadbench", frozenset({"question", "final_answer"}), "id",
                _prompt_olympiad, "question", _ref_olympiad, "final_answer",
                ("subfield", "answer_type", "unit", "is_multiple_answer")),
        _Format("minerva_math", frozenset({"problem", "solution", "type"}), "idx",
                _get("problem"), "problem", _ref_minerva, "solution", ("type",),
                match=lambda row: "answer" not in row, id_optional=True),
        _Format("gsm8k", frozenset({"question", "answer"}), "idx",
                _get("question"), "question", _ref_gsm8k, "answer",
                match=lambda row: isinstance(row.get("answer"), str) and "####" in row["answer"], id_optional=True),
        _Format("aime24", frozenset({"id", "problem", "answer", "solution"}), "id",
                _get("problem"), "problem", _ref_answer, "answer", ("url",)),
        _Format("amc23", frozenset({"id", "problem", "answer"}), "id",
                _get("problem"), "problem", _ref_answer, "answer", ("url",),
                match=lambda row: isinstance(row.get("answer"), (int, float))),
    )
}


def _detect(path: Path, first: dict[str, Any] | None) -> _Format | None:
    """The layout of ``path``: by folder or file name first, then by the first record's fields."""
    for part in (path.parent.name, path.stem):
        name = _ALIASES.get(part.lower(), part.lower())
        if name in _FORMATS:
            return _FORMATS[name]
    if first is None:
        return None
    keys = set(first)
    for fmt in _FORMATS.values():  # order matters: most specific first
        if fmt.fields <= keys and fmt.match(first):
            return fmt
    return None


def _generic_format(name: str, field_map: Mapping[str, str]) -> _Format:
    unknown = set(field_map) - set(FIELD_MAP_KEYS)
    if unknown:
        raise InputError(
            f"unknown field_map key(s) {', '.join(sorted(unknown))}; use {', '.join(FIELD_MAP_KEYS)}",
            field="field_map",
        )
    for needed in ("prompt", "reference"):
        if needed not in field_map:
            raise InputError(f"field_map needs a {needed!r} entry", field="field_map")
    ref_field = field_map["reference"]
    return _Format(
        name, frozenset(), field_map.get("id"), _get(field_map["prompt"]), field_map["prompt"],
        lambda row: _as_reference(row[ref_field]), ref_field,
    )


def _problem(fmt: _Format, row: dict[str, Any], index: int, lineno: int, where: str) -> Problem:
    def bad(message: str, fld: str) -> InputError:
        return InputError(message, path=where, line=lineno, field=fld)

    if fmt.id_field is None:
        pid = str(index)
    else:
        if fmt.id_field not in row or row[fmt.id_field] is None:
            raise bad(f"missing field '{fmt.id_field}'", fmt.id_field)
        pid = str(row[fmt.id_field])
    try:
        prompt = fmt.prompt(row)
    except KeyError as exc:
        raise bad(f"missing field '{exc.args[0]}'", str(exc.args[0])) from None
    if not isinstance(prompt, str) or not prompt.strip():
        raise bad("the prompt must be a non-empty string", fmt.prompt_field)
    try:
        reference = fmt.reference(row)
    except KeyError as exc:
        raise bad(f"missing field '{exc.args[0]}'", str(exc.args[0])) from None
    except (TypeError, ValueError) as exc:
        raise bad(f"bad reference answer: {exc}", fmt.reference_field) from None
    metadata = {k: row[k] for k in fmt.metadata if k in row}
    return Problem(id=pid, prompt=prompt, reference=reference, verifier="math", metadata=metadata)


_NATIVE_FIELDS = Problem.FIELDS


# Files of rlbound's own problems (rows are asdict(Problem)); parsed by _native_problem.
_NATIVE = _Format("problems", frozenset(), "id", _get("prompt"), "prompt", _get("reference"), "reference")


def _is_native(row: dict[str, Any]) -> bool:
    """A row written by rlbound itself: ``dataclasses.asdict(Problem)`` (e.g. sandbox problem files)."""
    return set(row) == _NATIVE_FIELDS


def _native_problem(row: dict[str, Any], lineno: int, where: str) -> Problem:
    """Problem from an rlbound problem row, keeping its own verifier name and metadata."""
    return Problem.from_row(row, path=where, line=lineno)


def _load_rows(
    rows: Iterator[tuple[int, dict[str, Any]]],
    where: str,
    path_for_detection: Path,
    name: str | None,
    field_map: Mapping[str, str] | None,
    limit: int | None,
) -> Dataset:
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    fmt: _Format | None = None
    for index, (lineno, row) in enumerate(rows):
        if limit is not None and len(problems) >= limit:
            break
        if fmt is None and field_map is None and _is_native(row):
            fmt = _NATIVE
        if fmt is None:
            if field_map is not None:
                fmt = _generic_format(name or path_for_detection.stem, field_map)
            else:
                fmt = _detect(path_for_detection, row)
                if fmt is None:
                    raise InputError(
                        "unrecognised benchmark layout (fields: "
                        f"{', '.join(sorted(row))}); pass field_map={{'id': ..., 'prompt': ..., 'reference': ...}}",
                        path=where, line=lineno,
                    )
                if fmt.id_optional and fmt.id_field not in row:
                    fmt = dataclasses.replace(fmt, id_field=None)
        problem = _native_problem(row, lineno, where) if _is_native(row) else _problem(fmt, row, index, lineno, where)
        if problem.id in seen:
            raise InputError(
                f"duplicate id {problem.id!r} (first on line {seen[problem.id]})",
                path=where, line=lineno, field=fmt.id_field or "id",
            )
        seen[problem.id] = lineno
        problems.append(problem)
    if not problems:
        raise InputError("no problems in the file", path=where)
    dataset_name = name or (fmt.name if fmt is not None and fmt.fields else path_for_detection.stem)
    frozen = tuple(problems)
    return Dataset(name=dataset_name, problems=frozen, content_hash=content_hash(frozen), source=where)


# --------------------------------------------------------------------------- resolving names


def _file_in_dir(directory: Path) -> Path:
    for candidate in ("test.jsonl", "test.parquet", "test.json"):
        if (directory / candidate).is_file():
            return directory / candidate
    files = sorted(p for p in directory.iterdir() if p.suffix.lower() in _SUFFIXES and p.is_file())
    if len(files) == 1:
        return files[0]
    raise InputError(
        f"expected test.jsonl or exactly one .jsonl/.json/.parquet file, found {len(files)}", path=str(directory)
    )


def _resolve_name(name: str, data_dir: str | os.PathLike[str] | None) -> Path | None:
    root = data_dir if data_dir is not None else os.environ.get("RLBOUND_DATA_DIR")
    if not root:
        return None
    root_path = Path(root).expanduser()
    canonical = _ALIASES.get(name.lower(), name.lower())
    for stem in dict.fromkeys((name, canonical)):
        if (root_path / stem).is_dir():
            return _file_in_dir(root_path / stem)
        for suffix in _SUFFIXES:
            if (root_path / f"{stem}{suffix}").is_file():
                return root_path / f"{stem}{suffix}"
    return None


def _load_hf(dataset_id: str, split: str, limit: int | None, field_map: Mapping[str, str] | None) -> Dataset:
    """Read a Hugging Face Hub dataset through ``datasets`` (not run here: this environment is offline).

    Any failure of ``load_dataset`` (no network, unknown id, unknown split) is one InputError line.
    """
    import datasets  # noqa: PLC0415 - optional dependency

    try:
        ds = datasets.load_dataset(dataset_id, split=split)
    except Exception as exc:  # noqa: BLE001 - offline, unknown id or split: all are the user's to fix
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise InputError(
            f"cannot load Hugging Face dataset {dataset_id!r} split {split!r} ({type(exc).__name__}: {first}); "
            "offline, save it elsewhere with datasets' save_to_disk and pass that folder",
            path=dataset_id,
        ) from None
    rows = ((i, dict(r)) for i, r in enumerate(ds, start=1))
    fake_path = Path(dataset_id.replace("/", "_"))
    return _load_rows(rows, f"hf:{dataset_id}[{split}]", fake_path, None, field_map, limit)


def load_benchmark(
    name_or_path: str | os.PathLike[str],
    *,
    limit: int | None = None,
    field_map: Mapping[str, str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    split: str | None = None,
) -> Dataset:
    """Load a benchmark as ``Problem`` records (benchmarks of Yue et al. 2025, or any JSONL/Parquet).

    Args:
        name_or_path: a file (.jsonl, .json, .parquet), a folder holding ``test.jsonl``, a folder
            written by ``datasets``' ``save_to_disk`` (one split, or a DatasetDict: ``split``
            picks one), a benchmark name (``math500``, ``aime24``, ``amc23``, ``minerva_math``,
            ``olympiadbench``, ``gsm8k``) looked up under ``data_dir`` / ``$RLBOUND_DATA_DIR``, or
            a Hugging Face Hub dataset id (``owner/name``, needs ``datasets`` and the network).
        limit: keep the first ``limit`` problems (the hash covers only those).
        field_map: ``{"id": ..., "prompt": ..., "reference": ...}`` column names for a file of
            another layout (``id`` optional: the row index is used); overrides detection.
        data_dir: where benchmark names are looked up (else ``$RLBOUND_DATA_DIR``).
        split: the split of a DatasetDict folder or of a Hub dataset (default: a folder's only
            split, else ``test``; a one-split folder takes it only if it is that folder's own split).

    Raises:
        InputError: unknown name, unreadable file, unrecognised layout, a record missing a field
            (the message names the file, line and field), duplicate ids, limit < 1.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InputError(f"limit must be a positive integer, got {limit!r}", field="limit")
    raw = str(name_or_path)
    path = Path(raw).expanduser()
    if is_hf_dataset_dir(path):
        table, where = read_hf_dataset(path, split, default="test")
        folder, _ = hf_split_dir(path, split, default="test")
        return _load_rows(hf_rows(table), where, folder, None, field_map, limit)
    if path.is_dir():
        path = _file_in_dir(path)
    if not path.is_file():
        resolved = _resolve_name(raw, data_dir)
        if resolved is not None:
            path = resolved
        elif "/" in raw and not raw.startswith((".", "/", "~")) and not path.suffix:
            try:
                import datasets  # noqa: F401, PLC0415
            except ImportError:
                raise InputError(
                    f"{raw!r} is not a file or folder here, and reading it as a Hugging Face Hub id needs the "
                    "'datasets' package and the network; or pass a folder written by save_to_disk",
                    path=raw,
                ) from None
            return _load_hf(raw, split or "test", limit, field_map)
        else:
            known = _ALIASES.get(raw.lower(), raw.lower()) in BENCHMARKS
            hint = (
                "; benchmark names resolve only under data_dir= or $RLBOUND_DATA_DIR"
                if known
                else f"; known benchmark names: {', '.join(BENCHMARKS)}"
            )
            raise InputError(f"no such file or benchmark{hint}", path=raw)
    if path.suffix.lower() not in _SUFFIXES:
        raise InputError(f"unsupported file type {path.suffix!r}; use .jsonl, .json or .parquet", path=str(path))
    return _load_rows(_read_rows(path), str(path), path, None, field_map, limit)
