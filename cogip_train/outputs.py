"""What a ``cogip-train`` run writes into ``--output-dir`` (shared by the SFT and GRPO paths), laid out as the
Trainer's and TRL's example scripts leave a run:

- ``trainer_state.json`` (``Trainer.save_state``: every logged step, the step count, the best checkpoint);
- ``train_results.json`` and ``all_results.json`` (``Trainer.save_metrics("train", ...)``: loss, runtime,
  samples per second, ...);
- ``train_log.json``: the run's settings (no local paths), the package versions and every logged step;
- ``README.md``: a model card (:mod:`cogip_train.cards`) here and in ``adapter/`` (or ``model/``) and ``merged/``;
- ``checkpoint-*/``, ``adapter/`` or ``model/``, ``merged/`` (``--merge``), ``loss_curve.png``.

Before the first step the run prints a summary (:func:`run_summary`): rows per dimension, optimizer steps, and
the trainable parameters of each part.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from cogip_tasks.files import atomic_write, write_text

OUTPUT_FILES = {
    "adapter": "adapter",
    "full": "model",
    "merged": "merged",
    "log": "train_log.json",
    "plot": "loss_curve.png",
}
#: Packages whose versions a run records (train_log.json, the model cards).
VERSIONED_PACKAGES = (
    "cogip",
    "torch",
    "transformers",
    "trl",
    "peft",
    "accelerate",
    "datasets",
    "lmms_eval",
    "huggingface_hub",
    "deepspeed",
)


def package_versions() -> dict[str, str | None]:
    from cogip_tasks.provenance import package_version

    return {name: package_version(name) for name in VERSIONED_PACKAGES}


def shareable_settings(settings: dict[str, Any], output_dir: Path) -> dict[str, Any]:
    """A run's settings as they may be shared (train_log.json, cards): no local paths, published model values.

    ``model_args`` keeps what :func:`cogip_tasks.model_args.published_args` publishes (a Hub id or a folder's
    base name for ``pretrained``); the dataset is a Hub id or ``local:<folder name>``; ``output_dir`` is its
    base name and a resumed checkpoint is named relative to it.
    """
    from cogip_tasks.dataset import dataset_source
    from cogip_tasks.model_args import format_model_args, published_args
    from cogip_tasks.provenance import shareable_source

    out = {k: (str(v) if isinstance(v, Path) else v) for k, v in settings.items()}
    if "model_args" in out:
        out["model_args"] = format_model_args(published_args(out["model_args"]))
    if "dataset" in out:
        out["dataset"] = shareable_source(dataset_source(out["dataset"]))
    if "output_dir" in out:
        out["output_dir"] = Path(out["output_dir"]).name
    if isinstance(out.get("trainer_overrides"), dict):
        out["trainer_overrides"] = shareable_options(out["trainer_overrides"])
    resumed = out.get("resumed_from")
    if isinstance(resumed, str):
        path = Path(resumed).resolve()
        out["resumed_from"] = (
            path.relative_to(output_dir.resolve()).as_posix()
            if path.is_relative_to(output_dir.resolve())
            else f"local:{path.name}"
        )
    return out


#: A passed-through Trainer option's value that may be shared: a number, a boolean, or a plain word (an enum such
#: as ``tensorboard`` or ``adamw_torch``). Anything else (a path, a URL, free text, a mapping) is ``<removed>``.
_SHAREABLE_WORD = re.compile(r"[A-Za-z0-9_.+-]{1,64}")


def shareable_options(options: dict[str, Any]) -> dict[str, Any]:
    """Passed-through Trainer options as they may be shared (train_log.json, cards, ``--print-config``): an
    allow-list of value kinds, never a value of an option named like a credential (``hub_token``)."""
    from cogip_tasks.model_args import REMOVED, argv_secrets

    def shared(name: str, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [shared(name, v) for v in value]
        if hasattr(value, "value") and not isinstance(value, (int, float, str, bool)):
            value = value.value  # the Trainer's enums
        if argv_secrets([f"--{name}", "credential"]):  # a credential-named option
            return REMOVED
        if value is None or isinstance(value, (bool, int, float)):
            return value
        text = str(value)
        return text if _SHAREABLE_WORD.fullmatch(text) and not argv_secrets([text]) else REMOVED

    return {str(name): shared(str(name), value) for name, value in options.items()}


def use_bf16(choice: str) -> bool:
    import torch

    if choice == "auto":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return choice == "bf16"


def write_log(output_dir: Path, log_history: list[dict], settings: dict) -> None:
    """train_log.json (settings without local paths, package versions, every logged step) and loss_curve.png,
    each written to a temp name then renamed."""
    payload = json.dumps(
        {
            "settings": shareable_settings(settings, output_dir),
            "versions": package_versions(),
            "log_history": log_history,
        },
        indent=1,
        default=str,
    )
    write_text(output_dir / OUTPUT_FILES["log"], payload)
    steps = [(e["step"], e["loss"]) for e in log_history if "loss" in e]
    if not steps:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=120)
    ax.plot(*zip(*steps), marker="o", markersize=2)
    ax.set(xlabel="step", ylabel="training loss", title=f"cogip-train ({settings.get('loss')} loss)")
    fig.tight_layout()
    atomic_write(output_dir / OUTPUT_FILES["plot"], lambda handle: fig.savefig(handle, format="png"))
    plt.close(fig)


def rows_per_dimension(rows: Any) -> dict[str, int]:
    """``{dimension key: rows}`` of a :class:`cogip_train.data.CogIPTrainRows`."""
    return {dim.key: len(part) for dim, part in rows.parts}


def parameters_per_part(model: Any, spec: Any) -> dict[str, tuple[int, int]]:
    """``{part: (trainable, total)}`` parameter counts of llm, vision and merger (and ``other``: anything no part
    claims). A ZeRO-3 partitioned parameter counts its full size (``ds_numel``), not its local shard."""
    from .trainer import part_of

    counts: dict[str, list[int]] = {}
    for name, param in model.named_parameters():
        n = int(getattr(param, "ds_numel", 0) or param.numel())
        entry = counts.setdefault(part_of(name, spec) or "other", [0, 0])
        entry[0] += n if param.requires_grad else 0
        entry[1] += n
    return {part: (trainable, total) for part, (trainable, total) in counts.items()}


def summary_text(
    rows: dict[str, int], max_steps: int, epochs: float, global_batch: int, parts: dict[str, tuple[int, int]], modes
) -> str:
    """The lines printed before training (``modes``: ``{part: lora|full|freeze}``)."""
    trainable = sum(t for t, _ in parts.values())
    total = sum(n for _, n in parts.values()) or 1
    per_part = "; ".join(f"{part} {t:,} of {n:,} ({modes.get(part, 'not a part')})" for part, (t, n) in parts.items())
    return (
        f"cogip-train: {sum(rows.values())} training rows ({', '.join(f'{k} {n}' for k, n in rows.items())})\n"
        f"cogip-train: {max_steps} optimizer steps ({epochs:g} epoch(s), {global_batch} rows per step)\n"
        f"cogip-train: trainable parameters {trainable:,} of {total:,} ({100 * trainable / total:.3f}%): {per_part}"
    )


def run_summary(rows: Any, spec: Any, modes: dict[str, str]) -> Any:
    """A ``TrainerCallback`` that prints :func:`summary_text` when training begins: the Trainer has worked out its
    steps by then (for GRPO's generation rounds too), and the model is the one being trained (LoRA-wrapped,
    engine-wrapped). Built here so that importing this module loads no transformers (``--help`` stays instant)."""
    from transformers import TrainerCallback

    per_dimension = rows_per_dimension(rows)

    class RunSummary(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kwargs):
            if state.is_world_process_zero and model is not None:
                global_batch = args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size
                parts = parameters_per_part(model, spec)
                text = summary_text(per_dimension, state.max_steps, state.num_train_epochs, global_batch, parts, modes)
                print(text, file=sys.stderr, flush=True)
            return control

    return RunSummary()


def save_run(
    trainer: Any,
    result: Any,
    output_dir: Path,
    settings: dict[str, Any],
    *,
    method: str,
    model_args: str,
    rows: Any,
    saved: Path,
    merged: Path | None,
) -> None:
    """After training (world process zero): the Trainer's own run files and the model cards.

    ``result`` is ``trainer.train()``'s ``TrainOutput``; ``model_args`` the model's arguments as given (the cards
    find the base model's Hub id from them and publish only what may be published); ``saved`` the adapter/ or
    model/ folder; ``merged`` the merged/ folder when written.
    """
    from .cards import write_cards

    metrics = {**result.metrics, "train_samples": len(rows)}
    trainer.log_metrics("train", metrics)
    trainer.save_metrics("train", metrics)  # train_results.json, all_results.json
    trainer.save_state()  # trainer_state.json
    shared = shareable_settings(settings, output_dir)
    kind = "adapter" if saved.name == OUTPUT_FILES["adapter"] else "full"
    evaluate = merged if merged is not None else (saved if kind == "full" else None)
    from cogip_tasks.dataset import dataset_source

    write_cards(
        {"run": output_dir, kind: saved, **({"merged": merged} if merged is not None else {})},
        model=shared.get("model", settings.get("model")),
        model_args=model_args,
        dataset=dataset_source(settings.get("dataset")),
        method=method,
        recipe=settings.get("recipe"),
        settings={**shared, "uses_lora": kind == "adapter"},
        log_history=trainer.state.log_history,
        metrics=metrics,
        versions=package_versions(),
        rows_per_dimension=rows_per_dimension(rows),
        evaluate=None if evaluate is None else f"{output_dir.name}/{evaluate.name}",
    )


def train_and_log(trainer: Any, resume: str | None, steps: Any, settings: dict[str, Any], log: Any) -> Any:
    """``trainer.train()`` with ``log()`` (train_log.json, the plots) written by world process zero, both methods.

    What was learnt so far is logged even when training stops (NaN, Ctrl-C, a crash) -- but a run that stopped
    before its first step (``steps``: :class:`cogip_train.trainer.StepsThisRun`; a checkpoint that does not load)
    learnt nothing and must not replace the log of the run it tried to resume. A finished run's ``settings`` get
    the engine report (:func:`cogip_train.engines.describe_engine`). Returns the ``TrainOutput``."""
    from .engines import describe_engine

    try:
        result = trainer.train(resume_from_checkpoint=resume)
    except BaseException:
        if steps.steps and trainer.is_world_process_zero():
            log()
        raise
    settings["engine"] = describe_engine(trainer)
    if trainer.is_world_process_zero():
        log()
    return result


def save_outputs(
    trainer: Any, result: Any, args: Any, settings: dict[str, Any], *, prepared: Any, model_args: str, rows: Any
) -> Path:
    """After training, both methods (every rank calls it): ``adapter/`` or ``model/`` saved whole whatever the
    engine, ``--merge``'s ``merged/`` and the run files (:func:`save_run`) on world process zero, then where the
    model is. ``args`` gives ``--output-dir``, ``--merge`` and ``--model``; ``settings["method"]`` the method;
    ``prepared`` is the :class:`cogip_train.trainer.PreparedModel`. Returns the adapter/model folder."""
    from .engines import save_final, write_merged

    output_dir, uses_lora = args.output_dir, prepared.tuning.uses_lora
    out = output_dir / (OUTPUT_FILES["adapter"] if uses_lora else OUTPUT_FILES["full"])
    save_final(trainer, str(out), prepared.load_dtype)  # collective under DeepSpeed/FSDP: every rank
    if not trainer.is_world_process_zero():
        return out
    merged_dir = None
    if args.merge and not uses_lora:
        print(f"--merge: nothing to merge, the full model is in {out}", file=sys.stderr)
    elif args.merge:
        merged_dir = output_dir / OUTPUT_FILES["merged"]
        loaded = prepared.loaded
        write_merged(trainer, type(loaded.model), model_args, out, merged_dir, prepared.load_dtype)
        loaded.processor.save_pretrained(str(merged_dir))
        print(f"merged model: {merged_dir}  (lmms-eval --model {args.model} --model_args pretrained={merged_dir})")
    save_run(
        trainer,
        result,
        output_dir,
        settings,
        method=settings["method"],
        model_args=model_args,
        rows=rows,
        saved=out,
        merged=merged_dir,
    )
    print(f"adapter/model: {out}")
    return out
