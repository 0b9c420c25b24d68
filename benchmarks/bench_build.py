"""Build time of the full CogIP-Bench release (4,919 images) into a Hub dataset folder.

Uses ../shared/cogip_release when present, else synthesizes a release of the same size (3,200 train rows, a
1,719-item test pool). Images are procedural stand-ins (the real ones are not reachable here), written at each
``--sizes`` side length; the figures are wall-clock seconds of one run each on this machine.

    .venv/bin/python benchmarks/bench_build.py [--sizes 48 256]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from hub_upload.audit import audit_release
from hub_upload.build import BuildOptions, build
from hub_upload.release import read_release
from hub_upload.standin import write_standin_images

REPO = Path(__file__).resolve().parents[1]
SHARED_RELEASE = REPO.parent / "shared" / "cogip_release"
sys.path.insert(0, str(REPO / "tests"))  # the synthetic release is a test fixture, not shipped
from fixtures.release import RELEASE_POOL_SIZES, write_synthetic_release  # noqa: E402


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[48, 256], help="stand-in image sides in pixels")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        if SHARED_RELEASE.is_dir():
            release_dir, source = SHARED_RELEASE, f"real release {SHARED_RELEASE}"
        else:
            release_dir = write_synthetic_release(tmp / "release", n_train=800, pool_sizes=RELEASE_POOL_SIZES)
            source = "synthesized release of the real one's size"
        release, parse_s = _timed(lambda: read_release(release_dir))
        print(f"source: {source}; parse {parse_s:.2f} s")
        print(
            f"{'side':>5} {'images':>7} {'image MB':>9} {'synth s':>8} {'audit s':>8} {'build s':>8} "
            f"{'img/s':>7} {'output MB':>10}"
        )
        for size in args.sizes:
            images, out = tmp / f"images_{size}", tmp / f"out_{size}"
            n, synth_s = _timed(lambda: write_standin_images(release, images, size=size, progress=False))  # noqa: B023
            image_mb = sum(p.stat().st_size for p in images.rglob("*.jpg")) / 1e6
            _, audit_s = _timed(lambda: audit_release(release, images, progress=False))  # noqa: B023
            result, build_s = _timed(lambda: build(release_dir, images, out, BuildOptions(progress=False)))  # noqa: B023
            out_mb = sum((result.out / f).stat().st_size for f in result.files) / 1e6
            assert result.rows["default"] == {"train": 3200, "test": 480, "test_full": 1719}, result.rows
            print(
                f"{size:>5} {n:>7} {image_mb:>9.1f} {synth_s:>8.2f} {audit_s:>8.2f} {build_s:>8.2f} "
                f"{n / build_s:>7.0f} {out_mb:>10.1f}"
            )
    print("build s = parse + audit (decode every image, sha256) + write 12 Parquet shards + card + manifest")


if __name__ == "__main__":
    main()
