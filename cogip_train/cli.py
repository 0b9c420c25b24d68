"""``cogip-train`` / ``python -m cogip_train``: soft-label post-training of a model the harness knows.

    cogip-train --model qwen2_5_vl --model_args pretrained=Qwen/Qwen2.5-VL-7B-Instruct,device_map=cuda \\
        --output-dir runs/qwen7b-soft --merge
    cogip-eval --model qwen2_5_vl --model_args pretrained=runs/qwen7b-soft/merged --tasks cogip

Writes to ``--output-dir``: ``checkpoint-*/`` (Trainer checkpoints, for ``--resume``), ``adapter/`` (the LoRA
adapter and processor; ``model/`` when nothing is LoRA-trained), ``merged/`` with ``--merge`` (a full model
directory lmms-eval loads with ``pretrained=<dir>``), ``train_log.json`` and ``loss_curve.png``.

CPU threads: 1 per process unless OMP_NUM_THREADS is set (torch's one-per-core default is many times slower
for small models on a shared CPU).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from cogip_tasks.cli_style import apply_verbosity
from cogip_tasks.dataset import dataset_spec
from cogip_tasks.dimensions import BUILTIN_SPEC, BenchmarkSpec
from cogip_tasks.entry import entry_point
from cogip_tasks.errors import CogIPError
from cogip_tasks.files import check_outputs_apart, output_lock
from cogip_tasks.harness import close_process_group
from cogip_tasks.threads import apply_cpu_threads

from .arguments import (  # noqa: F401  (re-exported: the CLI's names of the shared argument types)
    LEARNING_RATE,
    LR_SCHEDULERS,
    MAX_EPOCHS,
    MAX_LEARNING_RATE,
    MAX_SEED,
    POSITIVE_INT,
    Resolved,
    option_problems,
    print_config,
    ranged,
    resolve,
    trainer_overrides,
)
from .arguments import build_parser as _build_parser
from .config import config_from
from .grpo import check_grpo_args, run_grpo
from .outputs import OUTPUT_FILES, use_bf16, write_log  # noqa: F401  (re-exported)


def build_parser() -> argparse.ArgumentParser:
    """cogip-train's parser (TRL's TrlParser over cogip_train.config's dataclasses; see cogip_train.arguments)."""
    return _build_parser(__doc__)


def parse_dimensions(text: str, spec: BenchmarkSpec = BUILTIN_SPEC) -> list[str]:
    """``all`` or a comma list of dimension names (any spelling the dataset's spec knows) -> its keys, each once
    (``aesthetics,Aesthetics,cogip_aesthetics`` is one dimension: its rows are trained once)."""
    names = [d.strip() for d in text.split(",") if d.strip()]
    if any(name.lower() == "all" for name in names):
        return list(spec.keys)
    keys = []
    for name in names:
        dim = spec.find(name)
        if dim is None:
            raise ValueError(f"{name!r} is not a dimension of {spec.title} ({', '.join(spec.keys)})")
        keys.append(dim.key)
    return list(dict.fromkeys(keys))


def check_args(
    parser: argparse.ArgumentParser, args: argparse.Namespace, sources: dict[str, str] | None = None
) -> None:
    """Checks across arguments, as argparse errors (exit 2), before anything is loaded."""
    problems = option_problems(args, sources or {}, int(os.environ.get("WORLD_SIZE", "1")))
    if problems:
        parser.error(problems[0])
    text = args.dimensions
    spec = dataset_spec(args.dataset)  # the benchmark the dataset holds; a bad manifest is bad input (exit 1)
    try:
        args.dimensions = parse_dimensions(text, spec)
    except ValueError as err:
        parser.error(f"argument --dimensions: {err}")
    if not args.dimensions:
        parser.error(f"argument --dimensions: no dimension named in {text!r}")
    if args.min_pixels is not None and args.max_pixels is not None and args.min_pixels > args.max_pixels:
        parser.error(f"--min-pixels {args.min_pixels} is above --max-pixels {args.max_pixels}")
    if all(getattr(args, f"tune_{c}") == "freeze" for c in ("llm", "vision", "merger")):
        parser.error("nothing to train: --tune-llm, --tune-vision and --tune-merger are all 'freeze'")
    if args.warmup >= 1 and args.warmup != int(args.warmup):
        parser.error(
            f"argument --warmup: a share of the steps below 1, or a whole number of steps; got {args.warmup:g}"
        )
    if args.global_batch_size is not None:
        try:
            config_from(vars(args)).accumulation(int(os.environ.get("WORLD_SIZE", "1")))
        except ValueError as err:
            parser.error(str(err))
    if args.lora_target_modules is not None:
        names = tuple(t.strip() for t in args.lora_target_modules.split(",") if t.strip())
        if not names:
            parser.error(f"argument --lora-target-modules: no layer name in {args.lora_target_modules!r}")
        args.lora_target_modules = ",".join(names)


INTERRUPTED = (
    "the checkpoints already saved in --output-dir and its train_log.json are kept; "
    "continue with the same command and --resume"
)


@entry_point("cogip-train", on_interrupt=INTERRUPTED)
def main(argv: list[str] | None = None) -> int:
    """Exit status as every CogIP CLI (cogip_tasks/entry.py): 0 trained, 1 bad input or a failed run (dataset,
    checkpoint, output folder, model, --config file, a NaN loss), 2 bad arguments, 130 interrupted."""
    apply_cpu_threads()  # see cogip_tasks/threads.py; torch reads it when first imported
    args_in = sys.argv[1:] if argv is None else list(argv)
    if args_in[:1] == ["configs"]:  # the launcher configs shipped in the package
        from .launch_configs import main as configs_main

        return configs_main(args_in[1:])
    parser = build_parser()
    resolved = resolve(argv, __doc__)
    args = resolved.args
    apply_verbosity(args)
    if args.quiet or args.verbose:  # the Trainer's own switches, passed through as its options are
        resolved.trainer_args += ["--disable_tqdm", "true"] if args.quiet else ["--log_level", "debug"]
    check_args(parser, args, resolved.sources)
    check_grpo_args(parser, args)  # a GRPO recipe with --method sft is refused too
    try:
        if args.print_config:
            print(print_config(resolved, trainer_class(args.method)))
            return 0
        check_outputs_apart([args.output_dir], training_inputs(args, resolved))
        with output_folder_lock(args.output_dir):
            return run_grpo(args, resolved) if args.method == "grpo" else train(args, resolved)
    finally:
        close_process_group()


def training_inputs(args: argparse.Namespace, resolved: Resolved) -> list[str]:
    """The local files and folders a run reads: --output-dir may be none of them, nor hold one."""
    from cogip_tasks.dataset import dataset_source
    from cogip_tasks.model_args import parse_model_args

    found = [dataset_source(args.dataset), *resolved.files.values()]
    try:
        model_args = parse_model_args(args.model_args)
    except CogIPError:
        model_args = {}  # reported where the arguments are used
    found += [str(model_args[k]) for k in ("pretrained", "adapter") if k in model_args]
    return [path for path in found if os.path.exists(os.path.expanduser(path))]


def output_folder_lock(output_dir) -> contextlib.AbstractContextManager:
    """The output folder's lock (:func:`cogip_tasks.files.output_lock`), held by the launch's main process: a
    second run into the same --output-dir fails at once, naming the first."""
    if int(os.environ.get("RANK", "0")) != 0:
        return contextlib.nullcontext()
    return output_lock(output_dir, command="cogip-train")


def trainer_class(method: str) -> type:
    """The class the passed-through options belong to: TrainingArguments (SFT) or TRL's GRPOConfig."""
    if method == "grpo":
        from trl import GRPOConfig

        return GRPOConfig
    from transformers import TrainingArguments

    return TrainingArguments


def train(args: argparse.Namespace, resolved: Resolved | None = None) -> int:
    """Check every input, then load through the lmms-eval wrapper, train, save the adapter (and --merge).

    Nothing is loaded or written before the arguments, ``--resume``, ``--output-dir`` and every training row
    (score and image) are checked; a run that stops before its first optimizer step leaves ``--output-dir``
    as it found it.
    """
    from .checkpoints import identity_callback
    from .run_start import start_run

    begun = start_run(args, resolved.sources if resolved else None)
    spec, model_args, resume, identity, bf16 = begun.spec, begun.model_args, begun.resume, begun.identity, begun.bf16
    # Passed-through TrainingArguments options (--report-to, --adam-beta2, ...): checked before anything loads.
    overrides = trainer_overrides(resolved, trainer_class("sft")) if resolved else {}
    dimensions = args.dimensions

    from cogip_tasks.model_args import scrub_model_args

    from .data import ChatCollator, EvalRequests, load_train_rows
    from .outputs import run_summary, save_outputs, train_and_log
    from .trainer import LossConfig, SoftLabelTrainer, StepsThisRun, load_for_training, training_arguments
    from .wrappers import on_cpu

    config = config_from(vars(args))
    processes = int(os.environ.get("WORLD_SIZE", "1"))
    rows = load_train_rows(args.dataset, dimensions, args.max_samples, split=args.split)
    # Before the model loads: a DeepSpeed ZeRO-3 config then makes from_pretrained build it partitioned.
    training_args = training_arguments(
        config, str(args.output_dir), bf16=bf16, processes=processes, use_cpu=on_cpu(model_args), **overrides
    )
    prepared = load_for_training(args.model, model_args, spec, config, bf16=bf16)
    loaded, tuning = prepared.loaded, prepared.tuning

    args.output_dir.mkdir(parents=True, exist_ok=True)
    steps = StepsThisRun()
    trainer = SoftLabelTrainer(
        model=prepared.model,
        args=training_args,
        train_dataset=rows,
        data_collator=ChatCollator(EvalRequests(loaded.wrapper, args.model, loaded.processor)),
        processing_class=loaded.processor,
        callbacks=[
            steps,
            identity_callback(identity),
            run_summary(rows, spec, {part: tuning.mode(part) for part in ("llm", "vision", "merger")}),
        ],
        loss_config=LossConfig.of(config),
        spec=spec,
        part_lrs=config.learning_rates(),
    )
    settings = {
        "method": "sft",
        "recipe": args.recipe,
        **config.as_dict(),
        "model_args": scrub_model_args(model_args),
        "dataset": args.dataset,
        "split": args.split,
        "dimensions": [dim.key for dim, _ in rows.parts],
        "max_samples": args.max_samples,
        "output_dir": str(args.output_dir),
        "rows": len(rows),
        "bf16": bf16,
        "processes": processes,
        "grad_accum": training_args.gradient_accumulation_steps,
        "global_batch_size": config.batch_size * processes * training_args.gradient_accumulation_steps,
        "lrs": config.learning_rates(),
        "resumed_from": resume,
        "trainer_overrides": overrides,  # shared only as cogip_train.outputs.shareable_options publishes them
        "saved_dtype": str(prepared.load_dtype),
    }
    result = train_and_log(
        trainer, resume, steps, settings, lambda: write_log(args.output_dir, trainer.state.log_history, settings)
    )
    save_outputs(trainer, result, args, settings, prepared=prepared, model_args=model_args, rows=rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
