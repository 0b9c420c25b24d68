"""Build the Hub dataset folder: deterministic Parquet shards per dimension and split, a dataset card, a manifest.

Layout of the output (a Hub dataset repo as is)::

    README.md                                   dataset card: YAML (dataset_info, configs, ...) + prose
    cogip_build.json                            manifest: options, input hashes, every file's sha256, the audit
    data/<dimension_key>/<split>-00000-of-00001.parquet

Configs: ``default`` reads every dimension's shards, ``<dimension_key>`` one dimension's. The folder is written
under a temporary name next to ``out`` and renamed into place only when complete, so a failed build leaves no
partial output (and an older build stays untouched).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from cogip_tasks.dimensions import DIMENSIONS

from .audit import AuditReport, audit_release
from .release import Item, Release, read_release

SPLITS = ("train", "test", "test_full")
MANIFEST = "cogip_build.json"
DEFAULT_SEED = 42
TEST_PER_DIMENSION = 120  # the paper's 480-item test set: 120 per dimension
ROW_GROUP_SIZE = 100  # the Hub's choice for image datasets: the viewer reads one small group at a time
MAX_SHARD_BYTES = 500 * 1024 * 1024
BUILDER_VERSION = 1  # bump when the output for the same inputs changes
# Image rows the build cannot embed; they are left out (and stay findings).
UNUSABLE = ("missing_image", "unreadable_image")


def features():
    """The dataset schema: the Hub copy's columns (id, image, dimension, prompt, score) plus label and dimension_key."""
    import datasets

    return datasets.Features(
        {
            "id": datasets.Value("string"),
            "image": datasets.Image(),
            "dimension": datasets.Value("string"),
            "prompt": datasets.Value("string"),
            "score": datasets.Value("float32"),
            "label": datasets.Value("string"),
            "dimension_key": datasets.Value("string"),
        }
    )


class AuditFailed(RuntimeError):
    """``--strict`` and the audit has open findings: nothing was written."""

    def __init__(self, report: AuditReport):
        self.report = report
        super().__init__(f"audit failed in strict mode with {len(report.open_findings)} open finding(s); nothing written")


@dataclass
class BuildOptions:
    seed: int = DEFAULT_SEED
    test_per_dimension: int = TEST_PER_DIMENSION
    strict: bool = False
    drop_suspicious: bool = False
    max_shard_bytes: int = MAX_SHARD_BYTES
    progress: bool = True


@dataclass
class BuildResult:
    out: Path
    report: AuditReport
    rows: dict[str, dict[str, int]]  # config -> split -> number of rows
    files: list[str] = field(default_factory=list)  # repo-relative paths, manifest last
    notes: list[str] = field(default_factory=list)


def sample_test(pool: list[Item], n: int, seed: int, dimension_index: int) -> list[Item]:
    """``n`` items drawn without replacement by ``numpy.random.default_rng([seed, dimension_index])``, in pool order."""
    if n >= len(pool):
        return list(pool)
    picked = np.random.default_rng([seed, dimension_index]).choice(len(pool), size=n, replace=False)
    return [pool[i] for i in sorted(picked.tolist())]


def _first_of_each(items: list[Item]) -> list[Item]:
    seen, kept = set(), []
    for item in items:
        if item.id not in seen:
            seen.add(item.id)
            kept.append(item)
    return kept


def select_rows(release: Release, report: AuditReport, options: BuildOptions) -> tuple[dict[str, dict[str, list[Item]]], list[str]]:
    """dimension key -> split -> items, after leaving out unusable (and, if asked, suspicious) rows."""
    left_out = {i for kind in UNUSABLE for i in report.ids_of(kind)}
    if options.drop_suspicious:
        left_out |= report.ids_of("suspicious_placeholder")
    notes = []
    selected: dict[str, dict[str, list[Item]]] = {}
    for index, (key, dim) in enumerate(DIMENSIONS.items()):
        train = _first_of_each([i for i in release.training if i.dimension == key and i.id not in left_out])
        pool = _first_of_each([i for i in release.test_pool if i.dimension == key and i.id not in left_out])
        test = sample_test(pool, options.test_per_dimension, options.seed, index)
        if len(pool) < options.test_per_dimension:
            notes.append(f"{dim.release_name}: test pool has {len(pool)} usable items (< {options.test_per_dimension}); test = the whole pool")
        selected[key] = {"train": train, "test": test, "test_full": pool}
    return selected, notes


def shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.parquet"


def _chunks(items: list[Item], sizes: list[int], max_bytes: int) -> list[list[Item]]:
    """Equal-count contiguous chunks, as many as the image bytes need (deterministic for the same inputs)."""
    count = max(1, math.ceil(sum(sizes) / max_bytes))
    bounds = np.linspace(0, len(items), count + 1).round().astype(int)
    return [items[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def write_shards(items: list[Item], images_root: Path, folder: Path, split: str, max_bytes: int) -> tuple[list[Path], int]:
    """Write one dimension's split; returns the shard paths and the Arrow size in bytes (``num_bytes``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = features().arrow_schema
    sizes = [(images_root / item.image).stat().st_size for item in items]
    chunks = _chunks(items, sizes, max_bytes)
    folder.mkdir(parents=True, exist_ok=True)
    paths, num_bytes = [], 0
    for index, chunk in enumerate(chunks):
        table = pa.Table.from_pydict(
            {
                "id": [i.id for i in chunk],
                "image": [{"bytes": (images_root / i.image).read_bytes(), "path": i.image} for i in chunk],
                "dimension": [DIMENSIONS[i.dimension].release_name for i in chunk],
                "prompt": [i.prompt for i in chunk],
                "score": [i.score for i in chunk],
                "label": [i.label for i in chunk],
                "dimension_key": [i.dimension for i in chunk],
            },
            schema=schema,
        )
        path = folder / shard_name(split, index, len(chunks))
        pq.write_table(table, path, row_group_size=ROW_GROUP_SIZE, compression="snappy")
        paths.append(path)
        num_bytes += table.nbytes
    return paths, num_bytes


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_manifest(tmp: Path, release: Release, report: AuditReport, options: BuildOptions,
                    rows: dict[str, dict[str, int]], notes: list[str]) -> None:
    files = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file())
    manifest = {
        "builder": "hub_upload",
        "builder_version": BUILDER_VERSION,
        "options": {"seed": options.seed, "test_per_dimension": options.test_per_dimension,
                    "strict": options.strict, "drop_suspicious": options.drop_suspicious},
        "release_files": {rel: sha256_file(release.root / rel) for rel in release.files()},
        "rows": rows,
        "notes": notes,
        "files": {rel: {"bytes": (tmp / rel).stat().st_size, "sha256": sha256_file(tmp / rel)} for rel in files},
        "audit": report.to_json(),
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _move_into_place(tmp: Path, out: Path) -> None:
    """Replace ``out`` by ``tmp`` only if ``out`` is absent, empty or an earlier build (never someone's folder)."""
    if out.exists():
        if not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST).is_file()):
            raise FileExistsError(f"{out}: exists and is not an earlier build (no {MANIFEST}); choose another --out")
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old)
    else:
        tmp.rename(out)


def build(release_dir: str | Path, images_dir: str | Path, out_dir: str | Path,
          options: BuildOptions | None = None) -> BuildResult:
    """Parse, audit and write the dataset folder; raise ReleaseError / AuditFailed before writing anything."""
    from .card import write_card

    options = options or BuildOptions()
    release = read_release(release_dir)
    images_root, out = Path(images_dir), Path(out_dir)
    report = audit_release(release, images_root, progress=options.progress)
    if options.drop_suspicious:
        report.resolve("suspicious_placeholder")
    if options.strict and report.open_findings:
        raise AuditFailed(report)
    selected, notes = select_rows(release, report, options)
    out.parent.mkdir(parents=True, exist_ok=True)
    # A sibling (same filesystem, so the final rename is atomic); mkdir, not mkdtemp, keeps the umask's mode.
    tmp = out.parent / f".{out.name}.building-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        rows: dict[str, dict[str, int]] = {}
        num_bytes: dict[str, dict[str, int]] = {}
        shard_bytes: dict[str, dict[str, int]] = {}
        jobs = [(key, split) for key in DIMENSIONS for split in SPLITS]
        for key, split in tqdm(jobs, desc="build: shards", disable=not options.progress):
            items = selected[key][split]
            paths, size = write_shards(items, images_root, tmp / "data" / key, split, options.max_shard_bytes)
            rows.setdefault(key, {})[split] = len(items)
            num_bytes.setdefault(key, {})[split] = size
            shard_bytes.setdefault(key, {})[split] = sum(p.stat().st_size for p in paths)
        rows["default"] = {split: sum(rows[k][split] for k in DIMENSIONS) for split in SPLITS}
        write_card(tmp, features(), rows, num_bytes, shard_bytes, report, options, notes)
        _write_manifest(tmp, release, report, options, rows, notes)
        _move_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    return BuildResult(out, report, rows, files, notes)
