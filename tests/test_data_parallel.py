"""Data-parallel evaluation on CPU: 2 processes (torchrun, gloo) give the numbers 1 process gives.

lmms-eval interleaves documents over ranks (rank r takes docs r, r + P, ...), so the items reach the metrics in
another order; every number must be a function of the set of (id, answer) pairs, and `verify` must accept the
submission made from the 2-process run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from cogip_tasks.results import latest_results_file, read_samples, samples_file
from conftest import TINY_MODEL_ARGS, offline_env, run_cli

pytestmark = pytest.mark.slow


def _evaluate(tiny_qwen_dir: Path, out: Path, processes: int, env: dict[str, str], cwd: Path) -> dict:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)]
    command = [
        *(launcher if processes > 1 else [sys.executable]),
        "-m",
        "cogip_tasks.cli",
        "eval",
        "--model",
        "cogip_expected",
        "--model_args",
        f"pretrained={tiny_qwen_dir},{TINY_MODEL_ARGS}",
        "--tasks",
        "cogip",
        "--batch_size",
        "2",
        "--output_path",
        str(out),
        "--log_samples",
    ]
    run_cli(command, env, cwd)
    return json.loads(latest_results_file(out).read_text())


def test_two_processes_give_the_numbers_of_one_and_an_accepted_submission(tiny_qwen_dir, sample_dataset_dir, tmp_path):
    env = offline_env(COGIP_DATASET=str(sample_dataset_dir), OMP_NUM_THREADS="1")
    one = _evaluate(tiny_qwen_dir, tmp_path / "one", 1, env, tmp_path)
    two = _evaluate(tiny_qwen_dir, tmp_path / "two", 2, env, tmp_path)

    # the 2-process run really was split: its samples arrive rank by rank, not in document order
    samples = read_samples(samples_file(latest_results_file(tmp_path / "two"), "cogip_aesthetics"))
    doc_ids = [s["doc_id"] for s in samples]
    assert sorted(doc_ids) == list(range(5)) and doc_ids != sorted(doc_ids)

    compared = 0
    for task, metrics in one["results"].items():
        for name, value in metrics.items():
            if isinstance(value, float):
                other = two["results"][task][name]
                assert other == value or (value != value and other != other), (task, name, value, other)
                compared += 1
    assert compared > 40

    submission = tmp_path / "two.json"
    leaderboard = [sys.executable, "-m", "cogip_tasks.leaderboard"]
    run_cli(
        [*leaderboard, "submit", str(tmp_path / "two"), "--name", "tiny, 2 processes", "-o", str(submission)],
        env,
        tmp_path,
    )
    run_cli([*leaderboard, "verify", str(submission)], env, tmp_path)
