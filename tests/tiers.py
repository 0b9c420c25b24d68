"""The two test tiers, and the check that keeps the fast one fast.

- ``pytest --fast`` (``bash scripts/test.sh --fast``): every test not marked ``slow``, for the edit-test loop
  (under 2 minutes on 2 CPU cores). ``pytest`` runs everything (CI).
- ``@pytest.mark.slow`` marks a test that trains a model or runs the real lmms-eval CLI. A fixture whose setup
  does either is declared with :func:`slow_fixture`; every test that uses it, directly or through other
  fixtures, is marked ``slow`` at collection, so nobody has to remember.

The classification is checked, not trusted. A test without the mark fails, naming what it did, when it

- starts the lmms-eval CLI as a subprocess, or calls ``transformers.Trainer.train`` (TRL's trainers too) or
  lmms-eval's ``simple_evaluate`` in-process (in every run, CI included);
- uses more than :data:`FAST_TEST_CPU_SECONDS` of CPU time, its own and its subprocesses', setup included
  (with ``--fast``: the budget that keeps the tier under 2 minutes; CPU time, not wall time, so other load on the
  machine does not count).

``tests/conftest.py`` imports the hooks below, which is what makes pytest use them.
"""

from __future__ import annotations

import os
import resource
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from unittest import mock

import pytest

SLOW = "slow"
FAST_TEST_CPU_SECONDS = 10.0
_SLOW_FIXTURE = "_cogip_slow_fixture"
_FOUND = pytest.StashKey[list[str]]()
_CPU_AT_START = pytest.StashKey[float]()
_COSTS = pytest.StashKey[list[tuple[float, str]]]()

# Starting the lmms-eval CLI (its console script, or `python -m lmms_eval`) means a real evaluation run. Other
# commands (cogip-train with a bad option, accelerate --help) can be quick: the CPU budget judges them.
HEAVY_SCRIPTS = {"lmms-eval": "the lmms-eval CLI"}
HEAVY_MODULES = {"lmms_eval": "the lmms-eval CLI"}


def slow_fixture(function: Callable) -> Callable:
    """Declare a fixture whose setup trains a model or runs the lmms-eval CLI (apply under ``@pytest.fixture``):
    the tests using it are marked ``slow``."""
    setattr(function, _SLOW_FIXTURE, True)
    return function


def heavy_command(args: str | Sequence[str]) -> str | None:
    """What a subprocess command line starts, if it is heavy (see :data:`HEAVY_SCRIPTS`), else None."""
    argv = shlex.split(args) if isinstance(args, str) else [os.fspath(a) for a in args]
    if not argv:
        return None
    if Path(argv[0]).name in HEAVY_SCRIPTS:
        return HEAVY_SCRIPTS[Path(argv[0]).name]
    if Path(argv[0]).name.startswith("python") and "-m" in argv[:-1]:
        return HEAVY_MODULES.get(argv[argv.index("-m") + 1].split(".")[0])
    return None


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished subprocesses."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@contextmanager
def _watch(found: list[str]) -> Iterator[None]:
    """Record (and refuse) heavy work started while the context is open."""

    class WatchedPopen(subprocess.Popen):
        def __init__(self, args, *posargs, **kwargs):
            what = heavy_command(args)
            if what is not None:
                found.append(f"started {what}: {args if isinstance(args, str) else shlex.join(map(str, args))}")
                raise RuntimeError(f"a test not marked slow started {what}")
            super().__init__(args, *posargs, **kwargs)

    def refuse(what: str) -> Callable:
        def call(*args, **kwargs):
            found.append(f"called {what}")
            raise RuntimeError(f"a test not marked slow called {what}")

        return call

    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(subprocess, "Popen", WatchedPopen))
        # In-process runs: patched where they are defined, if the package is already imported (a test that
        # imports it later gets the real one, and the CPU budget).
        if "transformers" in sys.modules:
            import transformers

            stack.enter_context(
                mock.patch.object(transformers.Trainer, "train", refuse("transformers.Trainer.train (training)"))
            )
        if "lmms_eval.evaluator" in sys.modules:
            evaluator = sys.modules["lmms_eval.evaluator"]
            stack.enter_context(mock.patch.object(evaluator, "simple_evaluate", refuse("lmms-eval's simple_evaluate")))
        yield


def _fixture_is_slow(item: pytest.Item) -> str | None:
    infos = getattr(item, "_fixtureinfo", None)
    for name in item.fixturenames if infos else ():
        for definition in infos.name2fixturedefs.get(name, ()):
            if getattr(definition.func, _SLOW_FIXTURE, False):
                return name
    return None


# -- hooks (imported by tests/conftest.py) --------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fast",
        action="store_true",
        help="the fast tier: only tests not marked slow, each within a CPU-time budget (see tests/tiers.py)",
    )
    parser.addoption(
        "--fast-cpu-budget",
        type=float,
        default=FAST_TEST_CPU_SECONDS,
        metavar="SECONDS",
        help=f"CPU seconds a test may use in the fast tier (default {FAST_TEST_CPU_SECONDS:g})",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker(SLOW) is None and _fixture_is_slow(item):
            item.add_marker(SLOW)
    if config.getoption("--fast"):
        fast = [item for item in items if item.get_closest_marker(SLOW) is None]
        config.hook.pytest_deselected(items=[item for item in items if item.get_closest_marker(SLOW) is not None])
        items[:] = fast


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    if item.get_closest_marker(SLOW) is not None:
        yield
        return
    found: list[str] = []
    item.stash[_FOUND] = found
    item.stash[_CPU_AT_START] = _cpu_seconds()
    with _watch(found):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if call.when != "teardown" or _FOUND not in item.stash:
        return
    problems = list(item.stash[_FOUND])
    cpu = _cpu_seconds() - item.stash[_CPU_AT_START]
    item.config.stash.setdefault(_COSTS, []).append((cpu, item.nodeid))
    budget = item.config.getoption("--fast-cpu-budget")
    if item.config.getoption("--fast") and cpu > budget:
        problems.append(f"used {cpu:.1f} CPU seconds (the fast tier allows {budget:g} per test)")
    if problems:
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid} is not marked slow but {'; '.join(problems)}. Mark it @pytest.mark.slow, or declare "
            "the fixture that does the work with tests.tiers.slow_fixture (see tests/tiers.py)."
        )


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    costs = sorted(config.stash.get(_COSTS, []), reverse=True)
    if config.getoption("--fast") and costs:
        heaviest = ", ".join(f"{nodeid} {cpu:.1f}" for cpu, nodeid in costs[:5])
        terminalreporter.write_line(
            f"fast tier: {len(costs)} tests, {sum(c for c, _ in costs):.0f} CPU seconds; heaviest: {heaviest}"
        )
