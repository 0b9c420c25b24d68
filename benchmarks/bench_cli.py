"""How fast each command answers what should be instant: ``--help``, ``cogip-eval tasks list``, an argument error.

    python benchmarks/bench_cli.py [--repeats 3]

Each case runs in a fresh interpreter (as a user's shell would start the console script), best of --repeats; the
target is well under a second on an idle machine. Figures depend on the machine's load: compare them within one
run (``python -c pass`` is printed as the floor: the interpreter's own start).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

CASES = [
    ("python -c pass (floor)", ["-c", "pass"]),
    ("cogip-eval --help", ["-m", "cogip_tasks.cli", "--help"]),
    ("cogip-eval tasks list", ["-m", "cogip_tasks.cli", "tasks", "list"]),
    ("cogip-demo --help", ["-m", "cogip_tasks.demo", "--help"]),
    ("cogip-demo --seed -1 (argument error)", ["-m", "cogip_tasks.demo", "--seed", "-1"]),
    ("cogip-leaderboard --help", ["-m", "cogip_tasks.leaderboard", "--help"]),
    ("cogip-leaderboard verify --help", ["-m", "cogip_tasks.leaderboard", "verify", "--help"]),
    ("cogip-upload --help", ["-m", "hub_upload", "--help"]),
    ("cogip-upload build --help", ["-m", "hub_upload", "build", "--help"]),
    ("cogip-train --help", ["-m", "cogip_train", "--help"]),
    ("cogip-train --learning-rate 1e39 (argument error)", ["-m", "cogip_train", "--learning-rate", "1e39"]),
    ("cogip-train configs", ["-m", "cogip_train", "configs"]),
    ("cogip-gen --help", ["-m", "cogip_gen", "--help"]),
    ("cogip-gen judge --help", ["-m", "cogip_gen", "judge", "--help"]),
]


def seconds(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], capture_output=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{'command':<52} {'best of ' + str(args.repeats):>10}")
    for name, argv in CASES:
        best = min(seconds(argv) for _ in range(args.repeats))
        print(f"{name:<52} {best:>8.2f} s")


if __name__ == "__main__":
    main()
