"""Memory shows the sharding: peak memory per process of cogip-train's full fine-tuning (AdamW, float32) on the CPU,
1 process vs 2 processes under data parallel, DeepSpeed ZeRO-2, ZeRO-3 and FSDP2, side by side in one run.

    nice .venv/bin/python benchmarks/bench_sharding.py                 # ~230M parameters, about 10 GB at peak
    nice .venv/bin/python benchmarks/bench_sharding.py --layers 2      # smaller and quicker

The model is a random Qwen2.5-VL (Qwen2.5's 151,936-token embedding, tied to the output head; ``--layers``
decoder layers of width 1,024) saved once; every configuration trains it through the real CLI (``accelerate launch
--config_file cogip_train/configs/cpu/<engine>.yaml -m cogip_train --tune-llm full --tune-merger full``) for
``--steps`` optimizer steps of 1 row per process, and runs one after the other (never two at once).

Figures per configuration:
- peak RSS per process: the largest resident set of any rank during the run (polled every 50 ms; the
  launcher itself excluded; it includes each process's ~1 GB of imported libraries), and the machine's total
  (the ranks' peaks added);
- model state per rank: parameters + gradients + AdamW's two moments of the parameters this rank holds,
  4 bytes each: 16 bytes x trainable elements x the rank's share (train_log.json's ``local_parameter_share``;
  ZeRO-2 shards gradients and optimizer state but not parameters: 4 + 12 / processes bytes per element).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cogip_train.launch_configs import config_path  # noqa: E402

CONFIGS = [
    ("1 process", None),
    ("DDP", "cpu/ddp"),
    ("ZeRO-2", "cpu/zero2"),
    ("ZeRO-3", "cpu/zero3"),
    ("FSDP2", "cpu/fsdp"),
]
QWEN_VOCAB = 151_936


def build(root: Path, layers: int) -> tuple[Path, Path, int]:
    from cogip_tasks.synthetic import build_sample_dataset
    from cogip_tasks.tiny_model import build_tiny_qwen2_5_vl

    model = build_tiny_qwen2_5_vl(
        root / "model", text_hidden=1024, text_layers=layers, text_heads=16, text_kv_heads=4,
        text_intermediate=2816, vision_hidden=128, vision_depth=2, vision_heads=2, vocab_size=QWEN_VOCAB,
    )  # fmt: skip
    dataset = build_sample_dataset(root / "dataset", n_train=8, n_test=1, seed=0)
    from safetensors import safe_open

    with safe_open(str(model / "model.safetensors"), framework="pt") as f:
        n_params = sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())
    return model, dataset, n_params


def ranks(launcher: psutil.Process) -> list[psutil.Process]:
    """The training processes: the launcher itself when it trains (1 process), else its python children that
    run cogip_train (torchrun's workers), never the launchers."""
    found = []
    for proc in [launcher, *launcher.children(recursive=True)]:
        try:
            cmd = proc.cmdline()
        except psutil.Error:
            continue
        if "cogip_train" in cmd and "launch" not in cmd and "torch.distributed.run" not in " ".join(cmd):
            if not any(c.endswith(("accelerate", "torchrun")) for c in cmd[:2]):
                found.append(proc)
    return found


def run(config: str | None, model: Path, dataset: Path, out: Path, steps: int) -> dict:
    processes = 1 if config is None else 2
    args = [
        "-m", "cogip_train", "--model_args", f"pretrained={model},device=cpu,device_map=cpu", "--min-pixels",
        "3136", "--max-pixels", "3136", "--dataset", str(dataset), "--dimensions", "aesthetics", "--max-samples",
        "8", "--batch-size", "1", "--global-batch-size", str(processes), "--tune-llm", "full", "--tune-merger",
        "full", "--max-steps", str(steps), "--save-steps", "1000", "--logging-steps", "1", "--output-dir", str(out),
    ]  # fmt: skip
    if config is None:
        command = [sys.executable, *args]
    else:
        accelerate = str(Path(sys.executable).with_name("accelerate"))
        launch = ["launch", "--config_file", str(config_path(config)), "--main_process_port", "29731"]
        command = [accelerate, *launch, *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    env["PYTHONPATH"] = f"{REPO}{os.pathsep}{env.get('PYTHONPATH', '')}"
    log = open(out.with_suffix(".log"), "w")
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    launcher = psutil.Process(proc.pid)
    peak: dict[int, int] = {}
    while proc.poll() is None:
        for rank in ranks(launcher):
            try:
                rss = rank.memory_info().rss
            except psutil.Error:
                continue
            peak[rank.pid] = max(peak.get(rank.pid, 0), rss)
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{config or '1 process'} failed ({proc.returncode}); see {log.name}")
    report = json.loads((out / "train_log.json").read_text())["settings"].get("engine", {})
    worst = max(peak, key=peak.get)
    return {
        "processes": processes,
        "peak": peak[worst],
        "total": sum(peak.values()),
        "ranks_seen": len(peak),
        "share": report.get("local_parameter_share"),
        "engine": report.get("engine"),
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=6, help="decoder layers of width 1,024 (default 6)")
    parser.add_argument("--steps", type=int, default=1, help="optimizer steps (AdamW's state exists from the first)")
    parser.add_argument("--only", help="comma list of configurations to run (e.g. 'ZeRO-3,FSDP2')")
    args = parser.parse_args()
    chosen = [c for c in CONFIGS if not args.only or c[0] in args.only.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-sharding-") as tmp:
        root = Path(tmp)
        model, dataset, n_params = build(root, args.layers)
        print(f"random Qwen2.5-VL: {n_params / 1e6:.0f}M parameters (all trained), float32, AdamW; {args.steps} steps")
        rows = []
        for name, config in chosen:
            result = run(config, model, dataset, root / name.replace(" ", "_"), args.steps)
            rows.append((name, result))
            print(f"  {name}: done in {result['seconds']:.0f} s: {result}", flush=True)
    gib = 2**30
    base = next((r for n, r in rows if n == "1 process"), None)
    print()
    print(
        "| configuration | processes | engine | peak RSS per process | vs 1 process | all processes "
        "| parameters held per rank | model state per rank (bytes x elements held) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, r in rows:
        ratio = f"{r['peak'] / base['peak']:.2f}x" if base else "-"
        share = r["share"] if r["share"] is not None else 1.0
        if r["engine"] == "deepspeed-zero2":  # parameters whole; gradients and AdamW's moments partitioned
            state = n_params * (4 + 12 / r["processes"])
        else:
            state = n_params * 16 * share
        print(
            f"| {name} | {r['processes']} | {r['engine']} | {r['peak'] / gib:.2f} GiB | {ratio} "
            f"| {r['total'] / gib:.2f} GiB | {share:.2f} | {state / gib:.2f} GiB |"
        )


if __name__ == "__main__":
    main()
