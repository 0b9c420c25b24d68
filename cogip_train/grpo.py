"""``cogip-train --method grpo``: the paper's GRPO ablation on TRL's ``GRPOTrainer``, through the same wrapper and data.

The model comes from lmms-eval's wrapper (``--model``/``--model_args``, as for SFT and evaluation), the rows from
the same ``train`` split (:func:`cogip_train.data.load_train_rows`: same checks, same prompts, same images), and
each prompt is the chat turn the wrapper builds at evaluation time (``WrapperSpec.messages``: system prompt, image,
the row's prompt). TRL samples ``--num-generations`` answers per prompt, scores them with
:mod:`cogip_train.rewards` (parsed by the benchmark's own parser) and takes the group-relative policy step; the
parts to train, their learning rates, checkpoints, ``--resume``, ``adapter/`` or ``model/``, ``--merge`` and
``train_log.json`` are those of the SFT path. ``--recipe paper-grpo`` is the release's ``finetune_grpo.sh``
(``cogip_train/recipes/paper-grpo/``); every flag given on the command line overrides it.
"""

from __future__ import annotations

import argparse
import os
from functools import partial
from pathlib import Path
from typing import Any

from .config import config_from
from .rewards import CLOSENESS, REWARDS

GRPO_RECIPE = "paper-grpo"  # cogip_train/recipes/paper-grpo/: the release's finetune_grpo.sh
PLOT = "reward_curve.png"
#: GRPO settings that GRPOConfig takes as they are, under the same names.
GRPO_CONFIG_FIELDS = ("num_generations", "max_completion_length", "temperature", "top_p", "beta")


def check_grpo_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Checks across GRPO arguments, as argparse errors (exit 2), before anything is loaded (no-op for SFT)."""
    if isinstance(args.reward_weights, str):  # a default set in code arrives unparsed
        from .arguments import reward_weights_type

        args.reward_weights = reward_weights_type(args.reward_weights)
    if getattr(args, "recipe", None) == GRPO_RECIPE and args.method != "grpo":
        parser.error(f"--recipe {GRPO_RECIPE} is a GRPO recipe; drop --method {args.method}")
    if args.method != "grpo":
        return
    world = int(os.environ.get("WORLD_SIZE", "1"))
    per_round = args.batch_size * args.grad_accum * world
    if per_round % args.num_generations:
        parser.error(
            f"--batch-size {args.batch_size} x --grad-accum {args.grad_accum} x {world} process(es) = {per_round} "
            f"completions per generation round, not a multiple of --num-generations {args.num_generations} "
            "(with --method grpo, --batch-size counts completions per device)"
        )


class _ProcessorSpy:
    """Stands in for the wrapper's processor for one request: records the images it is called with."""

    def __init__(self, real: Any):
        self._real = real
        self.images: Any = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.images = kwargs.get("images")
        return self._real(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def evaluation_image(requests: Any, doc: dict) -> Any:
    """The image exactly as lmms-eval's wrapper hands it to its processor when ``cogip-eval`` asks ``doc``.

    The wrapper's own request path runs (:meth:`EvalRequests.prompt_inputs`: its image encoding, e.g. a JPEG
    data URL, and ``qwen_vl_utils``' decoding and resizing) with the processor watched; TRL's processor then
    receives the same pixels, so a GRPO prompt is the evaluation's pixel for pixel (tested).
    """
    from unittest import mock

    from cogip_tasks.dataset import CogIPDataError

    spy = _ProcessorSpy(requests.wrapper.processor)
    with mock.patch.object(requests.wrapper, "processor", spy):
        requests.prompt_inputs(doc)
    if not spy.images:
        raise CogIPDataError(
            f"row id {doc['id']!r}: lmms-eval's {requests.model_name} wrapper gave its processor "
            "no image, so the GRPO prompt cannot carry the evaluation's image"
        )
    return spy.images[0]


def grpo_dataset(rows: Any, requests: Any) -> Any:
    """The training rows as TRL's conversational prompts: ``{"prompt", "image", "id", "dimension", "score",
    "answer"}`` (``answer``: the SFT target text ``"<label> <score>"``, what the release's reward compares with).

    ``requests`` is the SFT path's :class:`cogip_train.data.EvalRequests`: the prompt text is the evaluation's
    (``doc_to_text`` with the task's pre/post prompts), after the wrapper's system prompt, with an image
    placeholder that TRL fills with ``image`` (:func:`evaluation_image`). Only ids, dimensions and scores are held;
    each image is decoded when its batch is drawn (``with_transform``), so a large split never sits decoded in
    memory.
    """
    from datasets import Dataset

    from cogip_tasks.dimensions import human_score

    from .data import answer_text

    system = getattr(requests.wrapper, "system_prompt", None)
    ids, dims, scores = [], [], []
    for dim, part in rows.parts:  # the order of rows[i]
        ids += [str(x) for x in part["id"]]
        dims += [dim.task_name] * len(part)  # resolves in any registered spec (the rewards' get_dimension)
        scores += [human_score(s) for s in part["score"]]
    table = Dataset.from_dict({"row": list(range(len(ids))), "id": ids, "dimension": dims, "score": scores})

    def messages(doc: dict) -> list[dict]:
        turn = [{"role": "system", "content": system}] if system else []
        return turn + [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": requests.text(doc)}]}]

    def transform(batch: dict[str, list]) -> dict[str, list]:
        docs = [rows[i] for i in batch["row"]]
        return {
            "prompt": [messages(doc) for doc in docs],
            "image": [evaluation_image(requests, doc) for doc in docs],
            "id": batch["id"],
            "dimension": batch["dimension"],
            "score": batch["score"],
            "answer": [answer_text(s, d) for s, d in zip(batch["score"], batch["dimension"])],
        }

    return table.with_transform(transform)


def reward_functions(args: argparse.Namespace) -> tuple[list, list[float]]:
    """The reward callables in :data:`REWARDS` order (zero-weight ones too: they are still logged) and weights;
    the closeness one is ``--reward``'s (:data:`cogip_train.rewards.CLOSENESS`)."""
    chosen = {**REWARDS, "closeness": CLOSENESS[getattr(args, "reward", "cogip")]}
    funcs = [partial(f, miss_penalty=args.miss_penalty) if name == "closeness" else f for name, f in chosen.items()]
    for func, f in zip(funcs, chosen.values()):
        if isinstance(func, partial):
            func.__name__ = f.__name__  # TRL logs rewards/<__name__>/mean
    return funcs, [float(args.reward_weights[name]) for name in REWARDS]


def write_reward_plot(output_dir: Path, log_history: list[dict], funcs: list | None = None) -> None:
    """reward_curve.png: the weighted total and each reward's mean (band: +- its std over the completions)."""
    series = {"total": ("reward", "reward_std")}
    named = zip(REWARDS, funcs or REWARDS.values())
    series.update({name: (f"rewards/{f.__name__}/mean", f"rewards/{f.__name__}/std") for name, f in named})
    logged = [e for e in log_history if "reward" in e and "step" in e]
    if not logged:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cogip_tasks.files import atomic_write

    fig, ax = plt.subplots(figsize=(5.5, 3.4), dpi=120)
    for label, (mean_key, std_key) in series.items():
        points = [(e["step"], e[mean_key], e.get(std_key) or 0.0) for e in logged if e.get(mean_key) is not None]
        if not points:
            continue
        steps, means, stds = zip(*points)
        ax.plot(steps, means, marker="o", markersize=2, label=label)
        ax.fill_between(steps, [m - s for m, s in zip(means, stds)], [m + s for m, s in zip(means, stds)], alpha=0.15)
    ax.set(xlabel="step", ylabel="reward", title="cogip-train --method grpo")
    ax.legend(fontsize=7)
    fig.tight_layout()
    atomic_write(output_dir / PLOT, lambda handle: fig.savefig(handle, format="png"))
    plt.close(fig)


def make_trainer_class() -> type:
    """``GRPOTrainer`` with the SFT path's guards: a NaN/infinite loss stops the run, a checkpoint that does not
    load is one ``CheckpointError`` naming it (built lazily: importing TRL costs seconds)."""
    import torch
    from trl import GRPOTrainer

    from .engines import EngineOnCpu
    from .trainer import CheckpointErrors, NonFiniteLossError

    class CogIPGRPOTrainer(EngineOnCpu, CheckpointErrors, GRPOTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            value = loss[0] if isinstance(loss, tuple) else loss
            if not torch.isfinite(value.detach()):
                raise NonFiniteLossError(
                    f"GRPO loss is {value.item()} at step {self.state.global_step}; training stopped. Checkpoints "
                    f"already in {self.args.output_dir} are intact. Lower the learning rate or --beta."
                )
            return loss

    return CogIPGRPOTrainer


def grpo_config(
    args: argparse.Namespace, weights: list[float], *, bf16: bool, use_cpu: bool, overrides: dict[str, Any]
) -> Any:
    """TRL's ``GRPOConfig``: the Trainer options both methods share (:func:`cogip_train.trainer.trainer_options`),
    the GRPO settings, then the ``GRPOConfig`` options passed through cogip-train (:mod:`cogip_train.arguments`)."""
    from trl import GRPOConfig

    from .trainer import trainer_options

    shared = trainer_options(config_from(vars(args)), str(args.output_dir), bf16=bf16, use_cpu=use_cpu)
    grpo = {name: getattr(args, name) for name in GRPO_CONFIG_FIELDS}
    # --grad-accum as given (what check_grpo_args counts completions with); --global-batch-size is SFT's
    grpo.update(gradient_accumulation_steps=args.grad_accum, reward_weights=weights)
    return GRPOConfig(**{**shared, **grpo, **overrides})


def run_grpo(args: argparse.Namespace, resolved: Any = None) -> int:
    """Check every input, load through the lmms-eval wrapper, run TRL's GRPO, save as the SFT path does."""
    from .checkpoints import identity_callback
    from .outputs import run_summary, save_outputs, train_and_log, write_log
    from .run_start import start_run

    begun = start_run(args, getattr(resolved, "sources", None))
    spec, model_args, resume, identity, bf16 = begun.spec, begun.model_args, begun.resume, begun.identity, begun.bf16

    import torch
    from trl import GRPOConfig

    from .arguments import trainer_overrides

    # Passed-through GRPOConfig options (--report-to, --adam-beta2, ...): checked before anything loads.
    overrides = trainer_overrides(resolved, GRPOConfig) if resolved else {}

    from .data import EvalRequests, load_train_rows
    from .trainer import StepsThisRun, load_for_training, param_groups
    from .wrappers import on_cpu

    train_config = config_from(vars(args))  # the settings both methods share, read as the SFT path reads them
    rows = load_train_rows(args.dataset, args.dimensions, args.max_samples, split=args.split)
    funcs, weights = reward_functions(args)
    # Before the model loads, as the SFT path: a DeepSpeed ZeRO-3 config then makes from_pretrained build it
    # partitioned.
    config = grpo_config(args, weights, bf16=bf16, use_cpu=on_cpu(model_args), overrides=overrides)
    prepared = load_for_training(args.model, model_args, spec, train_config, bf16=bf16)
    loaded, tuning = prepared.loaded, prepared.tuning
    lrs = train_config.learning_rates()
    optimizer = torch.optim.AdamW(param_groups(prepared.model, spec, lrs, args.weight_decay))

    args.output_dir.mkdir(parents=True, exist_ok=True)
    steps = StepsThisRun()
    modes = {part: tuning.mode(part) for part in ("llm", "vision", "merger")}
    trainer = make_trainer_class()(
        model=prepared.model,
        reward_funcs=funcs,
        args=config,
        train_dataset=grpo_dataset(rows, EvalRequests(loaded.wrapper, args.model, loaded.processor)),
        processing_class=loaded.processor,
        optimizers=(optimizer, None),
        callbacks=[steps, identity_callback(identity), run_summary(rows, spec, modes)],
    )
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    settings.update(
        method="grpo",
        dimensions=[dim.key for dim, _ in rows.parts],
        rows=len(rows),
        bf16=bf16,
        lrs=lrs,
        resumed_from=resume,
        rewards={name: {"function": f.__name__, "weight": w} for name, f, w in zip(REWARDS, funcs, weights)},
    )

    def log() -> None:
        write_log(args.output_dir, trainer.state.log_history, settings)
        write_reward_plot(args.output_dir, trainer.state.log_history, funcs)

    result = train_and_log(trainer, resume, steps, settings, log)
    policy = trainer.accelerator.unwrap_model(trainer.model)
    if tuning.uses_lora and "ref" in getattr(policy, "peft_config", {}):
        policy.delete_adapter("ref")  # TRL's frozen copy for the KL; the run's adapter is "default"
    save_outputs(trainer, result, args, settings, prepared=prepared, model_args=model_args, rows=rows)
    return 0
