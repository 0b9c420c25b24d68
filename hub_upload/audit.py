"""Audit a parsed release and its images: every problem becomes a :class:`Finding` naming the file and the id.

Checks: missing or unreadable images, duplicate ids, the same image bytes in train and test (leakage), scores
outside the dimension's range, disagreement between the score files, the training JSON and the test files (score,
label, images without a score line, score lines no split uses), and suspicious placeholder values (a value
repeated many times with an empty gap around it, like Memorability's 209 scores of exactly 0.000 while the smallest
real one is 0.200).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from tqdm import tqdm

from cogip_tasks.dimensions import DIMENSIONS, row_id
from cogip_tasks.errors import CogIPError
from cogip_tasks.files import read_user_bytes
from cogip_tasks.images import ImageError, decode_image

from .release import SCORES_DIR, Item, Release, scores_name

# Scores in the release have three decimals; copies that differ by less than this agree.
SCORE_TOLERANCE = 5e-4
# A placeholder: one value held by at least this many entries (and this share) of a dimension ...
PLACEHOLDER_MIN_COUNT = 5
PLACEHOLDER_MIN_SHARE = 0.01
# ... with no other score closer than this fraction of the range width.
PLACEHOLDER_MIN_GAP = 0.1

KINDS = (
    "missing_image",
    "unreadable_image",
    "duplicate_id",
    "leakage",
    "score_out_of_range",
    "score_mismatch",
    "label_mismatch",
    "unscored_image",
    "unused_score",
    "suspicious_placeholder",
)


@dataclass(frozen=True)
class Placeholder:
    """The facts behind a ``suspicious_placeholder`` finding (the card states them; nothing re-parses messages)."""

    value: float  # the repeated score
    count: int  # entries of the score file holding it
    total: int  # entries of the score file
    nearest: float | None  # the closest other score of the file, None if there is none

    def describe(self) -> str:
        nearest = "none" if self.nearest is None else self.nearest
        return (
            f"score {self.value:.3f} is shared by {self.count} of {self.total} images, "
            f"nearest other score {nearest}: likely a missing annotation"
        )


@dataclass(frozen=True)
class Finding:
    kind: str  # one of KINDS
    file: str  # the file the problem is in: release-relative, or relative to the image root (<Dim>/NNNNNN.jpg)
    id: str  # the row id, e.g. "Memorability/000123"
    message: str
    resolved: bool = False  # True when the build left the rows out (--drop-suspicious)
    placeholder: Placeholder | None = None  # set on suspicious_placeholder findings

    def __str__(self) -> str:
        note = " [dropped]" if self.resolved else ""
        return f"{self.kind}: {self.file}: {self.id}: {self.message}{note}"


@dataclass
class AuditReport:
    findings: list[Finding] = field(default_factory=list)
    image_sha256: dict[str, str] = field(default_factory=dict)  # image path -> hash, readable images only
    n_images: int = 0

    @property
    def open_findings(self) -> list[Finding]:
        return [f for f in self.findings if not f.resolved]

    def counts(self) -> dict[str, int]:
        counted = Counter(f.kind for f in self.findings)
        return {kind: counted[kind] for kind in KINDS if counted[kind]}

    def ids_of(self, kind: str) -> set[str]:
        return {f.id for f in self.findings if f.kind == kind}

    def resolve(self, kind: str) -> None:
        """Mark a kind's findings as handled (their rows are left out of the build)."""
        self.findings = [replace(f, resolved=True) if f.kind == kind else f for f in self.findings]

    def to_json(self) -> dict:
        return {
            "n_images": self.n_images,
            "counts": self.counts(),
            "open": len(self.open_findings),
            "findings": [finding_json(f) for f in self.findings],
        }

    def summary(self, examples: int = 5) -> str:
        """Per kind: a count and the first few findings (file and id), for the CLI."""
        if not self.findings:
            return f"audit: no findings ({self.n_images} images checked)"
        lines = [
            f"audit: {len(self.findings)} finding(s), {len(self.open_findings)} open ({self.n_images} images checked)"
        ]
        for kind, count in self.counts().items():
            lines.append(f"  {kind}: {count}")
            of_kind = [f for f in self.findings if f.kind == kind]
            lines += [f"    {f}" for f in of_kind[:examples]]
            if count > examples:
                lines.append(f"    ... and {count - examples} more (all listed in cogip_build.json)")
        return "\n".join(lines)


def finding_json(finding: Finding) -> dict:
    """A finding for the manifest; ``placeholder`` only where it is set."""
    data = asdict(finding)
    if data["placeholder"] is None:
        del data["placeholder"]
    return data


def placeholder_values(scores: list[float], low: float, high: float) -> list[float]:
    """Values repeated suspiciously often with no other score near them (a continuous scale has no such spikes)."""
    counts = Counter(scores)
    distinct = sorted(counts)
    found = []
    for i, value in enumerate(distinct):
        if counts[value] < max(PLACEHOLDER_MIN_COUNT, PLACEHOLDER_MIN_SHARE * len(scores)):
            continue
        neighbours = distinct[max(i - 1, 0) : i] + distinct[i + 1 : i + 2]
        gap = min((abs(value - n) for n in neighbours), default=high - low)
        if gap >= PLACEHOLDER_MIN_GAP * (high - low):
            found.append(value)
    return found


def check_image(path: Path) -> tuple[str | None, str | None]:
    """``(sha256, None)`` for an image the benchmark can use, ``(None, reason)`` otherwise.

    Read with the one reader of user files (a regular file under the size cap) and decoded by the one image
    rule (:func:`cogip_tasks.images.decode_image`: pixel limit, mode, orientation; JPEGs at a reduced scale).
    """
    try:
        data = read_user_bytes(path, what="image")
    except CogIPError as err:
        return None, f"cannot be read: {str(err).removeprefix(f'{path}: ')}"
    try:
        decode_image(data, "image", draft=(64, 64))
    except ImageError as err:
        return None, str(err).removeprefix("image ")
    return hashlib.sha256(data).hexdigest(), None


def _check_images(items: list[Item], images_root: Path, report: AuditReport, progress: bool) -> None:
    seen: dict[str, Item] = {}
    for item in items:
        seen.setdefault(item.image, item)
    for image, item in tqdm(seen.items(), desc="audit: images", unit="img", disable=not progress):
        path = images_root / image
        if not path.exists() and not path.is_symlink():  # anything else there is read (and refused) below
            report.findings.append(
                Finding(
                    "missing_image", image, item.id, f"no such file under the image root (referenced by {item.where})"
                )
            )
            continue
        digest, problem = check_image(path)
        if problem:
            # PIL's messages name the absolute path: keep the manifest free of where the images happen to live
            report.findings.append(Finding("unreadable_image", image, item.id, problem.replace(str(path), image)))
        else:
            report.image_sha256[image] = digest
    report.n_images = len(seen)


def _check_duplicates(release: Release, report: AuditReport) -> None:
    for key, lines in release.scores.items():
        first: dict[str, int] = {}
        for line in lines:
            item_id = row_id(key, line.stem)
            if line.stem in first:
                report.findings.append(
                    Finding("duplicate_id", line.file, item_id, f"line {line.line} repeats line {first[line.stem]}")
                )
            first.setdefault(line.stem, line.line)
    for name, items in (("training", release.training), ("test pool", release.test_pool)):
        first_item: dict[str, Item] = {}
        for item in items:
            if item.id in first_item:
                report.findings.append(
                    Finding(
                        "duplicate_id",
                        item.file,
                        item.id,
                        f"{item.entry} repeats {first_item[item.id].entry} in the {name}",
                    )
                )
            first_item.setdefault(item.id, item)
    train_ids = {item.id: item for item in release.training}
    for item in release.test_pool:
        if item.id in train_ids:
            report.findings.append(
                Finding("duplicate_id", item.file, item.id, f"{item.entry} is also training {train_ids[item.id].where}")
            )


def _check_leakage(release: Release, report: AuditReport) -> None:
    by_hash: dict[str, list[Item]] = defaultdict(list)
    for item in release.training:
        digest = report.image_sha256.get(item.image)
        if digest:
            by_hash[digest].append(item)
    for item in release.test_pool:
        digest = report.image_sha256.get(item.image)
        for twin in by_hash.get(digest, []) if digest else []:
            if twin.image != item.image:  # the same path in both splits is already a duplicate_id
                report.findings.append(
                    Finding(
                        "leakage", item.image, item.id, f"same image bytes as training image {twin.image} ({twin.id})"
                    )
                )


def _check_scores(release: Release, report: AuditReport) -> None:
    scored = {(line.dimension, line.stem): line for lines in release.scores.values() for line in lines}
    for lines in release.scores.values():
        for line in lines:
            dim = DIMENSIONS[line.dimension]
            if not dim.in_range(line.score):
                report.findings.append(
                    Finding(
                        "score_out_of_range",
                        line.file,
                        row_id(dim, line.stem),
                        f"line {line.line}: score {line.score} outside [{dim.low}, {dim.high}]",
                    )
                )
    used = set()
    for item in release.training + release.test_pool:
        dim = DIMENSIONS[item.dimension]
        used.add((item.dimension, item.stem))
        if not dim.in_range(item.score):
            report.findings.append(
                Finding(
                    "score_out_of_range",
                    item.file,
                    item.id,
                    f"{item.entry}: score {item.score} outside [{dim.low}, {dim.high}]",
                )
            )
        if item.label != dim.label_for(item.score):
            report.findings.append(
                Finding(
                    "label_mismatch",
                    item.file,
                    item.id,
                    f"{item.entry}: label {item.label!r} but score {item.score} is {dim.label_for(item.score)!r}",
                )
            )
        line = scored.get((item.dimension, item.stem))
        if line is None:
            report.findings.append(
                Finding(
                    "unscored_image", item.file, item.id, f"{item.entry}: no line in {SCORES_DIR}/{scores_name(dim)}"
                )
            )
        elif abs(line.score - item.score) > SCORE_TOLERANCE:
            report.findings.append(
                Finding(
                    "score_mismatch",
                    item.file,
                    item.id,
                    f"{item.entry}: score {item.score} but {line.file} line {line.line} says {line.score}",
                )
            )
    for (key, stem), line in scored.items():
        if (key, stem) not in used:
            report.findings.append(
                Finding(
                    "unused_score",
                    line.file,
                    row_id(key, stem),
                    f"line {line.line}: image is in neither the training JSON nor the test files",
                )
            )


def _check_placeholders(release: Release, report: AuditReport) -> None:
    for key, lines in release.scores.items():
        dim = DIMENSIONS[key]
        if dim.integer_scores or not lines:  # a whole-number scale repeats values by design
            continue
        values = placeholder_values([line.score for line in lines], dim.low, dim.high)
        for value in values:
            hits = [line for line in lines if line.score == value]
            others = sorted({line.score for line in lines} - {value}, key=lambda s: abs(s - value))
            facts = Placeholder(value, len(hits), len(lines), others[0] if others else None)
            for line in hits:
                report.findings.append(
                    Finding(
                        "suspicious_placeholder",
                        line.file,
                        row_id(dim, line.stem),
                        f"line {line.line}: {facts.describe()}",
                        placeholder=facts,
                    )
                )


def audit_release(release: Release, images_root: str | Path, progress: bool = True) -> AuditReport:
    """Run every check; the report keeps each readable image's sha256 for the build."""
    report = AuditReport()
    _check_images(release.training + release.test_pool, Path(images_root), report, progress)
    _check_duplicates(release, report)
    _check_leakage(release, report)
    _check_scores(release, report)
    _check_placeholders(release, report)
    return report
