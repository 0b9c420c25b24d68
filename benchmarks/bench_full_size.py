"""The release's size, end to end, on the CPU: wall time of every stage, and CogIP's own share of the evaluation.

    nice .venv/bin/python benchmarks/bench_full_size.py              # ~25 minutes on 2 shared cores
    nice .venv/bin/python benchmarks/bench_full_size.py --keep DIR   # keep every stage's output in DIR

Stages, each the real command line in its own process (as a user runs them):
1. stand-ins: a release of the real one's size and format (3,200 train rows; test pools of 120 / 199 / 700 /
   700, from which the build draws 480 test and keeps 1,719 in test_full) with random in-range scores, and a
   procedural stand-in JPEG (``--side`` pixels) for each of its 4,919 images (``cogip-upload stand-in-images``);
2. ``cogip-upload build``: audit (every image decoded and hashed) and write the Parquet dataset folder;
3. ``cogip-train``: one epoch of the tiny random Qwen2.5-VL on all 3,200 training rows (LoRA + merger, batch 8,
   one process, float32, 56x56 images);
4. ``cogip-eval`` of the trained model on the whole 480-item ``cogip`` group (the tasks' own generation
   settings: greedy, up to 256 new tokens), run under cProfile;
5. ``cogip-leaderboard submit`` and ``verify`` (every number re-derived from the samples).

CogIP's own work in the evaluation is the cumulative time of CogIP functions lmms-eval calls into (row checks
in ``process_docs``, answer parsing in ``process_results``, metrics and bootstrap intervals in the aggregations),
each counted once (a CogIP function called by another CogIP function is inside its caller's time); the model's
is the cumulative time of the lmms-eval wrapper's ``generate_until``; the rest is start-up (imports, loading the
model and the dataset) and lmms-eval itself.
"""

from __future__ import annotations

import argparse
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the synthetic release is a test fixture, not shipped
from fixtures.release import RELEASE_POOL_SIZES, write_synthetic_release  # noqa: E402

BIN = Path(sys.executable).parent
TINY = "device=cpu,device_map=cpu,min_pixels=3136,max_pixels=3136"
# CogIP code that lmms-eval calls into during an evaluation (the CLI wrapper and the model loader are not part
# of the evaluation's work: they contain the whole run).
OWN = ("cogip_tasks/tasks/", "cogip_tasks/dataset.py", "cogip_tasks/scoring.py", "cogip_tasks/metrics.py")


def env() -> dict[str, str]:
    return {
        **os.environ,
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }


def stage(name: str, command: list[str], log: Path, extra_env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    with open(log, "w") as handle:
        code = subprocess.call(command, env={**env(), **(extra_env or {})}, cwd=REPO, stdout=handle, stderr=handle)
    seconds = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"{name} failed ({code}); see {log}")
    print(f"  {name}: {seconds:.0f} s", flush=True)
    return seconds


def own_share(profile: Path) -> tuple[float, float, float]:
    """(CogIP's own seconds, the model's generate_until seconds, the whole profiled run's seconds)."""
    stats = pstats.Stats(str(profile)).stats  # {(file, line, name): (cc, nc, tt, ct, callers)}

    def ours(func: tuple) -> bool:
        return any(part in func[0].replace(os.sep, "/") for part in OWN)

    own = sum(ct for func, (_, _, _, ct, callers) in stats.items() if ours(func) and not any(map(ours, callers)))
    model = sum(
        ct
        for func, (_, _, _, ct, callers) in stats.items()
        if func[2] == "generate_until" and "lmms_eval/models" in func[0].replace(os.sep, "/")
        and not any(c[2] == "generate_until" for c in callers)
    )  # fmt: skip
    total = max(ct for _, _, _, ct, _ in stats.values())
    return own, model, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--side", type=int, default=56, help="stand-in image side in pixels (default 56)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--keep", type=Path, help="keep every stage's output here (default: a temporary folder)")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-full-size-")
    root = args.keep or Path(tmp)
    root.mkdir(parents=True, exist_ok=True)
    try:
        run(root, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(root: Path, args: argparse.Namespace) -> None:
    from cogip_tasks.tiny_model import build_tiny_qwen2_5_vl

    times: dict[str, float] = {}
    model = build_tiny_qwen2_5_vl(root / "tiny", seed=0)
    start = time.perf_counter()
    release = write_synthetic_release(root / "release", n_train=800, pool_sizes=RELEASE_POOL_SIZES)
    times["release files (synthetic)"] = time.perf_counter() - start
    upload = [str(BIN / "cogip-upload")]
    times["stand-in images"] = stage(
        "stand-in images",
        [*upload, "stand-in-images", "--release", str(release), "--out", str(root / "images"), "--size",
         str(args.side), "--no-progress"],
        root / "standin.log",
    )  # fmt: skip
    dataset = root / "dataset"
    times["cogip-upload build"] = stage(
        "cogip-upload build",
        [*upload, "build", "--release", str(release), "--images", str(root / "images"), "--out", str(dataset),
         "--no-progress"],
        root / "build.log",
    )  # fmt: skip
    train = root / "train"
    times["cogip-train, 1 epoch"] = stage(
        "cogip-train, 1 epoch of 3,200 rows",
        [str(BIN / "cogip-train"), "--model_args", f"pretrained={model},{TINY}", "--dataset", str(dataset),
         "--epochs", "1", "--batch-size", str(args.batch_size), "--global-batch-size", str(args.batch_size),
         "--tune-merger", "full", "--save-steps", "100000", "--logging-steps", "50", "--merge", "--output-dir",
         str(train)],
        root / "train.log",
    )  # fmt: skip
    results, profile = root / "eval", root / "eval.prof"
    times["cogip-eval, 480 items"] = stage(
        "cogip-eval on the 480-item cogip group",
        [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "cogip_tasks.cli", "eval", "--model",
         "qwen2_5_vl", "--model_args", f"pretrained={train / 'merged'},{TINY}", "--tasks", "cogip",
         "--batch_size", str(args.batch_size), "--output_path", str(results), "--log_samples"],
        root / "eval.log",
        {"COGIP_DATASET": str(dataset)},
    )  # fmt: skip
    board = [str(BIN / "cogip-leaderboard")]
    submission = root / "submission.json"
    times["leaderboard submit"] = stage(
        "cogip-leaderboard submit",
        [*board, "submit", str(results), "--name", "tiny, 1 epoch", "-o", str(submission)],
        root / "submit.log",
        {"COGIP_DATASET": str(dataset)},
    )
    times["leaderboard verify"] = stage(
        "cogip-leaderboard verify",
        [*board, "verify", str(submission), "--dataset", str(dataset)],
        root / "verify.log",
    )
    own, model_s, total = own_share(profile)
    print()
    print("| stage | wall time |")
    print("|---|---|")
    for name, seconds in times.items():
        print(f"| {name} | {seconds:.1f} s |")
    print(f"| total | {sum(times.values()):.1f} s |")
    print()
    print("| cogip-eval, profiled | seconds | share |")
    print("|---|---|---|")
    rest = total - own - model_s
    for name, seconds in (("CogIP's own work (row checks, parsing, metrics, bootstrap)", own),
                          ("the model (lmms-eval wrapper's generate_until)", model_s),
                          ("start-up, loading and lmms-eval itself", rest)):  # fmt: skip
        print(f"| {name} | {seconds:.1f} | {seconds / total:.1%} |")


if __name__ == "__main__":
    main()
