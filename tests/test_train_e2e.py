"""End to end on CPU: a tiny random Qwen2.5-VL loaded through lmms-eval's wrapper, trained with the soft-label loss
by the real ``python -m cogip_train`` CLI, checkpointed, resumed, merged, then evaluated by the real lmms-eval CLI."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import torch

from cogip_tasks.dimensions import DIMENSIONS
from cogip_tasks.metrics import METRIC_NAMES
from conftest import lmms_eval_command, load_results, offline_env, run_cli


def with_logit_scale(src: Path, dst: Path, scale: float = 20.0) -> Path:
    """The tiny model with its final norm weight raised: random init gives logits of ~0.1 that no LoRA on the
    layers can scale up (the norm and tied embeddings stay frozen), while real LMs have large logit scales."""
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    shutil.copytree(src, dst)
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(src, dtype=torch.float32)
    model.model.language_model.norm.weight.data.fill_(scale)
    model.save_pretrained(dst)
    return dst


def train_command(model_dir: Path, dataset: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "cogip_train", "--model", "qwen2_5_vl",
        "--model_args", f"pretrained={model_dir},device=cpu,device_map=cpu",
        "--min-pixels", "3136", "--max-pixels", "3136", "--dataset", str(dataset), "--dimensions", "aesthetics",
        "--max-samples", "4", "--batch-size", "4", "--learning-rate", "1e-2", "--lr-scheduler", "constant",
        "--warmup", "0", "--lora-rank", "8", "--lora-alpha", "16", "--logging-steps", "1", "--save-steps", "5",
        "--output-dir", str(out), *extra,
    ]


def losses(out: Path) -> dict[int, float]:
    log = json.loads((out / "train_log.json").read_text())["log_history"]
    return {e["step"]: e["loss"] for e in log if "loss" in e}


@pytest.mark.slow
def test_train_resume_merge_and_evaluate(tiny_qwen_dir, sample_dataset_dir, tmp_path):
    model_dir = with_logit_scale(tiny_qwen_dir, tmp_path / "model")
    out = tmp_path / "run"
    env = offline_env()

    run_cli(train_command(model_dir, sample_dataset_dir, out, "--max-steps", "10"), env, tmp_path)
    first = losses(out)
    assert sorted(first) == list(range(1, 11))
    checkpoint = out / "checkpoint-10" / "adapter_model.safetensors"
    written = checkpoint.stat().st_mtime_ns
    assert (out / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"

    # Resume from checkpoint-10 and train to step 18, then merge the adapter into a full model directory.
    run_cli(train_command(model_dir, sample_dataset_dir, out, "--max-steps", "18", "--resume", "--merge"), env, tmp_path)
    both = losses(out)
    assert sorted(both) == list(range(1, 19))
    assert all(both[s] == first[s] for s in first)  # the log of the first 10 steps was restored ...
    assert checkpoint.stat().st_mtime_ns == written and (out / "checkpoint-15").is_dir()  # ... not retrained
    tail = sum(both[s] for s in range(15, 19)) / 4
    assert tail < 0.5 * both[1], f"loss did not fall clearly: step 1 {both[1]:.3f}, steps 15-18 {tail:.3f}"
    assert (out / "adapter" / "adapter_config.json").exists()
    merged = out / "merged"
    assert (merged / "config.json").exists() and (merged / "model.safetensors").exists()
    assert not (merged / "adapter_config.json").exists()
    from safetensors.torch import load_file

    base, tuned = load_file(model_dir / "model.safetensors"), load_file(merged / "model.safetensors")
    assert base.keys() == tuned.keys()  # a plain Qwen2.5-VL checkpoint, no LoRA tensors left
    key = next(k for k in base if k.endswith("layers.0.self_attn.q_proj.weight"))
    assert not torch.allclose(base[key].float(), tuned[key].float(), atol=1e-3)  # the adapter is merged in

    # The merged directory is what lmms-eval evaluates directly, on the cogip tasks.
    results_dir = tmp_path / "eval"
    run_cli(
        lmms_eval_command(merged, "cogip", results_dir, "--limit", "2"),
        offline_env(COGIP_DATASET=str(sample_dataset_dir), LMMS_EVAL_PLUGINS="cogip_tasks"),
        tmp_path,
    )
    results = load_results(results_dir)
    for dim in DIMENSIONS.values():
        assert {f"{m},none" for m in METRIC_NAMES} <= set(results["results"][dim.task_name])
        assert results["n-samples"][dim.task_name]["effective"] == 2

