"""The four tasks and the group through the real lmms-eval CLI, by each of the three registration routes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import datasets
import pytest

from cogip_tasks.dimensions import DIMENSIONS
from cogip_tasks.metrics import GROUP_METRIC_NAMES, METRIC_NAMES
from cogip_tasks.results import latest_results_file, read_samples, samples_file
from conftest import TINY_MODEL_ARGS, lmms_eval_command, load_results, offline_env, run_cli

pytestmark = pytest.mark.slow
TASKS = [d.task_name for d in DIMENSIONS.values()]


def assert_complete_run(output_path: Path, n_per_task: int) -> None:
    results = load_results(output_path)
    for task in TASKS:
        section = results["results"][task]
        assert {f"{m},none" for m in METRIC_NAMES} <= set(section), task
        assert results["n-samples"][task]["effective"] == n_per_task
    for task in TASKS:  # the config records each aggregation by its own name, not a functools.partial repr
        for entry in results["configs"][task]["metric_list"]:
            assert entry["aggregation"].startswith(f"<function {entry['metric']} "), entry
        assert results["configs"][task]["process_docs"].startswith(f"<function process_docs_{task[6:]} ")
    group = results["results"].get("cogip") or results["groups"]["cogip"]
    assert {f"{m},none" for m in GROUP_METRIC_NAMES} <= set(group)

    for task in TASKS:
        samples = read_samples(samples_file(latest_results_file(output_path), task))
        assert len(samples) == n_per_task
        dim = task.removeprefix("cogip_")
        for sample in samples:
            item = sample["srcc"]
            assert item["dimension"] == dim and item["id"].startswith(DIMENSIONS[dim].release_name + "/")
            assert {"pred", "label", "failure", "human", "parser"} <= set(item)
            # the parsed score is there for every doc: a number, or None with the reason
            assert (item["pred"] is None) == (item["failure"] is not None)


def test_plugin_route(tiny_qwen_dir, sample_dataset_dir, tmp_path):
    env = offline_env(COGIP_DATASET=str(sample_dataset_dir), LMMS_EVAL_PLUGINS="cogip_tasks")
    run_cli(lmms_eval_command(tiny_qwen_dir, "cogip", tmp_path / "out"), env, tmp_path)
    assert_complete_run(tmp_path / "out", 5)


def test_bare_lmms_eval_finds_the_tasks_after_install(tiny_qwen_dir, sample_dataset_dir, tmp_path):
    """`lmms-eval --tasks cogip_aesthetics`: no LMMS_EVAL_PLUGINS, no --include_path (the flat legacy form)."""
    env = offline_env(COGIP_DATASET=str(sample_dataset_dir))
    assert "LMMS_EVAL_PLUGINS" not in env
    command = lmms_eval_command(tiny_qwen_dir, "cogip_aesthetics", tmp_path / "out")
    command.remove("eval")
    proc = run_cli(command, env, tmp_path)
    assert "not found" not in (proc.stdout + proc.stderr).lower()
    assert load_results(tmp_path / "out")["n-samples"]["cogip_aesthetics"]["effective"] == 5


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["lmms-eval", "models"], ["cogip_expected"]),
        (["cogip-eval", "tasks", "list"], [t for t in TASKS] + ["cogip"]),
        (
            ["cogip-eval", "--help"],
            ["COGIP_DATASET", "COGIP_PARSER", "Exit status", "usage: cogip-eval", "lmms-eval eval --help"],
        ),
    ],
)
def test_listings_and_help_show_the_plugin(command, expected, tmp_path):
    command = [str(Path(sys.executable).with_name(command[0])), *command[1:]]
    proc = run_cli(command, offline_env(), tmp_path)
    for word in expected:
        assert word in proc.stdout, (word, proc.stdout[-3000:])


def test_include_path_route_on_a_save_to_disk_dataset(tiny_qwen_dir, sample_dataset_dir, tmp_path):
    path = subprocess.run([sys.executable, "-m", "cogip_tasks", "--path"], capture_output=True, text=True, check=True)
    saved = tmp_path / "saved"
    datasets.load_dataset(str(sample_dataset_dir)).save_to_disk(str(saved))
    env = offline_env(COGIP_DATASET=str(saved))
    command = lmms_eval_command(tiny_qwen_dir, "cogip", tmp_path / "out", "--include_path", path.stdout.strip())
    run_cli(command, env, tmp_path)
    assert_complete_run(tmp_path / "out", 5)


def test_console_script_route_passes_arguments_through(tiny_qwen_dir, sample_dataset_dir, tmp_path):
    env = offline_env(COGIP_DATASET=str(sample_dataset_dir))
    command = [
        str(Path(sys.executable).with_name("cogip-eval")),
        "--model",
        "qwen2_5_vl",
        "--model_args",
        f"pretrained={tiny_qwen_dir},{TINY_MODEL_ARGS}",
        "--tasks",
        "cogip",
        "--limit",
        "3",
        "--gen_kwargs",
        "max_new_tokens=8",
        "--output_path",
        str(tmp_path / "out"),
        "--log_samples",
    ]
    proc = run_cli(command, env, tmp_path)
    assert_complete_run(tmp_path / "out", 3)  # --limit reached lmms-eval
    samples = read_samples(samples_file(latest_results_file(tmp_path / "out"), "cogip_funniness"))
    assert all(s["token_counts"][0]["output_tokens"] <= 8 for s in samples)  # so did --gen_kwargs
    # a random model never stops on its own: every answer used all 8 tokens, and cogip-eval says so per task
    for task in TASKS:
        assert f"cogip-eval: warning: {task}: 3 of 3 answers used all max_new_tokens=8" in proc.stderr


def test_console_script_never_prints_the_hf_token(tiny_qwen_dir, sample_dataset_dir, tmp_path):
    secret = "hf_cogipTestSecret0123456789"
    env = offline_env(COGIP_DATASET=str(sample_dataset_dir), HF_TOKEN=secret)
    command = lmms_eval_command(tiny_qwen_dir, "cogip_aesthetics", tmp_path / "out", "--limit", "1")
    command[0] = str(Path(sys.executable).with_name("cogip-eval"))
    proc = run_cli(command, env, tmp_path)
    assert "Evaluation tracker args" in proc.stdout + proc.stderr  # the line lmms-eval puts the token in
    assert secret not in proc.stdout + proc.stderr


def test_console_script_masks_model_args_secrets_when_the_model_fails(tiny_qwen_dir, sample_dataset_dir, tmp_path):
    """#25.1: a credential in --model_args (which the wrapper rejects, so lmms-eval prints its error and the
    args) never reaches cogip-eval's console: every value the published-args allow-list drops is masked."""
    secret = "sk_live_cogipTestSecret0123"
    env = offline_env(COGIP_DATASET=str(sample_dataset_dir))
    command = lmms_eval_command(tiny_qwen_dir, "cogip_aesthetics", tmp_path / "out", "--limit", "1")
    command[0] = str(Path(sys.executable).with_name("cogip-eval"))
    at = command.index("--model_args") + 1
    command[at] += f',api_key={secret},headers={{"Authorization":"Bearer {secret}"}}'
    proc = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.stdout + proc.stderr  # it said something (the failure) ...
    assert secret not in proc.stdout + proc.stderr  # ... without the secret


@pytest.mark.parametrize("entry", ["lmms-eval", "cogip-eval"])
def test_bad_dataset_stops_the_run_naming_column_row_and_value(entry, tiny_qwen_dir, sample_dataset_dir, tmp_path):
    test = datasets.load_dataset(str(sample_dataset_dir), split="test")
    broken = test.map(lambda r: {"score": float("nan") if r["id"] == "Funniness/100002" else r["score"]})
    datasets.DatasetDict({"test": broken}).save_to_disk(str(tmp_path / "broken"))
    env = offline_env(COGIP_DATASET=str(tmp_path / "broken"), LMMS_EVAL_PLUGINS="cogip_tasks")
    command = lmms_eval_command(tiny_qwen_dir, "cogip_funniness", tmp_path / "out")
    command[0] = str(Path(sys.executable).with_name(entry))
    proc = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert "column 'score', row id 'Funniness/100002': value is NaN" in proc.stdout + proc.stderr
    assert not list((tmp_path / "out").rglob("*_results.json"))  # stopped before any model answer
    # lmms-eval 0.7.3 logs the error yet exits 0: cogip-eval stops before the model loads, and the tasks make
    # even plain lmms-eval exit 1 with the reason as its last line
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert "column 'score', row id 'Funniness/100002': value is NaN" in last
    assert last.startswith("cogip-eval: error:" if entry == "cogip-eval" else "CogIP: evaluation failed:")
