"""Models named the way lmms-eval names them: ``--model qwen2_5_vl --model_args pretrained=...,device=...``.

Both the aligned text encoder and the judge are instantiated through lmms-eval's own model wrappers
(:func:`cogip_tasks.harness.load_lmms_model`), so loading, dtype, attention implementation and image-resolution
options are the harness's, exactly as in ``cogip-eval``.
"""

from __future__ import annotations

from cogip_tasks.harness import load_lmms_model
from cogip_tasks.model_args import ModelArgsError, format_model_args, parse_model_args, published_args

# Re-exported: cogip_gen's modules and users import them from here.
__all__ = ["ModelArgsError", "format_model_args", "load_lmms_model", "parse_model_args", "public_model_args"]
# Manifests and reports record model args by the one allow-list of what is published about a model; whether
# earlier work is reused is the run identity's (cogip_tasks.identity), never decided from these values.
public_model_args = published_args
