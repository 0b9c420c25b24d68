"""Argument types and the parser class of ``cogip-train`` (shared by the SFT and GRPO paths)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from cogip_tasks.cli_style import CogIPArgumentParser

#: The Trainer's schedulers that need nothing beyond the step count (others want an eval loop or extra kwargs).
LR_SCHEDULERS = (
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
)
#: The largest learning rate accepted: Adam's step is ~lr per weight, so above 1 every weight moves by more
#: than its own scale each step; fine-tuning rates are 1e-6..1e-3. A typo (1e39, 1e4) is refused at once.
MAX_LEARNING_RATE = 1.0
MAX_EPOCHS = 1000.0
MAX_SEED = 2**32 - 1  # numpy's seed range, which the Trainer seeds too


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    left = "(-inf" if low is None else f"{'(' if low_open else '['}{low:g}"
    right = "inf)" if high is None else f"{high:g}{')' if high_open else ']'}"
    return f"{left}, {right}"


def ranged(
    kind: type,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    allowed: tuple = (),
) -> Callable[[str], float]:
    """An argparse ``type``: a finite ``kind`` (int or float) in the interval, or one of ``allowed``.

    ``float("1e39")`` and ``float("nan")`` parse; a learning rate of either is a typo, refused before the model
    loads rather than found as a NaN loss (or worse, a silently broken model) after it.
    """
    noun = "an integer" if kind is int else "a number"
    rule = " or ".join([f"{noun} in {_interval(low, high, low_open, high_open)}", *map(str, allowed)])

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}") from None
        if value in allowed:
            return value
        below = low is not None and (value < low or (low_open and value == low))
        above = high is not None and (value > high or (high_open and value == high))
        if not math.isfinite(value) or below or above:
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}")
        return value

    return parse


POSITIVE_INT = ranged(int, 1)
LEARNING_RATE = ranged(float, 0.0, MAX_LEARNING_RATE, low_open=True)


class OneLineParser(CogIPArgumentParser):
    """CogIP's parser (hyphenated options, underscore spellings accepted), but a usage error is the one line
    ``cogip-train: error: ...`` (exit 2), without the long usage."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")
