"""Which vocabulary tokens are the digits ``0``-``9``: one definition for the expected-score readout
(``cogip_tasks.models.cogip_expected``) and the digit soft-label loss (``cogip_train.soft_label``)."""

from __future__ import annotations

from typing import Any

DIGITS = "0123456789"


def single_digit_ids(tokenizer: Any) -> dict[str, int]:
    """Digit -> token id, for each digit that the tokenizer writes as one token decoding back to that digit.

    A processor is accepted too (its ``tokenizer`` is used). Digits a tokenizer only writes merged with other
    text (a SentencePiece ``"▁7"``) or split are left out.
    """
    tokenizer = getattr(tokenizer, "tokenizer", tokenizer)
    found = {}
    for digit in DIGITS:
        ids = tokenizer.encode(digit, add_special_tokens=False)
        if len(ids) == 1 and tokenizer.decode(ids) == digit:
            found[digit] = ids[0]
    return found


def digit_token_ids(tokenizer: Any) -> list[int] | None:
    """Token id of each digit ``0..9`` in order, or None when some digit is not a single token of its own."""
    found = single_digit_ids(tokenizer)
    return [found[d] for d in DIGITS] if len(found) == len(DIGITS) else None
