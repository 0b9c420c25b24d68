"""Compatibility with lmms-eval's plugin loading.

lmms-eval 0.7.3 builds its ``TaskManager`` *before* it adds the task folders of ``LMMS_EVAL_PLUGINS`` to the
include path, so ``LMMS_EVAL_PLUGINS=cogip_tasks lmms-eval --tasks cogip`` reports "Tasks not found". It does
import ``<plugin>.models`` early (model registry set-up), and that module calls :func:`index_plugin_tasks`,
which makes every ``TaskManager`` also index the plugins' task folders. The patch only adds folders that are
missing, so it is a no-op on an lmms-eval that already does this.
"""

from __future__ import annotations

import functools
import importlib.util
import os

PLUGINS_ENV = "LMMS_EVAL_PLUGINS"


def plugin_task_paths() -> list[str]:
    """Task folders of the packages named in ``$LMMS_EVAL_PLUGINS`` (``<plugin>.tasks``)."""
    paths = []
    for plugin in filter(None, os.environ.get(PLUGINS_ENV, "").split(",")):
        spec = importlib.util.find_spec(f"{plugin.strip()}.tasks")
        if spec is not None and spec.submodule_search_locations:
            paths.append(spec.submodule_search_locations[0])
    return paths


def index_plugin_tasks() -> None:
    if not os.environ.get(PLUGINS_ENV):  # loaded through the entry point only: nothing to add, stay cheap
        return
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
