"""A custom benchmark's task folder is treated as the built-in one: cogip-eval checks its dataset before any model
loads (found by the folder's marker under --include_path)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, offline_env

EXAMPLE = REPO / "examples" / "sharpness"
SPEC = EXAMPLE / "spec.yaml"


@pytest.fixture(scope="module")
def sharp_ds(tmp_path_factory) -> Path:
    """A 12-image Sharpness-Bench dataset built from the example spec (in-process: the fast tier's budget)."""
    from cogip_tasks.spec import load_spec
    from hub_upload.spec_build import SpecBuildOptions, build_from_spec

    root = tmp_path_factory.mktemp("sharp")
    module_spec = importlib.util.spec_from_file_location("make_sharpness", EXAMPLE / "make_data.py")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    module.make_data(root / "src", 12, seed=0)
    build_from_spec(load_spec(SPEC), root / "src" / "scores.csv", root / "src" / "images", root / "ds",
                    SpecBuildOptions(test_size=4))  # fmt: skip
    return root / "ds"


def _broken_copy(ds: Path, out: Path) -> tuple[Path, str]:
    """A copy of ``ds`` whose test split holds a NaN score (same row count, so only the row check can see it)."""
    import pyarrow.parquet as pq

    shutil.copytree(ds, out)
    (shard,) = (out / "data" / "sharpness").glob("test-*.parquet")
    table = pq.read_table(shard)
    scores = table.column("score").to_pylist()
    scores[1] = float("nan")
    import pyarrow as pa

    table = table.set_column(table.schema.get_field_index("score"), "score", pa.array(scores, pa.float32()))
    pq.write_table(table, shard)
    return out, table.column("id")[1].as_py()


def _write_tasks(ds: Path, out: Path) -> Path:
    from cogip_tasks.spec import load_spec
    from cogip_tasks.task_writer import write_tasks

    write_tasks(out, load_spec(SPEC), str(ds))
    return out


def test_cogip_eval_checks_a_custom_benchmark_before_the_model_loads(sharp_ds, tmp_path):
    """Broken rows of a `tasks write` folder's dataset: one line naming the row, exit 1, and lmms-eval (which
    would load the model first) is never imported. The model path does not exist: loading it would fail otherwise."""
    broken, row = _broken_copy(sharp_ds, tmp_path / "broken")
    include = tmp_path / "tasks"
    _write_tasks(broken, include / "sharpness")  # a folder under --include_path, as lmms-eval walks it
    code = (
        "import sys; from cogip_tasks.cli import main; rc = main(sys.argv[1:]); "
        "print('lmms_eval imported:', 'lmms_eval' in sys.modules); sys.exit(rc)"
    )
    argv = ["--model", "qwen2_5_vl", "--model_args", f"pretrained={tmp_path / 'no-model'}", "--include_path",
            str(include), "--tasks", "sharpness_bench", "--output_path", str(tmp_path / "out"), "-q"]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-c", code, *argv],
        env=offline_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "lmms_eval imported: False"
    last = proc.stderr.strip().splitlines()[-1]
    assert last == f"cogip-eval: error: {broken.resolve()} (test split): column 'score', row id {row!r}: value is NaN"
    assert not (tmp_path / "out").exists()


def test_preflight_finds_only_cogip_task_folders_and_passes_a_good_dataset(sharp_ds, tmp_path):
    from cogip_tasks.cli import preflight, requested_task_folders

    include = tmp_path / "tasks"
    _write_tasks(sharp_ds, include / "sharpness")
    other = include / "other"  # another benchmark's folder with a spec.yaml and utils.py of its own
    other.mkdir()
    shutil.copy(SPEC, other / "spec.yaml")
    (other / "utils.py").write_text("def define_hooks(*a, **k):\n    pass\n\ndefine_hooks(globals(), dataset='x')\n")
    args = ["--include_path", str(include), "--tasks", "sharpness_bench_sharpness,mme"]
    (found,) = requested_task_folders(args)
    folder, dims = found
    assert folder.path == include / "sharpness" and [d.key for d in dims] == ["sharpness"]
    assert Path(folder.source) == sharp_ds.resolve()
    assert preflight([found]) is None
    assert requested_task_folders(["--include_path", str(include), "--tasks", "mme"]) == []
    # wildcards as lmms-eval matches them; the built-in group alongside
    names = {f.spec.name for f, _ in requested_task_folders([*args[:2], "--tasks=sharpness_*,cogip"])}
    assert names == {"sharpness_bench", "cogip"}


def test_preflight_stops_on_a_dataset_of_another_benchmark(sharp_ds, tmp_path, sample_dataset_dir):
    """A custom task folder pointed at CogIP-Bench's data (no spec in its manifest: rows of unknown dimensions)."""
    from cogip_tasks.cli import preflight, requested_task_folders

    _write_tasks(sample_dataset_dir, tmp_path / "tasks")
    problem = preflight(
        requested_task_folders(["--include_path", str(tmp_path / "tasks"), "--tasks", "sharpness_bench"])
    )
    assert problem is not None and "column 'dimension'" in problem and "unknown dimension" in problem


def _tasks_write(dataset: str, out: Path, stub, home: Path, offline: bool = False) -> subprocess.CompletedProcess:
    """``cogip-eval tasks write --dataset <Hub id>`` in a fresh process against the local Hub stand-in."""
    env = offline_env(HF_ENDPOINT=stub.url, HF_HOME=str(home))
    env.update(HF_HUB_OFFLINE="1" if offline else "0", HF_DATASETS_OFFLINE="1" if offline else "0")
    command = [sys.executable, "-m", "cogip_tasks.cli", "tasks", "write", "--dataset", dataset, "-o", str(out)]
    return subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)


def test_tasks_write_reads_the_spec_from_a_hub_dataset_at_a_pinned_revision(sharp_ds, tmp_path):
    """The manifest (which carries the spec) is read from the Hub repo at ``owner/name@rev``; a revision without
    one, a missing revision and an offline machine without a cached copy are one line each, exit 1."""
    from cogip_tasks.spec import load_spec
    from fixtures.hub_stub import HubStub

    plain = tmp_path / "plain"  # a Hub dataset that cogip-upload did not build: no manifest
    plain.mkdir()
    (plain / "README.md").write_text("# another dataset\n")
    home = tmp_path / "home"
    with HubStub("someone/sharp", {"v1": sharp_ds, "plain": plain}) as stub:
        done = _tasks_write("someone/sharp@v1", tmp_path / "tasks", stub, home)
        assert done.returncode == 0, done.stderr[-3000:]
        assert any(path.endswith("/resolve/v1/cogip_build.json") for _, path in stub.requests)
        assert load_spec(tmp_path / "tasks" / "spec.yaml") == load_spec(SPEC)
        assert "dataset='someone/sharp@v1'" in (tmp_path / "tasks" / "utils.py").read_text()
        failures = {
            "no manifest": _tasks_write("someone/sharp@plain", tmp_path / "t2", stub, home),
            "no revision": _tasks_write("someone/sharp@v9", tmp_path / "t3", stub, home),
            "offline": _tasks_write("someone/sharp@v1", tmp_path / "t4", stub, tmp_path / "cold", offline=True),
        }
        cached = _tasks_write("someone/sharp@v1", tmp_path / "t5", stub, home, offline=True)
    assert cached.returncode == 0, cached.stderr[-3000:]  # offline, but the manifest is in the cache
    prefix = "cogip-eval tasks write: error: "
    expected = {
        "no manifest": "--dataset someone/sharp@plain: the Hub dataset holds no cogip_build.json with a spec",
        "no revision": "someone/sharp@v9: the Hub dataset someone/sharp has no revision 'v9'",
        "offline": "someone/sharp@v1: cannot read its cogip_build.json from the Hub: offline (HF_HUB_OFFLINE)",
    }
    for name, proc in failures.items():
        assert proc.returncode == 1, (name, proc.stderr[-3000:])
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(prefix + expected[name]), (name, proc.stderr[-3000:])
    assert not any((tmp_path / t).exists() for t in ("t2", "t3", "t4"))
