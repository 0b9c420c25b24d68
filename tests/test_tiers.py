"""The test tiers (tests/tiers.py): slow marks follow fixtures, and a test that is not marked slow but runs
lmms-eval, or spends more than its CPU budget in the fast tier, fails with a message saying what to mark."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tiers import heavy_command

TESTS = Path(__file__).resolve().parent

INNER = """
import subprocess
import time

import pytest

from tiers import slow_fixture


@pytest.fixture(scope="session")
@slow_fixture
def evaluated():
    return "results"


@pytest.fixture
def uses_evaluated(evaluated):
    return evaluated


def test_quick():
    pass


def test_starts_lmms_eval(tmp_path):
    try:
        subprocess.run(["lmms-eval", "eval", "--model", "qwen2_5_vl"], cwd=tmp_path)
    except Exception:
        pass  # the refusal is reported even when the test swallows it


def test_spins():
    end = time.process_time() + 0.6
    while time.process_time() < end:
        pass


@pytest.mark.slow
def test_marked():
    with pytest.raises(FileNotFoundError):  # not watched: the real Popen, which finds no such program
        subprocess.run(["/nonexistent/lmms-eval", "eval"])


def test_through_a_slow_fixture(uses_evaluated):
    assert uses_evaluated == "results"
"""


def _pytest(tmp_path: Path, *args: str) -> str:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["tiers"]\n')
    (tmp_path / "test_inner.py").write_text(INNER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", "-q", *args, str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc.stdout + proc.stderr


def _outcomes(output: str) -> dict[str, str]:
    """test name -> PASSED / FAILED / ERROR (the -rA summary lines)."""
    found = {}
    for line in output.splitlines():
        word, _, rest = line.partition(" ")
        if word in ("PASSED", "FAILED", "ERROR") and "::" in rest:
            name = rest.split("::")[1].split(" ")[0]
            found[name] = "ERROR" if word == "ERROR" or found.get(name) == "ERROR" else word
    return found


def test_fast_tier_deselects_slow_work_and_enforces_the_budget(tmp_path):
    out = _pytest(tmp_path, "--fast", "--fast-cpu-budget", "0.3")
    assert _outcomes(out) == {"test_quick": "PASSED", "test_starts_lmms_eval": "ERROR", "test_spins": "ERROR"}, out
    assert "test_starts_lmms_eval is not marked slow but started the lmms-eval CLI: lmms-eval eval" in out
    assert "test_spins is not marked slow but used" in out and "the fast tier allows 0.3 per test" in out
    assert "2 deselected" in out and "fast tier: 3 tests" in out


def test_full_run_keeps_the_lmms_eval_check_only(tmp_path):
    out = _pytest(tmp_path)
    assert _outcomes(out) == {
        "test_quick": "PASSED",
        "test_starts_lmms_eval": "ERROR",
        "test_spins": "PASSED",
        "test_marked": "PASSED",
        "test_through_a_slow_fixture": "PASSED",
    }, out
    slow = _pytest(tmp_path, "-m", "slow", "--collect-only")
    assert "test_marked" in slow and "test_through_a_slow_fixture" in slow and "test_quick" not in slow


def test_heavy_command():
    assert heavy_command(["/venv/bin/lmms-eval", "eval"]) == "the lmms-eval CLI"
    assert heavy_command("python3 -m lmms_eval --tasks cogip") == "the lmms-eval CLI"
    assert heavy_command([sys.executable, "-m", "lmms_eval.cli", "x"]) == "the lmms-eval CLI"
    assert heavy_command([sys.executable, "-m", "cogip_tasks.cli", "--help"]) is None
    assert heavy_command(["cogip-train", "--bad-option"]) is None  # judged by the CPU budget, not by name
    assert heavy_command([]) is None
