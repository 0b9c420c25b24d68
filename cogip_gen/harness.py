"""Models named the way lmms-eval names them: ``--model qwen2_5_vl --model_args pretrained=...,device=...``.

Both the aligned text encoder and the judge are instantiated through lmms-eval's own model wrappers, so loading,
dtype, attention implementation and image-resolution options are the harness's, exactly as in ``cogip-eval``.
"""

from __future__ import annotations

from typing import Any

from cogip_tasks.model_args import ModelArgsError, format_model_args, parse_model_args, scrub_args

# Re-exported: cogip_gen's modules and users import them from here.
__all__ = ["ModelArgsError", "format_model_args", "load_lmms_model", "parse_model_args", "public_model_args"]
public_model_args = scrub_args  # manifests and reports record model args scrubbed like every CogIP output


def load_lmms_model(model: str, model_args: dict[str, Any], batch_size: int = 1, force_simple: bool = False):
    """Instantiate lmms-eval's wrapper for ``model``: its chat variant when there is one, as ``lmms-eval --model``
    picks it, or the simple one with ``force_simple`` (lmms-eval's ``--force_simple``)."""
    from lmms_eval import models

    try:
        cls = models.get_model(model, force_simple=force_simple)
    except Exception as err:  # the registry raises several types for an unknown / unimportable name
        raise ModelArgsError(f"--model {model!r}: lmms-eval cannot provide this model ({err})") from err
    return cls(**{"batch_size": batch_size, **model_args})
