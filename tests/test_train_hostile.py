"""cogip-train against hostile or unlucky input: every failure is one line and an exit status, found before the
model loads where it can be, and a failed run never changes what an earlier run wrote."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cogip_train.checkpoints import RUN_RECORD
from cogip_train.cli import main
from conftest import offline_env, run_cli, tiny_train_args
from tiers import slow_fixture


def base_args(model_dir: Path, dataset: Path, out: Path) -> list[str]:
    """The arguments of every run here: the tiny model, at most 2 rows of one dimension, tiny images."""
    return [
        "--model",
        "qwen2_5_vl",
        *tiny_train_args(model_dir, dataset, "aesthetics"),
        "--max-samples",
        "2",
        "--batch-size",
        "2",
        "--lora-rank",
        "2",
        "--lora-alpha",
        "4",
        "--logging-steps",
        "1",
        "--output-dir",
        str(out),
    ]


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` with its bytes (None for folders): what 'left untouched' is compared on."""
    return {p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else None) for p in folder.rglob("*")}


def no_model(*_args, **_kwargs):
    raise AssertionError("the model was loaded before the bad input was reported")


@pytest.fixture
def guarded(monkeypatch):
    """In-process runs where loading the model fails the test: each error must come before it."""
    import cogip_train.wrappers

    monkeypatch.setattr(cogip_train.wrappers, "load_through_lmms_eval", no_model)


def the_error(stderr: str) -> str:
    """The one ``cogip-train: error:`` line of a run's stderr: its last line, no traceback, nothing after it
    (the lines above it, if any, are progress bars of the dataset loading)."""
    lines = stderr.strip().splitlines()
    errors = [line for line in lines if "error" in line.lower()]
    assert "Traceback" not in stderr and len(errors) == 1 and errors[0] == lines[-1], stderr[-3000:]
    assert lines[-1].startswith("cogip-train: error: "), stderr[-3000:]
    return lines[-1]


def error_line(capsys) -> str:
    return the_error(capsys.readouterr().err)


# ---------------------------------------------------------------------------------------------------------------
# An earlier run (real checkpoints written by the real CLI) that failed runs must leave alone.


@pytest.fixture(scope="module")
@slow_fixture  # trains two steps: the tests using it are slow
def earlier_run(tiny_qwen_dir, sample_dataset_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("earlier") / "run"
    command = [
        sys.executable,
        "-m",
        "cogip_train",
        *base_args(tiny_qwen_dir, sample_dataset_dir, out),
        "--max-steps",
        "2",
        "--save-steps",
        "1",
    ]
    run_cli(command, offline_env(), out.parent)
    assert {"train_log.json", "loss_curve.png", "adapter", "checkpoint-1", "checkpoint-2"} <= {
        p.name for p in out.iterdir()
    }
    return out


@pytest.fixture
def run_copy(earlier_run, tmp_path) -> Path:
    return Path(shutil.copytree(earlier_run, tmp_path / "run"))


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


# (what the user passes to --resume relative to the run, how the run was damaged, what the error names)
RESUME_CASES = {
    "mistyped path": ("checkpont-2", None, "checkpont-2: no such folder; the newest usable checkpoint is"),
    "empty checkpoint folder": (True, lambda run: (run / "checkpoint-3").mkdir(), "checkpoint-3: not a complete"),
    "no checkpoint at all": (
        True,
        lambda run: [shutil.rmtree(c) for c in run.glob("checkpoint-*")],
        "no checkpoint-* folder in",
    ),
    "truncated adapter": (
        "checkpoint-2",
        lambda run: truncate(run / "checkpoint-2" / "adapter_model.safetensors"),
        "checkpoint-2: adapter_model.safetensors: does not load",
    ),
    "truncated optimizer": (
        True,
        lambda run: truncate(run / "checkpoint-2" / "optimizer.pt"),
        "checkpoint-2: optimizer.pt: not a complete torch file",
    ),
    "garbled trainer state": (
        True,
        lambda run: (run / "checkpoint-2" / "trainer_state.json").write_text("{oops"),
        "checkpoint-2: trainer_state.json does not load",
    ),
    "a file, not a folder": ("train_log.json", None, "train_log.json: not a folder"),
}


@pytest.mark.parametrize("case", RESUME_CASES, ids=list(RESUME_CASES))
def test_a_failed_resume_leaves_the_earlier_run_untouched(
    case, run_copy, tiny_qwen_dir, sample_dataset_dir, guarded, capsys
):
    resume, damage, named = RESUME_CASES[case]
    if damage:
        damage(run_copy)
    before = snapshot(run_copy)
    resume_args = ["--resume"] if resume is True else ["--resume", str(run_copy / resume)]
    code = main([*base_args(tiny_qwen_dir, sample_dataset_dir, run_copy), "--max-steps", "3", *resume_args])
    line = error_line(capsys)
    assert code == 1 and named in line and str(run_copy) in line, line
    assert snapshot(run_copy) == before


def test_a_damaged_last_checkpoint_points_at_the_usable_one(
    run_copy, tiny_qwen_dir, sample_dataset_dir, guarded, capsys
):
    truncate(run_copy / "checkpoint-2" / "adapter_model.safetensors")
    assert main([*base_args(tiny_qwen_dir, sample_dataset_dir, run_copy), "--resume", str(run_copy)]) == 1
    assert error_line(capsys).endswith(f"pass --resume {run_copy / 'checkpoint-1'}")


def test_a_fresh_run_refuses_a_folder_holding_an_earlier_run(
    run_copy, tiny_qwen_dir, sample_dataset_dir, guarded, capsys
):
    before = snapshot(run_copy)
    assert main(base_args(tiny_qwen_dir, sample_dataset_dir, run_copy)) == 1
    line = error_line(capsys)
    assert f"--output-dir {run_copy} already holds a run (checkpoint-2" in line and "pass --resume" in line
    assert snapshot(run_copy) == before


@pytest.mark.parametrize(
    "change, field",
    [
        (["--learning-rate", "0.5"], "learning_rate"),
        (["--lora-rank", "4"], "lora_rank"),
        (["--seed", "7"], "seed"),
        (["--loss", "ce"], "loss"),
        (["--tune-vision", "lora"], "tune_vision"),
        (["--recipe", "paper"], "recipe"),
        (["--dimensions", "funniness"], "dimensions"),
        (["--max-samples", "1"], "max_samples"),
        (["--min-pixels", "784"], "min_pixels"),
    ],
)
def test_resume_refuses_another_run_naming_the_field(
    change, field, run_copy, tiny_qwen_dir, sample_dataset_dir, guarded, capsys
):
    before = snapshot(run_copy)
    code = main([*base_args(tiny_qwen_dir, sample_dataset_dir, run_copy), "--max-steps", "3", "--resume", *change])
    line = error_line(capsys)
    assert code == 1 and f"--resume {run_copy / 'checkpoint-2'}: a checkpoint continues only the run" in line, line
    assert field in line.split("these settings differ: ")[1]
    assert snapshot(run_copy) == before


def test_resume_refuses_another_base_model_or_dataset(
    run_copy, tiny_qwen_dir, sample_dataset_dir, guarded, tmp_path, capsys
):
    other_model = Path(shutil.copytree(tiny_qwen_dir, tmp_path / "other_model"))
    other_data = Path(shutil.copytree(sample_dataset_dir, tmp_path / "other_data"))
    for model, data, field in (
        (other_model, sample_dataset_dir, "model_args.pretrained"),
        (tiny_qwen_dir, other_data, "dataset"),
    ):
        code = main([*base_args(model, data, run_copy), "--resume"])
        line = error_line(capsys)
        assert code == 1 and field in line.split("these settings differ: ")[1], line
    # the same content under the same name is the same dataset; new content under the same name is not
    (other_data / "data" / "extra.txt").write_text("x")
    code = main([*base_args(tiny_qwen_dir, other_data, run_copy), "--resume"])
    assert code == 1 and "dataset_content" in error_line(capsys)


def test_a_second_run_into_a_held_output_dir_fails_at_once_naming_the_holder(
    tiny_qwen_dir, sample_dataset_dir, guarded, tmp_path, capsys
):
    out = tmp_path / "run"
    hold = "import sys, time\nfrom cogip_tasks.files import output_lock\nwith output_lock(sys.argv[1], command='cogip-train'):\n    print('held', flush=True)\n    time.sleep(60)\n"
    holder = subprocess.Popen([sys.executable, "-c", hold, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert main(base_args(tiny_qwen_dir, sample_dataset_dir, out)) == 1
        line = error_line(capsys)
        assert f"{out}: in use by pid {holder.pid} on " in line and "cogip-train" in line
        assert not out.exists()
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("where", ["dataset", "inside the dataset", "model", "holds the config"])
def test_an_output_dir_over_an_input_is_refused(where, tiny_qwen_dir, sample_dataset_dir, guarded, tmp_path, capsys):
    data = Path(shutil.copytree(sample_dataset_dir, tmp_path / "data"))
    model = Path(shutil.copytree(tiny_qwen_dir, tmp_path / "model"))
    config = tmp_path / "cfg" / "recipe.yaml"
    config.parent.mkdir()
    config.write_text("seed: 1\n")
    out = {"dataset": data, "inside the dataset": data / "runs", "model": model, "holds the config": config.parent}[
        where
    ]
    before = snapshot(tmp_path)
    code = main([*base_args(model, data, out), "--config", str(config)])
    assert code == 1 and f"{out}: output " in error_line(capsys)
    assert snapshot(tmp_path) == before


@pytest.mark.slow
@pytest.mark.parametrize("tamper", ["lora rank", "optimizer"])
def test_a_checkpoint_that_fails_inside_the_trainer_changes_nothing(
    tamper, run_copy, tiny_qwen_dir, sample_dataset_dir, tmp_path
):
    """Damage no file header shows: the model loads, the Trainer's loading fails, the earlier log survives."""
    extra = ["--lora-rank", "4"] if tamper == "lora rank" else []  # LoRA weights of rank 2 into a rank-4 model
    if tamper == "lora rank":  # a record that claims rank 4: the identity check passes, the weights do not load
        record_file = run_copy / "checkpoint-2" / RUN_RECORD
        record = json.loads(record_file.read_text())
        record["identity"]["lora_rank"] = 4
        record_file.write_text(json.dumps(record))
    if tamper == "optimizer":  # a valid torch file, but not this optimizer's state
        import torch

        torch.save({"state": {}, "param_groups": []}, run_copy / "checkpoint-2" / "optimizer.pt")
    before = snapshot(run_copy)
    command = [
        sys.executable,
        "-m",
        "cogip_train",
        *base_args(tiny_qwen_dir, sample_dataset_dir, run_copy),
        "--max-steps",
        "3",
        "--resume",
        *extra,
    ]
    proc = subprocess.run(
        command, env=offline_env(), cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 1, proc.stderr[-3000:]
    last = the_error(proc.stderr)
    what = "model weights: RuntimeError" if tamper == "lora rank" else "optimizer/scheduler state: ValueError"
    assert last.startswith(f"cogip-train: error: --resume {run_copy / 'checkpoint-2'}: cannot load its {what}"), last
    assert snapshot(run_copy) == before


# ---------------------------------------------------------------------------------------------------------------
# Absurd hyperparameters: argparse-style errors (exit 2), one line, before anything loads.

BAD_ARGUMENTS = [
    ("--learning-rate", "1e39"),
    ("--learning-rate", "nan"),
    ("--learning-rate", "inf"),
    ("--learning-rate", "0"),
    ("--learning-rate", "-1e-4"),
    ("--learning-rate", "1.5"),
    ("--vision-lr", "1e39"),
    ("--merger-lr", "0"),
    ("--epochs", "0"),
    ("--epochs", "-1"),
    ("--epochs", "inf"),
    ("--epochs", "1e39"),
    ("--batch-size", "0"),
    ("--batch-size", "-4"),
    ("--grad-accum", "0"),
    ("--lora-rank", "0"),
    ("--lora-alpha", "-1"),
    ("--lora-dropout", "1"),
    ("--eta", "-0.1"),
    ("--eta", "1.5"),
    ("--eta", "nan"),
    ("--lambda", "-1"),
    ("--lambda", "inf"),
    ("--sigma", "0"),
    ("--max-steps", "0"),
    ("--max-steps", "-2"),
    ("--warmup", "-1"),
    ("--warmup", "2.5"),
    ("--weight-decay", "-0.1"),
    ("--weight-decay", "1e39"),
    ("--seed", "-1"),
    ("--save-steps", "0"),
    ("--save-total-limit", "0"),
    ("--logging-steps", "0"),
    ("--max-samples", "0"),
    ("--min-pixels", "0"),
    ("--max-pixels", "100"),
    ("--dimensions", ","),
    ("--dimensions", "beauty"),
    ("--tune-llm", "freeze"),
    ("--lr-scheduler", "bogus"),
    ("--lora-target-modules", ","),
    ("--batch-size", "four"),
]


@pytest.mark.parametrize("flag,value", BAD_ARGUMENTS, ids=[f"{f}={v}" for f, v in BAD_ARGUMENTS])
def test_absurd_arguments_are_usage_errors(flag, value, tiny_qwen_dir, sample_dataset_dir, tmp_path, guarded, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(
            [*base_args(tiny_qwen_dir, sample_dataset_dir, tmp_path / "out"), f"{flag}={value}"]
        )  # "=": argparse takes -1e-4 for an option
    line = error_line(capsys)
    assert exit_.value.code == 2
    named = {"--tune-llm": "nothing to train", "--max-pixels": "--min-pixels 3136 is above --max-pixels 100"}
    assert named.get(flag, f"argument {flag}") in line and (value in line or flag in named), line
    assert not (tmp_path / "out").exists()


def test_the_learning_rate_bound_is_inclusive(tiny_qwen_dir, sample_dataset_dir, tmp_path, guarded):
    """1.0 is the largest rate accepted (exactly it gets past the argument checks, to the model load)."""
    with pytest.raises(AssertionError, match="model was loaded"):  # past the entry wrapper, which would report it
        main.__wrapped__([*base_args(tiny_qwen_dir, sample_dataset_dir, tmp_path / "out"), "--learning-rate", "1.0"])


# ---------------------------------------------------------------------------------------------------------------
# Bad data: exit 1, one line naming the dataset, row id and column, before the model loads.


def write_dataset(folder: Path, damage) -> Path:
    """A CogIP-format local folder (the sample rows), with ``damage(rows)`` applied to its train rows."""
    import datasets

    from cogip_tasks.synthetic import sample_rows

    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "image": datasets.Image(decode=False),
            "dimension": datasets.Value("string"),
            "prompt": datasets.Value("string"),
            "score": datasets.Value("float32"),
        }
    )
    (folder / "data").mkdir(parents=True)
    for split in ("train", "test"):
        rows = [{k: r[k] for k in features} for r in sample_rows(3, split)]
        if split == "train":
            damage(rows)
        datasets.Dataset.from_list(rows, features=features).to_parquet(
            str(folder / "data" / f"{split}-00000-of-00001.parquet")
        )
    return folder


def second_aesthetics_row(**changes):
    def damage(rows: list[dict]) -> None:
        row = [r for r in rows if r["dimension"] == "Aesthetics"][1]
        for key, value in changes.items():
            row[key] = value(row[key]) if callable(value) else value

    return damage


BAD_DATA = {
    "not an image": (second_aesthetics_row(image={"bytes": b"not a jpeg", "path": "x.jpg"}), "column 'image'"),
    "truncated jpeg": (
        second_aesthetics_row(image=lambda im: {"bytes": im["bytes"][: len(im["bytes"]) // 2], "path": im["path"]}),
        "column 'image'",
    ),
    "score 1e39 (inf in float32)": (second_aesthetics_row(score=1e39), "column 'score'"),
    "score inf": (second_aesthetics_row(score=float("inf")), "column 'score'"),
    "score out of range": (second_aesthetics_row(score=42.0), "column 'score'"),
    "score below range": (second_aesthetics_row(score=-7.0), "column 'score'"),
    "unknown dimension": (second_aesthetics_row(dimension="Beauty"), "column 'dimension'"),
}


@pytest.mark.parametrize("case", BAD_DATA, ids=list(BAD_DATA))
def test_bad_rows_stop_before_the_model_loads(case, tiny_qwen_dir, tmp_path, guarded, capsys):
    damage, column = BAD_DATA[case]
    dataset = write_dataset(tmp_path / "bad_data", damage)
    code = main(base_args(tiny_qwen_dir, dataset, tmp_path / "out"))
    line = error_line(capsys)
    assert code == 1 and str(dataset) in line and "row id 'Aesthetics/000001'" in line and column in line, line
    assert not (tmp_path / "out").exists()


def test_a_corrupt_image_past_max_samples_is_not_read(tiny_qwen_dir, tmp_path, guarded):
    """Only the rows trained on are decoded (--max-samples 1 keeps row 0 of 3): the check then passes."""
    dataset = write_dataset(tmp_path / "bad_data", second_aesthetics_row(image={"bytes": b"junk", "path": "x.jpg"}))
    with pytest.raises(AssertionError, match="model was loaded"):
        main.__wrapped__([*base_args(tiny_qwen_dir, dataset, tmp_path / "out"), "--max-samples", "1"])


@pytest.mark.parametrize("source", ["/nope/cogip", "missing-folder-{tmp}"])
def test_a_missing_dataset_is_named(source, tiny_qwen_dir, tmp_path, guarded, capsys):
    source = source.format(tmp=tmp_path)
    assert main(base_args(tiny_qwen_dir, Path(source), tmp_path / "out")) == 1
    assert source in error_line(capsys)


def test_a_dimension_without_rows_is_an_error(tiny_qwen_dir, tmp_path, guarded, capsys):
    def drop_funniness(rows: list[dict]) -> None:
        rows[:] = [r for r in rows if r["dimension"] != "Funniness"]

    dataset = write_dataset(tmp_path / "data", drop_funniness)
    assert main([*base_args(tiny_qwen_dir, dataset, tmp_path / "out"), "--dimensions", "aesthetics,funniness"]) == 1
    assert "no rows of dimension 'Funniness'" in error_line(capsys)


# ---------------------------------------------------------------------------------------------------------------
# The summary: the real console entry point, in a subprocess, over a list of bad inputs.


def test_bad_inputs_through_the_real_cli(tiny_qwen_dir, sample_dataset_dir, earlier_run, tmp_path):
    corrupt = write_dataset(tmp_path / "corrupt", second_aesthetics_row(image={"bytes": b"junk", "path": "x.jpg"}))
    cases = [  # (extra arguments, dataset, output dir, exit status, what the one line must name)
        (["--learning-rate", "1e39"], sample_dataset_dir, tmp_path / "a", 2, "--learning-rate"),
        ([], Path("/nope"), tmp_path / "b", 1, "/nope"),
        ([], Path("nobody/no-such-dataset"), tmp_path / "c", 1, "nobody/no-such-dataset"),  # offline Hub id
        ([], corrupt, tmp_path / "d", 1, "row id 'Aesthetics/000001': column 'image'"),
        (["--resume", str(earlier_run / "checkpont-2")], sample_dataset_dir, earlier_run, 1, "checkpont-2"),
    ]
    before = snapshot(earlier_run)
    for extra, dataset, out, status, named in cases:
        command = [sys.executable, "-m", "cogip_train", *base_args(tiny_qwen_dir, dataset, out), *extra]
        proc = subprocess.run(
            command, env=offline_env(), cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
        )
        assert proc.returncode == status, (extra, dataset, proc.stderr[-3000:])
        assert named in the_error(proc.stderr)
        if out != earlier_run:
            assert not out.exists()
    assert snapshot(earlier_run) == before
