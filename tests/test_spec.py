"""Benchmark specs: the shipped spec is CogIP-Bench (numbers unchanged), other specs parse, bad specs fail clearly."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import yaml

from cogip_tasks.dimensions import BUILTIN_SPEC, DIMENSIONS, SPEC_PATH, format_target, get_dimension, register_spec
from cogip_tasks.metrics import resample_indices
from cogip_tasks.prompts import DEFAULT_PROMPTS
from cogip_tasks.readout import expected_label_value, format_readout, split_readout
from cogip_tasks.scoring import parse_answer
from cogip_tasks.spec import SpecError, load_spec, parse_spec
from cogip_tasks.task_writer import task_files
from conftest import REPO

BUILTIN_TASKS = REPO / "cogip_tasks" / "tasks" / "cogip"
COGIP_EVAL = [sys.executable, "-m", "cogip_tasks.cli"]


def _sharpness(**changes) -> dict:
    """A small 1-5 integer spec (the worked example's shape); ``changes`` replace fields of its one dimension."""
    dim = {
        "key": "sharpness",
        "name": "Sharpness",
        "column": "Sharpness",
        "range": [1, 5],
        "integer_scores": True,
        "labels": [
            {"label": "blurry", "upper": 2.5},
            {"label": "soft", "upper": 3.5},
            {"label": "sharp", "upper": 5, "inclusive": True},
        ],
        "prompt": "How sharp is this image? Answer blurry, soft or sharp, then a score from 1 to 5.",
        "target_decimals": 0,
    }
    dim.update(changes)
    return {"name": "sharp", "title": "Sharpness Bench", "dimensions": [dim]}


# -- the shipped spec is CogIP-Bench, unchanged -------------------------------------------------------------------


def test_the_shipped_spec_holds_the_four_dimensions_as_before():
    """Literal release facts (the values dimensions.py hard-coded before the spec): any drift fails here."""
    rows = [
        (d.key, d.release_name, d.low, d.high, d.integer_scores, d.task_name, d.target_decimals, d.index)
        for d in DIMENSIONS.values()
    ]
    assert rows == [
        ("aesthetics", "Aesthetics", 0.0, 10.0, False, "cogip_aesthetics", 3, 0),
        ("funniness", "Funniness", 0.0, 10.0, False, "cogip_funniness", 3, 1),
        ("emotional_valence", "Emotional_Valence", -3.0, 3.0, True, "cogip_emotional_valence", 3, 2),
        ("memorability", "Memorability", 0.0, 1.0, False, "cogip_memorability", 3, 3),
    ]
    five = ("very low", "low", "medium", "high", "very high")
    assert [(b.label, b.upper, b.upper_inclusive) for b in DIMENSIONS["aesthetics"].bins] == [
        *zip(five[:4], (3.5, 5.0, 6.5, 8.0), [False] * 4),
        ("very high", 10.0, True),
    ]
    assert DIMENSIONS["funniness"].bins == DIMENSIONS["aesthetics"].bins
    assert [(b.label, b.upper, b.upper_inclusive) for b in DIMENSIONS["memorability"].bins] == [
        *zip(five[:4], (0.35, 0.5, 0.65, 0.8), [False] * 4),
        ("very high", 1.0, True),
    ]
    assert [(b.label, b.upper, b.upper_inclusive) for b in DIMENSIONS["emotional_valence"].bins] == [
        ("negative", -0.5, False),
        ("neutral", 0.5, True),
        ("positive", 3.0, True),
    ]
    assert get_dimension("emotion") is DIMENSIONS["emotional_valence"]  # the generation prompt file's name
    assert BUILTIN_SPEC.name == "cogip" and BUILTIN_SPEC.title == "CogIP-Bench"


def test_targets_parsed_values_and_readouts_are_unchanged():
    assert format_target(7.2344, "aesthetics") == "high 7.234"
    assert format_target(0.35, "memorability") == "low 0.350"
    assert format_target(0.34999999, "memorability") == "low 0.350"
    assert format_target(-1, "emotional_valence") == "negative -1.000"
    assert format_target(0.5, "emotional_valence") == "neutral 0.500"
    assert parse_answer("negative – 1.5", "emotional_valence").score == -1.5
    assert parse_answer("65%", "memorability").score == 0.65
    assert parse_answer("Score (-3 to 3): -2", "emotional_valence").score == -2
    assert parse_answer("high - 7.2", "aesthetics").score == 7.2
    assert expected_label_value({"low": 1.0}, "memorability") == pytest.approx(0.425)
    assert (
        resample_indices(5, 2, 0, "memorability").tolist()
        == resample_indices(5, 2, 0, DIMENSIONS["memorability"]).tolist()
    )


def test_the_prompts_come_from_the_spec_verbatim():
    assert DEFAULT_PROMPTS == {k: d.prompt for k, d in DIMENSIONS.items()}
    assert DEFAULT_PROMPTS["aesthetics"].startswith("**Visual Aesthetics Analysis Sub-Task (Aesthetics):**  \nIn this")
    assert DEFAULT_PROMPTS["memorability"].endswith("Please return only the label and the score, nothing else.")
    assert "- **(-3, -0.1, 'negative')**  \n" in DEFAULT_PROMPTS["emotional_valence"]
    assert not any("<image>" in p for p in DEFAULT_PROMPTS.values())


def test_the_builtin_task_folder_is_what_tasks_write_produces_for_the_shipped_spec():
    written = task_files(BUILTIN_SPEC, None, SPEC_PATH.read_text(encoding="utf-8"))
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in BUILTIN_TASKS.iterdir() if p.is_file()}
    assert written == on_disk


def test_no_other_module_names_the_four_dimensions():
    """The spec is the one home: no code outside it spells a dimension's key as a string literal."""
    keys = set(DIMENSIONS) | {d.release_name for d in DIMENSIONS.values()}
    offenders = []
    for package in ("cogip_tasks", "cogip_train", "hub_upload"):
        for path in (REPO / package).rglob("*.py"):
            import ast

            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and node.value in keys:
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.value!r}")
    assert offenders == []


# -- other specs -------------------------------------------------------------------------------------------------


def test_a_spec_of_another_scale_drives_targets_parsing_and_readouts():
    spec = parse_spec(_sharpness(), "sharp.yaml")
    dim = spec.dimension("sharpness")
    assert (dim.task_name, dim.low, dim.high, dim.labels) == ("sharp_sharpness", 1.0, 5.0, ("blurry", "soft", "sharp"))
    assert format_target(4, dim) == "sharp 4" and format_target(2.4, dim) == "blurry 2"
    assert parse_answer("soft 3", dim).score == 3 and parse_answer("soft 3", dim).label == "soft"
    assert parse_answer("sharp 7", dim).failure == "out_of_range"
    assert expected_label_value({"blurry": 0.5, "sharp": 0.5}, dim) == pytest.approx((1.75 + 4.25) / 2)
    # an expected readout keeps its decimals on a whole-number scale (3.6, not the target format's 4)
    readout = format_readout("sharp 4", 3.6, dim, "digits")
    assert readout.endswith("expected score (digits): sharp 3.600") and parse_answer(readout, dim).score == 3.6
    assert split_readout(readout) == ("sharp 4", {"source": "digits", "label": "sharp", "score": 3.6})

    hundred = parse_spec(
        {
            "name": "koniq",
            "dimensions": [
                {
                    "key": "quality",
                    "range": [0, 100],
                    "labels": [
                        {"label": w, "upper": u} for w, u in (("bad", 20), ("poor", 40), ("fair", 60), ("good", 80))
                    ]
                    + [{"label": "excellent", "upper": 100, "inclusive": True}],
                    "prompt": "Rate the quality: bad, poor, fair, good or excellent, then a score from 0 to 100.",
                    "target_decimals": 1,
                }
            ],
        }
    ).dimension("quality")
    assert format_target(73.26, hundred) == "good 73.3"
    assert parse_answer("good 73", hundred).score == 73 and parse_answer("73/100", hundred).score == 73
    assert parse_answer("7.3/10", hundred).score == pytest.approx(73)

    negative = parse_spec(
        _sharpness(
            key="mood",
            column="Mood",
            range=[-10, -2],
            integer_scores=False,
            labels=[{"label": "gloomy", "upper": -6}, {"label": "calm", "upper": -2, "inclusive": True}],
            prompt="gloomy or calm? then a score from -10 to -2.",
            target_decimals=2,
        )
    ).dimension("Mood")
    assert format_target(-6.5, negative) == "gloomy -6.50"
    assert parse_answer("calm – 3.25", negative).score == -3.25  # a dash after a label is a minus on a negative scale
    assert parse_answer("calm 3.25", negative).failure == "out_of_range"


def test_a_registered_spec_resolves_by_task_name_and_the_builtin_name_is_reserved():
    spec = register_spec(parse_spec(_sharpness(), "sharp.yaml"))
    assert get_dimension("sharp_sharpness") is spec.by_key["sharpness"]
    with pytest.raises(ValueError):
        get_dimension("sharpness")  # a bare key names a built-in dimension only
    assert register_spec(load_spec(SPEC_PATH)) is BUILTIN_SPEC
    with pytest.raises(SpecError, match="built-in benchmark's name"):
        register_spec(parse_spec({**_sharpness(), "name": "cogip"}, "mine.yaml"))


def test_the_spec_round_trips_through_its_data():
    again = parse_spec(BUILTIN_SPEC.to_dict(), "copy")
    assert again == BUILTIN_SPEC and again.fingerprint == BUILTIN_SPEC.fingerprint
    assert parse_spec(_sharpness()).fingerprint != BUILTIN_SPEC.fingerprint


# -- spec errors: one line naming the spec, the dimension and the field ------------------------------------------


def _bins(*pairs):
    return [
        {"label": w, "upper": u, **({"inclusive": True} if i == len(pairs) - 1 else {})}
        for i, (w, u) in enumerate(pairs)
    ]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"range": [3, 3]}, "range", "the ends are equal"),
        ({"range": [5, 1]}, "range", "reversed"),
        ({"range": [1, "five"]}, "range", "not a finite number"),
        ({"labels": _bins(("blurry", 3.5), ("soft", 2.5), ("sharp", 5))}, "labels[1].upper", "out of order"),
        ({"labels": _bins(("blurry", 3), ("soft", 3), ("sharp", 5))}, "labels[1].upper", "overlap"),
        ({"labels": _bins(("low", 3), ("lowish", 4), ("high", 5))}, "labels[0].label", "is a prefix of 'lowish'"),
        ({"labels": _bins(("sharp", 3), ("Sharp", 5))}, "labels[0].label", "is used twice"),
        ({"labels": _bins(("blurry", 3), ("sharp", 4))}, "labels[1]", "must end at the range's top"),
        ({"labels": _bins(("blurry", 0.5), ("sharp", 5))}, "labels[0].upper", "below the range's low end"),
        ({"labels": _bins(("level 1", 3), ("sharp", 5))}, "labels[0].label", "letter words"),
        ({"labels": [{"label": "blurry"}]}, "labels", "at least 2 bins"),
        ({"prompt": "Rate the sharpness from 1 to 5."}, "prompt", "label word(s) 'blurry', 'soft', 'sharp'"),
        ({"prompt": "blurry, soft or sharp? give a score."}, "prompt", "does not state the score range 1 to 5"),
        ({"key": "Sharp ness"}, "key", "lowercase identifier"),
        ({"target_decimals": 9}, "target_decimals", "0 to 6"),
        ({"integer_scores": "yes"}, "integer_scores", "true or false"),
        ({"bins": []}, "bins", "not a field of a dimension"),
    ],
)
def test_spec_errors_name_the_spec_the_dimension_and_the_field(changes, field, message):
    with pytest.raises(SpecError) as caught:
        parse_spec(_sharpness(**changes), "my_spec.yaml")
    text = str(caught.value)
    key = changes.get("key", "sharpness")
    assert text.startswith(f"my_spec.yaml: dimension {key!r}: field {field!r}: "), text
    assert message in text and "\n" not in text


def test_spec_errors_at_the_top_and_across_dimensions():
    two = _sharpness()
    two["dimensions"].append(copy.deepcopy(two["dimensions"][0]) | {"key": "clarity"})
    with pytest.raises(SpecError, match=r"dimension 'clarity': field 'key': the name 'sharpness' also names"):
        parse_spec(two, "s.yaml")
    with pytest.raises(SpecError, match=r"s.yaml: field 'name': 'Sharp!' is not a lowercase identifier"):
        parse_spec({**_sharpness(), "name": "Sharp!"}, "s.yaml")
    with pytest.raises(SpecError, match=r"s.yaml: field 'dimensions': expected a non-empty list"):
        parse_spec({"name": "x", "dimensions": []}, "s.yaml")


def test_spec_files_that_do_not_load_fail_in_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(SpecError, match=r"bad.yaml: not valid YAML \(line 2\)"):
        load_spec(bad)
    with pytest.raises(SpecError, match="spec file not found"):
        load_spec(tmp_path / "missing.yaml")
    with pytest.raises(SpecError, match="is a folder, expected a regular file"):
        load_spec(tmp_path)
    good = tmp_path / "sharp.yaml"
    good.write_text(yaml.safe_dump(_sharpness()), encoding="utf-8")
    assert load_spec(good).dimension("Sharpness").high == 5


def test_tasks_write_refuses_a_bad_spec_in_one_line(tmp_path):
    bad = tmp_path / "s.yaml"
    bad.write_text(yaml.safe_dump(_sharpness(range=[2, 2])), encoding="utf-8")
    done = subprocess.run(
        [
            *COGIP_EVAL,
            "tasks",
            "write",
            "--spec",
            str(bad),
            "--dataset",
            "x/y",
            "--output-dir",
            str(tmp_path / "t"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"cogip-eval tasks write: error: {bad}: dimension 'sharpness': field 'range': the ends are equal (2): "
        "a range needs low < high"
    ]
    assert not (tmp_path / "t").exists()


def test_tasks_write_writes_a_task_folder_for_a_spec(tmp_path):
    spec_file = tmp_path / "sharp.yaml"
    spec_file.write_text(yaml.safe_dump(_sharpness()), encoding="utf-8")
    data = tmp_path / "data"
    data.mkdir()
    out = tmp_path / "tasks"
    done = subprocess.run(
        [
            *COGIP_EVAL,
            "tasks",
            "write",
            "--spec",
            str(spec_file),
            "--dataset",
            str(data),
            "--output-dir",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "_default_template_yaml",
        "_sharp.yaml",
        "sharp_sharpness.yaml",
        "spec.yaml",
        "utils.py",
    ]
    assert (out / "_sharp.yaml").read_text().startswith("group: sharp\ntask:\n  - sharp_sharpness\n")
    assert "dataset='../data'" in (out / "utils.py").read_text()  # relative: no absolute local path written
    assert str(tmp_path) not in "".join(p.read_text() for p in out.iterdir())
    (out / "mine.yaml").write_text("task: mine\n")
    again = subprocess.run(
        [
            *COGIP_EVAL,
            "tasks",
            "write",
            "--spec",
            str(spec_file),
            "--dataset",
            str(data),
            "--output-dir",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert again.returncode == 1 and "mine.yaml" in again.stderr


def test_run_summaries_follow_the_run_s_benchmark(tmp_path):
    """The compact results table and the truncation count serve another spec's tasks as the built-in ones."""
    import json

    from cogip_tasks.results import format_table, truncated_answers

    spec = parse_spec(_sharpness(), "sharp.yaml")
    task = spec.dimensions[0].task_name
    results_file = tmp_path / "20260101_000000_results.json"
    results_file.write_text(
        json.dumps(
            {
                "results": {task: {"srcc,none": 0.5, "parse_rate,none": 1.0}},
                "groups": {"sharp": {"srcc,none": 0.5}},
                "configs": {task: {"generation_kwargs": {"max_new_tokens": 8}}},
            }
        )
    )
    samples = [{"token_counts": [{"output_tokens": n}]} for n in (8, 3, 8)]
    (tmp_path / f"20260101_000000_samples_{task}.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    assert truncated_answers(results_file) == {task: (2, 3, 8)}
    table = format_table(json.loads(results_file.read_text()), ("parse_rate",), spec=spec)
    assert table.splitlines()[2:] == [
        f"| {task} | 0.500 [n/a, n/a] | 1.000 | n/a |",
        "| sharp (mean) | 0.500 [n/a, n/a] | n/a | n/a |",
    ]
