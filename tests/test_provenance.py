"""Provenance in every result (#23.1, #23.2): versions, parser and a fingerprint of the test rows scored in the
tasks' metadata; ``COGIP_DATASET=repo@revision``; no local paths in what is shared; the end-of-run table."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cogip_tasks
from cogip_tasks.dataset import hub_revision, load_kwargs
from cogip_tasks.provenance import FINGERPRINT_SCHEME, rows_fingerprint, shareable_source
from cogip_tasks.results import format_table, without_local_paths
from cogip_tasks.scoring import PARSER_VERSION
from conftest import REPO, TINY_MODEL_ARGS, load_results, offline_env, run_cli
from fixtures.hub_stub import HubStub

IDS = [f"Aesthetics/{i}" for i in range(6)]
SCORES = [1.5, 7.25, 3.0, 9.125, 0.0, 5.5]


def test_fingerprint_is_a_function_of_the_id_score_pairs_only():
    base = rows_fingerprint("aesthetics", IDS, SCORES)
    assert base.startswith(f"{FINGERPRINT_SCHEME}:")
    # any row order; float32 storage noise
    assert rows_fingerprint("aesthetics", IDS[::-1], SCORES[::-1]) == base
    assert rows_fingerprint("aesthetics", IDS, np.array(SCORES, dtype=np.float32).tolist()) == base
    # any changed score, id, row set or dimension changes it
    changed = [
        rows_fingerprint("aesthetics", IDS, [*SCORES[:-1], 5.6]),
        rows_fingerprint("aesthetics", [*IDS[:-1], "Aesthetics/x"], SCORES),
        rows_fingerprint("aesthetics", IDS[:-1], SCORES[:-1]),
        rows_fingerprint("funniness", IDS, SCORES),
        rows_fingerprint("aesthetics", IDS, [SCORES[1], SCORES[0], *SCORES[2:]]),  # scores swapped between ids
    ]
    assert len({base, *changed}) == len(changed) + 1


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("owner/name@v1.2", ("owner/name", "v1.2")),
        ("owner/name@refs/pr/3", ("owner/name", "refs/pr/3")),
        ("owner/name@0123abcd" * 1, ("owner/name", "0123abcd")),
        ("owner/name", ("owner/name", None)),
        ("owner/name@", ("owner/name@", None)),
        ("/data/x@v1", ("/data/x@v1", None)),
        ("a b/c@v1", ("a b/c@v1", None)),
    ],
)
def test_hub_revision_reads_repo_at_revision(source, expected):
    assert hub_revision(source) == expected


def test_an_existing_folder_with_an_at_sign_stays_a_folder(tmp_path, monkeypatch):
    (tmp_path / "bench@v1").mkdir()
    monkeypatch.chdir(tmp_path)
    assert hub_revision("bench@v1") == ("bench@v1", None)
    assert "revision" not in load_kwargs("bench@v1")
    assert load_kwargs("owner/name@v1") == {"revision": "v1"}


def test_shareable_source_names_no_local_path(tmp_path):
    folder = tmp_path / "my_bench"
    folder.mkdir()
    assert shareable_source(str(folder)) == "local:my_bench"
    assert shareable_source("owner/name@v1") == "owner/name@v1"
    assert shareable_source("foolen/CogIP-Bench") == "foolen/CogIP-Bench"


def _fingerprints_via_env(source: str, stub: HubStub, home: Path) -> subprocess.CompletedProcess:
    """Load the ground truth in a fresh process, as every CogIP command does, from ``$COGIP_DATASET``."""
    env = {**offline_env(COGIP_DATASET=source, HF_ENDPOINT=stub.url, HF_HOME=str(home))}
    env.update(HF_HUB_OFFLINE="0", HF_DATASETS_OFFLINE="0")
    code = (
        "import json; from cogip_tasks.leaderboard.verify import load_ground_truth; "
        "print(json.dumps(load_ground_truth().test_fingerprints))"
    )
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=300)


def test_cogip_dataset_pins_a_hub_revision(tmp_path):
    """Two revisions of one repo on a local Hub stand-in: each ``repo@revision`` loads its own rows."""
    from cogip_tasks.leaderboard.verify import load_ground_truth
    from cogip_tasks.synthetic import build_sample_dataset

    v1 = build_sample_dataset(tmp_path / "v1", n_train=1, n_test=3, seed=0)
    v2 = build_sample_dataset(tmp_path / "v2", n_train=1, n_test=3, seed=1)
    local = {name: load_ground_truth(str(folder)).test_fingerprints for name, folder in (("v1", v1), ("v2", v2))}
    assert local["v1"] != local["v2"]
    with HubStub("someone/bench", {"v1": v1, "v2": v2}) as stub:
        for revision in ("v1", "v2"):
            proc = _fingerprints_via_env(f"someone/bench@{revision}", stub, tmp_path / f"home-{revision}")
            assert proc.returncode == 0, proc.stderr[-3000:]
            assert json.loads(proc.stdout.strip().splitlines()[-1]) == local[revision]
        assert any(f"/resolve/{revision}/" in path for _, path in stub.requests)
        missing = _fingerprints_via_env("someone/bench@v3", stub, tmp_path / "home-v3")
    assert missing.returncode != 0
    assert "someone/bench@v3" in missing.stderr and "v3" in missing.stderr.strip().splitlines()[-1]


def _results(**tasks: dict) -> dict:
    """A results dict shaped as lmms-eval writes it (a run of the group puts the group first in ``results``)."""
    members = [task for task in tasks if task != "cogip"]
    return {
        "results": {task: {f"{m},none": v for m, v in metrics.items()} for task, metrics in tasks.items()},
        "group_subtasks": {**({"cogip": members} if "cogip" in tasks else {}), **{t: [] for t in members}},
        "n-samples": {task: {"original": 120, "effective": 120} for task in members},
    }


def test_end_of_run_table_leads_with_srcc_and_its_interval_and_prints_counts_as_integers():
    metrics = {"srcc": 0.41234, "srcc_ci_low": 0.3, "srcc_ci_high": 0.52, "plcc": 0.4, "n_distinct": 17.0}
    table = format_table(_results(cogip_aesthetics=metrics, cogip_funniness={**metrics, "srcc": math.nan}))
    header, rule, *rows = table.splitlines()
    assert header.startswith("| task | srcc [95% CI] | plcc |") and header.endswith("| n_distinct | n |")
    assert len(rows) == 2  # one row per task the run holds; no group row when the group was not run
    assert rows[0] == "| cogip_aesthetics | 0.412 [0.300, 0.520] | 0.400 | n/a | n/a | n/a | n/a | 17 | 120 |"
    assert rows[1].startswith("| cogip_funniness | n/a [0.300, 0.520] |")
    with_group = format_table(_results(cogip=metrics, cogip_aesthetics=metrics, cogip_funniness=metrics))
    assert with_group.splitlines()[-1].startswith("| cogip (mean) | 0.412 [0.300, 0.520] |")
    assert with_group.splitlines()[-1].endswith("| 17 | 240 |")


def test_without_local_paths_leaves_other_tasks_alone():
    ours = {"dataset_path": "/home/u/data", "dataset_kwargs": {"cache_dir": "/home/u/.cache/x"}}
    ours["metadata"] = {"dataset": "local:data", "test_fingerprint": "ids-scores-sha256:00"}
    theirs = {"dataset_path": "/home/u/other", "dataset_kwargs": {"cache_dir": "/c"}, "metadata": {"version": 1}}
    out = without_local_paths({"configs": {"cogip_aesthetics": ours, "mme": json.loads(json.dumps(theirs))}})
    assert out["configs"]["cogip_aesthetics"]["dataset_path"] == "local:data"
    assert out["configs"]["cogip_aesthetics"]["dataset_kwargs"] == {}
    assert out["configs"]["mme"] == theirs


def test_shared_results_publish_the_model_and_run_settings_from_allow_lists():
    """lmms-eval records the raw ``--model_args`` (a local path, a token), the output and include paths and the
    Hub log args; the shared results keep what the leaderboard would publish and short words, nothing else."""
    secret = "hf_" + "Ab1" * 8
    raw = f"pretrained=/home/u/models/my-vlm,device=cpu,api_key={secret},max_pixels=12544"
    results = {
        "model_name": "/home/u/models/my-vlm",
        "config": {
            "model": "qwen2_5_vl",
            "model_args": raw,
            "batch_size": "4",
            "resolved_cli_args": {
                "model": "qwen2_5_vl", "tasks": "cogip", "model_args": raw, "batch_size": "4",
                "output_path": "/home/u/runs/out", "include_path": ["/home/u/cogip_tasks/tasks"],
                "hf_hub_log_args": f",output_path=/home/u/runs,token={secret}", "gen_kwargs": "max_new_tokens=24",
                "log_samples": True, "seed": [0, 1234, 1234, 1234], "limit": None,
            },
        },
    }  # fmt: skip
    shared = json.dumps(without_local_paths(results))
    assert "/home/u" not in shared and secret not in shared
    assert results["model_name"] == "my-vlm"
    assert results["config"]["model_args"] == "pretrained=my-vlm,device=cpu,api_key=<removed>,max_pixels=12544"
    cli = results["config"]["resolved_cli_args"]
    assert cli["model_args"] == results["config"]["model_args"]
    assert (cli["tasks"], cli["gen_kwargs"], cli["log_samples"], cli["seed"], cli["limit"]) == (
        "cogip", "max_new_tokens=24", True, [0, 1234, 1234, 1234], None,
    )  # fmt: skip
    assert cli["output_path"] == cli["include_path"] == cli["hf_hub_log_args"] == "<removed>"


@pytest.mark.slow
def test_results_name_versions_parser_and_the_rows_scored_and_submissions_carry_them(
    tiny_qwen_dir, sample_dataset_dir, tmp_path
):
    """A real ``cogip-eval`` run: provenance in each task's metadata, no local path in the CogIP configs, the
    compact table at the end, NaN warnings naming task and metric; ``submit`` carries the fingerprints and
    ``verify`` checks them."""
    from cogip_tasks.leaderboard.submission import submission_from_output
    from cogip_tasks.leaderboard.verify import Rejected, load_ground_truth, verify_submission

    env = offline_env(COGIP_DATASET=str(sample_dataset_dir))
    out = tmp_path / "out"
    command = [
        str(Path(sys.executable).with_name("cogip-eval")), "--model", "qwen2_5_vl",
        "--model_args", f"pretrained={tiny_qwen_dir},{TINY_MODEL_ARGS}", "--tasks", "cogip", "--batch_size", "4",
        "--gen_kwargs", "max_new_tokens=8", "--output_path", str(out), "--log_samples",
    ]  # fmt: skip
    proc = run_cli(command, env, tmp_path)
    results = load_results(out)
    truth = load_ground_truth(str(sample_dataset_dir))
    cache_home = os.environ["HF_HOME"]
    for key, fingerprint in truth.test_fingerprints.items():
        config = results["configs"][f"cogip_{key}"]
        assert config["metadata"] == {
            "version": 1.0,
            "cogip_version": cogip_tasks.__version__,
            "parser_version": PARSER_VERSION,
            "dataset": f"local:{sample_dataset_dir.name}",
            "test_rows": 5,
            "test_fingerprint": fingerprint,
        }
        shared = json.dumps(config)
        assert str(sample_dataset_dir) not in shared and cache_home not in shared
    # nothing local anywhere in the results file: not the model folder, the output folder or the task folder
    shared = json.dumps(results)
    assert str(tiny_qwen_dir) not in shared and str(out) not in shared and str(tmp_path) not in shared
    assert results["model_name"] == tiny_qwen_dir.name
    # the compact table ends the run: headline first, one row per task and the group, counts as integers
    table = proc.stdout[proc.stdout.index("| task | srcc [95% CI] |") :].splitlines()
    assert [row.split(" | ")[0] for row in table[2:7]] == [
        "| cogip_aesthetics", "| cogip_funniness", "| cogip_emotional_valence", "| cogip_memorability",
        "| cogip (mean)",
    ]  # fmt: skip
    assert all(row.endswith(" | 5 |") for row in table[2:6]) and table[6].endswith(" | 20 |")
    # the random model's 8-token answers never parse: constant (imputed) predictions, NaN correlations
    assert "cogip_memorability srcc is NaN: constant predictions" in proc.stderr

    sub = submission_from_output(out, name="tiny")
    assert sub["data"] == {"dataset": f"local:{sample_dataset_dir.name}", "test_fingerprints": truth.test_fingerprints}
    verify_submission(sub, truth, n_resamples=1000)
    sub["data"]["test_fingerprints"]["funniness"] = truth.test_fingerprints["aesthetics"]
    with pytest.raises(Rejected) as err:
        verify_submission(sub, truth)
    assert err.value.field == "data.test_fingerprints.funniness" and "other funniness test rows" in str(err.value)


def test_only_the_main_process_reports_a_run(tmp_path, monkeypatch, capsys):
    """Under torchrun every process runs cogip-eval's epilogue; only rank 0 (where lmms-eval wrote) rewrites and
    prints, so the table is printed once and the results file written once."""
    import time

    from cogip_tasks.cli import report_run

    config = {"dataset_path": "/home/u/data", "metadata": {"dataset": "local:data", "test_fingerprint": "x:0"}}
    results = {"results": {"cogip_aesthetics": {"srcc,none": 0.5}}, "configs": {"cogip_aesthetics": config}}
    path = tmp_path / "run" / "20260101_000000_results.json"
    path.parent.mkdir()
    path.write_text(json.dumps(results))
    since = time.time() - 60
    monkeypatch.setenv("RANK", "1")
    report_run(["--output_path", str(tmp_path)], since)
    assert capsys.readouterr().out == "" and json.loads(path.read_text()) == results
    monkeypatch.setenv("RANK", "0")
    report_run(["--output_path", str(tmp_path)], since)
    assert "| cogip_aesthetics | 0.500 [n/a, n/a] |" in capsys.readouterr().out
    assert json.loads(path.read_text())["configs"]["cogip_aesthetics"]["dataset_path"] == "local:data"
