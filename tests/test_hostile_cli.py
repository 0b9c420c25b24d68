"""Hostile inputs against ``cogip-eval``, ``cogip-upload`` and ``cogip-gen``, one table, one contract.

Every case runs the command's real ``main`` (in process: the checks happen before any model loads) under an alarm
and asserts: the exit status, exactly one ``<prog>: error:`` line on stderr naming the file, field or value, no
traceback, no secret anywhere on the console, and every file that was there before byte-identical after.
A few cases run the real console entry (``python -m``) in a subprocess to prove the same through the CLI.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import offline_env

SECRET = "sk_live_H2_NEVER_SHOWN_77"
ENV_KEYS = ("COGIP_DATASET", "COGIP_PARSER", "COGIP_MAX_FILE_MB", "HF_TOKEN")


@dataclass
class Case:
    id: str
    prog: str  # cogip-eval | cogip-upload | cogip-gen
    argv: Callable[[dict[str, Path]], list[str]]
    named: str | Callable[[dict[str, Path]], str]  # what the one error line must contain
    env: Callable[[dict[str, Path]], dict[str, str]] = field(default=lambda a: {})
    code: int = 1


def _main(prog: str):
    from cogip_gen.cli import main as gen_main
    from cogip_tasks.cli import main as eval_main
    from hub_upload.cli import main as upload_main

    return {"cogip-eval": eval_main, "cogip-upload": upload_main, "cogip-gen": gen_main}[prog]


def _run_in_process(main, argv: list[str], limit_s: int = 60) -> int:
    def stop(*_):
        raise TimeoutError(f"still running after {limit_s} s (a hang)")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(limit_s)
    try:
        try:
            code = main(argv)
        except SystemExit as exit_:
            code = exit_.code
        return 0 if code is None else int(code)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _snapshot(root: Path) -> dict[str, bytes]:
    import stat

    found = {}
    for path in root.rglob("*"):
        if path.is_symlink() or not stat.S_ISREG(path.lstat().st_mode):
            continue
        found[path.relative_to(root).as_posix()] = path.read_bytes()
    return found


def _error_lines(err: str) -> list[str]:
    """stderr's lines that are not progress bars (datasets' and tqdm's, redrawn with carriage returns)."""
    return [line for line in err.splitlines() if line.strip() and "\r" not in line and "it/s]" not in line]


@pytest.fixture(scope="module")
def arena(tmp_path_factory) -> dict[str, Path]:
    from cogip_tasks.synthetic import build_sample_dataset

    root = tmp_path_factory.mktemp("hostile_cli")
    data = build_sample_dataset(root / "data", n_train=2, n_test=2, seed=0)
    (root / "model").mkdir()
    (root / "model" / "config.json").write_text("{}")
    (root / "notes.txt").write_text("a user's file\n")
    (root / "out_existing").mkdir()
    (root / "out_existing" / "keep.txt").write_text("earlier results\n")
    (root / "link_to_data").symlink_to(data)
    shard = "data/test-00000-of-00001.parquet"
    for name in ("d_big", "d_text", "d_zero", "d_fifo", "d_footer", "d_linkdir"):
        shutil.copytree(data, root / name)
    (root / "d_big" / "data" / "notes.txt").write_bytes(b"x" * (2 << 20))  # over COGIP_MAX_FILE_MB=1
    (root / "d_text" / shard).write_text("id,image\n1,2\n")
    (root / "d_zero" / shard).unlink()
    (root / "d_zero" / shard).symlink_to("/dev/zero")
    (root / "d_fifo" / shard).unlink()
    os.mkfifo(root / "d_fifo" / shard)
    raw = (root / "d_footer" / shard).read_bytes()  # footer length field overwritten: points before the file
    (root / "d_footer" / shard).write_bytes(raw[:-8] + b"\xff\xff\xff\x7fPAR1")
    shutil.move(root / "d_linkdir" / "data", root / "elsewhere")
    (root / "d_linkdir" / "data").symlink_to(root / "elsewhere")
    return {"root": root, "data": data, "model": root / "model"}


def _eval(a: dict[str, Path], *extra: str) -> list[str]:
    return ["--model", "qwen2_5_vl", "--model_args", f"pretrained={a['model']},api_key={SECRET}", *extra]


def _on(name: str, **env: str) -> Callable[[dict[str, Path]], dict[str, str]]:
    return lambda a: {"COGIP_DATASET": str(a["root"] / name), **env}


CASES: list[Case] = [
    # --- the dataset folder's files, checked before `datasets` reads them (cogip_tasks.dataset.check_local_files) ---
    Case(
        "eval-file-over-size-cap",
        "cogip-eval",
        lambda a: _eval(a, "--tasks", "cogip"),
        "notes.txt: 2 MiB, larger than the 1 MiB limit",
        env=_on("d_big", COGIP_MAX_FILE_MB="1"),
    ),
    Case(
        "eval-shard-not-parquet",
        "cogip-eval",
        lambda a: _eval(a, "--tasks", "cogip"),
        "test-00000-of-00001.parquet: not a Parquet file",
        env=_on("d_text"),
    ),
    Case(
        "eval-shard-link-to-dev-zero",
        "cogip-eval",
        lambda a: _eval(a, "--tasks", "cogip"),
        "test-00000-of-00001.parquet: not a regular file",
        env=_on("d_zero"),
    ),
    Case(
        "eval-shard-fifo",
        "cogip-eval",
        lambda a: _eval(a, "--tasks", "cogip"),
        "test-00000-of-00001.parquet: not a regular file",
        env=_on("d_fifo"),
    ),
    Case(
        "eval-shard-damaged-footer",
        "cogip-eval",
        lambda a: _eval(a, "--tasks", "cogip"),
        "test-00000-of-00001.parquet: not a readable Parquet file",
        env=_on("d_footer"),
    ),
    Case(
        "eval-data-folder-is-a-link",
        "cogip-eval",
        lambda a: _eval(a, "--tasks", "cogip"),
        "d_linkdir/data: a link to a folder",
        env=_on("d_linkdir"),
    ),
    # --- cogip-eval --output_path: never an input, never inside one, never holding one, a folder ---
    Case(
        "eval-output-inside-dataset",
        "cogip-eval",
        lambda a: _eval(a, "--tasks", "cogip", "--output_path", str(a["data"] / "results")),
        "output lies inside the input",
        env=lambda a: {"COGIP_DATASET": str(a["data"])},
    ),
    Case(
        "eval-output-is-dataset-through-symlink",
        "cogip-eval",
        lambda a: _eval(a, "--tasks", "cogip", "--output_path", str(a["root"] / "link_to_data")),
        "output is the input",
        env=lambda a: {"COGIP_DATASET": str(a["data"])},
    ),
    Case(
        "eval-output-holds-dataset-via-dotdot",
        "cogip-eval",
        lambda a: _eval(a, "--tasks", "cogip", "--output_path", str(a["data"] / "data" / ".." / "..")),
        "output folder holds the input",
        env=lambda a: {"COGIP_DATASET": str(a["data"])},
    ),
    Case(
        "eval-output-is-model-folder-abbreviated-flag",
        "cogip-eval",
        lambda a: _eval(a, "--tasks", "cogip", "--output", str(a["model"])),
        "output is the input",
        env=lambda a: {"COGIP_DATASET": str(a["data"])},
    ),
    Case(
        "eval-output-is-a-file",
        "cogip-eval",
        lambda a: _eval(a, "--tasks", "cogip", f"--output_path={a['root'] / 'notes.txt'}"),
        "exists and is not a folder",
        env=lambda a: {"COGIP_DATASET": str(a["data"])},
    ),
    Case(
        "eval-use-cache-inside-dataset",
        "cogip-eval",
        lambda a: _eval(a, "--tasks", "cogip", "--use_cache", str(a["data"] / "cache")),
        "output lies inside the input",
        env=lambda a: {"COGIP_DATASET": str(a["data"])},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_is_one_named_line_and_changes_nothing(case: Case, arena, monkeypatch, capsys):
    before = _snapshot(arena["root"])
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    for key, value in case.env(arena).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    code = _run_in_process(_main(case.prog), case.argv(arena))
    out = capsys.readouterr()
    named = case.named(arena) if callable(case.named) else case.named
    lines = _error_lines(out.err)
    assert code == case.code, out.err[-2000:]
    assert len(lines) == 1 and lines[0].startswith(f"{case.prog}: error: "), out.err[-2000:]
    assert named in lines[0], lines[0]
    assert "Traceback" not in out.out + out.err
    assert SECRET not in out.out + out.err
    assert _snapshot(arena["root"]) == before


def test_a_parquet_footer_claiming_too_many_rows_is_refused_before_datasets_reads_it(arena, monkeypatch):
    """The row count comes from the footer alone (pyarrow's metadata): a real shard of 8 rows over a limit of 7."""
    from cogip_tasks import dataset
    from cogip_tasks.dataset import CogIPDataError, load_cogip

    monkeypatch.setattr(dataset, "MAX_SHARD_ROWS", 7)
    with pytest.raises(CogIPDataError, match=r"test-00000-of-00001.parquet: its Parquet footer claims 8 rows"):
        load_cogip(str(arena["data"]), split="test")
    monkeypatch.setattr(dataset, "MAX_SHARD_ROWS", 8)
    assert len(load_cogip(str(arena["data"]), split="test")) == 8


def test_a_second_evaluation_into_a_held_output_path_fails_at_once_naming_the_holder(arena, tmp_path, monkeypatch):
    """The lock is taken before the dataset is loaded or lmms-eval imported: the second run ends at once."""
    out = tmp_path / "results"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from cogip_tasks.files import output_lock\n"
            f"with output_lock({str(out)!r}, command='cogip-eval'):\n"
            "    print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=offline_env(),
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        proc = subprocess.run(
            [sys.executable, "-m", "cogip_tasks.cli", *_eval(arena, "--tasks", "cogip", "--output_path", str(out))],
            env=offline_env(COGIP_DATASET=str(arena["data"])),
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        holder.kill()
        holder.wait()
    lines = _error_lines(proc.stderr)
    assert proc.returncode == 1, proc.stderr
    assert len(lines) == 1 and f"pid {holder.pid}" in lines[0] and "cogip-eval" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and SECRET not in proc.stderr + proc.stdout


def test_the_output_path_lock_is_released_and_leaves_no_file(arena, tmp_path, monkeypatch, capsys):
    """A refused run (here: a bad parser) releases the lock and removes the folders it made for it."""
    from cogip_tasks.cli import main
    from cogip_tasks.files import lock_path

    out = tmp_path / "new" / "results"
    monkeypatch.setenv("COGIP_DATASET", str(arena["data"]))
    monkeypatch.setenv("COGIP_PARSER", "nonsense")
    assert _run_in_process(main, _eval(arena, "--tasks", "cogip", "--output_path", str(out))) == 1
    assert "nonsense" in capsys.readouterr().err
    assert not lock_path(out).exists() and not (tmp_path / "new").exists()


def test_python_m_cogip_eval_refuses_an_output_inside_the_dataset(arena, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(arena["data"], data)
    before = _snapshot(data)
    proc = subprocess.run(
        [sys.executable, "-m", "cogip_tasks.cli", *_eval(arena, "--tasks", "cogip", "--output_path", str(data))],
        env=offline_env(COGIP_DATASET=str(data)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1 and proc.stderr.strip().startswith("cogip-eval: error: "), proc.stderr
    assert len(_error_lines(proc.stderr)) == 1 and "output is the input" in proc.stderr
    assert _snapshot(data) == before and os.listdir(tmp_path) == ["data"]
