"""The trainer: a ``transformers.Trainer`` whose loss is the digit soft-label loss, and the model set-up around it.

:class:`SoftLabelTrainer` overrides ``compute_loss`` only; everything else (distributed data parallel under
``accelerate launch``, gradient accumulation, checkpoints, ``resume_from_checkpoint``, the progress bar) is the
stock Trainer's. :func:`prepare_model` freezes / LoRA-adapts / fully trains the language model, the vision tower
and the merger; :func:`param_groups` gives each part its own learning rate, as the paper's recipe does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import torch
from transformers import Trainer

from .soft_label import causal_lm_loss, digit_tokens, soft_label_loss
from .wrappers import COMPONENTS, WrapperSpec

MODES = ("lora", "full", "freeze")


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; training stops instead of writing a broken model."""


@dataclass(frozen=True)
class LossConfig:
    kind: str = "soft"  # soft | ce
    eta: float = 0.15
    lam: float = 2.0
    dist: str = "triangular"
    sigma: float = 1.0


class SoftLabelTrainer(Trainer):
    """A Trainer that trains with :func:`cogip_train.soft_label_loss` (or plain CE with ``LossConfig(kind="ce")``)."""

    def __init__(self, *args: Any, loss_config: LossConfig = LossConfig(), **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.loss_config = loss_config
        if loss_config.kind == "soft":  # refuse multi-digit tokenizers now, not at the first step
            digit_tokens(self.processing_class)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        cfg = self.loss_config
        if cfg.kind == "soft":
            loss = soft_label_loss(
                outputs.logits, labels, self.processing_class, eta=cfg.eta, lam=cfg.lam, dist=cfg.dist,
                sigma=cfg.sigma, num_items_in_batch=num_items_in_batch,
            )
        else:
            loss = causal_lm_loss(outputs.logits, labels, num_items_in_batch=num_items_in_batch)
        if num_items_in_batch is not None and self.args.average_tokens_across_devices:
            # The count covers every process; DDP then averages gradients, so undo that average (as the stock loss).
            loss = loss * self.accelerator.num_processes
        if not torch.isfinite(loss.detach()):
            raise NonFiniteLossError(
                f"loss is {loss.item()} at step {self.state.global_step} (epoch {self.state.epoch or 0:.2f}); "
                f"training stopped. Checkpoints already in {self.args.output_dir} are intact. Lower the learning "
                "rate, or train in float32/bf16 rather than fp16."
            )
        return (loss, outputs) if return_outputs else loss


@dataclass(frozen=True)
class TuningConfig:
    """What to train: each part of the model is ``lora``, ``full`` or ``freeze``."""

    llm: str = "lora"
    vision: str = "freeze"
    merger: str = "freeze"
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_target_modules: tuple[str, ...] | None = None  # leaf names for the LLM; default: the spec's

    def mode(self, component: str) -> str:
        value = getattr(self, component)
        if value not in MODES:
            raise ValueError(f"--tune-{component} must be one of {', '.join(MODES)}, got {value!r}")
        return value

    @property
    def uses_lora(self) -> bool:
        return any(self.mode(c) == "lora" for c in COMPONENTS)


def lora_target_regex(spec: WrapperSpec, tuning: TuningConfig) -> str:
    """One regex (peft fullmatches it against module names) covering the LoRA parts' linear layers."""
    patterns = []
    for name in COMPONENTS:
        if tuning.mode(name) == "lora":
            part = spec.components[name]
            leaves = tuning.lora_target_modules if (name == "llm" and tuning.lora_target_modules) else part.leaves
            patterns.append(part.lora.format(leaves="|".join(re.escape(leaf) for leaf in leaves)))
    return "|".join(f"(?:{p})" for p in patterns)


def prepare_model(model: Any, spec: WrapperSpec, tuning: TuningConfig) -> Any:
    """Freeze everything, then LoRA-wrap / unfreeze the chosen parts. Returns a peft model when LoRA is used."""
    if not any(tuning.mode(c) != "freeze" for c in COMPONENTS):
        raise ValueError("nothing to train: --tune-llm, --tune-vision and --tune-merger are all 'freeze'")
    model.requires_grad_(False)
    full = [c for c in COMPONENTS if tuning.mode(c) == "full"]
    if not tuning.uses_lora:
        for name, param in model.named_parameters():
            param.requires_grad_(any(re.search(spec.components[c].params, name) for c in full))
        return model
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=tuning.lora_rank,
        lora_alpha=tuning.lora_alpha,
        lora_dropout=tuning.lora_dropout,
        target_modules=lora_target_regex(spec, tuning),
        # Fully trained parts next to LoRA ones: peft keeps a trainable copy and saves/merges it with the adapter.
        modules_to_save=[spec.components[c].module for c in full] or None,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def param_groups(model: Any, spec: WrapperSpec, lrs: dict[str, float], weight_decay: float = 0.0) -> list[dict]:
    """Optimizer groups of the trainable parameters, one per part with its learning rate (empty groups dropped)."""
    groups: dict[str, list] = {c: [] for c in COMPONENTS}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        owner = next((c for c in COMPONENTS if re.search(spec.components[c].params, name)), None)
        if owner is None:
            raise ValueError(f"trainable parameter {name!r} belongs to no part of {spec.name} (llm/vision/merger)")
        groups[owner].append(param)
    return [
        {"params": params, "lr": lrs[c], "weight_decay": weight_decay, "name": c} for c, params in groups.items() if params
    ]
