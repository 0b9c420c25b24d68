"""cogip-leaderboard against hostile or unlucky input: one-line errors, rejections that name the field, names
that cannot pass for the leaderboard's own rows, and a rebuilt site that keeps nothing stale.

Fast: the local sample dataset, synthetic submissions and hand-written lmms-eval output folders (no model).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cogip_tasks.dimensions import DIMENSIONS
from cogip_tasks.files import write_json
from cogip_tasks.leaderboard.cli import main as leaderboard_main
from cogip_tasks.leaderboard.names import skeleton as name_key
from cogip_tasks.leaderboard.verify import Rejected, load_ground_truth, verify_submission
from cogip_tasks.metrics import METRIC_NAMES
from cogip_tasks.results import GROUP
from conftest import offline_env
from test_leaderboard_stats import synthetic_submission

REFERENCE = "reference: uniform random (seed 0)"


def run_main(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as stop:
        leaderboard_main(argv)
    return stop.value.code


def one_line_error(capsys, *named: str) -> str:
    """The one ``error:`` line on stderr (progress bars of ``datasets`` may surround it), naming ``named``."""
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("cogip-leaderboard: error: "), captured.err
    assert "Traceback" not in captured.err
    for text in named:
        assert text in errors[0], errors[0]
    return errors[0]


@pytest.fixture(scope="module")
def truth(sample_dataset_dir):
    return load_ground_truth(str(sample_dataset_dir))


@pytest.fixture(scope="module")
def good_file(truth, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("hostile_subs") / "good.json"
    write_json(path, synthetic_submission(truth, seed=1, name="good model"))
    return path


# -- the ground-truth dataset ------------------------------------------------------------------------------------


def _write_split(folder: Path, split: str, rows: list[dict]) -> None:
    import datasets

    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "image": datasets.Image(decode=False),
            "dimension": datasets.Value("string"),
            "prompt": datasets.Value("string"),
            "score": datasets.Value("float32"),
            "label": datasets.Value("string"),
        }
    )
    (folder / "data").mkdir(parents=True, exist_ok=True)
    columns = {name: [row[name] for row in rows] for name in features}  # from_list([]) cannot take features
    datasets.Dataset.from_dict(columns, features=features).to_parquet(
        str(folder / "data" / f"{split}-00000-of-00001.parquet")
    )


def _broken_dataset(root: Path, problem: str) -> Path:
    from cogip_tasks.synthetic import sample_rows

    folder = root / problem
    splits = {"train": sample_rows(2, "train"), "test": sample_rows(2, "test")}
    if problem == "missing":
        return folder
    if problem == "empty_test_split":
        splits["test"] = []
    if problem == "no_test_split":
        del splits["test"]
    if problem == "unknown_dimension":  # the project's CogIPDataError
        splits["test"][1]["dimension"] = "Beauty"
    if problem == "score_out_of_range":
        splits["test"][0]["score"] = 42.0
    for split, rows in splits.items():
        _write_split(folder, split, rows)
    config = "".join(f"  - split: {s}\n    path: data/{s}-*\n" for s in splits)
    (folder / "README.md").write_text(f"---\nconfigs:\n- config_name: default\n  data_files:\n{config}---\n")
    return folder


PROBLEMS = ["missing", "empty_test_split", "no_test_split", "unknown_dimension", "score_out_of_range"]


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("command", ["verify", "build", "compare"])
def test_dataset_problems_end_with_one_line_naming_the_dataset(command, problem, good_file, tmp_path, capsys):
    dataset = _broken_dataset(tmp_path, problem)
    capsys.readouterr()
    args = {
        "verify": ["verify", str(good_file)],
        "build": ["build", str(good_file), "-o", str(tmp_path / "site")],
        "compare": ["compare", str(good_file), str(good_file)],
    }[command]
    assert run_main([*args, "--dataset", str(dataset)]) == 1
    one_line_error(capsys, str(dataset))
    assert not (tmp_path / "site").exists()


def test_offline_hub_id_is_one_line_without_traceback(good_file, tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cogip_tasks.leaderboard",
            "verify",
            str(good_file),
            "--dataset",
            "nobody/no-such-dataset",
        ],
        env=offline_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert (
        len(lines) == 1 and lines[0].startswith("cogip-leaderboard: error: ") and "nobody/no-such-dataset" in lines[0]
    ), proc.stderr


# -- hostile submission files ------------------------------------------------------------------------------------


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_deeply_nested_submissions_are_rejected_and_build_carries_on(good_file, sample_dataset_dir, tmp_path, capsys):
    folder = tmp_path / "subs"
    folder.mkdir()
    (folder / "a_good.json").write_bytes(good_file.read_bytes())
    (folder / "deep.json").write_text(_deep(100_000))  # json raises RecursionError
    sub = json.loads(good_file.read_text())
    text = json.dumps(sub).replace('"name": "good model"', f'"name": {_deep(600)}', 1)
    (folder / "deep_name.json").write_text(text)
    items = json.dumps(sub).replace('"items": [', f'"items": [{_deep(600)}, ', 1)
    (folder / "deep_item.json").write_text(items)

    assert run_main(["verify", str(folder), "--dataset", str(sample_dataset_dir)]) == 1
    out = capsys.readouterr().out
    for name in ("deep.json", "deep_name.json", "deep_item.json"):  # the one reader's depth bound
        assert f"REJECTED {folder / name}: (file): {folder / name}: JSON nested " in out
    assert f"OK {folder / 'a_good.json'}" in out

    site = tmp_path / "site"
    assert (
        run_main(["build", str(folder), "-o", str(site), "--dataset", str(sample_dataset_dir), "--skip-rejected"]) == 0
    )
    page = json.loads((site / "leaderboard.json").read_text())
    assert [r["name"] for r in page["rows"] if not r["reference"]] == ["good model"]
    assert sorted(Path(r["file"]).name for r in page["rejected"]) == ["deep.json", "deep_item.json", "deep_name.json"]


@pytest.mark.parametrize(
    "name",
    [
        REFERENCE,
        "reference: uniform random (seed\u200b 0)",  # zero-width space
        "\u200breference: constant (range midpoint)",
        "Ｒｅｆｅｒｅｎｃｅ： train-set mean",  # fullwidth letters and colon (NFKC)
        "REFERENCE : my model",
        "refer\u00adence: x",  # soft hyphen (a format character)
    ],
)
def test_reference_names_are_reserved_however_spelled(truth, name):
    with pytest.raises(Rejected) as err:
        verify_submission(synthetic_submission(truth, name=name), truth)
    assert err.value.field == "model.name" and "reserved" in err.value.reason


def test_a_submission_cannot_take_a_reference_row_on_the_page(good_file, truth, sample_dataset_dir, tmp_path):
    folder = tmp_path / "subs"
    folder.mkdir()
    (folder / "good.json").write_bytes(good_file.read_bytes())
    write_json(
        folder / "evil.json", synthetic_submission(truth, seed=2, name="reference: uniform random (seed\u200b 0)")
    )
    site = tmp_path / "site"
    assert (
        run_main(["build", str(folder), "-o", str(site), "--dataset", str(sample_dataset_dir), "--skip-rejected"]) == 0
    )
    rows = json.loads((site / "leaderboard.json").read_text())["rows"]
    assert [name_key(r["name"]) for r in rows].count(name_key(REFERENCE)) == 1
    assert next(r for r in rows if name_key(r["name"]) == name_key(REFERENCE))["reference"] is True


def test_names_are_unique_on_the_page(truth, sample_dataset_dir, tmp_path):
    folder = tmp_path / "subs"
    folder.mkdir()
    write_json(folder / "1.json", synthetic_submission(truth, seed=3, name="Model A"))
    write_json(folder / "2.json", synthetic_submission(truth, seed=4, name="model\u200b  a"))
    write_json(folder / "3.json", synthetic_submission(truth, seed=5, name="ｍodel a"))
    site = tmp_path / "site"
    assert (
        run_main(["build", str(folder), "-o", str(site), "--dataset", str(sample_dataset_dir), "--skip-rejected"]) == 0
    )
    page = json.loads((site / "leaderboard.json").read_text())
    assert [r["name"] for r in page["rows"] if not r["reference"]] == ["Model A"]
    assert [Path(r["file"]).name for r in page["rejected"]] == ["2.json", "3.json"]
    assert all("already used by" in r["reason"] and "1.json" in r["reason"] for r in page["rejected"])


def test_displayed_names_lose_invisible_characters(truth):
    model = verify_submission(synthetic_submission(truth, name="  my\u200b  model\u2060 "), truth)
    assert model.name == "my model"


# -- a rebuilt site ----------------------------------------------------------------------------------------------


def test_a_rebuilt_site_drops_plots_of_models_no_longer_on_it(truth, sample_dataset_dir, tmp_path):
    folder = tmp_path / "subs"
    folder.mkdir()
    write_json(folder / "kept.json", synthetic_submission(truth, seed=6, name="kept"))
    write_json(folder / "withdrawn.json", synthetic_submission(truth, seed=7, name="withdrawn"))
    site = tmp_path / "site"
    build = ["build", str(folder), "-o", str(site), "--dataset", str(sample_dataset_dir)]
    assert run_main(build) == 0
    first = json.loads((site / "leaderboard.json").read_text())["plots"]
    assert len(first) == 5 and any("withdrawn" in p for p in first)
    assert sorted(p.name for p in (site / "plots").iterdir()) == sorted(first)
    # Files the build does not own stay, even when they look like plots or the old listing points elsewhere.
    (site / "plots" / "notes.txt").write_text("mine")
    (site / "plots" / "99-my-own.png").write_bytes(b"mine")
    (tmp_path / "victim.txt").write_text("mine")

    (folder / "withdrawn.json").unlink()
    assert run_main(build) == 0
    second = json.loads((site / "leaderboard.json").read_text())["plots"]
    assert len(second) == 4 and not any("withdrawn" in p for p in second)
    assert sorted(p.name for p in (site / "plots").iterdir()) == sorted([*second, "notes.txt", "99-my-own.png"])

    listing = json.loads((site / "leaderboard.json").read_text())
    listing["plots"] += ["../../victim.txt", "../index.html", "99-my-own.png/../../victim.txt"]
    (site / "leaderboard.json").write_text(json.dumps(listing))
    assert run_main(build) == 0
    assert (tmp_path / "victim.txt").exists() and (site / "index.html").exists()
    # An unreadable listing: the folder's index.html is no longer known to be the build's: refused, untouched.
    (site / "leaderboard.json").write_text("[not json")
    before = {p: p.read_bytes() for p in site.rglob("*") if p.is_file()}
    assert run_main(build) == 1
    assert {p: p.read_bytes() for p in site.rglob("*") if p.is_file()} == before


# -- submit on broken lmms-eval output ---------------------------------------------------------------------------


def _fake_run(folder: Path, truth, model_args: str = "pretrained=x") -> Path:
    """An lmms-eval output folder as a `--tasks cogip --log_samples` run writes it (answers all unparsed)."""
    stamp = "20250101_000000"
    results = {
        "results": {},
        "groups": {GROUP: {f"{m},none": None for m in METRIC_NAMES}},
        "config": {"model": "qwen2_5_vl", "model_args": model_args},
        "model_name": model_args.partition("pretrained=")[2].split(",")[0],  # what lmms-eval writes: the raw text
    }
    folder.mkdir(parents=True)
    for key, dim in DIMENSIONS.items():
        results["results"][dim.task_name] = {f"{m},none": None for m in METRIC_NAMES}
        lines = [
            json.dumps(
                {
                    "doc_id": i,
                    "filtered_resps": ["no idea"],
                    "srcc": {
                        "id": row_id,
                        "dimension": key,
                        "human": 1.0,
                        "pred": None,
                        "label": None,
                        "failure": "no number",
                        "parser": "cogip-parse-x",
                    },
                }
            )
            for i, row_id in enumerate(truth.ids[key])
        ]
        (folder / f"{stamp}_samples_{dim.task_name}.jsonl").write_text("\n".join(lines) + "\n")
    (folder / f"{stamp}_results.json").write_text(json.dumps(results))
    return folder


def _results_is_a_list(folder: Path) -> Path:
    path = next(folder.glob("*_results.json"))
    path.write_text("[1, 2, 3]")
    return path


def _truncated_samples(folder: Path) -> Path:
    path = next(folder.glob("*_samples_cogip_memorability.jsonl"))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])  # the last record torn
    return path


def _non_utf8_samples(folder: Path) -> Path:
    path = next(folder.glob("*_samples_cogip_funniness.jsonl"))
    path.write_bytes(path.read_bytes().replace(b"no idea", b"no \xff\xfe idea", 1))
    return path


def _sample_not_an_object(folder: Path) -> Path:
    path = next(folder.glob("*_samples_cogip_aesthetics.jsonl"))
    path.write_text("[1, 2]\n" + path.read_text())
    return path


def _results_not_utf8(folder: Path) -> Path:
    path = next(folder.glob("*_results.json"))
    path.write_bytes(b"\xff" + path.read_bytes())
    return path


def _results_nested(folder: Path) -> Path:
    path = next(folder.glob("*_results.json"))
    path.write_text(_deep(100_000))
    return path


@pytest.mark.parametrize(
    "corrupt,reason",
    [
        (_results_is_a_list, "expected a JSON object, found a list"),
        (_truncated_samples, "line 5: not valid JSON"),
        (_non_utf8_samples, "line 1: not UTF-8"),
        (_sample_not_an_object, "line 1: expected a JSON object"),
        (_results_not_utf8, "not UTF-8"),
        (_results_nested, "nested too deeply"),
    ],
)
def test_submit_on_broken_output_is_one_line_naming_the_file(corrupt, reason, truth, tmp_path, capsys):
    run = _fake_run(tmp_path / "out", truth)
    assert run_main(["submit", str(run), "-o", str(tmp_path / "s.json")]) == 0  # the untouched folder works
    (tmp_path / "s.json").unlink()
    capsys.readouterr()
    bad = corrupt(run)
    assert run_main(["submit", str(run), "-o", str(tmp_path / "s.json")]) == 1
    one_line_error(capsys, str(bad), reason)
    assert not (tmp_path / "s.json").exists()


def test_submit_refuses_a_reserved_name(truth, tmp_path, capsys):
    run = _fake_run(tmp_path / "out", truth)
    assert run_main(["submit", str(run), "--name", "Reference\u200b: constant", "-o", str(tmp_path / "s.json")]) == 1
    one_line_error(capsys, "reserved")


@pytest.mark.parametrize(
    "model_args,name",
    [
        ("pretrained=https://user:hf_AbCdEfGhIjKlMnOp@host.example/m?token=tok_5ecret_value,device=cpu", "qwen2_5_vl"),
        ('pretrained=/home/alice/runs/my-vlm-7b,headers={"X":"o","Authorization":"Bearer sk_live_5ecretvalue"}', "my-vlm-7b"),
        ("pretrained=Org/Model-7B,api_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "Org/Model-7B"),
    ],
)  # fmt: skip
def test_submit_publishes_only_allow_listed_model_values(model_args, name, truth, tmp_path):
    """#25.1: no --name -> the published pretrained value (a Hub id or a folder's base name), never lmms-eval's
    raw model_name; the submission holds no credential and no local path."""
    run = _fake_run(tmp_path / "out", truth, model_args)
    assert run_main(["submit", str(run), "-o", str(tmp_path / "s.json")]) == 0
    sub = json.loads((tmp_path / "s.json").read_text())
    assert sub["model"]["name"] == name
    text = (tmp_path / "s.json").read_text()
    for secret in ("hf_AbCdEfGhIjKlMnOp", "tok_5ecret_value", "sk_live_5ecretvalue", "K7MDENG", "/home/alice", "user:"):
        assert secret not in text
