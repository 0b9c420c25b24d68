"""A cogip-train run folder as the Trainer and TRL leave one (#23.3): trainer_state.json, train_results.json,
train_log.json with package versions, real model cards (huggingface_hub.ModelCard) in the root, adapter/ and
merged/, no local paths, report_to passed through, and a summary before training."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from cogip_train.cards import base_model_id, dataset_id
from cogip_train.config import DEFAULT_REPORT_TO
from cogip_train.outputs import shareable_settings, summary_text

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def test_base_model_is_named_by_its_hub_id_when_it_has_one(tmp_path):
    assert base_model_id("Qwen/Qwen2.5-VL-3B-Instruct") == "Qwen/Qwen2.5-VL-3B-Instruct"
    snapshot = tmp_path / "hub" / "models--Qwen--Qwen2.5-VL-3B-Instruct" / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    assert base_model_id(str(snapshot)) == "Qwen/Qwen2.5-VL-3B-Instruct"
    plain = tmp_path / "my-model"
    plain.mkdir()
    assert base_model_id(str(plain)) is None  # a local folder: no Hub id, and never its path
    (plain / "README.md").write_text("---\nbase_model: org/base\n---\n# a model trained by cogip-train\n")
    assert base_model_id(str(plain)) == "org/base"  # an earlier run's card names its base
    (plain / "README.md").write_text("---\nbase_model: /home/me/base\n---\n")
    assert base_model_id(str(plain)) is None


def test_dataset_is_named_by_its_hub_id(tmp_path):
    assert dataset_id("foolen/CogIP-Bench") == "foolen/CogIP-Bench"
    assert dataset_id("foolen/CogIP-Bench@v1.0") == "foolen/CogIP-Bench"
    assert dataset_id(str(tmp_path)) is None


def test_shareable_settings_hold_no_local_path(tmp_path):
    out = tmp_path / "runs" / "r1"
    settings = {
        "model_args": f"pretrained={tmp_path}/models/base,device=cpu,api_key=sk-secret123456",
        "dataset": str(tmp_path / "data" / "built"),
        "output_dir": out,
        "resumed_from": str(out / "checkpoint-4"),
        "lora_rank": 8,
    }
    shared = shareable_settings(settings, out)
    assert str(tmp_path) not in json.dumps(shared) and "sk-secret" not in json.dumps(shared)
    assert shared["model_args"].startswith("pretrained=base,device=cpu")
    assert shared["dataset"] == "local:built" and shared["output_dir"] == "r1"
    assert shared["resumed_from"] == "checkpoint-4" and shared["lora_rank"] == 8


def test_summary_names_rows_steps_and_trainable_parameters_per_part():
    text = summary_text(
        {"aesthetics": 6, "memorability": 4},
        max_steps=5,
        epochs=1.0,
        global_batch=2,
        parts={"llm": (8_192, 108_096), "vision": (0, 58_816), "merger": (24_800, 24_800)},
        modes={"llm": "lora", "vision": "freeze", "merger": "full"},
    )
    assert "10 training rows (aesthetics 6, memorability 4)" in text
    assert "5 optimizer steps (1 epoch(s), 2 rows per step)" in text
    assert "trainable parameters 32,992 of 191,712 (17.209%)" in text
    assert "llm 8,192 of 108,096 (lora); vision 0 of 58,816 (freeze); merger 24,800 of 24,800 (full)" in text


def test_report_to_passes_through_and_defaults_to_none(tmp_path):
    from transformers import TrainingArguments

    from cogip_train.config import TrainConfig
    from cogip_train.trainer import training_arguments

    default = training_arguments(TrainConfig(), str(tmp_path), bf16=False, processes=1, use_cpu=True)
    assert default.report_to == TrainingArguments(str(tmp_path), report_to=DEFAULT_REPORT_TO).report_to
    chosen = training_arguments(
        TrainConfig(), str(tmp_path), bf16=False, processes=1, use_cpu=True, report_to=["tensorboard"]
    )
    assert chosen.report_to == ["tensorboard"]


@pytest.mark.slow
def test_a_run_folder_looks_like_a_trl_run_with_real_cards(tiny_qwen_dir, sample_dataset_dir, tmp_path, capsys):
    import transformers
    from huggingface_hub import ModelCard
    from safetensors.torch import load_file

    from cogip_train.cli import main
    from conftest import tiny_train_args

    # the base model as the Hub cache holds it: the cards name its Hub id, never the folder
    base = tmp_path / "hub" / "models--tiny-org--tiny-qwen" / "snapshots" / COMMIT
    shutil.copytree(tiny_qwen_dir, base)
    out = tmp_path / "runs" / "soft"
    argv = [
        *tiny_train_args(base, sample_dataset_dir, "aesthetics,memorability"),
        "--max-samples", "4", "--batch-size", "2", "--lora-rank", "4", "--lora-alpha", "8",
        "--tune-merger", "full", "--logging-steps", "1", "--max-steps", "3", "--output-dir", str(out), "--merge",
    ]  # fmt: skip
    assert main(argv) == 0
    err = capsys.readouterr().err

    # the summary before training
    assert "cogip-train: 8 training rows (aesthetics 4, memorability 4)" in err
    assert "cogip-train: 3 optimizer steps (1 epoch(s), 2 rows per step)" in err
    adapter_weights = load_file(out / "adapter" / "adapter_model.safetensors")
    trainable = sum(t.numel() for t in adapter_weights.values())
    assert f"cogip-train: trainable parameters {trainable:,} of " in err
    assert re.search(r"llm [\d,]+ of [\d,]+ \(lora\)", err) and re.search(r"vision 0 of [\d,]+ \(freeze\)", err)
    assert re.search(r"merger [1-9][\d,]* of [\d,]+ \(full\)", err)

    # the Trainer's own run files
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 3 and [e["step"] for e in state["log_history"] if "loss" in e] == [1, 2, 3]
    results = json.loads((out / "train_results.json").read_text())
    assert {"train_loss", "train_runtime", "train_samples_per_second"} <= set(results)
    assert results["train_samples"] == 8 and (out / "all_results.json").is_file()
    log = json.loads((out / "train_log.json").read_text())
    assert log["versions"]["transformers"] == transformers.__version__ and log["versions"]["cogip"]
    assert log["settings"]["method"] == "sft"

    # a card in the root, adapter/ and merged/: the ecosystem's class reads each one
    for folder, library in ((out, "peft"), (out / "adapter", "peft"), (out / "merged", "transformers")):
        text = (folder / "README.md").read_text()
        card = ModelCard.load(folder / "README.md")
        assert card.data.base_model == "tiny-org/tiny-qwen", folder
        assert card.data.library_name == library and "cogip" in card.data.tags
        assert "[More Information Needed]" not in text  # PEFT's template is replaced
        assert (
            "soft-label SFT" in text
            and "the run **soft**" in text
            and "rows per dimension: aesthetics 4, memorability 4" in text
        )
        assert "| `lora_rank` | 4 |" in text and f"{log['log_history'][0]['loss']}" in text
        assert "cogip-eval --model qwen2_5_vl --model_args pretrained=soft/merged" in text
        assert f"- transformers: {transformers.__version__}" in text
        assert card.data.datasets is None and "a local dataset folder (dataset)" in text
    # nothing meant to be shared names a local path
    for name in ("train_log.json", "README.md", "adapter/README.md", "merged/README.md"):
        assert str(tmp_path) not in (out / name).read_text(), name
