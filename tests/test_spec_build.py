"""`cogip-upload build --spec`: a spec, a CSV and an image folder -> a CogIP-shaped dataset; bad input refused."""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

EXAMPLE = REPO / "examples" / "sharpness"
SPEC = EXAMPLE / "spec.yaml"


def _example_module():
    spec = importlib.util.spec_from_file_location("make_sharpness", EXAMPLE / "make_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sharp_src(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sharp_src")
    _example_module().make_data(out, 30, seed=0)
    return out


def upload(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hub_upload", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def build_args(src: Path, out: Path, scores: Path | None = None, spec: Path = SPEC) -> list:
    return [
        "build",
        "--spec",
        spec,
        "--scores",
        scores or src / "scores.csv",
        "--images",
        src / "images",
        "--output-dir",
        out,
    ]


def test_the_example_scores_are_a_function_of_the_stored_image(sharp_src):
    module = _example_module()
    rows = list(csv.DictReader(open(sharp_src / "scores.csv", encoding="utf-8")))
    for row in rows[:10]:
        assert int(row["score"]) == module.sharpness_score((sharp_src / "images" / row["image"]).read_bytes())
    assert len({r["score"] for r in rows}) >= 3  # the blur radii spread the scores


def test_build_from_a_spec_writes_a_dataset_that_loads(sharp_src, tmp_path):
    from datasets import load_dataset

    from cogip_tasks.dataset import dataset_spec, load_cogip, manifest_spec
    from cogip_tasks.spec import load_spec

    out = tmp_path / "sharp_ds"
    done = upload(*build_args(sharp_src, out))
    assert done.returncode == 0, done.stderr
    assert "sharpness: train 24, test 6" in done.stdout
    manifest = json.loads((out / "cogip_build.json").read_text())
    spec = load_spec(SPEC)
    assert manifest_spec(out) == spec and manifest["spec_sha256"] == spec.fingerprint
    assert dataset_spec(str(out)) == spec
    assert manifest["test_split"]["method"] == "seeded_draw" and manifest["test_split"]["seed"] == 19
    assert manifest["rows"]["default"] == {"train": 24, "test": 6}
    assert "## Spec" in (out / "README.md").read_text() and "very blurry" in (out / "README.md").read_text()
    test = load_cogip(str(out), split="test")
    assert set(test["dimension"]) == {"Sharpness"} and len(test) == 6
    row = test[0]
    assert row["id"].startswith("Sharpness/") and row["prompt"] == spec.dimensions[0].prompt
    assert row["label"] == spec.dimensions[0].label_for(row["score"])
    by_config = load_dataset(str(out), "sharpness", split="train", cache_dir=str(tmp_path / "cache"))
    assert len(by_config) == 24

    # the same inputs give the same folder (a seeded draw, no clock or path in it)
    again = tmp_path / "again"
    assert upload(*build_args(sharp_src, again)).returncode == 0
    assert (again / "cogip_build.json").read_bytes() == (out / "cogip_build.json").read_bytes()

    # a split column is used as given
    with_split = tmp_path / "with_split.csv"
    rows = list(csv.DictReader(open(sharp_src / "scores.csv", encoding="utf-8")))
    with open(with_split, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["image", "dimension", "score", "split"])
        writer.writeheader()
        writer.writerows({**r, "split": "test" if i < 10 else "train"} for i, r in enumerate(rows))
    split_out = tmp_path / "split_ds"
    assert upload(*build_args(sharp_src, split_out, scores=with_split)).returncode == 0
    assert json.loads((split_out / "cogip_build.json").read_text())["rows"]["default"] == {"train": 20, "test": 10}

    # and it pushes like the built-in one (dry run: no network)
    pushed = upload("push", out, "--repo-id", "me/sharpness", "--dry-run")
    assert pushed.returncode == 0, pushed.stderr
    assert "data/sharpness/test-00000-of-00001.parquet" in pushed.stdout


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scores.csv"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        ("image,dimension,score\n0000.png,blur,3\n", "line 2: column 'dimension': unknown dimension 'blur'"),
        (
            "image,dimension,score\n0000.png,sharpness,6\n",
            "line 2: column 'score': 6 is outside sharpness's range [1, 5]",
        ),
        ("image,dimension,score\n0000.png,sharpness,2.5\n", "line 2: column 'score': 2.5 is not a whole number"),
        ("image,dimension,score\n0000.png,sharpness,nan\n", "line 2: column 'score': 'nan' is not a finite number"),
        ("image,dimension,score\n0000.png,sharpness,x\n", "line 2: column 'score': 'x' is not a number"),
        ("image,dimension,score\nnope.png,sharpness,3\n", "line 2: column 'image': "),
        ("image,dimension,score\n../x.png,sharpness,3\n", "line 2: column 'image': '../x.png' is not a relative path"),
        ("image,dimension,score\n/etc/passwd,sharpness,3\n", "is not a relative path inside --images"),
        ("image,dimension,score,split\n0000.png,sharpness,3,dev\n", "line 2: column 'split': 'dev' is not one of"),
        ("image,dimension,score\n0000.png,sharpness,3\n0000.png,Sharpness,4\n", "line 3: row id 'Sharpness/0000'"),
        ("image,score\n0000.png,3\n", "missing column(s) dimension"),
        ("image,dimension,score,scroe\n0000.png,sharpness,3,1\n", "unknown column 'scroe'"),
        ("image,dimension,score\n", "no rows"),
        ("image,dimension,score\n0000.png,sharpness,3\n", "at least one must be left for train"),
    ],
)
def test_bad_input_is_refused_in_one_line_and_nothing_is_written(sharp_src, tmp_path, csv_text, message):
    out = tmp_path / "out"
    done = upload(*build_args(sharp_src, out, scores=_csv(tmp_path, csv_text)))
    assert done.returncode == 1, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cogip-upload: error: ") and message in lines[0], lines
    assert not out.exists()


def test_an_unreadable_image_and_options_that_do_not_apply_are_refused(sharp_src, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (images / "0000.png").write_bytes(b"not a png")
    scores = _csv(tmp_path, "image,dimension,score\n0000.png,sharpness,3\n")
    done = upload("build", "--spec", SPEC, "--scores", scores, "--images", images, "--output-dir", tmp_path / "o")
    assert done.returncode == 1 and "line 2: column 'image'" in done.stderr and "does not decode" in done.stderr
    for extra, flag in ((["--strict"], "--strict"), (["--draw-order", "Sharpness"], "--draw-order")):
        done = upload(*build_args(sharp_src, tmp_path / "o"), *extra)
        assert done.returncode == 1 and f"{flag} applies to release builds only" in done.stderr
    done = upload(*build_args(sharp_src, tmp_path / "o"), "--release", sharp_src)
    assert done.returncode == 1 and "--release is the built-in benchmark's input" in done.stderr
    bad_spec = tmp_path / "bad.yaml"
    bad_spec.write_text(SPEC.read_text().replace("range: [1, 5]", "range: [5, 5]"))
    done = upload(*build_args(sharp_src, tmp_path / "o", spec=bad_spec))
    assert done.returncode == 1 and "dimension 'sharpness': field 'range': the ends are equal" in done.stderr
    bad_spec.write_text(SPEC.read_text().replace("name: sharpness_bench", "name: cogip"))
    done = upload(*build_args(sharp_src, tmp_path / "o", spec=bad_spec))
    assert done.returncode == 1 and "field 'name': 'cogip' is the built-in benchmark's name" in done.stderr
    assert not (tmp_path / "o").exists()


def _card(folder: Path):
    from huggingface_hub import DatasetCard

    card = DatasetCard.load(folder / "README.md")
    return card.data.to_dict(), card.text[card.text.index("## License") :]


def test_the_card_states_each_parts_licence_and_unknown_stays_explicit(sharp_src, tmp_path):
    """--annotation-license / --image-license: the card's licence per part, as the built-in card has it; a part
    nobody stated is "unknown" in the metadata's license_name and in the prose."""
    from hub_upload.spec_build import SpecBuildOptions, build_from_spec

    out = tmp_path / "cc"
    done = upload(*build_args(sharp_src, out), "--annotation-license", "CC-BY-4.0")
    assert done.returncode == 0, done.stderr
    data, licence = _card(out)
    assert data["license"] == "other"
    assert data["license_name"] == "sharpness-bench-annotations-cc-by-4.0-images-unknown"
    assert "- **Annotations** (`score`, `label`, `prompt`, `id`, `dimension`, `dimension_key`): `cc-by-4.0`." in licence
    assert "- **Images** (`image`): licences **unknown**; this repository grants no rights to them." in licence
    manifest = json.loads((out / "cogip_build.json").read_text())
    assert manifest["options"]["annotation_license"] == "cc-by-4.0"
    assert manifest["options"]["image_license"] == "unknown"

    from cogip_tasks.spec import load_spec

    spec, src = load_spec(SPEC), (sharp_src / "scores.csv", sharp_src / "images")
    build_from_spec(spec, *src, tmp_path / "unstated")  # the default: neither part stated
    data, licence = _card(tmp_path / "unstated")
    assert data["license_name"] == "sharpness-bench-annotations-unknown-images-unknown"
    assert "licence **unknown**: not stated when it was built." in licence and "licences **unknown**" in licence
    build_from_spec(spec, *src, tmp_path / "mit", SpecBuildOptions(annotation_license="mit", image_license="mit"))
    data, licence = _card(tmp_path / "mit")
    assert data["license"] == "mit" and "license_name" not in data and "**unknown**" not in licence

    done = upload(*build_args(sharp_src, tmp_path / "o"), "--image-license", "CC BY 4.0")
    assert done.returncode == 2 and "'CC BY 4.0' is not a licence id" in done.stderr.strip().splitlines()[-1]
    done = upload(
        "build", "--release", sharp_src, "--images", sharp_src, "-o", tmp_path / "o", "--image-license", "mit"
    )
    assert done.returncode == 1 and "--image-license applies to --spec builds" in done.stderr
    assert not (tmp_path / "o").exists()


def test_tasks_write_reads_the_spec_from_the_built_dataset(sharp_src, tmp_path):
    out = tmp_path / "ds"
    assert upload(*build_args(sharp_src, out)).returncode == 0
    cogip_eval = [sys.executable, "-m", "cogip_tasks.cli", "tasks", "write"]
    tasks = tmp_path / "tasks"
    done = subprocess.run(
        [*cogip_eval, "--dataset", out, "--output-dir", tasks], capture_output=True, text=True, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    from cogip_tasks.spec import load_spec

    assert load_spec(tasks / "spec.yaml") == load_spec(SPEC)
    assert (tasks / "sharpness_bench_sharpness.yaml").is_file() and (tasks / "_sharpness_bench.yaml").is_file()
    plain = tmp_path / "plain"
    plain.mkdir()
    done = subprocess.run(
        [*cogip_eval, "--dataset", plain, "--output-dir", tmp_path / "t2"], capture_output=True, text=True
    )
    assert done.returncode == 1 and "embeds no spec; give --spec" in done.stderr


def test_tasks_stop_on_a_dataset_built_from_another_spec(sharp_src, tmp_path):
    """A task folder pointed at a dataset whose manifest holds a different spec fails before the model runs."""
    import yaml

    from cogip_tasks.dataset import CogIPDataError, load_cogip
    from cogip_tasks.spec import load_spec
    from cogip_tasks.task_hooks import define_hooks
    from cogip_tasks.task_writer import write_tasks

    other = tmp_path / "other.yaml"
    data = yaml.safe_load(SPEC.read_text())
    data["dimensions"][0]["labels"][0]["upper"] = 1.75  # same names, other bins: other numbers
    other.write_text(yaml.safe_dump(data))
    out = tmp_path / "ds"
    assert upload(*build_args(sharp_src, out, spec=other)).returncode == 0
    write_tasks(tmp_path / "tasks", load_spec(SPEC), str(out))
    hooks: dict = {}
    define_hooks(hooks, tmp_path / "tasks" / "spec.yaml", dataset="../ds")
    with pytest.raises(CogIPDataError, match="differs from the tasks' spec.yaml"):
        hooks["process_docs_sharpness"](load_cogip(str(out), split="test"))


def test_the_specs_in_the_docs_parse():
    """docs/custom-benchmarks.md's spec examples are valid specs; the sharpness one is the example's."""
    import re

    import yaml

    from cogip_tasks.spec import load_spec, parse_spec

    text = (REPO / "docs" / "custom-benchmarks.md").read_text(encoding="utf-8")
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, re.S)]
    specs = [parse_spec(b, "docs") for b in blocks if isinstance(b, dict) and "dimensions" in b]
    assert [s.name for s in specs] == ["sharpness_bench", "koniq"]
    assert specs[0] == load_spec(SPEC)
