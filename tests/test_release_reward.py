"""``cogip_train.rewards.release_reward`` is the release's GRPO reward as its code runs (sft/qwen/src/train/
reward_funcs.py with its trainer): range 10 for every dimension, the LAST number (integers and exponents too)
inside the first <answer>...</answer>, else in the whole text, no range check, -0.5 when nothing parses, clipped.

Checked against a port written here without regular expressions (a scanner of the same grammar), on fuzzed
strings and on the release's own GRPO data in ../shared when present.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from cogip_tasks.dimensions import get_dimension
from cogip_train.rewards import closeness_reward, release_closeness_reward, release_number, release_reward

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "cogip_release"
OPEN, CLOSE = "<answer>", "</answer>"


def _digit_run(s: str, i: int) -> int:
    while i < len(s) and s[i].isdecimal():  # Python's \d is the Unicode decimal digits
        i += 1
    return i


def _number_end(s: str, i: int) -> int | None:
    """Where a number starting at ``i`` (after any sign) ends: digits, or digits '.' digits (the point only when a
    digit follows it), then an exponent only when it has digits; None when no number starts there."""
    j = _digit_run(s, i)
    if j < len(s) and s[j] == "." and j + 1 < len(s) and s[j + 1].isdecimal():
        end = _digit_run(s, j + 1)
    elif j > i:
        end = j
    else:
        return None
    k = end + 1
    if end < len(s) and s[end] in "eE":
        if k < len(s) and s[k] in "+-":
            k += 1
        if k < len(s) and s[k].isdecimal():
            end = _digit_run(s, k)
    return end


def numbers_in(s: str) -> list[str]:
    found, p = [], 0
    while p < len(s):
        q = p + 1 if s[p] in "+-" else p
        end = _number_end(s, q)
        if end is None:
            p += 1
        else:
            found.append(s[p:end])
            p = end
    return found


def answer_inside(s: str) -> str | None:
    """The text of the first <answer>...</answer> (tags in any case) whose content is non-empty and has no '<'."""
    for i in range(len(s)):
        if s[i : i + len(OPEN)].lower() == OPEN:
            start = i + len(OPEN)
            stop = s.find("<", start)
            if stop > start and s[stop : stop + len(CLOSE)].lower() == CLOSE:
                return s[start:stop]
    return None


def port_number(text: str) -> float | None:
    inner = answer_inside(text)
    found = numbers_in(inner if inner is not None else text)
    return float(found[-1]) if found else None


def port_reward(completion: str, answer: str) -> float:
    pred, gt = port_number(completion), port_number(answer)
    if pred is None or gt is None:
        return -0.5
    return max(-1.0, min(1.0, 1.0 - abs(pred - gt) / 10.0))


PIECES = [
    "<answer>", "</answer>", "<ANSWER>", "</Answer>", "<", ">", " ", "\n", "high", "very low", "medium",
    "7", "7.234", "-2", "+3.5", ".5", "5.", "1e3", "2E-2", "1.2.3", "e", "-", "+", ".", "0.415", "10", "٣",
    "99999", "score:", "1e400", "-.25e+1",
]  # fmt: skip


def fuzzed(rng: random.Random, n: int) -> list[str]:
    return ["".join(rng.choice(PIECES) for _ in range(rng.randint(0, 8))) for _ in range(n)]


def test_equals_the_port_on_fuzzed_strings():
    rng = random.Random(0)
    completions, answers = fuzzed(rng, 4000), fuzzed(rng, 4000)
    got = release_reward(completions, answers)
    want = [port_reward(c, a) for c, a in zip(completions, answers)]
    assert got == want
    assert {release_number(c) is None for c in completions} == {True, False}  # both kinds were exercised
    assert sum(r == -0.5 for r in got) > 100 and sum(-1 < r < 1 and r != -0.5 for r in got) > 100


@pytest.mark.parametrize(
    "completion, number",
    [
        ("<answer>high 7.234</answer>", 7.234),
        ("high 7.234", 7.234),
        ("<answer>low 4 then 6</answer> 9.5", 6.0),  # the LAST number inside the tags, integers allowed
        ("no tags: 3.5 and 12", 12.0),  # no range check
        ("<answer>a < b 3</answer> 8.25", 8.25),  # a '<' inside: not an answer block; the whole text's last
        ("<ANSWER> 1e1 </answer>", 10.0),
        ("<answer></answer> 5", 5.0),
        ("very high", None),
    ],
)
def test_the_number_read(completion, number):
    assert release_number(completion) == number


def test_every_dimension_has_range_10_and_messages_as_trl_passes_them():
    messages = [[{"role": "assistant", "content": "<answer>very high 1.000</answer>"}], {"content": "0.0"}]
    assert release_reward(messages, ["very low 0.000", "very high 1.000"]) == [0.9, 0.9]  # memorability's range is 1
    assert release_reward(["nothing"], ["high 7.0"]) == [-0.5] and release_reward(["7"], ["none"]) == [-0.5]
    assert release_reward(["-50"], ["5"]) == [-1.0]
    # what the release does with odd shapes: content that is not text is no number; other lists are str()-ed
    assert release_reward([[{"content": ["7.0"]}], ["7"], []], ["7"] * 3) == [-0.5, 1.0, -0.5]
    assert release_closeness_reward([None], ["<answer>6</answer>"], answer=["5.5"]) == [0.95]


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared (the release's GRPO data)")
def test_the_release_grpo_data():
    """Its launcher trains on cognition_training.json ("<label> <score>" answers); training_grpo.json holds the
    same items with tagged answers: read as completions, each earns exactly 1. Answers of other items (a fixed
    shuffle) show the two rewards apart: range 10 everywhere vs the dimension's own range."""
    plain = json.loads((SHARED / "cognition_training.json").read_text())
    tagged = json.loads((SHARED / "training_grpo.json").read_text())
    answers = [row["conversations"][1]["value"] for row in plain]
    completions = [row["conversations"][1]["value"] for row in tagged]
    assert [r["id"] for r in plain] == [r["id"] for r in tagged] and completions[0].startswith("<answer>")
    assert release_reward(completions, answers) == [1.0] * len(plain)
    assert release_reward(completions, answers) == [port_reward(c, a) for c, a in zip(completions, answers)]

    dims = [get_dimension(row["image"][0].split("/")[0]).key for row in plain]
    others = list(completions)
    for dim in set(dims):  # another item's answer of the same dimension
        rows = [i for i, d in enumerate(dims) if d == dim]
        shuffled = random.Random(19).sample(rows, len(rows))
        for i, j in zip(rows, shuffled):
            others[i] = completions[j]
    release = release_reward(others, answers)
    assert release == [port_reward(c, a) for c, a in zip(others, answers)]
    scores = [float(a.rsplit(" ", 1)[1]) for a in answers]
    cogip = closeness_reward([None] * len(plain), others, dimension=dims, score=scores)
    memorability = [r for r, d in zip(release, dims) if d == "memorability"]
    assert len(memorability) == 800 and all(0.9 <= r <= 1.0 for r in memorability)
    differ = {d: sum(r != c for r, c, e in zip(release, cogip, dims) if e == d) for d in set(dims)}
    same = sum(r == c for r, c, e in zip(release, cogip, dims) if e in ("aesthetics", "funniness"))
    assert same == 1600  # range 10 is right for these two
    for dim in ("emotional_valence", "memorability"):  # ranges 6 and 1, not 10: every wrong answer differs
        wrong = sum(port_number(o) != port_number(a) for o, a, d in zip(others, answers, dims) if d == dim)
        assert differ[dim] == wrong > 600, (dim, differ[dim], wrong)
    print("rewards that differ (release vs cogip), per dimension:", dict(sorted(differ.items())))
