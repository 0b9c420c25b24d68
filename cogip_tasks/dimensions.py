"""The four CogIP-Bench dimensions: names, score ranges and label bins.

This module is the single source of truth for these facts; every other module of every CogIP package
imports them from here. The values follow the release prompts (see the release README):

- Aesthetics, Funniness: 0-10; very low < 3.5 <= low < 5.0 <= medium < 6.5 <= high < 8.0 <= very high
- Memorability: 0-1; very low < 0.35 <= low < 0.5 <= medium < 0.65 <= high < 0.8 <= very high
- Emotional valence: -3..3 (integers in the data); negative < -0.5 <= neutral <= 0.5 < positive. The release
  states "negative < 0, neutral = 0, positive > 0" for its integer scores; the half-point band gives the same
  label to every integer and lets a continuous score (an expected readout, a regression head) be neutral: it is
  the label of the nearest integer.

Answers and training targets are written ``"<label> <score with 3 decimals>"`` (:func:`format_target`), the
release's format; the label is the bin of the *printed* score.
"""

from __future__ import annotations

from dataclasses import dataclass


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
    release_name: str  # spelling in the release files and the Hub dataset's `dimension` column
    low: float
    high: float
    bins: tuple[LabelBin, ...]
    integer_scores: bool = False  # human scores are whole numbers (emotional valence)

    @property
    def task_name(self) -> str:
        return f"cogip_{self.key}"

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


#: Decimals of the release's scores and of every describe-then-predict target ("high 7.234").
TARGET_DECIMALS = 3
#: Human scores are compared at this precision: the Hub column is float32, whose representation noise
#: (0.35 -> 0.3499999940395355) must not reach logs, submissions or label bins.
HUMAN_DECIMALS = 4


def human_score(value: float) -> float:
    """A human score as the benchmark compares it: a float, rounded to drop float32 representation noise."""
    return round(float(value), HUMAN_DECIMALS)


def format_target(score: float, dimension: str | Dimension) -> str:
    """The describe-then-predict answer for a score: ``"<label> <score:.3f>"``, labelled after rounding.

    Rounding first keeps label and number consistent: float32 ``0.35`` (0.34999...) is ``"low 0.350"``, as in
    the release, not ``"very low 0.350"``.
    """
    dim = get_dimension(dimension)
    value = round(float(score), TARGET_DECIMALS)
    return f"{dim.label_for(value)} {value:.{TARGET_DECIMALS}f}"


def row_id(dimension: str | Dimension, stem: str) -> str:
    """A row's id, ``"<Release name>/<image stem>"`` (``"Memorability/000123"``): unique across dimensions,
    unlike the release's own training ids, which repeat per dimension."""
    return f"{get_dimension(dimension).release_name}/{stem}"


def image_path(dimension: str | Dimension, stem: str) -> str:
    """An image's path relative to the image root, as the release names it: ``"<Release name>/<stem>.jpg"``."""
    return f"{row_id(dimension, stem)}.jpg"


_FIVE_LEVELS = ("very low", "low", "medium", "high", "very high")


def _five_level_bins(cuts: tuple[float, float, float, float], high: float) -> tuple[LabelBin, ...]:
    uppers = (*cuts, high)
    return tuple(
        LabelBin(label, upper, upper_inclusive=(i == len(uppers) - 1))
        for i, (label, upper) in enumerate(zip(_FIVE_LEVELS, uppers))
    )


AESTHETICS = Dimension("aesthetics", "Aesthetics", 0.0, 10.0, _five_level_bins((3.5, 5.0, 6.5, 8.0), 10.0))
FUNNINESS = Dimension("funniness", "Funniness", 0.0, 10.0, _five_level_bins((3.5, 5.0, 6.5, 8.0), 10.0))
EMOTIONAL_VALENCE = Dimension(
    "emotional_valence",
    "Emotional_Valence",
    -3.0,
    3.0,
    (
        LabelBin("negative", -0.5),
        LabelBin("neutral", 0.5, upper_inclusive=True),
        LabelBin("positive", 3.0, upper_inclusive=True),
    ),
    integer_scores=True,
)
MEMORABILITY = Dimension("memorability", "Memorability", 0.0, 1.0, _five_level_bins((0.35, 0.5, 0.65, 0.8), 1.0))

#: Canonical key -> Dimension, in the benchmark's order.
DIMENSIONS: dict[str, Dimension] = {d.key: d for d in (AESTHETICS, FUNNINESS, EMOTIONAL_VALENCE, MEMORABILITY)}
DIMENSION_KEYS: tuple[str, ...] = tuple(DIMENSIONS)


def _normalise(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


_BY_NAME: dict[str, Dimension] = {}
for _d in DIMENSIONS.values():
    for _name in (_d.key, _d.release_name, _d.task_name):
        _BY_NAME[_normalise(_name)] = _d
_BY_NAME["emotion"] = EMOTIONAL_VALENCE  # the generation prompt file is named emotion.json


def get_dimension(name: str | Dimension) -> Dimension:
    """Look a dimension up by canonical key, release spelling or task name (case-insensitive)."""
    if isinstance(name, Dimension):
        return name
    try:
        return _BY_NAME[_normalise(str(name))]
    except KeyError:
        known = ", ".join(f"{d.key} / {d.release_name}" for d in DIMENSIONS.values())
        raise ValueError(f"unknown CogIP dimension {name!r}; expected one of: {known}") from None
