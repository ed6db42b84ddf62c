"""The multi-seed aggregation of ``rlbound study --seeds`` and the findings' JSON round trip (pure)."""

from __future__ import annotations

from rlbound.study import findings as F
from rlbound.study.seeds import across_seeds, format_across_seeds


def _row(key: str, held: bool | None, measured: str) -> dict:
    return {"key": key, "claim": f"claim {key}", "measured": measured, "held": held, "numbers": {}}


def test_across_seeds_counts_held_and_evaluated_seeds_per_finding() -> None:
    per_seed = {0: [_row("crossing", True, "a0"), _row("cot_base", None, "c0")],
                3: [_row("crossing", False, "a3"), _row("cot_base", None, "c3"), _row("late", True, "l3")]}
    rows = {r["key"]: r for r in across_seeds(per_seed)}
    assert list(rows) == ["crossing", "cot_base", "late"]  # first-seen order
    assert (rows["crossing"]["held"], rows["crossing"]["evaluated"]) == (1, 2)
    assert (rows["cot_base"]["held"], rows["cot_base"]["evaluated"]) == (0, 0)
    assert rows["crossing"]["measured"] == {0: "a0", 3: "a3"} and rows["late"]["measured"] == {3: "l3"}
    text = format_across_seeds(across_seeds(per_seed))
    assert "[  held 1/2] claim crossing" in text and "[      info] claim cot_base" in text
    assert "seed 3: a3" in text


def test_findings_round_trip_through_json() -> None:
    found = [F.Finding("crossing", "RL wins", "pass@1 ...", True, {"k": 1}), F.Finding("cot", "c", "m", None)]
    back = F.from_json(F.to_json(found))
    assert back == found
    assert F.format_findings(back) == F.format_findings(found)
