"""The demo and tiny runs finish whatever a random model says, at any item count.

A random model's answers may all parse, none parse, be constant or be noise; with 1-3 items a dimension the
metrics have almost no data. None of that may crash a run: metrics are NaN with a logged reason instead.
``--quick`` is the evaluation-only demo; without it the demo also aligns the model (a short run here: whether
alignment *learns* is tests/test_alignment.py's job).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from cogip_tasks.dimensions import DIMENSIONS
from conftest import load_results, offline_env, run_cli

pytestmark = pytest.mark.slow
TASKS = [d.task_name for d in DIMENSIONS.values()]


@pytest.mark.parametrize(("seed", "n_test"), [(1, 2), (2, 3)])
def test_demo_completes_for_other_model_seeds(seed, n_test, tmp_path):
    """Other seeds give other random models (other answers) and other sample data."""
    proc = run_cli(
        [
            str(Path(sys.executable).with_name("cogip-demo")),
            "--quick",
            "--output-dir",
            str(tmp_path / "demo"),
            "--n-test",
            str(n_test),
            "--seed",
            str(seed),
        ],
        offline_env(),
        tmp_path,
    )
    # both readouts' tables in the demo's summary (each cogip-eval step before it prints its own run's table too)
    assert proc.stdout.split("### greedy readout")[-1].count("| cogip (mean) |") == 2
    assert "leaderboard page (open in a browser, no server needed)" in proc.stdout
    assert (tmp_path / "demo" / "leaderboard" / "index.html").is_file()


def test_offline_demo_prints_both_tables_and_builds_the_leaderboard(tmp_path):
    proc = run_cli(
        [
            str(Path(sys.executable).with_name("cogip-demo")),
            "--quick",
            "--output-dir",
            str(tmp_path / "demo"),
            "--n-test",
            "3",
        ],
        offline_env(),
        tmp_path,
    )
    greedy, expected = proc.stdout.split("### greedy readout")[1].split("### expected readout")
    for table in (greedy, expected):
        assert "| cogip (mean) |" in table
        for task in TASKS:
            assert f"| {task} |" in table
    # the expected-score readout always yields a score: parse_rate 1 for the group
    lines = expected.splitlines()
    header = next(line for line in lines if line.startswith("| task |")).split("|")
    group_row = next(line for line in lines if line.startswith("| cogip (mean) |")).split("|")
    assert group_row[header.index(" parse_rate ")].strip() == "1.000"
    page = tmp_path / "demo" / "leaderboard" / "index.html"
    assert "tiny Qwen2.5-VL, expected readout" in page.read_text()
    assert len(list((tmp_path / "demo" / "leaderboard" / "plots").glob("*.png"))) == 5


def test_default_demo_aligns_and_prints_one_before_after_table(tmp_path):
    """The whole loop, shortened (20 steps, 4 items): one table, both models on the page, and a rerun reuses the
    aligned model instead of training again."""
    command = [
        str(Path(sys.executable).with_name("cogip-demo")),
        "--output-dir",
        str(tmp_path / "demo"),
        "--n-train",
        "4",
        "--n-test",
        "4",
        "--steps",
        "20",
    ]
    proc = run_cli(command, offline_env(OMP_NUM_THREADS=""), tmp_path)
    assert "(OMP_NUM_THREADS=1)" in proc.stdout and "1 CPU thread(s) per process" in proc.stdout  # the thread rule
    assert proc.stdout.count("| task | readout | SRCC before [95% CI] | SRCC after [95% CI] |") == 1
    summary = proc.stdout.split("| task | readout | SRCC before [95% CI] | SRCC after [95% CI] |")[1]
    rows = [line for line in summary.splitlines() if line.startswith("| cogip_")]  # not the eval steps' own tables
    assert [r.split("|")[1:3] for r in rows] == [[f" {t} ", f" {r} "] for t in TASKS for r in ("greedy", "expected")]
    for row in rows:  # distinct predictions before -> after: between 0 and the 4 items
        before, after = map(int, re.fullmatch(r" (\d+) -> (\d+) ", row.split("|")[-2]).groups())
        assert 0 <= before <= 4 and 0 <= after <= 4
    expected_rows = [r for r in rows if "| expected |" in r]
    assert all(r.split("|")[-3].strip() == "1.000 -> 1.000" for r in expected_rows)  # parse rate of the readout
    page = (tmp_path / "demo" / "leaderboard" / "index.html").read_text()
    for name in ("base (random weights), greedy", "aligned (soft loss, 20 steps), expected"):
        assert f"tiny Qwen2.5-VL {name}" in page
    again = run_cli(command, offline_env(), tmp_path)
    assert "reusing the aligned model" in again.stdout and "cogip-train (" not in again.stdout


def test_demo_refuses_pretrained_without_quick(tmp_path):
    import subprocess

    proc = subprocess.run(
        [str(Path(sys.executable).with_name("cogip-demo")), "--pretrained", "x", "--output-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=offline_env(),
    )
    assert proc.returncode == 2 and "--pretrained needs --quick" in proc.stderr


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_tiny_limits_finish_with_every_metric_reported(limit, tiny_qwen_dir, sample_dataset_dir, tmp_path):
    out = tmp_path / "out"
    command = [
        str(Path(sys.executable).with_name("cogip-eval")),
        "eval",
        "--model",
        "cogip_expected",
        "--model_args",
        f"pretrained={tiny_qwen_dir},device=cpu,device_map=cpu,max_pixels=12544,min_pixels=3136",
        "--tasks",
        "cogip",
        "--batch_size",
        "4",
        "--limit",
        str(limit),
        "--output_path",
        str(out),
    ]
    run_cli(command, offline_env(COGIP_DATASET=str(sample_dataset_dir)), tmp_path)
    results = load_results(out)
    for task in TASKS:
        assert results["n-samples"][task]["effective"] == limit
        assert "srcc,none" in results["results"][task] and "plcc_logistic,none" in results["results"][task]
