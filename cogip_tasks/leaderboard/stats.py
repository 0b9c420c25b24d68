"""Confidence for the leaderboard: bootstrap intervals, paired comparisons and reference predictors.

Every model is resampled with the *same* item indices (they depend only on the seed, the dimension and the
number of items), so a difference between two models is a paired bootstrap over the same items. A resample in
which a model's SRCC is undefined (a constant side) is left out; an undefined point estimate gives no interval.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..dimensions import DIMENSIONS
from ..metrics import compute_metrics, impute, resampled_spearman
from .verify import DimensionResult, GroundTruth, Verified, mean_metrics

LEVEL = 0.95


def resample_indices(n_items: int, n_resamples: int, seed: int, dimension: str) -> np.ndarray:
    """``(n_resamples, n_items)`` item indices, the same for every model scored on this dimension."""
    rng = np.random.default_rng([seed, list(DIMENSIONS).index(dimension)])
    return rng.integers(0, n_items, size=(n_resamples, n_items))


def percentile_interval(values: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """Percentile interval of the finite values; ``(nan, nan)`` when there are none."""
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return math.nan, math.nan
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def mean_srcc_resamples(model: Verified, truth: GroundTruth, n_resamples: int, seed: int,
                        dimensions: Sequence[str] = tuple(DIMENSIONS)) -> np.ndarray:
    """Mean SRCC over ``dimensions`` in each resample (items resampled within each dimension)."""
    per_dim = []
    for key in dimensions:
        human = truth.human[key]
        idx = resample_indices(len(human), n_resamples, seed, key)
        per_dim.append(resampled_spearman(impute(model.dims[key].pred, key), human, idx))
    return np.mean(per_dim, axis=0)


def mean_srcc(model: Verified, dimensions: Sequence[str] = tuple(DIMENSIONS)) -> float:
    return float(np.mean([model.dims[k].metrics["srcc"] for k in dimensions]))


def mean_srcc_interval(model: Verified, truth: GroundTruth, n_resamples: int = 1000, seed: int = 0,
                       dimensions: Sequence[str] = tuple(DIMENSIONS)) -> tuple[float, float]:
    if math.isnan(mean_srcc(model, dimensions)):
        return math.nan, math.nan
    return percentile_interval(mean_srcc_resamples(model, truth, n_resamples, seed, dimensions))


@dataclass(frozen=True)
class Difference:
    """``a - b`` in mean SRCC with its paired-bootstrap interval and two-sided p-value."""

    delta: float
    low: float
    high: float
    p_value: float

    @property
    def significant(self) -> bool:
        """The interval excludes 0 (False when undefined)."""
        return bool(self.low > 0 or self.high < 0)


def paired_difference(a: Verified, b: Verified, truth: GroundTruth, n_resamples: int = 1000, seed: int = 0,
                      dimensions: Sequence[str] = tuple(DIMENSIONS), level: float = LEVEL) -> Difference:
    """Paired bootstrap of ``mean SRCC(a) - mean SRCC(b)`` over the same resampled items."""
    delta = mean_srcc(a, dimensions) - mean_srcc(b, dimensions)
    if math.isnan(delta):
        return Difference(math.nan, math.nan, math.nan, math.nan)
    diffs = mean_srcc_resamples(a, truth, n_resamples, seed, dimensions) - mean_srcc_resamples(
        b, truth, n_resamples, seed, dimensions)
    diffs = diffs[np.isfinite(diffs)]
    if len(diffs) == 0:
        return Difference(delta, math.nan, math.nan, math.nan)
    low, high = percentile_interval(diffs, level)
    # Two-sided: twice the smaller share of resamples on either side of zero.
    p_value = min(1.0, 2 * min(np.mean(diffs <= 0), np.mean(diffs >= 0)))
    return Difference(delta, low, high, float(p_value))


def rank(models: Iterable[Verified]) -> list[Verified]:
    """Best mean SRCC first; an undefined mean SRCC goes last; ties by name."""
    def key(model: Verified) -> tuple[bool, float, str]:
        value = mean_srcc(model)
        return (math.isnan(value), -value if not math.isnan(value) else 0.0, model.name.lower())

    return sorted(models, key=key)


def predictor(name: str, scores: dict[str, np.ndarray], truth: GroundTruth, *, n_resamples: int = 1000,
              seed: int = 0, reference: bool = True) -> Verified:
    """A row from given scores per dimension (NaN = unparsed), scored exactly like a submission."""
    dims = {}
    for key, dim in DIMENSIONS.items():
        pred = np.asarray(scores[key], dtype=np.float64)
        labels = [None if np.isnan(s) else dim.label_for(float(s)) for s in pred]
        dims[key] = DimensionResult(pred, labels, compute_metrics(
            pred, truth.human[key], dim, labels, n_resamples=n_resamples, seed=seed))
    return Verified(name, {}, dims, mean_metrics(d.metrics for d in dims.values()), reference=reference)


def reference_predictors(truth: GroundTruth, train_means: dict[str, float] | None, *, n_resamples: int = 1000,
                         seed: int = 0) -> list[Verified]:
    """Honest baselines on the test items: what knowing nothing (or only the training mean) scores.

    - constant: the middle of each dimension's range for every image (also what an unparsed answer counts as);
    - train-set mean: the mean human score of the training split, per dimension;
    - random: uniform noise over the range (seeded), i.e. what chance-level ranking looks like with its CI.

    The first two are constant, so their SRCC is undefined (n/a): a constant cannot rank images.
    """
    n = {k: len(v) for k, v in truth.human.items()}
    rows = [predictor("reference: constant (range midpoint)",
                      {k: np.full(n[k], d.midpoint) for k, d in DIMENSIONS.items()}, truth,
                      n_resamples=n_resamples, seed=seed)]
    if train_means:
        rows.append(predictor("reference: train-set mean",
                              {k: np.full(n[k], train_means[k]) for k in DIMENSIONS}, truth,
                              n_resamples=n_resamples, seed=seed))
    rng = np.random.default_rng(seed)
    rows.append(predictor(f"reference: uniform random (seed {seed})",
                          {k: rng.uniform(d.low, d.high, n[k]) for k, d in DIMENSIONS.items()}, truth,
                          n_resamples=n_resamples, seed=seed))
    return rows
