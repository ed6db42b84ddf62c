"""The exposure study (``rlbound study --preset exposure``): verdicts against Zhang, Neubig, Yue 2025
on constructed counts, and the pipeline end to end at toy size."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from rlbound.study.exposure import SUMMARY, boundary_finding, run_exposure
from rlbound.study.presets import get_study_preset


def _counts(c, n: int = 64):
    c = np.asarray(c)
    return [f"rev/p{i}" for i in range(len(c))], np.full(len(c), n), c


ZERO = _counts(np.zeros(60, dtype=int))
SOME = _counts(np.r_[np.full(30, 3), np.zeros(30, dtype=int)])


def test_sparse_exposure_base_widened_by_rl_is_held() -> None:
    f = boundary_finding("b1", 0.01, ZERO, SOME, 64)
    assert f.verdict == "held" and f.numbers["boundary"] == "widened" and f.ci95[0] > 0


def test_zero_exposure_base_widened_by_rl_contradicts_the_prediction() -> None:
    assert boundary_finding("b0", 0.0, ZERO, SOME, 64).verdict == "contradicted"
    assert boundary_finding("b0", 0.0, SOME, ZERO, 64).verdict == "held"  # narrowed: "does not widen" shown
    assert boundary_finding("b0", 0.0, ZERO, ZERO, 64).verdict == "inconclusive"


def test_sparse_exposure_narrowed_contradicts_and_order_of_problems_does_not_matter() -> None:
    ids, n, c = SOME
    shuffled = (ids[::-1], n[::-1], c[::-1])
    assert boundary_finding("b1", 0.01, SOME, ZERO, 64).verdict == "contradicted"
    assert boundary_finding("b1", 0.01, ZERO, shuffled, 64).numbers == boundary_finding("b1", 0.01, ZERO, SOME,
                                                                                       64).numbers


def test_the_exposure_preset_names_three_bases() -> None:
    p = get_study_preset("exposure")
    assert [s for _, s in p.exposure_bases] == [0.0, 0.01, 0.10]


@pytest.mark.slow
def test_exposure_study_end_to_end_at_toy_size(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RLBOUND_CACHE", str(tmp_path / "cache"))
    p = replace(get_study_preset("smoke"), name="exposure-toy", exposure_bases=(("toy", 0.2),), rl_checkpoints=(2,))
    result = run_exposure(p, tmp_path / "out", progress=False)
    keys = [f["key"] for f in result["findings"]]
    assert keys == ["exposure_toy", "crossing_familiar_toy"]
    stored = json.loads((tmp_path / "out" / SUMMARY).read_text())
    assert stored["findings"] == result["findings"]
    f = result["findings"][0]
    assert f["verdict"] in {"held", "contradicted", "inconclusive"} and f["numbers"]["boundary"] in {
        "widened", "narrowed", "inconclusive"}
    assert (tmp_path / "out" / "work" / "rl_prompts.jsonl").exists()
    rows = [json.loads(x) for x in (tmp_path / "out" / "work" / "rl_prompts.jsonl").read_text().splitlines()]
    assert any(r["metadata"]["context"] == "rev" for r in rows) and any(r["metadata"]["context"] != "rev" for r in rows)
    again = run_exposure(p, tmp_path / "out", progress=False)  # every stage reused
    assert again["findings"] == result["findings"]
