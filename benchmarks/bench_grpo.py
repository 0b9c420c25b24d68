"""Time per GRPO step next to a soft-label SFT step on the same rows, tiny random Qwen2.5-VL, CPU.

Both runs go through the real ``cogip-train`` CLI (``--method sft`` / ``--method grpo``) on the same rows with
``--batch-size 4``: SFT trains on 4 rows per step; GRPO samples 2 answers for each of 2 rows (4 completions,
``--max-completion-length`` tokens each, generation included), scores them and takes the policy step. The
time per step is the Trainer's ``train_runtime`` of a long run minus that of a 1-step run, over the step
difference, so model loading and the first step's set-up are left out.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_grpo.py [--steps 8] [--completion 16]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def runtime(command: list[str], out: Path, env: dict[str, str]) -> float:
    proc = subprocess.run(command + ["--output-dir", str(out)], env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"bench_grpo: {' '.join(command)} failed:\n{proc.stderr[-3000:]}")
    log = json.loads((out / "train_log.json").read_text())["log_history"]
    return next(e["train_runtime"] for e in log if "train_runtime" in e)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--completion", type=int, default=16, help="GRPO --max-completion-length")
    args = parser.parse_args()

    from cogip_tasks.synthetic import build_sample_dataset
    from cogip_tasks.tiny_model import build_tiny_qwen2_5_vl

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env["HF_HOME"] = str(root / "hf")  # the datasets cache of the local folder stays out of ~/.cache
        model = build_tiny_qwen2_5_vl(root / "model", seed=0)
        data = build_sample_dataset(root / "data", n_train=6, n_test=1, seed=0)
        base = [
            sys.executable,
            "-m",
            "cogip_train",
            "--model",
            "qwen2_5_vl",
            "--model_args",
            f"pretrained={model},device=cpu,device_map=cpu",
            "--min-pixels",
            "3136",
            "--max-pixels",
            "3136",
            "--dataset",
            str(data),
            "--dimensions",
            "aesthetics",
            "--batch-size",
            "4",
            "--logging-steps",
            "1",
            "--save-steps",
            "1000",
            "--seed",
            "0",
        ]
        methods = {
            "sft": base + ["--method", "sft"],
            "grpo": base + ["--method", "grpo", "--max-completion-length", str(args.completion), "--beta", "0.04"],
        }
        per_step = {}
        for name, command in methods.items():
            one = runtime(command + ["--max-steps", "1"], root / f"{name}-1", env)
            many = runtime(command + ["--max-steps", str(args.steps)], root / f"{name}-n", env)
            per_step[name] = (many - one) / (args.steps - 1)
    threads = env["OMP_NUM_THREADS"]
    print(
        f"tiny Qwen2.5-VL, CPU, OMP_NUM_THREADS={threads}, batch 4 (GRPO: 2 rows x 2 answers of <= "
        f"{args.completion} tokens, beta 0.04):"
    )
    for name, seconds in per_step.items():
        print(f"  {name:5s} {seconds * 1000:8.1f} ms/step")
    print(f"  grpo/sft {per_step['grpo'] / per_step['sft']:.1f}x")


if __name__ == "__main__":
    main()
