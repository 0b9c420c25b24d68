"""Shared fixtures: a tiny random Qwen2.5-VL, a local CogIP-format dataset, and running the real lmms-eval CLI."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

# A fresh, empty home for every cache the suite touches (Hugging Face hub + datasets, matplotlib, torch, XDG),
# set before any of those libraries is imported and inherited by every CLI the tests start: a developer's warm
# ~/.cache must not make a test pass that fails on a fresh machine (datasets reuses its cache for a local
# folder of the same name), and the suite must never read or write the user's caches.
_TEST_HOME = Path(tempfile.mkdtemp(prefix="cogip-test-home-"))
for _var, _sub in (
    ("HF_HOME", "hf"),
    ("XDG_CACHE_HOME", "cache"),
    ("MPLCONFIGDIR", "matplotlib"),
    ("TORCH_HOME", "torch"),
    ("TRITON_CACHE_DIR", "triton"),
):
    os.environ[_var] = str(_TEST_HOME / _sub)
for _var in ("HF_DATASETS_CACHE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "TRANSFORMERS_CACHE", "HF_MODULES_CACHE"):
    os.environ.pop(_var, None)  # derived from HF_HOME unless set; an inherited value would bypass it
atexit.register(shutil.rmtree, _TEST_HOME, ignore_errors=True)

# The fast tier (`pytest --fast`), the automatic `slow` marks and the check that keeps the tier fast.
pytest_plugins = ["tiers"]

REPO = Path(__file__).resolve().parents[1]
SHARED_RELEASE = REPO.parent / "shared" / "cogip_release"
TINY_MODEL_ARGS = "device=cpu,device_map=cpu,max_pixels=12544,min_pixels=3136"


@pytest.fixture(scope="session")
def tiny_qwen_dir(tmp_path_factory) -> Path:
    """A random-weight Qwen2.5-VL checkpoint with a locally trained tokenizer (built once per session)."""
    from cogip_tasks.tiny_model import build_tiny_qwen2_5_vl

    return build_tiny_qwen2_5_vl(tmp_path_factory.mktemp("tiny_qwen") / "model", seed=0)


@pytest.fixture(scope="session")
def sample_dataset_dir(tmp_path_factory) -> Path:
    """A local CogIP-format dataset folder: 6 train + 5 test procedural images per dimension."""
    from cogip_tasks.synthetic import build_sample_dataset

    return build_sample_dataset(tmp_path_factory.mktemp("cogip_data") / "dataset", n_train=6, n_test=5, seed=0)


def tiny_train_args(model_dir: Path, dataset: Path, dimensions: str = "aesthetics") -> list[str]:
    """The cogip-train arguments every tiny CPU run shares: the tiny model on CPU, 56x56 images, the sample data."""
    return [
        "--model_args", f"pretrained={model_dir},device=cpu,device_map=cpu", "--min-pixels", "3136",
        "--max-pixels", "3136", "--dataset", str(dataset), "--dimensions", dimensions,
    ]  # fmt: skip


def offline_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LMMS_EVAL_PLUGINS", "COGIP_DATASET", "COGIP_PARSER")}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false", **extra)
    return env


def run_cli(command: list[str], env: dict[str, str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run a CLI in a subprocess; on failure, show its output in the assertion message."""
    proc = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (
        f"{' '.join(command)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
    )
    return proc


def lmms_eval_command(
    model_dir: Path, tasks: str, output_path: Path, *extra: str, model: str = "qwen2_5_vl"
) -> list[str]:
    """The lmms-eval console script of this environment, run on CPU with the tiny model."""
    script = Path(sys.executable).with_name("lmms-eval")
    return [
        str(script),
        "eval",
        "--model",
        model,
        "--model_args",
        f"pretrained={model_dir},{TINY_MODEL_ARGS}",
        "--tasks",
        tasks,
        "--batch_size",
        "4",
        "--output_path",
        str(output_path),
        "--log_samples",
        *extra,
    ]


def load_results(output_path: Path) -> dict:
    from cogip_tasks.results import latest_results_file

    return json.loads(latest_results_file(output_path).read_text())
