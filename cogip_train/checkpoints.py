"""What ``--resume`` may resume from, and whether ``--output-dir`` may be written: checked before the model loads.

A resume that fails after minutes of model loading, or a run that replaces an earlier run's log, costs the user
time or results; these checks read only small files (``trainer_state.json``, file headers and zip directories),
so they run in well under a second even for a 7B checkpoint. What they cannot see (a flipped bit inside a tensor,
weights of another LoRA rank) fails in :class:`cogip_train.trainer.SoftLabelTrainer`'s loading instead, with
the same :class:`CheckpointError`.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path
from typing import Any

from cogip_tasks.errors import CogIPError

CHECKPOINT_DIR = re.compile(r"^checkpoint-(\d+)$")  # the Trainer's naming (transformers' PREFIX_CHECKPOINT_DIR)
#: Files the Trainer writes into every checkpoint of a cogip-train run (no save_only_model; DeepSpeed/FSDP
#: checkpoints have their own layout, see engine_layout):
#: without them it silently restarts the step count or the optimizer, which is not a resume.
REQUIRED_FILES = ("trainer_state.json", "optimizer.pt", "scheduler.pt")
WEIGHT_FILES = (
    "adapter_model.safetensors",
    "adapter_model.bin",
    "model.safetensors",
    "pytorch_model.bin",
    "model.safetensors.index.json",
    "pytorch_model.bin.index.json",
)
#: What a finished or interrupted run leaves in --output-dir that a fresh run would overwrite.
RUN_FILES = ("train_log.json", "loss_curve.png", "adapter", "model", "merged")


class CheckpointError(CogIPError, ValueError):
    """``--resume`` or ``--output-dir`` points at something a run cannot use; the message names the path."""


def checkpoints(folder: Path) -> list[Path]:
    """The ``checkpoint-N`` folders in ``folder``, newest (highest N) first."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := CHECKPOINT_DIR.match(p.name)) and p.is_dir()]
    return [p for _, p in sorted(found, reverse=True)]


def checkpoint_problem(path: Path) -> str | None:
    """Why the Trainer could not resume from ``path`` (``None``: it can, as far as file headers show)."""
    if not path.exists():
        return "no such folder"
    if not path.is_dir():
        return "not a folder"
    engine = engine_layout(path)
    if engine:  # DeepSpeed / FSDP keep optimizer (and sharded weights) in their own folders
        missing = [name for name in ("trainer_state.json", "scheduler.pt") if not (path / name).is_file()]
        missing += [name for name in engine if not (path / name).exists()]
    else:
        missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
        if not any((path / name).is_file() for name in WEIGHT_FILES):
            missing.append("adapter_model.safetensors (or model.safetensors)")
    if missing:
        return f"not a complete checkpoint: missing {', '.join(missing)}"
    import stat

    from cogip_tasks.files import read_user_json

    for file in sorted(path.rglob("*")):  # a FIFO or a device would block or never end the reads below
        try:
            mode = file.stat().st_mode
        except OSError as err:
            return f"{file.relative_to(path)}: cannot read it ({err.strerror or type(err).__name__})"
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            return f"{file.relative_to(path)}: not a regular file (a FIFO, a device or a socket)"
    try:  # bounded first (size, nesting depth): the Trainer's loader below reads with plain json
        read_user_json(path / "trainer_state.json", what="trainer state")
    except CogIPError as err:
        return f"trainer_state.json does not load: {err}"
    from transformers import TrainerState

    try:  # the Trainer's own loader, so anything it would refuse is refused here
        state = TrainerState.load_from_json(str(path / "trainer_state.json"))
    except (OSError, ValueError, TypeError) as err:
        return f"trainer_state.json does not load: {err}"
    if not isinstance(state.global_step, int) or state.global_step < 0:
        return f"trainer_state.json: global_step is {state.global_step!r}, not a step count"
    for file in sorted(path.iterdir()):
        problem = _file_problem(file)
        if problem:
            return f"{file.name}: {problem}"
    return None


def engine_layout(path: Path) -> tuple[str, ...]:
    """What a DeepSpeed (``latest`` -> ``global_stepN/``) or FSDP (``optimizer_0``) checkpoint must hold; empty
    for the plain Trainer layout."""
    latest = path / "latest"
    if latest.is_file():
        try:
            tag = latest.read_text(encoding="utf-8").strip()
        except OSError:
            tag = ""
        return ("latest", tag or "global_step*")
    if (path / "optimizer_0").exists() or (path / "pytorch_model_fsdp_0").exists():
        return ("optimizer_0",)
    return ()


def _file_problem(file: Path) -> str | None:
    """A truncated or garbled weights/optimizer file, found from its header or zip directory (not its data)."""
    if file.suffix == ".safetensors":
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(file), framework="pt"):
                return None
        except (SafetensorError, OSError) as err:
            return f"does not load: {err}"
    # torch.save writes a zip archive whose directory is at the end: a cut file has none.
    if file.suffix in (".pt", ".pth", ".bin") and not zipfile.is_zipfile(file):
        return "not a complete torch file (truncated or overwritten)"
    if file.name.endswith(".index.json"):
        try:
            json.loads(file.read_text(encoding="utf-8"))["weight_map"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            return f"does not load: {err!r}"
    return None


def resolve_resume(resume: str | bool | None, output_dir: Path) -> str | None:
    """The checkpoint folder ``--resume`` means, checked; ``None`` without ``--resume``.

    Bare ``--resume`` means the newest ``checkpoint-N`` in ``output_dir``; ``--resume DIR`` a checkpoint folder,
    or the newest checkpoint of a run folder. A checkpoint that cannot be used is an error, never skipped
    silently: the message names it and the newest usable one.
    """
    if resume is None:
        return None
    given = output_dir if resume is True else Path(resume)
    # A run folder holds checkpoint-N folders (and, once finished, the Trainer's own trainer_state.json at its
    # root, as a TRL run does); a checkpoint folder holds none.
    is_run_folder = given.is_dir() and bool(checkpoints(given))
    if resume is True or is_run_folder:
        found = checkpoints(given)
        if not found:
            raise CheckpointError(
                f"--resume: no checkpoint-* folder in {given} to resume from "
                "(start without --resume, or pass --resume CHECKPOINT_DIR)"
            )
        path, others = found[0], found[1:]
    else:
        path, others = given, checkpoints(given.parent)
    problem = checkpoint_problem(path)
    if problem is None:
        return str(path)
    usable = next((c for c in others if c != path and checkpoint_problem(c) is None), None)
    hint = f"; the newest usable checkpoint is {usable}: pass --resume {usable}" if usable else ""
    raise CheckpointError(f"--resume {path}: {problem}{hint}")


def check_output_dir(output_dir: Path, resuming: bool) -> None:
    """Refuse an ``--output-dir`` that cannot be written, or that holds an earlier run a fresh run would replace."""
    if output_dir.exists() and not output_dir.is_dir():
        raise CheckpointError(f"--output-dir {output_dir}: exists and is not a folder")
    existing = output_dir
    while not existing.exists():
        existing = existing.parent
    if not os.access(existing, os.W_OK | os.X_OK):
        raise CheckpointError(f"--output-dir {output_dir}: {existing} is not writable")
    if resuming or not output_dir.is_dir():
        return
    earlier = [p.name for p in checkpoints(output_dir)[:3]] + [n for n in RUN_FILES if (output_dir / n).exists()]
    if earlier:
        raise CheckpointError(
            f"--output-dir {output_dir} already holds a run ({', '.join(earlier)}); pass --resume to continue it, "
            "or choose another --output-dir (a fresh run would overwrite it)"
        )


# ---- run identity: a checkpoint continues only the run that wrote it ----------------------------------------------

#: Written into every checkpoint: the identity of the run that wrote it (:func:`run_identity`).
RUN_RECORD = "cogip_run.json"
#: Settings a resumed run may change: how long it runs, how it saves and logs, where it writes, memory use.
RESUMABLE = frozenset(
    {"epochs", "max_steps", "save_steps", "save_total_limit", "logging_steps", "gradient_checkpointing", "merge"}
    | {"quiet", "verbose"}  # what the console shows, not what the run learns
)
#: The run's own settings beyond the training config that change what it learns.
_RUN_FIELDS = ("method", "recipe", "split", "dimensions", "max_samples")


def run_identity(args: Any, model_args: str | dict[str, Any]) -> dict[str, Any]:
    """Every setting of a training run that changes what it learns (:mod:`cogip_tasks.identity`): the base
    model and all of its arguments but placement, the dataset (a local folder by its content), the split and
    dimensions, the method and recipe, and every training setting but :data:`RESUMABLE`."""
    from cogip_tasks.dataset import content_fingerprint, dataset_source, is_local_folder
    from cogip_tasks.identity import without_placement
    from cogip_tasks.model_args import parse_model_args

    from .config import FIELDS, GRPO_ONLY

    values = vars(args)
    settings = {k: values[k] for k in sorted(FIELDS | set(GRPO_ONLY) | set(_RUN_FIELDS)) if k in values}
    settings = {k: v for k, v in settings.items() if k not in RESUMABLE}
    source = dataset_source(args.dataset)
    return {
        **settings,
        "model_args": without_placement(parse_model_args(model_args)),
        "dataset": source,
        "dataset_content": content_fingerprint(source) if is_local_folder(source) else None,
    }


def check_resume_identity(checkpoint: str | Path, identity: dict[str, Any]) -> None:
    """Refuse to resume ``checkpoint`` under settings other than those of the run that wrote it, naming each
    differing field (a different base model, dataset, recipe or method would silently train another run)."""
    from cogip_tasks.files import read_user_json
    from cogip_tasks.identity import IdentityMismatch, require_same

    path = Path(checkpoint) / RUN_RECORD
    if not path.exists():
        raise CheckpointError(
            f"--resume {checkpoint}: no {RUN_RECORD} records the run that wrote it (an older cogip-train?), so "
            "whether this run continues it is unknown; start a new run in another --output-dir"
        )
    try:
        record = read_user_json(path, what="run record")
    except CogIPError as err:
        raise CheckpointError(f"--resume {checkpoint}: {err}") from None
    if not isinstance(record, dict) or not isinstance(record.get("identity"), dict):
        raise CheckpointError(f"--resume {checkpoint}: {path} holds no run identity")
    try:
        require_same(
            record["identity"],
            _plain(identity),
            f"--resume {checkpoint}",
            "a checkpoint continues only the run that wrote it",
        )
    except IdentityMismatch as err:
        raise CheckpointError(str(err)) from None


def _plain(identity: dict[str, Any]) -> dict[str, Any]:
    """The identity as it reads back from JSON (tuples as lists, paths as text)."""
    return json.loads(json.dumps(identity, default=str))


def identity_callback(identity: dict[str, Any]):
    """A ``TrainerCallback`` writing :data:`RUN_RECORD` into every checkpoint as it is saved (main process)."""
    from transformers import TrainerCallback

    from cogip_tasks.files import write_json
    from cogip_tasks.identity import identity_hash

    record = {"identity": _plain(identity), "hash": identity_hash(_plain(identity))}

    class RecordRunIdentity(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                write_json(Path(args.output_dir) / f"checkpoint-{state.global_step}" / RUN_RECORD, record)

    return RecordRunIdentity()
