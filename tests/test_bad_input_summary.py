"""One walk of bad inputs through every CogIP command: exit 1 (2 for usage errors), no traceback, and one
``<prog>: error:`` line that names the offending file, field or value.

The per-command suites (test_*_hostile.py) test each case in depth; this is the cross-CLI contract of
cogip_tasks/errors.py in one place.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import offline_env

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
            ["build", "--release", str(root / "no-release"), "--images", str(root), "--output-dir", str(root / "o")],
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
                str(root),
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
