"""Every cogip-train setting and its default, in one place, and the named recipes (``--recipe paper``).

The dataclasses here are the single home of the defaults, the choices and the help of ``cogip-train``'s options:
``cogip_train.arguments`` builds the command line from them with TRL's ``TrlParser`` (an ``HfArgumentParser``,
so ``--config recipe.yaml`` works as in TRL's scripts); the trainer builds its ``transformers.TrainingArguments``,
LoRA and loss from :class:`TrainConfig`, and ``train_log.json`` records it.

- :class:`RunArguments` -- what to train and where (model, data, output folder, ``--recipe``, ``--config``);
- :class:`TrainConfig` -- how (loss, parts to tune, optimisation, checkpoints);
- :class:`GRPOSettings` -- the options of ``--method grpo``.

A recipe is a YAML file shipped in ``cogip_train/recipes/<name>/``, one per model family (``<model>.yaml``,
falling back to ``default.yaml``); its keys are these fields, or ``TrainingArguments`` fields passed through
(e.g. ``adam_beta2``). Each value comes from the first of:

    explicit flags  >  --config FILE  >  --recipe NAME (for --model's family)  >  the defaults here

and ``cogip-train ... --print-config`` prints every resolved value with its source.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from .rewards import DEFAULT_REWARD_WEIGHTS, MISS_PENALTY

#: 28 x 28 pixels: one Qwen2.5-VL merged patch; the release states image bounds in these units.
PATCH_PIXELS = 28 * 28

Method = Literal["sft", "grpo"]
Mode = Literal["lora", "full", "freeze"]
Loss = Literal["soft", "ce"]
Distribution = Literal["triangular", "uniform", "gaussian"]
Dtype = Literal["auto", "bf16", "fp32"]
SoftLabels = Literal["value", "release"]
Reward = Literal["cogip", "release"]
#: The Trainer's schedulers that need nothing beyond the step count (others want an eval loop or extra kwargs).
Scheduler = Literal[
    "linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup", "inverse_sqrt"
]
MODES: tuple[str, ...] = get_args(Mode)
DISTRIBUTIONS: tuple[str, ...] = get_args(Distribution)
LR_SCHEDULERS: tuple[str, ...] = get_args(Scheduler)
SOFT_LABEL_VARIANTS: tuple[str, ...] = get_args(SoftLabels)


def setting(default: Any = dataclasses.MISSING, help: str = "", **options: Any) -> Any:
    """A dataclass field with its ``--help`` text and parser options in the metadata (``HfArgumentParser``'s
    convention): ``group`` (help section), ``flag`` (the option's name when it is not the field's, e.g.
    ``--lambda``), ``aliases`` (further names), ``hidden`` (names accepted but not shown), and any
    ``add_argument`` keyword."""
    return field(default=default, metadata={"help": help, **options})


#: The Trainer's integrations a run reports to unless ``--report-to`` names some (tensorboard, wandb, ...).
DEFAULT_REPORT_TO = "none"


@dataclass
class RunArguments:
    """What to train and where (field names are the ``--flag-names`` with ``-`` as ``_``)."""

    method: Method = setting("sft", "sft: soft-label SFT; grpo: TRL's GRPO with cogip_train.rewards", group="run")
    recipe: str | None = setting(
        None, "a published recipe's values for --model's family (see below); --config and flags override them",
        group="run",
    )  # fmt: skip
    print_config: bool = setting(
        False, "print every resolved setting as JSON, with its source, and exit (nothing is loaded)", group="run"
    )
    model_args: str | None = setting(
        None,
        "the wrapper's arguments, e.g. pretrained=Qwen/Qwen2.5-VL-3B-Instruct,device_map=cuda (required)",
        group="model",
    )
    dataset: str | None = setting(
        None,
        "Hub id, local dataset folder or save_to_disk dir (unset: $COGIP_DATASET, else foolen/CogIP-Bench)",
        group="data",
    )
    split: str = setting(
        "train", "the split to train on (a test split is refused without --allow-test-split)", group="data"
    )
    allow_test_split: bool = setting(
        False, "train on a split named like the benchmark's test split (its scores then measure nothing)", group="data"
    )
    dimensions: str = setting("all", "'all' or a comma list of dimension names", group="data")
    max_samples: int | None = setting(None, "at most this many rows per dimension (unset: all)", group="data")
    output_dir: Path | None = setting(
        None, "the run folder: checkpoints, adapter/, merged/, train_log.json (required)", group="output",
        aliases=["-o"],
    )  # fmt: skip
    resume: str | None = setting(
        None,
        "resume from the newest checkpoint in --output-dir (or from the checkpoint folder given, or the newest in "
        "the run folder given); checked before the model loads. Without it, an --output-dir holding an earlier "
        "run is refused",
        group="output",
        nargs="?",
        const=True,
    )
    merge: bool = setting(False, "also write merged/: the full model with the adapter merged", group="output")


@dataclass
class TrainConfig:
    """One run's training settings (field names are the CLI's ``--flag-names`` with ``-`` as ``_``)."""

    # model
    model: str = setting(
        "qwen2_5_vl", "lmms-eval model wrapper name (also gemma3, llama_vision, qwen3_vl)", group="model"
    )
    min_pixels: int | None = setting(None, "smallest image size in pixels (added to --model-args)", group="model")
    max_pixels: int | None = setting(None, "largest image size in pixels (added to --model-args)", group="model")
    # loss
    loss: Loss = setting("soft", "digit soft labels, or plain cross-entropy", group="loss")
    eta: float = setting(0.15, "soft-label smoothing mass, in [0, 1]", group="loss")
    lam: float = setting(2.0, "weight of digit tokens", group="loss", flag="--lambda")
    dist: Distribution = setting("triangular", "shape of the digit smoothing", group="loss")
    sigma: float = setting(1.0, "width of --dist gaussian, in digits", group="loss")
    soft_labels: SoftLabels = setting(
        "value",
        "value: every number token soft-labelled by its value, the loss divided by the optimizer step's tokens; "
        "release: the release's loss (single-digit tokens only, a mean per micro-batch)",
        group="loss",
    )
    # what to train
    tune_llm: Mode = setting("lora", "the language model", group="tune")
    tune_vision: Mode = setting("freeze", "the vision tower", group="tune")
    tune_merger: Mode = setting("freeze", "the merger/projector", group="tune")
    lora_rank: int = setting(16, "LoRA rank", group="tune")
    lora_alpha: int = setting(32, "LoRA alpha", group="tune")
    lora_dropout: float = setting(0.05, "LoRA dropout, in [0, 1)", group="tune")
    lora_target_modules: str | None = setting(
        None, "comma list of the LLM's linear layer names (unset: q,k,v,o,gate,up,down projections)", group="tune"
    )
    # optimisation
    learning_rate: float = setting(1e-4, "learning rate of the LLM part, in (0, 1]", group="optim")
    vision_lr: float | None = setting(None, "learning rate of the vision tower (unset: --learning-rate)", group="optim")
    merger_lr: float | None = setting(
        None, "learning rate of the merger/projector (unset: --learning-rate)", group="optim"
    )
    weight_decay: float = setting(0.0, "AdamW's, in [0, 1] (not on biases and norms, as the Trainer's)", group="optim")
    epochs: float = setting(1.0, "passes over the data", group="optim", hidden=["--num-train-epochs"])
    max_steps: int = setting(
        -1, "stop after this many optimizer steps (overrides --epochs; -1: use --epochs)", group="optim"
    )
    batch_size: int = setting(4, "rows per process and step", group="optim", hidden=["--per-device-train-batch-size"])
    grad_accum: int = setting(1, "gradient accumulation steps", group="optim", hidden=["--gradient-accumulation-steps"])
    global_batch_size: int | None = setting(
        None,
        "rows per optimizer step over all processes: sets --grad-accum to it / (--batch-size x processes), which "
        "must divide it",
        group="optim",
    )
    warmup: float = setting(
        0.03, "linear warm-up: a share of the steps when below 1, else a whole number of steps", group="optim"
    )
    lr_scheduler: Scheduler = setting("cosine", "learning rate schedule", group="optim", hidden=["--lr-scheduler-type"])
    dtype: Dtype = setting(
        "auto", "auto: bf16 mixed precision on a GPU that has it, float32 otherwise (CPU)", group="optim"
    )
    gradient_checkpointing: bool = setting(True, "recompute activations in the backward pass", group="optim")
    seed: int = setting(
        0, "seeds everything: LoRA initialisation, dropout, data order (same seed: the same losses)", group="optim"
    )
    # output
    save_steps: int = setting(200, "save a checkpoint every this many steps", group="output")
    save_total_limit: int = setting(3, "keep at most this many checkpoints", group="output")
    logging_steps: int = setting(10, "log the loss every this many steps", group="output")

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


@dataclass
class GRPOSettings:
    """The options of ``--method grpo`` (the shared options keep their meaning, except ``--batch-size``:
    completions per device, a multiple of ``--num-generations`` with ``--grad-accum``)."""

    num_generations: int = setting(2, "answers sampled per prompt, compared within their group", group="grpo")
    max_completion_length: int = setting(256, "largest answer in tokens", group="grpo")
    temperature: float = setting(1.0, "sampling temperature", group="grpo")
    top_p: float = setting(1.0, "nucleus sampling mass", group="grpo")
    reward: Reward = setting(
        "cogip",
        "the closeness reward: cogip: 1 - |pred - human| / the dimension's range, read by the benchmark's parser "
        "(the release's stated reward); release: the release's code as it runs (range 10 for every dimension, "
        "the last number of the answer, no range check)",
        group="grpo",
    )
    beta: float = setting(0.04, "weight of the KL to the starting model (0: no reference model, no KL)", group="grpo")
    reward_weights: str = setting(
        DEFAULT_REWARD_WEIGHTS,
        "weights of the rewards closeness, format, label (unnamed: 0), e.g. closeness=1,format=0.5,label=0.5 "
        "(the default is the release's)",
        group="grpo",
    )
    miss_penalty: float = setting(MISS_PENALTY, "closeness reward of an answer without a readable score", group="grpo")


#: Options that only ``--method sft`` uses (GRPO is trained by rewards, with --grad-accum as given).
SFT_ONLY = ("loss", "eta", "lam", "dist", "sigma", "soft_labels", "global_batch_size")
#: Options that only ``--method grpo`` uses.
GRPO_ONLY = tuple(f.name for f in dataclasses.fields(GRPOSettings))

#: The dataclasses of the command line, in --help order.
ARGUMENT_CLASSES = (RunArguments, TrainConfig, GRPOSettings)
DEFAULTS = TrainConfig()
FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}

#: Shipped recipes: ``recipes/<name>/<model>.yaml`` (a family's values) or ``recipes/<name>/default.yaml``.
RECIPE_DIR = Path(__file__).with_name("recipes")
RECIPE_FALLBACK = "default"


def recipe_names() -> list[str]:
    return sorted(p.name for p in RECIPE_DIR.iterdir() if p.is_dir() and any(p.glob("*.yaml")))


def recipe_families(name: str) -> list[str]:
    """The model families a recipe has its own file for (``default`` when one file serves every family)."""
    return sorted(p.stem for p in (RECIPE_DIR / name).glob("*.yaml"))


def recipe_path(name: str, model: str) -> Path:
    """The recipe file for ``--model``'s family: ``<model>.yaml``, else ``default.yaml``.

    Raises ValueError (one line) for an unknown recipe or a family the recipe has no values for.
    """
    if name not in recipe_names():
        raise ValueError(f"unknown recipe {name!r}; recipes: {', '.join(recipe_names())}")
    for stem in (model, RECIPE_FALLBACK):
        path = RECIPE_DIR / name / f"{stem}.yaml"
        if path.is_file():
            return path
    raise ValueError(f"--recipe {name} has no values for --model {model}; families: {', '.join(recipe_families(name))}")


def recipe_values(name: str, model: str) -> dict[str, Any]:
    """The settings of recipe ``name`` for ``model``'s family, as written in its YAML file."""
    import yaml

    values = yaml.safe_load(recipe_path(name, model).read_text(encoding="utf-8"))
    return dict(values or {})


def config_from(values: Mapping[str, Any]) -> TrainConfig:
    """The :class:`TrainConfig` of a dict of argument values (keys that are not settings are ignored)."""
    return TrainConfig(**{k: v for k, v in values.items() if k in FIELDS})


def default_of(name: str) -> Any:
    return getattr(DEFAULTS, name)


__all__ = [
    "ARGUMENT_CLASSES",
    "DEFAULTS",
    "DISTRIBUTIONS",
    "FIELDS",
    "GRPO_ONLY",
    "SFT_ONLY",
    "LR_SCHEDULERS",
    "MODES",
    "SOFT_LABEL_VARIANTS",
    "GRPOSettings",
    "RunArguments",
    "TrainConfig",
    "config_from",
    "default_of",
    "recipe_families",
    "recipe_names",
    "recipe_path",
    "recipe_values",
]
