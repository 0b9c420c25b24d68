"""What every cogip-train method (soft-label SFT, GRPO) checks and decides before anything loads.

One function, so that the two methods refuse the same inputs the same way: the model's wrapper and the parts
it can tune, a recipe's image bounds for a wrapper that takes none, ``--resume`` and the run identity it must
match, the output folder, and the precision the wrapper's Accelerator and the Trainer agree on.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import Any

from .checkpoints import check_output_dir, check_resume_identity, resolve_resume, run_identity
from .outputs import use_bf16
from .wrappers import WrapperSpec, check_tuning, with_pixel_bounds, wrapper_spec


@dataclass(frozen=True)
class RunStart:
    spec: WrapperSpec
    model_args: str  # --model_args with the image bounds the wrapper takes
    resume: str | None  # the checkpoint to resume from
    identity: dict[str, Any]  # every setting that changes what the run learns
    bf16: bool


def start_run(args: argparse.Namespace, sources: dict[str, str] | None = None) -> RunStart:
    """Check ``args`` (``sources``: where each value came from, as resolved) before any model or data loads."""
    spec = wrapper_spec(args.model)  # unsupported wrappers fail here
    check_tuning(spec, {"llm": args.tune_llm, "vision": args.tune_vision, "merger": args.tune_merger})
    sources = sources or {}
    if spec.pixel_args is None and "recipe" in (sources.get("min_pixels"), sources.get("max_pixels")):
        # The recipe's image bounds are Qwen's; a wrapper with its own fixed image size takes none.
        print(
            f"--recipe {args.recipe}: --model {args.model} takes no image pixel bounds; its processor's size is used",
            file=sys.stderr,
        )
        args.min_pixels = args.max_pixels = None
    model_args = with_pixel_bounds(spec, args.model_args, args.min_pixels, args.max_pixels)
    resume = resolve_resume(args.resume, args.output_dir)
    identity = run_identity(args, model_args)
    if resume is not None:
        check_resume_identity(resume, identity)
    check_output_dir(args.output_dir, resuming=resume is not None)
    bf16 = use_bf16(args.dtype)
    # The wrapper creates an Accelerator before the Trainer does; both must agree on mixed precision.
    os.environ["ACCELERATE_MIXED_PRECISION"] = "bf16" if bf16 else "no"
    return RunStart(spec, model_args, resume, identity, bf16)
