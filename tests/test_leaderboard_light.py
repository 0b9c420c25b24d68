"""`cogip-leaderboard verify/build/compare` need neither lmms-eval nor torch (#22.7), and a package that is
genuinely missing is an environment error (one line, exit 1), never a rejected submission."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cogip_tasks.files import write_json
from cogip_tasks.leaderboard.verify import load_ground_truth
from test_leaderboard_stats import synthetic_submission

# Makes the named top-level packages look uninstalled (find_spec answers None, import raises
# ModuleNotFoundError), as in an environment that never had them.
BLOCKER = """
import sys
BLOCKED = set(sys.argv.pop(1).split(","))

class Uninstalled:
    def __init__(self, inner):
        self.inner = inner

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            return None
        find = getattr(self.inner, "find_spec", None)
        return find(name, path, target) if find else None

    def __getattr__(self, name):  # find_distributions etc.: importlib.metadata must still see every package
        return getattr(self.inner, name)

sys.meta_path[:] = [Uninstalled(finder) for finder in sys.meta_path]
from cogip_tasks.leaderboard.cli import main
try:
    main(sys.argv[1:])
finally:
    heavy = sorted(m for m in ("torch", "lmms_eval", "transformers") if m in sys.modules)
    print("imported:", ",".join(heavy) or "-", file=sys.stderr)
"""


def run_without(blocked: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(BLOCKER), blocked, *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def two_submissions(sample_dataset_dir, tmp_path_factory) -> Path:
    truth = load_ground_truth(str(sample_dataset_dir))
    folder = tmp_path_factory.mktemp("light_subs")
    for seed in (1, 2):
        write_json(folder / f"m{seed}.json", synthetic_submission(truth, seed=seed, name=f"model {seed}"))
    return folder


def test_verify_build_compare_without_lmms_eval_or_torch(two_submissions, sample_dataset_dir, tmp_path):
    data = ["--dataset", str(sample_dataset_dir)]
    verify = run_without("torch,lmms_eval,transformers", "verify", str(two_submissions), *data)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert verify.stdout.count("OK ") == 2 and "imported: -" in verify.stderr
    site = tmp_path / "site"
    build = run_without("torch,lmms_eval,transformers", "build", str(two_submissions), "-o", str(site), *data)
    assert build.returncode == 0, build.stderr
    assert "imported: -" in build.stderr
    assert [r["name"] for r in json.loads((site / "leaderboard.json").read_text())["rows"] if not r["reference"]]
    compare = run_without(
        "torch,lmms_eval,transformers", "compare", *(str(p) for p in sorted(two_submissions.glob("*.json"))), *data
    )
    assert compare.returncode == 0, compare.stderr
    assert "model 1" in compare.stdout and "imported: -" in compare.stderr


def test_a_missing_package_is_an_environment_error_not_a_rejection(two_submissions, sample_dataset_dir, tmp_path):
    """matplotlib draws build's plots: without it, build stops with one line naming it, exit 1."""
    site, data = str(tmp_path / "site"), str(sample_dataset_dir)
    build = run_without("matplotlib", "build", str(two_submissions), "-o", site, "--dataset", data, "--no-cache")
    assert build.returncode == 1
    errors = re.findall(r"cogip-leaderboard: error: [^\r\n]*", build.stderr)  # after progress bars' \r
    assert len(errors) == 1 and "matplotlib" in errors[0] and "missing dependency" in errors[0]
    assert "REJECTED" not in build.stdout + build.stderr and "Traceback" not in build.stderr


def test_verify_reports_a_missing_package_met_while_verifying_as_an_environment_error(
    two_submissions, sample_dataset_dir, monkeypatch, capsys
):
    from cogip_tasks.leaderboard import cli

    def missing(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'scipy'", name="scipy")

    monkeypatch.setattr(cli, "verify_submission", missing)
    with pytest.raises(SystemExit) as stop:
        cli.main(["verify", str(two_submissions), "--dataset", str(sample_dataset_dir)])
    out = capsys.readouterr()
    assert stop.value.code == 1 and "REJECTED" not in out.out
    assert out.err.strip().startswith("cogip-leaderboard: error: missing dependency") and "scipy" in out.err
