"""``cogip-eval``: lmms-eval with the CogIP plugin registered; every argument goes to lmms-eval unchanged.

    cogip-eval --model qwen2_5_vl --model_args pretrained=Qwen/Qwen2.5-VL-7B-Instruct --tasks cogip

Two differences: lmms-eval logs an evaluation that failed (a bad dataset row, a model that did not load) and
still exits 0; ``cogip-eval`` exits 1 then, so scripts and CI notice. And lmms-eval 0.7.3 logs its tracker
arguments with ``$HF_TOKEN`` in them; ``cogip-eval`` masks the token in every log line.
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
    import lmms_eval.__main__ as lmms_eval_entry
    from lmms_eval.cli.dispatch import main as lmms_eval_main

    _mask_hf_token()
    failures = _record_failures(lmms_eval_entry)
    sys.argv = ["lmms-eval", *(sys.argv[1:] if argv is None else argv)]
    lmms_eval_main()
    if failures:
        sys.exit(1)


def _mask_hf_token() -> None:
    """Replace $HF_TOKEN in every loguru message (a patcher outlives lmms-eval's ``logger.remove()``)."""
    token = os.environ.get("HF_TOKEN")
    if not token:
        return
    from loguru import logger

    logger.configure(patcher=lambda record: record.update(message=record["message"].replace(token, "***")))


def _record_failures(module) -> list[BaseException]:
    """Wrap lmms-eval's per-run function so that an error it swallows is remembered."""
    failures: list[BaseException] = []
    run_one = module.cli_evaluate_single

    def recording(*args, **kwargs):
        try:
            return run_one(*args, **kwargs)
        except Exception as err:
            failures.append(err)
            raise

    module.cli_evaluate_single = recording
    return failures


if __name__ == "__main__":
    main()
