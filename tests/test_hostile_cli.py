"""Hostile inputs against ``cogip-eval``, ``cogip-upload`` and ``cogip-gen``, one table, one contract.

Every case runs the command's real ``main`` (in process: the checks happen before any model loads) under an alarm
and asserts: the exit status, exactly one ``<prog>: error:`` line on stderr naming the file, field or value, no
traceback, no secret anywhere on the console, and every file that was there before byte-identical after.
A few cases run the real console entry (``python -m``) in a subprocess to prove the same through the CLI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cogip_tasks.dimensions import SPEC_PATH as BUILTIN_SPEC_FILE
from conftest import offline_env
from fixtures.hostile import regular_files, run_in_process
from fixtures.release import write_synthetic_release
from hub_upload.release import read_release
from hub_upload.standin import write_standin_images

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


def _error_lines(err: str) -> list[str]:
    """stderr's lines that are not progress bars (datasets' and tqdm's, redrawn with carriage returns)."""
    return [line for line in err.splitlines() if line.strip() and "\r" not in line and "/s]" not in line]


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
    release = write_synthetic_release(root / "release", n_train=2, pool_sizes=3)
    write_standin_images(read_release(release), root / "images", size=16, progress=False)
    prompts = root / "prompts"
    prompts.mkdir()
    (prompts / "good.json").write_text('{"a": "a cat"}')
    (prompts / "nul.json").write_text('{"a": "a c\\u0000at"}')
    (prompts / "long.json").write_text('{"a": "' + "word " * 5000 + '"}')
    (root / "spec_copy").mkdir()
    shutil.copy(BUILTIN_SPEC_FILE, root / "spec_copy" / "spec.yaml")
    return {"root": root, "data": data, "model": root / "model", "release": release, "images": root / "images"}


def _build(a: dict[str, Path], *extra: str) -> list[str]:
    return ["build", "--release", str(a["release"]), "--images", str(a["images"]), "--test-size", "1", *extra]


def _gen(a: dict[str, Path], *extra: str) -> list[str]:
    model = ["--model", "qwen2_5_vl", "--model-args", f"pretrained={a['model']},api_key={SECRET}"]
    return ["generate", "--pipeline", str(a["root"] / "no-pipe"), *model, *extra]


def _write(a: dict[str, Path], *extra: str) -> list[str]:
    return ["tasks", "write", "--spec", str(BUILTIN_SPEC_FILE), "--dataset", str(a["data"]), *extra]


def _judge(a: dict[str, Path], *extra: str) -> list[str]:
    return ["judge", str(a["root"] / "gen"), "--model", "m", "--model-args", f"pretrained=x,api_key={SECRET}", *extra]


def _eval(a: dict[str, Path], *extra: str) -> list[str]:
    return ["--model", "qwen2_5_vl", "--model_args", f"pretrained={a['model']},api_key={SECRET}", *extra]


def _on(name: str, **env: str) -> Callable[[dict[str, Path]], dict[str, str]]:
    return lambda a: {"COGIP_DATASET": str(a["root"] / name), **env}


CASES: list[Case] = [
    # --- secrets: never echoed, usage errors and environment included (the entry wrapper masks every line) ---
    Case(
        "upload-usage-error-echoing-a-token",
        "cogip-upload",
        lambda a: ["push", str(a["data"]), "--repo-id", "a/b", "--dry-run", "--token", SECRET],
        "unrecognized arguments: --token ***",
        code=2,
    ),
    Case(
        "gen-usage-error-echoing-a-key",
        "cogip-gen",
        lambda a: _judge(a, "--api-key", SECRET),
        "unrecognized arguments: --api-key ***",
        code=2,
    ),
    Case(
        "eval-dataset-url-with-credentials",
        "cogip-eval",
        lambda a: _eval(a, "--tasks", "cogip"),
        "https://***@example.org/x: no such dataset",
        env=lambda a: {"COGIP_DATASET": f"https://u:{SECRET}@example.org/x"},
    ),
    # --- $COGIP_MAX_FILE_MB with odd values: refused at once by every command ---
    *(
        Case(
            f"{prog}-max-file-mb-{value}",
            prog,
            argv,
            f"$COGIP_MAX_FILE_MB={value!r}",
            env=lambda a, value=value: {"COGIP_MAX_FILE_MB": value},
        )
        for value in ("0", "-5", "abc", "1e308", "9" * 40, "nan")
        for prog, argv in (
            ("cogip-eval", lambda a: _eval(a, "--tasks", "cogip")),
            ("cogip-upload", lambda a: _build(a, "-o", str(a["root"] / "o1"))),
            ("cogip-gen", lambda a: _gen(a, "--prompt", "a cat", "-o", str(a["root"] / "g1"))),
        )
    ),
    # --- output folders that cannot be written, or are files ---
    Case(
        "upload-output-unwritable",
        "cogip-upload",
        lambda a: _build(a, "-o", "/proc/cogip-out"),
        "/proc/cogip-out: cannot write there",
    ),
    Case(
        "gen-output-unwritable",
        "cogip-gen",
        lambda a: _gen(a, "--prompt", "a cat", "-o", "/proc/cogip-out"),
        "/proc/cogip-out: cannot write there",
    ),
    Case(
        "judge-report-dir-unwritable",
        "cogip-gen",
        lambda a: _judge(a, "--output-dir", "/proc/cogip-out"),
        "/proc/cogip-out: cannot write there",
    ),
    Case(
        "tasks-write-output-unwritable",
        "cogip-eval",
        lambda a: _write(a, "-o", "/proc/cogip-out"),
        "/proc/cogip-out: cannot write there",
    ),
    Case(
        "upload-output-is-a-file",
        "cogip-upload",
        lambda a: _build(a, "-o", str(a["root"] / "notes.txt")),
        "notes.txt: exists and is not a folder",
    ),
    Case(
        "gen-output-is-a-file",
        "cogip-gen",
        lambda a: _gen(a, "--prompt", "a cat", "-o", str(a["root"] / "notes.txt")),
        "notes.txt: exists and is not a folder",
    ),
    Case(
        "tasks-write-output-is-a-file",
        "cogip-eval",
        lambda a: _write(a, "-o", str(a["root"] / "notes.txt")),
        "notes.txt: exists and is not a folder",
    ),
    # --- tasks write: its folder is an output like any other ---
    Case(
        "tasks-write-into-the-dataset",
        "cogip-eval",
        lambda a: _write(a, "-o", str(a["data"] / "tasks")),
        "output lies inside the input",
    ),
    Case(
        "tasks-write-over-its-own-spec",
        "cogip-eval",
        lambda a: [
            "tasks",
            "write",
            "--spec",
            str(a["root"] / "spec_copy" / "spec.yaml"),
            "--dataset",
            str(a["data"]),
            "-o",
            str(a["root"] / "spec_copy"),
        ],
        "output folder holds the input",
    ),
    Case(
        "tasks-write-dataset-folder-missing",
        "cogip-eval",
        lambda a: [
            "tasks",
            "write",
            "--spec",
            str(BUILTIN_SPEC_FILE),
            "--dataset",
            str(a["root"] / "nothing"),
            "-o",
            str(a["root"] / "t1"),
        ],
        "nothing: no such dataset folder",
    ),
    Case(
        "tasks-write-dataset-is-a-file",
        "cogip-eval",
        lambda a: [
            "tasks",
            "write",
            "--spec",
            str(BUILTIN_SPEC_FILE),
            "--dataset",
            str(a["root"] / "notes.txt"),
            "-o",
            str(a["root"] / "t2"),
        ],
        "notes.txt: no such dataset folder",
    ),
    # --- cogip-gen: prompts and absurd numbers refused before a model loads ---
    Case(
        "gen-prompt-with-nul",
        "cogip-gen",
        lambda a: _gen(a, "--prompts", str(a["root"] / "prompts" / "nul.json"), "-o", str(a["root"] / "g2")),
        "control character (U+0000",
    ),
    Case(
        "gen-prompt-too-long",
        "cogip-gen",
        lambda a: _gen(a, "--prompts", str(a["root"] / "prompts" / "long.json"), "-o", str(a["root"] / "g3")),
        "the prompt has 25,000 characters",
    ),
    Case(
        "gen-steps-absurd",
        "cogip-gen",
        lambda a: _gen(a, "--prompt", "a cat", "-o", str(a["root"] / "g4"), "--steps", "10000000000"),
        "--steps: 10000000000 is out of range",
        code=2,
    ),
    Case(
        "gen-width-absurd",
        "cogip-gen",
        lambda a: _gen(a, "--prompt", "a cat", "-o", str(a["root"] / "g5"), "--width", "1000000"),
        "--width: 1000000 is out of range",
        code=2,
    ),
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
    before = regular_files(arena["root"])
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    for key, value in case.env(arena).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    code = run_in_process(_main(case.prog), case.argv(arena))
    out = capsys.readouterr()
    named = case.named(arena) if callable(case.named) else case.named
    lines = _error_lines(out.err)
    assert code == case.code, out.err[-2000:]
    assert len(lines) == 1 and lines[0].startswith(case.prog) and ": error: " in lines[0], out.err[-2000:]
    assert named in lines[0], lines[0]
    assert "Traceback" not in out.out + out.err
    assert SECRET not in out.out + out.err
    assert regular_files(arena["root"]) == before


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
    assert run_in_process(main, _eval(arena, "--tasks", "cogip", "--output_path", str(out))) == 1
    assert "nonsense" in capsys.readouterr().err
    assert not lock_path(out).exists() and not (tmp_path / "new").exists()


def test_python_m_cogip_eval_refuses_an_output_inside_the_dataset(arena, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(arena["data"], data)
    before = regular_files(data)
    proc = subprocess.run(
        [sys.executable, "-m", "cogip_tasks.cli", *_eval(arena, "--tasks", "cogip", "--output_path", str(data))],
        env=offline_env(COGIP_DATASET=str(data)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1 and proc.stderr.strip().startswith("cogip-eval: error: "), proc.stderr
    assert len(_error_lines(proc.stderr)) == 1 and "output is the input" in proc.stderr
    assert regular_files(data) == before and os.listdir(tmp_path) == ["data"]


@pytest.mark.slow  # runs lmms-eval (a model that fails to load): ~30 CPU seconds
def test_a_failed_evaluation_is_one_line_and_a_report_never_a_traceback(arena, tmp_path):
    """lmms-eval prints the traceback of a run that failed and goes on; cogip-eval ends it with one line naming
    the error and the report file that holds the traceback (secrets masked in both)."""
    reports = tmp_path / "reports"
    proc = subprocess.run(
        [sys.executable, "-m", "cogip_tasks.cli", *_eval(arena, "--tasks", "cogip_aesthetics"), "-q"],
        env=offline_env(COGIP_DATASET=str(arena["data"]), COGIP_REPORT_DIR=str(reports)),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr + proc.stdout and SECRET not in proc.stderr + proc.stdout
    ours = [line for line in proc.stderr.splitlines() if line.startswith("cogip-eval: error: ")]
    assert len(ours) == 1 and "the evaluation failed: AssertionError" in ours[0], proc.stderr[-3000:]
    (report,) = reports.iterdir()
    assert report.name in ours[0] and "Traceback" in report.read_text() and SECRET not in report.read_text()
