"""The GRPO rewards on hand-written completions: the release's closeness on every dimension's range, the miss
penalty for unparsable answers, the target format, label agreement, and the --reward-weights parser."""

from __future__ import annotations

from functools import partial

import pytest

from cogip_tasks.dimensions import DIMENSIONS, format_target
from cogip_train.rewards import (
    REWARDS,
    closeness_reward,
    completion_text,
    format_reward,
    label_reward,
    parse_reward_weights,
)

#: The release's reward ranges (reward_funcs.py): 10, 10, 6, 1.
RELEASE_RANGE = {"aesthetics": 10.0, "funniness": 10.0, "emotional_valence": 6.0, "memorability": 1.0}


def chat(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def reward(func, texts: list, dim: str, human: float) -> list[float]:
    return func(
        prompts=[None] * len(texts), completions=texts, dimension=[dim] * len(texts), score=[human] * len(texts)
    )


@pytest.mark.parametrize("key", DIMENSIONS)
def test_closeness_is_the_release_formula_over_each_dimensions_range(key):
    dim = DIMENSIONS[key]
    human = dim.low + 0.25 * (dim.high - dim.low)
    preds = [dim.low, human, dim.midpoint, dim.high]
    texts = [chat(format_target(p, dim)) for p in preds]
    got = reward(closeness_reward, texts, key, human)
    want = [1 - abs(round(p, 3) - human) / RELEASE_RANGE[key] for p in preds]
    assert got == pytest.approx(want, abs=1e-9)
    assert got[1] == pytest.approx(1.0)  # exact prediction
    assert reward(closeness_reward, [chat(format_target(dim.high, dim))], key, dim.low) == pytest.approx([0.0])


@pytest.mark.parametrize("key", DIMENSIONS)
def test_unparsable_answers_get_the_miss_penalty(key):
    texts = ["", "I cannot tell.", chat("no score here"), chat("high"), None, 42]
    assert reward(closeness_reward, texts, key, DIMENSIONS[key].midpoint) == [-0.5] * len(texts)
    assert reward(partial(closeness_reward, miss_penalty=-1.0), ["nothing"], key, 0.0) == [-1.0]


def test_out_of_range_numbers_score_by_distance_clipped_to_minus_one():
    assert reward(closeness_reward, ["very high 95"], "aesthetics", 5.0) == [-1.0]  # 1 - 90/10, clipped
    assert reward(closeness_reward, ["high 1.2"], "memorability", 0.9) == pytest.approx([0.7])  # 1 - 0.3/1
    assert reward(closeness_reward, ["positive 4"], "emotional_valence", 3.0) == pytest.approx([1 - 1 / 6])


def test_closeness_uses_the_benchmark_parser_on_free_text_and_answer_tags():
    texts = ["<answer>medium 5.577</answer>", "I'd rate it 7/10.", "Score: 6.5 out of 10", "high - 7.2"]
    got = reward(closeness_reward, [chat(t) for t in texts], "aesthetics", 6.0)
    assert got == pytest.approx([1 - 0.423 / 10, 0.9, 0.95, 0.88])
    # valence: the dash after the label is the minus sign, as cogip-eval reads it
    assert reward(closeness_reward, ["negative – 1.5"], "emotional_valence", -1.5) == pytest.approx([1.0])


def test_format_reward_wants_label_space_three_decimals():
    good = ["high 7.234", "  very low 0.100\n", "<answer>medium 5.577</answer>", "<answer> low 4.000 </answer>"]
    bad = [
        "high 7.23",
        "high 7",
        "High 7.234",
        "high: 7.234",
        "7.234 high",
        "great 7.234",
        "high 7.234 because",
        "<answer>high 7.234",
        "medium 5.577</answer>",
        "",
        "very  high 9.000",
    ]
    assert reward(format_reward, good, "aesthetics", 0) == [1.0] * len(good)
    assert reward(format_reward, bad, "aesthetics", 0) == [0.0] * len(bad)
    assert (
        reward(format_reward, ["negative -2.000", "neutral 0.000", "positive 3.000"], "emotional_valence", 0)
        == [1.0] * 3
    )
    assert reward(format_reward, ["very low 0.350"], "aesthetics", 0) == [1.0]  # format only: the label is label's job
    assert reward(format_reward, ["very low 0.350"], "emotional_valence", 0) == [0.0]  # not a valence label


def test_label_reward_checks_own_bin_and_human_bin():
    # human 7.0 on aesthetics is "high" (6.5 <= high < 8.0)
    cases = {"high 7.234": 1.0, "high 9.0": 0.5, "very high 9.0": 0.5, "low 7.234": 0.0, "high": 0.5, "nothing": 0.0}
    got = reward(label_reward, [chat(t) for t in cases], "aesthetics", 7.0)
    assert dict(zip(cases, got)) == cases
    # the human bin after rounding to 3 decimals, as format_target labels targets: float32 0.35 is "low"
    assert reward(label_reward, ["low 0.350"], "memorability", 0.3499999940395355) == [1.0]
    assert reward(label_reward, ["neutral 0.000", "positive 0.000"], "emotional_valence", 0.0) == [1.0, 0.0]


def test_completion_text_reads_chat_and_plain_completions():
    assert completion_text([{"role": "assistant", "content": "high 7.0"}]) == "high 7.0"
    assert completion_text("low 3.0") == "low 3.0"
    assert completion_text({"content": None}) == "" and completion_text(None) == ""


def test_reward_weights_parse_and_refuse_bad_values():
    assert parse_reward_weights("closeness=1,format=0.5,label=0.5") == {"closeness": 1.0, "format": 0.5, "label": 0.5}
    assert parse_reward_weights("format=2") == {"closeness": 0.0, "format": 2.0, "label": 0.0}
    assert list(parse_reward_weights("label=1")) == list(REWARDS)
    for text, fragment in [
        ("accuracy=1", "unknown reward 'accuracy'"),
        ("closeness=1,closeness=2", "twice"),
        ("closeness=nan", "finite"),
        ("closeness=-1", ">= 0"),
        ("closeness", "finite"),
        ("closeness=x", "finite"),
        ("closeness=0,format=0", "no reward"),
        ("", "no reward"),
    ]:
        with pytest.raises(ValueError, match=fragment):
            parse_reward_weights(text)
