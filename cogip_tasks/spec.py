"""Benchmark specs: a benchmark's dimensions as data, parsed and checked into :class:`Dimension` objects.

A spec is a YAML (or JSON) mapping; the shipped CogIP-Bench spec, ``cogip_tasks/tasks/cogip/spec.yaml``,
documents the fields and is the one home of the four CogIP-Bench dimensions (``cogip_tasks.dimensions`` loads
it). Any spec of the same shape makes another data set a CogIP benchmark: ``cogip-upload build --spec`` embeds
it in the dataset's manifest and card, ``cogip-eval tasks write`` writes its lmms-eval tasks, and the parser,
readouts, metrics, trainer and leaderboard read its labels and ranges through the ``Dimension`` objects.

Every mistake in a spec is one :class:`SpecError` line naming the spec, the dimension and the field.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import CogIPError
from .files import UserFileError, read_user_text

#: The spec file in a task folder (the built-in one included) and its largest accepted size.
SPEC_FILE = "spec.yaml"
MAX_SPEC_BYTES = 1 << 20

_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
_COLUMN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}")  # also a folder name in the release layout
_LABEL = re.compile(r"[^\W\d_]+(?:[ -][^\W\d_]+)*")  # letter words joined by one space or hyphen; no digits
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)")
MAX_TARGET_DECIMALS = 6


class SpecError(CogIPError, ValueError):
    """A spec that cannot define a benchmark; the message names the spec, the dimension and the field."""


@dataclass(frozen=True)
class LabelBin:
    """One label and the upper edge of its score interval.

    A bin holds every score below ``upper`` that no earlier bin holds; ``upper_inclusive`` adds the edge
    itself (the top bin, and valence's one-point ``neutral`` bin).
    """

    label: str
    upper: float
    upper_inclusive: bool = False

    def holds(self, score: float) -> bool:
        return score < self.upper or (self.upper_inclusive and score == self.upper)


@dataclass(frozen=True)
class Dimension:
    key: str  # canonical key: task names, dataset configs, CLI options
    release_name: str  # spelling in the release files and the dataset's `dimension` column
    low: float
    high: float
    bins: tuple[LabelBin, ...]
    integer_scores: bool = False  # human scores are whole numbers (emotional valence)
    display_name: str = ""  # "" : the release spelling with spaces
    prompt: str = ""  # the describe-then-predict prompt
    target_decimals: int = 3  # decimals of a "<label> <score>" answer or target
    benchmark: str = "cogip"  # the spec's name: task names are <benchmark>_<key>
    aliases: tuple[str, ...] = ()
    index: int = 0  # position in the benchmark's order (seeds the dimension's bootstrap)

    @property
    def task_name(self) -> str:
        return f"{self.benchmark}_{self.key}"

    @property
    def title(self) -> str:
        return self.display_name or self.release_name.replace("_", " ")

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(b.label for b in self.bins)

    @property
    def midpoint(self) -> float:
        """Centre of the score range: what an unparsable answer is imputed to."""
        return (self.low + self.high) / 2

    def in_range(self, score: float) -> bool:
        return self.low <= score <= self.high

    def label_for(self, score: float) -> str:
        """The label bin a score falls in (scores outside the range go to the nearest end bin)."""
        for b in self.bins:
            if b.holds(score):
                return b.label
        return self.bins[-1].label

    def bin_interval(self, label: str) -> tuple[float, float]:
        """``(lower, upper)`` edges of a label's bin, clipped to the score range."""
        lower = self.low
        for b in self.bins:
            upper = min(b.upper, self.high)
            if b.label == label:
                return lower, upper
            lower = upper
        raise KeyError(f"{label!r} is not a label of {self.key} (labels: {', '.join(self.labels)})")

    def bin_midpoint(self, label: str) -> float:
        lower, upper = self.bin_interval(label)
        return (lower + upper) / 2

    def names(self) -> tuple[str, ...]:
        """Every spelling that names this dimension: key, column spelling, task name, aliases."""
        return (self.key, self.release_name, self.task_name, *self.aliases)


def normalise_name(name: str) -> str:
    """How dimension names are compared: case, spaces and hyphens do not matter."""
    return name.strip().lower().replace("-", "_").replace(" ", "_")


@dataclass(frozen=True)
class BenchmarkSpec:
    """A benchmark: its name, title and dimensions (in order), and the spec data they were parsed from."""

    name: str
    title: str
    dimensions: tuple[Dimension, ...]
    data: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)
    source: str = field(compare=False, default="")

    @property
    def by_key(self) -> dict[str, Dimension]:
        return {d.key: d for d in self.dimensions}

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(d.key for d in self.dimensions)

    @property
    def task_names(self) -> tuple[str, ...]:
        return tuple(d.task_name for d in self.dimensions)

    def find(self, name: str | Dimension) -> Dimension | None:
        """The dimension one of whose spellings is ``name`` (case-insensitive), or None."""
        if isinstance(name, Dimension):
            return name if name in self.dimensions else None
        wanted = normalise_name(str(name))
        for d in self.dimensions:
            if wanted in {normalise_name(n) for n in d.names()}:
                return d
        return None

    def dimension(self, name: str | Dimension) -> Dimension:
        found = self.find(name)
        if found is None:
            known = ", ".join(f"{d.key} / {d.release_name}" for d in self.dimensions)
            raise ValueError(f"unknown {self.title} dimension {str(name)!r}; expected one of: {known}")
        return found

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data (what a dataset's manifest and card embed); ``parse_spec`` reads it back."""
        return json.loads(json.dumps(self.data))

    @property
    def fingerprint(self) -> str:
        """sha256 of the spec's canonical JSON: two specs with the same facts have the same fingerprint."""
        canonical = json.dumps(self.data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


# --------------------------------------------------------------------------------------------------- parsing

_TOP_FIELDS = {"name", "title", "target_decimals", "dimensions"}
_DIM_FIELDS = {
    "key",
    "name",
    "column",
    "aliases",
    "range",
    "integer_scores",
    "labels",
    "prompt",
    "target_decimals",
}
_BIN_FIELDS = {"label", "upper", "inclusive"}


class _At:
    """Where in a spec a check is: builds the one-line message ``<spec>: dimension <key>: field <f>: ...``."""

    def __init__(self, source: str, dimension: str | None = None):
        self.source, self.dimension = source, dimension

    def error(self, field_name: str, problem: str) -> SpecError:
        where = f"dimension {self.dimension!r}: " if self.dimension is not None else ""
        return SpecError(f"{self.source}: {where}field {field_name!r}: {problem}")


def _number(value: Any, at: _At, field_name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise at.error(field_name, f"{value!r} is not a finite number")
    return float(value)


def _text(value: Any, at: _At, field_name: str, pattern: re.Pattern[str] | None = None, what: str = "") -> str:
    if not isinstance(value, str) or not value.strip():
        raise at.error(field_name, f"{value!r} is not a non-empty string")
    if pattern is not None and not pattern.fullmatch(value):
        raise at.error(field_name, f"{value!r} is not {what}")
    return value


def _flag(value: Any, at: _At, field_name: str) -> bool:
    if not isinstance(value, bool):
        raise at.error(field_name, f"{value!r} is not true or false")
    return value


def _decimals(value: Any, at: _At, field_name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TARGET_DECIMALS:
        raise at.error(field_name, f"{value!r} is not a whole number from 0 to {MAX_TARGET_DECIMALS}")
    return value


def _unknown_fields(data: Mapping[str, Any], allowed: set[str], at: _At, what: str) -> None:
    extra = sorted(str(k) for k in data if k not in allowed)
    if extra:
        raise at.error(extra[0], f"not a field of {what} (fields: {', '.join(sorted(allowed))})")


def _label_words(label: str) -> str:
    return " ".join(label.lower().replace("-", " ").split())


def _bins(value: Any, low: float, high: float, at: _At) -> tuple[LabelBin, ...]:
    if not isinstance(value, list) or len(value) < 2:
        raise at.error("labels", "expected a list of at least 2 bins {label, upper, inclusive}, from low to high")
    bins: list[LabelBin] = []
    for i, entry in enumerate(value):
        where = f"labels[{i}]"
        if not isinstance(entry, Mapping):
            raise at.error(where, f"{entry!r} is not a mapping {{label, upper, inclusive}}")
        _unknown_fields(entry, _BIN_FIELDS, at, "a label bin")
        for needed in ("label", "upper"):
            if needed not in entry:
                raise at.error(f"{where}.{needed}", "missing")
        label = _text(entry["label"], at, f"{where}.label", _LABEL, "letter words separated by single spaces")
        upper = _number(entry["upper"], at, f"{where}.upper")
        inclusive = _flag(entry.get("inclusive", False), at, f"{where}.inclusive")
        if bins and (
            upper < bins[-1].upper or (upper == bins[-1].upper and (bins[-1].upper_inclusive or not inclusive))
        ):
            raise at.error(
                f"{where}.upper",
                f"bins overlap or are out of order: {label!r} ends at {upper:g}, not after "
                f"{bins[-1].label!r} ({bins[-1].upper:g}); list the bins from low to high",
            )
        if not bins and upper <= low and not (upper == low and inclusive):
            raise at.error(f"{where}.upper", f"{label!r} ends at {upper:g}, at or below the range's low end {low:g}")
        bins.append(LabelBin(label, upper, inclusive))
    top = bins[-1]
    if top.upper != high or not top.upper_inclusive:
        raise at.error(
            f"labels[{len(bins) - 1}]",
            f"the last bin must end at the range's top: upper: {high:g}, inclusive: true (got {top.upper:g}"
            f"{', inclusive' if top.upper_inclusive else ''})",
        )
    words = [_label_words(b.label) for b in bins]
    for i, a in enumerate(words):
        for j, b in enumerate(words):
            if i != j and (a == b or b.startswith(a)):
                problem = "is used twice" if a == b else f"is a prefix of {bins[j].label!r}"
                raise at.error(
                    f"labels[{i}].label",
                    f"label {bins[i].label!r} {problem}: an answer's label would be ambiguous",
                )
    return tuple(bins)


def _check_prompt(prompt: str, bins: tuple[LabelBin, ...], low: float, high: float, at: _At) -> None:
    lowered = " ".join(prompt.lower().replace("-", " ").split())
    missing = [b.label for b in bins if not re.search(rf"(?<!\w){re.escape(_label_words(b.label))}(?!\w)", lowered)]
    if missing:
        raise at.error("prompt", f"does not state the label word(s) {', '.join(map(repr, missing))}")
    numbers = [float(m.group()) for m in _NUMBER.finditer(prompt)]
    if not any(n <= low for n in numbers) or not any(n >= high for n in numbers):
        raise at.error("prompt", f"does not state the score range {low:g} to {high:g}")


def _dimension(data: Any, i: int, benchmark: str, decimals: int, at_spec: _At) -> Dimension:
    if not isinstance(data, Mapping):
        raise at_spec.error(f"dimensions[{i}]", f"{data!r} is not a mapping")
    key = data.get("key")
    at = _At(at_spec.source, str(key) if isinstance(key, str) else f"#{i + 1}")
    _unknown_fields(data, _DIM_FIELDS, at, "a dimension")
    for needed in ("key", "range", "labels", "prompt"):
        if needed not in data:
            raise at.error(needed, "missing")
    key = _text(key, at, "key", _KEY, "a lowercase identifier (a-z, 0-9, _; starting with a letter)")
    column = _text(data.get("column", key), at, "column", _COLUMN, "letters, digits, '_', '.' or '-'")
    name = _text(data.get("name", column.replace("_", " ")), at, "name")
    aliases = data.get("aliases", [])
    if not isinstance(aliases, list):
        raise at.error("aliases", f"{aliases!r} is not a list of names")
    aliases = tuple(_text(a, at, "aliases") for a in aliases)
    bounds = data["range"]
    if not isinstance(bounds, list) or len(bounds) != 2:
        raise at.error("range", f"{bounds!r} is not [low, high]")
    low, high = (_number(v, at, "range") for v in bounds)
    if low == high:
        raise at.error("range", f"the ends are equal ({low:g}): a range needs low < high")
    if low > high:
        raise at.error("range", f"[{low:g}, {high:g}] is reversed: write [low, high]")
    integer_scores = _flag(data.get("integer_scores", False), at, "integer_scores")
    if integer_scores and not (low.is_integer() and high.is_integer()):
        raise at.error("range", f"integer_scores needs whole-number range ends, not [{low:g}, {high:g}]")
    bins = _bins(data["labels"], low, high, at)
    prompt = _text(data["prompt"], at, "prompt")
    _check_prompt(prompt, bins, low, high, at)
    target_decimals = _decimals(data.get("target_decimals", decimals), at, "target_decimals")
    return Dimension(
        key,
        column,
        low,
        high,
        bins,
        integer_scores=integer_scores,
        display_name=name,
        prompt=prompt,
        target_decimals=target_decimals,
        benchmark=benchmark,
        aliases=aliases,
        index=i,
    )


def parse_spec(data: Any, source: str = "spec") -> BenchmarkSpec:
    """Check a spec's data and build its dimensions; :class:`SpecError` (one line) on the first mistake."""
    at = _At(source)
    if not isinstance(data, Mapping):
        raise SpecError(f"{source}: a spec is a mapping with name, title, dimensions (got {type(data).__name__})")
    _unknown_fields(data, _TOP_FIELDS, at, "a spec")
    for needed in ("name", "dimensions"):
        if needed not in data:
            raise at.error(needed, "missing")
    name = _text(data["name"], at, "name", _NAME, "a lowercase identifier (a-z, 0-9, _; starting with a letter)")
    title = _text(data.get("title", name), at, "title")
    decimals = _decimals(data.get("target_decimals", 3), at, "target_decimals")
    entries = data["dimensions"]
    if not isinstance(entries, list) or not entries:
        raise at.error("dimensions", "expected a non-empty list of dimensions")
    dims = tuple(_dimension(entry, i, name, decimals, at) for i, entry in enumerate(entries))
    seen: dict[str, str] = {}
    for d in dims:
        for spelling in {normalise_name(n) for n in d.names()}:
            if spelling in seen and seen[spelling] != d.key:
                raise _At(source, d.key).error(
                    "key", f"the name {spelling!r} also names dimension {seen[spelling]!r}: names must be unique"
                )
            seen[spelling] = d.key
    if normalise_name(name) in seen:
        raise at.error("name", f"{name!r} is also a dimension's name; the group and its tasks need distinct names")
    return BenchmarkSpec(name, title, dims, json.loads(json.dumps(dict(data))), source)


def load_spec(path: str | Path) -> BenchmarkSpec:
    """Read and check a spec file (YAML or JSON) through the one reader of user files."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(read_user_text(path, what="spec file", max_bytes=MAX_SPEC_BYTES))
    except UserFileError as err:
        raise SpecError(str(err)) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise SpecError(f"{path}: not valid YAML{at}: {getattr(err, 'problem', None) or err}") from None
    except RecursionError:
        raise SpecError(f"{path}: nested too deeply to be a spec") from None
    return parse_spec(data, str(path))
