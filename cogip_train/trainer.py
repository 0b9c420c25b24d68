"""The trainer: a ``transformers.Trainer`` whose loss is the digit soft-label loss, and the model set-up around it.

:class:`SoftLabelTrainer` hands the loss to the Trainer's own hook (``compute_loss_func``, called with
``num_items_in_batch``), so the stock token counting over accumulated micro-batches and processes, and the
stock loss scaling for gradient accumulation and data parallel, apply unchanged; it only adds the NaN stop (and
turns checkpoint loading errors into one clear ``--resume`` error). Everything else (distributed data parallel
under ``accelerate launch``, gradient
accumulation, checkpoints, ``resume_from_checkpoint``, the progress bar) is the stock Trainer's.
:func:`prepare_model` freezes / LoRA-adapts / fully trains the language model, the vision tower and the merger;
:func:`param_groups` gives each part its own learning rate, as the paper's recipe does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from transformers import Trainer, TrainerCallback

from cogip_tasks.errors import CogIPError

from .checkpoints import CheckpointError
from .config import DEFAULTS, MODES
from .engines import EngineOnCpu
from .soft_label import causal_lm_loss, digit_tokens, soft_label_loss
from .wrappers import COMPONENTS, WrapperSpec


class NonFiniteLossError(CogIPError, FloatingPointError):
    """The loss became NaN or infinite; training stops instead of writing a broken model."""


@dataclass(frozen=True)
class LossConfig:
    kind: str = DEFAULTS.loss  # soft | ce
    eta: float = DEFAULTS.eta
    lam: float = DEFAULTS.lam
    dist: str = DEFAULTS.dist
    sigma: float = DEFAULTS.sigma
    variant: str = DEFAULTS.soft_labels  # value | release (cogip_train.soft_label)

    @classmethod
    def of(cls, config: Any) -> LossConfig:
        return cls(
            kind=config.loss,
            eta=config.eta,
            lam=config.lam,
            dist=config.dist,
            sigma=config.sigma,
            variant=config.soft_labels,
        )

    @property
    def per_micro_batch(self) -> bool:
        """The release's loss: a mean per micro-batch, which the Trainer then averages over accumulation steps
        and processes (rather than one sum over the step divided by its token count)."""
        return self.kind == "soft" and self.variant == "release"


class TokenLoss:
    """The Trainer's ``compute_loss_func``: ``(outputs, labels, num_items_in_batch) -> loss`` (sum over the
    micro-batch's answer tokens divided by the count over the whole optimizer step, as the stock loss does)."""

    def __init__(self, config: LossConfig, tokenizer: Any):
        self.config = config
        self.tokenizer = tokenizer
        if config.kind == "soft":  # refuse tokenizers without numeric tokens now, not at the first step
            digit_tokens(tokenizer)

    def __call__(self, outputs: Any, labels: torch.Tensor, num_items_in_batch: Any = None) -> torch.Tensor:
        cfg = self.config
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs.logits
        if cfg.kind == "soft":
            return soft_label_loss(
                logits,
                labels,
                self.tokenizer,
                eta=cfg.eta,
                lam=cfg.lam,
                dist=cfg.dist,
                sigma=cfg.sigma,
                num_items_in_batch=num_items_in_batch,
                variant=cfg.variant,
            )
        return causal_lm_loss(logits, labels, num_items_in_batch=num_items_in_batch)


class CheckpointErrors:
    """Trainer mixin: ``--resume`` loading failures become one :class:`CheckpointError` naming the checkpoint.

    What the pre-flight check (cogip_train.checkpoints) cannot see from file headers (a garbled tensor, adapter
    weights of another --lora-rank, an optimizer of other parameter groups) fails here, as one clear error
    instead of a torch traceback. Used by the SFT and the GRPO trainer alike.
    """

    def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
        with _loading(resume_from_checkpoint, "model weights"):
            return super()._load_from_checkpoint(resume_from_checkpoint, model)

    def _load_optimizer_and_scheduler(self, checkpoint):
        with _loading(checkpoint, "optimizer/scheduler state"):
            return super()._load_optimizer_and_scheduler(checkpoint)

    def _load_rng_state(self, checkpoint):
        with _loading(checkpoint, "random number generator state"):
            return super()._load_rng_state(checkpoint)


class SoftLabelTrainer(EngineOnCpu, CheckpointErrors, Trainer):
    """A Trainer that trains with :func:`cogip_train.soft_label_loss` (or plain CE with ``LossConfig(kind="ce")``)."""

    def __init__(
        self,
        *args: Any,
        loss_config: LossConfig = LossConfig(),
        spec: WrapperSpec | None = None,
        part_lrs: dict[str, float] | None = None,
        **kwargs: Any,
    ):
        tokenizer = kwargs.get("processing_class")
        kwargs["compute_loss_func"] = TokenLoss(loss_config, tokenizer)
        super().__init__(*args, **kwargs)
        if loss_config.per_micro_batch:
            self.loss_is_scaled_for_ga = False  # the Trainer divides each micro-batch's mean by the steps
        self.loss_config = loss_config
        self.spec, self.part_lrs = spec, part_lrs

    def create_optimizer(self, model=None):
        """The stock optimizer (``--optim``'s AdamW), with one group per part at its own learning rate. Built here,
        not passed in, so that DeepSpeed and FSDP (which refuse a ready-made optimizer) wrap it as they wrap
        the stock one."""
        if self.optimizer is None and self.spec is not None and self.part_lrs is not None:
            opt_model = self.model if model is None else model
            no_decay = set(n for n, _ in opt_model.named_parameters()) - set(self.get_decay_parameter_names(opt_model))
            groups = param_groups(opt_model, self.spec, self.part_lrs, self.args.weight_decay, no_decay=no_decay)
            optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
            self.optimizer = optimizer_cls(groups, **optimizer_kwargs)
        return super().create_optimizer(model)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        loss, outputs = super().compute_loss(model, inputs, return_outputs=True, num_items_in_batch=num_items_in_batch)
        if not torch.isfinite(loss.detach()):
            raise NonFiniteLossError(
                f"loss is {loss.item()} at step {self.state.global_step} (epoch {self.state.epoch or 0:.2f}); "
                f"training stopped. Checkpoints already in {self.args.output_dir} are intact. Lower the learning "
                "rate, or train in float32/bf16 rather than fp16."
            )
        return (loss, outputs) if return_outputs else loss


@contextmanager
def _loading(checkpoint: str | None, what: str) -> Iterator[None]:
    """Any error while loading part of a checkpoint becomes a :class:`CheckpointError` naming it."""
    try:
        yield
    except CheckpointError:
        raise
    except Exception as err:
        detail = " ".join(str(err).split())[:300]  # torch's size-mismatch reports run over many lines
        raise CheckpointError(f"--resume {checkpoint}: cannot load its {what}: {type(err).__name__}: {detail}") from err


class StepsThisRun(TrainerCallback):
    """Counts the optimizer steps taken by this process's run (not the ones restored from a checkpoint).

    A run that stops before its first step has learnt nothing, so it must not replace an earlier run's log.
    """

    def __init__(self) -> None:
        self.steps = 0

    def on_step_end(self, args, state, control, **kwargs):
        self.steps += 1
        return control


@dataclass(frozen=True)
class TuningConfig:
    """What to train: each part of the model is ``lora``, ``full`` or ``freeze``."""

    llm: str = DEFAULTS.tune_llm
    vision: str = DEFAULTS.tune_vision
    merger: str = DEFAULTS.tune_merger
    lora_rank: int = DEFAULTS.lora_rank
    lora_alpha: int = DEFAULTS.lora_alpha
    lora_dropout: float = DEFAULTS.lora_dropout
    lora_target_modules: tuple[str, ...] | None = None  # leaf names for the LLM; default: the spec's

    @classmethod
    def of(cls, config: Any) -> TuningConfig:
        return cls(
            llm=config.tune_llm,
            vision=config.tune_vision,
            merger=config.tune_merger,
            lora_rank=config.lora_rank,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            lora_target_modules=config.target_modules(),
        )

    def mode(self, component: str) -> str:
        value = getattr(self, component)
        if value not in MODES:
            raise ValueError(f"--tune-{component} must be one of {', '.join(MODES)}, got {value!r}")
        return value

    @property
    def uses_lora(self) -> bool:
        return any(self.mode(c) == "lora" for c in COMPONENTS)


@dataclass(frozen=True)
class PreparedModel:
    """A model loaded through lmms-eval's wrapper and made ready to train (:func:`load_for_training`)."""

    loaded: Any  # cogip_train.wrappers.LoadedModel: the wrapper, its model and processor
    model: Any  # the model to train (a peft model when a part is LoRA-trained)
    tuning: TuningConfig
    load_dtype: Any  # the harness's dtype: the final save and merged/ are written back in it


def load_for_training(name: str, model_args: str, spec: WrapperSpec, config: Any, *, bf16: bool) -> PreparedModel:
    """Load ``--model`` through lmms-eval's wrapper and prepare the parts to train (both methods). Seeded with
    ``--seed`` before the load and again before LoRA's random initialisation, so the same seed repeats the run."""
    from transformers import set_seed

    from .wrappers import load_through_lmms_eval

    set_seed(config.seed)
    loaded = load_through_lmms_eval(name, model_args)
    load_dtype = loaded.model.dtype
    if not bf16:
        # The harness loads bf16 weights; on CPU (no bf16 autocast worth having) we train in float32.
        loaded.model.float()
    tuning = TuningConfig.of(config)
    set_seed(config.seed)  # LoRA's random initialisation is part of the run: seeded, so --seed repeats it
    return PreparedModel(loaded, prepare_model(loaded.model, spec, tuning), tuning, load_dtype)


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
        modules_to_save=full_modules(model, spec, full) or None,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def full_modules(model: Any, spec: WrapperSpec, parts: list[str]) -> list[str]:
    """Module names of fully trained parts for peft's ``modules_to_save`` (ModuleLists expanded into items)."""
    names = []
    for part in parts:
        for name in spec.components[part].modules:
            module = model.get_submodule(name)
            if isinstance(module, torch.nn.ModuleList):
                names += [f"{name}.{i}" for i in range(len(module))]
            else:
                names.append(name)
    return names


def part_of(name: str, spec: WrapperSpec) -> str | None:
    """The part (llm, vision, merger) a parameter belongs to, by the spec's name patterns; None for none."""
    return next((c for c in COMPONENTS if re.search(spec.components[c].params, name)), None)


def param_groups(
    model: Any, spec: WrapperSpec, lrs: dict[str, float], weight_decay: float = 0.0, no_decay: set[str] = frozenset()
) -> list[dict]:
    """Optimizer groups of the trainable parameters, one per part with its learning rate (empty groups dropped);
    parameters named in ``no_decay`` (the Trainer's biases and norms) get a weight decay of 0 in their own group."""
    groups: dict[tuple[str, bool], list] = {(c, d): [] for c in COMPONENTS for d in (True, False)}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        owner = part_of(name, spec)
        if owner is None:
            raise ValueError(f"trainable parameter {name!r} belongs to no part of {spec.name} (llm/vision/merger)")
        groups[(owner, name not in no_decay)].append(param)
    return [
        {"params": params, "lr": lrs[c], "weight_decay": weight_decay if decay else 0.0, "name": c}
        for (c, decay), params in groups.items()
        if params
    ]


def trainer_options(config: Any, output_dir: str, *, bf16: bool, use_cpu: bool = False) -> dict:
    """The Trainer options both methods set alike, from a :class:`cogip_train.config.TrainConfig`: the fields of
    the SFT path's ``TrainingArguments`` and of GRPO's ``GRPOConfig`` (its subclass) that mean the same thing in
    both. Each caller adds its method's own fields (gradient accumulation too: SFT's follows --global-batch-size,
    GRPO takes --grad-accum as given), then the options passed through (``report_to``: none unless given)."""
    from .config import DEFAULT_REPORT_TO

    return dict(
        output_dir=output_dir,
        per_device_train_batch_size=config.batch_size,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup if config.warmup < 1 else int(config.warmup),
        weight_decay=config.weight_decay,
        bf16=bf16,
        gradient_checkpointing=config.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False},
        logging_steps=config.logging_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        remove_unused_columns=False,  # the collator (SFT) and the rewards (GRPO) read the rows' id, dimension, score
        report_to=DEFAULT_REPORT_TO,  # unless --report-to is passed through
        seed=config.seed,
        data_seed=config.seed,  # the Trainer's shuffling (GRPO's RepeatSampler takes seed)
        dataloader_num_workers=0,
        use_cpu=use_cpu,  # several CPU processes: accelerate's MULTI_CPU over gloo (DeepSpeed's too)
    )


def training_arguments(
    config: Any, output_dir: str, *, bf16: bool, processes: int, use_cpu: bool = False, **extra: Any
):
    """The ``transformers.TrainingArguments`` of a :class:`cogip_train.config.TrainConfig` (built before the model
    loads: under ``accelerate launch`` with a DeepSpeed ZeRO-3 config this is what makes ``from_pretrained``
    build the model already partitioned). ``extra`` passes any other ``TrainingArguments`` field through
    (``report_to``: none unless given)."""
    from transformers import TrainingArguments

    kwargs = trainer_options(config, output_dir, bf16=bf16, use_cpu=use_cpu)
    kwargs["gradient_accumulation_steps"] = config.accumulation(processes)  # --global-batch-size decides it
    # The release's per-micro-batch mean is not a sum over the step's tokens: no scaling by the process count.
    kwargs["average_tokens_across_devices"] = not LossConfig.of(config).per_micro_batch
    kwargs.update(extra)  # TrainingArguments options passed through cogip-train (cogip_train.arguments)
    return TrainingArguments(**kwargs)
