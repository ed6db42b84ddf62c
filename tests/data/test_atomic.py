"""atomic_write: a failed write leaves the destination as it was and no temp file behind."""

from __future__ import annotations

import pytest

from rlbound.data.atomic import atomic_write, atomic_write_text


def test_atomic_write_text_replaces_whole_file(tmp_path):
    dest = tmp_path / "a.json"
    atomic_write_text(dest, "old\n")
    atomic_write_text(dest, "new\n")
    assert dest.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_failed_write_keeps_old_content_and_removes_temp(tmp_path):
    dest = tmp_path / "a.bin"
    atomic_write(dest, lambda fh: fh.write(b"kept"))

    def half_then_fail(fh):
        fh.write(b"partial")
        raise KeyboardInterrupt  # a BaseException, like ctrl-C mid-write

    with pytest.raises(KeyboardInterrupt):
        atomic_write(dest, half_then_fail)
    assert dest.read_bytes() == b"kept"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]
