"""Expected-score readout: a score read from the model's probabilities instead of its sampled text.

Greedy decoding keeps one digit string and throws the rest of the distribution away. These functions turn the
distributions the model gave at its own answer positions into a number:

- ``expected_digits``: at each digit of the number the greedy answer gave (the one :func:`parse_answer`
  reads), the distribution over the ten digit tokens, conditioned on the greedy prefix, gives an expected digit;
  the expected digits weighted by their place values give the score (``7.2`` -> ``E[d1] + E[d2] / 10``). The
  number keeps the greedy answer's length and sign, and its scale (``/10``, ``%``) as the parser applied it.
- ``expected_label``: the probabilities of the dimension's label words where the answer names its label give
  a distribution over labels; the score is the probability-weighted mean of the labels' bin midpoints
  (Q-Align-style level scoring).

Both scores are clipped to the dimension's range (a digit-wise expectation can leave it: memorability's
leading digit may put mass on 1..9). The answer handed back to the harness is the raw greedy answer followed by
one readout line, ``expected score (digits): high 7.412``: the benchmark parser takes the last number written
right after a label word, so it reads the expected score, and the greedy answer stays in lmms-eval's sample log
(:func:`split_readout` separates them again).

Everything here is pure (lists of probabilities in, numbers out) so tests call it directly; the model wrapper
``cogip_tasks.models.cogip_expected`` collects the probabilities.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence

from .dimensions import Dimension, format_target, get_dimension
from .scoring import MAX_ANSWER_CHARS, label_pattern, parse_answer
from .tokens import DIGITS  # noqa: F401  (re-exported: its home is cogip_tasks.tokens)

READOUTS = ("greedy", "expected_digits", "expected_label")
#: An expected score keeps at least these decimals, whatever the spec's targets use: a 1-5 scale's whole-number
#: targets would round 3.6 to 4 and throw away the ranking the expectation adds.
READOUT_DECIMALS = 3
READOUT_CUE = "expected score"  # the line ends "<label> <score>", the last label-number pair: parse_answer reads it
_READOUT_LINE = re.compile(
    rf"(?:^|\n\n){READOUT_CUE} \((?P<source>digits|label)\): (?P<label>[a-z ]+) (?P<score>-?\d+\.\d+)\s*$"
)
_NUMBER = re.compile(r"\d+(?:\.\d+)?|\.\d+")

TokenPath = tuple[int, ...]


def place_values(number: str) -> list[float]:
    """Place value of each digit of a decimal string: ``"7.234"`` -> ``[1, 0.1, 0.01, 0.001]``."""
    whole, _, fraction = number.partition(".")
    if not (whole + fraction).isdigit() or number.count(".") > 1:
        raise ValueError(f"not an unsigned decimal number: {number!r}")
    return [10.0 ** (len(whole) - 1 - i) for i in range(len(whole))] + [10.0 ** -(i + 1) for i in range(len(fraction))]


def expected_digit(probs: Sequence[float]) -> float:
    """Mean digit under a distribution over ``0..9`` (renormalised: the ten digits need not sum to one)."""
    if len(probs) != 10:
        raise ValueError(f"expected 10 digit probabilities, got {len(probs)}")
    total = math.fsum(probs)
    if not total > 0:
        raise ValueError("digit probabilities sum to zero")
    return math.fsum(v * p for v, p in enumerate(probs)) / total


def expected_number(number: str, digit_probs: Sequence[Sequence[float]]) -> float:
    """Expected value of an unsigned decimal whose digit positions have the given digit distributions.

    Linear in the digits, so it is the sum of each position's expected digit times its place value.
    """
    places = place_values(number)
    if len(places) != len(digit_probs):
        raise ValueError(f"{number!r} has {len(places)} digits but {len(digit_probs)} distributions were given")
    return math.fsum(place * expected_digit(p) for place, p in zip(places, digit_probs))


def in_range_digit_probs(
    number: str, digit_probs: Sequence[Sequence[float]], factor: float, dimension: str | Dimension
) -> list[list[float]]:
    """Each position's digit distribution without the digits that would put the number out of the range.

    A digit gets no weight when the greedy number with that digit in its place (the other digits as written),
    times ``factor`` (sign and scale), leaves the dimension's range: memorability's ``0.734`` keeps only ``0``
    (and ``1`` only if the rest were zeros) before its point, so mass a model puts on ``1``-``9`` there cannot
    drag the expected score up. The greedy digit itself is always in range; a position with no in-range mass
    keeps the greedy digit.
    """
    dim = get_dimension(dimension)
    places = place_values(number)
    digits = [int(c) for c in number if c != "."]
    greedy = math.fsum(place * d for place, d in zip(places, digits))
    restricted = []
    for k, (place, probs) in enumerate(zip(places, digit_probs)):
        keep = [dim.in_range(round(factor * (greedy + place * (d - digits[k])), 9)) for d in range(10)]
        kept = [p if ok else 0.0 for p, ok in zip(probs, keep)]
        # no in-range mass at all (the greedy digit had none either): the greedy digit, as written
        restricted.append(kept if math.fsum(kept) > 0 else [float(d == digits[k]) for d in range(10)])
    return restricted


def expected_label_value(label_probs: Mapping[str, float], dimension: str | Dimension) -> float:
    """Probability-weighted mean of the labels' bin midpoints (renormalised over the dimension's labels)."""
    dim = get_dimension(dimension)
    unknown = set(label_probs) - set(dim.labels)
    if unknown:
        raise KeyError(f"not labels of {dim.key}: {sorted(unknown)} (labels: {', '.join(dim.labels)})")
    total = math.fsum(label_probs.values())
    if not total > 0:
        raise ValueError(f"label probabilities of {dim.key} sum to zero")
    return math.fsum(p * dim.bin_midpoint(label) for label, p in label_probs.items()) / total


def clip_to_range(score: float, dimension: str | Dimension) -> float:
    dim = get_dimension(dimension)
    return min(max(score, dim.low), dim.high)


def score_span(text: str, dimension: str | Dimension) -> tuple[int, int, float] | None:
    """``(start, end, factor)`` of the number :func:`parse_answer` reads as the score, or None.

    ``text[start:end]`` is the unsigned digit string and ``factor`` maps it onto the parsed score (sign and any
    ``%`` or ``/N`` scale): ``score == factor * float(text[start:end])``. The number is found by behaviour, not
    by restating the parser's rules: nudging its last digit must move the parsed score by ``factor`` times the
    nudge. None when the answer has no in-range score.
    """
    dim = get_dimension(dimension)
    parsed = parse_answer(text, dim)
    if parsed.failure is not None or parsed.value is None:
        return None
    # parse_answer reads only the answer's last MAX_ANSWER_CHARS characters: its number is among those.
    for m in reversed(list(_NUMBER.finditer(text, max(0, len(text) - MAX_ANSWER_CHARS)))):
        number = m.group()
        last = int(number[-1])
        nudged_digit = last - 1 if last > 0 else last + 1
        nudged = number[:-1] + str(nudged_digit)
        moved = parse_answer(text[: m.start()] + nudged + text[m.end() :], dim).value
        if moved is None or moved == parsed.value:
            continue
        delta = float(nudged) - float(number)
        factor = (moved - parsed.value) / delta
        raw = float(number)
        # The number itself must give the score (not only move it): the exponent of 7.5e0 moves it too.
        if math.isclose(factor * raw, parsed.value, rel_tol=1e-6, abs_tol=1e-9):
            return m.start(), m.end(), factor
    return None


def label_position(text: str, dimension: str | Dimension, before: int | None = None) -> tuple[int, bool]:
    """Where the answer names its label: ``(char offset, capitalised)``; ``(0, False)`` when it names none.

    With ``before`` (the score's offset) it is the last label ahead of the score, as the parser pairs them;
    otherwise the first label of the answer.
    """
    matches = list(label_pattern(dimension).finditer(text))
    if before is not None:
        ahead = [m for m in matches if m.end() <= before]
        matches = ahead[-1:] or matches[:1]
    if not matches:
        return 0, False
    return matches[0].start(), matches[0].group()[0].isupper()


def label_variants(dimension: str | Dimension, capitalised: bool = False) -> dict[str, str]:
    """Label -> the text the model would write for it (capitalised like the greedy answer's label)."""
    return {label: (label.capitalize() if capitalised else label) for label in get_dimension(dimension).labels}


def trie_nodes(sequences: Mapping[str, Sequence[int]]) -> list[TokenPath]:
    """Every proper prefix of the token sequences (root ``()`` first): the contexts whose next-token
    distributions the sequences' probabilities need."""
    nodes = {tuple(seq[:k]) for seq in sequences.values() for k in range(len(seq))}
    return sorted(nodes, key=lambda n: (len(n), n))


def trie_children(sequences: Mapping[str, Sequence[int]]) -> dict[TokenPath, list[int]]:
    """Each node of :func:`trie_nodes` -> the tokens that follow it in some sequence: the only columns of the
    next-token distribution after that node that the sequences' probabilities read."""
    children: dict[TokenPath, set[int]] = {}
    for seq in sequences.values():
        for k, token in enumerate(seq):
            children.setdefault(tuple(seq[:k]), set()).add(token)
    return {node: sorted(children[node]) for node in trie_nodes(sequences)}


def maximal_paths(nodes: Sequence[TokenPath]) -> list[TokenPath]:
    """The nodes that are no other node's prefix: one teacher-forced pass along each covers all ``nodes``."""
    return [n for n in nodes if not any(len(o) > len(n) and o[: len(n)] == n for o in nodes)]


def sequence_probabilities(
    sequences: Mapping[str, Sequence[int]], logprobs_at: Callable[[TokenPath], Sequence[float] | Mapping[int, float]]
) -> dict[str, float]:
    """Probability of each token sequence: the product of its tokens' next-token probabilities.

    ``logprobs_at(node)`` is the log-softmax after the context extended by ``node``, indexed by token id: over
    the whole vocabulary, or a mapping holding at least the node's :func:`trie_children`.
    """
    cache: dict[TokenPath, Sequence[float] | Mapping[int, float]] = {}
    out = {}
    for name, seq in sequences.items():
        total = 0.0
        for k, token in enumerate(seq):
            node = tuple(seq[:k])
            if node not in cache:
                cache[node] = logprobs_at(node)
            total += float(cache[node][token])
        out[name] = math.exp(total)
    return out


def format_readout(greedy: str, score: float, dimension: str | Dimension, source: str) -> str:
    """The answer handed to the harness: the greedy answer, then ``expected score (<source>): <label> <score>``.

    The label is the bin of the expected score, so the parsed label and score agree.
    """
    if source not in ("digits", "label"):
        raise ValueError(f"readout source must be 'digits' or 'label', got {source!r}")
    # The greedy answer stays verbatim (even when empty or blank) so split_readout gives it back exactly.
    decimals = max(READOUT_DECIMALS, get_dimension(dimension).target_decimals)
    return f"{greedy}\n\n{READOUT_CUE} ({source}): {format_target(score, dimension, decimals)}"


def split_readout(text: str) -> tuple[str, dict | None]:
    """Undo :func:`format_readout`: ``(greedy answer, {"source", "label", "score"})``, or ``(text, None)``."""
    m = _READOUT_LINE.search(text)
    if m is None:
        return text, None
    return text[: m.start()], {"source": m["source"], "label": m["label"], "score": float(m["score"])}
