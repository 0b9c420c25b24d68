"""Time the scoring path of a full test split, and both parsers on hostile answers.

    python benchmarks/bench_scoring.py [--items 480] [--resamples 1000] [--repeats 5] [--hostile-size 1048576]

Split: parse 480 answers, every metric, 1,000-resample bootstrap; target well under 1 s on a 2-core machine.
Hostile: each adversarial answer shape of --hostile-size characters through parse_answer and
parse_answer_release; target < 100 ms each (a leaderboard re-parses every answer of every submission).
Prints medians of --repeats runs.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import numpy as np

from cogip_tasks import DIMENSIONS, compute_metrics, parse_answer
from cogip_tasks.scoring import parse_answer_release


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
        compute_metrics(
            [p.score for p, _ in mine], [h for _, h in mine], key, [p.label for p, _ in mine], n_resamples=resamples
        )
    end = time.perf_counter()
    return after_parse - start, end - after_parse


def adversarial_answers(size: int = 1 << 20) -> dict[str, str]:
    """Answer shapes that made cogip-parse-1 quadratic or worse, and others aimed at each rule, ``size`` chars."""

    def rep(unit: str) -> str:
        return (unit * (size // len(unit) + 1))[:size]

    rng = random.Random(0)
    alphabet = "0123456789 .,-+%/eE\u2212\u2013()\n:=" + "very high low medium score rated give of"
    return {
        "digits": "7" * size,
        "digits, one '.5' at the end": "7" * (size - 2) + ".5",
        "'high 7 ' repeated": rep("high 7 "),
        "'7 - 8 - 9 - ' chain": rep("7 - 8 - 9 - "),
        "'7-8-' chain": rep("7-8-"),
        "'score ' repeated": rep("score "),
        "'score: (' repeated": rep("score: ("),
        "'very high ' labels": rep("very high "),
        "'very ' repeated": rep("very "),
        "dashes": "-" * size,
        "'-7 ' repeated": rep("-7 "),
        "Unicode minus": "\u2212" * size,
        "'\u22127 ' repeated": rep("\u22127 "),
        "'50% ' repeated": rep("50% "),
        "'7/10/' chain": rep("7/10/"),
        "'7 out of 10 out of ' chain": rep("7 out of 10 out of "),
        "'1.2,' separators": rep("1.2,"),
        "'on a scale of 0 to 10 '": rep("on a scale of 0 to 10 "),
        "'between 1 and '": rep("between 1 and "),
        "spaces, then 'high 7'": " " * (size - 6) + "high 7",
        "NFKC-expanding U+FDFA": rep("\ufdfa "),
        "random from the parser's alphabet": "".join(rng.choices(alphabet, k=size)),
    }


def time_hostile(size: int, repeats: int) -> list[tuple[str, float, float]]:
    """(shape, parse_answer ms, parse_answer_release ms), medians of ``repeats`` runs."""
    rows = []
    for name, text in adversarial_answers(size).items():
        times = []
        for parser in (parse_answer, parse_answer_release):
            runs = []
            for _ in range(repeats):
                start = time.perf_counter()
                parser(text, "emotional_valence")
                runs.append(time.perf_counter() - start)
            times.append(statistics.median(runs) * 1000)
        rows.append((name, *times))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=480)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--hostile-size", type=int, default=1 << 20, help="characters per adversarial answer")
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
    print(f"\nhostile answers of {args.hostile_size:,} characters (median ms; target < 100 ms each)")
    print(f"{'shape':36s} {'parse_answer':>12s} {'release':>9s}")
    worst = 0.0
    for name, cogip_ms, release_ms in time_hostile(args.hostile_size, args.repeats):
        worst = max(worst, cogip_ms, release_ms)
        print(f"{name:36s} {cogip_ms:12.1f} {release_ms:9.1f}")
    print(f"worst: {worst:.1f} ms   {'OK' if worst < 100 else 'OVER'} (target < 100 ms)")


if __name__ == "__main__":
    main()
