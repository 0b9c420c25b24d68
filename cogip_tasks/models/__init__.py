"""lmms-eval model plugins of CogIP.

Registered two ways: through the ``lmms_eval.models`` entry-point group (pyproject.toml names
:func:`cogip_expected_manifest`, so ``lmms-eval --model cogip_expected`` works after ``pip install``), and through
the deprecated ``LMMS_EVAL_PLUGINS=cogip_tasks``, where lmms-eval maps each name of ``AVAILABLE_MODELS`` to the
class ``cogip_tasks.models.<name>.<ClassName>``. Importing this module stays cheap (no torch): lmms-eval imports
it while it builds its model registry; the model module itself is imported only when the model is used.
"""

from cogip_tasks.lmms_compat import index_plugin_tasks

AVAILABLE_MODELS: dict[str, str] = {"cogip_expected": "CogIPExpected"}


def cogip_expected_manifest():
    """The ``lmms_eval.models`` entry point: Qwen2.5-VL with the expected-score readout (a "simple" model)."""
    import sys

    from lmms_eval.models.registry_v2 import ModelManifest

    class_path = f"{__name__}.cogip_expected.{AVAILABLE_MODELS['cogip_expected']}"
    # `lmms-eval models` lists lmms-eval's own name tables, not the registry that entry points fill: add the
    # model there too (lmms_eval.models is being initialised when it calls this entry point).
    lmms_models = sys.modules.get("lmms_eval.models")
    if lmms_models is not None and hasattr(lmms_models, "AVAILABLE_SIMPLE_MODELS"):
        lmms_models.AVAILABLE_SIMPLE_MODELS.setdefault("cogip_expected", class_path)
    return ModelManifest(model_id="cogip_expected", simple_class_path=class_path)


# lmms-eval imports this module when LMMS_EVAL_PLUGINS names cogip_tasks: make its TaskManager see our tasks.
index_plugin_tasks()
