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
from conftest import lmms_eval_command, load_results, offline_env, run_cli, tiny_train_args


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
        sys.executable,
        "-m",
        "cogip_train",
        "--model",
        "qwen2_5_vl",
        *tiny_train_args(model_dir, dataset, "aesthetics"),
        "--max-samples",
        "4",
        "--batch-size",
        "4",
        "--learning-rate",
        "1e-2",
        "--lr-scheduler",
        "constant",
        "--warmup",
        "0",
        "--lora-rank",
        "8",
        "--lora-alpha",
        "16",
        "--logging-steps",
        "1",
        "--save-steps",
        "5",
        "--output-dir",
        str(out),
        *extra,
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
    run_cli(
        train_command(model_dir, sample_dataset_dir, out, "--max-steps", "18", "--resume", "--merge"), env, tmp_path
    )
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


# ---------------------------------------------------------------------------------------------------------------
# Repeatable runs, recipes, gradient accumulation: the real CLI (main(argv)) on the tiny model, a few steps.


def quick_args(model_dir: Path, dataset: Path, out: Path, *extra: str) -> list[str]:
    return [
        *tiny_train_args(model_dir, dataset, "aesthetics,memorability"),
        "--max-samples",
        "4",
        "--batch-size",
        "2",
        "--lora-rank",
        "4",
        "--lora-alpha",
        "8",
        "--learning-rate",
        "1e-2",
        "--logging-steps",
        "1",
        "--save-steps",
        "100",
        "--max-steps",
        "3",
        "--output-dir",
        str(out),
        *extra,
    ]


def history(out: Path) -> list[tuple]:
    """Every logged step's (step, loss, grad_norm, learning_rate), as the floats the Trainer logged."""
    log = json.loads((out / "train_log.json").read_text())["log_history"]
    return [(e["step"], e["loss"], e["grad_norm"], e["learning_rate"]) for e in log if "loss" in e]


@pytest.mark.slow
def test_the_same_seed_repeats_the_run_bit_for_bit(tiny_qwen_dir, sample_dataset_dir, tmp_path):
    """LoRA initialisation, dropout and data order are all seeded: identical floats, not merely close ones."""
    from cogip_train.cli import main

    runs = {}
    for name, seed in (("a", "7"), ("b", "7"), ("other seed", "8")):
        out = tmp_path / name
        assert main(quick_args(tiny_qwen_dir, sample_dataset_dir, out, "--seed", seed, "--lora-dropout", "0.1")) == 0
        runs[name] = history(out)
    assert len(runs["a"]) == 3 and runs["a"] == runs["b"]
    assert [r[2] for r in runs["a"]] != [r[2] for r in runs["other seed"]]  # the seed does matter


@pytest.mark.slow
def test_the_paper_recipe_and_flags_that_override_it(tiny_qwen_dir, sample_dataset_dir, tmp_path):
    from cogip_train.cli import main
    from cogip_train.config import recipe_values

    out = tmp_path / "paper"
    # The recipe's image bounds (256-1280 x 28^2) would make the CPU test slow: explicit flags override them.
    assert (
        main(
            [
                *quick_args(tiny_qwen_dir, sample_dataset_dir, out, "--max-steps", "1"),
                "--recipe",
                "paper",
                "--global-batch-size",
                "4",
            ]
        )
        == 0
    )
    settings = json.loads((out / "train_log.json").read_text())["settings"]
    assert settings["recipe"] == "paper"
    explicit = {
        "lora_rank": 4,
        "lora_alpha": 8,
        "learning_rate": 1e-2,
        "min_pixels": 3136,
        "max_pixels": 3136,
        "global_batch_size": 4,
    }
    for key, value in recipe_values("paper", "qwen2_5_vl").items():
        assert settings[key] == explicit.get(key, value), key
    assert settings["tune_vision"] == settings["tune_merger"] == "full" and settings["weight_decay"] == 0.1
    assert settings["grad_accum"] == 2 and settings["lrs"] == {"llm": 1e-2, "vision": 2e-6, "merger": 1e-5}
    adapter = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert adapter["r"] == 4 and adapter["lora_alpha"] == 8 and adapter["lora_dropout"] == 0.05
    assert sorted(adapter["modules_to_save"]) == [
        "model.visual.blocks.0",
        "model.visual.blocks.1",
        "model.visual.merger",
        "model.visual.patch_embed",
    ]


def test_the_paper_recipe_sets_every_release_value():
    from cogip_train.arguments import resolve

    args = resolve(["--recipe", "paper", "--model_args", "pretrained=x", "--output-dir", "o"]).args
    assert (args.lora_rank, args.lora_alpha, args.lora_dropout) == (64, 64, 0.05)
    assert (args.tune_llm, args.tune_vision, args.tune_merger) == ("lora", "full", "full")
    assert (args.learning_rate, args.vision_lr, args.merger_lr, args.weight_decay) == (3e-5, 2e-6, 1e-5, 0.1)
    assert (args.epochs, args.global_batch_size, args.lr_scheduler, args.warmup) == (1.0, 128, "cosine", 0.03)
    assert (args.min_pixels, args.max_pixels) == (256 * 28 * 28, 1280 * 28 * 28)


@pytest.mark.slow
def test_accumulating_two_half_batches_equals_one_full_batch(tiny_qwen_dir, sample_dataset_dir, tmp_path):
    """2 x batch 2 with accumulation is batch 4: the Trainer counts the answer tokens over the whole optimizer
    step (num_items_in_batch) and the loss divides by that count, so unequal answers weigh the same either way."""
    from safetensors.torch import load_file

    from cogip_train.cli import main

    runs = {}
    for name, layout in (
        ("accumulated", ["--batch-size", "2", "--grad-accum", "2"]),
        ("full batch", ["--batch-size", "4", "--grad-accum", "1"]),
    ):
        out = tmp_path / name
        assert (
            main(
                [
                    *quick_args(tiny_qwen_dir, sample_dataset_dir, out, "--max-steps", "2", "--lora-dropout", "0"),
                    *layout,
                ]
            )
            == 0
        )
        runs[name] = (history(out), load_file(out / "adapter" / "adapter_model.safetensors"))
    (acc_log, acc_w), (full_log, full_w) = runs["accumulated"], runs["full batch"]
    for a, f in zip(acc_log, full_log, strict=True):
        assert a[0] == f[0] and a[1] == pytest.approx(f[1], rel=1e-5) and a[2] == pytest.approx(f[2], rel=1e-4)
    for key in full_w:
        torch.testing.assert_close(acc_w[key], full_w[key], rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_a_full_fine_tune_is_saved_in_the_harness_dtype(tiny_qwen_dir, sample_dataset_dir, tmp_path):
    """Trained in float32 on CPU, saved as the wrapper loaded it (bf16), like a merged LoRA model."""
    from safetensors.torch import load_file

    from cogip_train.cli import main

    out = tmp_path / "full"
    assert (
        main(
            quick_args(
                tiny_qwen_dir,
                sample_dataset_dir,
                out,
                "--max-steps",
                "1",
                "--tune-llm",
                "full",
                "--learning-rate",
                "1e-4",
            )
        )
        == 0
    )
    weights = load_file(out / "model" / "model.safetensors")
    assert {str(t.dtype) for t in weights.values()} == {"torch.bfloat16"}
    assert json.loads((out / "train_log.json").read_text())["settings"]["saved_dtype"] == "torch.bfloat16"
