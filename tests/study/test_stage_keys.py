"""Stage folders of the study are keyed by what their inputs hold, not where they are."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from rlbound.study.run import _settings_hash, shipped_checkpoint


@dataclass(frozen=True)
class Cfg:
    model: str
    task: str
    out: str
    lr: float = 1e-4


def test_a_moved_model_and_task_file_keep_the_key_and_a_change_does_not(tmp_path) -> None:
    tiny = shipped_checkpoint("tiny")
    moved = tmp_path / "elsewhere" / "tiny"
    shutil.copytree(tiny, moved)
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text('{"id": "p"}\n')
    b.write_text('{"id": "p"}\n')
    key = _settings_hash(Cfg(str(tiny), str(a), out="x"))
    assert _settings_hash(Cfg(str(moved), str(b), out="y")) == key
    b.write_text('{"id": "q"}\n')
    assert _settings_hash(Cfg(str(moved), str(b), out="y")) != key
    assert _settings_hash(Cfg(str(tiny), str(a), out="x", lr=2e-4)) != key
    assert _settings_hash(Cfg(str(shipped_checkpoint("teacher")), str(a), out="x")) != key
