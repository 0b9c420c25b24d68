"""Make the worked example's data: procedural images and their "sharpness" scores (docs/custom-benchmarks.md).

    python examples/sharpness/make_data.py --out sharp_src --n 120

writes ``sharp_src/images/NNNN.png`` and ``sharp_src/scores.csv`` (columns image, dimension, score). Each image is
a procedural drawing (``cogip_tasks.synthetic.procedural_image``) with a 4-pixel checker texture, blurred with a
Gaussian of a seeded radius (0, 0.75, 1.1, 1.5 or 3 pixels) and stored as PNG. Its score is a stated function of
the stored image, not of the radius: with ``g`` the decoded grey levels in [0, 1] and ``E`` the mean absolute
difference of horizontal plus vertical neighbours,

    score = round(1 + 4 * min(1, E / 0.08))          a whole number from 1 (flat) to 5 (crisp edges)

Synthetic and noise-free, so a model can learn it; it says nothing about human perception.
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from cogip_tasks.synthetic import procedural_image

RADII = (0.0, 0.75, 1.1, 1.5, 3.0)
EDGE_SCALE = 0.08


def sharpness_score(png: bytes) -> int:
    """The score of a stored image (module doc)."""
    with Image.open(io.BytesIO(png)) as img:
        g = np.asarray(img.convert("L"), dtype=np.float64) / 255.0
    edges = np.abs(np.diff(g, axis=1)).mean() + np.abs(np.diff(g, axis=0)).mean()
    return int(round(1 + 4 * min(1.0, edges / EDGE_SCALE)))


def sharpness_image(seed: int) -> bytes:
    """A textured procedural image blurred by a seeded radius, as PNG bytes."""
    rng = np.random.default_rng([seed, 7])
    pixels = np.asarray(procedural_image(seed), dtype=np.float64)
    yy, xx = np.mgrid[0 : pixels.shape[0], 0 : pixels.shape[1]]
    pixels += 40 * (((xx // 4) + (yy // 4)) % 2 - 0.5)[..., None]
    img = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    radius = float(rng.choice(RADII))
    if radius:
        img = img.filter(ImageFilter.GaussianBlur(radius))
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


def make_data(out: Path, n: int, seed: int = 0) -> Path:
    """``n`` images and ``scores.csv`` under ``out``; returns the CSV's path."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        png = sharpness_image(seed * 1_000_003 + i)
        name = f"images/{i:04d}.png"
        (out / name).write_bytes(png)
        rows.append({"image": name.removeprefix("images/"), "dimension": "sharpness", "score": sharpness_score(png)})
    with open(out / "scores.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["image", "dimension", "score"])
        writer.writeheader()
        writer.writerows(rows)
    return out / "scores.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--n", type=int, default=120, help="number of images (default 120)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    csv_path = make_data(args.out, args.n, args.seed)
    print(f"wrote {args.n} images to {args.out / 'images'} and {csv_path}")


if __name__ == "__main__":
    main()
