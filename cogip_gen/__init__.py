"""Cognition-guided image generation with an aligned MLLM as Qwen-Image's text encoder."""
