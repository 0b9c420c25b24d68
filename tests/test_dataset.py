"""Loading the CogIP dataset: the override, every image form, and bad input named at load time."""

from __future__ import annotations

import importlib.util
import io
import math

import datasets
import pytest
from PIL import Image

from cogip_tasks.__main__ import TASKS_PATH
from cogip_tasks.dataset import CogIPDataError, load_cogip, load_image, rows_of_dimension, validate_rows
from cogip_tasks.synthetic import jpeg_bytes, procedural_image


def task_utils():
    """The task folder's utils.py, loaded by path as lmms-eval loads it."""
    spec = importlib.util.spec_from_file_location("cogip_task_utils", TASKS_PATH / "cogip" / "utils.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rows(scores, image=None):
    img = image if image is not None else {"bytes": jpeg_bytes(procedural_image(1)), "path": None}
    return datasets.Dataset.from_list(
        [
            {"id": f"Aesthetics/{i:06d}", "image": img, "dimension": "Aesthetics", "prompt": "rate", "score": s}
            for i, s in enumerate(scores)
        ]
    )


def test_local_folder_and_save_to_disk_load_the_same_rows(sample_dataset_dir, tmp_path):
    from_folder = load_cogip(str(sample_dataset_dir))
    from_folder.save_to_disk(str(tmp_path / "saved"))
    from_disk = load_cogip(str(tmp_path / "saved"), split="test")
    assert from_disk["id"] == from_folder["test"]["id"]
    assert from_folder["test"].features["image"].decode is False
    assert len(rows_of_dimension(from_folder["test"], "emotional_valence")) == 5


def test_env_override_picks_the_dataset(monkeypatch, sample_dataset_dir):
    monkeypatch.setenv("COGIP_DATASET", str(sample_dataset_dir))
    utils = task_utils()
    assert utils.DATASET_PATH == str(sample_dataset_dir)
    assert set(utils.DATASET_KWARGS) == {"cache_dir"}  # content-keyed (see test_dataset_trust.py)
    monkeypatch.delenv("COGIP_DATASET")
    assert task_utils().DATASET_PATH == "foolen/CogIP-Bench"


def test_images_are_read_from_bytes_only_never_from_a_path(tmp_path):
    img = procedural_image(3)
    path = tmp_path / "x.jpg"
    path.write_bytes(jpeg_bytes(img))
    from_dict = load_image({"bytes": jpeg_bytes(img), "path": "ignored.jpg"}, "a")
    assert from_dict.mode == "RGB" and from_dict.size == (64, 64)
    assert load_image(jpeg_bytes(img), "a").tobytes() == from_dict.tobytes()
    refused = [
        ({"bytes": None, "path": str(path)}, "only a path"),
        ({"bytes": b"", "path": str(path)}, "only a path"),
        (str(path), "holds no image bytes"),
        (path, "holds no image bytes"),
        (Image.open(io.BytesIO(jpeg_bytes(img))), "holds no image bytes"),
        ({"bytes": None, "path": None}, "holds no image bytes"),
    ]
    for form, message in refused:
        with pytest.raises(CogIPDataError, match=rf"^row id 'a': column 'image' .*{message}"):
            load_image(form, "a")


def test_task_hooks_take_decoded_rows_but_not_a_path(tmp_path, sample_dataset_dir):
    utils = task_utils()
    test = load_cogip(str(sample_dataset_dir), split="test")
    decoded = test.cast_column("image", datasets.Image(decode=True))
    docs = utils.process_docs_memorability(decoded)
    assert len(docs) == 5 and all(d == "Memorability" for d in docs["dimension"])
    assert utils.doc_to_visual(docs[0])[0].size == (64, 64)
    path = tmp_path / "img.jpg"
    path.write_bytes(jpeg_bytes(procedural_image(0)))
    with pytest.raises(CogIPDataError, match="holds no image bytes"):
        utils.doc_to_visual({"id": "x", "image": str(path)})


def test_prompt_hooks_strip_the_release_placeholder_and_wrap_per_model():
    utils = task_utils()
    doc = {"prompt": "<image>  \nRate it.", "dimension": "Aesthetics", "score": 6.4}
    assert utils.doc_to_text(doc) == "Rate it."
    assert utils.doc_to_text(doc, {"pre_prompt": "Q: ", "post_prompt": "\nA:"}) == "Q: Rate it.\nA:"
    assert utils.doc_to_target(doc) == "medium 6.400"


def test_missing_column_is_named():
    ds = rows([1.0]).remove_columns("score")
    with pytest.raises(CogIPDataError, match=r"missing column\(s\) score"):
        validate_rows(ds)


@pytest.mark.parametrize(
    ("bad", "message"), [("abc", "not a number: 'abc'"), (math.nan, "value is NaN"), (None, "not a number: None")]
)
def test_bad_score_names_column_row_and_value(bad, message):
    ds = rows([5.0, 6.0, bad, 7.0]) if bad != "abc" else rows(["5.0", "6.0", "abc", "7.0"])
    with pytest.raises(CogIPDataError, match=rf"column 'score', row id 'Aesthetics/000002': {message}"):
        validate_rows(ds, "aesthetics")


def test_undecodable_image_names_the_row():
    utils = task_utils()
    ds = rows([5.0, 6.0])
    broken = ds.map(
        lambda r, i: {"image": {"bytes": b"not a jpeg" if i == 1 else r["image"]["bytes"], "path": None}},
        with_indices=True,
    )
    with pytest.raises(CogIPDataError, match=r"row id 'Aesthetics/000001': column 'image' does not decode"):
        utils.process_docs_aesthetics(broken)
