"""cogip-train's checks across options (issue 25.7), by class: an option of the other --method, --grad-accum
against --global-batch-size, a test split, a dimension named twice; and the run identity a resume is checked
against (every field flipped). Pure functions and argument parsing only: nothing loads a model."""

from __future__ import annotations

import argparse
import itertools
import json
import random

import pytest

from cogip_tasks.dimensions import DIMENSION_KEYS, DIMENSIONS
from cogip_train.arguments import option_problems, resolve
from cogip_train.checkpoints import RESUMABLE, RUN_RECORD, CheckpointError, check_resume_identity, run_identity
from cogip_train.cli import main, parse_dimensions
from cogip_train.config import DEFAULTS, GRPO_ONLY, SFT_ONLY

REQUIRED = ["--model-args", "pretrained=x", "--output-dir", "out"]


def _args(**values) -> argparse.Namespace:
    return resolve([*REQUIRED, *itertools.chain.from_iterable(values.items())]).args


def outcome(argv: list[str], capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code
    return code, capsys.readouterr().err


# ---- an option of the other method --------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "foreign"), [("sft", GRPO_ONLY), ("grpo", SFT_ONLY)])
def test_every_option_of_the_other_method_is_refused_when_the_user_sets_it(method, foreign):
    args = resolve([*REQUIRED, "--method", method]).args
    for dest in foreign:
        for source in ("flag", "config"):
            problems = option_problems(args, {dest: source})
            flag = "--lambda" if dest == "lam" else "--" + dest.replace("_", "-")
            assert len(problems) == 1 and problems[0].startswith(f"{flag}: not used by --method {method}"), dest
        assert option_problems(args, {dest: "recipe"}) == [] and option_problems(args, {dest: "default"}) == []
    own = GRPO_ONLY if method == "grpo" else SFT_ONLY
    assert all(option_problems(args, {dest: "flag"}) == [] for dest in own if dest != "global_batch_size")


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--num-generations", "4"], "--num-generations: not used by --method sft"),
        (["--beta", "0.1", "--temperature", "0.7"], "--temperature, --beta: not used by --method sft"),
        (["--method", "grpo", "--eta", "0.2"], "--eta: not used by --method grpo"),
        (["--method", "grpo", "--lambda", "3"], "--lambda: not used by --method grpo"),
        (["--method", "grpo", "--global-batch-size", "8"], "--global-batch-size: not used by --method grpo"),
    ],
)
def test_the_cli_refuses_them_as_usage_errors(argv, fragment, capsys):
    code, err = outcome([*REQUIRED, *argv], capsys)
    assert code == 2 and fragment in err and err.count("\n") <= 3, err


# ---- --grad-accum against --global-batch-size --------------------------------------------------------------------


def test_grad_accum_and_global_batch_size_given_together_must_agree():
    rng = random.Random(0)
    for _ in range(300):
        batch, processes, accum = rng.randint(1, 8), rng.randint(1, 4), rng.randint(1, 8)
        total = batch * processes * rng.randint(1, 8)
        args = _args(**{"--batch-size": str(batch), "--grad-accum": str(accum), "--global-batch-size": str(total)})
        both = option_problems(args, {"grad_accum": "flag", "global_batch_size": "config"}, processes)
        agree = total == batch * processes * accum
        assert (both == []) == agree, (batch, processes, accum, total, both)
        if not agree:
            assert f"--grad-accum {accum} and --global-batch-size {total} disagree" in both[0]
        # one of them alone, or the other from a recipe: no conflict (the global batch size decides)
        assert option_problems(args, {"global_batch_size": "flag"}, processes) == []
        assert option_problems(args, {"global_batch_size": "flag", "grad_accum": "recipe"}, processes) == []


# ---- a test split -------------------------------------------------------------------------------------------------


def test_a_test_split_is_refused_unless_allowed():
    for split in ("test", "TEST", "Test", "test_full", "test[:10%]", "my_test", " test "):
        args = _args(**{"--split": split})
        problems = option_problems(args, {"split": "flag"})
        assert len(problems) == 1 and problems[0].startswith(f"--split {split}: a test split"), split
        assert option_problems(_args(**{"--split": split, "--allow-test-split": "true"}), {"split": "flag"}) == []
    for split in ("train", "train[:50%]", "validation", "extra"):
        assert option_problems(_args(**{"--split": split}), {"split": "flag"}) == []


def test_the_cli_refuses_a_test_split_as_a_usage_error(capsys):
    code, err = outcome([*REQUIRED, "--split", "test"], capsys)
    assert code == 2 and "--allow-test-split" in err


# ---- a dimension named twice -------------------------------------------------------------------------------------


def test_every_spelling_of_a_dimension_counts_once():
    rng = random.Random(1)
    spellings = {
        key: [key, d.release_name, d.task_name, key.upper(), d.release_name.lower()] for key, d in DIMENSIONS.items()
    }
    for _ in range(200):
        chosen = rng.sample(DIMENSION_KEYS, rng.randint(1, len(DIMENSION_KEYS)))
        names = [rng.choice(spellings[key]) for key in chosen for _ in range(rng.randint(1, 3))]
        rng.shuffle(names)
        keys = parse_dimensions(",".join(names))
        assert sorted(keys) == sorted(chosen) and len(keys) == len(set(keys))
        assert keys == list(dict.fromkeys(keys))
    assert parse_dimensions("aesthetics,Aesthetics,cogip_aesthetics") == ["aesthetics"]
    assert parse_dimensions("aesthetics, all") == list(DIMENSION_KEYS)


# ---- the run identity a resume is checked against ----------------------------------------------------------------


def _flip(dest: str, value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value / 2 + 0.01
    if isinstance(value, list):
        return value[:1] if len(value) > 1 else ["funniness"]
    return f"{value}-other" if value is not None else "other"


def test_every_identity_field_flipped_is_refused_and_every_resumable_one_is_not(tmp_path, sample_dataset_dir):
    base = resolve([*REQUIRED, "--dataset", str(sample_dataset_dir), "--dimensions", "aesthetics,funniness"]).args
    base.dimensions = parse_dimensions(base.dimensions)
    identity = run_identity(base, base.model_args)
    checkpoint = tmp_path / "checkpoint-2"
    checkpoint.mkdir()
    (checkpoint / RUN_RECORD).write_text(json.dumps({"identity": json.loads(json.dumps(identity, default=str))}))
    check_resume_identity(checkpoint, identity)
    flipped = 0
    for dest, value in vars(base).items():
        if dest in ("model_args", "dataset", "resume", "output_dir", "print_config", "allow_test_split", "config"):
            continue
        changed = argparse.Namespace(**{**vars(base), dest: _flip(dest, value)})
        now = run_identity(changed, changed.model_args)
        if dest in RESUMABLE:
            check_resume_identity(checkpoint, now)
            continue
        with pytest.raises(CheckpointError, match=rf"these settings differ: .*\b{dest}\b"):
            check_resume_identity(checkpoint, now)
        flipped += 1
    assert flipped >= len(vars(DEFAULTS)) - len(RESUMABLE)
    for model_args, refused in [
        ("pretrained=y", "model_args.pretrained"),
        ("pretrained=x,revision=v2", "model_args.revision"),
        ("pretrained=x,attn_implementation=eager", "model_args.attn_implementation"),
        ("pretrained=x,device=cuda:1,device_map=auto", None),  # placement only
    ]:
        now = run_identity(base, model_args)
        if refused is None:
            check_resume_identity(checkpoint, now)
        else:
            with pytest.raises(CheckpointError, match=rf"differ: .*{refused}"):
                check_resume_identity(checkpoint, now)
    with pytest.raises(CheckpointError, match=r"differ: dataset, dataset_content"):
        check_resume_identity(
            checkpoint, run_identity(argparse.Namespace(**{**vars(base), "dataset": "a/b"}), "pretrained=x")
        )


def test_a_checkpoint_without_a_record_or_with_a_broken_one_is_refused(tmp_path):
    checkpoint = tmp_path / "checkpoint-1"
    checkpoint.mkdir()
    with pytest.raises(CheckpointError, match=f"no {RUN_RECORD} records the run"):
        check_resume_identity(checkpoint, {})
    for text in ("[1]", "{", '{"identity": 3}'):
        (checkpoint / RUN_RECORD).write_text(text)
        with pytest.raises(CheckpointError, match=f"--resume {checkpoint}: "):
            check_resume_identity(checkpoint, {})
