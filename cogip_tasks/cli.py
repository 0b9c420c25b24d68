"""``cogip-eval``: lmms-eval with the CogIP plugin registered; every argument goes to lmms-eval unchanged.

    cogip-eval --model qwen2_5_vl --model_args pretrained=Qwen/Qwen2.5-VL-7B-Instruct --tasks cogip
"""

from __future__ import annotations

import os
import sys

from .lmms_compat import PLUGINS_ENV

PLUGIN = "cogip_tasks"


def with_plugin(env_value: str | None) -> str:
    """``$LMMS_EVAL_PLUGINS`` with cogip_tasks added (kept once, other plugins kept)."""
    plugins = [p for p in (env_value or "").split(",") if p]
    return ",".join(plugins if PLUGIN in plugins else [*plugins, PLUGIN])


def main(argv: list[str] | None = None) -> None:
    os.environ[PLUGINS_ENV] = with_plugin(os.environ.get(PLUGINS_ENV))
    # Imported only now: lmms-eval reads the plugin list when its model registry is first imported.
    from lmms_eval.cli.dispatch import main as lmms_eval_main

    sys.argv = ["lmms-eval", *(sys.argv[1:] if argv is None else argv)]
    lmms_eval_main()


if __name__ == "__main__":
    main()
