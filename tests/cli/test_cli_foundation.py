"""The foundation CLI end to end: passk / compare / import / export, and bad input as one line, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rlbound.cli import main

REPO = Path(__file__).resolve().parents[2]
RM_MAJ = REPO.parent / "shared" / "benchmarks" / "eval_rm_maj_example" / "math_cot_100.jsonl"
needs_shared = pytest.mark.skipif(not RM_MAJ.exists(), reason="../shared/benchmarks not present")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _one_line_error(rc: int, err: str) -> str:
    assert rc == 2
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("reading")]
    assert len(lines) == 1, err
    assert lines[0].startswith("rlbound: error: ")
    assert "Traceback" not in err
    return lines[0]


@needs_shared
def test_passk_json_on_real_graded_responses(capsys):
    rows = [json.loads(line) for line in RM_MAJ.read_text().splitlines() if line.strip()]
    scores = [bool(s) for r in rows for s in r["score"]]
    rc, out, _ = run(capsys, "passk", str(RM_MAJ), "--json")
    assert rc == 0
    d = json.loads(out)
    assert d["pass_at_k"]["1"] == pytest.approx(sum(scores) / len(scores), abs=1e-12)
    assert set(d["pass_at_k"]) == {"1", "2", "4", "8"} == set(d["ci95"])
    for k, (lo, hi) in d["ci95"].items():
        assert 0 <= lo <= d["pass_at_k"][k] <= hi <= 1
    vals = [d["pass_at_k"][k] for k in ("1", "2", "4", "8")]
    assert vals == sorted(vals)


@needs_shared
def test_import_export_compare_roundtrip(capsys, tmp_path):
    run_dir = tmp_path / "run"
    rc, out, _ = run(capsys, "import", str(RM_MAJ), "--out", str(run_dir))
    assert rc == 0 and "800 samples" in out
    rc, out, _ = run(capsys, "export", str(run_dir), "--out", str(tmp_path / "x.jsonl"))
    assert rc == 0
    rows = [json.loads(x) for x in (tmp_path / "x.jsonl").read_text().splitlines()]
    assert len(rows) == 800
    assert {"problem_id", "sample_index", "text", "correct", "status"} <= set(rows[0])
    rc, out, _ = run(capsys, "compare", str(run_dir), str(tmp_path / "x.jsonl"), "--json")
    assert rc == 0
    d = json.loads(out)
    assert d["crossing_k"] is None  # identical runs never cross
    assert d["efficiency_gap"] == pytest.approx(d["pass_at_k"]["base"]["8"] - d["pass_at_k"]["other"]["1"])
    assert set(d["coverage"]) == {"both", "only_base", "only_other", "neither"}
    assert d["coverage"]["only_base"] == [] and d["coverage"]["only_other"] == []
    assert len(d["coverage"]["both"]) + len(d["coverage"]["neither"]) == 100


def test_compare_coverage_ids(capsys, tmp_path):
    base = tmp_path / "base.jsonl"
    other = tmp_path / "other.jsonl"
    base.write_text("".join(json.dumps({"problem_id": p, "correct": c}) + "\n"
                            for p, cs in {"a": [1, 0], "b": [0, 0], "c": [1, 1], "d": [0, 0]}.items() for c in map(bool, cs)))
    other.write_text("".join(json.dumps({"problem_id": p, "correct": c}) + "\n"
                             for p, cs in {"a": [1, 1], "b": [0, 1], "c": [0, 0], "d": [0, 0]}.items() for c in map(bool, cs)))
    rc, out, _ = run(capsys, "compare", str(base), str(other), "--json")
    assert rc == 0
    cov = json.loads(out)["coverage"]
    assert cov == {"both": ["a"], "only_base": ["c"], "only_other": ["b"], "neither": ["d"]}


def _results(path: Path, correct: dict[str, int], n: int) -> None:
    path.write_text("".join(json.dumps({"problem_id": p, "correct": i < c}) + "\n"
                            for p, c in correct.items() for i in range(n)))


def test_compare_gives_a_boundary_verdict_and_chance_coverage(capsys, tmp_path):
    base, other = tmp_path / "base.jsonl", tmp_path / "other.jsonl"
    # 40 problems: other solves 20 that base never does; 20 both solve
    _results(base, {f"p{i}": (0 if i < 20 else 3) for i in range(40)}, 8)
    _results(other, {f"p{i}": 2 for i in range(40)}, 8)
    rc, out, _ = run(capsys, "compare", str(base), str(other), "--json")
    d = json.loads(out)
    assert rc == 0 and d["boundary"]["verdict"] == "widened" and d["boundary"]["k"] == 8
    assert d["boundary"]["ci95"][0] > 0 and d["boundary"]["diff"] == pytest.approx(0.5)
    assert set(d["coverage_chance"]) == {"only_base", "only_other"} and d["coverage_chance"]["only_other"] > 0
    rc, text, _ = run(capsys, "compare", str(base), str(other))
    assert text.splitlines()[0].startswith("boundary: WIDENED at k=8")
    assert "expected by chance" in text
    # the same runs compared with themselves: no verdict
    rc, out, _ = run(capsys, "compare", str(base), str(base), "--json")
    assert json.loads(out)["boundary"]["verdict"] == "inconclusive"


@pytest.mark.parametrize(
    "content, expect",
    [
        ('{"problem_id": "a", "correct": true}\n{"problem_id": "a", "correct": tru\n', ":2: "),
        ('{"problem_id": "a"}\n', "'correct'"),
        ('{"problem_id": "a", "correct": "yes"}\n', "'correct'"),
        ("", "empty"),
    ],
)
def test_bad_input_is_one_line_exit_2(capsys, tmp_path, content, expect):
    f = tmp_path / "bad.jsonl"
    f.write_text(content)
    rc, _, err = run(capsys, "passk", str(f))
    line = _one_line_error(rc, err)
    assert str(f) in line and expect in line


def test_k_above_n_names_problem(capsys, tmp_path):
    f = tmp_path / "r.jsonl"
    f.write_text("".join(json.dumps({"problem_id": "p7", "correct": i == 0}) + "\n" for i in range(4)))
    rc, _, err = run(capsys, "passk", str(f), "--k", "1,8")
    line = _one_line_error(rc, err)
    assert "k=8" in line and "n=4" in line and "p7" in line


def test_failed_import_leaves_nothing(capsys, tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_text('{"problem_id": "a", "correct": true}\n{"problem_id": "b"}\n')
    out_dir = tmp_path / "run"
    rc, _, err = run(capsys, "import", str(f), "--out", str(out_dir))
    _one_line_error(rc, err)
    assert not out_dir.exists()


def test_export_refuses_to_overwrite(capsys, tmp_path):
    f = tmp_path / "r.jsonl"
    f.write_text(json.dumps({"problem_id": "a", "correct": True}) + "\n")
    run_dir = tmp_path / "run"
    assert run(capsys, "import", str(f), "--out", str(run_dir))[0] == 0
    target = tmp_path / "keep.jsonl"
    target.write_text("precious\n")
    rc, _, err = run(capsys, "export", str(run_dir), "--out", str(target))
    _one_line_error(rc, err)
    assert target.read_text() == "precious\n"


def test_console_script_help_and_version():
    exe = Path(sys.executable).parent / "rlbound"
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True).stdout
    assert out.startswith("rlbound ")
    helptext = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True).stdout
    for cmd in ("passk", "compare", "import", "export"):
        assert cmd in helptext
        sub = subprocess.run([str(exe), cmd, "--help"], capture_output=True, text=True)
        assert sub.returncode == 0 and "usage:" in sub.stdout
