"""The single source of truth for the four dimensions: ranges, label bins, spellings."""

from __future__ import annotations

import pytest

from cogip_tasks.dimensions import DIMENSION_KEYS, DIMENSIONS, format_target, get_dimension, human_score


def test_the_four_dimensions_in_benchmark_order():
    assert DIMENSION_KEYS == ("aesthetics", "funniness", "emotional_valence", "memorability")
    assert [d.release_name for d in DIMENSIONS.values()] == [
        "Aesthetics",
        "Funniness",
        "Emotional_Valence",
        "Memorability",
    ]
    assert [d.task_name for d in DIMENSIONS.values()] == [f"cogip_{k}" for k in DIMENSION_KEYS]


@pytest.mark.parametrize(
    ("dimension", "score", "label"),
    [
        ("aesthetics", 0.0, "very low"),
        ("aesthetics", 3.499, "very low"),
        ("aesthetics", 3.5, "low"),
        ("aesthetics", 4.999, "low"),
        ("aesthetics", 5.0, "medium"),
        ("aesthetics", 6.5, "high"),
        ("aesthetics", 8.0, "very high"),
        ("aesthetics", 10.0, "very high"),
        ("funniness", 7.999, "high"),
        ("memorability", 0.349, "very low"),
        ("memorability", 0.35, "low"),
        ("memorability", 0.5, "medium"),
        ("memorability", 0.65, "high"),
        ("memorability", 0.8, "very high"),
        ("memorability", 1.0, "very high"),
        # valence: integers as the release says; continuous scores take the nearest integer's label
        ("emotional_valence", -3, "negative"),
        ("emotional_valence", -1, "negative"),
        ("emotional_valence", -0.51, "negative"),
        ("emotional_valence", -0.5, "neutral"),
        ("emotional_valence", -0.01, "neutral"),
        ("emotional_valence", 0, "neutral"),
        ("emotional_valence", 0.03, "neutral"),
        ("emotional_valence", 0.5, "neutral"),
        ("emotional_valence", 0.51, "positive"),
        ("emotional_valence", 1, "positive"),
        ("emotional_valence", 3, "positive"),
    ],
)
def test_label_bins_match_the_release_rules(dimension, score, label):
    assert get_dimension(dimension).label_for(score) == label


def test_ranges_and_midpoints():
    assert [(d.low, d.high, d.midpoint) for d in DIMENSIONS.values()] == [
        (0, 10, 5),
        (0, 10, 5),
        (-3, 3, 0),
        (0, 1, 0.5),
    ]
    assert get_dimension("emotional_valence").integer_scores


def test_bin_midpoints_cover_the_range():
    aesthetics = get_dimension("aesthetics")
    assert aesthetics.bin_interval("very low") == (0.0, 3.5)
    assert aesthetics.bin_interval("very high") == (8.0, 10.0)
    assert aesthetics.bin_midpoint("medium") == 5.75
    valence = get_dimension("emotional_valence")
    assert [valence.bin_interval(x) for x in valence.labels] == [(-3.0, -0.5), (-0.5, 0.5), (0.5, 3.0)]
    assert [valence.bin_midpoint(x) for x in valence.labels] == [-1.75, 0.0, 1.75]
    with pytest.raises(KeyError, match="not a label of aesthetics"):
        aesthetics.bin_interval("positive")


@pytest.mark.parametrize("name", ["Memorability", "memorability", "MEMORABILITY", "cogip_memorability"])
def test_lookup_by_any_spelling(name):
    assert get_dimension(name) is DIMENSIONS["memorability"]


def test_generation_prompt_file_name_maps_to_valence():
    assert get_dimension("emotion").key == "emotional_valence"


def test_every_integer_valence_keeps_the_release_label():
    valence = get_dimension("emotional_valence")
    assert [valence.label_for(v) for v in range(-3, 4)] == ["negative"] * 3 + ["neutral"] + ["positive"] * 3


def test_a_mostly_neutral_expected_valence_is_labelled_neutral():
    """{negative .10, neutral .78, positive .12} as an expected score: 0.030 is neutral, not positive."""
    assert format_target(-1 * 0.10 + 0 * 0.78 + 1 * 0.12, "emotional_valence") == "neutral 0.020"


@pytest.mark.parametrize(
    ("score", "dimension", "target"),
    [
        (0.35, "memorability", "low 0.350"),
        (0.65, "memorability", "high 0.650"),  # float32 noise below the edge
        (7.2339, "aesthetics", "high 7.234"),
        (3.4996, "funniness", "low 3.500"),  # label of the printed number
        (-2, "emotional_valence", "negative -2.000"),
        (0, "emotional_valence", "neutral 0.000"),
    ],
)
def test_targets_are_labelled_after_rounding_to_the_release_decimals(score, dimension, target):
    import numpy as np

    assert format_target(np.float32(score), dimension) == target
    assert format_target(score, dimension) == target


def test_human_scores_drop_float32_noise():
    import numpy as np

    assert float(np.float32(0.35)) != 0.35 and human_score(np.float32(0.35)) == 0.35


def test_release_training_targets_are_reproduced_exactly():
    """Every SFT row of the real release: our target for its score is its own answer string."""
    import json

    from conftest import SHARED_RELEASE

    path = SHARED_RELEASE / "cognition_training.json"
    if not path.is_file():
        pytest.skip("../shared/cogip_release is not here")
    import numpy as np

    rows = json.loads(path.read_text())
    for row in rows:
        answer = row["conversations"][1]["value"]
        dimension = row["image"][0].split("/")[0]
        score = np.float32(float(answer.rsplit(" ", 1)[1]))  # as the Hub's float32 column holds it
        assert format_target(score, dimension) == answer, row["id"]
