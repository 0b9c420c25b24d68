"""``cogip-demo``: the whole benchmark pipeline offline, in about a minute on a laptop CPU.

It builds a small CogIP-format dataset of procedural images (synthetic scores, see
``cogip_tasks.synthetic``) and a tiny random-weight Qwen2.5-VL, runs the real lmms-eval CLI on the four
tasks and the ``cogip`` group through ``cogip-eval``, and prints the results table. A random model's answers
are noise: expect unparsed answers (counted in ``parse_rate``) and correlations near zero or n/a. Swap in a
real model with ``--pretrained Qwen/Qwen2.5-VL-3B-Instruct`` (needs the Hub).
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
    out = args.workdir / "results"
    command = [
        sys.executable, "-m", "cogip_tasks.cli", "eval",
        "--model", "qwen2_5_vl",
        "--model_args", f"pretrained={pretrained},device=cpu,device_map=cpu,max_pixels=12544,min_pixels=3136",
        "--tasks", "cogip", "--batch_size", "4", "--output_path", str(out), "--log_samples",
    ]
    print("[cogip-demo] running: COGIP_DATASET=" + str(data) + " " + " ".join(command[2:]), flush=True)
    env = {**os.environ, "COGIP_DATASET": str(data), "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
    if subprocess.run(command, env=env).returncode != 0:
        print("[cogip-demo] lmms-eval failed (see its output above)", file=sys.stderr)
        return 1
    results_file = latest_results_file(out)
    print(f"\nCogIP-Bench on the synthetic sample ({args.n_test} items per dimension), model: {pretrained}\n")
    print(format_table(json.loads(results_file.read_text())))
    print(f"\nresults: {results_file}\nper-item answers: {results_file.parent}/*_samples_cogip_*.jsonl")
    return 0


if __name__ == "__main__":
    sys.exit(main())
