"""parse_answer on answers real MLLMs write, across the four dimensions, and the paper's parser."""

from __future__ import annotations

import pytest

from cogip_tasks import parse_answer, parse_answer_paper
from cogip_tasks.scoring import BAD_SCALE, NO_NUMBER, OUT_OF_RANGE

A, F, V, M = "aesthetics", "funniness", "emotional_valence", "memorability"

# (answer, dimension, expected label, expected score or None, expected failure)
CASES = [
    # the format the benchmark asks for
    ("high 7.234", A, "high", 7.234, None),
    ("very high 8.200", F, "very high", 8.2, None),
    ("medium 5.577", A, "medium", 5.577, None),
    ("very low 0.212", M, "very low", 0.212, None),
    ("positive 2.000", V, "positive", 2.0, None),
    ("negative -3.000", V, "negative", -3.0, None),
    ("neutral 0.000", V, "neutral", 0.0, None),
    # case, hyphens, punctuation
    ("HIGH 7.1", A, "high", 7.1, None),
    ("Very-High 9.05", A, "very high", 9.05, None),
    ("Label: Low, Score: 4.25", F, "low", 4.25, None),
    ("very high: 0.912", M, "very high", 0.912, None),
    ("Medium (5.8)", A, "medium", 5.8, None),
    ("Positive, 1.000.", V, "positive", 1.0, None),
    # markdown
    ("**Score:** 7.2", A, None, 7.2, None),
    ("**Label:** high\n**Score:** 7.45", A, "high", 7.45, None),
    ("`medium 6.100`", F, "medium", 6.1, None),
    ("### Rating\n- label: *very low*\n- score: **1.750**", F, "very low", 1.75, None),
    ("| label | score |\n|---|---|\n| high | 0.700 |", M, "high", 0.7, None),
    # explicit scales
    ("7/10", F, None, 7.0, None),
    ("I would rate it 7.5 out of 10.", A, None, 7.5, None),
    ("Score: 8 / 10", A, None, 8.0, None),
    ("memorability: 0.65/1", M, None, 0.65, None),
    ("6.5/10", M, None, 0.65, None),
    ("65%", M, None, 0.65, None),
    ("High memorability, about 72%.", M, "high", 0.72, None),
    ("Rating: 80 percent", M, None, 0.8, None),
    ("2/3", V, None, 2.0, None),
    ("On a scale of 0 to 10, I give this image a 6.5.", A, None, 6.5, None),
    ("On a 1-10 scale: 4", F, None, 4.0, None),
    ("(0-10) score: 4", A, None, 4.0, None),
    # unicode minus and signed valence
    ("negative \u22122.000", V, "negative", -2.0, None),
    ("negative \u20131", V, "negative", -1.0, None),
    ("Positive +2", V, "positive", 2.0, None),
    ("Emotional valence score: -1.5 (negative)", V, "negative", -1.5, None),
    ("\uff0d3", V, None, -3.0, None),
    # prose before and after, several numbers
    ("The image shows 2 cats on a sofa. high 7.1", F, "high", 7.1, None),
    ("There are 3 people in a dimly lit room. I'd give it a score of 4.2.", A, None, 4.2, None),
    ("Looking at the composition, lighting and color, my answer is: medium 6.2. It is a pleasant photo.", A, "medium", 6.2, None),
    ("Score: 6. Actually, on reflection, score: 7.", A, None, 7.0, None),
    ("The 2 dogs look happy, so the valence is positive 3.000", V, "positive", 3.0, None),
    ("Based on factors 1 and 2 above, I predict 0.553.", M, None, 0.553, None),
    ("Sure! Here is my assessment.\n\nhigh 7.900\n\nThis image is striking.", A, "high", 7.9, None),
    ("score 7-8", A, None, 7.0, None),
    ("The scene from 1999 is forgettable: very low 0.21", M, "very low", 0.21, None),
    # qwen-style numbers: integers and many decimals
    ("low 4", A, "low", 4.0, None),
    ("medium 0.5", M, "medium", 0.5, None),
    ("high 7.23456", F, "high", 7.23456, None),
    (".75", M, None, 0.75, None),
    # failures: no number
    ("I cannot rate this image.", A, None, None, NO_NUMBER),
    ("high", A, "high", None, NO_NUMBER),
    ("", F, None, None, NO_NUMBER),
    ("Negative. The picture is sad.", V, "negative", None, NO_NUMBER),
    # failures: out of range, never clamped
    ("high 12.5", A, "high", None, OUT_OF_RANGE),
    ("very high 72", M, "very high", None, OUT_OF_RANGE),
    ("negative -4", V, "negative", None, OUT_OF_RANGE),
    ("score: -1.0", A, None, None, OUT_OF_RANGE),
    ("150%", M, None, None, OUT_OF_RANGE),
    # failures: a scale that does not map onto the dimension
    ("valence 50%", V, None, None, BAD_SCALE),
    ("positive 4/5", V, "positive", None, BAD_SCALE),
]


@pytest.mark.parametrize(("text", "dimension", "label", "score", "failure"), CASES)
def test_parse_answer(text, dimension, label, score, failure):
    parsed = parse_answer(text, dimension)
    assert parsed.label == label
    assert parsed.failure == failure
    if score is None:
        assert parsed.score is None
    else:
        assert parsed.score == pytest.approx(score)


def test_enough_realistic_cases_across_all_dimensions():
    assert len(CASES) >= 50
    assert {c[1] for c in CASES} == {A, F, V, M}


@pytest.mark.parametrize("spelling", ["emotional_valence", "Emotional_Valence", "cogip_emotional_valence"])
def test_dimension_accepts_every_spelling(spelling):
    assert parse_answer("negative -2.000", spelling) == parse_answer("negative -2.000", V)


def test_unknown_dimension_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown CogIP dimension 'beauty'"):
        parse_answer("high 7", "beauty")


def test_result_is_a_named_tuple_with_label_and_score():
    parsed = parse_answer("high 7.234", A)
    label, score, *_ = parsed
    assert (label, score) == (parsed.label, parsed.score) == ("high", 7.234)


def test_out_of_range_keeps_the_value_read_for_diagnostics():
    assert parse_answer("high 12.5", A).value == 12.5


@pytest.mark.parametrize(
    ("text", "dimension", "score"),
    [
        ("The image shows 2 cats. high 7.1", F, 2.0),  # first number, whatever it is
        ("high 12.5", A, 12.5),  # no range check
        ("7/10", A, 7.0),
        ("negative -2.000", V, -2.0),
        ("score .5", M, 0.5),
    ],
)
def test_paper_parser_takes_the_first_number(text, dimension, score):
    assert parse_answer_paper(text, dimension).score == pytest.approx(score)


def test_paper_parser_drops_answers_without_a_number():
    parsed = parse_answer_paper("very high", A)
    assert (parsed.label, parsed.score, parsed.failure) == ("very high", None, NO_NUMBER)
