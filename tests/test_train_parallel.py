"""Scale: several processes, the launcher configs, what the engines need from cogip-train.

Run on CPU: a 2-process data-parallel run (``accelerate launch --config_file cogip_train/configs/cpu/ddp.yaml``,
gloo; ``device=cpu`` in --model_args is the device override that keeps every rank's wrapper on the CPU) gives the
losses of 1 process at the same global batch. The GPU configs are checked here, and so is each piece cogip-train
changed for the engines (the optimizer is built by the Trainer, ZeRO-3 loading drops the wrapper's device_map,
their checkpoint layouts resume); DeepSpeed and FSDP themselves run in tests/test_engines.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from cogip_train.launch_configs import CONFIG_DIR
from conftest import REPO, offline_env, run_cli, tiny_train_args

CONFIGS = CONFIG_DIR


def parallel_args(model_dir: Path, dataset: Path, out: Path, batch: int) -> list[str]:
    return [
        *tiny_train_args(model_dir, dataset, "aesthetics,memorability"),
        "--max-samples",
        "4",
        "--batch-size",
        str(batch),
        "--global-batch-size",
        "8",
        "--lora-rank",
        "4",
        "--lora-alpha",
        "8",
        "--lora-dropout",
        "0",
        "--tune-merger",
        "full",
        "--learning-rate",
        "1e-2",
        "--logging-steps",
        "1",
        "--save-steps",
        "100",
        "--max-steps",
        "2",
        "--output-dir",
        str(out),
    ]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def logged(out: Path) -> tuple[list[tuple], dict]:
    log = json.loads((out / "train_log.json").read_text())
    return [(e["step"], e["loss"], e["grad_norm"]) for e in log["log_history"] if "loss" in e], log["settings"]


@pytest.mark.slow
def test_two_processes_give_the_losses_of_one(tiny_qwen_dir, sample_dataset_dir, tmp_path):
    """Global batch 8 either way: 1 process x batch 4 x 2 accumulation steps, or 2 processes x batch 2 x 2."""
    env = offline_env(OMP_NUM_THREADS="1")
    one, two = tmp_path / "one", tmp_path / "two"
    run_cli(
        [sys.executable, "-m", "cogip_train", *parallel_args(tiny_qwen_dir, sample_dataset_dir, one, 4)],
        env,
        tmp_path,
        timeout=300,
    )
    accelerate = str(Path(sys.executable).with_name("accelerate"))
    proc = run_cli(
        [
            accelerate,
            "launch",
            "--config_file",
            str(CONFIGS / "cpu" / "ddp.yaml"),
            "--main_process_port",
            str(free_port()),
            "-m",
            "cogip_train",
            *parallel_args(tiny_qwen_dir, sample_dataset_dir, two, 2),
        ],
        env,
        tmp_path,
        timeout=300,
    )
    (one_log, one_set), (two_log, two_set) = logged(one), logged(two)
    assert (one_set["processes"], one_set["grad_accum"]) == (1, 2) and (
        two_set["processes"],
        two_set["grad_accum"],
    ) == (2, 2)
    assert one_set["global_batch_size"] == two_set["global_batch_size"] == 8
    assert (one_set["engine"]["engine"], two_set["engine"]["engine"]) == ("none", "ddp")
    assert len(one_log) == 2
    for a, b in zip(one_log, two_log, strict=True):
        assert a[0] == b[0] and a[1] == pytest.approx(b[1], rel=1e-5) and a[2] == pytest.approx(b[2], rel=1e-4)
    assert proc.stdout.count("adapter/model:") == 1  # one process writes the outputs
    from safetensors.torch import load_file

    w1, w2 = (
        load_file(one / "adapter" / "adapter_model.safetensors"),
        load_file(two / "adapter" / "adapter_model.safetensors"),
    )
    assert w1.keys() == w2.keys()
    for key in w1:  # Adam turns float-order noise in near-zero gradients into ~1e-5 steps (lr 1e-2): 1% of a step
        torch.testing.assert_close(w1[key], w2[key], rtol=1e-3, atol=1e-4)


def test_a_global_batch_that_does_not_divide_is_refused(tiny_qwen_dir, tmp_path, capsys):
    from cogip_train.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(
            [
                "--model_args",
                f"pretrained={tiny_qwen_dir}",
                "--output-dir",
                str(tmp_path / "o"),
                "--batch-size",
                "3",
                "--global-batch-size",
                "128",
            ]
        )
    assert exit_.value.code == 2
    assert "--global-batch-size 128 is not a multiple of --batch-size 3" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name,kind", [("ddp", "MULTI_GPU"), ("zero2", "DEEPSPEED"), ("zero3", "DEEPSPEED"), ("fsdp", "FSDP")]
)
def test_the_example_accelerate_configs(name, kind):
    """Each config loads with accelerate's own loader; DeepSpeed ones point at a JSON whose engine-owned values
    are "auto" (the Trainer fills them from cogip-train's flags, so the two can never disagree)."""
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(CONFIGS / f"{name}.yaml"))
    assert config.distributed_type.name == kind and not config.use_cpu
    if kind == "DEEPSPEED":
        ds_file = REPO / config.deepspeed_config["deepspeed_config_file"]
        ds = json.loads(ds_file.read_text())
        assert ds["zero_optimization"]["stage"] == int(name[-1])
        for key in ("train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "gradient_clipping"):
            assert ds[key] == "auto"
        assert ds["bf16"]["enabled"] == "auto"
        if name == "zero3":
            assert config.deepspeed_config["zero3_init_flag"] is True
            assert ds["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True
    if kind == "FSDP":
        assert config.fsdp_config["fsdp_version"] == 2


def test_the_trainer_builds_the_part_optimizer(tiny_qwen_dir, tmp_path):
    """No ready-made optimizer is passed (FSDP refuses one, DeepSpeed wraps the Trainer's): create_optimizer
    builds one group per part at its learning rate, without weight decay on biases and norms."""
    from transformers import Qwen2_5_VLForConditionalGeneration

    from cogip_tasks.tiny_model import train_tokenizer
    from cogip_train.config import TrainConfig
    from cogip_train.trainer import LossConfig, SoftLabelTrainer, TuningConfig, prepare_model, training_arguments
    from cogip_train.wrappers import WRAPPERS

    config = TrainConfig(tune_llm="full", tune_merger="full", learning_rate=1e-3, merger_lr=1e-5, weight_decay=0.1)
    model = prepare_model(
        Qwen2_5_VLForConditionalGeneration.from_pretrained(tiny_qwen_dir),
        WRAPPERS["qwen2_5_vl"],
        TuningConfig.of(config),
    )
    trainer = SoftLabelTrainer(
        model=model,
        args=training_arguments(config, str(tmp_path), bf16=False, processes=1, use_cpu=True),
        processing_class=train_tokenizer(),
        loss_config=LossConfig.of(config),
        spec=WRAPPERS["qwen2_5_vl"],
        part_lrs=config.learning_rates(),
    )
    optimizer = trainer.create_optimizer()
    groups = {(g["name"], g["weight_decay"]): (g["lr"], len(g["params"])) for g in optimizer.param_groups}
    assert {name for name, _ in groups} == {"llm", "merger"}
    assert groups[("llm", 0.1)][0] == 1e-3 and groups[("merger", 0.1)][0] == 1e-5
    assert ("llm", 0.0) in groups and ("merger", 0.0) in groups  # norms and biases, undecayed
    trainable = sum(p.requires_grad for p in model.parameters())
    assert sum(n for _, n in groups.values()) == trainable


def test_zero3_loading_drops_the_wrappers_device_map(monkeypatch):
    """Under ZeRO-3, from_pretrained builds the model partitioned and refuses a device_map: it is dropped."""
    import transformers.integrations
    from transformers import PreTrainedModel

    from cogip_train import wrappers

    seen = {}

    def record(cls, *args, **kwargs):
        seen.update(kwargs)
        return "model"

    monkeypatch.setattr(PreTrainedModel, "from_pretrained", classmethod(record))
    monkeypatch.setattr(transformers.integrations, "is_deepspeed_zero3_enabled", lambda: True)
    with wrappers._engine_places_weights():
        PreTrainedModel.from_pretrained("x", device_map="cuda:0", torch_dtype="bfloat16")
    assert seen == {"torch_dtype": "bfloat16"}
    monkeypatch.setattr(transformers.integrations, "is_deepspeed_zero3_enabled", lambda: False)
    with wrappers._engine_places_weights():
        PreTrainedModel.from_pretrained("x", device_map="cuda:0")
    assert seen["device_map"] == "cuda:0"


def test_engine_checkpoints_resume(tmp_path):
    """DeepSpeed (latest + global_stepN/) and FSDP (optimizer_0/) checkpoints pass the pre-flight check; a
    DeepSpeed one whose step folder is gone is named."""
    from transformers import TrainerState

    from cogip_train.checkpoints import checkpoint_problem

    for layout in ("deepspeed", "fsdp"):
        ckpt = tmp_path / layout / "checkpoint-4"
        ckpt.mkdir(parents=True)
        TrainerState(global_step=4).save_to_json(str(ckpt / "trainer_state.json"))
        torch.save({}, ckpt / "scheduler.pt")
        if layout == "deepspeed":
            (ckpt / "latest").write_text("global_step4")
            (ckpt / "global_step4").mkdir()
        else:
            (ckpt / "optimizer_0").mkdir()
            (ckpt / "pytorch_model_fsdp_0").mkdir()
        assert checkpoint_problem(ckpt) is None, layout
    (tmp_path / "deepspeed" / "checkpoint-4" / "global_step4").rmdir()
    assert "missing global_step4" in checkpoint_problem(tmp_path / "deepspeed" / "checkpoint-4")
