"""Soft-label post-training of MLLMs on CogIP-Bench, through lmms-eval's model wrappers.

``cogip_train.soft_label_loss`` is the paper's digit soft-label loss; ``python -m cogip_train`` (``cogip-train``)
trains a model the harness knows (``--model qwen2_5_vl --model_args pretrained=...``) with it.
"""

from .soft_label import DigitTokenizerError, DigitTokens, causal_lm_loss, digit_places, psi, soft_label_loss

__all__ = ["DigitTokenizerError", "DigitTokens", "causal_lm_loss", "digit_places", "psi", "soft_label_loss"]
