"""The one reader of user files (regular files only, a size cap, bounded decoding); atomic writes (nothing
half-written, the umask's permissions, errors naming the path); one writer per output folder; outputs never inputs."""

from __future__ import annotations

import json
import math
import os
import random
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cogip_tasks.errors import CogIPError
from cogip_tasks.files import (
    MAX_FILE_MB_ENV,
    OutputBusy,
    OutputIsInput,
    UserFileError,
    WriteError,
    atomic_write,
    check_outputs_apart,
    json_safe,
    lock_path,
    output_lock,
    parse_json,
    read_user_bytes,
    read_user_json,
    read_user_jsonl,
    read_user_text,
    write_json,
    write_text,
)


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


# ---- the one reader of user files ----------------------------------------------------------------------------


def _not_regular(tmp_path):
    """Every kind of path that is not a regular file, each refused at once (none may block or grow)."""
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    (tmp_path / "folder.json").mkdir()
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock.json"))
    links = {}
    for target in ("/dev/zero", "/dev/urandom", "/dev/null", str(fifo), str(tmp_path / "folder.json")):
        link = tmp_path / f"link{len(links)}.json"
        link.symlink_to(target)
        links[link] = target
    return [fifo, tmp_path / "folder.json", tmp_path / "sock.json", Path("/dev/zero"), *links], sock


@pytest.mark.parametrize("reader", [read_user_bytes, read_user_text, read_user_json, read_user_jsonl])
def test_every_reader_refuses_what_is_not_a_regular_file_at_once(tmp_path, reader):
    paths, sock = _not_regular(tmp_path)
    try:
        for path in paths:
            start = time.monotonic()
            with pytest.raises(UserFileError) as err:
                reader(path, what="--test-ids file")
            assert time.monotonic() - start < 2
            message = str(err.value)
            assert message.startswith(f"{path}: --test-ids file ") and "\n" not in message
            assert "regular file" in message
    finally:
        sock.close()


def test_a_symlink_to_a_regular_file_is_read(tmp_path):
    (tmp_path / "real.json").write_text('{"a": 1}')
    (tmp_path / "link.json").symlink_to(tmp_path / "real.json")
    assert read_user_json(tmp_path / "link.json") == {"a": 1}


def test_the_size_cap_holds_and_names_the_file_and_the_setting(tmp_path, monkeypatch):
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"x" * ((1 << 20) + 1))
    assert len(read_user_bytes(path)) == (1 << 20) + 1
    monkeypatch.setenv(MAX_FILE_MB_ENV, "1")
    with pytest.raises(UserFileError, match=rf"big.jsonl: file is larger than the 1 MiB .*\${MAX_FILE_MB_ENV}"):
        read_user_bytes(path)
    with pytest.raises(UserFileError, match="larger than the 0 MiB"):
        read_user_bytes(path, max_bytes=1000)
    assert read_user_bytes(path, max_bytes=(1 << 20) + 1)
    for bad in ("0", "-5", "1e3", "lots", "١٠"):
        monkeypatch.setenv(MAX_FILE_MB_ENV, bad)
        with pytest.raises(CogIPError, match=MAX_FILE_MB_ENV):
            read_user_bytes(path)


def test_invalid_utf8_is_one_line_naming_file_and_byte(tmp_path):
    rng = random.Random(0)
    for n in range(50):
        good = "".join(chr(rng.choice([0x41, 0xE9, 0x4E2D, 0x1F600])) for _ in range(rng.randint(0, 20))).encode()
        bad = bytes([rng.choice([0x80, 0xBF, 0xC0, 0xC1, 0xF5, 0xFF, 0xED])])  # never valid where they stand
        path = tmp_path / f"t{n}.txt"
        path.write_bytes(good + bad + b"ok")
        with pytest.raises(UserFileError, match=rf"t{n}.txt: prompts: not UTF-8 text \(byte {len(good)}"):
            read_user_text(path, what="prompts")
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbfhello")
    assert read_user_text(tmp_path / "bom.txt") == "hello"


def _nested(rng: random.Random, depth: int) -> str:
    text = "1"
    for _ in range(depth):
        text = rng.choice([f"[{text}]", f'{{"k": {text}}}', f'[0, {{"a": [{text}]}}]'])
    return text


def test_json_decoding_is_bounded_for_every_shape(tmp_path):
    rng = random.Random(1)
    for depth in (65, 100, 999, 5_000, 200_000):
        (tmp_path / "deep.json").write_text("[" * depth + "]" * depth)
        with pytest.raises(
            UserFileError, match="deep.json: JSON file: JSON nested too deeply \\(more than 64 levels\\)"
        ):
            read_user_json(tmp_path / "deep.json")
    for _ in range(20):
        text = _nested(rng, rng.randint(70, 300))
        with pytest.raises(UserFileError, match="nested too deeply"):
            parse_json(text, "x")
        assert parse_json(_nested(rng, 10), "x") is not None
    for digits in (4301, 10_000, 1_000_000):
        for text in ("1" * digits, f'{{"n": -{"9" * digits}}}', f"[0, {'7' * digits}]"):
            with pytest.raises(UserFileError, match="x: a JSON number is too long"):
                parse_json(text, "x")
    assert parse_json("9" * 4300, "x") == int("9" * 4300)
    for escape in ("\\ud800", "\\udfff", "a\\udc00b", "\\ud83d"):  # lone halves; a pair is fine
        for text in (f'"{escape}"', f'{{"{escape}": 1}}', f'[{{"a": ["{escape}"]}}]'):
            with pytest.raises(UserFileError, match="lone surrogate"):
                parse_json(text, "x")
    assert parse_json('"\\ud83d\\ude00"', "x") == "\U0001f600"
    for text in ('{"a": 1, "a": 2}', '[{"b": {"x": 1, "y": 2, "x": 1}}]'):
        with pytest.raises(UserFileError, match="appears more than once"):
            parse_json(text, "x")
    for text in ("", "{", '{"a": 1', "[1,]", "nul", '{"a": 1} x'):
        with pytest.raises(UserFileError, match="x: not valid JSON"):
            parse_json(text, "x")


def test_json_lines_name_the_line(tmp_path):
    path = tmp_path / "samples.jsonl"
    path.write_bytes(b'{"a": 1}\n\n{"b": 2}\n{"c": \n')
    with pytest.raises(UserFileError, match="samples.jsonl: line 4: not valid JSON"):
        read_user_jsonl(path)
    path.write_bytes(b'{"a": 1}\n\xff\n')
    with pytest.raises(UserFileError, match="samples.jsonl: line 2: not UTF-8"):
        read_user_jsonl(path)
    path.write_bytes(b'{"a": 1}\n\n{"b": 2}')
    assert read_user_jsonl(path) == [{"a": 1}, {"b": 2}]


# ---- writes name the path; one writer per output folder; outputs are never inputs ------------------------------


def test_a_failed_write_names_the_path(tmp_path):
    def full(handle):
        raise OSError(28, "No space left on device")

    path = write_text(tmp_path / "site" / "index.html", "old")
    with pytest.raises(WriteError) as err:
        atomic_write(path, full)
    assert str(err.value) == f"{path}: cannot write (No space left on device); the file there, if any, is unchanged"
    assert isinstance(err.value, OSError) and err.value.errno == 28
    assert path.read_text() == "old" and os.listdir(path.parent) == ["index.html"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(WriteError, match=f"a.json: cannot write \\(Not a directory: {tmp_path / 'file' / 'sub'}\\)"):
        write_text(tmp_path / "file" / "sub" / "a.json", "{}")


_HOLD = """
import sys, time
from cogip_tasks.files import output_lock
with output_lock(sys.argv[1], command="cogip-train"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_an_output_folder_has_one_writer_and_the_second_is_told_who(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(out)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout.readline().strip() == "held"
        start = time.monotonic()
        with pytest.raises(OutputBusy) as err:
            with output_lock(out):
                pass
        assert time.monotonic() - start < 2
        assert str(err.value).startswith(f"{out}: in use by pid {holder.pid} on ") and "cogip-train" in str(err.value)
        with output_lock(tmp_path / "other"):  # another folder is free
            pass
    finally:
        holder.kill()
        holder.wait()
    with output_lock(out):  # a killed holder's lock is free again
        with pytest.raises(OutputBusy):  # and held against this process's own second attempt too
            with output_lock(tmp_path / "." / "run"):
                pass
    assert not out.exists()  # the lock lives beside the folder, never in it
    assert not lock_path(out).exists()  # and is gone once released
    with output_lock(tmp_path / "new" / "deeper" / "run"):
        assert lock_path(tmp_path / "new" / "deeper" / "run").exists()
    assert not (tmp_path / "new").exists()  # folders made only to hold the lock go with it


def test_an_output_is_never_an_input(tmp_path):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "sub" / "r.json").write_text("{}")
    (tmp_path / "hard.json").hardlink_to(data / "sub" / "r.json")
    (tmp_path / "alias").symlink_to(data)
    refused = [
        (data / "sub" / "r.json", data / "sub" / "r.json"),
        (tmp_path / "alias" / "sub" / "r.json", data / "sub" / "r.json"),
        (tmp_path / "hard.json", data / "sub" / "r.json"),
        (data / "sub" / ".." / "sub" / "r.json", data / "sub" / "r.json"),
        (data / "new.json", data),
        (data / "sub" / "deeper" / "x", data),
        (tmp_path, data / "sub" / "r.json"),
        (data, data / "sub"),
        (tmp_path / "alias", data),
    ]
    for out, inp in refused:
        with pytest.raises(OutputIsInput, match=f"^{out}: output "):
            check_outputs_apart([out], [tmp_path / "elsewhere", inp])
    for out, inp in [(tmp_path / "out", data), (tmp_path / "data2", data), (data / "sub2", data / "sub")]:
        check_outputs_apart([out, None], [inp, None])
