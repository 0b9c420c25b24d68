"""A tiny random-weight ``QwenImagePipeline`` built offline in seconds, for tests and dry runs.

Same classes as Qwen/Qwen-Image (QwenImageTransformer2DModel, AutoencoderKLQwenImage,
FlowMatchEulerDiscreteScheduler, Qwen2.5-VL text encoder, Qwen2 tokenizer), scaled down: a one-block
transformer whose ``joint_attention_dim`` is the tiny encoder's hidden size, a 4-channel VAE with a
downsampling factor of 4. Its images are noise; what it proves is the plumbing.
"""

from __future__ import annotations

import tempfile
from pathlib import Path


def build_tiny_qwen_image(out_dir: str | Path, *, seed: int = 0, text_hidden: int = 64) -> Path:
    """Save a tiny pipeline (``save_pretrained``) to ``out_dir``; its text encoder is a tiny Qwen2.5-VL."""
    import torch
    from diffusers import (
        AutoencoderKLQwenImage,
        FlowMatchEulerDiscreteScheduler,
        QwenImagePipeline,
        QwenImageTransformer2DModel,
    )
    from transformers import Qwen2_5_VLForConditionalGeneration, Qwen2Tokenizer

    from cogip_tasks.tiny_model import build_tiny_qwen2_5_vl

    out = Path(out_dir)
    with tempfile.TemporaryDirectory() as tmp:
        encoder_dir = build_tiny_qwen2_5_vl(Path(tmp) / "text_encoder", seed=seed, text_hidden=text_hidden)
        text_encoder = Qwen2_5_VLForConditionalGeneration.from_pretrained(encoder_dir)
        tokenizer = Qwen2Tokenizer.from_pretrained(encoder_dir)
    torch.manual_seed(seed)
    transformer = QwenImageTransformer2DModel(
        patch_size=2, in_channels=16, out_channels=4, num_layers=1, attention_head_dim=16, num_attention_heads=2,
        joint_attention_dim=text_hidden, axes_dims_rope=(4, 6, 6),
    )
    vae = AutoencoderKLQwenImage(
        base_dim=24, z_dim=4, dim_mult=[1, 2, 4], num_res_blocks=1, temperal_downsample=[False, True],
        latents_mean=[0.0] * 4, latents_std=[1.0] * 4,
    )
    pipe = QwenImagePipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=True),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer,
    )
    pipe.save_pretrained(out)
    return out
