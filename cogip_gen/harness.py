"""Models named the way lmms-eval names them: ``--model qwen2_5_vl --model_args pretrained=...,device=...``.

Both the aligned text encoder and the judge are instantiated through lmms-eval's own model wrappers, so loading,
dtype, attention implementation and image-resolution options are the harness's, exactly as in ``cogip-eval``.
"""

from __future__ import annotations

import re
from typing import Any

# model_args keys whose values must never be written to a manifest or a report (API keys, Hub tokens).
_SECRET_KEY = re.compile(r"token|key|secret|password", re.IGNORECASE)


class ModelArgsError(ValueError):
    """A ``--model``/``--model_args`` pair that lmms-eval cannot use; the message names the bad part."""


def parse_model_args(model_args: str | dict[str, Any] | None) -> dict[str, Any]:
    """``"a=1,b=x"`` -> ``{"a": 1, "b": "x"}`` with lmms-eval's own parser (quotes and JSON values as it allows)."""
    if model_args is None:
        return {}
    if isinstance(model_args, dict):
        return dict(model_args)
    from lmms_eval.utils import simple_parse_args_string

    try:
        return simple_parse_args_string(model_args)
    except ValueError:
        bad = [part for part in model_args.split(",") if "=" not in part]
        raise ModelArgsError(f"--model_args {model_args!r}: expected key=value pairs separated by commas; "
                             f"not key=value: {bad}") from None


def format_model_args(args: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in args.items())


def public_model_args(args: dict[str, Any]) -> dict[str, Any]:
    """The args with secret-looking values masked, for manifests, reports and logs."""
    return {k: ("***" if _SECRET_KEY.search(k) else v) for k, v in args.items()}


def load_lmms_model(model: str, model_args: dict[str, Any], batch_size: int = 1, force_simple: bool = False):
    """Instantiate lmms-eval's wrapper for ``model``: its chat variant when there is one, as ``lmms-eval --model``
    picks it, or the simple one with ``force_simple`` (lmms-eval's ``--force_simple``)."""
    from lmms_eval import models

    try:
        cls = models.get_model(model, force_simple=force_simple)
    except Exception as err:  # the registry raises several types for an unknown / unimportable name
        raise ModelArgsError(f"--model {model!r}: lmms-eval cannot provide this model ({err})") from err
    return cls(**{"batch_size": batch_size, **model_args})
