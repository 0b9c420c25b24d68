"""The soft-label loss on numbers split into multi-digit tokens (Llama-3: "7.234" -> "7" "." "234").

A number token of length L whose last digit is at place p stands for v * 10**p; its target is
(1 - eta) * onehot(v) + eta * psi_L(v) over the tokens of the same length, psi_L the kernel of |k - v| * 10**p.
Checked against a per-token reference written here from that definition, against the per-digit reference of
test_soft_label when every number token is one digit, and for what it means: closer numbers cost less.
"""

from __future__ import annotations

import pytest
import torch

from cogip_train import DigitTokens, soft_label_loss
from cogip_train.soft_label import number_tokens
from fixtures_models import llama3_like_tokenizer
from test_soft_label import IGNORE, make_batch
from test_soft_label import reference_loss as per_digit_reference


@pytest.fixture(scope="module")
def llama():
    return llama3_like_tokenizer()


@pytest.fixture(scope="module")
def qwen():
    from cogip_tasks.tiny_model import train_tokenizer

    return train_tokenizer()


def kernel(dist: str, true: int, length: int, place: int, sigma: float = 1.0) -> torch.Tensor:
    """psi_L written out: weights over the 10**L values by numeric distance, normalised."""
    d = torch.tensor([abs(k - true) * 10.0**place for k in range(10**length)], dtype=torch.float64)
    if dist == "triangular":
        w = d.max() - d
    elif dist == "uniform":
        w = torch.ones_like(d)
    else:
        w = torch.exp(-0.5 * (d / (sigma * 10.0**place)) ** 2)
    return w / w.sum()


def reference(logits, labels, tokenizer, *, eta, lam, dist) -> torch.Tensor:
    """Token by token: find each number token's run by decoding, count its place in digits, smooth over its length."""
    text = {}

    def piece(i: int) -> str:
        if i not in text:
            text[i] = tokenizer.decode([i])
        return text[i]

    def is_number(i: int) -> bool:
        return i != IGNORE and piece(i).isdigit()

    total, count = torch.zeros((), dtype=torch.float64), 0
    for b in range(logits.shape[0]):
        targets = labels[b, 1:].tolist()
        for t, y in enumerate(targets):
            if y == IGNORE:
                continue
            count += 1
            logp = torch.log_softmax(logits[b, t].double(), dim=-1)
            if not is_number(y):
                total = total - logp[y]
                continue
            start, end = t, t
            while start > 0 and is_number(targets[start - 1]):
                start -= 1
            while end + 1 < len(targets) and is_number(targets[end + 1]):
                end += 1
            digits_through = sum(len(piece(targets[k])) for k in range(start, t + 1))
            if start > 0 and targets[start - 1] != IGNORE and piece(targets[start - 1]) == ".":
                place = -digits_through
            else:
                place = sum(len(piece(targets[k])) for k in range(start, end + 1)) - digits_through
            length, value = len(piece(y)), int(piece(y))
            candidates = [tokenizer.convert_tokens_to_ids(f"{k:0{length}d}") for k in range(10**length)]
            q = (1 - eta) * torch.nn.functional.one_hot(torch.tensor(value), 10**length).double()
            q = q + eta * kernel(dist, value, length, place)
            total = total - lam * (q * logp[candidates]).sum()
    return total / max(count, 1)


MULTI = ["high 7.234", "very low 0.41525", "negative -2.000", "1234 and 56.7", "medium"]


def test_the_tokenizer_merges_digits_as_llama3_does(llama):
    pieces = [llama.decode([i]) for i in llama.encode("high 7.234 1234", add_special_tokens=False)]
    assert pieces == ["high", " ", "7", ".", "234", " ", "123", "4"]
    digits = DigitTokens.from_tokenizer(llama)
    assert digits.max_length == 3 and [sum(i >= 0 for i in g) for g in digits.groups] == [10, 100, 1000]


def test_places_are_counted_in_digits(llama):
    digits = DigitTokens.from_tokenizer(llama)
    cases = {
        "1234": ([123, 4], [1, 0]),
        "0.41525": ([0, 415, 25], [0, -3, -5]),
        "7.234": ([7, 234], [0, -3]),
        "-2.000": ([2, 0], [0, -3]),
        "12 and 3": ([12, 3], [0, 0]),
    }
    for text, (values, places) in cases.items():
        ids = torch.tensor([llama.encode(text, add_special_tokens=False)])
        is_number, value, place, _ = number_tokens(ids, digits)
        assert value[is_number].tolist() == values and place[is_number].tolist() == places, text


@pytest.mark.parametrize("dist", ["triangular", "uniform", "gaussian"])
def test_matches_the_multi_digit_reference(llama, dist):
    logits, labels = make_batch(llama, MULTI, len(llama), seed=11)
    got = soft_label_loss(logits, labels, llama, eta=0.3, lam=2.0, dist=dist)
    want = reference(logits, labels, llama, eta=0.3, lam=2.0, dist=dist)
    torch.testing.assert_close(got.double(), want, rtol=1e-6, atol=1e-6)


def test_gradients_match_the_multi_digit_reference(llama):
    logits, labels = make_batch(llama, MULTI, len(llama), seed=12)
    ours = logits.clone().requires_grad_(True)
    soft_label_loss(ours, labels, llama, eta=0.4, lam=1.5).backward()
    ref = logits.double().requires_grad_(True)
    reference(ref, labels, llama, eta=0.4, lam=1.5, dist="triangular").backward()
    torch.testing.assert_close(ours.grad.double(), ref.grad, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("dist", ["triangular", "gaussian"])
def test_equals_the_per_digit_loss_when_every_token_is_one_digit(llama, qwen, dist):
    """Numbers whose tokens are all single digits in Llama-3's split: the loss is the paper's per-digit one;
    and on a one-digit tokenizer the multi-digit reference is the per-digit reference."""
    one_digit = ["positive 3", "low 0.5 and 7.1", "-2.0", "very high 9"]
    logits, labels = make_batch(llama, one_digit, len(llama), seed=13)
    assert all(len(llama.decode([i])) == 1 for i in labels[labels != IGNORE].tolist() if llama.decode([i]).isdigit())
    digits = DigitTokens.from_tokenizer(llama)
    got = soft_label_loss(logits, labels, llama, eta=0.3, lam=2.0, dist=dist)
    per_digit = per_digit_reference(logits, labels, digits, eta=0.3, lam=2.0, dist=dist)
    torch.testing.assert_close(got.double(), per_digit, rtol=1e-6, atol=1e-6)

    logits, labels = make_batch(qwen, ["high 7.234", "100 then 3.5"], len(qwen), seed=14)
    torch.testing.assert_close(
        reference(logits, labels, qwen, eta=0.3, lam=2.0, dist=dist),
        per_digit_reference(logits, labels, DigitTokens.from_tokenizer(qwen), eta=0.3, lam=2.0, dist=dist),
    )


def test_closer_numbers_cost_less(llama):
    """A model sure of 235 (one unit off 234) loses less than one sure of 900; plain CE cannot tell them apart."""
    ids = llama.encode("x 7.234", add_special_tokens=False)
    labels = torch.tensor([[IGNORE, *ids[1:]]])
    target = llama.convert_tokens_to_ids("234")
    costs = {}
    for guess in ("235", "900"):
        logits = torch.zeros(1, len(ids), len(llama))
        logits[0, :, :] = 0.0
        for t in range(len(ids) - 1):
            logits[0, t, ids[t + 1]] = 10.0  # right everywhere ...
        logits[0, ids.index(target) - 1, target] = 0.0
        logits[0, ids.index(target) - 1, llama.convert_tokens_to_ids(guess)] = 10.0  # ... but the number
        costs[guess] = float(soft_label_loss(logits, labels, llama, eta=0.5, lam=1.0))
        ce = float(soft_label_loss(logits, labels, llama, eta=0.0, lam=1.0))
        costs[f"ce {guess}"] = ce
    assert costs["235"] < costs["900"]
    assert costs["ce 235"] == pytest.approx(costs["ce 900"])


def test_missing_candidates_are_left_out_and_the_rest_renormalised(llama):
    digits = DigitTokens.from_tokenizer(llama)
    holes = list(digits.groups[1])
    holes[50] = -1  # a vocabulary without "50"
    partial = DigitTokens(digits.digit_ids, digits.point_id, (digits.groups[0], tuple(holes), digits.groups[2]))
    logits, labels = make_batch(llama, ["5.49"], len(llama), seed=15)
    logits[..., digits.groups[1][50]] = 30.0  # all mass on "50": excluded, so it cannot lower the loss
    full_loss = soft_label_loss(logits, labels, digits, eta=1.0, lam=1.0)
    partial_loss = soft_label_loss(logits, labels, partial, eta=1.0, lam=1.0)
    assert torch.isfinite(partial_loss) and partial_loss != full_loss
