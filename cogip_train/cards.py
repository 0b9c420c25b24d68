"""Model cards of a ``cogip-train`` run, written with ``huggingface_hub.ModelCard`` into the run root, ``adapter/``
(or ``model/``) and ``merged/``, as TRL's trainers leave a card beside what they save.

A card says what made the model: the base model (as its Hub id when it has one), the dataset, the method and
recipe with every setting, the training loss and final metrics, the package versions, and how to evaluate the
model with ``cogip-eval``. It replaces the template PEFT writes (``[More Information Needed]``); nothing on it is
a local path (folders appear by their base name, model arguments through
:func:`cogip_tasks.model_args.published_args`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cogip_tasks.dataset import hub_revision, looks_like_path
from cogip_tasks.model_args import REMOVED, parse_model_args, published_args, published_value

CARD = "README.md"
#: What each saved folder holds, as its card's first line says.
KINDS = {
    "run": "the folder of",
    "adapter": "the LoRA adapter of",
    "full": "the fine-tuned model (full weights) of",
    "merged": "the merged model (base + LoRA adapter) of",
}
METHODS = {
    "sft": "soft-label SFT (digit soft labels around the human score, `cogip_train.soft_label`)",
    "grpo": "GRPO (TRL's `GRPOTrainer` with the `cogip_train.rewards` rewards)",
}
_HUB_CACHE_DIR = re.compile(r"(?:^|/)models--([^/]+?)--([^/]+)/snapshots/[0-9a-f]{40}/?$")


def base_model_id(pretrained: str) -> str | None:
    """The base model's Hub id: the id as given, the id of a Hub-cache snapshot folder, or the ``base_model`` a
    card in the folder names (a model saved by an earlier cogip-train run); None for other local folders."""
    if not looks_like_path(pretrained):
        return published_value("pretrained", pretrained)
    folder = Path(pretrained).expanduser()
    match = _HUB_CACHE_DIR.search(folder.resolve().as_posix())
    if match:
        return f"{match.group(1)}/{match.group(2)}"
    if (folder / CARD).is_file():
        from huggingface_hub import ModelCard

        try:
            named = ModelCard.load(folder / CARD).data.to_dict().get("base_model")
        except Exception:  # noqa: BLE001  any unreadable card: the base model is not known
            return None
        named = named[0] if isinstance(named, list) and named else named
        return named if isinstance(named, str) and not looks_like_path(named) else None
    return None


def dataset_id(source: str) -> str | None:
    """The training dataset's Hub id (without ``@revision``), or None for a local folder."""
    repo, _ = hub_revision(source)
    return None if looks_like_path(source) else repo


def _cell(value: Any) -> str:
    text = "—" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _settings_table(settings: dict[str, Any], header: str = "setting") -> str:
    rows = [f"| `{key}` | {_cell(value)} |" for key, value in settings.items() if not isinstance(value, dict)]
    rows += [
        f"| `{key}.{sub}` | {_cell(v)} |"
        for key, value in settings.items()
        if isinstance(value, dict)
        for sub, v in value.items()
    ]
    return f"| {header} | value |\n|---|---|\n" + "\n".join(rows)


def _losses(log_history: list[dict]) -> tuple[Any, Any, int]:
    losses = [e["loss"] for e in log_history if "loss" in e]
    return (losses[0] if losses else None), (losses[-1] if losses else None), len(losses)


def model_card(
    kind: str,
    *,
    name: str,
    model: str,
    model_args: str,
    dataset: str,
    method: str,
    recipe: str | None,
    settings: dict[str, Any],
    log_history: list[dict],
    metrics: dict[str, Any],
    versions: dict[str, str | None],
    rows_per_dimension: dict[str, int],
    evaluate: str | None,
):
    """The card of one folder of a run (``kind``: run, adapter, full or merged); ``evaluate`` is the folder
    lmms-eval loads (``<run>/merged`` or ``<run>/model``), None when the run saved only an adapter."""
    from huggingface_hub import ModelCard, ModelCardData

    pretrained = str(parse_model_args(model_args).get("pretrained") or "")
    base = base_model_id(pretrained) if pretrained else None
    local_name = published_value("pretrained", pretrained)
    base_shown = base or (f"a local model (`{local_name}`)" if local_name else "a local model")
    data = dataset_id(dataset)
    data_shown = data or (f"a local dataset folder ({Path(dataset).name})" if dataset else "—")
    adapter = kind == "adapter" or (kind == "run" and settings.get("uses_lora"))
    card_data = ModelCardData(
        base_model=base,
        datasets=[data] if data else None,
        library_name="peft" if adapter else "transformers",
        pipeline_tag="image-text-to-text",
        tags=["cogip", "cogip-train", method, "lmms-eval", *(["lora"] if adapter else [])],
    )
    first, last, n_logged = _losses(log_history)
    recipe_line = (
        f"`--recipe {recipe}`, flags given on the command line override it"
        if recipe
        else "none: cogip-train's defaults and the flags below"
    )
    published = ",".join(
        f"{k}={v}" for k, v in published_args(model_args).items() if v != REMOVED and k != "pretrained"
    )
    extra_args = f",{published}" if published else ""
    dims = ", ".join(f"{key} {n}" for key, n in rows_per_dimension.items())
    body = f"""
# {name}{"" if kind == "run" else f" ({kind})"}

This is {KINDS[kind]} the run **{name}**: {base_shown} aligned with human judgements of images by `cogip-train`
(method below), on CogIP-Bench's subjective image properties.

## Training

- **Base model:** {base_shown}{"" if base else " (no Hub id known)"}, loaded through lmms-eval's `{model}` wrapper
- **Dataset:** {data_shown}{f" at revision `{hub_revision(dataset)[1]}`" if hub_revision(dataset)[1] else ""}, split
  `{settings.get("split", "train")}`; rows per dimension: {dims or "—"}
- **Method:** {METHODS.get(method, method)}
- **Recipe:** {recipe_line}

{_settings_table(settings)}

## Results

- **Training loss:** {_cell(metrics.get("train_loss"))} averaged over the run's steps; {_cell(first)} at the
  first logged step, {_cell(last)} at the last ({n_logged} logged; every one in `train_log.json` and
  `trainer_state.json`)
- **Final metrics** (`train_results.json`):

{_settings_table(metrics, "metric") if metrics else "(none recorded)"}

Agreement with human scores is not measured during training: evaluate the model (below) on the test split.

## Evaluate it with cogip-eval

{_evaluate(model, evaluate, extra_args)}

## Framework versions

{chr(10).join(f"- {package}: {version or 'not installed'}" for package, version in versions.items())}
"""
    return ModelCard(f"---\n{card_data.to_yaml()}\n---\n{body}")


def _evaluate(model: str, folder: str | None, extra_args: str) -> str:
    if folder is None:
        return (
            "lmms-eval loads full models: train with `--merge` to get `merged/`, or merge the adapter into the base "
            "model with `peft` (`PeftModel.from_pretrained(base, adapter).merge_and_unload()`), then evaluate that "
            f"folder with `cogip-eval --model {model} --model_args pretrained=<folder> --tasks cogip`."
        )
    return f"""From the folder that holds the run (or with the Hub id once pushed):

```bash
cogip-eval --model {model} --model_args pretrained={folder}{extra_args} \\
    --tasks cogip --output_path results/ --log_samples
cogip-leaderboard submit results/ -o submission.json   # then: cogip-leaderboard verify submission.json
```"""


def write_cards(folders: dict[str, Path], **card_args: Any) -> list[Path]:
    """Write ``README.md`` into each ``{kind: folder}`` that exists (replacing PEFT's template card); the
    ``run`` folder names the run."""
    run_name = folders["run"].name
    written = []
    for kind, folder in folders.items():
        if folder.is_dir():
            card = model_card(kind, name=run_name, **card_args)
            from cogip_tasks.files import write_text

            written.append(write_text(folder / CARD, str(card)))
    return written
