"""``cogip-train`` / ``python -m cogip_train``: soft-label post-training of a model the harness knows.

    cogip-train --model qwen2_5_vl --model_args pretrained=Qwen/Qwen2.5-VL-7B-Instruct,device_map=cuda \\
        --output-dir runs/qwen7b-soft --merge
    cogip-eval --model qwen2_5_vl --model_args pretrained=runs/qwen7b-soft/merged --tasks cogip

Writes to ``--output-dir``: ``checkpoint-*/`` (Trainer checkpoints, for ``--resume``), ``adapter/`` (the LoRA
adapter and processor; ``model/`` when nothing is LoRA-trained), ``merged/`` with ``--merge`` (a full model
directory lmms-eval loads with ``pretrained=<dir>``), ``train_log.json`` and ``loss_curve.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from cogip_tasks.dimensions import DIMENSION_KEYS, get_dimension
from cogip_tasks.files import atomic_write, write_text

from .soft_label import DISTRIBUTIONS
from .trainer import MODES

OUTPUT_FILES = {"adapter": "adapter", "full": "model", "merged": "merged", "log": "train_log.json", "plot": "loss_curve.png"}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cogip-train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    g = p.add_argument_group("model (lmms-eval's vocabulary)")
    g.add_argument("--model", default="qwen2_5_vl", help="lmms-eval model wrapper name (default: qwen2_5_vl)")
    g.add_argument("--model_args", "--model-args", dest="model_args", required=True,
                   help="the wrapper's arguments, e.g. pretrained=Qwen/Qwen2.5-VL-3B-Instruct,device_map=cuda")
    g.add_argument("--min-pixels", type=int, help="smallest image size in pixels (added to --model_args)")
    g.add_argument("--max-pixels", type=int, help="largest image size in pixels (added to --model_args)")

    g = p.add_argument_group("data")
    g.add_argument("--dataset", help="Hub id, local dataset folder or save_to_disk dir (default: $COGIP_DATASET, "
                                     "else foolen/CogIP-Bench)")
    g.add_argument("--split", default="train")
    g.add_argument("--dimensions", default="all", help=f"comma list of {', '.join(DIMENSION_KEYS)} (default: all)")
    g.add_argument("--max-samples", type=int, help="at most this many rows per dimension")

    g = p.add_argument_group("loss")
    g.add_argument("--loss", choices=["soft", "ce"], default="soft", help="digit soft labels, or plain cross-entropy")
    g.add_argument("--eta", type=float, default=0.15, help="soft-label smoothing mass (default 0.15)")
    g.add_argument("--lambda", dest="lam", type=float, default=2.0, help="weight of digit tokens (default 2.0)")
    g.add_argument("--dist", choices=DISTRIBUTIONS, default="triangular", help="shape of the digit smoothing")
    g.add_argument("--sigma", type=float, default=1.0, help="width of --dist gaussian, in digits")

    g = p.add_argument_group("what to train")
    g.add_argument("--tune-llm", choices=MODES, default="lora")
    g.add_argument("--tune-vision", choices=MODES, default="freeze")
    g.add_argument("--tune-merger", choices=MODES, default="freeze")
    g.add_argument("--lora-rank", type=int, default=16)
    g.add_argument("--lora-alpha", type=int, default=32)
    g.add_argument("--lora-dropout", type=float, default=0.05)
    g.add_argument("--lora-target-modules", help="comma list of the LLM's linear layer names "
                                                 "(default: q,k,v,o,gate,up,down projections)")

    g = p.add_argument_group("optimisation")
    g.add_argument("--learning-rate", type=float, default=1e-4, help="learning rate of the LLM part")
    g.add_argument("--vision-lr", type=float, help="learning rate of the vision tower (default: --learning-rate)")
    g.add_argument("--merger-lr", type=float, help="learning rate of the merger/projector (default: --learning-rate)")
    g.add_argument("--weight-decay", type=float, default=0.0)
    g.add_argument("--epochs", type=float, default=1.0)
    g.add_argument("--max-steps", type=int, default=-1, help="stop after this many optimizer steps (overrides --epochs)")
    g.add_argument("--batch-size", type=int, default=4, help="per device")
    g.add_argument("--grad-accum", type=int, default=1)
    g.add_argument("--warmup", type=float, default=0.03,
                   help="linear warm-up: a share of the steps when below 1, else a number of steps (default 0.03)")
    g.add_argument("--lr-scheduler", default="cosine")
    g.add_argument("--dtype", choices=["auto", "bf16", "fp32"], default="auto",
                   help="auto: bf16 mixed precision on a GPU that has it, float32 otherwise (CPU)")
    g.add_argument("--no-gradient-checkpointing", action="store_true")
    g.add_argument("--seed", type=int, default=0)

    g = p.add_argument_group("output")
    g.add_argument("--output-dir", required=True, type=Path)
    g.add_argument("--save-steps", type=int, default=200)
    g.add_argument("--save-total-limit", type=int, default=3)
    g.add_argument("--logging-steps", type=int, default=10)
    g.add_argument("--resume", nargs="?", const=True, default=None,
                   help="resume from the last checkpoint in --output-dir (or from the checkpoint dir given)")
    g.add_argument("--merge", action="store_true", help="also write merged/: the full model with the adapter merged")
    return p


def parse_dimensions(text: str) -> list[str]:
    """``all`` or a comma list of dimension names (any spelling ``get_dimension`` accepts) -> canonical keys."""
    if text.strip() == "all":
        return list(DIMENSION_KEYS)
    return [get_dimension(d.strip()).key for d in text.split(",") if d.strip()]


def use_bf16(choice: str) -> bool:
    import torch

    if choice == "auto":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return choice == "bf16"


def write_log(output_dir: Path, log_history: list[dict], settings: dict) -> None:
    """train_log.json (every logged step) and loss_curve.png, each written to a temp name then renamed."""
    payload = json.dumps({"settings": settings, "log_history": log_history}, indent=1, default=str)
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


def main(argv: list[str] | None = None) -> int:
    from cogip_tasks.dataset import CogIPDataError

    from .soft_label import DigitTokenizerError
    from .trainer import NonFiniteLossError
    from .wrappers import UnsupportedWrapperError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.dimensions = parse_dimensions(args.dimensions)
    except ValueError as err:
        parser.error(str(err))
    try:
        return train(args)
    except (UnsupportedWrapperError, CogIPDataError, DigitTokenizerError, NonFiniteLossError) as err:
        print(f"cogip-train: error: {err}", file=sys.stderr)
        return 1


def train(args: argparse.Namespace) -> int:
    """Load through the lmms-eval wrapper, train, save the adapter (and the merged model with --merge)."""
    from .wrappers import wrapper_spec, with_pixel_bounds

    spec = wrapper_spec(args.model)  # unsupported wrappers fail here, before anything is loaded
    dimensions = args.dimensions
    bf16 = use_bf16(args.dtype)
    # The wrapper creates an Accelerator before the Trainer does; both must agree on mixed precision.
    os.environ["ACCELERATE_MIXED_PRECISION"] = "bf16" if bf16 else "no"

    import torch
    from transformers import TrainingArguments

    from .data import ChatCollator, load_train_rows
    from .trainer import LossConfig, SoftLabelTrainer, TuningConfig, param_groups, prepare_model
    from .wrappers import load_through_lmms_eval

    rows = load_train_rows(args.dataset, dimensions, args.max_samples, split=args.split)
    loaded = load_through_lmms_eval(args.model, with_pixel_bounds(spec, args.model_args, args.min_pixels, args.max_pixels))
    load_dtype = loaded.model.dtype
    if not bf16:
        # The harness loads bf16 weights; on CPU (no bf16 autocast worth having) we train and merge in float32.
        loaded.model.float()
    tuning = TuningConfig(
        llm=args.tune_llm, vision=args.tune_vision, merger=args.tune_merger, lora_rank=args.lora_rank,
        lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout,
        lora_target_modules=tuple(t.strip() for t in args.lora_target_modules.split(",")) if args.lora_target_modules else None,
    )
    model = prepare_model(loaded.model, spec, tuning)
    lrs = {"llm": args.learning_rate, "vision": args.vision_lr or args.learning_rate,
           "merger": args.merger_lr or args.learning_rate}
    optimizer = torch.optim.AdamW(param_groups(model, spec, lrs, args.weight_decay))

    args.output_dir.mkdir(parents=True, exist_ok=True)
    training_args = TrainingArguments(
        output_dir=str(args.output_dir),
        per_device_train_batch_size=args.batch_size,
        gradient_accumulation_steps=args.grad_accum,
        num_train_epochs=args.epochs,
        max_steps=args.max_steps,
        learning_rate=args.learning_rate,
        lr_scheduler_type=args.lr_scheduler,
        warmup_steps=args.warmup if args.warmup < 1 else int(args.warmup),
        weight_decay=args.weight_decay,
        bf16=bf16,
        gradient_checkpointing=not args.no_gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False},
        logging_steps=args.logging_steps,
        save_strategy="steps",
        save_steps=args.save_steps,
        save_total_limit=args.save_total_limit,
        remove_unused_columns=False,
        report_to="none",
        seed=args.seed,
        dataloader_num_workers=0,
    )
    trainer = SoftLabelTrainer(
        model=model,
        args=training_args,
        train_dataset=rows,
        data_collator=ChatCollator(loaded.processor, spec, loaded.system_prompt),
        processing_class=loaded.processor,
        optimizers=(optimizer, None),
        loss_config=LossConfig(kind=args.loss, eta=args.eta, lam=args.lam, dist=args.dist, sigma=args.sigma),
    )
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    settings.update(dimensions=dimensions, rows=len(rows), bf16=bf16, lrs=lrs)
    try:
        trainer.train(resume_from_checkpoint=args.resume)
    finally:
        if trainer.is_world_process_zero():  # what was learnt so far is logged even when training stops
            write_log(args.output_dir, trainer.state.log_history, settings)

    out = args.output_dir / (OUTPUT_FILES["adapter"] if tuning.uses_lora else OUTPUT_FILES["full"])
    trainer.save_model(str(out))
    if args.merge and trainer.is_world_process_zero():
        if not tuning.uses_lora:
            print(f"--merge: nothing to merge, the full model is in {out}", file=sys.stderr)
        else:
            merged_dir = args.output_dir / OUTPUT_FILES["merged"]
            merged = trainer.accelerator.unwrap_model(trainer.model).merge_and_unload()
            merged.to(load_dtype).save_pretrained(str(merged_dir))  # the dtype the harness loaded it in
            loaded.processor.save_pretrained(str(merged_dir))
            print(f"merged model: {merged_dir}  (lmms-eval --model {args.model} --model_args pretrained={merged_dir})")
    print(f"adapter/model: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
