"""Procedural stand-in images and a small CogIP-format dataset, for the offline demo, tests and benchmarks.

The images are drawn from a seed (gradients, discs and stripes), so every run makes the same bytes. Scores are
*synthetic and say so*: each is a fixed function of the image's own statistics (brightness, colourfulness,
contrast) plus seeded noise, mapped into the dimension's range. A model can in principle learn them, which is
what a smoke test of training needs; they say nothing about human perception.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from .dimensions import DIMENSIONS, Dimension, get_dimension
from .prompts import DEFAULT_PROMPTS


def procedural_image(seed: int, size: int = 64):
    """A deterministic RGB image: a colour gradient with a few discs and stripes."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    ramp = np.linspace(0.0, 1.0, size)
    start, end = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    pixels = (start[None, None, :] * (1 - ramp[None, :, None]) + end[None, None, :] * ramp[None, :, None])
    img = Image.fromarray(np.broadcast_to(pixels, (size, size, 3)).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(1, 5))):
        x, y, r = (int(v) for v in rng.integers(0, size, 3) // [1, 1, 3])
        draw.ellipse([x - r, y - r, x + r, y + r], fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    for _ in range(int(rng.integers(0, 3))):
        x = int(rng.integers(0, size))
        draw.rectangle([x, 0, x + size // 16, size], fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    return img


def jpeg_bytes(img, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def synthetic_score(img, dimension: str | Dimension, seed: int) -> float:
    """A score in the dimension's range computed from the image's statistics (not a human judgement)."""
    dim = get_dimension(dimension)
    arr = np.asarray(img, dtype=np.float64) / 255.0
    brightness, contrast = arr.mean(), arr.std()
    colourfulness = np.abs(arr[..., 0] - arr[..., 1]).mean() + np.abs(arr[..., 1] - arr[..., 2]).mean()
    feature = {"aesthetics": colourfulness, "funniness": contrast * 2, "emotional_valence": brightness,
               "memorability": contrast * 2 + colourfulness / 2}[dim.key]
    noise = np.random.default_rng(seed).normal(0.0, 0.08)
    unit = float(np.clip(feature + noise, 0.0, 1.0))
    score = dim.low + unit * (dim.high - dim.low)
    return float(round(score)) if dim.integer_scores else round(score, 3)


def sample_rows(n_per_dimension: int, split: str, seed: int = 0) -> list[dict]:
    """Rows in the Hub dataset's schema (``id, image, dimension, prompt, score``) plus ``label``."""
    rows = []
    offset = 0 if split == "train" else 100_000
    for d_index, dim in enumerate(DIMENSIONS.values()):
        for i in range(n_per_dimension):
            image_seed = seed * 1_000_003 + d_index * 10_000 + offset + i
            img = procedural_image(image_seed)
            score = synthetic_score(img, dim, image_seed)
            rows.append(
                {
                    "id": f"{dim.release_name}/{offset + i:06d}",
                    "image": {"bytes": jpeg_bytes(img), "path": f"{dim.release_name}/{offset + i:06d}.jpg"},
                    "dimension": dim.release_name,
                    "prompt": DEFAULT_PROMPTS[dim.key],
                    "score": score,
                    "label": dim.label_for(score),
                }
            )
    return rows


def build_sample_dataset(out_dir: str | Path, n_train: int = 8, n_test: int = 8, seed: int = 0) -> Path:
    """Write a local CogIP-format dataset folder (Parquet, images embedded) that ``load_dataset`` reads."""
    import datasets

    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "image": datasets.Image(decode=False),
            "dimension": datasets.Value("string"),
            "prompt": datasets.Value("string"),
            "score": datasets.Value("float32"),
            "label": datasets.Value("string"),
        }
    )
    out = Path(out_dir)
    (out / "data").mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        ds = datasets.Dataset.from_list(sample_rows(n, split, seed), features=features)
        ds.to_parquet(str(out / "data" / f"{split}-00000-of-00001.parquet"))
    (out / "README.md").write_text(
        "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/train-*\n"
        "  - split: test\n    path: data/test-*\n---\n# CogIP-format sample (synthetic)\n\n"
        "Procedural images with synthetic scores computed from image statistics; for smoke tests only.\n"
    )
    return out
