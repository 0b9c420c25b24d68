"""The model families the paper aligns, each through lmms-eval's own wrapper: Qwen3-VL (``qwen3_vl``), Gemma-3
(``gemma3``) and Llama-3.2-Vision (``llama_vision``; its tokenizer merges digits as Llama-3's does). Each gets a tiny
random checkpoint built offline (tests/fixtures_models.py); a training row is checked to be the evaluation request
token for token and pixel for pixel, and each family is trained, merged and evaluated by the real lmms-eval CLI."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

import fixtures_models
from cogip_train.data import IGNORE_INDEX, ChatCollator, EvalRequests, answer_text
from cogip_train.soft_label import DigitTokens
from cogip_train.wrappers import load_through_lmms_eval
from conftest import load_results, offline_env, run_cli
from test_train import evaluation_inputs

BUILDERS = {
    "qwen3_vl": fixtures_models.build_tiny_qwen3_vl,
    "gemma3": fixtures_models.build_tiny_gemma3,
    "llama_vision": fixtures_models.build_tiny_llama_vision,
}
#: model_args beyond pretrained: CPU, and small images where the wrapper takes pixel bounds (Qwen3: 32 px units).
PLACEMENT = {
    "qwen3_vl": "device=cpu,device_map=cpu,min_pixels=4096,max_pixels=4096",
    "gemma3": "device=cpu,device_map=cpu",
    "llama_vision": "device=cpu,device_map=cpu",
}


@pytest.fixture(scope="module", params=list(BUILDERS))
def family(request, tmp_path_factory) -> tuple[str, Path]:
    name = request.param
    return name, BUILDERS[name](tmp_path_factory.mktemp(name) / "model", seed=0)


def test_a_training_row_is_the_evaluation_request(family, sample_dataset_dir, monkeypatch):
    name, model_dir = family
    loaded = load_through_lmms_eval(name, f"pretrained={model_dir},{PLACEMENT[name]}")
    doc, eval_inputs = evaluation_inputs(loaded.wrapper, sample_dataset_dir, monkeypatch)
    row = {**doc, "target": answer_text(doc["score"], doc["dimension"])}
    batch = ChatCollator(EvalRequests(loaded.wrapper, name, loaded.processor))([row])
    n = eval_inputs["input_ids"].shape[1]
    assert batch["input_ids"][0, :n].tolist() == eval_inputs["input_ids"][0].tolist()
    assert (batch["labels"][0, :n] == IGNORE_INDEX).all() and (batch["labels"][0, n:] != IGNORE_INDEX).all()
    assert row["target"] in loaded.tokenizer.decode(batch["labels"][0, n:])
    for key, value in eval_inputs.items():  # pixels, grids, tile masks ...: the same tensors
        if key not in ("input_ids", "attention_mask", "token_type_ids", "mm_token_type_ids", "cross_attention_mask"):
            assert torch.equal(batch[key], value.cpu()), key
        else:
            assert torch.equal(batch[key][:, :n], value.cpu()), key


def test_llama_vision_numbers_are_multi_digit_tokens(tmp_path):
    model_dir = fixtures_models.build_tiny_llama_vision(tmp_path / "model")
    from transformers import AutoProcessor

    digits = DigitTokens.from_tokenizer(AutoProcessor.from_pretrained(model_dir))
    assert digits.max_length == 3  # "234" is one token: the soft label works over numeric values


@pytest.mark.slow
def test_train_merge_and_evaluate(family, sample_dataset_dir, tmp_path):
    from safetensors.torch import load_file

    from cogip_train.cli import main

    name, model_dir = family
    out = tmp_path / "run"
    assert (
        main(
            [
                "--model",
                name,
                "--model_args",
                f"pretrained={model_dir},{PLACEMENT[name]}",
                "--dataset",
                str(sample_dataset_dir),
                "--dimensions",
                "aesthetics",
                "--max-samples",
                "4",
                "--batch-size",
                "2",
                "--max-steps",
                "3",
                "--learning-rate",
                "1e-2",
                "--lora-rank",
                "4",
                "--lora-alpha",
                "8",
                "--logging-steps",
                "1",
                "--tune-merger",
                "full",
                "--output-dir",
                str(out),
                "--merge",
            ]
        )
        == 0
    )
    log = json.loads((out / "train_log.json").read_text())
    assert [e["step"] for e in log["log_history"] if "loss" in e] == [1, 2, 3]
    assert log["settings"]["model"] == name and log["settings"]["loss"] == "soft"
    base, merged = load_file(model_dir / "model.safetensors"), load_file(out / "merged" / "model.safetensors")
    assert base.keys() == merged.keys()  # a plain checkpoint of the family, no LoRA tensors left
    changed = [k for k in base if k.endswith("layers.0.self_attn.q_proj.weight") and "vision" not in k]
    assert changed and not torch.allclose(base[changed[0]].float(), merged[changed[0]].float())
    # Saved in the dtype the harness loads the family in (bf16 for qwen3_vl/gemma3, the checkpoint's for llama).
    assert str(merged[changed[0]].dtype) == log["settings"]["saved_dtype"]

    results_dir = tmp_path / "eval"
    command = [
        str(Path(sys.executable).with_name("lmms-eval")),
        "eval",
        "--model",
        name,
        "--model_args",
        f"pretrained={out / 'merged'},{PLACEMENT[name]}",
        "--tasks",
        "cogip_aesthetics",
        "--batch_size",
        "2",
        "--limit",
        "2",
        "--gen_kwargs",
        "max_new_tokens=8",
        "--output_path",
        str(results_dir),
    ]
    run_cli(command, offline_env(COGIP_DATASET=str(sample_dataset_dir), LMMS_EVAL_PLUGINS="cogip_tasks"), tmp_path)
    results = load_results(results_dir)
    assert results["n-samples"]["cogip_aesthetics"]["effective"] == 2
    assert "srcc,none" in results["results"]["cogip_aesthetics"]


def test_a_part_without_linear_layers_cannot_be_lorad(tmp_path, capsys):
    from cogip_train.cli import main

    code = main(
        [
            "--model",
            "gemma3",
            "--model_args",
            "pretrained=unused",
            "--tune-merger",
            "lora",
            "--output-dir",
            str(tmp_path / "o"),
        ]
    )
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 1 and line.startswith("cogip-train: error: --tune-merger lora: gemma3's merger")
    assert "use --tune-merger full or freeze" in line and not (tmp_path / "o").exists()
