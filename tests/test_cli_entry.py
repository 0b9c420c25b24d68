"""Every command ends the same way (cogip_tasks/entry.py) and answers --help at once.

- Ctrl-C and SIGTERM mid-run: one line saying what was kept, exit 130, nothing half-written (real subprocesses
  of each command, stopped at a point inside the run);
- an unexpected error: one line naming the command, the error and a report file with the full traceback;
- ``--help``, ``cogip-eval tasks list`` and argument errors import none of the heavy libraries.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cogip_tasks.entry import REPORT_DIR_ENV
from conftest import REPO, offline_env

# (trl is allowed: cogip-train parses with its TrlParser, whose import needs neither torch nor transformers)
HEAVY = ("torch", "transformers", "datasets", "peft", "lmms_eval", "diffusers", "accelerate", "scipy")

#: Runs a command's real entry point with one function replaced by a pause (before or after the original runs),
#: so that a signal arrives at a known point inside the run. Prints READY when the pause begins.
RUNNER = r"""
import importlib, signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)  # a test runner may start us with SIGINT ignored
entry, target, when, prog, *argv = sys.argv[1:]
module_name, attr = target.rsplit(".", 1)
module = importlib.import_module(module_name)
original = getattr(module, attr)
def pause(*args, **kwargs):
    result = original(*args, **kwargs) if when == "after" else None
    print("READY", flush=True)
    time.sleep(300)
    return result
setattr(module, attr, pause)
entry_module, entry_function = entry.split(":")
sys.argv = [prog, *argv]
sys.exit(getattr(importlib.import_module(entry_module), entry_function)(argv))
"""


def _release(root: Path) -> tuple[Path, Path]:
    from fixtures.release import write_synthetic_release
    from hub_upload.release import read_release
    from hub_upload.standin import write_standin_images

    release = write_synthetic_release(root / "release", n_train=2, pool_sizes=2)
    write_standin_images(read_release(release), root / "images", size=16, progress=False)
    return release, root / "images"


def _cases(root: Path) -> dict[str, tuple]:
    """command -> (entry, function to pause, before/after, argv, what must not exist afterwards)."""
    cases = {
        "cogip-eval": (
            "cogip_tasks.cli:main",
            "cogip_tasks.cli.preflight",
            "before",
            ["--model", "qwen2_5_vl", "--model_args", "pretrained=x", "--tasks", "cogip", "--output_path", "res"],
            ["res"],
        ),
        "cogip-demo": (
            "cogip_tasks.demo:main",
            "cogip_tasks.demo.build_demo_inputs",
            "before",
            ["--quick", "-o", "demo"],
            ["demo/results", "demo/leaderboard"],
        ),
        "cogip-leaderboard": (
            "cogip_tasks.leaderboard.cli:main",
            "cogip_tasks.leaderboard.cli.submission_from_output",
            "before",
            ["submit", "run", "-o", "sub.json"],
            ["sub.json"],
        ),
        "cogip-gen": (
            "cogip_gen.cli:main",
            "cogip_gen.prompts.collect_prompts",
            "before",
            ["generate", "--model-args", "pretrained=x", "--prompt", "a cat", "-o", "gen", "--device", "cpu"],
            ["gen/manifest.json"],
        ),
        "cogip-train": (
            "cogip_train.cli:main",
            "cogip_train.run_start.check_output_dir",  # patched where the run calls it
            "before",
            ["--model_args", "pretrained=x", "--output-dir", "run"],
            ["run"],
        ),
    }
    if (root / "release").exists():
        cases["cogip-upload"] = (
            "hub_upload.cli:main",
            "hub_upload.build.write_shards",
            "after",  # some shards are written when the signal comes
            [
                "build",
                "--release",
                str(root / "release"),
                "--images",
                str(root / "images"),
                "-o",
                "built",
                "-q",
                "--test-size",
                "1",
            ],
            ["built"],
        )
    return cases


COMMANDS = ["cogip-eval", "cogip-demo", "cogip-leaderboard", "cogip-upload", "cogip-train", "cogip-gen"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("command", COMMANDS)
def test_an_interrupted_command_says_one_line_and_exits_130(command, sig, tmp_path):
    if command == "cogip-upload":
        _release(tmp_path)
    entry, target, when, argv, absent = _cases(tmp_path)[command]
    proc = subprocess.Popen(
        [sys.executable, "-c", RUNNER, entry, target, when, command, *argv],
        cwd=tmp_path,
        env=offline_env(PYTHONPATH=str(REPO)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in proc.stdout:  # the command's own output, then READY when the pause begins
            if line.strip() == "READY":
                break
        else:
            pytest.fail(f"{command} ended before the pause: {proc.wait()} {proc.stderr.read()}")
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    how = "interrupted" if sig == signal.SIGINT else "terminated (SIGTERM)"
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 130, err
    assert len(lines) == 1 and lines[0].startswith(f"{command}: {how}; "), err
    assert "Traceback" not in err + out
    for path in absent:
        assert not (tmp_path / path).exists(), path
    assert not [p.name for p in tmp_path.iterdir() if ".building-" in p.name]  # a build's scratch folder is gone


def test_training_says_how_to_resume():
    from cogip_train.cli import main

    assert "--resume" in main.__wrapped__.__globals__["INTERRUPTED"]


def _raise(*args, **kwargs):
    raise RuntimeError("boom in the middle")


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unexpected_error_is_one_line_naming_the_report(command, tmp_path, monkeypatch, capsys):
    """In-process: the same wrapper, with the paused function replaced by one that raises."""
    import importlib

    if command == "cogip-upload":
        _release(tmp_path)
    entry, target, _, argv, _ = _cases(tmp_path)[command]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(REPORT_DIR_ENV, str(tmp_path / "reports"))
    monkeypatch.setenv("HF_TOKEN", "hf_secretvalue123")
    module_name, attr = target.rsplit(".", 1)
    monkeypatch.setattr(importlib.import_module(module_name), attr, _raise)
    module_name, function = entry.split(":")
    main = getattr(importlib.import_module(module_name), function)
    try:
        code = main(argv)
    except SystemExit as stop:  # cogip-leaderboard's main exits itself
        code = stop.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and "warning" not in line]
    assert code == 1 and len(lines) == 1, err
    assert lines[0].startswith(f"{command}: error: unexpected RuntimeError: boom in the middle (full report: "), err
    assert "Traceback" not in err
    report = Path(lines[0].split("full report: ")[1].split(")")[0])
    text = report.read_text()
    assert report.parent == tmp_path / "reports" and f"command: {command}" in text
    assert "Traceback (most recent call last)" in text and "RuntimeError: boom in the middle" in text
    assert "pretrained=x" not in text  # option values are not recorded (they may hold credentials)
    assert oct(report.stat().st_mode & 0o777) == "0o600"


def test_the_line_and_the_report_mask_secrets(tmp_path, monkeypatch, capsys):
    """$HF_TOKEN and what the model-args scrubber would drop never reach the console or the report."""
    from cogip_tasks.entry import entry_point

    monkeypatch.setenv(REPORT_DIR_ENV, str(tmp_path))
    monkeypatch.setenv("HF_TOKEN", "hf_secretvalue123")

    @entry_point("cogip-x", on_interrupt="nothing kept")
    def leaky(argv=None):
        raise ValueError("could not reach https://user:hf_secretvalue123@host/ with api_key=sk_live_abcdef987")

    assert leaky(["--judge-model-args", "pretrained=x,api_key=sk_live_abcdef987"]) == 1
    err = capsys.readouterr().err
    report = next(tmp_path.iterdir()).read_text()
    for secret in ("hf_secretvalue123", "sk_live_abcdef987"):
        assert secret not in err and secret not in report
    assert "***" in err and "***" in report


# -- instant commands -------------------------------------------------------------------------------------------

CHEAP = [
    ("cogip_tasks.cli", ["--help"], 0),
    ("cogip_tasks.cli", ["tasks", "list"], 0),
    ("cogip_tasks.demo", ["--help"], 0),
    ("cogip_tasks.demo", ["--seed", "-1"], 2),
    ("cogip_tasks.leaderboard.cli", ["--help"], 0),
    ("cogip_tasks.leaderboard.cli", ["verify", "--help"], 0),
    ("cogip_tasks.leaderboard.cli", ["build", "x"], 2),
    ("hub_upload.cli", ["--help"], 0),
    ("hub_upload.cli", ["build", "--help"], 0),
    ("hub_upload.cli", ["build", "--no-such-option"], 2),
    ("cogip_train.cli", ["--help"], 0),
    ("cogip_train.cli", ["--learning-rate", "1e39", "--model_args", "pretrained=x"], 2),
    ("cogip_train.cli", ["configs"], 0),
    ("cogip_gen.cli", ["--help"], 0),
    ("cogip_gen.cli", ["judge", "--help"], 0),
    ("cogip_gen.cli", ["generate", "--seeds", "-5"], 2),
]


def test_help_listings_and_argument_errors_import_no_heavy_library():
    """Each in a fresh interpreter: what the command imported, and its exit status."""
    probe = (
        "import json, sys\n"
        "from importlib import import_module\n"
        "main = import_module(sys.argv[1]).main\n"
        "try:\n    code = main(json.loads(sys.argv[2]))\nexcept SystemExit as stop:\n    code = stop.code\n"
        f"heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)\n"
        "print(json.dumps([code or 0, heavy]))\n"
    )
    for module, argv, expected in CHEAP:
        proc = subprocess.run(
            [sys.executable, "-c", probe, module, json.dumps(argv)],
            capture_output=True,
            text=True,
            cwd=REPO,
            env=offline_env(PYTHONPATH=str(REPO)),
            timeout=120,
        )
        code, heavy = json.loads(proc.stdout.splitlines()[-1])
        assert (code, heavy) == (expected, []), (module, argv, proc.stderr[-2000:])


@pytest.mark.parametrize(
    ("argv", "code", "line"),
    [
        (["--seed", "-1"], 2, "cogip-demo: error: --seed must be from 0 to 4294967295 (numpy's seed range), got -1"),
        (["--seed", "4294967296"], 2, "cogip-demo: error: --seed must be from 0 to 4294967295"),
        (["-o", "{file}"], 1, "cogip-demo: error: --output-dir {file}: exists and is not a folder; choose another"),
        (["--workdir", "{file}/sub"], 1, "cogip-demo: error: "),  # a parent that is a file: the OS names it
    ],
)
def test_the_demo_refuses_bad_options_in_one_line(argv, code, line, tmp_path, capsys):
    """Before anything is built: no sample data, no model, nothing written (#25.7)."""
    from cogip_tasks.demo import main

    (tmp_path / "f").write_text("mine")
    argv = [a.format(file=tmp_path / "f") for a in argv]
    try:
        got = main(argv)
    except SystemExit as stop:
        got = stop.code
    lines = [x for x in capsys.readouterr().err.splitlines() if "warning: option" not in x]
    assert got == code and len(lines) == 1 and lines[0].startswith(line.format(file=tmp_path / "f")), lines
    assert (tmp_path / "f").read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["f"]


@pytest.mark.parametrize(
    ("module", "argv", "prog"),
    [
        ("cogip_tasks.demo", ["--no-such-option"], "cogip-demo"),
        ("cogip_tasks.leaderboard.cli", ["verify"], "cogip-leaderboard verify"),
        ("hub_upload.cli", ["build", "--release"], "cogip-upload build"),
        ("cogip_train.cli", ["--epochs", "nan", "--model_args", "x", "-o", "y"], "cogip-train"),
        ("cogip_gen.cli", ["judge"], "cogip-gen judge"),
    ],
)
def test_a_usage_error_is_one_line_and_exits_2(module, argv, prog, capsys):
    import importlib

    with pytest.raises(SystemExit) as stop:
        importlib.import_module(module).main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1 and err[0].startswith(f"{prog}: error: "), err
    assert err[0].endswith(f"(see {prog} --help)")
