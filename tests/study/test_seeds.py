"""The multi-seed aggregation of ``rlbound study --seeds`` and the findings' JSON round trip (pure)."""

from __future__ import annotations

import numpy as np

from rlbound.study import findings as F
from rlbound.study.run import StudyData, pool
from rlbound.study.seeds import across_seeds, format_across_seeds


def _row(key: str, verdict: str, measured: str, ci: list[float] | None = None) -> dict:
    return {"key": key, "claim": f"claim {key}", "measured": measured, "verdict": verdict, "ci95": ci,
            "tested": "t", "numbers": {}}


def test_across_seeds_reports_each_seeds_verdict_and_the_pooled_one() -> None:
    per_seed = {0: [_row("crossing", "held", "a0", [0.1, 0.2]), _row("cot_base", "info", "c0")],
                3: [_row("crossing", "inconclusive", "a3", [-0.1, 0.2]), _row("cot_base", "info", "c3"),
                    _row("late", "contradicted", "l3", [-0.3, -0.1])]}
    pooled = [_row("crossing", "held", "pooled", [0.05, 0.15])]
    rows = {r["key"]: r for r in across_seeds(per_seed, pooled)}
    assert list(rows) == ["crossing", "cot_base", "late"]  # first-seen order
    assert (rows["crossing"]["held"], rows["crossing"]["evaluated"]) == (1, 2)
    assert rows["crossing"]["verdicts"] == {0: "held", 3: "inconclusive"}
    assert rows["crossing"]["pooled"] == {"verdict": "held", "ci95": [0.05, 0.15], "measured": "pooled"}
    assert (rows["cot_base"]["held"], rows["cot_base"]["evaluated"]) == (0, 0)
    assert rows["late"]["pooled"] is None and rows["late"]["ci95"] == {3: [-0.3, -0.1]}
    text = format_across_seeds(across_seeds(per_seed, pooled))
    assert "[        HELD] claim crossing (pooled 95% CI +0.050 to +0.150) held in 1/2 seeds" in text
    assert "[        info] claim cot_base" in text
    assert "seed 3 [inconclusive]: a3" in text


def test_findings_round_trip_through_json() -> None:
    found = [F.Finding("crossing", "RL wins", "pass@1 ...", "held", (0.1, 0.3), "pass@K diff", {"k": 1}),
             F.Finding("cot", "c", "m", "info")]
    back = F.from_json(F.to_json(found))
    assert back == found
    assert F.format_findings(back) == F.format_findings(found)


def test_legacy_point_decisions_are_not_read_as_held() -> None:
    old = [{"key": "crossing", "claim": "c", "measured": "m", "held": True, "numbers": {}},
           {"key": "cot_base", "claim": "c", "measured": "m", "held": None, "numbers": {}}]
    assert [f.verdict for f in F.from_json(old)] == ["inconclusive", "info"]


def _data(seed: int) -> StudyData:
    ids = [f"p{i}" for i in range(3)]
    n = np.full(3, 4)
    c = np.array([seed, 1, 2])
    return StudyData({"base": (ids, n, c)}, {"base": (ids, n, c)}, {"base": (["p0", "p1"], np.array([1.5, 2.0]))},
                     {"base": None}, {"base": {"p0": seed}})


def test_pool_makes_seed_problem_pairs_and_keeps_missing_data_missing() -> None:
    pooled = pool({0: _data(0), 1: _data(1)})
    ids, n, c = pooled.counts["base"]
    assert ids == ["seed-0/p0", "seed-0/p1", "seed-0/p2", "seed-1/p0", "seed-1/p1", "seed-1/p2"]
    assert c.tolist() == [0, 1, 2, 1, 1, 2] and n.tolist() == [4] * 6
    assert pooled.ppl["base"][0] == ["seed-0/p0", "seed-0/p1", "seed-1/p0", "seed-1/p1"]
    assert pooled.entropy["base"] is None
    assert pooled.support["base"] == {"seed-0/p0": 0, "seed-1/p0": 1}
