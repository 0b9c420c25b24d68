"""Time per item of each readout mode of ``cogip_expected``, measured side by side in one run.

    python benchmarks/bench_readout.py                     # CPU, random Qwen2.5-VL with Qwen2.5's real vocabulary
    python benchmarks/bench_readout.py --free --max-new-tokens 64   # the random model's own (number-less) answers

Target: ``expected_digits`` costs at most 1.2x ``greedy``: it reads the logits ``generate`` already computed
at the answer's digit positions, so the extra cost is keeping those logits and a few softmaxes.

By default every mode answers the same describe-then-predict text ("The image shows ..., so high 7.234"), forced
through a logits processor: a random model rarely writes a number, and without one ``expected_digits`` has
nothing to read and falls back to the label readout (``--free`` measures that case). The model is random, so
the scores mean nothing; only the timings do. The modes run round-robin, repeat by repeat, so drift in machine
load hits them alike; the figures are the minimum (least disturbed) and the median over repeats.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

DIMS = ("aesthetics", "funniness", "emotional_valence", "memorability")
MODES = ("greedy", "expected_digits", "expected_label")


def forced_answer(i: int, dim) -> str:
    score = dim.low + (dim.high - dim.low) * ((i * 0.37) % 1)
    return f"The image shows warm light on a quiet street, so {dim.label_for(score)} {score:.3f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=8, help="items per mode and repeat (default 8)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=256, help="text hidden size of the random model")
    parser.add_argument("--layers", type=int, default=4, help="text layers of the random model")
    parser.add_argument("--vocab", type=int, default=151936, help="vocabulary size (151936 = Qwen2.5's)")
    parser.add_argument("--dtype", default="float32", help="model dtype (lmms-eval's loader uses bfloat16)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--free", action="store_true", help="let the random model write its own answers")
    args = parser.parse_args(argv)

    import torch
    from tqdm import tqdm

    from cogip_tasks.dimensions import get_dimension
    from cogip_tasks.models.cogip_expected import CogIPExpected
    from cogip_tasks.synthetic import procedural_image
    from cogip_tasks.tiny_model import build_tiny_qwen2_5_vl

    sys.path.insert(0, str(REPO / "tests"))  # forcing answers is a test fixture, not shipped
    from fixtures.forced import force_answers

    torch.set_num_threads(max(1, torch.get_num_threads()))
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_tiny_qwen2_5_vl(
            Path(tmp) / "model",
            text_hidden=args.hidden,
            text_layers=args.layers,
            text_intermediate=4 * args.hidden,
            vocab_size=args.vocab,
        )
        model = CogIPExpected.create_from_arg_string(
            f"pretrained={model_dir},device={args.device},device_map={args.device},max_pixels=12544,min_pixels=3136,"
            f"dtype={args.dtype}",
            {"batch_size": args.batch_size},
        )
    dims = [get_dimension(DIMS[i % len(DIMS)]) for i in range(args.items)]
    images = [[procedural_image(i)] for i in range(args.items)]
    contexts = [f"Rate the {d.key.replace('_', ' ')} of this image: a label, then a score." for d in dims]
    answers = [model.tokenizer.encode(forced_answer(i, d)) for i, d in enumerate(dims)]
    gen_kwargs = {"max_new_tokens": args.max_new_tokens, "temperature": 0}

    def run(mode: str) -> float:
        model.readout = mode
        start = time.perf_counter()
        for b in range(0, args.items, args.batch_size):
            batch = slice(b, b + args.batch_size)
            if not args.free:
                force_answers(model, answers[batch])
            model.answer_batch(contexts[batch], images[batch], dims[batch], gen_kwargs)
        return (time.perf_counter() - start) / args.items

    run("greedy")  # warm-up (allocator, processor caches)
    times: dict[str, list[float]] = {m: [] for m in MODES}
    counts: dict[str, Counter] = {m: Counter() for m in MODES}
    for r in tqdm(range(args.repeats), desc="repeats"):
        for mode in MODES[r % 3 :] + MODES[: r % 3]:  # rotate the order: no mode always runs first
            model.readout_counts.clear()
            times[mode].append(run(mode))
            counts[mode].update(model.readout_counts)

    answer_tokens = statistics.mean(map(len, answers)) if not args.free else args.max_new_tokens
    answered = f"free, up to {args.max_new_tokens} tokens" if args.free else f"forced, ~{answer_tokens:.0f} tokens"
    print(
        f"\nrandom Qwen2.5-VL: hidden {args.hidden}, {args.layers} layers, vocab {args.vocab}, {args.dtype} on "
        f"{args.device} ({torch.get_num_threads()} threads); {args.items} items, batch {args.batch_size}, "
        f"{args.repeats} repeats; answers: {answered}"
    )
    # The minimum is the least disturbed run (shared machines); the median shows how noisy the run was.
    best = {m: min(t) for m, t in times.items()}
    mid = {m: statistics.median(t) for m, t in times.items()}
    print(f"{'mode':<16} {'min s/item':>10} {'x greedy':>9} {'median s/item':>14} {'x greedy':>9}  readouts")
    for mode in MODES:
        print(
            f"{mode:<16} {best[mode]:10.4f} {best[mode] / best['greedy']:9.2f} {mid[mode]:14.4f} "
            f"{mid[mode] / mid['greedy']:9.2f}  {dict(counts[mode]) or '-'}"
        )


if __name__ == "__main__":
    main()
