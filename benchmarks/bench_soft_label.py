"""Cost of the digit soft-label loss next to plain cross-entropy, measured side by side in one run.

    .venv/bin/python benchmarks/bench_soft_label.py                       # CPU, 4 x 1,024 x 151,936 float32
    .venv/bin/python benchmarks/bench_soft_label.py --device cuda --dtype bf16
    .venv/bin/python benchmarks/bench_soft_label.py --device cuda --model-size 3b   # + a Qwen2.5-VL-3B training step

Loss figures are forward + backward of the loss alone, on logits that already exist (a leaf tensor), for:
``F.cross_entropy`` (what Hugging Face's causal-LM loss runs), ``cogip_train.soft_label_loss`` and a naive
per-token loop (a full ``log_softmax`` and soft cross-entropy per token, in Python). Every target token is valid
and the targets repeat "high 7.234<|im_end|>"-like answers, so about half of them are digits (the worst case).

- time: median of ``--repeats`` runs, CE and soft interleaved. The naive loop is timed on ``--naive-tokens``
  tokens and extrapolated linearly to the whole batch (it is linear in tokens; said in the output).
- memory: each loss runs in a fresh child process. CPU: peak resident memory (``VmHWM``, reset through
  ``/proc/self/clear_refs`` just before the loss) minus the resident memory just before the loss (logits and
  targets already allocated), i.e. what the forward + backward adds, gradient included. CUDA:
  ``torch.cuda.max_memory_allocated`` minus the allocation before the loss.
  (tracemalloc does not see torch's allocator, hence these.)
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cogip_train.soft_label import DigitTokens, soft_label_loss  # noqa: E402

QWEN_VOCAB = 151_936
# Token ids the targets use: a Qwen2.5-like layout, digits and "." as single tokens.
DIGITS = DigitTokens(digit_ids=tuple(range(15, 25)), point_id=13)
ANSWER = [11_892, 220, 22, 13, 17, 18, 19, 151_645]  # "high", " ", "7", ".", "2", "3", "4", "<|im_end|>"
# --numbers llama3: a Llama-3-like layout, numbers in tokens of up to three digits ("7", ".", "234"): the targets
# of a 3-digit token spread over the 1000 tokens of that length (the widest sparse target the loss builds).
LLAMA3_DIGITS = DigitTokens(
    digit_ids=tuple(range(15, 25)),
    point_id=13,
    groups=(tuple(range(15, 25)), tuple(range(1000, 1100)), tuple(range(2000, 3000))),
)
LLAMA3_ANSWER = [11_892, 220, 22, 13, 2234, 128_009]  # "high", " ", "7", ".", "234", "<|eot_id|>"
LAYOUTS = {"digits": (DIGITS, ANSWER), "llama3": (LLAMA3_DIGITS, LLAMA3_ANSWER)}
_LAYOUT = ["digits"]  # set by main / the memory child
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def make_inputs(batch: int, tokens: int, vocab: int, dtype: torch.dtype, device: str, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, tokens, vocab, generator=gen, dtype=torch.float32).mul_(2).to(dtype).to(device)
    answer = torch.tensor([t % vocab for t in LAYOUTS[_LAYOUT[0]][1]])
    labels = answer.repeat(batch, tokens // len(answer) + 1)[:, :tokens].clone()
    return logits.requires_grad_(True), labels.to(device)


def loss_fn(name: str):
    def plain_ce(logits, labels):
        # Hugging Face's ForCausalLMLoss: upcast, shift the labels, mean over valid targets.
        targets = torch.nn.functional.pad(labels[:, 1:], (0, 1), value=-100)
        return torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), ignore_index=-100)

    def soft(logits, labels):
        return soft_label_loss(logits, labels, LAYOUTS[_LAYOUT[0]][0], eta=0.15, lam=2.0, dist="triangular")

    return {"ce": plain_ce, "soft": soft}[name]


def naive_loss(logits, labels, n_tokens: int):
    """The textbook version: one token at a time, full log_softmax, places by walking the digit run."""
    from cogip_train.soft_label import psi

    digit_of = {t: d for d, t in enumerate(DIGITS.digit_ids)}
    digit_ids = torch.tensor(DIGITS.digit_ids, device=logits.device)
    table = psi("triangular", 0).to(logits.device, torch.float32)
    total, count = logits.new_zeros((), dtype=torch.float32), 0
    targets = labels[0, 1:].tolist()
    for t in range(n_tokens):
        y = targets[t]
        logp = torch.log_softmax(logits[0, t].float(), dim=-1)
        if y in digit_of:
            start, end = t, t
            while start > 0 and targets[start - 1] in digit_of:
                start -= 1
            while end + 1 < len(targets) and targets[end + 1] in digit_of:
                end += 1
            place = -(t - start + 1) if start > 0 and targets[start - 1] == DIGITS.point_id else end - t
            c = digit_of[y]
            q = 0.85 * torch.nn.functional.one_hot(torch.tensor(c, device=logits.device), 10) + 0.15 * table[c]
            del place  # psi is the same at every place (see cogip_train.soft_label.psi)
            total = total - 2.0 * (q * logp[digit_ids]).sum()
        else:
            total = total - logp[y]
        count += 1
    return total / count


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_once(fn, logits, labels, device: str) -> float:
    logits.grad = None
    sync(device)
    start = time.perf_counter()
    fn(logits, labels).backward()
    sync(device)
    return time.perf_counter() - start


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def _reset_peak_rss() -> None:
    """Set this process's peak-RSS mark (VmHWM) to its current RSS (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _peak_rss_bytes() -> int:
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent through fork + exec.
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def _memory_child(name: str, args: dict, queue) -> None:
    torch.set_num_threads(args["threads"])
    _LAYOUT[0] = args["numbers"]
    logits, labels = make_inputs(args["batch"], args["tokens"], args["vocab"], DTYPES[args["dtype"]], args["device"])
    fn = loss_fn(name)
    if args["device"].startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        fn(logits, labels).backward()
        torch.cuda.synchronize()
        queue.put(torch.cuda.max_memory_allocated() - before)
    else:
        _reset_peak_rss()
        before = _rss_bytes()
        fn(logits, labels).backward()
        queue.put(_peak_rss_bytes() - before)


def peak_memory(name: str, args: dict) -> int:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_memory_child, args=(name, args, queue))
    proc.start()
    value = queue.get()
    proc.join()
    return value


def model_step_timing(device: str, repeats: int) -> None:
    """One training step (forward, loss, backward, AdamW) of a random Qwen2.5-VL of the 3B model's size."""
    from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

    from cogip_tasks.synthetic import procedural_image
    from cogip_tasks.tiny_model import build_tiny_qwen2_5_vl

    with tempfile.TemporaryDirectory() as tmp:
        # Qwen2.5-VL-3B-Instruct's sizes (vision MLP width is the builder's 2 x hidden, the real one is 3,420).
        path = build_tiny_qwen2_5_vl(
            Path(tmp) / "qwen3b",
            text_hidden=2048,
            text_layers=36,
            text_heads=16,
            text_kv_heads=2,
            text_intermediate=11008,
            vision_hidden=1280,
            vision_depth=32,
            vision_heads=16,
            vocab_size=QWEN_VOCAB,
            dtype="bfloat16",
        )
        model = Qwen2_5_VLForConditionalGeneration.from_pretrained(path, dtype=torch.bfloat16).to(device)
        processor = AutoProcessor.from_pretrained(path, min_pixels=448 * 448, max_pixels=448 * 448)
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-6)
    messages = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Rate the aesthetics. " * 60}]},
        {"role": "assistant", "content": "high 7.234"},
    ]
    text = processor.apply_chat_template(messages, tokenize=False)
    images = [procedural_image(i, size=448) for i in range(4)]
    batch = processor(text=[text] * 4, images=images, return_tensors="pt", padding=True).to(device)
    labels = batch["input_ids"].clone()
    labels[:, : labels.shape[1] - 12] = -100
    tokenizer = processor.tokenizer

    def step(kind: str) -> float:
        sync(device)
        start = time.perf_counter()
        if kind == "ce":
            loss = model(**batch, labels=labels).loss
        else:
            loss = soft_label_loss(model(**batch).logits, labels, tokenizer)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        sync(device)
        return time.perf_counter() - start

    step("ce"), step("soft")  # warm-up
    times = {"ce": [], "soft": []}
    for _ in range(repeats):
        for kind in times:
            times[kind].append(step(kind))
    ce, soft = statistics.median(times["ce"]), statistics.median(times["soft"])
    print(
        f"\nQwen2.5-VL-3B-size training step, batch 4 x {batch['input_ids'].shape[1]} tokens (bf16, "
        f"gradient checkpointing, full fine-tuning, {torch.cuda.get_device_name()}):"
    )
    print(f"  HF causal-LM CE : {ce * 1000:9.1f} ms")
    print(f"  soft-label loss : {soft * 1000:9.1f} ms   ({soft / ce:.3f}x)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--vocab", type=int, default=QWEN_VOCAB)
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="fp32")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--naive-tokens", type=int, default=8, help="tokens the naive loop is timed on")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument(
        "--numbers",
        choices=sorted(LAYOUTS),
        default="digits",
        help="digits: one token per digit (Qwen2.5); llama3: numbers in 1-3 digit tokens",
    )
    parser.add_argument(
        "--model-size",
        choices=["none", "3b"],
        default="none",
        help="also time a training step of a random model of this size (needs --device cuda)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    _LAYOUT[0] = args.numbers
    if args.model_size != "none" and not args.device.startswith("cuda"):
        parser.error("--model-size 3b needs --device cuda (a 3B training step on CPU is not a useful figure)")

    shape = f"{args.batch} x {args.tokens} x {args.vocab} {args.dtype} logits on {args.device}, numbers: {args.numbers}"
    print(f"loss forward+backward, {shape}, {args.threads} threads")
    logits, labels = make_inputs(args.batch, args.tokens, args.vocab, DTYPES[args.dtype], args.device)
    for name in ("ce", "soft"):  # warm-up
        time_once(loss_fn(name), logits, labels, args.device)
    times = {"ce": [], "soft": []}
    for _ in range(args.repeats):
        for name in times:
            times[name].append(time_once(loss_fn(name), logits, labels, args.device))
    n_naive = min(args.naive_tokens, args.tokens - 1)
    naive_part = time_once(lambda x, y: naive_loss(x, y, n_naive), logits, labels, args.device)
    naive = naive_part * args.batch * args.tokens / n_naive
    del logits
    ce, soft = statistics.median(times["ce"]), statistics.median(times["soft"])
    print(f"  time   plain F.cross_entropy : {ce * 1000:10.1f} ms")
    print(f"  time   soft_label_loss       : {soft * 1000:10.1f} ms   {soft / ce:.3f}x CE   (target <= 1.3x)")
    if args.numbers == "digits":  # the textbook loop below is the per-digit loss
        print(
            f"  time   naive per-token loop  : {naive * 1000:10.1f} ms   {naive / soft:.0f}x soft "
            f"(timed on {n_naive} tokens: {naive_part * 1000:.1f} ms, extrapolated linearly)"
        )
    if not args.skip_memory:
        child = dict(
            batch=args.batch,
            tokens=args.tokens,
            vocab=args.vocab,
            dtype=args.dtype,
            device=args.device,
            threads=args.threads,
            numbers=args.numbers,
        )
        mem = {name: peak_memory(name, child) for name in ("ce", "soft")}
        logits_bytes = args.batch * args.tokens * args.vocab * DTYPES[args.dtype].itemsize
        how = "peak RSS increase" if args.device == "cpu" else "peak CUDA allocation increase"
        print(f"  memory ({how} during forward+backward, logits of {logits_bytes / 2**30:.2f} GiB already held)")
        print(f"         plain F.cross_entropy : {mem['ce'] / 2**30:10.2f} GiB")
        print(
            f"         soft_label_loss       : {mem['soft'] / 2**30:10.2f} GiB   {mem['soft'] / mem['ce']:.3f}x CE"
            "   (target <= 1.2x)"
        )
    if args.model_size == "3b":
        model_step_timing(args.device, args.repeats)
    elif not torch.cuda.is_available():
        print(
            "\n(no CUDA device: the Qwen2.5-VL-3B-size training-step timing was not taken; "
            "run with --device cuda --model-size 3b on a GPU)"
        )


if __name__ == "__main__":
    main()
