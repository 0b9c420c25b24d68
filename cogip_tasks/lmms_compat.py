"""Compatibility with lmms-eval's plugin loading: the CogIP tasks are found by a bare ``lmms-eval --tasks``.

lmms-eval 0.7.3 has an entry-point group for models (``lmms_eval.models``) but none for tasks, and it builds its
``TaskManager`` *before* it adds the task folders of ``LMMS_EVAL_PLUGINS`` to the include path. It does load
the model entry points (which import ``cogip_tasks.models``) whenever its model registry is first imported,
and that module calls :func:`index_plugin_tasks`: from then on every ``TaskManager`` also indexes CogIP's task
folder (and those of any plugin in ``$LMMS_EVAL_PLUGINS``). So after ``pip install cogip``,
``lmms-eval --tasks cogip_aesthetics`` works with no variable and no ``--include_path``. The patch only adds
folders that are missing, so it is a no-op on an lmms-eval that already does this.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import os
import sys
from pathlib import Path

PLUGINS_ENV = "LMMS_EVAL_PLUGINS"


def plugin_task_paths() -> list[str]:
    """CogIP's task folder, then those of the packages named in ``$LMMS_EVAL_PLUGINS`` (``<plugin>.tasks``)."""
    paths = []
    for plugin in dict.fromkeys(["cogip_tasks", *filter(None, os.environ.get(PLUGINS_ENV, "").split(","))]):
        spec = importlib.util.find_spec(f"{plugin.strip()}.tasks")
        if spec is not None and spec.submodule_search_locations:
            paths.append(spec.submodule_search_locations[0])
    return paths


def index_plugin_tasks() -> None:
    """Make every lmms-eval ``TaskManager`` index the CogIP task folder (idempotent)."""
    from lmms_eval.tasks import TaskManager

    if getattr(TaskManager.__init__, "_cogip_plugin_paths", False):
        return
    original_init = TaskManager.__init__

    @functools.wraps(original_init)
    def init_with_plugin_paths(self, verbosity="INFO", include_path=None, *args, **kwargs):
        paths = [include_path] if isinstance(include_path, str) else list(include_path or [])
        paths += [p for p in plugin_task_paths() if p not in paths]
        original_init(self, verbosity, paths or None, *args, **kwargs)

    init_with_plugin_paths._cogip_plugin_paths = True
    TaskManager.__init__ = init_with_plugin_paths


_FAILURES: list[str] = []


def fail_at_exit(message: str) -> None:
    """Make this process exit with status 1 once lmms-eval is done, and say why on stderr.

    lmms-eval 0.7.3 logs an error raised while a task loads (a bad dataset row, say) and still exits 0, so a
    script or CI running plain ``lmms-eval`` would take a failed CogIP evaluation for a passed one. The exit
    handler runs after lmms-eval has finished everything else (other tasks still run).
    """
    if not _running_the_harness_cli():  # a library user (or a test) calling the hooks gets the exception only
        return
    if not _FAILURES:
        atexit.register(_exit_with_failures)
    _FAILURES.append(message)


def _running_the_harness_cli() -> bool:
    """True in an ``lmms-eval`` / ``cogip-eval`` process (console script, ``python -m`` or torchrun)."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    names = {Path(sys.argv[0]).name if sys.argv else "", spec.name if spec is not None else ""}
    return bool(names & {"lmms-eval", "cogip-eval", "lmms_eval.__main__", "cogip_tasks.cli"})


def _exit_with_failures() -> None:
    for message in _FAILURES:
        print(f"CogIP: evaluation failed: {message}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1)  # the interpreter was about to exit 0; atexit cannot change the status any other way
