"""The worked example of docs/custom-benchmarks.md, end to end on CPU with the tiny model.

A 1-5 sharpness benchmark from a spec, a CSV and procedural images: build -> tasks write -> plain lmms-eval ->
cogip-train -> cogip-eval (the expected readout) -> submit / verify / build, and a submission of another benchmark
refused naming both.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from conftest import REPO, lmms_eval_command, load_results, offline_env, run_cli

pytestmark = pytest.mark.slow

EXAMPLE = REPO / "examples" / "sharpness"
GROUP, TASK = "sharpness_bench", "sharpness_bench_sharpness"
PIXELS = "max_pixels=12544,min_pixels=12544"  # 112x112: 16 visual tokens, as the demo's alignment
STEPS = 150


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def test_sharpness_benchmark_from_spec_to_leaderboard(tiny_qwen_dir, sample_dataset_dir, tmp_path):
    spec = importlib.util.spec_from_file_location("make_sharpness", EXAMPLE / "make_data.py")
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    make.make_data(tmp_path / "src", 60, seed=0)
    env = offline_env()
    data, tasks = tmp_path / "sharp_ds", tmp_path / "sharp_tasks"

    # build and tasks write
    run_cli(
        [sys.executable, "-m", "hub_upload", "build", "--spec", str(EXAMPLE / "spec.yaml"), "--scores",
         str(tmp_path / "src" / "scores.csv"), "--images", str(tmp_path / "src" / "images"), "--output-dir", str(data)],
        env, tmp_path,
    )  # fmt: skip
    run_cli([_bin("cogip-eval"), "tasks", "write", "--dataset", str(data), "--output-dir", str(tasks)], env, tmp_path)

    # the base model with plain lmms-eval: the tasks are ordinary lmms-eval tasks
    base_out = tmp_path / "eval_base"
    run_cli(
        [*lmms_eval_command(tiny_qwen_dir, GROUP, base_out, "--include_path", str(tasks)), "--gen_kwargs",
         "max_new_tokens=24"],
        env, tmp_path,
    )  # fmt: skip
    base = load_results(base_out)["results"]
    assert set(base) == {GROUP, TASK} and base[TASK]["parse_rate,none"] < 0.5

    # train on the dataset's own dimension (targets "sharp 4": the spec's labels and 0 decimals)
    run_dir = tmp_path / "run"
    run_cli(
        [sys.executable, "-m", "cogip_train", "--model", "qwen2_5_vl", "--model_args",
         f"pretrained={tiny_qwen_dir},device=cpu,device_map=cpu,{PIXELS}", "--dataset", str(data),
         "--tune-llm", "full", "--tune-merger", "full", "--tune-vision", "freeze", "--learning-rate", "1e-3",
         "--batch-size", "4", "--warmup", "0.03", "--max-steps", str(STEPS), "--save-steps", str(STEPS),
         "--seed", "0", "--output-dir", str(run_dir)],
        env, tmp_path,
    )  # fmt: skip
    log = json.loads((run_dir / "train_log.json").read_text())
    assert log["settings"]["dimensions"] == ["sharpness"]

    # re-evaluate with cogip-eval and the expected readout (its label bins and range are the spec's)
    aligned_out = tmp_path / "eval_aligned"
    run_cli(
        [_bin("cogip-eval"), "eval", "--model", "cogip_expected", "--model_args",
         f"pretrained={run_dir / 'model'},device=cpu,device_map=cpu,{PIXELS},readout=expected_digits",
         "--include_path", str(tasks), "--tasks", GROUP, "--batch_size", "4", "--gen_kwargs", "max_new_tokens=24",
         "--output_path", str(aligned_out), "--log_samples"],
        env, tmp_path,
    )  # fmt: skip
    aligned = load_results(aligned_out)["results"][TASK]
    assert aligned["parse_rate,none"] >= 0.9 > base[TASK]["parse_rate,none"]
    assert aligned["n_distinct,none"] >= 1

    # leaderboard: submissions of this benchmark, a page titled with its name
    lb = [sys.executable, "-m", "cogip_tasks.leaderboard"]
    subs = tmp_path / "subs"
    for name, out in (("base", base_out), ("aligned", aligned_out)):
        run_cli([*lb, "submit", str(out), "--dataset", str(data), "--name", name, "-o", str(subs / f"{name}.json")],
                env, tmp_path)  # fmt: skip
    assert json.loads((subs / "aligned.json").read_text())["benchmark"]["name"] == GROUP
    run_cli([*lb, "verify", str(subs), "--dataset", str(data)], env, tmp_path)
    run_cli([*lb, "build", str(subs), "--dataset", str(data), "-o", str(tmp_path / "site")], env, tmp_path)
    page = (tmp_path / "site" / "leaderboard.md").read_text()
    assert page.startswith("# Sharpness-Bench leaderboard") and "Sharpness SRCC" in page

    # a submission of this benchmark against CogIP-Bench's data (and the reverse) is refused, naming both
    import subprocess

    refused = subprocess.run(
        [*lb, "verify", str(subs / "aligned.json"), "--dataset", str(sample_dataset_dir)],
        env=env, cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert refused.returncode == 1
    assert "'Sharpness-Bench' ('sharpness_bench')" in refused.stdout and "'CogIP-Bench' ('cogip')" in refused.stdout
