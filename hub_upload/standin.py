"""Stand-ins for what is not at hand: images for a release (tests, the benchmark, dry runs), and whole releases.

Every image a release names gets a procedural picture (``cogip_tasks.synthetic``) under its own file name,
seeded by dimension and image number so that no two stand-ins share bytes (which the audit would call leakage).
The image root gets a marker file (:data:`STAND_IN_MARKER`); a build whose images carry the marker, or whose
sampled images are byte-identical to the stand-ins, is marked a stand-in build (manifest and card), and
``push`` refuses it unless ``--allow-stand-in``.
:func:`write_synthetic_release` writes annotation files in the release's exact format with random scores, for
tests and for benchmarking when ``../shared/cogip_release`` is absent.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from tqdm import tqdm

from cogip_tasks.dimensions import DIMENSIONS, Dimension, format_target
from cogip_tasks.prompts import DEFAULT_PROMPTS
from cogip_tasks.synthetic import jpeg_bytes, procedural_image

from .release import InputError, Release

#: Written into every stand-in image root; a visible name, so that copying the folder's files keeps it.
STAND_IN_MARKER = "COGIP_STAND_IN_IMAGES.txt"
_MARKER_TEXT = ("The images in this folder are procedural stand-ins written by `cogip-upload stand-in-images`,\n"
                "not the CogIP-Bench images. A dataset built from them is marked as a stand-in build.\n")


def image_paths(release: Release) -> list[str]:
    """``<Dim>/NNNNNN.jpg`` of every image named by the score files, the training JSON or the test files."""
    paths = {f"{DIMENSIONS[line.dimension].release_name}/{line.stem}.jpg" for lines in release.scores.values() for line in lines}
    paths |= {item.image for item in release.training + release.test_pool}
    return sorted(paths)


MIN_SIZE, MAX_SIZE = 8, 4096  # sides in pixels: below 8 JPEG has nothing to draw; above 4096 is hours of work


def standin_seed(image: str) -> int:
    folder, name = image.split("/")
    index = [d.release_name for d in DIMENSIONS.values()].index(folder)
    stem = name.removesuffix(".jpg")
    if stem.isascii() and stem.isdigit():
        return index * 1_000_000 + int(stem)
    return index * 1_000_000 + 100_000_000 + int(hashlib.sha256(stem.encode()).hexdigest()[:12], 16)


def standin_bytes(image: str, size: int) -> bytes:
    return jpeg_bytes(procedural_image(standin_seed(image), size=size))


def _target(root: Path, image: str) -> Path:
    """``root / image``, refusing a path that would leave ``root`` (the release parser already refuses these)."""
    target = (root / image).resolve()
    if not target.is_relative_to(root.resolve()) or Path(image).is_absolute():
        raise InputError(f"stand-in image {image!r}: leaves the output folder {root}; refused")
    return target


def write_standin_images(release: Release, root: str | Path, size: int = 48, progress: bool = True) -> int:
    """Write a JPEG for every image of the release under ``root``; returns how many were written.

    ``root`` must be new, empty or an earlier stand-in folder (it has the marker): real images are never
    overwritten by stand-ins.
    """
    root = Path(root)
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise InputError(f"--size {size}: must be between {MIN_SIZE} and {MAX_SIZE} pixels")
    if root.exists() and not root.is_dir():
        raise InputError(f"--out {root}: exists and is not a folder")
    if root.is_dir() and any(root.iterdir()) and not (root / STAND_IN_MARKER).is_file():
        raise InputError(f"--out {root}: holds files but no {STAND_IN_MARKER}: stand-ins are written only into a new, "
                         "empty or earlier stand-in folder (never over real images)")
    paths = image_paths(release)
    targets = [_target(root, image) for image in paths]  # all checked before anything is written
    root.mkdir(parents=True, exist_ok=True)
    (root / STAND_IN_MARKER).write_text(_MARKER_TEXT, encoding="utf-8")
    for image, target in tqdm(list(zip(paths, targets)), desc="stand-in images", unit="img", disable=not progress):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(standin_bytes(image, size))
    return len(paths)


def stand_in_evidence(release: Release, images_root: str | Path, report) -> str | None:
    """Why these images are stand-ins (marker file, or sampled images byte-identical to stand-ins), else None."""
    from PIL import Image

    images_root = Path(images_root)
    if (images_root / STAND_IN_MARKER).is_file():
        return f"the image folder holds {STAND_IN_MARKER}"
    first: dict[str, str] = {}  # one readable image per dimension folder, the first in sorted order
    for image in sorted(report.image_sha256):
        first.setdefault(image.split("/")[0], image)
    for image in first.values():
        try:
            with Image.open(images_root / image) as img:
                width, height = img.size
        except Exception:  # unreadable now: not evidence either way
            continue
        if width == height and hashlib.sha256(standin_bytes(image, width)).hexdigest() == report.image_sha256[image]:
            return f"{image} is byte-identical to the procedural stand-in for that name"
    return None


# The real release's test-pool sizes (train: 800 per dimension).
RELEASE_POOL_SIZES = {"aesthetics": 120, "funniness": 199, "emotional_valence": 700, "memorability": 700}


def _random_score(dim: Dimension, rng: np.random.Generator) -> float:
    if dim.integer_scores:
        return float(rng.integers(int(dim.low), int(dim.high) + 1))
    return round(float(rng.uniform(dim.low + 0.05 * (dim.high - dim.low), dim.high)), 3)


def write_synthetic_release(root: str | Path, n_train: int = 4, pool_sizes: dict[str, int] | int = 5,
                            seed: int = 0) -> Path:
    """A release laid out like the real one (train images 000000.., test pool 000800..), random in-range scores."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    (root / "cognition_scores").mkdir(parents=True)
    training = []
    for dim in DIMENSIONS.values():
        n_pool = pool_sizes if isinstance(pool_sizes, int) else pool_sizes[dim.key]
        prompt = "<image>  \n" + DEFAULT_PROMPTS[dim.key] + "  \n\n"  # as the release writes it
        stems = [f"{i:06d}" for i in range(n_train)] + [f"{800 + i:06d}" for i in range(n_pool)]
        scores = {stem: _random_score(dim, rng) for stem in stems}
        answer = {stem: format_target(scores[stem], dim) for stem in stems}
        (root / "cognition_scores" / f"{dim.release_name}_scores.txt").write_text(
            "\n".join(f"{stem}.jpg\t{scores[stem]:.3f}" for stem in stems))
        training += [{"id": f"{i:05d}", "image": [f"{dim.release_name}/{stem}.jpg"],
                      "conversations": [{"from": "human", "value": prompt}, {"from": "gpt", "value": answer[stem]}]}
                     for i, stem in enumerate(stems[:n_train])]
        folder = root / "test_msg_file" / dim.release_name
        folder.mkdir(parents=True)
        pool = stems[n_train:]
        messages = [[{"role": "user", "content": [{"type": "image", "image": f"{dim.release_name}/{s}.jpg"},
                                                  {"type": "text", "text": prompt}]}] for s in pool]
        (folder / f"{dim.release_name}_messages.json").write_text(json.dumps(messages, indent=1))
        (folder / f"{dim.release_name}_scores.json").write_text(json.dumps([answer[s] for s in pool], indent=1))
    (root / "cognition_training.json").write_text(json.dumps(training, indent=1))
    return root
