"""Atomic writes: nothing half-written, and the permissions an ordinary write would give."""

from __future__ import annotations

import json
import math
import os
import stat

import pytest

from cogip_tasks.files import atomic_write, json_safe, write_json, write_text


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_honour_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        path = write_text(tmp_path / "site" / "index.html", "<html></html>")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert path.read_text() == "<html></html>"


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = write_text(tmp_path / "report.json", "old")

    def failing(handle):
        handle.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, failing)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_json_safe_turns_every_non_finite_float_into_null_at_any_depth():
    data = {"a": math.nan, "b": [1.5, math.inf, (-math.inf, 2)], "c": {"d": {"e": math.nan}}, "f": "nan", "g": 0}
    assert json_safe(data) == {"a": None, "b": [1.5, None, [None, 2]], "c": {"d": {"e": None}}, "f": "nan", "g": 0}
    assert data["a"] is not None  # the input is not modified


def test_write_json_is_strict_json_path_first(tmp_path):
    path = write_json(tmp_path / "out" / "r.json", {"srcc": math.nan, "name": "modèle", "ci": [0.1, math.inf]})
    text = path.read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text and "modèle" in text and text.endswith("\n")
    assert json.loads(text) == {"srcc": None, "name": "modèle", "ci": [0.1, None]}
    with pytest.raises(TypeError):  # what JSON cannot hold is an error, and nothing is written
        write_json(tmp_path / "bad.json", {"x": object()})
    assert not (tmp_path / "bad.json").exists() and os.listdir(tmp_path) == ["out"]
