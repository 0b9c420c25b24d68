"""Procedural stand-in images and a small CogIP-format dataset, for the offline demo, tests and benchmarks.

The images are drawn from a seed (gradients, discs and stripes), so every run makes the same bytes. Scores are
*synthetic and say so*: each is a fixed, noise-free function of the stored JPEG's decoded pixels (values in
[0, 1]), so a model can learn it -- which is what the demo's align-then-re-evaluate loop and the alignment
test need. They say nothing about human perception. One simple statistic per dimension (:data:`TARGETS`):

- aesthetics        = 10 x mean brightness (mean of R, G and B)                      in 0..10
- funniness         = 10 x mean of the red channel                                   in 0..10
- emotional_valence = round(6 x mean of the green channel - 3)                       integers -3..3
- memorability      = mean of the blue channel                                       in 0..1

Scores are rounded to the release's 3 decimals (valence to whole numbers, as in the release).

Rows carry the benchmark's own prompts (``cogip_tasks.prompts``), or with ``short_prompts=True`` the one-line
:data:`SHORT_PROMPTS`: the benchmark's prompts are ~450 tokens of the tiny model's tokenizer, which drown its
16 image tokens -- trained on them, the tiny model learnt to answer a constant; on the short ones it learns the
target (the demo's alignment and the alignment test use them).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .dimensions import DIMENSIONS, Dimension, get_dimension, image_path, row_id
from .prompts import DEFAULT_PROMPTS


def procedural_image(seed: int, size: int = 64):
    """A deterministic RGB image: a colour gradient with a few discs and stripes."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    ramp = np.linspace(0.0, 1.0, size)
    start, end = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    pixels = start[None, None, :] * (1 - ramp[None, :, None]) + end[None, None, :] * ramp[None, :, None]
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


#: The image statistics (of pixels scaled to [0, 1]) behind the scores, one per dimension in benchmark order
#: (the first dimension is mean brightness, ...), with what the score is, for docs and tables.
_STATISTICS: tuple[tuple[str, Callable[[np.ndarray], float]], ...] = (
    ("mean brightness", lambda arr: arr.mean()),
    ("mean red", lambda arr: arr[..., 0].mean()),
    ("mean green", lambda arr: arr[..., 1].mean()),
    ("mean blue", lambda arr: arr[..., 2].mean()),
)


def _describe(dim: Dimension, statistic: str) -> str:
    """What a dimension's score is, e.g. ``10 x mean brightness`` or ``round(6 x mean green - 3)``."""
    span, low = dim.high - dim.low, f" - {-dim.low:g}" if dim.low < 0 else (f" + {dim.low:g}" if dim.low else "")
    text = f"{statistic}" if span == 1 else f"{span:g} x {statistic}"
    return f"round({text}{low})" if dim.integer_scores else f"{text}{low}"


#: Per dimension: what its score is (aesthetics: "10 x mean brightness", ...).
TARGETS: dict[str, str] = {dim.key: _describe(dim, name) for dim, (name, _) in zip(DIMENSIONS.values(), _STATISTICS)}


def decoded_pixels(image_bytes: bytes) -> np.ndarray:
    """The stored JPEG as the model sees it (decoded, RGB), scaled to [0, 1]: scores are computed from this,
    not from the pre-compression drawing, so the target is a function of the dataset's own bytes."""
    from PIL import Image

    with Image.open(io.BytesIO(image_bytes)) as img:
        return np.asarray(img.convert("RGB"), dtype=np.float64) / 255.0


def synthetic_score(image_bytes: bytes, dimension: str | Dimension) -> float:
    """The dimension's score of a stored image (see :data:`TARGETS`), in its range; not a human judgement."""
    dim = get_dimension(dimension)
    unit = float(np.clip(_STATISTICS[dim.index][1](decoded_pixels(image_bytes)), 0.0, 1.0))
    score = dim.low + unit * (dim.high - dim.low)
    return float(round(score)) if dim.integer_scores else round(score, 3)


#: One-line prompts for the learnable sample (see the module doc).
SHORT_PROMPTS: dict[str, str] = {
    key: f"Rate the {key.replace('_', ' ')} of this image: answer with a label and a score." for key in DIMENSIONS
}


def sample_rows(n_per_dimension: int, split: str, seed: int = 0, *, short_prompts: bool = False) -> list[dict]:
    """Rows in the Hub dataset's schema (``id, image, dimension, prompt, score``) plus ``label``."""
    prompts = SHORT_PROMPTS if short_prompts else DEFAULT_PROMPTS
    rows = []
    offset = 0 if split == "train" else 100_000
    for d_index, dim in enumerate(DIMENSIONS.values()):
        for i in range(n_per_dimension):
            image_seed = seed * 1_000_003 + d_index * 10_000 + offset + i
            image_bytes = jpeg_bytes(procedural_image(image_seed))
            score = synthetic_score(image_bytes, dim)
            stem = f"{offset + i:06d}"
            rows.append(
                {
                    "id": row_id(dim, stem),
                    "image": {"bytes": image_bytes, "path": image_path(dim, stem)},
                    "dimension": dim.release_name,
                    "prompt": prompts[dim.key],
                    "score": score,
                    "label": dim.label_for(score),
                }
            )
    return rows


def build_sample_dataset(
    out_dir: str | Path, n_train: int = 8, n_test: int = 8, seed: int = 0, *, short_prompts: bool = False
) -> Path:
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
        ds = datasets.Dataset.from_list(sample_rows(n, split, seed, short_prompts=short_prompts), features=features)
        ds.to_parquet(str(out / "data" / f"{split}-00000-of-00001.parquet"))
    (out / "README.md").write_text(
        "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/train-*\n"
        "  - split: test\n    path: data/test-*\n---\n# CogIP-format sample (synthetic)\n\n"
        "Procedural images with synthetic scores computed from image statistics (not human data):\n\n"
        + "".join(f"- {k}: {v}\n" for k, v in TARGETS.items())
    )
    return out
