"""cogip-upload against hostile or unlucky input: a one-line error and a non-zero exit every time, nothing lost.

Issue 12 (output folder ownership, bad scores, wrong image folders, path traversal, bad manifests, absurd
--test-size, a killed build's leftovers), issue 13 (the card as a Hub user finds it, stand-in builds) and
issue 11 (the test split: the release's draw, --test-ids).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cogip_tasks.dimensions import DIMENSIONS
from conftest import SHARED_RELEASE, offline_env
from hub_upload.build import MANIFEST, build
from hub_upload.card import size_category
from hub_upload.cli import main
from hub_upload.release import read_release
from hub_upload.standin import STAND_IN_MARKER, write_standin_images
from test_hub_upload import (
    FAKE_TOKEN,
    REPO,
    _edit_json,
    _edit_scores_txt,
    _load,
    _opts,
    _placeholders,
    _set_score,
    make_release,
    release_protocol_ids,
)


@pytest.fixture()
def small(tmp_path) -> tuple[Path, Path]:
    """(release folder, image root): a clean small release (5 test items per dimension) with stand-in images."""
    release = make_release(tmp_path / "release")
    write_standin_images(read_release(release), tmp_path / "images", size=32, progress=False)
    return release, tmp_path / "images"


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cogip-upload: error: "), err
    assert "Traceback" not in err
    return lines[0]


def build_argv(release: Path, images: Path, out: Path, *extra: str) -> list[str]:
    return [
        "build",
        "--release",
        str(release),
        "--images",
        str(images),
        "--output-dir",
        str(out),
        "--quiet",
        "--test-size",
        "3",
        *extra,
    ]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def real_images_copy(images: Path, dest: Path) -> Path:
    """The stand-ins re-encoded (other bytes, no marker): what a build from a user's own images looks like."""
    from PIL import Image

    for path in images.rglob("*.jpg"):
        target = dest / path.relative_to(images)
        target.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(path) as img:
            img.convert("RGB").save(target, format="JPEG", quality=75)
    return dest


# ---------------------------------------------------------------- build --output-dir: replace only what the build owns


def test_out_with_git_and_user_files_is_refused_naming_them_and_left_intact(small, tmp_path, capsys):
    release, images = small
    out = build(release, images, tmp_path / "clone", _opts()).out
    (out / ".git" / "objects").mkdir(parents=True)
    (out / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (out / ".git" / "objects" / "ab").write_bytes(b"blob")
    (out / ".gitattributes").write_text("*.parquet filter=lfs\n")
    (out / "my_notes.txt").write_text("mine")
    before = snapshot(out)
    code, _, err = run(build_argv(release, images, out, "--seed", "5"), capsys)
    line = one_line_error(err)
    assert code == 1 and ".git/" in line and ".gitattributes" in line and "my_notes.txt" in line and "--force" in line
    assert snapshot(out) == before


def test_force_replaces_the_builds_own_files_and_never_touches_others(small, tmp_path, capsys):
    release, images = small
    out = build(release, images, tmp_path / "clone", _opts(max_shard_bytes=4000)).out  # several shards per split
    old = json.loads((out / MANIFEST).read_text())["files"]
    assert any(rel.startswith("data/") and not rel.endswith("-of-00001.parquet") for rel in old)
    (out / ".git").mkdir()
    (out / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (out / "my_notes.txt").write_text("mine")
    code, _, err = run(build_argv(release, images, out, "--force", "--seed", "5"), capsys)
    assert code == 0, err
    assert (out / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n" and (
        out / "my_notes.txt"
    ).read_text() == "mine"
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["options"]["seed"] == 5
    shards = {p.relative_to(out).as_posix() for p in (out / "data").rglob("*") if p.is_file()}
    assert shards == {rel for rel in manifest["files"] if rel.startswith("data/")}  # the old extra shards are gone
    assert set(old) - set(manifest["files"])  # there were some to remove
    ds = _load(out, tmp_path / "cache")
    assert len(ds["train"]) == 16 and len(ds["test"]) == 12


def test_foreign_files_the_dataset_would_read_or_the_build_would_overwrite_are_refused_even_with_force(
    small, tmp_path, capsys
):
    release, images = small
    out = build(release, images, tmp_path / "clone", _opts()).out
    stray = out / "data" / "aesthetics" / "test-00000-of-00009.parquet"
    stray.write_bytes(b"PAR1 someone else's rows")
    code, _, err = run(build_argv(release, images, out, "--force"), capsys)
    assert code == 1 and "data/aesthetics/test-00000-of-00009.parquet" in one_line_error(err)
    assert stray.read_bytes() == b"PAR1 someone else's rows"
    # a folder with the user's own README.md and no manifest: the card would overwrite it
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "README.md").write_text("my dataset")
    code, _, err = run(build_argv(release, images, theirs, "--force"), capsys)
    assert code == 1 and "README.md" in one_line_error(err) and (theirs / "README.md").read_text() == "my dataset"
    assert not list(tmp_path.glob(".*building*"))


def test_a_tampered_manifest_cannot_make_the_build_delete_outside_the_folder(small, tmp_path, capsys):
    release, images = small
    out = build(release, images, tmp_path / "out", _opts()).out
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    _edit_json(out / MANIFEST, lambda m: m["files"].__setitem__("../victim.txt", {"bytes": 8, "sha256": "x"}))
    code, _, err = run(build_argv(release, images, out), capsys)
    assert code == 1 and "cogip_build.json" in one_line_error(err) and "'files'" in err
    assert victim.read_text() == "precious"
    (out / MANIFEST).write_text("[1, 2]")  # not an object
    code, _, err = run(build_argv(release, images, out), capsys)
    assert code == 1 and "expected a JSON object, found a list" in one_line_error(err)


# ---------------------------------------------------------------- scores: inf, NaN, overflow, out of range


def _txt(value):
    return lambda release: _edit_scores_txt(
        release / "cognition_scores/Funniness_scores.txt", lambda lines: lines.__setitem__(2, f"000002.jpg\t{value}")
    )


def _train_answer(value):
    def craft(release):
        _edit_json(
            release / "cognition_training.json",
            lambda rows: rows[1]["conversations"][1].__setitem__("value", f"very high {value}"),
        )

    return craft


def _test_answer(value):
    return lambda release: _edit_json(
        release / "test_msg_file/Memorability/Memorability_scores.json",
        lambda answers: answers.__setitem__(1, f"high {value}"),
    )


def _consistent(dim, stem, value):
    return lambda release: _set_score(release, dim, stem, value)


BAD_SCORES = [
    ("txt-inf", _txt("inf"), "Funniness_scores.txt: line 3 (000002.jpg): score 'inf' is not a finite number"),
    ("txt-nan", _txt("nan"), "Funniness_scores.txt: line 3 (000002.jpg): score 'nan' is not a finite number"),
    ("txt-1e39", _txt("1e39"), "Funniness_scores.txt: line 3 (000002.jpg): score '1e39' overflows float32"),
    (
        "train-inf",
        _train_answer("inf"),
        "cognition_training.json: entry 1 (id '00001', image 'Aesthetics/000001.jpg'): score 'inf'",
    ),
    (
        "test-1e39",
        _test_answer("1e39"),
        "Memorability_scores.json: entry 1 (image 'Memorability/000801.jpg'): score '1e39' overflows",
    ),
    (
        "range-42",
        _consistent("Aesthetics", "000003", "42"),
        "cognition_scores/Aesthetics_scores.txt: Aesthetics/000003: line 4: score 42.0 outside [0.0, 10.0]",
    ),
    (
        "range-minus-7",
        _consistent("Emotional_Valence", "000801", "-7"),
        "Emotional_Valence/000801: line 6: score -7.0 outside [-3.0, 3.0]",
    ),
]


@pytest.mark.parametrize("craft, message", [c[1:] for c in BAD_SCORES], ids=[c[0] for c in BAD_SCORES])
def test_bad_scores_stop_a_non_strict_build_naming_file_entry_and_value(small, tmp_path, capsys, craft, message):
    release, images = small
    craft(release)
    code, _, err = run(build_argv(release, images, tmp_path / "out"), capsys)
    assert code == 1 and message in one_line_error(err)
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".*building*"))


# ---------------------------------------------------------------- --images: wrong, empty, mostly missing


def test_wrong_or_empty_image_folder_is_an_error(small, tmp_path, capsys):
    release, _ = small
    for images, expected in (
        (tmp_path / "no" / "such", "no such folder"),
        (release / "cognition_training.json", "not a folder"),
    ):
        code, _, err = run(build_argv(release, images, tmp_path / "out"), capsys)
        assert code == 1 and f"--images {images}: {expected}" in one_line_error(err)
    (tmp_path / "empty").mkdir()
    for flag in ((), ("--allow-missing-images",)):  # an empty set is refused even with the flag
        code, _, err = run(build_argv(release, tmp_path / "empty", tmp_path / "out", *flag), capsys)
        assert code == 1 and "36 of the 36 images" in one_line_error(err) and "no usable image" in err
    code, _, err = run(["audit", "--release", str(release), "--images", str(tmp_path / "nope"), "--quiet"], capsys)
    assert code == 1 and "no such folder" in one_line_error(err)
    assert not (tmp_path / "out").exists()


def test_mostly_missing_images_need_the_flag_a_few_do_not(small, tmp_path, capsys):
    release, images = small
    (images / "Funniness/000001.jpg").unlink()  # 1 of 36 (2.8%): built, reported
    code, out, err = run(build_argv(release, images, tmp_path / "few"), capsys)
    assert code == 0 and "missing_image: 1" in out, err
    for stem in ("000802", "000803"):  # 3 of 36 (8.3%) > 5%
        (images / f"Memorability/{stem}.jpg").unlink()
    code, _, err = run(build_argv(release, images, tmp_path / "many"), capsys)
    line = one_line_error(err)
    assert code == 1 and "3 of the 36 images" in line and "more than 5%" in line and "--allow-missing-images" in line
    assert not (tmp_path / "many").exists()
    code, _, err = run(build_argv(release, images, tmp_path / "many", "--allow-missing-images"), capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "many" / MANIFEST).read_text())["options"]["allow_missing_images"] is True


# ---------------------------------------------------------------- stand-in-images: path traversal, real images


@pytest.mark.parametrize("name", ["../x.jpg", "../../escaped.jpg", "/tmp/abs.jpg", "a/b.jpg", "..jpg"])
def test_stand_in_images_refuses_names_that_leave_the_folder(tmp_path, capsys, name):
    release = make_release(tmp_path / "release")
    _edit_scores_txt(release / "cognition_scores/Aesthetics_scores.txt", lambda lines: lines.append(f"{name}\t5.000"))
    code, _, err = run(
        ["stand-in-images", "--release", str(release), "--output-dir", str(tmp_path / "deep" / "images"), "--quiet"],
        capsys,
    )
    line = one_line_error(err)
    assert code == 1 and "Aesthetics_scores.txt: line 10" in line and repr(name) in line
    assert not (tmp_path / "deep").exists() and not (tmp_path / "x.jpg").exists() and not Path("/tmp/abs.jpg").exists()


def test_stand_in_images_never_overwrite_a_folder_of_real_images(small, tmp_path, capsys):
    release, images = small
    mine = real_images_copy(images, tmp_path / "mine")
    before = snapshot(mine)
    code, _, err = run(["stand-in-images", "--release", str(release), "--output-dir", str(mine), "--quiet"], capsys)
    assert code == 1 and STAND_IN_MARKER in one_line_error(err) and snapshot(mine) == before
    for size in ("0", "-3", "100000"):
        code, _, err = run(
            ["stand-in-images", "--release", str(release), "--output-dir", str(tmp_path / "s"), "--size", size], capsys
        )
        assert code == 1 and f"--size {size}" in one_line_error(err)
    # an earlier stand-in folder (it has the marker) is rewritten
    code, _, err = run(["stand-in-images", "--release", str(release), "--output-dir", str(images), "--quiet"], capsys)
    assert code == 0, err


# ---------------------------------------------------------------- push: bad manifests, stand-in builds


@pytest.mark.parametrize(
    "manifest, expected",
    [
        ("[1, 2, 3]", "expected a JSON object, found a list"),
        ('"text"', "expected a JSON object, found a str"),
        ('{"files": ["README.md"]}', "field 'files': ['README.md']: expected an object"),
        (
            '{"files": {"../../home/secret": {"bytes": 1, "sha256": "x"}}, "stand_in_images": false}',
            "field 'files': '../../home/secret': expected a relative path inside the folder",
        ),
        ("{", "not valid JSON"),
        ("[" * 100000 + "]" * 100000, "JSON nested too deeply"),
        ('{"rows": {"default": {"test": 1e400}}, "files": {}, "stand_in_images": false}', "rows.default.test"),
        ('{"rows": {"default": {"test": ' + "9" * 30 + '}}, "files": {}, "stand_in_images": false}', "2**53"),
        ('{"rows": {"default": {}}, "files": {"a": {"bytes": 1, "sha256": "x"}}}', "files.a.sha256"),
        ('{"rows": {"default": {}}, "files": {"a": {"bytes": 1, "sha256": "' + "a" * 64 + '"}}}', "stand_in_images"),
    ],
)
def test_push_on_a_bad_manifest_is_one_line(small, tmp_path, capsys, manifest, expected):
    release, images = small
    out = build(release, images, tmp_path / "out", _opts()).out
    (out / MANIFEST).write_text(manifest)
    code, _, err = run(["push", str(out), "--repo-id", "someone/x", "--dry-run", "--allow-stand-in"], capsys)
    assert code == 1 and expected in one_line_error(err) and str(out / MANIFEST) in err


def test_stand_in_builds_are_marked_and_push_refuses_them_unless_asked(small, tmp_path, capsys):
    release, images = small
    out = build(release, images, tmp_path / "standin", _opts()).out
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["stand_in_images"] is True and STAND_IN_MARKER in manifest["stand_in_evidence"]
    assert "**Stand-in build: not the benchmark's images.**" in (out / "README.md").read_text()
    code, _, err = run(["push", str(out), "--repo-id", "someone/x", "--dry-run"], capsys)
    assert code == 1 and "a stand-in build" in one_line_error(err) and "--allow-stand-in" in err
    code, text, err = run(["push", str(out), "--repo-id", "someone/x", "--dry-run", "--allow-stand-in"], capsys)
    assert code == 0 and "STAND-IN" in text, err
    # the marker lost (files copied one by one): the images are still recognised by their bytes
    copy = tmp_path / "copied"
    for path in images.rglob("*.jpg"):
        (copy / path.relative_to(images)).parent.mkdir(parents=True, exist_ok=True)
        (copy / path.relative_to(images)).write_bytes(path.read_bytes())
    copied = build(release, copy, tmp_path / "copied_out", _opts()).out
    assert (
        "byte-identical to the procedural stand-in" in json.loads((copied / MANIFEST).read_text())["stand_in_evidence"]
    )
    # the user's own images: not a stand-in build, push goes ahead
    mine = build(release, real_images_copy(images, tmp_path / "mine"), tmp_path / "mine_out", _opts()).out
    assert json.loads((mine / MANIFEST).read_text())["stand_in_images"] is False
    assert "Stand-in build" not in (mine / "README.md").read_text()
    code, _, err = run(["push", str(mine), "--repo-id", "someone/x", "--dry-run"], capsys)
    assert code == 0, err


# ---------------------------------------------------------------- --test-size, --test-ids


@pytest.mark.parametrize(
    "size, expected",
    [
        ("-1", "--test-size -1: must be at least 1"),
        ("0", "--test-size 0: must be at least 1"),
        (
            "6",
            "--test-size 6: larger than the Aesthetics test pool (5 entries in "
            "test_msg_file/Aesthetics/Aesthetics_messages.json)",
        ),
    ],
)
def test_absurd_test_size_is_one_line(small, tmp_path, capsys, size, expected):
    release, images = small
    argv = build_argv(release, images, tmp_path / "out")[:-2] + ["--test-size", size]
    code, _, err = run(argv, capsys)
    assert code == 1 and expected in one_line_error(err) and not (tmp_path / "out").exists()


def test_test_ids_pin_the_split_and_are_recorded(small, tmp_path, capsys):
    import hashlib

    release, images = small
    ids = [
        "Memorability/000804",
        "Aesthetics/000800",
        "Emotional_Valence/000802",
        "Aesthetics/000803",
        "Funniness/000801",
    ]
    listing = tmp_path / "ids.txt"
    listing.write_text("# the published copy's test ids\n" + "\n".join(ids) + "\n\n")
    code, _, err = run(build_argv(release, images, tmp_path / "out")[:-2] + ["--test-ids", str(listing)], capsys)
    assert code == 0, err
    ds = _load(tmp_path / "out", tmp_path / "cache")
    assert list(ds["test"]["id"]) == [
        "Aesthetics/000800",
        "Aesthetics/000803",
        "Funniness/000801",
        "Emotional_Valence/000802",
        "Memorability/000804",
    ]  # pool order
    record = json.loads((tmp_path / "out" / MANIFEST).read_text())["test_split"]
    digest = hashlib.sha256(listing.read_bytes()).hexdigest()
    assert record == {"method": "ids", "ids_file_sha256": digest, "count": 5}
    card = (tmp_path / "out" / "README.md").read_text()
    assert f"Pinned to an explicit list of 5 ids (`--test-ids`, file sha256 `{digest}`)" in card
    # the JSON-list form of the same ids gives the same shards
    as_json = tmp_path / "ids.json"
    as_json.write_text(json.dumps(ids[::-1]))
    code, _, err = run(build_argv(release, images, tmp_path / "json")[:-2] + ["--test-ids", str(as_json)], capsys)
    assert code == 0, err
    for key in DIMENSIONS:
        rel = f"data/{key}/test-00000-of-00001.parquet"
        assert (tmp_path / "out" / rel).read_bytes() == (tmp_path / "json" / rel).read_bytes()


@pytest.mark.parametrize(
    "content, expected",
    [
        ("Aesthetics/000800\nAesthetics/000999\n", "line 2: id 'Aesthetics/000999' is not in the release's test pool"),
        ("Funniness/000001\n", "line 1: id 'Funniness/000001' is a training item, not in the test pool"),
        ('["Aesthetics/000800", 7]', "entry 1: id 7 is not a string"),
        ("Aesthetics/000800\nAesthetics/000800\n", "line 2: id 'Aesthetics/000800' repeats line 1"),
        ("# nothing\n", "no ids in the file"),
        ('["Aesthetics/000800"', "not valid JSON"),
        ("Aesthetics/000800\nFunniness/000800\nMemorability/000800\n", "names no item of Emotional_Valence"),
    ],
)
def test_bad_test_ids_file_is_one_line_naming_file_and_id(small, tmp_path, capsys, content, expected):
    release, images = small
    listing = tmp_path / "ids.txt"
    listing.write_text(content)
    code, _, err = run(build_argv(release, images, tmp_path / "out")[:-2] + ["--test-ids", str(listing)], capsys)
    line = one_line_error(err)
    assert code == 1 and f"--test-ids {listing}" in line and expected in line and not (tmp_path / "out").exists()


def test_test_ids_with_draw_options_or_a_missing_file_is_an_error(small, tmp_path, capsys):
    release, images = small
    listing = tmp_path / "ids.txt"
    listing.write_text("Aesthetics/000800\n")
    code, _, err = run(build_argv(release, images, tmp_path / "out") + ["--test-ids", str(listing)], capsys)
    assert code == 1 and "--test-size would have no effect" in one_line_error(err)
    code, _, err = run(
        build_argv(release, images, tmp_path / "out")[:-2] + ["--test-ids", str(tmp_path / "none")], capsys
    )
    assert code == 1 and f"--test-ids {tmp_path / 'none'}: file not found" in one_line_error(err)
    code, _, err = run(build_argv(release, images, tmp_path / "out", "--draw-order", "Aesthetics,Funniness"), capsys)
    assert code == 1 and "exactly once" in one_line_error(err)


# ---------------------------------------------------------------- a killed build's leftovers


def _dead_pid() -> int:
    """The pid of a process that has ended."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


KILL_AFTER_FIRST_SHARD = """
import os, signal, sys
import hub_upload.build as b
real = b.write_shards
def once(*a, **k):
    result = real(*a, **k)
    os.kill(os.getpid(), signal.SIGKILL)  # kill -9 in the middle of the build
b.write_shards = once
b.build(sys.argv[1], sys.argv[2], sys.argv[3], b.BuildOptions(test_per_dimension=3, progress=False))
"""


def test_a_killed_builds_leftovers_are_cleaned_by_the_next_build(small, tmp_path):
    release, images = small
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-c", KILL_AFTER_FIRST_SHARD, str(release), str(images), str(out)],
        cwd=REPO,
        env=offline_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    left = list(tmp_path.glob(".out.building-*"))
    assert len(left) == 1 and any(left[0].rglob("*.parquet")) and not out.exists()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        in_use = tmp_path / f".out.building-{live.pid}-0123abcd"  # a running build's folder: kept
        in_use.mkdir()
        unrelated = tmp_path / ".out.building-notes"  # not the pattern: kept
        unrelated.mkdir()
        other_out = tmp_path / f".other.building-{_dead_pid()}-0123abcd"  # another --output-dir's: kept
        other_out.mkdir()
        result = build(release, images, out, _opts())
        assert not left[0].exists() and in_use.is_dir() and unrelated.is_dir() and other_out.is_dir()
        assert any("left by a killed build" in n for n in result.notes)
    finally:
        live.kill()
        live.wait()


def test_a_build_killed_between_the_two_renames_gets_the_earlier_build_back(small, tmp_path):
    release, images = small
    out = build(release, images, tmp_path / "out", _opts()).out
    before = snapshot(out)
    old = tmp_path / f".out.old-{_dead_pid()}-0badc0de"
    out.rename(old)  # what a kill -9 right after `out.rename(old)` leaves
    from hub_upload.outdir import clean_leftovers

    assert clean_leftovers(out) and snapshot(out) == before and not old.exists()


# ---------------------------------------------------------------- the card as a Hub user finds it


def test_card_size_category_citation_images_and_suspicious_choice(small, tmp_path):
    release, images = small
    _placeholders(release, images)
    out = build(release, images, tmp_path / "out", _opts(test_per_dimension=5)).out
    card = (out / "README.md").read_text()
    yaml = card.split("---")[1]
    assert "size_categories:\n- n<1K\n" in yaml  # 36 rows, not the hard-coded 1K<n<10K
    assert (
        "author        = {Chen, Yiming and Han, Junlin and Bai, Tianyi and Tong, Shengbang and Kokkinos, "
        "Filippos and Torr, Philip}"
        in card
        and "eprint        = {2511.22805}" in card
    )
    assert "sources and licences are **unknown**" in card and "CC-BY-4.0" in card
    assert "are **kept** as released" in card and "3 of them are in `test`" in card and "`--keep-suspicious`" in card
    assert json.loads((out / MANIFEST).read_text())["suspicious_placeholders"] == "kept"
    assert [size_category(n) for n in (0, 999, 1000, 4919, 9999, 10_000, 2_000_000)] == [
        "n<1K",
        "n<1K",
        "1K<n<10K",
        "1K<n<10K",
        "1K<n<10K",
        "10K<n<100K",
        "1M<n<10M",
    ]


def test_keep_and_drop_suspicious_are_exclusive_and_keep_is_the_default(small, tmp_path, capsys):
    release, images = small
    _placeholders(release, images)
    code, _, err = run(build_argv(release, images, tmp_path / "k", "--keep-suspicious"), capsys)
    assert code == 0, err
    code, _, _ = run(
        build_argv(release, images, tmp_path / "d")[:-2] + ["--test-size", "4", "--drop-suspicious"], capsys
    )
    assert code == 0 and json.loads((tmp_path / "d" / MANIFEST).read_text())["suspicious_placeholders"] == "dropped"
    with pytest.raises(SystemExit) as exc:
        main(build_argv(release, images, tmp_path / "x", "--keep-suspicious", "--drop-suspicious"))
    assert exc.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


# ---------------------------------------------------------------- the real release


def test_real_release_default_test_split_is_the_release_protocol(tmp_path):
    if not SHARED_RELEASE.is_dir():
        pytest.skip("../shared/cogip_release is not present")
    from hub_upload.build import BuildOptions, test_indices

    release = read_release(SHARED_RELEASE)
    picks = test_indices(release, BuildOptions())
    expected = release_protocol_ids(
        SHARED_RELEASE, 120, 19, ["Aesthetics", "Emotional_Valence", "Funniness", "Memorability"]
    )
    pools = {k: [i for i in release.test_pool if i.dimension == k] for k in DIMENSIONS}
    got = {DIMENSIONS[k].release_name: [pools[k][j].id for j in idx] for k, idx in picks.items()}
    assert got == expected and all(len(v) == 120 for v in got.values())
    assert got["Aesthetics"] == [i.id for i in pools["aesthetics"]]  # a pool of exactly 120 is taken whole
    listdir = test_indices(
        release, BuildOptions(draw_order=("Memorability", "Funniness", "Emotional_Valence", "Aesthetics"))
    )
    assert listdir["aesthetics"] == picks["aesthetics"] and listdir["memorability"] != picks["memorability"]


# ---------------------------------------------------------------- summary: every CLI error path, as a user runs it


def test_every_bad_input_exits_nonzero_with_one_line_and_no_traceback(small, tmp_path):
    release, images = small
    good = build(release, images, tmp_path / "good", _opts()).out
    bad_release = make_release(tmp_path / "bad_release")
    _edit_scores_txt(
        bad_release / "cognition_scores/Funniness_scores.txt", lambda lines: lines.__setitem__(0, "000000.jpg\t1e39")
    )
    travel = make_release(tmp_path / "travel")
    _edit_scores_txt(travel / "cognition_scores/Aesthetics_scores.txt", lambda lines: lines.append("../x.jpg\t5"))
    listed = tmp_path / "manifest_list"
    listed.mkdir()
    (listed / MANIFEST).write_text("[]")
    ids = tmp_path / "ids.txt"
    ids.write_text("Nowhere/000800\n")
    (good / "notes.txt").write_text("mine")
    b = ["build", "--release", str(release), "--images", str(images), "--quiet"]
    cases = [
        (b + ["--output-dir", str(tmp_path / "o1"), "--test-size", "-1"], 1, "--test-size -1"),
        (
            b + ["--output-dir", str(tmp_path / "o2"), "--test-size", "3", "--seed", "1", "--test-ids", str(ids)],
            1,
            "--test-ids",
        ),
        (b + ["--output-dir", str(tmp_path / "o3"), "--test-ids", str(ids)], 1, "'Nowhere/000800'"),
        (b + ["--output-dir", str(good), "--test-size", "3"], 1, "notes.txt"),
        (
            ["build", "--release", str(bad_release), "--images", str(images), "--output-dir", str(tmp_path / "o4")],
            1,
            "'1e39'",
        ),
        (
            [
                "build",
                "--release",
                str(tmp_path / "nope"),
                "--images",
                str(images),
                "--output-dir",
                str(tmp_path / "o5"),
            ],
            1,
            "release folder not found",
        ),
        (
            [
                "build",
                "--release",
                str(release),
                "--images",
                str(tmp_path / "nope"),
                "--output-dir",
                str(tmp_path / "o6"),
            ],
            1,
            "--images",
        ),
        (
            [
                "audit",
                "--release",
                str(release),
                "--images",
                str(images),
                "--json",
                str(good / "notes.txt" / "x.json"),
                "--quiet",
            ],
            1,
            "notes.txt",
        ),
        (["stand-in-images", "--release", str(travel), "--output-dir", str(tmp_path / "si")], 1, "'../x.jpg'"),
        (["push", str(listed), "--repo-id", "someone/x", "--dry-run"], 1, "expected a JSON object, found a list"),
        (["push", str(tmp_path / "nope"), "--repo-id", "someone/x", "--dry-run"], 1, "folder not found"),
        (["push", str(good), "--repo-id", "someone/x", "--dry-run"], 1, "stand-in build"),
    ]
    env = offline_env(HF_TOKEN=FAKE_TOKEN)
    for argv, code, named in cases:
        proc = subprocess.run(
            [sys.executable, "-m", "hub_upload", *argv], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == code, (argv, proc.returncode, proc.stderr)
        assert "Traceback" not in proc.stderr and named in one_line_error(proc.stderr), (argv, proc.stderr)
    assert not list(tmp_path.glob("o*")) and (good / "notes.txt").read_text() == "mine"
    assert not (tmp_path / "si").exists() and not (tmp_path / "x.jpg").exists()


# ---------------------------------------------------------------- outputs: never an input, one writer per folder


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_an_output_onto_or_over_an_input_is_refused_and_nothing_changes(small, tmp_path, capsys):
    release, images = small
    score_file = next((release / "cognition_scores").iterdir())
    before = _snapshot(tmp_path)
    cases = [
        ["audit", "--release", str(release), "--images", str(images), "--json", str(score_file)],
        ["audit", "--release", str(release), "--images", str(images), "--json", str(release / "audit.json")],
        ["audit", "--release", str(release), "--images", str(images), "--json", str(next(images.rglob("*.jpg")))],
        build_argv(release, images, images),
        build_argv(release, images, release / "built"),
        build_argv(release, images, tmp_path),  # a folder holding both inputs
        ["stand-in-images", "--release", str(release), "--output-dir", str(release)],
    ]
    for argv in cases:
        code, _, err = run(argv, capsys)
        line = one_line_error(err)
        assert code == 1 and ": output " in line and ("is the input" in line or "input" in line), (argv, line)
    assert _snapshot(tmp_path) == before


def test_a_second_build_into_a_held_out_fails_at_once_naming_the_holder(small, tmp_path, capsys):
    release, images = small
    out = tmp_path / "out"
    hold = (
        "import sys, time\nfrom cogip_tasks.files import output_lock\n"
        "with output_lock(sys.argv[1], command='cogip-upload build'):\n    print('held', flush=True)\n    time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", hold, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        code, _, err = run(build_argv(release, images, out), capsys)
        line = one_line_error(err)
        assert code == 1 and f"{out}: in use by pid {holder.pid} on " in line and "cogip-upload build" in line
        assert not out.exists()
    finally:
        holder.kill()
        holder.wait()
    code, _, err = run(build_argv(release, images, out), capsys)
    assert code == 0, err
