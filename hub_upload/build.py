"""Build the Hub dataset folder: deterministic Parquet shards per dimension and split, a dataset card, a manifest.

Layout of the output (a Hub dataset repo as is)::

    README.md                                   dataset card: YAML (dataset_info, configs, ...) + prose
    cogip_build.json                            manifest: options, input hashes, every file's sha256, the audit
    data/<dimension_key>/<split>-00000-of-00001.parquet

Configs: ``default`` reads every dimension's shards, ``<dimension_key>`` one dimension's. The folder is written
under a temporary name next to ``out`` and moved into place only when complete, so a failed build leaves no
partial output (and an older build stays untouched); only the files an earlier build wrote are ever replaced
(:mod:`hub_upload.outdir`). The ``test`` split is the release's own draw by default (:mod:`hub_upload.testsplit`).
"""

from __future__ import annotations

import json
import math
import shutil
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from cogip_tasks.dataset import check_ids
from cogip_tasks.dimensions import DIMENSIONS, Dimension
from cogip_tasks.errors import CogIPError
from cogip_tasks.files import read_user_bytes, sha256_file

from .audit import AuditReport, audit_release
from .card import write_card
from .layout import DATA_DIR, SPLITS, manifest_text, shard_name
from .outdir import MANIFEST, check_output, clean_leftovers, replace_output, work_folder
from .release import InputError, Item, Release, messages_path, read_release
from .standin import stand_in_evidence
from .testsplit import (
    DEFAULT_DRAW_ORDER,
    DEFAULT_SEED,
    TEST_PER_DIMENSION,
    TestIds,
    check_test_size,
    pinned_indices,
    release_draw,
)

__all__ = ["SPLITS", "AuditFailed", "BuildOptions", "BuildResult", "build", "features", "shard_name"]
# More missing or unreadable images than this share of those the release names: a wrong --images folder, not a
# few bad files (a real set loses none; a handful of bad downloads stays far below it).
MAX_MISSING_SHARE = 0.05
ROW_GROUP_SIZE = 100  # the Hub's choice for image datasets: the viewer reads one small group at a time
MAX_SHARD_BYTES = 500 * 1024 * 1024
BUILDER_VERSION = 2  # bump when the output for the same inputs changes (2: the release's test draw, stand-in flag)
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


class AuditFailed(CogIPError, RuntimeError):
    """``--strict`` and the audit has open findings: nothing was written."""

    def __init__(self, report: AuditReport):
        self.report = report
        first = report.open_findings[0] if report.open_findings else "none"
        super().__init__(
            f"audit failed in strict mode with {len(report.open_findings)} open finding(s) "
            f"(first: {first}); nothing written"
        )


@dataclass
class BuildOptions:
    seed: int = DEFAULT_SEED
    test_per_dimension: int = TEST_PER_DIMENSION
    draw_order: tuple[str, ...] = DEFAULT_DRAW_ORDER  # release names, the order the draw visits them
    test_ids: TestIds | None = None  # pins the test split (seed, size and order then play no part)
    strict: bool = False
    drop_suspicious: bool = False  # default keep: the paper's protocol kept Memorability's placeholder zeros
    force: bool = False  # build into an --output-dir holding foreign files (left untouched)
    allow_missing_images: bool = False  # build even if more than MAX_MISSING_SHARE of the images are unusable
    max_shard_bytes: int = MAX_SHARD_BYTES
    progress: bool = True


@dataclass
class BuildResult:
    out: Path
    report: AuditReport
    rows: dict[str, dict[str, int]]  # config -> split -> number of rows
    files: list[str] = field(default_factory=list)  # repo-relative paths, manifest last
    notes: list[str] = field(default_factory=list)


def _first_of_each(items: list[Item]) -> list[Item]:
    seen, kept = set(), []
    for item in items:
        if item.id not in seen:
            seen.add(item.id)
            kept.append(item)
    return kept


def test_split_record(options: BuildOptions) -> dict:
    """How ``test`` was chosen, for the manifest and the card."""
    if options.test_ids is not None:
        return {"method": "ids", "ids_file_sha256": options.test_ids.sha256, "count": len(options.test_ids.ids)}
    return {
        "method": "release_draw",
        "seed": options.seed,
        "per_dimension": options.test_per_dimension,
        "order": list(options.draw_order),
        "procedure": "random.seed(seed); for each dimension in order: sorted(random.sample(range(N), n)) over "
        "the N entries of test_msg_file/<Dim>/<Dim>_messages.json, the whole pool when n == N",
    }


def _pools(release: Release) -> dict[str, list[Item]]:
    """Dimension key -> the test pool's entries in messages-file order (index = entry number)."""
    return {key: [i for i in release.test_pool if i.dimension == key] for key in DIMENSIONS}


def check_options(release: Release, options: BuildOptions) -> None:
    """Option values the release cannot satisfy; checked before the (slow) audit."""
    if options.test_ids is None:
        pools = _pools(release)
        check_test_size(
            options.test_per_dimension,
            {k: len(v) for k, v in pools.items()},
            {k: messages_path(DIMENSIONS[k]) for k in DIMENSIONS},
        )


def test_indices(release: Release, options: BuildOptions) -> dict[str, list[int]]:
    pools = _pools(release)
    if options.test_ids is not None:
        return pinned_indices(pools, options.test_ids, {i.id for i in release.training})
    return release_draw(
        {k: len(v) for k, v in pools.items()}, options.test_per_dimension, options.seed, options.draw_order
    )


def select_rows(
    release: Release, report: AuditReport, options: BuildOptions
) -> tuple[dict[str, dict[str, list[Item]]], list[str]]:
    """dimension key -> split -> items, after leaving out unusable (and, if asked, suspicious) rows.

    The test items are chosen over the release's whole pool (so they are the release's draw), then rows the
    build cannot or may not keep are left out of it: ``test`` may then hold fewer items, and a note says so.
    """
    why: dict[str, str] = {i: "missing or unreadable image" for kind in UNUSABLE for i in report.ids_of(kind)}
    if options.drop_suspicious:
        why.update({i: "suspicious placeholder score" for i in report.ids_of("suspicious_placeholder") if i not in why})
    notes = []
    selected: dict[str, dict[str, list[Item]]] = {}
    picks = test_indices(release, options)
    for key, raw in _pools(release).items():
        dim = DIMENSIONS[key]
        train = _first_of_each([i for i in release.training if i.dimension == key and i.id not in why])
        pool = _first_of_each([i for i in raw if i.id not in why])
        drawn = [raw[j] for j in picks[key]]
        test = _first_of_each([i for i in drawn if i.id not in why])
        if len(test) < len(drawn):
            reasons = Counter(why[i.id] for i in drawn if i.id in why)
            if len(drawn) - len(test) > sum(reasons.values()):
                reasons["duplicate entry"] = len(drawn) - len(test) - sum(reasons.values())
            notes.append(
                f"{dim.release_name}: {len(drawn) - len(test)} of the {len(drawn)} test items chosen are "
                "left out (" + ", ".join(f"{n} {r}" for r, n in sorted(reasons.items())) + ")"
            )
        selected[key] = {"train": train, "test": test, "test_full": pool}
        empty = [split for split, items in selected[key].items() if not items]
        if empty:  # an empty shard is no dataset: load_dataset cannot read it
            raise InputError(
                f"{dim.release_name}: no rows left for {', '.join(empty)} after leaving out "
                f"{len(why)} row(s) (missing or unreadable images"
                f"{', suspicious placeholder scores' if options.drop_suspicious else ''}); nothing written"
            )
    return selected, notes


def _chunks(items: list[Item], sizes: list[int], max_bytes: int) -> list[list[Item]]:
    """Equal-count contiguous chunks, as many as the image bytes need (deterministic for the same inputs)."""
    count = max(1, math.ceil(sum(sizes) / max_bytes))
    bounds = np.linspace(0, len(items), count + 1).round().astype(int)
    return [items[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def _image_bytes(images_root: Path, image: str) -> bytes:
    return read_user_bytes(images_root / image, what="image")  # a regular file under the cap, as the audit read it


def write_shards(
    items: list[Item],
    images_root: Path,
    folder: Path,
    split: str,
    max_bytes: int,
    dimensions: Mapping[str, Dimension] = DIMENSIONS,
) -> tuple[list[Path], int]:
    """Write one dimension's split; returns the shard paths and the Arrow size in bytes (``num_bytes``).

    ``items`` need ``id, image, dimension (key), prompt, score, label``; ``dimensions`` maps their keys."""
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
                "image": [
                    {"bytes": read_user_bytes(images_root / i.image, what="image"), "path": i.image} for i in chunk
                ],
                "dimension": [dimensions[i.dimension].release_name for i in chunk],
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


def write_manifest(tmp: Path, fields: dict) -> None:
    """``cogip_build.json`` in the work folder ``tmp``: the builder, a builder's own ``fields`` and every file
    written so far (bytes, sha256), which are the files the build owns (:mod:`hub_upload.outdir`)."""
    files = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file())
    manifest = {
        "builder": "hub_upload",
        "builder_version": BUILDER_VERSION,
        **fields,
        "files": {rel: {"bytes": (tmp / rel).stat().st_size, "sha256": sha256_file(tmp / rel)} for rel in files},
    }
    (tmp / MANIFEST).write_text(manifest_text(manifest), encoding="utf-8")


def _manifest_fields(
    release: Release,
    report: AuditReport,
    options: BuildOptions,
    rows: dict[str, dict[str, int]],
    notes: list[str],
    stand_in: str | None,
) -> dict:
    return {
        "options": {
            "seed": options.seed,
            "test_per_dimension": options.test_per_dimension,
            "strict": options.strict,
            "drop_suspicious": options.drop_suspicious,
            "allow_missing_images": options.allow_missing_images,
        },
        "test_split": test_split_record(options),
        "suspicious_placeholders": "dropped" if options.drop_suspicious else "kept",
        "stand_in_images": stand_in is not None,  # push refuses these unless --allow-stand-in
        "stand_in_evidence": stand_in,
        "release_files": {rel: sha256_file(release.root / rel) for rel in release.files()},
        "rows": rows,
        "notes": notes,
        "audit": report.to_json(),
    }


@dataclass
class ShardSizes:
    """What the card's ``dataset_info`` and the manifest say of the shards: config -> split -> count."""

    rows: dict[str, dict[str, int]] = field(default_factory=dict)  # rows; ``default``: all dimensions
    num_bytes: dict[str, dict[str, int]] = field(default_factory=dict)  # Arrow size
    shard_bytes: dict[str, dict[str, int]] = field(default_factory=dict)  # Parquet files' size


def write_dataset_folder(
    out: Path,
    selected: Mapping[str, Mapping[str, list]],
    splits: tuple[str, ...],
    images_root: Path,
    finish: Callable[[Path, ShardSizes], None],
    *,
    force: bool,
    max_shard_bytes: int,
    dimensions: Mapping[str, Dimension] = DIMENSIONS,
    progress: bool = False,
) -> tuple[ShardSizes, list[str], list[str]]:
    """Write a dataset folder whole or not at all (both builders): a killed build's leftovers cleaned, the shards of
    every (dimension key, split) of ``selected`` (key -> split -> rows, in the benchmark's order) in a work folder
    beside ``out``, then ``finish(work folder, sizes)`` writes the card and the manifest, and the folder is moved
    into place. Returns the sizes, the files written (the manifest last) and what the cleaning did."""
    out.parent.mkdir(parents=True, exist_ok=True)
    cleaned = clean_leftovers(out)
    # A sibling (same filesystem, so the final rename is atomic); mkdir, not mkdtemp, keeps the umask's mode.
    tmp = work_folder(out, "building")
    tmp.mkdir()
    try:
        sizes = ShardSizes()
        jobs = [(key, split) for key in selected for split in splits]
        for key, split in tqdm(jobs, desc="build: shards", disable=not progress):
            items = selected[key][split]
            paths, size = write_shards(items, images_root, tmp / DATA_DIR / key, split, max_shard_bytes, dimensions)
            sizes.rows.setdefault(key, {})[split] = len(items)
            sizes.num_bytes.setdefault(key, {})[split] = size
            sizes.shard_bytes.setdefault(key, {})[split] = sum(p.stat().st_size for p in paths)
        sizes.rows["default"] = {split: sum(sizes.rows[k][split] for k in selected) for split in splits}
        finish(tmp, sizes)
        replace_output(tmp, out, force)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    return sizes, sorted(manifest["files"]) + [MANIFEST], cleaned


def check_images_root(images_root: Path) -> None:
    if not images_root.is_dir():
        raise InputError(f"--images {images_root}: {'not a folder' if images_root.exists() else 'no such folder'}")


def check_scores_in_range(report: AuditReport) -> None:
    """Out-of-range scores are an error, strict or not: they would be published as the human truth."""
    bad = [f for f in report.findings if f.kind == "score_out_of_range"]
    if bad:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise InputError(f"{bad[0].file}: {bad[0].id}: {bad[0].message}{more}")


def check_image_coverage(report: AuditReport, images_root: Path, allow_missing: bool) -> None:
    """An empty image set is always an error; a mostly-missing one unless ``allow_missing``."""
    bad = [f for f in report.findings if f.kind in UNUSABLE]
    if not bad:
        return
    share = len(bad) / max(report.n_images, 1)
    what = (
        f"--images {images_root}: {len(bad)} of the {report.n_images} images the release names are missing or "
        f"unreadable (first: {bad[0].file})"
    )
    if len(bad) >= report.n_images:
        raise InputError(f"{what}: no usable image; is this the image root holding <Dimension>/NNNNNN.jpg?")
    if share > MAX_MISSING_SHARE and not allow_missing:
        raise InputError(
            f"{what}: more than {MAX_MISSING_SHARE:.0%}; wrong folder? --allow-missing-images builds without them"
        )


def build(
    release_dir: str | Path, images_dir: str | Path, out_dir: str | Path, options: BuildOptions | None = None
) -> BuildResult:
    """Parse, audit and write the dataset folder; raise InputError / AuditFailed / OutputConflict before writing."""
    options = options or BuildOptions()
    release = read_release(release_dir)
    images_root, out = Path(images_dir), Path(out_dir)
    check_images_root(images_root)
    check_options(release, options)
    check_output(out, options.force)  # early: refuse before the slow part; checked again at the end
    report = audit_release(release, images_root, progress=options.progress)
    check_scores_in_range(report)
    check_image_coverage(report, images_root, options.allow_missing_images)
    if options.drop_suspicious:
        report.resolve("suspicious_placeholder")
    if options.strict and report.open_findings:
        raise AuditFailed(report)
    selected, notes = select_rows(release, report, options)
    stand_in = stand_in_evidence(release, images_root, report)
    for key in DIMENSIONS:  # before anything is written
        for split in SPLITS:
            check_ids([i.id for i in selected[key][split]], f"{release.root} ({DIMENSIONS[key].release_name}, {split})")
    test_ids = {i.id for k in DIMENSIONS for i in selected[k]["test"]}
    suspicious_in_test = len(report.ids_of("suspicious_placeholder") & test_ids)

    def finish(tmp: Path, sizes: ShardSizes) -> None:
        test_split = test_split_record(options)
        write_card(
            tmp, features(), sizes.rows, sizes.num_bytes, sizes.shard_bytes, report, options, notes, test_split,
            stand_in, suspicious_in_test,
        )  # fmt: skip
        write_manifest(tmp, _manifest_fields(release, report, options, sizes.rows, notes, stand_in))

    sizes, files, cleaned = write_dataset_folder(
        out,
        {key: selected[key] for key in DIMENSIONS},
        SPLITS,
        images_root,
        finish,
        force=options.force,
        max_shard_bytes=options.max_shard_bytes,
        progress=options.progress,
    )
    return BuildResult(out, report, sizes.rows, files, cleaned + notes)
