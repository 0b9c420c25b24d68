"""``soft_label_loss(..., variant="release")`` is the release's ``compute_loss`` (sft/*/src/trainer/*.py) to float
precision, with a Qwen-style tokenizer (one token per digit) and a Llama-3-style one (numbers in tokens of up to
three digits): checked against a port of that method written here, position by position as it does it.

What the release does, and CogIP's default does differently (``variant="value"``):
- only tokens that ARE one of the ten digit tokens are soft-labelled; Llama-3's "577" in "5.577" is an ordinary
  token (plain cross-entropy, weight 1, not lambda);
- the sum is divided by the target tokens of the micro-batch it sees (a per-micro-batch mean), never by the
  token count of the whole optimizer step.
"""

from __future__ import annotations

import pytest
import torch

from cogip_train import soft_label_loss
from fixtures_models import llama3_like_tokenizer
from test_soft_label import IGNORE, make_batch


@pytest.fixture(scope="module")
def qwen():
    from cogip_tasks.tiny_model import train_tokenizer

    return train_tokenizer()


@pytest.fixture(scope="module")
def llama():
    return llama3_like_tokenizer()


def release_loss(logits, labels, tokenizer, *, eta: float, lam: float, dist: str) -> torch.Tensor:
    """The release's soft-label compute_loss, ported: one micro-batch, float64, a Python loop per digit."""
    digit_of = {}
    for d in range(10):  # the first id of each digit's own encoding
        digit_of[tokenizer.encode(str(d), add_special_tokens=False)[0]] = d
    point = tokenizer.encode(".", add_special_tokens=False)[0]
    logp = torch.log_softmax(logits[:, :-1].to(torch.float64), dim=-1)
    targets = labels[:, 1:].tolist()
    digit_cols = torch.tensor(sorted(digit_of, key=digit_of.get))
    ordinary, numeric, count = 0.0, 0.0, 0
    for b, row in enumerate(targets):
        for t, y in enumerate(row):
            if y == IGNORE:
                continue
            count += 1
            if y not in digit_of:
                ordinary -= logp[b, t, y].item()
                continue
            # the run of digit and point tokens around t; the place of t from the run's first point
            lo = t
            while lo > 0 and (row[lo - 1] in digit_of or row[lo - 1] == point):
                lo -= 1
            hi = t
            while hi + 1 < len(row) and (row[hi + 1] in digit_of or row[hi + 1] == point):
                hi += 1
            points = [j for j in range(lo, hi + 1) if row[j] == point]
            place = (points[0] if points else hi + 1) - t - 1
            scale = 10.0 ** max(-9, min(9, place))
            distance = torch.tensor([abs(k - digit_of[y]) * scale for k in range(10)], dtype=torch.float64)
            if dist == "uniform":
                psi = torch.full((10,), 0.1, dtype=torch.float64)
            elif distance.max() == 0:
                psi = torch.full((10,), 0.1, dtype=torch.float64)
            else:
                weight = (distance.max() - distance).clamp(min=0)
                psi = weight / weight.sum()
            target = (1 - eta) * torch.nn.functional.one_hot(torch.tensor(digit_of[y]), 10).double() + eta * psi
            numeric -= (target * logp[b, t, digit_cols]).sum().item()
    return torch.tensor((ordinary + lam * numeric) / max(count, 1), dtype=torch.float64)


ANSWERS = [
    "medium 5.577",  # Llama-3: "5" "." "577"
    "high 7.234",
    "negative -2.000",
    "very low 0.415 and 1234.5",  # several numbers, a 4-digit integer part ("123" "4" in Llama-3)
    "very low",  # no number
    "positive 3",
]


@pytest.mark.parametrize("name", ["qwen", "llama"])
@pytest.mark.parametrize("dist", ["triangular", "uniform"])
@pytest.mark.parametrize("eta,lam", [(0.15, 2.0), (0.08, 2.0), (0.5, 1.0)])
def test_equals_the_release_compute_loss(name, dist, eta, lam, request):
    tokenizer = request.getfixturevalue(name)
    logits, labels = make_batch(tokenizer, ANSWERS, len(tokenizer), seed=3)
    got = soft_label_loss(logits, labels, tokenizer, eta=eta, lam=lam, dist=dist, variant="release")
    want = release_loss(logits, labels, tokenizer, eta=eta, lam=lam, dist=dist)
    torch.testing.assert_close(got.double(), want, rtol=1e-6, atol=1e-6)


def test_multi_digit_tokens_are_ordinary_tokens_in_the_release(llama, qwen):
    """Llama-3's "577" is plain CE at weight 1 in the release, soft-labelled at weight lambda in ours: the two
    differ; with a one-digit tokenizer the per-micro-batch loss is the same in both."""
    logits, labels = make_batch(llama, ["medium 5.577"], len(llama), seed=5)
    assert len(llama.encode("577", add_special_tokens=False)) == 1
    ours = soft_label_loss(logits, labels, llama, eta=0.15, lam=2.0)
    release = soft_label_loss(logits, labels, llama, eta=0.15, lam=2.0, variant="release")
    assert abs(ours.item() - release.item()) > 0.1
    logits, labels = make_batch(qwen, ["medium 5.577"], len(qwen), seed=5)
    torch.testing.assert_close(
        soft_label_loss(logits, labels, qwen), soft_label_loss(logits, labels, qwen, variant="release")
    )


def test_the_release_divides_by_the_micro_batch_whatever_the_step_holds(qwen):
    """Two micro-batches of 5 and 1 answer tokens: ours divides both sums by the step's 6 tokens, the release
    averages the two micro-batch means (what the Trainer does with the release's loss: each divided by the
    accumulation steps)."""
    a, la = make_batch(qwen, ["high 7.2"], len(qwen), seed=7)
    b, lb = make_batch(qwen, ["3"], len(qwen), seed=8)
    count = lambda labels: int((labels[:, 1:] != IGNORE).sum())  # noqa: E731
    n = count(la) + count(lb)
    ours = soft_label_loss(a, la, qwen, num_items_in_batch=n) + soft_label_loss(b, lb, qwen, num_items_in_batch=n)
    per_batch = [soft_label_loss(x, y, qwen, variant="release", num_items_in_batch=n) for x, y in ((a, la), (b, lb))]
    alone = [soft_label_loss(x, y, qwen) for x, y in ((a, la), (b, lb))]  # each micro-batch's own mean
    torch.testing.assert_close(torch.stack(per_batch), torch.stack(alone))  # num_items_in_batch is ignored
    assert abs(ours.item() - sum(per_batch).item() / 2) > 1e-3


def test_the_release_variant_refuses_a_kernel_the_release_does_not_have(qwen):
    logits, labels = make_batch(qwen, ["high 7.2"], len(qwen))
    with pytest.raises(ValueError, match="triangular or uniform"):
        soft_label_loss(logits, labels, qwen, dist="gaussian", variant="release")
    with pytest.raises(ValueError, match="unknown soft-label variant"):
        soft_label_loss(logits, labels, qwen, variant="paper")


def test_the_trainer_averages_release_micro_batch_means(qwen, tmp_path):
    """With --soft-labels release the Trainer divides each micro-batch's mean by the accumulation steps and does
    not scale by the process count; with the default it uses the step's token count as it is."""
    from cogip_train.config import TrainConfig
    from cogip_train.trainer import LossConfig, training_arguments

    release = TrainConfig(soft_labels="release")
    assert LossConfig.of(release).per_micro_batch and not LossConfig.of(TrainConfig()).per_micro_batch
    assert not LossConfig.of(TrainConfig(soft_labels="release", loss="ce")).per_micro_batch
    args = training_arguments(release, str(tmp_path), bf16=False, processes=1, use_cpu=True)
    assert args.average_tokens_across_devices is False
    default = training_arguments(TrainConfig(), str(tmp_path), bf16=False, processes=1, use_cpu=True)
    assert default.average_tokens_across_devices is True


def test_the_soft_label_trainer_hands_the_release_mean_to_the_trainers_accumulation(tiny_qwen_dir, tmp_path):
    from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

    from cogip_train.config import TrainConfig
    from cogip_train.trainer import LossConfig, SoftLabelTrainer, training_arguments

    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(tiny_qwen_dir)
    processor = AutoProcessor.from_pretrained(tiny_qwen_dir)
    for variant, scaled in (("release", False), ("value", None)):
        config = TrainConfig(soft_labels=variant)
        trainer = SoftLabelTrainer(
            model=model,
            args=training_arguments(config, str(tmp_path / variant), bf16=False, processes=1, use_cpu=True),
            processing_class=processor,
            loss_config=LossConfig.of(config),
        )
        # False: training_step divides each micro-batch's mean by the accumulation steps; None: the step's count
        assert trainer.loss_is_scaled_for_ga is scaled
        assert trainer.compute_loss_func.config.variant == variant


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["release", "value"])
def test_training_with_release_soft_labels_averages_micro_batch_means(
    variant, tiny_qwen_dir, sample_dataset_dir, tmp_path
):
    """The real CLI, two rows of different answer lengths (7 and 8 tokens): with the release's loss one optimizer
    step over 2 accumulated micro-batches logs the mean of the two micro-batch losses that two 1-row steps log (a
    negligible learning rate keeps the model the same between them); ours weighs every token the same, so it
    does not."""
    import json

    from cogip_train.cli import main
    from conftest import tiny_train_args

    def logged(name: str, *layout: str) -> list[float]:
        out = tmp_path / name
        argv = [
            *tiny_train_args(tiny_qwen_dir, sample_dataset_dir, "aesthetics,emotional_valence"),
            *("--max-samples", "1", "--lora-rank", "2", "--lora-alpha", "4", "--lora-dropout", "0"),
            *("--learning-rate", "1e-9", "--warmup", "0", "--logging-steps", "1", "--soft-labels", variant),
            *("--batch-size", "1", "--output-dir", str(out), *layout),
        ]
        assert main(argv) == 0
        log = json.loads((out / "train_log.json").read_text())["log_history"]
        return [e["loss"] for e in log if "loss" in e]

    one_by_one = logged("steps", "--grad-accum", "1", "--max-steps", "2")
    accumulated = logged("accumulated", "--grad-accum", "2", "--max-steps", "1")
    assert len(one_by_one) == 2 and len(accumulated) == 1
    assert abs(one_by_one[0] - one_by_one[1]) > 1e-3  # two different micro-batch means
    mean_of_means = sum(one_by_one) / 2
    if variant == "release":
        assert accumulated[0] == pytest.approx(mean_of_means, abs=2e-4)  # logged losses carry 4 decimals
    else:
        assert abs(accumulated[0] - mean_of_means) > 5e-3
