"""The incremental build (#26.1) and the site's outputs (#25.6): content-keyed cache, only changes recomputed,
the site written whole or not at all, owning only its listed files, outputs never inputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from cogip_tasks.files import write_json
from cogip_tasks.leaderboard import report
from cogip_tasks.leaderboard.cache import VerificationCache, verification_key
from cogip_tasks.leaderboard.cli import main as leaderboard_main
from cogip_tasks.leaderboard.verify import GroundTruth, load_ground_truth, verify_submission
from fixtures.leaderboard import synthetic_submission


def run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as stop:
        leaderboard_main(argv)
    return stop.value.code


@pytest.fixture(scope="module")
def truth(sample_dataset_dir) -> GroundTruth:
    return load_ground_truth(str(sample_dataset_dir))


@pytest.fixture
def subs(truth, tmp_path) -> Path:
    folder = tmp_path / "subs"
    folder.mkdir()
    for n in range(3):
        write_json(folder / f"m{n}.json", synthetic_submission(truth, seed=20 + n, name=f"model {n}"))
    return folder


def numbers(site: Path) -> dict:
    page = json.loads((site / "leaderboard.json").read_text())
    page["provenance"] = [p for p in page["provenance"] if not p.startswith("Generated")]
    return page


def test_rebuild_recomputes_only_what_changed(subs, truth, sample_dataset_dir, tmp_path, capsys):
    site, cache = tmp_path / "site", tmp_path / "cache"
    build = ["build", str(subs), "-o", str(site), "--dataset", str(sample_dataset_dir), "--cache-dir", str(cache)]
    assert run(build) == 0
    first = numbers(site)
    assert "reused" not in capsys.readouterr().out
    assert run(build) == 0  # nothing changed: every verification and plot from the cache, the same site
    assert "3 verification(s) reused" in capsys.readouterr().out and numbers(site) == first

    write_json(subs / "m3.json", synthetic_submission(truth, seed=23, name="model 3"))  # add one
    (subs / "m0.json").unlink()  # remove one
    assert run(build) == 0
    assert "2 verification(s) reused" in capsys.readouterr().out
    page = numbers(site)
    assert sorted(r["name"] for r in page["rows"] if not r["reference"]) == ["model 1", "model 2", "model 3"]
    assert sorted(p.name for p in (site / "plots").iterdir()) == sorted(page["plots"])  # model 0's plot is gone
    assert not any("model-0" in p for p in page["plots"])

    # The cache changes no number: a build without it writes the same site.
    fresh = tmp_path / "fresh"
    assert run([*build[:3], str(fresh), *build[4:6], "--no-cache"]) == 0
    assert numbers(fresh) == page
    assert {p.name: p.read_bytes() for p in (fresh / "plots").iterdir()} == {
        p.name: p.read_bytes() for p in (site / "plots").iterdir()
    }


def test_a_damaged_cache_is_a_miss_not_a_result(subs, sample_dataset_dir, tmp_path, capsys):
    site, cache = tmp_path / "site", tmp_path / "cache"
    build = ["build", str(subs), "-o", str(site), "--dataset", str(sample_dataset_dir), "--cache-dir", str(cache)]
    assert run(build) == 0
    first = numbers(site)
    for entry in (cache / "verified").iterdir():
        entry.write_bytes(entry.read_bytes()[:100])  # truncated
    for plot in (cache / "plots").iterdir():
        plot.write_bytes(b"not a png")
    capsys.readouterr()
    assert run(build) == 0 and "reused" not in capsys.readouterr().out and numbers(site) == first


def test_the_cache_key_covers_content_ground_truth_and_settings(truth):
    data = json.dumps(synthetic_submission(truth, seed=1)).encode()
    other_truth = GroundTruth(truth.source, truth.ids, {k: v + 0.001 for k, v in truth.human.items()})
    keys = {
        verification_key(data, truth, 1000, 0),
        verification_key(data + b" ", truth, 1000, 0),
        verification_key(data, other_truth, 1000, 0),
        verification_key(data, truth, 999, 0),
        verification_key(data, truth, 1000, 1),
    }
    assert len(keys) == 5


def test_a_cached_verification_is_the_verification(truth, tmp_path):
    model = verify_submission(synthetic_submission(truth, seed=3), truth)
    cache = VerificationCache(tmp_path)
    cache.put("k", model)
    back = cache.get("k")
    assert back.name == model.name and back.mean == model.mean
    for key, dim in model.dims.items():
        np.testing.assert_array_equal(back.dims[key].pred, dim.pred)
        np.testing.assert_array_equal(back.dims[key].resamples, dim.resamples)
        assert back.dims[key].labels == dim.labels and back.dims[key].metrics == dim.metrics


def test_the_leaderboard_reuses_verifications_resamples(truth):
    """The bootstrap verify drew is the one the leaderboard would draw again (same numbers, not recomputed)."""
    from cogip_tasks.leaderboard.stats import dimension_resamples
    from cogip_tasks.metrics import impute, srcc_resamples

    model = verify_submission(synthetic_submission(truth, seed=4), truth)
    for key, reused in zip(truth.ids, dimension_resamples(model, truth, 1000, 0)):
        fresh = srcc_resamples(impute(model.dims[key].pred, key), truth.human[key], key, truth.ids[key])
        np.testing.assert_array_equal(reused, fresh)


def test_build_never_overwrites_a_users_index_html(subs, sample_dataset_dir, tmp_path, capsys):
    site = tmp_path / "mine"
    site.mkdir()
    (site / "index.html").write_text("my own page")
    assert run(["build", str(subs), "-o", str(site), "--dataset", str(sample_dataset_dir)]) == 1
    err = capsys.readouterr().err
    assert "index.html" in err and "did not write" in err and "Traceback" not in err
    assert (site / "index.html").read_text() == "my own page" and sorted(p.name for p in site.iterdir()) == [
        "index.html"
    ]
    # A folder of other files is fine: they stay, the site's files are added beside them.
    (site / "index.html").rename(site / "README.txt")
    assert run(["build", str(subs), "-o", str(site), "--dataset", str(sample_dataset_dir)]) == 0
    assert (site / "README.txt").read_text() == "my own page" and (site / "index.html").exists()


def test_the_site_is_written_whole_or_not_at_all(subs, truth, sample_dataset_dir, tmp_path, monkeypatch, capsys):
    site = tmp_path / "site"
    build = ["build", str(subs), "-o", str(site), "--dataset", str(sample_dataset_dir)]
    assert run(build) == 0
    before = {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    write_json(subs / "m9.json", synthetic_submission(truth, seed=29, name="model 9"))

    def disk_full(board):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report, "to_html", disk_full)  # fails after the plots and the Markdown were staged
    assert run(build) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()} == before
    assert not [p.name for p in tmp_path.iterdir() if ".staging-" in p.name or ".old-" in p.name]  # nothing left


def test_outputs_are_never_inputs(subs, sample_dataset_dir, tmp_path, capsys):
    data = ["--dataset", str(sample_dataset_dir)]
    target = subs / "m1.json"
    before = target.read_bytes()
    assert run(["compare", str(subs / "m0.json"), str(target), "-o", str(target), *data]) == 1
    assert target.read_bytes() == before and "m1.json" in capsys.readouterr().err
    assert run(["build", str(subs), "-o", str(subs), *data]) == 1  # the site folder would hold the inputs
    assert target.read_bytes() == before and not (subs / "index.html").exists()
    assert run(["build", str(subs), "-o", str(tmp_path), *data]) == 1  # nor may it be a folder above them
    assert not (tmp_path / "index.html").exists()
    capsys.readouterr()


def test_submit_never_writes_over_the_run_it_reads(truth, tmp_path, capsys):
    from test_leaderboard_hostile import _fake_run

    run_dir = _fake_run(tmp_path / "out", truth)
    results = next(run_dir.glob("*_results.json"))
    before = results.read_bytes()
    assert run(["submit", str(run_dir), "-o", str(results)]) == 1
    assert results.read_bytes() == before and results.name in capsys.readouterr().err
    samples = next(run_dir.glob("*_samples_cogip_aesthetics.jsonl"))
    assert run(["submit", str(run_dir), "-o", str(samples)]) == 1
    assert run(["submit", str(run_dir), "-o", str(run_dir / "submission.json")]) == 0  # beside them is fine
    shutil.rmtree(run_dir)
