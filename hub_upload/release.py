"""Reading the CogIP-Bench annotation release, and refusing malformed files with the file and entry named.

The release (see ``../shared/README.md``) holds the same scores three times: ``cognition_scores/<Dim>_scores.txt``
(every image), ``cognition_training.json`` (the SFT rows) and ``test_msg_file/<Dim>/`` (the test pool as chat
messages plus a parallel list of answers). This module only *parses*: a file that cannot be read as the release
format is an error (:class:`ReleaseError`); disagreements between readable files are audit findings
(:mod:`hub_upload.audit`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cogip_tasks.dimensions import DIMENSIONS, Dimension, get_dimension, row_id
from cogip_tasks.errors import CogIPError
from cogip_tasks.files import UserFileError, parse_json, read_user_text

SCORES_DIR = "cognition_scores"
TRAINING_FILE = "cognition_training.json"
TEST_DIR = "test_msg_file"
IMAGE_PLACEHOLDER = "<image>"
# The largest finite float32: the dataset's score column is float32, so anything larger would be stored as inf.
FLOAT32_MAX = 3.4028234663852886e38
# An image file name's stem: letters, digits, "_" and "-" only (the release uses NNNNNN), so that no name read
# from a release can leave the image root or the stand-in folder ("../x", "/etc/x", "a/b").
_STEM = re.compile(r"[A-Za-z0-9_-]+")


class InputError(CogIPError, ValueError):
    """Bad input or option (a file, a folder, a value); the one-line message names it."""


class ReleaseError(InputError):
    """A release file that cannot be read; the message names the file and the entry."""


@dataclass(frozen=True)
class ScoreLine:
    """One line of ``cognition_scores/<Dim>_scores.txt``."""

    dimension: str  # canonical key
    stem: str  # "000123"
    score: float
    file: str  # path relative to the release root
    line: int  # 1-based


@dataclass(frozen=True)
class Item:
    """One training row or test-pool entry, as the release states it."""

    dimension: str  # canonical key
    stem: str  # "000123": the image file name without ".jpg", unique within a dimension
    image: str  # "<Dim>/000123.jpg", relative to the image root
    prompt: str  # the release prompt with its leading "<image>" placeholder removed, stripped
    label: str
    score: float
    file: str  # release-relative file the entry comes from
    entry: str  # where in that file: "entry 12 (id '00012', image 'Aesthetics/000012.jpg')"

    @property
    def id(self) -> str:
        """Unique across dimensions (the release's own training ids repeat per dimension)."""
        return row_id(self.dimension, self.stem)

    @property
    def where(self) -> str:
        return f"{self.file}: {self.entry}"


@dataclass
class Release:
    root: Path
    scores: dict[str, list[ScoreLine]]  # dimension key -> lines in file order
    training: list[Item]
    test_pool: list[Item]

    def files(self) -> list[str]:
        """Release-relative paths of every file read (for the build manifest)."""
        return (
            [SCORES_DIR + "/" + scores_name(d) for d in DIMENSIONS.values()]
            + [TRAINING_FILE]
            + [p for d in DIMENSIONS.values() for p in (messages_path(d), answers_path(d))]
        )


def scores_name(dim: Dimension) -> str:
    return f"{dim.release_name}_scores.txt"


def messages_path(dim: Dimension) -> str:
    return f"{TEST_DIR}/{dim.release_name}/{dim.release_name}_messages.json"


def answers_path(dim: Dimension) -> str:
    return f"{TEST_DIR}/{dim.release_name}/{dim.release_name}_scores.json"


def clean_prompt(text: str) -> str:
    """Drop the leading ``<image>`` placeholder and surrounding whitespace: the stored prompt is what the model
    reads."""
    return text.strip().removeprefix(IMAGE_PLACEHOLDER).strip()


def parse_number(text: str, where: str) -> float:
    """A score as a finite float that float32 (the dataset's column) can hold; anything else names ``where``."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ReleaseError(f"{where}: score {text!r} is not a number") from None
    if not math.isfinite(value):  # inf, -inf, NaN
        raise ReleaseError(f"{where}: score {text!r} is not a finite number")
    if abs(value) > FLOAT32_MAX:  # 1e39 is finite here but inf in the float32 column
        raise ReleaseError(f"{where}: score {text!r} overflows float32 (the dataset's score column)")
    return value


def check_stem(name: str, where: str) -> str:
    """``"000123.jpg"`` -> ``"000123"``; a name that could leave its folder (``../x.jpg``) is an error."""
    stem = name.removesuffix(".jpg") if isinstance(name, str) and name.endswith(".jpg") else None
    if stem is None or not _STEM.fullmatch(stem):
        raise ReleaseError(f"{where}: image name {name!r} is not a plain file name '<letters, digits, _ or ->.jpg'")
    return stem


def parse_answer_string(text: Any, where: str) -> tuple[str, float]:
    """``"medium 5.577"`` -> ``("medium", 5.577)`` (labels may hold a space: ``"very high 8.626"``)."""
    if not isinstance(text, str) or " " not in text.strip():
        raise ReleaseError(f"{where}: expected '<label> <score>', got {text!r}")
    label, number = text.strip().rsplit(" ", 1)
    return label.strip(), parse_number(number, where)


def split_image_path(image: Any, where: str) -> tuple[Dimension, str]:
    """``"Aesthetics/000123.jpg"`` -> (Aesthetics, "000123")."""
    if not isinstance(image, str) or image.count("/") != 1 or not image.endswith(".jpg"):
        raise ReleaseError(f"{where}: image {image!r} is not '<Dimension>/NNNNNN.jpg'")
    folder, name = image.split("/")
    try:
        dim = get_dimension(folder)
    except ValueError as err:
        raise ReleaseError(f"{where}: image {image!r}: {err}") from None
    if folder != dim.release_name:  # the path is used as is under the image root: one spelling per dimension
        raise ReleaseError(f"{where}: image {image!r}: folder must be spelled {dim.release_name!r}")
    return dim, check_stem(name, f"{where}: image {image!r}")


def _read_text(root: Path, rel: str) -> str:
    path = root / rel
    if not path.exists() and not path.is_symlink():
        raise ReleaseError(f"{path}: missing file (a CogIP release has {rel})")
    try:
        return read_user_text(path, what="release file")
    except UserFileError as err:
        raise ReleaseError(str(err)) from None


def _read_json(root: Path, rel: str) -> Any:
    try:
        return parse_json(_read_text(root, rel), f"{root / rel}")
    except UserFileError as err:
        raise ReleaseError(str(err)) from None


def read_scores(root: Path, dim: Dimension) -> list[ScoreLine]:
    rel = f"{SCORES_DIR}/{scores_name(dim)}"
    lines = []
    for number, line in enumerate(_read_text(root, rel).splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{root / rel}: line {number}"
        parts = line.strip().split("\t")
        if len(parts) != 2:
            raise ReleaseError(f"{where}: expected 'NNNNNN.jpg<TAB>score', got {line!r}")
        name, score = parts
        stem = check_stem(name, where)
        lines.append(ScoreLine(dim.key, stem, parse_number(score, f"{where} ({name})"), rel, number))
    return lines


def read_training(root: Path) -> list[Item]:
    rows = _read_json(root, TRAINING_FILE)
    if not isinstance(rows, list):
        raise ReleaseError(f"{root / TRAINING_FILE}: expected a JSON list of rows, got {type(rows).__name__}")
    items = []
    for index, row in enumerate(rows):
        entry = f"entry {index}"
        where = f"{root / TRAINING_FILE}: {entry}"
        try:
            images, conversations = row["image"], row["conversations"]
            entry = f"entry {index} (id {row.get('id')!r}, image {images[0]!r})"
            where = f"{root / TRAINING_FILE}: {entry}"
            human = next(t["value"] for t in conversations if t["from"] == "human")
            answer = next(t["value"] for t in conversations if t["from"] == "gpt")
        except (KeyError, IndexError, TypeError, StopIteration, AttributeError):
            raise ReleaseError(
                f"{where}: expected {{'id', 'image': [path], 'conversations': [human turn, gpt turn]}}, "
                f"got {row!r:.200}"
            ) from None
        if len(images) != 1:
            raise ReleaseError(f"{where}: expected one image, got {len(images)}")
        dim, stem = split_image_path(images[0], where)
        label, score = parse_answer_string(answer, where)
        items.append(Item(dim.key, stem, images[0], clean_prompt(str(human)), label, score, TRAINING_FILE, entry))
    return items


def read_test_pool(root: Path, dim: Dimension) -> list[Item]:
    messages_rel, answers_rel = messages_path(dim), answers_path(dim)
    messages, answers = _read_json(root, messages_rel), _read_json(root, answers_rel)
    for rel, value in ((messages_rel, messages), (answers_rel, answers)):
        if not isinstance(value, list):
            raise ReleaseError(f"{root / rel}: expected a JSON list, got {type(value).__name__}")
    items = []
    for index, conversation in enumerate(messages):
        where = f"{root / messages_rel}: entry {index}"
        try:
            content = conversation[0]["content"]
            image = next(c["image"] for c in content if c["type"] == "image")
            text = next(c["text"] for c in content if c["type"] == "text")
        except (KeyError, IndexError, TypeError, StopIteration):
            raise ReleaseError(
                f"{where}: expected [{{'role': 'user', 'content': "
                f"[{{'type': 'image', ...}}, {{'type': 'text', ...}}]}}], "
                f"got {conversation!r:.200}"
            ) from None
        entry = f"entry {index} (image {image!r})"
        if index >= len(answers):
            raise ReleaseError(
                f"{root / messages_rel}: {entry} has no score: {root / answers_rel} holds only {len(answers)} entries"
            )
        image_dim, stem = split_image_path(image, f"{root / messages_rel}: {entry}")
        if image_dim is not dim:
            raise ReleaseError(
                f"{root / messages_rel}: {entry}: image of {image_dim.release_name} in {dim.release_name}'s file"
            )
        label, score = parse_answer_string(answers[index], f"{root / answers_rel}: entry {index} (image {image!r})")
        items.append(Item(dim.key, stem, image, clean_prompt(str(text)), label, score, messages_rel, entry))
    if len(answers) > len(messages):
        raise ReleaseError(
            f"{root / answers_rel}: entry {len(messages)} ({answers[len(messages)]!r}) has no message: "
            f"{root / messages_rel} holds only {len(messages)} entries"
        )
    return items


def read_release(root: str | Path) -> Release:
    """Parse every file of a release folder; raise :class:`ReleaseError` on the first malformed one."""
    root = Path(root)
    if not root.is_dir():
        raise ReleaseError(f"{root}: release folder not found")
    scores = {dim.key: read_scores(root, dim) for dim in DIMENSIONS.values()}
    training = read_training(root)
    test_pool = [item for dim in DIMENSIONS.values() for item in read_test_pool(root, dim)]
    return Release(root, scores, training, test_pool)
