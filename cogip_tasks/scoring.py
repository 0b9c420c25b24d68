"""Reading a label and a score out of a model's describe-then-predict answer.

``parse_answer`` is the benchmark's parser. It reads at most the last :data:`MAX_ANSWER_CHARS` characters of an
answer (dropping a token cut in half at the start of that window), normalises it (Unicode NFKC; every dash and
minus character becomes ``-``; markdown ``* _ ` # > | \\`` become spaces) and then:

1. **Numbers.** A number is a maximal run ``123``, ``7.25``, ``.75``, optionally with an exponent (``7.5e0`` is
   7.5, ``1e3`` is 1000). A run is never read in part: ``7.5pts`` is 7.5, never 7. A single comma between digits
   is a decimal comma (``6,5`` is 6.5, ``0,650`` is 0.65); a run with two or more separators (``1.2.3``,
   ``3,4,5``, ``1,000,000``) is a version, list or grouping and not a number, while a list written with spaces
   (``3, 4 and 5``) is three numbers. A number glued to a preceding letter (``Qwen2.5``, ``v2``) or to a
   following word (``3D``, ``1st``, ``4K``) is part of a name and not a number, except the units ``pt``,
   ``pts``, ``point``, ``points``.
2. **Signs.** A ``-`` or ``+`` touching the digits is the number's sign, unless it follows a word character
   (``COVID-19``) or a number (``7 -8`` and ``7-8`` are ranges). On a dimension with negative scores (emotional
   valence) a dash between a label and the number is a minus sign (``negative – 1.5`` is -1.5); elsewhere it is a
   separator (``high - 7.2`` is 7.2).
3. **Scales.** ``/N``, ``out of N``, ``%`` and ``percent`` right after a number are its scale: ``7/10`` or
   ``7.5 out of 10`` on a 0-10 dimension is 7 / 7.5; another denominator, or a percent, is rescaled onto a range
   that starts at 0 (``65%`` memorability is 0.65, ``6.5/10`` memorability is 0.65); emotional valence accepts
   only ``/3`` and no percent, and a zero denominator maps nowhere (``failure="bad_scale"``). The denominator
   (an unsigned number without exponent) is not a candidate score.
4. **Scale descriptions are not candidates.** Two neighbouring numbers joined by ``-`` / ``to`` (or ``and``
   after ``between``) form a range; both ends are dropped when the range describes a scale: ``scale`` or
   ``range`` at most 20 digit-free characters before it (``on a scale of 0 to 10``) or right after it
   (``a 1-10 scale``, ``a 0-10 point scale``), ends that look like a scale (0 or 1 to 1, 3, 5, 10 or 100:
   ``(0-10)``), the dimension's own range, or a symmetric signed range (``Score (-3 to 3): -2`` is -2). Other
   ranges are estimates and their ends stay candidates (``score 7-8`` is 7; ``between 6 and 7, I'd say 6.8`` is
   6.8, the last number).
5. **Which number is the score.** Of the candidates, the winner is

   a. the *last* number written right after one of the dimension's label words, on the same line, with only
      spaces and ``: , = ( [ -`` (at most 24 characters) between (``high 7.234``, ``Label: high (7.2)``): the
      format the benchmark asks for and the final answer of a describe-then-predict reply, so it beats
      everything said before it;
   b. otherwise the *last* number bound to a score cue (``score``, ``scores``, ``scored``, ``rating``,
      ``rated``, ``rate``, ``rates``, ``give``, ``gives``, ``given``, ``giving``, ``gave``): between the nearest
      cue and the number (at most 60 characters) stand only spaces, ``: = ~``, one-line parenthesised asides
      of at most 30 characters and the words *it, this, that, image, photo, picture, one, a, an, of, at, as,
      is, be, would, about, around, approximately, roughly, final, overall, score, rating, value*
      (``score: 7``, ``score of 7``, ``rated 7``, ``I'd give it a 7``, ``Score (0-10): 4``; but not
      ``my rating considers 3 factors``); a model that revises itself ends with its final answer;
   c. otherwise the last candidate (prose usually ends with the conclusion).
6. **Label.** The last label word before the chosen number, else the first label word of the answer.

A score outside the dimension's range is a failure (``failure="out_of_range"``, the value kept in ``value``),
never clamped; an answer without a candidate is ``failure="no_number"``. Parsing is linear in the answer's length
and never raises on a ``str``.

``parse_answer_release`` reproduces the authors' release parser exactly (``evaluation/qwen/cog_test.py``): the
FIRST match of ``[-+]?\\d*\\.\\d+(?:[eE][-+]?\\d+)?`` in the raw answer (a decimal point is required, so integers
are skipped), no scale handling, no range check, and answers without a match dropped (``failure="no_number"``).
"""

from __future__ import annotations

import functools
import os
import re
import unicodedata
from typing import NamedTuple

from .dimensions import Dimension, get_dimension

#: Bumped whenever parsing behaviour changes; leaderboard submissions record it.
PARSER_VERSION = "cogip-parse-3"  # 3: digits joined by another script's decimal mark are no number
#: What a run parsed with the release's parser records instead of PARSER_VERSION.
RELEASE_PARSER_VERSION = "release"

# Failure codes recorded in the sample logs and counted in reports.
NO_NUMBER = "no_number"
OUT_OF_RANGE = "out_of_range"
BAD_SCALE = "bad_scale"

#: parse_answer reads only this many characters from the END of an answer. Safe because a describe-then-predict
#: answer ends with its prediction (the readout line of cogip_tasks.readout is appended at the end too) and the
#: answers are short (the release allowed 100 new tokens, a few hundred characters; the tasks' default 256 is
#: about 1,000): the window holds the end of any real answer many times over, and only removes the cost of
#: hostile megabyte answers. A long reasoning answer is read from its conclusion, as it should be.
MAX_ANSWER_CHARS = 4096


class ParsedAnswer(NamedTuple):
    label: str | None
    score: float | None
    failure: str | None = None  # None when a score was read; else NO_NUMBER / OUT_OF_RANGE / BAD_SCALE
    value: float | None = None  # the number read before the range check (for diagnostics)


_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"  # hyphens, figure/en/em dashes, minus
_DASH_TO_HYPHEN = {ord(c): "-" for c in _DASHES}
_MARKDOWN = re.compile(r"[*_`#>|\\]")  # emphasis, code, headings, quotes, tables

# A maximal digit run with its separators and exponent. Every repetition is separated by a mandatory character,
# so the regex cannot backtrack into part of a number (no "7.5pts" -> 7) and matches in linear time.
_TOKEN = re.compile(r"(?<![\w.])(?P<body>\d+(?:[.,]\d+)*|\.\d+)(?P<exp>[eE][-+]?\d+)?")
_GLUED_WORD = re.compile(r"[^\W\d_]+")
_UNITS = frozenset({"pt", "pts", "point", "points"})
_PERCENT = re.compile(r"[ \t]*(?:%|percent\b)", re.IGNORECASE)
_PER = re.compile(r"[ \t]*(?:/|out[ \t]+of\b)[ \t]*", re.IGNORECASE)
_RANGE_JOIN = re.compile(r"[ \t]*(?:-|to\b)[ \t]*", re.IGNORECASE)
_AND_JOIN = re.compile(r"[ \t]+and[ \t]+", re.IGNORECASE)
_BETWEEN_BEFORE = re.compile(r"\bbetween[ \t]+$", re.IGNORECASE)
_SCALE_BEFORE = re.compile(r"\b(?:scale|range)\b[^\d\n]{0,20}$", re.IGNORECASE)
_SCALE_AFTER = re.compile(r"[ \t-]*(?:points?[ \t-]+)?(?:scale|range)\b", re.IGNORECASE)
_LABEL_GAP = re.compile(r"[ \t:,=(\[-]*")
_CUE = re.compile(r"\b(?:score[sd]?|rating|rated|rates?|give[sn]?|giving|gave)\b", re.IGNORECASE)
# One character or one whole word per repetition: no nested quantifier to backtrack over.
_CUE_GAP = re.compile(
    r"(?:[\s:=~]|\([^()\n]{0,30}\)|(?:it|this|that|image|photo|picture|one|an|a|of|at|as|is|be|would|about|around"
    r"|approximately|roughly|final|overall|score|rating|value)\b)*",
    re.IGNORECASE,
)
_MAX_LABEL_GAP = 24  # characters between a label and its number
_MAX_CUE_GAP = 60  # characters between a cue and its number
_MAX_JOIN = 12  # characters between the two ends of a range


class _Number(NamedTuple):
    start: int  # first character, the sign included
    digits: int  # first digit (or the leading '.')
    end: int  # after the digits and exponent
    value: float  # signed
    signed: bool  # written with its own sign
    plain: bool  # unsigned, no exponent: usable as a denominator


class _Candidate(NamedTuple):
    number: _Number
    scale_end: int  # after any %, /N or "out of N"
    percent: bool
    denom: float | None


def _tail(text: str, limit: int = MAX_ANSWER_CHARS) -> str:
    """The last ``limit`` characters, without a token the cut went through."""
    if len(text) <= limit:
        return text
    tail = text[-limit:]
    if not text[-limit - 1].isspace():
        cut = re.search(r"\s", tail)
        tail = tail[cut.start() :] if cut else ""
    return tail


def _clean(text: str) -> str:
    text = _tail(unicodedata.normalize("NFKC", _tail(text)))  # NFKC may lengthen the text: bound it again
    return _MARKDOWN.sub(" ", text.translate(_DASH_TO_HYPHEN))


@functools.cache
def label_pattern(dimension: str | Dimension) -> re.Pattern[str]:
    """The dimension's label words as a regex (any case, "very high" before "high", space or hyphen inside)."""
    words = sorted(get_dimension(dimension).labels, key=len, reverse=True)
    alternatives = "|".join(r"[\s-]+".join(map(re.escape, w.split())) for w in words)
    return re.compile(rf"(?<![\w-])({alternatives})(?![\w-])", re.IGNORECASE)


def _label_name(match: re.Match[str]) -> str:
    return " ".join(match.group(1).lower().replace("-", " ").split())


def _sign_at(text: str, digits: int) -> int:
    """Offset of the sign that belongs to the number starting at ``digits`` (``digits`` itself when none)."""
    s = digits - 1
    if s < 0 or text[s] not in "+-":
        return digits
    j = s - 1
    if j >= 0 and (text[j].isalnum() or text[j] == "_"):
        return digits  # a hyphenated name (COVID-19) or a range dash (7-8)
    while j >= 0 and j > s - 8 and text[j] in " \t":
        j -= 1
    if j >= 0 and text[j].isdigit():
        return digits  # "7 -8": a range dash, not a sign
    return s


#: What may stand between two digit runs that are two numbers (a list, a range, a ratio, a scale, brackets). Any
#: other character between digits (``٫ ٬ ، · ‧ '`` ...: a decimal or grouping mark of another script) joins them
#: into one number this parser does not read, so neither part is read (``7٫5`` is no number, never 7).
_BETWEEN_NUMBERS = frozenset(' \t\n\r\v\f-+/:;~=<>()[]{}!?"&')


def _is_mark(char: str) -> bool:
    return char not in _BETWEEN_NUMBERS and not char.isspace() and not char.isalnum() and char != "_"


def _joined_to_digits(text: str, at: int, step: int) -> bool:
    """Whether a run of unknown marks starts at ``at`` and has a digit beyond it (``step``: the direction).
    The run is the gap to the neighbouring number, so each gap is walked at most twice: linear in the text."""
    i = at
    while 0 <= i < len(text) and _is_mark(text[i]):
        i += step
    return i != at and 0 <= i < len(text) and text[i].isdigit()


def _numbers(text: str) -> list[_Number]:
    """Every number of the text (rule 1 and 2 of the module doc), in order."""
    out = []
    for m in _TOKEN.finditer(text):
        body, end = m.group("body"), m.end()
        if _joined_to_digits(text, end, 1) or _joined_to_digits(text, m.start() - 1, -1):
            continue  # 7٫5, 1'000: a number written with separators this parser does not read, not two numbers
        if end < len(text) and (text[end].isalnum() or text[end] == "_"):
            word = _GLUED_WORD.match(text, end)
            if word is None or word.group().lower() not in _UNITS:
                continue  # 3D, 1st, 4K, 12abc: part of a name
        separators = body.count(".") + body.count(",")
        if separators > 1:
            continue  # 1.2.3, 3,4,5, 1,000,000
        start = _sign_at(text, m.start())
        literal = text[start : m.start()] + body.replace(",", ".") + (m.group("exp") or "")
        value = float(literal)
        out.append(_Number(start, m.start(), end, value, start < m.start(), start == m.start() and not m.group("exp")))
    return out


def _attach_scales(numbers: list[_Number], text: str) -> list[_Candidate]:
    """Join each number with its %, /N or "out of N" (the denominator is consumed, not a candidate)."""
    out: list[_Candidate] = []
    i = 0
    while i < len(numbers):
        n = numbers[i]
        percent = _PERCENT.match(text, n.end)
        if percent:
            out.append(_Candidate(n, percent.end(), True, None))
            i += 1
            continue
        per = _PER.match(text, n.end)
        if per and i + 1 < len(numbers) and numbers[i + 1].start == per.end() and numbers[i + 1].plain:
            out.append(_Candidate(n, numbers[i + 1].end, False, numbers[i + 1].value))
            i += 2
            continue
        out.append(_Candidate(n, n.end, False, None))
        i += 1
    return out


def _describes_scale(a: _Candidate, b: _Candidate, text: str, dim: Dimension) -> bool:
    lo, hi = a.number.value, b.number.value
    return bool(
        _SCALE_BEFORE.search(text, max(0, a.number.start - 30), a.number.start)
        or _SCALE_AFTER.match(text, b.scale_end)
        or (lo in (0.0, 1.0) and hi in (1.0, 3.0, 5.0, 10.0, 100.0) and lo < hi)
        or (lo, hi) == (dim.low, dim.high)
        or (lo < 0 and lo == -hi)
    )


def _scale_descriptions(cands: list[_Candidate], text: str, dim: Dimension) -> set[int]:
    """Indices of candidates that are the ends of a range describing a scale (rule 4)."""
    dropped: set[int] = set()
    for i in range(len(cands) - 1):
        a, b = cands[i], cands[i + 1]
        if a.percent or a.denom is not None or b.number.start - a.scale_end > _MAX_JOIN:
            continue
        joined = _RANGE_JOIN.fullmatch(text, a.scale_end, b.number.start) or (
            _AND_JOIN.fullmatch(text, a.scale_end, b.number.start)
            and _BETWEEN_BEFORE.search(text, max(0, a.number.start - 12), a.number.start)
        )
        if joined and _describes_scale(a, b, text, dim):
            dropped.update((i, i + 1))
    return dropped


def _to_dimension_scale(value: float, cand: _Candidate, dim: Dimension) -> float | None:
    """Apply an explicit ``/N`` or ``%``; None when the scale cannot be mapped onto the dimension."""
    if cand.percent:
        return value / 100 * dim.high if dim.low == 0 else None
    if cand.denom is not None:
        denom = cand.denom
        if denom == dim.high:
            return value
        return value / denom * dim.high if dim.low == 0 and 0 < denom < float("inf") else None
    return value


def parse_answer(text: str, dimension: str | Dimension) -> ParsedAnswer:
    """Read the label and the score from a model's answer for one dimension (rules in the module doc)."""
    dim = get_dimension(dimension)
    clean = _clean(text if isinstance(text, str) else "")
    labels = list(label_pattern(dim).finditer(clean))
    cands = _attach_scales(_numbers(clean), clean)
    dropped = _scale_descriptions(cands, clean, dim)
    cands = [c for i, c in enumerate(cands) if i not in dropped]
    if not cands:
        return ParsedAnswer(_label_name(labels[0]) if labels else None, None, NO_NUMBER)

    cues = [m.end() for m in _CUE.finditer(clean)]
    after_label: list[tuple[_Candidate, bool, int]] = []  # (candidate, dash between, label index)
    cued: list[_Candidate] = []
    li = ci = 0
    label_before: list[int] = []  # per candidate: index of the last label ending before it, or -1
    for c in cands:
        start = c.number.start
        while li < len(labels) and labels[li].end() <= start:
            li += 1
        while ci < len(cues) and cues[ci] <= start:
            ci += 1
        label_before.append(li - 1)
        if li and start - labels[li - 1].end() <= _MAX_LABEL_GAP:
            gap = _LABEL_GAP.fullmatch(clean, labels[li - 1].end(), start)
            if gap and "\n" not in gap.group():
                after_label.append((c, "-" in gap.group(), li - 1))
        if ci and start - cues[ci - 1] <= _MAX_CUE_GAP and _CUE_GAP.fullmatch(clean, cues[ci - 1], start):
            cued.append(c)

    value_sign = 1.0
    if after_label:
        chosen, dash, label_index = after_label[-1]
        if dash and dim.low < 0 and not chosen.number.signed:
            value_sign = -1.0  # "negative – 1.5": the dash is the minus sign
    else:
        chosen = (cued or cands)[-1]
        label_index = label_before[cands.index(chosen)]
    label = _label_name(labels[label_index]) if label_index >= 0 else (_label_name(labels[0]) if labels else None)

    value = value_sign * chosen.number.value
    score = _to_dimension_scale(value, chosen, dim)
    if score is None:
        return ParsedAnswer(label, None, BAD_SCALE, value)
    if not dim.in_range(score):
        return ParsedAnswer(label, None, OUT_OF_RANGE, score)
    return ParsedAnswer(label, score, None, score)


#: The release's regex, verbatim (evaluation/qwen/cog_test.py: ``re.findall(...)[0]``).
RELEASE_NUMBER = re.compile(r"[-+]?\d*\.\d+(?:[eE][-+]?\d+)?")
_DOT_DIGIT = re.compile(r"\.\d")
_DIGIT_RUN = re.compile(r"\d*")


def release_first_match(text: str) -> str | None:
    """``re.findall(RELEASE_NUMBER, text)[0]`` (or None), in linear time on any text.

    ``RELEASE_NUMBER.search`` is quadratic on long digit runs without a '.'. Every match holds a '.' followed by
    a digit, so the leftmost match ends at the first such '.': it starts at the digit run right before that '.'
    (with the sign in front of it, if any), from where the regex itself reads the match.
    """
    dot = _DOT_DIGIT.search(text)
    if dot is None:
        return None
    start = dot.start() - _DIGIT_RUN.match(text[dot.start() - 1 :: -1] if dot.start() else "").end()
    if start > 0 and text[start - 1] in "+-":
        start -= 1
    return RELEASE_NUMBER.match(text, start).group()


def parse_answer_release(text: str, dimension: str | Dimension) -> ParsedAnswer:
    """The release's parser, exactly: the first decimal-point number of the raw answer, as written.

    No normalisation, no scale handling and no range check (a value outside the range, or ``inf`` for
    ``1.0e999``, is returned as the score, as the release would use it); an answer without a match is dropped
    (``failure="no_number"``). The label (the release reads none) is the first label word of the answer.
    """
    dim = get_dimension(dimension)
    text = text if isinstance(text, str) else ""
    first_label = label_pattern(dim).search(text, 0, MAX_ANSWER_CHARS)  # our addition: bounded, as in parse_answer
    label = _label_name(first_label) if first_label else None
    number = release_first_match(text)
    if number is None:
        return ParsedAnswer(label, None, NO_NUMBER)
    value = float(number)
    return ParsedAnswer(label, value, None, value)


#: The Llama release script's bound (evaluation/llama/llama_cog.py): a first match with |value| > 10 is dropped.
RELEASE_LLAMA_BOUND = 10.0


def parse_answer_release_llama(text: str, dimension: str | Dimension) -> ParsedAnswer:
    """The Llama release script's parser: :func:`parse_answer_release`, then an answer whose number has an
    absolute value above 10 is dropped (``failure="out_of_range"``, the value kept), as that script sets it to
    NaN. The Qwen and Gemma scripts keep every value."""
    parsed = parse_answer_release(text, dimension)
    if parsed.score is not None and not abs(parsed.score) <= RELEASE_LLAMA_BOUND:
        return ParsedAnswer(parsed.label, None, OUT_OF_RANGE, parsed.score)
    return parsed


#: Deprecated name of parse_answer_release (it was never the paper's parser: it also read integers).
parse_answer_paper = parse_answer_release

#: $COGIP_PARSER values. "paper" is a deprecated alias of "release".
PARSERS = {
    "cogip": parse_answer,
    "release": parse_answer_release,
    "release-llama": parse_answer_release_llama,
    "paper": parse_answer_release,
}


#: Environment variable choosing the tasks' parser: "cogip" (default), "release", "release-llama" ("paper":
#: deprecated alias of "release").
PARSER_ENV = "COGIP_PARSER"


def parser_name_from_env() -> str:
    """``$COGIP_PARSER`` checked against :data:`PARSERS` (ValueError naming the value otherwise)."""
    name = os.environ.get(PARSER_ENV, "cogip")
    if name not in PARSERS:
        raise ValueError(f"${PARSER_ENV}={name!r}: expected one of {', '.join(PARSERS)}")
    return name


def parser_version(name: str) -> str:
    """What a run parsed with ``PARSERS[name]`` records as its parser."""
    if name not in PARSERS:
        raise ValueError(f"unknown parser {name!r}: expected one of {', '.join(PARSERS)}")
    if PARSERS[name] is parse_answer:
        return PARSER_VERSION
    return RELEASE_PARSER_VERSION if PARSERS[name] is parse_answer_release else name
