"""hub_upload: release -> audited Hub dataset folder -> (dry-run / mocked / refused) push.

Everything is built here: a small release in the real format (always), the real release from ../shared with
procedural stand-in images (when present), a local HTTP server standing in for the Hub's auth endpoint.
"""

from __future__ import annotations

import http.server
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from cogip_tasks.dimensions import DIMENSIONS
from cogip_tasks.prompts import DEFAULT_PROMPTS
from conftest import SHARED_RELEASE, lmms_eval_command, load_results, offline_env, run_cli
from fixtures.release import write_synthetic_release
from hub_upload.audit import audit_release
from hub_upload.build import MANIFEST, AuditFailed, BuildOptions, build
from hub_upload.cli import main
from hub_upload.push import PushError, push
from hub_upload.release import ReleaseError, read_release
from hub_upload.standin import write_standin_images

REPO = Path(__file__).resolve().parents[1]
FAKE_TOKEN = "hf_FAKEtokenNEVERprinted0123456789"
FEATURE_DTYPES = {
    "id": "string",
    "dimension": "string",
    "prompt": "string",
    "score": "float32",
    "label": "string",
    "dimension_key": "string",
}


# ---------------------------------------------------------------- a small release in the real format


def make_release(root: Path, n_train: int = 4, n_pool: int = 5, seed: int = 0) -> Path:
    return write_synthetic_release(root, n_train=n_train, pool_sizes=n_pool, seed=seed)


@pytest.fixture()
def small(tmp_path) -> tuple[Path, Path]:
    """(release folder, image root) of a clean small release with stand-in images."""
    release = make_release(tmp_path / "release")
    write_standin_images(read_release(release), tmp_path / "images", size=32, progress=False)
    return release, tmp_path / "images"


def _opts(**kw) -> BuildOptions:
    return BuildOptions(**{"test_per_dimension": 3, "progress": False, **kw})


def _load(folder: Path, cache: Path, config: str | None = None):
    import datasets

    return datasets.load_dataset(str(folder), config, cache_dir=str(cache))


def _edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _edit_scores_txt(path: Path, change) -> None:
    lines = path.read_text().splitlines()
    change(lines)
    path.write_text("\n".join(lines))


def _set_score(release: Path, dim_name: str, stem: str, value: str) -> None:
    """Change one image's score consistently in every file that holds it."""

    def txt(lines):
        lines[:] = [f"{stem}.jpg\t{value}" if line.startswith(f"{stem}.jpg\t") else line for line in lines]

    _edit_scores_txt(release / "cognition_scores" / f"{dim_name}_scores.txt", txt)
    label = DIMENSIONS[next(k for k, d in DIMENSIONS.items() if d.release_name == dim_name)].label_for(float(value))

    def train(rows):
        for row in rows:
            if row["image"][0] == f"{dim_name}/{stem}.jpg":
                row["conversations"][1]["value"] = f"{label} {value}"

    _edit_json(release / "cognition_training.json", train)
    folder = release / "test_msg_file" / dim_name
    messages = json.loads((folder / f"{dim_name}_messages.json").read_text())

    def test(answers):
        for i, message in enumerate(messages):
            if message[0]["content"][0]["image"] == f"{dim_name}/{stem}.jpg":
                answers[i] = f"{label} {value}"

    _edit_json(folder / f"{dim_name}_scores.json", test)


# ---------------------------------------------------------------- build + load like a Hub user


def test_small_release_builds_a_folder_load_dataset_reads(small, tmp_path):
    release, images = small
    result = build(release, images, tmp_path / "out", _opts())
    assert result.report.findings == []
    assert result.rows["default"] == {"train": 16, "test": 12, "test_full": 20}

    ds = _load(tmp_path / "out", tmp_path / "cache")
    assert {s: len(ds[s]) for s in ds} == {"train": 16, "test": 12, "test_full": 20}
    import datasets

    feats = ds["train"].features
    assert list(feats) == ["id", "image", "dimension", "prompt", "score", "label", "dimension_key"]
    assert isinstance(feats["image"], datasets.Image)
    assert {k: feats[k].dtype for k in FEATURE_DTYPES} == FEATURE_DTYPES
    # ids unique across dimensions; rows in the benchmark's dimension order; prompt without "<image>"
    assert len(set(ds["test_full"]["id"])) == 20
    assert list(ds["train"]["dimension_key"])[::4] == list(DIMENSIONS)
    assert ds["train"][0]["id"] == "Aesthetics/000000" and ds["test_full"][0]["id"] == "Aesthetics/000800"
    assert all(p == DEFAULT_PROMPTS[k] for p, k in zip(ds["train"]["prompt"], ds["train"]["dimension_key"]))
    assert set(ds["test"]["id"]) <= set(ds["test_full"]["id"])
    scores = {
        line.split("\t")[0]: float(line.split("\t")[1])
        for line in (release / "cognition_scores" / "Memorability_scores.txt").read_text().splitlines()
    }
    memo = _load(tmp_path / "out", tmp_path / "cache", "memorability")
    assert {s: len(memo[s]) for s in memo} == {"train": 4, "test": 3, "test_full": 5}
    assert set(memo["test_full"]["dimension"]) == {"Memorability"}
    for row in memo["train"]:
        assert row["score"] == pytest.approx(scores[row["id"].split("/")[1] + ".jpg"], abs=1e-6)
        assert row["label"] == DIMENSIONS["memorability"].label_for(row["score"])
        assert row["image"].size == (32, 32)


def release_protocol_ids(release: Path, n: int, seed: int, order: list[str]) -> dict[str, list[str]]:
    """The release's evaluation script's draw, written out independently: random.seed once, then per folder in
    ``order`` ``sorted(random.sample(range(N), n))`` over the messages file -- only when n < N."""
    import random

    random.seed(seed)
    picked = {}
    for folder in order:
        messages = json.loads((release / "test_msg_file" / folder / f"{folder}_messages.json").read_text())
        idxs = sorted(random.sample(range(len(messages)), n)) if n < len(messages) else range(len(messages))
        picked[folder] = [messages[i][0]["content"][0]["image"].removesuffix(".jpg") for i in idxs]
    return picked


def _test_ids_by_dimension(folder: Path, cache: Path) -> dict[str, list[str]]:
    ds = _load(folder, cache)
    return {
        d.release_name: [i for i in ds["test"]["id"] if i.startswith(d.release_name + "/")] for d in DIMENSIONS.values()
    }


def test_test_split_is_the_release_protocol_draw_the_card_states(tmp_path):
    release = make_release(tmp_path / "release", n_pool=9)
    images = tmp_path / "images"
    write_standin_images(read_release(release), images, size=16, progress=False)
    build(release, images, tmp_path / "out", _opts(test_per_dimension=4))
    card = (tmp_path / "out" / "README.md").read_text()
    assert "`random.seed(19)`" in card and "sorted(random.sample(range(N), 4))" in card
    assert "**Aesthetics, Emotional_Valence, Funniness, Memorability** (the test_msg_file folder names, sorted)" in card
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert manifest["test_split"]["method"] == "release_draw" and manifest["test_split"]["seed"] == 19
    assert manifest["test_split"]["order"] == ["Aesthetics", "Emotional_Valence", "Funniness", "Memorability"]
    expected = release_protocol_ids(release, 4, 19, sorted(d.release_name for d in DIMENSIONS.values()))
    assert _test_ids_by_dimension(tmp_path / "out", tmp_path / "cache") == expected
    # --seed stays meaningful, and another order is another draw (each dimension's depends on those before it)
    build(release, images, tmp_path / "s7", _opts(test_per_dimension=4, seed=7))
    assert _test_ids_by_dimension(tmp_path / "s7", tmp_path / "cache") == release_protocol_ids(
        release, 4, 7, sorted(d.release_name for d in DIMENSIONS.values())
    )
    listdir = ["Memorability", "Funniness", "Emotional_Valence", "Aesthetics"]
    code = main(
        [
            "build",
            "--release",
            str(release),
            "--images",
            str(images),
            "--output-dir",
            str(tmp_path / "lst"),
            "--test-size",
            "4",
            "--draw-order",
            ",".join(listdir),
            "--quiet",
        ]
    )
    assert code == 0
    got = _test_ids_by_dimension(tmp_path / "lst", tmp_path / "cache")
    assert got == release_protocol_ids(release, 4, 19, listdir) and got != expected


def test_same_inputs_give_byte_identical_files(small, tmp_path):
    release, images = small
    a = build(release, images, tmp_path / "a", _opts())
    b = build(release, images, tmp_path / "b", _opts())
    assert a.files == b.files and len([f for f in a.files if f.endswith(".parquet")]) == 12
    for rel in a.files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    # nor on where the inputs live (the manifest and card hold no local paths)
    shutil.copytree(release, tmp_path / "moved" / "release")
    shutil.copytree(images, tmp_path / "moved" / "images")
    moved = build(tmp_path / "moved" / "release", tmp_path / "moved" / "images", tmp_path / "moved" / "out", _opts())
    assert all((tmp_path / "a" / rel).read_bytes() == (moved.out / rel).read_bytes() for rel in a.files)
    build(release, images, tmp_path / "c", _opts(seed=1))  # another seed: same train, another test draw
    assert (tmp_path / "c/data/funniness/train-00000-of-00001.parquet").read_bytes() == (
        tmp_path / "a/data/funniness/train-00000-of-00001.parquet"
    ).read_bytes()
    assert any(
        (tmp_path / "c" / f"data/{k}/test-00000-of-00001.parquet").read_bytes()
        != (tmp_path / "a" / f"data/{k}/test-00000-of-00001.parquet").read_bytes()
        for k in DIMENSIONS
    )


def test_rebuild_replaces_an_earlier_build_but_never_a_foreign_folder(small, tmp_path):
    release, images = small
    build(release, images, tmp_path / "out", _opts())
    build(release, images, tmp_path / "out", _opts(seed=3))
    assert json.loads((tmp_path / "out" / MANIFEST).read_text())["options"]["seed"] == 3
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(FileExistsError, match="does not own: notes.txt"):
        build(release, images, tmp_path / "mine", _opts())
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
    assert not list(tmp_path.glob(".*building*"))


# ---------------------------------------------------------------- the real release (../shared)


@pytest.fixture(scope="module")
def real_images(tmp_path_factory) -> Path:
    if not SHARED_RELEASE.is_dir():
        pytest.skip("../shared/cogip_release is not present")
    root = tmp_path_factory.mktemp("real_images")
    assert write_standin_images(read_release(SHARED_RELEASE), root, size=32, progress=False) == 4919
    return root


def test_real_release_builds_and_loads(real_images, tmp_path):
    result = build(SHARED_RELEASE, real_images, tmp_path / "out", BuildOptions(progress=False))
    # the audit: exactly the 209 Memorability 0.000 placeholders, named with file and id
    assert result.report.counts() == {"suspicious_placeholder": 209}
    zero_ids = {
        f"Memorability/{line.split(chr(9))[0][:-4]}"
        for line in (SHARED_RELEASE / "cognition_scores/Memorability_scores.txt").read_text().splitlines()
        if float(line.split("\t")[1]) == 0.0
    }
    assert result.report.ids_of("suspicious_placeholder") == zero_ids and len(zero_ids) == 209
    assert all(f.file == "cognition_scores/Memorability_scores.txt" for f in result.report.findings)

    ds = _load(tmp_path / "out", tmp_path / "cache")
    assert {s: len(ds[s]) for s in ds} == {"train": 3200, "test": 480, "test_full": 1719}
    assert {k: ds["test"].features[k].dtype for k in FEATURE_DTYPES} == FEATURE_DTYPES
    assert len(set(ds["train"]["id"])) == 3200 and len(set(ds["test_full"]["id"])) == 1719
    train = dict(zip(ds["train"]["id"], ds["train"]["score"]))
    assert train["Aesthetics/000000"] == pytest.approx(5.577, abs=1e-5)
    assert train["Emotional_Valence/000001"] == -3.0
    assert train["Memorability/000000"] == pytest.approx(0.553, abs=1e-5)
    counts = {k: list(ds["test"]["dimension_key"]).count(k) for k in DIMENSIONS}
    assert counts == {k: 120 for k in DIMENSIONS}
    # the first test-pool prompt of each dimension is the project's default prompt (same "<image>" handling)
    first = {}
    for key, prompt in zip(ds["test_full"]["dimension_key"], ds["test_full"]["prompt"]):
        first.setdefault(key, prompt)
    assert first == DEFAULT_PROMPTS

    memo = _load(tmp_path / "out", tmp_path / "cache", "memorability")
    assert {s: len(memo[s]) for s in memo} == {"train": 800, "test": 120, "test_full": 700}
    assert sum(s == 0.0 for s in memo["train"]["score"]) == 118
    assert sum(s == 0.0 for s in memo["test_full"]["score"]) == 91


def test_real_release_drop_suspicious_strict(real_images, tmp_path):
    result = build(
        SHARED_RELEASE, real_images, tmp_path / "out", BuildOptions(strict=True, drop_suspicious=True, progress=False)
    )
    assert result.report.open_findings == []
    drawn = release_protocol_ids(SHARED_RELEASE, 120, 19, sorted(d.release_name for d in DIMENSIONS.values()))
    zeros = {
        line.split("\t")[0][:-4]
        for line in (SHARED_RELEASE / "cognition_scores/Memorability_scores.txt").read_text().splitlines()
        if float(line.split("\t")[1]) == 0.0
    }
    dropped = sum(i.split("/")[1] in zeros for i in drawn["Memorability"])
    assert dropped == 19  # the release's draw (this order) holds 19 placeholder zeros: left out, not replaced
    assert result.rows["memorability"] == {"train": 682, "test": 120 - dropped, "test_full": 609}
    assert f"Memorability: {dropped} of the 120 test items chosen are left out ({dropped} suspicious" in " ".join(
        result.notes
    )
    memo = _load(tmp_path / "out", tmp_path / "cache", "memorability")
    assert min(list(memo["train"]["score"]) + list(memo["test_full"]["score"])) == pytest.approx(0.2, abs=1e-6)
    assert "were **left out**" in (tmp_path / "out" / "README.md").read_text()
    with pytest.raises(AuditFailed):  # the same release without --drop-suspicious fails strict mode
        build(SHARED_RELEASE, real_images, tmp_path / "strict", BuildOptions(strict=True, progress=False))
    assert not (tmp_path / "strict").exists()


# ---------------------------------------------------------------- audit findings from crafted bad releases


def _missing(release, images):
    (images / "Funniness/000001.jpg").unlink()


def _unreadable(release, images):
    path = images / "Funniness/000801.jpg"
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])  # truncated JPEG


def _duplicate_line(release, images):
    _edit_scores_txt(release / "cognition_scores/Aesthetics_scores.txt", lambda lines: lines.append(lines[2]))


def _duplicate_row(release, images):
    _edit_json(release / "cognition_training.json", lambda rows: rows.append(rows[1]))


def _leak(release, images):
    shutil.copy(images / "Emotional_Valence/000002.jpg", images / "Emotional_Valence/000803.jpg")


def _out_of_range(release, images):
    _set_score(release, "Aesthetics", "000003", "11.500")


def _score_mismatch(release, images):
    _edit_json(
        release / "test_msg_file/Funniness/Funniness_scores.json",
        lambda answers: answers.__setitem__(2, "very low 0.100"),
    )


def _label_mismatch(release, images):
    def change(rows):
        label, score = rows[0]["conversations"][1]["value"].rsplit(" ", 1)
        rows[0]["conversations"][1]["value"] = f"{'very high' if label != 'very high' else 'low'} {score}"

    _edit_json(release / "cognition_training.json", change)


def _unscored(release, images):
    _edit_scores_txt(release / "cognition_scores/Memorability_scores.txt", lambda lines: lines.pop(0))


def _unused(release, images):
    _edit_scores_txt(
        release / "cognition_scores/Memorability_scores.txt", lambda lines: lines.append("000950.jpg\t0.500")
    )


def _placeholders(release, images):
    for stem in ("000000", "000001", "000002", "000800", "000801", "000802"):
        _set_score(release, "Memorability", stem, "0.000")
    _set_score(release, "Memorability", "000803", "0.600")  # the rest well away from 0
    _set_score(release, "Memorability", "000804", "0.700")
    _set_score(release, "Memorability", "000003", "0.650")


AUDIT_CASES = [
    (_missing, "missing_image", "Funniness/000001.jpg", "Funniness/000001"),
    (_unreadable, "unreadable_image", "Funniness/000801.jpg", "Funniness/000801"),
    (_duplicate_line, "duplicate_id", "cognition_scores/Aesthetics_scores.txt", "Aesthetics/000002"),
    (_duplicate_row, "duplicate_id", "cognition_training.json", "Aesthetics/000001"),
    (_leak, "leakage", "Emotional_Valence/000803.jpg", "Emotional_Valence/000803"),
    (_out_of_range, "score_out_of_range", "cognition_scores/Aesthetics_scores.txt", "Aesthetics/000003"),
    (_score_mismatch, "score_mismatch", "test_msg_file/Funniness/Funniness_messages.json", "Funniness/000802"),
    (_label_mismatch, "label_mismatch", "cognition_training.json", "Aesthetics/000000"),
    (_unscored, "unscored_image", "cognition_training.json", "Memorability/000000"),
    (_unused, "unused_score", "cognition_scores/Memorability_scores.txt", "Memorability/000950"),
    (_placeholders, "suspicious_placeholder", "cognition_scores/Memorability_scores.txt", "Memorability/000801"),
]


@pytest.mark.parametrize(
    "craft, kind, file, row_id", AUDIT_CASES, ids=[c[1] + "-" + c[0].__name__ for c in AUDIT_CASES]
)
def test_audit_names_each_finding_with_file_and_id(small, craft, kind, file, row_id):
    release, images = small
    craft(release, images)
    report = audit_release(read_release(release), images, progress=False)
    hits = [f for f in report.findings if f.kind == kind and f.id == row_id]
    assert hits, f"no {kind} for {row_id}; findings: {[str(f) for f in report.findings]}"
    assert any(f.file.endswith(file) and file in str(f) and row_id in str(f) for f in hits)
    clean_kinds = {kind, "score_mismatch", "score_out_of_range", "label_mismatch"}  # one edit may break these too
    assert {f.kind for f in report.findings} <= clean_kinds


def test_strict_exits_nonzero_and_writes_nothing(small, tmp_path, capsys):
    release, images = small
    _leak(release, images)
    code = main(["audit", "--release", str(release), "--images", str(images), "--strict", "--quiet"])
    assert code == 1 and "leakage" in capsys.readouterr().out
    assert main(["audit", "--release", str(release), "--images", str(images), "--quiet"]) == 0
    code = main(
        [
            "build",
            "--release",
            str(release),
            "--images",
            str(images),
            "--output-dir",
            str(tmp_path / "out"),
            "--strict",
            "--test-size",
            "3",
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "Emotional_Valence/000803" in err and "strict" in err
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".*building*"))


def test_build_without_strict_leaves_unusable_rows_out_and_reports_them(small, tmp_path, capsys):
    release, images = small
    _missing(release, images)
    _placeholders(release, images)
    code = main(
        [
            "build",
            "--release",
            str(release),
            "--images",
            str(images),
            "--output-dir",
            str(tmp_path / "out"),
            "--test-size",
            "4",
            "--drop-suspicious",
            "--quiet",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "missing_image: 1" in out and "suspicious_placeholder: 6" in out
    ds = _load(tmp_path / "out", tmp_path / "cache")
    ids = set(ds["train"]["id"]) | set(ds["test_full"]["id"])
    assert "Funniness/000001" not in ids and "Memorability/000801" not in ids and "Memorability/000803" in ids
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert manifest["audit"]["counts"] == {"missing_image": 1, "suspicious_placeholder": 6}
    assert manifest["audit"]["open"] == 1  # the missing image; the placeholders were dropped
    assert "**left out**" in (tmp_path / "out" / "README.md").read_text()


# ---------------------------------------------------------------- malformed inputs


def _no_file(release):
    (release / "test_msg_file/Funniness/Funniness_scores.json").unlink()


def _bad_json(release):
    path = release / "cognition_training.json"
    path.write_text(path.read_text()[:-40])


def _bad_number_txt(release):
    _edit_scores_txt(
        release / "cognition_scores/Aesthetics_scores.txt", lambda lines: lines.__setitem__(1, "000001.jpg\tfour")
    )


def _bad_number_json(release):
    _edit_json(
        release / "test_msg_file/Memorability/Memorability_scores.json",
        lambda answers: answers.__setitem__(3, "medium n/a"),
    )


def _message_without_score(release):
    _edit_json(release / "test_msg_file/Emotional_Valence/Emotional_Valence_scores.json", lambda a: a.pop())


MALFORMED = [
    (_no_file, "Funniness_scores.json", "missing file"),
    (_bad_json, "cognition_training.json", "not valid JSON (line"),
    (_bad_number_txt, "Aesthetics_scores.txt", "line 2 (000001.jpg): score 'four' is not a number"),
    (
        _bad_number_json,
        "Memorability_scores.json",
        "entry 3 (image 'Memorability/000803.jpg'): score 'n/a' is not a number",
    ),
    (
        _message_without_score,
        "Emotional_Valence_messages.json",
        "entry 4 (image 'Emotional_Valence/000804.jpg') has no score",
    ),
]


@pytest.mark.parametrize("craft, file, message", MALFORMED, ids=[m[0].__name__ for m in MALFORMED])
def test_malformed_release_fails_naming_file_and_entry(small, tmp_path, capsys, craft, file, message):
    release, images = small
    build(release, images, tmp_path / "out", _opts())  # an earlier good build must survive
    before = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    craft(release)
    with pytest.raises(ReleaseError, match=file) as err:
        read_release(release)
    assert message in str(err.value)
    code = main(
        ["build", "--release", str(release), "--images", str(images), "--output-dir", str(tmp_path / "out"), "--quiet"]
    )
    assert code == 1 and file in capsys.readouterr().err
    assert {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()} == before
    assert not list(tmp_path.glob(".*building*"))


def test_failure_while_writing_leaves_no_partial_output(small, tmp_path, monkeypatch):
    import hub_upload.build as build_module

    release, images = small
    real_write, calls = build_module.write_shards, []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            raise OSError("disk full (simulated)")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(build_module, "write_shards", failing)
    with pytest.raises(OSError, match="simulated"):
        build(release, images, tmp_path / "out", _opts())
    assert len(calls) == 5 and not (tmp_path / "out").exists() and not list(tmp_path.glob(".*building*"))


# ---------------------------------------------------------------- push


@pytest.fixture()
def built(small, tmp_path) -> Path:
    release, images = small
    return build(release, images, tmp_path / "built", _opts()).out


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hub_upload", *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=120
    )


def test_push_dry_run_lists_exactly_the_files(built, tmp_path):
    env = offline_env(HF_TOKEN=FAKE_TOKEN)
    proc = _cli(
        "push",
        str(built),
        "--repo-id",
        "someone/CogIP-Bench",
        "--revision",
        "v1",
        "--message",
        "first build",
        "--dry-run",
        "--allow-stand-in",
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    listed = [line.split()[0] for line in proc.stdout.splitlines() if line.startswith("  ") and "bytes)" in line]
    manifest = json.loads((built / MANIFEST).read_text())
    assert listed == sorted(manifest["files"]) + [MANIFEST]
    assert "README.md" in listed and "data/memorability/test_full-00000-of-00001.parquet" in listed
    assert (
        "someone/CogIP-Bench" in proc.stdout and "revision v1" in proc.stdout and "message: first build" in proc.stdout
    )
    assert FAKE_TOKEN not in proc.stdout + proc.stderr


def test_push_refuses_incomplete_or_unclean_builds(small, built, tmp_path):
    release, images = small
    shard = built / "data/aesthetics/test-00000-of-00001.parquet"
    shard.write_bytes(shard.read_bytes() + b"x")
    with pytest.raises(PushError, match="changed since the build"):
        push(built, "someone/x", dry_run=True)
    shard.unlink()
    with pytest.raises(PushError, match="missing"):
        push(built, "someone/x", dry_run=True)
    with pytest.raises(PushError, match="no cogip_build.json"):
        push(release, "someone/x", dry_run=True)
    _leak(release, images)
    dirty = build(release, images, tmp_path / "dirty", _opts()).out
    with pytest.raises(PushError, match="open finding"):
        push(dirty, "someone/x", strict=True, dry_run=True, allow_stand_in=True)
    push(dirty, "someone/x", dry_run=True, echo=lambda _: None, allow_stand_in=True)  # without --strict it is allowed


def online(monkeypatch) -> None:
    """Lift huggingface_hub's offline mode (the test command sets HF_HUB_OFFLINE=1): these tests stay local."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


def test_push_makes_one_commit_through_hfapi(built, monkeypatch):
    """The real HfApi and CommitOperation objects; only the methods that would touch the network are replaced."""
    from huggingface_hub import CommitInfo, CommitOperationAdd, CommitOperationDelete, HfApi

    online(monkeypatch)

    calls: dict[str, list] = {}

    def record(name, result=None):
        def method(self, *args, **kwargs):
            calls.setdefault(name, []).append((args, kwargs))
            return result(*args, **kwargs) if callable(result) else result

        return method

    commit = CommitInfo(
        commit_url="https://huggingface.co/datasets/someone/CogIP-Bench/commit/abc",
        commit_message="m",
        commit_description="",
        oid="abc",
    )
    monkeypatch.setattr(HfApi, "whoami", record("whoami", {"name": "someone"}))
    monkeypatch.setattr(HfApi, "create_repo", record("create_repo"))
    monkeypatch.setattr(HfApi, "create_branch", record("create_branch"))
    monkeypatch.setattr(
        HfApi,
        "list_repo_files",
        record("list_repo_files", ["README.md", ".gitattributes", "data/aesthetics/train-00000-of-00002.parquet"]),
    )
    monkeypatch.setattr(HfApi, "create_commit", record("create_commit", commit))
    lines: list[str] = []
    url = push(
        built,
        "someone/CogIP-Bench",
        private=True,
        revision="v1",
        message="CogIP-Bench v1",
        token=FAKE_TOKEN,
        echo=lines.append,
        allow_stand_in=True,
    )

    assert url == commit.commit_url
    assert calls["create_repo"] == [
        (("someone/CogIP-Bench",), {"repo_type": "dataset", "private": True, "exist_ok": True})
    ]
    assert calls["create_branch"] == [
        (("someone/CogIP-Bench",), {"repo_type": "dataset", "branch": "v1", "exist_ok": True})
    ]
    ((args, kwargs),) = calls["create_commit"]
    assert args == ("someone/CogIP-Bench",)
    assert (
        kwargs["repo_type"] == "dataset" and kwargs["revision"] == "v1" and kwargs["commit_message"] == "CogIP-Bench v1"
    )
    adds = [op for op in kwargs["operations"] if isinstance(op, CommitOperationAdd)]
    deletes = [op for op in kwargs["operations"] if isinstance(op, CommitOperationDelete)]
    manifest = json.loads((built / MANIFEST).read_text())
    assert [op.path_in_repo for op in adds] == sorted(manifest["files"]) + [MANIFEST]
    assert all(
        Path(op.path_or_fileobj).read_bytes()[:4] == b"PAR1" for op in adds if op.path_in_repo.endswith(".parquet")
    )
    assert [op.path_in_repo for op in deletes] == ["data/aesthetics/train-00000-of-00002.parquet"]  # a stale shard
    assert FAKE_TOKEN not in "\n".join(lines)


class _Unauthorized(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # every request: 401, as the Hub answers a bad token
        body = b'{"error": "Invalid credentials in Authorization header"}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_push_rejected_token_is_a_clear_error_without_the_token(built, monkeypatch):
    from huggingface_hub import HfApi

    online(monkeypatch)

    server = http.server.HTTPServer(("127.0.0.1", 0), _Unauthorized)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = HfApi(endpoint=f"http://127.0.0.1:{server.server_port}", token=FAKE_TOKEN)
        with pytest.raises(PushError, match=r"refused the token \(HTTP 401\)") as err:
            push(built, "someone/CogIP-Bench", token=FAKE_TOKEN, api=api, echo=lambda _: None, allow_stand_in=True)
    finally:
        server.shutdown()
    assert FAKE_TOKEN not in str(err.value)


@pytest.mark.parametrize("case", ["no_token", "offline", "unreachable"])
def test_push_offline_or_unauthenticated_fails_clearly(built, tmp_path, case):
    env = offline_env(HF_HOME=str(tmp_path / "hf_home"))  # no cached login
    env.pop("HF_TOKEN", None)
    env.pop("HF_HUB_OFFLINE")
    if case == "offline":
        env.update(HF_HUB_OFFLINE="1", HF_TOKEN=FAKE_TOKEN)
    if case == "unreachable":
        env.update(HF_TOKEN=FAKE_TOKEN, HF_ENDPOINT="http://127.0.0.1:9")  # nothing listens on the discard port
    proc = _cli("push", str(built), "--repo-id", "someone/CogIP-Bench", "--allow-stand-in", env=env)
    expected = {
        "no_token": "not logged in",
        "offline": "offline mode is enabled",
        "unreachable": "cannot reach the Hub",
    }
    assert proc.returncode == 1 and expected[case] in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and FAKE_TOKEN not in proc.stdout + proc.stderr


def test_cli_help_and_console_script():
    proc = _cli("--help", env=offline_env())
    assert proc.returncode == 0 and all(c in proc.stdout for c in ("build", "audit", "push", "stand-in-images"))
    script = Path(sys.executable).with_name("cogip-upload")
    if script.exists():
        import subprocess

        out = subprocess.run([str(script), "push", "--help"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and "--dry-run" in out.stdout


# ---------------------------------------------------------------- the lmms-eval tasks read the built folder


@pytest.mark.slow
def test_lmms_eval_tasks_run_on_the_built_folder(tiny_qwen_dir, tmp_path):
    release = make_release(tmp_path / "release", n_train=2, n_pool=3)
    images = tmp_path / "images"
    write_standin_images(read_release(release), images, size=32, progress=False)
    folder = build(release, images, tmp_path / "built", _opts(test_per_dimension=2)).out
    run_cli(
        lmms_eval_command(tiny_qwen_dir, "cogip", tmp_path / "eval"),
        offline_env(COGIP_DATASET=str(folder), LMMS_EVAL_PLUGINS="cogip_tasks"),
        tmp_path,
    )
    results = load_results(tmp_path / "eval")
    test_ids = set(_load(folder, tmp_path / "cache")["test"]["id"])
    from cogip_tasks.results import latest_results_file, read_samples, samples_file

    for dim in DIMENSIONS.values():
        assert results["n-samples"][dim.task_name]["effective"] == 2
        samples = read_samples(samples_file(latest_results_file(tmp_path / "eval"), dim.task_name))
        ids = {s["srcc"]["id"] for s in samples}
        assert ids <= test_ids and len(ids) == 2 and all(i.startswith(dim.release_name + "/") for i in ids)
