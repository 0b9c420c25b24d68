"""Cost of `cogip-leaderboard build` as the leaderboard grows, and of one `verify`.

For N = 10, 100, 500 synthetic verified submissions on a 480-item test split (120 per dimension), one run
prints side by side: a cold build (empty cache), a rebuild with nothing changed, a rebuild after adding one
submission, and `verify` of one submission (ground truth loaded, file read, every number re-derived). All
timings are in-process, after imports (the commands' own import time is printed once). Targets (issue 26.1):
cold 500 under 2 minutes, adding one to 500 under 5 s, verify of one under 2 s.

    .venv/bin/python benchmarks/bench_leaderboard.py [--sizes 10 100 500] [--answer-mb 1.6]

The last line times the reasoning-tag stripping of one hostile 1.6 MB answer (100,000 blocks), which took
lmms-eval's quadratic version about a minute.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the synthetic submissions are a test fixture, not shipped
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def run_cli(argv: list[str]) -> int:
    from cogip_tasks.leaderboard.cli import main

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            main(argv)
        except SystemExit as stop:
            return int(stop.code or 0)
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 500])
    parser.add_argument("--per-dimension", type=int, default=120, help="test items per dimension (480 in all)")
    parser.add_argument("--answer-mb", type=float, default=1.6)
    args = parser.parse_args()

    start = time.perf_counter()
    import cogip_tasks.leaderboard.cli  # noqa: F401
    from cogip_tasks.files import write_json
    from cogip_tasks.leaderboard.reasoning import strip_reasoning_tags
    from cogip_tasks.leaderboard.verify import load_ground_truth
    from cogip_tasks.synthetic import build_sample_dataset
    from fixtures.leaderboard import synthetic_submission

    import_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        dataset = build_sample_dataset(tmp / "dataset", n_train=4, n_test=args.per_dimension, seed=0)
        truth = load_ground_truth(str(dataset))
        n_max = max(args.sizes) + 1
        pool = tmp / "pool"
        pool.mkdir()
        _, make_s = _timed(
            lambda: [
                write_json(pool / f"sub{i:04d}.json", synthetic_submission(truth, seed=i, name=f"model {i:04d}"))
                for i in range(n_max)
            ]
        )
        data = ["--dataset", str(dataset)]
        print(
            f"{truth.n_items()} test items; {n_max} synthetic submissions made in {make_s:.0f} s; "
            f"imports {import_s:.1f} s; {os.cpu_count()} CPUs, OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}"
        )
        print(f"{'N':>5} {'cold build':>11} {'no change':>10} {'add one':>9} {'verify one':>11}")
        for n in args.sizes:
            subs, site, cache = tmp / f"subs{n}", tmp / f"site{n}", tmp / f"cache{n}"
            subs.mkdir()
            for i in range(n):
                shutil.copy(pool / f"sub{i:04d}.json", subs)
            build = ["build", str(subs), "-o", str(site), "--cache-dir", str(cache), *data]
            code_cold, cold = _timed(partial(run_cli, build))
            code_same, same = _timed(partial(run_cli, build))
            shutil.copy(pool / f"sub{n_max - 1:04d}.json", subs)
            code_add, add = _timed(partial(run_cli, build))
            code_verify, verify = _timed(partial(run_cli, ["verify", str(subs / "sub0000.json"), *data]))
            assert code_cold == code_same == code_add == code_verify == 0, (code_cold, code_same, code_add, code_verify)
            print(f"{n:>5} {cold:>10.1f}s {same:>9.1f}s {add:>8.1f}s {verify:>10.2f}s", flush=True)
        blocks = int(args.answer_mb * 1e6 / len("<think>x</think>"))
        answer = "<think>x</think>" * blocks + "high 7.5"
        _, strip_s = _timed(lambda: strip_reasoning_tags(answer, [["<think>", "</think>"]]))
        print(f"reasoning-tag stripping of a {len(answer) / 1e6:.1f} MB answer ({blocks} blocks): {strip_s:.2f} s")


if __name__ == "__main__":
    main()
