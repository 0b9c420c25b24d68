"""GRPO rewards for CogIP answers, read with the benchmark's own parser (``cogip_tasks.scoring.parse_answer``).

Each reward has TRL's signature ``(prompts, completions, **columns) -> list[float]``: ``completions`` are the
sampled answers (chat messages ``[{"role": "assistant", "content": ...}]`` or plain strings) and the dataset
columns ``dimension`` (the task name, ``cogip_aesthetics``: a registered spec's dimensions resolve too) and
``score`` (the human score) come in as keyword lists, one entry per completion. One parser serves evaluation,
training and rewards, so a completion earns closeness exactly when ``cogip-eval`` would read a score from it.

- :func:`closeness_reward` -- the release's reward as its docstring states it: ``1 - |pred - human| /
  range(dimension)`` clipped to [-1, 1] (ranges 10, 10, 6, 1 for aesthetics, funniness, valence, memorability),
  ``miss_penalty`` (-0.5) when no score parses (``--reward cogip``, the default);
- :func:`release_reward` / :func:`release_closeness_reward` -- the release's reward as its code executes
  (``--reward release``, what ``--recipe paper-grpo`` uses): see :func:`release_reward`;
- :func:`format_reward` -- 1 when the whole answer is ``<label> <score with the spec's decimals>`` (the target
  format of :func:`cogip_tasks.dimensions.format_target`), optionally inside ``<answer>...</answer>`` (the
  release's GRPO data), else 0;
- :func:`label_reward` -- 0.5 when the answer's label is the bin of its own score, plus 0.5 when it is the bin
  of the human score.

``--reward-weights closeness=1,format=0.5,label=0.5`` weighs them (:func:`parse_reward_weights`); TRL sums the
weighted rewards and logs each one's mean and std.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from cogip_tasks.dimensions import Dimension, get_dimension, human_score
from cogip_tasks.scoring import OUT_OF_RANGE, ParsedAnswer, parse_answer

#: The release's reward for an answer without a readable score.
MISS_PENALTY = -0.5


def completion_text(completion: Any) -> str:
    """The answer text of one completion: TRL passes chat messages for chat prompts, strings otherwise."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):  # [{"role": "assistant", "content": "..."}]
        return "".join(str(m.get("content") or "") for m in completion if isinstance(m, dict))
    if isinstance(completion, dict):
        return str(completion.get("content") or "")
    return ""


def closeness(parsed: ParsedAnswer, human: float, dim: Dimension, miss_penalty: float = MISS_PENALTY) -> float:
    """``1 - |pred - human| / (high - low)`` clipped to [-1, 1]; ``miss_penalty`` when no score was read.

    A number outside the dimension's range is a parser failure at evaluation but still a prediction here (the
    release's reward has no range check): it scores by its distance, so the clip to -1 bounds a wild answer.
    """
    pred = parsed.score
    if pred is None and parsed.failure == OUT_OF_RANGE and parsed.value is not None and math.isfinite(parsed.value):
        pred = parsed.value
    if pred is None:
        return miss_penalty
    return max(-1.0, min(1.0, 1.0 - abs(pred - human) / (dim.high - dim.low)))


def closeness_reward(
    prompts: Sequence[Any],
    completions: Sequence[Any],
    dimension: Sequence[str],
    score: Sequence[float],
    miss_penalty: float = MISS_PENALTY,
    **_: Any,
) -> list[float]:
    """The release's GRPO reward, one value per completion (see the module doc)."""
    return [
        closeness(parse_answer(completion_text(c), d), human_score(s), get_dimension(d), miss_penalty)
        for c, d, s in zip(completions, dimension, score, strict=True)
    ]


#: The release's reward, as executed (sft/qwen/src/train/reward_funcs.py, score_closeness_reward): its trainer
#: passes only the completions and ``assistant=`` (the target text), so the dimension is never found and the
#: scale is its fallback, 10, for every dimension.
RELEASE_RANGE = 10.0
_RELEASE_ANSWER = re.compile(r"<answer>\s*([^<]+?)\s*</answer>", re.IGNORECASE | re.DOTALL)
_RELEASE_NUMBER = re.compile(r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?")


def release_number(text: str) -> float | None:
    """The number the release's reward reads: the LAST number (integers and exponents allowed) inside the first
    ``<answer>...</answer>`` (tags in any case), else in the whole text; None when there is none."""
    if not isinstance(text, str):
        return None
    tagged = _RELEASE_ANSWER.search(text)
    numbers = _RELEASE_NUMBER.findall(tagged.group(1) if tagged else text)
    return float(numbers[-1]) if numbers else None


def _release_text(completion: Any) -> Any:
    """A completion as the release reads it: the first message's content, a dict's content, else ``str()``
    (content that is not a string then reads as no number, as in the release)."""
    if isinstance(completion, list) and completion and isinstance(completion[0], dict):
        return completion[0].get("content", "")
    if isinstance(completion, dict):
        return completion.get("content", "")
    return str(completion)


def _release_answer(answer: Any) -> Any:
    """A target as the release reads its ``assistant=`` entries: a dict's content, else ``str()``."""
    return answer.get("content", "") if isinstance(answer, dict) else str(answer)


def release_reward(
    completions: Sequence[Any], answers: Sequence[Any], miss_penalty: float = MISS_PENALTY
) -> list[float]:
    """The release's GRPO reward exactly as it executes, one value per completion.

    ``1 - |pred - gt| / 10`` clipped to [-1, 1], for every dimension (a memorability answer can only earn
    [0.9, 1]); ``pred`` and ``gt`` are :func:`release_number` of the completion and of the answer text (the
    release trains on ``cognition_training.json``, whose answers are ``"<label> <score>"``); no range check, no
    label; ``miss_penalty`` (-0.5) when either has no number.
    """
    rewards = []
    for completion, answer in zip(completions, answers, strict=True):
        pred, gt = release_number(_release_text(completion)), release_number(_release_answer(answer))
        if pred is None or gt is None:
            rewards.append(miss_penalty)
        else:
            rewards.append(max(-1.0, min(1.0, 1.0 - abs(pred - gt) / RELEASE_RANGE)))
    return rewards


def release_closeness_reward(
    prompts: Sequence[Any],
    completions: Sequence[Any],
    answer: Sequence[str],
    miss_penalty: float = MISS_PENALTY,
    **_: Any,
) -> list[float]:
    """:func:`release_reward` with TRL's signature (``answer``: the row's target text, a dataset column)."""
    return release_reward(completions, answer, miss_penalty)


#: ``--reward``: which closeness reward (the others are the same either way).
CLOSENESS = {"cogip": closeness_reward, "release": release_closeness_reward}


_ANSWER_TAGS = re.compile(r"\s*<answer>\s*(?P<inner>.*?)\s*</answer>\s*", re.DOTALL)


def _target_number(decimals: int) -> re.Pattern[str]:
    r"""A target's number: ``-?\d+`` with exactly the spec's decimals (``7.234``; ``4`` when it has none)."""
    return re.compile(rf"-?\d+\.\d{{{decimals}}}" if decimals else r"-?\d+")


def is_target_format(text: str, dim: Dimension) -> bool:
    """Whether ``text`` is exactly ``<label> <score with the target's decimals>`` (inside ``<answer>`` tags or not)."""
    tagged = _ANSWER_TAGS.fullmatch(text)
    body = tagged.group("inner") if tagged else text.strip()
    label, _, number = body.rpartition(" ")
    return label in dim.labels and _target_number(dim.target_decimals).fullmatch(number) is not None


def format_reward(
    prompts: Sequence[Any], completions: Sequence[Any], dimension: Sequence[str], **_: Any
) -> list[float]:
    """1.0 for an answer in the target format (e.g. ``high 7.234`` or ``<answer>high 7.234</answer>``), else 0.0."""
    return [
        float(is_target_format(completion_text(c), get_dimension(d)))
        for c, d in zip(completions, dimension, strict=True)
    ]


def label_agreement(parsed: ParsedAnswer, human: float, dim: Dimension) -> float:
    """0.5 if the label is the bin of the answer's own score, + 0.5 if it is the bin of the human score.

    The human bin is taken after rounding to the target's decimals, as :func:`format_target` labels targets.
    """
    if parsed.label is None:
        return 0.0
    own = parsed.score is not None and dim.label_for(parsed.score) == parsed.label
    truth = dim.label_for(round(human, dim.target_decimals)) == parsed.label
    return 0.5 * own + 0.5 * truth


def label_reward(
    prompts: Sequence[Any], completions: Sequence[Any], dimension: Sequence[str], score: Sequence[float], **_: Any
) -> list[float]:
    """Label agreement per completion (see :func:`label_agreement`)."""
    return [
        label_agreement(parse_answer(completion_text(c), d), human_score(s), get_dimension(d))
        for c, d, s in zip(completions, dimension, score, strict=True)
    ]


#: ``--reward-weights`` names -> reward functions, in the order TRL receives (and logs) them.
REWARDS = {"closeness": closeness_reward, "format": format_reward, "label": label_reward}
#: The release rewards closeness only; format and label are computed and logged at weight 0 unless asked for.
DEFAULT_REWARD_WEIGHTS = "closeness=1,format=0,label=0"


def parse_reward_weights(text: str) -> dict[str, float]:
    """``closeness=1,format=0.5`` -> a weight for every reward in :data:`REWARDS` (unnamed ones: 0).

    Raises ValueError (one line, naming the bad part) on an unknown name, a repeated name, a non-finite or
    negative weight, or weights that are all zero.
    """
    weights = dict.fromkeys(REWARDS, 0.0)
    seen: set[str] = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, value = (s.strip() for s in part.partition("="))
        if name not in REWARDS:
            raise ValueError(f"unknown reward {name!r} in {part!r}; rewards: {', '.join(REWARDS)}")
        if name in seen:
            raise ValueError(f"reward {name!r} is given twice")
        try:
            weight = float(value) if sep else float("nan")
        except ValueError:
            weight = float("nan")
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"{part!r}: the weight must be a finite number >= 0 (write {name}=1)")
        weights[name] = weight
        seen.add(name)
    if not any(weights.values()):
        raise ValueError(f"no reward has a weight above 0 in {text!r}")
    return weights
