"""``cogip-demo``: the whole benchmark pipeline offline, in about a minute and a half on a laptop CPU.

It builds a small CogIP-format dataset of procedural images (synthetic scores, see ``cogip_tasks.synthetic``)
and a tiny random-weight Qwen2.5-VL, then runs the real lmms-eval CLI (through ``cogip-eval``) on the four tasks
and the ``cogip`` group twice: with lmms-eval's ``qwen2_5_vl`` (greedy answers) and with ``cogip_expected``
(the same model, score read from its digit/label probabilities). It prints both results tables, and turns the
two runs into leaderboard submissions and a static leaderboard page with scatter plots.

A random model's answers are noise: greedy answers rarely parse (counted in ``parse_rate``, correlations n/a),
and the expected readout gives scores whose correlations are chance. Swap in a real model with
``--pretrained Qwen/Qwen2.5-VL-3B-Instruct`` (needs the Hub).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from .results import format_table, latest_results_file


def build_demo_inputs(workdir: Path, n_test: int, seed: int) -> tuple[Path, Path]:
    from .synthetic import build_sample_dataset
    from .tiny_model import build_tiny_qwen2_5_vl

    data = build_sample_dataset(workdir / "sample_dataset", n_train=n_test, n_test=n_test, seed=seed)
    model = workdir / "tiny_qwen2_5_vl"
    if not (model / "config.json").exists():
        build_tiny_qwen2_5_vl(model, seed=seed)
    return data, model


RUNS = (("greedy", "qwen2_5_vl", ""), ("expected", "cogip_expected", ",readout=expected_digits"))
CPU_ARGS = "device=cpu,device_map=cpu,max_pixels=12544,min_pixels=3136"


def run_step(title: str, command: list[str], env: dict[str, str]) -> None:
    print(f"[cogip-demo] {title}: {' '.join(command[2:])}", flush=True)
    if subprocess.run(command, env=env).returncode != 0:
        raise SystemExit(f"[cogip-demo] {title} failed (see its output above)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cogip-demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path("cogip_demo"), help="where inputs and results go")
    parser.add_argument("--n-test", type=int, default=8, help="test items per dimension (default 8)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pretrained", help="evaluate this model instead of the tiny random one")
    args = parser.parse_args(argv)

    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"[cogip-demo] building the sample dataset and tiny model in {args.workdir}/ ...", flush=True)
    data, model = build_demo_inputs(args.workdir, args.n_test, args.seed)
    pretrained = args.pretrained or str(model)
    env = {**os.environ, "COGIP_DATASET": str(data), "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
    print(f"[cogip-demo] COGIP_DATASET={data}", flush=True)

    tables, submissions = [], args.workdir / "submissions"
    for name, lmms_model, extra_args in RUNS:
        out = args.workdir / "results" / name
        run_step(f"lmms-eval ({name})", [
            sys.executable, "-m", "cogip_tasks.cli", "eval", "--model", lmms_model,
            "--model_args", f"pretrained={pretrained},{CPU_ARGS}{extra_args}",
            "--tasks", "cogip", "--batch_size", "4", "--output_path", str(out), "--log_samples",
        ], env)
        results_file = latest_results_file(out)
        tables.append((name, lmms_model, results_file, format_table(json.loads(results_file.read_text()))))
        run_step(f"leaderboard submission ({name})", [
            sys.executable, "-m", "cogip_tasks.leaderboard", "submit", str(out),
            "--name", f"tiny Qwen2.5-VL, {name} readout" if not args.pretrained else f"{pretrained} ({name})",
            "-o", str(submissions / f"{name}.json"),
        ], env)
    board = args.workdir / "leaderboard"
    run_step("leaderboard", [sys.executable, "-m", "cogip_tasks.leaderboard", "build", str(submissions),
                             "-o", str(board)], env)

    print(f"\nCogIP-Bench on the synthetic sample ({args.n_test} items per dimension), model: {pretrained}")
    for name, lmms_model, results_file, table in tables:
        print(f"\n### {name} readout (lmms-eval --model {lmms_model})\n\n{table}\n\nresults: {results_file}")
    print(f"\nleaderboard page (open in a browser, no server needed): {board / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
