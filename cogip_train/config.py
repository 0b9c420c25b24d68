"""Every cogip-train setting and its default, in one place, and the named recipes (``--recipe paper``).

:class:`TrainConfig` is the single home of the defaults: the CLI takes its defaults and help from it, the trainer
builds its ``transformers.TrainingArguments``, LoRA and loss from it, and ``train_log.json`` records it. A recipe
is a dict of field values applied on top of the defaults; flags given on the command line override the recipe:

    defaults (TrainConfig())  <  --recipe NAME  <  explicit flags

``RECIPES["paper"]`` is the release's SFT script (``finetune_lora.sh``, see ../shared/README.md); other modules
add theirs with :func:`register_recipe` (the GRPO method adds ``paper-grpo``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: 28 x 28 pixels: one Qwen2.5-VL merged patch; the release states image bounds in these units.
PATCH_PIXELS = 28 * 28


@dataclass
class TrainConfig:
    """One run's settings (field names are the CLI's ``--flag-names`` with ``-`` as ``_``)."""

    # model
    model: str = "qwen2_5_vl"
    min_pixels: int | None = None
    max_pixels: int | None = None
    # loss
    loss: str = "soft"  # soft | ce
    eta: float = 0.15
    lam: float = 2.0
    dist: str = "triangular"
    sigma: float = 1.0
    # what to train
    tune_llm: str = "lora"
    tune_vision: str = "freeze"
    tune_merger: str = "freeze"
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_target_modules: str | None = None  # comma list; None: the wrapper spec's linear layers
    # optimisation
    learning_rate: float = 1e-4
    vision_lr: float | None = None  # None: learning_rate
    merger_lr: float | None = None
    weight_decay: float = 0.0
    epochs: float = 1.0
    max_steps: int = -1
    batch_size: int = 4  # per process
    grad_accum: int = 1
    global_batch_size: int | None = None  # when set: grad_accum = global / (batch_size * processes)
    warmup: float = 0.03
    lr_scheduler: str = "cosine"
    dtype: str = "auto"
    gradient_checkpointing: bool = True
    seed: int = 0
    # output
    save_steps: int = 200
    save_total_limit: int = 3
    logging_steps: int = 10

    def learning_rates(self) -> dict[str, float]:
        """One learning rate per part (the vision tower and merger fall back to the LLM's)."""
        return {
            "llm": self.learning_rate,
            "vision": self.vision_lr or self.learning_rate,
            "merger": self.merger_lr or self.learning_rate,
        }

    def target_modules(self) -> tuple[str, ...] | None:
        if not self.lora_target_modules:
            return None
        return tuple(t.strip() for t in self.lora_target_modules.split(",") if t.strip())

    def accumulation(self, processes: int) -> int:
        """Gradient accumulation steps: ``grad_accum``, or what makes ``global_batch_size`` with ``processes``."""
        if self.global_batch_size is None:
            return self.grad_accum
        per_step = self.batch_size * processes
        if self.global_batch_size % per_step:
            raise ValueError(
                f"--global-batch-size {self.global_batch_size} is not a multiple of --batch-size {self.batch_size} x "
                f"{processes} process(es) = {per_step}; choose a batch size that divides it"
            )
        return self.global_batch_size // per_step

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


DEFAULTS = TrainConfig()
FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}

#: The release's SFT recipe (finetune_lora.sh): LoRA 64/64/0.05 on the LLM, vision tower and merger trained in
#: full at their own rates, weight decay 0.1, one epoch, global batch 128, cosine with 3% warm-up, images of
#: 256..1280 merged patches.
PAPER = {
    "tune_llm": "lora",
    "lora_rank": 64,
    "lora_alpha": 64,
    "lora_dropout": 0.05,
    "tune_vision": "full",
    "tune_merger": "full",
    "learning_rate": 3e-5,
    "vision_lr": 2e-6,
    "merger_lr": 1e-5,
    "weight_decay": 0.1,
    "epochs": 1.0,
    "global_batch_size": 128,
    "lr_scheduler": "cosine",
    "warmup": 0.03,
    "min_pixels": 256 * PATCH_PIXELS,
    "max_pixels": 1280 * PATCH_PIXELS,
}

RECIPES: dict[str, dict[str, Any]] = {"paper": PAPER}


def register_recipe(name: str, values: Mapping[str, Any]) -> None:
    """Add a named recipe (e.g. GRPO's ``paper-grpo``). Keys are argparse destinations: the CLI sets them as
    defaults (``parser.set_defaults(**recipe)``) and parses again, so every flag given still wins; keys that are
    not :class:`TrainConfig` fields are the method's own arguments."""
    RECIPES[name] = dict(values)


def config_from(values: Mapping[str, Any]) -> TrainConfig:
    """The :class:`TrainConfig` of a dict of argument values (keys that are not settings are ignored)."""
    return TrainConfig(**{k: v for k, v in values.items() if k in FIELDS})


def default_of(name: str) -> Any:
    return getattr(DEFAULTS, name)


def recipe_summary(name: str) -> str:
    """``key=value`` list of a recipe, for ``--help``."""
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in RECIPES[name].items())


__all__ = [
    "DEFAULTS",
    "FIELDS",
    "PAPER",
    "RECIPES",
    "TrainConfig",
    "config_from",
    "default_of",
    "recipe_summary",
    "register_recipe",
]
