"""The trainer's parts: loading through lmms-eval's wrapper, what is trained, the chat-turn data, the NaN stop."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
import torch

from cogip_train.data import IGNORE_INDEX, ChatCollator, EvalRequests, answer_text, load_train_rows
from cogip_train.trainer import (
    LossConfig,
    NonFiniteLossError,
    SoftLabelTrainer,
    TuningConfig,
    param_groups,
    prepare_model,
)
from cogip_train.wrappers import (
    WRAPPERS,
    UnsupportedWrapperError,
    load_through_lmms_eval,
    with_pixel_bounds,
    wrapper_spec,
)
from conftest import TINY_MODEL_ARGS

QWEN = WRAPPERS["qwen2_5_vl"]


@pytest.fixture(scope="module")
def loaded(tiny_qwen_dir):
    return load_through_lmms_eval("qwen2_5_vl", f"pretrained={tiny_qwen_dir},{TINY_MODEL_ARGS}")


def test_loads_through_the_lmms_eval_wrapper(loaded):
    from lmms_eval.models import get_model

    assert isinstance(loaded.wrapper, get_model("qwen2_5_vl"))
    assert loaded.model is loaded.wrapper.model and loaded.processor is loaded.wrapper.processor
    assert loaded.model.dtype == torch.bfloat16  # the harness's loading choices, kept
    assert loaded.processor.image_processor.size.longest_edge == 12544  # model_args reached the processor


def test_unsupported_wrappers_fail_clearly():
    with pytest.raises(UnsupportedWrapperError, match="llava_hf.*does not support yet.*supported: .*qwen2_5_vl"):
        wrapper_spec("llava_hf")
    with pytest.raises(UnsupportedWrapperError, match="not an lmms-eval model"):
        wrapper_spec("no_such_model")


def test_cli_reports_an_unsupported_wrapper(capsys, tmp_path):
    from cogip_train.cli import main

    assert main(["--model", "llava_hf", "--model_args", "pretrained=x", "--output-dir", str(tmp_path)]) == 1
    assert "cogip-train: error: --model 'llava_hf'" in capsys.readouterr().err


def test_pixel_bounds_join_the_model_args():
    args = with_pixel_bounds(QWEN, "pretrained=m,max_pixels=99,device=cpu", 3136, 12544)
    assert args == "pretrained=m,device=cpu,min_pixels=3136,max_pixels=12544"
    assert with_pixel_bounds(QWEN, "pretrained=m", None, None) == "pretrained=m"


def trainable(model) -> list[str]:
    return [n for n, p in model.named_parameters() if p.requires_grad]


def test_lora_llm_full_merger_frozen_vision(tiny_qwen_dir):
    from transformers import Qwen2_5_VLForConditionalGeneration

    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(tiny_qwen_dir)
    peft_model = prepare_model(model, QWEN, TuningConfig(llm="lora", merger="full", vision="freeze", lora_rank=4))
    names = trainable(peft_model)
    lora = [n for n in names if "lora_" in n]
    assert lora and all(".language_model.layers." in n for n in lora)
    leaves = {re.search(r"\.(\w+)\.lora_", n).group(1) for n in lora}
    assert leaves == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    assert any(".visual.merger.modules_to_save." in n for n in names)
    assert not any(".visual.blocks." in n or "patch_embed" in n for n in names)
    groups = param_groups(peft_model, QWEN, {"llm": 1e-4, "vision": 1e-6, "merger": 1e-5})
    assert {g["name"]: g["lr"] for g in groups} == {"llm": 1e-4, "merger": 1e-5}
    assert sum(len(g["params"]) for g in groups) == len(names)


def test_lora_vision_and_full_llm_without_peft(tiny_qwen_dir):
    from transformers import Qwen2_5_VLForConditionalGeneration

    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(tiny_qwen_dir)
    vision = prepare_model(model, QWEN, TuningConfig(llm="freeze", vision="lora", merger="freeze", lora_rank=4))
    names = trainable(vision)
    assert names and all(".visual.blocks." in n and "lora_" in n for n in names)
    assert {g["name"] for g in param_groups(vision, QWEN, {"llm": 1, "vision": 2, "merger": 3})} == {"vision"}

    full = prepare_model(
        Qwen2_5_VLForConditionalGeneration.from_pretrained(tiny_qwen_dir), QWEN, TuningConfig(llm="full")
    )
    names = trainable(full)
    assert names and all(n.startswith(("model.language_model.", "lm_head.")) for n in names)
    with pytest.raises(ValueError, match="nothing to train"):
        prepare_model(full, QWEN, TuningConfig(llm="freeze"))


def test_answer_text():
    assert answer_text(7.2, "aesthetics") == "high 7.200"
    assert answer_text(-2, "Emotional_Valence") == "negative -2.000"
    assert answer_text(0.0, "emotional_valence") == "neutral 0.000"
    assert answer_text(0.123, "memorability") == "very low 0.123"


def test_collator_masks_everything_but_the_answer(loaded, sample_dataset_dir):
    rows = load_train_rows(str(sample_dataset_dir), ["emotional_valence", "memorability"], max_samples=2)
    assert len(rows) == 4
    batch = ChatCollator(EvalRequests(loaded.wrapper, "qwen2_5_vl", loaded.processor))([rows[i] for i in range(4)])
    tok = loaded.tokenizer
    image_pad = tok.convert_tokens_to_ids("<|image_pad|>")
    for i in range(4):
        labels = batch["labels"][i]
        assert tok.decode(labels[labels != IGNORE_INDEX]) == rows[i]["target"] + "<|im_end|>\n"
        assert (labels[batch["input_ids"][i] == image_pad] == IGNORE_INDEX).all()
        assert (labels[batch["attention_mask"][i] == 0] == IGNORE_INDEX).all()
        text = tok.decode(batch["input_ids"][i][batch["attention_mask"][i] == 1])
        # The prompt as the wrapper renders it at evaluation time: system turn, image, then the row's prompt.
        assert text.startswith(
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
            "<|vision_start|><|image_pad|>"
        )
        assert rows[i]["prompt"].removeprefix("<image>").strip() in text
    assert batch["pixel_values"].shape[0] > 0 and batch["image_grid_thw"].shape == (4, 3)


def test_non_finite_loss_stops_training(loaded, tmp_path):
    from transformers import TrainingArguments

    args = TrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True)
    trainer = SoftLabelTrainer(
        model=loaded.model, args=args, processing_class=loaded.tokenizer, loss_config=LossConfig()
    )
    labels = torch.tensor([loaded.tokenizer.encode("x high 7.234")])
    good = SimpleNamespace(logits=torch.randn(1, labels.shape[1], len(loaded.tokenizer)))
    loss = trainer.compute_loss(lambda **_: good, {"labels": labels, "input_ids": labels})
    assert torch.isfinite(loss) and loss > 0
    bad = SimpleNamespace(logits=torch.full((1, labels.shape[1], len(loaded.tokenizer)), float("nan")))
    with pytest.raises(NonFiniteLossError, match="loss is nan at step 0.*training stopped"):
        trainer.compute_loss(lambda **_: bad, {"labels": labels, "input_ids": labels})


# ---------------------------------------------------------------------------------------------------------------
# One input path: a training row is, token for token and pixel for pixel, the request cogip-eval sends.


def evaluation_inputs(wrapper, dataset_dir, monkeypatch, task_name: str = "cogip_aesthetics"):
    """What the real lmms-eval task + wrapper hand to ``model.generate`` for the task's first test document."""
    from lmms_eval.tasks import TaskManager, get_task_dict

    from cogip_train.data import _Captured, _CaptureGenerate

    monkeypatch.setenv("COGIP_DATASET", str(dataset_dir))
    monkeypatch.setenv("LMMS_EVAL_PLUGINS", "cogip_tasks")
    kind = "simple" if wrapper.is_simple else "chat"
    # CogIP's task folder only (the plugin adds it): indexing lmms-eval's thousands of bundled task YAMLs took
    # seconds per call and plays no part in the request.
    tasks = TaskManager(include_defaults=False, model_name="qwen2_5_vl")
    task = get_task_dict([task_name], tasks, task_type=kind)[task_name]
    task.build_all_requests(limit=1, rank=0, world_size=1)
    instance = task.instances[0]
    wrapper.task_dict = {task_name: task.dataset}
    split = instance.args[-1]
    doc = task.dataset[split][instance.doc_id]
    stub = _CaptureGenerate(wrapper.model)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(type(wrapper), "model", property(lambda _self: stub))
        with pytest.raises(_Captured) as captured:
            wrapper.generate_until([instance])
    return doc, captured.value.inputs


def test_a_training_row_is_the_evaluation_request(loaded, sample_dataset_dir, monkeypatch):
    doc, eval_inputs = evaluation_inputs(loaded.wrapper, sample_dataset_dir, monkeypatch)
    row = {**doc, "target": answer_text(doc["score"], doc["dimension"])}
    collator = ChatCollator(EvalRequests(loaded.wrapper, "qwen2_5_vl", loaded.processor))
    batch = collator([row])
    n = eval_inputs["input_ids"].shape[1]
    # Token for token: the prompt part of the training row is the evaluation prompt; the rest is the answer.
    assert batch["input_ids"][0, :n].tolist() == eval_inputs["input_ids"][0].tolist()
    assert (batch["labels"][0, :n] == IGNORE_INDEX).all()
    tok = loaded.tokenizer
    assert tok.decode(batch["labels"][0, n:]) == row["target"] + "<|im_end|>\n"
    # Pixel for pixel: the same image tensor (the wrapper's own encoding and resizing), the same grid.
    assert torch.equal(batch["pixel_values"], eval_inputs["pixel_values"].cpu())
    assert torch.equal(batch["image_grid_thw"], eval_inputs["image_grid_thw"].cpu())
    text = tok.decode(eval_inputs["input_ids"][0])
    assert "<image>" not in text and doc["prompt"].removeprefix("<image>").strip() in text


def test_the_yaml_prompts_reach_the_training_row(loaded, monkeypatch):
    """pre/post prompts of the task YAML (per model, else default) are part of the training prompt."""
    import cogip_train.data as data

    template = {
        "lmms_eval_specific_kwargs": {
            "default": {"pre_prompt": "", "post_prompt": ""},
            "qwen2_5_vl": {"pre_prompt": "PRE ", "post_prompt": " POST"},
        },
        "generation_kwargs": {"max_new_tokens": 8},
    }
    monkeypatch.setattr(data, "task_template", lambda: template)
    requests = EvalRequests(loaded.wrapper, "qwen2_5_vl", loaded.processor)
    doc = {"id": "x", "prompt": "<image>\nRate it.", "image": None}
    assert requests.text(doc) == "PRE Rate it. POST"
    assert EvalRequests(loaded.wrapper, "gemma3", loaded.processor).text(doc) == "Rate it."
