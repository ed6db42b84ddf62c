"""`import rlbound`: the names a library user needs, loaded on first use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import rlbound

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "benchmarks" / "eval_rm_maj_example"


def test_import_loads_nothing_heavy():
    code = "import rlbound, sys; bad = [m for m in ('numpy', 'torch', 'math_verify') if m in sys.modules]; print(bad)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_exported_name_resolves():
    for name in rlbound.__all__:
        assert getattr(rlbound, name) is not None, name
    with pytest.raises(AttributeError):
        rlbound.no_such_name  # noqa: B018


def test_pass_at_k_and_grade():
    assert rlbound.pass_at_k(10, 1, 1) == pytest.approx(0.1)
    assert rlbound.grade(r"so the answer is $\boxed{\frac{1}{2}}$", "0.5").correct
    assert not rlbound.grade(r"$\boxed{3}$", "4").correct


@pytest.mark.skipif(not (SHARED / "math_cot_100.jsonl").exists(), reason="shared benchmarks not present")
def test_load_run_and_compare(tmp_path):
    from rlbound.cli import main

    assert main(["import", str(SHARED / "math_cot_100.jsonl"), "--out", str(tmp_path / "run")]) == 0
    run = rlbound.load_run(tmp_path / "run")
    ids, n, c = run.counts()
    assert len(ids) == 100 and int(n.sum()) == 800
    comp = rlbound.compare(tmp_path / "run", tmp_path / "run", ks=[1, 8])
    d = comp.to_json_dict()
    assert d["pass_at_k"]["base"] == d["pass_at_k"]["other"]
