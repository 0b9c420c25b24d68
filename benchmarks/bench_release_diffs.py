"""The measured effect of each difference between CogIP's defaults and the authors' release (docs/comparability.md),
and of the metric caveats in docs/metrics.md, in one run.

    python benchmarks/bench_release_diffs.py                       # uses ../shared/cogip_release when present
    python benchmarks/bench_release_diffs.py --release PATH --seeds 200

Every figure is a function of the data and the seeds given (no model is run):
- soft labels: the loss of the release's 3,200 SFT targets under ``variant="value"`` and ``"release"``, with a
  Llama-3-style tokenizer (numbers in tokens of up to three digits) and a one-digit one, on seeded random logits;
  and two micro-batches of 5 and 1 answer tokens, one optimizer step's loss either way;
- GRPO reward: how many rewards differ between ``--reward cogip`` and ``--reward release`` when each training
  item is answered with another item's answer of the same dimension;
- test items: the overlap of the seed-42 (Gemma's script) and seed-19 draws per dimension;
- metrics under pure noise (|plcc_logistic| vs |plcc|), ``mae_norm`` of a constant at the training median vs an
  informative model, and ``n_distinct`` of a constant answer plus 1e-6 jitter.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def soft_label_effects(release: Path | None, seed: int) -> None:
    import torch

    from cogip_tasks.tiny_model import train_tokenizer
    from cogip_train import soft_label_loss

    sys_path_tests()
    from fixtures_models import llama3_like_tokenizer

    if release is not None:
        rows = json.loads((release / "cognition_training.json").read_text())
        answers = [r["conversations"][1]["value"] for r in rows]
    else:
        answers = ["medium 5.577", "high 7.234", "negative -2.000", "very low 0.415"] * 50
    for name, tok in (("Llama-3-style", llama3_like_tokenizer()), ("one digit per token", train_tokenizer())):
        gen = torch.Generator().manual_seed(seed)
        totals = {"value": 0.0, "release": 0.0}
        for start in range(0, len(answers), 64):
            ids = [tok.encode(a, add_special_tokens=False) for a in answers[start : start + 64]]
            width = max(map(len, ids)) + 1
            labels = torch.full((len(ids), width), -100)
            for i, row in enumerate(ids):
                labels[i, 1 : 1 + len(row)] = torch.tensor(row)
            logits = torch.randn(len(ids), width, len(tok), generator=gen) * 3
            for variant in totals:
                totals[variant] += soft_label_loss(logits, labels, tok, eta=0.15, lam=2.0, variant=variant).item()
        batches = -(-len(answers) // 64)
        print(
            f"soft-label loss, {len(answers)} release targets, {name} tokenizer, mean over {batches} batches: "
            f"value {totals['value'] / batches:.3f}  release {totals['release'] / batches:.3f}"
        )
    tok = train_tokenizer()
    gen = torch.Generator().manual_seed(seed)
    parts = []
    for text in ("high 7.2", "3"):  # 5 and 1 answer tokens
        row = tok.encode(text, add_special_tokens=False)
        labels = torch.full((1, len(row) + 1), -100)
        labels[0, 1:] = torch.tensor(row)
        parts.append((torch.randn(1, len(row) + 1, len(tok), generator=gen) * 3, labels))
    n = sum(int((lb[:, 1:] != -100).sum()) for _, lb in parts)
    value = sum(soft_label_loss(x, y, tok, num_items_in_batch=n).item() for x, y in parts)
    release_mean = sum(soft_label_loss(x, y, tok, variant="release").item() for x, y in parts) / len(parts)
    print(
        f"one optimizer step of micro-batches with 5 and 1 answer tokens: value {value:.3f}  release {release_mean:.3f}"
    )


def reward_effects(release: Path) -> None:
    from cogip_tasks.dimensions import get_dimension
    from cogip_train.rewards import closeness_reward, release_reward

    plain = json.loads((release / "cognition_training.json").read_text())
    answers = [r["conversations"][1]["value"] for r in plain]
    dims = [get_dimension(r["image"][0].split("/")[0]).key for r in plain]
    others = list(answers)
    for dim in sorted(set(dims)):
        rows = [i for i, d in enumerate(dims) if d == dim]
        for i, j in zip(rows, random.Random(19).sample(rows, len(rows))):
            others[i] = answers[j]
    rel = release_reward(others, answers)
    scores = [float(a.rsplit(" ", 1)[1]) for a in answers]
    ours = closeness_reward([None] * len(answers), others, dimension=dims, score=scores)
    for dim in sorted(set(dims)):
        pairs = [(r, c) for r, c, d in zip(rel, ours, dims) if d == dim]
        differ = sum(r != c for r, c in pairs)
        low = min(r for r, _ in pairs)
        print(f"GRPO reward, {dim}: {differ}/{len(pairs)} differ (release's rewards in [{low:.3f}, 1])")


def draw_effects(release: Path) -> None:
    from cogip_tasks.dimensions import get_dimension
    from hub_upload.testsplit import DEFAULT_DRAW_ORDER, release_draw

    pools = {
        get_dimension(d).key: len(json.loads((release / "test_msg_file" / d / f"{d}_messages.json").read_text()))
        for d in DEFAULT_DRAW_ORDER
    }
    a, b = (release_draw(pools, 120, seed, DEFAULT_DRAW_ORDER) for seed in (19, 42))
    print("test items shared by the seed-19 and seed-42 draws:", {d: len(set(a[d]) & set(b[d])) for d in pools})


def metric_effects(release: Path | None, seeds: int) -> None:
    from cogip_tasks import metrics as M
    from cogip_tasks.dimensions import get_dimension

    rng = np.random.default_rng(0)
    logistic, plain = [], []
    for _ in range(seeds):
        human, noise = rng.uniform(0, 10, 120), rng.uniform(0, 10, 120)
        logistic.append(abs(M.pearson_logistic(noise, human)))
        plain.append(abs(M.pearson(noise, human)))
    print(
        f"pure noise, 120 items, {seeds} seeds: mean |plcc_logistic| {np.nanmean(logistic):.3f}, "
        f"mean |plcc| {np.mean(plain):.3f}"
    )
    if release is not None:
        dim = get_dimension("aesthetics")
        rows = json.loads((release / "cognition_training.json").read_text())
        train = [
            float(r["conversations"][1]["value"].rsplit(" ", 1)[1])
            for r in rows
            if r["image"][0].startswith("Aesthetics/")
        ]
        test = [
            float(s.rsplit(" ", 1)[1])
            for s in json.loads((release / "test_msg_file/Aesthetics/Aesthetics_scores.json").read_text())
        ]
    else:
        dim, train, test = get_dimension("aesthetics"), list(rng.normal(5.2, 1.2, 800)), list(rng.normal(5.2, 1.2, 120))
    human = np.array(test)
    constant = [float(np.median(train))] * len(human)
    informative = human + rng.normal(0, 1.3 * human.std(), len(human))
    for name, pred in (("constant at the training median", constant), ("informative model", list(informative))):
        m = M.compute_metrics(pred, list(human), dim)
        print(f"aesthetics test pool ({len(human)} items), {name}: srcc {m['srcc']:.3f}  mae_norm {m['mae_norm']:.4f}")
    noisy = 7.0 + rng.uniform(-1e-6, 1e-6, 120)
    n = M.compute_metrics(list(noisy), list(rng.uniform(0, 10, 120)), dim)["n_distinct"]
    print(f"constant 7.0 plus 1e-6 jitter: {len(np.unique(noisy))} different floats, n_distinct {n:g}")


def sys_path_tests() -> None:
    import sys

    sys.path.insert(0, str(REPO / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--release", type=Path, default=REPO.parent / "shared" / "cogip_release")
    parser.add_argument("--seeds", type=int, default=200)
    args = parser.parse_args()
    release = args.release if args.release.is_dir() else None
    print(f"release data: {release or 'absent (synthetic stand-ins)'}")
    soft_label_effects(release, seed=0)
    if release is not None:
        reward_effects(release)
        draw_effects(release)
    metric_effects(release, args.seeds)


if __name__ == "__main__":
    main()
