"""Importers of other tools' result files, each from a small file in that tool's real layout, each
ending in pass@k of the imported run (``rlbound import`` then ``rlbound passk``, in process).

The text fixtures are in tests/data/fixtures/importers (their field names follow the tools' own
writers: lm-eval ``evaluator.py`` / ``EvaluationTracker.save_results_samples``, evalplus
``evaluate.py``, LiveCodeBench ``runner/main.py``, verl ``RayPPOTrainer._dump_generations``); the
binary ones (lighteval's details Parquet, a ``save_to_disk`` folder) are written here with pyarrow
in the layout those tools write. Expected pass@k values are computed from hand-counted (n, c) with
``math.comb``, not with rlbound's estimator.
"""

from __future__ import annotations

import json
from math import comb
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rlbound.cli import main
from rlbound.data.importers import FORMATS, detect_format, export_jsonl, import_results, import_to_run, load_counts
from rlbound.data.store import RunStore
from rlbound.errors import InputError
from rlbound.types import Status

F = Path(__file__).resolve().parent / "fixtures" / "importers"
LM_GSM8K = F / "samples_gsm8k_2025-01-01T00-00-00.000000.jsonl"
LM_SC = F / "samples_gsm8k_cot_self_consistency_2025-01-01T00-00-00.000000.jsonl"
LM_ARC = F / "samples_arc_easy_2025-01-01T00-00-00.000000.jsonl"
EP_SAMPLES = F / "samples.jsonl"
EP_RESULTS = F / "samples.eval_results.json"
LCB = F / "Qwen2.5-Coder-7B_codegeneration_3_0.2_eval_all.json"
VERL_GSM8K = F / "verl_gsm8k_val_0.jsonl"
VERL_DAPO = F / "verl_dapo_val_40.jsonl"
VERL_SHAPED = F / "verl_shaped_val_10.jsonl"


def _passk(n: list[int], c: list[int], k: int) -> float:
    """Mean over problems of 1 - C(n-c, k) / C(n, k) (Chen et al. 2021, eq. 1), by hand."""
    return sum(1 - comb(ni - ci, k) / comb(ni, k) for ni, ci in zip(n, c)) / len(n)


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def _import(capsys, src: Path, out: Path, *extra: str) -> str:
    rc, text, err = _cli(capsys, "import", src, "--out", out, *extra)
    assert rc == 0, err
    return text


def _passk_json(capsys, path: Path) -> dict:
    rc, out, err = _cli(capsys, "passk", path, "--json")
    assert rc == 0, err
    return json.loads(out)


def _assert_passk(d: dict, n: list[int], c: list[int]) -> None:
    assert d["n_problems"] == len(n)
    for k, v in d["pass_at_k"].items():
        assert v == pytest.approx(_passk(n, c, int(k)), abs=1e-12), k


def _one_line_error(capsys, *args: str) -> str:
    rc, _, err = _cli(capsys, *args)
    lines = [x for x in err.splitlines() if x.strip()]
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("rlbound: error: "), err
    return lines[0]


def _verify(capsys, run: Path) -> None:
    rc, _, err = _cli(capsys, "verify", run, "--workers", "1")
    assert rc == 0, err


def test_cli_lists_every_format():
    from rlbound.cli.data import IMPORT_FORMATS

    assert IMPORT_FORMATS == FORMATS


# ------------------------------------------------------------------------------------ lm-eval


def test_lm_eval_one_response_per_doc_keeps_the_0_1_metric(capsys, tmp_path):
    assert detect_format(LM_GSM8K) == "lm_eval"
    out = _import(capsys, LM_GSM8K, tmp_path / "run")
    assert "3 samples (3 with verdicts) of 3 problems" in out and "format lm_eval" in out
    assert "'exact_match'" in out and "flexible-extract" in out  # the other filter is named, not mixed in
    store = RunStore.open(tmp_path / "run")
    assert [(p.id, p.reference) for p in store.problems()] == [("0", "72"), ("1", "10"), ("2", "5")]
    assert store.problems()[0].prompt.startswith("Question: Natalia")
    v = store.verdicts()
    assert [v[(str(i), 0)].extracted for i in range(3)] == ["72", "[invalid]", "4"]  # strict-match's answers
    _assert_passk(_passk_json(capsys, tmp_path / "run"), [1, 1, 1], [1, 0, 0])
    # the flexible-extract rows, named lm-eval's way (metric,filter)
    _import(capsys, LM_GSM8K, tmp_path / "flex", "--metric", "exact_match,flexible-extract")
    _assert_passk(_passk_json(capsys, tmp_path / "flex"), [1, 1, 1], [1, 1, 0])
    with pytest.raises(InputError, match="no rows of filter 'maj@64'"):
        import_results(LM_GSM8K, metric="exact_match,maj@64")
    with pytest.raises(InputError, match="no per-document metric 'acc'"):
        import_results(LM_GSM8K, metric="acc")


def test_lm_eval_repeats_import_texts_and_never_split_the_aggregate(capsys, tmp_path):
    run = tmp_path / "run"
    out = _import(capsys, LM_SC, run)
    assert "12 samples (0 with verdicts)" in out and "texts only" in out and f"rlbound verify {run}" in out
    assert "verify" in _one_line_error(capsys, "passk", run)
    assert "verify" in _one_line_error(capsys, "passk", LM_SC)  # the file itself has no verdicts either
    with pytest.raises(InputError, match="over 4 responses, not a per-sample verdict"):
        import_results(LM_SC, metric="exact_match")
    store = RunStore.open(run)
    assert [s.text for s in store.samples()][:2] == ["The answer is 72.", "So 48 + 24 = 72. The answer is 72."]
    _verify(capsys, run)
    # majority-vote exact_match in the file is [1, 0, 0]; the per-sample grades are 3, 1 and 0 of 4
    _assert_passk(_passk_json(capsys, run), [4, 4, 4], [3, 1, 0])


def test_lm_eval_multiple_choice_acc_is_one_scored_choice_per_doc(capsys, tmp_path):
    run = import_results(LM_ARC)
    assert [(s.problem_id, s.text) for s in run.samples] == [("0", None), ("1", None)]
    assert "'acc'" in run.notes[0] and "acc_norm" in run.notes[0]
    _import(capsys, LM_ARC, tmp_path / "run")
    _assert_passk(_passk_json(capsys, tmp_path / "run"), [1, 1], [1, 0])


# ------------------------------------------------------------------------------------ lighteval


def _doc(i: int, query: str, answer: str, num_samples: int) -> dict:
    """A lighteval Doc as ``asdict`` gives it (lighteval/tasks/requests.py), the fields that matter here."""
    return {"query": query, "choices": [answer], "gold_index": 0, "id": f"test/{i}.json", "original_query": "",
            "specific": None, "task_name": "lighteval|math_500|0", "instruction": "", "num_asked_few_shots": 0,
            "num_effective_few_shots": 0, "fewshot_samples": [], "sampling_methods": ["GENERATIVE"],
            "generation_size": 32768, "do_sample": num_samples > 1, "stop_sequences": [], "use_logits": False,
            "num_samples": num_samples}


def _response(texts: list[str]) -> dict:
    """A lighteval ModelResponse as ``asdict`` gives it (lighteval/models/model_output.py)."""
    return {"input": "<|im_start|>user ...", "text": texts, "logprobs": [], "argmax_logits_eq_gold": [],
            "truncated_tokens_count": 0, "padded_tokens_count": 0, "input_tokens": [1, 2, 3],
            "output_tokens": [[4, 5] for _ in texts]}


def _details(path: Path, rows: list[tuple[dict, dict, dict]], as_text: bool = False) -> Path:
    """``details_<task>_<date>.parquet`` as lighteval's EvaluationTracker writes it: Dataset.from_list(
    [asdict(Detail(doc, model_response, metric))]), columns sorted; ``as_text``: its str(v) fallback."""
    recs = [{"doc": d, "metric": m, "model_response": r} for d, r, m in rows]
    if as_text:
        recs = [{k: str(v) for k, v in rec.items()} for rec in recs]
    pq.write_table(pa.Table.from_pylist(recs), path)
    return path


Q3 = [("What is $1+1$?", "2"), ("What is $2 \\cdot 3$?", "6"), ("What is $10-7$?", "3")]


def test_lighteval_details_parquet_one_sample(capsys, tmp_path):
    f = _details(tmp_path / "details_lighteval|math_500|0_2025-01-01T00-00-00.000000.parquet", [
        (_doc(i, q, a, 1), _response([f"So the answer is $\\boxed{{{a if i != 1 else 5}}}$"]),
         {"extractive_match": float(i != 1)}) for i, (q, a) in enumerate(Q3)])
    assert f.read_bytes()[:4] == b"PAR1" and detect_format(f) == "lighteval"
    out = _import(capsys, f, tmp_path / "run")
    assert "3 samples (3 with verdicts)" in out and "'extractive_match'" in out
    store = RunStore.open(tmp_path / "run")
    assert [(p.id, p.reference) for p in store.problems()] == [("test/0.json", "2"), ("test/1.json", "6"),
                                                               ("test/2.json", "3")]
    _assert_passk(_passk_json(capsys, tmp_path / "run"), [1, 1, 1], [1, 0, 1])
    # the str(v) columns lighteval falls back to when a nested value does not fit Arrow
    g = _details(tmp_path / "details_text.parquet", [
        (_doc(i, q, a, 1), _response(["x"]), {"extractive_match": float(i == 0)}) for i, (q, a) in enumerate(Q3)],
        as_text=True)
    assert load_counts(g)[2].tolist() == [1, 0, 0]


def test_lighteval_several_samples_are_texts_even_when_the_metric_looks_0_1(capsys, tmp_path):
    texts = [["\\boxed{2}", "\\boxed{2}", "\\boxed{3}", "\\boxed{2}"], ["\\boxed{5}"] * 4, ["\\boxed{3}"] * 4]
    f = _details(tmp_path / "details_lighteval|math_500_n4|0_2025.parquet", [
        (_doc(i, q, a, 4), _response(t), {"math_pass@1:4_samples": v, "maj@4": float(v > 0.5)})
        for i, ((q, a), t, v) in enumerate(zip(Q3, texts, (1.0, 0.0, 1.0)))])  # per-doc values that are all 0/1
    run = _import(capsys, f, tmp_path / "run")
    assert "12 samples (0 with verdicts)" in run and "texts only" in run
    _verify(capsys, tmp_path / "run")
    _assert_passk(_passk_json(capsys, tmp_path / "run"), [4, 4, 4], [3, 0, 4])


def test_lighteval_empty_ids_become_row_numbers(tmp_path):
    rows = []
    for i, (q, a) in enumerate(Q3):
        d = _doc(i, q, a, 1)
        d["id"] = ""
        rows.append((d, _response(["\\boxed{2}"]), {"extractive_match": 1.0}))
    run = import_results(_details(tmp_path / "d.parquet", rows))
    assert [p.id for p in run.problems] == ["0", "1", "2"] and any("row numbers" in n for n in run.notes)


# ------------------------------------------------------------------------------------ evalplus


def test_evalplus_samples_are_texts_and_eval_results_are_verdicts(capsys, tmp_path):
    assert detect_format(EP_SAMPLES) == "evalplus_samples" and detect_format(EP_RESULTS) == "evalplus_results"
    out = _import(capsys, EP_SAMPLES, tmp_path / "texts")
    assert "6 samples (0 with verdicts)" in out and str(EP_RESULTS) in out  # names the results file beside it
    assert "verdicts" in _one_line_error(capsys, "passk", EP_SAMPLES)
    out = _import(capsys, EP_RESULTS, tmp_path / "plus")
    assert "6 samples (6 with verdicts)" in out and "base + plus" in out
    _assert_passk(_passk_json(capsys, tmp_path / "plus"), [3, 3], [1, 2])
    _import(capsys, EP_RESULTS, tmp_path / "base", "--metric", "base")
    _assert_passk(_passk_json(capsys, tmp_path / "base"), [3, 3], [2, 2])
    store = RunStore.open(tmp_path / "plus")
    assert store.verdicts()[("HumanEval/1", 1)].status is Status.TIMEOUT
    assert store.samples()[0].text.startswith("from typing import List")
    # the same document pretty-printed, and the layout before evalplus 0.2 (nfiles/base/plus lists)
    pretty = tmp_path / "eval_results.json"
    pretty.write_text(json.dumps(json.loads(EP_RESULTS.read_text()), indent=2))
    assert load_counts(pretty)[2].tolist() == [1, 2]
    old = tmp_path / "old_eval_results.json"
    old.write_text(json.dumps({"date": "2023-06-01 00:00", "hash": "x", "eval": {
        "HumanEval/0": {"nfiles": 2, "base": [["pass", []], ["fail", [True, False]]], "plus": [["pass", []], ["fail", []]]},
    }}))
    assert load_counts(old)[2].tolist() == [1]
    with pytest.raises(InputError, match="base or plus"):
        import_results(EP_RESULTS, metric="extra")


# ------------------------------------------------------------------------------------ LiveCodeBench


def test_livecodebench_eval_all_keeps_graded_list(capsys, tmp_path):
    assert detect_format(LCB) == "livecodebench"
    out = _import(capsys, LCB, tmp_path / "run")
    assert "6 samples (6 with verdicts) of 2 problems" in out
    store = RunStore.open(tmp_path / "run")
    v = store.verdicts()
    assert v[("2847", 1)].status is Status.TIMEOUT and v[("2847", 0)].status is Status.WRONG
    assert v[("abc301_a", 0)].extracted == "print(0)" and store.samples()[0].text.startswith("Here is my solution")
    assert store.problems()[0].metadata["difficulty"] == "easy"
    _assert_passk(_passk_json(capsys, tmp_path / "run"), [3, 3], [2, 0])
    # a generation file (no graded_list) is texts only, and says why verify cannot grade it
    gen = tmp_path / "codegeneration_output.json"
    gen.write_text(json.dumps([{k: v for k, v in r.items() if k not in ("graded_list", "metadata", "pass@1")}
                               for r in json.loads(LCB.read_text())], indent=4))
    run = import_results(gen)
    assert not run.verdicts and "cannot grade" in run.notes[0]


# ------------------------------------------------------------------------------------ verl


def test_verl_binary_score_is_the_verdict(capsys, tmp_path):
    assert detect_format(VERL_GSM8K) == "verl"
    out = _import(capsys, VERL_GSM8K, tmp_path / "run")
    assert "4 samples (4 with verdicts) of 2 problems" in out and "'score'" in out
    store = RunStore.open(tmp_path / "run")
    assert [p.reference for p in store.problems()] == ["72", "10"]
    assert store.problems()[0].prompt.startswith("<|im_start|>user\nNatalia")
    _assert_passk(_passk_json(capsys, tmp_path / "run"), [2, 2], [1, 2])


def test_verl_acc_wins_over_a_plus_minus_one_score(capsys, tmp_path):
    run = import_results(VERL_DAPO)
    assert "'acc'" in run.notes[0] and [v.extracted for _, _, v in run.verdicts][:2] == ["72", "71"]
    with pytest.raises(InputError, match="not 0/1"):
        import_results(VERL_DAPO, metric="score")
    _import(capsys, VERL_DAPO, tmp_path / "run")
    _assert_passk(_passk_json(capsys, tmp_path / "run"), [3, 3], [2, 0])


def test_verl_shaped_reward_is_texts_then_verify(capsys, tmp_path):
    out = _import(capsys, VERL_SHAPED, tmp_path / "run")
    assert "0 with verdicts" in out and "1.1" in out and "texts only" in out
    _verify(capsys, tmp_path / "run")
    _assert_passk(_passk_json(capsys, tmp_path / "run"), [2, 2], [1, 2])


def test_verl_lines_of_several_steps_are_refused(tmp_path):
    f = tmp_path / "all.jsonl"
    f.write_text(VERL_GSM8K.read_text() + VERL_SHAPED.read_text())
    with pytest.raises(InputError, match="several training steps"):
        import_results(f)


# ------------------------------------------------------------------------------------ save_to_disk folders


def _save_to_disk(folder: Path, rows: list[dict], split: str | None) -> Path:
    """A folder as datasets' Dataset.save_to_disk writes it: data-00000-of-00001.arrow (Arrow IPC
    stream), dataset_info.json and state.json (arrow_dataset.py)."""
    folder.mkdir(parents=True)
    table = pa.Table.from_pylist(rows)
    features = {f.name: {"dtype": str(f.type), "_type": "Value"} for f in table.schema}
    table = table.replace_schema_metadata({"huggingface": json.dumps({"info": {"features": features}})})
    with pa.OSFile(str(folder / "data-00000-of-00001.arrow"), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    (folder / "dataset_info.json").write_text(json.dumps({"citation": "", "description": "", "features": features}))
    (folder / "state.json").write_text(json.dumps({
        "_data_files": [{"filename": "data-00000-of-00001.arrow"}], "_fingerprint": "a3b1c2d4e5f60718",
        "_format_columns": None, "_format_kwargs": {}, "_format_type": None, "_output_all_columns": False,
        "_split": split}, indent=2))
    return folder


def _dataset_dict(folder: Path, splits: dict[str, list[dict]]) -> Path:
    for name, rows in splits.items():
        _save_to_disk(folder / name, rows, name)
    (folder / "dataset_dict.json").write_text(json.dumps({"splits": list(splits)}))
    return folder


def test_save_to_disk_folder_of_results(capsys, tmp_path):
    rows = [{"problem_id": p, "correct": bool(ok)} for p, oks in (("a", (1, 0)), ("b", (0, 0))) for ok in oks]
    one = _save_to_disk(tmp_path / "results_ds", rows, "test")
    assert detect_format(one) == "correct_jsonl"
    out = _import(capsys, one, tmp_path / "run")
    assert "4 samples (4 with verdicts) of 2 problems" in out
    _assert_passk(_passk_json(capsys, tmp_path / "run"), [2, 2], [1, 0])
    assert load_counts(one)[2].tolist() == [1, 0]
    # a DatasetDict: the split must be named when there are several
    dd = _dataset_dict(tmp_path / "dd", {"train": rows[:2], "test": rows})
    assert "choose one with --split" in _one_line_error(capsys, "import", dd, "--out", tmp_path / "x")
    assert not (tmp_path / "x").exists()
    _import(capsys, dd, tmp_path / "dd_run", "--split", "train")
    _assert_passk(_passk_json(capsys, tmp_path / "dd_run"), [2], [1])
    assert "no split 'dev'" in _one_line_error(capsys, "import", dd, "--out", tmp_path / "y", "--split", "dev")
    # lm-eval rows pushed to the Hub and saved back: the same importer through the folder
    lm_rows = [json.loads(x) for x in LM_GSM8K.read_text().splitlines()][:3]
    for r in lm_rows:
        r["filtered_resps"] = [str(x) for x in r["filtered_resps"]]
    lm = _save_to_disk(tmp_path / "lm_ds", [{k: json.dumps(v) if k in ("doc", "arguments") else v
                                             for k, v in r.items()} for r in lm_rows], None)
    assert import_results(lm).format == "lm_eval" and load_counts(lm)[2].tolist() == [1, 0, 0]


def test_hub_id_offline_is_one_line(capsys, tmp_path):
    line = _one_line_error(capsys, "import", "openai/gsm8k", "--out", tmp_path / "run")
    assert "openai/gsm8k" in line and "save_to_disk" in line
    assert "openai/gsm8k" in _one_line_error(capsys, "passk", "openai/gsm8k")


# ------------------------------------------------------------------------------------ detection and naming


def test_unknown_layouts_name_what_was_expected_and_what_the_first_row_has(capsys, tmp_path):
    f = tmp_path / "mystery.jsonl"
    f.write_text(json.dumps({"prompt": "p", "answer": "a"}) + "\n")
    line = _one_line_error(capsys, "import", f, "--out", tmp_path / "run")
    assert f"{f}:1:" in line and "['answer', 'prompt']" in line
    for fmt in ("lm_eval", "lighteval", "evalplus_results", "livecodebench", "verl", "correct_jsonl"):
        assert f"({fmt})" in line
    doc = tmp_path / "mystery.json"
    doc.write_text(json.dumps([{"foo": 1}, {"foo": 2}], indent=2))
    with pytest.raises(InputError, match=r"row 1: unknown results format: first row has fields \['foo'\]"):
        import_results(doc)
    pq.write_table(pa.table({"x": [1]}), tmp_path / "t.parquet")
    with pytest.raises(InputError, match=r"row 1: unknown results format.*\['x'\]"):
        import_results(tmp_path / "t.parquet")
    with pytest.raises(InputError, match="applies to a dataset folder"):
        import_results(LM_GSM8K, split="test")


def test_format_can_be_named_and_is_then_checked(capsys, tmp_path):
    line = _one_line_error(capsys, "import", LM_GSM8K, "--out", tmp_path / "run", "--format", "verl")
    assert f"{LM_GSM8K}:1:" in line and "'input'" in line
    assert not (tmp_path / "run").exists()
    assert import_results(VERL_GSM8K, "verl").format == "verl"
    with pytest.raises(InputError, match="does not apply to livecodebench"):
        import_results(LCB, metric="acc")


def test_bad_rows_name_their_line_or_row(tmp_path):
    bad = tmp_path / "samples_x.jsonl"
    lines = LM_GSM8K.read_text().splitlines()
    row = json.loads(lines[1])
    row["resps"] = []
    bad.write_text("\n".join([lines[0], json.dumps(row)]) + "\n")
    with pytest.raises(InputError) as e:
        import_results(bad)
    assert (e.value.line, e.value.field) == (2, "resps")
    dup = tmp_path / "dup.jsonl"
    dup.write_text(lines[0] + "\n" + lines[0] + "\n")
    with pytest.raises(InputError, match="duplicate doc_id 0"):
        import_results(dup)
    lcb = json.loads(LCB.read_text())
    lcb[1]["graded_list"] = lcb[1]["graded_list"][:2]
    g = tmp_path / "lcb_eval_all.json"
    g.write_text(json.dumps(lcb, indent=4))
    with pytest.raises(InputError, match="row 2: field 'graded_list' has 2 entries"):
        import_results(g)


def test_texts_only_run_exports_without_verdict_fields(capsys, tmp_path):
    summary = import_to_run(LM_SC, tmp_path / "run")
    assert summary.n_verdicts == 0 and summary.lines()[1].startswith("  note: texts only")
    assert export_jsonl(summary.store, tmp_path / "x.jsonl") == 12
    rows = [json.loads(x) for x in (tmp_path / "x.jsonl").read_text().splitlines()]
    assert rows[0] == {"problem_id": "0", "sample_index": 0, "text": "The answer is 72.", "seed": None,
                       "finish_reason": None}
    _verify(capsys, tmp_path / "run")
    export_jsonl(summary.store, tmp_path / "y.jsonl")
    assert load_counts(tmp_path / "y.jsonl")[2].tolist() == [3, 1, 0]
