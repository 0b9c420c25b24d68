"""The digit soft-label loss against a straightforward per-token reference written here."""

from __future__ import annotations

import math

import pytest
import torch

from cogip_train import DigitTokenizerError, DigitTokens, causal_lm_loss, digit_places, psi, soft_label_loss

IGNORE = -100


@pytest.fixture(scope="module")
def tokenizer():
    from cogip_tasks.tiny_model import train_tokenizer

    return train_tokenizer()


# ---------------------------------------------------------------------------------------------------------------
# The reference: one token at a time, a full log_softmax per token, places found by walking the digit run.


def reference_psi(dist: str, c: int, place: int, sigma: float = 1.0) -> torch.Tensor:
    d = torch.tensor([abs(k - c) * 10.0**place for k in range(10)], dtype=torch.float64)
    if dist == "triangular":
        w = d.max() - d
    elif dist == "uniform":
        w = torch.ones(10, dtype=torch.float64)
    else:
        w = torch.exp(-0.5 * (d / (sigma * 10.0**place)) ** 2)
    return w / w.sum()


def reference_place(targets: list[int], t: int, digit_of: dict[int, int], point_id: int) -> int:
    start = t
    while start - 1 >= 0 and targets[start - 1] in digit_of:
        start -= 1
    end = t
    while end + 1 < len(targets) and targets[end + 1] in digit_of:
        end += 1
    if start - 1 >= 0 and targets[start - 1] == point_id:
        return -(t - start + 1)
    return end - t


def reference_loss(logits, labels, digits: DigitTokens, *, eta, lam, dist, sigma=1.0) -> torch.Tensor:
    """(sum CE over ordinary tokens + lam * sum soft CE over digits) / number of target tokens (float64)."""
    digit_of = {tid: d for d, tid in enumerate(digits.digit_ids)}
    digit_ids = torch.tensor(digits.digit_ids)
    total, count = torch.zeros((), dtype=torch.float64), 0
    for b in range(logits.shape[0]):
        targets = labels[b, 1:].tolist()  # position t predicts labels[t + 1]
        for t, y in enumerate(targets):
            if y == IGNORE:
                continue
            count += 1
            logp = torch.log_softmax(logits[b, t].double(), dim=-1)
            if y in digit_of:
                c = digit_of[y]
                place = reference_place(targets, t, digit_of, digits.point_id)
                q = (1 - eta) * torch.nn.functional.one_hot(torch.tensor(c), 10).double()
                q = q + eta * reference_psi(dist, c, place, sigma)
                total = total - lam * (q * logp[digit_ids]).sum()
            else:
                total = total - logp[y]
    return total / max(count, 1)


# ---------------------------------------------------------------------------------------------------------------


def make_batch(tokenizer, answers: list[str], vocab: int, seed: int = 0, prompt_len: int = 5, dtype=torch.float32):
    """Masked prompt + answer tokens + right padding, and random logits over ``vocab``."""
    gen = torch.Generator().manual_seed(seed)
    rows = [tokenizer.encode(a, add_special_tokens=False) for a in answers]
    length = prompt_len + max(len(r) for r in rows) + 2
    input_ids = torch.randint(0, vocab, (len(rows), length), generator=gen)
    labels = torch.full((len(rows), length), IGNORE)
    for i, r in enumerate(rows):
        labels[i, prompt_len : prompt_len + len(r)] = torch.tensor(r)
        input_ids[i, prompt_len : prompt_len + len(r)] = torch.tensor(r)
    logits = (torch.randn(len(rows), length, vocab, generator=gen) * 3).to(dtype)
    return logits, labels


ANSWERS = [
    "high 7.234<|im_end|>",  # a decimal number
    "negative -2.000<|im_end|>",  # a negative number
    "medium 100 then 3.5 and 0.75",  # a number without decimal point, and several numbers in one target
    "very low",  # no number at all
    "positive 3",  # a single digit, no point
]


@pytest.mark.parametrize("dist", ["triangular", "uniform", "gaussian"])
@pytest.mark.parametrize("eta,lam", [(0.15, 2.0), (0.5, 1.0), (1.0, 0.5)])
def test_matches_per_token_reference(tokenizer, dist, eta, lam):
    digits = DigitTokens.from_tokenizer(tokenizer)
    logits, labels = make_batch(tokenizer, ANSWERS, len(tokenizer), seed=1)
    got = soft_label_loss(logits, labels, tokenizer, eta=eta, lam=lam, dist=dist)
    want = reference_loss(logits, labels, digits, eta=eta, lam=lam, dist=dist)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), want, rtol=1e-6, atol=1e-6)


def test_gradients_match_the_reference(tokenizer):
    digits = DigitTokens.from_tokenizer(tokenizer)
    logits, labels = make_batch(tokenizer, ANSWERS, len(tokenizer), seed=2)
    ours = logits.clone().requires_grad_(True)
    soft_label_loss(ours, labels, tokenizer, eta=0.3, lam=2.0, dist="triangular").backward()
    ref = logits.double().requires_grad_(True)
    reference_loss(ref, labels, digits, eta=0.3, lam=2.0, dist="triangular").backward()
    assert ours.grad is not None and ours.grad.abs().sum() > 0
    torch.testing.assert_close(ours.grad.double(), ref.grad, rtol=1e-5, atol=1e-7)
    # Masked prompt positions and the last position of each row get no gradient.
    assert ours.grad[:, :4].abs().sum() == 0 and ours.grad[:, -1].abs().sum() == 0


def test_gradcheck_float64(tokenizer):
    logits, labels = make_batch(tokenizer, ["high 7.25", "-0.5"], len(tokenizer), seed=3, prompt_len=2)
    x = logits.double().requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda t: soft_label_loss(t, labels, tokenizer, eta=0.2, lam=1.5, dist="gaussian"),
        (x,),
        eps=1e-6,
        atol=1e-5,
        fast_mode=True,
    )


def test_eta_zero_lambda_one_is_plain_cross_entropy(tokenizer):
    logits, labels = make_batch(tokenizer, ANSWERS, len(tokenizer), seed=4)
    plain = torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=IGNORE
    )
    for dist in ("triangular", "uniform", "gaussian"):
        got = soft_label_loss(logits, labels, tokenizer, eta=0.0, lam=1.0, dist=dist)
        torch.testing.assert_close(got, plain, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(causal_lm_loss(logits, labels), plain, rtol=1e-6, atol=1e-6)


def test_smoothing_changes_the_loss_only_through_digits(tokenizer):
    logits, labels = make_batch(tokenizer, ["very low", "high"], len(tokenizer), seed=5)
    a = soft_label_loss(logits, labels, tokenizer, eta=0.0, lam=1.0)
    b = soft_label_loss(logits, labels, tokenizer, eta=0.9, lam=3.0)  # no digit in the targets
    torch.testing.assert_close(a, b)
    logits, labels = make_batch(tokenizer, ["high 7.234"], len(tokenizer), seed=5)
    assert not torch.isclose(
        soft_label_loss(logits, labels, tokenizer, eta=0.0), soft_label_loss(logits, labels, tokenizer, eta=0.5)
    )


def test_num_items_in_batch_sets_the_denominator(tokenizer):
    logits, labels = make_batch(tokenizer, ANSWERS, len(tokenizer), seed=6)
    n = int((labels[:, 1:] != IGNORE).sum())
    mean = soft_label_loss(logits, labels, tokenizer)
    total = soft_label_loss(logits, labels, tokenizer, num_items_in_batch=torch.tensor(2 * n))
    torch.testing.assert_close(total * 2, mean)


def test_bf16_logits(tokenizer):
    logits, labels = make_batch(tokenizer, ANSWERS, len(tokenizer), seed=7, dtype=torch.bfloat16)
    x = logits.clone().requires_grad_(True)
    loss = soft_label_loss(x, labels, tokenizer)
    loss.backward()
    assert loss.dtype == torch.float32 and x.grad.dtype == torch.bfloat16
    # Same values as the float32 loss of the bf16-rounded logits: accumulation happens in float32.
    x32 = logits.float().requires_grad_(True)
    loss32 = soft_label_loss(x32, labels, tokenizer)
    loss32.backward()
    torch.testing.assert_close(loss, loss32, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(x.grad.float(), x32.grad, rtol=1e-2, atol=1e-4)


def test_fully_masked_batch_gives_zero_loss_and_gradient(tokenizer):
    logits = torch.randn(2, 6, len(tokenizer), requires_grad=True)
    loss = soft_label_loss(logits, torch.full((2, 6), IGNORE), tokenizer)
    loss.backward()
    assert loss.item() == 0.0 and logits.grad.abs().sum() == 0


def test_digit_places(tokenizer):
    digits = DigitTokens.from_tokenizer(tokenizer)
    cases = {
        "high 7.234": [0, -1, -2, -3],
        "-0.250": [0, -1, -2, -3],
        "100": [2, 1, 0],
        "12 and 3.5": [1, 0, 0, -1],
        ".75": [-1, -2],
    }
    for text, places in cases.items():
        ids = torch.tensor([tokenizer.encode(text, add_special_tokens=False)])
        is_digit, value, place = digit_places(ids, digits)
        assert place[is_digit].tolist() == places, text
        assert "".join(str(v) for v in value[is_digit].tolist()) == "".join(ch for ch in text if ch.isdigit())


def test_psi_shapes():
    for dist in ("triangular", "uniform", "gaussian"):
        table = psi(dist, 0)
        torch.testing.assert_close(table.sum(1), torch.ones(10, dtype=torch.float64))
        # The normalisation cancels 10**place: the same distribution at every place (the paper's behaviour).
        torch.testing.assert_close(psi(dist, -3), table)
        torch.testing.assert_close(psi(dist, 2), table)
    tri = psi("triangular", -1)
    assert tri[3].argmax() == 3 and tri[0, 9] == 0 and math.isclose(float(tri[0, 0]), 9 / 45)
    with pytest.raises(ValueError, match="unknown soft-label distribution"):
        psi("cosine", 0)


def test_tokens_mixing_digits_and_text_are_refused():
    """A token like " 7" or "7." has no numeric value: a clear error, never silent misuse (Llama-3's pure digit
    strings are accepted, see test_multidigit.py)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(r" ?[\p{N}\p{L}.]+|\s+"), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tok.train_from_iterator(["high 7.234 low 0.415 score 234 123 -2.000 250"] * 50, trainer)
    mixed = PreTrainedTokenizerFast(tokenizer_object=tok)
    logits, labels = torch.randn(1, 4, 300), torch.zeros(1, 4, dtype=torch.long)
    with pytest.raises(DigitTokenizerError, match="digit strings only.*--loss ce"):
        soft_label_loss(logits, labels, mixed)
