"""lmms-eval model plugins of CogIP (read by lmms-eval when LMMS_EVAL_PLUGINS=cogip_tasks).

lmms-eval maps each name to the class ``cogip_tasks.models.<name>.<ClassName>``; the same models are also
registered through the ``lmms_eval.models`` entry-point group in pyproject.toml.
"""

from cogip_tasks.lmms_compat import index_plugin_tasks

AVAILABLE_MODELS: dict[str, str] = {}

# lmms-eval imports this module when LMMS_EVAL_PLUGINS names cogip_tasks: make its TaskManager see our tasks.
index_plugin_tasks()
