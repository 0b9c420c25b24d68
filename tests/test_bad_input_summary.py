"""One walk of bad inputs through every CogIP command: exit 1 (2 for usage errors), no traceback, and one
``<prog>: error:`` line that names the offending file, field or value.

The per-command suites (test_*_hostile.py) test each case in depth; this is the cross-CLI contract of
cogip_tasks/errors.py in one place.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import offline_env
from fixtures.hostile import regular_files, run_in_process

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, sample_dataset_dir) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bad")
    files = {"dataset": sample_dataset_dir, "root": root}
    (root / "prompts_dup.json").write_text('{"a": "a cat", "a": "a dog"}')
    (root / "submission_list.json").write_text("[1, 2, 3]")
    (root / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    run = root / "run" / "model"
    run.mkdir(parents=True)
    (run / "20260101_000000_results.json").write_text("[]")
    (root / "manifest_build").mkdir()
    (root / "manifest_build" / "cogip_build.json").write_text(json.dumps(["not", "an", "object"]))
    (root / "gen_out").mkdir()
    (root / "imgs").mkdir()  # an image root apart from the outputs (an output inside an input is refused)
    from fixtures.release import write_synthetic_release

    write_synthetic_release(root / "release", n_train=2, pool_sizes=3)
    return files


def _cases(f: dict[str, Path]) -> list[tuple[str, list[str], dict[str, str], int, str]]:
    root, data = f["root"], str(f["dataset"])
    no_model = str(root / "no-model-here")
    return [
        (
            "cogip-eval",
            ["eval", "--model", "qwen2_5_vl", "--model_args", f"pretrained={no_model}", "--tasks", "cogip"],
            {"COGIP_DATASET": str(root / "missing")},
            1,
            f"{root / 'missing'}: no such dataset",
        ),
        (
            "cogip-eval",
            ["eval", "--model", "qwen2_5_vl", "--model_args", f"pretrained={no_model}", "--tasks", "cogip_funniness"],
            {"COGIP_DATASET": data, "COGIP_PARSER": "first"},
            1,
            "'first'",
        ),
        (
            "cogip-upload",
            [
                "build",
                "--release",
                str(root / "no-release"),
                "--images",
                str(root / "imgs"),
                "--output-dir",
                str(root / "o"),
            ],
            {},
            1,
            "no-release",
        ),
        (
            "cogip-upload",
            ["push", str(root / "manifest_build"), "--repo-id", "someone/x", "--dry-run"],
            {},
            1,
            "cogip_build.json",
        ),
        (
            "cogip-upload",
            [
                "build",
                "--release",
                str(root / "release"),
                "--images",
                str(root / "imgs"),
                "--output-dir",
                str(root / "o"),
                "--test-size",
                "-1",
            ],
            {},
            1,
            "--test-size",
        ),
        (
            "cogip-train",
            [
                "--model_args",
                f"pretrained={no_model}",
                "--dataset",
                str(root / "missing"),
                "--output-dir",
                str(root / "t1"),
            ],
            {},
            1,
            f"{root / 'missing'}",
        ),
        (
            "cogip-train",
            [
                "--model_args",
                f"pretrained={no_model}",
                "--dataset",
                data,
                "--learning-rate",
                "1e39",
                "--output-dir",
                str(root / "t2"),
            ],
            {},
            2,
            "--learning-rate",
        ),
        (
            "cogip-gen",
            [
                "generate",
                "--pipeline",
                no_model,
                "--model",
                "qwen2_5_vl",
                "--model_args",
                f"pretrained={no_model}",
                "--prompts",
                str(root / "prompts_dup.json"),
                "--output_dir",
                str(root / "gen_out"),
            ],
            {},
            1,
            "prompts_dup.json",
        ),
        (
            "cogip-gen",
            [
                "judge",
                str(root / "gen_out" / "nothing"),
                "--model",
                "qwen2_5_vl",
                "--model_args",
                f"pretrained={no_model}",
            ],
            {},
            1,
            "nothing",
        ),
        (
            "cogip-leaderboard",
            ["verify", str(root / "submission_list.json"), "--dataset", str(root / "missing")],
            {},
            1,
            "missing",
        ),
        (
            "cogip-leaderboard",
            ["submit", str(root / "run"), "-o", str(root / "s.json")],
            {},
            1,
            "20260101_000000_results.json",
        ),
        ("cogip-leaderboard", ["verify", str(root / "deep.json"), "--dataset", data], {}, 1, "deep.json"),
    ]


@pytest.mark.slow  # a dozen CLI processes, each importing torch: ~25 CPU seconds
def test_every_cli_answers_bad_input_with_one_named_line(bad_files, tmp_path):
    failures = []
    for prog, argv, extra_env, code, named in _cases(bad_files):
        proc = subprocess.run(
            [str(BIN / prog), *argv],
            env=offline_env(**extra_env),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        lines = proc.stderr.strip().splitlines() + proc.stdout.strip().splitlines()
        named_lines = [line for line in lines if named in line]
        error_lines = [
            line
            for line in proc.stderr.strip().splitlines()
            if f"{prog}: error:" in line or line.startswith("REJECTED")
        ] + [line for line in proc.stdout.splitlines() if line.startswith("REJECTED")]
        problems = []
        if proc.returncode != code:
            problems.append(f"exit {proc.returncode}, expected {code}")
        if "Traceback" in proc.stderr:
            problems.append("traceback on stderr")
        if len(error_lines) != 1:
            problems.append(f"{len(error_lines)} error lines")
        if not any(named in line for line in error_lines):
            problems.append(f"{named!r} not named in the error line ({named_lines or lines[-1:]})")
        if problems:
            failures.append(f"{prog} {' '.join(argv[:2])}: {'; '.join(problems)}\n{proc.stderr[-1500:]}")
    assert not failures, "\n\n".join(failures)


# ---------------------------------------------------------------------------------------------------------------
# Issue 25, classes 3-7: every command with each class of bad input, in process (fast), each case under a time
# limit (a hang is a failure, not a stuck suite): a non-zero exit, one error line naming the input, no traceback,
# no secret, and every file that was there before is there after, byte for byte.

SECRET = "sk_live_DO_NOT_PRINT_42"


def _dataset_with(folder: Path, rows: list[dict]) -> Path:
    import datasets

    from cogip_tasks.synthetic import build_sample_dataset

    build_sample_dataset(folder, n_train=2, n_test=2, seed=0)
    features = datasets.load_dataset("parquet", data_files=str(folder / "data" / "test-*.parquet"))["train"].features
    for split in ("train", "test"):
        shard = folder / "data" / f"{split}-00000-of-00001.parquet"
        base = datasets.Dataset.from_parquet(str(shard)).to_list()
        datasets.Dataset.from_list(base + rows, features=features).to_parquet(str(shard))
    return folder


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, sample_dataset_dir) -> dict[str, Path]:
    import os
    import struct
    import zlib

    from cogip_tasks.synthetic import jpeg_bytes, procedural_image
    from fixtures.release import write_synthetic_release
    from hub_upload.release import read_release
    from hub_upload.standin import write_standin_images

    root = tmp_path_factory.mktemp("hostile")
    os.mkfifo(root / "fifo.json")
    (root / "zero.json").symlink_to("/dev/zero")
    (root / "folder.json").mkdir()
    (root / "deep.json").write_text("[" * 5000 + "]" * 5000)
    (root / "bigint.json").write_text('{"a": ' + "9" * 5000 + "}")
    (root / "latin1.json").write_bytes(b'{"caf\xe9": 1}')
    (root / "surrogate.json").write_text('{"a": "\\ud800"}')
    release = write_synthetic_release(root / "release", n_train=2, pool_sizes=3)
    write_standin_images(read_release(release), root / "images", size=16, progress=False)
    fifo_data = Path(shutil.copytree(sample_dataset_dir, root / "fifo_data"))
    os.mkfifo(fifo_data / "data" / "test-00001-of-00001.parquet")
    first = {"bytes": jpeg_bytes(procedural_image(1)), "path": None}
    row = {"dimension": "Aesthetics", "prompt": "rate", "score": 5.0, "label": "medium"}
    _dataset_with(root / "dup_data", [{**row, "id": "Aesthetics/000000", "image": first}] * 2)
    header = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    bomb = (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )
    _dataset_with(root / "bomb_data", [{**row, "id": "Aesthetics/bomb", "image": {"bytes": bomb, "path": None}}])
    _dataset_with(
        root / "path_data", [{**row, "id": "Aesthetics/path", "image": {"bytes": None, "path": "/etc/hostname"}}]
    )
    (root / "push_fifo").mkdir()
    os.mkfifo(root / "push_fifo" / "cogip_build.json")
    (root / "push_overflow").mkdir()
    (root / "push_overflow" / "cogip_build.json").write_text(
        '{"rows": {"default": {"test": 1e999}}, "files": {}, "stand_in_images": false}'
    )
    (root / "gen_fifo").mkdir()
    os.mkfifo(root / "gen_fifo" / "manifest.json")
    (root / "prompts").mkdir()
    (root / "prompts" / "manifest.json").write_text('["a cat"]')
    return {"root": root, "release": release, "images": root / "images", "data": sample_dataset_dir}


def _bad_input_cases(h: dict[str, Path]) -> list[tuple[str, str, list[str], dict[str, str], str]]:
    """(class, prog, argv, env, what the error line must name)."""
    root, release, images, data = h["root"], h["release"], h["images"], h["data"]
    model = f"pretrained={root / 'no-model'},api_key={SECRET}"
    train = ["--model-args", model, "--dataset", str(data), "--output-dir"]
    build = ["build", "--release", str(release), "--images", str(images), "--out"]
    gen = ["generate", "--pipeline", str(root / "no-pipe"), "--model", "qwen2_5_vl", "--model_args", model]
    eval_ = ["--model", "qwen2_5_vl", "--model_args", model, "--tasks", "cogip_aesthetics"]
    cases = []
    for name in ("fifo.json", "zero.json", "folder.json", "deep.json", "bigint.json", "latin1.json", "surrogate.json"):
        bad = str(root / name)
        cases += [
            ("3 hostile file", "cogip-upload", [*build, str(root / "o1"), "--test-ids", bad], {}, name),
            ("3 hostile file", "cogip-gen", [*gen, "--prompts", bad, "--output_dir", str(root / "g1")], {}, name),
        ]
        if name in ("fifo.json", "zero.json", "folder.json"):
            cases.append(("3 hostile file", "cogip-train", [*train, str(root / "t1"), "--config", bad], {}, name))
    cases += [
        (
            "3 hostile file",
            "cogip-train",
            [*train[:3], str(root / "fifo_data"), "--output-dir", str(root / "t2")],
            {},
            "test-00001",
        ),
        ("3 hostile file", "cogip-eval", eval_, {"COGIP_DATASET": str(root / "fifo_data")}, "test-00001"),
        (
            "3 hostile file",
            "cogip-upload",
            ["push", str(root / "push_fifo"), "--repo-id", "a/b", "--dry-run"],
            {},
            "FIFO",
        ),
        (
            "3 hostile file",
            "cogip-gen",
            ["judge", str(root / "gen_fifo"), "--model", "m", "--model_args", model],
            {},
            "FIFO",
        ),
        ("4 rows and images", "cogip-eval", eval_, {"COGIP_DATASET": str(root / "dup_data")}, "appears twice"),
        ("4 rows and images", "cogip-eval", eval_, {"COGIP_DATASET": str(root / "bomb_data")}, "decompression bomb"),
        ("4 rows and images", "cogip-eval", eval_, {"COGIP_DATASET": str(root / "path_data")}, "only a path"),
        (
            "4 rows and images",
            "cogip-train",
            [*train[:3], str(root / "dup_data"), "--output-dir", str(root / "t3")],
            {},
            "appears twice",
        ),
        (
            "4 rows and images",
            "cogip-train",
            [*train[:3], str(root / "bomb_data"), "--output-dir", str(root / "t4")],
            {},
            "decompression bomb",
        ),
        (
            "4 rows and images",
            "cogip-upload",
            ["push", str(root / "push_overflow"), "--repo-id", "a/b", "--dry-run"],
            {},
            "rows.default.test",
        ),
        ("6 outputs", "cogip-train", [*train, str(data)], {}, "output is the input"),
        (
            "6 outputs",
            "cogip-upload",
            [
                "audit",
                "--release",
                str(release),
                "--images",
                str(images),
                "--json",
                str(next((release / "cognition_scores").iterdir())),
            ],
            {},
            "output lies inside the input",
        ),
        ("6 outputs", "cogip-upload", [*build, str(images)], {}, "output is the input"),
        (
            "6 outputs",
            "cogip-gen",
            [*gen, "--prompts", str(root / "prompts" / "manifest.json"), "--output_dir", str(root / "prompts")],
            {},
            "output is the input",
        ),
        ("7 options", "cogip-train", [*train, str(root / "t5"), "--split", "test"], {}, "--allow-test-split"),
        (
            "7 options",
            "cogip-train",
            [*train, str(root / "t6"), "--beta", "0.1"],
            {},
            "--beta: not used by --method sft",
        ),
        (
            "7 options",
            "cogip-train",
            [*train, str(root / "t7"), "--grad-accum", "3", "--global-batch-size", "8"],
            {},
            "disagree",
        ),
    ]
    return cases


def _main_of(prog: str):
    from cogip_gen.cli import main as gen_main
    from cogip_tasks.cli import main as eval_main
    from cogip_train.cli import main as train_main
    from hub_upload.cli import main as upload_main

    return {"cogip-eval": eval_main, "cogip-train": train_main, "cogip-gen": gen_main, "cogip-upload": upload_main}[
        prog
    ]


def test_every_command_refuses_every_class_of_bad_input_in_one_line(hostile, monkeypatch, capsys):
    import time

    failures = []
    for klass, prog, argv, env, named in _bad_input_cases(hostile):
        before = regular_files(hostile["root"])
        with monkeypatch.context() as m:
            for key in ("COGIP_DATASET", "COGIP_PARSER"):
                m.delenv(key, raising=False)
            for key, value in env.items():
                m.setenv(key, value)
            start = time.monotonic()
            try:
                code = run_in_process(_main_of(prog), argv)
            except Exception as err:  # noqa: BLE001  a traceback would have reached the user: a failure here
                code = f"raised {type(err).__name__}: {err}"
            seconds = time.monotonic() - start
        out = capsys.readouterr()
        text = out.out + out.err
        errors = [line for line in out.err.splitlines() if "error:" in line]
        problems = []
        if not isinstance(code, int) or code == 0:
            problems.append(f"exit {code}")
        if len(errors) != 1 or not errors[0].startswith((f"{prog}: error: ", "usage:", f"{prog}: ")):
            problems.append(f"{len(errors)} error lines")
        elif named not in errors[0]:
            problems.append(f"{named!r} not named: {errors[0][:300]}")
        if "Traceback" in text:
            problems.append("a traceback")
        if SECRET in text:
            problems.append("the secret was printed")
        after = regular_files(hostile["root"])
        lost = [rel for rel, data in before.items() if after.get(rel) != data]
        if lost:
            problems.append(f"changed or lost: {lost[:3]}")
        if seconds > 60:
            problems.append(f"{seconds:.0f} s")
        if problems:
            failures.append(f"[{klass}] {prog} {' '.join(argv[:1])} ({named}): {'; '.join(problems)}")
    assert not failures, "\n".join(failures)
