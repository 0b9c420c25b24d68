"""Peak memory and time of each readout mode of ``cogip_expected`` at batch 1, 8 and 32, side by side in one run.

    nice python benchmarks/bench_readout.py                 # CPU, random Qwen2.5-VL with Qwen2.5's real vocabulary
    nice python benchmarks/bench_readout.py --batch-sizes 8 --answer-tokens 256
    python benchmarks/bench_readout.py --free                # the random model's own (number-less) answers

Targets: ``expected_digits`` and ``expected_label`` within 1.1x ``greedy``'s time and within a few MB of its peak
memory at every batch size. The readouts keep, per generated position, a few dozen logit columns and a
log-sum-exp (``cogip_tasks.models.cogip_expected.LogitColumns``), not the vocabulary; the last row,
``full logits``, is greedy generation that also keeps every position's full-vocabulary logits
(``output_logits``), which is what the readout held before, for comparison.

By default every mode answers the same describe-then-predict text ("The image shows ..., so high 7.234", at
least ``--answer-tokens`` tokens), forced through a logits processor: a random model rarely writes a number, and
without one ``expected_digits`` has nothing to read and falls back to the label readout (``--free`` measures
that case). The model is random, so the scores mean nothing; only the costs do.

Peak memory is the peak above the memory in use when the call starts: on CPU the process's peak resident set
(``VmHWM``, reset through ``/proc/self/clear_refs`` before each call; large blocks are mmapped so freed memory
is returned, see ``_cpu_peak_meter``), on CUDA ``torch.cuda.max_memory_allocated``. Time is the process's CPU
time on CPU (one thread: unaffected by other processes sharing the cores) and wall time on CUDA. The modes run
round-robin, repeat by repeat, so drift in machine load hits them alike; times are the minimum (least
disturbed) and the median over repeats, memory the median.
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

DIMS = ("aesthetics", "funniness", "emotional_valence", "memorability")
MODES = ("greedy", "expected_digits", "expected_label", "full logits")
MB = 1024 * 1024


def forced_answer(i: int, dim, tokens: int, encode: Callable[[str], list[int]]) -> list[int]:
    """A describe-then-predict answer of at least ``tokens`` tokens (the description grows to fit)."""
    score = dim.low + (dim.high - dim.low) * ((i * 0.37) % 1)
    filler = "warm light"
    while True:
        ids = encode(f"The image shows {filler}, so {dim.label_for(score)} {score:.3f}")
        if len(ids) >= tokens:
            return ids
        filler += " on a quiet street"


def _status_kb(field: str) -> int:
    return int(re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M).group(1))


def _cpu_peak_meter() -> Callable[[Callable[[], object]], float]:
    """``measure(fn)`` -> the peak resident memory (bytes) above the level when ``fn`` started.

    glibc keeps freed small blocks for reuse (and grows its mmap threshold up to 32 MB), so one call's freed
    tensors would hide the next call's peak; a fixed 64 KB mmap threshold returns every freed tensor to the
    system, so the resident set follows the memory in use.
    """
    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt(-3, 64 * 1024)  # M_MMAP_THRESHOLD (fixed: no dynamic growth)
    libc.mallopt(-1, 128 * 1024)  # M_TRIM_THRESHOLD

    def measure(fn: Callable[[], object]) -> float:
        libc.malloc_trim(0)
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current resident set
        start = _status_kb("VmRSS")
        fn()
        return (_status_kb("VmHWM") - start) * 1024.0

    return measure


def _cuda_peak_meter(torch) -> Callable[[Callable[[], object]], float]:
    def measure(fn: Callable[[], object]) -> float:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return float(torch.cuda.max_memory_allocated() - start)

    return measure


def keep_full_logits(model) -> None:
    """Make ``model``'s ``generate`` (a ``CogIPExpected``'s HF model) also keep every position's full logits,
    as the readout did before; the logits are dropped when generate returns."""
    original = model.generate

    @functools.wraps(original)
    def generate(*args, **kwargs):
        kwargs.update(return_dict_in_generate=True, output_logits=True)
        return original(*args, **kwargs).sequences

    model.generate = generate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", default="1,8,32", help="comma-separated (default 1,8,32)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=256, help="text hidden size of the random model")
    parser.add_argument("--layers", type=int, default=4, help="text layers of the random model")
    parser.add_argument("--vocab", type=int, default=151936, help="vocabulary size (151936 = Qwen2.5's)")
    parser.add_argument("--dtype", default="float32", help="model dtype (lmms-eval's loader uses bfloat16)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--answer-tokens", type=int, default=48, help="tokens per answer (at least; default 48)")
    parser.add_argument("--free", action="store_true", help="let the random model write its own answers")
    args = parser.parse_args(argv)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]

    import torch

    from cogip_tasks.dimensions import get_dimension
    from cogip_tasks.models.cogip_expected import CogIPExpected
    from cogip_tasks.synthetic import procedural_image
    from cogip_tasks.tiny_model import build_tiny_qwen2_5_vl

    sys.path.insert(0, str(REPO / "tests"))  # forcing answers is a test fixture, not shipped
    from fixtures.forced import force_answers

    cuda = args.device.startswith("cuda")
    measure = _cuda_peak_meter(torch) if cuda else _cpu_peak_meter()
    # On CPU, the process's CPU time (one thread): what the modes cost, whatever else the machine is running.
    clock = time.perf_counter if cuda else time.process_time
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
            {"batch_size": max(batch_sizes)},
        )
    n = max(batch_sizes)
    dims = [get_dimension(DIMS[i % len(DIMS)]) for i in range(n)]
    images = [[procedural_image(i)] for i in range(n)]
    contexts = [f"Rate the {d.key.replace('_', ' ')} of this image: a label, then a score." for d in dims]
    answers = [forced_answer(i, d, args.answer_tokens, model.tokenizer.encode) for i, d in enumerate(dims)]
    max_new = max(map(len, answers)) + 1 if not args.free else args.answer_tokens
    gen_kwargs = {"max_new_tokens": max_new, "temperature": 0}
    hf_generate = model.model.generate

    def run(mode: str, batch: int) -> tuple[float, float]:
        model.model.generate = hf_generate
        if not args.free:
            force_answers(model, answers[:batch])
        if mode == "full logits":
            keep_full_logits(model.model)  # around the forcing: it adds output_logits to every call
        model.readout = "greedy" if mode == "full logits" else mode
        start = clock()
        peak = measure(lambda: model.answer_batch(contexts[:batch], images[:batch], dims[:batch], gen_kwargs))
        return (clock() - start) / batch, peak

    run("greedy", 1)  # warm-up (allocator, processor caches)
    results: dict[tuple[int, str], dict[str, list[float]]] = {}
    counts: dict[tuple[int, str], Counter] = {}
    for batch in batch_sizes:
        for r in range(args.repeats):
            for mode in MODES[r % len(MODES) :] + MODES[: r % len(MODES)]:  # rotate: no mode always runs first
                model.readout_counts.clear()
                seconds, peak = run(mode, batch)
                cell = results.setdefault((batch, mode), {"s": [], "peak": []})
                cell["s"].append(seconds)
                cell["peak"].append(peak)
                counts.setdefault((batch, mode), Counter()).update(model.readout_counts)
            print(f"batch {batch}: repeat {r + 1}/{args.repeats} done", file=sys.stderr, flush=True)

    answered = f"free, up to {max_new} tokens" if args.free else f"forced, ~{statistics.mean(map(len, answers)):.0f}"
    print(
        f"\nrandom Qwen2.5-VL: hidden {args.hidden}, {args.layers} layers, vocab {args.vocab}, {args.dtype} on "
        f"{args.device} ({torch.get_num_threads()} threads); {args.repeats} repeats; answer tokens: {answered}; "
        f"time: {'wall' if cuda else 'CPU'} seconds per item"
    )
    print(
        f"{'batch':>5} {'mode':<16} {'min s/item':>10} {'x greedy':>8} {'median s/item':>13} {'x greedy':>8} "
        f"{'peak MB':>9} {'- greedy':>9}  readouts"
    )
    for batch in batch_sizes:
        base = results[(batch, "greedy")]
        base_peak = statistics.median(base["peak"])
        for mode in MODES:
            cell = results[(batch, mode)]
            best, mid, peak = min(cell["s"]), statistics.median(cell["s"]), statistics.median(cell["peak"])
            print(
                f"{batch:>5} {mode:<16} {best:10.4f} {best / min(base['s']):8.2f} {mid:13.4f} "
                f"{mid / statistics.median(base['s']):8.2f} {peak / MB:9.1f} {(peak - base_peak) / MB:+9.1f}  "
                f"{dict(counts[(batch, mode)]) or '-'}"
            )


if __name__ == "__main__":
    main()
