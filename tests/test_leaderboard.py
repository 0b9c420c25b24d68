"""Leaderboard end to end: real lmms-eval runs of two tiny random models -> submissions -> verify -> build.

Random models answer noise (mostly unparsable), so correlations are undefined (n/a); these tests check what
was built and that nothing in a submission is trusted, not the values.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from cogip_tasks.dimensions import DIMENSIONS
from cogip_tasks.files import write_json
from cogip_tasks.leaderboard.cli import main as leaderboard_main
from cogip_tasks.leaderboard.submission import package_version, read_submission
from cogip_tasks.leaderboard.verify import Rejected, load_ground_truth, verify_submission
from cogip_tasks.scoring import PARSER_VERSION
from conftest import lmms_eval_command, load_results, offline_env, run_cli
from tiers import slow_fixture

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHROMIUM = "/usr/bin/chromium"
NAMES = ("tiny seed 0", "tiny seed 1")


def leaderboard(*args: str) -> list[str]:
    return [sys.executable, "-m", "cogip_tasks.leaderboard", *args]


def run_main(argv: list[str]) -> int:
    """The CLI in-process (fast); returns its exit status."""
    with pytest.raises(SystemExit) as stop:
        leaderboard_main(argv)
    return stop.value.code


def assert_png(path_or_bytes) -> Image.Image:
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    assert data[:8] == PNG_SIGNATURE
    from io import BytesIO

    Image.open(BytesIO(data)).verify()  # raises on a truncated or corrupt file
    image = Image.open(BytesIO(data))
    image.load()
    return image


@pytest.fixture(scope="module")
@slow_fixture
def runs(tmp_path_factory, sample_dataset_dir, tiny_qwen_dir) -> dict[str, Path]:
    """One real `lmms-eval --tasks cogip --log_samples` run per tiny model (seeds 0 and 1)."""
    from cogip_tasks.tiny_model import build_tiny_qwen2_5_vl

    base = tmp_path_factory.mktemp("lb_runs")
    models = {NAMES[0]: tiny_qwen_dir, NAMES[1]: build_tiny_qwen2_5_vl(base / "model_seed1", seed=1)}
    env = offline_env(COGIP_DATASET=str(sample_dataset_dir), LMMS_EVAL_PLUGINS="cogip_tasks")
    out = {}
    for name, model_dir in models.items():
        out[name] = base / name.replace(" ", "_")
        run_cli(lmms_eval_command(model_dir, "cogip", out[name]), env, base)
    return out


@pytest.fixture(scope="module")
def submissions(runs, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("lb_submissions")
    for name, output in runs.items():
        assert (
            run_main(["submit", str(output), "--name", name, "-o", str(folder / f"{name.replace(' ', '_')}.json")]) == 0
        )
    return folder


@pytest.fixture(scope="module")
def truth(sample_dataset_dir):
    return load_ground_truth(str(sample_dataset_dir))


@pytest.fixture(scope="module")
def site(submissions, sample_dataset_dir, tmp_path_factory) -> Path:
    """The leaderboard built by the console script, as a leaderboard maintainer would run it."""
    out = tmp_path_factory.mktemp("lb_site")
    script = Path(sys.executable).with_name("cogip-leaderboard")
    proc = run_cli(
        [str(script), "build", str(submissions), "-o", str(out)],
        offline_env(COGIP_DATASET=str(sample_dataset_dir)),
        out,
    )
    assert "ranked 2 model(s) with 3 reference rows" in proc.stdout
    return out


@pytest.mark.slow
def test_submission_records_model_versions_items_and_metrics(submissions, truth):
    sub = read_submission(submissions / "tiny_seed_1.json")
    assert sub["model"]["name"] == "tiny seed 1" and sub["model"]["backend"] == "qwen2_5_vl"
    assert "pretrained=" in sub["model"]["args"]
    assert sub["versions"]["lmms_eval"] == package_version("lmms-eval") and sub["versions"]["cogip"]
    assert sub["parser_version"] == PARSER_VERSION
    for key, ids in truth.ids.items():
        items = sub["dimensions"][key]["items"]
        assert sorted(i["id"] for i in items) == sorted(ids)
        assert set(items[0]) == {"doc_id", "id", "raw", "answer", "label", "score", "failure"}
        assert isinstance(items[0]["raw"], str)
        assert set(sub["metrics"][key]) >= {"srcc", "srcc_ci_low", "plcc", "mae", "parse_rate"}
    assert "srcc" in sub["metrics"]["mean"]
    text = (submissions / "tiny_seed_1.json").read_text()
    assert "NaN" not in text  # strict JSON: undefined numbers are null


@pytest.mark.slow
def test_real_submissions_verify(submissions, sample_dataset_dir):
    proc = run_cli(
        leaderboard("verify", str(submissions), "--dataset", str(sample_dataset_dir)), offline_env(), submissions
    )
    assert proc.stdout.count("OK ") == 2 and "REJECTED" not in proc.stdout
    assert "20 items re-parsed and every metric recomputed" in proc.stdout


@pytest.mark.slow
def test_leaderboard_markdown_html_and_plots(site):
    md = (site / "leaderboard.md").read_text()
    for text in (
        *NAMES,
        "Mean SRCC",
        "95% CI",
        "Mean PLCC",
        "Mean parse rate",
        "Adjacent models",
        "Per dimension",
        "reference: constant (range midpoint)",
        "reference: train-set mean",
        "reference: uniform random",
        "Aesthetics SRCC [95% CI]",
        "Funniness SRCC [95% CI]",
        "Emotional Valence SRCC [95% CI]",
        "Memorability SRCC [95% CI]",
        "MAE",
        "Parse rate",
        PARSER_VERSION,
    ):
        assert text in md, text
    # Both random models parse nothing: undefined SRCC, ranked after every defined row, shown as n/a.
    ranking = [line.split(" | ")[:2] for line in md.splitlines() if re.match(r"\| (\d+|ref) \| ", line)]
    assert [name for _, name in ranking][-2:] == list(NAMES) and [r for r, _ in ranking][-2:] == ["| 1", "| 2"]
    assert "| tiny seed 0 | tiny seed 1 | n/a | n/a | n/a | n/a |" in md  # adjacent pair: undefined, not faked

    page = (site / "index.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)  # nothing fetched: only the site's own plots
    plots = sorted((site / "plots").iterdir())
    assert sorted(sources) == sorted(f"plots/{p.name}" for p in plots) and len(plots) == 5  # 2 models + 3 refs
    assert '<meta name="viewport"' in page
    for plot in plots:
        assert assert_png(plot).size[0] > 400
        assert plot.suffix == ".png"
        assert_png(plot)
    data = json.loads((site / "leaderboard.json").read_text())
    assert [r["name"] for r in data["rows"] if not r["reference"]] == list(NAMES)
    assert data["rows"][-1]["mean_srcc"] is None


@pytest.mark.slow
def test_leaderboard_page_renders_in_headless_chromium(site, tmp_path):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} missing on CI: run scripts/system_deps.sh")
        pytest.skip(f"{CHROMIUM} not installed (Debian package `chromium`; scripts/system_deps.sh installs it)")
    shot = tmp_path / "page.png"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={shot}",
        "--window-size=1280,2000",
        (site / "index.html").resolve().as_uri(),
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-3000:]
    image = assert_png(shot).convert("L")
    assert image.size == (1280, 2000)
    histogram = image.histogram()
    dark = sum(histogram[:128]) / (image.size[0] * image.size[1])
    assert 0.005 < dark < 0.5, f"screenshot looks blank or broken ({dark:.2%} dark pixels)"
    # The embedded plots rendered: the page has colour (blue/red markers), not only black text on white.
    colours = assert_png(shot).convert("RGB").resize((320, 500)).getcolors(1_000_000)
    assert any(abs(r - b) > 60 for _, (r, g, b) in colours)


@pytest.mark.slow
def test_compare_two_real_submissions(submissions, sample_dataset_dir, capsys, tmp_path):
    out = tmp_path / "compare.md"
    code = run_main(
        [
            "compare",
            str(submissions / "tiny_seed_0.json"),
            str(submissions / "tiny_seed_1.json"),
            "--dataset",
            str(sample_dataset_dir),
            "-o",
            str(out),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert text == out.read_text()
    for row in ("| Aesthetics |", "| Funniness |", "| Emotional Valence |", "| Memorability |", "| Mean |"):
        assert row in text
    assert "tiny seed 0 SRCC [95% CI]" in text and "tiny seed 1 SRCC [95% CI]" in text


def _drop_dimension(sub):
    del sub["dimensions"]["memorability"]


def _drop_item(sub):
    sub["dimensions"]["aesthetics"]["items"].pop()


def _repeat_item(sub):
    items = sub["dimensions"]["aesthetics"]["items"]
    items[1] = copy.deepcopy(items[0])


def _invent_item(sub):
    sub["dimensions"]["funniness"]["items"][2]["id"] = "Funniness/999999"


def _item_from_other_dimension(sub):
    sub["dimensions"]["funniness"]["items"][2]["id"] = sub["dimensions"]["aesthetics"]["items"][2]["id"]


def _repeat_doc_id(sub):
    sub["dimensions"]["memorability"]["items"][3]["doc_id"] = 0


def _inflate_metric(sub):
    sub["metrics"]["aesthetics"]["mae"] -= 0.5


def _claim_undefined_metric(sub):
    sub["metrics"]["funniness"]["srcc"] = 0.42  # recomputation gives NaN (null)


def _inflate_mean(sub):
    sub["metrics"]["mean"]["parse_rate"] = 0.9


def _drop_metric(sub):
    del sub["metrics"]["emotional_valence"]["plcc"]


def _other_parser(sub):
    sub["parser_version"] = "paper"


def _claim_a_score(sub):
    sub["dimensions"]["aesthetics"]["items"][0]["score"] = 7.0


def _answer_not_from_raw(sub):
    sub["dimensions"]["aesthetics"]["items"][0]["answer"] = "high 7.500"


def _better_answers_same_metrics(sub):
    # Consistent per item (raw, answer and parse agree) but the reported aggregates were not recomputed.
    for item in sub["dimensions"]["memorability"]["items"]:
        item.update(raw="high 0.700", answer="high 0.700", label="high", score=0.7, failure=None)


def _unknown_dimension(sub):
    sub["dimensions"]["beauty"] = {"items": []}


TAMPERING = [
    (_drop_dimension, "dimensions.memorability", "missing"),
    (_unknown_dimension, "dimensions.beauty", "dimension (expected aesthetics, funniness"),
    (_drop_item, "dimensions.aesthetics.items", "4 items, the test split has 5"),
    (_repeat_item, "dimensions.aesthetics.items[1].id", "repeated"),
    (_invent_item, "dimensions.funniness.items[2].id", "is not a funniness item"),
    (_item_from_other_dimension, "dimensions.funniness.items[2].id", "is not a funniness item"),
    (_repeat_doc_id, "dimensions.memorability.items[3].doc_id", "does not match"),
    (_inflate_metric, "metrics.aesthetics.mae", "recomputed from the answers"),
    (_claim_undefined_metric, "metrics.funniness.srcc", "reported 0.42, recomputed from the answers null"),
    (_inflate_mean, "metrics.mean.parse_rate", "reported 0.9"),
    (_drop_metric, "metrics.emotional_valence.plcc", "missing"),
    (_other_parser, "parser_version", "differs from this leaderboard's parser"),
    (_claim_a_score, "dimensions.aesthetics.items[0].score", "claims 7.0, the answer parses to null"),
    (_answer_not_from_raw, "dimensions.aesthetics.items[0].answer", "reasoning blocks removed"),
    (_better_answers_same_metrics, "metrics.memorability.mae", "recomputed from the answers"),
]


@pytest.mark.slow
@pytest.mark.parametrize("tamper,field,reason", TAMPERING, ids=[t[0].__name__.strip("_") for t in TAMPERING])
def test_tampered_submission_is_rejected_naming_the_field(submissions, truth, tamper, field, reason):
    sub = read_submission(submissions / "tiny_seed_0.json")
    verify_submission(copy.deepcopy(sub), truth)  # the untouched copy passes
    tamper(sub)
    with pytest.raises(Rejected) as err:
        verify_submission(sub, truth)
    assert err.value.field == field, str(err.value)
    assert reason in str(err.value)


@pytest.mark.slow
def test_verify_and_build_refuse_a_tampered_file(submissions, sample_dataset_dir, tmp_path, capsys):
    folder = tmp_path / "subs"
    shutil.copytree(submissions, folder)
    bad = read_submission(folder / "tiny_seed_1.json")
    _other_parser(bad)
    write_json(folder / "tiny_seed_1.json", bad)
    (folder / "broken.json").write_text("{not json")

    assert run_main(["verify", str(folder), "--dataset", str(sample_dataset_dir)]) == 1
    out = capsys.readouterr().out
    assert f"REJECTED {folder / 'tiny_seed_1.json'}: parser_version: 'paper' differs" in out
    assert f"REJECTED {folder / 'broken.json'}: (file):" in out and "OK " in out

    assert run_main(["build", str(folder), "-o", str(tmp_path / "site"), "--dataset", str(sample_dataset_dir)]) == 1
    assert not (tmp_path / "site" / "index.html").exists()  # nothing half-built
    assert (
        run_main(
            [
                "build",
                str(folder),
                "-o",
                str(tmp_path / "site"),
                "--dataset",
                str(sample_dataset_dir),
                "--skip-rejected",
            ]
        )
        == 0
    )
    md = (tmp_path / "site" / "leaderboard.md").read_text()
    assert "## Rejected submissions" in md and "parser\\_version" in md
    assert "| 1 | tiny seed 0 |" in md and "| 2 |" not in md


@pytest.fixture(scope="module")
@slow_fixture
def expected_run(tmp_path_factory, sample_dataset_dir, tiny_qwen_dir) -> Path:
    """A real run whose every answer parses (cogip_expected reads a score off the tiny model's probabilities),
    so that correlations and their intervals are defined."""
    from cogip_tasks.__main__ import TASKS_PATH

    out = tmp_path_factory.mktemp("lb_expected") / "out"
    cmd = lmms_eval_command(tiny_qwen_dir, "cogip", out, "--include_path", str(TASKS_PATH), model="cogip_expected")
    cmd[cmd.index("--model_args") + 1] += ",readout=expected_digits,dtype=float32"
    run_cli(cmd, offline_env(COGIP_DATASET=str(sample_dataset_dir)), out.parent)
    return out


def as_data_parallel_run(run: Path, dest: Path, processes: int = 2) -> Path:
    """The same answers as lmms-eval data parallel on ``processes`` ranks logs and aggregates them.

    lmms-eval 0.7.3 gives rank r the docs r, r+P, r+2P, ... and gathers rank 0's items first, then rank 1's
    (evaluator.py, ``itertools.chain`` over ``gather_object``): that order reaches both the samples log and the
    task aggregations; the group aggregations then see the tasks' values.
    """
    import importlib.util

    from cogip_tasks.__main__ import TASKS_PATH
    from cogip_tasks.metrics import GROUP_METRIC_NAMES, METRIC_NAMES
    from cogip_tasks.results import GROUP, latest_results_file, read_samples, samples_file

    shutil.copytree(run, dest)
    spec = importlib.util.spec_from_file_location("utils", TASKS_PATH / "cogip" / "utils.py")
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)
    results_file = latest_results_file(dest)
    results = json.loads(results_file.read_text())
    for dim in DIMENSIONS.values():
        path = samples_file(results_file, dim.task_name)
        samples = sorted(read_samples(path), key=lambda s: s["doc_id"])
        gathered = [s for rank in range(processes) for s in samples[rank::processes]]
        path.write_text("".join(json.dumps(s) + "\n" for s in gathered))
        items = [s["srcc"] for s in gathered]
        results["results"][dim.task_name].update({f"{m},none": getattr(utils, m)(items) for m in METRIC_NAMES})
    group = results["groups"][GROUP]
    for metric in GROUP_METRIC_NAMES:
        values = [results["results"][d.task_name][f"{metric},none"] for d in DIMENSIONS.values()]
        aggregate = getattr(utils, f"group_{metric}", None)
        group[f"{metric},none"] = aggregate(values, [5] * 4, False) if aggregate else sum(values) / len(values)
    results_file.write_text(json.dumps(results))
    return dest


@pytest.mark.slow
def test_a_data_parallel_run_gives_the_same_numbers_and_verifies(expected_run, sample_dataset_dir, tmp_path):
    from cogip_tasks.results import GROUP

    two = as_data_parallel_run(expected_run, tmp_path / "two_processes")
    one_results, two_results = load_results(expected_run), load_results(two)
    defined = 0
    for task in [d.task_name for d in DIMENSIONS.values()]:
        assert two_results["results"][task] == one_results["results"][task], task  # identical numbers
        defined += math.isfinite(one_results["results"][task]["srcc_ci_low,none"] or math.nan)
    assert defined >= 2  # the intervals exist, so their order-dependence would show
    for key, value in one_results["groups"][GROUP].items():
        if "," in key and "_stderr" not in key:
            assert two_results["groups"][GROUP][key] == pytest.approx(value, abs=1e-12), key
    group = one_results["groups"][GROUP]
    assert "mae,none" not in group and "mae_norm,none" in group  # no average of errors on different scales
    lows = [one_results["results"][d.task_name]["srcc_ci_low,none"] for d in DIMENSIONS.values()]
    assert group["srcc_ci_low,none"] != pytest.approx(sum(lows) / 4)  # the mean's interval, not the mean of bounds

    subs = tmp_path / "subs"
    for name, output in (("one process", expected_run), ("two processes", two)):
        assert (
            run_main(["submit", str(output), "--name", name, "-o", str(subs / f"{name.replace(' ', '_')}.json")]) == 0
        )
    proc = run_cli(leaderboard("verify", str(subs), "--dataset", str(sample_dataset_dir)), offline_env(), tmp_path)
    assert proc.stdout.count("OK ") == 2 and "REJECTED" not in proc.stdout, proc.stdout


def test_submit_explains_a_folder_without_a_run(tmp_path, capsys):
    assert run_main(["submit", str(tmp_path), "-o", str(tmp_path / "s.json")]) == 1
    assert "no lmms-eval *_results.json found" in capsys.readouterr().err
    assert not (tmp_path / "s.json").exists()
