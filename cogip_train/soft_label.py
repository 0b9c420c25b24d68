"""The paper's digit soft-label loss for describe-then-predict answers ("high 7.234").

At every target token that is a digit ``c`` the one-hot target becomes

    q = (1 - eta) * onehot(c) + eta * psi(c, p)

where ``p`` is the digit's place relative to the decimal point (units 0, tens 1, tenths -1, ...) and ``psi`` is a
distribution over the ten digits that favours numerically close ones. The digit term is the soft cross-entropy
``-sum_k q_k log p(digit_k)`` with ``log p`` the *full-vocabulary* log-softmax read at the ten digit ids (not
renormalised over the digits), as the paper's code does. Every other target token gets ordinary cross-entropy;
the total is ``(sum CE_other + lam * sum softCE_digits) / number_of_target_tokens``.

How it is computed, and why:

- Digits and their places are found with cumulative ops over the whole ``[B, T]`` label tensor (start/end of each
  digit run by ``cummax``, a run right after a decimal-point token is a fractional part): no Python loop over
  tokens and no per-token ``.item()``.
- Every target row is a *sparse* distribution over at most eleven vocabulary ids (the token itself, or the ten
  digits), so the loss needs only ``logsumexp`` over the vocabulary once per row plus eleven gathered logits. A
  custom autograd function computes ``logsumexp`` in row blocks (float32 accumulation, so bf16 logits are fine)
  and writes the gradient ``softmax * weight - target`` straight into one tensor the size of the logits: no
  full-vocabulary ``log_softmax`` is kept, which plain ``F.cross_entropy`` does keep for its backward.
- Tokenizers that merge several digits into one token (Llama-3 style: "234") have no per-digit target, so
  :func:`digit_tokens` refuses them with :class:`DigitTokenizerError` when the loss is set up, rather than
  silently training those tokens with plain cross-entropy. Use plain cross-entropy (``--loss ce``) there.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import torch

DISTRIBUTIONS = ("triangular", "uniform", "gaussian")
#: Places outside this range (numbers with more than 13 digits on either side) reuse the end place's psi.
PLACE_MIN, PLACE_MAX = -12, 12
#: Rows of logits processed at a time for logsumexp / the gradient: bounds the float32 temporaries to ~64 MiB.
_BLOCK_ELEMENTS = 1 << 24

# Texts shaped like the answers the loss sees; digit tokens are learnt from how the tokenizer really splits them.
_PROBES = ("0123456789", "9876543210", "high 7.234", "very low 0.415", "-0.250", "negative -2.000", "score: 10.5")


class DigitTokenizerError(ValueError):
    """The tokenizer does not give every digit its own token, so the per-digit soft label is undefined."""


@dataclass(frozen=True)
class DigitTokens:
    """Vocabulary ids of the digits ``0``-``9`` (in order) and of the decimal point."""

    digit_ids: tuple[int, ...]
    point_id: int

    @classmethod
    def from_tokenizer(cls, tokenizer: Any) -> "DigitTokens":
        """Read the ids from how ``tokenizer`` splits answer-shaped probes; refuse multi-digit tokens."""
        tokenizer = getattr(tokenizer, "tokenizer", tokenizer)  # a processor carries its tokenizer
        name = getattr(tokenizer, "name_or_path", type(tokenizer).__name__)
        digits: dict[str, set[int]] = {}
        points: set[int] = set()
        for probe in _PROBES:
            ids = tokenizer.encode(probe, add_special_tokens=False)
            pieces = [tokenizer.decode([i]) for i in ids]
            for i, piece in zip(ids, pieces):
                if any(ch.isdigit() for ch in piece) and not (len(piece) == 1 and piece in "0123456789"):
                    raise DigitTokenizerError(
                        f"tokenizer {name!r} puts digits into the token {piece!r} (in {probe!r} -> {pieces}); the "
                        "digit soft-label loss needs one token per digit. Train this model with plain "
                        "cross-entropy (--loss ce), or use a tokenizer that splits digits (Qwen2.5, Llama-2, Gemma)."
                    )
                if len(piece) == 1 and piece in "0123456789":
                    digits.setdefault(piece, set()).add(i)
            # A decimal point is the token between two digit tokens in "7.234"-like probes.
            for j in range(1, len(pieces) - 1):
                if pieces[j - 1].isdigit() and pieces[j + 1].isdigit() and not pieces[j].isdigit():
                    if pieces[j] != ".":
                        raise DigitTokenizerError(
                            f"tokenizer {name!r} merges the decimal point into {pieces[j]!r} (in {probe!r} -> "
                            f"{pieces}); the digit soft-label loss needs it as its own token. Use --loss ce."
                        )
                    points.add(ids[j])
        missing = [d for d in "0123456789" if d not in digits]
        ambiguous = {d: sorted(v) for d, v in digits.items() if len(v) > 1}
        if missing or ambiguous or len(points) != 1:
            raise DigitTokenizerError(
                f"tokenizer {name!r}: cannot find one token per digit and one decimal point "
                f"(missing digits {missing}, digits with several ids {ambiguous}, decimal point ids {sorted(points)})"
            )
        return cls(tuple(next(iter(digits[d])) for d in "0123456789"), next(iter(points)))


_DIGIT_TOKENS: dict[int, tuple[Any, DigitTokens]] = {}


def digit_tokens(tokenizer: Any) -> DigitTokens:
    """:class:`DigitTokens` of a tokenizer (or processor), computed once per tokenizer object."""
    if isinstance(tokenizer, DigitTokens):
        return tokenizer
    cached = _DIGIT_TOKENS.get(id(tokenizer))
    if cached is None or cached[0] is not tokenizer:
        cached = (tokenizer, DigitTokens.from_tokenizer(tokenizer))
        _DIGIT_TOKENS[id(tokenizer)] = cached
    return cached[1]


def psi(dist: str, place: int, *, sigma: float = 1.0) -> torch.Tensor:
    """``[10, 10]`` float64: row ``c`` is the smoothing distribution over digits ``k`` for true digit ``c``.

    Distances are numeric, ``d_k = |k - c| * 10**place``:

    - ``triangular`` (the paper's): weight ``max(d) - d_k``, normalised. The normalisation cancels the ``10**place``
      factor, so psi is the same at every place; this is kept on purpose as the faithful default.
    - ``uniform``: ``1/10`` for every digit (classic label smoothing restricted to the digits).
    - ``gaussian``: ``exp(-d_k**2 / (2 (sigma * 10**place)**2))``, normalised; ``sigma`` is in units of the
      digit's own place, so, like the triangular, it is the same at every place.
    """
    if dist not in DISTRIBUTIONS:
        raise ValueError(f"unknown soft-label distribution {dist!r}; expected one of {', '.join(DISTRIBUTIONS)}")
    k = torch.arange(10, dtype=torch.float64)
    d = (k[None, :] - k[:, None]).abs() * 10.0**place
    if dist == "triangular":
        w = d.amax(dim=1, keepdim=True) - d
    elif dist == "uniform":
        w = torch.ones_like(d)
    else:
        if sigma <= 0:
            raise ValueError(f"gaussian soft labels need sigma > 0, got {sigma}")
        w = torch.exp(-0.5 * (d / (sigma * 10.0**place)) ** 2)
    return w / w.sum(dim=1, keepdim=True)


@functools.lru_cache(maxsize=32)
def _psi_table(dist: str, sigma: float, device: torch.device) -> torch.Tensor:
    """``[PLACE_MAX - PLACE_MIN + 1, 10, 10]`` float32 on ``device``: psi for every place."""
    table = torch.stack([psi(dist, p, sigma=sigma) for p in range(PLACE_MIN, PLACE_MAX + 1)])
    return table.to(device=device, dtype=torch.float32)


def digit_places(targets: torch.Tensor, digits: DigitTokens) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Which target tokens are digits, their values and their places, for ``targets`` ``[B, T]``.

    Returns ``(is_digit [B, T] bool, value [B, T] long, place [B, T] long)`` (value and place are 0 where not
    a digit). A digit run right after a decimal-point token is a fractional part (places -1, -2, ...); any other
    run is an integer part (places ..., 1, 0 counted from its end). Runs never cross a masked or non-digit token,
    so several numbers in one target, signs and padding need no special case. All cumulative ops, no loops.
    """
    batch, length = targets.shape
    digit_ids = torch.tensor(digits.digit_ids, device=targets.device)
    match = targets.unsqueeze(-1) == digit_ids
    is_digit = match.any(-1)
    value = (match * torch.arange(10, device=targets.device)).sum(-1)
    is_point = targets == digits.point_id
    pos = torch.arange(length, device=targets.device).expand(batch, length)
    prev_digit = torch.nn.functional.pad(is_digit[:, :-1], (1, 0), value=False)
    next_digit = torch.nn.functional.pad(is_digit[:, 1:], (0, 1), value=False)
    prev_point = torch.nn.functional.pad(is_point[:, :-1], (1, 0), value=False)
    start = is_digit & ~prev_digit
    end = is_digit & ~next_digit
    # Position of the run's first digit (latest start at or before t) and last digit (earliest end at or after t).
    run_start = torch.where(start, pos, -1).cummax(dim=1).values
    run_end = (length - 1) - torch.where(end.flip(1), pos, -1).cummax(dim=1).values.flip(1)
    fractional = (start & prev_point).gather(1, run_start.clamp(min=0))
    place = torch.where(fractional, -(pos - run_start) - 1, run_end - pos)
    zero = torch.zeros_like(place)
    return is_digit, torch.where(is_digit, value, 0), torch.where(is_digit, place, zero)


class _SparseTargetCrossEntropy(torch.autograd.Function):
    """``sum_n scale_n * (-sum_j w_nj * log_softmax(x_n)[cols_nj])`` without materialising ``log_softmax``.

    ``x`` is ``[N, V]`` (any float dtype); ``cols``/``weights`` are ``[N, K]`` sparse targets, ``scale`` is ``[N]``
    (0 for ignored rows, whose blocks are skipped). The gradient ``scale * (sum_j w_nj * softmax(x_n) -
    w_n)`` is written block by block into a single tensor shaped like ``x`` (for bf16/fp16 ``x`` each block is
    computed in a reused float32 buffer; a whole-tensor ``scatter_add_`` on bf16 would upcast all of it).
    """

    @staticmethod
    def forward(ctx, x, cols, weights, scale):  # type: ignore[override]
        acc = torch.promote_types(x.dtype, torch.float32)
        rows = max(1, _BLOCK_ELEMENTS // max(1, x.shape[1]))
        blocks = _active_blocks(scale, rows)
        lse = torch.zeros(x.shape[0], dtype=acc, device=x.device)
        buf = torch.empty((min(rows, x.shape[0]), x.shape[1]), dtype=acc, device=x.device) if blocks else None
        for s in blocks:
            # logsumexp in one reused float buffer: no fresh block-sized allocation (and page faults) per block.
            block = buf[: x[s : s + rows].shape[0]]
            block.copy_(x[s : s + rows])
            peak = block.amax(dim=1, keepdim=True)
            lse[s : s + rows] = block.sub_(peak).exp_().sum(dim=1).log_().add_(peak.squeeze(1))
        picked = x.gather(1, cols).to(acc)
        mass = weights.sum(dim=1)
        loss = (scale * (lse * mass - (weights * picked).sum(dim=1))).sum()
        ctx.save_for_backward(x, cols, weights, scale, lse)
        ctx.rows, ctx.blocks = rows, blocks
        return loss

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        x, cols, weights, scale, lse = ctx.saved_tensors
        rows = ctx.rows
        row_scale = (scale * weights.sum(dim=1) * grad_out).unsqueeze(1)
        target = -(scale * grad_out).unsqueeze(1) * weights  # the sparse "- w" part, added block by block
        grad = torch.zeros_like(x) if len(ctx.blocks) * rows < x.shape[0] else torch.empty_like(x)
        buf = None
        if x.dtype != lse.dtype and ctx.blocks:  # low precision: compute each block in a reused float buffer
            buf = torch.empty((min(rows, x.shape[0]), x.shape[1]), dtype=lse.dtype, device=x.device)
        for s in ctx.blocks:
            e = s + rows
            out = grad[s:e] if buf is None else buf[: grad[s:e].shape[0]]
            torch.sub(x[s:e], lse[s:e].unsqueeze(1), out=out)
            out.exp_().mul_(row_scale[s:e]).scatter_add_(1, cols[s:e], target[s:e].to(out.dtype))
            if buf is not None:
                grad[s:e].copy_(out)
        return grad, None, None, None


def _active_blocks(scale: torch.Tensor, rows: int) -> list[int]:
    """Start rows of the blocks holding at least one target row (one host sync per call, not per token)."""
    n = scale.shape[0]
    padded = torch.nn.functional.pad(scale != 0, (0, (-n) % rows), value=False)
    active = padded.view(-1, rows).any(dim=1)
    return [i * rows for i in torch.nonzero(active).flatten().tolist()]


def _shifted_targets(labels: torch.Tensor, ignore_index: int) -> torch.Tensor:
    """Position ``t`` predicts ``labels[t + 1]``: shift the labels (not the logits, which would copy them)."""
    return torch.nn.functional.pad(labels[:, 1:], (0, 1), value=ignore_index)


def _normaliser(valid: torch.Tensor, num_items_in_batch: Any) -> torch.Tensor:
    if num_items_in_batch is None:
        return valid.sum().clamp(min=1).to(torch.float32)
    return torch.as_tensor(num_items_in_batch, device=valid.device, dtype=torch.float32).clamp(min=1)


def _flat(logits: torch.Tensor) -> torch.Tensor:
    if logits.dim() != 3:
        raise ValueError(f"logits must be [batch, tokens, vocab], got shape {tuple(logits.shape)}")
    return logits.reshape(-1, logits.shape[-1])


def causal_lm_loss(
    logits: torch.Tensor, labels: torch.Tensor, *, ignore_index: int = -100, num_items_in_batch: Any = None
) -> torch.Tensor:
    """Plain next-token cross-entropy (the ``--loss ce`` baseline), same kernel and normalisation as the soft loss."""
    targets = _shifted_targets(labels, ignore_index).reshape(-1)
    valid = targets != ignore_index
    scale = valid.to(torch.float32) / _normaliser(valid, num_items_in_batch)
    cols = torch.where(valid, targets, 0).unsqueeze(1)
    return _SparseTargetCrossEntropy.apply(_flat(logits), cols, torch.ones_like(scale).unsqueeze(1), scale)


def soft_label_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    tokenizer: Any,
    *,
    eta: float = 0.15,
    lam: float = 2.0,
    dist: str = "triangular",
    ignore_index: int = -100,
    sigma: float = 1.0,
    num_items_in_batch: Any = None,
) -> torch.Tensor:
    """The digit soft-label loss (scalar) of a causal LM's unshifted ``logits`` ``[B, T, V]`` and ``labels`` ``[B, T]``.

    ``tokenizer`` (a tokenizer, a processor or a :class:`DigitTokens`) tells which ids are digits; it must give
    every digit its own token (else :class:`DigitTokenizerError`). ``eta`` is the smoothing mass, ``lam`` the
    weight of digit tokens, ``dist`` the shape of psi (see :func:`psi`; ``sigma`` only for ``gaussian``). The sum
    is divided by the number of target tokens, or by ``num_items_in_batch`` when the Trainer passes it (gradient
    accumulation). ``eta=0, lam=1`` is exactly plain cross-entropy.
    """
    if not 0.0 <= eta <= 1.0:
        raise ValueError(f"eta must be in [0, 1], got {eta}")
    if lam < 0:
        raise ValueError(f"lambda must be >= 0, got {lam}")
    digits = digit_tokens(tokenizer)
    targets = _shifted_targets(labels, ignore_index)
    is_digit, value, place = digit_places(targets, digits)
    valid = targets != ignore_index

    # Sparse targets: column 0 is the token itself (weight 1 on ordinary tokens), columns 1-10 the ten digits.
    table = _psi_table(dist, float(sigma), logits.device)
    smooth = table[place.clamp(PLACE_MIN, PLACE_MAX) - PLACE_MIN, value]  # [B, T, 10]
    onehot = torch.nn.functional.one_hot(value, 10).to(torch.float32)
    q = (1.0 - eta) * onehot + eta * smooth
    digit_cols = torch.tensor(digits.digit_ids, device=logits.device).expand(*targets.shape, 10)
    cols = torch.cat([torch.where(valid, targets, 0).unsqueeze(-1), digit_cols], dim=-1)
    weights = torch.cat([(~is_digit).to(torch.float32).unsqueeze(-1), q * is_digit.unsqueeze(-1)], dim=-1)
    row_weight = torch.where(is_digit, torch.tensor(float(lam), device=logits.device), 1.0)
    scale = valid * row_weight / _normaliser(valid, num_items_in_batch)
    return _SparseTargetCrossEntropy.apply(
        _flat(logits), cols.reshape(-1, 11), weights.reshape(-1, 11), scale.reshape(-1)
    )
