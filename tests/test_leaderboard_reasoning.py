"""Our reasoning-tag stripping gives lmms-eval's output on every input, in linear time (#22.7, #25.3)."""

from __future__ import annotations

import random

import pytest

from cogip_tasks.leaderboard.reasoning import strip_reasoning_tags

TAG_PAIRS = [
    [["<think>", "</think>"]],
    [["<think>", "</think>"], ["<reasoning>", "</reasoning>"]],
    [["<t>", "</t>"], ["a", "t"]],
    [["tt", "t"]],
    [["t", "tt"]],
    [["<t", "t>"]],
    [["a", "a"]],
    [["<t>", "t>"]],
    [["ta", "at"]],
]

ORDINARY = [
    "high 7.250",
    "  <think>the colours are calm</think>high 7.250  ",
    "<think>first</think> mid <think>second</think> low 2.000",
    "</think>prefilled start tag: keep what follows the last end tag 5.5",
    "<think>never closed, so nothing is removed 3.1",
    "<reasoning>a</reasoning><think>b</think>positive 1.000",
    "no tags at all",
    "",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_same_output_as_lmms_eval_on_ordinary_answers(text):
    from lmms_eval.api.reasoning import strip_reasoning_tags as lmms_strip

    for pairs in TAG_PAIRS[:2]:
        assert strip_reasoning_tags(text, pairs) == lmms_strip(text, pairs)


def test_same_output_as_lmms_eval_on_fuzzed_strings():
    """Small alphabets full of tag fragments, overlapping tags and tags that are parts of each other."""
    from lmms_eval.api.reasoning import strip_reasoning_tags as lmms_strip

    rng = random.Random(0)
    alphabet = ["<", "t", ">", "/", "a", " ", "<t>", "</t>", "x", "<think>", "</think>"]
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 16)))
        pairs = rng.choice(TAG_PAIRS)
        assert strip_reasoning_tags(text, pairs) == lmms_strip(text, pairs), (text, pairs)


def test_many_blocks_in_a_long_answer():
    """100,000 blocks (1.6 MB): the same text as removing them one by one, without lmms-eval's quadratic cost
    (this alone took lmms-eval about a minute; bench_leaderboard.py times it)."""
    text = "<think>x</think>" * 100_000 + " high 7.5 " + "<th" + "<think>y</think>" + "ink>z</think>"
    assert strip_reasoning_tags(text, [["<think>", "</think>"]]) == "high 7.5"
