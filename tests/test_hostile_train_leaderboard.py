"""Hostile inputs to cogip-train, cogip-leaderboard and cogip-demo, one table per command, each through the
command's real entry point (``main``, in process, under an alarm): the exit status, one error line naming the
file, field or value, no traceback, no secret anywhere (console, files written), every file that was there
before byte-identical afterwards, and nothing loaded: a cogip-train case that reaches the model load fails.

Each row is a class of input found to fail (a hang, a traceback, a leak or a silent acceptance) before its fix
at the boundary; the fix covers the class, the row is one member of it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from fixtures.hostile import regular_files, run_in_process

SECRET = "hf_H3secretTOKEN12345"


def check_run(main, argv, root: Path, capsys, code: int, named: str | None, prog: str) -> str:
    """Run, then assert the contract; the console text."""
    before = regular_files(root)
    got = run_in_process(main, argv)
    out = capsys.readouterr()
    text = out.out + out.err
    errors = [line for line in out.err.splitlines() if "error:" in line]
    assert got == code, (got, text[-2000:])
    assert "Traceback" not in text and SECRET not in text, text[-2000:]
    if code:
        assert len(errors) == 1 and errors[0].startswith(f"{prog}: error: "), text[-2000:]
        assert named in errors[0], errors[0]
    after = regular_files(root)
    assert {rel: data for rel, data in after.items() if rel in before} == before
    assert not [rel for rel, data in after.items() if SECRET.encode() in data and before.get(rel) != data]
    return text


# ---------------------------------------------------------------------------------------------------------------
# cogip-train: everything below fails before the model loads (a load fails the test).


@pytest.fixture
def no_model(monkeypatch):
    import cogip_train.wrappers

    def loaded(*_args, **_kwargs):
        raise AssertionError("the model was loaded before the bad input was reported")

    monkeypatch.setattr(cogip_train.wrappers, "load_through_lmms_eval", loaded)


def _missing_integration() -> str:
    from transformers.integrations import get_available_reporting_integrations
    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK

    return sorted(set(INTEGRATION_TO_CALLBACK) - set(get_available_reporting_integrations()))[0]


def _write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.write_bytes if isinstance(data, bytes) else path.write_text)(data)
    return path


def _checkpoint(root: Path) -> Path:
    """A checkpoint folder with every file the resume check asks for (contents garbage past the first checks)."""
    ckpt = root / "out" / "checkpoint-1"
    for name in ("trainer_state.json", "scheduler.pt", "optimizer.pt", "adapter_model.safetensors"):
        _write(ckpt / name, b"{}")
    return ckpt


def _fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def _manifest(root: Path, data: Path, text: str) -> Path:
    import shutil

    copy = Path(shutil.copytree(data, root / "data"))
    _write(copy / "cogip_build.json", text)
    return copy


# name -> (setup(root, data) returning (extra argv, dataset to use or None), exit status, named in the line)
TRAIN_CASES: dict[str, tuple[Callable, int, str]] = {
    "config: an integer past 4,300 digits": (
        lambda r, d: (["--config", str(_write(r / "cfg.yaml", "seed: " + "9" * 5000 + "\n"))], None),
        1,
        "cfg.yaml",
    ),
    "config: an unknown key names the file": (
        lambda r, d: (["--config", str(_write(r / "cfg.yaml", "lerning_rate: 0.1\n"))], None),
        2,
        "cfg.yaml",
    ),
    "config: push_to_hub": (
        lambda r, d: (["--config", str(_write(r / "cfg.yaml", "push_to_hub: true\n"))], None),
        2,
        "--push-to-hub",
    ),
    "config: hub_token with --print-config": (
        lambda r, d: (["--config", str(_write(r / "cfg.yaml", f"hub_token: {SECRET}\n")), "--print-config"], None),
        2,
        "--hub-token",
    ),
    "flag: --hub_token": (lambda r, d: (["--hub_token", SECRET], None), 2, "--hub-token"),
    "flag: --hub-model-id": (lambda r, d: (["--hub-model-id", "me/x"], None), 2, "--hub-model-id"),
    "flag: --report_to all": (lambda r, d: (["--report_to", "all"], None), 2, "'all'"),
    "flag: --report_to unknown": (lambda r, d: (["--report_to", "nonsense"], None), 2, "nonsense"),
    "flag: --report_to not installed": (
        lambda r, d: (["--report_to", _missing_integration()], None),
        2,
        "not installed",
    ),
    "flag: --deepspeed /dev/zero": (lambda r, d: (["--deepspeed", "/dev/zero"], None), 1, "/dev/zero"),
    "flag: --deepspeed a FIFO": (lambda r, d: (["--deepspeed", str(_fifo(r / "ds.json"))], None), 1, "ds.json"),
    "flag: --deepspeed not JSON": (
        lambda r, d: (["--deepspeed", str(_write(r / "ds.json", "{oops"))], None),
        1,
        "ds.json",
    ),
    "flag: --deepspeed missing": (lambda r, d: (["--deepspeed", str(r / "nope.json")], None), 1, "nope.json"),
    "flag: --save_strategy shadows --save-steps": (lambda r, d: (["--save_strategy", "no"], None), 2, "--save-steps"),
    "flag: --resume_from_checkpoint is ignored by the Trainer": (
        lambda r, d: (["--resume_from_checkpoint", str(r)], None),
        2,
        "--resume",
    ),
    "flag: --data_seed shadows --seed": (lambda r, d: (["--data_seed", "5"], None), 2, "--seed"),
    "flag: empty --output-dir": (lambda r, d: (["--output-dir="], None), 2, "--output-dir"),
    "flag: empty --dataset": (lambda r, d: (["--dataset="], None), 2, "--dataset"),
    "flag: empty --resume": (lambda r, d: (["--resume="], None), 2, "--resume"),
    "dataset: manifest is a list": (lambda r, d: ([], _manifest(r, d, "[1, 2]")), 1, "cogip_build.json"),
    "dataset: manifest spec is junk": (
        lambda r, d: ([], _manifest(r, d, '{"rows": {"default": {"train": 1}}, "spec": "junk"}')),
        1,
        "cogip_build.json",
    ),
    "resume: a FIFO in the checkpoint": (
        lambda r, d: (["--resume", str(_fifo(_checkpoint(r) / "a.pt").parent)], None),
        1,
        "a.pt",
    ),
    "resume: trainer_state nested 100,000 deep": (
        lambda r, d: (
            ["--resume", str(_write(_checkpoint(r) / "trainer_state.json", "[" * 100_000 + "]" * 100_000).parent)],
            None,
        ),
        1,
        "trainer_state.json",
    ),
}


@pytest.mark.parametrize("case", TRAIN_CASES, ids=list(TRAIN_CASES))
def test_cogip_train_refuses_hostile_input_before_the_model_loads(case, sample_dataset_dir, tmp_path, no_model, capsys):
    from cogip_train.cli import main

    setup, code, named = TRAIN_CASES[case]
    extra, dataset = setup(tmp_path, sample_dataset_dir)
    argv = [
        "--model_args", f"pretrained={tmp_path / 'no-model'},device=cpu", "--dataset", str(dataset or sample_dataset_dir),
        "--dimensions", "aesthetics", "--max-samples", "2", "--output-dir", str(tmp_path / "out"), *extra,
    ]  # fmt: skip
    check_run(main, argv, tmp_path, capsys, code, named, "cogip-train")


def test_print_config_shows_no_credential_from_a_config_file(tmp_path, capsys):
    from cogip_train.cli import main

    config = _write(tmp_path / "cfg.yaml", f"model_args: pretrained=org/m,api_key={SECRET}\nadam_beta2: 0.95\n")
    text = check_run(main, ["-o", "out", "--config", str(config), "--print-config"], tmp_path, capsys, 0, None, "")
    assert '"adam_beta2"' in text and "org/m" in text


def test_train_log_settings_publish_only_plain_trainer_values(tmp_path):
    from cogip_train.outputs import shareable_settings

    shared = shareable_settings(
        {
            "trainer_overrides": {
                "adam_beta2": 0.95,
                "report_to": ["tensorboard"],
                "logging_dir": "/home/alice/private/logs",
                "run_name": SECRET,
                "deepspeed": {"zero_optimization": {"stage": 3}},
                "optim_args": "password=hunter2",
            }
        },
        tmp_path,
    )
    assert shared["trainer_overrides"] == {
        "adam_beta2": 0.95,
        "report_to": ["tensorboard"],
        "logging_dir": "<removed>",
        "run_name": "<removed>",
        "deepspeed": "<removed>",
        "optim_args": "<removed>",
    }


# ---------------------------------------------------------------------------------------------------------------
# cogip-leaderboard build: the site folder and the cache.


@pytest.fixture(scope="module")
def good_submission(sample_dataset_dir, tmp_path_factory) -> Path:
    from cogip_tasks.files import write_json
    from cogip_tasks.leaderboard.verify import load_ground_truth
    from fixtures.leaderboard import synthetic_submission

    path = tmp_path_factory.mktemp("h3_subs") / "good.json"
    write_json(path, synthetic_submission(load_ground_truth(str(sample_dataset_dir)), seed=1, name="good model"))
    return path


def _site_with(root: Path, make: Callable[[Path], object]) -> Path:
    (root / "site").mkdir()
    make(root / "site" / "leaderboard.json")
    return root / "site"


SITE_CASES = {
    "the site's listing is a FIFO": (lambda r: _site_with(r, os.mkfifo), 1, "leaderboard.json"),
    "the site's listing links to /dev/zero": (
        lambda r: _site_with(r, lambda p: p.symlink_to("/dev/zero")),
        1,
        "leaderboard.json",
    ),
    "the cache is the site": (lambda r: r / "site", 1, "output is the input"),
}


@pytest.mark.parametrize("case", SITE_CASES, ids=list(SITE_CASES))
def test_leaderboard_build_refuses_a_hostile_site_folder(case, good_submission, sample_dataset_dir, tmp_path, capsys):
    from cogip_tasks.leaderboard.cli import main

    make, code, named = SITE_CASES[case]
    site = make(tmp_path)
    cache = ["--cache-dir", str(site)] if case == "the cache is the site" else ["--no-cache"]
    argv = ["build", str(good_submission), "-o", str(tmp_path / "site"), "--dataset", str(sample_dataset_dir), *cache]
    check_run(main, argv, tmp_path, capsys, code, named, "cogip-leaderboard")


def test_a_site_that_is_a_link_is_written_where_it_points(good_submission, sample_dataset_dir, tmp_path, capsys):
    from cogip_tasks.leaderboard.cli import main

    target = tmp_path / "www"
    _write(target / "notes.txt", "mine")
    (tmp_path / "site").symlink_to(target)
    argv = ["build", str(good_submission), "-o", str(tmp_path / "site"), "--dataset", str(sample_dataset_dir)]
    check_run(main, [*argv, "--no-cache"], tmp_path, capsys, 0, None, "cogip-leaderboard")
    assert (tmp_path / "site").is_symlink() and (target / "index.html").is_file()
    assert (target / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site", "www"]  # no staging or old folder left


# ---------------------------------------------------------------------------------------------------------------
# cogip-demo: options and its output folder, refused before anything is built.

DEMO_CASES = {
    "--n-train 1e9": (lambda r: ["--n-train", "1000000000"], 2, "--n-train"),
    "--steps 1e13": (lambda r: ["--steps", "10000000000000"], 2, "--steps"),
    "--n-test 1e11 --quick": (lambda r: ["--quick", "--n-test", "99999999999"], 2, "--n-test"),
    "--pretrained URL with a token": (
        lambda r: ["--quick", "--pretrained", f"https://user:{SECRET}@example.com/m"],
        2,
        "--pretrained",
    ),
    "--pretrained adding model args": (
        lambda r: ["--quick", "--pretrained", f"org/m,api_key={SECRET}"],
        2,
        "--pretrained",
    ),
    "-o empty": (lambda r: ["-o", ""], 2, "--output-dir"),
    "a FIFO in the output folder": (
        lambda r: ["--quick", "-o", str(_fifo(r / "demo" / "sample_dataset" / "README.md").parents[1])],
        1,
        "README.md",
    ),
}


@pytest.mark.parametrize("case", DEMO_CASES, ids=list(DEMO_CASES))
def test_cogip_demo_refuses_hostile_options(case, tmp_path, capsys):
    from cogip_tasks.demo import main

    make, code, named = DEMO_CASES[case]
    extra = make(tmp_path)
    argv = extra if "-o" in extra else [*extra, "-o", str(tmp_path / "demo")]
    check_run(main, argv, tmp_path, capsys, code, named, "cogip-demo")


def test_a_second_demo_into_a_held_folder_fails_at_once(tmp_path, capsys):
    from cogip_tasks.demo import main
    from cogip_tasks.files import output_lock

    with output_lock(tmp_path / "demo", command="cogip-demo"):
        check_run(main, ["--quick", "-o", str(tmp_path / "demo")], tmp_path, capsys, 1, "in use by pid", "cogip-demo")


@pytest.mark.parametrize("method", ["sft", "grpo"])
def test_both_methods_refuse_a_part_the_wrapper_cannot_lora_before_loading(
    method, sample_dataset_dir, tmp_path, no_model, capsys
):
    """SFT and GRPO start through one check (cogip_train.run_start): Gemma-3's projector has no linear layer."""
    from cogip_train.cli import main

    argv = [
        "--method", method, "--model", "gemma3", "--model_args", f"pretrained={tmp_path / 'no-model'},device=cpu",
        "--dataset", str(sample_dataset_dir), "--dimensions", "aesthetics", "--max-samples", "2",
        "--tune-merger", "lora", "--output-dir", str(tmp_path / "out"),
    ]  # fmt: skip
    check_run(main, argv, tmp_path, capsys, 1, "--tune-merger lora", "cogip-train")
    assert not (tmp_path / "out").exists()
