"""Cognition-guided image generation with an aligned MLLM as Qwen-Image's text encoder, judged automatically.

``cogip-gen generate`` makes base vs aligned images (same seeds and settings, only the text encoder differs);
``cogip-gen judge`` scores them with any lmms-eval model on the CogIP dimensions and tests the paired difference.
"""

from .generate import run_generation
from .judge import run_judge, summarize
from .pipeline import GenSettings
from .prompts import Prompt, collect_prompts, load_prompts

__all__ = ["GenSettings", "Prompt", "collect_prompts", "load_prompts", "run_generation", "run_judge", "summarize"]
