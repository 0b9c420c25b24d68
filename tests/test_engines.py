"""DeepSpeed ZeRO-2/3 and FSDP2, executed: ``accelerate launch --config_file cogip_train/configs/cpu/<engine>.yaml``
runs cogip-train in 2 CPU processes (gloo) with the tiny model, and the engine is really engaged.

Each engine, with full fine-tuning (``--tune-llm full --tune-merger full``) and with LoRA (+ the merger in full):
- the losses of the first steps equal a 1-process run's at the same global batch of 8 (fp32, relative 1e-3);
- the checkpoints are the engine's own: ZeRO partitions per rank (``zero_pp_rank_{0,1}_*``), FSDP's sharded state
  dict (``__0_0.distcp``, ``__1_0.distcp``; no gathered copy), and the parameters were ZeRO-3 partitions / FSDP
  ``DTensor`` shards holding half of the elements per rank (train_log.json's ``engine``);
- the final save is a plain model (or adapter + ``--merge``) with the 1-process run's weights;
- ``--resume`` from a sharded checkpoint reaches the uninterrupted run's final loss, and cogip-eval scores a model
  an engine saved. GRPO runs steps and saves under ZeRO-2.

Runs are shared between tests (one per engine and tuning, built on first use) to keep the module to a few
minutes; DeepSpeed builds its CPU communication op once per cache (the test session's)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conftest import REPO, TINY_MODEL_ARGS, load_results, offline_env, run_cli, tiny_train_args

CPU_CONFIGS = REPO / "cogip_train" / "configs" / "cpu"
ENGINES = ("zero2", "zero3", "fsdp")
TUNINGS = {
    "full": ["--tune-llm", "full", "--tune-merger", "full"],
    "lora": ["--lora-rank", "4", "--lora-alpha", "8", "--lora-dropout", "0", "--tune-merger", "full", "--merge"],
}
STEPS = 3


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def train_command(engine: str | None, model_dir: Path, dataset: Path, out: Path, *extra: str) -> list[str]:
    """cogip-train at a global batch of 8: 1 process x 4 rows x 2 accumulation steps, or 2 x 2 x 2 under an engine."""
    args = [
        *tiny_train_args(model_dir, dataset, "aesthetics,memorability"),
        "--max-samples", "4", "--global-batch-size", "8", "--batch-size", "4" if engine is None else "2",
        "--learning-rate", "1e-3", "--warmup", "0", "--logging-steps", "1", "--save-steps", "2",
        "--max-steps", str(STEPS), "--output-dir", str(out), *extra,
    ]  # fmt: skip
    if engine is None:
        return [sys.executable, "-m", "cogip_train", *args]
    accelerate = str(Path(sys.executable).with_name("accelerate"))
    config = str(CPU_CONFIGS / f"{engine}.yaml")
    return [accelerate, "launch", "--config_file", config, "--main_process_port", str(free_port()), "-m", "cogip_train", *args]  # fmt: skip


class Runs:
    """cogip-train runs shared by the tests of this module, each made on first use."""

    def __init__(self, model_dir: Path, dataset: Path, root: Path):
        self.model_dir, self.dataset, self.root = model_dir, dataset, root
        self.env = offline_env(OMP_NUM_THREADS="1")
        self.done: dict[str, Path] = {}

    def get(self, engine: str | None, tuning: str, *extra: str, name: str | None = None) -> Path:
        name = name or f"{engine or 'one'}-{tuning}"
        if name not in self.done:
            out = self.root / name
            command = train_command(engine, self.model_dir, self.dataset, out, *TUNINGS[tuning], *extra)
            # from the clone's root, as the docs say: a DeepSpeed config names its JSON relative to it
            run_cli(command, self.env, REPO, timeout=600)
            self.done[name] = out
        return self.done[name]


@pytest.fixture(scope="module")
def runs(tiny_qwen_dir, sample_dataset_dir, tmp_path_factory) -> Runs:
    return Runs(tiny_qwen_dir, sample_dataset_dir, tmp_path_factory.mktemp("engines"))


def log_of(out: Path) -> dict:
    return json.loads((out / "train_log.json").read_text())


def losses(out: Path) -> dict[int, float]:
    return {e["step"]: e["loss"] for e in log_of(out)["log_history"] if "loss" in e}


def state_dict(folder: Path) -> dict:
    """A saved model's weights as from_pretrained reads them (float32; whatever the key layout on disk)."""
    from transformers import Qwen2_5_VLForConditionalGeneration

    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(folder)
    return {k: v.float() for k, v in model.state_dict().items()}


def assert_same_weights(folder: Path, reference: Path) -> None:
    """Equal to bf16 rounding (the 1-process run saves the harness's bf16, the engines their float32) and to Adam's
    amplification of float-order noise: a near-zero gradient's sign can flip, a step of up to the learning rate
    (1e-3) per step, so 3 steps can differ by 3e-3."""
    import torch

    ours, theirs = state_dict(folder), state_dict(reference)
    assert ours.keys() == theirs.keys()
    for key in theirs:
        torch.testing.assert_close(ours[key], theirs[key], rtol=1e-2, atol=5e-3, msg=key)


def engine_files(checkpoint: Path) -> list[str]:
    return sorted(str(p.relative_to(checkpoint)) for p in checkpoint.rglob("*") if p.is_file())


@pytest.mark.slow
@pytest.mark.parametrize("tuning", list(TUNINGS))
@pytest.mark.parametrize("engine", ENGINES)
def test_two_processes_under_the_engine_give_the_losses_of_one(runs, engine, tuning):
    one, two = runs.get(None, tuning), runs.get(engine, tuning)
    settings = log_of(two)["settings"]
    assert (settings["processes"], settings["grad_accum"], settings["global_batch_size"]) == (2, 2, 8)
    assert sorted(losses(two)) == list(range(1, STEPS + 1))
    for step, loss in losses(one).items():
        assert losses(two)[step] == pytest.approx(loss, rel=1e-3), step

    # the engine is really engaged: its own process layout, parameters and checkpoint files
    report = settings["engine"]
    files = engine_files(two / "checkpoint-2")
    if engine.startswith("zero"):
        assert report["engine"] == f"deepspeed-{engine}"
        kind = "model_states" if engine == "zero3" else "optim_states"
        for rank in (0, 1):
            assert f"global_step2/zero_pp_rank_{rank}_mp_rank_00_{kind}.pt" in files, files
    else:
        assert report["engine"] == "fsdp2" and report["parameter_class"] == ["DTensor"]
        for part in ("pytorch_model_fsdp_0", "optimizer_0"):
            assert {f"{part}/__0_0.distcp", f"{part}/__1_0.distcp"} <= set(files), files
        assert not any(f.endswith((".safetensors", ".bin")) for f in files), files  # no gathered copy
    if engine in ("zero3", "fsdp"):  # each rank holds half of the parameters (to the odd element)
        assert report["local_parameter_share"] == pytest.approx(0.5, abs=0.02)
    else:
        assert report["local_parameter_share"] == 1.0

    # the final save is a whole model (or adapter) with the 1-process run's weights, merged as from 1 process
    if tuning == "full":
        assert_same_weights(two / "model", one / "model")
    else:
        assert (two / "adapter" / "adapter_config.json").is_file()
        assert_same_weights(two / "merged", one / "merged")


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["zero3", "fsdp"])
def test_resume_from_the_sharded_checkpoint_reaches_the_uninterrupted_loss(runs, engine):
    whole = runs.get(engine, "full")
    resumed = runs.get(engine, "full", "--resume", str(whole / "checkpoint-2"), name=f"{engine}-resumed")
    log = log_of(resumed)
    assert log["settings"]["resumed_from"] == "local:checkpoint-2"  # another run's checkpoint: no local path
    assert losses(resumed)[STEPS] == pytest.approx(losses(whole)[STEPS], rel=1e-5)
    assert_same_weights(resumed / "model", whole / "model")


@pytest.mark.slow
def test_cogip_eval_scores_a_model_an_engine_saved(runs, sample_dataset_dir, tmp_path):
    model = runs.get("zero3", "full") / "model"
    results = tmp_path / "eval"
    run_cli(
        [
            str(Path(sys.executable).with_name("cogip-eval")),
            "--model",
            "qwen2_5_vl",
            "--model_args",
            f"pretrained={model},{TINY_MODEL_ARGS}",
            "--tasks",
            "cogip_aesthetics",
            "--limit",
            "2",
            "--gen_kwargs",
            "max_new_tokens=8",
            "--output_path",
            str(results),
        ],  # fmt: skip
        offline_env(COGIP_DATASET=str(sample_dataset_dir)),
        tmp_path,
    )
    assert load_results(results)["n-samples"]["cogip_aesthetics"]["effective"] == 2


@pytest.mark.slow
def test_grpo_runs_saves_and_merges_under_zero2(tiny_qwen_dir, sample_dataset_dir, tmp_path):
    """GRPO saves and merges through the SFT path's engine-aware code: merged/ is the base model with the saved
    adapter merged (not TRL's "ref" copy), and only the main process prints where the model is."""
    out = tmp_path / "grpo"
    accelerate = str(Path(sys.executable).with_name("accelerate"))
    proc = run_cli(
        [
            accelerate,
            "launch",
            "--config_file",
            str(CPU_CONFIGS / "zero2.yaml"),
            "--main_process_port",
            str(free_port()),
            "-m",
            "cogip_train",
            "--method",
            "grpo",
            *tiny_train_args(tiny_qwen_dir, sample_dataset_dir, "aesthetics,funniness"),
            "--max-samples",
            "2",
            "--batch-size",
            "2",
            "--num-generations",
            "2",
            "--max-completion-length",
            "8",
            "--temperature",
            "3",
            "--max-steps",
            "2",
            "--save-steps",
            "2",
            "--logging-steps",
            "1",
            "--lora-rank",
            "4",
            "--lora-alpha",
            "8",
            "--output-dir",
            str(out),
            "--merge",
        ],  # fmt: skip
        offline_env(OMP_NUM_THREADS="1"),
        REPO,
    )
    log = log_of(out)
    assert sorted(e["step"] for e in log["log_history"] if "reward" in e) == [1, 2]
    assert log["settings"]["engine"]["engine"] == "deepspeed-zero2"
    files = engine_files(out / "checkpoint-2")
    assert {f"global_step2/zero_pp_rank_{r}_mp_rank_00_optim_states.pt" for r in (0, 1)} <= set(files), files
    assert (out / "adapter" / "adapter_model.safetensors").is_file() and not (out / "adapter" / "ref").exists()
    assert proc.stdout.count("adapter/model: ") == 1 and proc.stdout.count("merged model: ") == 1

    import torch
    from peft import PeftModel
    from transformers import Qwen2_5_VLForConditionalGeneration

    base = Qwen2_5_VLForConditionalGeneration.from_pretrained(tiny_qwen_dir, torch_dtype=torch.float32)
    expected = PeftModel.from_pretrained(base, str(out / "adapter")).merge_and_unload().state_dict()
    merged = state_dict(out / "merged")
    assert merged.keys() == expected.keys()  # a plain checkpoint: no LoRA or "ref" tensors left
    for key in expected:
        torch.testing.assert_close(merged[key], expected[key].float(), rtol=1e-2, atol=1e-3, msg=key)


@pytest.mark.parametrize("engine", ["ddp", *ENGINES])
def test_the_cpu_configs_are_their_gpu_siblings_on_two_processes(engine):
    """Each CPU config loads with accelerate's own loader, names its engine, starts 2 processes and keeps use_cpu
    off (accelerate's use_cpu starts one plain process and skips the engine; the CPU comes from --model_args)."""
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(CPU_CONFIGS / f"{engine}.yaml"))
    kind = {"ddp": "MULTI_GPU", "fsdp": "FSDP"}.get(engine, "DEEPSPEED")
    assert config.distributed_type.name == kind and config.num_processes == 2 and not config.use_cpu
    assert config.mixed_precision in (None, "no")  # fp32 on the CPU
    if kind == "DEEPSPEED":  # the GPU config's JSON, its engine values "auto" (filled by the Trainer)
        from cogip_train.launch_configs import deepspeed_file

        gpu = load_config_from_file(str(CPU_CONFIGS.parent / f"{engine}.yaml"))
        assert config.deepspeed_config == gpu.deepspeed_config
        ds = json.loads(deepspeed_file((CPU_CONFIGS / f"{engine}.yaml").read_text()).read_text())
        assert ds["zero_optimization"]["stage"] == int(engine[-1]) and ds["gradient_accumulation_steps"] == "auto"
    if kind == "FSDP":
        assert config.fsdp_config["fsdp_version"] == 2
        assert config.fsdp_config["fsdp_state_dict_type"] == "SHARDED_STATE_DICT"
