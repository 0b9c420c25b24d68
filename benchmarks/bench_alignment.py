"""The demo's loop across seeds and losses: base tiny model -> cogip-train -> held-out SRCC (greedy and expected).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_alignment.py --seeds 0 1 2 --losses soft ce

For every seed: the sample benchmark of that seed (learnable toy targets, see ``cogip_tasks.synthetic``) and the
tiny Qwen2.5-VL of that seed; the base model and one aligned model per loss are evaluated with ``cogip-eval
--model cogip_expected`` (one run gives both readouts: the greedy answer is in each logged answer, the expected
score after it). Prints, per method (loss x readout), the mean +- sd over seeds of each dimension's SRCC and of
their mean, the paired per-seed differences between losses, its wall time and thread settings, and writes a PNG
of SRCC by method (one dot per seed). Every command is the demo's (``cogip_tasks.demo``): same recipe, same
pixels, same answer length.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cogip_tasks.threads import apply_cpu_threads  # noqa: E402  (before torch: the CPU thread rule)

LOSSES = ("soft", "ce")  # add "grpo" once cogip-train has it


def method_srcc(results_file: Path) -> dict[str, dict[str, float]]:
    """``{readout: {dimension: srcc, 'mean': ...}}`` from one cogip_expected run's per-item logs."""
    from cogip_tasks.dimensions import DIMENSIONS
    from cogip_tasks.metrics import metrics_of_records
    from cogip_tasks.readout import split_readout
    from cogip_tasks.results import read_samples, samples_file
    from cogip_tasks.scoring import parse_answer

    out: dict[str, dict[str, float]] = {"greedy": {}, "expected": {}}
    for dim in DIMENSIONS.values():
        samples = read_samples(samples_file(results_file, dim.task_name))
        for readout in out:
            records = []
            for s in samples:
                item = s["srcc"]
                if readout == "greedy":  # re-parse the greedy answer the expected line was read from
                    greedy, _ = split_readout(
                        s["filtered_resps"] if isinstance(s["filtered_resps"], str) else s["filtered_resps"][0]
                    )
                    parsed = parse_answer(greedy, dim)
                    records.append((item["id"], parsed.score, item["human"], parsed.label))
                else:
                    records.append((item["id"], item["pred"], item["human"], item["label"]))
            out[readout][dim.key] = metrics_of_records(records, dim.key)["srcc"]
    for values in out.values():
        finite = [v for v in values.values() if math.isfinite(v)]
        # an undefined SRCC (constant answers) ranks nothing: counted as 0 in the mean, as chance
        values["mean"] = sum(v if math.isfinite(v) else 0.0 for v in values.values()) / len(values)
        values["n_undefined"] = len(values) - 1 - len(finite)
    return out


def mean_sd(values: list[float]) -> str:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return "n/a"
    sd = statistics.stdev(finite) if len(finite) > 1 else float("nan")
    return f"{statistics.fmean(finite):.3f} +- {sd:.3f}" + (
        f" ({len(values) - len(finite)} n/a)" if len(finite) < len(values) else ""
    )


def main(argv: list[str] | None = None) -> int:
    threads = apply_cpu_threads()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--losses", nargs="+", choices=LOSSES, default=list(LOSSES))
    p.add_argument("--steps", type=int, default=None, help="cogip-train steps (default: the demo's)")
    p.add_argument("--n-train", type=int, default=None, help="train items per dimension (default: the demo's)")
    p.add_argument("--n-test", type=int, default=32, help="test items per dimension (default 32)")
    p.add_argument("--workdir", type=Path, default=Path("bench_alignment_runs"))
    p.add_argument("--png", type=Path, default=Path("bench_alignment.png"))
    args = p.parse_args(argv)

    from cogip_tasks import demo
    from cogip_tasks.dimensions import DIMENSION_KEYS

    defaults = demo.build_parser().parse_args([])
    steps, n_train = args.steps or defaults.steps, args.n_train or defaults.n_train
    start = time.perf_counter()
    gen = ("--gen_kwargs", f"max_new_tokens={demo.ANSWER_TOKENS}")
    model_args = f"{demo.CPU_ARGS},{demo.ALIGN_PIXELS}"
    expected = demo.READOUTS[1]
    scores: dict[tuple[str, str], list[dict[str, float]]] = {}  # (stage, readout) -> one dict per seed
    for seed in args.seeds:
        work = args.workdir / f"seed{seed}"
        data, base = demo.build_demo_inputs(work, n_train, args.n_test, seed, short_prompts=True)
        env = {**os.environ, "COGIP_DATASET": str(data), "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
        stages = {"base": base}
        for loss in args.losses:
            stages[loss], _ = demo.align(
                base, data, work / f"aligned_{loss}_steps{steps}_train{n_train}", steps, loss, seed, env
            )
        for stage, model in stages.items():
            results_file = demo.evaluate(str(model), expected, model_args, work / "results" / stage, env, gen)
            for readout, values in method_srcc(results_file).items():
                scores.setdefault((stage, readout), []).append(values)
    wall = time.perf_counter() - start

    columns = [*DIMENSION_KEYS, "mean"]
    print(
        f"\n## bench_alignment: {len(args.seeds)} seeds ({' '.join(map(str, args.seeds))}), {steps} steps, "
        f"{n_train} train / {args.n_test} test items per dimension; SRCC mean +- sd over seeds (undefined SRCC, "
        f"i.e. constant answers, counted as 0 in 'mean')\n"
    )
    print("| method | " + " | ".join(columns) + " |\n|---|" + "---:|" * len(columns))
    for (stage, readout), per_seed in scores.items():
        print(f"| {stage} {readout} | " + " | ".join(mean_sd([s[c] for s in per_seed]) for c in columns) + " |")
    print("\nPaired per-seed differences of the mean SRCC (same seed: same data, same base model):\n")
    stages = ["base", *args.losses]
    for readout in ("greedy", "expected"):
        for a, b in itertools.combinations(stages, 2):
            diffs = [x["mean"] - y["mean"] for x, y in zip(scores[(b, readout)], scores[(a, readout)])]
            print(f"- {readout}: {b} - {a}: " + ", ".join(f"{d:+.3f}" for d in diffs) + f"  (mean {mean_sd(diffs)})")
    print(
        f"\nwall time {wall:.0f} s; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')} "
        f"({threads} thread(s) per process), {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    plot(scores, args.png)
    print(f"plot: {args.png}")
    return 0


def plot(scores: dict[tuple[str, str], list[dict[str, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cogip_tasks.files import atomic_write

    methods = list(scores)
    fig, ax = plt.subplots(figsize=(1.3 * len(methods) + 2, 3.4), dpi=120)
    for i, method in enumerate(methods):
        values = [s["mean"] for s in scores[method]]
        ax.scatter([i] * len(values), values, s=18, alpha=0.7)
        ax.hlines(statistics.fmean(values), i - 0.25, i + 0.25, color="black")
    ax.set_xticks(range(len(methods)), [f"{s}\n{r}" for s, r in methods])
    ax.axhline(0, color="grey", linewidth=0.6)
    ax.set(ylabel="held-out SRCC (mean of 4 dims)", title="tiny Qwen2.5-VL on the toy target: base vs aligned")
    fig.tight_layout()
    atomic_write(path, lambda handle: fig.savefig(handle, format="png"))
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
