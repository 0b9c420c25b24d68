"""A local dataset always loads its current contents, and bad rows stop a run before the model loads.

Hugging Face ``datasets`` keys its cache for a local folder by the folder's *name*: two folders of the same
name (or one folder rebuilt) were served from the first one's cached rows. These tests use one HF_HOME (the
session's, see conftest) for folders that share a name.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import datasets
import pytest

from cogip_tasks.dataset import CogIPDataError, dimension_rows, load_cogip, load_kwargs, validate_rows
from cogip_tasks.synthetic import build_sample_dataset, jpeg_bytes, procedural_image
from conftest import lmms_eval_command, load_results, offline_env, run_cli


def _ids(source: Path) -> list[str]:
    return load_cogip(str(source), split="test")["id"]


def test_two_folders_with_one_name_each_load_their_own_rows(tmp_path):
    first = build_sample_dataset(tmp_path / "a" / "bench", n_train=1, n_test=2, seed=0)
    second = build_sample_dataset(tmp_path / "b" / "bench", n_train=1, n_test=3, seed=1)
    assert len(_ids(first)) == 8
    assert len(_ids(second)) == 12
    assert len(_ids(first)) == 8  # and back: neither run poisons the other's cache
    assert load_kwargs(str(first))["cache_dir"] != load_kwargs(str(second))["cache_dir"]


def test_a_folder_rebuilt_in_place_loads_its_new_rows(tmp_path):
    folder = build_sample_dataset(tmp_path / "bench", n_train=1, n_test=2, seed=0)
    before = load_cogip(str(folder), split="test")["score"]
    build_sample_dataset(folder, n_train=1, n_test=2, seed=5)  # same name, same count, other scores
    after = load_cogip(str(folder), split="test")["score"]
    assert len(before) == len(after) == 8 and before != after


def test_a_folder_that_disagrees_with_its_build_manifest_is_refused(tmp_path):
    folder = build_sample_dataset(tmp_path / "bench", n_train=1, n_test=2, seed=0)
    (folder / "cogip_build.json").write_text(json.dumps({"rows": {"default": {"train": 4, "test": 480}}}))
    with pytest.raises(CogIPDataError, match=r"split 'test' loaded 8 rows but cogip_build.json records 480"):
        load_cogip(str(folder), split="test")
    (folder / "cogip_build.json").write_text(json.dumps({"rows": {"default": {"train": 4, "test": 8}}}))
    assert len(load_cogip(str(folder), split="test")) == 8


@pytest.mark.parametrize("source", ["/no/such/folder", "./missing_bench", "a/b/c"])
def test_a_missing_source_is_one_clear_error(source):
    with pytest.raises(CogIPDataError, match="no such dataset folder"):
        load_cogip(source, split="test")


def test_an_unreachable_hub_id_is_one_clear_error():
    with pytest.raises(CogIPDataError, match=r"someone/not-cached: the dataset does not load"):
        load_cogip("someone/not-cached", split="test")


def test_a_save_to_disk_of_a_single_dataset_is_refused(tmp_path, sample_dataset_dir):
    load_cogip(str(sample_dataset_dir), split="test").save_to_disk(str(tmp_path / "single"))
    with pytest.raises(CogIPDataError, match="a save_to_disk of a single Dataset"):
        load_cogip(str(tmp_path / "single"), split="test")


def _rows(dimension: str, scores: list, names: list | None = None, dtype: str = "float64") -> datasets.Dataset:
    img = {"bytes": jpeg_bytes(procedural_image(1)), "path": None}
    names = names or [dimension] * len(scores)
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "image": datasets.Image(decode=False),
            "dimension": datasets.Value("string"),
            "prompt": datasets.Value("string"),
            "score": datasets.Value(dtype),
        }
    )
    return datasets.Dataset.from_list(
        [
            {"id": f"X/{i:06d}", "image": img, "dimension": n, "prompt": "rate", "score": s}
            for i, (n, s) in enumerate(zip(names, scores))
        ],
        features=features,
    )


@pytest.mark.parametrize(
    ("dimension", "bad", "dtype", "message"),
    [
        ("Aesthetics", float("inf"), "float64", r"inf is outside aesthetics's range \[0, 10\]"),
        ("Aesthetics", float("-inf"), "float64", r"-inf is outside"),
        ("Aesthetics", 42.0, "float64", r"42.0 is outside aesthetics's range"),
        ("Emotional_Valence", -7.0, "float64", r"-7.0 is outside emotional_valence's range \[-3, 3\]"),
        ("Memorability", 1e39, "float32", r"inf is outside memorability's range"),  # float32 overflow
        ("Memorability", 1e39, "float64", r"1e\+39 is outside"),
    ],
)
def test_scores_outside_the_range_are_refused_naming_row_and_value(dimension, bad, dtype, message):
    ds = _rows(dimension, [0.5, bad, 0.7], dtype=dtype)
    with pytest.raises(CogIPDataError, match=rf"column 'score', row id 'X/000001': {message}"):
        validate_rows(ds)


@pytest.mark.parametrize("name", ["Beauty", None, ""])
def test_an_unknown_dimension_is_an_error_not_a_silent_drop(name):
    ds = _rows("Aesthetics", [5.0, 6.0, 7.0], names=["Aesthetics", name, "Aesthetics"])
    with pytest.raises(CogIPDataError, match=rf"column 'dimension', row id 'X/000001': unknown dimension {name!r}"):
        dimension_rows(ds, "aesthetics")


def test_a_dimension_without_rows_is_named():
    ds = _rows("Aesthetics", [5.0, 6.0])
    with pytest.raises(CogIPDataError, match=r"no rows of dimension 'Funniness'"):
        dimension_rows(ds, "funniness")


def _cogip_eval(env: dict[str, str], tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [
        str(Path(sys.executable).with_name("cogip-eval")),
        "eval",
        "--model",
        "qwen2_5_vl",
        "--model_args",
        f"pretrained={tmp_path / 'no-model-here'}",
        "--tasks",
        "cogip_aesthetics",
        "--output_path",
        str(tmp_path / "out"),
        *extra,
    ]
    return subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("COGIP_DATASET", "/no/such/bench", "cogip-eval: error: /no/such/bench: no such dataset folder"),
        ("COGIP_PARSER", "nonsense", "cogip-eval: error: $COGIP_PARSER='nonsense': expected one of"),
    ],
)
def test_cogip_eval_checks_dataset_and_parser_before_loading_the_model(
    variable, value, message, tmp_path, sample_dataset_dir
):
    env = offline_env(COGIP_DATASET=str(sample_dataset_dir))
    env[variable] = value
    proc = _cogip_eval(env, tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith(message), proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "no-model-here" not in proc.stderr  # the model was never tried


@pytest.mark.slow
def test_the_real_cli_scores_each_same_named_folder_own_rows(tiny_qwen_dir, tmp_path):
    """One HF_HOME, two folders called ``bench`` one after the other: each run scores its own rows."""
    for n_test, sub in ((2, "a"), (3, "b")):
        folder = build_sample_dataset(tmp_path / sub / "bench", n_train=1, n_test=n_test, seed=n_test)
        out = tmp_path / f"out_{sub}"
        run_cli(
            lmms_eval_command(tiny_qwen_dir, "cogip_aesthetics", out),
            offline_env(COGIP_DATASET=str(folder), LMMS_EVAL_PLUGINS="cogip_tasks"),
            tmp_path,
        )
        assert load_results(out)["n-samples"]["cogip_aesthetics"]["effective"] == n_test


def test_a_truncated_image_is_refused_even_after_lmms_eval_allowed_them(tmp_path):
    import lmms_eval.api.task  # noqa: F401  turns PIL's LOAD_TRUNCATED_IMAGES on for the whole process
    from PIL import ImageFile

    whole = jpeg_bytes(procedural_image(3, size=128))
    ds = _rows("Aesthetics", [5.0, 6.0]).map(
        lambda r, i: {"image": {"bytes": whole[: len(whole) // 2] if i == 1 else whole, "path": None}},
        with_indices=True,
    )
    assert ImageFile.LOAD_TRUNCATED_IMAGES
    with pytest.raises(CogIPDataError, match=r"row id 'X/000001': column 'image' does not decode"):
        dimension_rows(ds, "aesthetics")
