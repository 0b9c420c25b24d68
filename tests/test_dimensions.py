"""The single source of truth for the four dimensions: ranges, label bins, spellings."""

from __future__ import annotations

import pytest

from cogip_tasks.dimensions import DIMENSION_KEYS, DIMENSIONS, get_dimension


def test_the_four_dimensions_in_benchmark_order():
    assert DIMENSION_KEYS == ("aesthetics", "funniness", "emotional_valence", "memorability")
    assert [d.release_name for d in DIMENSIONS.values()] == ["Aesthetics", "Funniness", "Emotional_Valence", "Memorability"]
    assert [d.task_name for d in DIMENSIONS.values()] == [f"cogip_{k}" for k in DIMENSION_KEYS]


@pytest.mark.parametrize(
    ("dimension", "score", "label"),
    [
        ("aesthetics", 0.0, "very low"), ("aesthetics", 3.499, "very low"), ("aesthetics", 3.5, "low"),
        ("aesthetics", 4.999, "low"), ("aesthetics", 5.0, "medium"), ("aesthetics", 6.5, "high"),
        ("aesthetics", 8.0, "very high"), ("aesthetics", 10.0, "very high"),
        ("funniness", 7.999, "high"),
        ("memorability", 0.349, "very low"), ("memorability", 0.35, "low"), ("memorability", 0.5, "medium"),
        ("memorability", 0.65, "high"), ("memorability", 0.8, "very high"), ("memorability", 1.0, "very high"),
        ("emotional_valence", -3, "negative"), ("emotional_valence", -0.01, "negative"),
        ("emotional_valence", 0, "neutral"), ("emotional_valence", 0.5, "positive"), ("emotional_valence", 3, "positive"),
    ],
)
def test_label_bins_match_the_release_rules(dimension, score, label):
    assert get_dimension(dimension).label_for(score) == label


def test_ranges_and_midpoints():
    assert [(d.low, d.high, d.midpoint) for d in DIMENSIONS.values()] == [
        (0, 10, 5), (0, 10, 5), (-3, 3, 0), (0, 1, 0.5)
    ]
    assert get_dimension("emotional_valence").integer_scores


def test_bin_midpoints_cover_the_range():
    aesthetics = get_dimension("aesthetics")
    assert aesthetics.bin_interval("very low") == (0.0, 3.5)
    assert aesthetics.bin_interval("very high") == (8.0, 10.0)
    assert aesthetics.bin_midpoint("medium") == 5.75
    valence = get_dimension("emotional_valence")
    assert [valence.bin_midpoint(x) for x in valence.labels] == [-1.5, 0.0, 1.5]
    with pytest.raises(KeyError, match="not a label of aesthetics"):
        aesthetics.bin_interval("positive")


@pytest.mark.parametrize("name", ["Memorability", "memorability", "MEMORABILITY", "cogip_memorability"])
def test_lookup_by_any_spelling(name):
    assert get_dimension(name) is DIMENSIONS["memorability"]


def test_generation_prompt_file_name_maps_to_valence():
    assert get_dimension("emotion").key == "emotional_valence"
