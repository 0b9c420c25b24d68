"""Stand-in images for a release whose images are not at hand (``cogip-upload stand-in-images``: dry runs, tests).

Every image a release names gets a procedural picture (``cogip_tasks.synthetic``) under its own file name,
seeded by dimension and image number so that no two stand-ins share bytes (which the audit would call leakage).
The image root gets a marker file (:data:`STAND_IN_MARKER`); a build whose images carry the marker, or any of
whose images (every one is looked at) is byte-identical to its stand-in, is marked a stand-in build (manifest
and card), and ``push`` refuses it unless ``--allow-stand-in``.
(A whole synthetic release, for tests and benchmarks, is ``tests/fixtures/release.py``.)
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from tqdm import tqdm

from cogip_tasks.dimensions import DIMENSIONS, image_path
from cogip_tasks.errors import CogIPError
from cogip_tasks.files import read_user_bytes
from cogip_tasks.synthetic import jpeg_bytes, procedural_image

from .release import InputError, Release

#: Written into every stand-in image root; a visible name, so that copying the folder's files keeps it.
STAND_IN_MARKER = "COGIP_STAND_IN_IMAGES.txt"
_MARKER_TEXT = (
    "The images in this folder are procedural stand-ins written by `cogip-upload stand-in-images`,\n"
    "not the CogIP-Bench images. A dataset built from them is marked as a stand-in build.\n"
)


def image_paths(release: Release) -> list[str]:
    """``<Dim>/NNNNNN.jpg`` of every image named by the score files, the training JSON or the test files."""
    paths = {image_path(line.dimension, line.stem) for lines in release.scores.values() for line in lines}
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
        raise InputError(f"--output-dir {root}: exists and is not a folder")
    if root.is_dir() and any(root.iterdir()) and not (root / STAND_IN_MARKER).is_file():
        raise InputError(
            f"--output-dir {root}: holds files but no {STAND_IN_MARKER}: stand-ins are written only into a new, "
            "empty or earlier stand-in folder (never over real images)"
        )
    paths = image_paths(release)
    targets = [_target(root, image) for image in paths]  # all checked before anything is written
    root.mkdir(parents=True, exist_ok=True)
    (root / STAND_IN_MARKER).write_text(_MARKER_TEXT, encoding="utf-8")
    for image, target in tqdm(list(zip(paths, targets)), desc="stand-in images", unit="img", disable=not progress):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(standin_bytes(image, size))
    return len(paths)


def _jpeg_header(data: bytes) -> bytes:
    """A JPEG's bytes before its first scan (markers, tables, size): the same for every stand-in of one size."""
    start = data.find(b"\xff\xda")
    return data[:start] if start > 0 else b""


def _square_side(data: bytes) -> int | None:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
    except Exception:  # unreadable now: not evidence either way
        return None
    return width if width == height and MIN_SIZE <= width <= MAX_SIZE else None


def stand_in_images(release: Release, images_root: str | Path, report) -> list[str]:
    """Every image the audit read whose bytes equal the procedural stand-in for its name (all are looked at:
    a few real images mixed in do not hide the stand-ins). The stand-in is drawn only for images whose header
    (size, tables) already matches a stand-in's, so a folder of real images costs one read per image."""
    images_root = Path(images_root)
    headers: dict[int, bytes] = {}
    found = []
    for image in sorted(report.image_sha256):
        try:
            data = read_user_bytes(images_root / image, what="image")
        except CogIPError:
            continue
        side = _square_side(data)
        if side is None:
            continue
        if side not in headers:
            headers[side] = _jpeg_header(standin_bytes(image, side))
        if _jpeg_header(data) == headers[side] and data == standin_bytes(image, side):
            found.append(image)
    return found


def stand_in_evidence(release: Release, images_root: str | Path, report) -> str | None:
    """Why these images are stand-ins (marker file, or images byte-identical to stand-ins), else None."""
    images_root = Path(images_root)
    if (images_root / STAND_IN_MARKER).is_file():
        return f"the image folder holds {STAND_IN_MARKER}"
    found = stand_in_images(release, images_root, report)
    if found:
        return (
            f"{len(found)} of the {len(report.image_sha256)} images are byte-identical to the procedural stand-in "
            f"for that name (first: {found[0]})"
        )
    return None
