"""Time the scoring path of a full test split: parse 480 answers, every metric, 1,000-resample bootstrap.

    python benchmarks/bench_scoring.py [--items 480] [--resamples 1000] [--repeats 5]

Target: well under 1 s on a 2-core machine. Prints the median of --repeats runs and its parts.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from cogip_tasks import DIMENSIONS, compute_metrics, parse_answer


def synthetic_answers(n_items: int, seed: int = 0) -> list[tuple[str, str, float]]:
    """(answer, dimension, human score): describe-then-predict answers, some chatty, some unparsable."""
    rng = np.random.default_rng(seed)
    dims = list(DIMENSIONS.values())
    rows = []
    for i in range(n_items):
        dim = dims[i % len(dims)]
        human = float(rng.uniform(dim.low, dim.high))
        pred = float(np.clip(human + rng.normal(0, (dim.high - dim.low) / 6), dim.low, dim.high))
        style = i % 5
        text = [
            f"{dim.label_for(pred)} {pred:.3f}",
            f"**Label:** {dim.label_for(pred)}\n**Score:** {pred:.2f}",
            f"Looking at the 3 main elements, I would say {dim.label_for(pred)} {pred:.3f}. Hope this helps!",
            f"Score: {pred:.1f} out of {dim.high:g}" if dim.low == 0 else f"valence {pred:+.0f}",
            "I am not able to judge this image.",
        ][style]
        rows.append((text, dim.key, human))
    return rows


def score_split(rows, resamples: int) -> tuple[float, float]:
    start = time.perf_counter()
    parsed = [(parse_answer(text, dim), dim, human) for text, dim, human in rows]
    after_parse = time.perf_counter()
    for key in DIMENSIONS:
        mine = [(p, h) for p, dim, h in parsed if dim == key]
        compute_metrics([p.score for p, _ in mine], [h for _, h in mine], key, [p.label for p, _ in mine],
                        n_resamples=resamples)
    end = time.perf_counter()
    return after_parse - start, end - after_parse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=480)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = synthetic_answers(args.items)
    score_split(rows, args.resamples)  # warm-up: imports, regex compilation
    runs = [score_split(rows, args.resamples) for _ in range(args.repeats)]
    parse_s = statistics.median(r[0] for r in runs)
    metric_s = statistics.median(r[1] for r in runs)
    total = statistics.median(r[0] + r[1] for r in runs)
    print(f"items: {args.items} (4 dimensions), bootstrap resamples: {args.resamples}, repeats: {args.repeats}")
    print(f"parse:                  {parse_s * 1000:8.1f} ms")
    print(f"metrics + bootstrap CI: {metric_s * 1000:8.1f} ms")
    print(f"total (median):         {total * 1000:8.1f} ms   target < 1000 ms")


if __name__ == "__main__":
    main()
