"""Base vs aligned generation: every prompt x seed twice, same noise and settings, only the text encoder differs.

Output folder::

    base/<name>__seed<seed>.png      the pipeline's own text encoder
    aligned/<name>__seed<seed>.png   the aligned encoder
    grids/<name>__seed<seed>.png     base | aligned with the prompt as caption
    manifest.json                    prompts, seeds, every setting, file names, model ids

Resumable: every file is written to a temporary name and renamed, and after each image the manifest records it
(the item's ``written`` list). A rerun regenerates only what the manifest does not record (a rerun with nothing
left loads no model). A rerun whose settings or models differ from the manifest's stops with the differences
instead of mixing two experiments.

Only a valid manifest proves how an image was made. A folder that holds images but no readable manifest (it was
deleted, or is corrupt) is refused, because its images may come from other settings; ``overwrite=True``
(``--overwrite``) regenerates every image of the run instead (a corrupt manifest is kept beside it as
``manifest.json.corrupt-<time>``), and images the run does not plan stay unrecorded, so no later run reuses them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cogip_tasks.errors import CogIPError
from cogip_tasks.files import UserFileError, read_user_bytes, read_user_json
from cogip_tasks.identity import identity_hash, without_placement
from cogip_tasks.images import ImageError, decode_image

from .encoders import resolve_encoder_args
from .files import save_png, write_json
from .grid import comparison_grid
from .harness import parse_model_args, public_model_args
from .pipeline import (
    GenSettings,
    check_placement,
    encode,
    load_pipeline,
    pipeline_text_dim,
    place,
    render,
    text_encoder_in,
    torch_dtype,
    uses_cfg,
)
from .prompts import DIRECTIONS, SAFE_NAME, Prompt

VARIANTS = ("base", "aligned")
GRID = "grid"
MANIFEST = "manifest.json"
FORMAT = "cogip-gen-2"
_LEGACY_FORMATS = ("cogip-gen-1",)  # no `written` lists: the files it names were made with its settings
IMAGE_FOLDERS = ("base", "aligned", "grids")
MAX_SEED = 2**64 - 1  # torch.Generator.manual_seed takes 0 .. 2**64 - 1


class ManifestError(CogIPError, ValueError):
    """An output folder whose manifest does not fit this run; the message names the differing entries."""


@dataclass(frozen=True)
class Item:
    name: str
    prompt: str
    seed: int
    direction: str | None = None  # the emotional direction stated in the prompts file (see prompts.py)

    @property
    def key(self) -> str:
        return f"{self.name}__seed{self.seed}"

    def file(self, variant: str) -> str:
        return f"{variant}/{self.key}.png"

    @property
    def grid(self) -> str:
        return f"grids/{self.key}.png"

    def record(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "prompt": self.prompt,
            "seed": self.seed,
            "direction": self.direction,
            "base": self.file("base"),
            "aligned": self.file("aligned"),
            "grid": self.grid,
            "written": [],
        }


def item_key(record: dict[str, Any]) -> str:
    """``<name>__seed<seed>`` of a manifest item: its file names and its key in the judge's answers."""
    return Item(record["name"], record["prompt"], record["seed"]).key


def check_seeds(seeds: list[int]) -> list[int]:
    """Seeds as given, repeats dropped (a repeated seed would make the same image twice)."""
    bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= MAX_SEED]
    if bad:
        raise ManifestError(f"--seeds {bad[0]!r}: a seed is a whole number from 0 to {MAX_SEED}")
    return list(dict.fromkeys(seeds))


def plan(prompts: list[Prompt], seeds: list[int]) -> list[Item]:
    return [Item(p.name, p.text, int(s), p.direction) for p in prompts for s in check_seeds(seeds)]


def _check_item(record: object, where: str, legacy: bool) -> dict[str, Any]:
    """One manifest item, checked field by field; its file names must be the ones its name and seed give (a
    manifest never points the judge outside the folder)."""
    if not isinstance(record, dict):
        raise ManifestError(f"{where}: expected an object, got {type(record).__name__}")
    for key, kind in (("name", str), ("prompt", str), ("seed", int)):
        if not isinstance(record.get(key), kind) or isinstance(record.get(key), bool):
            raise ManifestError(f"{where}.{key}: expected {kind.__name__}, got {record.get(key)!r:.60}")
    if not SAFE_NAME.match(record["name"]) or not 0 <= record["seed"] <= MAX_SEED:
        raise ManifestError(f"{where}: name {record['name']!r:.60} / seed {record['seed']} not usable in file names")
    if record.get("direction") not in (None, *DIRECTIONS):
        raise ManifestError(f"{where}.direction: {record.get('direction')!r:.60} is not one of {DIRECTIONS}")
    expected = Item(record["name"], record["prompt"], record["seed"]).record()
    for key in (*VARIANTS, GRID):
        if record.get(key) != expected[key]:
            raise ManifestError(f"{where}.{key}: {record.get(key)!r:.80} (expected {expected[key]!r})")
    if not legacy:
        written = record.get("written")
        if not isinstance(written, list) or not set(written) <= {*VARIANTS, GRID}:
            raise ManifestError(f"{where}.written: {written!r:.80} (a list of {', '.join((*VARIANTS, GRID))})")
    return record


def read_manifest(output_dir: str | Path) -> dict[str, Any] | None:
    """The folder's manifest, checked; None when there is none. A manifest of the previous format (no ``written``
    lists) is read as recording every file it names that exists."""
    out = Path(output_dir)
    path = out / MANIFEST
    if not path.exists() and not path.is_symlink():
        return None
    try:
        manifest = read_user_json(path, what="cogip-gen manifest")
    except UserFileError as err:
        raise ManifestError(str(err)) from None
    fmt = manifest.get("format") if isinstance(manifest, dict) else None
    if fmt != FORMAT and fmt not in _LEGACY_FORMATS:
        raise ManifestError(f"{path}: not a cogip-gen manifest (format {FORMAT!r} expected)")
    for key, kind in (("items", list), ("runs", list), ("settings", dict), ("aligned_encoder", dict)):
        if not isinstance(manifest.get(key), kind):
            raise ManifestError(f"{path}: field {key!r} must be a {kind.__name__}, got {manifest.get(key)!r:.60}")
    legacy = fmt in _LEGACY_FORMATS
    manifest["items"] = [_check_item(r, f"{path}: items[{i}]", legacy) for i, r in enumerate(manifest["items"])]
    first: dict[str, int] = {}
    for i, record in enumerate(manifest["items"]):
        j = first.setdefault(item_key(record), i)
        if j != i:
            raise ManifestError(f"{path}: items[{i}] repeats items[{j}] ({item_key(record)})")
    if legacy:
        for record in manifest["items"]:
            record["written"] = [k for k in (*VARIANTS, GRID) if (out / record[k]).exists()]
        manifest["format"] = FORMAT
    return manifest


def proven(output_dir: Path, record: dict[str, Any], part: str) -> bool:
    """Whether the manifest records ``part`` (a variant or the grid) of this item as written and the file is there."""
    return part in record.get("written", []) and (output_dir / record[part]).is_file()


def unproven_images(output_dir: Path) -> list[Path]:
    """Images in the generation sub-folders (used when no valid manifest says how they were made)."""
    return sorted(p for sub in IMAGE_FOLDERS if (output_dir / sub).is_dir() for p in (output_dir / sub).glob("*.png"))


def encoder_identity(model: str, model_args: str | dict) -> dict[str, Any]:
    """What names the aligned encoder in the manifest: placement args (device...) are not part of its identity."""
    args = public_model_args(parse_model_args(model_args))
    return {"model": model, "pretrained": args.get("pretrained"), "adapter": args.get("adapter"), "model_args": args}


def run_identity(pipeline: str, settings: dict[str, Any], encoder_model: str, encoder_args: str | dict) -> str:
    """The run identity (:mod:`cogip_tasks.identity`) of a folder's images: the pipeline, every generation
    setting and the aligned encoder with all of its arguments but placement (``revision=`` included, private
    values too: only their hash is recorded). An image is reused only under the same identity, prompt and seed."""
    args = without_placement(parse_model_args(encoder_args))
    return identity_hash(
        {"pipeline": pipeline, "settings": settings, "aligned_encoder": {"model": encoder_model, "model_args": args}}
    )


def _check_same_run(manifest: dict[str, Any], header: dict[str, Any], items: list[Item], where: Path) -> None:
    """Refuse a folder made by another run. Decided by the run identity alone (:func:`run_identity`: every setting
    and encoder argument, private ones by their hash); the recorded, published fields only name what differs."""
    diffs = []
    if manifest.get("identity") != header["identity"]:  # anything that changes the images, shown or not
        for key in ("pipeline", "settings"):
            old, new = manifest.get(key), header[key]
            if isinstance(old, dict):
                diffs += [f"{key}.{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in new if old.get(k) != new.get(k)]
            elif old != new:
                diffs.append(f"{key}: {old!r} -> {new!r}")
        old_enc, new_enc = manifest.get("aligned_encoder"), header["aligned_encoder"]
        old_enc = old_enc if isinstance(old_enc, dict) else {}
        diffs += [
            f"aligned_encoder.{k}: {old_enc.get(k)!r} -> {new_enc[k]!r}"
            for k in ("model", "pretrained", "adapter")
            if old_enc.get(k) != new_enc[k]
        ]
        if not diffs:  # only a value that is not published (a private argument, revision=...) or an older manifest
            diffs.append(
                "the run identity (pipeline, settings or an aligned-encoder argument such as revision=)"
                if "identity" in manifest
                else "the run identity (not recorded by an older cogip-gen)"
            )
    known = {i["name"]: i for i in manifest.get("items", [])}
    diffs += [
        f"prompt {it.name!r}: {known[it.name]['prompt']!r:.60} -> {it.prompt!r:.60}"
        for it in items
        if it.name in known and known[it.name]["prompt"] != it.prompt
    ]
    diffs += [
        f"prompt {it.name!r} direction: {known[it.name].get('direction')!r} -> {it.direction!r}"
        for it in items
        if it.name in known and known[it.name].get("direction") != it.direction
    ]
    if diffs:
        raise ManifestError(
            f"{where / MANIFEST}: this folder holds images made differently; use a new --output-dir or the same "
            "settings. Differences: " + "; ".join(dict.fromkeys(diffs))
        )


def _merge_items(manifest: dict[str, Any], items: list[Item]) -> dict[str, dict[str, Any]]:
    """Add the planned items the manifest lacks; returns the manifest's item records by key."""
    by_key = {item_key(i): i for i in manifest.get("items", [])}
    for it in items:
        by_key.setdefault(it.key, it.record())
    manifest["items"] = list(by_key.values())
    return by_key


def _open_image(path: Path):
    """An image of the folder by the one image rule; a damaged file is one line naming it (delete it and rerun)."""
    try:
        return decode_image(read_user_bytes(path, what="image"), f"{path}: image")
    except (UserFileError, ImageError) as err:
        raise ManifestError(f"{err}; delete it and rerun to regenerate it") from None


def make_grids(
    output_dir: Path,
    records: dict[str, dict[str, Any]],
    keys: list[str],
    manifest: dict[str, Any],
    dimension: str | None = None,
) -> int:
    """Grids for the items of ``keys`` whose two images are recorded and whose grid is not; returns how many."""
    written = 0
    for key in keys:
        record = records[key]
        if proven(output_dir, record, GRID) or not all(proven(output_dir, record, v) for v in VARIANTS):
            continue
        base, aligned = (_open_image(output_dir / record[v]) for v in VARIANTS)
        with base, aligned:
            footer = f"seed {record['seed']}" + (f" · target: {dimension}" if dimension else "")
            grid = comparison_grid([base, aligned], ["base encoder", "aligned encoder"], record["prompt"], footer)
        save_png(grid, output_dir / record[GRID])
        record["written"].append(GRID)
        write_json(output_dir / MANIFEST, manifest)
        written += 1
    return written


def _start_manifest(
    out: Path, header: dict[str, Any], items: list[Item], dimension: str | None, overwrite: bool
) -> dict[str, Any]:
    """The folder's manifest checked against this run, or a new one where no valid manifest proves anything."""
    try:
        manifest = read_manifest(out)
    except ManifestError as err:
        if not overwrite:
            raise ManifestError(
                f"{err}; its images' settings are unknown: use a new --output-dir, or --overwrite to regenerate them"
            ) from None
        backup = out / f"{MANIFEST}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}"
        (out / MANIFEST).replace(backup)  # kept for the user, never read again
        manifest = None
    images = unproven_images(out)
    if manifest is not None and not images and not any(r["written"] for r in manifest["items"]):
        manifest = None  # it records no image (a run that failed before its first): nothing to stay consistent with
    if manifest is not None:
        _check_same_run(manifest, header, items, out)
        return manifest
    if images and not overwrite:
        raise ManifestError(
            f"{out}: holds {len(images)} image(s) ({images[0].relative_to(out)}, ...) but no {MANIFEST} records how "
            "they were made; use a new --output-dir, or --overwrite to regenerate them"
        )
    return {"format": FORMAT, **header, "dimension": dimension, "items": [], "runs": []}


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def run_generation(
    output_dir: str | Path,
    prompts: list[Prompt],
    seeds: list[int],
    *,
    pipeline: str,
    encoder_model: str,
    encoder_args: str | dict,
    settings: GenSettings | None = None,
    device: str | None = None,
    offload: str = "none",
    dimension: str | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Generate the base/aligned images the manifest does not record, then the grids; returns counts
    (``generated``, ``skipped``, ...). ``overwrite``: see the module docstring."""
    from tqdm.auto import tqdm

    settings = settings or GenSettings()
    torch_dtype(settings.dtype)  # a typo fails now, not after the encoders ran

    out = Path(output_dir)
    items = plan(prompts, seeds)
    if not items:
        raise ManifestError("nothing to generate: no prompts or no seeds")
    header = {
        "pipeline": str(pipeline),
        "settings": settings.as_dict(),
        "aligned_encoder": encoder_identity(encoder_model, encoder_args),
    }
    header["identity"] = run_identity(str(pipeline), header["settings"], encoder_model, encoder_args)
    manifest = _start_manifest(out, header, items, dimension, overwrite)
    if dimension and not manifest.get("dimension"):
        manifest["dimension"] = dimension
    records = _merge_items(manifest, items)

    todo = [(it, v) for it in items for v in VARIANTS if not proven(out, records[it.key], v)]
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    if todo:
        device = device or default_device()
        check_placement(device, offload)  # before anything loads
        if any(v == "aligned" for _, v in todo):
            resolve_encoder_args(encoder_args)  # the adapter and its base exist: checked before any download
        out.mkdir(parents=True, exist_ok=True)  # a folder that cannot be made fails before the models load
        for it, v in todo:  # about to be (re)made: neither it nor a grid built from it is recorded any more
            records[it.key]["written"] = [w for w in records[it.key]["written"] if w not in (v, GRID)]
        manifest.update(
            _render_all(
                out,
                todo,
                manifest,
                records,
                header,
                (encoder_model, encoder_args),
                settings,
                device,
                offload,
                progress,
                tqdm,
            )
        )
    grids = make_grids(out, records, [it.key for it in items], manifest, manifest.get("dimension"))
    manifest["runs"].append(
        {
            "started": started,
            "generated": len(todo),
            "grids": grids,
            "device": device if todo else None,
            "offload": offload if todo else None,
        }
    )
    write_json(out / MANIFEST, manifest)
    return {
        "generated": len(todo),
        "skipped": 2 * len(items) - len(todo),
        "grids": grids,
        "manifest": str(out / MANIFEST),
    }


def _render_all(
    out: Path,
    todo: list[tuple[Item, str]],
    manifest: dict[str, Any],
    records: dict[str, dict[str, Any]],
    header: dict[str, Any],
    encoder: tuple[str, str | dict],
    settings: GenSettings,
    device: str,
    offload: str,
    progress: bool,
    tqdm,
) -> dict[str, Any]:
    """Encode every needed prompt with each encoder in turn, then place the pipeline and denoise."""
    from .encoders import (
        check_hidden_size,
        check_same_tokenizer,
        config_hidden_size,
        load_aligned_encoder,
    )

    enc = header["aligned_encoder"]
    encoder_model, encoder_args = encoder
    name = f"{enc['model']}:{enc['pretrained'] or enc['adapter']}"
    pipe_dim = pipeline_text_dim(header["pipeline"])
    if any(v == "aligned" for _, v in todo):  # fail on a width mismatch before loading any weights
        args, _ = resolve_encoder_args(encoder_args)
        check_hidden_size(config_hidden_size(str(args["pretrained"])), pipe_dim, name, header["pipeline"])

    pipe = load_pipeline(header["pipeline"], settings.dtype)
    texts = {v: sorted({it.prompt for it, var in todo if var == v}) for v in VARIANTS}
    negative = settings.negative_prompt if uses_cfg(settings) else None
    embeds: dict[str, dict[str, Any]] = {}
    bar = tqdm(
        total=sum(len(t) + (negative is not None) for t in texts.values() if t),
        desc="encoding prompts",
        disable=not progress,
    )
    extra: dict[str, Any] = {
        "base_encoder": {
            "class": type(pipe.text_encoder).__name__,
            "name_or_path": pipe.text_encoder.config._name_or_path,
        }
    }
    for variant in VARIANTS:
        if not texts[variant]:
            continue
        if variant == "base":
            text_encoder = pipe.text_encoder
        else:
            aligned = load_aligned_encoder(
                encoder_model, encoder_args, pipeline_dim=pipe_dim, pipeline_name=header["pipeline"]
            )
            probe = pipe.prompt_template_encode.format(texts[variant][0])
            check_same_tokenizer(pipe.tokenizer, aligned.tokenizer, probe, name)
            text_encoder = aligned.model
            extra["aligned_encoder"] = {**enc, "class": type(text_encoder).__name__}
        with text_encoder_in(pipe, text_encoder, device):
            embeds[variant] = {}
            for text in texts[variant] + ([negative] if negative is not None else []):
                embeds[variant][text] = encode(pipe, text, device, settings)
                bar.update()
        if variant == "aligned":
            del text_encoder, aligned  # only the embeddings are needed from here on
    bar.close()

    place(pipe, device, offload)
    manifest.update(extra)
    write_json(out / MANIFEST, manifest)  # before the first image: a folder never holds images but no manifest
    for it, variant in tqdm(todo, desc="generating images", disable=not progress):
        table = embeds[variant]
        image = render(pipe, table[it.prompt], table.get(negative) if negative is not None else None, it.seed, settings)
        save_png(image, out / it.file(variant))
        records[it.key]["written"].append(variant)
        write_json(out / MANIFEST, manifest)  # a crash keeps the record of everything written so far
    return extra
