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
- Tokenizers that merge several digits into one token (Llama-3: numbers are split into tokens of up to three
  digits, "1234" -> "123" "4") get the same loss over the *numeric value*: a number token of length ``L`` whose
  last digit is at place ``p`` stands for ``v * 10**p``; its target is ``(1 - eta) * onehot(v) + eta * psi_L``
  over the tokens of the same length, psi_L the same kernel of the numeric distance ``|k - v| * 10**p`` (see
  :func:`psi`). With ``L = 1`` this is exactly the per-digit loss above, so a tokenizer that never merges digits
  gets the paper's loss unchanged. Candidates of another length are not in the target: a 3-digit token is never
  smoothed towards a 2-digit one (that would change how many digits the number has, not its value). Tokens
  mixing digits with other characters (" 7", "7.") have no numeric value and are refused
  (:class:`DigitTokenizerError`); use ``--loss ce`` there.

``variant="release"`` (``cogip-train --soft-labels release``, what ``--recipe paper`` uses) is the loss exactly as
the release's trainers compute it (``compute_loss`` of ``sft/*/src/trainer``): only single-digit tokens are
soft-labelled (Llama-3's "577" in "5.577" gets plain cross-entropy at weight 1, not ``lam``), and the sum is
divided by the target tokens of this micro-batch, whatever ``num_items_in_batch`` says (a per-micro-batch mean;
the Trainer then averages the micro-batches of an optimizer step). Our default, ``variant="value"``, soft-labels
every number token by its value and divides by the tokens of the whole optimizer step, so that every target token
weighs the same however the batch is cut.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import torch

from cogip_tasks.errors import CogIPError
from cogip_tasks.tokens import DIGITS, single_digit_ids

from .config import DEFAULTS, DISTRIBUTIONS, SOFT_LABEL_VARIANTS

#: Places outside this range (numbers with more than 13 digits on either side) reuse the end place's psi.
PLACE_MIN, PLACE_MAX = -12, 12
#: Rows of logits processed at a time for logsumexp / the gradient: bounds the float32 temporaries to ~64 MiB.
_BLOCK_ELEMENTS = 1 << 24

# Texts shaped like the answers the loss sees; digit tokens are learnt from how the tokenizer really splits them.
_PROBES = (
    "0123456789",
    "9876543210",
    "1234567 and 0.1234567",
    "high 7.234",
    "very low 0.415",
    "-0.250",
    "negative -2.000",
    "score: 10.5",
)


class DigitTokenizerError(CogIPError, ValueError):
    """The tokenizer puts digits into tokens that are not pure digit strings, so no numeric soft label exists."""


#: Digit strings longer than this are never treated as numbers (no tokenizer in use merges more than 3 digits).
MAX_NUMBER_TOKEN = 3


@dataclass(frozen=True)
class DigitTokens:
    """Vocabulary ids of the digit tokens and of the decimal point.

    ``digit_ids``: the ids of ``0``-``9``. ``groups[L - 1][v]``: the id of the token spelling the value ``v`` with
    exactly ``L`` digits (``"007"`` is ``v = 7`` of ``L = 3``), ``-1`` where the vocabulary has no such token;
    ``groups`` is ``(digit_ids,)`` for tokenizers that give every digit its own token (Qwen2.5, Gemma, Llama-2).
    """

    digit_ids: tuple[int, ...]
    point_id: int
    groups: tuple[tuple[int, ...], ...] = ()

    def __post_init__(self) -> None:
        if not self.groups:
            object.__setattr__(self, "groups", (tuple(self.digit_ids),))

    @property
    def max_length(self) -> int:
        return len(self.groups)

    @classmethod
    def from_tokenizer(cls, tokenizer: Any) -> DigitTokens:
        """Read the ids from how ``tokenizer`` splits answer-shaped probes (and, when it merges digits as Llama-3
        does, from its vocabulary); refuse tokens that mix digits with other characters."""
        tokenizer = getattr(tokenizer, "tokenizer", tokenizer)  # a processor carries its tokenizer
        name = getattr(tokenizer, "name_or_path", type(tokenizer).__name__)
        digits: dict[str, set[int]] = {}
        points: set[int] = set()
        longest = 1
        for probe in _PROBES:
            ids = tokenizer.encode(probe, add_special_tokens=False)
            pieces = [tokenizer.decode([i]) for i in ids]
            for i, piece in zip(ids, pieces):
                if not any(ch.isdigit() for ch in piece):
                    continue
                if not _is_number_piece(piece):
                    raise DigitTokenizerError(
                        f"tokenizer {name!r} puts digits into the token {piece!r} (in {probe!r} -> {pieces}); the "
                        "soft-label loss needs tokens that are digit strings only (one digit, or several as in "
                        "Llama-3). Train this model with plain cross-entropy (--loss ce)."
                    )
                longest = max(longest, len(piece))
                if len(piece) == 1:
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
        # digit-merging tokenizers show some digits alone only in short numbers
        for d, i in single_digit_ids(tokenizer).items():
            digits.setdefault(d, {i})
        missing = [d for d in DIGITS if d not in digits]
        ambiguous = {d: sorted(v) for d, v in digits.items() if len(v) > 1}
        if missing or ambiguous or len(points) != 1:
            raise DigitTokenizerError(
                f"tokenizer {name!r}: cannot find one token per digit and one decimal point "
                f"(missing digits {missing}, digits with several ids {ambiguous}, decimal point ids {sorted(points)})"
            )
        digit_ids = tuple(next(iter(digits[d])) for d in DIGITS)
        groups = (digit_ids,) if longest == 1 else _number_groups(tokenizer, digit_ids, longest, name)
        return cls(digit_ids, next(iter(points)), groups)


def _is_number_piece(piece: str) -> bool:
    return 1 <= len(piece) <= MAX_NUMBER_TOKEN and piece.isascii() and piece.isdigit()


def _number_groups(tokenizer: Any, digit_ids: tuple[int, ...], longest: int, name: str) -> tuple[tuple[int, ...], ...]:
    """``groups`` of a digit-merging tokenizer: every vocabulary token that decodes to an ``L``-digit string."""
    groups = [list(digit_ids)] + [[-1] * 10**length for length in range(2, longest + 1)]
    for token, i in tokenizer.get_vocab().items():
        if not any(ch.isdigit() for ch in token):  # cheap filter on the raw token before decoding
            continue
        text = tokenizer.decode([i])
        if _is_number_piece(text) and 2 <= len(text) <= longest:
            if groups[len(text) - 1][int(text)] not in (-1, i):
                raise DigitTokenizerError(f"tokenizer {name!r}: the number {text!r} has several token ids")
            groups[len(text) - 1][int(text)] = i
    return tuple(tuple(g) for g in groups)


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


def _kernel_weights(dist: str, distance: torch.Tensor, unit: float, sigma: float) -> torch.Tensor:
    """Unnormalised kernel weights of numeric distances ``distance`` (each row: one true value)."""
    if dist == "triangular":
        return distance.amax(dim=-1, keepdim=True) - distance
    if dist == "uniform":
        return torch.ones_like(distance)
    if sigma <= 0:
        raise ValueError(f"gaussian soft labels need sigma > 0, got {sigma}")
    return torch.exp(-0.5 * (distance / (sigma * unit)) ** 2)


def psi(dist: str, place: int, *, sigma: float = 1.0, length: int = 1) -> torch.Tensor:
    """``[10**L, 10**L]`` float64: row ``c`` is the smoothing distribution over the ``L``-digit values ``k`` for the
    true value ``c`` of a token whose last digit is at ``place`` (``L = length``; one digit: ``[10, 10]``).

    Distances are numeric, ``d_k = |k - c| * 10**place`` (the token stands for ``c * 10**place``):

    - ``triangular`` (the paper's): weight ``max(d) - d_k``, normalised. The normalisation cancels the ``10**place``
      factor, so psi is the same at every place; this is kept on purpose as the faithful default.
    - ``uniform``: ``1 / 10**L`` for every value (classic label smoothing restricted to the tokens of that length).
    - ``gaussian``: ``exp(-d_k**2 / (2 (sigma * 10**place)**2))``, normalised; ``sigma`` is in units of the
      token's last place, so, like the triangular, it is the same at every place.

    With ``length=1`` this is the per-digit soft label of the paper; a multi-digit token (Llama-3's "234") gets the
    same kernel over the values of the tokens of its own length.
    """
    if dist not in DISTRIBUTIONS:
        raise ValueError(f"unknown soft-label distribution {dist!r}; expected one of {', '.join(DISTRIBUTIONS)}")
    k = torch.arange(10**length, dtype=torch.float64)
    d = (k[None, :] - k[:, None]).abs() * 10.0**place
    w = _kernel_weights(dist, d, 10.0**place, sigma)
    return w / w.sum(dim=1, keepdim=True)


@functools.lru_cache(maxsize=32)
def _psi_table(dist: str, sigma: float, device: torch.device) -> torch.Tensor:
    """``[PLACE_MAX - PLACE_MIN + 1, 10, 10]`` float32 on ``device``: psi for every place."""
    table = torch.stack([psi(dist, p, sigma=sigma) for p in range(PLACE_MIN, PLACE_MAX + 1)])
    return table.to(device=device, dtype=torch.float32)


def _group_table(dist: str, sigma: float, group: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """``[n, n]`` float32: psi over the ``n = 10**L`` values of one token length, restricted to the values the
    vocabulary has a token for (missing ones get weight 0, rows renormalised). Place-free: see :func:`psi`."""
    return _group_table_cached(dist, float(sigma), group, device)


@functools.lru_cache(maxsize=16)
def _group_table_cached(dist: str, sigma: float, group: tuple[int, ...], device: torch.device) -> torch.Tensor:
    length = len(str(len(group) - 1))
    present = torch.tensor([i >= 0 for i in group], dtype=torch.float64)
    w = psi(dist, 0, sigma=sigma, length=length) * present
    return (w / w.sum(dim=1, keepdim=True).clamp(min=1e-300)).to(device=device, dtype=torch.float32)


def number_tokens(
    targets: torch.Tensor, digits: DigitTokens
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Which target tokens are digit strings, their values, the place of their last digit, and their lengths.

    ``targets`` ``[B, T]`` -> ``(is_number, value, place, length)``, each ``[B, T]`` (0 where not a number token).
    Consecutive number tokens form a run; a run right after a decimal-point token is a fractional part (its
    first digit at place -1), any other run an integer part (its last digit at place 0). A token's place is
    counted in *digits* from the run's end (or start), so "1234" as "123" + "4" gives places 1 and 0. Runs never
    cross a masked or non-digit token, so several numbers in one target, signs and padding need no special case.
    All cumulative ops, no loops.
    """
    batch, length = targets.shape
    is_number = torch.zeros_like(targets, dtype=torch.bool)
    value = torch.zeros_like(targets)
    size = torch.zeros_like(targets)
    for width, group in enumerate(digits.groups, start=1):
        ids = torch.tensor([i for i in group if i >= 0], device=targets.device)
        vals = torch.tensor([v for v, i in enumerate(group) if i >= 0], device=targets.device)
        match = targets.unsqueeze(-1) == ids
        hit = match.any(-1)
        is_number |= hit
        value = torch.where(hit, (match * vals).sum(-1), value)
        size = torch.where(hit, width, size)
    is_point = targets == digits.point_id
    pos = torch.arange(length, device=targets.device).expand(batch, length)
    prev_num = torch.nn.functional.pad(is_number[:, :-1], (1, 0), value=False)
    next_num = torch.nn.functional.pad(is_number[:, 1:], (0, 1), value=False)
    prev_point = torch.nn.functional.pad(is_point[:, :-1], (1, 0), value=False)
    start = is_number & ~prev_num
    end = is_number & ~next_num
    # Position of the run's first token (latest start at or before t) and last token (earliest end at or after t).
    run_start = torch.where(start, pos, -1).cummax(dim=1).values.clamp(min=0)
    run_end = ((length - 1) - torch.where(end.flip(1), pos, -1).cummax(dim=1).values.flip(1)).clamp(max=length - 1)
    fractional = (start & prev_point).gather(1, run_start)
    # Digits up to and including token t, and before the run: a token's digits within its run by difference.
    digits_through = size.cumsum(dim=1)
    before_run = digits_through.gather(1, run_start) - size.gather(1, run_start)
    upto = digits_through - before_run  # digits of the run from its start through token t
    run_total = digits_through.gather(1, run_end) - before_run
    place = torch.where(fractional, -upto, run_total - upto)
    zero = torch.zeros_like(place)
    return is_number, torch.where(is_number, value, 0), torch.where(is_number, place, zero), size


def digit_places(targets: torch.Tensor, digits: DigitTokens) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(is_digit, value, place)`` of :func:`number_tokens` (for one-digit tokens: each digit and its place)."""
    is_number, value, place, _ = number_tokens(targets, digits)
    return is_number, value, place


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
    eta: float = DEFAULTS.eta,
    lam: float = DEFAULTS.lam,
    dist: str = DEFAULTS.dist,
    ignore_index: int = -100,
    sigma: float = DEFAULTS.sigma,
    num_items_in_batch: Any = None,
    variant: str = DEFAULTS.soft_labels,
) -> torch.Tensor:
    """The digit soft-label loss (scalar) of a causal LM's unshifted ``logits`` ``[B, T, V]`` and ``labels`` ``[B, T]``.

    ``tokenizer`` (a tokenizer, a processor or a :class:`DigitTokens`) tells which ids are digits (one digit per
    token, or digit strings of up to three as Llama-3's; see the module doc). ``eta`` is the smoothing mass, ``lam`` the
    weight of digit tokens, ``dist`` the shape of psi (see :func:`psi`; ``sigma`` only for ``gaussian``). The sum
    is divided by the number of target tokens, or by ``num_items_in_batch`` when the Trainer passes it (gradient
    accumulation). ``eta=0, lam=1`` is exactly plain cross-entropy. ``variant="release"``: the release's loss
    (single-digit tokens only, per-micro-batch mean; ``num_items_in_batch`` is ignored; see the module doc).
    """
    if variant not in SOFT_LABEL_VARIANTS:
        raise ValueError(f"unknown soft-label variant {variant!r}; expected one of {', '.join(SOFT_LABEL_VARIANTS)}")
    if variant == "release" and dist not in ("triangular", "uniform"):
        raise ValueError(f"the release's soft labels are triangular or uniform, not {dist!r}")
    if not 0.0 <= eta <= 1.0:
        raise ValueError(f"eta must be in [0, 1], got {eta}")
    if lam < 0:
        raise ValueError(f"lambda must be >= 0, got {lam}")
    digits = digit_tokens(tokenizer)
    targets = _shifted_targets(labels, ignore_index)
    is_digit, value, place, size = number_tokens(targets, digits)
    valid = targets != ignore_index
    if variant == "release":  # multi-digit tokens are ordinary tokens; the micro-batch's own token count
        is_digit, num_items_in_batch = is_digit & (size == 1), None
    cols, weights = _number_targets(targets, valid, is_digit, value, place, size, digits, eta, dist, float(sigma))
    row_weight = torch.where(is_digit, torch.tensor(float(lam), device=logits.device), 1.0)
    scale = valid * row_weight / _normaliser(valid, num_items_in_batch)
    width = cols.shape[-1]
    return _SparseTargetCrossEntropy.apply(
        _flat(logits), cols.reshape(-1, width), weights.reshape(-1, width), scale.reshape(-1)
    )


def _number_targets(
    targets, valid, is_digit, value, place, size, digits: DigitTokens, eta: float, dist: str, sigma: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sparse targets ``(cols, weights)``, ``[B, T, 1 + K]``: column 0 is the token itself (weight 1 on ordinary
    tokens), columns 1..K the candidate tokens of a number token's length (K = 10 for one-digit tokenizers,
    10**L for the longest length L a tokenizer merges; shorter lengths leave the rest at weight 0)."""
    device = targets.device
    width = 10**digits.max_length
    cols = torch.zeros(*targets.shape, 1 + width, dtype=torch.long, device=device)
    weights = torch.zeros(*targets.shape, 1 + width, dtype=torch.float32, device=device)
    cols[..., 0] = torch.where(valid, targets, 0)
    weights[..., 0] = (~is_digit).to(torch.float32)
    for length, group in enumerate(digits.groups, start=1):
        n = 10**length
        rows = is_digit & (size == length)
        if length == 1:  # the paper's per-digit psi, per place (the same at every place, see psi)
            smooth = _psi_table(dist, sigma, device)[place.clamp(PLACE_MIN, PLACE_MAX) - PLACE_MIN, value.clamp(max=9)]
        else:
            smooth = _group_table(dist, sigma, group, device)[value.clamp(max=n - 1)]
        q = (1.0 - eta) * torch.nn.functional.one_hot(value.clamp(max=n - 1), n).to(torch.float32) + eta * smooth
        ids = torch.tensor([max(i, 0) for i in group], device=device)
        cols[..., 1 : 1 + n] = torch.where(rows.unsqueeze(-1), ids, cols[..., 1 : 1 + n])
        weights[..., 1 : 1 + n] = torch.where(rows.unsqueeze(-1), q, weights[..., 1 : 1 + n])
    return cols, weights
