"""``cogip-upload build --spec``: any human-score image set -> a dataset folder of CogIP-Bench's shape.

Inputs: a benchmark spec (:mod:`cogip_tasks.spec`), a CSV of human scores with the columns ``image`` (a path
relative to ``--images``), ``dimension`` (any spelling of a spec dimension), ``score`` (in the dimension's range)
and optionally ``split`` (``train`` or ``test``), and the image folder. Every row, score and image is checked
before anything is written; the first problem is one line naming the file, line, column and value.

Without a ``split`` column the test split is a seeded draw, as the release's: ``random.seed(seed)`` once, then for
each dimension in the spec's order ``sorted(random.sample(range(N), n))`` over its N rows in CSV order (n =
``--test-size``, default a fifth of N); the rest is ``train``.

Output (pushed by ``cogip-upload push`` like the built-in one)::

    README.md           dataset card: configs per dimension, dataset_info, the spec, how test was chosen, the
                        licence of the annotations and of the images (``--annotation-license``,
                        ``--image-license``; "unknown" unless stated)
    cogip_build.json    manifest: the spec, options, input hashes, rows, every file's sha256, the audit
    data/<key>/<split>-00000-of-00001.parquet      columns id, image, dimension, prompt, score, label, dimension_key
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import random
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

from cogip_tasks.dataset import load_image, strict_decoding
from cogip_tasks.dimensions import row_id
from cogip_tasks.errors import CogIPError
from cogip_tasks.files import read_user_bytes, read_user_text, sha256_file
from cogip_tasks.spec import BenchmarkSpec, Dimension

from .build import MAX_SHARD_BYTES, ShardSizes, features, write_dataset_folder, write_manifest
from .card import UNKNOWN_LICENSE, card_data, license_fields, license_lines
from .outdir import check_output
from .release import FLOAT32_MAX, InputError
from .testsplit import DEFAULT_SEED

SPEC_SPLITS = ("train", "test")
REQUIRED = ("image", "dimension", "score")
OPTIONAL = ("split",)
DEFAULT_TEST_SHARE = 0.2


@dataclass(frozen=True)
class SpecRow:
    """One checked CSV row: what a shard stores."""

    dimension: str  # the spec's key
    id: str  # "<column spelling>/<image path without suffix>"
    image: str  # path relative to the image root (POSIX)
    prompt: str
    label: str
    score: float
    split: str | None  # as the CSV gives it; None: drawn
    line: int


@dataclass
class SpecBuildOptions:
    seed: int = DEFAULT_SEED
    test_size: int | None = None  # per dimension; None: a fifth of each dimension's rows (at least 1)
    force: bool = False
    max_shard_bytes: int = MAX_SHARD_BYTES
    annotation_license: str = UNKNOWN_LICENSE  # the scores' (and prompts', labels') licence, a Hub licence id
    image_license: str = UNKNOWN_LICENSE


@dataclass
class SpecBuildResult:
    out: Path
    rows: dict[str, dict[str, int]]
    files: list[str]
    notes: list[str]


def _image_name(value: str, where: str) -> str:
    path = PurePosixPath(value.replace("\\", "/"))
    if not value.strip() or path.is_absolute() or ".." in path.parts or value != value.strip():
        raise InputError(f"{where}: column 'image': {value!r} is not a relative path inside --images")
    return path.as_posix()


def _score(value: str, dim: Dimension, where: str) -> float:
    try:
        score = float(value)
    except ValueError:
        raise InputError(f"{where}: column 'score': {value!r} is not a number") from None
    if not math.isfinite(score) or abs(score) > FLOAT32_MAX:
        raise InputError(f"{where}: column 'score': {value!r} is not a finite number")
    if not dim.in_range(score):
        raise InputError(f"{where}: column 'score': {value} is outside {dim.key}'s range [{dim.low:g}, {dim.high:g}]")
    if dim.integer_scores and not score.is_integer():
        raise InputError(f"{where}: column 'score': {value} is not a whole number ({dim.key} has integer_scores)")
    return score


def read_scores(path: Path, spec: BenchmarkSpec) -> list[SpecRow]:
    """Every CSV row checked against the spec (images are checked separately)."""
    text = read_user_text(path, what="scores CSV")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = reader.fieldnames or []
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(missing)} (has: {', '.join(columns) or 'none'}); "
            f"expected {', '.join(REQUIRED)} and optionally split"
        )
    extra = [c for c in columns if c not in REQUIRED + OPTIONAL]
    if extra:
        raise InputError(f"{path}: unknown column {extra[0]!r}; the columns are {', '.join(REQUIRED + OPTIONAL)}")
    rows: list[SpecRow] = []
    seen: dict[str, int] = {}
    has_split = "split" in columns
    for line, record in enumerate(reader, start=2):
        where = f"{path}: line {line}"
        if None in record or any(record.get(c) is None for c in REQUIRED):
            raise InputError(f"{where}: expected {len(columns)} fields ({', '.join(columns)})")
        dim = spec.find(record["dimension"].strip())
        if dim is None:
            known = ", ".join(d.key for d in spec.dimensions)
            raise InputError(f"{where}: column 'dimension': unknown dimension {record['dimension']!r} (spec: {known})")
        image = _image_name(record["image"], where)
        score = _score(record["score"].strip(), dim, where)
        split = record["split"].strip() if has_split else None
        if has_split and split not in SPEC_SPLITS:
            raise InputError(f"{where}: column 'split': {record['split']!r} is not one of {', '.join(SPEC_SPLITS)}")
        stem = str(PurePosixPath(image).with_suffix(""))
        rid = row_id(dim, stem)
        if rid in seen:
            raise InputError(f"{where}: row id {rid!r} (image {image!r}) repeats line {seen[rid]}")
        seen[rid] = line
        value = round(score, dim.target_decimals)
        rows.append(SpecRow(dim.key, rid, image, dim.prompt, dim.label_for(value), score, split, line))
    if not rows:
        raise InputError(f"{path}: no rows")
    return rows


def check_images(rows: list[SpecRow], images_root: Path, scores: Path) -> dict[str, str]:
    """Every image a row names must be a regular file under ``images_root`` that decodes; image -> sha256."""
    if not images_root.is_dir():
        raise InputError(f"--images {images_root}: {'not a folder' if images_root.exists() else 'no such folder'}")
    hashes: dict[str, str] = {}
    root = images_root.resolve()
    with strict_decoding():
        for row in rows:
            if row.image in hashes:
                continue
            where = f"{scores}: line {row.line}: column 'image'"
            path = images_root / row.image
            if not path.resolve().is_relative_to(root):
                raise InputError(f"{where}: {row.image!r} leaves --images {images_root}")
            try:
                data = read_user_bytes(path, what="image")
            except CogIPError as err:
                raise InputError(f"{where}: {err}") from None
            try:
                load_image({"bytes": data, "path": None}, row.id)
            except CogIPError as err:
                raise InputError(f"{where}: {path}: {err}") from None
            hashes[row.image] = hashlib.sha256(data).hexdigest()
    return hashes


def split_rows(rows: list[SpecRow], spec: BenchmarkSpec, options: SpecBuildOptions) -> dict[str, dict[str, list]]:
    """key -> split -> rows: the CSV's split column, else the seeded draw (module doc)."""
    out: dict[str, dict[str, list]] = {}
    rng = random.Random(options.seed)
    for dim in spec.dimensions:
        mine = [r for r in rows if r.dimension == dim.key]
        if not mine:
            raise InputError(f"no rows of dimension {dim.key!r} in the scores CSV (the spec names it)")
        if mine[0].split is not None:
            parts = {s: [r for r in mine if r.split == s] for s in SPEC_SPLITS}
        else:
            n = options.test_size or max(1, round(DEFAULT_TEST_SHARE * len(mine)))
            if n >= len(mine):
                raise InputError(
                    f"--test-size {n}: {dim.key} has {len(mine)} rows; at least one must be left for train"
                )
            picked = set(sorted(rng.sample(range(len(mine)), n)))
            parts = {
                "train": [r for i, r in enumerate(mine) if i not in picked],
                "test": [r for i, r in enumerate(mine) if i in picked],
            }
        empty = [s for s, part in parts.items() if not part]
        if empty:
            raise InputError(f"dimension {dim.key!r}: no {' or '.join(empty)} rows (an empty split is no dataset)")
        out[dim.key] = parts
    return out


def leakage(selected: dict[str, dict[str, list]], hashes: dict[str, str]) -> list[str]:
    """Findings: the same image bytes in a dimension's train and test."""
    found = []
    for parts in selected.values():
        train = {hashes[r.image]: r.id for r in parts["train"]}
        found += [
            f"leakage: {r.id} (test) has the same image bytes as {train[hashes[r.image]]} (train)"
            for r in parts["test"]
            if hashes[r.image] in train
        ]
    return found


def test_split_record(selected: dict[str, dict[str, list]], options: SpecBuildOptions) -> dict:
    if next(iter(selected.values()))["test"][0].split is not None:
        return {"method": "csv_column", "column": "split"}
    return {
        "method": "seeded_draw",
        "seed": options.seed,
        "per_dimension": {k: len(v["test"]) for k, v in selected.items()},
        "procedure": "random.seed(seed); for each dimension in the spec's order: sorted(random.sample(range(N), n)) "
        "over its N rows in CSV order",
    }


def card_text(
    spec: BenchmarkSpec, rows: dict, test_split: dict, findings: list[str], options: SpecBuildOptions | None = None
) -> str:
    dims = "\n".join(
        f"| `{d.key}` | {d.title} | `{d.release_name}` | {d.low:g} to {d.high:g}"
        f"{' (whole numbers)' if d.integer_scores else ''} | {', '.join(d.labels)} | "
        f"{rows[d.key]['train']} / {rows[d.key]['test']} |"
        for d in spec.dimensions
    )
    if test_split["method"] == "csv_column":
        how = "as the scores CSV's `split` column states"
    else:
        how = (
            f"a seeded draw (seed {test_split['seed']}): `random.seed(seed)` once, then for each dimension in the "
            "spec's order `sorted(random.sample(range(N), n))` over its N rows in CSV order"
        )
    spec_yaml = yaml.safe_dump(spec.to_dict(), sort_keys=False, allow_unicode=True, width=120)
    noted = "\n".join(f"- {f}" for f in findings) or "none"
    options = options or SpecBuildOptions()
    fields = license_fields(spec.name, options.annotation_license, options.image_license)
    if "license_name" in fields:
        covers = f"The card's `license: other` (`{fields['license_name']}`) covers two parts with their own terms:"
    else:
        covers = f"The card's `license: {fields['license']}` covers both parts:"
    licence = f"{covers}\n\n{license_lines(options.annotation_license, options.image_license)}"
    return f"""# {spec.title}

A human-perception image benchmark in the CogIP format, built with `cogip-upload build --spec` from a benchmark
spec (below), a CSV of human scores and an image folder. An MLLM answers each item's describe-then-predict prompt
as `"<label> <score>"`; it is scored by agreement with the human scores (SRCC first). Evaluate it with the
lmms-eval tasks that `cogip-eval tasks write --dataset <this dataset> -o TASKDIR` writes.

| key | name | `dimension` column | score range | labels (low to high) | rows train / test |
|---|---|---|---|---|---|
{dims}

Columns: `id` (`<dimension>/<image path without suffix>`), `image` (embedded bytes), `dimension`, `prompt`,
`score` (the human score), `label` (the score's label bin), `dimension_key`. Configs: `default` (every dimension)
and one per dimension key. The test split is {how}.

Audit findings: {noted}

## License

{licence}

## Spec

```yaml
{spec_yaml}```
"""


def build_from_spec(
    spec: BenchmarkSpec,
    scores: str | Path,
    images_dir: str | Path,
    out_dir: str | Path,
    options: SpecBuildOptions | None = None,
) -> SpecBuildResult:
    """Check everything, then write the dataset folder whole (or nothing)."""
    options = options or SpecBuildOptions()
    scores, images_root, out = Path(scores), Path(images_dir), Path(out_dir)
    if options.test_size is not None and options.test_size < 1:
        raise InputError(f"--test-size {options.test_size}: must be at least 1")
    rows_in = read_scores(scores, spec)
    check_output(out, options.force)
    hashes = check_images(rows_in, images_root, scores)
    selected = split_rows(rows_in, spec, options)
    findings = leakage(selected, hashes)
    test_split = test_split_record(selected, options)

    def finish(tmp: Path, sizes: ShardSizes) -> None:
        from huggingface_hub import DatasetCard  # here, not at the checks: a refused input exits 0.15 s sooner

        rows = sizes.rows
        data = card_data(
            features(),
            rows,
            sizes.num_bytes,
            sizes.shard_bytes,
            keys=spec.keys,
            splits=SPEC_SPLITS,
            pretty_name=spec.title,
            tags=["cogip", "image-assessment", "human-perception", "mllm-evaluation", "lmms-eval"],
            n_rows=sum(rows["default"].values()),
            **license_fields(spec.name, options.annotation_license, options.image_license),
        )
        card = DatasetCard(f"---\n{data.to_yaml()}\n---\n\n{card_text(spec, rows, test_split, findings, options)}")
        (tmp / "README.md").write_text(str(card), encoding="utf-8")
        fields = {
            "spec": spec.to_dict(),
            "spec_sha256": spec.fingerprint,
            "options": {
                "seed": options.seed,
                "test_size": options.test_size,
                "annotation_license": options.annotation_license,
                "image_license": options.image_license,
            },
            "test_split": test_split,
            "inputs": {"scores_csv_sha256": sha256_file(scores), "images": len(hashes)},
            "stand_in_images": False,
            "stand_in_evidence": None,
            "rows": rows,
            "notes": [],
            "audit": {"n_images": len(hashes), "open": len(findings), "findings": findings},
        }
        write_manifest(tmp, fields)

    sizes, files, cleaned = write_dataset_folder(
        out,
        {key: selected[key] for key in spec.keys},
        SPEC_SPLITS,
        images_root,
        finish,
        force=options.force,
        max_shard_bytes=options.max_shard_bytes,
        dimensions=spec.by_key,
    )
    return SpecBuildResult(out, sizes.rows, files, cleaned + findings)
