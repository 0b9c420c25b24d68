"""Base vs aligned generation: every prompt x seed twice, same noise and settings, only the text encoder differs.

Output folder::

    base/<name>__seed<seed>.png      the pipeline's own text encoder
    aligned/<name>__seed<seed>.png   the aligned encoder
    grids/<name>__seed<seed>.png     base | aligned with the prompt as caption
    manifest.json                    prompts, seeds, every setting, file names, model ids

Resumable: an image whose file exists is not generated again (a rerun with nothing left loads no model), every
file is written to a temporary name and renamed, and the manifest is rewritten after each image. A rerun whose
settings or models differ from the manifest's stops with the differences instead of mixing two experiments.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    uses_cfg,
)
from .prompts import Prompt

VARIANTS = ("base", "aligned")
MANIFEST = "manifest.json"
FORMAT = "cogip-gen-1"


class ManifestError(ValueError):
    """An output folder whose manifest does not fit this run; the message names the differing entries."""


@dataclass(frozen=True)
class Item:
    name: str
    prompt: str
    seed: int

    @property
    def key(self) -> str:
        return f"{self.name}__seed{self.seed}"

    def file(self, variant: str) -> str:
        return f"{variant}/{self.key}.png"

    @property
    def grid(self) -> str:
        return f"grids/{self.key}.png"

    def record(self) -> dict[str, Any]:
        return {"name": self.name, "prompt": self.prompt, "seed": self.seed, "base": self.file("base"),
                "aligned": self.file("aligned"), "grid": self.grid}


def plan(prompts: list[Prompt], seeds: list[int]) -> list[Item]:
    return [Item(p.name, p.text, int(s)) for p in prompts for s in seeds]


def read_manifest(output_dir: str | Path) -> dict[str, Any] | None:
    import json

    path = Path(output_dir) / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ManifestError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ManifestError(f"{path}: not a cogip-gen manifest (format {FORMAT!r} expected)")
    return manifest


def encoder_identity(model: str, model_args: str | dict) -> dict[str, Any]:
    """What names the aligned encoder in the manifest: placement args (device...) are not part of its identity."""
    args = public_model_args(parse_model_args(model_args))
    return {"model": model, "pretrained": args.get("pretrained"), "adapter": args.get("adapter"), "model_args": args}


def _check_same_run(manifest: dict[str, Any], header: dict[str, Any], items: list[Item], where: Path) -> None:
    diffs = []
    for key in ("pipeline", "settings"):
        old, new = manifest.get(key), header[key]
        if isinstance(old, dict):
            diffs += [f"{key}.{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in new if old.get(k) != new.get(k)]
        elif old != new:
            diffs.append(f"{key}: {old!r} -> {new!r}")
    old_enc, new_enc = manifest.get("aligned_encoder", {}), header["aligned_encoder"]
    diffs += [f"aligned_encoder.{k}: {old_enc.get(k)!r} -> {new_enc[k]!r}"
              for k in ("model", "pretrained", "adapter") if old_enc.get(k) != new_enc[k]]
    known = {i["name"]: i["prompt"] for i in manifest.get("items", [])}
    diffs += [f"prompt {it.name!r}: {known[it.name]!r:.60} -> {it.prompt!r:.60}"
              for it in items if it.name in known and known[it.name] != it.prompt]
    if diffs:
        raise ManifestError(
            f"{where / MANIFEST}: this folder holds images made differently; use a new --output_dir or the same "
            "settings. Differences: " + "; ".join(dict.fromkeys(diffs))
        )


def _merge_items(manifest: dict[str, Any], items: list[Item]) -> None:
    by_key = {f"{i['name']}__seed{i['seed']}": i for i in manifest.get("items", [])}
    for it in items:
        by_key.setdefault(it.key, it.record())
    manifest["items"] = list(by_key.values())


def make_grids(output_dir: Path, items: list[Item], dimension: str | None = None) -> int:
    """Grids for items that have both images and no grid yet; returns how many were written."""
    from PIL import Image

    written = 0
    for it in items:
        files = [output_dir / it.file(v) for v in VARIANTS]
        if (output_dir / it.grid).exists() or not all(f.exists() for f in files):
            continue
        with Image.open(files[0]) as base, Image.open(files[1]) as aligned:
            footer = f"seed {it.seed}" + (f" · target: {dimension}" if dimension else "")
            grid = comparison_grid([base, aligned], ["base encoder", "aligned encoder"], it.prompt, footer)
        save_png(grid, output_dir / it.grid)
        written += 1
    return written


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def run_generation(output_dir: str | Path, prompts: list[Prompt], seeds: list[int], *, pipeline: str,
                   encoder_model: str, encoder_args: str | dict, settings: GenSettings | None = None,
                   device: str | None = None, offload: str = "none", dimension: str | None = None,
                   progress: bool = True) -> dict[str, Any]:
    """Generate the missing base/aligned images, then the grids; returns counts (``generated``, ``skipped``, ...)."""
    from tqdm.auto import tqdm

    settings = settings or GenSettings()

    out = Path(output_dir)
    items = plan(prompts, seeds)
    if not items:
        raise ValueError("nothing to generate: no prompts or no seeds")
    header = {"pipeline": str(pipeline), "settings": settings.as_dict(),
              "aligned_encoder": encoder_identity(encoder_model, encoder_args)}
    manifest = read_manifest(out)
    if manifest is not None:
        _check_same_run(manifest, header, items, out)
    else:
        manifest = {"format": FORMAT, **header, "dimension": dimension, "items": [], "runs": []}
    if dimension and not manifest.get("dimension"):
        manifest["dimension"] = dimension
    _merge_items(manifest, items)

    todo = [(it, v) for it in items for v in VARIANTS if not (out / it.file(v)).exists()]
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    if todo:
        device = device or default_device()
        check_placement(device, offload)  # before anything loads
        manifest.update(_render_all(out, todo, manifest, header, (encoder_model, encoder_args), settings, device,
                                    offload, progress, tqdm))
    grids = make_grids(out, items, manifest.get("dimension"))
    manifest["runs"].append({"started": started, "generated": len(todo), "grids": grids,
                             "device": device if todo else None, "offload": offload if todo else None})
    write_json(out / MANIFEST, manifest)
    return {"generated": len(todo), "skipped": 2 * len(items) - len(todo), "grids": grids,
            "manifest": str(out / MANIFEST)}


def _render_all(out: Path, todo: list[tuple[Item, str]], manifest: dict[str, Any], header: dict[str, Any],
                encoder: tuple[str, str | dict], settings: GenSettings, device: str, offload: str, progress: bool,
                tqdm) -> dict[str, Any]:
    """Encode every needed prompt with each encoder in turn, then place the pipeline and denoise."""
    from .encoders import (
        check_hidden_size,
        check_same_tokenizer,
        config_hidden_size,
        load_aligned_encoder,
        resolve_encoder_args,
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
    bar = tqdm(total=sum(len(t) + (negative is not None) for t in texts.values() if t), desc="encoding prompts",
               disable=not progress)
    extra: dict[str, Any] = {"base_encoder": {"class": type(pipe.text_encoder).__name__,
                                              "name_or_path": pipe.text_encoder.config._name_or_path}}
    for variant in VARIANTS:
        if not texts[variant]:
            continue
        if variant == "base":
            text_encoder = pipe.text_encoder
        else:
            aligned = load_aligned_encoder(encoder_model, encoder_args, pipeline_dim=pipe_dim,
                                           pipeline_name=header["pipeline"])
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
    for it, variant in tqdm(todo, desc="generating images", disable=not progress):
        table = embeds[variant]
        image = render(pipe, table[it.prompt], table.get(negative) if negative is not None else None, it.seed, settings)
        save_png(image, out / it.file(variant))
        write_json(out / MANIFEST, manifest)  # a crash keeps the record of everything written so far
    return extra
