"""cogip-train's command line: TRL's TrlParser over cogip_train.config's dataclasses, values layered as
defaults < --recipe < --config < flags with the source of each, TrainingArguments options passed through, and
--help without torch. Nothing here loads a model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cogip_train.arguments import build_parser, resolve
from cogip_train.cli import main
from cogip_train.config import DEFAULTS, recipe_families, recipe_names, recipe_values
from conftest import REPO

REQUIRED = ["--model-args", "pretrained=x", "--output-dir", "out"]


def print_config(argv: list[str], capsys) -> dict:
    assert main([*argv, "--print-config"]) == 0
    return json.loads(capsys.readouterr().out)


def outcome(argv: list[str], capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code
    return code, capsys.readouterr().err


def test_help_is_built_without_torch_and_lists_every_option_once():
    code = (
        "import sys, cogip_train.cli as c; h = c.build_parser().format_help(); "
        "print(sorted(m for m in ('torch', 'transformers', 'peft', 'datasets') if m in sys.modules)); print(h)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    loaded, _, text = proc.stdout.partition("\n")
    text = " ".join(text.split())  # as one line: help wraps at the terminal width
    assert loaded == "[]"  # the help is our dataclasses'; TrainingArguments (torch) is resolved only to run
    for option in (
        "-o OUTPUT_DIR, --output-dir OUTPUT_DIR",
        "--config FILE",
        "--recipe {paper,paper-grpo}",
        "--lambda LAMBDA",
    ):
        assert option in text, option
    assert "(default: 0.0001)" in text and "(default: qwen2_5_vl)" in text and "(default: None)" not in text
    # hidden aliases (the Trainer's names of our options) and underscore spellings are accepted, not shown
    assert "--num-train-epochs" not in text and "--learning_rate" not in text and "--lam " not in text


def test_each_value_comes_from_the_first_of_flag_config_recipe_default(tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text("recipe: paper\nlearning_rate: 5e-5\nlora_rank: 32\nlambda: 3\nmodel_args: pretrained=y\n")
    out = print_config(["--config", str(config), "--output-dir", "o", "--lora-rank", "8"], capsys)
    settings = {k: (v["value"], v["source"]) for k, v in out["settings"].items()}
    assert settings["lora_rank"] == (8, "flag")  # flag over config over recipe (64) over default (16)
    assert settings["learning_rate"] == (5e-5, "config")  # YAML's "5e-5" is a string: converted as a flag is
    assert settings["lam"] == (3.0, "config")  # the flag's name works as a key
    assert settings["model_args"] == ("pretrained=y", "config")
    assert settings["recipe"] == ("paper", "config")
    assert settings["lora_alpha"] == (64, "recipe") and settings["vision_lr"] == (2e-6, "recipe")
    assert settings["sigma"] == (DEFAULTS.sigma, "default") and settings["seed"] == (0, "default")
    assert settings["output_dir"] == ("o", "flag")
    assert out["files"] == {"recipe": str(Path(out["files"]["recipe"])), "config": str(config)}
    assert out["trainer"] == {}

    # without the config file, the recipe's values; the flag on the command line still wins
    args = resolve([*REQUIRED, "--recipe", "paper", "--lora_rank=8", "-o", "o2"]).args
    assert (args.lora_rank, args.lora_alpha, args.learning_rate, str(args.output_dir)) == (8, 64, 3e-5, "o2")


def test_trainer_options_pass_through_from_flags_and_config(tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text("report_to: [tensorboard]\nadam_beta2: 0.95\nnum_train_epochs: 2\n")
    out = print_config([*REQUIRED, "--config", str(config), "--logging-first-step", "--adam_epsilon", "1e-6"], capsys)
    trainer = {k: (v["value"], v["source"]) for k, v in out["trainer"].items()}
    assert trainer == {
        "report_to": ("tensorboard", "config"),
        "adam_beta2": (0.95, "config"),
        "logging_first_step": (True, "flag"),
        "adam_epsilon": (1e-6, "flag"),
    }
    assert out["settings"]["epochs"] == {"value": 2.0, "source": "config"}  # the Trainer's name of our option

    from transformers import TrainingArguments

    from cogip_train.arguments import trainer_overrides
    from cogip_train.config import config_from
    from cogip_train.trainer import training_arguments

    resolved = resolve([*REQUIRED, "--report-to", "tensorboard", "--adam-beta2", "0.95", "--num-train-epochs", "3"])
    made = training_arguments(
        config_from(vars(resolved.args)),
        str(tmp_path / "o"),
        bf16=False,
        processes=1,
        use_cpu=True,
        **trainer_overrides(resolved, TrainingArguments, installed=False),  # a run also needs tensorboard installed
    )
    assert (made.report_to, made.adam_beta2, made.num_train_epochs) == (["tensorboard"], 0.95, 3.0)
    unchanged = training_arguments(config_from(vars(resolve(REQUIRED).args)), str(tmp_path / "p"), bf16=False,
                                   processes=1, use_cpu=True)  # fmt: skip
    assert unchanged.report_to == []  # "none": nothing reported unless asked for


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--no-such-option", "1"], "unrecognized arguments: --no-such-option 1"),
        (["--bf16"], "argument --bf16: set by cogip-train; use --dtype"),
        (["--warmup-ratio", "0.1"], "use --warmup"),
        (["--adam-beta2", "high"], "argument --adam_beta2/--adam-beta2: invalid float value: 'high'"),
        (["--recipe", "nope"], "argument --recipe: invalid choice: 'nope'"),
        (["--learning-rate", "1e39"], "argument --learning-rate: must be a number in (0, 1]"),
        (["--config"], "argument --config: expected one argument"),
    ],
)
def test_bad_flags_are_one_line_exit_2(extra, fragment, capsys):
    code, err = outcome([*REQUIRED, *extra, "--print-config"], capsys)
    assert code == 2 and fragment in err and err.count("\n") == 1 and "Traceback" not in err, err


def test_missing_required_options_are_named(capsys):
    code, err = outcome(["--output-dir", "o"], capsys)
    assert code == 2 and "the following arguments are required: --model-args" in err


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("learning_rate: 1e39\n", "field 'learning_rate': must be a number in (0, 1], got '1e39'"),
        ("loss: hinge\n", "field 'loss': 'hinge' is not one of soft, ce"),
        ("lora_rank: [1, 2]\n", "field 'lora_rank': expected a single value"),
        ("seed: null\n", "field 'seed': null is not allowed"),
        ("- a\n- b\n", "not a YAML mapping"),
        ("a: [\n", "cannot read it"),
        ("env: 3\n", "'env' must be a mapping"),
    ],
)
def test_a_bad_config_file_is_one_line_naming_file_field_and_value(text, fragment, tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    code, err = outcome([*REQUIRED, "--config", str(config)], capsys)
    assert code == 1 and err.startswith(f"cogip-train: error: --config {config}") and fragment in err, err
    assert err.count("\n") == 1


def test_a_missing_config_file_or_a_folder_is_exit_1(tmp_path, capsys):
    for path, reason in ((tmp_path / "missing.yaml", "file not found"), (tmp_path, "file is a folder")):
        code, err = outcome([*REQUIRED, f"--config={path}"], capsys)
        assert code == 1 and err.startswith(f"cogip-train: error: --config {path}: {reason}"), err


def test_every_shipped_recipe_file_is_a_valid_config(tmp_path, capsys):
    """Each recipe resolves for each family it has a file for, every key is an option or a Trainer field, and
    the file works as a --config as it stands (what the docs tell users to copy)."""
    from transformers import TrainingArguments
    from trl import GRPOConfig

    from cogip_train.arguments import _actions_by_name

    options = set(_actions_by_name(build_parser()))
    for name in recipe_names():
        for family in recipe_families(name):
            values = recipe_values(name, family)
            trainer = GRPOConfig if values.get("method") == "grpo" else TrainingArguments
            fields = set(trainer.__dataclass_fields__)
            assert set(values) <= options | fields, (name, family, set(values) - options - fields)
            model = [] if family == "default" else ["--model", family]
            by_recipe = print_config([*REQUIRED, *model, "--recipe", name], capsys)
            copy = tmp_path / f"{name}-{family}.yaml"
            copy.write_text(yaml.safe_dump(values))
            by_config = print_config([*REQUIRED, *model, "--config", str(copy)], capsys)
            for key, entry in by_recipe["settings"].items():
                if entry["source"] == "recipe":
                    assert by_config["settings"][key] == {"value": entry["value"], "source": "config"}, key
            assert {k: v["value"] for k, v in by_recipe["trainer"].items()} == {
                k: v["value"] for k, v in by_config["trainer"].items()
            }


# The release's values per family (its three finetune_lora.sh scripts; ../shared/README.md), and qwen3_vl's.
PAPER_BY_FAMILY = {
    "qwen2_5_vl": {"learning_rate": 3e-5, "eta": 0.15, "min_pixels": 256 * 28 * 28, "max_pixels": 1280 * 28 * 28},
    "gemma3": {"learning_rate": 1e-5, "eta": 0.15, "min_pixels": None, "max_pixels": None},
    "llama_vision": {"learning_rate": 9e-5, "eta": 0.08, "min_pixels": None, "max_pixels": None},
    "qwen3_vl": {"learning_rate": 3e-5, "eta": 0.15, "min_pixels": 256 * 32 * 32, "max_pixels": 1280 * 32 * 32},
}
BETA2 = {"gemma3": 0.95, "llama_vision": 0.95}


@pytest.mark.parametrize("family", sorted(PAPER_BY_FAMILY))
def test_the_paper_recipe_resolves_per_family(family, capsys):
    out = print_config([*REQUIRED, "--model", family, "--recipe", "paper"], capsys)
    values = {k: v["value"] for k, v in out["settings"].items()}
    for key, value in PAPER_BY_FAMILY[family].items():
        assert values[key] == value, (family, key)
    shared = {"lam": 2.0, "lora_rank": 64, "lora_alpha": 64, "vision_lr": 2e-6, "merger_lr": 1e-5, "weight_decay": 0.1}
    assert {k: values[k] for k in shared} == shared
    assert (values["tune_llm"], values["tune_vision"], values["tune_merger"]) == ("lora", "full", "full")
    assert values["global_batch_size"] == 128 and values["model"] == family
    assert values["soft_labels"] == "release" and values["loss"] == "soft" and values["dist"] == "triangular"
    beta2 = {k: v["value"] for k, v in out["trainer"].items()}.get("adam_beta2")
    assert beta2 == BETA2.get(family), family  # the Trainer's default (0.999) for the Qwen family


def test_a_recipe_without_values_for_the_family_is_refused(capsys):
    code, err = outcome([*REQUIRED, "--model", "llava_hf", "--recipe", "paper"], capsys)
    assert code == 2 and "--recipe paper has no values for --model llava_hf; families: gemma3" in err, err
