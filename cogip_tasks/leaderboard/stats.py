"""Confidence for the leaderboard: bootstrap intervals, paired comparisons and reference predictors.

The bootstrap is :mod:`cogip_tasks.metrics`' (the one the lmms-eval tasks use): items in canonical order (by
item id), resampled with the same indices for every model (they depend only on the seed, the dimension and the
number of items), so a difference between two models is a paired bootstrap over the same items. A resample in
which a model's SRCC is undefined (a constant side) is left out; an undefined point estimate gives no interval.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..metrics import (  # noqa: F401  (the leaderboard's API since v0.1)
    LEVEL,
    N_RESAMPLES,
    SEED,
    impute,
    percentile_interval,
    resample_indices,
    resampled_spearman,
    score_dimension,
    srcc_resamples,
)
from ..metrics import mean_srcc_interval as _mean_interval
from .verify import DimensionResult, GroundTruth, Verified, mean_metrics


def dimension_resamples(
    model: Verified, truth: GroundTruth, n_resamples: int, seed: int, dimensions: Sequence[str] | None = None
) -> list[np.ndarray]:
    """Each dimension's bootstrap SRCC resamples (the same items for every model); those verification made
    with the same settings are reused (they are the same numbers: metrics.score_dimension draws them)."""
    out = []
    for key in dimensions or truth.dimensions:
        dim = model.dims[key]
        if dim.resamples is not None and dim.resample_seed == f"{n_resamples}/{seed}":
            out.append(dim.resamples)
        else:
            out.append(
                srcc_resamples(
                    impute(dim.pred, truth.dimensions[key]),
                    truth.human[key],
                    truth.dimensions[key],
                    truth.ids[key],
                    n_resamples=n_resamples,
                    seed=seed,
                )
            )
    return out


def mean_srcc_resamples(
    model: Verified, truth: GroundTruth, n_resamples: int, seed: int, dimensions: Sequence[str] | None = None
) -> np.ndarray:
    """Mean SRCC over ``dimensions`` in each resample (items resampled within each dimension)."""
    return np.mean(dimension_resamples(model, truth, n_resamples, seed, dimensions), axis=0)


def mean_srcc(model: Verified, dimensions: Sequence[str] | None = None) -> float:
    """Mean SRCC over ``dimensions`` (None: every dimension of the model's benchmark)."""
    return float(np.mean([model.dims[k].metrics["srcc"] for k in dimensions or model.dims]))


def mean_srcc_interval(
    model: Verified,
    truth: GroundTruth,
    n_resamples: int = N_RESAMPLES,
    seed: int = SEED,
    dimensions: Sequence[str] | None = None,
) -> tuple[float, float]:
    """The same interval as the ``cogip`` group's ``srcc_ci_low/high`` (one implementation: metrics.py)."""
    return _mean_interval(
        dimension_resamples(model, truth, n_resamples, seed, dimensions), mean_srcc(model, dimensions)
    )


def bootstrap_p_value(diffs: np.ndarray) -> float:
    """Two-sided bootstrap p-value of "no difference" from resampled differences (finite values only).

    Twice the smaller share of resamples on either side of zero, counting the observed sample as one of the
    ``B + 1`` (Davison & Hinkley): never 0, since ``B`` resamples cannot show a probability below ``1/(B+1)``.
    """
    diffs = diffs[np.isfinite(diffs)]
    if len(diffs) == 0:
        return math.nan
    tail = min(int(np.sum(diffs <= 0)), int(np.sum(diffs >= 0)))
    return min(1.0, 2 * (tail + 1) / (len(diffs) + 1))


def is_rejected(p_value: float, level: float = LEVEL) -> bool:
    """The one significance rule: "no difference" is rejected when the bootstrap p-value is below ``1 - level``."""
    return bool(p_value < round(1 - level, 12))  # 1 - 0.95 is 0.050000000000000044 in floating point


def bootstrap_interval(diffs: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The values ``c`` for which "the difference is ``c``" is not rejected by :func:`bootstrap_p_value`.

    With the ``B`` resampled differences sorted, ``c`` is inside when at least ``m`` of them lie on each side
    of it (ties counted on both), ``m`` being the smallest count whose p-value ``2 (m + 1) / (B + 1)`` is not
    below ``1 - level``: the interval is ``[d_(m), d_(B - m + 1)]`` (order statistics, 1-based). It is the test
    inverted, so it excludes 0 exactly when p < 1 - level. At B = 1,000 and 95% it is the 25th smallest to the
    25th largest difference, within one order statistic of the percentile interval. Fewer resamples than can
    ever reject (B < 39 at 95%) give an unbounded interval.
    """
    diffs = np.sort(diffs[np.isfinite(diffs)])
    b = len(diffs)
    if b == 0:
        return math.nan, math.nan
    m = 0  # the smallest tail count whose p-value is not below 1 - level: the same test as is_rejected
    while m < b and is_rejected(min(1.0, 2 * (m + 1) / (b + 1)), level):
        m += 1
    if m == 0:
        return -math.inf, math.inf
    return float(diffs[m - 1]), float(diffs[b - m])


@dataclass(frozen=True)
class Difference:
    """``a - b`` in mean SRCC with its paired-bootstrap interval and two-sided p-value."""

    delta: float
    low: float
    high: float
    p_value: float
    level: float = LEVEL

    @property
    def significant(self) -> bool:
        """p below ``1 - level`` (False when undefined); the interval then excludes 0, and only then."""
        return not math.isnan(self.p_value) and is_rejected(self.p_value, self.level)


def difference_from_resamples(delta: float, diffs: np.ndarray, level: float = LEVEL) -> Difference:
    """A :class:`Difference` whose interval, p-value and significance come from one rule (see
    :func:`bootstrap_interval`): "significantly ahead" never disagrees with the printed interval or p."""
    diffs = np.asarray(diffs, dtype=np.float64)
    diffs = diffs[np.isfinite(diffs)]
    if math.isnan(delta) or len(diffs) == 0:
        return Difference(delta, math.nan, math.nan, math.nan, level)
    low, high = bootstrap_interval(diffs, level)
    return Difference(delta, low, high, bootstrap_p_value(diffs), level)


def paired_difference(
    a: Verified,
    b: Verified,
    truth: GroundTruth,
    n_resamples: int = N_RESAMPLES,
    seed: int = SEED,
    dimensions: Sequence[str] | None = None,
    level: float = LEVEL,
) -> Difference:
    """Paired bootstrap of ``mean SRCC(a) - mean SRCC(b)`` over the same resampled items."""
    delta = mean_srcc(a, dimensions) - mean_srcc(b, dimensions)
    if math.isnan(delta):
        return Difference(math.nan, math.nan, math.nan, math.nan, level)
    diffs = mean_srcc_resamples(a, truth, n_resamples, seed, dimensions) - mean_srcc_resamples(
        b, truth, n_resamples, seed, dimensions
    )
    return difference_from_resamples(delta, diffs, level)


def rank(models: Iterable[Verified]) -> list[Verified]:
    """Best mean SRCC first; an undefined mean SRCC goes last; ties by name."""

    def key(model: Verified) -> tuple[bool, float, str]:
        value = mean_srcc(model)
        return (math.isnan(value), -value if not math.isnan(value) else 0.0, model.name.lower())

    return sorted(models, key=key)


def predictor(
    name: str,
    scores: dict[str, np.ndarray],
    truth: GroundTruth,
    *,
    n_resamples: int = N_RESAMPLES,
    seed: int = SEED,
    reference: bool = True,
) -> Verified:
    """A row from given scores per dimension (NaN = unparsed), scored exactly like a submission."""
    dims, scored = {}, {}
    for key, dim in truth.dimensions.items():
        pred = np.asarray(scores[key], dtype=np.float64)
        labels = [None if np.isnan(s) else dim.label_for(float(s)) for s in pred]
        scored[key] = score_dimension(
            pred, truth.human[key], dim, labels, ids=truth.ids[key], n_resamples=n_resamples, seed=seed
        )
        dims[key] = DimensionResult(pred, labels, scored[key].metrics, scored[key].resamples, f"{n_resamples}/{seed}")
    return Verified(name, {}, dims, mean_metrics(scored), reference=reference)


def reference_predictors(
    truth: GroundTruth, train_means: dict[str, float] | None, *, n_resamples: int = N_RESAMPLES, seed: int = SEED
) -> list[Verified]:
    """Honest baselines on the test items: what knowing nothing (or only the training mean) scores.

    - constant: the middle of each dimension's range for every image (also what an unparsed answer counts as);
    - train-set mean: the mean human score of the training split, per dimension;
    - random: uniform noise over the range (seeded), i.e. what chance-level ranking looks like with its CI.

    The first two are constant, so their SRCC is undefined (n/a): a constant cannot rank images.
    """
    n = {k: len(v) for k, v in truth.human.items()}
    rows = [
        predictor(
            "reference: constant (range midpoint)",
            {k: np.full(n[k], d.midpoint) for k, d in truth.dimensions.items()},
            truth,
            n_resamples=n_resamples,
            seed=seed,
        )
    ]
    if train_means:
        rows.append(
            predictor(
                "reference: train-set mean",
                {k: np.full(n[k], train_means[k]) for k in truth.dimensions},
                truth,
                n_resamples=n_resamples,
                seed=seed,
            )
        )
    rng = np.random.default_rng(seed)
    rows.append(
        predictor(
            f"reference: uniform random (seed {seed})",
            {k: rng.uniform(d.low, d.high, n[k]) for k, d in truth.dimensions.items()},
            truth,
            n_resamples=n_resamples,
            seed=seed,
        )
    )
    return rows
