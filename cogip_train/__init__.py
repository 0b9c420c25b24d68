"""Soft-label post-training of MLLMs on CogIP-Bench, through lmms-eval's model wrappers.

``cogip_train.soft_label_loss`` is the paper's digit soft-label loss; ``python -m cogip_train`` (``cogip-train``)
trains a model the harness knows (``--model qwen2_5_vl --model_args pretrained=...``) with it.
"""

__all__ = ["DigitTokenizerError", "DigitTokens", "causal_lm_loss", "digit_places", "psi", "soft_label_loss"]


def __getattr__(name: str):
    # The loss imports torch: loaded on first use, so that `cogip-train --help` never imports it.
    if name in __all__:
        from . import soft_label

        return getattr(soft_label, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
