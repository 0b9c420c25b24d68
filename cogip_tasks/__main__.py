"""``python -m cogip_tasks``: where the task folder is, and what the benchmark holds.

lmms-eval eval --include_path "$(python -m cogip_tasks --path)" --tasks cogip ...
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .dimensions import BUILTIN_SPEC, SPEC_PATH

TASKS_PATH = Path(__file__).resolve().parent / "tasks"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m cogip_tasks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--path", action="store_true", help="print the folder to pass to lmms-eval --include_path")
    args = parser.parse_args(argv)
    if args.path:
        print(TASKS_PATH)
        return
    print(f"{BUILTIN_SPEC.title} tasks (group: {BUILTIN_SPEC.name}; spec: {SPEC_PATH}):")
    for dim in BUILTIN_SPEC.dimensions:
        bins = ", ".join(f"{b.label} <{'=' if b.upper_inclusive else ''} {b.upper:g}" for b in dim.bins)
        print(f"  {dim.task_name:<26} range {dim.low:g}..{dim.high:g}   labels: {bins}")
    print(f"task folder: {TASKS_PATH}")


if __name__ == "__main__":
    main()
