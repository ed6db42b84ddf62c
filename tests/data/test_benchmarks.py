"""Benchmark loaders: the real files in shared/benchmarks, detection, generic files, errors."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from rlbound.data.benchmarks import BENCHMARKS, Dataset, content_hash, format_number, load_benchmark
from rlbound.errors import InputError
from rlbound.types import Problem

BENCH_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "benchmarks"
needs_data = pytest.mark.skipif(not BENCH_DIR.is_dir(), reason=f"shared benchmarks not found at {BENCH_DIR}")


def _manifest() -> dict[str, int]:
    with open(BENCH_DIR / "MANIFEST.tsv", newline="") as f:
        return {row["path"].split("/")[0]: int(row["rows"]) for row in csv.DictReader(f, delimiter="\t")}


# (benchmark, index, expected id, expected reference)
SPOT_CHECKS = [
    ("math500", 0, "test/precalculus/807.json", "\\left( 3, \\frac{\\pi}{2} \\right)"),
    ("aime24", 0, "60", "204"),
    ("aime24", 7, "67", "025"),
    ("amc23", 0, "0", "27"),
    ("amc23", 15, "17", "-1"),
    ("minerva_math", 0, "0", "1.6"),
    ("minerva_math", 1, "1", "4.5e33"),
    ("olympiadbench", 0, "1606", "2"),
    ("gsm8k", 0, "0", "18"),
]


@needs_data
@pytest.mark.parametrize("name", BENCHMARKS)
def test_real_files_load_with_manifest_counts(name):
    ds = load_benchmark(BENCH_DIR / name / "test.jsonl")
    assert isinstance(ds, Dataset)
    assert ds.name == name
    assert len(ds.problems) == _manifest()[name]
    assert len({p.id for p in ds.problems}) == len(ds.problems)
    assert all(p.reference and p.prompt and p.verifier == "math" for p in ds.problems)
    assert ds.content_hash == content_hash(ds.problems) and len(ds.content_hash) == 64


@needs_data
@pytest.mark.parametrize("name, index, pid, reference", SPOT_CHECKS)
def test_reference_answers(name, index, pid, reference):
    p = load_benchmark(BENCH_DIR / name / "test.jsonl").problems[index]
    assert (p.id, p.reference) == (pid, reference)


@needs_data
def test_reference_rules_against_raw_rows():
    raw = [json.loads(x) for x in (BENCH_DIR / "olympiadbench" / "test.jsonl").read_text().splitlines()]
    ds = load_benchmark(BENCH_DIR / "olympiadbench" / "test.jsonl")
    multi = next(i for i, r in enumerate(raw) if r["final_answer"][0] == "$69$,$84$")
    assert ds.problems[multi].reference == "69,84"  # $ delimiters removed
    assert ds.problems[multi].metadata["is_multiple_answer"] is True
    gsm = load_benchmark(BENCH_DIR / "gsm8k" / "test.jsonl")
    raw_gsm = [json.loads(x) for x in (BENCH_DIR / "gsm8k" / "test.jsonl").read_text().splitlines()]
    with_comma = next(i for i, r in enumerate(raw_gsm) if "," in r["answer"].rsplit("####", 1)[1])
    assert "," not in gsm.problems[with_comma].reference
    assert gsm.problems[with_comma].reference == raw_gsm[with_comma]["answer"].rsplit("####", 1)[1].strip().replace(",", "")
    math500 = load_benchmark(BENCH_DIR / "math500" / "test.jsonl")
    assert math500.problems[0].metadata == {"subject": "Precalculus", "level": 2}


@needs_data
@pytest.mark.parametrize("name", BENCHMARKS)
def test_layout_recognised_by_fields_anywhere(name, tmp_path):
    target = tmp_path / "renamed" / "data.jsonl"
    target.parent.mkdir()
    shutil.copy(BENCH_DIR / name / "test.jsonl", target)
    ds = load_benchmark(target, limit=5)
    assert ds.name == name
    assert ds.problems == load_benchmark(BENCH_DIR / name / "test.jsonl", limit=5).problems


@needs_data
def test_names_resolve_only_with_a_data_dir(monkeypatch):
    monkeypatch.delenv("RLBOUND_DATA_DIR", raising=False)
    with pytest.raises(InputError, match="RLBOUND_DATA_DIR"):
        load_benchmark("math500")
    assert len(load_benchmark("math500", data_dir=BENCH_DIR, limit=3)) == 3
    monkeypatch.setenv("RLBOUND_DATA_DIR", str(BENCH_DIR))
    assert load_benchmark("aime24").name == "aime24"
    assert load_benchmark("minerva").name == "minerva_math"  # alias
    assert load_benchmark(BENCH_DIR / "amc23").name == "amc23"  # a folder holding test.jsonl


@needs_data
def test_limit_and_hash():
    full = load_benchmark(BENCH_DIR / "aime24" / "test.jsonl")
    first10 = load_benchmark(BENCH_DIR / "aime24" / "test.jsonl", limit=10)
    assert first10.problems == full.problems[:10]
    assert first10.content_hash != full.content_hash
    assert load_benchmark(BENCH_DIR / "aime24" / "test.jsonl").content_hash == full.content_hash
    with pytest.raises(InputError, match="limit"):
        load_benchmark(BENCH_DIR / "aime24" / "test.jsonl", limit=0)


@needs_data
def test_unrecognised_layout_needs_a_field_map():
    path = BENCH_DIR / "eval_rm_maj_example" / "math_cot_100.jsonl"
    with pytest.raises(InputError, match="field_map"):
        load_benchmark(path)
    ds = load_benchmark(path, field_map={"id": "idx", "prompt": "question", "reference": "gt"})
    assert len(ds) == 100 and ds.problems[0].reference == "420" and ds.name == "math_cot_100"


def test_generic_jsonl_and_parquet(tmp_path):
    rows = [{"qid": "a", "q": "1+1?", "gold": 2.0}, {"qid": "b", "q": "2+2?", "gold": "4"}]
    jl = tmp_path / "mine.jsonl"
    jl.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    fmap = {"id": "qid", "prompt": "q", "reference": "gold"}
    ds = load_benchmark(jl, field_map=fmap)
    assert [(p.id, p.prompt, p.reference) for p in ds.problems] == [("a", "1+1?", "2"), ("b", "2+2?", "4")]

    import pyarrow as pa
    import pyarrow.parquet as pq

    pqf = tmp_path / "mine.parquet"
    pq.write_table(pa.Table.from_pylist([{"qid": "a", "q": "1+1?", "gold": "2"}, {"qid": "b", "q": "2+2?", "gold": "4"}]), pqf)
    ds2 = load_benchmark(pqf, field_map=fmap)
    assert ds2.problems == ds.problems and ds2.content_hash == ds.content_hash

    no_id = load_benchmark(jl, field_map={"prompt": "q", "reference": "gold"})
    assert [p.id for p in no_id.problems] == ["0", "1"]


def test_missing_field_names_file_line_and_field(tmp_path):
    f = tmp_path / "x.jsonl"
    f.write_text(json.dumps({"qid": 1, "q": "?", "gold": "1"}) + "\n" + json.dumps({"qid": 2, "q": "?"}) + "\n")
    with pytest.raises(InputError) as err:
        load_benchmark(f, field_map={"id": "qid", "prompt": "q", "reference": "gold"})
    e = err.value
    assert (e.path, e.line, e.field) == (str(f), 2, "gold")
    assert str(e).startswith(f"{f}:2: ")


def test_bad_inputs(tmp_path):
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"a": "x"}\n{oops\n')
    with pytest.raises(InputError) as err:
        load_benchmark(bad_json, field_map={"prompt": "a", "reference": "a"})
    assert err.value.line == 2 and "invalid JSON" in str(err.value)

    dup = tmp_path / "dup.jsonl"
    dup.write_text("\n".join(json.dumps({"i": 1, "p": "?", "r": "1"}) for _ in range(2)))
    with pytest.raises(InputError, match="duplicate id"):
        load_benchmark(dup, field_map={"id": "i", "prompt": "p", "reference": "r"})

    with pytest.raises(InputError, match="field_map"):
        load_benchmark(dup, field_map={"id": "i", "question": "p", "reference": "r"})
    with pytest.raises(InputError, match="known benchmark names"):
        load_benchmark(tmp_path / "nope.jsonl")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(InputError, match="unsupported file type"):
        load_benchmark(tmp_path / "notes.txt")
    gsm_like = tmp_path / "gsm8k" / "test.jsonl"
    gsm_like.parent.mkdir()
    gsm_like.write_text(json.dumps({"question": "?", "answer": "no marker", "idx": 0}) + "\n")
    with pytest.raises(InputError) as err:
        load_benchmark(gsm_like)
    assert err.value.field == "answer" and err.value.line == 1


def test_format_number():
    assert format_number(27.0) == "27"
    assert format_number(-1.0) == "-1"
    assert format_number(0.5) == "0.5"
    assert format_number(7) == "7"
    with pytest.raises(TypeError):
        format_number(True)


def test_content_hash_is_canonical():
    a = (Problem(id="1", prompt="p", reference="r", metadata={"b": 1, "a": 2}),)
    b = (Problem(id="1", prompt="p", reference="r", metadata={"a": 2, "b": 1}),)
    c = (Problem(id="1", prompt="p", reference="s"),)
    assert content_hash(a) == content_hash(b) != content_hash(c)


# --------------------------------------------------------------------------- save_to_disk folders, Hub ids

GSM_ROWS = {
    "train": [{"question": "Tom has 3 apples and buys 4. How many?", "answer": "3 + 4 = <<3+4=7>>7\n#### 7"}],
    "test": [{"question": "A box holds 1,200 pens; 200 are sold. How many are left?",
              "answer": "1,200 - 200 = <<1200-200=1000>>1,000\n#### 1,000"},
             {"question": "What is 6 times 7?", "answer": "6 * 7 = <<6*7=42>>42\n#### 42"}],
}


def _save_to_disk(folder: Path, rows: list[dict], split: str | None) -> Path:
    """One split as datasets' save_to_disk writes it: data-00000-of-00001.arrow (an Arrow IPC stream),
    dataset_info.json, state.json."""
    import pyarrow as pa

    folder.mkdir(parents=True)
    table = pa.Table.from_pylist(rows)
    with pa.OSFile(str(folder / "data-00000-of-00001.arrow"), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    (folder / "dataset_info.json").write_text(json.dumps({"features": {k: {"dtype": "string", "_type": "Value"}
                                                                      for k in rows[0]}}))
    (folder / "state.json").write_text(json.dumps({
        "_data_files": [{"filename": "data-00000-of-00001.arrow"}], "_fingerprint": "0123456789abcdef",
        "_format_columns": None, "_format_kwargs": {}, "_format_type": None, "_output_all_columns": False,
        "_split": split}))
    return folder


def _gsm8k_dict(root: Path) -> Path:
    for split, rows in GSM_ROWS.items():
        _save_to_disk(root / split, rows, split)
    (root / "dataset_dict.json").write_text(json.dumps({"splits": list(GSM_ROWS)}))
    return root


def test_save_to_disk_dataset_dict_is_a_benchmark(tmp_path):
    root = _gsm8k_dict(tmp_path / "gsm8k")
    test = load_benchmark(root)  # default: the test split
    assert test.name == "gsm8k" and test.source == f"{root}[test]"
    assert [(p.id, p.reference) for p in test.problems] == [("0", "1000"), ("1", "42")]
    jl = tmp_path / "gsm8k_test.jsonl"
    jl.write_text("".join(json.dumps(r) + "\n" for r in GSM_ROWS["test"]))
    assert load_benchmark(jl).content_hash == test.content_hash  # the same problems as the JSONL
    train = load_benchmark(root, split="train")
    assert [p.reference for p in train.problems] == ["7"]
    assert load_benchmark(root / "train").problems == train.problems  # one split folder on its own
    with pytest.raises(InputError, match=r"splits \['train', 'test'\]; no split 'validation'"):
        load_benchmark(root, split="validation")
    with pytest.raises(InputError, match="holds split 'train', not 'test'"):
        load_benchmark(root / "train", split="test")
    no_test = _save_to_disk(tmp_path / "two" / "a", GSM_ROWS["train"], "a").parent
    _save_to_disk(no_test / "b", GSM_ROWS["train"], "b")
    (no_test / "dataset_dict.json").write_text(json.dumps({"splits": ["a", "b"]}))
    with pytest.raises(InputError, match="choose one with --split"):
        load_benchmark(no_test)
    (root / "test" / "data-00000-of-00001.arrow").unlink()
    with pytest.raises(InputError, match="missing the data file"):
        load_benchmark(root)


def test_hub_id_without_datasets_or_offline_is_one_input_error(monkeypatch):
    import sys
    import types

    monkeypatch.setitem(sys.modules, "datasets", None)  # not installed
    with pytest.raises(InputError, match="needs the 'datasets' package and the network") as err:
        load_benchmark("openai/gsm8k")
    assert "\n" not in str(err.value)

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'openai/gsm8k' on the Hub (LocalEntryNotFoundError)\nmore detail")

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=offline))
    with pytest.raises(InputError, match=r"cannot load Hugging Face dataset 'openai/gsm8k' split 'test' "
                                         r"\(ConnectionError: Couldn't reach") as err:
        load_benchmark("openai/gsm8k")
    assert "\n" not in str(err.value) and "save_to_disk" in str(err.value)
