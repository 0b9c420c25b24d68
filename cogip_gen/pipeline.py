"""Driving diffusers' ``QwenImagePipeline`` with a text encoder of our choice.

The pipeline is used as diffusers ships it. Prompts are encoded by the pipeline's own ``encode_prompt`` (its
prompt template, the dropped template tokens, the masks) with the chosen Qwen2.5-VL temporarily set as its
``text_encoder``; the images come from ``pipeline(prompt_embeds=...)``. Encoding first, then denoising, means
only one encoder needs the accelerator at a time, and the pipeline is placed (device or CPU offload) only after
all encoding is done, so accelerate's offload hooks never see a swapped module.
"""

from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from cogip_tasks.errors import CogIPError

OFFLOAD_CHOICES = ("none", "model", "sequential")


class PipelineError(CogIPError, ValueError):
    """A pipeline source or placement that cannot work; the message says which and why."""


@dataclass(frozen=True)
class GenSettings:
    """Everything that decides the pixels besides prompt, seed and encoder (recorded in the manifest)."""

    steps: int = 50
    true_cfg_scale: float = 4.0
    width: int = 1328  # Qwen-Image's native 1:1 size
    height: int = 1328
    negative_prompt: str | None = " "  # Qwen-Image's reference usage: true CFG against a blank prompt
    max_sequence_length: int = 512
    dtype: str = "bfloat16"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def torch_dtype(name: str):
    import torch

    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise PipelineError(f"--dtype {name!r}: not a torch dtype (use bfloat16, float16 or float32)")
    return dtype


def pipeline_text_dim(source: str) -> int:
    """``joint_attention_dim`` of the pipeline's transformer, from its config only (no weights loaded)."""
    from diffusers import QwenImageTransformer2DModel

    try:
        config = QwenImageTransformer2DModel.load_config(source, subfolder="transformer")
    except (OSError, ValueError) as err:
        raise PipelineError(f"pipeline {source}: cannot read transformer/config.json ({err})") from None
    return int(config["joint_attention_dim"])


def load_pipeline(source: str, dtype: str = "bfloat16"):
    """``QwenImagePipeline.from_pretrained`` (Hub id or folder) on CPU; :func:`place` puts it on the device."""
    from diffusers import QwenImagePipeline

    try:
        with warnings.catch_warnings():
            # diffusers >= 0.36 prefers `dtype=`; `torch_dtype=` works on every supported version.
            warnings.filterwarnings("ignore", message=".*torch_dtype.*", category=FutureWarning)
            pipe = QwenImagePipeline.from_pretrained(source, torch_dtype=torch_dtype(dtype))
    except (OSError, ValueError) as err:
        raise PipelineError(f"pipeline {source}: cannot load a QwenImagePipeline ({err})") from err
    pipe.set_progress_bar_config(disable=True)  # one bar over all images instead of one per image
    return pipe


def check_placement(device: str, offload: str) -> None:
    if offload not in OFFLOAD_CHOICES:
        raise PipelineError(f"--offload {offload!r}: expected one of {', '.join(OFFLOAD_CHOICES)}")
    if offload != "none" and device == "cpu":
        raise PipelineError("--offload needs an accelerator --device (e.g. cuda); on CPU use --offload none")


def place(pipe, device: str, offload: str = "none") -> None:
    """Put the denoiser and VAE where they run; the text encoder stays on CPU (its work is done by now)."""
    check_placement(device, offload)
    if offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        pipe.transformer.to(device)
        pipe.vae.to(device)


@contextmanager
def text_encoder_in(pipe, encoder, device: str):
    """Make ``encoder`` the pipeline's text encoder, on ``device``, for the duration of the block."""
    original = pipe.text_encoder
    encoder.to(device=device, dtype=pipe.transformer.dtype)
    pipe.text_encoder = encoder
    try:
        yield pipe
    finally:
        pipe.text_encoder = original
        encoder.to("cpu")


class _DropEmbedsMaskWarning(logging.Filter):
    """Unpadded single-prompt embeddings have no mask — exactly what ``pipeline(prompt=...)`` passes itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "_embeds_mask` is not provided" not in record.getMessage()


def _quiet_mask_warning() -> None:
    logger = logging.getLogger("diffusers.pipelines.qwenimage.pipeline_qwenimage")
    if not any(isinstance(f, _DropEmbedsMaskWarning) for f in logger.filters):
        logger.addFilter(_DropEmbedsMaskWarning())


def encode(pipe, text: str, device: str, settings: GenSettings) -> tuple[Any, Any]:
    """One prompt through the pipeline's own ``encode_prompt`` -> (embeddings, mask or None), kept on CPU."""
    import torch

    with torch.inference_mode():
        embeds, mask = pipe.encode_prompt(text, device=device, max_sequence_length=settings.max_sequence_length)
    return embeds.to("cpu"), (None if mask is None else mask.to("cpu"))


def uses_cfg(settings: GenSettings) -> bool:
    return settings.true_cfg_scale > 1 and settings.negative_prompt is not None


def render(pipe, prompt: tuple[Any, Any], negative: tuple[Any, Any] | None, seed: int, settings: GenSettings):
    """One image from precomputed embeddings; the seed drives a CPU generator (same noise on any device)."""
    import torch

    _quiet_mask_warning()
    device = pipe._execution_device
    dtype = pipe.transformer.dtype
    kwargs: dict[str, Any] = {
        "prompt_embeds": prompt[0].to(device, dtype),
        "prompt_embeds_mask": None if prompt[1] is None else prompt[1].to(device),
        "true_cfg_scale": settings.true_cfg_scale,
        "height": settings.height,
        "width": settings.width,
        "num_inference_steps": settings.steps,
        "max_sequence_length": settings.max_sequence_length,
        "generator": torch.Generator("cpu").manual_seed(int(seed)),
    }
    if negative is not None:
        kwargs["negative_prompt_embeds"] = negative[0].to(device, dtype)
        kwargs["negative_prompt_embeds_mask"] = None if negative[1] is None else negative[1].to(device)
    with torch.inference_mode():
        return pipe(**kwargs).images[0]
