"""Reading a label and a score out of a model's describe-then-predict answer.

``parse_answer`` is the benchmark's parser. How it picks the score when an answer holds several numbers:

1. Numbers that only describe a scale are not candidates: the ``10`` of ``7/10`` or ``7 out of 10``, and both
   ends of a range such as ``on a scale of 0 to 10`` / ``(0-10)``.
2. If some numbers are introduced by a score cue (``score``, ``rating``, ``rated``, ``rate``, ``give``), the
   *last* cued number wins (``Score: 7.2``; a model that revises itself ends with its final answer).
3. Otherwise, a number written right after one of the dimension's label words wins (``high 7.234`` — the
   format the benchmark asks for); the last such one if there are several.
4. Otherwise the last number in the answer wins (prose usually ends with the conclusion).

Scales: ``7/10`` or ``7.5 out of 10`` on a 0-10 dimension is 7 / 7.5; a different denominator, or a percent,
is rescaled onto a range that starts at 0 (``65%`` memorability is 0.65, ``6.5/10`` memorability is 0.65).
Emotional valence accepts only ``/3`` and no percent. A score outside the dimension's range is a failure
(``failure="out_of_range"``), never clamped.

``parse_answer_paper`` reproduces the paper's parser (first number in the text, no range check, answers
without a number dropped) for comparison with the published figures.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import NamedTuple

from .dimensions import Dimension, get_dimension

#: Bumped whenever parsing behaviour changes; leaderboard submissions record it.
PARSER_VERSION = "cogip-parse-1"

# Failure codes recorded in the sample logs and counted in reports.
NO_NUMBER = "no_number"
OUT_OF_RANGE = "out_of_range"
BAD_SCALE = "bad_scale"


class ParsedAnswer(NamedTuple):
    label: str | None
    score: float | None
    failure: str | None = None  # None when a score was read; else NO_NUMBER / OUT_OF_RANGE / BAD_SCALE
    value: float | None = None  # the number read before the range check (for diagnostics)


_MINUS_SIGNS = "\u2212\u2012\u2013\u2014\ufe63\uff0d"  # minus, figure/en/em dashes, small/full-width hyphen
_NUMBER = r"\d+(?:\.\d+)?|\.\d+"
_CANDIDATE = re.compile(
    rf"(?<![\w.])(?P<sign>[-+])?(?P<num>{_NUMBER})(?![\w])"
    rf"(?:\s*(?P<percent>%|percent\b)|\s*(?:/|out\s+of\b)\s*(?P<denom>{_NUMBER}))?",
    re.IGNORECASE,
)
_RANGE = re.compile(
    rf"(?P<a>{_NUMBER})\s*(?:-|to)\s*(?P<b>{_NUMBER})", re.IGNORECASE
)
_RANGE_CONTEXT = re.compile(r"(scale|range|from|between)\W*(\w+\W+){0,3}$", re.IGNORECASE)
_SCORE_CUE = re.compile(r"\b(score|scores|scored|rating|rated|rate|give|giving)\b[^\d\n.!?]{0,30}$", re.IGNORECASE)


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    # A dash before a digit is a minus sign unless it joins two numbers (a range such as 7–8).
    text = re.sub(rf"(?<![\d.])[{_MINUS_SIGNS}](?=\s?\d|\.\d)", "-", text)
    text = re.sub(rf"[{_MINUS_SIGNS}]", "-", text)
    return re.sub(r"[*_`#>|\\]", " ", text)  # markdown emphasis, code, headings, quotes, tables


@functools.lru_cache(maxsize=None)
def label_pattern(dimension: str | Dimension) -> re.Pattern[str]:
    """The dimension's label words as a regex (any case, "very high" before "high", space or hyphen inside)."""
    words = sorted(get_dimension(dimension).labels, key=len, reverse=True)
    alternatives = "|".join(r"[\s-]+".join(map(re.escape, w.split())) for w in words)
    return re.compile(rf"(?<![\w-])({alternatives})(?![\w-])", re.IGNORECASE)


def _labels_in(text: str, dim: Dimension) -> list[tuple[int, str]]:
    return [(m.end(), " ".join(m.group(1).lower().replace("-", " ").split())) for m in label_pattern(dim).finditer(text)]


def _scale_spans(text: str) -> set[tuple[int, int]]:
    """Character spans of numbers that only describe a scale (``scale of 0 to 10``, ``(0-10)``)."""
    spans: set[tuple[int, int]] = set()
    for m in _RANGE.finditer(text):
        described = _RANGE_CONTEXT.search(text[max(0, m.start() - 40) : m.start()]) or re.match(
            r"\s*(scale|range)", text[m.end() : m.end() + 12], re.IGNORECASE
        )
        if described or float(m.group("a")) in (0.0, 1.0) and float(m.group("b")) in (1.0, 3.0, 5.0, 10.0, 100.0):
            spans.add(m.span("a"))
            spans.add(m.span("b"))
    return spans


def _to_dimension_scale(value: float, match: re.Match[str], dim: Dimension) -> float | None:
    """Apply an explicit ``/N`` or ``%``; None when the scale cannot be mapped onto the dimension."""
    if match.group("percent"):
        return value / 100 * dim.high if dim.low == 0 else None
    if match.group("denom"):
        denom = float(match.group("denom"))
        if denom == dim.high:
            return value
        return value / denom * dim.high if dim.low == 0 and denom > 0 else None
    return value


def parse_answer(text: str, dimension: str | Dimension) -> ParsedAnswer:
    """Read the label and the score from a model's answer for one dimension (rules in the module doc)."""
    dim = get_dimension(dimension)
    clean = _clean(text or "")
    scale_spans = _scale_spans(clean)
    candidates = [m for m in _CANDIDATE.finditer(clean) if m.span("num") not in scale_spans]
    labels = _labels_in(clean, dim)

    if not candidates:
        return ParsedAnswer(labels[0][1] if labels else None, None, NO_NUMBER)

    cued, after_label = [], []
    previous_end = 0
    for m in candidates:
        gap = clean[previous_end : m.start()]
        if _SCORE_CUE.search(gap):
            cued.append(m)
        if any(re.fullmatch(r"[\s:,=(\[-]*", clean[end : m.start()]) for end, _ in labels if end <= m.start()):
            after_label.append(m)
        previous_end = m.end()
    chosen = (cued or after_label or candidates)[-1]

    before = [label for end, label in labels if end <= chosen.start()]
    label = before[-1] if before else (labels[0][1] if labels else None)

    value = float(chosen.group("num")) * (-1.0 if chosen.group("sign") == "-" else 1.0)
    score = _to_dimension_scale(value, chosen, dim)
    if score is None:
        return ParsedAnswer(label, None, BAD_SCALE, value)
    if not dim.in_range(score):
        return ParsedAnswer(label, None, OUT_OF_RANGE, score)
    return ParsedAnswer(label, score, None, score)


_PAPER_NUMBER = re.compile(r"[-+]?\d*\.\d+|[-+]?\d+")


def parse_answer_paper(text: str, dimension: str | Dimension) -> ParsedAnswer:
    """The paper's parser: the first number in the text, no scale handling and no range check."""
    dim = get_dimension(dimension)
    text = text or ""
    labels = _labels_in(text, dim)
    label = labels[0][1] if labels else None
    m = _PAPER_NUMBER.search(text)
    if m is None:
        return ParsedAnswer(label, None, NO_NUMBER)
    value = float(m.group())
    return ParsedAnswer(label, value, None, value)


PARSERS = {"cogip": parse_answer, "paper": parse_answer_paper}
