"""``cogip-train --method grpo`` on CPU with the tiny random Qwen2.5-VL: the real CLI (TRL's GRPOTrainer through the
lmms-eval wrapper), the paper-grpo recipe and its overrides, checkpoints, --resume, --merge, starting from an SFT
checkpoint, and the merged model evaluated by cogip-eval. Argument errors are one line, exit 2, before any load."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conftest import TINY_MODEL_ARGS, load_results, offline_env, run_cli, tiny_train_args

# A random model rarely writes a number: high temperature and 12 tokens make some answers parse, so the two
# answers of a prompt differ in reward and the policy step is not zero.
SMALL = [
    "--min-pixels",
    "3136",
    "--max-pixels",
    "3136",
    "--max-completion-length",
    "12",
    "--temperature",
    "3",
    "--logging-steps",
    "1",
    "--seed",
    "0",
]


def grpo_command(model_dir: Path, dataset: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "cogip_train",
        "--method",
        "grpo",
        "--model",
        "qwen2_5_vl",
        "--model_args",
        f"pretrained={model_dir},device=cpu,device_map=cpu",
        "--dataset",
        str(dataset),
        "--output-dir",
        str(out),
        *SMALL,
        *extra,
    ]


def log_of(out: Path) -> dict:
    return json.loads((out / "train_log.json").read_text())


def steps_of(out: Path) -> dict[int, dict]:
    return {e["step"]: e for e in log_of(out)["log_history"] if "reward" in e}


def weights(path: Path) -> dict:
    import torch
    from safetensors.torch import load_file

    return {k: v.to(torch.float32) for k, v in load_file(path).items()}


def run_main(argv: list[str], capsys) -> tuple[int, str]:
    from cogip_train.cli import main

    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--recipe", "paper-grpo", "--method", "sft"], "--recipe paper-grpo is a GRPO recipe; drop --method sft"),
        (
            ["--method", "grpo", "--batch-size", "3"],
            "3 completions per generation round, not a multiple of --num-generations 2",
        ),
        (["--method", "grpo", "--num-generations", "1"], "argument --num-generations: must be an integer in [2, inf)"),
        (
            ["--method", "grpo", "--reward-weights", "accuracy=1"],
            "argument --reward-weights: unknown reward 'accuracy'",
        ),
        (["--method", "grpo", "--reward-weights", "closeness=0"], "no reward has a weight above 0"),
        (["--method", "grpo", "--beta", "nan"], "argument --beta: must be a number in [0, 100]"),
        (["--method", "grpo", "--miss-penalty", "-2"], "argument --miss-penalty"),
        (["--method", "ppo"], "argument --method: invalid choice: 'ppo'"),
    ],
)
def test_bad_grpo_arguments_are_one_line_exit_2(extra, fragment, tmp_path, capsys):
    code, err = run_main(["--model_args", "pretrained=unused", "--output-dir", str(tmp_path / "o"), *extra], capsys)
    assert code == 2 and fragment in err and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists()


def test_grpo_resume_without_checkpoint_is_one_line_exit_1(tmp_path, capsys):
    code, err = run_main(
        ["--method", "grpo", "--model_args", "pretrained=unused", "--output-dir", str(tmp_path), "--resume"], capsys
    )
    assert code == 1 and err.startswith("cogip-train: error: --resume: no checkpoint-* folder") and err.count("\n") == 1


def test_grpo_and_sft_take_the_shared_trainer_options_from_one_list(tmp_path):
    """GRPO's GRPOConfig and SFT's TrainingArguments agree on every option both methods share (one list,
    cogip_train.trainer.trainer_options), non-default values included; gradient accumulation stays each method's:
    SFT's follows --global-batch-size, GRPO's is --grad-accum as given."""
    from cogip_train.arguments import resolve
    from cogip_train.config import config_from
    from cogip_train.grpo import grpo_config
    from cogip_train.trainer import trainer_options, training_arguments

    common = ["--model-args", "pretrained=x", "--output-dir", str(tmp_path / "o"), "--batch-size", "2"]
    common += ["--epochs", "2", "--max-steps", "9", "--learning-rate", "0.002", "--lr-scheduler", "linear"]
    common += ["--warmup", "5", "--weight-decay", "0.1", "--logging-steps", "2", "--save-steps", "7"]
    common += ["--save-total-limit", "2", "--seed", "3", "--no-gradient-checkpointing"]
    grpo_args = resolve([*common, "--method", "grpo", "--grad-accum", "3", "--temperature", "0.7", "--beta", "0"]).args
    sft_args = resolve([*common, "--global-batch-size", "8"]).args
    grpo = grpo_config(grpo_args, [1.0, 0.0, 0.0], bf16=False, use_cpu=True, overrides={})
    sft = training_arguments(config_from(vars(sft_args)), str(tmp_path / "o"), bf16=False, processes=1, use_cpu=True)
    shared = trainer_options(config_from(vars(sft_args)), str(tmp_path / "o"), bf16=False, use_cpu=True)
    assert {key: getattr(grpo, key) for key in shared} == {key: getattr(sft, key) for key in shared}
    assert (grpo.warmup_steps, grpo.seed, grpo.data_seed, grpo.save_steps, grpo.max_steps) == (5, 3, 3, 7, 9)
    assert grpo.gradient_checkpointing is False and grpo.remove_unused_columns is False
    assert (grpo.gradient_accumulation_steps, sft.gradient_accumulation_steps) == (3, 4)
    assert (grpo.temperature, grpo.beta, grpo.num_generations, grpo.reward_weights) == (0.7, 0.0, 2, [1.0, 0.0, 0.0])


def test_grpo_prompts_are_the_evaluation_requests_token_for_token(tiny_qwen_dir, sample_dataset_dir):
    """TRL renders each prompt from its messages and image; the ids and pixels equal what lmms-eval's wrapper
    gives the model for the same row at evaluation time (captured by the SFT path's EvalRequests)."""
    import torch
    from trl.data_utils import prepare_multimodal_messages

    from cogip_train.data import EvalRequests, load_train_rows
    from cogip_train.grpo import grpo_dataset
    from cogip_train.wrappers import load_through_lmms_eval

    loaded = load_through_lmms_eval("qwen2_5_vl", f"pretrained={tiny_qwen_dir},{TINY_MODEL_ARGS}")
    requests = EvalRequests(loaded.wrapper, "qwen2_5_vl", loaded.processor)
    rows = load_train_rows(str(sample_dataset_dir), ["aesthetics", "emotional_valence"], max_samples=2)
    dataset = grpo_dataset(rows, requests)
    assert len(dataset) == len(rows) == 4
    for i in range(len(dataset)):
        example, doc = dataset[i], rows[i]
        assert (example["id"], example["dimension"]) == (str(doc["id"]), rows.parts[i // 2][0].task_name)
        assert example["score"] == pytest.approx(float(doc["score"]), abs=1e-4)
        messages = prepare_multimodal_messages(example["prompt"], images=[example["image"]])  # as TRL does
        trl = loaded.processor.apply_chat_template(
            [messages], add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
        )
        evaluation = requests.prompt_inputs(doc)
        assert trl["input_ids"].tolist() == evaluation["input_ids"].tolist()
        assert torch.equal(trl["pixel_values"], evaluation["pixel_values"])
        assert torch.equal(trl["image_grid_thw"], evaluation["image_grid_thw"])


@pytest.mark.slow
def test_the_seed_decides_grpo_lora_initialisation(tiny_qwen_dir, sample_dataset_dir, tmp_path):
    """--seed seeds LoRA's initialisation under GRPO as under SFT. After one step lora_A is still its initial value
    (its gradient is zero while lora_B is): the same seed gives the same adapter to the bit, another seed another."""
    import torch

    adapters = {}
    for name, seed in (("a", "0"), ("b", "0"), ("other seed", "1")):
        out = tmp_path / name
        extra = ["--dimensions", "aesthetics", "--max-samples", "2", "--batch-size", "2", "--max-steps", "1"]
        command = grpo_command(tiny_qwen_dir, sample_dataset_dir, out, *extra, "--lora-rank", "4", "--seed", seed)
        run_cli(command, offline_env(), tmp_path)
        adapters[name] = weights(out / "adapter" / "adapter_model.safetensors")
    a, b, other = adapters["a"], adapters["b"], adapters["other seed"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    lora_a = [k for k in a if "lora_A" in k]
    assert lora_a and not any(torch.equal(a[k], other[k]) for k in lora_a)


@pytest.mark.slow
def test_paper_recipe_trains_vision_and_merger_and_keeps_the_llm(tiny_qwen_dir, sample_dataset_dir, tmp_path):
    out = tmp_path / "run"
    command = grpo_command(
        tiny_qwen_dir,
        sample_dataset_dir,
        out,
        "--recipe",
        "paper-grpo",
        "--dimensions",
        "aesthetics,memorability",
        "--max-samples",
        "4",
        "--batch-size",
        "8",
        "--max-steps",
        "3",
        "--learning-rate",
        "1e-2",
        "--vision-lr",
        "1e-2",
        "--weight-decay",
        "0",
        "--warmup",
        "0",
        "--save-steps",
        "3",
    )
    run_cli(command, offline_env(), tmp_path)
    settings = log_of(out)["settings"]
    # the recipe's values, except those given on the command line
    assert (settings["tune_llm"], settings["tune_vision"], settings["tune_merger"]) == ("freeze", "full", "full")
    assert settings["lrs"] == {"llm": 1e-2, "vision": 1e-2, "merger": 1e-2}  # the merger follows --learning-rate
    assert (settings["num_generations"], settings["lr_scheduler"], settings["beta"]) == (2, "cosine", 0.04)
    assert (settings["max_completion_length"], settings["min_pixels"], settings["weight_decay"]) == (12, 3136, 0)
    # the release's reward as its code runs (cogip_train.rewards.release_reward)
    assert settings["reward"] == "release"
    assert settings["rewards"]["closeness"] == {"function": "release_closeness_reward", "weight": 1.0}

    logged = steps_of(out)
    assert sorted(logged) == [1, 2, 3]
    for entry in logged.values():
        for reward in ("release_closeness_reward", "format_reward", "label_reward"):
            assert -1.0 <= entry[f"rewards/{reward}/mean"] <= 1.0 and entry[f"rewards/{reward}/std"] >= 0
        assert entry["kl"] is not None and entry["completions/mean_length"] <= 12
    assert any(e["reward_std"] > 0 for e in logged.values())  # some answers parsed: a non-zero policy step
    assert (out / "reward_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "checkpoint-3" / "optimizer.pt").is_file()

    base, tuned = weights(tiny_qwen_dir / "model.safetensors"), weights(out / "model" / "model.safetensors")
    assert base.keys() == tuned.keys()
    assert json.loads((out / "model" / "config.json").read_text())["dtype"] == "bfloat16"  # the harness's dtype
    changed = {k for k in base if not (base[k].bfloat16().float() == tuned[k]).all()}
    parts = {("merger" if "visual.merger." in k else "vision" if "visual." in k else "llm") for k in changed}
    assert parts == {"vision", "merger"}, sorted(changed)[:5]  # the LLM (and lm_head) stayed frozen


@pytest.mark.slow
def test_grpo_from_sft_checkpoint_with_lora_resumes_merges_and_evaluates(tiny_qwen_dir, sample_dataset_dir, tmp_path):
    env = offline_env()
    sft = tmp_path / "sft"
    run_cli(
        [
            sys.executable,
            "-m",
            "cogip_train",
            "--model",
            "qwen2_5_vl",
            *tiny_train_args(tiny_qwen_dir, sample_dataset_dir, "aesthetics"),
            "--max-samples",
            "4",
            "--max-steps",
            "1",
            "--output-dir",
            str(sft),
            "--merge",
        ],
        env,
        tmp_path,
    )

    out = tmp_path / "grpo"
    common = [
        "--dimensions",
        "aesthetics,funniness",
        "--max-samples",
        "4",
        "--batch-size",
        "8",
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
        "--save-steps",
        "2",
        "--reward-weights",
        "closeness=1,format=0.5,label=0.5",
    ]
    run_cli(grpo_command(sft / "merged", sample_dataset_dir, out, *common, "--max-steps", "2"), env, tmp_path)
    first = steps_of(out)
    assert sorted(first) == [1, 2]
    checkpoint = out / "checkpoint-2" / "adapter_model.safetensors"
    written = checkpoint.stat().st_mtime_ns

    run_cli(
        grpo_command(sft / "merged", sample_dataset_dir, out, *common, "--max-steps", "4", "--resume", "--merge"),
        env,
        tmp_path,
    )
    both = steps_of(out)
    assert sorted(both) == [1, 2, 3, 4]
    assert all(both[s] == first[s] for s in first)  # the first run's log restored, not retrained
    assert checkpoint.stat().st_mtime_ns == written and (out / "checkpoint-4").is_dir()
    assert log_of(out)["settings"]["resumed_from"] == "checkpoint-2"  # named inside the run, no local path
    assert log_of(out)["settings"]["rewards"]["format"]["weight"] == 0.5
    assert any(e["reward_std"] > 0 for e in both.values())

    # the run folder as TRL leaves one: its state, results and a card (here and beside each saved model)
    assert json.loads((out / "trainer_state.json").read_text())["global_step"] == 4
    assert "train_loss" in json.loads((out / "train_results.json").read_text())
    assert log_of(out)["versions"]["trl"] and log_of(out)["settings"]["method"] == "grpo"
    for folder in (out, out / "adapter", out / "merged"):
        card = (folder / "README.md").read_text()
        assert "GRPO (TRL's `GRPOTrainer`" in card and "[More Information Needed]" not in card
        assert str(tmp_path) not in card
    adapter = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert Path(adapter["base_model_name_or_path"]) == sft / "merged"  # trained on top of the SFT model
    assert not (out / "adapter" / "ref").exists()  # TRL's frozen KL copy is not part of the result
    base, merged = weights(sft / "merged" / "model.safetensors"), weights(out / "merged" / "model.safetensors")
    assert base.keys() == merged.keys()  # a plain Qwen2.5-VL checkpoint, no LoRA tensors left
    key = next(k for k in base if k.endswith("layers.0.self_attn.q_proj.weight"))
    assert not (base[key] == merged[key]).all()  # the adapter is merged in

    results_dir = tmp_path / "eval"
    run_cli(
        [
            str(Path(sys.executable).with_name("cogip-eval")),
            "--model",
            "qwen2_5_vl",
            "--model_args",
            f"pretrained={out / 'merged'},{TINY_MODEL_ARGS}",
            "--tasks",
            "cogip_aesthetics",
            "--limit",
            "2",
            "--gen_kwargs",
            "max_new_tokens=8",
            "--output_path",
            str(results_dir),
            "--log_samples",
        ],
        offline_env(COGIP_DATASET=str(sample_dataset_dir)),
        tmp_path,
    )
    assert load_results(results_dir)["n-samples"]["cogip_aesthetics"]["effective"] == 2
