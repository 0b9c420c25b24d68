"""Stand-ins for what is not at hand: images for a release (tests, the benchmark, dry runs), and whole releases.

Every image a release names gets a procedural picture (``cogip_tasks.synthetic``) under its own file name,
seeded by dimension and image number so that no two stand-ins share bytes (which the audit would call leakage).
:func:`write_synthetic_release` writes annotation files in the release's exact format with random scores, for
tests and for benchmarking when ``../shared/cogip_release`` is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tqdm import tqdm

from cogip_tasks.dimensions import DIMENSIONS, Dimension
from cogip_tasks.prompts import DEFAULT_PROMPTS
from cogip_tasks.synthetic import jpeg_bytes, procedural_image

from .release import Release


def image_paths(release: Release) -> list[str]:
    """``<Dim>/NNNNNN.jpg`` of every image named by the score files, the training JSON or the test files."""
    paths = {f"{DIMENSIONS[line.dimension].release_name}/{line.stem}.jpg" for lines in release.scores.values() for line in lines}
    paths |= {item.image for item in release.training + release.test_pool}
    return sorted(paths)


def standin_seed(image: str) -> int:
    folder, name = image.split("/")
    index = [d.release_name for d in DIMENSIONS.values()].index(folder)
    return index * 1_000_000 + int(name.removesuffix(".jpg"))


def write_standin_images(release: Release, root: str | Path, size: int = 48, progress: bool = True) -> int:
    """Write a JPEG for every image of the release under ``root``; returns how many were written."""
    root = Path(root)
    paths = image_paths(release)
    for image in tqdm(paths, desc="stand-in images", unit="img", disable=not progress):
        target = root / image
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(jpeg_bytes(procedural_image(standin_seed(image), size=size)))
    return len(paths)


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
        answer = {stem: f"{dim.label_for(scores[stem])} {scores[stem]:.3f}" for stem in stems}
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
